//! Writing partitions: Arrow batches as the parts of an
//! [`OutputDir`], in CSV, Parquet or JSON lines. The folder, its rule and
//! its commit are the crate's one output committer, [`flotilla_data::output`].

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::IoError;
pub use flotilla_data::output::OutputDir;

/// How parts are written as CSV.
///
/// ```
/// let tsv = flotilla_dataframe::io::CsvWriteOptions::new().delimiter(b'\t').header(false);
/// ```
#[derive(Debug, Clone)]
pub struct CsvWriteOptions {
    delimiter: u8,
    header: bool,
}

impl Default for CsvWriteOptions {
    fn default() -> Self {
        CsvWriteOptions {
            delimiter: b',',
            header: true,
        }
    }
}

impl CsvWriteOptions {
    /// Comma-separated, with a header line in every part.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::CsvWriteOptions::new();
    /// ```
    pub fn new() -> CsvWriteOptions {
        CsvWriteOptions::default()
    }

    /// The field delimiter.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::CsvWriteOptions::new().delimiter(b';');
    /// ```
    pub fn delimiter(mut self, delimiter: u8) -> CsvWriteOptions {
        self.delimiter = delimiter;
        self
    }

    /// Whether each part starts with a header line (default `true`).
    ///
    /// ```
    /// let options = flotilla_dataframe::io::CsvWriteOptions::new().header(false);
    /// ```
    pub fn header(mut self, header: bool) -> CsvWriteOptions {
        self.header = header;
        self
    }
}

/// The compression of Parquet column chunks.
///
/// ```
/// use flotilla_dataframe::io::{ParquetCompression, ParquetWriteOptions};
/// let options = ParquetWriteOptions::new().compression(ParquetCompression::Uncompressed);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParquetCompression {
    /// No compression.
    Uncompressed,
    /// Snappy (the default): fast, moderate ratio.
    #[default]
    Snappy,
}

/// How parts are written as Parquet.
///
/// ```
/// let options = flotilla_dataframe::io::ParquetWriteOptions::new().row_group_rows(100_000);
/// ```
#[derive(Debug, Clone)]
pub struct ParquetWriteOptions {
    row_group_rows: usize,
    compression: ParquetCompression,
}

impl Default for ParquetWriteOptions {
    fn default() -> Self {
        ParquetWriteOptions {
            row_group_rows: 1 << 20,
            compression: ParquetCompression::Snappy,
        }
    }
}

impl ParquetWriteOptions {
    /// Row groups of up to 1 Mi rows, Snappy-compressed.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::ParquetWriteOptions::new();
    /// ```
    pub fn new() -> ParquetWriteOptions {
        ParquetWriteOptions::default()
    }

    /// Rows per row group, at least 1. A row group is the unit a
    /// [`ParquetSource`](super::ParquetSource) reads as one partition.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::ParquetWriteOptions::new().row_group_rows(4096);
    /// ```
    pub fn row_group_rows(mut self, rows: usize) -> ParquetWriteOptions {
        self.row_group_rows = rows.max(1);
        self
    }

    /// The compression of column chunks.
    ///
    /// ```
    /// use flotilla_dataframe::io::{ParquetCompression, ParquetWriteOptions};
    /// let options = ParquetWriteOptions::new().compression(ParquetCompression::Snappy);
    /// ```
    pub fn compression(mut self, compression: ParquetCompression) -> ParquetWriteOptions {
        self.compression = compression;
        self
    }
}

