//! Streaming jobs, as Hadoop streaming runs them: any shell commands as
//! mapper, combiner and reducer, reading lines on stdin and writing
//! `key\tvalue` lines on stdout.
//!
//! A [`StreamingJob`] is three command lines and some settings;
//! [`StreamingJob::run`] runs it on a [`CpuPool`], every map and reduce task
//! a task of one graph on the scheduler, and writes a folder of part files:
//!
//! ```text
//!  inputs ─ plan_splits ─► split i ─► map[i]: split's lines ─stdin─► sh -c MAPPER ─stdout─┐
//!                                                                                          │
//!     key\tvalue lines ─► partition = hash(key) % R ─► PartitionedSortBuffer (bytewise) ◄──┘
//!                         sorted runs, spilled above the memory budget
//!        with a combiner: all runs merged ─► sh -c COMBINER ─► partitioned and sorted again
//!                                                    │
//!  reduce[r]: merge of every map task's runs for r ◄─┘
//!     sorted key\tvalue lines ─stdin─► sh -c REDUCER ─stdout─► OUTPUT/_temporary/.part-r.….attempt
//!                                                                 └─ succeeded: → _temporary/part-r
//!  stderr of each command ─► the tail (for errors); on success → _temporary/_logs/TASK.stderr
//!  job commit: every _temporary/part-r → OUTPUT/part-r, _logs/ → OUTPUT/_logs/; remove _temporary/; write _SUCCESS
//! ```
//!
//! **Records.** A line a command writes is a record: the key is what comes
//! before the first tab, the value what follows it; a line without a tab is
//! a key with an empty value, as in Hadoop. Keys and values are bytes, never
//! checked or changed for UTF-8. Keys are sorted bytewise (as `LC_ALL=C
//! sort` does) and spread over the `R` reducers by a fixed hash, so that all
//! the values of a key meet in one reducer. A record is written to a
//! command as `key\tvalue\n`, or `key\n` when its value is empty (so lines
//! without a tab pass through `cat` unchanged).
//!
//! **Map.** Each input split (see [`split`](super::split): byte ranges of
//! files, folders or globs, gzip included, no line cut or read twice) is one
//! map task running `sh -c MAPPER` with the split's lines on its stdin,
//! each ending in `\n` (a `\r\n` in the file reads as `\n`). The mapper
//! may stop reading early (like `head`): its exit status decides.
//!
//! **Combine.** With a combiner, a map task feeds its whole sorted output
//! (every partition, in key order) to `sh -c COMBINER` once the mapper has
//! finished, and keeps what the combiner writes instead, sorted and
//! partitioned again. The combiner need not write its keys in order.
//!
//! **Reduce.** Each partition is one reduce task: the k-way merge of every
//! map task's runs for it, fed in key order to `sh -c REDUCER`, whose stdout
//! becomes the part file `part-NNNNN`, byte for byte. Every partition has a
//! part file, empty or not, and the reducer runs even on an empty input.
//!
//! **Pipes.** Each command's stdin is written by a scoped thread while the
//! task reads its stdout, and a second scoped thread reads its stderr: no
//! side waits on a full pipe nobody reads. Lines of stderr of
//! the form `reporter:counter:GROUP,COUNTER,AMOUNT` add to the counter
//! `GROUP.COUNTER` of the report, as in Hadoop streaming (only successful
//! attempts count); `reporter:status:` lines are ignored. The rest of
//! stderr is kept: its tail goes into the error of a failed attempt, and
//! when a successful attempt's command wrote to stderr, its text (the first
//! MiB) goes to the output folder's `_logs/` (`map-00003.stderr`,
//! `map-00003.combiner.stderr`, `reduce-00000.stderr`) and a summary line
//! (task, first line, byte count) to [`StreamingReport::stderr`], which
//! the report's `Display` (and `flotilla mapreduce`) shows. A job that
//! succeeds may still have been warned about its input: read them.
//!
//! **Bytes as they are.** Commands get the input's bytes unchanged, never
//! decoded or checked as UTF-8, in the locale of the process. Tools that
//! decode text by the locale may treat bytes that are not valid there
//! differently: in a UTF-8 locale `grep` says `binary file matches` (on
//! stderr) and skips the matching lines, `sort` and `awk` may compare
//! differently. For byte-oriented work, run such tools with `LC_ALL=C`
//! (`--mapper 'LC_ALL=C grep foo'`).
//!
//! **Environment.** Every command sees `FLOTILLA_TASK` (`map[3]`,
//! `reduce[0]`) and `FLOTILLA_ATTEMPT` (1, 2, …); mappers also see
//! `mapreduce_map_input_file`, `mapreduce_map_input_start` and
//! `mapreduce_map_input_length`, reducers `mapreduce_task_partition`, with
//! Hadoop's names.
//!
//! **Failures and retries.** A command that exits non-zero or is killed by
//! a signal fails its task attempt, with an error naming the command, how it
//! ended, the task (`map[i]` with its split, or `reduce[r]`) and the last 20
//! lines (2 KB at most) of its stderr. The attempt is retried, up to
//! [`attempts`](StreamingJob::attempts) in all. Map and reduce tasks are
//! the nodes of one task graph run by the scheduler on the pool, and the
//! retry is the scheduler's: a map task starts again from its split, and a
//! reduce task merges its input again from the map tasks' outputs, which
//! stay (in memory, or in their spill files) until every reduce task ended.
//! What a failed attempt produced is discarded. Failures on flotilla's side
//! (an unreadable input, a spill or output write failing) are not retried.
//! When a task has failed for good, the job stops: tasks not started are
//! not started, running commands are killed at their next record, and the
//! job fails with that task's error — unless the job
//! [skips failed splits](StreamingJob::skip_failed_splits), in which case
//! a map task's split is left out, counted and sampled in the report, as
//! Hadoop's bad-record skipping does for streaming.
//!
//! **Output.** The output folder follows the rule of every flotilla output
//! folder ([`crate::output`]): it must be new or empty, as in Hadoop
//! ("output directory already exists"), unless the job
//! [overwrites](StreamingJob::write_mode) a previous flotilla output.
//! Reduce attempts write under `OUTPUT/_temporary/`; a successful one is
//! renamed there (task commit). Once every reduce task has succeeded, the
//! parts and `_logs/` are moved into the folder, `_temporary/` is removed
//! and an empty `_SUCCESS` is written last (job commit). A failed job
//! leaves the folder as it found it: no `_SUCCESS`, no part, whole or
//! half-written, no log, and no folder if the job created it.
//!
//! # Example
//!
//! A word count with `awk`, a combiner and two reducers. The reducer
//! compares keys as strings (`$1 "" != k ""`): awk compares two fields that
//! look like numbers as numbers, which would merge `1000`, `1000.` and `1e3`
//! into one key.
//!
//! ```
//! use flotilla::mapreduce::streaming::StreamingJob;
//!
//! let dir = std::env::temp_dir().join(format!("flotilla-doc-streaming-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(dir.join("text.txt"), "the cat\nthe hat\nthe end\n1000 1000. 1e3 010 10\n")?;
//!
//! let sum = r#"awk -F'\t' '$1 "" != k "" { if (NR > 1) print k "\t" n; k = $1; n = 0 } { n += $2 } END { if (NR) print k "\t" n }'"#;
//! let job = StreamingJob::new(r#"awk '{ for (i = 1; i <= NF; i++) print $i "\t1" }'"#, sum)
//!     .combiner(sum)
//!     .reducers(2);
//! let pool = flotilla::CpuPool::with_threads(2)?;
//! let input = dir.join("text.txt");
//! let report = job.run(&pool, &[input.to_str().unwrap()], dir.join("counts"))?;
//!
//! let mut lines: Vec<String> = Vec::new();
//! for part in &report.parts {
//!     lines.extend(std::fs::read_to_string(part)?.lines().map(String::from));
//! }
//! lines.sort();
//! assert_eq!(lines, [
//!     "010\t1", "10\t1", "1000\t1", "1000.\t1", "1e3\t1", // five keys, not one
//!     "cat\t1", "end\t1", "hat\t1", "the\t3",
//! ]);
//! assert!(dir.join("counts").join("_SUCCESS").exists());
//! assert_eq!(report.counters.map_output_records, 11);
//! assert_eq!(report.counters.reduce_input_groups, 9);
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "cluster")]
mod cluster;
mod command;
mod error;
mod map_task;
mod reduce_task;
mod report;
mod task_log;
#[cfg(test)]
mod test;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use flotilla_core::{TaskKey, TaskOptions};
use flotilla_local::{ComputeOptions, CpuPool, Graph, Inputs, TaskError};

