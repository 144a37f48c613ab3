//! Portable plans: a frame's lineage as data, for the workers of a cluster.
//!
//! # Design
//!
//! In-process, a frame is a task graph of closures. A worker process of a
//! cluster cannot receive a closure — but it runs a copy of the same
//! binary, with the same kernels. So every frame also keeps, beside its
//! graph, its [`FramePlan`]: where its partitions come from (the byte ranges
//! of CSV files, batches in memory) and what was done to them
//! (per-partition [`Step`]s, group-bys, joins), as values that serialize.
//! `flotilla`'s cluster executor turns a plan into tasks of the cluster's
//! scheduler; each task, on its worker, calls the functions of this module
//! ([`Step::apply`], [`Reduction::partial`], [`GroupSpec::kernel`],
//! [`JoinSpec::join`]), which are the code the in-process frame runs too.
//! Partitions travel between workers as Arrow IPC streams
//! ([`encode_batch`], [`decode_batch`]).
//!
//! An operation without a portable form — a Rust closure
//! (`map_partitions`, [`Expr::map`]), a sort, a repartition, a frame read
//! from Parquet or JSON lines — leaves the frame without a plan:
//! [`DataFrame::plan`] then names that operation
//! ([`DataFrameError::LocalOnly`]), and the frame still runs in-process.
//!
//! ```
//! use flotilla_dataframe::portable::{FramePlan, Step};
//! use flotilla_dataframe::{col, DataFrame};
//!
//! let df = DataFrame::from_columns(vec![("t", vec![10.0, 20.0].into())], 2)?;
//! let hot = df.filter(col("t").gt(15.0))?;
//! match &*hot.plan()? {
//!     FramePlan::Steps { steps, .. } => assert!(matches!(steps[0], Step::Filter(_))),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), flotilla_dataframe::DataFrameError>(())
//! ```

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow_array::{BooleanArray, RecordBatch, RecordBatchOptions};
use arrow_buffer::Buffer;
use arrow_ipc::reader::{StreamDecoder, StreamReader};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use super::expr::{not_found, Expr};
use super::io::CsvSource;
use super::kernels::{GroupBy, JoinKind, JoinTable};
use super::stats::column_stats;
use super::{ColumnStats, DataFrame, DataFrameError, JoinStrategy};

/// A frame's plan, or the operation that left it without one.
pub(crate) type Portable = Result<Arc<FramePlan>, Arc<str>>;

/// Where a frame's partitions come from and what was done to them, as
/// data: what a cluster worker needs to compute them. Made by the frame's
/// operations; read with [`DataFrame::plan`].
///
/// ```
/// use flotilla_dataframe::portable::FramePlan;
/// use flotilla_dataframe::DataFrame;
///
/// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
/// assert!(matches!(&*df.plan()?, FramePlan::Batches(b) if b.len() == 2));
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FramePlan {
    /// One partition per byte range of CSV files (a path every worker can
    /// read).
    Csv(CsvSource),
    /// Partitions held in memory, sent to the workers with the tasks.
    Batches(Vec<RecordBatch>),
    /// Partitions computed and held elsewhere (in the stores of a
    /// cluster's workers), by a handle of the executor that holds them.
    Held(HeldPartitions),
    /// Per-partition steps, run in order in the task that reads each
    /// partition of `input`.
    Steps {
        /// The frame the steps apply to.
        input: Arc<FramePlan>,
        /// The steps, in order.
        steps: Vec<Step>,
    },
    /// A group-by aggregation: a tree of merges (`split_out == 1`, one
    /// output partition), or a shuffle of the partials into `split_out`
    /// partitions.
    GroupBy {
        /// The frame grouped.
        input: Arc<FramePlan>,
        /// The keys and aggregations.
        group: GroupSpec,
        /// The number of output partitions.
        split_out: usize,
        /// The fan-in of the tree of merges.
        split_every: usize,
    },
    /// A join of two frames, broadcasting the right side or shuffling both.
    Join {
        /// The left (probing) side.
        left: Arc<FramePlan>,
        /// The right (building) side.
        right: Arc<FramePlan>,
        /// The keys, the kind and the schemas.
        join: JoinSpec,
        /// Broadcast or shuffle, as the in-process frame chose.
        strategy: JoinStrategy,
    },
    /// The partitions of `input`, each computed by a task of its own whose
    /// result is kept in `checkpoint` (a folder every worker can reach) and
    /// read back from there when it was kept
    /// ([`DataFrame::checkpoint`](crate::DataFrame::checkpoint)).
    Checkpoint {
        /// The frame kept.
        input: Arc<FramePlan>,
        /// Where its partitions are kept.
        checkpoint: flotilla_local::Checkpoint,
    },
}

