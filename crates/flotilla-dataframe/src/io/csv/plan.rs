//! Planning a CSV source: every file's header read and compared (or,
//! without headers, every file's rows checked for the first file's width),
//! types inferred from each file's first rows and rows spread across it and
//! merged, names, overrides and projection checked — before any partition
//! is read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};

use flotilla_data::split::{plan_splits, InputSplit, LineReader};

use super::super::partition_size::partition_bytes;
use super::super::IoError;
use super::column::{is_supported, NullTokens};
use super::infer::Inferred;
use super::options::CsvOptions;
use super::parse::Dialect;
use super::skipped::SkipLog;
use super::spread::sample_across;
use super::tokenize::{blank_line, next_record, Record, Unclosed};
use super::CsvPlan;

/// The UTF-8 byte order mark, skipped at the start of a file.
pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The read buffer used for samples: they are small.
const SAMPLE_BUFFER: usize = 64 << 10;

/// What the start of one file tells.
#[derive(Debug)]
struct Sample {
    path: PathBuf,
    /// The header's names, or the first row's fields without a header.
    first: Vec<String>,
    /// Per column, the type of the sampled rows (empty when not inferring).
    types: Vec<Inferred>,
    /// Rows sampled from the start and their bytes.
    rows: usize,
    bytes: usize,
    /// The lines of the first and last rows sampled from the start.
    lines: Option<(u64, u64)>,
    /// Rows sampled across the rest of the file.
    spread: usize,
}

impl Sample {
    /// Which rows of the file inference read: `lines 2–1001 of FILE and
    /// 1000 rows sampled across it`.
    fn rows_read(&self) -> String {
        let head = match self.lines {
            Some((a, b)) if a == b => format!("line {a}"),
            Some((a, b)) => format!("lines {a}–{b}"),
            None => "no rows".to_owned(),
        };
        let spread = match self.spread {
            0 => String::new(),
            n => format!(" and {n} rows sampled across it"),
        };
        format!("{head} of {}{spread}", self.path.display())
    }
}

