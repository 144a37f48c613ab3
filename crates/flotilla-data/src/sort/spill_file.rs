//! Spill files on disk: where they live, their format, and their cleanup.
//!
//! A spill file starts with the 8-byte header [`MAGIC`], followed by frames.
//! A frame is a little-endian `u32` length and that many bytes of a
//! postcard-encoded `(K, V)` record. A file holds one sorted segment per
//! partition that had records when it was spilled, back to back; the segment's
//! byte range and record count are kept in memory by the
//! [`SortedRun`](super::SortedRun) that refers to it, so that a reader knows
//! exactly where to stop and can tell a truncated or overwritten file from a
//! good one.
//!
//! Cleanup is by ownership: a [`SpillFile`] deletes its path when dropped, and
//! every run and reader that needs the file holds an `Arc` to it. A temporary
//! [`SpillDir`] created by the sorter is removed when the last file in it is
//! gone.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::SpillError;

/// The first bytes of every spill file: format name and version.
pub(crate) const MAGIC: &[u8; 8] = b"FLSORT01";
/// Length of [`MAGIC`], where the first segment of a file starts.
pub(crate) const HEADER_LEN: u64 = MAGIC.len() as u64;

/// Distinguishes the files and directories made by this process.
static NEXT_NAME: AtomicU64 = AtomicU64::new(0);

fn unique_suffix() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        NEXT_NAME.fetch_add(1, Ordering::Relaxed)
    )
}

/// The directory spill files are written to.
///
/// Either one the caller named (created if missing, never removed), or a
/// fresh uniquely named directory under [`std::env::temp_dir`], removed when
/// the last [`SpillFile`] in it (and the sorter that made it) is dropped.
#[derive(Debug)]
pub(crate) struct SpillDir {
    path: PathBuf,
    remove_on_drop: bool,
}

