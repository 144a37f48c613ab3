//! A reduce task: one partition's runs, merged, through the reducer into a
//! part file.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{BufWriter, Write};
use std::sync::atomic::Ordering;

use super::command::{
    run_command, AttemptError, CommandInput, CommandRole, CommandSpec, StderrLog, StepError,
};
use super::map_task::task_env;
use super::task_log::keep_stderr;
use super::{JobContext, StreamingCounters, StreamingError, TaskFailure, TaskStderr};
use crate::mapreduce::sort::{merge_runs_with, SortedRecords, SortedRun};
use crate::mapreduce::SmallBytes;

/// Runs attempt `attempt` (from 1) of the reduce task of `partition` over
/// `runs` (every map task's runs for the partition, in map task order, read
/// anew by each attempt: the map outputs stay until every reduce task
/// ended). The output is committed to `_temporary/part-NNNNN` when the
/// attempt succeeds; the scheduler runs the task again after a
/// [`TaskFailure::Retry`].
///
/// ```text
///            ┌──── command failed, attempts left: Retry ──┐
///            ▼                                            │
///  queued ─► attempt k ─► part-NNNNN.attempt-k ─► renamed to part-NNNNN: Done
///            │   └─ command failed ───────────────────────┘
///            │          └─ none left ─► the job fails
///            ├─ spill, output or thread error ─► the job fails, no retry
///            └─ the job is failing elsewhere ─► Aborted
/// ```
pub(super) fn reduce_task(
    ctx: &JobContext,
    partition: usize,
    runs: Vec<SortedRun<SmallBytes, SmallBytes>>,
    attempt: usize,
) -> Result<(StreamingCounters, Vec<TaskStderr>), TaskFailure> {
    if ctx.abort.load(Ordering::Relaxed) {
        return Err(TaskFailure::Aborted);
    }
    match reduce_attempt(ctx, partition, attempt, runs) {
        Ok((output_records, (records, groups), user, log)) => {
            let mut counters = StreamingCounters {
                reduce_tasks: 1,
                reduce_input_records: records,
                reduce_input_groups: groups,
                reduce_output_records: output_records,
                attempts_failed: attempt as u64 - 1,
                ..StreamingCounters::default()
            };
            counters.add_user(&user);
            let stderr = log
                .map(|log| keep_stderr(&ctx.output, "reduce", partition, CommandRole::Reducer, log))
                .transpose()
                .map_err(|e| ctx.fail(e))?;
            Ok((counters, stderr.into_iter().collect()))
        }
        Err(AttemptError::Command(failure)) if attempt < ctx.attempts => {
            Err(TaskFailure::Retry(failure))
        }
        Err(AttemptError::Command(failure)) => Err(ctx.fail(StreamingError::TaskFailed {
            task: format!("reduce[{partition}]"),
            input: None,
            attempts: ctx.attempts,
            failure: Box::new(failure),
        })),
        Err(AttemptError::Fatal(e)) => Err(ctx.fail(e)),
        Err(AttemptError::Aborted) => Err(TaskFailure::Aborted),
    }
}

/// What a successful reduce attempt gives back: the lines written, the
/// records and distinct keys read, the user counters, what the reducer
/// wrote to stderr.
type AttemptOutcome = (u64, (u64, u64), BTreeMap<String, u64>, Option<StderrLog>);

