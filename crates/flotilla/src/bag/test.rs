//! Unit tests of the bag's internals: slots, buckets, trees, part names.

use super::feed::{Buckets, Slot};
use super::BagError;

#[test]
fn a_slot_is_taken_once() {
    let slot = Slot::ok(5);
    assert_eq!(slot.take().unwrap(), 5);
    assert!(matches!(slot.take(), Err(BagError::Internal(_))));
}

#[test]
fn buckets_hand_each_bucket_out_once_and_errors_to_all() {
    let buckets = Buckets::new(Ok(vec![vec![1, 2], vec![3]]));
    assert_eq!(buckets.take(1, 0).unwrap(), [3]);
    assert_eq!(buckets.take(0, 0).unwrap(), [1, 2]);
    // A second reading is never an empty bucket that would lose the items
    // silently: it ends the task (here, outside a graph run, as a panic).
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| buckets.take(0, 0)));
    assert!(again.is_err());
    assert!(matches!(buckets.take(2, 0), Err(BagError::Internal(_))));
    let failed = Buckets::<u8>::new(Err(BagError::Internal("map side".into())));
    for r in 0..3 {
        assert!(failed
            .take(r, 0)
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
