//! The map side: [`SortBuffer`] and [`PartitionedSortBuffer`] hold records
//! under a memory budget and spill sorted runs above it.

use std::fmt;
use std::mem;
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::merge::merge_runs_with;
use super::run::{Segment, SortedRun};
use super::spill_file::{RunWriter, SpillDir, SpillFile};
use super::{ApproxSize, SortOptions, SortStats, SortedRecords, SpillError};

/// Bytes charged against the budget for every buffered record, on top of the
/// [`ApproxSize`] of its key and value: it stands for the spare capacity of
/// the buffer's vectors and allocator overhead.
///
/// ```
/// use flotilla_data::sort::{ApproxSize, RECORD_OVERHEAD};
///
/// // What one (u64, u64) record costs in a buffer's estimate:
/// assert_eq!(1u64.approx_size() + 1u64.approx_size() + RECORD_OVERHEAD, 32);
/// ```
pub const RECORD_OVERHEAD: usize = 16;

/// A combiner: folds two values of the same key into one.
type Combiner<V> = Box<dyn FnMut(V, V) -> V + Send>;

/// The output of a map task: for each reduce partition, the sorted runs that
/// the partition's reducer merges, plus the task's [`SortStats`].
///
/// ```
/// use flotilla_data::sort::{merge_runs, PartitionedSortBuffer, SortOptions};
///
/// let mut map_task = PartitionedSortBuffer::new(2, SortOptions::new());
/// for word in ["b", "a", "c", "a"] {
///     let partition = (word.as_bytes()[0] % 2) as usize;
///     map_task.push(partition, word.to_string(), 1u64).unwrap();
/// }
/// let mut output = map_task.finish().unwrap();
/// assert_eq!(output.partition_count(), 2);
///
/// // Reducer 1 gets "a" (97) and "c" (99):
/// let records = merge_runs(output.take_partition(1)).unwrap();
/// let keys: Vec<String> = records.map(|r| r.unwrap().0).collect();
/// assert_eq!(keys, ["a", "a", "c"]);
/// ```
pub struct MapOutput<K, V> {
    partitions: Vec<Vec<SortedRun<K, V>>>,
    stats: SortStats,
}

impl<K, V> MapOutput<K, V> {
    /// An output made of runs already sorted, indexed by partition (a map
    /// task's output read back from where it was kept).
    ///
    /// ```
    /// use flotilla_data::sort::{MapOutput, SortedRun};
    ///
    /// let output = MapOutput::from_runs(vec![vec![], vec![SortedRun::from_vec(vec![(1u8, 'a')])]]);
    /// assert_eq!(output.partition_count(), 2);
    /// ```
    pub fn from_runs(partitions: Vec<Vec<SortedRun<K, V>>>) -> Self {
        MapOutput {
            partitions,
            stats: SortStats::default(),
        }
    }

    /// How many partitions the output has.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let buffer = PartitionedSortBuffer::<u32, u32>::new(3, SortOptions::new());
    /// assert_eq!(buffer.finish().unwrap().partition_count(), 3);
    /// ```
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    /// The counters of the map task's buffer.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let mut buffer = PartitionedSortBuffer::new(1, SortOptions::new());
    /// buffer.push(0, 1u8, 2u8).unwrap();
    /// assert_eq!(buffer.finish().unwrap().stats().records_in, 1);
    /// ```
    pub fn stats(&self) -> &SortStats {
        &self.stats
    }

    /// Takes the runs of one partition, in the order a merge must see them
    /// (spills first, in spill order, then the in-memory remainder). Returns
    /// an empty vector if the partition is out of range or already taken.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let mut buffer = PartitionedSortBuffer::new(2, SortOptions::new());
    /// buffer.push(1, 5u32, ()).unwrap();
    /// let mut output = buffer.finish().unwrap();
    /// assert!(output.take_partition(0).is_empty());
    /// assert_eq!(output.take_partition(1).len(), 1);
    /// assert!(output.take_partition(1).is_empty());
    /// ```
    pub fn take_partition(&mut self, partition: usize) -> Vec<SortedRun<K, V>> {
        self.partitions
            .get_mut(partition)
            .map(mem::take)
            .unwrap_or_default()
    }

