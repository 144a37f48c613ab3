//! Scenario 2: scatter-gather — three ranges summed by a pool of three.
//!
//! The data `1..=30` is scattered into three contiguous parts, each part is
//! summed by its own task on a pool of three threads, and the three partial
//! sums are gathered, in part order, into the total.
//!
//! ```text
//! cargo run -p flotilla --example scenario2_scatter_gather
//! ```

use flotilla::patterns::scatter_gather;
use flotilla::CpuPool;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = CpuPool::with_threads(3)?;
    let data: Vec<u64> = (1..=30).collect();
    let (partials, total) = scatter_gather(
        &pool,
        data,
        3,
        |part: &[u64]| part.iter().sum::<u64>(),
        |partials| {
            let total: u64 = partials.iter().sum();
            (partials, total)
        },
    )?;
    println!("partial sums: {partials:?}");
    println!("Gathered Result: {total}");
    Ok(())
}
