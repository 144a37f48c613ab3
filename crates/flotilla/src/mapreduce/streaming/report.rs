//! [`StreamingCounters`], [`TaskStderr`] and [`StreamingReport`]: what a
//! streaming job did.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::CommandRole;

/// How many stderr summaries the report's `Display` shows.
const STDERR_SHOWN: usize = 10;

/// The built-in counters of a streaming job, plus the counters its commands
/// reported on stderr (`reporter:counter:GROUP,COUNTER,AMOUNT`, as in
/// Hadoop streaming). Only successful attempts count, except
/// `attempts_failed`.
///
/// ```
/// let counters = flotilla::mapreduce::streaming::StreamingCounters::default();
/// assert_eq!(counters.attempts_failed, 0);
/// assert!(counters.to_string().contains("map input records"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct StreamingCounters {
    /// Map tasks run (one per input split).
    pub map_tasks: u64,
    /// Reduce tasks run (one per partition).
    pub reduce_tasks: u64,
    /// Lines given to the mappers.
    pub map_input_records: u64,
    /// Bytes of those lines in the input, their line terminators included:
    /// over a whole input read to the end, its length.
    pub map_input_bytes: u64,
    /// Lines the mappers wrote.
    pub map_output_records: u64,
    /// Lines given to the combiners.
    pub combine_input_records: u64,
    /// Lines the combiners wrote.
    pub combine_output_records: u64,
    /// Lines given to the reducers.
    pub reduce_input_records: u64,
    /// Distinct keys the reducers saw.
    pub reduce_input_groups: u64,
    /// Lines the reducers wrote.
    pub reduce_output_records: u64,
    /// Bytes of map output spilled to disk above the memory budget.
    pub spilled_bytes: u64,
    /// Task attempts whose command failed (and were retried, or failed the
    /// task).
    pub attempts_failed: u64,
    /// Input splits skipped because their map task failed on every attempt
    /// (with [`skip_failed_splits`](super::StreamingJob::skip_failed_splits)).
    pub skipped_splits: u64,
    /// The commands' own counters, named `GROUP.COUNTER`.
    pub user: BTreeMap<String, u64>,
}

impl StreamingCounters {
    pub(super) fn add(&mut self, o: &StreamingCounters) {
        self.map_tasks += o.map_tasks;
        self.reduce_tasks += o.reduce_tasks;
        self.map_input_records += o.map_input_records;
        self.map_input_bytes += o.map_input_bytes;
        self.map_output_records += o.map_output_records;
        self.combine_input_records += o.combine_input_records;
        self.combine_output_records += o.combine_output_records;
        self.reduce_input_records += o.reduce_input_records;
        self.reduce_input_groups += o.reduce_input_groups;
        self.reduce_output_records += o.reduce_output_records;
        self.spilled_bytes += o.spilled_bytes;
        self.attempts_failed += o.attempts_failed;
        self.skipped_splits += o.skipped_splits;
        self.add_user(&o.user);
    }

    pub(super) fn add_user(&mut self, user: &BTreeMap<String, u64>) {
        for (name, n) in user {
            let slot = self.user.entry(name.clone()).or_default();
            *slot = slot.saturating_add(*n);
        }
    }
}

impl fmt::Display for StreamingCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = [
            ("map tasks", self.map_tasks),
            ("reduce tasks", self.reduce_tasks),
            ("map input records", self.map_input_records),
            ("map input bytes", self.map_input_bytes),
            ("map output records", self.map_output_records),
            ("combine input records", self.combine_input_records),
            ("combine output records", self.combine_output_records),
            ("reduce input records", self.reduce_input_records),
            ("reduce input groups", self.reduce_input_groups),
            ("reduce output records", self.reduce_output_records),
            ("spilled bytes", self.spilled_bytes),
            ("attempts failed", self.attempts_failed),
            ("skipped splits", self.skipped_splits),
        ];
        for (name, n) in rows {
            writeln!(f, "{name:>24}: {n}")?;
        }
        for (name, n) in &self.user {
            writeln!(f, "{name:>24}: {n}")?;
        }
        Ok(())
    }
}

