//! What happened in a run, task by task: the record that run reports and
//! dashboards are drawn from.
//!
//! A runtime that is asked to trace a run fills a [`Trace`]: one [`Span`]
//! per attempt that ran (which lane — worker thread — ran it, from when to
//! when, of which kind, whether it was stolen and how it ended), the
//! scheduler's [`Decision`]s (retries, speculative copies, results
//! computed again), [`Transfer`]s of results between workers, [`Spill`]s
//! to disk and [`MemorySample`]s. Times are nanoseconds since the run
//! began, so a trace holds no clock and can be built by hand in a test.
//!
//! The trace itself is plain data; its methods aggregate it into what a
//! picture needs and stay bounded however many tasks ran:
//! [`Trace::stream`] merges back-to-back tasks of one kind that are too
//! short to see into one bar, [`Trace::utilization`] bins each lane's busy
//! time, [`Trace::kind_stats`] summarises durations per kind of task.
//!
//! ```
//! use flotilla_core::trace::{Lane, Span, Trace};
//!
//! let mut t = Trace::new("two tasks");
//! let spin = t.kind("spin");
//! t.lanes = vec![Lane::new(0, 0), Lane::new(0, 1)];
//! t.spans.push(Span::new(0, spin, 0, 0, 1_000));
//! t.spans.push(Span::new(1, spin, 1, 0, 500));
//! t.makespan_ns = 1_000;
//! assert_eq!(t.utilization_overall(), 0.75);
//! assert_eq!(t.kind_stats()[0].count, 2);
//! ```

use std::collections::HashMap;

/// One worker thread of a run: a lane of the task stream.
///
/// ```
/// let lane = flotilla_core::trace::Lane::new(1, 3);
/// assert_eq!(lane.to_string(), "worker 1 / thread 3");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Lane {
    /// The worker (a process on a cluster; the whole pool in-process).
    pub worker: u32,
    /// The thread within that worker.
    pub thread: u32,
}

impl Lane {
    /// Thread `thread` of worker `worker`.
    ///
    /// ```
    /// assert_eq!(flotilla_core::trace::Lane::new(0, 2).thread, 2);
    /// ```
    pub fn new(worker: u32, thread: u32) -> Lane {
        Lane { worker, thread }
    }
}

impl std::fmt::Display for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "worker {} / thread {}", self.worker, self.thread)
    }
}

/// How an attempt that ran ended.
///
/// ```
/// assert_eq!(flotilla_core::trace::Outcome::default(), flotilla_core::trace::Outcome::Done);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Outcome {
    /// It made its result.
    #[default]
    Done,
    /// It returned an error or panicked.
    Failed,
    /// An input it needed was gone; it will run again once that input is
    /// computed again.
    InputLost,
}

/// One attempt of one task, as it ran.
///
/// ```
/// use flotilla_core::trace::{Outcome, Span};
/// let s = Span::new(7, 0, 1, 100, 350);
/// assert_eq!(s.nanos(), 250);
/// assert_eq!(s.outcome, Outcome::Done);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Span {
    /// The task's index in its graph.
    pub task: u32,
    /// Its kind: an index into [`Trace::kinds`].
    pub kind: u32,
    /// The lane that ran it: an index into [`Trace::lanes`].
    pub lane: u32,
    /// When it started, in nanoseconds since the run began.
    pub start_ns: u64,
    /// When it ended.
    pub end_ns: u64,
    /// Whether the lane took it from another lane's queue.
    pub stolen: bool,
    /// How it ended.
    pub outcome: Outcome,
}

impl Span {
    /// A finished, not stolen attempt of `task` (of kind `kind`) on lane
    /// `lane`, from `start_ns` to `end_ns`.
    ///
    /// ```
    /// let s = flotilla_core::trace::Span::new(0, 0, 0, 5, 9);
    /// assert!(!s.stolen);
    /// ```
    pub fn new(task: u32, kind: u32, lane: u32, start_ns: u64, end_ns: u64) -> Span {
        Span {
            task,
            kind,
            lane,
            start_ns,
            end_ns: end_ns.max(start_ns),
            stolen: false,
            outcome: Outcome::Done,
        }
    }

    /// How long it ran, in nanoseconds.
    ///
    /// ```
    /// assert_eq!(flotilla_core::trace::Span::new(0, 0, 0, 5, 9).nanos(), 4);
    /// ```
    pub fn nanos(&self) -> u64 {
        self.end_ns - self.start_ns
    }
}

