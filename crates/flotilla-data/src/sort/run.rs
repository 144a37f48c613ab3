//! [`SortedRun`]: one sorted sequence of records, in memory or on disk.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::spill_file::{RunReader, SpillFile};
use super::SpillError;

/// One sequence of `(K, V)` records sorted by key, where equal keys keep the
/// order they were pushed in: the unit a reducer merges.
///
/// A map task's output for one partition is a `Vec<SortedRun>`: one run per
/// spill that had records for the partition, then the in-memory remainder.
/// The reducer of that partition concatenates the vectors of all map tasks,
/// in map-task order, and hands them to [`merge_runs`](super::merge_runs).
///
/// A run is either
/// - **in memory**: a sorted `Vec`, merged without any serialization, or
/// - **spilled**: a byte range of a spill file, read back through a buffered
///   reader. Several runs (one per partition) can share one file; the file is
///   deleted when the last run or reader referring to it is dropped.
///
/// A run is `Send` when `K` and `V` are, so it can be moved from the map task's
/// thread to the reducer's.
///
/// ```
/// use flotilla_data::sort::SortedRun;
///
/// let run = SortedRun::from_vec(vec![('b', 2), ('a', 1), ('b', 1)]);
/// assert_eq!(run.records(), 3);
/// assert!(!run.is_spilled());
/// assert_eq!(run.into_vec().unwrap(), [('a', 1), ('b', 2), ('b', 1)]);
/// ```
pub struct SortedRun<K, V> {
    pub(crate) source: RunSource<K, V>,
}

/// Where a run's records are.
pub(crate) enum RunSource<K, V> {
    Memory(Vec<(K, V)>),
    /// In memory, shared by every handle made with [`SortedRun::share`]:
    /// each reader clones the records it reads (with `clone`, captured where
    /// the records were known to be `Clone`), so the run can be read again.
    Shared {
        records: Arc<Vec<(K, V)>>,
        clone: fn(&(K, V)) -> (K, V),
    },
    Spilled(Segment),
}

/// A byte range of a spill file holding one sorted run.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) file: Arc<SpillFile>,
    /// Offset of the first frame.
    pub(crate) start: u64,
    /// Offset just past the last frame.
    pub(crate) end: u64,
    /// Number of records (frames) in the range.
    pub(crate) records: u64,
}

impl<K, V> SortedRun<K, V> {
    pub(crate) fn memory(records: Vec<(K, V)>) -> Self {
        SortedRun {
            source: RunSource::Memory(records),
        }
    }

    pub(crate) fn spilled(segment: Segment) -> Self {
        SortedRun {
            source: RunSource::Spilled(segment),
        }
    }

    /// Makes a run of records, sorting them by key with a stable sort (linear
    /// time when they are already sorted).
    ///
    /// ```
    /// use flotilla_data::sort::SortedRun;
    ///
    /// let run = SortedRun::from_vec(vec![(2u8, 'x'), (1, 'y')]);
    /// assert_eq!(run.into_vec().unwrap(), [(1, 'y'), (2, 'x')]);
    /// ```
    pub fn from_vec(mut records: Vec<(K, V)>) -> Self
    where
        K: Ord,
    {
        records.sort_by(|a, b| a.0.cmp(&b.0));
        Self::memory(records)
    }

