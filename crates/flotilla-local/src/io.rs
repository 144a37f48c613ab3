//! The I/O pool: threads for blocking calls, and a small executor for async
//! ones.
//!
//! [`CpuPool`](crate::CpuPool) keeps one thread per core busy; a task that
//! blocks (a sleep, a socket, a subprocess) wastes its core there. An
//! [`IoPool`] is for that kind of work — thousands of concurrent sleeps or
//! requests — and accepts both forms of it:
//!
//! * **Blocking functions** ([`IoPool::submit`], [`IoPool::map`]). Threads
//!   start on demand: a job that finds no idle thread starts a new one, up
//!   to a maximum (1024 by default), so a thousand 100 ms sleeps submitted
//!   at once take about 100 ms, not ten seconds. Past the maximum, jobs wait
//!   in a queue. A thread with nothing to do for the keep-alive (10 s by
//!   default) exits, so an idle pool holds no thread.
//! * **Async functions** ([`IoPool::spawn_async`]). Each task is a shared
//!   cell holding its boxed future; the task is its own waker, and waking it
//!   queues one poll of it as a short job on the same threads. A pending
//!   task holds no thread, so a thousand tasks awaiting [`sleep`] need a
//!   handful of threads, not a thousand. [`sleep`] is backed by one
//!   process-wide timer thread (a heap of deadlines, waited on with a
//!   condition variable). A [`TaskFuture`] of either pool can be awaited
//!   inside a task.
//!
//! Polls never block, so the pool does not start a thread for each of them:
//! it starts one for a queued poll only when no thread is polling already
//! (see `io/threads.rs`). Async code must therefore not block either; hand
//! blocking calls to [`IoPool::submit`] and await its future.
//!
//! Results come back as [`TaskFuture`]s, named and failing exactly as those
//! of the CPU pool: a panic becomes [`TaskError::Panicked`] naming the task
//! and its function, and the thread carries on.
//!
//! Dropping the last handle to a pool shuts it down: it takes no more work,
//! lets running jobs finish, wakes its idle threads and joins every thread.
//! Jobs still queued, and async tasks still waiting, end with
//! [`TaskError::PoolShutDown`].
//!
//! ```
//! use std::time::Duration;
//! use flotilla_local::{sleep, IoPool};
//!
//! let pool = IoPool::new();
//! // Blocking work: each call may hold its thread.
//! let read = pool.submit(|| { std::thread::sleep(Duration::from_millis(5)); "read" });
//! // Async work: no thread is held while it waits.
//! let fetched = pool.spawn_async(async {
//!     sleep(Duration::from_millis(5)).await;
//!     "fetched"
//! });
//! assert_eq!(read.result().unwrap(), "read");
//! assert_eq!(fetched.result().unwrap(), "fetched");
//! ```

mod task;
mod threads;
mod timer;

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::TaskError;
use crate::future::{PendingTask, TaskFuture, TaskName};

use self::task::LiveTasks;
use self::threads::{JobKind, Threads};

pub use self::timer::{sleep, sleep_until, Sleep};

/// The default maximum number of threads of an [`IoPool`].
const DEFAULT_MAX_THREADS: usize = 1024;
/// The default time an idle thread waits for work before it exits.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// What the pool's handles, its async tasks' wakers and its threads share.
struct Shared {
    threads: Arc<Threads>,
    tasks: LiveTasks,
    seq: AtomicU64,
    shut_down: AtomicBool,
}

impl Shared {
    fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    fn next_name(&self, group: &'static str, function: &'static str) -> TaskName {
        TaskName {
            group,
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            function,
            kind: None,
        }
    }
}

/// Shuts the pool down when the last [`IoPool`] handle goes.
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.shut_down.store(true, Ordering::Release);
        // First the threads (queued jobs are dropped, running ones finish),
        // then the async tasks still waiting on some waker.
        self.shared.threads.shut_down();
        self.shared.tasks.abandon_all();
    }
}

