//! Reading a split's lines as one block of bytes, for parsers that want the
//! whole range at once (the DataFrame's CSV and JSON-lines readers) rather
//! than a line at a time.
//!
//! The block holds exactly the lines the split owns (the same lines
//! [`LineReader`](super::LineReader) hands out), with their terminators:
//! from the first line that starts at or after `start` to the end of the
//! last line that starts before `end`. For an uncompressed file it is read
//! in three steps: a small probe from `start - 1` to find where the first
//! owned line begins, one large read straight into the caller's buffer (no
//! copy afterwards), and small reads past `end` to finish the last line.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use flate2::bufread::MultiGzDecoder;

use super::{InputError, InputSplit};

/// How much is read at a time when probing for the first line, and past the
/// end to finish the last one.
const PROBE: usize = 64 * 1024;

/// The buffer between a gzip file and its decoder.
const GZIP_INPUT_BUFFER: usize = 256 * 1024;

impl InputSplit {
    /// Reads every line this split owns into `buf` (cleared first), as one
    /// block with the line terminators kept, and returns the offset in the
    /// file of `buf[0]` (in the decompressed stream for gzip files, whose
    /// block is the whole stream).
    ///
    /// The block starts at a line start and ends just after a `\n`, or at
    /// the end of the file for a last line without one. It is empty when no
    /// line starts in the split (a line longer than the split began
    /// earlier). Over all the splits of a file, the blocks cover the file
    /// exactly once. The buffer's capacity is kept, so a task reading many
    /// splits can reuse one buffer.
    ///
    /// ```
    /// use flotilla_data::split::plan_splits;
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-block-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let file = dir.join("a.csv");
    /// std::fs::write(&file, "id,v\n1,10\n2,20\n3,30")?;
    ///
    /// let mut buf = Vec::new();
    /// let mut blocks = Vec::new();
    /// for split in plan_splits(&[file.to_str().unwrap()], 6)? {
    ///     let offset = split.read_block(&mut buf)?;
    ///     blocks.push((offset, String::from_utf8(buf.clone())?));
    /// }
    /// assert_eq!(blocks, [
    ///     (0, "id,v\n1,10\n".to_owned()), // the line starting at 5 began in 0..6
    ///     (10, "2,20\n".to_owned()),
    ///     (15, "3,30".to_owned()),
    ///     (19, "".to_owned()),            // 18..19: no line starts there
    /// ]);
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_block(&self, buf: &mut Vec<u8>) -> Result<u64, InputError> {
        buf.clear();
        let path = self.path();
        let io_err = |e| InputError::io(path, e);
        let mut file = File::open(path).map_err(io_err)?;
        if self.is_compressed() {
            let buffered = BufReader::with_capacity(GZIP_INPUT_BUFFER, file);
            MultiGzDecoder::new(buffered)
                .read_to_end(buf)
                .map_err(|e| InputError::gzip(path, e))?;
            return Ok(0);
        }
        let (start, end) = (self.start(), self.end());
        let first = if start == 0 {
            0
        } else {
            match first_line_start(&mut file, start, end).map_err(io_err)? {
                Some(first) => first,
                None => return Ok(end),
            }
        };
        file.seek(SeekFrom::Start(first)).map_err(io_err)?;
        let wanted = end - first;
        buf.reserve(
            usize::try_from(wanted)
                .unwrap_or(usize::MAX)
                .saturating_add(PROBE),
        );
        let got = (&mut file).take(wanted).read_to_end(buf).map_err(io_err)?;
        if (got as u64) < wanted || buf.last() == Some(&b'\n') {
            // The file ended (it shrank since planning), or the last line
            // ends exactly at `end`: the line at `end` is the next split's.
            return Ok(first);
        }
        finish_last_line(&mut file, buf).map_err(io_err)?;
        Ok(first)
    }
}

/// The offset of the first line starting in `[start, end)` (`start > 0`):
/// just after the first `\n` at or after `start - 1`, or `None` when that
/// newline is at `end - 1` or later.
fn first_line_start(file: &mut File, start: u64, end: u64) -> io::Result<Option<u64>> {
    let mut at = start - 1;
    file.seek(SeekFrom::Start(at))?;
    let mut probe = vec![0u8; PROBE];
    while at < end {
        let wanted = usize::try_from(end - at).unwrap_or(usize::MAX).min(PROBE);
        let got = read_some(file, &mut probe[..wanted])?;
        if got == 0 {
            return Ok(None);
        }
        if let Some(i) = probe[..got].iter().position(|&b| b == b'\n') {
            let first = at + i as u64 + 1;
            return Ok((first < end).then_some(first));
        }
        at += got as u64;
    }
    Ok(None)
}

/// Appends bytes from `file` until the block ends with a `\n` or the file
/// ends. Only the new bytes of each read are searched, and the reads double,
/// so a long last line costs time linear in its length.
fn finish_last_line(file: &mut File, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut step = PROBE;
    loop {
        let old = buf.len();
        buf.resize(old + step, 0);
        step = step.saturating_mul(2);
        let got = read_some(file, &mut buf[old..])?;
        buf.truncate(old + got);
        if got == 0 {
            return Ok(());
        }
        if let Some(i) = buf[old..].iter().position(|&b| b == b'\n') {
            buf.truncate(old + i + 1);
            return Ok(());
        }
    }
}

/// One read, retried when interrupted; 0 means the end of the file.
fn read_some(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
