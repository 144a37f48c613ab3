//! A worker's memory: its limit (given, or a share of the machine's), the
//! mark above which its results spill to disk, the mark above which it
//! stops starting tasks, and what the system says it uses.
//!
//! - Results held in memory above [`SPILL_FRACTION`] of the limit are
//!   written to local files, least recently used first (see the store).
//! - When the process's resident memory is above [`PAUSE_FRACTION`] of the
//!   limit, the worker spills every result it holds and starts no new task
//!   while tasks it started still run (their end may free memory); its
//!   queued tasks can meanwhile be taken by other workers. Once nothing
//!   runs, waiting could never end, so it goes on one task at a time while
//!   above the mark, and says so once.

/// Results held in memory above this share of the limit are spilled.
pub(crate) const SPILL_FRACTION: f64 = 0.6;

/// Above this share of the limit in resident memory, no task starts.
pub(crate) const PAUSE_FRACTION: f64 = 0.8;

/// The share of the machine's memory a worker takes when not told.
pub(crate) const DEFAULT_FRACTION: f64 = 0.8;

/// A field of `/proc/self/status` or `/proc/meminfo` in bytes (Linux).
fn proc_field(file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// This process's resident memory, where the system says.
pub(crate) fn resident_bytes() -> Option<u64> {
    proc_field("/proc/self/status", "VmRSS:")
}

/// This process's peak resident memory, where the system says.
pub(crate) fn peak_resident_bytes() -> Option<u64> {
    proc_field("/proc/self/status", "VmHWM:")
}

/// The machine's memory, where the system says.
pub(crate) fn machine_bytes() -> Option<u64> {
    proc_field("/proc/meminfo", "MemTotal:")
}

/// The limit of a worker that was given `limit` (or none: a share of the
/// machine's memory).
pub(crate) fn resolve_limit(limit: Option<u64>) -> Option<u64> {
    limit.or_else(|| machine_bytes().map(|m| (m as f64 * DEFAULT_FRACTION) as u64))
}

/// A share of `limit`.
pub(crate) fn mark(limit: u64, fraction: f64) -> u64 {
    (limit as f64 * fraction) as u64
}

/// Whether a worker with `resident` bytes against `pause_at` (its results
/// spilled) and `running` tasks starts no new task.
pub(crate) fn should_pause(resident: u64, pause_at: u64, running: usize) -> bool {
    resident > pause_at && running > 0
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_worker_pauses_above_the_mark_unless_pausing_cannot_help() {
        assert!(!should_pause(700, 800, 1));
        assert!(should_pause(900, 800, 2));
        // Nothing running: waiting would never end.
        assert!(!should_pause(900, 800, 0));
    }

    #[test]
    fn the_marks_are_shares_of_the_limit() {
        assert_eq!(mark(1000, SPILL_FRACTION), 600);
        assert_eq!(resolve_limit(Some(5)), Some(5));
        if cfg!(target_os = "linux") {
            let machine = machine_bytes().unwrap();
            assert!(resolve_limit(None).unwrap() < machine);
            // (The kernel updates the peak lazily: it may lag the resident
            // size for a moment, so the two are not compared.)
            assert!(resident_bytes().unwrap() > 0);
            assert!(peak_resident_bytes().unwrap() > 0);
        }
    }
}
