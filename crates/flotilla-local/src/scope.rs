//! Scoped jobs: work spawned on a pool that may borrow from the caller's
//! stack, because the caller waits for all of it.
//!
//! [`CpuPool::scope`] runs a body on the calling thread and hands it a
//! [`Scope`]; every job spawned through that scope (or, from inside a job,
//! through the scope it is given) runs on the pool's workers, like any
//! other job — in their queues, stolen by idle workers, counted in their
//! run report. `scope` returns only when every one of those jobs has ended,
//! which is what makes borrowing sound.
//!
//! # The one invariant
//!
//! A job spawned in a scope is a closure that lives for `'scope`, while the
//! pool's queues hold `'static` jobs. The lifetime is erased when the job
//! is queued (the crate's only `unsafe`), and this holds it together:
//!
//! > `scope` does not return, and does not unwind, before the count of its
//! > jobs not yet ended has fallen to zero; a job's count is given back
//! > only after its closure has been run or dropped.
//!
//! The count is taken before the job is queued and given back by a guard
//! that is dropped after the closure, whether the job ran, panicked or was
//! dropped unrun. A panic in a job is caught, the other jobs run on, and
//! the first panic resumes in the caller once all have ended; a panic in
//! the body waits for the jobs the same way before it resumes.
//!
//! A caller that is itself a worker of a pool runs queued jobs while it
//! waits, so a scope opened inside a task cannot deadlock its pool; other
//! waits of that kind use [`yield_now`].

use std::any::Any;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::executor::CpuPool;
use crate::pool::{Job, PoolHandle};

/// Jobs spawned in one [`CpuPool::scope`], which waits for all of them.
///
/// A job may borrow anything that outlives the scope; it is given the
/// scope, so it can spawn more.
///
/// ```
/// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
/// let words = ["tea", "coffee", "water"];
/// let mut lengths = vec![0; words.len()];
/// pool.scope(|s| {
///     for (word, length) in words.iter().zip(lengths.iter_mut()) {
///         s.spawn(move |_| *length = word.len());
///     }
/// });
/// assert_eq!(lengths, [3, 6, 5]);
/// ```
pub struct Scope<'scope> {
    pool: PoolHandle,
    state: Arc<ScopeState>,
    /// Invariant in `'scope`, as a `&'scope mut` would be: a scope cannot
    /// be passed where a longer-lived one is expected.
    _marker: PhantomData<fn(&'scope ()) -> &'scope ()>,
}

impl std::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("jobs_not_ended", &*self.state.lock())
            .finish()
    }
}

/// What a scope and its jobs share: how many jobs have not ended, the
/// first panic among them, and the signal of the last one ending.
#[derive(Default)]
struct ScopeState {
    pending: Mutex<usize>,
    ended: Condvar,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl ScopeState {
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn note_panic(&self, payload: Box<dyn Any + Send>) {
        let mut first = self.panic.lock().unwrap_or_else(PoisonError::into_inner);
        if first.is_none() {
            *first = Some(payload);
        }
    }

    fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.panic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn job_ended(&self) {
        let mut pending = self.lock();
        *pending -= 1;
        if *pending == 0 {
            self.ended.notify_all();
        }
    }

    /// Blocks until every job ended; a worker thread runs other jobs
    /// meanwhile (among them, likely, this scope's).
    fn wait(&self) {
        loop {
            let on_worker = crate::pool::is_any_worker_thread();
            if on_worker && *self.lock() > 0 && crate::pool::help_current() {
                continue;
            }
            let pending = self.lock();
            if *pending == 0 {
                return;
            }
            if on_worker {
                // Jobs may appear in this worker's queues without a signal
                // to this scope: look again soon.
                drop(
                    self.ended
                        .wait_timeout(pending, Duration::from_millis(1))
                        .unwrap_or_else(PoisonError::into_inner),
                );
            } else {
                drop(
                    self.ended
                        .wait(pending)
                        .unwrap_or_else(PoisonError::into_inner),
                );
            }
        }
    }
}

/// A spawned job's closure and its place in the count; dropping it gives
/// the place back, after the closure is gone.
struct ScopedJob<F> {
    body: Option<F>,
    state: Arc<ScopeState>,
}

impl<F> Drop for ScopedJob<F> {
    fn drop(&mut self) {
        // The closure (and whatever it borrows) goes first; only then may
        // the scope learn that this job ended.
        drop(self.body.take());
        self.state.job_ended();
    }
}

impl<'scope> Scope<'scope> {
    fn new(pool: PoolHandle) -> Scope<'scope> {
        Scope {
            pool,
            state: Arc::new(ScopeState::default()),
            _marker: PhantomData,
        }
    }

