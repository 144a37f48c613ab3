//! Behaviour of `flotilla::patterns` map-reduce, scatter-gather and tree
//! reductions as a user sees it: results, counters, ordering, and errors
//! that name the task that failed.

use std::collections::BTreeMap;

use flotilla::patterns::{
    map_reduce, scatter_gather, split_even, tree_reduce, tree_reduce_delayed, tree_reduce_with,
    MapReduce, PatternError, DEFAULT_FAN_IN,
};
use flotilla::{ComputeOptions, CpuPool, Delayed, TaskError};

const TEXT: &str = "\
the quick brown fox jumps over the lazy dog
the dog barks and the fox runs
a lazy afternoon for a lazy dog
quick quick quick said the fox
over and over the river runs
";

fn lines() -> Vec<String> {
    TEXT.lines().map(str::to_owned).collect()
}

fn words(line: String) -> Vec<(String, u64)> {
    line.split_whitespace().map(|w| (w.to_owned(), 1)).collect()
}

fn word_count_job() -> MapReduce<String, String, u64, u64> {
    MapReduce::new(words, |_word: &String, ones: Vec<u64>| {
        ones.into_iter().sum()
    })
}

fn sequential_word_count() -> Vec<(String, u64)> {
    let mut counts = BTreeMap::new();
    for word in TEXT.split_whitespace() {
        *counts.entry(word.to_owned()).or_insert(0u64) += 1;
    }
    counts.into_iter().collect()
}

#[test]
fn word_count_with_and_without_combiner_agree_and_are_sorted() {
    let pool = CpuPool::with_threads(3).unwrap();
    let plain = word_count_job().chunk_size(2);
    let combined = word_count_job()
        .chunk_size(2)
        .combiner(|_word, ones| ones.into_iter().sum());

    let (without, report_without) = plain.run_with_report(&pool, lines()).unwrap();
    let (with, report_with) = combined.run_with_report(&pool, lines()).unwrap();

    assert_eq!(without, with);
    assert_eq!(without, sequential_word_count());
    assert!(without.windows(2).all(|w| w[0].0 < w[1].0), "keys sorted");

    let words_in_text = TEXT.split_whitespace().count() as u64;
    let lines_in_text = TEXT.lines().count() as u64;
    for report in [report_without, report_with] {
        assert_eq!(report.records_in, lines_in_text);
        assert_eq!(report.map_tasks, 3); // 5 lines, 2 per map task
        assert_eq!(report.map_output_pairs, words_in_text);
        assert_eq!(report.keys_out, without.len() as u64);
    }
    assert_eq!(report_without.pairs_after_combine, words_in_text);
    assert!(
        report_with.pairs_after_combine < report_with.map_output_pairs,
        "the combiner shrinks the shuffle: {report_with:?}"
    );
}

#[test]
fn pairs_after_combine_are_distinct_keys_per_map_task() {
    let pool = CpuPool::with_threads(2).unwrap();
    let (_, report) = word_count_job()
        .chunk_size(1)
        .combiner(|_word, ones| ones.into_iter().sum())
        .run_with_report(&pool, lines())
        .unwrap();
    let expected: usize = TEXT
        .lines()
        .map(|line| {
            let mut distinct: Vec<&str> = line.split_whitespace().collect();
            distinct.sort_unstable();
            distinct.dedup();
            distinct.len()
        })
        .sum();
    assert_eq!(report.pairs_after_combine, expected as u64);
}

#[test]
fn the_number_of_reducers_is_respected_and_does_not_change_the_result() {
    let pool = CpuPool::with_threads(2).unwrap();
    let expected = sequential_word_count();
    for reducers in [1, 2, 3, 7, 64] {
        for chunk_size in [1, 2, 100] {
            let (out, report) = word_count_job()
                .reducers(reducers)
                .chunk_size(chunk_size)
                .run_with_report(&pool, lines())
                .unwrap();
            assert_eq!(
                out, expected,
                "reducers {reducers}, chunk size {chunk_size}"
            );
            assert_eq!(report.reduce_tasks, reducers);
            assert_eq!(report.map_tasks, 5usize.div_ceil(chunk_size));
        }
    }
}

