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

/// Which try at running a task this is: 1 for the first, one more for each
/// time the task is handed out again (a retry after a failure, a worker
/// lost while it ran). Every report about a task carries the attempt it is
/// about, so that a late report from an earlier try is recognised and
/// refused.
///
/// ```
/// use flotilla_core::Attempt;
/// let first = Attempt::FIRST;
/// assert_eq!(first.number(), 1);
/// assert_eq!(first.next().number(), 2);
/// assert_eq!(first.next().to_string(), "attempt 2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attempt(u32);

impl Attempt {
    /// The first try.
    pub const FIRST: Attempt = Attempt(1);

    /// The try after this one.
    ///
    /// ```
    /// assert_eq!(flotilla_core::Attempt::FIRST.next().number(), 2);
    /// ```
    pub const fn next(self) -> Attempt {
        Attempt(self.0.saturating_add(1))
    }

    /// The attempt of number `n` (counting from 1), as a report that
    /// crossed a process boundary carries it; `None` for 0.
    ///
    /// ```
    /// use flotilla_core::Attempt;
    /// assert_eq!(Attempt::from_number(2), Some(Attempt::FIRST.next()));
    /// assert_eq!(Attempt::from_number(0), None);
    /// ```
    pub const fn from_number(n: u32) -> Option<Attempt> {
        if n == 0 {
            None
        } else {
            Some(Attempt(n))
        }
    }

    /// Its number, counting from 1.
    ///
    /// ```
    /// assert_eq!(flotilla_core::Attempt::FIRST.number(), 1);
    /// ```
    pub const fn number(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attempt {}", self.0)
    }
}
