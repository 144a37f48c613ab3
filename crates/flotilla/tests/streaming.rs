//! Streaming jobs as a user runs them: shell commands as mapper, combiner
//! and reducer, a folder of part files, retries, and the errors users see.

mod common;
use common::names_in;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use flotilla::mapreduce::streaming::{CommandRole, StreamingError, StreamingJob};
use flotilla::output::OutputError;
use flotilla::CpuPool;

/// Emits `word\t1` for every word of every line.
const WORD_MAPPER: &str = r#"awk '{ for (i = 1; i <= NF; i++) print $i "\t1" }'"#;
/// Sums the values of each key, given lines sorted by key; keys compared as
/// strings (`$1 ""`), not as the numbers some of them look like.
const SUM_REDUCER: &str = r#"awk -F'\t' '!seen || $1 "" != k "" { if (seen) print k "\t" n; k = $1; n = 0; seen = 1 } { n += $2 } END { if (seen) print k "\t" n }'"#;
/// Sums the values of each key in a hash table: writes keys in any order.
const UNORDERED_SUM: &str =
    r#"awk -F'\t' '{ n[$1] += $2 } END { for (k in n) print k "\t" n[k] }'"#;

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "flotilla-streaming-{name}-{}-{unique}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, name: &str, content: &[u8]) -> String {
        let path = self.0.join(name);
        fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn pool() -> CpuPool {
    CpuPool::with_threads(3).unwrap()
}

/// Deterministic text: `lines` lines of words drawn from a skewed
/// vocabulary, some with runs of spaces.
fn text(lines: usize) -> String {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = String::new();
    for _ in 0..lines {
        let words = 1 + next() % 9;
        for w in 0..words {
            if w > 0 {
                out.push_str(if next() % 5 == 0 { "   " } else { " " });
            }
            let r = next() % 1000;
            let id = (r * r) / 4000;
            out.push_str(&format!("w{id}"));
        }
        out.push('\n');
    }
    out
}

fn direct_count(text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_string()).or_default() += 1;
    }
    counts
}

/// The lines of every part file, each part's lines in file order.
fn read_parts(parts: &[PathBuf]) -> Vec<Vec<Vec<u8>>> {
    parts
        .iter()
        .map(|p| {
            let bytes = fs::read(p).unwrap();
            bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect()
        })
        .collect()
}

fn counts_of(parts: &[PathBuf]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in read_parts(parts).into_iter().flatten() {
        let line = String::from_utf8(line).unwrap();
        let (word, n) = line.split_once('\t').unwrap();
        let old = counts.insert(word.to_string(), n.parse().unwrap());
        assert!(old.is_none(), "{word} is in two parts");
    }
    counts
}

#[test]
fn word_count_equals_a_direct_count() {
    let dir = TempDir::new("wordcount");
    let body = text(3000);
    let input = dir.write("text.txt", body.as_bytes());
    let out = dir.join("out");
    let report = StreamingJob::new(WORD_MAPPER, SUM_REDUCER)
        .reducers(3)
        .split_bytes(8 << 10)
        .run(&pool(), &[&input], &out)
        .unwrap();

    let expected = direct_count(&body);
    assert_eq!(counts_of(&report.parts), expected);
    assert_eq!(
        names_in(&out),
        ["_SUCCESS", "part-00000", "part-00001", "part-00002"]
    );
    assert_eq!(fs::metadata(out.join("_SUCCESS")).unwrap().len(), 0);
    assert_eq!(report.output, out);

    let c = &report.counters;
    let words: u64 = expected.values().sum();
    assert_eq!(c.map_tasks, body.len().div_ceil(8 << 10) as u64);
    assert_eq!(c.reduce_tasks, 3);
    assert_eq!(c.map_input_records, 3000);
    assert_eq!(c.map_input_bytes, body.len() as u64);
    assert_eq!(c.map_output_records, words);
    assert_eq!(c.reduce_input_records, words);
    assert_eq!(c.reduce_input_groups, expected.len() as u64);
    assert_eq!(c.reduce_output_records, expected.len() as u64);
    assert_eq!((c.combine_input_records, c.combine_output_records), (0, 0));
    assert_eq!(c.attempts_failed, 0);
    let shown = report.to_string();
    assert!(
        shown.contains(&format!("map output records: {words}")),
        "{shown}"
    );
    assert!(shown.contains("elapsed"), "{shown}");
}

