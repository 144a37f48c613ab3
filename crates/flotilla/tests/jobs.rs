//! Typed MapReduce jobs as a user meets them: results, counters, bad
//! records, spills, partitioners, hooks, secondary sort, steps, panics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flotilla::mapreduce::{
    Emitter, Job, JobConfig, JobError, JobRunner, Partitioner, RecordError, SmallBytes,
};
use flotilla::{CpuPool, TaskError};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("flotilla-jobs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str, body: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Scenario 3's job: ratings per value, with a combiner.
struct Ratings;

impl Job for Ratings {
    type Input = str;
    type Key = u8;
    type Value = u64;
    type Output = (u8, u64);
    type State = ();
    const COMBINES: bool = true;

    fn map(
        &self,
        _: &mut (),
        line: &str,
        emit: &mut Emitter<'_, u8, u64>,
    ) -> Result<(), RecordError> {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 4 {
            return Err(RecordError::new(format!(
                "expected 4 fields, found {}",
                fields.len()
            )));
        }
        let r = fields[2]
            .parse()
            .map_err(|_| RecordError::new(format!("rating {:?} is not a number", fields[2])))?;
        emit.count("ratings seen", 1);
        emit.emit(r, 1)
    }
    fn combine(&self, acc: &mut u64, n: u64) {
        *acc += n;
    }
    fn reduce(
        &self,
        _: &mut (),
        k: u8,
        vs: Vec<u64>,
        out: &mut Vec<(u8, u64)>,
    ) -> Result<(), RecordError> {
        out.push((k, vs.iter().sum()));
        Ok(())
    }
}

fn ratings_file(rows: usize) -> (String, BTreeMap<u8, u64>) {
    let mut body = String::new();
    let mut expected = BTreeMap::new();
    for i in 0..rows {
        let r = (i * 7 % 5 + 1) as u8;
        *expected.entry(r).or_default() += 1;
        body.push_str(&format!(
            "{}\t{}\t{r}\t{}\n",
            i % 943 + 1,
            i % 1682 + 1,
            880000000 + i
        ));
    }
    (body, expected)
}

#[test]
fn ratings_breakdown_counts_every_value_across_many_splits() {
    let dir = TempDir::new("ratings");
    let (body, expected) = ratings_file(20_000);
    let path = dir.file("u.data", body.as_bytes());
    let pool = CpuPool::with_threads(2).unwrap();
    let out = JobRunner::new(&pool)
        .config(JobConfig::default().split_bytes(10_000).reducers(3))
        .run_text(Ratings, &[path.as_str()])
        .unwrap();
    let c = out.counters.clone();
    let mut got = out.records();
    got.sort();
    assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
    assert_eq!(c.map_input_records, 20_000);
    assert_eq!(c.map_output_records, 20_000);
    assert_eq!(c.user["ratings seen"], 20_000);
    assert_eq!(c.map_input_bytes, body.len() as u64);
    // The combiner leaves at most 5 pairs per map task.
    let maps = body.len().div_ceil(10_000) as u64;
    assert!(c.shuffled_records <= 5 * maps, "{c}");
    assert_eq!(c.reduce_output_records, 5);
    assert!(c.to_string().contains("ratings seen"));
}

#[test]
fn a_bad_record_fails_the_job_naming_file_line_and_snippet() {
    let dir = TempDir::new("bad");
    let path = dir.file(
        "u.data",
        b"1\t2\t3\t4\n1\t2\t3\t4\n1\t2\toops\t4\n1\t2\t3\t4\n",
    );
    let pool = CpuPool::with_threads(2).unwrap();
    let err = JobRunner::new(&pool)
        .run_text(Ratings, &[path.as_str()])
        .unwrap_err();
    match &err {
        JobError::BadRecord {
            path: p,
            line,
            snippet,
            message,
            ..
        } => {
            assert_eq!(Path::new(&path), p.as_path());
            assert_eq!(*line, 3);
            assert_eq!(snippet, "1\t2\toops\t4");
            assert!(message.contains("\"oops\""), "{message}");
        }
        other => panic!("expected BadRecord, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("{path}:3: bad record")),
        "{err}"
    );
}

#[test]
fn skipped_bad_records_are_counted_and_sampled() {
    let dir = TempDir::new("skip");
    let path = dir.file("u.data", b"1\t2\t3\t4\nshort\n1\t2\t5\t4\n1\t2\tx\t4\n");
    let pool = CpuPool::with_threads(1).unwrap();
    let out = JobRunner::new(&pool)
        .config(JobConfig::default().skip_bad_records(true))
        .run_text(Ratings, &[path.as_str()])
        .unwrap();
    assert_eq!(out.counters.bad_records, 2);
    assert_eq!(out.bad_record_sample.len(), 2);
    assert!(
        out.bad_record_sample[0].starts_with(&format!("{path}:2: expected 4 fields")),
        "{:?}",
        out.bad_record_sample
    );
    assert!(
        out.bad_record_sample[1].contains(":4: rating \"x\""),
        "{:?}",
        out.bad_record_sample
    );
    let mut got = out.records();
    got.sort();
    assert_eq!(got, [(3, 1), (5, 1)]);
}

#[test]
fn invalid_utf8_is_a_bad_record_for_text_jobs() {
    let dir = TempDir::new("utf8");
    let path = dir.file("u.data", b"1\t2\t3\t4\n1\t2\t\xff\t4\n");
    let pool = CpuPool::with_threads(1).unwrap();
    let err = JobRunner::new(&pool)
        .run_text(Ratings, &[path.as_str()])
        .unwrap_err();
    assert!(matches!(err, JobError::BadRecord { line: 2, .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("invalid UTF-8"), "{message}");
    // Where, and what to do about it: read bytes.
    assert!(message.contains(&format!("{path}:2:")), "{message}");
    assert!(message.contains("type Input = [u8]"), "{message}");
}

/// Word count over bytes, without a combiner (so every pair is shuffled).
struct Words {
    combine: bool,
}

impl Job for Words {
    type Input = [u8];
    type Key = SmallBytes;
    type Value = u64;
    type Output = (SmallBytes, u64);
    type State = ();
    fn map(
        &self,
        _: &mut (),
        line: &[u8],
        emit: &mut Emitter<'_, SmallBytes, u64>,
    ) -> Result<(), RecordError> {
        for w in line.split(|b| *b == b' ').filter(|w| !w.is_empty()) {
            emit.emit(SmallBytes::from(w), 1)?;
        }
        Ok(())
    }
    fn reduce(
        &self,
        _: &mut (),
        k: SmallBytes,
        vs: Vec<u64>,
        out: &mut Vec<(SmallBytes, u64)>,
    ) -> Result<(), RecordError> {
        let _ = self.combine;
        out.push((k, vs.iter().sum()));
        Ok(())
    }
}

fn text(lines: usize) -> (Vec<u8>, BTreeMap<Vec<u8>, u64>) {
    let mut body = Vec::new();
    let mut counts = BTreeMap::new();
    for i in 0..lines {
        for j in 0..8 {
            let w = format!("w{}", (i * 31 + j * 17) % 997);
            *counts.entry(w.clone().into_bytes()).or_default() += 1;
            body.extend_from_slice(w.as_bytes());
            body.push(b' ');
        }
        body.push(b'\n');
    }
    (body, counts)
}

#[test]
fn a_small_memory_budget_spills_and_gives_the_same_result() {
    let dir = TempDir::new("spill");
    let (body, expected) = text(20_000);
    let path = dir.file("t.txt", &body);
    let spill = dir.0.join("spill");
    let pool = CpuPool::with_threads(2).unwrap();
    let run = |budget: usize| {
        JobRunner::new(&pool)
            .config(
                JobConfig::default()
                    .memory_budget(budget)
                    .split_bytes(200_000)
                    .reducers(2)
                    .spill_dir(&spill),
            )
            .run_text(Words { combine: false }, &[path.as_str()])
            .unwrap()
    };
    let small = run(128 << 10);
    let large = run(1 << 30);
    assert!(small.counters.spilled_bytes > 0, "{}", small.counters);
    assert_eq!(large.counters.spilled_bytes, 0);
    for out in [small, large] {
        let got: BTreeMap<Vec<u8>, u64> = out
            .records()
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect();
        assert_eq!(got, expected);
    }
    // Spill files are gone once the job is done.
    let left = std::fs::read_dir(&spill).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0);
}

#[test]
fn keys_are_sorted_within_partitions_and_range_partitions_sort_globally() {
    let dir = TempDir::new("range");
    let (body, expected) = text(2_000);
    let path = dir.file("t.txt", &body);
    let pool = CpuPool::with_threads(2).unwrap();
    let hashed = JobRunner::new(&pool)
        .config(JobConfig::default().reducers(3).split_bytes(5_000))
        .run_text(Words { combine: false }, &[path.as_str()])
        .unwrap();
    for part in &hashed.partitions {
        assert!(part.windows(2).all(|w| w[0].0 < w[1].0));
    }
    let bounds = vec![SmallBytes::from("w3"), SmallBytes::from("w6")];
    let ranged = JobRunner::new(&pool)
        .config(JobConfig::default().reducers(3).split_bytes(5_000))
        .run_text_with(
            Words { combine: false },
            Partitioner::Range(bounds.clone()),
            &[path.as_str()],
        )
        .unwrap();
    let all = ranged.records();
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0),
        "range partitions concatenate in order"
    );
    assert_eq!(all.len(), expected.len());
    let err = JobRunner::new(&pool)
        .config(JobConfig::default().reducers(2))
        .run_text_with(
            Words { combine: false },
            Partitioner::Range(bounds),
            &[path.as_str()],
        )
        .unwrap_err();
    assert!(err.to_string().contains("needs 3 reducers"), "{err}");
}

/// Hooks and secondary sort: per-task state counts records; values of a key
/// come sorted; reducer_final emits a summary record.
struct Hooked;

#[derive(Default)]
struct Seen {
    records: u64,
    keys: u64,
}

impl Job for Hooked {
    type Input = str;
    type Key = String;
    type Value = i64;
    type Output = String;
    type State = Seen;
    fn mapper_init(&self, s: &mut Seen) {
        s.records = 0;
    }
    fn map(
        &self,
        s: &mut Seen,
        line: &str,
        emit: &mut Emitter<'_, String, i64>,
    ) -> Result<(), RecordError> {
        s.records += 1;
        let (k, v) = line
            .split_once(',')
            .ok_or_else(|| RecordError::new("no comma"))?;
        emit.emit(
            k.to_string(),
            v.parse().map_err(|_| RecordError::new("not a number"))?,
        )
    }
    fn mapper_final(
        &self,
        s: &mut Seen,
        emit: &mut Emitter<'_, String, i64>,
    ) -> Result<(), RecordError> {
        emit.emit("~records".to_string(), s.records as i64)
    }
    fn order_values(&self, _: &String, values: &mut [i64]) {
        values.sort_unstable();
    }
    fn reduce(
        &self,
        s: &mut Seen,
        k: String,
        vs: Vec<i64>,
        out: &mut Vec<String>,
    ) -> Result<(), RecordError> {
        s.keys += 1;
        if k == "~records" {
            out.push(format!("records={}", vs.iter().sum::<i64>()));
        } else {
            out.push(format!("{k}={vs:?}"));
        }
        Ok(())
    }
    fn reducer_final(&self, s: &mut Seen, out: &mut Vec<String>) -> Result<(), RecordError> {
        out.push(format!("keys={}", s.keys));
        Ok(())
    }
}

#[test]
fn hooks_keep_per_task_state_and_values_can_be_sorted() {
    let dir = TempDir::new("hooks");
    let path = dir.file("kv.csv", b"b,3\na,9\nb,1\na,-2\nb,2\n");
    let pool = CpuPool::with_threads(2).unwrap();
    let out = JobRunner::new(&pool)
        .config(JobConfig::default().reducers(1).split_bytes(8))
        .run_text(Hooked, &[path.as_str()])
        .unwrap()
        .records();
    assert_eq!(out, ["a=[-2, 9]", "b=[1, 2, 3]", "records=5", "keys=3"]);
}

struct Panicky;

impl Job for Panicky {
    type Input = str;
    type Key = u8;
    type Value = u8;
    type Output = u8;
    type State = ();
    fn map(&self, _: &mut (), line: &str, _: &mut Emitter<'_, u8, u8>) -> Result<(), RecordError> {
        if line == "boom" {
            panic!("mapper exploded on {line}");
        }
        Ok(())
    }
    fn reduce(&self, _: &mut (), _: u8, _: Vec<u8>, _: &mut Vec<u8>) -> Result<(), RecordError> {
        Ok(())
    }
}

#[test]
fn a_panicking_mapper_is_an_error_naming_the_task() {
    let dir = TempDir::new("panic");
    let path = dir.file("p.txt", b"fine\nboom\n");
    let pool = CpuPool::with_threads(2).unwrap();
    let err = JobRunner::new(&pool)
        .run_text(Panicky, &[path.as_str()])
        .unwrap_err();
    match err {
        JobError::Task(TaskError::Panicked { message, .. }) => {
            assert!(message.contains("mapper exploded on boom"))
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    // The pool is still usable.
    assert_eq!(pool.submit(|| 1).result().unwrap(), 1);
}

#[test]
fn missing_inputs_are_named() {
    let pool = CpuPool::with_threads(1).unwrap();
    let err = JobRunner::new(&pool)
        .run_text(Panicky, &["/no/such/file.txt"])
        .unwrap_err();
    assert!(err.to_string().contains("/no/such/file.txt"), "{err}");
}

#[test]
fn output_is_written_as_part_files_then_success() {
    let dir = TempDir::new("parts");
    let (body, expected) = ratings_file(1_000);
    let path = dir.file("u.data", body.as_bytes());
    let pool = CpuPool::with_threads(2).unwrap();
    let out = JobRunner::new(&pool)
        .config(JobConfig::default().reducers(2))
        .run_text(Ratings, &[path.as_str()])
        .unwrap();
    let target = dir.0.join("out");
    out.write_text(&target).unwrap();
    let mut got = BTreeMap::new();
    for part in ["part-00000", "part-00001"] {
        for line in std::fs::read_to_string(target.join(part)).unwrap().lines() {
            let (k, v) = line.split_once('\t').unwrap();
            got.insert(k.parse::<u8>().unwrap(), v.parse::<u64>().unwrap());
        }
    }
    assert_eq!(got, expected);
    assert!(target.join("_SUCCESS").exists());
    // A folder that is not empty is refused, and left as it was.
    let err = out.write_text(&target).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 3);
}

#[test]
fn borrowed_keys_count_like_owned_ones_with_and_without_combiner() {
    use flotilla::mapreduce::builtin::WordCount;
    // WordCount emits borrowed words (`emit_ref`): a word new to a task is
    // made owned, a known one folded in place. A tiny budget makes the
    // combine table flush to the sort buffer (and spill) many times.
    let dir = TempDir::new("emit-ref");
    let (body, expected) = text(20_000);
    let path = dir.file("t.txt", &body);
    let pool = CpuPool::with_threads(2).unwrap();
    let config = |budget: usize| {
        JobConfig::default()
            .memory_budget(budget)
            .split_bytes(100_000)
            .reducers(3)
            .spill_dir(dir.0.join("spill"))
    };
    let check = |out: Vec<(SmallBytes, u64)>| {
        let got: BTreeMap<Vec<u8>, u64> = out
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect();
        assert_eq!(got, expected);
    };
    for budget in [64 << 10, 1 << 30] {
        let runner = JobRunner::new(&pool).config(config(budget));
        let combined = runner
            .run_text(WordCount::<true>, &[path.as_str()])
            .unwrap();
        let plain = runner
            .run_text(WordCount::<false>, &[path.as_str()])
            .unwrap();
        assert_eq!(
            combined.counters.map_output_records,
            plain.counters.map_output_records
        );
        // The combiner shuffles fewer pairs than were emitted; far fewer
        // when its table never has to flush.
        let (c, p) = (
            combined.counters.shuffled_records,
            plain.counters.shuffled_records,
        );
        assert!(c < p, "{c} {p}");
        if budget > 1 << 20 {
            assert!(c < p / 4, "{c} {p}");
        } else {
            assert!(combined.counters.spilled_bytes > 0, "{}", combined.counters);
        }
        check(combined.records());
        check(plain.records());
    }
}

/// [`Ratings`], except that the first attempt to map one line panics and
/// the first attempt to reduce one key fails with an error.
struct FlakyRatings {
    map_failed: std::sync::atomic::AtomicBool,
    reduce_failed: std::sync::atomic::AtomicBool,
}

impl Job for FlakyRatings {
    type Input = str;
    type Key = u8;
    type Value = u64;
    type Output = (u8, u64);
    type State = ();
    const COMBINES: bool = true;

    fn map(
        &self,
        state: &mut (),
        line: &str,
        emit: &mut Emitter<'_, u8, u64>,
    ) -> Result<(), RecordError> {
        use std::sync::atomic::Ordering;
        if line.starts_with("500\t") && !self.map_failed.swap(true, Ordering::SeqCst) {
            panic!("the disk hiccupped");
        }
        Ratings.map(state, line, emit)
    }
    fn combine(&self, acc: &mut u64, n: u64) {
        *acc += n;
    }
    fn reduce(
        &self,
        state: &mut (),
        k: u8,
        vs: Vec<u64>,
        out: &mut Vec<(u8, u64)>,
    ) -> Result<(), RecordError> {
        use std::sync::atomic::Ordering;
        if k == 3 && !self.reduce_failed.swap(true, Ordering::SeqCst) {
            return Err(RecordError::new("the network hiccupped"));
        }
        Ratings.reduce(state, k, vs, out)
    }
}

fn flaky_ratings() -> FlakyRatings {
    FlakyRatings {
        map_failed: Default::default(),
        reduce_failed: Default::default(),
    }
}

#[test]
fn a_map_and_a_reduce_task_failing_their_first_attempt_give_the_clean_result() {
    let dir = TempDir::new("flaky");
    let (body, expected) = ratings_file(20_000);
    let path = dir.file("u.data", body.as_bytes());
    let pool = CpuPool::with_threads(2).unwrap();
    let config = JobConfig::default().split_bytes(10_000).reducers(3);
    let clean = JobRunner::new(&pool)
        .config(config.clone())
        .run_text(Ratings, &[path.as_str()])
        .unwrap();
    let job = flaky_ratings();
    let retried = JobRunner::new(&pool)
        .config(config.clone().retries(1))
        .run_text(job, &[path.as_str()])
        .unwrap();
    // The failed attempts counted nothing: every counter is the clean run's.
    assert_eq!(retried.counters, clean.counters);
    assert_eq!(retried.partitions, clean.partitions);
    let mut got = retried.records();
    got.sort();
    assert_eq!(got, expected.into_iter().collect::<Vec<_>>());

    // Without retries the first failure is the job's, typed as it was raised.
    let err = JobRunner::new(&pool)
        .config(config)
        .run_text(flaky_ratings(), &[path.as_str()])
        .unwrap_err();
    match err {
        JobError::Task(TaskError::Panicked { task, message, .. }) => {
            assert!(task.starts_with("map["), "{task}");
            assert_eq!(message, "the disk hiccupped");
        }
        other => panic!("expected the mapper's panic, got {other:?}"),
    }
}

#[test]
fn a_reduce_task_failing_for_good_is_the_jobs_error_naming_it() {
    let dir = TempDir::new("flaky-reduce");
    let (body, _) = ratings_file(2_000);
    let path = dir.file("u.data", body.as_bytes());
    let pool = CpuPool::with_threads(2).unwrap();
    let job = flaky_ratings();
    job.map_failed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = JobRunner::new(&pool)
        .config(JobConfig::default().reducers(2))
        .run_text(job, &[path.as_str()])
        .unwrap_err();
    match err {
        JobError::BadIntermediateRecord { task, message, .. } => {
            assert!(task.starts_with("reduce["), "{task}");
            assert_eq!(message, "the network hiccupped");
        }
        other => panic!("expected the reducer's error, got {other:?}"),
    }
}

/// Counts its map tasks (in a counter the test keeps); every record is bad.
struct AllBad {
    map_tasks: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Job for AllBad {
    type Input = str;
    type Key = u8;
    type Value = u8;
    type Output = u8;
    type State = ();
    fn mapper_init(&self, _: &mut ()) {
        self.map_tasks
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn map(&self, _: &mut (), _: &str, _: &mut Emitter<'_, u8, u8>) -> Result<(), RecordError> {
        Err(RecordError::new("nothing here is readable"))
    }
    fn reduce(&self, _: &mut (), _: u8, _: Vec<u8>, _: &mut Vec<u8>) -> Result<(), RecordError> {
        Ok(())
    }
}

#[test]
fn once_a_map_task_failed_for_good_the_others_are_not_started() {
    let dir = TempDir::new("all-bad");
    let path = dir.file("bad.txt", "unreadable line\n".repeat(2_000).as_bytes());
    // One thread: the failure is known before a second task could start.
    let pool = CpuPool::with_threads(1).unwrap();
    let map_tasks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let job = AllBad {
        map_tasks: std::sync::Arc::clone(&map_tasks),
    };
    let err = JobRunner::new(&pool)
        .config(JobConfig::default().split_bytes(1_000))
        .run_text(job, &[path.as_str()])
        .unwrap_err();
    assert!(
        matches!(err, JobError::BadRecord { line: 1.., .. }),
        "{err:?}"
    );
    assert_eq!(map_tasks.load(std::sync::atomic::Ordering::SeqCst), 1);
}
