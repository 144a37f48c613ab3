//! Scenario 5: a parallel map on a CPU pool; five 2-second sleeps on an I/O
//! pool finish in about 2 s, not 10.
//!
//! `cargo run --release -p flotilla --example scenario5_pools [-- SECONDS]`

use std::time::{Duration, Instant};

use flotilla::prelude::*;

fn main() -> Result<(), TaskError> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);

    // CPU-bound: a parallel map, results in input order.
    let cpu = CpuPool::with_threads(2)?;
    let squares: Vec<u64> = cpu.map(1..=10u64, |x| x * x).collect::<Result<_, _>>()?;
    println!("squares: {squares:?}");
    println!("sum of squares: {}", squares.iter().sum::<u64>());

    // I/O-bound: five blocking sleeps at once, each on its own thread.
    let io = IoPool::new();
    let start = Instant::now();
    let naps: Vec<TaskFuture<usize>> = (0..5)
        .map(|i| {
            io.submit(move || {
                std::thread::sleep(Duration::from_secs_f64(seconds));
                i
            })
        })
        .collect();
    let done: Vec<usize> = naps
        .into_iter()
        .map(TaskFuture::result)
        .collect::<Result<_, _>>()?;
    println!(
        "five {seconds} s sleeps finished in {:.2} s on {} threads: {done:?}",
        start.elapsed().as_secs_f64(),
        io.peak_threads()
    );
    Ok(())
}
