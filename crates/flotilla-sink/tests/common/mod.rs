//! What the sink tests share: a fresh folder, and the same checks run on
//! every database.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    missing_debug_implementations
)]

use std::path::{Path, PathBuf};

use flotilla_sink::{ColumnType, Sink, SinkError, Table, Value};

/// A folder removed when dropped (also when a test fails).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "flotilla-sink-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a temporary folder");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn images() -> Table {
    images_named("images")
}

pub fn images_named(name: &str) -> Table {
    Table::new(name)
        .column("path", ColumnType::Text)
        .column("width", ColumnType::Integer)
        .column("score", ColumnType::Real)
        .column("thumb", ColumnType::Blob)
        .key(["path"])
}

pub fn image_row(i: usize) -> Vec<Value> {
    vec![
        format!("img-{i:04}.png").into(),
        (i as i64).into(),
        (i as f64 / 4.0).into(),
        if i.is_multiple_of(3) {
            Value::Null
        } else {
            vec![i as u8; 3].into()
        },
    ]
}

/// Writes 2,500 rows in batches, again (a re-run), then changed rows:
/// one row per key, the last values kept, every type read back as written.
pub fn rows_are_written_once_per_key_and_read_back(sink: &Sink) {
    let t = images();
    sink.create(&t).expect("create");
    let mut w = sink.writer(&t).batch_rows(400);
    for i in 0..2_500 {
        w.push(image_row(i)).expect("push");
    }
    assert_eq!(w.finish().expect("finish"), 2_500);
    // The re-run: same keys, nothing added.
    let again: Vec<_> = (0..2_500).map(image_row).collect();
    sink.upsert(&t, &again).expect("upsert again");
    assert_eq!(sink.count(&t).expect("count"), 2_500);
    // A changed value replaces the old one; a key twice in one batch keeps
    // the last.
    let mut changed = image_row(7);
    changed[1] = 700.into();
    let mut last = image_row(7);
    last[1] = 7_000.into();
    sink.upsert(&t, &[changed, image_row(8), last])
        .expect("upsert changed");
    let rows = sink.rows(&t).expect("rows");
    assert_eq!(rows.len(), 2_500);
    assert_eq!(rows[7][1], Value::Integer(7_000));
    let mut expected = image_row(8);
    assert_eq!(rows[8], expected);
    expected = image_row(9);
    assert_eq!(rows[9], expected);
    assert_eq!(rows[9][3], Value::Null);
}

/// A row the columns refuse names the table, the row and its key, and
/// leaves earlier batches written.
pub fn a_wrong_row_is_named_and_earlier_batches_stay(sink: &Sink) {
    let t = images_named("images_wrong");
    sink.create(&t).expect("create");
    let mut w = sink.writer(&t).batch_rows(10);
    for i in 0..13 {
        w.push(image_row(i)).expect("push");
    }
    let mut wrong = image_row(13);
    wrong[2] = "high".into();
    let err = w.push(wrong).expect_err("a text score is refused");
    match &err {
        SinkError::Refused {
            table, row, key, ..
        } => {
            assert_eq!((table.as_str(), *row), ("images_wrong", 13));
            assert_eq!(key, "path = 'img-0013.png'");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("\"score\""), "{err}");
    w.flush().expect("the rows before it still go in");
    assert_eq!(sink.count(&t).expect("count"), 13);
}

/// A table already there with fewer columns than described is an error
/// naming the missing column.
pub fn a_table_missing_columns_is_named(sink: &Sink) {
    let narrow = Table::new("narrow")
        .column("k", ColumnType::Text)
        .key(["k"]);
    sink.create(&narrow).expect("create");
    let wide = Table::new("narrow")
        .column("k", ColumnType::Text)
        .column("extra", ColumnType::Integer)
        .key(["k"]);
    let err = sink.create(&wide).expect_err("missing column");
    assert!(matches!(err, SinkError::Schema { .. }), "{err:?}");
    assert!(
        err.to_string().contains("\"extra\"") && err.to_string().contains("narrow"),
        "{err}"
    );
}
