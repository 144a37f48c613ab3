//! The moving half of a pipeline run: the nodes that work on items, the
//! runners that carry them on the pool's workers, and the sink loop on the
//! calling thread.
//!
//! A *runner* of a node is a job spawned in the run's [`Scope`]: it starts
//! an item, works on it (the source pulls its iterator once, a stage takes
//! an item off its input edge and calls its function), queues the result,
//! and goes on while its node can start; when it cannot, it stops. Runners
//! never block: a node held back by a full edge or an empty one has no
//! runner at all, and is woken by whoever changes that (see `flow`). So
//! a pipeline of any number of stages and workers runs on a pool of any
//! size, one thread included, and its work is the pool's work: stolen by
//! idle workers, counted in [`CpuPool::measure`](flotilla_local::CpuPool::measure).

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use flotilla_local::{panic_message, yield_now, Scope, Yield};

use super::flow::Flow;
use super::{PipelineError, StageError};

/// An item in flight: its sequence number in the source, and the item.
pub(super) type Packet<T> = (u64, T);

/// The items queued between two nodes; how many there are is counted in
/// the [`Flow`], which is what decides who takes one.
#[derive(Debug)]
pub(super) struct Edge<T> {
    items: Mutex<VecDeque<Packet<T>>>,
}

impl<T> Edge<T> {
    pub(super) fn new() -> Edge<T> {
        Edge {
            items: Mutex::new(VecDeque::new()),
        }
    }

    fn push(&self, packet: Packet<T>) {
        lock(&self.items).push_back(packet);
    }

    pub(super) fn pop(&self) -> Option<Packet<T>> {
        lock(&self.items).pop_front()
    }
}

/// What working on one item came to.
pub(super) enum Outcome {
    /// A result was queued on the edge after the node.
    Queued,
    /// The source iterator ended.
    Exhausted,
    /// The item failed: the run stops with this error.
    Failed(PipelineError),
    /// No item was there to take (the counts promise one; nothing queued).
    Missing,
}

/// A source or a stage: works on one item at a time, on any runner.
pub(super) trait Node: Send + Sync {
    /// Works on one item and says how long the user's code took.
    fn step(&self) -> (Outcome, Duration);
}

/// Node 0: pulls the iterator and numbers the items.
pub(super) struct Source<I: Iterator> {
    items: Mutex<(I, u64)>,
    output: std::sync::Arc<Edge<I::Item>>,
}

impl<I: Iterator> Source<I> {
    pub(super) fn new(items: I, output: std::sync::Arc<Edge<I::Item>>) -> Source<I> {
        Source {
            items: Mutex::new((items, 0)),
            output,
        }
    }
}

impl<I> Node for Source<I>
where
    I: Iterator + Send,
    I::Item: Send,
{
    fn step(&self) -> (Outcome, Duration) {
        let mut pulling = lock(&self.items);
        let (items, seq) = &mut *pulling;
        let started = Instant::now();
        let next = panic::catch_unwind(AssertUnwindSafe(|| items.next()));
        let busy = started.elapsed();
        let outcome = match next {
            Ok(Some(item)) => {
                self.output.push((*seq, item));
                *seq += 1;
                Outcome::Queued
            }
            Ok(None) => Outcome::Exhausted,
            Err(payload) => Outcome::Failed(PipelineError::SourcePanicked {
                item: *seq,
                message: panic_message(payload.as_ref()),
            }),
        };
        (outcome, busy)
    }
}

/// A stage: takes an item off its input edge, calls its function, and
/// queues the result.
pub(super) struct Stage<T, U, F> {
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) f: F,
    pub(super) input: std::sync::Arc<Edge<T>>,
    pub(super) output: std::sync::Arc<Edge<U>>,
}

impl<T, U, E, F> Node for Stage<T, U, F>
where
    T: Send,
    U: Send,
    E: Into<StageError>,
    F: Fn(T) -> Result<U, E> + Send + Sync,
{
    fn step(&self) -> (Outcome, Duration) {
        let Some((seq, item)) = self.input.pop() else {
            return (Outcome::Missing, Duration::ZERO);
        };
        let started = Instant::now();
        // The error's conversion is user code too (an `Into` impl): inside.
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            (self.f)(item).map_err(Into::<StageError>::into)
        }));
        let busy = started.elapsed();
        let outcome = match result {
            Ok(Ok(output)) => {
                self.output.push((seq, output));
                Outcome::Queued
            }
            Ok(Err(error)) => Outcome::Failed(PipelineError::StageFailed {
                stage: self.name.clone(),
                stage_index: self.index,
                item: seq,
                source: error,
            }),
            Err(payload) => Outcome::Failed(PipelineError::StagePanicked {
                stage: self.name.clone(),
                stage_index: self.index,
                item: seq,
                message: panic_message(payload.as_ref()),
            }),
        };
        (outcome, busy)
    }
}

