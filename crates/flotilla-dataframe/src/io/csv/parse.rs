//! Parsing a block of records into columns: what both paths share — the
//! parse settings, the report of a bad record, the general (quote-aware)
//! loop — and the choice between it and the quote-free fast path.

use super::column::{BadValue, Column, NullTokens};
use super::fast::parse_plain;
use super::skipped::SAMPLE;
use super::tokenize::{blank_line, next_record, Record, Unclosed};

/// How fields are read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Dialect {
    pub(super) delimiter: u8,
    pub(super) nulls: NullTokens,
    pub(super) bad_values_as_null: bool,
    /// Skip records with the wrong number of fields (counted) instead of
    /// failing.
    pub(super) skip_bad_records: bool,
}

/// Why a block could not be parsed, with the record's start in the block.
/// The caller turns it into an [`IoError`](super::super::IoError) with the
/// file, line and column names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fault {
    /// The record at `record` has too few or too many fields; `rows`
    /// records were read before it.
    FieldCount { record: usize, rows: usize },
    /// Field `column` (0-based, among the file's columns) of the record at
    /// `record` does not parse; `value` is its text.
    BadValue {
        record: usize,
        column: usize,
        value: Vec<u8>,
    },
    /// The record at `record` has a quote not closed in the block.
    Unclosed { record: usize },
}

impl Fault {
    /// The fault of a parse that started after `rows` records.
    fn after(self, rows: usize) -> Fault {
        match self {
            Fault::FieldCount { record, rows: r } => Fault::FieldCount {
                record,
                rows: rows + r,
            },
            other => other,
        }
    }
}

/// What a block gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Parsed {
    /// Records read.
    pub(super) rows: usize,
    /// Values that did not parse and became nulls.
    pub(super) bad_values: u64,
    /// Records skipped for their number of fields.
    pub(super) skipped: u64,
    /// Where the first of them start (at most [`SAMPLE`]).
    pub(super) skipped_at: Vec<usize>,
}

/// Parses the records of `input` from `at` into `columns` (one entry per
/// column of the file, `None` for a column not read): the fast path up to
/// the first quoted field, the general one from that record on. A record
/// with the wrong number of fields is skipped, and parsing goes on after
/// it, when the dialect says so.
pub(super) fn parse_block(
    input: &[u8],
    mut at: usize,
    dialect: &Dialect,
    columns: &mut [Column],
) -> Result<Parsed, Fault> {
    let mut parsed = Parsed::default();
    loop {
        match parse_run(input, at, dialect, columns, &mut parsed) {
            Err(Fault::FieldCount { record, rows }) if dialect.skip_bad_records => {
                parsed.rows = rows;
                truncate(columns, rows);
                parsed.skipped += 1;
                if parsed.skipped_at.len() < SAMPLE {
                    parsed.skipped_at.push(record);
                }
                at = next_record(input, record, dialect.delimiter, &mut Record::default())
                    .map_err(|Unclosed| Fault::Unclosed { record })?;
            }
            other => return other.map(|()| parsed),
        }
    }
}

/// Parses from `at` to the end of `input`, adding to `parsed`.
fn parse_run(
    input: &[u8],
    at: usize,
    dialect: &Dialect,
    columns: &mut [Column],
    parsed: &mut Parsed,
) -> Result<(), Fault> {
    let before = parsed.rows;
    let plain = parse_plain(input, at, dialect, columns, &mut parsed.bad_values)
        .map_err(|f| f.after(before))?;
    parsed.rows += plain.rows;
    if let Some(record) = plain.quoted {
        // Drop what the fast path read of the quoted record.
        truncate(columns, parsed.rows);
        let before = parsed.rows;
        parsed.rows += parse_general(input, record, dialect, columns, &mut parsed.bad_values)
            .map_err(|f| f.after(before))?;
    }
    Ok(())
}

/// Keeps the first `rows` values of every column.
fn truncate(columns: &mut [Column], rows: usize) {
    for column in columns.iter_mut() {
        column.truncate(rows);
    }
}

/// Appends `field` to `column`; a bad value becomes a null (counted in
/// `bad`) when the dialect says so.
#[inline]
pub(super) fn push(
    column: &mut Column,
    field: &[u8],
    dialect: &Dialect,
    bad: &mut u64,
) -> Result<(), BadValue> {
    match column.push_field(field, &dialect.nulls) {
        Err(BadValue) if dialect.bad_values_as_null => {
            column.push_null();
            *bad += 1;
            Ok(())
        }
        other => other,
    }
}

/// The general loop: every record through the RFC 4180 tokenizer.
pub(super) fn parse_general(
    input: &[u8],
    mut at: usize,
    dialect: &Dialect,
    columns: &mut [Column],
    bad: &mut u64,
) -> Result<usize, Fault> {
    let mut record = Record::default();
    let mut rows = 0;
    while at < input.len() {
        let blank = blank_line(input, at);
        if blank > 0 {
            at += blank;
            continue;
        }
        let start = at;
        at = next_record(input, at, dialect.delimiter, &mut record)
            .map_err(|Unclosed| Fault::Unclosed { record: start })?;
        if record.len() != columns.len() {
            return Err(Fault::FieldCount {
                record: start,
                rows,
            });
        }
        for (j, column) in columns.iter_mut().enumerate() {
            if column.is_read() {
                let field = record.field(input, j);
                push(column, field, dialect, bad).map_err(|BadValue| Fault::BadValue {
                    record: start,
                    column: j,
                    value: field.to_vec(),
                })?;
            }
        }
        rows += 1;
    }
    Ok(rows)
}
