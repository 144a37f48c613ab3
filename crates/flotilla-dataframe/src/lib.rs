//! The partitioned [`DataFrame`] — flotilla's `dask.dataframe`, on Apache
//! Arrow.
//!
//! # Design
//!
//! A frame is a list of partitions, each an Arrow [`RecordBatch`], and each
//! a node of a task graph ([`Delayed`](flotilla_local::Delayed)) — so the
//! scheduler that runs task graphs runs frames, in-process today and on a
//! cluster unchanged. Partitions read from files are read *inside* the task that
//! uses them and released when it ends: a frame larger than memory is
//! aggregated with only a few partitions alive at a time.
//!
//! Operations are of three kinds:
//!
//! - **Per-partition steps** ([`select`](DataFrame::select),
//!   [`with_column`](DataFrame::with_column), [`filter`](DataFrame::filter),
//!   [`map_partitions`](DataFrame::map_partitions)) extend a pipeline that
//!   runs, fused, in the task that reads each partition. Expressions
//!   ([`Expr`]: [`col`], [`lit`], arithmetic, comparisons, Rust closures)
//!   are evaluated with arrow-rs kernels.
//! - **Reductions** ([`count`](DataFrame::count), [`stats`](DataFrame::stats),
//!   [`sum`](DataFrame::sum), [`describe`](DataFrame::describe), group-bys)
//!   are trees: one partial per partition, combined
//!   [`split_every`](DataFrame::split_every) at a time, never by gathering
//!   every partition onto one thread. They return a lazy [`Scalar`].
//! - **Shuffles** (shuffled group-bys and joins, sorts, repartitions) move
//!   rows between partitions by key.
//!
//! Building an operation checks it against the schema: an unknown column, a
//! filter that is not boolean, arithmetic on strings are errors before any
//! task runs. Errors in the data come back from `compute`, naming where.
//!
//! [`kernels`] holds what arrow-rs lacks (hash group-by and hash join in
//! partial/final form, hash partitioning); [`io`] reads and writes CSV,
//! Parquet and JSON lines by partition.
//!
//! # Where it sits
//!
//! This crate is the DataFrame alone, as `flotilla-array` is the Array. What
//! it shares with the other collections comes from `flotilla-data`: the
//! input splits its CSV and JSON-lines sources read, the key hash its
//! shuffles partition with, the tree of slots its reductions fold up, the
//! panic sites of its fused steps, and the output committer its writers
//! commit through ([`io::OutputDir`]). Its tasks run on `flotilla-local`.
//! Programs usually reach it as `flotilla::dataframe`, the `dataframe`
//! feature of `flotilla` (on by default).
//!
//! ```
//! use flotilla_dataframe::{col, DataFrame};
//!
//! let df = DataFrame::from_columns(
//!     vec![("station", vec![1i64, 2, 1].into()), ("t", vec![10.0, 20.0, 30.0].into())],
//!     2,
//! )?;
//! let f = df.with_column("f", col("t") * 9 / 5 + 32)?;
//! assert_eq!(f.mean("f")?.compute()?, Some(68.0));
//! # Ok::<(), flotilla_dataframe::DataFrameError>(())
//! ```

mod access;
mod error;
mod expr;
mod files;
mod frame;
mod group;
mod join;
mod kept;
mod scalar;
mod sort;
mod stats;
mod value;

pub mod io;
pub mod kernels;
pub mod portable;

/// The arrow-rs crates that frames are made of, re-exported so that a
/// program can build and read partitions without depending on them itself.
///
/// ```
/// use std::sync::Arc;
/// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
/// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
/// let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2]))])?;
/// assert_eq!(batch.num_rows(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod arrow {
    pub use arrow_array as array;
    pub use arrow_buffer as buffer;
    pub use arrow_cast as cast;
    pub use arrow_schema as schema;
    pub use arrow_select as select;
}

pub use access::{batch_column, ColumnValue};
pub use arrow_array::RecordBatch;
pub use error::DataFrameError;
pub use expr::{col, lit, Expr, Literal};
pub use frame::{Column, DataFrame, DEFAULT_SPLIT_EVERY};
pub use group::GroupedFrame;
pub use join::{JoinOptions, JoinStrategy};
pub use scalar::Scalar;
pub use sort::SortKey;
pub use stats::ColumnStats;
pub use value::Value;
