//! Simulating a cluster: the scheduler core driven as the cluster's
//! scheduler drives it, with simulated worker processes.
//!
//! Each simulated worker offers some threads and holds its own queue, as a
//! worker process does; the core places tasks on workers ([`Command::Run`](crate::Command::Run))
//! and, under work stealing, plans moves of queued tasks to workers that
//! ran dry ([`Command::Steal`](crate::Command::Steal)). A move is answered after a round trip
//! (`steal_latency`): confirmed if the task is still queued on the giving
//! worker, refused if it started meanwhile — what a real worker answers.
//! Nothing sleeps, so thousands of workers and a million tasks simulate in
//! seconds: placement quality (makespan, utilization, steals) is measured
//! at scales no test machine has, and the time spent inside the core is
//! the scheduler's cost per decision.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::scheduler::{Actions, Scheduler, Speculation, WorkerOffer};
use crate::sim::SimulationError;
use crate::{
    Attempt, Finish, Placement, RunReport, Target, TaskGraph, TaskId, WorkerId, WorkerStats,
};

/// The shape of a simulated cluster.
///
/// ```
/// use std::time::Duration;
/// use flotilla_core::cluster_sim::ClusterShape;
/// let shape = ClusterShape::new(1_000, 4).steal_latency(Duration::from_micros(200));
/// assert_eq!(shape.workers(), 1_000);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ClusterShape {
    workers: usize,
    threads: u32,
    placement: Placement,
    steal_latency: Duration,
    /// One worker that runs every task this many times slower.
    slow: Option<(usize, u32)>,
    speculation: Option<Speculation>,
}

impl ClusterShape {
    /// `workers` workers of `threads` threads each, work stealing, steals
    /// answered after 100 µs.
    pub fn new(workers: usize, threads: u32) -> ClusterShape {
        ClusterShape {
            workers,
            threads: threads.max(1),
            placement: Placement::WorkStealing,
            steal_latency: Duration::from_micros(100),
            slow: None,
            speculation: None,
        }
    }

    /// Worker `worker` runs every task `factor` times slower than the
    /// others (a loaded or failing machine).
    ///
    /// ```
    /// let _ = flotilla_core::cluster_sim::ClusterShape::new(8, 1).slow_worker(0, 50);
    /// ```
    pub fn slow_worker(mut self, worker: usize, factor: u32) -> ClusterShape {
        self.slow = Some((worker, factor.max(1)));
        self
    }

    /// Speculative copies of stragglers, the core looking at running
    /// tasks every simulated millisecond (default off).
    ///
    /// ```
    /// let _ = flotilla_core::cluster_sim::ClusterShape::new(8, 1)
    ///     .speculation(Some(flotilla_core::Speculation::new(3.0)));
    /// ```
    pub fn speculation(mut self, speculation: Option<Speculation>) -> ClusterShape {
        self.speculation = speculation;
        self
    }

    /// The placement policy.
    pub fn placement(mut self, placement: Placement) -> ClusterShape {
        self.placement = placement;
        self
    }

    /// The round trip of a steal: the time between the core's decision
    /// and the giving worker's answer.
    pub fn steal_latency(mut self, latency: Duration) -> ClusterShape {
        self.steal_latency = latency;
        self
    }

    /// The number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }
}

/// What a simulated cluster run measured.
#[derive(Debug, Clone, Default)]
pub struct ClusterRun {
    /// Per worker busy time, tasks and tasks received by a steal, over the
    /// simulated makespan (busy time is thread time: a worker of 4 threads
    /// can be busy 4 s per second).
    pub report: RunReport,
    /// Threads per worker, to read the report's utilization right.
    pub threads: u32,
    /// Steals the core planned, and how many of them the giving worker
    /// confirmed.
    pub steals_planned: u64,
    /// Steals confirmed.
    pub steals_confirmed: u64,
    /// Tasks the core placed (every [`Command::Run`](crate::Command::Run)).
    pub decisions: u64,
    /// Wall time spent inside the core's calls.
    pub scheduler_time: Duration,
    /// Tasks that finished.
    pub finished: u64,
    /// Speculative copies launched, and copies that finished first.
    pub copies: u64,
    /// Copies that finished before the attempt they copied.
    pub copies_won: u64,
}

