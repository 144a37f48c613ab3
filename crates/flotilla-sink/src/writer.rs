//! Rows collected and written a batch (one transaction) at a time.

use crate::error::SinkError;
use crate::sink::Sink;
use crate::table::Table;
use crate::value::Value;

/// Collects rows for one table and writes them in batches, each batch in
/// one transaction; made by [`Sink::writer`].
///
/// A row that does not fit the columns is refused as it is pushed, with
/// its number among the rows pushed so far. Rows still collected when the
/// writer is dropped are written then (errors cannot be reported there:
/// call [`finish`](TableWriter::finish) to see them).
///
/// ```
/// use flotilla_sink::{ColumnType, Sink, Table};
/// let sink = Sink::open("sqlite::memory:").unwrap();
/// let t = Table::new("t").column("n", ColumnType::Integer).key(["n"]);
/// sink.create(&t).unwrap();
/// let mut w = sink.writer(&t);
/// w.push(vec![1.into()]).unwrap();
/// assert_eq!(w.pending(), 1);
/// w.flush().unwrap();
/// assert_eq!((w.pending(), w.written()), (0, 1));
/// ```
#[derive(Debug)]
pub struct TableWriter {
    sink: Sink,
    table: Table,
    batch: Vec<Vec<Value>>,
    batch_rows: usize,
    /// Rows written (committed) so far.
    written: u64,
}

/// Rows per transaction unless [`TableWriter::batch_rows`] says otherwise.
const DEFAULT_BATCH_ROWS: usize = 1000;

impl TableWriter {
    pub(crate) fn new(sink: Sink, table: Table) -> TableWriter {
        TableWriter {
            sink,
            table,
            batch: Vec::new(),
            batch_rows: DEFAULT_BATCH_ROWS,
            written: 0,
        }
    }

    /// Rows per batch (transaction); 1,000 unless set, at least 1.
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, Table};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("n", ColumnType::Integer).key(["n"]);
    /// sink.create(&t).unwrap();
    /// let mut w = sink.writer(&t).batch_rows(2);
    /// w.push(vec![1.into()]).unwrap();
    /// w.push(vec![2.into()]).unwrap(); // a full batch: written now
    /// assert_eq!(w.written(), 2);
    /// ```
    pub fn batch_rows(mut self, rows: usize) -> TableWriter {
        self.batch_rows = rows.max(1);
        self
    }

    /// Adds a row, writing the batch when it is full.
    ///
    /// # Errors
    ///
    /// [`SinkError::Refused`] for a row that does not fit the columns (it
    /// is not kept) or, when the batch is written, for the row the
    /// database refuses (that batch is not written).
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, SinkError, Table};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("n", ColumnType::Integer).key(["n"]);
    /// sink.create(&t).unwrap();
    /// let mut w = sink.writer(&t);
    /// w.push(vec![1.into()]).unwrap();
    /// let err = w.push(vec!["x".into()]).unwrap_err();
    /// assert!(matches!(err, SinkError::Refused { row: 1, .. }));
    /// ```
    pub fn push(&mut self, row: Vec<Value>) -> Result<(), SinkError> {
        let number = self.written + self.batch.len() as u64;
        self.table
            .check_row(&row)
            .map_err(|reason| SinkError::Refused {
                table: self.table.name().to_string(),
                row: number,
                key: self.table.describe_key(&row),
                reason,
            })?;
        self.batch.push(row);
        if self.batch.len() >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the rows collected so far in one transaction.
    ///
    /// # Errors
    ///
    /// [`SinkError::Refused`] naming the row the database refused; the
    /// batch is kept, so a later `flush` tries it again.
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, Table};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("n", ColumnType::Integer).key(["n"]);
    /// sink.create(&t).unwrap();
    /// let mut w = sink.writer(&t);
    /// w.push(vec![7.into()]).unwrap();
    /// w.flush().unwrap();
    /// assert_eq!(sink.count(&t).unwrap(), 1);
    /// ```
    pub fn flush(&mut self) -> Result<(), SinkError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.sink
            .write_checked(&self.table, &self.batch, self.written)?;
        self.written += self.batch.len() as u64;
        self.batch.clear();
        Ok(())
    }

    /// Rows collected and not yet written.
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, Table};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("n", ColumnType::Integer).key(["n"]);
    /// sink.create(&t).unwrap();
    /// assert_eq!(sink.writer(&t).pending(), 0);
    /// ```
    pub fn pending(&self) -> usize {
        self.batch.len()
    }

    /// Rows written so far (a row pushed twice under one key counts twice).
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, Table};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("n", ColumnType::Integer).key(["n"]);
    /// sink.create(&t).unwrap();
    /// assert_eq!(sink.writer(&t).written(), 0);
    /// ```
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes the last batch; the number of rows written in all.
    ///
    /// # Errors
    ///
    /// As [`flush`](TableWriter::flush).
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Sink, Table};
    /// let sink = Sink::open("sqlite::memory:").unwrap();
    /// let t = Table::new("t").column("n", ColumnType::Integer).key(["n"]);
    /// sink.create(&t).unwrap();
    /// let mut w = sink.writer(&t);
    /// w.push(vec![1.into()]).unwrap();
    /// assert_eq!(w.finish().unwrap(), 1);
    /// ```
    pub fn finish(mut self) -> Result<u64, SinkError> {
        self.flush()?;
        Ok(self.written)
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        // Best effort: `finish` is where a failure is reported.
        let _ = self.flush();
    }
}