    /// Makes every run of the output readable more than once (see
    /// [`SortedRun::share`]), so that [`MapOutput::partition`] can hand out
    /// a partition's runs while the output keeps them: what a shuffle needs
    /// when a reduce task may run again.
    ///
    /// ```
    /// use flotilla_data::sort::{merge_runs, PartitionedSortBuffer, SortOptions};
    ///
    /// let mut buffer = PartitionedSortBuffer::new(2, SortOptions::new());
    /// buffer.push(1, 5u32, 'x').unwrap();
    /// let mut output = buffer.finish().unwrap();
    /// output.share();
    /// for _attempt in 0..2 {
    ///     let records: Vec<_> = merge_runs(output.partition(1)).unwrap().map(Result::unwrap).collect();
    ///     assert_eq!(records, [(5, 'x')]);
    /// }
    /// ```
    pub fn share(&mut self)
    where
        K: Clone,
        V: Clone,
    {
        for runs in &mut self.partitions {
            for run in runs.iter_mut() {
                let _ = run.share();
            }
        }
    }

    /// A reader of each run of one partition, in merge order, leaving the
    /// output as it is. Runs not yet [shared](MapOutput::share) are left
    /// out; an unknown partition has none.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let mut buffer = PartitionedSortBuffer::new(1, SortOptions::new());
    /// buffer.push(0, 1u8, 2u8).unwrap();
    /// let mut output = buffer.finish().unwrap();
    /// output.share();
    /// assert_eq!(output.partition(0).len(), 1);
    /// assert!(output.partition(7).is_empty());
    /// ```
    pub fn partition(&self, partition: usize) -> Vec<SortedRun<K, V>> {
        self.partitions
            .get(partition)
            .map(|runs| runs.iter().filter_map(SortedRun::reader).collect())
            .unwrap_or_default()
    }

    /// All partitions' runs, indexed by partition.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let buffer = PartitionedSortBuffer::<u8, u8>::new(4, SortOptions::new());
    /// assert_eq!(buffer.finish().unwrap().into_partitions().len(), 4);
    /// ```
    pub fn into_partitions(self) -> Vec<Vec<SortedRun<K, V>>> {
        self.partitions
    }
}

impl<K, V> fmt::Debug for MapOutput<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapOutput")
            .field("partitions", &self.partitions)
            .field("stats", &self.stats)
            .finish()
    }
}

/// A map task's output buffer for `R` reduce partitions, under one memory
/// budget shared by all partitions.
///
/// Records are pushed with their partition. When the estimated size of what
/// is buffered exceeds the budget, every partition's records are sorted by
/// key (stably) and written to **one** spill file, partition after partition;
/// each partition gets a [`SortedRun`] for its byte range. [`finish`](Self::finish)
/// sorts the remainder and returns a [`MapOutput`]: per partition, the spilled
/// runs in spill order and then the in-memory run.
///
/// With a [combiner](Self::with_combiner), going over budget first sorts and
/// combines the buffer in place; if that brings it to half the budget or less
/// it is kept in memory and nothing is spilled.
///
/// ```
/// use flotilla_data::sort::{merge_runs, PartitionedSortBuffer, SortOptions};
///
/// let mut map_task = PartitionedSortBuffer::new(2, SortOptions::new().budget_bytes(512))
///     .with_combiner(|a, b| a + b);
/// for i in 0..1000u32 {
///     map_task.push((i % 2) as usize, i % 10, 1u64).unwrap();
/// }
/// let mut output = map_task.finish().unwrap();
/// let counts: Vec<(u32, u64)> = merge_runs(output.take_partition(0))
///     .unwrap()
///     .group_by_key()
///     .map(|g| g.map(|(k, ones)| (k, ones.iter().sum())).unwrap())
///     .collect();
/// assert_eq!(counts, [(0, 100), (2, 100), (4, 100), (6, 100), (8, 100)]);
/// ```
pub struct PartitionedSortBuffer<K, V> {
    /// Buffered records, one vector per partition, in push order (or sorted
    /// and combined after a compaction that did not spill).
    buckets: Vec<Vec<(K, V)>>,
    /// Estimated bytes of the buffered records: the sum of
    /// `approx_size(key) + approx_size(value) + RECORD_OVERHEAD`.
    estimated: usize,
    options: SortOptions,
    combiner: Option<Combiner<V>>,
    /// Created at the first spill, so that a sort that fits in memory never
    /// touches the file system.
    dir: Option<Arc<SpillDir>>,
    /// Spilled runs, per partition, in spill order.
    runs: Vec<Vec<SortedRun<K, V>>>,
    /// Every spill file written, in order.
    files: Vec<Arc<SpillFile>>,
    stats: SortStats,
}

