//! Typed MapReduce jobs on clusters of real processes on 127.0.0.1: the
//! workers are copies of this test binary (it calls `worker_if_asked`
//! first), and each test's `LocalCluster` kills and reaps them when it is
//! dropped, also when the test fails. Every job's result is compared with
//! the same job run in-process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flotilla::cluster::{Client, LocalCluster};
use flotilla::mapreduce::streaming::StreamingJob;
use flotilla::mapreduce::{
    ClusterJobRunner, Emitter, Job, JobConfig, JobError, JobOutput, JobRunner, RecordError,
};
use flotilla::{Checkpoint, CpuPool};
use libtest_mimic::{Arguments, Failed, Trial};

mod common;
use common::cluster::{peaks_stay_under, run_and_kill};
use common::TempDir;
use serde::{Deserialize, Serialize};

/// Word count, optionally slowed down per line in the mapper or per key in
/// the reducer (so that a worker can be killed in the middle of a phase).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct WordCount {
    map_delay_us: u64,
    reduce_delay_us: u64,
}

impl Job for WordCount {
    type Input = str;
    type Key = String;
    type Value = u64;
    type Output = (String, u64);
    type State = ();
    const COMBINES: bool = true;

    fn map(
        &self,
        _: &mut (),
        line: &str,
        emit: &mut Emitter<'_, String, u64>,
    ) -> Result<(), RecordError> {
        if self.map_delay_us > 0 {
            std::thread::sleep(Duration::from_micros(self.map_delay_us));
        }
        if line.starts_with("!bad") {
            return Err(RecordError::new("a line that starts with !bad"));
        }
        for w in line.split_whitespace() {
            emit.emit(w.to_string(), 1)?;
        }
        Ok(())
    }

    fn combine(&self, acc: &mut u64, n: u64) {
        *acc += n;
    }

    fn reduce(
        &self,
        _: &mut (),
        word: String,
        counts: Vec<u64>,
        out: &mut Vec<(String, u64)>,
    ) -> Result<(), RecordError> {
        if self.reduce_delay_us > 0 {
            std::thread::sleep(Duration::from_micros(self.reduce_delay_us));
        }
        out.push((word, counts.iter().sum()));
        Ok(())
    }
}

flotilla::cluster_job!(WordCount);

/// Counts each line under the process that mapped it: `"{line} {pid}"`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct WhereMapped;

impl Job for WhereMapped {
    type Input = str;
    type Key = String;
    type Value = u64;
    type Output = (String, u64);
    type State = ();

    fn map(
        &self,
        _: &mut (),
        line: &str,
        emit: &mut Emitter<'_, String, u64>,
    ) -> Result<(), RecordError> {
        // Slow enough that each worker is busy with its own splits.
        std::thread::sleep(Duration::from_micros(200));
        emit.emit(format!("{line} {}", std::process::id()), 1)
    }

    fn reduce(
        &self,
        _: &mut (),
        key: String,
        counts: Vec<u64>,
        out: &mut Vec<(String, u64)>,
    ) -> Result<(), RecordError> {
        out.push((key, counts.iter().sum()));
        Ok(())
    }
}

flotilla::cluster_job!(WhereMapped);

/// `files` text files of `lines` lines each of words drawn from a
/// vocabulary of 500, with a bad line every `bad_every` lines (0: none).
fn write_text(dir: &Path, files: usize, lines: usize, bad_every: usize) -> Vec<String> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..files)
        .map(|f| {
            let path = dir.join(format!("part-{f}.txt"));
            let mut text = String::new();
            for l in 0..lines {
                if bad_every > 0 && l % bad_every == bad_every - 1 {
                    text.push_str("!bad line\n");
                    continue;
                }
                for _ in 0..8 {
                    text.push_str(&format!("w{} ", next() % 500));
                }
                text.push('\n');
            }
            std::fs::write(&path, text).expect("the input is writable");
            path.to_string_lossy().into_owned()
        })
        .collect()
}

fn sorted(out: JobOutput<(String, u64)>) -> Vec<(String, u64)> {
    let mut records = out.records();
    records.sort();
    records
}

