//! What a run's tasks leave for the caller rather than for another task:
//! [`ForCaller`], a result no task reads, taken by the caller once the run
//! ended; [`PerTask`], one note per task that a retry replaces; and
//! [`lock`], the one way this code takes a lock.
//!
//! ```
//! use flotilla_data::caller::PerTask;
//!
//! let counters = PerTask::default();
//! counters.note(0, 10u64); // first attempt of task 0
//! counters.note(0, 12u64); // its retry replaces it
//! counters.note(1, 5u64);
//! assert_eq!(counters.take_in_order().sum::<u64>(), 17);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use flotilla_local::{TaskError, TaskValue};

/// Locks a mutex, ignoring poisoning: a panic in another task is reported
/// by the graph run; the data behind these locks stays consistent.
///
/// ```
/// use std::sync::Mutex;
/// let counts = Mutex::new(vec![0u64; 4]);
/// flotilla_data::caller::lock(&counts)[2] += 1;
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
/// use flotilla_data::caller::ForCaller;
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
    /// # use flotilla_data::caller::ForCaller;
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
    /// # use flotilla_data::caller::ForCaller;
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
/// use flotilla_data::caller::PerTask;
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
    /// # use flotilla_data::caller::PerTask;
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
    /// # use flotilla_data::caller::PerTask;
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