impl<K, V> fmt::Debug for PartitionedSortBuffer<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionedSortBuffer")
            .field("partitions", &self.buckets.len())
            .field(
                "buffered_records",
                &self.buckets.iter().map(Vec::len).sum::<usize>(),
            )
            .field("estimated_bytes", &self.estimated)
            .field("options", &self.options)
            .field(
                "combiner",
                &self.combiner.as_ref().map(|_| "FnMut(V, V) -> V"),
            )
            .field("spill_files", &self.files)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<K, V> PartitionedSortBuffer<K, V>
where
    K: Ord + Serialize + ApproxSize,
    V: Serialize + ApproxSize,
{
    /// An empty buffer for `partitions` partitions (at least 1).
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let buffer = PartitionedSortBuffer::<String, u64>::new(8, SortOptions::new());
    /// assert_eq!(buffer.partitions(), 8);
    /// ```
    pub fn new(partitions: usize, options: SortOptions) -> Self {
        let partitions = partitions.max(1);
        PartitionedSortBuffer {
            buckets: (0..partitions).map(|_| Vec::new()).collect(),
            estimated: 0,
            options,
            combiner: None,
            dir: None,
            runs: (0..partitions).map(|_| Vec::new()).collect(),
            files: Vec::new(),
            stats: SortStats::default(),
        }
    }

    /// Folds the values of equal keys with `combine` before they are spilled
    /// (and in the final in-memory run), like mrjob's combiner on map output.
    ///
    /// `combine(earlier, later)` is applied left to right in push order, so
    /// it must be associative but need not be commutative. The reducer still
    /// sees one value per key *per run*, so it must accept combined values and
    /// finish the reduction itself (for a word count: sum again).
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let mut buffer = PartitionedSortBuffer::new(1, SortOptions::new())
    ///     .with_combiner(|a: u64, b: u64| a + b);
    /// for _ in 0..3 {
    ///     buffer.push(0, 'w', 1).unwrap();
    /// }
    /// let run = buffer.finish().unwrap().take_partition(0).pop().unwrap();
    /// assert_eq!(run.into_vec().unwrap(), [('w', 3)]);
    /// ```
    ///
    /// The combiner must be `Send`, like the buffer, which moves between
    /// worker threads:
    ///
    /// ```compile_fail
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    /// use std::rc::Rc;
    ///
    /// let bonus = Rc::new(0u64);
    /// let buffer = PartitionedSortBuffer::<u8, u64>::new(1, SortOptions::new())
    ///     .with_combiner(move |a, b| a + b + *bonus);
    /// ```
    pub fn with_combiner(mut self, combine: impl FnMut(V, V) -> V + Send + 'static) -> Self {
        self.combiner = Some(Box::new(combine));
        self
    }

    /// How many partitions the buffer has.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// assert_eq!(PartitionedSortBuffer::<u8, u8>::new(0, SortOptions::new()).partitions(), 1);
    /// ```
    pub fn partitions(&self) -> usize {
        self.buckets.len()
    }

    /// Buffers one record for `partition`; spills if the buffer is now over
    /// budget.
    ///
    /// # Errors
    /// [`SpillError::PartitionOutOfRange`] if `partition >= self.partitions()`;
    /// an I/O or encoding error of the spill.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions, SpillError};
    ///
    /// let mut buffer = PartitionedSortBuffer::new(2, SortOptions::new());
    /// buffer.push(1, 'k', 1u8).unwrap();
    /// assert!(matches!(
    ///     buffer.push(2, 'k', 1u8),
    ///     Err(SpillError::PartitionOutOfRange { partition: 2, partitions: 2 })
    /// ));
    /// ```
    pub fn push(&mut self, partition: usize, key: K, value: V) -> Result<(), SpillError> {
        let partitions = self.buckets.len();
        let bucket = self
            .buckets
            .get_mut(partition)
            .ok_or(SpillError::PartitionOutOfRange {
                partition,
                partitions,
            })?;
        self.estimated += key.approx_size() + value.approx_size() + RECORD_OVERHEAD;
        bucket.push((key, value));
        self.stats.records_in += 1;
        self.stats.peak_buffer_bytes = self.stats.peak_buffer_bytes.max(self.estimated);
        if self.estimated > self.options.budget_bytes {
            self.relieve()?;
        }
        Ok(())
    }

    /// Records held in memory now.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let mut buffer = PartitionedSortBuffer::new(1, SortOptions::new());
    /// buffer.push(0, 1u8, 1u8).unwrap();
    /// assert_eq!(buffer.buffered_records(), 1);
    /// ```
    pub fn buffered_records(&self) -> usize {
        self.buckets.iter().map(Vec::len).sum()
    }

    /// Estimated bytes held in memory now (what is compared to the budget).
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions, RECORD_OVERHEAD};
    ///
    /// let mut buffer = PartitionedSortBuffer::new(1, SortOptions::new());
    /// buffer.push(0, 1u64, 1u64).unwrap();
    /// assert_eq!(buffer.buffered_bytes(), 16 + RECORD_OVERHEAD);
    /// ```
    pub fn buffered_bytes(&self) -> usize {
        self.estimated
    }

    /// The counters so far.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let buffer = PartitionedSortBuffer::<u8, u8>::new(1, SortOptions::new());
    /// assert_eq!(buffer.stats().runs_spilled, 0);
    /// ```
    pub fn stats(&self) -> &SortStats {
        &self.stats
    }

    /// The spill files written so far, in spill order.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let mut buffer = PartitionedSortBuffer::new(1, SortOptions::new());
    /// buffer.push(0, 1u8, 1u8).unwrap();
    /// buffer.spill().unwrap();
    /// assert_eq!(buffer.spill_paths().count(), 1);
    /// ```
    pub fn spill_paths(&self) -> impl Iterator<Item = &Path> + '_ {
        self.files.iter().map(|file| file.path())
    }

    /// Sorts (and combines) what is buffered and spills it now, whatever the
    /// budget says. Does nothing when the buffer is empty.
    ///
    /// # Errors
    /// An I/O or encoding error of the spill, naming the file.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let mut buffer = PartitionedSortBuffer::new(1, SortOptions::new());
    /// buffer.push(0, 2u8, 'b').unwrap();
    /// buffer.spill().unwrap();
    /// assert_eq!(buffer.buffered_records(), 0);
    /// assert_eq!(buffer.stats().runs_spilled, 1);
    /// ```
    pub fn spill(&mut self) -> Result<(), SpillError> {
        self.sort_and_combine();
        self.write_spill()
    }

    /// Sorts the remainder and hands over every partition's runs. Called
    /// in a task of a graph, it reports the output's size (in memory and
    /// spilled) as the task's result size.
    ///
    /// # Errors
    /// None today (the remainder stays in memory); the `Result` leaves room
    /// for a final on-disk merge.
    ///
    /// ```
    /// use flotilla_data::sort::{PartitionedSortBuffer, SortOptions};
    ///
    /// let mut buffer = PartitionedSortBuffer::new(1, SortOptions::new());
    /// buffer.push(0, 2u8, 'b').unwrap();
    /// buffer.push(0, 1u8, 'a').unwrap();
    /// let run = buffer.finish().unwrap().take_partition(0).pop().unwrap();
    /// assert_eq!(run.into_vec().unwrap(), [(1, 'a'), (2, 'b')]);
    /// ```
    pub fn finish(mut self) -> Result<MapOutput<K, V>, SpillError> {
        self.sort_and_combine();
        // The map output's size, in memory and spilled, for the scheduler.
        flotilla_local::record_result_bytes(self.estimated as u64 + self.stats.bytes_spilled);
        let buckets = mem::take(&mut self.buckets);
        let mut partitions = mem::take(&mut self.runs);
        for (runs, bucket) in partitions.iter_mut().zip(buckets) {
            if !bucket.is_empty() {
                runs.push(SortedRun::memory(bucket));
            }
        }
        Ok(MapOutput {
            partitions,
            stats: self.stats,
        })
    }

    /// Over budget: combine if possible and keep the result if it shrank to
    /// half the budget, else spill.
    fn relieve(&mut self) -> Result<(), SpillError> {
        self.sort_and_combine();
        if self.combiner.is_some() && self.estimated <= self.options.budget_bytes / 2 {
            return Ok(());
        }
        self.write_spill()
    }

    /// Sorts every bucket by key (stable) and, with a combiner, folds equal
    /// keys and re-estimates the buffer's size.
    fn sort_and_combine(&mut self) {
        for bucket in &mut self.buckets {
            // Stable, and adaptive: a bucket whose front is still sorted from
            // an earlier compaction costs little more than its new tail.
            bucket.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let Some(combine) = self.combiner.as_mut() else {
            return;
        };
        let mut estimated = 0;
        for bucket in &mut self.buckets {
            let before = bucket.len();
            let mut combined: Vec<(K, V)> = Vec::with_capacity(before);
            let mut current: Option<(K, V)> = None;
            for (key, value) in bucket.drain(..) {
                current = match current.take() {
                    Some((held, folded)) if held == key => Some((held, combine(folded, value))),
                    Some(done) => {
                        combined.push(done);
                        Some((key, value))
                    }
                    None => Some((key, value)),
                };
            }
            combined.extend(current);
            self.stats.records_combined += (before - combined.len()) as u64;
            estimated += combined
                .iter()
                .map(|(k, v)| k.approx_size() + v.approx_size() + RECORD_OVERHEAD)
                .sum::<usize>();
            *bucket = combined;
        }
        self.estimated = estimated;
    }

    /// Writes the (sorted) buckets to one new spill file, one run per
    /// non-empty partition, and empties them.
    fn write_spill(&mut self) -> Result<(), SpillError> {
        if self.buckets.iter().all(Vec::is_empty) {
            return Ok(());
        }
        let dir = match &self.dir {
            Some(dir) => Arc::clone(dir),
            None => {
                let dir = match &self.options.spill_dir {
                    Some(path) => SpillDir::at(path)?,
                    None => SpillDir::temporary()?,
                };
                self.dir = Some(Arc::clone(&dir));
                dir
            }
        };
        // A spill's encoded records rarely exceed the budget's estimate, so a
        // bigger write buffer would only be memory spent outside the budget.
        let buffer_bytes = self
            .options
            .write_buffer_bytes
            .min(self.options.budget_bytes.max(4096));
        let mut writer = RunWriter::create(&dir, buffer_bytes)?;
        let mut ranges = Vec::new();
        for (partition, bucket) in self.buckets.iter().enumerate() {
            if bucket.is_empty() {
                continue;
            }
            let start = writer.position();
            for (key, value) in bucket {
                writer.write_record(key, value)?;
            }
            ranges.push((partition, start, writer.position(), bucket.len() as u64));
        }
        let bytes = writer.position();
        let file = writer.finish()?;
        for (partition, start, end, records) in ranges {
            let segment = Segment {
                file: Arc::clone(&file),
                start,
                end,
                records,
            };
            self.runs[partition].push(SortedRun::spilled(segment));
            self.stats.records_spilled += records;
        }
        self.files.push(file);
        self.stats.runs_spilled += 1;
        self.stats.bytes_spilled += bytes;
        // Keep the vectors' capacity: the next batch fills it again.
        self.buckets.iter_mut().for_each(Vec::clear);
        self.estimated = 0;
        Ok(())
    }
}

