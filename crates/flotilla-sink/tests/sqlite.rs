//! SQLite sinks on files in fresh folders.

mod common;
use common::TempDir;

use flotilla_sink::{Sink, SinkError};

fn file_sink(dir: &TempDir) -> Sink {
    Sink::open(&format!("sqlite:{}", dir.path().join("out.db").display())).expect("open")
}

#[test]
fn rows_are_written_once_per_key_and_read_back() {
    let dir = TempDir::new("rows");
    common::rows_are_written_once_per_key_and_read_back(&file_sink(&dir));
}

#[test]
fn a_wrong_row_is_named_and_earlier_batches_stay() {
    let dir = TempDir::new("wrong");
    common::a_wrong_row_is_named_and_earlier_batches_stay(&file_sink(&dir));
}

#[test]
fn a_table_missing_columns_is_named() {
    let dir = TempDir::new("schema");
    common::a_table_missing_columns_is_named(&file_sink(&dir));
}

#[test]
fn rows_survive_reopening_the_file() {
    let dir = TempDir::new("reopen");
    {
        let sink = file_sink(&dir);
        sink.create(&common::images()).expect("create");
        let rows: Vec<_> = (0..10).map(common::image_row).collect();
        sink.upsert(&common::images(), &rows).expect("upsert");
    }
    let sink = file_sink(&dir);
    assert_eq!(sink.count(&common::images()).expect("count"), 10);
}

/// A refusal by the database itself (a CHECK constraint of a table made
/// outside flotilla) names the row, rolls back its batch, keeps the rest.
#[test]
fn a_row_the_database_refuses_is_named_and_its_batch_rolled_back() {
    let dir = TempDir::new("check");
    let path = dir.path().join("out.db");
    rusqlite::Connection::open(&path)
        .expect("open")
        .execute_batch(
            "CREATE TABLE scores (id INTEGER NOT NULL PRIMARY KEY, score REAL CHECK (score >= 0))",
        )
        .expect("create");
    let sink = Sink::open(path.to_str().expect("utf-8 path")).expect("open a bare .db path");
    let t = flotilla_sink::Table::new("scores")
        .column("id", flotilla_sink::ColumnType::Integer)
        .column("score", flotilla_sink::ColumnType::Real)
        .key(["id"]);
    sink.create(&t)
        .expect("the table is there with these columns");
    let mut w = sink.writer(&t).batch_rows(10);
    let mut err = None;
    for i in 0..25i64 {
        let score = if i == 17 { -1.0 } else { i as f64 };
        if let Err(e) = w.push(vec![i.into(), score.into()]) {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("row 17 is refused when its batch is written");
    match &err {
        SinkError::Refused {
            table,
            row,
            key,
            reason,
        } => {
            assert_eq!(
                (table.as_str(), *row, key.as_str()),
                ("scores", 17, "id = 17")
            );
            assert!(reason.contains("CHECK"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sink.count(&t).expect("count"), 10, "the first batch stays");
}

#[test]
fn addresses_of_no_database_are_refused() {
    for url in ["mysql://x", "out.txt", "sqlite:"] {
        let err = Sink::open(url).expect_err(url);
        assert!(matches!(err, SinkError::Url { .. }), "{url}: {err:?}");
    }
    let err = Sink::open("sqlite:/nonexistent-folder/deeper/out.db").expect_err("no folder");
    assert!(
        matches!(err, SinkError::Connect { .. }) && err.to_string().contains("out.db"),
        "{err}"
    );
}
