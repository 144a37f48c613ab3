//! The task graph: tasks with keys, dependencies, priorities and cost hints.
//!
//! A [`TaskGraph`] is a plain description — it runs nothing. Dependencies are
//! stored in compressed form (one flat vector of [`TaskId`]s plus one offset
//! per task), so a graph of a million tasks costs tens of bytes per task.
//!
//! There are two ways to build one:
//!
//! * [`TaskGraph::add_task`] appends a task whose dependencies already exist.
//!   A graph built this way cannot contain a cycle, and building it needs no
//!   hash map: this is the path of lazy values and of the collections.
//! * [`KeyedGraphBuilder`] takes tasks in any order with dependencies named by
//!   key, like a Dask graph dictionary. [`KeyedGraphBuilder::build`] resolves
//!   the names and rejects unknown keys, duplicate keys and cycles with an
//!   error that names the tasks involved.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::{TaskId, TaskKey};

/// Why a graph could not be built.
///
/// ```
/// use flotilla_core::{GraphError, KeyedGraphBuilder};
/// let mut b = KeyedGraphBuilder::new();
/// b.insert("a", ["b"]);
/// b.insert("b", ["a"]);
/// let err = b.build().unwrap_err();
/// assert!(matches!(err, GraphError::Cycle { .. }));
/// assert_eq!(err.to_string(), "the task graph has a cycle: a -> b -> a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// A task names a dependency that is not in the graph.
    #[error("task {task} depends on {dependency}, which is not in the graph")]
    UnknownDependency {
        /// The task that names the dependency.
        task: TaskKey,
        /// The missing dependency, as it was named.
        dependency: String,
    },
    /// Two tasks were given the same key.
    #[error("two tasks have the key {0}")]
    DuplicateKey(TaskKey),
    /// The dependencies form a cycle, so no task of it could ever start.
    #[error("the task graph has a cycle: {}", fmt_cycle(.cycle))]
    Cycle {
        /// The tasks of the cycle, in dependency order; the first one is
        /// repeated at the end.
        cycle: Vec<TaskKey>,
    },
    /// More tasks than a graph can index (2^32 - 1).
    #[error("a task graph holds at most {max} tasks")]
    TooManyTasks {
        /// The limit.
        max: u64,
    },
}

fn fmt_cycle(cycle: &[TaskKey]) -> String {
    let mut s = String::new();
    for (i, k) in cycle.iter().enumerate() {
        if i > 0 {
            s.push_str(" -> ");
        }
        let _ = write!(s, "{k}");
    }
    s
}

/// Scheduling hints of one task.
///
/// ```
/// use flotilla_core::TaskOptions;
/// let o = TaskOptions { priority: 10, cost: 2.5, retries: 2 };
/// assert_eq!(TaskOptions::default().priority, 0);
/// assert_eq!(o.cost, 2.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskOptions {
    /// Higher runs first among tasks that are ready at the same time.
    pub priority: i32,
    /// Relative cost estimate (default 1.0), used by load-aware placement.
    pub cost: f32,
    /// How many times the task is tried again after it fails with an
    /// error or a panic (default 0: a failure is final). A worker lost
    /// while the task ran does not use up a retry.
    pub retries: u32,
}

impl Default for TaskOptions {
    fn default() -> TaskOptions {
        TaskOptions {
            priority: 0,
            cost: 1.0,
            retries: 0,
        }
    }
}

/// A directed acyclic graph of tasks.
///
/// # Examples
///
/// ```
/// use flotilla_core::{TaskGraph, TaskKey};
///
/// let mut g = TaskGraph::new();
/// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
/// let b = g.add_task(TaskKey::new("b"), &[]).unwrap();
/// let sum = g.add_task(TaskKey::new("sum"), &[a, b]).unwrap();
/// assert_eq!(g.len(), 3);
/// assert_eq!(g.dependencies(sum), &[a, b]);
/// assert!(g.to_dot().contains("\"a\" -> \"sum\""));
/// ```
#[derive(Debug, Clone, Default)]
pub struct TaskGraph {
    keys: Vec<TaskKey>,
    dep_offsets: Vec<u32>,
    deps: Vec<TaskId>,
    priority: Vec<i32>,
    cost: Vec<f32>,
    retries: Vec<u32>,
    /// Each task's kind, an index into `kind_names`.
    kind: Vec<u32>,
    kind_names: Vec<Box<str>>,
    kind_index: HashMap<Box<str>, u32>,
}

