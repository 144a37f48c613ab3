//! The quote-free fast path: one pass that splits fields and parses
//! numbers in the same loop.
//!
//! It runs until the end of the block or until a field that starts with a
//! quote (a `"` inside an unquoted field is an ordinary byte for both
//! paths); the general tokenizer then takes over from that record. Machine
//! written files without quotes are read by this path alone, with no
//! separate scan for quotes.
//!
//! For an `Int64` or `Float64` column the digits are read eight bytes at a
//! time: one 64-bit word tells how many of its bytes are digits (SWAR: no
//! per-byte branch) and three multiplications give their value, as in
//! `fast_float`. The value is taken when the byte after the digits ends
//! the field. A decimal number of at most 19 digits whose mantissa `m` is
//! at most 2^53 and which has `k <= 22` decimals is `m / 10^k`: both
//! operands are exact in `f64`, so the one IEEE division is correctly
//! rounded — the classic exact fast path of decimal-to-binary conversion
//! (Clinger, 1990). Every other field (empty, with an exponent, a long
//! mantissa, a stray character, a null token) goes to the column's general
//! parser ([`Column::push_field`]), so both paths give the same values and
//! the same errors.

use super::column::{Column, Values};
use super::parse::{push, Dialect, Fault};
use super::tokenize::{
    blank_line, field_end, next_record, terminator, Record, Terminator, Unclosed,
};

/// Powers of ten exactly representable as `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Powers of ten as integers, to append a run of digits to a mantissa.
const POW10_INT: [u64; 20] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
    100_000_000_000_000_000,
    1_000_000_000_000_000_000,
    10_000_000_000_000_000_000,
];

/// What the fast path did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plain {
    /// Records read.
    pub(super) rows: usize,
    /// Where the record holding the first quoted field starts, if the fast
    /// path stopped there; the columns may hold part of that record.
    pub(super) quoted: Option<usize>,
}

/// Why a field was not read.
enum Unread {
    /// The value does not parse; the field ends at the position.
    Bad(usize),
    /// The field starts with a quote.
    Quoted,
}

/// Parses the records of `input` from `at` until the end, or until a field
/// that starts with a quote.
pub(super) fn parse_plain(
    input: &[u8],
    mut at: usize,
    dialect: &Dialect,
    columns: &mut [Column],
    bad: &mut u64,
) -> Result<Plain, Fault> {
    let width = columns.len();
    let last = width.saturating_sub(1);
    let mut rows = 0;
    while at < input.len() {
        let blank = blank_line(input, at);
        if blank > 0 {
            at += blank;
            continue;
        }
        let record = at;
        for (j, column) in columns.iter_mut().enumerate() {
            let ends = match field(input, at, dialect, column, bad) {
                Ok(ends) => Some(ends),
                Err(Unread::Quoted) => None,
                Err(Unread::Bad(end)) => {
                    return Err(bad_record(input, record, width, dialect.delimiter, rows)
                        .unwrap_or(Fault::BadValue {
                            record,
                            column: j,
                            value: input[at..end].to_vec(),
                        }))
                }
            };
            match ends {
                Some(Terminator::Delimiter(next)) if j < last => at = next,
                Some(Terminator::EndOfRecord(next)) if j == last => at = next,
                Some(_) => return Err(Fault::FieldCount { record, rows }),
                None => {
                    return Ok(Plain {
                        rows,
                        quoted: Some(record),
                    })
                }
            }
        }
        rows += 1;
    }
    Ok(Plain { rows, quoted: None })
}

/// What the general path reports first for the record at `record`, in
/// which the fast path found a bad value: an unclosed quote or a wrong
/// number of fields, if so (`rows` records were read before it).
#[cold]
fn bad_record(
    input: &[u8],
    record: usize,
    width: usize,
    delimiter: u8,
    rows: usize,
) -> Option<Fault> {
    let mut fields = Record::default();
    match next_record(input, record, delimiter, &mut fields) {
        Err(Unclosed) => Some(Fault::Unclosed { record }),
        Ok(_) if fields.len() != width => Some(Fault::FieldCount { record, rows }),
        Ok(_) => None,
    }
}

/// What ends the field ending at `end` (found by [`field_end`], so it does
/// end there).
#[inline(always)]
fn end_of_field(input: &[u8], end: usize, delimiter: u8) -> Terminator {
    terminator(input, end, delimiter).unwrap_or(Terminator::EndOfRecord(end))
}

