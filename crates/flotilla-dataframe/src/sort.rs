//! Sorting a frame by columns, and repartitioning it.
//!
//! A sort is a range shuffle, as in Dask and Spark: every partition is put
//! through its pipeline once (kept in memory), a sample of its sort keys
//! is taken, the samples choose `n - 1` boundaries, every partition is cut
//! at the boundaries, and output partition `j` concatenates the `j`-th
//! pieces and sorts them. Keys are compared as `arrow-row` rows, so
//! several columns, descending order and nulls first or last cost the
//! same as one ascending column.

use std::sync::Arc;

use arrow_array::{RecordBatch, UInt32Array};
use arrow_row::{OwnedRow, RowConverter, SortField};
use arrow_schema::SortOptions;
use flotilla_local::Delayed;

use super::expr::not_found;
use super::frame::{key_group, pieces_of, Partition, Pieces};
use super::{DataFrame, DataFrameError};
use flotilla_data::shuffle::reducers;

/// How many keys each partition contributes to the sample that chooses the
/// boundaries of a sort.
const SAMPLE_PER_PARTITION: usize = 256;

/// A column to sort by, and how.
///
/// ```
/// use flotilla_dataframe::SortKey;
/// let by_time_desc = SortKey::new("time").descending();
/// let nulls_last = SortKey::new("score").nulls_last();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    column: String,
    options: SortOptions,
}

impl SortKey {
    /// Ascending, nulls first (Arrow's default).
    ///
    /// ```
    /// let k = flotilla_dataframe::SortKey::new("id");
    /// ```
    pub fn new(column: impl Into<String>) -> SortKey {
        SortKey {
            column: column.into(),
            options: SortOptions::default(),
        }
    }

    /// Largest first.
    ///
    /// ```
    /// let k = flotilla_dataframe::SortKey::new("id").descending();
    /// ```
    pub fn descending(mut self) -> SortKey {
        self.options.descending = true;
        self
    }

    /// Nulls after every value.
    ///
    /// ```
    /// let k = flotilla_dataframe::SortKey::new("id").nulls_last();
    /// ```
    pub fn nulls_last(mut self) -> SortKey {
        self.options.nulls_first = false;
        self
    }
}

impl From<&str> for SortKey {
    fn from(c: &str) -> SortKey {
        SortKey::new(c)
    }
}

/// The sort columns' indices and a converter of their values to rows.
#[derive(Clone)]
struct Keys {
    indices: Vec<usize>,
    converter: Arc<RowConverter>,
}

impl Keys {
    fn rows(&self, b: &RecordBatch) -> Result<arrow_row::Rows, DataFrameError> {
        let columns: Vec<_> = self
            .indices
            .iter()
            .map(|&i| Arc::clone(b.column(i)))
            .collect();
        self.converter
            .convert_columns(&columns)
            .map_err(|e| DataFrameError::arrow("sort keys", e))
    }
}

/// `b` sorted by its key rows.
fn sort_batch(b: &RecordBatch, keys: &Keys) -> Result<RecordBatch, DataFrameError> {
    let rows = keys.rows(b)?;
    let mut order: Vec<u32> = (0..b.num_rows() as u32).collect();
    order.sort_by(|&x, &y| rows.row(x as usize).cmp(&rows.row(y as usize)));
    take(b, &UInt32Array::from(order))
}

fn take(b: &RecordBatch, indices: &UInt32Array) -> Result<RecordBatch, DataFrameError> {
    arrow_select::take::take_record_batch(b, indices).map_err(|e| DataFrameError::arrow("sort", e))
}

