//! Parquet inputs, one partition per row group.
//!
//! Planning lists the files (folders and globs as for text inputs) and
//! reads every footer once: the schemas must agree (same column names and
//! types, in the same order; an error names the first file and the one
//! that differs), and every row group of every file becomes a partition.
//! The footers are kept in the plan, so a partition opens its file and
//! reads its row group's column chunks without reading the footer again.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;

use flotilla_data::split::list_input_files;

use super::IoError;

/// How to read Parquet inputs.
///
/// ```
/// let options = flotilla_dataframe::io::ParquetOptions::new().columns(["station_id"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ParquetOptions {
    columns: Option<Vec<String>>,
}

impl ParquetOptions {
    /// The defaults: every column.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::ParquetOptions::new();
    /// ```
    pub fn new() -> ParquetOptions {
        ParquetOptions::default()
    }

    /// Read only these (top-level) columns, in this order; the others'
    /// column chunks are not read at all.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::ParquetOptions::new().columns(["a", "b"]);
    /// ```
    pub fn columns<I, S>(mut self, names: I) -> ParquetOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns = Some(names.into_iter().map(Into::into).collect());
        self
    }
}

/// A planned Parquet input: its schema and its partitions, one per row
/// group. Cheap to clone and `Send + Sync`.
///
/// ```
/// use std::sync::Arc;
/// use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
/// use flotilla_dataframe::io::{OutputDir, ParquetSource, ParquetWriteOptions, WriteArrowParts};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-parquetsource-{}", std::process::id()));
/// let out = OutputDir::create(&dir, flotilla_data::output::WriteMode::Overwrite)?;
/// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from_iter_values(0..10)) as _)])?;
/// // Two parts of 10 rows, in row groups of 4: 3 row groups each.
/// let options = ParquetWriteOptions::new().row_group_rows(4);
/// out.write_parquet_part_with(0, &batch, &options)?;
/// out.write_parquet_part_with(1, &batch, &options)?;
/// out.commit()?;
///
/// let source = ParquetSource::plan(&[dir.to_str().unwrap()], Default::default())?;
/// assert_eq!(source.partitions(), 6);
/// let rows: usize = (0..6).map(|i| source.read_partition(i).map(|b| b.num_rows())).sum::<Result<_, _>>()?;
/// assert_eq!(rows, 20);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ParquetSource {
    plan: Arc<ParquetPlan>,
}

#[derive(Debug)]
struct ParquetPlan {
    files: Vec<ParquetFile>,
    /// (file, row group) of every partition.
    parts: Vec<(usize, usize)>,
    /// The output schema (after projection).
    schema: SchemaRef,
    /// The columns read, as positions in the files' schema, in output
    /// order; `None` for all.
    projection: Option<Vec<usize>>,
}

#[derive(Debug)]
struct ParquetFile {
    path: PathBuf,
    metadata: ArrowReaderMetadata,
}

