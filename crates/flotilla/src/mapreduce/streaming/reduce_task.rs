//! A reduce task: one partition's runs, merged, through the reducer into a
//! part file.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::mem;
use std::sync::atomic::Ordering;

use super::command::{
    run_command, write_record, AttemptError, CommandInput, CommandRole, CommandSpec, StderrLog,
    StepError,
};
use super::map_task::task_env;
use super::spool::TemporaryFile;
use super::task_log::keep_stderr;
use super::{JobContext, StreamingCounters, StreamingError, TaskFailure, TaskStderr};
use crate::mapreduce::sort::{merge_runs_with, SortedRecords, SortedRun};
use crate::mapreduce::SmallBytes;

type Record = (SmallBytes, SmallBytes);

/// Where a reducer's input comes from, attempt after attempt.
///
/// Runs are read once, so an input that a retry may need again is either
/// kept in memory or written down while the first attempt reads it:
///
/// ```text
///  all runs in memory ──► Memory ──► every attempt merges them again (by reference)
///  some run spilled ───► Merge ──► first attempt: merge → reducer
///                                  (and → spool file, if retries are allowed)
///                                └─► Spooled ──► later attempts: spool file → reducer
/// ```
#[derive(Debug)]
enum ReduceSource {
    /// Every run was in memory.
    Memory(Vec<Vec<Record>>),
    /// Spilled runs, to be merged while the first attempt reads them; with
    /// a spool file when retries are allowed.
    Merge {
        merged: Box<SortedRecords<SmallBytes, SmallBytes>>,
        spool: Option<TemporaryFile>,
    },
    /// The first attempt's input, as written to the reducer.
    Spooled(TemporaryFile),
    /// Read by the only attempt there was.
    Consumed,
}

/// What the first feed learns on the way.
#[derive(Debug, Default)]
struct FeedOutcome {
    /// (records, groups) of the whole input.
    counts: Option<(u64, u64)>,
    /// The spool file, complete.
    spool: Option<TemporaryFile>,
}

/// Runs the reduce task of `partition` over `runs` (every map task's runs
/// for the partition, in map task order), retrying as the job allows. The
/// output is committed to `_temporary/part-NNNNN` when an attempt succeeds.
///
/// ```text
///            ┌──── command failed, attempts left ────┐
///            ▼                                       │
///  queued ─► attempt k ─► part-NNNNN.attempt-k ─► renamed to part-NNNNN: Done
///            │   └─ command failed ──────────────────┘
///            │          └─ none left ─► the job fails
///            ├─ spill, output or thread error ─► the job fails, no retry
///            └─ the job is failing elsewhere ─► Aborted
/// ```
pub(super) fn reduce_task(
    ctx: &JobContext,
    partition: usize,
    runs: Vec<SortedRun<SmallBytes, SmallBytes>>,
) -> Result<(StreamingCounters, Vec<TaskStderr>), TaskFailure> {
    let mut source = match reduce_source(ctx, partition, runs) {
        Ok(source) => source,
        Err(e) => return Err(ctx.fail(e)),
    };
    let mut counts = None;
    let mut failed = 0u64;
    let mut last = None;
    for attempt in 1..=ctx.attempts {
        if ctx.abort.load(Ordering::Relaxed) {
            return Err(TaskFailure::Aborted);
        }
        match reduce_attempt(ctx, partition, attempt, &mut source, &mut counts) {
            Ok((output_records, user, log)) => {
                let (records, groups) = counts.unwrap_or_default();
                let mut counters = StreamingCounters {
                    reduce_tasks: 1,
                    reduce_input_records: records,
                    reduce_input_groups: groups,
                    reduce_output_records: output_records,
                    attempts_failed: failed,
                    ..StreamingCounters::default()
                };
                counters.add_user(&user);
                let stderr = log
                    .map(|log| {
                        keep_stderr(&ctx.output, "reduce", partition, CommandRole::Reducer, log)
                    })
                    .transpose()
                    .map_err(|e| ctx.fail(e))?;
                return Ok((counters, stderr.into_iter().collect()));
            }
            Err(AttemptError::Command(failure)) => {
                failed += 1;
                last = Some(failure);
            }
            Err(AttemptError::Fatal(e)) => return Err(ctx.fail(e)),
            Err(AttemptError::Aborted) => return Err(TaskFailure::Aborted),
        }
    }
    let error = match last {
        Some(failure) => StreamingError::TaskFailed {
            task: format!("reduce[{partition}]"),
            input: None,
            attempts: ctx.attempts,
            failure: Box::new(failure),
        },
        None => StreamingError::Config("attempts must be at least 1".into()),
    };
    Err(ctx.fail(error))
}

fn reduce_source(
    ctx: &JobContext,
    partition: usize,
    runs: Vec<SortedRun<SmallBytes, SmallBytes>>,
) -> Result<ReduceSource, StreamingError> {
    if !runs.iter().any(SortedRun::is_spilled) {
        let runs = runs
            .into_iter()
            .map(SortedRun::into_vec)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(ReduceSource::Memory(runs));
    }
    let merged = merge_runs_with(runs, &ctx.sort_options)?;
    let spool = (ctx.attempts > 1).then(|| {
        TemporaryFile::new(
            ctx.output
                .temporary()
                .join(format!("reduce-{partition:05}.input")),
        )
    });
    Ok(ReduceSource::Merge {
        merged: Box::new(merged),
        spool,
    })
}

/// What a successful reduce attempt gives back: the lines written, the
/// user counters, what the reducer wrote to stderr.
type AttemptOutcome = (u64, BTreeMap<String, u64>, Option<StderrLog>);

