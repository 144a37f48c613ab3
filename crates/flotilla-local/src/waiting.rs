//! Waiting on many futures: `as_completed` and `wait`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::future::TaskFuture;

/// Yields futures as they complete, whatever the order they were given in —
/// Python's `concurrent.futures.as_completed`.
///
/// ```
/// use flotilla_local::{as_completed, CpuPool};
/// let pool = CpuPool::with_threads(2).unwrap();
/// let futures: Vec<_> = (1..=4u64).map(|i| pool.submit(move || i * 10)).collect();
/// let mut total = 0;
/// for f in as_completed(futures) {
///     total += f.result().unwrap();
/// }
/// assert_eq!(total, 100);
/// ```
pub fn as_completed<T: Send + 'static>(
    futures: impl IntoIterator<Item = TaskFuture<T>>,
) -> AsCompleted<T> {
    let (tx, rx) = mpsc::channel();
    let futures: Vec<Option<TaskFuture<T>>> = futures
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let tx = tx.clone();
            f.on_done(Box::new(move || {
                let _ = tx.send(i);
            }));
            Some(f)
        })
        .collect();
    AsCompleted {
        remaining: futures.len(),
        futures,
        rx,
    }
}

/// The iterator of [`as_completed`].
#[derive(Debug)]
pub struct AsCompleted<T> {
    futures: Vec<Option<TaskFuture<T>>>,
    rx: mpsc::Receiver<usize>,
    remaining: usize,
}

impl<T> AsCompleted<T> {
    /// The next completed future, waiting at most `timeout`; `None` when
    /// none completed in time or none is left.
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = flotilla_local::CpuPool::with_threads(1).unwrap();
    /// let mut it = flotilla_local::as_completed(vec![pool.submit(|| 1)]);
    /// assert!(it.next_timeout(Duration::from_secs(60)).is_some());
    /// assert!(it.next_timeout(Duration::from_millis(1)).is_none());
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<TaskFuture<T>> {
        if self.remaining == 0 {
            return None;
        }
        let deadline = Instant::now() + timeout;
        let i = loop {
            // A worker thread runs queued jobs while it waits, as `next` does.
            if crate::pool::is_any_worker_thread() {
                match self.rx.try_recv() {
                    Ok(i) => break i,
                    Err(mpsc::TryRecvError::Disconnected) => return None,
                    Err(mpsc::TryRecvError::Empty) => {}
                }
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                if crate::pool::help_current() {
                    continue;
                }
                if let Ok(i) = self
                    .rx
                    .recv_timeout((deadline - now).min(Duration::from_millis(1)))
                {
                    break i;
                }
            } else {
                break self.rx.recv_timeout(timeout).ok()?;
            }
        };
        self.remaining -= 1;
        self.futures.get_mut(i).and_then(Option::take)
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = TaskFuture<T>;

    fn next(&mut self) -> Option<TaskFuture<T>> {
        if self.remaining == 0 {
            return None;
        }
        // A worker thread must not block here: help the pool between checks.
        let i = if crate::pool::is_any_worker_thread() {
            loop {
                match self.rx.try_recv() {
                    Ok(i) => break i,
                    Err(mpsc::TryRecvError::Disconnected) => return None,
                    Err(mpsc::TryRecvError::Empty) => {
                        if !crate::pool::help_current() {
                            if let Ok(i) = self.rx.recv_timeout(Duration::from_millis(1)) {
                                break i;
                            }
                        }
                    }
                }
            }
        } else {
            self.rx.recv().ok()?
        };
        self.remaining -= 1;
        self.futures.get_mut(i).and_then(Option::take)
    }
}

/// When [`wait`] returns.
///
/// ```
/// assert_ne!(flotilla_local::WaitFor::AllCompleted, flotilla_local::WaitFor::FirstCompleted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// When every future is done.
    AllCompleted,
    /// When any future is done.
    FirstCompleted,
    /// When any future ends in error, or all are done.
    FirstError,
}

/// The answer of [`wait`]: indices of the futures done and not done.
///
/// ```
/// let w = flotilla_local::WaitResult { done: vec![0], not_done: vec![1] };
/// assert_eq!(w.done.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WaitResult {
    /// Indices of the futures that are done.
    pub done: Vec<usize>,
    /// Indices of those that are not.
    pub not_done: Vec<usize>,
}

/// Waits until `futures` satisfy `until`, or `timeout` passes — Python's
/// `concurrent.futures.wait`. Results stay in the futures.
///
/// ```
/// use flotilla_local::{wait, CpuPool, WaitFor};
/// let pool = CpuPool::with_threads(2).unwrap();
/// let fs = vec![pool.submit(|| 1), pool.submit(|| -> i32 { panic!("bad") })];
/// let r = wait(&fs, WaitFor::FirstError, None);
/// assert!(r.done.contains(&1));
/// let r = wait(&fs, WaitFor::AllCompleted, None);
/// assert_eq!(r.done, [0, 1]);
/// ```
pub fn wait<T: Send + 'static>(
    futures: &[TaskFuture<T>],
    until: WaitFor,
    timeout: Option<Duration>,
) -> WaitResult {
    let deadline = timeout.map(|t| Instant::now() + t);
    let (tx, rx) = mpsc::channel();
    // Callbacks that have not run by the time `wait` returns are removed,
    // so that polling `wait` in a loop does not pile them up.
    let registered: Vec<(usize, u64)> = futures
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let tx = tx.clone();
            f.on_done(Box::new(move || {
                let _ = tx.send(i);
            }))
            .map(|id| (i, id))
        })
        .collect();
    drop(tx);
    let satisfied = |futures: &[TaskFuture<T>]| -> bool {
        match until {
            WaitFor::AllCompleted => futures.iter().all(TaskFuture::done),
            WaitFor::FirstCompleted => futures.is_empty() || futures.iter().any(TaskFuture::done),
            WaitFor::FirstError => {
                futures.iter().all(TaskFuture::done)
                    || futures.iter().any(|f| f.done() && f.is_err())
            }
        }
    };
    while !satisfied(futures) {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let pause = if crate::pool::is_any_worker_thread() {
            if crate::pool::help_current() {
                continue;
            }
            Duration::from_millis(1)
        } else {
            Duration::from_millis(100)
        };
        let pause = match deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    break;
                }
                pause.min(d - now)
            }
            None => pause,
        };
        if let Err(mpsc::RecvTimeoutError::Disconnected) = rx.recv_timeout(pause) {
            break;
        }
    }
    for (i, id) in registered {
        futures[i].forget_on_done(id);
    }
    let (done, not_done) = (0..futures.len()).partition(|&i| futures[i].done());
    WaitResult { done, not_done }
}
