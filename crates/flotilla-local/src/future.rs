//! Futures: the handle to a result that a task will produce.
//!
//! A [`TaskFuture`] shares a slot with the job that will fill it. The slot
//! has an atomic status (pending → running → done) so that cancelling a task
//! that has not started is one compare-and-swap, and the job skips itself
//! when it comes up; the result itself sits behind a mutex with a condition
//! variable that is only signalled when someone waits.
//!
//! Waiting from inside a worker thread does not block the worker: it runs
//! other queued jobs while the result is not there (see
//! [`TaskFuture::result`]), so tasks may submit tasks and wait for them
//! without deadlocking the pool.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{panic_message, TaskError};

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;

type Callback = Box<dyn FnOnce() + Send>;

struct Inner<T> {
    value: Option<Result<T, TaskError>>,
    taken: bool,
    waiters: usize,
    callbacks: Vec<(u64, Callback)>,
    next_callback: u64,
    waker: Option<Waker>,
}

/// How a task is named in messages: a group and a sequence number, plus the
/// function's Rust path. Stored as static strings so that naming costs
/// nothing until an error needs the name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TaskName {
    pub(crate) group: &'static str,
    pub(crate) seq: u64,
    pub(crate) function: &'static str,
    /// The kind it is recorded as, when not its group's (an index into
    /// the pool's recording).
    pub(crate) kind: Option<u32>,
}

/// A job's `Err` as a [`TaskError::Failed`] naming its task `name`.
pub(crate) fn failed(name: TaskName, error: impl fmt::Display) -> TaskError {
    TaskError::Failed {
        task: name.to_string(),
        function: name.function.to_string(),
        message: error.to_string(),
    }
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.group, self.seq)
    }
}

