//! What a finished attempt reports, and the durations the scheduler learns
//! per kind of task from those reports.
//!
//! A task's kind is its key's [`TaskKey::kind`](crate::TaskKey::kind):
//! `map[3]` and `map#2[7]` are both of kind `map`. The estimate of a kind
//! is the mean of its first eight measured runs, then an exponentially
//! weighted mean that gives each new run an eighth of the weight, so it
//! follows a drift without jumping at every outlier.

use std::time::Duration;

/// What a finished attempt reports besides its worker and attempt: how long
/// it ran and how many bytes its result holds. Either may be unknown
/// (zero); an unmeasured duration teaches the scheduler nothing.
///
/// ```
/// use std::time::Duration;
/// use flotilla_core::Finish;
/// let f = Finish::new(Duration::from_millis(3), 4096);
/// assert_eq!(f.duration(), Duration::from_millis(3));
/// assert_eq!(f.bytes(), 4096);
/// assert_eq!(Finish::default().bytes(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Finish {
    duration: Duration,
    bytes: u64,
}

impl Finish {
    /// A finish that ran for `duration` and holds `bytes` bytes of result.
    ///
    /// ```
    /// let f = flotilla_core::Finish::new(std::time::Duration::ZERO, 8);
    /// assert_eq!(f.bytes(), 8);
    /// ```
    pub const fn new(duration: Duration, bytes: u64) -> Finish {
        Finish { duration, bytes }
    }

    /// How long the attempt ran (zero when not measured).
    ///
    /// ```
    /// assert!(flotilla_core::Finish::default().duration().is_zero());
    /// ```
    pub const fn duration(&self) -> Duration {
        self.duration
    }

    /// The size of the result in bytes (zero when not known).
    ///
    /// ```
    /// assert_eq!(flotilla_core::Finish::new(Default::default(), 3).bytes(), 3);
    /// ```
    pub const fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// Runs measured so far that are averaged with equal weight; later runs
/// each get `1 / WINDOW` of the weight.
const WINDOW: u64 = 8;

#[derive(Debug, Clone, Copy, Default)]
struct KindStats {
    runs: u64,
    mean_ns: f64,
}

/// Learned durations, indexed by the graph's kind numbers.
#[derive(Debug, Clone, Default)]
pub(super) struct Durations {
    kinds: Vec<KindStats>,
}

impl Durations {
    #[inline]
    pub(super) fn record(&mut self, kind: usize, took: Duration) {
        if took.is_zero() {
            return;
        }
        if self.kinds.len() <= kind {
            self.kinds.resize(kind + 1, KindStats::default());
        }
        let k = &mut self.kinds[kind];
        k.runs += 1;
        let x = took.as_nanos() as f64;
        k.mean_ns += (x - k.mean_ns) / k.runs.min(WINDOW) as f64;
    }

    /// The estimate and the number of measured runs of `kind`.
    pub(super) fn estimate(&self, kind: usize) -> Option<(Duration, u64)> {
        let k = self.kinds.get(kind).filter(|k| k.runs > 0)?;
        Some((Duration::from_nanos(k.mean_ns.round() as u64), k.runs))
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.kinds.capacity() * std::mem::size_of::<KindStats>()
    }
}

impl super::Scheduler {
    /// The duration learned for tasks of `kind` ([`TaskKey::kind`]) and
    /// the number of measured runs it comes from; `None` before any run of
    /// that kind reported a duration.
    ///
    /// [`TaskKey::kind`]: crate::TaskKey::kind
    ///
    /// ```
    /// use std::time::Duration;
    /// use flotilla_core::{Attempt, Finish, Placement, Scheduler, TaskGraph, TaskKey, WorkerId};
    /// let mut g = TaskGraph::new();
    /// let a = g.add_task(TaskKey::indexed("load", 0), &[]).unwrap();
    /// let b = g.add_task(TaskKey::indexed("load#2", 0), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 1);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// let w = WorkerId::new(0);
    /// s.task_finished(a, w, Attempt::FIRST, Finish::new(Duration::from_millis(10), 0), &mut out).unwrap();
    /// s.task_finished(b, w, Attempt::FIRST, Finish::new(Duration::from_millis(20), 0), &mut out).unwrap();
    /// assert_eq!(s.learned_duration("load"), Some((Duration::from_millis(15), 2)));
    /// assert_eq!(s.learned_duration("sum"), None);
    /// ```
    pub fn learned_duration(&self, kind: &str) -> Option<(Duration, u64)> {
        self.durations.estimate(self.graph.kind_named(kind)?)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_first_runs_are_averaged_then_new_runs_weigh_an_eighth() {
        let mut d = Durations::default();
        assert!(d.estimate(0).is_none());
        d.record(1, Duration::ZERO);
        assert!(d.estimate(1).is_none(), "an unmeasured run teaches nothing");
        for ms in [2, 4] {
            d.record(1, Duration::from_millis(ms));
        }
        assert_eq!(d.estimate(1), Some((Duration::from_millis(3), 2)));
        for _ in 0..6 {
            d.record(1, Duration::from_millis(3));
        }
        assert_eq!(d.estimate(1), Some((Duration::from_millis(3), 8)));
        d.record(1, Duration::from_millis(11));
        assert_eq!(d.estimate(1), Some((Duration::from_millis(4), 9)));
    }
}
