//! Invariants of the scheduler under random graphs, random completion
//! orders, random failures and every placement policy.

use std::collections::{HashMap, HashSet};

use flotilla_core::{
    sim, Attempt, Command, FailureKind, Finish, Placement, Scheduler, SchedulerError, Target,
    TaskGraph, TaskId, TaskKey, TaskOptions, TaskState, WorkerId, WorkerOffer,
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

/// A random DAG whose tasks allow 0 to 2 retries.
fn dag_with_retries() -> impl Strategy<Value = (TaskGraph, Vec<u32>)> {
    (dag(), prop::collection::vec(0u32..3, 60)).prop_map(|(g, retries)| {
        let mut out = TaskGraph::new();
        let mut limits = Vec::new();
        for t in g.task_ids() {
            let options = TaskOptions {
                retries: retries[t.index()],
                ..Default::default()
            };
            out.add_task_with(g.key(t).clone(), g.dependencies(t), options)
                .unwrap();
            limits.push(retries[t.index()]);
        }
        (out, limits)
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
                if let Command::Cancel { task } = c {
                    // Ready, but nothing needs it any more.
                    ready.retain(|&t| t != task);
                }
                if let Command::Run { task, target, attempt } = c {
                    prop_assert_eq!(attempt, Attempt::FIRST);
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
                s.task_failed(t, w, Attempt::FIRST, FailureKind::Error, &mut out).unwrap();
                failed.insert(t);
            } else {
                s.task_finished(t, w, Attempt::FIRST, Finish::default(), &mut out).unwrap();
                finished.insert(t);
            }
        }
        prop_assert!(s.is_done(), "{:?}", s.counts());
        let c = s.counts();
        prop_assert_eq!(c.finished + c.failed + c.abandoned + c.cancelled, n);
        // A task is abandoned exactly when something it depends on failed
        // or was abandoned, unless nothing needed it any more: then it was
        // cancelled (it has readers, and none of them finished).
        for t in (0..n as u32).map(TaskId::new) {
            if s.state(t) == TaskState::Cancelled {
                let readers = &dependents[t.index()];
                prop_assert!(!readers.is_empty(), "{t}: an output was cancelled");
                prop_assert!(readers.iter().all(|r| !finished.contains(r) && s.state(*r).is_terminal()));
                prop_assert!(!handed.contains(&t) || ready.is_empty());
                continue;
            }
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

    /// With retries, lost workers and late reports from earlier attempts:
    /// every task ends in exactly one final state; an attempt is handed out
    /// once, with numbers rising; a report about an earlier attempt or from
    /// a worker that does not run the task is refused and changes nothing;
    /// error and panic retries stay within each task's limit; a task that
    /// lost `suspicious_after` workers fails as lost.
    #[test]
    fn retries_and_stale_reports_keep_every_task_in_one_final_state(
        (g, limits) in dag_with_retries(),
        workers in 1usize..5,
        suspicious_after in 1u32..4,
        picks in prop::collection::vec(any::<prop::sample::Index>(), 300),
        outcomes in prop::collection::vec(0u8..8, 300),
    ) {
        let n = g.len();
        let mut s = Scheduler::new(g, Placement::WorkStealing, workers);
        s.set_suspicious_after(suspicious_after);
        let mut out: Vec<Command> = Vec::new();
        s.start(&mut out);
        let mut ready: Vec<(TaskId, Attempt)> = Vec::new();
        let mut last_attempt: Vec<Option<Attempt>> = vec![None; n];
        let mut stale: Vec<(TaskId, Attempt)> = Vec::new();
        let mut errors = vec![0u32; n];
        let mut lost = vec![0u32; n];
        let mut step = 0;
        loop {
            for c in out.drain(..) {
                match c {
                    Command::Run { task, attempt, .. } => {
                        if let Some(before) = last_attempt[task.index()] {
                            prop_assert!(attempt > before, "{task}: {attempt} after {before}");
                        }
                        last_attempt[task.index()] = Some(attempt);
                        ready.push((task, attempt));
                    }
                    // A ready task nothing needs any more (its readers were
                    // abandoned) is dropped from its queue.
                    Command::Cancel { task } => ready.retain(|&(t, _)| t != task),
                    _ => {}
                }
            }
            // A late report about an earlier attempt is refused.
            if let Some(&(t, old)) = stale.get(step % stale.len().max(1)) {
                let state = s.state(t);
                let before = s.counts();
                let refused = s.task_finished(t, WorkerId::new(0), old, Finish::default(), &mut out);
                prop_assert!(refused.is_err(), "stale {old} of {t} accepted");
                prop_assert_eq!(s.state(t), state);
                prop_assert_eq!(s.counts(), before);
                prop_assert!(out.is_empty());
            }
            if ready.is_empty() {
                break;
            }
            let i = picks[step % picks.len()].index(ready.len());
            let outcome = outcomes[step % outcomes.len()];
            step += 1;
            let (t, attempt) = ready.swap_remove(i);
            let w = WorkerId::new((step % workers) as u32);
            s.task_started(t, w, attempt).unwrap();
            let other = WorkerId::new(((step + 1) % workers) as u32);
            if other != w {
                let refused = s.task_finished(t, other, attempt, Finish::default(), &mut out);
                prop_assert!(matches!(refused, Err(SchedulerError::WrongWorker { .. })), "{:?}", refused);
            }
            let kind = match outcome {
                0 => Some(FailureKind::Error),
                1 => Some(FailureKind::Panic),
                2 => Some(FailureKind::WorkerLost),
                _ => None,
            };
            match kind {
                None => s.task_finished(t, w, attempt, Finish::default(), &mut out).unwrap(),
                Some(kind) => {
                    if kind == FailureKind::WorkerLost {
                        lost[t.index()] += 1;
                    } else {
                        errors[t.index()] += 1;
                    }
                    s.task_failed(t, w, attempt, kind, &mut out).unwrap();
                    stale.push((t, attempt));
                }
            }
        }
        prop_assert!(s.is_done(), "{:?}", s.counts());
        let c = s.counts();
        prop_assert_eq!(c.finished + c.failed + c.abandoned + c.cancelled, n);
        for t in (0..n as u32).map(TaskId::new) {
            let i = t.index();
            match s.state(t) {
                TaskState::Cancelled => {
                    // Only work whose every reader was given up on.
                    let mut readers = s.dependents(t).peekable();
                    prop_assert!(readers.peek().is_some(), "{t}: an output was cancelled");
                    for r in readers {
                        prop_assert!(s.state(r).is_terminal() && s.state(r) != TaskState::Finished);
                    }
                }
                TaskState::Failed => match s.failure(t) {
                    Some(FailureKind::WorkerLost) => prop_assert_eq!(lost[i], suspicious_after),
                    Some(_) => prop_assert_eq!(errors[i], limits[i] + 1),
                    None => prop_assert!(false, "{t} failed without a kind"),
                },
                TaskState::Finished => {
                    prop_assert!(errors[i] <= limits[i]);
                    prop_assert!(lost[i] < suspicious_after);
                }
                TaskState::Abandoned { .. } => {}
                other => prop_assert!(false, "{t} ended {other:?}"),
            }
        }
    }

    /// Workers join and leave at random while tasks run, fail, retry, are
    /// cancelled, are stolen by idle workers (core-planned steals,
    /// confirmed or refused), are added while others run (reading results
    /// kept, running or already released) and report late; results the
    /// caller holds are released on request; a driver drops inputs of
    /// running tasks, which run again once those are computed again. Every
    /// task ends in exactly one final state; no task is
    /// handed to a worker that left, and reports from one are refused; a
    /// task is handed out only when every input's result exists somewhere;
    /// a result is released only while it exists (so once per time it was
    /// computed); retries and lost workers stay within their limits; at
    /// the end exactly the results the caller holds are held.
    #[test]
    fn workers_joining_and_leaving_keep_every_task_in_one_final_state(
        (g, mut limits) in dag_with_retries(),
        placement in policy(),
        workers in 1usize..4,
        suspicious_after in 1u32..4,
        picks in prop::collection::vec(any::<prop::sample::Index>(), 400),
        events in prop::collection::vec(0u8..20, 400),
        sizes in prop::collection::vec(0u64..1000, 60),
    ) {
        let mut n = g.len();
        let mut deps: Vec<Vec<TaskId>> = g.task_ids().map(|t| g.dependencies(t).to_vec()).collect();
        // Which results the caller holds: the outputs, then every task
        // added later, until released.
        let mut kept: Vec<bool> = (0..n)
            .map(|i| !deps.iter().any(|ds| ds.contains(&TaskId::new(i as u32))))
            .collect();
        let mut added = 0;
        let mut s = Scheduler::new(g, placement, workers);
        s.set_suspicious_after(suspicious_after);
        s.set_balancing(true);
        // Every fifth task needs a gpu, which workers that join may offer.
        let mut gpus: Vec<bool> = vec![false; workers];
        for t in (0..n).step_by(5) {
            s.require(TaskId::new(t as u32), "gpu", 1, &mut Vec::new());
        }
        let mut steals: Vec<(TaskId, WorkerId, WorkerId, Attempt)> = Vec::new();
        let mut present: Vec<bool> = vec![true; workers];
        let mut out: Vec<Command> = Vec::new();
        // Results that exist, and where.
        let mut have: HashMap<TaskId, WorkerId> = HashMap::new();
        let mut queued: Vec<(TaskId, Attempt, Target)> = Vec::new();
        let mut running: Vec<(TaskId, Attempt, WorkerId)> = Vec::new();
        let mut errors = vec![0u32; n];
        let mut lost = vec![0u32; n];
        let mut leaves = 0;
        s.start(&mut out);
        let mut step = 0usize;
        loop {
            prop_assert!(step < 20_000, "the run does not end: {:?}", s.counts());
            for c in out.drain(..) {
                match c {
                    Command::Run { task, target, attempt } => {
                        if let Some(w) = target.worker() {
                            prop_assert!(present[w.index()], "{task} sent to {w}, which left");
                        }
                        for d in &deps[task.index()] {
                            prop_assert!(have.contains_key(d), "{task} handed out without the result of {d}");
                        }
                        prop_assert_eq!(s.attempt(task), attempt);
                        if s.requirements(task).count() > 0 {
                            let on_gpu = matches!(target, Target::Pinned(w) if gpus[w.index()]);
                            prop_assert!(on_gpu, "{task} needs a gpu and went to {target:?}");
                        }
                        queued.push((task, attempt, target));
                    }
                    Command::Release { task } => {
                        prop_assert!(have.remove(&task).is_some(), "{task} released while it did not exist");
                    }
                    Command::Steal { task, attempt, from, to } => {
                        prop_assert_eq!(attempt, s.attempt(task));
                        prop_assert!(present[from.index()] && present[to.index()]);
                        prop_assert_eq!(s.state(task), TaskState::Ready);
                        let threads = s.worker_offer(to).map_or(1, |o| o.threads() as usize);
                        prop_assert!(s.queued_on(to) < threads, "{} has no thread to spare", to);
                        steals.push((task, from, to, attempt));
                    }
                    _ => {}
                }
            }
            if s.is_done() {
                break;
            }
            let pick = picks[step % picks.len()];
            let event = events[step % events.len()];
            step += 1;
            let alive: Vec<WorkerId> = (0..present.len())
                .filter(|&w| present[w])
                .map(|w| WorkerId::new(w as u32))
                .collect();
            if alive.is_empty() || (event == 0 && present.len() < 12) {
                let gpu = step.is_multiple_of(2);
                gpus.push(gpu);
                let offer = if gpu { WorkerOffer::new(2).resource("gpu", 1) } else { WorkerOffer::new(2) };
                let w = s.add_worker(offer, &mut out);
                prop_assert_eq!(w.index(), present.len());
                present.push(true);
                continue;
            }
            if event == 2 && step.is_multiple_of(7) {
                let t = TaskId::new(pick.index(n) as u32);
                let before = s.state(t);
                let cancelled = s.cancel(t, &mut out);
                prop_assert_eq!(cancelled, matches!(before, TaskState::Waiting | TaskState::Ready));
                prop_assert_eq!(
                    out.contains(&Command::Cancel { task: t }),
                    before == TaskState::Ready
                );
                if cancelled {
                    prop_assert_eq!(s.state(t), TaskState::Cancelled);
                }
                continue;
            }
            if event == 5 && added < 20 {
                // A later task reads up to three tasks already there.
                let mut ds: Vec<TaskId> = (0..(step % 4))
                    .map(|k| TaskId::new(picks[(step + k) % picks.len()].index(n) as u32))
                    .collect();
                ds.sort();
                ds.dedup();
                let options = TaskOptions { retries: (step % 2) as u32, ..Default::default() };
                let t = s.add_task(TaskKey::indexed("later", added), &ds, options, &mut out).unwrap();
                prop_assert_eq!(t.index(), n);
                added += 1;
                n += 1;
                deps.push(ds);
                kept.push(true);
                limits.push(options.retries);
                errors.push(0);
                lost.push(0);
                continue;
            }
            if event == 6 && step.is_multiple_of(3) {
                let t = TaskId::new(pick.index(n) as u32);
                prop_assert_eq!(s.release_result(t, &mut out), kept[t.index()]);
                kept[t.index()] = false;
                continue;
            }
            if event == 3 {
                s.plan_steals(&mut out);
                continue;
            }
            if event == 4 && !steals.is_empty() {
                let (t, from, to, asked) = steals.swap_remove(pick.index(steals.len()));
                // The thief may have left meanwhile: the task is placed
                // again then.
                let still_there = s.state(t) == TaskState::Ready
                    && s.attempt(t) == asked
                    && present[from.index()]
                    && queued.iter().any(|&(q, a, target)| {
                        q == t && a == s.attempt(t) && target.worker() == Some(from)
                    });
                if still_there && step.is_multiple_of(2) {
                    // The victim gives the task up: its queued copy is gone.
                    if let Err(e) = s.steal_confirmed(t, from, to, &mut out) {
                        prop_assert!(false, "{e}: steal of {t} ({asked}) from {from} to {to}");
                    }
                    queued.retain(|&(q, _, _)| q != t);
                } else {
                    s.steal_refused(t, from, to);
                    prop_assert!(s.steal_confirmed(t, from, to, &mut out).is_err());
                }
                continue;
            }
            if event == 8 && step.is_multiple_of(3) {
                // A task is told it needs a gpu, maybe once queued elsewhere.
                let t = TaskId::new(pick.index(n) as u32);
                if s.state(t) == TaskState::Ready || s.state(t) == TaskState::Waiting {
                    s.require(t, "gpu", 1, &mut out);
                    continue;
                }
            }
            if event == 7 && !running.is_empty() {
                // The driver dropped an input of a running task (it gave the
                // last reader the only copy) and the task must run again.
                let (t, attempt, w) = running[pick.index(running.len())];
                if let Some(&d) = deps[t.index()].iter().find(|d| have.contains_key(d)) {
                    have.remove(&d);
                    s.input_lost(t, w, attempt, d, &mut out).unwrap();
                    running.retain(|&(r, _, _)| r != t);
                    // It waits for the input, or gave up with it when the
                    // input cannot be computed again (its own input failed).
                    prop_assert!(matches!(s.state(t), TaskState::Waiting | TaskState::Abandoned { .. }), "{:?}", s.state(t));
                    prop_assert!(s.attempt(t) > attempt);
                    prop_assert!(s.input_lost(t, w, attempt, d, &mut out).is_err(), "a stale loss was accepted");
                    continue;
                }
            }
            if event == 1 && leaves < 6 {
                leaves += 1;
                let w = alive[pick.index(alive.len())];
                let state_before: Vec<TaskState> = (0..n).map(|i| s.state(TaskId::new(i as u32))).collect();
                s.remove_worker(w, &mut out).unwrap();
                prop_assert!(s.remove_worker(w, &mut out).is_err(), "{w} left twice");
                present[w.index()] = false;
                have.retain(|_, at| *at != w);
                for &(t, _, at) in &running {
                    if at == w && state_before[t.index()] == TaskState::Running(w) {
                        lost[t.index()] += 1;
                    }
                }
                running.retain(|&(_, _, at)| at != w);
                continue;
            }
            if !running.is_empty() && (queued.is_empty() || event % 2 == 0) {
                let (t, attempt, w) = running.swap_remove(pick.index(running.len()));
                let report = match event % 5 {
                    0 => Some(FailureKind::Error),
                    1 => Some(FailureKind::Panic),
                    _ => None,
                };
                match report {
                    None => {
                        let finish = Finish::new(Default::default(), sizes[t.index() % sizes.len()]);
                        s.task_finished(t, w, attempt, finish, &mut out).unwrap();
                        prop_assert!(have.insert(t, w).is_none(), "{t} computed while its result existed");
                    }
                    Some(kind) => {
                        errors[t.index()] += 1;
                        s.task_failed(t, w, attempt, kind, &mut out).unwrap();
                    }
                }
                continue;
            }
            if queued.is_empty() {
                // Nothing queued, nothing running, not done: tasks wait for a
                // worker to join.
                prop_assert!(present.len() < 40, "stuck: {:?}", s.counts());
                gpus.push(true);
                let w = s.add_worker(WorkerOffer::new(1).resource("gpu", 1), &mut out);
                present.push(true);
                prop_assert_eq!(w.index(), present.len() - 1);
                continue;
            }
            let (t, attempt, target) = queued.swap_remove(pick.index(queued.len()));
            let w = match target {
                Target::Pinned(w) => w,
                // A stealable task may be taken by any worker.
                Target::Stealable(w) if event % 3 == 0 => alive[(w.index() + 1) % alive.len()],
                Target::Stealable(w) => w,
                // The shared queue (or a target added later): any worker.
                _ => alive[pick.index(alive.len())],
            };
            let current = s.state(t) == TaskState::Ready && s.attempt(t) == attempt;
            let started = s.task_started(t, w, attempt);
            if current && present[w.index()] {
                started.unwrap();
                running.push((t, attempt, w));
            } else {
                prop_assert!(started.is_err(), "a stale or orphaned {attempt} of {t} on {w} was started");
                if !present[w.index()] {
                    prop_assert!(
                        !matches!(started, Err(SchedulerError::UnexpectedEvent { .. })) || !current,
                        "{:?}", started
                    );
                }
            }
        }
        // Late reports from everything still listed are refused.
        for &(t, attempt, w) in &running {
            prop_assert!(s.task_finished(t, w, attempt, Finish::default(), &mut out).is_err());
        }
        let no_run = out.iter().all(|c| !matches!(c, Command::Run { .. }));
        prop_assert!(no_run);
        let c = s.counts();
        prop_assert_eq!(c.finished + c.failed + c.abandoned + c.cancelled, n);
        for t in (0..n as u32).map(TaskId::new) {
            let i = t.index();
            match s.state(t) {
                TaskState::Cancelled => prop_assert!(!have.contains_key(&t)),
                TaskState::Finished => {
                    prop_assert_eq!(have.contains_key(&t), kept[i], "{}", t);
                    prop_assert!(errors[i] <= limits[i]);
                    prop_assert!(lost[i] < suspicious_after);
                }
                TaskState::Failed => match s.failure(t) {
                    Some(FailureKind::WorkerLost) => prop_assert_eq!(lost[i], suspicious_after),
                    Some(_) => prop_assert_eq!(errors[i], limits[i] + 1),
                    None => prop_assert!(false, "{t} failed without a kind"),
                },
                TaskState::Abandoned { .. } => prop_assert!(!have.contains_key(&t)),
                other => prop_assert!(false, "{t} ended {other:?}"),
            }
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