/// The job run in-process, for comparison.
fn in_process(job: WordCount, inputs: &[&str], config: JobConfig) -> JobOutput<(String, u64)> {
    let pool = CpuPool::with_threads(2).expect("a pool starts");
    JobRunner::new(&pool)
        .config(config)
        .run_text(job, inputs)
        .expect("the in-process job runs")
}

fn config() -> JobConfig {
    JobConfig::default().reducers(3).split_bytes(16 << 10)
}

fn a_job_on_a_cluster_gives_the_in_process_result() -> Result<(), Failed> {
    let dir = TempDir::new("same");
    let inputs = write_text(dir.path(), 3, 2_000, 0);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let expected = in_process(WordCount::default(), &inputs, config());
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .start()?;
    let client = cluster.client()?;
    let out = ClusterJobRunner::new(&client)
        .config(config())
        .run_text(WordCount::default(), &inputs)?;
    assert_eq!(out.partitions.len(), 3);
    assert_eq!(out.counters, expected.counters);
    assert_eq!(sorted(out), sorted(expected));
    // Both workers took part.
    let status = client.status()?;
    assert!(status.workers.iter().all(|w| w.tasks > 0), "{status:?}");
    Ok(())
}

/// Two input files on each of two workers' own disks, listed so that
/// dealing the map tasks in turn would put half of them on the wrong
/// worker: each file is mapped by the worker that holds it.
fn map_tasks_read_their_split_on_the_worker_that_holds_it() -> Result<(), Failed> {
    let dir = TempDir::new("locality");
    let disks = [dir.path().join("disk-0"), dir.path().join("disk-1")];
    let mut inputs = Vec::new();
    for (i, holder) in [1, 1, 0, 0].into_iter().enumerate() {
        std::fs::create_dir_all(&disks[holder])?;
        let file = disks[holder].join(format!("part-{i}.txt"));
        std::fs::write(&file, format!("disk-{holder}\n").repeat(100))?;
        inputs.push(file.display().to_string());
    }
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .local_data(0, &disks[0])
        .local_data(1, &disks[1])
        .start()?;
    let pids = cluster.worker_pids();
    let client = cluster.client()?;
    let out = ClusterJobRunner::new(&client)
        .config(JobConfig::default().reducers(2).split_bytes(1 << 20))
        .run_text(WhereMapped, &inputs)?;
    let mut counts = out.records();
    counts.sort();
    assert_eq!(
        counts,
        [
            (format!("disk-0 {}", pids[0]), 200),
            (format!("disk-1 {}", pids[1]), 200)
        ]
    );
    Ok(())
}

fn bad_records_name_their_file_and_line_or_are_skipped() -> Result<(), Failed> {
    let dir = TempDir::new("bad");
    let inputs = write_text(dir.path(), 1, 300, 100);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let client = Client::in_process(2)?;
    let err = ClusterJobRunner::new(&client)
        .run_text(WordCount::default(), &inputs)
        .unwrap_err();
    assert!(matches!(err, JobError::Cluster(_)), "{err}");
    let text = err.to_string();
    assert!(text.contains("part-0.txt:100: bad record"), "{text}");

    let skip = JobConfig::default().skip_bad_records(true).reducers(2);
    let expected = in_process(WordCount::default(), &inputs, skip.clone());
    let out = ClusterJobRunner::new(&client)
        .config(skip)
        .run_text(WordCount::default(), &inputs)?;
    assert_eq!(out.counters.bad_records, 3);
    assert_eq!(out.bad_record_sample, expected.bad_record_sample);
    assert_eq!(sorted(out), sorted(expected));
    Ok(())
}

/// Runs `job` on a cluster of 2 workers and kills worker 0 once `ready`
/// says so of the cluster's count of finished tasks; the result must be
/// the in-process one.
fn killed_during(job: WordCount, ready: impl Fn(u64, u64) -> bool) -> Result<(), Failed> {
    let dir = TempDir::new(&format!(
        "kill-{}-{}",
        job.map_delay_us, job.reduce_delay_us
    ));
    let inputs = write_text(dir.path(), 2, 400, 0);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let config = JobConfig::default().reducers(2).split_bytes(4 << 10);
    let maps = flotilla::mapreduce::split::plan_splits(&inputs, 4 << 10)?.len() as u64;
    let expected = in_process(WordCount::default(), &inputs, config.clone());
    let mut cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .start()?;
    let client = cluster.client()?;
    let watcher = cluster.client()?;
    let out = run_and_kill(
        &mut cluster,
        &watcher,
        |f| ready(f, maps),
        || {
            ClusterJobRunner::new(&client)
                .config(config)
                .run_text(job, &inputs)
        },
    )?;
    assert_eq!(out.counters, expected.counters);
    assert_eq!(sorted(out), sorted(expected));
    Ok(())
}

