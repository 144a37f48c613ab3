//! Output folders: how every writer of flotilla writes a folder of parts.
//!
//! `Bag::to_textfiles`, `JobOutput::write_text`, `StreamingJob::run` (and
//! `flotilla mapreduce`), and the DataFrame writers (`to_csv`,
//! `to_parquet`, `to_json`) all write through an [`OutputDir`], so one rule
//! holds for all of them:
//!
//! * **A folder that is not empty is refused** ([`OutputError::NotEmpty`]),
//!   unless the caller asks to overwrite ([`WriteMode::Overwrite`], or
//!   `--overwrite` on the command line). A path that is a file is always
//!   refused ([`OutputError::NotAFolder`]).
//! * **Overwriting replaces a previous flotilla output, and nothing else.**
//!   It removes only what a writer of flotilla writes: `part-NNNNN` files
//!   (with or without an extension), `_SUCCESS` and the `_logs/` folder of
//!   streaming jobs. Anything else in the folder (a file of yours, a folder
//!   of yours) makes the write fail before it starts
//!   ([`OutputError::Foreign`]), and nothing is removed. A `_temporary/`
//!   folder means another write is running there, or one was killed: the
//!   write is refused ([`OutputError::InProgress`]) rather than guess which.
//!   The previous output is set aside at the commit, once the new one is
//!   complete, and removed only when the new one is in place: a write that
//!   fails, even half way through its commit, leaves it as it was.
//! * **A writer never removes what it did not create.** A folder you made
//!   stays, and so do its files.
//! * **A failed write leaves the folder as it found it.** Nothing the writer
//!   created remains: no part, no `_SUCCESS`, no `_temporary/`, and no
//!   folder — a folder that did not exist is removed again (with the
//!   parents the writer made for it), an empty folder you made stays empty.
//!
//! The protocol is Hadoop's `FileOutputCommitter`:
//!
//! ```text
//!  OUTPUT/                                  missing (created), or an empty folder
//!  └─ _temporary/
//!     ├─ .part-00003.csv.4242-17.attempt    a task writing (pid, attempt)
//!     ├─ part-00003.csv                     task commit: the attempt, renamed once complete
//!     └─ _logs/map-00003.stderr             a task's log
//!
//!  job commit (OutputDir::commit), after the last task:
//!     with WriteMode::Overwrite: rename the previous _SUCCESS, parts and
//!       _logs/ into _temporary/_previous/
//!     rename _temporary/part-NNNNN.ext → OUTPUT/part-NNNNN.ext, every part
//!     rename _temporary/_logs/ → OUTPUT/_logs/
//!     create OUTPUT/_SUCCESS
//!     remove _temporary/ (and the previous output in it)
//!  a step that fails: the new parts are removed, the previous output
//!  renamed back, _temporary/ removed
//! ```
//!
//! A part appears under its final name only complete (a rename within one
//! folder is atomic), so a task that fails or is retried never leaves half
//! a part behind, and a retry simply replaces its part. Until the commit,
//! readers of `OUTPUT/` see no part and no `_SUCCESS`; a commit that fails
//! half way removes the parts it moved, so a folder with parts always has
//! all of them and `_SUCCESS`.
//!
//! An [`OutputDir`] is plain data and files: it starts no thread, and its
//! clones can be handed to the tasks that write the parts, wherever they
//! run.
//!
//! ```
//! use std::io::Write;
//! use flotilla_data::output::{OutputDir, OutputError, WriteMode};
//!
//! let dir = std::env::temp_dir().join(format!("flotilla-doc-output-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
//! for i in 0..2 {
//!     let mut part = out.create_part(i, "txt")?;
//!     writeln!(part.file(), "part {i}").map_err(|e| OutputError::io(part.path(), e))?;
//!     part.commit()?;
//! }
//! let parts = out.commit_expecting(2)?;
//! assert_eq!(std::fs::read_to_string(&parts[1])?, "part 1\n");
//!
//! // Not empty now: refused, unless asked to overwrite.
//! let err = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty).unwrap_err();
//! assert!(matches!(err, OutputError::NotEmpty { .. }));
//! let out = OutputDir::create(&dir, WriteMode::Overwrite)?;
//! out.create_part(0, "txt")?.commit()?;
//! assert_eq!(out.commit()?.len(), 1);
//! assert!(!dir.join("part-00001.txt").exists());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The marker written last by a commit.
const SUCCESS: &str = "_SUCCESS";
/// Where parts wait for the commit.
const TEMPORARY: &str = "_temporary";
/// Where tasks' logs go.
const LOGS: &str = "_logs";