pub use command::{CommandFailure, CommandRole};
pub use error::StreamingError;
pub use report::{StreamingCounters, StreamingReport, TaskStderr};

use map_task::{map_task, MapTaskResult};
use reduce_task::reduce_task;

use super::sort::SortOptions;
use super::split::plan_splits;
use super::{Partitioner, SmallBytes};
use crate::output::{OutputDir, WriteMode};
use flotilla_data::caller::{lock, ForCaller, PerTask};

/// How many skipped splits' errors a report keeps.
const SKIPPED_SAMPLE: usize = 10;

/// A Hadoop-streaming-style job: a mapper, an optional combiner and a
/// reducer, each a shell command (run with `sh -c`), and the settings of a
/// run. See the [module documentation](self) for what happens to records.
///
/// | setting | default |
/// |---|---|
/// | [`combiner`](Self::combiner) | none |
/// | [`reducers`](Self::reducers) | the pool's threads |
/// | [`split_bytes`](Self::split_bytes) | 32 MiB |
/// | [`attempts`](Self::attempts) | 3 |
/// | [`memory_budget`](Self::memory_budget) | 512 MiB, shared by the tasks running at once |
/// | [`spill_dir`](Self::spill_dir) | a fresh folder in the temp dir |
/// | [`skip_failed_splits`](Self::skip_failed_splits) | false |
/// | [`write_mode`](Self::write_mode) | refuse an output folder that is not empty |
///
/// ```
/// use flotilla::mapreduce::streaming::StreamingJob;
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-streaming-job-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("ratings.tsv"), "1\t10\t5\n2\t11\t3\n3\t12\t5\n")?;
///
/// // Ratings counted by value: the mapper keys each line by its third field.
/// let job = StreamingJob::new("cut -f3", "uniq -c").reducers(1);
/// let pool = flotilla::CpuPool::with_threads(2)?;
/// let input = dir.join("ratings.tsv");
/// let report = job.run(&pool, &[input.to_str().unwrap()], dir.join("out"))?;
/// let counts = std::fs::read_to_string(&report.parts[0])?;
/// let counts: Vec<&str> = counts.lines().map(str::trim).collect();
/// assert_eq!(counts, ["1 3", "2 5"]);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamingJob {
    mapper: String,
    combiner: Option<String>,
    reducer: String,
    reducers: Option<usize>,
    split_bytes: u64,
    attempts: usize,
    memory_budget: usize,
    spill_dir: Option<PathBuf>,
    skip_failed_splits: bool,
    write_mode: WriteMode,
}

