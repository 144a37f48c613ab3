//! Map-reduce: map records to `(key, value)` pairs, optionally combine them
//! inside each map task, shuffle them by key to reduce tasks, and reduce
//! each key's values to one result — every phase as tasks on a
//! [`CpuPool`].
//!
//! ```
//! use flotilla::patterns::MapReduce;
//! use flotilla::CpuPool;
//!
//! let pool = CpuPool::with_threads(2).unwrap();
//! let lines = vec!["the cat", "the dog", "a cat"];
//! let counts = MapReduce::new(
//!         |line: &str| line.split_whitespace().map(|w| (w.to_string(), 1u64)).collect::<Vec<_>>(),
//!         |_word, ones| ones.into_iter().sum::<u64>(),
//!     )
//!     .combiner(|_word, ones| ones.into_iter().sum())
//!     .run(&pool, lines)
//!     .unwrap();
//! assert_eq!(counts, [("a".to_string(), 1), ("cat".into(), 2), ("dog".into(), 1), ("the".into(), 2)]);
//! ```
//!
//! # Design
//!
//! ```text
//!  inputs ─chunk─► map[0] ──┐ partition by hash(key) mod R ┌─► reduce[0] ──┐
//!                  map[1] ──┼──────────── shuffle ─────────┼─► reduce[1] ──┼─► merge, sorted by key
//!                  …        │                              │   …           │
//!                  map[M-1]─┘                              └─► reduce[R-1]─┘
//! ```
//!
//! **Map.** The input records are cut into contiguous chunks of
//! [`chunk_size`](MapReduce::chunk_size) records (by default about four map
//! tasks per worker of the pool, so that work stealing can even out uneven
//! chunks) and each chunk is one map task. Map and reduce tasks are the
//! nodes of one task graph, run by the scheduler on the pool like every
//! flotilla computation. A map task calls the mapper on (a clone of) each of
//! its records, in order; the chunk stays with the task until the run ends,
//! so the task can run again.
//!
//! **Combine (optional).** With a [`combiner`](MapReduce::combiner), a map
//! task groups its own output by key and replaces each key's values by the
//! combiner's one value before anything leaves the task. This is Hadoop's
//! combiner: a partial reduction that shrinks the shuffle. The combiner has
//! the reducer's shape, `Fn(&K, Vec<V>) -> V`, but must return the value
//! type, because its output is fed to the reducer (or, in principle, to the
//! combiner again). It is correct only when reducing the combined partial
//! values gives the same result as reducing the raw values — true of sums,
//! counts, minima, maxima, set unions; not of a mean (combine to a
//! `(sum, count)` pair instead).
//!
//! **Shuffle.** Each map task partitions its pairs into R
//! [`reducers`](MapReduce::reducers) partitions by a hash of the key (a fixed
//! hasher, so a key always goes to the same partition, run after run). Every
//! reduce task depends on every map task, so reduce tasks start once every
//! map task is done; nothing waits in the calling thread meanwhile. A reduce
//! task reads (clones) its partition of each map task's output, which stays
//! in place until every reduce task finished.
//!
//! **Reduce.** One task per partition groups its pairs by key, sorts the
//! keys, and calls the reducer once per key with all of that key's values.
//! The values reach the reducer in input order: map task by map task, and
//! within a map task in the order the mapper emitted them (with a combiner,
//! one combined value per map task, in map task order).
//!
//! **Merge.** The sorted outputs of the reduce tasks are merged on the
//! calling thread into one `Vec<(K, R)>` sorted by key.
//!
//! **Errors.** A panic in the mapper, combiner or reducer is caught and
//! returned as [`TaskError::Panicked`] naming the task —
//! `map_reduce:map[i]` or `map_reduce:reduce[j]` — and the closure's Rust
//! path; once a task failed, the tasks not yet started that only led to the
//! lost output are not started.
//!
//! **Counters.** [`MapReduce::run_with_report`] also returns a
//! [`MapReduceReport`]: records in, pairs emitted by the mappers, pairs after
//! the combiner (those that cross the shuffle), keys out, and the number of
//! map and reduce tasks.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use flotilla_core::{TaskKey, TaskOptions};
use flotilla_local::{ComputeOptions, CpuPool, Graph, Inputs, TaskError};

