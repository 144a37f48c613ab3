//! What the scheduler's dashboard shows: a [`Trace`] of the cluster's
//! tasks, built by the event loop from what it hears and sends.
//!
//! The workers already report each attempt's run time with its finish;
//! the watch places the attempt on one of its worker's thread lanes —
//! the first lane free at the attempt's start (end minus run time), so a
//! worker's lanes show how many of its threads were busy at once. Steals
//! are the tasks a worker gave up to another; a task handed out again is
//! a retry (its attempt failed), a speculative copy (its attempt still
//! runs) or a recomputation (its result was lost with a worker); inputs
//! sent to a task's worker from another are transfers. The workers'
//! memory and spills come from their heartbeats, through the latest
//! [`ClusterStatus`].
//!
//! Nothing here runs unless the scheduler serves a dashboard or a client
//! records. When it runs it is on the event loop's path, so it is cheap
//! per task: what it notes of a task sits in a vector indexed by the
//! task's number (the event loop passes only numbers of its graph's
//! tasks), and the events of one turn of the event loop share a reading
//! of the clock (a long turn reads it again every 256 events).

#![cfg_attr(not(feature = "dashboard"), allow(dead_code))]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use flotilla_core::trace::{
    Decision, DecisionKind, Lane, MemorySample, Outcome, Span, Trace, Transfer,
};
use flotilla_dashboard::live::{GraphNode, GraphShape, Live, Source};

use crate::protocol::messages::ClusterStatus;

/// One worker as the watch knows it.
struct Watched {
    /// Its lanes: index into the trace's lanes, and when each is free.
    lanes: Vec<(u32, u64)>,
}

/// What the watch notes of one task between its attempts.
#[derive(Debug, Clone, Copy, Default)]
struct Noted {
    /// When its running attempt reported its start.
    started: Option<u64>,
    /// How its last attempt ended.
    last: Option<Outcome>,
    /// A worker gave it up to another (stolen, when it finishes).
    given_up: bool,
}

/// The scheduler's record of its tasks, for its dashboard.
pub(crate) struct Watch {
    began: Instant,
    trace: Trace,
    /// The workers seen, by worker number.
    workers: Vec<Option<Watched>>,
    /// What is noted of each task, by task number.
    tasks: Vec<Noted>,
    /// Per kind, the tasks that joined the scheduler's graph.
    planned: Vec<u64>,
    /// The trace's kind of each kind of the scheduler's graph, by its number.
    graph_kinds: Vec<Option<u32>>,
    status: ClusterStatus,
    placement: String,
    graph: Option<GraphShape>,
}

/// The largest graph the dashboard draws.
pub(crate) const DRAWN_GRAPH_TASKS: usize = 200;

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("spans", &self.trace.spans.len())
            .field("workers", &self.workers.iter().flatten().count())
            .finish()
    }
}

impl Watch {
    pub(crate) fn new(placement: &str) -> Watch {
        Watch {
            began: Instant::now(),
            trace: Trace::new("flotilla cluster"),
            workers: Vec::new(),
            tasks: Vec::new(),
            planned: Vec::new(),
            graph_kinds: Vec::new(),
            status: ClusterStatus::default(),
            placement: placement.to_string(),
            graph: None,
        }
    }

    /// Nanoseconds since the watch began: the clock of its record.
    pub(crate) fn now(&self) -> u64 {
        self.began.elapsed().as_nanos() as u64
    }

    /// A worker joined with `threads` threads.
    pub(crate) fn worker_joined(&mut self, worker: u32, threads: u32) {
        let lanes = (0..threads.max(1))
            .map(|thread| {
                self.trace.lanes.push(Lane::new(worker, thread));
                ((self.trace.lanes.len() - 1) as u32, 0)
            })
            .collect();
        let i = worker as usize;
        if self.workers.len() <= i {
            self.workers.resize_with(i + 1, || None);
        }
        self.workers[i] = Some(Watched { lanes });
    }

