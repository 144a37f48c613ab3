//! Retries: why an attempt failed and what each task has used.

#[cfg(doc)]
use super::Scheduler;
use crate::Attempt;

/// Why an attempt at a task failed, so that the retry policy can tell the
/// causes apart.
///
/// ```
/// use flotilla_core::FailureKind;
/// assert_ne!(FailureKind::Panic, FailureKind::WorkerLost);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The task's function returned an error.
    Error,
    /// The task's function panicked.
    Panic,
    /// The worker running it was lost (its process died, its machine left).
    /// Does not use up a retry; a task that was running on
    /// [`Scheduler::suspicious_after`] lost workers fails instead of being
    /// given another one.
    WorkerLost,
}

/// The tries of one task: the attempt handed out last, the retries it used
/// (failures with an error or a panic), the workers lost while it ran, and
/// why it failed once it did.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tries {
    pub(super) attempt: Attempt,
    pub(super) retries_used: u32,
    pub(super) lost_workers: u32,
    pub(super) failure: Option<FailureKind>,
}

impl Default for Tries {
    fn default() -> Tries {
        Tries {
            attempt: Attempt::FIRST,
            retries_used: 0,
            lost_workers: 0,
            failure: None,
        }
    }
}
