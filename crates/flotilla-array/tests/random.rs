//! `Array::random`: values defined by the seed and the flat index alone,
//! so independent of the chunking and of the thread count.

use flotilla_array::{uniform_at, Array, Chunks};
use flotilla_local::{ComputeOptions, CpuPool};
use ndarray::ArrayD;

fn reference(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut i = 0u64;
    ArrayD::from_shape_simple_fn(shape, || {
        i += 1;
        uniform_at(seed, i - 1)
    })
}

#[test]
fn values_are_the_generator_at_the_flat_index() {
    let a = Array::random(&[13, 7, 5], [4, 3, 2], 99).unwrap();
    assert_eq!(a.compute().unwrap(), reference(&[13, 7, 5], 99));
}

#[test]
fn the_chunking_does_not_change_the_values() {
    let shape = [37, 23];
    let expected = reference(&shape, 5);
    let chunkings: Vec<Chunks> = vec![
        [37, 23].into(),
        [1, 1].into(),
        [10, 10].into(),
        [8, 23].into(),
        vec![vec![1, 20, 16], vec![22, 1]].into(),
    ];
    for chunks in chunkings {
        let a = Array::random(&shape, chunks.clone(), 5).unwrap();
        assert_eq!(a.compute().unwrap(), expected, "chunks {chunks:?}");
    }
}

#[test]
fn seeds_give_different_arrays() {
    let a = Array::random(&[100], 10, 1).unwrap().compute().unwrap();
    let b = Array::random(&[100], 10, 2).unwrap().compute().unwrap();
    let same = a.iter().zip(b.iter()).filter(|(x, y)| x == y).count();
    assert_eq!(same, 0);
}

#[test]
fn reductions_are_identical_whatever_the_thread_count() {
    let a = Array::random(&[300, 200], [70, 45], 11).unwrap();
    let results: Vec<(f64, f64, usize, f64)> = [1, 2, 3]
        .into_iter()
        .map(|threads| {
            let pool = CpuPool::with_threads(threads).unwrap();
            let opts = ComputeOptions::new().pool(&pool).progress(false);
            (
                a.sum().compute_with(&opts).unwrap(),
                a.var().compute_with(&opts).unwrap(),
                a.argmax().compute_with(&opts).unwrap(),
                a.sum_axis(1).unwrap().compute_with(&opts).unwrap().sum(),
            )
        })
        .collect();
    for r in &results[1..] {
        assert_eq!(r.0.to_bits(), results[0].0.to_bits());
        assert_eq!(r.1.to_bits(), results[0].1.to_bits());
        assert_eq!(r.2, results[0].2);
        assert_eq!(r.3.to_bits(), results[0].3.to_bits());
    }
}

#[test]
fn the_statistics_are_those_of_a_uniform_distribution() {
    let a = Array::random(&[1000, 1000], [250, 250], 2024).unwrap();
    let mean = a.mean().compute().unwrap();
    let var = a.var().compute().unwrap();
    assert!((mean - 0.5).abs() < 0.001, "mean {mean}");
    assert!((var - 1.0 / 12.0).abs() < 0.001, "var {var}");
    let (min, max) = (a.min().compute().unwrap(), a.max().compute().unwrap());
    assert!((0.0..1e-5).contains(&min) && (1.0 - 1e-5..1.0).contains(&max));
}