impl StreamingJob {
    /// A job with this mapper and reducer, and the default settings.
    ///
    /// ```
    /// let job = flotilla::mapreduce::streaming::StreamingJob::new("cat", "sort -u");
    /// ```
    pub fn new(mapper: impl Into<String>, reducer: impl Into<String>) -> StreamingJob {
        StreamingJob {
            mapper: mapper.into(),
            combiner: None,
            reducer: reducer.into(),
            reducers: None,
            split_bytes: 32 << 20,
            attempts: 3,
            memory_budget: 512 << 20,
            spill_dir: None,
            skip_failed_splits: false,
            write_mode: WriteMode::ErrorIfNotEmpty,
        }
    }

    /// Runs `command` on each map task's sorted output; its output replaces
    /// the map output. Like the reducer, it reads `key\tvalue` lines sorted
    /// by key, and must write what the reducer accepts.
    ///
    /// ```
    /// let job = flotilla::mapreduce::streaming::StreamingJob::new("cat", "uniq").combiner("uniq");
    /// ```
    pub fn combiner(mut self, command: impl Into<String>) -> StreamingJob {
        self.combiner = Some(command.into());
        self
    }

    /// The number of reduce tasks, hence of part files (at least 1;
    /// default: the pool's threads).
    ///
    /// ```
    /// let job = flotilla::mapreduce::streaming::StreamingJob::new("cat", "cat").reducers(4);
    /// ```
    pub fn reducers(mut self, reducers: usize) -> StreamingJob {
        self.reducers = Some(reducers);
        self
    }

    /// Bytes per input split, hence per map task (default 32 MiB).
    ///
    /// ```
    /// let job = flotilla::mapreduce::streaming::StreamingJob::new("cat", "cat").split_bytes(64 << 20);
    /// ```
    pub fn split_bytes(mut self, bytes: u64) -> StreamingJob {
        self.split_bytes = bytes;
        self
    }

