//! Hash join: a build side indexed once ([`JoinTable`]), probed by any
//! number of batches of the other side.
//!
//! A broadcast join builds the table from the small side once and probes
//! it from every partition of the large side (the table is `Send + Sync`:
//! share it behind an `Arc`); a shuffled join
//! [`hash_partition`](super::hash_partition)s both sides by their keys and
//! joins partition `i` with partition `i`. The left side is the probe side:
//! its rows keep their order, each followed by its matches in build order.
//!
//! The probe produces `take` indices and lets `arrow-select` copy the
//! columns; when every left row matches exactly once (the common lookup of
//! a fact table in a dimension table) the left columns are reused as they
//! are. [`JoinTable::probe_dictionary`] goes further for string columns of
//! the build side: it returns them as dictionaries whose values are the
//! build column itself and whose keys are the matched build rows, so no
//! string is copied, and a group-by on such a column looks each string up
//! once per dictionary entry, not once per row.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Int32Array, RecordBatch, RecordBatchOptions, UInt32Array,
};
use arrow_buffer::{Buffer, NullBuffer, NullBufferBuilder, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};

use super::grouping::{supported_key, KeyIndex, NullKeys, NO_GROUP};
use super::KernelError;

/// Which rows a join keeps.
///
/// ```
/// use flotilla_dataframe::kernels::JoinKind;
/// assert_ne!(JoinKind::Inner, JoinKind::Left);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum JoinKind {
    /// Only left rows with at least one match, once per match.
    Inner,
    /// Every left row: once per match, or once with nulls in the right
    /// columns when it has none.
    Left,
}

/// The schema of a join of `left` with `right` on `left_on[i] = right_on[i]`.
///
/// The columns are those of `left`, then those of `right` except its key
/// columns (equal to the left keys where rows match). A right column whose
/// name is already taken gets the suffix `_right` (repeated until the name
/// is free). In a [`JoinKind::Left`] join the right columns are nullable.
///
/// Null keys never match (SQL semantics). Key types: integers, floats
/// (`-0.0 = 0.0`; NaN matches NaN), `Boolean`, strings, binary, dates,
/// times, timestamps, durations, decimals, dictionaries of those; paired
/// keys must have the same type.
///
/// # Errors
///
/// Checked before any work: [`KernelError::NoKeys`],
/// [`KernelError::KeyCountMismatch`], [`KernelError::UnknownColumn`],
/// [`KernelError::KeyTypeMismatch`] (naming both columns and types),
/// [`KernelError::UnsupportedKeyType`].
///
/// ```
/// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
/// use flotilla_dataframe::kernels::{join_schema, JoinKind, KernelError};
///
/// let ratings = Schema::new(vec![
///     Field::new("movie_id", DataType::Int64, false),
///     Field::new("rating", DataType::Int8, false),
/// ]);
/// let movies = Schema::new(vec![
///     Field::new("id", DataType::Int64, false),
///     Field::new("title", DataType::Utf8, false),
///     Field::new("rating", DataType::Float64, true),
/// ]);
/// let out = join_schema(&ratings, &movies, &["movie_id"], &["id"], JoinKind::Left)?;
/// let names: Vec<_> = out.fields().iter().map(|f| f.name().as_str()).collect();
/// assert_eq!(names, ["movie_id", "rating", "title", "rating_right"]);
/// assert!(out.field(2).is_nullable());
///
/// let wrong = Schema::new(vec![Field::new("id", DataType::Utf8, false)]);
/// let err = join_schema(&ratings, &wrong, &["movie_id"], &["id"], JoinKind::Inner).unwrap_err();
/// assert!(matches!(err, KernelError::KeyTypeMismatch { .. }));
/// # Ok::<(), KernelError>(())
/// ```
pub fn join_schema(
    left: &Schema,
    right: &Schema,
    left_on: &[&str],
    right_on: &[&str],
    kind: JoinKind,
) -> Result<SchemaRef, KernelError> {
    Ok(plan(left, right, left_on, right_on, kind, false)?.schema)
}