impl ParquetSource {
    /// Plans reading `inputs` (files, folders, globs): reads every footer,
    /// checks that the schemas agree and that the projected columns exist.
    ///
    /// ```
    /// use flotilla_dataframe::io::{IoError, ParquetSource};
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-parquetplan-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("not.parquet"), "this is text")?;
    /// let err = ParquetSource::plan(&[dir.to_str().unwrap()], Default::default()).unwrap_err();
    /// assert!(matches!(err, IoError::Parquet { .. }));
    /// assert!(err.to_string().contains("not.parquet"));
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plan<P: AsRef<str>>(
        inputs: &[P],
        options: ParquetOptions,
    ) -> Result<ParquetSource, IoError> {
        let mut files: Vec<ParquetFile> = Vec::new();
        for path in list_input_files(inputs)? {
            let metadata = read_footer(&path)?;
            if let Some(first) = files.first() {
                check_same_schema(first, &path, metadata.schema())?;
            }
            files.push(ParquetFile { path, metadata });
        }
        let Some(first) = files.first() else {
            return Err(IoError::NoData {
                inputs: inputs.iter().map(|i| i.as_ref().to_owned()).collect(),
            });
        };
        let file_schema = Arc::clone(first.metadata.schema());
        let (schema, projection) =
            match &options.columns {
                None => (file_schema, None),
                Some(columns) => {
                    let positions = positions(&file_schema, columns)?;
                    let schema = Arc::new(file_schema.project(&positions).map_err(|source| {
                        IoError::Arrow {
                            path: first.path.clone(),
                            source,
                        }
                    })?);
                    (schema, Some(positions))
                }
            };
        let parts = files
            .iter()
            .enumerate()
            .flat_map(|(f, file)| {
                (0..file.metadata.metadata().num_row_groups()).map(move |g| (f, g))
            })
            .collect();
        Ok(ParquetSource {
            plan: Arc::new(ParquetPlan {
                files,
                parts,
                schema,
                projection,
            }),
        })
    }

    /// The schema of every partition.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// # use flotilla_dataframe::io::{OutputDir, ParquetOptions, ParquetSource, WriteArrowParts};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-parquetschema-{}", std::process::id()));
    /// # let out = OutputDir::create(&dir, flotilla_data::output::WriteMode::Overwrite)?;
    /// let batch = RecordBatch::try_from_iter([
    ///     ("a", Arc::new(Int64Array::from(vec![1])) as _),
    ///     ("b", Arc::new(Int64Array::from(vec![2])) as _),
    /// ])?;
    /// out.write_parquet_part(0, &batch)?;
    /// out.commit()?;
    /// let source = ParquetSource::plan(&[dir.to_str().unwrap()], ParquetOptions::new().columns(["b", "a"]))?;
    /// let names: Vec<String> = source.schema().fields().iter().map(|f| f.name().clone()).collect();
    /// assert_eq!(names, ["b", "a"]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.plan.schema)
    }

    /// The number of partitions: the row groups of all the files.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// # use flotilla_dataframe::io::{OutputDir, ParquetSource, WriteArrowParts};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-parquetparts-{}", std::process::id()));
    /// # let out = OutputDir::create(&dir, flotilla_data::output::WriteMode::Overwrite)?;
    /// # let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1, 2])) as _)])?;
    /// out.write_parquet_part(0, &batch)?; // one row group
    /// out.commit()?;
    /// let source = ParquetSource::plan(&[dir.to_str().unwrap()], Default::default())?;
    /// assert_eq!(source.partitions(), 1);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn partitions(&self) -> usize {
        self.plan.parts.len()
    }

    /// Bytes that change when what partition `index` reads changes: its
    /// file's [fingerprint](flotilla_data::split::file_fingerprint), its
    /// row group and the schema read.
    pub(crate) fn fingerprint(&self, index: usize) -> Vec<u8> {
        let mut bytes = format!("{:?}", self.plan.schema).into_bytes();
        if let Some(&(file, group)) = self.plan.parts.get(index) {
            if let Some(f) = self.plan.files.get(file) {
                bytes.extend(flotilla_data::split::file_fingerprint(&f.path));
            }
            bytes.extend_from_slice(&(group as u64).to_le_bytes());
        }
        bytes
    }

    /// Reads partition `index` (one row group) into one batch.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// # use flotilla_dataframe::io::{OutputDir, ParquetSource, WriteArrowParts};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-parquetread-{}", std::process::id()));
    /// # let out = OutputDir::create(&dir, flotilla_data::output::WriteMode::Overwrite)?;
    /// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![4, 5, 6])) as _)])?;
    /// out.write_parquet_part(0, &batch)?;
    /// out.commit()?;
    /// let source = ParquetSource::plan(&[dir.to_str().unwrap()], Default::default())?;
    /// assert_eq!(source.read_partition(0)?, batch);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_partition(&self, index: usize) -> Result<RecordBatch, IoError> {
        let plan = &self.plan;
        let &(f, group) = plan.parts.get(index).ok_or(IoError::NoSuchPartition {
            index,
            partitions: plan.parts.len(),
        })?;
        let file = &plan.files[f];
        let path = &file.path;
        let parquet_error = |source| IoError::Parquet {
            path: path.clone(),
            source,
        };
        let arrow_error = |source| IoError::Arrow {
            path: path.clone(),
            source,
        };
        let rows = file.metadata.metadata().row_group(group).num_rows();
        let handle = File::open(path).map_err(|e| IoError::io(path, e))?;
        let mut builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(handle, file.metadata.clone())
                .with_row_groups(vec![group])
                .with_batch_size(usize::try_from(rows).unwrap_or(usize::MAX).max(1));
        // The reader gives the projected columns in file order.
        let mut order = None;
        if let Some(projection) = &plan.projection {
            let mask = ProjectionMask::roots(builder.parquet_schema(), projection.iter().copied());
            builder = builder.with_projection(mask);
            let mut sorted = projection.clone();
            sorted.sort_unstable();
            order = Some(
                projection
                    .iter()
                    .map(|p| sorted.iter().position(|s| s == p).unwrap_or(0))
                    .collect::<Vec<_>>(),
            );
        }
        let reader = builder.build().map_err(parquet_error)?;
        let mut batches = reader.collect::<Result<Vec<_>, _>>().map_err(arrow_error)?;
        let batch = match batches.len() {
            0 => return Ok(RecordBatch::new_empty(Arc::clone(&plan.schema))),
            1 => batches.swap_remove(0),
            _ => arrow_select::concat::concat_batches(&batches[0].schema(), &batches)
                .map_err(arrow_error)?,
        };
        let columns = match &order {
            Some(order) => order.iter().map(|&i| Arc::clone(batch.column(i))).collect(),
            None => batch.columns().to_vec(),
        };
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        RecordBatch::try_new_with_options(Arc::clone(&plan.schema), columns, &options)
            .map_err(arrow_error)
    }
}

