//! What a live dashboard shows at one moment: a [`View`], built from what
//! a run recorded so far.
//!
//! A runtime that serves a dashboard implements [`Source`]: asked for a
//! view, it hands over its trace so far ([`Live::trace`]), what it planned
//! per kind of task, its workers' memory and queues, and the shape of a
//! small graph; [`View::build`] turns that into what the page draws. The
//! view is bounded whatever ran: the task stream covers only the last
//! `window_ns` and merges tasks too short to see (see
//! [`Trace::stream_between`]), progress is per kind, workers are rows.
//!
//! ```
//! use flotilla_core::trace::{Lane, Span, Trace};
//! use flotilla_dashboard::live::{Live, View};
//!
//! let mut trace = Trace::new("live");
//! trace.lanes = vec![Lane::new(0, 0), Lane::new(0, 1)];
//! let k = trace.kind("part");
//! for i in 0..10u32 {
//!     trace.spans.push(Span::new(i, k, i % 2, u64::from(i) * 100, u64::from(i) * 100 + 90));
//! }
//! trace.makespan_ns = 1_000;
//! let live = Live { trace, planned: vec![20], ..Live::default() };
//! let view = View::build(&live, 1_000);
//! assert_eq!(view.progress[0].done, 10);
//! assert_eq!(view.progress[0].total, 20);
//! assert_eq!(view.workers.len(), 1);
//! ```

use flotilla_core::trace::{Bar, Outcome, Trace};

/// Everything a runtime knows now, for a dashboard to draw.
///
/// ```
/// let live = flotilla_dashboard::live::Live::default();
/// assert!(live.graph.is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The trace so far: times since the runtime began, makespan = now.
    pub trace: Trace,
    /// Per kind of [`Trace::kinds`], the tasks handed to the runtime so far
    /// (for progress; shorter than `kinds` when some were never planned).
    pub planned: Vec<u64>,
    /// Per worker, the bytes of results it holds in memory.
    pub memory: Vec<u64>,
    /// Per worker, the bytes it spilled to disk.
    pub spilled: Vec<u64>,
    /// Per lane, the tasks queued for it now.
    pub queued: Vec<u64>,
    /// The placement policy in force.
    pub placement: String,
    /// The graph of the latest run, when it is small enough to draw.
    pub graph: Option<GraphShape>,
}

/// A small task graph, as drawn: nodes with their kind and whether they
/// ran, and edges from dependency to dependent.
///
/// ```
/// use flotilla_dashboard::live::{GraphNode, GraphShape};
/// let g = GraphShape { nodes: vec![GraphNode { key: "a".into(), kind: 0, done: true }], edges: vec![] };
/// assert_eq!(g.nodes.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "server", derive(serde::Serialize))]
pub struct GraphShape {
    /// The tasks.
    pub nodes: Vec<GraphNode>,
    /// `(dependency, dependent)` as indices into `nodes`.
    pub edges: Vec<(u32, u32)>,
}

/// One task of a [`GraphShape`].
///
/// ```
/// let n = flotilla_dashboard::live::GraphNode { key: "load[0]".into(), kind: 2, done: false };
/// assert!(!n.done);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "server", derive(serde::Serialize))]
pub struct GraphNode {
    /// Its key.
    pub key: String,
    /// Its kind, an index into the view's kinds.
    pub kind: u32,
    /// Whether it finished.
    pub done: bool,
}

/// Progress of one kind of task.
///
/// ```
/// let p = flotilla_dashboard::live::KindProgress { kind: "load".into(), total: 4, done: 1, failed: 0 };
/// assert_eq!(p.total, 4);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "server", derive(serde::Serialize))]
pub struct KindProgress {
    /// The kind's name.
    pub kind: String,
    /// Tasks planned (at least the tasks done).
    pub total: u64,
    /// Tasks done.
    pub done: u64,
    /// Attempts failed.
    pub failed: u64,
}

/// One worker as the dashboard lists it.
///
/// ```
/// let w = flotilla_dashboard::live::WorkerView { name: "worker 0".into(), threads: 2, ..Default::default() };
/// assert_eq!(w.threads, 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "server", derive(serde::Serialize))]
pub struct WorkerView {
    /// Its name.
    pub name: String,
    /// Its threads (lanes).
    pub threads: u32,
    /// The fraction of its threads' time spent running tasks over the
    /// view's window.
    pub busy: f64,
    /// Attempts it ran.
    pub tasks: u64,
    /// Tasks queued on it now.
    pub queued: u64,
    /// Bytes of results it holds in memory.
    pub memory: u64,
    /// Bytes it spilled to disk.
    pub spilled: u64,
}

