//! JSON-lines inputs (one object per line), one partition per byte range.
//!
//! A JSON string cannot hold a raw line break, so byte ranges cut at line
//! starts never split a record: unlike CSV, any partitioning is safe.
//! Planning infers the schema from the first lines of every file with
//! arrow-json (fields in the order they first appear) and merges the
//! files' schemas (a field missing from some
//! lines or files is null there; `Int64` in one file and `Float64` in
//! another is `Float64`; any other difference is an error naming both
//! files). A partition reads its range in one block and decodes it with
//! arrow-json into one batch; a line that does not decode is reported with
//! its file and line.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_json::reader::{infer_json_schema, ReaderBuilder};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

use flotilla_data::split::{line_number_at, plan_splits, InputSplit, LineReader};

use super::error::snippet;
use super::partition_size::partition_bytes;
use super::IoError;

/// How to read JSON-lines inputs.
///
/// | setting | default |
/// |---------|---------|
/// | [`schema`](Self::schema) | inferred from the first [`infer_rows`](Self::infer_rows) lines of each file |
/// | [`infer_rows`](Self::infer_rows) | 1000 |
/// | [`partition_bytes`](Self::partition_bytes) | input size / (4 × threads), within 1..=64 MiB |
/// | [`columns`](Self::columns) | all |
///
/// ```
/// let options = flotilla_dataframe::io::JsonOptions::new().columns(["user", "score"]);
/// ```
#[derive(Debug, Clone)]
pub struct JsonOptions {
    schema: Option<SchemaRef>,
    infer_rows: usize,
    partition_bytes: Option<u64>,
    columns: Option<Vec<String>>,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            schema: None,
            infer_rows: 1000,
            partition_bytes: None,
            columns: None,
        }
    }
}

impl JsonOptions {
    /// The defaults: schema inferred, partitions sized by the input.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::JsonOptions::new();
    /// ```
    pub fn new() -> JsonOptions {
        JsonOptions::default()
    }

    /// The schema of the records: no inference. Fields of the lines that
    /// it does not name are ignored.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    /// let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
    /// let options = flotilla_dataframe::io::JsonOptions::new().schema(schema);
    /// ```
    pub fn schema(mut self, schema: SchemaRef) -> JsonOptions {
        self.schema = Some(schema);
        self
    }

    /// How many lines of each file inference reads (default 1000).
    ///
    /// ```
    /// let options = flotilla_dataframe::io::JsonOptions::new().infer_rows(100);
    /// ```
    pub fn infer_rows(mut self, rows: usize) -> JsonOptions {
        self.infer_rows = rows;
        self
    }

    /// Bytes per partition (a gzip file is one partition).
    ///
    /// ```
    /// let options = flotilla_dataframe::io::JsonOptions::new().partition_bytes(8 << 20);
    /// ```
    pub fn partition_bytes(mut self, bytes: u64) -> JsonOptions {
        self.partition_bytes = Some(bytes);
        self
    }

    /// Read only these fields, in this order.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::JsonOptions::new().columns(["id"]);
    /// ```
    pub fn columns<I, S>(mut self, names: I) -> JsonOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns = Some(names.into_iter().map(Into::into).collect());
        self
    }
}

/// A planned JSON-lines input: its schema and its partitions, one per byte
/// range. Cheap to clone and `Send + Sync`.
///
/// ```
/// use flotilla_dataframe::arrow::array::{Array, Int64Array, StringArray};
/// use flotilla_dataframe::io::{JsonOptions, JsonSource};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-jsonsource-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("events.jsonl");
/// std::fs::write(&file, "{\"user\":\"ann\",\"clicks\":3}\n{\"user\":\"bob\"}\n{\"user\":\"cy\",\"clicks\":5}\n")?;
///
/// let source = JsonSource::plan(&[file.to_str().unwrap()], JsonOptions::new().partition_bytes(30))?;
/// assert_eq!(source.partitions(), 3);
/// let mut users = Vec::new();
/// let mut clicks = 0;
/// for i in 0..source.partitions() {
///     let batch = source.read_partition(i)?;
///     let names = batch.column_by_name("user").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
///     users.extend(names.iter().flatten().map(str::to_owned));
///     let counts = batch.column_by_name("clicks").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
///     clicks += counts.iter().flatten().sum::<i64>();
/// }
/// assert_eq!(users, ["ann", "bob", "cy"]);
/// assert_eq!(clicks, 8);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct JsonSource {
    plan: Arc<JsonPlan>,
}

