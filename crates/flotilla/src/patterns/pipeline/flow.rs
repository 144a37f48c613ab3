//! The counting half of a pipeline run: which node may start an item, and
//! which node to wake when an item moves. No items, threads or clocks here,
//! only counts, so every decision is checked by driving it directly.
//!
//! Nodes are numbered from the source: node 0 is the source, node `j ≥ 1`
//! is stage `j − 1`. Edge `j` is the queue after node `j`; the last edge
//! feeds the sink.
//!
//! ```text
//!  node 0 ──edge 0──► node 1 ──edge 1──► … node n ──edge n──► sink
//!  source             stage 0                stage n-1
//! ```
//!
//! **When a node may start an item.** The run is not stopped; the node has
//! input (an item queued on the edge before it, or, for the source, an
//! iterator not yet exhausted); and the edge after it holds fewer than
//! `capacity + workers` items, counting those the node is working on. That
//! is the bound of a queue of `capacity` items whose producer's workers
//! each hold one more item while they wait for room.
//!
//! **No lost wake-ups.** A node runs on *runners*, at most `workers` at a
//! time. Every change that may let a node start (an item queued before it,
//! room made after it) is followed, under the same lock, by
//! [`Flow::wake`] of that node, which hands out a runner when the node can
//! start and has fewer runners than workers; and a runner stops only in
//! [`Flow::start`], under the lock, when its node cannot start. So a node
//! that can start always has a runner.

/// The counts of one pipeline run; see the module docs.
#[derive(Debug)]
pub(super) struct Flow {
    capacity: usize,
    /// Per node: how many items it may work on at once.
    workers: Vec<usize>,
    /// Per node: runners handed out that have not stopped.
    runners: Vec<usize>,
    /// Per node: items started and not yet queued after it.
    working: Vec<usize>,
    /// Per edge: items queued on it.
    queued: Vec<usize>,
    /// Items the sink took off the last edge and has not delivered yet;
    /// they count against that edge's bound.
    at_sink: usize,
    source_done: bool,
    stopped: bool,
}

impl Flow {
    /// A run with queues of `capacity` items, a source, and stages with
    /// `stage_workers` workers each.
    pub(super) fn new(capacity: usize, stage_workers: impl IntoIterator<Item = usize>) -> Flow {
        let workers: Vec<usize> = std::iter::once(1).chain(stage_workers).collect();
        let nodes = workers.len();
        Flow {
            capacity,
            workers,
            runners: vec![0; nodes],
            working: vec![0; nodes],
            queued: vec![0; nodes],
            at_sink: 0,
            source_done: false,
            stopped: false,
        }
    }

    /// The number of nodes, the source included.
    pub(super) fn nodes(&self) -> usize {
        self.workers.len()
    }

    fn has_input(&self, node: usize) -> bool {
        match node {
            0 => !self.source_done,
            _ => self.queued[node - 1] > 0,
        }
    }

    /// Items on the edge after `node`, the ones it works on, and, after
    /// the last node, the ones the sink is delivering.
    fn held_after(&self, node: usize) -> usize {
        let at_sink = if node + 1 == self.nodes() {
            self.at_sink
        } else {
            0
        };
        self.queued[node] + self.working[node] + at_sink
    }

    fn has_room(&self, node: usize) -> bool {
        self.held_after(node) < self.capacity + self.workers[node]
    }

    fn can_start(&self, node: usize) -> bool {
        !self.stopped && self.has_input(node) && self.has_room(node)
    }

    /// Whether `node` has input it cannot start for want of room after it.
    pub(super) fn is_held_back(&self, node: usize) -> bool {
        !self.stopped && self.has_input(node) && !self.has_room(node)
    }

    /// Hands out a runner for `node` when it can start and has fewer runners
    /// than workers; the caller starts one when this says `true`.
    pub(super) fn wake(&mut self, node: usize) -> bool {
        if self.runners[node] < self.workers[node] && self.can_start(node) {
            self.runners[node] += 1;
            true
        } else {
            false
        }
    }

    /// A runner of `node` starts an item (taking it off the edge before),
    /// or, when the node cannot start, stops: `false`, and it is no longer
    /// counted. After a start the node before may have room: wake it.
    pub(super) fn start(&mut self, node: usize) -> bool {
        if !self.can_start(node) {
            self.runners[node] -= 1;
            return false;
        }
        if node > 0 {
            self.queued[node - 1] -= 1;
        }
        self.working[node] += 1;
        true
    }

