//! A map task: one input split or chunk of records through the mapper into
//! the shuffle.

use super::{
    combiner_of, Counters, Emitter, Job, JobError, Partitioner, RecordError, ShuffleSink, TextInput,
};
use crate::mapreduce::sort::{MapOutput, SortOptions, SpillError};
use crate::mapreduce::split::{line_number_at, InputSplit, LineReader, SplitError};
use std::sync::Arc;

/// One map task over any source of records.
pub(super) struct MapTask<J: Job> {
    pub(super) job: Arc<J>,
    pub(super) sink: ShuffleSink<J::Key, J::Value>,
    pub(super) counters: Counters,
    pub(super) state: J::State,
    pub(super) bad: Vec<super::run::BadRecord>,
    pub(super) skip_bad: bool,
}

/// What every map task of a run shares: the job, how to partition, the
/// sort buffer's settings, whether bad records are skipped.
pub(super) struct MapSetup<J: Job> {
    pub(super) job: Arc<J>,
    pub(super) partitioner: Arc<Partitioner<J::Key>>,
    pub(super) partitions: usize,
    pub(super) options: SortOptions,
    pub(super) skip_bad: bool,
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
    pub(super) fn new(setup: MapSetup<J>) -> Self {
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
    pub(super) fn map_record(&mut self, record: &J::Input) -> Result<(), RecordError> {
        let mut emitter = Emitter {
            sink: &mut self.sink,
            counters: &mut self.counters,
        };
        self.job.map(&mut self.state, record, &mut emitter)
    }

    /// The spill failure the last records caused, if any (read without a
    /// write on the common path: this runs once per record).
    #[inline]
    pub(super) fn spill_failure(&mut self) -> Option<SpillError> {
        if self.sink.failed.is_some() {
            self.sink.failed.take()
        } else {
            None
        }
    }

    /// Handles a bad record at `pos`: counted and sampled, or the job's error.
    pub(super) fn bad_record(
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

    pub(super) fn finish(mut self, task: &str) -> Result<MapResult<J::Key, J::Value>, JobError> {
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

pub(super) fn map_text_split<J>(
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

pub(super) fn map_records<J>(
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

/// One map task's result.
pub(super) struct MapResult<K, V> {
    pub(super) output: MapOutput<K, V>,
    pub(super) counters: Counters,
    pub(super) bad: Vec<super::run::BadRecord>,
}

pub(super) const BAD_SAMPLE: usize = 10;

pub(super) fn snippet(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned();
    if line.len() > 80 {
        s + "…"
    } else {
        s
    }
}
