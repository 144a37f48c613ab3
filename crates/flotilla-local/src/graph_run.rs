//! Running a task graph on the pool: the runtime side of the scheduler core.
//!
//! A run holds the core's [`Scheduler`] behind a mutex and one result slot
//! per task. Each job runs one task: it reads its inputs (the results of its
//! dependencies), calls the task's function under `catch_unwind`, stores the
//! result, and reports the outcome to the scheduler, whose answers —
//! run these now-ready tasks there, abandon those, release that result —
//! are carried out on the spot by [`Dispatch`]. The scheduler lock is held
//! only for that bookkeeping, never while user code runs.

use std::any::Any;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use flotilla_core::trace::{DecisionKind, Outcome};
use flotilla_core::{
    Actions, Attempt, FailureKind, Finish, Placement, RunReport, Scheduler, Speculation, Target,
    TaskGraph, TaskId, TaskState, WorkerId,
};

use crate::error::{panic_message, SharedError, TaskError};
use crate::executor::CpuPool;
use crate::pool::{stats_since, PoolHandle};
use crate::progress::Progress;
use crate::recording::{tag_current_job, Recording, SmallGraph, Tag, DRAWN_GRAPH_TASKS};

/// A task's result, shared between the tasks that read it.
pub(crate) type Value = Arc<dyn Any + Send + Sync>;

/// A task's function: inputs in dependency order (given to it, so that a
/// task holding the only copy of an input can move it out), a value or an
/// error message.
pub(crate) type TaskFn = Arc<dyn Fn(Vec<Value>) -> Result<Value, TaskError> + Send + Sync>;

/// One task of a graph to run: its function, the function's Rust path, and
/// whether its result goes to its last reader instead of being shared.
#[derive(Clone)]
pub(crate) struct GraphTask {
    pub(crate) func: TaskFn,
    pub(crate) function: &'static str,
    pub(crate) hand_over: bool,
}

thread_local! {
    /// Bytes the task running on this thread said its result holds.
    static RESULT_BYTES: Cell<u64> = const { Cell::new(0) };
}

/// Tells the scheduler that the result of the running task holds `bytes`
/// bytes (calls add up). The size shows in the run's
/// [`RunReport`] (per worker, [`WorkerStats::result_bytes`](flotilla_core::WorkerStats::result_bytes)).
/// Results live in this process's memory, where any worker reads them at
/// no cost, so the size does not steer placement here. Outside a task of a
/// graph it does nothing.
///
/// The collections report the sizes of their partitions and shuffle
/// pieces; a task of your own may report its result's.
///
/// ```
/// use flotilla_local::{record_result_bytes, ComputeOptions, Delayed};
///
/// let blocks: Vec<Delayed<Vec<u64>>> = (0..4)
///     .map(|i| {
///         Delayed::from_fn(move || {
///             let block = vec![i; 1000];
///             record_result_bytes(8 * block.len() as u64);
///             block
///         })
///     })
///     .collect();
/// let total = Delayed::gather(&blocks, |bs| bs.iter().map(|b| b.len()).sum::<usize>());
/// let (n, report) = total.compute_shared_with(&ComputeOptions::new()).unwrap();
/// assert_eq!(*n, 4000);
/// assert_eq!(report.result_bytes(), 32_000);
/// ```
pub fn record_result_bytes(bytes: u64) {
    RESULT_BYTES.with(|b| b.set(b.get().saturating_add(bytes)));
}

/// The payload with which [`input_consumed`] unwinds a task.
struct InputConsumed(usize);

/// The payload with which [`fail_task`] unwinds a task.
struct TaskFailure(SharedError);