#[test]
fn default_reducers_and_chunks_follow_the_pool() {
    let pool = CpuPool::with_threads(3).unwrap();
    let (out, report) = MapReduce::new(|x: u32| [(x % 10, x)], |_, xs| xs.len())
        .run_with_report(&pool, 0..1200u32)
        .unwrap();
    assert_eq!(out, (0..10).map(|k| (k, 120)).collect::<Vec<_>>());
    assert_eq!(report.reduce_tasks, 3);
    assert_eq!(report.map_tasks, 12); // about four per worker
}

#[test]
fn reducers_see_values_in_input_order() {
    let pool = CpuPool::with_threads(4).unwrap();
    let out = MapReduce::new(|x: u32| [(x % 3, x)], |_, xs| xs)
        .chunk_size(7)
        .reducers(2)
        .run(&pool, 0..100u32)
        .unwrap();
    for (key, values) in out {
        let expected: Vec<u32> = (0..100).filter(|x| x % 3 == key).collect();
        assert_eq!(values, expected);
    }
}

#[test]
fn the_shorthand_function_runs_the_same_job() {
    let pool = CpuPool::with_threads(2).unwrap();
    let out = map_reduce(&pool, lines(), words, |_, ones| {
        ones.into_iter().sum::<u64>()
    })
    .unwrap();
    assert_eq!(out, sequential_word_count());
}

#[test]
fn a_job_runs_again_and_on_other_pools() {
    let job = word_count_job().combiner(|_, ones| ones.into_iter().sum());
    let first = job
        .run(&CpuPool::with_threads(1).unwrap(), lines())
        .unwrap();
    let second = job
        .clone()
        .run(&CpuPool::with_threads(4).unwrap(), lines())
        .unwrap();
    assert_eq!(first, second);
    assert!(format!("{job:?}").contains("MapReduce"));
}

#[test]
fn a_mapper_panic_is_an_error_naming_the_map_task() {
    let pool = CpuPool::with_threads(2).unwrap();
    let err = MapReduce::new(
        |line: String| {
            if line.contains("barks") {
                panic!("no barking");
            }
            words(line)
        },
        |_, ones: Vec<u64>| ones.len(),
    )
    .chunk_size(1)
    .run(&pool, lines())
    .unwrap_err();
    match &err {
        PatternError::Task(TaskError::Panicked { task, message, .. }) => {
            assert_eq!(task, "map_reduce:map[1]"); // the second line
            assert_eq!(message, "no barking");
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("map_reduce:map[1]") && text.contains("panicked"),
        "{text}"
    );
    // The pool survives.
    assert_eq!(pool.submit(|| 1 + 1).result().unwrap(), 2);
}

#[test]
fn map_and_reduce_tasks_that_panic_once_are_run_again_with_the_same_result() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let pool = CpuPool::with_threads(2).unwrap();
    let (mapper_down, reducer_down) = (
        Arc::new(AtomicBool::new(true)),
        Arc::new(AtomicBool::new(true)),
    );
    let (m, r) = (Arc::clone(&mapper_down), Arc::clone(&reducer_down));
    let flaky = MapReduce::new(
        move |line: String| {
            if line.contains("barks") && m.swap(false, Ordering::SeqCst) {
                panic!("the mapper hiccupped");
            }
            words(line)
        },
        move |word: &String, ones: Vec<u64>| {
            if word == "fox" && r.swap(false, Ordering::SeqCst) {
                panic!("the reducer hiccupped");
            }
            ones.into_iter().sum::<u64>()
        },
    )
    .chunk_size(1)
    .reducers(3);
    let (out, report) = flaky
        .clone()
        .retries(1)
        .run_with_report(&pool, lines())
        .unwrap();
    assert!(!mapper_down.load(Ordering::SeqCst) && !reducer_down.load(Ordering::SeqCst));
    assert_eq!(out, sequential_word_count());
    // The failed attempts counted nothing twice.
    let (_, clean) = word_count_job()
        .chunk_size(1)
        .reducers(3)
        .run_with_report(&pool, lines())
        .unwrap();
    assert_eq!(report, clean);

    // Without retries the first panic is the run's error.
    mapper_down.store(true, Ordering::SeqCst);
    let err = flaky.run(&pool, lines()).unwrap_err();
    assert!(
        matches!(&err, PatternError::Task(TaskError::Panicked { task, .. }) if task == "map_reduce:map[1]"),
        "{err:?}"
    );
}