/// Makes attempt file names unique within the process.
static ATTEMPTS: AtomicU64 = AtomicU64::new(0);

/// What a writer does with an output folder that is not empty. See the
/// [module documentation](self) for the rule.
///
/// ```
/// use flotilla_data::output::WriteMode;
/// assert_eq!(WriteMode::default(), WriteMode::ErrorIfNotEmpty);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WriteMode {
    /// Refuse a folder that is not empty (the default).
    #[default]
    ErrorIfNotEmpty,
    /// Replace a previous flotilla output in the folder; refuse a folder
    /// that holds anything else.
    Overwrite,
}

/// Why an output folder could not be prepared, written or committed.
///
/// ```
/// use flotilla_data::output::{OutputDir, OutputError, WriteMode};
///
/// let file = std::env::temp_dir().join(format!("flotilla-doc-output-error-{}", std::process::id()));
/// std::fs::write(&file, "mine")?;
/// let err = OutputDir::create(&file, WriteMode::Overwrite).unwrap_err();
/// assert!(matches!(err, OutputError::NotAFolder { .. }));
/// assert!(err.to_string().contains("is a file"));
/// assert_eq!(std::fs::read_to_string(&file)?, "mine");
/// # std::fs::remove_file(&file)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The output path is a file (or something else that is not a folder).
    #[error("output {} is a file, not a folder", path.display())]
    NotAFolder {
        /// The output path.
        path: PathBuf,
    },
    /// The output folder already exists and is not empty, and overwriting
    /// was not asked for.
    #[error(
        "output folder {} already exists and is not empty (write to a new or empty folder, \
         or ask to overwrite a previous output)",
        path.display()
    )]
    NotEmpty {
        /// The output folder.
        path: PathBuf,
    },
    /// Overwriting was asked for, but the folder holds something that a
    /// flotilla writer did not write; nothing was removed.
    #[error(
        "cannot overwrite {}: {} is not part of a flotilla output (overwriting removes only \
         part files, _SUCCESS and _logs)",
        path.display(),
        entry.display()
    )]
    Foreign {
        /// The output folder.
        path: PathBuf,
        /// The entry that is not flotilla's.
        entry: PathBuf,
    },
    /// The folder has a `_temporary/`: another write to it is running, or
    /// one was killed before it finished. Nothing was changed.
    #[error(
        "output folder {} has a _temporary folder: another write to it is running, or one \
         was killed; remove {}/_temporary if no write is running",
        path.display(),
        path.display()
    )]
    InProgress {
        /// The output folder.
        path: PathBuf,
    },
    /// A commit found the parts numbered with a gap: a task's part is
    /// missing.
    #[error("cannot commit {}: part {index} is missing", path.display())]
    MissingPart {
        /// The output folder.
        path: PathBuf,
        /// The first missing part number.
        index: usize,
    },
    /// A record's formatter (a `Display` impl or the closure given to a
    /// `_by` writer) returned an error; the part is not written.
    #[error(
        "cannot write {}: the formatter of its record {record} (counting from 0) returned an error",
        part.display()
    )]
    Format {
        /// The part, under its final name.
        part: PathBuf,
        /// The record's number within the part.
        record: u64,
    },
    /// A file or folder could not be created, written, renamed or removed.
    #[error("cannot write output {}: {error}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause (shown in the message, so not repeated as a source).
        error: io::Error,
    },
}

impl OutputError {
    /// An [`OutputError::Io`] about `path`.
    ///
    /// ```
    /// let err = flotilla_data::output::OutputError::io("out/part-00000", std::io::ErrorKind::StorageFull.into());
    /// assert!(err.to_string().starts_with("cannot write output out/part-00000"));
    /// ```
    pub fn io(path: impl Into<PathBuf>, error: io::Error) -> OutputError {
        OutputError::Io {
            path: path.into(),
            error,
        }
    }
}

/// The name of part `index`: `part-00007`, or `part-00007.csv` with an
/// extension.
///
/// ```
/// assert_eq!(flotilla_data::output::part_name(7, ""), "part-00007");
/// assert_eq!(flotilla_data::output::part_name(7, "csv"), "part-00007.csv");
/// ```
pub fn part_name(index: usize, extension: &str) -> String {
    if extension.is_empty() {
        format!("part-{index:05}")
    } else {
        format!("part-{index:05}.{extension}")
    }
}

