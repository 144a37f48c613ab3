//! The DataFrame as a user meets it: building, per-partition steps,
//! reductions, sorting, repartitioning, errors and panics.

use std::sync::Arc;

use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use flotilla::dataframe::{col, lit, DataFrame, DataFrameError, SortKey};
use flotilla::{ComputeOptions, CpuPool};

fn ints(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let i = b.schema().index_of(name).unwrap();
    b.column(i)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .iter()
        .collect()
}

fn floats(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let i = b.schema().index_of(name).unwrap();
    b.column(i)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .iter()
        .collect()
}

/// A deterministic pseudo-random sequence.
fn noise(n: usize, seed: u64) -> Vec<i64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) % 1000) as i64
        })
        .collect()
}

fn weather(rows: usize, partitions: usize) -> DataFrame {
    let station: Vec<i64> = noise(rows, 1).iter().map(|v| v % 50 + 1).collect();
    let t: Vec<f64> = noise(rows, 2)
        .iter()
        .map(|v| *v as f64 / 1000.0 * 60.0 - 10.0)
        .collect();
    DataFrame::from_columns(
        vec![("station", station.into()), ("t", t.into())],
        partitions,
    )
    .unwrap()
}

#[test]
fn steps_chain_and_match_a_plain_loop() {
    let pool = CpuPool::with_threads(2).unwrap();
    let options = ComputeOptions::new().pool(&pool).progress(false);
    let df = weather(10_000, 7);
    let all = df.compute_with(&options).unwrap();
    let t: Vec<f64> = floats(&all, "t").into_iter().map(Option::unwrap).collect();
    let station: Vec<i64> = ints(&all, "station")
        .into_iter()
        .map(Option::unwrap)
        .collect();

    let out = df
        .with_column("f", col("t") * 9 / 5 + 32)
        .unwrap()
        .filter(col("station").lt_eq(10).and(col("f").gt(50.0)))
        .unwrap()
        .with_column(
            "twice",
            col("station").map::<Int64Type, Int64Type, _>(|s| s * 2),
        )
        .unwrap()
        .select(&["twice", "f"])
        .unwrap()
        .compute_with(&options)
        .unwrap();
    let expected: Vec<(i64, f64)> = station
        .iter()
        .zip(&t)
        .map(|(s, t)| (*s, t * 9.0 / 5.0 + 32.0))
        .filter(|(s, f)| *s <= 10 && *f > 50.0)
        .map(|(s, f)| (s * 2, f))
        .collect();
    let got: Vec<(i64, f64)> = ints(&out, "twice")
        .into_iter()
        .zip(floats(&out, "f"))
        .map(|(a, b)| (a.unwrap(), b.unwrap()))
        .collect();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.0, e.0);
        assert!((g.1 - e.1).abs() < 1e-9);
    }
    assert_eq!(out.schema().field(0).name(), "twice");
}

#[test]
fn reductions_match_a_plain_loop_whatever_the_partitioning() {
    let rows = 5_000;
    let whole = weather(rows, 1).compute().unwrap();
    let t: Vec<f64> = floats(&whole, "t")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let sum: f64 = t.iter().sum();
    let mean = sum / rows as f64;
    let var = t.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (rows - 1) as f64;
    for parts in [1, 2, 3, 16, 100] {
        let df = weather(rows, parts).split_every(3);
        let s = df.stats("t").unwrap().compute().unwrap();
        assert_eq!(s.count, rows as u64);
        assert!((s.sum - sum).abs() < 1e-6, "{parts}");
        assert!((s.var(1).unwrap() - var).abs() < 1e-9, "{parts}");
        assert_eq!(s.max, t.iter().cloned().reduce(f64::max));
        assert_eq!(df.count().compute().unwrap(), rows);
        assert!((df.mean("t").unwrap().compute().unwrap().unwrap() - mean).abs() < 1e-9);
    }
}

#[test]
fn nulls_are_skipped_by_reductions_and_propagate_through_arithmetic() {
    let df = DataFrame::from_columns(vec![("x", vec![Some(1i64), None, Some(5), None].into())], 3)
        .unwrap();
    let s = df.stats("x").unwrap().compute().unwrap();
    assert_eq!(
        (s.count, s.nulls, s.sum, s.min, s.max),
        (2, 2, 6.0, Some(1.0), Some(5.0))
    );
    let y = df
        .with_column("y", col("x") + 1)
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(ints(&y, "y"), [Some(2), None, Some(6), None]);
    // A null predicate drops the row.
    assert_eq!(
        df.filter(col("x").gt(0))
            .unwrap()
            .count()
            .compute()
            .unwrap(),
        2
    );
    assert_eq!(
        df.filter(col("x").is_null())
            .unwrap()
            .count()
            .compute()
            .unwrap(),
        2
    );
    let all_null = df.filter(col("x").is_null()).unwrap();
    assert_eq!(all_null.sum("x").unwrap().compute().unwrap(), None);
    assert_eq!(all_null.mean("x").unwrap().compute().unwrap(), None);
}