impl FramePlan {
    /// `self` followed by `step`: appended to a run of steps, or the first
    /// of a new one.
    pub(crate) fn then(self: &Arc<FramePlan>, step: Step) -> Arc<FramePlan> {
        match &**self {
            FramePlan::Steps { input, steps } => {
                let mut steps = steps.clone();
                steps.push(step);
                Arc::new(FramePlan::Steps {
                    input: Arc::clone(input),
                    steps,
                })
            }
            _ => Arc::new(FramePlan::Steps {
                input: Arc::clone(self),
                steps: vec![step],
            }),
        }
    }
}

/// Partitions computed and held elsewhere — in the stores of a cluster's
/// workers, say — named by a handle that only the executor that made it
/// reads (it downcasts it). Made with [`DataFrame::from_held`].
///
/// ```
/// use std::sync::Arc;
/// use flotilla_dataframe::portable::HeldPartitions;
///
/// let held = HeldPartitions::new(Arc::new(vec!["part-0", "part-1"]), 2);
/// assert_eq!(held.len(), 2);
/// assert!(held.handle().downcast_ref::<Vec<&str>>().is_some());
/// ```
#[derive(Clone)]
pub struct HeldPartitions {
    handle: Arc<dyn Any + Send + Sync>,
    count: usize,
}

impl fmt::Debug for HeldPartitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeldPartitions({})", self.count)
    }
}

impl HeldPartitions {
    /// `count` partitions named by `handle`.
    ///
    /// ```
    /// let held = flotilla_dataframe::portable::HeldPartitions::new(std::sync::Arc::new(()), 0);
    /// assert!(held.is_empty());
    /// ```
    pub fn new(handle: Arc<dyn Any + Send + Sync>, count: usize) -> HeldPartitions {
        HeldPartitions { handle, count }
    }

    /// The handle, for the executor that made it to downcast.
    ///
    /// ```
    /// let held = flotilla_dataframe::portable::HeldPartitions::new(std::sync::Arc::new(7u8), 1);
    /// assert_eq!(held.handle().downcast_ref::<u8>(), Some(&7));
    /// ```
    pub fn handle(&self) -> &(dyn Any + Send + Sync) {
        &*self.handle
    }

    /// The number of partitions.
    ///
    /// ```
    /// let held = flotilla_dataframe::portable::HeldPartitions::new(std::sync::Arc::new(()), 3);
    /// assert_eq!(held.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no partitions.
    ///
    /// ```
    /// let held = flotilla_dataframe::portable::HeldPartitions::new(std::sync::Arc::new(()), 3);
    /// assert!(!held.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// One per-partition step of a [`FramePlan`].
///
/// ```
/// use flotilla_dataframe::portable::Step;
/// use flotilla_dataframe::{col, DataFrame};
///
/// let df = DataFrame::from_columns(vec![("c", vec![0.0, 100.0].into())], 1)?;
/// let batch = df.compute()?;
/// let f = Step::WithColumn { name: "f".into(), expr: col("c") * 9 / 5 + 32 };
/// let out = f.apply(batch)?;
/// assert_eq!(out.num_columns(), 2);
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Step {
    /// Keep these columns, in this order.
    Select(Vec<String>),
    /// Add (or replace) column `name` with the values of `expr`.
    WithColumn {
        /// The column's name.
        name: String,
        /// Its values.
        expr: Expr,
    },
    /// Keep the rows where the boolean expression is true.
    Filter(Expr),
}

impl Step {
    /// The step's name in task keys and errors (`select`, `with_column`,
    /// `filter`).
    ///
    /// ```
    /// assert_eq!(flotilla_dataframe::portable::Step::Select(vec![]).name(), "select");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Step::Select(_) => "select",
            Step::WithColumn { .. } => "with_column",
            Step::Filter(_) => "filter",
        }
    }

    /// Runs the step on one partition.
    ///
    /// ```
    /// use flotilla_dataframe::portable::Step;
    /// use flotilla_dataframe::{col, DataFrame};
    ///
    /// let batch = DataFrame::from_columns(vec![("x", vec![1i64, 5].into())], 1)?.compute()?;
    /// let kept = Step::Filter(col("x").gt(2)).apply(batch)?;
    /// assert_eq!(kept.num_rows(), 1);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// An unknown column, an expression that fails on the data (an
    /// overflow, a cast that does not fit), a filter that is not boolean.
    pub fn apply(&self, b: RecordBatch) -> Result<RecordBatch, DataFrameError> {
        match self {
            Step::Select(names) => {
                let schema = b.schema();
                let indices = names
                    .iter()
                    .map(|n| schema.index_of(n).map_err(|_| not_found(&schema, n)))
                    .collect::<Result<Vec<usize>, _>>()?;
                b.project(&indices)
                    .map_err(|e| DataFrameError::arrow("select", e))
            }
            Step::WithColumn { name, expr } => {
                let values = expr.evaluate(&b)?.into_array(b.num_rows())?;
                let field = Arc::new(Field::new(name, values.data_type().clone(), true));
                let schema = b.schema();
                let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
                let mut columns = b.columns().to_vec();
                match schema.index_of(name).ok() {
                    Some(i) => (fields[i], columns[i]) = (field, values),
                    None => {
                        fields.push(field);
                        columns.push(values);
                    }
                }
                let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
                RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)
                    .map_err(|e| DataFrameError::arrow(format!("with_column {name:?}"), e))
            }
            Step::Filter(predicate) => {
                let mask = predicate.evaluate(&b)?.into_array(b.num_rows())?;
                let mask = mask
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .ok_or_else(|| {
                        DataFrameError::types(
                            format!("filter({predicate})"),
                            format!(
                                "a filter needs a boolean expression, found {}",
                                mask.data_type()
                            ),
                        )
                    })?;
                arrow_select::filter::filter_record_batch(&b, mask)
                    .map_err(|e| DataFrameError::arrow(format!("filter({predicate})"), e))
            }
        }
    }
}