/// A bar of the live task stream (see [`Bar`]), times relative to the
/// view's window start.
///
/// ```
/// let b = flotilla_dashboard::live::StreamBar { lane: 0, kind: 1, start_ns: 0, end_ns: 10, tasks: 2, stolen: 0, failed: 0 };
/// assert_eq!(b.tasks, 2);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "server", derive(serde::Serialize))]
pub struct StreamBar {
    /// Lane index.
    pub lane: u32,
    /// Kind index.
    pub kind: u32,
    /// Start, nanoseconds after the window's start (`elapsed_ns -
    /// window_ns`, which may be before the runtime began).
    pub start_ns: u64,
    /// End, nanoseconds after the window's start.
    pub end_ns: u64,
    /// Tasks in the bar.
    pub tasks: u32,
    /// Of those, stolen.
    pub stolen: u32,
    /// Of those, failed.
    pub failed: u32,
}

/// Counts over the whole run so far.
///
/// ```
/// let t = flotilla_dashboard::live::Totals::default();
/// assert_eq!(t.done, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "server", derive(serde::Serialize))]
pub struct Totals {
    /// Tasks planned.
    pub planned: u64,
    /// Attempts that finished with a result.
    pub done: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Tasks taken from another thread's queue.
    pub stolen: u64,
    /// Retries decided.
    pub retries: u64,
    /// Speculative copies launched.
    pub copies: u64,
    /// Tasks computed again.
    pub recomputed: u64,
    /// Bytes moved between workers.
    pub transferred: u64,
    /// Bytes spilled to disk.
    pub spilled: u64,
}

/// What the dashboard page draws at one moment. See the
/// [module documentation](self).
///
/// ```
/// let v = flotilla_dashboard::live::View::build(&Default::default(), 1_000_000_000);
/// assert!(v.stream.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "server", derive(serde::Serialize))]
pub struct View {
    /// What runs.
    pub title: String,
    /// The placement policy in force.
    pub placement: String,
    /// Nanoseconds since the runtime began.
    pub elapsed_ns: u64,
    /// The stream's window: it shows `[elapsed_ns - window_ns, elapsed_ns]`.
    pub window_ns: u64,
    /// Lane names, in lane order.
    pub lanes: Vec<String>,
    /// Kind names, in kind order.
    pub kinds: Vec<String>,
    /// The task stream over the window.
    pub stream: Vec<StreamBar>,
    /// Progress per kind that was planned or ran.
    pub progress: Vec<KindProgress>,
    /// The workers.
    pub workers: Vec<WorkerView>,
    /// Counts over the whole run.
    pub totals: Totals,
    /// The latest small graph.
    pub graph: Option<GraphShape>,
}

/// Pixels the page's stream is drawn across: bars narrower than the
/// window over this are merged.
const STREAM_COLUMNS: u64 = 1_000;

