//! The settings of a CSV source, as a builder.

use arrow_schema::{DataType, SchemaRef};

/// How to read CSV inputs: dialect, header, schema, nulls, partitioning.
///
/// | setting | default |
/// |---------|---------|
/// | [`delimiter`](Self::delimiter) | `b','` |
/// | [`has_header`](Self::has_header) | `true` |
/// | [`column_names`](Self::column_names) | from the header, else `column_1`, `column_2`, … |
/// | [`schema`](Self::schema) | inferred from the first [`infer_rows`](Self::infer_rows) rows of each file and as many spread across it |
/// | [`infer_rows`](Self::infer_rows) | 1000 |
/// | [`infer_spread`](Self::infer_spread) | `true` |
/// | [`dtype`](Self::dtype) | none |
/// | [`null_values`](Self::null_values) | [`DEFAULT_NULL_VALUES`]: the empty field, `NA`, `N/A`, `n/a`, `#N/A`, `null`, `NULL`, `None`, `NaN`, `nan` |
/// | [`bad_values_as_null`](Self::bad_values_as_null) | `false`: a bad value is an error |
/// | [`skip_bad_records`](Self::skip_bad_records) | `false`: a record with the wrong number of fields is an error |
/// | [`partition_bytes`](Self::partition_bytes) | input size / (4 × threads), within 1..=64 MiB |
/// | [`columns`](Self::columns) | all, in file order |
///
/// ```
/// use flotilla_dataframe::arrow::schema::DataType;
/// use flotilla_dataframe::io::CsvOptions;
///
/// let ratings = CsvOptions::new()
///     .delimiter(b'\t')
///     .has_header(false)
///     .column_names(["user_id", "item_id", "rating", "timestamp"])
///     .dtype("rating", DataType::Float64)
///     .columns(["item_id", "rating"])
///     .partition_bytes(32 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub(super) infer_spread: bool,
    pub(super) skip_bad_records: bool,
    pub(super) delimiter: u8,
    pub(super) has_header: bool,
    pub(super) column_names: Option<Vec<String>>,
    pub(super) schema: Option<SchemaRef>,
    pub(super) dtypes: Vec<(String, DataType)>,
    pub(super) infer_rows: usize,
    pub(super) null_values: Vec<String>,
    pub(super) bad_values_as_null: bool,
    pub(super) partition_bytes: Option<u64>,
    /// Bytes per partition derived from a memory budget.
    pub(super) budget_partition_bytes: Option<u64>,
    pub(super) columns: Option<Vec<String>>,
}

/// The field texts read as null unless
/// [`null_values`](CsvOptions::null_values) replaces them: the usual
/// spellings of a missing value in R, pandas, spreadsheets and databases
/// (pandas' defaults, less its rare ones). `NaN` is among them, as in
/// pandas: a float column's `NaN` is a null, skipped by `mean` and `sum`,
/// not the floating-point NaN that would make them NaN. Whatever the
/// column's type, a field equal to one of them is null.
///
/// ```
/// use flotilla_dataframe::io::DEFAULT_NULL_VALUES;
/// assert!(DEFAULT_NULL_VALUES.contains(&"NA") && DEFAULT_NULL_VALUES.contains(&""));
/// ```
pub const DEFAULT_NULL_VALUES: [&str; 10] = [
    "", "NA", "N/A", "n/a", "#N/A", "null", "NULL", "None", "NaN", "nan",
];

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            has_header: true,
            column_names: None,
            schema: None,
            dtypes: Vec::new(),
            infer_rows: 1000,
            infer_spread: true,
            skip_bad_records: false,
            null_values: DEFAULT_NULL_VALUES.iter().map(|t| t.to_string()).collect(),
            bad_values_as_null: false,
            partition_bytes: None,
            budget_partition_bytes: None,
            columns: None,
        }
    }
}

impl CsvOptions {
    /// The defaults: comma-separated, with a header, types inferred.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::CsvOptions::new();
    /// ```
    pub fn new() -> CsvOptions {
        CsvOptions::default()
    }

    /// The field delimiter (`b'\t'` for TSV). It may not be `"`, `\r` or
    /// `\n`.
    ///
    /// ```
    /// let tsv = flotilla_dataframe::io::CsvOptions::new().delimiter(b'\t');
    /// ```
    pub fn delimiter(mut self, delimiter: u8) -> CsvOptions {
        self.delimiter = delimiter;
        self
    }

    /// Whether the first line of each file is a header (default `true`).
    /// The header is skipped by the partition starting at the file's first
    /// byte only.
    ///
    /// ```
    /// let headerless = flotilla_dataframe::io::CsvOptions::new().has_header(false);
    /// ```
    pub fn has_header(mut self, has_header: bool) -> CsvOptions {
        self.has_header = has_header;
        self
    }

    /// The column names: for files without a header, or to rename the
    /// header's columns. There must be one per field.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::CsvOptions::new()
    ///     .has_header(false)
    ///     .column_names(["station_id", "temperature"]);
    /// ```
    pub fn column_names<I, S>(mut self, names: I) -> CsvOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.column_names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The schema of the files, one field per column in file order: no
    /// inference. Its names win over the header's (whose number of columns
    /// must match). Nullability is not enforced: a null token gives a null.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("station_id", DataType::Int64, true),
    ///     Field::new("temperature", DataType::Float64, true),
    /// ]));
    /// let options = flotilla_dataframe::io::CsvOptions::new().schema(schema);
    /// ```
    pub fn schema(mut self, schema: SchemaRef) -> CsvOptions {
        self.schema = Some(schema);
        self
    }

