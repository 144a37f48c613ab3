//! Typed MapReduce jobs, as mrjob users know them.
//!
//! A job is a type implementing [`Job`]: a mapper, an optional combiner, a
//! reducer, and optional init/final hooks for each side. [`JobRunner`] runs
//! it in-process on a [`CpuPool`], every phase as tasks of the pool:
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

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use flotilla_local::{CpuPool, TaskError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::sort::{
    merge_runs, ApproxSize, MapOutput, PartitionedSortBuffer, SortOptions, SpillError,
};
use super::split::{
    default_split_bytes, line_number_at, plan_splits, InputError, InputSplit, LineReader,
    SplitError,
};
use crate::output::{LinePart, OutputDir, OutputError, WriteMode};

mod run;

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

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

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

/// The built-in and user counters of a job, shown at the end of a run.
///
/// ```
/// let c = flotilla::mapreduce::Counters::default();
/// assert_eq!(c.bad_records, 0);
/// assert!(c.to_string().contains("map input records"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Records the mappers read.
    pub map_input_records: u64,
    /// Bytes of input read (text input).
    pub map_input_bytes: u64,
    /// Pairs the mappers emitted.
    pub map_output_records: u64,
    /// Pairs that crossed the shuffle (after combining).
    pub shuffled_records: u64,
    /// Keys the reducers saw.
    pub reduce_input_groups: u64,
    /// Records the reducers produced.
    pub reduce_output_records: u64,
    /// Malformed records skipped (with [`JobConfig::skip_bad_records`]).
    pub bad_records: u64,
    /// Bytes written to spill files.
    pub spilled_bytes: u64,
    /// Counters bumped by user code through [`Emitter::count`].
    pub user: BTreeMap<String, u64>,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.map_input_records += o.map_input_records;
        self.map_input_bytes += o.map_input_bytes;
        self.map_output_records += o.map_output_records;
        self.shuffled_records += o.shuffled_records;
        self.reduce_input_groups += o.reduce_input_groups;
        self.reduce_output_records += o.reduce_output_records;
        self.bad_records += o.bad_records;
        self.spilled_bytes += o.spilled_bytes;
        for (k, v) in &o.user {
            *self.user.entry(k.clone()).or_default() += v;
        }
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = [
            ("map input records", self.map_input_records),
            ("map input bytes", self.map_input_bytes),
            ("map output records", self.map_output_records),
            ("shuffled records", self.shuffled_records),
            ("reduce input groups", self.reduce_input_groups),
            ("reduce output records", self.reduce_output_records),
            ("bad records", self.bad_records),
            ("spilled bytes", self.spilled_bytes),
        ];
        for (name, v) in rows {
            writeln!(f, "{name:>24}: {v}")?;
        }
        for (name, v) in &self.user {
            writeln!(f, "{name:>24}: {v}")?;
        }
        Ok(())
    }
}

/// What the mapper emits into: the map task's combiner and partitioned
/// sort buffer.
pub struct Emitter<'a, K, V> {
    sink: &'a mut ShuffleSink<K, V>,
    counters: &'a mut Counters,
}

impl<K, V> fmt::Debug for Emitter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter").finish_non_exhaustive()
    }
}