/// What a successful streaming job did: its counters, the part files it
/// wrote, the splits it skipped, and how long it took.
///
/// Its `Display` is the end-of-run summary the CLI prints.
///
/// ```
/// use flotilla::mapreduce::streaming::StreamingJob;
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-streaming-report-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("in.txt"), "b\na\nb\n")?;
/// let pool = flotilla::CpuPool::with_threads(2)?;
/// let input = dir.join("in.txt");
/// let report = StreamingJob::new("cat", "uniq -c").reducers(1).run(&pool, &[input.to_str().unwrap()], dir.join("out"))?;
/// assert_eq!(report.parts, [dir.join("out").join("part-00000")]);
/// assert_eq!(report.counters.reduce_input_groups, 2);
/// assert!(report.to_string().contains("reduce output records: 2"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StreamingReport {
    /// What the job counted.
    pub counters: StreamingCounters,
    /// The output folder.
    pub output: PathBuf,
    /// The part files, in partition order (`part-00000`, `part-00001`, …).
    pub parts: Vec<PathBuf>,
    /// Why skipped splits were skipped (the first ten task errors), with
    /// [`skip_failed_splits`](super::StreamingJob::skip_failed_splits).
    pub skipped_sample: Vec<String>,
    /// Every command of a successful attempt that wrote to stderr (besides
    /// `reporter:` lines), map tasks first: a job that succeeds may still
    /// have skipped or misread input, and said so there.
    pub stderr: Vec<TaskStderr>,
    /// Wall time of the job.
    pub elapsed: Duration,
}

impl fmt::Display for StreamingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.counters)?;
        writeln!(f, "{:>24}: {:.3} s", "elapsed", self.elapsed.as_secs_f64())?;
        write!(
            f,
            "{:>24}: {} ({} part files and _SUCCESS)",
            "output",
            self.output.display(),
            self.parts.len()
        )?;
        for skipped in &self.skipped_sample {
            write!(f, "\nskipped: {skipped}")?;
        }
        for task in self.stderr.iter().take(STDERR_SHOWN) {
            write!(f, "\nstderr: {task}")?;
        }
        if let Some(more) = self
            .stderr
            .len()
            .checked_sub(STDERR_SHOWN)
            .filter(|&n| n > 0)
        {
            write!(
                f,
                "\nstderr: {more} more tasks wrote to stderr (see {})",
                self.output.join("_logs").display()
            )?;
        }
        Ok(())
    }
}

/// A command of a successful task attempt that wrote to stderr: which, its
/// first line, how much, and the log holding the text.
///
/// Its `Display` is the summary line the CLI prints.
///
/// ```
/// use flotilla::mapreduce::streaming::StreamingJob;
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-task-stderr-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("in.txt"), "a\n")?;
/// let pool = flotilla::CpuPool::with_threads(1)?;
/// let input = dir.join("in.txt");
/// let job = StreamingJob::new("echo 'line 1 is odd' >&2; cat", "cat").reducers(1);
/// let report = job.run(&pool, &[input.to_str().unwrap()], dir.join("out"))?;
/// let task = &report.stderr[0];
/// assert_eq!((task.task.as_str(), task.first_line.as_str(), task.bytes), ("map[0]", "line 1 is odd", 14));
/// assert_eq!(std::fs::read_to_string(&task.log)?, "line 1 is odd\n");
/// assert!(report.to_string().contains("map[0] mapper wrote 14 bytes to stderr: line 1 is odd"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct TaskStderr {
    /// The task: `map[3]` or `reduce[0]`.
    pub task: String,
    /// Which of its commands.
    pub role: CommandRole,
    /// The first line, invalid UTF-8 replaced, at most 200 characters.
    pub first_line: String,
    /// How many bytes the command wrote to stderr (without `reporter:`
    /// lines).
    pub bytes: u64,
    /// The log in the output folder with the text (its first MiB):
    /// `_logs/map-00003.stderr`, `_logs/map-00003.combiner.stderr`,
    /// `_logs/reduce-00000.stderr`.
    pub log: PathBuf,
}

impl fmt::Display for TaskStderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} wrote {} bytes to stderr: {} (all of it in {})",
            self.task,
            self.role,
            self.bytes,
            self.first_line,
            self.log.display()
        )
    }
}
