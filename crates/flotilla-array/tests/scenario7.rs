//! Scenario 7 of flotilla's design, smaller: a random array in square
//! chunks summed, `arange(n)` summed and its maximum — through the library
//! calls of the example, and through the example binary itself.

use std::process::Command;

use flotilla_array::{uniform_at, Array};
use flotilla_local::{ComputeOptions, CpuPool};

#[test]
fn the_scenario_computes_the_known_values() {
    let pool = CpuPool::with_threads(2).unwrap();
    let options = ComputeOptions::new().pool(&pool).progress(false);

    let (size, chunk, seed) = (2000, 500, 42);
    let x = Array::random(&[size, size], [chunk, chunk], seed).unwrap();
    let total = x.sum().compute_with(&options).unwrap();
    let mean = total / (size * size) as f64;
    assert!((mean - 0.5).abs() < 0.001, "mean {mean}");
    // The same sum, element by element, from the generator's definition.
    let direct: f64 = (0..(size * size) as u64).map(|i| uniform_at(seed, i)).sum();
    assert!(
        (total - direct).abs() < 1e-9 * direct,
        "{total} vs {direct}"
    );

    let n = 1_000_000_i64;
    let a = Array::<i64>::arange(n as usize, 100_000).unwrap();
    assert_eq!(a.sum().compute_with(&options).unwrap(), n * (n - 1) / 2);
    assert_eq!(a.max().compute_with(&options).unwrap(), n - 1);
}

#[test]
fn the_example_prints_the_known_values() {
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--quiet",
            "-p",
            "flotilla-array",
            "--example",
            "scenario7_array",
            "--",
        ])
        .args([
            "--size",
            "1000",
            "--chunk",
            "300",
            "--n",
            "10000",
            "--threads",
            "2",
        ])
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the example failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("(16 blocks, 2 threads)"), "{stdout}");
    assert!(
        stdout.contains("arange(10000) sum = 49995000\n"),
        "{stdout}"
    );
    assert!(stdout.contains("arange(10000) max = 9999\n"), "{stdout}");
    let mean: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("random mean = "))
        .and_then(|m| m.parse().ok())
        .expect("a mean line");
    assert!((mean - 0.5).abs() < 0.002, "{mean}");
}