/// Reads the field at `at` into `column`; returns how it ends.
#[inline(always)]
fn field(
    input: &[u8],
    at: usize,
    dialect: &Dialect,
    column: &mut Column,
    bad: &mut u64,
) -> Result<Terminator, Unread> {
    let delimiter = dialect.delimiter;
    if column.inline_numbers {
        match &mut column.values {
            Values::Int64(values) => {
                if let (Some(v), end) = lex_i64(input, at) {
                    if let Some(ends) = terminator(input, end, delimiter) {
                        values.push(v);
                        return Ok(ends);
                    }
                }
            }
            Values::Float64(values) => {
                if let (Some(v), end) = lex_f64(input, at) {
                    if let Some(ends) = terminator(input, end, delimiter) {
                        values.push(v);
                        return Ok(ends);
                    }
                }
            }
            _ => {}
        }
    }
    if input.get(at) == Some(&b'"') {
        return Err(Unread::Quoted);
    }
    let end = field_end(input, at, delimiter);
    if !column.is_read() {
        return Ok(end_of_field(input, end, delimiter));
    }
    match push(column, &input[at..end], dialect, bad) {
        Ok(()) => Ok(end_of_field(input, end, delimiter)),
        Err(_) => Err(Unread::Bad(end)),
    }
}

/// Eight bytes from `at`, the first in the lowest byte; zeros past the end
/// of `input`.
#[inline(always)]
fn load8(input: &[u8], at: usize) -> u64 {
    let rest = input.get(at..).unwrap_or_default();
    match rest.first_chunk::<8>() {
        Some(word) => u64::from_le_bytes(*word),
        None => {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(word)
        }
    }
}

/// The value of eight digit values (0 to 9, one per byte, the most
/// significant in the lowest byte), by three multiplications.
#[inline(always)]
fn eight_digits(digits: u64) -> u64 {
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    // Pairs of digits, then pairs of pairs, then the two halves.
    let pairs = digits.wrapping_mul(10).wrapping_add(digits >> 8);
    let value = (pairs & MASK)
        .wrapping_mul(MUL1)
        .wrapping_add(((pairs >> 16) & MASK).wrapping_mul(MUL2))
        >> 32;
    value & 0xFFFF_FFFF
}

/// The run of ASCII digits at `at`, eight bytes at a time: its value (only
/// meaningful for at most 19 digits), its length, and where it stops.
#[inline(always)]
fn digits(input: &[u8], mut at: usize) -> (u64, usize, usize) {
    let mut value = 0u64;
    let mut count = 0;
    loop {
        // Digits become 0..=9; a byte is not a digit when its high nibble,
        // or that of the byte plus 6, is set. A carry out of a non-digit
        // byte can only mark bytes after it, so the lowest mark is exact.
        let word = load8(input, at) ^ 0x3030_3030_3030_3030;
        let marks = (word | word.wrapping_add(0x0606_0606_0606_0606)) & 0xF0F0_F0F0_F0F0_F0F0;
        let n = (marks.trailing_zeros() / 8) as usize;
        if n == 0 {
            break;
        }
        // The n digits to the top bytes, zeros (leading zeros) below.
        let chunk = eight_digits(word << (64 - 8 * n));
        value = value.wrapping_mul(POW10_INT[n]).wrapping_add(chunk);
        count += n;
        at += n;
        if n < 8 {
            break;
        }
    }
    (value, count, at)
}

/// An optional sign at `at`: whether it is `-`, and where the number
/// starts.
#[inline(always)]
fn sign(input: &[u8], at: usize) -> (bool, usize) {
    match input.get(at) {
        Some(b'-') => (true, at + 1),
        Some(b'+') => (false, at + 1),
        _ => (false, at),
    }
}

/// An optional sign and 1 to 18 digits at `at`: the value (which cannot
/// overflow) and where the digits stop; `None` for other text.
#[inline(always)]
pub(super) fn lex_i64(input: &[u8], at: usize) -> (Option<i64>, usize) {
    let (negative, at) = sign(input, at);
    let (value, count, end) = digits(input, at);
    if count == 0 || count > 18 {
        return (None, end);
    }
    let value = value as i64;
    (Some(if negative { -value } else { value }), end)
}

/// An optional sign, digits, and optionally `.` and more digits at `at`,
/// when exact by one division: the value and where the number stops;
/// `None` for other text.
#[inline(always)]
pub(super) fn lex_f64(input: &[u8], at: usize) -> (Option<f64>, usize) {
    let (negative, at) = sign(input, at);
    let (mut mantissa, mut count, mut end) = digits(input, at);
    let mut decimals = 0;
    if input.get(end) == Some(&b'.') {
        let (fraction, n, stop) = digits(input, end + 1);
        if n < POW10_INT.len() {
            mantissa = mantissa.wrapping_mul(POW10_INT[n]).wrapping_add(fraction);
        }
        decimals = n;
        count += n;
        end = stop;
    }
    // 19 digits cannot overflow a u64; up to 2^53 the mantissa is exact.
    if count == 0 || count > 19 || mantissa > (1 << 53) || decimals >= POW10.len() {
        return (None, end);
    }
    let value = mantissa as f64 / POW10[decimals];
    (Some(if negative { -value } else { value }), end)
}