/// The keys and aggregations of a group-by, with the schema of the frame
/// grouped: what a worker needs to make its [`GroupBy`] kernel.
///
/// ```
/// use flotilla_dataframe::{kernels::Agg, portable::GroupSpec, DataFrame};
///
/// let df = DataFrame::from_columns(vec![("k", vec![1i64, 1, 2].into()), ("x", vec![1.0, 2.0, 3.0].into())], 1)?;
/// let spec = GroupSpec::new(df.schema(), &["k"], &[Agg::sum("x")]);
/// let kernel = spec.kernel()?;
/// let out = kernel.finish(&kernel.partial(&df.compute()?)?)?;
/// assert_eq!(out.num_rows(), 2);
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSpec {
    #[serde(with = "schema_ipc")]
    input: SchemaRef,
    keys: Vec<String>,
    aggs: Vec<super::kernels::Agg>,
}

impl GroupSpec {
    /// The group-by of `input` (the grouped frame's schema) by `keys`.
    ///
    /// ```
    /// # use flotilla_dataframe::{kernels::Agg, portable::GroupSpec, DataFrame};
    /// # let df = DataFrame::from_columns(vec![("k", vec![1i64].into())], 1)?;
    /// let spec = GroupSpec::new(df.schema(), &["k"], &[Agg::count("k")]);
    /// assert_eq!(spec.keys(), ["k"]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn new(input: SchemaRef, keys: &[&str], aggs: &[super::kernels::Agg]) -> GroupSpec {
        GroupSpec {
            input,
            keys: keys.iter().map(|k| k.to_string()).collect(),
            aggs: aggs.to_vec(),
        }
    }

    /// The key columns.
    ///
    /// ```
    /// # use flotilla_dataframe::{kernels::Agg, portable::GroupSpec, DataFrame};
    /// # let df = DataFrame::from_columns(vec![("k", vec![1i64].into())], 1)?;
    /// assert_eq!(GroupSpec::new(df.schema(), &["k"], &[]).keys(), ["k"]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The kernel: partials, merges, and the final aggregates.
    ///
    /// # Errors
    ///
    /// An unknown column or an aggregation its type does not allow (which
    /// the frame checked when it was built).
    ///
    /// ```
    /// # use flotilla_dataframe::{kernels::Agg, portable::GroupSpec, DataFrame};
    /// # let df = DataFrame::from_columns(vec![("k", vec![1i64].into())], 1)?;
    /// let kernel = GroupSpec::new(df.schema(), &["k"], &[Agg::count("k")]).kernel()?;
    /// assert_eq!(kernel.output_schema().fields().len(), 2);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn kernel(&self) -> Result<GroupBy, DataFrameError> {
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        Ok(GroupBy::new(&self.input, &keys, &self.aggs)?)
    }
}