/// The schema of [`JoinTable::probe_dictionary`]: that of [`join_schema`]
/// with the right side's `Utf8`, `LargeUtf8`, `Binary` and `LargeBinary`
/// columns as `Dictionary(Int32, _)` of the same value type.
///
/// # Errors
///
/// As [`join_schema`].
///
/// ```
/// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
/// use flotilla_dataframe::kernels::{dictionary_join_schema, JoinKind};
///
/// let left = Schema::new(vec![Field::new("id", DataType::Int64, false)]);
/// let right = Schema::new(vec![
///     Field::new("id", DataType::Int64, false),
///     Field::new("genre", DataType::Utf8, false),
/// ]);
/// let out = dictionary_join_schema(&left, &right, &["id"], &["id"], JoinKind::Inner)?;
/// assert_eq!(
///     out.field(1).data_type(),
///     &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
/// );
/// # Ok::<(), flotilla_dataframe::kernels::KernelError>(())
/// ```
pub fn dictionary_join_schema(
    left: &Schema,
    right: &Schema,
    left_on: &[&str],
    right_on: &[&str],
    kind: JoinKind,
) -> Result<SchemaRef, KernelError> {
    Ok(plan(left, right, left_on, right_on, kind, true)?.schema)
}

/// A checked join: the output schema, the left key columns, the right
/// columns carried to the output.
#[derive(Debug)]
struct JoinPlan {
    schema: SchemaRef,
    left_keys: Vec<usize>,
    right_payload: Vec<usize>,
}

fn is_byte_type(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary
    )
}

fn plan(
    left: &Schema,
    right: &Schema,
    left_on: &[&str],
    right_on: &[&str],
    kind: JoinKind,
    dictionary: bool,
) -> Result<JoinPlan, KernelError> {
    if left_on.len() != right_on.len() {
        return Err(KernelError::KeyCountMismatch {
            left: left_on.len(),
            right: right_on.len(),
        });
    }
    if left_on.is_empty() {
        return Err(KernelError::NoKeys { op: "join" });
    }
    let mut left_keys = Vec::with_capacity(left_on.len());
    let mut right_keys = Vec::with_capacity(right_on.len());
    for (&l, &r) in left_on.iter().zip(right_on) {
        let li = left
            .index_of(l)
            .map_err(|_| KernelError::unknown(l, "left join key", left))?;
        let ri = right
            .index_of(r)
            .map_err(|_| KernelError::unknown(r, "right join key", right))?;
        let (lt, rt) = (left.field(li).data_type(), right.field(ri).data_type());
        if lt != rt {
            return Err(KernelError::KeyTypeMismatch {
                left_column: l.to_owned(),
                left_type: lt.clone(),
                right_column: r.to_owned(),
                right_type: rt.clone(),
            });
        }
        if !supported_key(lt) {
            return Err(KernelError::UnsupportedKeyType {
                column: l.to_owned(),
                data_type: lt.clone(),
            });
        }
        left_keys.push(li);
        right_keys.push(ri);
    }
    let mut names: HashSet<String> = left.fields().iter().map(|f| f.name().clone()).collect();
    let mut fields: Vec<FieldRef> = left.fields().iter().cloned().collect();
    let mut right_payload = Vec::new();
    for (i, field) in right.fields().iter().enumerate() {
        if right_keys.contains(&i) {
            continue;
        }
        let mut name = field.name().clone();
        while names.contains(&name) {
            name.push_str("_right");
        }
        names.insert(name.clone());
        let data_type = if dictionary && is_byte_type(field.data_type()) {
            DataType::Dictionary(
                Box::new(DataType::Int32),
                Box::new(field.data_type().clone()),
            )
        } else {
            field.data_type().clone()
        };
        let nullable = field.is_nullable() || kind == JoinKind::Left;
        fields.push(Arc::new(
            Field::new(name, data_type, nullable).with_metadata(field.metadata().clone()),
        ));
        right_payload.push(i);
    }
    Ok(JoinPlan {
        schema: Arc::new(Schema::new(fields)),
        left_keys,
        right_payload,
    })
}

