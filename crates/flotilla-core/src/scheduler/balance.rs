//! Moving queued tasks from busy workers to idle ones, decided by the core.
//!
//! A driver whose workers hold their own queues out of the scheduler's
//! reach (worker processes of a cluster) turns this on with
//! [`Scheduler::set_balancing`]. It then calls [`Scheduler::plan_steals`]
//! when a worker runs dry (or on a timer): for each present worker with a
//! thread to spare (fewer tasks placed there than threads it offers), the
//! core picks the victim with
//! [`steal_victim`](crate::balance::steal_victim) — the decision the
//! in-process pool and the simulator make — and the task queued there
//! longest, and answers with a [`Command::Steal`]. The driver asks the
//! victim to give the task up and reports the answer:
//! [`Scheduler::steal_confirmed`] (the task is handed to the thief on a new
//! attempt, so a late report from the victim is refused; placed again
//! elsewhere if the thief left meanwhile) or [`Scheduler::steal_refused`]
//! (the victim started it meanwhile; it may be offered again later). Every
//! steal gets an answer unless the victim leaves. A task with a steal
//! pending is not offered again, and a thief with one pending is not given
//! a second.
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
    /// Steals asked and not yet answered.
    pending: Vec<PendingSteal>,
}

/// A steal asked of a worker and not yet answered.
#[derive(Debug, Clone, Copy)]
struct PendingSteal {
    task: TaskId,
    attempt: Attempt,
    from: WorkerId,
    to: WorkerId,
}

impl StealQueues {
    pub(super) fn push(&mut self, worker: WorkerId, task: TaskId, attempt: Attempt) {
        let w = worker.index();
        if self.queues.len() <= w {
            self.queues.resize_with(w + 1, VecDeque::new);
        }
        self.queues[w].push_back((task, attempt));
    }

    /// Forgets the steals from `worker`, which left: it will not answer,
    /// and its tasks are placed again anyway. Steals *to* it stay pending:
    /// the victim's answer still comes, and a task it gave up is placed
    /// again then.
    pub(super) fn forget_worker(&mut self, worker: WorkerId) {
        self.pending.retain(|p| p.from != worker);
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.queues.capacity() * std::mem::size_of::<VecDeque<(TaskId, Attempt)>>()
            + self
                .queues
                .iter()
                .map(|q| q.capacity() * std::mem::size_of::<(TaskId, Attempt)>())
                .sum::<usize>()
            + self.pending.capacity() * std::mem::size_of::<PendingSteal>()
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

    /// Plans steals for the workers with a thread to spare (fewer tasks
    /// placed there and not finished than threads offered): at most one
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
    /// assert_eq!(out, [Command::Steal { task: tasks[0], attempt: Attempt::FIRST, from, to: idle }]);
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
        let mut waiting = vec![false; n];
        for p in &steals.pending {
            if let Some(w) = waiting.get_mut(p.to.index()) {
                *w = true;
            }
        }
        let idle: Vec<WorkerId> = self
            .workers
            .present()
            .filter(|w| {
                // A worker with a thread to spare: nothing queued beyond
                // what its threads are running.
                let threads = self.workers.offer(*w).map_or(1, |o| o.threads().max(1)) as usize;
                self.workers.queued(*w) < threads && !waiting[w.index()]
            })
            .collect();
        // The decision is `steal_victim`'s (the most loaded, ties to the
        // first after the thief in ring order), found without scanning
        // every worker for every thief: the most loaded workers are kept
        // in index order and rebuilt when the last of them drops.
        let mut most = MostLoaded::new(&loads);
        let mut planned = 0;
        for thief in idle {
            while let Some(victim) = most.victim(thief, &loads) {
                let v = victim.index();
                let q = &mut steals.queues[v];
                let mut found = None;
                while let Some((t, a)) = q.pop_front() {
                    if self.is_stealable(t, a, v as u32, &steals.pending) {
                        found = Some((t, a));
                        break;
                    }
                }
                if let Some((task, attempt)) = found {
                    if !self.worth_moving(task, victim, thief) {
                        // Cheaper to wait where its inputs are: it stays,
                        // and this thief looks no further this turn.
                        steals.queues[v].push_front((task, attempt));
                        break;
                    }
                }
                let q = &steals.queues[v];
                loads[v] = q.len();
                most.lowered(v, &loads);
                if let Some((task, attempt)) = found {
                    steals.pending.push(PendingSteal {
                        task,
                        attempt,
                        from: victim,
                        to: thief,
                    });
                    out.steal(task, attempt, victim, thief);
                    planned += 1;
                    break;
                }
            }
        }
        self.steals = Some(steals);
        planned
    }

