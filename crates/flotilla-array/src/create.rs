//! Making arrays: generated ones (`random`, `zeros`, `ones`, `full`,
//! `arange`), whose blocks compute their elements from their place alone,
//! and `from_ndarray`, whose blocks are stored values.

use crate::portable::ArrayPlan;
use std::sync::Arc;

use flotilla_local::Delayed;
use ndarray::{ArrayBase, Data, Dimension, IxDyn, Slice};

use crate::array::DEFAULT_SPLIT_EVERY;
use crate::block::{Block, Fill, OpKeys};
use crate::chunks::{Grid, Place};
use crate::random::fill_uniform;
use crate::{Array, ArrayError, Chunks, Element};

impl<T: Element> Array<T> {
    /// An array whose blocks are made by `make(place)`: no inputs, one
    /// generator closure per block.
    fn generated(
        shape: &[usize],
        chunks: Chunks,
        name: &str,
        make: impl Fn(Place) -> Fill<T>,
    ) -> Result<Array<T>, ArrayError> {
        let grid = Grid::new(shape, &chunks)?;
        let blocks = (0..grid.num_blocks())
            .map(|i| Block::generated(make(grid.place(&grid.coords(i)))))
            .collect();
        Ok(Array::from_blocks(grid, blocks, name, DEFAULT_SPLIT_EVERY))
    }

    /// An array of `shape` in `chunks` whose every element is `value`.
    ///
    /// # Errors
    ///
    /// A chunking that does not fit the shape ([`ArrayError::ChunkRank`],
    /// [`ArrayError::ZeroChunk`], [`ArrayError::ChunkSum`]).
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::full(&[2, 3], [1, 2], 7_i64)?;
    /// assert_eq!(a.compute()?, ndarray::ArrayD::from_elem(vec![2, 3], 7));
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn full(
        shape: &[usize],
        chunks: impl Into<Chunks>,
        value: T,
    ) -> Result<Array<T>, ArrayError> {
        let a = Array::generated(shape, chunks.into(), "full", |_| {
            Arc::new(move |_, _, out: &mut [T]| {
                out.fill(value);
                Ok(())
            })
        })?;
        let plan = ArrayPlan::Full {
            shape: shape.to_vec(),
            chunks: a.chunks().to_vec(),
            value: value.to_number(),
        };
        Ok(a.with_plan(Ok(Arc::new(plan))))
    }