/// The build side of a hash join: its rows, indexed by key once, probed by
/// any number of batches (from any number of threads: it is `Send + Sync`).
///
/// Rows whose key is null (in any key column) are left out of the index:
/// null keys never match.
///
/// ```
/// use std::sync::Arc;
/// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch, StringArray};
/// use flotilla_dataframe::arrow::array::cast::AsArray;
/// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
/// use flotilla_dataframe::kernels::{JoinKind, JoinTable};
///
/// let movies = RecordBatch::try_new(
///     Arc::new(Schema::new(vec![
///         Field::new("id", DataType::Int64, false),
///         Field::new("title", DataType::Utf8, false),
///     ])),
///     vec![Arc::new(Int64Array::from(vec![1, 2])), Arc::new(StringArray::from(vec!["Heat", "Ran"]))],
/// )?;
/// let ratings = RecordBatch::try_new(
///     Arc::new(Schema::new(vec![Field::new("movie", DataType::Int64, false)])),
///     vec![Arc::new(Int64Array::from(vec![2, 3, 1, 2]))],
/// )?;
/// let table = JoinTable::build(&movies, &["id"])?;
/// let joined = table.probe(&ratings, &["movie"], JoinKind::Inner)?;
/// let titles: Vec<_> = joined.column(1).as_string::<i32>().iter().flatten().collect();
/// assert_eq!(titles, ["Ran", "Heat", "Ran"]);
/// assert_eq!(table.probe(&ratings, &["movie"], JoinKind::Left)?.num_rows(), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JoinTable {
    right: RecordBatch,
    on: Vec<String>,
    index: KeyIndex,
    matches: Matches,
}

/// The build rows of each group.
#[derive(Debug)]
enum Matches {
    /// Every key occurs once: the row of group `g` is `first_rows[g]`.
    Unique,
    /// The rows of group `g` are `rows[offsets[g]..offsets[g + 1]]`.
    Many { offsets: Vec<u32>, rows: Vec<u32> },
}

