//! The reduce side: the k-way merge of sorted runs ([`merge_runs`]) and the
//! streams it yields ([`SortedRecords`], [`KeyGroup`], [`GroupedRecords`]).

use std::cmp::Ordering;
use std::collections::binary_heap::{BinaryHeap, PeekMut};
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::run::{RunSource, Segment, SortedRun};
use super::spill_file::{RunReader, RunWriter, SpillDir};
use super::{SortOptions, SortStats, SpillError};

/// Merges sorted runs into one stream in key order, with the default
/// [`SortOptions`]; see [`merge_runs_with`].
///
/// # Errors
/// Opening a spilled run, or decoding the first record of one, failed; or an
/// intermediate pass could not write its run.
///
/// ```
/// use flotilla_data::sort::{merge_runs, SortedRun};
///
/// // The outputs of two map tasks for one reducer, in map-task order:
/// let map0 = SortedRun::from_vec(vec![('a', 0), ('c', 0)]);
/// let map1 = SortedRun::from_vec(vec![('a', 1), ('b', 1)]);
/// let merged: Vec<_> = merge_runs(vec![map0, map1]).unwrap().map(Result::unwrap).collect();
/// assert_eq!(merged, [('a', 0), ('a', 1), ('b', 1), ('c', 0)]);
/// ```
pub fn merge_runs<K, V>(runs: Vec<SortedRun<K, V>>) -> Result<SortedRecords<K, V>, SpillError>
where
    K: Ord + Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    merge_runs_with(runs, &SortOptions::default())
}

/// Merges sorted runs into one stream in key order.
///
/// Equal keys come out in run order (all of run 0's, then run 1's, ...) and,
/// within a run, in the order they were pushed: give the runs of several map
/// tasks in map-task order, each task's runs in the order it produced them,
/// and the merge is stable.
///
/// Runs in memory are merged as they are, without serialization; a single
/// run is streamed directly. Spilled runs are read through buffered readers
/// of [`read_buffer_bytes`](SortOptions::read_buffer_bytes), one frame at a
/// time. When there are more spilled runs than
/// [`merge_fan_in`](SortOptions::merge_fan_in), consecutive runs are first
/// merged into new spill files (next to the runs, or in
/// [`spill_dir`](SortOptions::spill_dir) if set) until the rest fit; those
/// passes are counted in the stream's [`stats`](SortedRecords::stats).
///
/// # Errors
/// Opening a spilled run, or decoding the first record of one, failed; or an
/// intermediate pass could not write its run.
///
/// ```
/// use flotilla_data::sort::{merge_runs_with, SortBuffer, SortOptions, SortedRun};
///
/// let options = SortOptions::new().budget_bytes(0).merge_fan_in(2);
/// let mut sorter = SortBuffer::new(options.clone());
/// for k in [5u32, 3, 4, 1] {
///     sorter.push(k, ()).unwrap(); // zero budget: every record is a run
/// }
/// let (mut runs, _) = sorter.into_runs().unwrap();
/// runs.push(SortedRun::from_vec(vec![(2, ())]));
/// let merged = merge_runs_with(runs, &options).unwrap();
/// assert!(merged.stats().intermediate_runs > 0);
/// let keys: Vec<u32> = merged.map(|r| r.unwrap().0).collect();
/// assert_eq!(keys, [1, 2, 3, 4, 5]);
/// ```
pub fn merge_runs_with<K, V>(
    runs: Vec<SortedRun<K, V>>,
    options: &SortOptions,
) -> Result<SortedRecords<K, V>, SpillError>
where
    K: Ord + Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    let mut stats = SortStats {
        records_in: runs.iter().map(SortedRun::records).sum(),
        ..SortStats::default()
    };
    let runs = reduce_fan_in(runs, options, &mut stats)?;
    let merger = Merger::new(runs, options.read_buffer_bytes)?;
    Ok(SortedRecords {
        source: Source {
            merger,
            head: None,
            failed: false,
        },
        group_key: None,
        group_first: None,
        stats,
    })
}

