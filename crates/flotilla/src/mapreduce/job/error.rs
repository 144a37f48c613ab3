//! [`JobError`]: why a job failed.

use crate::mapreduce::sort::SpillError;
use crate::mapreduce::split::InputError;
use crate::output::OutputError;
use flotilla_local::TaskError;
use std::path::PathBuf;

/// Why a job failed. Nothing of a failed job is written to an output folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// A malformed record, with where it is.
    #[error("{path}:{line}: bad record ({message}): {snippet}")]
    BadRecord {
        /// The input file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// Byte offset of the line.
        offset: u64,
        /// The start of the line.
        snippet: String,
        /// What the mapper said.
        message: String,
    },
    /// A malformed record in a later step's input (no file to name).
    #[error("step {step}: bad record ({message}) in task {task}")]
    BadIntermediateRecord {
        /// The step, from 1.
        step: usize,
        /// The map or reduce task.
        task: String,
        /// What the job said.
        message: String,
    },
    /// The input could not be planned or read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The shuffle could not write or read a spill file.
    #[error(transparent)]
    Spill(#[from] SpillError),
    /// A task panicked or could not run.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The output folder was refused, or a file of it could not be
    /// written (see [`crate::output`] for the rule of output folders).
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A task on a cluster failed for good (its message names the task,
    /// the worker and, for a bad record, the file and line), or the
    /// cluster went away.
    #[cfg(feature = "cluster")]
    #[error(transparent)]
    Cluster(#[from] flotilla_cluster::ClusterError),
    /// The settings cannot work.
    #[error("invalid job settings: {0}")]
    Config(String),
    /// A map task's checkpoint file could not be written or read back
    /// (the error names the file).
    #[error(transparent)]
    Checkpoint(#[from] flotilla_local::CheckpointError),
}
