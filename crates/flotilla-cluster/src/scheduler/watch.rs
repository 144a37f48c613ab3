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
//! Nothing here runs unless the scheduler serves a dashboard.

#![cfg_attr(not(feature = "dashboard"), allow(dead_code))]

use std::collections::{HashMap, HashSet};
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

/// The scheduler's record of its tasks, for its dashboard.
pub(crate) struct Watch {
    began: Instant,
    trace: Trace,
    workers: HashMap<u32, Watched>,
    /// Per task, when its running attempt reported its start.
    started: HashMap<u32, u64>,
    /// Per task, how its last attempt ended.
    last: HashMap<u32, Outcome>,
    /// Tasks a worker gave up to another (stolen, when they finish).
    stolen: HashSet<u32>,
    /// Per kind, tasks submitted.
    planned: Vec<u64>,
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
            .field("workers", &self.workers.len())
            .finish()
    }
}

impl Watch {
    pub(crate) fn new(placement: &str) -> Watch {
        Watch {
            began: Instant::now(),
            trace: Trace::new("flotilla cluster"),
            workers: HashMap::new(),
            started: HashMap::new(),
            last: HashMap::new(),
            stolen: HashSet::new(),
            planned: Vec::new(),
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
        self.workers.insert(worker, Watched { lanes });
    }

    /// Tasks of these kinds were submitted.
    pub(crate) fn submitted<'a>(&mut self, kinds: impl IntoIterator<Item = &'a str>) {
        for kind in kinds {
            let k = self.trace.kind(kind) as usize;
            if self.planned.len() <= k {
                self.planned.resize(k + 1, 0);
            }
            self.planned[k] += 1;
        }
    }

    pub(crate) fn started(&mut self, task: u32) {
        let now = self.now();
        self.started.insert(task, now);
    }

    /// An attempt of `task` (of kind `kind`) ended on `worker` after
    /// running `micros` (when the worker said; else since it started).
    pub(crate) fn ended(
        &mut self,
        worker: u32,
        task: u32,
        kind: &str,
        micros: Option<u64>,
        outcome: Outcome,
    ) {
        let end = self.now();
        let began = self.started.remove(&task);
        let start = match micros {
            Some(us) => end.saturating_sub(us.saturating_mul(1_000)),
            None => began.unwrap_or(end),
        };
        let kind = self.trace.kind(kind);
        let Some(watched) = self.workers.get_mut(&worker) else {
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
        span.stolen = outcome == Outcome::Done && self.stolen.remove(&task);
        self.trace.spans.push(span);
        self.last.insert(task, outcome);
    }

    /// `task` was moved to another worker's queue.
    pub(crate) fn given_up(&mut self, task: u32) {
        self.stolen.insert(task);
    }

    /// `task` (key `key`) was handed to `worker` as attempt `attempt`,
    /// its inputs `(worker, bytes)` where they are.
    pub(crate) fn dispatched(
        &mut self,
        worker: u32,
        task: u32,
        key: &str,
        attempt: u32,
        inputs: impl IntoIterator<Item = (u32, u64)>,
    ) {
        let now = self.now();
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
            let kind = match self.last.get(&task) {
                Some(Outcome::Failed) => DecisionKind::Retry,
                None if self.started.contains_key(&task) => DecisionKind::Copy,
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
        trace.makespan_ns = self.now();
        trace.tasks = self.planned.iter().sum();
        trace.title = format!(
            "flotilla cluster: {} workers, {} threads",
            self.status.workers.len(),
            self.status.workers.iter().map(|w| w.threads).sum::<u32>()
        );
        trace.set("placement", &self.placement);
        trace.set("workers", self.status.workers.len());
        trace
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

    /// What the dashboard draws now.
    pub(crate) fn live(&self) -> Live {
        let trace = self.trace();
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
            if let Some(lane) = self.workers.get(&w.id).and_then(|x| x.lanes.first()) {
                queued[lane.0 as usize] = w.queued;
            }
        }
        Live {
            trace,
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
pub(crate) struct SharedWatch(pub(crate) Arc<Mutex<Watch>>);

impl Source for SharedWatch {
    fn live(&self) -> Live {
        match self.0.lock() {
            Ok(w) => w.live(),
            Err(p) => p.into_inner().live(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_sent_keeps_the_latest_attempts_and_says_how_many_it_left_out() {
        let mut w = Watch::new("work-stealing");
        w.worker_joined(0, 1);
        for task in 0..5 {
            w.started(task);
            w.ended(0, task, "step", Some(0), Outcome::Done);
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
