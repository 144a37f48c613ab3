//! A worker leaves: what ran there runs again, and what lived only there is
//! computed again from lineage.
//!
//! When a worker leaves (its process died, its machine was taken away, it
//! was retired), three kinds of task are affected:
//!
//! * tasks **running** on it lose their attempt, as a failure of kind
//!   [`FailureKind::WorkerLost`]: they get a new attempt elsewhere unless
//!   they have now lost [`Scheduler::suspicious_after`] workers, in which
//!   case they fail as suspicious (a task that kills its workers must not
//!   take every worker down);
//! * tasks **queued** on it are placed again, on a new attempt, without
//!   counting against them;
//! * **finished** tasks whose result lived only there and is still needed
//!   (a dependent has not finished, or the caller keeps it) go back to
//!   waiting, with the inputs they read again: an input whose result was
//!   released or lost too is computed again as well, up the lineage until
//!   results that still exist. The dependency counts are restored, so a
//!   dependent that was ready waits again (on a new attempt, so that a
//!   copy of it already queued somewhere is refused when it reports).
//!
//! A recomputation that can never succeed — an input it needs failed for
//! good meanwhile — abandons the task and its dependents, so every run
//! still ends.

use super::{Actions, FailureKind, Scheduler, SchedulerError, TaskState, NO_WORKER};
use crate::{Attempt, TaskId, WorkerId};

/// What a worker's leaving changed.
///
/// ```
/// let loss = flotilla_core::WorkerLoss::default();
/// assert_eq!(loss.requeued + loss.recomputed, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerLoss {
    /// Tasks that were queued or running there and were handed out again
    /// (or failed as suspicious).
    pub requeued: usize,
    /// Finished tasks whose results were lost (or released and needed
    /// again) and that are computed again.
    pub recomputed: usize,
}

impl Scheduler {
    /// `worker` left. Its running tasks lose their attempt, its queued
    /// tasks are placed again, and the results that lived only there and
    /// are still needed are computed again (see the module docs); reports
    /// from it are refused from now on.
    ///
    /// A task counts as running there only once `task_started` reported
    /// it: a driver whose workers may leave reports every start, or a task
    /// taken from another worker's queue would be thought still queued
    /// where it was placed.
    ///
    /// # Errors
    ///
    /// [`SchedulerError::UnknownWorker`] when `worker` is not present; the
    /// scheduler is unchanged.
    ///
    /// ```
    /// use flotilla_core::{Attempt, Command, Finish, Placement, Scheduler, TaskGraph, TaskKey, TaskState, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let b = g.add_task(TaskKey::new("b"), &[a]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 2);
    /// let (w0, w1) = (WorkerId::new(0), WorkerId::new(1));
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// s.task_finished(a, w0, Attempt::FIRST, Finish::default(), &mut out).unwrap();
    /// s.task_started(b, w1, Attempt::FIRST).unwrap();
    /// out.clear();
    /// // a's result lived on worker 0 and b still needs it... but b already
    /// // started on worker 1. Worker 1 leaves: b runs again, and so does a,
    /// // whose result is still on worker 0.
    /// let loss = s.remove_worker(w1, &mut out).unwrap();
    /// assert_eq!(loss.requeued, 1);
    /// assert_eq!(s.attempt(b), Attempt::FIRST.next());
    /// assert!(out.contains(&Command::Run { task: b, target: flotilla_core::Target::Stealable(w0), attempt: Attempt::FIRST.next() }));
    /// // Worker 0 leaves too: a's result is gone and b needs it.
    /// s.remove_worker(w0, &mut out).unwrap();
    /// assert_eq!(s.state(a), TaskState::Ready);
    /// assert_eq!(s.state(b), TaskState::Waiting);
    /// ```
    pub fn remove_worker(
        &mut self,
        worker: WorkerId,
        out: &mut impl Actions,
    ) -> Result<WorkerLoss, SchedulerError> {
        if !self.workers.leave(worker) {
            return Err(SchedulerError::UnknownWorker(worker));
        }
        self.placer.remove_worker(worker);
        let gone = worker.index() as u32;
        let n = self.state.len();
        let mut loss = WorkerLoss::default();

        // The results that lived there and are still needed.
        let mut lost = Vec::new();
        for i in 0..n {
            if self.state[i] == TaskState::Finished && self.site[i] == gone {
                self.site[i] = NO_WORKER;
                if self.unfinished_dependents[i] > 0 || self.keep[i] {
                    lost.push(TaskId::new(i as u32));
                }
            }
        }
        loss.recomputed = self.recompute(lost, out);

        // Steals asked of it will not be answered.
        if let Some(steals) = self.steals.as_mut() {
            steals.forget_worker(worker);
        }

        // Speculative copies that ran there are gone; tasks copied from
        // there go on as their copies.
        self.copies_on_lost_worker(worker);

        // What ran or was queued there goes elsewhere, highest priority
        // first.
        let mut moved: Vec<TaskId> = (0..n)
            .filter(|&i| match self.state[i] {
                TaskState::Running(w) => w == worker,
                TaskState::Ready => self.site[i] == gone,
                _ => false,
            })
            .map(|i| TaskId::new(i as u32))
            .collect();
        self.sort_by_priority(&mut moved);
        loss.requeued = moved.len();
        for task in moved {
            let i = task.index();
            match self.state[i] {
                // (Earlier moves may have abandoned it meanwhile.)
                TaskState::Running(w) if w == worker => {
                    self.attempt_failed(task, FailureKind::WorkerLost, out);
                }
                TaskState::Ready if self.site[i] == gone => {
                    self.unqueue(task);
                    self.new_attempt(task);
                    if self.unfinished_deps[i] == 0 {
                        self.make_ready(task, None, out);
                    } else {
                        self.wait_or_abandon(task, out);
                    }
                }
                _ => {}
            }
        }

        Ok(loss)
    }

