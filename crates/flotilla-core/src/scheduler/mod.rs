//! The scheduling state machine.
//!
//! A [`Scheduler`] owns a [`TaskGraph`] and a [`Placer`] and is fed events —
//! the run starts, a task finished, a task failed, a task is cancelled — to
//! which it answers with actions: run this task there, this task can never
//! run because of that one, that result is no longer needed. It has no
//! threads, no clock and no I/O: the in-process runtime, the cluster server
//! and the simulator drive the same code, and tests drive it directly with a
//! `Vec<Command>` that records what it decided.
//!
//! A failure or a cancellation abandons every task that depends on it,
//! transitively; unrelated branches carry on. Events that do not fit the
//! state of their task (a late "finished" from an earlier attempt, a task
//! finishing twice) are refused with a [`SchedulerError`] and change nothing.

mod actions;
mod balance;
mod durations;
mod error;
mod grow;
mod lineage;
mod locality;
mod resources;
mod retry;
mod speculation;
mod state;
#[cfg(test)]
mod test_support;
mod workers;

use std::collections::HashMap;
use std::sync::Arc;

use crate::graph::TaskGraph;
use crate::placement::{Placement, Placer, Target};
use crate::{Attempt, TaskId, WorkerId};

pub use actions::{Actions, Command};
use durations::Durations;
pub use durations::Finish;
pub use error::SchedulerError;
pub use lineage::WorkerLoss;
pub use retry::FailureKind;
use retry::Tries;
pub use speculation::Speculation;
pub use state::{TaskCounts, TaskState};
pub use workers::WorkerOffer;
use workers::WorkerTable;

/// `site` of a task placed on no worker, or whose result exists nowhere.
const NO_WORKER: u32 = u32::MAX;

/// After how many workers lost while running it a task fails as suspicious.
const DEFAULT_SUSPICIOUS_AFTER: u32 = 3;

/// The scheduling state machine of one run of a [`TaskGraph`].
///
/// # Examples
///
/// A diamond `a → (b, c) → d` on two workers:
///
/// ```
/// use flotilla_core::{Attempt, Command, Finish, Placement, Scheduler, TaskGraph, TaskKey, WorkerId};
///
/// let mut g = TaskGraph::new();
/// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
/// let b = g.add_task(TaskKey::new("b"), &[a]).unwrap();
/// let c = g.add_task(TaskKey::new("c"), &[a]).unwrap();
/// let d = g.add_task(TaskKey::new("d"), &[b, c]).unwrap();
///
/// let mut s = Scheduler::new(g, Placement::WorkStealing, 2);
/// let mut out = Vec::new();
/// s.start(&mut out);                 // a is ready
/// assert_eq!(out.len(), 1);
/// out.clear();
/// s.task_finished(a, WorkerId::new(0), Attempt::FIRST, Finish::default(), &mut out).unwrap();   // b and c become ready
/// assert_eq!(out.iter().filter(|c| matches!(c, Command::Run { .. })).count(), 2);
/// s.task_finished(b, WorkerId::new(0), Attempt::FIRST, Finish::default(), &mut out).unwrap();
/// s.task_finished(c, WorkerId::new(1), Attempt::FIRST, Finish::default(), &mut out).unwrap();   // d ready; a released
/// s.task_finished(d, WorkerId::new(1), Attempt::FIRST, Finish::default(), &mut out).unwrap();
/// assert!(s.is_done());
/// assert!(out.contains(&Command::Release { task: a }));
/// ```
#[derive(Debug)]
pub struct Scheduler {
    graph: Arc<TaskGraph>,
    /// The readers of each task known when the scheduler was built, as
    /// one flat list (offsets per task)...
    dependent_offsets: Vec<u32>,
    dependents: Vec<TaskId>,
    /// ...and those of tasks added later, per task (empty until a task is
    /// added to a running scheduler).
    added_dependents: Vec<Vec<TaskId>>,
    unfinished_deps: Vec<u32>,
    unfinished_dependents: Vec<u32>,
    state: Vec<TaskState>,
    /// The tries of the tasks that failed at least once; every other task
    /// is on its first attempt. Failures are rare, so this costs nothing
    /// per task and nothing on the path of a task that succeeds.
    tries: HashMap<TaskId, Tries>,
    suspicious_after: u32,
    /// Retries every task has at least (see [`Scheduler::set_retries`]).
    default_retries: u32,
    keep: Vec<bool>,
    /// Per task: the worker a ready or running task was placed on, or the
    /// worker that holds a finished task's result; `NO_WORKER` for none
    /// (the shared queue, a released or lost result).
    site: Vec<u32>,
    /// Per finished task: the bytes its result holds, as reported.
    result_bytes: Vec<u64>,
    /// Whether any finish reported a size; until then placement skips
    /// weighing input sizes.
    bytes_known: bool,
    /// Whether every worker reads every result at no cost (one process),
    /// so that where a result lives does not steer placement.
    results_shared: bool,
    /// How fast results move between workers (bytes per second), when a
    /// steal must pay for the transfer.
    transfer_rate: Option<f64>,
    workers: WorkerTable,
    /// Ready tasks that found no worker to go to; placed when one joins.
    parked: Vec<TaskId>,
    durations: Durations,
    /// Each worker's stealable tasks in order, while the core balances.
    steals: Option<balance::StealQueues>,
    placer: Placer,
    counts: TaskCounts,
    started: bool,
    scratch: Vec<TaskId>,
    near_scratch: Vec<(u32, u64)>,
    /// Tasks found unneeded while their readers' inputs were counted down.
    unneeded: Vec<TaskId>,
    /// The named resources of the tasks that need some.
    requirements: HashMap<TaskId, resources::Requirements>,
    /// The files the tasks that read some read, for input locality.
    inputs: HashMap<TaskId, Box<[Arc<str>]>>,
    /// Speculative copies of stragglers, when on.
    speculation: Option<Speculation>,
    /// The running tasks that were copied, with both attempts.
    copies: HashMap<TaskId, speculation::Copied>,
}

