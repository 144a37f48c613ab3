//! Micro-benchmark of the scheduler core: how long the state machine takes
//! per task, with no threads involved (`cargo bench -p flotilla-core`).
//!
//! Prints one line per case: nanoseconds per task for building the graph
//! and for running it through `start` + `task_finished`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use flotilla_core::cluster_sim::{simulate_cluster, ClusterShape};
use flotilla_core::{
    Attempt, Command, Finish, Placement, Scheduler, TaskGraph, TaskId, TaskKey, WorkerId,
};

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

fn independent(n: u64) -> TaskGraph {
    let mut g = TaskGraph::with_capacity(n as usize, 0);
    let key = TaskKey::new("task");
    for i in 0..n {
        g.add_task(key.sibling(i), &[]).unwrap();
    }
    g
}

fn drive(g: TaskGraph, placement: Placement) -> usize {
    drive_on(g, placement, 2)
}

/// Runs every task of `g` through the core with `workers` workers: each
/// ready task placed (a decision), then reported finished.
fn drive_on(g: TaskGraph, placement: Placement, workers: usize) -> usize {
    let mut s = Scheduler::new(g, placement, workers);
    let mut out: Vec<Command> = Vec::new();
    s.start(&mut out);
    let mut queue: Vec<TaskId> = Vec::new();
    let mut done = 0;
    loop {
        queue.extend(out.drain(..).filter_map(|c| match c {
            Command::Run { task, .. } => Some(task),
            _ => None,
        }));
        let Some(t) = queue.pop() else { break };
        s.task_finished(
            t,
            WorkerId::new((done % workers) as u32),
            Attempt::FIRST,
            Finish::default(),
            &mut out,
        )
        .unwrap();
        done += 1;
    }
    done
}

fn main() {
    for (name, make) in [
        ("tree 100k leaves", (|| tree(100_000)) as fn() -> TaskGraph),
        ("independent 200k", || independent(200_000)),
    ] {
        for placement in [
            Placement::WorkStealing,
            Placement::RoundRobin,
            Placement::LeastLoadedOfTwo { seed: 1 },
        ] {
            let mut best_build = f64::MAX;
            let mut best_run = f64::MAX;
            for _ in 0..5 {
                let t = Instant::now();
                let g = black_box(make());
                let n = g.len();
                let build = t.elapsed().as_secs_f64() / n as f64 * 1e9;
                let t = Instant::now();
                let done = black_box(drive(g, placement));
                let run = t.elapsed().as_secs_f64() / done as f64 * 1e9;
                best_build = best_build.min(build);
                best_run = best_run.min(run);
            }
            println!("{name:<18} {:<20} build {best_build:6.1} ns/task   schedule {best_run:6.1} ns/task", placement.name());
        }
    }

    thousand_workers();
    ten_million_tasks();
}

/// Placement decisions per second with 1,000 workers, the core alone and
/// inside the cluster simulator (workers of 4 threads, steals answered
/// after 100 µs).
fn thousand_workers() {
    for placement in [
        Placement::WorkStealing,
        Placement::LeastLoadedOfTwo { seed: 1 },
        Placement::RoundRobin,
    ] {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let g = independent(1_000_000);
            let t = Instant::now();
            let done = black_box(drive_on(g, placement, 1_000));
            best = best.min(t.elapsed().as_secs_f64() / done as f64);
        }
        println!(
            "1,000 workers, 1M tasks {:<20} {:>12.0} decisions/s (core alone)",
            placement.name(),
            1.0 / best
        );
    }
    let n = 1_000_000u64;
    let g = independent(n);
    let d: Vec<Duration> = (0..n)
        .map(|i| Duration::from_micros(if i % 1_000 < 10 { 5_000 } else { 100 }))
        .collect();
    let run = simulate_cluster(&g, &d, ClusterShape::new(1_000, 4)).unwrap();
    println!(
        "1,000 workers x 4 threads, 1M skewed tasks, simulated: {:.0} decisions/s in the core, utilization {:.3}, {} steals",
        run.decisions_per_second(),
        run.utilization(),
        run.steals_confirmed
    );
}

/// The memory of a scheduler holding a 10,000,000-task graph (a binary
/// tree over 5,000,000 leaves), and that of the run's peak.
fn ten_million_tasks() {
    let g = tree(5_000_000);
    let tasks = g.len();
    let s = Scheduler::new(g, Placement::WorkStealing, 1_000);
    let bytes = s.heap_bytes();
    println!(
        "{tasks} tasks (tree): scheduler with its graph {:.2} GB, {:.0} bytes per task",
        bytes as f64 / 1e9,
        bytes as f64 / tasks as f64
    );
}
