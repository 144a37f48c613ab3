//! Typed jobs on a cluster: the map and reduce tasks of [`JobRunner`], run
//! by the worker processes of a [`Client`]'s scheduler.
//!
//! ```text
//!  split[m] ─► map[m] (on a worker: mapper, combiner, sorted pieces) ─┬─► piece[m][r] ─► reduce[r]
//!                                                                    └─► summary[m] (counters) ─► client
//! ```
//!
//! A job type runs on a cluster once it is registered with
//! [`cluster_job!`](crate::cluster_job): the macro names its tasks (by
//! module path and type) so that every worker — a copy of the same binary —
//! finds them, and makes the type a [`ClusterJob`]; the job value itself
//! travels to the workers as data (serde). A map task reads its split
//! where it runs (a path every worker can see), runs the mapper and the
//! combiner as in-process, and keeps its output, cut into one sorted piece
//! per reducer, in its worker's store. A piece task per (map task,
//! reducer) takes its piece out of that output, on the same worker; a
//! reduce task fetches its pieces from the workers that hold them (worker
//! to worker, never through the scheduler), merges them and runs the
//! reducer. Every step is a task of the scheduler: a task that fails is
//! retried ([`JobConfig::retries`]), and the results of a worker that dies
//! are computed again from lineage, so the job ends with the result of a
//! run without the fault.
//!
//! Only the summaries (counters, skipped bad records) and the reducers'
//! output come back to the client.

use std::time::Instant;

use flotilla_cluster::{Arg, Call, Client, ClusterError, ClusterFuture};
use flotilla_local::checkpoint::KeyHasher;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::checkpointed;
use super::run::assemble;
use super::{
    map_text_split, reduce_partition, Counters, Job, JobConfig, JobError, JobOutput, MapSetup,
    Partitioner, TextInput,
};
use crate::mapreduce::pieces::{
    arity, blob, cluster_shape, decode, encode, encode_piece, reduce_inputs, submit_pieces,
    with_pieces, MapBlob, SUMMARY,
};
use crate::mapreduce::sort::SortOptions;
use crate::mapreduce::split::{default_split_bytes, plan_splits, InputSplit};
use std::sync::Arc;

/// A [`Job`] registered for clusters with [`cluster_job!`](crate::cluster_job),
/// which implements this trait: the job value travels to the workers as
/// data, its output back to the client.
///
/// ```
/// use flotilla::mapreduce::{ClusterJob, Emitter, Job, RecordError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Lengths;
///
/// impl Job for Lengths {
///     type Input = str;
///     type Key = usize;
///     type Value = u64;
///     type Output = (usize, u64);
///     type State = ();
///     fn map(&self, _: &mut (), line: &str, emit: &mut Emitter<'_, usize, u64>) -> Result<(), RecordError> {
///         emit.emit(line.len(), 1)
///     }
///     fn reduce(&self, _: &mut (), len: usize, ones: Vec<u64>, out: &mut Vec<(usize, u64)>) -> Result<(), RecordError> {
///         out.push((len, ones.iter().sum()));
///         Ok(())
///     }
/// }
/// flotilla::cluster_job!(Lengths);
///
/// assert!(<Lengths as ClusterJob>::MAP.ends_with("Lengths#map"));
/// assert!(<Lengths as ClusterJob>::REDUCE.ends_with("Lengths#reduce"));
/// ```
pub trait ClusterJob:
    Job<Output: Serialize + DeserializeOwned> + Serialize + DeserializeOwned
{
    /// The registered name of its map task.
    const MAP: &'static str;
    /// The registered name of its reduce task.
    const REDUCE: &'static str;
}

/// Registers a [`Job`] type (`Serialize + Deserialize`, text input, output
/// `Serialize + Deserialize`) so that [`ClusterJobRunner`] runs it on a
/// cluster: its map and reduce tasks are registered under
/// the type's module path and name, as `#[flotilla::remote]` functions are.
/// Call it at module level, once per type, in the binary whose copies are
/// the workers.
///
/// ```
/// use flotilla::mapreduce::{Emitter, Job, RecordError};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct CountLines;
///
/// impl Job for CountLines {
///     type Input = str;
///     type Key = ();
///     type Value = u64;
///     type Output = u64;
///     type State = ();
///     fn map(&self, _: &mut (), _: &str, emit: &mut Emitter<'_, (), u64>) -> Result<(), RecordError> {
///         emit.emit((), 1)
///     }
///     fn reduce(&self, _: &mut (), _: (), ones: Vec<u64>, out: &mut Vec<u64>) -> Result<(), RecordError> {
///         out.push(ones.len() as u64);
///         Ok(())
///     }
/// }
///
/// flotilla::cluster_job!(CountLines);
/// ```
#[macro_export]
macro_rules! cluster_job {
    ($job:ty) => {
        const _: () = {
            impl $crate::mapreduce::ClusterJob for $job {
                const MAP: &'static str = $crate::__task_name!($job, "#map");
                const REDUCE: &'static str = $crate::__task_name!($job, "#reduce");
            }
            $crate::__register_task!(
                <$job as $crate::mapreduce::ClusterJob>::MAP,
                $crate::mapreduce::__cluster::map_text::<$job>
            );
            $crate::__register_task!(
                <$job as $crate::mapreduce::ClusterJob>::REDUCE,
                $crate::mapreduce::__cluster::reduce::<$job>
            );
        };
    };
}

