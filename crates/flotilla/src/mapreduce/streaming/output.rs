//! The output folder and its commit protocol, after Hadoop's
//! `FileOutputCommitter`.
//!
//! ```text
//!  OUTPUT/                                   (empty or created by the job)
//!  └─ _temporary/
//!     ├─ part-00003.attempt-1                a reduce attempt writing
//!     ├─ part-00003                          task commit: renamed when the attempt succeeded
//!     └─ reduce-00003.input                  the reducer's input, kept for retries
//!
//!  job commit, once every reduce task has committed:
//!     rename _temporary/part-NNNNN → OUTPUT/part-NNNNN, for every partition
//!     remove _temporary/
//!     create OUTPUT/_SUCCESS                 last
//! ```
//!
//! A job that fails before its commit removes `_temporary/`, and removes
//! the output folder too when it created it: nothing of it is left. A
//! failure during the commit (a rename refused) removes the parts already
//! moved, so a folder holding parts always holds all of them and
//! `_SUCCESS`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::StreamingError;

/// The name of the marker written last by a successful job.
pub(super) const SUCCESS: &str = "_SUCCESS";
const TEMPORARY: &str = "_temporary";

/// A job's output folder, from its check to its commit. Dropped without a
/// commit, it removes what the job wrote.
#[derive(Debug)]
pub(super) struct OutputDir {
    root: PathBuf,
    temporary: PathBuf,
    created_root: bool,
    committed: bool,
}

impl OutputDir {
    /// Checks that `root` is missing or an empty folder, creates it if
    /// needed, and creates its `_temporary/`.
    pub(super) fn prepare(root: &Path) -> Result<OutputDir, StreamingError> {
        let created_root = match fs::metadata(root) {
            Ok(meta) if meta.is_dir() => {
                let mut entries =
                    fs::read_dir(root).map_err(|e| StreamingError::output(root, e))?;
                if entries.next().is_some() {
                    return Err(StreamingError::OutputExists {
                        path: root.to_path_buf(),
                    });
                }
                false
            }
            Ok(_) => {
                return Err(StreamingError::OutputExists {
                    path: root.to_path_buf(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(root).map_err(|e| StreamingError::output(root, e))?;
                true
            }
            Err(e) => return Err(StreamingError::output(root, e)),
        };
        let mut dir = OutputDir {
            root: root.to_path_buf(),
            temporary: root.join(TEMPORARY),
            created_root,
            committed: false,
        };
        if let Err(e) = fs::create_dir(&dir.temporary) {
            let err = StreamingError::output(&dir.temporary, e);
            dir.abort();
            return Err(err);
        }
        Ok(dir)
    }

    /// The output folder.
    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    /// Where the job's temporary files go.
    pub(super) fn temporary(&self) -> &Path {
        &self.temporary
    }

    /// The name of partition `partition`'s part file.
    pub(super) fn part_name(partition: usize) -> String {
        format!("part-{partition:05}")
    }

    /// Moves every partition's committed part into the folder, removes
    /// `_temporary/` and writes `_SUCCESS`. Returns the parts' paths.
    pub(super) fn commit(mut self, partitions: usize) -> Result<Vec<PathBuf>, StreamingError> {
        let mut moved = Vec::with_capacity(partitions);
        let result = self.move_parts(partitions, &mut moved).and_then(|()| {
            fs::remove_dir_all(&self.temporary)
                .map_err(|e| StreamingError::output(&self.temporary, e))?;
            let success = self.root.join(SUCCESS);
            fs::File::create(&success).map_err(|e| StreamingError::output(&success, e))?;
            Ok(())
        });
        match result {
            Ok(()) => {
                self.committed = true;
                Ok(moved)
            }
            Err(e) => {
                for part in &moved {
                    let _ = fs::remove_file(part);
                }
                Err(e)
            }
        }
    }

    fn move_parts(
        &self,
        partitions: usize,
        moved: &mut Vec<PathBuf>,
    ) -> Result<(), StreamingError> {
        for partition in 0..partitions {
            let name = OutputDir::part_name(partition);
            let from = self.temporary.join(&name);
            let to = self.root.join(&name);
            fs::rename(&from, &to).map_err(|e| StreamingError::output(&to, e))?;
            moved.push(to);
        }
        Ok(())
    }

    /// Removes what the job wrote: `_temporary/`, and the folder itself if
    /// the job created it (and it is empty).
    fn abort(&mut self) {
        let _ = fs::remove_dir_all(&self.temporary);
        if self.created_root {
            let _ = fs::remove_dir(&self.root);
        }
        self.committed = true;
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            self.abort();
        }
    }
}

/// A file removed when dropped, unless kept: an attempt's output before its
/// task commit, a reducer's kept input.
#[derive(Debug)]
pub(super) struct TemporaryFile {
    path: PathBuf,
    keep: bool,
}

impl TemporaryFile {
    pub(super) fn new(path: PathBuf) -> TemporaryFile {
        TemporaryFile { path, keep: false }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file to `to` and stops watching it.
    pub(super) fn persist(mut self, to: &Path) -> Result<(), StreamingError> {
        fs::rename(&self.path, to).map_err(|e| StreamingError::output(to, e))?;
        self.keep = true;
        Ok(())
    }
}

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}
