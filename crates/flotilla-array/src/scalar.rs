//! [`Scalar`]: the lazy result of a reduction over a whole array.

use std::fmt;
use std::sync::Arc;

use flotilla_local::{ComputeOptions, Delayed};

use crate::portable::{ArrayPlan, ArrayReduction, Number};
use crate::ArrayError;

/// The lazy result of a reduction over all the elements of an array
/// ([`Array::sum`](crate::Array::sum), [`Array::mean`](crate::Array::mean),
/// [`Array::argmax`](crate::Array::argmax), …) — what `x.sum()` is in
/// dask before `.compute()`.
///
/// Building it runs nothing; [`compute`](Scalar::compute) runs the
/// reduction's task graph: one task per block makes the block's elements
/// (through every fused operation) and folds them into a partial result,
/// then combining tasks merge the partials in rounds of at most
/// [`split_every`](crate::Array::split_every).
///
/// A reduction that has no value for the array (the `min` of an empty
/// array) is an error that `compute` returns at once, before scheduling
/// anything.
///
/// ```
/// use flotilla_array::Array;
///
/// let total = Array::<i64>::arange(1000, 100)?.sum();      // nothing run yet
/// assert_eq!(total.task_count(), 10 + 2 + 1);              // 10 partials, 2 combining, 1 final
/// assert_eq!(total.compute()?, 499_500);
/// # Ok::<(), flotilla_array::ArrayError>(())
/// ```
#[must_use = "a reduction is lazy: nothing runs until it is computed"]
pub struct Scalar<A> {
    root: Result<Delayed<Result<A, ArrayError>>, ArrayError>,
    /// Its portable form, or the reduction that has none.
    plan: Result<Arc<ScalarPlan<A>>, Arc<str>>,
}

impl<A> Clone for Scalar<A> {
    fn clone(&self) -> Self {
        Scalar {
            root: self.root.clone(),
            plan: self.plan.clone(),
        }
    }
}

/// The portable form of a whole-array reduction: the array's plan, the
/// reduction, and what turns the combined value into the scalar's. Read
/// with [`Scalar::plan`].
///
/// ```
/// use flotilla_array::portable::{ArrayReduction, Number};
/// use flotilla_array::Array;
///
/// let x = Array::<i64>::arange(10, 4)?;
/// let plan = x.sum().plan()?;
/// assert_eq!(plan.reduction(), ArrayReduction::Sum);
/// assert_eq!(plan.finish(Number::I64(45))?, 45);
/// # Ok::<(), flotilla_array::ArrayError>(())
/// ```
#[derive(Debug)]
pub struct ScalarPlan<A> {
    array: Arc<ArrayPlan>,
    reduction: ArrayReduction,
    finish: fn(Number) -> Option<A>,
}

impl<A> ScalarPlan<A> {
    /// The array reduced.
    ///
    /// ```
    /// let x = flotilla_array::Array::<i64>::arange(10, 4)?;
    /// assert_eq!(x.max().plan()?.array().num_blocks(), 3);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn array(&self) -> &Arc<ArrayPlan> {
        &self.array
    }

    /// The reduction.
    ///
    /// ```
    /// use flotilla_array::portable::ArrayReduction;
    /// let x = flotilla_array::Array::<i64>::arange(10, 4)?;
    /// assert_eq!(x.mean().plan()?.reduction(), ArrayReduction::Mean);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn reduction(&self) -> ArrayReduction {
        self.reduction
    }

    /// The scalar's value from the combined value of its blocks.
    ///
    /// # Errors
    ///
    /// [`ArrayError::Internal`] for a value of another element type.
    ///
    /// ```
    /// use flotilla_array::portable::Number;
    /// let x = flotilla_array::Array::<i64>::arange(10, 4)?;
    /// assert!(x.sum().plan()?.finish(Number::F64(1.0)).is_err());
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn finish(&self, combined: Number) -> Result<A, ArrayError> {
        (self.finish)(combined).ok_or_else(|| {
            ArrayError::Internal(format!("a reduction's value of another type: {combined:?}"))
        })
    }
}

impl<A> fmt::Debug for Scalar<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.root {
            Ok(node) => f.debug_struct("Scalar").field("root", node).finish(),
            Err(e) => f.debug_struct("Scalar").field("error", e).finish(),
        }
    }
}