impl SpillDir {
    /// The caller's directory, created if it does not exist.
    pub(crate) fn at(path: &Path) -> Result<Arc<Self>, SpillError> {
        fs::create_dir_all(path).map_err(|source| SpillError::CreateDir {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Arc::new(SpillDir {
            path: path.to_path_buf(),
            remove_on_drop: false,
        }))
    }

    /// A new directory under the system's temporary directory.
    pub(crate) fn temporary() -> Result<Arc<Self>, SpillError> {
        let base = std::env::temp_dir();
        loop {
            let path = base.join(format!("flotilla-sort-{}", unique_suffix()));
            match fs::create_dir(&path) {
                Ok(()) => {
                    return Ok(Arc::new(SpillDir {
                        path,
                        remove_on_drop: true,
                    }))
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(SpillError::CreateDir { path, source }),
            }
        }
    }

    /// Creates a new, empty spill file with a name no other file has.
    fn create_file(self: &Arc<Self>) -> Result<(SpillFile, File), SpillError> {
        loop {
            let path = self.path.join(format!("flotilla-{}.run", unique_suffix()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok((
                        SpillFile {
                            path,
                            _dir: Arc::clone(self),
                        },
                        file,
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(SpillError::Io {
                        path,
                        op: "creating",
                        source,
                    })
                }
            }
        }
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        if self.remove_on_drop {
            // Every file in it held an Arc to this directory, so it is empty
            // unless someone else wrote there; remove it either way.
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// One spill file on disk, deleted when this value is dropped.
///
/// Invariant: the file at `path` was created by [`SpillDir::create_file`] and
/// nothing but its [`RunWriter`] wrote to it.
#[derive(Debug)]
pub(crate) struct SpillFile {
    path: PathBuf,
    /// Keeps a temporary directory alive until its last file is gone.
    _dir: Arc<SpillDir>,
}

impl SpillFile {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The directory the file lives in, for writing more files beside it.
    pub(crate) fn dir(&self) -> &Arc<SpillDir> {
        &self._dir
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Writes sorted records into a new spill file, frame by frame.
#[derive(Debug)]
pub(crate) struct RunWriter {
    // Declared before `file` so that it is flushed and closed before the file
    // is deleted when a writer is abandoned on an error path.
    out: BufWriter<File>,
    file: SpillFile,
    /// Bytes written so far, header included.
    position: u64,
    scratch: Vec<u8>,
}

impl RunWriter {
    /// Creates a file in `dir` and writes its header.
    pub(crate) fn create(dir: &Arc<SpillDir>, buffer_bytes: usize) -> Result<Self, SpillError> {
        let (file, handle) = dir.create_file()?;
        let mut writer = RunWriter {
            out: BufWriter::with_capacity(buffer_bytes.max(4096), handle),
            file,
            position: 0,
            scratch: Vec::new(),
        };
        writer.write_bytes(MAGIC)?;
        Ok(writer)
    }

    /// Bytes written so far, header included: where the next frame starts.
    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), SpillError> {
        self.out.write_all(bytes).map_err(|source| SpillError::Io {
            path: self.file.path.clone(),
            op: "writing",
            source,
        })?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    /// Appends one record as a length-prefixed frame.
    pub(crate) fn write_record<K: Serialize, V: Serialize>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), SpillError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let scratch =
            postcard::to_extend(&(key, value), scratch).map_err(|source| SpillError::Encode {
                path: self.file.path.clone(),
                source,
            })?;
        let len = u32::try_from(scratch.len()).map_err(|_| SpillError::RecordTooLarge {
            path: self.file.path.clone(),
            bytes: scratch.len(),
        })?;
        self.write_bytes(&len.to_le_bytes())?;
        self.write_bytes(&scratch)?;
        self.scratch = scratch;
        Ok(())
    }

    /// Flushes the file and hands it over; from now on it is deleted when the
    /// last `Arc` to it is dropped.
    pub(crate) fn finish(self) -> Result<Arc<SpillFile>, SpillError> {
        let RunWriter { out, file, .. } = self;
        match out.into_inner() {
            Ok(handle) => {
                drop(handle);
                Ok(Arc::new(file))
            }
            Err(e) => Err(SpillError::Io {
                path: file.path.clone(),
                op: "writing",
                source: e.into_error(),
            }),
        }
    }
}

/// Streams the records of one segment of a spill file back, through a
/// buffered reader: never more than one frame is decoded at a time.
pub(crate) struct RunReader<K, V> {
    input: BufReader<File>,
    file: Arc<SpillFile>,
    /// Offset of the next frame.
    position: u64,
    /// Offset just past the segment's last frame.
    end: u64,
    /// Records still expected before `end`.
    remaining: u64,
    scratch: Vec<u8>,
    _records: PhantomData<fn() -> (K, V)>,
}

impl<K, V> std::fmt::Debug for RunReader<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunReader")
            .field("path", &self.file.path)
            .field("position", &self.position)
            .field("end", &self.end)
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl<K: DeserializeOwned, V: DeserializeOwned> RunReader<K, V> {
    /// Opens `file`, checks its header and positions the reader at `start`.
    pub(crate) fn open(
        file: Arc<SpillFile>,
        start: u64,
        end: u64,
        records: u64,
        buffer_bytes: usize,
    ) -> Result<Self, SpillError> {
        let io_err = |op, source| SpillError::Io {
            path: file.path.clone(),
            op,
            source,
        };
        let handle = File::open(&file.path).map_err(|e| io_err("opening", e))?;
        let mut input = BufReader::with_capacity(buffer_bytes.max(4096), handle);
        let mut header = [0u8; 8];
        match input.read_exact(&mut header) {
            Ok(()) if &header == MAGIC => {}
            Ok(()) => {
                return Err(corrupt(
                    &file,
                    0,
                    "not a flotilla spill file (bad header)".into(),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(corrupt(&file, 0, "file is shorter than its header".into()))
            }
            Err(e) => return Err(io_err("reading", e)),
        }
        if start < HEADER_LEN || end < start {
            return Err(corrupt(
                &file,
                start,
                format!("invalid run range {start}..{end}"),
            ));
        }
        if start != HEADER_LEN {
            input
                .seek(SeekFrom::Start(start))
                .map_err(|e| io_err("reading", e))?;
        }
        Ok(RunReader {
            input,
            file,
            position: start,
            end,
            remaining: records,
            scratch: Vec::new(),
            _records: PhantomData,
        })
    }

    /// The next record of the segment, or `None` at its end.
    pub(crate) fn next_record(&mut self) -> Result<Option<(K, V)>, SpillError> {
        let frame_at = self.position;
        if frame_at == self.end {
            if self.remaining != 0 {
                return Err(corrupt(
                    &self.file,
                    frame_at,
                    format!("run ended with {} records missing", self.remaining),
                ));
            }
            return Ok(None);
        }
        if self.remaining == 0 {
            return Err(corrupt(
                &self.file,
                frame_at,
                "more records than the run holds".into(),
            ));
        }
        let left = self.end - frame_at;
        if left < 4 {
            return Err(corrupt(
                &self.file,
                frame_at,
                "frame header crosses the end of the run".into(),
            ));
        }
        let mut len = [0u8; 4];
        self.read_exact_at(&mut len, frame_at)?;
        let len = u64::from(u32::from_le_bytes(len));
        if len > left - 4 {
            return Err(corrupt(
                &self.file,
                frame_at,
                format!(
                    "frame length {len} overruns the run ({} bytes left)",
                    left - 4
                ),
            ));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        // `len` fits in usize: it is at most the run's length, a file size.
        scratch.resize(len as usize, 0);
        self.read_exact_at(&mut scratch, frame_at)?;
        let decoded = postcard::take_from_bytes::<(K, V)>(&scratch);
        let record = match decoded {
            Ok((record, [])) => record,
            Ok((_, rest)) => {
                return Err(corrupt(
                    &self.file,
                    frame_at,
                    format!(
                        "{} trailing bytes after the record in its frame",
                        rest.len()
                    ),
                ))
            }
            Err(source) => {
                return Err(SpillError::Decode {
                    path: self.file.path.clone(),
                    offset: frame_at,
                    source,
                })
            }
        };
        self.scratch = scratch;
        self.position = frame_at + 4 + len;
        self.remaining -= 1;
        Ok(Some(record))
    }

    fn read_exact_at(&mut self, buf: &mut [u8], frame_at: u64) -> Result<(), SpillError> {
        self.input.read_exact(buf).map_err(|source| {
            if source.kind() == io::ErrorKind::UnexpectedEof {
                corrupt(
                    &self.file,
                    frame_at,
                    "file is truncated inside this frame".into(),
                )
            } else {
                SpillError::Io {
                    path: self.file.path.clone(),
                    op: "reading",
                    source,
                }
            }
        })
    }
}

fn corrupt(file: &SpillFile, offset: u64, reason: String) -> SpillError {
    SpillError::Corrupt {
        path: file.path.clone(),
        offset,
        reason,
    }
}