use super::{catch_panic, PatternError};
use flotilla_data::caller::{lock, ForCaller, PerTask};
use flotilla_data::shuffle::MapPieces;
use flotilla_data::task_errors::TaskErrors;

/// How many map tasks per worker thread when no chunk size is set.
const MAP_TASKS_PER_WORKER: usize = 4;

/// A mapper, type-erased: calls `emit` once per pair it produces.
type MapFn<I, K, V> = Arc<dyn Fn(I, &mut dyn FnMut(K, V)) + Send + Sync>;
/// A combiner or a reducer: all the values of one key to one result.
type KeyFn<K, V, O> = Arc<dyn Fn(&K, Vec<V>) -> O + Send + Sync>;

/// The pairs one map task sends to each partition.
type Partitions<K, V> = Vec<Vec<(K, V)>>;

/// A map task's partitions, each read by its reduce task (see
/// [`flotilla_data::shuffle`]); a map task's failure is a task failure, so
/// the only error here is a partition asked for that does not exist.
type Pieces<K, V> = MapPieces<Vec<(K, V)>, String>;

/// A map-reduce job: a mapper, an optional combiner and a reducer, with the
/// number of reduce tasks and the size of map tasks. Build it once, run it
/// on any pool, as often as needed.
///
/// * `I` — an input record;
/// * `K`, `V` — the key and value of the pairs the mapper emits (`K` is
///   hashed to pick a partition and ordered to sort the output);
/// * `O` — what the reducer makes of one key's values.
///
/// ```
/// use flotilla::patterns::MapReduce;
/// use flotilla::CpuPool;
///
/// // Ratings broken down by rating value (the MovieLens example).
/// let ratings = vec!["196\t242\t3", "186\t302\t3", "196\t377\t1", "244\t51\t2"];
/// let job = MapReduce::new(
///     |line: &str| line.split('\t').nth(2).map(|r| (r.to_string(), 1u32)),
///     |_rating, ones| ones.len(),
/// )
/// .reducers(2);
/// let pool = CpuPool::with_threads(2).unwrap();
/// let by_rating = job.run(&pool, ratings).unwrap();
/// assert_eq!(by_rating, [("1".to_string(), 1), ("2".into(), 1), ("3".into(), 2)]);
/// ```
pub struct MapReduce<I, K, V, O> {
    mapper: MapFn<I, K, V>,
    mapper_name: &'static str,
    combiner: Option<(KeyFn<K, V, V>, &'static str)>,
    reducer: KeyFn<K, V, O>,
    reducer_name: &'static str,
    reducers: Option<usize>,
    chunk_size: Option<usize>,
    retries: u32,
}

impl<I, K, V, O> Clone for MapReduce<I, K, V, O> {
    fn clone(&self) -> Self {
        MapReduce {
            mapper: Arc::clone(&self.mapper),
            mapper_name: self.mapper_name,
            combiner: self
                .combiner
                .as_ref()
                .map(|(f, name)| (Arc::clone(f), *name)),
            reducer: Arc::clone(&self.reducer),
            reducer_name: self.reducer_name,
            reducers: self.reducers,
            chunk_size: self.chunk_size,
            retries: self.retries,
        }
    }
}

impl<I, K, V, O> fmt::Debug for MapReduce<I, K, V, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapReduce")
            .field("mapper", &self.mapper_name)
            .field("combiner", &self.combiner.as_ref().map(|(_, name)| *name))
            .field("reducer", &self.reducer_name)
            .field("reducers", &self.reducers)
            .field("chunk_size", &self.chunk_size)
            .field("retries", &self.retries)
            .finish()
    }
}

/// What a map-reduce run did, phase by phase.
///
/// Without a combiner `pairs_after_combine == map_output_pairs`; with one,
/// the difference is what the combiner saved the shuffle.
///
/// ```
/// use flotilla::patterns::MapReduce;
/// use flotilla::CpuPool;
///
/// let pool = CpuPool::with_threads(2).unwrap();
/// let (out, report) = MapReduce::new(|x: u32| [(x % 2, x)], |_parity, xs| xs.len())
///     .combiner(|_parity, xs| xs.into_iter().sum())
///     .chunk_size(5)
///     .reducers(3)
///     .run_with_report(&pool, 0..10u32)
///     .unwrap();
/// assert_eq!(out, [(0, 2), (1, 2)]); // one combined value per key per map task
/// assert_eq!(report.records_in, 10);
/// assert_eq!(report.map_tasks, 2);
/// assert_eq!(report.map_output_pairs, 10);
/// assert_eq!(report.pairs_after_combine, 4);
/// assert_eq!(report.reduce_tasks, 3);
/// assert_eq!(report.keys_out, 2);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MapReduceReport {
    /// Input records read.
    pub records_in: u64,
    /// Map tasks run (chunks of input records).
    pub map_tasks: usize,
    /// Pairs the mappers emitted.
    pub map_output_pairs: u64,
    /// Pairs after the combiner, i.e. the pairs that crossed the shuffle
    /// (equal to `map_output_pairs` without a combiner).
    pub pairs_after_combine: u64,
    /// Reduce tasks run (one per partition).
    pub reduce_tasks: usize,
    /// Distinct keys in the output.
    pub keys_out: u64,
}

