//! The external sort under the MapReduce shuffle, as a map task and a
//! reducer use it: spilling under a budget, stability, the combiner, merging
//! several producers, secondary sort, cleanup, corrupt files, and the memory
//! bound.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use flotilla::mapreduce::sort::{
    merge_runs, merge_runs_with, ApproxSize, PartitionedSortBuffer, SortBuffer, SortOptions,
    SortedRun, SpillError, RECORD_OVERHEAD,
};

/// A unique directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "flotilla-external-sort-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn file_count(&self) -> usize {
        fs::read_dir(&self.0)
            .map(|entries| entries.count())
            .unwrap_or(0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// splitmix64: a small deterministic generator, enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_records(count: usize, distinct_keys: u64, seed: u64) -> Vec<(String, u64)> {
    let mut rng = Rng(seed);
    (0..count as u64)
        .map(|i| (format!("key-{:x}", rng.below(distinct_keys)), i))
        .collect()
}

fn stable_sorted<K: Ord + Clone, V: Clone>(records: &[(K, V)]) -> Vec<(K, V)> {
    let mut sorted = records.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
}

fn sort_all(
    records: &[(String, u64)],
    options: SortOptions,
) -> (Vec<(String, u64)>, flotilla::mapreduce::sort::SortStats) {
    let mut sorter = SortBuffer::new(options);
    for (key, value) in records {
        sorter.push(key.clone(), *value).unwrap();
    }
    let sorted = sorter.finish().unwrap();
    let stats = *sorted.stats();
    (sorted.collect::<Result<Vec<_>, _>>().unwrap(), stats)
}

#[test]
fn a_tiny_budget_spills_many_runs_and_sorts_like_std() {
    let dir = TempDir::new("tiny");
    let records = random_records(200_000, 50_000, 1);
    let expected = stable_sorted(&records);

    let (sorted, stats) = sort_all(
        &records,
        SortOptions::new()
            .budget_bytes(64 << 10)
            .spill_dir(dir.path()),
    );
    assert_eq!(sorted, expected);
    assert_eq!(stats.records_in, 200_000);
    assert_eq!(
        stats.records_spilled,
        200_000 - (stats.records_in - stats.records_spilled)
    );
    assert!(
        stats.runs_spilled > 64,
        "a 64 KiB budget spills many runs: {stats:?}"
    );
    assert!(stats.bytes_spilled > 1 << 20, "{stats:?}");
    assert!(
        stats.intermediate_runs > 0,
        "more runs than the fan-in need a pass: {stats:?}"
    );
    assert!(stats.peak_buffer_bytes <= (64 << 10) + 64, "{stats:?}");
    assert_eq!(
        dir.file_count(),
        0,
        "every spill file is gone after the merge"
    );

    let (in_memory, stats) = sort_all(
        &records,
        SortOptions::new()
            .budget_bytes(1 << 30)
            .spill_dir(dir.path()),
    );
    assert_eq!(in_memory, expected);
    assert_eq!(
        (
            stats.runs_spilled,
            stats.bytes_spilled,
            stats.records_spilled
        ),
        (0, 0, 0)
    );
    assert_eq!(stats.records_in, 200_000);
    assert_eq!(dir.file_count(), 0);
}

#[test]
fn equal_keys_keep_insertion_order_across_runs() {
    let dir = TempDir::new("stable");
    let mut sorter = SortBuffer::new(SortOptions::new().spill_dir(dir.path()));
    let mut pushed = Vec::new();
    for i in 0..1000u32 {
        let key = (i % 3) as u8;
        sorter.push(key, i).unwrap();
        pushed.push((key, i));
        if i % 97 == 0 {
            sorter.spill().unwrap(); // runs of uneven lengths
        }
    }
    assert!(sorter.stats().runs_spilled > 5);
    let sorted: Vec<(u8, u32)> = sorter.finish().unwrap().map(Result::unwrap).collect();
    assert_eq!(sorted, stable_sorted(&pushed));
    for key in 0..3u8 {
        let values: Vec<u32> = sorted.iter().filter(|r| r.0 == key).map(|r| r.1).collect();
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "key {key} lost its push order"
        );
    }
}