/// The Arrow part writers of an [`OutputDir`], for the tasks of a
/// `DataFrame` write: each writes one batch as one part, and commits the
/// part (the task commit); the folder's commit is
/// [`OutputDir::commit`]'s.
///
/// The output folder is shared by every collection, so these writers are
/// a trait the DataFrame implements for it; bring it into scope to call
/// them.
///
/// ```
/// # use std::sync::Arc;
/// # use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
/// use flotilla_dataframe::io::{OutputDir, WriteArrowParts};
/// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outarrow-{}", std::process::id()));
/// let out = OutputDir::create(&dir, flotilla_data::output::WriteMode::Overwrite)?;
/// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1, 2])) as _)])?;
/// out.write_csv_part(0, &batch)?;
/// out.write_json_part(1, &batch)?;
/// assert_eq!(out.commit()?.len(), 2);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait WriteArrowParts {
    /// Writes `batch` as part `index` in CSV with a header
    /// (`part-00007.csv`); returns where the part will be after the
    /// commit. See [`write_csv_part_with`](Self::write_csv_part_with).
    ///
    /// # Errors
    ///
    /// [`IoError::Arrow`] when the batch cannot be written as CSV,
    /// [`IoError::Io`] or [`IoError::Output`] when the part cannot be
    /// written or committed.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use flotilla_dataframe::arrow::array::{Float64Array, RecordBatch};
    /// use flotilla_dataframe::io::WriteArrowParts;
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outcsv-{}", std::process::id()));
    /// let out = flotilla_dataframe::io::OutputDir::create(&dir, flotilla_data::output::WriteMode::Overwrite)?;
    /// let batch = RecordBatch::try_from_iter([("t", Arc::new(Float64Array::from(vec![0.1, 2.5])) as _)])?;
    /// let part = out.write_csv_part(7, &batch)?;
    /// assert_eq!(part, dir.join("part-00007.csv"));
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn write_csv_part(&self, index: usize, batch: &RecordBatch) -> Result<PathBuf, IoError>;

    /// Writes `batch` as part `index` in CSV with `options`.
    ///
    /// # Errors
    ///
    /// As [`write_csv_part`](Self::write_csv_part).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::io::{CsvWriteOptions, OutputDir, WriteArrowParts};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outcsvwith-{}", std::process::id()));
    /// let out = OutputDir::create(&dir, flotilla_data::output::WriteMode::Overwrite)?;
    /// let batch = RecordBatch::try_from_iter([
    ///     ("a", Arc::new(Int64Array::from(vec![1])) as _),
    ///     ("b", Arc::new(Int64Array::from(vec![2])) as _),
    /// ])?;
    /// out.write_csv_part_with(0, &batch, &CsvWriteOptions::new().delimiter(b'\t').header(false))?;
    /// let parts = out.commit()?;
    /// assert_eq!(std::fs::read_to_string(&parts[0])?, "1\t2\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn write_csv_part_with(
        &self,
        index: usize,
        batch: &RecordBatch,
        options: &CsvWriteOptions,
    ) -> Result<PathBuf, IoError>;

    /// Writes `batch` as part `index` in Parquet (`part-00007.parquet`),
    /// Snappy-compressed, in row groups of up to 1 Mi rows.
    ///
    /// # Errors
    ///
    /// [`IoError::Parquet`] when the batch cannot be written as Parquet,
    /// [`IoError::Io`] or [`IoError::Output`] when the part cannot be
    /// written or committed.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::io::WriteArrowParts;
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outparquet-{}", std::process::id()));
    /// let out = flotilla_dataframe::io::OutputDir::create(&dir, flotilla_data::output::WriteMode::Overwrite)?;
    /// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1])) as _)])?;
    /// assert_eq!(out.write_parquet_part(3, &batch)?, dir.join("part-00003.parquet"));
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn write_parquet_part(&self, index: usize, batch: &RecordBatch) -> Result<PathBuf, IoError>;

    /// Writes `batch` as part `index` in Parquet with `options`.
    ///
    /// # Errors
    ///
    /// As [`write_parquet_part`](Self::write_parquet_part).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::io::{OutputDir, ParquetSource, ParquetWriteOptions, WriteArrowParts};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outparquetwith-{}", std::process::id()));
    /// let out = OutputDir::create(&dir, flotilla_data::output::WriteMode::Overwrite)?;
    /// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from_iter_values(0..100)) as _)])?;
    /// out.write_parquet_part_with(0, &batch, &ParquetWriteOptions::new().row_group_rows(30))?;
    /// out.commit()?;
    /// assert_eq!(ParquetSource::plan(&[dir.to_str().unwrap()], Default::default())?.partitions(), 4);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn write_parquet_part_with(
        &self,
        index: usize,
        batch: &RecordBatch,
        options: &ParquetWriteOptions,
    ) -> Result<PathBuf, IoError>;

    /// Writes `batch` as part `index` in JSON lines (`part-00007.jsonl`),
    /// one object per row; nulls are left out of their objects.
    ///
    /// # Errors
    ///
    /// [`IoError::Arrow`] when the batch cannot be written as JSON,
    /// [`IoError::Io`] or [`IoError::Output`] when the part cannot be
    /// written or committed.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch};
    /// use flotilla_dataframe::io::WriteArrowParts;
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outjson-{}", std::process::id()));
    /// let out = flotilla_dataframe::io::OutputDir::create(&dir, flotilla_data::output::WriteMode::Overwrite)?;
    /// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![Some(1), None])) as _)])?;
    /// out.write_json_part(0, &batch)?;
    /// let parts = out.commit()?;
    /// assert_eq!(std::fs::read_to_string(&parts[0])?, "{\"n\":1}\n{}\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn write_json_part(&self, index: usize, batch: &RecordBatch) -> Result<PathBuf, IoError>;
}

