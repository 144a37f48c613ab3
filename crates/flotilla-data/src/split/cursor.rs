//! The line cursor shared by every way of reading a split.
//!
//! It owns one buffer, `buf`, of which `buf[lo..hi]` holds unread bytes;
//! `base` is the stream offset of `buf[0]`. Each step looks for a `\n` in
//! the unread bytes; when there is none, the partial line is moved to the
//! front of the buffer (growing it only when one line fills it) and more is
//! read behind it. Reads stop at the split's `end`, then go on only as far
//! as the last line needs, in steps as long as the line read so far.
//!
//! A line costs time linear in its length, however long: the bytes of a
//! partial line already searched for a `\n` are not searched again after
//! the next read (`searched`), the buffer doubles when full, and the reads
//! past the end double with the line. A split starting inside a line that
//! goes on past its end owns no line, and stops once it has looked at its
//! own bytes.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use super::scan::{find_newline, newline_mask};
use super::{InputError, InputSplit};

/// The first read past the split's end, to finish its last line; later
/// reads are as long as the part of the line already read.
const TAIL_READ: usize = 16 * 1024;

/// The buffer between a gzip file and its decoder.
const GZIP_INPUT_BUFFER: usize = 256 * 1024;

#[cfg(test)]
thread_local! {
    /// Reads made by [`Source::read`] on this thread: the tests check with
    /// it that a long line takes a few large reads, not many small ones.
    pub(super) static READS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts the bytes read from the file under a decoder.
#[derive(Debug)]
pub(super) struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Where the bytes of a split come from.
#[derive(Debug)]
pub(super) enum Source {
    /// An uncompressed file, positioned where reading starts.
    Plain { file: File, count: u64 },
    /// A gzip file (possibly of several members), decompressed.
    Gzip(Box<MultiGzDecoder<BufReader<Counted<File>>>>),
}

impl Source {
    /// Opens `path`, uncompressed and positioned at `at`, or gzip-decoded
    /// from its start.
    pub(super) fn open(path: &Path, compressed: bool, at: u64) -> Result<Self, InputError> {
        let mut file = File::open(path).map_err(|e| InputError::io(path, e))?;
        if compressed {
            let counted = Counted {
                inner: file,
                count: 0,
            };
            let buffered = BufReader::with_capacity(GZIP_INPUT_BUFFER, counted);
            return Ok(Source::Gzip(Box::new(MultiGzDecoder::new(buffered))));
        }
        if at > 0 {
            file.seek(SeekFrom::Start(at))
                .map_err(|e| InputError::io(path, e))?;
        }
        Ok(Source::Plain { file, count: 0 })
    }

    /// Reads into `buf`, retrying interrupted reads; 0 means end of stream.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(test)]
        READS.with(|reads| reads.set(reads.get() + 1));
        loop {
            let got = match self {
                Source::Plain { file, count } => file.read(buf).inspect(|&n| *count += n as u64),
                Source::Gzip(decoder) => decoder.read(buf),
            };
            match got {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// The error of a failed [`Source::read`] of `path`.
    pub(super) fn read_error(&self, path: &Path, e: io::Error) -> InputError {
        match self {
            Source::Plain { .. } => InputError::io(path, e),
            Source::Gzip(_) => InputError::gzip(path, e),
        }
    }

    /// Bytes read from the file so far (compressed bytes for gzip).
    pub(super) fn bytes_read(&self) -> u64 {
        match self {
            Source::Plain { count, .. } => *count,
            Source::Gzip(decoder) => decoder.get_ref().get_ref().count,
        }
    }
}

/// A line found by the cursor: where it is in the buffer and the stream.
#[derive(Debug, Clone)]
pub(super) struct RawLine {
    /// The line's bytes in the cursor's buffer, without `\n` or `\r\n`.
    pub(super) range: Range<usize>,
    /// Stream offset of the line's first byte.
    pub(super) offset: u64,
    /// Bytes the line covers in the stream, its terminator included.
    pub(super) span: u64,
}

/// Reads the lines a split owns, one at a time.
#[derive(Debug)]
pub(super) struct Cursor {
    source: Source,
    pub(super) buf: Vec<u8>,
    lo: usize,
    hi: usize,
    /// `buf[lo..lo + searched]` holds no `\n`: the part of a partial line
    /// already searched, which is not searched again.
    searched: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Lines starting at or after this offset belong to the next split.
    end: u64,
    /// Still discarding the partial line before the split's first line.
    skipping: bool,
    eof: bool,
    done: bool,
}

impl Cursor {
    /// Opens `split`, reading into `buf`, which is grown to `buffer_size`
    /// bytes (less for a small split, at least one byte) if it is smaller.
    pub(super) fn open(
        split: &InputSplit,
        mut buf: Vec<u8>,
        buffer_size: usize,
    ) -> Result<Self, InputError> {
        let (at, end, skipping) = if split.is_compressed() {
            (0, u64::MAX, false)
        } else if split.start() == 0 {
            (0, split.end(), false)
        } else {
            // The byte before `start` tells whether a line begins at
            // `start`: discard through the first `\n` at or after it.
            (split.start() - 1, split.end(), true)
        };
        let wanted = if split.is_compressed() {
            buffer_size
        } else {
            // Small splits do not need a large buffer.
            let span = usize::try_from(end - at).unwrap_or(usize::MAX);
            buffer_size.min(span.saturating_add(TAIL_READ))
        }
        .max(1);
        if buf.len() < wanted {
            buf.resize(wanted, 0);
        }
        let source = Source::open(split.path(), split.is_compressed(), at)?;
        Ok(Cursor {
            source,
            buf,
            lo: 0,
            hi: 0,
            searched: 0,
            base: at,
            end,
            skipping,
            eof: false,
            done: at >= end,
        })
    }

    /// Bytes read from the file so far.
    pub(super) fn bytes_read(&self) -> u64 {
        self.source.bytes_read()
    }

    /// Gives back the buffer for reuse.
    pub(super) fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// The next line of the split, or `None` after its last one. The line's
    /// bytes are `self.buf[line.range]`, valid until the next call. `path`
    /// names the file in errors.
    #[inline]
    pub(super) fn next_line(&mut self, path: &Path) -> Result<Option<RawLine>, InputError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let from = self.lo + self.searched;
            if let Some(at) = find_newline(&self.buf[from..self.hi]) {
                let start = self.lo;
                let newline = from + at;
                self.searched = 0;
                self.lo = newline + 1;
                let next_offset = self.base + self.lo as u64;
                if next_offset >= self.end {
                    self.done = true;
                }
                if self.skipping {
                    self.skipping = false;
                    continue;
                }
                let stop = if newline > start && self.buf[newline - 1] == b'\r' {
                    newline - 1
                } else {
                    newline
                };
                return Ok(Some(RawLine {
                    range: start..stop,
                    offset: self.base + start as u64,
                    span: (newline + 1 - start) as u64,
                }));
            }
            self.searched = self.hi - self.lo;
            if self.eof {
                // A last line without a newline still counts.
                self.done = true;
                if self.skipping || self.lo == self.hi {
                    return Ok(None);
                }
                let (start, end) = (self.lo, self.hi);
                self.lo = end;
                let stop = if self.buf[end - 1] == b'\r' {
                    end - 1
                } else {
                    end
                };
                return Ok(Some(RawLine {
                    range: start..stop,
                    offset: self.base + start as u64,
                    span: (end - start) as u64,
                }));
            }
            if self.skipping && self.base + self.hi as u64 >= self.end {
                // No `\n` up to the split's last byte: no line starts in
                // the split.
                self.done = true;
                return Ok(None);
            }
            if let Err(e) = self.refill() {
                return Err(self.source.read_error(path, e));
            }
        }
    }

    /// The fast path: passes every complete line already in the buffer
    /// that the split owns to `emit(bytes, offset, span)`, without going
    /// back to the reading state machine between lines. Stops early, with
    /// the cursor past the failed line, when `emit` fails. Lines that need
    /// more reading (or skipping) are left to [`next_line`](Self::next_line).
    #[inline]
    pub(super) fn drain_buffered<E>(
        &mut self,
        mut emit: impl FnMut(&[u8], u64, u64) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.done || self.skipping {
            return Ok(());
        }
        let buf = &self.buf[..self.hi];
        let (base, end) = (self.base, self.end);
        let mut lo = self.lo;
        let mut outcome = Ok(());
        // Whole 64-byte blocks: a bit mask of their newlines, walked bit by
        // bit, so that short lines cost no search loop each.
        let mut block = lo;
        'blocks: while block + 64 <= buf.len() {
            let mut mask = newline_mask(&buf[block..block + 64]);
            while mask != 0 {
                let newline = block + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                let stop = if newline > lo && buf[newline - 1] == b'\r' {
                    newline - 1
                } else {
                    newline
                };
                outcome = emit(&buf[lo..stop], base + lo as u64, (newline + 1 - lo) as u64);
                lo = newline + 1;
                if base + lo as u64 >= end {
                    self.done = true;
                    self.lo = lo;
                    return outcome;
                }
                if outcome.is_err() {
                    break 'blocks;
                }
            }
            block += 64;
        }
        if outcome.is_err() {
            self.lo = lo;
            return outcome;
        }
        while let Some(at) = find_newline(&buf[lo..]) {
            let newline = lo + at;
            let stop = if newline > lo && buf[newline - 1] == b'\r' {
                newline - 1
            } else {
                newline
            };
            outcome = emit(&buf[lo..stop], base + lo as u64, (newline + 1 - lo) as u64);
            lo = newline + 1;
            if base + lo as u64 >= end {
                self.done = true;
                break;
            }
            if outcome.is_err() {
                break;
            }
        }
        self.lo = lo;
        outcome
    }

    /// Makes room behind the unread bytes and reads more.
    fn refill(&mut self) -> io::Result<()> {
        if self.skipping {
            // Nothing before the first newline is kept.
            self.base += self.hi as u64;
            self.lo = 0;
            self.hi = 0;
            self.searched = 0;
        } else if self.lo > 0 {
            self.buf.copy_within(self.lo..self.hi, 0);
            self.base += self.lo as u64;
            self.hi -= self.lo;
            self.lo = 0;
        }
        if self.hi == self.buf.len() {
            // One line fills the whole buffer.
            let grown = self.buf.len().saturating_mul(2).max(1);
            self.buf.resize(grown, 0);
        }
        let position = self.base + self.hi as u64;
        let space = self.buf.len() - self.hi;
        let wanted = if position < self.end {
            usize::try_from(self.end - position).unwrap_or(usize::MAX)
        } else {
            // Past the end, reads grow with the line: a few for any length.
            TAIL_READ.max(self.hi - self.lo)
        };
        let got = self
            .source
            .read(&mut self.buf[self.hi..self.hi + space.min(wanted)])?;
        if got == 0 {
            self.eof = true;
        }
        self.hi += got;
        Ok(())
    }
}
