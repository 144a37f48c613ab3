//! DataFrame input and output by partition: every partitioning of a file
//! reads the same rows as reading it whole; headers, inference, overrides,
//! nulls; every bad input reported with its file, line and column;
//! mismatched files refused at planning; gzip; Parquet and JSON lines;
//! the output folder's commit protocol.

mod common;
use common::names_in;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use flotilla::core::rng::Rng;
use flotilla::dataframe::io::{
    CsvOptions, CsvSource, CsvWriteOptions, IoError, JsonOptions, JsonSource, OutputDir,
    ParquetOptions, ParquetSource, ParquetWriteOptions, WriteArrowParts,
};
use flotilla::output::{OutputError, WriteMode};
use flotilla::CpuPool;

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "flotilla-dfio-{name}-{}-{unique}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Every partition of `source`, concatenated.
fn read_all(source: &CsvSource) -> RecordBatch {
    let batches: Vec<RecordBatch> = (0..source.partitions())
        .map(|i| source.read_partition(i).unwrap())
        .collect();
    arrow_select::concat::concat_batches(&source.schema(), &batches).unwrap()
}

fn plan(inputs: &[&str], options: CsvOptions) -> CsvSource {
    CsvSource::plan(inputs, options).unwrap_or_else(|e| panic!("plan: {e}"))
}

fn ints(array: &ArrayRef) -> Vec<Option<i64>> {
    array
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .iter()
        .collect()
}

fn floats(array: &ArrayRef) -> Vec<Option<f64>> {
    array
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .iter()
        .collect()
}

fn texts(array: &ArrayRef) -> Vec<Option<String>> {
    array
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .iter()
        .map(|s| s.map(str::to_owned))
        .collect()
}

/// (id, score, name) of one record.
type Expected = (i64, Option<f64>, Option<String>);

/// A CSV of `rows` random records with every feature the parser knows:
/// quoted fields with delimiters and doubled quotes, empty fields, CRLF
/// and LF line ends, blank lines, no line end at the end. Returns the
/// text and the expected (id, score, name) per record.
fn random_csv(rng: &mut Rng, rows: usize) -> (String, Vec<Expected>) {
    let names = ["ann", "bo, jr", "say \"hi\"", "", "x", "émile"];
    let mut text = String::from("id,score,name\r\n");
    let mut expected = Vec::new();
    for i in 0..rows {
        if rng.below(10) == 0 {
            text.push('\n');
        }
        let id = rng.below(2_000_000) as i64 - 1_000_000;
        let score = match rng.below(5) {
            0 => None,
            _ => Some(format!("{:.6}", rng.uniform_f64() * 60.0 - 10.0)),
        };
        let name = names[rng.below(names.len())];
        text.push_str(&id.to_string());
        text.push(',');
        text.push_str(score.as_deref().unwrap_or(""));
        text.push(',');
        if name.contains(',') || name.contains('"') || rng.below(6) == 0 {
            text.push('"');
            text.push_str(&name.replace('"', "\"\""));
            text.push('"');
        } else {
            text.push_str(name);
        }
        if i + 1 < rows || rng.below(2) == 0 {
            text.push_str(if rng.below(3) == 0 { "\r\n" } else { "\n" });
        }
        expected.push((
            id,
            score.map(|s| s.parse().unwrap()),
            (!name.is_empty()).then(|| name.to_owned()),
        ));
    }
    (text, expected)
}

#[test]
fn every_partitioning_reads_the_rows_of_the_whole_file() {
    let dir = TempDir::new("partitionings");
    let mut rng = Rng::seed(42);
    for round in 0..4 {
        let (text, expected) = random_csv(&mut rng, 30 + round * 20);
        let file = dir.file(&format!("r{round}.csv"), &text);
        let whole = read_all(&plan(&[&file], CsvOptions::new().partition_bytes(u64::MAX)));
        assert_eq!(whole.num_rows(), expected.len());
        assert_eq!(
            ints(whole.column(0)),
            expected.iter().map(|e| Some(e.0)).collect::<Vec<_>>()
        );
        assert_eq!(
            floats(whole.column(1)),
            expected.iter().map(|e| e.1).collect::<Vec<_>>()
        );
        assert_eq!(
            texts(whole.column(2)),
            expected.iter().map(|e| e.2.clone()).collect::<Vec<_>>()
        );
        for bytes in [1, 2, 3, 5, 7, 11, 16, 64, 100, 1000] {
            let source = plan(&[&file], CsvOptions::new().partition_bytes(bytes));
            assert_eq!(
                source.partitions() as u64,
                (text.len() as u64).div_ceil(bytes)
            );
            assert_eq!(read_all(&source), whole, "partitions of {bytes} bytes");
        }
    }
}

#[test]
fn the_header_is_skipped_only_where_each_file_starts() {
    let dir = TempDir::new("headers");
    let a = dir.file("a.csv", "k,v\n1,10\n2,20\n");
    let b = dir.file("b.csv", "k,v\n3,30\n");
    let folder = dir.path().to_str().unwrap().to_owned();
    for bytes in [1, 3, 4, 100] {
        let source = plan(&[&folder], CsvOptions::new().partition_bytes(bytes));
        let all = read_all(&source);
        assert_eq!(ints(all.column(0)), [Some(1), Some(2), Some(3)], "{bytes}");
        assert_eq!(ints(all.column(1)), [Some(10), Some(20), Some(30)]);
    }
    // The same files, given one by one and by a glob.
    let glob = format!("{folder}/*.csv");
    assert_eq!(read_all(&plan(&[&a, &b], CsvOptions::new())).num_rows(), 3);
    assert_eq!(read_all(&plan(&[&glob], CsvOptions::new())).num_rows(), 3);
}

