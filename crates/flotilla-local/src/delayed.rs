//! Lazy values whose combination builds a task graph — `dask.delayed`.
//!
//! A [`Delayed<T>`] is a node of a graph that is only described, not run:
//! combining delayed values ([`Delayed::map`], [`Delayed::zip_with`],
//! [`Delayed::gather`]) adds nodes. [`Delayed::compute`] walks the graph from
//! the value asked for, numbers each distinct node once (a node used by two
//! others is one task, computed once), hands the graph to the scheduler core
//! and runs it on a pool. Nodes hold `Fn` closures, so the same delayed value
//! can be computed again.
//!
//! # Task keys
//!
//! Keys are names, not numbers drawn from a process-wide counter: the same
//! graph gets the same keys in every process, whatever else was built before,
//! so that what is learned or saved per key (task durations per
//! [`TaskKey::kind`], checkpoints) means the same thing next time.
//!
//! A node's key is either *given* or *generated*:
//!
//! - [`Delayed::named`] gives a node a key, which every graph keeps exactly.
//! - Every other key is generated: the nodes [`Delayed::value`],
//!   [`Delayed::map`] and the like make share one group per kind of node
//!   (`value`, `map`, ...) and carry no index, and [`Delayed::named_op`]
//!   gives a node the key of an operation (a group name shared by the
//!   operation's tasks, which are [siblings](TaskKey::sibling), an index each).
//!
//! When a graph is assembled (to compute it, count or draw it) its nodes are
//! visited in one deterministic order — dependencies first, in argument
//! order, depending only on the graph's shape — and generated keys are made
//! unique in that order. An operation's group is one name *string*, told
//! apart by identity ([`TaskKey::same_group`]), not by its text: the first
//! group named `N` met keeps `N`, a later different group with the same
//! name becomes `N#2`, then `N#3`, and so on, so all of them are of kind
//! `N`. A generated group also moves on to the next free `N#k` when a given
//! key uses its name (`N`, `N[3]`, or the text `"N[3]"` as a whole name): a
//! given key is never renamed. A generated key without an index gets the
//! next index of its group, in the same order: the third `map` node met is
//! `map[2]`. (An operation's group should hold keys that all have an index
//! or all have none.) Renaming allocates once per renamed group, never per
//! task, and the walk is linear in the size of the graph.
//!
//! ```
//! use flotilla_local::Delayed;
//! use flotilla_core::TaskKey;
//!
//! let twice = |x: &i32| x * 2;
//! let a = Delayed::value(1).named_op(TaskKey::indexed("double", 0));
//! let b = Delayed::value(2).named_op(TaskKey::indexed("double", 0)); // another group, same name
//! let sum = a.zip_with(&b, |x, y| x + y).map(twice);
//! let dot = sum.to_dot();
//! assert!(dot.contains("\"double[0]\"") && dot.contains("\"double#2[0]\""));
//! assert!(dot.contains("\"zip[0]\" -> \"map[0]\""));
//! assert_eq!(sum.key(), "map[0]");
//! ```

use std::any::{type_name, Any};
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use flotilla_core::{RunReport, TaskGraph, TaskId, TaskKey, TaskOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::checkpointed::{NodeCheckpoint, Persist};

use crate::checkpoint::Checkpoint;
use crate::error::TaskError;
use crate::graph_run::{run_graph, ComputeOptions, GraphTask, TaskFn, Value};

/// Whether a node's key was given by the user (kept exactly) or generated
/// (made unique when a graph is assembled); see the module docs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Naming {
    Given,
    Generated,
}

struct Node {
    key: TaskKey,
    naming: Naming,
    deps: Vec<Arc<Node>>,
    func: TaskFn,
    function: &'static str,
    /// How many times the task runs again after an error or a panic.
    retries: u32,
    /// Whether its result goes to its last reader (see
    /// [`Delayed::hand_over`]).
    hand_over: bool,
    /// What the user says its result depends on besides its key, function
    /// and inputs (see [`Delayed::version`]).
    version: Option<Arc<[u8]>>,
    /// Where its result is kept across runs (see [`Delayed::checkpoint`]).
    persist: Option<Arc<Persist>>,
}

