//! Word count with the Bag API, timed against a hand-written loop over the
//! same input splits: the cost of the abstraction, measured.
//!
//! Words are maximal runs of non-whitespace bytes (as Python's
//! `bytes.split()`, the definition of workload W4). Three ways, each on the
//! same pool:
//!
//! 1. `hand loop`: one pool task per split, reading lines with a
//!    [`LineReader`] and counting [`SmallBytes`] in a hash map, merged on the
//!    caller — what the Bag should cost no more than 1.5× of;
//! 2. `bag: bytes, flat_map_emit`: `read_text_bytes(..).flat_map_emit(..)
//!    .frequencies()` with [`SmallBytes`] words, which keep short words
//!    inline (no allocation per word);
//! 3. `bag: String, flat_map_emit`: the same over `read_text`, one `String`
//!    per word;
//! 4. `bag: String, flat_map(Vec)`: `read_text(..).flat_map(|l|
//!    l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())`, the way
//!    a user first writes it — a `Vec` per line on top.
//!
//! ```text
//! cargo run --release -p flotilla --example bag_wordcount -- bench-data/text_100mb.txt [WORKERS] [SPLIT_MB] [RUNS]
//! ```
//!
//! `SPLIT_MB` (or `auto`) defaults to the typed jobs' choice: a quarter of the input per
//! worker, between 1 and 64 MiB.
//!
//! ```text
//! ```

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::time::Instant;

use flotilla::bag::{read_text_bytes_with, read_text_with, TextOptions};
use flotilla::mapreduce::builtin::{words, WordCount};
use flotilla::mapreduce::split::{plan_splits, LineReader};
use flotilla::mapreduce::{JobConfig, JobRunner, KeyHasher, SmallBytes};
use flotilla::{ComputeOptions, CpuPool};

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// Python's `bytes.split()` whitespace.
#[derive(Debug, PartialEq)]
struct Summary {
    total: u64,
    distinct: usize,
    top5: Vec<(String, u64)>,
}

fn summary<W>(counts: &[(W, u64)], bytes: impl Fn(&W) -> &[u8]) -> Summary {
    // `counts` is sorted: most frequent first, ties by word.
    Summary {
        total: counts.iter().map(|(_, n)| n).sum(),
        distinct: counts.len(),
        top5: counts
            .iter()
            .take(5)
            .map(|(w, n)| (String::from_utf8_lossy(bytes(w)).into_owned(), *n))
            .collect(),
    }
}