/// Words with a skewed distribution over a vocabulary, as in a text.
fn words(count: usize, vocabulary: u64, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|_| {
            let a = rng.below(vocabulary);
            let b = rng.below(vocabulary);
            format!("w{}", a.min(b))
        })
        .collect()
}

fn word_count(
    words: &[String],
    options: SortOptions,
    combine: bool,
) -> (Vec<(String, u64)>, u64, u64) {
    let mut sorter = SortBuffer::new(options);
    if combine {
        sorter = sorter.with_combiner(|a, b| a + b);
    }
    for word in words {
        sorter.push(word.clone(), 1u64).unwrap();
    }
    let sorted = sorter.finish().unwrap();
    let stats = *sorted.stats();
    let counts = sorted
        .group_by_key()
        .map(|group| group.map(|(word, counts)| (word, counts.iter().sum())))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (counts, stats.bytes_spilled, stats.records_combined)
}

#[test]
fn the_combiner_shrinks_what_is_spilled_and_keeps_the_result() {
    let dir = TempDir::new("combiner");
    let text = words(100_000, 2_000, 7);
    let options = SortOptions::new()
        .budget_bytes(32 << 10)
        .spill_dir(dir.path());

    let (plain, plain_bytes, plain_combined) = word_count(&text, options.clone(), false);
    let (combined, combined_bytes, folded) = word_count(&text, options, true);
    assert!(plain_bytes > 0);
    assert!(
        combined_bytes > 0,
        "the combining buffer still has to spill"
    );
    assert_eq!(plain_combined, 0);
    assert!(folded > 0);
    assert!(
        combined_bytes < plain_bytes,
        "combined {combined_bytes} bytes spilled vs {plain_bytes} without"
    );
    assert_eq!(combined, plain);

    let mut expected: HashMap<&str, u64> = HashMap::new();
    for word in &text {
        *expected.entry(word).or_default() += 1;
    }
    assert_eq!(combined.len(), expected.len());
    for (word, count) in &combined {
        assert_eq!(expected[word.as_str()], *count, "{word}");
    }
    assert_eq!(dir.file_count(), 0);
}

#[test]
fn a_combiner_that_fits_after_folding_never_spills() {
    let dir = TempDir::new("fold-fits");
    let text = words(50_000, 20, 3);
    let (counts, bytes, folded) = word_count(
        &text,
        SortOptions::new()
            .budget_bytes(8 << 10)
            .spill_dir(dir.path()),
        true,
    );
    assert_eq!(bytes, 0);
    assert!(folded > 49_000);
    assert_eq!(counts.iter().map(|c| c.1).sum::<u64>(), 50_000);
}

#[test]
fn reducers_merge_the_runs_of_several_map_tasks() {
    let dir = TempDir::new("producers");
    const MAPS: usize = 4;
    const REDUCERS: usize = 3;
    // Map task t pushes (key, (t, seq)); budgets differ so that some tasks
    // spill many runs and one keeps everything in memory.
    let budgets = [4 << 10, 1 << 30, 16 << 10, 2 << 10];
    let inputs: Vec<Vec<(u32, (u32, u32))>> = (0..MAPS)
        .map(|t| {
            let mut rng = Rng(100 + t as u64);
            (0..5_000)
                .map(|seq| (rng.below(500) as u32, (t as u32, seq)))
                .collect()
        })
        .collect();
    let partition_of = |key: u32| (key as usize * 7) % REDUCERS;

    let outputs: Vec<_> = std::thread::scope(|scope| {
        let tasks: Vec<_> = inputs
            .iter()
            .zip(budgets)
            .map(|(input, budget)| {
                let options = SortOptions::new()
                    .budget_bytes(budget)
                    .spill_dir(dir.path());
                scope.spawn(move || {
                    let mut buffer = PartitionedSortBuffer::new(REDUCERS, options);
                    for &(key, value) in input {
                        buffer.push(partition_of(key), key, value).unwrap();
                    }
                    buffer.finish().unwrap()
                })
            })
            .collect();
        tasks.into_iter().map(|task| task.join().unwrap()).collect()
    });
    assert!(outputs[0].stats().runs_spilled > 1);
    assert_eq!(outputs[1].stats().runs_spilled, 0);

    let mut per_reducer: Vec<Vec<SortedRun<u32, (u32, u32)>>> =
        (0..REDUCERS).map(|_| Vec::new()).collect();
    for mut output in outputs {
        for (reducer, runs) in per_reducer.iter_mut().enumerate() {
            runs.extend(output.take_partition(reducer));
        }
    }
    let kinds: Vec<bool> = per_reducer[0].iter().map(SortedRun::is_spilled).collect();
    assert!(
        kinds.contains(&true) && kinds.contains(&false),
        "a mix of spilled and in-memory runs"
    );

    let all: Vec<(u32, (u32, u32))> = inputs.concat();
    for (reducer, runs) in per_reducer.into_iter().enumerate() {
        let merged: Vec<_> = std::thread::spawn(move || {
            merge_runs(runs)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        })
        .join()
        .unwrap();
        let mine: Vec<_> = all
            .iter()
            .copied()
            .filter(|r| partition_of(r.0) == reducer)
            .collect();
        assert_eq!(merged, stable_sorted(&mine), "reducer {reducer}");
    }
    assert_eq!(dir.file_count(), 0);
}

