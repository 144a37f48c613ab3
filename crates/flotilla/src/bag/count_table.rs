//! [`CountTable`]: how many times each item occurs, counted a batch at a
//! time so that the cache misses of a large table overlap.
//!
//! Counting words is a lookup per item in a table too large for the cache
//! (50,000 words are about 1.6 MB of entries). Looked up one at a time, each
//! miss stalls the next item. Here items wait in a batch with their hashes;
//! a first pass touches the slot each will probe (independent loads that
//! the CPU keeps in flight together), the second pass does the lookups,
//! which then hit the cache. An open-addressing table with linear probing
//! and the full hash kept beside each entry: a slot's hash is compared
//! before its item, and growing never rehashes an item.

use std::hash::Hash;

use crate::hash::key_hash;

/// How many items wait before a batch is counted.
const BATCH: usize = 64;

/// Counts of items; see the [module docs](self).
pub(super) struct CountTable<T> {
    /// The hash of each slot's item with its low bit set; 0 for an empty
    /// slot. One cache line holds eight, so probing stays in it.
    hashes: Vec<u64>,
    entries: Vec<Option<(T, u64)>>,
    len: usize,
    batch: Vec<(u64, T)>,
}

impl<T: Hash + Eq> CountTable<T> {
    pub(super) fn new() -> Self {
        CountTable {
            hashes: vec![0; 1024],
            entries: (0..1024).map(|_| None).collect(),
            len: 0,
            batch: Vec::with_capacity(BATCH),
        }
    }

    /// Counts one more `x`.
    #[inline]
    pub(super) fn add(&mut self, x: T) {
        let h = key_hash(&x) | 1;
        self.batch.push((h, x));
        if self.batch.len() == BATCH {
            self.count_batch();
        }
    }

    fn count_batch(&mut self) {
        // Keep the load at most 1/2 once the whole batch is in.
        while (self.len + self.batch.len()) * 2 > self.hashes.len() {
            self.grow();
        }
        let mask = self.hashes.len() - 1;
        let mut touched = 0u64;
        for (h, _) in &self.batch {
            touched ^= self.hashes[*h as usize & mask];
        }
        std::hint::black_box(touched);
        for (h, x) in self.batch.drain(..) {
            let mut i = h as usize & mask;
            loop {
                let slot = self.hashes[i];
                if slot == 0 {
                    self.hashes[i] = h;
                    self.entries[i] = Some((x, 1));
                    self.len += 1;
                    break;
                }
                if slot == h {
                    if let Some((item, n)) = &mut self.entries[i] {
                        if *item == x {
                            *n += 1;
                            break;
                        }
                    }
                }
                i = (i + 1) & mask;
            }
        }
    }

    fn grow(&mut self) {
        let size = self.hashes.len() * 2;
        let hashes = std::mem::replace(&mut self.hashes, vec![0; size]);
        let entries = std::mem::replace(&mut self.entries, (0..size).map(|_| None).collect());
        let mask = size - 1;
        for (h, entry) in hashes.into_iter().zip(entries) {
            if h == 0 {
                continue;
            }
            let mut i = h as usize & mask;
            while self.hashes[i] != 0 {
                i = (i + 1) & mask;
            }
            self.hashes[i] = h;
            self.entries[i] = entry;
        }
    }

    /// Every distinct item with its count, in no particular order.
    pub(super) fn into_counts(mut self) -> impl Iterator<Item = (T, u64)> {
        self.count_batch();
        self.entries.into_iter().flatten()
    }
}

#[cfg(test)]
mod test {
    use super::CountTable;
    use std::collections::HashMap;

    #[test]
    fn counts_like_a_hash_map_through_growth_and_partial_batches() {
        for n in [0usize, 1, 63, 64, 65, 1000, 100_000] {
            let mut table = CountTable::new();
            let mut expected: HashMap<u64, u64> = HashMap::new();
            for i in 0..n as u64 {
                // Repeats, and keys whose hashes collide in the low bits.
                let x = (i * 7919) % 3001 + (i % 5) * (1 << 20);
                table.add(x);
                *expected.entry(x).or_default() += 1;
            }
            let got: HashMap<u64, u64> = table.into_counts().collect();
            assert_eq!(got, expected, "{n} items");
        }
    }
}
