//! Many tiny items: one task per item, fixed batches, and batches sized
//! from measured durations (`Client::map_adaptive`), timed side by side
//! on an in-process engine of 2 threads.
//!
//! ```text
//! cargo run --release -p flotilla-cluster --example adaptive_batching -- [ITEMS]
//! ```

use std::time::{Duration, Instant};

use flotilla_cluster::{remote, BatchSizer, Client};

/// A tiny item: well under a microsecond of work.
#[remote(crate = flotilla_cluster)]
fn checksum(x: u64) -> u64 {
    (0..64).fold(x, |acc, i| acc.rotate_left(5) ^ (acc.wrapping_mul(31) + i))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    flotilla_cluster::worker_if_asked();
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200_000);
    let client = Client::in_process(2)?;
    let expected: u64 = (0..n).map(checksum).fold(0, u64::wrapping_add);

    let t = Instant::now();
    let one_each = client.map(checksum::REMOTE, ((0..n).collect::<Vec<_>>(),))?;
    let sum = client
        .gather(&one_each)?
        .into_iter()
        .fold(0, u64::wrapping_add);
    let per_item = t.elapsed();
    assert_eq!(sum, expected);

    let t = Instant::now();
    let fixed = client.map_batched(checksum::BATCH, 0..n, 100)?;
    let sum = client
        .gather(&fixed)?
        .into_iter()
        .flatten()
        .fold(0, u64::wrapping_add);
    let batched = t.elapsed();
    assert_eq!(sum, expected);

    let t = Instant::now();
    let sizer = BatchSizer::new(Duration::from_millis(20));
    let sized = client.map_adaptive(checksum::BATCH, 0..n, sizer)?;
    let sum = client
        .gather(&sized)?
        .into_iter()
        .flatten()
        .fold(0, u64::wrapping_add);
    let adaptive = t.elapsed();
    assert_eq!(sum, expected);

    println!(
        "{n} items: one task each {:.3} s ({} tasks); batches of 100 {:.3} s ({} tasks); \
         adaptive {:.3} s ({} tasks): {:.1}x faster than one task each",
        per_item.as_secs_f64(),
        one_each.len(),
        batched.as_secs_f64(),
        fixed.len(),
        adaptive.as_secs_f64(),
        sized.len(),
        per_item.as_secs_f64() / adaptive.as_secs_f64()
    );
    Ok(())
}
