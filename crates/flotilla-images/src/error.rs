//! What can stop a pipeline run, each error naming where.

/// An error that stops a run. An image that cannot be read or decoded
/// does not: it becomes a failed row.
///
/// ```
/// let err = flotilla_images::list_images("/nonexistent-folder").unwrap_err();
/// assert!(err.to_string().contains("/nonexistent-folder"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImagesError {
    /// The input names nothing usable.
    #[error("input {input}: {reason}")]
    Input {
        /// The input as given.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// The detector could not be made.
    #[error("{0}")]
    Detector(String),
    /// Writing results failed (the rows before the refused batch are kept).
    #[error("results: {0}")]
    Sink(#[from] flotilla_sink::SinkError),
    /// The cluster (or the in-process engine) failed.
    #[error("{0}")]
    Cluster(#[from] flotilla_cluster::ClusterError),
    /// The checkpoint folder could not be made.
    #[error("{0}")]
    Checkpoint(#[from] flotilla_cluster::CheckpointError),
}