    /// Tasks of these kinds (as [`Watch::kind`] takes them) joined the
    /// scheduler's graph.
    pub(crate) fn tasks_added<'a>(&mut self, kinds: impl IntoIterator<Item = (usize, &'a str)>) {
        for kind in kinds {
            let k = self.kind(kind) as usize;
            if self.planned.len() <= k {
                self.planned.resize(k + 1, 0);
            }
            self.planned[k] += 1;
        }
    }

    /// What is noted of `task`, made on first mention; `task` is a task of
    /// the scheduler's graph (the vector grows to its number).
    fn noted(&mut self, task: u32) -> &mut Noted {
        let i = task as usize;
        if self.tasks.len() <= i {
            self.tasks.resize(i + 1, Noted::default());
        }
        &mut self.tasks[i]
    }

    /// The trace's number of a task's kind, given as its number in the
    /// scheduler's graph and its name.
    pub(crate) fn kind(&mut self, (number, name): (usize, &str)) -> u32 {
        if let Some(&Some(k)) = self.graph_kinds.get(number) {
            return k;
        }
        let k = self.trace.kind(name);
        if self.graph_kinds.len() <= number {
            self.graph_kinds.resize(number + 1, None);
        }
        self.graph_kinds[number] = Some(k);
        k
    }

    /// An attempt of `task` reported its start at `now` (see [`Watch::now`]).
    pub(crate) fn started(&mut self, task: u32, now: u64) {
        self.noted(task).started = Some(now);
    }

    /// An attempt of `task` (of the trace's kind `kind`, see
    /// [`Watch::kind`]) ended on `worker` at `end`
    /// (see [`Watch::now`]) after running `micros` (when the worker said;
    /// else since it started).
    pub(crate) fn ended(
        &mut self,
        worker: u32,
        task: u32,
        kind: u32,
        end: u64,
        micros: Option<u64>,
        outcome: Outcome,
    ) {
        let noted = self.noted(task);
        let began = noted.started.take();
        noted.last = Some(outcome);
        let stolen = outcome == Outcome::Done && std::mem::take(&mut noted.given_up);
        let start = match micros {
            Some(us) => end.saturating_sub(us.saturating_mul(1_000)),
            None => began.unwrap_or(end),
        };
        let Some(Some(watched)) = self.workers.get_mut(worker as usize) else {
            return;
        };
        // The first lane free when it started, else the one free soonest.
        let slot = watched
            .lanes
            .iter()
            .position(|&(_, free)| free <= start)
            .or_else(|| {
                watched
                    .lanes
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, &(_, free))| free)
                    .map(|(i, _)| i)
            })
            .unwrap_or(0);
        let Some(lane) = watched.lanes.get_mut(slot) else {
            return;
        };
        lane.1 = lane.1.max(end);
        let mut span = Span::new(task, kind, lane.0, start, end);
        span.outcome = outcome;
        span.stolen = stolen;
        self.trace.spans.push(span);
    }

    /// `task` was moved to another worker's queue.
    pub(crate) fn given_up(&mut self, task: u32) {
        self.noted(task).given_up = true;
    }

    /// `task` (key `key`) was handed to `worker` as attempt `attempt` at
    /// `now` (see [`Watch::now`]), its inputs `(worker, bytes)` where they are.
    pub(crate) fn dispatched(
        &mut self,
        worker: u32,
        task: u32,
        key: &str,
        attempt: u32,
        now: u64,
        inputs: impl IntoIterator<Item = (u32, u64)>,
    ) {
        for (from, bytes) in inputs {
            if from != worker {
                self.trace.transfers.push(Transfer {
                    at_ns: now,
                    from,
                    to: worker,
                    bytes,
                });
            }
        }
        if attempt > 1 {
            let noted = self.tasks.get(task as usize).copied().unwrap_or_default();
            let kind = match noted.last {
                Some(Outcome::Failed) => DecisionKind::Retry,
                None if noted.started.is_some() => DecisionKind::Copy,
                _ => DecisionKind::Recompute,
            };
            self.trace.decisions.push(Decision {
                at_ns: now,
                task: key.to_string(),
                attempt,
                kind,
            });
        }
    }

    /// The cluster's latest status (queues, memory, spills).
    pub(crate) fn set_status(&mut self, status: ClusterStatus) {
        let now = self.now();
        for w in &status.workers {
            self.trace.memory.push(MemorySample {
                at_ns: now,
                worker: w.id,
                bytes: w.memory_used.unwrap_or(w.held_bytes),
                spilled: w.spilled_bytes,
            });
        }
        self.status = status;
    }

    /// The cluster's graph, when small enough to draw.
    pub(crate) fn set_graph(&mut self, parts: Option<crate::scheduler::state::GraphParts<'_>>) {
        self.graph = parts.map(|(nodes, edges)| GraphShape {
            nodes: nodes
                .into_iter()
                .map(|(key, kind, done)| GraphNode {
                    key,
                    kind: self.trace.kind(kind),
                    done,
                })
                .collect(),
            edges,
        });
    }

    /// The record so far, titled with the cluster's size and its settings.
    pub(crate) fn trace(&self) -> Trace {
        let mut trace = self.trace.clone();
        self.describe(&mut trace);
        trace
    }

    /// Brings `copy`, an earlier copy of the record, up to date. The record
    /// only grows, so this appends what was added since: a dashboard's
    /// request holds the event loop's lock for what is new, not for the
    /// whole record.
    pub(crate) fn update(&self, copy: &mut Trace) {
        fn append<T: Clone>(copy: &mut Vec<T>, record: &[T]) {
            match record.get(copy.len()..) {
                Some(new) => copy.extend_from_slice(new),
                // Not a copy of this record: copy it whole.
                None => *copy = record.to_vec(),
            }
        }
        let record = &self.trace;
        append(&mut copy.kinds, &record.kinds);
        append(&mut copy.lanes, &record.lanes);
        append(&mut copy.spans, &record.spans);
        append(&mut copy.decisions, &record.decisions);
        append(&mut copy.transfers, &record.transfers);
        append(&mut copy.spills, &record.spills);
        append(&mut copy.memory, &record.memory);
        copy.config.clone_from(&record.config);
        self.describe(copy);
    }

    /// Titles `trace` with the cluster's size and adds its settings.
    fn describe(&self, trace: &mut Trace) {
        trace.makespan_ns = self.now();
        trace.tasks = self.planned.iter().sum();
        trace.title = format!(
            "flotilla cluster: {} workers, {} threads",
            self.status.workers.len(),
            self.status.workers.iter().map(|w| w.threads).sum::<u32>()
        );
        trace.set("placement", &self.placement);
        trace.set("workers", self.status.workers.len());
    }

    /// The record from `from_ns` on, times counted from there, each list
    /// cut to its latest `most` items (the number left out said in the
    /// settings).
    pub(crate) fn trace_since(&self, from_ns: u64, most: usize) -> Trace {
        let mut trace = self.trace().since(from_ns);
        let over = trace.spans.len().saturating_sub(most);
        if over > 0 {
            trace.spans.drain(..over);
            trace.set("attempts left out (the earliest)", over);
        }
        let over = trace.decisions.len().saturating_sub(most);
        trace.decisions.drain(..over);
        let over = trace.transfers.len().saturating_sub(most);
        trace.transfers.drain(..over);
        let over = trace.memory.len().saturating_sub(most);
        trace.memory.drain(..over);
        trace
    }

    /// What the dashboard draws now, but for the record itself: its
    /// `trace` is empty (see [`Watch::update`]).
    fn live_but_trace(&self) -> Live {
        let trace = &self.trace;
        let workers = trace
            .lanes
            .iter()
            .map(|l| l.worker)
            .max()
            .map_or(0, |w| w as usize + 1);
        let mut memory = vec![0; workers];
        let mut spilled = vec![0; workers];
        let mut queued = vec![0; trace.lanes.len()];
        for w in &self.status.workers {
            let i = w.id as usize;
            if i < workers {
                memory[i] = w.memory_used.unwrap_or(w.held_bytes);
                spilled[i] = w.spilled_bytes;
            }
            // A worker's queue counts on its first lane.
            let watched = self.workers.get(w.id as usize).and_then(Option::as_ref);
            if let Some(lane) = watched.and_then(|x| x.lanes.first()) {
                queued[lane.0 as usize] = w.queued;
            }
        }
        Live {
            trace: Trace::new(""),
            planned: self.planned.clone(),
            memory,
            spilled,
            queued,
            placement: self.placement.clone(),
            graph: self.graph.clone(),
        }
    }
}