/// A checked join: its keys, its kind, the schemas of both sides and of
/// the output, and whether strings of the right side come out as
/// dictionaries.
///
/// ```
/// use flotilla_dataframe::kernels::JoinKind;
/// use flotilla_dataframe::{DataFrame, JoinOptions};
///
/// let l = DataFrame::from_columns(vec![("id", vec![1i64, 2].into())], 1)?;
/// let r = DataFrame::from_columns(vec![("id", vec![2i64].into()), ("name", vec!["b"].into())], 1)?;
/// let joined = l.join_with(&r, &["id"], &["id"], JoinOptions::new(JoinKind::Inner))?;
/// match &*joined.plan()? {
///     flotilla_dataframe::portable::FramePlan::Join { join, .. } => {
///         let out = join.join(&[l.compute()?], &[r.compute()?])?;
///         assert_eq!(out.num_rows(), 1);
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinSpec {
    #[serde(with = "schema_ipc")]
    pub(crate) schema: SchemaRef,
    #[serde(with = "schema_ipc")]
    pub(crate) left_schema: SchemaRef,
    #[serde(with = "schema_ipc")]
    pub(crate) right_schema: SchemaRef,
    pub(crate) left_on: Vec<String>,
    pub(crate) right_on: Vec<String>,
    pub(crate) kind: JoinKind,
    pub(crate) dictionary: bool,
}

impl JoinSpec {
    /// The joined frame's schema.
    ///
    /// ```
    /// # use flotilla_dataframe::{kernels::JoinKind, DataFrame, JoinOptions};
    /// # let l = DataFrame::from_columns(vec![("id", vec![1i64].into())], 1)?;
    /// # let joined = l.join_with(&l, &["id"], &["id"], JoinOptions::new(JoinKind::Inner))?;
    /// if let flotilla_dataframe::portable::FramePlan::Join { join, .. } = &*joined.plan()? {
    ///     assert_eq!(join.schema().fields().len(), 1);
    /// }
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The key columns of the left side.
    ///
    /// ```
    /// # use flotilla_dataframe::{kernels::JoinKind, DataFrame, JoinOptions};
    /// # let l = DataFrame::from_columns(vec![("id", vec![1i64].into())], 1)?;
    /// # let joined = l.join_with(&l, &["id"], &["id"], JoinOptions::new(JoinKind::Inner))?;
    /// if let flotilla_dataframe::portable::FramePlan::Join { join, .. } = &*joined.plan()? {
    ///     assert_eq!(join.left_on(), ["id"]);
    /// }
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn left_on(&self) -> &[String] {
        &self.left_on
    }

    /// The key columns of the right side.
    ///
    /// ```
    /// # use flotilla_dataframe::{kernels::JoinKind, DataFrame, JoinOptions};
    /// # let l = DataFrame::from_columns(vec![("id", vec![1i64].into())], 1)?;
    /// # let joined = l.join_with(&l, &["id"], &["id"], JoinOptions::new(JoinKind::Inner))?;
    /// if let flotilla_dataframe::portable::FramePlan::Join { join, .. } = &*joined.plan()? {
    ///     assert_eq!(join.right_on(), ["id"]);
    /// }
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn right_on(&self) -> &[String] {
        &self.right_on
    }

    /// The hash table of the right side's `batches`.
    ///
    /// # Errors
    ///
    /// A key type the join does not take.
    ///
    /// ```
    /// # use flotilla_dataframe::{kernels::JoinKind, DataFrame, JoinOptions};
    /// # let l = DataFrame::from_columns(vec![("id", vec![1i64].into())], 1)?;
    /// # let joined = l.join_with(&l, &["id"], &["id"], JoinOptions::new(JoinKind::Inner))?;
    /// if let flotilla_dataframe::portable::FramePlan::Join { join, .. } = &*joined.plan()? {
    ///     assert_eq!(join.table(&[l.compute()?])?.num_rows(), 1);
    /// }
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn table(&self, batches: &[RecordBatch]) -> Result<JoinTable, DataFrameError> {
        let on: Vec<&str> = self.right_on.iter().map(String::as_str).collect();
        Ok(JoinTable::build_from(&self.right_schema, batches, &on)?)
    }

