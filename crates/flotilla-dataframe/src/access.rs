//! Reading the values of one column of a result as plain Rust values —
//! [`batch_column`], [`DataFrame::collect_column`] — without downcasting
//! Arrow arrays by hand.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

use super::expr::not_found;
use super::{DataFrame, DataFrameError};

/// A Rust type that a column's values can be read as: `i64` (from any
/// signed integer column), `f64` (from a float column), `bool`, `String`
/// and `&str` (from a text column).
///
/// ```
/// use flotilla_dataframe::{batch_column, DataFrame};
///
/// let df = DataFrame::from_columns(vec![("ok", vec![true, false].into())], 1)?;
/// let ok: Vec<Option<bool>> = batch_column(&df.compute()?, "ok")?;
/// assert_eq!(ok, [Some(true), Some(false)]);
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
pub trait ColumnValue<'a>: Sized {
    /// What the type is called in errors (`"i64"`).
    const NAME: &'static str;

    /// The values of `array`, or `None` when its type cannot be read as
    /// `Self`.
    fn values(array: &'a dyn Array) -> Option<Vec<Option<Self>>>;
}

impl ColumnValue<'_> for i64 {
    const NAME: &'static str = "i64";

    fn values(array: &dyn Array) -> Option<Vec<Option<i64>>> {
        Some(match array.data_type() {
            DataType::Int64 => array.as_primitive::<Int64Type>().iter().collect(),
            DataType::Int32 => widen(array.as_primitive::<Int32Type>().iter()),
            DataType::Int16 => widen(array.as_primitive::<Int16Type>().iter()),
            DataType::Int8 => widen(array.as_primitive::<Int8Type>().iter()),
            _ => return None,
        })
    }
}

impl ColumnValue<'_> for f64 {
    const NAME: &'static str = "f64";

    fn values(array: &dyn Array) -> Option<Vec<Option<f64>>> {
        Some(match array.data_type() {
            DataType::Float64 => array.as_primitive::<Float64Type>().iter().collect(),
            DataType::Float32 => widen(array.as_primitive::<Float32Type>().iter()),
            _ => return None,
        })
    }
}

impl ColumnValue<'_> for bool {
    const NAME: &'static str = "bool";

    fn values(array: &dyn Array) -> Option<Vec<Option<bool>>> {
        array.as_boolean_opt().map(|a| a.iter().collect())
    }
}

impl<'a> ColumnValue<'a> for &'a str {
    const NAME: &'static str = "&str";

    fn values(array: &'a dyn Array) -> Option<Vec<Option<&'a str>>> {
        Some(match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().iter().collect(),
            DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
            DataType::Utf8View => array.as_string_view().iter().collect(),
            _ => return None,
        })
    }
}

impl ColumnValue<'_> for String {
    const NAME: &'static str = "String";

    fn values(array: &dyn Array) -> Option<Vec<Option<String>>> {
        <&str>::values(array).map(|v| v.into_iter().map(|s| s.map(str::to_owned)).collect())
    }
}

fn widen<T: Into<U>, U>(values: impl Iterator<Item = Option<T>>) -> Vec<Option<U>> {
    values.map(|v| v.map(Into::into)).collect()
}

/// The values of column `name` of `batch` (the result of a `compute`), as
/// `T`, nulls as `None`.
///
/// ```
/// use flotilla_dataframe::{batch_column, DataFrame};
///
/// let df = DataFrame::from_columns(
///     vec![("station", vec![1i64, 2].into()), ("name", vec!["Oslo", "Lima"].into())],
///     2,
/// )?;
/// let batch = df.compute()?;
/// let stations: Vec<Option<i64>> = batch_column(&batch, "station")?;
/// let names: Vec<Option<&str>> = batch_column(&batch, "name")?;
/// assert_eq!((stations, names), (vec![Some(1), Some(2)], vec![Some("Oslo"), Some("Lima")]));
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
///
/// # Errors
///
/// [`DataFrameError::ColumnNotFound`], or [`DataFrameError::Type`] naming
/// the column and its type when it cannot be read as `T`.
pub fn batch_column<'a, T: ColumnValue<'a>>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<Vec<Option<T>>, DataFrameError> {
    let schema = batch.schema_ref();
    let i = schema.index_of(name).map_err(|_| not_found(schema, name))?;
    let array = batch.column(i);
    T::values(array.as_ref()).ok_or_else(|| {
        DataFrameError::types(
            format!("reading column {name:?}"),
            format!(
                "the column holds {}, which cannot be read as {}",
                array.data_type(),
                T::NAME
            ),
        )
    })
}

impl DataFrame {
    /// Computes the frame and returns the values of column `name` as `T`,
    /// partition after partition, nulls as `None`.
    ///
    /// ```
    /// use flotilla_dataframe::{col, DataFrame};
    ///
    /// let df = DataFrame::from_columns(vec![("t", vec![10.0, 20.0].into())], 2)?;
    /// let f = df.with_column("f", col("t") * 9 / 5 + 32)?;
    /// assert_eq!(f.collect_column::<f64>("f")?, [Some(50.0), Some(68.0)]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`batch_column`], checked before any work; and the errors of
    /// [`compute`](DataFrame::compute).
    pub fn collect_column<T>(&self, name: &str) -> Result<Vec<Option<T>>, DataFrameError>
    where
        T: for<'a> ColumnValue<'a>,
    {
        // Check the name and type on an empty batch before computing.
        let empty = RecordBatch::new_empty(self.schema());
        batch_column::<T>(&empty, name)?;
        let only = self.select(&[name])?;
        let batch = only.compute()?;
        batch_column::<T>(&batch, name)
    }
}
