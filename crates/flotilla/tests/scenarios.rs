//! The release scenarios of flotilla's design that live in
//! `crates/flotilla/examples/`: each is recomputed here through the same
//! library calls and checked for exact values, and each example binary is
//! run (through `cargo run`, which rebuilds it only when it is stale) and
//! its output checked.
//!
//! | scenario | example |
//! |---|---|
//! | 1. sum of squares by map-reduce | `scenario1_sum_of_squares` |
//! | 2. scatter-gather: three ranges summed by a pool of three | `scenario2_scatter_gather` |
//! | 4. a three-stage pipeline as a task graph | `scenario4_pipeline_graph` |
//! | 6. a parallel loop of 10 delayed multiplications | `scenario6_delayed_loop` |
//! | 9. a cluster client: map, slow tasks with a progress bar, an image pipeline | `scenario9_cluster` |

use std::process::Command;

use flotilla::patterns::pipeline::Pipeline;
use flotilla::patterns::{scatter_gather, MapReduce};
use flotilla::{ComputeOptions, CpuPool, Delayed};

/// Runs `cargo run --quiet -p flotilla --example NAME -- ARGS` with the
/// cargo that runs this test (and its target directory), and returns the
/// example's standard output after checking that it succeeded.
fn run_example(name: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "-p", "flotilla", "--example", name, "--"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("could not start cargo for example {name}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "example {name} failed with {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn assert_has_line(stdout: &str, line: &str) {
    assert!(
        stdout.lines().any(|l| l.trim_end() == line),
        "expected the line {line:?} in:\n{stdout}"
    );
}

// ---- scenario 1 -----------------------------------------------------------

fn sum_of_squares(pool: &CpuPool, data: Vec<u64>) -> u64 {
    let job = MapReduce::new(
        |x: u64| Some(((), x * x)),
        |_, squares: Vec<u64>| squares.into_iter().sum::<u64>(),
    )
    .combiner(|_, squares| squares.into_iter().sum());
    let out = job.run(pool, data).unwrap();
    out.iter().map(|(_, sum)| sum).sum()
}

#[test]
fn scenario1_sum_of_squares_by_map_reduce() {
    let pool = CpuPool::with_threads(4).unwrap();
    assert_eq!(sum_of_squares(&pool, vec![1, 2, 3, 4, 5]), 55);
    assert_eq!(sum_of_squares(&pool, (1..=1000).collect()), 333_833_500);
}

#[test]
fn scenario1_example_prints_the_result() {
    let stdout = run_example("scenario1_sum_of_squares", &[]);
    assert_has_line(&stdout, "MapReduce Result: 55");
    assert_has_line(&stdout, "sum of squares of 1..=1000: 333833500");
    assert_has_line(&stdout, "on a process pool of 3: 55");
}

// ---- scenario 2 -----------------------------------------------------------

#[test]
fn scenario2_three_ranges_summed_by_a_pool_of_three() {
    let pool = CpuPool::with_threads(3).unwrap();
    let (partials, total) = scatter_gather(
        &pool,
        (1..=30u64).collect(),
        3,
        |part: &[u64]| part.iter().sum::<u64>(),
        |partials| {
            let total: u64 = partials.iter().sum();
            (partials, total)
        },
    )
    .unwrap();
    assert_eq!(partials, [55, 155, 255]);
    assert_eq!(total, 465);
}

#[test]
fn scenario2_example_prints_partials_and_total() {
    let stdout = run_example("scenario2_scatter_gather", &[]);
    assert_has_line(&stdout, "partial sums: [55, 155, 255]");
    assert_has_line(&stdout, "Gathered Result: 465");
}

// ---- scenario 4 -----------------------------------------------------------

#[test]
fn scenario4_three_stage_pipeline_as_a_task_graph_and_as_a_pipeline() {
    let expected: Vec<i64> = (0..10).map(|x| (x + 1) * 2 - 3).collect();

    let outputs: Vec<Delayed<i64>> = (0..10i64)
        .map(|x| {
            Delayed::value(x)
                .map(|x| x + 1)
                .map(|x| x * 2)
                .map(|x| x - 3)
        })
        .collect();
    let all = Delayed::gather(&outputs, |xs| xs.iter().map(|x| **x).collect::<Vec<i64>>());
    assert_eq!(all.task_count(), 10 * 4 + 1);
    let pool = CpuPool::with_threads(4).unwrap();
    let from_graph = all
        .compute_with(&ComputeOptions::new().pool(&pool))
        .unwrap();
    assert_eq!(from_graph, expected);

    let from_pipeline = Pipeline::from_iter(0..10i64)
        .map_stage("stage one", 2, |x| x + 1)
        .map_stage("stage two", 2, |x| x * 2)
        .map_stage("stage three", 2, |x| x - 3)
        .collect()
        .unwrap();
    assert_eq!(from_pipeline, expected);
}

#[test]
fn scenario4_example_shows_both_ways_agree() {
    let stdout = run_example("scenario4_pipeline_graph", &[]);
    let values = "[-1, 1, 3, 5, 7, 9, 11, 13, 15, 17]";
    assert_has_line(&stdout, &format!("task graph (41 tasks): {values}"));
    assert_has_line(&stdout, &format!("pipeline: {values}"));
    assert_has_line(&stdout, "agree: true");
}

// ---- scenario 6 -----------------------------------------------------------

#[test]
fn scenario6_a_parallel_loop_of_ten_delayed_multiplications() {
    let products: Vec<Delayed<i64>> = (0..10).map(|i| Delayed::value(i).map(|x| x * 2)).collect();
    let total = Delayed::gather(&products, |xs| xs.iter().copied().sum::<i64>());
    assert_eq!(total.task_count(), 21);
    assert_eq!(total.compute().unwrap(), 90);
}

#[test]
fn scenario6_example_prints_the_total_and_the_graph() {
    let stdout = run_example("scenario6_delayed_loop", &[]);
    assert_has_line(&stdout, "results: [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]");
    assert_has_line(&stdout, "total: 90 (21 tasks)");
    assert!(
        !stdout.contains("digraph"),
        "no DOT without --dot:\n{stdout}"
    );

    let stdout = run_example("scenario6_delayed_loop", &["--dot"]);
    assert_has_line(&stdout, "total: 90 (21 tasks)");
    assert!(stdout.contains("digraph"), "{stdout}");
    for i in 0..10 {
        assert!(
            stdout.contains(&format!("\"multiply[{i}]\" -> \"sum\"")),
            "{stdout}"
        );
    }
}

// ---- scenario 9 -----------------------------------------------------------

#[test]
fn scenario9_example_runs_on_a_local_cluster_of_its_own_binary() {
    // Three worker processes of the example; the slow tasks shortened.
    let out = run_example("scenario9_cluster", &["--workers", "3", "--seconds", "0.1"]);
    assert_has_line(&out, "add: [10, 12, 14, 16, 18, 20, 22, 24, 26, 28]");
    let slow = out
        .lines()
        .find(|l| l.starts_with("ten tasks of 0.1 s on 3 workers"))
        .unwrap_or_else(|| panic!("no line of the slow tasks in:\n{out}"));
    assert!(
        slow.ends_with("results [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"),
        "{slow}"
    );
    // The pipeline's numbers depend only on the seeded images.
    assert_has_line(
        &out,
        "images: 24 (1483776 pixels after resizing), mean brightness 72.4, mean edge density 0.025, brightest image 9",
    );
    assert!(
        out.contains("tasks moved between workers by work stealing: "),
        "{out}"
    );

    // The same program in this process gives the same results.
    let here = run_example(
        "scenario9_cluster",
        &["--in-process", "--workers", "2", "--seconds", "0.01"],
    );
    assert_has_line(&here, "add: [10, 12, 14, 16, 18, 20, 22, 24, 26, 28]");
    assert_has_line(
        &here,
        "images: 24 (1483776 pixels after resizing), mean brightness 72.4, mean edge density 0.025, brightest image 9",
    );
}
