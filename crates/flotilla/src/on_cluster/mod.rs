//! Collections on a cluster: the same DataFrame, Array or Bag computation,
//! run by the worker processes of a scheduler instead of this process's
//! threads, with the same result.
//!
//! # DataFrames
//!
//! ```text
//!  DataFrame ──plan()──► FramePlan ──lowering──► tasks of the scheduler ──► workers
//!  (in-process graph)    (data: CSV splits,      (read + steps fused,       (the same kernels,
//!                         steps, group-bys,       partials, merges,          Arrow IPC between
//!                         joins)                  shuffles by key)           workers)
//! ```
//!
//! Every [`DataFrame`] keeps its lineage as data beside its in-process task
//! graph ([`flotilla_dataframe::portable`]). [`ComputeOnCluster::compute_on`]
//! lowers that plan to tasks of a [`Client`]'s scheduler — the one
//! scheduler core that runs task graphs, MapReduce jobs and bags:
//!
//! * a partition read from CSV is read by the task that consumes it, on
//!   the worker it runs on (the path must be one every worker can read),
//!   with its per-partition steps fused into that task;
//! * reductions (`count`, `sum`, `mean`, `stats`...) compute one partial
//!   per partition on the workers and combine the partials here;
//! * a group-by is a tree of partial aggregates merged on the workers
//!   (`split_out(1)`, the default), or a shuffle of the partials by key
//!   into `split_out` partitions;
//! * a join broadcasts a one-partition right side to the tasks of the
//!   left one, or shuffles both sides by key; pieces of a shuffle stay in
//!   the store of the worker that cut them (spilled to its disk past its
//!   memory limit) until the reducers fetch them, worker to worker.
//!
//! Partitions travel as Arrow IPC streams. A worker that dies loses the
//! partitions and pieces it held; the scheduler computes them again from
//! their lineage, and the result is that of a run without the fault.
//!
//! Operations that hold Rust closures (`map_partitions`, `Expr::map`) or
//! have no cluster form here (sorts, repartitions, `persist`, Parquet and
//! JSON sources, `describe`) make `compute_on` fail with
//! [`DataFrameError::LocalOnly`], naming the operation; such frames run
//! in-process.
//!
//! # Arrays
//!
//! An array made of generators (`random`, `arange`, `full`, `zeros`,
//! `ones`) and named element-wise operations keeps its lineage as data
//! too ([`flotilla_array::portable`]). Its whole-array `sum`, `mean`, `min`
//! and `max` run one task per block on the workers — each rebuilds the
//! array from the plan and makes, transforms and reduces only its block,
//! fused as in-process — and the blocks' values are combined here. Arrays
//! with closures (`map`, `zip_with`) or from data (`from_ndarray`) fail
//! with [`ArrayError::LocalOnly`].
//!
//! ```
//! use flotilla::array::Array;
//! use flotilla::on_cluster::ComputeOnCluster;
//!
//! let client = flotilla::cluster::Client::in_process(2)?;
//! let x = (Array::random(&[400, 400], [100, 100], 7)? * 2.0).sqrt();
//! let (here, there) = (x.mean().compute()?, x.mean().compute_on(&client)?);
//! assert!((here - there).abs() < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Bags
//!
//! A bag's steps are closures, so a bag on a cluster is a pipeline type
//! registered with [`cluster_bag!`](crate::cluster_bag) ([`BagPipeline`]:
//! `lines -> Bag<Item>`), run by [`RemoteBag`] one input split per task:
//! each worker builds the in-process bag of its split, applies the
//! pipeline and computes it; `frequencies` merges per-split counts on the
//! workers through a shuffle by key.
//!
//! # Checkpoints
//!
//! A checkpointed frame ([`DataFrame::checkpoint`]) computes each of its
//! partitions in a task of its own whose result the worker keeps in the
//! checkpoint folder, under a key naming the frame's plan (sources, steps,
//! group-bys, joins), the size and modification time of every file it
//! reads, and the partition's number; run again with every partition
//! kept, the partitions are read back and nothing before them runs.
//! [`RemoteBag::checkpoint`] keeps each split's task result, named by the
//! pipeline, the split and its file. A checkpointed array
//! ([`Array::checkpoint`](flotilla_array::Array::checkpoint)) travels in
//! its plan: each worker rebuilding it keeps and reads the blocks it
//! computes under the keys the in-process array uses, so either reads what
//! the other kept. The folder must be one every worker reaches. A
//! checkpoint of partitions persisted on a cluster (they have no name that
//! outlives them) runs in-process only ([`DataFrameError::LocalOnly`] on a
//! cluster).
//!
//! # DataFrames, in code
//!
//! ```
//! use flotilla::cluster::Client;
//! use flotilla::dataframe::{col, kernels::Agg, DataFrame};
//! use flotilla::on_cluster::ComputeOnCluster;
//!
//! let client = Client::in_process(2)?;
//! let weather = DataFrame::from_columns(
//!     vec![("station", vec![1i64, 2, 1].into()), ("t", vec![10.0, 20.0, 30.0].into())],
//!     2,
//! )?;
//! let f = weather.with_column("f", col("t") * 9 / 5 + 32)?;
//! assert_eq!(f.mean("f")?.compute_on(&client)?, Some(68.0));
//! let per_station = weather.group_by(&["station"])?.agg(&[Agg::mean("t")])?;
//! assert_eq!(per_station.compute_on(&client)?.num_rows(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "array")]
mod array;
mod bag;
#[cfg(feature = "dataframe")]
mod frame;

