//! A map task: one split through the mapper (and the combiner) into sorted,
//! partitioned runs.

use std::sync::atomic::Ordering;

use super::command::{
    run_command, AttemptError, CommandInput, CommandOutput, CommandRole, CommandSpec, StderrLog,
    StepError,
};
use super::task_log::keep_stderr;
use super::{JobContext, StreamingCounters, StreamingError, TaskFailure, TaskStderr};
use crate::mapreduce::sort::{merge_runs_with, MapOutput, PartitionedSortBuffer};
use crate::mapreduce::split::{InputSplit, LineReader, SplitError};
use crate::mapreduce::SmallBytes;

/// Sorted, partitioned map output: byte-string keys and values.
pub(super) type Runs = MapOutput<SmallBytes, SmallBytes>;

/// What a map task hands to the reduce phase.
#[derive(Debug)]
pub(super) enum MapTaskResult {
    /// The split was mapped (and combined).
    Done {
        output: Runs,
        counters: StreamingCounters,
        /// What the mapper and the combiner wrote to stderr.
        stderr: Vec<TaskStderr>,
    },
    /// Every attempt failed and the job skips such splits.
    Skipped {
        error: String,
        counters: StreamingCounters,
    },
}

/// Runs attempt `attempt` (from 1) of the map task of `split`; the
/// scheduler runs the task again after a [`TaskFailure::Retry`].
///
/// ```text
///            ┌──────── command failed, attempts left: Retry ──┐
///            ▼                                                │
///  queued ─► attempt k: mapper ─► combiner ─► Done            │
///            │  │                                             │
///            │  └─ command failed ────────────────────────────┘
///            │        └─ none left ─► Skipped (skip_failed_splits) or the job fails
///            ├─ input, spill or thread error ─► the job fails, no retry
///            └─ the job is failing elsewhere ─► Aborted
/// ```
pub(super) fn map_task(
    ctx: &JobContext,
    split: &InputSplit,
    attempt: usize,
) -> Result<MapTaskResult, TaskFailure> {
    if ctx.abort.load(Ordering::Relaxed) {
        return Err(TaskFailure::Aborted);
    }
    let failed = attempt as u64 - 1;
    match map_attempt(ctx, split, attempt) {
        Ok((output, mut counters, logs)) => {
            counters.attempts_failed = failed;
            counters.map_tasks = 1;
            let stderr = logs
                .into_iter()
                .map(|(role, log)| keep_stderr(&ctx.output, "map", split.index(), role, log))
                .collect::<Result<_, _>>()
                .map_err(|e| ctx.fail(e))?;
            Ok(MapTaskResult::Done {
                output,
                counters,
                stderr,
            })
        }
        Err(AttemptError::Command(failure)) if attempt < ctx.attempts => {
            Err(TaskFailure::Retry(failure))
        }
        Err(AttemptError::Command(failure)) => {
            let error = StreamingError::TaskFailed {
                task: format!("map[{}]", split.index()),
                input: Some(split.to_string()),
                attempts: ctx.attempts,
                failure: Box::new(failure),
            };
            if !ctx.skip_failed_splits {
                return Err(ctx.fail(error));
            }
            let counters = StreamingCounters {
                map_tasks: 1,
                attempts_failed: failed + 1,
                skipped_splits: 1,
                ..StreamingCounters::default()
            };
            Ok(MapTaskResult::Skipped {
                error: error.to_string(),
                counters,
            })
        }
        Err(AttemptError::Fatal(e)) => Err(ctx.fail(e)),
        Err(AttemptError::Aborted) => Err(TaskFailure::Aborted),
    }
}

/// What the commands of an attempt wrote to stderr.
type Logs = Vec<(CommandRole, StderrLog)>;

/// One attempt: the split's lines through the mapper into a sort buffer,
/// then, with a combiner, the sorted output through the combiner into a
/// second one.
fn map_attempt(
    ctx: &JobContext,
    split: &InputSplit,
    attempt: usize,
) -> Result<(Runs, StreamingCounters, Logs), AttemptError> {
    let task = format!("map[{}]", split.index());
    let mut env = vec![
        (
            "mapreduce_map_input_file",
            split.path().display().to_string(),
        ),
        ("mapreduce_map_input_start", split.start().to_string()),
        ("mapreduce_map_input_length", split.len().to_string()),
    ];
    env.extend(task_env(&task, attempt));
    let spec = CommandSpec {
        role: CommandRole::Mapper,
        command: &ctx.mapper,
        env,
    };
    let mut buffer = PartitionedSortBuffer::new(ctx.reducers, ctx.sort_options.clone());
    let run = run_command(
        &spec,
        &ctx.abort,
        |input| feed_split(split, input),
        |output| push_records(ctx, output, &mut buffer),
    )?;
    let mut counters = StreamingCounters {
        map_input_records: run.fed.0,
        map_input_bytes: run.fed.1,
        map_output_records: run.drained,
        ..StreamingCounters::default()
    };
    counters.add_user(&run.counters);
    let mut logs: Logs = run
        .stderr
        .map(|log| (CommandRole::Mapper, log))
        .into_iter()
        .collect();
    let output = buffer.finish().map_err(StreamingError::from)?;
    counters.spilled_bytes += output.stats().bytes_spilled;
    let Some(combiner) = &ctx.combiner else {
        return Ok((output, counters, logs));
    };
    if counters.map_output_records == 0 {
        return Ok((output, counters, logs));
    }
    let spec = CommandSpec {
        role: CommandRole::Combiner,
        command: combiner,
        env: task_env(&task, attempt),
    };
    let (output, combine, log) = combine(ctx, &spec, output)?;
    counters.add(&combine);
    logs.extend(log.map(|log| (CommandRole::Combiner, log)));
    Ok((output, counters, logs))
}

