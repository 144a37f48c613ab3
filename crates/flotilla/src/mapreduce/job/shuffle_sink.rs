//! The map side of the shuffle: the in-map combiner in front of the
//! partitioned sort buffer.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;

use super::{FastMap, Job, Partitioner, ShuffleKey, ShuffleValue};
use crate::hash::key_hash;
use crate::mapreduce::sort::{PartitionedSortBuffer, SortOptions, SpillError};

/// The fold of a job's combiner, type-erased over the job.
pub(super) type CombineFn<V> = Arc<dyn Fn(&mut V, V) + Send + Sync>;

/// Where a map task's pairs go: an in-map combiner (when the job combines)
/// in front of a partitioned sort buffer. Generic over the pair types only,
/// so [`Emitter::emit`] pushes here directly, inlined into the mapper.
pub(crate) struct ShuffleSink<K, V> {
    pub(super) combiner: Option<CombineFn<V>>,
    pub(super) partitioner: Arc<Partitioner<K>>,
    pub(super) partitions: usize,
    pub(super) buffer: PartitionedSortBuffer<K, V>,
    /// A few keys combined by linear search before the hash table: for
    /// small fixed-size keys (a rating, a flag, a small id) this is several
    /// times cheaper than hashing.
    pub(super) front: Vec<Option<(K, V)>>,
    pub(super) combine: FastMap<K, V>,
    pub(super) combine_bytes: usize,
    pub(super) combine_budget: usize,
    pub(super) shuffled: u64,
    /// The first spill failure; it fails the task when the mapper returns.
    pub(super) failed: Option<SpillError>,
}

/// How many keys [`ShuffleSink`] combines by linear search.
pub(super) const FRONT_KEYS: usize = 16;

impl<K: ShuffleKey, V: ShuffleValue> ShuffleSink<K, V> {
    pub(super) fn new(
        combiner: Option<CombineFn<V>>,
        partitioner: &Arc<Partitioner<K>>,
        partitions: usize,
        options: SortOptions,
    ) -> Self {
        let combine_budget = options.budget() / 2;
        let mut buffer = PartitionedSortBuffer::new(partitions, options);
        if let Some(f) = &combiner {
            let f = Arc::clone(f);
            buffer = buffer.with_combiner(move |mut a, b| {
                f(&mut a, b);
                a
            });
        }
        ShuffleSink {
            combiner,
            partitioner: Arc::clone(partitioner),
            partitions,
            buffer,
            front: (0..FRONT_KEYS).map(|_| None).collect(),
            combine: FastMap::default(),
            combine_bytes: 0,
            combine_budget,
            shuffled: 0,
            failed: None,
        }
    }

    #[inline]
    pub(super) fn push(&mut self, key: K, value: V) {
        let Some(fold) = &self.combiner else {
            return self.push_uncombined(key, value);
        };
        if K::FIXED_SIZE.is_some() {
            // A direct-mapped cache of FRONT_KEYS slots, indexed by the
            // key's hash: one compare for the few hot keys of small jobs.
            let slot = (self.partitioner_hash(&key) as usize) % FRONT_KEYS;
            match &mut self.front[slot] {
                Some((k, acc)) if *k == key => {
                    fold(acc, value);
                    return;
                }
                // A key is in its slot or in the table, never both: it takes
                // an empty slot only if the table does not hold it.
                empty @ None if !self.combine.contains_key(&key) => {
                    *empty = Some((key, value));
                    return;
                }
                _ => {}
            }
        }
        match self.combine.get_mut(&key) {
            Some(acc) => fold(acc, value),
            None => self.insert_combined(key, value),
        }
    }

    /// [`push`](Self::push) with a borrowed key, made owned only when it
    /// is new to this task (or the job does not combine).
    #[inline]
    pub(super) fn push_ref<Q>(&mut self, key: &Q, value: V)
    where
        Q: Hash + Eq + ?Sized,
        K: Borrow<Q> + for<'q> From<&'q Q>,
    {
        if self.combiner.is_none() || K::FIXED_SIZE.is_some() {
            return self.push(K::from(key), value);
        }
        match (self.combine.get_mut(key), &self.combiner) {
            (Some(acc), Some(fold)) => fold(acc, value),
            _ => self.insert_combined(K::from(key), value),
        }
    }

    #[inline(never)]
    pub(super) fn push_uncombined(&mut self, key: K, value: V) {
        let p = self.partitioner.partition(&key, self.partitions);
        self.shuffled += 1;
        if let Err(e) = self.buffer.push(p, key, value) {
            self.failed.get_or_insert(e);
        }
    }

    /// A key new to the combine table; flushes the table to the sort
    /// buffer when it outgrows its half of the budget.
    #[inline(never)]
    pub(super) fn insert_combined(&mut self, key: K, value: V) {
        self.combine_bytes += key.approx_size() + value.approx_size() + 48;
        self.combine.insert(key, value);
        if self.combine_bytes > self.combine_budget {
            if let Err(e) = self.flush_combined() {
                self.failed.get_or_insert(e);
            }
        }
    }

    #[inline]
    pub(super) fn partitioner_hash(&self, key: &K) -> u64 {
        key_hash(key)
    }

    pub(super) fn flush_combined(&mut self) -> Result<(), SpillError> {
        let front: Vec<(K, V)> = self.front.iter_mut().filter_map(Option::take).collect();
        for (k, v) in front.into_iter().chain(self.combine.drain()) {
            let p = self.partitioner.partition(&k, self.partitions);
            self.shuffled += 1;
            self.buffer.push(p, k, v)?;
        }
        self.combine_bytes = 0;
        Ok(())
    }
}

/// The job's combiner as a type-erased fold, when it has one.
pub(super) fn combiner_of<J: Job>(job: &Arc<J>) -> Option<CombineFn<J::Value>> {
    if J::COMBINES {
        let job = Arc::clone(job);
        Some(Arc::new(move |acc: &mut J::Value, v: J::Value| {
            job.combine(acc, v)
        }))
    } else {
        None
    }
}