/// Ends the running task with `error`, kept with its type: a task failure
/// the scheduler sees (retried up to the task's
/// [retries](crate::Delayed::retries), then final), whose dependents do not
/// run and report the same error ([`TaskError::FailedWith`]), so that the
/// caller of the computation gets `error` back whole. Unlike a panic it
/// runs no panic hook and prints nothing. A task submitted to a
/// [`CpuPool`] (or an item of [`CpuPool::map`]) that calls it ends with the
/// same [`TaskError::FailedWith`] (such tasks have no retries); anywhere
/// else it unwinds like a panic.
///
/// A collection whose tasks meet an error of its own type (a file that
/// cannot be read, a spill that cannot be written) calls it, so that the
/// error is retried and stops the work that needed it, and the
/// collection's caller still matches on the collection's error type.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use flotilla_local::{fail_task, Delayed, TaskError};
///
/// let read = Delayed::from_fn(|| -> Vec<u8> { fail_task(std::io::Error::other("disk gone")) });
/// let err = read.map(|v| v.len()).compute().unwrap_err();
/// let TaskError::FailedWith { error, .. } = &err else { panic!("{err:?}") };
/// assert_eq!(error.downcast_ref::<std::io::Error>().unwrap().to_string(), "disk gone");
///
/// // Retried like any failure:
/// let tries = AtomicU32::new(0);
/// let flaky = Delayed::from_fn(move || {
///     if tries.fetch_add(1, Ordering::SeqCst) == 0 {
///         fail_task(std::io::Error::other("not yet"))
///     }
///     7
/// });
/// assert_eq!(flaky.retries(1).compute().unwrap(), 7);
/// ```
pub fn fail_task(error: impl std::error::Error + Send + Sync + 'static) -> ! {
    std::panic::resume_unwind(Box::new(TaskFailure(SharedError::new(error))))
}

/// The error of a task that unwound with [`fail_task`], or the payload of
/// a panic. Every place that runs tasks under `catch_unwind` asks this.
pub(crate) fn task_failure(
    payload: Box<dyn Any + Send>,
) -> Result<SharedError, Box<dyn Any + Send>> {
    payload.downcast::<TaskFailure>().map(|failure| failure.0)
}

/// Ends the running task because its input `index` (in dependency order)
/// was consumed by an earlier attempt of it: an input it read by moving
/// part of it out, which a retry cannot read again. The scheduler computes
/// that input again from lineage and runs the task again once it is there;
/// nothing counts as a failure. Outside a task of a graph run it unwinds
/// like a panic.
///
/// A collection whose tasks take parts of a shared result (a shuffle's
/// reducer taking its bucket of each map task's output) calls it when a
/// part it needs is gone.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::{Arc, Mutex};
/// use flotilla_local::{input_consumed, Delayed};
///
/// let made = Arc::new(AtomicU32::new(0));
/// let counter = Arc::clone(&made);
/// // A value whose reader moves its contents out.
/// let parts = Delayed::from_fn(move || {
///     counter.fetch_add(1, Ordering::SeqCst);
///     Mutex::new(Some(vec![1, 2, 3]))
/// });
/// let tries = AtomicU32::new(0);
/// let sum = parts
///     .map(move |cell| {
///         let Some(v) = cell.lock().unwrap().take() else { input_consumed(0) };
///         assert!(tries.fetch_add(1, Ordering::SeqCst) > 0, "the first try fails");
///         v.iter().sum::<i32>()
///     })
///     .retries(1);
/// assert_eq!(sum.compute().unwrap(), 6);
/// assert_eq!(made.load(Ordering::SeqCst), 2); // computed again for the retry
/// ```
pub fn input_consumed(index: usize) -> ! {
    std::panic::resume_unwind(Box::new(InputConsumed(index)))
}

/// How to run a graph.
///
/// ```
/// use flotilla_local::{ComputeOptions, CpuPool};
/// use flotilla_core::Placement;
/// let pool = CpuPool::with_threads(2).unwrap();
/// let opts = ComputeOptions::new().pool(&pool).placement(Placement::RoundRobin).progress(false);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ComputeOptions {
    pool: Option<CpuPool>,
    placement: Option<Placement>,
    progress: Option<bool>,
    label: Option<String>,
    retries: u32,
    speculation: Option<Speculation>,
    report: Option<PathBuf>,
    #[cfg(feature = "dashboard")]
    dashboard: Option<String>,
}

impl ComputeOptions {
    /// The defaults: the global pool, its placement policy, a progress bar
    /// when the run lasts over a second and stderr is a terminal.
    ///
    /// ```
    /// let o = flotilla_local::ComputeOptions::new();
    /// ```
    pub fn new() -> ComputeOptions {
        ComputeOptions::default()
    }

    /// Run on this pool.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(1).unwrap();
    /// let o = flotilla_local::ComputeOptions::new().pool(&pool);
    /// ```
    pub fn pool(mut self, pool: &CpuPool) -> ComputeOptions {
        self.pool = Some(pool.clone());
        self
    }

    /// Place tasks with this policy (default: the pool's).
    ///
    /// ```
    /// let o = flotilla_local::ComputeOptions::new().placement(flotilla_core::Placement::Block);
    /// ```
    pub fn placement(mut self, placement: Placement) -> ComputeOptions {
        self.placement = Some(placement);
        self
    }

