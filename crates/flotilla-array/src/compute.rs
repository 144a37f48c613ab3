//! Computing an array: into an `ndarray` array, or into stored blocks
//! (`persist`).
//!
//! Each block is materialized by one task (its stored value, for a stored
//! block), then one task copies every block into its place in the result —
//! the result has to exist in one piece, so this last step, unlike a
//! reduction, gathers every block.

use std::sync::Arc;

use flotilla_local::{ComputeOptions, Delayed};
use ndarray::{Array2, ArrayD, Ix2, Slice};

use crate::block::{unpack, Block, BlockValue, OpKeys};
use crate::{Array, ArrayError, Element};

impl<T: Element> Array<T> {
    /// The graph node of the whole array, assembled from its blocks.
    fn assembled(&self) -> Delayed<Result<ArrayD<T>, ArrayError>> {
        let keys = OpKeys::new(&self.ops, "compute");
        let nodes: Vec<_> = (0..self.blocks.len())
            .map(|i| {
                let coords = self.grid.coords(i);
                let shape = self.grid.block_shape(&coords);
                self.blocks[i].materialize(coords, shape, keys.block(i))
            })
            .collect();
        let grid = Arc::clone(&self.grid);
        Delayed::gather(&nodes, move |values: &[&BlockValue]| {
            let blocks = unpack(values)?;
            let mut out = ArrayD::from_elem(grid.shape(), T::ZERO);
            for (i, block) in blocks.iter().enumerate() {
                let coords = grid.coords(i);
                let origin = grid.block_origin(&coords);
                let shape = grid.block_shape(&coords);
                let data = T::from_block(block).ok_or_else(|| {
                    ArrayError::Internal(format!("a block is not a block of {}", T::NAME))
                })?;
                let mut place = out.slice_each_axis_mut(|ax| {
                    let a = ax.axis.index();
                    Slice::from(origin[a]..origin[a] + shape[a])
                });
                if place.shape() != data.shape() {
                    return Err(ArrayError::Internal(format!(
                        "block {coords:?} has shape {:?}, its chunk {:?}",
                        data.shape(),
                        place.shape()
                    )));
                }
                place.assign(data);
            }
            Ok(out)
        })
        .named_op(keys.single())
    }

    /// Computes the array on the default pool (with a progress bar on a
    /// terminal for runs over a second).
    ///
    /// # Errors
    ///
    /// [`ArrayError::Task`] for a panic in a user closure, naming the
    /// block whose task failed.
    ///
    /// ```
    /// use flotilla_array::{Array, ArrayError};
    ///
    /// let a = Array::<i64>::arange(6, 4)?.map(|x| x * 10);
    /// assert_eq!(a.compute_vec()?, [0, 10, 20, 30, 40, 50]);
    ///
    /// let bad = Array::<i64>::arange(6, 4)?.map(|x| if x == 5 { panic!("five") } else { x });
    /// let err = bad.compute().unwrap_err();
    /// assert!(matches!(err, ArrayError::Task(_)));
    /// assert!(err.to_string().contains("[1]") && err.to_string().contains("five"));
    /// # Ok::<(), ArrayError>(())
    /// ```
    pub fn compute(&self) -> Result<ArrayD<T>, ArrayError> {
        self.compute_with(&ComputeOptions::new().label("array"))
    }

