//! Invariants of the scheduler under random graphs, random completion
//! orders, random failures and every placement policy.

use std::collections::HashSet;

use flotilla_core::{
    sim, Command, Placement, Scheduler, Target, TaskGraph, TaskId, TaskKey, TaskState, WorkerId,
};
use proptest::prelude::*;

/// A random DAG: task i depends on a few tasks before it.
fn dag() -> impl Strategy<Value = TaskGraph> {
    prop::collection::vec(
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        1..60,
    )
    .prop_map(|deps| {
        let mut g = TaskGraph::new();
        for (i, ds) in deps.iter().enumerate() {
            let mut chosen: Vec<TaskId> = if i == 0 {
                Vec::new()
            } else {
                ds.iter().map(|d| TaskId::new(d.index(i) as u32)).collect()
            };
            chosen.sort();
            chosen.dedup();
            g.add_task(TaskKey::indexed("t", i as u64), &chosen)
                .unwrap();
        }
        g
    })
}

fn policy() -> impl Strategy<Value = Placement> {
    (0..Placement::ALL.len()).prop_map(|i| Placement::ALL[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every task is handed out at most once, only after all its
    /// dependencies finished, to a worker that exists; failures abandon
    /// exactly the tasks downstream of them; the run always ends.
    #[test]
    fn scheduling_respects_dependencies_and_failures(
        g in dag(),
        placement in policy(),
        workers in 1usize..6,
        picks in prop::collection::vec(any::<prop::sample::Index>(), 200),
        fail_mask in prop::collection::vec(prop::bool::weighted(0.1), 60),
    ) {
        let n = g.len();
        let deps: Vec<Vec<TaskId>> = g.task_ids().map(|t| g.dependencies(t).to_vec()).collect();
        let mut dependents: Vec<Vec<TaskId>> = vec![Vec::new(); n];
        for (t, ds) in deps.iter().enumerate() {
            for d in ds {
                dependents[d.index()].push(TaskId::new(t as u32));
            }
        }
        let mut s = Scheduler::new(g, placement, workers);
        let mut out: Vec<Command> = Vec::new();
        s.start(&mut out);
        let mut released: HashSet<TaskId> = HashSet::new();
        let mut ready: Vec<TaskId> = Vec::new();
        let mut handed: HashSet<TaskId> = HashSet::new();
        let mut failed: HashSet<TaskId> = HashSet::new();
        let mut finished: HashSet<TaskId> = HashSet::new();
        let mut step = 0;
        loop {
            for c in out.drain(..) {
                if let Command::Release { task } = c {
                    prop_assert!(released.insert(task), "{task} released twice");
                    prop_assert!(finished.contains(&task), "{task} released without a result");
                    prop_assert!(
                        dependents[task.index()].iter().all(|d| s.state(*d).is_terminal()),
                        "{task} released while a dependent may still read it"
                    );
                }
                if let Command::Run { task, target } = c {
                    prop_assert!(handed.insert(task), "{task} handed out twice");
                    for d in &deps[task.index()] {
                        prop_assert!(finished.contains(d), "{task} ran before its dependency {d}");
                    }
                    if let Target::Stealable(w) | Target::Pinned(w) = target {
                        prop_assert!(w.index() < workers);
                    }
                    ready.push(task);
                }
            }
            if ready.is_empty() {
                break;
            }
            let i = picks[step % picks.len()].index(ready.len());
            step += 1;
            let t = ready.swap_remove(i);
            let w = WorkerId::new((step % workers) as u32);
            if fail_mask[t.index() % fail_mask.len()] {
                s.task_failed(t, w, &mut out).unwrap();
                failed.insert(t);
            } else {
                s.task_finished(t, w, &mut out).unwrap();
                finished.insert(t);
            }
        }
        prop_assert!(s.is_done(), "{:?}", s.counts());
        let c = s.counts();
        prop_assert_eq!(c.finished + c.failed + c.abandoned, n);
        // A task is abandoned exactly when something it depends on failed
        // or was abandoned.
        for t in (0..n as u32).map(TaskId::new) {
            let upstream_failed = deps[t.index()].iter().any(|d| !finished.contains(d));
            let abandoned = matches!(s.state(t), TaskState::Abandoned { .. });
            prop_assert_eq!(abandoned, upstream_failed, "{}", t);
            // Every result with readers is released once they all ended,
            // whether they finished, failed or were abandoned; results
            // without readers are the outputs and are kept.
            let has_readers = !dependents[t.index()].is_empty();
            prop_assert_eq!(
                released.contains(&t),
                finished.contains(&t) && has_readers,
                "{}", t
            );
        }
    }

    /// The simulator runs every task exactly once under every policy, and
    /// its makespan is never below the critical bound (total work / workers).
    #[test]
    fn simulation_runs_every_task_once(
        g in dag(),
        placement in policy(),
        workers in 1usize..8,
        costs in prop::collection::vec(1u32..50, 60),
    ) {
        let d: Vec<f64> = (0..g.len()).map(|i| f64::from(costs[i]) / 1000.0).collect();
        let r = sim::simulate(&g, &d, workers, placement).unwrap();
        prop_assert_eq!(r.tasks() as usize, g.len());
        let total: f64 = d.iter().sum();
        prop_assert!(r.makespan_seconds() + 1e-6 >= total / workers as f64);
        prop_assert!(r.utilization() <= 1.0);
    }
}
