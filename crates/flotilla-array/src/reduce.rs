//! Reductions as trees of tasks, over the whole array or along an axis.
//!
//! One task per block makes the block's elements, run by run, through
//! every fused operation, and folds each run into a partial result (see
//! [`Reducer`]); the block is never materialized. Combining tasks then
//! merge the partials `split_every` at a time, level after level, and the
//! last task merges what is left and finishes the value:
//!
//! ```text
//!  final:              merge + finish
//!                       ╱          ╲
//!  level 1:   merge(p0..p7)   merge(p8..p12)
//!  partials:  p0 … p7         p8 … p12         one task per block
//! ```
//!
//! Along an axis, a block's partial is an array of partials — the block
//! with the axis folded away — and each line of blocks along the axis is
//! merged as its own tree, whose root is a block of the result.

use std::sync::Arc;

use flotilla_local::Delayed;
use ndarray::{ArrayD, IxDyn};

use crate::block::{in_block, runs, unpack, Block, BlockValue, OpKeys, RUN};
use crate::chunks::Place;
use crate::element::sealed::Sealed as _;
use crate::portable::ArrayReduction;
use crate::reducers::{ArgExtreme, Extreme, Mean, Reducer, Sum, Variance};
use crate::{Array, ArrayError, Element, Scalar};

/// A graph node holding a partial result (or the first error).
type PartialNode<P> = Delayed<Result<P, ArrayError>>;

/// Merges a later partial into an earlier one.
type Merge<P> = Arc<dyn Fn(&mut P, &P) + Send + Sync>;

/// Turns the merged partial into the value asked for.
type Finish<P, O> = Arc<dyn Fn(&P) -> Result<O, ArrayError> + Send + Sync>;

/// Merges `partials` in order.
fn merge_all<P: Clone>(
    partials: &[&Result<P, ArrayError>],
    merge: &dyn Fn(&mut P, &P),
) -> Result<P, ArrayError> {
    let (first, rest) = partials
        .split_first()
        .ok_or_else(|| ArrayError::Internal("a combining task had no input".into()))?;
    let mut acc = first.as_ref().map_err(Clone::clone)?.clone();
    for p in rest {
        merge(&mut acc, p.as_ref().map_err(Clone::clone)?);
    }
    Ok(acc)
}

// Note: the other collections build their trees with
// `flotilla_data::tree::tree`, which moves each handed-over partial into
// the one task that combines it and ends at a single root. This tree clones partials it reads by
// reference, counts its keys across calls, and ends in a task that merges
// the last `fan_in` and finishes. Moving the Array onto the shared tree
// would change its task graph, so it is left as it is.
/// The tree over `leaves` (in order): groups of `fan_in` become one
/// combining task each, level after level, until at most `fan_in` are left,
/// which the final task merges and finishes. `None` for no leaves.
fn tree<P, O>(
    leaves: Vec<PartialNode<P>>,
    fan_in: usize,
    keys: &OpKeys,
    next_key: &mut u64,
    merge: Merge<P>,
    finish: Finish<P, O>,
) -> Option<Delayed<Result<O, ArrayError>>>
where
    P: Clone + Send + Sync + 'static,
    O: Send + Sync + 'static,
{
    if leaves.is_empty() {
        return None;
    }
    let fan_in = fan_in.max(2);
    let mut level = leaves;
    let mut key = || {
        *next_key += 1;
        keys.combine(*next_key - 1)
    };
    while level.len() > fan_in {
        let mut up = Vec::with_capacity(level.len().div_ceil(fan_in));
        for group in level.chunks(fan_in) {
            if let [single] = group {
                up.push(single.clone());
                continue;
            }
            let merge = Arc::clone(&merge);
            up.push(
                Delayed::gather(group, move |ps: &[&Result<P, ArrayError>]| {
                    merge_all(ps, &*merge)
                })
                .named_op(key()),
            );
        }
        level = up;
    }
    Some(
        Delayed::gather(&level, move |ps: &[&Result<P, ArrayError>]| {
            finish(&merge_all(ps, &*merge)?)
        })
        .named_op(key()),
    )
}

