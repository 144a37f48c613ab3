//! [`Slot`]: a task's result handed over, once, to the task that consumes
//! it; and [`tree`], the tree reduction that collections build from slots.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use flotilla_core::TaskKey;
use flotilla_local::{Delayed, TaskError, TaskValue};

/// An error type that can report a broken invariant of a collection's own
/// graph (a bug in flotilla, not in the user's data).
pub trait InternalError {
    /// The error that reports `message`, a broken invariant.
    fn internal(message: &str) -> Self;
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
pub struct Slot<A, E>(Mutex<Option<Result<A, E>>>);

impl<A, E: InternalError> Slot<A, E> {
    /// A slot holding `result`, a value or the error of its partition.
    pub fn new(result: Result<A, E>) -> Slot<A, E> {
        Slot(Mutex::new(Some(result)))
    }

    /// A slot holding `value`.
    pub fn ok(value: A) -> Slot<A, E> {
        Slot::new(Ok(value))
    }

    /// Moves the result out.
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
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A task's result that no task reads, taken by the caller once the run
/// ended (so that it need only be `Send`): a reduce task's records, a
/// scattered part's result.
pub struct ForCaller<T>(Mutex<Option<T>>);

impl<T: Send + 'static> ForCaller<T> {
    /// Holds `value` for the caller.
    pub fn new(value: T) -> ForCaller<T> {
        ForCaller(Mutex::new(Some(value)))
    }

    /// Takes the value out of `result`, the result of task `task`.
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
    pub fn note(&self, index: usize, value: T) {
        lock(&self.0).insert(index, value);
    }

    /// Every entry, in task order, taken out.
    pub fn take_in_order(&self) -> impl Iterator<Item = T> {
        std::mem::take(&mut *lock(&self.0)).into_values()
    }
}

/// Combines the values of a group of slots, in order, into one.
pub type Combine<A, E> = Arc<dyn Fn(Vec<A>) -> Result<A, E> + Send + Sync>;

/// Builds a tree reduction over `leaves`: groups of `fan_in` consecutive
/// slots become one combining task each (a lone last slot is carried up as
/// it is), level after level. `None` for no leaves; a single leaf is its
/// own root. Operands keep their order, so `combine` need only be
/// associative; the first error in order wins, so a failed computation
/// reports the same partition every time.
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