/// What one map task hands to the shuffle.
struct MapOutput<K, V> {
    partitions: Partitions<K, V>,
    emitted: u64,
    shuffled: u64,
}

impl<I, K, V, O> MapReduce<I, K, V, O>
where
    I: Clone + Send + 'static,
    K: Ord + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    O: Send + 'static,
{
    /// A job of `mapper` (one record to any number of `(key, value)` pairs)
    /// and `reducer` (a key and all its values, in input order, to one
    /// result), with no combiner.
    ///
    /// ```
    /// use flotilla::patterns::MapReduce;
    ///
    /// // Sum of squares: one key, `()`.
    /// let job = MapReduce::new(|x: u64| Some(((), x * x)), |_, squares| squares.iter().sum::<u64>());
    /// let pool = flotilla::CpuPool::with_threads(2).unwrap();
    /// assert_eq!(job.run(&pool, 1..=5u64).unwrap(), [((), 55)]);
    /// ```
    pub fn new<M, P, R>(mapper: M, reducer: R) -> Self
    where
        M: Fn(I) -> P + Send + Sync + 'static,
        P: IntoIterator<Item = (K, V)>,
        R: Fn(&K, Vec<V>) -> O + Send + Sync + 'static,
    {
        MapReduce {
            mapper: Arc::new(move |item, emit: &mut dyn FnMut(K, V)| {
                for (k, v) in mapper(item) {
                    emit(k, v);
                }
            }),
            mapper_name: std::any::type_name::<M>(),
            combiner: None,
            reducer: Arc::new(reducer),
            reducer_name: std::any::type_name::<R>(),
            reducers: None,
            chunk_size: None,
            retries: 0,
        }
    }

    /// Adds a combiner, run inside each map task on that task's values of
    /// each key (see the module docs for when a combiner is correct).
    ///
    /// ```
    /// use flotilla::patterns::MapReduce;
    ///
    /// let job = MapReduce::new(|w: &str| [(w.len(), 1u64)], |_len, ones| ones.into_iter().sum::<u64>())
    ///     .combiner(|_len, ones| ones.into_iter().sum());
    /// let pool = flotilla::CpuPool::with_threads(2).unwrap();
    /// assert_eq!(job.run(&pool, ["a", "bb", "cc"]).unwrap(), [(1, 1), (2, 2)]);
    /// ```
    pub fn combiner<C>(mut self, combiner: C) -> Self
    where
        C: Fn(&K, Vec<V>) -> V + Send + Sync + 'static,
    {
        self.combiner = Some((Arc::new(combiner), std::any::type_name::<C>()));
        self
    }

    /// The number of reduce tasks, R, i.e. of partitions the shuffle cuts the
    /// keys into (default: the pool's number of threads). Zero makes the run
    /// return [`PatternError::ZeroReducers`].
    ///
    /// ```
    /// use flotilla::patterns::MapReduce;
    ///
    /// let job = MapReduce::new(|x: u8| [(x, ())], |_, units| units.len()).reducers(4);
    /// let pool = flotilla::CpuPool::with_threads(2).unwrap();
    /// let (_, report) = job.run_with_report(&pool, [1, 2, 2]).unwrap();
    /// assert_eq!(report.reduce_tasks, 4);
    /// ```
    pub fn reducers(mut self, reducers: usize) -> Self {
        self.reducers = Some(reducers);
        self
    }

    /// The number of input records per map task (default: enough to make
    /// about four map tasks per worker thread). Zero makes the run return
    /// [`PatternError::ZeroChunkSize`].
    ///
    /// ```
    /// use flotilla::patterns::MapReduce;
    ///
    /// let job = MapReduce::new(|x: u32| [((), x)], |_, xs| xs.len()).chunk_size(10);
    /// let pool = flotilla::CpuPool::with_threads(2).unwrap();
    /// let (_, report) = job.run_with_report(&pool, 0..95).unwrap();
    /// assert_eq!(report.map_tasks, 10);
    /// ```
    pub fn chunk_size(mut self, records: usize) -> Self {
        self.chunk_size = Some(records);
        self
    }

    /// How many more times a map or reduce task whose mapper, combiner or
    /// reducer panicked runs again (default 0) before the run fails with
    /// that panic. A task that runs again reads its records and its
    /// partitions again, as they were.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use flotilla::patterns::MapReduce;
    ///
    /// let hiccup = AtomicBool::new(true);
    /// let job = MapReduce::new(
    ///     move |x: u32| {
    ///         assert!(!hiccup.swap(false, Ordering::SeqCst), "flaky source");
    ///         [(x % 2, x)]
    ///     },
    ///     |_, xs| xs.len(),
    /// )
    /// .retries(1);
    /// let pool = flotilla::CpuPool::with_threads(2).unwrap();
    /// assert_eq!(job.run(&pool, 0..10).unwrap(), [(0, 5), (1, 5)]);
    /// ```
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Runs the job on `pool` over `inputs`; returns one `(key, result)` per
    /// distinct key, sorted by key.
    ///
    /// # Errors
    ///
    /// [`PatternError::ZeroReducers`] or [`PatternError::ZeroChunkSize`] for
    /// a configuration that cannot run (before any task starts), or
    /// [`PatternError::Task`] with the error of the first failed task, in
    /// task order (a panic in the mapper, combiner or reducer).
    ///
    /// ```
    /// use flotilla::patterns::MapReduce;
    ///
    /// let pool = flotilla::CpuPool::with_threads(2).unwrap();
    /// let job = MapReduce::new(|x: i32| [(x.signum(), x)], |_, xs| xs);
    /// let out = job.run(&pool, [3, -1, 0, 5, -2]).unwrap();
    /// assert_eq!(out, [(-1, vec![-1, -2]), (0, vec![0]), (1, vec![3, 5])]);
    /// ```
    pub fn run(
        &self,
        pool: &CpuPool,
        inputs: impl IntoIterator<Item = I>,
    ) -> Result<Vec<(K, O)>, PatternError> {
        self.run_with_report(pool, inputs).map(|(out, _)| out)
    }

    /// As [`MapReduce::run`], and reports the counters of the run.
    ///
    /// # Errors
    ///
    /// As [`MapReduce::run`].
    ///
    /// ```
    /// use flotilla::patterns::MapReduce;
    ///
    /// let pool = flotilla::CpuPool::with_threads(2).unwrap();
    /// let job = MapReduce::new(|s: &str| s.chars().map(|c| (c, 1)).collect::<Vec<_>>(), |_, ones| ones.len());
    /// let (out, report) = job.run_with_report(&pool, ["abba", "cab"]).unwrap();
    /// assert_eq!(out, [('a', 3), ('b', 3), ('c', 1)]);
    /// assert_eq!((report.records_in, report.map_output_pairs, report.keys_out), (2, 7, 3));
    /// ```
    pub fn run_with_report(
        &self,
        pool: &CpuPool,
        inputs: impl IntoIterator<Item = I>,
    ) -> Result<(Vec<(K, O)>, MapReduceReport), PatternError> {
        let reducers = self.reducers.unwrap_or_else(|| pool.threads());
        if reducers == 0 {
            return Err(PatternError::ZeroReducers);
        }
        if self.chunk_size == Some(0) {
            return Err(PatternError::ZeroChunkSize);
        }
        let inputs: Vec<I> = inputs.into_iter().collect();
        let chunk_size = self.chunk_size.unwrap_or_else(|| {
            inputs
                .len()
                .div_ceil(MAP_TASKS_PER_WORKER * pool.threads().max(1))
                .max(1)
        });
        let mut report = MapReduceReport {
            records_in: inputs.len() as u64,
            reduce_tasks: reducers,
            ..MapReduceReport::default()
        };

        // One graph: map (and combine) tasks, one per chunk; reduce tasks,
        // one per partition, each reading its partition of every map task's
        // output, in map task order. Chunks and map outputs stay readable
        // until the run ends, so any task can run again.
        let errors = Arc::new(TaskErrors::<TaskError>::default());
        let counts: Arc<PerTask<(u64, u64)>> = Arc::default();
        let options = TaskOptions {
            retries: self.retries,
            ..TaskOptions::default()
        };
        let mut graph = Graph::new();
        let map_op = TaskKey::indexed("map_reduce:map", 0);
        let mut map_keys = Vec::new();
        let mut records = inputs.into_iter().peekable();
        while records.peek().is_some() {
            let chunk = Mutex::new(records.by_ref().take(chunk_size).collect::<Vec<I>>());
            let index = map_keys.len();
            let key = map_op.sibling(index as u64);
            let (job, errors, counts, task) = (
                self.clone(),
                Arc::clone(&errors),
                Arc::clone(&counts),
                key.clone(),
            );
            graph.insert_with(key.clone(), [] as [TaskKey; 0], options, move |_| {
                errors.attempt(&task, job.mapper_name, || {
                    let records = lock(&chunk).clone();
                    let output = job.map_task(index, records, reducers)?;
                    counts.note(index, (output.emitted, output.shuffled));
                    Ok(Pieces::<K, V>::new(Ok(output.partitions)))
                })
            });
            map_keys.push(key);
        }
        report.map_tasks = map_keys.len();
        let reduce_op = TaskKey::indexed("map_reduce:reduce", 0);
        let reduce_keys: Vec<TaskKey> =
            (0..reducers).map(|j| reduce_op.sibling(j as u64)).collect();
        for (index, key) in reduce_keys.iter().enumerate() {
            let (reducer, name) = (Arc::clone(&self.reducer), self.reducer_name);
            let (errors, task) = (Arc::clone(&errors), key.clone());
            let deps = map_keys.iter().cloned();
            graph.insert_with(key.clone(), deps, options, move |inputs: &Inputs<'_>| {
                // This reducer's piece of every map task's output, cloned
                // out: the outputs stay whole, so a retry reads them again.
                let mut runs = Vec::with_capacity(inputs.len());
                for m in 0..inputs.len() {
                    let piece = inputs.get::<Pieces<K, V>>(m)?.piece(index);
                    runs.push(piece.map_err(|message| TaskError::Failed {
                        task: task.to_string(),
                        function: String::new(),
                        message,
                    })?);
                }
                errors.attempt(&task, name, || {
                    reduce_task(index, runs, &*reducer, name).map(ForCaller::new)
                })
            });
        }
        let compute = ComputeOptions::new().pool(pool).label("map_reduce");
        let (outcomes, _) = graph.compute_many_with(&reduce_keys, &compute)?;
        let mut out: Vec<(K, O)> = Vec::new();
        for (outcome, key) in outcomes.into_iter().zip(&reduce_keys) {
            let value = outcome.map_err(|e| errors.error_of(e))?;
            out.extend(ForCaller::<Vec<(K, O)>>::take(&value, &key.to_string())?);
        }
        for (emitted, shuffled) in counts.take_in_order() {
            report.map_output_pairs += emitted;
            report.pairs_after_combine += shuffled;
        }

        // Merge the sorted partitions. Keys are distinct across partitions;
        // the stable sort finds the sorted runs and merges them.
        out.sort_by(|a, b| a.0.cmp(&b.0));
        report.keys_out = out.len() as u64;
        Ok((out, report))
    }

    /// One map task: map every record of `chunk`, combine when asked, and
    /// partition the pairs.
    fn map_task(
        &self,
        index: usize,
        chunk: Vec<I>,
        reducers: usize,
    ) -> Result<MapOutput<K, V>, TaskError> {
        let task = || format!("map_reduce:map[{index}]");
        let mut partitions: Partitions<K, V> = (0..reducers).map(|_| Vec::new()).collect();
        let mut emitted = 0u64;
        let Some((combiner, combiner_name)) = &self.combiner else {
            catch_panic(task, self.mapper_name, || {
                for record in chunk {
                    (self.mapper)(record, &mut |k, v| {
                        emitted += 1;
                        partitions[partition_of(&k, reducers)].push((k, v));
                    });
                }
            })?;
            return Ok(MapOutput {
                partitions,
                emitted,
                shuffled: emitted,
            });
        };
        let mut groups: HashMap<K, Vec<V>> = HashMap::new();
        catch_panic(task, self.mapper_name, || {
            for record in chunk {
                (self.mapper)(record, &mut |k, v| {
                    emitted += 1;
                    groups.entry(k).or_default().push(v);
                });
            }
        })?;
        let shuffled = groups.len() as u64;
        catch_panic(task, combiner_name, || {
            for (k, values) in groups {
                let combined = combiner(&k, values);
                partitions[partition_of(&k, reducers)].push((k, combined));
            }
        })?;
        Ok(MapOutput {
            partitions,
            emitted,
            shuffled,
        })
    }
}

