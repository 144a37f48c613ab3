//! [`JobRunner`]: runs jobs over text files or records.

use super::{
    checkpointed, map_records, map_text_split, Job, JobConfig, JobError, JobOutput, MapSetup,
    Partitioner, TextInput,
};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use flotilla_local::CpuPool;

use crate::mapreduce::sort::SortOptions;
use crate::mapreduce::split::{default_split_bytes, plan_splits};
use flotilla_data::caller::lock;

/// Runs [`Job`]s in-process on a [`CpuPool`].
#[derive(Debug, Clone)]
pub struct JobRunner {
    pub(super) pool: CpuPool,
    pub(super) config: JobConfig,
}

impl JobRunner {
    /// A runner on `pool` with default settings.
    ///
    /// ```
    /// let runner = flotilla::mapreduce::JobRunner::new(&flotilla::CpuPool::with_threads(1).unwrap());
    /// ```
    pub fn new(pool: &CpuPool) -> JobRunner {
        JobRunner {
            pool: pool.clone(),
            config: JobConfig::default(),
        }
    }

    /// The same runner with these settings.
    ///
    /// ```
    /// let pool = flotilla::CpuPool::with_threads(1).unwrap();
    /// let runner = flotilla::mapreduce::JobRunner::new(&pool).config(flotilla::mapreduce::JobConfig::default().reducers(1));
    /// ```
    pub fn config(mut self, config: JobConfig) -> JobRunner {
        self.config = config;
        self
    }

    pub(super) fn reducers(&self) -> usize {
        self.config
            .reducers
            .unwrap_or_else(|| self.pool.threads())
            .max(1)
    }

    pub(super) fn sort_options(&self) -> SortOptions {
        let per_task = (self.config.memory_budget / self.pool.threads().max(1)).max(64 << 10);
        let mut o = SortOptions::new().budget_bytes(per_task);
        if let Some(d) = &self.config.spill_dir {
            o = o.spill_dir(d.clone());
        }
        o
    }

    /// Runs `job` over text files (paths, folders or globs), one map task
    /// per split.
    ///
    /// # Errors
    ///
    /// [`JobError`]: bad input paths, a bad record (file, line, snippet), a
    /// panic in a task, a spill failure.
    pub fn run_text<J>(&self, job: J, inputs: &[&str]) -> Result<JobOutput<J::Output>, JobError>
    where
        J: Job,
        J::Input: TextInput,
    {
        self.run_text_with(job, Partitioner::Hash, inputs)
    }

    /// As [`JobRunner::run_text`], with a partitioner.
    ///
    /// # Errors
    ///
    /// As [`JobRunner::run_text`].
    pub fn run_text_with<J>(
        &self,
        job: J,
        partitioner: Partitioner<J::Key>,
        inputs: &[&str],
    ) -> Result<JobOutput<J::Output>, JobError>
    where
        J: Job,
        J::Input: TextInput,
    {
        let start = Instant::now();
        let splits = plan_splits(inputs, self.split_bytes_for(inputs)?)?;
        let partitions = self.checked_reducers(&partitioner)?;
        let setup = self.map_setup(job, partitioner, partitions);
        let kept = match &self.config.checkpoint {
            Some(checkpoint) => Some((
                checkpoint,
                checkpointed::job_key::<J>(&self.config, &setup.partitioner, partitions)?,
            )),
            None => None,
        };
        let maps = splits
            .into_iter()
            .map(|split| {
                let key = kept
                    .as_ref()
                    .map(|(checkpoint, job)| (*checkpoint, checkpointed::split_key(job, &split)));
                let setup = setup.clone();
                let map =
                    Box::new(move || map_text_split(setup.clone(), &split)) as super::run::MapFn<J>;
                match key {
                    Some((checkpoint, key)) => {
                        checkpointed::keep::<J>(checkpoint.clone(), key, map)
                    }
                    None => map,
                }
            })
            .collect();
        self.run_graph(setup.job, maps, start)
    }

    pub(super) fn map_setup<J: Job>(
        &self,
        job: J,
        partitioner: Partitioner<J::Key>,
        partitions: usize,
    ) -> MapSetup<J> {
        MapSetup {
            job: Arc::new(job),
            partitioner: Arc::new(partitioner),
            partitions,
            options: self.sort_options(),
            skip_bad: self.config.skip_bad_records,
        }
    }

    /// The split size: the configured one, or one derived from the input
    /// size (gzip files are one split whatever it is).
    pub(super) fn split_bytes_for(&self, inputs: &[&str]) -> Result<u64, JobError> {
        if let Some(b) = self.config.split_bytes {
            return Ok(b);
        }
        let whole_files = plan_splits(inputs, u64::MAX)?;
        Ok(default_split_bytes(&whole_files, self.pool.threads()))
    }

    pub(super) fn checked_reducers<K>(
        &self,
        partitioner: &Partitioner<K>,
    ) -> Result<usize, JobError> {
        let r = self.reducers();
        if let Partitioner::Range(bounds) = partitioner {
            if bounds.len() + 1 != r {
                return Err(JobError::Config(format!(
                    "a range partitioner with {} bounds needs {} reducers, not {r}",
                    bounds.len(),
                    bounds.len() + 1
                )));
            }
        }
        Ok(r)
    }

    /// Runs `job` over in-memory records (for example the output of an
    /// earlier step), `records_per_map_task` records per map task.
    ///
    /// # Errors
    ///
    /// As [`JobRunner::run_text`].
    pub fn run_records<J>(
        &self,
        job: J,
        records: Vec<J::Input>,
    ) -> Result<JobOutput<J::Output>, JobError>
    where
        J: Job,
        J::Input: Sized + Send + 'static,
    {
        let start = Instant::now();
        let setup = self.map_setup(job, Partitioner::Hash, self.reducers());
        let per_task = self.config.records_per_map_task;
        let mut maps = Vec::new();
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            let index = maps.len();
            // Kept until the run ends, so that the task can run again; the
            // lock is never contended (one attempt runs at a time).
            let chunk = Mutex::new(records.by_ref().take(per_task).collect::<Vec<J::Input>>());
            let setup = setup.clone();
            maps.push(Box::new(move || {
                let chunk = lock(&chunk);
                map_records(setup.clone(), &chunk, index)
            }) as super::run::MapFn<J>);
        }
        self.run_graph(setup.job, maps, start)
    }
}
