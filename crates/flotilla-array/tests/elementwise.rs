//! Element-wise operations: results against ndarray, fusion (no graph node
//! per operation), mixed chunkings, integer semantics and panics.

use flotilla_array::{Array, ArrayError};
use flotilla_local::TaskError;
use ndarray::ArrayD;

fn data(shape: &[usize], scale: f64) -> ArrayD<f64> {
    let mut i = 0.0;
    ArrayD::from_shape_simple_fn(shape, || {
        i += 1.0;
        ((i * 7.3) % 11.0 - 5.0) * scale
    })
}

#[test]
fn arithmetic_matches_ndarray() {
    let x = data(&[9, 14], 1.0);
    let y = data(&[9, 14], 0.5).mapv(|v| v + 7.0);
    let a = Array::from_ndarray(&x, [4, 5]).unwrap();
    let b = Array::from_ndarray(&y, [4, 5]).unwrap();
    assert_eq!((&a + &b).unwrap().compute().unwrap(), &x + &y);
    assert_eq!((&a - &b).unwrap().compute().unwrap(), &x - &y);
    assert_eq!((&a * &b).unwrap().compute().unwrap(), &x * &y);
    assert_eq!((&a / &b).unwrap().compute().unwrap(), &x / &y);
    assert_eq!(
        (&a * 3.0 + 1.0).compute().unwrap(),
        x.mapv(|v| v * 3.0 + 1.0)
    );
    assert_eq!((2.0 / &b).compute().unwrap(), y.mapv(|v| 2.0 / v));
    assert_eq!((1.0 - &a).compute().unwrap(), x.mapv(|v| 1.0 - v));
    assert_eq!((-&a).compute().unwrap(), x.mapv(|v| -v));
    assert_eq!(
        a.abs().sqrt().compute().unwrap(),
        x.mapv(|v| v.abs().sqrt())
    );
    assert_eq!(b.ln().exp().compute().unwrap(), y.mapv(|v| v.ln().exp()));
    assert_eq!(a.powi(3).compute().unwrap(), x.mapv(|v| v.powi(3)));
    assert_eq!(
        a.zip_with(&b, f64::max).unwrap().compute().unwrap(),
        ndarray::Zip::from(&x).and(&y).map_collect(|p, q| p.max(*q))
    );
}

#[test]
fn arrays_of_other_chunkings_are_rechunked_to_the_left() {
    let x = data(&[20, 17], 1.0);
    let y = data(&[20, 17], 2.0);
    let a = Array::from_ndarray(&x, [6, 5]).unwrap();
    let b = Array::from_ndarray(&y, vec![vec![1, 19], vec![17]]).unwrap();
    let c = (&a + &b).unwrap();
    assert_eq!(c.chunks(), a.chunks());
    assert_eq!(c.compute().unwrap(), &x + &y);
    // And generated arrays combined with stored ones.
    let r = Array::random(&[20, 17], [3, 8], 1).unwrap();
    let expected = &r.compute().unwrap() * &x;
    assert_eq!((&a * &r).unwrap().compute().unwrap(), expected);
}

#[test]
fn chains_are_fused_into_one_task_per_block() {
    let a = Array::random(&[400, 400], [100, 100], 3).unwrap();
    let plain = a.sum().task_count();
    let chained = ((&a * 2.0 - 1.0).abs().sqrt().map(|v| v + 1.0) / 3.0).sum();
    assert_eq!(chained.task_count(), plain);
    assert_eq!(plain, 16 + 2 + 1);
    // Two generated arrays combined: still one task per block.
    let b = Array::random(&[400, 400], [100, 100], 4).unwrap();
    assert_eq!((&a + &b).unwrap().map(f64::sin).sum().task_count(), plain);
    // The chained value is right.
    let x = a.compute().unwrap();
    let expected: f64 = x.mapv(|v| ((v * 2.0 - 1.0).abs().sqrt() + 1.0) / 3.0).sum();
    let got = chained.compute().unwrap();
    assert!(
        (got - expected).abs() < 1e-9 * expected.abs(),
        "{got} vs {expected}"
    );
}

