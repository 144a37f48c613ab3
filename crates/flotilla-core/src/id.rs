//! Identifiers of tasks and workers.
//!
//! Both are dense indices (`u32`), so the core stores per-task and
//! per-worker state in plain vectors: a 1,000,000-task graph costs a few
//! dozen bytes per task, not a hash map entry.

use std::fmt;

/// The index of a task inside one [`TaskGraph`](crate::TaskGraph).
///
/// Ids are dense and assigned in insertion order, starting at 0.
///
/// ```
/// use flotilla_core::TaskId;
/// let t = TaskId::new(3);
/// assert_eq!(t.index(), 3);
/// assert_eq!(t.to_string(), "t3");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(u32);

impl TaskId {
    /// Wraps an index.
    ///
    /// ```
    /// assert_eq!(flotilla_core::TaskId::new(7).index(), 7);
    /// ```
    pub const fn new(index: u32) -> TaskId {
        TaskId(index)
    }

    /// The index, for use in vectors of per-task state.
    ///
    /// ```
    /// assert_eq!(flotilla_core::TaskId::new(7).index(), 7usize);
    /// ```
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// The index of a worker (a thread of the in-process pool, a worker process
/// of a cluster, or a simulated worker).
///
/// ```
/// use flotilla_core::WorkerId;
/// let w = WorkerId::new(1);
/// assert_eq!(w.index(), 1);
/// assert_eq!(w.to_string(), "worker 1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkerId(u32);

impl WorkerId {
    /// Wraps an index.
    ///
    /// ```
    /// assert_eq!(flotilla_core::WorkerId::new(2).index(), 2);
    /// ```
    pub const fn new(index: u32) -> WorkerId {
        WorkerId(index)
    }

    /// The index, for use in vectors of per-worker state.
    ///
    /// ```
    /// assert_eq!(flotilla_core::WorkerId::new(2).index(), 2usize);
    /// ```
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "worker {}", self.0)
    }
}
