//! [`Slot`]: a task's result handed over, once, to the task that consumes it.

use std::fmt;
use std::sync::{Mutex, MutexGuard};

/// An error type that can report a broken invariant of a collection's own
/// graph (a bug in flotilla, not in the user's data).
pub(crate) trait InternalError {
    fn internal(message: &str) -> Self;
}

/// A task's result, or the error of the partition it came from, held for
/// the one task that consumes it and moves it out (a combining step of a
/// tree reduction, a reducer, the final collect) — so partial results are
/// never cloned.
///
/// Each computation runs every task anew, so a slot is filled once per
/// computation; a collection only hands a slot node to one consumer.
pub(crate) struct Slot<A, E>(Mutex<Option<Result<A, E>>>);

impl<A, E: InternalError> Slot<A, E> {
    pub(crate) fn new(result: Result<A, E>) -> Slot<A, E> {
        Slot(Mutex::new(Some(result)))
    }

    pub(crate) fn ok(value: A) -> Slot<A, E> {
        Slot::new(Ok(value))
    }

    /// Moves the result out.
    pub(crate) fn take(&self) -> Result<A, E> {
        lock(&self.0).take().unwrap_or_else(|| {
            Err(E::internal(
                "a partial result was consumed twice in one computation",
            ))
        })
    }
}

impl<A, E> fmt::Debug for Slot<A, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Slot")
    }
}

/// Locks a mutex, ignoring poisoning: a panic in another task is reported
/// by the graph run; the data behind these locks stays consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
