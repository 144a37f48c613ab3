//! Checkpoints: task results kept in a folder, so that a run started again
//! after a crash or Ctrl-C computes only what is not there.
//!
//! A [`Checkpoint`] is a folder of result files, one per key. What a key
//! names is up to the computation that keeps results there: a
//! [`Delayed`](crate::Delayed) value's key chains its graph key, its
//! version and the keys of its inputs ([`Delayed::checkpoint`]); flotilla's
//! cluster names a call by its function, version and arguments; a
//! MapReduce job names a map task by its configuration and its split. In
//! every case a changed input or a new version of a function changes the
//! key of that task and of the tasks downstream of it, and of nothing
//! else, so exactly those run again.
//!
//! A result file starts with a magic line and the length of what follows;
//! it is written to a temporary file renamed into place, so that a crash
//! never leaves half a result under a key, and a file that does not read
//! back whole (damaged, cut short) is an error that names it.
//!
//! [`Delayed::checkpoint`]: crate::Delayed::checkpoint

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// What a result file starts with.
const MAGIC: &[u8; 8] = b"FLCKPT1\n";

/// A folder of task results kept across runs.
///
/// ```
/// use flotilla_local::{Checkpoint, Delayed};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-local-ckpt-doc-{}", std::process::id()));
/// for run in 0..2 {
///     let checkpoint = Checkpoint::open(&dir).unwrap();
///     let nine = Delayed::value(3u64).map(|x| x * x).checkpoint(&checkpoint);
///     assert_eq!(nine.compute().unwrap(), 9);
///     // The first run computes; the second reads what the first kept.
///     let expected = if run == 0 { (1, 0) } else { (0, 1) };
///     assert_eq!((checkpoint.computed(), checkpoint.loaded()), expected);
/// }
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone)]
pub struct Checkpoint {
    inner: Arc<Inner>,
}

/// Shows the folder only: the counts change as tasks run, and a plan that
/// holds a checkpoint is named by its `Debug` text.
impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    loaded: AtomicU64,
    computed: AtomicU64,
}

/// Why a checkpoint could not be opened, written or read. Each names the
/// folder or file.
///
/// ```
/// let file = std::env::temp_dir().join(format!("flotilla-ckpt-err-{}", std::process::id()));
/// std::fs::write(&file, b"a file, not a folder").unwrap();
/// let err = flotilla_local::Checkpoint::open(&file).unwrap_err();
/// assert!(matches!(err, flotilla_local::CheckpointError::Io { .. }));
/// std::fs::remove_file(&file).unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The folder or a file could not be made, written or read.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the folder or file.
        what: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// A result file does not read back whole.
    #[error("the checkpoint file {} is damaged (remove it to compute its task again)", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
    },
}

impl Checkpoint {
    /// The checkpoint kept in the folder `dir`, made if missing.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Io`] when the folder cannot be made.
    ///
    /// ```
    /// let file = std::env::temp_dir().join(format!("flotilla-ckpt-file-{}", std::process::id()));
    /// std::fs::write(&file, b"a file, not a folder").unwrap();
    /// let err = flotilla_local::Checkpoint::open(&file).unwrap_err();
    /// assert!(err.to_string().contains("checkpoint folder"), "{err}");
    /// std::fs::remove_file(&file).unwrap();
    /// ```
    pub fn open(dir: impl AsRef<Path>) -> Result<Checkpoint, CheckpointError> {
        let dir = dir.as_ref();
        let what = || format!("making the checkpoint folder {}", dir.display());
        let io = |source| CheckpointError::Io {
            what: what(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let dir = std::fs::canonicalize(dir).map_err(io)?;
        Ok(Checkpoint {
            inner: Arc::new(Inner {
                dir,
                loaded: AtomicU64::new(0),
                computed: AtomicU64::new(0),
            }),
        })
    }

    /// Its folder (absolute).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("flotilla-ckpt-dir-{}", std::process::id()));
    /// let c = flotilla_local::Checkpoint::open(&dir).unwrap();
    /// assert!(c.dir().is_absolute());
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Tasks whose result was found in the folder (and read instead of
    /// computed).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("flotilla-ckpt-loaded-{}", std::process::id()));
    /// assert_eq!(flotilla_local::Checkpoint::open(&dir).unwrap().loaded(), 0);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn loaded(&self) -> u64 {
        self.inner.loaded.load(Ordering::Relaxed)
    }

    /// Tasks that were not in the folder, and so ran (their results are
    /// written there as they finish).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("flotilla-ckpt-computed-{}", std::process::id()));
    /// assert_eq!(flotilla_local::Checkpoint::open(&dir).unwrap().computed(), 0);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn computed(&self) -> u64 {
        self.inner.computed.load(Ordering::Relaxed)
    }

    /// The file that holds (or will hold) the result under `key`.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("flotilla-ckpt-path-{}", std::process::id()));
    /// let c = flotilla_local::Checkpoint::open(&dir).unwrap();
    /// assert!(c.path_of("abc").ends_with("abc.result"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn path_of(&self, key: &str) -> PathBuf {
        self.inner.dir.join(format!("{key}.result"))
    }

