//! Text in and out: [`read_text`], [`read_text_bytes`] (and their `_with`
//! forms) and [`Bag::to_textfiles`].

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flotilla_local::{ComputeOptions, Delayed};

use super::collection::{default_options, key_group, Settings};
use super::feed::{feed, Partial, Sink, Source};
use super::{settle, Bag, BagError, Item, TextOptions};
use crate::mapreduce::split::{
    line_number_at, InputError, InputSplit, Line, LineReader, SplitError,
};
use crate::output::{LinePart, OutputDir, WriteMode};

/// Why reading a split stopped early.
enum Stop {
    /// The consumer has enough items.
    Enough,
    /// A line could not be turned into an item.
    Item(BagError),
}

/// A bag of the lines of text files: one partition per input split, lines
/// without their `\n` (or `\r\n`).
///
/// `inputs` are files, folders or globs, and each file is cut into byte
/// ranges, no line ever cut or read twice — the input splits of the
/// MapReduce jobs ([`plan_splits`](crate::mapreduce::split::plan_splits));
/// gzip files are one split each. The split size is derived from the input's
/// size as the jobs derive it (about four partitions per thread, 1 to 64 MiB
/// each, see [`TextOptions`]); [`read_text_with`] sets it. Planning looks only at the files' lengths and
/// happens here; lines
/// are read when the bag is computed, by each partition's task, straight into
/// the operations that follow (no partition of lines is materialized). A line
/// that is not UTF-8 fails the computation with [`BagError::NotUtf8`] naming
/// the file and the line; [`read_text_bytes`] reads any bytes.
///
/// # Errors
///
/// [`BagError::Input`] when an input matches no file; when the bag is
/// computed, [`BagError::NotUtf8`] for a line that is not UTF-8.
///
/// ```
/// use flotilla::bag::read_text;
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-read-text-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("poem.txt");
/// std::fs::write(&file, "the cat\nthe hat\r\nsat\n").unwrap();
///
/// let lines = read_text(&[file.to_str().unwrap()])?;
/// assert_eq!(lines.npartitions(), 1); // a small file is one split
/// assert_eq!(lines.compute()?, ["the cat", "the hat", "sat"]);
/// let words = lines.flat_map(|l| l.split(' ').map(str::to_owned).collect::<Vec<_>>());
/// assert_eq!(words.frequencies().compute()?[0], ("the".to_string(), 2));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), flotilla::bag::BagError>(())
/// ```
pub fn read_text<P: AsRef<str>>(inputs: &[P]) -> Result<Bag<String>, BagError> {
    read_text_with(inputs, TextOptions::new())
}

/// As [`read_text`], with the split size of `options`.
///
/// # Errors
///
/// As [`read_text`], and [`BagError::Input`] when the split size is 0.
///
/// ```
/// use flotilla::bag::{read_text_with, TextOptions};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-read-text-with-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("poem.txt");
/// std::fs::write(&file, "the cat\nthe hat\r\nsat\n").unwrap();
///
/// let lines = read_text_with(&[file.to_str().unwrap()], TextOptions::new().split_bytes(8))?;
/// assert_eq!(lines.npartitions(), 3); // tiny splits
/// assert_eq!(lines.compute()?, ["the cat", "the hat", "sat"]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), flotilla::bag::BagError>(())
/// ```
pub fn read_text_with<P: AsRef<str>>(
    inputs: &[P],
    options: TextOptions,
) -> Result<Bag<String>, BagError> {
    read_lines(inputs, options, "read_text", text_line)
}

/// A line as UTF-8 text, or the error naming its file, line and offset.
fn text_line(line: Line<'_>) -> Result<String, BagError> {
    match line.text() {
        Ok(text) => Ok(text.to_owned()),
        Err(InputError::InvalidUtf8 { path, offset }) => Err(BagError::NotUtf8 {
            line: line_number_at(&path, offset).unwrap_or(0),
            path,
            offset,
        }),
        Err(e) => Err(e.into()),
    }
}

/// As [`read_text`], with each line as its bytes, unchecked: for input that
/// is not UTF-8, or to skip the check.
///
/// # Errors
///
/// As [`read_text`].
///
/// ```
/// use flotilla::bag::read_text_bytes;
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-read-bytes-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("latin1.txt");
/// std::fs::write(&file, b"caf\xe9\nok\n").unwrap();
///
/// let lines = read_text_bytes(&[file.to_str().unwrap()])?;
/// assert_eq!(lines.compute()?, [b"caf\xe9".to_vec(), b"ok".to_vec()]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), flotilla::bag::BagError>(())
/// ```
pub fn read_text_bytes<P: AsRef<str>>(inputs: &[P]) -> Result<Bag<Vec<u8>>, BagError> {
    read_text_bytes_with(inputs, TextOptions::new())
}