#[test]
fn a_small_fan_in_merges_in_passes_and_keeps_order() {
    let dir = TempDir::new("fan-in");
    let options = SortOptions::new()
        .budget_bytes(1 << 10)
        .merge_fan_in(3)
        .spill_dir(dir.path());
    let records = random_records(5_000, 300, 11);
    let (sorted, stats) = sort_all(&records, options);
    assert!(stats.intermediate_runs > 0 && stats.intermediate_bytes > 0);
    assert_eq!(sorted, stable_sorted(&records));
    assert_eq!(dir.file_count(), 0);
}

#[test]
fn secondary_sort_orders_values_within_each_key() {
    let dir = TempDir::new("secondary");
    let mut rng = Rng(5);
    let records: Vec<(u16, i64)> = (0..20_000)
        .map(|_| (rng.below(100) as u16, rng.below(1_000) as i64 - 500))
        .collect();
    let options = SortOptions::new()
        .budget_bytes(8 << 10)
        .spill_dir(dir.path());

    let mut sorter = SortBuffer::new(options.clone());
    for &(k, v) in &records {
        sorter.push(k, v).unwrap();
    }
    let groups: Vec<(u16, Vec<i64>)> = sorter
        .finish()
        .unwrap()
        .group_by_key()
        .sort_values()
        .map(Result::unwrap)
        .collect();
    let mut expected = records.clone();
    expected.sort();
    let flat: Vec<(u16, i64)> = groups
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| (*k, *v)))
        .collect();
    assert_eq!(flat, expected);
    assert_eq!(groups.len(), 100);

    let mut sorter = SortBuffer::new(options);
    for &(k, v) in &records {
        sorter.push(k, v).unwrap();
    }
    for group in sorter
        .finish()
        .unwrap()
        .group_by_key()
        .sort_values_by(|a: &i64, b: &i64| b.cmp(a))
    {
        let (_, values) = group.unwrap();
        assert!(values.windows(2).all(|w| w[0] >= w[1]));
    }
    assert_eq!(dir.file_count(), 0);
}

#[test]
fn streaming_groups_match_vec_groups() {
    let records = random_records(30_000, 1_000, 9);
    let options = SortOptions::new().budget_bytes(16 << 10);
    let mut a = SortBuffer::new(options.clone());
    let mut b = SortBuffer::new(options);
    for (k, v) in &records {
        a.push(k.clone(), *v).unwrap();
        b.push(k.clone(), *v).unwrap();
    }
    let grouped: Vec<(String, Vec<u64>)> = a
        .finish()
        .unwrap()
        .group_by_key()
        .map(Result::unwrap)
        .collect();
    let mut streamed = Vec::new();
    let mut records = b.finish().unwrap();
    while let Some(group) = records.next_group().unwrap() {
        let key = group.key().clone();
        let values = group.collect::<Result<Vec<u64>, _>>().unwrap();
        streamed.push((key, values));
    }
    assert_eq!(streamed, grouped);
}