#[test]
fn reducer_and_combiner_panics_name_their_tasks() {
    let pool = CpuPool::with_threads(2).unwrap();
    let err = MapReduce::new(words, |word: &String, _: Vec<u64>| -> u64 {
        assert_ne!(word, "fox", "foxes are not counted");
        0
    })
    .reducers(1)
    .run(&pool, lines())
    .unwrap_err();
    assert!(
        matches!(&err, PatternError::Task(TaskError::Panicked { task, .. }) if task == "map_reduce:reduce[0]"),
        "{err:?}"
    );
    assert!(err.to_string().contains("foxes are not counted"));

    let err = word_count_job()
        .combiner(|_, _| panic!("combiner down"))
        .chunk_size(5)
        .run(&pool, lines())
        .unwrap_err();
    assert!(
        matches!(&err, PatternError::Task(TaskError::Panicked { task, .. }) if task == "map_reduce:map[0]"),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("combiner down"), "{err}");
}

#[test]
fn map_reduce_configurations_that_cannot_run_are_refused() {
    let pool = CpuPool::with_threads(1).unwrap();
    let zero_reducers = word_count_job().reducers(0).run(&pool, lines());
    assert_eq!(zero_reducers.unwrap_err(), PatternError::ZeroReducers);
    let zero_chunk = word_count_job().chunk_size(0).run(&pool, lines());
    assert_eq!(zero_chunk.unwrap_err(), PatternError::ZeroChunkSize);
}

#[test]
fn an_empty_input_gives_an_empty_result() {
    let pool = CpuPool::with_threads(2).unwrap();
    let (out, report) = word_count_job().run_with_report(&pool, Vec::new()).unwrap();
    assert!(out.is_empty());
    assert_eq!(
        (report.records_in, report.map_tasks, report.keys_out),
        (0, 0, 0)
    );
    assert_eq!(report.reduce_tasks, 2);
}

// ---- scatter-gather -------------------------------------------------------

#[test]
fn scatter_gather_pieces_are_contiguous_nearly_equal_and_in_order() {
    let pool = CpuPool::with_threads(3).unwrap();
    let data: Vec<u32> = (0..103).collect();
    let pieces = scatter_gather(
        &pool,
        data.clone(),
        10,
        |piece: &[u32]| piece.to_vec(),
        |r| r,
    )
    .unwrap();
    assert_eq!(pieces.len(), 10);
    let sizes: Vec<usize> = pieces.iter().map(Vec::len).collect();
    assert_eq!(sizes, [11, 11, 11, 10, 10, 10, 10, 10, 10, 10]);
    assert_eq!(pieces.concat(), data);
}

#[test]
fn scatter_gather_with_more_parts_than_items_runs_empty_parts() {
    let pool = CpuPool::with_threads(2).unwrap();
    let lens = scatter_gather(&pool, vec!['a', 'b', 'c'], 5, |p: &[char]| p.len(), |r| r).unwrap();
    assert_eq!(lens, [1, 1, 1, 0, 0]);
    let empty = scatter_gather(&pool, Vec::<u8>::new(), 2, |p: &[u8]| p.len(), |r| r).unwrap();
    assert_eq!(empty, [0, 0]);
    assert_eq!(split_even(3, 5).len(), 5);
}

#[test]
fn scatter_gather_with_zero_parts_is_an_error() {
    let pool = CpuPool::with_threads(1).unwrap();
    let err = scatter_gather(&pool, vec![1, 2, 3], 0, |p: &[i32]| p.len(), |r| r).unwrap_err();
    assert_eq!(err, PatternError::ZeroParts);
    assert!(err.to_string().contains("at least 1 part"));
    assert!(err.task_error().is_none());
}

#[test]
fn scatter_gather_panics_name_the_part_or_the_gather() {
    let pool = CpuPool::with_threads(2).unwrap();
    let err = scatter_gather(
        &pool,
        (0..40).collect::<Vec<i32>>(),
        4,
        |p: &[i32]| {
            assert!(!p.contains(&25), "25 is cursed");
            p.len()
        },
        |r| r,
    )
    .unwrap_err();
    let task = err.task_error().and_then(TaskError::task);
    assert_eq!(task, Some("scatter_gather:part[2]"));
    assert!(err.to_string().contains("panicked"));

    let err = scatter_gather(
        &pool,
        vec![1, 2],
        2,
        |p: &[i32]| p.len(),
        |_| -> usize { panic!("gather failed") },
    )
    .unwrap_err();
    assert_eq!(
        err.task_error().and_then(TaskError::task),
        Some("scatter_gather:gather")
    );
}