    /// Force the progress bar off (`false`) or allow it (`true`, the
    /// default: it still only shows on a terminal, after a second).
    ///
    /// ```
    /// let o = flotilla_local::ComputeOptions::new().progress(false);
    /// ```
    pub fn progress(mut self, show: bool) -> ComputeOptions {
        self.progress = Some(show);
        self
    }

    /// Lets every task of the run that returns an error or panics run
    /// again up to `retries` more times (default 0; a task given more of
    /// its own, with [`Graph::insert_with`](crate::Graph::insert_with) or
    /// [`Delayed::retries`](crate::Delayed::retries), keeps its own). Every
    /// API that runs on the scheduler honours it: task graphs, bags, data
    /// frames, arrays.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use flotilla_local::{ComputeOptions, Delayed};
    /// let tries = Arc::new(AtomicU32::new(0));
    /// let counter = Arc::clone(&tries);
    /// let flaky = Delayed::from_fn(move || {
    ///     // The first two tries fail.
    ///     assert!(counter.fetch_add(1, Ordering::SeqCst) >= 2, "not yet");
    ///     7
    /// });
    /// assert!(flaky.compute().is_err());
    /// assert_eq!(flaky.compute_with(&ComputeOptions::new().retries(1)).unwrap(), 7);
    /// assert_eq!(tries.load(Ordering::SeqCst), 3);
    /// ```
    pub fn retries(mut self, retries: u32) -> ComputeOptions {
        self.retries = retries;
        self
    }

    /// Copies a task that runs `speculation`'s factor times longer than the
    /// others of its kind onto another pool thread with nothing queued; the
    /// first to finish is kept (the other's result is ignored) and the run
    /// ends without waiting for the straggler. The run report counts the
    /// copies launched and won. Off unless set; tasks should be free of
    /// side effects, since both attempts run.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use flotilla_local::{ComputeOptions, CpuPool, Delayed, Speculation};
    ///
    /// let pool = CpuPool::with_threads(2).unwrap();
    /// let first = Arc::new(AtomicBool::new(true));
    /// // Ten parts of 20 ms; the first call of all (one of them) takes 3 s.
    /// let parts: Vec<Delayed<u64>> = (0..10u64)
    ///     .map(|i| {
    ///         let first = Arc::clone(&first);
    ///         Delayed::from_fn(move || {
    ///             let slow = first.swap(false, Ordering::SeqCst);
    ///             std::thread::sleep(Duration::from_millis(if slow { 3_000 } else { 20 }));
    ///             i
    ///         })
    ///     })
    ///     .collect();
    /// let sum = Delayed::gather(&parts, |v| v.iter().copied().sum::<u64>());
    /// let options = ComputeOptions::new()
    ///     .pool(&pool)
    ///     .speculation(Speculation::new(3.0).min_runtime(Duration::from_millis(100)));
    /// let (value, report) = sum.compute_shared_with(&options).unwrap();
    /// assert_eq!(*value, 45);
    /// assert!(report.copies_won >= 1);
    /// assert!(report.makespan < Duration::from_secs(3), "{report}");
    /// ```
    pub fn speculation(mut self, speculation: Speculation) -> ComputeOptions {
        self.speculation = Some(speculation);
        self
    }

