//! `flotilla mapreduce` as a user runs it: a streaming job end to end, and
//! a failing one's exit status and message.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

mod common;

fn flotilla(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .env("FLOTILLA_NO_PROGRESS", "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the flotilla binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh folder for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "flotilla-cli-streaming-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, f: &str) -> String {
        self.0.join(f).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const MAPPER: &str = r#"awk '{ for (i = 1; i <= NF; i++) print $i "\t1" }'"#;
const REDUCER: &str = r#"awk -F'\t' '!seen || $1 "" != k "" { if (seen) print k "\t" n; k = $1; n = 0; seen = 1 } { n += $2 } END { if (seen) print k "\t" n }'"#;

#[test]
fn mapreduce_counts_words_into_part_files() {
    let dir = TempDir::new("wordcount");
    fs::write(dir.path("a.txt"), "the cat sat\non the mat\n").unwrap();
    fs::write(dir.path("b.txt"), "the end\n").unwrap();
    let out = dir.path("out");
    let result = flotilla(&[
        "mapreduce",
        "--input",
        &dir.path("a.txt"),
        &dir.path("b.txt"),
        "--output",
        &out,
        "--mapper",
        MAPPER,
        "--combiner",
        REDUCER,
        "--reducer",
        REDUCER,
        "--reducers",
        "2",
        "--workers",
        "2",
        "--split-mb",
        "1",
        "--attempts",
        "2",
    ]);
    let stderr = text(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("map input records: 3"), "{stderr}");
    assert!(stderr.contains("map output records: 8"), "{stderr}");
    assert!(stderr.contains("reduce output records: 6"), "{stderr}");
    assert!(stderr.contains("attempts failed: 0"), "{stderr}");

    let mut names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["_SUCCESS", "part-00000", "part-00001"]);
    let mut lines: Vec<String> = Vec::new();
    for part in ["part-00000", "part-00001"] {
        let body = fs::read_to_string(PathBuf::from(&out).join(part)).unwrap();
        let keys: Vec<&str> = body
            .lines()
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{part}: {body}");
        lines.extend(body.lines().map(String::from));
    }
    lines.sort();
    assert_eq!(
        lines,
        ["cat\t1", "end\t1", "mat\t1", "on\t1", "sat\t1", "the\t3"]
    );
}

#[test]
fn a_failing_mapper_exits_non_zero_with_its_stderr() {
    let dir = TempDir::new("failing");
    fs::write(dir.path("in.txt"), "x\n").unwrap();
    let out = dir.path("out");
    let result = flotilla(&[
        "mapreduce",
        "--input",
        &dir.path("in.txt"),
        "--output",
        &out,
        "--mapper",
        "echo 'cannot parse line 1' >&2; exit 2",
        "--reducer",
        "cat",
        "--attempts",
        "2",
    ]);
    assert!(!result.status.success());
    assert_eq!(result.status.code(), Some(1));
    let stderr = text(&result.stderr);
    assert!(stderr.contains("cannot parse line 1"), "{stderr}");
    assert!(stderr.contains("exited with status 2"), "{stderr}");
    assert!(stderr.contains("map[0]"), "{stderr}");
    assert!(stderr.contains("all 2 attempts"), "{stderr}");
    assert!(
        !PathBuf::from(&out).exists(),
        "a failed job leaves no output"
    );
}

#[test]
fn an_output_folder_in_use_is_refused() {
    let dir = TempDir::new("exists");
    fs::write(dir.path("in.txt"), "x\n").unwrap();
    fs::create_dir(dir.path("out")).unwrap();
    fs::write(dir.path("out/keep.txt"), "keep").unwrap();
    let result = flotilla(&[
        "mapreduce",
        "--input",
        &dir.path("in.txt"),
        "--output",
        &dir.path("out"),
        "--mapper",
        "cat",
        "--reducer",
        "cat",
    ]);
    assert!(!result.status.success());
    let stderr = text(&result.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(
        fs::read_to_string(dir.path("out/keep.txt")).unwrap(),
        "keep"
    );
}

#[test]
fn missing_arguments_are_usage_errors() {
    let result = flotilla(&[
        "mapreduce",
        "--input",
        "x",
        "--output",
        "y",
        "--mapper",
        "cat",
    ]);
    assert_eq!(result.status.code(), Some(2));
    assert!(text(&result.stderr).contains("--reducer"));
}

#[test]
fn what_a_successful_command_wrote_to_stderr_is_shown_and_kept() {
    let dir = TempDir::new("stderr");
    fs::write(dir.path("in.txt"), "a\nb\n").unwrap();
    let out = dir.path("out");
    let result = flotilla(&[
        "mapreduce",
        "--input",
        &dir.path("in.txt"),
        "--output",
        &out,
        "--mapper",
        "echo 'grep: (standard input): binary file matches' >&2; cat",
        "--reducer",
        "cat",
        "--reducers",
        "1",
    ]);
    let stderr = text(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(
        stderr.contains("map[0]") && stderr.contains("binary file matches"),
        "{stderr}"
    );
    let log = fs::read_to_string(PathBuf::from(&out).join("_logs/map-00000.stderr")).unwrap();
    assert_eq!(log, "grep: (standard input): binary file matches\n");
}

#[test]
fn an_output_folder_is_overwritten_when_asked() {
    let dir = TempDir::new("overwrite");
    fs::write(dir.path("in.txt"), "new\n").unwrap();
    fs::create_dir(dir.path("out")).unwrap();
    fs::write(dir.path("out/part-00000"), "old\n").unwrap();
    fs::write(dir.path("out/part-00001"), "old\n").unwrap();
    fs::write(dir.path("out/_SUCCESS"), "").unwrap();
    let result = flotilla(&[
        "mapreduce",
        "--input",
        &dir.path("in.txt"),
        "--output",
        &dir.path("out"),
        "--mapper",
        "cat",
        "--reducer",
        "cat",
        "--reducers",
        "1",
        "--overwrite",
    ]);
    assert!(result.status.success(), "{}", text(&result.stderr));
    assert_eq!(
        fs::read_to_string(dir.path("out/part-00000")).unwrap(),
        "new\n"
    );
    assert!(!PathBuf::from(dir.path("out/part-00001")).exists());
}

#[test]
fn mapreduce_runs_on_a_cluster_given_its_scheduler() {
    use std::process::Stdio;
    let exe = env!("CARGO_BIN_EXE_flotilla");
    // A scheduler and a worker started by hand, reaped when the test ends.
    let mut procs = common::Reaped(Vec::new());
    let addr = common::start_scheduler(&mut procs, None);
    procs.0.push(
        Command::new(exe)
            .args(["worker", &addr, "--threads", "2"])
            .env_remove("FLOTILLA_TOKEN")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let dir = TempDir::new("cluster");
    fs::write(dir.path("a.txt"), "the cat sat\non the mat\n").unwrap();
    fs::write(dir.path("b.txt"), "the end\n").unwrap();
    let out = dir.path("out");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "mapreduce",
            "--scheduler",
            &addr,
            "--input",
            dir.0.join("a.txt").to_str().unwrap(),
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        args.push(dir.path("b.txt"));
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        flotilla(&args)
    };
    let report = dir.path("cluster-run.html");
    let result = run(&[
        "--output",
        &out,
        "--mapper",
        MAPPER,
        "--reducer",
        REDUCER,
        "--reducers",
        "2",
        "--report",
        &report,
    ]);
    let stderr = text(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("map input records: 3"), "{stderr}");
    // The run report is the scheduler's record of the job: its map and
    // reduce tasks on the worker's two thread lanes.
    let html = fs::read_to_string(&report).unwrap();
    assert!(html.contains("flotilla mapreduce"), "{html}");
    assert!(!html.contains("No task ran."), "{html}");
    assert!(
        html.contains("<td>map</td>") && html.contains("<td>reduce</td>"),
        "{html}"
    );
    assert!(html.contains("worker 0 / thread 1"), "{html}");
    let mut lines: Vec<String> = ["part-00000", "part-00001"]
        .iter()
        .flat_map(|p| {
            fs::read_to_string(PathBuf::from(&out).join(p))
                .unwrap()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        ["cat\t1", "end\t1", "mat\t1", "on\t1", "sat\t1", "the\t3"]
    );

    // A mapper that fails: exit code 1, its stderr in the message, no output.
    let failed = dir.path("failed");
    let result = run(&[
        "--output",
        &failed,
        "--mapper",
        "echo broken pipe dream >&2; exit 5",
        "--reducer",
        "cat",
        "--attempts",
        "1",
    ]);
    assert_eq!(result.status.code(), Some(1));
    let stderr = text(&result.stderr);
    assert!(
        stderr.contains("broken pipe dream") && stderr.contains("status 5"),
        "{stderr}"
    );
    assert!(!PathBuf::from(&failed).exists());
}
