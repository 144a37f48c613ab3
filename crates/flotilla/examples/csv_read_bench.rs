//! How fast CSV files become Arrow record batches: every partition of a
//! [`CsvSource`] read by a [`CpuPool`] task, with 1 and 2 threads, against
//! arrow-csv's reader over the same byte ranges.
//!
//! ```text
//! cargo run --release -p flotilla-cli -- gen weather --output /tmp/weather.csv
//! cargo run --release -p flotilla --example csv_read_bench -- /tmp/weather.csv bench-data/ratings_10m.tsv bench-data/items.csv
//! ```
//!
//! A `.tsv` file is read as the MovieLens ratings of workload W9 (no
//! header; `user_id, item_id, rating, timestamp`), anything else as a CSV
//! with a header. Planning (header, inference from the first 1000 rows,
//! byte ranges: about four per thread of the machine) is timed with the
//! reading. Each configuration runs `RUNS` times (default 5; the first
//! run may read from disk rather than the page cache) and the best wall
//! time is printed, with the process CPU time of that run. Add `--arrow`
//! to also time arrow-csv's `ReaderBuilder` (known schema, one batch per
//! partition) over the same byte ranges, and `--threads 1,2,4` or
//! `--runs N` to change what is measured.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla::dataframe::arrow::schema::SchemaRef;
use flotilla::dataframe::io::{CsvOptions, CsvSource};
use flotilla::CpuPool;

/// The options for one input file.
fn options_for(path: &str) -> CsvOptions {
    if path.ends_with(".tsv") {
        CsvOptions::new()
            .delimiter(b'\t')
            .has_header(false)
            .column_names(["user_id", "item_id", "rating", "timestamp"])
    } else {
        CsvOptions::new()
    }
}

/// Rows read by flotilla's reader with `pool`.
fn read_flotilla(path: &str, pool: &CpuPool) -> Result<usize, Box<dyn Error>> {
    let source = CsvSource::plan(&[path], options_for(path))?;
    let read = source.clone();
    let mut rows = 0;
    // A boxed error keeps the tasks' results small.
    let tasks = pool.map(0..source.partitions(), move |i| {
        read.read_partition(i).map_err(Box::new)
    });
    for batch in tasks {
        rows += batch??.num_rows();
    }
    Ok(rows)
}

/// Rows read by arrow-csv over the same byte ranges, with `pool`.
fn read_arrow(path: &str, schema: SchemaRef, pool: &CpuPool) -> Result<usize, Box<dyn Error>> {
    let source = CsvSource::plan(&[path], options_for(path))?;
    let splits = source.splits().to_vec();
    let tsv = path.ends_with(".tsv");
    let batches = pool.map(splits, move |split| -> Result<usize, String> {
        let mut block = Vec::new();
        let offset = split.read_block(&mut block).map_err(|e| e.to_string())?;
        let reader = arrow_csv::ReaderBuilder::new(Arc::clone(&schema))
            .with_header(!tsv && offset == 0)
            .with_delimiter(if tsv { b'\t' } else { b',' })
            // One batch per partition (arrow-csv sizes its buffers by this).
            .with_batch_size(1 << 24)
            .build(&block[..])
            .map_err(|e| e.to_string())?;
        let mut rows = 0;
        for batch in reader {
            rows += batch.map_err(|e| e.to_string())?.num_rows();
        }
        Ok(rows)
    });
    let mut rows = 0;
    for part in batches {
        rows += part??;
    }
    Ok(rows)
}

/// User plus system CPU time of this process so far (Linux; zero
/// elsewhere).
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    let Some(rest) = stat.rfind(')').map(|at| &stat[at + 2..]) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime, in clock ticks of 1/100 s on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The best of `runs` runs of `f`: (wall, CPU, rows).
fn best_of(
    runs: usize,
    mut f: impl FnMut() -> Result<usize, Box<dyn Error>>,
) -> Result<(Duration, Duration, usize), Box<dyn Error>> {
    let mut best: Option<(Duration, Duration, usize)> = None;
    for _ in 0..runs {
        let (cpu, start) = (cpu_time(), Instant::now());
        let rows = f()?;
        let wall = start.elapsed();
        let cpu = cpu_time().saturating_sub(cpu);
        if best.is_none_or(|(w, _, _)| wall < w) {
            best = Some((wall, cpu, rows));
        }
    }
    best.ok_or_else(|| "no run".into())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut files = Vec::new();
    let mut threads = vec![1, 2];
    let mut runs = 5;
    let mut arrow = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--arrow" => arrow = true,
            "--runs" => runs = args.next().ok_or("--runs N")?.parse()?,
            "--threads" => {
                threads = args
                    .next()
                    .ok_or("--threads 1,2")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        return Err("usage: csv_read_bench [--arrow] [--threads 1,2] [--runs N] FILE...".into());
    }
    for path in &files {
        let source = CsvSource::plan(&[path.as_str()], options_for(path))?;
        let bytes: u64 = source.splits().iter().map(|s| s.len()).sum();
        println!(
            "{path}: {:.1} MB, {} partitions, schema {:?}",
            bytes as f64 / 1e6,
            source.partitions(),
            source
                .schema()
                .fields()
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
        );
        for &n in &threads {
            let pool = CpuPool::with_threads(n)?;
            let (wall, cpu, rows) = best_of(runs, || read_flotilla(path, &pool))?;
            println!(
                "  flotilla  {n} thread(s): {:>7.3} s wall, {:>6.2} s CPU, {rows} rows, {:.0} MB/s",
                wall.as_secs_f64(),
                cpu.as_secs_f64(),
                bytes as f64 / 1e6 / wall.as_secs_f64()
            );
            if arrow {
                let schema = source.schema();
                let (wall, cpu, rows) =
                    best_of(runs, || read_arrow(path, Arc::clone(&schema), &pool))?;
                println!(
                    "  arrow-csv {n} thread(s): {:>7.3} s wall, {:>6.2} s CPU, {rows} rows",
                    wall.as_secs_f64(),
                    cpu.as_secs_f64()
                );
            }
        }
    }
    Ok(())
}
