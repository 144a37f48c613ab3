//! Input locality: a task that reads files is placed on a worker whose own
//! disks hold them.
//!
//! A map task of a job reads its input split from a path every worker can
//! see (a shared file system) — but reading it where it lies is cheaper.
//! A worker names the folders on its own disks
//! ([`WorkerOffer::local_data`]); a task names the files it reads
//! ([`Scheduler::reads`], or [`Scheduler::add_task_reading`] for a task
//! added to a running scheduler). When such a task becomes ready, the
//! present worker holding most of its files locally (the one with the
//! fewest tasks queued among equals) is where it goes, under the placement
//! policy's usual terms: with work stealing it is queued there and an idle
//! worker elsewhere may still take it, so locality never leaves a worker
//! idle. A task none of whose files is local to a present worker is placed
//! as any other.

use std::sync::Arc;

use super::{Actions, Scheduler};
use crate::graph::{GraphError, TaskOptions};
use crate::{TaskId, TaskKey, WorkerId};

#[cfg(doc)]
use super::WorkerOffer;

impl Scheduler {
    /// `task` reads the file at `path`: it is placed, when it becomes
    /// ready, on a worker that holds the file on its own disks. Give it
    /// before [`Scheduler::start`] (or use
    /// [`Scheduler::add_task_reading`]): a task already placed stays where
    /// it is.
    ///
    /// # Panics
    ///
    /// Panics if `task` is not in the graph.
    ///
    /// ```
    /// use flotilla_core::{Command, Placement, Scheduler, Target, TaskGraph, TaskKey, WorkerId, WorkerOffer};
    /// let mut g = TaskGraph::new();
    /// let split = g.add_task(TaskKey::new("map"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 0);
    /// let mut out = Vec::new();
    /// s.add_worker(WorkerOffer::new(1).local_data("/disk/a"), &mut out);
    /// let b = s.add_worker(WorkerOffer::new(1).local_data("/disk/b"), &mut out);
    /// s.reads(split, "/disk/b/part-0.csv");
    /// s.start(&mut out);
    /// assert!(matches!(out[..], [Command::Run { target: Target::Stealable(w), .. }] if w == b));
    /// ```
    pub fn reads(&mut self, task: TaskId, path: &str) {
        assert!(
            task.index() < self.state.len(),
            "{task} is not in the graph"
        );
        let mut paths: Vec<Arc<str>> = self.inputs.remove(&task).map(Vec::from).unwrap_or_default();
        paths.push(path.into());
        self.inputs.insert(task, paths.into_boxed_slice());
    }

    /// Adds a task to a running scheduler, as [`Scheduler::add_task`], that
    /// reads the files `paths` ([`Scheduler::reads`]): placed, if it is
    /// ready at once, next to them.
    ///
    /// # Errors
    ///
    /// As [`Scheduler::add_task`].
    ///
    /// ```
    /// use flotilla_core::{Command, Placement, Scheduler, Target, TaskGraph, TaskKey, TaskOptions, WorkerOffer};
    /// let mut s = Scheduler::new(TaskGraph::new(), Placement::WorkStealing, 0);
    /// let mut out = Vec::new();
    /// let a = s.add_worker(WorkerOffer::new(1).local_data("/disk/a"), &mut out);
    /// s.add_worker(WorkerOffer::new(1).local_data("/disk/b"), &mut out);
    /// s.start(&mut out);
    /// let t = s
    ///     .add_task_reading(TaskKey::new("map"), &[], TaskOptions::default(), &["/disk/a/x"], &mut out)
    ///     .unwrap();
    /// assert!(matches!(out[..], [Command::Run { task, target: Target::Stealable(w), .. }] if task == t && w == a));
    /// ```
    pub fn add_task_reading(
        &mut self,
        key: TaskKey,
        deps: &[TaskId],
        options: TaskOptions,
        paths: &[&str],
        out: &mut impl Actions,
    ) -> Result<TaskId, GraphError> {
        // The task's number is the next one: its files must be known before
        // it is added, since adding it may place it.
        let next = TaskId::new(self.state.len() as u32);
        if !paths.is_empty() {
            self.inputs
                .insert(next, paths.iter().map(|p| Arc::from(*p)).collect());
        }
        let added = self.add_task(key, deps, options, out);
        if added.is_err() {
            self.inputs.remove(&next);
        }
        added
    }