/// A pool of threads for blocking and async work — thousands of concurrent
/// sleeps or requests.
///
/// * **Growth.** A blocking job that finds no idle thread starts a new one,
///   up to [`max_threads`](IoPool::max_threads) (default 1024); past it,
///   jobs wait in a queue.
/// * **Keep-alive.** A thread idle for
///   [`keep_alive`](IoPool::keep_alive) (default 10 s) exits, so an idle
///   pool holds no thread.
/// * **Async tasks** ([`spawn_async`](IoPool::spawn_async)) are their own
///   wakers: a wake queues one short poll on the same threads, and a pending
///   task holds no thread. Polls share the threads that are polling already
///   instead of starting new ones.
/// * **Timer.** [`sleep`] is served by one process-wide timer thread (a heap
///   of deadlines), so a thousand sleeping tasks need a handful of threads.
///
/// Handles are cheap to clone; dropping the last one shuts the pool down:
/// it takes no more work, lets running jobs finish and joins its threads.
/// Queued jobs, and async tasks still waiting, end with
/// [`TaskError::PoolShutDown`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use flotilla_local::IoPool;
///
/// let pool = IoPool::new();
/// let futures: Vec<_> = (0..20u64)
///     .map(|i| pool.submit(move || { std::thread::sleep(Duration::from_millis(10)); i }))
///     .collect();
/// let total: u64 = futures.into_iter().map(|f| f.result().unwrap()).sum();
/// assert_eq!(total, 190);
/// assert!(pool.peak_threads() >= 2); // the sleeps ran side by side
/// ```
#[derive(Clone)]
pub struct IoPool {
    owner: Arc<Owner>,
}

impl fmt::Debug for IoPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let threads = &self.owner.shared.threads;
        f.debug_struct("IoPool")
            .field("name", &threads.name())
            .field("threads_alive", &threads.alive())
            .field("queued", &threads.queued())
            .field("max_threads", &threads.max_threads())
            .field("keep_alive", &threads.keep_alive())
            .finish()
    }
}

/// Builds an [`IoPool`] with chosen settings.
///
/// ```
/// use std::time::Duration;
/// use flotilla_local::IoPool;
///
/// let pool = IoPool::builder()
///     .max_threads(64)
///     .keep_alive(Duration::from_secs(1))
///     .name("fetch")
///     .build();
/// assert_eq!(pool.max_threads(), 64);
/// ```
#[derive(Debug, Clone)]
pub struct IoPoolBuilder {
    max_threads: usize,
    keep_alive: Duration,
    name: String,
}

impl IoPoolBuilder {
    /// The most threads the pool runs at once (default 1024; 0 is taken
    /// as 1). Work beyond it waits in a queue.
    ///
    /// ```
    /// let pool = flotilla_local::IoPool::builder().max_threads(2).build();
    /// assert_eq!(pool.max_threads(), 2);
    /// ```
    pub fn max_threads(mut self, n: usize) -> IoPoolBuilder {
        self.max_threads = n.max(1);
        self
    }

    /// How long an idle thread waits for work before it exits (default
    /// 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = flotilla_local::IoPool::builder().keep_alive(Duration::from_millis(100)).build();
    /// assert_eq!(pool.keep_alive(), Duration::from_millis(100));
    /// ```
    pub fn keep_alive(mut self, keep_alive: Duration) -> IoPoolBuilder {
        self.keep_alive = keep_alive;
        self
    }

    /// The prefix of the threads' names (default `flotilla-io`).
    ///
    /// ```
    /// let pool = flotilla_local::IoPool::builder().name("fetch").build();
    /// let name = pool.submit(|| std::thread::current().name().map(String::from));
    /// assert!(name.result().unwrap().unwrap().starts_with("fetch-"));
    /// ```
    pub fn name(mut self, name: &str) -> IoPoolBuilder {
        self.name = name.to_string();
        self
    }

    /// Makes the pool. No thread starts until work arrives, so this cannot
    /// fail.
    ///
    /// ```
    /// let pool = flotilla_local::IoPool::builder().build();
    /// assert_eq!(pool.threads_alive(), 0);
    /// ```
    pub fn build(self) -> IoPool {
        let threads = Arc::new(Threads::new(self.name, self.max_threads, self.keep_alive));
        let shared = Arc::new(Shared {
            threads,
            tasks: LiveTasks::new(),
            seq: AtomicU64::new(0),
            shut_down: AtomicBool::new(false),
        });
        IoPool {
            owner: Arc::new(Owner { shared }),
        }
    }
}