impl View {
    /// The view of `live`, its stream covering the last `window_ns`.
    ///
    /// ```
    /// use flotilla_dashboard::live::{Live, View};
    /// let v = View::build(&Live::default(), 5);
    /// assert_eq!(v.window_ns, 5);
    /// ```
    pub fn build(live: &Live, window_ns: u64) -> View {
        let trace = &live.trace;
        let now = trace.makespan_ns;
        let from = now.saturating_sub(window_ns);
        let stream = trace
            .stream_between(
                from,
                now.saturating_add(1),
                window_ns.div_ceil(STREAM_COLUMNS),
            )
            .into_iter()
            // Times from the window's start, `now - window_ns`, which is
            // before the runtime began while it is younger than the window.
            .map(|b: Bar| StreamBar {
                lane: b.lane,
                kind: b.kind,
                start_ns: (b.start_ns + window_ns).saturating_sub(now),
                end_ns: (b.end_ns + window_ns).saturating_sub(now),
                tasks: b.tasks,
                stolen: b.stolen,
                failed: b.failed,
            })
            .collect();
        let kinds = trace.kinds.len();
        let mut done = vec![0u64; kinds];
        let mut failed = vec![0u64; kinds];
        let workers = trace
            .lanes
            .iter()
            .map(|l| l.worker)
            .max()
            .map_or(0, |w| w + 1) as usize;
        let mut per_worker = vec![WorkerView::default(); workers];
        let mut busy_ns = vec![0u64; workers];
        let mut totals = Totals::default();
        for s in &trace.spans {
            let k = s.kind as usize;
            match s.outcome {
                Outcome::Done => {
                    if let Some(d) = done.get_mut(k) {
                        *d += 1;
                    }
                    totals.done += 1;
                }
                Outcome::Failed => {
                    if let Some(f) = failed.get_mut(k) {
                        *f += 1;
                    }
                    totals.failed += 1;
                }
                Outcome::InputLost => {}
            }
            totals.stolen += u64::from(s.stolen);
            let Some(lane) = trace.lanes.get(s.lane as usize) else {
                continue;
            };
            let w = lane.worker as usize;
            per_worker[w].tasks += 1;
            if s.end_ns > from {
                busy_ns[w] += s.end_ns - s.start_ns.max(from);
            }
        }
        for lane in &trace.lanes {
            per_worker[lane.worker as usize].threads += 1;
        }
        for (w, view) in per_worker.iter_mut().enumerate() {
            view.name = format!("worker {w}");
            let capacity = u64::from(view.threads) * (now - from);
            view.busy = if capacity == 0 {
                0.0
            } else {
                (busy_ns[w] as f64 / capacity as f64).min(1.0)
            };
            view.memory = live.memory.get(w).copied().unwrap_or(0);
            view.spilled = live.spilled.get(w).copied().unwrap_or(0);
        }
        for (i, lane) in trace.lanes.iter().enumerate() {
            if let Some(view) = per_worker.get_mut(lane.worker as usize) {
                view.queued += live.queued.get(i).copied().unwrap_or(0);
            }
        }
        let progress = trace
            .kinds
            .iter()
            .enumerate()
            .filter_map(|(k, name)| {
                let planned = live.planned.get(k).copied().unwrap_or(0);
                let total = planned.max(done[k]);
                (total > 0 || failed[k] > 0).then(|| KindProgress {
                    kind: name.clone(),
                    total,
                    done: done[k],
                    failed: failed[k],
                })
            })
            .collect::<Vec<_>>();
        totals.planned = progress.iter().map(|p| p.total).sum();
        for d in &trace.decisions {
            match d.kind {
                flotilla_core::trace::DecisionKind::Retry => totals.retries += 1,
                flotilla_core::trace::DecisionKind::Copy => totals.copies += 1,
                flotilla_core::trace::DecisionKind::Recompute => totals.recomputed += 1,
            }
        }
        totals.transferred = trace.transfers.iter().map(|t| t.bytes).sum();
        totals.spilled = live.spilled.iter().sum();
        View {
            title: trace.title.clone(),
            placement: live.placement.clone(),
            elapsed_ns: now,
            window_ns,
            lanes: trace.lanes.iter().map(ToString::to_string).collect(),
            kinds: trace.kinds.clone(),
            stream,
            progress,
            workers: per_worker,
            totals,
            graph: live.graph.clone(),
        }
    }
}

/// A runtime a dashboard can watch.
///
/// ```
/// use flotilla_dashboard::live::{Live, Source};
/// struct Nothing;
/// impl Source for Nothing {
///     fn live(&self) -> Live { Live::default() }
/// }
/// assert!(Nothing.live().trace.spans.is_empty());
/// ```
pub trait Source: Send + Sync + 'static {
    /// What the runtime knows now.
    fn live(&self) -> Live;
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_core::trace::{Lane, Span};

    #[test]
    fn the_stream_keeps_to_its_window_and_workers_gather_their_lanes() {
        let mut trace = Trace::new("t");
        trace.lanes = vec![Lane::new(0, 0), Lane::new(0, 1), Lane::new(1, 0)];
        let k = trace.kind("k");
        for i in 0..300u64 {
            let mut s = Span::new(i as u32, k, (i % 3) as u32, i * 10, i * 10 + 10);
            s.stolen = i % 50 == 0;
            trace.spans.push(s);
        }
        trace.makespan_ns = 3_000;
        let live = Live {
            trace,
            planned: vec![400],
            memory: vec![10, 20],
            queued: vec![1, 2, 3],
            ..Live::default()
        };
        let view = View::build(&live, 1_000);
        assert!(view.stream.iter().all(|b| b.end_ns <= 1_000));
        // A window longer than the run: the run's start is drawn where it
        // falls in the window, not at its left edge.
        let young = View::build(&live, 10_000);
        assert!(
            young.stream.iter().all(|b| b.start_ns >= 7_000),
            "{:?}",
            young.stream[0]
        );
        let in_window: u32 = view.stream.iter().map(|b| b.tasks).sum();
        assert!((99..=102).contains(&in_window), "{in_window}");
        assert_eq!(view.workers.len(), 2);
        assert_eq!((view.workers[0].threads, view.workers[1].threads), (2, 1));
        assert_eq!((view.workers[0].queued, view.workers[1].queued), (3, 3));
        assert_eq!(view.workers[1].memory, 20);
        // Each lane ran 10 ns of every 30 over the window.
        assert!(
            (view.workers[0].busy - 1.0 / 3.0).abs() < 0.02,
            "{}",
            view.workers[0].busy
        );
        assert_eq!(view.progress[0].total, 400);
        assert_eq!(view.totals.done, 300);
        assert_eq!(view.totals.stolen, 6);
    }
}
