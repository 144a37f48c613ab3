//! Whole-column statistics — count, sum, mean, min, max, variance — as tree
//! reductions of [`ColumnStats`] partials, and `describe`.
//!
//! A partition's partial is computed in two passes over its values (sum,
//! then squared deviations from the partition's mean); partials merge with
//! Chan's formula, so the variance of ten million values is as accurate as
//! a two-pass computation over all of them, whatever the partitioning.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use super::expr::field_type;
use super::portable::{Reduced, Reduction, ScalarPlan};
use super::{DataFrame, DataFrameError, Scalar};

/// Count, sum, mean, min, max and variance of a column's non-null values,
/// as numbers (`f64`); see [`DataFrame::stats`].
///
/// ```
/// use flotilla_dataframe::DataFrame;
///
/// let df = DataFrame::from_columns(vec![("x", vec![Some(1.0), None, Some(3.0)].into())], 2)?;
/// let s = df.stats("x")?.compute()?;
/// assert_eq!((s.count, s.nulls, s.sum, s.min, s.max), (2, 1, 4.0, Some(1.0), Some(3.0)));
/// assert_eq!(s.mean(), Some(2.0));
/// assert_eq!(s.var(1), Some(2.0));
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColumnStats {
    /// Non-null values.
    pub count: u64,
    /// Null values.
    pub nulls: u64,
    /// Their sum (0 for none).
    pub sum: f64,
    /// The smallest (`None` for no values).
    pub min: Option<f64>,
    /// The largest (`None` for no values).
    pub max: Option<f64>,
    /// Their mean, kept for merging (0 for none).
    mean: f64,
    /// The sum of squared deviations from the mean.
    m2: f64,
}

impl ColumnStats {
    const EMPTY: ColumnStats = ColumnStats {
        count: 0,
        nulls: 0,
        sum: 0.0,
        min: None,
        max: None,
        mean: 0.0,
        m2: 0.0,
    };