#[test]
fn keys_are_sorted_bytewise_within_each_part_and_parts_partition_the_keys() {
    let dir = TempDir::new("sorted");
    let body = text(2000);
    let input = dir.write("text.txt", body.as_bytes());
    // The identity reducer shows the reducer's input: sorted by key.
    let report = StreamingJob::new(WORD_MAPPER, "cat")
        .reducers(4)
        .split_bytes(4 << 10)
        .run(&pool(), &[&input], dir.join("out"))
        .unwrap();
    let parts = read_parts(&report.parts);
    assert_eq!(parts.len(), 4);
    let mut seen = HashMap::new();
    for (p, lines) in parts.iter().enumerate() {
        assert!(!lines.is_empty());
        let keys: Vec<&[u8]> = lines
            .iter()
            .map(|l| l.split(|&b| b == b'\t').next().unwrap())
            .collect();
        assert!(
            keys.windows(2).all(|w| w[0] <= w[1]),
            "part {p} is not sorted"
        );
        for k in keys {
            assert_eq!(
                *seen.entry(k.to_vec()).or_insert(p),
                p,
                "a key in two parts"
            );
        }
    }
    let total: usize = parts.iter().map(Vec::len).sum();
    assert_eq!(total as u64, report.counters.map_output_records);
}

#[test]
fn one_or_several_reducers_give_the_same_result() {
    let dir = TempDir::new("reducers");
    let body = text(1500);
    let input = dir.write("text.txt", body.as_bytes());
    let one = StreamingJob::new(WORD_MAPPER, SUM_REDUCER)
        .reducers(1)
        .run(&pool(), &[&input], dir.join("one"))
        .unwrap();
    let five = StreamingJob::new(WORD_MAPPER, SUM_REDUCER)
        .reducers(5)
        .run(&pool(), &[&input], dir.join("five"))
        .unwrap();
    assert_eq!(one.parts.len(), 1);
    assert_eq!(five.parts.len(), 5);
    assert_eq!(counts_of(&one.parts), counts_of(&five.parts));
    assert_eq!(counts_of(&one.parts), direct_count(&body));
    // With one reducer, the only part is sorted as a whole.
    let lines = &read_parts(&one.parts)[0];
    assert!(lines.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_combiner_gives_the_same_result_with_less_to_shuffle() {
    let dir = TempDir::new("combiner");
    let body = text(3000);
    let input = dir.write("text.txt", body.as_bytes());
    let plain = StreamingJob::new(WORD_MAPPER, SUM_REDUCER)
        .reducers(2)
        .split_bytes(16 << 10)
        .run(&pool(), &[&input], dir.join("plain"))
        .unwrap();
    for (name, combiner) in [("sorted", SUM_REDUCER), ("unordered", UNORDERED_SUM)] {
        let combined = StreamingJob::new(WORD_MAPPER, SUM_REDUCER)
            .combiner(combiner)
            .reducers(2)
            .split_bytes(16 << 10)
            .run(&pool(), &[&input], dir.join(name))
            .unwrap();
        assert_eq!(
            counts_of(&combined.parts),
            counts_of(&plain.parts),
            "{name}"
        );
        let c = &combined.counters;
        assert_eq!(c.combine_input_records, c.map_output_records);
        assert!(
            c.combine_output_records < c.combine_input_records / 4,
            "{c:?}"
        );
        assert_eq!(c.reduce_input_records, c.combine_output_records);
        assert_eq!(
            c.reduce_output_records,
            plain.counters.reduce_output_records
        );
    }
    assert_eq!(counts_of(&plain.parts), direct_count(&body));
}

#[test]
fn a_spilling_shuffle_gives_the_same_result() {
    let dir = TempDir::new("spill");
    let body = text(4000);
    let input = dir.write("text.txt", body.as_bytes());
    let report = StreamingJob::new(WORD_MAPPER, SUM_REDUCER)
        .reducers(2)
        .split_bytes(32 << 10)
        .memory_budget(0)
        .spill_dir(dir.join("spills"))
        .run(&pool(), &[&input], dir.join("out"))
        .unwrap();
    assert!(report.counters.spilled_bytes > 0);
    assert_eq!(counts_of(&report.parts), direct_count(&body));
    // Spill files are gone; so is the reducers' kept input.
    assert!(names_in(&dir.join("spills")).is_empty());
    assert_eq!(
        names_in(&dir.join("out")),
        ["_SUCCESS", "part-00000", "part-00001"]
    );
}

#[test]
fn a_failing_mapper_fails_the_job_with_its_stderr_and_status() {
    let dir = TempDir::new("failing");
    let input = dir.write("in.txt", b"a\nb\n");
    let out = dir.join("out");
    let err = StreamingJob::new(
        "cat > /dev/null; echo 'bad record: a' >&2; exit 1",
        SUM_REDUCER,
    )
    .attempts(2)
    .run(&pool(), &[&input], &out)
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("bad record: a"), "{text}");
    assert!(text.contains("exited with status 1"), "{text}");
    assert!(text.contains("map[0]"), "{text}");
    assert!(text.contains("in.txt[0..4]"), "{text}");
    assert!(text.contains("all 2 attempts"), "{text}");
    match &err {
        StreamingError::TaskFailed {
            failure, attempts, ..
        } => {
            assert_eq!(*attempts, 2);
            assert_eq!(failure.role, CommandRole::Mapper);
            assert_eq!(failure.exit_code, Some(1));
            assert_eq!(failure.stderr_tail, "bad record: a");
        }
        other => panic!("unexpected {other:?}"),
    }
    // The job created the folder, and removed it.
    assert!(!out.exists());

    // An empty folder given by the user is left, empty.
    fs::create_dir(&out).unwrap();
    StreamingJob::new("exit 1", "cat")
        .attempts(1)
        .run(&pool(), &[&input], &out)
        .unwrap_err();
    assert!(names_in(&out).is_empty());
}

#[test]
fn a_failing_reducer_leaves_no_part_even_when_others_succeeded() {
    let dir = TempDir::new("failing-reducer");
    let input = dir.write("in.txt", text(500).as_bytes());
    let out = dir.join("out");
    let err = StreamingJob::new(
        WORD_MAPPER,
        r#"cat; if [ "$mapreduce_task_partition" = 2 ]; then echo "reducer $FLOTILLA_TASK gives up" >&2; exit 5; fi"#,
    )
    .reducers(4)
    .attempts(2)
    .run(&pool(), &[&input], &out)
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("reduce[2]"), "{text}");
    assert!(text.contains("exited with status 5"), "{text}");
    assert!(text.contains("reducer reduce[2] gives up"), "{text}");
    assert!(!out.exists());
}

