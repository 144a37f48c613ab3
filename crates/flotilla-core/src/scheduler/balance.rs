//! Moving queued tasks from busy workers to idle ones, decided by the core.
//!
//! A driver whose workers hold their own queues out of the scheduler's
//! reach (worker processes of a cluster) turns this on with
//! [`Scheduler::set_balancing`]. It then calls [`Scheduler::plan_steals`]
//! when a worker runs dry (or on a timer): for each present worker with
//! nothing queued, the core picks the victim with
//! [`steal_victim`](crate::balance::steal_victim) — the decision the
//! in-process pool and the simulator make — and the task queued there
//! longest, and answers with a [`Command::Steal`]. The driver asks the
//! victim to give the task up and reports the answer:
//! [`Scheduler::steal_confirmed`] (the task is handed to the thief on a new
//! attempt, so a late report from the victim is refused) or
//! [`Scheduler::steal_refused`] (the victim started it meanwhile; nothing
//! changes). A task with a steal pending is not offered again.
//!
//! Only stealable placements ([`Target::Stealable`]) move; pinned tasks
//! stay where their static policy put them.

use std::collections::VecDeque;

#[cfg(any(doc, test))]
use super::Command;
use super::{Actions, Scheduler, SchedulerError, TaskState};
use crate::balance::steal_victim;
use crate::{Attempt, Target, TaskId, WorkerId};

/// Per worker, the stealable tasks placed there in order. Entries go stale
/// (the task started, ended or moved) and are dropped when met.
#[derive(Debug, Clone, Default)]
pub(super) struct StealQueues {
    queues: Vec<VecDeque<(TaskId, Attempt)>>,
    /// Tasks with a steal asked and not yet answered.
    pending: Vec<TaskId>,
}

impl StealQueues {
    pub(super) fn push(&mut self, worker: WorkerId, task: TaskId, attempt: Attempt) {
        let w = worker.index();
        if self.queues.len() <= w {
            self.queues.resize_with(w + 1, VecDeque::new);
        }
        self.queues[w].push_back((task, attempt));
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.queues
            .iter()
            .map(|q| q.capacity() * std::mem::size_of::<(TaskId, Attempt)>())
            .sum::<usize>()
            + self.pending.capacity() * 4
    }
}

impl Scheduler {
    /// Turns core-decided balancing on or off (off by default: the
    /// in-process pool steals by itself). While on, the scheduler keeps the
    /// order of each worker's stealable tasks.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph};
    /// let mut s = Scheduler::new(TaskGraph::new(), Placement::WorkStealing, 2);
    /// s.set_balancing(true);
    /// ```
    pub fn set_balancing(&mut self, on: bool) {
        self.steals = on.then(StealQueues::default);
    }

    /// Plans steals for the workers that have nothing queued: at most one
    /// [`Command::Steal`] per idle worker, from the victim the core's
    /// decision names, of the task queued there longest. Returns how many
    /// were planned (always 0 while balancing is off).
    ///
    /// ```
    /// use flotilla_core::{Attempt, Command, Placement, Scheduler, TaskGraph, TaskKey, Target, WorkerId, WorkerOffer};
    /// let mut g = TaskGraph::new();
    /// let tasks: Vec<_> = (0..3).map(|i| g.add_task(TaskKey::indexed("t", i), &[]).unwrap()).collect();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
    /// s.set_balancing(true);
    /// let mut out = Vec::new();
    /// s.start(&mut out);                       // all three queue on worker 0
    /// let idle = s.add_worker(WorkerOffer::new(1), &mut out);
    /// out.clear();
    /// assert_eq!(s.plan_steals(&mut out), 1);
    /// let from = WorkerId::new(0);
    /// assert_eq!(out, [Command::Steal { task: tasks[0], from, to: idle }]);
    /// out.clear();
    /// s.steal_confirmed(tasks[0], from, idle, &mut out).unwrap();
    /// let attempt = Attempt::FIRST.next();
    /// assert_eq!(out, [Command::Run { task: tasks[0], target: Target::Stealable(idle), attempt }]);
    /// assert_eq!(s.queued_on(idle), 1);
    /// assert_eq!(s.queued_on(from), 2);
    /// ```
    pub fn plan_steals(&mut self, out: &mut impl Actions) -> usize {
        let Some(mut steals) = self.steals.take() else {
            return 0;
        };
        let n = self.workers.len();
        steals.queues.resize_with(n, VecDeque::new);
        // Drop the stale entries at the front of every queue.
        for (w, q) in steals.queues.iter_mut().enumerate() {
            while let Some(&(t, a)) = q.front() {
                if self.is_stealable(t, a, w as u32, &steals.pending) {
                    break;
                }
                q.pop_front();
            }
        }
        let mut loads: Vec<usize> = (0..n)
            .map(|w| {
                let worker = WorkerId::new(w as u32);
                if self.workers.is_present(worker) {
                    steals.queues[w].len()
                } else {
                    0
                }
            })
            .collect();
        let idle: Vec<WorkerId> = self
            .workers
            .present()
            .filter(|w| self.workers.queued(*w) == 0)
            .collect();
        let mut planned = 0;
        for thief in idle {
            while let Some(victim) = steal_victim(thief, &loads) {
                let v = victim.index();
                let q = &mut steals.queues[v];
                let mut found = None;
                while let Some((t, a)) = q.pop_front() {
                    if self.is_stealable(t, a, v as u32, &steals.pending) {
                        found = Some(t);
                        break;
                    }
                }
                loads[v] = q.len();
                if let Some(task) = found {
                    steals.pending.push(task);
                    out.steal(task, victim, thief);
                    planned += 1;
                    break;
                }
            }
        }
        self.steals = Some(steals);
        planned
    }

