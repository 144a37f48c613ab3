//! Reading the lines of a split: a callback reader and an iterator.

use std::path::Path;
use std::sync::Arc;

use super::cursor::Cursor;
use super::{InputError, InputSplit, SplitError};

/// The read buffer of [`LineReader::new`]: 4 MiB.
pub const DEFAULT_BUFFER_SIZE: usize = 4 << 20;

/// One line of a split, borrowed from the reader's buffer.
///
/// The bytes exclude the line's `\n` and a `\r` just before it. They are the
/// file's bytes, unchanged: see [`text`](Line::text) for the UTF-8 view.
///
/// ```
/// use flotilla_data::split::{for_each_line, plan_splits};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-line-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("a.txt");
/// std::fs::write(&file, "first\r\nsecond\n")?;
///
/// let mut seen = Vec::new();
/// for split in plan_splits(&[file.to_str().unwrap()], 1 << 20)? {
///     for_each_line(&split, |line| {
///         seen.push((line.offset(), line.text()?.to_owned()));
///         Ok::<_, flotilla_data::split::InputError>(())
///     })?;
/// }
/// assert_eq!(seen, [(0, "first".to_owned()), (7, "second".to_owned())]);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    bytes: &'a [u8],
    offset: u64,
    path: &'a Path,
}

impl<'a> Line<'a> {
    /// The line's bytes, without its terminator.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-linebytes-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, b"caf\xe9\n")?; // Latin-1, not UTF-8
    /// let split = &flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// flotilla_data::split::for_each_line(split, |line| {
    ///     assert_eq!(line.bytes(), b"caf\xe9");
    ///     Ok::<_, std::convert::Infallible>(())
    /// })?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Byte offset of the line's first byte in its file (in the decompressed
    /// stream for gzip files). [`line_number_at`](super::line_number_at)
    /// turns it into a line number.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-lineoffset-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "ab\ncd\n")?;
    /// let split = &flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// let mut offsets = Vec::new();
    /// flotilla_data::split::for_each_line(split, |line| {
    ///     offsets.push(line.offset());
    ///     Ok::<_, std::convert::Infallible>(())
    /// })?;
    /// assert_eq!(offsets, [0, 3]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The file the line comes from.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-linepath-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "ab\n")?;
    /// let split = &flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// flotilla_data::split::for_each_line(split, |line| {
    ///     assert_eq!(line.path(), file.as_path());
    ///     Ok::<_, std::convert::Infallible>(())
    /// })?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &'a Path {
        self.path
    }

    /// The line as text, or [`InputError::InvalidUtf8`] naming the file and
    /// the offset of the first invalid byte.
    ///
    /// ```
    /// use flotilla_data::split::{for_each_line, plan_splits, InputError};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-linetext-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, b"ok\nab\xffcd\n")?;
    /// let split = &plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// let mut results = Vec::new();
    /// for_each_line(split, |line| {
    ///     results.push(line.text().map(str::to_owned));
    ///     Ok::<_, std::convert::Infallible>(())
    /// })?;
    /// assert_eq!(results[0].as_deref().ok(), Some("ok"));
    /// assert!(matches!(results[1], Err(InputError::InvalidUtf8 { offset: 5, .. })));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn text(&self) -> Result<&'a str, InputError> {
        utf8(self.bytes, self.offset, self.path)
    }
}

fn utf8<'a>(bytes: &'a [u8], offset: u64, path: &Path) -> Result<&'a str, InputError> {
    std::str::from_utf8(bytes).map_err(|e| InputError::InvalidUtf8 {
        path: path.to_path_buf(),
        offset: offset + e.valid_up_to() as u64,
    })
}

