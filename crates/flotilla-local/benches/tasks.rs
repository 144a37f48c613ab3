//! Micro-benchmark of the in-process runtime against rayon, on the same
//! machine in the same run (`cargo bench -p flotilla-local`).
//!
//! * submit: 100,000 tiny tasks submitted one by one and gathered (W1's
//!   shape), flotilla's `CpuPool::submit` against `rayon::ThreadPool::spawn`;
//! * graph: a binary tree reduction over 100,000 leaves as one delayed graph
//!   (W2's shape).
//!
//! Prints the best of five runs of each, in microseconds per task, and
//! flotilla's ratio to rayon.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use flotilla_local::{ComputeOptions, CpuPool, Delayed};

const N: u64 = 100_000;
const THREADS: usize = 2;

fn best_of(runs: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..runs).map(|_| f()).fold(f64::MAX, f64::min)
}

fn flotilla_submit(pool: &CpuPool) -> f64 {
    let start = Instant::now();
    let futures: Vec<_> = (0..N).map(|i| pool.submit(move || i + 1)).collect();
    let sum: u64 = futures.into_iter().map(|f| f.result().unwrap_or(0)).sum();
    assert_eq!(sum, N * (N + 1) / 2);
    start.elapsed().as_secs_f64() / N as f64 * 1e6
}

fn rayon_spawn(pool: &rayon::ThreadPool) -> f64 {
    let start = Instant::now();
    let sum = Arc::new(AtomicU64::new(0));
    let left = Arc::new(AtomicU64::new(N));
    let (tx, rx) = mpsc::channel();
    for i in 0..N {
        let (sum, left, tx) = (Arc::clone(&sum), Arc::clone(&left), tx.clone());
        pool.spawn(move || {
            sum.fetch_add(i + 1, Ordering::Relaxed);
            if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                let _ = tx.send(());
            }
        });
    }
    let _ = rx.recv();
    assert_eq!(sum.load(Ordering::Relaxed), N * (N + 1) / 2);
    start.elapsed().as_secs_f64() / N as f64 * 1e6
}

fn flotilla_tree(pool: &CpuPool) -> f64 {
    let start = Instant::now();
    let mut level: Vec<Delayed<u64>> = (0..N).map(|i| Delayed::from_fn(move || i)).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|c| {
                if c.len() == 2 {
                    c[0].zip_with(&c[1], |a, b| a + b)
                } else {
                    c[0].clone()
                }
            })
            .collect();
    }
    let root = level
        .pop()
        .map(|r| r.compute_with(&ComputeOptions::new().pool(pool).progress(false)));
    assert_eq!(root.and_then(Result::ok), Some(N * (N - 1) / 2));
    start.elapsed().as_secs_f64() / (2 * N - 1) as f64 * 1e6
}

fn main() {
    let pool = CpuPool::with_threads(THREADS).expect("pool");
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()
        .expect("rayon pool");
    let ours = best_of(5, || flotilla_submit(&pool));
    let theirs = best_of(5, || rayon_spawn(&rayon));
    println!("submit+gather  flotilla {ours:.3} us/task   rayon::spawn {theirs:.3} us/task   ratio {:.2}", ours / theirs);
    let tree = best_of(5, || flotilla_tree(&pool));
    println!("delayed tree   flotilla {tree:.3} us/task (build + run, 199,999 tasks)");
}