    /// As [`Array::compute`], with explicit options (pool, placement,
    /// progress).
    ///
    /// # Errors
    ///
    /// As [`Array::compute`].
    ///
    /// ```
    /// use flotilla_array::Array;
    /// use flotilla_local::{ComputeOptions, CpuPool};
    ///
    /// let pool = CpuPool::with_threads(1).unwrap();
    /// let a = Array::<f64>::ones(&[2, 2], [1, 1])?;
    /// assert_eq!(a.compute_with(&ComputeOptions::new().pool(&pool))?.sum(), 4.0);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn compute_with(&self, options: &ComputeOptions) -> Result<ArrayD<T>, ArrayError> {
        let (value, _) = self.assembled().compute_shared_with(options)?;
        match Arc::try_unwrap(value) {
            Ok(result) => result,
            Err(shared) => (*shared).clone(),
        }
    }

    /// Computes the array into a vector of its elements in row-major (C)
    /// order, as NumPy's `ravel`.
    ///
    /// # Errors
    ///
    /// As [`Array::compute`].
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<i64>::arange(6, 4)?.rechunk(vec![vec![1, 5]])?;
    /// assert_eq!(a.compute_vec()?, [0, 1, 2, 3, 4, 5]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn compute_vec(&self) -> Result<Vec<T>, ArrayError> {
        let (data, offset) = self.compute()?.into_raw_vec_and_offset();
        match offset {
            Some(0) | None => Ok(data),
            Some(_) => Err(ArrayError::Internal(
                "a computed array does not start its buffer".into(),
            )),
        }
    }

    /// Computes a 2-D array into an [`Array2`].
    ///
    /// # Errors
    ///
    /// [`ArrayError::Dimensionality`] (before running anything) if the
    /// array is not 2-D; otherwise as [`Array::compute`].
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<f64>::random(&[3, 2], [2, 2], 0)?.compute_2d()?;
    /// assert_eq!(a.dim(), (3, 2));
    /// assert!(Array::<f64>::zeros(&[3], 1)?.compute_2d().is_err());
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn compute_2d(&self) -> Result<Array2<T>, ArrayError> {
        if self.ndim() != 2 {
            return Err(ArrayError::Dimensionality {
                expected: 2,
                ndim: self.ndim(),
            });
        }
        self.compute()?
            .into_dimensionality::<Ix2>()
            .map_err(|e| ArrayError::Internal(e.to_string()))
    }

    /// Computes the blocks now and returns the same array over the
    /// computed blocks, so that later operations (several reductions of
    /// one array, an array combined with a slice of itself) do not run its
    /// fused chain again — dask's `persist`.
    ///
    /// # Errors
    ///
    /// As [`Array::compute`].
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use flotilla_array::Array;
    ///
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let seen = Arc::clone(&calls);
    /// let a = Array::<i64>::arange(100, 10)?
    ///     .map(move |x| { seen.fetch_add(1, Ordering::Relaxed); x * 2 })
    ///     .persist()?;
    /// assert_eq!(a.sum().compute()?, 9900);
    /// assert_eq!(a.max().compute()?, 198);
    /// assert_eq!(calls.load(Ordering::Relaxed), 100);   // the map ran once per element
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn persist(&self) -> Result<Array<T>, ArrayError> {
        self.persist_with(&ComputeOptions::new().label("array"))
    }

    /// As [`Array::persist`], with explicit options (pool, placement,
    /// progress).
    ///
    /// # Errors
    ///
    /// As [`Array::compute`].
    ///
    /// ```
    /// use flotilla_array::Array;
    /// use flotilla_local::{ComputeOptions, CpuPool};
    ///
    /// let pool = CpuPool::with_threads(2).unwrap();
    /// let a = Array::random(&[100, 100], [50, 50], 1)?.persist_with(&ComputeOptions::new().pool(&pool))?;
    /// assert_eq!(a.sum().task_count(), 4 + 4 + 1);   // 4 stored blocks, 4 partials, 1 final
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn persist_with(&self, options: &ComputeOptions) -> Result<Array<T>, ArrayError> {
        let keys = OpKeys::new(&self.ops, "persist");
        let nodes: Vec<_> = (0..self.blocks.len())
            .map(|i| {
                let coords = self.grid.coords(i);
                let shape = self.grid.block_shape(&coords);
                self.blocks[i].materialize(coords, shape, keys.block(i))
            })
            .collect();
        let all = Delayed::gather(&nodes, |values: &[&BlockValue]| {
            values
                .iter()
                .map(|v| (*v).clone())
                .collect::<Result<Vec<_>, _>>()
        })
        .named_op(keys.single());
        let (computed, _) = all.compute_shared_with(options)?;
        let computed = match Arc::try_unwrap(computed) {
            Ok(result) => result?,
            Err(shared) => (*shared).clone()?,
        };
        let blocks = computed
            .into_iter()
            .enumerate()
            .map(|(i, block)| {
                let node = Delayed::value(Ok(block)).named_op(keys.block(i));
                Block::stored(node)
            })
            .collect();
        Ok(Array::from_blocks(
            (*self.grid).clone(),
            blocks,
            self.ops_then("persist"),
            self.split_every,
        ))
    }

    /// The number of tasks computing the array would run: one per block
    /// (none for a stored block) and one that assembles the result.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<f64>::ones(&[4, 4], [2, 2])?;
    /// assert_eq!((&a + 1.0).task_count(), 4 + 1);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn task_count(&self) -> usize {
        self.assembled().task_count()
    }

    /// The task graph of computing the array, in Graphviz DOT format.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let dot = Array::<f64>::ones(&[4], 2)?.sqrt().to_dot();
    /// assert!(dot.contains("\"full|sqrt|compute[1]\" -> \"full|sqrt|compute-all[0]\""));
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn to_dot(&self) -> String {
        self.assembled().to_dot()
    }
}