    /// Whether a result is kept under `key`.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("flotilla-ckpt-has-{}", std::process::id()));
    /// let c = flotilla_local::Checkpoint::open(&dir).unwrap();
    /// assert!(!c.contains("k"));
    /// c.save("k", b"bytes").unwrap();
    /// assert!(c.contains("k"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn contains(&self, key: &str) -> bool {
        self.path_of(key).is_file()
    }

    /// Keeps `result` under `key` (replacing what was there) and counts a
    /// computed task.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Io`] naming the file.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("flotilla-ckpt-save-{}", std::process::id()));
    /// let c = flotilla_local::Checkpoint::open(&dir).unwrap();
    /// c.save("k", b"bytes").unwrap();
    /// assert_eq!(c.computed(), 1);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn save(&self, key: &str, result: &[u8]) -> Result<(), CheckpointError> {
        write_result(&self.path_of(key), result)?;
        self.count(false);
        Ok(())
    }

    /// The result kept under `key`, if any, counting a loaded task when
    /// there is one.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Damaged`] or [`CheckpointError::Io`], naming the
    /// file.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("flotilla-ckpt-load-{}", std::process::id()));
    /// let c = flotilla_local::Checkpoint::open(&dir).unwrap();
    /// assert_eq!(c.load("k").unwrap(), None);
    /// c.save("k", b"bytes").unwrap();
    /// assert_eq!(c.load("k").unwrap().as_deref(), Some(&b"bytes"[..]));
    /// assert_eq!(c.loaded(), 1);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn load(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        let path = self.path_of(key);
        if !path.is_file() {
            return Ok(None);
        }
        let result = read_result(&path)?;
        self.count(true);
        Ok(Some(result))
    }

    /// Counts a task found in the folder (`true`) or run, for a
    /// computation that reads and writes the files itself
    /// ([`read_result`], [`write_result`]), as flotilla's cluster does on
    /// its workers.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("flotilla-ckpt-count-{}", std::process::id()));
    /// let c = flotilla_local::Checkpoint::open(&dir).unwrap();
    /// c.count(true);
    /// assert_eq!((c.loaded(), c.computed()), (1, 0));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn count(&self, found: bool) {
        let counter = if found {
            &self.inner.loaded
        } else {
            &self.inner.computed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A key made from parts: the hex SHA-256 of each part with its length, so
/// that where one part ends and the next starts is part of the key.
///
/// ```
/// use flotilla_local::checkpoint::KeyHasher;
/// let key = |a: &str, b: &str| KeyHasher::new("demo").part(a.as_bytes()).part(b.as_bytes()).finish();
/// assert_eq!(key("ab", "c"), key("ab", "c"));
/// assert_ne!(key("ab", "c"), key("a", "bc"));
/// assert_eq!(key("ab", "c").len(), 64);
/// ```
#[derive(Clone)]
pub struct KeyHasher {
    hash: Sha256,
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyHasher").finish_non_exhaustive()
    }
}

impl KeyHasher {
    /// A key of the kind `domain` (keys of different domains never meet).
    ///
    /// ```
    /// use flotilla_local::checkpoint::KeyHasher;
    /// assert_ne!(KeyHasher::new("a").finish(), KeyHasher::new("b").finish());
    /// ```
    pub fn new(domain: &str) -> KeyHasher {
        KeyHasher {
            hash: Sha256::new(),
        }
        .part(b"flotilla checkpoint 1")
        .part(domain.as_bytes())
    }

