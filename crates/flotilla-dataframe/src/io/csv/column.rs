//! Column builders: one per column read, filled field by field, finished
//! into an Arrow array.
//!
//! [`Column::push_field`] is the general parser, the one definition of what
//! a field means for each type; both tokenizers use it, and the quote-free
//! fast path ([`super::fast`]) calls it for every field its inline number
//! parsing does not settle, so the two paths agree by construction:
//!
//! | type | accepted text |
//! |------|---------------|
//! | `Int64` | `[+-]?[0-9]+`, within range |
//! | `Float64` | what `str::parse::<f64>` accepts (`1.5`, `-.5`, `1e-3`, `inf`, `NaN`), correctly rounded |
//! | `Boolean` | `true` / `false`, any case |
//! | `Utf8` | any UTF-8 text (checked once per column, when finished) |
//! | other primitives | arrow-cast's parser for the type (dates, timestamps, narrower numbers) |
//!
//! A field equal to one of the null tokens (by default the usual spellings
//! of a missing value: see [`DEFAULT_NULL_VALUES`](super::super::DEFAULT_NULL_VALUES))
//! is null, whatever the type.

use std::fmt;
use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Date64Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float16Type, Float32Type, Int16Type, Int32Type,
    Int8Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, BooleanArray, Float64Array, Int64Array, PrimitiveArray,
    StringArray,
};
use arrow_buffer::{BooleanBufferBuilder, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_cast::parse::Parser;
use arrow_schema::{DataType, TimeUnit};

use super::fast::{lex_f64, lex_i64};

/// The field texts that stand for null.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct NullTokens {
    /// Whether the empty field is null.
    empty: bool,
    /// The other tokens.
    others: Vec<Box<[u8]>>,
}

impl NullTokens {
    pub(super) fn new(tokens: &[String]) -> NullTokens {
        NullTokens {
            empty: tokens.iter().any(String::is_empty),
            others: tokens
                .iter()
                .filter(|t| !t.is_empty())
                .map(|t| t.as_bytes().into())
                .collect(),
        }
    }

    /// Whether `field` is null.
    #[inline]
    pub(super) fn is_null(&self, field: &[u8]) -> bool {
        if field.is_empty() {
            return self.empty;
        }
        !self.others.is_empty() && self.others.iter().any(|t| **t == *field)
    }

    /// Whether some token other than the empty one is accepted by `valid`.
    fn any_other(&self, valid: impl Fn(&[u8]) -> bool) -> bool {
        self.others.iter().any(|t| valid(t))
    }
}

/// A field that does not parse as its column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadValue;

/// The values of one column, by type.
///
/// An explicit tag (`repr(u8)`) rather than one folded into a vector's
/// capacity: the fast path matches on it for every field.
#[repr(u8)]
pub(super) enum Values {
    Int64(Vec<i64>),
    Float64(Vec<f64>),
    Boolean(BooleanBufferBuilder),
    /// Text: `offsets[i]..offsets[i + 1]` of `bytes` is value `i`. Finished
    /// as `Utf8`, then cast when the column is `LargeUtf8` or `Utf8View`.
    Utf8 {
        offsets: Vec<i32>,
        bytes: Vec<u8>,
    },
    /// Any other primitive type, with arrow-cast's parser.
    Parsed(Box<dyn ParsedValues>),
    /// A column not read.
    Skip,
}

impl fmt::Debug for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, len) = match self {
            Values::Int64(v) => ("Int64", v.len()),
            Values::Float64(v) => ("Float64", v.len()),
            Values::Boolean(v) => ("Boolean", v.len()),
            Values::Utf8 { offsets, .. } => ("Utf8", offsets.len() - 1),
            Values::Parsed(p) => ("Parsed", p.len()),
            Values::Skip => ("Skip", 0),
        };
        write!(f, "{name}[{len}]")
    }
}

/// Values of a primitive type parsed by arrow-cast.
pub(super) trait ParsedValues: Send {
    /// Parses and appends `text`; false when it is not a valid value.
    fn push(&mut self, text: &str) -> bool;
    /// Appends a placeholder for a null.
    fn push_default(&mut self);
    /// Values so far.
    fn len(&self) -> usize;
    /// Keeps the first `len` values.
    fn truncate(&mut self, len: usize);
    /// The array, with `nulls`.
    fn finish(&mut self, nulls: Option<NullBuffer>) -> ArrayRef;
}