impl JoinTable {
    /// Indexes `right` by its `on` columns.
    ///
    /// # Errors
    ///
    /// [`KernelError::NoKeys`], [`KernelError::UnknownColumn`],
    /// [`KernelError::UnsupportedKeyType`], [`KernelError::TooManyRows`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::JoinTable;
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
    /// let right = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![Some(1), None, Some(1)]))])?;
    /// let table = JoinTable::build(&right, &["id"])?;
    /// assert_eq!((table.num_rows(), table.distinct_keys()), (3, 1)); // the null key is not indexed
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(right: &RecordBatch, on: &[&str]) -> Result<JoinTable, KernelError> {
        if on.is_empty() {
            return Err(KernelError::NoKeys { op: "join" });
        }
        let schema = right.schema_ref();
        let keys = on
            .iter()
            .map(|&name| {
                let index = schema
                    .index_of(name)
                    .map_err(|_| KernelError::unknown(name, "right join key", schema))?;
                let column = right.column(index);
                if !supported_key(column.data_type()) {
                    return Err(KernelError::UnsupportedKeyType {
                        column: name.to_owned(),
                        data_type: column.data_type().clone(),
                    });
                }
                Ok(column.clone())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut index = KeyIndex::new(&keys)?;
        let mut ids = Vec::with_capacity(right.num_rows());
        index.assign(&keys, 0..right.num_rows(), NullKeys::Skip, &mut ids)?;
        let groups = index.groups();
        let mut sizes = vec![0u32; groups];
        for &g in ids.iter().filter(|&&g| g != NO_GROUP) {
            sizes[g as usize] += 1;
        }
        let matches = if sizes.iter().all(|&s| s == 1) {
            Matches::Unique
        } else {
            let mut offsets = Vec::with_capacity(groups + 1);
            offsets.push(0u32);
            let mut total = 0u32;
            for &s in &sizes {
                total += s;
                offsets.push(total);
            }
            let mut next = offsets[..groups].to_vec();
            let mut rows = vec![0u32; total as usize];
            for (row, &g) in ids.iter().enumerate() {
                if g != NO_GROUP {
                    let at = &mut next[g as usize];
                    rows[*at as usize] = row as u32;
                    *at += 1;
                }
            }
            Matches::Many { offsets, rows }
        };
        Ok(JoinTable {
            right: right.clone(),
            on: on.iter().map(|s| (*s).to_owned()).collect(),
            index,
            matches,
        })
    }

    /// Indexes the rows of several batches of `schema` (e.g. the partitions
    /// of a small table to broadcast).
    ///
    /// # Errors
    ///
    /// As [`JoinTable::build`], and [`KernelError::Arrow`] when a batch does
    /// not fit `schema`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::JoinTable;
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    /// let part = |v: Vec<i64>| RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(v))]);
    /// let table = JoinTable::build_from(&schema, &[part(vec![1, 2])?, part(vec![3])?], &["id"])?;
    /// assert_eq!(table.num_rows(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_from(
        schema: &SchemaRef,
        batches: &[RecordBatch],
        on: &[&str],
    ) -> Result<JoinTable, KernelError> {
        let right = arrow_select::concat::concat_batches(schema, batches)
            .map_err(KernelError::arrow("concatenating the build side of a join"))?;
        JoinTable::build(&right, on)
    }

    /// The build side's schema.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::JoinTable;
    /// let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    /// let right = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1]))])?;
    /// assert_eq!(JoinTable::build(&right, &["id"])?.schema(), schema);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn schema(&self) -> SchemaRef {
        self.right.schema()
    }