/// Merges consecutive blocks of runs into new spill files until at most
/// `merge_fan_in` spilled runs are left. Each pass merges only as many runs
/// as needed and starts after the previous pass's output, so no record is
/// rewritten more often than necessary. Merging a contiguous block keeps the
/// merge stable.
fn reduce_fan_in<K, V>(
    mut runs: Vec<SortedRun<K, V>>,
    options: &SortOptions,
    stats: &mut SortStats,
) -> Result<Vec<SortedRun<K, V>>, SpillError>
where
    K: Ord + Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    let fan_in = options.merge_fan_in.max(2);
    let mut caller_dir: Option<Arc<SpillDir>> = None;
    let mut from = 0;
    loop {
        let spilled = runs.iter().filter(|run| run.is_spilled()).count();
        if spilled <= fan_in {
            return Ok(runs);
        }
        let block_files = (spilled - fan_in + 1).min(fan_in);
        if runs[from..].iter().filter(|run| run.is_spilled()).count() < block_files {
            from = 0;
        }
        let mut end = from;
        let mut seen = 0;
        while seen < block_files {
            seen += usize::from(runs[end].is_spilled());
            end += 1;
        }
        let block: Vec<SortedRun<K, V>> = runs.drain(from..end).collect();
        let dir = match (&options.spill_dir, &caller_dir) {
            (Some(_), Some(dir)) => Arc::clone(dir),
            (Some(path), None) => Arc::clone(caller_dir.insert(SpillDir::at(path)?)),
            (None, _) => match block.iter().find_map(|run| match &run.source {
                RunSource::Spilled(segment) => Some(Arc::clone(segment.file.dir())),
                RunSource::Memory(_) | RunSource::Shared { .. } => None,
            }) {
                Some(dir) => dir,
                None => SpillDir::temporary()?,
            },
        };
        let merged = write_merged(block, &dir, options)?;
        stats.intermediate_runs += 1;
        stats.intermediate_bytes += merged.spilled_bytes();
        runs.insert(from, merged);
        from += 1;
    }
}

/// Merges `block` into one new spill file in `dir`. The block's own files
/// are released (and deleted, unless shared) as soon as it is read.
fn write_merged<K, V>(
    block: Vec<SortedRun<K, V>>,
    dir: &Arc<SpillDir>,
    options: &SortOptions,
) -> Result<SortedRun<K, V>, SpillError>
where
    K: Ord + Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    let mut merger = Merger::new(block, options.read_buffer_bytes)?;
    let mut writer = RunWriter::create(dir, options.write_buffer_bytes)?;
    let start = writer.position();
    let mut records = 0;
    while let Some((key, value)) = merger.next_record()? {
        writer.write_record(&key, &value)?;
        records += 1;
    }
    drop(merger);
    let end = writer.position();
    let file = writer.finish()?;
    Ok(SortedRun::spilled(Segment {
        file,
        start,
        end,
        records,
    }))
}

/// Reads one run during a merge.
enum Cursor<K, V> {
    Memory(std::vec::IntoIter<(K, V)>),
    /// A shared run, read by cloning each record.
    Shared {
        records: Arc<Vec<(K, V)>>,
        next: usize,
        clone: fn(&(K, V)) -> (K, V),
    },
    File(RunReader<K, V>),
    /// Exhausted: its memory or file handle (and file) are released.
    Done,
}

impl<K: DeserializeOwned, V: DeserializeOwned> Cursor<K, V> {
    fn open(run: SortedRun<K, V>, read_buffer_bytes: usize) -> Result<Self, SpillError> {
        Ok(match run.source {
            RunSource::Memory(records) => Cursor::Memory(records.into_iter()),
            // The last handle on a shared run moves its records out.
            RunSource::Shared { records, clone } => match Arc::try_unwrap(records) {
                Ok(records) => Cursor::Memory(records.into_iter()),
                Err(records) => Cursor::Shared {
                    records,
                    next: 0,
                    clone,
                },
            },
            RunSource::Spilled(segment) => Cursor::File(RunReader::open(
                segment.file,
                segment.start,
                segment.end,
                segment.records,
                read_buffer_bytes,
            )?),
        })
    }