impl<T: Element> Array<T> {
    /// The reduction `r` over every element, its value mapped by `post`.
    fn reduce_all<R, A>(&self, r: R, post: fn(R::Output) -> A) -> Scalar<A>
    where
        R: Reducer<T>,
        A: Clone + Send + Sync + 'static,
    {
        let name = r.name();
        if r.needs_elements() && self.is_empty() {
            return Scalar::failed(ArrayError::EmptyReduction { op: name });
        }
        let r = Arc::new(r);
        let keys = OpKeys::new(&self.ops, name);
        let leaves = (0..self.blocks.len())
            .map(|i| {
                let coords = self.grid.coords(i);
                let place = self.grid.place(&coords);
                let block = &self.blocks[i];
                let fill = Arc::clone(&block.fill);
                let r = Arc::clone(&r);
                Delayed::gather(&block.inputs, move |values: &[&BlockValue]| {
                    in_block(&coords, || {
                        let inputs = unpack(values)?;
                        let mut acc = r.identity();
                        let mut buf = vec![T::ZERO; RUN.min(place.len())];
                        for (offset, n) in runs(&place.shape) {
                            let run = &mut buf[..n];
                            fill(&inputs, offset, run)?;
                            r.fold_run(&mut acc, run, place.global_index(offset));
                        }
                        Ok(acc)
                    })
                })
                .named_op(keys.block(i))
            })
            .collect();
        let finisher = Arc::clone(&r);
        let finish = Arc::new(move |p: &R::Partial| {
            finisher
                .finish(p)
                .map(post)
                .ok_or(ArrayError::EmptyReduction { op: name })
        });
        let merger = Arc::clone(&r);
        let merge = Arc::new(move |a: &mut R::Partial, b: &R::Partial| merger.merge(a, b));
        let mut next_key = 0;
        match tree(
            leaves,
            self.split_every,
            &keys,
            &mut next_key,
            merge,
            finish,
        ) {
            Some(root) => Scalar::new(root),
            // No blocks: the value of no elements.
            None => {
                let value = r.finish(&r.identity()).map(post);
                Scalar::new(
                    Delayed::from_fn(move || {
                        value.clone().ok_or(ArrayError::EmptyReduction { op: name })
                    })
                    .named_op(keys.single()),
                )
            }
        }
    }

    /// The reduction `r` along `axis`: an array with that axis removed.
    fn reduce_axis<R: Reducer<T>>(
        &self,
        axis: usize,
        r: R,
    ) -> Result<Array<R::Output>, ArrayError> {
        let name = r.name();
        let ndim = self.ndim();
        if axis >= ndim {
            return Err(ArrayError::AxisOutOfRange {
                op: name,
                axis,
                ndim,
            });
        }
        if r.needs_elements() && self.shape()[axis] == 0 {
            return Err(ArrayError::EmptyAxis { op: name, axis });
        }
        let r = Arc::new(r);
        let keys = OpKeys::new(&self.ops, &format!("{name}_axis{axis}"));
        let out_grid = self.grid.without_axis(axis);
        let along = self.grid.counts()[axis];
        let merger = Arc::clone(&r);
        let merge: Merge<Vec<R::Partial>> = Arc::new(move |acc, later| {
            for (a, b) in acc.iter_mut().zip(later) {
                merger.merge(a, b);
            }
        });
        let mut next_key = 0;
        let mut blocks = Vec::with_capacity(out_grid.num_blocks());
        for j in 0..out_grid.num_blocks() {
            let out_coords = out_grid.coords(j);
            let out_shape = out_grid.block_shape(&out_coords);
            let leaves = (0..along)
                .map(|k| {
                    let mut coords = out_coords.clone();
                    coords.insert(axis, k);
                    self.axis_partial(&coords, axis, Arc::clone(&r), &keys)
                })
                .collect();
            let finisher = Arc::clone(&r);
            let shape = out_shape.clone();
            let finish = Arc::new(move |parts: &Vec<R::Partial>| {
                let values = parts
                    .iter()
                    .map(|p| finisher.finish(p))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(ArrayError::EmptyAxis { op: name, axis })?;
                let block = ArrayD::from_shape_vec(IxDyn(&shape), values)
                    .map_err(|e| ArrayError::Internal(e.to_string()))?;
                Ok(R::Output::into_block(block))
            });
            let node = match tree(
                leaves,
                self.split_every,
                &keys,
                &mut next_key,
                Arc::clone(&merge),
                finish,
            ) {
                Some(root) => root,
                // An empty axis: every element is the value of no elements.
                None => {
                    let r = Arc::clone(&r);
                    Delayed::from_fn(move || {
                        let value = r
                            .finish(&r.identity())
                            .ok_or(ArrayError::EmptyAxis { op: name, axis })?;
                        let len = out_shape.iter().product();
                        ArrayD::from_shape_vec(IxDyn(&out_shape), vec![value; len])
                            .map(R::Output::into_block)
                            .map_err(|e| ArrayError::Internal(e.to_string()))
                    })
                    .named_op(keys.block(j))
                }
            };
            blocks.push(Block::stored(node));
        }
        Ok(Array::from_blocks(
            out_grid,
            blocks,
            self.ops_then(&format!("{name}_axis{axis}")),
            self.split_every,
        ))
    }