pub(crate) struct Slot<T> {
    status: AtomicU8,
    inner: Mutex<Inner<T>>,
    ready: Condvar,
    pub(crate) name: TaskName,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl<T> Slot<T> {
    pub(crate) fn new(name: TaskName) -> Slot<T> {
        Slot {
            status: AtomicU8::new(PENDING),
            inner: Mutex::new(Inner {
                value: None,
                taken: false,
                waiters: 0,
                callbacks: Vec::new(),
                next_callback: 0,
                waker: None,
            }),
            ready: Condvar::new(),
            name,
        }
    }

    /// Claims the task for running; false if it was cancelled (or already ran).
    #[inline]
    pub(crate) fn try_start(&self) -> bool {
        self.status
            .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Stores the result and wakes whoever waits. Only the first call counts.
    pub(crate) fn complete(&self, result: Result<T, TaskError>) {
        let g = lock(&self.inner);
        if g.value.is_some() || g.taken {
            return;
        }
        self.status.store(DONE, Ordering::Release);
        self.publish(g, result);
    }

    /// Cancels the task if it has not started; its result becomes
    /// [`TaskError::Cancelled`].
    pub(crate) fn cancel(&self) -> bool {
        let claimed = self
            .status
            .compare_exchange(PENDING, DONE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if claimed {
            let reason = Err(TaskError::Cancelled {
                task: self.name.to_string(),
            });
            self.publish(lock(&self.inner), reason);
        }
        claimed
    }

    /// Stores `result` (the status already says done) and wakes the
    /// waiters, the callbacks and the async waker, outside the lock.
    fn publish(&self, mut g: MutexGuard<'_, Inner<T>>, result: Result<T, TaskError>) {
        g.value = Some(result);
        let callbacks = std::mem::take(&mut g.callbacks);
        let waker = g.waker.take();
        if g.waiters > 0 {
            self.ready.notify_all();
        }
        drop(g);
        for (_, cb) in callbacks {
            cb();
        }
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Runs `cb` once the result is there (at once if it already is).
    /// Returns an id for [`Slot::forget_on_done`], or `None` if `cb` ran.
    pub(crate) fn on_done(&self, cb: Callback) -> Option<u64> {
        let mut g = lock(&self.inner);
        if g.value.is_some() || g.taken {
            drop(g);
            cb();
            None
        } else {
            let id = g.next_callback;
            g.next_callback += 1;
            g.callbacks.push((id, cb));
            Some(id)
        }
    }

    /// Drops a callback registered by [`Slot::on_done`] that has not run.
    pub(crate) fn forget_on_done(&self, id: u64) {
        lock(&self.inner).callbacks.retain(|(i, _)| *i != id);
    }

    fn is_done(&self) -> bool {
        self.status.load(Ordering::Acquire) == DONE
    }

    /// Waits until done or `deadline`; returns the guard.
    fn wait(&self, deadline: Option<Instant>) -> MutexGuard<'_, Inner<T>> {
        loop {
            let g = lock(&self.inner);
            if g.value.is_some() || g.taken {
                return g;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return g;
            }
            // A worker thread keeps its pool busy while it waits.
            if crate::pool::is_any_worker_thread() {
                drop(g);
                if crate::pool::help_current() {
                    continue;
                }
                let mut g = lock(&self.inner);
                if g.value.is_some() || g.taken {
                    return g;
                }
                g.waiters += 1;
                let mut pause = Duration::from_millis(1);
                if let Some(d) = deadline {
                    pause = pause.min(d.saturating_duration_since(now));
                }
                let (mut g, _) = match self.ready.wait_timeout(g, pause) {
                    Ok(r) => r,
                    Err(p) => p.into_inner(),
                };
                g.waiters -= 1;
                if g.value.is_some() || g.taken {
                    return g;
                }
                continue;
            }
            let mut g = g;
            g.waiters += 1;
            let mut g = match deadline {
                None => match self.ready.wait(g) {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                },
                Some(d) => match self.ready.wait_timeout(g, d.saturating_duration_since(now)) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                },
            };
            g.waiters -= 1;
            if g.value.is_some() || g.taken {
                return g;
            }
        }
    }

    fn take(&self, g: &mut Inner<T>) -> Result<T, TaskError> {
        match g.value.take() {
            Some(v) => {
                g.taken = true;
                v
            }
            None if g.taken => Err(TaskError::AlreadyTaken {
                task: self.name.to_string(),
            }),
            None => Err(TaskError::Timeout {
                task: self.name.to_string(),
                timeout: Duration::ZERO,
            }),
        }
    }

    fn is_err(&self) -> bool {
        matches!(lock(&self.inner).value, Some(Err(_)))
    }
}

/// The result of a submitted task, to come.
///
/// Like Python's `concurrent.futures.Future`: ask whether it is
/// [`done`](TaskFuture::done), [`cancel`](TaskFuture::cancel) it before it
/// starts, wait for its [`result`](TaskFuture::result) (with or without a
/// timeout), or `.await` it from async code.
///
/// # Examples
///
/// ```
/// use flotilla_local::CpuPool;
///
/// let pool = CpuPool::with_threads(2).unwrap();
/// let f = pool.submit(|| 6 * 7);
/// assert_eq!(f.result().unwrap(), 42);
/// ```
pub struct TaskFuture<T> {
    pub(crate) slot: Arc<Slot<T>>,
}

impl<T> fmt::Debug for TaskFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.slot.status.load(Ordering::Acquire) {
            PENDING => "pending",
            RUNNING => "running",
            _ => "done",
        };
        f.debug_struct("TaskFuture")
            .field("task", &self.slot.name.to_string())
            .field("status", &status)
            .finish()
    }
}

impl<T> TaskFuture<T> {
    pub(crate) fn new(name: TaskName) -> (TaskFuture<T>, Arc<Slot<T>>) {
        let slot = Arc::new(Slot::new(name));
        (
            TaskFuture {
                slot: Arc::clone(&slot),
            },
            slot,
        )
    }

    /// The task's key, as errors name it (`group[sequence]`).
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(1).unwrap();
    /// let f = pool.submit(|| 1);
    /// assert!(f.key().starts_with("submit["));
    /// ```
    pub fn key(&self) -> String {
        self.slot.name.to_string()
    }

    /// Whether the result (or error) is there.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(1).unwrap();
    /// let f = pool.submit(|| 1);
    /// f.wait();
    /// assert!(f.done());
    /// ```
    pub fn done(&self) -> bool {
        self.slot.is_done()
    }

    /// Whether a worker is running the task now.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(1).unwrap();
    /// let f = pool.submit(|| 1);
    /// f.wait();
    /// assert!(!f.running());
    /// ```
    pub fn running(&self) -> bool {
        self.slot.status.load(Ordering::Acquire) == RUNNING
    }

    /// Cancels the task if it has not started; returns whether it was
    /// cancelled. A cancelled task never runs; its result is
    /// [`TaskError::Cancelled`].
    ///
    /// ```
    /// use flotilla_local::{CpuPool, TaskError};
    /// let pool = CpuPool::with_threads(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let blocker = pool.submit(move || rx.recv().ok());   // occupies the only worker
    /// let queued = pool.submit(|| 1);
    /// assert!(queued.cancel());
    /// tx.send(()).unwrap();
    /// blocker.result().unwrap();
    /// assert!(matches!(queued.result(), Err(TaskError::Cancelled { .. })));
    /// ```
    pub fn cancel(&self) -> bool {
        self.slot.cancel()
    }

