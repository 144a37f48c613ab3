//! [`DataFrameError`]: what can go wrong with a [`DataFrame`](super::DataFrame).

use std::sync::Arc;

use arrow_schema::ArrowError;
pub(crate) use flotilla_data::task_errors::settle;
use flotilla_data::task_errors::CollectionError;
use flotilla_local::TaskError;

/// An error of a [`DataFrame`](super::DataFrame) operation.
///
/// Errors in how a frame is built (an unknown column, an operation on a
/// column of the wrong type) are returned by the operation itself, before
/// any task is scheduled. Errors in the data (a value that does not parse)
/// and panics in user closures come back from `compute`, naming where.
///
/// ```
/// use flotilla_dataframe::{col, DataFrame, DataFrameError};
///
/// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
/// let err = df.with_column("y", col("nope") + 1).unwrap_err();
/// assert!(matches!(err, DataFrameError::ColumnNotFound { .. }));
/// assert!(err.to_string().contains("nope"));
/// # Ok::<(), DataFrameError>(())
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DataFrameError {
    /// A column that the frame does not have.
    #[error("no column {name:?} (the columns are: {available})")]
    ColumnNotFound {
        /// The name asked for.
        name: String,
        /// The frame's columns, comma-separated.
        available: String,
    },
    /// An operation on values of a type it does not take.
    #[error("{operation}: {message}")]
    Type {
        /// The operation, e.g. `"sum of \"name\""` or `"col(\"a\") + lit(\"x\")"`.
        operation: String,
        /// What was wrong, naming the types.
        message: String,
    },
    /// An argument that makes no sense (zero partitions, a duplicate column...).
    #[error("{0}")]
    Invalid(String),
    /// An Arrow kernel failed on the data (an integer overflow, a division
    /// by zero, a cast that does not fit).
    #[error("{context}: {source}")]
    Arrow {
        /// What was being computed.
        context: String,
        /// Arrow's error.
        source: Arc<ArrowError>,
    },
    /// A per-partition kernel (group-by, join, partitioning) refused its
    /// input, naming the column or type.
    #[error(transparent)]
    Kernel(#[from] super::kernels::KernelError),
    /// Reading or writing files failed, or the data in them is malformed
    /// (naming file, line and column). A file that could not be read or
    /// written fails its task, which is retried as many times as the
    /// computation's `ComputeOptions::retries` allows; malformed data is
    /// the same on every attempt and is not retried.
    #[error(transparent)]
    Io(Arc<super::io::IoError>),
    /// A task failed: a panic in user code (the message names the task and
    /// the panic's message), or a task whose input failed.
    #[error(transparent)]
    Task(TaskError),
    /// An operation that runs in-process only was asked for its portable
    /// form (to run on a cluster): a Rust closure (`map_partitions`,
    /// `Expr::map`), which a worker process cannot receive, or an operation
    /// that has no cluster form (a sort, a repartition, a persisted frame,
    /// Parquet and JSON sources, `describe`).
    #[error("{operation} runs in-process only: it has no form that a cluster worker can run")]
    LocalOnly {
        /// The operation, e.g. `"map_partitions with a Rust closure"`.
        operation: String,
    },
    /// An invariant of the frame's own graph was broken (a bug in flotilla).
    #[error("internal error in a DataFrame's task graph: {0}")]
    Internal(String),
}

impl From<TaskError> for DataFrameError {
    /// A task's error; one the frame's own task ended with (a file that
    /// could not be read or written: see [`settle`]) comes back as that
    /// [`DataFrameError`].
    fn from(e: TaskError) -> DataFrameError {
        match e.failed_with::<DataFrameError>() {
            Some(frame) => frame.clone(),
            None => DataFrameError::Task(e),
        }
    }
}

impl CollectionError for DataFrameError {
    /// A file that could not be listed, read or written; a value that does
    /// not parse, a corrupt gzip stream, or a kernel that refuses its
    /// input, is an error of the data and stays a value.
    fn is_environmental(&self) -> bool {
        match self {
            DataFrameError::Io(e) => match &**e {
                super::io::IoError::Input(input) => input.is_environmental(),
                super::io::IoError::Io { .. } | super::io::IoError::Output(_) => true,
                _ => false,
            },
            _ => false,
        }
    }
}

impl DataFrameError {
    /// Wraps an Arrow error with what was being computed.
    pub(crate) fn arrow(context: impl Into<String>, source: ArrowError) -> DataFrameError {
        DataFrameError::Arrow {
            context: context.into(),
            source: Arc::new(source),
        }
    }

    /// An operation on the wrong types.
    pub(crate) fn types(operation: impl Into<String>, message: impl Into<String>) -> Self {
        DataFrameError::Type {
            operation: operation.into(),
            message: message.into(),
        }
    }
}

impl From<super::io::IoError> for DataFrameError {
    fn from(e: super::io::IoError) -> Self {
        DataFrameError::Io(Arc::new(e))
    }
}

impl flotilla_data::shuffle::InternalError for DataFrameError {
    fn internal(message: &str) -> Self {
        DataFrameError::Internal(message.to_string())
    }
}

#[cfg(test)]
mod test {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use flotilla_local::{ComputeOptions, CpuPool, Delayed};

    use super::*;
    use crate::io::IoError;

    fn unreadable() -> DataFrameError {
        DataFrameError::from(IoError::io(
            "weather.csv",
            std::io::Error::other("disk gone"),
        ))
    }

    #[test]
    fn an_error_of_the_machine_fails_the_task_and_comes_back_typed() {
        let pool = CpuPool::with_threads(1).unwrap();
        let options = ComputeOptions::new().pool(&pool).progress(false);
        let read = Delayed::from_fn(|| settle::<u64, _>(Err(unreadable())));
        let err = DataFrameError::from(read.map(|r| r.is_ok()).compute_with(&options).unwrap_err());
        assert!(
            matches!(&err, DataFrameError::Io(e) if matches!(**e, IoError::Io { .. })),
            "{err:?}"
        );
        assert!(err.to_string().contains("weather.csv"), "{err}");

        // A failure the scheduler sees: retried.
        let tries = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&tries);
        let flaky = Delayed::from_fn(move || {
            let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
            settle(if first { Err(unreadable()) } else { Ok(5u64) })
        });
        let got = flaky.retries(1).compute_with(&options).unwrap();
        assert_eq!(got.unwrap(), 5);
        assert_eq!(tries.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn an_error_of_the_data_stays_a_value() {
        let bad = DataFrameError::Invalid("zero partitions".into());
        assert!(matches!(
            settle::<u8, _>(Err(bad)),
            Err(DataFrameError::Invalid(_))
        ));
    }
}