/// An external sort of `(K, V)` records under a memory budget: a map task's
/// output for a single partition, or any sort too big for memory.
///
/// [`push`](Self::push) records; above the budget the buffer is sorted and
/// spilled as a run. [`finish`](Self::finish) merges the runs and the
/// in-memory remainder into one stream in key order, where equal keys keep
/// their push order. [`into_runs`](Self::into_runs) hands the runs over
/// unmerged, for a reducer that merges several producers with
/// [`merge_runs`](super::merge_runs).
///
/// It is a [`PartitionedSortBuffer`] with one partition; see there for the
/// budget and the combiner.
///
/// ```
/// use flotilla_data::sort::{SortBuffer, SortOptions};
///
/// let mut sorter = SortBuffer::new(SortOptions::new().budget_bytes(256));
/// for (i, word) in "to be or not to be".split(' ').enumerate() {
///     sorter.push(word.to_string(), i as u32).unwrap();
/// }
/// assert!(sorter.stats().runs_spilled > 0);
/// let sorted: Vec<(String, u32)> = sorter.finish().unwrap().map(Result::unwrap).collect();
/// let expected = [("be", 1), ("be", 5), ("not", 3), ("or", 2), ("to", 0), ("to", 4)];
/// assert_eq!(sorted, expected.map(|(w, i)| (w.to_string(), i)));
/// ```
pub struct SortBuffer<K, V> {
    inner: PartitionedSortBuffer<K, V>,
}

