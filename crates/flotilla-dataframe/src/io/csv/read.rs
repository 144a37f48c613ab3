//! Reading one partition: its byte range read as one block (into a buffer
//! each thread keeps for its next partition), the header skipped where the
//! file starts, the block parsed, the columns finished — and a parser's
//! fault turned into an error with the file, line and column.

use std::cell::RefCell;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions};

use flotilla_data::split::{line_number_at, InputSplit};

use super::super::error::snippet;
use super::super::IoError;
use super::column::{Column, FinishError};
use super::parse::{parse_block, Fault};
use super::plan::BOM;
use super::skipped::Skipped;
use super::tokenize::{next_record, nth_record_start, Record, Unclosed};
use super::{CsvPlan, ReadStats};

/// Blocks larger than this are not kept for the next partition: a little
/// over the largest default partition (64 MiB, plus the end of its last
/// line), so that a worker thread holds at most one such buffer.
const KEEP_BLOCK: usize = 80 << 20;

thread_local! {
    /// The block buffer, reused by the partitions a thread reads.
    static BLOCK: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads `split`, partition `index` of `plan`.
pub(super) fn read_split(
    plan: &CsvPlan,
    index: usize,
    split: &InputSplit,
) -> Result<(RecordBatch, ReadStats), IoError> {
    let mut block = BLOCK.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let result = read_block(plan, index, split, &mut block);
    if block.capacity() <= KEEP_BLOCK {
        BLOCK.with(|b| *b.borrow_mut() = block);
    }
    result
}

fn read_block(
    plan: &CsvPlan,
    index: usize,
    split: &InputSplit,
    block: &mut Vec<u8>,
) -> Result<(RecordBatch, ReadStats), IoError> {
    let offset = split.read_block(block)?;
    let block = &block[..];
    let fault = |fault: Fault| fault_error(plan, split, offset, block, fault);
    let mut at = 0;
    if offset == 0 {
        if block.starts_with(BOM) {
            at = BOM.len();
        }
        if plan.has_header && at < block.len() {
            at = next_record(block, at, plan.dialect.delimiter, &mut Record::default())
                .map_err(|Unclosed| fault(Fault::Unclosed { record: at }))?;
        }
    }
    let data_start = at;
    let capacity = (block.len() - at) / plan.bytes_per_row + 16;
    let mut read = vec![false; plan.file_fields.len()];
    for &j in &plan.projection {
        read[j] = true;
    }
    let mut columns: Vec<Column> = plan
        .file_fields
        .iter()
        .zip(&read)
        .map(|(field, &read)| match read {
            true => Column::new(field.data_type(), capacity, &plan.dialect.nulls),
            false => Column::skipped(),
        })
        .collect();
    let parsed = parse_block(block, data_start, &plan.dialect, &mut columns).map_err(fault)?;
    let mut arrays = Vec::with_capacity(plan.projection.len());
    for &j in &plan.projection {
        let array = columns[j].finish().map_err(|e| match e {
            FinishError::TooLarge => IoError::TextTooLarge {
                path: split.path().to_path_buf(),
                column: plan.file_fields[j].name().clone(),
            },
            FinishError::InvalidUtf8 { row } => {
                invalid_utf8(plan, split, offset, block, data_start, row, j)
            }
        })?;
        arrays.extend(array);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(parsed.rows));
    let batch = RecordBatch::try_new_with_options(Arc::clone(&plan.schema), arrays, &options)
        .map_err(|source| IoError::Arrow {
            path: split.path().to_path_buf(),
            source,
        })?;
    let stats = ReadStats {
        rows: parsed.rows,
        bad_values: parsed.bad_values,
        bad_records: parsed.skipped,
        bytes: (block.len() - data_start) as u64,
    };
    if plan.dialect.skip_bad_records {
        let sample = parsed
            .skipped_at
            .iter()
            .map(|&at| skipped(plan, split, offset, block, at))
            .collect();
        plan.skipped.record(index, parsed.skipped, sample);
    }
    Ok((batch, stats))
}

/// The record skipped at `at` of the block read at `offset`.
fn skipped(plan: &CsvPlan, split: &InputSplit, offset: u64, block: &[u8], at: usize) -> Skipped {
    let mut fields = Record::default();
    let _ = next_record(block, at, plan.dialect.delimiter, &mut fields);
    Skipped {
        path: split.path().to_path_buf(),
        offset: offset + at as u64,
        expected: plan.file_fields.len(),
        found: fields.len(),
        record: snippet(record_text(block, at)),
    }
}

/// The 1-based line, in the file, of byte `at` of the block read at
/// `offset`. Reads the file from its start: only for errors.
fn line(split: &InputSplit, offset: u64, at: usize) -> u64 {
    line_number_at(split.path(), offset + at as u64).unwrap_or(0)
}

/// The record at `at` without its line break (its first line only, for a
/// record with quoted line breaks).
fn record_text(block: &[u8], at: usize) -> &[u8] {
    let rest = &block[at.min(block.len())..];
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end])
}

/// The error for a parser's fault.
fn fault_error(
    plan: &CsvPlan,
    split: &InputSplit,
    offset: u64,
    block: &[u8],
    fault: Fault,
) -> IoError {
    let path = split.path().to_path_buf();
    match fault {
        Fault::BadValue {
            record,
            column,
            value,
        } => {
            let field = &plan.file_fields[column];
            IoError::BadValue {
                path,
                line: line(split, offset, record),
                column: field.name().clone(),
                column_index: column + 1,
                data_type: field.data_type().clone(),
                origin: plan.origins.get(column).cloned().unwrap_or_default(),
                value: snippet(&value),
            }
        }
        Fault::FieldCount { record, .. } => {
            let mut fields = Record::default();
            let _ = next_record(block, record, plan.dialect.delimiter, &mut fields);
            let expected = plan.file_fields.len();
            let found = fields.len();
            let (column, column_index) = if found < expected {
                (plan.file_fields[found].name().clone(), found + 1)
            } else {
                (String::new(), expected + 1)
            };
            IoError::FieldCount {
                path,
                line: line(split, offset, record),
                expected,
                found,
                column,
                column_index,
                record: snippet(record_text(block, record)),
            }
        }
        Fault::Unclosed { record } => IoError::UnclosedQuote {
            path,
            line: line(split, offset, record),
        },
    }
}

/// The error for the value of row `row` of file column `column`, which is
/// not UTF-8.
fn invalid_utf8(
    plan: &CsvPlan,
    split: &InputSplit,
    offset: u64,
    block: &[u8],
    data_start: usize,
    row: usize,
    column: usize,
) -> IoError {
    let record = nth_record_start(block, data_start, plan.dialect.delimiter, row).unwrap_or(0);
    let mut fields = Record::default();
    let value = match next_record(block, record, plan.dialect.delimiter, &mut fields) {
        Ok(_) if column < fields.len() => snippet(fields.field(block, column)),
        _ => String::new(),
    };
    IoError::InvalidUtf8 {
        path: split.path().to_path_buf(),
        line: line(split, offset, record),
        column: plan.file_fields[column].name().clone(),
        column_index: column + 1,
        value,
    }
}