    /// How many times a task's command may be tried before the task fails
    /// (at least 1; default 3).
    ///
    /// ```
    /// let job = flotilla::mapreduce::streaming::StreamingJob::new("cat", "cat").attempts(1);
    /// ```
    pub fn attempts(mut self, attempts: usize) -> StreamingJob {
        self.attempts = attempts;
        self
    }

    /// The memory the map tasks running at once may hold before spilling
    /// sorted runs to disk (default 512 MiB; each task gets its share).
    ///
    /// ```
    /// let job = flotilla::mapreduce::streaming::StreamingJob::new("cat", "cat").memory_budget(64 << 20);
    /// ```
    pub fn memory_budget(mut self, bytes: usize) -> StreamingJob {
        self.memory_budget = bytes;
        self
    }

    /// Where spill files go (default: a fresh folder in the temp dir).
    ///
    /// ```
    /// let job = flotilla::mapreduce::streaming::StreamingJob::new("cat", "cat")
    ///     .spill_dir(std::env::temp_dir().join("my-spills"));
    /// ```
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> StreamingJob {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Whether a map task that failed on every attempt leaves its split out
    /// instead of failing the job. Skipped splits are counted
    /// ([`StreamingCounters::skipped_splits`]) and their errors sampled
    /// ([`StreamingReport::skipped_sample`]). Reduce tasks never skip.
    ///
    /// ```
    /// use flotilla::mapreduce::streaming::StreamingJob;
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-streaming-skip-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("good.txt"), "a\n")?;
    /// std::fs::write(dir.join("bad.txt"), "BAD\n")?;
    ///
    /// let job = StreamingJob::new("grep -v BAD || true; test \"${mapreduce_map_input_file##*/}\" != bad.txt", "cat")
    ///     .attempts(1)
    ///     .reducers(1)
    ///     .skip_failed_splits(true);
    /// let pool = flotilla::CpuPool::with_threads(2)?;
    /// let report = job.run(&pool, &[dir.to_str().unwrap()], dir.join("out"))?;
    /// assert_eq!(report.counters.skipped_splits, 1);
    /// assert!(report.skipped_sample[0].contains("bad.txt"));
    /// assert_eq!(std::fs::read_to_string(&report.parts[0])?, "a\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn skip_failed_splits(mut self, skip: bool) -> StreamingJob {
        self.skip_failed_splits = skip;
        self
    }

    /// What the job does with an output folder that is not empty
    /// (default: [`WriteMode::ErrorIfNotEmpty`], as Hadoop refuses an
    /// existing output directory). [`WriteMode::Overwrite`] replaces a
    /// previous flotilla output once the job succeeded, and refuses a
    /// folder holding anything else; see [`crate::output`].
    ///
    /// ```
    /// use flotilla::mapreduce::streaming::StreamingJob;
    /// use flotilla::output::WriteMode;
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-streaming-overwrite-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("in.txt"), "a\n")?;
    /// let input = dir.join("in.txt");
    /// let pool = flotilla::CpuPool::with_threads(1)?;
    /// let job = StreamingJob::new("cat", "cat").reducers(1);
    /// job.run(&pool, &[input.to_str().unwrap()], dir.join("out"))?;
    /// assert!(job.run(&pool, &[input.to_str().unwrap()], dir.join("out")).is_err());
    /// job.write_mode(WriteMode::Overwrite).run(&pool, &[input.to_str().unwrap()], dir.join("out"))?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_mode(mut self, mode: WriteMode) -> StreamingJob {
        self.write_mode = mode;
        self
    }

    /// Runs the job over `inputs` (files, folders or globs, as
    /// [`plan_splits`] takes them) into the folder `output`, which must not
    /// exist or be empty (unless the job [overwrites](Self::write_mode)).
    /// Blocks until the job is done; its tasks run on `pool`.
    ///
    /// # Errors
    ///
    /// [`StreamingError`]: bad settings, inputs that cannot be planned or
    /// read, an output folder in use, a task's command failing on every
    /// attempt (with its stderr's tail), a spill or output write failing. A
    /// failed job leaves the output folder as it found it.
    ///
    /// ```
    /// use flotilla::mapreduce::streaming::{StreamingError, StreamingJob};
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-streaming-run-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("in.txt"), "x\n")?;
    /// let input = dir.join("in.txt");
    /// let pool = flotilla::CpuPool::with_threads(1)?;
    ///
    /// let failing = StreamingJob::new("echo 'no such field' >&2; exit 4", "cat").attempts(2);
    /// let err = failing.run(&pool, &[input.to_str().unwrap()], dir.join("out")).unwrap_err();
    /// let StreamingError::TaskFailed { task, attempts, failure, .. } = &err else { panic!("{err}") };
    /// assert_eq!((task.as_str(), *attempts, failure.exit_code), ("map[0]", 2, Some(4)));
    /// assert!(err.to_string().contains("exited with status 4"));
    /// assert!(err.to_string().contains("no such field"));
    /// assert!(!dir.join("out").exists());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run<P: AsRef<str>>(
        &self,
        pool: &CpuPool,
        inputs: &[P],
        output: impl AsRef<Path>,
    ) -> Result<StreamingReport, StreamingError> {
        let start = Instant::now();
        self.check()?;
        let reducers = self.reducers.unwrap_or_else(|| pool.threads()).max(1);
        let splits = plan_splits(inputs, self.split_bytes)?;
        let output = OutputDir::create(output.as_ref(), self.write_mode)?;
        let per_task = (self.memory_budget / pool.threads().max(1)).max(64 << 10);
        let mut sort_options = SortOptions::new().budget_bytes(per_task);
        if let Some(dir) = &self.spill_dir {
            sort_options = sort_options.spill_dir(dir.clone());
        }
        let ctx = Arc::new(JobContext {
            mapper: self.mapper.clone(),
            combiner: self.combiner.clone(),
            reducer: self.reducer.clone(),
            reducers,
            attempts: self.attempts,
            skip_failed_splits: self.skip_failed_splits,
            sort_options,
            partitioner: Partitioner::Hash,
            output: output.clone(),
            abort: AtomicBool::new(false),
            failure: Mutex::new(None),
        });

        // One graph: a map task per split, a reduce task per partition
        // reading its runs of every map task's output. A failed attempt is
        // run again by the scheduler, up to `attempts` in all.
        let retries = TaskOptions {
            retries: u32::try_from(self.attempts - 1).unwrap_or(u32::MAX),
            ..TaskOptions::default()
        };
        let ledger: Arc<MapLedger> = Arc::default();
        let mut graph = Graph::new();
        let map_op = TaskKey::indexed("map", 0);
        let mut map_keys = Vec::new();
        for split in splits {
            let index = split.index();
            let key = map_op.sibling(index as u64);
            let (ctx, ledger, task) = (Arc::clone(&ctx), Arc::clone(&ledger), key.to_string());
            let tries = AtomicUsize::new(0);
            graph.insert_with(key.clone(), [] as [TaskKey; 0], retries, move |_| {
                let attempt = tries.fetch_add(1, Ordering::Relaxed) + 1;
                match map_task(&ctx, &split, attempt) {
                    Ok(MapTaskResult::Done {
                        mut output,
                        counters,
                        stderr,
                    }) => {
                        output.share();
                        ledger.done.note(index, (counters, stderr));
                        Ok(MapPieces(Some(output)))
                    }
                    Ok(MapTaskResult::Skipped { error, counters }) => {
                        ledger.skipped.note(index, (error, counters));
                        Ok(MapPieces(None))
                    }
                    Err(failure) => Err(failure.into_task_error(&task)),
                }
            });
            map_keys.push(key);
        }
        let reduce_op = TaskKey::indexed("reduce", 0);
        let reduce_keys: Vec<TaskKey> =
            (0..reducers).map(|p| reduce_op.sibling(p as u64)).collect();
        for (partition, key) in reduce_keys.iter().enumerate() {
            let (ctx, task) = (Arc::clone(&ctx), key.to_string());
            let tries = AtomicUsize::new(0);
            let deps = map_keys.iter().cloned();
            graph.insert_with(key.clone(), deps, retries, move |inputs: &Inputs<'_>| {
                let attempt = tries.fetch_add(1, Ordering::Relaxed) + 1;
                let mut runs = Vec::new();
                for m in 0..inputs.len() {
                    if let Some(output) = &inputs.get::<MapPieces>(m)?.0 {
                        runs.extend(output.partition(partition));
                    }
                }
                reduce_task(&ctx, partition, runs, attempt)
                    .map(ForCaller::new)
                    .map_err(|failure| failure.into_task_error(&task))
            });
        }
        let compute = ComputeOptions::new().pool(pool).label("streaming");
        let (outcomes, _) = graph.compute_many_with(&reduce_keys, &compute)?;
        let failed = || lock(&ctx.failure).take();
        let mut counters = StreamingCounters::default();
        let mut stderr = Vec::new();
        let mut reduced = Vec::with_capacity(reducers);
        for outcome in outcomes {
            match outcome {
                Ok(value) => reduced.push(value),
                Err(e) => {
                    let error = failed().unwrap_or(StreamingError::Task(e));
                    // Now, not when the last task's copy of it goes.
                    let _ = output.abort();
                    return Err(error);
                }
            }
        }
        let mut skipped_sample = Vec::new();
        for (c, logs) in ledger.done.take_in_order() {
            counters.add(&c);
            stderr.extend(logs);
        }
        for (error, c) in ledger.skipped.take_in_order() {
            counters.add(&c);
            if skipped_sample.len() < SKIPPED_SAMPLE {
                skipped_sample.push(error);
            }
        }
        for (value, key) in reduced.iter().zip(&reduce_keys) {
            let (c, logs) =
                ForCaller::<(StreamingCounters, Vec<TaskStderr>)>::take(value, &key.to_string())?;
            counters.add(&c);
            stderr.extend(logs);
        }
        drop(reduced);
        drop(graph);

        let root = output.path().to_path_buf();
        drop(ctx);
        let parts = output.commit_expecting(reducers)?;
        Ok(StreamingReport {
            counters,
            output: root,
            parts,
            skipped_sample,
            stderr,
            elapsed: start.elapsed(),
        })
    }

    fn check(&self) -> Result<(), StreamingError> {
        let config = |what: &str| Err(StreamingError::Config(what.to_string()));
        if self.mapper.trim().is_empty() {
            return config("the mapper command is empty");
        }
        if self.reducer.trim().is_empty() {
            return config("the reducer command is empty");
        }
        if self
            .combiner
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            return config("the combiner command is empty");
        }
        if self.attempts == 0 {
            return config("attempts must be at least 1");
        }
        if self.reducers == Some(0) {
            return config("reducers must be at least 1 (map-only jobs are not supported)");
        }
        Ok(())
    }
}

