//! [`StreamingError`]: why a streaming job failed.

use std::io;
use std::path::PathBuf;

use flotilla_local::TaskError;

use super::CommandFailure;
use crate::mapreduce::sort::SpillError;
use crate::mapreduce::split::InputError;
use crate::output::OutputError;

/// Why a streaming job failed, one variant per cause. A failed job leaves
/// its output folder as it found it.
///
/// ```
/// use flotilla::mapreduce::streaming::{StreamingError, StreamingJob};
/// use flotilla::output::OutputError;
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-streaming-error-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("out"))?;
/// std::fs::write(dir.join("in.txt"), "a\n")?;
/// std::fs::write(dir.join("out").join("old-part"), "")?;
///
/// let pool = flotilla::CpuPool::with_threads(1)?;
/// let input = dir.join("in.txt");
/// let err = StreamingJob::new("cat", "cat")
///     .run(&pool, &[input.to_str().unwrap()], dir.join("out"))
///     .unwrap_err();
/// assert!(matches!(err, StreamingError::Output(OutputError::NotEmpty { .. })));
/// assert!(err.to_string().contains("not empty"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamingError {
    /// The settings cannot work (named in the message).
    #[error("invalid streaming job settings: {0}")]
    Config(String),
    /// The inputs could not be planned or read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The shuffle could not write or read a spill file.
    #[error(transparent)]
    Spill(#[from] SpillError),
    /// The output folder was refused (see [`crate::output`] for the rule
    /// of output folders), or writing it failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A task's command failed on every attempt.
    #[error(
        "{task}{} failed on {}; the last one: {failure}",
        on_input(.input.as_deref()),
        all_attempts(*.attempts)
    )]
    TaskFailed {
        /// The task: `map[3]` or `reduce[0]`.
        task: String,
        /// The input split of a map task (`file[start..end]`).
        input: Option<String>,
        /// How many attempts were made.
        attempts: usize,
        /// How the last attempt's command failed (command, exit status,
        /// stderr's tail).
        failure: Box<CommandFailure>,
    },
    /// A thread to feed or drain a command could not be started.
    #[error("cannot start a thread to run a command: {0}")]
    Thread(io::Error),
    /// A task panicked or could not run on the pool.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A task on a cluster failed for good (its message says which and
    /// why, as a failed task's error does in-process), or the cluster went
    /// away.
    #[cfg(feature = "cluster")]
    #[error(transparent)]
    Cluster(#[from] flotilla_cluster::ClusterError),
}

fn on_input(input: Option<&str>) -> String {
    input.map(|s| format!(" (input {s})")).unwrap_or_default()
}

fn all_attempts(attempts: usize) -> String {
    match attempts {
        1 => "its only attempt".to_string(),
        n => format!("all {n} attempts"),
    }
}

impl StreamingError {
    pub(super) fn output(path: impl Into<PathBuf>, source: io::Error) -> StreamingError {
        StreamingError::Output(OutputError::io(path, source))
    }
}
