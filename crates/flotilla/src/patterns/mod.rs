//! Parallel patterns as documented functions.
//!
//! Each pattern is a shape of parallel work that comes up again and again,
//! written once, on top of the in-process engine:
//!
//! | pattern | module | runs on | use it when |
//! |---|---|---|---|
//! | map-reduce | [`map_reduce`](mod@map_reduce) | tasks on a [`CpuPool`](crate::CpuPool) | records must be grouped by a key and aggregated per key |
//! | scatter-gather | [`scatter_gather`](mod@scatter_gather) | tasks on a [`CpuPool`](crate::CpuPool) | the work splits into independent pieces whose results one cheap step combines |
//! | tree reduction | [`tree_reduce`](mod@tree_reduce) | a [`Delayed`](crate::Delayed) task graph | many values fold into one with an associative operation |
//! | pipeline | [`pipeline`] | jobs on a [`CpuPool`](crate::CpuPool), bounded queues | items flow through stages, each stage working on a different item |
//!
//! # Scatter-gather or map-reduce?
//!
//! Both split data and work on the pieces in parallel; they differ in what
//! happens after.
//!
//! * **Scatter-gather** has no communication between the pieces: one task per
//!   piece, then a single *gather* step on the calling thread that sees every
//!   piece's result, in piece order. It has the lowest latency and the least
//!   overhead, and suits embarrassingly parallel work (Monte Carlo runs, a
//!   search over partitions, a partial sum per range) when combining the
//!   results is cheap. Its limit is the gather step: everything comes back
//!   to one place.
//! * **Map-reduce** adds a *shuffle*: map tasks emit `(key, value)` pairs,
//!   which are partitioned by key so that each reduce task sees every value
//!   of its keys, and the reduce work itself is spread over several tasks.
//!   It costs more (the pairs are moved and grouped) but scales with the
//!   number of distinct keys, and an optional *combiner* shrinks what is
//!   shuffled. Use it for aggregation by key: word counts, histograms,
//!   ratings per value, inverted indexes.
//! * A **tree reduction** is the right tool when the gather step of a
//!   scatter-gather would be expensive and the operation is associative: the
//!   partial results are combined in rounds, several combinations at a time,
//!   instead of all on one thread.
//!
//! # Errors
//!
//! The patterns of this module (all but [`pipeline`], which has its own
//! [`PipelineError`](pipeline::PipelineError)) return [`PatternError`]: either
//! a configuration that cannot run (zero parts, zero reducers, …), found
//! before any task starts, or the [`TaskError`] of the task that failed —
//! a panic in user code is caught and named after the task and its phase,
//! e.g. `map_reduce:map[3]`.
//!
//! ```
//! use flotilla::patterns::{scatter_gather, PatternError};
//! use flotilla::CpuPool;
//!
//! let pool = CpuPool::with_threads(2).unwrap();
//! let err = scatter_gather(&pool, vec![1, 2, 3], 0, |p: &[i32]| p.len(), |r| r).unwrap_err();
//! assert!(matches!(err, PatternError::ZeroParts));
//! ```

use flotilla_local::{panic_message, TaskError};

pub mod map_reduce;
pub mod pipeline;
pub mod scatter_gather;
pub mod tree_reduce;

pub use map_reduce::{map_reduce, MapReduce, MapReduceReport};
pub use scatter_gather::{scatter_gather, split_even};
pub use tree_reduce::{tree_reduce, tree_reduce_delayed, tree_reduce_with, DEFAULT_FAN_IN};

/// Why a pattern gave no result: a configuration that cannot run, or a task
/// that failed.
///
/// ```
/// use flotilla::patterns::{tree_reduce, PatternError};
///
/// let err = tree_reduce(vec![1, 2, 3], 1, |a: &i32, b: &i32| a + b).unwrap_err();
/// assert_eq!(err, PatternError::FanInTooSmall { fan_in: 1 });
/// assert!(err.to_string().contains("at least 2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// A scatter-gather was asked for zero parts.
    #[error("scatter-gather needs at least 1 part, got 0")]
    ZeroParts,
    /// A map-reduce was asked for zero reduce tasks.
    #[error("map-reduce needs at least 1 reducer, got 0")]
    ZeroReducers,
    /// A map-reduce was asked for map tasks of zero input records.
    #[error("map-reduce needs a chunk size of at least 1 record per map task, got 0")]
    ZeroChunkSize,
    /// A tree reduction was asked to combine fewer than two values per task,
    /// so it would never reach a single value.
    #[error("a tree reduction needs a fan-in of at least 2, got {fan_in}")]
    FanInTooSmall {
        /// The fan-in given.
        fan_in: usize,
    },
    /// A task of the pattern failed (it panicked, or a task it depends on
    /// failed); the error names the task.
    #[error(transparent)]
    Task(#[from] TaskError),
}

impl PatternError {
    /// The task error inside, when a task failed (not a configuration error).
    ///
    /// ```
    /// use flotilla::patterns::scatter_gather;
    /// use flotilla::CpuPool;
    ///
    /// let pool = CpuPool::with_threads(1).unwrap();
    /// let err = scatter_gather(&pool, vec![1, 2], 2, |p: &[i32]| -> i32 { panic!("bad part") }, |r| r)
    ///     .unwrap_err();
    /// let task = err.task_error().unwrap();
    /// assert!(task.to_string().starts_with("bad part (task "));
    /// ```
    pub fn task_error(&self) -> Option<&TaskError> {
        match self {
            PatternError::Task(e) => Some(e),
            _ => None,
        }
    }
}

/// Runs `f` under `catch_unwind`; a panic becomes [`TaskError::Panicked`]
/// naming `task` and the Rust path of `F`'s function (a `fail_task` goes on
/// to the engine, which reports it typed).
pub(crate) fn catch_panic<F, T>(
    task: impl FnOnce() -> String,
    function: &'static str,
    f: F,
) -> Result<T, TaskError>
where
    F: FnOnce() -> T,
{
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        // An unwinding without a message is the engine's own (`fail_task`,
        // `input_consumed`): passed on for the engine to read.
        if !flotilla_local::is_panic_with_message(&*payload) {
            std::panic::resume_unwind(payload)
        }
        TaskError::Panicked {
            task: task(),
            function: function.to_string(),
            message: panic_message(payload.as_ref()),
        }
    })
}