    /// The files `task` reads, as given.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let t = g.add_task(TaskKey::new("t"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
    /// s.reads(t, "/data/a.csv");
    /// assert_eq!(s.input_paths(t).collect::<Vec<_>>(), ["/data/a.csv"]);
    /// ```
    pub fn input_paths(&self, task: TaskId) -> impl Iterator<Item = &str> + '_ {
        self.inputs
            .get(&task)
            .into_iter()
            .flat_map(|paths| paths.iter().map(|p| &**p))
    }

    /// The present worker that holds most of `task`'s files on its own
    /// disks (the fewest queued tasks, then the lowest id, among equals);
    /// `None` when the task reads no file or no present worker holds one.
    pub(super) fn near_input(&self, task: TaskId) -> Option<WorkerId> {
        // Most runs name no files: they pay no lookup.
        if self.inputs.is_empty() {
            return None;
        }
        let paths = self.inputs.get(&task)?;
        self.workers
            .present()
            .filter_map(|w| {
                let offer = self.workers.offer(w)?;
                let held = paths.iter().filter(|p| offer.holds_locally(p)).count();
                (held > 0).then_some((held, std::cmp::Reverse(self.workers.queued(w)), w))
            })
            .max_by_key(|&(held, fewer_queued, w)| (held, fewer_queued, std::cmp::Reverse(w)))
            .map(|(_, _, w)| w)
    }
}

#[cfg(test)]
mod test {
    use super::super::test_support::runs;
    use crate::{Attempt, Command, Finish, Placement, Scheduler, Target, TaskGraph, TaskKey};
    use crate::{TaskId, WorkerId, WorkerOffer};