/// The variables every command of a task sees.
pub(super) fn task_env(task: &str, attempt: usize) -> Vec<(&'static str, String)> {
    vec![
        ("FLOTILLA_TASK", task.to_string()),
        ("FLOTILLA_ATTEMPT", attempt.to_string()),
    ]
}

/// Writes the split's lines to the mapper; returns how many lines were
/// written and the bytes they cover in the input, terminators as they are
/// in the file (none after a last line without one).
fn feed_split(split: &InputSplit, input: &mut CommandInput<'_>) -> Result<(u64, u64), StepError> {
    let mut records = 0u64;
    let mut first = None;
    let mut reader = LineReader::new();
    let read = reader.for_each_line(split, |line| {
        if input.line(line.bytes()) {
            records += 1;
            first.get_or_insert(line.offset());
            Ok(())
        } else {
            // The mapper takes no more input: its exit status will tell.
            Err(())
        }
    });
    match read {
        Ok(stats) => Ok((records, stats.record_bytes)),
        // The lines written are the ones from the first to the refused one.
        Err(SplitError::Callback { offset, .. }) => {
            Ok((records, first.map_or(0, |first| offset - first)))
        }
        Err(SplitError::Input(e)) => Err(StepError::Fatal(e.into())),
    }
}

/// Reads `key\tvalue` lines (a line without a tab is a key with an empty
/// value) into the sort buffer, by partition; returns how many.
fn push_records(
    ctx: &JobContext,
    output: &mut CommandOutput<'_>,
    buffer: &mut PartitionedSortBuffer<SmallBytes, SmallBytes>,
) -> Result<u64, StepError> {
    let mut line = Vec::new();
    let mut records = 0u64;
    while output.next_line(&mut line)? {
        let (key, value) = split_record(&line);
        let key = SmallBytes::from(key);
        let partition = ctx.partitioner.partition(&key, ctx.reducers);
        buffer
            .push(partition, key, SmallBytes::from(value))
            .map_err(|e| StepError::Fatal(e.into()))?;
        records += 1;
    }
    Ok(records)
}

/// `key\tvalue` → (key, value) at the first tab; no tab → (line, empty).
pub(super) fn split_record(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b'\t') {
        Some(tab) => (&line[..tab], &line[tab + 1..]),
        None => (line, &[]),
    }
}

/// Feeds the map output, merged into one stream sorted by key, to the
/// combiner, and sorts and partitions what it writes. Returns the new
/// output, the combine counters and what the combiner wrote to stderr.
fn combine(
    ctx: &JobContext,
    spec: &CommandSpec<'_>,
    mut output: Runs,
) -> Result<(Runs, StreamingCounters, Option<StderrLog>), AttemptError> {
    // Every partition's runs, partition after partition: each run is sorted
    // and a key lives in one partition only, so the merge is sorted and
    // keeps each key's values in order.
    let runs: Vec<_> = (0..output.partition_count())
        .flat_map(|p| output.take_partition(p))
        .collect();
    let merged = merge_runs_with(runs, &ctx.sort_options).map_err(StreamingError::from)?;
    let mut buffer = PartitionedSortBuffer::new(ctx.reducers, ctx.sort_options.clone());
    let run = run_command(
        spec,
        &ctx.abort,
        move |input| {
            let mut records = 0u64;
            for record in merged {
                let (key, value) = record.map_err(|e| StepError::Fatal(e.into()))?;
                if !input.record(key.as_bytes(), value.as_bytes()) {
                    break;
                }
                records += 1;
            }
            Ok(records)
        },
        |out| push_records(ctx, out, &mut buffer),
    )?;
    let combined = buffer.finish().map_err(StreamingError::from)?;
    let mut counters = StreamingCounters {
        combine_input_records: run.fed,
        combine_output_records: run.drained,
        spilled_bytes: combined.stats().bytes_spilled,
        ..StreamingCounters::default()
    };
    counters.add_user(&run.counters);
    Ok((combined, counters, run.stderr))
}