    fn is_stealable(
        &self,
        task: TaskId,
        attempt: Attempt,
        worker: u32,
        pending: &[TaskId],
    ) -> bool {
        self.state[task.index()] == TaskState::Ready
            && self.site[task.index()] == worker
            && self.attempt(task) == attempt
            && !pending.contains(&task)
    }

    /// The victim gave `task` up: it goes to `to` on a new attempt (a
    /// [`Command::Run`]), and a late report from the victim is refused.
    ///
    /// # Errors
    ///
    /// [`SchedulerError::UnexpectedEvent`] when no steal of `task` from
    /// `from` is pending, or the task is no longer ready there (it ended or
    /// `from` left meanwhile); [`SchedulerError::UnknownWorker`] when `to`
    /// left (the task stays where it was). Nothing changes either way.
    ///
    /// See [`Scheduler::plan_steals`] for an example.
    pub fn steal_confirmed(
        &mut self,
        task: TaskId,
        from: WorkerId,
        to: WorkerId,
        out: &mut impl Actions,
    ) -> Result<(), SchedulerError> {
        let pending = self
            .steals
            .as_ref()
            .is_some_and(|s| s.pending.contains(&task));
        let i = task.index();
        let in_place =
            self.state.get(i) == Some(&TaskState::Ready) && self.site[i] == from.index() as u32;
        if !pending || !in_place {
            self.steal_refused(task);
            return Err(SchedulerError::UnexpectedEvent {
                task,
                key: self.graph.key(task).to_string(),
                event: "steal confirmed",
                state: self.state.get(i).copied().unwrap_or(TaskState::Waiting),
            });
        }
        if !self.workers.is_present(to) {
            self.steal_refused(task);
            return Err(SchedulerError::UnknownWorker(to));
        }
        self.steal_refused(task);
        self.unqueue(task);
        self.new_attempt(task);
        let attempt = self.attempt(task);
        let site = to.index() as u32;
        self.site[i] = site;
        self.workers.queue(site);
        if let Some(s) = self.steals.as_mut() {
            s.push(to, task, attempt);
        }
        out.run(task, Target::Stealable(to), attempt);
        Ok(())
    }

    /// The victim refused to give `task` up (it started it): the steal is
    /// forgotten and nothing else changes.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, TaskId};
    /// let mut s = Scheduler::new(TaskGraph::new(), Placement::WorkStealing, 1);
    /// s.steal_refused(TaskId::new(0)); // nothing pending: nothing happens
    /// ```
    pub fn steal_refused(&mut self, task: TaskId) {
        if let Some(s) = self.steals.as_mut() {
            s.pending.retain(|t| *t != task);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::{Finish, Placement, TaskGraph, TaskKey, WorkerOffer};

    #[test]
    fn a_refused_steal_changes_nothing_and_a_started_task_is_not_offered() {
        let mut g = TaskGraph::new();
        let t: Vec<_> = (0..2)
            .map(|i| g.add_task(TaskKey::indexed("t", i), &[]).unwrap())
            .collect();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
        s.set_balancing(true);
        let mut out = Vec::new();
        s.start(&mut out);
        let w0 = WorkerId::new(0);
        let w1 = s.add_worker(WorkerOffer::new(1), &mut out);
        out.clear();
        assert_eq!(s.plan_steals(&mut out), 1);
        // The victim started the task meanwhile and refuses.
        s.task_started(t[0], w0, Attempt::FIRST).unwrap();
        s.steal_refused(t[0]);
        assert!(s.steal_confirmed(t[0], w0, w1, &mut out).is_err());
        assert_eq!(s.state(t[0]), TaskState::Running(w0));
        out.clear();
        // The next plan offers the other task, not the running one.
        assert_eq!(s.plan_steals(&mut out), 1);
        assert_eq!(
            out,
            [Command::Steal {
                task: t[1],
                from: w0,
                to: w1
            }]
        );
        // While pending it is not offered twice.
        out.clear();
        assert_eq!(s.plan_steals(&mut out), 0);
        s.steal_confirmed(t[1], w0, w1, &mut out).unwrap();
        // A late report from the victim about the moved task is refused.
        assert!(s
            .task_finished(t[1], w0, Attempt::FIRST, Finish::default(), &mut out)
            .is_err());
        let a = s.attempt(t[1]);
        s.task_finished(t[1], w1, a, Finish::default(), &mut out)
            .unwrap();
        s.task_finished(t[0], w0, Attempt::FIRST, Finish::default(), &mut out)
            .unwrap();
        assert!(s.is_done());
    }

    #[test]
    fn balancing_off_plans_nothing() {
        let mut g = TaskGraph::new();
        g.add_task(TaskKey::new("a"), &[]).unwrap();
        g.add_task(TaskKey::new("b"), &[]).unwrap();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
        let mut out = Vec::new();
        s.start(&mut out);
        s.add_worker(WorkerOffer::new(1), &mut out);
        assert_eq!(s.plan_steals(&mut out), 0);
    }
}
