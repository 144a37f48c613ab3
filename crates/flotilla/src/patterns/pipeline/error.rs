//! Why a pipeline run failed, and configurations that cannot run.

use super::StageError;

/// Why a pipeline run failed.
///
/// Stage errors name the stage (its name and its index, from 0 for the stage
/// after the source) and the sequence number of the item (its position in the
/// source, from 0). Only the first failure of a run is reported.
///
/// ```
/// use flotilla::patterns::pipeline::{Pipeline, PipelineError};
///
/// let err = Pipeline::from_iter(0..100)
///     .map_stage("fine", 2, |x: u32| x)
///     .stage("picky", 1, |x| if x == 42 { Err(format!("{x} is not allowed")) } else { Ok(x) })
///     .collect()
///     .unwrap_err();
/// assert_eq!(err.stage_name(), Some("picky"));
/// assert_eq!(err.stage_index(), Some(1));
/// assert_eq!(err.item(), Some(42));
/// assert_eq!(err.to_string(), "pipeline stage 1 `picky` failed on item 42: 42 is not allowed");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A stage function returned `Err`.
    #[error("pipeline stage {stage_index} `{stage}` failed on item {item}: {source}")]
    StageFailed {
        /// Name of the stage.
        stage: String,
        /// Index of the stage, from 0.
        stage_index: usize,
        /// Sequence number of the item the stage failed on.
        item: u64,
        /// The error the stage function returned.
        source: StageError,
    },
    /// A stage function panicked.
    #[error("pipeline stage {stage_index} `{stage}` panicked on item {item}: {message}")]
    StagePanicked {
        /// Name of the stage.
        stage: String,
        /// Index of the stage, from 0.
        stage_index: usize,
        /// Sequence number of the item the stage panicked on.
        item: u64,
        /// The panic message, or a placeholder when the payload was not a
        /// string.
        message: String,
    },
    /// The source iterator panicked.
    #[error("the pipeline's source panicked while producing item {item}: {message}")]
    SourcePanicked {
        /// Sequence number the item would have had.
        item: u64,
        /// The panic message, or a placeholder when the payload was not a
        /// string.
        message: String,
    },
    /// The pipeline was configured so that it could not run; nothing was
    /// started and the source was not pulled.
    #[error("invalid pipeline configuration: {0}")]
    InvalidConfig(#[from] ConfigError),
}

impl PipelineError {
    /// The name of the stage that failed, when a stage failed.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let err = Pipeline::from_iter([0]).stage("reject", 1, |_: i32| Err::<i32, _>("no")).collect().unwrap_err();
    /// assert_eq!(err.stage_name(), Some("reject"));
    /// ```
    pub fn stage_name(&self) -> Option<&str> {
        match self {
            Self::StageFailed { stage, .. } | Self::StagePanicked { stage, .. } => Some(stage),
            Self::InvalidConfig(ConfigError::ZeroWorkers { stage, .. }) => Some(stage),
            _ => None,
        }
    }

    /// The index of the stage that failed (from 0), when a stage failed.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let err = Pipeline::from_iter([0]).map_stage("lazy", 0, |x: i32| x).collect().unwrap_err();
    /// assert_eq!(err.stage_index(), Some(0));
    /// ```
    pub fn stage_index(&self) -> Option<usize> {
        match self {
            Self::StageFailed { stage_index, .. } | Self::StagePanicked { stage_index, .. } => {
                Some(*stage_index)
            }
            Self::InvalidConfig(ConfigError::ZeroWorkers { stage_index, .. }) => Some(*stage_index),
            _ => None,
        }
    }

    /// The sequence number (position in the source, from 0) of the item
    /// being processed when the failure happened, when there was one.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let err = Pipeline::from_iter(0..9)
    ///     .map_stage("boom", 1, |x: i32| if x == 3 { panic!("three") } else { x })
    ///     .collect()
    ///     .unwrap_err();
    /// assert_eq!(err.item(), Some(3));
    /// ```
    pub fn item(&self) -> Option<u64> {
        match self {
            Self::StageFailed { item, .. }
            | Self::StagePanicked { item, .. }
            | Self::SourcePanicked { item, .. } => Some(*item),
            _ => None,
        }
    }
}

/// A pipeline configuration that cannot run; carried by
/// [`PipelineError::InvalidConfig`].
///
/// ```
/// use flotilla::patterns::pipeline::{ConfigError, Pipeline, PipelineError};
///
/// let err = Pipeline::from_iter(0..3).map_stage("inc", 1, |x| x + 1).capacity(0).collect().unwrap_err();
/// assert!(matches!(err, PipelineError::InvalidConfig(ConfigError::ZeroCapacity)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A stage was given zero workers, so no item could ever pass it.
    #[error("stage {stage_index} `{stage}` has zero workers; a stage needs at least one")]
    ZeroWorkers {
        /// Name of the stage.
        stage: String,
        /// Index of the stage, from 0.
        stage_index: usize,
    },
    /// The queue capacity is zero.
    #[error("the queue capacity is zero; queues between stages need room for at least one item")]
    ZeroCapacity,
}
