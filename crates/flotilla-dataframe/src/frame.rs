//! [`DataFrame`]: the type, its constructors, its per-partition operations,
//! and computing it.

use std::fmt;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema, SchemaRef};
use flotilla_core::TaskKey;
use flotilla_local::{record_result_bytes, Checkpoint, ComputeOptions, Delayed};

use super::kept::KeptBatch;

use super::error::settle;
use super::expr::{not_found, Expr};
use super::portable::{FramePlan, Portable, Reduced, Reduction, ScalarPlan, Step};
use super::{DataFrameError, Scalar};
use flotilla_data::panic_site::{catch_in_partition, Site};
use flotilla_data::shuffle::MapPieces;
use flotilla_data::tree::{tree, Combine};

/// How many partial results a combining task of a tree reduction takes by
/// default (dask's `split_every`).
///
/// ```
/// assert_eq!(flotilla_dataframe::DEFAULT_SPLIT_EVERY, 8);
/// ```
pub const DEFAULT_SPLIT_EVERY: usize = 8;

/// One step of a partition's pipeline: select, with_column, filter,
/// map_partitions... applied in the task that reads the partition.
pub(crate) type Stage =
    Arc<dyn Fn(RecordBatch) -> Result<RecordBatch, DataFrameError> + Send + Sync>;

/// A function that produces a partition when its task runs (a reader).
pub(crate) type Load = Arc<dyn Fn() -> Result<RecordBatch, DataFrameError> + Send + Sync>;

/// A partition before its pipeline: data in memory, a reader that runs in
/// the task that uses it (so a partition read from a file lives only as
/// long as that task), or the error of the task that computed it.
#[derive(Clone)]
pub(crate) enum Partition {
    Ready(RecordBatch),
    Load(Load),
    Failed(DataFrameError),
}

/// What a map task of a shuffle leaves for the reducers: one piece per
/// output partition, or its error (see [`flotilla_data::shuffle`]).
pub(crate) type Pieces = MapPieces<RecordBatch, DataFrameError>;

/// The pieces a map task of a shuffle made, or its error; their size is
/// reported to the scheduler.
pub(crate) fn pieces_of(r: Result<Vec<RecordBatch>, DataFrameError>) -> Pieces {
    let r = settle(r);
    if let Ok(pieces) = &r {
        let bytes = pieces
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum::<usize>();
        record_result_bytes(bytes as u64);
    }
    Pieces::new(r)
}

impl Partition {
    /// A computed partition, or the error that computing it met; its size
    /// is reported to the scheduler.
    pub(crate) fn from_result(r: Result<RecordBatch, DataFrameError>) -> Partition {
        match settle(r) {
            Ok(b) => {
                record_result_bytes(b.get_array_memory_size() as u64);
                Partition::Ready(b)
            }
            Err(e) => Partition::Failed(e),
        }
    }

    pub(crate) fn load(&self) -> Result<RecordBatch, DataFrameError> {
        match self {
            Partition::Ready(b) => Ok(b.clone()),
            Partition::Load(f) => f(),
            Partition::Failed(e) => Err(e.clone()),
        }
    }
}

/// The first key of a fresh group of task keys for one operation,
/// `name[0]`; the others are its siblings, and nodes take them with
/// [`Delayed::named_op`]. The name carries no number: when a graph holds two
/// operations of one name (a self-join), assembling it tells their groups
/// apart by identity and names the later one `name#2`, so keys do not
/// depend on what else the process built.
pub(crate) fn key_group(name: &str) -> TaskKey {
    TaskKey::indexed(name, 0)
}

/// The options a computation uses when none are given.
pub(crate) fn default_options() -> ComputeOptions {
    ComputeOptions::new().label("dataframe")
}

/// A column given to [`DataFrame::from_columns`]: anything that converts to
/// an Arrow array — `Vec`s of numbers, bools or strings, with or without
/// `Option`s for nulls, or an `ArrayRef` itself.
///
/// ```
/// use flotilla_dataframe::Column;
/// let ints: Column = vec![1i64, 2].into();
/// let with_nulls: Column = vec![Some(1.5), None].into();
/// let names: Column = vec!["a", "b"].into();
/// ```
#[derive(Debug, Clone)]
pub struct Column(ArrayRef);

macro_rules! column_from {
    ($($t:ty => $array:ty),* $(,)?) => {$(
        impl From<Vec<$t>> for Column {
            fn from(v: Vec<$t>) -> Column {
                Column(Arc::new(<$array>::from(v)))
            }
        }
        impl From<Vec<Option<$t>>> for Column {
            fn from(v: Vec<Option<$t>>) -> Column {
                Column(Arc::new(<$array>::from(v)))
            }
        }
    )*};
}

