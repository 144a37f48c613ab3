//! A successful command's stderr, kept: written to the output folder's
//! `_logs/` and summarized for the report.

use super::command::StderrLog;
use super::{CommandRole, StreamingError, TaskStderr};
use crate::output::OutputDir;

/// Writes `log` to `_logs/` under the task's name (`map-00003.stderr`,
/// `map-00003.combiner.stderr`, `reduce-00000.stderr`) and returns its
/// summary.
pub(super) fn keep_stderr(
    output: &OutputDir,
    kind: &str,
    index: usize,
    role: CommandRole,
    log: StderrLog,
) -> Result<TaskStderr, StreamingError> {
    let name = match role {
        CommandRole::Combiner => format!("{kind}-{index:05}.combiner.stderr"),
        CommandRole::Mapper | CommandRole::Reducer => format!("{kind}-{index:05}.stderr"),
    };
    let path = output.write_log(&name, &log.text)?;
    Ok(TaskStderr {
        task: format!("{kind}[{index}]"),
        role,
        first_line: log.first_line,
        bytes: log.bytes,
        log: path,
    })
}
