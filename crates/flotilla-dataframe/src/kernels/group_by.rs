//! [`GroupBy`]: a hash group-by in partial / merge / finish form.
//!
//! A group-by over many partitions runs as a tree: [`GroupBy::partial`] on
//! every partition, [`GroupBy::merge`] on the partials `split_every` at a
//! time, [`GroupBy::finish`] on the root. The states in between (counts,
//! sums, sums of squared deviations, minima, maxima) are associative, so any
//! splitting gives the result of a single pass, up to floating-point
//! rounding. For keys with many distinct values, partials can be
//! [`hash_partition`](super::hash_partition)ed by their key columns (they
//! keep the input's key names) and merged per partition.
//!
//! The plan is checked against the input schema once, in [`GroupBy::new`];
//! the kernels then look their columns up by name in each batch.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};

use super::grouping::{supported_key, KeyIndex, NullKeys};
use super::primitive::{is_float, is_numeric, is_primitive};
use super::state::{ColumnAcc, ColumnPlan, Ids};
use super::{Agg, AggFunc, KernelError};

/// A validated group-by plan: key columns and aggregates, checked against
/// the input schema.
///
/// Output rows are the groups in order of first appearance (in the batch,
/// or in the partials in the order given), keys first, then one column per
/// aggregate. **Null keys form a group of their own** (one per distinct
/// combination of null and non-null keys), as SQL's `GROUP BY` does; float
/// keys group by value with `-0.0 = 0.0` and all NaNs in one group. With no
/// key, the whole batch is one group and the output has exactly one row,
/// even for an empty input (count 0, other aggregates null).
///
/// Key types: integers, floats, `Boolean`, `Utf8`, `LargeUtf8`, binary,
/// dates, times, timestamps, durations, decimals, and dictionaries of
/// those. See [`AggFunc`] for the aggregates and their null semantics.
///
/// ```
/// use std::sync::Arc;
/// use flotilla_dataframe::arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
/// use flotilla_dataframe::arrow::array::cast::AsArray;
/// use flotilla_dataframe::arrow::array::types::Float64Type;
/// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
/// use flotilla_dataframe::kernels::{Agg, GroupBy};
///
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("station", DataType::Utf8, false),
///     Field::new("temperature", DataType::Float64, true),
/// ]));
/// let part = |s: Vec<&str>, t: Vec<Option<f64>>| {
///     RecordBatch::try_new(
///         schema.clone(),
///         vec![Arc::new(StringArray::from(s)), Arc::new(Float64Array::from(t))],
///     )
///     .unwrap()
/// };
/// let plan = GroupBy::new(&schema, &["station"], &[Agg::mean("temperature"), Agg::count("temperature")])?;
///
/// // Two partitions, partially aggregated, merged, finished.
/// let a = plan.partial(&part(vec!["oslo", "rome"], vec![Some(1.0), Some(20.0)]))?;
/// let b = plan.partial(&part(vec!["oslo", "oslo"], vec![Some(3.0), None]))?;
/// let out = plan.finish(&plan.merge(&[a, b])?)?;
///
/// assert_eq!(out.schema().field(1).name(), "temperature_mean");
/// let mean = out.column(1).as_primitive::<Float64Type>();
/// assert_eq!(mean.value(0), 2.0); // oslo: (1 + 3) / 2, the null skipped
/// assert_eq!(mean.value(1), 20.0); // rome
/// # Ok::<(), flotilla_dataframe::kernels::KernelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct GroupBy {
    keys: Vec<String>,
    aggs: Vec<PlannedAgg>,
    columns: Vec<ColumnPlan>,
    /// Index of each column's first state column in a partial.
    state_starts: Vec<usize>,
    key_types: Vec<DataType>,
    partial_schema: SchemaRef,
    output_schema: SchemaRef,
}

#[derive(Debug, Clone)]
struct PlannedAgg {
    agg: Agg,
    column: usize,
}

