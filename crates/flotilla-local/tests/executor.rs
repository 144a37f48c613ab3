//! `CpuPool` as a `concurrent.futures` executor: `submit`, `try_submit`,
//! `map`, `as_completed`, `wait`, timeouts, cancellation, `.await`, and the
//! accounting of `measure`.
//!
//! A task that must stay unfinished waits on a [`Gate`] that the test opens;
//! no assertion depends on how fast anything runs.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

use flotilla_local::{as_completed, wait, CpuPool, TaskError, TaskFuture, WaitFor};

/// Long enough never to be reached unless something is broken.
const LONG: Duration = Duration::from_secs(30);

/// A one-shot gate: tasks wait on it until the test opens it.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::default()
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    /// Waits until the gate opens; panics (failing the task) if it never does.
    fn wait(&self) {
        let open = self.open.lock().unwrap();
        let (open, _) = self
            .opened
            .wait_timeout_while(open, LONG, |open| !*open)
            .unwrap();
        assert!(*open, "the gate was never opened");
    }
}

/// Submits a task that reports when it starts, then waits on `gate` and
/// returns `value`. Returns once the task is running.
fn submit_blocked<T: Send + 'static>(pool: &CpuPool, gate: &Arc<Gate>, value: T) -> TaskFuture<T> {
    let (started_tx, started_rx) = mpsc::channel();
    let gate = Arc::clone(gate);
    let f = pool.submit(move || {
        started_tx.send(()).unwrap();
        gate.wait();
        value
    });
    started_rx
        .recv_timeout(LONG)
        .expect("the blocked task never started");
    f
}

#[test]
fn submit_returns_each_tasks_result() {
    let pool = CpuPool::with_threads(2).unwrap();
    let futures: Vec<_> = (0..100u64).map(|i| pool.submit(move || i * 3)).collect();
    let got: Vec<u64> = futures.into_iter().map(|f| f.result().unwrap()).collect();
    assert_eq!(got, (0..100u64).map(|i| i * 3).collect::<Vec<_>>());
}

#[test]
fn submitted_keys_are_distinct() {
    let pool = CpuPool::with_threads(2).unwrap();
    let futures: Vec<_> = (0..20).map(|i| pool.submit(move || i)).collect();
    let mut keys: Vec<String> = futures.iter().map(TaskFuture::key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 20);
    for f in futures {
        f.result().unwrap();
    }
}

#[test]
fn a_result_can_be_taken_only_once() {
    let pool = CpuPool::with_threads(1).unwrap();
    let f = pool.submit(|| String::from("once"));
    assert_eq!(f.result_timeout(LONG).unwrap(), "once");
    assert!(f.done());
    match f.result_timeout(LONG) {
        Err(TaskError::AlreadyTaken { task }) => assert_eq!(task, f.key()),
        other => panic!("expected AlreadyTaken, got {other:?}"),
    }
}