/// What reading a split did.
///
/// ```
/// use flotilla_data::split::{for_each_line, plan_splits};
/// # let dir = std::env::temp_dir().join(format!("flotilla-doc-stats-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let file = dir.join("a.txt");
/// std::fs::write(&file, "one\ntwo\nthree")?;
/// let mut records = 0;
/// for split in plan_splits(&[file.to_str().unwrap()], 5)? {
///     let stats = for_each_line(&split, |_| Ok::<_, std::convert::Infallible>(()))?;
///     records += stats.record_bytes;
/// }
/// // The splits' records cover the file exactly once.
/// assert_eq!(records, 13);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SplitStats {
    /// Lines passed to the callback.
    pub lines: u64,
    /// Bytes those lines cover, terminators included (decompressed bytes for
    /// gzip). Over all the splits of a file this adds up to its length.
    pub record_bytes: u64,
    /// Bytes read from the file (compressed bytes for gzip), including the
    /// partial line skipped at the start and the read past the end.
    pub bytes_read: u64,
}

/// Reads the lines of splits, reusing one buffer from split to split.
///
/// A map task that reads many splits keeps one `LineReader`; a one-off read
/// can use [`for_each_line`] or [`InputSplit::lines`].
///
/// ```
/// use flotilla_data::split::{plan_splits, LineReader};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-linereader-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("words.txt");
/// std::fs::write(&file, "the cat\nthe dog\n")?;
///
/// let mut reader = LineReader::with_buffer_size(1 << 16);
/// let mut words = 0;
/// for split in plan_splits(&[file.to_str().unwrap()], 4)? {
///     reader.for_each_line(&split, |line| {
///         words += line.bytes().split(|&b| b == b' ').count();
///         Ok::<_, std::convert::Infallible>(())
///     })?;
/// }
/// assert_eq!(words, 4);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LineReader {
    buffer_size: usize,
    buf: Vec<u8>,
}

impl Default for LineReader {
    fn default() -> Self {
        LineReader::new()
    }
}

impl LineReader {
    /// A reader with a [`DEFAULT_BUFFER_SIZE`] buffer.
    ///
    /// ```
    /// let reader = flotilla_data::split::LineReader::new();
    /// assert_eq!(reader.buffer_size(), 4 << 20);
    /// ```
    pub fn new() -> Self {
        LineReader::with_buffer_size(DEFAULT_BUFFER_SIZE)
    }

    /// A reader that reads `bytes` at a time (at least 1). The buffer grows
    /// past this only to hold a longer line.
    ///
    /// ```
    /// let reader = flotilla_data::split::LineReader::with_buffer_size(8 << 20);
    /// assert_eq!(reader.buffer_size(), 8 << 20);
    /// ```
    pub fn with_buffer_size(bytes: usize) -> Self {
        LineReader {
            buffer_size: bytes.max(1),
            buf: Vec::new(),
        }
    }