    /// An array of zeros.
    ///
    /// # Errors
    ///
    /// As [`Array::full`].
    ///
    /// ```
    /// use flotilla_array::Array;
    /// assert_eq!(Array::<f64>::zeros(&[4, 4], [2, 2])?.sum().compute()?, 0.0);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn zeros(shape: &[usize], chunks: impl Into<Chunks>) -> Result<Array<T>, ArrayError> {
        Array::full(shape, chunks, T::ZERO)
    }

    /// An array of ones.
    ///
    /// # Errors
    ///
    /// As [`Array::full`].
    ///
    /// ```
    /// use flotilla_array::Array;
    /// assert_eq!(Array::<i64>::ones(&[4, 5], [3, 3])?.sum().compute()?, 20);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn ones(shape: &[usize], chunks: impl Into<Chunks>) -> Result<Array<T>, ArrayError> {
        Array::full(shape, chunks, T::ONE)
    }

    /// The 1-D array `0, 1, …, n - 1`, in chunks of `chunks` (a size, or
    /// explicit sizes as `vec![vec![…]]`).
    ///
    /// # Errors
    ///
    /// As [`Array::full`].
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<i64>::arange(1_000_000, 100_000)?;
    /// assert_eq!(a.sum().compute()?, 999_999 * 1_000_000 / 2);
    /// assert_eq!(a.max().compute()?, 999_999);
    /// assert_eq!(Array::<f64>::arange(5, 2)?.compute_vec()?, [0.0, 1.0, 2.0, 3.0, 4.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn arange(n: usize, chunks: impl Into<Chunks>) -> Result<Array<T>, ArrayError> {
        let a = Array::generated(&[n], chunks.into(), "arange", |place| {
            let first = place.origin.first().copied().unwrap_or(0);
            Arc::new(move |_, offset, out: &mut [T]| {
                let start = first + offset;
                for (i, x) in out.iter_mut().enumerate() {
                    *x = T::from_index(start + i);
                }
                Ok(())
            })
        })?;
        let plan = ArrayPlan::Arange {
            n,
            chunks: a.chunks().to_vec(),
            zero: T::ZERO.to_number(),
        };
        Ok(a.with_plan(Ok(Arc::new(plan))))
    }

    /// An array holding a copy of `data`, cut into `chunks`. Each block is
    /// a stored value in the task graph.
    ///
    /// # Errors
    ///
    /// As [`Array::full`].
    ///
    /// ```
    /// use flotilla_array::Array;
    /// use ndarray::array;
    ///
    /// let data = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    /// let a = Array::from_ndarray(&data, [1, 2])?;
    /// assert_eq!(a.num_blocks(), 4);
    /// assert_eq!(a.sum().compute()?, 21.0);
    /// assert_eq!(a.compute()?, data.into_dyn());
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn from_ndarray<S, D>(
        data: &ArrayBase<S, D>,
        chunks: impl Into<Chunks>,
    ) -> Result<Array<T>, ArrayError>
    where
        S: Data<Elem = T>,
        D: Dimension,
    {
        let grid = Grid::new(data.shape(), &chunks.into())?;
        let keys = OpKeys::new("", "from_ndarray");
        let blocks = (0..grid.num_blocks())
            .map(|i| {
                let coords = grid.coords(i);
                let origin = grid.block_origin(&coords);
                let shape = grid.block_shape(&coords);
                let piece = data.slice_each_axis(|axis| {
                    let start = origin[axis.axis.index()];
                    Slice::from(start..start + shape[axis.axis.index()])
                });
                let owned = piece
                    .as_standard_layout()
                    .into_owned()
                    .into_dimensionality::<IxDyn>()
                    .map_err(|e| ArrayError::Internal(e.to_string()))?;
                let node = Delayed::value(Ok(T::into_block(owned))).named_op(keys.block(i));
                Ok(Block::stored(node))
            })
            .collect::<Result<Vec<_>, ArrayError>>()?;
        Ok(Array::from_blocks(
            grid,
            blocks,
            "from_ndarray",
            DEFAULT_SPLIT_EVERY,
        ))
    }
}

impl Array<f64> {
    /// An array of `shape` in `chunks` of floats drawn uniformly from
    /// `[0, 1)`, seeded.
    ///
    /// The element at flat (row-major) index `i` of the array is a function
    /// of `seed` and `i` alone — the `(i + 1)`-th output of the SplitMix64
    /// generator started at `seed`, whose top 53 bits are scaled into
    /// `[0, 1)` (see [`uniform_at`](crate::uniform_at)). So the same seed
    /// gives the same array whatever the chunking and the number of threads,
    /// and each block makes its elements on its own, with no state passed
    /// between blocks. Not a cryptographic generator.
    ///
    /// # Errors
    ///
    /// As [`Array::full`].
    ///
    /// ```
    /// use flotilla_array::Array;
    ///
    /// // Scenario 7: 10000×10000 in 1000×1000 chunks.
    /// let big = Array::random(&[10_000, 10_000], [1000, 1000], 42)?;
    /// assert_eq!(big.num_blocks(), 100);
    ///
    /// // The chunking does not change the values.
    /// let a = Array::random(&[30, 40], [7, 9], 1)?.compute()?;
    /// let b = Array::random(&[30, 40], [30, 40], 1)?.compute()?;
    /// assert_eq!(a, b);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn random(
        shape: &[usize],
        chunks: impl Into<Chunks>,
        seed: u64,
    ) -> Result<Array<f64>, ArrayError> {
        let a = Array::generated(shape, chunks.into(), "random", |place| {
            Arc::new(move |_, offset, out: &mut [f64]| {
                fill_uniform(seed, place.global_index(offset) as u64, out);
                Ok(())
            })
        })?;
        let plan = ArrayPlan::Random {
            shape: shape.to_vec(),
            chunks: a.chunks().to_vec(),
            seed,
        };
        Ok(a.with_plan(Ok(Arc::new(plan))))
    }
}