    /// Sets how fast results move between workers, in bytes per second
    /// (`None`, the default: moving costs nothing, as between the threads
    /// of one process). With a rate, a planned steal must pay for itself:
    /// a task moves only when sending its inputs that live elsewhere than
    /// the thief takes less time than it would wait on its worker (the
    /// tasks queued ahead of it, per thread, times the duration learned
    /// for its kind; a kind not measured yet always moves).
    ///
    /// ```
    /// use std::time::Duration;
    /// use flotilla_core::{Attempt, Command, Finish, Placement, Scheduler, TaskGraph, TaskKey, WorkerId, WorkerOffer};
    /// // Two tasks of kind "t" queued on worker 0, each reading a gigabyte held there.
    /// let mut g = TaskGraph::new();
    /// let data = g.add_task(TaskKey::new("data"), &[]).unwrap();
    /// let warm = g.add_task(TaskKey::indexed("t", 0), &[]).unwrap();
    /// let a = g.add_task(TaskKey::indexed("t", 1), &[data]).unwrap();
    /// let b = g.add_task(TaskKey::indexed("t", 2), &[data]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
    /// s.set_balancing(true);
    /// s.set_transfer_rate(Some(1e9));
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// let w0 = WorkerId::new(0);
    /// s.task_finished(warm, w0, Attempt::FIRST, Finish::new(Duration::from_millis(1), 8), &mut out).unwrap();
    /// s.task_finished(data, w0, Attempt::FIRST, Finish::new(Duration::ZERO, 1 << 30), &mut out).unwrap();
    /// s.add_worker(WorkerOffer::new(1), &mut out);
    /// out.clear();
    /// // A second to move a gigabyte, a millisecond to wait: nothing moves.
    /// assert_eq!(s.plan_steals(&mut out), 0);
    /// ```
    pub fn set_transfer_rate(&mut self, bytes_per_second: Option<f64>) {
        self.transfer_rate = bytes_per_second.filter(|r| *r > 0.0);
    }

    /// Whether moving queued `task` from `victim` to `thief` gets it done
    /// sooner (see [`Scheduler::set_transfer_rate`]).
    fn worth_moving(&self, task: TaskId, victim: WorkerId, thief: WorkerId) -> bool {
        let Some(rate) = self.transfer_rate else {
            return true;
        };
        let Some((each, _)) = self.durations.estimate(self.graph.kind_of(task)) else {
            return true;
        };
        let moved = self.bytes_to_move(task, thief);
        let threads = self.workers.offer(victim).map_or(1, |o| o.threads().max(1));
        let ahead = self.workers.queued(victim) as f64 / f64::from(threads);
        let wait = each.as_secs_f64() * ahead;
        (moved as f64 / rate) < wait
    }

    /// Where ready `task`, headed for `near` (the worker that holds most
    /// of its inputs), would finish sooner, if not there: the next worker
    /// of the dealing rotation, when the task would wait there behind
    /// fewer tasks, by the duration learned for its kind, even counting
    /// the time to move its inputs. The same estimate as
    /// [`Scheduler::set_transfer_rate`]'s steals, made once when the task
    /// becomes ready, so that a busy worker that holds the data does not
    /// collect every task that reads it. Needs a transfer rate and a
    /// learned duration; without either the task goes next to its data.
    pub(super) fn sooner_elsewhere(&mut self, task: TaskId, near: WorkerId) -> Option<WorkerId> {
        let rate = self.transfer_rate.filter(|_| !self.results_shared)?;
        let (each, _) = self.durations.estimate(self.graph.kind_of(task))?;
        let threads_near = self.workers.offer(near).map_or(1, |o| o.threads().max(1));
        if self.workers.queued(near) < threads_near as usize {
            // A thread is free next to the data.
            return None;
        }
        let other = self.placer.next_besides(near)?;
        let wait = |w: WorkerId| {
            let threads = self.workers.offer(w).map_or(1, |o| o.threads().max(1));
            // Tasks ahead of it per thread; none while a thread is free.
            let ahead = (self.workers.queued(w) + 1).saturating_sub(threads as usize);
            each.as_secs_f64() * ahead as f64 / f64::from(threads)
        };
        let moved = self.bytes_to_move(task, other);
        (wait(other) + moved as f64 / rate < wait(near)).then_some(other)
    }

    /// The bytes of `task`'s inputs that are not on `to`.
    fn bytes_to_move(&self, task: TaskId, to: WorkerId) -> u64 {
        let site = to.index() as u32;
        self.graph
            .dependencies(task)
            .iter()
            .filter(|d| self.site[d.index()] != site)
            .map(|d| self.result_bytes[d.index()])
            .sum()
    }

