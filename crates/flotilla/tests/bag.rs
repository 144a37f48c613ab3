//! The Bag collection: every operation against the same computation on a
//! plain `Vec`, over random sizes and partition layouts (empty bags and
//! empty partitions included); text in and out; laziness; errors.

mod common;
use common::TempDir;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use flotilla::bag::{
    read_text, read_text_bytes, read_text_bytes_with, read_text_with, Bag, BagError, TextOptions,
};
use flotilla::core::rng::Rng;
use flotilla::mapreduce::sort::SortOptions;
use flotilla::output::WriteMode;
use flotilla::{ComputeOptions, TaskError};

/// Random partitions: some empty, values small enough to repeat.
fn random_partitions(rng: &mut Rng) -> Vec<Vec<u64>> {
    let parts = rng.below(9); // 0..=8 partitions, 0 = an empty bag
    (0..parts)
        .map(|_| {
            let len = if rng.below(4) == 0 { 0 } else { rng.below(60) };
            (0..len).map(|_| rng.below(40) as u64).collect()
        })
        .collect()
}

/// The case layouts: random ones plus the edge cases.
fn cases() -> Vec<Vec<Vec<u64>>> {
    let mut rng = Rng::seed(0xBA6);
    let mut cases: Vec<Vec<Vec<u64>>> = vec![
        vec![],
        vec![vec![]],
        vec![vec![], vec![], vec![]],
        vec![vec![7]],
        vec![vec![], vec![1, 2, 3], vec![]],
    ];
    cases.extend((0..40).map(|_| random_partitions(&mut rng)));
    cases
}