#[test]
fn spill_files_are_deleted_after_finishing_and_after_early_drops() {
    let dir = TempDir::new("cleanup");
    let options = SortOptions::new()
        .budget_bytes(4 << 10)
        .spill_dir(dir.path());
    let records = random_records(20_000, 1_000, 2);

    // Finished and fully read.
    let (_, stats) = sort_all(&records, options.clone());
    assert!(stats.runs_spilled > 1);
    assert_eq!(dir.file_count(), 0);

    // An unfinished merge dropped after a few records.
    let mut sorter = SortBuffer::new(options.clone());
    for (k, v) in &records {
        sorter.push(k.clone(), *v).unwrap();
    }
    assert!(dir.file_count() > 1);
    let mut merge = sorter.finish().unwrap();
    for _ in 0..10 {
        merge.next().unwrap().unwrap();
    }
    assert!(dir.file_count() > 0);
    drop(merge);
    assert_eq!(dir.file_count(), 0);

    // A buffer dropped without finishing, and unmerged runs dropped.
    let mut sorter = SortBuffer::new(options.clone());
    for (k, v) in &records {
        sorter.push(k.clone(), *v).unwrap();
    }
    drop(sorter);
    assert_eq!(dir.file_count(), 0);
    let mut sorter = SortBuffer::new(options);
    for (k, v) in &records {
        sorter.push(k.clone(), *v).unwrap();
    }
    let (runs, _) = sorter.into_runs().unwrap();
    assert!(dir.file_count() > 0);
    drop(runs);
    assert_eq!(dir.file_count(), 0);

    // A buffer that unwinds from a panic while holding spill files.
    let result = std::panic::catch_unwind(|| {
        let mut sorter = SortBuffer::new(
            SortOptions::new()
                .budget_bytes(1 << 10)
                .spill_dir(dir.path()),
        );
        for i in 0..10_000u64 {
            sorter.push(i, i).unwrap();
        }
        panic!(
            "a map task fails with {} spills",
            sorter.stats().runs_spilled
        );
    });
    assert!(result.is_err());
    assert_eq!(dir.file_count(), 0);
}

#[test]
fn a_temporary_spill_directory_is_created_and_removed() {
    let mut sorter = SortBuffer::new(SortOptions::new().budget_bytes(1 << 10));
    for i in 0..5_000u64 {
        sorter.push(i % 10, i).unwrap();
    }
    let spill_dir = sorter
        .spill_paths()
        .next()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(spill_dir.starts_with(std::env::temp_dir()));
    assert!(spill_dir.exists());
    let total: u64 = sorter.finish().unwrap().map(|r| r.unwrap().1).sum();
    assert_eq!(total, (0..5_000).sum::<u64>());
    assert!(!spill_dir.exists());
}

fn spilled_sorter(dir: &TempDir) -> (SortBuffer<String, u64>, PathBuf) {
    let mut sorter = SortBuffer::new(
        SortOptions::new()
            .budget_bytes(8 << 10)
            .spill_dir(dir.path()),
    );
    for (k, v) in random_records(2_000, 100, 4) {
        sorter.push(k, v).unwrap();
    }
    let path = sorter.spill_paths().next().unwrap().to_path_buf();
    (sorter, path)
}

#[test]
fn a_garbage_spill_file_is_reported_with_its_path() {
    let dir = TempDir::new("garbage");
    let (sorter, path) = spilled_sorter(&dir);
    fs::write(&path, b"this is not a spill file, it is garbage").unwrap();
    let err = sorter.finish().unwrap_err();
    assert!(
        matches!(err, SpillError::Corrupt { offset: 0, .. }),
        "{err}"
    );
    assert_eq!(err.path(), Some(path.as_path()));
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(dir.file_count(), 0, "the failed merge still cleans up");
}

#[test]
fn an_overwritten_frame_length_is_reported_with_its_offset() {
    let dir = TempDir::new("frame");
    let (sorter, path) = spilled_sorter(&dir);
    let mut bytes = fs::read(&path).unwrap();
    bytes[8..12].copy_from_slice(&[0xFF; 4]);
    fs::write(&path, &bytes).unwrap();
    let err = sorter.finish().unwrap_err();
    match &err {
        SpillError::Corrupt {
            path: at,
            offset,
            reason,
        } => {
            assert_eq!(at, &path);
            assert_eq!(*offset, 8);
            assert!(reason.contains("overruns"), "{reason}");
        }
        other => panic!("expected a corrupt frame, got {other}"),
    }
}