    /// Another handle on the same records, which can be read independently
    /// (by a task that runs again, say) while this one stays readable: a run
    /// in memory is moved once behind a shared pointer and read by cloning
    /// its records; a spilled run shares its file.
    ///
    /// ```
    /// use flotilla_data::sort::{merge_runs, SortedRun};
    ///
    /// let mut run = SortedRun::from_vec(vec![(2, 'b'), (1, 'a')]);
    /// let first: Vec<_> = merge_runs(vec![run.share()]).unwrap().map(Result::unwrap).collect();
    /// let again: Vec<_> = merge_runs(vec![run.share()]).unwrap().map(Result::unwrap).collect();
    /// assert_eq!(first, again);
    /// assert_eq!(run.into_vec().unwrap(), [(1, 'a'), (2, 'b')]);
    /// ```
    pub fn share(&mut self) -> SortedRun<K, V>
    where
        K: Clone,
        V: Clone,
    {
        if let RunSource::Memory(records) = &mut self.source {
            self.source = RunSource::Shared {
                records: Arc::new(std::mem::take(records)),
                clone: <(K, V)>::clone,
            };
        }
        // Only a run that still owns its records alone has no reader, and
        // this one was just shared.
        self.reader()
            .unwrap_or_else(|| SortedRun::memory(Vec::new()))
    }

    /// A handle on the same records as [`SortedRun::share`] gives, from a
    /// run already shared or spilled; `None` for a run that still owns its
    /// records alone (it must be shared once, by its owner, first).
    ///
    /// ```
    /// use flotilla_data::sort::SortedRun;
    ///
    /// let mut run = SortedRun::from_vec(vec![(1, 1)]);
    /// assert!(run.reader().is_none());
    /// let _ = run.share();
    /// assert_eq!(run.reader().unwrap().records(), 1);
    /// ```
    pub fn reader(&self) -> Option<SortedRun<K, V>> {
        match &self.source {
            RunSource::Memory(_) => None,
            RunSource::Shared { records, clone } => Some(SortedRun {
                source: RunSource::Shared {
                    records: Arc::clone(records),
                    clone: *clone,
                },
            }),
            RunSource::Spilled(segment) => Some(SortedRun {
                source: RunSource::Spilled(segment.clone()),
            }),
        }
    }

    /// The records of a run in memory (owned or shared), in order; `None`
    /// for a spilled run. A reader that can use a slice (a streaming
    /// reducer feeding a child process) skips the merge's copies.
    ///
    /// ```
    /// use flotilla_data::sort::SortedRun;
    /// let run = SortedRun::from_vec(vec![(2u32, 'b'), (1, 'a')]);
    /// assert_eq!(run.in_memory(), Some(&[(1, 'a'), (2, 'b')][..]));
    /// ```
    pub fn in_memory(&self) -> Option<&[(K, V)]> {
        match &self.source {
            RunSource::Memory(records) => Some(records),
            RunSource::Shared { records, .. } => Some(records),
            RunSource::Spilled(_) => None,
        }
    }

    /// How many records the run holds.
    ///
    /// ```
    /// use flotilla_data::sort::SortedRun;
    ///
    /// assert_eq!(SortedRun::from_vec(vec![(1, ()), (1, ())]).records(), 2);
    /// ```
    pub fn records(&self) -> u64 {
        match &self.source {
            RunSource::Memory(records) => records.len() as u64,
            RunSource::Shared { records, .. } => records.len() as u64,
            RunSource::Spilled(segment) => segment.records,
        }
    }

