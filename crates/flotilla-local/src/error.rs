//! The errors of running tasks.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use flotilla_core::{GraphError, SchedulerError};

/// Why a task gave no result. Every variant names the task; those about
/// user code also name its function.
///
/// The message of an error about user code leads with what the user's code
/// said (the panic's message, the error it returned); the task's key and
/// function follow in parentheses. A function path inside flotilla itself
/// (the closure a collection wraps around the user's) is left out of the
/// message: it names nothing the user wrote. The fields keep everything.
///
/// ```
/// use flotilla_local::{CpuPool, TaskError};
/// let pool = CpuPool::with_threads(1).unwrap();
/// let err = pool.submit(|| -> u32 { panic!("boom") }).result().unwrap_err();
/// assert!(matches!(err, TaskError::Panicked { .. }));
/// assert!(err.to_string().starts_with("boom (task "));
/// assert!(err.to_string().contains("panicked"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The task's function panicked; the pool caught it and carries on.
    #[error("{message} (task {task} panicked{})", user_function(function))]
    Panicked {
        /// The task's key.
        task: String,
        /// The Rust path of its function (or closure).
        function: String,
        /// The panic message.
        message: String,
    },
    /// The task's function returned an error.
    #[error("{message} (task {task} failed{})", user_function(function))]
    Failed {
        /// The task's key.
        task: String,
        /// The Rust path of its function (or closure).
        function: String,
        /// The error, as displayed.
        message: String,
    },
    /// The task's function ended with [`fail_task`](crate::fail_task): an error of the
    /// caller's own type, kept whole. Tasks that depended on it did not run
    /// and report this same error (not a [`TaskError::DependencyFailed`]),
    /// so the caller of a computation gets its typed error back.
    #[error("{error} (task {task} failed{})", user_function(function))]
    FailedWith {
        /// The key of the task that failed.
        task: String,
        /// The Rust path of its function (or closure).
        function: String,
        /// The error, with its type ([`SharedError::downcast_ref`]).
        error: SharedError,
    },
    /// The task was cancelled before it started.
    #[error("task {task} was cancelled before it started")]
    Cancelled {
        /// The task's key.
        task: String,
    },
    /// A task it depends on failed or was cancelled, so it never ran.
    #[error("{cause}; so {task} did not run")]
    DependencyFailed {
        /// The task's key.
        task: String,
        /// The key of the dependency that failed or was cancelled.
        dependency: String,
        /// Why that dependency failed.
        cause: String,
    },
    /// No result came within the time allowed (the task goes on).
    #[error("task {task} gave no result within {timeout:?}")]
    Timeout {
        /// The task's key.
        task: String,
        /// The time waited.
        timeout: Duration,
    },
    /// The result was already taken from this future.
    #[error("the result of task {task} was already taken")]
    AlreadyTaken {
        /// The task's key.
        task: String,
    },
    /// The pool shut down before the task could run.
    #[error("the pool shut down before task {task} ran")]
    PoolShutDown {
        /// The task's key.
        task: String,
    },
    /// An input of the task is not of the type the task asked for.
    #[error("task {task}: input {index} is a {found}, not the {expected} the task asked for")]
    WrongInputType {
        /// The task's key.
        task: String,
        /// Position of the input among the task's dependencies.
        index: usize,
        /// The type asked for.
        expected: &'static str,
        /// What it is.
        found: &'static str,
    },
    /// The task graph is invalid (a cycle, an unknown key, …); nothing ran.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The scheduler refused an event (a bug in a driver).
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    /// The settings asked for cannot work (named in the message).
    #[error("invalid settings: {0}")]
    InvalidSettings(String),
    /// The run report asked for cannot be written; nothing ran.
    #[error("cannot write the run report {path}: {message}")]
    Report {
        /// The report's path.
        path: String,
        /// Why.
        message: String,
    },
    /// The dashboard asked for cannot be served; nothing ran.
    #[error("cannot serve the dashboard at {addr}: {message}")]
    Dashboard {
        /// The address asked for.
        addr: String,
        /// Why.
        message: String,
    },
    /// The pool could not start its threads.
    #[error("could not start the pool's threads: {0}")]
    Spawn(String),
}

