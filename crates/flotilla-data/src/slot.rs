//! [`Slot`]: a task's result handed over, once, to the task that consumes
//! it; and [`tree`], the tree reduction that collections build from slots.
//!
//! Beside them, the two ways a run's tasks leave something for the caller
//! rather than for another task ([`ForCaller`], [`PerTask`]), and [`lock`],
//! the one way this code takes a lock.
//!
//! ```
//! use std::sync::Arc;
//! use flotilla_core::TaskKey;
//! use flotilla_data::slot::{tree, Combine, InternalError, Slot};
//! use flotilla_local::Delayed;
//!
//! #[derive(Debug)]
//! struct Bug(String);
//! impl InternalError for Bug {
//!     fn internal(message: &str) -> Bug {
//!         Bug(message.to_string())
//!     }
//! }
//!
//! // One leaf per partition, summed three at a time.
//! let leaves: Vec<Delayed<Slot<u64, Bug>>> =
//!     (1..=10u64).map(|x| Delayed::value(Slot::ok(x)).hand_over()).collect();
//! let add: Combine<u64, Bug> = Arc::new(|xs: Vec<u64>| Ok(xs.into_iter().sum()));
//! let root = tree(leaves, 3, &TaskKey::new("sum-combine"), &add).unwrap();
//! let total = root.map(|slot: &Slot<u64, Bug>| slot.take().unwrap()).compute()?;
//! assert_eq!(total, 55);
//! # Ok::<(), flotilla_local::TaskError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use flotilla_core::TaskKey;
use flotilla_local::{Delayed, TaskError, TaskValue};

/// An error type that can report a broken invariant of a collection's own
/// graph (a bug in flotilla, not in the user's data).
///
/// ```
/// use flotilla_data::slot::{InternalError, Slot};
///
/// #[derive(Debug, PartialEq)]
/// enum MyError {
///     Internal(String),
/// }
/// impl InternalError for MyError {
///     fn internal(message: &str) -> MyError {
///         MyError::Internal(message.to_string())
///     }
/// }
///
/// let slot = Slot::<u8, MyError>::ok(1);
/// assert_eq!(slot.take(), Ok(1));
/// assert!(matches!(slot.take(), Err(MyError::Internal(_)))); // taken twice: a bug
/// ```
pub trait InternalError {
    /// The error that reports `message`, a broken invariant.
    ///
    /// ```
    /// # use flotilla_data::slot::InternalError;
    /// struct Bug(String);
    /// impl InternalError for Bug {
    ///     fn internal(message: &str) -> Bug {
    ///         Bug(format!("internal error: {message}"))
    ///     }
    /// }
    /// assert_eq!(Bug::internal("x").0, "internal error: x");
    /// ```
    fn internal(message: &str) -> Self;
}

/// An error that is its message: an internal error is that message.
///
/// ```
/// use flotilla_data::slot::InternalError;
/// assert_eq!(String::internal("a piece is missing"), "a piece is missing");
/// ```
impl InternalError for String {
    fn internal(message: &str) -> String {
        message.to_string()
    }
}

/// A task's result, or the error of the partition it came from, held for
/// the one task that consumes it and moves it out (a combining step of a
/// tree reduction, a reducer, the final collect) — so partial results are
/// never cloned.
///
/// Each computation runs every task anew, so a slot is filled once per
/// computation; a collection only hands a slot node to one consumer, and
/// every slot node is [handed over](flotilla_local::Delayed::hand_over) to
/// it: if the consumer runs again (a retry), the scheduler computes the
/// slot again from lineage rather than giving it the emptied one.
///
/// ```
/// use flotilla_data::slot::{InternalError, Slot};
/// # #[derive(Debug, PartialEq)]
/// # struct Bug;
/// # impl InternalError for Bug { fn internal(_: &str) -> Bug { Bug } }
///
/// let partial = Slot::<Vec<u32>, Bug>::ok(vec![1, 2, 3]);
/// let moved: Vec<u32> = partial.take()?; // no clone
/// assert_eq!(moved, [1, 2, 3]);
/// # Ok::<(), Bug>(())
/// ```
pub struct Slot<A, E>(Mutex<Option<Result<A, E>>>);

impl<A, E: InternalError> Slot<A, E> {
    /// A slot holding `result`, a value or the error of its partition.
    ///
    /// ```
    /// # use flotilla_data::slot::{InternalError, Slot};
    /// # #[derive(Debug, PartialEq)]
    /// # struct Bug(&'static str);
    /// # impl InternalError for Bug { fn internal(_: &str) -> Bug { Bug("internal") } }
    /// let failed = Slot::<u8, Bug>::new(Err(Bug("partition 3 failed")));
    /// assert_eq!(failed.take(), Err(Bug("partition 3 failed")));
    /// ```
    pub fn new(result: Result<A, E>) -> Slot<A, E> {
        Slot(Mutex::new(Some(result)))
    }