impl Scheduler {
    /// A scheduler for `graph` under `placement`, with `workers` workers
    /// present from the start (numbered from 0, each offering one thread;
    /// more may join with [`Scheduler::add_worker`] and any may leave).
    /// The graph may be given shared (`Arc<TaskGraph>`), so that a driver
    /// can read it without the scheduler.
    ///
    /// Results of tasks without dependents are kept (they are the outputs);
    /// others are released once every dependent finished. See
    /// [`Scheduler::keep`] to keep more.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph};
    /// let s = Scheduler::new(TaskGraph::new(), Placement::Block, 4);
    /// assert!(s.is_done());
    /// ```
    pub fn new(
        graph: impl Into<Arc<TaskGraph>>,
        placement: Placement,
        workers: usize,
    ) -> Scheduler {
        let graph: Arc<TaskGraph> = graph.into();
        let n = graph.len();
        let mut dependent_count = vec![0u32; n + 1];
        let mut unfinished_deps = Vec::with_capacity(n);
        for t in graph.task_ids() {
            let deps = graph.dependencies(t);
            unfinished_deps.push(deps.len() as u32);
            for d in deps {
                dependent_count[d.index() + 1] += 1;
            }
        }
        let unfinished_dependents: Vec<u32> = dependent_count[1..].to_vec();
        // Prefix sums turn counts into offsets.
        for i in 1..=n {
            dependent_count[i] += dependent_count[i - 1];
        }
        let dependent_offsets = dependent_count;
        let mut fill: Vec<u32> = dependent_offsets[..n].to_vec();
        let mut dependents = vec![TaskId::new(0); graph.edge_count()];
        for t in graph.task_ids() {
            for d in graph.dependencies(t) {
                dependents[fill[d.index()] as usize] = t;
                fill[d.index()] += 1;
            }
        }
        let keep = unfinished_dependents.iter().map(|&c| c == 0).collect();
        let mut table = WorkerTable::default();
        for _ in 0..workers {
            table.join(WorkerOffer::default());
        }
        Scheduler {
            placer: Placer::new(placement, workers, n),
            site: vec![NO_WORKER; n],
            result_bytes: vec![0; n],
            bytes_known: false,
            results_shared: false,
            transfer_rate: None,
            workers: table,
            parked: Vec::new(),
            durations: Durations::default(),
            steals: None,
            near_scratch: Vec::new(),
            counts: TaskCounts {
                total: n,
                ..TaskCounts::default()
            },
            state: vec![TaskState::Waiting; n],
            tries: HashMap::new(),
            suspicious_after: DEFAULT_SUSPICIOUS_AFTER,
            default_retries: 0,
            graph,
            dependent_offsets,
            dependents,
            added_dependents: Vec::new(),
            unfinished_deps,
            unfinished_dependents,
            keep,
            started: false,
            scratch: Vec::new(),
            unneeded: Vec::new(),
            requirements: HashMap::new(),
            inputs: HashMap::new(),
            speculation: None,
            copies: HashMap::new(),
        }
    }

    /// The graph being run.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph};
    /// assert!(Scheduler::new(TaskGraph::new(), Placement::Block, 1).graph().is_empty());
    /// ```
    pub fn graph(&self) -> &TaskGraph {
        &self.graph
    }

    /// The placement policy.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph};
    /// assert_eq!(Scheduler::new(TaskGraph::new(), Placement::Block, 1).placement(), Placement::Block);
    /// ```
    pub fn placement(&self) -> Placement {
        self.placer.placement()
    }

