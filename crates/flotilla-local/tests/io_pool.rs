//! The I/O pool as a user sees it: growth for blocking work, async tasks
//! that hold no thread, queueing at the maximum, panics, cancellation,
//! keep-alive and shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use flotilla_local::{sleep, CpuPool, IoPool, TaskError};

/// Polls `cond` every 10 ms for up to 10 s; whether it became true.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_thousand_blocking_sleeps_run_side_by_side() {
    let pool = IoPool::new();
    let start = Instant::now();
    let futures: Vec<_> = (0..1000u64)
        .map(|i| {
            pool.submit(move || {
                std::thread::sleep(Duration::from_millis(100));
                i
            })
        })
        .collect();
    let results: Vec<u64> = futures.into_iter().map(|f| f.result().unwrap()).collect();
    eprintln!(
        "1000 blocking sleeps of 100 ms: {:?}, peak {} threads",
        start.elapsed(),
        pool.peak_threads()
    );
    assert_eq!(results, (0..1000).collect::<Vec<_>>());
    assert!(
        pool.peak_threads() > 500,
        "the pool grew to only {} threads",
        pool.peak_threads()
    );
    assert!(pool.peak_threads() <= pool.max_threads());
}

#[test]
fn a_thousand_blocked_jobs_each_get_a_thread() {
    // Every job waits until all of them have started: only a pool that
    // gives each its own thread lets them finish (else they give up after
    // 10 s and report false).
    let pool = IoPool::new();
    let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
    let futures: Vec<_> = (0..1000)
        .map(|_| {
            let arrived = Arc::clone(&arrived);
            pool.submit(move || {
                let (count, all_in) = &*arrived;
                let mut n = count.lock().unwrap();
                *n += 1;
                all_in.notify_all();
                let deadline = Instant::now() + Duration::from_secs(10);
                while *n < 1000 {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    n = all_in.wait_timeout(n, left).unwrap().0;
                }
                true
            })
        })
        .collect();
    assert!(
        futures.into_iter().all(|f| f.result().unwrap()),
        "not all 1000 jobs ran at once"
    );
    assert!(pool.peak_threads() >= 1000);
}

#[test]
fn a_thousand_async_sleeps_hold_no_threads() {
    let pool = IoPool::new();
    let start = Instant::now();
    let futures: Vec<_> = (0..1000u64)
        .map(|i| {
            pool.spawn_async(async move {
                sleep(Duration::from_millis(100)).await;
                i
            })
        })
        .collect();
    let results: Vec<u64> = futures.into_iter().map(|f| f.result().unwrap()).collect();
    eprintln!(
        "1000 async sleeps of 100 ms: {:?}, peak {} threads",
        start.elapsed(),
        pool.peak_threads()
    );
    assert_eq!(results, (0..1000).collect::<Vec<_>>());
    assert!(
        pool.peak_threads() <= 16,
        "async sleeps took {} threads",
        pool.peak_threads()
    );
}

#[test]
fn map_returns_results_in_item_order() {
    let pool = IoPool::new();
    let out: Vec<u64> = pool
        .map((0..50u64).rev(), |i| {
            std::thread::sleep(Duration::from_millis(i % 7));
            i * 3
        })
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(out, (0..50u64).rev().map(|i| i * 3).collect::<Vec<_>>());
}

#[test]
fn try_submit_turns_an_error_into_failed() {
    let pool = IoPool::new();
    let err = pool.try_submit(|| "x".parse::<u32>()).result().unwrap_err();
    assert!(matches!(err, TaskError::Failed { .. }), "{err:?}");
    assert!(err.to_string().contains("invalid digit"), "{err}");
}

#[test]
fn jobs_queue_at_the_maximum() {
    let pool = IoPool::builder().max_threads(2).build();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let futures: Vec<_> = (0..10u64)
        .map(|i| {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            pool.submit(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
                running.fetch_sub(1, Ordering::SeqCst);
                i
            })
        })
        .collect();
    let results: Vec<u64> = futures.into_iter().map(|f| f.result().unwrap()).collect();
    assert_eq!(results, (0..10).collect::<Vec<_>>());
    assert!(pool.peak_threads() <= 2);
    assert!(most.load(Ordering::SeqCst) <= 2);
}