    /// Writes a run report at `path` when the run ends: one
    /// self-contained HTML file (it opens offline) with the task stream
    /// (one lane per pool thread, a bar per task coloured by kind, steals
    /// marked), utilization over time per thread, durations per kind of
    /// task, the scheduler's decisions (retries, speculative copies,
    /// recomputations) and the run's settings. The file is created before
    /// anything runs: a path that cannot be written fails the run at once
    /// ([`TaskError::Report`]) and nothing is computed.
    ///
    /// ```
    /// use flotilla_local::{ComputeOptions, Delayed};
    /// let path = std::env::temp_dir().join(format!("flotilla-doc-run-{}.html", std::process::id()));
    /// let parts: Vec<_> = (0..4u64).map(|i| Delayed::from_fn(move || i).named("part")).collect();
    /// let sum = Delayed::gather(&parts, |v| v.iter().copied().sum::<u64>());
    /// assert_eq!(sum.compute_with(&ComputeOptions::new().report(&path)).unwrap(), 6);
    /// let html = std::fs::read_to_string(&path).unwrap();
    /// assert!(html.contains("part") && html.contains("<svg"));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn report(mut self, path: impl AsRef<Path>) -> ComputeOptions {
        self.report = Some(path.as_ref().to_path_buf());
        self
    }

    /// Serves a live dashboard of the run's pool at `addr` (`host:port`)
    /// from this run on, for the rest of the process (see
    /// [`CpuPool::dashboard`]); later runs asking for the same address
    /// find it there. Setting `FLOTILLA_DASHBOARD=host:port` does the same
    /// for the default pool without changing the program. An address that
    /// cannot be served fails the run at once ([`TaskError::Dashboard`]);
    /// nothing is computed.
    ///
    /// ```
    /// use flotilla_local::{ComputeOptions, Delayed, TaskError};
    /// let err = Delayed::value(1)
    ///     .map(|x| x + 1)
    ///     .compute_with(&ComputeOptions::new().dashboard("no port here"))
    ///     .unwrap_err();
    /// assert!(matches!(err, TaskError::Dashboard { .. }), "{err}");
    /// ```
    #[cfg(feature = "dashboard")]
    pub fn dashboard(mut self, addr: &str) -> ComputeOptions {
        self.dashboard = Some(addr.to_string());
        self
    }

    /// The label of the progress bar.
    ///
    /// ```
    /// let o = flotilla_local::ComputeOptions::new().label("loading");
    /// ```
    pub fn label(mut self, label: &str) -> ComputeOptions {
        self.label = Some(label.to_string());
        self
    }

    pub(crate) fn resolved_pool(&self) -> CpuPool {
        self.pool
            .clone()
            .unwrap_or_else(|| CpuPool::global().clone())
    }
}

struct GraphRun {
    scheduler: Mutex<Scheduler>,
    /// The graph, shared with the scheduler and read without its lock.
    graph: Arc<TaskGraph>,
    tasks: Vec<GraphTask>,
    results: Vec<Mutex<Option<Value>>>,
    /// Per task, how many readers have not started their first attempt;
    /// the last one takes the result (`u32::MAX` for an output, which is
    /// never taken). See [`GraphRun::read_inputs`].
    readers_to_start: Vec<AtomicU32>,
    /// Per task, whether its first attempt started.
    started: Vec<AtomicBool>,
    errors: Mutex<HashMap<TaskId, TaskError>>,
    /// Per task, the attempt handed to the pool last.
    queued_attempt: Vec<AtomicU32>,
    /// Attempts cancelled after they were queued: their jobs are skipped.
    cancelled: Mutex<HashSet<(TaskId, u32)>>,
    any_cancelled: AtomicBool,
    terminal: AtomicUsize,
    done: Mutex<bool>,
    done_signal: Condvar,
    pool: PoolHandle,
    /// With speculation: when each running attempt started.
    running: Option<Mutex<HashMap<(TaskId, u32), Instant>>>,
    /// While the pool is recorded: each task's kind, and how its last
    /// attempt ended.
    traced: Option<Traced>,
}

/// What a recorded run keeps to tag its spans and name its decisions.
struct Traced {
    recording: Arc<Recording>,
    kinds: Vec<u32>,
    /// Per task: 0 while no attempt ended, else `Outcome as u8 + 1`.
    last: Vec<AtomicU8>,
}

impl Traced {
    fn new(recording: &Arc<Recording>, graph: &TaskGraph) -> Traced {
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let kinds: Vec<u32> = graph
            .task_ids()
            .map(|t| {
                let kind = graph.key(t).kind();
                *ids.entry(kind).or_insert_with(|| recording.kind(kind))
            })
            .collect();
        let mut planned: HashMap<u32, u64> = HashMap::new();
        for &k in &kinds {
            *planned.entry(k).or_default() += 1;
        }
        for (k, n) in planned {
            recording.plan(k, n);
        }
        if graph.len() <= DRAWN_GRAPH_TASKS {
            recording.set_graph(SmallGraph {
                keys: graph.task_ids().map(|t| graph.key(t).to_string()).collect(),
                kinds: kinds.clone(),
                edges: graph
                    .task_ids()
                    .flat_map(|t| {
                        graph
                            .dependencies(t)
                            .iter()
                            .map(move |d| (d.index() as u32, t.index() as u32))
                    })
                    .collect(),
            });
        }
        Traced {
            recording: Arc::clone(recording),
            kinds,
            last: (0..graph.len()).map(|_| AtomicU8::new(0)).collect(),
        }
    }

    /// Tags the running job (attempt of `task`) before it is accounted.
    fn tag(&self, task: TaskId, outcome: Outcome) {
        self.last[task.index()].store(outcome as u8 + 1, Ordering::Relaxed);
        tag_current_job(Tag {
            task: task.index() as u32,
            kind: self.kinds[task.index()],
            outcome,
        });
    }