#[doc(hidden)]
pub use bag::__bag;
pub use bag::{BagPipeline, ClusterBag, ClusterFrequencies, RemoteBag};
#[cfg(feature = "array")]
use flotilla_array::ArrayError;

use crate::bag::BagError;
use flotilla_cluster::{Client, ClusterError};
#[cfg(feature = "dataframe")]
use flotilla_dataframe::{DataFrame, DataFrameError};

/// How many times a task of a collection on a cluster is tried again
/// after it fails (a worker that dies is not a failure of its tasks: they
/// are computed again elsewhere).
const RETRIES: u32 = 1;

/// What can go wrong computing a frame on a cluster.
///
/// ```
/// use flotilla::dataframe::{DataFrame, DataFrameError};
/// use flotilla::on_cluster::{ComputeOnCluster, OnClusterError};
///
/// let client = flotilla::cluster::Client::in_process(1)?;
/// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 2)?;
/// let mapped = df.map_partitions(Ok)?;
/// let err = mapped.compute_on(&client).unwrap_err();
/// assert!(matches!(err, OnClusterError::Frame(DataFrameError::LocalOnly { .. })));
/// assert!(err.to_string().contains("map_partitions"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnClusterError {
    /// The frame has no cluster form ([`DataFrameError::LocalOnly`]), or
    /// combining the partials here failed.
    #[cfg(feature = "dataframe")]
    #[error(transparent)]
    Frame(#[from] DataFrameError),
    /// The array has no cluster form ([`ArrayError::LocalOnly`]), or
    /// combining the blocks' values here failed.
    #[cfg(feature = "array")]
    #[error(transparent)]
    Array(#[from] ArrayError),
    /// A bag's input could not be planned here (no such file, a pattern
    /// matching nothing).
    #[error(transparent)]
    Bag(#[from] BagError),
    /// A task failed for good (bad data names its file, line and column;
    /// the message names the task and the worker), or the cluster went
    /// away.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Computing a lazy frame or scalar on a cluster: the same value as its
/// `compute()` in-process.
///
/// ```
/// use flotilla::dataframe::DataFrame;
/// use flotilla::on_cluster::ComputeOnCluster;
///
/// let client = flotilla::cluster::Client::in_process(2)?;
/// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 3)?;
/// assert_eq!(df.count().compute_on(&client)?, df.count().compute()?);
/// assert_eq!(df.compute_on(&client)?, df.compute()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ComputeOnCluster {
    /// What computing gives: a [`RecordBatch`](crate::dataframe::RecordBatch) for a frame, the value for
    /// a scalar.
    type Output;

    /// Computes on the workers of `client`'s scheduler.
    ///
    /// # Errors
    ///
    /// [`OnClusterError::Frame`] for a frame without a cluster form (before
    /// any task is submitted), [`OnClusterError::Cluster`] for a task that
    /// failed for good or a cluster that went away.
    ///
    /// ```
    /// use flotilla::dataframe::DataFrame;
    /// use flotilla::on_cluster::ComputeOnCluster;
    ///
    /// let client = flotilla::cluster::Client::in_process(1)?;
    /// let df = DataFrame::from_columns(vec![("x", vec![2.0, 4.0].into())], 2)?;
    /// assert_eq!(df.mean("x")?.compute_on(&client)?, Some(3.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn compute_on(&self, client: &Client) -> Result<Self::Output, OnClusterError>;
}

/// Keeping a frame's partitions in the memory of a cluster's workers —
/// dask's `persist` on a distributed client.
///
/// ```
/// use flotilla::dataframe::DataFrame;
/// use flotilla::on_cluster::{ComputeOnCluster, PersistOnCluster};
///
/// let client = flotilla::cluster::Client::in_process(2)?;
/// let df = DataFrame::from_columns(vec![("x", vec![1.0, 2.0, 6.0].into())], 3)?;
/// let kept = df.persist_on(&client)?;
/// assert_eq!(kept.mean("x")?.compute_on(&client)?, Some(3.0));
/// assert_eq!(kept.count().compute()?, 3); // in-process too, fetching them
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "dataframe")]
pub trait PersistOnCluster {
    /// The same frame, its partitions computed once by the workers of
    /// `client`'s scheduler and kept in their stores (spilled to their
    /// disks past their memory limits) for as long as the returned frame
    /// or a frame made from it lives. Later computations on `client`
    /// start from them; one in-process fetches them. A worker that dies
    /// loses its partitions, which are computed again from their lineage.
    ///
    /// Returns at once: the partitions are computed in the background.
    ///
    /// # Errors
    ///
    /// As [`ComputeOnCluster::compute_on`], for what can be known before
    /// the tasks run.
    ///
    /// ```
    /// use flotilla::dataframe::{col, DataFrame};
    /// use flotilla::on_cluster::{ComputeOnCluster, PersistOnCluster};
    ///
    /// let client = flotilla::cluster::Client::in_process(1)?;
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 5].into())], 2)?;
    /// let big = df.filter(col("x").gt(2))?.persist_on(&client)?;
    /// assert_eq!(big.count().compute_on(&client)?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn persist_on(&self, client: &Client) -> Result<DataFrame, OnClusterError>;
}
