//! Computing arrays: into ndarray arrays and vectors, into stored blocks
//! (`persist`), and the graph that does it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use flotilla_array::{Array, Scalar};
use flotilla_local::{ComputeOptions, CpuPool};
use ndarray::Array2;

#[test]
fn arrays_and_reductions_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Array<f64>>();
    send_sync::<Array<i64>>();
    send_sync::<Scalar<usize>>();
}

#[test]
fn computed_forms_agree() {
    let x = Array2::from_shape_fn((5, 7), |(i, j)| (i * 10 + j) as i64);
    let a = Array::from_ndarray(&x, [2, 3]).unwrap();
    assert_eq!(a.compute_2d().unwrap(), x);
    assert_eq!(a.compute().unwrap(), x.clone().into_dyn());
    assert_eq!(
        a.compute_vec().unwrap(),
        x.iter().copied().collect::<Vec<_>>()
    );
    let pool = CpuPool::with_threads(1).unwrap();
    let opts = ComputeOptions::new().pool(&pool).progress(false);
    assert_eq!(a.compute_with(&opts).unwrap(), x.into_dyn());
}

#[test]
fn persist_runs_the_chain_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let a = Array::random(&[60, 40], [25, 15], 9)
        .unwrap()
        .map(move |v| {
            seen.fetch_add(1, Ordering::Relaxed);
            v * 10.0
        });
    // Without persist, every consumer runs the map again.
    let _ = a.sum().compute().unwrap();
    let _ = a.max().compute().unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 2 * 2400);
    calls.store(0, Ordering::Relaxed);
    let p = a.persist().unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 2400);
    assert_eq!(p.chunks(), a.chunks());
    assert_eq!(p.compute().unwrap(), a.compute().unwrap());
    calls.store(0, Ordering::Relaxed);
    let _ = p.sum().compute().unwrap();
    let _ = (&p + &p.slice(&[0..60, 0..40]).unwrap())
        .unwrap()
        .mean()
        .compute()
        .unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

#[test]
fn the_graph_names_blocks_and_operations() {
    let a = Array::random(&[4, 4], [2, 2], 0).unwrap().map(|v| v + 1.0);
    let dot = a.sum().to_dot();
    // Blocks (0, 0), (0, 1), (1, 0), (1, 1): numbers 0 to 3, row-major.
    for block in 0..4 {
        let key = format!("\"random|map|sum[{block}]\"");
        assert!(dot.contains(&key), "{key} in {dot}");
    }
    assert!(dot.contains("\"random|map|sum-combine[0]\""), "{dot}");
}

#[test]
fn the_same_array_gets_the_same_keys_whatever_was_built_before() {
    let build = || {
        let a = Array::random(&[6, 4], [2, 2], 7).unwrap().map(|v| v * 2.0);
        (a.sum().to_dot(), a.to_dot())
    };
    let first = build();
    // Other arrays built, and computed, in between.
    let b = Array::<f64>::ones(&[10], 3).unwrap();
    assert_eq!((&b + 1.0).sum().compute().unwrap(), 20.0);
    let _ = build();
    assert_eq!(build(), first);
    assert!(first.0.contains("\"random|map|sum[5]\""), "{}", first.0);
    assert!(
        first.1.contains("\"random|map|compute-all[0]\""),
        "{}",
        first.1
    );
}

#[test]
fn two_operations_of_one_name_in_a_graph_get_distinct_keys_of_one_kind() {
    let p = Array::<f64>::ones(&[4], 2).unwrap().persist().unwrap();
    let q = Array::<f64>::ones(&[4], 2).unwrap().persist().unwrap();
    let sum = (&p + &q).unwrap().sum();
    assert_eq!(sum.compute().unwrap(), 8.0);
    let dot = sum.to_dot();
    // Both of kind `full|persist`: the part of the name before `#`.
    for key in [
        "full|persist[1]",
        "full|persist#2[1]",
        "full|persist|add|sum[1]",
    ] {
        assert!(dot.contains(&format!("\"{key}\"")), "{key} in {dot}");
    }
}