impl GroupBy {
    /// Checks `keys` and `aggs` against `input` and plans the states.
    ///
    /// `keys` may be empty (one group: whole-column aggregates); `aggs` may
    /// be empty (the distinct keys).
    ///
    /// # Errors
    ///
    /// [`KernelError::UnknownColumn`], [`KernelError::UnsupportedKeyType`],
    /// [`KernelError::DuplicateKey`], [`KernelError::NotNumeric`] (sum, mean,
    /// var, std of a non-numeric column), [`KernelError::NotOrderable`],
    /// [`KernelError::DuplicateOutput`], [`KernelError::EmptyGroupBy`].
    ///
    /// ```
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::{Agg, GroupBy, KernelError};
    ///
    /// let schema = Schema::new(vec![Field::new("x", DataType::Int64, true)]);
    /// let err = GroupBy::new(&schema, &["y"], &[Agg::sum("x")]).unwrap_err();
    /// assert!(matches!(err, KernelError::UnknownColumn { .. }));
    /// assert_eq!(GroupBy::new(&schema, &[], &[Agg::sum("x")])?.output_schema().field(0).name(), "x_sum");
    /// # Ok::<(), KernelError>(())
    /// ```
    pub fn new(input: &Schema, keys: &[&str], aggs: &[Agg]) -> Result<GroupBy, KernelError> {
        if keys.is_empty() && aggs.is_empty() {
            return Err(KernelError::EmptyGroupBy);
        }
        let mut key_fields: Vec<FieldRef> = Vec::with_capacity(keys.len());
        for &key in keys {
            let field = input
                .field_with_name(key)
                .map_err(|_| KernelError::unknown(key, "group-by key", input))?;
            if !supported_key(field.data_type()) {
                return Err(KernelError::UnsupportedKeyType {
                    column: key.to_owned(),
                    data_type: field.data_type().clone(),
                });
            }
            if key_fields.iter().any(|f| f.name() == key) {
                return Err(KernelError::DuplicateKey {
                    column: key.to_owned(),
                });
            }
            key_fields.push(Arc::new(field.clone()));
        }
        let mut names: HashSet<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let mut columns: Vec<ColumnPlan> = Vec::new();
        let mut planned = Vec::with_capacity(aggs.len());
        let mut output_fields = key_fields.clone();
        for agg in aggs {
            let field = input
                .field_with_name(&agg.column)
                .map_err(|_| KernelError::unknown(&agg.column, "aggregate", input))?;
            let data_type = field.data_type();
            let output_type = match agg.func {
                AggFunc::Count => DataType::Int64,
                AggFunc::Sum | AggFunc::Mean | AggFunc::Var | AggFunc::Std
                    if !is_numeric(data_type) =>
                {
                    return Err(KernelError::NotNumeric {
                        column: agg.column.clone(),
                        data_type: data_type.clone(),
                        func: agg.func,
                    })
                }
                AggFunc::Sum if is_float(data_type) => DataType::Float64,
                AggFunc::Sum => DataType::Int64,
                AggFunc::Mean | AggFunc::Var | AggFunc::Std => DataType::Float64,
                AggFunc::Min | AggFunc::Max if !orderable(data_type) => {
                    return Err(KernelError::NotOrderable {
                        column: agg.column.clone(),
                        data_type: data_type.clone(),
                        func: agg.func,
                    })
                }
                AggFunc::Min | AggFunc::Max => data_type.clone(),
            };
            let name = agg.output_name();
            if !names.insert(name.clone()) {
                return Err(KernelError::DuplicateOutput { name });
            }
            output_fields.push(Arc::new(Field::new(
                name,
                output_type,
                agg.func != AggFunc::Count,
            )));
            let column = match columns.iter().position(|c| c.name == agg.column) {
                Some(i) => i,
                None => {
                    columns.push(ColumnPlan::new(&agg.column, data_type));
                    columns.len() - 1
                }
            };
            columns[column].add(agg.func);
            planned.push(PlannedAgg {
                agg: agg.clone(),
                column,
            });
        }
        let mut partial_fields = key_fields;
        let mut state_starts = Vec::with_capacity(columns.len());
        for column in &columns {
            state_starts.push(partial_fields.len());
            partial_fields.extend(column.state_fields().into_iter().map(Arc::new));
        }
        Ok(GroupBy {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            key_types: output_fields[..keys.len()]
                .iter()
                .map(|f| f.data_type().clone())
                .collect(),
            aggs: planned,
            columns,
            state_starts,
            partial_schema: Arc::new(Schema::new(partial_fields)),
            output_schema: Arc::new(Schema::new(output_fields)),
        })
    }

    /// The key columns.
    ///
    /// ```
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::{Agg, GroupBy};
    /// let schema = Schema::new(vec![Field::new("k", DataType::Int32, false)]);
    /// assert_eq!(GroupBy::new(&schema, &["k"], &[])?.keys(), ["k"]);
    /// # Ok::<(), flotilla_dataframe::kernels::KernelError>(())
    /// ```
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The aggregates, in output order.
    ///
    /// ```
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::{Agg, GroupBy};
    /// let schema = Schema::new(vec![Field::new("x", DataType::Int32, false)]);
    /// let plan = GroupBy::new(&schema, &[], &[Agg::max("x")])?;
    /// assert_eq!(plan.aggs().collect::<Vec<_>>(), [&Agg::max("x")]);
    /// # Ok::<(), flotilla_dataframe::kernels::KernelError>(())
    /// ```
    pub fn aggs(&self) -> impl Iterator<Item = &Agg> {
        self.aggs.iter().map(|a| &a.agg)
    }

