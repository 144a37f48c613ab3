//! Regression tests for bugs found in `flotilla-local` by its integration
//! tests, each fixed since: the test states what a user expects.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use flotilla_local::{as_completed, wait, ComputeOptions, CpuPool, Delayed, TaskError, WaitFor};

/// Busy time must not exceed the time available: on a one-thread pool the
/// worker cannot be busy for longer than the measurement lasted.
///
/// Bug: `pool::run_job` starts a clock for every job, including jobs a
/// waiting task runs while it helps (`help_current`). The outer job's clock
/// keeps running meanwhile, so the helped job's time is counted twice.
#[test]
fn busy_time_of_nested_jobs_is_not_counted_twice() {
    let pool = CpuPool::with_threads(1).unwrap();
    let p = pool.clone();
    let ((), report) = pool.measure(|| {
        pool.submit(move || {
            // The child is slow on purpose; the parent runs it itself while
            // it waits.
            p.submit(|| std::thread::sleep(Duration::from_millis(50)))
                .result()
                .unwrap()
        })
        .result()
        .unwrap()
    });
    assert_eq!(report.tasks(), 2);
    assert!(
        report.total_busy() <= report.makespan,
        "one worker was busy {:?} during a run of {:?}:\n{report}",
        report.total_busy(),
        report.makespan
    );
}

/// A node renamed with `named` is called by its new name in every error.
///
/// Bug: `Delayed::try_map` (and the input checks of `map`, `zip_with`,
/// `gather`) capture the key the node had when it was made, and `named`
/// reuses the closure, so a failure still names the old `try_map[N]` key.
#[test]
fn a_named_try_map_failure_names_the_new_key() {
    let parsed = Delayed::value("x".to_string())
        .try_map(|s| s.parse::<i32>())
        .named("parse-config");
    let pool = CpuPool::with_threads(1).unwrap();
    match parsed.compute_with(&ComputeOptions::new().pool(&pool).progress(false)) {
        Err(TaskError::Failed { task, .. }) => assert_eq!(task, "parse-config"),
        other => panic!("expected Failed, got {other:?}"),
    }
}

/// `wait` with a timeout returns once the timeout passed, also on a worker
/// thread (here: a zero timeout, so it should not run the 50 queued jobs).
///
/// Bug: in `waiting::wait`, a worker thread that found a job to help with
/// `continue`s before the deadline check, so the timeout is only looked at
/// once the pool has nothing left to run. A task that waits with a timeout
/// while jobs keep coming never returns.
#[test]
fn wait_on_a_worker_thread_honours_its_timeout() {
    let pool = CpuPool::with_threads(1).unwrap();
    // A future of another pool that does not complete during the test.
    let other = CpuPool::with_threads(1).unwrap();
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let g = Arc::clone(&gate);
    let stuck = other.submit(move || {
        let (open, cv) = &*g;
        let open = open.lock().unwrap();
        drop(
            cv.wait_timeout_while(open, Duration::from_secs(30), |o| !*o)
                .unwrap(),
        );
    });
    let helped = Arc::new(AtomicUsize::new(0));
    let (p, h) = (pool.clone(), Arc::clone(&helped));
    let ran_while_waiting = pool
        .submit(move || {
            for _ in 0..50 {
                let h = Arc::clone(&h);
                p.submit(move || {
                    h.fetch_add(1, Ordering::SeqCst);
                });
            }
            let r = wait(&[stuck], WaitFor::AllCompleted, Some(Duration::ZERO));
            assert_eq!(r.not_done, [0]);
            h.load(Ordering::SeqCst)
        })
        .result()
        .unwrap();
    let (open, cv) = &*gate;
    *open.lock().unwrap() = true;
    cv.notify_all();
    assert!(
        ran_while_waiting <= 1,
        "wait(timeout = 0) ran {ran_while_waiting} other jobs before returning"
    );
}

/// `AsCompleted::next_timeout` on a worker thread runs queued work while it
/// waits, like `next`, `wait` and `TaskFuture::result` do.
///
/// Bug: `next_timeout` blocks in `recv_timeout` without helping, so on a
/// one-thread pool a task waiting for its own children gets nothing until
/// the timeout expires (`None`), although the children were ready to run.
#[test]
fn as_completed_next_timeout_inside_a_task_runs_the_children() {
    let pool = CpuPool::with_threads(1).unwrap();
    let p = pool.clone();
    let got = pool
        .submit(move || {
            let children = vec![p.submit(|| 5)];
            as_completed(children)
                .next_timeout(Duration::from_secs(2))
                .map(|f| f.result().unwrap())
        })
        .result()
        .unwrap();
    assert_eq!(got, Some(5), "the child never ran while its parent waited");
}

const CHILD_ENV: &str = "FLOTILLA_FOUND_BUGS_DEEP_CHAIN";

/// A long chain of lazy values (100,000 `map`s, built in a loop) computes
/// and is dropped like any other value. Run in a child process, because the
/// failure is a stack overflow that aborts the process.
///
/// Bug: `Delayed` nodes hold their dependencies as `Arc<Node>`, and dropping
/// the last node drops the chain recursively, one stack frame group per
/// node; the graph walk is iterative, but `Drop` is not. The value computes,
/// then dropping it overflows the stack.
#[test]
fn a_deep_delayed_chain_can_be_dropped() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "deep_delayed_chain_in_child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env_remove("RUST_MIN_STACK")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the child process failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn deep_delayed_chain_in_child_process() {
    // The body of a child process started by the test above; in the
    // ordinary run it has nothing to do.
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let pool = CpuPool::with_threads(2).unwrap();
    let mut d = Delayed::value(0u64);
    for _ in 0..100_000 {
        d = d.map(|x| x + 1);
    }
    let v = d
        .compute_with(&ComputeOptions::new().pool(&pool).progress(false))
        .unwrap();
    assert_eq!(v, 100_000);
    drop(d);
}