impl<K: ShuffleKey, V: ShuffleValue> Emitter<'_, K, V> {
    /// Emits one `(key, value)` pair.
    ///
    /// # Errors
    ///
    /// Never: the `Result` lets a mapper end with `emit.emit(k, v)`. (A
    /// spill failure, such as a full disk, fails the task after the mapper
    /// returns.)
    #[inline]
    pub fn emit(&mut self, key: K, value: V) -> Result<(), RecordError> {
        self.counters.map_output_records += 1;
        self.sink.push(key, value);
        Ok(())
    }

    /// Emits one pair whose key is given borrowed — a `&[u8]` for a
    /// [`SmallBytes`](super::SmallBytes) key, a `&str` for a `String` key.
    /// When the job combines and the key was already emitted by this task,
    /// the value is folded in without building an owned key at all: the
    /// fast path of word counts and other jobs with a few hot keys.
    ///
    /// ```
    /// use flotilla::mapreduce::{Emitter, Job, RecordError, SmallBytes};
    /// struct Words;
    /// impl Job for Words {
    ///     type Input = [u8];
    ///     type Key = SmallBytes;
    ///     type Value = u64;
    ///     type Output = (SmallBytes, u64);
    ///     type State = ();
    ///     const COMBINES: bool = true;
    ///     fn map(&self, _: &mut (), line: &[u8], emit: &mut Emitter<'_, SmallBytes, u64>) -> Result<(), RecordError> {
    ///         for w in line.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
    ///             emit.emit_ref(w, 1)?;
    ///         }
    ///         Ok(())
    ///     }
    ///     fn combine(&self, acc: &mut u64, n: u64) { *acc += n; }
    ///     fn reduce(&self, _: &mut (), k: SmallBytes, v: Vec<u64>, out: &mut Vec<(SmallBytes, u64)>) -> Result<(), RecordError> {
    ///         out.push((k, v.into_iter().sum()));
    ///         Ok(())
    ///     }
    /// }
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-emit-ref-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let file = dir.join("t.txt");
    /// std::fs::write(&file, "b a b\n")?;
    /// let pool = flotilla::CpuPool::with_threads(1)?;
    /// let mut counts = flotilla::mapreduce::JobRunner::new(&pool)
    ///     .run_text(Words, &[file.to_str().unwrap()])?
    ///     .records();
    /// counts.sort();
    /// assert_eq!(counts, [("a".into(), 1), ("b".into(), 2)]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Never, as [`emit`](Self::emit).
    #[inline]
    pub fn emit_ref<Q>(&mut self, key: &Q, value: V) -> Result<(), RecordError>
    where
        Q: Hash + Eq + ?Sized,
        K: Borrow<Q> + for<'q> From<&'q Q>,
    {
        self.counters.map_output_records += 1;
        self.sink.push_ref(key, value);
        Ok(())
    }

    /// Adds `n` to the user counter `name`.
    pub fn count(&mut self, name: &str, n: u64) {
        match self.counters.user.get_mut(name) {
            Some(c) => *c += n,
            None => {
                self.counters.user.insert(name.to_string(), n);
            }
        }
    }
}

/// The settings of a run.
///
/// ```
/// let c = flotilla::mapreduce::JobConfig::default().reducers(4).split_bytes(1 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct JobConfig {
    reducers: Option<usize>,
    split_bytes: Option<u64>,
    memory_budget: usize,
    spill_dir: Option<PathBuf>,
    skip_bad_records: bool,
    records_per_map_task: usize,
    retries: u32,
}

impl Default for JobConfig {
    fn default() -> JobConfig {
        JobConfig {
            reducers: None,
            split_bytes: None,
            memory_budget: 512 << 20,
            spill_dir: None,
            skip_bad_records: false,
            records_per_map_task: 100_000,
            retries: 0,
        }
    }
}

impl JobConfig {
    /// Number of reduce tasks (default: the pool's threads).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().reducers(4);
    /// ```
    pub fn reducers(mut self, n: usize) -> JobConfig {
        self.reducers = Some(n);
        self
    }
    /// Bytes per input split, i.e. per map task (default: derived from the
    /// input size — about four map tasks per worker thread, each between
    /// 1 MiB and 64 MiB, so that work stealing can even out the splits).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().split_bytes(64 << 20);
    /// ```
    pub fn split_bytes(mut self, bytes: u64) -> JobConfig {
        self.split_bytes = Some(bytes);
        self
    }
    /// Memory the shuffle may hold before spilling, over all map tasks
    /// running at once (default 512 MiB).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().memory_budget(256 << 20);
    /// ```
    pub fn memory_budget(mut self, bytes: usize) -> JobConfig {
        self.memory_budget = bytes;
        self
    }
    /// Where spill files go (default: a fresh folder in the temp dir).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().spill_dir(std::env::temp_dir());
    /// ```
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> JobConfig {
        self.spill_dir = Some(dir.into());
        self
    }
    /// Count and sample malformed records instead of failing the job.
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().skip_bad_records(true);
    /// ```
    pub fn skip_bad_records(mut self, skip: bool) -> JobConfig {
        self.skip_bad_records = skip;
        self
    }
    /// Records per map task when the input is records (later steps).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().records_per_map_task(10_000);
    /// ```
    pub fn records_per_map_task(mut self, n: usize) -> JobConfig {
        self.records_per_map_task = n.max(1);
        self
    }
    /// How many more times a map or reduce task that failed (an error, a
    /// bad record, a panic) runs again, on any worker, before the job fails
    /// with its error (default 0: a job's tasks are deterministic, so a bad
    /// record fails every attempt; allow retries for mappers that read
    /// something that can fail for a while).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().retries(3);
    /// ```
    pub fn retries(mut self, n: u32) -> JobConfig {
        self.retries = n;
        self
    }
}