    /// The same scope, for a job to spawn into.
    fn share(&self) -> Scope<'scope> {
        Scope {
            pool: self.pool.clone(),
            state: Arc::clone(&self.state),
            _marker: PhantomData,
        }
    }

    /// Queues `job` on the pool, placed by the pool's policy as
    /// [`CpuPool::submit`] places its tasks; the scope waits for it. The
    /// job is given the scope, to spawn more.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// let leaves = AtomicUsize::new(0);
    /// pool.scope(|s| {
    ///     for _ in 0..3 {
    ///         s.spawn(|s| {
    ///             for _ in 0..4 {
    ///                 s.spawn(|_| { leaves.fetch_add(1, Ordering::Relaxed); });
    ///             }
    ///         });
    ///     }
    /// });
    /// assert_eq!(leaves.into_inner(), 12);
    /// ```
    ///
    /// A job runs on another thread, so it must be `Send`:
    ///
    /// ```compile_fail
    /// let pool = flotilla_local::CpuPool::with_threads(1).unwrap();
    /// let not_send = std::rc::Rc::new(1);
    /// pool.scope(|s| s.spawn(move |_| drop(not_send)));
    /// ```
    pub fn spawn<F>(&self, job: F)
    where
        F: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        *self.state.lock() += 1;
        let scope = self.share();
        let mut scoped = ScopedJob {
            body: Some(job),
            state: Arc::clone(&self.state),
        };
        let run: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || {
            if let Some(body) = scoped.body.take() {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| body(&scope))) {
                    scope.state.note_panic(payload);
                }
            }
            // Counted before the scope can learn that the job ended, so a
            // caller who measures the scope sees every job in the report.
            let _ = crate::pool::account_current_job();
            drop(scoped);
        });
        // SAFETY: the job borrows nothing that ends before `'scope`, and
        // `CpuPool::scope` (the only maker of a `Scope`) neither returns
        // nor unwinds until the count taken above is given back, which
        // `ScopedJob::drop` does only after the closure has been run or
        // dropped. So the closure is never touched after `'scope` ends,
        // though the pool's queue type says `'static`. The layouts are
        // equal: only the lifetime differs.
        let run: Job =
            unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + 'scope>, Job>(run) };
        self.pool.submit(run);
    }
}

impl CpuPool {
    /// Runs `body` on the calling thread with a [`Scope`] whose jobs run on
    /// this pool and may borrow from the caller; returns `body`'s value
    /// once every job spawned in the scope has ended.
    ///
    /// The jobs are the pool's own work: idle workers steal them, and
    /// [`CpuPool::measure`] counts them. A job that panics does not stop
    /// the others; once all have ended, the first panic (the body's, or
    /// else a job's) continues in the caller.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// let data: Vec<u64> = (1..=100).collect();
    /// let (left, right) = data.split_at(50);
    /// let (mut a, mut b) = (0, 0);
    /// let ((), report) = pool.measure(|| pool.scope(|s| {
    ///     s.spawn(|_| a = left.iter().sum());
    ///     s.spawn(|_| b = right.iter().sum());
    /// }));
    /// assert_eq!(a + b, 5050);
    /// assert_eq!(report.tasks(), 2);
    /// ```
    ///
    /// A panicking job:
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// use std::panic::{catch_unwind, AssertUnwindSafe};
    /// let caught = catch_unwind(AssertUnwindSafe(|| pool.scope(|s| s.spawn(|_| panic!("bad job")))));
    /// assert_eq!(caught.unwrap_err().downcast_ref::<&str>(), Some(&"bad job"));
    /// ```
    pub fn scope<'scope, R>(&self, body: impl FnOnce(&Scope<'scope>) -> R) -> R {
        let scope = Scope::new(self.handle().clone());
        let result = catch_unwind(AssertUnwindSafe(|| body(&scope)));
        scope.state.wait();
        let job_panic = scope.state.take_panic();
        match (result, job_panic) {
            (Err(payload), _) | (Ok(_), Some(payload)) => resume_unwind(payload),
            (Ok(value), None) => value,
        }
    }
}

