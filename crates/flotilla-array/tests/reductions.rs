//! Reductions over all elements and along each axis of 3-D arrays with
//! ragged chunks, against plain ndarray; tree shapes; numerics; empty
//! arrays.

use std::collections::HashMap;

use flotilla_array::{Array, ArrayError};
use ndarray::{ArrayD, Axis};

/// A 3-D array with repeated values (ties for argmin/argmax), negative
/// values and a large offset (a test for the variance's numerics).
fn data(shape: &[usize], offset: f64) -> ArrayD<f64> {
    let mut i = 0u64;
    ArrayD::from_shape_simple_fn(shape, || {
        i += 1;
        offset + ((i * 2654435761) % 1009) as f64 / 7.0 - 60.0
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

fn assert_close(got: &ArrayD<f64>, expected: &ArrayD<f64>, what: &str) {
    assert_eq!(got.shape(), expected.shape(), "{what}");
    for (g, e) in got.iter().zip(expected.iter()) {
        assert!(close(*g, *e), "{what}: {g} vs {e}");
    }
}

fn first_arg(values: impl Iterator<Item = f64>, max: bool) -> i64 {
    let mut best: Option<(f64, i64)> = None;
    for (i, v) in values.enumerate() {
        let better = match best {
            None => true,
            Some((b, _)) => (max && v > b) || (!max && v < b),
        };
        if better {
            best = Some((v, i as i64));
        }
    }
    best.map_or(-1, |b| b.1)
}

const SHAPE: [usize; 3] = [7, 11, 6];
const CHUNKS: [usize; 3] = [3, 4, 4];

#[test]
fn whole_array_reductions_match_ndarray() {
    let x = data(&SHAPE, 0.0);
    let a = Array::from_ndarray(&x, CHUNKS).unwrap();
    let n = x.len() as f64;
    let mean = x.sum() / n;
    let m2: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
    assert!(close(a.sum().compute().unwrap(), x.sum()));
    assert!(close(a.mean().compute().unwrap(), mean));
    assert!(close(a.var().compute().unwrap(), m2 / n));
    assert!(close(a.var_ddof(1).compute().unwrap(), m2 / (n - 1.0)));
    assert!(close(a.std().compute().unwrap(), (m2 / n).sqrt()));
    assert!(close(
        a.std_ddof(2).compute().unwrap(),
        (m2 / (n - 2.0)).sqrt()
    ));
    let min = x.iter().copied().fold(f64::INFINITY, f64::min);
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(a.min().compute().unwrap(), min);
    assert_eq!(a.max().compute().unwrap(), max);
    assert_eq!(
        a.argmin().compute().unwrap() as i64,
        first_arg(x.iter().copied(), false)
    );
    assert_eq!(
        a.argmax().compute().unwrap() as i64,
        first_arg(x.iter().copied(), true)
    );
}

#[test]
fn axis_reductions_of_a_3d_array_match_ndarray() {
    let x = data(&SHAPE, 0.0);
    let a = Array::from_ndarray(&x, CHUNKS).unwrap();
    for axis in 0..3 {
        let ax = Axis(axis);
        let what = |op: &str| format!("{op} along axis {axis}");
        let sum = a.sum_axis(axis).unwrap();
        let mut out_chunks = a.chunks().to_vec();
        out_chunks.remove(axis);
        assert_eq!(sum.chunks(), out_chunks, "{}", what("chunks"));
        assert_close(&sum.compute().unwrap(), &x.sum_axis(ax), &what("sum"));
        assert_close(
            &a.mean_axis(axis).unwrap().compute().unwrap(),
            &x.mean_axis(ax).unwrap(),
            &what("mean"),
        );
        assert_close(
            &a.var_axis(axis).unwrap().compute().unwrap(),
            &x.var_axis(ax, 0.0),
            &what("var"),
        );
        assert_close(
            &a.var_axis_ddof(axis, 1).unwrap().compute().unwrap(),
            &x.var_axis(ax, 1.0),
            &what("var ddof 1"),
        );
        assert_close(
            &a.std_axis(axis).unwrap().compute().unwrap(),
            &x.std_axis(ax, 0.0),
            &what("std"),
        );
        assert_close(
            &a.std_axis_ddof(axis, 1).unwrap().compute().unwrap(),
            &x.std_axis(ax, 1.0),
            &what("std ddof 1"),
        );
        let min = x.map_axis(ax, |l| l.iter().copied().fold(f64::INFINITY, f64::min));
        let max = x.map_axis(ax, |l| l.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        assert_eq!(
            a.min_axis(axis).unwrap().compute().unwrap(),
            min,
            "{}",
            what("min")
        );
        assert_eq!(
            a.max_axis(axis).unwrap().compute().unwrap(),
            max,
            "{}",
            what("max")
        );
        let argmin = x.map_axis(ax, |l| first_arg(l.iter().copied(), false));
        let argmax = x.map_axis(ax, |l| first_arg(l.iter().copied(), true));
        assert_eq!(
            a.argmin_axis(axis).unwrap().compute().unwrap(),
            argmin,
            "{}",
            what("argmin")
        );
        assert_eq!(
            a.argmax_axis(axis).unwrap().compute().unwrap(),
            argmax,
            "{}",
            what("argmax")
        );
    }
}

#[test]
fn integer_reductions_are_exact() {
    let n = 100_003;
    let a = Array::<i64>::arange(n, 999).unwrap();
    let n = n as i64;
    assert_eq!(a.sum().compute().unwrap(), n * (n - 1) / 2);
    assert_eq!(a.max().compute().unwrap(), n - 1);
    assert_eq!(a.min().compute().unwrap(), 0);
    assert_eq!(a.argmax().compute().unwrap() as i64, n - 1);
    assert_eq!(a.mean().compute().unwrap(), (n - 1) as f64 / 2.0);
    let var = a.var().compute().unwrap();
    let exact = ((n * n - 1) as f64) / 12.0;
    assert!((var - exact).abs() < 1e-9 * exact, "{var} vs {exact}");
    let m = Array::from_ndarray(&ndarray::array![[1_i64, 5, 2], [7, 0, 2]], [1, 2]).unwrap();
    assert_eq!(m.sum_axis(0).unwrap().compute_vec().unwrap(), [8, 5, 4]);
    assert_eq!(m.max_axis(1).unwrap().compute_vec().unwrap(), [5, 7]);
    assert_eq!(m.argmin_axis(1).unwrap().compute_vec().unwrap(), [0, 1]);
}

#[test]
fn the_variance_stays_accurate_far_from_zero() {
    // A naive sum-of-squares formula loses every digit at an offset of 1e9.
    let x = data(&[50, 40], 1e9);
    let a = Array::from_ndarray(&x, [7, 9]).unwrap();
    let centered = x.mapv(|v| v - 1e9);
    let mean = centered.mean().unwrap_or(0.0);
    let expected = centered.mapv(|v| (v - mean) * (v - mean)).sum() / x.len() as f64;
    let got = a.var().compute().unwrap();
    assert!(
        (got - expected).abs() < 1e-6 * expected,
        "{got} vs {expected}"
    );
}

#[test]
fn ties_and_nans_follow_numpy() {
    let a =
        Array::from_ndarray(&ndarray::array![[1.0, 9.0, 3.0], [9.0, 0.0, 0.0]], [1, 1]).unwrap();
    assert_eq!(a.argmax().compute().unwrap(), 1);
    assert_eq!(a.argmin().compute().unwrap(), 4);
    let n =
        Array::from_ndarray(&ndarray::array![[1.0, f64::NAN], [f64::NAN, 5.0]], [1, 1]).unwrap();
    assert!(n.max().compute().unwrap().is_nan());
    assert!(n.min().compute().unwrap().is_nan());
    assert!(n.sum().compute().unwrap().is_nan());
    assert_eq!(n.argmax().compute().unwrap(), 1);
    assert_eq!(n.argmin().compute().unwrap(), 1);
    let cols = n.max_axis(0).unwrap().compute().unwrap();
    assert!(cols.iter().all(|v| v.is_nan()));
}

#[test]
fn split_every_changes_the_tree_not_the_result() {
    let x = data(&[40, 30], 0.0);
    let a = Array::from_ndarray(&x, [5, 5]).unwrap(); // 48 blocks
    let mut results = Vec::new();
    for fan_in in [2, 3, 8, 100] {
        let b = a.clone().split_every(fan_in);
        results.push((b.argmax().compute().unwrap(), b.max().compute().unwrap()));
        let s = b.sum().compute().unwrap();
        assert!(close(s, x.sum()), "split_every {fan_in}");
        let cols = b.sum_axis(0).unwrap().compute().unwrap();
        assert_close(&cols, &x.sum_axis(Axis(0)), "axis sum");
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}

/// The largest number of inputs of any task of a DOT graph.
fn max_fan_in(dot: &str) -> usize {
    let mut incoming: HashMap<&str, usize> = HashMap::new();
    for line in dot.lines() {
        if let Some((_, to)) = line.split_once("->") {
            *incoming.entry(to.trim().trim_end_matches(';')).or_default() += 1;
        }
    }
    incoming.values().copied().max().unwrap_or(0)
}

#[test]
fn reductions_are_trees_of_bounded_fan_in() {
    let a = Array::random(&[64, 64], [4, 4], 1).unwrap(); // 256 blocks
    for fan_in in [2, 4, 8] {
        let b = a.clone().split_every(fan_in);
        let sum = b.sum();
        assert_eq!(max_fan_in(&sum.to_dot()), fan_in, "split_every {fan_in}");
        // 256 partials, then levels of ceil(n / fan_in) down to <= fan_in, then 1.
        let mut tasks = 256;
        let mut level = 256;
        while level > fan_in {
            level = level.div_ceil(fan_in);
            tasks += level;
        }
        assert_eq!(sum.task_count(), tasks + 1, "split_every {fan_in}");
        // Along an axis: each line of 16 blocks is its own tree (summed
        // again, not assembled, so that no task gathers every column).
        let cols = b.sum_axis(0).unwrap().sum();
        assert_eq!(
            max_fan_in(&cols.to_dot()),
            fan_in,
            "axis, split_every {fan_in}"
        );
    }
    // Default: 8.
    assert_eq!(max_fan_in(&a.mean().to_dot()), 8);
}

#[test]
fn empty_arrays_reduce_like_numpy() {
    let e = Array::<f64>::zeros(&[0, 4], [2, 2]).unwrap();
    assert_eq!(e.num_blocks(), 0);
    assert_eq!(e.sum().compute().unwrap(), 0.0);
    assert!(e.mean().compute().unwrap().is_nan());
    assert!(e.var().compute().unwrap().is_nan());
    assert_eq!(
        e.max().compute(),
        Err(ArrayError::EmptyReduction { op: "max" })
    );
    assert_eq!(
        e.argmin().compute(),
        Err(ArrayError::EmptyReduction { op: "argmin" })
    );
    assert_eq!(e.max().task_count(), 0);
    // Along the empty axis: a value per column (NumPy: zeros, NaN means).
    assert_eq!(e.sum_axis(0).unwrap().compute_vec().unwrap(), [0.0; 4]);
    assert!(e
        .mean_axis(0)
        .unwrap()
        .compute_vec()
        .unwrap()
        .iter()
        .all(|v| v.is_nan()));
    assert_eq!(
        e.max_axis(0).unwrap_err(),
        ArrayError::EmptyAxis { op: "max", axis: 0 }
    );
    // Along the other axis: an empty result.
    assert_eq!(e.sum_axis(1).unwrap().shape(), [0]);
    assert_eq!(
        e.max_axis(1).unwrap().compute_vec().unwrap(),
        Vec::<f64>::new()
    );
    // A 1-D array reduced along its axis is 0-D.
    let s = Array::<i64>::arange(10, 3).unwrap().sum_axis(0).unwrap();
    assert_eq!(s.shape(), [] as [usize; 0]);
    assert_eq!(s.compute().unwrap().into_iter().collect::<Vec<_>>(), [45]);
    assert_eq!(s.sum().compute().unwrap(), 45);
}
