//! Every error case: found when the operation is called, before anything
//! runs, naming the axis and sizes.

// Slices give one range per axis: `&[3..9]` is a 1-D slice, not a list.
#![allow(clippy::single_range_in_vec_init)]

use flotilla_array::{Array, ArrayError, Chunks};

#[test]
fn chunkings_that_do_not_fit_the_shape() {
    assert_eq!(
        Array::<f64>::zeros(&[4, 4], [2]).unwrap_err(),
        ArrayError::ChunkRank { ndim: 2, found: 1 }
    );
    assert_eq!(
        Array::<f64>::random(&[4, 4], [2, 0], 0).unwrap_err(),
        ArrayError::ZeroChunk { axis: 1 }
    );
    assert_eq!(
        Array::<i64>::arange(10, vec![vec![5, 0, 5]]).unwrap_err(),
        ArrayError::ZeroChunk { axis: 0 }
    );
    let err = Array::<i64>::arange(10, vec![vec![5, 4]]).unwrap_err();
    assert_eq!(
        err,
        ArrayError::ChunkSum {
            axis: 0,
            sum: 9,
            len: 10
        }
    );
    assert_eq!(
        err.to_string(),
        "the chunks of axis 0 add up to 9, but the axis has length 10"
    );
    assert_eq!(
        Array::<f64>::ones(&[3, 3], vec![vec![3]]).unwrap_err(),
        ArrayError::ChunkRank { ndim: 2, found: 1 }
    );
    let data = ndarray::Array2::<f64>::zeros((3, 4));
    assert_eq!(
        Array::from_ndarray(&data, vec![vec![3], vec![2, 3]]).unwrap_err(),
        ArrayError::ChunkSum {
            axis: 1,
            sum: 5,
            len: 4
        }
    );
    assert!(matches!(
        Array::<f64>::zeros(&[usize::MAX, 3], [1, 1]),
        Err(ArrayError::TooLarge { .. })
    ));
    // The same checks guard rechunk.
    let a = Array::<f64>::zeros(&[4, 4], [2, 2]).unwrap();
    assert_eq!(
        a.rechunk([0, 2]).unwrap_err(),
        ArrayError::ZeroChunk { axis: 0 }
    );
    assert_eq!(
        a.rechunk(Chunks::PerAxis(vec![vec![4], vec![1, 1]]))
            .unwrap_err(),
        ArrayError::ChunkSum {
            axis: 1,
            sum: 2,
            len: 4
        }
    );
}

#[test]
fn arrays_of_different_shapes() {
    let a = Array::<f64>::zeros(&[4, 4], [2, 2]).unwrap();
    let b = Array::<f64>::zeros(&[4, 5], [2, 2]).unwrap();
    let err = (&a + &b).unwrap_err();
    assert_eq!(
        err,
        ArrayError::ShapeMismatch {
            op: "add",
            left: vec![4, 4],
            right: vec![4, 5]
        }
    );
    assert_eq!(
        err.to_string(),
        "cannot add arrays of different shapes: [4, 4] and [4, 5]"
    );
    assert!(matches!(
        &a / &b,
        Err(ArrayError::ShapeMismatch { op: "div", .. })
    ));
    assert!(matches!(
        a.zip_with(&b, f64::min),
        Err(ArrayError::ShapeMismatch { op: "zip_with", .. })
    ));
}

#[test]
fn axes_that_do_not_exist() {
    let a = Array::<f64>::zeros(&[2, 3, 4], [1, 1, 1]).unwrap();
    let err = a.sum_axis(3).unwrap_err();
    assert_eq!(
        err,
        ArrayError::AxisOutOfRange {
            op: "sum",
            axis: 3,
            ndim: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "cannot sum along axis 3: the array has 3 axes"
    );
    assert!(matches!(
        a.argmax_axis(7),
        Err(ArrayError::AxisOutOfRange {
            op: "argmax",
            axis: 7,
            ..
        })
    ));
    assert!(matches!(
        a.std_axis(3),
        Err(ArrayError::AxisOutOfRange { op: "std", .. })
    ));
    assert!(matches!(
        a.var_axis_ddof(5, 1),
        Err(ArrayError::AxisOutOfRange { op: "var", .. })
    ));
    assert!(matches!(
        a.mean_axis(3),
        Err(ArrayError::AxisOutOfRange { op: "mean", .. })
    ));
    assert!(matches!(
        a.min_axis(3),
        Err(ArrayError::AxisOutOfRange { op: "min", .. })
    ));
}

#[test]
fn slices_out_of_bounds() {
    let a = Array::<i64>::zeros(&[5, 6], [2, 2]).unwrap();
    let err = a.slice(&[0..5, 2..7]).unwrap_err();
    assert_eq!(
        err,
        ArrayError::SliceOutOfBounds {
            axis: 1,
            start: 2,
            end: 7,
            len: 6
        }
    );
    assert_eq!(
        err.to_string(),
        "slice 2..7 of axis 1 is out of bounds (the axis has length 6)"
    );
    let reversed = a
        .slice(&[std::ops::Range { start: 4, end: 2 }])
        .unwrap_err();
    assert_eq!(
        reversed,
        ArrayError::SliceOutOfBounds {
            axis: 0,
            start: 4,
            end: 2,
            len: 5
        }
    );
    assert_eq!(
        a.slice(&[0..1, 0..1, 0..1]).unwrap_err(),
        ArrayError::SliceRank { ranges: 3, ndim: 2 }
    );
}

#[test]
fn reductions_without_a_value_and_wrong_dimensions() {
    let empty = Array::<i64>::zeros(&[3, 0], [1, 1]).unwrap();
    for (op, result) in [
        ("min", empty.min().compute().map(|_| ())),
        ("max", empty.max().compute().map(|_| ())),
        ("argmin", empty.argmin().compute().map(|_| ())),
        ("argmax", empty.argmax().compute().map(|_| ())),
    ] {
        assert_eq!(result, Err(ArrayError::EmptyReduction { op }));
    }
    assert_eq!(empty.argmax().task_count(), 0);
    let err = empty.min_axis(1).unwrap_err();
    assert_eq!(err, ArrayError::EmptyAxis { op: "min", axis: 1 });
    assert_eq!(
        err.to_string(),
        "cannot compute the min along axis 1, which has length 0"
    );
    assert_eq!(
        Array::<f64>::zeros(&[2, 2, 2], [1, 1, 1])
            .unwrap()
            .compute_2d()
            .unwrap_err(),
        ArrayError::Dimensionality {
            expected: 2,
            ndim: 3
        }
    );
}