#[test]
fn mistakes_in_building_a_frame_are_errors_before_any_work() {
    let df = weather(10, 2);
    let e = df.select(&["t", "temperature"]).unwrap_err();
    assert!(matches!(&e, DataFrameError::ColumnNotFound { name, .. } if name == "temperature"));
    assert!(e.to_string().contains("station, t"), "{e}");
    let e = df.filter(col("t") + 1).unwrap_err();
    assert!(e.to_string().contains("boolean"), "{e}");
    let e = df.with_column("x", col("t") + lit("a")).unwrap_err();
    assert!(matches!(e, DataFrameError::Type { .. }), "{e}");
    let named = DataFrame::from_columns(vec![("name", vec!["a"].into())], 1).unwrap();
    assert!(matches!(
        named.sum("name"),
        Err(DataFrameError::Type { .. })
    ));
    assert!(named.describe().is_err());
    assert!(df.sort_by(&[]).is_err());
    assert!(df.sort_by(&["nope".into()]).is_err());
    assert!(df.repartition(0).is_err());
    assert!(DataFrame::from_columns(
        vec![("a", vec![1i64].into()), ("b", vec![1i64, 2].into())],
        1
    )
    .is_err());
}

#[test]
fn a_panic_in_a_closure_fails_the_computation_naming_the_task() {
    let df = weather(100, 4);
    let bad = df
        .with_column(
            "boom",
            col("t").map::<Float64Type, Float64Type, _>(|t| {
                if t > 45.0 {
                    panic!("too hot: {t}");
                }
                t
            }),
        )
        .unwrap();
    let e = bad.count().compute().unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, DataFrameError::Task(_)), "{e}");
    assert!(text.contains("too hot"), "{text}");
    assert!(
        text.contains("with_column"),
        "the task key names the steps: {text}"
    );
}

#[test]
fn arithmetic_errors_in_the_data_name_the_expression() {
    let df = DataFrame::from_columns(vec![("x", vec![i64::MAX, 1].into())], 1).unwrap();
    let e = df
        .with_column("y", col("x") * 2)
        .unwrap()
        .compute()
        .unwrap_err();
    assert!(matches!(e, DataFrameError::Arrow { .. }), "{e}");
    assert!(e.to_string().contains("(col(\"x\") * 2)"), "{e}");
}

#[test]
fn sort_by_several_keys_matches_a_stable_sort_of_the_rows() {
    let rows = 3_000;
    let a: Vec<Option<i64>> = noise(rows, 3)
        .into_iter()
        .map(|v| (v % 17 != 0).then_some(v % 20))
        .collect();
    let b: Vec<String> = noise(rows, 4)
        .iter()
        .map(|v| format!("k{}", v % 7))
        .collect();
    let id: Vec<i64> = (0..rows as i64).collect();
    for parts in [1, 3, 8] {
        let df = DataFrame::from_columns(
            vec![
                ("a", a.clone().into()),
                ("b", b.clone().into()),
                ("id", id.clone().into()),
            ],
            parts,
        )
        .unwrap();
        let sorted = df
            .sort_by(&[
                SortKey::new("a").descending().nulls_last(),
                SortKey::new("b"),
            ])
            .unwrap();
        assert_eq!(sorted.num_partitions(), parts);
        let out = sorted.compute().unwrap();
        let mut expected: Vec<usize> = (0..rows).collect();
        expected.sort_by(|&x, &y| {
            let ka = match (a[x], a[y]) {
                (Some(p), Some(q)) => q.cmp(&p),
                (None, None) => std::cmp::Ordering::Equal,
                (None, _) => std::cmp::Ordering::Greater,
                (_, None) => std::cmp::Ordering::Less,
            };
            ka.then_with(|| b[x].cmp(&b[y]))
        });
        let got: Vec<usize> = ints(&out, "id")
            .into_iter()
            .map(|v| v.unwrap() as usize)
            .collect();
        assert_eq!(got, expected, "{parts} partitions");
        // Range partitions: each partition's rows sort before the next's.
        let pieces = sorted.compute_partitions().unwrap();
        assert_eq!(
            pieces.iter().map(RecordBatch::num_rows).sum::<usize>(),
            rows
        );
    }
}

#[test]
fn repartition_keeps_rows_and_order() {
    let df = weather(1_000, 3).filter(col("station").gt(25)).unwrap();
    let before = df.compute().unwrap();
    for n in [1, 2, 3, 7, 20] {
        let re = df.repartition(n).unwrap();
        assert_eq!(re.num_partitions(), n);
        assert_eq!(re.compute().unwrap(), before, "{n}");
    }
}