struct ParsedColumn<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    data_type: DataType,
}

impl<T: Parser> ParsedValues for ParsedColumn<T> {
    fn push(&mut self, text: &str) -> bool {
        match T::parse(text) {
            Some(v) => {
                self.values.push(v);
                true
            }
            None => false,
        }
    }

    fn push_default(&mut self) {
        self.values.push(T::Native::default());
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
    }

    fn finish(&mut self, nulls: Option<NullBuffer>) -> ArrayRef {
        let values = ScalarBuffer::from(std::mem::take(&mut self.values));
        Arc::new(PrimitiveArray::<T>::new(values, nulls).with_data_type(self.data_type.clone()))
    }
}

fn parsed<T: Parser>(data_type: &DataType, capacity: usize) -> Values {
    Values::Parsed(Box::new(ParsedColumn::<T> {
        values: Vec::with_capacity(capacity),
        data_type: data_type.clone(),
    }))
}

/// Whether a column of `data_type` can be read from text.
pub(super) fn is_supported(data_type: &DataType) -> bool {
    Values::new(data_type, 0).is_some()
}

impl Values {
    /// Empty values for `data_type`, or `None` for a type not read from
    /// text.
    fn new(data_type: &DataType, capacity: usize) -> Option<Values> {
        use DataType as D;
        Some(match data_type {
            D::Int64 => Values::Int64(Vec::with_capacity(capacity)),
            D::Float64 => Values::Float64(Vec::with_capacity(capacity)),
            D::Boolean => Values::Boolean(BooleanBufferBuilder::new(capacity)),
            D::Utf8 | D::LargeUtf8 | D::Utf8View => {
                let mut offsets = Vec::with_capacity(capacity + 1);
                offsets.push(0);
                Values::Utf8 {
                    offsets,
                    bytes: Vec::new(),
                }
            }
            D::Int8 => parsed::<Int8Type>(data_type, capacity),
            D::Int16 => parsed::<Int16Type>(data_type, capacity),
            D::Int32 => parsed::<Int32Type>(data_type, capacity),
            D::UInt8 => parsed::<UInt8Type>(data_type, capacity),
            D::UInt16 => parsed::<UInt16Type>(data_type, capacity),
            D::UInt32 => parsed::<UInt32Type>(data_type, capacity),
            D::UInt64 => parsed::<UInt64Type>(data_type, capacity),
            D::Float16 => parsed::<Float16Type>(data_type, capacity),
            D::Float32 => parsed::<Float32Type>(data_type, capacity),
            D::Date32 => parsed::<Date32Type>(data_type, capacity),
            D::Date64 => parsed::<Date64Type>(data_type, capacity),
            D::Timestamp(TimeUnit::Second, _) => parsed::<TimestampSecondType>(data_type, capacity),
            D::Timestamp(TimeUnit::Millisecond, _) => {
                parsed::<TimestampMillisecondType>(data_type, capacity)
            }
            D::Timestamp(TimeUnit::Microsecond, _) => {
                parsed::<TimestampMicrosecondType>(data_type, capacity)
            }
            D::Timestamp(TimeUnit::Nanosecond, _) => {
                parsed::<TimestampNanosecondType>(data_type, capacity)
            }
            D::Time32(TimeUnit::Second) => parsed::<Time32SecondType>(data_type, capacity),
            D::Time32(TimeUnit::Millisecond) => {
                parsed::<Time32MillisecondType>(data_type, capacity)
            }
            D::Time64(TimeUnit::Microsecond) => {
                parsed::<Time64MicrosecondType>(data_type, capacity)
            }
            D::Time64(TimeUnit::Nanosecond) => parsed::<Time64NanosecondType>(data_type, capacity),
            D::Duration(TimeUnit::Second) => parsed::<DurationSecondType>(data_type, capacity),
            D::Duration(TimeUnit::Millisecond) => {
                parsed::<DurationMillisecondType>(data_type, capacity)
            }
            D::Duration(TimeUnit::Microsecond) => {
                parsed::<DurationMicrosecondType>(data_type, capacity)
            }
            D::Duration(TimeUnit::Nanosecond) => {
                parsed::<DurationNanosecondType>(data_type, capacity)
            }
            _ => return None,
        })
    }
}