    /// The mean, `None` for no values.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 1)?;
    /// assert_eq!(df.stats("x")?.compute()?.mean(), Some(1.5));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    /// The variance with `ddof` degrees of freedom removed (1: the sample
    /// variance, as pandas and SQL; 0: the population variance, as NumPy);
    /// `None` when there are not more than `ddof` values.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1.0, 2.0, 3.0, 4.0].into())], 2)?;
    /// let s = df.stats("x")?.compute()?;
    /// assert_eq!(s.var(0), Some(1.25));
    /// assert!((s.var(1).unwrap() - 5.0 / 3.0).abs() < 1e-12);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn var(&self, ddof: u64) -> Option<f64> {
        (self.count > ddof).then(|| self.m2 / (self.count - ddof) as f64)
    }

    /// The standard deviation: the square root of [`var`](Self::var).
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![2.0, 4.0].into())], 1)?;
    /// assert_eq!(df.stats("x")?.compute()?.std(0), Some(1.0));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn std(&self, ddof: u64) -> Option<f64> {
        self.var(ddof).map(f64::sqrt)
    }

    /// The statistics of one column of values (cast to `Float64`).
    pub(super) fn of(values: &Float64Array) -> ColumnStats {
        let nulls = values.null_count() as u64;
        let (count, sum, min, max) = if nulls == 0 {
            let v = values.values();
            // Four accumulators so that the loop vectorizes.
            let mut s = [0.0f64; 4];
            let mut lo = [f64::INFINITY; 4];
            let mut hi = [f64::NEG_INFINITY; 4];
            let chunks = v.chunks_exact(4);
            let rest = chunks.remainder();
            for c in chunks {
                for k in 0..4 {
                    s[k] += c[k];
                    lo[k] = lo[k].min(c[k]);
                    hi[k] = hi[k].max(c[k]);
                }
            }
            for &x in rest {
                s[0] += x;
                lo[0] = lo[0].min(x);
                hi[0] = hi[0].max(x);
            }
            let fold = |a: [f64; 4], f: fn(f64, f64) -> f64| f(f(a[0], a[1]), f(a[2], a[3]));
            (
                v.len() as u64,
                (s[0] + s[1]) + (s[2] + s[3]),
                fold(lo, f64::min),
                fold(hi, f64::max),
            )
        } else {
            let (mut n, mut s, mut lo, mut hi) = (0u64, 0.0, f64::INFINITY, f64::NEG_INFINITY);
            for x in values.iter().flatten() {
                n += 1;
                s += x;
                lo = lo.min(x);
                hi = hi.max(x);
            }
            (n, s, lo, hi)
        };
        if count == 0 {
            return ColumnStats {
                nulls,
                ..ColumnStats::EMPTY
            };
        }
        let mean = sum / count as f64;
        let m2 = if nulls == 0 {
            let mut acc = [0.0f64; 4];
            let v = values.values();
            let chunks = v.chunks_exact(4);
            let rest = chunks.remainder();
            for c in chunks {
                for k in 0..4 {
                    let d = c[k] - mean;
                    acc[k] += d * d;
                }
            }
            rest.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>()
                + (acc[0] + acc[1])
                + (acc[2] + acc[3])
        } else {
            values
                .iter()
                .flatten()
                .map(|x| (x - mean) * (x - mean))
                .sum()
        };
        ColumnStats {
            count,
            nulls,
            sum,
            min: Some(min),
            max: Some(max),
            mean,
            m2,
        }
    }

    /// The statistics of two parts together (Chan et al.'s merge).
    pub(crate) fn merge(a: ColumnStats, b: ColumnStats) -> ColumnStats {
        if a.count == 0 || b.count == 0 {
            let (full, other) = if a.count == 0 { (b, a) } else { (a, b) };
            return ColumnStats {
                nulls: full.nulls + other.nulls,
                ..full
            };
        }
        let n = (a.count + b.count) as f64;
        let delta = b.mean - a.mean;
        let opt = |x: Option<f64>, y: Option<f64>, f: fn(f64, f64) -> f64| match (x, y) {
            (Some(x), Some(y)) => Some(f(x, y)),
            (x, y) => x.or(y),
        };
        ColumnStats {
            count: a.count + b.count,
            nulls: a.nulls + b.nulls,
            sum: a.sum + b.sum,
            min: opt(a.min, b.min, f64::min),
            max: opt(a.max, b.max, f64::max),
            mean: a.mean + delta * b.count as f64 / n,
            m2: a.m2 + b.m2 + delta * delta * a.count as f64 * b.count as f64 / n,
        }
    }
}

/// Checks that `column` exists and is numeric; its index.
pub(super) fn numeric_column(
    df: &DataFrame,
    column: &str,
    what: &str,
) -> Result<usize, DataFrameError> {
    let t = field_type(&df.schema, column)?;
    if !(t.is_integer() || t.is_floating() || t == DataType::Null) {
        return Err(DataFrameError::types(
            format!("{what} of {column:?}"),
            format!("the column holds {t}, not numbers"),
        ));
    }
    df.schema
        .index_of(column)
        .map_err(|e| DataFrameError::arrow(what.to_string(), e))
}

/// A column's values as `Float64`.
pub(super) fn as_floats(a: &ArrayRef, what: &str) -> Result<Float64Array, DataFrameError> {
    let cast = arrow_cast::cast(a, &DataType::Float64)
        .map_err(|e| DataFrameError::arrow(what.to_string(), e))?;
    cast.as_any()
        .downcast_ref::<Float64Array>()
        .cloned()
        .ok_or_else(|| DataFrameError::Internal("a cast to Float64 gave another type".into()))
}

impl Default for ColumnStats {
    /// The statistics of no values.
    ///
    /// ```
    /// let s = flotilla_dataframe::ColumnStats::default();
    /// assert_eq!((s.count, s.mean()), (0, None));
    /// ```
    fn default() -> Self {
        ColumnStats::EMPTY
    }
}

/// The statistics of column `i` (named `column`) of one partition.
pub(crate) fn column_stats(
    b: &RecordBatch,
    i: usize,
    column: &str,
) -> Result<ColumnStats, DataFrameError> {
    Ok(ColumnStats::of(&as_floats(
        b.column(i),
        &format!("stats of {column:?}"),
    )?))
}