    /// After an item was taken off the edge after `node`: wakes `node` as
    /// [`wake`](Flow::wake) does, but only once that edge is down to half
    /// its bound, so a producer held back by a slower consumer is not
    /// started again for every item the consumer takes. Later takes look
    /// again, and the edge's consumer takes until it is empty, so a held
    /// back producer is always woken in the end.
    pub(super) fn wake_after_take(&mut self, node: usize) -> bool {
        let bound = self.capacity + self.workers[node];
        self.held_after(node) * 2 <= bound && self.wake(node)
    }

    /// Hands a runner whose node could not start to another node that can
    /// and has fewer runners than workers, the one nearest the sink first
    /// (draining queues before filling them), instead of the runner
    /// stopping while a new one is started elsewhere; `None` when no node
    /// needs one.
    pub(super) fn adopt(&mut self) -> Option<usize> {
        (0..self.nodes()).rev().find(|&node| self.wake(node))
    }

    /// `node` is done with an item it started; `queued` when the result
    /// went on the edge after it (then wake the next node, or the sink).
    pub(super) fn finished(&mut self, node: usize, queued: bool) {
        self.working[node] -= 1;
        if queued {
            self.queued[node] += 1;
        }
    }

    /// The source iterator ended.
    pub(super) fn source_exhausted(&mut self) {
        self.source_done = true;
    }

    /// No node starts anything more.
    pub(super) fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether the run was stopped.
    pub(super) fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The sink takes every item queued on the last edge and says how many
    /// (none once stopped); they still count against the edge's bound
    /// until [`delivered_to_sink`](Flow::delivered_to_sink).
    pub(super) fn take_for_sink(&mut self) -> usize {
        let last = self.nodes() - 1;
        if self.stopped {
            return 0;
        }
        let taken = std::mem::take(&mut self.queued[last]);
        self.at_sink += taken;
        taken
    }

    /// The sink delivered `items` it took; the last node may have room
    /// now: wake it.
    pub(super) fn delivered_to_sink(&mut self, items: usize) {
        self.at_sink -= items;
    }

    /// A runner of `node` is gone without stopping in [`start`](Flow::start)
    /// (it unwound); it is no longer counted.
    pub(super) fn runner_lost(&mut self, node: usize) {
        self.runners[node] = self.runners[node].saturating_sub(1);
    }

    /// How many items are queued on `edge`.
    pub(super) fn queued_on(&self, edge: usize) -> usize {
        self.queued[edge]
    }

    /// Whether no runner is out: nothing more will be queued.
    pub(super) fn is_idle(&self) -> bool {
        self.runners.iter().all(|&r| r == 0)
    }