/// Runs `mapper` over `inputs` and `reducer` over each key's values on
/// `pool`, with no combiner and the default numbers of map and reduce tasks:
/// a shorthand for `MapReduce::new(mapper, reducer).run(pool, inputs)`.
///
/// # Errors
///
/// As [`MapReduce::run`].
///
/// ```
/// use flotilla::patterns::map_reduce;
/// use flotilla::CpuPool;
///
/// let pool = CpuPool::with_threads(2).unwrap();
/// let lengths = map_reduce(&pool, ["ox", "cat", "emu", "dog"], |w: &str| [(w.len(), w)], |_, ws| ws.join(","))
///     .unwrap();
/// assert_eq!(lengths, [(2, "ox".to_string()), (3, "cat,emu,dog".to_string())]);
/// ```
pub fn map_reduce<I, K, V, O, M, P, R>(
    pool: &CpuPool,
    inputs: impl IntoIterator<Item = I>,
    mapper: M,
    reducer: R,
) -> Result<Vec<(K, O)>, PatternError>
where
    I: Clone + Send + 'static,
    K: Ord + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    O: Send + 'static,
    M: Fn(I) -> P + Send + Sync + 'static,
    P: IntoIterator<Item = (K, V)>,
    R: Fn(&K, Vec<V>) -> O + Send + Sync + 'static,
{
    MapReduce::new(mapper, reducer).run(pool, inputs)
}

