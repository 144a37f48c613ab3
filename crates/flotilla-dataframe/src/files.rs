//! Frames read from files and written to folders of parts.
//!
//! Reading plans first — inputs listed, headers and schemas read and
//! checked across files, byte ranges or row groups chosen — so that a
//! missing file or files that disagree are errors before any task runs.
//! Each partition is then read by the task that uses it, and released when
//! that task ends: a reduction over a file larger than memory holds only
//! the partitions its workers are busy with (see
//! [`CsvOptions::partition_bytes`] to size them).
//!
//! Writing runs one task per partition, each writing its own part under
//! `_temporary/`; when every part is written they are renamed into place
//! and `_SUCCESS` is written last. A failed write removes the parts, so a
//! folder with `_SUCCESS` is always complete and one without it is never
//! mistaken for output. The folder follows the rule of every output folder,
//! [`flotilla_data::output`]: new or empty unless asked to overwrite, and left as
//! it was found when the write fails.

use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use flotilla_local::ComputeOptions;

use super::frame::{default_options, Load};
use super::io::{
    CsvOptions, CsvSource, IoError, JsonOptions, JsonSource, OutputDir, ParquetOptions,
    ParquetSource, WriteArrowParts,
};
use super::{DataFrame, DataFrameError};
use flotilla_data::output::WriteMode;

/// The format of the parts of [`DataFrame::write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Parquet,
    Json,
}

/// A frame of `partitions` partitions, partition `i` made by `read(i)` in
/// the task that uses it and named for checkpoints by `fingerprint(i)`.
fn from_source<F, P>(
    schema: SchemaRef,
    partitions: usize,
    label: &str,
    read: F,
    fingerprint: P,
) -> DataFrame
where
    F: Fn(usize) -> Result<RecordBatch, IoError> + Send + Sync + 'static,
    P: Fn(usize) -> Vec<u8>,
{
    let read = Arc::new(read);
    let loaders = (0..partitions)
        .map(|i| {
            let read = Arc::clone(&read);
            (Arc::new(move || Ok(read(i)?)) as Load, fingerprint(i))
        })
        .collect();
    DataFrame::from_loaders(schema, loaders, label)
}

impl DataFrame {
    /// A frame of CSV files (one file, many files, folders or globs; gzip
    /// too), one partition per byte range of about
    /// [`partition_bytes`](CsvOptions::partition_bytes).
    ///
    /// ```
    /// use flotilla_dataframe::{io::CsvOptions, DataFrame};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-read-csv-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("w.csv");
    /// std::fs::write(&path, "station_id,temperature\n1,20.5\n2,30.25\n1,10.0\n")?;
    /// let df = DataFrame::read_csv(&[path.to_str().unwrap()], CsvOptions::new())?;
    /// assert_eq!(df.column_names(), ["station_id", "temperature"]);
    /// assert_eq!(df.mean("temperature")?.compute()?, Some(20.25));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataFrameError::Io`]: an input that does not exist, headers or
    /// types that differ between files (naming both). A malformed row
    /// fails the computation that reads it, naming file, line and column.
    pub fn read_csv<P: AsRef<str>>(
        inputs: &[P],
        options: CsvOptions,
    ) -> Result<DataFrame, DataFrameError> {
        Ok(DataFrame::from_csv_source(CsvSource::plan(
            inputs, options,
        )?))
    }

