//! [`group_by`](Bag::group_by): the spilling shuffle of the MapReduce jobs,
//! under a bag.
//!
//! Each map task pushes `(key, item)` into a
//! [`PartitionedSortBuffer`](crate::mapreduce::sort::PartitionedSortBuffer)
//! with one partition per output partition (by a hash of the key). Above the
//! memory budget of [`sort_options`](Bag::sort_options) the buffer sorts
//! and spills a run to disk, so a map task never holds more than its budget
//! of items. Reducer `r` merges the sorted runs of partition `r` from every
//! map task (k-way, in partition order, so the merge is stable) and groups
//! equal keys. Output partition `r` holds its groups, sorted by key.

use crate::mapreduce::sort::{merge_runs_with, PartitionedSortBuffer, SortedRun, SpillError};
use crate::mapreduce::{Partitioner, ShuffleKey, ShuffleValue};

use super::{Bag, BagError};

impl<T> Bag<T>
where
    T: ShuffleValue + Clone + Sync,
{
    /// Groups the items by `key`: a bag of `(key, items)` with one pair per
    /// distinct key, the items in their order in the bag — dask's `groupby`.
    ///
    /// Every item crosses the shuffle, through the external sort of the
    /// MapReduce jobs: a map task that holds more than its memory budget
    /// (64 MiB by default; see [`sort_options`](Bag::sort_options)) spills
    /// sorted runs to disk, and the reducers merge them. Each output
    /// partition (see [`shuffle_partitions`](Bag::shuffle_partitions)) holds
    /// its groups sorted by key, so one key's items must fit in memory. Keys
    /// and items are serialized only when spilled. To aggregate each group,
    /// [`fold_by`](Bag::fold_by) is much cheaper: it shuffles one partial
    /// value per key and partition instead of every item.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let words = Bag::from_iter(["apple", "bean", "avocado", "beet", "corn"], 2)
    ///     .map(str::to_string);
    /// let by_letter = words.group_by(|w| w.chars().next().unwrap_or(' '));
    /// let mut groups = by_letter.compute()?;
    /// groups.sort();
    /// assert_eq!(groups[0], ('a', vec!["apple".to_string(), "avocado".to_string()]));
    /// assert_eq!(groups.len(), 3);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn group_by<K, F>(&self, key: F) -> Bag<(K, Vec<T>)>
    where
        K: ShuffleKey,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        let map_options = self.settings.sort.clone();
        let merge_options = self.settings.sort.clone();
        self.shuffle(
            "group_by",
            move |items, outputs| {
                let mut buffer = PartitionedSortBuffer::new(outputs, map_options.clone());
                let partitioner = Partitioner::<K>::Hash;
                items.try_for_each(|x| {
                    let k = key(&x);
                    let p = partitioner.partition(&k, outputs);
                    buffer.push(p, k, x).map_err(BagError::from)
                })?;
                // Shared, so that a reducer reading its runs (and reading
                // them again if it runs again) copies no run whole.
                let mut runs = buffer.finish()?;
                runs.share();
                Ok(runs.into_partitions())
            },
            move |buckets: Vec<Vec<SortedRun<K, T>>>| {
                let runs = buckets.into_iter().flatten().collect();
                let groups = merge_runs_with(runs, &merge_options)?
                    .group_by_key()
                    .collect::<Result<Vec<_>, SpillError>>()?;
                Ok(groups)
            },
        )
    }
}