    /// Computes again the finished tasks `lost`, whose results exist no
    /// more (their `site` is already cleared), with every released input
    /// they read, up the lineage to results that exist: they go back to
    /// waiting on new attempts, counts restored, their waiting readers
    /// wait for them again, and those whose inputs exist are handed out.
    /// Returns how many tasks are computed again.
    pub(super) fn recompute(&mut self, lost: Vec<TaskId>, out: &mut impl Actions) -> usize {
        let n = self.state.len();
        let mut redo = lost;
        let mut in_redo = vec![false; n];
        for t in &redo {
            in_redo[t.index()] = true;
        }
        let mut next = 0;
        while next < redo.len() {
            let t = redo[next];
            next += 1;
            for &d in self.graph.dependencies(t) {
                let j = d.index();
                if self.state[j] == TaskState::Finished && self.site[j] == NO_WORKER && !in_redo[j]
                {
                    in_redo[j] = true;
                    redo.push(d);
                }
            }
        }

        // They are no longer finished, and each reads its inputs again.
        for &t in &redo {
            self.state[t.index()] = TaskState::Waiting;
            self.counts.finished -= 1;
            self.new_attempt(t);
        }
        for &t in &redo {
            let mut missing = 0;
            for &d in self.graph.dependencies(t) {
                self.unfinished_dependents[d.index()] += 1;
                if self.state[d.index()] != TaskState::Finished {
                    missing += 1;
                }
            }
            self.unfinished_deps[t.index()] = missing;
        }
        // Dependents wait for the result again; a ready one goes back to
        // waiting.
        for &t in &redo {
            for k in 0..self.dependent_count(t) {
                let d = self.dependent_at(t, k);
                if in_redo[d.index()] {
                    continue;
                }
                // A task's count is the number of its inputs not finished,
                // whatever its own state: the finish to come takes it back.
                self.unfinished_deps[d.index()] += 1;
                if self.state[d.index()] == TaskState::Ready {
                    // The copy already handed out must not run.
                    out.cancel(d);
                    self.unqueue(d);
                    self.state[d.index()] = TaskState::Waiting;
                    self.new_attempt(d);
                }
            }
        }

        // Recomputations start where their inputs exist; one whose input
        // failed for good meanwhile can never run.
        let mut ready = Vec::new();
        for &t in &redo {
            if self.state[t.index()] != TaskState::Waiting {
                continue;
            }
            if self.unfinished_deps[t.index()] == 0 {
                ready.push(t);
            } else {
                self.wait_or_abandon(t, out);
            }
        }
        self.sort_by_priority(&mut ready);
        for t in ready {
            // One abandoned above may have left another without readers:
            // that one was cancelled, not readied.
            if self.state[t.index()] == TaskState::Waiting {
                self.make_ready(t, None, out);
            }
        }
        redo.len()
    }