/// How every map task of a run sorts and cuts its output.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MapConfig {
    reducers: u32,
    budget_bytes: u64,
    spill_dir: Option<std::path::PathBuf>,
    skip_bad: bool,
}

/// What a map task counted and skipped, for the client.
type Summary = (Counters, Vec<super::run::BadRecord>);

/// The functions `cluster_job!` registers (not an API: the macro's).
#[doc(hidden)]
pub mod __cluster {
    use super::*;

    /// A map task: `(job, split, config)` to a map blob whose head is the
    /// task's summary (counters, skipped records).
    pub fn map_text<J>(args: &[&[u8]]) -> Result<Vec<u8>, String>
    where
        J: ClusterJob,
        J::Input: TextInput,
    {
        arity(args, 3, "map")?;
        let job: J = decode(args[0], "the job")?;
        let split: InputSplit = decode(args[1], "the input split")?;
        let config: MapConfig = decode(args[2], "the map settings")?;
        let mut options = SortOptions::new().budget_bytes(config.budget_bytes as usize);
        if let Some(dir) = &config.spill_dir {
            options = options.spill_dir(dir.clone());
        }
        let setup = MapSetup {
            job: Arc::new(job),
            partitioner: Arc::new(Partitioner::Hash),
            partitions: config.reducers as usize,
            options,
            skip_bad: config.skip_bad,
        };
        let result = map_text_split(setup, &split).map_err(|e| e.to_string())?;
        let mut counters = result.counters;
        counters.spilled_bytes += result.output.stats().bytes_spilled;
        let pieces = result
            .output
            .into_partitions()
            .into_iter()
            .map(encode_piece)
            .collect::<Result<Vec<_>, _>>()?;
        let summary: Summary = (counters, result.bad);
        blob(&summary, &pieces)
    }

    /// A reduce task: `(job, reducer, piece of map 0, piece of map 1, …)` to
    /// its output records and counters.
    pub fn reduce<J: ClusterJob>(args: &[&[u8]]) -> Result<Vec<u8>, String> {
        let (job, reducer, runs): (J, _, _) = reduce_inputs(args, "the job")?;
        let reduced = reduce_partition(&job, reducer as usize, runs).map_err(|e| e.to_string())?;
        encode(&reduced, "the reducer's output")
    }
}

/// Runs [`ClusterJob`]s on the workers of a [`Client`]'s cluster: the same
/// jobs, settings and output as [`JobRunner`](super::JobRunner), with map
/// and reduce tasks spread over the worker processes.
///
/// ```no_run
/// use flotilla::cluster::LocalCluster;
/// use flotilla::mapreduce::{ClusterJobRunner, Emitter, Job, RecordError};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct WordCount;
///
/// impl Job for WordCount {
///     type Input = str;
///     type Key = String;
///     type Value = u64;
///     type Output = (String, u64);
///     type State = ();
///     const COMBINES: bool = true;
///     fn map(&self, _: &mut (), line: &str, emit: &mut Emitter<'_, String, u64>) -> Result<(), RecordError> {
///         for w in line.split_whitespace() {
///             emit.emit(w.to_lowercase(), 1)?;
///         }
///         Ok(())
///     }
///     fn combine(&self, acc: &mut u64, n: u64) { *acc += n }
///     fn reduce(&self, _: &mut (), w: String, n: Vec<u64>, out: &mut Vec<(String, u64)>) -> Result<(), RecordError> {
///         out.push((w, n.iter().sum()));
///         Ok(())
///     }
/// }
/// flotilla::cluster_job!(WordCount);
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     flotilla::cluster::worker_if_asked();
///     let cluster = LocalCluster::new(2)?;
///     let client = cluster.client()?;
///     let out = ClusterJobRunner::new(&client).run_text(WordCount, &["books/*.txt"])?;
///     println!("{} distinct words", out.records().len());
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct ClusterJobRunner<'c> {
    client: &'c Client,
    config: JobConfig,
}

impl<'c> ClusterJobRunner<'c> {
    /// A runner on `client`'s cluster with default settings.
    ///
    /// ```
    /// let client = flotilla::cluster::Client::in_process(1).unwrap();
    /// let _runner = flotilla::mapreduce::ClusterJobRunner::new(&client);
    /// ```
    pub fn new(client: &'c Client) -> ClusterJobRunner<'c> {
        ClusterJobRunner {
            client,
            config: JobConfig::default(),
        }
    }

    /// The same runner with these settings (reducers, split size, memory
    /// budget per worker, spill folder on each worker, bad records,
    /// retries).
    ///
    /// ```
    /// use flotilla::mapreduce::{ClusterJobRunner, JobConfig};
    /// let client = flotilla::cluster::Client::in_process(1).unwrap();
    /// let _runner = ClusterJobRunner::new(&client).config(JobConfig::default().reducers(4).retries(2));
    /// ```
    pub fn config(mut self, config: JobConfig) -> ClusterJobRunner<'c> {
        self.config = config;
        self
    }