/// What the scheduler decided beyond running each task once.
///
/// ```
/// assert_eq!(flotilla_core::trace::DecisionKind::Copy.name(), "speculative copy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DecisionKind {
    /// A failed task runs again.
    Retry,
    /// A straggling task is copied onto an idle thread.
    Copy,
    /// A task runs again because a result it needed was lost.
    Recompute,
}

impl DecisionKind {
    /// The decision's name, as reports show it.
    ///
    /// ```
    /// assert_eq!(flotilla_core::trace::DecisionKind::Retry.name(), "retry");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            DecisionKind::Retry => "retry",
            DecisionKind::Copy => "speculative copy",
            DecisionKind::Recompute => "recompute",
        }
    }
}

/// One decision of the scheduler, when it was taken.
///
/// ```
/// use flotilla_core::trace::{Decision, DecisionKind};
/// let d = Decision { at_ns: 10, task: "load[3]".into(), attempt: 2, kind: DecisionKind::Retry };
/// assert_eq!(d.attempt, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Decision {
    /// When, in nanoseconds since the run began.
    pub at_ns: u64,
    /// The task's key.
    pub task: String,
    /// The attempt it started.
    pub attempt: u32,
    /// What was decided.
    pub kind: DecisionKind,
}

/// A result moved from one worker to another.
///
/// ```
/// let t = flotilla_core::trace::Transfer { at_ns: 0, from: 0, to: 1, bytes: 4096 };
/// assert_eq!(t.bytes, 4096);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Transfer {
    /// When it arrived, in nanoseconds since the run began.
    pub at_ns: u64,
    /// The worker that held it.
    pub from: u32,
    /// The worker that needed it.
    pub to: u32,
    /// Its size.
    pub bytes: u64,
}

/// Results written to disk by a worker short of memory.
///
/// ```
/// let s = flotilla_core::trace::Spill { at_ns: 0, worker: 1, bytes: 1 << 20 };
/// assert_eq!(s.worker, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Spill {
    /// When, in nanoseconds since the run began.
    pub at_ns: u64,
    /// The worker that spilled.
    pub worker: u32,
    /// Bytes written.
    pub bytes: u64,
}

/// A worker's memory at one moment.
///
/// ```
/// let m = flotilla_core::trace::MemorySample { at_ns: 0, worker: 0, bytes: 1 << 30, spilled: 0 };
/// assert_eq!(m.spilled, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MemorySample {
    /// When, in nanoseconds since the run began.
    pub at_ns: u64,
    /// The worker.
    pub worker: u32,
    /// Bytes of results it held in memory.
    pub bytes: u64,
    /// Bytes it held on disk.
    pub spilled: u64,
}

/// The record of one run. See the [module documentation](self).
///
/// ```
/// let t = flotilla_core::trace::Trace::new("empty");
/// assert!(t.spans.is_empty());
/// assert_eq!(t.utilization_overall(), 0.0);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Trace {
    /// What ran (a label: a command, a workload).
    pub title: String,
    /// The run's settings, as name and value (placement policy, workers,
    /// threads, retries...).
    pub config: Vec<(String, String)>,
    /// Kinds of task, in order of first appearance.
    pub kinds: Vec<String>,
    /// Worker threads, each a lane of the stream.
    pub lanes: Vec<Lane>,
    /// Tasks in the run's graph, run or not.
    pub tasks: u64,
    /// Every attempt that ran.
    pub spans: Vec<Span>,
    /// Retries, copies, recomputations.
    pub decisions: Vec<Decision>,
    /// Results moved between workers.
    pub transfers: Vec<Transfer>,
    /// Results written to disk.
    pub spills: Vec<Spill>,
    /// Worker memory over time.
    pub memory: Vec<MemorySample>,
    /// Wall time of the run, in nanoseconds.
    pub makespan_ns: u64,
}

/// Adjacent tasks of one kind on one lane, drawn as one bar.
///
/// ```
/// let b = flotilla_core::trace::Bar { lane: 0, kind: 0, start_ns: 0, end_ns: 9, tasks: 3, stolen: 1, failed: 0 };
/// assert_eq!(b.tasks, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    /// Its lane.
    pub lane: u32,
    /// Its kind.
    pub kind: u32,
    /// Start of its first task.
    pub start_ns: u64,
    /// End of its last task.
    pub end_ns: u64,
    /// Tasks merged into it.
    pub tasks: u32,
    /// Of those, tasks stolen.
    pub stolen: u32,
    /// Of those, attempts that failed or lost an input.
    pub failed: u32,
}

