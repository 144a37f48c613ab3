//! The core holds a 1,000,000-task graph in at most 300 bytes per task,
//! measured by a counting allocator (not by the core's own estimate).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use flotilla_core::{
    Attempt, Command, Finish, Placement, Scheduler, TaskGraph, TaskId, TaskKey, WorkerId,
};

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

/// A binary reduction tree with `leaves` leaves: 2·leaves − 1 tasks.
fn tree(leaves: u64) -> TaskGraph {
    let mut g = TaskGraph::with_capacity(2 * leaves as usize, 2 * leaves as usize);
    let leaf = TaskKey::new("leaf");
    let node = TaskKey::new("node");
    let mut level: Vec<TaskId> = (0..leaves)
        .map(|i| g.add_task(leaf.sibling(i), &[]).unwrap())
        .collect();
    let mut k = 0;
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|c| {
                k += 1;
                g.add_task(node.sibling(k), c).unwrap()
            })
            .collect();
    }
    g
}

#[test]
fn a_million_task_graph_fits_in_300_bytes_per_task() {
    let before = LIVE.load(Ordering::Relaxed);
    let g = tree(500_000);
    let tasks = g.len();
    assert!(tasks >= 999_999);
    let mut s = Scheduler::new(g, Placement::WorkStealing, 16);
    let mut out: Vec<Command> = Vec::new();
    s.start(&mut out);
    let held = LIVE.load(Ordering::Relaxed)
        - before
        - (out.capacity() * std::mem::size_of::<Command>()) as isize;
    let per_task = held as f64 / tasks as f64;
    eprintln!("core: {tasks} tasks held in {held} bytes = {per_task:.1} bytes per task");
    assert!(per_task <= 300.0, "{per_task} bytes per task");

    // And the scheduler still runs it to the end.
    let mut queue: Vec<TaskId> = out
        .iter()
        .filter_map(|c| match c {
            Command::Run { task, .. } => Some(*task),
            _ => None,
        })
        .collect();
    let mut finished = 0;
    while let Some(t) = queue.pop() {
        out.clear();
        s.task_finished(
            t,
            WorkerId::new(0),
            Attempt::FIRST,
            Finish::default(),
            &mut out,
        )
        .unwrap();
        finished += 1;
        queue.extend(out.iter().filter_map(|c| match c {
            Command::Run { task, .. } => Some(*task),
            _ => None,
        }));
    }
    assert_eq!(finished, tasks);
    assert!(s.is_done());
}