column_from!(i64 => Int64Array, f64 => Float64Array, bool => BooleanArray, String => StringArray);

impl From<Vec<&str>> for Column {
    fn from(v: Vec<&str>) -> Column {
        Column(Arc::new(StringArray::from(v)))
    }
}

impl From<Vec<Option<&str>>> for Column {
    fn from(v: Vec<Option<&str>>) -> Column {
        Column(Arc::new(StringArray::from(v)))
    }
}

impl From<ArrayRef> for Column {
    fn from(a: ArrayRef) -> Column {
        Column(a)
    }
}

/// What a frame's operations are tuned with; derived frames inherit it.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Fan-in of tree reductions.
    pub(crate) split_every: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            split_every: DEFAULT_SPLIT_EVERY,
        }
    }
}

/// A lazy, partitioned table — flotilla's `dask.dataframe`. Each partition
/// is an Arrow [`RecordBatch`].
///
/// A frame is a list of partition nodes of a task graph plus a pipeline of
/// per-partition steps (select, with_column, filter, map_partitions) that
/// runs, fused, in the task that reads each partition. Reductions
/// ([`sum`](DataFrame::sum), [`count`](DataFrame::count), group-bys) are
/// trees of tasks: one partial per partition, combined
/// [`split_every`](DataFrame::split_every) at a time. Nothing runs until a
/// `compute`. Building an operation checks it against the schema, so an
/// unknown column or a wrong type is an error before any task runs.
///
/// A `DataFrame` is cheap to clone and can be computed any number of times.
///
/// ```
/// use flotilla_dataframe::{col, DataFrame};
///
/// let df = DataFrame::from_columns(
///     vec![("station", vec![1i64, 2, 1, 3].into()), ("t", vec![10.0, 20.0, 30.0, 40.0].into())],
///     2,
/// )?;
/// assert_eq!(df.num_partitions(), 2);
/// let hot = df.filter(col("t").gt(15.0))?.select(&["t"])?;
/// assert_eq!(hot.compute()?.num_rows(), 3);
/// assert_eq!(df.sum("t")?.compute()?, Some(100.0));
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[derive(Clone)]
pub struct DataFrame {
    pub(crate) schema: SchemaRef,
    pub(crate) inputs: Vec<Delayed<Partition>>,
    pub(crate) stages: Vec<Stage>,
    /// What the pending stages do, for checkpoint keys: each stage's name
    /// and expression (or closure type).
    pub(crate) recipe: Arc<str>,
    /// What made the frame, for task keys: `read_csv|filter|with_column`.
    pub(crate) label: String,
    pub(crate) settings: Settings,
    /// Its lineage as data, for cluster workers, or the operation that has
    /// no portable form (see [`portable`](crate::portable)).
    pub(crate) portable: Portable,
}

impl fmt::Debug for DataFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataFrame")
            .field("columns", &self.column_names())
            .field("partitions", &self.inputs.len())
            .field("label", &self.label)
            .finish()
    }
}

impl DataFrame {
    /// A frame whose partitions are `batches`, which must share one schema.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// use flotilla_dataframe::DataFrame;
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    /// let part = |v: Vec<i64>| RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(v))]);
    /// let df = DataFrame::from_batches(vec![part(vec![1, 2])?, part(vec![3])?])?;
    /// assert_eq!(df.num_partitions(), 2);
    /// assert_eq!(df.count().compute()?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::Invalid`] for no batches or batches whose schemas
    /// differ (naming the first that differs).
    pub fn from_batches(batches: Vec<RecordBatch>) -> Result<DataFrame, DataFrameError> {
        let Some(first) = batches.first() else {
            return Err(DataFrameError::Invalid(
                "a DataFrame needs at least one batch (its schema)".into(),
            ));
        };
        let schema = first.schema();
        for (i, b) in batches.iter().enumerate() {
            if b.schema().fields() != schema.fields() {
                return Err(DataFrameError::Invalid(format!(
                    "batch {i} has schema {:?}, batch 0 has {:?}",
                    b.schema().fields(),
                    schema.fields()
                )));
            }
        }
        let key = key_group("from_batches");
        let plan = Arc::new(FramePlan::Batches(batches.clone()));
        let inputs = batches
            .into_iter()
            .enumerate()
            .map(|(i, b)| Delayed::value(Partition::Ready(b)).named_op(key.sibling(i as u64)))
            .collect();
        let mut out = DataFrame::new(schema, inputs, "from_batches");
        out.portable = Ok(plan);
        Ok(out)
    }