/// One attempt: the input through the reducer into an attempt file of
/// part `partition`, renamed to `_temporary/part-NNNNN` when the reducer
/// succeeded (see [`crate::output`]). Runs that are all in memory are merged
/// by reference; otherwise the runs are merged as they are read.
fn reduce_attempt(
    ctx: &JobContext,
    partition: usize,
    attempt: usize,
    runs: Vec<SortedRun<SmallBytes, SmallBytes>>,
) -> Result<AttemptOutcome, AttemptError> {
    let mut part = ctx
        .output
        .create_part(partition, "")
        .map_err(StreamingError::from)?;
    let path = part.path().to_path_buf();
    let path = path.as_path();
    let mut writer = BufWriter::with_capacity(64 << 10, part.file());
    let mut env = task_env(&format!("reduce[{partition}]"), attempt);
    env.push(("mapreduce_task_partition", partition.to_string()));
    let spec = CommandSpec {
        role: CommandRole::Reducer,
        command: &ctx.reducer,
        env,
    };
    let drain = |out: &mut super::command::CommandOutput<'_>| {
        let mut lines = 0u64;
        let mut last = b'\n';
        out.for_each_chunk(|chunk| {
            writer
                .write_all(chunk)
                .map_err(|e| StepError::Fatal(StreamingError::output(path, e)))?;
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            if let Some(&b) = chunk.last() {
                last = b;
            }
            Ok(())
        })?;
        Ok(lines + u64::from(last != b'\n'))
    };
    let in_memory: Option<Vec<&[(SmallBytes, SmallBytes)]>> =
        runs.iter().map(SortedRun::in_memory).collect();
    let run = match in_memory {
        Some(slices) => run_command(
            &spec,
            &ctx.abort,
            |input| feed_memory(&slices, input),
            drain,
        ),
        None => {
            let merged = merge_runs_with(runs, &ctx.sort_options).map_err(StreamingError::from)?;
            run_command(&spec, &ctx.abort, |input| feed_merge(merged, input), drain)
        }
    }?;
    writer
        .into_inner()
        .map_err(|e| StreamingError::output(path, e.into_error()))?;
    part.commit().map_err(StreamingError::from)?;
    Ok((run.drained, run.fed, run.counters, run.stderr))
}

/// Counts records and distinct keys of a sorted stream.
#[derive(Debug, Default)]
struct GroupCounter {
    records: u64,
    groups: u64,
    last: Option<SmallBytes>,
}

impl GroupCounter {
    fn see(&mut self, key: &SmallBytes) {
        self.records += 1;
        if self.last.as_ref() != Some(key) {
            self.groups += 1;
            self.last = Some(key.clone());
        }
    }
}

/// Feeds in-memory runs, merged by reference; reads them all (to count
/// records and keys) even when the reducer stops reading early.
fn feed_memory(
    runs: &[&[(SmallBytes, SmallBytes)]],
    input: &mut CommandInput<'_>,
) -> Result<(u64, u64), StepError> {
    let mut counter = GroupCounter::default();
    let mut open = true;
    for (key, value) in MergeSlices::new(runs) {
        if input.is_aborted() {
            return Err(StepError::Aborted);
        }
        if open {
            open = input.record(key.as_bytes(), value.as_bytes());
        }
        counter.see(key);
    }
    Ok((counter.records, counter.groups))
}

/// Feeds the merge of runs of which some are spilled; reads the whole
/// merge (to count it) even when the reducer stops reading early.
fn feed_merge(
    merged: SortedRecords<SmallBytes, SmallBytes>,
    input: &mut CommandInput<'_>,
) -> Result<(u64, u64), StepError> {
    let mut counter = GroupCounter::default();
    let mut open = true;
    for record in merged {
        if input.is_aborted() {
            return Err(StepError::Aborted);
        }
        let (key, value) = record.map_err(StreamingError::from)?;
        if open {
            open = input.record(key.as_bytes(), value.as_bytes());
        }
        counter.see(&key);
    }
    Ok((counter.records, counter.groups))
}

/// A k-way merge of sorted slices by reference: keys in order, equal keys
/// in slice order (as [`merge_runs`](crate::mapreduce::sort::merge_runs)).
#[derive(Debug)]
pub(super) struct MergeSlices<'a, K, V> {
    runs: &'a [&'a [(K, V)]],
    next: Vec<usize>,
    heap: BinaryHeap<Reverse<(&'a K, usize)>>,
}

impl<'a, K: Ord, V> MergeSlices<'a, K, V> {
    pub(super) fn new(runs: &'a [&'a [(K, V)]]) -> Self {
        let heap = runs
            .iter()
            .enumerate()
            .filter_map(|(i, run)| run.first().map(|(k, _)| Reverse((k, i))))
            .collect();
        MergeSlices {
            runs,
            next: vec![0; runs.len()],
            heap,
        }
    }
}

impl<'a, K: Ord, V> Iterator for MergeSlices<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let Reverse((_, run)) = self.heap.pop()?;
        let records = self.runs[run];
        let (key, value) = &records[self.next[run]];
        self.next[run] += 1;
        if let Some((next_key, _)) = records.get(self.next[run]) {
            self.heap.push(Reverse((next_key, run)));
        }
        Some((key, value))
    }
}
