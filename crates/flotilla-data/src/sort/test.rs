//! Unit tests of the sort's internals: size estimates, the frame format, the
//! merge order and the intermediate passes.

use std::fs;
use std::path::PathBuf;

use super::spill_file::{SpillDir, HEADER_LEN, MAGIC};
use super::*;

/// A unique directory under the system temp dir, removed on drop.
struct TestDir(PathBuf);

impl TestDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "flotilla-sort-unit-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
        ));
        fs::create_dir_all(&path).unwrap();
        TestDir(path)
    }

    fn files(&self) -> usize {
        fs::read_dir(&self.0).unwrap().count()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn assert_send<T: Send>() {}

#[test]
fn public_types_are_send() {
    assert_send::<SortBuffer<String, u64>>();
    assert_send::<PartitionedSortBuffer<String, u64>>();
    assert_send::<SortedRun<String, u64>>();
    assert_send::<MapOutput<String, u64>>();
    assert_send::<SortedRecords<String, u64>>();
    assert_send::<GroupedRecords<String, u64>>();
    assert_send::<SpillError>();
}

#[test]
fn approx_sizes() {
    assert_eq!(().approx_size(), 0);
    assert_eq!('x'.approx_size(), 4);
    assert_eq!(1.5f64.approx_size(), 8);
    assert_eq!(Some(3u32).approx_size(), 8);
    assert_eq!(Some(String::from("abc")).approx_size(), 24 + 3);
    assert_eq!(None::<String>.approx_size(), 24);
    assert_eq!(
        vec![String::from("ab"), String::from("cde")].approx_size(),
        24 + 2 * 24 + 5
    );
    assert_eq!(Box::<[u8]>::from(&b"abcd"[..]).approx_size(), 16 + 4);
    assert_eq!((String::from("ab"), 1u64, 'c', true).approx_size(), 40 + 2);
    assert_eq!(<(u8, u64) as ApproxSize>::FIXED_SIZE, Some(16));
    assert_eq!(<(u8, String) as ApproxSize>::FIXED_SIZE, None);
    assert_eq!(<Option<u16> as ApproxSize>::FIXED_SIZE, Some(4));
}

#[test]
fn nothing_touches_the_disk_when_it_fits() {
    let dir = TestDir::new("fits");
    let mut sorter = SortBuffer::new(SortOptions::new().spill_dir(dir.0.join("spills")));
    for i in (0..100u32).rev() {
        sorter.push(i, i).unwrap();
    }
    let records = sorter.finish().unwrap();
    assert_eq!(records.stats().runs_spilled, 0);
    assert!(!dir.0.join("spills").exists());
    let keys: Vec<u32> = records.map(|r| r.unwrap().0).collect();
    assert_eq!(keys, (0..100).collect::<Vec<_>>());
}

#[test]
fn spill_files_have_the_documented_frame_format() {
    let dir = TestDir::new("format");
    let mut sorter = SortBuffer::new(SortOptions::new().spill_dir(&dir.0));
    sorter.push(2u8, 20u8).unwrap();
    sorter.push(1u8, 10u8).unwrap();
    sorter.spill().unwrap();
    let path = sorter.spill_paths().next().unwrap().to_path_buf();
    let bytes = fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], MAGIC);
    assert_eq!(HEADER_LEN, 8);
    // Two frames: length 2, then postcard (key, value).
    assert_eq!(&bytes[8..], [2, 0, 0, 0, 1, 10, 2, 0, 0, 0, 2, 20]);
    assert_eq!(sorter.stats().bytes_spilled, bytes.len() as u64);
    drop(sorter);
    assert_eq!(dir.files(), 0);
}

#[test]
fn heap_ties_go_to_the_earlier_run() {
    let runs: Vec<SortedRun<u8, String>> = vec![
        SortedRun::from_vec(vec![(1, "r0".into()), (2, "r0".into())]),
        SortedRun::from_vec(vec![(1, "r1".into()), (2, "r1".into())]),
        SortedRun::from_vec(vec![(0, "r2".into()), (1, "r2".into())]),
    ];
    let merged: Vec<(u8, String)> = merge_runs(runs).unwrap().map(Result::unwrap).collect();
    let merged: Vec<(u8, &str)> = merged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        merged,
        [
            (0, "r2"),
            (1, "r0"),
            (1, "r1"),
            (1, "r2"),
            (2, "r0"),
            (2, "r1")
        ]
    );
}

