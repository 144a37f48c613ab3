//! A discrete-event simulator: the [`Scheduler`] driving fake workers.
//!
//! The simulator gives each task a duration, runs the real scheduler and
//! placer against simulated workers with the same queues as the in-process
//! runtime — per worker a LIFO local deque (tasks it made ready), a FIFO
//! inbox (tasks dealt to it), a private queue (pinned tasks), and one shared
//! queue — and reports what a real run would: makespan, utilization, tasks
//! run and stolen per worker. An idle worker looks in its own queues first,
//! then the shared queue, then (only under work stealing) steals the oldest
//! task of the victim [`balance::steal_victim`](crate::balance::steal_victim)
//! names — the decision the in-process pool makes too.
//!
//! Because nothing sleeps, thousands of workers and millions of tasks
//! simulate in well under a second: this is how placement policies are
//! tested at scales no test machine has.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::time::Duration;

use crate::balance::steal_victim;
use crate::placement::Target;
use crate::report::{RunReport, WorkerStats};
use crate::scheduler::{Actions, Scheduler};
use crate::{Attempt, Finish, Placement, TaskGraph, TaskId, WorkerId};

/// Why a simulation could not run.
///
/// ```
/// use flotilla_core::{sim, Placement, TaskGraph};
/// let err = sim::simulate(&TaskGraph::new(), &[1.0], 2, Placement::Block).unwrap_err();
/// assert!(err.to_string().contains("1 durations"));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimulationError {
    /// The durations do not match the graph.
    #[error("{durations} durations were given for {tasks} tasks")]
    DurationCount {
        /// Durations given.
        durations: usize,
        /// Tasks in the graph.
        tasks: usize,
    },
    /// A duration is negative or not a number.
    #[error("the duration of task {task} is {value}, not a non-negative number")]
    BadDuration {
        /// The task.
        task: TaskId,
        /// The duration given.
        value: f64,
    },
    /// There must be at least one worker.
    #[error("a simulation needs at least one worker")]
    NoWorkers,
}

#[derive(Default)]
struct Queues {
    local: Vec<VecDeque<TaskId>>,
    inbox: Vec<VecDeque<TaskId>>,
    pinned: Vec<VecDeque<TaskId>>,
    shared: VecDeque<TaskId>,
    /// Tasks in all queues.
    queued: usize,
    /// Workers that received tasks in their own queues since last looked.
    touched: Vec<usize>,
    /// The worker whose finish is being processed: tasks it makes ready go
    /// to its local deque.
    current: Option<WorkerId>,
    /// Scratch: stealable tasks queued per worker.
    loads: Vec<usize>,
}

impl Actions for Queues {
    // The simulator fails no task, so every task runs on its first attempt.
    fn run(&mut self, task: TaskId, target: Target, _: Attempt) {
        self.queued += 1;
        if let Some(w) = target.worker() {
            self.touched.push(w.index());
        }
        match target {
            Target::Stealable(w) if Some(w) == self.current => {
                self.local[w.index()].push_back(task)
            }
            Target::Stealable(w) => self.inbox[w.index()].push_back(task),
            Target::Pinned(w) => self.pinned[w.index()].push_back(task),
            Target::Shared => self.shared.push_back(task),
        }
    }
    fn abandon(&mut self, _: TaskId, _: TaskId) {}
    fn release(&mut self, _: TaskId) {}
    // The simulator cancels nothing, and its workers steal for themselves
    // with the core's victim choice.
    fn cancel(&mut self, _: TaskId) {}
    fn steal(&mut self, _: TaskId, _: Attempt, _: WorkerId, _: WorkerId) {}
}

impl Queues {
    /// The next task for worker `w`, and whether it was stolen.
    fn next_for(&mut self, w: usize, may_steal: bool) -> Option<(TaskId, bool)> {
        let found = self.find_for(w, may_steal);
        if found.is_some() {
            self.queued -= 1;
        }
        found
    }

    fn find_for(&mut self, w: usize, may_steal: bool) -> Option<(TaskId, bool)> {
        if let Some(t) = self.local[w].pop_back() {
            return Some((t, false));
        }
        if let Some(t) = self.pinned[w]
            .pop_front()
            .or_else(|| self.inbox[w].pop_front())
        {
            return Some((t, false));
        }
        if let Some(t) = self.shared.pop_front() {
            return Some((t, false));
        }
        if !may_steal {
            return None;
        }
        self.loads.clear();
        self.loads.extend(
            self.inbox
                .iter()
                .zip(&self.local)
                .map(|(i, l)| i.len() + l.len()),
        );
        let victim = steal_victim(WorkerId::new(w as u32), &self.loads)?.index();
        let t = self.inbox[victim]
            .pop_front()
            .or_else(|| self.local[victim].pop_front())?;
        Some((t, true))
    }
}