impl TaskError {
    /// The typed error a task ended with ([`fail_task`](crate::fail_task)),
    /// when this is one of type `E`.
    ///
    /// ```
    /// use flotilla_local::{Delayed, TaskError};
    /// let err = Delayed::from_fn(|| -> u8 { flotilla_local::fail_task(std::fmt::Error) })
    ///     .compute()
    ///     .unwrap_err();
    /// assert!(err.failed_with::<std::fmt::Error>().is_some());
    /// assert!(err.failed_with::<std::io::Error>().is_none());
    /// ```
    pub fn failed_with<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            TaskError::FailedWith { error, .. } => error.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// The key of the task the error is about, when there is one.
    ///
    /// ```
    /// let e = flotilla_local::TaskError::Cancelled { task: "t[1]".into() };
    /// assert_eq!(e.task(), Some("t[1]"));
    /// ```
    pub fn task(&self) -> Option<&str> {
        match self {
            TaskError::Panicked { task, .. }
            | TaskError::Failed { task, .. }
            | TaskError::FailedWith { task, .. }
            | TaskError::Cancelled { task }
            | TaskError::DependencyFailed { task, .. }
            | TaskError::Timeout { task, .. }
            | TaskError::AlreadyTaken { task }
            | TaskError::PoolShutDown { task }
            | TaskError::WrongInputType { task, .. } => Some(task),
            _ => None,
        }
    }
}

/// An error of any type, shared: what [`TaskError::FailedWith`] carries.
/// Cloning it shares the error; two are equal when they are the same error.
///
/// ```
/// use flotilla_local::SharedError;
/// let e = SharedError::new(std::io::Error::other("disk gone"));
/// assert_eq!(e.to_string(), "disk gone");
/// assert!(e.downcast_ref::<std::io::Error>().is_some());
/// assert_eq!(e.clone(), e);
/// ```
#[derive(Clone)]
pub struct SharedError(Arc<dyn std::error::Error + Send + Sync>);

impl SharedError {
    /// Shares `error`.
    ///
    /// ```
    /// let e = flotilla_local::SharedError::new(std::fmt::Error);
    /// assert!(e.downcast_ref::<std::fmt::Error>().is_some());
    /// ```
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> SharedError {
        SharedError(Arc::new(error))
    }

    /// The error as an `E`, when it is one.
    ///
    /// ```
    /// let e = flotilla_local::SharedError::new(std::fmt::Error);
    /// assert!(e.downcast_ref::<std::io::Error>().is_none());
    /// ```
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref::<E>()
    }
}

impl PartialEq for SharedError {
    fn eq(&self, other: &SharedError) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedError {}

impl fmt::Debug for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

/// ` in FUNCTION` for a function the user wrote, nothing for one of
/// flotilla's own wrappers (whose path says nothing to the user).
fn user_function(function: &str) -> String {
    let internal = function.is_empty()
        || [
            "flotilla::",
            "flotilla_local::",
            "flotilla_array::",
            "flotilla_core::",
        ]
        .iter()
        .any(|p| function.starts_with(p));
    if internal {
        String::new()
    } else {
        format!(" in {function}")
    }
}

/// The message of a caught panic payload (`panic!` with a literal or a
/// formatted message), or a placeholder for other payloads. Every part of
/// flotilla that catches user panics reports them through this.
///
/// ```
/// let caught = std::panic::catch_unwind(|| panic!("item {}", 7)).unwrap_err();
/// assert_eq!(flotilla_local::panic_message(caught.as_ref()), "item 7");
/// let literal = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
/// assert_eq!(flotilla_local::panic_message(literal.as_ref()), "plain");
/// let other = std::panic::catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
/// assert_eq!(flotilla_local::panic_message(other.as_ref()), "a panic with a non-string payload");
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

/// Whether a caught unwinding is a panic with a message (`panic!`), as
/// opposed to the engine's own unwinding ([`fail_task`](crate::fail_task),
/// [`input_consumed`](crate::input_consumed)) or a `panic_any`. Code that
/// catches user panics to add context passes the others on untouched, for
/// the engine to read.
///
/// ```
/// let caught = std::panic::catch_unwind(|| panic!("oops")).unwrap_err();
/// assert!(flotilla_local::is_panic_with_message(caught.as_ref()));
/// let other = std::panic::catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
/// assert!(!flotilla_local::is_panic_with_message(other.as_ref()));
/// ```
pub fn is_panic_with_message(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<&str>() || payload.is::<String>()
}
