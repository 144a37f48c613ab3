//! What a user sees when tasks fail: panics are caught and reported with the
//! task's key, the function's Rust path and the panic message; the pool
//! carries on as if nothing happened.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use flotilla_local::{wait, ComputeOptions, CpuPool, Delayed, TaskError, WaitFor};

/// Takes a `Panicked` error apart, failing the test on anything else.
fn panicked(err: TaskError) -> (String, String, String) {
    match err {
        TaskError::Panicked {
            task,
            function,
            message,
        } => (task, function, message),
        other => panic!("expected Panicked, got {other:?}"),
    }
}

#[test]
fn a_panic_names_the_task_the_function_and_the_message() {
    let pool = CpuPool::with_threads(2).unwrap();
    let f = pool.submit(|| -> u32 { panic!("kaboom at step {}", 17) });
    let key = f.key();
    let err = f.result().unwrap_err();
    let shown = err.to_string();
    assert_eq!(err.task(), Some(key.as_str()));
    let (task, function, message) = panicked(err);
    assert_eq!(task, key);
    assert_eq!(message, "kaboom at step 17");
    assert!(
        function.contains("failures::a_panic_names_the_task_the_function_and_the_message"),
        "function: {function}"
    );
    assert!(function.contains("closure"), "function: {function}");
    for part in [&key, &function, "kaboom at step 17"] {
        assert!(shown.contains(part), "{shown:?} lacks {part:?}");
    }
}

fn exploding_function() -> u8 {
    panic!("named function exploded")
}

#[test]
fn a_panic_in_a_named_function_names_that_function() {
    let pool = CpuPool::with_threads(1).unwrap();
    let (_, function, message) = panicked(pool.submit(exploding_function).result().unwrap_err());
    assert!(
        function.contains("failures::exploding_function"),
        "function: {function}"
    );
    assert_eq!(message, "named function exploded");
}

#[test]
fn a_panic_without_a_string_payload_is_still_reported() {
    let pool = CpuPool::with_threads(1).unwrap();
    let f = pool.submit(|| -> () { std::panic::panic_any(42u64) });
    let (_, _, message) = panicked(f.result().unwrap_err());
    assert!(!message.is_empty());
}

#[test]
fn the_pool_keeps_working_after_panics() {
    let pool = CpuPool::with_threads(2).unwrap();
    let bad: Vec<_> = (0..10)
        .map(|i| pool.submit(move || -> u32 { panic!("bad task {i}") }))
        .collect();
    for (i, f) in bad.into_iter().enumerate() {
        let (_, _, message) = panicked(f.result().unwrap_err());
        assert_eq!(message, format!("bad task {i}"));
    }
    let good: Vec<_> = (0..100u32).map(|i| pool.submit(move || i)).collect();
    let sum: u32 = good.into_iter().map(|f| f.result().unwrap()).sum();
    assert_eq!(sum, 4950);
    let ran: u64 = pool.worker_stats().iter().map(|w| w.tasks).sum();
    assert_eq!(ran, 110);
}

#[test]
fn panics_and_successes_interleave_on_both_workers() {
    let pool = CpuPool::with_threads(2).unwrap();
    let futures: Vec<_> = (0..200u32)
        .map(|i| {
            pool.submit(move || {
                if i % 3 == 0 {
                    panic!("multiple of three: {i}");
                }
                i
            })
        })
        .collect();
    for (i, f) in futures.into_iter().enumerate() {
        match f.result() {
            Ok(v) => assert_eq!(v as usize, i),
            Err(e) => {
                assert_eq!(i % 3, 0, "{e}");
                assert!(e.to_string().contains(&format!("multiple of three: {i}")));
            }
        }
    }
}

#[test]
fn a_panic_inside_map_names_the_item_and_ends_the_results() {
    let pool = CpuPool::with_threads(2).unwrap();
    let results: Vec<_> = pool
        .map(0..10u32, |x| {
            if x == 6 {
                panic!("cannot handle item {x}");
            }
            x * 10
        })
        .collect();
    assert_eq!(results.len(), 7, "six results, then the error: {results:?}");
    for (i, r) in results[..6].iter().enumerate() {
        assert_eq!(r.as_ref().unwrap(), &(i as u32 * 10));
    }
    let err = results[6].clone().unwrap_err();
    let shown = err.to_string();
    let (task, function, message) = panicked(err);
    assert!(task.contains("item"), "task: {task}");
    assert!(task.starts_with("map["), "task: {task}");
    assert!(function.contains("failures::"), "function: {function}");
    assert_eq!(message, "cannot handle item 6");
    assert!(shown.contains(&task));
}

#[test]
fn a_failing_subtask_reaches_the_parent_as_a_value() {
    let pool = CpuPool::with_threads(2).unwrap();
    let p = pool.clone();
    let parent = pool.submit(move || {
        let child = p.submit(|| -> i32 { panic!("child broke") });
        let key = child.key();
        match child.result() {
            Err(e) => format!("{key}: {e}"),
            Ok(_) => "no error".to_string(),
        }
    });
    let report = parent.result().unwrap();
    assert!(report.contains("child broke"), "{report}");
    assert!(report.contains("panicked"), "{report}");
}

#[test]
fn is_err_distinguishes_failures_from_results() {
    let pool = CpuPool::with_threads(2).unwrap();
    let futures = vec![
        pool.submit(|| 1),
        pool.submit(|| -> i32 { panic!("two") }),
        pool.try_submit(|| Err::<i32, _>("three")),
    ];
    let r = wait(&futures, WaitFor::AllCompleted, None);
    assert_eq!(r.done, [0, 1, 2]);
    let errs: Vec<bool> = futures.iter().map(|f| f.is_err()).collect();
    assert_eq!(errs, [false, true, true]);
}