/// As [`read_text_bytes`], with the split size of `options`.
///
/// # Errors
///
/// As [`read_text_with`].
///
/// ```
/// use flotilla::bag::{read_text_bytes_with, TextOptions};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-read-bytes-with-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("latin1.txt");
/// std::fs::write(&file, b"caf\xe9\nok\n").unwrap();
///
/// let lines = read_text_bytes_with(&[file.to_str().unwrap()], TextOptions::new().split_bytes(3))?;
/// assert_eq!(lines.npartitions(), 3);
/// assert_eq!(lines.compute()?, [b"caf\xe9".to_vec(), b"ok".to_vec()]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), flotilla::bag::BagError>(())
/// ```
pub fn read_text_bytes_with<P: AsRef<str>>(
    inputs: &[P],
    options: TextOptions,
) -> Result<Bag<Vec<u8>>, BagError> {
    read_lines(inputs, options, "read_text_bytes", |line| {
        Ok(line.bytes().to_vec())
    })
}

fn read_lines<P, T>(
    inputs: &[P],
    options: TextOptions,
    name: &str,
    convert: fn(Line<'_>) -> Result<T, BagError>,
) -> Result<Bag<T>, BagError>
where
    P: AsRef<str>,
    T: Send + 'static,
{
    Ok(lines_of_splits(options.plan(inputs)?, name, convert))
}

/// The lines of `splits`, one text line per item (the bag of
/// [`read_text`]) — a cluster worker reads its splits with it.
#[cfg(feature = "cluster")]
pub(crate) fn read_text_splits(splits: Vec<InputSplit>) -> Bag<String> {
    lines_of_splits(splits, "read_text", text_line)
}

/// The bag of `splits`, each line converted by `convert`.
fn lines_of_splits<T: Send + 'static>(
    splits: Vec<InputSplit>,
    name: &str,
    convert: fn(Line<'_>) -> Result<T, BagError>,
) -> Bag<T> {
    let key = key_group(name);
    let sources = splits
        .into_iter()
        .enumerate()
        .map(|(i, split)| {
            let fingerprint = split.fingerprint();
            Delayed::value(Source::new(split))
                .version(fingerprint)
                .named_op(key.sibling(i as u64))
        })
        .collect();
    let feed = feed(move |_, source, sink: &mut Sink<'_, T>| {
        let split = source.get::<InputSplit>()?;
        let read = LineReader::new().for_each_line(split, |line| {
            let item = convert(line).map_err(Stop::Item)?;
            match sink(item) {
                std::ops::ControlFlow::Continue(()) => Ok(()),
                std::ops::ControlFlow::Break(()) => Err(Stop::Enough),
            }
        });
        match read {
            Ok(_) => Ok(()),
            Err(SplitError::Callback {
                error: Stop::Enough,
                ..
            }) => Ok(()),
            Err(SplitError::Callback {
                error: Stop::Item(e),
                ..
            }) => Err(e),
            Err(SplitError::Input(e)) => Err(e.into()),
        }
    });
    Bag::from_sources(sources, feed, name, Settings::default())
}

/// How an item becomes its line of text (without the newline).
type Format<T> = dyn Fn(&T, &mut String) -> std::fmt::Result + Send + Sync;

/// Writes one partition's items as part `items.index()` of `out`, one line
/// per item as `format` writes it, and commits the part (the task commit).
fn write_part<T>(
    out: &OutputDir,
    items: super::collection::Items<'_, T>,
    format: &Format<T>,
) -> Result<PathBuf, BagError> {
    let mut part = LinePart::create(out, items.index())?;
    items.try_for_each(|x| Ok(part.push(&x, format)?))?;
    Ok(part.commit()?)
}