impl DataFrame {
    /// Count, nulls, sum, mean, min, max and variance of a numeric column,
    /// in one pass (a tree reduction over the partitions).
    ///
    /// ```
    /// use flotilla_dataframe::DataFrame;
    /// let df = DataFrame::from_columns(vec![("t", vec![-5.0, 10.0, 25.0].into())], 3)?;
    /// let s = df.stats("t")?.compute()?;
    /// assert_eq!((s.count, s.sum, s.max), (3, 30.0, Some(25.0)));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::ColumnNotFound`], or [`DataFrameError::Type`] for a
    /// column that does not hold numbers — before any work.
    pub fn stats(&self, column: &str) -> Result<Scalar<ColumnStats>, DataFrameError> {
        let i = numeric_column(self, column, "stats")?;
        let name = column.to_string();
        let plan = self.portable.clone().map(|frame| {
            ScalarPlan::new(frame, Reduction::Stats(column.to_string()), |r| match r {
                Reduced::Stats(s) => Ok(s),
                other => Err(DataFrameError::Internal(format!(
                    "stats reduced to {other:?}"
                ))),
            })
        });
        Ok(self
            .reduction(
                "stats",
                move |b| column_stats(&b, i, &name),
                |parts| {
                    Ok(parts
                        .into_iter()
                        .fold(ColumnStats::EMPTY, ColumnStats::merge))
                },
            )
            .with_plan(plan))
    }

    /// The sum of a numeric column's non-null values (`None` if it has
    /// none, as in SQL), as `f64` — like [`mean`](DataFrame::mean), and
    /// unlike [`min`](DataFrame::min) and [`max`](DataFrame::max), which
    /// pick one of the column's values and keep its type: a sum is
    /// computed, and an `f64` sum of integers cannot overflow (it is exact
    /// up to 2^53).
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
    /// assert_eq!(df.sum("x")?.compute()?, Some(6.0));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`stats`](DataFrame::stats).
    pub fn sum(&self, column: &str) -> Result<Scalar<Option<f64>>, DataFrameError> {
        Ok(self.stats(column)?.map(|s| (s.count > 0).then_some(s.sum)))
    }

    /// The mean of a numeric column's non-null values.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 2)?;
    /// assert_eq!(df.mean("x")?.compute()?, Some(1.5));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`stats`](DataFrame::stats).
    pub fn mean(&self, column: &str) -> Result<Scalar<Option<f64>>, DataFrameError> {
        Ok(self.stats(column)?.map(|s| s.mean()))
    }

    /// The sample variance (ddof = 1, as pandas) of a numeric column.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1.0, 3.0].into())], 2)?;
    /// assert_eq!(df.var("x")?.compute()?, Some(2.0));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`stats`](DataFrame::stats).
    pub fn var(&self, column: &str) -> Result<Scalar<Option<f64>>, DataFrameError> {
        Ok(self.stats(column)?.map(|s| s.var(1)))
    }

    /// The sample standard deviation (ddof = 1, as pandas) of a column.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1.0, 3.0].into())], 2)?;
    /// assert_eq!(df.std("x")?.compute()?, Some(2f64.sqrt()));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`stats`](DataFrame::stats).
    pub fn std(&self, column: &str) -> Result<Scalar<Option<f64>>, DataFrameError> {
        Ok(self.stats(column)?.map(|s| s.std(1)))
    }

