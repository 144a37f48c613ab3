//! Reading and writing partitions: CSV, Parquet, JSON lines.
//!
//! A `DataFrame` partition is an Arrow [`RecordBatch`](crate::RecordBatch)
//! made by one task. This module holds what those tasks run, and the
//! planning that comes **before** any task runs:
//!
//! * a *source* — [`CsvSource`], [`JsonSource`], [`ParquetSource`] — is
//!   planned once, on the client: the inputs (files, folders, globs; see
//!   [`plan_splits`](flotilla_data::split::plan_splits)) are listed, the
//!   headers of every file read and compared, the schema inferred from the
//!   first rows and rows spread across each file (or given), the projection
//!   and type overrides checked. Every mistake of that kind is an error
//!   *now*, naming the files involved, not a failed task later. The plan is cheap to clone (`Arc` inside) and
//!   `Send + Sync`: every task holds it and calls `read_partition(i)`;
//! * an [`OutputDir`] is the writing side: each task writes its own part
//!   (`part-00007.csv`, `.parquet`, `.jsonl`, with [`WriteArrowParts`])
//!   under `_temporary/`, and one
//!   [`commit`](OutputDir::commit) after the last task moves the parts into
//!   place and writes `_SUCCESS` last, as Hadoop's `FileOutputCommitter`
//!   does. A failed or aborted write leaves no `_SUCCESS` and no part.
//!
//! ```text
//!  plan (client)                       tasks (any thread, any worker)
//!  ─────────────                       ──────────────────────────────
//!  CsvSource::plan(inputs, options)    source.read_partition(0) ─► RecordBatch ─► out.write_csv_part(0, &b)
//!    list files, cut byte ranges       source.read_partition(1) ─► RecordBatch ─► out.write_csv_part(1, &b)
//!    read every header, compare        ...
//!    infer types from sampled rows     out.commit()  (after the last task): parts in place, _SUCCESS last
//! ```
//!
//! # CSV and JSON lines: one partition per byte range
//!
//! Text inputs are cut into byte ranges ([`InputSplit`]s) like MapReduce
//! input: a record belongs to the range in which its line starts, and a
//! gzip file is one range. A partition reads its range in one block
//! ([`InputSplit::read_block`]) and parses it in memory. The CSV parser has
//! two paths over the same column builders:
//!
//! * **no quote in the block** (the common case for machine-written data):
//!   one pass over the bytes that splits fields and parses numbers in the
//!   same loop — an integer is accumulated digit by digit, a decimal number
//!   with at most 19 digits and 22 decimals is computed exactly as
//!   `mantissa / 10^decimals` (both exact in `f64`, so the one division is
//!   correctly rounded). Anything else (an exponent, a long mantissa, an
//!   empty or odd field) goes to the general parser of that column, which
//!   uses the standard library's correctly rounded `f64` parser;
//! * **quotes in the block**: an RFC 4180 tokenizer (delimiters and line
//!   breaks inside quotes, `""` for a quote), feeding the same builders, so
//!   types, nulls and errors are the same on both paths.
//!
//! Errors name the file, the line (absolute in the file, counted only when
//! an error happens, with [`line_number_at`]), the column by name and
//! 1-based position, and show the value.
//!
//! **Out of scope, as in Dask:** a quoted field holding a line break that
//! falls on a partition boundary. The partition that starts inside the
//! quoted field misreads it (usually as an error naming the line). Files
//! with such fields should be read with a `partition_bytes` larger than the
//! file, one partition per file.
//!
//! # Parquet: one partition per row group
//!
//! [`ParquetSource`] reads every file's footer when planning (schemas
//! compared across files), and a partition is one row group, read with the
//! footer kept from planning.
//!
//! [`InputSplit`]: flotilla_data::split::InputSplit
//! [`InputSplit::read_block`]: flotilla_data::split::InputSplit::read_block
//! [`line_number_at`]: flotilla_data::split::line_number_at

mod csv;
mod error;
mod json;
mod output;
mod parquet;
mod partition_size;

pub use self::csv::{BadRecords, CsvOptions, CsvSource, ReadStats, DEFAULT_NULL_VALUES};
pub use self::error::IoError;
pub use self::json::{JsonOptions, JsonSource};
pub use self::output::{
    CsvWriteOptions, OutputDir, ParquetCompression, ParquetWriteOptions, WriteArrowParts,
};
pub use self::parquet::{ParquetOptions, ParquetSource};
