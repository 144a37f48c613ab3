//! The CPU pool executor: `submit`, `map`, and the pool's accounting.

use std::any::type_name;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use flotilla_core::{Placement, RunReport, WorkerStats};

use crate::error::{panic_message, TaskError};

use crate::future::{PendingTask, TaskFuture, TaskName};
use crate::pool::{stats_since, Pool, PoolHandle};

/// A pool of worker threads for CPU-bound work, with work stealing — the
/// `concurrent.futures.ThreadPoolExecutor` of flotilla, without a GIL.
///
/// Dropping the last handle to a pool lets the workers finish the tasks
/// already queued (like Python's `shutdown(wait=True)`), then stops and
/// joins them; no thread of the pool outlives the drop. A task that can no
/// longer run ends with [`TaskError::PoolShutDown`] rather than leaving its
/// future waiting forever.
///
/// # Examples
///
/// ```
/// use flotilla_local::CpuPool;
///
/// let pool = CpuPool::with_threads(2).unwrap();
/// let futures: Vec<_> = (0..10u64).map(|i| pool.submit(move || i * i)).collect();
/// let total: u64 = futures.into_iter().map(|f| f.result().unwrap()).sum();
/// assert_eq!(total, 285);
///
/// let squares: Vec<u64> = pool.map(0..5u64, |i| i * i).collect::<Result<_, _>>().unwrap();
/// assert_eq!(squares, [0, 1, 4, 9, 16]);
/// ```
#[derive(Debug, Clone)]
pub struct CpuPool {
    pool: Arc<Pool>,
    seq: Arc<AtomicU64>,
}

/// Builds a [`CpuPool`] with chosen settings.
///
/// ```
/// use flotilla_local::CpuPool;
/// use flotilla_core::Placement;
/// let pool = CpuPool::builder().threads(3).placement(Placement::CentralQueue).name("crunch").build().unwrap();
/// assert_eq!(pool.threads(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct CpuPoolBuilder {
    threads: Option<usize>,
    placement: Placement,
    name: String,
}

impl CpuPoolBuilder {
    /// The number of worker threads (default: the machine's parallelism).
    ///
    /// ```
    /// let b = flotilla_local::CpuPool::builder().threads(2);
    /// ```
    pub fn threads(mut self, n: usize) -> CpuPoolBuilder {
        self.threads = Some(n.max(1));
        self
    }

    /// The placement policy for submitted tasks (default: work stealing).
    ///
    /// ```
    /// let b = flotilla_local::CpuPool::builder().placement(flotilla_core::Placement::RoundRobin);
    /// ```
    pub fn placement(mut self, placement: Placement) -> CpuPoolBuilder {
        self.placement = placement;
        self
    }

    /// The prefix of the worker threads' names (default `flotilla-cpu`).
    ///
    /// ```
    /// let b = flotilla_local::CpuPool::builder().name("mine");
    /// ```
    pub fn name(mut self, name: &str) -> CpuPoolBuilder {
        self.name = name.to_string();
        self
    }

    /// Starts the threads.
    ///
    /// # Errors
    ///
    /// [`TaskError::Spawn`] if the operating system refuses a thread;
    /// [`TaskError::InvalidSettings`] for [`Placement::Block`], which only
    /// makes sense per run (it needs the task count).
    ///
    /// ```
    /// use flotilla_core::Placement;
    /// let pool = flotilla_local::CpuPool::builder().threads(1).build().unwrap();
    /// assert!(flotilla_local::CpuPool::builder().placement(Placement::Block).build().is_err());
    /// ```
    pub fn build(self) -> Result<CpuPool, TaskError> {
        if self.placement == Placement::Block {
            // Block splits a known number of tasks; a pool's submissions have
            // no known end, so every task would land in the first block.
            return Err(TaskError::InvalidSettings(
                "the block policy needs the run's task count: choose it per run with \
                 ComputeOptions::placement, or give the pool block-cyclic"
                    .into(),
            ));
        }
        let threads = self.threads.unwrap_or_else(default_threads);
        let pool = Pool::new(&self.name, threads, self.placement)
            .map_err(|e| TaskError::Spawn(e.to_string()))?;
        Ok(CpuPool {
            pool: Arc::new(pool),
            seq: Arc::new(AtomicU64::new(0)),
        })
    }
}

