//! Helpers shared by the scheduler's unit tests.

use super::{Command, Scheduler};
use crate::{Finish, Target, TaskId, WorkerId};

/// Reports `task` finished on `worker`, on its current attempt, with a
/// result of `bytes` bytes.
pub(super) fn finish(
    s: &mut Scheduler,
    task: TaskId,
    worker: u32,
    bytes: u64,
    out: &mut Vec<Command>,
) {
    let attempt = s.attempt(task);
    let report = Finish::new(Default::default(), bytes);
    if let Err(e) = s.task_finished(task, WorkerId::new(worker), attempt, report, out) {
        panic!("finishing {task} was refused: {e}");
    }
}

/// Where each `Run` in `out` sends its task, in order.
pub(super) fn runs(out: &[Command]) -> Vec<(TaskId, Target)> {
    out.iter()
        .filter_map(|c| match c {
            Command::Run { task, target, .. } => Some((*task, *target)),
            _ => None,
        })
        .collect()
}

/// The tasks released in `out`, in order.
pub(super) fn released(out: &[Command]) -> Vec<TaskId> {
    out.iter()
        .filter_map(|c| match c {
            Command::Release { task } => Some(*task),
            _ => None,
        })
        .collect()
}
