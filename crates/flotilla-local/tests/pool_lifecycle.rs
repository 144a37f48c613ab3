//! A pool's life: its threads start named after it, dropping the last handle
//! stops and joins them, queued work never leaves a waiter hanging, and an
//! idle pool costs no CPU. Thread names and CPU time are read from
//! `/proc/self/task`, so most of these tests need Linux.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use flotilla_core::Placement;
use flotilla_local::{CpuPool, TaskError, TaskFuture};

const LONG: Duration = Duration::from_secs(30);

/// A one-shot gate: tasks wait on it until the test opens it.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    fn wait(&self) {
        let open = self.open.lock().unwrap();
        let (open, _) = self
            .opened
            .wait_timeout_while(open, LONG, |open| !*open)
            .unwrap();
        assert!(*open, "the gate was never opened");
    }
}

/// Submits a task that waits on `gate`; returns once it is running.
fn submit_blocked(pool: &CpuPool, gate: &Arc<Gate>) -> TaskFuture<&'static str> {
    let (started_tx, started_rx) = mpsc::channel();
    let gate = Arc::clone(gate);
    let f = pool.submit(move || {
        started_tx.send(()).unwrap();
        gate.wait();
        "blocker"
    });
    started_rx
        .recv_timeout(LONG)
        .expect("the blocker never started");
    f
}

/// The ids of this process's threads whose name starts with `prefix`.
/// (The kernel keeps the first 15 bytes of a thread's name.)
fn threads_named(prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) else {
            continue; // the thread exited meanwhile
        };
        if comm.trim_end().starts_with(prefix) {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

/// Polls `cond` until it holds or `LONG` passes; returns whether it held.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + LONG;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::yield_now();
    }
    cond()
}

