//! Reading throughput of input splits on one thread.
//!
//! ```text
//! cargo run --release -p flotilla-cli -- gen ratings --rows 10000000 --output /tmp/ratings.tsv
//! cargo run --release -p flotilla --example read_splits -- /tmp/ratings.tsv [SPLIT_MB]
//! ```
//!
//! Plans the file in splits of `SPLIT_MB` MiB (default 64), then counts the
//! lines of every split one after the other, three ways: the callback
//! reader, the callback reader also checking UTF-8, and the owned-line
//! iterator. Prints lines and MB/s for each. Run it twice: the first pass
//! may read from disk rather than the page cache.

use std::convert::Infallible;
use std::error::Error;
use std::time::Instant;

use flotilla::mapreduce::split::{plan_splits, InputError, LineReader};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: read_splits FILE [SPLIT_MB]")?;
    let split_mb: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let splits = plan_splits(&[path.as_str()], split_mb << 20)?;
    let bytes: u64 = splits.iter().map(|s| s.len()).sum();
    println!(
        "{path}: {:.1} MB in {} splits of {split_mb} MiB",
        bytes as f64 / 1e6,
        splits.len()
    );

    let report = |what: &str, lines: u64, started: Instant| {
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{what:<28} {lines} lines in {:.3} s: {:.0} MB/s",
            secs,
            bytes as f64 / 1e6 / secs
        );
    };

    for _pass in 0..2 {
        let started = Instant::now();
        let mut reader = LineReader::new();
        let mut lines = 0u64;
        for split in &splits {
            lines += reader
                .for_each_line(split, |_| Ok::<_, Infallible>(()))?
                .lines;
        }
        report("for_each_line (bytes)", lines, started);

        let started = Instant::now();
        let mut lines = 0u64;
        let mut text_bytes = 0usize;
        for split in &splits {
            reader.for_each_line(split, |line| {
                text_bytes += line.text()?.len();
                lines += 1;
                Ok::<_, InputError>(())
            })?;
        }
        report("for_each_line + text()", lines, started);

        let started = Instant::now();
        let mut lines = 0u64;
        for split in &splits {
            for line in split.lines()? {
                line?;
                lines += 1;
            }
        }
        report("lines() iterator (owned)", lines, started);
        std::hint::black_box(text_bytes);
    }
    Ok(())
}
