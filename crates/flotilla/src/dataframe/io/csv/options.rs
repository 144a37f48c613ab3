//! The settings of a CSV source, as a builder.

use arrow_schema::{DataType, SchemaRef};

/// How to read CSV inputs: dialect, header, schema, nulls, partitioning.
///
/// | setting | default |
/// |---------|---------|
/// | [`delimiter`](Self::delimiter) | `b','` |
/// | [`has_header`](Self::has_header) | `true` |
/// | [`column_names`](Self::column_names) | from the header, else `column_1`, `column_2`, … |
/// | [`schema`](Self::schema) | inferred from the first [`infer_rows`](Self::infer_rows) rows of each file |
/// | [`infer_rows`](Self::infer_rows) | 1000 |
/// | [`dtype`](Self::dtype) | none |
/// | [`null_values`](Self::null_values) | the empty field |
/// | [`bad_values_as_null`](Self::bad_values_as_null) | `false`: a bad value is an error |
/// | [`partition_bytes`](Self::partition_bytes) | input size / (4 × threads), within 1..=64 MiB |
/// | [`columns`](Self::columns) | all, in file order |
///
/// ```
/// use arrow_schema::DataType;
/// use flotilla::dataframe::io::CsvOptions;
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

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            has_header: true,
            column_names: None,
            schema: None,
            dtypes: Vec::new(),
            infer_rows: 1000,
            null_values: vec![String::new()],
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
    /// let options = flotilla::dataframe::io::CsvOptions::new();
    /// ```
    pub fn new() -> CsvOptions {
        CsvOptions::default()
    }

    /// The field delimiter (`b'\t'` for TSV). It may not be `"`, `\r` or
    /// `\n`.
    ///
    /// ```
    /// let tsv = flotilla::dataframe::io::CsvOptions::new().delimiter(b'\t');
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
    /// let headerless = flotilla::dataframe::io::CsvOptions::new().has_header(false);
    /// ```
    pub fn has_header(mut self, has_header: bool) -> CsvOptions {
        self.has_header = has_header;
        self
    }

    /// The column names: for files without a header, or to rename the
    /// header's columns. There must be one per field.
    ///
    /// ```
    /// let options = flotilla::dataframe::io::CsvOptions::new()
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
    /// use arrow_schema::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("station_id", DataType::Int64, true),
    ///     Field::new("temperature", DataType::Float64, true),
    /// ]));
    /// let options = flotilla::dataframe::io::CsvOptions::new().schema(schema);
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
    /// use arrow_schema::DataType;
    /// let options = flotilla::dataframe::io::CsvOptions::new().dtype("zip", DataType::Utf8);
    /// ```
    pub fn dtype(mut self, name: impl Into<String>, data_type: DataType) -> CsvOptions {
        self.dtypes.push((name.into(), data_type));
        self
    }

    /// How many rows of each file inference looks at (default 1000; at
    /// least 1 is read).
    ///
    /// ```
    /// let options = flotilla::dataframe::io::CsvOptions::new().infer_rows(10_000);
    /// ```
    pub fn infer_rows(mut self, rows: usize) -> CsvOptions {
        self.infer_rows = rows;
        self
    }

    /// The field texts read as null, replacing the default (the empty
    /// field only). Include `""` to keep empty fields null.
    ///
    /// ```
    /// let options = flotilla::dataframe::io::CsvOptions::new().null_values(["", "NA", "null"]);
    /// ```
    pub fn null_values<I, S>(mut self, tokens: I) -> CsvOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.null_values = tokens.into_iter().map(Into::into).collect();
        self
    }

    /// Whether a value that does not parse as its column's type becomes a
    /// null (counted: see [`CsvSource::read_partition_with_stats`](super::CsvSource::read_partition_with_stats))
    /// instead of failing the partition. A record with the wrong number of
    /// fields is an error either way.
    ///
    /// ```
    /// let lenient = flotilla::dataframe::io::CsvOptions::new().bad_values_as_null(true);
    /// ```
    pub fn bad_values_as_null(mut self, yes: bool) -> CsvOptions {
        self.bad_values_as_null = yes;
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
    /// let options = flotilla::dataframe::io::CsvOptions::new().memory_budget(256 << 20);
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
    /// let options = flotilla::dataframe::io::CsvOptions::new().partition_bytes(16 << 20);
    /// ```
    pub fn partition_bytes(mut self, bytes: u64) -> CsvOptions {
        self.partition_bytes = Some(bytes);
        self
    }

    /// Read only these columns, in this order. The others are skipped
    /// without being parsed.
    ///
    /// ```
    /// let options = flotilla::dataframe::io::CsvOptions::new().columns(["temperature"]);
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
