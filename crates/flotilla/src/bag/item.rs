//! [`Item`]: the lazy result of a reduction.

use std::fmt;

use flotilla_local::{ComputeOptions, Delayed};

use super::collection::{default_options, key_group};
use super::feed::Partial;
use super::BagError;

/// The lazy result of a reduction over a bag ([`Bag::count`](super::Bag::count),
/// [`Bag::fold`](super::Bag::fold), [`Bag::frequencies`](super::Bag::frequencies),
/// …) — dask.bag's `Item`.
///
/// Building it runs nothing; [`compute`](Item::compute) runs the reduction's
/// task graph: one task per partition for the partial results, then rounds
/// of combining tasks (a tree), so no task ever combines more than the bag's
/// [`split_every`](super::Bag::split_every) partial results.
///
/// ```
/// use flotilla::bag::Bag;
///
/// let total = Bag::range(1_000, 64).map(|x| x * 2).sum();
/// assert_eq!(total.compute()?, 999_000);
/// // 64 sources + 64 partial sums + 8 + 1 combining tasks:
/// assert_eq!(total.task_count(), 137);
/// # Ok::<(), flotilla::bag::BagError>(())
/// ```
#[must_use = "a reduction is lazy: nothing runs until it is computed"]
pub struct Item<A> {
    root: Delayed<Partial<A>>,
}

impl<A> Clone for Item<A> {
    fn clone(&self) -> Self {
        Item {
            root: self.root.clone(),
        }
    }
}

impl<A> fmt::Debug for Item<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Item").field("root", &self.root).finish()
    }
}

impl<A: Clone + Send + Sync + 'static> Item<A> {
    pub(super) fn new(root: Delayed<Partial<A>>) -> Item<A> {
        Item {
            root: root.hand_over(),
        }
    }

    /// An item with a known value (the reduction of an empty bag).
    pub(super) fn constant(label: &str, value: impl Fn() -> A + Send + Sync + 'static) -> Item<A> {
        Item::new(Delayed::from_fn(move || Ok(value())).named_op(key_group(label)))
    }

    /// Runs the reduction on the default pool (with a progress bar on a
    /// terminal for runs over a second).
    ///
    /// # Errors
    ///
    /// [`BagError::Task`] for a panic in user code (naming the task), or the
    /// error of a partition that could not be read — the first one in
    /// partition order.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// assert_eq!(Bag::range(10, 3).count().compute()?, 10);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn compute(&self) -> Result<A, BagError> {
        self.compute_with(&default_options())
    }

    /// As [`Item::compute`], with explicit options (pool, placement,
    /// progress).
    ///
    /// # Errors
    ///
    /// As [`Item::compute`].
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// use flotilla::{ComputeOptions, CpuPool};
    ///
    /// let pool = CpuPool::with_threads(2).unwrap();
    /// let max = Bag::range(10, 3).max().compute_with(&ComputeOptions::new().pool(&pool))?;
    /// assert_eq!(max, Some(9));
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn compute_with(&self, options: &ComputeOptions) -> Result<A, BagError> {
        self.root.compute_with(options)?
    }

    /// A further step on the result, as one more task of the graph.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let bag = Bag::range(10, 2);
    /// let mean = bag.fold((0u64, 0u64), |(s, n), x| (s + x, n + 1), |a, b| (a.0 + b.0, a.1 + b.1))
    ///     .map(|(sum, n)| sum as f64 / n as f64);
    /// assert_eq!(mean.compute()?, 4.5);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn map<B, F>(&self, f: F) -> Item<B>
    where
        B: Clone + Send + Sync + 'static,
        F: Fn(A) -> B + Send + Sync + 'static,
    {
        Item::new(
            self.root
                .map_owned(move |partial: Partial<A>| partial.map(&f)),
        )
    }

    /// The result as a plain [`Delayed`] value, to combine with other
    /// delayed values in a larger graph. An error of the reduction fails
    /// that node's task with the error's message.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let n = Bag::range(10, 2).count().to_delayed();
    /// let total = Bag::range(10, 2).sum().to_delayed();
    /// let mean = n.zip_with(&total, |n, t| *t as f64 / *n as f64);
    /// assert_eq!(mean.compute().unwrap(), 4.5);
    /// ```
    pub fn to_delayed(&self) -> Delayed<A> {
        self.root.try_map_owned(|partial: Partial<A>| partial)
    }

    /// The reduction's graph in Graphviz DOT format.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let dot = Bag::range(100, 20).count().to_dot();
    /// assert!(dot.contains("count-combine"));
    /// ```
    pub fn to_dot(&self) -> String {
        self.root.to_dot()
    }

    /// The number of tasks computing the result runs.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// // 3 sources, 3 partial counts, 1 combining task:
    /// assert_eq!(Bag::range(10, 3).count().task_count(), 7);
    /// ```
    pub fn task_count(&self) -> usize {
        self.root.task_count()
    }
}
