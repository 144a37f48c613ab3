//! Graphs some of whose tasks keep their results in a [`Checkpoint`]: a
//! [`Delayed`](crate::Delayed) value's ([`Delayed::checkpoint`]) or a keyed
//! [`Graph`](crate::Graph)'s ([`Graph::checkpoint`]).
//!
//! Once the whole graph is known (every key assigned, so that keys are
//! those of the full graph whatever is found), each task gets a checkpoint
//! key, dependencies first: the SHA-256 of its graph key, its function's
//! name, its version and its inputs' checkpoint keys — so keys chain through
//! tasks that are not checkpointed too. A checkpointed task whose file
//! exists becomes a leaf that reads it, and what only it needed upstream
//! is left out of the graph that runs; a checkpointed task that runs writes
//! its result as it finishes.
//!
//! [`Delayed::checkpoint`]: crate::Delayed::checkpoint
//! [`Graph::checkpoint`]: crate::Graph::checkpoint

use std::any::Any;
use std::sync::Arc;

use flotilla_core::{TaskGraph, TaskId};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::checkpoint::{read_result, write_result, Checkpoint, KeyHasher};
use crate::error::TaskError;
use crate::graph_run::{GraphTask, TaskFn, Value};

/// The function name of a task that reads a result back.
const LOAD: &str = "flotilla::checkpoint::load";

/// Where a node keeps its result, and how its type is encoded.
pub(crate) struct Persist {
    store: Checkpoint,
    save: fn(&Value) -> Result<Vec<u8>, String>,
    load: fn(&[u8]) -> Result<Value, String>,
}

impl Persist {
    /// Results of type `T` kept in `store`.
    pub(crate) fn of<T>(store: &Checkpoint) -> Persist
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        Persist {
            store: store.clone(),
            save: save::<T>,
            load: load::<T>,
        }
    }
}

fn save<T: Serialize + 'static>(value: &Value) -> Result<Vec<u8>, String> {
    let any: &(dyn Any + Send + Sync) = &**value;
    let typed = any
        .downcast_ref::<T>()
        .ok_or_else(|| format!("the result is not a {}", std::any::type_name::<T>()))?;
    postcard::to_allocvec(typed).map_err(|e| e.to_string())
}

fn load<T: DeserializeOwned + Send + Sync + 'static>(bytes: &[u8]) -> Result<Value, String> {
    postcard::from_bytes::<T>(bytes)
        .map(|v| Arc::new(v) as Value)
        .map_err(|e| {
            format!(
                "it does not decode as a {}: {e}",
                std::any::type_name::<T>()
            )
        })
}

/// A failure of a checkpoint's own work (the graph run puts the task's key
/// in).
fn failed(function: &str, message: String) -> TaskError {
    TaskError::Failed {
        task: String::new(),
        function: function.to_string(),
        message,
    }
}

/// What a node of a graph to run says about checkpoints.
pub(crate) struct NodeCheckpoint<'a> {
    /// What its result depends on besides its key, function and inputs.
    pub(crate) version: &'a [u8],
    /// Where its result is kept, if it is.
    pub(crate) persist: Option<&'a Arc<Persist>>,
}

/// The order to visit `graph`'s tasks in, each after its dependencies.
fn dependencies_first(graph: &TaskGraph) -> Vec<TaskId> {
    let n = graph.len();
    let mut waiting: Vec<usize> = graph
        .task_ids()
        .map(|t| graph.dependencies(t).len())
        .collect();
    let mut readers: Vec<Vec<TaskId>> = vec![Vec::new(); n];
    for t in graph.task_ids() {
        for d in graph.dependencies(t) {
            readers[d.index()].push(t);
        }
    }
    let mut order: Vec<TaskId> = graph
        .task_ids()
        .filter(|t| waiting[t.index()] == 0)
        .collect();
    let mut next = 0;
    while next < order.len() {
        let t = order[next];
        next += 1;
        for &r in &readers[t.index()] {
            waiting[r.index()] -= 1;
            if waiting[r.index()] == 0 {
                order.push(r);
            }
        }
    }
    order
}

