//! What a user reads when their code panics inside a collection's task: the
//! panic's own message first, then the operation they wrote and where in the
//! data it happened; flotilla's internal task names after it, never before.

use flotilla::bag::Bag;
use flotilla::dataframe::{DataFrame, DataFrameError};

fn cursed(x: u64) -> u64 {
    if x == 57 {
        panic!("item {x} is cursed");
    }
    x
}

#[test]
fn a_panic_in_a_bag_map_leads_with_the_message_and_names_the_operation() {
    // 100 items in 4 partitions of 25: item 57 is the 8th (index 7) of partition 2.
    let err = Bag::range(100, 4).map(cursed).sum().compute().unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("item 57 is cursed"),
        "the user's message comes first: {text}"
    );
    assert!(
        text.contains("`map`") && text.contains("partition 2") && text.contains("item 7"),
        "names the operation, the partition and the item: {text}"
    );
    assert!(
        !text.contains("{{closure}}"),
        "no closure paths of flotilla's internals: {text}"
    );
}

#[test]
fn the_operation_named_is_the_one_that_panicked_not_its_neighbours() {
    let err = Bag::range(100, 4)
        .map(|x| x + 1)
        .filter(|x| x % 2 == 0)
        .flat_map(|x| vec![x, x])
        .map(|x| {
            assert!(x != 58, "no 58 please");
            x
        })
        .count()
        .compute()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("no 58 please"), "{text}");
    // 58 = 57 + 1: partition 2 holds 51..=75 after the first map; the evens
    // 52, 54, 56, 58 doubled make 58 the 7th and 8th items of the last map.
    assert!(
        text.contains("`map` (step 5 of range|map|filter|flat_map|map)")
            && text.contains("partition 2")
            && text.contains("item 6"),
        "{text}"
    );
}

#[test]
fn a_panic_in_a_filter_predicate_names_filter() {
    let err = Bag::range(10, 2)
        .filter(|x| {
            assert!(*x != 3, "three is not allowed");
            true
        })
        .compute()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("three is not allowed"), "{text}");
    assert!(
        text.contains("`filter`") && text.contains("partition 0") && text.contains("item 3"),
        "{text}"
    );
}

#[test]
fn a_panic_in_a_dataframe_closure_leads_with_the_message() {
    let df = DataFrame::from_columns(vec![("n", vec![1i64, 2, 3, 4].into())], 2).unwrap();
    let out = df
        .map_partitions(|batch| {
            if batch.num_rows() > 0 {
                panic!("bad batch of {} rows", batch.num_rows());
            }
            Ok(batch)
        })
        .and_then(|d| d.compute());
    let err: DataFrameError = out.unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("bad batch of 2 rows"), "{text}");
    assert!(
        text.contains("in `map_partitions` (step 2 of from_batches|map_partitions) on partition"),
        "{text}"
    );
}

#[test]
fn a_panic_in_an_expression_closure_names_the_step() {
    use flotilla::dataframe::arrow::array::ArrayRef;
    use flotilla::dataframe::arrow::schema::DataType;
    use flotilla::dataframe::col;
    let df = DataFrame::from_columns(vec![("n", vec![1i64, 2, 3, 4].into())], 2).unwrap();
    let boom = col("n").map_array(DataType::Int64, DataType::Int64, |a: &ArrayRef| {
        if !a.is_empty() {
            panic!("cannot map {} values", a.len());
        }
        Ok(a.clone())
    });
    let err = df
        .with_column("m", boom)
        .unwrap()
        .filter(col("n").gt(0))
        .unwrap()
        .sum("m")
        .unwrap()
        .compute()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("cannot map 2 values"), "{text}");
    assert!(
        text.contains("in `with_column` (step 2 of from_batches|with_column) on partition"),
        "{text}"
    );
}