#[derive(Debug)]
struct JsonPlan {
    splits: Vec<InputSplit>,
    schema: SchemaRef,
}

impl JsonSource {
    /// Plans reading `inputs` (files, folders, globs): infers and merges
    /// the schemas of every file (unless one is given), checks the
    /// projection, cuts byte ranges.
    ///
    /// ```
    /// use flotilla_dataframe::io::{IoError, JsonOptions, JsonSource};
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-jsonplan-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("a.jsonl"), "{\"id\":1}\n")?;
    /// std::fs::write(dir.join("b.jsonl"), "{\"id\":\"x-2\"}\n")?;
    /// let err = JsonSource::plan(&[dir.to_str().unwrap()], JsonOptions::new()).unwrap_err();
    /// assert!(matches!(err, IoError::SchemaMismatch { .. }));
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plan<P: AsRef<str>>(inputs: &[P], options: JsonOptions) -> Result<JsonSource, IoError> {
        let files = plan_splits(inputs, u64::MAX)?;
        let schema = match &options.schema {
            Some(schema) => Arc::clone(schema),
            None => {
                let mut merged: Option<(Schema, Vec<PathBuf>)> = None;
                for file in &files {
                    let schema = infer_file(file, options.infer_rows.max(1))?;
                    merged = Some(match merged {
                        None => {
                            let from = vec![file.path().to_path_buf(); schema.fields().len()];
                            (schema, from)
                        }
                        Some((so_far, from)) => merge(so_far, from, schema, file.path())?,
                    });
                }
                match merged {
                    Some((schema, _)) => Arc::new(schema),
                    None => {
                        return Err(IoError::NoData {
                            inputs: inputs.iter().map(|i| i.as_ref().to_owned()).collect(),
                        })
                    }
                }
            }
        };
        let schema = match &options.columns {
            None => schema,
            Some(columns) => project(&schema, columns)?,
        };
        let bytes = partition_bytes(&files, options.partition_bytes)?;
        Ok(JsonSource {
            plan: Arc::new(JsonPlan {
                splits: plan_splits(inputs, bytes)?,
                schema,
            }),
        })
    }

    /// The schema of every partition.
    ///
    /// ```
    /// # use flotilla_dataframe::io::{JsonOptions, JsonSource};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-jsonschema-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.jsonl");
    /// std::fs::write(&file, "{\"id\":1,\"score\":0.5,\"ok\":true}\n")?;
    /// let source = JsonSource::plan(&[file.to_str().unwrap()], JsonOptions::new())?;
    /// let names: Vec<String> = source.schema().fields().iter().map(|f| f.name().clone()).collect();
    /// assert_eq!(names, ["id", "score", "ok"]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.plan.schema)
    }

    /// The number of partitions.
    ///
    /// ```
    /// # use flotilla_dataframe::io::{JsonOptions, JsonSource};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-jsonparts-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.jsonl");
    /// std::fs::write(&file, "{\"id\":1}\n{\"id\":2}\n")?;
    /// let source = JsonSource::plan(&[file.to_str().unwrap()], JsonOptions::new())?;
    /// assert_eq!(source.partitions(), 1);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn partitions(&self) -> usize {
        self.plan.splits.len()
    }

    /// Bytes that change when what partition `index` reads changes: its
    /// split's [fingerprint](InputSplit::fingerprint) and the schema read.
    pub(crate) fn fingerprint(&self, index: usize) -> Vec<u8> {
        let mut bytes = format!("{:?}", self.plan.schema).into_bytes();
        if let Some(split) = self.plan.splits.get(index) {
            bytes.extend(split.fingerprint());
        }
        bytes
    }

    /// Reads partition `index` into one batch. A line that does not decode
    /// is an [`IoError::BadJson`] naming its file and line.
    ///
    /// ```
    /// # use flotilla_dataframe::io::{IoError, JsonOptions, JsonSource};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-jsonread-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.jsonl");
    /// std::fs::write(&file, "{\"id\":1}\n{\"id\":2}\n{\"id\":3\n")?;
    /// let source = JsonSource::plan(&[file.to_str().unwrap()], JsonOptions::new().infer_rows(1))?;
    /// match source.read_partition(0).unwrap_err() {
    ///     IoError::BadJson { line, .. } => assert_eq!(line, 3),
    ///     other => panic!("unexpected {other}"),
    /// }
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_partition(&self, index: usize) -> Result<RecordBatch, IoError> {
        let split = self
            .plan
            .splits
            .get(index)
            .ok_or(IoError::NoSuchPartition {
                index,
                partitions: self.plan.splits.len(),
            })?;
        let mut block = Vec::new();
        let offset = split.read_block(&mut block)?;
        decode(&self.plan.schema, &block)
            .map_err(|e| locate(&self.plan.schema, split, offset, &block, e))
    }
}

