//! Group-by aggregations over a whole frame: a tree of partial
//! aggregations, or a shuffle of the partials for many groups.
//!
//! Every partition is aggregated on its own ([`GroupBy::partial`]: one row
//! per group of that partition, holding counts, sums, minima...). With the
//! default `split_out(1)` the partials are merged as a tree,
//! `split_every` at a time, and the root is finished into one partition —
//! cheap when the groups are few (stations, genres, ratings). With
//! `split_out(n)` every partial is hash-partitioned by key into `n` pieces
//! and reducer `j` merges the `j`-th pieces: no task ever holds all the
//! groups, for keys with millions of values (dask's `split_out`).

use super::portable::{FramePlan, GroupSpec};
use std::sync::Arc;

use arrow_array::RecordBatch;
use flotilla_local::Delayed;

use super::frame::{key_group, Partition};
use super::kernels::{hash_partition, Agg, GroupBy};
use super::{DataFrame, DataFrameError};
use flotilla_data::shuffle::reducers;
use flotilla_data::tree::{tree, Combine};

/// A frame grouped by key columns, waiting for its aggregations; made by
/// [`DataFrame::group_by`].
///
/// ```
/// use flotilla_dataframe::{kernels::Agg, DataFrame};
///
/// let df = DataFrame::from_columns(
///     vec![("station", vec![1i64, 2, 1, 2].into()), ("t", vec![10.0, 20.0, 30.0, 50.0].into())],
///     2,
/// )?;
/// let means = df.group_by(&["station"])?.agg(&[Agg::mean("t"), Agg::count("t")])?;
/// let out = means.sort_by(&["station".into()])?.compute()?;
/// assert_eq!(out.num_rows(), 2);
/// assert_eq!(out.schema().field(1).name(), "t_mean");
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[derive(Debug, Clone)]
pub struct GroupedFrame {
    frame: DataFrame,
    keys: Vec<String>,
    split_out: usize,
}

impl DataFrame {
    /// The frame grouped by `keys` (rows with equal values in every key
    /// column form a group; null keys form a group of their own, as in
    /// Polars and SQL's `GROUP BY`).
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("k", vec![1i64, 1, 2].into())], 2)?;
    /// let counts = df.group_by(&["k"])?.count()?.compute()?;
    /// assert_eq!(counts.num_rows(), 2);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::ColumnNotFound`] for a key the frame lacks, or
    /// [`DataFrameError::Invalid`] for no keys.
    pub fn group_by(&self, keys: &[&str]) -> Result<GroupedFrame, DataFrameError> {
        if keys.is_empty() {
            return Err(DataFrameError::Invalid(
                "group_by needs at least one key column".into(),
            ));
        }
        for k in keys {
            super::expr::field_type(&self.schema, k)?;
        }
        Ok(GroupedFrame {
            frame: self.clone(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            split_out: 1,
        })
    }

    /// How many times each value of `column` occurs: columns `column` and
    /// `count`, most frequent first (ties in value order), like pandas'
    /// `value_counts`.
    ///
    /// ```
    /// use flotilla_dataframe::arrow::array::Int64Array;
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("r", vec![3i64, 4, 4, 5, 4].into())], 2)?;
    /// let vc = df.value_counts("r")?.compute()?;
    /// let r = vc.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    /// assert_eq!(r.value(0), 4);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::ColumnNotFound`] before any work.
    pub fn value_counts(&self, column: &str) -> Result<DataFrame, DataFrameError> {
        // Null values are dropped, as pandas' `value_counts()` does.
        let values = self.filter(super::col(column).is_not_null())?;
        let counts = values.group_by(&[column])?.count()?;
        counts.sort_by(&[
            super::SortKey::new("count").descending(),
            super::SortKey::new(column),
        ])
    }
}

