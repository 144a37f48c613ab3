//! Unit tests of the bag's internals: buckets, trees, part names.

use super::feed::Buckets;
use super::BagError;

#[test]
fn buckets_are_read_whole_by_every_reading_and_errors_go_to_all() {
    let buckets = Buckets::new(Ok(vec![vec![1, 2], vec![3]]));
    assert_eq!(buckets.piece(1).unwrap(), [3]);
    assert_eq!(buckets.piece(0).unwrap(), [1, 2]);
    // A second reading (a reducer that runs again) finds the same bucket.
    assert_eq!(buckets.piece(0).unwrap(), [1, 2]);
    assert!(matches!(buckets.piece(2), Err(BagError::Internal(_))));
    let failed = Buckets::<u8>::new(Err(BagError::Internal("map side".into())));
    for r in 0..3 {
        assert!(failed
            .piece(r)
            .unwrap_err()
            .to_string()
            .contains("map side"));
    }
}

#[test]
fn shuffle_buckets_spread_keys() {
    let outputs = 4;
    let mut sizes = [0usize; 4];
    for k in 0..4000u64 {
        sizes[super::exchange::bucket_of(&k, outputs)] += 1;
    }
    assert!(sizes.iter().all(|&n| n > 800), "{sizes:?}");
}