    /// Whether the run holds no records.
    ///
    /// ```
    /// use flotilla_data::sort::SortedRun;
    ///
    /// assert!(SortedRun::<u8, u8>::from_vec(Vec::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.records() == 0
    }

    /// Whether the run lives in a spill file rather than in memory.
    ///
    /// ```
    /// use flotilla_data::sort::SortedRun;
    ///
    /// assert!(!SortedRun::from_vec(vec![(1, 1)]).is_spilled());
    /// ```
    pub fn is_spilled(&self) -> bool {
        matches!(self.source, RunSource::Spilled(_))
    }

    /// The spill file holding the run, if it is spilled. The file may hold
    /// other partitions' runs too; it is deleted once no run needs it.
    ///
    /// ```
    /// use flotilla_data::sort::{SortBuffer, SortOptions};
    ///
    /// let mut buffer = SortBuffer::new(SortOptions::new().budget_bytes(0));
    /// buffer.push(1u32, 10u32).unwrap(); // over a zero budget: spills
    /// let (runs, _stats) = buffer.into_runs().unwrap();
    /// let path = runs[0].spill_path().unwrap().to_path_buf();
    /// assert!(path.exists());
    /// drop(runs);
    /// assert!(!path.exists());
    /// ```
    pub fn spill_path(&self) -> Option<&Path> {
        match &self.source {
            RunSource::Memory(_) | RunSource::Shared { .. } => None,
            RunSource::Spilled(segment) => Some(segment.file.path()),
        }
    }

    /// The bytes of the run's frames in its spill file; 0 for a run in memory.
    ///
    /// ```
    /// use flotilla_data::sort::SortedRun;
    ///
    /// assert_eq!(SortedRun::from_vec(vec![(1, 1)]).spilled_bytes(), 0);
    /// ```
    pub fn spilled_bytes(&self) -> u64 {
        match &self.source {
            RunSource::Memory(_) | RunSource::Shared { .. } => 0,
            RunSource::Spilled(segment) => segment.end - segment.start,
        }
    }

    /// All the run's records, read back into memory if it is spilled.
    ///
    /// ```
    /// use flotilla_data::sort::SortedRun;
    ///
    /// let run = SortedRun::from_vec(vec![('k', 1)]);
    /// assert_eq!(run.into_vec().unwrap(), [('k', 1)]);
    /// ```
    pub fn into_vec(self) -> Result<Vec<(K, V)>, SpillError>
    where
        K: DeserializeOwned,
        V: DeserializeOwned,
    {
        match self.source {
            RunSource::Memory(records) => Ok(records),
            RunSource::Shared { records, clone } => match Arc::try_unwrap(records) {
                Ok(records) => Ok(records),
                Err(shared) => Ok(shared.iter().map(clone).collect()),
            },
            RunSource::Spilled(segment) => {
                let capacity = usize::try_from(segment.records).unwrap_or(0);
                let mut records = Vec::with_capacity(capacity.min(1 << 20));
                let mut reader = RunReader::open(
                    segment.file,
                    segment.start,
                    segment.end,
                    segment.records,
                    64 * 1024,
                )?;
                while let Some(record) = reader.next_record()? {
                    records.push(record);
                }
                Ok(records)
            }
        }
    }
}

/// A handle on the same records: for a run [shared](SortedRun::share) or
/// spilled, as [`SortedRun::reader`] gives (no record is copied until it is
/// read); a run that still owns its records alone is copied whole.
///
/// ```
/// use flotilla_data::sort::{merge_runs, SortedRun};
/// let mut run = SortedRun::from_vec(vec![(2, 'b'), (1, 'a')]);
/// let _ = run.share();
/// let copy = run.clone();
/// let read: Vec<_> = merge_runs(vec![copy]).unwrap().map(Result::unwrap).collect();
/// assert_eq!(read, [(1, 'a'), (2, 'b')]);
/// assert_eq!(run.records(), 2);
/// ```
impl<K: Clone, V: Clone> Clone for SortedRun<K, V> {
    fn clone(&self) -> Self {
        match &self.source {
            RunSource::Memory(records) => SortedRun::memory(records.clone()),
            _ => self
                .reader()
                .unwrap_or_else(|| SortedRun::memory(Vec::new())),
        }
    }
}

impl<K, V> fmt::Debug for SortedRun<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            RunSource::Memory(records) => f
                .debug_struct("SortedRun")
                .field("in_memory_records", &records.len())
                .finish(),
            RunSource::Shared { records, .. } => f
                .debug_struct("SortedRun")
                .field("shared_records", &records.len())
                .finish(),
            RunSource::Spilled(segment) => f
                .debug_struct("SortedRun")
                .field("spill_path", &segment.file.path())
                .field("bytes", &(segment.start..segment.end))
                .field("records", &segment.records)
                .finish(),
        }
    }
}