impl ClusterRun {
    /// Busy thread time over the capacity offered (workers × threads ×
    /// makespan).
    pub fn utilization(&self) -> f64 {
        let capacity = self.report.makespan.as_secs_f64()
            * self.report.workers.len() as f64
            * f64::from(self.threads.max(1));
        if capacity > 0.0 {
            (self.report.total_busy().as_secs_f64() / capacity).min(1.0)
        } else {
            0.0
        }
    }

    /// Placement decisions per second of core time.
    pub fn decisions_per_second(&self) -> f64 {
        self.decisions as f64 / self.scheduler_time.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A task ended on a worker.
    Done {
        worker: u32,
        task: u32,
        attempt: u32,
    },
    /// The giving worker's answer to a steal arrives.
    Answer { task: u32, from: u32, to: u32 },
    /// The scheduler's turn to plan steals for workers that ran dry.
    Plan,
    /// The scheduler's turn to copy stragglers.
    Speculate,
}

/// How often the simulated scheduler looks for stragglers.
const STRAGGLER_CHECK_NS: u64 = 1_000_000;

#[derive(Debug, Default)]
struct Worker {
    queue: VecDeque<(TaskId, Attempt)>,
    running: u32,
}

/// The commands of one core call.
#[derive(Debug, Default)]
struct Decisions {
    runs: Vec<(TaskId, Target, Attempt)>,
    steals: Vec<(TaskId, WorkerId, WorkerId)>,
    stops: Vec<(TaskId, WorkerId)>,
}

impl Actions for Decisions {
    fn run(&mut self, task: TaskId, target: Target, attempt: Attempt) {
        self.runs.push((task, target, attempt));
    }
    fn abandon(&mut self, _: TaskId, _: TaskId) {}
    fn release(&mut self, _: TaskId) {}
    fn cancel(&mut self, _: TaskId) {}
    fn steal(&mut self, task: TaskId, _: Attempt, from: WorkerId, to: WorkerId) {
        self.steals.push((task, from, to));
    }
    fn cancel_attempt(&mut self, task: TaskId, worker: WorkerId, _: Attempt) {
        self.stops.push((task, worker));
    }
}

/// Simulates `graph` on a cluster of `shape`, task `i` lasting
/// `durations[i]`.
///
/// # Errors
///
/// [`SimulationError`] when the durations do not fit the graph or there
/// is no worker.
///
/// ```
/// use std::time::Duration;
/// use flotilla_core::cluster_sim::{simulate_cluster, ClusterShape};
/// use flotilla_core::{TaskGraph, TaskKey};
/// let mut g = TaskGraph::new();
/// for i in 0..400 {
///     g.add_task(TaskKey::indexed("t", i), &[]).unwrap();
/// }
/// let d: Vec<Duration> = (0..400).map(|i| Duration::from_millis(1 + i % 7)).collect();
/// let run = simulate_cluster(&g, &d, ClusterShape::new(20, 2)).unwrap();
/// assert_eq!(run.report.tasks(), 400);
/// assert!(run.utilization() > 0.8, "{}", run.utilization());
/// ```
pub fn simulate_cluster(
    graph: &TaskGraph,
    durations: &[Duration],
    shape: ClusterShape,
) -> Result<ClusterRun, SimulationError> {
    if shape.workers == 0 {
        return Err(SimulationError::NoWorkers);
    }
    if durations.len() != graph.len() {
        return Err(SimulationError::DurationCount {
            durations: durations.len(),
            tasks: graph.len(),
        });
    }
    let mut sim = Sim {
        core: Scheduler::new(graph.clone(), shape.placement, 0),
        shape,
        durations,
        workers: (0..shape.workers).map(|_| Worker::default()).collect(),
        stats: vec![WorkerStats::default(); shape.workers],
        events: BinaryHeap::new(),
        seq: 0,
        now: 0,
        run: ClusterRun {
            threads: shape.threads,
            ..ClusterRun::default()
        },
        plan: true,
        plan_pending: false,
        last_plan: 0,
        decisions: Decisions::default(),
        running_since: HashMap::new(),
        speculate_pending: false,
        done_at: None,
    };
    sim.core
        .set_balancing(shape.placement == Placement::WorkStealing);
    sim.core.set_speculation(shape.speculation);
    sim.in_core(|core, d| {
        for _ in 0..shape.workers {
            core.add_worker(WorkerOffer::new(shape.threads), d);
        }
        core.start(d);
    });
    while sim.step() {}
    let counts = sim.core.counts();
    sim.run.finished = counts.finished as u64;
    sim.run.copies = counts.copied as u64;
    sim.run.copies_won = counts.copies_won as u64;
    sim.run.report = RunReport {
        makespan: Duration::from_nanos(sim.done_at.unwrap_or(sim.now)),
        workers: sim.stats,
        copies: counts.copied as u64,
        copies_won: counts.copies_won as u64,
    };
    Ok(sim.run)
}

/// The simulation's state.
struct Sim<'a> {
    core: Scheduler,
    shape: ClusterShape,
    durations: &'a [Duration],
    workers: Vec<Worker>,
    stats: Vec<WorkerStats>,
    /// (time in ns, sequence, event): the earliest first, ties in order.
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    now: u64,
    run: ClusterRun,
    /// A worker ran dry since steals were last planned.
    plan: bool,
    /// A [`Event::Plan`] is on its way.
    plan_pending: bool,
    /// When steals were last planned.
    last_plan: u64,
    decisions: Decisions,
    /// When each running task first started, for speculation.
    running_since: HashMap<TaskId, u64>,
    /// A [`Event::Speculate`] is on its way.
    speculate_pending: bool,
    /// When the last task finished (a losing speculative attempt may run
    /// on after it, to no purpose).
    done_at: Option<u64>,
}

