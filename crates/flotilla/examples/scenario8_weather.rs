//! Scenario 8: weather analysis of 10 million (station_id, temperature)
//! rows — mean, max and sum of the temperature, a Fahrenheit column, the
//! mean per station — from memory and from a CSV file.
//!
//! The course's Dask example, as a flotilla `DataFrame`: the table is cut
//! into partitions; every statistic is a tree reduction over them; the
//! Fahrenheit column is a per-partition step fused into the task that
//! reads each partition; the group-by aggregates every partition partially
//! and merges the partials as a tree.
//!
//! ```text
//! flotilla gen weather --output weather.csv            # 10M rows, ~170 MB
//! cargo run --release -p flotilla --example scenario8_weather -- weather.csv
//! cargo run --release -p flotilla --example scenario8_weather -- --rows 1000000   # from memory only
//! ```

use std::time::Instant;

use flotilla::dataframe::io::CsvOptions;
use flotilla::dataframe::kernels::Agg;
use flotilla::dataframe::{batch_column, col, DataFrame, DataFrameError, SortKey};

/// The analysis of scenario 8 on any weather frame; prints and returns
/// (mean, max, sum, Fahrenheit mean, stations).
pub fn analyse(df: &DataFrame) -> Result<(f64, f64, f64, f64, usize), DataFrameError> {
    let t = df.stats("temperature")?.compute()?;
    let with_f = df.with_column("temperature_f", col("temperature") * 9 / 5 + 32)?;
    let f_mean = with_f.mean("temperature_f")?.compute()?.unwrap_or(f64::NAN);
    let per_station = df
        .group_by(&["station_id"])?
        .agg(&[Agg::mean("temperature")])?
        .sort_by(&[SortKey::new("station_id")])?
        .compute()?;
    let (mean, max) = (t.mean().unwrap_or(f64::NAN), t.max.unwrap_or(f64::NAN));
    println!(
        "  rows {}, mean {mean:.4} °C, max {max:.4} °C, sum {:.1}",
        t.count, t.sum
    );
    println!("  mean in Fahrenheit {f_mean:.4} °F");
    let stations: Vec<Option<i64>> = batch_column(&per_station, "station_id")?;
    let means: Vec<Option<f64>> = batch_column(&per_station, "temperature_mean")?;
    println!("  {} stations; the first three:", per_station.num_rows());
    for (station, mean) in stations.iter().zip(&means).take(3) {
        let (station, mean) = (station.unwrap_or_default(), mean.unwrap_or(f64::NAN));
        println!("    station {station}: {mean:.4} °C");
    }
    Ok((mean, max, t.sum, f_mean, per_station.num_rows()))
}

/// A weather table in memory: `rows` rows, stations 1..=999, temperatures
/// in -10..50, from a fixed-seed generator.
pub fn in_memory(rows: usize, partitions: usize) -> Result<DataFrame, DataFrameError> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let station: Vec<i64> = (0..rows).map(|_| (next() % 999 + 1) as i64).collect();
    let temperature: Vec<f64> = (0..rows)
        .map(|_| -10.0 + 60.0 * (next() >> 11) as f64 / (1u64 << 53) as f64)
        .collect();
    DataFrame::from_columns(
        vec![
            ("station_id", station.into()),
            ("temperature", temperature.into()),
        ],
        partitions,
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut rows = 10_000_000;
    let mut csv = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rows" => rows = it.next().ok_or("--rows needs a number")?.parse()?,
            path => csv = Some(path.to_string()),
        }
    }

    println!("from memory ({rows} rows, 16 partitions):");
    let start = Instant::now();
    analyse(&in_memory(rows, 16)?)?;
    println!("  {:.3} s", start.elapsed().as_secs_f64());

    if let Some(path) = csv {
        println!("from {path}:");
        let start = Instant::now();
        // Read once, keep the partitions in memory, then analyse.
        let df = DataFrame::read_csv(&[path.as_str()], CsvOptions::new())?.persist()?;
        analyse(&df)?;
        println!(
            "  {:.3} s ({} partitions)",
            start.elapsed().as_secs_f64(),
            df.num_partitions()
        );
    }
    Ok(())
}