#[test]
fn intermediate_passes_keep_order_and_clean_up() {
    let dir = TestDir::new("passes");
    let options = SortOptions::new()
        .budget_bytes(0)
        .merge_fan_in(3)
        .spill_dir(&dir.0);
    let mut sorter = SortBuffer::new(options.clone());
    // Every push spills: 20 runs of one record; keys repeat to check stability.
    for i in 0..20u32 {
        sorter.push(i % 4, i).unwrap();
    }
    let (mut runs, stats) = sorter.into_runs().unwrap();
    assert_eq!(stats.runs_spilled, 20);
    runs.insert(5, SortedRun::from_vec(vec![(2, 100)]));
    let records = merge_runs_with(runs, &options).unwrap();
    assert!(records.stats().intermediate_runs >= 1);
    assert!(
        dir.files() <= 3,
        "at most fan-in files are left for the final merge"
    );
    let merged: Vec<(u32, u32)> = records.map(Result::unwrap).collect();
    let mut expected: Vec<(u32, u32)> = (0..20).map(|i| (i % 4, i)).collect();
    expected.insert(5, (2, 100));
    expected.sort_by_key(|r| r.0);
    assert_eq!(merged, expected);
    assert_eq!(dir.files(), 0);
}

#[test]
fn partitions_share_a_spill_file_until_all_are_dropped() {
    let dir = TestDir::new("shared");
    let mut buffer = PartitionedSortBuffer::new(3, SortOptions::new().spill_dir(&dir.0));
    for i in 0..30u32 {
        buffer.push((i % 3) as usize, i, ()).unwrap();
    }
    buffer.spill().unwrap();
    assert_eq!(buffer.stats().runs_spilled, 1);
    let mut output = buffer.finish().unwrap();
    let first = output.take_partition(0);
    assert_eq!(first.len(), 1);
    assert_eq!(dir.files(), 1);
    let keys: Vec<u32> = merge_runs(first).unwrap().map(|r| r.unwrap().0).collect();
    assert_eq!(keys, (0..30).step_by(3).collect::<Vec<_>>());
    assert_eq!(dir.files(), 1, "partitions 1 and 2 still need the file");
    drop(output);
    assert_eq!(dir.files(), 0);
}

#[test]
fn a_temporary_spill_dir_is_removed_with_its_last_file() {
    let dir = SpillDir::temporary().unwrap();
    let path = {
        let mut sorter = SortBuffer::new(SortOptions::new().budget_bytes(0));
        sorter.push(1u8, 1u8).unwrap();
        let path = sorter.spill_paths().next().unwrap().to_path_buf();
        assert!(path.exists());
        path
    };
    assert!(!path.exists());
    assert!(!path.parent().unwrap().exists());
    drop(dir);
}

#[test]
fn next_group_and_next_can_be_mixed() {
    let run = SortedRun::from_vec(vec![(1, 'a'), (1, 'b'), (2, 'c'), (3, 'd'), (3, 'e')]);
    let mut records = merge_runs(vec![run]).unwrap();
    {
        let group = records.next_group().unwrap().unwrap();
        assert_eq!(*group.key(), 1);
    }
    // The opened group's first record comes out whole, then the rest.
    assert_eq!(records.next().unwrap().unwrap(), (1, 'a'));
    assert_eq!(records.next().unwrap().unwrap(), (1, 'b'));
    let mut group = records.next_group().unwrap().unwrap();
    assert_eq!(group.next().unwrap().unwrap(), 'c');
    assert!(group.next().is_none());
    let group = records.next_group().unwrap().unwrap();
    assert_eq!(*group.key(), 3);
    assert!(records.next_group().unwrap().is_none());
    assert!(records.next().is_none());
}

#[test]
fn a_truncated_run_is_reported() {
    let dir = TestDir::new("truncated");
    let mut sorter = SortBuffer::new(SortOptions::new().spill_dir(&dir.0));
    for i in 0..100u64 {
        sorter.push(i, i).unwrap();
    }
    sorter.spill().unwrap();
    let path = sorter.spill_paths().next().unwrap().to_path_buf();
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let results: Vec<_> = sorter.finish().unwrap().collect();
    let err = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(matches!(err, SpillError::Corrupt { .. }), "{err}");
    assert_eq!(err.path(), Some(path.as_path()));
    assert!(
        results.last().unwrap().is_err(),
        "the stream ends at the error"
    );
}

#[test]
fn a_map_output_reports_its_size_in_memory_and_spilled_to_its_task() {
    use flotilla_local::{ComputeOptions, Delayed};
    use std::sync::Arc;
    let dir = Arc::new(TestDir::new("sizes"));
    let in_task = Arc::clone(&dir);
    let map_task = Delayed::from_fn(move || {
        let mut buffer = PartitionedSortBuffer::new(2, SortOptions::new().spill_dir(&in_task.0));
        for i in 0..40u64 {
            buffer.push((i % 2) as usize, i, i).unwrap();
        }
        buffer.spill().unwrap();
        for i in 0..10u64 {
            buffer.push((i % 2) as usize, i, i).unwrap();
        }
        let in_memory = buffer.buffered_bytes() as u64;
        let output = buffer.finish().unwrap();
        (in_memory, output.stats().bytes_spilled)
    });
    let options = ComputeOptions::new().progress(false);
    let (sizes, report) = map_task.compute_shared_with(&options).unwrap();
    let (in_memory, spilled) = *sizes;
    assert!(in_memory > 0 && spilled > 0, "{sizes:?}");
    assert_eq!(report.result_bytes(), in_memory + spilled);
}