    /// The task folding block `coords` along `axis` into one partial per
    /// line of elements along the axis (row-major over the other axes).
    fn axis_partial<R: Reducer<T>>(
        &self,
        coords: &[usize],
        axis: usize,
        r: Arc<R>,
        keys: &OpKeys,
    ) -> PartialNode<Vec<R::Partial>> {
        let place: Place = self.grid.place(coords);
        let index = self.grid.index(coords);
        let block = &self.blocks[index];
        let at_coords = coords.to_vec();
        let fill = Arc::clone(&block.fill);
        let ndim = self.ndim();
        let last = ndim - 1;
        Delayed::gather(&block.inputs, move |values: &[&BlockValue]| {
            in_block(&at_coords, || {
                let inputs = unpack(values)?;
                let lines = place.len() / place.shape[axis].max(1);
                let mut parts = vec![r.identity(); lines];
                let mut buf = vec![T::ZERO; RUN.min(place.len())];
                let mut at = vec![0; ndim];
                let row_len = place.shape[last];
                for (offset, n) in runs(&place.shape) {
                    let run = &mut buf[..n];
                    fill(&inputs, offset, run)?;
                    if axis == last {
                        // A run lies along the axis: one partial, consecutive positions.
                        let line = offset / row_len;
                        r.fold_run(&mut parts[line], run, place.origin[axis] + offset % row_len);
                    } else {
                        // A run lies across the axis: one partial per element.
                        place.row_coords(offset, &mut at);
                        let first = (0..ndim)
                            .filter(|&a| a != axis)
                            .fold(0, |p, a| p * place.shape[a] + at[a]);
                        let position = place.origin[axis] + at[axis];
                        r.fold_across(&mut parts[first..first + n], run, position);
                    }
                }
                Ok(parts)
            })
        })
        .named_op(keys.block(index))
    }