    /// The rows of `left` joined with `table`.
    ///
    /// # Errors
    ///
    /// A key of the wrong type, a right side too large for dictionary
    /// output.
    ///
    /// ```
    /// # use flotilla_dataframe::{kernels::JoinKind, DataFrame, JoinOptions};
    /// # let l = DataFrame::from_columns(vec![("id", vec![1i64].into())], 1)?;
    /// # let joined = l.join_with(&l, &["id"], &["id"], JoinOptions::new(JoinKind::Inner))?;
    /// if let flotilla_dataframe::portable::FramePlan::Join { join, .. } = &*joined.plan()? {
    ///     let table = join.table(&[l.compute()?])?;
    ///     assert_eq!(join.probe(&table, &l.compute()?)?.num_rows(), 1);
    /// }
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn probe(
        &self,
        table: &JoinTable,
        left: &RecordBatch,
    ) -> Result<RecordBatch, DataFrameError> {
        let on: Vec<&str> = self.left_on.iter().map(String::as_str).collect();
        Ok(if self.dictionary {
            table.probe_dictionary(left, &on, self.kind)?
        } else {
            table.probe(left, &on, self.kind)?
        })
    }

    /// The join of the left side's `left` batches with the right side's
    /// `right` batches (a shuffled join's task, or a whole small join).
    ///
    /// # Errors
    ///
    /// As [`table`](JoinSpec::table) and [`probe`](JoinSpec::probe).
    ///
    /// ```
    /// # use flotilla_dataframe::{kernels::JoinKind, DataFrame, JoinOptions};
    /// # let l = DataFrame::from_columns(vec![("id", vec![1i64, 1].into())], 1)?;
    /// # let joined = l.join_with(&l, &["id"], &["id"], JoinOptions::new(JoinKind::Inner))?;
    /// if let flotilla_dataframe::portable::FramePlan::Join { join, .. } = &*joined.plan()? {
    ///     assert_eq!(join.join(&[l.compute()?], &[l.compute()?])?.num_rows(), 4);
    /// }
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn join(
        &self,
        left: &[RecordBatch],
        right: &[RecordBatch],
    ) -> Result<RecordBatch, DataFrameError> {
        let table = self.table(right)?;
        let left = arrow_select::concat::concat_batches(&self.left_schema, left)
            .map_err(|e| DataFrameError::arrow("gathering a join's left side", e))?;
        self.probe(&table, &left)
    }
}

/// A whole-frame reduction that a worker computes per partition and the
/// client combines: the row count, or the statistics of a column.
///
/// ```
/// use flotilla_dataframe::portable::{Reduced, Reduction};
/// use flotilla_dataframe::DataFrame;
///
/// let batch = DataFrame::from_columns(vec![("x", vec![1.0, 3.0].into())], 1)?.compute()?;
/// let Reduced::Stats(s) = Reduction::Stats("x".into()).partial(&batch)? else { unreachable!() };
/// assert_eq!(s.mean(), Some(2.0));
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Reduction {
    /// The number of rows.
    Rows,
    /// Count, sum, mean, min, max and variance of a numeric column.
    Stats(String),
}

/// A [`Reduction`]'s value: of one partition, or combined.
///
/// ```
/// use flotilla_dataframe::portable::{Reduced, Reduction};
/// let total = Reduction::Rows.combine(vec![Reduced::Rows(2), Reduced::Rows(3)])?;
/// assert_eq!(total, Reduced::Rows(5));
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Reduced {
    /// A row count.
    Rows(u64),
    /// A column's statistics.
    Stats(ColumnStats),
}

impl Reduction {
    /// The reduction of one partition.
    ///
    /// # Errors
    ///
    /// An unknown or non-numeric column.
    ///
    /// ```
    /// # use flotilla_dataframe::portable::{Reduced, Reduction};
    /// # let batch = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64].into())], 1)?.compute()?;
    /// assert_eq!(Reduction::Rows.partial(&batch)?, Reduced::Rows(1));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn partial(&self, batch: &RecordBatch) -> Result<Reduced, DataFrameError> {
        Ok(match self {
            Reduction::Rows => Reduced::Rows(batch.num_rows() as u64),
            Reduction::Stats(column) => {
                let schema = batch.schema();
                let i = schema
                    .index_of(column)
                    .map_err(|_| not_found(&schema, column))?;
                Reduced::Stats(column_stats(batch, i, column)?)
            }
        })
    }

    /// Partials combined into one value (the value of no partition for
    /// none).
    ///
    /// # Errors
    ///
    /// [`DataFrameError::Internal`] for a partial of another reduction.
    ///
    /// ```
    /// # use flotilla_dataframe::portable::{Reduced, Reduction};
    /// assert_eq!(Reduction::Rows.combine(vec![])?, Reduced::Rows(0));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn combine(&self, parts: Vec<Reduced>) -> Result<Reduced, DataFrameError> {
        let mismatch =
            || DataFrameError::Internal(format!("a partial of another reduction than {self:?}"));
        match self {
            Reduction::Rows => parts
                .into_iter()
                .try_fold(0u64, |n, p| match p {
                    Reduced::Rows(m) => Ok(n + m),
                    Reduced::Stats(_) => Err(mismatch()),
                })
                .map(Reduced::Rows),
            Reduction::Stats(_) => parts
                .into_iter()
                .try_fold(ColumnStats::default(), |acc, p| match p {
                    Reduced::Stats(s) => Ok(ColumnStats::merge(acc, s)),
                    Reduced::Rows(_) => Err(mismatch()),
                })
                .map(Reduced::Stats),
        }
    }
}

