//! Typed MapReduce jobs, as mrjob users know them.
//!
//! A job is a type implementing [`Job`]: a mapper, an optional combiner, a
//! reducer, and optional init/final hooks for each side. [`JobRunner`] runs
//! it in-process on a [`CpuPool`](flotilla_local::CpuPool): map and reduce
//! tasks are the nodes of one task graph on the scheduler, so a failed task
//! is retried ([`JobConfig::retries`]) like any other:
//!
//! ```text
//!  splits ─► map[0] ─ in-map combine ─► sort buffer (spills above budget) ─┐
//!            map[1] ─ …                                                    ├─ R partitions
//!            …                                                             │
//!  reduce[r] ◄── k-way merge of every map task's runs for partition r ◄───┘
//!      └─ keys in order, each key's values together (sorted too, if asked)
//! ```
//!
//! **Map.** Each input split (a byte range of a text file, lines never cut;
//! see [`split`](super::split)) or each chunk of records of an earlier step
//! is one map task. The mapper sees one record at a time and emits
//! `(key, value)` pairs through an [`Emitter`], which can also bump user
//! counters.
//!
//! **Combine.** When the job combines ([`Job::COMBINES`]), a map task folds
//! the values of each key in a hash table as they are emitted (in-mapper
//! combining), and again whenever sorted runs are written. The fold must be
//! associative: reducing combined values must equal reducing the raw ones.
//!
//! **Shuffle.** Pairs go to one of R partitions by a fixed hash of the key,
//! or by key ranges ([`Partitioner::Range`]), into a sort buffer that spills
//! sorted runs to disk above the memory budget; reducers merge the runs of
//! every map task (k-way), so a reducer never needs its whole input in
//! memory at once — only one key's values.
//!
//! **Reduce.** Keys arrive in order; each key's values come together, in map
//! task order, or in the order [`Job::order_values`] gives (secondary sort).
//!
//! **Bad records.** A mapper that returns [`RecordError`] for a malformed
//! record fails the job with the file, line number and a snippet of the
//! line — unless the job skips bad records ([`JobConfig::skip_bad_records`]),
//! in which case they are counted and a sample is kept.
//!
//! # Layout
//!
//! One idea per file: the [`Job`] trait and its bounds here; [`JobConfig`]
//! (`config`), [`JobError`] (`error`), [`Counters`] (`counters`), [`Partitioner`]
//! (`partitioner`; the key hash is [`crate::hash`]), [`Emitter`] and the map side of the
//! shuffle (`emitter`, `shuffle_sink`), a map task and a reduce task
//! (`map_task`, `reduce_task`), the graph of a run (`run`), [`JobRunner`]
//! (`runner`), and [`JobOutput`] with the text writers (`output`).

mod checkpointed;
#[cfg(feature = "cluster")]
pub(crate) mod cluster;
mod config;
mod counters;
mod emitter;
mod error;
mod map_task;
mod output;
mod partitioner;
mod reduce_task;
mod run;
mod runner;
mod shuffle_sink;

#[cfg(feature = "cluster")]
pub use cluster::{ClusterJob, ClusterJobRunner};
pub use config::JobConfig;
pub use counters::Counters;
pub use emitter::Emitter;
pub use error::JobError;
pub use output::{JobOutput, TextRecord};
pub use partitioner::Partitioner;
pub use runner::JobRunner;

use std::fmt;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::sort::ApproxSize;
use crate::hash::FastMap;
use crate::mapreduce::split::line_number_at;
use map_task::{map_records, map_text_split, MapResult, MapSetup, BAD_SAMPLE};
use reduce_task::reduce_partition;
use shuffle_sink::{combiner_of, ShuffleSink};

/// What a key of the shuffle must be: ordered (reducers see keys in order),
/// hashable (partitioning, combining), serializable (spills).
pub trait ShuffleKey:
    Ord + Hash + Clone + Serialize + DeserializeOwned + ApproxSize + Send + Sync + 'static
{
}
impl<T: Ord + Hash + Clone + Serialize + DeserializeOwned + ApproxSize + Send + Sync + 'static>
    ShuffleKey for T
{
}

/// What a value of the shuffle must be: serializable (spills), sized, and
/// cloneable and shareable between threads (a map task's output stays
/// readable until every reduce task, and every attempt of one, has read it).
pub trait ShuffleValue:
    Serialize + DeserializeOwned + ApproxSize + Clone + Send + Sync + 'static
{
}
impl<T: Serialize + DeserializeOwned + ApproxSize + Clone + Send + Sync + 'static> ShuffleValue
    for T
{
}

/// A malformed record, reported by a mapper or reducer. The job fails with
/// it (naming file, line and a snippet) unless it skips bad records.
///
/// ```
/// let e = flotilla::mapreduce::RecordError::new("expected 4 fields, found 3");
/// assert_eq!(e.to_string(), "expected 4 fields, found 3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    message: String,
}