    /// A slot holding `value`.
    ///
    /// ```
    /// # use flotilla_data::slot::{InternalError, Slot};
    /// # #[derive(Debug, PartialEq)]
    /// # struct Bug;
    /// # impl InternalError for Bug { fn internal(_: &str) -> Bug { Bug } }
    /// assert_eq!(Slot::<u8, Bug>::ok(7).take(), Ok(7));
    /// ```
    pub fn ok(value: A) -> Slot<A, E> {
        Slot::new(Ok(value))
    }

    /// Moves the result out.
    ///
    /// # Errors
    ///
    /// The error the slot holds, or [`InternalError::internal`] when the
    /// result was already taken.
    ///
    /// ```
    /// # use flotilla_data::slot::{InternalError, Slot};
    /// # #[derive(Debug, PartialEq)]
    /// # struct Bug;
    /// # impl InternalError for Bug { fn internal(_: &str) -> Bug { Bug } }
    /// let slot = Slot::<String, Bug>::ok("partial".to_string());
    /// assert_eq!(slot.take().as_deref(), Ok("partial"));
    /// assert_eq!(slot.take(), Err(Bug));
    /// ```
    pub fn take(&self) -> Result<A, E> {
        lock(&self.0).take().unwrap_or_else(|| {
            Err(E::internal(
                "a partial result was consumed twice in one computation",
            ))
        })
    }
}

impl<A, E> fmt::Debug for Slot<A, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Slot")
    }
}

/// Locks a mutex, ignoring poisoning: a panic in another task is reported
/// by the graph run; the data behind these locks stays consistent.
///
/// ```
/// use std::sync::Mutex;
/// let counts = Mutex::new(vec![0u64; 4]);
/// flotilla_data::slot::lock(&counts)[2] += 1;
/// assert_eq!(counts.into_inner().unwrap(), [0, 0, 1, 0]);
/// ```
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A task's result that no task reads, taken by the caller once the run
/// ended (so that it need only be `Send`): a reduce task's records, a
/// scattered part's result.
///
/// ```
/// use flotilla_core::TaskKey;
/// use flotilla_data::slot::ForCaller;
/// use flotilla_local::{ComputeOptions, Graph, TaskError};
///
/// let mut graph = Graph::new();
/// graph.insert("records", [] as [TaskKey; 0], |_| {
///     Ok::<_, TaskError>(ForCaller::new(vec!["a", "b"]))
/// });
/// let (outcomes, _) = graph.compute_many_with(&["records".into()], &ComputeOptions::new())?;
/// let outcome = outcomes.into_iter().next().unwrap()?;
/// let records: Vec<&str> = ForCaller::take(&outcome, "records")?;
/// assert_eq!(records, ["a", "b"]);
/// # Ok::<(), TaskError>(())
/// ```
pub struct ForCaller<T>(Mutex<Option<T>>);

impl<T: Send + 'static> ForCaller<T> {
    /// Holds `value` for the caller.
    ///
    /// ```
    /// # use flotilla_data::slot::ForCaller;
    /// let counts = ForCaller::new(vec![3u64, 1]);
    /// # let _ = counts;
    /// ```
    pub fn new(value: T) -> ForCaller<T> {
        ForCaller(Mutex::new(Some(value)))
    }

    /// Takes the value out of `result`, the result of task `task`.
    ///
    /// # Errors
    ///
    /// [`TaskError::Failed`] naming `task` when `result` holds no
    /// `ForCaller<T>`, or its value was already taken.
    ///
    /// ```
    /// # use flotilla_data::slot::ForCaller;
    /// # use flotilla_local::TaskValue;
    /// # use std::sync::Arc;
    /// let result: TaskValue = Arc::new(ForCaller::new(5u32));
    /// assert_eq!(ForCaller::<u32>::take(&result, "part[0]"), Ok(5));
    /// assert!(ForCaller::<u32>::take(&result, "part[0]").is_err()); // taken once
    /// ```
    pub fn take(result: &TaskValue, task: &str) -> Result<T, TaskError> {
        result
            .downcast_ref::<ForCaller<T>>()
            .and_then(|own| lock(&own.0).take())
            .ok_or_else(|| TaskError::Failed {
                task: task.to_string(),
                function: String::new(),
                message: "its result was missing after the run".to_string(),
            })
    }
}

