//! Scenario 1: the sum of squares by map-reduce over a CPU pool.
//!
//! The course's first example: map `x → x²` over a list, reduce by summing.
//! Here the mapper emits every square under one key (`()`), a combiner sums
//! the squares inside each map task, and the single reduce task sums the
//! partial sums. Then the same squares on a process pool of this binary.
//!
//! ```text
//! cargo run -p flotilla --example scenario1_sum_of_squares
//! ```

use flotilla::cluster::ProcessPool;
use flotilla::patterns::MapReduce;
use flotilla::CpuPool;

/// x², on whichever worker process of the pool runs it.
#[flotilla::remote]
fn square(x: u64) -> u64 {
    x * x
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Copies of this binary started as the process pool's workers serve
    // here and never return.
    flotilla::cluster::worker_if_asked();
    let pool = CpuPool::with_threads(4)?;
    let sum_of_squares = MapReduce::new(
        |x: u64| Some(((), x * x)),
        |_, squares: Vec<u64>| squares.into_iter().sum::<u64>(),
    )
    .combiner(|_, squares| squares.into_iter().sum());

    // The course's data.
    let data = vec![1u64, 2, 3, 4, 5];
    let result = sum_of_squares.run(&pool, data)?;
    let total: u64 = result.iter().map(|(_, sum)| sum).sum();
    println!("MapReduce Result: {total}");

    // The same job over more data, with its counters.
    let (result, report) = sum_of_squares.run_with_report(&pool, 1..=1000u64)?;
    let total: u64 = result.iter().map(|(_, sum)| sum).sum();
    println!("sum of squares of 1..=1000: {total}");
    println!(
        "  {} records in {} map tasks, {} pairs mapped, {} shuffled after combining, {} key out",
        report.records_in,
        report.map_tasks,
        report.map_output_pairs,
        report.pairs_after_combine,
        report.keys_out,
    );

    // The course's process pool (`multiprocessing.Pool`): worker processes
    // of this binary; one that crashed would be replaced.
    let processes = ProcessPool::new(3)?;
    let squares = processes.map(square::REMOTE, (vec![1u64, 2, 3, 4, 5],))?;
    println!("on a process pool of 3: {}", squares.iter().sum::<u64>());
    Ok(())
}
