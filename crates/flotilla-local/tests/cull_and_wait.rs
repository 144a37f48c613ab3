//! Regression tests, in their own binary because one of them counts
//! allocations with a global allocator: computing one key of a `Graph` runs
//! only what that key needs (culling), and polling `wait` in a loop does not
//! pile up callbacks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use flotilla_local::{wait, ComputeOptions, CpuPool, Graph, TaskError, WaitFor};

/// Asking a keyed graph for one key runs that key and what it depends on,
/// as Dask's `get(dsk, key)` does after culling the graph.
///
/// Bug: `Graph::compute_many_with` hands the whole graph to `run_graph`,
/// so every task runs — unrelated work is wasted, an unrelated task that
/// blocks makes `compute` hang, and an unrelated task's side effects happen.
#[test]
fn computing_one_key_runs_only_what_it_needs() {
    let unrelated_ran = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&unrelated_ran);
    let mut g = Graph::new();
    g.insert("wanted", [] as [&str; 0], |_| Ok::<_, TaskError>(1i64));
    g.insert("unrelated", [] as [&str; 0], move |_| {
        r.store(true, Ordering::SeqCst);
        Ok::<_, TaskError>(2i64)
    });
    let pool = CpuPool::with_threads(1).unwrap();
    let (results, report) = g
        .compute_many_with(
            &["wanted".into()],
            &ComputeOptions::new().pool(&pool).progress(false),
        )
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().downcast_ref::<i64>(), Some(&1));
    assert!(
        !unrelated_ran.load(Ordering::SeqCst),
        "an unneeded task ran"
    );
    assert_eq!(report.tasks(), 1);
}

/// Counts the bytes this process holds on the heap (for the leak test).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to the system allocator unchanged; the
// counter only observes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const LEAK_CHILD_ENV: &str = "FLOTILLA_FOUND_BUGS_WAIT_LEAK";

/// Polling a long task with `wait(.., Some(timeout))` in a loop holds a
/// constant amount of memory. Measured in a child process, alone, so that
/// no other test allocates meanwhile.
///
/// Bug: every `wait` call (waiting.rs, `wait`) creates a channel and
/// registers an `on_done` callback holding its sender on each future that is
/// not done (future.rs, `Slot::on_done` pushes onto `callbacks`); nothing
/// removes the callback when `wait` returns, so each poll leaks a channel
/// and a boxed closure (about 560 bytes) until the task ends.
#[test]
fn polling_wait_in_a_loop_does_not_grow_memory() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "wait_leak_in_child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(LEAK_CHILD_ENV, "1")
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
fn wait_leak_in_child_process() {
    // The body of a child process started by the test above; in the
    // ordinary run it has nothing to do.
    if std::env::var_os(LEAK_CHILD_ENV).is_none() {
        return;
    }
    let pool = CpuPool::with_threads(1).unwrap();
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let g = Arc::clone(&gate);
    let long_task = vec![pool.submit(move || {
        let (open, cv) = &*g;
        let open = open.lock().unwrap();
        drop(
            cv.wait_timeout_while(open, Duration::from_secs(30), |o| !*o)
                .unwrap(),
        );
    })];
    let poll = || {
        let r = wait(&long_task, WaitFor::FirstCompleted, Some(Duration::ZERO));
        assert_eq!(r.not_done, [0]);
    };
    for _ in 0..100 {
        poll();
    }
    let before = LIVE.load(Ordering::SeqCst);
    for _ in 0..20_000 {
        poll();
    }
    let grown = LIVE.load(Ordering::SeqCst) - before;
    let (open, cv) = &*gate;
    *open.lock().unwrap() = true;
    cv.notify_all();
    assert!(
        grown < 64 * 1024,
        "20,000 polls of an unfinished task left {grown} bytes allocated"
    );
}
