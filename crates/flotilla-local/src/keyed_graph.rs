//! Task graphs built by key, like a Dask graph dictionary.

use std::any::{type_name, Any};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use flotilla_core::{GraphError, KeyedGraphBuilder, RunReport, TaskId, TaskKey, TaskOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::checkpoint::Checkpoint;
use crate::checkpointed::{self, NodeCheckpoint, Persist};
use crate::error::TaskError;
use crate::graph_run::{run_graph, ComputeOptions, GraphTask, Value};

/// A task's result with its type erased, as [`Graph::compute_many_with`]
/// returns it: `downcast_ref` it to the type the task produced.
///
/// ```
/// let v: flotilla_local::TaskValue = std::sync::Arc::new(3u8);
/// assert_eq!(v.downcast_ref::<u8>(), Some(&3));
/// ```
pub type TaskValue = Arc<dyn Any + Send + Sync>;

/// The inputs of a task of a [`Graph`]: the results of its dependencies, in
/// the order they were named.
#[derive(Debug)]
pub struct Inputs<'a> {
    values: &'a [Value],
    task: &'a str,
}

impl Inputs<'_> {
    /// The `index`-th input as a `T`.
    ///
    /// # Errors
    ///
    /// [`TaskError::WrongInputType`] naming the task and input when it is
    /// not a `T` (or there is no such input).
    ///
    /// ```
    /// use flotilla_local::Graph;
    /// let mut g = Graph::new();
    /// g.insert("a", [] as [&str; 0], |_| Ok::<_, String>(2u8));
    /// g.insert("b", ["a"], |inputs| inputs.get::<u8>(0).map(|a| a * 2));
    /// assert_eq!(g.compute::<u8>("b").unwrap(), 4);
    /// ```
    pub fn get<T: Any>(&self, index: usize) -> Result<&T, TaskError> {
        let wrong = |found| TaskError::WrongInputType {
            task: self.task.to_string(),
            index,
            expected: type_name::<T>(),
            found,
        };
        let v = self
            .values
            .get(index)
            .ok_or_else(|| wrong("missing input"))?;
        let any: &(dyn Any + Send + Sync) = &**v;
        any.downcast_ref::<T>()
            .ok_or_else(|| wrong("value of another type"))
    }

    /// The number of inputs.
    ///
    /// ```
    /// let mut g = flotilla_local::Graph::new();
    /// g.insert("n", [] as [&str; 0], |inputs| Ok::<_, String>(inputs.len()));
    /// assert_eq!(g.compute::<usize>("n").unwrap(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the task has no inputs.
    ///
    /// ```
    /// let mut g = flotilla_local::Graph::new();
    /// g.insert("n", [] as [&str; 0], |inputs| Ok::<_, String>(inputs.is_empty()));
    /// assert!(g.compute::<bool>("n").unwrap());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// A task graph whose tasks are named by key and may be inserted in any
/// order; dependencies are named by key too. Unknown keys and cycles are
/// reported by [`Graph::compute`] before anything runs.
///
/// # Examples
///
/// ```
/// use flotilla_local::{Graph, TaskError};
///
/// let mut g = Graph::new();
/// g.insert("total", ["x", "y"], |i| Ok::<_, TaskError>(i.get::<i64>(0)? + i.get::<i64>(1)?));
/// g.insert("x", [] as [&str; 0], |_| Ok::<_, TaskError>(1i64));
/// g.insert("y", [] as [&str; 0], |_| Ok::<_, TaskError>(2i64));
/// assert_eq!(g.compute::<i64>("total").unwrap(), 3);
///
/// g.insert("loop", ["loop"], |_| Ok::<_, TaskError>(0i64));
/// let err = g.compute::<i64>("total").unwrap_err();
/// assert_eq!(err.to_string(), "the task graph has a cycle: loop -> loop");
/// ```
#[derive(Default, Clone)]
pub struct Graph {
    entries: Vec<(TaskKey, Vec<TaskKey>, TaskOptions)>,
    tasks: Vec<GraphTask>,
    /// Per task: where its result is kept ([`Graph::checkpoint`]).
    persist: Vec<Option<Arc<Persist>>>,
    /// Per task: what its result depends on besides its key, function and
    /// inputs ([`Graph::version`]).
    versions: Vec<Option<Arc<[u8]>>>,
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("tasks", &self.entries.len())
            .finish()
    }
}