#[test]
fn a_command_killed_by_a_signal_fails_its_task() {
    let dir = TempDir::new("signal");
    let input = dir.write("in.txt", b"a\n");
    let err = StreamingJob::new("cat", "cat > /dev/null; kill -9 $$")
        .reducers(1)
        .attempts(1)
        .run(&pool(), &[&input], dir.join("out"))
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("killed by signal 9"), "{text}");
    assert!(text.contains("its only attempt"), "{text}");
    assert!(!dir.join("out").exists());
}

#[test]
fn a_flaky_mapper_succeeds_on_its_second_attempt() {
    let dir = TempDir::new("flaky-mapper");
    let input = dir.write("in.txt", b"b\na\nb\n");
    let mark = dir.join("mark");
    let mapper = format!(
        "test -e '{m}' || {{ touch '{m}'; echo first attempt fails >&2; exit 3; }}; cat",
        m = mark.display()
    );
    let report = StreamingJob::new(mapper, "uniq -c")
        .reducers(1)
        .run(&pool(), &[&input], dir.join("out"))
        .unwrap();
    assert_eq!(report.counters.attempts_failed, 1);
    assert_eq!(report.counters.map_input_records, 3);
    let out = fs::read_to_string(&report.parts[0]).unwrap();
    let out: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(out, ["1 a", "2 b"]);
}

