//! [`tree`]: the tree reduction that collections build over their
//! partitions' partial results.
//!
//! A partial result is a plain task result, `Result<A, E>`: the value, or
//! the error of the partition it came from. Each one is read by one
//! combining task and [handed over](flotilla_local::Delayed::hand_over) to
//! it, so that the combining task holds the only copy and moves the value
//! instead of cloning it ([`Delayed::gather_owned`]). Nothing is ever
//! emptied: a combining task that runs again (a retry) gets its inputs
//! computed again from lineage, and reads them as its first attempt did.
//!
//! ```
//! use std::sync::Arc;
//! use flotilla_core::TaskKey;
//! use flotilla_data::tree::{tree, Combine};
//! use flotilla_local::Delayed;
//!
//! // One leaf per partition, summed three at a time.
//! let leaves: Vec<Delayed<Result<u64, String>>> =
//!     (1..=10u64).map(|x| Delayed::from_fn(move || Ok(x)).hand_over()).collect();
//! let add: Combine<u64, String> = Arc::new(|xs: Vec<u64>| Ok(xs.into_iter().sum()));
//! let root = tree(leaves, 3, &TaskKey::new("sum-combine"), &add).unwrap();
//! assert_eq!(root.compute()?, Ok(55));
//! # Ok::<(), flotilla_local::TaskError>(())
//! ```
//!
//! [`Delayed::gather_owned`]: flotilla_local::Delayed::gather_owned

use std::sync::Arc;

use flotilla_core::TaskKey;
use flotilla_local::Delayed;

/// Combines the values of a group of partial results, in order, into one.
///
/// ```
/// use std::sync::Arc;
/// use flotilla_data::tree::Combine;
/// let longest: Combine<String, String> =
///     Arc::new(|words: Vec<String>| Ok(words.into_iter().max_by_key(|w| w.len()).unwrap_or_default()));
/// assert_eq!(longest(vec!["ab".into(), "abc".into()]).unwrap(), "abc");
/// ```
pub type Combine<A, E> = Arc<dyn Fn(Vec<A>) -> Result<A, E> + Send + Sync>;

/// Builds a tree reduction over `leaves`: groups of `fan_in` consecutive
/// partial results become one combining task each (a lone last one is
/// carried up as it is), level after level. `None` for no leaves; a single
/// leaf is its own root. Operands keep their order, so `combine` need only
/// be associative; the first error in order wins, so a failed computation
/// reports the same partition every time.
///
/// Every combining task is named a sibling of `key` (`key[0]`, `key[1]`,
/// …), takes its inputs by value and is [handed
/// over](flotilla_local::Delayed::hand_over), as its leaves must be for
/// their values to be moved rather than cloned.
///
/// ```
/// use std::sync::Arc;
/// use flotilla_core::TaskKey;
/// use flotilla_data::tree::{tree, Combine};
/// use flotilla_local::Delayed;
///
/// let concat: Combine<String, String> = Arc::new(|parts: Vec<String>| Ok(parts.concat()));
/// let key = TaskKey::new("concat");
/// let leaves = |words: &[&str]| -> Vec<Delayed<Result<String, String>>> {
///     words.iter().map(|w| Delayed::value(Ok(w.to_string())).hand_over()).collect()
/// };
/// let root = tree(leaves(&["a", "b", "c", "d", "e"]), 2, &key, &concat).unwrap();
/// assert_eq!(root.compute()?, Ok("abcde".to_string())); // operands keep their order
/// assert!(tree(leaves(&[]), 2, &key, &concat).is_none());
/// # Ok::<(), flotilla_local::TaskError>(())
/// ```
pub fn tree<A, E>(
    leaves: Vec<Delayed<Result<A, E>>>,
    fan_in: usize,
    key: &TaskKey,
    combine: &Combine<A, E>,
) -> Option<Delayed<Result<A, E>>>
where
    A: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    let fan_in = fan_in.max(2);
    let mut level = leaves;
    let mut next = 0u64;
    while level.len() > 1 {
        let mut up = Vec::with_capacity(level.len().div_ceil(fan_in));
        for group in level.chunks(fan_in) {
            if let [single] = group {
                up.push(single.clone());
                continue;
            }
            let combine = Arc::clone(combine);
            let node = Delayed::gather_owned(group, move |partials: Vec<Result<A, E>>| {
                partials
                    .into_iter()
                    .collect::<Result<Vec<A>, E>>()
                    .and_then(|values| combine(values))
            })
            .named_op(key.sibling(next))
            .hand_over();
            next += 1;
            up.push(node);
        }
        level = up;
    }
    level.pop()
}

#[cfg(test)]
mod test {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use flotilla_local::{ComputeOptions, CpuPool};

    use super::*;

    /// A combining task that fails its first attempt runs again on its
    /// inputs computed again, and the sum is that of a clean run.
    #[test]
    fn a_combining_step_run_again_gives_the_clean_result() {
        let pool = CpuPool::with_threads(2).unwrap();
        let options = ComputeOptions::new().pool(&pool).progress(false).retries(1);
        let leaves: Vec<Delayed<Result<Vec<u64>, String>>> = (0..8u64)
            .map(|x| Delayed::from_fn(move || Ok(vec![x])).hand_over())
            .collect();
        let tries = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&tries);
        let concat: Combine<Vec<u64>, String> = Arc::new(move |parts: Vec<Vec<u64>>| {
            assert!(
                seen.fetch_add(1, Ordering::SeqCst) > 0,
                "the first try fails"
            );
            Ok(parts.concat())
        });
        let root = tree(leaves, 4, &TaskKey::new("concat"), &concat).unwrap();
        assert_eq!(root.compute_with(&options).unwrap(), Ok((0..8).collect()));
        assert!(tries.load(Ordering::SeqCst) >= 4);
    }
}