    fn is_stealable(
        &self,
        task: TaskId,
        attempt: Attempt,
        worker: u32,
        pending: &[PendingSteal],
    ) -> bool {
        self.state[task.index()] == TaskState::Ready
            && self.site[task.index()] == worker
            && self.attempt(task) == attempt
            && !pending.iter().any(|p| p.task == task)
    }

    /// The victim gave `task` up: it goes to `to` on a new attempt (a
    /// [`Command::Run`]), and a late report from the victim is refused. If
    /// `to` left meanwhile, the task is placed again elsewhere.
    ///
    /// # Errors
    ///
    /// [`SchedulerError::UnexpectedEvent`] when no steal of `task` from
    /// `from` to `to` is pending for its current attempt (it was answered,
    /// the task moved on, or `from` left); [`SchedulerError::UnknownTask`]
    /// for a task not in the scheduler. Nothing changes then.
    ///
    /// See [`Scheduler::plan_steals`] for an example.
    pub fn steal_confirmed(
        &mut self,
        task: TaskId,
        from: WorkerId,
        to: WorkerId,
        out: &mut impl Actions,
    ) -> Result<(), SchedulerError> {
        let i = task.index();
        let state = *self.state.get(i).ok_or(SchedulerError::UnknownTask(task))?;
        let attempt = self.attempt(task);
        let found = self.steals.as_ref().and_then(|s| {
            s.pending.iter().position(|p| {
                p.task == task && p.from == from && p.to == to && p.attempt == attempt
            })
        });
        let in_place = state == TaskState::Ready && self.site[i] == from.index() as u32;
        let (Some(at), true) = (found, in_place) else {
            return Err(SchedulerError::UnexpectedEvent {
                task,
                key: self.graph.key(task).to_string(),
                event: "steal confirmed",
                state,
            });
        };
        if let Some(s) = self.steals.as_mut() {
            s.pending.swap_remove(at);
        }
        self.unqueue(task);
        self.new_attempt(task);
        if !self.workers.is_present(to) {
            // The victim no longer holds it and the thief is gone.
            self.make_ready(task, None, out);
            return Ok(());
        }
        let attempt = self.attempt(task);
        let site = to.index() as u32;
        self.site[i] = site;
        self.workers.queue(site);
        self.placer.queued(to, self.graph.options(task).cost);
        if let Some(s) = self.steals.as_mut() {
            s.push(to, task, attempt);
        }
        out.run(task, Target::Stealable(to), attempt);
        Ok(())
    }

    /// The victim `from` refused to give `task` up to `to` (it started it,
    /// or will): that steal is forgotten, and the task may be offered again
    /// while it waits there. A late answer about an earlier steal of the
    /// same task (another thief) leaves the pending one alone.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, TaskId, WorkerId};
    /// let mut s = Scheduler::new(TaskGraph::new(), Placement::WorkStealing, 2);
    /// // Nothing pending: nothing happens.
    /// s.steal_refused(TaskId::new(0), WorkerId::new(0), WorkerId::new(1));
    /// ```
    pub fn steal_refused(&mut self, task: TaskId, from: WorkerId, to: WorkerId) {
        let Some(mut steals) = self.steals.take() else {
            return;
        };
        let mut i = 0;
        while i < steals.pending.len() {
            let p = steals.pending[i];
            if p.task != task || p.from != from || p.to != to {
                i += 1;
                continue;
            }
            steals.pending.swap_remove(i);
            // Still waiting there: back to the front of the victim's queue.
            if self.state.get(task.index()) == Some(&TaskState::Ready)
                && self.site[task.index()] == p.from.index() as u32
                && self.attempt(task) == p.attempt
            {
                if let Some(q) = steals.queues.get_mut(p.from.index()) {
                    q.push_front((task, p.attempt));
                }
            }
        }
        self.steals = Some(steals);
    }
}

/// The workers with the most stealable tasks, in index order: what
/// [`steal_victim`] looks for, kept between the thieves of one plan.
struct MostLoaded {
    load: usize,
    workers: Vec<usize>,
}

impl MostLoaded {
    fn new(loads: &[usize]) -> MostLoaded {
        let mut m = MostLoaded {
            load: 0,
            workers: Vec::new(),
        };
        m.rebuild(loads);
        m
    }

    fn rebuild(&mut self, loads: &[usize]) {
        self.load = loads.iter().copied().max().unwrap_or(0);
        self.workers.clear();
        if self.load > 0 {
            self.workers
                .extend((0..loads.len()).filter(|&w| loads[w] == self.load));
        }
    }

