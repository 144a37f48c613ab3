//! Streaming jobs on a cluster: the map and reduce tasks of
//! [`StreamingJob::run`], run by the workers of a [`Client`]'s scheduler.
//!
//! The job's commands travel to the workers as data (they are built-in
//! tasks, registered once here), and run there with `sh -c`, as
//! in-process: every worker needs the commands, the inputs and the output
//! folder at the same paths (a shared filesystem). The client plans the
//! splits, creates the output folder and, once every reducer has written
//! its part into the folder's `_temporary/`, commits it; a job that fails
//! leaves the folder as it found it. Map outputs stay on their workers in
//! pieces, one per reducer, as for typed jobs; a worker that dies costs
//! the time to redo its part. A command that fails is retried by the
//! scheduler up to [`attempts`](StreamingJob::attempts) in all; its last
//! attempt skips the split instead of failing the job when the job
//! [skips failed splits](StreamingJob::skip_failed_splits).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Instant;

use flotilla_cluster::{Arg, Call, Client, ClusterFuture, TaskContext};
use serde::{Deserialize, Serialize};

use super::map_task::{map_task, MapTaskResult};
use super::reduce_task::reduce_task;
use super::{
    JobContext, StreamingCounters, StreamingError, StreamingJob, StreamingReport, TaskFailure,
    TaskStderr, SKIPPED_SAMPLE,
};
use crate::mapreduce::pieces::{
    arity, blob, cluster_shape, decode, encode, encode_piece, reduce_inputs, submit_pieces,
    with_pieces, MapBlob, SUMMARY,
};
use crate::mapreduce::sort::SortOptions;
use crate::mapreduce::split::{plan_splits, InputSplit};
use crate::mapreduce::{Partitioner, SmallBytes};
use crate::output::OutputDir;

/// The registered name of a streaming map task.
const MAP: &str = "flotilla::mapreduce::streaming::map";

/// The registered name of a streaming reduce task.
const REDUCE: &str = "flotilla::mapreduce::streaming::reduce";

flotilla_cluster::__private::inventory::submit! {
    flotilla_cluster::RemoteFunction::new(MAP, map)
}

flotilla_cluster::__private::inventory::submit! {
    flotilla_cluster::RemoteFunction::new(REDUCE, reduce)
}

/// A job as its tasks receive it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Spec {
    mapper: String,
    combiner: Option<String>,
    reducer: String,
    reducers: u32,
    attempts: u32,
    skip_failed_splits: bool,
    budget_bytes: u64,
    spill_dir: Option<PathBuf>,
    /// The output folder, being written by the client.
    output: PathBuf,
}

impl Spec {
    /// What the in-process tasks share, on this worker.
    fn context(&self) -> Result<JobContext, String> {
        let output = OutputDir::attach(&self.output).map_err(|e| {
            format!(
                "{e} (the output folder must be at the same path on every worker and the client)"
            )
        })?;
        let mut sort_options = SortOptions::new().budget_bytes(self.budget_bytes as usize);
        if let Some(dir) = &self.spill_dir {
            sort_options = sort_options.spill_dir(dir.clone());
        }
        Ok(JobContext {
            mapper: self.mapper.clone(),
            combiner: self.combiner.clone(),
            reducer: self.reducer.clone(),
            reducers: self.reducers as usize,
            attempts: self.attempts as usize,
            skip_failed_splits: self.skip_failed_splits,
            sort_options,
            partitioner: Partitioner::Hash,
            output,
            abort: AtomicBool::new(false),
            failure: Mutex::new(None),
        })
    }

    /// Which attempt this is as the job counts (from 1, one more than
    /// the attempts that failed), so that its last attempt is the job's
    /// last: the scheduler's last, or the job's `attempts`-th.
    fn attempt(&self) -> usize {
        let attempts = self.attempts.max(1);
        let Some(task) = TaskContext::current() else {
            return attempts as usize;
        };
        let attempt = task.failures() + 1;
        let last = if task.retries_left() == 0 {
            attempt.max(attempts)
        } else {
            attempt.min(attempts.saturating_sub(1).max(1))
        };
        last as usize
    }
}