fn flat(parts: &[Vec<u64>]) -> Vec<u64> {
    parts.iter().flatten().copied().collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn element_wise_operations_match_a_vec() {
    for parts in cases() {
        let items = flat(&parts);
        let bag = Bag::from_partitions(parts.clone());
        assert_eq!(bag.npartitions(), parts.len());
        assert_eq!(bag.compute().unwrap(), items);
        assert_eq!(bag.compute_partitions().unwrap(), parts);

        let mapped: Vec<u64> = items.iter().map(|x| x * 3 + 1).collect();
        assert_eq!(bag.map(|x| x * 3 + 1).compute().unwrap(), mapped);

        let kept: Vec<u64> = items.iter().copied().filter(|x| x % 3 == 0).collect();
        assert_eq!(bag.filter(|x| x % 3 == 0).compute().unwrap(), kept);

        let expanded: Vec<u64> = items.iter().flat_map(|&x| 0..x % 4).collect();
        assert_eq!(bag.flat_map(|x| 0..x % 4).compute().unwrap(), expanded);

        let emitted = bag.flat_map_emit(|x, out| {
            for i in 0..x % 4 {
                out.emit(i);
            }
        });
        assert_eq!(emitted.compute().unwrap(), expanded);
        for n in [0, 1, 5, expanded.len()] {
            assert_eq!(emitted.take(n).unwrap(), expanded[..n.min(expanded.len())]);
        }

        let sums: Vec<u64> = parts.iter().map(|p| p.iter().sum()).collect();
        let per_partition = bag.map_partitions(|xs| vec![xs.iter().sum::<u64>()]);
        assert_eq!(per_partition.compute().unwrap(), sums);

        // A longer fused chain, and the same through persist.
        let chain = bag
            .map(|x| x + 1)
            .filter(|x| x % 2 == 0)
            .flat_map(|x| [x, x * 10])
            .map(|x| x.to_string());
        let expected: Vec<String> = items
            .iter()
            .map(|x| x + 1)
            .filter(|x| x % 2 == 0)
            .flat_map(|x| [x, x * 10])
            .map(|x| x.to_string())
            .collect();
        assert_eq!(chain.compute().unwrap(), expected);
        assert_eq!(chain.persist().unwrap().compute().unwrap(), expected);

        let both = bag.concat(&bag.map(|x| x + 100));
        let mut expected = items.clone();
        expected.extend(items.iter().map(|x| x + 100));
        assert_eq!(both.compute().unwrap(), expected);
        assert_eq!(both.npartitions(), 2 * parts.len());
    }
}

#[test]
fn reductions_match_a_vec() {
    for (case, parts) in cases().into_iter().enumerate() {
        let items = flat(&parts);
        let bag = Bag::from_partitions(parts.clone()).split_every(2 + case % 4);

        assert_eq!(bag.count().compute().unwrap(), items.len() as u64);
        assert_eq!(bag.sum().compute().unwrap(), items.iter().sum::<u64>());
        assert_eq!(bag.min().compute().unwrap(), items.iter().copied().min());
        assert_eq!(bag.max().compute().unwrap(), items.iter().copied().max());
        let squares = bag.fold(0u64, |acc, x| acc + x * x, |a, b| a + b);
        assert_eq!(
            squares.compute().unwrap(),
            items.iter().map(|x| x * x).sum::<u64>()
        );
        // Order-sensitive (associative, not commutative) operations.
        let text: String = items.iter().map(|x| format!("{x},")).collect();
        let folded = bag.fold(String::new(), |s, x| s + &format!("{x},"), |a, b| a + &b);
        assert_eq!(folded.compute().unwrap(), text);
        let reduced = bag.map(|x| format!("{x},")).reduce(|a, b| a + &b);
        assert_eq!(
            reduced.compute().unwrap(),
            (!items.is_empty()).then(|| text.clone())
        );

        let mut counts: HashMap<u64, u64> = HashMap::new();
        for &x in &items {
            *counts.entry(x).or_default() += 1;
        }
        let mut expected: Vec<(u64, u64)> = counts.into_iter().collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(bag.frequencies().compute().unwrap(), expected);

        for k in [0, 1, 3, 10, 1000] {
            let mut desc = items.clone();
            desc.sort_by(|a, b| b.cmp(a));
            desc.truncate(k);
            assert_eq!(bag.top_k(k).compute().unwrap(), desc, "top_k({k})");
            // By a key with many ties: stable, earlier items first.
            let tagged: Vec<(u64, usize)> = items.iter().copied().zip(0..).collect();
            let mut by_key = tagged.clone();
            by_key.sort_by_key(|a| std::cmp::Reverse(a.0 % 7));
            by_key.truncate(k);
            let tagged_bag = Bag::from_partitions(tag_partitions(&parts));
            assert_eq!(
                tagged_bag.top_k_by(k, |(x, _)| x % 7).compute().unwrap(),
                by_key,
                "top_k_by({k})"
            );
        }

        for n in [0, 1, 2, 5, items.len(), items.len() + 3] {
            let expected: Vec<u64> = items.iter().copied().take(n).collect();
            assert_eq!(bag.take(n).unwrap(), expected, "take({n})");
        }
    }
}

/// The partitions with each item paired with its position in the bag.
fn tag_partitions(parts: &[Vec<u64>]) -> Vec<Vec<(u64, usize)>> {
    let mut position = 0;
    parts
        .iter()
        .map(|p| {
            p.iter()
                .map(|&x| {
                    position += 1;
                    (x, position - 1)
                })
                .collect()
        })
        .collect()
}

#[test]
fn shuffles_match_a_vec() {
    for (case, parts) in cases().into_iter().enumerate() {
        let items = flat(&parts);
        let mut bag = Bag::from_partitions(parts.clone());
        if case % 3 == 1 {
            bag = bag.shuffle_partitions(1 + case % 5);
        }

        let expected: Vec<u64> = sorted(
            items
                .iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
        );
        assert_eq!(sorted(bag.distinct().compute().unwrap()), expected);

        // fold_by: the sum and the count per key.
        let mut per_key: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for &x in &items {
            let e = per_key.entry(x % 5).or_default();
            e.0 += x;
            e.1 += 1;
        }
        let folded = bag.fold_by(
            |x| x % 5,
            (0u64, 0u64),
            |(s, n), x| (s + x, n + 1),
            |a, b| (a.0 + b.0, a.1 + b.1),
        );
        assert_eq!(
            sorted(folded.compute().unwrap()),
            per_key.into_iter().collect::<Vec<_>>()
        );

        // group_by: items of a key in bag order; spilling after a few records.
        let mut groups: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for &x in &items {
            groups.entry(x % 6).or_default().push(x);
        }
        let expected: Vec<(u64, Vec<u64>)> = groups.into_iter().collect();
        let grouped = bag.group_by(|x| x % 6);
        assert_eq!(sorted(grouped.compute().unwrap()), expected);
        let spilled = bag
            .clone()
            .sort_options(SortOptions::new().budget_bytes(200))
            .group_by(|x| x % 6);
        assert_eq!(sorted(spilled.compute().unwrap()), expected);
        // Every output partition is sorted by key.
        for part in grouped.compute_partitions().unwrap() {
            assert!(part.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }
}

#[test]
fn joins_match_a_nested_loop() {
    let all = cases();
    for (case, left_parts) in all.iter().enumerate() {
        let right_parts = &all[(case * 7 + 3) % all.len()];
        let left = Bag::from_partitions(left_parts.clone()).map(|x| (x, format!("l{x}")));
        let right = Bag::from_partitions(right_parts.clone()).map(|x| (x * 2, x));
        let left_items: Vec<(u64, String)> = flat(left_parts)
            .into_iter()
            .map(|x| (x, format!("l{x}")))
            .collect();
        let right_items: Vec<(u64, u64)> =
            flat(right_parts).into_iter().map(|x| (x * 2, x)).collect();

        let mut expected = Vec::new();
        for a in &left_items {
            for b in &right_items {
                if a.0 % 9 == b.0 % 9 {
                    expected.push((a.clone(), *b));
                }
            }
        }
        let joined = left.join(&right, |a| a.0 % 9, |b| b.0 % 9);
        assert_eq!(sorted(joined.compute().unwrap()), sorted(expected));

        // A small lookup table, broadcast.
        let table: HashMap<u64, String> = (0..20).map(|k| (k, format!("v{k}"))).collect();
        let expected: Vec<((u64, String), String)> = left_items
            .iter()
            .filter_map(|a| table.get(&a.0).map(|v| (a.clone(), v.clone())))
            .collect();
        assert_eq!(
            left.join_lookup(&table, |a| a.0).compute().unwrap(),
            expected
        );
    }
}

#[test]
fn from_iter_and_range_partition_evenly() {
    for n in [0u64, 1, 5, 17, 100] {
        for partitions in [0usize, 1, 3, 8] {
            let range = Bag::range(n, partitions);
            assert_eq!(range.npartitions(), partitions.max(1));
            assert_eq!(range.compute().unwrap(), (0..n).collect::<Vec<_>>());
            let from_iter = Bag::from_iter(0..n, partitions);
            assert_eq!(from_iter.compute().unwrap(), (0..n).collect::<Vec<_>>());
            let lengths: Vec<usize> = from_iter
                .compute_partitions()
                .unwrap()
                .iter()
                .map(Vec::len)
                .collect();
            let (lo, hi) = (lengths.iter().min(), lengths.iter().max());
            assert!(hi.unwrap() - lo.unwrap() <= 1, "{lengths:?}");
        }
    }
}

/// A text of random words over lines of random length, with blank lines,
/// runs of spaces, tabs and CRLF endings.
fn random_text(rng: &mut Rng, lines: usize) -> String {
    let words = [
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "mat",
        "été",
        "naïve",
        "x",
        "longerword",
    ];
    let mut text = String::new();
    for i in 0..lines {
        for j in 0..rng.below(12) {
            if j > 0 {
                text.push_str(["  ", " ", "\t", " "][rng.below(4)]);
            }
            text.push_str(words[rng.below(words.len())]);
        }
        text.push_str(if i % 7 == 3 { "\r\n" } else { "\n" });
    }
    text.push_str("last line without newline");
    text
}

#[test]
fn read_text_splits_its_input_by_default_as_jobs_do() {
    let dir = TempDir::new("read-text-default");
    let mut rng = Rng::seed(7);
    let file = dir.path().join("words.txt");
    let mut text = String::new();
    while text.len() < 3 << 20 {
        text.push_str(&random_text(&mut rng, 1000));
        text.push('\n');
    }
    fs::write(&file, &text).unwrap();
    let total = text.len() as u64;
    // About four splits per thread, each of 1 to 64 MiB.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let split_bytes = total.div_ceil(4 * threads).clamp(1 << 20, 64 << 20);
    let bag = read_text(&[file.to_str().unwrap()]).unwrap();
    assert_eq!(bag.npartitions() as u64, total.div_ceil(split_bytes));
    assert!(bag.npartitions() >= 3, "{} partitions", bag.npartitions());
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(bag.count().compute().unwrap(), lines.len() as u64);
    let bytes = read_text_bytes(&[file.to_str().unwrap()]).unwrap();
    assert_eq!(bytes.npartitions(), bag.npartitions());
    // A small input is one partition; the option still sets the size.
    let small = dir.path().join("small.txt");
    fs::write(&small, "a\nb\nc\n").unwrap();
    assert_eq!(
        read_text(&[small.to_str().unwrap()]).unwrap().npartitions(),
        1
    );
    let tiny = read_text_with(
        &[small.to_str().unwrap()],
        TextOptions::new().split_bytes(2),
    );
    assert_eq!(tiny.unwrap().npartitions(), 3);
}

#[test]
fn read_text_of_many_splits_equals_the_lines() {
    let dir = TempDir::new("read-text");
    let mut rng = Rng::seed(42);
    let file = dir.path().join("words.txt");
    let text = random_text(&mut rng, 500);
    fs::write(&file, &text).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for split_bytes in [1, 7, 97, 1000, 1 << 20] {
        let bag = read_text_with(
            &[file.to_str().unwrap()],
            TextOptions::new().split_bytes(split_bytes),
        )
        .unwrap();
        assert_eq!(
            bag.npartitions() as u64,
            (text.len() as u64).div_ceil(split_bytes)
        );
        assert_eq!(bag.compute().unwrap(), lines, "split_bytes {split_bytes}");
        let bytes = read_text_bytes_with(
            &[file.to_str().unwrap()],
            TextOptions::new().split_bytes(split_bytes),
        )
        .unwrap();
        let expected: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
        assert_eq!(bytes.compute().unwrap(), expected);
        assert_eq!(bag.take(3).unwrap(), lines[..3]);
    }
}

#[test]
fn word_count_equals_a_hash_map_count() {
    let dir = TempDir::new("wordcount");
    let mut rng = Rng::seed(7);
    for i in 0..3 {
        fs::write(
            dir.path().join(format!("part-{i}.txt")),
            random_text(&mut rng, 300),
        )
        .unwrap();
    }
    let mut expected: HashMap<String, u64> = HashMap::new();
    for i in 0..3 {
        let text = fs::read_to_string(dir.path().join(format!("part-{i}.txt"))).unwrap();
        for word in text.split_whitespace() {
            *expected.entry(word.to_owned()).or_default() += 1;
        }
    }
    let mut expected: Vec<(String, u64)> = expected.into_iter().collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let pattern = format!("{}/part-*.txt", dir.path().display());
    let words = read_text_with(&[pattern.as_str()], TextOptions::new().split_bytes(300))
        .unwrap()
        .flat_map(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
    assert!(words.npartitions() > 10);
    assert_eq!(words.frequencies().compute().unwrap(), expected);
    // The same count as a shuffle.
    let by_fold = words.fold_by(|w| w.clone(), 0u64, |n, _| n + 1, |a, b| a + b);
    let mut by_fold = by_fold.compute().unwrap();
    by_fold.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    assert_eq!(by_fold, expected);
}

#[test]
fn invalid_utf8_names_the_file_the_line_and_the_bytes_reader() {
    let dir = TempDir::new("utf8");
    let file = dir.path().join("bad.txt");
    fs::write(&file, b"fine\nalso fine\nab\xffcd\nmore\n").unwrap();
    let bag = read_text_with(&[file.to_str().unwrap()], TextOptions::new().split_bytes(4)).unwrap();
    let err = bag.count().compute().unwrap_err();
    match &err {
        BagError::NotUtf8 { path, line, offset } => {
            assert_eq!(path, &file);
            assert_eq!((*line, *offset), (3, 17));
        }
        other => panic!("unexpected {other}"),
    }
    let message = err.to_string();
    assert!(message.contains("bad.txt"), "{message}");
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("byte offset 17"), "{message}");
    assert!(message.contains("read_text_bytes"), "{message}");
    // The bytes reader takes any line.
    let bytes =
        read_text_bytes_with(&[file.to_str().unwrap()], TextOptions::new().split_bytes(4)).unwrap();
    assert_eq!(bytes.count().compute().unwrap(), 4);
    // A missing input is an error when the bag is built.
    let missing = dir.path().join("missing.txt");
    assert!(matches!(
        read_text(&[missing.to_str().unwrap()]),
        Err(BagError::Input(_))
    ));
}

#[test]
fn the_first_failed_partition_in_order_is_reported() {
    let dir = TempDir::new("two-errors");
    let file = dir.path().join("bad.txt");
    let mut text = Vec::new();
    for i in 0..200 {
        text.extend_from_slice(format!("line {i}\n").as_bytes());
        if i == 120 || i == 40 {
            text.extend_from_slice(b"bad \xff byte\n");
        }
    }
    fs::write(&file, &text).unwrap();
    let first_bad = text.iter().position(|&b| b == 0xff).unwrap() as u64;
    let bag = read_text_with(
        &[file.to_str().unwrap()],
        TextOptions::new().split_bytes(64),
    )
    .unwrap()
    .split_every(2);
    assert!(bag.npartitions() > 20);
    for _ in 0..5 {
        for err in [
            bag.count().compute().unwrap_err(),
            bag.compute().unwrap_err(),
            bag.group_by(|l| l.len()).compute().unwrap_err(),
        ] {
            assert!(
                err.to_string()
                    .contains(&format!("byte offset {first_bad}")),
                "{err}"
            );
        }
    }
}

#[test]
fn building_a_bag_runs_nothing() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let bag = Bag::range(100, 4).map(move |x| {
        seen.fetch_add(1, Ordering::SeqCst);
        x
    });
    let chain = bag.filter(|x| x % 2 == 0).flat_map(|x| [x, x]);
    let count = chain.count();
    let _frequencies = chain.frequencies();
    let _top = chain.top_k(3);
    let grouped = chain.group_by(|x| x % 3);
    let folded = chain.fold_by(|x| x % 3, 0u64, |a, x| a + x, |a, b| a + b);
    let joined = grouped.join(&folded, |g| g.0, |f| f.0);
    let _ = joined.to_dot();
    let _ = count.to_dot();
    assert_eq!(calls.load(Ordering::SeqCst), 0, "building ran user code");

    assert_eq!(count.compute().unwrap(), 100);
    assert_eq!(calls.load(Ordering::SeqCst), 100);
    // Each computation runs the pipeline anew.
    assert_eq!(joined.count().compute().unwrap(), 3);
    assert_eq!(calls.load(Ordering::SeqCst), 300);
}

#[test]
fn take_computes_only_the_partitions_it_needs() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let bag = Bag::from_partitions(vec![vec![1, 2, 3], vec![4, 5], vec![6]]).map(move |x| {
        seen.fetch_add(1, Ordering::SeqCst);
        if x >= 4 {
            panic!("partition computed although take did not need it");
        }
        x
    });
    assert_eq!(bag.take(2).unwrap(), [1, 2]);
    // The first partition's pipeline stopped after two items.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(bag.take(3).unwrap(), [1, 2, 3]);
    assert!(matches!(bag.take(4), Err(BagError::Task(_))));
    // Empty partitions first are skipped over.
    let late = Bag::from_partitions(vec![vec![], vec![], vec![9, 8]]);
    assert_eq!(late.take(1).unwrap(), [9]);
}

#[test]
fn a_panic_in_map_names_the_task() {
    let bag = Bag::range(100, 4).map(|x| {
        if x == 57 {
            panic!("boom at 57");
        }
        x
    });
    let err = bag.compute().unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, BagError::Task(_)), "{err:?}");
    assert!(message.contains("range|map|collect"), "{message}");
    assert!(message.contains("[2]"), "{message}");
    assert!(message.contains("boom at 57"), "{message}");

    let err = bag.sum().compute().unwrap_err();
    match &err {
        BagError::Task(TaskError::Panicked { task, message, .. })
        | BagError::Task(TaskError::DependencyFailed {
            dependency: task,
            cause: message,
            ..
        }) => {
            assert!(task.contains("range|map|sum"), "{task}");
            assert!(task.ends_with("[2]"), "{task}");
            assert!(message.contains("boom at 57"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn tree_reductions_use_several_levels() {
    let bag = Bag::range(10_000, 100);
    let count = bag.count();
    assert_eq!(count.compute().unwrap(), 10_000);
    // 100 sources, 100 partial counts, then 13 + 2 + 1 combining tasks.
    assert_eq!(count.task_count(), 216);
    let dot = count.to_dot();
    let combine_to_combine = dot
        .lines()
        .filter(|l| l.contains("->"))
        .filter(|l| l.matches("count-combine").count() == 2)
        .count();
    assert_eq!(combine_to_combine, 13 + 2, "{dot}");
    // A binary tree over the same partials: 99 combining tasks.
    assert_eq!(bag.split_every(2).count().task_count(), 100 + 100 + 99);
}

#[test]
fn fused_operations_add_no_tasks() {
    let bag = Bag::range(1000, 5);
    let chain = bag
        .map(|x| x + 1)
        .filter(|x| x % 3 != 0)
        .flat_map(|x| [x, x])
        .map_partitions(|xs| xs.into_iter().rev());
    assert_eq!(bag.task_count(), chain.task_count());
    assert_eq!(chain.task_count(), 5 + 5 + 1);
}

#[test]
fn to_textfiles_writes_parts_then_success() {
    let dir = TempDir::new("to-text");
    let out = dir.path().join("out");
    let bag = Bag::from_partitions(vec![vec![1, 2], vec![], vec![3]]);
    let parts = bag.to_textfiles(&out).unwrap();
    let names: Vec<String> = parts
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["part-00000", "part-00001", "part-00002"]);
    assert_eq!(fs::read_to_string(&parts[0]).unwrap(), "1\n2\n");
    assert_eq!(fs::read_to_string(&parts[1]).unwrap(), "");
    assert!(out.join("_SUCCESS").exists());
    let back = read_text(&[out.to_str().unwrap()]).unwrap();
    assert_eq!(back.compute().unwrap(), ["1", "2", "3"]);

    // A folder that is not empty is refused; rewritten when asked, with
    // fewer partitions: the stale part is gone.
    let err = Bag::range(4, 2).to_textfiles(&out).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    let overwrite =
        |bag: &Bag<u64>| bag.to_textfiles_with(&out, WriteMode::Overwrite, &ComputeOptions::new());
    overwrite(&Bag::range(4, 2)).unwrap();
    let listing = || {
        let mut names: Vec<String> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(listing(), ["_SUCCESS", "part-00000", "part-00001"]);

    // A failed write leaves the previous output as it was.
    let failing = Bag::range(40, 4).map(|x| {
        if x == 25 {
            panic!("cannot format {x}");
        }
        x
    });
    let err = overwrite(&failing).unwrap_err();
    assert!(err.to_string().contains("cannot format 25"), "{err}");
    assert_eq!(listing(), ["_SUCCESS", "part-00000", "part-00001"]);
    assert_eq!(
        fs::read_to_string(out.join("part-00000")).unwrap(),
        "0\n1\n"
    );
}

#[test]
fn group_by_spills_and_merges_strings() {
    let mut rng = Rng::seed(99);
    let words: Vec<String> = (0..5000).map(|_| format!("w{}", rng.below(300))).collect();
    let bag = Bag::from_iter(words.clone(), 7)
        .sort_options(SortOptions::new().budget_bytes(4096))
        .shuffle_partitions(3);
    let groups = bag.group_by(|w| w.len()).compute().unwrap();
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for w in &words {
        expected.entry(w.len()).or_default().push(w.clone());
    }
    assert_eq!(sorted(groups), expected.into_iter().collect::<Vec<_>>());
}

/// A switch that is on once: the first `fire()` says true, every later one
/// false.
#[derive(Clone)]
struct Once(Arc<std::sync::atomic::AtomicBool>);

impl Once {
    fn new() -> Once {
        Once(Arc::new(std::sync::atomic::AtomicBool::new(true)))
    }
    fn fire(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }
}

#[test]
fn tasks_that_fail_their_first_attempt_give_the_clean_result_with_retries() {
    let pool = flotilla::CpuPool::with_threads(2).unwrap();
    let options = ComputeOptions::new().pool(&pool).progress(false);
    let expected: u64 = (0..1000u64).map(|x| 2 * x).sum();
    let flaky = |map_down: Once, combine_down: Once| {
        Bag::range(1000, 8)
            .map(move |x| {
                assert!(!(x == 500 && map_down.fire()), "the mapper hiccupped");
                x * 2
            })
            .fold(
                0u64,
                |a, x| a + x,
                move |a, b| {
                    assert!(!combine_down.fire(), "the combiner hiccupped");
                    a + b
                },
            )
    };
    // Without retries the first failure is the computation's.
    let err = flaky(Once::new(), Once::new())
        .compute_with(&options)
        .unwrap_err();
    assert!(err.to_string().contains("hiccupped"), "{err}");
    // With one retry per task: the same result as a clean run. The combining
    // task's retry gets its inputs (handed to its first try) computed again.
    let total = flaky(Once::new(), Once::new())
        .compute_with(&options.clone().retries(1))
        .unwrap();
    assert_eq!(total, expected);

    // A shuffle whose map side fails once.
    let down = Once::new();
    let per_key = Bag::range(1000, 8)
        .map(move |x| {
            assert!(!(x == 900 && down.fire()), "the mapper hiccupped");
            x
        })
        .fold_by(|x| x % 7, 0u64, |a, x| a + x, |a, b| a + b);
    let mut got = per_key.compute_with(&options.clone().retries(1)).unwrap();
    got.sort();
    let mut want: BTreeMap<u64, u64> = BTreeMap::new();
    for x in 0..1000u64 {
        *want.entry(x % 7).or_default() += x;
    }
    let want: Vec<(u64, u64)> = want.into_iter().collect();
    assert_eq!(got, want);

    // A shuffle whose reduce side fails once, after it took its buckets of
    // every map task's output: the map tasks are computed again for it.
    let down = Once::new();
    let per_key = Bag::range(1000, 8).fold_by(
        |x| x % 7,
        0u64,
        |a, x| a + x,
        move |a, b| {
            assert!(!down.fire(), "the reducer hiccupped");
            a + b
        },
    );
    let mut got = per_key.compute_with(&options.clone().retries(1)).unwrap();
    got.sort();
    assert_eq!(got, want);
}

/// A spill that cannot be written is an error of the machine, not of the
/// data: it fails the task, which is retried (and succeeds once the spill
/// folder can be made), and without retries it comes back as the bag's own
/// typed error naming the folder.
#[test]
fn a_spill_that_fails_is_a_task_failure_retried_and_reported_typed() {
    let pool = flotilla::CpuPool::with_threads(2).unwrap();
    let options = ComputeOptions::new().pool(&pool).progress(false);
    let dir = TempDir::new("spill-fails");
    let blocked = dir.path().join("spills");
    // A file where the spill folder should be: creating it fails.
    let group = |fix_on_second_pass: bool| {
        fs::write(&blocked, b"in the way").unwrap();
        let passes = Arc::new(AtomicUsize::new(0));
        let path = blocked.clone();
        Bag::from_iter(0..2_000u64, 1)
            .map(move |x| {
                if x == 0 && passes.fetch_add(1, Ordering::SeqCst) == 1 && fix_on_second_pass {
                    fs::remove_file(&path).unwrap();
                }
                x
            })
            .sort_options(SortOptions::new().budget_bytes(4 << 10).spill_dir(&blocked))
            .group_by(|x| x % 3)
    };

    let err = group(false).compute_with(&options).unwrap_err();
    assert!(
        matches!(&err, BagError::Spill(e) if e.to_string().contains("spills")),
        "{err:?}"
    );

    let mut groups = group(true)
        .compute_with(&options.clone().retries(1))
        .unwrap();
    groups.sort();
    assert_eq!(groups.len(), 3);
    assert_eq!(groups.iter().map(|(_, v)| v.len()).sum::<usize>(), 2_000);
}

/// A checkpointed bag over files: run again it reads its partitions back
/// and runs nothing before them; a changed file computes its own
/// partitions again, the others are read; a new version computes all.
#[test]
fn a_checkpointed_bag_computes_only_the_partitions_it_does_not_find() {
    let dir = TempDir::new("bag-checkpoint");
    let files: Vec<String> = (0..3)
        .map(|f| {
            let path = dir.join(&format!("in-{f}.txt"));
            let text: String = (0..200).map(|l| format!("{}\n", f * 1000 + l)).collect();
            fs::write(&path, text).unwrap();
            path.to_string_lossy().into_owned()
        })
        .collect();
    let inputs: Vec<&str> = files.iter().map(String::as_str).collect();
    let parsed = Arc::new(AtomicUsize::new(0));
    let run = |version: &str| {
        let checkpoint = flotilla::Checkpoint::open(dir.join("checkpoint")).unwrap();
        let counter = Arc::clone(&parsed);
        let numbers = read_text(&inputs)
            .unwrap()
            .version(version)
            .map(move |line| {
                counter.fetch_add(1, Ordering::Relaxed);
                line.trim().parse::<u64>().unwrap()
            })
            .checkpoint(&checkpoint);
        let sum = numbers.filter(|n| n % 2 == 0).sum().compute().unwrap();
        let lines = parsed.swap(0, Ordering::Relaxed);
        (sum, lines, checkpoint.computed(), checkpoint.loaded())
    };
    let expected = |files: &[&str]| -> u64 {
        files
            .iter()
            .flat_map(|f| {
                fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .map(|l| l.parse::<u64>().unwrap())
                    .collect::<Vec<_>>()
            })
            .filter(|n| n % 2 == 0)
            .sum()
    };
    let (sum, lines, computed, loaded) = run("1");
    assert_eq!(sum, expected(&inputs));
    assert_eq!((lines, loaded), (600, 0));
    let partitions = computed;
    assert!(partitions >= 3);
    // Run again: no line is parsed.
    assert_eq!(run("1"), (expected(&inputs), 0, 0, partitions));
    // The second file grows by a line: only its partitions are computed.
    let mut grown = fs::read_to_string(inputs[1]).unwrap();
    grown.push_str("4242\n");
    fs::write(inputs[1], grown).unwrap();
    let (sum, lines, computed, loaded) = run("1");
    assert_eq!(sum, expected(&inputs));
    assert_eq!(lines, 201);
    assert_eq!(computed + loaded, partitions);
    assert!(computed >= 1 && computed < partitions);
    // A new version computes everything.
    let (sum, lines, computed, _) = run("2");
    assert_eq!((sum, lines, computed), (expected(&inputs), 601, partitions));
}
