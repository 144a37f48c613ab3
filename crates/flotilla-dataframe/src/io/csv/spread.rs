//! Rows sampled across a file, past the rows read at its start: a column
//! whose first thousand values are missing (or all small integers) is
//! typed by values from its whole length.
//!
//! The rest of the file is cut into [`STRETCHES`] equal parts; each is read
//! from its first line break on, for a few records. A stretch may start
//! inside a quoted field that holds a line break: its records then do not
//! have the file's width (or do not tokenize) and are left out — they are
//! only a sample; the partition that holds them reads them properly.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use flotilla_data::split::InputSplit;

use super::super::IoError;
use super::infer::Inferred;
use super::options::CsvOptions;
use super::tokenize::{blank_line, next_record, Record};

/// How many places of a file are sampled past its start.
pub(super) const STRETCHES: u64 = 10;

/// The most bytes read per stretch.
const MAX_STRETCH_BYTES: usize = 1 << 20;

/// Joins into `types` the types of about `rows` records read in
/// [`STRETCHES`] places of `file` from byte `from` to its end; returns the
/// number of records used. Compressed files are not sampled (they cannot
/// be read from the middle).
pub(super) fn sample_across(
    file: &InputSplit,
    from: u64,
    rows: usize,
    bytes_per_row: usize,
    options: &CsvOptions,
    types: &mut [Inferred],
) -> Result<usize, IoError> {
    let end = file.end();
    if file.is_compressed() || rows == 0 || from >= end || types.is_empty() {
        return Ok(0);
    }
    let per_stretch = rows.div_ceil(STRETCHES as usize).max(1);
    let want = per_stretch
        .saturating_mul(bytes_per_row.max(1))
        .saturating_mul(2)
        .saturating_add(4096)
        .min(MAX_STRETCH_BYTES);
    let path = file.path();
    let mut handle = File::open(path).map_err(|e| IoError::io(path, e))?;
    let mut buffer = Vec::with_capacity(want);
    let mut record = Record::default();
    let mut used = 0;
    for k in 0..STRETCHES {
        // From the byte before the stretch, so that a stretch starting
        // exactly at a line's start keeps that line.
        let start = from + (end - from) * k / STRETCHES;
        let at = start.saturating_sub(1);
        handle
            .seek(SeekFrom::Start(at))
            .map_err(|e| IoError::io(path, e))?;
        buffer.clear();
        (&mut handle)
            .take(want as u64)
            .read_to_end(&mut buffer)
            .map_err(|e| IoError::io(path, e))?;
        let whole = at + buffer.len() as u64 >= end;
        let Some(first) = buffer.iter().position(|&b| b == b'\n') else {
            continue;
        };
        used += sample_records(
            &buffer,
            first + 1,
            whole,
            per_stretch,
            options,
            types,
            &mut record,
        );
    }
    Ok(used)
}

/// Joins the types of up to `rows` complete records of `text` from `at`
/// (the last one only if `whole`: else it may be cut); returns how many.
fn sample_records(
    text: &[u8],
    mut at: usize,
    whole: bool,
    rows: usize,
    options: &CsvOptions,
    types: &mut [Inferred],
    record: &mut Record,
) -> usize {
    let mut used = 0;
    while at < text.len() && used < rows {
        let blank = blank_line(text, at);
        if blank > 0 {
            at += blank;
            continue;
        }
        let Ok(next) = next_record(text, at, options.delimiter, record) else {
            break;
        };
        let complete = whole || text[..next].ends_with(b"\n");
        if !complete {
            break;
        }
        if record.len() == types.len() {
            for (j, t) in types.iter_mut().enumerate() {
                let field = record.field(text, j);
                if !options.null_values.iter().any(|n| n.as_bytes() == field) {
                    *t = t.join(Inferred::of(field));
                }
            }
            used += 1;
        }
        at = next;
    }
    used
}
