//! A scheduler that lives across graphs: tasks added while others run, and
//! results the caller no longer wants released.
//!
//! A long-lived driver (a cluster's scheduler serving clients, a session
//! that submits futures) keeps one [`Scheduler`] and adds tasks to it with
//! [`Scheduler::add_task`]; a new task may read any task already there —
//! running, finished, or one the caller still holds — so a future can be
//! the argument of a later task. A new task reading a result that was
//! already released has that result computed again from lineage. A task
//! nothing reads is kept for the caller until [`Scheduler::release_result`]
//! says it is no longer wanted.
//!
//! The graph grows in place: a driver that adds tasks reads the graph
//! through [`Scheduler::graph`] rather than holding its own `Arc` of it
//! (which would make each addition copy the graph).

use std::sync::Arc;

use super::{Actions, Scheduler, TaskState, NO_WORKER};
use crate::{GraphError, TaskId, TaskKey, TaskOptions};

impl Scheduler {
    /// Adds a task reading `deps` (tasks already in this scheduler). If the
    /// run started, the task is handed out as soon as its inputs exist —
    /// at once when they are all finished; an input already released is
    /// computed again first; an input that failed or was cancelled
    /// abandons it. Its result is kept until released with
    /// [`Scheduler::release_result`] or read by a later task.
    ///
    /// # Errors
    ///
    /// As [`TaskGraph::add_task`](crate::TaskGraph::add_task): a dependency
    /// that is not in the scheduler, or too many tasks. Nothing changes.
    ///
    /// ```
    /// use flotilla_core::{Attempt, Command, Finish, Placement, Scheduler, TaskGraph, TaskKey, TaskOptions, TaskState, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let x = g.add_task(TaskKey::new("x"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// s.task_finished(x, WorkerId::new(0), Attempt::FIRST, Finish::default(), &mut out).unwrap();
    /// assert!(s.is_done());
    /// out.clear();
    /// // A later task takes x's result (a future) as its argument.
    /// let y = s.add_task(TaskKey::new("y"), &[x], TaskOptions::default(), &mut out).unwrap();
    /// assert!(matches!(out[0], Command::Run { task, .. } if task == y));
    /// assert!(!s.is_done());
    /// ```
    pub fn add_task(
        &mut self,
        key: TaskKey,
        deps: &[TaskId],
        options: TaskOptions,
        out: &mut impl Actions,
    ) -> Result<TaskId, GraphError> {
        let task = Arc::make_mut(&mut self.graph).add_task_with(key, deps, options)?;
        let i = task.index();
        let last = self.dependent_offsets[i];
        self.dependent_offsets.push(last);
        self.unfinished_dependents.push(0);
        self.unfinished_deps.push(0);
        self.state.push(TaskState::Waiting);
        self.site.push(NO_WORKER);
        self.result_bytes.push(0);
        self.keep.push(true);
        self.counts.total += 1;
        if self.added_dependents.len() < self.state.len() {
            self.added_dependents
                .resize_with(self.state.len(), Vec::new);
        }
        let mut released = Vec::new();
        let mut missing = 0;
        for &d in deps {
            self.added_dependents[d.index()].push(task);
            self.unfinished_dependents[d.index()] += 1;
            match self.state[d.index()] {
                TaskState::Finished if self.site[d.index()] != NO_WORKER => {}
                // Counted by the recomputation below, which makes every
                // reader of the released result wait for it again.
                TaskState::Finished => {
                    if !released.contains(&d) {
                        released.push(d);
                    }
                }
                _ => missing += 1,
            }
        }
        self.unfinished_deps[i] = missing;
        if !released.is_empty() {
            self.recompute(released, out);
        }
        if self.state[i] == TaskState::Waiting {
            if self.unfinished_deps[i] > 0 {
                // An input that failed or was cancelled abandons it now,
                // started or not.
                self.wait_or_abandon(task, out);
            } else if self.started {
                self.make_ready(task, None, out);
            }
        }
        Ok(task)
    }