/// What turns a combined [`Reduced`] into a scalar's value, on the client.
type Finish<A> = Arc<dyn Fn(Reduced) -> Result<A, DataFrameError> + Send + Sync>;

/// The portable form of a [`Scalar`](super::Scalar): a reduction of a
/// frame's plan, and what turns its combined value into the scalar's.
/// Read with [`Scalar::plan`](super::Scalar::plan).
///
/// ```
/// use flotilla_dataframe::portable::{Reduced, Reduction};
/// use flotilla_dataframe::DataFrame;
///
/// let df = DataFrame::from_columns(vec![("x", vec![1.0, 3.0].into())], 2)?;
/// let plan = df.mean("x")?.plan()?;
/// assert_eq!(plan.reduction(), &Reduction::Stats("x".into()));
/// let batch = df.compute()?;
/// let combined = plan.reduction().combine(vec![plan.reduction().partial(&batch)?])?;
/// assert_eq!(plan.finish(combined)?, Some(2.0));
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
pub struct ScalarPlan<A> {
    frame: Arc<FramePlan>,
    reduction: Reduction,
    finish: Finish<A>,
}

impl<A> fmt::Debug for ScalarPlan<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScalarPlan")
            .field("frame", &self.frame)
            .field("reduction", &self.reduction)
            .finish()
    }
}

impl<A: 'static> ScalarPlan<A> {
    pub(crate) fn new(
        frame: Arc<FramePlan>,
        reduction: Reduction,
        finish: impl Fn(Reduced) -> Result<A, DataFrameError> + Send + Sync + 'static,
    ) -> ScalarPlan<A> {
        ScalarPlan {
            frame,
            reduction,
            finish: Arc::new(finish),
        }
    }

    /// The plan whose value then goes through `f`.
    pub(crate) fn map<B: 'static>(
        &self,
        f: impl Fn(A) -> B + Send + Sync + 'static,
    ) -> ScalarPlan<B> {
        let finish = Arc::clone(&self.finish);
        ScalarPlan {
            frame: Arc::clone(&self.frame),
            reduction: self.reduction.clone(),
            finish: Arc::new(move |r| finish(r).map(&f)),
        }
    }

    /// The frame reduced.
    ///
    /// ```
    /// # let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64].into())], 1)?;
    /// assert!(matches!(&**df.count().plan()?.frame(), flotilla_dataframe::portable::FramePlan::Batches(_)));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn frame(&self) -> &Arc<FramePlan> {
        &self.frame
    }

    /// The reduction computed per partition.
    ///
    /// ```
    /// # let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64].into())], 1)?;
    /// use flotilla_dataframe::portable::Reduction;
    /// assert_eq!(df.count().plan()?.reduction(), &Reduction::Rows);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn reduction(&self) -> &Reduction {
        &self.reduction
    }

    /// The scalar's value from the combined reduction.
    ///
    /// # Errors
    ///
    /// A combined value of another reduction ([`DataFrameError::Internal`]).
    ///
    /// ```
    /// # let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64].into())], 1)?;
    /// use flotilla_dataframe::portable::Reduced;
    /// assert_eq!(df.count().plan()?.finish(Reduced::Rows(7))?, 7);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn finish(&self, combined: Reduced) -> Result<A, DataFrameError> {
        (self.finish)(combined)
    }
}

/// A batch as an Arrow IPC stream (its schema, then the batch).
///
/// # Errors
///
/// [`DataFrameError::Arrow`] when Arrow cannot write the batch.
///
/// ```
/// use flotilla_dataframe::portable::{decode_batch, encode_batch};
/// let batch = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 1)?.compute()?;
/// assert_eq!(decode_batch(&encode_batch(&batch)?)?, batch);
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>, DataFrameError> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() + 512);
    write_batch(batch, &mut out)?;
    Ok(out)
}

