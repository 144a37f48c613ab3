//! [`Value`]: one value of a numeric column, in the column's own kind —
//! what [`DataFrame::min`] and [`DataFrame::max`] return — and those two
//! reductions.
//!
//! A minimum or maximum is one of the column's values, so it keeps the
//! column's kind: an integer stays an exact integer (an `f64` would round
//! integers past 2^53). A mean, a variance or a sum is computed, not
//! picked, and is an `f64` (see [`DataFrame::stats`]).

use std::fmt;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt64Type};
use arrow_array::ArrayRef;
use arrow_schema::DataType;

use super::stats::{as_floats, numeric_column, ColumnStats};
use super::{DataFrame, DataFrameError, Scalar};

/// One value of a numeric column: signed integers of every width as
/// `Int64`, unsigned ones as `UInt64`, floats as `Float64`.
///
/// ```
/// use flotilla_dataframe::{DataFrame, Value};
///
/// let df = DataFrame::from_columns(vec![("n", vec![3i64, 9, -2].into())], 2)?;
/// let max = df.max("n")?.compute()?;
/// assert_eq!(max, Some(Value::Int64(9)));
/// assert_eq!(max.and_then(|v| v.as_i64()), Some(9));
/// assert_eq!(max.map(|v| v.to_string()).as_deref(), Some("9"));
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A signed integer (`Int8` to `Int64` columns).
    Int64(i64),
    /// An unsigned integer (`UInt8` to `UInt64` columns).
    UInt64(u64),
    /// A floating-point number (`Float16` to `Float64` columns).
    Float64(f64),
}

impl Value {
    /// The value as an `i64`: an integer that fits, else `None` (a float
    /// is not converted).
    ///
    /// ```
    /// use flotilla_dataframe::Value;
    /// assert_eq!(Value::UInt64(7).as_i64(), Some(7));
    /// assert_eq!(Value::UInt64(u64::MAX).as_i64(), None);
    /// assert_eq!(Value::Float64(1.0).as_i64(), None);
    /// ```
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Value::Int64(v) => Some(v),
            Value::UInt64(v) => i64::try_from(v).ok(),
            Value::Float64(_) => None,
        }
    }

    /// The value as an `f64` (an integer past 2^53 is rounded).
    ///
    /// ```
    /// use flotilla_dataframe::Value;
    /// assert_eq!(Value::Int64(-3).as_f64(), Some(-3.0));
    /// assert_eq!(Value::Float64(2.5).as_f64(), Some(2.5));
    /// ```
    pub fn as_f64(self) -> Option<f64> {
        Some(match self {
            Value::Int64(v) => v as f64,
            Value::UInt64(v) => v as f64,
            Value::Float64(v) => v,
        })
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int64(v) => write!(f, "{v}"),
            Value::UInt64(v) => write!(f, "{v}"),
            Value::Float64(v) => write!(f, "{v}"),
        }
    }
}

/// Which end of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Min,
    Max,
}

impl End {
    fn name(self) -> &'static str {
        match self {
            End::Min => "min",
            End::Max => "max",
        }
    }

    /// The one of `a` and `b` this end keeps.
    fn pick(self, a: Value, b: Value) -> Value {
        let first = match (a, b) {
            (Value::Int64(x), Value::Int64(y)) => (x <= y) == (self == End::Min),
            (Value::UInt64(x), Value::UInt64(y)) => (x <= y) == (self == End::Min),
            (Value::Float64(x), Value::Float64(y)) => {
                return Value::Float64(match self {
                    End::Min => x.min(y),
                    End::Max => x.max(y),
                })
            }
            // One column gives one kind of value.
            _ => true,
        };
        if first {
            a
        } else {
            b
        }
    }

    /// This end of one partition's values, `None` for no values.
    fn of(self, a: &ArrayRef, what: &str) -> Result<Option<Value>, DataFrameError> {
        let t = a.data_type();
        let cast = |to: &DataType| {
            arrow_cast::cast(a, to).map_err(|e| DataFrameError::arrow(what.to_string(), e))
        };
        Ok(if t.is_signed_integer() {
            let v = cast(&DataType::Int64)?;
            let v = v.as_primitive::<Int64Type>();
            match self {
                End::Min => arrow_arith::aggregate::min(v),
                End::Max => arrow_arith::aggregate::max(v),
            }
            .map(Value::Int64)
        } else if t.is_unsigned_integer() {
            let v = cast(&DataType::UInt64)?;
            let v = v.as_primitive::<UInt64Type>();
            match self {
                End::Min => arrow_arith::aggregate::min(v),
                End::Max => arrow_arith::aggregate::max(v),
            }
            .map(Value::UInt64)
        } else {
            // Floats as `stats` sees them: NaN is skipped.
            let s = ColumnStats::of(&as_floats(a, what)?);
            match self {
                End::Min => s.min,
                End::Max => s.max,
            }
            .map(Value::Float64)
        })
    }
}

impl DataFrame {
    /// The smallest non-null value of a numeric column, in the column's
    /// kind ([`Value::Int64`] for an integer column, exact).
    ///
    /// ```
    /// use flotilla_dataframe::{DataFrame, Value};
    /// let df = DataFrame::from_columns(vec![("x", vec![3i64, -2].into())], 2)?;
    /// assert_eq!(df.min("x")?.compute()?, Some(Value::Int64(-2)));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`stats`](DataFrame::stats).
    pub fn min(&self, column: &str) -> Result<Scalar<Option<Value>>, DataFrameError> {
        self.end_of(column, End::Min)
    }

    /// The largest non-null value of a numeric column, in the column's
    /// kind ([`Value::Float64`] for a float column).
    ///
    /// ```
    /// use flotilla_dataframe::{DataFrame, Value};
    /// let df = DataFrame::from_columns(vec![("t", vec![Some(2.5), None, Some(-1.0)].into())], 2)?;
    /// assert_eq!(df.max("t")?.compute()?, Some(Value::Float64(2.5)));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`stats`](DataFrame::stats).
    pub fn max(&self, column: &str) -> Result<Scalar<Option<Value>>, DataFrameError> {
        self.end_of(column, End::Max)
    }

    fn end_of(&self, column: &str, end: End) -> Result<Scalar<Option<Value>>, DataFrameError> {
        let i = numeric_column(self, column, end.name())?;
        let what = format!("{} of {column:?}", end.name());
        Ok(self.reduction(
            end.name(),
            move |b| end.of(b.column(i), &what),
            move |parts| Ok(parts.into_iter().flatten().reduce(|a, b| end.pick(a, b))),
        ))
    }
}
