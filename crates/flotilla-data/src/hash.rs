//! The one key hash of flotilla, and the partition of a key.
//!
//! Every shuffle — a MapReduce job's, a bag's, a data frame's group-by, join
//! and sort, the map-reduce pattern's — sends a key to a partition with
//! [`partition_of`]: [`KeyHasher`] (fixed, fast, the same in every task,
//! process and run) then a second mix and a multiply-shift onto
//! `0..partitions`. The second mix makes the partition independent of the
//! bits a reducer's own hash table uses, so the keys of one partition still
//! spread over the whole table; the multiply-shift is uniform for any number
//! of partitions. Data frames hash whole rows of typed columns
//! (`dataframe::kernels`), then place them with [`partition_of_hash`].
//!
//! ```
//! use flotilla_data::hash::{key_hash, partition_of, partition_of_hash};
//!
//! let p = partition_of("word", 8);
//! assert!(p < 8);
//! assert_eq!(p, partition_of_hash(key_hash("word"), 8));
//! assert_eq!(key_hash(&42u64), key_hash(&42u64));
//! ```

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

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
fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The little-endian `u32` at `at`; `bytes` holds at least `at + 4` bytes.
#[inline]
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(w)
}

impl KeyHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
}

/// A hash map with flotilla's key hash.
///
/// ```
/// let mut m: flotilla_data::hash::FastMap<&str, u32> = Default::default();
/// m.insert("a", 1);
/// ```
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// A hash set with flotilla's key hash.
///
/// ```
/// let mut s: flotilla_data::hash::FastSet<u8> = Default::default();
/// assert!(s.insert(3));
/// ```
pub type FastSet<T> = HashSet<T, BuildHasherDefault<KeyHasher>>;

/// The hash of `key` with [`KeyHasher`].
///
/// ```
/// assert_ne!(flotilla_data::hash::key_hash("a"), flotilla_data::hash::key_hash("b"));
/// ```
#[inline]
pub fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    BuildHasherDefault::<KeyHasher>::default().hash_one(key)
}

/// The partition, in `0..partitions`, of a key whose hash is `hash`: a
/// second mix, then a multiply-shift onto the range. `partitions == 0` is
/// taken as 1.
///
/// ```
/// use flotilla_data::hash::partition_of_hash;
/// assert_eq!(partition_of_hash(12345, 1), 0);
/// assert!(partition_of_hash(u64::MAX, 7) < 7);
/// ```
#[inline]
pub fn partition_of_hash(hash: u64, partitions: usize) -> usize {
    let mixed = {
        let m = u128::from(hash ^ 0x1319_8A2E_0370_7344) * u128::from(0xA076_1D64_78BD_642F_u64);
        (m as u64) ^ ((m >> 64) as u64)
    };
    ((u128::from(mixed) * partitions.max(1) as u128) >> 64) as usize
}

/// The partition of `key` among `partitions`: the same for a key in every
/// task, process and run.
///
/// ```
/// let p = flotilla_data::hash::partition_of(&(3u8, "x"), 4);
/// assert!(p < 4);
/// ```
#[inline]
pub fn partition_of<K: Hash + ?Sized>(key: &K, partitions: usize) -> usize {
    partition_of_hash(key_hash(key), partitions)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn keys_spread_evenly_over_any_number_of_partitions() {
        for partitions in [1usize, 2, 3, 7, 16, 100] {
            let mut sizes = vec![0usize; partitions];
            for k in 0..20_000u64 {
                sizes[partition_of(&k, partitions)] += 1;
            }
            let mean = 20_000 / partitions;
            assert!(
                sizes
                    .iter()
                    .all(|&n| n > mean * 8 / 10 && n < mean * 12 / 10),
                "{partitions}: {sizes:?}"
            );
        }
    }

    #[test]
    fn strings_and_their_bytes_agree_and_short_keys_differ() {
        assert_eq!(key_hash("abc"), key_hash(&String::from("abc")));
        let words = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "abc",
            "abcd",
            "abcdefgh",
            "abcdefghi",
        ];
        let hashes: FastSet<u64> = words.iter().map(|w| key_hash(*w)).collect();
        assert_eq!(hashes.len(), words.len());
    }
}
