//! Behaviour of `flotilla::patterns::pipeline` as a user sees it: ordering,
//! type changes, back-pressure, and stopping on the first error without
//! leaving a thread behind.

use std::convert::Infallible;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use flotilla::patterns::pipeline::{
    ConfigError, Pipeline, PipelineError, StageError, DEFAULT_CAPACITY,
};

/// Some uneven CPU work, so that items overtake one another in stages with
/// several workers.
fn uneven_work(x: u64) -> u64 {
    let rounds = (x * 7919) % 500;
    let mut acc = x;
    for i in 0..rounds {
        acc = acc.wrapping_mul(6364136223846793005).wrapping_add(i);
    }
    if x.is_multiple_of(13) {
        thread::yield_now();
    }
    std::hint::black_box(acc);
    x
}

#[test]
fn the_three_stage_example_gives_ordered_results() {
    let out: Vec<i64> = Pipeline::from_iter(0..10i64)
        .stage("add one", 2, |x| Ok::<_, Infallible>(x + 1))
        .stage("double", 1, |x| Ok::<_, Infallible>(x * 2))
        .map_stage("minus three", 1, |x| x - 3)
        .capacity(8)
        .collect()
        .unwrap();
    assert_eq!(out, (0..10).map(|x| (x + 1) * 2 - 3).collect::<Vec<_>>());
}

#[test]
fn results_are_in_input_order_with_several_workers_per_stage() {
    let n = 20_000u64;
    let expected: Vec<u64> = (0..n).map(|x| (x + 1) * 3).collect();
    for capacity in [1, 3, DEFAULT_CAPACITY] {
        let out = Pipeline::from_iter(0..n)
            .map_stage("work", 4, uneven_work)
            .map_stage("add one", 3, |x| x + 1)
            .map_stage("more work", 5, uneven_work)
            .map_stage("triple", 2, |x| x * 3)
            .capacity(capacity)
            .collect()
            .unwrap();
        assert_eq!(out, expected, "capacity {capacity}");
    }
}

#[test]
fn unordered_sinks_deliver_every_item_once() {
    let n = 5_000u64;
    let mut out = Pipeline::from_iter(0..n)
        .map_stage("work", 4, uneven_work)
        .collect_unordered()
        .unwrap();
    out.sort_unstable();
    assert_eq!(out, (0..n).collect::<Vec<_>>());

    let mut seen = vec![0u32; n as usize];
    let report = Pipeline::from_iter(0..n)
        .map_stage("work", 3, uneven_work)
        .for_each_unordered(|x| seen[x as usize] += 1)
        .unwrap();
    assert!(seen.iter().all(|&count| count == 1));
    assert_eq!(report.items_to_sink, n);
}

#[test]
fn for_each_sees_outputs_in_input_order() {
    let mut seen = Vec::new();
    Pipeline::from_iter(0..3_000u64)
        .map_stage("work", 6, uneven_work)
        .map_stage("square", 3, |x| x * x)
        .for_each(|x| seen.push(x))
        .unwrap();
    assert_eq!(seen, (0..3_000u64).map(|x| x * x).collect::<Vec<_>>());
}

#[test]
fn stages_change_the_item_type() {
    let out: Vec<(usize, bool)> = Pipeline::from_iter(0..200u32)
        .map_stage("to text", 3, |x| format!("item-{x}"))
        .stage("length", 2, |s: String| -> Result<usize, StageError> {
            Ok(s.len())
        })
        .map_stage("pair", 2, |len| (len, len % 2 == 0))
        .collect()
        .unwrap();
    let expected: Vec<(usize, bool)> = (0..200u32)
        .map(|x| {
            let len = format!("item-{x}").len();
            (len, len % 2 == 0)
        })
        .collect();
    assert_eq!(out, expected);
}

#[test]
fn stages_may_borrow_local_data() {
    let table = [10, 20, 30, 40];
    let offset = 5;
    let out = Pipeline::from_iter(table.iter())
        .map_stage("add offset", 2, |x: &i32| x + offset)
        .map_stage("look up", 2, |x: i32| {
            table.iter().position(|&t| t + offset == x)
        })
        .collect()
        .unwrap();
    assert_eq!(out, [Some(0), Some(1), Some(2), Some(3)]);
}

#[test]
fn an_empty_source_gives_an_empty_result() {
    let run = Pipeline::from_iter(std::iter::empty::<u8>())
        .map_stage("never", 2, |x| x)
        .run()
        .unwrap();
    assert!(run.items.is_empty());
    assert_eq!(run.report.items_from_source, 0);
    assert_eq!(run.report.stages[0].items_in, 0);
}

#[test]
fn a_pipeline_without_stages_returns_the_source() {
    let out = Pipeline::from_iter("abc".chars()).collect().unwrap();
    assert_eq!(out, ['a', 'b', 'c']);
}

