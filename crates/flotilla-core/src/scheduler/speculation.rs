//! Redundant (speculative) execution: a copy of a straggler on another
//! worker, the first result kept.
//!
//! A task that runs much longer than others of its kind — a slow or
//! overloaded machine, a disk that stalls — holds up everything after it.
//! With speculation on ([`Scheduler::set_speculation`]), the driver calls
//! [`Scheduler::plan_copies`] now and then with how long each running
//! attempt has run (the core keeps no clock). An attempt past
//! [`Speculation::factor`] times the duration learned for its kind (and
//! past [`Speculation::min_runtime`]) gets one copy, a new attempt pinned
//! on another worker with a thread to spare ([`Command::Run`]).
//!
//! Both attempts are then accepted. The first to finish is the task's
//! result; the other is stopped ([`Command::CancelAttempt`]) and anything
//! it reports later is refused, so its result is ignored. If one of the two
//! fails or its worker leaves, the other carries on as the task's only
//! attempt — a copy's failure uses no retry. [`TaskCounts::copied`] and
//! [`TaskCounts::copies_won`] say how it went.
//!
//! Attempt numbers stay unique: the copy takes the next number, and a
//! retry after both are gone takes the one after.

use std::time::Duration;

use super::{Actions, Scheduler, TaskState, NO_WORKER};
use crate::placement::Target;
use crate::{Attempt, TaskId, WorkerId};

#[cfg(doc)]
use super::{Command, TaskCounts};

/// When a running attempt is slow enough to be copied.
///
/// ```
/// use std::time::Duration;
/// use flotilla_core::Speculation;
/// let s = Speculation::new(3.0).min_runtime(Duration::from_millis(200));
/// assert_eq!(s.factor(), 3.0);
/// assert_eq!(s.min_runtime_of(), Duration::from_millis(200));
/// assert_eq!(Speculation::default().factor(), 2.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speculation {
    factor: f64,
    min_runtime: Duration,
}

impl Default for Speculation {
    /// Twice the learned duration, and at least a second.
    fn default() -> Speculation {
        Speculation::new(2.0)
    }
}

impl Speculation {
    /// Copies an attempt once it has run `factor` times the duration
    /// learned for its kind (at least 1.0; at least a second by default).
    ///
    /// ```
    /// assert_eq!(flotilla_core::Speculation::new(0.5).factor(), 1.0);
    /// ```
    pub fn new(factor: f64) -> Speculation {
        Speculation {
            factor: if factor.is_finite() {
                factor.max(1.0)
            } else {
                1.0
            },
            min_runtime: Duration::from_secs(1),
        }
    }

    /// An attempt that ran less than this is never copied, however short
    /// its kind (default one second).
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = flotilla_core::Speculation::new(2.0).min_runtime(Duration::ZERO);
    /// assert_eq!(s.min_runtime_of(), Duration::ZERO);
    /// ```
    pub fn min_runtime(mut self, runtime: Duration) -> Speculation {
        self.min_runtime = runtime;
        self
    }

    /// The factor over the learned duration.
    ///
    /// ```
    /// assert_eq!(flotilla_core::Speculation::new(4.0).factor(), 4.0);
    /// ```
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// The shortest run that may be copied.
    ///
    /// ```
    /// assert_eq!(flotilla_core::Speculation::default().min_runtime_of().as_secs(), 1);
    /// ```
    pub fn min_runtime_of(&self) -> Duration {
        self.min_runtime
    }
}

/// The two attempts of a copied task: the first and its copy, each `None`
/// once it failed or its worker left (never both).
#[derive(Debug, Clone, Copy)]
pub(super) struct Copied {
    original: Option<(WorkerId, Attempt)>,
    copy: Option<(WorkerId, Attempt)>,
}

/// Which of a copied task's attempts a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Original,
    Copy,
}

impl Scheduler {
    /// Turns speculation on with `speculation`, or off with `None`
    /// (default off). Copies already running go on.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, Speculation, TaskGraph};
    /// let mut s = Scheduler::new(TaskGraph::new(), Placement::WorkStealing, 2);
    /// assert_eq!(s.speculation(), None);
    /// s.set_speculation(Some(Speculation::new(3.0)));
    /// assert_eq!(s.speculation().map(|s| s.factor()), Some(3.0));
    /// ```
    pub fn set_speculation(&mut self, speculation: Option<Speculation>) {
        self.speculation = speculation;
    }