/// The number of a part's name, `part-NNNNN` or `part-NNNNN.ext`; `None`
/// for anything else (attempt files start with a dot).
fn part_index(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("part-")?;
    let digits = rest.split('.').next()?;
    if digits.len() < 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// An output folder being written, part by part: created by
/// [`create`](Self::create) before the tasks, ended by
/// [`commit`](Self::commit) or [`abort`](Self::abort) after the last one.
/// Dropped (its last clone) without either, it aborts.
///
/// Cheap to clone and `Send + Sync`: every task writing a part holds a
/// clone. See the [module documentation](self) for the rule it keeps.
///
/// ```
/// use flotilla_data::output::{OutputDir, WriteMode};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-outputdir-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
/// std::thread::scope(|s| {
///     for i in 0..3 {
///         let out = out.clone();
///         s.spawn(move || out.create_part(i, "")?.commit());
///     }
/// });
/// assert!(!dir.join("_SUCCESS").exists()); // nothing visible before the commit
/// assert_eq!(out.commit()?.len(), 3);
/// assert!(dir.join("_SUCCESS").exists());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OutputDir {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    temporary: PathBuf,
    mode: WriteMode,
    /// The folders `create` made, the outermost first.
    created: Vec<PathBuf>,
    /// Committed or aborted: nothing left to clean up.
    ended: AtomicBool,
}