impl<A: Clone + Send + Sync + 'static> Scalar<A> {
    pub(crate) fn new(root: Delayed<Result<A, ArrayError>>) -> Scalar<A> {
        Scalar {
            root: Ok(root),
            plan: Err("a reduction".into()),
        }
    }

    pub(crate) fn failed(error: ArrayError) -> Scalar<A> {
        Scalar {
            root: Err(error),
            plan: Err("a reduction".into()),
        }
    }

    /// The same scalar, the reduction `reduction` of `array`'s plan (if it
    /// has one), its value made by `finish`.
    pub(crate) fn portable(
        mut self,
        array: &crate::portable::Portable,
        reduction: ArrayReduction,
        finish: fn(Number) -> Option<A>,
    ) -> Scalar<A> {
        self.plan = array.clone().map(|array| {
            Arc::new(ScalarPlan {
                array,
                reduction,
                finish,
            })
        });
        self
    }

    /// The scalar's portable form: the reduction that a cluster computes
    /// block by block (see [`portable`](crate::portable)).
    ///
    /// # Errors
    ///
    /// [`ArrayError::LocalOnly`] for the reduction of an array without a
    /// portable form, or one that has none (`var`, `argmax`...).
    ///
    /// ```
    /// let x = flotilla_array::Array::<f64>::ones(&[4], 2)?;
    /// assert!(x.sum().plan().is_ok());
    /// assert!(x.var().plan().is_err());
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn plan(&self) -> Result<Arc<ScalarPlan<A>>, ArrayError> {
        self.plan
            .clone()
            .map_err(|operation| ArrayError::LocalOnly {
                operation: operation.to_string(),
            })
    }

    /// Runs the reduction on the default pool (with a progress bar on a
    /// terminal for runs over a second).
    ///
    /// # Errors
    ///
    /// [`ArrayError::Task`] for a panic in a user closure, naming the block
    /// whose task failed; [`ArrayError::EmptyReduction`] (before anything
    /// runs) for a reduction with no value over no elements.
    ///
    /// ```
    /// use flotilla_array::{Array, ArrayError};
    ///
    /// assert_eq!(Array::<f64>::ones(&[3, 3], [2, 2])?.mean().compute()?, 1.0);
    /// let empty = Array::<f64>::zeros(&[0, 3], [1, 1])?;
    /// assert_eq!(empty.max().compute(), Err(ArrayError::EmptyReduction { op: "max" }));
    /// # Ok::<(), ArrayError>(())
    /// ```
    pub fn compute(&self) -> Result<A, ArrayError> {
        self.compute_with(&ComputeOptions::new().label("array"))
    }

    /// As [`Scalar::compute`], with explicit options (pool, placement,
    /// progress).
    ///
    /// # Errors
    ///
    /// As [`Scalar::compute`].
    ///
    /// ```
    /// use flotilla_array::Array;
    /// use flotilla_local::{ComputeOptions, CpuPool};
    ///
    /// let pool = CpuPool::with_threads(2).unwrap();
    /// let a = Array::random(&[1000, 1000], [250, 250], 1)?;
    /// let sum = a.sum().compute_with(&ComputeOptions::new().pool(&pool))?;
    /// assert!((sum / 1e6 - 0.5).abs() < 0.01);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn compute_with(&self, options: &ComputeOptions) -> Result<A, ArrayError> {
        let root = self.root.clone()?;
        let (value, _) = root.compute_shared_with(options)?;
        match Arc::try_unwrap(value) {
            Ok(result) => result,
            Err(shared) => (*shared).clone(),
        }
    }

    /// The number of tasks computing the value would run (0 for a
    /// reduction that fails before running).
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let s = Array::random(&[10_000, 10_000], [1000, 1000], 0)?.sum();
    /// assert_eq!(s.task_count(), 100 + 13 + 2 + 1);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn task_count(&self) -> usize {
        self.root.as_ref().map_or(0, Delayed::task_count)
    }

    /// The task graph in Graphviz DOT format (empty for a reduction that
    /// fails before running).
    ///
    /// ```
    /// use flotilla_array::Array;
    /// let dot = Array::<i64>::arange(4, 2)?.max().to_dot();
    /// assert!(dot.contains("arange|max-"));
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn to_dot(&self) -> String {
        self.root
            .as_ref()
            .map_or_else(|_| String::new(), Delayed::to_dot)
    }
}