    /// The speculation in force, if on.
    ///
    /// ```
    /// let s = flotilla_core::Scheduler::new(flotilla_core::TaskGraph::new(), flotilla_core::Placement::Block, 1);
    /// assert!(s.speculation().is_none());
    /// ```
    pub fn speculation(&self) -> Option<Speculation> {
        self.speculation
    }

    /// Copies the stragglers among `running` — each running task with how
    /// long its attempt has run, as the driver measured — onto other
    /// workers; returns how many copies it launched. A task is copied at
    /// most once, only when its kind has a learned duration, and only onto
    /// a present worker (offering what the task needs) with fewer tasks
    /// queued than threads. Does nothing while speculation is off.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flotilla_core::{Attempt, Command, Finish, Placement, Scheduler, Speculation, Target};
    /// use flotilla_core::{TaskGraph, TaskKey, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let quick = g.add_task(TaskKey::indexed("tile", 0), &[]).unwrap();
    /// let slow = g.add_task(TaskKey::indexed("tile", 1), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::RoundRobin, 2);
    /// s.set_speculation(Some(Speculation::new(2.0).min_runtime(Duration::ZERO)));
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// let (w0, w1) = (WorkerId::new(0), WorkerId::new(1));
    /// s.task_started(quick, w0, Attempt::FIRST).unwrap();
    /// s.task_started(slow, w1, Attempt::FIRST).unwrap();
    /// let ms = Duration::from_millis;
    /// s.task_finished(quick, w0, Attempt::FIRST, Finish::new(ms(10), 8), &mut out).unwrap();
    /// out.clear();
    /// // 15 ms is not yet twice the 10 ms a tile takes; 50 ms is.
    /// assert_eq!(s.plan_copies([(slow, ms(15))], &mut out), 0);
    /// assert_eq!(s.plan_copies([(slow, ms(50))], &mut out), 1);
    /// let copy = Attempt::FIRST.next();
    /// assert_eq!(out, [Command::Run { task: slow, target: Target::Pinned(w0), attempt: copy }]);
    /// // The copy finishes first: the original is stopped.
    /// out.clear();
    /// s.task_finished(slow, w0, copy, Finish::new(ms(10), 8), &mut out).unwrap();
    /// assert_eq!(out, [Command::CancelAttempt { task: slow, worker: w1, attempt: Attempt::FIRST }]);
    /// assert_eq!((s.counts().copied, s.counts().copies_won), (1, 1));
    /// assert!(s.task_finished(slow, w1, Attempt::FIRST, Finish::default(), &mut out).is_err());
    /// ```
    pub fn plan_copies(
        &mut self,
        running: impl IntoIterator<Item = (TaskId, Duration)>,
        out: &mut impl Actions,
    ) -> usize {
        let Some(speculation) = self.speculation else {
            return 0;
        };
        let mut launched = 0;
        for (task, ran) in running {
            if ran < speculation.min_runtime || self.copies.contains_key(&task) {
                continue;
            }
            let Some(TaskState::Running(original)) = self.state.get(task.index()).copied() else {
                continue;
            };
            let Some((each, _)) = self.durations.estimate(self.graph.kind_of(task)) else {
                continue;
            };
            if ran.as_secs_f64() < speculation.factor * each.as_secs_f64() {
                continue;
            }
            let Some(to) = self.copy_target(task, original) else {
                continue;
            };
            let first = self.attempt(task);
            let copy = first.next();
            self.tries.entry(task).or_default().attempt = copy;
            self.copies.insert(
                task,
                Copied {
                    original: Some((original, first)),
                    copy: Some((to, copy)),
                },
            );
            self.workers.queue(to.index() as u32);
            self.counts.copied += 1;
            launched += 1;
            out.run(task, Target::Pinned(to), copy);
        }
        launched
    }

    /// A present worker other than `running` that offers what `task` needs
    /// and has a thread to spare: the one with the fewest tasks queued
    /// (the lowest id among equals).
    fn copy_target(&self, task: TaskId, running: WorkerId) -> Option<WorkerId> {
        self.workers.least_queued(|w| {
            let threads = self.workers.offer(w).map_or(1, |o| o.threads().max(1));
            w != running && self.offers_all(w, task) && self.workers.queued(w) < threads as usize
        })
    }

