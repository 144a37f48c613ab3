//! Tasks that need named resources (`gpu=1`) run only on workers that
//! offer them.
//!
//! A task's requirements ([`Scheduler::require`]) are matched against each
//! present worker's [`WorkerOffer`]: a worker is eligible when it offers at
//! least the amount of every resource the task needs. Among eligible
//! workers the task is queued on the one with the fewest tasks queued (the
//! lowest id on a tie), pinned there — no idle worker without the resource
//! may steal it. With no eligible worker present the task waits, parked,
//! until one joins; a worker that leaves has its tasks placed again among
//! the eligible workers left. How many such tasks a worker runs at once is
//! the worker's business (it knows what it has free); the scheduler only
//! sends them where they can run.

use std::sync::Arc;

use super::{Actions, Scheduler, TaskState, NO_WORKER};
use crate::placement::Target;
use crate::{TaskId, WorkerId};

#[cfg(doc)]
use super::WorkerOffer;

/// What one task needs: resource names and amounts.
pub(super) type Requirements = Box<[(Arc<str>, u64)]>;

impl Scheduler {
    /// `task` needs `amount` of the resource `name` (say `"gpu"`, 1) on the
    /// worker it runs on; called again for another resource, it needs both.
    /// A task already queued is taken back
    /// ([`Command::Cancel`](super::Command::Cancel)) and placed again, pinned,
    /// on a new attempt; a task already running stays where it is.
    ///
    /// # Panics
    ///
    /// Panics if `task` is not in the graph.
    ///
    /// ```
    /// use flotilla_core::{Command, Placement, Scheduler, Target, TaskGraph, TaskKey, WorkerId, WorkerOffer};
    /// let mut g = TaskGraph::new();
    /// let train = g.add_task(TaskKey::new("train"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 1); // worker 0: no gpu
    /// let mut out = Vec::new();
    /// s.require(train, "gpu", 1, &mut out);
    /// s.start(&mut out);
    /// assert!(out.is_empty(), "no worker offers a gpu: the task waits");
    /// let gpu = s.add_worker(WorkerOffer::new(4).resource("gpu", 1), &mut out);
    /// assert!(matches!(out[..], [Command::Run { task, target: Target::Pinned(w), .. }] if task == train && w == gpu));
    /// ```
    pub fn require(&mut self, task: TaskId, name: &str, amount: u64, out: &mut impl Actions) {
        assert!(
            task.index() < self.state.len(),
            "{task} is not in the graph"
        );
        let mut needs: Vec<(Arc<str>, u64)> = self
            .requirements
            .remove(&task)
            .map(Vec::from)
            .unwrap_or_default();
        match needs.iter_mut().find(|(n, _)| &**n == name) {
            Some(need) => need.1 = amount,
            None => needs.push((Arc::from(name), amount)),
        }
        self.requirements.insert(task, needs.into_boxed_slice());
        let i = task.index();
        if self.state[i] == TaskState::Ready && self.site[i] != NO_WORKER {
            // Placed again, pinned: even where it is, it was queued where
            // another worker might take it.
            out.cancel(task);
            self.unqueue(task);
            self.new_attempt(task);
            self.make_ready(task, None, out);
        }
    }

    /// Whether `worker` is present and offers everything `task` needs.
    pub(super) fn offers_all(&self, worker: WorkerId, task: TaskId) -> bool {
        let Some(needs) = self.requirements.get(&task) else {
            return self.workers.is_present(worker);
        };
        self.workers.is_present(worker)
            && self.workers.offer(worker).is_some_and(|offer| {
                needs
                    .iter()
                    .all(|(name, amount)| offer.resource_amount(name) >= *amount)
            })
    }

    /// The resources `task` needs, as name and amount.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let t = g.add_task(TaskKey::new("t"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 1);
    /// assert_eq!(s.requirements(t).count(), 0);
    /// s.require(t, "gpu", 2, &mut Vec::new());
    /// assert_eq!(s.requirements(t).collect::<Vec<_>>(), [("gpu", 2)]);
    /// ```
    pub fn requirements(&self, task: TaskId) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.requirements
            .get(&task)
            .into_iter()
            .flat_map(|needs| needs.iter().map(|(n, a)| (&**n, *a)))
    }

    /// Where a task with requirements goes: pinned on the eligible present
    /// worker with the fewest queued tasks; `None` when no worker is
    /// eligible. `None` is also returned for a task without requirements,
    /// which the placement policy places.
    pub(super) fn place_by_resources(&self, task: TaskId) -> Option<Option<Target>> {
        // Every task is placed through here: most runs have no requirements
        // at all, and pay no lookup.
        if self.requirements.is_empty() || !self.requirements.contains_key(&task) {
            return None;
        }
        Some(
            self.workers
                .least_queued(|w| self.offers_all(w, task))
                .map(Target::Pinned),
        )
    }

    /// Queues `task` on `worker`, placed there outside the placement policy
    /// (which is told, so that its load counts stay right).
    pub(super) fn queue_pinned(&mut self, task: TaskId, worker: WorkerId) {
        let i = task.index();
        debug_assert_eq!(self.state[i], TaskState::Ready);
        debug_assert_eq!(self.site[i], NO_WORKER);
        self.placer.queued(worker, self.graph.options(task).cost);
    }
}