fn read_footer(path: &Path) -> Result<ArrowReaderMetadata, IoError> {
    let file = File::open(path).map_err(|e| IoError::io(path, e))?;
    ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|source| IoError::Parquet {
        path: path.to_path_buf(),
        source,
    })
}

/// The schema of `path` must have the first file's columns: names and
/// types, in order.
fn check_same_schema(first: &ParquetFile, path: &Path, schema: &Schema) -> Result<(), IoError> {
    let reference = first.metadata.schema();
    let mismatch =
        |column: String, first_type: String, other_type: String| IoError::SchemaMismatch {
            first: first.path.clone(),
            other: path.to_path_buf(),
            column,
            first_type,
            other_type,
        };
    for (i, (a, b)) in reference.fields().iter().zip(schema.fields()).enumerate() {
        if a.name() != b.name() {
            return Err(mismatch(
                format!("#{}", i + 1),
                format!("{:?}", a.name()),
                format!("{:?}", b.name()),
            ));
        }
        if a.data_type() != b.data_type() {
            return Err(mismatch(
                a.name().clone(),
                a.data_type().to_string(),
                b.data_type().to_string(),
            ));
        }
    }
    if reference.fields().len() != schema.fields().len() {
        return Err(mismatch(
            "(column count)".to_owned(),
            format!("{} columns", reference.fields().len()),
            format!("{} columns", schema.fields().len()),
        ));
    }
    Ok(())
}

/// The positions of `columns` in `schema`.
fn positions(schema: &Schema, columns: &[String]) -> Result<Vec<usize>, IoError> {
    let mut positions = Vec::with_capacity(columns.len());
    for name in columns {
        let at = schema.index_of(name).map_err(|_| IoError::UnknownColumn {
            column: name.clone(),
            available: schema.fields().iter().map(|f| f.name().clone()).collect(),
        })?;
        if positions.contains(&at) {
            return Err(IoError::DuplicateColumn {
                path: PathBuf::from("options"),
                column: name.clone(),
            });
        }
        positions.push(at);
    }
    Ok(positions)
}