/// What one node did, for the report.
#[derive(Debug, Clone, Default)]
pub(super) struct Tally {
    pub(super) items_in: u64,
    pub(super) items_out: u64,
    pub(super) busy: Duration,
    /// Worker time lost to a full edge after the node.
    pub(super) held_back: Duration,
    /// When each runner that stopped for want of room stopped; a runner
    /// handed out later ends the oldest such wait.
    held_since: Vec<Instant>,
}

impl Tally {
    fn runner_held_back(&mut self, now: Instant) {
        self.held_since.push(now);
    }

    fn runner_handed_out(&mut self) {
        if !self.held_since.is_empty() {
            let since = self.held_since.remove(0);
            self.held_back += since.elapsed();
        }
    }

    fn close(&mut self, end: Instant) {
        for since in self.held_since.drain(..) {
            self.held_back += end.saturating_duration_since(since);
        }
    }
}

/// Everything the runners and the sink change together, under one lock.
struct Ledger {
    flow: Flow,
    tallies: Vec<Tally>,
    first_error: Option<PipelineError>,
    sink_waiting: bool,
}

impl Ledger {
    /// Hands out a runner for `node` when the flow says so; the caller
    /// spawns one for each node pushed on `spawn`.
    fn wake(&mut self, node: usize, spawn: &mut Vec<usize>) {
        if self.flow.wake(node) {
            self.tallies[node].runner_handed_out();
            spawn.push(node);
        }
    }

    /// [`Flow::wake_after_take`], booked as [`Ledger::wake`] books.
    fn wake_after_take(&mut self, node: usize, spawn: &mut Vec<usize>) {
        if self.flow.wake_after_take(node) {
            self.tallies[node].runner_handed_out();
            spawn.push(node);
        }
    }
}

/// A runner out on the pool, as the flow counts it. Dropped only when the
/// runner unwinds (user code is caught inside each step, so only a bug
/// gets here): the run stops, the runner is no longer counted, and the
/// sink is told, so that the run ends and the scope passes the panic on
/// instead of the sink waiting for a runner that is gone. A runner that
/// stops normally is forgotten, not dropped.
struct Runner<'r, 'n> {
    run: &'r Run<'n>,
    node: usize,
}

impl Drop for Runner<'_, '_> {
    fn drop(&mut self) {
        let mut ledger = self.run.lock();
        ledger.flow.stop();
        ledger.flow.runner_lost(self.node);
        self.run.signal_sink(&mut ledger);
    }
}

/// One run of a pipeline: its nodes, its ledger, and the sink's signal.
pub(super) struct Run<'n> {
    nodes: Vec<Box<dyn Node + 'n>>,
    ledger: Mutex<Ledger>,
    sink_signal: Condvar,
}

impl<'n> Run<'n> {
    pub(super) fn new(nodes: Vec<Box<dyn Node + 'n>>, flow: Flow) -> Run<'n> {
        let tallies = vec![Tally::default(); nodes.len()];
        Run {
            nodes,
            ledger: Mutex::new(Ledger {
                flow,
                tallies,
                first_error: None,
                sink_waiting: false,
            }),
            sink_signal: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }

    fn signal_sink(&self, ledger: &mut Ledger) {
        if ledger.sink_waiting {
            ledger.sink_waiting = false;
            self.sink_signal.notify_one();
        }
    }

    /// Stops the run: no node starts anything more.
    pub(super) fn stop(&self) {
        let mut ledger = self.lock();
        ledger.flow.stop();
        self.signal_sink(&mut ledger);
    }

    /// Starts the source's runner; then runners start one another.
    pub(super) fn start<'s>(&'s self, scope: &Scope<'s>) {
        let mut spawn = Vec::new();
        self.lock().wake(0, &mut spawn);
        self.spawn(scope, &mut spawn);
    }

    fn spawn<'s>(&'s self, scope: &Scope<'s>, nodes: &mut Vec<usize>) {
        for node in nodes.drain(..) {
            scope.spawn(move |scope| self.run_node(scope, node));
        }
    }

