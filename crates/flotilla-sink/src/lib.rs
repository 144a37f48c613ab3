//! Result sinks: a computation's rows written to SQLite or PostgreSQL in
//! batches, in transactions, idempotent on re-run.
//!
//! The design in one paragraph: a [`Table`] describes columns and a key;
//! a [`Sink`] (opened from an address: `sqlite:out.db` or
//! `postgres://…`) creates tables and writes rows as upserts by key, each
//! batch in one transaction; a [`TableWriter`] collects rows as a
//! computation yields them and writes a batch when it is full. Running the
//! computation again writes the same keys again and leaves one row each.
//! When the database refuses a row, the error names the table, the row's
//! number and its key, and the batches already written stay written.
//!
//! ```
//! use flotilla_sink::{ColumnType, Sink, Table};
//!
//! # fn main() -> Result<(), flotilla_sink::SinkError> {
//! let sink = Sink::open("sqlite::memory:")?;
//! let words = Table::new("words")
//!     .column("word", ColumnType::Text)
//!     .column("count", ColumnType::Integer)
//!     .key(["word"]);
//! sink.create(&words)?;
//! let mut w = sink.writer(&words).batch_rows(2);
//! for (word, n) in [("a", 3), ("b", 1), ("c", 2)] {
//!     w.push(vec![word.into(), n.into()])?;
//! }
//! w.finish()?;
//! assert_eq!(sink.count(&words)?, 3);
//! # Ok(())
//! # }
//! ```
//!
//! Features: `sqlite` (the default; SQLite compiled in) and `postgres`
//! (PostgreSQL over TCP, and [`LocalPostgres`] to start a private server).

mod error;
#[cfg(feature = "postgres")]
mod local_postgres;
#[cfg(feature = "postgres")]
mod postgres;
mod sink;
#[cfg(feature = "sqlite")]
mod sqlite;
mod table;
mod value;
mod writer;

pub use error::SinkError;
#[cfg(feature = "postgres")]
pub use local_postgres::LocalPostgres;
pub use sink::Sink;
pub use table::{Column, ColumnType, Table};
pub use value::Value;
pub use writer::TableWriter;

/// The address with any password replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_hidden_in_addresses() {
        assert_eq!(
            super::redact("postgres://me:secret@db:5432/x"),
            "postgres://me:***@db:5432/x"
        );
        assert_eq!(super::redact("postgres://me@db/x"), "postgres://me@db/x");
        assert_eq!(super::redact("sqlite:out.db"), "sqlite:out.db");
    }
}
