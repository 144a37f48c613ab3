//! [`BagError`]: why a bag could not be built, computed or written.

use std::path::PathBuf;
use std::sync::Arc;

pub(crate) use flotilla_data::task_errors::settle;
use flotilla_data::task_errors::CollectionError;
use flotilla_local::TaskError;

use crate::mapreduce::sort::SpillError;
use crate::mapreduce::split::InputError;
use crate::output::OutputError;

/// Why a bag could not be built, computed or written.
///
/// One variant per cause. Errors met while a partition is computed (a bad
/// input line, a spill that failed) travel through the task graph as values,
/// so they reach the caller with their type; this is why the variants hold
/// their sources behind an [`Arc`] (the enum is `Clone`, as every consumer of
/// a failed partition gets the error). A panic in user code is caught by the
/// graph run and comes back as [`BagError::Task`], naming the task.
///
/// ```
/// use flotilla::bag::{read_text, BagError};
///
/// let err = read_text(&["no/such/folder/*.txt"]).unwrap_err();
/// assert!(matches!(err, BagError::Input(_)));
/// assert!(err.to_string().contains("no/such/folder/*.txt"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BagError {
    /// A task failed: a panic in user code, or a task that did not run
    /// because one it depends on failed. The message leads with the
    /// panic's own, then the operation that raised it, the partition and
    /// the item: `item 57 is cursed — in `map` (step 2 of range|map) on
    /// partition 2, item 7 (counting from 0) (task range|map|sum[2]
    /// panicked)`.
    #[error(transparent)]
    Task(TaskError),
    /// Input files could not be planned or read.
    #[error(transparent)]
    Input(Arc<InputError>),
    /// A line read by [`read_text`](super::read_text) is not UTF-8; the
    /// message names the file and the line, and
    /// [`read_text_bytes`](super::read_text_bytes), which reads lines as
    /// bytes.
    #[error(
        "line {line} of {} is not UTF-8 (first bad byte at byte offset {offset}); \
         read_text reads UTF-8 text only: read the file with read_text_bytes \
         to get each line as bytes",
        path.display()
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The 1-based number of the line (0 when the file could not be read
        /// again to count the lines).
        line: u64,
        /// Byte offset of the first byte that is not UTF-8 (in the
        /// decompressed stream for gzip files).
        offset: u64,
    },
    /// The spilling shuffle of [`group_by`](super::Bag::group_by) could not
    /// write or read a spill file (named in the error).
    #[error(transparent)]
    Spill(Arc<SpillError>),
    /// The output folder was refused, or a file of it could not be
    /// written (see [`crate::output`] for the rule of output folders).
    #[error(transparent)]
    Output(Arc<OutputError>),
    /// An invariant of the bag's own graph was broken (a bug in flotilla).
    #[error("internal error in a bag's task graph: {0}")]
    Internal(String),
}

impl From<TaskError> for BagError {
    /// A task's error; one the bag's own task ended with (an input that
    /// could not be read, a spill or output that could not be written: see
    /// [`settle`]) comes back as that [`BagError`].
    fn from(e: TaskError) -> BagError {
        match e.failed_with::<BagError>() {
            Some(bag) => bag.clone(),
            None => BagError::Task(e),
        }
    }
}

impl CollectionError for BagError {
    /// An input that could not be read, a spill or an output that could not
    /// be written: such an error fails its task, and trying again may
    /// succeed. A line that is not UTF-8 or a corrupt gzip stream stays a
    /// value, so that the first bad partition in partition order is the
    /// one reported.
    fn is_environmental(&self) -> bool {
        match self {
            BagError::Input(e) => e.is_environmental(),
            BagError::Spill(_) | BagError::Output(_) => true,
            _ => false,
        }
    }
}

impl From<OutputError> for BagError {
    fn from(e: OutputError) -> BagError {
        BagError::Output(Arc::new(e))
    }
}

impl From<InputError> for BagError {
    fn from(e: InputError) -> BagError {
        BagError::Input(Arc::new(e))
    }
}

impl From<SpillError> for BagError {
    fn from(e: SpillError) -> BagError {
        BagError::Spill(Arc::new(e))
    }
}
