//! Text in and out: [`read_text`], [`read_text_bytes`] (and their `_with`
//! forms) and [`Bag::to_textfiles`].

use std::fmt::Display;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flotilla_local::{ComputeOptions, Delayed};

use super::collection::{default_options, key_group, Settings};
use super::feed::{feed, Sink, Slot, Source};
use super::{Bag, BagError, Item, TextOptions};
use crate::mapreduce::split::{
    line_number_at, InputError, InputSplit, Line, LineReader, SplitError,
};

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
    read_lines(inputs, options, "read_text", |line| match line.text() {
        Ok(text) => Ok(text.to_owned()),
        Err(InputError::InvalidUtf8 { path, offset }) => Err(BagError::NotUtf8 {
            line: line_number_at(&path, offset).unwrap_or(0),
            path,
            offset,
        }),
        Err(e) => Err(e.into()),
    })
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
    let splits = options.plan(inputs)?;
    let key = key_group(name);
    let sources = splits
        .into_iter()
        .enumerate()
        .map(|(i, split)| Delayed::value(Source::new(split)).named(key.sibling(i as u64)))
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
    Ok(Bag::from_sources(sources, feed, name, Settings::default()))
}

/// The name of part `index` of an output folder: `part-00007`.
pub(super) fn part_name(index: usize) -> String {
    format!("part-{index:05}")
}

/// Whether `name` is a part file name as [`part_name`] makes them, and its
/// index.
pub(super) fn part_index(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("part-")?;
    if digits.len() == 5 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// Writes one partition's items to `tmp`, one `Display`ed item per line.
fn write_part<T: Display>(
    tmp: &Path,
    items: super::collection::Items<'_, T>,
) -> Result<(), BagError> {
    let file = fs::File::create(tmp).map_err(|e| BagError::io("create", tmp, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    items.try_for_each(|x| writeln!(out, "{x}").map_err(|e| BagError::io("write", tmp, e)))?;
    let file = out
        .into_inner()
        .map_err(|e| BagError::io("write", tmp, e.into_error()))?;
    file.sync_all().map_err(|e| BagError::io("write", tmp, e))
}

impl<T: Display + Send + 'static> Bag<T> {
    /// Writes the bag as text files into the folder `dir`, one
    /// `part-NNNNN` per partition (one item per line, as `Display` shows
    /// it), then an empty `_SUCCESS` marker — Hadoop's output layout, which
    /// [`read_text`] reads back (it skips `_` names). Returns the part files'
    /// paths.
    ///
    /// Each partition's task writes a hidden temporary file
    /// (`_temporary-part-NNNNN`); once every partition succeeded, the last
    /// task renames them all to their final names and writes `_SUCCESS` last.
    /// A failed write leaves no `_SUCCESS`, no temporary file and no new
    /// part. The folder is created if needed; an existing `_SUCCESS` is
    /// removed before anything is written, and part files left by an earlier
    /// write with more partitions are removed at the end.
    ///
    /// # Errors
    ///
    /// [`BagError::Io`] naming the file that could not be written, or the
    /// error of computing a partition.
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
        self.to_textfiles_with(dir, &default_options())
    }

    /// As [`Bag::to_textfiles`], computed with explicit options.
    ///
    /// # Errors
    ///
    /// As [`Bag::to_textfiles`].
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// use flotilla::ComputeOptions;
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-to-text-with-{}", std::process::id()));
    /// let options = ComputeOptions::new().progress(false);
    /// let parts = Bag::from_iter(["x", "y"], 1).to_textfiles_with(&dir, &options)?;
    /// assert_eq!(std::fs::read_to_string(&parts[0]).unwrap(), "x\ny\n");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn to_textfiles_with(
        &self,
        dir: impl AsRef<Path>,
        options: &ComputeOptions,
    ) -> Result<Vec<PathBuf>, BagError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| BagError::io("create folder", &dir, e))?;
        let success = dir.join("_SUCCESS");
        match fs::remove_file(&success) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(BagError::io("remove", &success, e)),
        }
        let written = self.write_textfiles(dir.clone()).compute_with(options);
        if written.is_err() {
            // A task that failed (a panic) left its temporary file, and the
            // commit never ran to remove the others.
            remove_temporaries(&dir);
        }
        written
    }

    /// The graph of `to_textfiles`: a writing task per partition, then one
    /// that commits.
    fn write_textfiles(&self, dir: PathBuf) -> Item<Vec<PathBuf>> {
        let task_dir = dir.clone();
        let writes = self.partition_nodes("to_textfiles", move |items| {
            let tmp = task_dir.join(format!("_temporary-{}", part_name(items.index())));
            let written = write_part(&tmp, items);
            if written.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            Slot::new(written.map(|()| tmp))
        });
        let key = key_group("to_textfiles-commit");
        Item::new(
            Delayed::gather(&writes, move |slots: &[&Slot<PathBuf>]| {
                Slot::new(commit(&dir, slots))
            })
            .named(key),
        )
    }
}

/// Removes the temporary files of a failed write, as far as possible.
fn remove_temporaries(dir: &Path) {
    if let Ok(listing) = fs::read_dir(dir) {
        for entry in listing.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .strip_prefix("_temporary-")
                .and_then(part_index)
                .is_some()
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Renames every partition's temporary file to its part name, removes
/// stale parts, writes `_SUCCESS`; or, if a partition failed, removes the
/// temporary files and returns the first error.
fn commit(dir: &Path, slots: &[&Slot<PathBuf>]) -> Result<Vec<PathBuf>, BagError> {
    let results: Vec<Result<PathBuf, BagError>> = slots.iter().map(|slot| slot.take()).collect();
    if let Some(failed) = results.iter().position(Result::is_err) {
        for tmp in results.iter().flatten() {
            let _ = fs::remove_file(tmp);
        }
        return match results.into_iter().nth(failed) {
            Some(Err(e)) => Err(e),
            _ => Err(BagError::Internal("a failed write lost its error".into())),
        };
    }
    let mut parts = Vec::with_capacity(results.len());
    for (index, tmp) in results.into_iter().flatten().enumerate() {
        let part = dir.join(part_name(index));
        fs::rename(&tmp, &part).map_err(|e| BagError::io("rename", &tmp, e))?;
        parts.push(part);
    }
    let listing = fs::read_dir(dir).map_err(|e| BagError::io("list", dir, e))?;
    for entry in listing.flatten() {
        let name = entry.file_name();
        if part_index(&name.to_string_lossy()).is_some_and(|i| i >= parts.len()) {
            let stale = entry.path();
            fs::remove_file(&stale).map_err(|e| BagError::io("remove", &stale, e))?;
        }
    }
    let success = dir.join("_SUCCESS");
    fs::write(&success, b"").map_err(|e| BagError::io("write", &success, e))?;
    Ok(parts)
}
