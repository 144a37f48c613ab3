//! [`JobConfig`]: the settings of a run.

use std::path::PathBuf;

use flotilla_local::Checkpoint;

/// The settings of a run.
///
/// ```
/// let c = flotilla::mapreduce::JobConfig::default().reducers(4).split_bytes(1 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct JobConfig {
    pub(super) reducers: Option<usize>,
    pub(super) split_bytes: Option<u64>,
    pub(super) memory_budget: usize,
    pub(super) spill_dir: Option<PathBuf>,
    pub(super) skip_bad_records: bool,
    pub(super) records_per_map_task: usize,
    pub(super) retries: u32,
    pub(super) checkpoint: Option<Checkpoint>,
    pub(super) version: String,
}

impl Default for JobConfig {
    fn default() -> JobConfig {
        JobConfig {
            reducers: None,
            split_bytes: None,
            memory_budget: 512 << 20,
            spill_dir: None,
            skip_bad_records: false,
            records_per_map_task: 100_000,
            retries: 0,
            checkpoint: None,
            version: String::new(),
        }
    }
}

impl JobConfig {
    /// Number of reduce tasks (default: the pool's threads).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().reducers(4);
    /// ```
    pub fn reducers(mut self, n: usize) -> JobConfig {
        self.reducers = Some(n);
        self
    }
    /// Bytes per input split, i.e. per map task (default: derived from the
    /// input size — about four map tasks per worker thread, each between
    /// 1 MiB and 64 MiB, so that work stealing can even out the splits).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().split_bytes(64 << 20);
    /// ```
    pub fn split_bytes(mut self, bytes: u64) -> JobConfig {
        self.split_bytes = Some(bytes);
        self
    }
    /// Memory the shuffle may hold before spilling, over all map tasks
    /// running at once (default 512 MiB).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().memory_budget(256 << 20);
    /// ```
    pub fn memory_budget(mut self, bytes: usize) -> JobConfig {
        self.memory_budget = bytes;
        self
    }
    /// Where spill files go (default: a fresh folder in the temp dir).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().spill_dir(std::env::temp_dir());
    /// ```
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> JobConfig {
        self.spill_dir = Some(dir.into());
        self
    }
    /// Count and sample malformed records instead of failing the job.
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().skip_bad_records(true);
    /// ```
    pub fn skip_bad_records(mut self, skip: bool) -> JobConfig {
        self.skip_bad_records = skip;
        self
    }
    /// Records per map task when the input is records (later steps).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().records_per_map_task(10_000);
    /// ```
    pub fn records_per_map_task(mut self, n: usize) -> JobConfig {
        self.records_per_map_task = n.max(1);
        self
    }
    /// How many more times a map or reduce task that failed (an error, a
    /// bad record, a panic) runs again, on any worker, before the job fails
    /// with its error (default 0: a job's tasks are deterministic, so a bad
    /// record fails every attempt; allow retries for mappers that read
    /// something that can fail for a while).
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().retries(3);
    /// ```
    pub fn retries(mut self, n: u32) -> JobConfig {
        self.retries = n;
        self
    }

    /// Keeps each map task's output (its sorted partitions, counters and
    /// skipped records) in `checkpoint`, so that the job run again — after
    /// a crash, a Ctrl-C, or with a changed reducer — maps only the splits
    /// it does not find there. A map task over a file is kept under a key
    /// made of the job's type, its [version](JobConfig::version), the
    /// number of reducers and the partitioner, whether bad records are
    /// skipped, and the split: the file's path, its byte range, size and
    /// modification time. A changed file maps its splits again; the others
    /// are read back. On a cluster the job's own fields are part of the
    /// key too (they travel with each map task); in-process they are not:
    /// change the version when they change. A job over in-memory records
    /// ([`JobRunner::run_records`](super::JobRunner::run_records)) maps
    /// them every time: nothing names its records beyond the run.
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// use flotilla_local::Checkpoint;
    /// let dir = std::env::temp_dir().join(format!("flotilla-job-ckpt-doc-{}", std::process::id()));
    /// let c = JobConfig::default().checkpoint(&Checkpoint::open(&dir).unwrap()).version("2");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn checkpoint(mut self, checkpoint: &Checkpoint) -> JobConfig {
        self.checkpoint = Some(checkpoint.clone());
        self
    }

    /// The version of the job's code and parameters, part of every
    /// checkpoint key ([`JobConfig::checkpoint`]): a new version maps
    /// everything again. Default empty.
    ///
    /// ```
    /// use flotilla::mapreduce::JobConfig;
    /// let c = JobConfig::default().version("min-rating=3");
    /// ```
    pub fn version(mut self, version: impl Into<String>) -> JobConfig {
        self.version = version.into();
        self
    }
}