/// What the tasks of a run note for the caller, one entry per task by its
/// index (a map task's counters, say): an attempt that runs again replaces
/// its entry, so a task that ran twice is counted once.
///
/// ```
/// use flotilla_data::slot::PerTask;
///
/// let counters = PerTask::default();
/// counters.note(1, "second task");
/// counters.note(0, "first attempt");
/// counters.note(0, "first task, retried");
/// let seen: Vec<&str> = counters.take_in_order().collect();
/// assert_eq!(seen, ["first task, retried", "second task"]);
/// ```
pub struct PerTask<T>(Mutex<BTreeMap<usize, T>>);

impl<T> fmt::Debug for ForCaller<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ForCaller")
    }
}

impl<T> fmt::Debug for PerTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PerTask")
    }
}

impl<T> Default for PerTask<T> {
    fn default() -> Self {
        PerTask(Mutex::new(BTreeMap::new()))
    }
}

impl<T> PerTask<T> {
    /// Notes `value` for task `index`, replacing what an earlier attempt
    /// noted.
    ///
    /// ```
    /// # use flotilla_data::slot::PerTask;
    /// let records = PerTask::default();
    /// records.note(4, 120u64);
    /// records.note(4, 118u64); // a retry replaces the first attempt's
    /// assert_eq!(records.take_in_order().sum::<u64>(), 118);
    /// ```
    pub fn note(&self, index: usize, value: T) {
        lock(&self.0).insert(index, value);
    }

    /// Every entry, in task order, taken out.
    ///
    /// ```
    /// # use flotilla_data::slot::PerTask;
    /// let notes = PerTask::default();
    /// notes.note(2, 'c');
    /// notes.note(0, 'a');
    /// assert_eq!(notes.take_in_order().collect::<String>(), "ac");
    /// assert_eq!(notes.take_in_order().count(), 0); // taken out
    /// ```
    pub fn take_in_order(&self) -> impl Iterator<Item = T> {
        std::mem::take(&mut *lock(&self.0)).into_values()
    }
}

/// Combines the values of a group of slots, in order, into one.
///
/// ```
/// use std::sync::Arc;
/// use flotilla_data::slot::{Combine, InternalError};
/// # #[derive(Debug)]
/// # struct Bug;
/// # impl InternalError for Bug { fn internal(_: &str) -> Bug { Bug } }
/// let longest: Combine<String, Bug> =
///     Arc::new(|words: Vec<String>| Ok(words.into_iter().max_by_key(|w| w.len()).unwrap_or_default()));
/// assert_eq!(longest(vec!["ab".into(), "abc".into()]).unwrap(), "abc");
/// ```
pub type Combine<A, E> = Arc<dyn Fn(Vec<A>) -> Result<A, E> + Send + Sync>;

/// Builds a tree reduction over `leaves`: groups of `fan_in` consecutive
/// slots become one combining task each (a lone last slot is carried up as
/// it is), level after level. `None` for no leaves; a single leaf is its
/// own root. Operands keep their order, so `combine` need only be
/// associative; the first error in order wins, so a failed computation
/// reports the same partition every time.
///
/// Every combining task is named a sibling of `key` (`key[0]`, `key[1]`,
/// …) and [handed over](flotilla_local::Delayed::hand_over), as its leaves
/// must be.
///
/// ```
/// use std::sync::Arc;
/// use flotilla_core::TaskKey;
/// use flotilla_data::slot::{tree, Combine, InternalError, Slot};
/// use flotilla_local::Delayed;
/// # #[derive(Debug, PartialEq)]
/// # struct Bug(String);
/// # impl InternalError for Bug { fn internal(m: &str) -> Bug { Bug(m.to_string()) } }
///
/// let concat: Combine<String, Bug> = Arc::new(|parts: Vec<String>| Ok(parts.concat()));
/// let key = TaskKey::new("concat");
/// let leaves = |words: &[&str]| -> Vec<Delayed<Slot<String, Bug>>> {
///     words.iter().map(|w| Delayed::value(Slot::ok(w.to_string())).hand_over()).collect()
/// };
/// let root = tree(leaves(&["a", "b", "c", "d", "e"]), 2, &key, &concat).unwrap();
/// let text = root.map(|s: &Slot<String, Bug>| s.take().unwrap()).compute()?;
/// assert_eq!(text, "abcde"); // operands keep their order
/// assert!(tree(leaves(&[]), 2, &key, &concat).is_none());
/// # Ok::<(), flotilla_local::TaskError>(())
/// ```
pub fn tree<A, E>(
    leaves: Vec<Delayed<Slot<A, E>>>,
    fan_in: usize,
    key: &TaskKey,
    combine: &Combine<A, E>,
) -> Option<Delayed<Slot<A, E>>>
where
    A: Send + 'static,
    E: InternalError + Send + 'static,
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
            let node = Delayed::gather(group, move |slots: &[&Slot<A, E>]| {
                let values: Result<Vec<A>, E> = slots.iter().map(|s| s.take()).collect();
                Slot::new(values.and_then(|v| combine(v)))
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
