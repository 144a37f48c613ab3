//! Load-balancing policies on a real pool: every policy runs every task
//! exactly once; static policies put each task on the worker they promise
//! (checked by the name of the thread that ran it) and never steal; work
//! stealing moves work off a blocked worker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use flotilla_core::{Placement, RunReport, TaskKey};
use flotilla_local::{ComputeOptions, CpuPool, Graph, Inputs, TaskError};

const TASKS: usize = 200;

/// Per task index: how often it ran and the name of the thread that ran it.
struct Record {
    runs: Vec<AtomicUsize>,
    threads: Mutex<Vec<Option<String>>>,
}

impl Record {
    fn new() -> Arc<Record> {
        Arc::new(Record {
            runs: (0..TASKS).map(|_| AtomicUsize::new(0)).collect(),
            threads: Mutex::new(vec![None; TASKS]),
        })
    }

    fn note(&self, i: usize) -> String {
        self.runs[i].fetch_add(1, Ordering::SeqCst);
        let name = std::thread::current().name().unwrap_or("?").to_string();
        self.threads.lock().unwrap()[i] = Some(name.clone());
        name
    }

    fn assert_each_ran_once(&self, what: &str) {
        for (i, r) in self.runs.iter().enumerate() {
            assert_eq!(r.load(Ordering::SeqCst), 1, "{what}: task {i}");
        }
    }

    fn thread_of(&self, i: usize) -> String {
        self.threads.lock().unwrap()[i].clone().unwrap()
    }
}

fn keys() -> Vec<TaskKey> {
    (0..TASKS as u64)
        .map(|i| TaskKey::indexed("t", i))
        .collect()
}

/// A graph of `TASKS` independent tasks, task `i` inserted `i`-th (so its
/// task id is `i`), each running `body(i)` and returning `i`.
fn independent_tasks(body: impl Fn(usize) + Send + Sync + Clone + 'static) -> Graph {
    let mut g = Graph::new();
    for (i, key) in keys().into_iter().enumerate() {
        let body = body.clone();
        g.insert(key, [] as [&str; 0], move |_: &Inputs<'_>| {
            body(i);
            Ok::<_, TaskError>(i)
        });
    }
    g
}

fn compute(g: &Graph, pool: &CpuPool, placement: Placement) -> RunReport {
    let opts = ComputeOptions::new()
        .pool(pool)
        .placement(placement)
        .progress(false);
    let (results, report) = g.compute_many_with(&keys(), &opts).unwrap();
    for (i, r) in results.iter().enumerate() {
        let v = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{placement}: task {i}: {e}"));
        assert_eq!(v.downcast_ref::<usize>(), Some(&i), "{placement}");
    }
    report
}

#[test]
fn every_policy_runs_every_task_exactly_once() {
    let pool = CpuPool::with_threads(2).unwrap();
    for p in Placement::ALL {
        let record = Record::new();
        let r = Arc::clone(&record);
        let g = independent_tasks(move |i| {
            r.note(i);
        });
        let report = compute(&g, &pool, p);
        record.assert_each_ran_once(p.name());
        assert_eq!(report.tasks(), TASKS as u64, "{p}");
        assert_eq!(report.workers.len(), 2, "{p}");
        if !p.is_dynamic() {
            assert_eq!(report.stolen(), 0, "{p} must not steal");
        }
    }
}

#[test]
fn every_policy_runs_a_dependent_graph_correctly() {
    // A fan-in of fan-outs: 20 groups of 10 leaves, each group summed, the
    // sums summed. Dependencies must hold whatever the policy.
    let pool = CpuPool::with_threads(2).unwrap();
    for p in Placement::ALL {
        let mut g = Graph::new();
        let mut groups = Vec::new();
        for grp in 0..20u64 {
            let mut members = Vec::new();
            for k in 0..10u64 {
                let key = TaskKey::indexed(format!("leaf{grp}"), k);
                g.insert(key.clone(), [] as [&str; 0], move |_| {
                    Ok::<_, TaskError>(grp * 10 + k)
                });
                members.push(key);
            }
            let gkey = TaskKey::indexed("group", grp);
            g.insert(gkey.clone(), members, |i| {
                (0..i.len())
                    .map(|j| i.get::<u64>(j).copied())
                    .sum::<Result<u64, _>>()
            });
            groups.push(gkey);
        }
        g.insert("total", groups, |i| {
            (0..i.len())
                .map(|j| i.get::<u64>(j).copied())
                .sum::<Result<u64, _>>()
        });
        let opts = ComputeOptions::new()
            .pool(&pool)
            .placement(p)
            .progress(false);
        let (results, report) = g.compute_many_with(&["total".into()], &opts).unwrap();
        assert_eq!(
            results[0].as_ref().unwrap().downcast_ref::<u64>(),
            Some(&(0..200u64).sum()),
            "{p}"
        );
        assert_eq!(report.tasks(), 200 + 20 + 1, "{p}");
    }
}