/// One attempt: the input through the reducer into an attempt file of
/// part `partition`, renamed to `_temporary/part-NNNNN` when the reducer
/// succeeded (see [`crate::output`]). Returns the lines written, the user
/// counters and what the reducer wrote to stderr.
fn reduce_attempt(
    ctx: &JobContext,
    partition: usize,
    attempt: usize,
    source: &mut ReduceSource,
    counts: &mut Option<(u64, u64)>,
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
    let mut outcome = FeedOutcome::default();
    let first = counts.is_none();
    let run = match mem::replace(source, ReduceSource::Consumed) {
        ReduceSource::Memory(runs) => {
            let run = run_command(
                &spec,
                &ctx.abort,
                |input| feed_memory(&runs, first, input, &mut outcome),
                drain,
            );
            *source = ReduceSource::Memory(runs);
            run
        }
        ReduceSource::Merge { merged, spool } => {
            let run = run_command(
                &spec,
                &ctx.abort,
                |input| feed_merge(*merged, spool, input, &mut outcome),
                drain,
            );
            if let Some(spool) = outcome.spool.take() {
                *source = ReduceSource::Spooled(spool);
            }
            run
        }
        ReduceSource::Spooled(spool) => {
            let run = run_command(&spec, &ctx.abort, |input| feed_spool(&spool, input), drain);
            *source = ReduceSource::Spooled(spool);
            run
        }
        ReduceSource::Consumed => {
            return Err(AttemptError::Fatal(StreamingError::Config(format!(
                "reduce[{partition}] cannot be retried: its input was read once and not kept"
            ))))
        }
    };
    if outcome.counts.is_some() {
        *counts = outcome.counts;
    }
    let run = run?;
    writer
        .into_inner()
        .map_err(|e| StreamingError::output(path, e.into_error()))?;
    part.commit().map_err(StreamingError::from)?;
    Ok((run.drained, run.counters, run.stderr))
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

/// Feeds in-memory runs, merged by reference. The first feed reads them all
/// (to count them) even when the reducer stops reading early.
fn feed_memory(
    runs: &[Vec<Record>],
    count: bool,
    input: &mut CommandInput<'_>,
    outcome: &mut FeedOutcome,
) -> Result<(), StepError> {
    let mut counter = GroupCounter::default();
    for (key, value) in MergeSlices::new(runs) {
        if input.is_aborted() {
            return Err(StepError::Aborted);
        }
        let open = input.record(key.as_bytes(), value.as_bytes());
        if count {
            counter.see(key);
        } else if !open {
            break;
        }
    }
    if count {
        outcome.counts = Some((counter.records, counter.groups));
    }
    Ok(())
}

/// Feeds the merge of spilled runs, writing it to the spool file too when
/// there is one. Reads the whole merge (to count it, and to complete the
/// spool) even when the reducer stops reading early.
fn feed_merge(
    merged: SortedRecords<SmallBytes, SmallBytes>,
    spool: Option<TemporaryFile>,
    input: &mut CommandInput<'_>,
    outcome: &mut FeedOutcome,
) -> Result<(), StepError> {
    let mut writer = match &spool {
        Some(file) => Some(BufWriter::with_capacity(
            256 << 10,
            File::create(file.path()).map_err(|e| StreamingError::output(file.path(), e))?,
        )),
        None => None,
    };
    let mut counter = GroupCounter::default();
    for record in merged {
        if input.is_aborted() {
            return Err(StepError::Aborted);
        }
        let (key, value) = record.map_err(StreamingError::from)?;
        input.record(key.as_bytes(), value.as_bytes());
        if let (Some(w), Some(file)) = (&mut writer, &spool) {
            write_record(w, key.as_bytes(), value.as_bytes())
                .map_err(|e| StreamingError::output(file.path(), e))?;
        }
        counter.see(&key);
    }
    if let (Some(w), Some(file)) = (writer, &spool) {
        w.into_inner()
            .map_err(|e| StreamingError::output(file.path(), e.into_error()))?;
    }
    outcome.counts = Some((counter.records, counter.groups));
    outcome.spool = spool;
    Ok(())
}

/// Feeds the spool file of the first attempt, as it is.
fn feed_spool(spool: &TemporaryFile, input: &mut CommandInput<'_>) -> Result<(), StepError> {
    let mut file = File::open(spool.path()).map_err(|e| StreamingError::output(spool.path(), e))?;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        if input.is_aborted() {
            return Err(StepError::Aborted);
        }
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamingError::output(spool.path(), e).into()),
        };
        if !input.raw(&buf[..n]) {
            return Ok(());
        }
    }
}

/// A k-way merge of sorted slices by reference: keys in order, equal keys
/// in slice order (as [`merge_runs`](crate::mapreduce::sort::merge_runs)).
#[derive(Debug)]
pub(super) struct MergeSlices<'a, K, V> {
    runs: &'a [Vec<(K, V)>],
    next: Vec<usize>,
    heap: BinaryHeap<Reverse<(&'a K, usize)>>,
}

impl<'a, K: Ord, V> MergeSlices<'a, K, V> {
    pub(super) fn new(runs: &'a [Vec<(K, V)>]) -> Self {
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
        let records = &self.runs[run];
        let (key, value) = &records[self.next[run]];
        self.next[run] += 1;
        if let Some((next_key, _)) = records.get(self.next[run]) {
            self.heap.push(Reverse((next_key, run)));
        }
        Some((key, value))
    }
}
