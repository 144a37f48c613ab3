//! CSV inputs, one partition per byte range.
//!
//! [`CsvSource::plan`] does every check that can be done before reading:
//! it lists the inputs, reads the first lines of **every** file (a header
//! that differs from the first file's is an error naming both files;
//! without headers, a row whose width differs from the first file's is an
//! error naming its file and line), infers column types from each file's
//! first rows and rows spread across it, and merges them (an
//! integer column in one file and a decimal one in another is `Float64`;
//! an integer column in one file and a text one in another is an error
//! naming both files — set the type with [`CsvOptions::dtype`]), and checks
//! the names given in the options. [`CsvSource::read_partition`] then reads
//! one byte range into one [`RecordBatch`].
//!
//! Records follow RFC 4180: `"` quotes a field, which may then hold the
//! delimiter, line breaks and `""` for a quote. Line ends are `\n` or
//! `\r\n`; a last line needs no line end; empty lines are skipped; a UTF-8
//! byte order mark at the start of a file is skipped. A header is skipped
//! by the partition starting at the file's first byte only. An empty file
//! has no partition; a file with only a header gives no rows. Gzip files
//! (`.gz`, or the gzip magic bytes) are one partition each.
//!
//! See the [module documentation](super) for how partitions are parsed,
//! and for the one case out of scope: a quoted line break on a partition
//! boundary.

mod column;
mod fast;
mod infer;
mod options;
mod parse;
mod plan;
mod read;
mod skipped;
mod spread;
#[cfg(test)]
mod test;
mod tokenize;

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Field, SchemaRef};

use flotilla_data::split::InputSplit;

pub(super) use self::infer::hint;
pub use self::options::{CsvOptions, DEFAULT_NULL_VALUES};
use self::parse::Dialect;
pub use self::skipped::BadRecords;
use self::skipped::SkipLog;

use super::IoError;

/// A planned CSV input: its schema and its partitions, one per byte range.
///
/// Cheap to clone and `Send + Sync`: every task reading a partition holds
/// the same plan.
///
/// ```
/// use flotilla_dataframe::arrow::array::{Array, Int64Array};
/// use flotilla_dataframe::arrow::schema::DataType;
/// use flotilla_dataframe::io::{CsvOptions, CsvSource};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-csvsource-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("weather.csv");
/// std::fs::write(&file, "station_id,temperature\n1,20.5\n2,-3.25\n1,\n3,31.0\n")?;
///
/// let source = CsvSource::plan(&[file.to_str().unwrap()], CsvOptions::new().partition_bytes(20))?;
/// assert_eq!(source.partitions(), 3);
/// assert_eq!(source.schema().field(1).data_type(), &DataType::Float64);
///
/// let mut stations = Vec::new();
/// let mut nulls = 0;
/// for i in 0..source.partitions() {
///     let batch = source.read_partition(i)?;
///     let ids = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
///     stations.extend(ids.values().iter().copied());
///     nulls += batch.column(1).null_count();
/// }
/// assert_eq!(stations, [1, 2, 1, 3]);
/// assert_eq!(nulls, 1);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CsvSource {
    plan: Arc<CsvPlan>,
}

/// What every partition needs to know.
#[derive(Debug)]
struct CsvPlan {
    splits: Vec<InputSplit>,
    /// Every column of the files, in file order, with its type.
    file_fields: Vec<Field>,
    /// The file columns read, in output order.
    projection: Vec<usize>,
    /// The output schema.
    schema: SchemaRef,
    dialect: Dialect,
    has_header: bool,
    /// Average record size in the samples, to size the builders.
    bytes_per_row: usize,
    /// Per file column, where its type came from, for errors.
    origins: Vec<Arc<String>>,
    /// The records skipped, per partition read.
    skipped: SkipLog,
}

/// What reading one partition found.
///
/// ```
/// use flotilla_dataframe::io::{CsvOptions, CsvSource};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-readstats-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("t.csv");
/// std::fs::write(&file, "n\n1\n2\nthree\n4\n")?;
///
/// let options = CsvOptions::new().infer_rows(2).infer_spread(false).bad_values_as_null(true);
/// let source = CsvSource::plan(&[file.to_str().unwrap()], options)?;
/// let (batch, stats) = source.read_partition_with_stats(0)?;
/// assert_eq!((stats.rows, stats.bad_values), (4, 1));
/// assert_eq!(batch.column(0).null_count(), 1);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadStats {
    /// Records read.
    pub rows: usize,
    /// Values that did not parse and were read as nulls
    /// ([`CsvOptions::bad_values_as_null`]).
    pub bad_values: u64,
    /// Records with the wrong number of fields, skipped
    /// ([`CsvOptions::skip_bad_records`]).
    pub bad_records: u64,
    /// Bytes of the partition's records.
    pub bytes: u64,
}