/// Why a job failed. Nothing of a failed job is written to an output folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// A malformed record, with where it is.
    #[error("{path}:{line}: bad record ({message}): {snippet}")]
    BadRecord {
        /// The input file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// Byte offset of the line.
        offset: u64,
        /// The start of the line.
        snippet: String,
        /// What the mapper said.
        message: String,
    },
    /// A malformed record in a later step's input (no file to name).
    #[error("step {step}: bad record ({message}) in task {task}")]
    BadIntermediateRecord {
        /// The step, from 1.
        step: usize,
        /// The map or reduce task.
        task: String,
        /// What the job said.
        message: String,
    },
    /// The input could not be planned or read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The shuffle could not write or read a spill file.
    #[error(transparent)]
    Spill(#[from] SpillError),
    /// A task panicked or could not run.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The output folder was refused, or a file of it could not be
    /// written (see [`crate::output`] for the rule of output folders).
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The settings cannot work.
    #[error("invalid job settings: {0}")]
    Config(String),
}

/// The result of a run: each reduce partition's output records (keys sorted
/// within a partition), the counters, a sample of skipped bad records.
#[derive(Debug)]
pub struct JobOutput<O> {
    /// Output records per reduce partition, in partition order.
    pub partitions: Vec<Vec<O>>,
    /// What the run counted.
    pub counters: Counters,
    /// Up to ten skipped bad records, as `file:line: message: snippet`.
    pub bad_record_sample: Vec<String>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl<O: Send + 'static> JobOutput<O> {
    /// All output records, partition after partition.
    ///
    /// ```
    /// let out = flotilla::mapreduce::JobOutput::<u8> {
    ///     partitions: vec![vec![1, 2], vec![3]],
    ///     counters: Default::default(),
    ///     bad_record_sample: vec![],
    ///     elapsed: std::time::Duration::ZERO,
    /// };
    /// assert_eq!(out.records(), [1, 2, 3]);
    /// ```
    pub fn records(self) -> Vec<O> {
        self.partitions.into_iter().flatten().collect()
    }

    /// Runs the next step of a multi-step job on this step's output: the
    /// records of every partition become the next mapper's input. The
    /// returned counters are the next step's.
    ///
    /// # Errors
    ///
    /// As [`JobRunner::run_records`].
    ///
    /// ```
    /// use flotilla::mapreduce::{Emitter, Job, JobOutput, JobRunner, RecordError};
    ///
    /// /// Step 2: invert (word, count) into (count, word) and list words per count.
    /// struct ByCount;
    /// impl Job for ByCount {
    ///     type Input = (String, u64);
    ///     type Key = u64;
    ///     type Value = String;
    ///     type Output = (u64, Vec<String>);
    ///     type State = ();
    ///     fn map(&self, _: &mut (), (w, c): &(String, u64), emit: &mut Emitter<'_, u64, String>) -> Result<(), RecordError> {
    ///         emit.emit(*c, w.clone())
    ///     }
    ///     fn reduce(&self, _: &mut (), c: u64, mut ws: Vec<String>, out: &mut Vec<(u64, Vec<String>)>) -> Result<(), RecordError> {
    ///         ws.sort();
    ///         out.push((c, ws));
    ///         Ok(())
    ///     }
    /// }
    /// let pool = flotilla::CpuPool::with_threads(2)?;
    /// let runner = JobRunner::new(&pool);
    /// let step1 = JobOutput {
    ///     partitions: vec![vec![("a".to_string(), 2), ("b".to_string(), 1)], vec![("c".to_string(), 2)]],
    ///     counters: Default::default(),
    ///     bad_record_sample: vec![],
    ///     elapsed: std::time::Duration::ZERO,
    /// };
    /// let mut step2 = step1.then(&runner, ByCount)?.records();
    /// step2.sort();
    /// assert_eq!(step2, vec![(1, vec!["b".to_string()]), (2, vec!["a".to_string(), "c".to_string()])]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn then<J: Job<Input = O>>(
        self,
        runner: &JobRunner,
        job: J,
    ) -> Result<JobOutput<J::Output>, JobError> {
        runner.run_records(job, self.records())
    }
}

