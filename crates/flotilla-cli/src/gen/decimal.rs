//! Hand-written decimal formatting into a byte buffer.
//!
//! The generators print hundreds of millions of small integers; going through
//! `format!` or `write!` for each would cost more than drawing them. These
//! functions append the ASCII digits straight to the block buffer, two digits
//! per division.

/// The two-digit strings "00" to "99", back to back.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends the decimal digits of `value` (no sign, no padding) to `buf`.
#[inline]
pub(super) fn push_u64(buf: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while value >= 100 {
        let pair = (value % 100) as usize * 2;
        value /= 100;
        start -= 2;
        digits[start..start + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if value >= 10 {
        let pair = value as usize * 2;
        start -= 2;
        digits[start..start + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        start -= 1;
        digits[start] = b'0' + value as u8;
    }
    buf.extend_from_slice(&digits[start..]);
}

/// Appends `millionths / 10^6` with exactly six decimals to `buf`, e.g.
/// `-500_000` as `-0.500000` and `12_345_678` as `12.345678`.
#[inline]
pub(super) fn push_fixed6(buf: &mut Vec<u8>, millionths: i64) {
    if millionths < 0 {
        buf.push(b'-');
    }
    let magnitude = millionths.unsigned_abs();
    push_u64(buf, magnitude / 1_000_000);
    let fraction = (magnitude % 1_000_000) as usize;
    let (high, mid, low) = (fraction / 10_000, fraction / 100 % 100, fraction % 100);
    buf.extend_from_slice(&[
        b'.',
        PAIRS[high * 2],
        PAIRS[high * 2 + 1],
        PAIRS[mid * 2],
        PAIRS[mid * 2 + 1],
        PAIRS[low * 2],
        PAIRS[low * 2 + 1],
    ]);
}
