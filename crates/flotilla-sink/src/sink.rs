//! A database rows go to, opened from an address; one connection shared
//! by every writer of the sink.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::SinkError;
use crate::table::Table;
use crate::value::Value;
use crate::writer::TableWriter;

/// A database that rows are written to: SQLite (a file, created if
/// missing) or PostgreSQL (a connection URL, with the `postgres` feature).
///
/// Every write is an upsert by the table's key inside a transaction, so
/// writing a computation's rows again after a crash or a re-run leaves one
/// copy of each. A `Sink` is cheap to clone: clones share the connection,
/// and several [`TableWriter`]s may fill different tables at once.
///
/// Addresses: `sqlite:PATH`, `sqlite://PATH`, a bare path ending in `.db`,
/// `.sqlite` or `.sqlite3`, `sqlite::memory:`; `postgres://…` or
/// `postgresql://…` (libpq's URL form).
///
/// ```
/// use flotilla_sink::{ColumnType, Sink, Table};
///
/// # fn main() -> Result<(), flotilla_sink::SinkError> {
/// let sink = Sink::open("sqlite::memory:")?;
/// let table = Table::new("squares")
///     .column("n", ColumnType::Integer)
///     .column("square", ColumnType::Integer)
///     .key(["n"]);
/// sink.create(&table)?;
/// let rows: Vec<_> = (0..10i64).map(|n| vec![n.into(), (n * n).into()]).collect();
/// sink.upsert(&table, &rows)?;
/// sink.upsert(&table, &rows)?; // again: still one row per key
/// assert_eq!(sink.count(&table)?, 10);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Sink {
    db: Arc<Mutex<Backend>>,
    target: Arc<str>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("target", &self.target)
            .finish()
    }
}

pub(crate) enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite(crate::sqlite::Db),
    #[cfg(feature = "postgres")]
    Postgres(Box<crate::postgres::Db>),
}

impl Sink {
    /// Opens the database at `url` (see the type's documentation for the
    /// forms); a SQLite file is created if missing.
    ///
    /// # Errors
    ///
    /// [`SinkError::Url`] for an address of no known database (or of one
    /// this build leaves out), [`SinkError::Connect`] when the database
    /// cannot be opened or reached.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("flotilla-sink-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("out.db");
    /// let sink = flotilla_sink::Sink::open(&format!("sqlite:{}", path.display())).unwrap();
    /// assert!(path.exists());
    /// assert!(sink.target().contains("out.db"));
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn open(url: &str) -> Result<Sink, SinkError> {
        let (backend, target) = open_backend(url)?;
        Ok(Sink {
            db: Arc::new(Mutex::new(backend)),
            target: target.into(),
        })
    }