/// An output record that can be written as one line of text, as Hadoop's
/// `key\tvalue` convention wants it.
///
/// ```
/// use flotilla::mapreduce::TextRecord;
/// let mut line = Vec::new();
/// (5u8, 42u64).write_line(&mut line).unwrap();
/// assert_eq!(line, b"5\t42\n");
/// ```
pub trait TextRecord {
    /// Writes the record and a newline.
    ///
    /// # Errors
    ///
    /// The writer's error.
    fn write_line(&self, out: &mut dyn std::io::Write) -> std::io::Result<()>;
}

impl<A: fmt::Display, B: fmt::Display> TextRecord for (A, B) {
    fn write_line(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "{}\t{}", self.0, self.1)
    }
}

impl TextRecord for String {
    fn write_line(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "{self}")
    }
}

impl<O: TextRecord> JobOutput<O> {
    /// Writes the output to the folder `dir`, one `part-NNNNN` file per
    /// reduce partition (each record as [`TextRecord`] writes it) and an
    /// empty `_SUCCESS` last, like Hadoop. Each part is written under a
    /// temporary name and renamed when complete, so a failure leaves no
    /// `_SUCCESS` and no half-written part. The folder must be new or
    /// empty, and a failed write leaves it as it found it: the rule of
    /// every output folder, in [`crate::output`].
    /// [`write_text_with`](Self::write_text_with) overwrites a previous
    /// output; [`write_text_by`](Self::write_text_by) writes any record.
    ///
    /// # Errors
    ///
    /// [`JobError::Output`]: the folder is refused, or a file could not be
    /// written.
    ///
    /// ```
    /// let out = flotilla::mapreduce::JobOutput {
    ///     partitions: vec![vec![("a".to_string(), 1u64)], vec![("b".to_string(), 2)]],
    ///     counters: Default::default(),
    ///     bad_record_sample: vec![],
    ///     elapsed: std::time::Duration::ZERO,
    /// };
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-parts-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// out.write_text(&dir)?;
    /// assert_eq!(std::fs::read_to_string(dir.join("part-00001"))?, "b\t2\n");
    /// assert!(dir.join("_SUCCESS").exists());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_text(&self, dir: &std::path::Path) -> Result<(), JobError> {
        self.write_text_with(dir, WriteMode::ErrorIfNotEmpty)
    }

    /// [`write_text`](Self::write_text), with [`WriteMode::Overwrite`] to
    /// replace a previous flotilla output in the folder.
    ///
    /// # Errors
    ///
    /// As [`write_text`](Self::write_text); with [`WriteMode::Overwrite`],
    /// also a folder holding anything but a previous flotilla output.
    ///
    /// ```
    /// use flotilla::output::WriteMode;
    /// let out = flotilla::mapreduce::JobOutput {
    ///     partitions: vec![vec![("a".to_string(), 1u64)]],
    ///     counters: Default::default(),
    ///     bad_record_sample: vec![],
    ///     elapsed: std::time::Duration::ZERO,
    /// };
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-parts-with-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// out.write_text(&dir)?;
    /// assert!(out.write_text(&dir).is_err()); // not empty
    /// out.write_text_with(&dir, WriteMode::Overwrite)?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_text_with(&self, dir: &std::path::Path, mode: WriteMode) -> Result<(), JobError> {
        write_parts(&self.partitions, dir, mode, |part, record| {
            part.write_with(|line| record.write_line(line))
        })
    }
}

impl<O> JobOutput<O> {
    /// As [`write_text_with`](Self::write_text_with), each record written
    /// as `format` writes it into its line (without the newline): for
    /// records whose key or value has no `Display` (a tuple key), or to
    /// choose their text.
    ///
    /// # Errors
    ///
    /// As [`write_text_with`](Self::write_text_with).
    ///
    /// ```
    /// use std::fmt::Write;
    /// use flotilla::output::WriteMode;
    ///
    /// let out = flotilla::mapreduce::JobOutput {
    ///     partitions: vec![vec![(("cat".to_string(), 2017u32), 3u64)]],
    ///     counters: Default::default(),
    ///     bad_record_sample: vec![],
    ///     elapsed: std::time::Duration::ZERO,
    /// };
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-parts-by-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// out.write_text_by(&dir, WriteMode::ErrorIfNotEmpty, |((word, year), n), line| {
    ///     write!(line, "{word}\t{year}\t{n}")
    /// })?;
    /// assert_eq!(std::fs::read_to_string(dir.join("part-00000"))?, "cat\t2017\t3\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_text_by(
        &self,
        dir: &std::path::Path,
        mode: WriteMode,
        format: impl Fn(&O, &mut String) -> fmt::Result,
    ) -> Result<(), JobError> {
        write_parts(&self.partitions, dir, mode, |part, record| {
            part.push(record, &format)
        })
    }
}