impl OutputDir {
    /// Prepares `path` for writing, as the [rule](self) says: creates it
    /// (and its missing parents) if needed, accepts an empty folder, and a
    /// folder holding a previous flotilla output with
    /// [`WriteMode::Overwrite`] (the previous output is replaced at the
    /// commit).
    ///
    /// # Errors
    ///
    /// [`OutputError::NotAFolder`], [`OutputError::NotEmpty`],
    /// [`OutputError::Foreign`], [`OutputError::InProgress`] (a
    /// `_temporary/` is there), or [`OutputError::Io`]; nothing is changed
    /// then.
    ///
    /// ```
    /// use flotilla_data::output::{OutputDir, OutputError, WriteMode};
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-outcreate-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("notes.txt"), "mine")?;
    /// let err = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty).unwrap_err();
    /// assert!(matches!(err, OutputError::NotEmpty { .. }));
    /// let err = OutputDir::create(&dir, WriteMode::Overwrite).unwrap_err();
    /// assert!(matches!(err, OutputError::Foreign { .. }));
    /// assert!(dir.join("notes.txt").exists());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(path: impl AsRef<Path>, mode: WriteMode) -> Result<OutputDir, OutputError> {
        let root = path.as_ref();
        let temporary = root.join(TEMPORARY);
        let created = match fs::metadata(root) {
            Ok(meta) if meta.is_dir() => {
                let entries = list(root)?;
                if !entries.is_empty() {
                    if mode == WriteMode::ErrorIfNotEmpty {
                        return Err(OutputError::NotEmpty {
                            path: root.to_path_buf(),
                        });
                    }
                    if entries.iter().any(|name| name == TEMPORARY) {
                        return Err(OutputError::InProgress {
                            path: root.to_path_buf(),
                        });
                    }
                    check_previous_output(root, &entries)?;
                }
                Vec::new()
            }
            Ok(_) => {
                return Err(OutputError::NotAFolder {
                    path: root.to_path_buf(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => create_folders(root)?,
            Err(e) => return Err(OutputError::io(root, e)),
        };
        // `_temporary/` exists already when another write started meanwhile:
        // it is that write's, so only the folders made above are removed.
        if let Err(e) = fs::create_dir(&temporary) {
            remove_created(&created);
            return Err(if e.kind() == io::ErrorKind::AlreadyExists {
                OutputError::InProgress {
                    path: root.to_path_buf(),
                }
            } else {
                OutputError::io(&temporary, e)
            });
        }
        Ok(OutputDir {
            inner: Arc::new(Inner {
                root: root.to_path_buf(),
                temporary,
                mode,
                created,
                ended: AtomicBool::new(false),
            }),
        })
    }

    /// Joins a write that another process began with
    /// [`create`](Self::create) on a folder both can see (the client of a
    /// cluster and its workers): parts and logs written through this handle
    /// go into its `_temporary/`; the commit or abort stays that process's,
    /// so dropping this handle removes nothing.
    ///
    /// # Errors
    ///
    /// [`OutputError::Io`] when `path` has no `_temporary/`: no write is
    /// in progress there, as seen from here (not a folder this process
    /// sees, or the write ended).
    ///
    /// ```
    /// use flotilla_data::output::{OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outattach-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// let worker = OutputDir::attach(&dir)?; // in another process, typically
    /// worker.create_part(0, "")?.commit()?;
    /// drop(worker); // removes nothing
    /// assert_eq!(out.commit()?.len(), 1);
    /// assert!(OutputDir::attach(&dir).is_err()); // the write is over
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach(path: impl AsRef<Path>) -> Result<OutputDir, OutputError> {
        let root = path.as_ref();
        let temporary = root.join(TEMPORARY);
        match fs::metadata(&temporary) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(OutputError::NotAFolder {
                    path: temporary.clone(),
                })
            }
            Err(e) => return Err(OutputError::io(&temporary, e)),
        }
        Ok(OutputDir {
            inner: Arc::new(Inner {
                root: root.to_path_buf(),
                temporary,
                mode: WriteMode::ErrorIfNotEmpty,
                created: Vec::new(),
                // Not this handle's to end.
                ended: AtomicBool::new(true),
            }),
        })
    }

    /// The output folder.
    ///
    /// ```
    /// # use flotilla_data::output::{OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outpath-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// assert_eq!(out.path(), dir.as_path());
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.inner.root
    }

    /// The folder where parts wait for the commit, `OUTPUT/_temporary`: a
    /// writer may keep its own scratch files there (removed with it).
    ///
    /// ```
    /// # use flotilla_data::output::{OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outtemp-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// assert_eq!(out.temporary(), dir.join("_temporary"));
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn temporary(&self) -> &Path {
        &self.inner.temporary
    }

    /// The write mode the folder was created with.
    ///
    /// ```
    /// # use flotilla_data::output::{OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outmode-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let out = OutputDir::create(&dir, WriteMode::Overwrite)?;
    /// assert_eq!(out.mode(), WriteMode::Overwrite);
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mode(&self) -> WriteMode {
        self.inner.mode
    }

    /// Starts writing part `index` ([`part_name`] with `extension`, empty
    /// for none): a fresh attempt file under `_temporary/`, which
    /// [`PartFile::commit`] renames to the part's name there. An attempt
    /// dropped without its commit is removed.
    ///
    /// # Errors
    ///
    /// [`OutputError::Io`] when the file cannot be created.
    ///
    /// ```
    /// use std::io::Write;
    /// # use flotilla_data::output::{OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outpart-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// let mut part = out.create_part(0, "")?;
    /// part.file().write_all(b"x\n")?;
    /// assert_eq!(part.commit()?, dir.join("part-00000"));
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_part(&self, index: usize, extension: &str) -> Result<PartFile, OutputError> {
        let name = part_name(index, extension);
        let attempt = self.inner.temporary.join(format!(
            ".{name}.{}-{}.attempt",
            std::process::id(),
            ATTEMPTS.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::create(&attempt).map_err(|e| OutputError::io(&attempt, e))?;
        Ok(PartFile {
            file,
            committed: self.inner.temporary.join(&name),
            destination: self.inner.root.join(&name),
            attempt,
            done: false,
        })
    }

    /// Writes a task's log, `_logs/NAME` after the commit (a later write
    /// of the same name replaces it). Returns where it will be.
    ///
    /// # Errors
    ///
    /// [`OutputError::Io`] when the log cannot be written.
    ///
    /// ```
    /// # use flotilla_data::output::{OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outlog-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// let log = out.write_log("map-00000.stderr", b"warning: odd line\n")?;
    /// out.commit()?;
    /// assert_eq!(std::fs::read_to_string(&log)?, "warning: odd line\n");
    /// assert_eq!(log, dir.join("_logs").join("map-00000.stderr"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_log(&self, name: &str, contents: &[u8]) -> Result<PathBuf, OutputError> {
        let logs = self.inner.temporary.join(LOGS);
        let plain = Path::new(name)
            .file_name()
            .is_some_and(|file| file == std::ffi::OsStr::new(name));
        if !plain {
            return Err(OutputError::io(
                logs.join(name),
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a log's name must be a plain file name, without folders",
                ),
            ));
        }
        // `create_dir`, not `create_dir_all`: a write that ended (its
        // `_temporary/` gone) must not be made anew by a late writer.
        match fs::create_dir(&logs) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(OutputError::io(&logs, e))
            }
            _ => {}
        }
        let path = logs.join(name);
        fs::write(&path, contents).map_err(|e| OutputError::io(&path, e))?;
        Ok(self.inner.root.join(LOGS).join(name))
    }

    /// Ends the write: moves every committed part into the folder (after
    /// setting the previous output aside, with [`WriteMode::Overwrite`]),
    /// then the logs, writes `_SUCCESS`, and removes `_temporary/` with the
    /// previous output. Returns the parts' paths, in part order. The part
    /// numbers must run from 0 without a gap.
    ///
    /// # Errors
    ///
    /// [`OutputError::MissingPart`]: nothing is moved, and this handle is
    /// consumed, so the write ends there when it was the last clone (a
    /// caller that may write the missing part and try again commits a
    /// clone). A failure to move a file: the parts already moved are
    /// removed and the previous output put back. A failure to remove
    /// `_temporary/` once the output is complete is reported too; the
    /// output stands.
    ///
    /// ```
    /// use flotilla_data::output::{OutputDir, OutputError, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outcommit-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// out.create_part(0, "")?.commit()?;
    /// out.create_part(2, "")?.commit()?; // part 1 never written
    /// let err = out.clone().commit().unwrap_err();
    /// assert!(matches!(err, OutputError::MissingPart { index: 1, .. }));
    /// assert!(!dir.join("_SUCCESS").exists());
    /// out.abort()?;
    /// assert!(!dir.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn commit(self) -> Result<Vec<PathBuf>, OutputError> {
        self.commit_checked(None)
    }

    /// [`commit`](Self::commit), also checking that exactly `parts` parts
    /// (numbered `0..parts`) were written.
    ///
    /// # Errors
    ///
    /// As [`commit`](Self::commit).
    ///
    /// ```
    /// use flotilla_data::output::{OutputDir, OutputError, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outexpect-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// out.create_part(0, "")?.commit()?;
    /// let err = out.clone().commit_expecting(2).unwrap_err();
    /// assert!(matches!(err, OutputError::MissingPart { index: 1, .. }));
    /// out.create_part(1, "")?.commit()?;
    /// assert_eq!(out.commit_expecting(2)?.len(), 2);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn commit_expecting(self, parts: usize) -> Result<Vec<PathBuf>, OutputError> {
        self.commit_checked(Some(parts))
    }

    fn commit_checked(self, expected: Option<usize>) -> Result<Vec<PathBuf>, OutputError> {
        let Inner {
            root,
            temporary,
            mode,
            ..
        } = &*self.inner;
        let mut parts: Vec<(usize, String)> = list(temporary)?
            .into_iter()
            .filter_map(|name| part_index(&name).map(|index| (index, name)))
            .collect();
        parts.sort();
        let mut next = 0;
        for &(index, _) in &parts {
            if index > next {
                return Err(OutputError::MissingPart {
                    path: root.clone(),
                    index: next,
                });
            }
            next = index + 1;
        }
        if expected.is_some_and(|expected| next < expected) {
            return Err(OutputError::MissingPart {
                path: root.clone(),
                index: next,
            });
        }
        let previous = if *mode == WriteMode::Overwrite {
            set_previous_output_aside(root, temporary)?
        } else {
            Vec::new()
        };
        let mut moved = Vec::with_capacity(parts.len() + 1);
        let result = parts
            .iter()
            .try_for_each(|(_, name)| {
                let to = root.join(name);
                fs::rename(temporary.join(name), &to).map_err(|e| OutputError::io(&to, e))?;
                moved.push(to);
                Ok(())
            })
            .and_then(|()| {
                let logs = temporary.join(LOGS);
                if logs.is_dir() {
                    let to = root.join(LOGS);
                    fs::rename(&logs, &to).map_err(|e| OutputError::io(&to, e))?;
                    moved.push(to);
                }
                Ok(())
            })
            .and_then(|()| {
                let success = root.join(SUCCESS);
                File::create(&success)
                    .map(drop)
                    .map_err(|e| OutputError::io(&success, e))
            });
        if let Err(e) = result {
            for path in &moved {
                let _ = fs::remove_file(path).or_else(|_| fs::remove_dir_all(path));
            }
            restore_previous_output(root, temporary, &previous);
            // Dropping the last clone removes `_temporary/` and the
            // folders `create` made.
            return Err(e);
        }
        self.inner.ended.store(true, Ordering::Release);
        // The output is complete and marked so; what is left in
        // `_temporary/` is the previous output and empty folders.
        fs::remove_dir_all(temporary).map_err(|e| OutputError::io(temporary, e))?;
        moved.truncate(parts.len());
        Ok(moved)
    }

    /// Ends a failed write: removes `_temporary/` with every part and log
    /// in it, and the folders [`create`](Self::create) made (the output
    /// folder when it did not exist, and parents it needed). A folder that
    /// existed stays, as it was. Dropping the last clone without a commit
    /// does the same, ignoring errors.
    ///
    /// # Errors
    ///
    /// [`OutputError::Io`] when `_temporary/` cannot be removed.
    ///
    /// ```
    /// use flotilla_data::output::{OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outabort-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// std::fs::create_dir(&dir)?; // made by the user: it stays
    /// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// out.create_part(0, "")?.commit()?;
    /// out.abort()?;
    /// assert!(dir.is_dir());
    /// assert_eq!(std::fs::read_dir(&dir)?.count(), 0);
    /// # std::fs::remove_dir(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn abort(self) -> Result<(), OutputError> {
        self.inner.clean_up()
    }
}