/// Durations of one kind of task.
///
/// ```
/// use flotilla_core::trace::{Lane, Span, Trace};
/// let mut t = Trace::new("x");
/// let k = t.kind("load");
/// t.lanes.push(Lane::new(0, 0));
/// for (i, us) in [10u64, 20, 30].into_iter().enumerate() {
///     t.spans.push(Span::new(i as u32, k, 0, 0, us));
/// }
/// let s = &t.kind_stats()[0];
/// assert_eq!((s.count, s.min_ns, s.max_ns, s.total_ns), (3, 10, 30, 60));
/// assert_eq!(s.median_ns, 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindStats {
    /// The kind's name.
    pub kind: String,
    /// Attempts run.
    pub count: u64,
    /// Of those, attempts that failed.
    pub failed: u64,
    /// Their total run time.
    pub total_ns: u64,
    /// The shortest.
    pub min_ns: u64,
    /// The median.
    pub median_ns: u64,
    /// The 95th percentile.
    pub p95_ns: u64,
    /// The longest.
    pub max_ns: u64,
    /// Attempts per power-of-two bucket of run time: bucket `i` counts
    /// run times in `[2^i, 2^(i+1))` nanoseconds (bucket 0 also holds 0).
    pub histogram: Vec<u64>,
}

impl Trace {
    /// An empty trace titled `title`.
    ///
    /// ```
    /// assert_eq!(flotilla_core::trace::Trace::new("W7").title, "W7");
    /// ```
    pub fn new(title: &str) -> Trace {
        Trace {
            title: title.to_string(),
            ..Trace::default()
        }
    }

    /// The index of kind `name`, added if new.
    ///
    /// ```
    /// let mut t = flotilla_core::trace::Trace::new("x");
    /// assert_eq!(t.kind("a"), 0);
    /// assert_eq!(t.kind("b"), 1);
    /// assert_eq!(t.kind("a"), 0);
    /// ```
    pub fn kind(&mut self, name: &str) -> u32 {
        match self.kinds.iter().position(|k| k == name) {
            Some(i) => i as u32,
            None => {
                self.kinds.push(name.to_string());
                (self.kinds.len() - 1) as u32
            }
        }
    }

    /// Adds a setting to [`Trace::config`].
    ///
    /// ```
    /// let mut t = flotilla_core::trace::Trace::new("x");
    /// t.set("placement", "work-stealing");
    /// assert_eq!(t.config[0].1, "work-stealing");
    /// ```
    pub fn set(&mut self, name: &str, value: impl std::fmt::Display) {
        self.config.push((name.to_string(), value.to_string()));
    }

    /// The part of the trace from `from_ns` on, its times counted from
    /// there: attempts that started earlier, and decisions, transfers,
    /// spills and memory samples before it, are left out. What a recorder
    /// started in the middle of a longer record shows.
    ///
    /// ```
    /// use flotilla_core::trace::{Lane, Span, Trace};
    /// let mut t = Trace::new("x");
    /// let k = t.kind("step");
    /// t.lanes.push(Lane::new(0, 0));
    /// t.spans.push(Span::new(0, k, 0, 0, 100));
    /// t.spans.push(Span::new(1, k, 0, 150, 400));
    /// t.makespan_ns = 500;
    /// let later = t.since(120);
    /// assert_eq!(later.spans.len(), 1);
    /// assert_eq!((later.spans[0].start_ns, later.spans[0].end_ns), (30, 280));
    /// assert_eq!(later.makespan_ns, 380);
    /// ```
    pub fn since(&self, from_ns: u64) -> Trace {
        let shift = |at: u64| at.checked_sub(from_ns);
        Trace {
            title: self.title.clone(),
            config: self.config.clone(),
            kinds: self.kinds.clone(),
            lanes: self.lanes.clone(),
            tasks: self.tasks,
            spans: self
                .spans
                .iter()
                .filter_map(|s| {
                    Some(Span {
                        start_ns: shift(s.start_ns)?,
                        end_ns: shift(s.end_ns)?,
                        ..*s
                    })
                })
                .collect(),
            decisions: self
                .decisions
                .iter()
                .filter_map(|d| {
                    Some(Decision {
                        at_ns: shift(d.at_ns)?,
                        ..d.clone()
                    })
                })
                .collect(),
            transfers: self
                .transfers
                .iter()
                .filter_map(|t| {
                    Some(Transfer {
                        at_ns: shift(t.at_ns)?,
                        ..*t
                    })
                })
                .collect(),
            spills: self
                .spills
                .iter()
                .filter_map(|s| {
                    Some(Spill {
                        at_ns: shift(s.at_ns)?,
                        ..*s
                    })
                })
                .collect(),
            memory: self
                .memory
                .iter()
                .filter_map(|m| {
                    Some(MemorySample {
                        at_ns: shift(m.at_ns)?,
                        ..*m
                    })
                })
                .collect(),
            makespan_ns: self.makespan_ns.saturating_sub(from_ns),
        }
    }

