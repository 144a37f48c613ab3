//! Async sleeping: one timer thread for the whole process.
//!
//! A [`Sleep`] that is polled before its deadline hands an *alarm* (a flag
//! and the waker to call) to the timer. The timer keeps the alarms in a
//! min-heap ordered by deadline, behind a mutex; its thread waits on a
//! condition variable until the earliest deadline (or until an earlier alarm
//! is added), then fires every alarm that is due: it sets the flag and wakes
//! the waker, outside the lock. So a thousand sleeping tasks cost a thousand
//! heap entries, not a thousand threads.
//!
//! The thread starts with the first alarm and then stays, waiting without a
//! timeout while the heap is empty. A `Sleep` dropped early leaves its entry
//! in the heap until its deadline, but drops its waker at once, so the task
//! it belonged to is not kept alive.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// What a sleeping task left with the timer.
#[derive(Debug)]
struct Alarm {
    state: Mutex<AlarmState>,
}

#[derive(Debug)]
struct AlarmState {
    fired: bool,
    waker: Option<Waker>,
}

impl Alarm {
    fn fire(&self) {
        let waker = {
            let mut st = lock(&self.state);
            st.fired = true;
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

struct Entry {
    deadline: Instant,
    seq: u64,
    alarm: Arc<Alarm>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

struct Timer {
    state: Mutex<TimerState>,
    /// The timer thread waits here for the next deadline or a new alarm.
    tick: Condvar,
}

struct TimerState {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    started: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<Timer> = OnceLock::new();
    TIMER.get_or_init(|| Timer {
        state: Mutex::new(TimerState {
            heap: BinaryHeap::new(),
            seq: 0,
            started: false,
        }),
        tick: Condvar::new(),
    })
}

impl Timer {
    /// Adds an alarm, starting the timer thread if it is the first.
    fn add(&'static self, deadline: Instant, alarm: Arc<Alarm>) -> std::io::Result<()> {
        let mut st = lock(&self.state);
        if !st.started {
            std::thread::Builder::new()
                .name("flotilla-timer".into())
                .spawn(move || self.run())?;
            st.started = true;
        }
        let seq = st.seq;
        st.seq += 1;
        let earliest = st
            .heap
            .peek()
            .is_none_or(|Reverse(e)| deadline < e.deadline);
        st.heap.push(Reverse(Entry {
            deadline,
            seq,
            alarm,
        }));
        if earliest {
            self.tick.notify_one();
        }
        Ok(())
    }

    fn run(&self) {
        let mut st = lock(&self.state);
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            while st.heap.peek().is_some_and(|Reverse(e)| e.deadline <= now) {
                if let Some(Reverse(e)) = st.heap.pop() {
                    due.push(e.alarm);
                }
            }
            if !due.is_empty() {
                drop(st);
                for alarm in due {
                    alarm.fire();
                }
                st = lock(&self.state);
                continue;
            }
            let next = st.heap.peek().map(|Reverse(e)| e.deadline);
            st = match next {
                Some(deadline) => match self
                    .tick
                    .wait_timeout(st, deadline.saturating_duration_since(now))
                {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                },
                None => match self.tick.wait(st) {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                },
            };
        }
    }
}

/// A future that completes at a deadline: see [`sleep`].
///
/// It works under any executor (it only needs the waker it is polled
/// with), and costs no thread while it waits: one process-wide timer thread
/// wakes every sleeper.
///
/// ```
/// use std::time::{Duration, Instant};
/// use flotilla_local::{sleep, IoPool};
///
/// let pool = IoPool::new();
/// let start = Instant::now();
/// let nap = sleep(Duration::from_millis(5));
/// pool.spawn_async(nap).result().unwrap();
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
#[derive(Debug)]
#[must_use = "a Sleep does nothing unless it is awaited"]
pub struct Sleep {
    deadline: Instant,
    alarm: Option<Arc<Alarm>>,
}

/// A future that completes once `duration` has passed: the async
/// counterpart of [`std::thread::sleep`], for tasks run with
/// [`IoPool::spawn_async`](crate::IoPool::spawn_async) (or any executor).
/// While it waits no thread is held: one shared timer thread wakes it.
///
/// # Panics
///
/// Polling it panics if the timer thread cannot be started (the operating
/// system refused a thread); under `spawn_async` that panic becomes the
/// task's [`TaskError::Panicked`](crate::TaskError::Panicked).
///
/// ```
/// use std::time::Duration;
/// use flotilla_local::{sleep, IoPool};
///
/// let pool = IoPool::new();
/// let tasks: Vec<_> = (0..100u64)
///     .map(|i| pool.spawn_async(async move {
///         sleep(Duration::from_millis(10)).await;
///         i
///     }))
///     .collect();
/// let total: u64 = tasks.into_iter().map(|t| t.result().unwrap()).sum();
/// assert_eq!(total, 4950);
/// assert!(pool.peak_threads() < 100); // the sleepers did not hold threads
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let now = Instant::now();
    // An overflowing deadline is as good as "never": thirty years away.
    let deadline = now
        .checked_add(duration)
        .or_else(|| now.checked_add(Duration::from_secs(30 * 365 * 86_400)))
        .unwrap_or(now);
    sleep_until(deadline)
}

/// A future that completes at `deadline` (at once if it has passed).
///
/// ```
/// use std::time::{Duration, Instant};
/// use flotilla_local::{sleep_until, IoPool};
///
/// let deadline = Instant::now() + Duration::from_millis(5);
/// IoPool::new().spawn_async(sleep_until(deadline)).result().unwrap();
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        alarm: None,
    }
}

impl Sleep {
    /// When the sleep ends.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let deadline = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(flotilla_local::sleep_until(deadline).deadline(), deadline);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        match &self.alarm {
            Some(alarm) => {
                let mut st = lock(&alarm.state);
                if st.fired {
                    return Poll::Ready(());
                }
                if !st.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    st.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            None => {
                let alarm = Arc::new(Alarm {
                    state: Mutex::new(AlarmState {
                        fired: false,
                        waker: Some(cx.waker().clone()),
                    }),
                });
                if let Err(e) = timer().add(self.deadline, Arc::clone(&alarm)) {
                    panic!("flotilla could not start its timer thread: {e}");
                }
                self.alarm = Some(alarm);
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(alarm) = &self.alarm {
            let waker = lock(&alarm.state).waker.take();
            drop(waker);
        }
    }
}
