//! The scheduler's answers to events: what its driver must do.

#[cfg(doc)]
use super::Scheduler;
use crate::{Attempt, Target, TaskId, WorkerId};

/// What the scheduler asks its driver to do.
///
/// `Vec<Command>` implements [`Actions`], which is how tests record them.
///
/// ```
/// use flotilla_core::{Attempt, Command, Placement, Scheduler, TaskGraph, TaskKey, Target, WorkerId};
/// let mut g = TaskGraph::new();
/// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
/// let mut s = Scheduler::new(g, Placement::RoundRobin, 2);
/// let mut out = Vec::new();
/// s.start(&mut out);
/// let target = Target::Pinned(WorkerId::new(0));
/// assert_eq!(out, vec![Command::Run { task: a, target, attempt: Attempt::FIRST }]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Queue `task` as `target` says.
    Run {
        /// The task, now ready.
        task: TaskId,
        /// Where it goes.
        target: Target,
        /// Which try this is; reports about it must carry it.
        attempt: Attempt,
    },
    /// `task` will never run because `because` failed or was cancelled.
    Abandon {
        /// The abandoned task.
        task: TaskId,
        /// The failed or cancelled task it depends on.
        because: TaskId,
    },
    /// No task needs the result of `task` any more; its memory can go.
    Release {
        /// The task whose result can be dropped.
        task: TaskId,
    },
    /// `task`, handed out with [`Command::Run`] and not started, was
    /// cancelled: take it off the queue it waits in (or skip it when it
    /// comes up). Reports about it are refused from now on.
    Cancel {
        /// The cancelled task.
        task: TaskId,
    },
    /// Ask worker `from` to give up `task`, queued there and not started,
    /// so that idle worker `to` runs it; report the answer with
    /// [`Scheduler::steal_confirmed`] or [`Scheduler::steal_refused`].
    Steal {
        /// The queued task.
        task: TaskId,
        /// The attempt its queued copy is on.
        attempt: Attempt,
        /// The busy worker it is queued on.
        from: WorkerId,
        /// The idle worker that would run it.
        to: WorkerId,
    },
    /// Another attempt of `task` (a speculative copy, or the attempt it
    /// copied) finished first: stop `attempt` on `worker` if it has not
    /// started; whatever it reports from now on is refused.
    CancelAttempt {
        /// The task that finished.
        task: TaskId,
        /// Where the losing attempt runs.
        worker: WorkerId,
        /// The losing attempt.
        attempt: Attempt,
    },
}

/// The receiver of a scheduler's decisions (the driver).
///
/// ```
/// use flotilla_core::{Actions, Attempt, Target, TaskId, WorkerId};
/// struct Count(usize);
/// impl Actions for Count {
///     fn run(&mut self, _: TaskId, _: Target, _: Attempt) { self.0 += 1 }
///     fn abandon(&mut self, _: TaskId, _: TaskId) {}
///     fn release(&mut self, _: TaskId) {}
///     fn cancel(&mut self, _: TaskId) {}
///     fn steal(&mut self, _: TaskId, _: Attempt, _: WorkerId, _: WorkerId) {}
/// }
/// ```
pub trait Actions {
    /// Queue `task` at `target`, as try `attempt` (reports about it carry
    /// that attempt).
    fn run(&mut self, task: TaskId, target: Target, attempt: Attempt);
    /// `task` can never run because `because` failed or was cancelled.
    fn abandon(&mut self, task: TaskId, because: TaskId);
    /// The result of `task` is no longer needed.
    fn release(&mut self, task: TaskId);
    /// `task` was handed out and is cancelled before it started: drop it
    /// from its queue, or skip it when it comes up.
    fn cancel(&mut self, task: TaskId);
    /// Ask worker `from` to give up its queued copy of `task` (on
    /// `attempt`) for `to` (only drivers that turned on
    /// [`Scheduler::set_balancing`] are asked).
    fn steal(&mut self, task: TaskId, attempt: Attempt, from: WorkerId, to: WorkerId);
    /// Another attempt of `task` finished first: stop `attempt` on
    /// `worker` if it has not started (its reports are refused from now
    /// on, so a result it makes anyway is ignored). Only drivers that
    /// turned on [`Scheduler::set_speculation`] are asked; doing nothing
    /// costs only the loser's work.
    fn cancel_attempt(&mut self, task: TaskId, worker: WorkerId, attempt: Attempt) {
        let _ = (task, worker, attempt);
    }
}

impl Actions for Vec<Command> {
    fn run(&mut self, task: TaskId, target: Target, attempt: Attempt) {
        self.push(Command::Run {
            task,
            target,
            attempt,
        });
    }
    fn abandon(&mut self, task: TaskId, because: TaskId) {
        self.push(Command::Abandon { task, because });
    }
    fn release(&mut self, task: TaskId) {
        self.push(Command::Release { task });
    }
    fn cancel(&mut self, task: TaskId) {
        self.push(Command::Cancel { task });
    }
    fn steal(&mut self, task: TaskId, attempt: Attempt, from: WorkerId, to: WorkerId) {
        self.push(Command::Steal {
            task,
            attempt,
            from,
            to,
        });
    }
    fn cancel_attempt(&mut self, task: TaskId, worker: WorkerId, attempt: Attempt) {
        self.push(Command::CancelAttempt {
            task,
            worker,
            attempt,
        });
    }
}
