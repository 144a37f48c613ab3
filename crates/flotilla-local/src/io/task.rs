//! Async tasks: a small executor on the I/O pool's threads.
//!
//! An [`AsyncTask`] is a shared cell holding the boxed future and the slot
//! of its [`TaskFuture`]. It is its own waker ([`Wake`]): waking it queues
//! one *poll job* on the pool, and the pool thread that takes the job polls
//! the future once. Between polls the task sits in whatever holds its waker
//! (the timer, another task's future, …) and holds no thread.
//!
//! An atomic state makes sure a task is queued at most once and polled by
//! one thread at a time:
//!
//! ```text
//!             wake                   a thread takes the job
//!   IDLE ─────────────► SCHEDULED ─────────────────────────► RUNNING
//!    ▲                      ▲                                 │   │
//!    │                      │ Pending, woken meanwhile:       │   │ wake
//!    │                      │ queued again                    │   ▼
//!    │                      └──────────────────────────── NOTIFIED
//!    │            Pending                                     │
//!    └────────────────────────────────────────────────────────┘ (from RUNNING)
//!
//!   RUNNING ── Ready, or a panic ──► DONE          (wakes in DONE are ignored)
//! ```
//!
//! Each task is registered with its pool ([`LiveTasks`]) until it is done,
//! so that the pool's shutdown can fail the tasks still waiting with
//! [`TaskError::PoolShutDown`] — their wakers may never fire otherwise.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};
use std::task::{Context, Poll, Wake, Waker};

use crate::error::{panic_message, TaskError};
use crate::future::{Slot, TaskFuture, TaskName};

use super::threads::JobKind;
use super::Shared;

const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
const RUNNING: u8 = 2;
const NOTIFIED: u8 = 3;
const DONE: u8 = 4;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Drops a future whose drop might panic (it panicked while polled, or the
/// pool is shutting down) without letting the panic out.
fn drop_quietly<T>(value: T) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// A task the pool's shutdown can fail.
trait Abandon: Send + Sync {
    /// Drops the future (if no one is polling it) and completes the task
    /// with [`TaskError::PoolShutDown`].
    fn abandon(&self);
}

/// The async tasks of a pool that are not done yet.
pub(super) struct LiveTasks {
    state: Mutex<LiveState>,
}

struct LiveState {
    closed: bool,
    tasks: HashMap<u64, Weak<dyn Abandon>>,
}

impl fmt::Debug for LiveTasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("LiveTasks")
            .field("closed", &st.closed)
            .field("tasks", &st.tasks.len())
            .finish()
    }
}

impl LiveTasks {
    pub(super) fn new() -> LiveTasks {
        LiveTasks {
            state: Mutex::new(LiveState {
                closed: false,
                tasks: HashMap::new(),
            }),
        }
    }

    /// Registers a task; false once the pool has shut down.
    fn register(&self, id: u64, task: Weak<dyn Abandon>) -> bool {
        let mut st = lock(&self.state);
        if st.closed {
            return false;
        }
        st.tasks.insert(id, task);
        true
    }

    fn unregister(&self, id: u64) {
        lock(&self.state).tasks.remove(&id);
    }

    /// Refuses new tasks and fails every task still registered. Called by
    /// the shutdown once the pool's threads are joined, so nobody else is
    /// polling them.
    pub(super) fn abandon_all(&self) {
        let tasks = {
            let mut st = lock(&self.state);
            st.closed = true;
            std::mem::take(&mut st.tasks)
        };
        for task in tasks.into_values().filter_map(|t| t.upgrade()) {
            task.abandon();
        }
    }
}

struct Body<T> {
    future: Option<BoxFuture<T>>,
    /// Whether the slot was claimed (the first poll happened).
    started: bool,
}

/// One async task: its future, its result slot and its scheduling state.
struct AsyncTask<T> {
    state: AtomicU8,
    body: Mutex<Body<T>>,
    slot: Arc<Slot<T>>,
    pool: Weak<Shared>,
}