/// [`encode_batch`], appending the stream to `out` (after a header of
/// the caller's, say).
///
/// # Errors
///
/// As [`encode_batch`].
///
/// ```
/// use flotilla_dataframe::portable::{decode_batch, write_batch};
/// let batch = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64].into())], 1)?.compute()?;
/// let mut out = b"head".to_vec();
/// write_batch(&batch, &mut out)?;
/// assert_eq!(decode_batch(&out[4..])?, batch);
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
pub fn write_batch(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), DataFrameError> {
    let arrow = |e| DataFrameError::arrow("encoding a partition as Arrow IPC", e);
    let mut writer = StreamWriter::try_new(out, &batch.schema()).map_err(arrow)?;
    writer.write(batch).map_err(arrow)?;
    writer.finish().map_err(arrow)
}

/// A batch back from [`encode_batch`]'s bytes (an empty batch of the
/// stream's schema if it holds none; several concatenated).
///
/// # Errors
///
/// [`DataFrameError::Arrow`] for bytes that are not an Arrow IPC stream,
/// or a stream cut short.
///
/// ```
/// let err = flotilla_dataframe::portable::decode_batch(b"not arrow").unwrap_err();
/// assert!(err.to_string().contains("Arrow IPC"));
/// ```
pub fn decode_batch(bytes: &[u8]) -> Result<RecordBatch, DataFrameError> {
    let arrow = |e| DataFrameError::arrow("decoding a partition from Arrow IPC", e);
    let reader = StreamReader::try_new(bytes, None).map_err(arrow)?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(arrow)?;
    match batches.len() {
        1 => Ok(batches
            .into_iter()
            .next()
            .unwrap_or_else(|| RecordBatch::new_empty(schema))),
        _ => arrow_select::concat::concat_batches(&schema, &batches).map_err(arrow),
    }
}

/// A batch back from [`encode_batch`]'s bytes held in `buffer`, as
/// [`decode_batch`], without copying them: the batch's columns are views
/// of `buffer` where it is aligned for their types (a stream that starts at
/// an 8-byte boundary of an allocation is), copies where it is not.
///
/// # Errors
///
/// As [`decode_batch`].
///
/// ```
/// use std::sync::Arc;
/// use flotilla_dataframe::portable::{decode_batch_buffer, encode_batch};
/// use flotilla_dataframe::arrow::{array::Int64Array, buffer::Buffer};
/// use flotilla_dataframe::RecordBatch;
///
/// let batch = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2, 3])) as _)]).unwrap();
/// let bytes = encode_batch(&batch).unwrap();
/// let back = decode_batch_buffer(Buffer::from_vec(bytes)).unwrap();
/// assert_eq!(back, batch);
/// assert!(decode_batch_buffer(Buffer::from_vec(b"not arrow".to_vec())).is_err());
/// ```
pub fn decode_batch_buffer(mut buffer: Buffer) -> Result<RecordBatch, DataFrameError> {
    let arrow = |e| DataFrameError::arrow("decoding a partition from Arrow IPC", e);
    let mut decoder = StreamDecoder::new();
    let mut batches = Vec::with_capacity(1);
    while let Some(batch) = decoder.decode(&mut buffer).map_err(arrow)? {
        batches.push(batch);
    }
    decoder.finish().map_err(arrow)?;
    let schema = decoder
        .schema()
        .ok_or_else(|| DataFrameError::Invalid("an Arrow IPC stream without a schema".into()))?;
    match batches.len() {
        1 => Ok(batches
            .pop()
            .unwrap_or_else(|| RecordBatch::new_empty(schema))),
        0 => Ok(RecordBatch::new_empty(schema)),
        _ => arrow_select::concat::concat_batches(&schema, &batches).map_err(arrow),
    }
}

/// A portable value (a [`Step`], a [`CsvSource`], a [`GroupSpec`]...) as
/// bytes, as cluster tasks carry it.
///
/// # Errors
///
/// [`DataFrameError::Invalid`] for a value that does not serialize: an
/// expression holding a Rust closure.
///
/// ```
/// use flotilla_dataframe::portable::{from_bytes, to_bytes, Step};
/// use flotilla_dataframe::col;
///
/// let bytes = to_bytes(&Step::Filter(col("t").gt(15.0)))?;
/// let back: Step = from_bytes(&bytes)?;
/// assert_eq!(back.name(), "filter");
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
pub fn to_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, DataFrameError> {
    postcard::to_stdvec(value)
        .map_err(|e| DataFrameError::Invalid(format!("a plan does not encode: {e}")))
}