#[test]
fn stored_blocks_are_read_once_not_copied_per_operation() {
    let a = Array::from_ndarray(&data(&[10, 10], 1.0), [5, 5]).unwrap();
    // 4 stored blocks + 4 partial sums + 1 final task.
    assert_eq!(a.map(|v| v * 2.0).sum().task_count(), 9);
    // Computing a stored array reuses its blocks: 4 values + the assembly.
    assert_eq!(a.task_count(), 5);
    assert_eq!((&a + 1.0).task_count(), 9);
}

#[test]
fn integer_arithmetic_wraps_and_divides_like_numpy() {
    let a = Array::<i64>::arange(5, 2).unwrap();
    assert_eq!((&a - 2).compute_vec().unwrap(), [-2, -1, 0, 1, 2]);
    assert_eq!((&a * 3).compute_vec().unwrap(), [0, 3, 6, 9, 12]);
    assert_eq!((7 / &a).compute_vec().unwrap(), [0, 7, 3, 2, 1]);
    assert_eq!((&a / 2).compute_vec().unwrap(), [0, 0, 1, 1, 2]);
    let big = Array::full(&[2], 1, i64::MAX).unwrap();
    assert_eq!((big + 1).compute_vec().unwrap(), [i64::MIN, i64::MIN]);
    assert_eq!(
        a.as_f64().map(|v| v / 2.0).compute_vec().unwrap(),
        [0.0, 0.5, 1.0, 1.5, 2.0]
    );
    assert_eq!(a.map_to(|v| v as f64).sum().compute().unwrap(), 10.0);
    assert_eq!(a.clip(1, 3).compute_vec().unwrap(), [1, 1, 2, 3, 3]);
}

#[test]
fn a_panic_in_a_closure_names_the_block() {
    let a = panicking_at_42(&Array::<i64>::arange(100, 10).unwrap());
    let err = a.sum().compute().unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            ArrayError::Task(TaskError::DependencyFailed { .. })
                | ArrayError::Task(TaskError::Panicked { .. })
        ),
        "{err:?}"
    );
    assert!(
        message.contains("arange|map|sum[4]") && message.contains("in block [4]"),
        "{message}"
    );
    assert!(message.contains("no element 42"), "{message}");
    // The same panic when the array itself is computed.
    let message = a.compute().unwrap_err().to_string();
    assert!(
        message.contains("arange|map|compute[4]") && message.contains("in block [4]"),
        "{message}"
    );
}

/// `a` mapped by a closure that panics on element 42 (in block 4 of
/// 10-element chunks).
fn panicking_at_42(a: &Array<i64>) -> Array<i64> {
    a.map(|x| {
        if x == 42 {
            panic!("no element 42");
        }
        x
    })
}

#[test]
fn panics_in_two_dimensional_blocks_name_the_block_coordinates() {
    let a = Array::random(&[40, 40], [10, 20], 0).unwrap().map(|v| {
        if v > 0.0 {
            panic!("boom")
        } else {
            v
        }
    });
    let message = a.max().compute().unwrap_err().to_string();
    // Some block fails first; the message names its two grid coordinates
    // after the panic's own, as in `boom — in block [0,1]`, and its task,
    // keyed by the block's row-major number, as in `random|map|max[1]`.
    let names_a_block = message.split("in block [").skip(1).any(|rest| {
        rest.split_once(']').is_some_and(|(coords, _)| {
            let parts: Vec<_> = coords.split(',').collect();
            parts.len() == 2
                && parts
                    .iter()
                    .all(|p| p.parse::<usize>().is_ok_and(|c| c < 4))
        })
    }) && message.split("random|map|max[").skip(1).any(|rest| {
        rest.split_once(']')
            .is_some_and(|(n, _)| n.parse::<usize>().is_ok_and(|n| n < 8))
    });
    assert!(
        names_a_block && message.starts_with("boom") && message.contains("panicked"),
        "{message}"
    );
}