#[test]
fn headerless_files_take_given_or_generated_names() {
    let dir = TempDir::new("headerless");
    let file = dir.file(
        "u.data",
        "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116",
    );
    let named = CsvOptions::new()
        .delimiter(b'\t')
        .has_header(false)
        .column_names(["user_id", "item_id", "rating", "timestamp"]);
    for bytes in [1, 5, 1 << 20] {
        let source = plan(&[&file], named.clone().partition_bytes(bytes));
        let batch = read_all(&source);
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(
            ints(batch.column_by_name("rating").unwrap()),
            [Some(3), Some(3), Some(1)]
        );
        assert_eq!(ints(batch.column(0)), [Some(196), Some(186), Some(22)]);
    }
    let source = plan(
        &[&file],
        CsvOptions::new().delimiter(b'\t').has_header(false),
    );
    let names: Vec<_> = source
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["column_1", "column_2", "column_3", "column_4"]);
    // Names that do not match the number of fields.
    let err = CsvSource::plan(
        &[&file],
        CsvOptions::new()
            .delimiter(b'\t')
            .has_header(false)
            .column_names(["a", "b"]),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            IoError::ColumnCount {
                given: 2,
                found: 4,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn types_are_inferred_from_the_first_rows() {
    let dir = TempDir::new("infer");
    let file = dir.file(
        "t.csv",
        "i,f,mixed,b,d,ts,s,empty,big\n\
         1,1.5,1,true,2024-01-31,2024-01-31 10:00:00,x,,12345678901234567890\n\
         -2,,2.25,False,2024-02-29,2024-02-29T11:30:15.5,,,1\n\
         3,-1e3,3,TRUE,,2024-03-01 00:00:00,z,,2\n",
    );
    let source = plan(&[&file], CsvOptions::new());
    let types: Vec<DataType> = source
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        [
            DataType::Int64,
            DataType::Float64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
        ]
    );
    let batch = read_all(&source);
    assert_eq!(floats(batch.column(2)), [Some(1.0), Some(2.25), Some(3.0)]);
    assert_eq!(floats(batch.column(1)), [Some(1.5), None, Some(-1000.0)]);
    let b = batch
        .column(3)
        .as_any()
        .downcast_ref::<BooleanArray>()
        .unwrap();
    assert_eq!(
        b.iter().collect::<Vec<_>>(),
        [Some(true), Some(false), Some(true)]
    );
    assert_eq!(batch.column(4).null_count(), 1);
    assert_eq!(batch.column(7).null_count(), 3);
    assert_eq!(
        texts(batch.column(8))[0].as_deref(),
        Some("12345678901234567890")
    );
}

#[test]
fn overrides_schema_projection_and_nulls() {
    let dir = TempDir::new("overrides");
    let file = dir.file(
        "t.csv",
        "zip,city,pop\n02134,Boston,NA\n10001,New York,8.3\n",
    );
    // Inferred: zip is an integer; overridden: text, keeping the zero.
    let source = plan(
        &[&file],
        CsvOptions::new()
            .dtype("zip", DataType::Utf8)
            .null_values(["", "NA"])
            .columns(["pop", "zip"]),
    );
    let names: Vec<_> = source
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["pop", "zip"]);
    let batch = read_all(&source);
    assert_eq!(floats(batch.column(0)), [None, Some(8.3)]);
    assert_eq!(
        texts(batch.column(1)),
        [Some("02134".into()), Some("10001".into())]
    );

    // An explicit schema: no inference, its names win, narrower types.
    let schema = Arc::new(Schema::new(vec![
        Field::new("code", DataType::Int32, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("population", DataType::Utf8, true),
    ]));
    let batch = read_all(&plan(&[&file], CsvOptions::new().schema(schema.clone())));
    assert_eq!(batch.schema(), schema);
    let codes = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int32Array>()
        .unwrap();
    assert_eq!(codes.values().to_vec(), [2134, 10001]);

    // Other text types; no column at all (rows are still counted).
    let source = plan(
        &[&file],
        CsvOptions::new()
            .dtype("city", DataType::LargeUtf8)
            .columns(["city"]),
    );
    assert_eq!(
        read_all(&source).column(0).data_type(),
        &DataType::LargeUtf8
    );
    let source = plan(&[&file], CsvOptions::new().columns(Vec::<String>::new()));
    assert_eq!(
        (
            read_all(&source).num_columns(),
            read_all(&source).num_rows()
        ),
        (0, 2)
    );

    // Unknown names are refused when planning.
    for options in [
        CsvOptions::new().columns(["pop", "area"]),
        CsvOptions::new().dtype("area", DataType::Float64),
    ] {
        let err = CsvSource::plan(&[&file], options).unwrap_err();
        assert!(
            matches!(&err, IoError::UnknownColumn { column, .. } if column == "area"),
            "{err}"
        );
    }
    let err = CsvSource::plan(&[&file], CsvOptions::new().columns(["pop", "pop"])).unwrap_err();
    assert!(matches!(err, IoError::DuplicateColumn { .. }));
    let err = CsvSource::plan(
        &[&file],
        CsvOptions::new().dtype(
            "zip",
            DataType::List(Arc::new(Field::new("x", DataType::Int64, true))),
        ),
    )
    .unwrap_err();
    assert!(matches!(err, IoError::UnsupportedType { .. }), "{err}");
}

#[test]
fn bad_values_become_nulls_when_asked_and_are_counted() {
    let dir = TempDir::new("lenient");
    let file = dir.file("t.csv", "n,x\n1,2.5\n2,3.5\noops,4.5\n4,??\n5,6\n");
    let options = CsvOptions::new()
        .infer_rows(2)
        .infer_spread(false)
        .bad_values_as_null(true)
        .partition_bytes(12);
    let source = plan(&[&file], options);
    let mut bad = 0;
    let mut rows = 0;
    for i in 0..source.partitions() {
        let (batch, stats) = source.read_partition_with_stats(i).unwrap();
        bad += stats.bad_values;
        rows += stats.rows;
        assert_eq!(batch.num_rows(), stats.rows);
    }
    assert_eq!((rows, bad), (5, 2));
    let all = read_all(&source);
    assert_eq!(
        ints(all.column(0)),
        [Some(1), Some(2), None, Some(4), Some(5)]
    );
    assert_eq!(
        floats(all.column(1)),
        [Some(2.5), Some(3.5), Some(4.5), None, Some(6.0)]
    );
}

/// The error of reading every partition of `file` with `options`: the
/// first one met.
fn read_error(file: &str, options: CsvOptions) -> IoError {
    let source = plan(&[file], options);
    (0..source.partitions())
        .find_map(|i| source.read_partition(i).err())
        .expect("an error")
}

#[test]
fn bad_values_name_file_line_and_column_whatever_the_partitioning() {
    let dir = TempDir::new("badvalue");
    let mut text = String::from("station_id,temperature\n");
    for i in 0..200 {
        text.push_str(&format!("{},{}.25\r\n", i % 7, i));
    }
    text.push_str("3,warm\r\n");
    text.push_str("4,1.0\r\n");
    let file = dir.file("w.csv", &text);
    for bytes in [7, 64, 1000, 1 << 20] {
        match read_error(
            &file,
            CsvOptions::new()
                .infer_spread(false)
                .infer_rows(100)
                .partition_bytes(bytes),
        ) {
            IoError::BadValue {
                path,
                line,
                column,
                column_index,
                data_type,
                value,
                ..
            } => {
                assert_eq!(path, PathBuf::from(&file));
                assert_eq!(
                    (line, column.as_str(), column_index),
                    (202, "temperature", 2),
                    "{bytes}"
                );
                assert_eq!((data_type, value.as_str()), (DataType::Float64, "warm"));
            }
            other => panic!("unexpected {other}"),
        }
    }
    let message =
        read_error(&file, CsvOptions::new().infer_spread(false).infer_rows(100)).to_string();
    assert!(
        message.contains("w.csv:202: column 2 (temperature)"),
        "{message}"
    );
    assert!(message.contains("\"warm\""), "{message}");

    // A long value is shown truncated.
    let long = "y".repeat(500);
    let file = dir.file("long.csv", format!("a,b\n1,2\n3,{long}\n"));
    match read_error(&file, CsvOptions::new().infer_spread(false).infer_rows(1)) {
        IoError::BadValue { line, value, .. } => {
            assert_eq!(line, 3);
            assert!(
                value.chars().count() <= 81 && value.ends_with('…'),
                "{value}"
            );
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn records_with_the_wrong_number_of_fields_are_reported() {
    let dir = TempDir::new("fieldcount");
    let file = dir.file("t.csv", "a,b,c\n1,2,3\n4,5,6\n7,8\n");
    for bytes in [1, 9, 1 << 20] {
        match read_error(
            &file,
            CsvOptions::new()
                .infer_spread(false)
                .infer_rows(1)
                .partition_bytes(bytes),
        ) {
            IoError::FieldCount {
                line,
                expected,
                found,
                column,
                column_index,
                record,
                ..
            } => {
                assert_eq!((line, expected, found), (4, 3, 2));
                assert_eq!(
                    (column.as_str(), column_index, record.as_str()),
                    ("c", 3, "7,8")
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    let file = dir.file("u.csv", "a,b\n1,2\n3,4\n5,6,7\n");
    let err = read_error(
        &file,
        CsvOptions::new()
            .infer_spread(false)
            .infer_rows(1)
            .bad_values_as_null(true),
    );
    assert!(
        matches!(
            err,
            IoError::FieldCount {
                line: 4,
                found: 3,
                column_index: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("u.csv:4"), "{err}");
    // Found while sampling: reported when planning, with the same detail.
    let err = CsvSource::plan(&[&file], CsvOptions::new()).unwrap_err();
    assert!(
        matches!(
            err,
            IoError::FieldCount {
                line: 4,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn quotes_unclosed_text_not_utf8() {
    let dir = TempDir::new("quotes");
    let file = dir.file(
        "q.csv",
        "id,note\n1,\"fine, really\"\n2,\"never closed\n3,x\n",
    );
    match read_error(&file, CsvOptions::new().infer_spread(false).infer_rows(1)) {
        IoError::UnclosedQuote { line, .. } => assert_eq!(line, 3),
        other => panic!("unexpected {other}"),
    }
    let file = dir.file("latin1.csv", b"id,name\n1,ok\n2,caf\xe9\n".as_slice());
    for bytes in [1, 1 << 20] {
        match read_error(&file, CsvOptions::new().partition_bytes(bytes)) {
            IoError::InvalidUtf8 {
                line,
                column,
                column_index,
                value,
                ..
            } => {
                assert_eq!((line, column.as_str(), column_index), (3, "name", 2));
                assert_eq!(value, "caf\u{fffd}");
            }
            other => panic!("unexpected {other}"),
        }
    }
    // Quoted line breaks inside one partition are read.
    let file = dir.file("multi.csv", "id,note\n1,\"two\nlines\"\n2,\"x\"\n");
    let batch = read_all(&plan(&[&file], CsvOptions::new()));
    assert_eq!(
        texts(batch.column(1)),
        [Some("two\nlines".into()), Some("x".into())]
    );
}

#[test]
fn files_that_disagree_are_refused_when_planning() {
    let dir = TempDir::new("mismatch");
    let a = dir.file("a.csv", "id,value\n1,2\n");
    let b = dir.file("b.csv", "id,amount\n3,4\n");
    let err = CsvSource::plan(&[&a, &b], CsvOptions::new()).unwrap_err();
    match &err {
        IoError::HeaderMismatch { first, other, .. } => {
            assert_eq!(
                (first.as_path(), other.as_path()),
                (Path::new(&a), Path::new(&b))
            );
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("a.csv") && err.to_string().contains("b.csv"));

    // Types only text could hold.
    let c = dir.file("c.csv", "id,value\nA-7,2\n");
    let err = CsvSource::plan(&[&a, &c], CsvOptions::new()).unwrap_err();
    match &err {
        IoError::SchemaMismatch {
            first,
            other,
            column,
            ..
        } => {
            assert_eq!(
                (first.as_path(), other.as_path(), column.as_str()),
                (Path::new(&a), Path::new(&c), "id")
            );
        }
        other => panic!("unexpected {other}"),
    }
    // ... which an explicit type settles.
    let both = plan(&[&a, &c], CsvOptions::new().dtype("id", DataType::Utf8));
    assert_eq!(
        texts(read_all(&both).column(0)),
        [Some("1".into()), Some("A-7".into())]
    );
    // Integers in one file, decimals in another: Float64.
    let d = dir.file("d.csv", "id,value\n5,2.5\n");
    let both = plan(&[&a, &d], CsvOptions::new());
    assert_eq!(floats(read_all(&both).column(1)), [Some(2.0), Some(2.5)]);
    // Headerless files with different numbers of fields: a row of the
    // wrong width, not a header.
    let e = dir.file("e.tsv", "1\t2\n");
    let f = dir.file("f.tsv", "1\t2\t3\n");
    let err = CsvSource::plan(
        &[&e, &f],
        CsvOptions::new().delimiter(b'\t').has_header(false),
    )
    .unwrap_err();
    match &err {
        IoError::FieldCount {
            path,
            line,
            expected,
            found,
            ..
        } => assert_eq!(
            (path.as_path(), *line, *expected, *found),
            (Path::new(&f), 1, 2, 3)
        ),
        other => panic!("unexpected {other}"),
    }
    let message = err.to_string();
    assert!(!message.contains("header"), "{message}");
    assert!(message.contains("f.tsv:1"), "{message}");
}

#[test]
fn empty_files_header_only_files_and_odd_endings() {
    let dir = TempDir::new("edges");
    let empty = dir.file("empty.csv", "");
    let header_only = dir.file("header.csv", "a,b\n");
    let no_newline = dir.file("tail.csv", "a,b\n1,2");
    let bom = dir.file("bom.csv", "\u{feff}a,b\r\n3,4\r\n");
    let err = CsvSource::plan(&[&empty], CsvOptions::new()).unwrap_err();
    assert!(matches!(err, IoError::NoData { .. }), "{err}");

    let source = plan(&[&header_only], CsvOptions::new());
    assert_eq!(source.schema().fields().len(), 2);
    assert_eq!(read_all(&source).num_rows(), 0);

    for bytes in [1, 2, 1 << 20] {
        let source = plan(
            &[&empty, &header_only, &no_newline, &bom],
            CsvOptions::new().partition_bytes(bytes),
        );
        let batch = read_all(&source);
        assert_eq!(source.schema().field(0).name(), "a");
        assert_eq!(ints(batch.column(0)), [Some(1), Some(3)]);
        assert_eq!(ints(batch.column(1)), [Some(2), Some(4)]);
    }
    let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
    let source = plan(&[&empty], CsvOptions::new().schema(schema));
    assert_eq!(source.partitions(), 0);
    assert!(matches!(
        source.read_partition(0),
        Err(IoError::NoSuchPartition {
            index: 0,
            partitions: 0
        })
    ));
}

#[test]
fn gzip_files_are_one_partition_with_absolute_lines() {
    let dir = TempDir::new("gzip");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(b"k,v\n1,1.5\n2,2.5\n3,x\n").unwrap();
    let gz = dir.file("t.csv.gz", encoder.finish().unwrap());
    let plain = dir.file("t.csv", "k,v\n4,4.5\n");
    let source = plan(
        &[&plain, &gz],
        CsvOptions::new()
            .partition_bytes(3)
            .infer_rows(2)
            .infer_spread(false),
    );
    assert_eq!(source.partitions(), 4 + 1);
    match (0..source.partitions()).find_map(|i| source.read_partition(i).err()) {
        Some(IoError::BadValue {
            path, line, column, ..
        }) => {
            assert_eq!((path, line, column.as_str()), (PathBuf::from(&gz), 4, "v"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let lenient = plan(
        &[&plain, &gz],
        CsvOptions::new()
            .infer_spread(false)
            .infer_rows(2)
            .bad_values_as_null(true),
    );
    assert_eq!(
        ints(read_all(&lenient).column(0)),
        [Some(4), Some(1), Some(2), Some(3)]
    );
}

/// Plans and output folders are shared by the tasks of a pool.
fn shared_by_tasks<T: Clone + Send + Sync + 'static>() {}

#[test]
fn partitions_are_read_by_a_pool() {
    shared_by_tasks::<CsvSource>();
    shared_by_tasks::<JsonSource>();
    shared_by_tasks::<ParquetSource>();
    shared_by_tasks::<OutputDir>();
    let dir = TempDir::new("pool");
    let mut rng = Rng::seed(5);
    let (text, expected) = random_csv(&mut rng, 2_000);
    let file = dir.file("t.csv", text);
    let source = plan(&[&file], CsvOptions::new().partition_bytes(997));
    let pool = CpuPool::with_threads(2).unwrap();
    let batches: Vec<RecordBatch> = pool
        .map(0..source.partitions(), {
            let source = source.clone();
            move |i| source.read_partition(i).unwrap()
        })
        .collect::<Result<_, _>>()
        .unwrap();
    let all = arrow_select::concat::concat_batches(&source.schema(), &batches).unwrap();
    assert_eq!(
        ints(all.column(0)),
        expected.iter().map(|e| Some(e.0)).collect::<Vec<_>>()
    );
}

#[test]
fn csv_parts_round_trip_through_the_output_folder() {
    let dir = TempDir::new("roundtrip");
    let mut rng = Rng::seed(9);
    let (text, _) = random_csv(&mut rng, 300);
    let input = dir.file("in.csv", text);
    let source = plan(&[&input], CsvOptions::new().partition_bytes(1000));
    let out_path = dir.path().join("out");
    let out = OutputDir::create(&out_path, WriteMode::ErrorIfNotEmpty).unwrap();
    for i in 0..source.partitions() {
        out.write_csv_part(i, &source.read_partition(i).unwrap())
            .unwrap();
    }
    let parts = out.commit_expecting(source.partitions()).unwrap();
    assert_eq!(parts.len(), source.partitions());
    let again = plan(
        &[out_path.to_str().unwrap()],
        CsvOptions::new().schema(source.schema()),
    );
    assert_eq!(read_all(&again), read_all(&source));

    // TSV without header, read back with names.
    let tsv_path = dir.path().join("tsv");
    let out = OutputDir::create(&tsv_path, WriteMode::ErrorIfNotEmpty).unwrap();
    let batch = read_all(&source);
    out.write_csv_part_with(
        0,
        &batch,
        &CsvWriteOptions::new().delimiter(b'\t').header(false),
    )
    .unwrap();
    out.commit().unwrap();
    let back = plan(
        &[tsv_path.to_str().unwrap()],
        CsvOptions::new()
            .delimiter(b'\t')
            .has_header(false)
            .schema(source.schema()),
    );
    assert_eq!(read_all(&back), batch);
}

#[test]
fn the_output_folder_commits_all_parts_or_nothing() {
    let dir = TempDir::new("commit");
    let batch =
        RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef)])
            .unwrap();
    let root = dir.path().join("out");
    let out = OutputDir::create(&root, WriteMode::ErrorIfNotEmpty).unwrap();
    out.write_csv_part(1, &batch).unwrap();
    out.write_parquet_part(0, &batch).unwrap();
    // A retried task replaces its part.
    out.write_csv_part(1, &batch.slice(0, 1)).unwrap();
    // Nothing is visible before the commit.
    let visible: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(visible, ["_temporary"]);
    let parts = out.clone().commit().unwrap();
    assert_eq!(
        parts,
        [root.join("part-00000.parquet"), root.join("part-00001.csv")]
    );
    assert!(root.join("_SUCCESS").exists() && !root.join("_temporary").exists());
    assert_eq!(
        fs::read_to_string(root.join("part-00001.csv")).unwrap(),
        "n\n1\n"
    );

    // An existing output is refused, or replaced when asked.
    assert!(matches!(
        OutputDir::create(&root, WriteMode::ErrorIfNotEmpty),
        Err(OutputError::NotEmpty { .. })
    ));
    // The previous output stays until the commit: an aborted overwrite
    // leaves it as it was.
    let before = names_in(&root);
    let out = OutputDir::create(&root, WriteMode::Overwrite).unwrap();
    out.write_csv_part(0, &batch).unwrap();
    out.abort().unwrap();
    assert_eq!(names_in(&root), before);
    let out = OutputDir::create(&root, WriteMode::Overwrite).unwrap();
    out.write_csv_part(0, &batch).unwrap();
    out.commit().unwrap();
    assert_eq!(names_in(&root), ["_SUCCESS", "part-00000.csv"]);
    fs::remove_dir_all(&root).unwrap();

    // A gap in the parts: nothing moved, no _SUCCESS.
    let out = OutputDir::create(&root, WriteMode::ErrorIfNotEmpty).unwrap();
    out.write_csv_part(0, &batch).unwrap();
    out.write_csv_part(2, &batch).unwrap();
    assert!(matches!(
        out.clone().commit(),
        Err(OutputError::MissingPart { index: 1, .. })
    ));
    assert!(!root.join("_SUCCESS").exists() && !root.join("part-00000.csv").exists());
    assert!(matches!(
        out.clone().commit_expecting(4),
        Err(OutputError::MissingPart { index: 1, .. })
    ));
    out.write_csv_part(1, &batch).unwrap();
    assert!(matches!(
        out.clone().commit_expecting(4),
        Err(OutputError::MissingPart { index: 3, .. })
    ));
    assert_eq!(out.commit_expecting(3).unwrap().len(), 3);
}

#[test]
fn a_failed_part_leaves_no_file() {
    let dir = TempDir::new("failedpart");
    let root = dir.path().join("out");
    let out = OutputDir::create(&root, WriteMode::ErrorIfNotEmpty).unwrap();
    // The CSV writer refuses a nested column, after the part file exists.
    let list =
        arrow_array::ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>(vec![
            Some(vec![Some(1)]),
        ]);
    let batch = RecordBatch::try_from_iter([("l", Arc::new(list) as ArrayRef)]).unwrap();
    assert!(matches!(
        out.write_csv_part(0, &batch),
        Err(IoError::Arrow { .. })
    ));
    let left: Vec<_> = fs::read_dir(root.join("_temporary")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    out.abort().unwrap();
}

#[test]
fn parquet_round_trip_one_partition_per_row_group() {
    let dir = TempDir::new("parquet");
    let root = dir.path().join("pq");
    let out = OutputDir::create(&root, WriteMode::ErrorIfNotEmpty).unwrap();
    let mut expected = Vec::new();
    for part in 0..3 {
        let n = 25 + part * 10;
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from_iter_values(
                    (0..n as i64).map(|i| i + 1000 * part as i64),
                )) as ArrayRef,
            ),
            (
                "x",
                Arc::new(Float64Array::from_iter(
                    (0..n).map(|i| (i % 4 != 0).then_some(i as f64 / 8.0)),
                )),
            ),
            (
                "s",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("s{i}")),
                )),
            ),
        ])
        .unwrap();
        out.write_parquet_part_with(part, &batch, &ParquetWriteOptions::new().row_group_rows(10))
            .unwrap();
        expected.push(batch);
    }
    out.commit().unwrap();
    let source = ParquetSource::plan(&[root.to_str().unwrap()], ParquetOptions::new()).unwrap();
    // 25, 35, 45 rows in groups of 10: 3 + 4 + 5 row groups.
    assert_eq!(source.partitions(), 12);
    let batches: Vec<_> = (0..12).map(|i| source.read_partition(i).unwrap()).collect();
    assert!(batches.iter().all(|b| b.num_rows() <= 10));
    let all = arrow_select::concat::concat_batches(&source.schema(), &batches).unwrap();
    let want = arrow_select::concat::concat_batches(&expected[0].schema(), &expected).unwrap();
    assert_eq!(all, want);

    // Projection, in the order asked.
    let projected = ParquetSource::plan(
        &[root.to_str().unwrap()],
        ParquetOptions::new().columns(["s", "id"]),
    )
    .unwrap();
    let batch = projected.read_partition(0).unwrap();
    assert_eq!(batch.schema().field(0).name(), "s");
    assert_eq!(batch.column(1), &want.column(0).slice(0, 10));
    let err = ParquetSource::plan(
        &[root.to_str().unwrap()],
        ParquetOptions::new().columns(["nope"]),
    )
    .unwrap_err();
    assert!(matches!(err, IoError::UnknownColumn { .. }));

    // A file with another schema is refused, naming both files.
    let other = dir.path().join("other");
    let out = OutputDir::create(&other, WriteMode::ErrorIfNotEmpty).unwrap();
    out.write_parquet_part(
        0,
        &RecordBatch::try_from_iter([("id", Arc::new(Int32Array::from(vec![1])) as ArrayRef)])
            .unwrap(),
    )
    .unwrap();
    out.commit().unwrap();
    let inputs = [
        root.join("part-00000.parquet"),
        other.join("part-00000.parquet"),
    ];
    let inputs: Vec<&str> = inputs.iter().map(|p| p.to_str().unwrap()).collect();
    match ParquetSource::plan(&inputs, ParquetOptions::new()).unwrap_err() {
        IoError::SchemaMismatch { first, other, .. } => {
            assert_eq!(
                (first.to_str().unwrap(), other.to_str().unwrap()),
                (inputs[0], inputs[1])
            );
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn json_lines_read_the_same_whatever_the_partitioning() {
    let dir = TempDir::new("json");
    let mut text = String::new();
    let mut rng = Rng::seed(17);
    let mut expected = Vec::new();
    for i in 0..200 {
        let score = (rng.below(3) > 0).then(|| rng.below(1000) as f64 / 4.0);
        match score {
            Some(s) => text.push_str(&format!(
                "{{\"id\":{i},\"score\":{s:?},\"tag\":\"t{}\"}}\n",
                i % 5
            )),
            None => text.push_str(&format!("{{\"id\":{i},\"tag\":\"t{}\"}}\r\n", i % 5)),
        }
        if rng.below(10) == 0 {
            text.push('\n');
        }
        expected.push(score);
    }
    let file = dir.file("e.jsonl", &text);
    let read = |options: JsonOptions| {
        let source = JsonSource::plan(&[&file], options).unwrap();
        let batches: Vec<_> = (0..source.partitions())
            .map(|i| source.read_partition(i).unwrap())
            .collect();
        arrow_select::concat::concat_batches(&source.schema(), &batches).unwrap()
    };
    let whole = read(JsonOptions::new());
    assert_eq!(whole.num_rows(), 200);
    assert_eq!(floats(whole.column_by_name("score").unwrap()), expected);
    for bytes in [1, 10, 333, 4096] {
        assert_eq!(
            read(JsonOptions::new().partition_bytes(bytes)),
            whole,
            "{bytes}"
        );
    }
    let projected = read(JsonOptions::new().columns(["tag", "id"]));
    assert_eq!(projected.schema().field(0).name(), "tag");
    assert_eq!(ints(projected.column(1)), ints(whole.column(0)));

    // A bad line, found mid-file by a partition that starts later.
    let bad = dir.file("bad.jsonl", format!("{text}{{\"id\":\"x\"}}\n"));
    let source = JsonSource::plan(
        &[&bad],
        JsonOptions::new().infer_rows(100).partition_bytes(500),
    )
    .unwrap();
    let err = (0..source.partitions())
        .find_map(|i| source.read_partition(i).err())
        .unwrap();
    let lines = text.lines().count() as u64;
    assert!(
        matches!(&err, IoError::BadJson { line, .. } if *line == lines + 1),
        "{err}"
    );
    // Files whose fields disagree.
    let other = dir.file("other.jsonl", "{\"id\":\"seven\"}\n");
    let err = JsonSource::plan(&[&file, &other], JsonOptions::new()).unwrap_err();
    assert!(matches!(err, IoError::SchemaMismatch { .. }), "{err}");
}

#[test]
fn usual_spellings_of_missing_values_are_null_by_default() {
    let dir = TempDir::new("na");
    let file = dir.file(
        "r.csv",
        "id,temp,note\n1,NA,a\n2,3.5,NA\n3,N/A,b\n4,null,c\n5,,d\n6,NaN,e\n7,-1.5,f\n",
    );
    let source = plan(&[&file], CsvOptions::new());
    assert_eq!(source.schema().field(1).data_type(), &DataType::Float64);
    let batch = read_all(&source);
    assert_eq!(
        floats(batch.column(1)),
        [None, Some(3.5), None, None, None, None, Some(-1.5)]
    );
    assert_eq!(batch.column(2).null_count(), 1);

    // Replaced: only the empty field is null, and `NA` is a bad value
    // whose error names null_values.
    let strict = CsvOptions::new()
        .null_values([""])
        .dtype("temp", DataType::Float64);
    let err = read_error(&file, strict);
    assert!(matches!(err, IoError::BadValue { line: 2, .. }), "{err}");
    assert!(err.to_string().contains("null_values"), "{err}");
    // A marker the defaults do not know: the hint names null_values too.
    let file = dir.file("q.csv", "id,n\n1,5\n2,7\n3,?\n");
    let err = read_error(&file, CsvOptions::new().infer_spread(false).infer_rows(1));
    assert!(err.to_string().contains("null_values([\"?\"])"), "{err}");
    // Two files that disagree on a column that is not read do not fail.
    let a = dir.file("a.csv", "id,extra\n1,2\n");
    let b = dir.file("b.csv", "id,extra\n2,missing\n");
    let both = plan(&[&a, &b], CsvOptions::new().columns(["id"]));
    assert_eq!(ints(read_all(&both).column(0)), [Some(1), Some(2)]);
}

#[test]
fn types_are_inferred_from_rows_spread_across_the_file() {
    let dir = TempDir::new("spread");
    // The first 3000 values are missing, the later ones integers.
    let mut text = String::from("id,x\n");
    for i in 0..6000 {
        if i < 3000 {
            text.push_str(&format!("{i},-\n"));
        } else {
            text.push_str(&format!("{i},{}\n", i % 97));
        }
    }
    let file = dir.file("late.csv", &text);
    let source = plan(&[&file], CsvOptions::new().null_values(["-"]));
    assert_eq!(source.schema().field(1).data_type(), &DataType::Int64);
    let batch = read_all(&source);
    assert_eq!(batch.column(1).null_count(), 3000);

    // A value that does not fit: the error says which rows decided the
    // type and how to set it.
    let mut text = String::from("x\n");
    for i in 0..6000 {
        text.push_str(&format!(
            "{}\n",
            if i == 5001 {
                "3.5".into()
            } else {
                i.to_string()
            }
        ));
    }
    let file = dir.file("f.csv", &text);
    let err = read_error(&file, CsvOptions::new().infer_spread(false));
    let message = err.to_string();
    assert!(message.contains("f.csv:5003"), "{message}");
    assert!(
        message.contains("inferred as Int64 from lines 2–1001"),
        "{message}"
    );
    assert!(
        message.contains("dtype(\"x\", DataType::Float64)"),
        "{message}"
    );
    // A type given in the options is said to be given.
    let err = read_error(&file, CsvOptions::new().dtype("x", DataType::Int64));
    assert!(err.to_string().contains("set in the options"), "{err}");
}

#[test]
fn a_header_that_is_not_utf8_is_refused_with_its_place() {
    let dir = TempDir::new("header-utf8");
    let file = dir.file("h.csv", b"id,caf\xe9\n1,2\n".as_slice());
    let err = CsvSource::plan(&[&file], CsvOptions::new()).unwrap_err();
    match &err {
        IoError::HeaderNotUtf8 {
            path,
            column_index,
            byte,
            ..
        } => assert_eq!(
            (path.as_path(), *column_index, *byte),
            (Path::new(&file), 2, 7)
        ),
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("h.csv:1"), "{err}");
    // Names given in the options replace the header: it is only skipped.
    let source = plan(&[&file], CsvOptions::new().column_names(["a", "b"]));
    assert_eq!(ints(read_all(&source).column(1)), [Some(2)]);
}

#[test]
fn rows_of_the_wrong_width_are_skipped_counted_and_sampled_when_asked() {
    let dir = TempDir::new("skip");
    let mut text = String::from("a,b,c\n");
    for i in 0..50 {
        text.push_str(&format!("{i},{i},{i}\n"));
        if i % 10 == 3 {
            text.push_str("oops,1\n");
        }
    }
    text.push_str("7,\"x,y\",8,9\n");
    let file = dir.file("s.csv", &text);
    for bytes in [16, 100, 1 << 20] {
        let source = plan(
            &[&file],
            CsvOptions::new()
                .skip_bad_records(true)
                .partition_bytes(bytes),
        );
        let mut skipped = 0;
        for i in 0..source.partitions() {
            skipped += source.read_partition_with_stats(i).unwrap().1.bad_records;
        }
        assert_eq!(skipped, 6, "{bytes}");
        let batch = read_all(&source);
        assert_eq!(ints(batch.column(0)), (0..50).map(Some).collect::<Vec<_>>());
        let report = source.bad_records();
        assert_eq!(report.count, 6);
        assert!(!report.sample.is_empty() && report.sample.len() <= 10);
        assert!(report.sample[0].contains("s.csv:6:"), "{:?}", report.sample);
        assert!(report.sample[0].contains("oops,1"), "{:?}", report.sample);
    }
    // Without the option it is an error that names the option.
    let err = read_error(&file, CsvOptions::new().infer_spread(false).infer_rows(1));
    assert!(matches!(err, IoError::FieldCount { line: 6, .. }), "{err}");
    assert!(err.to_string().contains("skip_bad_records"), "{err}");
}

/// A checkpointed frame over CSV files: run again it reads its partitions
/// back without reading the files; a changed file computes its own
/// partitions again; a changed filter (part of the frame's plan) computes
/// everything.
#[test]
fn a_checkpointed_frame_computes_only_the_partitions_it_does_not_find() {
    use flotilla::dataframe::{col, DataFrame};
    let dir = TempDir::new("frame-checkpoint");
    let files: Vec<String> = (0..3)
        .map(|f| {
            let rows: String = (0..50)
                .map(|r| format!("{},{}\n", f, f * 100 + r))
                .collect();
            dir.file(&format!("t{f}.csv"), format!("station,reading\n{rows}"))
        })
        .collect();
    let inputs: Vec<&str> = files.iter().map(String::as_str).collect();
    let batches = Arc::new(AtomicUsize::new(0));
    let run = |threshold: i64| {
        let checkpoint = flotilla::Checkpoint::open(dir.path().join("checkpoint")).unwrap();
        let counter = Arc::clone(&batches);
        let df = DataFrame::read_csv(&inputs, CsvOptions::new())
            .unwrap()
            .map_partitions(move |b| {
                if b.num_rows() > 0 {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                Ok(b)
            })
            .unwrap()
            .filter(col("reading").gt(threshold))
            .unwrap()
            .checkpoint(&checkpoint);
        let sum = df.sum("reading").unwrap().compute().unwrap();
        let read = batches.swap(0, Ordering::Relaxed);
        (sum, read, checkpoint.computed(), checkpoint.loaded())
    };
    let expected = |threshold: i64| -> f64 {
        files
            .iter()
            .flat_map(|f| {
                fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .skip(1)
                    .map(|l| l.split(',').nth(1).unwrap().parse::<i64>().unwrap())
                    .collect::<Vec<_>>()
            })
            .filter(|&r| r > threshold)
            .sum::<i64>() as f64
    };
    let (sum, read, partitions, loaded) = run(10);
    assert_eq!(sum, Some(expected(10)));
    assert_eq!((read as u64, loaded), (partitions, 0));
    assert!(partitions >= 3);
    // Again: nothing is read.
    assert_eq!(run(10), (Some(expected(10)), 0, 0, partitions));
    // The last file gains a row: its partitions only.
    let mut grown = fs::read_to_string(&files[2]).unwrap();
    grown.push_str("2,777\n");
    fs::write(&files[2], grown).unwrap();
    let (sum, read, computed, loaded) = run(10);
    assert_eq!(sum, Some(expected(10)));
    assert!(
        computed >= 1 && computed < partitions,
        "{computed} of {partitions}"
    );
    assert_eq!((read as u64, computed + loaded), (computed, partitions));
    // Another filter (its expression is part of the keys): every
    // partition is computed; the first one's are still there.
    let (sum, _, computed, _) = run(120);
    assert_eq!((sum, computed), (Some(expected(120)), partitions));
    assert_eq!(run(10), (Some(expected(10)), 0, 0, partitions));
}