impl DataFrame {
    /// The frame sorted by `keys` (the first key first), in
    /// `num_partitions()` range partitions: every row of partition `j`
    /// sorts before every row of partition `j + 1`. The sort is stable
    /// within each input partition's rows.
    ///
    /// ```
    /// use flotilla_dataframe::{DataFrame, SortKey};
    /// use flotilla_dataframe::arrow::array::Int64Array;
    ///
    /// let df = DataFrame::from_columns(vec![("x", vec![5i64, 1, 4, 2, 3].into())], 2)?;
    /// let sorted = df.sort_by(&[SortKey::new("x").descending()])?.compute()?;
    /// let x = sorted.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    /// assert_eq!(x.values(), &[5, 4, 3, 2, 1]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::ColumnNotFound`], [`DataFrameError::Invalid`] for
    /// no keys, or [`DataFrameError::Type`] for a column Arrow cannot
    /// order — before any work.
    pub fn sort_by(&self, keys: &[SortKey]) -> Result<DataFrame, DataFrameError> {
        if keys.is_empty() {
            return Err(DataFrameError::Invalid(
                "sort_by needs at least one key".into(),
            ));
        }
        let mut indices = Vec::new();
        let mut fields = Vec::new();
        for k in keys {
            let i = self
                .schema
                .index_of(&k.column)
                .map_err(|_| not_found(&self.schema, &k.column))?;
            indices.push(i);
            fields.push(SortField::new_with_options(
                self.schema.field(i).data_type().clone(),
                k.options,
            ));
        }
        let converter = RowConverter::new(fields).map_err(|e| {
            DataFrameError::types(
                format!(
                    "sort_by({:?})",
                    keys.iter().map(|k| &k.column).collect::<Vec<_>>()
                ),
                e.to_string(),
            )
        })?;
        let keys = Keys {
            indices,
            converter: Arc::new(converter),
        };
        let n = self.num_partitions().max(1);
        let parts = self.materialized("sort-input");
        let key = key_group(&format!("{}|sort", self.label));

        // Each partition sorted, with an even sample of its keys.
        let sorted: Vec<Delayed<Partition>> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let keys = keys.clone();
                p.map(move |p: &Partition| {
                    Partition::from_result(p.load().and_then(|b| sort_batch(&b, &keys)))
                })
                .named_op(key.sibling(i as u64))
            })
            .collect();
        let sample_keys = keys.clone();
        let boundaries = Delayed::gather(&sorted, move |parts: &[&Partition]| {
            boundaries(parts, &sample_keys, n)
        })
        .named_op(key_group(&format!("{}|sort-boundaries", self.label)));

        // Every sorted partition cut at the boundaries.
        let cut_key = key_group(&format!("{}|sort-cut", self.label));
        let pieces: Vec<Delayed<Pieces>> = sorted
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let keys = keys.clone();
                p.zip_with(&boundaries, move |p: &Partition, bounds| {
                    pieces_of((|| {
                        let bounds = bounds.as_ref().map_err(Clone::clone)?;
                        cut(&p.load()?, &keys, bounds, n)
                    })())
                })
                .named_op(cut_key.sibling(i as u64))
            })
            .collect();

        // Output partition j: the j-th pieces, merged by sorting again.
        let schema = self.schema();
        let out_key = key_group(&format!("{}|sort-merge", self.label));
        let inputs = reducers(&pieces, n, &out_key, move |_, pieces| {
            Partition::from_result(
                pieces
                    .and_then(|pieces| {
                        arrow_select::concat::concat_batches(&schema, &pieces)
                            .map_err(|e| DataFrameError::arrow("sort", e))
                    })
                    .and_then(|b| sort_batch(&b, &keys)),
            )
        });
        let mut out = DataFrame::new(self.schema(), inputs, &format!("{}|sort", self.label));
        out.settings = self.settings.clone();
        Ok(out)
    }

    /// The same rows in `partitions` partitions, keeping their order:
    /// neighbouring partitions are concatenated to make fewer, each
    /// partition is cut into equal slices to make more (dask's
    /// `repartition(npartitions=...)`).
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", (0..10i64).collect::<Vec<_>>().into())], 2)?;
    /// let more = df.repartition(5)?;
    /// assert_eq!(more.num_partitions(), 5);
    /// assert_eq!(more.compute()?, df.compute()?);
    /// assert_eq!(df.repartition(1)?.compute_partitions()?.len(), 1);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::Invalid`] for zero partitions.
    pub fn repartition(&self, partitions: usize) -> Result<DataFrame, DataFrameError> {
        if partitions == 0 {
            return Err(DataFrameError::Invalid(
                "repartition needs at least one partition".into(),
            ));
        }
        let m = self.num_partitions();
        let parts = self.materialized("repartition-input");
        let key = key_group(&format!("{}|repartition", self.label));
        let schema = self.schema();
        let mut inputs = Vec::with_capacity(partitions);
        if partitions <= m {
            for j in 0..partitions {
                let group = &parts[m * j / partitions..m * (j + 1) / partitions];
                let schema = Arc::clone(&schema);
                inputs.push(
                    Delayed::gather(group, move |ps: &[&Partition]| {
                        let batches: Result<Vec<_>, _> = ps.iter().map(|p| p.load()).collect();
                        Partition::from_result(batches.and_then(|b| {
                            arrow_select::concat::concat_batches(&schema, &b)
                                .map_err(|e| DataFrameError::arrow("repartition", e))
                        }))
                    })
                    .named_op(key.sibling(j as u64)),
                );
            }
        } else {
            for (i, p) in parts.iter().enumerate() {
                let pieces = partitions * (i + 1) / m - partitions * i / m;
                for s in 0..pieces {
                    inputs.push(
                        p.map(move |p: &Partition| {
                            Partition::from_result(p.load().map(|b| {
                                let rows = b.num_rows();
                                let (start, end) = (rows * s / pieces, rows * (s + 1) / pieces);
                                b.slice(start, end - start)
                            }))
                        })
                        .named_op(key.sibling(inputs.len() as u64)),
                    );
                }
            }
        }
        let mut out = DataFrame::new(schema, inputs, &format!("{}|repartition", self.label));
        out.settings = self.settings.clone();
        Ok(out)
    }
}

/// `n - 1` boundaries chosen from an even sample of every sorted partition.
fn boundaries(
    parts: &[&Partition],
    keys: &Keys,
    n: usize,
) -> Result<Vec<OwnedRow>, DataFrameError> {
    let mut sample = Vec::new();
    for p in parts {
        let b = p.load()?;
        let rows = keys.rows(&b)?;
        let len = rows.num_rows();
        let take = len.min(SAMPLE_PER_PARTITION);
        for s in 0..take {
            sample.push(rows.row(s * len / take).owned());
        }
    }
    sample.sort();
    Ok((1..n)
        .filter_map(|j| sample.get(j * sample.len() / n).cloned())
        .collect())
}

/// A sorted batch cut into `n` pieces, one per output partition: piece `j`
/// holds the rows below `bounds[j]` and at or above `bounds[j - 1]`. With
/// fewer than `n - 1` boundaries (no rows were sampled: every partition is
/// empty) the pieces past the last boundary are empty.
fn cut(
    b: &RecordBatch,
    keys: &Keys,
    bounds: &[OwnedRow],
    n: usize,
) -> Result<Vec<RecordBatch>, DataFrameError> {
    let rows = keys.rows(b)?;
    let len = rows.num_rows();
    let mut pieces = Vec::with_capacity(bounds.len() + 1);
    let mut start = 0;
    for bound in bounds {
        // The batch is sorted: the first row at or above the bound.
        let (mut lo, mut hi) = (start, len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if rows.row(mid) < bound.row() {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        pieces.push(b.slice(start, lo - start));
        start = lo;
    }
    pieces.push(b.slice(start, len - start));
    while pieces.len() < n {
        pieces.push(b.slice(len, 0));
    }
    Ok(pieces)
}
