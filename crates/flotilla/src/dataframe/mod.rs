//! The partitioned `DataFrame` — flotilla's `dask.dataframe`, on Apache Arrow.
//!
//! (Being built: see issue 4.) Each partition is an Arrow `RecordBatch`;
//! [`kernels`] holds what arrow-rs lacks (hash group-by and hash join in
//! partial/final form, hash partitioning), [`io`] reads and writes CSV,
//! Parquet and JSON lines by partition.

pub mod io;
pub mod kernels;