#[test]
fn head_persist_and_describe() {
    let df = weather(1_000, 10);
    let head = df.head(150).unwrap();
    assert_eq!(head.num_rows(), 150);
    assert_eq!(head, df.compute().unwrap().slice(0, 150));
    assert_eq!(df.head(5_000).unwrap().num_rows(), 1_000);

    let kept = df.filter(col("t").gt(0.0)).unwrap().persist().unwrap();
    let expected = df
        .filter(col("t").gt(0.0))
        .unwrap()
        .count()
        .compute()
        .unwrap();
    assert_eq!(kept.count().compute().unwrap(), expected);

    let d = df.describe().unwrap().compute().unwrap();
    let labels: Vec<&str> = {
        let s = d.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        (0..s.len()).map(|i| s.value(i)).collect()
    };
    assert_eq!(labels, ["count", "nulls", "mean", "std", "min", "max"]);
    let t = floats(&d, "t");
    assert_eq!(t[0], Some(1000.0));
    let s = df.stats("t").unwrap().compute().unwrap();
    assert_eq!(t[2], s.mean());
    assert_eq!(t[5], s.max);
}

#[test]
fn map_partitions_sees_each_partition_and_checks_its_schema() {
    let df = weather(100, 4);
    let sizes = df
        .map_partitions(|b| {
            let n = Arc::new(Int64Array::from(vec![b.num_rows() as i64]));
            let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
                "rows",
                arrow_schema::DataType::Int64,
                false,
            )]));
            RecordBatch::try_new(schema, vec![n])
                .map_err(|e| DataFrameError::Invalid(e.to_string()))
        })
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(ints(&sizes, "rows"), [Some(25); 4]);
    // A partition whose output schema differs from the empty one's fails.
    let odd = df
        .map_partitions(|b| {
            if b.num_rows() == 0 {
                Ok(b)
            } else {
                b.project(&[0])
                    .map_err(|e| DataFrameError::Invalid(e.to_string()))
            }
        })
        .unwrap();
    let e = odd.compute().unwrap_err();
    assert!(e.to_string().contains("map_partitions"), "{e}");
}

#[test]
fn map_partitions_that_cannot_take_an_empty_partition_is_an_error_not_a_crash() {
    let df = DataFrame::from_columns(vec![("x", vec![1i64, 2, 3].into())], 2).unwrap();
    let result = df.map_partitions(|b| {
        let first = b
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0);
        Ok(b.slice(0, usize::from(first > 0)))
    });
    let err = result.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("map_partitions"), "{message}");
    assert!(message.contains("empty partition"), "{message}");
}

#[test]
fn min_and_max_keep_the_column_type() {
    use flotilla::dataframe::Value;
    let big = (1i64 << 53) + 1;
    let df = DataFrame::from_columns(
        vec![
            ("n", vec![Some(3i64), None, Some(big), Some(-7)].into()),
            ("t", vec![Some(1.5), Some(-2.5), None, Some(0.0)].into()),
        ],
        3,
    )
    .unwrap();
    assert_eq!(
        df.max("n").unwrap().compute().unwrap(),
        Some(Value::Int64(big))
    );
    assert_eq!(
        df.min("n").unwrap().compute().unwrap(),
        Some(Value::Int64(-7))
    );
    assert_eq!(
        df.min("t").unwrap().compute().unwrap(),
        Some(Value::Float64(-2.5))
    );
    assert_eq!(
        df.max("t")
            .unwrap()
            .compute()
            .unwrap()
            .and_then(|v| v.as_f64()),
        Some(1.5)
    );
    let empty = df.filter(col("n").gt(big)).unwrap();
    assert_eq!(empty.max("n").unwrap().compute().unwrap(), None);
}

#[test]
fn columns_of_results_are_read_without_downcasting() {
    use flotilla::dataframe::batch_column;
    let df = DataFrame::from_columns(
        vec![
            ("n", vec![Some(1i64), None, Some(3)].into()),
            ("name", vec!["a", "b", "c"].into()),
        ],
        2,
    )
    .unwrap();
    assert_eq!(
        df.collect_column::<i64>("n").unwrap(),
        [Some(1), None, Some(3)]
    );
    let batch = df.compute().unwrap();
    let names: Vec<Option<&str>> = batch_column(&batch, "name").unwrap();
    assert_eq!(names, [Some("a"), Some("b"), Some("c")]);
    let err = df.collect_column::<f64>("name").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("\"name\"") && message.contains("Utf8"),
        "{message}"
    );
    let err = batch_column::<i64>(&batch, "nope").unwrap_err();
    assert!(
        matches!(err, DataFrameError::ColumnNotFound { .. }),
        "{err}"
    );
}