    /// The busy time of all lanes over the capacity offered (lanes ×
    /// makespan); 0 for an empty run.
    ///
    /// ```
    /// assert_eq!(flotilla_core::trace::Trace::new("x").utilization_overall(), 0.0);
    /// ```
    pub fn utilization_overall(&self) -> f64 {
        let capacity = self.lanes.len() as f64 * self.makespan_ns as f64;
        if capacity == 0.0 {
            return 0.0;
        }
        let busy: u64 = self.spans.iter().map(Span::nanos).sum();
        (busy as f64 / capacity).min(1.0)
    }

    /// Per lane, the fraction of each of `bins` equal slices of the run
    /// during which the lane ran a task.
    ///
    /// ```
    /// use flotilla_core::trace::{Lane, Span, Trace};
    /// let mut t = Trace::new("x");
    /// t.lanes.push(Lane::new(0, 0));
    /// t.spans.push(Span::new(0, 0, 0, 0, 150));
    /// t.makespan_ns = 200;
    /// assert_eq!(t.utilization(2), vec![vec![1.0, 0.5]]);
    /// ```
    pub fn utilization(&self, bins: usize) -> Vec<Vec<f64>> {
        let mut busy = vec![vec![0.0f64; bins]; self.lanes.len()];
        if bins == 0 || self.makespan_ns == 0 {
            return busy;
        }
        let width = self.makespan_ns as f64 / bins as f64;
        for s in &self.spans {
            let Some(row) = busy.get_mut(s.lane as usize) else {
                continue;
            };
            let (start, end) = (s.start_ns as f64, s.end_ns as f64);
            let first = ((start / width) as usize).min(bins - 1);
            let last = ((end / width) as usize).min(bins - 1);
            for (b, cell) in row.iter_mut().enumerate().take(last + 1).skip(first) {
                let lo = (b as f64 * width).max(start);
                let hi = ((b + 1) as f64 * width).min(end);
                if hi > lo {
                    *cell += (hi - lo) / width;
                }
            }
        }
        for row in &mut busy {
            for cell in row {
                *cell = cell.min(1.0);
            }
        }
        busy
    }

    /// The task stream as bars: per lane, spans in start order, where a
    /// span joins the bar before it when that bar is still narrower than
    /// `resolution_ns`, the gap between them is at most `resolution_ns`,
    /// and the span is of the bar's kind or itself shorter than
    /// `resolution_ns`. A bar shows the kind of its longest span. Tasks
    /// long enough to see keep a bar each; a hundred thousand tiny tasks,
    /// of any mix of kinds, become about one bar per `resolution_ns` per
    /// lane.
    ///
    /// ```
    /// use flotilla_core::trace::{Lane, Span, Trace};
    /// let mut t = Trace::new("x");
    /// t.lanes.push(Lane::new(0, 0));
    /// for i in 0..1000u64 {
    ///     t.spans.push(Span::new(i as u32, 0, 0, i, i + 1));
    /// }
    /// t.makespan_ns = 1000;
    /// let bars = t.stream(100);
    /// assert_eq!(bars.len(), 10);
    /// assert_eq!(bars.iter().map(|b| b.tasks).sum::<u32>(), 1000);
    /// ```
    pub fn stream(&self, resolution_ns: u64) -> Vec<Bar> {
        self.stream_between(0, u64::MAX, resolution_ns)
    }

