//! The `flotilla` binary as a user meets it: gen, bench, demo, and errors.

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;

use common::{spawn_logged, start_scheduler, start_scheduler_with, Reaped};

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
    // Only what runs is offered.
    let out = flotilla(&["bench", "W10"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("invalid value 'W10'"),
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

/// Runs an example of the `flotilla` crate with cargo (same target folder).
fn example(name: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["run", "--quiet", "-p", "flotilla", "--example", name, "--"])
        .args(args);
    cmd.output().expect("cargo runs the example")
}

#[test]
fn scenario3_ratings_breakdown_counts_a_generated_u_data_file() {
    let dir = TempDir::new("scenario3");
    let data = dir.path("u.data");
    assert!(
        flotilla(&["gen", "ratings", "--rows", "5000", "--output", &data])
            .status
            .success()
    );
    let body = std::fs::read_to_string(&data).unwrap();
    let mut expected = std::collections::BTreeMap::<String, u64>::new();
    for line in body.lines() {
        *expected
            .entry(line.split('\t').nth(2).unwrap().to_string())
            .or_default() += 1;
    }
    let out = example("scenario3_ratings", &[&data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: std::collections::BTreeMap<String, u64> = text(&out.stdout)
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    assert_eq!(got, expected);
    assert!(
        text(&out.stderr).contains("map input records: 5000"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_wordcount_example_counts_words() {
    let dir = TempDir::new("wordcount");
    let file = dir.path("t.txt");
    std::fs::write(&file, "the cat\nthe dog\n\tthe  end").unwrap();
    let out = example("wordcount", &[&file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("total words: 6"), "{stdout}");
    assert!(stdout.contains("distinct words: 4"), "{stdout}");
    assert!(stdout.contains("3  the"), "{stdout}");
}

#[test]
fn bench_w3_and_w4_run_on_given_inputs() {
    let dir = TempDir::new("w34");
    let ratings = dir.path("r.tsv");
    std::fs::write(&ratings, "1\t2\t5\t9\n1\t3\t5\t9\n2\t2\t1\t9\n").unwrap();
    let out = flotilla(&["bench", "W3", "--input", &ratings]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(r#""result": {"1": 1, "5": 2}"#), "{stdout}");
    assert!(stdout.contains("ratio_to_hand_loop"), "{stdout}");
    let words = dir.path("t.txt");
    std::fs::write(&words, "b a b\nc b a\n").unwrap();
    let out = flotilla(&["bench", "W4", "--input", &words]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(r#""result": {"distinct": 3, "top5": [["b", 3], ["a", 2], ["c", 1]]}"#),
        "{stdout}"
    );
    let bad = dir.path("bad.tsv");
    std::fs::write(&bad, "1\t2\t5\t9\n1\t2\n").unwrap();
    let out = flotilla(&["bench", "W3", "--input", &bad]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(&format!("{bad}:2: bad record")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_word_count_larger_than_its_memory_budget_stays_within_it() {
    // About 1.5M (word, 1) pairs (50-100 MB held in memory) cross the
    // shuffle under a 1 MiB budget:
    // the job must spill and merge instead of holding them.
    let dir = TempDir::new("rss");
    let corpus = dir.path("t.txt");
    assert!(flotilla(&["gen", "text", "--mb", "8", "--output", &corpus])
        .status
        .success());
    let out = flotilla(&[
        "bench",
        "W4",
        "--input",
        &corpus,
        "--no-combiner",
        "--memory-mb",
        "1",
        "--workers",
        "2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    let field = |name: &str| -> f64 {
        let start = line
            .find(&format!("\"{name}\": "))
            .unwrap_or_else(|| panic!("{name} in {line}"))
            + name.len()
            + 4;
        line[start..]
            .split([',', '}'])
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    assert!(field("spilled_bytes") > 1_000_000.0, "{line}");
    assert!(field("shuffled") > 1_400_000.0, "{line}");
    let rss = field("peak_rss_mb");
    eprintln!("peak RSS {rss:.1} MB");
    assert!(rss < 48.0, "peak RSS {rss} MB for a 1 MiB budget: {line}");
}

#[test]
fn weather_aggregates_out_of_core_within_a_budget_several_times_smaller_than_the_file() {
    // A 40 MB CSV aggregated (stats, a Fahrenheit mean, a group-by) with a
    // 4 MiB budget: partitions are read by the tasks that aggregate them and
    // released, so the peak stays far below the file's size — while the
    // same run holding the whole table peaks well above it.
    let dir = TempDir::new("w5-ooc");
    let csv = dir.path("w.csv");
    assert!(
        flotilla(&["gen", "weather", "--rows", "3000000", "--output", &csv])
            .status
            .success()
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["bench", "W5", "--input", &csv];
        args.extend_from_slice(extra);
        let out = flotilla(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let streamed = run(&["--out-of-core", "--memory-mb", "4"]);
    let held = run(&[]);
    // The binary's own footprint (its code pages, its runtime), measured
    // on a file too small to matter: what streaming adds is over it.
    let tiny = dir.path("tiny.csv");
    assert!(
        flotilla(&["gen", "weather", "--rows", "1000", "--output", &tiny])
            .status
            .success()
    );
    let own = {
        let out = flotilla(&[
            "bench",
            "W5",
            "--input",
            &tiny,
            "--out-of-core",
            "--memory-mb",
            "4",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let field = |line: &str, name: &str| -> f64 {
        let start = line
            .find(&format!("\"{name}\": "))
            .unwrap_or_else(|| panic!("{name} in {line}"))
            + name.len()
            + 4;
        line[start..]
            .split([',', '}'])
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let size_mb = std::fs::metadata(&csv).unwrap().len() as f64 / (1 << 20) as f64;
    let (rss_streamed, rss_held) = (field(&streamed, "peak_rss_mb"), field(&held, "peak_rss_mb"));
    let rss_own = field(&own, "peak_rss_mb");
    eprintln!(
        "file {size_mb:.1} MB: peak RSS {rss_streamed:.1} MB streamed, {rss_held:.1} MB held, \
         {rss_own:.1} MB for a file of 1,000 rows"
    );
    assert!(field(&streamed, "partitions") > 20.0, "{streamed}");
    // What the data adds over the binary's own footprint (a debug build's
    // code pages alone are tens of MB) stays well under the file's size.
    assert!(
        rss_streamed - rss_own < size_mb * 0.5,
        "peak RSS {rss_streamed} MB ({rss_own} MB without data) for a {size_mb:.1} MB file: {streamed}"
    );
    assert!(
        rss_streamed < rss_held / 2.5,
        "{rss_streamed} MB streamed vs {rss_held} MB held"
    );
    assert!(
        rss_held > size_mb,
        "the held run should hold the table: {held}"
    );
    for name in ["mean", "max", "f_mean", "checksum"] {
        let (a, b) = (field(&streamed, name), field(&held, name));
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{name}: {a} vs {b}");
    }
    assert_eq!(field(&streamed, "n_stations"), 999.0);
}

#[test]
fn a_user_error_is_a_message_and_an_exit_code_never_a_backtrace() {
    let dir = TempDir::new("usererror");
    let file = dir.path("bad.txt");
    std::fs::write(&file, "1\nslow\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["bench", "W7", "--input", &file])
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(&format!("{file}:2:1")), "{err}");
    assert!(!err.to_lowercase().contains("backtrace"), "{err}");
    assert!(!err.contains("main.rs"), "{err}");
}

#[test]
fn help_describes_the_workloads_and_names_nothing_outside_flotilla() {
    let out = flotilla(&["bench", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(
        help.contains("W5") && help.contains("weather CSV"),
        "{help}"
    );
    for word in ["WORKLOADS", "issue", "arrives", "not built yet"] {
        assert!(!help.contains(word), "help mentions {word:?}: {help}");
    }
    for command in ["demo", "gen", "mapreduce"] {
        let out = flotilla(&[command, "--help"]);
        let help = text(&out.stdout);
        for word in ["WORKLOADS", "issue", "arrives", " W7 durations"] {
            assert!(
                !help.contains(word),
                "{command} help mentions {word:?}: {help}"
            );
        }
    }
}

#[test]
fn w7_runs_on_a_local_cluster_and_reports_utilization() {
    let dir = TempDir::new("w7-cluster");
    let skew = dir.path("skew.txt");
    std::fs::write(&skew, "5\n1\n5\n1\n5\n1\n5\n1\n").unwrap();
    let out = flotilla(&["bench", "W7", "--runtime", "cluster", "--input", &skew]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json = text(&out.stdout);
    assert!(json.contains("\"result\": \"24\""), "{json}");
    assert!(json.contains("\"utilization\": "), "{json}");
    assert!(json.contains("\"policy\": \"work-stealing\""), "{json}");
    // Every placement policy of the in-process engine runs on the cluster too.
    for policy in ["round-robin", "central-queue", "least-loaded-of-two"] {
        let out = flotilla(&[
            "bench",
            "W7",
            "--runtime",
            "cluster",
            "--policy",
            policy,
            "--input",
            &skew,
        ]);
        assert!(out.status.success(), "{policy}: {}", text(&out.stderr));
        let json = text(&out.stdout);
        assert!(json.contains("\"result\": \"24\""), "{policy}: {json}");
        assert!(
            json.contains(&format!("\"policy\": \"{policy}\"")),
            "{json}"
        );
    }
}

#[test]
fn w1_and_w2_run_on_a_local_cluster_of_the_flotilla_binary() {
    for workload in ["W1", "W2"] {
        let out = flotilla(&[
            "bench",
            workload,
            "--runtime",
            "cluster",
            "--workers",
            "2",
            "--n",
            "2000",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let json = text(&out.stdout);
        assert!(json.contains("\"system\": \"flotilla-cluster\""), "{json}");
        let expected = if workload == "W1" {
            "2001000"
        } else {
            "1999000"
        };
        assert!(
            json.contains(&format!("\"result\": \"{expected}\"")),
            "{json}"
        );
    }
}

#[test]
fn a_scheduler_and_a_worker_started_by_hand_show_in_status() {
    use std::process::{Command, Stdio};
    let exe = env!("CARGO_BIN_EXE_flotilla");
    let mut procs = Reaped(Vec::new());
    let addr = start_scheduler(&mut procs, None);
    procs.0.push(
        Command::new(exe)
            .args([
                "worker",
                &addr,
                "--threads",
                "2",
                "--resources",
                "gpu=1",
                "--memory-limit",
                "1G",
            ])
            .env_remove("FLOTILLA_TOKEN")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut report = String::new();
    for _ in 0..200 {
        let out = flotilla(&["status", &addr]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        report = text(&out.stdout);
        if report.contains(": 1 workers") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(report.contains(": 1 workers"), "{report}");
    assert!(
        report.contains("1073.7"),
        "the memory limit in MB: {report}"
    );

    // A scheduler that is not there is an error naming the address.
    let out = flotilla(&["status", "127.0.0.1:1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("connecting to the scheduler at 127.0.0.1:1"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_worker_or_client_without_the_token_is_refused_and_exits_non_zero() {
    use std::process::Command;
    let exe = env!("CARGO_BIN_EXE_flotilla");
    let mut procs = Reaped(Vec::new());
    let addr = start_scheduler(&mut procs, Some("the right one"));
    let worker = Command::new(exe)
        .args(["worker", &addr, "--threads", "1"])
        .env_remove("FLOTILLA_TOKEN")
        .output()
        .unwrap();
    assert!(!worker.status.success());
    let err = text(&worker.stderr);
    assert!(err.contains("requires a token"), "{err}");
    let status = Command::new(exe)
        .args(["status", &addr])
        .env("FLOTILLA_TOKEN", "a wrong one")
        .output()
        .unwrap();
    assert!(!status.status.success());
    assert!(
        text(&status.stderr).contains("wrong token"),
        "{}",
        text(&status.stderr)
    );
    let ok = Command::new(exe)
        .args(["status", &addr])
        .env("FLOTILLA_TOKEN", "the right one")
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", text(&ok.stderr));
}

#[test]
fn a_cluster_with_tls_serves_only_processes_given_its_files() {
    use std::process::{Command, Stdio};
    let exe = env!("CARGO_BIN_EXE_flotilla");
    let dir = TempDir::new("tls");
    let certs = dir.path("certs");
    let out = flotilla(&["tls-certs", &certs]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (ca, cert, key) = (
        format!("{certs}/ca.pem"),
        format!("{certs}/cert.pem"),
        format!("{certs}/key.pem"),
    );
    let mut procs = Reaped(Vec::new());
    let addr = start_scheduler_with(
        &mut procs,
        None,
        &["--tls-ca", &ca, "--tls-cert", &cert, "--tls-key", &key],
    );
    // The worker takes its files from the environment.
    procs.0.push(
        Command::new(exe)
            .args(["worker", &addr, "--threads", "1"])
            .env_remove("FLOTILLA_TOKEN")
            .env("FLOTILLA_TLS_CA", &ca)
            .env("FLOTILLA_TLS_CERT", &cert)
            .env("FLOTILLA_TLS_KEY", &key)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut report = String::new();
    for _ in 0..200 {
        let out = flotilla(&[
            "status",
            &addr,
            "--tls-ca",
            &ca,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        report = text(&out.stdout);
        if report.contains(": 1 workers") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(report.contains(": 1 workers"), "{report}");
    // Without the files: refused, exit code 1, and told what to give.
    let out = flotilla(&["status", &addr]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--tls-ca"),
        "{}",
        text(&out.stderr)
    );
    // Only some of the files: a usage error naming the missing ones.
    let out = flotilla(&["status", &addr, "--tls-ca", &ca]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--tls-key"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn w5_w6_and_w9_run_on_a_local_cluster_with_the_in_process_results() {
    let dir = TempDir::new("w59");
    let cache = dir.path("cache");
    let weather = dir.path("weather.csv");
    let ratings = dir.path("ratings.tsv");
    for (kind, path) in [("weather", &weather), ("ratings", &ratings)] {
        let out = flotilla(&["gen", kind, "--rows", "200000", "--output", path]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let result = |out: &Output| -> String {
        assert!(out.status.success(), "{}", text(&out.stderr));
        let json = text(&out.stdout);
        let at = json.find("\"result\": ").expect("a result") + 10;
        let close = if json[at..].starts_with('[') {
            "]]"
        } else {
            "}"
        };
        let end = at + json[at..].find(close).expect("the result's end") + close.len();
        json[at..end].to_string()
    };
    // W6 (a 10000×10000 random array summed block by block): the same sum.
    let sum = |out: &Output| -> f64 {
        assert!(out.status.success(), "{}", text(&out.stderr));
        let json = text(&out.stdout);
        let at = json.find("\"result\": ").expect("a result") + 10;
        json[at..]
            .split(',')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let (local, cluster) = (
        sum(&flotilla(&["bench", "W6"])),
        sum(&flotilla(&["bench", "W6", "--runtime", "cluster"])),
    );
    assert!((local - cluster).abs() < 1e-6, "{local} vs {cluster}");
    for (workload, input) in [("W5", &weather), ("W9", &ratings)] {
        let args = ["bench", workload, "--input", input, "--cache", &cache];
        let local = flotilla(&args);
        let mut on_cluster = args.to_vec();
        on_cluster.extend(["--runtime", "cluster"]);
        let cluster = flotilla(&on_cluster);
        assert!(text(&cluster.stdout).contains("\"system\": \"flotilla-cluster\""));
        assert_eq!(result(&cluster), result(&local), "{workload}");
    }
}

#[test]
fn w3_w4_and_w8_run_on_a_local_cluster_with_the_in_process_results() {
    let dir = TempDir::new("w348");
    let ratings = dir.path("ratings.tsv");
    let out = flotilla(&["gen", "ratings", "--rows", "300000", "--output", &ratings]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result = |out: &Output| -> String {
        let json = text(&out.stdout);
        let at = json.find("\"result\": ").expect("a result") + 10;
        let end = at + json[at..].find('}').expect("an object") + 1;
        json[at..end].to_string()
    };
    let local = flotilla(&["bench", "W3", "--input", &ratings, "--no-baseline"]);
    assert!(local.status.success(), "{}", text(&local.stderr));
    let cluster = flotilla(&["bench", "W3", "--runtime", "cluster", "--input", &ratings]);
    assert!(cluster.status.success(), "{}", text(&cluster.stderr));
    assert!(text(&cluster.stdout).contains("\"system\": \"flotilla-cluster\""));
    assert_eq!(result(&cluster), result(&local));

    // A worker killed half-way: the same counts, and the slowdown reported.
    let fault = flotilla(&["bench", "W8", "--input", &ratings, "--split-mb", "1"]);
    assert!(fault.status.success(), "{}", text(&fault.stderr));
    let json = text(&fault.stdout);
    assert!(
        json.contains("\"workload\": \"W8\"") && json.contains("\"slowdown\": "),
        "{json}"
    );
    assert_eq!(result(&fault), result(&local));

    let words = dir.path("t.txt");
    std::fs::write(&words, "b a b\nc b a\n").unwrap();
    let out = flotilla(&["bench", "W4", "--runtime", "cluster", "--input", &words]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(r#""result": {"distinct": 3, "top5": [["b", 3], ["a", 2], ["c", 1]]}"#),
        "{stdout}"
    );
}

#[test]
fn demo_report_compares_every_policy_on_every_shape() {
    let dir = TempDir::new("demo-report");
    let report = dir.path("policies.html");
    let out = flotilla(&["demo", "--scale", "0.02", "--report", &report]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&report), "{}", text(&out.stdout));
    let html = std::fs::read_to_string(&report).unwrap();
    for shape in ["heavy", "ramp", "periodic"] {
        assert!(
            html.contains(&format!("<h2>{shape}:")),
            "no section for {shape}"
        );
    }
    for policy in [
        "work-stealing",
        "central-queue",
        "round-robin",
        "block",
        "random",
    ] {
        assert!(html.contains(policy), "{policy} missing");
    }
    // A utilization plot and a task stream per policy and shape.
    assert_eq!(html.matches("<svg class=\"utilization\"").count(), 21);
    assert_eq!(html.matches("<svg class=\"stream\"").count(), 21);
}

#[test]
fn bench_report_draws_the_workloads_run_and_refuses_an_unwritable_path() {
    let dir = TempDir::new("bench-report");
    let report = dir.path("w2.html");
    let out = flotilla(&[
        "bench",
        "W2",
        "--n",
        "1000",
        "--no-baseline",
        "--report",
        &report,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("flotilla bench W2"));
    assert!(html.contains("<svg class=\"stream\""));

    let bad = dir.path("missing/w2.html");
    let out = flotilla(&["bench", "W2", "--n", "1000", "--report", &bad]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot write the report") && err.contains("missing"),
        "{err}"
    );
    assert!(
        text(&out.stdout).is_empty(),
        "nothing ran: {}",
        text(&out.stdout)
    );
}

#[test]
fn bench_report_of_a_cluster_run_is_the_schedulers_record() {
    let dir = TempDir::new("bench-cluster-report");
    let report = dir.path("w7.html");
    let file = dir.path("tiny.txt");
    std::fs::write(&file, "5\n1\n2\n1\n3\n1\n").unwrap();
    let out = flotilla(&[
        "bench",
        "W7",
        "--runtime",
        "cluster",
        "--workers",
        "2",
        "--input",
        &file,
        "--report",
        &report,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("flotilla bench W7"), "{html}");
    assert!(!html.contains("No task ran."), "{html}");
    // Two worker processes, one thread each: a lane for each.
    assert!(
        html.contains("worker 0 / thread 0") && html.contains("worker 1 / thread 0"),
        "{html}"
    );
}

#[test]
fn images_writes_a_run_report_of_its_tasks() {
    let dir = TempDir::new("images-report");
    let images = dir.path("images");
    let report = dir.path("images.html");
    let db = format!("sqlite:{}", dir.path("images.db"));
    let out = flotilla(&[
        "images",
        "--input",
        &images,
        "--synthetic",
        "4",
        "--db",
        &db,
        "--threads",
        "2",
        "--report",
        &report,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("flotilla images"), "{html}");
    assert!(html.contains("<td>analyze_image</td>"), "{html}");
    assert!(!html.contains("No task ran."), "{html}");

    // A report that cannot be written stops the run before it starts.
    let bad = dir.path("missing/images.html");
    let out = flotilla(&["images", "--input", &images, "--db", &db, "--report", &bad]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("cannot write the report"), "{err}");
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    use std::io::BufRead;
    let mut procs = Reaped(Vec::new());
    let mut log = spawn_logged(
        &mut procs,
        Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args([
                "--log-format",
                "json",
                "scheduler",
                "--listen",
                "127.0.0.1:0",
                "--no-dashboard",
            ])
            .env_remove("FLOTILLA_LOG_FORMAT"),
    );
    let mut line = String::new();
    log.read_line(&mut line).unwrap();
    let line = line.trim();
    assert!(line.starts_with('{') && line.ends_with('}'), "{line}");
    for field in [
        "\"timestamp\":",
        "\"level\":\"INFO\"",
        "\"component\":\"scheduler\"",
        "listening on 127.0.0.1:",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}

#[test]
fn the_scheduler_serves_its_dashboard_and_metrics_where_asked() {
    let mut procs = Reaped(Vec::new());
    let mut log = spawn_logged(
        &mut procs,
        Command::new(env!("CARGO_BIN_EXE_flotilla")).args([
            "scheduler",
            "--listen",
            "127.0.0.1:0",
            "--dashboard",
            "127.0.0.1:0",
        ]),
    );
    let dashboard = dashboard_address(&mut log);
    let response = http_get(&dashboard, "/metrics");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("flotilla_tasks{state=\"done\"} 0"),
        "{response}"
    );

    // An address that cannot be served, given explicitly, is an error.
    let out = flotilla(&[
        "scheduler",
        "--listen",
        "127.0.0.1:0",
        "--dashboard",
        "no-port",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot serve the dashboard at no-port"),
        "{}",
        text(&out.stderr)
    );
}

/// The address on the first line of `log` that says where a dashboard is
/// served.
fn dashboard_address(log: &mut impl std::io::BufRead) -> String {
    loop {
        let mut line = String::new();
        assert!(log.read_line(&mut line).unwrap() > 0, "no dashboard line");
        if let Some(rest) = line.split("dashboard at http://").nth(1) {
            let url = rest.split_whitespace().next().unwrap_or_default();
            return url.trim_end_matches('/').to_string();
        }
    }
}

/// The whole HTTP response to `GET path` from `addr`.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut http = std::net::TcpStream::connect(addr).unwrap();
    write!(
        http,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    http.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn a_worker_serves_its_own_dashboard_and_metrics() {
    let mut procs = Reaped(Vec::new());
    let addr = start_scheduler_with(&mut procs, None, &["--no-dashboard"]);
    let mut log = spawn_logged(
        &mut procs,
        Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args([
                "worker",
                &addr,
                "--threads",
                "2",
                "--dashboard",
                "127.0.0.1:0",
            ])
            .env_remove("FLOTILLA_TOKEN"),
    );
    let dashboard = dashboard_address(&mut log);

    // A streaming job on the cluster: its map and reduce tasks run here.
    let dir = TempDir::new("worker-dashboard");
    let input = dir.path("words.txt");
    std::fs::write(&input, "a b a\nc a b\n").unwrap();
    let out = flotilla(&[
        "mapreduce",
        "--scheduler",
        &addr,
        "--input",
        &input,
        "--output",
        &dir.path("out"),
        "--mapper",
        r#"awk '{ for (i = 1; i <= NF; i++) print $i "\t1" }'"#,
        "--reducer",
        "cat",
        "--reducers",
        "2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // One map task (one small split) and two reduce tasks, by kind,
    // among the job's tasks. A worker reports a task's outcome before its
    // pool records the attempt, so the last one may show a moment later.
    let done = |m: &str| {
        m.contains("flotilla_task_duration_seconds_count{kind=\"map\"} 1\n")
            && m.contains("flotilla_task_duration_seconds_count{kind=\"reduce\"} 2\n")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut metrics = http_get(&dashboard, "/metrics");
    while !done(&metrics) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        metrics = http_get(&dashboard, "/metrics");
    }
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(done(&metrics), "{metrics}");
    assert!(
        metrics.contains("flotilla_tasks{state=\"failed\"} 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("flotilla_spilled_bytes{worker=\"0\"} 0\n"),
        "{metrics}"
    );
    let page = http_get(&dashboard, "/api/view");
    assert!(page.contains("flotilla worker"), "{page}");
}
