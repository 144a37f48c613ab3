//! Checkpoints: task results kept in a folder, so that a run started again
//! after a crash or Ctrl-C computes only what is not there.
//!
//! A call given a [`Checkpoint`] ([`Call::checkpoint`]) is named by a key:
//! the SHA-256 of its function's name, its version ([`Call::version`]) and
//! its arguments — the bytes of each value, and for each future the key of
//! the checkpointed task it comes from. Keys chain, so a changed input or a
//! new version of a function changes the key of that task and of every
//! task downstream of it, and of nothing else.
//!
//! When the client submits such a call and the folder holds a result under
//! its key, a worker reads the result from the file instead (the built-in
//! task [`LOAD`]) and the function does not run. Otherwise the task runs,
//! and the worker that ran it writes its result into the folder (to a
//! temporary file renamed into place, so that a crash never leaves half a
//! result under a key). The folder must be one the workers can reach — the
//! same machine, or a shared file system — as input files are.
//!
//! A result file starts with a magic line and the length of what follows;
//! a file that does not (damaged, cut short) is an error that names it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::ClusterError;
use crate::protocol::messages::ClientArg;
use crate::registry::{check_arity, RemoteFunction};

#[cfg(doc)]
use crate::Call;

/// The name of the built-in task that reads a checkpointed result.
pub(crate) const LOAD: &str = "flotilla::checkpoint::load";

/// What a result file starts with.
const MAGIC: &[u8; 8] = b"FLCKPT1\n";

/// A folder of task results kept across runs.
///
/// ```
/// use flotilla_cluster::{remote, Checkpoint, Client};
///
/// #[remote(crate = flotilla_cluster)]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let dir = std::env::temp_dir().join(format!("flotilla-ckpt-doc-{}", std::process::id()));
///     for run in 0..2 {
///         let checkpoint = Checkpoint::open(&dir)?;
///         let client = Client::in_process(1)?;
///         let nine = client.submit(square::call(3).checkpoint(&checkpoint))?;
///         assert_eq!(nine.result()?, 9);
///         // The first run computes; the second reads what the first kept.
///         assert_eq!((checkpoint.computed(), checkpoint.loaded()), if run == 0 { (1, 0) } else { (0, 1) });
///     }
///     std::fs::remove_dir_all(&dir)?;
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Checkpoint {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    loaded: AtomicU64,
    computed: AtomicU64,
}