/// Counts, when dropped, the exits of the threads it was installed on.
struct OnThreadExit(&'static AtomicUsize);

impl Drop for OnThreadExit {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static EXIT_GUARD: RefCell<Option<OnThreadExit>> = const { RefCell::new(None) };
}

#[test]
fn dropping_the_pool_joins_its_threads() {
    static EXITED: AtomicUsize = AtomicUsize::new(0);
    const PREFIX: &str = "lcjoin-";
    assert!(threads_named(PREFIX).is_empty());
    // Round-robin placement puts submission i on worker i mod 3.
    let pool = CpuPool::builder()
        .threads(3)
        .name("lcjoin")
        .placement(Placement::RoundRobin)
        .build()
        .unwrap();
    assert!(
        eventually(|| threads_named(PREFIX).len() == 3),
        "threads: {:?}",
        threads_named(PREFIX)
    );
    let installed: Vec<_> = (0..3)
        .map(|_| {
            pool.submit(|| {
                EXIT_GUARD.with(|g| *g.borrow_mut() = Some(OnThreadExit(&EXITED)));
                std::thread::current().name().unwrap().to_string()
            })
        })
        .collect();
    let mut names: Vec<String> = installed.into_iter().map(|f| f.result().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["lcjoin-0", "lcjoin-1", "lcjoin-2"]);
    assert_eq!(EXITED.load(Ordering::SeqCst), 0);
    drop(pool);
    // Joined: every worker has run its thread-exit destructors already.
    assert_eq!(EXITED.load(Ordering::SeqCst), 3);
    assert!(
        eventually(|| threads_named(PREFIX).is_empty()),
        "threads left: {:?}",
        threads_named(PREFIX)
    );
}

#[test]
fn a_clone_keeps_the_pool_alive() {
    const PREFIX: &str = "lcclone-";
    let pool = CpuPool::builder()
        .threads(2)
        .name("lcclone")
        .build()
        .unwrap();
    let clone = pool.clone();
    drop(pool);
    assert_eq!(clone.submit(|| 3).result().unwrap(), 3);
    // Threads name themselves as they start, so poll.
    assert!(eventually(|| threads_named(PREFIX).len() == 2));
    drop(clone);
    assert!(eventually(|| threads_named(PREFIX).is_empty()));
}

#[test]
fn queued_tasks_of_a_dropped_pool_finish_or_report_shutdown() {
    let pool = CpuPool::builder()
        .threads(1)
        .name("lcqueue")
        .build()
        .unwrap();
    let gate = Arc::new(Gate::default());
    let blocker = submit_blocked(&pool, &gate);
    let queued: Vec<_> = (0..20u32).map(|i| pool.submit(move || i)).collect();
    let (dropping_tx, dropping_rx) = mpsc::channel();
    let dropper = std::thread::spawn(move || {
        dropping_tx.send(()).unwrap();
        drop(pool);
    });
    dropping_rx.recv().unwrap();
    gate.open();
    dropper.join().expect("dropping the pool panicked");
    assert_eq!(blocker.result().unwrap(), "blocker");
    for (i, f) in queued.into_iter().enumerate() {
        let key = f.key();
        match f.result_timeout(LONG) {
            Ok(v) => assert_eq!(v as usize, i),
            Err(TaskError::PoolShutDown { task }) => assert_eq!(task, key),
            Err(other) => panic!("queued task {i}: {other}"),
        }
    }
    assert!(eventually(|| threads_named("lcqueue-").is_empty()));
}

#[test]
fn the_last_handle_dropped_inside_a_task_does_not_deadlock() {
    const PREFIX: &str = "lcself-";
    let pool = CpuPool::builder()
        .threads(2)
        .name("lcself")
        .build()
        .unwrap();
    let gate = Arc::new(Gate::default());
    let (own, g) = (pool.clone(), Arc::clone(&gate));
    let f = pool.submit(move || {
        g.wait();
        // By now the test dropped its handle: this is the last one.
        drop(own);
        7
    });
    drop(pool);
    gate.open();
    assert_eq!(f.result_timeout(LONG).unwrap(), 7);
    assert!(
        eventually(|| threads_named(PREFIX).is_empty()),
        "threads left: {:?}",
        threads_named(PREFIX)
    );
}

#[test]
fn a_pool_dropped_with_cancelled_tasks_queued_shuts_down() {
    let pool = CpuPool::builder()
        .threads(1)
        .name("lccancel")
        .build()
        .unwrap();
    let gate = Arc::new(Gate::default());
    let blocker = submit_blocked(&pool, &gate);
    let queued: Vec<_> = (0..10).map(|i| pool.submit(move || i)).collect();
    for f in &queued {
        assert!(f.cancel());
    }
    gate.open();
    drop(pool);
    assert_eq!(blocker.result().unwrap(), "blocker");
    for f in queued {
        assert!(matches!(f.result(), Err(TaskError::Cancelled { .. })));
    }
    assert!(eventually(|| threads_named("lccancel-").is_empty()));
}

/// CPU time used so far by the threads whose name starts with `prefix`.
fn cpu_time_of_threads(prefix: &str) -> Duration {
    let mut total = Duration::ZERO;
    for tid in threads_named(prefix) {
        let task = format!("/proc/self/task/{tid}");
        // schedstat: nanoseconds on the CPU, first field.
        if let Ok(s) = std::fs::read_to_string(format!("{task}/schedstat")) {
            if let Some(ns) = s.split_whitespace().next().and_then(|f| f.parse().ok()) {
                total += Duration::from_nanos(ns);
                continue;
            }
        }
        // Otherwise stat's utime + stime, in clock ticks (100 per second
        // on Linux), after the parenthesised command name.
        let stat = std::fs::read_to_string(format!("{task}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        total += Duration::from_millis(ticks * 10);
    }
    total
}

#[test]
fn an_idle_pool_uses_almost_no_cpu() {
    const PREFIX: &str = "lcidle-";
    let pool = CpuPool::builder()
        .threads(2)
        .name("lcidle")
        .build()
        .unwrap();
    assert!(eventually(|| threads_named(PREFIX).len() == 2));
    let futures: Vec<_> = (0..50u64).map(|i| pool.submit(move || i * i)).collect();
    for f in futures {
        f.result().unwrap();
    }
    let before = cpu_time_of_threads(PREFIX);
    // Measuring a window of idleness, not synchronising.
    std::thread::sleep(Duration::from_millis(300));
    let used = cpu_time_of_threads(PREFIX).saturating_sub(before);
    assert!(
        used < Duration::from_millis(30),
        "an idle 2-thread pool used {used:?} of CPU in 300 ms"
    );
    // And it still wakes up for new work.
    assert_eq!(pool.submit(|| 5).result().unwrap(), 5);
}

#[test]
fn the_global_pool_is_one_pool() {
    let a = CpuPool::global();
    let b = CpuPool::global();
    assert!(std::ptr::eq(a, b));
    assert!(a.threads() >= 1);
    assert_eq!(a.submit(|| 2 + 2).result().unwrap(), 4);
}