    /// How many bytes are read at a time.
    ///
    /// ```
    /// assert_eq!(flotilla_data::split::LineReader::with_buffer_size(0).buffer_size(), 1);
    /// ```
    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// Calls `f` with every line `split` owns, in order.
    ///
    /// Stops at the first error of `f`, which is returned unchanged in
    /// [`SplitError::Callback`] with the split and the line's offset.
    ///
    /// ```
    /// use flotilla_data::split::{plan_splits, LineReader};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-foreach-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "3\n4\n5\n")?;
    /// let mut reader = LineReader::new();
    /// let mut sum = 0u64;
    /// for split in plan_splits(&[file.to_str().unwrap()], 2)? {
    ///     let stats = reader.for_each_line(&split, |line| {
    ///         sum += line.text()?.parse::<u64>().map_err(|e| e.to_string())?;
    ///         Ok::<_, Box<dyn std::error::Error>>(())
    ///     })?;
    ///     assert_eq!(stats.lines, 1);
    /// }
    /// assert_eq!(sum, 12);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_each_line<E, F>(
        &mut self,
        split: &InputSplit,
        mut f: F,
    ) -> Result<SplitStats, SplitError<E>>
    where
        F: FnMut(Line<'_>) -> Result<(), E>,
    {
        let buf = std::mem::take(&mut self.buf);
        let mut cursor = Cursor::open(split, buf, self.buffer_size)?;
        let path = split.path();
        let mut stats = SplitStats::default();
        let mut emit = |bytes: &[u8], offset: u64, span: u64| {
            stats.lines += 1;
            stats.record_bytes += span;
            f(Line {
                bytes,
                offset,
                path,
            })
            .map_err(|error| (offset, error))
        };
        let outcome = loop {
            // Most lines: straight from the buffer.
            if let Err((offset, error)) = cursor.drain_buffered(&mut emit) {
                break Err(SplitError::Callback {
                    split: split.clone(),
                    offset,
                    error,
                });
            }
            // The rest: skipping, refilling, the last line.
            let raw = match cursor.next_line(path) {
                Ok(Some(raw)) => raw,
                Ok(None) => break Ok(()),
                Err(e) => break Err(SplitError::Input(e)),
            };
            if let Err((offset, error)) = emit(&cursor.buf[raw.range], raw.offset, raw.span) {
                break Err(SplitError::Callback {
                    split: split.clone(),
                    offset,
                    error,
                });
            }
        };
        stats.bytes_read = cursor.bytes_read();
        let mut buf = cursor.into_buffer();
        // Keep the buffer for the next split, but not one grown for a
        // giant line.
        if buf.len() > self.buffer_size {
            buf = Vec::new();
        }
        self.buf = buf;
        outcome.map(|()| stats)
    }

    /// An iterator over the lines `split` owns, reading `buffer_size()` bytes
    /// at a time into a buffer of its own.
    ///
    /// ```
    /// use flotilla_data::split::{plan_splits, LineReader};
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-readerlines-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "x\ny\n")?;
    /// let split = &plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// let lines = LineReader::with_buffer_size(1024).lines(split)?;
    /// let texts = lines.map(|line| line?.into_string()).collect::<Result<Vec<_>, _>>()?;
    /// assert_eq!(texts, ["x", "y"]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lines(&self, split: &InputSplit) -> Result<SplitLines, InputError> {
        let cursor = Cursor::open(split, Vec::new(), self.buffer_size)?;
        Ok(SplitLines {
            cursor,
            path: Arc::from(split.path()),
            stats: SplitStats::default(),
            failed: false,
        })
    }
}

/// Calls `f` with every line `split` owns, in order, reading with a
/// [`DEFAULT_BUFFER_SIZE`] buffer. See [`LineReader::for_each_line`].
///
/// ```
/// use flotilla_data::split::{for_each_line, plan_splits};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-foreachfn-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("ratings.tsv");
/// std::fs::write(&file, "1\t10\t5\n2\t10\t3\n3\t11\t5\n")?;
///
/// let mut fives = 0;
/// for split in plan_splits(&[file.to_str().unwrap()], 8)? {
///     for_each_line(&split, |line| {
///         if line.bytes().split(|&b| b == b'\t').nth(2) == Some(b"5") {
///             fives += 1;
///         }
///         Ok::<_, std::convert::Infallible>(())
///     })?;
/// }
/// assert_eq!(fives, 2);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn for_each_line<E, F>(split: &InputSplit, f: F) -> Result<SplitStats, SplitError<E>>
where
    F: FnMut(Line<'_>) -> Result<(), E>,
{
    LineReader::new().for_each_line(split, f)
}

impl InputSplit {
    /// An iterator over the lines this split owns, as owned values, reading
    /// with a [`DEFAULT_BUFFER_SIZE`] buffer.
    ///
    /// ```
    /// use flotilla_data::split::plan_splits;
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-splitlines-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "alpha\nbeta\ngamma\n")?;
    /// let mut all = Vec::new();
    /// for split in plan_splits(&[file.to_str().unwrap()], 7)? {
    ///     for line in split.lines()? {
    ///         all.push(line?.into_string()?);
    ///     }
    /// }
    /// assert_eq!(all, ["alpha", "beta", "gamma"]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lines(&self) -> Result<SplitLines, InputError> {
        LineReader::new().lines(self)
    }
}