fn a_worker_killed_during_the_map_phase_costs_only_time() -> Result<(), Failed> {
    // Two of the ten or so map tasks are done (each 400 µs × ~100 lines),
    // most are not.
    let job = WordCount {
        map_delay_us: 400,
        reduce_delay_us: 0,
    };
    killed_during(job, |finished, _| finished >= 2)
}

fn a_worker_killed_during_the_shuffle_costs_only_time() -> Result<(), Failed> {
    // As many tasks done as there are map tasks: pieces are being cut and
    // fetched; the reducers are slow enough to be still ahead.
    let job = WordCount {
        map_delay_us: 0,
        reduce_delay_us: 150,
    };
    killed_during(job, |finished, maps| finished >= maps)
}

fn a_worker_killed_during_the_reduce_phase_costs_only_time() -> Result<(), Failed> {
    // Every map, piece (two per map) and summary task done, the two
    // reducers (250 keys each × 200 µs) still running.
    let job = WordCount {
        map_delay_us: 0,
        reduce_delay_us: 200,
    };
    killed_during(job, |finished, maps| finished >= 4 * maps)
}

/// The lines of every part of a streaming job's output, sorted.
fn part_lines(parts: &[PathBuf]) -> Vec<String> {
    let mut lines: Vec<String> = parts
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .expect("a part is readable")
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    lines
}

/// A word count in awk, with a combiner.
fn awk_word_count() -> StreamingJob {
    awk_word_count_after("")
}

/// The word count, its mapper running `first` (a shell command and `; `)
/// before it reads.
fn awk_word_count_after(first: &str) -> StreamingJob {
    let sum = r#"awk -F'\t' '$1 "" != k "" { if (NR > 1) print k "\t" n; k = $1; n = 0 } { n += $2 } END { if (NR) print k "\t" n }'"#;
    let mapper = format!(r#"{first}awk '{{ for (i = 1; i <= NF; i++) print $i "\t1" }}'"#);
    StreamingJob::new(mapper, sum)
        .combiner(sum)
        .reducers(3)
        .split_bytes(8 << 10)
}

fn a_streaming_job_on_a_cluster_writes_the_in_process_output() -> Result<(), Failed> {
    let dir = TempDir::new("streaming");
    let inputs = write_text(dir.path(), 2, 1_000, 0);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let pool = CpuPool::with_threads(2)?;
    let local = awk_word_count().run(&pool, &inputs, dir.path().join("local"))?;
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .start()?;
    let client = cluster.client()?;
    let remote = awk_word_count().run_on(&client, &inputs, dir.path().join("cluster"))?;
    assert_eq!(remote.parts.len(), 3);
    assert!(dir.path().join("cluster").join("_SUCCESS").exists());
    assert_eq!(part_lines(&remote.parts), part_lines(&local.parts));
    assert_eq!(remote.counters, local.counters);

    // A mapper that fails on one split: after its attempts, the job's
    // error names the command and its stderr, and no output is left.
    let failing = StreamingJob::new(
        r#"if grep -q w7; then echo "no w7 allowed" >&2; exit 3; fi"#,
        "cat",
    )
    .attempts(2);
    let err = failing
        .run_on(&client, &inputs, dir.path().join("failed"))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("exited with status 3") && text.contains("no w7 allowed"),
        "{text}"
    );
    assert!(!dir.path().join("failed").exists());

    // The same, skipping the splits that fail: counted, sampled, the rest written.
    let skipping = StreamingJob::new(r#"if grep -q zzz; then exit 3; fi; echo done"#, "cat")
        .attempts(2)
        .skip_failed_splits(true)
        .reducers(1);
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "zzz\n")?;
    let mut with_bad = inputs.clone();
    let bad = bad.to_string_lossy().into_owned();
    with_bad.push(&bad);
    let report = skipping.run_on(&client, &with_bad, dir.path().join("skipped"))?;
    assert_eq!(report.counters.skipped_splits, 1);
    assert_eq!(report.skipped_sample.len(), 1);
    assert!(
        report.skipped_sample[0].contains("bad.txt"),
        "{:?}",
        report.skipped_sample
    );
    Ok(())
}

