//! [`Array`]: the type, what it tells about itself, and its settings.

use std::fmt;
use std::sync::Arc;

use crate::block::Block;
use crate::chunks::Grid;
use crate::Element;

/// How many partial results a combining task of a tree reduction takes by
/// default (dask's `split_every`).
///
/// ```
/// assert_eq!(flotilla_array::DEFAULT_SPLIT_EVERY, 8);
/// ```
pub const DEFAULT_SPLIT_EVERY: usize = 8;

/// A lazy, chunked n-dimensional array of `f64` or `i64` — flotilla's
/// `dask.array`.
///
/// An array is a shape, a chunking (see [`Chunks`](crate::Chunks)) and one
/// lazy block per chunk; operations build new arrays, and nothing runs until
/// something is computed: the array ([`compute`](Array::compute)) or a
/// reduction ([`Scalar::compute`](crate::Scalar::compute)). Element-wise
/// operations are fused into the blocks, reductions run as trees; see the
/// [crate docs](crate) for the design.
///
/// An `Array` is cheap to clone (its blocks are shared) and can be computed
/// any number of times; each computation runs its tasks anew.
///
/// ```
/// use flotilla_array::Array;
///
/// let x = Array::random(&[1000, 1000], [250, 250], 7)?;   // 16 blocks, nothing run yet
/// let y = (&x * 2.0 - 1.0).abs();                         // still nothing run
/// let mean = y.mean().compute()?;                         // one task per block, then a tree
/// assert!((mean - 0.5).abs() < 0.01);
/// # Ok::<(), flotilla_array::ArrayError>(())
/// ```
#[must_use = "an array is lazy: nothing runs until it is computed"]
pub struct Array<T> {
    pub(crate) grid: Arc<Grid>,
    /// One block per chunk, in row-major order of the grid of blocks.
    pub(crate) blocks: Arc<[Block<T>]>,
    /// The operations that made the array, for task keys: `random|map|add`.
    pub(crate) ops: Arc<str>,
    /// Fan-in of tree reductions.
    pub(crate) split_every: usize,
    /// Its lineage as data, for cluster workers, or the operation that has
    /// no portable form (see [`portable`](crate::portable)).
    pub(crate) portable: crate::portable::Portable,
}

impl<T> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            grid: Arc::clone(&self.grid),
            blocks: Arc::clone(&self.blocks),
            ops: Arc::clone(&self.ops),
            split_every: self.split_every,
            portable: self.portable.clone(),
        }
    }
}

impl<T: Element> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("element", &T::NAME)
            .field("shape", &self.grid.shape())
            .field("chunks", &self.grid.chunks())
            .field("operations", &self.ops)
            .finish()
    }
}

impl<T: Element> Array<T> {
    /// An array over `blocks`, laid out by `grid`.
    pub(crate) fn from_blocks(
        grid: Grid,
        blocks: Vec<Block<T>>,
        ops: impl Into<Arc<str>>,
        split_every: usize,
    ) -> Array<T> {
        let ops: Arc<str> = ops.into();
        // Made by an operation without a portable form unless the
        // operation sets one.
        let last: Arc<str> = ops.rsplit('|').next().unwrap_or(&ops).into();
        Array {
            grid: Arc::new(grid),
            blocks: blocks.into(),
            ops,
            split_every,
            portable: Err(last),
        }
    }

    /// The operations that made this array, then `op`, for task keys.
    pub(crate) fn ops_then(&self, op: &str) -> String {
        if self.ops.is_empty() {
            op.to_string()
        } else {
            format!("{}|{op}", self.ops)
        }
    }

    /// The length of each axis.
    ///
    /// ```
    /// let a = flotilla_array::Array::<f64>::zeros(&[3, 4], [2, 2]).unwrap();
    /// assert_eq!(a.shape(), [3, 4]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        self.grid.shape()
    }

    /// The number of axes.
    ///
    /// ```
    /// assert_eq!(flotilla_array::Array::<i64>::arange(10, 5).unwrap().ndim(), 1);
    /// ```
    pub fn ndim(&self) -> usize {
        self.grid.ndim()
    }

    /// The number of elements.
    ///
    /// ```
    /// assert_eq!(flotilla_array::Array::<f64>::ones(&[3, 4], [2, 2]).unwrap().len(), 12);
    /// ```
    pub fn len(&self) -> usize {
        self.grid.shape().iter().product()
    }

    /// Whether the array has no elements (an axis of length 0).
    ///
    /// ```
    /// assert!(flotilla_array::Array::<f64>::zeros(&[3, 0], [2, 2]).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chunk sizes of every axis, as dask's `chunks`.
    ///
    /// ```
    /// let a = flotilla_array::Array::<f64>::zeros(&[5, 4], [2, 4]).unwrap();
    /// assert_eq!(a.chunks(), [vec![2, 2, 1], vec![4]]);
    /// ```
    pub fn chunks(&self) -> &[Vec<usize>] {
        self.grid.chunks()
    }

    /// The number of blocks (chunks).
    ///
    /// ```
    /// let a = flotilla_array::Array::random(&[10_000, 10_000], [1000, 1000], 0).unwrap();
    /// assert_eq!(a.num_blocks(), 100);
    /// ```
    pub fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The same array, whose tree reductions combine `fan_in` partial
    /// results per task (at least 2; default [`DEFAULT_SPLIT_EVERY`]).
    /// Arrays derived from it keep the setting.
    ///
    /// ```
    /// use flotilla_array::Array;
    ///
    /// let a = Array::<f64>::ones(&[8, 8], [2, 2])?;          // 16 blocks
    /// // 16 partial sums, 8 + 4 + 2 combining tasks, and a final one:
    /// assert_eq!(a.clone().split_every(2).sum().task_count(), 31);
    /// // 16 partial sums, 2 combining tasks, and a final one:
    /// assert_eq!(a.sum().task_count(), 19);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn split_every(mut self, fan_in: usize) -> Array<T> {
        self.split_every = fan_in.max(2);
        self
    }
}
