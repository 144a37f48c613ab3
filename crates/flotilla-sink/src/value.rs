//! One cell of a row: what a column holds, in the few types both SQLite
//! and PostgreSQL store alike.

use std::fmt;

/// The value of one column of one row.
///
/// The `From` conversions cover the usual Rust types, so a row is usually
/// written as `vec![path.into(), width.into(), score.into()]`; `None`
/// becomes [`Value::Null`].
///
/// ```
/// use flotilla_sink::Value;
///
/// assert_eq!(Value::from(3u32), Value::Integer(3));
/// assert_eq!(Value::from("a.png"), Value::Text("a.png".into()));
/// assert_eq!(Value::from(None::<f64>), Value::Null);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (SQL `NULL`); refused in a key column.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// A 64-bit float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// The name of this value's type, as errors print it.
    ///
    /// ```
    /// assert_eq!(flotilla_sink::Value::Real(0.5).type_name(), "real");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }

    /// The integer, if this is one.
    ///
    /// ```
    /// assert_eq!(flotilla_sink::Value::Integer(7).as_i64(), Some(7));
    /// assert_eq!(flotilla_sink::Value::Null.as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(v) => Some(*v),
            _ => None,
        }
    }

    /// The float (or integer, widened), if this is one.
    ///
    /// ```
    /// assert_eq!(flotilla_sink::Value::Integer(2).as_f64(), Some(2.0));
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Real(v) => Some(*v),
            Value::Integer(v) => Some(*v as f64),
            _ => None,
        }
    }

    /// The text, if this is text.
    ///
    /// ```
    /// assert_eq!(flotilla_sink::Value::from("x").as_str(), Some("x"));
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Integer(v) => write!(f, "{v}"),
            Value::Real(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "'{v}'"),
            Value::Blob(v) => write!(f, "<{} bytes>", v.len()),
        }
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Integer(i64::from(v))
            }
        }
    )*};
}
integers!(i8, i16, i32, i64, u8, u16, u32, bool);

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Real(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::Real(f64::from(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Blob(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}
