//! Rechunking and slicing: round trips, reuse of aligned blocks, and
//! blocks cut from several old ones.

// Slices give one range per axis: `&[3..9]` is a 1-D slice, not a list.
#![allow(clippy::single_range_in_vec_init)]

use flotilla_array::{Array, Chunks};
use ndarray::{s, ArrayD, IxDyn, Slice};

fn data(shape: &[usize]) -> ArrayD<i64> {
    let mut i = 0;
    ArrayD::from_shape_simple_fn(shape, || {
        i += 1;
        i * 3 - 7
    })
}

#[test]
fn rechunk_round_trips_keep_every_element() {
    let x = data(&[17, 13, 5]);
    let a = Array::from_ndarray(&x, [4, 5, 2]).unwrap();
    let chunkings: Vec<Chunks> = vec![
        [17, 13, 5].into(),
        [1, 1, 1].into(),
        [6, 3, 5].into(),
        vec![vec![16, 1], vec![1, 11, 1], vec![2, 3]].into(),
    ];
    for chunks in chunkings {
        let b = a.rechunk(chunks.clone()).unwrap();
        assert_eq!(b.compute().unwrap(), x, "{chunks:?}");
        // And back again.
        let c = b.rechunk([4, 5, 2]).unwrap();
        assert_eq!(c.chunks(), a.chunks());
        assert_eq!(c.compute().unwrap(), x, "back from {chunks:?}");
        assert_eq!(b.sum().compute().unwrap(), x.sum());
    }
}

#[test]
fn rechunking_to_the_same_chunks_is_the_same_array() {
    let a = Array::<f64>::random(&[10, 10], [3, 3], 0).unwrap();
    let b = a.rechunk([3, 3]).unwrap();
    assert_eq!(b.task_count(), a.task_count());
    assert_eq!(format!("{b:?}"), format!("{a:?}"));
}

#[test]
fn a_rechunked_generated_array_is_generated_in_its_new_blocks() {
    let a = Array::random(&[90, 90], [30, 30], 8).unwrap();
    let b = a.rechunk([45, 45]).unwrap();
    // No materialized old block: one task per new block, then the tree.
    assert_eq!(b.sum().task_count(), 4 + 1);
    assert_eq!(b.compute().unwrap(), a.compute().unwrap());
}

#[test]
fn slices_match_ndarray_slices() {
    let x = data(&[17, 13, 5]);
    let a = Array::from_ndarray(&x, [4, 5, 2]).unwrap();
    let cases: Vec<(Vec<std::ops::Range<usize>>, ArrayD<i64>)> = vec![
        (vec![0..17, 0..13, 0..5], x.clone()),
        (vec![3..9], x.slice(s![3..9, .., ..]).to_owned().into_dyn()),
        (
            vec![4..12, 5..10],
            x.slice(s![4..12, 5..10, ..]).to_owned().into_dyn(),
        ),
        (
            vec![1..16, 2..11, 1..4],
            x.slice(s![1..16, 2..11, 1..4]).to_owned().into_dyn(),
        ),
        (
            vec![5..6, 7..8, 3..4],
            x.slice(s![5..6, 7..8, 3..4]).to_owned().into_dyn(),
        ),
        (vec![5..5, 0..13], ArrayD::zeros(IxDyn(&[0, 13, 5]))),
    ];
    for (ranges, expected) in cases {
        let b = a.slice(&ranges).unwrap();
        assert_eq!(b.shape(), expected.shape(), "{ranges:?}");
        assert_eq!(b.compute().unwrap(), expected, "{ranges:?}");
        assert_eq!(b.sum().compute().unwrap(), expected.sum(), "{ranges:?}");
    }
}

#[test]
fn aligned_slices_reuse_the_blocks() {
    let x = data(&[12, 12]);
    let a = Array::from_ndarray(&x, [4, 4]).unwrap();
    let aligned = a.slice(&[4..12, 0..8]).unwrap();
    assert_eq!(aligned.chunks(), [vec![4, 4], vec![4, 4]]);
    // 4 reused stored blocks and the assembly: no task cuts anything.
    assert_eq!(aligned.task_count(), 4 + 1);
    assert_eq!(
        aligned.compute().unwrap(),
        x.slice(s![4..12, 0..8]).to_owned().into_dyn()
    );
    // Unaligned: the new chunks are the parts of the old ones.
    let cut = a.slice(&[2..11, 3..5]).unwrap();
    assert_eq!(cut.chunks(), [vec![2, 4, 3], vec![1, 1]]);
    // 6 stored blocks read, 6 cut blocks, 1 assembly.
    assert_eq!(cut.task_count(), 6 + 6 + 1);
    assert_eq!(
        cut.compute().unwrap(),
        x.slice(s![2..11, 3..5]).to_owned().into_dyn()
    );
}

#[test]
fn slices_of_slices_and_rechunks_compose() {
    let r = Array::random(&[50, 40], [7, 9], 3).unwrap();
    let full = r.compute().unwrap();
    let b = r
        .slice(&[5..45, 3..38])
        .unwrap()
        .rechunk([11, 6])
        .unwrap()
        .slice(&[2..30, 10..35])
        .unwrap()
        .map(|v| v * 2.0);
    let expected = full
        .slice_each_axis(|ax| match ax.axis.index() {
            0 => Slice::from(7..35),
            _ => Slice::from(13..38),
        })
        .mapv(|v| v * 2.0);
    assert_eq!(b.compute().unwrap(), expected);
    // Combined with an array of other chunks.
    let c = (&b + &Array::from_ndarray(&expected, [28, 1]).unwrap()).unwrap();
    assert_eq!(c.compute().unwrap(), &expected * 2.0);
}

#[test]
fn zero_dimensional_arrays_pass_through() {
    let s = Array::<i64>::arange(5, 2).unwrap().sum_axis(0).unwrap();
    assert_eq!(s.slice(&[]).unwrap().compute().unwrap().sum(), 10);
    assert_eq!(
        s.rechunk(Chunks::Uniform(vec![]))
            .unwrap()
            .compute()
            .unwrap()
            .sum(),
        10
    );
}
