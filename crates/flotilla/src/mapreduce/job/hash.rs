//! The key hash and the partitioner: which reduce partition a key goes to.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A fixed, fast hash (multiply-rotate), the same in every task and every
/// run, so that a key always lands in the same partition.
#[derive(Default, Clone, Copy, Debug)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // Final avalanche so that low bits (used by `% R`) depend on all.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Whole little-endian words, the last one read overlapping the one
        // before it (so no partial copy: a short key is one or two loads).
        // Each load matches a store that wrote the key, so a key built just
        // before it is hashed is forwarded, not stalled on.
        let len = bytes.len();
        if len > 8 {
            let mut at = 0;
            while at + 8 < len {
                self.add(read_u64(bytes, at));
                at += 8;
            }
            self.add(read_u64(bytes, len - 8) ^ ((len as u64) << 56));
        } else if len >= 4 {
            let lo = u64::from(read_u32(bytes, 0));
            let hi = u64::from(read_u32(bytes, len - 4));
            self.add((lo | hi << 32) ^ ((len as u64) << 60));
        } else if len > 0 {
            // The first, middle and last bytes say all of up to 3 bytes.
            let w = u64::from(bytes[0])
                | u64::from(bytes[len / 2]) << 8
                | u64::from(bytes[len - 1]) << 16;
            self.add(w ^ ((len as u64) << 60));
        }
    }
    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// The little-endian `u64` at `at`; `bytes` holds at least `at + 8` bytes.
#[inline]
pub(super) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The little-endian `u32` at `at`; `bytes` holds at least `at + 4` bytes.
#[inline]
pub(super) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(w)
}

impl KeyHasher {
    #[inline]
    pub(super) fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
}

pub(super) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// How keys are spread over reduce partitions.
///
/// ```
/// use flotilla::mapreduce::Partitioner;
/// let p: Partitioner<u32> = Partitioner::Range(vec![10, 20]);
/// assert_eq!(p.partition(&5, 3), 0);
/// assert_eq!(p.partition(&10, 3), 1);
/// assert_eq!(p.partition(&25, 3), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Partitioner<K> {
    /// A fixed hash of the key modulo the number of reducers.
    #[default]
    Hash,
    /// Key ranges: partition `i` holds keys `>= bounds[i-1]` and
    /// `< bounds[i]`; so the concatenated output is sorted. Needs
    /// `bounds.len() + 1` reducers.
    Range(Vec<K>),
}

impl<K: Ord + Hash> Partitioner<K> {
    /// The partition of `key` among `partitions`.
    ///
    /// ```
    /// use flotilla::mapreduce::Partitioner;
    /// let p = Partitioner::Hash;
    /// assert!(p.partition(&"word", 4) < 4);
    /// ```
    pub fn partition(&self, key: &K, partitions: usize) -> usize {
        match self {
            Partitioner::Hash => {
                let mut h = KeyHasher::default();
                key.hash(&mut h);
                (h.finish() % partitions.max(1) as u64) as usize
            }
            Partitioner::Range(bounds) => bounds
                .partition_point(|b| b <= key)
                .min(partitions.saturating_sub(1)),
        }
    }
}