fn worker_name(pool: &str, w: usize) -> String {
    format!("{pool}-{w}")
}

#[test]
fn round_robin_gives_each_worker_half_and_never_steals() {
    let pool = CpuPool::builder()
        .threads(2)
        .name("plc-rr")
        .build()
        .unwrap();
    let record = Record::new();
    let r = Arc::clone(&record);
    let g = independent_tasks(move |i| {
        r.note(i);
    });
    let report = compute(&g, &pool, Placement::RoundRobin);
    record.assert_each_ran_once("round-robin");
    assert_eq!(report.workers[0].tasks, 100);
    assert_eq!(report.workers[1].tasks, 100);
    assert_eq!(report.stolen(), 0);
    for i in 0..TASKS {
        assert_eq!(
            record.thread_of(i),
            worker_name("plc-rr", i % 2),
            "task {i}"
        );
    }
}

#[test]
fn block_gives_worker_0_the_first_half() {
    let pool = CpuPool::builder()
        .threads(2)
        .name("plc-blk")
        .build()
        .unwrap();
    let record = Record::new();
    let r = Arc::clone(&record);
    let g = independent_tasks(move |i| {
        r.note(i);
    });
    let report = compute(&g, &pool, Placement::Block);
    record.assert_each_ran_once("block");
    for i in 0..TASKS {
        let w = if i < 100 { 0 } else { 1 };
        assert_eq!(record.thread_of(i), worker_name("plc-blk", w), "task {i}");
    }
    assert_eq!(report.workers[0].tasks, 100);
    assert_eq!(report.workers[1].tasks, 100);
    assert_eq!(report.stolen(), 0);
}

#[test]
fn block_cyclic_deals_blocks_in_turn() {
    let pool = CpuPool::builder()
        .threads(2)
        .name("plc-bc")
        .build()
        .unwrap();
    let record = Record::new();
    let r = Arc::clone(&record);
    let g = independent_tasks(move |i| {
        r.note(i);
    });
    let report = compute(&g, &pool, Placement::BlockCyclic { block: 4 });
    for i in 0..TASKS {
        assert_eq!(
            record.thread_of(i),
            worker_name("plc-bc", (i / 4) % 2),
            "task {i}"
        );
    }
    assert_eq!(report.stolen(), 0);
}

#[test]
fn a_static_policy_keeps_tasks_on_their_worker_even_when_it_is_slow() {
    // Worker 1's tasks wait until worker 0 has run all of its own: worker 0
    // must not take any of them meanwhile.
    let pool = CpuPool::builder()
        .threads(2)
        .name("plc-slow")
        .build()
        .unwrap();
    let record = Record::new();
    let worker0_done = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let (r, done, gate2) = (
        Arc::clone(&record),
        Arc::clone(&worker0_done),
        Arc::clone(&gate),
    );
    let g = independent_tasks(move |i| {
        r.note(i);
        if i % 2 == 1 {
            let (open, cv) = &*gate2;
            let open = open.lock().unwrap();
            let (open, _) = cv
                .wait_timeout_while(open, Duration::from_secs(30), |o| !*o)
                .unwrap();
            assert!(*open, "worker 0 never finished its share");
        } else if done.fetch_add(1, Ordering::SeqCst) + 1 == TASKS / 2 {
            let (open, cv) = &*gate2;
            *open.lock().unwrap() = true;
            cv.notify_all();
        }
    });
    let report = compute(&g, &pool, Placement::RoundRobin);
    for i in 0..TASKS {
        assert_eq!(
            record.thread_of(i),
            worker_name("plc-slow", i % 2),
            "task {i}"
        );
    }
    assert_eq!(report.stolen(), 0);
}

