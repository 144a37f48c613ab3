//! The states a task goes through, and how many tasks are in each.

#[cfg(doc)]
use super::{FailureKind, Scheduler};
#[cfg(doc)]
use crate::Attempt;
use crate::{TaskId, WorkerId};

/// The state of one task.
///
/// # Transitions
///
/// ```text
///                    all dependencies finished
///   ┌─────────┐  ─────────────────────────────▶  ┌───────┐  task_started  ┌─────────┐
///   │ Waiting │                                   │ Ready │ ─────────────▶ │ Running │
///   └─────────┘                                   └───────┘                └─────────┘
///     │    │ a dependency failed                   │   │                     │    │
///     │    └──────────────▶ ┌───────────┐ ◀────────┘   │ task_finished       │    │
///     │                     │ Abandoned │              │ (drivers may skip   │    │
///     │ cancel              └───────────┘              │  task_started)      │    │
///     ▼                                                ▼                     │    │
///   ┌───────────┐ ◀── cancel (before it starts) ─── ┌──────────┐ ◀───────────┘    │
///   │ Cancelled │                                   │ Finished │                  │
///   └───────────┘                                   └──────────┘    task_failed   │
///                                                   ┌──────────┐ ◀────────────────┘
///                                                   │  Failed  │ (also from Ready)
///                                                   └──────────┘
/// ```
///
/// A failure or a cancellation abandons every task that depends on it,
/// transitively; events that do not fit a task's state are refused.
///
/// A failed attempt is not always final: `task_failed` with an error or a
/// panic while the task has retries left ([`TaskOptions::retries`]), or
/// with [`FailureKind::WorkerLost`] while fewer than
/// [`Scheduler::suspicious_after`] workers were lost under it, puts the
/// task back to `Ready` on its next [`Attempt`]; reports about the earlier
/// attempt are refused from then on.
///
/// When a worker leaves ([`Scheduler::remove_worker`]), a finished task
/// whose result lived only there and is still needed goes back to
/// `Waiting` (or straight to `Ready`) to be computed again, and a ready
/// task whose input was lost waits again; both on a new attempt.
///
/// [`TaskOptions::retries`]: crate::TaskOptions::retries
/// ```
/// use flotilla_core::TaskState;
/// assert!(TaskState::Finished.is_terminal());
/// assert!(!TaskState::Ready.is_terminal());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskState {
    /// Some dependency has not finished.
    Waiting,
    /// Every dependency finished; the task was handed to a queue.
    Ready,
    /// A worker started it.
    Running(WorkerId),
    /// It finished and its result exists.
    Finished,
    /// It failed (error or panic).
    Failed,
    /// It was cancelled before it started.
    Cancelled,
    /// It can never run: a task it depends on failed or was cancelled.
    Abandoned {
        /// The task whose failure or cancellation caused this.
        because: TaskId,
    },
}

impl TaskState {
    /// Whether the task will never change state again.
    ///
    /// ```
    /// assert!(flotilla_core::TaskState::Cancelled.is_terminal());
    /// ```
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            TaskState::Finished
                | TaskState::Failed
                | TaskState::Cancelled
                | TaskState::Abandoned { .. }
        )
    }
}

/// How many tasks are in each kind of state.
///
/// ```
/// let c = flotilla_core::TaskCounts::default();
/// assert_eq!(c.finished + c.failed, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// Tasks in the graph.
    pub total: usize,
    /// Finished successfully.
    pub finished: usize,
    /// Failed themselves.
    pub failed: usize,
    /// Cancelled before they started.
    pub cancelled: usize,
    /// Abandoned because a dependency failed or was cancelled.
    pub abandoned: usize,
    /// Attempts that failed and were tried again (not a state: a task
    /// tried three times counts 2 here).
    pub retried: usize,
    /// Speculative copies launched of running tasks (see
    /// [`Scheduler::plan_copies`](crate::Scheduler::plan_copies)).
    pub copied: usize,
    /// Of those, copies that finished before the attempt they copied.
    pub copies_won: usize,
}

impl TaskCounts {
    /// Tasks that reached a terminal state.
    ///
    /// ```
    /// let c = flotilla_core::TaskCounts { total: 3, finished: 1, failed: 1, ..Default::default() };
    /// assert_eq!(c.done(), 2);
    /// ```
    pub fn done(&self) -> usize {
        self.finished + self.failed + self.cancelled + self.abandoned
    }
}