    /// Summary statistics of every numeric column, like pandas' `describe`:
    /// a `statistic` column (`count`, `nulls`, `mean`, `std`, `min`, `max`)
    /// and one `Float64` column per numeric column, all in one pass.
    ///
    /// ```
    /// use flotilla_dataframe::DataFrame;
    /// let df = DataFrame::from_columns(
    ///     vec![("a", vec![1i64, 2, 3].into()), ("name", vec!["x", "y", "z"].into())],
    ///     2,
    /// )?;
    /// let d = df.describe()?.compute()?;
    /// assert_eq!(d.num_rows(), 6);
    /// assert_eq!(d.schema().field(1).name(), "a");
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::Invalid`] for a frame without numeric columns.
    pub fn describe(&self) -> Result<Scalar<RecordBatch>, DataFrameError> {
        let numeric: Vec<(usize, String)> = self
            .schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.data_type().is_integer() || f.data_type().is_floating())
            .map(|(i, f)| (i, f.name().clone()))
            .collect();
        if numeric.is_empty() {
            return Err(DataFrameError::Invalid(format!(
                "describe: no numeric columns among {}",
                self.column_names().join(", ")
            )));
        }
        let indices: Vec<usize> = numeric.iter().map(|(i, _)| *i).collect();
        let names: Vec<String> = numeric.into_iter().map(|(_, n)| n).collect();
        let per_column = self.reduction(
            "describe",
            move |b| {
                indices
                    .iter()
                    .map(|&i| as_floats(b.column(i), "describe").map(|v| ColumnStats::of(&v)))
                    .collect::<Result<Vec<_>, _>>()
            },
            |parts| {
                let mut it = parts.into_iter();
                let first = it.next().unwrap_or_default();
                Ok(it.fold(first, |acc, p| {
                    acc.into_iter()
                        .zip(p)
                        .map(|(a, b)| ColumnStats::merge(a, b))
                        .collect()
                }))
            },
        );
        Ok(per_column.map(move |stats| describe_batch(&names, &stats)))
    }
}

/// The `describe` table of `stats`, one column per name.
fn describe_batch(names: &[String], stats: &[ColumnStats]) -> RecordBatch {
    let labels = ["count", "nulls", "mean", "std", "min", "max"];
    let mut fields = vec![Field::new("statistic", DataType::Utf8, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(labels.to_vec()))];
    for (name, s) in names.iter().zip(stats) {
        fields.push(Field::new(name, DataType::Float64, true));
        let values = vec![
            Some(s.count as f64),
            Some(s.nulls as f64),
            s.mean(),
            s.std(1),
            s.min,
            s.max,
        ];
        columns.push(Arc::new(Float64Array::from(values)));
    }
    // The columns are built to match the fields, so this cannot fail; an
    // empty table stands in if it ever did.
    RecordBatch::try_new(Arc::new(Schema::new(fields.clone())), columns)
        .unwrap_or_else(|_| RecordBatch::new_empty(Arc::new(Schema::new(fields))))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn merged_partials_equal_one_pass_whatever_the_split() {
        let values: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1000) as f64 / 7.0 - 50.0)
            .collect();
        let whole = ColumnStats::of(&Float64Array::from(values.clone()));
        for parts in [1, 2, 3, 7, 64, 1000] {
            let size = values.len().div_ceil(parts);
            let merged = values
                .chunks(size)
                .map(|c| ColumnStats::of(&Float64Array::from(c.to_vec())))
                .fold(ColumnStats::EMPTY, ColumnStats::merge);
            assert_eq!(merged.count, 1000);
            assert!((merged.sum - whole.sum).abs() < 1e-9);
            assert!((merged.var(1).unwrap() - whole.var(1).unwrap()).abs() < 1e-9);
            assert_eq!((merged.min, merged.max), (whole.min, whole.max));
        }
        let naive_mean = values.iter().sum::<f64>() / 1000.0;
        let naive_var = values.iter().map(|x| (x - naive_mean).powi(2)).sum::<f64>() / 999.0;
        assert!((whole.var(1).unwrap() - naive_var).abs() < 1e-9);
    }

    #[test]
    fn nulls_are_skipped_and_all_null_is_none() {
        let s = ColumnStats::of(&Float64Array::from(vec![None, Some(2.0), None]));
        assert_eq!((s.count, s.nulls, s.mean()), (1, 2, Some(2.0)));
        let none = ColumnStats::of(&Float64Array::from(vec![None, None]));
        assert_eq!(
            (none.count, none.min, none.mean(), none.var(0)),
            (0, None, None, None)
        );
        let merged = ColumnStats::merge(none, s);
        assert_eq!((merged.count, merged.nulls, merged.min), (1, 4, Some(2.0)));
    }
}
