//! Split planning: from paths, folders and globs to byte ranges.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::glob::{has_wildcard, NamePattern};
use super::InputError;

/// One byte range of one input file: the unit of work of a map task.
///
/// A split owns every line that *starts* in `[start, end)`; it reads past
/// `end` to finish its last line, and skips the line it starts in the middle
/// of (that line belongs to the split before). A gzip split covers its whole
/// file (`is_compressed()` is true, `start()` is 0 and `end()` is the
/// compressed length), because a gzip stream cannot be entered in the middle.
///
/// Splits are plain data (serde-serialisable), so a scheduler can ship them
/// to workers; `index` is the position of the split in the plan.
///
/// ```
/// use flotilla_data::split::plan_splits;
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-inputsplit-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("x.tsv");
/// std::fs::write(&file, "a\tb\nc\td\n")?;
///
/// let splits = plan_splits(&[file.to_str().unwrap()], 5)?;
/// assert_eq!(splits.len(), 2);
/// let second = &splits[1];
/// assert_eq!((second.start(), second.end(), second.len()), (5, 8, 3));
/// assert_eq!(second.index(), 1);
/// assert!(!second.is_compressed());
/// assert_eq!(second.to_string(), format!("{}[5..8]", file.display()));
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InputSplit {
    path: PathBuf,
    start: u64,
    end: u64,
    compressed: bool,
    index: usize,
}

impl InputSplit {
    /// The file this split reads.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-path-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// # std::fs::write(&file, "x\n")?;
    /// let splits = flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?;
    /// assert_eq!(splits[0].path(), file.as_path());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first byte of the range (0 for gzip splits).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-start-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// # std::fs::write(&file, "0123456789")?;
    /// let splits = flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 4)?;
    /// let starts: Vec<u64> = splits.iter().map(|s| s.start()).collect();
    /// assert_eq!(starts, [0, 4, 8]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(&self) -> u64 {
        self.start
    }

    /// One past the last byte of the range (the compressed file length for
    /// gzip splits).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-end-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// # std::fs::write(&file, "0123456789")?;
    /// let splits = flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 4)?;
    /// let ends: Vec<u64> = splits.iter().map(|s| s.end()).collect();
    /// assert_eq!(ends, [4, 8, 10]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn end(&self) -> u64 {
        self.end
    }

    /// `end - start`: the bytes this split is responsible for (compressed
    /// bytes for gzip splits). Useful to size or order map tasks.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-len-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// # std::fs::write(&file, "0123456789")?;
    /// let splits = flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 4)?;
    /// assert_eq!(splits.iter().map(|s| s.len()).sum::<u64>(), 10);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range is empty. Planned splits never are: an empty file
    /// gives no split.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-isempty-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// # std::fs::write(&file, "x\n")?;
    /// let splits = flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?;
    /// assert!(!splits[0].is_empty());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the file is gzip-compressed (read whole, as one split).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-compressed-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// # std::fs::write(&file, "x\n")?;
    /// let splits = flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?;
    /// assert!(!splits[0].is_compressed());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// The position of this split in its plan (0, 1, 2, ...): a stable
    /// name for the map task that reads it.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-index-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// # std::fs::write(&file, "0123456789")?;
    /// let splits = flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 4)?;
    /// assert!(splits.iter().enumerate().all(|(i, s)| s.index() == i));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// Bytes that change when what this split reads changes: the file's
    /// path, the byte range, and the file's size and modification time as
    /// they are now (none when the file cannot be read: reading it will
    /// say why). A checkpoint key of a task over the split includes them.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-fingerprint-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "0123456789")?;
    /// let before = flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 100)?[0].fingerprint();
    /// std::fs::write(&file, "0123456789 and more")?;
    /// let after = flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 100)?[0].fingerprint();
    /// assert_ne!(before, after);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fingerprint(&self) -> Vec<u8> {
        let mut bytes = file_fingerprint(&self.path);
        bytes.extend_from_slice(&self.start.to_le_bytes());
        bytes.extend_from_slice(&self.end.to_le_bytes());
        bytes.push(u8::from(self.compressed));
        bytes
    }
}

/// Bytes that change when the file at `path` changes: its path, and its
/// size and modification time as they are now (none when it cannot be
/// read: reading it will say why). See [`InputSplit::fingerprint`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("flotilla-doc-file-fingerprint-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let file = dir.join("a.txt");
/// std::fs::write(&file, "one")?;
/// let before = flotilla_data::split::file_fingerprint(&file);
/// std::fs::write(&file, "one, two")?;
/// assert_ne!(before, flotilla_data::split::file_fingerprint(&file));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn file_fingerprint(path: &Path) -> Vec<u8> {
    let name = path.as_os_str().as_encoded_bytes();
    let mut bytes = Vec::with_capacity(name.len() + 50);
    bytes.extend_from_slice(&(name.len() as u64).to_le_bytes());
    bytes.extend_from_slice(name);
    if let Ok(meta) = std::fs::metadata(path) {
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        bytes.extend_from_slice(&meta.len().to_le_bytes());
        bytes.extend_from_slice(&modified.to_le_bytes());
    }
    bytes
}