    /// The schema of partials ([`GroupBy::partial`], [`GroupBy::merge`]):
    /// the key columns (named and typed as in the input), then the state
    /// columns, named like `count(temperature)`, `sum_f64(temperature)`,
    /// `m2(temperature)`, `min(temperature)`.
    ///
    /// ```
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::{Agg, GroupBy};
    /// let schema = Schema::new(vec![
    ///     Field::new("k", DataType::Int32, false),
    ///     Field::new("x", DataType::Float64, true),
    /// ]);
    /// let plan = GroupBy::new(&schema, &["k"], &[Agg::mean("x"), Agg::count("x")])?;
    /// let names: Vec<_> = plan.partial_schema().fields().iter().map(|f| f.name().clone()).collect();
    /// assert_eq!(names, ["k", "count(x)", "sum_f64(x)"]);
    /// # Ok::<(), flotilla_dataframe::kernels::KernelError>(())
    /// ```
    pub fn partial_schema(&self) -> SchemaRef {
        self.partial_schema.clone()
    }

    /// The schema of [`GroupBy::finish`]'s output: the keys, then one column
    /// per aggregate (see [`AggFunc`] for the types).
    ///
    /// ```
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::{Agg, GroupBy};
    /// let schema = Schema::new(vec![Field::new("x", DataType::Int32, false)]);
    /// let plan = GroupBy::new(&schema, &[], &[Agg::sum("x"), Agg::mean("x")])?;
    /// let out = plan.output_schema();
    /// assert_eq!(out.field(0).data_type(), &DataType::Int64);
    /// assert_eq!(out.field(1).data_type(), &DataType::Float64);
    /// # Ok::<(), flotilla_dataframe::kernels::KernelError>(())
    /// ```
    pub fn output_schema(&self) -> SchemaRef {
        self.output_schema.clone()
    }