/// Writes `partitions` as the parts of a new output folder `dir`, each
/// record into its part's lines through `write`, and commits; a failure
/// leaves the folder as it was found.
fn write_parts<O>(
    partitions: &[Vec<O>],
    dir: &std::path::Path,
    mode: WriteMode,
    mut write: impl FnMut(&mut LinePart, &O) -> Result<(), OutputError>,
) -> Result<(), JobError> {
    let out = OutputDir::create(dir, mode)?;
    for (i, records) in partitions.iter().enumerate() {
        let mut part = LinePart::create(&out, i)?;
        for record in records {
            write(&mut part, record)?;
        }
        part.commit()?;
    }
    // Dropped on an error above, `out` removes what was written.
    out.commit_expecting(partitions.len())?;
    Ok(())
}

/// Runs [`Job`]s in-process on a [`CpuPool`].
#[derive(Debug, Clone)]
pub struct JobRunner {
    pool: CpuPool,
    config: JobConfig,
}

/// One map task's result.
struct MapResult<K, V> {
    output: MapOutput<K, V>,
    counters: Counters,
    bad: Vec<run::BadRecord>,
}

const BAD_SAMPLE: usize = 10;

fn snippet(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned();
    if line.len() > 80 {
        s + "…"
    } else {
        s
    }
}

impl JobRunner {
    /// A runner on `pool` with default settings.
    ///
    /// ```
    /// let runner = flotilla::mapreduce::JobRunner::new(&flotilla::CpuPool::with_threads(1).unwrap());
    /// ```
    pub fn new(pool: &CpuPool) -> JobRunner {
        JobRunner {
            pool: pool.clone(),
            config: JobConfig::default(),
        }
    }

    /// The same runner with these settings.
    ///
    /// ```
    /// let pool = flotilla::CpuPool::with_threads(1).unwrap();
    /// let runner = flotilla::mapreduce::JobRunner::new(&pool).config(flotilla::mapreduce::JobConfig::default().reducers(1));
    /// ```
    pub fn config(mut self, config: JobConfig) -> JobRunner {
        self.config = config;
        self
    }

    fn reducers(&self) -> usize {
        self.config
            .reducers
            .unwrap_or_else(|| self.pool.threads())
            .max(1)
    }

    fn sort_options(&self) -> SortOptions {
        let per_task = (self.config.memory_budget / self.pool.threads().max(1)).max(64 << 10);
        let mut o = SortOptions::new().budget_bytes(per_task);
        if let Some(d) = &self.config.spill_dir {
            o = o.spill_dir(d.clone());
        }
        o
    }

    /// Runs `job` over text files (paths, folders or globs), one map task
    /// per split.
    ///
    /// # Errors
    ///
    /// [`JobError`]: bad input paths, a bad record (file, line, snippet), a
    /// panic in a task, a spill failure.
    pub fn run_text<J>(&self, job: J, inputs: &[&str]) -> Result<JobOutput<J::Output>, JobError>
    where
        J: Job,
        J::Input: TextInput,
    {
        self.run_text_with(job, Partitioner::Hash, inputs)
    }

    /// As [`JobRunner::run_text`], with a partitioner.
    ///
    /// # Errors
    ///
    /// As [`JobRunner::run_text`].
    pub fn run_text_with<J>(
        &self,
        job: J,
        partitioner: Partitioner<J::Key>,
        inputs: &[&str],
    ) -> Result<JobOutput<J::Output>, JobError>
    where
        J: Job,
        J::Input: TextInput,
    {
        let start = Instant::now();
        let splits = plan_splits(inputs, self.split_bytes_for(inputs)?)?;
        let partitions = self.checked_reducers(&partitioner)?;
        let setup = self.map_setup(job, partitioner, partitions);
        let maps = splits
            .into_iter()
            .map(|split| {
                let setup = setup.clone();
                Box::new(move || map_text_split(setup.clone(), &split)) as run::MapFn<J>
            })
            .collect();
        self.run_graph(setup.job, maps, start)
    }