    /// Why `task` runs again: after a failure a retry, while its attempt
    /// still runs a speculative copy, else a recomputation.
    fn rerun(&self, graph: &TaskGraph, task: TaskId, attempt: Attempt) {
        let kind = match self.last[task.index()].load(Ordering::Relaxed) {
            0 => DecisionKind::Copy,
            x if x == Outcome::Failed as u8 + 1 => DecisionKind::Retry,
            _ => DecisionKind::Recompute,
        };
        self.recording
            .decide(kind, graph.key(task).to_string(), attempt.number());
    }
}

/// How often a run with speculation looks for stragglers.
const STRAGGLER_CHECK: Duration = Duration::from_millis(20);

/// Forgets a running attempt when its job ends, however it ends.
struct Running<'a> {
    run: &'a GraphRun,
    key: (TaskId, u32),
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Some(running) = &self.run.running {
            lock(running).remove(&self.key);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Carries out the scheduler's commands while its lock is held. Abandoned
/// tasks are noted and given their errors once the scheduler call returned
/// (their messages need the graph's keys).
struct Dispatch<'a> {
    run: &'a Arc<GraphRun>,
    abandoned: Vec<(TaskId, TaskId)>,
}

impl Actions for Dispatch<'_> {
    fn run(&mut self, task: TaskId, target: Target, attempt: Attempt) {
        self.run.queued_attempt[task.index()].store(attempt.number(), Ordering::Relaxed);
        if let Some(traced) = &self.run.traced {
            if attempt.number() > 1 {
                traced.rerun(&self.run.graph, task, attempt);
            }
        }
        // A job left in a queue when the run ends (a cancelled or replaced
        // attempt) must not keep the run's tasks and results alive: it holds
        // the run weakly, and does nothing once the run is gone.
        let run = Arc::downgrade(self.run);
        let job = move || {
            if let Some(run) = run.upgrade() {
                run.execute(task, attempt);
            }
        };
        self.run.pool.push(Box::new(job), target);
    }

    fn abandon(&mut self, task: TaskId, because: TaskId) {
        self.abandoned.push((task, because));
    }

    fn release(&mut self, task: TaskId) {
        *lock(&self.run.results[task.index()]) = None;
    }

    fn cancel(&mut self, task: TaskId) {
        let attempt = self.run.queued_attempt[task.index()].load(Ordering::Relaxed);
        lock(&self.run.cancelled).insert((task, attempt));
        self.run.any_cancelled.store(true, Ordering::Release);
    }

    // The pool's workers steal for themselves (with the core's victim
    // choice); this run never turns on core-planned steals.
    fn steal(&mut self, _: TaskId, _: Attempt, _: WorkerId, _: WorkerId) {}
}