    /// A runner, first of `node`: works on items while its node can start,
    /// then goes on as a runner of another node that needs one, and stops
    /// when none does. The end of one item and the start of the next share
    /// one critical section.
    fn run_node<'s>(&'s self, scope: &Scope<'s>, node: usize) {
        let mut runner = Runner { run: self, node };
        let mut spawn = Vec::new();
        let mut previous = None;
        loop {
            {
                let mut ledger = self.lock();
                if let Some((outcome, busy)) = previous.take() {
                    self.record(&mut ledger, runner.node, outcome, busy, &mut spawn);
                }
                if !ledger.flow.start(runner.node) {
                    if ledger.flow.is_held_back(runner.node) {
                        ledger.tallies[runner.node].runner_held_back(Instant::now());
                    }
                    match ledger.flow.adopt() {
                        Some(other) => {
                            ledger.tallies[other].runner_handed_out();
                            runner.node = other;
                            continue;
                        }
                        None => {
                            if ledger.flow.is_idle() {
                                self.signal_sink(&mut ledger);
                            }
                            drop(ledger);
                            std::mem::forget(runner);
                            self.spawn(scope, &mut spawn);
                            return;
                        }
                    }
                }
                let node = runner.node;
                if node > 0 {
                    ledger.tallies[node].items_in += 1;
                    ledger.wake_after_take(node - 1, &mut spawn);
                }
                // More input waiting: a sibling takes it at the same time.
                ledger.wake(node, &mut spawn);
            }
            self.spawn(scope, &mut spawn);
            previous = Some(self.nodes[runner.node].step());
        }
    }

    /// Books the end of an item `node` worked on for `busy`, and wakes
    /// whoever its outcome lets go on.
    fn record(
        &self,
        ledger: &mut Ledger,
        node: usize,
        outcome: Outcome,
        busy: Duration,
        spawn: &mut Vec<usize>,
    ) {
        ledger.tallies[node].busy += busy;
        ledger
            .flow
            .finished(node, matches!(outcome, Outcome::Queued));
        match outcome {
            Outcome::Queued => {
                ledger.tallies[node].items_out += 1;
                if node + 1 == self.nodes.len() {
                    self.signal_sink(ledger);
                } else {
                    ledger.wake(node + 1, spawn);
                }
            }
            Outcome::Exhausted => ledger.flow.source_exhausted(),
            Outcome::Failed(error) => {
                ledger.first_error.get_or_insert(error);
                ledger.flow.stop();
                self.signal_sink(ledger);
            }
            Outcome::Missing => {}
        }
    }

    /// The sink, on the calling thread: takes the items queued on the last
    /// edge as they come and hands them to `deliver`, until the run stops
    /// or every item is through; returns how many it delivered.
    pub(super) fn sink<'s, T>(
        &'s self,
        scope: &Scope<'s>,
        last_edge: &Edge<T>,
        mut deliver: impl FnMut(u64, T),
    ) -> u64 {
        let last = self.nodes.len() - 1;
        let mut delivered = 0u64;
        let mut spawn = Vec::new();
        loop {
            let mut ledger = self.lock();
            let ready = ledger.flow.take_for_sink();
            if ready > 0 {
                drop(ledger);
                for _ in 0..ready {
                    if let Some((seq, item)) = last_edge.pop() {
                        deliver(seq, item);
                        delivered += 1;
                    }
                }
                // Counted on the last edge until delivered, so the edge
                // keeps its bound while `deliver` works through a batch.
                let mut ledger = self.lock();
                ledger.flow.delivered_to_sink(ready);
                ledger.wake_after_take(last, &mut spawn);
                drop(ledger);
                self.spawn(scope, &mut spawn);
                continue;
            }
            if ledger.flow.is_stopped() || ledger.flow.is_idle() {
                return delivered;
            }
            drop(ledger);
            // Nothing to take yet. A worker thread runs the pool's jobs (this
            // run's runners among them) meanwhile; another thread sleeps
            // until a runner signals.
            match yield_now() {
                Some(Yield::Executed) => {}
                Some(Yield::Idle) => self.wait_for_runners(Some(Duration::from_millis(1))),
                None => self.wait_for_runners(None),
            }
        }
    }

    fn wait_for_runners(&self, at_most: Option<Duration>) {
        let mut ledger = self.lock();
        let last = self.nodes.len() - 1;
        let moved =
            |l: &Ledger| l.flow.is_stopped() || l.flow.is_idle() || l.flow.queued_on(last) > 0;
        if moved(&ledger) {
            return;
        }
        ledger.sink_waiting = true;
        let mut ledger = match at_most {
            Some(pause) => {
                self.sink_signal
                    .wait_timeout(ledger, pause)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => self
                .sink_signal
                .wait_while(ledger, |l| !moved(l))
                .unwrap_or_else(PoisonError::into_inner),
        };
        ledger.sink_waiting = false;
    }

    /// After the scope: the first error, or what every node did.
    pub(super) fn finish(self, end: Instant) -> Result<(Vec<Tally>, bool), PipelineError> {
        let ledger = self
            .ledger
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(error) = ledger.first_error {
            return Err(error);
        }
        let drained = ledger.flow.is_drained();
        let mut tallies = ledger.tallies;
        for tally in &mut tallies {
            tally.close(end);
        }
        Ok((tallies, drained))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
