//! SQLite: one connection to a file (created if missing), each batch one
//! transaction of one prepared single-row upsert statement.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;

use crate::error::SinkError;
use crate::sink::Numbered;
use crate::table::{ColumnType, Table};
use crate::value::Value;

pub(crate) struct Db {
    conn: rusqlite::Connection,
}

/// A value lent to SQLite without copying it.
struct Cell<'a>(&'a Value);

impl ToSql for Cell<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Integer(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

impl Db {
    pub(crate) fn open(path: &str, target: &str) -> Result<Db, SinkError> {
        let failed = |e: rusqlite::Error| SinkError::Connect {
            target: target.to_string(),
            reason: e.to_string(),
        };
        let conn = rusqlite::Connection::open(path).map_err(failed)?;
        // Another process may hold the file for a moment (a reader, a
        // second run): wait for it rather than fail at once.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(failed)?;
        if path != ":memory:" {
            // Write-ahead logging: readers do not block the writer.
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .map_err(failed)?;
        }
        Ok(Db { conn })
    }

    /// Creates the table if missing; the names of the columns it has.
    pub(crate) fn create(&mut self, table: &Table) -> Result<Vec<String>, SinkError> {
        let failed = |e: rusqlite::Error| database(table, e);
        self.conn
            .execute(&table.create_sql(ColumnType::sqlite), [])
            .map_err(failed)?;
        let mut stmt = self
            .conn
            .prepare(&format!("PRAGMA table_info({})", table.quoted()))
            .map_err(failed)?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(1))
            .map_err(failed)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        Ok(names)
    }

    pub(crate) fn write(&mut self, table: &Table, rows: &[Numbered<'_>]) -> Result<(), SinkError> {
        let sql = table.upsert_sql(1, |n| format!("?{n}"));
        let tx = self.conn.transaction().map_err(|e| database(table, e))?;
        {
            let mut stmt = tx.prepare(&sql).map_err(|e| database(table, e))?;
            for &(number, row) in rows {
                stmt.execute(rusqlite::params_from_iter(row.iter().map(Cell)))
                    .map_err(|e| SinkError::Refused {
                        table: table.name().to_string(),
                        row: number,
                        key: table.describe_key(row),
                        reason: e.to_string(),
                    })?;
            }
        }
        // An error above drops `tx`: the batch is rolled back.
        tx.commit().map_err(|e| database(table, e))
    }

    pub(crate) fn execute(&mut self, sql: &str) -> Result<u64, SinkError> {
        self.conn
            .execute(sql, [])
            .map(|n| n as u64)
            .map_err(|e| SinkError::Database {
                table: "(a statement of the caller's)".into(),
                reason: format!("{e} in {sql:?}"),
            })
    }

    pub(crate) fn count(&mut self, table: &Table, sql: &str) -> Result<u64, SinkError> {
        self.conn
            .query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(|e| database(table, e))
    }

    pub(crate) fn rows(&mut self, table: &Table) -> Result<Vec<Vec<Value>>, SinkError> {
        let width = table.columns().len();
        let mut stmt = self
            .conn
            .prepare(&table.select_sql())
            .map_err(|e| database(table, e))?;
        let rows = stmt
            .query_map([], |r| {
                (0..width)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            ValueRef::Null => Value::Null,
                            ValueRef::Integer(v) => Value::Integer(v),
                            ValueRef::Real(v) => Value::Real(v),
                            ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into()),
                            ValueRef::Blob(v) => Value::Blob(v.to_vec()),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<Value>>>()
            })
            .map_err(|e| database(table, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| database(table, e))?;
        Ok(rows)
    }
}

fn database(table: &Table, e: rusqlite::Error) -> SinkError {
    SinkError::Database {
        table: table.name().to_string(),
        reason: e.to_string(),
    }
}