    /// The tasks that depend on `task`.
    ///
    /// # Panics
    ///
    /// Panics if `task` is not in the graph.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let b = g.add_task(TaskKey::new("b"), &[a]).unwrap();
    /// let s = Scheduler::new(g, Placement::Block, 1);
    /// assert_eq!(s.dependents(a).collect::<Vec<_>>(), [b]);
    /// ```
    pub fn dependents(&self, task: TaskId) -> impl Iterator<Item = TaskId> + '_ {
        (0..self.dependent_count(task)).map(move |k| self.dependent_at(task, k))
    }

    /// How many tasks read `task`'s result: those of the graph it was
    /// built with, then those added later.
    #[inline]
    fn dependent_count(&self, task: TaskId) -> usize {
        let i = task.index();
        let built = (self.dependent_offsets[i + 1] - self.dependent_offsets[i]) as usize;
        built + self.added_dependents.get(i).map_or(0, Vec::len)
    }

    /// The `k`-th reader of `task`'s result, `k < dependent_count(task)`.
    #[inline]
    fn dependent_at(&self, task: TaskId, k: usize) -> TaskId {
        let i = task.index();
        let lo = self.dependent_offsets[i] as usize;
        let built = self.dependent_offsets[i + 1] as usize - lo;
        if k < built {
            self.dependents[lo + k]
        } else {
            self.added_dependents[i][k - built]
        }
    }

    /// Keeps the result of `task` after its dependents finished (never emit
    /// [`Command::Release`] for it).
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 1);
    /// s.keep(a);
    /// ```
    pub fn keep(&mut self, task: TaskId) {
        if let Some(k) = self.keep.get_mut(task.index()) {
            *k = true;
        }
    }

    /// The state of a task.
    ///
    /// # Panics
    ///
    /// Panics if `task` is not in the graph.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, TaskKey, TaskState};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let s = Scheduler::new(g, Placement::Block, 1);
    /// assert_eq!(s.state(a), TaskState::Waiting);
    /// ```
    pub fn state(&self, task: TaskId) -> TaskState {
        self.state[task.index()]
    }

    /// Where the result of `task` lives and how many bytes it holds, while
    /// it exists: from its finish until it is released or its worker
    /// leaves.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flotilla_core::{Attempt, Finish, Placement, Scheduler, TaskGraph, TaskKey, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 2);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// assert_eq!(s.result_location(a), None);
    /// s.task_finished(a, WorkerId::new(1), Attempt::FIRST, Finish::new(Duration::ZERO, 640), &mut out).unwrap();
    /// assert_eq!(s.result_location(a), Some((WorkerId::new(1), 640)));
    /// ```
    pub fn result_location(&self, task: TaskId) -> Option<(WorkerId, u64)> {
        let i = task.index();
        let site = *self.site.get(i)?;
        (self.state[i] == TaskState::Finished && site != NO_WORKER)
            .then(|| (WorkerId::new(site), self.result_bytes[i]))
    }

    /// How many tasks are in each kind of state.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph};
    /// assert_eq!(Scheduler::new(TaskGraph::new(), Placement::Block, 1).counts().total, 0);
    /// ```
    pub fn counts(&self) -> TaskCounts {
        self.counts
    }

    /// Whether every task reached a terminal state.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph};
    /// assert!(Scheduler::new(TaskGraph::new(), Placement::Block, 1).is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.counts.done() == self.counts.total
    }

    /// Starts the run: every task without dependencies becomes ready and is
    /// placed, highest priority first (ties in graph order). Calling it
    /// again does nothing.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::CentralQueue, 2);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// s.start(&mut out);
    /// assert_eq!(out.len(), 1);
    /// ```
    pub fn start(&mut self, out: &mut impl Actions) {
        if self.started {
            return;
        }
        self.started = true;
        let mut ready: Vec<TaskId> = self
            .graph
            .task_ids()
            .filter(|t| {
                self.unfinished_deps[t.index()] == 0 && self.state[t.index()] == TaskState::Waiting
            })
            .collect();
        self.sort_by_priority(&mut ready);
        for t in ready {
            self.make_ready(t, None, out);
        }
    }

    fn sort_by_priority(&self, tasks: &mut [TaskId]) {
        if tasks.len() > 1 {
            tasks.sort_by_key(|t| std::cmp::Reverse(self.graph.options(*t).priority));
        }
    }

    fn make_ready(&mut self, task: TaskId, by: Option<WorkerId>, out: &mut impl Actions) {
        let i = task.index();
        self.state[i] = TaskState::Ready;
        let placed = match self.place_by_resources(task) {
            Some(pinned) => {
                if let Some(w) = pinned.and_then(|t| t.worker()) {
                    self.queue_pinned(task, w);
                }
                pinned
            }
            None => {
                // A task that reads files goes next to them; the others
                // next to their inputs' bytes, or sooner elsewhere.
                let near = self.near_input(task).or_else(|| {
                    let near = self.near(task, by);
                    near.map(|n| self.sooner_elsewhere(task, n).unwrap_or(n))
                });
                self.placer.place(i, self.graph.options(task).cost, near)
            }
        };
        match placed {
            Some(target) => {
                let site = target.worker().map_or(NO_WORKER, |w| w.index() as u32);
                self.site[i] = site;
                self.workers.queue(site);
                let attempt = self.attempt(task);
                if let (Some(steals), Target::Stealable(w)) = (self.steals.as_mut(), target) {
                    steals.push(w, task, attempt);
                }
                out.run(task, target, attempt);
            }
            None => {
                self.site[i] = NO_WORKER;
                self.parked.push(task);
            }
        }
    }

    /// The worker next to which `task` should run: the present worker that
    /// holds the most bytes of its inputs, or else `by`, the worker whose
    /// finish made it ready. Sizes are weighed only once some finish
    /// reported one, and not at all when results are shared.
    fn near(&mut self, task: TaskId, by: Option<WorkerId>) -> Option<WorkerId> {
        if !self.bytes_known || self.results_shared {
            return by;
        }
        let mut held = std::mem::take(&mut self.near_scratch);
        held.clear();
        for &d in self.graph.dependencies(task) {
            let site = self.site[d.index()];
            if site == NO_WORKER || self.state[d.index()] != TaskState::Finished {
                continue;
            }
            let bytes = self.result_bytes[d.index()];
            match held.iter_mut().find(|(w, _)| *w == site) {
                Some(h) => h.1 += bytes,
                None => held.push((site, bytes)),
            }
        }
        let by_bytes = by.and_then(|b| held.iter().find(|(w, _)| *w == b.index() as u32));
        let best = held
            .iter()
            .copied()
            .filter(|(w, _)| self.workers.is_present(WorkerId::new(*w)))
            .max_by_key(|&(w, bytes)| (bytes, std::cmp::Reverse(w)));
        let chosen = match (best, by_bytes) {
            // The finishing worker wins ties: its result is warm there.
            (Some((_, most)), Some(&(_, here))) if here >= most => by,
            (Some((w, bytes)), _) if bytes > 0 => Some(WorkerId::new(w)),
            _ => by,
        };
        self.near_scratch = held;
        chosen
    }

    /// Takes `task` off the queue of the worker it was placed on.
    #[inline]
    fn unqueue(&mut self, task: TaskId) {
        let site = std::mem::replace(&mut self.site[task.index()], NO_WORKER);
        if site != NO_WORKER {
            self.workers.unqueue(site);
            self.placer
                .finished(WorkerId::new(site), self.graph.options(task).cost);
        }
    }

    /// The attempt of `task` handed out last ([`Attempt::FIRST`] before
    /// it runs).
    ///
    /// # Panics
    ///
    /// Panics if `task` is not in the graph.
    ///
    /// ```
    /// use flotilla_core::{Attempt, Placement, Scheduler, TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// assert_eq!(Scheduler::new(g, Placement::Block, 1).attempt(a), Attempt::FIRST);
    /// ```
    pub fn attempt(&self, task: TaskId) -> Attempt {
        self.tries.get(&task).map_or(Attempt::FIRST, |t| t.attempt)
    }

    /// The retries `task` has left: its limit (its own or the
    /// scheduler's, whichever is higher) less the attempts that failed with
    /// an error or a panic. An attempt run with none left is its last: a
    /// task that must do something different then (skip its input,
    /// report instead of failing) can tell.
    ///
    /// # Panics
    ///
    /// Panics if `task` is not in the graph.
    ///
    /// ```
    /// use flotilla_core::{Attempt, FailureKind, Placement, Scheduler, TaskGraph, TaskKey, TaskOptions, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task_with(TaskKey::new("a"), &[], TaskOptions { retries: 1, ..Default::default() }).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 1);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// assert_eq!(s.retries_left(a), 1);
    /// s.task_failed(a, WorkerId::new(0), Attempt::FIRST, FailureKind::Error, &mut out).unwrap();
    /// assert_eq!(s.retries_left(a), 0);
    /// ```
    pub fn retries_left(&self, task: TaskId) -> u32 {
        let limit = self.graph.options(task).retries.max(self.default_retries);
        limit.saturating_sub(self.retries_used(task))
    }

    /// The attempts of `task` that failed with an error or a panic (and so
    /// used a retry, or failed it).
    ///
    /// ```
    /// use flotilla_core::{Attempt, FailureKind, Placement, Scheduler, TaskGraph, TaskKey, TaskOptions, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task_with(TaskKey::new("a"), &[], TaskOptions { retries: 2, ..Default::default() }).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 1);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// s.task_failed(a, WorkerId::new(0), Attempt::FIRST, FailureKind::Panic, &mut out).unwrap();
    /// assert_eq!(s.retries_used(a), 1);
    /// ```
    pub fn retries_used(&self, task: TaskId) -> u32 {
        self.tries.get(&task).map_or(0, |t| t.retries_used)
    }

    /// Why `task` failed, once it is [`TaskState::Failed`].
    ///
    /// ```
    /// use flotilla_core::{Attempt, FailureKind, Placement, Scheduler, TaskGraph, TaskKey, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 1);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// s.task_failed(a, WorkerId::new(0), Attempt::FIRST, FailureKind::Panic, &mut out).unwrap();
    /// assert_eq!(s.failure(a), Some(FailureKind::Panic));
    /// ```
    pub fn failure(&self, task: TaskId) -> Option<FailureKind> {
        self.tries.get(&task).and_then(|t| t.failure)
    }

    /// Says whether every worker reads every result at no cost, as the
    /// threads of one process do (default false, as for workers on
    /// several machines). Results still report their sizes, which
    /// [`result_location`](Scheduler::result_location) and
    /// [`bytes_produced_on`](Scheduler::bytes_produced_on) give back, but a
    /// ready task is then placed as if its inputs lived nowhere: next to
    /// the worker whose finish made it ready, or where the policy deals it,
    /// instead of on the worker that holds the most bytes of its inputs.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flotilla_core::{Attempt, Command, Finish, Placement, Scheduler, Target, TaskGraph, TaskKey, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let big = g.add_task(TaskKey::new("big"), &[]).unwrap();
    /// let small = g.add_task(TaskKey::new("small"), &[]).unwrap();
    /// let join = g.add_task(TaskKey::new("join"), &[big, small]).unwrap();
    /// let place_join = |shared: bool| {
    ///     let mut s = Scheduler::new(g.clone(), Placement::WorkStealing, 2);
    ///     s.set_results_shared(shared);
    ///     let mut out = Vec::new();
    ///     s.start(&mut out);
    ///     let mb = Finish::new(Duration::ZERO, 1 << 20);
    ///     s.task_finished(big, WorkerId::new(0), Attempt::FIRST, mb, &mut out).unwrap();
    ///     out.clear();
    ///     s.task_finished(small, WorkerId::new(1), Attempt::FIRST, Finish::new(Duration::ZERO, 8), &mut out).unwrap();
    ///     out.iter().find_map(|c| match c {
    ///         Command::Run { task, target, .. } if *task == join => Some(*target),
    ///         _ => None,
    ///     })
    /// };
    /// // Across machines the join goes where its megabyte is; in one process it stays
    /// // on the worker that made it ready.
    /// assert_eq!(place_join(false), Some(Target::Stealable(WorkerId::new(0))));
    /// assert_eq!(place_join(true), Some(Target::Stealable(WorkerId::new(1))));
    /// ```
    pub fn set_results_shared(&mut self, shared: bool) {
        self.results_shared = shared;
    }

    /// Bytes of results that finished attempts on `worker` reported, over
    /// the whole run (results since released included); 0 for a worker
    /// that never joined.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flotilla_core::{Attempt, Finish, Placement, Scheduler, TaskGraph, TaskKey, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 2);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// let w = WorkerId::new(0);
    /// s.task_finished(a, w, Attempt::FIRST, Finish::new(Duration::ZERO, 4096), &mut out).unwrap();
    /// assert_eq!(s.bytes_produced_on(w), 4096);
    /// assert_eq!(s.bytes_produced_on(WorkerId::new(1)), 0);
    /// ```
    pub fn bytes_produced_on(&self, worker: WorkerId) -> u64 {
        self.workers.bytes_produced(worker)
    }

    /// Gives every task at least `retries` retries after an error or a
    /// panic (default 0): a run-wide setting, as a caller sets it for one
    /// computation. A task whose own [`TaskOptions::retries`](crate::TaskOptions::retries) is higher
    /// keeps its own.
    ///
    /// ```
    /// use flotilla_core::{Attempt, FailureKind, Placement, Scheduler, TaskGraph, TaskKey, TaskState, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 1);
    /// s.set_retries(1);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// s.task_failed(a, WorkerId::new(0), Attempt::FIRST, FailureKind::Panic, &mut out).unwrap();
    /// assert_eq!(s.state(a), TaskState::Ready);
    /// ```
    pub fn set_retries(&mut self, retries: u32) {
        self.default_retries = retries;
    }

    /// Sets after how many workers lost while running a task the task is
    /// failed as suspicious instead of being given another worker (default
    /// 3, at least 1): a task that kills its workers must not take the
    /// whole cluster down.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph};
    /// let mut s = Scheduler::new(TaskGraph::new(), Placement::Block, 1);
    /// s.set_suspicious_after(5);
    /// assert_eq!(s.suspicious_after(), 5);
    /// ```
    pub fn set_suspicious_after(&mut self, workers: u32) {
        self.suspicious_after = workers.max(1);
    }

    /// After how many lost workers a task fails as suspicious.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph};
    /// assert_eq!(Scheduler::new(TaskGraph::new(), Placement::Block, 1).suspicious_after(), 3);
    /// ```
    pub fn suspicious_after(&self) -> u32 {
        self.suspicious_after
    }

    /// Checks a report about `task` from `worker` on `attempt`: the task
    /// must be ready or running, on that attempt, and if it is running, on
    /// that worker.
    fn check_report(
        &self,
        task: TaskId,
        worker: WorkerId,
        attempt: Attempt,
        event: &'static str,
    ) -> Result<(), SchedulerError> {
        // The common case, checked first: the right attempt of a task that
        // is ready or running on this worker.
        if let Some(state) = self.state.get(task.index()) {
            let on_worker = match *state {
                TaskState::Ready => true,
                TaskState::Running(w) => w == worker,
                _ => false,
            };
            if on_worker
                && self.attempt(task) == attempt
                && self.started
                && self.workers.is_present(worker)
            {
                return Ok(());
            }
        }
        if self.copied_side(task, worker, attempt).is_some()
            && matches!(self.state[task.index()], TaskState::Running(_))
        {
            // Either attempt of a copied task reports.
            return Ok(());
        }
        self.check(task, event, |s| {
            matches!(s, TaskState::Ready | TaskState::Running(_))
        })?;
        let current = self.attempt(task);
        if attempt != current {
            return Err(SchedulerError::StaleAttempt {
                task,
                key: self.graph.key(task).to_string(),
                event,
                reported: attempt,
                current,
            });
        }
        if !self.workers.is_present(worker) {
            return Err(SchedulerError::WorkerGone {
                task,
                key: self.graph.key(task).to_string(),
                event,
                worker,
            });
        }
        match self.state[task.index()] {
            TaskState::Running(running) if running != worker => Err(SchedulerError::WrongWorker {
                task,
                key: self.graph.key(task).to_string(),
                event,
                reported: worker,
                running,
            }),
            _ => Ok(()),
        }
    }

    fn check(
        &self,
        task: TaskId,
        event: &'static str,
        ok: impl Fn(TaskState) -> bool,
    ) -> Result<(), SchedulerError> {
        let state = *self
            .state
            .get(task.index())
            .ok_or(SchedulerError::UnknownTask(task))?;
        if ok(state) && self.started {
            Ok(())
        } else {
            Err(SchedulerError::UnexpectedEvent {
                task,
                key: self.graph.key(task).to_string(),
                event,
                state,
            })
        }
    }

    /// Records that `worker` started `task`. Drivers that do not need the
    /// [`TaskState::Running`] state may report only the finish.
    ///
    /// # Errors
    ///
    /// [`SchedulerError::UnexpectedEvent`] unless the task is ready; in
    /// particular a cancelled task must not be started.
    ///
    /// ```
    /// use flotilla_core::{Attempt, Placement, Scheduler, TaskGraph, TaskKey, TaskState, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 1);
    /// s.start(&mut Vec::new());
    /// s.task_started(a, WorkerId::new(0), Attempt::FIRST).unwrap();
    /// assert_eq!(s.state(a), TaskState::Running(WorkerId::new(0)));
    /// ```
    pub fn task_started(
        &mut self,
        task: TaskId,
        worker: WorkerId,
        attempt: Attempt,
    ) -> Result<(), SchedulerError> {
        if self.copied_side(task, worker, attempt).is_some() {
            // A copy of a running task started: it stays running.
            return Ok(());
        }
        self.check(task, "started", |s| s == TaskState::Ready)?;
        self.check_report(task, worker, attempt, "started")?;
        self.state[task.index()] = TaskState::Running(worker);
        Ok(())
    }

    /// Records that `task` finished on `worker`: dependents whose last
    /// dependency this was become ready (placed next to `worker` under work
    /// stealing), and dependencies no longer needed are released.
    ///
    /// # Errors
    ///
    /// [`SchedulerError::UnexpectedEvent`] unless the task was ready or
    /// running (a stale or repeated report).
    ///
    /// ```
    /// use flotilla_core::{Attempt, Finish, Placement, Scheduler, TaskGraph, TaskKey, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 1);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// s.task_finished(a, WorkerId::new(0), Attempt::FIRST, Finish::default(), &mut out).unwrap();
    /// assert!(s.task_finished(a, WorkerId::new(0), Attempt::FIRST, Finish::default(), &mut out).is_err());
    /// ```
    pub fn task_finished(
        &mut self,
        task: TaskId,
        worker: WorkerId,
        attempt: Attempt,
        finish: Finish,
        out: &mut impl Actions,
    ) -> Result<(), SchedulerError> {
        self.check_report(task, worker, attempt, "finished")?;
        if let Some(side) = self.copied_side(task, worker, attempt) {
            self.copy_won(task, worker, side, out);
        }
        let i = task.index();
        self.state[i] = TaskState::Finished;
        self.counts.finished += 1;
        self.unqueue(task);
        self.site[i] = worker.index() as u32;
        self.result_bytes[i] = finish.bytes();
        self.bytes_known |= finish.bytes() > 0;
        self.workers.produced(worker, finish.bytes());
        self.durations
            .record(self.graph.kind_of(task), finish.duration());

        let mut ready = std::mem::take(&mut self.scratch);
        for k in 0..self.dependent_count(task) {
            let d = self.dependent_at(task, k);
            let left = &mut self.unfinished_deps[d.index()];
            *left -= 1;
            if *left == 0 && self.state[d.index()] == TaskState::Waiting {
                ready.push(d);
            }
        }
        self.sort_by_priority(&mut ready);
        for &d in &ready {
            self.make_ready(d, Some(worker), out);
        }
        ready.clear();
        self.scratch = ready;

        self.inputs_done(task, out);
        // Every task that needed this result ended without it (abandoned
        // or cancelled while it ran): nobody will read it.
        if self.unfinished_dependents[i] == 0 && !self.keep[i] {
            self.release(task, out);
        }
        Ok(())
    }

    /// The result of `task` exists no more once the driver drops it.
    pub(super) fn release(&mut self, task: TaskId, out: &mut impl Actions) {
        self.site[task.index()] = NO_WORKER;
        out.release(task);
    }

    /// `task` reached a final state, so it reads its inputs no more: each
    /// finished input whose last reader this was is released. Called once
    /// per task, whatever its final state, so each result is released
    /// exactly once.
    ///
    /// An input that has not started and that nothing reads any more (every
    /// reader failed, was abandoned or cancelled, and the caller does not
    /// keep it) is cancelled, and so on up its own inputs: once a run's
    /// outputs are lost, the work that only fed them stops.
    fn inputs_done(&mut self, task: TaskId, out: &mut impl Actions) {
        let mut unneeded = std::mem::take(&mut self.unneeded);
        self.count_down_inputs(task, out, &mut unneeded);
        while let Some(t) = unneeded.pop() {
            if self.state[t.index()] == TaskState::Ready {
                out.cancel(t);
            }
            self.unqueue(t);
            self.state[t.index()] = TaskState::Cancelled;
            self.counts.cancelled += 1;
            self.count_down_inputs(t, out, &mut unneeded);
        }
        self.unneeded = unneeded;
    }

    fn count_down_inputs(
        &mut self,
        task: TaskId,
        out: &mut impl Actions,
        unneeded: &mut Vec<TaskId>,
    ) {
        for &dep in self.graph.dependencies(task) {
            let left = &mut self.unfinished_dependents[dep.index()];
            *left -= 1;
            if *left != 0 || self.keep[dep.index()] {
                continue;
            }
            match self.state[dep.index()] {
                TaskState::Finished if self.site[dep.index()] != NO_WORKER => {
                    // `release`, inlined: the loop borrows the graph.
                    self.site[dep.index()] = NO_WORKER;
                    out.release(dep);
                }
                TaskState::Waiting | TaskState::Ready if !self.has_finished_reader(dep) => {
                    unneeded.push(dep)
                }
                _ => {}
            }
        }
    }

    /// Whether a reader of `task` finished: then `task` is being computed
    /// again after its result was lost, and that reader may need it once
    /// more (when its own result is lost), so it is never unneeded.
    fn has_finished_reader(&self, task: TaskId) -> bool {
        (0..self.dependent_count(task))
            .any(|k| self.state[self.dependent_at(task, k).index()] == TaskState::Finished)
    }

    /// Records that `task` failed (returned an error or panicked). Every task
    /// that depends on it, directly or not, is abandoned; other branches go
    /// on. Inputs that only the failed and abandoned tasks still needed are
    /// released.
    ///
    /// # Errors
    ///
    /// [`SchedulerError::UnexpectedEvent`] unless the task was ready or
    /// running.
    ///
    /// ```
    /// use flotilla_core::{Attempt, FailureKind, Command, Placement, Scheduler, TaskGraph, TaskKey, TaskState, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let bad = g.add_task(TaskKey::new("bad"), &[]).unwrap();
    /// let child = g.add_task(TaskKey::new("child"), &[bad]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 1);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// s.task_failed(bad, WorkerId::new(0), Attempt::FIRST, FailureKind::Error, &mut out).unwrap();
    /// assert_eq!(s.state(child), TaskState::Abandoned { because: bad });
    /// assert!(out.contains(&Command::Abandon { task: child, because: bad }));
    /// ```
    ///
    /// An input the failed task shared with no one else is released:
    ///
    /// ```
    /// use flotilla_core::{Attempt, Command, FailureKind, Finish, Placement, Scheduler, TaskGraph, TaskKey, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let input = g.add_task(TaskKey::new("input"), &[]).unwrap();
    /// let bad = g.add_task(TaskKey::new("bad"), &[input]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 1);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// s.task_finished(input, WorkerId::new(0), Attempt::FIRST, Finish::default(), &mut out).unwrap();
    /// s.task_failed(bad, WorkerId::new(0), Attempt::FIRST, FailureKind::Error, &mut out).unwrap();
    /// assert!(out.contains(&Command::Release { task: input }));
    /// ```
    pub fn task_failed(
        &mut self,
        task: TaskId,
        worker: WorkerId,
        attempt: Attempt,
        kind: FailureKind,
        out: &mut impl Actions,
    ) -> Result<(), SchedulerError> {
        self.check_report(task, worker, attempt, "failed")?;
        if let Some(side) = self.copied_side(task, worker, attempt) {
            if self.has_other_attempt(task, side) {
                self.copy_lost(task, side);
                return Ok(());
            }
            self.copies.remove(&task);
        }
        self.attempt_failed(task, kind, out);
        Ok(())
    }

    /// The current attempt of `task` (ready or running) failed: the task
    /// gets another attempt if its policy allows, or fails for good.
    fn attempt_failed(&mut self, task: TaskId, kind: FailureKind, out: &mut impl Actions) {
        let i = task.index();
        let options = self.graph.options(task);
        self.unqueue(task);
        let tries = self.tries.entry(task).or_default();
        let try_again = match kind {
            FailureKind::WorkerLost => {
                tries.lost_workers += 1;
                tries.lost_workers < self.suspicious_after
            }
            FailureKind::Error | FailureKind::Panic => {
                let again = tries.retries_used < options.retries.max(self.default_retries);
                if again {
                    tries.retries_used += 1;
                }
                again
            }
        };
        if try_again {
            tries.attempt = tries.attempt.next();
            self.counts.retried += 1;
            // An input lost with a worker meanwhile is computed again first.
            if self.unfinished_deps[i] == 0 {
                self.make_ready(task, None, out);
            } else {
                self.wait_or_abandon(task, out);
            }
            return;
        }
        self.state[i] = TaskState::Failed;
        tries.failure = Some(kind);
        self.counts.failed += 1;
        self.inputs_done(task, out);
        self.abandon_dependents(task, task, out);
    }

    /// Cancels `task` if it has not started: it will not run, and every task
    /// that depends on it is abandoned. Returns whether it was cancelled
    /// (`false` when it already started or ended).
    ///
    /// A task already handed out (ready) is cancelled with a
    /// [`Command::Cancel`]: its driver drops it from the queue it waits in.
    ///
    /// ```
    /// use flotilla_core::{Command, Placement, Scheduler, TaskGraph, TaskKey, TaskState};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let b = g.add_task(TaskKey::new("b"), &[a]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::Block, 1);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// out.clear();
    /// assert!(s.cancel(a, &mut out));
    /// assert_eq!(s.state(a), TaskState::Cancelled);
    /// assert_eq!(out, [Command::Cancel { task: a }, Command::Abandon { task: b, because: a }]);
    /// assert!(s.is_done());
    /// ```
    pub fn cancel(&mut self, task: TaskId, out: &mut impl Actions) -> bool {
        match self.state.get(task.index()) {
            Some(&state @ (TaskState::Waiting | TaskState::Ready)) => {
                if state == TaskState::Ready {
                    out.cancel(task);
                }
                self.unqueue(task);
                self.state[task.index()] = TaskState::Cancelled;
                self.counts.cancelled += 1;
                self.inputs_done(task, out);
                self.abandon_dependents(task, task, out);
                true
            }
            _ => false,
        }
    }

    /// Abandons every task downstream of `root` that has not started,
    /// naming `because` (the task that failed or was cancelled) as cause.
    fn abandon_dependents(&mut self, root: TaskId, because: TaskId, out: &mut impl Actions) {
        let mut stack = std::mem::take(&mut self.scratch);
        stack.push(root);
        while let Some(t) = stack.pop() {
            for k in 0..self.dependent_count(t) {
                let d = self.dependent_at(t, k);
                if matches!(self.state[d.index()], TaskState::Waiting | TaskState::Ready) {
                    self.unqueue(d);
                    self.state[d.index()] = TaskState::Abandoned { because };
                    self.counts.abandoned += 1;
                    out.abandon(d, because);
                    self.inputs_done(d, out);
                    stack.push(d);
                }
            }
        }
        self.scratch = stack;
    }

    /// Approximate heap bytes held by this scheduler, graph included.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph};
    /// assert!(Scheduler::new(TaskGraph::new(), Placement::Block, 1).heap_bytes() < 1024);
    /// ```
    pub fn heap_bytes(&self) -> usize {
        self.graph.heap_bytes()
            + self.dependent_offsets.capacity() * 4
            + self.dependents.capacity() * std::mem::size_of::<TaskId>()
            + self.added_dependents.capacity() * std::mem::size_of::<Vec<TaskId>>()
            + self
                .added_dependents
                .iter()
                .map(|d| d.capacity() * std::mem::size_of::<TaskId>())
                .sum::<usize>()
            + self.unfinished_deps.capacity() * 4
            + self.unfinished_dependents.capacity() * 4
            + self.state.capacity() * std::mem::size_of::<TaskState>()
            + self.tries.capacity() * (std::mem::size_of::<(TaskId, Tries)>() + 1)
            + self.keep.capacity()
            + self.site.capacity() * 4
            + self.result_bytes.capacity() * 8
            + self.parked.capacity() * std::mem::size_of::<TaskId>()
            + self.unneeded.capacity() * std::mem::size_of::<TaskId>()
            + self.requirements.capacity()
                * (std::mem::size_of::<(TaskId, resources::Requirements)>() + 1)
            + self.inputs.capacity() * (std::mem::size_of::<(TaskId, Box<[Arc<str>]>)>() + 1)
            + self.copies.capacity() * (std::mem::size_of::<(TaskId, speculation::Copied)>() + 1)
            + self.workers.heap_bytes()
            + self.durations.heap_bytes()
            + self.steals.as_ref().map_or(0, |s| s.heap_bytes())
    }
}