impl<T: Display + Send + 'static> Bag<T> {
    /// Writes the bag as text files into the folder `dir`, one
    /// `part-NNNNN` per partition (one item per line, as `Display` shows
    /// it), then an empty `_SUCCESS` marker — Hadoop's output layout, which
    /// [`read_text`] reads back (it skips `_` names). Returns the part files'
    /// paths.
    ///
    /// The folder must be new or empty, and a failed write leaves it as it
    /// found it: the rule of every output folder, in [`crate::output`].
    /// [`to_textfiles_with`](Bag::to_textfiles_with) overwrites a previous
    /// output; [`to_textfiles_by`](Bag::to_textfiles_by) writes items
    /// without `Display`.
    ///
    /// # Errors
    ///
    /// [`BagError::Output`]: the folder is refused, or a file could not be
    /// written; or the error of computing a partition.
    ///
    /// ```
    /// use flotilla::bag::{read_text, Bag};
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-to-text-{}", std::process::id()));
    /// let parts = Bag::range(5, 2).map(|x| x * x).to_textfiles(&dir)?;
    /// assert_eq!(parts.len(), 2);
    /// assert_eq!(std::fs::read_to_string(&parts[0]).unwrap(), "0\n1\n");
    /// assert!(dir.join("_SUCCESS").exists());
    /// let back = read_text(&[dir.to_str().unwrap()])?.compute()?;
    /// assert_eq!(back, ["0", "1", "4", "9", "16"]);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn to_textfiles(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, BagError> {
        self.to_textfiles_with(dir, WriteMode::ErrorIfNotEmpty, &default_options())
    }

    /// As [`Bag::to_textfiles`], with a [`WriteMode`] and compute options.
    ///
    /// # Errors
    ///
    /// As [`Bag::to_textfiles`].
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// use flotilla::output::WriteMode;
    /// use flotilla::ComputeOptions;
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-to-text-with-{}", std::process::id()));
    /// let options = ComputeOptions::new().progress(false);
    /// Bag::from_iter(["old"], 3).to_textfiles(&dir)?;
    /// let parts = Bag::from_iter(["x", "y"], 1).to_textfiles_with(&dir, WriteMode::Overwrite, &options)?;
    /// assert_eq!(std::fs::read_to_string(&parts[0]).unwrap(), "x\ny\n");
    /// assert!(!dir.join("part-00002").exists()); // the previous output is replaced
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn to_textfiles_with(
        &self,
        dir: impl AsRef<Path>,
        mode: WriteMode,
        options: &ComputeOptions,
    ) -> Result<Vec<PathBuf>, BagError> {
        self.to_textfiles_by(dir, mode, options, |item, line| {
            use std::fmt::Write as _;
            write!(line, "{item}")
        })
    }
}

impl<T: Send + 'static> Bag<T> {
    /// As [`Bag::to_textfiles_with`], each item written as `format` writes
    /// it into its line (without the newline): for items that have no
    /// `Display`, like tuples, or to choose their text.
    ///
    /// # Errors
    ///
    /// As [`Bag::to_textfiles`].
    ///
    /// ```
    /// use std::fmt::Write;
    /// use flotilla::bag::Bag;
    /// use flotilla::output::WriteMode;
    /// use flotilla::ComputeOptions;
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-to-text-by-{}", std::process::id()));
    /// let counts = Bag::from_iter([(("cat".to_string(), 2017u32), 3u64)], 1);
    /// let parts = counts.to_textfiles_by(&dir, WriteMode::ErrorIfNotEmpty, &ComputeOptions::new(), |((word, year), n), line| {
    ///     write!(line, "{word}\t{year}\t{n}")
    /// })?;
    /// assert_eq!(std::fs::read_to_string(&parts[0]).unwrap(), "cat\t2017\t3\n");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn to_textfiles_by<F>(
        &self,
        dir: impl AsRef<Path>,
        mode: WriteMode,
        options: &ComputeOptions,
        format: F,
    ) -> Result<Vec<PathBuf>, BagError>
    where
        F: Fn(&T, &mut String) -> std::fmt::Result + Send + Sync + 'static,
    {
        let out = OutputDir::create(dir, mode)?;
        let written = self
            .write_textfiles(out.clone(), Arc::new(format))
            .compute_with(options);
        if written.is_err() {
            // Whatever the tasks wrote, and the folder if it was made here.
            let _ = out.abort();
        }
        written
    }

    /// The graph of `to_textfiles`: a writing task per partition, then one
    /// that commits.
    fn write_textfiles(&self, out: OutputDir, format: Arc<Format<T>>) -> Item<Vec<PathBuf>> {
        let task_out = out.clone();
        let writes: Vec<_> = self
            .partition_nodes("to_textfiles", move |items| {
                settle(write_part(&task_out, items, &*format))
            })
            .into_iter()
            .map(Delayed::hand_over)
            .collect();
        let key = key_group("to_textfiles-commit");
        let parts = self.npartitions();
        Item::new(
            Delayed::gather(&writes, move |written: &[&Partial<PathBuf>]| {
                settle(commit(&out, parts, written))
            })
            .named_op(key),
        )
    }
}

/// The job commit, once every partition's task has ended: the first
/// partition's error, or every part moved into place and `_SUCCESS`.
fn commit(
    out: &OutputDir,
    parts: usize,
    written: &[&Partial<PathBuf>],
) -> Result<Vec<PathBuf>, BagError> {
    if let Some(Err(e)) = written.iter().find(|w| w.is_err()) {
        return Err(e.clone());
    }
    Ok(out.clone().commit_expecting(parts)?)
}
