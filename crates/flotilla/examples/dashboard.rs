//! A live dashboard of skewed work: open the address it prints while it
//! runs.
//!
//! ```text
//! cargo run --release --example dashboard -- [ADDR] [SECONDS]
//! ```
//!
//! Defaults: 127.0.0.1:8787 for 60 seconds. Each round is a small graph —
//! 48 CPU-busy `load` tasks of uneven length, pairwise `combine` tasks, one
//! `total` — run under work stealing, so the page shows a graph's shape,
//! progress per kind, the threads' task stream with steals marked, and the
//! Prometheus metrics at `/metrics`.

use std::time::{Duration, Instant};

use flotilla::{ComputeOptions, CpuPool, Delayed, Placement};

fn spin(micros: u64) -> u64 {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_micros(micros) {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    x
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8787".to_string());
    let seconds: u64 = match args.next() {
        Some(s) => s.parse().map_err(|e| format!("SECONDS {s:?}: {e}"))?,
        None => 60,
    };
    let pool = CpuPool::builder()
        .name("dashboard-demo")
        .placement(Placement::WorkStealing)
        .build()?;
    let dashboard = pool.dashboard(&addr)?;
    println!("dashboard at {} for {seconds} s", dashboard.url());
    let options = ComputeOptions::new().pool(&pool).progress(false);
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut round = 0u64;
    while Instant::now() < until {
        let loads: Vec<Delayed<u64>> = (0..48u64)
            .map(|i| {
                // Every seventh task is ten times longer: stealing evens it out.
                let micros = if (i + round).is_multiple_of(7) {
                    20_000
                } else {
                    2_000
                };
                Delayed::from_fn(move || spin(micros)).named(flotilla::TaskKey::indexed("load", i))
            })
            .collect();
        let combined: Vec<Delayed<u64>> = loads
            .chunks(2)
            .enumerate()
            .map(|(i, pair)| {
                Delayed::gather(pair, |v| v.iter().fold(0u64, |a, b| a ^ **b))
                    .named(flotilla::TaskKey::indexed("combine", i as u64))
            })
            .collect();
        let total =
            Delayed::gather(&combined, |v| v.iter().fold(0u64, |a, b| a ^ **b)).named("total");
        total.compute_with(&options)?;
        round += 1;
    }
    println!("{round} rounds");
    Ok(())
}