fn a_streaming_job_loses_nothing_to_a_worker_killed_mid_job() -> Result<(), Failed> {
    let dir = TempDir::new("streaming-kill");
    let inputs = write_text(dir.path(), 2, 1_000, 0);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let pool = CpuPool::with_threads(2)?;
    let local = awk_word_count().run(&pool, &inputs, dir.path().join("local"))?;
    let maps = flotilla::mapreduce::split::plan_splits(&inputs, 8 << 10)?.len() as u64;
    let mut cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .start()?;
    let client = cluster.client()?;
    let watcher = cluster.client()?;
    // Each mapper takes a while, so that the kill comes mid-map.
    let slow = awk_word_count_after("sleep 0.05; ");
    let out = dir.path().join("cluster");
    let report = run_and_kill(
        &mut cluster,
        &watcher,
        |f| f >= 2,
        || slow.run_on(&client, &inputs, &out),
    )?;
    assert!(maps > 2, "{maps} map tasks: the kill must come mid-map");
    assert_eq!(part_lines(&report.parts), part_lines(&local.parts));
    assert!(out.join("_SUCCESS").exists());
    let left: Vec<_> = std::fs::read_dir(&out)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    assert!(!left.iter().any(|n| n == "_temporary"), "{left:?}");
    Ok(())
}

fn a_job_over_input_larger_than_every_workers_memory_stays_within_it() -> Result<(), Failed> {
    // 3 files of 39 MB against workers limited to 40 MB each.
    let dir = TempDir::new("larger");
    let inputs = write_text(dir.path(), 3, 1_000_000, 0);
    let total: u64 = inputs
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()))
        .sum::<Result<u64, _>>()?;
    let limit: u64 = 40 << 20;
    assert!(
        total > 2 * limit,
        "the input ({total} bytes) must outsize the limit"
    );
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .memory_limit(limit)
        .worker_timeout(Duration::from_secs(2))
        .start()?;
    let client = cluster.client()?;
    let config = JobConfig::default().reducers(2).split_bytes(4 << 20);
    let out = ClusterJobRunner::new(&client)
        .config(config)
        .run_text(WordCount::default(), &inputs)?;
    assert_eq!(out.counters.map_input_bytes, total);
    let words: u64 = out.records().iter().map(|(_, n)| n).sum();
    assert_eq!(words, 3 * 1_000_000 * 8);
    peaks_stay_under(&client, 2, limit)
}

/// Word counts, sorted.
type Counts = Vec<(String, u64)>;

/// Runs `job` with its map tasks kept in the folder `dir` (a fresh
/// `Checkpoint` each time, as a new process would open), in-process on
/// `threads` threads or on `cluster`. The output, or the error, and the
/// map tasks computed and read back.
fn checkpointed_run(
    dir: &Path,
    inputs: &[&str],
    config: JobConfig,
    on: Option<&Client>,
) -> (Result<Counts, JobError>, u64, u64) {
    let checkpoint = Checkpoint::open(dir).expect("the checkpoint folder opens");
    let config = config.checkpoint(&checkpoint);
    let out = match on {
        Some(client) => ClusterJobRunner::new(client)
            .config(config)
            .run_text(WordCount::default(), inputs),
        None => {
            let pool = CpuPool::with_threads(1).expect("a pool starts");
            JobRunner::new(&pool)
                .config(config)
                .run_text(WordCount::default(), inputs)
        }
    };
    (out.map(sorted), checkpoint.computed(), checkpoint.loaded())
}

