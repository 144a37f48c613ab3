//! [`ArrayError`]: why an array could not be built or computed.

use flotilla_local::TaskError;

/// Why an array could not be built or computed.
///
/// Every mistake in how an array is described — a chunking that does not
/// fit the shape, arrays of different shapes combined, an axis or a slice
/// that does not exist — is found when the operation is called, before any
/// task is scheduled, and names the axis and the sizes. A panic in a user
/// closure is caught by the engine when the array is computed and comes
/// back as [`ArrayError::Task`], naming the block's task (its key ends with
/// the block's row-major number in the grid of blocks, e.g.
/// `random|map|sum[4]`) and, after the panic's message, the block's
/// coordinates in that grid (`in block [1,0]`).
///
/// ```
/// use flotilla_array::{Array, ArrayError};
///
/// let err = Array::<f64>::zeros(&[10, 10], [4, 0]).unwrap_err();
/// assert_eq!(err, ArrayError::ZeroChunk { axis: 1 });
/// assert_eq!(err.to_string(), "chunk size 0 along axis 1 (every chunk must hold at least one element)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArrayError {
    /// The chunking names a different number of axes than the shape has.
    #[error("the chunks are given for {found} axes, but the array has {ndim}")]
    ChunkRank {
        /// The number of axes of the array.
        ndim: usize,
        /// The number of axes the chunking describes.
        found: usize,
    },
    /// A chunk of size 0 along an axis that is not empty.
    #[error("chunk size 0 along axis {axis} (every chunk must hold at least one element)")]
    ZeroChunk {
        /// The axis.
        axis: usize,
    },
    /// Explicit chunk sizes of an axis do not add up to its length.
    #[error("the chunks of axis {axis} add up to {sum}, but the axis has length {len}")]
    ChunkSum {
        /// The axis.
        axis: usize,
        /// What the chunk sizes add up to.
        sum: usize,
        /// The axis's length.
        len: usize,
    },
    /// The shape holds more elements than memory can index.
    #[error("an array of shape {shape:?} has more elements than usize can count")]
    TooLarge {
        /// The shape asked for.
        shape: Vec<usize>,
    },
    /// Two arrays of different shapes were combined element by element.
    #[error("cannot {op} arrays of different shapes: {left:?} and {right:?}")]
    ShapeMismatch {
        /// The operation (`"add"`, `"zip_with"`, …).
        op: &'static str,
        /// The shape of the left operand.
        left: Vec<usize>,
        /// The shape of the right operand.
        right: Vec<usize>,
    },
    /// A reduction along an axis the array does not have.
    #[error("cannot {op} along axis {axis}: the array has {ndim} axes")]
    AxisOutOfRange {
        /// The reduction (`"sum"`, `"argmax"`, …).
        op: &'static str,
        /// The axis asked for.
        axis: usize,
        /// The number of axes of the array.
        ndim: usize,
    },
    /// A reduction that has no value over no elements (`min`, `max`,
    /// `argmin`, `argmax`) of an array without elements.
    #[error("cannot compute the {op} of an empty array")]
    EmptyReduction {
        /// The reduction.
        op: &'static str,
    },
    /// A reduction that has no value over no elements along an axis of
    /// length 0.
    #[error("cannot compute the {op} along axis {axis}, which has length 0")]
    EmptyAxis {
        /// The reduction.
        op: &'static str,
        /// The axis.
        axis: usize,
    },
    /// A slice with more ranges than the array has axes.
    #[error("a slice with {ranges} ranges of an array with {ndim} axes")]
    SliceRank {
        /// The number of ranges given.
        ranges: usize,
        /// The number of axes of the array.
        ndim: usize,
    },
    /// A slice range that is reversed or reaches past the end of its axis.
    #[error("slice {start}..{end} of axis {axis} is out of bounds (the axis has length {len})")]
    SliceOutOfBounds {
        /// The axis.
        axis: usize,
        /// The range's start.
        start: usize,
        /// The range's end.
        end: usize,
        /// The axis's length.
        len: usize,
    },
    /// A result asked for with a number of axes the array does not have
    /// ([`Array::compute_2d`](crate::Array::compute_2d) of a 3-D array).
    #[error("the array has {ndim} axes, not the {expected} asked for")]
    Dimensionality {
        /// The number of axes asked for.
        expected: usize,
        /// The number of axes of the array.
        ndim: usize,
    },
    /// A task failed while the array was computed: a panic in a user
    /// closure (the message names the block's task and the panic's
    /// message), or a task that did not run because one it depends on
    /// failed (naming that one).
    #[error(transparent)]
    Task(#[from] TaskError),
    /// An array that runs in-process only was asked for its portable form
    /// (to run on a cluster): a Rust closure (`map`, `zip_with`), which a
    /// worker process cannot receive, or an operation with no cluster form
    /// (`from_ndarray`, operations between two arrays, rechunks, slices,
    /// `persist`, reductions along an axis).
    #[error("{operation} runs in-process only: it has no form that a cluster worker can run")]
    LocalOnly {
        /// The operation, e.g. `"map"`.
        operation: String,
    },
    /// A checkpoint folder could not be opened (the message names it).
    #[error("{0}")]
    Checkpoint(String),
    /// An invariant of the array's own task graph was broken (a bug in
    /// flotilla).
    #[error("internal error in an array's task graph: {0}")]
    Internal(String),
}
