//! Throughput of the dataframe kernels on one thread: group-by partials on
//! the dense, hashed, string, dictionary and multi-key paths, whole-column
//! aggregates, the join probe of W9 (10M ratings against 1682 movies), and
//! hash partitioning. Plain `Instant` timing, best of a few runs, printed as
//! rows per second.
//!
//! `cargo bench -p flotilla-dataframe --bench kernels` (set `KERNELS_SCALE=0.1` for a
//! quick run with a tenth of the rows, `KERNELS_ONLY=probe` to run only the
//! cases whose label contains `probe`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use flotilla_dataframe::kernels::{hash_partition, Agg, GroupBy, JoinKind, JoinTable};

const GENRES: [&str; 19] = [
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
    "unknown",
];

/// xorshift64*: reproducible data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

/// Runs `f` a few times; prints and returns the best time. Skipped
/// unless the label contains `KERNELS_ONLY` (when set).
fn measure(label: &str, rows: usize, mut f: impl FnMut()) -> Duration {
    if std::env::var("KERNELS_ONLY").is_ok_and(|only| !label.contains(&only)) {
        return Duration::ZERO;
    }
    f(); // warm up
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        f();
        best = best.min(start.elapsed());
    }
    println!(
        "{label:<58} {rows:>10} rows  {:>8.2} ms  {:>8.1} M rows/s",
        best.as_secs_f64() * 1e3,
        rows as f64 / best.as_secs_f64() / 1e6
    );
    best
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, c)| Field::new(*name, c.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, c)| c).collect(),
    )
    .unwrap()
}

fn group_by(label: &str, b: &RecordBatch, keys: &[&str], aggs: &[Agg]) {
    let plan = GroupBy::new(&b.schema(), keys, aggs).unwrap();
    measure(label, b.num_rows(), || {
        black_box(plan.partial(black_box(b)).unwrap());
    });
}

fn main() {
    let scale: f64 = std::env::var("KERNELS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let n5 = (5_000_000.0 * scale) as usize;
    let n10 = (10_000_000.0 * scale) as usize;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    // Scenario 8: station ids (999 distinct) and temperatures.
    let stations: Vec<i64> = (0..n5).map(|_| rng.below(999) as i64).collect();
    let temps: ArrayRef = Arc::new(Float64Array::from(
        (0..n5)
            .map(|_| rng.below(8000) as f64 / 100.0 - 30.0)
            .collect::<Vec<_>>(),
    ));
    let dense = batch(vec![
        ("station", Arc::new(Int64Array::from(stations.clone()))),
        ("temperature", temps.clone()),
    ]);
    let mean_count = [Agg::mean("temperature"), Agg::count("temperature")];
    group_by(
        "group-by Int64 key, 999 values (dense) mean+count",
        &dense,
        &["station"],
        &mean_count,
    );
    let spread = batch(vec![
        (
            "station",
            Arc::new(Int64Array::from(
                stations
                    .iter()
                    .map(|s| s.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64))
                    .collect::<Vec<_>>(),
            )),
        ),
        ("temperature", temps.clone()),
    ]);
    group_by(
        "group-by Int64 key, 999 values (hashed) mean+count",
        &spread,
        &["station"],
        &mean_count,
    );
    group_by(
        "group-by Int64 key, 999 values (dense) all 7 aggregates",
        &dense,
        &["station"],
        &[
            Agg::count("temperature"),
            Agg::sum("temperature"),
            Agg::mean("temperature"),
            Agg::min("temperature"),
            Agg::max("temperature"),
            Agg::var("temperature"),
            Agg::std("temperature"),
        ],
    );
    group_by(
        "whole column (no key) sum+mean+max",
        &dense,
        &[],
        &[
            Agg::sum("temperature"),
            Agg::mean("temperature"),
            Agg::max("temperature"),
        ],
    );

    // W9: genres, as plain strings and as a dictionary.
    let genre_ids: Vec<usize> = (0..n10)
        .map(|_| rng.below(GENRES.len() as u64) as usize)
        .collect();
    let ratings: ArrayRef = Arc::new(Int64Array::from(
        (0..n10)
            .map(|_| 1 + rng.below(5) as i64)
            .collect::<Vec<_>>(),
    ));
    let plain = batch(vec![
        (
            "genre",
            Arc::new(StringArray::from_iter_values(
                genre_ids.iter().map(|&g| GENRES[g]),
            )),
        ),
        ("rating", ratings.clone()),
    ]);
    group_by(
        "group-by Utf8 key, 19 values, mean",
        &plain,
        &["genre"],
        &[Agg::mean("rating")],
    );
    let mut dict = StringDictionaryBuilder::<Int32Type>::new();
    for &g in &genre_ids {
        dict.append_value(GENRES[g]);
    }
    let coded = batch(vec![
        ("genre", Arc::new(dict.finish())),
        ("rating", ratings.clone()),
    ]);
    group_by(
        "group-by Dictionary<Int32,Utf8> key, 19 values, mean",
        &coded,
        &["genre"],
        &[Agg::mean("rating")],
    );
    let multi = batch(vec![
        (
            "station",
            Arc::new(Int64Array::from(stations[..n5].to_vec())),
        ),
        ("genre", plain.column(0).slice(0, n5)),
        ("temperature", temps.clone()),
    ]);
    group_by(
        "group-by (Int64, Utf8) keys, ~19k groups, mean",
        &multi,
        &["station", "genre"],
        &[Agg::mean("temperature")],
    );

    // W9's join: 10M ratings against 1682 movies.
    let movies = batch(vec![
        (
            "id",
            Arc::new(Int64Array::from((1..=1682).collect::<Vec<i64>>())),
        ),
        (
            "genre",
            Arc::new(StringArray::from_iter_values(
                (0..1682).map(|i| GENRES[i % GENRES.len()]),
            )),
        ),
    ]);
    let probe = batch(vec![
        (
            "movie",
            Arc::new(Int64Array::from(
                (0..n10)
                    .map(|_| 1 + rng.below(1682) as i64)
                    .collect::<Vec<_>>(),
            )),
        ),
        ("rating", ratings),
    ]);
    let keys_only = JoinTable::build(&movies.project(&[0]).unwrap(), &["id"]).unwrap();
    measure(
        "join probe Int64, 1682-row table, keys only (inner)",
        n10,
        || {
            black_box(
                keys_only
                    .probe(&probe, &["movie"], JoinKind::Inner)
                    .unwrap(),
            );
        },
    );
    let table = JoinTable::build(&movies, &["id"]).unwrap();
    measure(
        "join probe Int64, 1682-row table, + Utf8 genre (inner)",
        n10,
        || {
            black_box(table.probe(&probe, &["movie"], JoinKind::Inner).unwrap());
        },
    );
    measure(
        "join probe Int64, 1682-row table, + genre as dictionary",
        n10,
        || {
            black_box(
                table
                    .probe_dictionary(&probe, &["movie"], JoinKind::Inner)
                    .unwrap(),
            );
        },
    );
    measure(
        "join probe Int64, 1682-row table, + genre (left)",
        n10,
        || {
            black_box(table.probe(&probe, &["movie"], JoinKind::Left).unwrap());
        },
    );
    let joined = table
        .probe_dictionary(&probe, &["movie"], JoinKind::Inner)
        .unwrap();
    group_by(
        "W9 after join: group-by dictionary genre, mean rating",
        &joined,
        &["genre"],
        &[Agg::mean("rating")],
    );

    let part = dense.slice(0, n5);
    measure("hash_partition Int64 key into 16", n5, || {
        black_box(hash_partition(&part, &["station"], 16).unwrap());
    });
}