/// Simulates running `graph` on `workers` workers under `placement`, task
/// `i` lasting `durations[i]` seconds.
///
/// # Errors
///
/// [`SimulationError`] if the durations do not fit the graph or there is no
/// worker.
///
/// ```
/// use flotilla_core::{sim, Placement, TaskGraph, TaskKey};
/// let mut g = TaskGraph::new();
/// for i in 0..4 { g.add_task(TaskKey::indexed("t", i), &[]).unwrap(); }
/// let r = sim::simulate(&g, &[1.0, 1.0, 1.0, 1.0], 2, Placement::RoundRobin).unwrap();
/// assert_eq!(r.makespan_seconds(), 2.0);
/// assert_eq!(r.utilization(), 1.0);
/// ```
pub fn simulate(
    graph: &TaskGraph,
    durations: &[f64],
    workers: usize,
    placement: Placement,
) -> Result<RunReport, SimulationError> {
    if workers == 0 {
        return Err(SimulationError::NoWorkers);
    }
    if durations.len() != graph.len() {
        return Err(SimulationError::DurationCount {
            durations: durations.len(),
            tasks: graph.len(),
        });
    }
    if let Some((i, &v)) = durations
        .iter()
        .enumerate()
        .find(|(_, d)| d.is_nan() || **d < 0.0)
    {
        return Err(SimulationError::BadDuration {
            task: TaskId::new(i as u32),
            value: v,
        });
    }
    let mut scheduler = Scheduler::new(graph.clone(), placement, workers);
    let mut q = Queues {
        local: vec![VecDeque::new(); workers],
        inbox: vec![VecDeque::new(); workers],
        pinned: vec![VecDeque::new(); workers],
        ..Queues::default()
    };
    scheduler.start(&mut q);
    let may_steal = placement == Placement::WorkStealing;
    let mut stats = vec![WorkerStats::default(); workers];
    let mut busy_secs = vec![0.0f64; workers];
    let mut idle: BTreeSet<usize> = (0..workers).collect();
    // (finish time in ns, worker, task)
    let mut events: BinaryHeap<Reverse<(u64, u32, u32)>> = BinaryHeap::new();
    let mut now_ns: u64 = 0;
    let mut candidates: Vec<usize> = (0..workers).collect();
    loop {
        // Under dynamic policies any idle worker may take queued work;
        // under static ones only the workers whose own queues changed can.
        if q.queued > 0 && (may_steal || !q.shared.is_empty()) {
            candidates.clear();
            candidates.extend(idle.iter().copied());
        } else {
            candidates.append(&mut q.touched);
        }
        q.touched.clear();
        for &w in &candidates {
            if q.queued == 0 {
                break;
            }
            if !idle.contains(&w) {
                continue;
            }
            if let Some((task, stolen)) = q.next_for(w, may_steal) {
                idle.remove(&w);
                let d = durations[task.index()];
                busy_secs[w] += d;
                stats[w].tasks += 1;
                stats[w].stolen += u64::from(stolen);
                let end = now_ns + (d * 1e9).round() as u64;
                events.push(Reverse((end, w as u32, task.index() as u32)));
            }
        }
        candidates.clear();
        let Some(Reverse((t, w, task))) = events.pop() else {
            break;
        };
        now_ns = t;
        idle.insert(w as usize);
        candidates.push(w as usize);
        q.current = Some(WorkerId::new(w));
        // The scheduler accepts every finish here: each task was handed out once.
        let finish = Finish::new(Duration::from_secs_f64(durations[task as usize]), 0);
        let _ = scheduler.task_finished(
            TaskId::new(task),
            WorkerId::new(w),
            Attempt::FIRST,
            finish,
            &mut q,
        );
        q.current = None;
    }
    for (s, b) in stats.iter_mut().zip(&busy_secs) {
        s.busy = Duration::from_secs_f64(*b);
    }
    Ok(RunReport {
        makespan: Duration::from_nanos(now_ns),
        workers: stats,
        ..RunReport::default()
    })
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::TaskKey;

    fn independent(n: usize) -> TaskGraph {
        let mut g = TaskGraph::with_capacity(n, 0);
        for i in 0..n {
            g.add_task(TaskKey::indexed("t", i as u64), &[]).unwrap();
        }
        g
    }

    #[test]
    fn every_task_runs_exactly_once_under_every_policy() {
        let mut g = TaskGraph::new();
        let leaves: Vec<TaskId> = (0..64)
            .map(|i| g.add_task(TaskKey::indexed("leaf", i), &[]).unwrap())
            .collect();
        let mut level = leaves;
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
        let d: Vec<f64> = (0..g.len()).map(|i| 0.001 * (1 + i % 7) as f64).collect();
        for p in Placement::ALL {
            let r = simulate(&g, &d, 3, p).unwrap();
            assert_eq!(r.tasks() as usize, g.len(), "{p}");
        }
    }

    #[test]
    fn ramp_defeats_block_but_not_stealing() {
        let n = 200;
        let d: Vec<f64> = (0..n).map(|i| 0.0001 * i as f64).collect();
        let g = independent(n);
        let block = simulate(&g, &d, 2, Placement::Block).unwrap();
        let ws = simulate(&g, &d, 2, Placement::WorkStealing).unwrap();
        assert!(block.utilization() < 0.8, "{}", block.utilization());
        assert!(ws.utilization() > 0.99, "{}", ws.utilization());
    }

    #[test]
    fn an_idle_worker_steals_from_a_busy_one() {
        // Worker 0 is dealt the long task first; worker 1 drains its own
        // short tasks and must then steal worker 0's remaining ones.
        let mut d = vec![0.001; 20];
        d[0] = 1.0;
        let g = independent(20);
        let ws = simulate(&g, &d, 2, Placement::WorkStealing).unwrap();
        assert!(ws.stolen() >= 9, "{ws}");
        assert_eq!(ws.workers[0].tasks, 1);
        let rr = simulate(&g, &d, 2, Placement::RoundRobin).unwrap();
        assert!(rr.makespan_seconds() > ws.makespan_seconds());
    }

    #[test]
    fn periodic_defeats_round_robin_but_not_the_central_queue() {
        let d: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 0.020 } else { 0.001 })
            .collect();
        let g = independent(200);
        let rr = simulate(&g, &d, 2, Placement::RoundRobin).unwrap();
        let cq = simulate(&g, &d, 2, Placement::CentralQueue).unwrap();
        assert!(rr.utilization() < 0.6);
        assert!(cq.utilization() > 0.95);
    }

    #[test]
    fn thousands_of_workers() {
        let n = 50_000;
        let d: Vec<f64> = (0..n).map(|i| 0.001 * (1 + i % 10) as f64).collect();
        let g = independent(n);
        for p in Placement::ALL {
            let r = simulate(&g, &d, 2_000, p).unwrap();
            assert_eq!(r.tasks(), n as u64, "{p}");
            if p.is_dynamic() {
                assert!(r.utilization() > 0.9, "{p}: {}", r.utilization());
            }
        }
    }

    /// The in-process pool's test of the same name faces the same queues:
    /// per worker (inbox, local deque) stealable tasks; the thief is worker 0.
    const FIXTURE: [(usize, usize); 4] = [(0, 0), (3, 0), (2, 3), (0, 5)];

    #[test]
    fn the_simulator_steals_where_the_core_decides() {
        let n = FIXTURE.len();
        let mut q = Queues {
            local: vec![VecDeque::new(); n],
            inbox: vec![VecDeque::new(); n],
            pinned: vec![VecDeque::new(); n],
            ..Queues::default()
        };
        for (v, &(inbox, local)) in FIXTURE.iter().enumerate() {
            for _ in 0..inbox {
                q.inbox[v].push_back(TaskId::new(v as u32));
            }
            for _ in 0..local {
                q.local[v].push_back(TaskId::new(v as u32));
            }
        }
        let mut order = Vec::new();
        while let Some((t, stolen)) = q.find_for(0, true) {
            assert!(stolen);
            order.push(t.index());
        }
        let mut loads: Vec<usize> = FIXTURE.iter().map(|(i, l)| i + l).collect();
        let mut predicted = Vec::new();
        while let Some(v) = steal_victim(WorkerId::new(0), &loads) {
            loads[v.index()] -= 1;
            predicted.push(v.index());
        }
        assert_eq!(order, predicted);
        assert_eq!(order.len(), 13);
    }

    #[test]
    fn rejects_bad_durations() {
        let g = independent(2);
        assert!(matches!(
            simulate(&g, &[1.0, f64::NAN], 1, Placement::Block),
            Err(SimulationError::BadDuration { .. })
        ));
        assert!(matches!(
            simulate(&g, &[1.0, 1.0], 0, Placement::Block),
            Err(SimulationError::NoWorkers)
        ));
    }
}
