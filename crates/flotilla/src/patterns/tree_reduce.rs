//! Tree reductions: fold many values into one with an associative
//! operation, combining them in rounds — `fan_in` values per task, level
//! after level — as a [`Delayed`] task graph.
//!
//! ```
//! use flotilla::patterns::tree_reduce;
//!
//! let total = tree_reduce((1..=100u64).collect(), 2, |a, b| a + b).unwrap();
//! assert_eq!(total, Some(5050));
//! ```
//!
//! # Design
//!
//! ```text
//!  level 2:              op(op(a,b), op(c,d))        e   ← carried up
//!                        ╱                  ╲
//!  level 1:        op(a,b)                op(c,d)     e   ← carried up
//!                  ╱     ╲                ╱     ╲     │
//!  leaves:        a       b              c       d    e
//! ```
//!
//! Each input item becomes a leaf ([`Delayed::value`]). Each level groups
//! the values of the level below, left to right, `fan_in` at a time; a group
//! of two or more becomes one task that folds its values from left to right
//! with `op`, and a group of one (the last, when the count does not divide)
//! is carried up to the next level as it is, without a task. Levels repeat
//! until one value remains. The tree is as shallow as `⌈log_fan_in(n)⌉`
//! levels, so with enough workers the reduction takes that many rounds of
//! `op` instead of `n - 1` in a row, and no single task ever sees more than
//! `fan_in` values — the way flotilla's collections reduce partitions,
//! instead of gathering every partition onto one thread.
//!
//! **The operation must be associative**:
//! `op(&op(&a, &b), &c) == op(&a, &op(&b, &c))`; it need not be commutative: operands always keep
//! their input order, so string concatenation or matrix products come out
//! right. An operation that is not associative (subtraction, a float sum
//! when exact rounding matters) gives a result that depends on the tree's
//! shape.
//!
//! **Counting tasks.** A tree over `n ≥ 1` leaves has `n` leaf tasks and one
//! task per group of two or more values; with `fan_in == 2` that is `n - 1`
//! internal tasks, `2n - 1` in all ([`Delayed::task_count`] shows it).
//!
//! **Running.** [`tree_reduce`] computes on the default (global) pool,
//! [`tree_reduce_with`] with the [`ComputeOptions`] given (a pool, a
//! placement policy, a progress bar), and [`tree_reduce_delayed`] only
//! builds the graph over delayed values, for use inside a larger graph.
//! A panic in `op` fails its task (named `tree_reduce[n]`, the n-th
//! combining task level by level from the leaves; `tree_reduce#2[n]` in the
//! second of two trees of one graph) and every task above it; the error
//! names the task.

use std::sync::Arc;

use flotilla_core::TaskKey;
use flotilla_local::{ComputeOptions, Delayed};

use super::PatternError;

/// The fan-in of a binary tree: two values per combining task.
///
/// ```
/// assert_eq!(flotilla::patterns::DEFAULT_FAN_IN, 2);
/// ```
pub const DEFAULT_FAN_IN: usize = 2;

/// Builds the tree reduction of `leaves` with `op`, `fan_in` values per
/// combining task, without running it: the root of the tree, or `None` for
/// no leaves. A single leaf is its own root.
///
/// # Errors
///
/// [`PatternError::FanInTooSmall`] when `fan_in < 2`.
///
/// ```
/// use flotilla::patterns::tree_reduce_delayed;
/// use flotilla::Delayed;
///
/// let leaves: Vec<Delayed<u64>> = (0..8).map(Delayed::value).collect();
/// let root = tree_reduce_delayed(&leaves, 2, |a, b| a.max(b).to_owned()).unwrap().unwrap();
/// assert_eq!(root.task_count(), 8 + 7);
/// assert_eq!(root.compute().unwrap(), 7);
/// ```
pub fn tree_reduce_delayed<T, F>(
    leaves: &[Delayed<T>],
    fan_in: usize,
    op: F,
) -> Result<Option<Delayed<T>>, PatternError>
where
    T: Send + Sync + 'static,
    F: Fn(&T, &T) -> T + Send + Sync + 'static,
{
    if fan_in < 2 {
        return Err(PatternError::FanInTooSmall { fan_in });
    }
    let op = Arc::new(op);
    // One group of keys per tree: `tree_reduce[n]` for its n-th combining
    // task, level by level, left to right. A second tree in the same graph
    // is told apart when the graph is assembled (`tree_reduce#2[n]`).
    let keys = TaskKey::indexed("tree_reduce", 0);
    let mut next = 0;
    let mut level: Vec<Delayed<T>> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(fan_in)
            .map(|group| match group {
                [single] => single.clone(),
                _ => {
                    next += 1;
                    combine(group, &op, keys.sibling(next - 1))
                }
            })
            .collect();
    }
    Ok(level.pop())
}