#[test]
fn work_stealing_takes_work_from_a_blocked_worker() {
    let pool = CpuPool::with_threads(2).unwrap();
    let record = Record::new();
    // Task 0 blocks its worker until the other worker has run 150 tasks —
    // more than the 100 dealt to it, so it must have stolen — or until
    // every other task is done.
    let blocker_thread: Arc<Mutex<Option<String>>> = Arc::default();
    let per_thread: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let others_done = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let (r, bt, pt, od, gt) = (
        Arc::clone(&record),
        Arc::clone(&blocker_thread),
        Arc::clone(&per_thread),
        Arc::clone(&others_done),
        Arc::clone(&gate),
    );
    let g = independent_tasks(move |i| {
        let me = r.note(i);
        let (open, cv) = &*gt;
        if i == 0 {
            *bt.lock().unwrap() = Some(me);
            let open = open.lock().unwrap();
            let (open, _) = cv
                .wait_timeout_while(open, Duration::from_secs(30), |o| !*o)
                .unwrap();
            assert!(*open, "the blocker was never released");
            return;
        }
        let mine = {
            let mut counts = pt.lock().unwrap();
            let c = counts.entry(me.clone()).or_insert(0);
            *c += 1;
            *c
        };
        let all_others_done = od.fetch_add(1, Ordering::SeqCst) + 1 == TASKS - 1;
        let on_other_worker = bt.lock().unwrap().as_ref().is_some_and(|b| *b != me);
        if all_others_done || (on_other_worker && mine >= 150) {
            *open.lock().unwrap() = true;
            cv.notify_all();
        }
    });
    let report = compute(&g, &pool, Placement::WorkStealing);
    record.assert_each_ran_once("work-stealing");
    assert_eq!(report.tasks(), TASKS as u64);
    assert!(report.stolen() > 0, "nothing was stolen:\n{report}");
}

#[test]
fn central_queue_spreads_work_without_stealing() {
    let pool = CpuPool::with_threads(2).unwrap();
    let record = Record::new();
    let r = Arc::clone(&record);
    let g = independent_tasks(move |i| {
        r.note(i);
    });
    let report = compute(&g, &pool, Placement::CentralQueue);
    record.assert_each_ran_once("central-queue");
    assert_eq!(report.stolen(), 0);
    assert_eq!(report.tasks(), TASKS as u64);
}

#[test]
fn a_round_robin_pool_deals_submitted_tasks_in_turn() {
    let pool = CpuPool::builder()
        .threads(2)
        .placement(Placement::RoundRobin)
        .name("plc-sub")
        .build()
        .unwrap();
    assert_eq!(pool.placement(), Placement::RoundRobin);
    let futures: Vec<_> = (0..TASKS)
        .map(|_| pool.submit(|| std::thread::current().name().unwrap().to_string()))
        .collect();
    for (i, f) in futures.into_iter().enumerate() {
        assert_eq!(
            f.result().unwrap(),
            worker_name("plc-sub", i % 2),
            "task {i}"
        );
    }
    let stats = pool.worker_stats();
    assert_eq!(stats[0].tasks, 100);
    assert_eq!(stats[1].tasks, 100);
    assert_eq!(stats.iter().map(|w| w.stolen).sum::<u64>(), 0);
}

#[test]
fn every_policy_works_for_submitted_tasks() {
    for p in Placement::ALL {
        let built = CpuPool::builder().threads(2).placement(p).build();
        if p == Placement::Block {
            // Block needs a run's task count: a pool refuses it, clearly.
            let err = built.unwrap_err();
            assert!(matches!(err, TaskError::InvalidSettings(_)), "{err}");
            assert!(err.to_string().contains("block"), "{err}");
            continue;
        }
        let pool = built.unwrap();
        let futures: Vec<_> = (0..100u64).map(|i| pool.submit(move || i)).collect();
        let sum: u64 = futures.into_iter().map(|f| f.result().unwrap()).sum();
        assert_eq!(sum, 4950, "{p}");
        let ran: u64 = pool.worker_stats().iter().map(|w| w.tasks).sum();
        assert_eq!(ran, 100, "{p}");
    }
}