#[test]
fn try_submit_error_becomes_failed_naming_task_and_message() {
    let pool = CpuPool::with_threads(2).unwrap();
    let f = pool.try_submit(|| -> Result<u8, String> { Err("disk on fire".into()) });
    let key = f.key();
    let err = f.result().unwrap_err();
    match &err {
        TaskError::Failed {
            task,
            function,
            message,
        } => {
            assert_eq!(task, &key);
            assert_eq!(message, "disk on fire");
            assert!(function.contains("executor::"), "function: {function}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert_eq!(err.task(), Some(key.as_str()));
    let shown = err.to_string();
    assert!(shown.contains(&key), "{shown}");
    assert!(shown.contains("disk on fire"), "{shown}");
}

#[test]
fn try_submit_ok_gives_the_value() {
    let pool = CpuPool::with_threads(1).unwrap();
    let f = pool.try_submit(|| "41".parse::<i32>().map(|x| x + 1));
    assert_eq!(f.result().unwrap(), 42);
}

#[test]
fn map_keeps_item_order_whatever_the_chunk_size() {
    let pool = CpuPool::with_threads(2).unwrap();
    // 1003 is divisible by none of 7 and 1000, so the last chunk is short.
    let n = 1003u64;
    for chunk in [1usize, 7, 1000] {
        // The first item only finishes after the last one has run, so
        // results complete out of order; they must still come back in order.
        let last_ran = Gate::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let (gate, counter) = (Arc::clone(&last_ran), Arc::clone(&calls));
        let out: Vec<u64> = pool
            .map_chunked(0..n, chunk, move |x| {
                counter.fetch_add(1, Ordering::SeqCst);
                if x == 0 {
                    gate.wait();
                }
                if x == n - 1 {
                    gate.open();
                }
                x * 2
            })
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            out,
            (0..n).map(|x| x * 2).collect::<Vec<_>>(),
            "chunk {chunk}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), n as usize, "chunk {chunk}");
    }
}

#[test]
fn map_without_chunking_keeps_order() {
    let pool = CpuPool::with_threads(2).unwrap();
    let words = vec!["delta", "alpha", "charlie", "bravo"];
    let lengths: Vec<usize> = pool.map(words, str::len).map(Result::unwrap).collect();
    assert_eq!(lengths, [5, 5, 7, 5]);
}

#[test]
fn map_of_no_items_yields_nothing_and_calls_nothing() {
    let pool = CpuPool::with_threads(2).unwrap();
    let called = Arc::new(AtomicBool::new(false));
    let c = Arc::clone(&called);
    assert_eq!(
        pool.map(Vec::<u32>::new(), move |x| {
            c.store(true, Ordering::SeqCst);
            x
        })
        .count(),
        0
    );
    assert_eq!(pool.map_chunked(0..0u32, 7, |x| x).count(), 0);
    assert!(!called.load(Ordering::SeqCst));
}

#[test]
fn map_chunk_size_zero_is_taken_as_one() {
    let pool = CpuPool::with_threads(2).unwrap();
    let out: Vec<u32> = pool
        .map_chunked(0..5u32, 0, |x| x + 1)
        .map(Result::unwrap)
        .collect();
    assert_eq!(out, [1, 2, 3, 4, 5]);
}

#[test]
fn as_completed_yields_every_future_once_in_completion_order() {
    const N: usize = 6;
    // One thread per task, so that every task is running, blocked on its own gate.
    let pool = CpuPool::with_threads(N).unwrap();
    let gates: Vec<Arc<Gate>> = (0..N).map(|_| Gate::new()).collect();
    let futures: Vec<_> = (0..N)
        .map(|i| submit_blocked(&pool, &gates[i], i))
        .collect();
    let mut completed = as_completed(futures);
    for i in [3, 0, 5, 1, 4, 2] {
        gates[i].open();
        let f = completed.next().expect("a future is left");
        assert_eq!(f.result().unwrap(), i);
    }
    assert!(completed.next().is_none());
}

#[test]
fn as_completed_includes_futures_done_before_the_call() {
    let pool = CpuPool::with_threads(2).unwrap();
    let futures: Vec<_> = (0..20u32).map(|i| pool.submit(move || i)).collect();
    for f in &futures {
        f.wait();
    }
    let mut got: Vec<u32> = as_completed(futures).map(|f| f.result().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (0..20).collect::<Vec<_>>());
}

#[test]
fn as_completed_next_timeout_gives_none_while_nothing_completes() {
    let pool = CpuPool::with_threads(2).unwrap();
    let gate = Gate::new();
    let blocked = submit_blocked(&pool, &gate, 7);
    let mut completed = as_completed(vec![blocked]);
    assert!(completed.next_timeout(Duration::from_millis(20)).is_none());
    gate.open();
    let f = completed.next_timeout(LONG).expect("it completed");
    assert_eq!(f.result().unwrap(), 7);
    assert!(completed.next_timeout(Duration::from_millis(1)).is_none());
    assert!(completed.next().is_none());
}

#[test]
fn wait_all_completed_leaves_results_in_the_futures() {
    let pool = CpuPool::with_threads(2).unwrap();
    let futures: Vec<_> = (0..10u32).map(|i| pool.submit(move || i + 100)).collect();
    let r = wait(&futures, WaitFor::AllCompleted, None);
    assert_eq!(r.done, (0..10).collect::<Vec<_>>());
    assert!(r.not_done.is_empty());
    for (i, f) in futures.into_iter().enumerate() {
        assert_eq!(f.result().unwrap(), i as u32 + 100);
    }
}

#[test]
fn wait_first_completed_returns_while_a_task_is_blocked() {
    let pool = CpuPool::with_threads(2).unwrap();
    let gate = Gate::new();
    let futures = vec![submit_blocked(&pool, &gate, 1), pool.submit(|| 2)];
    let r = wait(&futures, WaitFor::FirstCompleted, None);
    assert_eq!(r.done, [1]);
    assert_eq!(r.not_done, [0]);
    assert!(!futures[0].done());
    assert!(futures[0].running());
    gate.open();
    let r = wait(&futures, WaitFor::AllCompleted, None);
    assert_eq!(r.done, [0, 1]);
}

#[test]
fn wait_first_error_returns_on_the_failure() {
    let pool = CpuPool::with_threads(2).unwrap();
    let gate = Gate::new();
    let futures = vec![
        submit_blocked(&pool, &gate, 1),
        pool.submit(|| 2),
        pool.try_submit(|| Err::<i32, _>("broken")),
    ];
    let r = wait(&futures, WaitFor::FirstError, None);
    assert!(r.done.contains(&2), "{r:?}");
    assert!(r.not_done.contains(&0), "{r:?}");
    assert!(futures[2].is_err());
    gate.open();
    let r = wait(&futures, WaitFor::AllCompleted, None);
    assert_eq!(r.done, [0, 1, 2]);
}

#[test]
fn wait_first_error_without_errors_waits_for_all() {
    let pool = CpuPool::with_threads(2).unwrap();
    let futures: Vec<_> = (0..8).map(|i| pool.submit(move || i)).collect();
    let r = wait(&futures, WaitFor::FirstError, None);
    assert_eq!(r.done.len(), 8);
    assert!(r.not_done.is_empty());
}

#[test]
fn wait_with_timeout_reports_the_blocked_task_as_not_done() {
    let pool = CpuPool::with_threads(2).unwrap();
    let gate = Gate::new();
    let futures = vec![submit_blocked(&pool, &gate, 1), pool.submit(|| 2)];
    futures[1].wait();
    for until in [
        WaitFor::AllCompleted,
        WaitFor::FirstError,
        WaitFor::FirstCompleted,
    ] {
        let r = wait(&futures, until, Some(Duration::from_millis(20)));
        assert_eq!(r.done, [1], "{until:?}");
        assert_eq!(r.not_done, [0], "{until:?}");
    }
    let r = wait(&futures, WaitFor::AllCompleted, Some(Duration::ZERO));
    assert_eq!(r.not_done, [0]);
    gate.open();
    assert_eq!(
        wait(&futures, WaitFor::AllCompleted, Some(LONG)).done,
        [0, 1]
    );
}

#[test]
fn wait_on_no_futures_returns_at_once() {
    let none: Vec<TaskFuture<u8>> = Vec::new();
    for until in [
        WaitFor::AllCompleted,
        WaitFor::FirstCompleted,
        WaitFor::FirstError,
    ] {
        let r = wait(&none, until, None);
        assert!(r.done.is_empty() && r.not_done.is_empty());
    }
}

#[test]
fn result_timeout_times_out_then_succeeds() {
    let pool = CpuPool::with_threads(1).unwrap();
    let gate = Gate::new();
    let f = submit_blocked(&pool, &gate, "late");
    let timeout = Duration::from_millis(20);
    match f.result_timeout(timeout) {
        Err(TaskError::Timeout { task, timeout: t }) => {
            assert_eq!(task, f.key());
            assert_eq!(t, timeout);
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(!f.done());
    gate.open();
    assert_eq!(f.result_timeout(LONG).unwrap(), "late");
}

#[test]
fn cancelling_a_queued_task_means_it_never_runs() {
    let pool = CpuPool::with_threads(1).unwrap();
    let gate = Gate::new();
    let blocker = submit_blocked(&pool, &gate, ());
    let ran = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&ran);
    let queued = pool.submit(move || r.store(true, Ordering::SeqCst));
    assert!(!queued.running());
    assert!(queued.cancel());
    assert!(queued.done());
    assert!(queued.is_err());
    assert!(!queued.cancel(), "a task is cancelled only once");
    gate.open();
    blocker.result().unwrap();
    // The only worker takes jobs in order: once this one ran, the cancelled
    // job has come up and been skipped.
    pool.submit(|| ()).result().unwrap();
    assert!(!ran.load(Ordering::SeqCst), "a cancelled task ran");
    let key = queued.key();
    match queued.result() {
        Err(TaskError::Cancelled { task }) => assert_eq!(task, key),
        other => panic!("expected Cancelled, got {other:?}"),
    }
}

#[test]
fn cancelling_a_running_or_finished_task_does_nothing() {
    let pool = CpuPool::with_threads(1).unwrap();
    let gate = Gate::new();
    let running = submit_blocked(&pool, &gate, 5);
    assert!(running.running());
    assert!(!running.cancel());
    gate.open();
    assert_eq!(running.result_timeout(LONG).unwrap(), 5);

    let finished = pool.submit(|| 6);
    finished.wait();
    assert!(!finished.cancel());
    assert_eq!(finished.result().unwrap(), 6);
}

#[test]
fn cancelled_future_is_yielded_by_as_completed_and_wait() {
    let pool = CpuPool::with_threads(1).unwrap();
    let gate = Gate::new();
    let blocker = submit_blocked(&pool, &gate, 0);
    let queued = pool.submit(|| 1);
    assert!(queued.cancel());
    let futures = vec![blocker, queued];
    let r = wait(&futures, WaitFor::FirstCompleted, None);
    assert_eq!(r.done, [1]);
    let r = wait(&futures, WaitFor::FirstError, None);
    assert_eq!(r.done, [1]);
    let mut completed = as_completed(futures);
    let first = completed.next().unwrap();
    assert!(matches!(first.result(), Err(TaskError::Cancelled { .. })));
    gate.open();
    assert_eq!(completed.next().unwrap().result().unwrap(), 0);
}

/// Wakes a parked thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// The smallest executor: polls `future` on this thread, parking between polls.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[test]
fn a_task_future_can_be_awaited() {
    let pool = CpuPool::with_threads(2).unwrap();
    let gate = Gate::new();
    let mut f = submit_blocked(&pool, &gate, 42u32);
    // Not finished yet: the first poll must be pending (and register the waker).
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut f).poll(&mut cx).is_pending());
    gate.open();
    assert_eq!(block_on(f).unwrap(), 42);
}

#[test]
fn futures_compose_in_async_code() {
    let pool = CpuPool::with_threads(2).unwrap();
    let gate = Gate::new();
    let a = submit_blocked(&pool, &gate, 20u64);
    let b = pool.submit(|| 22u64);
    let c = pool.submit(|| -> u64 { panic!("c is broken") });
    let opener = Arc::clone(&gate);
    let total = block_on(async move {
        let b = b.await?;
        opener.open();
        let a = a.await?;
        Ok::<_, TaskError>(a + b)
    });
    assert_eq!(total.unwrap(), 42);
    assert!(matches!(block_on(c), Err(TaskError::Panicked { .. })));
    // Awaiting a future that is already done is ready at once.
    let d = pool.submit(|| 1);
    d.wait();
    assert_eq!(block_on(d).unwrap(), 1);
}

/// Deterministic CPU work that the optimiser cannot remove.
fn spin(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..20_000 {
        x = std::hint::black_box(
            x.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
        );
    }
    x
}

#[test]
fn measure_counts_tasks_and_busy_time() {
    let pool = CpuPool::with_threads(2).unwrap();
    let before: u64 = pool.worker_stats().iter().map(|w| w.tasks).sum();
    assert_eq!(before, 0);
    let (checksum, report) = pool.measure(|| {
        let futures: Vec<_> = (0..40u64).map(|i| pool.submit(move || spin(i))).collect();
        futures
            .into_iter()
            .map(|f| f.result().unwrap())
            .fold(0u64, u64::wrapping_add)
    });
    assert_eq!(checksum, (0..40u64).map(spin).fold(0u64, u64::wrapping_add));
    assert_eq!(report.workers.len(), 2);
    assert_eq!(report.tasks(), 40);
    assert!(report.total_busy() > Duration::ZERO);
    assert!(report.stolen() <= report.tasks());
    let u = report.utilization();
    assert!((0.0..=1.0).contains(&u), "utilization {u}");
    for w in 0..2 {
        assert!(report.idle(w) <= report.makespan);
    }
    // A second measurement counts only its own tasks.
    let ((), second) = pool.measure(|| pool.submit(|| ()).result().unwrap());
    assert_eq!(second.tasks(), 1);
    let total: u64 = pool.worker_stats().iter().map(|w| w.tasks).sum();
    assert_eq!(total, 41);
}

#[test]
fn measure_of_nothing_reports_nothing() {
    let pool = CpuPool::with_threads(2).unwrap();
    let (v, report) = pool.measure(|| 5);
    assert_eq!(v, 5);
    assert_eq!(report.tasks(), 0);
    assert_eq!(report.total_busy(), Duration::ZERO);
}

#[test]
fn builder_sets_threads_and_names() {
    let pool = CpuPool::builder()
        .threads(3)
        .name("exe-nm")
        .build()
        .unwrap();
    assert_eq!(pool.threads(), 3);
    let name = pool
        .submit(|| std::thread::current().name().map(str::to_string))
        .result()
        .unwrap()
        .unwrap();
    assert!(name.starts_with("exe-nm-"), "{name}");
    assert_eq!(CpuPool::builder().threads(0).build().unwrap().threads(), 1);
}