    /// `steal_victim(thief, loads)`.
    fn victim(&self, thief: WorkerId, loads: &[usize]) -> Option<WorkerId> {
        let t = thief.index();
        let others = self.workers.iter().filter(|&&w| w != t).count();
        if others == 0 {
            // None at the top but the thief itself: ask the slow way.
            return steal_victim(thief, loads);
        }
        // The first of the most loaded after the thief, round the ring.
        let after = self.workers.partition_point(|&w| w <= t);
        let v = self.workers[after..]
            .iter()
            .chain(&self.workers[..after])
            .copied()
            .find(|&w| w != t)?;
        Some(WorkerId::new(v as u32))
    }

    /// Worker `v`'s load went down to `loads[v]`.
    fn lowered(&mut self, v: usize, loads: &[usize]) {
        if loads[v] < self.load {
            if let Ok(i) = self.workers.binary_search(&v) {
                self.workers.remove(i);
            }
            if self.workers.is_empty() {
                self.rebuild(loads);
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::{Finish, Placement, TaskGraph, TaskKey, WorkerOffer};

    /// Two tasks queued on worker 0, then an idle worker 1 joins; balancing
    /// on and the commands so far cleared.
    fn two_tasks_and_an_idle_thief() -> (Scheduler, Vec<TaskId>, WorkerId, WorkerId, Vec<Command>) {
        let mut g = TaskGraph::new();
        let t: Vec<_> = (0..2)
            .map(|i| g.add_task(TaskKey::indexed("t", i), &[]).unwrap())
            .collect();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
        s.set_balancing(true);
        let mut out = Vec::new();
        s.start(&mut out);
        let w1 = s.add_worker(WorkerOffer::new(1), &mut out);
        out.clear();
        (s, t, WorkerId::new(0), w1, out)
    }

    /// A task of kind `t` (learned: 1 ms) queued twice on worker 0 behind
    /// nothing, reading `bytes` held there; an idle worker 1 joined.
    fn steal_of_input(bytes: u64, rate: Option<f64>) -> usize {
        use std::time::Duration;
        let mut g = TaskGraph::new();
        let data = g.add_task(TaskKey::new("data"), &[]).unwrap();
        let warm = g.add_task(TaskKey::indexed("t", 0), &[]).unwrap();
        for i in 1..3 {
            g.add_task(TaskKey::indexed("t", i), &[data]).unwrap();
        }
        let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
        s.set_balancing(true);
        s.set_transfer_rate(rate);
        let mut out = Vec::new();
        s.start(&mut out);
        let w0 = WorkerId::new(0);
        let ms = Finish::new(Duration::from_millis(1), 8);
        s.task_finished(warm, w0, Attempt::FIRST, ms, &mut out)
            .unwrap();
        s.task_finished(
            data,
            w0,
            Attempt::FIRST,
            Finish::new(Duration::ZERO, bytes),
            &mut out,
        )
        .unwrap();
        s.add_worker(WorkerOffer::new(1), &mut out);
        s.plan_steals(&mut Vec::new())
    }

    #[test]
    fn a_steal_must_pay_for_moving_its_inputs_when_moving_has_a_cost() {
        // Free transfers (one process): it moves.
        assert_eq!(steal_of_input(1 << 30, None), 1);
        // A gigabyte at 1 GB/s against a 2 ms wait: it stays.
        assert_eq!(steal_of_input(1 << 30, Some(1e9)), 0);
        // A kilobyte at 1 GB/s: it moves.
        assert_eq!(steal_of_input(1 << 10, Some(1e9)), 1);
    }

    /// Where a task that reads `bytes` held on worker 0 goes when it
    /// becomes ready, with four tasks queued on worker 0 (one thread) and
    /// worker 1 idle; its kind's duration (10 ms) learned or not.
    fn placement_of_reader(bytes: u64, learned: bool) -> Target {
        use std::time::Duration;
        let mut g = TaskGraph::new();
        let data = g.add_task(TaskKey::new("data"), &[]).unwrap();
        let warm = g.add_task(TaskKey::indexed("read", 0), &[]).unwrap();
        for i in 0..4 {
            g.add_task(TaskKey::indexed("queued", i), &[]).unwrap();
        }
        let reader = g.add_task(TaskKey::indexed("read", 1), &[data]).unwrap();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
        s.set_transfer_rate(Some(1e9));
        let mut out = Vec::new();
        s.start(&mut out);
        s.add_worker(WorkerOffer::new(1), &mut out);
        let w0 = WorkerId::new(0);
        let took = if learned {
            Duration::from_millis(10)
        } else {
            Duration::ZERO
        };
        s.task_finished(warm, w0, Attempt::FIRST, Finish::new(took, 8), &mut out)
            .unwrap();
        out.clear();
        s.task_finished(
            data,
            w0,
            Attempt::FIRST,
            Finish::new(Duration::ZERO, bytes),
            &mut out,
        )
        .unwrap();
        out.iter()
            .find_map(|c| match c {
                Command::Run { task, target, .. } if *task == reader => Some(*target),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn a_ready_task_goes_where_it_finishes_soonest_counting_the_transfer() {
        let (w0, w1) = (WorkerId::new(0), WorkerId::new(1));
        // A kilobyte moves in a microsecond; waiting behind four 10 ms
        // tasks takes 40 ms: worker 1.
        assert_eq!(placement_of_reader(1 << 10, true), Target::Stealable(w1));
        // A gigabyte takes a second to move: it waits next to its data.
        assert_eq!(placement_of_reader(1 << 30, true), Target::Stealable(w0));
        // Nothing learned of its kind: next to its data.
        assert_eq!(placement_of_reader(1 << 10, false), Target::Stealable(w0));
    }

    #[test]
    fn the_most_loaded_set_names_the_victims_steal_victim_names() {
        let mut rng = crate::rng::Rng::seed(7);
        for _ in 0..2_000 {
            let n = 1 + (rng.next_u64() % 9) as usize;
            let mut loads: Vec<usize> = (0..n).map(|_| (rng.next_u64() % 4) as usize).collect();
            let mut most = MostLoaded::new(&loads);
            for _ in 0..6 {
                let thief = WorkerId::new((rng.next_u64() % n as u64) as u32);
                let expected = steal_victim(thief, &loads);
                assert_eq!(
                    most.victim(thief, &loads),
                    expected,
                    "{loads:?} thief {thief}"
                );
                if let Some(v) = expected {
                    loads[v.index()] -= 1;
                    most.lowered(v.index(), &loads);
                }
            }
        }
    }

    #[test]
    fn a_refused_steal_changes_nothing_and_a_started_task_is_not_offered() {
        let (mut s, t, w0, w1, mut out) = two_tasks_and_an_idle_thief();
        assert_eq!(s.plan_steals(&mut out), 1);
        // The victim started the task meanwhile and refuses.
        s.task_started(t[0], w0, Attempt::FIRST).unwrap();
        s.steal_refused(t[0], w0, w1);
        assert!(s.steal_confirmed(t[0], w0, w1, &mut out).is_err());
        assert_eq!(s.state(t[0]), TaskState::Running(w0));
        out.clear();
        // The next plan offers the other task, not the running one.
        assert_eq!(s.plan_steals(&mut out), 1);
        assert_eq!(
            out,
            [Command::Steal {
                task: t[1],
                attempt: Attempt::FIRST,
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
    fn a_task_given_up_for_a_thief_that_left_is_placed_again() {
        let (mut s, t, w0, w1, mut out) = two_tasks_and_an_idle_thief();
        assert_eq!(s.plan_steals(&mut out), 1);
        s.remove_worker(w1, &mut out).unwrap();
        out.clear();
        // w0 gave t0 up before hearing that w1 left: t0 must run somewhere.
        s.steal_confirmed(t[0], w0, w1, &mut out).unwrap();
        let attempt = s.attempt(t[0]);
        assert_eq!(
            out,
            [Command::Run {
                task: t[0],
                target: Target::Stealable(w0),
                attempt
            }]
        );
        assert!(s.steal_confirmed(TaskId::new(9), w0, w1, &mut out).is_err());
        s.task_finished(t[0], w0, attempt, Finish::default(), &mut out)
            .unwrap();
        s.task_finished(t[1], w0, Attempt::FIRST, Finish::default(), &mut out)
            .unwrap();
        assert!(s.is_done());
    }

    #[test]
    fn a_refused_steal_of_a_task_still_waiting_offers_it_again() {
        let (mut s, t, _, w1, mut out) = two_tasks_and_an_idle_thief();
        s.plan_steals(&mut out);
        assert_eq!(s.plan_steals(&mut out), 0, "the thief has a steal pending");
        s.steal_refused(t[0], WorkerId::new(0), w1);
        out.clear();
        assert_eq!(s.plan_steals(&mut out), 1);
        assert_eq!(
            out,
            [Command::Steal {
                task: t[0],
                attempt: Attempt::FIRST,
                from: WorkerId::new(0),
                to: w1
            }]
        );
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
