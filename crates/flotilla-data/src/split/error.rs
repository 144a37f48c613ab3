//! The errors of split planning and split reading.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::InputSplit;

/// Why input files could not be planned or read.
///
/// Every variant names the path (or pattern) it is about, and the byte
/// offset where one is relevant, so that a message is enough to find the
/// problem.
///
/// ```
/// use flotilla_data::split::{plan_splits, InputError};
///
/// let err = plan_splits(&["no/such/dir/part-*.txt"], 1 << 20).unwrap_err();
/// assert!(matches!(err, InputError::NoMatch { .. }));
/// assert!(err.to_string().contains("no/such/dir/part-*.txt"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// [`plan_splits`](super::plan_splits) was given an empty list of inputs.
    #[error("no input paths were given")]
    NoInputs,
    /// A split size of zero bytes was asked for.
    #[error("the split size must be at least one byte")]
    ZeroSplitSize,
    /// A plain input path does not exist.
    #[error("input {path} does not exist")]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// A glob matched no file, or a folder holds no visible regular file.
    #[error("input pattern {pattern} matched no file")]
    NoMatch {
        /// The pattern or folder as given.
        pattern: String,
    },
    /// A glob pattern that this matcher does not understand: a wildcard in
    /// a folder component, or an unclosed `[`.
    #[error("bad input pattern {pattern}: {reason}")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The path exists but is neither a regular file nor a folder (a socket,
    /// a device, ...).
    #[error("input {path} is not a regular file or a folder")]
    NotAFile {
        /// The offending path.
        path: PathBuf,
    },
    /// Reading or listing a path failed: the machine could not give the
    /// bytes (a missing or unreadable file, a disk error). Trying again may
    /// succeed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or folder being read.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A gzip input whose compressed stream is corrupt or cut short: an
    /// error of the data, which reading again does not fix.
    #[error("{path} is not a valid gzip stream: {source}")]
    Corrupt {
        /// The gzip file.
        path: PathBuf,
        /// What the decoder found.
        source: io::Error,
    },
    /// A line is not valid UTF-8 (see [`Line::text`](super::Line::text)).
    #[error("invalid UTF-8 in {path} at byte offset {offset}")]
    InvalidUtf8 {
        /// The file holding the line.
        path: PathBuf,
        /// Offset of the first invalid byte (in the decompressed stream for
        /// gzip inputs).
        offset: u64,
    },
    /// [`line_number_at`](super::line_number_at) was asked about an offset past
    /// the end of the file.
    #[error("offset {offset} is past the end of {path} ({len} bytes)")]
    OffsetPastEnd {
        /// The file.
        path: PathBuf,
        /// The offset asked about.
        offset: u64,
        /// The length of the file (decompressed, for gzip inputs).
        len: u64,
    },
}

impl InputError {
    pub(super) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        InputError::Io {
            path: path.into(),
            source,
        }
    }

    /// The error of reading decompressed bytes of the gzip file `path`:
    /// what the decoder refuses (a corrupt or truncated stream) is
    /// [`InputError::Corrupt`], what the file system refuses is
    /// [`InputError::Io`].
    pub(super) fn gzip(path: impl Into<PathBuf>, source: io::Error) -> Self {
        use io::ErrorKind::{InvalidData, InvalidInput, UnexpectedEof};
        let path = path.into();
        match source.kind() {
            InvalidData | InvalidInput | UnexpectedEof => InputError::Corrupt { path, source },
            _ => InputError::Io { path, source },
        }
    }

    /// Whether the machine, not the data, is at fault, so that reading
    /// again may succeed: a file that could not be read. A corrupt gzip
    /// stream, a line that is not UTF-8 or an offset past the end are
    /// errors of the data or of the request, and planning errors happen
    /// before any work.
    ///
    /// ```
    /// use flotilla_data::split::{for_each_line, plan_splits, InputError, SplitError};
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-corrupt-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let file = dir.join("logs.gz");
    /// std::fs::write(&file, b"this is not gzip\n")?;
    /// let splits = plan_splits(&[file.to_str().unwrap()], 1 << 20)?;
    /// match for_each_line(&splits[0], |_| Ok::<_, String>(())) {
    ///     Err(SplitError::Input(e)) => {
    ///         assert!(matches!(e, InputError::Corrupt { .. }));
    ///         assert!(!e.is_environmental());
    ///     }
    ///     other => panic!("expected a corrupt input, got {other:?}"),
    /// }
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_environmental(&self) -> bool {
        matches!(self, InputError::Io { .. })
    }
}

/// The error of [`for_each_line`](super::for_each_line): either the input
/// could not be read, or the callback failed.
///
/// The callback's error is returned as is, together with the split and the
/// byte offset of the line it was given, so a job can report where its bad
/// record was.
///
/// ```
/// use flotilla_data::split::{for_each_line, plan_splits, SplitError};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-spliterror-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("nums.txt");
/// std::fs::write(&file, "1\n2\nthree\n")?;
///
/// let splits = plan_splits(&[file.to_str().unwrap()], 1 << 20)?;
/// let err = for_each_line(&splits[0], |line| {
///     let text = line.text().map_err(|e| e.to_string())?;
///     text.parse::<u32>().map(drop).map_err(|e| e.to_string())
/// })
/// .unwrap_err();
/// match err {
///     SplitError::Callback { offset, error, .. } => {
///         assert_eq!(offset, 4);
///         assert!(error.contains("invalid digit"));
///     }
///     other => panic!("unexpected {other}"),
/// }
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum SplitError<E> {
    /// The split could not be read.
    Input(InputError),
    /// The callback returned an error.
    Callback {
        /// The split being read.
        split: InputSplit,
        /// Byte offset of the line passed to the callback (in the
        /// decompressed stream for gzip inputs).
        offset: u64,
        /// The callback's error, unchanged.
        error: E,
    },
}

impl<E> From<InputError> for SplitError<E> {
    fn from(err: InputError) -> Self {
        SplitError::Input(err)
    }
}

impl<E: fmt::Display> fmt::Display for SplitError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::Input(err) => err.fmt(f),
            SplitError::Callback {
                split,
                offset,
                error,
            } => write!(f, "{split} at byte offset {offset}: {error}"),
        }
    }
}

/// The callback's error is shown in the message rather than chained as a
/// source, so that any `Display` error (a `String`, an `anyhow::Error`)
/// can be used.
impl<E: fmt::Debug + fmt::Display> std::error::Error for SplitError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SplitError::Input(err) => Some(err),
            SplitError::Callback { .. } => None,
        }
    }
}