    /// The database, as messages name it: `SQLite out.db`,
    /// `PostgreSQL postgres://user@host/db` (never a password).
    ///
    /// ```
    /// let sink = flotilla_sink::Sink::open("sqlite::memory:").unwrap();
    /// assert_eq!(sink.target(), "SQLite :memory:");
    /// ```
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Creates `table` if it is missing; if it exists, checks that it has
    /// every column of the description.
    ///
    /// # Errors
    ///
    /// [`SinkError::Schema`] for a description that is not valid (names,
    /// no key) or an existing table that lacks some of its columns,
    /// [`SinkError::Database`] when the database refuses the statement.
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, Table};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("k", ColumnType::Text).key(["k"]);
    /// sink.create(&t).unwrap();
    /// sink.create(&t).unwrap(); // already there: checked, kept
    /// let wider = Table::new("t").column("k", ColumnType::Text).column("v", ColumnType::Real).key(["k"]);
    /// assert!(sink.create(&wider).unwrap_err().to_string().contains("\"v\""));
    /// ```
    pub fn create(&self, table: &Table) -> Result<(), SinkError> {
        table.validate()?;
        let mut db = self.lock();
        let existing = match &mut *db {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(d) => d.create(table)?,
            #[cfg(feature = "postgres")]
            Backend::Postgres(d) => d.create(table)?,
        };
        let missing: Vec<&str> = table
            .columns()
            .iter()
            .map(|c| c.name())
            .filter(|c| !existing.iter().any(|e| e == c))
            .collect();
        if !missing.is_empty() {
            return Err(SinkError::Schema {
                table: table.name().to_string(),
                reason: format!(
                    "the table already in {} has no column {}",
                    self.target,
                    missing
                        .iter()
                        .map(|m| format!("{m:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        Ok(())
    }

    /// Writes `rows` (each one value per column, in the table's order) in
    /// one transaction: a row whose key is there already replaces it.
    ///
    /// # Errors
    ///
    /// [`SinkError::Refused`] naming the first row (its number in `rows`
    /// and its key) that does not fit the columns or that the database
    /// refuses; nothing of `rows` is then written.
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, SinkError, Table, Value};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("k", ColumnType::Text).column("n", ColumnType::Integer).key(["k"]);
    /// sink.create(&t).unwrap();
    /// let err = sink
    ///     .upsert(&t, &[vec!["a".into(), 1.into()], vec!["b".into(), "two".into()]])
    ///     .unwrap_err();
    /// assert!(matches!(err, SinkError::Refused { row: 1, .. }));
    /// assert!(err.to_string().contains("k = 'b'"));
    /// assert_eq!(sink.count(&t).unwrap(), 0);
    /// ```
    pub fn upsert(&self, table: &Table, rows: &[Vec<Value>]) -> Result<(), SinkError> {
        for (i, row) in rows.iter().enumerate() {
            table.check_row(row).map_err(|reason| SinkError::Refused {
                table: table.name().to_string(),
                row: i as u64,
                key: table.describe_key(row),
                reason,
            })?;
        }
        self.write_checked(table, rows, 0)
    }

    /// A writer that collects rows for `table` and writes them in batches
    /// (one transaction each). Call [`TableWriter::finish`] to write the
    /// last batch and see its outcome.
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, Table};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("n", ColumnType::Integer).key(["n"]);
    /// sink.create(&t).unwrap();
    /// let mut w = sink.writer(&t).batch_rows(100);
    /// for n in 0..250i64 {
    ///     w.push(vec![n.into()]).unwrap();
    /// }
    /// assert_eq!(w.finish().unwrap(), 250);
    /// assert_eq!(sink.count(&t).unwrap(), 250);
    /// ```
    pub fn writer(&self, table: &Table) -> TableWriter {
        TableWriter::new(self.clone(), table.clone())
    }

    /// How many rows `table` holds.
    ///
    /// # Errors
    ///
    /// [`SinkError::Database`] when the query fails (e.g. no such table).
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, Table};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("n", ColumnType::Integer).key(["n"]);
    /// assert!(sink.count(&t).is_err());
    /// sink.create(&t).unwrap();
    /// assert_eq!(sink.count(&t).unwrap(), 0);
    /// ```
    pub fn count(&self, table: &Table) -> Result<u64, SinkError> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.quoted());
        match &mut *self.lock() {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(d) => d.count(table, &sql),
            #[cfg(feature = "postgres")]
            Backend::Postgres(d) => d.count(table, &sql),
        }
    }

    /// Every row of `table`, ordered by its key.
    ///
    /// # Errors
    ///
    /// [`SinkError::Database`] when the query fails.
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, Table, Value};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("k", ColumnType::Text).column("x", ColumnType::Real).key(["k"]);
    /// sink.create(&t).unwrap();
    /// sink.upsert(&t, &[vec!["b".into(), 2.0.into()], vec!["a".into(), Value::Null]]).unwrap();
    /// assert_eq!(sink.rows(&t).unwrap(), [vec!["a".into(), Value::Null], vec!["b".into(), 2.0.into()]]);
    /// ```
    pub fn rows(&self, table: &Table) -> Result<Vec<Vec<Value>>, SinkError> {
        match &mut *self.lock() {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(d) => d.rows(table),
            #[cfg(feature = "postgres")]
            Backend::Postgres(d) => d.rows(table),
        }
    }

    /// Runs a statement of the caller's own (a `DELETE`, an index, a
    /// view) in its own transaction; the number of rows it changed. The
    /// statement is the caller's: flotilla neither checks nor quotes it.
    ///
    /// # Errors
    ///
    /// [`SinkError::Database`] with the database's message.
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, Table};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("n", ColumnType::Integer).key(["n"]);
    /// sink.create(&t).unwrap();
    /// sink.upsert(&t, &[vec![1.into()], vec![2.into()], vec![3.into()]]).unwrap();
    /// assert_eq!(sink.execute("DELETE FROM t WHERE n >= 2").unwrap(), 2);
    /// assert_eq!(sink.count(&t).unwrap(), 1);
    /// ```
    pub fn execute(&self, sql: &str) -> Result<u64, SinkError> {
        match &mut *self.lock() {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(d) => d.execute(sql),
            #[cfg(feature = "postgres")]
            Backend::Postgres(d) => d.execute(sql),
        }
    }

    /// Writes one batch of rows already checked against the columns;
    /// `first` is the number of `rows[0]` among everything the caller has
    /// written, for errors.
    pub(crate) fn write_checked(
        &self,
        table: &Table,
        rows: &[Vec<Value>],
        first: u64,
    ) -> Result<(), SinkError> {
        if rows.is_empty() {
            return Ok(());
        }
        table.validate()?;
        match &mut *self.lock() {
            // Row by row: a key met twice is simply written twice.
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(d) => d.write(table, &numbered(rows, first)),
            #[cfg(feature = "postgres")]
            Backend::Postgres(d) => d.write(table, &last_of_each_key(table, rows, first)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Backend> {
        // A panic while holding the lock leaves the connection usable
        // (an open transaction is rolled back when its guard drops).
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One row of a batch with its number among the caller's rows.
pub(crate) type Numbered<'a> = (u64, &'a [Value]);

/// Each row of a batch with its number.
fn numbered(rows: &[Vec<Value>], first: u64) -> Vec<Numbered<'_>> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| (first + i as u64, r.as_slice()))
        .collect()
}

/// The rows of a batch, keeping only the last row of each key: one
/// statement may not upsert a key twice (PostgreSQL refuses it), and the
/// last write wins as it would have row by row.
#[cfg(feature = "postgres")]
fn last_of_each_key<'a>(table: &Table, rows: &'a [Vec<Value>], first: u64) -> Vec<Numbered<'a>> {
    let keys = table.key_positions();
    let mut last: std::collections::HashMap<Vec<String>, usize> =
        std::collections::HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let key: Vec<String> = keys.iter().map(|&k| format!("{:?}", row[k])).collect();
        last.insert(key, i);
    }
    if last.len() == rows.len() {
        return numbered(rows, first);
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    keep.into_iter()
        .map(|i| (first + i as u64, rows[i].as_slice()))
        .collect()
}

fn open_backend(url: &str) -> Result<(Backend, String), SinkError> {
    let bad = |reason: &str| SinkError::Url {
        url: crate::redact(url),
        reason: reason.to_string(),
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let target = format!("PostgreSQL {}", crate::redact(url));
            return Ok((
                Backend::Postgres(Box::new(crate::postgres::Db::connect(url, &target)?)),
                target,
            ));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(bad(
            "this build of flotilla-sink has no PostgreSQL support (its `postgres` feature)",
        ));
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if [".db", ".sqlite", ".sqlite3"]
        .iter()
        .any(|ext| url.ends_with(ext))
        && !url.contains("://")
    {
        url
    } else {
        return Err(bad(
            "not a database address: use sqlite:PATH (or a path ending in .db) or postgres://…",
        ));
    };
    if path.is_empty() {
        return Err(bad("the SQLite address names no file"));
    }
    #[cfg(feature = "sqlite")]
    {
        let target = format!("SQLite {path}");
        Ok((
            Backend::Sqlite(crate::sqlite::Db::open(path, &target)?),
            target,
        ))
    }
    #[cfg(not(feature = "sqlite"))]
    Err(bad(
        "this build of flotilla-sink has no SQLite support (its `sqlite` feature)",
    ))
}