const MAX_TASKS: usize = u32::MAX as usize - 1;

impl TaskGraph {
    /// An empty graph.
    ///
    /// ```
    /// assert!(flotilla_core::TaskGraph::new().is_empty());
    /// ```
    pub fn new() -> TaskGraph {
        TaskGraph {
            dep_offsets: vec![0],
            ..TaskGraph::default()
        }
    }

    /// An empty graph with room for `tasks` tasks and `edges` dependencies.
    ///
    /// ```
    /// let g = flotilla_core::TaskGraph::with_capacity(10, 9);
    /// assert_eq!(g.len(), 0);
    /// ```
    pub fn with_capacity(tasks: usize, edges: usize) -> TaskGraph {
        let mut dep_offsets = Vec::with_capacity(tasks + 1);
        dep_offsets.push(0);
        TaskGraph {
            keys: Vec::with_capacity(tasks),
            dep_offsets,
            deps: Vec::with_capacity(edges),
            priority: Vec::with_capacity(tasks),
            cost: Vec::with_capacity(tasks),
            retries: Vec::with_capacity(tasks),
            kind: Vec::with_capacity(tasks),
            ..TaskGraph::default()
        }
    }

    /// Appends a task with default options; its dependencies must already be
    /// in the graph, so no cycle can form.
    ///
    /// # Errors
    ///
    /// [`GraphError::UnknownDependency`] if a dependency id is not in the
    /// graph, [`GraphError::TooManyTasks`] past 2^32 - 1 tasks.
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskId, TaskKey};
    /// let mut g = TaskGraph::new();
    /// assert!(g.add_task(TaskKey::new("x"), &[TaskId::new(5)]).is_err());
    /// ```
    pub fn add_task(&mut self, key: TaskKey, deps: &[TaskId]) -> Result<TaskId, GraphError> {
        self.add_task_with(key, deps, TaskOptions::default())
    }

    /// Appends a task with explicit [`TaskOptions`].
    ///
    /// # Errors
    ///
    /// As [`TaskGraph::add_task`].
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskKey, TaskOptions};
    /// let mut g = TaskGraph::new();
    /// let t = g.add_task_with(TaskKey::new("urgent"), &[], TaskOptions { priority: 5, ..Default::default() }).unwrap();
    /// assert_eq!(g.options(t).priority, 5);
    /// ```
    pub fn add_task_with(
        &mut self,
        key: TaskKey,
        deps: &[TaskId],
        options: TaskOptions,
    ) -> Result<TaskId, GraphError> {
        let id = self.keys.len();
        if id >= MAX_TASKS {
            return Err(GraphError::TooManyTasks {
                max: MAX_TASKS as u64,
            });
        }
        if let Some(bad) = deps.iter().find(|d| d.index() >= id) {
            return Err(GraphError::UnknownDependency {
                task: key,
                dependency: bad.to_string(),
            });
        }
        let kind = self.intern_kind(&key);
        self.deps.extend_from_slice(deps);
        self.dep_offsets.push(self.deps.len() as u32);
        self.kind.push(kind);
        self.keys.push(key);
        self.priority.push(options.priority);
        self.cost.push(options.cost);
        self.retries.push(options.retries);
        Ok(TaskId::new(id as u32))
    }

    /// The kind of `key`, numbered: a key of the same group as the task
    /// added last (the common case, siblings) costs no lookup.
    fn intern_kind(&mut self, key: &TaskKey) -> u32 {
        if let (Some(last), Some(&kind)) = (self.keys.last(), self.kind.last()) {
            if last.same_group(key) {
                return kind;
            }
        }
        let name = key.kind();
        if let Some(&k) = self.kind_index.get(name) {
            return k;
        }
        let k = self.kind_names.len() as u32;
        self.kind_names.push(name.into());
        self.kind_index.insert(name.into(), k);
        k
    }

    /// The kind of `task` ([`TaskKey::kind`]) as a dense number below
    /// [`TaskGraph::kind_count`], for per-kind tables.
    ///
    /// # Panics
    ///
    /// Panics if `task` is not in the graph.
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::indexed("load", 0), &[]).unwrap();
    /// let b = g.add_task(TaskKey::indexed("sum", 0), &[a]).unwrap();
    /// let c = g.add_task(TaskKey::indexed("load#2", 0), &[]).unwrap();
    /// assert_eq!(g.kind_of(a), g.kind_of(c));
    /// assert_ne!(g.kind_of(a), g.kind_of(b));
    /// assert_eq!(g.kind_name(g.kind_of(b)), "sum");
    /// ```
    pub fn kind_of(&self, task: TaskId) -> usize {
        self.kind[task.index()] as usize
    }

    /// The name of kind number `kind`.
    ///
    /// # Panics
    ///
    /// Panics if `kind` is not below [`TaskGraph::kind_count`].
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::indexed("load", 0), &[]).unwrap();
    /// assert_eq!(g.kind_name(g.kind_of(a)), "load");
    /// ```
    pub fn kind_name(&self, kind: usize) -> &str {
        &self.kind_names[kind]
    }

    /// The number of the kind called `name`, if a task of it is in the
    /// graph.
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::indexed("load#3", 0), &[]).unwrap();
    /// assert_eq!(g.kind_named("load"), Some(g.kind_of(a)));
    /// assert_eq!(g.kind_named("load#3"), None);
    /// ```
    pub fn kind_named(&self, name: &str) -> Option<usize> {
        self.kind_index.get(name).map(|&k| k as usize)
    }

    /// How many kinds of task the graph holds.
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// for i in 0..10 { g.add_task(TaskKey::indexed("load", i), &[]).unwrap(); }
    /// assert_eq!(g.kind_count(), 1);
    /// ```
    pub fn kind_count(&self) -> usize {
        self.kind_names.len()
    }

    /// The number of tasks.
    ///
    /// ```
    /// assert_eq!(flotilla_core::TaskGraph::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the graph has no task.
    ///
    /// ```
    /// assert!(flotilla_core::TaskGraph::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The number of dependency edges.
    ///
    /// ```
    /// assert_eq!(flotilla_core::TaskGraph::new().edge_count(), 0);
    /// ```
    pub fn edge_count(&self) -> usize {
        self.deps.len()
    }

    /// The key of a task.
    ///
    /// # Panics
    ///
    /// Panics if `task` is not in this graph.
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let t = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// assert_eq!(g.key(t).to_string(), "a");
    /// ```
    pub fn key(&self, task: TaskId) -> &TaskKey {
        &self.keys[task.index()]
    }

    /// The dependencies of a task, in the order they were given.
    ///
    /// # Panics
    ///
    /// Panics if `task` is not in this graph.
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let t = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// assert!(g.dependencies(t).is_empty());
    /// ```
    pub fn dependencies(&self, task: TaskId) -> &[TaskId] {
        let i = task.index();
        &self.deps[self.dep_offsets[i] as usize..self.dep_offsets[i + 1] as usize]
    }

    /// The scheduling options of a task.
    ///
    /// # Panics
    ///
    /// Panics if `task` is not in this graph.
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let t = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// assert_eq!(g.options(t).cost, 1.0);
    /// ```
    pub fn options(&self, task: TaskId) -> TaskOptions {
        TaskOptions {
            priority: self.priority[task.index()],
            cost: self.cost[task.index()],
            retries: self.retries[task.index()],
        }
    }

    /// All task ids, in insertion order.
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// assert_eq!(g.task_ids().count(), 1);
    /// ```
    pub fn task_ids(&self) -> impl ExactSizeIterator<Item = TaskId> + '_ {
        (0..self.keys.len() as u32).map(TaskId::new)
    }

    /// The graph in Graphviz DOT format: one node per task (labelled by key),
    /// one edge from each dependency to its dependent.
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// g.add_task(TaskKey::new("b"), &[a]).unwrap();
    /// let dot = g.to_dot();
    /// assert!(dot.starts_with("digraph"));
    /// assert!(dot.contains("\"a\" -> \"b\""));
    /// ```
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph flotilla {\n  rankdir=BT;\n  node [shape=box];\n");
        for t in self.task_ids() {
            let _ = writeln!(s, "  \"{}\";", escape_dot(&self.key(t).to_string()));
        }
        for t in self.task_ids() {
            for d in self.dependencies(t) {
                let _ = writeln!(
                    s,
                    "  \"{}\" -> \"{}\";",
                    escape_dot(&self.key(*d).to_string()),
                    escape_dot(&self.key(t).to_string())
                );
            }
        }
        s.push_str("}\n");
        s
    }

    /// The part of the graph that `outputs` need — themselves and everything
    /// they depend on, transitively — as a new graph in dependency order
    /// (Dask calls this culling). Returns the new graph and, for each of its
    /// tasks, the id it had in `self`.
    ///
    /// # Panics
    ///
    /// Panics if an output is not in this graph.
    ///
    /// ```
    /// use flotilla_core::{TaskGraph, TaskKey};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let _unrelated = g.add_task(TaskKey::new("u"), &[]).unwrap();
    /// let b = g.add_task(TaskKey::new("b"), &[a]).unwrap();
    /// let (sub, original) = g.cull(&[b]);
    /// assert_eq!(sub.len(), 2);
    /// assert_eq!(original, [a, b]);
    /// ```
    pub fn cull(&self, outputs: &[TaskId]) -> (TaskGraph, Vec<TaskId>) {
        const NONE: u32 = u32::MAX;
        let mut new_id = vec![NONE; self.len()];
        let mut original = Vec::new();
        let mut sub = TaskGraph::new();
        let mut deps = Vec::new();
        // Iterative post-order: (task, whether its dependencies are queued).
        let mut stack: Vec<(TaskId, bool)> = outputs.iter().rev().map(|&t| (t, false)).collect();
        let mut queued = vec![false; self.len()];
        while let Some((t, expanded)) = stack.pop() {
            if new_id[t.index()] != NONE {
                continue;
            }
            if !expanded {
                if queued[t.index()] {
                    continue;
                }
                queued[t.index()] = true;
                stack.push((t, true));
                for &d in self.dependencies(t).iter().rev() {
                    if new_id[d.index()] == NONE && !queued[d.index()] {
                        stack.push((d, false));
                    }
                }
                continue;
            }
            deps.clear();
            deps.extend(
                self.dependencies(t)
                    .iter()
                    .map(|d| TaskId::new(new_id[d.index()])),
            );
            // Dependencies were numbered first (the graph is acyclic), so
            // this cannot fail.
            if let Ok(id) = sub.add_task_with(self.key(t).clone(), &deps, self.options(t)) {
                new_id[t.index()] = id.index() as u32;
                original.push(t);
            }
        }
        (sub, original)
    }

    /// The approximate heap bytes this graph holds (for memory reports).
    ///
    /// ```
    /// assert!(flotilla_core::TaskGraph::new().heap_bytes() < 64);
    /// ```
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<TaskKey>()
            + self.dep_offsets.capacity() * 4
            + self.deps.capacity() * std::mem::size_of::<TaskId>()
            + self.priority.capacity() * 4
            + self.cost.capacity() * 4
            + self.retries.capacity() * 4
            + self.kind.capacity() * 4
            + self
                .kind_names
                .iter()
                .map(|n| n.len() * 2 + 48)
                .sum::<usize>()
    }
}