impl Graph {
    /// An empty graph.
    ///
    /// ```
    /// let g = flotilla_local::Graph::new();
    /// ```
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds the task `key`, computed by `f` from the results of `deps`.
    /// An `Err` from `f` fails the task (and abandons its dependents).
    ///
    /// ```
    /// let mut g = flotilla_local::Graph::new();
    /// g.insert("one", [] as [&str; 0], |_| Ok::<_, String>(1));
    /// ```
    pub fn insert<K, D, I, F, T, E>(&mut self, key: K, deps: I, f: F)
    where
        K: Into<TaskKey>,
        D: Into<TaskKey>,
        I: IntoIterator<Item = D>,
        F: Fn(&Inputs<'_>) -> Result<T, E> + Send + Sync + 'static,
        T: Send + Sync + 'static,
        E: fmt::Display + 'static,
    {
        self.insert_with(key, deps, TaskOptions::default(), f);
    }

    /// Adds the task `key` as [`Graph::insert`] does, with `options`: its
    /// priority, cost hint and retries. A task with retries that returns
    /// an error or panics runs again (on any worker) up to that many more
    /// times before its failure is final; a retried attempt's error is
    /// forgotten once it succeeds.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use flotilla_local::Graph;
    /// use flotilla_core::TaskOptions;
    /// let tries = AtomicU32::new(0);
    /// let mut g = Graph::new();
    /// let flaky = TaskOptions { retries: 2, ..Default::default() };
    /// g.insert_with("fetch", [] as [&str; 0], flaky, move |_| {
    ///     if tries.fetch_add(1, Ordering::SeqCst) == 0 { Err("timed out") } else { Ok(7u32) }
    /// });
    /// assert_eq!(g.compute::<u32>("fetch").unwrap(), 7);
    /// ```
    pub fn insert_with<K, D, I, F, T, E>(&mut self, key: K, deps: I, options: TaskOptions, f: F)
    where
        K: Into<TaskKey>,
        D: Into<TaskKey>,
        I: IntoIterator<Item = D>,
        F: Fn(&Inputs<'_>) -> Result<T, E> + Send + Sync + 'static,
        T: Send + Sync + 'static,
        E: fmt::Display + 'static,
    {
        let key: TaskKey = key.into();
        let name = key.to_string();
        let function = type_name::<F>();
        let func = Arc::new(move |values: Vec<Value>| {
            let inputs = Inputs {
                values: &values,
                task: &name,
            };
            match f(&inputs) {
                Ok(v) => Ok(Arc::new(v) as Value),
                // A TaskError (from `Inputs::get`, say) passes through as it
                // is; any other error becomes `Failed` with its message.
                Err(e) => match (&e as &dyn Any).downcast_ref::<TaskError>() {
                    Some(task_error) => Err(task_error.clone()),
                    None => Err(TaskError::Failed {
                        task: name.clone(),
                        function: function.to_string(),
                        message: e.to_string(),
                    }),
                },
            }
        });
        self.entries
            .push((key, deps.into_iter().map(Into::into).collect(), options));
        self.tasks.push(GraphTask {
            func,
            function,
            hand_over: false,
        });
        self.persist.push(None);
        self.versions.push(None);
    }

    /// The position of the task `key` (the last inserted under it).
    fn position(&self, key: &TaskKey) -> Result<usize, GraphError> {
        self.entries
            .iter()
            .rposition(|(k, _, _)| k == key)
            .ok_or_else(|| GraphError::UnknownDependency {
                task: TaskKey::new("checkpoint"),
                dependency: key.to_string(),
            })
    }

    /// Keeps the result of the task `key`, a `T`, in `checkpoint`: a
    /// computation run again reads it back instead of running the task
    /// and what only it needed. It is kept under a key made of the task's
    /// key, its function's name, its [version](Graph::version) and the same
    /// key of each of its dependencies, all the way up — so a changed
    /// version upstream computes it again, and nothing else changes. What a
    /// closure does is not part of the key: give a new version when it
    /// changes. Results are encoded with `postcard`; a result that is not
    /// a `T` fails the task, naming the type.
    ///
    /// # Errors
    ///
    /// [`GraphError::UnknownDependency`] when no task has the key.
    ///
    /// ```
    /// use flotilla_local::{Checkpoint, Graph, Inputs, TaskError};
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-graph-ckpt-doc-{}", std::process::id()));
    /// for run in 0..2 {
    ///     let checkpoint = Checkpoint::open(&dir).unwrap();
    ///     let mut g = Graph::new();
    ///     g.insert("x", [] as [&str; 0], |_: &Inputs<'_>| Ok::<u64, String>(20));
    ///     g.insert("y", ["x"], |i: &Inputs<'_>| Ok::<u64, TaskError>(i.get::<u64>(0)? * 2));
    ///     g.checkpoint::<u64>("y", &checkpoint).unwrap();
    ///     assert_eq!(g.compute::<u64>("y").unwrap(), 40);
    ///     let expected = if run == 0 { (1, 0) } else { (0, 1) };
    ///     assert_eq!((checkpoint.computed(), checkpoint.loaded()), expected);
    /// }
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn checkpoint<T>(
        &mut self,
        key: impl Into<TaskKey>,
        checkpoint: &Checkpoint,
    ) -> Result<(), GraphError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let at = self.position(&key.into())?;
        self.persist[at] = Some(Arc::new(Persist::of::<T>(checkpoint)));
        Ok(())
    }

    /// Says what the task `key`'s result depends on besides its key, its
    /// function's name and its inputs (a version of its code, what a task
    /// without inputs reads), for checkpoint keys ([`Graph::checkpoint`]).
    ///
    /// # Errors
    ///
    /// [`GraphError::UnknownDependency`] when no task has the key.
    ///
    /// ```
    /// use flotilla_local::{Graph, Inputs};
    /// let mut g = Graph::new();
    /// g.insert("x", [] as [&str; 0], |_: &Inputs<'_>| Ok::<u8, String>(1));
    /// g.version("x", "2").unwrap();
    /// assert!(g.version("nope", "2").is_err());
    /// ```
    pub fn version(
        &mut self,
        key: impl Into<TaskKey>,
        version: impl AsRef<[u8]>,
    ) -> Result<(), GraphError> {
        let at = self.position(&key.into())?;
        self.versions[at] = Some(Arc::from(version.as_ref()));
        Ok(())
    }

    fn build(&self) -> Result<flotilla_core::TaskGraph, GraphError> {
        let mut b = KeyedGraphBuilder::new();
        for (k, deps, options) in &self.entries {
            b.insert_with(k.clone(), deps.iter().cloned(), *options);
        }
        b.build()
    }

    /// The graph in Graphviz DOT format.
    ///
    /// # Errors
    ///
    /// The [`GraphError`] that [`Graph::compute`] would report.
    ///
    /// ```
    /// let mut g = flotilla_local::Graph::new();
    /// g.insert("a", [] as [&str; 0], |_| Ok::<_, String>(1));
    /// g.insert("b", ["a"], |_| Ok::<_, String>(2));
    /// assert!(g.to_dot().unwrap().contains("\"a\" -> \"b\""));
    /// ```
    pub fn to_dot(&self) -> Result<String, GraphError> {
        Ok(self.build()?.to_dot())
    }

    /// Runs the graph on the default pool and returns the result of `key`.
    ///
    /// # Errors
    ///
    /// [`TaskError::Graph`] for an invalid graph or an unknown `key` (nothing
    /// runs then); otherwise the error of the failed task, or
    /// [`TaskError::DependencyFailed`] naming it.
    ///
    /// ```
    /// let mut g = flotilla_local::Graph::new();
    /// g.insert("a", [] as [&str; 0], |_| Ok::<_, String>(7));
    /// assert_eq!(g.compute::<i32>("a").unwrap(), 7);
    /// assert!(g.compute::<i32>("zzz").is_err());
    /// ```
    pub fn compute<T: Clone + Send + Sync + 'static>(
        &self,
        key: impl Into<TaskKey>,
    ) -> Result<T, TaskError> {
        let key = key.into();
        let mut out = self
            .compute_many_with(std::slice::from_ref(&key), &ComputeOptions::new())?
            .0;
        match out.pop() {
            Some(r) => {
                let v = r?;
                v.downcast_ref::<T>()
                    .cloned()
                    .ok_or_else(|| TaskError::WrongInputType {
                        task: key.to_string(),
                        index: 0,
                        expected: type_name::<T>(),
                        found: "value of another type",
                    })
            }
            None => Err(TaskError::Cancelled {
                task: key.to_string(),
            }),
        }
    }