fn bag_strings(
    input: &str,
    split: u64,
    options: &ComputeOptions,
) -> Result<Summary, Box<dyn std::error::Error>> {
    let counts = read_text_with(&[input], TextOptions::new().split_bytes(split))?
        .flat_map(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .frequencies()
        .compute_with(options)?;
    Ok(summary(&counts, |w| w.as_bytes()))
}

fn bag_strings_emit(
    input: &str,
    split: u64,
    options: &ComputeOptions,
) -> Result<Summary, Box<dyn std::error::Error>> {
    let counts = read_text_with(&[input], TextOptions::new().split_bytes(split))?
        .flat_map_emit(|line, out| {
            for word in line.split_whitespace() {
                out.emit(word.to_owned());
            }
        })
        .frequencies()
        .compute_with(options)?;
    Ok(summary(&counts, |w| w.as_bytes()))
}

fn bag_bytes(
    input: &str,
    split: u64,
    options: &ComputeOptions,
) -> Result<Summary, Box<dyn std::error::Error>> {
    let counts = read_text_bytes_with(&[input], TextOptions::new().split_bytes(split))?
        .flat_map_emit(|line, out| {
            for word in words(&line) {
                out.emit(SmallBytes::from(word));
            }
        })
        .frequencies()
        .compute_with(options)?;
    Ok(summary(&counts, |w| w.as_bytes()))
}

fn hand_loop(
    input: &str,
    split: u64,
    pool: &CpuPool,
) -> Result<Summary, Box<dyn std::error::Error>> {
    let futures: Vec<_> = plan_splits(&[input], split)?
        .into_iter()
        .map(|split| {
            pool.submit(move || {
                let mut counts: FastMap<SmallBytes, u64> = FastMap::default();
                let read = LineReader::new().for_each_line(&split, |line| {
                    for w in words(line.bytes()) {
                        match counts.get_mut(w) {
                            Some(n) => *n += 1,
                            None => {
                                counts.insert(SmallBytes::from(w), 1);
                            }
                        }
                    }
                    Ok::<_, std::convert::Infallible>(())
                });
                read.map(|_| counts).map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut total: FastMap<SmallBytes, u64> = FastMap::default();
    for f in futures {
        for (w, n) in f.result()?? {
            *total.entry(w).or_insert(0) += n;
        }
    }
    let mut counts: Vec<(SmallBytes, u64)> = total.into_iter().collect();
    counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(summary(&counts, |w| w.as_bytes()))
}

fn typed_job(
    input: &str,
    split: u64,
    pool: &CpuPool,
) -> Result<Summary, Box<dyn std::error::Error>> {
    let runner = JobRunner::new(pool).config(JobConfig::default().split_bytes(split));
    let mut counts = runner.run_text(WordCount::<true>, &[input])?.records();
    counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(summary(&counts, |w| w.as_bytes()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(input) = args.first() else {
        eprintln!("usage: bag_wordcount FILE [WORKERS] [SPLIT_MB] [RUNS]");
        std::process::exit(2);
    };
    let workers: usize = args.get(1).map_or(Ok(2), |s| s.parse())?;
    // The typed jobs' default: four splits per worker, 1 to 64 MiB each.
    let size = std::fs::metadata(input)?.len();
    let default_split = (size / (4 * workers.max(1) as u64)).clamp(1 << 20, 64 << 20);
    let split: u64 = match args.get(2) {
        Some(mb) if mb != "auto" => mb.parse::<u64>()? << 20,
        _ => default_split,
    };
    let runs: usize = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let pool = CpuPool::with_threads(workers)?;
    let options = ComputeOptions::new().pool(&pool).progress(false);
    println!(
        "word count of {input}: {workers} workers, {:.1} MiB splits, best of {runs} interleaved rounds",
        split as f64 / f64::from(1 << 20)
    );

    type Way<'a> = Box<dyn Fn() -> Result<Summary, Box<dyn std::error::Error>> + 'a>;
    let ways: [(&str, Way<'_>); 5] = [
        ("hand loop", Box::new(|| hand_loop(input, split, &pool))),
        ("typed job", Box::new(|| typed_job(input, split, &pool))),
        (
            "bag: bytes, flat_map_emit",
            Box::new(|| bag_bytes(input, split, &options)),
        ),
        (
            "bag: String, flat_map_emit",
            Box::new(|| bag_strings_emit(input, split, &options)),
        ),
        (
            "bag: String, flat_map(Vec)",
            Box::new(|| bag_strings(input, split, &options)),
        ),
    ];
    // Rounds interleave the ways, so that a slow spell of the machine
    // touches them all; each way's best round counts.
    let mut best = [f64::INFINITY; 5];
    let mut reference = None;
    for _ in 0..runs.max(1) {
        for (i, (name, way)) in ways.iter().enumerate() {
            let start = Instant::now();
            let result = way()?;
            best[i] = best[i].min(start.elapsed().as_secs_f64());
            match &reference {
                None => reference = Some(result),
                Some(r) if *r != result => {
                    return Err(format!("{name} disagrees: {result:?} vs {r:?}").into())
                }
                Some(_) => {}
            }
        }
    }
    for (i, (name, _)) in ways.iter().enumerate() {
        println!(
            "{name:>28}: {:.3} s  ({:.2}x the hand loop)",
            best[i],
            best[i] / best[0]
        );
    }
    if let Some(r) = reference {
        println!(
            "total words {}, distinct {}, top 5 {:?}",
            r.total, r.distinct, r.top5
        );
    }
    Ok(())
}
