//! What can go wrong writing rows, each error naming where.

/// An error of a [`Sink`](crate::Sink).
///
/// ```
/// let err = flotilla_sink::Sink::open("mysql://db").unwrap_err();
/// assert!(matches!(err, flotilla_sink::SinkError::Url { .. }));
/// assert!(err.to_string().contains("mysql://db"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The database address is not one this build understands.
    #[error("{url}: {reason}")]
    Url {
        /// The address as given (a password in it is hidden).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database could not be opened or reached.
    #[error("cannot open {target}: {reason}")]
    Connect {
        /// The database (a file, or an address without its password).
        target: String,
        /// Why.
        reason: String,
    },
    /// A table's description, or the table already in the database, does
    /// not fit.
    #[error("table {table}: {reason}")]
    Schema {
        /// The table.
        table: String,
        /// What does not fit.
        reason: String,
    },
    /// A row was refused (by the column types, or by the database); the
    /// batch holding it was rolled back, the batches before it are kept.
    #[error("table {table} refused row {row} ({key}): {reason}")]
    Refused {
        /// The table.
        table: String,
        /// The row's number among the rows given to the writer (from 0).
        row: u64,
        /// The row's key columns and values.
        key: String,
        /// Why it was refused.
        reason: String,
    },
    /// A statement other than a row's write failed (a transaction's
    /// commit, a query).
    #[error("table {table}: {reason}")]
    Database {
        /// The table.
        table: String,
        /// The database's message.
        reason: String,
    },
}