    fn next_record(&mut self) -> Result<Option<(K, V)>, SpillError> {
        let next = match self {
            Cursor::Memory(records) => records.next(),
            Cursor::Shared {
                records,
                next,
                clone,
            } => {
                let record = records.get(*next).map(*clone);
                *next += 1;
                record
            }
            Cursor::File(reader) => reader.next_record()?,
            Cursor::Done => None,
        };
        if next.is_none() {
            *self = Cursor::Done;
        }
        Ok(next)
    }
}

/// The head record of run `run` in the merge heap.
///
/// Ordered so that `BinaryHeap` (a max-heap) pops the smallest key first and,
/// among equal keys, the earliest run: that tie-break is what makes the merge
/// stable. Values are never compared.
struct HeapEntry<K, V> {
    key: K,
    value: V,
    run: usize,
}

impl<K: Ord, V> Ord for HeapEntry<K, V> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .key
            .cmp(&self.key)
            .then_with(|| other.run.cmp(&self.run))
    }
}

impl<K: Ord, V> PartialOrd for HeapEntry<K, V> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Ord, V> PartialEq for HeapEntry<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K: Ord, V> Eq for HeapEntry<K, V> {}

/// The k-way merge itself.
enum Merger<K, V> {
    /// Zero or one run: streamed as it is, no heap.
    Single(Cursor<K, V>),
    /// Several runs: a heap holding each unexhausted run's head record.
    Heap {
        cursors: Vec<Cursor<K, V>>,
        heap: BinaryHeap<HeapEntry<K, V>>,
    },
}

impl<K: Ord + DeserializeOwned, V: DeserializeOwned> Merger<K, V> {
    fn new(runs: Vec<SortedRun<K, V>>, read_buffer_bytes: usize) -> Result<Self, SpillError> {
        let mut runs: Vec<SortedRun<K, V>> =
            runs.into_iter().filter(|run| !run.is_empty()).collect();
        if runs.len() <= 1 {
            return Ok(Merger::Single(match runs.pop() {
                Some(run) => Cursor::open(run, read_buffer_bytes)?,
                None => Cursor::Done,
            }));
        }
        let mut cursors = Vec::with_capacity(runs.len());
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for (run, sorted_run) in runs.into_iter().enumerate() {
            let mut cursor = Cursor::open(sorted_run, read_buffer_bytes)?;
            if let Some((key, value)) = cursor.next_record()? {
                heap.push(HeapEntry { key, value, run });
            }
            cursors.push(cursor);
        }
        Ok(Merger::Heap { cursors, heap })
    }

    fn next_record(&mut self) -> Result<Option<(K, V)>, SpillError> {
        match self {
            Merger::Single(cursor) => cursor.next_record(),
            Merger::Heap { cursors, heap } => {
                let Some(mut top) = heap.peek_mut() else {
                    return Ok(None);
                };
                let run = top.run;
                match cursors[run].next_record()? {
                    Some((key, value)) => {
                        // Replace the head in place: one sift-down instead of
                        // a pop and a push.
                        let old = std::mem::replace(&mut *top, HeapEntry { key, value, run });
                        Ok(Some((old.key, old.value)))
                    }
                    None => {
                        let old = PeekMut::pop(top);
                        Ok(Some((old.key, old.value)))
                    }
                }
            }
        }
    }
}

/// The merge plus a one-record lookahead, which the grouping needs.
struct Source<K, V> {
    merger: Merger<K, V>,
    head: Option<(K, V)>,
    /// Set after the first error: the stream then ends, and its runs are
    /// released.
    failed: bool,
}

impl<K: Ord + DeserializeOwned, V: DeserializeOwned> Source<K, V> {
    fn pull(&mut self) -> Result<Option<(K, V)>, SpillError> {
        if self.failed {
            return Ok(None);
        }
        let next = self.merger.next_record();
        if next.is_err() {
            self.failed = true;
            self.merger = Merger::Single(Cursor::Done);
        }
        next
    }

