//! [`DataFrameError`]: what can go wrong with a [`DataFrame`](super::DataFrame).

use std::sync::Arc;

use arrow_schema::ArrowError;
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
    /// (naming file, line and column).
    #[error(transparent)]
    Io(Arc<super::io::IoError>),
    /// A task failed: a panic in user code (the message names the task and
    /// the panic's message), or a task whose input failed.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// An invariant of the frame's own graph was broken (a bug in flotilla).
    #[error("internal error in a DataFrame's task graph: {0}")]
    Internal(String),
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

impl flotilla_data::slot::InternalError for DataFrameError {
    fn internal(message: &str) -> Self {
        DataFrameError::Internal(message.to_string())
    }
}