impl GraphRun {
    /// Feeds one event to the scheduler and carries out its answer.
    fn with_scheduler(self: &Arc<Self>, event: impl FnOnce(&mut Scheduler, &mut Dispatch<'_>)) {
        let mut sched = lock(&self.scheduler);
        let mut dispatch = Dispatch {
            run: self,
            abandoned: Vec::new(),
        };
        event(&mut sched, &mut dispatch);
        if !dispatch.abandoned.is_empty() {
            let mut errors = lock(&self.errors);
            for (task, because) in dispatch.abandoned {
                let error = match errors.get(&because) {
                    // A typed failure is passed on whole (see `fail_task`).
                    Some(typed @ TaskError::FailedWith { .. }) => typed.clone(),
                    cause => TaskError::DependencyFailed {
                        task: sched.graph().key(task).to_string(),
                        dependency: sched.graph().key(because).to_string(),
                        cause: cause
                            .map(ToString::to_string)
                            .unwrap_or_else(|| "it was cancelled".into()),
                    },
                };
                errors.insert(task, error);
            }
        }
        let counts = sched.counts();
        self.terminal.store(counts.done(), Ordering::Relaxed);
        if sched.is_done() {
            drop(sched);
            *lock(&self.done) = true;
            self.done_signal.notify_all();
        }
    }

    /// The results of `task`'s inputs, in dependency order; or the first
    /// input whose result is gone.
    ///
    /// A result is shared by its readers, except a result handed over
    /// ([`GraphTask::hand_over`]): the last of its readers to start its
    /// first attempt takes it, so that it holds the only copy (a
    /// collection's task can then move the value instead of cloning it) and
    /// the memory goes as soon as it is done. If that reader runs again (a
    /// retry), the result is gone: the scheduler computes it again from
    /// lineage ([`Scheduler::input_lost`]), and later attempts only share.
    fn read_inputs(&self, task: TaskId) -> Result<Vec<Value>, TaskId> {
        // Whether this is the task's first attempt: asked (and recorded)
        // only when an input is handed over, so shared inputs cost nothing.
        let mut first = None;
        let deps = self.graph.dependencies(task);
        let mut inputs = Vec::with_capacity(deps.len());
        for (i, &d) in deps.iter().enumerate() {
            let mut result = lock(&self.results[d.index()]);
            let readers = &self.readers_to_start[d.index()];
            let last = readers.load(Ordering::Relaxed) != u32::MAX
                && *first.get_or_insert_with(|| {
                    !self.started[task.index()].swap(true, Ordering::Relaxed)
                })
                && readers.fetch_sub(1, Ordering::Relaxed) == 1;
            let value = if last { result.take() } else { result.clone() };
            // A task that reads one input twice took it at its first mention.
            let value = value.or_else(|| {
                let earlier = deps[..i].iter().position(|&e| e == d)?;
                inputs.get(earlier).cloned()
            });
            match value {
                Some(v) => inputs.push(v),
                None => return Err(d),
            }
        }
        Ok(inputs)
    }

    /// Accounts the running job (an attempt of `task` that ended as
    /// `outcome`), tagged when the pool is recorded; returns how long it ran.
    fn account(&self, task: TaskId, outcome: Outcome) -> Duration {
        if let Some(traced) = &self.traced {
            traced.tag(task, outcome);
        }
        crate::pool::account_current_job()
    }

    fn execute(self: &Arc<Self>, task: TaskId, attempt: Attempt) {
        if self.any_cancelled.load(Ordering::Acquire)
            && lock(&self.cancelled).contains(&(task, attempt.number()))
        {
            return;
        }
        let worker = self.pool.current_worker().unwrap_or(WorkerId::new(0));
        let _running = self.running.as_ref().map(|running| {
            // The core copies only tasks it knows to be running.
            self.with_scheduler(|s, _| {
                let _ = s.task_started(task, worker, attempt);
            });
            lock(running).insert((task, attempt.number()), Instant::now());
            Running {
                run: self,
                key: (task, attempt.number()),
            }
        });
        let GraphTask { func, function, .. } = &self.tasks[task.index()];
        let inputs = match self.read_inputs(task) {
            Ok(inputs) => inputs,
            Err(lost) => {
                let _ = self.account(task, Outcome::InputLost);
                return self.with_scheduler(|s, d| {
                    let _ = s.input_lost(task, worker, attempt, lost, d);
                });
            }
        };
        // A task waiting inside (a scope, `yield_now`) runs others on this
        // stack: each keeps its own count.
        let outer_bytes = RESULT_BYTES.with(|b| b.replace(0));
        let outcome = catch_unwind(AssertUnwindSafe(|| func(inputs)));
        let bytes = RESULT_BYTES.with(|b| b.replace(outer_bytes));
        match outcome {
            Ok(Ok(value)) => {
                *lock(&self.results[task.index()]) = Some(value);
                let took = self.account(task, Outcome::Done);
                let finish = Finish::new(took, bytes);
                self.with_scheduler(|s, d| {
                    let _ = s.task_finished(task, worker, attempt, finish, d);
                });
            }
            // The task's key in this graph wins over any name captured
            // when its function was made (a node renamed later).
            Ok(Err(err)) => self.fail(task, worker, attempt, FailureKind::Error, |key| match err {
                TaskError::Failed {
                    function, message, ..
                } => TaskError::Failed {
                    task: key,
                    function,
                    message,
                },
                TaskError::WrongInputType {
                    index,
                    expected,
                    found,
                    ..
                } => TaskError::WrongInputType {
                    task: key,
                    index,
                    expected,
                    found,
                },
                other => other,
            }),
            Err(payload) => {
                if let Some(&InputConsumed(index)) = payload.downcast_ref::<InputConsumed>() {
                    let lost = self.graph.dependencies(task).get(index).copied();
                    let _ = self.account(task, Outcome::InputLost);
                    if let Some(lost) = lost {
                        return self.with_scheduler(|s, d| {
                            let _ = s.input_lost(task, worker, attempt, lost, d);
                        });
                    }
                }
                let payload = match task_failure(payload) {
                    Ok(error) => {
                        return self.fail(task, worker, attempt, FailureKind::Error, |key| {
                            TaskError::FailedWith {
                                task: key,
                                function: function.to_string(),
                                error,
                            }
                        });
                    }
                    Err(payload) => payload,
                };
                let message = panic_message(&*payload);
                self.fail(task, worker, attempt, FailureKind::Panic, |key| {
                    TaskError::Panicked {
                        task: key,
                        function: function.to_string(),
                        message,
                    }
                })
            }
        }
    }

    fn fail(
        self: &Arc<Self>,
        task: TaskId,
        worker: WorkerId,
        attempt: Attempt,
        kind: FailureKind,
        err: impl FnOnce(String) -> TaskError,
    ) {
        let key = self.graph.key(task).to_string();
        // Recorded first: the tasks abandoned below name it as their cause.
        lock(&self.errors).insert(task, err(key));
        let _ = self.account(task, Outcome::Failed);
        self.with_scheduler(|s, d| {
            let _ = s.task_failed(task, worker, attempt, kind, d);
            if s.state(task) != TaskState::Failed {
                // Given another attempt: this one's error is not the task's.
                lock(&self.errors).remove(&task);
            }
        });
    }

    /// Blocks until every task ended. A worker thread runs other jobs
    /// meanwhile; another thread sleeps, waking to draw the progress bar.
    fn wait(self: &Arc<Self>, progress: &mut Progress) {
        let mut checked = Instant::now();
        loop {
            if self.running.is_some() && checked.elapsed() >= STRAGGLER_CHECK {
                checked = Instant::now();
                self.copy_stragglers();
            }
            if crate::pool::is_any_worker_thread() {
                if *lock(&self.done) {
                    return;
                }
                if crate::pool::help_current() {
                    continue;
                }
            }
            let g = lock(&self.done);
            if *g {
                return;
            }
            let pause = if crate::pool::is_any_worker_thread() {
                Duration::from_millis(1)
            } else if self.running.is_some() {
                STRAGGLER_CHECK
            } else {
                Duration::from_millis(100)
            };
            let (g, _) = match self.done_signal.wait_timeout(g, pause) {
                Ok(r) => r,
                Err(p) => p.into_inner(),
            };
            if *g {
                return;
            }
            drop(g);
            progress.update(self.terminal.load(Ordering::Relaxed) as u64);
        }
    }
}

impl GraphRun {
    /// Hands the core how long each running attempt has run; it copies
    /// the stragglers.
    fn copy_stragglers(self: &Arc<Self>) {
        let Some(running) = &self.running else {
            return;
        };
        let now = Instant::now();
        let ran: Vec<(TaskId, Duration)> = lock(running)
            .iter()
            .map(|(&(task, _), &since)| (task, now - since))
            .collect();
        if !ran.is_empty() {
            self.with_scheduler(|s, d| {
                s.plan_copies(ran, d);
            });
        }
    }
}

/// The outcome of running a graph: per requested output its value or error,
/// every task's error, and what the workers did.
pub(crate) struct GraphOutcome {
    pub(crate) outputs: Vec<Result<Value, TaskError>>,
    pub(crate) report: RunReport,
}

/// Runs `graph` (task `i` computed by `tasks[i]`) and returns the results of
/// `outputs`.
pub(crate) fn run_graph(
    graph: TaskGraph,
    tasks: Vec<GraphTask>,
    outputs: &[TaskId],
    options: &ComputeOptions,
) -> GraphOutcome {
    let pool = options.resolved_pool();
    let placement = options.placement.unwrap_or_else(|| pool.placement());
    let total = graph.len();
    #[cfg(feature = "dashboard")]
    if let Some(addr) = &options.dashboard {
        if let Err(e) = crate::dashboard::serve_for_process(&pool, addr) {
            let message = match e {
                flotilla_dashboard::DashboardError::Bind { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            let error = TaskError::Dashboard {
                addr: addr.clone(),
                message,
            };
            return GraphOutcome {
                outputs: outputs.iter().map(|_| Err(error.clone())).collect(),
                report: RunReport::default(),
            };
        }
    }
    // A report's file is made first: a path that cannot be written fails
    // the run before anything is computed.
    let recorder = match &options.report {
        Some(path) => match std::fs::File::create(path) {
            Ok(_) => Some((pool.record(), path)),
            Err(e) => {
                let error = TaskError::Report {
                    path: path.display().to_string(),
                    message: e.to_string(),
                };
                return GraphOutcome {
                    outputs: outputs.iter().map(|_| Err(error.clone())).collect(),
                    report: RunReport::default(),
                };
            }
        },
        None => None,
    };
    let traced = pool
        .handle()
        .active_recording()
        .map(|recording| Traced::new(recording, &graph));
    let graph = Arc::new(graph);
    let mut scheduler = Scheduler::new(Arc::clone(&graph), placement, pool.threads());
    scheduler.set_retries(options.retries);
    scheduler.set_speculation(options.speculation);
    scheduler.set_results_shared(true);
    // Results handed over count their readers; the others are shared.
    let mut readers: Vec<u32> = tasks
        .iter()
        .map(|t| if t.hand_over { 0 } else { u32::MAX })
        .collect();
    for t in graph.task_ids() {
        for d in graph.dependencies(t) {
            // (A shared result stays at `u32::MAX`.)
            readers[d.index()] = readers[d.index()].saturating_add(1);
        }
    }
    for &o in outputs {
        scheduler.keep(o);
        readers[o.index()] = u32::MAX;
    }
    let readers_to_start = readers.into_iter().map(AtomicU32::new).collect();
    let run = Arc::new(GraphRun {
        scheduler: Mutex::new(scheduler),
        graph,
        results: (0..tasks.len()).map(|_| Mutex::new(None)).collect(),
        readers_to_start,
        started: (0..tasks.len()).map(|_| AtomicBool::new(false)).collect(),
        queued_attempt: (0..tasks.len()).map(|_| AtomicU32::new(0)).collect(),
        tasks,
        errors: Mutex::new(HashMap::new()),
        cancelled: Mutex::new(HashSet::new()),
        any_cancelled: AtomicBool::new(false),
        terminal: AtomicUsize::new(0),
        done: Mutex::new(total == 0),
        done_signal: Condvar::new(),
        pool: pool.handle().clone(),
        running: options.speculation.map(|_| Mutex::new(HashMap::new())),
        traced,
    });
    let label = options
        .label
        .clone()
        .unwrap_or_else(|| "computing".to_string());
    let mut progress = Progress::new(&label, total as u64, options.progress.unwrap_or(true));
    let before = pool.worker_stats();
    let start = Instant::now();
    run.with_scheduler(|s, d| s.start(d));
    run.wait(&mut progress);
    let makespan = start.elapsed();
    progress.finish(total as u64);
    let mut workers = stats_since(&before, &pool.worker_stats());
    {
        let scheduler = lock(&run.scheduler);
        for (i, w) in workers.iter_mut().enumerate() {
            w.result_bytes = scheduler.bytes_produced_on(WorkerId::new(i as u32));
        }
    }
    let counts = lock(&run.scheduler).counts();
    let report = RunReport {
        makespan,
        workers,
        copies: counts.copied as u64,
        copies_won: counts.copies_won as u64,
    };
    if let Some((recorder, path)) = recorder {
        write_report(&recorder, path, &label, total, options, placement, &report);
    }
    let errors = lock(&run.errors);
    let outputs = outputs
        .iter()
        .map(|o| match lock(&run.results[o.index()]).as_ref() {
            Some(v) => Ok(Arc::clone(v)),
            None => Err(errors
                .get(o)
                .cloned()
                .unwrap_or_else(|| TaskError::Cancelled {
                    task: o.to_string(),
                })),
        })
        .collect();
    GraphOutcome { outputs, report }
}

/// Writes the report of a run that asked for one. The file was made
/// before the run; a failure to write it now (a full disk) is said on
/// stderr, and the run's results are kept.
fn write_report(
    recorder: &crate::Recorder,
    path: &Path,
    label: &str,
    tasks: usize,
    options: &ComputeOptions,
    placement: Placement,
    report: &RunReport,
) {
    let mut trace = recorder.trace(label);
    trace.tasks = tasks as u64;
    trace.makespan_ns = report.makespan.as_nanos() as u64;
    trace.config.retain(|(name, _)| name != "placement");
    trace.set("placement", placement.name());
    trace.set("retries", options.retries);
    trace.set(
        "speculation",
        options
            .speculation
            .map_or_else(|| "off".to_string(), |s| format!("{s:?}")),
    );
    trace.set("tasks in graph", tasks);
    let html = flotilla_dashboard::report::render(&trace);
    if let Err(e) = crate::recording::write_html(path, &html) {
        crate::log::warn("pool", &e.to_string());
    }
}
