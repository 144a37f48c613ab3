//! Scenario 5 of DESIGN.md: the example runs, maps in order, and its five
//! sleeps run concurrently (five threads at once), which is why they take
//! about one sleep's time.

use std::process::Command;
use std::sync::{Arc, Barrier};

use flotilla::prelude::*;

#[test]
fn five_blocking_sleeps_run_at_once_on_the_io_pool() {
    let io = IoPool::new();
    // Each task waits until all five have started: this only finishes if
    // the pool runs the five at the same time.
    let barrier = Arc::new(Barrier::new(5));
    let futures: Vec<_> = (0..5)
        .map(|i| {
            let b = Arc::clone(&barrier);
            io.submit(move || {
                b.wait();
                i
            })
        })
        .collect();
    let got: Vec<i32> = futures.into_iter().map(|f| f.result().unwrap()).collect();
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert!(io.peak_threads() >= 5);
}

#[test]
fn the_example_runs() {
    let out = Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "-p",
            "flotilla",
            "--example",
            "scenario5_pools",
            "--",
            "0.05",
        ])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("sum of squares: 385"), "{stdout}");
    assert!(stdout.contains("five 0.05 s sleeps finished"), "{stdout}");
}
