//! [`Partitioner`]: which reduce partition a key goes to.

use std::hash::Hash;

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
            Partitioner::Hash => crate::hash::partition_of(key, partitions),
            Partitioner::Range(bounds) => bounds
                .partition_point(|b| b <= key)
                .min(partitions.saturating_sub(1)),
        }
    }
}
