//! `flotilla gen`: the generator of the benchmark data sets.
//!
//! Five data sets, each one `flotilla gen` kind: MovieLens-
//! like `ratings`, `weather` readings, Zipf-distributed `text`, the `items`
//! genre table and the `skew` task-duration lists. Every system under test —
//! flotilla and its peers — reads the very files written here, so the output
//! must be a pure function of the kind, the size and the seed.
//!
//! # Design
//!
//! * **Blocks.** The large data sets (ratings, weather, text) are cut into
//!   fixed blocks of [`BLOCK_ROWS`] rows or [`TEXT_BLOCK_LINES`] lines. Block
//!   `b` draws all its values from its own random stream,
//!   `Rng::stream(seed, b)`, and from nothing else.
//! * **Determinism.** Because a block depends only on `(seed, b)` and blocks
//!   are written in index order, the bytes do not depend on the number of
//!   threads nor on which thread made which block. As a bonus, a smaller data
//!   set is always an exact prefix of a larger one with the same seed (the
//!   last, partial block simply stops early in its stream).
//! * **Parallelism with bounded memory.** [`blocks`] runs one worker per
//!   available core; workers take the next block index, render the block as
//!   text into a byte buffer, and hand it to the calling thread, which writes
//!   the blocks in order through a `BufWriter`. At most two blocks per worker
//!   are in flight, so memory stays at a few tens of MB whatever the file
//!   size.
//! * **Speed.** Values are formatted by hand ([`decimal`]) into the block
//!   buffer, with no `format!` per value. Integer draws use the generator's
//!   unbiased `range_inclusive`, and the temperature is drawn as an integer
//!   number of micro-degrees, which is both exact and cheap to print.
//! * **Safety of the output.** Each file is written as `PATH.tmp` and renamed
//!   to `PATH` only once complete ([`output`]), so a failed or interrupted run
//!   never leaves a truncated file under the final name.
//!
//! The small data sets (items, skew) are made by one thread from stream 0 of
//! their seed.
//!
//! The data sets are flotilla's own: another generator with the same
//! distributions and formats (numpy's, say) writes other bytes.

mod blocks;
mod decimal;
mod output;
mod skew;
mod tables;
#[cfg(test)]
mod test;
mod text;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;

pub(crate) use skew::skew_durations;

/// Rows per block of the ratings and weather data sets: the unit of
/// parallel work and of random streams (block `b` uses
/// `Rng::stream(seed, b)`). Part of the data definition: changing it changes
/// the bytes.
pub(crate) const BLOCK_ROWS: u64 = 100_000;

/// Lines per block of the text data set (see [`BLOCK_ROWS`]).
pub(crate) const TEXT_BLOCK_LINES: usize = 10_000;

/// Number of tasks in every skew shape.
pub(crate) const SKEW_TASKS: usize = 200;

/// The data sets that `flotilla gen` can write.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataKind {
    /// MovieLens u.data format: `user_id\titem_id\trating\ttimestamp`.
    Ratings,
    /// CSV `station_id,temperature`, temperatures with 6 decimals.
    Weather,
    /// Lines of 12 Zipf(1.1)-distributed lowercase words.
    Text,
    /// CSV `item_id,genre` for the 1682 MovieLens items.
    Items,
    /// Task durations in milliseconds, one per line.
    Skew,
}

impl DataKind {
    /// The seed used when `--seed` is not given.
    pub(crate) fn default_seed(self) -> u64 {
        match self {
            DataKind::Ratings => 20_240_501,
            DataKind::Weather => 20_240_502,
            DataKind::Text => 20_240_503,
            DataKind::Items => 20_240_504,
            DataKind::Skew => 7,
        }
    }

    /// What one record of this data set is called in reports.
    fn unit(self) -> &'static str {
        match self {
            DataKind::Ratings | DataKind::Weather | DataKind::Items => "rows",
            DataKind::Text => "lines",
            DataKind::Skew => "tasks",
        }
    }
}

/// The shapes of the `skew` data set, each one a case where some static
/// partitioning strategy fails.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum SkewShape {
    /// Heavy tail: min(1500, 5·(1 + Lomax(1.1))) ms.
    #[default]
    Heavy,
    /// Task i lasts 0.1·i ms: work grows along the list.
    Ramp,
    /// 20 ms at even positions, 1 ms at odd ones.
    Periodic,
}

