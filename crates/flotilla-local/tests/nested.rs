//! Tasks that submit tasks to their own pool and wait for them. A waiting
//! worker must keep running queued work, so none of this can deadlock —
//! not even on a pool of one thread.

use flotilla_local::{as_completed, wait, ComputeOptions, CpuPool, Delayed, WaitFor};
use std::time::Duration;

/// A task that submits `children` subtasks to `pool` and sums their results.
fn parent(pool: &CpuPool, children: u64) -> u64 {
    let futures: Vec<_> = (0..children).map(|i| pool.submit(move || i)).collect();
    futures.into_iter().map(|f| f.result().unwrap()).sum()
}

#[test]
fn one_thread_pool_parent_waits_for_100_children() {
    let pool = CpuPool::with_threads(1).unwrap();
    let p = pool.clone();
    let sum = pool.submit(move || parent(&p, 100)).result().unwrap();
    assert_eq!(sum, 4950);
}

#[test]
fn four_parents_on_two_threads_each_wait_for_100_children() {
    let pool = CpuPool::with_threads(2).unwrap();
    let parents: Vec<_> = (0..4)
        .map(|_| {
            let p = pool.clone();
            pool.submit(move || parent(&p, 100))
        })
        .collect();
    for f in parents {
        assert_eq!(f.result().unwrap(), 4950);
    }
    let ran: u64 = pool.worker_stats().iter().map(|w| w.tasks).sum();
    assert_eq!(ran, 4 + 400);
}

fn fib(pool: &CpuPool, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (p1, p2) = (pool.clone(), pool.clone());
    let a = pool.submit(move || fib(&p1, n - 1));
    let b = pool.submit(move || fib(&p2, n - 2));
    a.result().unwrap() + b.result().unwrap()
}

#[test]
fn recursive_fib_by_nested_submission() {
    let pool = CpuPool::with_threads(2).unwrap();
    let p = pool.clone();
    assert_eq!(pool.submit(move || fib(&p, 15)).result().unwrap(), 610);
}

#[test]
fn recursive_fib_on_one_thread() {
    let pool = CpuPool::with_threads(1).unwrap();
    let p = pool.clone();
    assert_eq!(pool.submit(move || fib(&p, 12)).result().unwrap(), 144);
}

#[test]
fn as_completed_inside_a_task_on_one_thread() {
    let pool = CpuPool::with_threads(1).unwrap();
    let p = pool.clone();
    let total = pool
        .submit(move || {
            let futures: Vec<_> = (1..=20u32).map(|i| p.submit(move || i)).collect();
            as_completed(futures)
                .map(|f| f.result().unwrap())
                .sum::<u32>()
        })
        .result()
        .unwrap();
    assert_eq!(total, 210);
}

#[test]
fn wait_inside_a_task_on_one_thread() {
    let pool = CpuPool::with_threads(1).unwrap();
    let p = pool.clone();
    let done = pool
        .submit(move || {
            let futures: Vec<_> = (0..20u32).map(|i| p.submit(move || i)).collect();
            wait(&futures, WaitFor::AllCompleted, None).done.len()
        })
        .result()
        .unwrap();
    assert_eq!(done, 20);
}

#[test]
fn result_timeout_inside_a_task_runs_the_child() {
    let pool = CpuPool::with_threads(1).unwrap();
    let p = pool.clone();
    let v = pool
        .submit(move || {
            p.submit(|| 9)
                .result_timeout(Duration::from_secs(30))
                .unwrap()
        })
        .result()
        .unwrap();
    assert_eq!(v, 9);
}

#[test]
fn a_graph_computed_inside_a_task_on_the_same_pool() {
    let pool = CpuPool::with_threads(1).unwrap();
    let p = pool.clone();
    let v = pool
        .submit(move || {
            let xs: Vec<Delayed<u64>> = (0..50).map(|i| Delayed::value(i).map(|x| x * 2)).collect();
            let total = Delayed::gather(&xs, |v| v.iter().copied().sum::<u64>());
            total
                .compute_with(&ComputeOptions::new().pool(&p).progress(false))
                .unwrap()
        })
        .result()
        .unwrap();
    assert_eq!(v, 2450);
}

#[test]
fn nested_submission_on_a_static_placement_pool() {
    // Round-robin pins each submission to one worker; a waiting worker must
    // still run the children pinned to it.
    let pool = CpuPool::builder()
        .threads(2)
        .placement(flotilla_core::Placement::RoundRobin)
        .build()
        .unwrap();
    let parents: Vec<_> = (0..4)
        .map(|_| {
            let p = pool.clone();
            pool.submit(move || parent(&p, 50))
        })
        .collect();
    for f in parents {
        assert_eq!(f.result().unwrap(), 1225);
    }
}

#[test]
fn deep_nesting_chain_of_waits() {
    // Each task submits the next and waits for it: 200 frames of waiting.
    fn chain(pool: &CpuPool, depth: u32) -> u32 {
        if depth == 0 {
            return 0;
        }
        let p = pool.clone();
        pool.submit(move || chain(&p, depth - 1)).result().unwrap() + 1
    }
    let pool = CpuPool::with_threads(2).unwrap();
    let p = pool.clone();
    assert_eq!(pool.submit(move || chain(&p, 200)).result().unwrap(), 200);
}
