//! [`TaskErrors`]: the typed errors of a run's tasks, kept beside the
//! scheduler.
//!
//! A collection (a MapReduce job, a map-reduce pattern, a bag) runs as a
//! task graph on the scheduler core, which decides on retries from
//! [`TaskError`]s: a task that fails is a task failure the scheduler sees.
//! The collection's caller wants the collection's own error back, with its
//! type (a bad record's file and line, a spill's path), also when the task
//! the caller asked for did not run because an input failed. So each
//! attempt runs through [`TaskErrors::attempt`], which notes the typed error
//! under the task's key (a later attempt replaces it; a success removes it)
//! and hands the scheduler a [`TaskError`]; after the run
//! [`TaskErrors::error_of`] turns the error of an output — its own, or the
//! failed dependency it names — back into the typed one.
//!
//! ```
//! use flotilla_core::TaskKey;
//! use flotilla_data::task_errors::{TaskErrors, TypedTaskError};
//! use flotilla_local::{ComputeOptions, Graph, TaskError};
//! use std::sync::Arc;
//!
//! #[derive(Debug, thiserror::Error)]
//! enum JobError {
//!     #[error("bad record on line {0}")]
//!     BadRecord(u64),
//!     #[error(transparent)]
//!     Task(#[from] TaskError),
//! }
//! impl TypedTaskError for JobError {
//!     fn as_task_error(&self) -> Option<&TaskError> {
//!         match self {
//!             JobError::Task(e) => Some(e),
//!             _ => None,
//!         }
//!     }
//! }
//!
//! let errors = Arc::new(TaskErrors::<JobError>::default());
//! let mut graph = Graph::new();
//! let in_task = Arc::clone(&errors);
//! graph.insert("map[0]", [] as [TaskKey; 0], move |_| {
//!     in_task.attempt(&TaskKey::indexed("map", 0), "my_mapper", || Err::<u64, _>(JobError::BadRecord(7)))
//! });
//! graph.insert("reduce[0]", ["map[0]"], |inputs| Ok::<_, TaskError>(*inputs.get::<u64>(0)?));
//! let (outcomes, _) = graph.compute_many_with(&["reduce[0]".into()], &ComputeOptions::new())?;
//! let failed = outcomes.into_iter().next().unwrap().unwrap_err(); // map[0] failed
//! assert!(matches!(errors.error_of(failed), JobError::BadRecord(7)));
//! # Ok::<(), TaskError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

use flotilla_core::TaskKey;
use flotilla_local::{panic_message, TaskError};

use crate::caller::lock;

/// An error a collection's tasks fail with, which may be a [`TaskError`].
///
/// ```
/// use flotilla_data::task_errors::TypedTaskError;
/// use flotilla_local::TaskError;
///
/// let cancelled = TaskError::Cancelled { task: "map[0]".into() };
/// assert_eq!(cancelled.as_task_error(), Some(&cancelled));
/// ```
pub trait TypedTaskError: From<TaskError> + fmt::Display + Send + 'static {
    /// The task error inside, when the error is one.
    ///
    /// ```
    /// # use flotilla_data::task_errors::TypedTaskError;
    /// # use flotilla_local::TaskError;
    /// let error = TaskError::InvalidSettings("no inputs".into());
    /// assert!(error.as_task_error().is_some());
    /// ```
    fn as_task_error(&self) -> Option<&TaskError>;
}

impl TypedTaskError for TaskError {
    fn as_task_error(&self) -> Option<&TaskError> {
        Some(self)
    }
}

/// The typed error of each task's last failed attempt, by task key.
///
/// ```
/// use flotilla_core::TaskKey;
/// use flotilla_data::task_errors::TaskErrors;
/// use flotilla_local::TaskError;
///
/// let errors = TaskErrors::<TaskError>::default();
/// let key = TaskKey::indexed("map", 1);
/// let first: Result<(), _> = errors.attempt(&key, "f", || Err(TaskError::InvalidSettings("x".into())));
/// assert!(first.is_err());
/// assert_eq!(errors.attempt(&key, "f", || Ok(2)), Ok(2)); // the retry succeeded
/// ```
pub struct TaskErrors<E> {
    errors: Mutex<HashMap<String, E>>,
}