#[test]
fn a_flaky_reducer_is_retried_on_the_same_input() {
    for (name, budget) in [("in-memory", 512 << 20), ("spilled", 0)] {
        let dir = TempDir::new(name);
        let body = text(800);
        let input = dir.write("in.txt", body.as_bytes());
        let mark = dir.join("mark");
        // The first attempt reads half its input, writes some output, fails.
        let reducer = format!(
            "if test -e '{m}'; then {SUM_REDUCER}; else touch '{m}'; head -n 5; exit 7; fi",
            m = mark.display()
        );
        let report = StreamingJob::new(WORD_MAPPER, reducer)
            .reducers(1)
            .split_bytes(16 << 10)
            .memory_budget(budget)
            .run(&pool(), &[&input], dir.join("out"))
            .unwrap();
        assert_eq!(report.counters.spilled_bytes > 0, budget == 0, "{name}");
        assert_eq!(report.counters.attempts_failed, 1, "{name}");
        assert_eq!(counts_of(&report.parts), direct_count(&body), "{name}");
        assert_eq!(names_in(&dir.join("out")), ["_SUCCESS", "part-00000"]);
    }
}

#[test]
fn an_output_folder_in_use_is_refused() {
    let dir = TempDir::new("exists");
    let input = dir.write("in.txt", b"a\n");
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("part-00000"), "precious\n").unwrap();
    let err = StreamingJob::new("cat", "cat")
        .run(&pool(), &[&input], &out)
        .unwrap_err();
    assert!(
        matches!(err, StreamingError::Output(OutputError::NotEmpty { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("already exists"));
    assert_eq!(
        fs::read_to_string(out.join("part-00000")).unwrap(),
        "precious\n"
    );
    assert_eq!(names_in(&out), ["part-00000"]);

    // A file is not an output folder either.
    let err = StreamingJob::new("cat", "cat")
        .run(&pool(), &[&input], Path::new(&input))
        .unwrap_err();
    assert!(
        matches!(err, StreamingError::Output(OutputError::NotAFolder { .. })),
        "{err}"
    );
}

#[test]
fn lines_without_a_tab_are_keys_with_empty_values() {
    let dir = TempDir::new("no-tab");
    let input = dir.write("in.txt", b"pear\napple\nfig\tx\tx\napple\nkiwi\t\n");
    let report = StreamingJob::new("cat", "cat")
        .reducers(1)
        .run(&pool(), &[&input], dir.join("out"))
        .unwrap();
    assert_eq!(
        fs::read_to_string(&report.parts[0]).unwrap(),
        "apple\napple\nfig\tx\tx\nkiwi\npear\n"
    );
    assert_eq!(report.counters.reduce_input_groups, 4);
}

#[test]
fn invalid_utf8_passes_through_untouched() {
    let dir = TempDir::new("bytes");
    let lines: [&[u8]; 4] = [
        b"caf\xe9\t\xff\xfe",
        b"\x80key\tv",
        b"plain\tv",
        b"caf\xe9\t2",
    ];
    let mut body = Vec::new();
    for l in lines {
        body.extend_from_slice(l);
        body.push(b'\n');
    }
    let input = dir.write("latin1.txt", &body);
    let report = StreamingJob::new("cat", "cat")
        .reducers(1)
        .run(&pool(), &[&input], dir.join("out"))
        .unwrap();
    let out = fs::read(&report.parts[0]).unwrap();
    // Sorted bytewise by key; equal keys keep their input order.
    let expected: Vec<u8> = [
        &b"caf\xe9\t\xff\xfe\n"[..],
        b"caf\xe9\t2\n",
        b"plain\tv\n",
        b"\x80key\tv\n",
    ]
    .concat();
    assert_eq!(out, expected);
}

#[test]
fn commands_report_counters_on_stderr() {
    let dir = TempDir::new("reporter");
    let input = dir.write("in.txt", b"a b\nc\n\n");
    let mapper = r#"awk '{ print "reporter:counter:Text,Lines,1" > "/dev/stderr"; if (NF == 0) print "reporter:counter:Text,Empty,1" > "/dev/stderr"; print $0 }'"#;
    let report = StreamingJob::new(mapper, "cat")
        .reducers(1)
        .run(&pool(), &[&input], dir.join("out"))
        .unwrap();
    assert_eq!(report.counters.user.get("Text.Lines"), Some(&3));
    assert_eq!(report.counters.user.get("Text.Empty"), Some(&1));
    assert!(report.to_string().contains("Text.Lines: 3"));
}

#[test]
fn big_outputs_and_chatty_stderr_do_not_deadlock_the_pipes() {
    let dir = TempDir::new("pipes");
    let body = text(60_000); // about 2 MB: far more than a pipe holds
    let input = dir.write("in.txt", body.as_bytes());
    // The mapper writes each line twice, and everything to stderr too,
    // before reading on; the reducer writes everything back.
    let report = StreamingJob::new("awk '{ print; print }' | tee /dev/stderr", "cat")
        .reducers(2)
        .split_bytes(1 << 20)
        .run(&pool(), &[&input], dir.join("out"))
        .unwrap();
    assert_eq!(report.counters.map_output_records, 120_000);
    assert_eq!(report.counters.reduce_output_records, 120_000);
}

#[test]
fn a_mapper_may_stop_reading_early() {
    let dir = TempDir::new("head");
    let input = dir.write("in.txt", text(50_000).as_bytes());
    let report = StreamingJob::new("head -n 2", "cat")
        .reducers(1)
        .run(&pool(), &[&input], dir.join("out"))
        .unwrap();
    assert_eq!(report.counters.map_output_records, 2);
    assert!(report.counters.map_input_records >= 2);
}

#[test]
fn keys_that_look_like_numbers_stay_distinct() {
    let dir = TempDir::new("numeric-keys");
    let input = dir.write("keys.txt", b"1000 1000. 1e3 010 10\n1000 +10 1e3\n");
    let report = StreamingJob::new(WORD_MAPPER, SUM_REDUCER)
        .combiner(SUM_REDUCER)
        .reducers(1)
        .run(&pool(), &[&input], dir.join("out"))
        .unwrap();
    let expected: BTreeMap<String, u64> = [
        ("+10", 1),
        ("010", 1),
        ("10", 1),
        ("1000", 2),
        ("1000.", 1),
        ("1e3", 2),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(counts_of(&report.parts), expected);
}

#[test]
fn map_input_bytes_are_the_input_bytes_with_or_without_a_final_newline() {
    let dir = TempDir::new("input-bytes");
    for (name, body) in [
        ("final-newline.txt", &b"one two\nthree\n"[..]),
        ("no-final-newline.txt", b"one two\nthree"),
        ("crlf.txt", b"one two\r\nthree\r\n"),
        ("crlf-no-final-newline.txt", b"one two\r\nthree"),
    ] {
        let input = dir.write(name, body);
        let report = StreamingJob::new("cat", "cat")
            .reducers(1)
            .split_bytes(4)
            .run(&pool(), &[&input], dir.join(&format!("out-{name}")))
            .unwrap();
        assert_eq!(report.counters.map_input_records, 2, "{name}");
        assert_eq!(report.counters.map_input_bytes, body.len() as u64, "{name}");
    }
}

#[test]
fn skipped_splits_are_counted_and_sampled() {
    let dir = TempDir::new("skip");
    let good = dir.write("good.txt", b"x\ny\n");
    let bad = dir.write("bad.txt", b"poison\n");
    let mapper = "if grep -q poison; then echo 'poisoned split' >&2; exit 2; fi; echo fine";
    let report = StreamingJob::new(mapper, "cat")
        .reducers(1)
        .attempts(2)
        .skip_failed_splits(true)
        .run(&pool(), &[&good, &bad], dir.join("out"))
        .unwrap();
    let c = &report.counters;
    assert_eq!(
        (c.skipped_splits, c.attempts_failed, c.map_tasks),
        (1, 2, 2)
    );
    assert_eq!(report.skipped_sample.len(), 1);
    assert!(report.skipped_sample[0].contains("bad.txt"));
    assert!(report.skipped_sample[0].contains("poisoned split"));
    assert_eq!(fs::read_to_string(&report.parts[0]).unwrap(), "fine\n");

    // Without skipping, the same job fails.
    StreamingJob::new(mapper, "cat")
        .attempts(1)
        .run(&pool(), &[&good, &bad], dir.join("out2"))
        .unwrap_err();
}

#[test]
fn empty_inputs_still_run_the_reducers() {
    let dir = TempDir::new("empty");
    let input = dir.write("empty.txt", b"");
    let report = StreamingJob::new("cat", "wc -l | tr -d ' '")
        .reducers(2)
        .run(&pool(), &[&input], dir.join("out"))
        .unwrap();
    assert_eq!(report.counters.map_tasks, 0);
    for part in &report.parts {
        assert_eq!(fs::read_to_string(part).unwrap(), "0\n");
    }
    assert!(dir.join("out").join("_SUCCESS").exists());
}

#[test]
fn bad_settings_and_inputs_are_refused_before_the_output_is_touched() {
    let dir = TempDir::new("settings");
    let input = dir.write("in.txt", b"a\n");
    let out = dir.join("out");
    for job in [
        StreamingJob::new("", "cat"),
        StreamingJob::new("cat", " "),
        StreamingJob::new("cat", "cat").attempts(0),
        StreamingJob::new("cat", "cat").reducers(0),
        StreamingJob::new("cat", "cat").combiner(""),
    ] {
        let err = job.run(&pool(), &[&input], &out).unwrap_err();
        assert!(matches!(err, StreamingError::Config(_)), "{err}");
    }
    let missing = dir.join("missing.txt");
    let err = StreamingJob::new("cat", "cat")
        .run(&pool(), &[missing.to_str().unwrap()], &out)
        .unwrap_err();
    assert!(matches!(err, StreamingError::Input(_)), "{err}");
    assert!(err.to_string().contains("missing.txt"), "{err}");
    assert!(!out.exists());
}

#[test]
fn what_successful_commands_wrote_to_stderr_is_reported_and_logged() {
    let dir = TempDir::new("stderr");
    let input = dir.write("in.txt", b"a\nb\nc\n");
    // The mapper warns on map[0] only; the combiner and the reducer always.
    let report = StreamingJob::new(
        r#"test "$mapreduce_map_input_start" = 0 && printf 'grep: (standard input): binary file matches\nsecond line\n' >&2; cat"#,
        "echo 'reducer note' >&2; cat",
    )
    .combiner("echo 'reporter:counter:G,C,1' >&2; echo 'combiner note' >&2; cat")
    .split_bytes(2)
    .reducers(1)
    .run(&pool(), &[&input], dir.join("out"))
    .unwrap();
    let out = dir.join("out");
    let summary: Vec<(String, CommandRole, String, u64)> = report
        .stderr
        .iter()
        .map(|t| (t.task.clone(), t.role, t.first_line.clone(), t.bytes))
        .collect();
    let warning = "grep: (standard input): binary file matches";
    assert_eq!(
        summary,
        [
            ("map[0]".into(), CommandRole::Mapper, warning.into(), 56),
            (
                "map[0]".into(),
                CommandRole::Combiner,
                "combiner note".into(),
                14
            ),
            (
                "map[1]".into(),
                CommandRole::Combiner,
                "combiner note".into(),
                14
            ),
            (
                "map[2]".into(),
                CommandRole::Combiner,
                "combiner note".into(),
                14
            ),
            (
                "reduce[0]".into(),
                CommandRole::Reducer,
                "reducer note".into(),
                13
            ),
        ]
    );
    assert_eq!(report.counters.user.get("G.C"), Some(&3));
    assert_eq!(
        fs::read_to_string(out.join("_logs/map-00000.stderr")).unwrap(),
        format!("{warning}\nsecond line\n")
    );
    assert_eq!(
        fs::read_to_string(out.join("_logs/map-00001.combiner.stderr")).unwrap(),
        "combiner note\n"
    );
    assert_eq!(report.stderr[4].log, out.join("_logs/reduce-00000.stderr"));
    assert_eq!(
        names_in(&out.join("_logs")),
        [
            "map-00000.combiner.stderr",
            "map-00000.stderr",
            "map-00001.combiner.stderr",
            "map-00002.combiner.stderr",
            "reduce-00000.stderr",
        ]
    );
    let text = report.to_string();
    assert!(
        text.contains(&format!(
            "stderr: map[0] mapper wrote 56 bytes to stderr: {warning}"
        )),
        "{text}"
    );
}

#[test]
fn a_failed_job_keeps_no_log() {
    let dir = TempDir::new("stderr-failed");
    let input = dir.write("in.txt", b"a\n");
    let out = dir.join("out");
    let err = StreamingJob::new("echo warning >&2; cat", "exit 5")
        .attempts(1)
        .run(&pool(), &[&input], &out)
        .unwrap_err();
    assert!(err.to_string().contains("exited with status 5"), "{err}");
    assert!(!out.exists());
}
