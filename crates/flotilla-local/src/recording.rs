//! Recording what a pool's threads run, for run reports and dashboards.
//!
//! A pool records only while someone holds a [`Recorder`] of it (a run
//! with a report, a dashboard): [`CpuPool::record`] starts it. The pool's
//! [`Recording`] is made on first demand and kept; each job's accounting
//! (`pool::record`, run once per job) pushes one [`Span`] into the buffer
//! of the thread that ran it — a lock only that thread takes, except when
//! a reader copies the buffer out — after one relaxed load of the count
//! of recorders. With no recorder that load is all a job pays.
//!
//! What a span says beyond its times comes from the job itself: a graph
//! run's job tags itself with its task and kind ([`tag_current_job`])
//! before it is accounted; a submitted closure is tagged with its type's
//! name. Untagged jobs are of kind `job`.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use flotilla_core::trace::{Decision, DecisionKind, Lane, Outcome, Span, Trace};

use crate::executor::CpuPool;

/// What the running job says of itself: task, kind, outcome.
#[derive(Clone, Copy)]
pub(crate) struct Tag {
    pub(crate) task: u32,
    pub(crate) kind: u32,
    pub(crate) outcome: Outcome,
}

thread_local! {
    static TAG: Cell<Option<Tag>> = const { Cell::new(None) };
}

/// Tags the job running on this thread; its span carries the tag.
pub(crate) fn tag_current_job(tag: Tag) {
    TAG.with(|t| t.set(Some(tag)));
}

/// The first kinds of every recording: jobs that did not tag themselves,
/// then the groups of the pool's own submitted jobs.
const FIRST_KINDS: [&str; 3] = ["job", "submit", "map"];
/// The kind of `CpuPool::submit`'s jobs.
pub(crate) const SUBMIT_KIND: u32 = 1;
/// The kind of `CpuPool::map`'s jobs.
pub(crate) const MAP_KIND: u32 = 2;