    fn next_record(&mut self) -> Result<Option<(K, V)>, SpillError> {
        match self.head.take() {
            Some(record) => Ok(Some(record)),
            None => self.pull(),
        }
    }

    /// The next record's value if its key is `key`.
    fn next_value_if(&mut self, key: &K) -> Result<Option<V>, SpillError> {
        if self.head.is_none() {
            self.head = self.pull()?;
        }
        match &self.head {
            Some((next, _)) if next == key => Ok(self.head.take().map(|(_, value)| value)),
            _ => Ok(None),
        }
    }
}

/// The merged stream of a sort or of [`merge_runs`]: `(K, V)` records in key
/// order, equal keys in push order.
///
/// Read it as an iterator of `Result<(K, V), SpillError>` (an error ends the
/// stream), key group by key group with [`next_group`](Self::next_group)
/// (streaming, constant memory however many values a key has), or as
/// `(K, Vec<V>)` with [`group_by_key`](Self::group_by_key) (simpler, but holds
/// all values of one key at once, and needed for secondary sort).
///
/// Dropping it early releases its runs, and deletes every spill file no
/// other run refers to.
///
/// ```
/// use flotilla_data::sort::{SortBuffer, SortOptions};
///
/// let mut sorter = SortBuffer::new(SortOptions::new());
/// sorter.push('b', 1).unwrap();
/// sorter.push('a', 2).unwrap();
/// let records = sorter.finish().unwrap();
/// let all: Result<Vec<_>, _> = records.collect();
/// assert_eq!(all.unwrap(), [('a', 2), ('b', 1)]);
/// ```
pub struct SortedRecords<K, V> {
    source: Source<K, V>,
    /// The key of the group last opened by `next_group`: the records still
    /// carrying it are skipped when the next group is opened.
    group_key: Option<K>,
    /// The first value of that group, until its `KeyGroup` yields it.
    group_first: Option<V>,
    stats: SortStats,
}

impl<K, V> fmt::Debug for SortedRecords<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SortedRecords")
            .field("failed", &self.source.failed)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<K, V> SortedRecords<K, V> {
    /// The counters of the sort or merge that produced the stream.
    ///
    /// ```
    /// use flotilla_data::sort::{merge_runs, SortedRun};
    ///
    /// let records = merge_runs(vec![SortedRun::from_vec(vec![(1, 1), (2, 2)])]).unwrap();
    /// assert_eq!(records.stats().records_in, 2);
    /// ```
    pub fn stats(&self) -> &SortStats {
        &self.stats
    }

    pub(crate) fn set_stats(&mut self, stats: SortStats) {
        self.stats = stats;
    }
}

