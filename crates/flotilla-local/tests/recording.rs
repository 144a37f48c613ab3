//! Recording a pool: what a run report is drawn from.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use flotilla_core::trace::{DecisionKind, Outcome};
use flotilla_core::Placement;
use flotilla_local::{ComputeOptions, CpuPool, Delayed, TaskError};

fn spin(micros: u64) -> u64 {
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed().as_micros() < u128::from(micros) {
        x = x.wrapping_add(1);
    }
    x
}

#[test]
fn every_task_of_a_run_is_one_span_on_the_thread_that_ran_it() {
    let pool = CpuPool::with_threads(2).unwrap();
    let recorder = pool.record();
    // Skewed work dealt in blocks: the idle thread steals.
    let parts: Vec<Delayed<u64>> = (0..40u64)
        .map(|i| Delayed::from_fn(move || spin(if i < 20 { 2_000 } else { 100 })).named("spin"))
        .collect();
    let total = Delayed::gather(&parts, |v| v.len() as u64).named("count");
    let options = ComputeOptions::new()
        .pool(&pool)
        .placement(Placement::WorkStealing);
    let (n, report) = total.compute_shared_with(&options).unwrap();
    assert_eq!(*n, 40);
    let trace = recorder.trace("skew");
    assert_eq!(trace.lanes.len(), 2);
    let kind = |name: &str| trace.kinds.iter().position(|k| k == name).unwrap() as u32;
    let spins: Vec<_> = trace
        .spans
        .iter()
        .filter(|s| s.kind == kind("spin"))
        .collect();
    assert_eq!(spins.len(), 40);
    assert_eq!(
        trace
            .spans
            .iter()
            .filter(|s| s.kind == kind("count"))
            .count(),
        1
    );
    // Each task once, all done, each on a lane of the pool, with its time.
    let mut tasks: Vec<u32> = spins.iter().map(|s| s.task).collect();
    tasks.sort_unstable();
    tasks.dedup();
    assert_eq!(tasks.len(), 40);
    assert!(trace
        .spans
        .iter()
        .all(|s| s.outcome == Outcome::Done && s.lane < 2));
    assert!(spins.iter().filter(|s| s.nanos() >= 2_000_000).count() >= 20);
    // The steals the pool counted are the steals the trace marks.
    let (_, stolen, failed) = trace.counts();
    assert_eq!(stolen, report.stolen());
    assert_eq!(failed, 0);
    // Spans on one lane do not overlap: a thread runs one task at a time.
    for lane in 0..2 {
        let mut on_lane: Vec<_> = trace.spans.iter().filter(|s| s.lane == lane).collect();
        on_lane.sort_by_key(|s| s.start_ns);
        for pair in on_lane.windows(2) {
            assert!(pair[0].end_ns <= pair[1].start_ns + 50_000, "{pair:?}");
        }
    }
}

#[test]
fn retries_are_recorded_as_decisions_with_the_failed_attempt() {
    let pool = CpuPool::with_threads(2).unwrap();
    let recorder = pool.record();
    let tries = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&tries);
    let flaky = Delayed::from_fn(move || {
        assert!(
            counter.fetch_add(1, Ordering::SeqCst) > 0,
            "first try fails"
        );
        7
    })
    .named("flaky")
    .retries(1);
    let options = ComputeOptions::new().pool(&pool);
    assert_eq!(flaky.compute_with(&options).unwrap(), 7);
    let trace = recorder.trace("retry");
    assert_eq!(trace.decisions.len(), 1, "{:?}", trace.decisions);
    let d = &trace.decisions[0];
    assert_eq!(
        (d.kind, d.task.as_str(), d.attempt),
        (DecisionKind::Retry, "flaky", 2)
    );
    let outcomes: Vec<Outcome> = trace.spans.iter().map(|s| s.outcome).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Failed).count(),
        1
    );
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Done).count(), 1);
}

#[test]
fn a_pool_forgets_what_it_recorded_when_its_last_recorder_goes() {
    let pool = CpuPool::with_threads(1).unwrap();
    {
        let recorder = pool.record();
        pool.submit(|| 1).result().unwrap();
        assert_eq!(recorder.trace("first").spans.len(), 1);
    }
    // Not recorded: nobody records.
    pool.submit(|| 2).result().unwrap();
    let recorder = pool.record();
    pool.submit(|| 3).result().unwrap();
    let trace = recorder.trace("second");
    assert_eq!(trace.spans.len(), 1);
    // A second recorder sees from its own start; the first keeps its view.
    let later = pool.record();
    pool.submit(|| 4).result().unwrap();
    assert_eq!(later.trace("later").spans.len(), 1);
    assert_eq!(recorder.trace("second").spans.len(), 2);
}

#[test]
fn a_run_with_a_report_writes_it_and_an_unwritable_path_runs_nothing() {
    let dir = std::env::temp_dir().join(format!("flotilla-report-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.html");
    let ran = Arc::new(AtomicU32::new(0));
    let graph = |ran: &Arc<AtomicU32>| {
        let parts: Vec<Delayed<u64>> = (0..6u64)
            .map(|i| {
                let ran = Arc::clone(ran);
                Delayed::from_fn(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    i
                })
                .named("part")
            })
            .collect();
        Delayed::gather(&parts, |v| v.iter().copied().sum::<u64>()).named("sum")
    };
    let pool = CpuPool::with_threads(2).unwrap();
    let options = ComputeOptions::new()
        .pool(&pool)
        .label("six parts")
        .report(&path);
    assert_eq!(graph(&ran).compute_with(&options).unwrap(), 15);
    let html = std::fs::read_to_string(&path).unwrap();
    for needle in [
        "six parts",
        "part",
        "sum",
        "<svg class=\"stream\"",
        "work-stealing",
        "tasks in graph",
    ] {
        assert!(html.contains(needle), "the report lacks {needle:?}");
    }
    assert_eq!(ran.swap(0, Ordering::SeqCst), 6);

    let bad = dir.join("no-such-folder").join("run.html");
    let err = graph(&ran)
        .compute_with(&ComputeOptions::new().pool(&pool).report(&bad))
        .unwrap_err();
    assert!(matches!(err, TaskError::Report { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-folder"), "{err}");
    assert_eq!(ran.load(Ordering::SeqCst), 0, "nothing runs");
    std::fs::remove_dir_all(&dir).unwrap();
}