impl CsvSource {
    /// Plans reading `inputs` (files, folders, globs, as
    /// [`plan_splits`](flotilla_data::split::plan_splits) takes them).
    ///
    /// Reads the first lines of every file; fails, before any partition is
    /// read, on a header differing between files
    /// ([`IoError::HeaderMismatch`]), types that only text could reconcile
    /// ([`IoError::SchemaMismatch`]), unknown or repeated column names, a
    /// name count that does not match the files, a type that cannot be
    /// read from text, inputs matching nothing.
    ///
    /// ```
    /// use flotilla_dataframe::io::{CsvOptions, CsvSource, IoError};
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-csvplan-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("a.csv"), "id,name\n1,x\n")?;
    /// std::fs::write(dir.join("b.csv"), "id,label\n2,y\n")?;
    ///
    /// let err = CsvSource::plan(&[dir.to_str().unwrap()], CsvOptions::new()).unwrap_err();
    /// assert!(matches!(err, IoError::HeaderMismatch { .. }));
    /// let message = err.to_string();
    /// assert!(message.contains("a.csv") && message.contains("b.csv"));
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plan<P: AsRef<str>>(inputs: &[P], options: CsvOptions) -> Result<CsvSource, IoError> {
        Ok(CsvSource {
            plan: Arc::new(plan::plan(inputs, options)?),
        })
    }

    /// The schema of every partition (after projection).
    ///
    /// ```
    /// # use flotilla_dataframe::io::{CsvOptions, CsvSource};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-csvschema-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("t.csv");
    /// std::fs::write(&file, "id,ok,when,score\n1,true,2024-01-31,2.5\n")?;
    /// let source = CsvSource::plan(&[file.to_str().unwrap()], CsvOptions::new())?;
    /// let types: Vec<String> = source.schema().fields().iter().map(|f| f.data_type().to_string()).collect();
    /// assert_eq!(types, ["Int64", "Boolean", "Date32", "Float64"]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.plan.schema)
    }

    /// The number of partitions: one per byte range of every file (none
    /// for an empty file).
    ///
    /// ```
    /// # use flotilla_dataframe::io::{CsvOptions, CsvSource};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-csvparts-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("t.csv");
    /// std::fs::write(&file, "x\n1\n2\n3\n")?; // 8 bytes
    /// let source = CsvSource::plan(&[file.to_str().unwrap()], CsvOptions::new().partition_bytes(3))?;
    /// assert_eq!(source.partitions(), 3);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn partitions(&self) -> usize {
        self.plan.splits.len()
    }

    /// The byte ranges, one per partition, in partition order: to name or
    /// size the tasks that read them.
    ///
    /// ```
    /// # use flotilla_dataframe::io::{CsvOptions, CsvSource};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-csvsplits-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("t.csv");
    /// std::fs::write(&file, "x\n1\n2\n3\n")?;
    /// let source = CsvSource::plan(&[file.to_str().unwrap()], CsvOptions::new().partition_bytes(4))?;
    /// let sizes: Vec<u64> = source.splits().iter().map(|s| s.len()).collect();
    /// assert_eq!(sizes, [4, 4]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn splits(&self) -> &[InputSplit] {
        &self.plan.splits
    }

    /// Bytes that change when what partition `index` reads changes: its
    /// split's [fingerprint](InputSplit::fingerprint) and the schema read.
    pub(crate) fn fingerprint(&self, index: usize) -> Vec<u8> {
        let mut bytes = format!("{:?}", self.schema()).into_bytes();
        if let Some(split) = self.plan.splits.get(index) {
            bytes.extend(split.fingerprint());
        }
        bytes
    }

    /// Reads partition `index` into one batch.
    ///
    /// Errors name the file, the line, the column (name and 1-based
    /// position) and the value: [`IoError::BadValue`],
    /// [`IoError::FieldCount`], [`IoError::InvalidUtf8`],
    /// [`IoError::UnclosedQuote`].
    ///
    /// ```
    /// # use flotilla_dataframe::io::{CsvOptions, CsvSource};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-csvread-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("t.csv");
    /// std::fs::write(&file, "name,quote\nada,\"first, \"\"programmer\"\"\"\n")?;
    /// let source = CsvSource::plan(&[file.to_str().unwrap()], CsvOptions::new())?;
    /// let batch = source.read_partition(0)?;
    /// let quotes: Vec<Option<&str>> = flotilla_dataframe::batch_column(&batch, "quote")?;
    /// assert_eq!(quotes, [Some("first, \"programmer\"")]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_partition(&self, index: usize) -> Result<RecordBatch, IoError> {
        self.read_partition_with_stats(index)
            .map(|(batch, _)| batch)
    }

    /// Reads partition `index`, and says how many records it held, how
    /// many bad values became nulls and how many records were skipped.
    ///
    /// ```
    /// # use flotilla_dataframe::io::{CsvOptions, CsvSource};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-csvstats-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("t.csv");
    /// std::fs::write(&file, "x\n1\n2\n")?;
    /// let source = CsvSource::plan(&[file.to_str().unwrap()], CsvOptions::new())?;
    /// let (batch, stats) = source.read_partition_with_stats(0)?;
    /// assert_eq!((batch.num_rows(), stats.rows, stats.bad_values), (2, 2, 0));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_partition_with_stats(
        &self,
        index: usize,
    ) -> Result<(RecordBatch, ReadStats), IoError> {
        let split = self
            .plan
            .splits
            .get(index)
            .ok_or(IoError::NoSuchPartition {
                index,
                partitions: self.plan.splits.len(),
            })?;
        read::read_split(&self.plan, index, split)
    }

    /// The records skipped for their number of fields
    /// ([`CsvOptions::skip_bad_records`]) by the partitions read so far
    /// (by any clone of this source, or a frame made from it): how many,
    /// and a sample of ten with their file and line. A partition read
    /// twice counts once.
    ///
    /// ```
    /// use flotilla_dataframe::io::{CsvOptions, CsvSource};
    /// use flotilla_dataframe::DataFrame;
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-skipped-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let file = dir.join("stations.csv");
    /// std::fs::write(&file, "id,t\n1,20.5\n2,21.0,extra\n3,19.5\n")?;
    ///
    /// let source = CsvSource::plan(&[file.to_str().unwrap()], CsvOptions::new().skip_bad_records(true))?;
    /// let df = DataFrame::from_csv_source(source.clone());
    /// assert_eq!(df.count().compute()?, 2);
    /// let skipped = source.bad_records();
    /// assert_eq!(skipped.count, 1);
    /// assert!(skipped.sample[0].contains("stations.csv:3: 3 fields where 2 were expected"));
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bad_records(&self) -> BadRecords {
        self.plan.skipped.report()
    }
}