impl Inner {
    /// Removes `_temporary/` and the folders `create` made; once.
    fn clean_up(&self) -> Result<(), OutputError> {
        if self.ended.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // A writer that has not seen the end yet may add a file while the
        // folder is removed, which then fails as not empty: try again, a
        // few times (a writer cannot make `_temporary/` anew).
        let mut removed = Ok(());
        for _ in 0..50 {
            removed = match fs::remove_dir_all(&self.temporary) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    Err(OutputError::io(&self.temporary, e))
                }
                _ => Ok(()),
            };
            if removed.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // A folder that is not empty (something else was put there
        // meanwhile) is left alone.
        remove_created(&self.created);
        removed
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.clean_up();
    }
}

/// One attempt at writing a part, from [`OutputDir::create_part`]: a file
/// under `_temporary/`, renamed to the part's name by
/// [`commit`](Self::commit) once complete, removed if dropped before.
///
/// ```
/// use std::io::Write;
/// # use flotilla_data::output::{OutputDir, WriteMode};
/// # let dir = std::env::temp_dir().join(format!("flotilla-doc-partfile-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
/// let mut failed = out.create_part(0, "")?;
/// failed.file().write_all(b"half a")?;
/// drop(failed); // a task that failed: nothing of it is left
/// let mut part = out.create_part(0, "")?;
/// part.file().write_all(b"whole\n")?;
/// part.commit()?;
/// let parts = out.commit()?;
/// assert_eq!(std::fs::read_to_string(&parts[0])?, "whole\n");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PartFile {
    file: File,
    attempt: PathBuf,
    committed: PathBuf,
    destination: PathBuf,
    done: bool,
}

