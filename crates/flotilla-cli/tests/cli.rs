//! The `flotilla` binary as a user meets it: gen, bench, demo, and errors.

use std::path::PathBuf;
use std::process::{Command, Output};

fn flotilla(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .env("FLOTILLA_NO_PROGRESS", "1")
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
        let p = std::env::temp_dir().join(format!("flotilla-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, f: &str) -> String {
        self.0.join(f).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn bench_w1_prints_json_lines_with_the_sum() {
    let out = flotilla(&["bench", "W1", "--n", "1000"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let ours = stdout
        .lines()
        .find(|l| l.contains("\"flotilla-local\""))
        .expect("a flotilla line");
    assert!(ours.starts_with('{') && ours.ends_with('}'), "{ours}");
    assert!(ours.contains("\"result\": \"500500\""), "{ours}");
    assert!(ours.contains("\"us_per_task\""), "{ours}");
    assert!(stdout.contains("\"rayon-spawn\""), "{stdout}");
}

#[test]
fn bench_w2_computes_the_tree_sum() {
    let out = flotilla(&["bench", "W2", "--n", "1000"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("\"result\": \"499500\""),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn bench_w7_prints_every_policy_for_a_skew_file() {
    let dir = TempDir::new("w7");
    let file = dir.path("tiny.txt");
    std::fs::write(&file, "1\n0.5\n2\n0.25\n1\n").unwrap();
    let out = flotilla(&["bench", "W7", "--input", &file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 7, "{stdout}");
    for p in [
        "work-stealing",
        "central-queue",
        "round-robin",
        "block",
        "block-cyclic",
        "random",
        "least-loaded-of-two",
    ] {
        assert!(
            stdout.contains(&format!("\"policy\": \"{p}\"")),
            "{p} missing: {stdout}"
        );
    }
    assert!(stdout
        .lines()
        .all(|l| l.contains("\"utilization\"") && l.contains("\"makespan\"")));
}

#[test]
fn a_bad_skew_file_is_named_with_its_line() {
    let dir = TempDir::new("badskew");
    let file = dir.path("bad.txt");
    std::fs::write(&file, "1\n2\nfast\n").unwrap();
    let out = flotilla(&["bench", "W7", "--input", &file]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{file}:3:1")), "{err}");
    assert!(err.contains("\"fast\""), "{err}");
}

#[test]
fn unimplemented_workloads_and_bad_options_are_clear_errors() {
    let out = flotilla(&["bench", "W3"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not implemented yet"),
        "{}",
        text(&out.stderr)
    );
    let out = flotilla(&["bench", "W1", "--runtime", "cluster"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cluster"),
        "{}",
        text(&out.stderr)
    );
    let out = flotilla(&["bench", "W7", "--policy", "fastest"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("unknown placement policy"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn gen_writes_the_data_sets() {
    let dir = TempDir::new("gen");
    let ratings = dir.path("r.tsv");
    let out = flotilla(&["gen", "ratings", "--rows", "1000", "--output", &ratings]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body = std::fs::read_to_string(&ratings).unwrap();
    assert_eq!(body.lines().count(), 1000);
    assert!(body.lines().all(|l| l.split('\t').count() == 4));
    let items = dir.path("items.csv");
    assert!(flotilla(&["gen", "items", "--output", &items])
        .status
        .success());
    assert!(std::fs::read_to_string(&items)
        .unwrap()
        .starts_with("item_id,genre\n"));
    let skew = dir.path("skew.txt");
    assert!(
        flotilla(&["gen", "skew", "--shape", "ramp", "--output", &skew])
            .status
            .success()
    );
    assert_eq!(std::fs::read_to_string(&skew).unwrap().lines().count(), 200);
}

#[test]
fn demo_prints_the_comparison_table() {
    let out = flotilla(&["demo", "--scale", "0.002"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for shape in ["heavy", "ramp", "periodic"] {
        assert_eq!(
            stdout.lines().filter(|l| l.starts_with(shape)).count(),
            7,
            "{shape}: {stdout}"
        );
    }
    assert!(stdout.contains("utilization"));
    let out = flotilla(&["demo", "--scale=-1"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--scale"));
}
