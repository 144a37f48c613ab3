//! Lazy values whose combination builds a task graph — `dask.delayed`.
//!
//! A [`Delayed<T>`] is a node of a graph that is only described, not run:
//! combining delayed values ([`Delayed::map`], [`Delayed::zip_with`],
//! [`Delayed::gather`]) adds nodes. [`Delayed::compute`] walks the graph from
//! the value asked for, numbers each distinct node once (a node used by two
//! others is one task, computed once), hands the graph to the scheduler core
//! and runs it on a pool. Nodes hold `Fn` closures, so the same delayed value
//! can be computed again.

use std::any::{type_name, Any};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use flotilla_core::{RunReport, TaskGraph, TaskId, TaskKey};

use crate::error::TaskError;
use crate::graph_run::{run_graph, ComputeOptions, GraphTask, TaskFn, Value};

static NEXT_NODE: AtomicU64 = AtomicU64::new(0);

struct Node {
    key: TaskKey,
    deps: Vec<Arc<Node>>,
    func: TaskFn,
    function: &'static str,
}

impl Drop for Node {
    /// Drops long chains of nodes iteratively: a recursive drop of a
    /// 100,000-node chain would overflow the stack.
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.deps);
        while let Some(dep) = stack.pop() {
            if let Some(mut node) = Arc::into_inner(dep) {
                stack.append(&mut node.deps);
            }
        }
    }
}

/// A value to be computed later, by a task graph.
///
/// # Examples
///
/// Scenario 6 of flotilla's design — a parallel loop of delayed
/// multiplications, summed:
///
/// ```
/// use flotilla_local::Delayed;
///
/// let products: Vec<Delayed<i64>> = (0..10).map(|i| Delayed::value(i).map(|x| x * 2)).collect();
/// let total = Delayed::gather(&products, |xs| xs.iter().copied().sum::<i64>());
/// assert_eq!(total.compute().unwrap(), 90);
/// ```
pub struct Delayed<T> {
    node: Arc<Node>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed {
            node: Arc::clone(&self.node),
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delayed")
            .field("key", &self.node.key.to_string())
            .field("type", &type_name::<T>())
            .finish()
    }
}

fn downcast<T: Send + Sync + 'static>(v: &Value, index: usize) -> Result<&T, TaskError> {
    let any: &(dyn Any + Send + Sync) = &**v;
    any.downcast_ref::<T>()
        .ok_or_else(|| TaskError::WrongInputType {
            // The graph run puts the task's key here.
            task: String::new(),
            index,
            expected: type_name::<T>(),
            found: "value of another type",
        })
}

/// Hashes node addresses: they are already unique, so one multiplication
/// spreads them well enough, at a fraction of SipHash's cost (graph building
/// looks every node up several times).
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

/// The groups of generated keys. Each group's name is allocated once, so
/// making a node allocates no string.
#[derive(Clone, Copy)]
enum Group {
    Value,
    Call,
    Map,
    TryMap,
    Zip,
    Gather,
}

fn new_key(group: Group) -> TaskKey {
    static NAMES: OnceLock<[TaskKey; 6]> = OnceLock::new();
    let names = NAMES
        .get_or_init(|| ["value", "call", "map", "try_map", "zip", "gather"].map(TaskKey::new));
    names[group as usize].sibling(NEXT_NODE.fetch_add(1, Ordering::Relaxed))
}