    /// The caller no longer wants the result of `task`: once no task reads
    /// it, it is released ([`Command::Release`](super::Command::Release)) —
    /// at once when it is finished and unread. Returns whether `task` was
    /// kept for the caller.
    ///
    /// ```
    /// use flotilla_core::{Attempt, Command, Finish, Placement, Scheduler, TaskGraph, TaskKey, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let x = g.add_task(TaskKey::new("x"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// s.task_finished(x, WorkerId::new(0), Attempt::FIRST, Finish::default(), &mut out).unwrap();
    /// out.clear();
    /// assert!(s.release_result(x, &mut out));
    /// assert_eq!(out, [Command::Release { task: x }]);
    /// assert!(!s.release_result(x, &mut out));
    /// ```
    pub fn release_result(&mut self, task: TaskId, out: &mut impl Actions) -> bool {
        let i = task.index();
        match self.keep.get_mut(i) {
            Some(k) if *k => *k = false,
            _ => return false,
        }
        if self.state[i] == TaskState::Finished
            && self.site[i] != NO_WORKER
            && self.unfinished_dependents[i] == 0
        {
            self.release(task, out);
        }
        true
    }
}

#[cfg(test)]
mod test {
    use super::super::test_support;
    use super::*;
    use crate::{Attempt, Command, Placement, TaskGraph, WorkerId};

    /// Finishes `t` on worker 0, with no size reported.
    fn finish(s: &mut Scheduler, t: TaskId, out: &mut Vec<Command>) {
        test_support::finish(s, t, 0, 0, out);
    }

    /// a → b, run to the end: a's result is released. A later task
    /// reading a has it computed again; one reading b (kept) runs at once.
    #[test]
    fn a_later_task_reads_kept_results_and_recomputes_released_ones() {
        let mut g = TaskGraph::new();
        let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
        let b = g.add_task(TaskKey::new("b"), &[a]).unwrap();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
        let mut out = Vec::new();
        s.start(&mut out);
        finish(&mut s, a, &mut out);
        finish(&mut s, b, &mut out);
        assert!(out.contains(&Command::Release { task: a }));
        out.clear();
        let c = s
            .add_task(TaskKey::new("c"), &[b], TaskOptions::default(), &mut out)
            .unwrap();
        assert!(matches!(out[..], [Command::Run { task, .. }] if task == c));
        out.clear();
        let d = s
            .add_task(TaskKey::new("d"), &[a, c], TaskOptions::default(), &mut out)
            .unwrap();
        // a runs again (new attempt); d waits for it and for c.
        assert!(
            matches!(out[..], [Command::Run { task, attempt, .. }] if task == a && attempt == Attempt::FIRST.next())
        );
        assert_eq!(s.state(d), TaskState::Waiting);
        finish(&mut s, a, &mut out);
        finish(&mut s, c, &mut out);
        assert_eq!(s.state(d), TaskState::Ready);
        finish(&mut s, d, &mut out);
        assert!(s.is_done());
        assert_eq!(s.counts().total, 4);
        // a is released again once d read it; c, b and d are the caller's
        // until released (b now).
        assert!(s.release_result(b, &mut out));
        assert_eq!(test_support::released(&out), [a, b]);
    }

    #[test]
    fn a_task_added_before_the_start_reading_a_cancelled_task_is_abandoned() {
        let mut g = TaskGraph::new();
        let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
        let mut out = Vec::new();
        assert!(s.cancel(a, &mut out));
        let x = s
            .add_task(TaskKey::new("x"), &[a], TaskOptions::default(), &mut out)
            .unwrap();
        s.start(&mut out);
        assert_eq!(s.state(x), TaskState::Abandoned { because: a });
        assert!(s.is_done());
    }

    #[test]
    fn a_task_added_after_a_failure_it_reads_is_abandoned() {
        let mut g = TaskGraph::new();
        let bad = g.add_task(TaskKey::new("bad"), &[]).unwrap();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
        let mut out = Vec::new();
        s.start(&mut out);
        s.task_failed(
            bad,
            WorkerId::new(0),
            Attempt::FIRST,
            crate::FailureKind::Error,
            &mut out,
        )
        .unwrap();
        let late = s
            .add_task(
                TaskKey::new("late"),
                &[bad],
                TaskOptions::default(),
                &mut out,
            )
            .unwrap();
        assert_eq!(s.state(late), TaskState::Abandoned { because: bad });
        assert!(s.is_done());
        assert!(s
            .add_task(
                TaskKey::new("x"),
                &[TaskId::new(99)],
                TaskOptions::default(),
                &mut out
            )
            .is_err());
        assert_eq!(s.counts().total, 2);
    }
}