impl Default for IoPool {
    /// The same as [`IoPool::new`].
    ///
    /// ```
    /// let pool = flotilla_local::IoPool::default();
    /// assert_eq!(pool.max_threads(), 1024);
    /// ```
    fn default() -> IoPool {
        IoPool::new()
    }
}

static GLOBAL: OnceLock<IoPool> = OnceLock::new();

impl IoPool {
    /// A builder with default settings.
    ///
    /// ```
    /// let pool = flotilla_local::IoPool::builder().max_threads(8).build();
    /// ```
    pub fn builder() -> IoPoolBuilder {
        IoPoolBuilder {
            max_threads: DEFAULT_MAX_THREADS,
            keep_alive: DEFAULT_KEEP_ALIVE,
            name: "flotilla-io".into(),
        }
    }

    /// A pool with default settings: up to 1024 threads, 10 s keep-alive.
    ///
    /// ```
    /// let pool = flotilla_local::IoPool::new();
    /// assert_eq!(pool.submit(|| 1 + 1).result().unwrap(), 2);
    /// ```
    pub fn new() -> IoPool {
        IoPool::builder().build()
    }

    /// The process-wide default I/O pool, made on first use (it starts no
    /// thread until work arrives, and its idle threads exit after the
    /// keep-alive).
    ///
    /// ```
    /// let f = flotilla_local::IoPool::global().submit(|| "done");
    /// assert_eq!(f.result().unwrap(), "done");
    /// ```
    pub fn global() -> &'static IoPool {
        GLOBAL.get_or_init(IoPool::new)
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.owner.shared
    }

    /// The most threads the pool runs at once.
    ///
    /// ```
    /// assert_eq!(flotilla_local::IoPool::new().max_threads(), 1024);
    /// ```
    pub fn max_threads(&self) -> usize {
        self.shared().threads.max_threads()
    }

    /// How long an idle thread waits for work before it exits.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(flotilla_local::IoPool::new().keep_alive(), Duration::from_secs(10));
    /// ```
    pub fn keep_alive(&self) -> Duration {
        self.shared().threads.keep_alive()
    }

    /// The number of threads alive now (busy, idle or starting).
    ///
    /// ```
    /// let pool = flotilla_local::IoPool::new();
    /// assert_eq!(pool.threads_alive(), 0); // none until work arrives
    /// pool.submit(|| ()).result().unwrap();
    /// assert_eq!(pool.threads_alive(), 1); // idle until the keep-alive ends
    /// ```
    pub fn threads_alive(&self) -> usize {
        self.shared().threads.alive()
    }

    /// The most threads that were alive at once since the pool was made.
    ///
    /// ```
    /// let pool = flotilla_local::IoPool::new();
    /// pool.submit(|| ()).result().unwrap();
    /// assert_eq!(pool.peak_threads(), 1);
    /// ```
    pub fn peak_threads(&self) -> usize {
        self.shared().threads.peak()
    }

    /// Runs the blocking function `f` on the pool — on an idle thread, a new
    /// one, or once a thread is free when the pool is at its maximum — and
    /// returns a future of its result. A panic in `f` becomes
    /// [`TaskError::Panicked`] naming the task and function.
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = flotilla_local::IoPool::new();
    /// let f = pool.submit(|| { std::thread::sleep(Duration::from_millis(1)); 42 });
    /// assert_eq!(f.result().unwrap(), 42);
    /// ```
    pub fn submit<F, T>(&self, f: F) -> TaskFuture<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (future, slot) =
            TaskFuture::new(self.shared().next_name("io-submit", type_name::<F>()));
        let task = PendingTask {
            slot,
            f: Some(move || Ok(f())),
        };
        self.shared()
            .threads
            .submit(Box::new(move || task.run()), JobKind::Blocking);
        future
    }

    /// Runs a fallible blocking `f`; an `Err` becomes [`TaskError::Failed`]
    /// carrying its message.
    ///
    /// ```
    /// use flotilla_local::{IoPool, TaskError};
    /// let pool = IoPool::new();
    /// let err = pool.try_submit(|| std::fs::read("/no/such/file")).result().unwrap_err();
    /// assert!(matches!(err, TaskError::Failed { .. }));
    /// ```
    pub fn try_submit<F, T, E>(&self, f: F) -> TaskFuture<T>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: fmt::Display,
    {
        let name = self.shared().next_name("io-submit", type_name::<F>());
        let (future, slot) = TaskFuture::new(name);
        let task = PendingTask {
            slot,
            f: Some(move || f().map_err(|e| crate::future::failed(name, e))),
        };
        self.shared()
            .threads
            .submit(Box::new(move || task.run()), JobKind::Blocking);
        future
    }

    /// Applies the blocking `f` to every item, one job per item, all at
    /// once (up to the maximum of threads); the results come back in the
    /// order of the items.
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = flotilla_local::IoPool::new();
    /// let out: Vec<u64> = pool
    ///     .map(0..10u64, |i| { std::thread::sleep(Duration::from_millis(5)); i * 2 })
    ///     .collect::<Result<_, _>>()
    ///     .unwrap();
    /// assert_eq!(out, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    /// ```
    pub fn map<I, F, T>(&self, items: I, f: F) -> IoMapResults<T>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = Arc::new(f);
        let function = type_name::<F>();
        let futures: Vec<TaskFuture<T>> = items
            .into_iter()
            .map(|item| {
                let f = Arc::clone(&f);
                let (future, slot) = TaskFuture::new(self.shared().next_name("io-map", function));
                let task = PendingTask {
                    slot,
                    f: Some(move || Ok(f(item))),
                };
                self.shared()
                    .threads
                    .submit(Box::new(move || task.run()), JobKind::Blocking);
                future
            })
            .collect();
        IoMapResults {
            futures: futures.into_iter(),
            failed: false,
        }
    }

    /// Runs the async `future` as a task on the pool and returns a future of
    /// its output. The task is polled on the pool's threads and holds none
    /// while it waits; a panic while polling becomes
    /// [`TaskError::Panicked`]. Inside, await [`sleep`], other tasks, or the
    /// [`TaskFuture`] of blocking work handed to [`IoPool::submit`] or a
    /// [`CpuPool`](crate::CpuPool) — but do not block.
    ///
    /// The returned [`TaskFuture`] can be waited on ([`TaskFuture::result`])
    /// or awaited; [`TaskFuture::cancel`] stops a task only before its first
    /// poll.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flotilla_local::{sleep, CpuPool, IoPool};
    ///
    /// let io = IoPool::new();
    /// let cpu = CpuPool::with_threads(1).unwrap();
    /// let task = io.spawn_async(async move {
    ///     sleep(Duration::from_millis(1)).await;
    ///     let squared = cpu.submit(|| 7 * 7).await?;
    ///     Ok::<_, flotilla_local::TaskError>(squared + 1)
    /// });
    /// assert_eq!(task.result().unwrap().unwrap(), 50);
    /// ```
    ///
    /// The future moves to the pool's threads, so it must be `Send`:
    ///
    /// ```compile_fail
    /// let pool = flotilla_local::IoPool::new();
    /// let not_send = std::rc::Rc::new(1);
    /// pool.spawn_async(async move { *not_send });
    /// ```
    pub fn spawn_async<F, T>(&self, future: F) -> TaskFuture<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let name = self.shared().next_name("io-async", type_name::<F>());
        task::spawn(self.shared(), name, future)
    }
}

/// The results of [`IoPool::map`], in item order. After the first error the
/// iterator yields that error and ends (the remaining jobs are cancelled when
/// they have not started).
///
/// ```
/// let pool = flotilla_local::IoPool::new();
/// let mut results = pool.map(vec![1, 0, 2], |x| 10 / x);
/// assert_eq!(results.next().unwrap().unwrap(), 10);
/// assert!(results.next().unwrap().is_err()); // division by zero panicked
/// assert!(results.next().is_none());
/// ```
#[derive(Debug)]
pub struct IoMapResults<T> {
    futures: std::vec::IntoIter<TaskFuture<T>>,
    failed: bool,
}

impl<T> Iterator for IoMapResults<T> {
    type Item = Result<T, TaskError>;

    fn next(&mut self) -> Option<Result<T, TaskError>> {
        if self.failed {
            return None;
        }
        let result = self.futures.next()?.result();
        if result.is_err() {
            self.failed = true;
            for rest in self.futures.by_ref() {
                rest.cancel();
            }
        }
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.failed {
            (0, Some(0))
        } else {
            (0, Some(self.futures.len()))
        }
    }
}