/// The graph to run for `full`, whose task `i` is `tasks[i]` with
/// `nodes[i]` saying how it is checkpointed, when `outputs` are wanted:
/// the graph, its tasks, and where each output is in it.
///
/// Each task gets a checkpoint key (dependencies first): the SHA-256 of
/// its graph key, its function's name, its version and its inputs' keys.
/// A checkpointed task whose file exists becomes a leaf that reads it, and
/// what only it needed is left out; a checkpointed task that runs writes
/// its result as it finishes.
pub(crate) fn graph(
    full: &TaskGraph,
    tasks: &[GraphTask],
    nodes: &[NodeCheckpoint<'_>],
    outputs: &[TaskId],
) -> (TaskGraph, Vec<GraphTask>, Vec<TaskId>) {
    let n = full.len();
    let order = dependencies_first(full);
    let mut keys: Vec<String> = vec![String::new(); n];
    for &id in &order {
        let node = &nodes[id.index()];
        let mut key = KeyHasher::new("graph");
        key.add(full.key(id).to_string().as_bytes());
        key.add(tasks[id.index()].function.as_bytes());
        key.add(node.version);
        for dep in full.dependencies(id) {
            key.add(keys[dep.index()].as_bytes());
        }
        keys[id.index()] = key.finish();
    }
    let found: Vec<bool> = nodes
        .iter()
        .zip(&keys)
        .map(|(node, key)| node.persist.is_some_and(|p| p.store.contains(key)))
        .collect();
    // What the outputs need: a task found in the checkpoint needs nothing.
    let mut needed = vec![false; n];
    for o in outputs {
        needed[o.index()] = true;
    }
    for &id in order.iter().rev() {
        if needed[id.index()] && !found[id.index()] {
            for dep in full.dependencies(id) {
                needed[dep.index()] = true;
            }
        }
    }
    let mut new_id: Vec<Option<TaskId>> = vec![None; n];
    let kept = needed.iter().filter(|&&k| k).count();
    let mut graph = TaskGraph::with_capacity(kept, full.edge_count());
    let mut kept_tasks = Vec::with_capacity(kept);
    let mut deps = Vec::new();
    for &id in &order {
        let i = id.index();
        if !needed[i] {
            continue;
        }
        deps.clear();
        if !found[i] {
            deps.extend(
                full.dependencies(id)
                    .iter()
                    .filter_map(|d| new_id[d.index()]),
            );
        }
        // Dependencies were added first, so this fails only past 2^32
        // tasks, as the full graph would have.
        if let Ok(added) = graph.add_task_with(full.key(id).clone(), &deps, full.options(id)) {
            new_id[i] = Some(added);
        }
        kept_tasks.push(task(&tasks[i], nodes[i].persist, &keys[i], found[i]));
    }
    let outputs = outputs
        .iter()
        .map(|o| new_id[o.index()].unwrap_or(TaskId::new(0)))
        .collect();
    (graph, kept_tasks, outputs)
}

/// The task `task`, whose checkpoint key is `key`: reading its result
/// back when `found`, else running it and, if it is checkpointed
/// (`persist`), writing its result.
fn task(task: &GraphTask, persist: Option<&Arc<Persist>>, key: &str, found: bool) -> GraphTask {
    let Some(persist) = persist.cloned() else {
        return task.clone();
    };
    let path = persist.store.path_of(key);
    let func: TaskFn = if found {
        Arc::new(move |_| {
            let bytes = read_result(&path).map_err(|e| failed(LOAD, e.to_string()))?;
            let value = (persist.load)(&bytes).map_err(|e| {
                failed(LOAD, format!("the checkpoint file {}: {e}", path.display()))
            })?;
            persist.store.count(true);
            Ok(value)
        })
    } else {
        let run = Arc::clone(&task.func);
        let function = task.function;
        Arc::new(move |inputs| {
            let value = run(inputs)?;
            let bytes = (persist.save)(&value).map_err(|e| {
                failed(
                    function,
                    format!(
                        "encoding the result for the checkpoint file {}: {e}",
                        path.display()
                    ),
                )
            })?;
            write_result(&path, &bytes).map_err(|e| failed(function, e.to_string()))?;
            persist.store.count(false);
            Ok(value)
        })
    };
    GraphTask {
        func,
        function: if found { LOAD } else { task.function },
        hand_over: task.hand_over,
    }
}