fn escape_dot(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Builds a [`TaskGraph`] from tasks given in any order, with dependencies
/// named by key (as in a Dask graph dictionary).
///
/// ```
/// use flotilla_core::KeyedGraphBuilder;
/// let mut b = KeyedGraphBuilder::new();
/// b.insert("total", ["x", "y"]);
/// b.insert("x", [] as [&str; 0]);
/// b.insert("y", [] as [&str; 0]);
/// let g = b.build().unwrap();
/// assert_eq!(g.len(), 3);
/// ```
#[derive(Debug, Default)]
pub struct KeyedGraphBuilder {
    tasks: Vec<(TaskKey, Vec<TaskKey>, TaskOptions)>,
}

impl KeyedGraphBuilder {
    /// An empty builder.
    ///
    /// ```
    /// let b = flotilla_core::KeyedGraphBuilder::new();
    /// assert!(b.build().unwrap().is_empty());
    /// ```
    pub fn new() -> KeyedGraphBuilder {
        KeyedGraphBuilder::default()
    }

    /// Adds a task named `key` that depends on the tasks named in `deps`.
    /// The task receives the next [`TaskId`] (insertion order).
    ///
    /// ```
    /// let mut b = flotilla_core::KeyedGraphBuilder::new();
    /// let id = b.insert("a", [] as [&str; 0]);
    /// assert_eq!(id.index(), 0);
    /// ```
    pub fn insert<K, D, I>(&mut self, key: K, deps: I) -> TaskId
    where
        K: Into<TaskKey>,
        D: Into<TaskKey>,
        I: IntoIterator<Item = D>,
    {
        self.insert_with(key, deps, TaskOptions::default())
    }

    /// As [`KeyedGraphBuilder::insert`], with scheduling options.
    ///
    /// ```
    /// use flotilla_core::{KeyedGraphBuilder, TaskOptions};
    /// let mut b = KeyedGraphBuilder::new();
    /// b.insert_with("a", [] as [&str; 0], TaskOptions { priority: 1, ..Default::default() });
    /// ```
    pub fn insert_with<K, D, I>(&mut self, key: K, deps: I, options: TaskOptions) -> TaskId
    where
        K: Into<TaskKey>,
        D: Into<TaskKey>,
        I: IntoIterator<Item = D>,
    {
        let id = TaskId::new(self.tasks.len() as u32);
        self.tasks.push((
            key.into(),
            deps.into_iter().map(Into::into).collect(),
            options,
        ));
        id
    }

    /// Resolves dependency names and checks the graph.
    ///
    /// # Errors
    ///
    /// [`GraphError::DuplicateKey`], [`GraphError::UnknownDependency`] or
    /// [`GraphError::Cycle`] (naming the tasks of one cycle).
    ///
    /// ```
    /// let mut b = flotilla_core::KeyedGraphBuilder::new();
    /// b.insert("a", ["nowhere"]);
    /// let e = b.build().unwrap_err();
    /// assert_eq!(e.to_string(), "task a depends on nowhere, which is not in the graph");
    /// ```
    pub fn build(self) -> Result<TaskGraph, GraphError> {
        if self.tasks.len() >= MAX_TASKS {
            return Err(GraphError::TooManyTasks {
                max: MAX_TASKS as u64,
            });
        }
        let mut index: HashMap<&TaskKey, u32> = HashMap::with_capacity(self.tasks.len());
        for (i, (key, _, _)) in self.tasks.iter().enumerate() {
            if index.insert(key, i as u32).is_some() {
                return Err(GraphError::DuplicateKey(key.clone()));
            }
        }
        let edges = self.tasks.iter().map(|t| t.1.len()).sum();
        let mut g = TaskGraph::with_capacity(self.tasks.len(), edges);
        for (key, deps, _) in &self.tasks {
            for d in deps {
                match index.get(d) {
                    Some(&j) => g.deps.push(TaskId::new(j)),
                    None => {
                        return Err(GraphError::UnknownDependency {
                            task: key.clone(),
                            dependency: d.to_string(),
                        })
                    }
                }
            }
            g.dep_offsets.push(g.deps.len() as u32);
        }
        drop(index);
        for (key, _, options) in self.tasks {
            g.keys.push(key);
            g.priority.push(options.priority);
            g.cost.push(options.cost);
            g.retries.push(options.retries);
        }
        if let Some(cycle) = find_cycle(&g) {
            return Err(GraphError::Cycle {
                cycle: cycle.into_iter().map(|t| g.key(t).clone()).collect(),
            });
        }
        Ok(g)
    }
}

/// Finds one cycle by iterative depth-first search over dependencies;
/// returns it in dependency order with the first task repeated last.
fn find_cycle(g: &TaskGraph) -> Option<Vec<TaskId>> {
    const NEW: u8 = 0;
    const ON_STACK: u8 = 1;
    const DONE: u8 = 2;
    let mut color = vec![NEW; g.len()];
    // (task, index of the next dependency to visit)
    let mut stack: Vec<(TaskId, usize)> = Vec::new();
    for root in g.task_ids() {
        if color[root.index()] != NEW {
            continue;
        }
        color[root.index()] = ON_STACK;
        stack.push((root, 0));
        while let Some(&mut (t, ref mut next)) = stack.last_mut() {
            let deps = g.dependencies(t);
            if *next < deps.len() {
                let d = deps[*next];
                *next += 1;
                match color[d.index()] {
                    NEW => {
                        color[d.index()] = ON_STACK;
                        stack.push((d, 0));
                    }
                    ON_STACK => {
                        // The stack from `d` to the top is a chain of
                        // "depends on" edges closing back on `d`.
                        let start = stack.iter().position(|&(s, _)| s == d).unwrap_or(0);
                        let mut cycle: Vec<TaskId> =
                            stack[start..].iter().map(|&(s, _)| s).collect();
                        cycle.push(d);
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                color[t.index()] = DONE;
                stack.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn add_task_rejects_forward_references() {
        let mut g = TaskGraph::new();
        let err = g
            .add_task(TaskKey::new("a"), &[TaskId::new(0)])
            .unwrap_err();
        assert!(matches!(err, GraphError::UnknownDependency { .. }));
    }

    #[test]
    fn keyed_builder_resolves_forward_references() {
        let mut b = KeyedGraphBuilder::new();
        b.insert("c", ["a", "b"]);
        b.insert("a", [] as [&str; 0]);
        b.insert("b", ["a"]);
        let g = b.build().unwrap();
        assert_eq!(
            g.dependencies(TaskId::new(0)),
            &[TaskId::new(1), TaskId::new(2)]
        );
        assert_eq!(g.dependencies(TaskId::new(2)), &[TaskId::new(1)]);
    }

    #[test]
    fn keyed_builder_names_the_cycle() {
        let mut b = KeyedGraphBuilder::new();
        b.insert("ok", [] as [&str; 0]);
        b.insert("x", ["y", "ok"]);
        b.insert("y", ["z"]);
        b.insert("z", ["x"]);
        match b.build() {
            Err(GraphError::Cycle { cycle }) => {
                let names: Vec<String> = cycle.iter().map(|k| k.to_string()).collect();
                assert_eq!(names, ["x", "y", "z", "x"]);
            }
            other => panic!("expected a cycle, got {other:?}"),
        }
    }

    #[test]
    fn self_loop_is_a_cycle() {
        let mut b = KeyedGraphBuilder::new();
        b.insert("me", ["me"]);
        assert_eq!(
            b.build().unwrap_err().to_string(),
            "the task graph has a cycle: me -> me"
        );
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let mut b = KeyedGraphBuilder::new();
        b.insert(TaskKey::indexed("p", 1), [] as [&str; 0]);
        b.insert(TaskKey::indexed("p", 1), [] as [&str; 0]);
        assert_eq!(
            b.build().unwrap_err().to_string(),
            "two tasks have the key p[1]"
        );
    }

    #[test]
    fn deep_chain_does_not_overflow_the_stack() {
        let mut b = KeyedGraphBuilder::new();
        let n = 200_000u64;
        for i in 0..n {
            if i == 0 {
                b.insert(TaskKey::indexed("c", i), [] as [TaskKey; 0]);
            } else {
                b.insert(TaskKey::indexed("c", i), [TaskKey::indexed("c", i - 1)]);
            }
        }
        assert_eq!(b.build().unwrap().len(), n as usize);
    }
}