    fn map_setup<J: Job>(
        &self,
        job: J,
        partitioner: Partitioner<J::Key>,
        partitions: usize,
    ) -> MapSetup<J> {
        MapSetup {
            job: Arc::new(job),
            partitioner: Arc::new(partitioner),
            partitions,
            options: self.sort_options(),
            skip_bad: self.config.skip_bad_records,
        }
    }

    /// The split size: the configured one, or one derived from the input
    /// size (gzip files are one split whatever it is).
    fn split_bytes_for(&self, inputs: &[&str]) -> Result<u64, JobError> {
        if let Some(b) = self.config.split_bytes {
            return Ok(b);
        }
        let whole_files = plan_splits(inputs, u64::MAX)?;
        Ok(default_split_bytes(&whole_files, self.pool.threads()))
    }

    fn checked_reducers<K>(&self, partitioner: &Partitioner<K>) -> Result<usize, JobError> {
        let r = self.reducers();
        if let Partitioner::Range(bounds) = partitioner {
            if bounds.len() + 1 != r {
                return Err(JobError::Config(format!(
                    "a range partitioner with {} bounds needs {} reducers, not {r}",
                    bounds.len(),
                    bounds.len() + 1
                )));
            }
        }
        Ok(r)
    }

    /// Runs `job` over in-memory records (for example the output of an
    /// earlier step), `records_per_map_task` records per map task.
    ///
    /// # Errors
    ///
    /// As [`JobRunner::run_text`].
    pub fn run_records<J>(
        &self,
        job: J,
        records: Vec<J::Input>,
    ) -> Result<JobOutput<J::Output>, JobError>
    where
        J: Job,
        J::Input: Sized + Send + 'static,
    {
        let start = Instant::now();
        let setup = self.map_setup(job, Partitioner::Hash, self.reducers());
        let per_task = self.config.records_per_map_task;
        let mut maps = Vec::new();
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            let index = maps.len();
            // Kept until the run ends, so that the task can run again; the
            // lock is never contended (one attempt runs at a time).
            let chunk = Mutex::new(records.by_ref().take(per_task).collect::<Vec<J::Input>>());
            let setup = setup.clone();
            maps.push(Box::new(move || {
                let chunk = chunk.lock().unwrap_or_else(PoisonError::into_inner);
                map_records(setup.clone(), &chunk, index)
            }) as run::MapFn<J>);
        }
        self.run_graph(setup.job, maps, start)
    }
}

/// The fold of a job's combiner, type-erased over the job.
type CombineFn<V> = Arc<dyn Fn(&mut V, V) + Send + Sync>;

/// Where a map task's pairs go: an in-map combiner (when the job combines)
/// in front of a partitioned sort buffer. Generic over the pair types only,
/// so [`Emitter::emit`] pushes here directly, inlined into the mapper.
pub(crate) struct ShuffleSink<K, V> {
    combiner: Option<CombineFn<V>>,
    partitioner: Arc<Partitioner<K>>,
    partitions: usize,
    buffer: PartitionedSortBuffer<K, V>,
    /// A few keys combined by linear search before the hash table: for
    /// small fixed-size keys (a rating, a flag, a small id) this is several
    /// times cheaper than hashing.
    front: Vec<Option<(K, V)>>,
    combine: FastMap<K, V>,
    combine_bytes: usize,
    combine_budget: usize,
    shuffled: u64,
    /// The first spill failure; it fails the task when the mapper returns.
    failed: Option<SpillError>,
}

/// How many keys [`ShuffleSink`] combines by linear search.
const FRONT_KEYS: usize = 16;

