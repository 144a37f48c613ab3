//! The sizes tasks report for their results reach the run's report, per
//! worker, and only from attempts that finished.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use flotilla_local::{record_result_bytes, ComputeOptions, CpuPool, Delayed};

fn quiet(pool: &CpuPool) -> ComputeOptions {
    ComputeOptions::new().pool(pool).progress(false)
}

#[test]
fn each_worker_reports_the_bytes_of_the_results_it_made() {
    let pool = CpuPool::with_threads(2).unwrap();
    let leaves: Vec<Delayed<u64>> = (1..=50u64)
        .map(|i| {
            Delayed::from_fn(move || {
                record_result_bytes(i);
                // Calls add up.
                record_result_bytes(i);
                i
            })
        })
        .collect();
    let sum = Delayed::gather(&leaves, |xs| xs.iter().map(|x| **x).sum::<u64>());
    let (total, report) = sum.compute_shared_with(&quiet(&pool)).unwrap();
    assert_eq!(*total, 1275);
    assert_eq!(report.workers.len(), 2);
    assert_eq!(report.result_bytes(), 2 * 1275);
    assert_eq!(
        report.workers.iter().map(|w| w.result_bytes).sum::<u64>(),
        report.result_bytes()
    );
    assert!(report.to_string().ends_with("kB of results"), "{report}");
}

#[test]
fn a_failed_attempt_reports_no_bytes() {
    let pool = CpuPool::with_threads(1).unwrap();
    let tries = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&tries);
    let flaky = Delayed::from_fn(move || {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            record_result_bytes(1_000_000);
            panic!("first attempt fails");
        }
        record_result_bytes(16);
        7u32
    })
    .retries(1);
    let (v, report) = flaky.compute_shared_with(&quiet(&pool)).unwrap();
    assert_eq!(*v, 7);
    assert_eq!(tries.load(Ordering::SeqCst), 2);
    assert_eq!(report.result_bytes(), 16);
}

#[test]
fn a_size_reported_outside_a_graph_task_reaches_no_run() {
    let pool = CpuPool::with_threads(1).unwrap();
    // A plain pool job on the same worker leaves its count behind...
    pool.submit(|| record_result_bytes(999)).result().unwrap();
    record_result_bytes(555);
    // ...which the next graph task on that worker does not inherit.
    let (_, report) = Delayed::from_fn(|| 1u8)
        .compute_shared_with(&quiet(&pool))
        .unwrap();
    assert_eq!(report.result_bytes(), 0);
}