/// A portable value back from [`to_bytes`].
///
/// # Errors
///
/// [`DataFrameError::Invalid`] for bytes that do not decode as a `T`.
///
/// ```
/// let err = flotilla_dataframe::portable::from_bytes::<flotilla_dataframe::portable::Step>(&[99]);
/// assert!(err.is_err());
/// ```
pub fn from_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DataFrameError> {
    postcard::from_bytes(bytes)
        .map_err(|e| DataFrameError::Invalid(format!("a plan does not decode: {e}")))
}

/// Serde for schemas, as the Arrow IPC stream of an empty batch.
pub(crate) mod schema_ipc {
    use super::*;

    pub(crate) fn serialize<S: serde::Serializer>(
        schema: &SchemaRef,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let bytes = encode_batch(&RecordBatch::new_empty(Arc::clone(schema)))
            .map_err(serde::ser::Error::custom)?;
        s.serialize_bytes(&bytes)
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<SchemaRef, D::Error> {
        let bytes = Vec::<u8>::deserialize(d)?;
        Ok(decode_batch(&bytes)
            .map_err(serde::de::Error::custom)?
            .schema())
    }
}

/// Serde for data types, as the schema of one column.
pub(crate) mod data_type_ipc {
    use super::*;

    pub(crate) fn serialize<S: serde::Serializer>(t: &DataType, s: S) -> Result<S::Ok, S::Error> {
        let schema = Arc::new(Schema::new(vec![Field::new("t", t.clone(), true)]));
        schema_ipc::serialize(&schema, s)
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<DataType, D::Error> {
        let schema = schema_ipc::deserialize(d)?;
        match schema.fields().first() {
            Some(f) => Ok(f.data_type().clone()),
            None => Err(serde::de::Error::custom(
                "a data type's schema has no column",
            )),
        }
    }
}

impl DataFrame {
    /// The frame's portable plan: what a cluster worker needs to compute
    /// its partitions (see the [module documentation](self)).
    ///
    /// # Errors
    ///
    /// [`DataFrameError::LocalOnly`], naming the operation that has no
    /// portable form (a Rust closure, a sort...).
    ///
    /// ```
    /// use flotilla_dataframe::{DataFrame, DataFrameError};
    ///
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 2)?;
    /// assert!(df.plan().is_ok());
    /// let mapped = df.map_partitions(Ok)?;
    /// assert!(matches!(mapped.plan(), Err(DataFrameError::LocalOnly { .. })));
    /// # Ok::<(), DataFrameError>(())
    /// ```
    pub fn plan(&self) -> Result<Arc<FramePlan>, DataFrameError> {
        self.portable
            .clone()
            .map_err(|operation| DataFrameError::LocalOnly {
                operation: operation.to_string(),
            })
    }

    /// A frame of `held` partitions of schema `schema`, computed and kept
    /// elsewhere (a cluster's `persist`): its plan names them by their
    /// handle, and computing it in-process reads partition `i` with
    /// `load(i)`, in the task that uses it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::portable::{FramePlan, HeldPartitions};
    /// use flotilla_dataframe::DataFrame;
    ///
    /// let batch = DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 1)?.compute()?;
    /// let kept = batch.clone();
    /// let df = DataFrame::from_held(batch.schema(), HeldPartitions::new(Arc::new(()), 3), move |_| Ok(kept.clone()));
    /// assert_eq!(df.count().compute()?, 6);
    /// assert!(matches!(&*df.plan()?, FramePlan::Held(h) if h.len() == 3));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn from_held(
        schema: SchemaRef,
        held: HeldPartitions,
        load: impl Fn(usize) -> Result<RecordBatch, DataFrameError> + Send + Sync + 'static,
    ) -> DataFrame {
        let load = Arc::new(load);
        let loaders = (0..held.len())
            .map(|i| {
                let load = Arc::clone(&load);
                (Arc::new(move || load(i)) as super::frame::Load, Vec::new())
            })
            .collect();
        let mut out = DataFrame::from_loaders(schema, loaders, "held");
        out.portable = Ok(Arc::new(FramePlan::Held(held)));
        out
    }

    /// This frame followed by `step` in its plan (or still without one).
    pub(crate) fn plan_then(&self, step: Step) -> Portable {
        let name = step.name();
        let closure = match &step {
            Step::WithColumn { expr, .. } | Step::Filter(expr) => expr.closure(),
            Step::Select(_) => None,
        };
        match (&self.portable, closure) {
            (Err(e), _) => Err(Arc::clone(e)),
            (Ok(_), Some(c)) => Err(format!("{name} with the Rust closure {c}").into()),
            (Ok(plan), None) => Ok(plan.then(step)),
        }
    }
}
