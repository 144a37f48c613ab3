//! Fast byte search for `\n`, without a per-byte loop.
//!
//! Portable SWAR ("SIMD within a register"): each 64-bit word is XORed with
//! `\n` repeated, which turns newline bytes into zero bytes, and zero bytes
//! are flagged with carry tricks. [`find_newline`] uses the classic
//! `(x - 0x01..) & !x & 0x80..` test, which can flag a false byte only
//! *above* a true zero byte, so its lowest flag is exact; [`newline_mask`]
//! and [`count_newlines`] need every flag exact and use the carry-free
//! `0x7f` form. Words are read little-endian whatever the machine, so lower
//! bits are earlier bytes.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
const NEWLINES: u64 = ONES * b'\n' as u64;

/// Loads eight bytes starting at `bytes[0]`, little-endian.
#[inline(always)]
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(w)
}

/// Nonzero where `w` holds a newline byte; the lowest set bit is exact.
#[inline(always)]
fn newline_flags(w: u64) -> u64 {
    let x = w ^ NEWLINES;
    x.wrapping_sub(ONES) & !x & HIGHS
}

#[cfg(test)]
thread_local! {
    /// Bytes handed to [`find_newline`] on this thread: the tests check
    /// with it that no byte of a long line is searched again and again.
    pub(super) static SEARCHED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The index of the first `\n` in `hay`.
#[inline]
pub(super) fn find_newline(hay: &[u8]) -> Option<usize> {
    #[cfg(test)]
    SEARCHED.with(|searched| searched.set(searched.get() + hay.len() as u64));
    let mut base = 0;
    let mut blocks = hay.chunks_exact(16);
    for block in &mut blocks {
        let lo = newline_flags(word(block));
        let hi = newline_flags(word(&block[8..]));
        if lo | hi != 0 {
            let at = if lo != 0 {
                lo.trailing_zeros() / 8
            } else {
                8 + hi.trailing_zeros() / 8
            };
            return Some(base + at as usize);
        }
        base += 16;
    }
    blocks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|at| base + at)
}

/// Exactly the newline bytes of `w`, as the high bit of each byte: the
/// `0x7f` addition cannot carry from one byte into the next.
#[inline(always)]
fn newline_bytes(w: u64) -> u64 {
    let x = w ^ NEWLINES;
    !(((x & !HIGHS).wrapping_add(!HIGHS)) | x) & HIGHS
}

/// A bit per byte of `block` (64 bytes), set where it holds `\n`: bit `i`
/// for `block[i]`.
#[inline(always)]
pub(super) fn newline_mask(block: &[u8]) -> u64 {
    // Gathers the high bit of each byte (bit 8i + 7) into bit 56 + i; the
    // multiplier's partial products never collide, so nothing carries.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let mut mask = 0;
    for (i, chunk) in block[..64].chunks_exact(8).enumerate() {
        let flags = newline_bytes(word(chunk)) >> 7;
        mask |= (flags.wrapping_mul(GATHER) >> 56) << (8 * i);
    }
    mask
}

/// The number of `\n` bytes in `bytes`.
///
/// Per word, the exact newline flags shifted down to 0 or 1 per byte are
/// added into byte-wide counters, which are summed before any of them could
/// overflow.
pub(super) fn count_newlines(bytes: &[u8]) -> u64 {
    let mut total = 0u64;
    let mut batches = bytes.chunks_exact(8 * 255);
    for batch in &mut batches {
        let mut counters = 0u64;
        for chunk in batch.chunks_exact(8) {
            counters += newline_bytes(word(chunk)) >> 7;
        }
        // Pairs of byte counters into 16-bit lanes (each at most 510), then
        // the four lanes summed into the top one (at most 2040).
        const PAIRS: u64 = 0x00ff_00ff_00ff_00ff;
        let lanes = (counters & PAIRS) + ((counters >> 8) & PAIRS);
        total += lanes.wrapping_mul(0x0001_0001_0001_0001) >> 48;
    }
    let rest = batches.remainder();
    total + rest.iter().filter(|&&b| b == b'\n').count() as u64
}