/// Starts `future` as a task on `shared`'s pool.
pub(super) fn spawn<T, F>(shared: &Arc<Shared>, name: TaskName, future: F) -> TaskFuture<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (handle, slot) = TaskFuture::new(name);
    let task = Arc::new(AsyncTask {
        state: AtomicU8::new(SCHEDULED),
        body: Mutex::new(Body {
            future: Some(Box::pin(future)),
            started: false,
        }),
        slot,
        pool: Arc::downgrade(shared),
    });
    let weak: Weak<dyn Abandon> = Arc::downgrade(&task) as Weak<dyn Abandon>;
    if shared.tasks.register(name.seq, weak) {
        schedule(task);
    } else {
        task.abandon();
    }
    handle
}

/// Queues one poll of `task` (whose state is SCHEDULED).
fn schedule<T: Send + 'static>(task: Arc<AsyncTask<T>>) {
    let Some(shared) = task.pool.upgrade() else {
        task.abandon();
        return;
    };
    let job = PollJob(Some(task));
    shared
        .threads
        .submit(Box::new(move || job.run()), JobKind::Poll);
}

/// A queued poll. Dropped without running (the pool shut down), it fails
/// its task, so no waiter hangs.
struct PollJob<T>(Option<Arc<AsyncTask<T>>>);

impl<T: Send + 'static> PollJob<T> {
    fn run(mut self) {
        if let Some(task) = self.0.take() {
            task.poll_once();
        }
    }
}

impl<T> Drop for PollJob<T> {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abandon();
        }
    }
}

impl<T: Send + 'static> AsyncTask<T> {
    fn poll_once(self: Arc<Self>) {
        self.state.store(RUNNING, Ordering::Release);
        let mut body = lock(&self.body);
        if !body.started {
            if !self.slot.try_start() {
                // Cancelled before its first poll: it never runs.
                let future = body.future.take();
                drop(body);
                self.finish();
                drop_quietly(future);
                return;
            }
            body.started = true;
        }
        let Some(future) = body.future.as_mut() else {
            return; // already done or abandoned
        };
        let waker = Waker::from(Arc::clone(&self));
        let mut cx = Context::from_waker(&waker);
        let polled = catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
        match polled {
            Ok(Poll::Pending) => {
                drop(body);
                if self
                    .state
                    .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    // Woken while it was being polled: poll again.
                    self.state.store(SCHEDULED, Ordering::Release);
                    schedule(self);
                } else if self.pool.upgrade().is_none_or(|p| p.is_shut_down()) {
                    // The pool shut down meanwhile (dropped from this very
                    // task); its sweep could not take this task then.
                    self.abandon();
                }
            }
            Ok(Poll::Ready(value)) => {
                let future = body.future.take();
                drop(body);
                self.finish();
                drop_quietly(future);
                self.slot.complete(Ok(value));
            }
            Err(payload) => {
                let future = body.future.take();
                drop(body);
                self.finish();
                drop_quietly(future);
                let name = self.slot.name;
                self.slot.complete(Err(TaskError::Panicked {
                    task: name.to_string(),
                    function: name.function.to_string(),
                    message: panic_message(&*payload),
                }));
            }
        }
    }
}

impl<T> AsyncTask<T> {
    /// Marks the task done and takes it off its pool's books.
    fn finish(&self) {
        self.state.store(DONE, Ordering::Release);
        if let Some(shared) = self.pool.upgrade() {
            shared.tasks.unregister(self.slot.name.seq);
        }
    }

    /// Drops the future (unless it is being polled right now) and completes
    /// the task with [`TaskError::PoolShutDown`].
    fn abandon(&self) {
        let future = match self.body.try_lock() {
            Ok(mut body) => body.future.take(),
            Err(TryLockError::Poisoned(p)) => p.into_inner().future.take(),
            // Being polled right now: the poller finishes the job.
            Err(TryLockError::WouldBlock) => return,
        };
        if future.is_none() {
            return;
        }
        self.finish();
        drop_quietly(future);
        self.slot.complete(Err(TaskError::PoolShutDown {
            task: self.slot.name.to_string(),
        }));
    }
}

impl<T: Send + 'static> Abandon for AsyncTask<T> {
    fn abandon(&self) {
        AsyncTask::abandon(self);
    }
}

impl<T: Send + 'static> Wake for AsyncTask<T> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                _ => return,
            };
            match self
                .state
                .compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if next == SCHEDULED {
                        schedule(Arc::clone(self));
                    }
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }
}