impl Node {
    /// The same node, to be changed and shared anew.
    fn copy(&self) -> Node {
        Node {
            key: self.key.clone(),
            naming: self.naming,
            deps: self.deps.clone(),
            func: Arc::clone(&self.func),
            function: self.function,
            retries: self.retries,
            hand_over: self.hand_over,
            version: self.version.clone(),
            persist: self.persist.clone(),
        }
    }
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
        .ok_or_else(|| wrong_type::<T>(index))
}

/// Input `index`, `v`, taken by value: moved out when the task holds the
/// only copy (a [handed-over](Delayed::hand_over) input read by its last
/// reader), cloned otherwise. The stored result is never emptied, so a task
/// that runs again reads its inputs as the first attempt did.
fn owned<T: Clone + Send + Sync + 'static>(v: Value, index: usize) -> Result<T, TaskError> {
    let typed = v.downcast::<T>().map_err(|_| wrong_type::<T>(index))?;
    Ok(Arc::try_unwrap(typed).unwrap_or_else(|shared| (*shared).clone()))
}

/// Input `index` is not the `T` the task's function reads.
fn wrong_type<T>(index: usize) -> TaskError {
    TaskError::WrongInputType {
        // The graph run puts the task's key here.
        task: String::new(),
        index,
        expected: type_name::<T>(),
        found: "value of another type",
    }
}

/// The value of a fallible task function's outcome, or its error as a
/// failure of the task (the graph run puts the task's key in).
fn fallible<U: Send + Sync + 'static, E: fmt::Display>(
    outcome: Result<U, E>,
    function: &str,
) -> Result<Value, TaskError> {
    match outcome {
        Ok(v) => Ok(Arc::new(v) as Value),
        Err(e) => Err(TaskError::Failed {
            task: String::new(),
            function: function.to_string(),
            message: e.to_string(),
        }),
    }
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

/// The groups of the generated keys of Delayed's own nodes. Each group's
/// name is allocated once per process, so making a node allocates no string;
/// the nodes carry no index until a graph is assembled.
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
    names[group as usize].clone()
}

/// The keys of a graph being assembled: given keys as they are, generated
/// groups renamed where their names are taken (see the module docs).
#[derive(Default)]
struct KeyNames<'a> {
    /// The names in use.
    names: Names<'a>,
    /// The name string of the given key last reserved, to skip its
    /// siblings quickly.
    last_given: Option<*const u8>,
    /// Each generated group met, by the address of its name string.
    groups: HashMap<*const u8, GroupNames, BuildHasherDefault<AddressHasher>>,
}

/// The group names in use in a graph being assembled.
#[derive(Default)]
struct Names<'a> {
    /// The names given keys use and the names generated groups have taken.
    taken: HashSet<Cow<'a, str>>,
    /// The next `#k` suffix to try, per name of generated groups.
    next_suffix: HashMap<&'a str, u64>,
}

/// How one generated group is named in the assembled graph.
struct GroupNames {
    /// A key with the group's name in the graph (shared by all its keys).
    name: TaskKey,
    /// The index the next key of the group without an index gets.
    next_index: u64,
}

impl<'a> KeyNames<'a> {
    /// Reserves the name of a given key, and for a key without index whose
    /// whole name reads as an indexed key (`"map[3]"`), that group name
    /// (`map`) too, so that no generated key is shown like it.
    fn reserve(&mut self, key: &'a TaskKey) {
        let name = key.group();
        if self.last_given != Some(name.as_ptr()) {
            self.last_given = Some(name.as_ptr());
            self.names.taken.insert(Cow::Borrowed(name));
        }
        if key.index().is_none() && name.ends_with(']') {
            if let Some(open) = name.rfind('[') {
                self.names.taken.insert(Cow::Borrowed(&name[..open]));
            }
        }
    }

    /// The key a generated key has in the graph. Call only after every
    /// given key is reserved, in the graph's order.
    fn generated(&mut self, key: &'a TaskKey) -> TaskKey {
        let group = match self.groups.entry(key.group().as_ptr()) {
            Entry::Occupied(group) => group.into_mut(),
            Entry::Vacant(new) => new.insert(GroupNames {
                name: self.names.claim(key),
                next_index: 0,
            }),
        };
        let index = key.index().unwrap_or_else(|| {
            group.next_index += 1;
            group.next_index - 1
        });
        group.name.sibling(index)
    }
}

