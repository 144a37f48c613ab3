//! PostgreSQL: one connection; a batch is one transaction of multi-row
//! upserts. When the database refuses a batch, it is rolled back and
//! written again row by row to name the row it refuses.

use postgres::types::{ToSql, Type};

use crate::error::SinkError;
use crate::sink::Numbered;
use crate::table::{ColumnType, Table};
use crate::value::Value;

pub(crate) struct Db {
    client: postgres::Client,
}

/// At most this many parameters per statement (PostgreSQL allows 65,535).
const MAX_PARAMS: usize = 32_000;

impl Db {
    pub(crate) fn connect(url: &str, target: &str) -> Result<Db, SinkError> {
        let client =
            postgres::Client::connect(url, postgres::NoTls).map_err(|e| SinkError::Connect {
                target: target.to_string(),
                reason: reason(&e),
            })?;
        Ok(Db { client })
    }

    pub(crate) fn create(&mut self, table: &Table) -> Result<Vec<String>, SinkError> {
        self.client
            .batch_execute(&table.create_sql(ColumnType::postgres))
            .map_err(|e| database(table, &e))?;
        let rows = self
            .client
            .query(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
                &[&table.name()],
            )
            .map_err(|e| database(table, &e))?;
        rows.iter()
            .map(|r| r.try_get::<_, String>(0).map_err(|e| database(table, &e)))
            .collect()
    }

    pub(crate) fn write(&mut self, table: &Table, rows: &[Numbered<'_>]) -> Result<(), SinkError> {
        let types: Vec<Type> = table.columns().iter().map(|c| pg_type(c.kind())).collect();
        let per_statement = (MAX_PARAMS / types.len().max(1)).clamp(1, 1000);
        let whole = (|| -> Result<(), postgres::Error> {
            let mut tx = self.client.transaction()?;
            for chunk in rows.chunks(per_statement) {
                let sql = table.upsert_sql(chunk.len(), |n| format!("${n}"));
                let all_types: Vec<Type> = (0..chunk.len()).flat_map(|_| types.clone()).collect();
                let stmt = tx.prepare_typed(&sql, &all_types)?;
                let cells = chunk
                    .iter()
                    .flat_map(|(_, row)| row.iter().zip(table.columns()))
                    .map(|(v, c)| param(v, c.kind()))
                    .collect::<Vec<_>>();
                let refs: Vec<&(dyn ToSql + Sync)> = cells.iter().map(|b| b.as_ref()).collect();
                tx.execute(&stmt, &refs)?;
            }
            tx.commit()
        })();
        match whole {
            Ok(()) => Ok(()),
            // Find the row the database refuses (the failed transaction
            // was rolled back when it dropped).
            Err(batch_error) => self.write_row_by_row(table, rows, &types, &batch_error),
        }
    }

    fn write_row_by_row(
        &mut self,
        table: &Table,
        rows: &[Numbered<'_>],
        types: &[Type],
        batch_error: &postgres::Error,
    ) -> Result<(), SinkError> {
        let mut tx = self.client.transaction().map_err(|e| database(table, &e))?;
        let stmt = tx
            .prepare_typed(&table.upsert_sql(1, |n| format!("${n}")), types)
            .map_err(|e| database(table, &e))?;
        for &(number, row) in rows {
            let cells: Vec<_> = row
                .iter()
                .zip(table.columns())
                .map(|(v, c)| param(v, c.kind()))
                .collect();
            let refs: Vec<&(dyn ToSql + Sync)> = cells.iter().map(|b| b.as_ref()).collect();
            tx.execute(&stmt, &refs).map_err(|e| SinkError::Refused {
                table: table.name().to_string(),
                row: number,
                key: table.describe_key(row),
                reason: reason(&e),
            })?;
        }
        // Every row went in one by one: what failed was the batch as a
        // whole; say so if the commit fails too.
        tx.commit().map_err(|e| SinkError::Database {
            table: table.name().to_string(),
            reason: format!(
                "{} (the batch first failed with: {})",
                reason(&e),
                reason(batch_error)
            ),
        })
    }

    pub(crate) fn execute(&mut self, sql: &str) -> Result<u64, SinkError> {
        self.client
            .execute(sql, &[])
            .map_err(|e| SinkError::Database {
                table: "(a statement of the caller's)".into(),
                reason: format!("{} in {sql:?}", reason(&e)),
            })
    }

    pub(crate) fn count(&mut self, table: &Table, sql: &str) -> Result<u64, SinkError> {
        let row = self
            .client
            .query_one(sql, &[])
            .map_err(|e| database(table, &e))?;
        let n: i64 = row.try_get(0).map_err(|e| database(table, &e))?;
        Ok(n.max(0) as u64)
    }

    pub(crate) fn rows(&mut self, table: &Table) -> Result<Vec<Vec<Value>>, SinkError> {
        let rows = self
            .client
            .query(&table.select_sql(), &[])
            .map_err(|e| database(table, &e))?;
        rows.iter()
            .map(|r| {
                table
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        Ok(match c.kind() {
                            ColumnType::Integer => r.try_get::<_, Option<i64>>(i)?.into(),
                            ColumnType::Real => r.try_get::<_, Option<f64>>(i)?.into(),
                            ColumnType::Text => r.try_get::<_, Option<String>>(i)?.into(),
                            ColumnType::Blob => r.try_get::<_, Option<Vec<u8>>>(i)?.into(),
                        })
                    })
                    .collect::<Result<Vec<Value>, postgres::Error>>()
                    .map_err(|e| database(table, &e))
            })
            .collect()
    }
}

fn pg_type(kind: ColumnType) -> Type {
    match kind {
        ColumnType::Integer => Type::INT8,
        ColumnType::Real => Type::FLOAT8,
        ColumnType::Text => Type::TEXT,
        ColumnType::Blob => Type::BYTEA,
    }
}

/// A value as a parameter of its column's type (rows were checked, so an
/// integer in a real column is the only conversion).
fn param(v: &Value, kind: ColumnType) -> Box<dyn ToSql + Sync + '_> {
    match (v, kind) {
        (Value::Integer(i), ColumnType::Real) => Box::new(*i as f64),
        (Value::Integer(i), _) => Box::new(*i),
        (Value::Real(f), _) => Box::new(*f),
        (Value::Text(s), _) => Box::new(s.as_str()),
        (Value::Blob(b), _) => Box::new(b.as_slice()),
        (Value::Null, ColumnType::Integer) => Box::new(None::<i64>),
        (Value::Null, ColumnType::Real) => Box::new(None::<f64>),
        (Value::Null, ColumnType::Text) => Box::new(None::<&str>),
        (Value::Null, ColumnType::Blob) => Box::new(None::<&[u8]>),
    }
}

/// The server's message (with its detail) when there is one.
fn reason(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    }
}

fn database(table: &Table, e: &postgres::Error) -> SinkError {
    SinkError::Database {
        table: table.name().to_string(),
        reason: reason(e),
    }
}
