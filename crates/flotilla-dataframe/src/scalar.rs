//! [`Scalar`]: the lazy result of a DataFrame reduction.

use std::fmt;
use std::sync::Arc;

use flotilla_local::{ComputeOptions, Delayed};

use super::frame::default_options;
use super::portable::ScalarPlan;
use super::DataFrameError;

/// The lazy result of a reduction of a [`DataFrame`](super::DataFrame) —
/// dask's `Scalar`: nothing runs until [`compute`](Scalar::compute).
///
/// ```
/// use flotilla_dataframe::DataFrame;
///
/// let df = DataFrame::from_columns(vec![("x", vec![1.0, 2.0, 6.0].into())], 2)?;
/// let mean = df.mean("x")?;          // a Scalar: no work yet
/// assert_eq!(mean.compute()?, Some(3.0));
/// assert_eq!(df.count().compute()?, 3);
/// # Ok::<(), flotilla_dataframe::DataFrameError>(())
/// ```
#[must_use = "a reduction is lazy: nothing runs until it is computed"]
pub struct Scalar<A> {
    root: Delayed<Result<A, DataFrameError>>,
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

impl<A> fmt::Debug for Scalar<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scalar").field("root", &self.root).finish()
    }
}

impl<A: Clone + Send + Sync + 'static> Scalar<A> {
    pub(crate) fn new(root: Delayed<Result<A, DataFrameError>>) -> Scalar<A> {
        Scalar {
            root: root.hand_over(),
            plan: Err("a reduction".into()),
        }
    }

    /// The same scalar, whose portable form is `plan`.
    pub(crate) fn with_plan(mut self, plan: Result<ScalarPlan<A>, Arc<str>>) -> Scalar<A> {
        self.plan = plan.map(Arc::new);
        self
    }

    /// The same scalar, made by `operation`, which has no portable form.
    pub(crate) fn local_only(mut self, operation: &str) -> Scalar<A> {
        self.plan = Err(operation.into());
        self
    }

    /// The scalar's portable form: the reduction that a cluster computes
    /// (see [`portable`](crate::portable)).
    ///
    /// # Errors
    ///
    /// [`DataFrameError::LocalOnly`] for a reduction without one (of a
    /// frame without one, or `describe`), naming it.
    ///
    /// ```
    /// use flotilla_dataframe::portable::Reduction;
    ///
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1.0, 5.0].into())], 2)?;
    /// assert_eq!(df.sum("x")?.plan()?.reduction(), &Reduction::Stats("x".into()));
    /// assert!(df.describe()?.plan().is_err());
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn plan(&self) -> Result<Arc<ScalarPlan<A>>, DataFrameError> {
        self.plan
            .clone()
            .map_err(|operation| DataFrameError::LocalOnly {
                operation: operation.to_string(),
            })
    }

    /// Runs the reduction on the default pool (with a progress bar when it
    /// takes more than a second on a terminal) and returns its value.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 5].into())], 2)?;
    /// assert_eq!(df.mean("x")?.compute()?, Some(3.0));
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first error of a partition (bad input data, a panic in a user
    /// closure, an Arrow kernel failure), naming where it happened.
    pub fn compute(&self) -> Result<A, DataFrameError> {
        self.compute_with(&default_options())
    }

    /// Runs the reduction with `options` (pool, progress bar).
    ///
    /// ```
    /// use flotilla_dataframe::DataFrame;
    /// use flotilla_local::{ComputeOptions, CpuPool};
    ///
    /// let pool = CpuPool::with_threads(2)?;
    /// let df = DataFrame::from_columns(vec![("x", vec![1i64, 5].into())], 2)?;
    /// let n = df.count().compute_with(&ComputeOptions::new().pool(&pool))?;
    /// assert_eq!(n, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`compute`](Scalar::compute).
    pub fn compute_with(&self, options: &ComputeOptions) -> Result<A, DataFrameError> {
        self.root.compute_with(options)?
    }

    /// A scalar computed from this one's value, in one more task.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 5].into())], 2)?;
    /// let doubled = df.count().map(|n| n * 2);
    /// assert_eq!(doubled.compute()?, 4);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn map<B, F>(&self, f: F) -> Scalar<B>
    where
        B: Clone + Send + Sync + 'static,
        F: Fn(A) -> B + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let plan = match &self.plan {
            Ok(plan) => {
                let f = Arc::clone(&f);
                Ok(Arc::new(plan.map(move |a| f(a))))
            }
            Err(e) => Err(Arc::clone(e)),
        };
        Scalar {
            plan,
            ..Scalar::new(
                self.root
                    .map_owned(move |partial: Result<A, DataFrameError>| partial.map(&*f)),
            )
        }
    }

    /// The number of tasks that computing this scalar runs.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 5].into())], 2)?;
    /// assert!(df.count().task_count() >= 3);
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn task_count(&self) -> usize {
        self.root.task_count()
    }

    /// The task graph of this scalar in Graphviz DOT format, tasks named by
    /// their keys: the operation and its partition (`from_batches|count[1]`).
    /// The same frame gives the same graph, whatever else was built before.
    ///
    /// ```
    /// let df = flotilla_dataframe::DataFrame::from_columns(vec![("x", vec![1i64, 5].into())], 2)?;
    /// let dot = df.count().to_dot();
    /// assert!(dot.contains("\"from_batches|count[1]\""), "{dot}");
    /// assert_eq!(dot, df.count().to_dot());
    /// # Ok::<(), flotilla_dataframe::DataFrameError>(())
    /// ```
    pub fn to_dot(&self) -> String {
        self.root.to_dot()
    }
}