impl WriteArrowParts for OutputDir {
    fn write_csv_part(&self, index: usize, batch: &RecordBatch) -> Result<PathBuf, IoError> {
        self.write_csv_part_with(index, batch, &CsvWriteOptions::default())
    }

    fn write_csv_part_with(
        &self,
        index: usize,
        batch: &RecordBatch,
        options: &CsvWriteOptions,
    ) -> Result<PathBuf, IoError> {
        write_part(self, index, "csv", |file, path| {
            let mut writer = arrow_csv::WriterBuilder::new()
                .with_header(options.header)
                .with_delimiter(options.delimiter)
                .build(BufWriter::new(file));
            writer.write(batch).map_err(|source| IoError::Arrow {
                path: path.to_path_buf(),
                source,
            })?;
            writer
                .into_inner()
                .flush()
                .map_err(|e| IoError::io(path, e))
        })
    }

    fn write_parquet_part(&self, index: usize, batch: &RecordBatch) -> Result<PathBuf, IoError> {
        self.write_parquet_part_with(index, batch, &ParquetWriteOptions::default())
    }

    fn write_parquet_part_with(
        &self,
        index: usize,
        batch: &RecordBatch,
        options: &ParquetWriteOptions,
    ) -> Result<PathBuf, IoError> {
        let compression = match options.compression {
            ParquetCompression::Uncompressed => Compression::UNCOMPRESSED,
            ParquetCompression::Snappy => Compression::SNAPPY,
        };
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(options.row_group_rows.max(1)))
            .set_compression(compression)
            .build();
        write_part(self, index, "parquet", |file, path| {
            let parquet_error = |source| IoError::Parquet {
                path: path.to_path_buf(),
                source,
            };
            // The writer buffers on its own; `into_inner` writes the footer.
            let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties))
                .map_err(parquet_error)?;
            writer.write(batch).map_err(parquet_error)?;
            writer.into_inner().map(drop).map_err(parquet_error)
        })
    }

    fn write_json_part(&self, index: usize, batch: &RecordBatch) -> Result<PathBuf, IoError> {
        write_part(self, index, "jsonl", |file, path| {
            let mut writer = arrow_json::LineDelimitedWriter::new(BufWriter::new(file));
            let arrow_error = |source| IoError::Arrow {
                path: path.to_path_buf(),
                source,
            };
            writer.write(batch).map_err(arrow_error)?;
            writer.finish().map_err(arrow_error)?;
            writer
                .into_inner()
                .flush()
                .map_err(|e| IoError::io(path, e))
        })
    }
}

/// Writes one part of `out` through `write` into an attempt file, then
/// renames it to its part name in `_temporary/` (the task commit). A failed
/// attempt removes its file.
fn write_part(
    out: &OutputDir,
    index: usize,
    extension: &str,
    write: impl FnOnce(&mut std::fs::File, &Path) -> Result<(), IoError>,
) -> Result<PathBuf, IoError> {
    let mut part = out.create_part(index, extension)?;
    let attempt = part.path().to_path_buf();
    write(part.file(), &attempt)?;
    Ok(part.commit()?)
}