impl<K, V> fmt::Debug for SortBuffer<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SortBuffer").field(&self.inner).finish()
    }
}

impl<K, V> SortBuffer<K, V>
where
    K: Ord + Serialize + ApproxSize,
    V: Serialize + ApproxSize,
{
    /// An empty sorter. Nothing touches the disk until the first spill.
    ///
    /// ```
    /// use flotilla_data::sort::{SortBuffer, SortOptions};
    ///
    /// let sorter = SortBuffer::<String, u64>::new(SortOptions::new());
    /// assert_eq!(sorter.buffered_records(), 0);
    /// ```
    pub fn new(options: SortOptions) -> Self {
        SortBuffer {
            inner: PartitionedSortBuffer::new(1, options),
        }
    }

    /// Folds values of equal keys before spilling; see
    /// [`PartitionedSortBuffer::with_combiner`].
    ///
    /// ```
    /// use flotilla_data::sort::{SortBuffer, SortOptions};
    ///
    /// let mut sorter = SortBuffer::new(SortOptions::new()).with_combiner(|a: u32, b| a.max(b));
    /// sorter.push('x', 3).unwrap();
    /// sorter.push('x', 7).unwrap();
    /// let out: Vec<_> = sorter.finish().unwrap().map(Result::unwrap).collect();
    /// assert_eq!(out, [('x', 7)]);
    /// ```
    pub fn with_combiner(self, combine: impl FnMut(V, V) -> V + Send + 'static) -> Self {
        SortBuffer {
            inner: self.inner.with_combiner(combine),
        }
    }

    /// Buffers one record; spills if the buffer is now over budget.
    ///
    /// # Errors
    /// An I/O or encoding error of the spill, naming the file.
    ///
    /// ```
    /// use flotilla_data::sort::{SortBuffer, SortOptions};
    ///
    /// let mut sorter = SortBuffer::new(SortOptions::new());
    /// sorter.push(1u8, 'x').unwrap();
    /// ```
    pub fn push(&mut self, key: K, value: V) -> Result<(), SpillError> {
        self.inner.push(0, key, value)
    }

    /// Records held in memory now.
    ///
    /// ```
    /// use flotilla_data::sort::{SortBuffer, SortOptions};
    ///
    /// let mut sorter = SortBuffer::new(SortOptions::new());
    /// sorter.push(1u8, 1u8).unwrap();
    /// assert_eq!(sorter.buffered_records(), 1);
    /// ```
    pub fn buffered_records(&self) -> usize {
        self.inner.buffered_records()
    }

    /// Estimated bytes held in memory now.
    ///
    /// ```
    /// use flotilla_data::sort::{SortBuffer, SortOptions};
    ///
    /// let sorter = SortBuffer::<u8, u8>::new(SortOptions::new());
    /// assert_eq!(sorter.buffered_bytes(), 0);
    /// ```
    pub fn buffered_bytes(&self) -> usize {
        self.inner.buffered_bytes()
    }

    /// The counters so far.
    ///
    /// ```
    /// use flotilla_data::sort::{SortBuffer, SortOptions};
    ///
    /// let mut sorter = SortBuffer::new(SortOptions::new());
    /// sorter.push(1u8, 1u8).unwrap();
    /// assert_eq!(sorter.stats().records_in, 1);
    /// ```
    pub fn stats(&self) -> &SortStats {
        self.inner.stats()
    }

    /// The spill files written so far, in spill order.
    ///
    /// ```
    /// use flotilla_data::sort::{SortBuffer, SortOptions};
    ///
    /// let sorter = SortBuffer::<u8, u8>::new(SortOptions::new());
    /// assert_eq!(sorter.spill_paths().count(), 0);
    /// ```
    pub fn spill_paths(&self) -> impl Iterator<Item = &Path> + '_ {
        self.inner.spill_paths()
    }

    /// Sorts and spills what is buffered now, whatever the budget says.
    ///
    /// # Errors
    /// An I/O or encoding error of the spill, naming the file.
    ///
    /// ```
    /// use flotilla_data::sort::{SortBuffer, SortOptions};
    ///
    /// let mut sorter = SortBuffer::new(SortOptions::new());
    /// sorter.push(1u8, 1u8).unwrap();
    /// sorter.spill().unwrap();
    /// assert_eq!(sorter.spill_paths().count(), 1);
    /// ```
    pub fn spill(&mut self) -> Result<(), SpillError> {
        self.inner.spill()
    }

    /// The sorted runs, unmerged (spilled runs in spill order, then the
    /// in-memory remainder), with the counters.
    ///
    /// # Errors
    /// None today; see [`PartitionedSortBuffer::finish`].
    ///
    /// ```
    /// use flotilla_data::sort::{SortBuffer, SortOptions};
    ///
    /// let mut sorter = SortBuffer::new(SortOptions::new());
    /// sorter.push(1u8, 1u8).unwrap();
    /// let (runs, stats) = sorter.into_runs().unwrap();
    /// assert_eq!((runs.len(), stats.records_in), (1, 1));
    /// ```
    pub fn into_runs(self) -> Result<(Vec<SortedRun<K, V>>, SortStats), SpillError> {
        let mut output = self.inner.finish()?;
        let stats = output.stats;
        Ok((output.take_partition(0), stats))
    }
}