impl Sim<'_> {
    /// Calls the core, timing it.
    fn in_core<R>(&mut self, f: impl FnOnce(&mut Scheduler, &mut Decisions) -> R) -> R {
        let t = Instant::now();
        let r = f(&mut self.core, &mut self.decisions);
        self.run.scheduler_time += t.elapsed();
        r
    }

    fn at(&mut self, delay: u64, event: Event) {
        self.seq += 1;
        self.events
            .push(Reverse((self.now + delay, self.seq, event)));
    }

    /// Carries out the core's decisions: tasks join their worker's queue,
    /// steal requests travel to the giving worker.
    fn carry_out(&mut self) {
        let runs = std::mem::take(&mut self.decisions.runs);
        for &(task, target, attempt) in &runs {
            self.run.decisions += 1;
            let w = match target.worker() {
                Some(w) => w.index(),
                // The shared queue: the worker with the least queued.
                None => (0..self.workers.len())
                    .min_by_key(|&w| self.workers[w].queue.len() + self.workers[w].running as usize)
                    .unwrap_or(0),
            };
            self.workers[w].queue.push_back((task, attempt));
            self.start(w);
        }
        self.decisions.runs = runs;
        self.decisions.runs.clear();
        let steals = std::mem::take(&mut self.decisions.steals);
        for &(task, from, to) in &steals {
            self.run.steals_planned += 1;
            let latency = self.shape.steal_latency.as_nanos() as u64;
            let answer = Event::Answer {
                task: task.index() as u32,
                from: from.index() as u32,
                to: to.index() as u32,
            };
            self.at(latency, answer);
        }
        self.decisions.steals = steals;
        self.decisions.steals.clear();
        // A losing attempt still queued is dropped; one running finishes
        // and is refused.
        for (task, worker) in std::mem::take(&mut self.decisions.stops) {
            self.workers[worker.index()]
                .queue
                .retain(|(t, _)| *t != task);
        }
    }

    /// Worker `w` starts queued tasks while it has free threads.
    fn start(&mut self, w: usize) {
        while self.workers[w].running < self.shape.threads {
            let Some((task, attempt)) = self.workers[w].queue.pop_front() else {
                break;
            };
            self.workers[w].running += 1;
            let wid = WorkerId::new(w as u32);
            self.in_core(|core, _| {
                let _ = core.task_started(task, wid, attempt);
            });
            let mut length = self.durations[task.index()];
            if let Some((slow, factor)) = self.shape.slow {
                if slow == w {
                    length *= factor;
                }
            }
            if self.shape.speculation.is_some() {
                self.running_since.entry(task).or_insert(self.now);
                if !self.speculate_pending {
                    self.speculate_pending = true;
                    self.at(STRAGGLER_CHECK_NS, Event::Speculate);
                }
            }
            self.stats[w].busy += length;
            self.stats[w].tasks += 1;
            let done = Event::Done {
                worker: w as u32,
                task: task.index() as u32,
                attempt: attempt.number(),
            };
            self.at(length.as_nanos() as u64, done);
        }
        if self.workers[w].queue.is_empty() && self.workers[w].running < self.shape.threads {
            self.plan = true;
        }
    }

    /// One turn: decisions carried out, steals planned for dry workers,
    /// the next event handled. False when nothing is left to happen.
    fn step(&mut self) -> bool {
        self.carry_out();
        if self.plan && !self.plan_pending && self.shape.placement == Placement::WorkStealing {
            // Plans are made in turns, at most one per steal round trip, as
            // the cluster's scheduler makes them once per batch of events.
            self.plan = false;
            self.plan_pending = true;
            let next = self
                .last_plan
                .saturating_add(self.shape.steal_latency.as_nanos() as u64);
            self.at(next.saturating_sub(self.now), Event::Plan);
        }
        let Some(Reverse((t, _, event))) = self.events.pop() else {
            return false;
        };
        self.now = t;
        match event {
            Event::Done {
                worker,
                task,
                attempt,
            } => {
                let w = worker as usize;
                self.workers[w].running -= 1;
                let (task, wid) = (TaskId::new(task), WorkerId::new(worker));
                let attempt = Attempt::from_number(attempt).unwrap_or(Attempt::FIRST);
                let finish = Finish::new(self.durations[task.index()], 0);
                let done = self.in_core(|core, d| {
                    let _ = core.task_finished(task, wid, attempt, finish, d);
                    core.is_done()
                });
                if done && self.done_at.is_none() {
                    self.done_at = Some(self.now);
                }
                self.start(w);
            }
            Event::Answer { task, from, to } => {
                let (task, from_id, to_id) =
                    (TaskId::new(task), WorkerId::new(from), WorkerId::new(to));
                let queue = &mut self.workers[from as usize].queue;
                let given = queue
                    .iter()
                    .position(|(t, _)| *t == task)
                    .and_then(|i| queue.remove(i))
                    .is_some();
                self.in_core(|core, d| {
                    if given {
                        let _ = core.steal_confirmed(task, from_id, to_id, d);
                    } else {
                        core.steal_refused(task, from_id, to_id);
                    }
                });
                if given {
                    self.run.steals_confirmed += 1;
                    self.stats[to as usize].stolen += 1;
                }
                self.plan = true;
            }
            Event::Plan => {
                self.plan_pending = false;
                self.last_plan = self.now;
                self.in_core(|core, d| {
                    core.plan_steals(d);
                });
            }
            Event::Speculate => {
                self.speculate_pending = false;
                let core = &self.core;
                self.running_since
                    .retain(|t, _| matches!(core.state(*t), crate::TaskState::Running(_)));
                let now = self.now;
                let running: Vec<(TaskId, Duration)> = self
                    .running_since
                    .iter()
                    .map(|(t, since)| (*t, Duration::from_nanos(now - since)))
                    .collect();
                self.in_core(|core, d| {
                    core.plan_copies(running, d);
                });
                if !self.running_since.is_empty() {
                    self.speculate_pending = true;
                    self.at(STRAGGLER_CHECK_NS, Event::Speculate);
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::TaskKey;

    fn independent(n: u64) -> TaskGraph {
        let mut g = TaskGraph::with_capacity(n as usize, 0);
        let key = TaskKey::new("t");
        for i in 0..n {
            g.add_task(key.sibling(i), &[]).unwrap();
        }
        g
    }

    /// Dealt in turn over 1,000 workers, the first 10 get every long task.
    fn skewed(n: u64) -> Vec<Duration> {
        (0..n)
            .map(|i| Duration::from_millis(if i % 1_000 < 10 { 50 } else { 1 }))
            .collect()
    }

    #[test]
    fn a_thousand_workers_share_skewed_work_by_stealing() {
        let n = 20_000;
        let g = independent(n);
        let d = skewed(n);
        let shape = ClusterShape::new(1_000, 2);
        let stealing = simulate_cluster(&g, &d, shape).unwrap();
        assert_eq!(stealing.report.tasks(), n);
        assert!(
            stealing.steals_confirmed > 50,
            "{} planned, {} confirmed",
            stealing.steals_planned,
            stealing.steals_confirmed
        );
        let dealt = simulate_cluster(&g, &d, shape.placement(Placement::RoundRobin)).unwrap();
        assert_eq!(dealt.steals_planned, 0);
        // Dealt in turn, 10 workers run 20 long tasks each: 0.5 s on 2 threads.
        assert!(
            dealt.report.makespan >= Duration::from_millis(450),
            "{:?}",
            dealt.report.makespan
        );
        assert!(
            stealing.report.makespan * 4 < dealt.report.makespan,
            "stealing {:?} dealt {:?}",
            stealing.report.makespan,
            dealt.report.makespan
        );
    }

    #[test]
    fn a_tree_runs_to_the_end_and_every_task_once() {
        let mut g = TaskGraph::new();
        let mut level: Vec<TaskId> = (0..1024)
            .map(|i| g.add_task(TaskKey::indexed("leaf", i), &[]).unwrap())
            .collect();
        let mut k = 0;
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|c| {
                    k += 1;
                    g.add_task(TaskKey::indexed("node", k), c).unwrap()
                })
                .collect();
        }
        let d = vec![Duration::from_micros(500); g.len()];
        for placement in Placement::ALL {
            let run =
                simulate_cluster(&g, &d, ClusterShape::new(16, 4).placement(placement)).unwrap();
            assert_eq!(run.report.tasks(), g.len() as u64, "{placement}");
            assert_eq!(
                run.decisions,
                g.len() as u64 + run.steals_confirmed,
                "{placement}"
            );
        }
    }

    #[test]
    fn an_idle_worker_takes_queued_tasks_from_a_busy_one() {
        let g = independent(10);
        // Dealt in turn: worker 0 gets the 10 ms tasks, worker 1 the 1 ms ones.
        let d: Vec<Duration> = (0..10)
            .map(|i| Duration::from_millis(if i % 2 == 0 { 10 } else { 1 }))
            .collect();
        let run = simulate_cluster(&g, &d, ClusterShape::new(2, 1)).unwrap();
        assert!(
            run.steals_confirmed >= 1,
            "{} planned, {} confirmed",
            run.steals_planned,
            run.steals_confirmed
        );
        assert!(
            run.report.makespan < Duration::from_millis(50),
            "{:?}",
            run.report.makespan
        );
    }

    /// One worker of twenty runs tasks 200 times slower: without
    /// speculation the last task it started holds the run up; with it, its
    /// stragglers are copied, the copies win and the run ends with the
    /// others.
    #[test]
    fn a_slow_worker_s_stragglers_are_copied_and_won_elsewhere() {
        let g = independent(1_000);
        let d = vec![Duration::from_millis(10); 1_000];
        let shape = ClusterShape::new(20, 1).slow_worker(0, 200);
        let plain = simulate_cluster(&g, &d, shape).unwrap();
        let spec = Speculation::new(3.0).min_runtime(Duration::from_millis(20));
        let copied = simulate_cluster(&g, &d, shape.speculation(Some(spec))).unwrap();
        assert_eq!((plain.finished, copied.finished), (1_000, 1_000));
        assert_eq!((plain.copies, plain.copies_won), (0, 0));
        assert!(copied.copies >= 1 && copied.copies_won >= 1, "{copied:?}");
        assert!(plain.report.makespan >= Duration::from_secs(2), "{plain:?}");
        assert!(
            copied.report.makespan < Duration::from_millis(700),
            "{:?} vs {:?}",
            copied.report.makespan,
            plain.report.makespan
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let g = independent(3);
        assert!(matches!(
            simulate_cluster(&g, &[Duration::ZERO], ClusterShape::new(2, 1)),
            Err(SimulationError::DurationCount {
                durations: 1,
                tasks: 3
            })
        ));
        assert!(matches!(
            simulate_cluster(&g, &[Duration::ZERO; 3], ClusterShape::new(0, 1)),
            Err(SimulationError::NoWorkers)
        ));
    }
}