    /// Which attempt of a copied task `(worker, attempt)` is, if it is one
    /// of them and its worker is present.
    pub(super) fn copied_side(
        &self,
        task: TaskId,
        worker: WorkerId,
        attempt: Attempt,
    ) -> Option<Side> {
        // Every report asks: most runs copy nothing and pay no lookup.
        if self.copies.is_empty() {
            return None;
        }
        let copied = self.copies.get(&task)?;
        if !self.workers.is_present(worker) {
            return None;
        }
        if copied.original == Some((worker, attempt)) {
            Some(Side::Original)
        } else if copied.copy == Some((worker, attempt)) {
            Some(Side::Copy)
        } else {
            None
        }
    }

    /// `(worker, attempt)` of a copied task finished first: the other
    /// attempt is stopped, and the task stands as running on `worker` so
    /// that it finishes as any other.
    pub(super) fn copy_won(
        &mut self,
        task: TaskId,
        worker: WorkerId,
        side: Side,
        out: &mut impl Actions,
    ) {
        let Some(copied) = self.copies.remove(&task) else {
            return;
        };
        let i = task.index();
        if let Some((copy_worker, copy_attempt)) = copied.copy {
            self.workers.unqueue(copy_worker.index() as u32);
            match side {
                Side::Copy => {
                    self.counts.copies_won += 1;
                    if let Some((w, a)) = copied.original {
                        out.cancel_attempt(task, w, a);
                    }
                }
                Side::Original => out.cancel_attempt(task, copy_worker, copy_attempt),
            }
        }
        self.state[i] = TaskState::Running(worker);
    }

    /// The `side` attempt of a copied task failed, or its worker left: the
    /// other goes on as the task's only attempt, and this uses no retry.
    pub(super) fn copy_lost(&mut self, task: TaskId, side: Side) {
        let Some(copied) = self.copies.get_mut(&task) else {
            return;
        };
        let i = task.index();
        match side {
            Side::Copy => {
                if let Some((w, _)) = copied.copy.take() {
                    self.workers.unqueue(w.index() as u32);
                }
                // The original goes on, still accepted by its own attempt.
            }
            Side::Original => {
                let Some((w, _)) = copied.copy else {
                    // Nothing else runs it: the caller fails the attempt.
                    return;
                };
                copied.original = None;
                // The original's slot is freed; the copy's becomes the
                // task's place (queued there since it was launched).
                let site = std::mem::replace(&mut self.site[i], w.index() as u32);
                if site != NO_WORKER {
                    self.workers.unqueue(site);
                    self.placer
                        .finished(WorkerId::new(site), self.graph.options(task).cost);
                }
                self.state[i] = TaskState::Running(w);
            }
        }
    }

    /// Whether `task` has a copy still alive besides the attempt that is
    /// reporting as `side`.
    pub(super) fn has_other_attempt(&self, task: TaskId, side: Side) -> bool {
        self.copies.get(&task).is_some_and(|c| match side {
            Side::Original => c.copy.is_some(),
            Side::Copy => c.original.is_some(),
        })
    }

    /// `worker` left: copies that ran there are gone (the attempts they
    /// copied go on), and tasks copied from there go on as their copies.
    /// Attempts left with no other are the caller's to place again.
    pub(super) fn copies_on_lost_worker(&mut self, worker: WorkerId) {
        if self.copies.is_empty() {
            return;
        }
        let hit: Vec<(TaskId, Side)> = self
            .copies
            .iter()
            .filter_map(|(&t, c)| {
                if c.copy.is_some_and(|(w, _)| w == worker) {
                    Some((t, Side::Copy))
                } else if c.original.is_some_and(|(w, _)| w == worker) {
                    Some((t, Side::Original))
                } else {
                    None
                }
            })
            .collect();
        for (task, side) in hit {
            if self.has_other_attempt(task, side) {
                self.copy_lost(task, side);
            } else {
                self.copies.remove(&task);
            }
        }
    }
}

#[cfg(test)]
mod test {
    use std::time::Duration;

    use super::super::test_support::runs;
    use crate::{Attempt, Command, FailureKind, Finish, Placement, Scheduler, Speculation};
    use crate::{Target, TaskGraph, TaskId, TaskKey, TaskOptions, TaskState, WorkerId};