/// The schema of the first `rows` lines of `file`.
fn infer_file(file: &InputSplit, rows: usize) -> Result<Schema, IoError> {
    let mut sample = Vec::new();
    let mut starts = Vec::new();
    for line in LineReader::with_buffer_size(64 << 10).lines(file)? {
        let line = line?;
        if line.bytes().iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        starts.push((line.offset(), sample.len()));
        sample.extend_from_slice(line.bytes());
        sample.push(b'\n');
        if starts.len() == rows {
            break;
        }
    }
    match infer_json_schema(Cursor::new(&sample), None) {
        Ok((schema, _)) => Ok(in_order_of_appearance(schema, &sample)),
        Err(error) => {
            // Find the line: the first one that does not infer alone.
            for (i, &(offset, at)) in starts.iter().enumerate() {
                let end = starts.get(i + 1).map_or(sample.len(), |&(_, next)| next);
                let line = &sample[at..end];
                if let Err(e) = infer_json_schema(Cursor::new(line), None) {
                    return Err(bad_json(file.path(), offset, line, &e));
                }
            }
            Err(IoError::Arrow {
                path: file.path().to_path_buf(),
                source: error,
            })
        }
    }
}

/// `schema` with its fields in the order their keys first appear in
/// `sample` (arrow-json's inference sorts them by name), as pandas and
/// Polars keep them.
fn in_order_of_appearance(schema: Schema, sample: &[u8]) -> Schema {
    let first_seen = |name: &str| {
        let key = format!("{}:", json_key(name));
        find(sample, key.as_bytes())
            .or_else(|| find(sample, json_key(name).as_bytes()))
            .unwrap_or(usize::MAX)
    };
    let mut fields: Vec<(usize, Field)> = schema
        .fields()
        .iter()
        .map(|f| (first_seen(f.name()), f.as_ref().clone()))
        .collect();
    fields.sort_by_key(|(at, _)| *at);
    Schema::new(fields.into_iter().map(|(_, f)| f).collect::<Vec<_>>())
}

/// A field name as it appears as a JSON key, for the usual names (no
/// escapes needed).
fn json_key(name: &str) -> String {
    format!("\"{name}\"")
}