// ---- tree reductions ------------------------------------------------------

/// The number of combining tasks of a tree over `n` leaves: one per group of
/// two or more values, level after level.
fn internal_nodes(mut n: usize, fan_in: usize) -> usize {
    let mut internal = 0;
    while n > 1 {
        internal += n / fan_in + usize::from(n % fan_in >= 2);
        n = n.div_ceil(fan_in);
    }
    internal
}

#[test]
fn a_binary_tree_sums_zero_to_a_hundred_thousand() {
    let n: u64 = 100_000;
    let pool = CpuPool::with_threads(4).unwrap();
    let options = ComputeOptions::new().pool(&pool).progress(false);
    let total = tree_reduce_with(&options, (0..n).collect(), DEFAULT_FAN_IN, |a, b| a + b).unwrap();
    assert_eq!(total, Some(n * (n - 1) / 2));
}

#[test]
fn the_tree_has_one_task_per_leaf_and_per_combination() {
    for (n, fan_in) in [
        (1, 2),
        (2, 2),
        (7, 2),
        (1000, 2),
        (10, 3),
        (1000, 4),
        (17, 16),
    ] {
        let leaves: Vec<Delayed<u64>> = (0..n as u64).map(Delayed::value).collect();
        let root = tree_reduce_delayed(&leaves, fan_in, |a, b| a + b)
            .unwrap()
            .unwrap();
        assert_eq!(
            root.task_count(),
            n + internal_nodes(n, fan_in),
            "{n} leaves, fan-in {fan_in}"
        );
        if fan_in == 2 {
            assert_eq!(root.task_count(), 2 * n - 1);
        }
        assert_eq!(root.compute().unwrap(), (n as u64) * (n as u64 - 1) / 2);
    }
    assert!(tree_reduce_delayed(&[] as &[Delayed<u8>], 2, |a, b| a + b)
        .unwrap()
        .is_none());
}

#[test]
fn a_non_commutative_operation_keeps_the_order() {
    let letters: Vec<String> = ('a'..='z').map(String::from).collect();
    for fan_in in [2, 3, 5, 26, 100] {
        let joined = tree_reduce(letters.clone(), fan_in, |a, b| format!("{a}{b}")).unwrap();
        assert_eq!(
            joined.as_deref(),
            Some("abcdefghijklmnopqrstuvwxyz"),
            "fan-in {fan_in}"
        );
    }
}

#[test]
fn empty_and_single_inputs() {
    assert_eq!(
        tree_reduce(Vec::<i32>::new(), 2, |a, b| a + b).unwrap(),
        None
    );
    assert_eq!(tree_reduce(vec![7], 2, |a, b| a + b).unwrap(), Some(7));
    assert_eq!(
        tree_reduce(vec![1, 2], 1, |a, b| a + b).unwrap_err(),
        PatternError::FanInTooSmall { fan_in: 1 }
    );
}

#[test]
fn a_panicking_operation_names_its_task() {
    let err = tree_reduce((0..16).collect::<Vec<i32>>(), 2, |a, b| {
        assert!(*a != 4, "cannot combine 4");
        a + b
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("tree_reduce[")
            && text.starts_with("cannot combine 4")
            && text.contains("panicked"),
        "{text}"
    );
}

/// A mapper that ends its task with `fail_task` gives the caller its typed
/// error, not a panic with a "non-string payload".
#[test]
fn a_mapper_ending_with_fail_task_reports_the_typed_error() {
    let pool = flotilla::CpuPool::with_threads(2).unwrap();
    let err = flotilla::patterns::MapReduce::new(
        |x: u32| {
            if x == 3 {
                flotilla::fail_task(std::fmt::Error);
            }
            [(x % 2, x)]
        },
        |_, xs: Vec<u32>| xs.len(),
    )
    .run(&pool, 0..10u32)
    .unwrap_err();
    let shown = format!("{err:?}");
    assert!(
        shown.contains("FailedWith") && !shown.contains("non-string"),
        "{shown}"
    );
}