    /// Runs the graph and returns, for each of `keys`, its result (type
    /// erased: use `downcast_ref`) or its error; plus the run's report.
    /// Tasks that fail do not stop unrelated branches.
    ///
    /// # Errors
    ///
    /// [`TaskError::Graph`] for an invalid graph or an unknown key.
    ///
    /// ```
    /// use flotilla_local::{ComputeOptions, Graph};
    /// let mut g = Graph::new();
    /// g.insert("bad", [] as [&str; 0], |_| Err::<i32, _>("no"));
    /// g.insert("good", [] as [&str; 0], |_| Ok::<_, String>(1i32));
    /// let (results, _) = g.compute_many_with(&["bad".into(), "good".into()], &ComputeOptions::new()).unwrap();
    /// assert!(results[0].is_err());
    /// assert_eq!(results[1].as_ref().unwrap().downcast_ref::<i32>(), Some(&1));
    /// ```
    pub fn compute_many_with(
        &self,
        keys: &[TaskKey],
        options: &ComputeOptions,
    ) -> Result<(Vec<Result<TaskValue, TaskError>>, RunReport), TaskError> {
        let graph = self.build()?;
        let index: HashMap<&TaskKey, TaskId> =
            graph.task_ids().map(|t| (graph.key(t), t)).collect();
        let mut wanted = Vec::with_capacity(keys.len());
        for k in keys {
            match index.get(k) {
                Some(&t) => wanted.push(t),
                None => {
                    return Err(TaskError::Graph(GraphError::UnknownDependency {
                        task: TaskKey::new("compute"),
                        dependency: k.to_string(),
                    }))
                }
            }
        }
        drop(index);
        // Run only what the requested keys need.
        let (graph, original) = graph.cull(&wanted);
        let mut position = HashMap::with_capacity(original.len());
        for (new, old) in original.iter().enumerate() {
            position.insert(*old, TaskId::new(new as u32));
        }
        let outputs: Vec<TaskId> = wanted.iter().map(|t| position[t]).collect();
        let tasks: Vec<GraphTask> = original
            .iter()
            .map(|t| self.tasks[t.index()].clone())
            .collect();
        let outcome = if original.iter().any(|t| self.persist[t.index()].is_some()) {
            let nodes: Vec<NodeCheckpoint<'_>> = original
                .iter()
                .map(|t| NodeCheckpoint {
                    version: self.versions[t.index()].as_deref().unwrap_or_default(),
                    persist: self.persist[t.index()].as_ref(),
                })
                .collect();
            let (graph, tasks, outputs) = checkpointed::graph(&graph, &tasks, &nodes, &outputs);
            run_graph(graph, tasks, &outputs, options)
        } else {
            run_graph(graph, tasks, &outputs, options)
        };
        Ok((outcome.outputs, outcome.report))
    }
}