    /// Aggregates one batch into a partial (one row per group of the batch).
    ///
    /// The batch may have more columns than the plan's input, in any order;
    /// those the plan names must be there with the planned types.
    ///
    /// # Errors
    ///
    /// [`KernelError::UnknownColumn`] or [`KernelError::ColumnType`] for a
    /// batch that does not fit the plan; [`KernelError::TooManyRows`] past
    /// `u32::MAX - 2` rows.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::{Agg, GroupBy};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![3, 1, 3]))])?;
    /// let plan = GroupBy::new(&schema, &["k"], &[Agg::count("k")])?;
    /// assert_eq!(plan.partial(&batch)?.num_rows(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn partial(&self, batch: &RecordBatch) -> Result<RecordBatch, KernelError> {
        let keys = self
            .keys
            .iter()
            .zip(&self.key_types)
            .map(|(name, data_type)| input_column(batch, name, data_type, "group-by key"))
            .collect::<Result<Vec<_>, _>>()?;
        let values = self
            .columns
            .iter()
            .map(|c| c.prepare(input_column(batch, &c.name, &c.data_type, "aggregate")?))
            .collect::<Result<Vec<_>, _>>()?;
        let mut index = KeyIndex::new(&keys)?;
        let mut accs: Vec<ColumnAcc> = self
            .columns
            .iter()
            .map(|c| ColumnAcc::new(c, false))
            .collect();
        each_chunk(&keys, batch.num_rows(), &mut index, |range, ids, groups| {
            for ((acc, plan), values) in accs.iter_mut().zip(&self.columns).zip(&values) {
                acc.update(plan, values, range.clone(), ids, groups)?;
            }
            Ok(())
        })?;
        self.assemble(&keys, &index, accs)
    }

    /// Combines partials (of this plan) into one partial with one row per
    /// group. Associative: merging merged partials is merging all of them.
    /// Merging no partial gives an empty partial (one row of zero counts
    /// when the plan has no key).
    ///
    /// # Errors
    ///
    /// [`KernelError::NotAPartial`] for a batch whose columns differ from
    /// [`GroupBy::partial_schema`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::{Agg, GroupBy};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]));
    /// let batch = |v: Vec<i64>| RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(v))]);
    /// let plan = GroupBy::new(&schema, &["k"], &[Agg::count("k")])?;
    /// let a = plan.partial(&batch(vec![1, 2])?)?;
    /// let b = plan.partial(&batch(vec![2, 3])?)?;
    /// assert_eq!(plan.merge(&[a, b])?.num_rows(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge(&self, partials: &[RecordBatch]) -> Result<RecordBatch, KernelError> {
        for partial in partials {
            self.check_partial(partial)?;
        }
        let all = arrow_select::concat::concat_batches(&self.partial_schema, partials)
            .map_err(KernelError::arrow("concatenating partials"))?;
        let keys = &all.columns()[..self.keys.len()];
        let mut index = KeyIndex::new(keys)?;
        let mut accs: Vec<ColumnAcc> = self
            .columns
            .iter()
            .map(|c| ColumnAcc::new(c, true))
            .collect();
        each_chunk(keys, all.num_rows(), &mut index, |range, ids, groups| {
            for ((acc, plan), &start) in accs.iter_mut().zip(&self.columns).zip(&self.state_starts)
            {
                let states = &all.columns()[start..start + plan.width()];
                acc.merge(plan, states, range.clone(), ids, groups)?;
            }
            Ok(())
        })?;
        self.assemble(keys, &index, accs)
    }

    /// A partial from the groups of `index` and their states.
    fn assemble(
        &self,
        keys: &[ArrayRef],
        index: &KeyIndex,
        accs: Vec<ColumnAcc>,
    ) -> Result<RecordBatch, KernelError> {
        let groups = index.groups();
        let mut out = take_keys(keys, index.first_rows())?;
        for (acc, plan) in accs.into_iter().zip(&self.columns) {
            out.extend(acc.finish(plan, groups)?);
        }
        self.batch(self.partial_schema.clone(), out, groups)
    }

    /// Turns a partial (of [`GroupBy::partial`] or [`GroupBy::merge`]: one
    /// row per group) into the aggregates, in [`GroupBy::output_schema`].
    ///
    /// # Errors
    ///
    /// [`KernelError::NotAPartial`] for a batch whose columns differ from
    /// [`GroupBy::partial_schema`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Array, Float64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::array::cast::AsArray;
    /// use flotilla_dataframe::arrow::array::types::Float64Type;
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::{Agg, GroupBy};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0]))])?;
    /// let plan = GroupBy::new(&schema, &[], &[Agg::var("x"), Agg::std("x")])?;
    /// let out = plan.finish(&plan.partial(&batch)?)?;
    /// let var = out.column(0).as_primitive::<Float64Type>().value(0);
    /// assert!((var - 5.0 / 3.0).abs() < 1e-12); // sample variance, ddof = 1
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish(&self, partial: &RecordBatch) -> Result<RecordBatch, KernelError> {
        self.check_partial(partial)?;
        let k = self.keys.len();
        let mut out: Vec<ArrayRef> = partial.columns()[..k].to_vec();
        for planned in &self.aggs {
            let column = &self.columns[planned.column];
            let start = self.state_starts[planned.column];
            let states = &partial.columns()[start..start + column.width()];
            out.push(column.finish(planned.agg.func, states)?);
        }
        self.batch(self.output_schema.clone(), out, partial.num_rows())
    }

    fn check_partial(&self, partial: &RecordBatch) -> Result<(), KernelError> {
        let expected = self.partial_schema.fields();
        let found = partial.schema();
        if found.fields().len() != expected.len() {
            return Err(KernelError::NotAPartial {
                detail: format!(
                    "it has {} columns, the plan's partials have {}",
                    found.fields().len(),
                    expected.len()
                ),
            });
        }
        for (i, (want, have)) in expected.iter().zip(found.fields().iter()).enumerate() {
            if want.data_type() != have.data_type() {
                return Err(KernelError::NotAPartial {
                    detail: format!(
                        "column {i} (`{}`) has type {}, the plan's partials have `{}` of type {}",
                        have.name(),
                        have.data_type(),
                        want.name(),
                        want.data_type()
                    ),
                });
            }
        }
        Ok(())
    }

    fn batch(
        &self,
        schema: SchemaRef,
        columns: Vec<ArrayRef>,
        rows: usize,
    ) -> Result<RecordBatch, KernelError> {
        RecordBatch::try_new_with_options(
            schema,
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(KernelError::arrow("assembling a group-by result"))
    }
}

/// Rows per chunk: the group ids of a chunk stay in cache between the
/// grouping loop that writes them and the aggregation loops that read them.
const CHUNK: usize = 1 << 14;