#[test]
fn the_report_counts_every_item_through_every_stage() {
    let n = 1_000u64;
    let run = Pipeline::from_iter(0..n)
        .map_stage("first", 2, |x| x + 1)
        .map_stage("second", 3, |x| x * 2)
        .map_stage("third", 1, |x| x.to_string())
        .run()
        .unwrap();
    let report = run.report;
    assert_eq!(run.items.len() as u64, n);
    assert_eq!(report.items_from_source, n);
    assert_eq!(report.items_to_sink, n);
    let names: Vec<&str> = report.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["first", "second", "third"]);
    for (index, stage) in report.stages.iter().enumerate() {
        assert_eq!(stage.index, index);
        assert_eq!((stage.items_in, stage.items_out), (n, n), "{}", stage.name);
    }
    assert_eq!(
        report.stages.iter().map(|s| s.workers).collect::<Vec<_>>(),
        [2, 3, 1]
    );
    let table = report.to_string();
    assert!(
        table.contains("second") && table.contains("1000"),
        "{table}"
    );
}

/// A slow last stage holds back a fast source: when the last stage starts an
/// item, the source can be ahead of it by no more than what the queues and
/// the workers hold.
#[test]
fn back_pressure_bounds_the_items_in_flight() {
    let n = 400usize;
    let capacity = 3usize;
    let (first_workers, last_workers) = (2usize, 1usize);
    let yielded = AtomicUsize::new(0);
    let started = AtomicUsize::new(0);
    let most_ahead = AtomicUsize::new(0);

    let source = (0..n).inspect(|_| {
        yielded.fetch_add(1, Ordering::SeqCst);
    });
    let out = Pipeline::from_iter(source)
        .map_stage("fast", first_workers, |x| x + 1)
        .map_stage("slow", last_workers, |x| {
            let started_now = started.fetch_add(1, Ordering::SeqCst) + 1;
            let ahead = yielded.load(Ordering::SeqCst) - started_now;
            most_ahead.fetch_max(ahead, Ordering::SeqCst);
            thread::sleep(Duration::from_micros(200));
            x
        })
        .capacity(capacity)
        .collect()
        .unwrap();
    assert_eq!(out, (1..=n).collect::<Vec<_>>());

    // Items yielded but not yet started by the slow stage sit in: the source
    // thread's hand (1), the queue to "fast" (capacity), the "fast" workers,
    // the queue to "slow" (capacity), and the other "slow" workers.
    let bound = 1 + 2 * capacity + first_workers + (last_workers - 1);
    let most_ahead = most_ahead.load(Ordering::SeqCst);
    assert!(
        most_ahead <= bound,
        "source ran {most_ahead} items ahead of the slow stage; bound {bound}"
    );
}