impl<K: ShuffleKey, V: ShuffleValue> ShuffleSink<K, V> {
    fn new(
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
    fn push(&mut self, key: K, value: V) {
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
    fn push_ref<Q>(&mut self, key: &Q, value: V)
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
    fn push_uncombined(&mut self, key: K, value: V) {
        let p = self.partitioner.partition(&key, self.partitions);
        self.shuffled += 1;
        if let Err(e) = self.buffer.push(p, key, value) {
            self.failed.get_or_insert(e);
        }
    }

    /// A key new to the combine table; flushes the table to the sort
    /// buffer when it outgrows its half of the budget.
    #[inline(never)]
    fn insert_combined(&mut self, key: K, value: V) {
        self.combine_bytes += key.approx_size() + value.approx_size() + 48;
        self.combine.insert(key, value);
        if self.combine_bytes > self.combine_budget {
            if let Err(e) = self.flush_combined() {
                self.failed.get_or_insert(e);
            }
        }
    }

    #[inline]
    fn partitioner_hash(&self, key: &K) -> u64 {
        let mut h = KeyHasher::default();
        key.hash(&mut h);
        h.finish()
    }

    fn flush_combined(&mut self) -> Result<(), SpillError> {
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
fn combiner_of<J: Job>(job: &Arc<J>) -> Option<CombineFn<J::Value>> {
    if J::COMBINES {
        let job = Arc::clone(job);
        Some(Arc::new(move |acc: &mut J::Value, v: J::Value| {
            job.combine(acc, v)
        }))
    } else {
        None
    }
}

/// One map task over any source of records.
struct MapTask<J: Job> {
    job: Arc<J>,
    sink: ShuffleSink<J::Key, J::Value>,
    counters: Counters,
    state: J::State,
    bad: Vec<run::BadRecord>,
    skip_bad: bool,
}

/// What every map task of a run shares: the job, how to partition, the
/// sort buffer's settings, whether bad records are skipped.
struct MapSetup<J: Job> {
    job: Arc<J>,
    partitioner: Arc<Partitioner<J::Key>>,
    partitions: usize,
    options: SortOptions,
    skip_bad: bool,
}

impl<J: Job> Clone for MapSetup<J> {
    fn clone(&self) -> Self {
        MapSetup {
            job: Arc::clone(&self.job),
            partitioner: Arc::clone(&self.partitioner),
            partitions: self.partitions,
            options: self.options.clone(),
            skip_bad: self.skip_bad,
        }
    }
}

impl<J: Job> MapTask<J> {
    fn new(setup: MapSetup<J>) -> Self {
        let mut state = J::State::default();
        setup.job.mapper_init(&mut state);
        MapTask {
            sink: ShuffleSink::new(
                combiner_of(&setup.job),
                &setup.partitioner,
                setup.partitions,
                setup.options,
            ),
            job: setup.job,
            counters: Counters::default(),
            state,
            bad: Vec::new(),
            skip_bad: setup.skip_bad,
        }
    }

    /// Runs the mapper on one record; a spill failure is left in
    /// `sink.failed` for the caller to check.
    #[inline]
    fn map_record(&mut self, record: &J::Input) -> Result<(), RecordError> {
        let mut emitter = Emitter {
            sink: &mut self.sink,
            counters: &mut self.counters,
        };
        self.job.map(&mut self.state, record, &mut emitter)
    }

    /// The spill failure the last records caused, if any (read without a
    /// write on the common path: this runs once per record).
    #[inline]
    fn spill_failure(&mut self) -> Option<SpillError> {
        if self.sink.failed.is_some() {
            self.sink.failed.take()
        } else {
            None
        }
    }

    /// Handles a bad record at `pos`: counted and sampled, or the job's error.
    fn bad_record(
        &mut self,
        err: RecordError,
        path: &std::path::Path,
        offset: u64,
        line: &[u8],
    ) -> Result<(), JobError> {
        if self.skip_bad {
            self.counters.bad_records += 1;
            if self.bad.len() < BAD_SAMPLE {
                self.bad
                    .push((path.to_path_buf(), offset, snippet(line), err.message));
            }
            Ok(())
        } else {
            Err(JobError::BadRecord {
                path: path.to_path_buf(),
                line: line_number_at(path, offset).unwrap_or(0),
                offset,
                snippet: snippet(line),
                message: err.message,
            })
        }
    }

    fn finish(mut self, task: &str) -> Result<MapResult<J::Key, J::Value>, JobError> {
        let mut emitter = Emitter {
            sink: &mut self.sink,
            counters: &mut self.counters,
        };
        let verdict = self.job.mapper_final(&mut self.state, &mut emitter);
        if let Some(e) = self.spill_failure() {
            return Err(e.into());
        }
        if let Err(e) = verdict {
            return Err(JobError::BadIntermediateRecord {
                step: 1,
                task: task.to_string(),
                message: e.message,
            });
        }
        self.sink.flush_combined()?;
        self.counters.shuffled_records += self.sink.shuffled;
        let output = self.sink.buffer.finish()?;
        Ok(MapResult {
            output,
            counters: self.counters,
            bad: self.bad,
        })
    }
}

fn map_text_split<J>(
    setup: MapSetup<J>,
    split: &InputSplit,
) -> Result<MapResult<J::Key, J::Value>, JobError>
where
    J: Job,
    J::Input: TextInput,
{
    let mut task = MapTask::new(setup);
    let mut reader = LineReader::new();
    // The callback's error is boxed: a large error type in every line's
    // return value costs more than the work of a short line.
    let stats = reader.for_each_line(split, |line| -> Result<(), Box<JobError>> {
        task.counters.map_input_records += 1;
        let bytes = line.bytes();
        let verdict = match J::Input::from_line(bytes) {
            Ok(record) => task.map_record(record),
            Err(e) => Err(RecordError::new(format!(
                "invalid UTF-8 at byte {} of the line; for input that is not all \
                 UTF-8, declare `type Input = [u8]` and decode the bytes in the \
                 mapper, or skip such lines with `JobConfig::skip_bad_records`",
                e.valid_up_to()
            ))),
        };
        if let Some(e) = task.spill_failure() {
            return Err(Box::new(JobError::Spill(e)));
        }
        match verdict {
            Ok(()) => Ok(()),
            Err(e) => task
                .bad_record(e, line.path(), line.offset(), bytes)
                .map_err(Box::new),
        }
    });
    let stats = match stats {
        Ok(s) => s,
        Err(SplitError::Callback { error, .. }) => return Err(*error),
        Err(SplitError::Input(e)) => return Err(JobError::Input(e)),
    };
    task.counters.map_input_bytes += stats.record_bytes;
    task.finish(&format!("map[{}]", split.index()))
}

fn map_records<J>(
    setup: MapSetup<J>,
    records: &[J::Input],
    index: usize,
) -> Result<MapResult<J::Key, J::Value>, JobError>
where
    J: Job,
    J::Input: Sized,
{
    let skip_bad = setup.skip_bad;
    let mut task = MapTask::new(setup);
    for r in records {
        task.counters.map_input_records += 1;
        let verdict = task.map_record(r);
        if let Some(e) = task.spill_failure() {
            return Err(e.into());
        }
        if let Err(e) = verdict {
            if skip_bad {
                task.counters.bad_records += 1;
            } else {
                return Err(JobError::BadIntermediateRecord {
                    step: 2,
                    task: format!("map[{index}]"),
                    message: e.message,
                });
            }
        }
    }
    task.finish(&format!("map[{index}]"))
}

fn reduce_partition<J: Job>(
    job: &J,
    index: usize,
    runs: Vec<super::sort::SortedRun<J::Key, J::Value>>,
) -> Result<(Vec<J::Output>, Counters), JobError> {
    let mut counters = Counters::default();
    let mut state = J::State::default();
    job.reducer_init(&mut state);
    let mut out = Vec::new();
    let mut records = merge_runs(runs)?;
    let mut current: Option<(J::Key, Vec<J::Value>)> = None;
    let task = || format!("reduce[{index}]");
    let mut emit_group =
        |key: J::Key, mut values: Vec<J::Value>, out: &mut Vec<J::Output>, state: &mut J::State| {
            job.order_values(&key, &mut values);
            counters.reduce_input_groups += 1;
            job.reduce(state, key, values, out)
                .map_err(|e| JobError::BadIntermediateRecord {
                    step: 1,
                    task: task(),
                    message: e.message,
                })
        };
    for rec in &mut records {
        let (k, v) = rec?;
        match &mut current {
            Some((ck, vs)) if *ck == k => vs.push(v),
            _ => {
                if let Some((ck, vs)) = current.take() {
                    emit_group(ck, vs, &mut out, &mut state)?;
                }
                current = Some((k, vec![v]));
            }
        }
    }
    if let Some((ck, vs)) = current.take() {
        emit_group(ck, vs, &mut out, &mut state)?;
    }
    job.reducer_final(&mut state, &mut out)
        .map_err(|e| JobError::BadIntermediateRecord {
            step: 1,
            task: task(),
            message: e.message,
        })?;
    counters.reduce_output_records = out.len() as u64;
    Ok((out, counters))
}
