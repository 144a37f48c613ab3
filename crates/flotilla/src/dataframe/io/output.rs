//! Writing partitions: an output folder whose parts are written by their
//! own tasks and committed at once, after Hadoop's `FileOutputCommitter`.
//!
//! ```text
//!  OUTPUT/
//!  └─ _temporary/
//!     ├─ .part-00003.csv.4242-17.attempt   a task writing (pid, attempt)
//!     └─ part-00003.csv                    task commit: the attempt, renamed once complete
//!
//!  job commit (OutputDir::commit), after the last task:
//!     rename _temporary/part-NNNNN.ext → OUTPUT/part-NNNNN.ext, every part
//!     remove _temporary/
//!     create OUTPUT/_SUCCESS                last
//! ```
//!
//! A part appears under its final name only complete (a rename within one
//! folder is atomic), so a task that fails or is retried never leaves half
//! a part behind, and a retry simply replaces its part. Until the commit,
//! readers of `OUTPUT/` see no part and no `_SUCCESS`; a commit that fails
//! half way removes the parts it moved, so a folder with parts always has
//! all of them and `_SUCCESS`. [`OutputDir::abort`] removes everything.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::IoError;

/// The marker written last by a commit.
const SUCCESS: &str = "_SUCCESS";
/// Where parts wait for the commit.
const TEMPORARY: &str = "_temporary";

/// Makes attempt file names unique within the process.
static ATTEMPTS: AtomicU64 = AtomicU64::new(0);

/// How parts are written as CSV.
///
/// ```
/// let tsv = flotilla::dataframe::io::CsvWriteOptions::new().delimiter(b'\t').header(false);
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
    /// let options = flotilla::dataframe::io::CsvWriteOptions::new();
    /// ```
    pub fn new() -> CsvWriteOptions {
        CsvWriteOptions::default()
    }

    /// The field delimiter.
    ///
    /// ```
    /// let options = flotilla::dataframe::io::CsvWriteOptions::new().delimiter(b';');
    /// ```
    pub fn delimiter(mut self, delimiter: u8) -> CsvWriteOptions {
        self.delimiter = delimiter;
        self
    }

    /// Whether each part starts with a header line (default `true`).
    ///
    /// ```
    /// let options = flotilla::dataframe::io::CsvWriteOptions::new().header(false);
    /// ```
    pub fn header(mut self, header: bool) -> CsvWriteOptions {
        self.header = header;
        self
    }
}

/// The compression of Parquet column chunks.
///
/// ```
/// use flotilla::dataframe::io::{ParquetCompression, ParquetWriteOptions};
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
/// let options = flotilla::dataframe::io::ParquetWriteOptions::new().row_group_rows(100_000);
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
    /// let options = flotilla::dataframe::io::ParquetWriteOptions::new();
    /// ```
    pub fn new() -> ParquetWriteOptions {
        ParquetWriteOptions::default()
    }

    /// Rows per row group, at least 1. A row group is the unit a
    /// [`ParquetSource`](super::ParquetSource) reads as one partition.
    ///
    /// ```
    /// let options = flotilla::dataframe::io::ParquetWriteOptions::new().row_group_rows(4096);
    /// ```
    pub fn row_group_rows(mut self, rows: usize) -> ParquetWriteOptions {
        self.row_group_rows = rows.max(1);
        self
    }

    /// The compression of column chunks.
    ///
    /// ```
    /// use flotilla::dataframe::io::{ParquetCompression, ParquetWriteOptions};
    /// let options = ParquetWriteOptions::new().compression(ParquetCompression::Snappy);
    /// ```
    pub fn compression(mut self, compression: ParquetCompression) -> ParquetWriteOptions {
        self.compression = compression;
        self
    }
}