/// The head of a streaming map task's output: what it reports.
#[derive(Debug, Serialize, Deserialize)]
enum MapHead {
    /// The split was mapped (and combined).
    Done {
        counters: StreamingCounters,
        stderr: Vec<TaskStderr>,
    },
    /// Every attempt failed and the job skips such splits.
    Skipped {
        error: String,
        counters: StreamingCounters,
    },
}

/// The message of an attempt that gave no result.
fn failure_message(failure: TaskFailure) -> String {
    match failure {
        TaskFailure::Retry(f) => f.to_string(),
        TaskFailure::Failed(message) => message,
        TaskFailure::Aborted => "stopped: another task of the job failed".to_string(),
    }
}

/// A map task: `(spec, split)` to a map blob headed by a [`MapHead`].
fn map(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    arity(args, 2, "streaming map")?;
    let spec: Spec = decode(args[0], "the streaming job")?;
    let split: InputSplit = decode(args[1], "the input split")?;
    let ctx = spec.context()?;
    match map_task(&ctx, &split, spec.attempt()).map_err(failure_message)? {
        MapTaskResult::Done {
            output,
            counters,
            stderr,
        } => {
            let pieces = output
                .into_partitions()
                .into_iter()
                .map(encode_piece::<SmallBytes, SmallBytes>)
                .collect::<Result<Vec<_>, _>>()?;
            blob(&MapHead::Done { counters, stderr }, &pieces)
        }
        MapTaskResult::Skipped { error, counters } => {
            let empty = encode(&Vec::<(SmallBytes, SmallBytes)>::new(), "an empty piece")?;
            let pieces = vec![empty; spec.reducers as usize];
            blob(&MapHead::Skipped { error, counters }, &pieces)
        }
    }
}

/// A reduce task: `(spec, reducer, piece of map 0, …)` to its counters and
/// kept stderr, its part written into the output's `_temporary/`.
fn reduce(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let (spec, reducer, runs): (Spec, _, _) = reduce_inputs(args, "the streaming job")?;
    let ctx = spec.context()?;
    let reduced =
        reduce_task(&ctx, reducer as usize, runs, spec.attempt()).map_err(failure_message)?;
    encode(&reduced, "a reducer's report")
}