    /// The sum of all elements (wrapping for `i64`, as NumPy); 0 for an
    /// empty array.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// assert_eq!(Array::<i64>::arange(101, 10)?.sum().compute()?, 5050);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn sum(&self) -> Scalar<T> {
        self.reduce_all(Sum, |x| x)
            .portable(&self.portable, ArrayReduction::Sum, T::from_number)
    }

    /// The sums along `axis`: an array with that axis removed.
    ///
    /// # Errors
    ///
    /// [`ArrayError::AxisOutOfRange`] for an axis the array does not have.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<i64>::arange(6, 2)?.map(|x| x + 1);   // [1, …, 6]
    /// let m = Array::from_ndarray(&a.compute()?.into_shape_with_order((2, 3)).unwrap(), [1, 2])?;
    /// assert_eq!(m.sum_axis(0)?.compute_vec()?, [5, 7, 9]);
    /// assert_eq!(m.sum_axis(1)?.compute_vec()?, [6, 15]);
    /// assert!(m.sum_axis(2).is_err());
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn sum_axis(&self, axis: usize) -> Result<Array<T>, ArrayError> {
        self.reduce_axis(axis, Sum)
    }

    /// The mean of all elements, as `f64`; NaN for an empty array (as
    /// NumPy).
    ///
    /// ```
    /// use flotilla_array::Array;
    /// assert_eq!(Array::<i64>::arange(10, 3)?.mean().compute()?, 4.5);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn mean(&self) -> Scalar<f64> {
        self.reduce_all(Mean, |x| x).portable(
            &self.portable,
            ArrayReduction::Mean,
            f64::from_number,
        )
    }

    /// The means along `axis`.
    ///
    /// # Errors
    ///
    /// [`ArrayError::AxisOutOfRange`] for an axis the array does not have.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<f64>::ones(&[4, 3], [3, 2])?;
    /// assert_eq!(a.mean_axis(0)?.compute_vec()?, [1.0, 1.0, 1.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn mean_axis(&self, axis: usize) -> Result<Array<f64>, ArrayError> {
        self.reduce_axis(axis, Mean)
    }

    /// The smallest element; NaN if any element is NaN (as NumPy).
    ///
    /// The [`Scalar`] fails with [`ArrayError::EmptyReduction`] for an
    /// empty array, before running anything.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// assert_eq!((Array::<i64>::arange(10, 3)? - 4).min().compute()?, -4);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn min(&self) -> Scalar<T> {
        self.reduce_all(Extreme { max: false }, |x| x).portable(
            &self.portable,
            ArrayReduction::Min,
            T::from_number,
        )
    }

    /// The smallest elements along `axis`.
    ///
    /// # Errors
    ///
    /// [`ArrayError::AxisOutOfRange`], or [`ArrayError::EmptyAxis`] if the
    /// axis has length 0.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::from_ndarray(&ndarray::array![[3, 1], [2, 5]], [1, 1])?;
    /// assert_eq!(a.min_axis(0)?.compute_vec()?, [2, 1]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn min_axis(&self, axis: usize) -> Result<Array<T>, ArrayError> {
        self.reduce_axis(axis, Extreme { max: false })
    }

    /// The largest element; NaN if any element is NaN (as NumPy).
    ///
    /// The [`Scalar`] fails with [`ArrayError::EmptyReduction`] for an
    /// empty array, before running anything.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// assert_eq!(Array::<i64>::arange(1_000_000, 100_000)?.max().compute()?, 999_999);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn max(&self) -> Scalar<T> {
        self.reduce_all(Extreme { max: true }, |x| x).portable(
            &self.portable,
            ArrayReduction::Max,
            T::from_number,
        )
    }

    /// The largest elements along `axis`.
    ///
    /// # Errors
    ///
    /// [`ArrayError::AxisOutOfRange`], or [`ArrayError::EmptyAxis`] if the
    /// axis has length 0.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::from_ndarray(&ndarray::array![[3, 1], [2, 5]], [1, 1])?;
    /// assert_eq!(a.max_axis(1)?.compute_vec()?, [3, 5]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn max_axis(&self, axis: usize) -> Result<Array<T>, ArrayError> {
        self.reduce_axis(axis, Extreme { max: true })
    }

    /// The population variance of all elements (`ddof = 0`, NumPy's
    /// default); see [`Array::var_ddof`].
    ///
    /// ```
    /// use flotilla_array::Array;
    /// assert_eq!(Array::<i64>::arange(4, 3)?.var().compute()?, 1.25);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn var(&self) -> Scalar<f64> {
        self.var_ddof(0)
    }

    /// The variance with `ddof` delta degrees of freedom: `M2 / (n - ddof)`
    /// where M2 is the sum of squared deviations from the mean (`ddof = 1`
    /// gives the sample variance). Partials are merged with Chan's formula,
    /// so no large sum of squares cancels. NaN for no elements; NaN or
    /// infinity when `ddof >= n`, as NumPy.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::<i64>::arange(4, 3)?;
    /// assert_eq!(a.var_ddof(1).compute()?, 5.0 / 3.0);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn var_ddof(&self, ddof: usize) -> Scalar<f64> {
        self.reduce_all(Variance { ddof, root: false }, |x| x)
    }

    /// The population variances along `axis` (`ddof = 0`).
    ///
    /// # Errors
    ///
    /// [`ArrayError::AxisOutOfRange`] for an axis the array does not have.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::from_ndarray(&ndarray::array![[1.0, 2.0], [3.0, 6.0]], [1, 1])?;
    /// assert_eq!(a.var_axis(0)?.compute_vec()?, [1.0, 4.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn var_axis(&self, axis: usize) -> Result<Array<f64>, ArrayError> {
        self.var_axis_ddof(axis, 0)
    }

    /// The variances along `axis` with `ddof` delta degrees of freedom.
    ///
    /// # Errors
    ///
    /// [`ArrayError::AxisOutOfRange`] for an axis the array does not have.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::from_ndarray(&ndarray::array![[1.0, 2.0], [3.0, 6.0]], [1, 1])?;
    /// assert_eq!(a.var_axis_ddof(1, 1)?.compute_vec()?, [0.5, 4.5]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn var_axis_ddof(&self, axis: usize, ddof: usize) -> Result<Array<f64>, ArrayError> {
        self.reduce_axis(axis, Variance { ddof, root: false })
    }

    /// The population standard deviation of all elements (`ddof = 0`).
    ///
    /// ```
    /// use flotilla_array::Array;
    /// assert_eq!(Array::<f64>::full(&[5], 2, 3.0)?.std().compute()?, 0.0);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn std(&self) -> Scalar<f64> {
        self.std_ddof(0)
    }

    /// The standard deviation with `ddof` delta degrees of freedom: the
    /// square root of [`Array::var_ddof`].
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::from_ndarray(&ndarray::array![2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], 3)?;
    /// assert_eq!(a.std_ddof(0).compute()?, 2.0);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn std_ddof(&self, ddof: usize) -> Scalar<f64> {
        self.reduce_all(Variance { ddof, root: true }, |x| x)
    }

    /// The population standard deviations along `axis` (`ddof = 0`).
    ///
    /// # Errors
    ///
    /// [`ArrayError::AxisOutOfRange`] for an axis the array does not have.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::from_ndarray(&ndarray::array![[1.0, 2.0], [3.0, 6.0]], [1, 1])?;
    /// assert_eq!(a.std_axis(0)?.compute_vec()?, [1.0, 2.0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn std_axis(&self, axis: usize) -> Result<Array<f64>, ArrayError> {
        self.std_axis_ddof(axis, 0)
    }

    /// The standard deviations along `axis` with `ddof` delta degrees of
    /// freedom.
    ///
    /// # Errors
    ///
    /// [`ArrayError::AxisOutOfRange`] for an axis the array does not have.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::from_ndarray(&ndarray::array![[1.0, 3.0], [3.0, 7.0]], [1, 1])?;
    /// assert_eq!(a.std_axis_ddof(1, 1)?.compute_vec()?, [2f64.sqrt(), 8f64.sqrt()]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn std_axis_ddof(&self, axis: usize, ddof: usize) -> Result<Array<f64>, ArrayError> {
        self.reduce_axis(axis, Variance { ddof, root: true })
    }

    /// The flat (row-major) index of the smallest element, the first one
    /// on ties and the first NaN if any, as NumPy's `argmin`.
    ///
    /// The [`Scalar`] fails with [`ArrayError::EmptyReduction`] for an
    /// empty array, before running anything.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::from_ndarray(&ndarray::array![[3, 1, 2], [1, 0, 0]], [1, 2])?;
    /// assert_eq!(a.argmin().compute()?, 4);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn argmin(&self) -> Scalar<usize> {
        self.reduce_all(ArgExtreme { max: false }, |i| i as usize)
    }

    /// The positions along `axis` of the smallest elements (as NumPy's
    /// `argmin(axis=…)`, `i64` as NumPy's `intp`).
    ///
    /// # Errors
    ///
    /// [`ArrayError::AxisOutOfRange`], or [`ArrayError::EmptyAxis`] if the
    /// axis has length 0.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::from_ndarray(&ndarray::array![[3, 1, 2], [1, 0, 2]], [1, 2])?;
    /// assert_eq!(a.argmin_axis(0)?.compute_vec()?, [1, 1, 0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn argmin_axis(&self, axis: usize) -> Result<Array<i64>, ArrayError> {
        self.reduce_axis(axis, ArgExtreme { max: false })
    }

    /// The flat (row-major) index of the largest element, the first one
    /// on ties and the first NaN if any, as NumPy's `argmax`.
    ///
    /// The [`Scalar`] fails with [`ArrayError::EmptyReduction`] for an
    /// empty array, before running anything.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::from_ndarray(&ndarray::array![[3, 1, 9], [9, 0, 0]], [1, 2])?;
    /// assert_eq!(a.argmax().compute()?, 2);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn argmax(&self) -> Scalar<usize> {
        self.reduce_all(ArgExtreme { max: true }, |i| i as usize)
    }

    /// The positions along `axis` of the largest elements.
    ///
    /// # Errors
    ///
    /// [`ArrayError::AxisOutOfRange`], or [`ArrayError::EmptyAxis`] if the
    /// axis has length 0.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let a = Array::from_ndarray(&ndarray::array![[3, 1, 9], [9, 0, 0]], [1, 2])?;
    /// assert_eq!(a.argmax_axis(1)?.compute_vec()?, [2, 0]);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn argmax_axis(&self, axis: usize) -> Result<Array<i64>, ArrayError> {
        self.reduce_axis(axis, ArgExtreme { max: true })
    }
}
