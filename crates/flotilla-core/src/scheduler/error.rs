//! Reports the scheduler refuses.

use super::TaskState;
use crate::{Attempt, TaskId, WorkerId};

/// An event that does not fit the state of its task. The scheduler's state
/// is unchanged when one is returned.
///
/// ```
/// use flotilla_core::{Attempt, Finish, Placement, Scheduler, SchedulerError, TaskGraph, TaskKey, WorkerId};
/// let mut g = TaskGraph::new();
/// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
/// let b = g.add_task(TaskKey::new("b"), &[a]).unwrap();
/// let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
/// let mut out = Vec::new();
/// s.start(&mut out);
/// let err = s.task_finished(b, WorkerId::new(0), Attempt::FIRST, Finish::default(), &mut out).unwrap_err();
/// assert!(matches!(err, SchedulerError::UnexpectedEvent { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// The task id is not in the graph.
    #[error("{0} is not a task of this graph")]
    UnknownTask(TaskId),
    /// A report about an earlier try of the task than the one handed out
    /// last (a late report, after the task was given out again).
    #[error("event {event} for task {task} ({key}) was about {reported}, but the task is on {current}; refused")]
    StaleAttempt {
        /// The task.
        task: TaskId,
        /// Its key, for the message.
        key: String,
        /// What was reported.
        event: &'static str,
        /// The attempt the report was about.
        reported: Attempt,
        /// The task's current attempt.
        current: Attempt,
    },
    /// A report from a worker other than the one running the task.
    #[error("event {event} for task {task} ({key}) came from {reported}, but {running} runs it; refused")]
    WrongWorker {
        /// The task.
        task: TaskId,
        /// Its key, for the message.
        key: String,
        /// What was reported.
        event: &'static str,
        /// The worker that reported.
        reported: WorkerId,
        /// The worker that runs the task.
        running: WorkerId,
    },
    /// A report from a worker that left (or never joined): whatever it
    /// says, its task was handed out again or is no longer its to report.
    #[error(
        "event {event} for task {task} ({key}) came from {worker}, which is not present; refused"
    )]
    WorkerGone {
        /// The task.
        task: TaskId,
        /// Its key, for the message.
        key: String,
        /// What was reported.
        event: &'static str,
        /// The worker that reported.
        worker: WorkerId,
    },
    /// The worker is not present: it left, or never joined.
    #[error("{0} is not present")]
    UnknownWorker(WorkerId),
    /// The event does not fit the task's state (a stale or repeated report).
    #[error("event {event} for task {task} ({key}) in state {state:?} was refused")]
    UnexpectedEvent {
        /// The task.
        task: TaskId,
        /// Its key, for the message.
        key: String,
        /// What was reported.
        event: &'static str,
        /// The state it was in.
        state: TaskState,
    },
}