#[test]
fn a_panicking_job_is_reported_and_the_pool_carries_on() {
    let pool = IoPool::builder().max_threads(1).build();
    let err = pool
        .submit(|| -> u32 { panic!("disk on fire") })
        .result()
        .unwrap_err();
    match &err {
        TaskError::Panicked {
            task,
            function,
            message,
        } => {
            assert_eq!(message, "disk on fire");
            assert!(task.starts_with("io-submit["), "{task}");
            assert!(function.contains("io_pool"), "{function}");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    assert_eq!(pool.submit(|| 7).result().unwrap(), 7);
    assert_eq!(
        pool.threads_alive(),
        1,
        "the panic must not have killed the thread"
    );
}

#[test]
fn a_panicking_async_task_is_reported() {
    let pool = IoPool::new();
    let err = pool
        .spawn_async(async {
            sleep(Duration::from_millis(1)).await;
            if true {
                panic!("async boom");
            }
            1u32
        })
        .result()
        .unwrap_err();
    match &err {
        TaskError::Panicked { task, message, .. } => {
            assert_eq!(message, "async boom");
            assert!(task.starts_with("io-async["), "{task}");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    // The pool still runs async and blocking work.
    assert_eq!(pool.spawn_async(async { 5 }).result().unwrap(), 5);
    assert_eq!(pool.submit(|| 6).result().unwrap(), 6);
}

#[test]
fn async_tasks_await_blocking_jobs_and_cpu_futures() {
    let io = IoPool::new();
    let cpu = CpuPool::with_threads(2).unwrap();
    let io2 = io.clone();
    let total = io
        .spawn_async(async move {
            let blocking = io2.submit(|| {
                std::thread::sleep(Duration::from_millis(5));
                40
            });
            let computed = cpu.submit(|| 2);
            blocking.await.unwrap() + computed.await.unwrap()
        })
        .result()
        .unwrap();
    assert_eq!(total, 42);
}

#[test]
fn async_tasks_await_each_other() {
    let pool = IoPool::new();
    let inner: Vec<_> = (0..10u64)
        .map(|i| {
            pool.spawn_async(async move {
                sleep(Duration::from_millis(10 - i)).await;
                i
            })
        })
        .collect();
    let outer = pool.spawn_async(async move {
        let mut sum = 0;
        for f in inner {
            sum += f.await.unwrap();
        }
        sum
    });
    assert_eq!(outer.result().unwrap(), 45);
}

#[test]
fn a_queued_job_can_be_cancelled_before_it_starts() {
    let pool = IoPool::builder().max_threads(1).build();
    let (tx, rx) = mpsc::channel::<()>();
    let blocker = pool.submit(move || rx.recv().is_ok());
    let ran = Arc::new(AtomicUsize::new(0));
    let ran2 = Arc::clone(&ran);
    let queued = pool.submit(move || {
        ran2.fetch_add(1, Ordering::SeqCst);
    });
    assert!(queued.cancel());
    tx.send(()).unwrap();
    assert!(blocker.result().unwrap());
    assert!(matches!(queued.result(), Err(TaskError::Cancelled { .. })));
    // Later work runs on the same thread, after the cancelled job's turn.
    assert_eq!(pool.submit(|| 1).result().unwrap(), 1);
    assert_eq!(ran.load(Ordering::SeqCst), 0, "a cancelled job ran");
}

#[test]
fn idle_threads_exit_after_the_keep_alive() {
    let pool = IoPool::builder()
        .keep_alive(Duration::from_millis(50))
        .build();
    let futures: Vec<_> = (0..20)
        .map(|_| pool.submit(|| std::thread::sleep(Duration::from_millis(20))))
        .collect();
    for f in futures {
        f.result().unwrap();
    }
    assert!(pool.peak_threads() > 1);
    assert!(
        eventually(|| pool.threads_alive() == 0),
        "{} threads still alive",
        pool.threads_alive()
    );
    // The pool grows again afterwards.
    assert_eq!(pool.submit(|| 3).result().unwrap(), 3);
}

#[test]
fn dropping_the_pool_finishes_running_jobs_and_fails_queued_ones() {
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let pool = IoPool::builder().max_threads(1).build();
    let (tx, rx) = mpsc::channel::<()>();
    let (s, f) = (Arc::clone(&started), Arc::clone(&finished));
    let blocker = pool.submit(move || {
        s.fetch_add(1, Ordering::SeqCst);
        // Returns when the sender is dropped, too.
        let got = rx.recv().is_ok();
        std::thread::sleep(Duration::from_millis(20));
        f.fetch_add(1, Ordering::SeqCst);
        got
    });
    let (s, f) = (Arc::clone(&started), Arc::clone(&finished));
    let queued = pool.submit(move || {
        s.fetch_add(1, Ordering::SeqCst);
        f.fetch_add(1, Ordering::SeqCst);
    });
    assert!(eventually(|| started.load(Ordering::SeqCst) == 1));
    // Release the blocker only after the drop has begun, from another thread.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        drop(tx);
    });
    drop(pool);
    // The drop returned: every job that started also finished. The queued
    // one normally never ran and says so; on a machine so loaded that the
    // release came before the drop began, it may have run instead.
    let (s, f) = (
        started.load(Ordering::SeqCst),
        finished.load(Ordering::SeqCst),
    );
    assert_eq!(
        s, f,
        "a job started but did not finish before the drop returned"
    );
    assert!(!blocker.result().unwrap());
    match queued.result() {
        Err(TaskError::PoolShutDown { .. }) => assert_eq!(s, 1),
        Ok(()) => assert_eq!(s, 2),
        other => panic!("the queued job ended with {other:?}"),
    }
    releaser.join().unwrap();
}

#[test]
fn dropping_the_pool_fails_waiting_async_tasks() {
    let pool = IoPool::new();
    let waiting = pool.spawn_async(async {
        sleep(Duration::from_secs(3600)).await;
        1
    });
    // Let it reach its sleep.
    assert!(eventually(|| waiting.running()));
    drop(pool);
    assert!(matches!(
        waiting.result(),
        Err(TaskError::PoolShutDown { .. })
    ));
}

#[test]
fn dropping_the_pool_from_its_own_job_does_not_deadlock() {
    let pool = IoPool::new();
    let (tx, rx) = mpsc::channel();
    let inner = pool.clone();
    let job = pool.submit(move || {
        let _ = rx.recv();
        drop(inner); // the last handle: the pool shuts down from its own thread
        9
    });
    drop(pool);
    // `pool` is gone, but the job still holds the last handle.
    tx.send(()).unwrap();
    // The job's result comes only after its drop of the pool returned.
    assert_eq!(job.result().unwrap(), 9);
}

#[test]
fn the_global_pool_is_shared() {
    let a = IoPool::global().submit(|| 1);
    let b = IoPool::global().spawn_async(async { 2 });
    assert_eq!(a.result().unwrap() + b.result().unwrap(), 3);
    assert!(std::ptr::eq(IoPool::global(), IoPool::global()));
}
