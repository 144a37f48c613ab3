//! Scenario 7: a 10000×10000 random array in 1000×1000 chunks, summed;
//! `arange(1e6)` summed and its maximum.
//!
//! The course's `dask.array` example: `da.random.random((10000, 10000),
//! chunks=(1000, 1000)).sum()`, then `da.arange(1e6)`. Each of the 100
//! blocks is generated and summed in one task (never materialized), and the
//! partial sums are combined as a tree. W6 of the benchmark workloads is the
//! first part.
//!
//! ```text
//! cargo run --release -p flotilla-array --example scenario7_array
//! cargo run --release -p flotilla-array --example scenario7_array -- --size 2000 --chunk 500 --n 10000 --threads 2
//! ```

use std::time::Instant;

use flotilla_array::Array;
use flotilla_local::{ComputeOptions, CpuPool};

/// The sizes of the run, from `--size N --chunk C --n N --threads T --seed S`.
struct Settings {
    size: usize,
    chunk: usize,
    n: usize,
    threads: Option<usize>,
    seed: u64,
}

fn settings() -> Result<Settings, Box<dyn std::error::Error>> {
    let mut s = Settings {
        size: 10_000,
        chunk: 1_000,
        n: 1_000_000,
        threads: None,
        seed: 42,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            return Err(format!("{} needs a value", pair[0]).into());
        };
        match flag.as_str() {
            "--size" => s.size = value.parse()?,
            "--chunk" => s.chunk = value.parse()?,
            "--n" => s.n = value.parse()?,
            "--threads" => s.threads = Some(value.parse()?),
            "--seed" => s.seed = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(s)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let s = settings()?;
    let pool = match s.threads {
        Some(t) => CpuPool::with_threads(t)?,
        None => CpuPool::global().clone(),
    };
    let options = ComputeOptions::new().pool(&pool).progress(false);

    let x = Array::random(&[s.size, s.size], [s.chunk, s.chunk], s.seed)?;
    let start = Instant::now();
    let total = x.sum().compute_with(&options)?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "random {}x{} in {}x{} chunks ({} blocks, {} threads): sum = {total:.6} in {seconds:.3} s",
        s.size,
        s.size,
        s.chunk,
        s.chunk,
        x.num_blocks(),
        pool.threads()
    );
    println!("random mean = {:.6}", total / (s.size * s.size) as f64);

    let n = Array::<i64>::arange(s.n, (s.n / 10).max(1))?;
    let start = Instant::now();
    let sum = n.sum().compute_with(&options)?;
    let max = n.max().compute_with(&options)?;
    let seconds = start.elapsed().as_secs_f64();
    println!("arange({}) sum = {sum}", s.n);
    println!("arange({}) max = {max}", s.n);
    println!("arange sum and max in {seconds:.3} s");
    Ok(())
}