#[test]
fn an_undecodable_record_is_a_decode_error_naming_file_and_offset() {
    let dir = TempDir::new("decode");
    let (sorter, path) = spilled_sorter(&dir);
    let mut bytes = fs::read(&path).unwrap();
    // The first frame: 4 length bytes at 8, then the key's length varint:
    // claim a key longer than the frame.
    bytes[12] = 0x7F;
    fs::write(&path, &bytes).unwrap();
    let err = sorter.finish().unwrap_err();
    assert!(
        matches!(&err, SpillError::Decode { offset: 8, .. }),
        "{err}"
    );
    assert_eq!(err.path(), Some(path.as_path()));
    assert!(err.to_string().contains("byte 8"), "{err}");
}

#[test]
fn bad_partitions_and_unusable_spill_dirs_are_errors() {
    let dir = TempDir::new("errors");
    let mut buffer = PartitionedSortBuffer::new(2, SortOptions::new());
    assert!(matches!(
        buffer.push(5, 1u8, 1u8),
        Err(SpillError::PartitionOutOfRange {
            partition: 5,
            partitions: 2
        })
    ));

    let not_a_dir = dir.path().join("a-file");
    fs::write(&not_a_dir, b"x").unwrap();
    let mut sorter = SortBuffer::new(
        SortOptions::new()
            .budget_bytes(0)
            .spill_dir(not_a_dir.join("spills")),
    );
    let err = sorter.push(1u8, 1u8).unwrap_err();
    assert!(matches!(err, SpillError::CreateDir { .. }), "{err}");
    assert_eq!(err.path(), Some(not_a_dir.join("spills").as_path()));
}

#[test]
fn a_two_million_record_word_count_stays_within_a_one_mib_budget() {
    let dir = TempDir::new("budget");
    const BUDGET: usize = 1 << 20;
    let vocabulary: Vec<String> = (0..50_000u32).map(|i| format!("word{i}")).collect();
    let largest_record = vocabulary.iter().map(|w| w.approx_size()).max().unwrap()
        + 1u64.approx_size()
        + RECORD_OVERHEAD;

    let mut rng = Rng(42);
    let mut expected = vec![0u64; vocabulary.len()];
    let mut sorter = SortBuffer::new(
        SortOptions::new()
            .budget_bytes(BUDGET)
            .spill_dir(dir.path()),
    );
    for _ in 0..2_000_000 {
        let i = rng.below(vocabulary.len() as u64) as usize;
        expected[i] += 1;
        sorter.push(vocabulary[i].clone(), 1u64).unwrap();
        assert!(sorter.buffered_bytes() <= BUDGET);
    }
    let records = sorter.finish().unwrap();
    let stats = *records.stats();
    assert!(stats.runs_spilled > 10, "{stats:?}");
    assert!(
        stats.peak_buffer_bytes <= BUDGET + largest_record,
        "peak {} over budget {BUDGET} + one record {largest_record}",
        stats.peak_buffer_bytes
    );

    let mut words = 0;
    for group in records.group_by_key() {
        let (word, ones) = group.unwrap();
        let i: usize = word["word".len()..].parse().unwrap();
        assert_eq!(ones.len() as u64, expected[i], "{word}");
        words += 1;
    }
    assert_eq!(words, expected.iter().filter(|&&c| c > 0).count());
    assert_eq!(dir.file_count(), 0);
}

#[test]
fn merge_options_apply_to_merges_of_handed_over_runs() {
    let dir = TempDir::new("merge-options");
    let options = SortOptions::new()
        .budget_bytes(512)
        .spill_dir(dir.path())
        .merge_fan_in(2)
        .read_buffer_bytes(4096);
    let mut runs = Vec::new();
    for producer in 0..3u64 {
        let mut sorter = SortBuffer::new(options.clone());
        for i in 0..200u64 {
            sorter
                .push((i * 7 + producer) % 50, producer * 1000 + i)
                .unwrap();
        }
        runs.extend(sorter.into_runs().unwrap().0);
    }
    let records = merge_runs_with(runs, &options).unwrap();
    assert!(records.stats().intermediate_runs > 0);
    assert_eq!(records.stats().records_in, 600);
    let merged: Vec<(u64, u64)> = records.map(Result::unwrap).collect();
    assert!(merged
        .windows(2)
        .all(|w| w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1)));
    assert_eq!(merged.len(), 600);
}