/// `path[start..end]`, with `, gzip` added for compressed splits:
/// `data/x.tsv[0..33554432]`, `logs/a.gz[0..1234, gzip]`.
impl fmt::Display for InputSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}..{}", self.path.display(), self.start, self.end)?;
        if self.compressed {
            f.write_str(", gzip")?;
        }
        f.write_str("]")
    }
}

/// Plans the splits of `inputs`, each cut into byte ranges of at most
/// `split_bytes` bytes.
///
/// Each input is one of:
/// * **a file**: cut into ranges of `split_bytes` (the last one shorter);
///   an empty file gives no split;
/// * **a folder**: its regular files (symbolic links followed), sorted by
///   name, not recursively, skipping names that start with `_` or `.`
///   (`_SUCCESS`, `.crc` files), as Hadoop does; a folder with no such file
///   is a [`InputError::NoMatch`];
/// * **a glob** with `*`, `?` or `[abc]` in its file-name part only
///   (`logs/part-*.txt`): the matching regular files, sorted by name. Names
///   starting with `_` or `.` match only when the pattern itself starts with
///   that character. A pattern matching nothing is an error naming it. A
///   path that exists is always taken literally, even with `[` in its name.
///
/// A file whose name ends in `.gz`, or which starts with the gzip magic
/// bytes, is one split whatever its size. Splits come out in input order,
/// and their [`index`](InputSplit::index) is their position; an input given
/// twice is read twice.
///
/// ```
/// use flotilla_data::split::plan_splits;
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-plan-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("part-0.txt"), "a\nb\nc\n")?;
/// std::fs::write(dir.join("part-1.txt"), "d\ne\n")?;
/// std::fs::write(dir.join("_SUCCESS"), "")?;
///
/// let pattern = format!("{}/part-*.txt", dir.display());
/// let by_glob = plan_splits(&[pattern.as_str()], 4)?;
/// let by_folder = plan_splits(&[dir.to_str().unwrap()], 4)?;
/// assert_eq!(by_glob, by_folder);
/// // part-0 (6 bytes) is cut into 0..4 and 4..6; part-1 (4 bytes) is one split.
/// assert_eq!(by_glob.len(), 3);
///
/// assert!(plan_splits(&[pattern.as_str()], 0).is_err());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_splits<P: AsRef<str>>(
    inputs: &[P],
    split_bytes: u64,
) -> Result<Vec<InputSplit>, InputError> {
    if split_bytes == 0 {
        return Err(InputError::ZeroSplitSize);
    }
    if inputs.is_empty() {
        return Err(InputError::NoInputs);
    }
    let mut splits = Vec::new();
    for input in inputs {
        for file in expand_input(input.as_ref())? {
            cut_file(&file, split_bytes, &mut splits)?;
        }
    }
    Ok(splits)
}

/// The regular files `inputs` stand for, in reading order, with the rules of
/// [`plan_splits`] (folders listed, globs expanded, hidden names skipped),
/// but without cutting them: for readers whose unit of work is not a byte
/// range (a Parquet file's row groups). Empty files are listed too.
///
/// ```
/// use flotilla_data::split::list_input_files;
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-listinputs-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("b.parquet"), "")?;
/// std::fs::write(dir.join("a.parquet"), "")?;
/// std::fs::write(dir.join("_SUCCESS"), "")?;
///
/// let files = list_input_files(&[dir.to_str().unwrap()])?;
/// assert_eq!(files, [dir.join("a.parquet"), dir.join("b.parquet")]);
/// assert!(list_input_files::<&str>(&[]).is_err());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn list_input_files<P: AsRef<str>>(inputs: &[P]) -> Result<Vec<PathBuf>, InputError> {
    if inputs.is_empty() {
        return Err(InputError::NoInputs);
    }
    let mut files = Vec::new();
    for input in inputs {
        files.extend(expand_input(input.as_ref())?);
    }
    Ok(files)
}

/// Whether `path` holds gzip data: a `.gz` name, or the magic bytes.
pub(super) fn is_gzip(path: &Path) -> Result<bool, InputError> {
    if path.extension().is_some_and(|ext| ext == "gz") {
        return Ok(true);
    }
    let mut file = File::open(path).map_err(|e| InputError::io(path, e))?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..]) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(InputError::io(path, e)),
        }
    }
    Ok(magic == [0x1f, 0x8b])
}