    /// [`Trace::stream`] of the spans that overlap `[from_ns, to_ns)`.
    ///
    /// ```
    /// use flotilla_core::trace::{Lane, Span, Trace};
    /// let mut t = Trace::new("x");
    /// t.lanes.push(Lane::new(0, 0));
    /// t.spans.push(Span::new(0, 0, 0, 0, 10));
    /// t.spans.push(Span::new(1, 0, 0, 50, 60));
    /// assert_eq!(t.stream_between(40, 100, 1).len(), 1);
    /// ```
    pub fn stream_between(&self, from_ns: u64, to_ns: u64, resolution_ns: u64) -> Vec<Bar> {
        let mut per_lane: Vec<Vec<&Span>> = vec![Vec::new(); self.lanes.len()];
        for s in &self.spans {
            if s.end_ns < from_ns || s.start_ns >= to_ns {
                continue;
            }
            if let Some(lane) = per_lane.get_mut(s.lane as usize) {
                lane.push(s);
            }
        }
        let mut bars = Vec::new();
        for spans in &mut per_lane {
            spans.sort_by_key(|s| s.start_ns);
            let mut current: Option<Bar> = None;
            // The longest span of the current bar, whose kind it shows.
            let mut longest = 0;
            for s in spans.iter() {
                let failed = u32::from(s.outcome != Outcome::Done);
                if let Some(bar) = &mut current {
                    if bar.end_ns - bar.start_ns < resolution_ns
                        && s.start_ns <= bar.end_ns.saturating_add(resolution_ns)
                        && (bar.kind == s.kind || s.nanos() < resolution_ns)
                    {
                        if s.nanos() > longest {
                            longest = s.nanos();
                            bar.kind = s.kind;
                        }
                        bar.end_ns = bar.end_ns.max(s.end_ns);
                        bar.tasks += 1;
                        bar.stolen += u32::from(s.stolen);
                        bar.failed += failed;
                        continue;
                    }
                    bars.push(*bar);
                }
                longest = s.nanos();
                current = Some(Bar {
                    lane: s.lane,
                    kind: s.kind,
                    start_ns: s.start_ns,
                    end_ns: s.end_ns,
                    tasks: 1,
                    stolen: u32::from(s.stolen),
                    failed,
                });
            }
            bars.extend(current);
        }
        bars
    }

    /// Durations per kind of task, in the order of [`Trace::kinds`]
    /// (kinds with no attempt run are left out).
    ///
    /// ```
    /// assert!(flotilla_core::trace::Trace::new("x").kind_stats().is_empty());
    /// ```
    pub fn kind_stats(&self) -> Vec<KindStats> {
        let mut per_kind: HashMap<u32, (Vec<u64>, u64)> = HashMap::new();
        for s in &self.spans {
            let entry = per_kind.entry(s.kind).or_default();
            entry.0.push(s.nanos());
            entry.1 += u64::from(s.outcome == Outcome::Failed);
        }
        let mut stats = Vec::new();
        for (i, name) in self.kinds.iter().enumerate() {
            let Some((mut times, failed)) = per_kind.remove(&(i as u32)) else {
                continue;
            };
            times.sort_unstable();
            let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
            let mut histogram = Vec::new();
            for &t in &times {
                let bucket = (64 - t.leading_zeros()).saturating_sub(1) as usize;
                if histogram.len() <= bucket {
                    histogram.resize(bucket + 1, 0);
                }
                histogram[bucket] += 1;
            }
            stats.push(KindStats {
                kind: name.clone(),
                count: times.len() as u64,
                failed,
                total_ns: times.iter().sum(),
                min_ns: times[0],
                median_ns: at(0.5),
                p95_ns: at(0.95),
                max_ns: times[times.len() - 1],
                histogram,
            });
        }
        stats
    }

