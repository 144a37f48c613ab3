//! What a table looks like: its columns, their types and its key.
//!
//! A [`Table`] is a description, checked when a sink creates or writes
//! it; the same description serves SQLite and PostgreSQL, each spelling
//! the types its own way.

use crate::error::SinkError;

/// The type of a column.
///
/// ```
/// use flotilla_sink::ColumnType;
///
/// assert_eq!(ColumnType::Real.sqlite(), "REAL");
/// assert_eq!(ColumnType::Real.postgres(), "DOUBLE PRECISION");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// 64-bit integers (`INTEGER`, `BIGINT`).
    Integer,
    /// 64-bit floats (`REAL`, `DOUBLE PRECISION`).
    Real,
    /// Text (`TEXT`).
    Text,
    /// Bytes (`BLOB`, `BYTEA`).
    Blob,
}

impl ColumnType {
    /// The type's name in SQLite.
    ///
    /// ```
    /// assert_eq!(flotilla_sink::ColumnType::Blob.sqlite(), "BLOB");
    /// ```
    pub fn sqlite(self) -> &'static str {
        match self {
            ColumnType::Integer => "INTEGER",
            ColumnType::Real => "REAL",
            ColumnType::Text => "TEXT",
            ColumnType::Blob => "BLOB",
        }
    }

    /// The type's name in PostgreSQL.
    ///
    /// ```
    /// assert_eq!(flotilla_sink::ColumnType::Integer.postgres(), "BIGINT");
    /// ```
    pub fn postgres(self) -> &'static str {
        match self {
            ColumnType::Integer => "BIGINT",
            ColumnType::Real => "DOUBLE PRECISION",
            ColumnType::Text => "TEXT",
            ColumnType::Blob => "BYTEA",
        }
    }

    /// The name errors print.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Real => "real",
            ColumnType::Text => "text",
            ColumnType::Blob => "blob",
        }
    }
}

/// One column: its name and type.
///
/// ```
/// let t = flotilla_sink::Table::new("t").column("n", flotilla_sink::ColumnType::Integer);
/// assert_eq!(t.columns()[0].name(), "n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    name: String,
    kind: ColumnType,
}

impl Column {
    /// The column's name.
    ///
    /// ```
    /// let t = flotilla_sink::Table::new("t").column("n", flotilla_sink::ColumnType::Integer);
    /// assert_eq!(t.columns()[0].name(), "n");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column's type.
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Table};
    /// let t = Table::new("t").column("n", ColumnType::Integer);
    /// assert_eq!(t.columns()[0].kind(), ColumnType::Integer);
    /// ```
    pub fn kind(&self) -> ColumnType {
        self.kind
    }
}

/// A table rows are written to: a name, columns and the key columns that
/// identify a row. Writing a row whose key is already there replaces it
/// (an upsert), so writing the same rows twice leaves one copy.
///
/// ```
/// use flotilla_sink::{ColumnType, Table};
///
/// let images = Table::new("images")
///     .column("path", ColumnType::Text)
///     .column("width", ColumnType::Integer)
///     .key(["path"]);
/// assert_eq!(images.name(), "images");
/// assert_eq!(images.key_columns(), ["path"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    name: String,
    columns: Vec<Column>,
    key: Vec<String>,
}

impl Table {
    /// A table of that name with no columns yet.
    ///
    /// ```
    /// assert!(flotilla_sink::Table::new("t").columns().is_empty());
    /// ```
    pub fn new(name: &str) -> Table {
        Table {
            name: name.to_string(),
            columns: Vec::new(),
            key: Vec::new(),
        }
    }