/// A plan as it travels to a cluster worker: everything but the log of
/// skipped records, which each process keeps for the partitions it reads.
#[derive(serde::Serialize, serde::Deserialize)]
struct PortablePlan {
    splits: Vec<InputSplit>,
    #[serde(with = "crate::portable::schema_ipc")]
    file_schema: SchemaRef,
    projection: Vec<usize>,
    #[serde(with = "crate::portable::schema_ipc")]
    schema: SchemaRef,
    dialect: Dialect,
    has_header: bool,
    bytes_per_row: usize,
    origins: Vec<String>,
}

/// A source serializes as its plan, so that a cluster worker reads its
/// partitions exactly as this process would, without planning again.
///
/// ```
/// use flotilla_dataframe::io::{CsvOptions, CsvSource};
/// # let dir = std::env::temp_dir().join(format!("flotilla-doc-csvserde-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let file = dir.join("t.csv");
/// std::fs::write(&file, "x,y\n1,a\n2,b\n")?;
/// let source = CsvSource::plan(&[file.to_str().unwrap()], CsvOptions::new())?;
/// let json_like: Vec<u8> = flotilla_dataframe::portable::to_bytes(&source)?;
/// let back: CsvSource = flotilla_dataframe::portable::from_bytes(&json_like)?;
/// assert_eq!(back.read_partition(0)?, source.read_partition(0)?);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl serde::Serialize for CsvSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = &self.plan;
        PortablePlan {
            splits: p.splits.clone(),
            file_schema: Arc::new(arrow_schema::Schema::new(p.file_fields.clone())),
            projection: p.projection.clone(),
            schema: Arc::clone(&p.schema),
            dialect: p.dialect.clone(),
            has_header: p.has_header,
            bytes_per_row: p.bytes_per_row,
            origins: p.origins.iter().map(|o| o.to_string()).collect(),
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for CsvSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CsvSource, D::Error> {
        let p = PortablePlan::deserialize(d)?;
        let file_fields: Vec<Field> = p
            .file_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        if p.projection.iter().any(|&i| i >= file_fields.len())
            || p.origins.len() != file_fields.len()
        {
            return Err(serde::de::Error::custom(
                "a CSV plan whose projection or origins do not match its columns",
            ));
        }
        Ok(CsvSource {
            plan: Arc::new(CsvPlan {
                splits: p.splits,
                file_fields,
                projection: p.projection,
                schema: p.schema,
                dialect: p.dialect,
                has_header: p.has_header,
                bytes_per_row: p.bytes_per_row,
                origins: p.origins.into_iter().map(Arc::new).collect(),
                skipped: SkipLog::default(),
            }),
        })
    }
}