impl GroupedFrame {
    /// Aggregates in `partitions` output partitions, shuffling the partial
    /// aggregates by key instead of merging them as a tree: for keys with
    /// so many values that one task should not hold them all.
    ///
    /// ```
    /// use flotilla_dataframe::{kernels::Agg, DataFrame};
    /// let df = DataFrame::from_columns(vec![("k", (0..1000i64).collect::<Vec<_>>().into())], 4)?;
    /// let out = df.group_by(&["k"])?.split_out(3).agg(&[Agg::count("k")])?;
    /// assert_eq!(out.num_partitions(), 3);
    /// assert_eq!(out.count().compute()?, 1000);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn split_out(mut self, partitions: usize) -> GroupedFrame {
        self.split_out = partitions.max(1);
        self
    }

    /// One row per group: the key columns, then one column per aggregation
    /// (named by [`Agg::output_name`]).
    ///
    /// ```
    /// use flotilla_dataframe::{kernels::Agg, DataFrame};
    /// let df = DataFrame::from_columns(
    ///     vec![("g", vec!["a", "b", "a"].into()), ("x", vec![1.0, 2.0, 5.0].into())],
    ///     2,
    /// )?;
    /// let out = df.group_by(&["g"])?.agg(&[Agg::sum("x"), Agg::max("x").alias("top")])?;
    /// assert_eq!(out.column_names(), ["g", "x_sum", "top"]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// An unknown column, or an aggregation that the column's type does not
    /// allow (the sum of strings) — before any work.
    pub fn agg(&self, aggs: &[Agg]) -> Result<DataFrame, DataFrameError> {
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        let plan = Arc::new(GroupBy::new(&self.frame.schema, &keys, aggs)?);
        let schema = plan.output_schema();
        let frame = &self.frame;
        let label = format!("{}|group_by", frame.label);
        let inputs = if self.split_out == 1 {
            vec![tree_aggregate(frame, &plan)]
        } else {
            shuffled_aggregate(frame, &plan, self.split_out)
        };
        let mut out = DataFrame::new(schema, inputs, &label);
        out.settings = frame.settings.clone();
        out.portable = frame.portable.clone().map(|input| {
            Arc::new(FramePlan::GroupBy {
                input,
                group: GroupSpec::new(frame.schema(), &keys, aggs),
                split_out: self.split_out,
                split_every: frame.settings.split_every,
            })
        });
        Ok(out)
    }

    /// The number of rows of each group, in a column `count`.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("k", vec![1i64, 1, 2].into())], 2)?;
    /// assert_eq!(df.group_by(&["k"])?.count()?.column_names(), ["k", "count"]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`agg`](GroupedFrame::agg).
    pub fn count(&self) -> Result<DataFrame, DataFrameError> {
        // Every row counts, null values or not: count a constant column.
        const ROWS: &str = "__flotilla_rows";
        let with_rows = GroupedFrame {
            frame: self.frame.with_column(ROWS, super::lit(1))?,
            ..self.clone()
        };
        with_rows.agg(&[Agg::count(ROWS).alias("count")])
    }

    /// The sum of each of `columns` per group.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(
    ///     vec![("k", vec![1i64, 1, 2].into()), ("x", vec![1i64, 2, 3].into())], 2)?;
    /// assert_eq!(df.group_by(&["k"])?.sum(&["x"])?.column_names(), ["k", "x_sum"]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`agg`](GroupedFrame::agg).
    pub fn sum(&self, columns: &[&str]) -> Result<DataFrame, DataFrameError> {
        self.agg(&columns.iter().map(|c| Agg::sum(*c)).collect::<Vec<_>>())
    }

    /// The mean of each of `columns` per group.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(
    ///     vec![("k", vec![1i64, 1, 2].into()), ("x", vec![1i64, 2, 3].into())], 2)?;
    /// assert_eq!(df.group_by(&["k"])?.mean(&["x"])?.column_names(), ["k", "x_mean"]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`agg`](GroupedFrame::agg).
    pub fn mean(&self, columns: &[&str]) -> Result<DataFrame, DataFrameError> {
        self.agg(&columns.iter().map(|c| Agg::mean(*c)).collect::<Vec<_>>())
    }
}

/// Partials per partition, merged as a tree, finished at the root.
fn tree_aggregate(frame: &DataFrame, plan: &Arc<GroupBy>) -> Delayed<Partition> {
    let partial_plan = Arc::clone(plan);
    let leaves = frame.partition_tasks("group_by-partial", move |b| Ok(partial_plan.partial(&b)?));
    let merge_plan = Arc::clone(plan);
    let combine: Combine<RecordBatch, DataFrameError> =
        Arc::new(move |parts: Vec<RecordBatch>| Ok(merge_plan.merge(&parts)?));
    let key = key_group(&format!("{}|group_by-merge", frame.label));
    let finish_plan = Arc::clone(plan);
    let empty_plan = Arc::clone(plan);
    let finish = move |merged: &Result<RecordBatch, DataFrameError>| {
        let done = merged
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|partial| Ok(finish_plan.finish(partial)?));
        Partition::from_result(done)
    };
    match tree(leaves, frame.settings.split_every, &key, &combine) {
        Some(root) => root
            .map(finish)
            .named_op(key_group(&format!("{}|group_by", frame.label))),
        None => Delayed::from_fn(move || {
            Partition::from_result(Ok(RecordBatch::new_empty(empty_plan.output_schema())))
        }),
    }
}

/// Partials per partition, hash-partitioned by key; reducer `j` merges
/// and finishes the `j`-th pieces.
fn shuffled_aggregate(frame: &DataFrame, plan: &Arc<GroupBy>, n: usize) -> Vec<Delayed<Partition>> {
    let partial_plan = Arc::clone(plan);
    let pieces = frame.partition_pieces("group_by-partial", move |b| {
        let partial = partial_plan.partial(&b)?;
        let keys: Vec<&str> = partial_plan.keys().iter().map(String::as_str).collect();
        Ok(hash_partition(&partial, &keys, n)?)
    });
    let key = key_group(&format!("{}|group_by-reduce", frame.label));
    let plan = Arc::clone(plan);
    reducers(&pieces, n, &key, move |_, parts| {
        Partition::from_result(parts.and_then(|parts| {
            let merged = plan.merge(&parts)?;
            Ok(plan.finish(&merged)?)
        }))
    })
}