impl PartFile {
    /// The attempt's file, open for writing (buffer it for many small
    /// writes).
    ///
    /// ```
    /// use std::io::Write;
    /// # use flotilla_data::output::{OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-partfile-file-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// let mut part = out.create_part(3, "tsv")?;
    /// std::io::BufWriter::new(part.file()).write_all(b"a\t1\n")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The attempt file's path, for error messages.
    ///
    /// ```
    /// # use flotilla_data::output::{OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-partfile-path-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// let part = out.create_part(0, "")?;
    /// assert!(part.path().starts_with(dir.join("_temporary")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.attempt
    }

    /// The task commit: renames the file to its part name
    /// under `_temporary/` (replacing an earlier attempt's part). Returns
    /// where the part will be after the job's commit.
    ///
    /// # Errors
    ///
    /// [`OutputError::Io`] when the rename fails (the attempt is removed).
    ///
    /// ```
    /// # use flotilla_data::output::{OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-partfile-commit-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// assert_eq!(out.create_part(4, "csv")?.commit()?, dir.join("part-00004.csv"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        fs::rename(&self.attempt, &self.committed)
            .map_err(|e| OutputError::io(&self.committed, e))?;
        self.done = true;
        Ok(self.destination.clone())
    }
}

/// A part written as lines of text, one per record, through a buffer:
/// the one way the text writers (`Bag::to_textfiles`,
/// `JobOutput::write_text`) write a part.
///
/// ```
/// use std::fmt::Write as _;
/// use flotilla_data::output::{LinePart, OutputDir, WriteMode};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-linepart-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
/// let mut part = LinePart::create(&out, 0)?;
/// for (word, n) in [("a", 2), ("b", 1)] {
///     part.push(&(word, n), |(w, n), line| write!(line, "{w}\t{n}"))?;
/// }
/// part.commit()?;
/// let parts = out.commit()?;
/// assert_eq!(std::fs::read_to_string(&parts[0])?, "a\t2\nb\t1\n");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LinePart {
    part: PartFile,
    buffer: Vec<u8>,
    line: String,
    records: u64,
}

/// Bytes gathered before they are written to the part's file.
const LINE_BUFFER: usize = 1 << 20;

impl LinePart {
    /// Starts part `index` (no extension) of `out`.
    ///
    /// # Errors
    ///
    /// [`OutputError::Io`] when the part's file cannot be created.
    ///
    /// ```
    /// # use flotilla_data::output::{LinePart, OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-linepart-create-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// let part = LinePart::create(&out, 7)?;
    /// assert_eq!(part.commit()?, dir.join("part-00007"));
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(out: &OutputDir, index: usize) -> Result<LinePart, OutputError> {
        Ok(LinePart {
            part: out.create_part(index, "")?,
            buffer: Vec::with_capacity(LINE_BUFFER),
            line: String::new(),
            records: 0,
        })
    }