/// The machine's available parallelism (at least 1).
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

static GLOBAL: OnceLock<CpuPool> = OnceLock::new();

impl CpuPool {
    /// A builder with default settings.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::builder().build().unwrap();
    /// ```
    pub fn builder() -> CpuPoolBuilder {
        CpuPoolBuilder {
            threads: None,
            placement: Placement::WorkStealing,
            name: "flotilla-cpu".into(),
        }
    }

    /// A work-stealing pool of `threads` threads.
    ///
    /// # Errors
    ///
    /// [`TaskError::Spawn`] if the operating system refuses a thread.
    ///
    /// ```
    /// assert_eq!(flotilla_local::CpuPool::with_threads(2).unwrap().threads(), 2);
    /// ```
    pub fn with_threads(threads: usize) -> Result<CpuPool, TaskError> {
        CpuPool::builder().threads(threads).build()
    }

    /// The process-wide default pool (one thread per core), started on first
    /// use: the "embedded default scheduler".
    ///
    /// # Panics
    ///
    /// Panics if the operating system refuses to start its threads.
    ///
    /// ```
    /// let f = flotilla_local::CpuPool::global().submit(|| 1 + 1);
    /// assert_eq!(f.result().unwrap(), 2);
    /// ```
    pub fn global() -> &'static CpuPool {
        let mut made = false;
        let pool = GLOBAL.get_or_init(|| {
            made = true;
            match CpuPool::builder().build() {
                Ok(p) => p,
                Err(e) => panic!("flotilla could not start its default pool: {e}"),
            }
        });
        #[cfg(feature = "dashboard")]
        if made {
            crate::dashboard::serve_if_asked(pool);
        }
        let _ = made;
        pool
    }

    /// The number of worker threads.
    ///
    /// ```
    /// assert_eq!(flotilla_local::CpuPool::with_threads(3).unwrap().threads(), 3);
    /// ```
    pub fn threads(&self) -> usize {
        self.pool.handle().workers()
    }

    /// The pool's placement policy for submitted tasks.
    ///
    /// ```
    /// use flotilla_core::Placement;
    /// assert_eq!(flotilla_local::CpuPool::with_threads(1).unwrap().placement(), Placement::WorkStealing);
    /// ```
    pub fn placement(&self) -> Placement {
        self.pool.handle().placement()
    }

    /// Starts recording what the pool's threads run: every task of every
    /// run and every submitted job, on which thread, from when to when,
    /// of which kind, stolen or not. The pool records while at least one
    /// [`Recorder`](crate::Recorder) is alive; with none, recording costs
    /// each job one relaxed atomic load. A recording keeps every attempt
    /// (32 bytes each) until its last recorder is dropped: a million tasks
    /// hold 32 MB.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// let recorder = pool.record();
    /// let futures: Vec<_> = (0..10u64).map(|i| pool.submit(move || i)).collect();
    /// for f in futures {
    ///     f.result().unwrap();
    /// }
    /// let trace = recorder.trace("ten jobs");
    /// assert_eq!(trace.spans.len(), 10);
    /// assert!(trace.spans.iter().all(|s| trace.kinds[s.kind as usize] == "submit"));
    /// ```
    pub fn record(&self) -> crate::Recorder {
        crate::Recorder::start(self)
    }

    /// Counts `tasks` more tasks of `kind` for the dashboard, while the
    /// pool is recorded.
    fn planned(&self, kind: u32, tasks: u64) {
        if let Some(recording) = self.pool.handle().active_recording() {
            recording.plan(kind, tasks);
        }
    }

    pub(crate) fn handle(&self) -> &PoolHandle {
        self.pool.handle()
    }

    fn next_name(&self, group: &'static str, function: &'static str) -> TaskName {
        TaskName {
            group,
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            function,
            kind: None,
        }
    }

    /// Runs `f` on the pool; returns a future of its result. A panic in `f`
    /// becomes [`TaskError::Panicked`] naming the task and function.
    ///
    /// May be called from inside a task (nested submission); waiting on the
    /// result there runs other tasks meanwhile, so it cannot deadlock.
    ///
    /// The closure runs on another thread, so it must be `Send`; this does
    /// not compile:
    ///
    /// ```compile_fail
    /// let pool = flotilla_local::CpuPool::with_threads(1).unwrap();
    /// let not_send = std::rc::Rc::new(1);
    /// pool.submit(move || *not_send + 1);
    /// ```
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// let p2 = pool.clone();
    /// let outer = pool.submit(move || p2.submit(|| 20).result().unwrap() + 1);
    /// assert_eq!(outer.result().unwrap(), 21);
    /// ```
    pub fn submit<F, T>(&self, f: F) -> TaskFuture<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (future, slot) = TaskFuture::new(self.next_name("submit", type_name::<F>()));
        let task = PendingTask {
            slot,
            f: Some(move || Ok(f())),
        };
        self.planned(crate::recording::SUBMIT_KIND, 1);
        self.pool.handle().submit(Box::new(move || task.run()));
        future
    }

    /// Runs a fallible `f`; an `Err` becomes [`TaskError::Failed`] carrying
    /// its message.
    ///
    /// ```
    /// use flotilla_local::{CpuPool, TaskError};
    /// let pool = CpuPool::with_threads(1).unwrap();
    /// let f = pool.try_submit(|| "x".parse::<i32>());
    /// let err = f.result().unwrap_err();
    /// assert!(matches!(err, TaskError::Failed { .. }));
    /// assert!(err.to_string().contains("invalid digit"));
    /// ```
    pub fn try_submit<F, T, E>(&self, f: F) -> TaskFuture<T>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: std::fmt::Display,
    {
        self.try_submit_named(None, f)
    }

    /// [`CpuPool::try_submit`], recorded as a task of kind `kind` when the
    /// pool is recorded (a [`Recorder`](crate::Recorder) or a dashboard
    /// watches it), so that its report and dashboard show durations and
    /// progress per kind; an `Err` or a panic marks the attempt failed.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(1).unwrap();
    /// let recorder = pool.record();
    /// let ok = pool.try_submit_as("parse", || "7".parse::<i32>());
    /// let bad = pool.try_submit_as("parse", || "x".parse::<i32>());
    /// assert_eq!(ok.result().unwrap(), 7);
    /// assert!(bad.result().is_err());
    /// let stats = recorder.trace("parsing").kind_stats();
    /// let parse = stats.iter().find(|s| s.kind == "parse").unwrap();
    /// assert_eq!((parse.count, parse.failed), (2, 1));
    /// ```
    pub fn try_submit_as<F, T, E>(&self, kind: &str, f: F) -> TaskFuture<T>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: std::fmt::Display,
    {
        self.try_submit_named(Some(kind), f)
    }

    /// A fallible job, recorded as a task of `kind` (else as a submitted
    /// job) while the pool is recorded.
    fn try_submit_named<F, T, E>(&self, kind: Option<&str>, f: F) -> TaskFuture<T>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: std::fmt::Display,
    {
        let mut name = self.next_name("submit", type_name::<F>());
        name.kind = kind.and_then(|kind| {
            let recording = self.pool.handle().active_recording()?;
            let k = recording.kind(kind);
            recording.plan(k, 1);
            Some(k)
        });
        if name.kind.is_none() {
            self.planned(crate::recording::SUBMIT_KIND, 1);
        }
        let (future, slot) = TaskFuture::new(name);
        let task = PendingTask {
            slot,
            f: Some(move || f().map_err(|e| crate::future::failed(name, e))),
        };
        self.pool.handle().submit(Box::new(move || task.run()));
        future
    }

    /// Applies `f` to every item in parallel; the results come back in the
    /// order of the items (like `Executor.map`). Each item is one task.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// let out: Vec<i32> = pool.map(vec![3, 1, 2], |x| x * 10).map(Result::unwrap).collect();
    /// assert_eq!(out, [30, 10, 20]);
    /// ```
    pub fn map<I, F, T>(&self, items: I, f: F) -> MapResults<T>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        self.map_chunked(items, 1, f)
    }

    /// As [`CpuPool::map`], with `chunk_size` items per task: fewer, larger
    /// tasks for cheap functions. Results still come one per item, in order.
    /// A chunk size of 0 is taken as 1.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// let out: Vec<u64> = pool.map_chunked(0..1000u64, 100, |x| x + 1).map(Result::unwrap).collect();
    /// assert_eq!(out.len(), 1000);
    /// assert_eq!(out[999], 1000);
    /// ```
    pub fn map_chunked<I, F, T>(&self, items: I, chunk_size: usize, f: F) -> MapResults<T>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let chunk_size = chunk_size.max(1);
        let f = Arc::new(f);
        let function = type_name::<F>();
        let mut chunks = Vec::new();
        let mut items = items.into_iter().peekable();
        let mut first_item = 0usize;
        while items.peek().is_some() {
            let chunk: Vec<I::Item> = items.by_ref().take(chunk_size).collect();
            let base = first_item;
            first_item += chunk.len();
            let f = Arc::clone(&f);
            let name = self.next_name("map", function);
            let (future, slot) = TaskFuture::new(name);
            let task = PendingTask {
                slot,
                f: Some(move || {
                    // Each item is run under its own guard so that a panic
                    // names the item's position in the chunk.
                    let mut out = Vec::with_capacity(chunk.len());
                    for (k, item) in chunk.into_iter().enumerate() {
                        let task = || format!("{name} (input item {})", base + k);
                        match catch_unwind(AssertUnwindSafe(|| f(item)))
                            .map_err(crate::graph_run::task_failure)
                        {
                            Ok(v) => out.push(v),
                            Err(Ok(error)) => {
                                return Err(TaskError::FailedWith {
                                    task: task(),
                                    function: function.to_string(),
                                    error,
                                })
                            }
                            Err(Err(p)) => {
                                return Err(TaskError::Panicked {
                                    task: task(),
                                    function: function.to_string(),
                                    message: panic_message(&*p),
                                })
                            }
                        }
                    }
                    Ok(out)
                }),
            };
            self.planned(crate::recording::MAP_KIND, 1);
            self.pool.handle().submit(Box::new(move || task.run()));
            chunks.push(future);
        }
        MapResults {
            chunks: chunks.into_iter(),
            current: Vec::new().into_iter(),
            failed: false,
        }
    }

    /// A snapshot of each worker's counters since the pool started.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// pool.submit(|| ()).result().unwrap();
    /// assert_eq!(pool.worker_stats().iter().map(|w| w.tasks).sum::<u64>(), 1);
    /// ```
    pub fn worker_stats(&self) -> Vec<WorkerStats> {
        self.pool.handle().stats()
    }

    /// Runs `body` and reports what the pool's workers did meanwhile: busy
    /// and idle time, tasks run and stolen, makespan and utilization.
    /// (Work that other callers run on the pool at the same time is
    /// counted too.)
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// let (sum, report) = pool.measure(|| {
    ///     pool.map(0..100u64, |x| x).map(Result::unwrap).sum::<u64>()
    /// });
    /// assert_eq!(sum, 4950);
    /// assert_eq!(report.tasks(), 100);
    /// ```
    pub fn measure<R>(&self, body: impl FnOnce() -> R) -> (R, RunReport) {
        let before = self.worker_stats();
        let start = Instant::now();
        let r = body();
        let makespan = start.elapsed();
        let workers = stats_since(&before, &self.worker_stats());
        let report = RunReport {
            makespan,
            workers,
            ..RunReport::default()
        };
        (r, report)
    }
}

/// The results of [`CpuPool::map`], in item order. After the first error the
/// iterator yields that error and ends (remaining chunks are cancelled when
/// they have not started).
#[derive(Debug)]
pub struct MapResults<T> {
    chunks: std::vec::IntoIter<TaskFuture<Vec<T>>>,
    current: std::vec::IntoIter<T>,
    failed: bool,
}

impl<T> Iterator for MapResults<T> {
    type Item = Result<T, TaskError>;

    fn next(&mut self) -> Option<Result<T, TaskError>> {
        loop {
            if let Some(v) = self.current.next() {
                return Some(Ok(v));
            }
            if self.failed {
                return None;
            }
            let chunk = self.chunks.next()?;
            match chunk.result() {
                Ok(v) => self.current = v.into_iter(),
                Err(e) => {
                    self.failed = true;
                    for rest in self.chunks.by_ref() {
                        rest.cancel();
                    }
                    return Some(Err(e));
                }
            }
        }
    }
}