impl<T: Send + Sync + 'static> Delayed<T> {
    fn from_node(
        key: TaskKey,
        deps: Vec<Arc<Node>>,
        func: TaskFn,
        function: &'static str,
    ) -> Delayed<T> {
        Delayed {
            node: Arc::new(Node {
                key,
                deps,
                func,
                function,
            }),
            _type: PhantomData,
        }
    }

    /// A delayed value that is already known.
    ///
    /// ```
    /// assert_eq!(flotilla_local::Delayed::value(3).compute().unwrap(), 3);
    /// ```
    pub fn value(value: T) -> Delayed<T> {
        let v: Value = Arc::new(value);
        Delayed::from_node(
            new_key(Group::Value),
            Vec::new(),
            Arc::new(move |_| Ok(Arc::clone(&v))),
            type_name::<T>(),
        )
    }

    /// A delayed call of `f` with no inputs.
    ///
    /// ```
    /// let d = flotilla_local::Delayed::from_fn(|| 40 + 2);
    /// assert_eq!(d.compute().unwrap(), 42);
    /// ```
    pub fn from_fn<F>(f: F) -> Delayed<T>
    where
        F: Fn() -> T + Send + Sync + 'static,
    {
        Delayed::from_node(
            new_key(Group::Call),
            Vec::new(),
            Arc::new(move |_| Ok(Arc::new(f()) as Value)),
            type_name::<F>(),
        )
    }

    /// Gives this node a key of your own (shown in errors and in the DOT
    /// graph).
    ///
    /// ```
    /// let d = flotilla_local::Delayed::value(1).named("one");
    /// assert_eq!(d.key(), "one");
    /// ```
    pub fn named(self, key: impl Into<TaskKey>) -> Delayed<T> {
        let node = &self.node;
        Delayed::from_node(
            key.into(),
            node.deps.clone(),
            Arc::clone(&node.func),
            node.function,
        )
    }

    /// The key of this node.
    ///
    /// ```
    /// assert!(flotilla_local::Delayed::value(1).key().starts_with("value["));
    /// ```
    pub fn key(&self) -> String {
        self.node.key.to_string()
    }

    /// A delayed `f(&self)`.
    ///
    /// ```
    /// let d = flotilla_local::Delayed::value(2).map(|x| x + 1);
    /// assert_eq!(d.compute().unwrap(), 3);
    /// ```
    pub fn map<U, F>(&self, f: F) -> Delayed<U>
    where
        U: Send + Sync + 'static,
        F: Fn(&T) -> U + Send + Sync + 'static,
    {
        let key = new_key(Group::Map);
        Delayed::from_node(
            key,
            vec![Arc::clone(&self.node)],
            Arc::new(move |inputs| Ok(Arc::new(f(downcast::<T>(&inputs[0], 0)?)) as Value)),
            type_name::<F>(),
        )
    }

    /// A delayed fallible `f(&self)`: an `Err` fails the task with its
    /// message, and every task that depends on it.
    ///
    /// ```
    /// use flotilla_local::{Delayed, TaskError};
    /// let d = Delayed::value("x".to_string()).try_map(|s| s.parse::<i32>());
    /// assert!(matches!(d.compute(), Err(TaskError::Failed { .. })));
    /// ```
    pub fn try_map<U, E, F>(&self, f: F) -> Delayed<U>
    where
        U: Send + Sync + 'static,
        E: fmt::Display,
        F: Fn(&T) -> Result<U, E> + Send + Sync + 'static,
    {
        let key = new_key(Group::TryMap);
        let function = type_name::<F>();
        Delayed::from_node(
            key,
            vec![Arc::clone(&self.node)],
            Arc::new(move |inputs| match f(downcast::<T>(&inputs[0], 0)?) {
                Ok(v) => Ok(Arc::new(v) as Value),
                Err(e) => Err(TaskError::Failed {
                    task: String::new(),
                    function: function.to_string(),
                    message: e.to_string(),
                }),
            }),
            function,
        )
    }

    /// A delayed `f(&self, &other)`.
    ///
    /// ```
    /// use flotilla_local::Delayed;
    /// let a = Delayed::value(2);
    /// let b = Delayed::value(5);
    /// assert_eq!(a.zip_with(&b, |x, y| x * y).compute().unwrap(), 10);
    /// ```
    pub fn zip_with<U, V, F>(&self, other: &Delayed<U>, f: F) -> Delayed<V>
    where
        U: Send + Sync + 'static,
        V: Send + Sync + 'static,
        F: Fn(&T, &U) -> V + Send + Sync + 'static,
    {
        let key = new_key(Group::Zip);
        Delayed::from_node(
            key,
            vec![Arc::clone(&self.node), Arc::clone(&other.node)],
            Arc::new(move |inputs| {
                Ok(Arc::new(f(
                    downcast::<T>(&inputs[0], 0)?,
                    downcast::<U>(&inputs[1], 1)?,
                )) as Value)
            }),
            type_name::<F>(),
        )
    }

    /// A delayed `f` over all of `items` at once (like `delayed(sum)(list)`).
    ///
    /// ```
    /// use flotilla_local::Delayed;
    /// let xs: Vec<_> = (1..=3).map(Delayed::value).collect();
    /// let s = Delayed::gather(&xs, |v| v.iter().copied().sum::<i32>());
    /// assert_eq!(s.compute().unwrap(), 6);
    /// ```
    pub fn gather<U, F>(items: &[Delayed<T>], f: F) -> Delayed<U>
    where
        U: Send + Sync + 'static,
        F: Fn(&[&T]) -> U + Send + Sync + 'static,
    {
        let key = new_key(Group::Gather);
        Delayed::from_node(
            key,
            items.iter().map(|d| Arc::clone(&d.node)).collect(),
            Arc::new(move |inputs| {
                let refs = inputs
                    .iter()
                    .enumerate()
                    .map(|(i, v)| downcast::<T>(v, i))
                    .collect::<Result<Vec<&T>, _>>()?;
                Ok(Arc::new(f(&refs)) as Value)
            }),
            type_name::<F>(),
        )
    }

    /// The graph that computing this value runs: each distinct node once,
    /// dependencies first.
    fn graph(&self) -> (TaskGraph, Vec<GraphTask>, TaskId) {
        let mut ids: HashMap<*const Node, TaskId, BuildHasherDefault<AddressHasher>> =
            HashMap::default();
        let mut graph = TaskGraph::new();
        let mut tasks = Vec::new();
        // Iterative post-order: (node, whether its dependencies are queued).
        let mut stack: Vec<(&Arc<Node>, bool)> = vec![(&self.node, false)];
        while let Some((node, expanded)) = stack.pop() {
            let ptr = Arc::as_ptr(node);
            if ids.contains_key(&ptr) {
                continue;
            }
            if !expanded {
                stack.push((node, true));
                for d in node.deps.iter().rev() {
                    if !ids.contains_key(&Arc::as_ptr(d)) {
                        stack.push((d, false));
                    }
                }
                continue;
            }
            let deps: Vec<TaskId> = node.deps.iter().map(|d| ids[&Arc::as_ptr(d)]).collect();
            // Dependencies were added first, so this cannot fail.
            if let Ok(id) = graph.add_task(node.key.clone(), &deps) {
                ids.insert(ptr, id);
                tasks.push(GraphTask {
                    func: Arc::clone(&node.func),
                    function: node.function,
                });
            }
        }
        let root = ids[&Arc::as_ptr(&self.node)];
        (graph, tasks, root)
    }

    /// The number of distinct tasks computing this value would run.
    ///
    /// ```
    /// use flotilla_local::Delayed;
    /// let x = Delayed::value(1);
    /// let y = x.zip_with(&x, |a, b| a + b);   // x is shared: 2 tasks, not 3
    /// assert_eq!(y.task_count(), 2);
    /// ```
    pub fn task_count(&self) -> usize {
        self.graph().0.len()
    }

    /// The graph of this value in Graphviz DOT format.
    ///
    /// ```
    /// use flotilla_local::Delayed;
    /// let d = Delayed::value(1).named("one").map(|x| x + 1).named("two");
    /// assert!(d.to_dot().contains("\"one\" -> \"two\""));
    /// ```
    pub fn to_dot(&self) -> String {
        self.graph().0.to_dot()
    }

    /// Computes the value on the default pool, returning a shared handle to
    /// it (no `Clone` needed).
    ///
    /// # Errors
    ///
    /// The [`TaskError`] of the task that failed, or
    /// [`TaskError::DependencyFailed`] naming it.
    ///
    /// ```
    /// let v = flotilla_local::Delayed::value(vec![1, 2]).compute_shared().unwrap();
    /// assert_eq!(v.len(), 2);
    /// ```
    pub fn compute_shared(&self) -> Result<Arc<T>, TaskError> {
        self.compute_shared_with(&ComputeOptions::new())
            .map(|(v, _)| v)
    }

    /// Computes with explicit options (pool, placement, progress); returns
    /// the value and the run's [`RunReport`].
    ///
    /// # Errors
    ///
    /// As [`Delayed::compute_shared`].
    ///
    /// ```
    /// use flotilla_local::{ComputeOptions, CpuPool, Delayed};
    /// let pool = CpuPool::with_threads(2).unwrap();
    /// let (v, report) = Delayed::value(2).map(|x| x * 3)
    ///     .compute_shared_with(&ComputeOptions::new().pool(&pool)).unwrap();
    /// assert_eq!(*v, 6);
    /// assert_eq!(report.tasks(), 2);
    /// ```
    pub fn compute_shared_with(
        &self,
        options: &ComputeOptions,
    ) -> Result<(Arc<T>, RunReport), TaskError> {
        let (graph, tasks, root) = self.graph();
        let key = self.key();
        let mut outcome = run_graph(graph, tasks, &[root], options);
        let value = outcome
            .outputs
            .pop()
            .unwrap_or(Err(TaskError::Cancelled { task: key.clone() }))?;
        let value = value
            .downcast::<T>()
            .map_err(|_| TaskError::WrongInputType {
                task: key,
                index: 0,
                expected: type_name::<T>(),
                found: "another type",
            })?;
        Ok((value, outcome.report))
    }
}