/// An output folder being written, part by part.
///
/// Cheap to clone and `Send + Sync`: every task writing a part holds a
/// clone. Create it before the tasks, [`commit`](Self::commit) (or
/// [`abort`](Self::abort)) after the last one.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use flotilla::dataframe::io::OutputDir;
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-outputdir-{}", std::process::id()));
/// let out = OutputDir::create(&dir, true)?;
/// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1, 2])) as _)])?;
///
/// std::thread::scope(|s| {
///     for i in 0..3 {
///         let (out, batch) = (out.clone(), &batch);
///         s.spawn(move || out.write_csv_part(i, batch));
///     }
/// });
/// assert!(!dir.join("_SUCCESS").exists()); // nothing visible before the commit
/// let parts = out.commit()?;
/// assert_eq!(parts.len(), 3);
/// assert_eq!(std::fs::read_to_string(&parts[2])?, "n\n1\n2\n");
/// assert!(dir.join("_SUCCESS").exists());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OutputDir {
    paths: Arc<Paths>,
}

#[derive(Debug)]
struct Paths {
    root: PathBuf,
    temporary: PathBuf,
}

impl OutputDir {
    /// Prepares `path` for writing: creates it (and its parents) if
    /// missing. An existing non-empty folder (or a file) is an
    /// [`IoError::OutputExists`], unless `overwrite`, which removes it
    /// first.
    ///
    /// ```
    /// use flotilla::dataframe::io::{IoError, OutputDir};
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-outcreate-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("old.csv"), "x\n")?;
    /// assert!(matches!(OutputDir::create(&dir, false), Err(IoError::OutputExists { .. })));
    /// let out = OutputDir::create(&dir, true)?;
    /// assert!(!dir.join("old.csv").exists());
    /// out.abort()?;
    /// assert!(!dir.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(path: impl AsRef<Path>, overwrite: bool) -> Result<OutputDir, IoError> {
        let root = path.as_ref();
        let io_err = |e| IoError::io(root, e);
        match fs::metadata(root) {
            Ok(meta) => {
                let empty_folder =
                    meta.is_dir() && fs::read_dir(root).map_err(io_err)?.next().is_none();
                if !empty_folder {
                    if !overwrite {
                        return Err(IoError::OutputExists {
                            path: root.to_path_buf(),
                        });
                    }
                    if meta.is_dir() {
                        fs::remove_dir_all(root).map_err(io_err)?;
                    } else {
                        fs::remove_file(root).map_err(io_err)?;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        fs::create_dir_all(root).map_err(io_err)?;
        let temporary = root.join(TEMPORARY);
        fs::create_dir_all(&temporary).map_err(|e| IoError::io(&temporary, e))?;
        Ok(OutputDir {
            paths: Arc::new(Paths {
                root: root.to_path_buf(),
                temporary,
            }),
        })
    }

    /// The output folder.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outpath-{}", std::process::id()));
    /// let out = flotilla::dataframe::io::OutputDir::create(&dir, true)?;
    /// assert_eq!(out.path(), dir.as_path());
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.paths.root
    }

    /// Writes `batch` as part `index` in CSV with a header
    /// (`part-00007.csv`); returns where the part will be after the
    /// commit. See [`write_csv_part_with`](Self::write_csv_part_with).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use arrow_array::{Float64Array, RecordBatch};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outcsv-{}", std::process::id()));
    /// let out = flotilla::dataframe::io::OutputDir::create(&dir, true)?;
    /// let batch = RecordBatch::try_from_iter([("t", Arc::new(Float64Array::from(vec![0.1, 2.5])) as _)])?;
    /// let part = out.write_csv_part(7, &batch)?;
    /// assert_eq!(part, dir.join("part-00007.csv"));
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_csv_part(&self, index: usize, batch: &RecordBatch) -> Result<PathBuf, IoError> {
        self.write_csv_part_with(index, batch, &CsvWriteOptions::default())
    }

    /// Writes `batch` as part `index` in CSV with `options`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use arrow_array::{Int64Array, RecordBatch};
    /// use flotilla::dataframe::io::{CsvWriteOptions, OutputDir};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outcsvwith-{}", std::process::id()));
    /// let out = OutputDir::create(&dir, true)?;
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
    pub fn write_csv_part_with(
        &self,
        index: usize,
        batch: &RecordBatch,
        options: &CsvWriteOptions,
    ) -> Result<PathBuf, IoError> {
        self.write_part(index, "csv", |file, path| {
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

    /// Writes `batch` as part `index` in Parquet (`part-00007.parquet`),
    /// Snappy-compressed, in row groups of up to 1 Mi rows.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use arrow_array::{Int64Array, RecordBatch};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outparquet-{}", std::process::id()));
    /// let out = flotilla::dataframe::io::OutputDir::create(&dir, true)?;
    /// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1])) as _)])?;
    /// assert_eq!(out.write_parquet_part(3, &batch)?, dir.join("part-00003.parquet"));
    /// # out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_parquet_part(
        &self,
        index: usize,
        batch: &RecordBatch,
    ) -> Result<PathBuf, IoError> {
        self.write_parquet_part_with(index, batch, &ParquetWriteOptions::default())
    }

    /// Writes `batch` as part `index` in Parquet with `options`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use arrow_array::{Int64Array, RecordBatch};
    /// use flotilla::dataframe::io::{OutputDir, ParquetSource, ParquetWriteOptions};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outparquetwith-{}", std::process::id()));
    /// let out = OutputDir::create(&dir, true)?;
    /// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from_iter_values(0..100)) as _)])?;
    /// out.write_parquet_part_with(0, &batch, &ParquetWriteOptions::new().row_group_rows(30))?;
    /// out.commit()?;
    /// assert_eq!(ParquetSource::plan(&[dir.to_str().unwrap()], Default::default())?.partitions(), 4);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_parquet_part_with(
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
        self.write_part(index, "parquet", |file, path| {
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

    /// Writes `batch` as part `index` in JSON lines (`part-00007.jsonl`),
    /// one object per row; nulls are left out of their objects.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use arrow_array::{Int64Array, RecordBatch};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outjson-{}", std::process::id()));
    /// let out = flotilla::dataframe::io::OutputDir::create(&dir, true)?;
    /// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![Some(1), None])) as _)])?;
    /// out.write_json_part(0, &batch)?;
    /// let parts = out.commit()?;
    /// assert_eq!(std::fs::read_to_string(&parts[0])?, "{\"n\":1}\n{}\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_json_part(&self, index: usize, batch: &RecordBatch) -> Result<PathBuf, IoError> {
        self.write_part(index, "jsonl", |file, path| {
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

    /// Writes one part through `write` into an attempt file, then renames
    /// it to its part name in `_temporary/` (the task commit). A failed
    /// attempt removes its file.
    fn write_part(
        &self,
        index: usize,
        extension: &str,
        write: impl FnOnce(File, &Path) -> Result<(), IoError>,
    ) -> Result<PathBuf, IoError> {
        let name = format!("part-{index:05}.{extension}");
        let attempt = self.paths.temporary.join(format!(
            ".{name}.{}-{}.attempt",
            std::process::id(),
            ATTEMPTS.fetch_add(1, Ordering::Relaxed)
        ));
        let result = File::create(&attempt)
            .map_err(|e| IoError::io(&attempt, e))
            .and_then(|file| write(file, &attempt))
            .and_then(|()| {
                let committed = self.paths.temporary.join(&name);
                fs::rename(&attempt, &committed).map_err(|e| IoError::io(&committed, e))
            });
        if result.is_err() {
            let _ = fs::remove_file(&attempt);
        }
        result.map(|()| self.paths.root.join(name))
    }

    /// Moves every part written into the folder and writes `_SUCCESS`
    /// last; returns the parts' paths, in part order. The part numbers must
    /// run from 0 without a gap ([`IoError::MissingPart`] otherwise, and
    /// nothing is moved). See [`commit_expecting`](Self::commit_expecting)
    /// to check the number of parts too.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use arrow_array::{Int64Array, RecordBatch};
    /// use flotilla::dataframe::io::{IoError, OutputDir};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outcommit-{}", std::process::id()));
    /// let out = OutputDir::create(&dir, true)?;
    /// # let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1])) as _)])?;
    /// out.write_csv_part(0, &batch)?;
    /// out.write_csv_part(2, &batch)?; // part 1 never written
    /// let err = out.clone().commit().unwrap_err();
    /// assert!(matches!(err, IoError::MissingPart { index: 1, .. }));
    /// assert!(!dir.join("_SUCCESS").exists());
    /// out.abort()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn commit(self) -> Result<Vec<PathBuf>, IoError> {
        self.commit_checked(None)
    }

    /// [`commit`](Self::commit), also checking that exactly `parts` parts
    /// (numbered `0..parts`) were written.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use arrow_array::{Int64Array, RecordBatch};
    /// use flotilla::dataframe::io::{IoError, OutputDir};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outexpect-{}", std::process::id()));
    /// let out = OutputDir::create(&dir, true)?;
    /// # let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1])) as _)])?;
    /// out.write_csv_part(0, &batch)?;
    /// let err = out.clone().commit_expecting(2).unwrap_err();
    /// assert!(matches!(err, IoError::MissingPart { index: 1, .. }));
    /// out.write_csv_part(1, &batch)?;
    /// assert_eq!(out.commit_expecting(2)?.len(), 2);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn commit_expecting(self, parts: usize) -> Result<Vec<PathBuf>, IoError> {
        self.commit_checked(Some(parts))
    }

    fn commit_checked(self, expected: Option<usize>) -> Result<Vec<PathBuf>, IoError> {
        let Paths { root, temporary } = &*self.paths;
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |e| IoError::io(path, e)
        };
        let mut parts = Vec::new();
        for entry in fs::read_dir(temporary).map_err(io_err(temporary))? {
            let name = entry.map_err(io_err(temporary))?.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(index) = part_index(name) {
                parts.push((index, name.to_owned()));
            }
        }
        parts.sort();
        let mut next = 0;
        for &(index, _) in &parts {
            if index > next {
                return Err(IoError::MissingPart {
                    path: root.clone(),
                    index: next,
                });
            }
            next = index + 1;
        }
        if let Some(expected) = expected {
            if next < expected {
                return Err(IoError::MissingPart {
                    path: root.clone(),
                    index: next,
                });
            }
        }
        let mut moved = Vec::with_capacity(parts.len());
        let result = parts
            .iter()
            .try_for_each(|(_, name)| {
                let to = root.join(name);
                fs::rename(temporary.join(name), &to).map_err(io_err(&to))?;
                moved.push(to);
                Ok(())
            })
            .and_then(|()| fs::remove_dir_all(temporary).map_err(io_err(temporary)))
            .and_then(|()| {
                let success = root.join(SUCCESS);
                File::create(&success).map(drop).map_err(io_err(&success))
            });
        if let Err(e) = result {
            for part in &moved {
                let _ = fs::remove_file(part);
            }
            return Err(e);
        }
        Ok(moved)
    }

    /// Removes what was written: `_temporary/` and every part in it, and
    /// the folder itself when nothing else is left in it.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use arrow_array::{Int64Array, RecordBatch};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-outabort-{}", std::process::id()));
    /// let out = flotilla::dataframe::io::OutputDir::create(&dir, true)?;
    /// # let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1])) as _)])?;
    /// out.write_csv_part(0, &batch)?;
    /// out.abort()?;
    /// assert!(!dir.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn abort(self) -> Result<(), IoError> {
        let Paths { root, temporary } = &*self.paths;
        match fs::remove_dir_all(temporary) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(IoError::io(temporary, e)),
        }
        // Fails, and is left alone, when something else is in it.
        let _ = fs::remove_dir(root);
        Ok(())
    }
}

/// The number of a committed part's name, `part-NNNNN.ext`; `None` for
/// anything else (attempt files start with a dot).
fn part_index(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("part-")?;
    let digits = rest.split('.').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
