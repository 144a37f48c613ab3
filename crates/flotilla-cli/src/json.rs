//! The JSON lines of the workload runner, written by hand (flat objects only).

use std::fmt::Write as _;

/// A JSON value of a runner line.
#[derive(Debug, Clone)]
pub(crate) enum Json {
    Str(String),
    Num(f64),
    Int(i64),
    /// Already JSON (an object or a list).
    Raw(String),
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_string())
    }
}
impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::Str(s)
    }
}
impl From<f64> for Json {
    fn from(x: f64) -> Json {
        Json::Num(x)
    }
}
impl From<i64> for Json {
    fn from(x: i64) -> Json {
        Json::Int(x)
    }
}
impl From<usize> for Json {
    fn from(x: usize) -> Json {
        Json::Int(x as i64)
    }
}

fn escape(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `s` as a JSON string literal.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::new();
    escape(s, &mut out);
    out
}

/// One object on one line, keys in the order given.
pub(crate) fn line(fields: &[(&str, Json)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        escape(k, &mut s);
        s.push_str(": ");
        match v {
            Json::Str(x) => escape(x, &mut s),
            Json::Int(x) => {
                let _ = write!(s, "{x}");
            }
            Json::Num(x) if x.is_finite() => {
                // Round to 6 significant digits, as the peers' emitters do.
                let _ = write!(s, "{}", round_sig(*x, 6));
            }
            Json::Num(_) => s.push_str("null"),
            Json::Raw(x) => s.push_str(x),
        }
    }
    s.push('}');
    s
}

/// `x` rounded to `digits` significant digits.
pub(crate) fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let mag = x.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits - 1 - mag);
    (x * scale).round() / scale
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn writes_a_flat_object() {
        let l = line(&[
            ("workload", "W1".into()),
            ("seconds", 1.23456789.into()),
            ("n", 3usize.into()),
        ]);
        assert_eq!(l, r#"{"workload": "W1", "seconds": 1.23457, "n": 3}"#);
    }

    #[test]
    fn escapes_strings() {
        assert_eq!(line(&[("k", "a\"b\n".into())]), r#"{"k": "a\"b\n"}"#);
    }
}