    /// The type of column `name`, instead of the inferred (or given) one.
    /// Supported: integers and floats of every width, `Boolean`, `Utf8`
    /// (`LargeUtf8`, `Utf8View`), dates, timestamps, times, durations.
    ///
    /// ```
    /// use flotilla_dataframe::arrow::schema::DataType;
    /// let options = flotilla_dataframe::io::CsvOptions::new().dtype("zip", DataType::Utf8);
    /// ```
    pub fn dtype(mut self, name: impl Into<String>, data_type: DataType) -> CsvOptions {
        self.dtypes.push((name.into(), data_type));
        self
    }

    /// How many rows of each file inference looks at from its start
    /// (default 1000; at least 1 is read); as many more are read spread
    /// across the rest of the file unless
    /// [`infer_spread`](Self::infer_spread) is off.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::CsvOptions::new().infer_rows(10_000);
    /// ```
    pub fn infer_rows(mut self, rows: usize) -> CsvOptions {
        self.infer_rows = rows;
        self
    }

    /// Whether inference also reads [`infer_rows`](Self::infer_rows) rows
    /// spread over ten places across each file, past its first rows
    /// (default `true`; gzip files are only read from their start). A
    /// column whose first rows are all missing, or all integers, is then
    /// typed by values from its whole length. A value that still does not
    /// fit the inferred type is an error saying which rows decided it.
    ///
    /// ```
    /// // Type columns by the first rows only.
    /// let options = flotilla_dataframe::io::CsvOptions::new().infer_spread(false);
    /// ```
    pub fn infer_spread(mut self, yes: bool) -> CsvOptions {
        self.infer_spread = yes;
        self
    }

    /// The field texts read as null, replacing the defaults
    /// ([`DEFAULT_NULL_VALUES`]): `null_values([""])` keeps only the
    /// empty field, `null_values(Vec::<String>::new())` reads every field
    /// as a value. Use [`add_null_values`](Self::add_null_values) to keep
    /// the defaults.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::CsvOptions::new().null_values(["", "NA"]);
    /// ```
    pub fn null_values<I, S>(mut self, tokens: I) -> CsvOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.null_values = tokens.into_iter().map(Into::into).collect();
        self
    }

    /// More field texts read as null, besides the current ones (the
    /// defaults, [`DEFAULT_NULL_VALUES`], unless replaced).
    ///
    /// ```
    /// // `?` and `-999` are missing too.
    /// let options = flotilla_dataframe::io::CsvOptions::new().add_null_values(["?", "-999"]);
    /// ```
    pub fn add_null_values<I, S>(mut self, tokens: I) -> CsvOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.null_values.extend(tokens.into_iter().map(Into::into));
        self
    }

    /// Whether a value that does not parse as its column's type becomes a
    /// null (counted: see [`CsvSource::read_partition_with_stats`](super::CsvSource::read_partition_with_stats))
    /// instead of failing the partition. A record with the wrong number of
    /// fields is not a bad value: see [`skip_bad_records`](Self::skip_bad_records).
    ///
    /// ```
    /// let lenient = flotilla_dataframe::io::CsvOptions::new().bad_values_as_null(true);
    /// ```
    pub fn bad_values_as_null(mut self, yes: bool) -> CsvOptions {
        self.bad_values_as_null = yes;
        self
    }

    /// Whether a record with more or fewer fields than the file has
    /// columns is skipped instead of failing the read. Skipped records are
    /// counted ([`ReadStats::bad_records`](super::ReadStats::bad_records))
    /// and sampled with their file and line
    /// ([`CsvSource::bad_records`](super::CsvSource::bad_records)), as
    /// MapReduce jobs skip bad records. To see the report of a frame,
    /// make it from the source with
    /// [`DataFrame::from_csv_source`](crate::DataFrame::from_csv_source).
    ///
    /// ```
    /// let lenient = flotilla_dataframe::io::CsvOptions::new().skip_bad_records(true);
    /// ```
    pub fn skip_bad_records(mut self, yes: bool) -> CsvOptions {
        self.skip_bad_records = yes;
        self
    }

    /// Sizes partitions so that reading and aggregating the input stays
    /// within about `bytes` of memory: a partition is read by the task that
    /// uses it and released when that task ends, so at most one partition
    /// per thread is alive; each is given an eighth of the budget per
    /// thread (its raw bytes and its parsed columns together take about
    /// three times its size). An explicit
    /// [`partition_bytes`](Self::partition_bytes) wins over this.
    ///
    /// ```
    /// // Aggregate a 10 GB file with about 256 MiB of memory.
    /// let options = flotilla_dataframe::io::CsvOptions::new().memory_budget(256 << 20);
    /// ```
    pub fn memory_budget(mut self, bytes: u64) -> CsvOptions {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        if self.partition_bytes.is_none() {
            self.budget_partition_bytes = Some((bytes / (8 * threads)).max(4096));
        }
        self
    }

    /// Bytes per partition (a gzip file is one partition whatever its
    /// size). Default: the inputs' total size over four partitions per
    /// available thread, within 1 MiB and 64 MiB.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::CsvOptions::new().partition_bytes(16 << 20);
    /// ```
    pub fn partition_bytes(mut self, bytes: u64) -> CsvOptions {
        self.partition_bytes = Some(bytes);
        self
    }

    /// Read only these columns, in this order. The others are skipped
    /// without being parsed.
    ///
    /// ```
    /// let options = flotilla_dataframe::io::CsvOptions::new().columns(["temperature"]);
    /// ```
    pub fn columns<I, S>(mut self, names: I) -> CsvOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns = Some(names.into_iter().map(Into::into).collect());
        self
    }
}