impl RecordError {
    /// A record error with this message.
    ///
    /// ```
    /// let e = flotilla::mapreduce::RecordError::new("not a number");
    /// ```
    pub fn new(message: impl Into<String>) -> RecordError {
        RecordError {
            message: message.into(),
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecordError {}

/// How a mapper's input is made from a line of text: `str` (checked UTF-8)
/// or `[u8]` (any bytes).
pub trait TextInput {
    /// Views a line as this input type.
    ///
    /// # Errors
    ///
    /// The UTF-8 error, for `str`.
    fn from_line(line: &[u8]) -> Result<&Self, std::str::Utf8Error>;
}

impl TextInput for [u8] {
    fn from_line(line: &[u8]) -> Result<&[u8], std::str::Utf8Error> {
        Ok(line)
    }
}

impl TextInput for str {
    fn from_line(line: &[u8]) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(line)
    }
}

/// A MapReduce step, as an mrjob class: mapper, optional combiner, reducer,
/// optional hooks. `State` is per task (one for each map task, one for each
/// reduce task), for hooks that keep something across records.
///
/// # Examples
///
/// Scenario 3 of flotilla's design — MovieLens ratings counted by value:
///
/// ```
/// use flotilla::mapreduce::{Emitter, Job, JobRunner, RecordError};
///
/// struct RatingsBreakdown;
///
/// impl Job for RatingsBreakdown {
///     type Input = str;
///     type Key = u8;
///     type Value = u64;
///     type Output = (u8, u64);
///     type State = ();
///     const COMBINES: bool = true;
///
///     fn map(&self, _: &mut (), line: &str, emit: &mut Emitter<'_, u8, u64>) -> Result<(), RecordError> {
///         let rating = line.split('\t').nth(2).ok_or_else(|| RecordError::new("no rating field"))?;
///         let rating = rating.parse().map_err(|_| RecordError::new(format!("bad rating {rating:?}")))?;
///         emit.emit(rating, 1)
///     }
///     fn combine(&self, acc: &mut u64, n: u64) { *acc += n }
///     fn reduce(&self, _: &mut (), rating: u8, counts: Vec<u64>, out: &mut Vec<(u8, u64)>) -> Result<(), RecordError> {
///         out.push((rating, counts.iter().sum()));
///         Ok(())
///     }
/// }
///
/// # let dir = std::env::temp_dir().join(format!("flotilla-doc-job-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let file = dir.join("u.data");
/// std::fs::write(&file, "1\t10\t5\t0\n2\t11\t3\t0\n3\t12\t5\t0\n")?;
/// let pool = flotilla::CpuPool::with_threads(2)?;
/// let out = JobRunner::new(&pool).run_text(RatingsBreakdown, &[file.to_str().unwrap()])?;
/// assert_eq!(out.counters.map_input_records, 3);
/// let mut counts = out.records();
/// counts.sort();
/// assert_eq!(counts, vec![(3, 1), (5, 2)]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Job: Send + Sync + 'static {
    /// What the mapper reads: `str` or `[u8]` for text input, or the
    /// output record of the previous step.
    type Input: ?Sized;
    /// The shuffle key.
    type Key: ShuffleKey;
    /// The shuffle value.
    type Value: ShuffleValue;
    /// What the reducer produces.
    type Output: Send + 'static;
    /// Per-task state for the hooks (use `()` when there is none).
    type State: Default + Send;
    /// Whether [`Job::combine`] is to be used.
    const COMBINES: bool = false;

    /// The mapper: emits pairs for one input record.
    ///
    /// # Errors
    ///
    /// A [`RecordError`] for a malformed record.
    fn map(
        &self,
        state: &mut Self::State,
        record: &Self::Input,
        emit: &mut Emitter<'_, Self::Key, Self::Value>,
    ) -> Result<(), RecordError>;

    /// Runs before a map task's first record.
    fn mapper_init(&self, _state: &mut Self::State) {}

    /// Runs after a map task's last record; may emit.
    ///
    /// # Errors
    ///
    /// A [`RecordError`] fails the task.
    fn mapper_final(
        &self,
        _state: &mut Self::State,
        _emit: &mut Emitter<'_, Self::Key, Self::Value>,
    ) -> Result<(), RecordError> {
        Ok(())
    }

    /// The combiner, as an associative fold: adds `value` into `acc`, two
    /// values of the same key (only called when [`Job::COMBINES`] is true).
    fn combine(&self, _acc: &mut Self::Value, _value: Self::Value) {}

    /// The reducer: one key with all its values; pushes output records.
    ///
    /// # Errors
    ///
    /// A [`RecordError`] fails the task.
    fn reduce(
        &self,
        state: &mut Self::State,
        key: Self::Key,
        values: Vec<Self::Value>,
        out: &mut Vec<Self::Output>,
    ) -> Result<(), RecordError>;

    /// Orders one key's values before the reducer sees them: a secondary
    /// sort (`values.sort()` for values that are `Ord`, or any comparator).
    /// By default values stay in map task order.
    fn order_values(&self, _key: &Self::Key, _values: &mut [Self::Value]) {}

    /// Runs before a reduce task's first key.
    fn reducer_init(&self, _state: &mut Self::State) {}

    /// Runs after a reduce task's last key; may push output.
    ///
    /// # Errors
    ///
    /// A [`RecordError`] fails the task.
    fn reducer_final(
        &self,
        _state: &mut Self::State,
        _out: &mut Vec<Self::Output>,
    ) -> Result<(), RecordError> {
        Ok(())
    }
}