/// The tag of a job submitted to the pool (`CpuPool::submit`, `map`):
/// its kind (named when submitted, else its group's, a kind made in
/// advance, so tagging takes no lock) and sequence number.
pub(crate) fn submitted(group: &str, kind: Option<u32>, seq: u64, failed: bool) -> Tag {
    Tag {
        task: seq as u32,
        kind: kind
            .unwrap_or_else(|| FIRST_KINDS.iter().position(|k| *k == group).unwrap_or(0) as u32),
        outcome: if failed {
            Outcome::Failed
        } else {
            Outcome::Done
        },
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The spans of one pool, one buffer per thread.
pub(crate) struct Recording {
    began: Instant,
    lanes: Vec<Mutex<Vec<Span>>>,
    kinds: Mutex<Kinds>,
    decisions: Mutex<Vec<Decision>>,
    /// Per kind, the tasks handed to the pool while it was recorded.
    planned: Mutex<Vec<u64>>,
    /// The latest run's graph when small enough to draw: its keys, kinds
    /// and edges, and when it was handed over.
    graph: Mutex<Option<(SmallGraph, u64)>>,
}

/// A graph small enough to draw on a dashboard.
#[derive(Clone, Default)]
#[cfg_attr(not(feature = "dashboard"), allow(dead_code))]
pub(crate) struct SmallGraph {
    pub(crate) keys: Vec<String>,
    pub(crate) kinds: Vec<u32>,
    pub(crate) edges: Vec<(u32, u32)>,
}

/// The largest graph a dashboard draws.
pub(crate) const DRAWN_GRAPH_TASKS: usize = 200;

#[derive(Default)]
struct Kinds {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Recording {
    pub(crate) fn new(threads: usize) -> Recording {
        let r = Recording {
            began: Instant::now(),
            lanes: (0..threads).map(|_| Mutex::new(Vec::new())).collect(),
            kinds: Mutex::new(Kinds::default()),
            decisions: Mutex::new(Vec::new()),
            planned: Mutex::new(Vec::new()),
            graph: Mutex::new(None),
        };
        for kind in FIRST_KINDS {
            r.kind(kind);
        }
        r
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.began).as_nanos() as u64
    }

    /// The index of kind `name`, added if new.
    pub(crate) fn kind(&self, name: &str) -> u32 {
        let mut kinds = lock(&self.kinds);
        if let Some(&i) = kinds.index.get(name) {
            return i;
        }
        let i = kinds.names.len() as u32;
        kinds.names.push(name.to_string());
        kinds.index.insert(name.to_string(), i);
        i
    }

    /// Counts `tasks` more tasks of kind `kind` handed to the pool.
    pub(crate) fn plan(&self, kind: u32, tasks: u64) {
        let mut planned = lock(&self.planned);
        let k = kind as usize;
        if planned.len() <= k {
            planned.resize(k + 1, 0);
        }
        planned[k] += tasks;
    }

    /// Keeps `graph` as the latest run's, to draw.
    pub(crate) fn set_graph(&self, graph: SmallGraph) {
        let at = self.now_ns();
        *lock(&self.graph) = Some((graph, at));
    }

    /// The tasks planned per kind.
    #[cfg_attr(not(feature = "dashboard"), allow(dead_code))]
    pub(crate) fn planned(&self) -> Vec<u64> {
        lock(&self.planned).clone()
    }

    /// The latest small graph, each task marked done when a span of it
    /// finished after the graph was handed over.
    #[cfg_attr(not(feature = "dashboard"), allow(dead_code))]
    pub(crate) fn graph(&self) -> Option<(SmallGraph, Vec<bool>)> {
        let (graph, at) = lock(&self.graph).clone()?;
        let mut done = vec![false; graph.keys.len()];
        for buffer in &self.lanes {
            for s in lock(buffer).iter().filter(|s| s.start_ns >= at) {
                if s.outcome == Outcome::Done {
                    if let Some(d) = done.get_mut(s.task as usize) {
                        *d = true;
                    }
                }
            }
        }
        Some((graph, done))
    }

    /// Records the job that ran on thread `lane` from `start` for `took`.
    pub(crate) fn push(&self, lane: usize, start: Instant, took: Duration, stolen: bool) {
        let tag = TAG.with(Cell::take).unwrap_or(Tag {
            task: u32::MAX,
            kind: 0,
            outcome: Outcome::Done,
        });
        let start_ns = self.nanos(start);
        let span = Span {
            task: tag.task,
            kind: tag.kind,
            lane: lane as u32,
            start_ns,
            end_ns: start_ns + took.as_nanos() as u64,
            stolen,
            outcome: tag.outcome,
        };
        if let Some(buffer) = self.lanes.get(lane) {
            lock(buffer).push(span);
        }
    }

    /// Records that the scheduler started `attempt` of `task` again.
    pub(crate) fn decide(&self, kind: DecisionKind, task: String, attempt: u32) {
        let at_ns = self.nanos(Instant::now());
        lock(&self.decisions).push(Decision {
            at_ns,
            task,
            attempt,
            kind,
        });
    }

    pub(crate) fn now_ns(&self) -> u64 {
        self.nanos(Instant::now())
    }

    /// Everything recorded from `from_ns` on, with times counted from
    /// `from_ns`, up to now.
    fn trace_since(&self, from_ns: u64, title: &str) -> Trace {
        let to_ns = self.now_ns();
        let mut t = Trace::new(title);
        t.kinds = lock(&self.kinds).names.clone();
        t.lanes = (0..self.lanes.len() as u32)
            .map(|i| Lane::new(0, i))
            .collect();
        for buffer in &self.lanes {
            t.spans.extend(
                lock(buffer)
                    .iter()
                    .filter(|s| s.start_ns >= from_ns)
                    .map(|s| Span {
                        start_ns: s.start_ns - from_ns,
                        end_ns: s.end_ns - from_ns,
                        ..*s
                    }),
            );
        }
        t.decisions = lock(&self.decisions)
            .iter()
            .filter(|d| d.at_ns >= from_ns)
            .map(|d| Decision {
                at_ns: d.at_ns - from_ns,
                ..d.clone()
            })
            .collect();
        t.makespan_ns = to_ns.saturating_sub(from_ns);
        t.tasks = t.spans.len() as u64;
        t
    }

    /// Drops every span and decision (no recorder is left).
    fn clear(&self) {
        for buffer in &self.lanes {
            *lock(buffer) = Vec::new();
        }
        lock(&self.decisions).clear();
        lock(&self.planned).clear();
        *lock(&self.graph) = None;
    }
}

/// A recording of what a [`CpuPool`] runs, from the moment it was made:
/// every task of every run and every submitted job, on which thread, from
/// when to when, of which kind, stolen or not, and the scheduler's
/// decisions. Made by [`CpuPool::record`]; the pool records while at least
/// one recorder of it is alive, and forgets what it recorded when the last
/// one is dropped.
///
/// [`Recorder::trace`] returns what was recorded so far, and
/// [`Recorder::write_report`] writes it as a self-contained HTML report.
///
/// ```
/// use flotilla_local::{CpuPool, Delayed};
///
/// let pool = CpuPool::with_threads(2).unwrap();
/// let recorder = pool.record();
/// let parts: Vec<_> = (0..8u64).map(|i| Delayed::from_fn(move || i * i).named("square")).collect();
/// let total = Delayed::gather(&parts, |v| v.iter().copied().sum::<u64>());
/// let options = flotilla_local::ComputeOptions::new().pool(&pool);
/// assert_eq!(total.compute_with(&options).unwrap(), 140);
/// let trace = recorder.trace("squares");
/// assert!(trace.kinds.iter().any(|k| k == "square"));
/// assert!(trace.spans.len() >= 9);
/// ```
pub struct Recorder {
    pool: CpuPool,
    recording: Arc<Recording>,
    from_ns: u64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("pool", &self.pool)
            .field("from_ns", &self.from_ns)
            .finish()
    }
}

impl Recorder {
    /// The pool's recording this recorder reads.
    #[cfg_attr(not(feature = "dashboard"), allow(dead_code))]
    pub(crate) fn recording(&self) -> &Arc<Recording> {
        &self.recording
    }

    pub(crate) fn start(pool: &CpuPool) -> Recorder {
        let handle = pool.handle();
        let recording = handle.recording();
        handle.recorders().fetch_add(1, Ordering::AcqRel);
        let from_ns = recording.now_ns();
        Recorder {
            pool: pool.clone(),
            recording,
            from_ns,
        }
    }

    /// What was recorded since this recorder was made, titled `title`:
    /// one lane per pool thread, times in nanoseconds since then, the
    /// makespan up to now, and the pool's settings.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(1).unwrap();
    /// let recorder = pool.record();
    /// pool.submit(|| 1).result().unwrap();
    /// let trace = recorder.trace("one job");
    /// assert_eq!(trace.spans.len(), 1);
    /// assert_eq!(trace.lanes.len(), 1);
    /// ```
    pub fn trace(&self, title: &str) -> Trace {
        let mut t = self.recording.trace_since(self.from_ns, title);
        t.set("threads", self.pool.threads());
        t.set("placement", self.pool.placement().name());
        t
    }

    /// Writes [`Recorder::trace`] as a self-contained HTML run report
    /// (task stream, utilization per thread, durations per kind, the
    /// scheduler's decisions, the settings) at `path`.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// let recorder = pool.record();
    /// assert_eq!(pool.map(0..100u64, |i| i * 2).count(), 100);
    /// let path = std::env::temp_dir().join(format!("flotilla-doc-report-{}.html", std::process::id()));
    /// recorder.write_report(&path, "doubling").unwrap();
    /// assert!(std::fs::read_to_string(&path).unwrap().contains("doubling"));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn write_report(&self, path: impl AsRef<Path>, title: &str) -> std::io::Result<()> {
        write_html(
            path.as_ref(),
            &flotilla_dashboard::report::render(&self.trace(title)),
        )
    }
}

/// Writes `html` at `path`, naming the path in the error.
pub(crate) fn write_html(path: &Path, html: &str) -> std::io::Result<()> {
    std::fs::write(path, html).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot write the report {}: {e}", path.display()),
        )
    })
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let handle = self.pool.handle();
        if handle.recorders().fetch_sub(1, Ordering::AcqRel) == 1 {
            self.recording.clear();
        }
    }
}