/// The partition of `key` among `partitions`: flotilla's one partition of a
/// key (see [`crate::hash`]), the same in every run.
fn partition_of<K: Hash>(key: &K, partitions: usize) -> usize {
    crate::hash::partition_of(key, partitions)
}

/// One reduce task: group the runs of one partition by key, sort the keys,
/// reduce each key's values.
fn reduce_task<K, V, O>(
    index: usize,
    runs: Vec<Vec<(K, V)>>,
    reducer: &(dyn Fn(&K, Vec<V>) -> O + Send + Sync),
    reducer_name: &'static str,
) -> Result<Vec<(K, O)>, TaskError>
where
    K: Ord + Hash,
{
    let mut groups: HashMap<K, Vec<V>> = HashMap::new();
    for (k, v) in runs.into_iter().flatten() {
        groups.entry(k).or_default().push(v);
    }
    let mut groups: Vec<(K, Vec<V>)> = groups.into_iter().collect();
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    catch_panic(
        || format!("map_reduce:reduce[{index}]"),
        reducer_name,
        || {
            groups
                .into_iter()
                .map(|(k, values)| {
                    let out = reducer(&k, values);
                    (k, out)
                })
                .collect()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_in_range() {
        for key in ["a", "b", "hello", ""] {
            let p = partition_of(&key, 7);
            assert!(p < 7);
            assert_eq!(p, partition_of(&key, 7));
        }
        assert_eq!(partition_of(&42u64, 1), 0);
    }

    #[test]
    fn reduce_task_sorts_keys_and_keeps_value_order() {
        let runs = vec![vec![("b", 1), ("a", 2)], vec![("b", 3)]];
        let out = reduce_task(0, runs, &|_k: &&str, vs: Vec<i32>| vs, "f").unwrap();
        assert_eq!(out, [("a", vec![2]), ("b", vec![1, 3])]);
    }

    #[test]
    fn empty_input_gives_empty_output() {
        let pool = CpuPool::with_threads(1).unwrap();
        let (out, report) = MapReduce::new(|x: u8| [(x, x)], |_, xs| xs.len())
            .reducers(2)
            .run_with_report(&pool, Vec::new())
            .unwrap();
        assert!(out.is_empty());
        assert_eq!(report.map_tasks, 0);
        assert_eq!(report.reduce_tasks, 2);
    }
}
