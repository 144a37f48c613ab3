//! The graph of a delayed value some of whose nodes keep their results in
//! a [`Checkpoint`].
//!
//! Once the whole graph is assembled (every key assigned, so that keys are
//! those of the full graph whatever is found), each node gets a checkpoint
//! key, dependencies first: the SHA-256 of its graph key, its function's
//! name, its version and its inputs' checkpoint keys. A checkpointed node
//! whose file exists becomes a leaf that reads it, and what only it needed
//! upstream is left out of the graph that runs; a checkpointed node that
//! runs writes its result as it finishes.

use std::any::Any;
use std::sync::Arc;

use flotilla_core::{TaskGraph, TaskId};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Assembled, Node};
use crate::checkpoint::{read_result, write_result, Checkpoint, KeyHasher};
use crate::error::TaskError;
use crate::graph_run::{GraphTask, TaskFn, Value};

/// The function name of a task that reads a result back.
const LOAD: &str = "flotilla::checkpoint::load";

/// Where a node keeps its result, and how its type is encoded.
pub(super) struct Persist {
    store: Checkpoint,
    save: fn(&Value) -> Result<Vec<u8>, String>,
    load: fn(&[u8]) -> Result<Value, String>,
}

impl Persist {
    /// Results of type `T` kept in `store`.
    pub(super) fn of<T>(store: &Checkpoint) -> Persist
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

/// The checkpoint key of every node of `assembled`, in its order.
fn keys(assembled: &Assembled<'_>) -> Vec<String> {
    let graph = &assembled.graph;
    let mut keys: Vec<String> = Vec::with_capacity(assembled.nodes.len());
    for (id, node) in graph.task_ids().zip(&assembled.nodes) {
        let mut key = KeyHasher::new("delayed");
        key.add(graph.key(id).to_string().as_bytes());
        key.add(node.function.as_bytes());
        key.add(node.version.as_deref().unwrap_or_default());
        for dep in graph.dependencies(id) {
            key.add(keys[dep.index()].as_bytes());
        }
        keys.push(key.finish());
    }
    keys
}

/// The graph to run for `assembled`, its tasks and the task of its root.
pub(super) fn graph(assembled: &Assembled<'_>) -> (TaskGraph, Vec<GraphTask>, TaskId) {
    let full = &assembled.graph;
    let keys = keys(assembled);
    let found: Vec<bool> = assembled
        .nodes
        .iter()
        .zip(&keys)
        .map(|(node, key)| node.persist.as_ref().is_some_and(|p| p.store.contains(key)))
        .collect();
    // What the root needs: a node found in the checkpoint needs nothing.
    let n = assembled.nodes.len();
    let mut needed = vec![false; n];
    if let Some(last) = needed.last_mut() {
        *last = true;
    }
    for i in (0..n).rev() {
        let id = TaskId::new(i as u32);
        if needed[i] && !found[i] {
            for dep in full.dependencies(id) {
                needed[dep.index()] = true;
            }
        }
    }
    let mut new_id: Vec<Option<TaskId>> = vec![None; n];
    let kept = needed.iter().filter(|&&k| k).count();
    let mut graph = TaskGraph::with_capacity(kept, full.edge_count());
    let mut tasks = Vec::with_capacity(kept);
    let mut deps = Vec::new();
    for (id, node) in full.task_ids().zip(&assembled.nodes) {
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
        tasks.push(task(node, &keys[i], found[i]));
    }
    let root = new_id.last().copied().flatten().unwrap_or(TaskId::new(0));
    (graph, tasks, root)
}

/// The task of `node`, whose checkpoint key is `key`: reading its result
/// back when `found`, else running it and, if it is checkpointed, writing
/// its result.
fn task(node: &Node, key: &str, found: bool) -> GraphTask {
    let Some(persist) = node.persist.clone() else {
        return GraphTask {
            func: Arc::clone(&node.func),
            function: node.function,
            hand_over: node.hand_over,
        };
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
        let run = Arc::clone(&node.func);
        let function = node.function;
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
        function: if found { LOAD } else { node.function },
        hand_over: node.hand_over,
    }
}