/// Command-line arguments of `flotilla gen`.
#[derive(clap::Args, Debug)]
pub(crate) struct GenArgs {
    /// Which data set to write.
    #[arg(value_enum)]
    pub(crate) kind: DataKind,
    /// Number of rows (ratings, weather).
    #[arg(long, default_value_t = 10_000_000)]
    pub(crate) rows: u64,
    /// Size limit in MB = 10^6 bytes, fractions allowed (text); the file is
    /// cut at a line boundary.
    #[arg(long, default_value_t = 100.0)]
    pub(crate) mb: f64,
    /// Random seed [default: ratings 20240501, weather 20240502, text
    /// 20240503, items 20240504, skew 7].
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Shape of the skew durations (skew).
    #[arg(long, value_enum, default_value_t = SkewShape::Heavy)]
    pub(crate) shape: SkewShape,
    /// File to write; parent directories are created.
    #[arg(long)]
    pub(crate) output: PathBuf,
}

/// What a generator wrote: the size of the file and the number of records
/// (rows or lines, not counting a CSV header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    /// Size of the file in bytes.
    pub(crate) bytes: u64,
    /// Number of records (data rows, text lines or tasks).
    pub(crate) records: u64,
}

/// The outcome of [`run_gen`], printed by `main` to stderr, e.g.
/// `wrote data/ratings.tsv: 10,000,000 rows, 202 MB in 1.3 s`.
#[derive(Debug, Clone)]
pub(crate) struct GenReport {
    /// The file written.
    pub(crate) path: PathBuf,
    /// The data set written.
    pub(crate) kind: DataKind,
    /// Size and record count.
    pub(crate) written: Written,
    /// Wall-clock time taken, in seconds.
    pub(crate) seconds: f64,
}

impl fmt::Display for GenReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {}: {} {}, ",
            self.path.display(),
            thousands(self.written.records),
            self.kind.unit()
        )?;
        let bytes = self.written.bytes;
        if bytes >= 10_000_000 {
            write!(f, "{} MB", (bytes as f64 / 1e6).round())?;
        } else if bytes >= 1_000_000 {
            write!(f, "{:.1} MB", bytes as f64 / 1e6)?;
        } else {
            write!(f, "{} bytes", thousands(bytes))?;
        }
        write!(f, " in {:.1} s", self.seconds)
    }
}

/// Formats `n` with commas between groups of three digits (`10,000,000`).
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs `flotilla gen`: writes the data set `args` describe and reports what
/// was written.
pub(crate) fn run_gen(args: &GenArgs) -> anyhow::Result<GenReport> {
    let seed = args.seed.unwrap_or(args.kind.default_seed());
    let path = args.output.as_path();
    let start = Instant::now();
    let written = match args.kind {
        DataKind::Ratings => write_ratings(path, args.rows, seed),
        DataKind::Weather => write_weather(path, args.rows, seed),
        DataKind::Text => write_text(path, mb_to_bytes(args.mb)?, seed),
        DataKind::Items => write_items(path, seed),
        DataKind::Skew => write_skew(path, args.shape, seed),
    }?;
    Ok(GenReport {
        path: args.output.clone(),
        kind: args.kind,
        written,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Converts a `--mb` value to bytes (10^6 bytes per MB, rounded to the
/// nearest byte), refusing negative or non-finite values.
fn mb_to_bytes(mb: f64) -> anyhow::Result<u64> {
    if !mb.is_finite() || mb < 0.0 {
        bail!("--mb must be a non-negative number, not {mb}");
    }
    Ok((mb * 1e6).round() as u64)
}

/// The number of worker threads used by the public `write_*` functions.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Writes `rows` ratings rows (`user_id\titem_id\trating\ttimestamp\n`, no
/// header) to `path`, in parallel on all cores.
pub(crate) fn write_ratings(path: &Path, rows: u64, seed: u64) -> io::Result<Written> {
    tables::write_ratings(path, rows, seed, default_threads())
}

/// Writes the weather CSV (header `station_id,temperature`, then `rows`
/// rows) to `path`, in parallel on all cores.
pub(crate) fn write_weather(path: &Path, rows: u64, seed: u64) -> io::Result<Written> {
    tables::write_weather(path, rows, seed, default_threads())
}

/// Writes at most `max_bytes` bytes of Zipf text (whole lines only) to
/// `path`, in parallel on all cores.
pub(crate) fn write_text(path: &Path, max_bytes: u64, seed: u64) -> io::Result<Written> {
    text::write_text(path, max_bytes, seed, default_threads())
}

/// Writes the items CSV (header `item_id,genre`, items 1..=1682) to `path`.
pub(crate) fn write_items(path: &Path, seed: u64) -> io::Result<Written> {
    tables::write_items(path, seed)
}

/// Writes the [`SKEW_TASKS`] durations of `shape` (see [`skew_durations`]) to
/// `path`, one number of milliseconds per line.
pub(crate) fn write_skew(path: &Path, shape: SkewShape, seed: u64) -> io::Result<Written> {
    skew::write_skew(path, shape, seed)
}