    /// A frame made of `batch` cut into `partitions` slices of nearly equal
    /// length (no copy: Arrow slices share the buffers).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    /// let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..10))])?;
    /// let df = flotilla_dataframe::DataFrame::from_batch(batch, 3)?;
    /// assert_eq!(df.num_partitions(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::Invalid`] for zero partitions.
    pub fn from_batch(batch: RecordBatch, partitions: usize) -> Result<DataFrame, DataFrameError> {
        if partitions == 0 {
            return Err(DataFrameError::Invalid(
                "a DataFrame needs at least one partition".into(),
            ));
        }
        let rows = batch.num_rows();
        let parts = (0..partitions)
            .map(|i| {
                let start = rows * i / partitions;
                let end = rows * (i + 1) / partitions;
                batch.slice(start, end - start)
            })
            .collect();
        DataFrame::from_batches(parts)
    }

    /// A frame from named columns of equal length, cut into `partitions`.
    ///
    /// ```
    /// use flotilla_dataframe::DataFrame;
    ///
    /// let df = DataFrame::from_columns(
    ///     vec![("id", vec![1i64, 2, 3].into()), ("name", vec!["a", "b", "c"].into())],
    ///     2,
    /// )?;
    /// assert_eq!(df.column_names(), ["id", "name"]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::Invalid`] for columns of different lengths, a name
    /// used twice, no columns, or zero partitions.
    pub fn from_columns<S: Into<String>>(
        columns: Vec<(S, Column)>,
        partitions: usize,
    ) -> Result<DataFrame, DataFrameError> {
        let (names, arrays): (Vec<String>, Vec<ArrayRef>) =
            columns.into_iter().map(|(n, c)| (n.into(), c.0)).unzip();
        if names.is_empty() {
            return Err(DataFrameError::Invalid(
                "a DataFrame needs at least one column".into(),
            ));
        }
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(DataFrameError::Invalid(format!(
                    "column {n:?} is given twice"
                )));
            }
        }
        let fields: Vec<Field> = names
            .iter()
            .zip(&arrays)
            .map(|(n, a)| Field::new(n, a.data_type().clone(), a.null_count() > 0))
            .collect();
        let rows = arrays[0].len();
        if let Some((n, a)) = names.iter().zip(&arrays).find(|(_, a)| a.len() != rows) {
            return Err(DataFrameError::Invalid(format!(
                "column {n:?} has {} values, column {:?} has {rows}",
                a.len(),
                names[0]
            )));
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| DataFrameError::arrow("from_columns", e))?;
        DataFrame::from_batch(batch, partitions)
    }

    /// A frame whose partitions are made by `loaders` when their tasks run
    /// (the readers of files), with the schema they produce; each loader
    /// comes with the bytes that name what it reads for checkpoints
    /// ([`Delayed::version`]; empty: nothing beyond its place).
    pub(crate) fn from_loaders(
        schema: SchemaRef,
        loaders: Vec<(Load, Vec<u8>)>,
        label: &str,
    ) -> DataFrame {
        let key = key_group(label);
        let inputs = loaders
            .into_iter()
            .enumerate()
            .map(|(i, (l, version))| {
                let input = Delayed::value(Partition::Load(l));
                let input = if version.is_empty() {
                    input
                } else {
                    input.version(version)
                };
                input.named_op(key.sibling(i as u64))
            })
            .collect();
        DataFrame::new(schema, inputs, label)
    }

    pub(crate) fn new(schema: SchemaRef, inputs: Vec<Delayed<Partition>>, label: &str) -> Self {
        DataFrame {
            schema,
            inputs,
            stages: Vec::new(),
            recipe: Arc::from(""),
            label: label.to_string(),
            settings: Settings::default(),
            // Made by an operation without a portable form unless the
            // operation sets one.
            portable: Err(label.rsplit('|').next().unwrap_or(label).into()),
        }
    }

    /// The schema: column names and types.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64].into())], 1)?;
    /// assert_eq!(df.schema().field(0).name(), "x");
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The column names, in order.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64].into())], 1)?;
    /// assert_eq!(df.column_names(), ["x"]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn column_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The number of partitions.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 2)?;
    /// assert_eq!(df.num_partitions(), 2);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn num_partitions(&self) -> usize {
        self.inputs.len()
    }

    /// The same frame, whose tree reductions combine `fan_in` partial
    /// results per task (at least 2; default [`DEFAULT_SPLIT_EVERY`]).
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64; 8].into())], 8)?;
    /// // 8 partials + 7 binary combining tasks + 8 inputs:
    /// assert_eq!(df.clone().split_every(2).count().task_count(), 23);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn split_every(mut self, fan_in: usize) -> DataFrame {
        self.settings.split_every = fan_in.max(2);
        self
    }

    /// A frame with one more pipeline step and a new schema.
    /// A panic in the step's user code (an expression's closure, a
    /// `map_partitions` function) is reported naming the step.
    /// `what` says what the step does (its expression), for checkpoint
    /// keys.
    pub(crate) fn then(
        &self,
        name: &str,
        what: &str,
        schema: SchemaRef,
        stage: Stage,
        portable: Portable,
    ) -> DataFrame {
        let mut out = self.clone();
        out.recipe = format!("{}|{name}:{what}", self.recipe).into();
        out.schema = schema;
        out.portable = portable;
        out.label = format!("{}|{name}", self.label);
        let (operation, chain): (Arc<str>, Arc<str>) = (name.into(), out.label.as_str().into());
        out.stages.push(Arc::new(move |b: RecordBatch| {
            Site::per_partition(&operation, &chain).call(|| stage(b))
        }));
        out
    }

    /// The columns `names`, in that order.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(
    ///     vec![("a", vec![1i64].into()), ("b", vec![2i64].into())], 1)?;
    /// assert_eq!(df.select(&["b"])?.column_names(), ["b"]);
    /// assert!(df.select(&["c"]).is_err());
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::ColumnNotFound`] for a name the frame lacks.
    pub fn select(&self, names: &[&str]) -> Result<DataFrame, DataFrameError> {
        let indices = names
            .iter()
            .map(|n| {
                self.schema
                    .index_of(n)
                    .map_err(|_| not_found(&self.schema, n))
            })
            .collect::<Result<Vec<usize>, _>>()?;
        let schema = Arc::new(
            self.schema
                .project(&indices)
                .map_err(|e| DataFrameError::arrow("select", e))?,
        );
        let step = Step::Select(names.iter().map(|n| n.to_string()).collect());
        let what = format!("{step:?}");
        let portable = self.plan_then(step);
        let stage: Stage = Arc::new(move |b: RecordBatch| {
            b.project(&indices)
                .map_err(|e| DataFrameError::arrow("select", e))
        });
        Ok(self.then("select", &what, schema, stage, portable))
    }

    /// The frame without the columns `names`.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(
    ///     vec![("a", vec![1i64].into()), ("b", vec![2i64].into())], 1)?;
    /// assert_eq!(df.drop_columns(&["a"])?.column_names(), ["b"]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::ColumnNotFound`] for a name the frame lacks.
    pub fn drop_columns(&self, names: &[&str]) -> Result<DataFrame, DataFrameError> {
        for n in names {
            self.schema
                .index_of(n)
                .map_err(|_| not_found(&self.schema, n))?;
        }
        let keep: Vec<String> = self
            .column_names()
            .into_iter()
            .filter(|c| !names.contains(&c.as_str()))
            .collect();
        let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
        self.select(&keep)
    }

    /// The frame with column `name` set to `expr`'s values: replaced where
    /// the frame has it, appended otherwise (a constant fills every row).
    ///
    /// ```
    /// use flotilla_dataframe::{col, DataFrame};
    ///
    /// let df = DataFrame::from_columns(vec![("c", vec![0.0, 100.0].into())], 2)?;
    /// let df = df.with_column("f", col("c") * 9 / 5 + 32)?;
    /// assert_eq!(df.column_names(), ["c", "f"]);
    /// assert_eq!(df.collect_column::<f64>("f")?, [Some(32.0), Some(212.0)]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The expression's own errors ([`Expr::data_type`]), before any work.
    pub fn with_column(
        &self,
        name: &str,
        expr: impl Into<Expr>,
    ) -> Result<DataFrame, DataFrameError> {
        let expr = expr.into();
        let data_type = expr.data_type(&self.schema)?;
        let field = Arc::new(Field::new(name, data_type, true));
        let mut fields: Vec<_> = self.schema.fields().iter().cloned().collect();
        let at = self.schema.index_of(name).ok();
        match at {
            Some(i) => fields[i] = Arc::clone(&field),
            None => fields.push(Arc::clone(&field)),
        }
        let schema = Arc::new(Schema::new(fields));
        let step = Step::WithColumn {
            name: name.to_string(),
            expr,
        };
        let portable = self.plan_then(step.clone());
        let what = format!("{step:?}");
        let stage: Stage = Arc::new(move |b: RecordBatch| step.apply(b));
        Ok(self.then("with_column", &what, schema, stage, portable))
    }

    /// The rows where `predicate` is true (null counts as false, as in SQL).
    ///
    /// ```
    /// use flotilla_dataframe::{col, DataFrame};
    ///
    /// let df = DataFrame::from_columns(vec![("x", vec![Some(1i64), None, Some(3)].into())], 2)?;
    /// assert_eq!(df.filter(col("x").gt(1))?.count().compute()?, 1);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The predicate's own errors, or [`DataFrameError::Type`] when it is
    /// not boolean — before any work.
    pub fn filter(&self, predicate: Expr) -> Result<DataFrame, DataFrameError> {
        let t = predicate.data_type(&self.schema)?;
        if t != arrow_schema::DataType::Boolean {
            return Err(DataFrameError::types(
                format!("filter({predicate})"),
                format!("a filter needs a boolean expression, found {t}"),
            ));
        }
        let step = Step::Filter(predicate);
        let portable = self.plan_then(step.clone());
        let what = format!("{step:?}");
        let stage: Stage = Arc::new(move |b: RecordBatch| step.apply(b));
        Ok(self.then("filter", &what, self.schema(), stage, portable))
    }

    /// The frame with `f` applied to every partition (dask's
    /// `map_partitions`). The output schema is found by calling `f` on an
    /// empty partition when the operation is built, so `f` must accept
    /// one (a partition may be empty anyway, after a filter); every
    /// partition's output must have that schema. A panic of `f` on the
    /// empty partition is returned as an error, not propagated.
    ///
    /// ```
    /// use flotilla_dataframe::DataFrame;
    ///
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3, 4].into())], 2)?;
    /// // Keep the first row of each partition.
    /// let firsts = df.map_partitions(|b| Ok(b.slice(0, b.num_rows().min(1))))?;
    /// assert_eq!(firsts.count().compute()?, 2);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The error `f` returns on the empty partition, or
    /// [`DataFrameError::Invalid`] when it panics on it (reading row 0 of
    /// a partition without rows, say), with the panic's message.
    pub fn map_partitions<F>(&self, f: F) -> Result<DataFrame, DataFrameError>
    where
        F: Fn(RecordBatch) -> Result<RecordBatch, DataFrameError> + Send + Sync + 'static,
    {
        let empty = RecordBatch::new_empty(self.schema());
        // The probe only learns the output schema; a panic in it is
        // reported as an error (the panic hook has printed it already).
        let probe = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(empty)));
        let schema = match probe {
            Ok(out) => out?.schema(),
            Err(panic) => {
                return Err(DataFrameError::Invalid(format!(
                    "map_partitions: the function panicked on an empty partition ({}); it is \
                     called on one to find the output schema, and partitions may be empty \
                     (after a filter, say): handle a batch without rows",
                    flotilla_local::panic_message(panic.as_ref())
                )))
            }
        };
        let expected = Arc::clone(&schema);
        let stage: Stage = Arc::new(move |b: RecordBatch| {
            let out = f(b)?;
            if out.schema().fields() != expected.fields() {
                return Err(DataFrameError::Invalid(format!(
                    "map_partitions: a partition came out with schema {:?}, the empty one with {:?}",
                    out.schema().fields(),
                    expected.fields()
                )));
            }
            Ok(out)
        });
        let portable = Err("map_partitions with a Rust closure".into());
        let what = std::any::type_name::<F>();
        Ok(self.then("map_partitions", what, schema, stage, portable))
    }

    /// One task per partition: its input read, its pipeline run, then `f`.
    pub(crate) fn partition_tasks<A, F>(
        &self,
        label: &str,
        f: F,
    ) -> Vec<Delayed<Result<A, DataFrameError>>>
    where
        A: Clone + Send + Sync + 'static,
        F: Fn(RecordBatch) -> Result<A, DataFrameError> + Send + Sync + 'static,
    {
        self.partition_tasks_indexed(label, move |_, b| f(b))
    }

    /// [`partition_tasks`](Self::partition_tasks), with `f` told the
    /// partition's index.
    pub(crate) fn partition_tasks_indexed<A, F>(
        &self,
        label: &str,
        f: F,
    ) -> Vec<Delayed<Result<A, DataFrameError>>>
    where
        A: Clone + Send + Sync + 'static,
        F: Fn(usize, RecordBatch) -> Result<A, DataFrameError> + Send + Sync + 'static,
    {
        self.per_partition(label, move |i, p, stages| {
            settle(run_pipeline(p, stages).and_then(|b| f(i, b)))
        })
        .into_iter()
        .map(Delayed::hand_over)
        .collect()
    }

    /// One task per partition, keyed `label|...[i]`: `task` is given the
    /// partition's index, its input and the pending steps. A panic in it is
    /// reported naming the step and the partition.
    fn per_partition<V, F>(&self, label: &str, task: F) -> Vec<Delayed<V>>
    where
        V: Send + Sync + 'static,
        F: Fn(usize, &Partition, &[Stage]) -> V + Send + Sync + 'static,
    {
        let task = Arc::new(task);
        let stages: Arc<[Stage]> = self.stages.clone().into();
        let chain: Arc<str> = format!("{}|{label}", self.label).into();
        let key = key_group(&chain);
        self.inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let task = Arc::clone(&task);
                let stages = Arc::clone(&stages);
                let chain = Arc::clone(&chain);
                let node = input.map(move |p: &Partition| {
                    catch_in_partition(i, &chain, || task(i, p, &stages))
                });
                // What the fused stages do is part of the node's checkpoint key.
                let node = if self.recipe.is_empty() {
                    node
                } else {
                    node.version(self.recipe.as_bytes())
                };
                node.named_op(key.sibling(i as u64))
            })
            .collect()
    }

    /// The map side of a shuffle: one task per partition, as
    /// [`partition_tasks`](Self::partition_tasks), that cuts its partition
    /// into one piece per reducer with `f`.
    pub(crate) fn partition_pieces<F>(&self, label: &str, f: F) -> Vec<Delayed<Pieces>>
    where
        F: Fn(RecordBatch) -> Result<Vec<RecordBatch>, DataFrameError> + Send + Sync + 'static,
    {
        self.per_partition(label, move |_, p, stages| {
            pieces_of(run_pipeline(p, stages).and_then(&f))
        })
    }

    /// The partitions with their pipelines run, as partitions of a new
    /// frame without pending steps (for operations that need whole
    /// partitions: shuffles, sorts).
    pub(crate) fn materialized(&self, label: &str) -> Vec<Delayed<Partition>> {
        if self.stages.is_empty() {
            return self.inputs.clone();
        }
        self.per_partition(label, |_, p, stages| {
            Partition::from_result(run_pipeline(p, stages))
        })
    }

    /// A reduction: `partial` per partition, `combine` as a tree, `empty`
    /// for a frame without partitions.
    pub(crate) fn reduction<A, P, C>(&self, label: &str, partial: P, combine: C) -> Scalar<A>
    where
        A: Clone + Send + Sync + 'static,
        P: Fn(RecordBatch) -> Result<A, DataFrameError> + Send + Sync + 'static,
        C: Fn(Vec<A>) -> Result<A, DataFrameError> + Send + Sync + 'static,
    {
        let leaves = self.partition_tasks(label, partial);
        self.tree_of(label, leaves, combine)
    }

    /// The tree of `combine` over `leaves`; a frame without partitions
    /// combines nothing.
    pub(crate) fn tree_of<A, C>(
        &self,
        label: &str,
        leaves: Vec<Delayed<Result<A, DataFrameError>>>,
        combine: C,
    ) -> Scalar<A>
    where
        A: Clone + Send + Sync + 'static,
        C: Fn(Vec<A>) -> Result<A, DataFrameError> + Send + Sync + 'static,
    {
        let key = key_group(&format!("{}|{label}-combine", self.label));
        let combine: Combine<A, DataFrameError> = Arc::new(combine);
        match tree(leaves, self.settings.split_every, &key, &combine) {
            Some(root) => Scalar::new(root).local_only(label),
            None => {
                // No partitions: combine nothing.
                let combine = Arc::clone(&combine);
                Scalar::new(Delayed::from_fn(move || combine(Vec::new())).named_op(key.sibling(0)))
                    .local_only(label)
            }
        }
    }

    /// The number of rows.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
    /// assert_eq!(df.count().compute()?, 3);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn count(&self) -> Scalar<usize> {
        let plan = self.portable.clone().map(|frame| {
            ScalarPlan::new(frame, Reduction::Rows, |r| match r {
                Reduced::Rows(n) => Ok(n as usize),
                other => Err(DataFrameError::Internal(format!(
                    "a count reduced to {other:?}"
                ))),
            })
        });
        self.reduction("count", |b| Ok(b.num_rows()), |v| Ok(v.into_iter().sum()))
            .with_plan(plan)
    }

    /// The whole frame as one batch (its partitions concatenated in order).
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
    /// assert_eq!(df.compute()?.num_rows(), 3);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first error of a partition, naming where it happened.
    pub fn compute(&self) -> Result<RecordBatch, DataFrameError> {
        self.compute_with(&default_options())
    }

    /// [`compute`](DataFrame::compute) with `options` (pool, progress bar).
    ///
    /// ```
    /// use flotilla_dataframe::DataFrame;
    /// use flotilla_local::{ComputeOptions, CpuPool};
    /// let pool = CpuPool::with_threads(2)?;
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
    /// assert_eq!(df.compute_with(&ComputeOptions::new().pool(&pool))?.num_rows(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`compute`](DataFrame::compute).
    pub fn compute_with(&self, options: &ComputeOptions) -> Result<RecordBatch, DataFrameError> {
        let batches = self.compute_partitions_with(options)?;
        arrow_select::concat::concat_batches(&self.schema, &batches)
            .map_err(|e| DataFrameError::arrow("concatenating partitions", e))
    }

    /// Every partition, computed, in order.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
    /// let parts = df.compute_partitions()?;
    /// assert_eq!(parts.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [1, 2]);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`compute`](DataFrame::compute).
    pub fn compute_partitions(&self) -> Result<Vec<RecordBatch>, DataFrameError> {
        self.compute_partitions_with(&default_options())
    }

    /// [`compute_partitions`](DataFrame::compute_partitions) with `options`.
    ///
    /// ```
    /// use flotilla_dataframe::DataFrame;
    /// use flotilla_local::ComputeOptions;
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 3)?;
    /// assert_eq!(df.compute_partitions_with(&ComputeOptions::new())?.len(), 3);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`compute`](DataFrame::compute).
    pub fn compute_partitions_with(
        &self,
        options: &ComputeOptions,
    ) -> Result<Vec<RecordBatch>, DataFrameError> {
        let leaves = self.partition_tasks("collect", Ok);
        let key = key_group(&format!("{}|collect-all", self.label));
        let root = Delayed::gather_owned(
            &leaves,
            |parts: Vec<Result<RecordBatch, DataFrameError>>| {
                parts.into_iter().collect::<Result<Vec<_>, _>>()
            },
        )
        .named_op(key);
        Scalar::new(root).compute_with(options)
    }

    /// The frame computed and kept in memory, partition by partition
    /// (dask's `persist`): later operations start from the computed
    /// partitions instead of reading and computing them again.
    ///
    /// ```
    /// use flotilla_dataframe::{col, DataFrame};
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
    /// let kept = df.filter(col("x").gt(1))?.persist()?;
    /// assert_eq!(kept.num_partitions(), 2);
    /// assert_eq!(kept.sum("x")?.compute()?, Some(5.0));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`compute`](DataFrame::compute).
    pub fn persist(&self) -> Result<DataFrame, DataFrameError> {
        self.persist_with(&default_options())
    }

    /// [`persist`](DataFrame::persist) with `options` (pool, progress bar).
    ///
    /// ```
    /// use flotilla_dataframe::DataFrame;
    /// use flotilla_local::ComputeOptions;
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
    /// let kept = df.persist_with(&ComputeOptions::new().progress(false))?;
    /// assert_eq!(kept.count().compute()?, 3);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`compute`](DataFrame::compute).
    pub fn persist_with(&self, options: &ComputeOptions) -> Result<DataFrame, DataFrameError> {
        let parts = self.compute_partitions_with(options)?;
        let key = key_group(&format!("{}|persist", self.label));
        let inputs = parts
            .into_iter()
            .enumerate()
            .map(|(i, b)| Delayed::value(Partition::Ready(b)).named_op(key.sibling(i as u64)))
            .collect();
        let mut out = DataFrame::new(self.schema(), inputs, &format!("{}|persist", self.label));
        out.settings = self.settings.clone();
        Ok(out)
    }

    /// The same rows, each partition kept in `checkpoint` once computed: a
    /// computation of this frame (or of anything made from it) run again
    /// — after a crash, a Ctrl-C, or with a changed later step — reads the
    /// partitions it finds there instead of reading and computing them,
    /// and computes only the rest.
    ///
    /// A partition is kept under a key made of the frame's chain of
    /// operations and the partition's number, what each operation does (a
    /// filter's expression, a column's formula, the type of a closure), what its source reads (a file's path, byte range or row
    /// group, size and modification time, and the schema read) and the keys
    /// of the tasks in between: a changed file computes its own partitions
    /// again and nothing else. What a Rust closure does
    /// ([`map_partitions`](DataFrame::map_partitions)) is not part of a
    /// key: change the [version](DataFrame::version) when it changes. A
    /// partition that fails fails its task and is not kept. Partitions are
    /// kept as Arrow IPC. On a cluster (`compute_on`) each partition is
    /// kept by the worker that computes it (the folder must be one they
    /// all reach), under a key of the frame's plan, its files' sizes and
    /// times and the partition's number.
    ///
    /// ```
    /// use flotilla_dataframe::{col, DataFrame};
    /// use flotilla_local::Checkpoint;
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-frame-ckpt-doc-{}", std::process::id()));
    /// for run in 0..2 {
    ///     let checkpoint = Checkpoint::open(&dir)?;
    ///     let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3, 4].into())], 2)?;
    ///     let kept = df.filter(col("x").gt(1))?.checkpoint(&checkpoint);
    ///     assert_eq!(kept.sum("x")?.compute()?, Some(9.0));
    ///     let expected = if run == 0 { (2, 0) } else { (0, 2) };
    ///     assert_eq!((checkpoint.computed(), checkpoint.loaded()), expected);
    /// }
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint(&self, checkpoint: &Checkpoint) -> DataFrame {
        let label = format!("{}|checkpoint", self.label);
        let key = key_group(&label);
        let inputs = self
            .per_partition("keep", |_, p, stages| match run_pipeline(p, stages) {
                Ok(batch) => KeptBatch(batch),
                Err(e) => flotilla_local::fail_task(e),
            })
            .into_iter()
            .enumerate()
            .map(|(i, kept)| {
                kept.checkpoint(checkpoint)
                    .hand_over()
                    .map_owned(|kept: KeptBatch| Partition::Ready(kept.0))
                    .named_op(key.sibling(i as u64))
            })
            .collect();
        let mut out = DataFrame::new(self.schema(), inputs, &label);
        out.settings = self.settings.clone();
        out.portable = match &self.portable {
            Ok(plan) => Ok(Arc::new(FramePlan::Checkpoint {
                input: Arc::clone(plan),
                checkpoint: checkpoint.clone(),
            })),
            Err(operation) => Err(Arc::clone(operation)),
        };
        out
    }

    /// The same frame, whose partitions come from sources of this
    /// `version`: part of every checkpoint key downstream
    /// ([`DataFrame::checkpoint`]). Give one to a frame made from values
    /// in memory ([`DataFrame::from_columns`], [`DataFrame::from_batch`])
    /// saying what they are, and change it when a closure of its
    /// operations changes. (Files are named by what they read already.)
    ///
    /// ```
    /// use flotilla_dataframe::DataFrame;
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 1)?.version("2024-06");
    /// assert_eq!(df.count().compute()?, 2);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn version(&self, version: impl AsRef<[u8]>) -> DataFrame {
        let version = version.as_ref();
        let mut out = self.clone();
        out.inputs = self
            .inputs
            .iter()
            .map(|input| input.clone().version(version))
            .collect();
        out
    }

    /// The first `n` rows, computing partitions in order only until there
    /// are enough (like dask's `head(n, npartitions=-1)`).
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", (0..100i64).collect::<Vec<_>>().into())], 10)?;
    /// assert_eq!(df.head(15)?.num_rows(), 15);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first error of a partition it computes.
    pub fn head(&self, n: usize) -> Result<RecordBatch, DataFrameError> {
        let stages: Arc<[Stage]> = self.stages.clone().into();
        let mut parts = Vec::new();
        let mut rows = 0;
        let chain: Arc<str> = format!("{}|head", self.label).into();
        for (i, input) in self.inputs.iter().enumerate() {
            if rows >= n {
                break;
            }
            let stages = Arc::clone(&stages);
            let chain = Arc::clone(&chain);
            let node = input.map(move |p: &Partition| {
                catch_in_partition(i, &chain, || settle(run_pipeline(p, &stages)))
            });
            let batch = Scalar::new(node).compute_with(&default_options().progress(false))?;
            let take = batch.num_rows().min(n - rows);
            rows += take;
            parts.push(batch.slice(0, take));
        }
        arrow_select::concat::concat_batches(&self.schema, &parts)
            .map_err(|e| DataFrameError::arrow("head", e))
    }
}