/// A job whose map tasks are kept: a run that failed part-way keeps the
/// splits it mapped, the run started again maps only the rest, a changed
/// file maps only its own splits, a new version maps everything; on a
/// cluster the same, the workers writing and reading the folder.
fn a_checkpointed_job_maps_only_the_splits_it_does_not_find() -> Result<(), Failed> {
    let dir = TempDir::new("job-checkpoint");
    let inputs = write_text(dir.path(), 3, 2_000, 0);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let good_last = std::fs::read(inputs[2])?;
    // The last line of the last file is bad: the run fails there.
    let mut bad_last = good_last.clone();
    bad_last.extend_from_slice(b"!bad line\n");
    std::fs::write(inputs[2], &bad_last)?;
    let store = dir.join("checkpoint");
    let (out, failed_computed, loaded) = checkpointed_run(&store, &inputs, config(), None);
    assert!(matches!(out, Err(JobError::BadRecord { .. })), "{out:?}");
    assert!(failed_computed > 0 && loaded == 0);
    // Mended, the file is mapped again (it changed); the others are read.
    std::fs::write(inputs[2], &good_last)?;
    let expected = sorted(in_process(WordCount::default(), &inputs, config()));
    let (out, computed, loaded) = checkpointed_run(&store, &inputs, config(), None);
    assert_eq!(out?, expected);
    assert!(
        loaded > 0 && computed > 0,
        "{computed} computed, {loaded} loaded"
    );
    let splits = computed + loaded;
    // Nothing changed: every split is read back.
    let (out, computed, loaded) = checkpointed_run(&store, &inputs, config(), None);
    assert_eq!(out?, expected);
    assert_eq!((computed, loaded), (0, splits));
    // One file grows: its splits are mapped, the other files' read.
    let mut grown = good_last.clone();
    grown.extend_from_slice(b"w1 w2 new-word\n");
    std::fs::write(inputs[2], &grown)?;
    let expected = sorted(in_process(WordCount::default(), &inputs, config()));
    let (out, computed, loaded) = checkpointed_run(&store, &inputs, config(), None);
    assert_eq!(out?, expected);
    assert!(
        computed > 0 && computed < splits / 2,
        "{computed} of {splits} computed"
    );
    assert_eq!(computed + loaded, splits);
    // A new version of the job maps everything.
    let (out, computed, _) = checkpointed_run(&store, &inputs, config().version("2"), None);
    assert_eq!(out?, expected);
    assert_eq!(computed, splits);
    // On a cluster: the first run maps, the second reads back.
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .start()?;
    let client = cluster.client()?;
    let store = dir.join("cluster-checkpoint");
    let (out, computed, loaded) = checkpointed_run(&store, &inputs, config(), Some(&client));
    assert_eq!(out?, expected);
    assert_eq!((computed > 0, loaded), (true, 0));
    let (out, again, loaded) = checkpointed_run(&store, &inputs, config(), Some(&client));
    assert_eq!(out?, expected);
    assert_eq!((again, loaded), (0, computed));
    Ok(())
}

fn main() {
    flotilla::cluster::worker_if_asked();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "a_checkpointed_job_maps_only_the_splits_it_does_not_find",
            a_checkpointed_job_maps_only_the_splits_it_does_not_find,
        ),
        Trial::test(
            "map_tasks_read_their_split_on_the_worker_that_holds_it",
            map_tasks_read_their_split_on_the_worker_that_holds_it,
        ),
        Trial::test(
            "a_job_over_input_larger_than_every_workers_memory_stays_within_it",
            a_job_over_input_larger_than_every_workers_memory_stays_within_it,
        ),
        Trial::test(
            "a_streaming_job_on_a_cluster_writes_the_in_process_output",
            a_streaming_job_on_a_cluster_writes_the_in_process_output,
        ),
        Trial::test(
            "a_streaming_job_loses_nothing_to_a_worker_killed_mid_job",
            a_streaming_job_loses_nothing_to_a_worker_killed_mid_job,
        ),
        Trial::test(
            "a_job_on_a_cluster_gives_the_in_process_result",
            a_job_on_a_cluster_gives_the_in_process_result,
        ),
        Trial::test(
            "bad_records_name_their_file_and_line_or_are_skipped",
            bad_records_name_their_file_and_line_or_are_skipped,
        ),
        Trial::test(
            "a_worker_killed_during_the_map_phase_costs_only_time",
            a_worker_killed_during_the_map_phase_costs_only_time,
        ),
        Trial::test(
            "a_worker_killed_during_the_shuffle_costs_only_time",
            a_worker_killed_during_the_shuffle_costs_only_time,
        ),
        Trial::test(
            "a_worker_killed_during_the_reduce_phase_costs_only_time",
            a_worker_killed_during_the_reduce_phase_costs_only_time,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