    /// A frame of a planned CSV source, one partition per byte range: keep
    /// a clone of the source to ask it, after computing, which records it
    /// skipped ([`CsvSource::bad_records`]).
    ///
    /// ```
    /// use flotilla_dataframe::{io::{CsvOptions, CsvSource}, DataFrame};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-from-source-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("w.csv");
    /// std::fs::write(&path, "station_id,temperature\n1,20.5\n2\n1,10.0\n")?;
    /// let source = CsvSource::plan(&[path.to_str().unwrap()], CsvOptions::new().skip_bad_records(true))?;
    /// let df = DataFrame::from_csv_source(source.clone());
    /// assert_eq!(df.count().compute()?, 2);
    /// assert_eq!(source.bad_records().count, 1);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_csv_source(source: CsvSource) -> DataFrame {
        let plan = Arc::new(crate::portable::FramePlan::Csv(source.clone()));
        let source = Arc::new(source);
        let (schema, partitions) = (source.schema(), source.partitions());
        let read = Arc::clone(&source);
        let mut out = from_source(
            schema,
            partitions,
            "read_csv",
            move |i| read.read_partition(i),
            |i| source.fingerprint(i),
        );
        out.portable = Ok(plan);
        out
    }

    /// A frame of JSON-lines files (one object per line), split by byte
    /// ranges like CSV.
    ///
    /// ```
    /// use flotilla_dataframe::{io::JsonOptions, DataFrame};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-read-json-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("e.jsonl");
    /// std::fs::write(&path, "{\"user\": 1, \"ms\": 12.5}\n{\"user\": 2, \"ms\": 7.5}\n")?;
    /// let df = DataFrame::read_json(&[path.to_str().unwrap()], JsonOptions::new())?;
    /// assert_eq!(df.sum("ms")?.compute()?, Some(20.0));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`read_csv`](DataFrame::read_csv).
    pub fn read_json<P: AsRef<str>>(
        inputs: &[P],
        options: JsonOptions,
    ) -> Result<DataFrame, DataFrameError> {
        let source = Arc::new(JsonSource::plan(inputs, options)?);
        let (schema, partitions) = (source.schema(), source.partitions());
        let read = Arc::clone(&source);
        Ok(from_source(
            schema,
            partitions,
            "read_json",
            move |i| read.read_partition(i),
            |i| source.fingerprint(i),
        ))
    }

    /// A frame of Parquet files, one partition per row group.
    ///
    /// ```
    /// use flotilla_dataframe::{io::ParquetOptions, DataFrame};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-read-pq-{}", std::process::id()));
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
    /// df.to_parquet(&dir)?;
    /// let back = DataFrame::read_parquet(&[dir.to_str().unwrap()], ParquetOptions::new())?;
    /// assert_eq!(back.sum("x")?.compute()?, Some(6.0));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`read_csv`](DataFrame::read_csv).
    pub fn read_parquet<P: AsRef<str>>(
        inputs: &[P],
        options: ParquetOptions,
    ) -> Result<DataFrame, DataFrameError> {
        let source = Arc::new(ParquetSource::plan(inputs, options)?);
        let (schema, partitions) = (source.schema(), source.partitions());
        let read = Arc::clone(&source);
        Ok(from_source(
            schema,
            partitions,
            "read_parquet",
            move |i| read.read_partition(i),
            |i| source.fingerprint(i),
        ))
    }

    /// Writes the frame as a folder of CSV parts (`part-00000.csv`, ...,
    /// with a header each) and `_SUCCESS`, one task per partition. The
    /// folder must be new or empty; see [`to_csv_with`](DataFrame::to_csv_with)
    /// to overwrite a previous output, and [`flotilla_data::output`] for the rule
    /// every output folder follows.
    ///
    /// ```
    /// use flotilla_dataframe::{io::CsvOptions, DataFrame};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-to-csv-{}", std::process::id()));
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
    /// df.to_csv(&dir)?;
    /// assert!(dir.join("_SUCCESS").exists());
    /// let back = DataFrame::read_csv(&[dir.join("part-*.csv").to_str().unwrap()], CsvOptions::new())?;
    /// assert_eq!(back.count().compute()?, 3);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A path that is a file or a folder that is not empty, a failed write,
    /// or the first error of a partition; a failed write leaves the folder
    /// as it found it.
    pub fn to_csv(&self, dir: impl AsRef<Path>) -> Result<(), DataFrameError> {
        self.to_csv_with(dir, WriteMode::ErrorIfNotEmpty)
    }

    /// [`to_csv`](DataFrame::to_csv), with [`WriteMode::Overwrite`] to
    /// replace a previous flotilla output in the folder.
    ///
    /// ```
    /// use flotilla_dataframe::DataFrame;
    /// use flotilla_data::output::WriteMode;
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-to-csv-with-{}", std::process::id()));
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2)?;
    /// df.to_csv(&dir)?;
    /// assert!(df.to_csv(&dir).is_err()); // not empty
    /// let one = DataFrame::from_columns(vec![("x", vec![9i64].into())], 1)?;
    /// one.to_csv_with(&dir, WriteMode::Overwrite)?; // replaces both parts
    /// assert!(!dir.join("part-00001.csv").exists());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`to_csv`](DataFrame::to_csv); with [`WriteMode::Overwrite`],
    /// also a folder holding anything but a previous flotilla output.
    pub fn to_csv_with(
        &self,
        dir: impl AsRef<Path>,
        mode: WriteMode,
    ) -> Result<(), DataFrameError> {
        self.write(dir.as_ref(), Format::Csv, mode, &default_options())
    }

    /// Writes the frame as a folder of Parquet parts and `_SUCCESS`, as
    /// [`to_csv`](DataFrame::to_csv) does.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-to-pq-{}", std::process::id()));
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 2)?;
    /// df.to_parquet(&dir)?;
    /// assert!(dir.join("part-00001.parquet").exists());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`to_csv`](DataFrame::to_csv).
    pub fn to_parquet(&self, dir: impl AsRef<Path>) -> Result<(), DataFrameError> {
        self.to_parquet_with(dir, WriteMode::ErrorIfNotEmpty)
    }

    /// [`to_parquet`](DataFrame::to_parquet), with a [`WriteMode`].
    ///
    /// ```
    /// use flotilla_data::output::WriteMode;
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-to-pq-with-{}", std::process::id()));
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 2)?;
    /// df.to_parquet(&dir)?;
    /// df.to_parquet_with(&dir, WriteMode::Overwrite)?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`to_csv_with`](DataFrame::to_csv_with).
    pub fn to_parquet_with(
        &self,
        dir: impl AsRef<Path>,
        mode: WriteMode,
    ) -> Result<(), DataFrameError> {
        self.write(dir.as_ref(), Format::Parquet, mode, &default_options())
    }

    /// Writes the frame as a folder of JSON-lines parts and `_SUCCESS`, as
    /// [`to_csv`](DataFrame::to_csv) does.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-to-json-{}", std::process::id()));
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 1)?;
    /// df.to_json(&dir)?;
    /// assert!(dir.join("_SUCCESS").exists());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`to_csv`](DataFrame::to_csv).
    pub fn to_json(&self, dir: impl AsRef<Path>) -> Result<(), DataFrameError> {
        self.to_json_with(dir, WriteMode::ErrorIfNotEmpty)
    }

    /// [`to_json`](DataFrame::to_json), with a [`WriteMode`].
    ///
    /// ```
    /// use flotilla_data::output::WriteMode;
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-to-json-with-{}", std::process::id()));
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 2].into())], 1)?;
    /// df.to_json(&dir)?;
    /// df.to_json_with(&dir, WriteMode::Overwrite)?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`to_csv_with`](DataFrame::to_csv_with).
    pub fn to_json_with(
        &self,
        dir: impl AsRef<Path>,
        mode: WriteMode,
    ) -> Result<(), DataFrameError> {
        self.write(dir.as_ref(), Format::Json, mode, &default_options())
    }

    fn write(
        &self,
        dir: &Path,
        format: Format,
        mode: WriteMode,
        options: &ComputeOptions,
    ) -> Result<(), DataFrameError> {
        let out = OutputDir::create(dir, mode).map_err(IoError::from)?;
        let task_out = out.clone();
        let label = match format {
            Format::Csv => "to_csv",
            Format::Parquet => "to_parquet",
            Format::Json => "to_json",
        };
        let leaves = self.partition_tasks_indexed(label, move |i, b| {
            match format {
                Format::Csv => task_out.write_csv_part(i, &b),
                Format::Parquet => task_out.write_parquet_part(i, &b),
                Format::Json => task_out.write_json_part(i, &b),
            }
            .map(|_| ())
            .map_err(DataFrameError::from)
        });
        let written = self.tree_of(label, leaves, |_| Ok(()));
        match written.compute_with(options) {
            Ok(()) => {
                out.commit_expecting(self.num_partitions())
                    .map_err(IoError::from)?;
                Ok(())
            }
            Err(e) => {
                // The write failed: leave nothing behind. A failure to
                // clean up is secondary to the error that caused it.
                let _ = out.abort();
                Err(e)
            }
        }
    }
}