    /// Adds a column.
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Table};
    /// let t = Table::new("t").column("a", ColumnType::Text).column("b", ColumnType::Real);
    /// assert_eq!(t.columns().len(), 2);
    /// ```
    pub fn column(mut self, name: &str, kind: ColumnType) -> Table {
        self.columns.push(Column {
            name: name.to_string(),
            kind,
        });
        self
    }

    /// Names the key columns (one or more), in order.
    ///
    /// ```
    /// use flotilla_sink::{ColumnType, Table};
    /// let t = Table::new("objects")
    ///     .column("path", ColumnType::Text)
    ///     .column("n", ColumnType::Integer)
    ///     .key(["path", "n"]);
    /// assert_eq!(t.key_columns(), ["path", "n"]);
    /// ```
    pub fn key<'a>(mut self, columns: impl IntoIterator<Item = &'a str>) -> Table {
        self.key = columns.into_iter().map(str::to_string).collect();
        self
    }

    /// The table's name.
    ///
    /// ```
    /// assert_eq!(flotilla_sink::Table::new("t").name(), "t");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The columns, in order.
    ///
    /// ```
    /// assert!(flotilla_sink::Table::new("t").columns().is_empty());
    /// ```
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The key columns' names.
    ///
    /// ```
    /// assert!(flotilla_sink::Table::new("t").key_columns().is_empty());
    /// ```
    pub fn key_columns(&self) -> &[String] {
        &self.key
    }

    /// Whether column `i` is part of the key.
    pub(crate) fn is_key(&self, i: usize) -> bool {
        self.key.iter().any(|k| *k == self.columns[i].name)
    }

    /// The positions of the key columns.
    pub(crate) fn key_positions(&self) -> Vec<usize> {
        self.key
            .iter()
            .filter_map(|k| self.columns.iter().position(|c| c.name == *k))
            .collect()
    }

    /// Checks names, columns and key: what a sink does before touching the
    /// database.
    pub(crate) fn validate(&self) -> Result<(), SinkError> {
        let bad = |reason: String| SinkError::Schema {
            table: self.name.clone(),
            reason,
        };
        check_identifier(&self.name).map_err(|r| bad(format!("the table name {r}")))?;
        if self.columns.is_empty() {
            return Err(bad("it has no columns".into()));
        }
        for (i, c) in self.columns.iter().enumerate() {
            check_identifier(&c.name).map_err(|r| bad(format!("column {} {r}", i + 1)))?;
            if self.columns[..i].iter().any(|o| o.name == c.name) {
                return Err(bad(format!("column {:?} appears twice", c.name)));
            }
        }
        if self.key.is_empty() {
            return Err(bad(
                "it has no key columns (rows are upserted by key; name them with Table::key)"
                    .into(),
            ));
        }
        for k in &self.key {
            if !self.columns.iter().any(|c| c.name == *k) {
                return Err(bad(format!("key column {k:?} is not one of its columns")));
            }
        }
        Ok(())
    }

    /// Checks one row against the columns; `Err` says what is wrong.
    pub(crate) fn check_row(&self, row: &[crate::Value]) -> Result<(), String> {
        if row.len() != self.columns.len() {
            return Err(format!(
                "it has {} values for {} columns",
                row.len(),
                self.columns.len()
            ));
        }
        for (i, (v, c)) in row.iter().zip(&self.columns).enumerate() {
            let fits = matches!(
                (v, c.kind),
                (crate::Value::Null, _)
                    | (
                        crate::Value::Integer(_),
                        ColumnType::Integer | ColumnType::Real
                    )
                    | (crate::Value::Real(_), ColumnType::Real)
                    | (crate::Value::Text(_), ColumnType::Text)
                    | (crate::Value::Blob(_), ColumnType::Blob)
            );
            if !fits {
                return Err(format!(
                    "column {:?} holds {} values, this row gives it {} {v}",
                    c.name,
                    c.kind.name(),
                    v.type_name()
                ));
            }
            if *v == crate::Value::Null && self.is_key(i) {
                return Err(format!("key column {:?} is NULL", c.name));
            }
        }
        Ok(())
    }

    /// The row's key, as errors print it: `path = 'a.png', n = 3`.
    pub(crate) fn describe_key(&self, row: &[crate::Value]) -> String {
        self.key_positions()
            .into_iter()
            .filter_map(|i| Some(format!("{} = {}", self.columns[i].name, row.get(i)?)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `"name"`, quoted for SQL (names were validated, so no escaping).
    pub(crate) fn quoted(&self) -> String {
        format!("\"{}\"", self.name)
    }

    /// The `CREATE TABLE IF NOT EXISTS` statement, with each column's type
    /// as `spell` names it.
    pub(crate) fn create_sql(&self, spell: fn(ColumnType) -> &'static str) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let not_null = if self.is_key(i) { " NOT NULL" } else { "" };
                format!("\"{}\" {}{not_null}", c.name, spell(c.kind))
            })
            .collect();
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}))",
            self.quoted(),
            cols.join(", "),
            self.quoted_key()
        )
    }

    fn quoted_key(&self) -> String {
        self.key
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `INSERT … VALUES (…), … ON CONFLICT (key) DO UPDATE SET …` for `rows`
    /// rows, placeholders written by `placeholder(n)` (1-based).
    pub(crate) fn upsert_sql(&self, rows: usize, placeholder: fn(usize) -> String) -> String {
        let names: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        let width = self.columns.len();
        let values: Vec<String> = (0..rows)
            .map(|r| {
                let cells: Vec<String> = (1..=width).map(|c| placeholder(r * width + c)).collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let updates: Vec<String> = (0..width)
            .filter(|&i| !self.is_key(i))
            .map(|i| format!("{0} = excluded.{0}", names[i]))
            .collect();
        let action = if updates.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!("DO UPDATE SET {}", updates.join(", "))
        };
        format!(
            "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) {action}",
            self.quoted(),
            names.join(", "),
            values.join(", "),
            self.quoted_key()
        )
    }

    /// `SELECT` of every column, ordered by key.
    pub(crate) fn select_sql(&self) -> String {
        let names: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        format!(
            "SELECT {} FROM {} ORDER BY {}",
            names.join(", "),
            self.quoted(),
            self.quoted_key()
        )
    }
}

/// Table and column names: a letter or `_`, then letters, digits and `_`
/// (at most 63, PostgreSQL's limit), so they need no escaping anywhere.
fn check_identifier(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || name.len() > 63 {
        return Err(format!(
            "{name:?} is not a plain name (a letter or _, then letters, digits or _; at most 63)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    fn images() -> Table {
        Table::new("images")
            .column("path", ColumnType::Text)
            .column("width", ColumnType::Integer)
            .column("score", ColumnType::Real)
            .key(["path"])
    }

    #[test]
    fn statements_are_spelled_for_each_database() {
        let t = images();
        assert_eq!(
            t.create_sql(ColumnType::postgres),
            "CREATE TABLE IF NOT EXISTS \"images\" (\"path\" TEXT NOT NULL, \"width\" BIGINT, \
             \"score\" DOUBLE PRECISION, PRIMARY KEY (\"path\"))"
        );
        assert_eq!(
            t.upsert_sql(2, |n| format!("${n}")),
            "INSERT INTO \"images\" (\"path\", \"width\", \"score\") VALUES ($1, $2, $3), \
             ($4, $5, $6) ON CONFLICT (\"path\") DO UPDATE SET \"width\" = excluded.\"width\", \
             \"score\" = excluded.\"score\""
        );
        let keys_only = Table::new("k").column("a", ColumnType::Text).key(["a"]);
        assert!(keys_only
            .upsert_sql(1, |_| "?".into())
            .ends_with("DO NOTHING"));
    }

    #[test]
    fn bad_descriptions_are_refused_with_what_is_wrong() {
        let msg = |t: Table| t.validate().unwrap_err().to_string();
        assert!(
            msg(Table::new("a b").column("x", ColumnType::Text).key(["x"])).contains("\"a b\"")
        );
        assert!(msg(Table::new("t").column("x", ColumnType::Text)).contains("no key"));
        assert!(msg(Table::new("t").column("x", ColumnType::Text).key(["y"])).contains("\"y\""));
        assert!(msg(Table::new("t")
            .column("x", ColumnType::Text)
            .column("x", ColumnType::Real)
            .key(["x"]))
        .contains("twice"));
        assert!(images().validate().is_ok());
    }

    #[test]
    fn rows_are_checked_against_the_columns() {
        let t = images();
        assert!(t.check_row(&["a".into(), 3.into(), 0.5.into()]).is_ok());
        assert!(t
            .check_row(&["a".into(), 3.into()])
            .unwrap_err()
            .contains("2 values for 3"));
        let wrong = t
            .check_row(&["a".into(), "wide".into(), Value::Null])
            .unwrap_err();
        assert!(
            wrong.contains("\"width\"") && wrong.contains("text"),
            "{wrong}"
        );
        assert!(t
            .check_row(&[Value::Null, 1.into(), 1.0.into()])
            .unwrap_err()
            .contains("key column \"path\" is NULL"));
        assert_eq!(
            t.describe_key(&["a.png".into(), 1.into(), 1.0.into()]),
            "path = 'a.png'"
        );
    }
}