    /// Appends `record` as the line `format` writes, and a newline.
    ///
    /// # Errors
    ///
    /// [`OutputError::Format`] when `format` fails (naming the part and
    /// the record), [`OutputError::Io`] when the buffer cannot be written.
    ///
    /// ```
    /// use std::fmt::Write as _;
    /// # use flotilla_data::output::{LinePart, OutputDir, OutputError, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-linepart-push-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// let mut part = LinePart::create(&out, 0)?;
    /// part.push(&42u32, |n, line| write!(line, "{n}"))?;
    /// let err = part.push(&0u32, |_, _| Err(std::fmt::Error)).unwrap_err();
    /// assert!(matches!(err, OutputError::Format { record: 1, .. }));
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push<T: ?Sized>(
        &mut self,
        record: &T,
        format: impl FnOnce(&T, &mut String) -> std::fmt::Result,
    ) -> Result<(), OutputError> {
        self.line.clear();
        format(record, &mut self.line).map_err(|_| OutputError::Format {
            part: self.part.destination.clone(),
            record: self.records,
        })?;
        self.records += 1;
        self.buffer.extend_from_slice(self.line.as_bytes());
        self.buffer.push(b'\n');
        if self.buffer.len() >= LINE_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends one record that `write` puts into the buffer itself, newline
    /// included (a record type that writes its own line).
    ///
    /// # Errors
    ///
    /// [`OutputError::Io`] when `write` fails or the buffer cannot be
    /// written.
    ///
    /// ```
    /// use std::io::Write as _;
    /// # use flotilla_data::output::{LinePart, OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-linepart-with-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// let mut part = LinePart::create(&out, 0)?;
    /// part.write_with(|buffer| buffer.write_all(b"key\tvalue\n"))?;
    /// part.commit()?;
    /// assert_eq!(std::fs::read_to_string(&out.commit()?[0])?, "key\tvalue\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_with(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>,
    ) -> Result<(), OutputError> {
        write(&mut self.buffer).map_err(|e| OutputError::io(&self.part.destination, e))?;
        self.records += 1;
        if self.buffer.len() >= LINE_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        use std::io::Write as _;
        let destination = &self.part.destination;
        self.part
            .file
            .write_all(&self.buffer)
            .map_err(|e| OutputError::io(destination, e))?;
        self.buffer.clear();
        Ok(())
    }

    /// Writes what is buffered and commits the part (the task commit), as
    /// [`PartFile::commit`] does. Returns where the part will be after the
    /// job's commit.
    ///
    /// # Errors
    ///
    /// [`OutputError::Io`] when the buffer cannot be written or the rename
    /// fails.
    ///
    /// ```
    /// # use flotilla_data::output::{LinePart, OutputDir, WriteMode};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-linepart-commit-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # let out = OutputDir::create(&dir, WriteMode::ErrorIfNotEmpty)?;
    /// let mut part = LinePart::create(&out, 1)?;
    /// part.push("one line", |text, line| { line.push_str(text); Ok(()) })?;
    /// assert_eq!(part.commit()?, dir.join("part-00001"));
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        self.flush()?;
        self.part.commit()
    }
}

impl std::fmt::Debug for LinePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinePart")
            .field("part", &self.part.destination)
            .field("records", &self.records)
            .finish()
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.attempt);
        }
    }
}

/// The names in `dir`.
fn list(dir: &Path) -> Result<Vec<String>, OutputError> {
    let io_err = |e| OutputError::io(dir, e);
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err)? {
        names.push(
            entry
                .map_err(io_err)?
                .file_name()
                .to_string_lossy()
                .into_owned(),
        );
    }
    Ok(names)
}

/// Whether `name` in `root` is something a flotilla writer writes.
fn is_flotilla_output(root: &Path, name: &str) -> bool {
    let path = root.join(name);
    let Ok(meta) = fs::symlink_metadata(&path) else {
        return false;
    };
    match name {
        SUCCESS => meta.is_file(),
        TEMPORARY => meta.is_dir(),
        LOGS => {
            meta.is_dir()
                && fs::read_dir(&path).is_ok_and(|entries| {
                    entries
                        .into_iter()
                        .all(|e| e.is_ok_and(|e| e.file_type().is_ok_and(|t| t.is_file())))
                })
        }
        _ => meta.is_file() && part_index(name).is_some(),
    }
}