impl<K, V> SortedRecords<K, V>
where
    K: Ord + DeserializeOwned,
    V: DeserializeOwned,
{
    /// Opens the next key's group: its key and an iterator over its values,
    /// streamed from the merge. Values the caller does not read are skipped
    /// when the next group is opened. `Ok(None)` at the end.
    ///
    /// # Errors
    /// Reading a spilled run failed.
    ///
    /// ```
    /// use flotilla_data::sort::{merge_runs, SortedRun};
    ///
    /// let run = SortedRun::from_vec(vec![('a', 1), ('b', 2), ('a', 3), ('c', 4)]);
    /// let mut records = merge_runs(vec![run]).unwrap();
    /// let mut sums = Vec::new();
    /// while let Some(mut group) = records.next_group().unwrap() {
    ///     let key = *group.key();
    ///     if key == 'b' {
    ///         continue; // skipped without reading its values
    ///     }
    ///     let sum: i32 = group.by_ref().map(Result::unwrap).sum();
    ///     sums.push((key, sum));
    /// }
    /// assert_eq!(sums, [('a', 4), ('c', 4)]);
    /// ```
    pub fn next_group(&mut self) -> Result<Option<KeyGroup<'_, K, V>>, SpillError> {
        self.group_first = None;
        if let Some(previous) = self.group_key.take() {
            while self.source.next_value_if(&previous)?.is_some() {}
        }
        match self.source.next_record()? {
            None => Ok(None),
            Some((key, value)) => {
                self.group_first = Some(value);
                Ok(Some(KeyGroup {
                    key: self.group_key.insert(key),
                    first: &mut self.group_first,
                    source: &mut self.source,
                }))
            }
        }
    }

    /// Groups the stream by key: `(key, values)` with the values in merge
    /// order. Each key's values are collected in a `Vec`, so one key's values
    /// must fit in memory; use [`next_group`](Self::next_group) to stream
    /// them instead.
    ///
    /// ```
    /// use flotilla_data::sort::{merge_runs, SortedRun};
    ///
    /// let run = SortedRun::from_vec(vec![('x', 2), ('y', 1), ('x', 1)]);
    /// let groups: Vec<_> = merge_runs(vec![run]).unwrap().group_by_key().map(Result::unwrap).collect();
    /// assert_eq!(groups, [('x', vec![2, 1]), ('y', vec![1])]);
    /// ```
    pub fn group_by_key(self) -> GroupedRecords<K, V> {
        GroupedRecords {
            records: self,
            order: ValueOrder::Merge,
        }
    }
}

impl<K, V> Iterator for SortedRecords<K, V>
where
    K: Ord + DeserializeOwned,
    V: DeserializeOwned,
{
    type Item = Result<(K, V), SpillError>;

    fn next(&mut self) -> Option<Self::Item> {
        // A group opened by `next_group` whose first value was not read yet:
        // hand that record out whole.
        if let (Some(value), Some(key)) = (self.group_first.take(), self.group_key.take()) {
            return Some(Ok((key, value)));
        }
        self.group_key = None;
        self.source.next_record().transpose()
    }
}

/// The values of one key, streamed from a merge: see
/// [`SortedRecords::next_group`]. Yields `Result<V, SpillError>`.
///
/// ```
/// use flotilla_data::sort::{merge_runs, SortedRun};
///
/// let mut records = merge_runs(vec![SortedRun::from_vec(vec![(7, 'a'), (7, 'b')])]).unwrap();
/// let group = records.next_group().unwrap().unwrap();
/// assert_eq!(*group.key(), 7);
/// assert_eq!(group.collect::<Result<String, _>>().unwrap(), "ab");
/// ```
pub struct KeyGroup<'a, K, V> {
    key: &'a K,
    first: &'a mut Option<V>,
    source: &'a mut Source<K, V>,
}

impl<K, V> fmt::Debug for KeyGroup<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyGroup").finish_non_exhaustive()
    }
}

impl<'a, K, V> KeyGroup<'a, K, V> {
    /// The group's key.
    ///
    /// ```
    /// use flotilla_data::sort::{merge_runs, SortedRun};
    ///
    /// let mut records = merge_runs(vec![SortedRun::from_vec(vec![('k', 1)])]).unwrap();
    /// assert_eq!(*records.next_group().unwrap().unwrap().key(), 'k');
    /// ```
    pub fn key(&self) -> &K {
        self.key
    }
}

impl<K, V> Iterator for KeyGroup<'_, K, V>
where
    K: Ord + DeserializeOwned,
    V: DeserializeOwned,
{
    type Item = Result<V, SpillError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(value) = self.first.take() {
            return Some(Ok(value));
        }
        self.source.next_value_if(self.key).transpose()
    }
}

/// A caller's order of values.
type ValueComparator<V> = Box<dyn FnMut(&V, &V) -> Ordering + Send>;

/// How the values of a group are ordered.
enum ValueOrder<V> {
    /// Merge order: run order, then push order.
    Merge,
    /// `V`'s own order (stable).
    Natural(fn(&V, &V) -> Ordering),
    /// A caller's comparator (stable).
    By(ValueComparator<V>),
}