#[test]
fn counts_every_panicking_task_once() {
    let pool = CpuPool::with_threads(2).unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let futures: Vec<_> = (0..50)
        .map(|_| {
            let a = Arc::clone(&attempts);
            pool.submit(move || -> () {
                a.fetch_add(1, Ordering::SeqCst);
                panic!("always");
            })
        })
        .collect();
    for f in futures {
        assert!(f.result().is_err());
    }
    // A panicking task is not retried.
    assert_eq!(attempts.load(Ordering::SeqCst), 50);
}

#[test]
fn a_panic_in_a_chunked_map_names_the_input_item() {
    let pool = CpuPool::with_threads(2).unwrap();
    pool.submit(|| ()).result().unwrap(); // task sequence numbers no longer start at 0
    let err = pool
        .map_chunked(0..10u32, 4, |x| {
            if x == 6 {
                panic!("bad input");
            }
            x
        })
        .find_map(Result::err)
        .expect("item 6 panics");
    // Item 6 is the third of the second chunk: the error must name 6 itself.
    let task = err.task().unwrap().to_string();
    let names_item_6 = task
        .match_indices("item 6")
        .any(|(at, m)| !task[at + m.len()..].starts_with(|c: char| c.is_ascii_digit()));
    assert!(names_item_6, "the error names {task:?}, not item 6");
}

/// A tree: two leaves, each read by one middle task, both read by a root
/// that panics on its first attempt. Whether the root's retry makes a
/// middle task (and its leaf, released once the middle task finished) run
/// again depends on whether that middle task's result was handed over.
fn retried_tree(hand_over: bool, pool: &CpuPool) -> (i64, usize) {
    use flotilla_local::{ComputeOptions, Delayed};
    let made = Arc::new(AtomicUsize::new(0));
    let leaf = |v: i64| {
        let made = Arc::clone(&made);
        Delayed::from_fn(move || {
            made.fetch_add(1, Ordering::SeqCst);
            vec![v; 1000]
        })
    };
    let (a, b) = (leaf(1), leaf(2));
    let sum = |d: &Delayed<Vec<i64>>| d.map(|v| v.iter().sum::<i64>());
    let sa = if hand_over {
        sum(&a).hand_over()
    } else {
        sum(&a)
    };
    let tries = AtomicUsize::new(0);
    let root = sa
        .zip_with(&sum(&b), move |x, y| {
            assert!(
                tries.fetch_add(1, Ordering::SeqCst) > 0,
                "the first try fails"
            );
            x + y
        })
        .retries(2);
    let options = ComputeOptions::new().pool(pool).progress(false);
    let total = root.compute_with(&options).unwrap();
    (total, made.load(Ordering::SeqCst))
}

#[test]
fn a_retried_reader_of_a_handed_over_result_gets_it_computed_again() {
    let pool = CpuPool::with_threads(2).unwrap();
    // Shared: the retry reads the middle results again; each leaf ran once.
    assert_eq!(retried_tree(false, &pool), (3000, 2));
    // Handed over: the first try took `sa`, so the retry needs it computed
    // again, and its leaf too (released once `sa` had finished).
    assert_eq!(retried_tree(true, &pool), (3000, 3));
}

/// A task ended with `fail_task` fails with its error kept whole, and the
/// tasks that needed it report that same typed error (so a collection's
/// caller gets its own error type back), while a plain error still reads
/// as a failed dependency.
#[test]
fn a_typed_failure_reaches_the_caller_whole_through_its_dependents() {
    #[derive(Debug, thiserror::Error)]
    #[error("partition {0} could not be read")]
    struct Unreadable(usize);

    let pool = CpuPool::with_threads(2).unwrap();
    let options = ComputeOptions::new().pool(&pool).progress(false);
    let parts: Vec<Delayed<u64>> = (0..4)
        .map(|i| {
            Delayed::from_fn(move || {
                if i == 2 {
                    flotilla_local::fail_task(Unreadable(i as usize));
                }
                i
            })
        })
        .collect();
    let total = Delayed::gather(&parts, |xs: &[&u64]| xs.iter().copied().sum::<u64>());
    let err = total.map(|t| t * 2).compute_with(&options).unwrap_err();
    match &err {
        TaskError::FailedWith { error, .. } => {
            assert_eq!(error.downcast_ref::<Unreadable>().map(|u| u.0), Some(2));
        }
        other => panic!("expected the typed failure, got {other:?}"),
    }
    assert!(
        err.to_string().contains("partition 2 could not be read"),
        "{err}"
    );

    let plain = Delayed::from_fn(|| -> u64 { panic!("plain") });
    let err = plain.map(|x| x + 1).compute_with(&options).unwrap_err();
    assert!(matches!(err, TaskError::DependencyFailed { .. }), "{err:?}");
}

/// `fail_task` in a submitted task, or in an item of `map`, gives the same
/// typed failure as in a graph.
#[test]
fn fail_task_in_a_submitted_task_is_a_typed_failure_too() {
    let pool = CpuPool::with_threads(1).unwrap();
    let err = pool
        .submit(|| -> u8 { flotilla_local::fail_task(std::fmt::Error) })
        .result()
        .unwrap_err();
    assert!(err.failed_with::<std::fmt::Error>().is_some(), "{err:?}");
    let err = pool
        .map(0..4u8, |x| {
            if x == 2 {
                flotilla_local::fail_task(std::fmt::Error)
            } else {
                x
            }
        })
        .collect::<Result<Vec<u8>, _>>()
        .unwrap_err();
    assert!(err.failed_with::<std::fmt::Error>().is_some(), "{err:?}");
    assert!(err.to_string().contains("input item 2"), "{err}");
}