    /// Eight splits, four under each worker's folder, listed so that
    /// dealing them in turn would put every one on the wrong worker.
    #[test]
    fn splits_go_to_the_worker_that_holds_their_file() {
        let mut g = TaskGraph::new();
        let splits: Vec<TaskId> = (0..8)
            .map(|i| g.add_task(TaskKey::indexed("map", i), &[]).unwrap())
            .collect();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 0);
        let mut out = Vec::new();
        let a = s.add_worker(WorkerOffer::new(1).local_data("/disk/a/"), &mut out);
        let b = s.add_worker(WorkerOffer::new(1).local_data("/disk/b"), &mut out);
        for (i, &t) in splits.iter().enumerate() {
            let disk = if i % 2 == 0 { "b" } else { "a" };
            s.reads(t, &format!("/disk/{disk}/part-{i}.csv"));
        }
        s.start(&mut out);
        let placed = runs(&out);
        assert_eq!(placed.len(), 8);
        for (t, target) in placed {
            let expected = if t.index() % 2 == 0 { b } else { a };
            assert_eq!(target, Target::Stealable(expected), "{t}");
        }
    }

    #[test]
    fn locality_is_a_preference_that_stealing_and_departures_override() {
        let mut g = TaskGraph::new();
        let splits: Vec<TaskId> = (0..4)
            .map(|i| g.add_task(TaskKey::indexed("map", i), &[]).unwrap())
            .collect();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 0);
        s.set_balancing(true);
        let mut out = Vec::new();
        let a = s.add_worker(WorkerOffer::new(1).local_data("/disk/a"), &mut out);
        let b = s.add_worker(WorkerOffer::new(1), &mut out);
        for (i, &t) in splits.iter().enumerate() {
            s.reads(t, &format!("/disk/a/part-{i}"));
        }
        s.start(&mut out);
        // Every split is queued on a: its files are there.
        assert!(runs(&out)
            .iter()
            .all(|(_, target)| *target == Target::Stealable(a)));
        // b is idle: it may steal one all the same.
        out.clear();
        s.plan_steals(&mut out);
        let stolen: Vec<_> = out
            .iter()
            .filter_map(|c| match c {
                Command::Steal { task, to, .. } => Some((*task, *to)),
                _ => None,
            })
            .collect();
        assert_eq!(stolen.len(), 1, "{out:?}");
        assert_eq!(stolen[0].1, b);
        // a leaves: its splits are placed again on b, the one worker left.
        out.clear();
        s.remove_worker(a, &mut out).unwrap();
        assert!(runs(&out)
            .iter()
            .all(|(_, target)| *target == Target::Stealable(b)));
        assert!(!runs(&out).is_empty());
    }

    #[test]
    fn a_file_on_no_worker_and_a_task_with_no_file_are_dealt_as_usual() {
        let mut g = TaskGraph::new();
        let t0 = g.add_task(TaskKey::indexed("map", 0), &[]).unwrap();
        let t1 = g.add_task(TaskKey::indexed("map", 1), &[]).unwrap();
        let mut s = Scheduler::new(g, Placement::WorkStealing, 0);
        let mut out = Vec::new();
        s.add_worker(WorkerOffer::new(1).local_data("/disk/a"), &mut out);
        s.add_worker(WorkerOffer::new(1).local_data("/disk/b"), &mut out);
        s.reads(t0, "/shared/part-0");
        s.start(&mut out);
        let targets: Vec<_> = runs(&out).into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            targets,
            [
                Target::Stealable(WorkerId::new(0)),
                Target::Stealable(WorkerId::new(1))
            ]
        );
        let _ = t1;
    }

    #[test]
    fn the_less_busy_of_two_holders_gets_the_split_and_static_policies_ignore_files() {
        let mut s = Scheduler::new(TaskGraph::new(), Placement::WorkStealing, 0);
        let mut out = Vec::new();
        let a = s.add_worker(WorkerOffer::new(1).local_data("/data"), &mut out);
        let b = s.add_worker(WorkerOffer::new(1).local_data("/data"), &mut out);
        s.start(&mut out);
        let opts = crate::TaskOptions::default();
        let first = s
            .add_task_reading(
                TaskKey::indexed("map", 0),
                &[],
                opts,
                &["/data/x"],
                &mut out,
            )
            .unwrap();
        let second = s
            .add_task_reading(
                TaskKey::indexed("map", 1),
                &[],
                opts,
                &["/data/y"],
                &mut out,
            )
            .unwrap();
        assert_eq!(
            runs(&out),
            [
                (first, Target::Stealable(a)),
                (second, Target::Stealable(b))
            ]
        );
        // A bad graph edit names no files afterwards.
        assert!(s
            .add_task_reading(
                TaskKey::indexed("map", 2),
                &[TaskId::new(99)],
                opts,
                &["/data/z"],
                &mut out
            )
            .is_err());
        assert_eq!(s.inputs.len(), 2);
        // Finishing is as for any task.
        out.clear();
        s.task_finished(first, a, Attempt::FIRST, Finish::default(), &mut out)
            .unwrap();

        let mut g = TaskGraph::new();
        let t = g.add_task(TaskKey::new("map"), &[]).unwrap();
        let mut s = Scheduler::new(g, Placement::RoundRobin, 0);
        let mut out = Vec::new();
        let first = s.add_worker(WorkerOffer::new(1), &mut out);
        s.add_worker(WorkerOffer::new(1).local_data("/data"), &mut out);
        s.reads(t, "/data/x");
        s.start(&mut out);
        assert_eq!(runs(&out), [(t, Target::Pinned(first))]);
    }
}
