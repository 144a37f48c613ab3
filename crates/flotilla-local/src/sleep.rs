//! Idle workers sleep; new work wakes them. No busy spinning.
//!
//! A worker that finds no job spins briefly (yielding), then announces itself
//! as a sleeper and checks the queues one last time *while holding the sleep
//! lock* before it waits on the condition variable. A thread that queues a
//! job first makes the job visible, then reads the sleeper count (both
//! sequentially consistent): either the sleeper's last check sees the job,
//! or the pusher sees the sleeper and takes the lock to notify it — and since
//! the sleeper holds the lock from its last check until it is inside
//! `wait`, that notification cannot fall between the two. So no wake-up is
//! lost, and an idle pool sits in `wait` at ~0% CPU.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

#[derive(Debug, Default)]
pub(crate) struct Sleep {
    lock: Mutex<()>,
    wake: Condvar,
    sleepers: AtomicUsize,
}

impl Sleep {
    /// Parks the calling worker unless `has_work` (evaluated under the lock)
    /// finds something, or `stop` says the pool is shutting down.
    pub(crate) fn sleep(&self, has_work: impl Fn() -> bool, stop: impl Fn() -> bool) {
        let guard = match self.lock.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        if has_work() || stop() {
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let guard = match self.wake.wait(guard) {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
    }

    /// Called after a job became visible: wakes one sleeper (or all, when
    /// the job is for one particular worker and any of them may be asleep).
    #[inline]
    pub(crate) fn notify(&self, all: bool) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock();
            if all {
                self.wake.notify_all();
            } else {
                self.wake.notify_one();
            }
        }
    }

    /// Wakes everybody (shutdown).
    pub(crate) fn notify_all(&self) {
        let _guard = self.lock.lock();
        self.wake.notify_all();
    }
}