/// The position of the first `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `so_far` (whose fields were first seen in `from`) and the schema of
/// `path`, merged.
fn merge(
    so_far: Schema,
    mut from: Vec<PathBuf>,
    other: Schema,
    path: &Path,
) -> Result<(Schema, Vec<PathBuf>), IoError> {
    let mut fields: Vec<Field> = so_far.fields().iter().map(|f| f.as_ref().clone()).collect();
    for field in other.fields() {
        match fields.iter().position(|f| f.name() == field.name()) {
            None => {
                fields.push(field.as_ref().clone());
                from.push(path.to_path_buf());
            }
            Some(i) => {
                let joined = match (fields[i].data_type(), field.data_type()) {
                    (a, b) if a == b => a.clone(),
                    (DataType::Null, b) => b.clone(),
                    (a, DataType::Null) => a.clone(),
                    (DataType::Int64, DataType::Float64) | (DataType::Float64, DataType::Int64) => {
                        DataType::Float64
                    }
                    (a, b) => {
                        return Err(IoError::SchemaMismatch {
                            first: from[i].clone(),
                            other: path.to_path_buf(),
                            column: field.name().clone(),
                            first_type: a.to_string(),
                            other_type: b.to_string(),
                        })
                    }
                };
                fields[i] = Field::new(field.name(), joined, true);
            }
        }
    }
    Ok((Schema::new(fields), from))
}

/// `schema` reduced to `columns`, in their order.
fn project(schema: &Schema, columns: &[String]) -> Result<SchemaRef, IoError> {
    let mut fields = Vec::with_capacity(columns.len());
    for name in columns {
        let field = schema
            .field_with_name(name)
            .map_err(|_| IoError::UnknownColumn {
                column: name.clone(),
                available: schema.fields().iter().map(|f| f.name().clone()).collect(),
            })?;
        if fields.iter().any(|f: &Field| f.name() == name) {
            return Err(IoError::DuplicateColumn {
                path: PathBuf::from("options"),
                column: name.clone(),
            });
        }
        fields.push(field.clone());
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// The records of `block` as one batch of `schema`.
fn decode(schema: &SchemaRef, block: &[u8]) -> Result<RecordBatch, ArrowError> {
    // One record per line at most: the decoder holds them all at once.
    let lines = block.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut decoder = ReaderBuilder::new(Arc::clone(schema))
        .with_batch_size(lines)
        .build_decoder()?;
    let mut rest = block;
    let mut batches = Vec::new();
    while !rest.is_empty() {
        let read = decoder.decode(rest)?;
        rest = &rest[read..];
        if read == 0 {
            // A full batch; more than one record on a line.
            match decoder.flush()? {
                Some(batch) => batches.push(batch),
                None => {
                    return Err(ArrowError::JsonError(
                        "the decoder stopped before the end of the input".to_owned(),
                    ))
                }
            }
        }
    }
    batches.extend(decoder.flush()?);
    match batches.len() {
        0 => Ok(RecordBatch::new_empty(Arc::clone(schema))),
        1 => Ok(batches.remove(0)),
        _ => arrow_select::concat::concat_batches(schema, &batches),
    }
}

/// The error for a block that does not decode: the first line that does
/// not decode alone, with its file and line.
fn locate(
    schema: &SchemaRef,
    split: &InputSplit,
    offset: u64,
    block: &[u8],
    error: ArrowError,
) -> IoError {
    let mut at = 0;
    for line in block.split_inclusive(|&b| b == b'\n') {
        if let Err(e) = decode(schema, line) {
            return bad_json(split.path(), offset + at as u64, line, &e);
        }
        at += line.len();
    }
    IoError::Arrow {
        path: split.path().to_path_buf(),
        source: error,
    }
}

fn bad_json(path: &Path, offset: u64, line: &[u8], error: &ArrowError) -> IoError {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    IoError::BadJson {
        path: path.to_path_buf(),
        line: line_number_at(path, offset).unwrap_or(0),
        message: error.to_string(),
        record: snippet(text.strip_suffix(b"\r").unwrap_or(text)),
    }
}