/// Assigns groups to the rows of `keys` chunk by chunk, calling
/// `f(rows, ids, groups so far)` after each chunk (with one group when
/// there is no key).
fn each_chunk(
    keys: &[ArrayRef],
    rows: usize,
    index: &mut KeyIndex,
    mut f: impl FnMut(Range<usize>, Ids<'_>, usize) -> Result<(), KernelError>,
) -> Result<(), KernelError> {
    let mut ids = Vec::with_capacity(CHUNK.min(rows));
    for start in (0..rows).step_by(CHUNK) {
        let range = start..(start + CHUNK).min(rows);
        if keys.is_empty() {
            // Chunks here too: the passes of several states over a chunk
            // read it from cache, not memory.
            f(range, Ids::One, 1)?;
        } else {
            index.assign(keys, range.clone(), NullKeys::Group, &mut ids)?;
            f(range, Ids::Many(&ids), index.groups())?;
        }
    }
    Ok(())
}

/// Whether min and max take this type.
fn orderable(data_type: &DataType) -> bool {
    use DataType::*;
    match data_type {
        Dictionary(key, value) => key.is_dictionary_key_type() && orderable(value),
        Boolean | Utf8 | LargeUtf8 | Binary | LargeBinary | Utf8View | BinaryView
        | FixedSizeBinary(_) | Decimal128(..) | Decimal256(..) => true,
        other => is_primitive(other),
    }
}

/// The column `name` of `batch`, which must have type `data_type`.
pub(super) fn input_column(
    batch: &RecordBatch,
    name: &str,
    data_type: &DataType,
    role: &'static str,
) -> Result<ArrayRef, KernelError> {
    let schema = batch.schema_ref();
    let index = schema
        .index_of(name)
        .map_err(|_| KernelError::unknown(name, role, schema))?;
    let column = batch.column(index);
    if column.data_type() != data_type {
        return Err(KernelError::ColumnType {
            column: name.to_owned(),
            expected: data_type.clone(),
            found: column.data_type().clone(),
        });
    }
    Ok(column.clone())
}

/// The key values of each group: `take` of the groups' first rows.
fn take_keys(keys: &[ArrayRef], first_rows: &[u32]) -> Result<Vec<ArrayRef>, KernelError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let indices = UInt32Array::from(first_rows.to_vec());
    keys.iter()
        .map(|k| {
            arrow_select::take::take(k.as_ref(), &indices, None)
                .map_err(KernelError::arrow("taking group keys"))
        })
        .collect()
}

/// How often each distinct non-null value of `column` occurs, most frequent
/// first (ties in order of first appearance): a batch with the column and
/// a `count` column (`Int64`; named `{column}_count` if the column itself
/// is called `count`). Nulls are not counted, as in pandas.
///
/// For many partitions, run [`GroupBy`] with keys `[column]` and
/// `Agg::count(column)` as a tree and sort the result.
///
/// # Errors
///
/// [`KernelError::UnknownColumn`], [`KernelError::UnsupportedKeyType`].
///
/// ```
/// use std::sync::Arc;
/// use flotilla_dataframe::arrow::array::{RecordBatch, StringArray};
/// use flotilla_dataframe::arrow::array::cast::AsArray;
/// use flotilla_dataframe::arrow::array::types::Int64Type;
/// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
/// use flotilla_dataframe::kernels::value_counts;
///
/// let schema = Arc::new(Schema::new(vec![Field::new("genre", DataType::Utf8, true)]));
/// let genres = StringArray::from(vec![Some("drama"), Some("comedy"), None, Some("comedy")]);
/// let batch = RecordBatch::try_new(schema, vec![Arc::new(genres)])?;
/// let counts = value_counts(&batch, "genre")?;
/// assert_eq!(counts.column(0).as_string::<i32>().value(0), "comedy");
/// assert_eq!(counts.column(1).as_primitive::<Int64Type>().values(), &[2, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn value_counts(batch: &RecordBatch, column: &str) -> Result<RecordBatch, KernelError> {
    let count_name = if column == "count" {
        "count_count"
    } else {
        "count"
    };
    let plan = GroupBy::new(
        batch.schema_ref(),
        &[column],
        &[Agg::count(column).alias(count_name)],
    )?;
    let counted = plan.finish(&plan.partial(batch)?)?;
    let counts = counted
        .column(1)
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| KernelError::NotAPartial {
            detail: "value counts are not Int64".into(),
        })?;
    // The null group counts 0 non-null values: dropping zero counts drops it.
    let mut order: Vec<u32> = (0..counted.num_rows() as u32)
        .filter(|&i| counts.value(i as usize) > 0)
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(counts.value(i as usize)));
    arrow_select::take::take_record_batch(&counted, &UInt32Array::from(order))
        .map_err(KernelError::arrow("sorting value counts"))
}