    /// Runs `job` over text files (paths, folders or globs that every
    /// worker can read), one map task per split.
    ///
    /// # Errors
    ///
    /// [`JobError::Input`] for inputs that cannot be planned here,
    /// [`JobError::Cluster`] when a task failed for good (a bad record
    /// names its file and line) or the cluster went away.
    ///
    /// ```
    /// # use flotilla::mapreduce::{ClusterJobRunner, Emitter, Job, RecordError};
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Chars;
    /// impl Job for Chars {
    ///     type Input = str;
    ///     type Key = char;
    ///     type Value = u64;
    ///     type Output = (char, u64);
    ///     type State = ();
    ///     fn map(&self, _: &mut (), line: &str, emit: &mut Emitter<'_, char, u64>) -> Result<(), RecordError> {
    ///         line.chars().try_for_each(|c| emit.emit(c, 1))
    ///     }
    ///     fn reduce(&self, _: &mut (), c: char, n: Vec<u64>, out: &mut Vec<(char, u64)>) -> Result<(), RecordError> {
    ///         out.push((c, n.len() as u64));
    ///         Ok(())
    ///     }
    /// }
    /// flotilla::cluster_job!(Chars);
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-cjob-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let file = dir.join("abc.txt");
    /// std::fs::write(&file, "abca\nb\n")?;
    /// let client = flotilla::cluster::Client::in_process(2)?;
    /// let out = ClusterJobRunner::new(&client).run_text(Chars, &[file.to_str().unwrap()])?;
    /// assert_eq!(out.counters.map_input_records, 2);
    /// let mut counts = out.records();
    /// counts.sort();
    /// assert_eq!(counts, vec![('a', 2), ('b', 2), ('c', 1)]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn run_text<J>(&self, job: J, inputs: &[&str]) -> Result<JobOutput<J::Output>, JobError>
    where
        J: ClusterJob,
        J::Input: TextInput,
    {
        let start = Instant::now();
        let shape = cluster_shape(self.client, self.config.memory_budget)?;
        let threads = shape.threads;
        let split_bytes = match self.config.split_bytes {
            Some(b) => b,
            // Twice as many splits as in-process (about 8 per thread): a
            // worker lost mid-job leaves less finished work to redo.
            None => default_split_bytes(&plan_splits(inputs, u64::MAX)?, 2 * threads),
        };
        let splits = plan_splits(inputs, split_bytes)?;
        let reducers = self.config.reducers.unwrap_or(threads).max(1);
        let config = MapConfig {
            reducers: reducers as u32,
            budget_bytes: shape.map_budget,
            spill_dir: self.config.spill_dir.clone(),
            skip_bad: self.config.skip_bad_records,
        };
        let (client, retries) = (self.client, self.config.retries);
        let mut maps: Vec<ClusterFuture<MapBlob>> = Vec::with_capacity(splits.len());
        // Kept map tasks are named by their arguments (the job, the split,
        // the settings) and a version naming the file's state and the job's.
        let kept = self.config.checkpoint.as_ref().map(|checkpoint| {
            let version =
                KeyHasher::new("mapreduce cluster map").part(self.config.version.as_bytes());
            (checkpoint, version)
        });
        for split in &splits {
            let mut call = Call::new(J::MAP)
                .arg(Arg::by_ref(&job))
                .arg(Arg::by_ref(split))
                .arg(Arg::by_ref(&config))
                .reads(split.path());
            if let Some((checkpoint, version)) = &kept {
                call = call
                    .checkpoint(checkpoint)
                    .version(&checkpointed::split_key(version, split));
            }
            maps.push(submit(client, call, retries)?);
        }
        let summaries: Vec<ClusterFuture<Summary>> = maps
            .iter()
            .map(|m| {
                submit(
                    client,
                    Call::new(SUMMARY).arg(Arg::<MapBlob>::from(m)),
                    retries,
                )
            })
            .collect::<Result<_, _>>()?;
        let mut outputs: Vec<ClusterFuture<(Vec<J::Output>, Counters)>> =
            Vec::with_capacity(reducers);
        for r in 0..reducers as u32 {
            let pieces = submit_pieces(client, &maps, r, retries)?;
            let reduce = Call::new(J::REDUCE)
                .arg(Arg::by_ref(&job))
                .arg(Arg::from(r));
            outputs.push(submit(client, with_pieces(reduce, &pieces), retries)?);
        }
        let reduced = self.client.gather(&outputs)?;
        let summaries = self.client.gather(&summaries)?;
        Ok(assemble(reduced, summaries, start))
    }
}

/// Submits `call` with `retries`.
fn submit<R>(
    client: &Client,
    call: Call<R>,
    retries: u32,
) -> Result<ClusterFuture<R>, ClusterError> {
    client.submit(call.retries(retries))
}