/// Checks that everything in `root` is a previous flotilla output.
fn check_previous_output(root: &Path, names: &[String]) -> Result<(), OutputError> {
    match names.iter().find(|name| !is_flotilla_output(root, name)) {
        Some(name) => Err(OutputError::Foreign {
            path: root.to_path_buf(),
            entry: root.join(name),
        }),
        None => Ok(()),
    }
}

/// Where a commit that overwrites keeps the previous output until the new
/// one is in place.
const PREVIOUS: &str = "_previous";

/// Renames a previous output in `root` into `temporary/_previous/`,
/// `_SUCCESS` first so that the folder never looks complete with some parts
/// gone; returns the names moved. On failure, what was moved is put back.
fn set_previous_output_aside(root: &Path, temporary: &Path) -> Result<Vec<String>, OutputError> {
    let mut names: Vec<String> = list(root)?
        .into_iter()
        .filter(|name| name != TEMPORARY)
        .collect();
    check_previous_output(root, &names)?;
    if names.is_empty() {
        return Ok(names);
    }
    // `_SUCCESS` sorts before `_logs` and the parts.
    names.sort_by_key(|name| name != SUCCESS);
    let aside = temporary.join(PREVIOUS);
    fs::create_dir(&aside).map_err(|e| OutputError::io(&aside, e))?;
    let mut moved = Vec::with_capacity(names.len());
    for name in names {
        let from = root.join(&name);
        if let Err(e) = fs::rename(&from, aside.join(&name)) {
            restore_previous_output(root, temporary, &moved);
            return Err(OutputError::io(&from, e));
        }
        moved.push(name);
    }
    Ok(moved)
}

/// Puts back what [`set_previous_output_aside`] moved, `_SUCCESS` last.
fn restore_previous_output(root: &Path, temporary: &Path, names: &[String]) {
    let aside = temporary.join(PREVIOUS);
    for name in names.iter().rev() {
        let _ = fs::rename(aside.join(name), root.join(name));
    }
}

/// Removes the folders a write created (listed outermost first), innermost
/// first, stopping at one that is not empty.
fn remove_created(created: &[PathBuf]) {
    for folder in created.iter().rev() {
        if fs::remove_dir(folder).is_err() {
            break;
        }
    }
}

/// Creates `root` and its missing parents; returns the folders made, the
/// outermost first. On failure, removes them again.
fn create_folders(root: &Path) -> Result<Vec<PathBuf>, OutputError> {
    let mut missing = Vec::new();
    let mut folder = Some(root);
    while let Some(path) = folder {
        if path.as_os_str().is_empty() || fs::symlink_metadata(path).is_ok() {
            break;
        }
        missing.push(path.to_path_buf());
        folder = path.parent();
    }
    missing.reverse();
    let mut created = Vec::with_capacity(missing.len());
    for path in missing {
        match fs::create_dir(&path) {
            Ok(()) => created.push(path),
            // Made meanwhile by someone else: not ours to remove.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {}
            Err(e) => {
                for folder in created.iter().rev() {
                    let _ = fs::remove_dir(folder);
                }
                return Err(OutputError::io(&path, e));
            }
        }
    }
    Ok(created)
}

#[cfg(test)]
mod test {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "flotilla-output-unit-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join(TEMPORARY)).unwrap();
        dir
    }

    #[test]
    fn a_previous_output_set_aside_comes_back_whole() {
        let root = scratch("aside");
        for name in ["part-00000", "part-00001.csv", SUCCESS] {
            fs::write(root.join(name), name).unwrap();
        }
        let temporary = root.join(TEMPORARY);
        let moved = set_previous_output_aside(&root, &temporary).unwrap();
        assert_eq!(moved[0], SUCCESS, "_SUCCESS goes first");
        assert_eq!(list(&root).unwrap(), [TEMPORARY]);
        restore_previous_output(&root, &temporary, &moved);
        let mut back = list(&root).unwrap();
        back.sort();
        assert_eq!(back, [SUCCESS, TEMPORARY, "part-00000", "part-00001.csv"]);
        assert_eq!(
            fs::read_to_string(root.join("part-00001.csv")).unwrap(),
            "part-00001.csv"
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn setting_aside_stops_at_a_foreign_entry_and_moves_nothing() {
        let root = scratch("foreign");
        fs::write(root.join("part-00000"), "p").unwrap();
        fs::write(root.join("notes.txt"), "mine").unwrap();
        let temporary = root.join(TEMPORARY);
        let err = set_previous_output_aside(&root, &temporary).unwrap_err();
        assert!(matches!(err, OutputError::Foreign { .. }), "{err}");
        assert!(root.join("part-00000").is_file());
        fs::remove_dir_all(&root).unwrap();
    }
}