#[cfg(test)]
mod test {
    use super::super::test_support::{finish, runs};
    use super::super::{Command, WorkerOffer};
    use super::*;
    use crate::{Placement, TaskGraph, TaskKey};

    #[test]
    fn a_task_needing_a_gpu_goes_only_where_there_is_one_and_waits_otherwise() {
        let mut g = TaskGraph::new();
        let plain: Vec<TaskId> = (0..4)
            .map(|i| g.add_task(TaskKey::indexed("plain", i), &[]).unwrap())
            .collect();
        let train = g.add_task(TaskKey::new("train"), &[]).unwrap();
        let two = g.add_task(TaskKey::new("two-gpus"), &[]).unwrap();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 0);
        let mut out = Vec::new();
        let cpu = s.add_worker(WorkerOffer::new(4), &mut out);
        let gpu = s.add_worker(WorkerOffer::new(4).resource("gpu", 1), &mut out);
        s.require(train, "gpu", 1, &mut out);
        s.require(two, "gpu", 2, &mut out);
        s.start(&mut out);
        let placed = runs(&out);
        // The plain tasks spread as the policy says; `train` is pinned on the
        // gpu worker; `two-gpus` waits: no worker offers two.
        assert_eq!(placed.len(), 5);
        assert!(placed.contains(&(train, Target::Pinned(gpu))));
        assert!(!placed.iter().any(|(t, _)| *t == two));
        for t in &plain {
            assert!(placed.iter().any(|(p, _)| p == t));
        }
        assert_eq!(s.state(two), TaskState::Ready);

        // The gpu worker leaves: `train` goes back to waiting for one, not
        // to the cpu worker.
        out.clear();
        s.remove_worker(gpu, &mut out).unwrap();
        assert!(runs(&out).iter().all(|(t, _)| *t != train), "{out:?}");
        // A worker with two gpus joins: both run there.
        let big = s.add_worker(WorkerOffer::new(8).resource("gpu", 2), &mut out);
        let placed = runs(&out);
        assert!(placed.contains(&(train, Target::Pinned(big))), "{placed:?}");
        assert!(placed.contains(&(two, Target::Pinned(big))), "{placed:?}");
        for t in [train, two] {
            s.task_started(t, big, s.attempt(t)).unwrap();
            finish(&mut s, t, big.index() as u32, 0, &mut out);
        }
        for t in plain {
            let w = match s.state(t) {
                TaskState::Ready => cpu,
                other => panic!("{t} is {other:?}"),
            };
            s.task_started(t, w, s.attempt(t)).unwrap();
            finish(&mut s, t, w.index() as u32, 0, &mut out);
        }
        assert!(s.is_done());
    }

    #[test]
    fn among_eligible_workers_the_least_loaded_is_chosen_and_nothing_is_stolen() {
        let mut g = TaskGraph::new();
        let jobs: Vec<TaskId> = (0..4)
            .map(|i| g.add_task(TaskKey::indexed("render", i), &[]).unwrap())
            .collect();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 0);
        let mut out = Vec::new();
        let a = s.add_worker(WorkerOffer::new(1).resource("gpu", 1), &mut out);
        let b = s.add_worker(WorkerOffer::new(1).resource("gpu", 4), &mut out);
        let idle = s.add_worker(WorkerOffer::new(16), &mut out);
        for &t in &jobs {
            s.require(t, "gpu", 1, &mut out);
        }
        s.set_balancing(true);
        s.start(&mut out);
        let placed = runs(&out);
        let on = |w| {
            placed
                .iter()
                .filter(|(_, target)| *target == Target::Pinned(w))
                .count()
        };
        assert_eq!((on(a), on(b), on(idle)), (2, 2, 0), "{placed:?}");
        out.clear();
        // The idle worker has no gpu: the core plans no steal for it.
        assert_eq!(s.plan_steals(&mut out), 0);
    }

    #[test]
    fn a_task_told_its_needs_once_queued_is_moved_to_a_worker_that_has_them() {
        let mut g = TaskGraph::new();
        let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 0);
        let mut out = Vec::new();
        let cpu = s.add_worker(WorkerOffer::new(1), &mut out);
        s.start(&mut out);
        assert_eq!(runs(&out), [(a, Target::Stealable(cpu))]);
        out.clear();
        let gpu = s.add_worker(WorkerOffer::new(1).resource("gpu", 1), &mut out);
        let first = s.attempt(a);
        s.require(a, "gpu", 1, &mut out);
        assert_eq!(out[0], Command::Cancel { task: a });
        assert_eq!(runs(&out), [(a, Target::Pinned(gpu))]);
        assert!(s.attempt(a) > first);
        // The copy queued on the cpu worker is refused if it starts.
        assert!(s.task_started(a, cpu, first).is_err());
        s.task_started(a, gpu, s.attempt(a)).unwrap();
        finish(&mut s, a, gpu.index() as u32, 0, &mut out);
        assert!(s.is_done());
    }
}
