//! What a run reports: per-worker busy time, idle time, tasks run and stolen.

use std::fmt;
use std::time::Duration;

/// The accounting of one worker over a run.
///
/// ```
/// use std::time::Duration;
/// let w = flotilla_core::WorkerStats { busy: Duration::from_millis(5), tasks: 2, stolen: 1, result_bytes: 640 };
/// assert_eq!(w.tasks, 2);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Time spent running tasks.
    pub busy: Duration,
    /// Tasks run.
    pub tasks: u64,
    /// Of those, tasks taken from another worker's queue.
    pub stolen: u64,
    /// Bytes of the results its tasks made, as they reported them (tasks
    /// that report no size count 0).
    pub result_bytes: u64,
}

/// Per-worker accounting of a run, with its makespan (wall time from the
/// start of the run to its last result).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use flotilla_core::{RunReport, WorkerStats};
///
/// let r = RunReport {
///     makespan: Duration::from_secs(2),
///     workers: vec![
///         WorkerStats { busy: Duration::from_secs(2), tasks: 3, stolen: 0, result_bytes: 0 },
///         WorkerStats { busy: Duration::from_secs(1), tasks: 1, stolen: 1, result_bytes: 0 },
///     ],
///     ..RunReport::default()
/// };
/// assert_eq!(r.utilization(), 0.75);
/// assert_eq!(r.idle(1), Duration::from_secs(1));
/// assert!(r.to_string().contains("utilization 75.0%"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Wall time of the run.
    pub makespan: Duration,
    /// One entry per worker, by [`WorkerId`](crate::WorkerId) index.
    pub workers: Vec<WorkerStats>,
    /// Speculative copies launched of straggling tasks.
    pub copies: u64,
    /// Of those, copies that finished before the attempt they copied.
    pub copies_won: u64,
}

impl RunReport {
    /// The makespan in seconds.
    ///
    /// ```
    /// let r = flotilla_core::RunReport { makespan: std::time::Duration::from_millis(1500), ..Default::default() };
    /// assert_eq!(r.makespan_seconds(), 1.5);
    /// ```
    pub fn makespan_seconds(&self) -> f64 {
        self.makespan.as_secs_f64()
    }

    /// Total busy time over all workers (the work done).
    ///
    /// ```
    /// assert_eq!(flotilla_core::RunReport::default().total_busy(), std::time::Duration::ZERO);
    /// ```
    pub fn total_busy(&self) -> Duration {
        self.workers.iter().map(|w| w.busy).sum()
    }

    /// Work done divided by the capacity offered: total busy time over
    /// (workers × makespan). 1.0 means no worker ever waited.
    ///
    /// ```
    /// assert_eq!(flotilla_core::RunReport::default().utilization(), 0.0);
    /// ```
    pub fn utilization(&self) -> f64 {
        let capacity = self.makespan.as_secs_f64() * self.workers.len() as f64;
        if capacity > 0.0 {
            (self.total_busy().as_secs_f64() / capacity).min(1.0)
        } else {
            0.0
        }
    }

    /// The time worker `worker` was not running a task during the run.
    ///
    /// # Panics
    ///
    /// Panics if `worker` is out of range.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flotilla_core::{RunReport, WorkerStats};
    /// let r = RunReport { makespan: Duration::from_secs(1), workers: vec![WorkerStats::default()], ..RunReport::default() };
    /// assert_eq!(r.idle(0), Duration::from_secs(1));
    /// ```
    pub fn idle(&self, worker: usize) -> Duration {
        self.makespan.saturating_sub(self.workers[worker].busy)
    }

    /// Tasks run over all workers.
    ///
    /// ```
    /// assert_eq!(flotilla_core::RunReport::default().tasks(), 0);
    /// ```
    pub fn tasks(&self) -> u64 {
        self.workers.iter().map(|w| w.tasks).sum()
    }

    /// Tasks stolen over all workers.
    ///
    /// ```
    /// assert_eq!(flotilla_core::RunReport::default().stolen(), 0);
    /// ```
    pub fn stolen(&self) -> u64 {
        self.workers.iter().map(|w| w.stolen).sum()
    }

    /// Bytes of results reported over all workers.
    ///
    /// ```
    /// use flotilla_core::{RunReport, WorkerStats};
    /// let w = WorkerStats { result_bytes: 100, ..WorkerStats::default() };
    /// let r = RunReport { workers: vec![w, w], ..RunReport::default() };
    /// assert_eq!(r.result_bytes(), 200);
    /// ```
    pub fn result_bytes(&self) -> u64 {
        self.workers.iter().map(|w| w.result_bytes).sum()
    }
}

impl fmt::Display for RunReport {
    /// A table: one row per worker, then the totals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>8} {:>11} {:>11} {:>8} {:>8}",
            "worker", "busy (s)", "idle (s)", "tasks", "stolen"
        )?;
        for (i, w) in self.workers.iter().enumerate() {
            writeln!(
                f,
                "{:>8} {:>11.3} {:>11.3} {:>8} {:>8}",
                i,
                w.busy.as_secs_f64(),
                self.idle(i).as_secs_f64(),
                w.tasks,
                w.stolen
            )?;
        }
        write!(
            f,
            "makespan {:.3} s, utilization {:.1}%, {} tasks, {} stolen",
            self.makespan_seconds(),
            self.utilization() * 100.0,
            self.tasks(),
            self.stolen()
        )?;
        if self.result_bytes() > 0 {
            write!(f, ", {} of results", Bytes(self.result_bytes()))?;
        }
        if self.copies > 0 {
            write!(
                f,
                ", {} speculative copies ({} won)",
                self.copies, self.copies_won
            )?;
        }
        Ok(())
    }
}

/// A byte count written with a decimal unit: `512 B`, `2.5 kB`, `12.3 MB`.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        match self.0 {
            0..1_000 => write!(f, "{} B", self.0),
            1_000..1_000_000 => write!(f, "{:.1} kB", b / 1e3),
            1_000_000..1_000_000_000 => write!(f, "{:.1} MB", b / 1e6),
            _ => write!(f, "{:.1} GB", b / 1e9),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn byte_counts_read_with_a_unit() {
        assert_eq!(Bytes(512).to_string(), "512 B");
        assert_eq!(Bytes(2_500).to_string(), "2.5 kB");
        assert_eq!(Bytes(12_300_000).to_string(), "12.3 MB");
        assert_eq!(Bytes(4_000_000_000).to_string(), "4.0 GB");
        let mut r = RunReport::default();
        assert!(!r.to_string().contains("of results"));
        r.workers.push(WorkerStats {
            result_bytes: 2_500,
            ..WorkerStats::default()
        });
        assert!(r.to_string().ends_with(", 2.5 kB of results"), "{r}");
    }
}