#[test]
fn an_err_stops_the_pipeline_and_names_the_stage_and_item() {
    let yielded = AtomicU64::new(0);
    let source = (0..1_000_000u64).inspect(|_| {
        yielded.fetch_add(1, Ordering::SeqCst);
    });
    let err = Pipeline::from_iter(source)
        .map_stage("parse", 3, |x| x)
        .stage("check", 2, |x| {
            if x == 10 {
                Err(format!("item {x} is bad"))
            } else {
                Ok(x)
            }
        })
        .map_stage("after", 2, |x| x * 2)
        .collect()
        .unwrap_err();
    match &err {
        PipelineError::StageFailed {
            stage,
            stage_index,
            item,
            source,
        } => {
            assert_eq!(stage, "check");
            assert_eq!(*stage_index, 1);
            assert_eq!(*item, 10);
            assert_eq!(source.to_string(), "item 10 is bad");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "pipeline stage 1 `check` failed on item 10: item 10 is bad"
    );
    let yielded = yielded.load(Ordering::SeqCst);
    assert!(
        yielded < 1_000_000,
        "the source was drained ({yielded} items)"
    );
}

/// With one worker in the failing first stage the source can only be ahead
/// by the queue in between, so how much was pulled is known exactly.
#[test]
fn the_source_stops_being_pulled_after_a_failure() {
    let capacity = 4u64;
    let yielded = AtomicU64::new(0);
    let source = (0..1_000_000u64).inspect(|_| {
        yielded.fetch_add(1, Ordering::SeqCst);
    });
    let err = Pipeline::from_iter(source)
        .stage(
            "fail at ten",
            1,
            |x| if x == 10 { Err("ten") } else { Ok(x) },
        )
        .map_stage("after", 4, |x| x + 1)
        .capacity(capacity as usize)
        .collect()
        .unwrap_err();
    assert_eq!(
        (err.stage_name(), err.stage_index(), err.item()),
        (Some("fail at ten"), Some(0), Some(10))
    );
    // Items 0..=10 taken by the stage, `capacity` in the queue, one in the
    // source thread's hand, and at most one pulled after the flag went up.
    let yielded = yielded.load(Ordering::SeqCst);
    assert!(
        yielded <= 11 + capacity + 2,
        "the source yielded {yielded} items"
    );
}

/// The last stage fails while every stage before it is blocked on a full
/// queue: the blocked senders must be released, and the call must return.
#[test]
fn a_failure_releases_stages_blocked_on_full_queues() {
    let err = Pipeline::from_iter(0..1_000_000u64)
        .map_stage("fast one", 4, |x| x)
        .map_stage("fast two", 4, |x| x)
        .stage("slow and failing", 1, |x| {
            thread::sleep(Duration::from_micros(100));
            if x == 50 {
                Err(io::Error::other("disk full"))
            } else {
                Ok(x)
            }
        })
        .capacity(1)
        .collect()
        .unwrap_err();
    assert_eq!(err.stage_index(), Some(2));
    assert_eq!(err.item(), Some(50));
    // The cause keeps its type.
    let PipelineError::StageFailed { source, .. } = err else {
        panic!("unexpected error {err:?}")
    };
    assert_eq!(
        source.downcast_ref::<io::Error>().map(|e| e.to_string()),
        Some("disk full".to_owned())
    );
}

/// The first stage fails while the later stages wait on empty queues.
#[test]
fn a_failure_releases_stages_blocked_on_empty_queues() {
    let err = Pipeline::from_iter(0..1_000_000u64)
        .stage("slow and failing", 1, |x| {
            thread::sleep(Duration::from_micros(100));
            if x == 20 {
                Err("gave up")
            } else {
                Ok(x)
            }
        })
        .map_stage("waiting one", 4, |x| x)
        .map_stage("waiting two", 4, |x| x)
        .for_each(|_| {})
        .unwrap_err();
    assert_eq!((err.stage_index(), err.item()), (Some(0), Some(20)));
}

#[test]
fn several_failing_workers_report_one_error() {
    let err = Pipeline::from_iter(0..100_000u64)
        .stage("always fails", 8, |x| Err::<u64, _>(format!("no {x}")))
        .collect()
        .unwrap_err();
    let PipelineError::StageFailed {
        stage,
        item,
        source,
        ..
    } = err
    else {
        panic!("unexpected error {err:?}")
    };
    assert_eq!(stage, "always fails");
    assert_eq!(source.to_string(), format!("no {item}"));
}

#[test]
fn a_panicking_stage_is_reported_with_its_message() {
    let err = Pipeline::from_iter(0..1_000_000u64)
        .map_stage("fine", 2, |x| x)
        .map_stage("explodes", 3, |x| {
            if x == 7 {
                panic!("exploded on {x}");
            }
            x
        })
        .map_stage("after", 1, |x| x)
        .collect()
        .unwrap_err();
    match &err {
        PipelineError::StagePanicked {
            stage,
            stage_index,
            item,
            message,
        } => {
            assert_eq!((stage.as_str(), *stage_index, *item), ("explodes", 1, 7));
            assert_eq!(message, "exploded on 7");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("panicked on item 7: exploded on 7"),
        "{err}"
    );
}

#[test]
fn a_panicking_source_is_reported() {
    let source = (0..1_000u32).map(|x| if x == 5 { panic!("source broke") } else { x });
    let err = Pipeline::from_iter(source)
        .map_stage("inc", 2, |x| x + 1)
        .collect()
        .unwrap_err();
    match err {
        PipelineError::SourcePanicked { item, message } => {
            assert_eq!(item, 5);
            assert_eq!(message, "source broke");
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn a_panic_in_the_sink_closure_propagates_after_the_threads_stop() {
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        Pipeline::from_iter(0..1_000_000u64)
            .map_stage("inc", 2, |x| x + 1)
            .capacity(2)
            .for_each(|x| {
                if x == 100 {
                    panic!("sink gave up");
                }
            })
    }));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"sink gave up"));
}