    /// Whether the task failed, panicked or was cancelled (false while it is
    /// not done).
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(1).unwrap();
    /// let f = pool.submit(|| -> i32 { panic!("no") });
    /// f.wait();
    /// assert!(f.is_err());
    /// ```
    pub fn is_err(&self) -> bool {
        self.slot.is_err()
    }

    /// Blocks until the task is done (without taking the result).
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(1).unwrap();
    /// let f = pool.submit(|| 1);
    /// f.wait();
    /// assert!(f.done());
    /// ```
    pub fn wait(&self) {
        drop(self.slot.wait(None));
    }

    /// Waits for the result and takes it.
    ///
    /// Called on a worker thread of a pool, it runs other queued jobs while
    /// it waits, so nested submission cannot deadlock the pool.
    ///
    /// # Errors
    ///
    /// The task's [`TaskError`]: it panicked, failed, was cancelled, or its
    /// pool shut down first.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// assert_eq!(pool.submit(|| "hi").result().unwrap(), "hi");
    /// ```
    pub fn result(self) -> Result<T, TaskError> {
        let mut g = self.slot.wait(None);
        self.slot.take(&mut g)
    }

    /// Waits at most `timeout` for the result and takes it.
    ///
    /// # Errors
    ///
    /// [`TaskError::Timeout`] if it is not there in time (the task goes on;
    /// call again later), [`TaskError::AlreadyTaken`] on a second call after
    /// success, or the task's own error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flotilla_local::{CpuPool, TaskError};
    /// let pool = CpuPool::with_threads(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let f = pool.submit(move || rx.recv().map(|_| 5).unwrap_or(0));
    /// assert!(matches!(f.result_timeout(Duration::from_millis(10)), Err(TaskError::Timeout { .. })));
    /// tx.send(()).unwrap();
    /// assert_eq!(f.result_timeout(Duration::from_secs(60)).unwrap(), 5);
    /// ```
    pub fn result_timeout(&self, timeout: Duration) -> Result<T, TaskError> {
        let mut g = self.slot.wait(Some(Instant::now() + timeout));
        if g.value.is_none() && !g.taken {
            return Err(TaskError::Timeout {
                task: self.slot.name.to_string(),
                timeout,
            });
        }
        self.slot.take(&mut g)
    }

    pub(crate) fn on_done(&self, cb: Box<dyn FnOnce() + Send>) -> Option<u64> {
        self.slot.on_done(cb)
    }

    pub(crate) fn forget_on_done(&self, id: u64) {
        self.slot.forget_on_done(id);
    }
}

impl<T> std::future::Future for TaskFuture<T> {
    type Output = Result<T, TaskError>;

    /// Await the result from async code.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut g = lock(&self.slot.inner);
        if g.value.is_some() || g.taken {
            return Poll::Ready(self.slot.take(&mut g));
        }
        g.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Owns a queued task's closure and its result slot. If the job is dropped
/// without running (the pool shut down), the slot gets
/// [`TaskError::PoolShutDown`], so no waiter hangs.
pub(crate) struct PendingTask<T, F> {
    pub(crate) slot: Arc<Slot<T>>,
    pub(crate) f: Option<F>,
}

impl<T, F: FnOnce() -> Result<T, TaskError>> PendingTask<T, F> {
    pub(crate) fn run(mut self) {
        let Some(f) = self.f.take() else { return };
        if !self.slot.try_start() {
            return; // cancelled before it started
        }
        let name = self.slot.name;
        let result = match catch_unwind(AssertUnwindSafe(f)).map_err(crate::graph_run::task_failure)
        {
            Ok(r) => r,
            Err(Ok(error)) => Err(TaskError::FailedWith {
                task: name.to_string(),
                function: name.function.to_string(),
                error,
            }),
            Err(Err(payload)) => Err(TaskError::Panicked {
                task: name.to_string(),
                function: name.function.to_string(),
                message: panic_message(&*payload),
            }),
        };
        crate::pool::tag_current_job_if_recording(|| {
            crate::recording::submitted(name.group, name.kind, name.seq, result.is_err())
        });
        let _ = crate::pool::account_current_job();
        self.slot.complete(result);
    }
}

impl<T, F> Drop for PendingTask<T, F> {
    fn drop(&mut self) {
        if self.f.is_some() {
            self.slot.complete(Err(TaskError::PoolShutDown {
                task: self.slot.name.to_string(),
            }));
        }
    }
}