impl<'a> Names<'a> {
    /// The name of a generated group met for the first time: its own if
    /// free, else the first free `name#k` (k from 2), now taken.
    fn claim(&mut self, key: &'a TaskKey) -> TaskKey {
        let name = key.group();
        if self.taken.insert(Cow::Borrowed(name)) {
            return key.clone();
        }
        let mut k = self.next_suffix.get(name).copied().unwrap_or(2);
        let renamed = loop {
            let candidate = format!("{name}#{k}");
            k += 1;
            if !self.taken.contains(candidate.as_str()) {
                break candidate;
            }
        };
        self.next_suffix.insert(name, k);
        let group = TaskKey::new(renamed.as_str());
        self.taken.insert(Cow::Owned(renamed));
        group
    }
}

/// The graph of a delayed value: its tasks in order (the value's own task
/// last) and the node each comes from.
struct Assembled<'a> {
    graph: TaskGraph,
    nodes: Vec<&'a Node>,
    /// Whether any node keeps its result in a checkpoint.
    checkpointed: bool,
}

impl Assembled<'_> {
    /// The task of the value the graph was assembled for.
    fn root(&self) -> TaskId {
        TaskId::new(self.nodes.len().saturating_sub(1) as u32)
    }
}

impl<T: Send + Sync + 'static> Delayed<T> {
    fn from_node(
        key: TaskKey,
        deps: Vec<Arc<Node>>,
        func: TaskFn,
        function: &'static str,
    ) -> Delayed<T> {
        Delayed::from_named_node(key, Naming::Generated, deps, func, function)
    }

    fn from_named_node(
        key: TaskKey,
        naming: Naming,
        deps: Vec<Arc<Node>>,
        func: TaskFn,
        function: &'static str,
    ) -> Delayed<T> {
        Delayed {
            node: Arc::new(Node {
                key,
                naming,
                deps,
                func,
                function,
                retries: 0,
                hand_over: false,
                version: None,
                persist: None,
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
    /// graph), which every graph keeps exactly as given: generated keys
    /// that would clash with it are the ones renamed.
    ///
    /// ```
    /// let d = flotilla_local::Delayed::value(1).named("one");
    /// assert_eq!(d.key(), "one");
    /// ```
    pub fn named(self, key: impl Into<TaskKey>) -> Delayed<T> {
        self.renamed(key.into(), Naming::Given)
    }

    /// Gives this node a generated key of an operation, for libraries that
    /// build graphs: make one group per operation (a fresh
    /// [`TaskKey::new`] or [`TaskKey::indexed`], its name the operation's
    /// plain name without any number) and key its tasks as
    /// [siblings](TaskKey::sibling) of it. When a graph is assembled, the
    /// first group of a name keeps the name and later different groups of
    /// the same name get `#2`, `#3`, ... (see the module docs); a key
    /// without index gets the next index of its group.
    ///
    /// ```
    /// use flotilla_core::TaskKey;
    /// use flotilla_local::Delayed;
    ///
    /// let op = TaskKey::indexed("load", 0);
    /// let parts: Vec<_> = (0..2).map(|i| Delayed::value(i).named_op(op.sibling(i))).collect();
    /// let other = Delayed::value(5).named_op(TaskKey::indexed("load", 0));
    /// let all = Delayed::gather(&parts, |v| v.len()).zip_with(&other, |a, b| a + b);
    /// let dot = all.to_dot();
    /// assert!(dot.contains("\"load[1]\"") && dot.contains("\"load#2[0]\""));
    /// ```
    pub fn named_op(self, key: TaskKey) -> Delayed<T> {
        self.renamed(key, Naming::Generated)
    }

    fn renamed(self, key: TaskKey, naming: Naming) -> Delayed<T> {
        self.changed(|node| {
            node.key = key;
            node.naming = naming;
        })
    }

    /// This node with `change` made to a copy of it.
    fn changed(self, change: impl FnOnce(&mut Node)) -> Delayed<T> {
        let mut node = self.node.copy();
        change(&mut node);
        Delayed {
            node: Arc::new(node),
            _type: PhantomData,
        }
    }

    /// Lets this value's task run again up to `retries` more times when
    /// its function returns an error or panics (default 0: the first
    /// failure is final). The tasks that read it wait for the attempt that
    /// succeeds; a retried attempt's error is forgotten.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use flotilla_local::Delayed;
    /// let tries = AtomicU32::new(0);
    /// let flaky = Delayed::value(20).try_map(move |x| {
    ///     match tries.fetch_add(1, Ordering::SeqCst) {
    ///         0 => Err("the first try times out"),
    ///         _ => Ok(x + 1),
    ///     }
    /// });
    /// assert_eq!(flaky.retries(1).map(|x| x * 2).compute().unwrap(), 42);
    /// ```
    pub fn retries(self, retries: u32) -> Delayed<T> {
        self.changed(|node| node.retries = retries)
    }

    /// Hands this value's result to the last task that reads it instead
    /// of sharing it until every reader finished: that reader holds the
    /// only copy (so it can move the value out instead of cloning it) and
    /// the memory goes as soon as it is done. If that reader runs again (a
    /// retry), the value is computed again from its inputs first. The
    /// result of a value being computed (the root) is never handed over.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use flotilla_local::Delayed;
    ///
    /// let made = Arc::new(AtomicU32::new(0));
    /// let counter = Arc::clone(&made);
    /// let input = Delayed::from_fn(move || {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    ///     vec![1, 2, 3]
    /// })
    /// .hand_over();
    /// let tries = AtomicU32::new(0);
    /// let sum = input
    ///     .try_map(move |v| match tries.fetch_add(1, Ordering::SeqCst) {
    ///         0 => Err("the first try fails"),
    ///         _ => Ok(v.iter().sum::<i32>()),
    ///     })
    ///     .retries(1);
    /// assert_eq!(sum.compute().unwrap(), 6);
    /// // The first try held the only copy; the retry read a new one.
    /// assert_eq!(made.load(Ordering::SeqCst), 2);
    /// ```
    pub fn hand_over(self) -> Delayed<T> {
        self.changed(|node| node.hand_over = true)
    }

    /// Says what this node's result depends on besides its key, its
    /// function's name and its inputs: a version of the function, or for a
    /// value or a call without inputs, what it reads (the bytes of the
    /// value, a file's size and modification time). A checkpointed node's
    /// key chains the versions of every node upstream of it, so a new
    /// version computes this node and the checkpointed nodes downstream
    /// of it again, and nothing else (see [`Delayed::checkpoint`]).
    /// Versions add up: a second call adds to what the first said (a
    /// library's version of what a source reads, then the user's).
    ///
    /// ```
    /// use flotilla_local::{Checkpoint, Delayed};
    /// let dir = std::env::temp_dir().join(format!("flotilla-version-doc-{}", std::process::id()));
    /// let checkpoint = Checkpoint::open(&dir).unwrap();
    /// for x in [2u64, 2, 3] {
    ///     let input = Delayed::value(x).version(x.to_le_bytes());
    ///     let squared = input.map(|v| v * v).checkpoint(&checkpoint);
    ///     assert_eq!(squared.compute().unwrap(), x * x);
    /// }
    /// // 2 computed, 2 read back, 3 computed.
    /// assert_eq!((checkpoint.computed(), checkpoint.loaded()), (2, 1));
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn version(self, version: impl AsRef<[u8]>) -> Delayed<T> {
        let version = version.as_ref();
        self.changed(|node| {
            // Each version is added with its length, so that where one
            // ends and the next starts is part of the key.
            let mut all = node.version.as_deref().unwrap_or_default().to_vec();
            all.extend_from_slice(&(version.len() as u64).to_le_bytes());
            all.extend_from_slice(version);
            node.version = Some(Arc::from(all));
        })
    }

    /// The key of this node in the graph that computes it (the one
    /// [`Delayed::compute`] runs and errors name). A given key is returned
    /// as it is; a generated one is found by assembling that graph, and can
    /// differ inside a larger graph, where generated keys are numbered in
    /// that graph's order.
    ///
    /// ```
    /// use flotilla_local::Delayed;
    /// let x = Delayed::value(1);
    /// assert_eq!(x.key(), "value[0]");
    /// assert_eq!(x.map(|v| v + 1).key(), "map[0]");
    /// ```
    pub fn key(&self) -> String {
        match self.node.naming {
            Naming::Given => self.node.key.to_string(),
            Naming::Generated => {
                let assembled = self.assemble();
                assembled.graph.key(assembled.root()).to_string()
            }
        }
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

    /// A delayed `f(self)` that takes the value by value: moved when this
    /// task holds the only copy of it (this value [handed
    /// over](Delayed::hand_over) and read by no other task), cloned
    /// otherwise. Nothing is emptied: a task that runs again, or another
    /// reader, finds the value as it was.
    ///
    /// ```
    /// use flotilla_local::Delayed;
    /// let words = Delayed::from_fn(|| vec!["a".to_string(), "b".to_string()]).hand_over();
    /// let joined = words.map_owned(|w: Vec<String>| w.concat()); // no clone of the strings
    /// assert_eq!(joined.compute().unwrap(), "ab");
    /// ```
    pub fn map_owned<U, F>(&self, f: F) -> Delayed<U>
    where
        T: Clone,
        U: Send + Sync + 'static,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        let key = new_key(Group::Map);
        Delayed::from_node(
            key,
            vec![Arc::clone(&self.node)],
            Arc::new(move |mut inputs| {
                let input = owned::<T>(inputs.swap_remove(0), 0)?;
                Ok(Arc::new(f(input)) as Value)
            }),
            type_name::<F>(),
        )
    }

    /// A delayed fallible `f(self)`, taking the value as
    /// [`Delayed::map_owned`] does; an `Err` fails the task as in
    /// [`Delayed::try_map`].
    ///
    /// ```
    /// use flotilla_local::Delayed;
    /// let parsed = Delayed::value(Ok::<u8, String>(7)).try_map_owned(|r: Result<u8, String>| r);
    /// assert_eq!(parsed.compute().unwrap(), 7);
    /// let failed = Delayed::value(Err::<u8, String>("no".into())).try_map_owned(|r| r);
    /// assert!(failed.compute().is_err());
    /// ```
    pub fn try_map_owned<U, E, F>(&self, f: F) -> Delayed<U>
    where
        T: Clone,
        U: Send + Sync + 'static,
        E: fmt::Display,
        F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
    {
        let key = new_key(Group::TryMap);
        let function = type_name::<F>();
        Delayed::from_node(
            key,
            vec![Arc::clone(&self.node)],
            Arc::new(move |mut inputs| {
                fallible(f(owned::<T>(inputs.swap_remove(0), 0)?), function)
            }),
            function,
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
            Arc::new(move |inputs| fallible(f(downcast::<T>(&inputs[0], 0)?), function)),
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

    /// A delayed `f` over all of `items` at once, each taken by value as
    /// [`Delayed::map_owned`] takes its input: a tree reduction's combining
    /// step moves its partial results instead of cloning them.
    ///
    /// ```
    /// use flotilla_local::Delayed;
    /// let parts: Vec<_> = (0..3)
    ///     .map(|i| Delayed::from_fn(move || vec![i; 2]).hand_over())
    ///     .collect();
    /// let all = Delayed::gather_owned(&parts, |parts: Vec<Vec<i32>>| parts.concat());
    /// assert_eq!(all.compute().unwrap(), [0, 0, 1, 1, 2, 2]);
    /// ```
    pub fn gather_owned<U, F>(items: &[Delayed<T>], f: F) -> Delayed<U>
    where
        T: Clone,
        U: Send + Sync + 'static,
        F: Fn(Vec<T>) -> U + Send + Sync + 'static,
    {
        let key = new_key(Group::Gather);
        Delayed::from_node(
            key,
            items.iter().map(|d| Arc::clone(&d.node)).collect(),
            Arc::new(move |inputs| {
                let values = inputs
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| owned::<T>(v, i))
                    .collect::<Result<Vec<T>, _>>()?;
                Ok(Arc::new(f(values)) as Value)
            }),
            type_name::<F>(),
        )
    }

    /// The graph that computing this value runs: each distinct node once,
    /// dependencies first, with the keys it has in this graph (see the
    /// module docs).
    fn assemble(&self) -> Assembled<'_> {
        let mut ids: HashMap<*const Node, TaskId, BuildHasherDefault<AddressHasher>> =
            HashMap::default();
        let mut nodes: Vec<&Node> = Vec::new();
        let mut edges: Vec<TaskId> = Vec::new();
        let mut names = KeyNames::default();
        // Iterative post-order: (node, whether its dependencies are queued).
        // The order depends only on the graph's shape and argument order.
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
            // Dependencies were numbered first.
            edges.extend(node.deps.iter().map(|d| ids[&Arc::as_ptr(d)]));
            ids.insert(ptr, TaskId::new(nodes.len() as u32));
            if node.naming == Naming::Given {
                names.reserve(&node.key);
            }
            nodes.push(node);
        }
        // Generated keys are named once every given key is known.
        let mut graph = TaskGraph::with_capacity(nodes.len(), edges.len());
        let mut edges = edges.as_slice();
        for &node in &nodes {
            let (deps, rest) = edges.split_at(node.deps.len());
            edges = rest;
            let key = match node.naming {
                Naming::Given => node.key.clone(),
                Naming::Generated => names.generated(&node.key),
            };
            // Dependencies were added first, so this fails only past 2^32
            // tasks, as the ids above would.
            let options = TaskOptions {
                retries: node.retries,
                ..TaskOptions::default()
            };
            let _ = graph.add_task_with(key, deps, options);
        }
        let checkpointed = nodes.iter().any(|node| node.persist.is_some());
        Assembled {
            graph,
            nodes,
            checkpointed,
        }
    }

    /// The graph that computing this value runs, the functions of its tasks
    /// and the task of the value.
    fn graph(&self) -> (TaskGraph, Vec<GraphTask>, TaskId) {
        let assembled = self.assemble();
        let root = assembled.root();
        let tasks: Vec<GraphTask> = assembled
            .nodes
            .iter()
            .map(|node| GraphTask {
                func: Arc::clone(&node.func),
                function: node.function,
                hand_over: node.hand_over,
            })
            .collect();
        if assembled.checkpointed {
            let nodes: Vec<NodeCheckpoint<'_>> = assembled
                .nodes
                .iter()
                .map(|node| NodeCheckpoint {
                    version: node.version.as_deref().unwrap_or_default(),
                    persist: node.persist.as_ref(),
                })
                .collect();
            let (graph, tasks, outputs) =
                crate::checkpointed::graph(&assembled.graph, &tasks, &nodes, &[root]);
            return (graph, tasks, outputs.first().copied().unwrap_or(root));
        }
        (assembled.graph, tasks, root)
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
        self.assemble().graph.len()
    }

    /// The graph of this value in Graphviz DOT format.
    ///
    /// ```
    /// use flotilla_local::Delayed;
    /// let d = Delayed::value(1).named("one").map(|x| x + 1).named("two");
    /// assert!(d.to_dot().contains("\"one\" -> \"two\""));
    /// ```
    pub fn to_dot(&self) -> String {
        self.assemble().graph.to_dot()
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
        let key = graph.key(root).to_string();
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

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Delayed<T> {
    /// Keeps this node's result in `checkpoint`, so that a computation run
    /// again (after a crash, a Ctrl-C, or to change a later step) reads it
    /// back instead of computing it and the part of the graph upstream of
    /// it.
    ///
    /// The result is kept under a key made, when the graph is assembled,
    /// from the node's key in the graph, its function's name, its
    /// [version](Delayed::version) and the same key of each of its inputs,
    /// checkpointed or not, all the way up the graph. Keys depend on the
    /// graph's shape, not on the process, so the same program finds its
    /// results again; a changed input or version changes the keys of the
    /// nodes downstream of it and of nothing else, and exactly those run
    /// again. What a value or a call without inputs holds is not part of
    /// its key: give such a node a [version](Delayed::version) (or a name
    /// of its own, [`Delayed::named`]) saying what it holds when that
    /// changes between runs.
    ///
    /// A checkpointed task writes its result (encoded with `postcard`)
    /// as it finishes; a result that cannot be encoded or written fails
    /// the task with a message naming the file, and a damaged file fails
    /// the task reading it (remove the file to compute it again).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use flotilla_local::{Checkpoint, Delayed};
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-checkpoint-doc-{}", std::process::id()));
    /// let runs = Arc::new(AtomicU32::new(0));
    /// for _ in 0..2 {
    ///     let checkpoint = Checkpoint::open(&dir).unwrap();
    ///     let counter = Arc::clone(&runs);
    ///     let slow = Delayed::value(20u64)
    ///         .map(move |x| {
    ///             counter.fetch_add(1, Ordering::SeqCst);
    ///             x * 2
    ///         })
    ///         .checkpoint(&checkpoint);
    ///     assert_eq!(slow.map(|x| x + 2).compute().unwrap(), 42);
    /// }
    /// // The second run read the doubled value back.
    /// assert_eq!(runs.load(Ordering::SeqCst), 1);
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn checkpoint(self, checkpoint: &Checkpoint) -> Delayed<T> {
        let persist = Arc::new(Persist::of::<T>(checkpoint));
        self.changed(|node| node.persist = Some(persist))
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