/// What [`yield_now`] did.
///
/// ```
/// assert_ne!(flotilla_local::Yield::Executed, flotilla_local::Yield::Idle);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Yield {
    /// A queued job of the calling worker's pool ran.
    Executed,
    /// The calling thread is a worker, but no job was waiting.
    Idle,
}

/// Lets the pool work while the calling thread waits for something else:
/// on a worker thread of a pool, runs one queued job of that pool (its own
/// queues first, then one stolen) and says whether there was one; on any
/// other thread does nothing and returns `None`.
///
/// Code that waits on the calling thread for work it gave the pool (a
/// pipeline's sink, a hand-rolled latch) calls this in its loop, so a wait
/// that happens inside a task cannot starve the pool of that worker.
///
/// ```
/// use flotilla_local::{yield_now, CpuPool, Yield};
/// assert_eq!(yield_now(), None, "the test's thread is no worker");
/// let pool = CpuPool::with_threads(1).unwrap();
/// let inside = pool.submit(yield_now).result().unwrap();
/// assert_eq!(inside, Some(Yield::Idle));
/// ```
pub fn yield_now() -> Option<Yield> {
    if !crate::pool::is_any_worker_thread() {
        return None;
    }
    Some(if crate::pool::help_current() {
        Yield::Executed
    } else {
        Yield::Idle
    })
}

#[cfg(test)]
mod test {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn jobs_spawned_from_inside_a_one_thread_pool_task_do_not_deadlock() {
        let pool = CpuPool::with_threads(1).unwrap();
        let inner = pool.clone();
        let total = pool
            .submit(move || {
                let count = AtomicUsize::new(0);
                inner.scope(|s| {
                    for _ in 0..10 {
                        s.spawn(|_| {
                            count.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                });
                count.into_inner()
            })
            .result()
            .unwrap();
        assert_eq!(total, 10);
    }

    #[test]
    fn the_scope_waits_for_jobs_after_the_body_panics() {
        /// Lets the jobs finish once the body is unwinding.
        struct ReleaseOnDrop<'a>(&'a AtomicBool);
        impl Drop for ReleaseOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }

        let pool = CpuPool::with_threads(2).unwrap();
        let ran = AtomicUsize::new(0);
        let released = AtomicBool::new(false);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                let _release = ReleaseOnDrop(&released);
                for _ in 0..8 {
                    s.spawn(|_| {
                        // Still running when the body panics.
                        while !released.load(Ordering::SeqCst) {
                            std::thread::yield_now();
                        }
                        ran.fetch_add(1, Ordering::SeqCst);
                    });
                }
                panic!("body gave up");
            })
        }));
        assert_eq!(
            caught.unwrap_err().downcast_ref::<&str>(),
            Some(&"body gave up")
        );
        assert_eq!(
            ran.load(Ordering::SeqCst),
            8,
            "every job ended before the unwind went on"
        );
    }

    #[test]
    fn a_job_dropped_unrun_still_ends() {
        let state = Arc::new(ScopeState::default());
        *state.lock() += 1;
        let job = ScopedJob {
            body: Some(|| ()),
            state: Arc::clone(&state),
        };
        drop(job);
        assert_eq!(*state.lock(), 0);
    }
}