    /// Adds `bytes` as the next part.
    ///
    /// ```
    /// use flotilla_local::checkpoint::KeyHasher;
    /// assert_ne!(KeyHasher::new("a").part(b"x").finish(), KeyHasher::new("a").finish());
    /// ```
    pub fn part(mut self, bytes: &[u8]) -> KeyHasher {
        self.add(bytes);
        self
    }

    /// Adds `bytes` as the next part, in place.
    ///
    /// ```
    /// use flotilla_local::checkpoint::KeyHasher;
    /// let mut k = KeyHasher::new("a");
    /// k.add(b"x");
    /// assert_eq!(k.finish(), KeyHasher::new("a").part(b"x").finish());
    /// ```
    pub fn add(&mut self, bytes: &[u8]) {
        self.hash.update((bytes.len() as u64).to_le_bytes());
        self.hash.update(bytes);
    }

    /// The key, 64 hexadecimal digits.
    ///
    /// ```
    /// use flotilla_local::checkpoint::KeyHasher;
    /// assert!(KeyHasher::new("a").finish().bytes().all(|b| b.is_ascii_hexdigit()));
    /// ```
    pub fn finish(self) -> String {
        let mut hex = String::with_capacity(64);
        for b in self.hash.finalize() {
            let _ = write!(hex, "{b:02x}");
        }
        hex
    }
}

/// Writes `result` as the checkpoint file `path`, through a temporary file
/// renamed into place.
///
/// # Errors
///
/// [`CheckpointError::Io`] naming the file.
///
/// ```
/// use flotilla_local::checkpoint::{read_result, write_result};
/// let path = std::env::temp_dir().join(format!("flotilla-ckpt-write-{}.result", std::process::id()));
/// write_result(&path, b"bytes").unwrap();
/// assert_eq!(read_result(&path).unwrap(), b"bytes");
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn write_result(path: &Path, result: &[u8]) -> Result<(), CheckpointError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = PathBuf::from(partial);
    let mut bytes = Vec::with_capacity(MAGIC.len() + 8 + result.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(result.len() as u64).to_le_bytes());
    bytes.extend_from_slice(result);
    let written = std::fs::write(&partial, &bytes).and_then(|()| std::fs::rename(&partial, path));
    written.map_err(|source| {
        let _ = std::fs::remove_file(&partial);
        CheckpointError::Io {
            what: format!("writing the checkpoint file {}", path.display()),
            source,
        }
    })
}

/// The result kept in the checkpoint file `path`.
///
/// # Errors
///
/// [`CheckpointError::Io`] when it cannot be read, and
/// [`CheckpointError::Damaged`] when it does not read back whole.
///
/// ```
/// use flotilla_local::checkpoint::read_result;
/// let path = std::env::temp_dir().join(format!("flotilla-ckpt-junk-{}.result", std::process::id()));
/// std::fs::write(&path, b"junk").unwrap();
/// assert!(read_result(&path).unwrap_err().to_string().contains("is damaged"));
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_result(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        what: format!("reading the checkpoint file {}", path.display()),
        source,
    })?;
    let damaged = || CheckpointError::Damaged {
        path: path.to_path_buf(),
    };
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(damaged)?;
    let (len, result) = rest.split_at_checked(8).ok_or_else(damaged)?;
    let len = u64::from_le_bytes(len.try_into().map_err(|_| damaged())?);
    if len != result.len() as u64 {
        return Err(damaged());
    }
    Ok(result.to_vec())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_result_file_reads_back_and_a_damaged_one_is_named() {
        let dir = std::env::temp_dir().join(format!("flotilla-ckpt-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.result");
        write_result(&path, b"result bytes").unwrap();
        assert_eq!(read_result(&path).unwrap(), b"result bytes");
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 1]).unwrap();
        let err = read_result(&path).unwrap_err().to_string();
        assert!(err.contains("k.result is damaged"), "{err}");
        std::fs::write(&path, b"junk").unwrap();
        assert!(read_result(&path)
            .unwrap_err()
            .to_string()
            .contains("damaged"));
        let err = read_result(&dir.join("missing.result"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.result"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