/// What every task of a job shares.
#[derive(Debug)]
struct JobContext {
    mapper: String,
    combiner: Option<String>,
    reducer: String,
    reducers: usize,
    attempts: usize,
    skip_failed_splits: bool,
    sort_options: SortOptions,
    partitioner: Partitioner<SmallBytes>,
    /// The output folder: parts, kept reducer inputs and logs.
    output: OutputDir,
    /// Set when a task has failed for good: the others stop.
    abort: AtomicBool,
    /// The first error of a task that failed for good: the job's.
    failure: Mutex<Option<StreamingError>>,
}

impl JobContext {
    /// A task failed for good: stop the others, and keep the first such
    /// error as the job's.
    fn fail(&self, error: StreamingError) -> TaskFailure {
        self.abort.store(true, Ordering::Relaxed);
        let message = error.to_string();
        lock(&self.failure).get_or_insert(error);
        TaskFailure::Failed(message)
    }
}

/// Why an attempt gave no result.
#[derive(Debug)]
enum TaskFailure {
    /// Its command failed and attempts are left: the scheduler runs the
    /// task again.
    Retry(CommandFailure),
    /// It failed for good: the job's error is in [`JobContext::failure`].
    Failed(String),
    /// It stopped because another task failed.
    Aborted,
}

impl TaskFailure {
    /// The failure as the scheduler sees it.
    fn into_task_error(self, task: &str) -> TaskError {
        let failed = |message: String| TaskError::Failed {
            task: task.to_string(),
            function: String::new(),
            message,
        };
        match self {
            TaskFailure::Retry(failure) => failed(failure.to_string()),
            TaskFailure::Failed(message) => failed(message),
            TaskFailure::Aborted => TaskError::Cancelled {
                task: task.to_string(),
            },
        }
    }
}

/// A map task's output as the graph holds it, shared so that every reduce
/// task (and every attempt of one) reads its partition; `None` for a
/// skipped split.
struct MapPieces(Option<map_task::Runs>);

/// What map tasks leave for the report, by split: counters and stderr of
/// the mapped ones, the error and counters of the skipped ones. A task that
/// runs again replaces its entry.
#[derive(Default)]
struct MapLedger {
    done: PerTask<(StreamingCounters, Vec<TaskStderr>)>,
    skipped: PerTask<(String, StreamingCounters)>,
}
