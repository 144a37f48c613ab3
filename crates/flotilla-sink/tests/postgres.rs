//! PostgreSQL sinks against a real server: each test starts its own
//! (Debian's `postgresql` programs, installed by `.ci/run`) in a fresh
//! folder on a free loopback port, stopped when the test ends.

#![cfg(feature = "postgres")]

mod common;
use common::TempDir;

use flotilla_sink::{ColumnType, LocalPostgres, Sink, SinkError, Table};

fn server(dir: &TempDir) -> LocalPostgres {
    match LocalPostgres::start(dir.path().join("pg")) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn postgres_rows_are_written_once_per_key_and_checked() {
    let dir = TempDir::new("pg");
    let server = server(&dir);
    let sink = Sink::open(&server.url()).expect("connect");
    assert!(sink.target().starts_with("PostgreSQL postgres://"));
    common::rows_are_written_once_per_key_and_read_back(&sink);
    common::a_wrong_row_is_named_and_earlier_batches_stay(&sink);
    common::a_table_missing_columns_is_named(&sink);
}

/// The server refuses text holding a NUL byte: the batch is rolled back,
/// written again row by row, and the error names that row.
#[test]
fn postgres_names_the_row_it_refuses_and_keeps_earlier_batches() {
    let dir = TempDir::new("pg-refuse");
    let server = server(&dir);
    let sink = Sink::open(&server.url()).expect("connect");
    let t = Table::new("notes")
        .column("id", ColumnType::Integer)
        .column("text", ColumnType::Text)
        .key(["id"]);
    sink.create(&t).expect("create");
    let mut w = sink.writer(&t).batch_rows(10);
    let mut err = None;
    for i in 0..25i64 {
        let text = if i == 16 {
            "bad\0byte".to_string()
        } else {
            format!("note {i}")
        };
        if let Err(e) = w.push(vec![i.into(), text.into()]) {
            err = Some(e);
            break;
        }
    }
    match err.expect("row 16 is refused") {
        SinkError::Refused {
            table, row, key, ..
        } => {
            assert_eq!(
                (table.as_str(), row, key.as_str()),
                ("notes", 16, "id = 16")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sink.count(&t).expect("count"), 10);
    // A second connection sees the same committed rows.
    let other = Sink::open(&server.url()).expect("connect again");
    assert_eq!(other.count(&t).expect("count"), 10);
}

#[test]
fn a_server_that_is_not_there_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let err = Sink::open(&format!("postgres://me:secret@127.0.0.1:{port}/db"))
        .expect_err("nothing listens");
    let text = err.to_string();
    assert!(matches!(err, SinkError::Connect { .. }), "{err:?}");
    assert!(
        text.contains(&port.to_string()) && !text.contains("secret"),
        "{text}"
    );
}
