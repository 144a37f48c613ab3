//! Type inference from sample values.
//!
//! Each non-null value is classified — integer, decimal number, boolean,
//! date, timestamp or text — and a column's type is the join of its
//! values' classes in this lattice:
//!
//! ```text
//!                    Utf8
//!       ┌──────┬──────┴───────────┐
//!    Boolean  Float64       Timestamp(ns)
//!       │       │                 │
//!       │     Int64         Timestamp(µs)
//!       │       │                 │
//!       │       │              Date32
//!       └───────┴───── Null ──────┘
//! ```
//!
//! Integers and decimals make `Float64`; dates and timestamps make a
//! timestamp (nanoseconds when some value has more than six decimals of a
//! second); any other mix is text. A column with no value in the sample is
//! text. A value is an integer only if it fits an `i64` (a longer run of
//! digits, an identifier most likely, is text, not a rounded float).

use arrow_array::types::{Date32Type, TimestampNanosecondType};
use arrow_cast::parse::Parser;
use arrow_schema::{DataType, TimeUnit};

use super::column::{parse_bool, parse_f64, parse_i64};

/// A column's type as far as the sample tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Inferred {
    /// No value seen yet.
    Null,
    Boolean,
    Int64,
    Float64,
    Date32,
    TimestampMicros,
    TimestampNanos,
    Utf8,
}

impl Inferred {
    /// The class of one non-null value.
    pub(super) fn of(field: &[u8]) -> Inferred {
        if parse_i64(field).is_some() {
            Inferred::Int64
        } else if is_integer_text(field) {
            // Too long for an i64: an identifier, kept exact as text.
            Inferred::Utf8
        } else if looks_decimal(field) && parse_f64(field).is_some() {
            Inferred::Float64
        } else if parse_bool(field).is_some() {
            Inferred::Boolean
        } else if let Some(temporal) = temporal(field) {
            temporal
        } else {
            Inferred::Utf8
        }
    }

    /// The smallest type holding both.
    pub(super) fn join(self, other: Inferred) -> Inferred {
        use Inferred as I;
        let (low, high) = if self <= other {
            (self, other)
        } else {
            (other, self)
        };
        match (low, high) {
            _ if low == high => low,
            (I::Null, x) => x,
            (I::Int64, I::Float64) => I::Float64,
            (I::Date32, I::TimestampMicros | I::TimestampNanos) => high,
            (I::TimestampMicros, I::TimestampNanos) => high,
            _ => I::Utf8,
        }
    }

    /// Whether two files' types for one column may be joined: numeric
    /// widening and temporal widening are; a mix that only text can hold is
    /// a mismatch to settle with an explicit type.
    pub(super) fn compatible(self, other: Inferred) -> bool {
        let joined = self.join(other);
        joined != Inferred::Utf8
            || self == other
            || self == Inferred::Null
            || other == Inferred::Null
    }

    /// The Arrow type (text for a column without values).
    pub(super) fn data_type(self) -> DataType {
        match self {
            Inferred::Null | Inferred::Utf8 => DataType::Utf8,
            Inferred::Boolean => DataType::Boolean,
            Inferred::Int64 => DataType::Int64,
            Inferred::Float64 => DataType::Float64,
            Inferred::Date32 => DataType::Date32,
            Inferred::TimestampMicros => DataType::Timestamp(TimeUnit::Microsecond, None),
            Inferred::TimestampNanos => DataType::Timestamp(TimeUnit::Nanosecond, None),
        }
    }
}

/// How to read `value`, which is not a valid `data_type`, of column
/// `column`: a word that is not a value of the column's kind may mark a
/// missing value (a null token); else the type that holds it and the
/// column's values.
pub(in crate::io) fn hint(column: &str, data_type: &DataType, value: &[u8]) -> String {
    let kind = match data_type {
        t if t.is_integer() => Inferred::Int64,
        t if t.is_floating() => Inferred::Float64,
        DataType::Boolean => Inferred::Boolean,
        DataType::Date32 | DataType::Date64 => Inferred::Date32,
        DataType::Timestamp(_, _) => Inferred::TimestampMicros,
        _ => Inferred::Utf8,
    };
    let fits = Inferred::of(value).join(kind);
    let text = String::from_utf8_lossy(value);
    let set_type = format!(
        "set the column's type with CsvOptions::dtype({column:?}, DataType::{:?})",
        fits.data_type()
    );
    if fits == Inferred::Utf8 {
        format!(
            "if {text:?} stands for a missing value, read it as null with \
             CsvOptions::add_null_values([{text:?}]) (null_values replaces the defaults); \
             else {set_type}, or read bad values as null with bad_values_as_null(true)"
        )
    } else {
        format!("{set_type}, or read bad values as null with bad_values_as_null(true)")
    }
}

/// An optional sign and digits only.
fn is_integer_text(field: &[u8]) -> bool {
    let digits = match field.first() {
        Some(b'-' | b'+') => &field[1..],
        _ => field,
    };
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// Some digit, or `inf` / `nan` (any case): what `parse_f64` is then
/// asked to confirm. Keeps words like `infinity` from making a column
/// numeric.
fn looks_decimal(field: &[u8]) -> bool {
    let body = match field.first() {
        Some(b'-' | b'+') => &field[1..],
        _ => field,
    };
    body.iter().any(u8::is_ascii_digit)
        || body.eq_ignore_ascii_case(b"inf")
        || body.eq_ignore_ascii_case(b"nan")
}

/// `YYYY-MM-DD` is a date; `YYYY-MM-DD[T ]HH:MM[:SS[.fff]]` without a time
/// zone is a timestamp.
fn temporal(field: &[u8]) -> Option<Inferred> {
    let digits = |range: std::ops::Range<usize>| {
        field
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    let date_shape = digits(0..4)
        && field.get(4) == Some(&b'-')
        && digits(5..7)
        && field.get(7) == Some(&b'-')
        && digits(8..10);
    if !date_shape {
        return None;
    }
    let text = std::str::from_utf8(field).ok()?;
    if field.len() == 10 {
        return Date32Type::parse(text).map(|_| Inferred::Date32);
    }
    let time_shape = matches!(field.get(10), Some(b'T' | b' '))
        && digits(11..13)
        && field.get(13) == Some(&b':')
        && digits(14..16);
    if !time_shape {
        return None;
    }
    let rest = &field[16..];
    let decimals = match rest {
        [] => 0,
        [b':', s1, s2] if s1.is_ascii_digit() && s2.is_ascii_digit() => 0,
        [b':', s1, s2, b'.', fraction @ ..]
            if s1.is_ascii_digit()
                && s2.is_ascii_digit()
                && !fraction.is_empty()
                && fraction.iter().all(u8::is_ascii_digit) =>
        {
            fraction.len()
        }
        _ => return None,
    };
    TimestampNanosecondType::parse(text)?;
    Some(if decimals > 6 {
        Inferred::TimestampNanos
    } else {
        Inferred::TimestampMicros
    })
}
