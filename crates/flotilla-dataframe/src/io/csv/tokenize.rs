//! The general CSV tokenizer: RFC 4180 records, quotes included.
//!
//! A record ends at a line break outside quotes (`\n`, or `\r\n`, the `\r`
//! not being part of the last field). A field starting with `"` is quoted:
//! it runs to the next `"` not doubled, may hold delimiters and line
//! breaks, and `""` inside stands for one `"`. Like the `csv` crate, the
//! tokenizer is lenient about what follows a closing quote (`"ab"c` is
//! `abc`) and about a `"` inside an unquoted field (kept as it is). An
//! empty line is no record.
//!
//! Unquoted fields are handed out as ranges of the input; quoted ones are
//! unescaped into a scratch buffer reused from record to record.

use std::ops::Range;

/// Where a field's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FieldAt {
    /// A range of the input.
    Input(Range<usize>),
    /// A range of the scratch buffer (a quoted field, unescaped).
    Scratch(Range<usize>),
}

/// The fields of the last record tokenized.
#[derive(Debug, Default)]
pub(super) struct Record {
    pub(super) fields: Vec<FieldAt>,
    pub(super) scratch: Vec<u8>,
}

impl Record {
    /// The bytes of field `i`.
    #[inline]
    pub(super) fn field<'a>(&'a self, input: &'a [u8], i: usize) -> &'a [u8] {
        match &self.fields[i] {
            FieldAt::Input(r) => &input[r.clone()],
            FieldAt::Scratch(r) => &self.scratch[r.clone()],
        }
    }

    /// The number of fields.
    pub(super) fn len(&self) -> usize {
        self.fields.len()
    }
}

/// A quoted field still open at the end of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unclosed;

/// How a field ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Terminator {
    /// A delimiter; the next field starts at the position.
    Delimiter(usize),
    /// A line break or the end of the input; the next record starts at the
    /// position.
    EndOfRecord(usize),
}

/// The end of the unquoted field starting at `at`: the first delimiter or
/// `\n`, less a `\r` just before that `\n`.
#[inline(always)]
pub(super) fn field_end(input: &[u8], at: usize, delimiter: u8) -> usize {
    let mut p = at;
    while let Some(&c) = input.get(p) {
        if c == delimiter || c == b'\n' {
            break;
        }
        p += 1;
    }
    if p > at && input.get(p) == Some(&b'\n') && input[p - 1] == b'\r' {
        p - 1
    } else {
        p
    }
}

/// What ends a field at `at`, or `None` when the byte there ends no field
/// (the inline number parsers stop at any unexpected byte).
#[inline(always)]
pub(super) fn terminator(input: &[u8], at: usize, delimiter: u8) -> Option<Terminator> {
    match input.get(at) {
        None => Some(Terminator::EndOfRecord(at)),
        Some(&c) if c == delimiter => Some(Terminator::Delimiter(at + 1)),
        Some(b'\n') => Some(Terminator::EndOfRecord(at + 1)),
        Some(b'\r') if input.get(at + 1) == Some(&b'\n') => Some(Terminator::EndOfRecord(at + 2)),
        Some(_) => None,
    }
}

/// The length of the empty line at `at` (`\n` or `\r\n`), or 0.
#[inline(always)]
pub(super) fn blank_line(input: &[u8], at: usize) -> usize {
    match input.get(at) {
        Some(b'\n') => 1,
        Some(b'\r') if input.get(at + 1) == Some(&b'\n') => 2,
        _ => 0,
    }
}

/// Tokenizes the record starting at `at` (not a blank line) into `record`;
/// returns where the next record starts.
pub(super) fn next_record(
    input: &[u8],
    at: usize,
    delimiter: u8,
    record: &mut Record,
) -> Result<usize, Unclosed> {
    record.fields.clear();
    record.scratch.clear();
    let mut p = at;
    loop {
        let end = if input.get(p) == Some(&b'"') {
            let start = record.scratch.len();
            p = quoted(input, p + 1, &mut record.scratch)?;
            // Lenient: anything up to the delimiter joins the field.
            let end = field_end(input, p, delimiter);
            record.scratch.extend_from_slice(&input[p..end]);
            record
                .fields
                .push(FieldAt::Scratch(start..record.scratch.len()));
            end
        } else {
            let end = field_end(input, p, delimiter);
            record.fields.push(FieldAt::Input(p..end));
            end
        };
        match terminator(input, end, delimiter) {
            Some(Terminator::Delimiter(next)) => p = next,
            Some(Terminator::EndOfRecord(next)) => return Ok(next),
            // `field_end` stops only where a field ends.
            None => return Ok(end),
        }
    }
}

/// Unescapes the inside of a quoted field starting at `at` (just after the
/// opening quote) into `out`; returns the position after the closing quote.
fn quoted(input: &[u8], mut at: usize, out: &mut Vec<u8>) -> Result<usize, Unclosed> {
    loop {
        let Some(q) = input[at..].iter().position(|&b| b == b'"') else {
            return Err(Unclosed);
        };
        out.extend_from_slice(&input[at..at + q]);
        at += q + 1;
        if input.get(at) == Some(&b'"') {
            out.push(b'"');
            at += 1;
        } else {
            return Ok(at);
        }
    }
}

/// The start of record `n` (0-based, blank lines skipped) of `input` from
/// `at`, or `None` when there are fewer records.
pub(super) fn nth_record_start(
    input: &[u8],
    mut at: usize,
    delimiter: u8,
    n: usize,
) -> Option<usize> {
    let mut record = Record::default();
    let mut seen = 0;
    while at < input.len() {
        let blank = blank_line(input, at);
        if blank > 0 {
            at += blank;
            continue;
        }
        if seen == n {
            return Some(at);
        }
        seen += 1;
        at = next_record(input, at, delimiter, &mut record).ok()?;
    }
    None
}