#[cfg(test)]
mod test {
    use super::test_support::finish;
    use super::*;
    use crate::TaskKey;

    /// `out` → the tasks of `Command::Cancel`, in order.
    fn cancelled(out: &[Command]) -> Vec<TaskId> {
        out.iter()
            .filter_map(|c| match c {
                Command::Cancel { task } => Some(*task),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn work_that_only_fed_a_lost_output_is_cancelled_and_kept_work_is_not() {
        // map0..map3 feed reduce; side feeds only `kept`, an output.
        let mut g = TaskGraph::new();
        let maps: Vec<TaskId> = (0..4)
            .map(|i| g.add_task(TaskKey::indexed("map", i), &[]).unwrap())
            .collect();
        let feeder = g.add_task(TaskKey::new("feeder"), &[]).unwrap();
        let mid = g.add_task(TaskKey::new("mid"), &[feeder]).unwrap();
        let mut reduce_inputs = maps.clone();
        reduce_inputs.push(mid);
        let reduce = g.add_task(TaskKey::new("reduce"), &reduce_inputs).unwrap();
        let kept = g.add_task(TaskKey::new("kept"), &[maps[3]]).unwrap();
        let mut s = Scheduler::new(g, Placement::Block, 1);
        let mut out = Vec::new();
        s.start(&mut out);
        out.clear();
        let w = WorkerId::new(0);
        s.task_started(maps[0], w, s.attempt(maps[0])).unwrap();
        finish(&mut s, maps[0], 0, 8, &mut out);
        s.task_started(maps[1], w, s.attempt(maps[1])).unwrap();
        out.clear();
        s.task_failed(maps[1], w, s.attempt(maps[1]), FailureKind::Error, &mut out)
            .unwrap();
        // reduce is abandoned; map2 (ready), feeder (ready) and mid
        // (waiting) fed nothing else and stop; map0's result is released;
        // map3 still feeds `kept`.
        assert_eq!(s.state(reduce), TaskState::Abandoned { because: maps[1] });
        for t in [maps[2], feeder, mid] {
            assert_eq!(s.state(t), TaskState::Cancelled, "{t}");
        }
        let mut stopped = cancelled(&out);
        stopped.sort();
        assert_eq!(stopped, [maps[2], feeder]);
        assert!(out.contains(&Command::Release { task: maps[0] }));
        assert_eq!(s.state(maps[3]), TaskState::Ready);
        assert!(!s.is_done());
        s.task_started(maps[3], w, s.attempt(maps[3])).unwrap();
        finish(&mut s, maps[3], 0, 8, &mut out);
        s.task_started(kept, w, s.attempt(kept)).unwrap();
        finish(&mut s, kept, 0, 8, &mut out);
        assert!(s.is_done());
        let counts = s.counts();
        assert_eq!((counts.finished, counts.failed), (3, 1));
        assert_eq!((counts.abandoned, counts.cancelled), (1, 3));
    }
}