    /// `task` must wait for inputs that are not finished: it waits if they
    /// may still finish, and is abandoned (with everything downstream) if
    /// one of them failed, was cancelled or was abandoned — which happens
    /// when an input had to be computed again and failed for good.
    pub(super) fn wait_or_abandon(&mut self, task: TaskId, out: &mut impl Actions) {
        let dead_input = self.graph.dependencies(task).iter().copied().find(|d| {
            matches!(
                self.state[d.index()],
                TaskState::Failed | TaskState::Cancelled | TaskState::Abandoned { .. }
            )
        });
        match dead_input {
            None => self.state[task.index()] = TaskState::Waiting,
            Some(d) => {
                let because = match self.state[d.index()] {
                    TaskState::Abandoned { because } => because,
                    _ => d,
                };
                self.state[task.index()] = TaskState::Abandoned { because };
                self.counts.abandoned += 1;
                out.abandon(task, because);
                self.inputs_done(task, out);
                self.abandon_dependents(task, because, out);
            }
        }
    }

    /// `task`, handed out on `attempt` to `worker`, found the result of its
    /// input `input` gone: the driver dropped it (say, once the last reader
    /// had started, to hand that reader the only copy) and `task` is running
    /// again. The result is computed again from lineage, as for a lost
    /// worker, and `task` waits for it on a new attempt (this one does not
    /// count as a failure).
    ///
    /// # Errors
    ///
    /// [`SchedulerError::UnknownTask`] for a task or input not in the
    /// graph; [`SchedulerError::UnexpectedEvent`] when `input` is not an
    /// input of `task` or has no finished result (it is already being
    /// computed again: the report is about an attempt that was replaced);
    /// the errors of a finish report for a stale attempt, the wrong worker
    /// or a task not handed out. Nothing changes then.
    ///
    /// ```
    /// use flotilla_core::{Attempt, Command, Finish, Placement, Scheduler, TaskGraph, TaskKey, TaskState, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let b = g.add_task(TaskKey::new("b"), &[a]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
    /// let w = WorkerId::new(0);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// s.task_finished(a, w, Attempt::FIRST, Finish::default(), &mut out).unwrap();
    /// out.clear();
    /// s.input_lost(b, w, Attempt::FIRST, a, &mut out).unwrap();
    /// assert_eq!(s.state(b), TaskState::Waiting);
    /// assert!(matches!(out[..], [Command::Cancel { task }, Command::Run { task: again, .. }] if task == b && again == a));
    /// s.task_finished(a, w, s.attempt(a), Finish::default(), &mut out).unwrap();
    /// assert_eq!(s.state(b), TaskState::Ready);
    /// ```
    pub fn input_lost(
        &mut self,
        task: TaskId,
        worker: WorkerId,
        attempt: Attempt,
        input: TaskId,
        out: &mut impl Actions,
    ) -> Result<(), SchedulerError> {
        self.check_report(task, worker, attempt, "input lost")?;
        let unexpected = |s: &Scheduler| SchedulerError::UnexpectedEvent {
            task: input,
            key: s.graph.key(input).to_string(),
            event: "lost as an input",
            state: s.state[input.index()],
        };
        if input.index() >= self.state.len() {
            return Err(SchedulerError::UnknownTask(input));
        }
        if !self.graph.dependencies(task).contains(&input)
            || self.state[input.index()] != TaskState::Finished
        {
            return Err(unexpected(self));
        }
        let was_running = matches!(self.state[task.index()], TaskState::Running(_));
        if was_running {
            // It stopped: it waits on a new attempt (the recomputation below
            // counts the input as missing for every reader, and makes a ready
            // one wait the same way).
            self.unqueue(task);
            self.state[task.index()] = TaskState::Waiting;
            self.new_attempt(task);
        }
        self.site[input.index()] = NO_WORKER;
        self.recompute(vec![input], out);
        if was_running && self.state[task.index()] == TaskState::Waiting {
            // Another input may have failed for good while it ran.
            self.wait_or_abandon(task, out);
        }
        Ok(())
    }

    /// Moves `task` to its next attempt, so that reports about the current
    /// one are refused.
    pub(super) fn new_attempt(&mut self, task: TaskId) {
        let tries = self.tries.entry(task).or_default();
        tries.attempt = tries.attempt.next();
    }
}

#[cfg(test)]
mod test {
    use super::super::test_support;
    use super::*;
    use crate::{Attempt, Command, Finish, Placement, Target, TaskGraph, TaskKey};