/// A partition read and put through the steps of its pipeline.
pub(crate) fn run_pipeline(p: &Partition, stages: &[Stage]) -> Result<RecordBatch, DataFrameError> {
    let mut b = p.load()?;
    for stage in stages {
        b = stage(b)?;
    }
    Ok(b)
}

#[cfg(test)]
mod test {
    use std::sync::Arc;

    use arrow_array::{Int64Array, RecordBatch};
    use flotilla_local::{ComputeOptions, Delayed};

    use super::DataFrame;

    fn batch(n: i64) -> RecordBatch {
        let column: Arc<dyn arrow_array::Array> = Arc::new(Int64Array::from_iter_values(0..n));
        RecordBatch::try_from_iter([("x", column)]).unwrap()
    }

    #[test]
    fn shuffle_pieces_and_partitions_report_their_sizes() {
        let batches = vec![batch(1000), batch(2000)];
        let frame = DataFrame::from_batches(batches).unwrap();
        let pieces = frame.partition_pieces("halves", |b| {
            let half = b.num_rows() / 2;
            Ok(vec![b.slice(0, half), b.slice(half, b.num_rows() - half)])
        });
        let expected = Delayed::gather(&pieces, |ps| {
            ps.iter()
                .map(|p| {
                    (0..p.len())
                        .map(|r| p.piece(r).unwrap().get_array_memory_size())
                        .sum::<usize>()
                })
                .sum::<usize>() as u64
        });
        let options = ComputeOptions::new().progress(false);
        let (bytes, report) = expected.compute_shared_with(&options).unwrap();
        assert!(*bytes > 0);
        assert_eq!(report.result_bytes(), *bytes);

        let sorted = frame.sort_by(&["x".into()]).unwrap();
        let (_, report) = Delayed::gather(&sorted.materialized("all"), |_| ())
            .compute_shared_with(&options)
            .unwrap();
        // The cut pieces and the merged partitions each hold the 3,000 values.
        assert!(report.result_bytes() >= 2 * 3000 * 8, "{report}");
    }
}