/// Why a column could not be finished: value `row` is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FinishError {
    /// The value at this row (0-based, in the partition) is not UTF-8.
    InvalidUtf8 { row: usize },
    /// The column holds more than `i32::MAX` bytes of text.
    TooLarge,
}

/// One column of the file being read (or skipped).
///
/// Nulls are kept as the list of their rows and turned into a validity
/// bitmap when the column is finished: a value costs no bookkeeping beyond
/// its own push.
#[derive(Debug)]
pub(super) struct Column {
    pub(super) values: Values,
    /// The rows holding a null, in increasing order.
    null_rows: Vec<usize>,
    data_type: DataType,
    /// Whether the fast path may parse this column's numbers inline: no
    /// null token is itself a number.
    pub(super) inline_numbers: bool,
}

impl Column {
    /// An empty column of `data_type` (a supported type: see
    /// [`is_supported`]), sized for about `capacity` rows.
    pub(super) fn new(data_type: &DataType, capacity: usize, nulls: &NullTokens) -> Column {
        let values = Values::new(data_type, capacity).unwrap_or(Values::Skip);
        // Only a token the inline parsers would take whole matters: `NaN`
        // is a null token, but not one they read.
        let inline_numbers = match data_type {
            DataType::Int64 => {
                !nulls.any_other(|t| matches!(lex_i64(t, 0), (Some(_), end) if end == t.len()))
            }
            DataType::Float64 => {
                !nulls.any_other(|t| matches!(lex_f64(t, 0), (Some(_), end) if end == t.len()))
            }
            _ => true,
        };
        Column {
            values,
            null_rows: Vec::new(),
            data_type: data_type.clone(),
            inline_numbers,
        }
    }

    /// A column of the file that is not read: its fields are only skipped.
    pub(super) fn skipped() -> Column {
        Column {
            values: Values::Skip,
            null_rows: Vec::new(),
            data_type: DataType::Null,
            inline_numbers: false,
        }
    }

    /// Whether the column is read.
    #[inline]
    pub(super) fn is_read(&self) -> bool {
        !matches!(self.values, Values::Skip)
    }

    /// The number of values so far.
    pub(super) fn len(&self) -> usize {
        match &self.values {
            Values::Skip => 0,
            Values::Int64(v) => v.len(),
            Values::Float64(v) => v.len(),
            Values::Boolean(v) => v.len(),
            Values::Utf8 { offsets, .. } => offsets.len() - 1,
            Values::Parsed(p) => p.len(),
        }
    }

    /// Appends a null.
    #[inline]
    pub(super) fn push_null(&mut self) {
        self.null_rows.push(self.len());
        match &mut self.values {
            Values::Skip => {}
            Values::Int64(v) => v.push(0),
            Values::Float64(v) => v.push(0.0),
            Values::Boolean(v) => v.append(false),
            Values::Utf8 { offsets, bytes } => offsets.push(bytes.len() as i32),
            Values::Parsed(p) => p.push_default(),
        }
    }

    /// Keeps the first `len` values.
    pub(super) fn truncate(&mut self, len: usize) {
        while self.null_rows.last().is_some_and(|&row| row >= len) {
            self.null_rows.pop();
        }
        match &mut self.values {
            Values::Skip => {}
            Values::Int64(v) => v.truncate(len),
            Values::Float64(v) => v.truncate(len),
            Values::Boolean(v) => {
                if v.len() > len {
                    v.truncate(len);
                }
            }
            Values::Utf8 { offsets, bytes } => {
                offsets.truncate(len + 1);
                bytes.truncate(offsets.last().map_or(0, |&end| end as usize));
            }
            Values::Parsed(p) => p.truncate(len),
        }
    }

    /// Appends the value of `field` (unquoted already): null when it is a
    /// null token, else parsed by the column's type. A field that does not
    /// parse appends nothing.
    pub(super) fn push_field(&mut self, field: &[u8], nulls: &NullTokens) -> Result<(), BadValue> {
        if nulls.is_null(field) {
            self.push_null();
            return Ok(());
        }
        match &mut self.values {
            Values::Skip => {}
            Values::Int64(v) => v.push(parse_i64(field).ok_or(BadValue)?),
            Values::Float64(v) => v.push(parse_f64(field).ok_or(BadValue)?),
            Values::Boolean(v) => v.append(parse_bool(field).ok_or(BadValue)?),
            Values::Utf8 { offsets, bytes } => {
                bytes.extend_from_slice(field);
                offsets.push(bytes.len() as i32);
            }
            Values::Parsed(p) => {
                let text = std::str::from_utf8(field).map_err(|_| BadValue)?;
                if !p.push(text) {
                    return Err(BadValue);
                }
            }
        }
        Ok(())
    }