impl<T: Clone + Send + Sync + 'static> Delayed<T> {
    /// Computes the value on the default (global) pool.
    ///
    /// # Errors
    ///
    /// The [`TaskError`] of the task that failed, or
    /// [`TaskError::DependencyFailed`] naming it.
    ///
    /// ```
    /// let d = flotilla_local::Delayed::value(20).map(|x| x + 1);
    /// assert_eq!(d.compute().unwrap(), 21);
    /// ```
    pub fn compute(&self) -> Result<T, TaskError> {
        self.compute_with(&ComputeOptions::new())
    }

    /// Computes the value with explicit options.
    ///
    /// # Errors
    ///
    /// As [`Delayed::compute`].
    ///
    /// ```
    /// use flotilla_local::{ComputeOptions, CpuPool, Delayed};
    /// let pool = CpuPool::with_threads(1).unwrap();
    /// let v = Delayed::value(1).compute_with(&ComputeOptions::new().pool(&pool)).unwrap();
    /// assert_eq!(v, 1);
    /// ```
    pub fn compute_with(&self, options: &ComputeOptions) -> Result<T, TaskError> {
        let (v, _) = self.compute_shared_with(options)?;
        Ok(Arc::try_unwrap(v).unwrap_or_else(|shared| (*shared).clone()))
    }
}