    const W0: WorkerId = WorkerId::new(0);
    const W1: WorkerId = WorkerId::new(1);
    const FIRST: Attempt = Attempt::FIRST;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Two tiles on two workers (round-robin), speculation on, tile 0
    /// finished in 10 ms on worker 0 and tile 1 running on worker 1 — and
    /// a reader of tile 1. Returns the scheduler, tile 1 and its reader.
    fn straggling(retries: u32) -> (Scheduler, TaskId, TaskId) {
        let mut g = TaskGraph::new();
        let opts = TaskOptions {
            retries,
            ..TaskOptions::default()
        };
        let quick = g
            .add_task_with(TaskKey::indexed("tile", 0), &[], opts)
            .unwrap();
        let slow = g
            .add_task_with(TaskKey::indexed("tile", 1), &[], opts)
            .unwrap();
        let reader = g.add_task(TaskKey::new("summary"), &[slow]).unwrap();
        let mut s = Scheduler::new(g, Placement::RoundRobin, 2);
        s.set_speculation(Some(Speculation::new(2.0).min_runtime(ms(20))));
        let mut out = Vec::new();
        s.start(&mut out);
        s.task_started(quick, W0, FIRST).unwrap();
        s.task_started(slow, W1, FIRST).unwrap();
        s.task_finished(quick, W0, FIRST, Finish::new(ms(10), 8), &mut out)
            .unwrap();
        (s, slow, reader)
    }

    /// Copies `slow` onto worker 0; the copy's attempt.
    fn launch_copy(s: &mut Scheduler, slow: TaskId) -> Attempt {
        let mut out = Vec::new();
        assert_eq!(s.plan_copies([(slow, ms(100))], &mut out), 1);
        let copy = FIRST.next();
        assert_eq!(
            out,
            [Command::Run {
                task: slow,
                target: Target::Pinned(W0),
                attempt: copy
            }]
        );
        s.task_started(slow, W0, copy).unwrap();
        assert_eq!(s.state(slow), TaskState::Running(W1));
        copy
    }

    fn runs_of(out: &[Command], task: TaskId) -> usize {
        runs(out).iter().filter(|(t, _)| *t == task).count()
    }

    #[test]
    fn nothing_is_copied_off_too_early_unlearned_or_with_no_thread_to_spare() {
        let (mut s, slow, _) = straggling(0);
        let mut out = Vec::new();
        // Under the minimum, or under twice the learned 10 ms.
        assert_eq!(s.plan_copies([(slow, ms(19)), (slow, ms(19))], &mut out), 0);
        // Off: nothing.
        s.set_speculation(None);
        assert_eq!(s.plan_copies([(slow, ms(100))], &mut out), 0);
        assert!(out.is_empty());

        // A kind with no finished run has nothing to compare with.
        let mut g = TaskGraph::new();
        let t = g.add_task(TaskKey::new("first"), &[]).unwrap();
        let mut s = Scheduler::new(g, Placement::RoundRobin, 2);
        s.set_speculation(Some(Speculation::new(2.0).min_runtime(Duration::ZERO)));
        s.start(&mut out);
        s.task_started(t, W0, FIRST).unwrap();
        out.clear();
        assert_eq!(s.plan_copies([(t, ms(10_000))], &mut out), 0);

        // Every other worker's threads are taken.
        let mut g = TaskGraph::new();
        let tiles: Vec<TaskId> = (0..3)
            .map(|i| g.add_task(TaskKey::indexed("tile", i), &[]).unwrap())
            .collect();
        let mut s = Scheduler::new(g, Placement::RoundRobin, 2);
        s.set_speculation(Some(Speculation::new(2.0).min_runtime(Duration::ZERO)));
        s.start(&mut out);
        // tiles 0 and 2 on worker 0, tile 1 on worker 1.
        s.task_started(tiles[0], W0, FIRST).unwrap();
        s.task_started(tiles[1], W1, FIRST).unwrap();
        s.task_finished(tiles[0], W0, FIRST, Finish::new(ms(10), 1), &mut out)
            .unwrap();
        s.task_started(tiles[2], W0, FIRST).unwrap();
        out.clear();
        assert_eq!(s.plan_copies([(tiles[1], ms(100))], &mut out), 0);
        assert!(out.is_empty());
    }