    /// Whether every item the source yielded reached the sink.
    pub(super) fn is_drained(&self) -> bool {
        self.source_done
            && self.queued.iter().all(|&q| q == 0)
            && self.working.iter().all(|&w| w == 0)
            && self.at_sink == 0
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// Runs `flow` to the end by always advancing the first node that can
    /// (a runner per wake, items produced at once), the sink taking an
    /// item only when nothing else moves; checks the bounds on the way.
    fn drive(flow: &mut Flow, items: usize) -> usize {
        let mut pulled = 0;
        let mut delivered = 0;
        assert!(flow.wake(0));
        let mut runners = vec![1usize; 1];
        runners.resize(flow.nodes(), 0);
        loop {
            let mut moved = false;
            for node in 0..flow.nodes() {
                if runners[node] == 0 {
                    continue;
                }
                if !flow.start(node) {
                    runners[node] -= 1;
                    moved = true;
                    continue;
                }
                moved = true;
                if node > 0 && flow.wake_after_take(node - 1) {
                    runners[node - 1] += 1;
                }
                if node == 0 && pulled == items {
                    flow.finished(0, false);
                    flow.source_exhausted();
                    continue;
                }
                pulled += usize::from(node == 0);
                flow.finished(node, true);
                if node + 1 < flow.nodes() && flow.wake(node + 1) {
                    runners[node + 1] += 1;
                }
                for edge in 0..flow.nodes() {
                    assert!(flow.queued[edge] <= flow.capacity + flow.workers[edge]);
                }
            }
            assert_eq!(runners, flow.runners, "runners counted as handed out");
            if !moved {
                let taken = flow.take_for_sink();
                if taken > 0 {
                    delivered += taken;
                    flow.delivered_to_sink(taken);
                    let last = flow.nodes() - 1;
                    if flow.wake_after_take(last) {
                        runners[last] += 1;
                    }
                } else {
                    assert!(flow.is_idle(), "nothing moves, so no runner is out");
                    return delivered;
                }
            }
        }
    }

    #[test]
    fn every_item_reaches_the_sink_and_the_run_ends_idle() {
        for capacity in [1, 2, 5] {
            for workers in [[1, 1], [3, 1], [1, 4]] {
                let mut flow = Flow::new(capacity, workers);
                assert_eq!(drive(&mut flow, 50), 50);
                assert!(flow.is_drained());
            }
        }
    }

    #[test]
    fn a_full_edge_holds_its_producer_back_until_the_consumer_takes_one() {
        // Source, then one stage of one worker; queues of one item.
        let mut flow = Flow::new(1, [1]);
        assert!(flow.wake(0));
        for _ in 0..2 {
            assert!(flow.start(0));
            flow.finished(0, true);
        }
        assert!(
            flow.is_held_back(0),
            "one queued plus one in hand fills capacity 1"
        );
        assert!(!flow.start(0), "the source's runner stops");
        assert!(flow.wake(1));
        assert!(flow.start(1));
        assert!(
            flow.wake_after_take(0),
            "taking an item made room: the source is woken"
        );
        assert!(!flow.wake(0), "but only up to its one worker");
    }

    #[test]
    fn a_held_back_producer_is_woken_once_its_edge_is_down_to_half() {
        // Queues of 4: the source (one worker) may hold 5 on edge 0.
        let mut flow = Flow::new(4, [1]);
        assert!(flow.wake(0));
        for _ in 0..5 {
            assert!(flow.start(0));
            flow.finished(0, true);
        }
        assert!(!flow.start(0));
        assert!(flow.wake(1));
        for left in [4, 3] {
            assert!(flow.start(1));
            flow.finished(1, true);
            assert!(!flow.wake_after_take(0), "{left} of 5 left: not yet");
        }
        assert!(flow.start(1));
        assert!(flow.wake_after_take(0), "2 of 5 left: under half");
    }

    #[test]
    fn a_runner_that_cannot_go_on_is_handed_to_the_node_nearest_the_sink_that_can() {
        let mut flow = Flow::new(1, [1, 1]);
        assert!(flow.wake(0));
        for _ in 0..2 {
            assert!(flow.start(0));
            flow.finished(0, true);
        }
        assert!(!flow.start(0), "edge 0 is full");
        assert_eq!(flow.adopt(), Some(1), "stage 0 has input and no runner");
        assert!(flow.start(1));
        flow.finished(1, true);
        assert!(flow.start(1));
        flow.finished(1, true);
        assert!(!flow.start(1), "edge 0 is empty, edge 1 full");
        assert_eq!(flow.adopt(), Some(2), "the last stage, nearest the sink");
        assert!(flow.start(2));
        assert_eq!(flow.adopt(), Some(0), "the source has room again");
        assert_eq!(
            flow.adopt(),
            None,
            "every node that can start has its runner"
        );
    }

    #[test]
    fn items_the_sink_is_delivering_count_against_the_last_edge() {
        // Queues of 2, one stage of one worker: 3 items fill the last edge.
        let mut flow = Flow::new(2, [1]);
        assert!(flow.wake(0));
        for _ in 0..3 {
            assert!(flow.start(0));
            flow.finished(0, true);
        }
        assert!(flow.wake(1));
        for _ in 0..3 {
            assert!(flow.start(1));
            flow.finished(1, true);
        }
        assert!(flow.start(0), "one more for the stage");
        flow.finished(0, true);
        assert!(!flow.start(1) && flow.is_held_back(1));
        assert_eq!(flow.take_for_sink(), 3);
        assert!(!flow.wake(1), "the sink still holds them: no room yet");
        flow.delivered_to_sink(3);
        assert!(flow.wake_after_take(1), "delivered: room again");
    }

    #[test]
    fn a_stopped_flow_starts_nothing_and_every_runner_stops() {
        let mut flow = Flow::new(4, [2]);
        assert!(flow.wake(0));
        assert!(flow.start(0));
        flow.finished(0, true);
        assert!(flow.wake(1));
        flow.stop();
        assert!(!flow.start(0));
        assert!(!flow.start(1));
        assert!(flow.is_idle());
        assert_eq!(flow.take_for_sink(), 0);
        assert!(!flow.wake(1));
    }
}
