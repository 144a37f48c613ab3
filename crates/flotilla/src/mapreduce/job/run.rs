//! A job as one task graph on the scheduler core.
//!
//! ```text
//!  map[0] ─┬─► reduce[0]      every reduce task depends on every map task;
//!  map[1] ─┼─► reduce[1]      reduce[p] reads partition p of each map
//!  …       └─► …              task's output, in map-task order
//! ```
//!
//! Map and reduce tasks are nodes of one graph run by the scheduler, so
//! nothing waits in the calling thread between the phases, and a failed
//! task is the scheduler's to retry ([`JobConfig::retries`]) or to give up
//! on (the reduce tasks are then abandoned and map tasks nobody needs any
//! more are cancelled).
//!
//! **Results read more than once.** A map task's output is shared
//! ([`MapOutput::share`]): a reduce task reads its partition without taking
//! it, so a reduce task that runs again reads the same runs. The output is
//! released by the scheduler once every reduce task finished.
//!
//! **The ledger.** What the caller reads after the run — each map task's
//! counters and skipped records, and each task's typed [`JobError`] — is
//! written by the tasks into a [`Ledger`] keyed by task, where a later
//! attempt overwrites an earlier one: a task that runs twice is counted
//! once, and an attempt that failed before one succeeded leaves no error.

use std::any::type_name;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use flotilla_core::{TaskKey, TaskOptions};
use flotilla_local::{ComputeOptions, Graph, Inputs, TaskError};

use super::{
    line_number_at, reduce_partition, Counters, Job, JobError, JobOutput, JobRunner, MapResult,
    BAD_SAMPLE,
};
use crate::mapreduce::sort::MapOutput;
use flotilla_data::caller::{ForCaller, PerTask};
use flotilla_data::task_errors::{TaskErrors, TypedTaskError};

/// A skipped bad record: file, byte offset, snippet, message.
pub(super) type BadRecord = (PathBuf, u64, String, String);

/// A map task's output as the graph holds it: shared, so that every reduce
/// task (and every attempt of one) can read its partition.
struct SharedMapOutput<K, V> {
    output: MapOutput<K, V>,
}

/// What the tasks of one run leave for the caller, keyed by task.
#[derive(Default)]
struct Ledger {
    maps: PerTask<(Counters, Vec<BadRecord>)>,
    errors: TaskErrors<JobError>,
}

impl TypedTaskError for JobError {
    fn as_task_error(&self) -> Option<&TaskError> {
        match self {
            JobError::Task(e) => Some(e),
            _ => None,
        }
    }
}

impl Ledger {
    /// Notes map task `index`'s counters and skipped records (an earlier
    /// attempt's are replaced) and keeps its output, shared, for the graph.
    fn map_done<K: Clone, V: Clone>(
        &self,
        index: usize,
        result: MapResult<K, V>,
    ) -> SharedMapOutput<K, V> {
        let MapResult {
            mut output,
            mut counters,
            bad,
        } = result;
        counters.spilled_bytes += output.stats().bytes_spilled;
        output.share();
        self.maps.note(index, (counters, bad));
        SharedMapOutput { output }
    }
}

/// One map task: what it reads is captured by the closure, which runs once
/// per attempt.
pub(super) type MapFn<J> =
    Box<dyn Fn() -> Result<MapResult<<J as Job>::Key, <J as Job>::Value>, JobError> + Send + Sync>;

impl JobRunner {
    /// Runs `maps` (map task `i` is `maps[i]`) and the job's reduce tasks
    /// as one graph on the pool, and assembles the output.
    pub(super) fn run_graph<J: Job>(
        &self,
        job: Arc<J>,
        maps: Vec<MapFn<J>>,
        start: Instant,
    ) -> Result<JobOutput<J::Output>, JobError> {
        let ledger = Arc::new(Ledger::default());
        let options = TaskOptions {
            retries: self.config.retries,
            ..TaskOptions::default()
        };
        let mut graph = Graph::new();
        let map_op = TaskKey::indexed("map", 0);
        let map_keys: Vec<TaskKey> = (0..maps.len()).map(|i| map_op.sibling(i as u64)).collect();
        for (index, (map, key)) in maps.into_iter().zip(&map_keys).enumerate() {
            let ledger = Arc::clone(&ledger);
            let task = key.clone();
            graph.insert_with(key.clone(), [] as [TaskKey; 0], options, move |_| {
                ledger.errors.attempt(&task, type_name::<J>(), || {
                    map().map(|m| ledger.map_done(index, m))
                })
            });
        }
        let reduce_op = TaskKey::indexed("reduce", 0);
        let reduce_keys: Vec<TaskKey> = (0..self.reducers())
            .map(|p| reduce_op.sibling(p as u64))
            .collect();
        for (partition, key) in reduce_keys.iter().enumerate() {
            let ledger = Arc::clone(&ledger);
            let job = Arc::clone(&job);
            let task = key.clone();
            graph.insert_with(
                key.clone(),
                map_keys.iter().cloned(),
                options,
                move |inputs: &Inputs<'_>| {
                    let mut runs = Vec::new();
                    for m in 0..inputs.len() {
                        let pieces = inputs.get::<SharedMapOutput<J::Key, J::Value>>(m)?;
                        runs.extend(pieces.output.partition(partition));
                    }
                    ledger.errors.attempt(&task, type_name::<J>(), || {
                        Ok(ForCaller::new(reduce_partition(&*job, partition, runs)?))
                    })
                },
            );
        }
        let compute = ComputeOptions::new().pool(&self.pool).label("mapreduce");
        let (outcomes, _report) = graph.compute_many_with(&reduce_keys, &compute)?;
        let mut reduced = Vec::with_capacity(outcomes.len());
        for (outcome, key) in outcomes.into_iter().zip(&reduce_keys) {
            let value = outcome.map_err(|e| ledger.errors.error_of(e))?;
            reduced.push(ForCaller::<(Vec<J::Output>, Counters)>::take(
                &value,
                &key.to_string(),
            )?);
        }
        Ok(assemble(reduced, ledger.maps.take_in_order(), start))
    }
}

/// A job's output from what its reduce tasks returned, in partition order,
/// and what its map tasks counted and skipped, in split order.
pub(super) fn assemble<O>(
    reduced: Vec<(Vec<O>, Counters)>,
    maps: impl IntoIterator<Item = (Counters, Vec<BadRecord>)>,
    start: Instant,
) -> JobOutput<O> {
    let mut counters = Counters::default();
    let mut partitions = Vec::with_capacity(reduced.len());
    for (records, c) in reduced {
        counters.add(&c);
        partitions.push(records);
    }
    let mut bad = Vec::new();
    for (map_counters, mut map_bad) in maps {
        counters.add(&map_counters);
        bad.append(&mut map_bad);
    }
    let bad_record_sample = bad
        .into_iter()
        .take(BAD_SAMPLE)
        .map(|(path, offset, snip, msg)| {
            let line = line_number_at(&path, offset).unwrap_or(0);
            format!("{}:{line}: {msg}: {snip}", path.display())
        })
        .collect();
    JobOutput {
        partitions,
        counters,
        bad_record_sample,
        elapsed: start.elapsed(),
    }
}
