//! Checkpoints of cluster calls: a call given a [`Checkpoint`]
//! ([`Call::checkpoint`]) keeps its result in the checkpoint's folder, so
//! that a run started again after a crash or Ctrl-C computes only what is
//! not there.
//!
//! A call is named by a key: the SHA-256 of its function's name, its
//! version ([`Call::version`]) and its arguments — the bytes of each value,
//! and for each future the key of the checkpointed task it comes from. Keys
//! chain, so a changed input or a new version of a function changes the
//! key of that task and of every task downstream of it, and of nothing
//! else.
//!
//! When the client submits such a call and the folder holds a result under
//! its key, a worker reads the result from the file instead (the built-in
//! task [`LOAD`]) and the function does not run. Otherwise the task runs,
//! and the worker that ran it writes its result into the folder (see
//! [`flotilla_local::checkpoint`] for the file format). The folder must be
//! one the workers can reach — the same machine, or a shared file system —
//! as input files are.

use std::path::Path;
use std::sync::Arc;

use flotilla_local::checkpoint::{read_result, KeyHasher};

use crate::protocol::messages::ClientArg;
use crate::registry::{check_arity, RemoteFunction};

#[cfg(doc)]
use crate::{Call, Checkpoint};

/// The name of the built-in task that reads a checkpointed result.
pub(crate) const LOAD: &str = "flotilla::checkpoint::load";

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
    let mut key = KeyHasher::new("call");
    key.add(function.as_bytes());
    key.add(version.as_bytes());
    key.add(&(args.len() as u64).to_le_bytes());
    for (n, arg) in args.iter().enumerate() {
        match arg {
            ClientArg::Value(bytes) => {
                key.add(&[0]);
                key.add(bytes);
            }
            ClientArg::Future(id) => {
                key.add(&[1]);
                key.add(input_key(*id).ok_or(n)?.as_bytes());
            }
        }
    }
    Ok(key.finish())
}

/// A key given whole ([`Call::checkpoint_as`]) as it names its file: as
/// it is, if it is made of ASCII letters, digits, `-` and `_` (at most 200).
///
/// # Errors
///
/// What is wrong with it.
pub(crate) fn given_key(given: &str) -> Result<String, String> {
    let fits = !given.is_empty()
        && given.len() <= 200
        && given
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fits {
        Ok(given.to_string())
    } else {
        Err(format!(
            "the checkpoint key {given:?} names a file: use 1 to 200 ASCII letters, digits, '-' \
             and '_'"
        ))
    }
}

/// The built-in task behind a call found in a checkpoint: its one argument
/// is the file's path.
fn load(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    check_arity(args, 1, LOAD)?;
    let path: String = postcard::from_bytes(args[0])
        .map_err(|e| format!("{LOAD}: the path does not decode: {e}"))?;
    read_result(Path::new(&path)).map_err(|e| e.to_string())
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
}