impl<E> fmt::Debug for TaskErrors<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskErrors")
    }
}

impl<E> Default for TaskErrors<E> {
    fn default() -> Self {
        TaskErrors {
            errors: Mutex::new(HashMap::new()),
        }
    }
}

impl<E: TypedTaskError> TaskErrors<E> {
    fn errors(&self) -> MutexGuard<'_, HashMap<String, E>> {
        lock(&self.errors)
    }

    /// Runs one attempt of task `key`, whose user code is `function`: a
    /// typed error (a caught panic included) is noted, and the scheduler
    /// gets the [`TaskError`] it decides on. A panic goes on unwinding, so
    /// the scheduler counts it as a panic.
    ///
    /// # Errors
    ///
    /// The [`TaskError`] inside the typed error, or a
    /// [`TaskError::Failed`] that carries its message.
    ///
    /// ```
    /// # use flotilla_core::TaskKey;
    /// # use flotilla_data::task_errors::TaskErrors;
    /// # use flotilla_local::TaskError;
    /// let errors = TaskErrors::<TaskError>::default();
    /// let key = TaskKey::indexed("reduce", 0);
    /// assert_eq!(errors.attempt(&key, "sum", || Ok::<_, TaskError>(3)), Ok(3));
    /// ```
    pub fn attempt<T>(
        &self,
        key: &TaskKey,
        function: &'static str,
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, TaskError> {
        let name = key.to_string();
        let outcome = match catch_unwind(AssertUnwindSafe(work)) {
            Ok(outcome) => outcome,
            // An unwinding without a message is the engine's own
            // ([`fail_task`](flotilla_local::fail_task),
            // [`input_consumed`](flotilla_local::input_consumed)): passed on
            // untouched, for the engine to read.
            Err(payload) if !flotilla_local::is_panic_with_message(&*payload) => {
                self.errors().remove(&name);
                resume_unwind(payload)
            }
            Err(payload) => {
                let error = TaskError::Panicked {
                    task: name.clone(),
                    function: function.to_string(),
                    message: panic_message(payload.as_ref()),
                };
                self.errors().insert(name, E::from(error));
                resume_unwind(payload)
            }
        };
        match outcome {
            Ok(value) => {
                self.errors().remove(&name);
                Ok(value)
            }
            Err(error) => {
                let for_scheduler = match error.as_task_error() {
                    Some(task_error) => task_error.clone(),
                    None => TaskError::Failed {
                        task: name.clone(),
                        function: function.to_string(),
                        message: error.to_string(),
                    },
                };
                self.errors().insert(name, error);
                Err(for_scheduler)
            }
        }
    }

    /// The typed error behind `error`, the error of an output of the run:
    /// that of the task it names, or of the failed dependency it names; or
    /// `error` itself when no attempt noted one.
    ///
    /// ```
    /// # use flotilla_data::task_errors::TaskErrors;
    /// # use flotilla_local::TaskError;
    /// let errors = TaskErrors::<TaskError>::default();
    /// let cancelled = TaskError::Cancelled { task: "map[0]".into() };
    /// assert_eq!(errors.error_of(cancelled.clone()), cancelled); // nothing noted
    /// ```
    pub fn error_of(&self, error: TaskError) -> E {
        let culprit = match &error {
            TaskError::DependencyFailed { dependency, .. } => dependency.clone(),
            other => other.task().unwrap_or_default().to_string(),
        };
        self.errors()
            .remove(&culprit)
            .unwrap_or_else(|| E::from(error))
    }
}