    #[test]
    fn the_original_finishing_first_stops_the_copy_whose_result_is_refused() {
        let (mut s, slow, reader) = straggling(0);
        let copy = launch_copy(&mut s, slow);
        // Copied once only.
        let mut out = Vec::new();
        assert_eq!(s.plan_copies([(slow, ms(1000))], &mut out), 0);
        s.task_finished(slow, W1, FIRST, Finish::new(ms(120), 8), &mut out)
            .unwrap();
        assert_eq!(
            out[0],
            Command::CancelAttempt {
                task: slow,
                worker: W0,
                attempt: copy
            }
        );
        assert_eq!(runs_of(&out, reader), 1, "{out:?}");
        assert_eq!(s.result_location(slow).map(|l| l.0), Some(W1));
        assert!(s
            .task_finished(slow, W0, copy, Finish::default(), &mut out)
            .is_err());
        assert_eq!((s.counts().copied, s.counts().copies_won), (1, 0));
        // The copy's thread on worker 0 is free again.
        assert_eq!(s.queued_on(W0), 1, "the reader only");
    }

    #[test]
    fn a_failed_copy_leaves_the_original_and_uses_no_retry() {
        let (mut s, slow, _) = straggling(0);
        let copy = launch_copy(&mut s, slow);
        let mut out = Vec::new();
        s.task_failed(slow, W0, copy, FailureKind::Panic, &mut out)
            .unwrap();
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(s.state(slow), TaskState::Running(W1));
        assert_eq!((s.retries_used(slow), s.counts().retried), (0, 0));
        s.task_finished(slow, W1, FIRST, Finish::default(), &mut out)
            .unwrap();
        assert_eq!(s.state(slow), TaskState::Finished);
    }

    #[test]
    fn a_failed_original_leaves_the_copy_and_a_retry_after_both_gets_a_new_number() {
        let (mut s, slow, _) = straggling(1);
        let copy = launch_copy(&mut s, slow);
        let mut out = Vec::new();
        s.task_failed(slow, W1, FIRST, FailureKind::Error, &mut out)
            .unwrap();
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(s.state(slow), TaskState::Running(W0));
        // The copy is now the only attempt: its failure is the task's.
        s.task_failed(slow, W0, copy, FailureKind::Error, &mut out)
            .unwrap();
        let retry = copy.next();
        assert_eq!(s.attempt(slow), retry);
        assert_eq!(runs_of(&out, slow), 1);
        assert_eq!(s.retries_used(slow), 1);
    }

    #[test]
    fn a_lost_worker_takes_only_its_own_attempt() {
        // The original's worker leaves: the copy is the task now, nothing
        // is placed again.
        let (mut s, slow, reader) = straggling(0);
        let copy = launch_copy(&mut s, slow);
        let mut out = Vec::new();
        s.remove_worker(W1, &mut out).unwrap();
        assert_eq!(runs_of(&out, slow), 0, "{out:?}");
        assert_eq!(s.state(slow), TaskState::Running(W0));
        s.task_finished(slow, W0, copy, Finish::default(), &mut out)
            .unwrap();
        assert_eq!(runs_of(&out, reader), 1);
        assert_eq!(s.counts().copies_won, 1);

        // The copy's worker leaves: the original goes on.
        let (mut s, slow, _) = straggling(0);
        launch_copy(&mut s, slow);
        let mut out = Vec::new();
        s.remove_worker(W0, &mut out).unwrap();
        assert_eq!(runs_of(&out, slow), 0, "{out:?}");
        s.task_finished(slow, W1, FIRST, Finish::default(), &mut out)
            .unwrap();
        assert_eq!(s.state(slow), TaskState::Finished);

        // Both go: the task runs again on a new attempt.
        let (mut s, slow, _) = straggling(0);
        let copy = launch_copy(&mut s, slow);
        let mut out = Vec::new();
        s.remove_worker(W0, &mut out).unwrap();
        let w2 = s.add_worker(crate::WorkerOffer::new(1), &mut out);
        s.remove_worker(W1, &mut out).unwrap();
        assert_eq!(runs_of(&out, slow), 1, "{out:?}");
        assert!(s.attempt(slow) > copy);
        let _ = w2;
    }
}
