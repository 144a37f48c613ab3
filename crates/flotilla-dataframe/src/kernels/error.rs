//! [`KernelError`]: why a kernel refused a plan or a batch.
//!
//! Plans ([`GroupBy::new`](super::GroupBy::new), [`join_schema`](super::join_schema),
//! [`JoinTable::build`](super::JoinTable::build)) check every column name and
//! type before any row is touched, so that a mistake in a query fails at once,
//! naming the column and its type, not after minutes of work on a cluster.

use std::sync::Arc;

use arrow_schema::{ArrowError, DataType};

use super::AggFunc;

/// Why a kernel refused a plan or a batch.
///
/// One variant per cause; each names the column (and its type) involved.
///
/// ```
/// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
/// use flotilla_dataframe::kernels::{Agg, GroupBy, KernelError};
///
/// let schema = Schema::new(vec![
///     Field::new("station", DataType::Utf8, false),
///     Field::new("temperature", DataType::Float64, true),
/// ]);
/// let err = GroupBy::new(&schema, &["station"], &[Agg::mean("station")]).unwrap_err();
/// assert!(matches!(err, KernelError::NotNumeric { .. }));
/// assert_eq!(
///     err.to_string(),
///     "mean needs a numeric column, but `station` has type Utf8"
/// );
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// A column named in a plan, or needed from a batch, does not exist.
    #[error("no column `{column}` for {role} (columns: {})", available.join(", "))]
    UnknownColumn {
        /// The missing name.
        column: String,
        /// What the column was wanted for: `"group-by key"`, `"aggregate"`,
        /// `"left join key"`, `"partition key"`, ...
        role: &'static str,
        /// The columns there are.
        available: Vec<String>,
    },
    /// A column has another type in a batch than in the schema the plan was
    /// built against.
    #[error("column `{column}` has type {found} in this batch, but the plan expects {expected}")]
    ColumnType {
        /// The column.
        column: String,
        /// The type the plan was built for.
        expected: DataType,
        /// The type found in the batch.
        found: DataType,
    },
    /// Sum, mean, var and std need an integer or floating-point column.
    #[error("{func} needs a numeric column, but `{column}` has type {data_type}")]
    NotNumeric {
        /// The column.
        column: String,
        /// Its type.
        data_type: DataType,
        /// The aggregate asked for.
        func: AggFunc,
    },
    /// Min and max need numbers, dates and times, or strings and binary.
    #[error("{func} needs an ordered column (numbers, dates, times, strings), but `{column}` has type {data_type}")]
    NotOrderable {
        /// The column.
        column: String,
        /// Its type.
        data_type: DataType,
        /// The aggregate asked for.
        func: AggFunc,
    },
    /// The column cannot serve as a group-by, join or partition key.
    #[error("column `{column}` of type {data_type} cannot be a key")]
    UnsupportedKeyType {
        /// The column.
        column: String,
        /// Its type.
        data_type: DataType,
    },
    /// The same key column was named twice in a group-by.
    #[error("key column `{column}` is named twice")]
    DuplicateKey {
        /// The column.
        column: String,
    },
    /// Two output columns of a group-by would have the same name (two
    /// aggregates, or an aggregate and a key): give one an alias.
    #[error("two output columns would be named `{name}`: give one an alias")]
    DuplicateOutput {
        /// The name.
        name: String,
    },
    /// A group-by with neither keys nor aggregates computes nothing.
    #[error("a group-by needs at least one key or one aggregate")]
    EmptyGroupBy,
    /// A join or a hash partitioning was asked for without key columns.
    #[error("{op} needs at least one key column")]
    NoKeys {
        /// `"join"` or `"hash partitioning"`.
        op: &'static str,
    },
    /// The two sides of a join name different numbers of key columns.
    #[error("the left side of the join has {left} key columns, the right side {right}")]
    KeyCountMismatch {
        /// Number of left keys.
        left: usize,
        /// Number of right keys.
        right: usize,
    },
    /// Paired join keys have different types.
    #[error(
        "join keys differ in type: left `{left_column}` is {left_type}, right `{right_column}` is {right_type}"
    )]
    KeyTypeMismatch {
        /// The left key column.
        left_column: String,
        /// Its type.
        left_type: DataType,
        /// The right key column.
        right_column: String,
        /// Its type.
        right_type: DataType,
    },
    /// A batch given to [`GroupBy::merge`](super::GroupBy::merge) or
    /// [`GroupBy::finish`](super::GroupBy::finish) is not a partial of that
    /// plan (its columns differ from [`GroupBy::partial_schema`](super::GroupBy::partial_schema)).
    #[error("not a partial of this group-by: {detail}")]
    NotAPartial {
        /// What differs.
        detail: String,
    },
    /// Hash partitioning into zero partitions.
    #[error("cannot hash-partition into 0 partitions")]
    ZeroPartitions,
    /// A batch or a join result has more rows than the kernels index
    /// (`u32::MAX`, or `i32::MAX` rows on the build side of
    /// [`JoinTable::probe_dictionary`](super::JoinTable::probe_dictionary)).
    #[error("{op}: {rows} rows is more than the {limit} rows one batch may hold here")]
    TooManyRows {
        /// What was being done.
        op: &'static str,
        /// How many rows there would have been.
        rows: u64,
        /// The limit.
        limit: u64,
    },
    /// An Arrow kernel (take, concat, row conversion) failed.
    #[error("{op}: {source}")]
    Arrow {
        /// What was being done.
        op: &'static str,
        /// Arrow's error (shared, so that the error is `Clone`).
        source: Arc<ArrowError>,
    },
    /// An invariant of the kernels was broken (a bug in flotilla).
    #[error("internal error in a dataframe kernel: {0}")]
    Internal(String),
}

impl KernelError {
    pub(super) fn arrow(op: &'static str) -> impl FnOnce(ArrowError) -> KernelError {
        move |source| KernelError::Arrow {
            op,
            source: Arc::new(source),
        }
    }

    pub(super) fn unknown(column: &str, role: &'static str, schema: &arrow_schema::Schema) -> Self {
        KernelError::UnknownColumn {
            column: column.to_owned(),
            role,
            available: schema.fields().iter().map(|f| f.name().clone()).collect(),
        }
    }
}
