//! The one error type of reading and writing partitions.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_schema::{ArrowError, DataType};
use parquet::errors::ParquetError;

use flotilla_data::split::InputError;

/// Why a source could not be planned, a partition read, or a part written.
///
/// Errors about data name the file and the 1-based line (absolute in the
/// file, whatever partition found it), the column by name and 1-based
/// position, and show the offending text, truncated to 80 characters.
/// Errors of planning name every file involved.
///
/// ```
/// use flotilla_dataframe::io::{CsvOptions, CsvSource, IoError};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-ioerror-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("t.csv");
/// std::fs::write(&file, "id,temp\n1,20.5\n2,hot\n")?;
///
/// let source = CsvSource::plan(&[file.to_str().unwrap()], CsvOptions::new().infer_rows(1).infer_spread(false))?;
/// let err = source.read_partition(0).unwrap_err();
/// match &err {
///     IoError::BadValue { line, column, column_index, value, .. } => {
///         assert_eq!((*line, column.as_str(), *column_index, value.as_str()), (3, "temp", 2, "hot"));
///     }
///     other => panic!("unexpected {other}"),
/// }
/// assert!(err.to_string().contains("t.csv:3: column 2 (temp)"));
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// The inputs could not be listed or read (no match, missing file,
    /// unreadable file, corrupt gzip stream).
    #[error(transparent)]
    Input(#[from] InputError),
    /// A file or folder could not be read, written, renamed or removed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A value that does not parse as its column's type. The message says
    /// where the type came from (which rows of which file it was inferred
    /// from, or the options) and how to read the value: as a null
    /// ([`CsvOptions::add_null_values`](super::CsvOptions::add_null_values),
    /// for a marker of a missing value), with another type
    /// ([`CsvOptions::dtype`](super::CsvOptions::dtype)), or as a null
    /// whatever it is ([`CsvOptions::bad_values_as_null`](super::CsvOptions::bad_values_as_null)).
    #[error(
        "{path}:{line}: column {column_index} ({column}): {value:?} is not a valid {data_type}: \
         the column's type was {origin}; {}",
        super::csv::hint(column, data_type, value.as_bytes())
    )]
    BadValue {
        /// The file.
        path: PathBuf,
        /// 1-based line of the record in the file.
        line: u64,
        /// The column's name.
        column: String,
        /// The column's 1-based position in the file.
        column_index: usize,
        /// The column's type.
        data_type: DataType,
        /// The value, truncated to 80 characters.
        value: String,
        /// Where the column's type came from: `inferred as Int64 from lines
        /// 2–1001 of FILE …`, or `set in the options`.
        origin: Arc<String>,
    },
    /// A record with fewer or more fields than the file has columns.
    #[error(
        "{path}:{line}: expected {expected} fields but found {found}; {}: {record:?} \
         (skip such records with CsvOptions::skip_bad_records(true))",
        describe_field_count(*expected, *found, column, *column_index)
    )]
    FieldCount {
        /// The file.
        path: PathBuf,
        /// 1-based line of the record in the file.
        line: u64,
        /// Columns the file has.
        expected: usize,
        /// Fields the record has.
        found: usize,
        /// The first missing column's name, or empty for an extra field.
        column: String,
        /// 1-based position of the first missing column, or of the first
        /// extra field.
        column_index: usize,
        /// The record, truncated to 80 characters.
        record: String,
    },
    /// A text value that is not UTF-8.
    #[error("{path}:{line}: column {column_index} ({column}): invalid UTF-8: {value:?}")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the record in the file.
        line: u64,
        /// The column's name.
        column: String,
        /// The column's 1-based position in the file.
        column_index: usize,
        /// The value, invalid bytes replaced by U+FFFD, truncated.
        value: String,
    },
    /// A header (the first line of a file read with a header) that is
    /// not UTF-8: its names cannot be column names.
    #[error(
        "{path}:{line}: the header is not UTF-8 (column {column_index}, byte {byte} of the line): \
         {header:?}; convert the file to UTF-8, or name the columns with CsvOptions::column_names"
    )]
    HeaderNotUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the header in the file.
        line: u64,
        /// 1-based position of the first column whose name is not UTF-8.
        column_index: usize,
        /// 1-based position, in the line, of the first byte that is not
        /// UTF-8.
        byte: usize,
        /// The header, invalid bytes replaced by U+FFFD, truncated.
        header: String,
    },
    /// A quoted field still open at the end of the partition. Fields holding
    /// line breaks inside quotes must not straddle two partitions.
    #[error(
        "{path}:{line}: quoted field not closed before the end of the partition \
         (a quoted field with a line break may not cross a partition boundary: \
         use a larger partition_bytes)"
    )]
    UnclosedQuote {
        /// The file.
        path: PathBuf,
        /// 1-based line where the record starts.
        line: u64,
    },
    /// A JSON line that does not decode with the source's schema.
    #[error("{path}:{line}: {message}: {record:?}")]
    BadJson {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file.
        line: u64,
        /// What the decoder said.
        message: String,
        /// The line, truncated to 80 characters.
        record: String,
    },
    /// Two files of one source have different headers. (Files without
    /// headers whose rows differ in width are a
    /// [`FieldCount`](IoError::FieldCount) error, naming the row.)
    #[error(
        "{other} does not have the header of {first}: {other_header:?} instead of {first_header:?}"
    )]
    HeaderMismatch {
        /// The file that set the header.
        first: PathBuf,
        /// Its column names.
        first_header: Vec<String>,
        /// The file that differs.
        other: PathBuf,
        /// Its column names.
        other_header: Vec<String>,
    },
    /// Two files of one source give one column different types.
    #[error(
        "column {column:?} is {first_type} in {first} but {other_type} in {other} \
         (if a word in one of them marks a missing value, read it as null with \
         CsvOptions::add_null_values; else set the column's type with CsvOptions::dtype)"
    )]
    SchemaMismatch {
        /// The file that set the type.
        first: PathBuf,
        /// The file that differs.
        other: PathBuf,
        /// The column, or a description of what differs.
        column: String,
        /// The type in `first`.
        first_type: String,
        /// The type in `other`.
        other_type: String,
    },
    /// A column name given in the options is not a column of the data.
    #[error("no column named {column:?} (columns: {available:?})")]
    UnknownColumn {
        /// The name asked for.
        column: String,
        /// The columns there are.
        available: Vec<String>,
    },
    /// Two columns of a header (or of the options) have the same name.
    #[error("{path}: column name {column:?} appears twice")]
    DuplicateColumn {
        /// The file, or `options` for names given in the options.
        path: PathBuf,
        /// The repeated name.
        column: String,
    },
    /// Column names or a schema given in the options do not match the
    /// number of fields of the files.
    #[error("{path} has {found} columns but the options name {given}")]
    ColumnCount {
        /// The file.
        path: PathBuf,
        /// Columns named in the options.
        given: usize,
        /// Fields in the file's first line.
        found: usize,
    },
    /// No file has a line to take a header or a schema from, and no schema
    /// was given.
    #[error("no data to infer a schema from in {inputs:?} (give one with CsvOptions::schema)")]
    NoData {
        /// The inputs as given.
        inputs: Vec<String>,
    },
    /// A column type the reader cannot parse from text.
    #[error("column {column:?}: reading {data_type} from text is not supported")]
    UnsupportedType {
        /// The column.
        column: String,
        /// Its type.
        data_type: DataType,
    },
    /// An option with an unusable value (a zero partition size, a
    /// delimiter that is a quote or a line break).
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A partition index past the last partition.
    #[error("partition {index} does not exist (the source has {partitions})")]
    NoSuchPartition {
        /// The index asked for.
        index: usize,
        /// How many partitions there are.
        partitions: usize,
    },
    /// Text of one column of one partition past 2 GiB, the limit of an
    /// Arrow `Utf8` array.
    #[error("{path}: column {column:?} holds over 2 GiB of text in one partition (use a smaller partition_bytes)")]
    TextTooLarge {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
    },
    /// Arrow could not build or encode a batch.
    #[error("{path}: {source}")]
    Arrow {
        /// The file read or written.
        path: PathBuf,
        /// Arrow's error.
        source: ArrowError,
    },
    /// A Parquet file could not be read or written.
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The Parquet error.
        source: ParquetError,
    },
    /// The output folder could not be used, written or committed (see
    /// [`flotilla_data::output`] for the rule every output folder follows).
    #[error(transparent)]
    Output(#[from] flotilla_data::output::OutputError),
}

impl IoError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> IoError {
        IoError::Io {
            path: path.into(),
            source,
        }
    }
}

fn describe_field_count(expected: usize, found: usize, column: &str, index: usize) -> String {
    if found < expected {
        format!("column {index} ({column}) is missing")
    } else {
        format!("field {index} is extra")
    }
}

/// The start of `bytes` as text for a message: at most 80 characters,
/// invalid UTF-8 replaced, `…` added when cut.
pub(crate) fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut chars = text.char_indices();
    match chars.nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}
