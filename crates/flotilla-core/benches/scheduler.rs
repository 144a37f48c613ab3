//! Micro-benchmark of the scheduler core: how long the state machine takes
//! per task, with no threads involved (`cargo bench -p flotilla-core`).
//!
//! Prints one line per case: nanoseconds per task for building the graph
//! and for running it through `start` + `task_finished`.

use std::hint::black_box;
use std::time::Instant;

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
    let mut s = Scheduler::new(g, placement, 2);
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
            WorkerId::new((done % 2) as u32),
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
}