/// The merged stream grouped by key: `Result<(K, Vec<V>), SpillError>` in key
/// order. Made by [`SortedRecords::group_by_key`]; values can be sorted within
/// each key (secondary sort) with [`sort_values`](Self::sort_values) or
/// [`sort_values_by`](Self::sort_values_by).
///
/// ```
/// use flotilla_data::sort::{merge_runs, SortedRun};
///
/// let run = SortedRun::from_vec(vec![('m', 3), ('m', 1), ('m', 2)]);
/// let mut groups = merge_runs(vec![run]).unwrap().group_by_key().sort_values();
/// assert_eq!(groups.next().unwrap().unwrap(), ('m', vec![1, 2, 3]));
/// assert!(groups.next().is_none());
/// ```
pub struct GroupedRecords<K, V> {
    records: SortedRecords<K, V>,
    order: ValueOrder<V>,
}

impl<K, V> fmt::Debug for GroupedRecords<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = match self.order {
            ValueOrder::Merge => "merge order",
            ValueOrder::Natural(_) => "sorted",
            ValueOrder::By(_) => "sorted by comparator",
        };
        f.debug_struct("GroupedRecords")
            .field("records", &self.records)
            .field("values", &order)
            .finish()
    }
}

impl<K, V> GroupedRecords<K, V> {
    /// Sorts each key's values by `V`'s order (a stable sort: equal values
    /// stay in merge order). This is the reducer's secondary sort.
    ///
    /// ```
    /// use flotilla_data::sort::{merge_runs, SortedRun};
    ///
    /// let run = SortedRun::from_vec(vec![(1, 'z'), (1, 'a')]);
    /// let groups: Vec<_> =
    ///     merge_runs(vec![run]).unwrap().group_by_key().sort_values().map(Result::unwrap).collect();
    /// assert_eq!(groups, [(1, vec!['a', 'z'])]);
    /// ```
    pub fn sort_values(mut self) -> Self
    where
        V: Ord,
    {
        self.order = ValueOrder::Natural(V::cmp);
        self
    }

    /// Sorts each key's values with `compare` (a stable sort).
    ///
    /// ```
    /// use flotilla_data::sort::{merge_runs, SortedRun};
    ///
    /// let run = SortedRun::from_vec(vec![('k', 1), ('k', 3), ('k', 2)]);
    /// let groups: Vec<_> = merge_runs(vec![run])
    ///     .unwrap()
    ///     .group_by_key()
    ///     .sort_values_by(|a: &i32, b: &i32| b.cmp(a))
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(groups, [('k', vec![3, 2, 1])]);
    /// ```
    pub fn sort_values_by(
        mut self,
        compare: impl FnMut(&V, &V) -> Ordering + Send + 'static,
    ) -> Self {
        self.order = ValueOrder::By(Box::new(compare));
        self
    }

    /// The counters of the sort or merge that produced the stream.
    ///
    /// ```
    /// use flotilla_data::sort::{merge_runs, SortedRun};
    ///
    /// let groups = merge_runs(vec![SortedRun::from_vec(vec![(1, 1)])]).unwrap().group_by_key();
    /// assert_eq!(groups.stats().records_in, 1);
    /// ```
    pub fn stats(&self) -> &SortStats {
        self.records.stats()
    }
}

impl<K, V> Iterator for GroupedRecords<K, V>
where
    K: Ord + DeserializeOwned,
    V: DeserializeOwned,
{
    type Item = Result<(K, Vec<V>), SpillError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut values = Vec::new();
        match self.records.next_group() {
            Ok(Some(group)) => {
                for value in group {
                    match value {
                        Ok(value) => values.push(value),
                        Err(e) => return Some(Err(e)),
                    }
                }
            }
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        }
        // The group was read to its end, so nothing is left to skip.
        let key = self.records.group_key.take()?;
        match &mut self.order {
            ValueOrder::Merge => {}
            ValueOrder::Natural(compare) => values.sort_by(*compare),
            ValueOrder::By(compare) => values.sort_by(|a, b| compare(a, b)),
        }
        Some(Ok((key, values)))
    }
}