    /// Finishes `t` on worker `w` with a 10-byte result.
    fn finish(s: &mut Scheduler, t: TaskId, w: u32, out: &mut Vec<Command>) {
        test_support::finish(s, t, w, 10, out);
    }

    /// a → b → c: a's result was released once b finished; b's lived on
    /// the worker that leaves while c has not run. b must run again, and a
    /// before it.
    #[test]
    fn a_lost_result_is_computed_again_up_to_results_that_exist() {
        let mut g = TaskGraph::new();
        let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
        let b = g.add_task(TaskKey::new("b"), &[a]).unwrap();
        let c = g.add_task(TaskKey::new("c"), &[b]).unwrap();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 2);
        let mut out = Vec::new();
        s.start(&mut out);
        finish(&mut s, a, 0, &mut out);
        finish(&mut s, b, 1, &mut out);
        assert!(out.contains(&Command::Release { task: a }));
        out.clear();
        let loss = s.remove_worker(WorkerId::new(1), &mut out).unwrap();
        assert_eq!(loss.recomputed, 2);
        assert_eq!(s.state(a), TaskState::Ready);
        assert_eq!(s.state(b), TaskState::Waiting);
        assert_eq!(s.state(c), TaskState::Waiting);
        assert_eq!(s.counts().finished, 0);
        // c was queued on worker 1: its copy is cancelled. b's
        // recomputation needs a: only a is handed out, on a new attempt, to
        // the worker that is left.
        assert_eq!(
            out,
            [
                Command::Cancel { task: c },
                Command::Run {
                    task: a,
                    target: Target::Stealable(WorkerId::new(0)),
                    attempt: Attempt::FIRST.next()
                }
            ]
        );
        out.clear();
        finish(&mut s, a, 0, &mut out);
        finish(&mut s, b, 0, &mut out);
        finish(&mut s, c, 0, &mut out);
        assert!(s.is_done());
        assert_eq!(s.counts().finished, 3);
        // a and b released once each for their second results; c kept.
        assert_eq!(test_support::released(&out), [a, b]);
    }

    /// A task becomes ready next to the worker that holds the most bytes
    /// of its inputs, not the worker whose finish made it ready.
    #[test]
    fn a_task_goes_where_most_of_its_input_lives() {
        let mut g = TaskGraph::new();
        let big = g.add_task(TaskKey::new("big"), &[]).unwrap();
        let small = g.add_task(TaskKey::new("small"), &[]).unwrap();
        let join = g.add_task(TaskKey::new("join"), &[big, small]).unwrap();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 3);
        let mut out = Vec::new();
        s.start(&mut out);
        s.task_finished(
            big,
            WorkerId::new(2),
            Attempt::FIRST,
            Finish::new(Default::default(), 1 << 20),
            &mut out,
        )
        .unwrap();
        out.clear();
        s.task_finished(
            small,
            WorkerId::new(0),
            Attempt::FIRST,
            Finish::new(Default::default(), 10),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            [Command::Run {
                task: join,
                target: Target::Stealable(WorkerId::new(2)),
                attempt: Attempt::FIRST
            }]
        );
        assert_eq!(s.queued_on(WorkerId::new(2)), 1);
    }

    /// A recomputation whose input failed for good meanwhile is abandoned,
    /// and the run still ends.
    #[test]
    fn a_recomputation_that_cannot_run_is_abandoned() {
        let mut g = TaskGraph::new();
        let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
        let b = g.add_task(TaskKey::new("b"), &[a]).unwrap();
        let c = g.add_task(TaskKey::new("c"), &[a, b]).unwrap();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 3);
        s.set_suspicious_after(1);
        let mut out = Vec::new();
        s.start(&mut out);
        finish(&mut s, a, 0, &mut out);
        s.task_started(b, WorkerId::new(1), Attempt::FIRST).unwrap();
        // a's result is lost; b, running on worker 1, goes on.
        s.remove_worker(WorkerId::new(0), &mut out).unwrap();
        assert_eq!(s.state(a), TaskState::Ready);
        s.task_started(a, WorkerId::new(2), s.attempt(a)).unwrap();
        // a's recomputation runs on worker 2, which dies: a fails as
        // suspicious. b finished before that.
        finish(&mut s, b, 1, &mut out);
        s.remove_worker(WorkerId::new(2), &mut out).unwrap();
        assert_eq!(s.state(a), TaskState::Failed);
        assert_eq!(s.state(c), TaskState::Abandoned { because: a });
        assert!(s.is_done());
    }
}