#[test]
fn zero_workers_is_an_invalid_config_and_pulls_nothing() {
    let yielded = AtomicU64::new(0);
    let source = (0..10u64).inspect(|_| {
        yielded.fetch_add(1, Ordering::SeqCst);
    });
    let err = Pipeline::from_iter(source)
        .map_stage("ok", 1, |x| x)
        .map_stage("idle", 0, |x| x)
        .collect()
        .unwrap_err();
    match &err {
        PipelineError::InvalidConfig(ConfigError::ZeroWorkers { stage, stage_index }) => {
            assert_eq!((stage.as_str(), *stage_index), ("idle", 1));
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("zero workers"), "{err}");
    assert_eq!(yielded.load(Ordering::SeqCst), 0);
}

#[test]
fn zero_capacity_is_an_invalid_config() {
    let err = Pipeline::from_iter(0..10)
        .map_stage("inc", 1, |x| x + 1)
        .capacity(0)
        .collect_unordered()
        .unwrap_err();
    assert!(
        matches!(err, PipelineError::InvalidConfig(ConfigError::ZeroCapacity)),
        "{err:?}"
    );
    let err = Pipeline::from_iter(0..10)
        .capacity(0)
        .for_each(|_: i32| {})
        .unwrap_err();
    assert!(
        matches!(err, PipelineError::InvalidConfig(ConfigError::ZeroCapacity)),
        "{err:?}"
    );
}

/// The stages run as the pool's own jobs: on its worker threads, counted in
/// its run report.
#[test]
fn the_work_runs_on_the_pools_workers_and_appears_in_its_run_report() {
    let pool = flotilla::CpuPool::builder()
        .threads(2)
        .name("pipeline-pool")
        .build()
        .unwrap();
    let threads = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let (out, report) = pool.measure(|| {
        Pipeline::from_iter(0..2_000u64)
            .map_stage("work", 3, |x| {
                let name = thread::current().name().unwrap_or("").to_owned();
                threads.lock().unwrap().insert(name);
                uneven_work(x)
            })
            .map_stage("inc", 2, |x| x + 1)
            .pool(&pool)
            .collect()
    });
    assert_eq!(out.unwrap(), (1..=2_000u64).collect::<Vec<_>>());
    let threads = threads.into_inner().unwrap();
    assert!(
        threads.iter().all(|t| t.starts_with("pipeline-pool-")),
        "stage work ran off the pool: {threads:?}"
    );
    assert!(report.tasks() > 0, "{report:?}");
    assert!(!report.total_busy().is_zero(), "{report:?}");
}

/// Workers are items in work, not threads: a pipeline with more workers than
/// the pool has threads runs on one thread, and also when it is itself run
/// inside a task of that pool (the sink then runs the pool's jobs while it
/// waits).
#[test]
fn many_workers_run_on_a_pool_of_one_thread_also_from_inside_its_task() {
    let pool = flotilla::CpuPool::with_threads(1).unwrap();
    let run = |pool: &flotilla::CpuPool| {
        Pipeline::from_iter(0..500u64)
            .map_stage("a", 4, uneven_work)
            .map_stage("b", 3, |x| x * 2)
            .map_stage("c", 5, uneven_work)
            .capacity(2)
            .pool(pool)
            .collect()
            .unwrap()
    };
    let expected: Vec<u64> = (0..500u64).map(|x| x * 2).collect();
    assert_eq!(run(&pool), expected);
    let inner = pool.clone();
    let from_task = pool.submit(move || run(&inner)).result().unwrap();
    assert_eq!(from_task, expected);
}

/// A stage's error type whose conversion into a `StageError` panics: the
/// conversion is user code, caught like the stage function, and reported as
/// that stage's panic (it must not leave the run waiting for a lost worker).
#[test]
fn a_panicking_error_conversion_is_reported_as_the_stages_panic() {
    struct Refused;
    impl From<Refused> for StageError {
        fn from(_: Refused) -> StageError {
            panic!("conversion exploded")
        }
    }
    let err = Pipeline::from_iter(0..1_000u32)
        .stage("convert", 2, |x| if x == 3 { Err(Refused) } else { Ok(x) })
        .map_stage("after", 2, |x| x + 1)
        .collect()
        .unwrap_err();
    match err {
        PipelineError::StagePanicked {
            stage,
            item,
            message,
            ..
        } => {
            assert_eq!((stage.as_str(), item), ("convert", 3));
            assert_eq!(message, "conversion exploded");
        }
        other => panic!("unexpected error {other:?}"),
    }
}

/// A slow sink holds back the last stage: the items between the last stage
/// and the sink's closure stay within the last queue's bound (capacity plus
/// one per worker), also while the sink works through a batch.
#[test]
fn a_slow_sink_holds_back_the_last_stage() {
    let capacity = 4usize;
    let workers = 2usize;
    let produced = AtomicUsize::new(0);
    let mut most_ahead = 0usize;
    let mut delivered = 0usize;
    Pipeline::from_iter(0..300u64)
        .map_stage("last", workers, |x| {
            produced.fetch_add(1, Ordering::SeqCst);
            x
        })
        .capacity(capacity)
        .for_each_unordered(|_| {
            delivered += 1;
            most_ahead = most_ahead.max(produced.load(Ordering::SeqCst) - delivered);
            thread::sleep(Duration::from_micros(100));
        })
        .unwrap();
    assert_eq!(delivered, 300);
    assert!(
        most_ahead < capacity + workers,
        "the last stage ran {most_ahead} items ahead of the sink; bound {}",
        capacity + workers
    );
}