    /// Attempts run, stolen, failed: counts over all spans.
    ///
    /// ```
    /// use flotilla_core::trace::{Span, Trace};
    /// let mut t = Trace::new("x");
    /// let mut s = Span::new(0, 0, 0, 0, 1);
    /// s.stolen = true;
    /// t.spans.push(s);
    /// assert_eq!(t.counts(), (1, 1, 0));
    /// ```
    pub fn counts(&self) -> (u64, u64, u64) {
        let mut stolen = 0;
        let mut failed = 0;
        for s in &self.spans {
            stolen += u64::from(s.stolen);
            failed += u64::from(s.outcome == Outcome::Failed);
        }
        (self.spans.len() as u64, stolen, failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_takes_32_bytes() {
        // The runtimes' docs give a recording's memory as 32 bytes a task.
        assert_eq!(std::mem::size_of::<Span>(), 32);
    }

    fn trace(lanes: u32) -> Trace {
        let mut t = Trace::new("t");
        t.lanes = (0..lanes).map(|i| Lane::new(0, i)).collect();
        t
    }

    #[test]
    fn long_tasks_keep_a_bar_each_and_short_ones_of_any_kind_merge() {
        let mut t = trace(1);
        let a = t.kind("a");
        let b = t.kind("b");
        t.spans.push(Span::new(0, a, 0, 0, 500));
        t.spans.push(Span::new(1, a, 0, 500, 1000));
        t.spans.push(Span::new(2, b, 0, 1000, 1001));
        t.spans.push(Span::new(3, a, 0, 1001, 1004));
        t.spans.push(Span::new(4, b, 0, 1004, 1005));
        // Long enough to see: a bar of its own, not merged into the short one.
        t.spans.push(Span::new(5, b, 0, 1005, 1100));
        let bars = t.stream(10);
        assert_eq!(bars.len(), 4, "{bars:?}");
        assert_eq!(
            (bars[2].tasks, bars[2].kind),
            (3, a),
            "the longest span names the bar"
        );
        assert_eq!((bars[3].tasks, bars[3].kind), (1, b));
    }

    #[test]
    fn alternating_kinds_of_tiny_tasks_stay_bounded() {
        let mut t = trace(1);
        let a = t.kind("a");
        let b = t.kind("b");
        for i in 0..10_000u64 {
            t.spans.push(Span::new(
                i as u32,
                if i % 2 == 0 { a } else { b },
                0,
                i * 2,
                i * 2 + 1,
            ));
        }
        assert!(t.stream(200).len() <= 101);
    }

    #[test]
    fn stream_counts_every_span_once_and_keeps_lanes_apart() {
        let mut t = trace(3);
        let k = t.kind("k");
        let mut n = 0;
        for lane in 0..3u32 {
            for i in 0..10_000u64 {
                let mut s = Span::new(n, k, lane, i * 3, i * 3 + 2);
                s.stolen = i % 7 == 0;
                t.spans.push(s);
                n += 1;
            }
        }
        t.makespan_ns = 30_000;
        let bars = t.stream(300);
        assert!(bars.len() <= 3 * 101, "{}", bars.len());
        assert_eq!(bars.iter().map(|b| b.tasks).sum::<u32>(), 30_000);
        let stolen = t.spans.iter().filter(|s| s.stolen).count() as u32;
        assert_eq!(bars.iter().map(|b| b.stolen).sum::<u32>(), stolen);
        for lane in 0..3 {
            assert!(bars.iter().any(|b| b.lane == lane));
        }
    }

    #[test]
    fn utilization_bins_split_spans_at_their_edges() {
        let mut t = trace(2);
        t.spans.push(Span::new(0, 0, 0, 25, 75));
        t.spans.push(Span::new(1, 0, 1, 0, 100));
        t.makespan_ns = 100;
        let u = t.utilization(4);
        assert_eq!(u[0], vec![0.0, 1.0, 1.0, 0.0]);
        assert_eq!(u[1], vec![1.0; 4]);
        assert_eq!(t.utilization_overall(), 0.75);
    }

    #[test]
    fn kind_stats_count_failures_and_bucket_by_powers_of_two() {
        let mut t = trace(1);
        let k = t.kind("k");
        t.kind("never ran");
        for (i, us) in [0u64, 1, 3, 4, 1000].into_iter().enumerate() {
            let mut s = Span::new(i as u32, k, 0, 0, us);
            if us == 3 {
                s.outcome = Outcome::Failed;
            }
            t.spans.push(s);
        }
        let stats = t.kind_stats();
        assert_eq!(stats.len(), 1);
        let s = &stats[0];
        assert_eq!(s.failed, 1);
        assert_eq!(s.histogram[0], 2); // 0 and 1
        assert_eq!(s.histogram[1], 1); // 3
        assert_eq!(s.histogram[2], 1); // 4
        assert_eq!(s.histogram[9], 1); // 1000 in [512, 1024)
        assert_eq!(s.histogram.iter().sum::<u64>(), 5);
    }
}