/// An iterator over the lines a split owns, each as an [`OwnedLine`].
///
/// Made by [`InputSplit::lines`] or [`LineReader::lines`]. After an error it
/// yields nothing more.
///
/// ```
/// use flotilla_data::split::plan_splits;
/// # let dir = std::env::temp_dir().join(format!("flotilla-doc-splitlinestype-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let file = dir.join("a.txt");
/// std::fs::write(&file, "a\nb\n")?;
/// let split = &plan_splits(&[file.to_str().unwrap()], 64)?[0];
/// let mut lines = split.lines()?;
/// let offsets: Vec<u64> = lines.by_ref().map(|l| l.map(|l| l.offset())).collect::<Result<_, _>>()?;
/// assert_eq!(offsets, [0, 2]);
/// assert_eq!(lines.stats().lines, 2);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SplitLines {
    cursor: Cursor,
    path: Arc<Path>,
    stats: SplitStats,
    failed: bool,
}

impl SplitLines {
    /// What has been read so far.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-splitlinesstats-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "a\nb\n")?;
    /// let split = &flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// let mut lines = split.lines()?;
    /// lines.next();
    /// assert_eq!(lines.stats().lines, 1);
    /// assert_eq!(lines.stats().record_bytes, 2);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> SplitStats {
        SplitStats {
            bytes_read: self.cursor.bytes_read(),
            ..self.stats
        }
    }
}

impl Iterator for SplitLines {
    type Item = Result<OwnedLine, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.cursor.next_line(&self.path) {
            Ok(Some(raw)) => {
                self.stats.lines += 1;
                self.stats.record_bytes += raw.span;
                Some(Ok(OwnedLine {
                    bytes: self.cursor.buf[raw.range].to_vec(),
                    offset: raw.offset,
                    path: Arc::clone(&self.path),
                }))
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// A line that owns its bytes, as yielded by [`SplitLines`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("flotilla-doc-ownedline-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let file = dir.join("a.txt");
/// std::fs::write(&file, "x\r\n")?;
/// let split = &flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?[0];
/// let line = split.lines()?.next().unwrap()?;
/// assert_eq!((line.bytes(), line.offset()), (&b"x"[..], 0));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedLine {
    bytes: Vec<u8>,
    offset: u64,
    path: Arc<Path>,
}

impl OwnedLine {
    /// The line's bytes, without its terminator.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-ownedbytes-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "hi\n")?;
    /// let split = &flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// assert_eq!(split.lines()?.next().unwrap()?.bytes(), b"hi");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Byte offset of the line in its file (decompressed, for gzip).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-ownedoffset-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "hi\nthere\n")?;
    /// let split = &flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// assert_eq!(split.lines()?.nth(1).unwrap()?.offset(), 3);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The file the line comes from.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-ownedpath-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "hi\n")?;
    /// let split = &flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// assert_eq!(split.lines()?.next().unwrap()?.path(), file.as_path());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The line as text, or [`InputError::InvalidUtf8`] with the file and
    /// the offset of the first invalid byte.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-ownedtext-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, b"\xff\n")?;
    /// let split = &flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// let line = split.lines()?.next().unwrap()?;
    /// assert!(line.text().unwrap_err().to_string().contains("byte offset 0"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn text(&self) -> Result<&str, InputError> {
        utf8(&self.bytes, self.offset, &self.path)
    }

    /// The line's bytes, taken out.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-ownedinto-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "hi\n")?;
    /// let split = &flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// assert_eq!(split.lines()?.next().unwrap()?.into_bytes(), b"hi".to_vec());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The line as a `String`, or [`InputError::InvalidUtf8`].
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-ownedstring-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let file = dir.join("a.txt");
    /// std::fs::write(&file, "hi\n")?;
    /// let split = &flotilla_data::split::plan_splits(&[file.to_str().unwrap()], 64)?[0];
    /// assert_eq!(split.lines()?.next().unwrap()?.into_string()?, "hi");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_string(self) -> Result<String, InputError> {
        match String::from_utf8(self.bytes) {
            Ok(text) => Ok(text),
            Err(e) => Err(InputError::InvalidUtf8 {
                path: self.path.to_path_buf(),
                offset: self.offset + e.utf8_error().valid_up_to() as u64,
            }),
        }
    }
}