/// The watch shared by the event loop and the dashboard's server.
pub(crate) struct SharedWatch {
    watch: Arc<Mutex<Watch>>,
    /// The record as the dashboard last copied it out.
    copy: Mutex<Trace>,
}

impl SharedWatch {
    /// The dashboard's source of `watch`, with no copy of its record yet.
    pub(crate) fn new(watch: Arc<Mutex<Watch>>) -> SharedWatch {
        SharedWatch {
            watch,
            copy: Mutex::new(Trace::new("")),
        }
    }
}

/// Locks `m`, also when a panic elsewhere poisoned it: the event loop and
/// the dashboard go on with what the record holds.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Source for SharedWatch {
    fn live(&self) -> Live {
        let mut copy = lock(&self.copy);
        let mut live = {
            let watch = lock(&self.watch);
            watch.update(&mut copy);
            watch.live_but_trace()
        };
        // Cloned with the event loop's lock released.
        live.trace = copy.clone();
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_added_count_per_kind_and_a_graph_kind_is_looked_up_once() {
        let mut w = Watch::new("work-stealing");
        w.tasks_added([(2, "step"), (2, "step"), (4, "load"), (2, "step")]);
        assert_eq!(w.trace.kinds, ["step", "load"]);
        assert_eq!(w.planned, [3, 1]);
        // The graph numbers its kinds its own way; the trace's follow.
        assert_eq!(w.kind((4, "load")), 1);
        assert_eq!(w.kind((2, "step")), 0);
        assert_eq!(w.kind((4, "load")), 1);
        assert_eq!(w.kind((0, "merge")), 2);
        assert_eq!(w.trace.kinds, ["step", "load", "merge"]);
    }

    #[test]
    fn attempts_handed_out_again_are_named_by_what_became_of_the_last() {
        let mut w = Watch::new("work-stealing");
        w.worker_joined(0, 2);
        w.worker_joined(1, 1);
        // Task 0 failed on worker 0, then ran again: a retry.
        w.dispatched(0, 0, "step-0", 1, 0, []);
        w.started(0, 10);
        w.ended(0, 0, 0, 20, None, Outcome::Failed);
        w.dispatched(1, 0, "step-0", 2, 30, [(0, 8)]);
        // Task 1 still runs when a second attempt goes out: a copy.
        w.started(1, 40);
        w.dispatched(1, 1, "step-1", 2, 50, []);
        // Task 2 finished, then ran again: its result was lost.
        w.started(2, 60);
        w.ended(0, 2, 0, 70, Some(0), Outcome::Done);
        w.dispatched(1, 2, "step-2", 2, 80, []);
        let kinds: Vec<_> = w
            .trace
            .decisions
            .iter()
            .map(|d| (d.task.as_str(), d.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("step-0", DecisionKind::Retry),
                ("step-1", DecisionKind::Copy),
                ("step-2", DecisionKind::Recompute)
            ]
        );
        // Its input was on worker 0, the rerun on worker 1: a transfer.
        assert_eq!(w.trace.transfers.len(), 1);
        assert_eq!((w.trace.transfers[0].from, w.trace.transfers[0].to), (0, 1));
    }

    #[test]
    fn a_task_given_up_and_then_done_is_stolen_and_overlapping_attempts_take_separate_lanes() {
        let mut w = Watch::new("work-stealing");
        w.worker_joined(0, 2);
        w.given_up(3);
        // Two attempts of 10 µs ending together ran at once: two lanes.
        w.ended(0, 3, 0, 20_000, Some(10), Outcome::Done);
        w.ended(0, 4, 0, 20_000, Some(10), Outcome::Done);
        let spans = &w.trace.spans;
        assert_eq!(spans.len(), 2);
        assert!(spans[0].stolen && !spans[1].stolen);
        assert_ne!(spans[0].lane, spans[1].lane);
        assert_eq!((spans[0].start_ns, spans[0].end_ns), (10_000, 20_000));
        // An attempt on a worker the watch never saw join is not drawn.
        w.ended(7, 5, 0, 30_000, Some(1), Outcome::Done);
        assert_eq!(w.trace.spans.len(), 2);
    }

    #[test]
    fn the_dashboard_copies_what_was_added_since_its_last_look_and_sees_the_whole_record() {
        let watch = Arc::new(Mutex::new(Watch::new("work-stealing")));
        let source = SharedWatch::new(Arc::clone(&watch));
        let end = |task: u32| {
            let mut w = lock(&watch);
            let kind = w.kind((0, "step"));
            let now = w.now();
            w.ended(0, task, kind, now, Some(0), Outcome::Done);
        };
        lock(&watch).worker_joined(0, 1);
        end(0);
        assert_eq!(source.live().trace.spans.len(), 1);
        lock(&watch).worker_joined(1, 2);
        end(1);
        lock(&watch).dispatched(1, 1, "step-1", 2, 5, [(0, 64)]);
        let live = source.live();
        let whole = lock(&watch).trace();
        let tasks = |t: &Trace| t.spans.iter().map(|s| s.task).collect::<Vec<_>>();
        assert_eq!(tasks(&live.trace), [0, 1]);
        assert_eq!(tasks(&live.trace), tasks(&whole));
        assert_eq!(live.trace.lanes.len(), 3);
        assert_eq!(live.trace.kinds, ["step"]);
        assert_eq!(live.trace.decisions.len(), 1);
        assert_eq!(live.trace.transfers.len(), 1);
        assert_eq!(live.trace.config, whole.config);
        assert_eq!(live.queued.len(), 3);
    }

    #[test]
    fn a_record_sent_keeps_the_latest_attempts_and_says_how_many_it_left_out() {
        let mut w = Watch::new("work-stealing");
        w.worker_joined(0, 1);
        for task in 0..5 {
            w.started(task, w.now());
            w.ended(0, task, 0, w.now(), Some(0), Outcome::Done);
        }
        let sent = w.trace_since(0, 3);
        let tasks: Vec<u32> = sent.spans.iter().map(|s| s.task).collect();
        assert_eq!(tasks, [2, 3, 4]);
        assert!(sent
            .config
            .iter()
            .any(|(k, v)| k.starts_with("attempts left out") && v == "2"));
        // From a later time on, nothing earlier.
        assert!(w.trace_since(w.now() + 1, 3).spans.is_empty());
    }
}