/// One combining task, keyed `key`: folds `group` (two or more values) from
/// left to right with `op`.
fn combine<T, F>(group: &[Delayed<T>], op: &Arc<F>, key: TaskKey) -> Delayed<T>
where
    T: Send + Sync + 'static,
    F: Fn(&T, &T) -> T + Send + Sync + 'static,
{
    let op = Arc::clone(op);
    Delayed::gather(group, move |values: &[&T]| match values {
        [first, second, rest @ ..] => rest
            .iter()
            .fold(op(first, second), |acc, value| op(&acc, value)),
        // `combine` is only called on groups of two or more.
        _ => unreachable!("a combining task always has at least two inputs"),
    })
    .named_op(key)
}

/// Reduces `items` with the associative `op` as a tree of tasks with
/// `fan_in` values per task, on the default (global) pool; `None` for no
/// items. See the [module docs](self) for the shape of the tree.
///
/// # Errors
///
/// [`PatternError::FanInTooSmall`] when `fan_in < 2`, or
/// [`PatternError::Task`] when `op` panicked (the error names the task).
///
/// ```
/// use flotilla::patterns::{tree_reduce, DEFAULT_FAN_IN};
///
/// // Associative but not commutative: the order of the words is kept.
/// let words = ["tree", " ", "reductions", " ", "keep", " ", "order"].map(String::from).to_vec();
/// let sentence = tree_reduce(words, DEFAULT_FAN_IN, |a, b| format!("{a}{b}")).unwrap();
/// assert_eq!(sentence.as_deref(), Some("tree reductions keep order"));
///
/// assert_eq!(tree_reduce(Vec::<u8>::new(), 2, |a, b| a + b).unwrap(), None);
/// ```
pub fn tree_reduce<T, F>(items: Vec<T>, fan_in: usize, op: F) -> Result<Option<T>, PatternError>
where
    T: Clone + Send + Sync + 'static,
    F: Fn(&T, &T) -> T + Send + Sync + 'static,
{
    tree_reduce_with(&ComputeOptions::new(), items, fan_in, op)
}

/// As [`tree_reduce`], computed with `options` (which pool, which placement
/// policy, whether to show progress).
///
/// # Errors
///
/// As [`tree_reduce`].
///
/// ```
/// use flotilla::patterns::tree_reduce_with;
/// use flotilla::{ComputeOptions, CpuPool};
///
/// let pool = CpuPool::with_threads(2).unwrap();
/// let options = ComputeOptions::new().pool(&pool).progress(false);
/// let product = tree_reduce_with(&options, (1..=10u64).collect(), 4, |a, b| a * b).unwrap();
/// assert_eq!(product, Some(3_628_800));
/// ```
pub fn tree_reduce_with<T, F>(
    options: &ComputeOptions,
    items: Vec<T>,
    fan_in: usize,
    op: F,
) -> Result<Option<T>, PatternError>
where
    T: Clone + Send + Sync + 'static,
    F: Fn(&T, &T) -> T + Send + Sync + 'static,
{
    if fan_in < 2 {
        return Err(PatternError::FanInTooSmall { fan_in });
    }
    let mut items = items;
    if items.len() <= 1 {
        // Nothing to combine: no graph to run.
        return Ok(items.pop());
    }
    let leaves: Vec<Delayed<T>> = items.into_iter().map(Delayed::value).collect();
    match tree_reduce_delayed(&leaves, fan_in, op)? {
        Some(root) => {
            drop(leaves);
            Ok(Some(root.compute_with(options)?))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fan_in_below_two_is_refused() {
        for fan_in in [0, 1] {
            let err = tree_reduce(vec![1, 2], fan_in, |a, b| a + b).unwrap_err();
            assert_eq!(err, PatternError::FanInTooSmall { fan_in });
            let leaves = [Delayed::value(1)];
            assert!(tree_reduce_delayed(&leaves, fan_in, |a, b| a + b).is_err());
        }
    }

    #[test]
    fn internal_tasks_are_groups_of_two_or_more() {
        // 10 leaves, fan-in 3: level 1 has groups 3,3,3,1 -> 3 tasks + 1
        // carried; level 2 has 4 values -> groups 3,1 -> 1 task + 1 carried;
        // level 3: 2 values -> 1 task. 10 + 3 + 1 + 1 = 15.
        let leaves: Vec<Delayed<u32>> = (0..10).map(Delayed::value).collect();
        let root = tree_reduce_delayed(&leaves, 3, |a, b| a + b)
            .unwrap()
            .unwrap();
        assert_eq!(root.task_count(), 15);
        assert_eq!(root.compute().unwrap(), 45);
    }
}