    /// The build side's key columns.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::JoinTable;
    /// let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    /// let right = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1]))])?;
    /// assert_eq!(JoinTable::build(&right, &["id"])?.on(), ["id"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on(&self) -> &[String] {
        &self.on
    }

    /// The number of build rows (null keys included).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::JoinTable;
    /// let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    /// let right = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 1]))])?;
    /// assert_eq!(JoinTable::build(&right, &["id"])?.num_rows(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn num_rows(&self) -> usize {
        self.right.num_rows()
    }

    /// The number of distinct non-null keys.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::JoinTable;
    /// let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    /// let right = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 1, 2]))])?;
    /// assert_eq!(JoinTable::build(&right, &["id"])?.distinct_keys(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn distinct_keys(&self) -> usize {
        self.index.groups()
    }

    /// Joins `left` (the probe side) with the table on
    /// `left_on[i] = on[i]`: the columns of `left`, then the build side's
    /// non-key columns, named and typed as [`join_schema`] says.
    ///
    /// # Errors
    ///
    /// As [`join_schema`], checked before any row is probed.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Array, Int64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::array::cast::AsArray;
    /// use flotilla_dataframe::arrow::array::types::Int64Type;
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::{JoinKind, JoinTable};
    ///
    /// let batch = |names: [&str; 2], a: Vec<Option<i64>>, b: Vec<i64>| {
    ///     RecordBatch::try_new(
    ///         Arc::new(Schema::new(vec![
    ///             Field::new(names[0], DataType::Int64, true),
    ///             Field::new(names[1], DataType::Int64, false),
    ///         ])),
    ///         vec![Arc::new(Int64Array::from(a)), Arc::new(Int64Array::from(b))],
    ///     )
    /// };
    /// let right = batch(["k", "v"], vec![Some(1), Some(1), None], vec![10, 11, 12])?;
    /// let left = batch(["k", "v"], vec![Some(1), None, Some(2)], vec![0, 1, 2])?;
    /// let table = JoinTable::build(&right, &["k"])?;
    ///
    /// let inner = table.probe(&left, &["k"], JoinKind::Inner)?;
    /// assert_eq!(inner.num_rows(), 2); // key 1 twice; null keys never match
    /// assert_eq!(inner.schema().field(2).name(), "v_right");
    ///
    /// let outer = table.probe(&left, &["k"], JoinKind::Left)?;
    /// assert_eq!(outer.num_rows(), 4);
    /// assert_eq!(outer.column(2).null_count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn probe(
        &self,
        left: &RecordBatch,
        left_on: &[&str],
        kind: JoinKind,
    ) -> Result<RecordBatch, KernelError> {
        self.probe_as(left, left_on, kind, false)
    }

    /// As [`JoinTable::probe`], but the build side's `Utf8`, `LargeUtf8`,
    /// `Binary` and `LargeBinary` columns come out as `Dictionary(Int32, _)`
    /// arrays whose values are the build column itself (shared, not copied)
    /// and whose keys are the matched build rows (null where the row has no
    /// match or its string is null, so `null_count` tells the truth); see
    /// [`dictionary_join_schema`]. Cheap to make, and fast to group by.
    ///
    /// # Errors
    ///
    /// As [`join_schema`]; [`KernelError::TooManyRows`] when the build side
    /// has more than `i32::MAX` rows.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch, StringArray};
    /// use flotilla_dataframe::arrow::array::cast::AsArray;
    /// use flotilla_dataframe::arrow::array::types::Int32Type;
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::kernels::{JoinKind, JoinTable};
    ///
    /// let genres = RecordBatch::try_new(
    ///     Arc::new(Schema::new(vec![
    ///         Field::new("id", DataType::Int64, false),
    ///         Field::new("genre", DataType::Utf8, false),
    ///     ])),
    ///     vec![Arc::new(Int64Array::from(vec![7, 8])), Arc::new(StringArray::from(vec!["noir", "western"]))],
    /// )?;
    /// let left = RecordBatch::try_new(
    ///     Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)])),
    ///     vec![Arc::new(Int64Array::from(vec![8, 8, 7]))],
    /// )?;
    /// let joined = JoinTable::build(&genres, &["id"])?.probe_dictionary(&left, &["id"], JoinKind::Inner)?;
    /// let genre = joined.column(1).as_dictionary::<Int32Type>();
    /// assert_eq!(genre.keys().values(), &[1, 1, 0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn probe_dictionary(
        &self,
        left: &RecordBatch,
        left_on: &[&str],
        kind: JoinKind,
    ) -> Result<RecordBatch, KernelError> {
        if self.right.num_rows() > i32::MAX as usize {
            return Err(KernelError::TooManyRows {
                op: "a join with dictionary output",
                rows: self.right.num_rows() as u64,
                limit: i32::MAX as u64,
            });
        }
        self.probe_as(left, left_on, kind, true)
    }

    fn probe_as(
        &self,
        left: &RecordBatch,
        left_on: &[&str],
        kind: JoinKind,
        dictionary: bool,
    ) -> Result<RecordBatch, KernelError> {
        let on: Vec<&str> = self.on.iter().map(String::as_str).collect();
        let plan = plan(
            left.schema_ref(),
            self.right.schema_ref(),
            left_on,
            &on,
            kind,
            dictionary,
        )?;
        let keys: Vec<ArrayRef> = plan
            .left_keys
            .iter()
            .map(|&i| left.column(i).clone())
            .collect();
        let rows = left.num_rows();
        let first_rows = self.index.first_rows();
        // Left row of each output row (`None`: every left row once, in order).
        let mut left_rows: Option<Vec<u32>> = None;
        let mut right_rows: Vec<u32> = Vec::with_capacity(rows);
        let mut nulls: Option<NullBuffer> = None;
        match &self.matches {
            Matches::Unique => {
                // One pass writes the match of every left row (NO_GROUP for
                // none); rows without a match, rare in a lookup join, are
                // dealt with after.
                let mut missing = 0usize;
                self.index.probe(&keys, |_, g| {
                    if g != NO_GROUP {
                        right_rows.push(first_rows[g as usize]);
                    } else {
                        right_rows.push(NO_GROUP);
                        missing += 1;
                    }
                })?;
                if missing > 0 {
                    match kind {
                        JoinKind::Inner => {
                            left_rows = Some(
                                (0..rows as u32)
                                    .zip(&right_rows)
                                    .filter(|(_, &r)| r != NO_GROUP)
                                    .map(|(l, _)| l)
                                    .collect(),
                            );
                            right_rows.retain(|&r| r != NO_GROUP);
                        }
                        JoinKind::Left => {
                            nulls = Some(right_rows.iter().map(|&r| r != NO_GROUP).collect());
                            for r in right_rows.iter_mut().filter(|r| **r == NO_GROUP) {
                                *r = 0;
                            }
                        }
                    }
                }
            }
            Matches::Many {
                offsets,
                rows: build_rows,
            } => {
                let mut lefts = Vec::with_capacity(rows);
                let mut valid = NullBufferBuilder::new(rows);
                self.index.probe(&keys, |i, g| {
                    if g != NO_GROUP {
                        let group = &build_rows
                            [offsets[g as usize] as usize..offsets[g as usize + 1] as usize];
                        for &r in group {
                            lefts.push(i as u32);
                            right_rows.push(r);
                            valid.append_non_null();
                        }
                    } else if kind == JoinKind::Left {
                        lefts.push(i as u32);
                        right_rows.push(0);
                        valid.append_null();
                    }
                })?;
                nulls = valid.finish();
                let in_order = lefts.len() == rows && lefts.windows(2).all(|w| w[0] < w[1]);
                if !in_order {
                    left_rows = Some(lefts);
                }
            }
        }
        let out_rows = right_rows.len();
        let mut columns: Vec<ArrayRef> = match left_rows {
            None => left.columns().to_vec(),
            Some(lefts) => {
                let indices = UInt32Array::from(lefts);
                left.columns()
                    .iter()
                    .map(|c| {
                        arrow_select::take::take(c.as_ref(), &indices, None)
                            .map_err(KernelError::arrow("taking the left rows of a join"))
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let right_buffer = Buffer::from_vec(right_rows);
        let indices = UInt32Array::new(
            ScalarBuffer::new(right_buffer.clone(), 0, out_rows),
            nulls.clone(),
        );
        for &i in &plan.right_payload {
            let column = self.right.column(i);
            let out: ArrayRef = if dictionary && is_byte_type(column.data_type()) {
                // Build rows are below i32::MAX (checked), so the u32 row
                // numbers are valid i32 keys, bit for bit.
                let rows = ScalarBuffer::<i32>::new(right_buffer.clone(), 0, out_rows);
                // A null string is a null key, not a key to a null value.
                let key_nulls = match column.nulls().filter(|n| n.null_count() > 0) {
                    None => nulls.clone(),
                    Some(values) => {
                        let valid = rows.iter().enumerate().map(|(i, &r)| {
                            nulls.as_ref().is_none_or(|n| n.is_valid(i))
                                && values.is_valid(r as usize)
                        });
                        Some(NullBuffer::from_iter(valid))
                    }
                };
                let keys = Int32Array::new(rows, key_nulls);
                Arc::new(
                    DictionaryArray::<Int32Type>::try_new(keys, column.clone())
                        .map_err(KernelError::arrow("making a dictionary column"))?,
                )
            } else {
                arrow_select::take::take(column.as_ref(), &indices, None)
                    .map_err(KernelError::arrow("taking the right rows of a join"))?
            };
            columns.push(out);
        }
        RecordBatch::try_new_with_options(
            plan.schema,
            columns,
            &RecordBatchOptions::new().with_row_count(Some(out_rows)),
        )
        .map_err(KernelError::arrow("assembling a join result"))
    }
}