/// Appends the splits of one regular file.
fn cut_file(path: &Path, split_bytes: u64, out: &mut Vec<InputSplit>) -> Result<(), InputError> {
    let len = fs::metadata(path)
        .map_err(|e| InputError::io(path, e))?
        .len();
    if len == 0 {
        return Ok(());
    }
    if is_gzip(path)? {
        out.push(InputSplit {
            path: path.to_path_buf(),
            start: 0,
            end: len,
            compressed: true,
            index: out.len(),
        });
        return Ok(());
    }
    let mut start = 0;
    while start < len {
        let end = start + split_bytes.min(len - start);
        out.push(InputSplit {
            path: path.to_path_buf(),
            start,
            end,
            compressed: false,
            index: out.len(),
        });
        start = end;
    }
    Ok(())
}

/// The regular files an input stands for, in reading order.
fn expand_input(input: &str) -> Result<Vec<PathBuf>, InputError> {
    let path = Path::new(input);
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => return Ok(vec![path.to_path_buf()]),
        Ok(meta) if meta.is_dir() => {
            let files = list_files(path, input, |name| !is_hidden(name))?;
            if files.is_empty() {
                return Err(InputError::NoMatch {
                    pattern: input.to_owned(),
                });
            }
            return Ok(files);
        }
        Ok(_) => {
            return Err(InputError::NotAFile {
                path: path.to_path_buf(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(InputError::io(path, e)),
    }
    if !has_wildcard(input) {
        return Err(InputError::NotFound {
            path: path.to_path_buf(),
        });
    }
    expand_glob(input)
}

/// The files matching a glob whose wildcards are in the file-name part.
fn expand_glob(input: &str) -> Result<Vec<PathBuf>, InputError> {
    let bad = |reason| InputError::BadPattern {
        pattern: input.to_owned(),
        reason,
    };
    let path = Path::new(input);
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .filter(|name| has_wildcard(name))
        .ok_or_else(|| bad("wildcards are only allowed in the file-name part"))?;
    let folder = path.parent().unwrap_or(Path::new(""));
    if folder.to_str().is_some_and(has_wildcard) {
        return Err(bad("wildcards are only allowed in the file-name part"));
    }
    let pattern = NamePattern::parse(name).map_err(bad)?;
    let hidden_ok = pattern.literal_first().filter(|c| matches!(c, '_' | '.'));
    let keep = |name: &str| {
        let visible = match name.chars().next() {
            Some(c @ ('_' | '.')) => hidden_ok == Some(c),
            _ => true,
        };
        visible && pattern.matches(name)
    };
    let files = match list_files(folder, input, keep) {
        Err(InputError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Vec::new()
        }
        other => other?,
    };
    if files.is_empty() {
        return Err(InputError::NoMatch {
            pattern: input.to_owned(),
        });
    }
    Ok(files)
}

/// The regular files directly in `folder` whose names pass `keep`, sorted
/// by name. `shown` is how the folder is named in errors.
fn list_files(
    folder: &Path,
    shown: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<PathBuf>, InputError> {
    let listed = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let io_err = |e| InputError::io(shown, e);
    let mut names = Vec::new();
    for entry in fs::read_dir(listed).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !keep(&name) {
            continue;
        }
        let path = folder.join(entry.file_name());
        // `fs::metadata` follows symbolic links, as a reader would.
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => names.push((name, path)),
            Ok(_) => {}
            // A dangling link or a file removed meanwhile: not an input.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(InputError::io(&path, e)),
        }
    }
    names.sort();
    Ok(names.into_iter().map(|(_, path)| path).collect())
}

/// Hadoop's rule for files that are not data: `_SUCCESS`, `_logs`, `.crc`.
fn is_hidden(name: &str) -> bool {
    name.starts_with('_') || name.starts_with('.')
}

/// The smallest split size [`default_split_bytes`] chooses.
const MIN_DEFAULT_SPLIT: u64 = 1 << 20;
/// The largest split size [`default_split_bytes`] chooses.
const MAX_DEFAULT_SPLIT: u64 = 64 << 20;

/// The split size every reader of text inputs uses when none is given (typed
/// jobs, `Bag::read_text`, the DataFrame's CSV and JSON-lines sources): the
/// total size of `whole_files` (splits planned with no size limit) over
/// four splits per thread, so that work stealing can even them out, rounded
/// up and kept within 1..=64 MiB.
///
/// ```
/// use flotilla_data::split::{default_split_bytes, plan_splits};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-default-split-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("small.txt");
/// std::fs::write(&file, "a\nb\n")?;
/// let whole_files = plan_splits(&[file.to_str().unwrap()], u64::MAX)?;
/// assert_eq!(default_split_bytes(&whole_files, 8), 1 << 20); // never below 1 MiB
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn default_split_bytes(whole_files: &[InputSplit], threads: usize) -> u64 {
    let total: u64 = whole_files.iter().map(InputSplit::len).sum();
    let ranges = 4 * threads.max(1) as u64;
    total
        .div_ceil(ranges)
        .clamp(MIN_DEFAULT_SPLIT, MAX_DEFAULT_SPLIT)
}
