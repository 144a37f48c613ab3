//! flotilla: parallel and distributed computing for Rust.
//!
//! One crate to depend on. It re-exports the executors, futures and lazy
//! task graphs of the in-process engine (`flotilla-local`), the scheduling
//! vocabulary of the core (`flotilla-core`), and adds:
//!
//! * [`patterns`]: map-reduce, scatter-gather, pipelines and tree
//!   reductions, as documented functions;
//! * [`mapreduce`]: MapReduce jobs over text files as mrjob and Hadoop
//!   streaming users know them — input splits, typed jobs, a shuffle that
//!   spills to disk, shell commands as mapper and reducer;
//! * [`bag`]: `Bag<T>`, dask.bag's lazy partitioned collection;
//! * `dataframe` (feature `dataframe`, on by default): `DataFrame`,
//!   dask.dataframe's lazy partitioned table of Apache Arrow batches — CSV,
//!   Parquet and JSON read by partition, expressions, reductions,
//!   group-bys, joins, sorts;
//! * `array` (feature `array`, on by default): `Array`, dask.array's
//!   chunked n-dimensional arrays.
//!
//! # Crates
//!
//! The data frame and the array are crates of their own
//! (`flotilla-dataframe`, `flotilla-array`), re-exported here as
//! `dataframe` and `array`. What every collection shares lives in
//! `flotilla-data` and is re-exported where users meet it: [`hash`], the
//! one key hash every shuffle partitions with; [`output`], the one rule and
//! protocol of every output folder; and the input splits, as
//! [`mapreduce::split`]. The MapReduce jobs, the patterns and the bag are
//! this crate's own.
//!
//! ```
//! use flotilla::prelude::*;
//!
//! // concurrent.futures, natively:
//! let pool = CpuPool::with_threads(2)?;
//! let squares: Vec<u64> = pool.map(1..=4u64, |x| x * x).collect::<Result<_, _>>()?;
//! assert_eq!(squares, [1, 4, 9, 16]);
//!
//! // dask.delayed, natively:
//! let parts: Vec<Delayed<u64>> = (0..4).map(|i| Delayed::value(i).map(|x| x * 10)).collect();
//! let total = Delayed::gather(&parts, |xs| xs.iter().copied().sum::<u64>());
//! assert_eq!(total.compute()?, 60);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! DataFrames and arrays:
//!
//! ```
//! use flotilla::array::Array;
//! use flotilla::dataframe::{col, kernels::Agg, DataFrame};
//!
//! // dask.dataframe, natively (DataFrame::read_csv reads files the same way):
//! let weather = DataFrame::from_columns(
//!     vec![("station", vec![1i64, 2, 1].into()), ("t", vec![10.0, 20.0, 30.0].into())],
//!     2,
//! )?;
//! let f = weather.with_column("f", col("t") * 9 / 5 + 32)?;
//! assert_eq!(f.mean("f")?.compute()?, Some(68.0));
//! let per_station = weather.group_by(&["station"])?.agg(&[Agg::mean("t")])?;
//! assert_eq!(per_station.count().compute()?, 2);
//!
//! // dask.array, natively: a chunked array, reduced as a tree of tasks.
//! let x = Array::<i64>::arange(1_000, 100)?;
//! assert_eq!(x.max().compute()?, 999);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bag;

/// Registers `$f` as the task named `$name` (a helper of the registration
/// macros, `cluster_job!` and `cluster_bag!`).
#[doc(hidden)]
#[macro_export]
macro_rules! __register_task {
    ($name:expr, $f:expr) => {
        $crate::cluster::__private::inventory::submit! {
            $crate::cluster::RemoteFunction::new($name, $f)
        }
    };
}

/// The name of task `$suffix` (`"#map"`) of type `$t`: the module path
/// where the registration macro is called, and the type's name.
#[doc(hidden)]
#[macro_export]
macro_rules! __task_name {
    ($t:ty, $suffix:literal) => {
        ::core::concat!(
            ::core::module_path!(),
            "::",
            ::core::stringify!($t),
            $suffix
        )
    };
}
pub mod mapreduce;
#[cfg(feature = "cluster")]
pub mod on_cluster;
pub mod patterns;

pub use flotilla_data::{hash, output};

/// Chunked n-dimensional arrays ([`flotilla_array`]), with the `array` feature.
#[cfg(feature = "array")]
pub use flotilla_array as array;

/// Partitioned data frames of Arrow batches ([`flotilla_dataframe`]), with
/// the `dataframe` feature.
#[cfg(feature = "dataframe")]
pub use flotilla_dataframe as dataframe;

/// Scheduler, worker and client processes ([`flotilla_cluster`]), with the
/// `cluster` feature.
#[cfg(feature = "cluster")]
pub use flotilla_cluster as cluster;

/// Registers a function so that cluster workers of this binary can run it
/// (see [`cluster`]), with the `cluster` feature.
#[cfg(feature = "cluster")]
pub use flotilla_cluster::remote;

pub use flotilla_core as core;
pub use flotilla_core::trace::Trace;
pub use flotilla_core::{Placement, RunReport, TaskKey, WorkerStats};
/// Run reports drawn from traces ([`flotilla_dashboard`]).
pub use flotilla_dashboard as dashboard;
pub use flotilla_local::log;
pub use flotilla_local::{
    as_completed, fail_task, record_result_bytes, sleep, sleep_until, wait, yield_now, AsCompleted,
    Checkpoint, CheckpointError, ComputeOptions, CpuPool, CpuPoolBuilder, Delayed, Graph, Inputs,
    IoMapResults, IoPool, IoPoolBuilder, MapResults, Recorder, Scope, Sleep, TaskError, TaskFuture,
    TaskValue, WaitFor, WaitResult, Yield,
};
#[cfg(feature = "dashboard")]
pub use flotilla_local::{Dashboard, DashboardError};

/// The names most programs need, in one `use`.
///
/// ```
/// use flotilla::prelude::*;
/// let d = Delayed::value(1);
/// ```
pub mod prelude {
    pub use crate::patterns::pipeline::Pipeline;
    pub use crate::{
        as_completed, wait, ComputeOptions, CpuPool, Delayed, Graph, IoPool, Placement, TaskError,
        TaskFuture, WaitFor,
    };
}

/// The code of the README, compiled and run as a doctest so that the tour
/// stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeTour;