/// A collection's error type, told apart by where an error comes from:
/// the machine (a file that cannot be read or written: trying again may
/// succeed) or the data (a malformed line: every attempt fails the same
/// way). See [`settle`].
///
/// ```
/// use flotilla_data::task_errors::CollectionError;
///
/// #[derive(Debug, Clone, thiserror::Error)]
/// enum MyError {
///     #[error("disk: {0}")]
///     Disk(String),
///     #[error("bad record")]
///     BadRecord,
/// }
/// impl CollectionError for MyError {
///     fn is_environmental(&self) -> bool {
///         matches!(self, MyError::Disk(_))
///     }
/// }
/// assert!(MyError::Disk("full".into()).is_environmental());
/// ```
pub trait CollectionError: std::error::Error + Clone + Send + Sync + 'static {
    /// Whether the error comes from the machine rather than the data.
    fn is_environmental(&self) -> bool;
}

/// What a collection's task leaves for the tasks after it. An error of the
/// machine ([`CollectionError::is_environmental`]) ends the task with
/// [`fail_task`](flotilla_local::fail_task): a failure the scheduler sees,
/// retried per the computation's retries, the work that needed it not
/// started, and given back whole to the caller
/// ([`TaskError::failed_with`]). An error of the data is the same on every
/// attempt: it stays a value, reported where the collection says (a bag:
/// the first bad partition in partition order).
///
/// ```
/// use flotilla_data::task_errors::{settle, CollectionError};
/// use flotilla_local::Delayed;
///
/// #[derive(Debug, Clone, PartialEq, thiserror::Error)]
/// enum MyError {
///     #[error("disk full")]
///     Disk,
///     #[error("bad record")]
///     BadRecord,
/// }
/// impl CollectionError for MyError {
///     fn is_environmental(&self) -> bool {
///         *self == MyError::Disk
///     }
/// }
///
/// // Data errors stay values.
/// let bad = Delayed::from_fn(|| settle::<u8, _>(Err(MyError::BadRecord)));
/// assert_eq!(bad.compute().unwrap(), Err(MyError::BadRecord));
/// // Errors of the machine fail the task, and come back typed.
/// let full = Delayed::from_fn(|| settle::<u8, _>(Err(MyError::Disk)));
/// assert_eq!(full.compute().unwrap_err().failed_with::<MyError>(), Some(&MyError::Disk));
/// ```
pub fn settle<A, E: CollectionError>(result: Result<A, E>) -> Result<A, E> {
    match result {
        Err(e) if e.is_environmental() => flotilla_local::fail_task(e),
        other => other,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_failed_attempt_is_noted_and_a_later_success_forgets_it() {
        let errors = TaskErrors::<TaskError>::default();
        let key = TaskKey::indexed("map", 3);
        let failed: Result<(), _> = errors.attempt(&key, "f", || {
            Err(TaskError::InvalidSettings("not yet".into()))
        });
        assert_eq!(failed, Err(TaskError::InvalidSettings("not yet".into())));
        let downstream = TaskError::DependencyFailed {
            task: "reduce[0]".into(),
            dependency: "map[3]".into(),
            cause: "not yet".into(),
        };
        assert_eq!(
            errors.error_of(downstream.clone()),
            TaskError::InvalidSettings("not yet".into())
        );
        let _: Result<(), _> =
            errors.attempt(&key, "f", || Err(TaskError::InvalidSettings("x".into())));
        assert_eq!(errors.attempt(&key, "f", || Ok(1)), Ok(1));
        assert_eq!(errors.error_of(downstream.clone()), downstream);
    }

    #[test]
    fn a_panic_is_noted_and_still_unwinds() {
        let errors = TaskErrors::<TaskError>::default();
        let key = TaskKey::new("boom");
        let unwound = catch_unwind(AssertUnwindSafe(|| {
            errors.attempt(&key, "my::f", || -> Result<(), TaskError> { panic!("no") })
        }));
        assert!(unwound.is_err());
        let own = TaskError::Cancelled {
            task: "boom".into(),
        };
        match errors.error_of(own) {
            TaskError::Panicked {
                task,
                function,
                message,
            } => assert_eq!(
                (task.as_str(), function.as_str(), message.as_str()),
                ("boom", "my::f", "no")
            ),
            other => panic!("{other:?}"),
        }
    }
}