/// Plans a source: see [`CsvSource::plan`](super::CsvSource::plan).
pub(super) fn plan<P: AsRef<str>>(inputs: &[P], options: CsvOptions) -> Result<CsvPlan, IoError> {
    check_dialect(&options)?;
    let dialect = Dialect {
        delimiter: options.delimiter,
        nulls: NullTokens::new(&options.null_values),
        bad_values_as_null: options.bad_values_as_null,
        skip_bad_records: options.skip_bad_records,
    };
    // One whole-file split per non-empty file: for sampling and sizing.
    let files = plan_splits(inputs, u64::MAX)?;
    let infer = options.schema.is_none();
    let mut samples: Vec<Sample> = Vec::with_capacity(files.len());
    for file in &files {
        // Without headers, every file's rows have the first file's width
        // (the options' names are checked against it later).
        let width = match options.has_header {
            true => None,
            false => samples
                .iter()
                .find(|s| !s.first.is_empty())
                .map(|s| s.first.len()),
        };
        samples.push(sample(file, &options, infer, width)?);
    }
    check_same_header(&samples, options.has_header)?;

    let width = match (&options.schema, samples.first()) {
        (Some(schema), _) => schema.fields().len(),
        (None, Some(first)) => first.first.len(),
        (None, None) => {
            return Err(IoError::NoData {
                inputs: inputs.iter().map(|i| i.as_ref().to_owned()).collect(),
            })
        }
    };
    let names = column_names(&options, samples.first(), width)?;
    let projection = projection(&options, &names)?;
    let given = Arc::new("set in the options".to_owned());
    let (mut types, mut origins): (Vec<DataType>, Vec<Arc<String>>) = match &options.schema {
        Some(schema) => schema
            .fields()
            .iter()
            .map(|f| (f.data_type().clone(), Arc::clone(&given)))
            .collect(),
        None => merge_types(&samples, &names, &options.dtypes, &projection)?
            .into_iter()
            .map(|(t, origin)| (t.data_type(), Arc::new(origin)))
            .collect(),
    };
    for (name, data_type) in &options.dtypes {
        let at = position(&names, name)?;
        types[at] = data_type.clone();
        origins[at] = Arc::clone(&given);
    }
    for (name, data_type) in names.iter().zip(&types) {
        if !is_supported(data_type) {
            return Err(IoError::UnsupportedType {
                column: name.clone(),
                data_type: data_type.clone(),
            });
        }
    }
    let file_fields: Vec<Field> = names
        .iter()
        .zip(&types)
        .map(|(name, data_type)| Field::new(name, data_type.clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(
        projection
            .iter()
            .map(|&j| file_fields[j].clone())
            .collect::<Vec<_>>(),
    ));

    let bytes = partition_bytes(
        &files,
        options.partition_bytes.or(options.budget_partition_bytes),
    )?;
    let splits = plan_splits(inputs, bytes)?;
    let (rows, sampled) = samples
        .iter()
        .fold((0, 0), |(r, b), s| (r + s.rows, b + s.bytes));
    let bytes_per_row = sampled.checked_div(rows).map_or(16, |b| b.max(1));
    Ok(CsvPlan {
        splits,
        file_fields,
        projection,
        schema,
        dialect,
        has_header: options.has_header,
        bytes_per_row,
        origins,
        skipped: SkipLog::default(),
    })
}

/// A delimiter that cannot be told from quotes or line breaks is refused.
fn check_dialect(options: &CsvOptions) -> Result<(), IoError> {
    if matches!(options.delimiter, b'"' | b'\r' | b'\n') {
        return Err(IoError::InvalidOption(format!(
            "the delimiter {:?} cannot be a quote or a line break",
            options.delimiter as char
        )));
    }
    if options.partition_bytes == Some(0) {
        return Err(IoError::InvalidOption(
            "partition_bytes must be at least 1".to_owned(),
        ));
    }
    Ok(())
}

/// Reads the start of `file`: its header (or first row) and, when
/// inferring, the types of its first rows and of rows spread across it.
/// Without a header, `width` (when known) is the number of fields every
/// row must have.
fn sample(
    file: &InputSplit,
    options: &CsvOptions,
    infer: bool,
    width: Option<usize>,
) -> Result<Sample, IoError> {
    let want_rows = if infer { options.infer_rows.max(1) } else { 0 };
    // Enough lines for the header and the rows (more when quoted fields
    // hold line breaks: then the sample is a little shorter).
    let want_lines = want_rows + 1;
    let mut text = Vec::new();
    // The file offset of each line of `text`.
    let mut offsets = Vec::new();
    let mut complete = true;
    for (n, line) in LineReader::with_buffer_size(SAMPLE_BUFFER)
        .lines(file)?
        .enumerate()
    {
        let line = line?;
        offsets.push(line.offset());
        if n == want_lines {
            complete = false;
            break;
        }
        text.extend_from_slice(line.bytes());
        text.push(b'\n');
    }
    let path = file.path();
    let delimiter = options.delimiter;
    let mut at = if text.starts_with(BOM) { BOM.len() } else { 0 };
    let mut record = Record::default();
    let unclosed = |at: usize, text: &[u8]| IoError::UnclosedQuote {
        path: path.to_path_buf(),
        line: line_of(text, at),
    };
    let mut first: Option<Vec<String>> = None;
    let mut types = Vec::new();
    let (mut rows, mut bytes) = (0, 0);
    let mut lines: Option<(usize, usize)> = None;
    if let Some(width) = width {
        // No header: the names are not needed here, only the width.
        first = Some((0..width).map(|i| headerless_name(options, i)).collect());
        types = vec![Inferred::Null; width];
    }
    while at < text.len() {
        // The header is the first line, even an empty one.
        let header = options.has_header && first.is_none();
        let blank = blank_line(&text, at);
        if blank > 0 && !header {
            at += blank;
            continue;
        }
        let next = match next_record(&text, at, delimiter, &mut record) {
            Ok(next) => next,
            // The sample may end inside a quoted line break: stop there.
            Err(Unclosed) if !complete => break,
            Err(Unclosed) => return Err(unclosed(at, &text)),
        };
        let fields: Vec<&[u8]> = (0..record.len()).map(|i| record.field(&text, i)).collect();
        match &first {
            None => {
                if header && options.column_names.is_none() {
                    check_header_utf8(path, &text, at, &fields)?;
                }
                first = Some(match header {
                    true => fields.iter().map(|f| lossy(f)).collect::<Vec<_>>(),
                    false => (0..fields.len())
                        .map(|i| headerless_name(options, i))
                        .collect(),
                });
                types = vec![Inferred::Null; fields.len()];
                if header {
                    at = next;
                    continue;
                }
            }
            Some(_) if fields.len() != types.len() && options.skip_bad_records => {
                // Skipped when read; not part of the sample.
                at = next;
                continue;
            }
            Some(first) if fields.len() != first.len() => {
                return Err(IoError::FieldCount {
                    path: path.to_path_buf(),
                    line: line_of(&text, at),
                    expected: first.len(),
                    found: fields.len(),
                    column: first.get(fields.len()).cloned().unwrap_or_default(),
                    column_index: fields.len().min(first.len()) + 1,
                    record: super::super::error::snippet(line_at(&text, at)),
                })
            }
            Some(_) => {}
        }
        if rows == want_rows {
            break;
        }
        lines = Some((lines.map_or(at, |(a, _)| a), at));
        if infer {
            for (t, field) in types.iter_mut().zip(&fields) {
                if !options_null(options, field) {
                    *t = t.join(Inferred::of(field));
                }
            }
        }
        rows += 1;
        bytes += next - at;
        at = next;
    }
    let mut spread = 0;
    if infer && options.infer_spread && !complete {
        // Past the rows read: the file offset of the line at `at`.
        let line = text[..at.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        let from = offsets.get(line).copied().unwrap_or(file.end());
        let per_row = bytes.checked_div(rows).unwrap_or(64);
        spread = sample_across(file, from, want_rows, per_row, options, &mut types)?;
    }
    Ok(Sample {
        path: path.to_path_buf(),
        first: first.unwrap_or_default(),
        types,
        rows,
        bytes,
        lines: lines.map(|(a, b)| (line_of(&text, a), line_of(&text, b))),
        spread,
    })
}

/// The name of column `i` of a file without a header.
fn headerless_name(options: &CsvOptions, i: usize) -> String {
    options
        .column_names
        .as_ref()
        .and_then(|names| names.get(i).cloned())
        .unwrap_or_else(|| format!("column_{}", i + 1))
}

/// A header must be UTF-8 to give column names: the error names the
/// first field that is not, and the byte in the line.
fn check_header_utf8(path: &Path, text: &[u8], at: usize, fields: &[&[u8]]) -> Result<(), IoError> {
    let Some(column) = fields.iter().position(|f| std::str::from_utf8(f).is_err()) else {
        return Ok(());
    };
    let line = line_at(text, at);
    let byte = match std::str::from_utf8(line) {
        Err(e) => at + e.valid_up_to() + 1,
        Ok(_) => at + 1,
    };
    Err(IoError::HeaderNotUtf8 {
        path: path.to_path_buf(),
        line: line_of(text, at),
        column_index: column + 1,
        byte,
        header: super::super::error::snippet(line),
    })
}

fn options_null(options: &CsvOptions, field: &[u8]) -> bool {
    options.null_values.iter().any(|t| t.as_bytes() == field)
}

/// A field as text for names and messages.
fn lossy(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

/// The 1-based line of byte `at` of a sample (which starts at the file's
/// first byte).
fn line_of(text: &[u8], at: usize) -> u64 {
    text[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// The line starting at `at`, without its line break.
fn line_at(text: &[u8], at: usize) -> &[u8] {
    let rest = &text[at..];
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end])
}

/// Every file must have the first file's header. Files without a single
/// line do not count. (Without headers, the width of every row was checked
/// when sampling.)
fn check_same_header(samples: &[Sample], has_header: bool) -> Result<(), IoError> {
    if !has_header {
        return Ok(());
    }
    let mut with_data = samples.iter().filter(|s| !s.first.is_empty());
    let Some(reference) = with_data.next() else {
        return Ok(());
    };
    for other in with_data {
        if other.first != reference.first {
            return Err(IoError::HeaderMismatch {
                first: reference.path.clone(),
                first_header: reference.first.clone(),
                other: other.path.clone(),
                other_header: other.first.clone(),
            });
        }
    }
    Ok(())
}

/// The names of the file's columns: the options' names, else the header's
/// (an empty name becomes `column_<i>`), else `column_1`, `column_2`, …
fn column_names(
    options: &CsvOptions,
    first: Option<&Sample>,
    width: usize,
) -> Result<Vec<String>, IoError> {
    let generated = |i: usize| format!("column_{}", i + 1);
    let count_error = |given: usize| IoError::ColumnCount {
        path: first.map_or_else(|| PathBuf::from("options"), |s| s.path.clone()),
        given,
        found: first.map_or(width, |s| s.first.len()),
    };
    if let Some(first) = first.filter(|s| !s.first.is_empty()) {
        if first.first.len() != width {
            return Err(count_error(width));
        }
    }
    let names: Vec<String> = if let Some(schema) = &options.schema {
        if let Some(given) = &options.column_names {
            if given.len() != width {
                return Err(count_error(given.len()));
            }
        }
        schema.fields().iter().map(|f| f.name().clone()).collect()
    } else if let Some(given) = &options.column_names {
        if given.len() != width {
            return Err(count_error(given.len()));
        }
        given.clone()
    } else if options.has_header {
        let header = first.map(|s| s.first.clone()).unwrap_or_default();
        header
            .into_iter()
            .enumerate()
            .map(|(i, name)| if name.is_empty() { generated(i) } else { name })
            .collect()
    } else {
        (0..width).map(generated).collect()
    };
    let mut seen = HashSet::new();
    for name in &names {
        if !seen.insert(name.as_str()) {
            let path = match (&options.column_names, &options.schema, first) {
                (None, None, Some(s)) => s.path.clone(),
                _ => PathBuf::from("options"),
            };
            return Err(IoError::DuplicateColumn {
                path,
                column: name.clone(),
            });
        }
    }
    Ok(names)
}

/// The inferred types, merged across files, each with where it came from:
/// numeric and temporal widening is fine, any other difference is a
/// [`IoError::SchemaMismatch`] naming the file that set the type and the
/// one that differs — except for columns whose type the options set, and
/// columns not read (`projection`).
fn merge_types(
    samples: &[Sample],
    names: &[String],
    overrides: &[(String, DataType)],
    projection: &[usize],
) -> Result<Vec<(Inferred, String)>, IoError> {
    // Per column: the type, the sample that set it, how many more agreed.
    let mut merged: Vec<(Inferred, Option<&Sample>, usize)> =
        vec![(Inferred::Null, None, 0); names.len()];
    for sample in samples {
        for (j, &t) in sample.types.iter().enumerate() {
            let Some((current, from, more)) = merged.get_mut(j) else {
                continue;
            };
            if t == Inferred::Null || overrides.iter().any(|(name, _)| *name == names[j]) {
                continue;
            }
            match from {
                None => {
                    *current = t;
                    *from = Some(sample);
                }
                Some(first) => {
                    if !current.compatible(t) && projection.contains(&j) {
                        return Err(IoError::SchemaMismatch {
                            first: first.path.clone(),
                            other: sample.path.clone(),
                            column: names[j].clone(),
                            first_type: current.data_type().to_string(),
                            other_type: t.data_type().to_string(),
                        });
                    }
                    *current = current.join(t);
                    *more += 1;
                }
            }
        }
    }
    Ok(merged
        .into_iter()
        .map(|(t, from, more)| {
            let origin = match from {
                None => format!(
                    "inferred as {} because {} had no value for it",
                    t.data_type(),
                    rows_read_of(samples)
                ),
                Some(sample) => {
                    let others = match more {
                        0 => String::new(),
                        1 => " and the sample of 1 other file".to_owned(),
                        n => format!(" and the samples of {n} other files"),
                    };
                    format!(
                        "inferred as {} from {}{others}",
                        t.data_type(),
                        sample.rows_read()
                    )
                }
            };
            (t, origin)
        })
        .collect())
}

/// The rows inference read, for a column no sample had a value for.
fn rows_read_of(samples: &[Sample]) -> String {
    match samples {
        [one] => one.rows_read(),
        many => format!("the samples of {} files", many.len()),
    }
}

/// The position of column `name`.
fn position(names: &[String], name: &str) -> Result<usize, IoError> {
    names
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| IoError::UnknownColumn {
            column: name.to_owned(),
            available: names.to_vec(),
        })
}

/// The file columns read, in output order.
fn projection(options: &CsvOptions, names: &[String]) -> Result<Vec<usize>, IoError> {
    let Some(columns) = &options.columns else {
        return Ok((0..names.len()).collect());
    };
    let mut projection = Vec::with_capacity(columns.len());
    for name in columns {
        let j = position(names, name)?;
        if projection.contains(&j) {
            return Err(IoError::DuplicateColumn {
                path: PathBuf::from("options"),
                column: name.clone(),
            });
        }
        projection.push(j);
    }
    Ok(projection)
}