impl StreamingJob {
    /// Runs the job on the workers of `client`'s cluster: the same output
    /// folder, parts and report as [`StreamingJob::run`]. The commands,
    /// the inputs and `output` must be at the same paths on every worker
    /// as here (a shared filesystem).
    ///
    /// # Errors
    ///
    /// As [`StreamingJob::run`]; a task that failed for good is
    /// [`StreamingError::Cluster`], with the task's message (the command,
    /// how it ended, the tail of its stderr). The output folder is left as
    /// it was found.
    ///
    /// ```
    /// use flotilla::mapreduce::streaming::StreamingJob;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-streaming-cluster-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("in.txt"), "b a\nb\n")?;
    /// let job = StreamingJob::new("tr ' ' '\\n'", "uniq -c").reducers(1);
    /// let client = flotilla::cluster::Client::in_process(2)?; // or Client::connect(addr)
    /// let input = dir.join("in.txt");
    /// let report = job.run_on(&client, &[input.to_str().unwrap()], dir.join("out"))?;
    /// let counted = std::fs::read_to_string(&report.parts[0])?;
    /// let lines: Vec<&str> = counted.lines().map(str::trim).collect();
    /// assert_eq!(lines, ["1 a", "2 b"]);
    /// assert!(dir.join("out").join("_SUCCESS").exists());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn run_on<P: AsRef<str>>(
        &self,
        client: &Client,
        inputs: &[P],
        output: impl AsRef<Path>,
    ) -> Result<StreamingReport, StreamingError> {
        let start = Instant::now();
        self.check()?;
        let shape = cluster_shape(client, self.memory_budget)?;
        let threads = shape.threads;
        let reducers = self.reducers.unwrap_or(threads).max(1);
        let splits = plan_splits(inputs, self.split_bytes)?;
        let out = OutputDir::create(output.as_ref(), self.write_mode)?;
        let spec = Spec {
            mapper: self.mapper.clone(),
            combiner: self.combiner.clone(),
            reducer: self.reducer.clone(),
            reducers: reducers as u32,
            attempts: self.attempts as u32,
            skip_failed_splits: self.skip_failed_splits,
            budget_bytes: shape.map_budget,
            spill_dir: self.spill_dir.clone(),
            output: absolute(out.path()),
        };
        let retries = (self.attempts as u32).saturating_sub(1);
        let ran = run_tasks(client, &spec, &splits, retries);
        let (heads, reduced) = match ran {
            Ok(done) => done,
            Err(e) => {
                let _ = out.abort();
                return Err(e);
            }
        };
        let mut counters = StreamingCounters::default();
        let mut stderr = Vec::new();
        let mut skipped_sample = Vec::new();
        for head in heads {
            match head {
                MapHead::Done {
                    counters: c,
                    stderr: logs,
                } => {
                    counters.add(&c);
                    stderr.extend(logs);
                }
                MapHead::Skipped { error, counters: c } => {
                    counters.add(&c);
                    if skipped_sample.len() < SKIPPED_SAMPLE {
                        skipped_sample.push(error);
                    }
                }
            }
        }
        for (c, logs) in reduced {
            counters.add(&c);
            stderr.extend(logs);
        }
        let root = out.path().to_path_buf();
        let parts = out.commit_expecting(reducers)?;
        Ok(StreamingReport {
            counters,
            output: root,
            parts,
            skipped_sample,
            stderr,
            elapsed: start.elapsed(),
        })
    }
}

/// The path as every worker must see it: absolute.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// What the map tasks reported, in split order, and what each reducer did.
type Ran = (Vec<MapHead>, Vec<(StreamingCounters, Vec<TaskStderr>)>);

/// Submits the job's tasks and gathers what they report.
fn run_tasks(
    client: &Client,
    spec: &Spec,
    splits: &[InputSplit],
    retries: u32,
) -> Result<Ran, StreamingError> {
    let mut maps: Vec<ClusterFuture<MapBlob>> = Vec::with_capacity(splits.len());
    for split in splits {
        let call = Call::new(MAP)
            .arg(Arg::by_ref(spec))
            .arg(Arg::by_ref(split))
            .reads(split.path());
        maps.push(client.submit(call.retries(retries))?);
    }
    let heads: Vec<ClusterFuture<MapHead>> = maps
        .iter()
        .map(|m| client.submit(Call::new(SUMMARY).arg(Arg::<MapBlob>::from(m))))
        .collect::<Result<_, _>>()?;
    let mut reducers: Vec<ClusterFuture<(StreamingCounters, Vec<TaskStderr>)>> = Vec::new();
    for r in 0..spec.reducers {
        let call = Call::new(REDUCE).arg(Arg::by_ref(spec)).arg(Arg::from(r));
        let pieces = submit_pieces(client, &maps, r, 0)?;
        let call = with_pieces(call, &pieces);
        reducers.push(client.submit(call.retries(retries))?);
    }
    let gathered = client
        .gather(&reducers)
        .and_then(|reduced| Ok((client.gather(&heads)?, reduced)));
    if gathered.is_err() {
        // What has not started does not start: the output folder is about
        // to be removed (a reducer already writing may still race it).
        for f in &reducers {
            let _ = client.cancel(f);
        }
        for f in &maps {
            let _ = client.cancel(f);
        }
    }
    Ok(gathered?)
}