impl<K, V> SortBuffer<K, V>
where
    K: Ord + Serialize + DeserializeOwned + ApproxSize,
    V: Serialize + DeserializeOwned + ApproxSize,
{
    /// Merges every spilled run and the in-memory remainder into one stream
    /// in key order (equal keys in push order). The stream's
    /// [`stats`](SortedRecords::stats) are this buffer's.
    ///
    /// # Errors
    /// Opening a spilled run failed, or a spilled run's first record did not
    /// decode. Later errors come out of the stream.
    ///
    /// ```
    /// use flotilla_data::sort::{SortBuffer, SortOptions};
    ///
    /// let mut sorter = SortBuffer::new(SortOptions::new().budget_bytes(0));
    /// for k in [3u8, 1, 2] {
    ///     sorter.push(k, ()).unwrap();
    /// }
    /// let records = sorter.finish().unwrap();
    /// assert_eq!(records.stats().runs_spilled, 3);
    /// let keys: Vec<u8> = records.map(|r| r.unwrap().0).collect();
    /// assert_eq!(keys, [1, 2, 3]);
    /// ```
    pub fn finish(self) -> Result<SortedRecords<K, V>, SpillError> {
        let options = self.inner.options.clone();
        let (runs, stats) = self.into_runs()?;
        let mut records = merge_runs_with(runs, &options)?;
        let merge = *records.stats();
        let mut combined = stats;
        combined.intermediate_runs += merge.intermediate_runs;
        combined.intermediate_bytes += merge.intermediate_bytes;
        records.set_stats(combined);
        Ok(records)
    }
}