    /// The validity bitmap: `None` without nulls.
    fn validity(&mut self) -> Option<NullBuffer> {
        if self.null_rows.is_empty() {
            return None;
        }
        let mut valid = BooleanBufferBuilder::new(self.len());
        valid.append_n(self.len(), true);
        for &row in &self.null_rows {
            valid.set_bit(row, false);
        }
        self.null_rows.clear();
        Some(NullBuffer::new(valid.finish()))
    }

    /// The finished array; the builder is left empty. `None` for a skipped
    /// column.
    pub(super) fn finish(&mut self) -> Result<Option<ArrayRef>, FinishError> {
        let nulls = self.validity();
        Ok(Some(match &mut self.values {
            Values::Skip => return Ok(None),
            Values::Int64(v) => Arc::new(Int64Array::new(
                ScalarBuffer::from(std::mem::take(v)),
                nulls,
            )),
            Values::Float64(v) => Arc::new(Float64Array::new(
                ScalarBuffer::from(std::mem::take(v)),
                nulls,
            )),
            Values::Boolean(v) => Arc::new(BooleanArray::new(v.finish(), nulls)),
            Values::Utf8 { offsets, bytes } => {
                let text = finish_text(std::mem::take(offsets), std::mem::take(bytes), nulls)?;
                if self.data_type == DataType::Utf8 {
                    text
                } else {
                    // LargeUtf8 / Utf8View: a cast of valid text cannot fail.
                    arrow_cast::cast(&text, &self.data_type).unwrap_or(text)
                }
            }
            Values::Parsed(p) => p.finish(nulls),
        }))
    }
}

/// A `Utf8` array of `offsets` into `bytes`, or the first row that is not
/// valid UTF-8.
fn finish_text(
    offsets: Vec<i32>,
    bytes: Vec<u8>,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, FinishError> {
    if bytes.len() > i32::MAX as usize {
        return Err(FinishError::TooLarge);
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    let values = Buffer::from_vec(bytes);
    // Arrow checks the UTF-8 (and that no value is cut inside a
    // character); the buffers are shared, not copied, for the error path.
    match StringArray::try_new(offsets.clone(), values.clone(), nulls) {
        Ok(array) => Ok(Arc::new(array)),
        Err(_) => {
            let bytes = values.as_slice();
            let row = match std::str::from_utf8(bytes) {
                Err(e) => first_invalid_row(&offsets, e.valid_up_to()),
                Ok(_) => offsets
                    .windows(2)
                    .position(|w| {
                        std::str::from_utf8(&bytes[w[0] as usize..w[1] as usize]).is_err()
                    })
                    .unwrap_or(0),
            };
            Err(FinishError::InvalidUtf8 { row })
        }
    }
}

/// The row whose value holds byte `at`.
fn first_invalid_row(offsets: &[i32], at: usize) -> usize {
    // offsets[row] <= at < offsets[row + 1]
    offsets
        .partition_point(|&o| (o as usize) <= at)
        .saturating_sub(1)
}

/// `[+-]?[0-9]+` as an `i64`, or `None` (also on overflow).
pub(super) fn parse_i64(field: &[u8]) -> Option<i64> {
    let (negative, digits) = match field.first()? {
        b'-' => (true, &field[1..]),
        b'+' => (false, &field[1..]),
        _ => (false, field),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(i64::from(d))?
        } else {
            value.checked_add(i64::from(d))?
        };
    }
    Some(value)
}

/// The correctly rounded `f64` of `field`, with the grammar of
/// `str::parse::<f64>`.
pub(super) fn parse_f64(field: &[u8]) -> Option<f64> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// `true` / `false` in any case.
pub(super) fn parse_bool(field: &[u8]) -> Option<bool> {
    if field.eq_ignore_ascii_case(b"true") {
        Some(true)
    } else if field.eq_ignore_ascii_case(b"false") {
        Some(false)
    } else {
        None
    }
}