impl Checkpoint {
    /// The checkpoint kept in the folder `dir`, made if missing.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] when the folder cannot be made.
    ///
    /// ```
    /// let file = std::env::temp_dir().join(format!("flotilla-ckpt-file-{}", std::process::id()));
    /// std::fs::write(&file, b"a file, not a folder").unwrap();
    /// let err = flotilla_cluster::Checkpoint::open(&file).unwrap_err();
    /// assert!(err.to_string().contains("checkpoint folder"), "{err}");
    /// std::fs::remove_file(&file).unwrap();
    /// ```
    pub fn open(dir: impl AsRef<Path>) -> Result<Checkpoint, ClusterError> {
        let dir = dir.as_ref();
        let what = || format!("making the checkpoint folder {}", dir.display());
        std::fs::create_dir_all(dir).map_err(|e| ClusterError::io(what(), e))?;
        let dir = std::fs::canonicalize(dir).map_err(|e| ClusterError::io(what(), e))?;
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
    /// let c = flotilla_cluster::Checkpoint::open(&dir).unwrap();
    /// assert!(c.dir().is_absolute());
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Calls submitted through it whose result was found in the folder.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("flotilla-ckpt-loaded-{}", std::process::id()));
    /// assert_eq!(flotilla_cluster::Checkpoint::open(&dir).unwrap().loaded(), 0);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn loaded(&self) -> u64 {
        self.inner.loaded.load(Ordering::Relaxed)
    }

    /// Calls submitted through it that were not in the folder, and so run
    /// (their results are written there as they finish).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("flotilla-ckpt-computed-{}", std::process::id()));
    /// assert_eq!(flotilla_cluster::Checkpoint::open(&dir).unwrap().computed(), 0);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn computed(&self) -> u64 {
        self.inner.computed.load(Ordering::Relaxed)
    }

    /// The file of the result under `key`.
    pub(crate) fn path_of(&self, key: &str) -> PathBuf {
        self.inner.dir.join(format!("{key}.result"))
    }

    /// Counts a call found in the folder (`true`) or sent to run.
    pub(crate) fn count(&self, found: bool) {
        let counter = if found {
            &self.inner.loaded
        } else {
            &self.inner.computed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The key of a call of `function` at `version` with `args`, where
/// `input_key` gives the key of the task behind each future argument.
///
/// # Errors
///
/// The number of a future argument whose task has no key (it was not
/// checkpointed), so that nothing downstream of it can be named.
pub(crate) fn key_of(
    function: &str,
    version: &str,
    args: &[ClientArg],
    input_key: impl Fn(u64) -> Option<Arc<str>>,
) -> Result<String, usize> {
    let mut hash = Sha256::new();
    hash.update(b"flotilla checkpoint 1\0");
    for part in [function.as_bytes(), version.as_bytes()] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hash.update((args.len() as u64).to_le_bytes());
    for (n, arg) in args.iter().enumerate() {
        match arg {
            ClientArg::Value(bytes) => {
                hash.update([0u8]);
                hash.update((bytes.len() as u64).to_le_bytes());
                hash.update(bytes);
            }
            ClientArg::Future(id) => {
                let key = input_key(*id).ok_or(n)?;
                hash.update([1u8]);
                hash.update(key.as_bytes());
            }
        }
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `result` as the checkpoint file `path`, through a temporary file
/// renamed into place.
pub(crate) fn write_result(path: &Path, result: &[u8]) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = PathBuf::from(partial);
    let mut bytes = Vec::with_capacity(MAGIC.len() + 8 + result.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(result.len() as u64).to_le_bytes());
    bytes.extend_from_slice(result);
    let written = std::fs::write(&partial, &bytes).and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// The result kept in the checkpoint file `path`.
pub(crate) fn read_result(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("reading the checkpoint file {}: {e}", path.display()))?;
    let damaged = || {
        format!(
            "the checkpoint file {} is damaged (remove it to compute its task again)",
            path.display()
        )
    };
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(damaged)?;
    let (len, result) = rest.split_at_checked(8).ok_or_else(damaged)?;
    let len = u64::from_le_bytes(len.try_into().map_err(|_| damaged())?);
    if len != result.len() as u64 {
        return Err(damaged());
    }
    Ok(result.to_vec())
}

/// The built-in task behind a call found in a checkpoint: its one argument
/// is the file's path.
fn load(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    check_arity(args, 1, LOAD)?;
    let path: String = postcard::from_bytes(args[0])
        .map_err(|e| format!("{LOAD}: the path does not decode: {e}"))?;
    read_result(Path::new(&path))
}

inventory::submit! { RemoteFunction::new(LOAD, load) }

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn keys_change_with_every_part_and_chain_through_futures() {
        let none = |_| None;
        let args = [ClientArg::Value(vec![1, 2])];
        let base = key_of("f", "", &args, none).unwrap();
        assert_eq!(base.len(), 64);
        assert_eq!(base, key_of("f", "", &args, none).unwrap());
        assert_ne!(base, key_of("g", "", &args, none).unwrap());
        assert_ne!(base, key_of("f", "2", &args, none).unwrap());
        assert_ne!(
            base,
            key_of("f", "", &[ClientArg::Value(vec![1, 3])], none).unwrap()
        );
        // Where one part ends and the next starts is part of the key.
        assert_ne!(
            key_of("ab", "c", &[], none).unwrap(),
            key_of("a", "bc", &[], none).unwrap()
        );
        let future = [ClientArg::Future(7)];
        let a: Arc<str> = Arc::from("a");
        let b: Arc<str> = Arc::from("b");
        let on_a = key_of("f", "", &future, |_| Some(Arc::clone(&a))).unwrap();
        let on_b = key_of("f", "", &future, |_| Some(Arc::clone(&b))).unwrap();
        assert_ne!(on_a, on_b);
        assert_eq!(key_of("f", "", &future, none), Err(0));
    }

    #[test]
    fn a_result_file_reads_back_and_a_damaged_one_is_named() {
        let dir = std::env::temp_dir().join(format!("flotilla-ckpt-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.result");
        write_result(&path, b"result bytes").unwrap();
        assert_eq!(read_result(&path).unwrap(), b"result bytes");
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 1]).unwrap();
        let err = read_result(&path).unwrap_err();
        assert!(err.contains("k.result is damaged"), "{err}");
        std::fs::write(&path, b"junk").unwrap();
        assert!(read_result(&path).unwrap_err().contains("damaged"));
        let err = read_result(&dir.join("missing.result")).unwrap_err();
        assert!(err.contains("missing.result"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
