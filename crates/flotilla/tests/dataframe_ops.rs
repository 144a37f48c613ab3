//! Group-bys, joins, files and memory of the DataFrame, end to end on the
//! local engine, checked against plain loops.

use std::collections::BTreeMap;

use flotilla::dataframe::arrow::array::cast::AsArray;
use flotilla::dataframe::arrow::array::types::{Float64Type, Int64Type};
use flotilla::dataframe::arrow::array::{Array, RecordBatch};
use flotilla::dataframe::io::{CsvOptions, JsonOptions, ParquetOptions};
use flotilla::dataframe::kernels::{Agg, JoinKind};
use flotilla::dataframe::{col, DataFrame, DataFrameError, JoinOptions, JoinStrategy, SortKey};

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("flotilla-dfops-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn noise(n: usize, seed: u64) -> Vec<i64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 1_000_000) as i64
        })
        .collect()
}

fn pairs_i64_f64(b: &RecordBatch) -> BTreeMap<i64, f64> {
    let k = b.column(0).as_primitive::<Int64Type>();
    let v = b.column(1).as_primitive::<Float64Type>();
    (0..b.num_rows())
        .map(|i| (k.value(i), v.value(i)))
        .collect()
}

#[test]
fn group_by_tree_and_shuffle_agree_with_a_loop() {
    let n = 20_000;
    let keys: Vec<i64> = noise(n, 1).iter().map(|v| v % 3000).collect();
    let values: Vec<f64> = noise(n, 2).iter().map(|v| *v as f64 / 1000.0).collect();
    let mut expected: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for (k, v) in keys.iter().zip(&values) {
        let e = expected.entry(*k).or_default();
        e.0 += v;
        e.1 += 1.0;
    }
    let df = DataFrame::from_columns(vec![("k", keys.into()), ("v", values.into())], 9).unwrap();
    for split_out in [1, 4] {
        let out = df
            .group_by(&["k"])
            .unwrap()
            .split_out(split_out)
            .agg(&[Agg::mean("v"), Agg::sum("v")])
            .unwrap();
        assert_eq!(out.num_partitions(), split_out);
        let got = pairs_i64_f64(&out.compute().unwrap());
        assert_eq!(got.len(), expected.len());
        for (k, (sum, count)) in &expected {
            assert!((got[k] - sum / count).abs() < 1e-9, "key {k}");
        }
    }
    let counts = df
        .group_by(&["k"])
        .unwrap()
        .count()
        .unwrap()
        .compute()
        .unwrap();
    let c = counts.column(1).as_primitive::<Int64Type>();
    assert_eq!(c.iter().map(|v| v.unwrap()).sum::<i64>(), n as i64);
}

#[test]
fn sorting_partitions_that_a_filter_emptied_gives_an_empty_frame() {
    let df =
        DataFrame::from_columns(vec![("k", (0..40i64).collect::<Vec<_>>().into())], 4).unwrap();
    let none = df
        .filter(col("k").lt(flotilla::dataframe::lit(0i64)))
        .unwrap();
    let sorted = none.sort_by(&[SortKey::new("k")]).unwrap();
    assert_eq!(sorted.compute_partitions().unwrap().len(), 4);
    assert_eq!(sorted.compute().unwrap().num_rows(), 0);
    // Some partitions empty, others not: every row still comes out, in order.
    let some = df
        .filter(col("k").gt_eq(flotilla::dataframe::lit(35i64)))
        .unwrap();
    let k = some
        .sort_by(&[SortKey::new("k").descending()])
        .unwrap()
        .compute()
        .unwrap();
    let k: Vec<i64> = k.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(k, [39, 38, 37, 36, 35]);
}

#[test]
fn value_counts_are_most_frequent_first_and_drop_nulls() {
    let df = DataFrame::from_columns(
        vec![(
            "r",
            vec![
                Some(3i64),
                Some(4),
                None,
                Some(4),
                Some(5),
                Some(4),
                Some(3),
            ]
            .into(),
        )],
        3,
    )
    .unwrap();
    let vc = df.value_counts("r").unwrap().compute().unwrap();
    let r: Vec<i64> = vc.column(0).as_primitive::<Int64Type>().values().to_vec();
    let c: Vec<i64> = vc.column(1).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(r, [4, 3, 5]);
    assert_eq!(c, [3, 2, 1]);
}

#[test]
fn group_count_counts_null_keys_and_null_values() {
    let df = DataFrame::from_columns(
        vec![
            ("k", vec![Some(1i64), None, Some(1), None].into()),
            ("v", vec![None, Some(1.0), None, None].into()),
        ],
        2,
    )
    .unwrap();
    let out = df
        .group_by(&["k"])
        .unwrap()
        .count()
        .unwrap()
        .sort_by(&[SortKey::new("k")])
        .unwrap()
        .compute()
        .unwrap();
    let k = out.column(0).as_primitive::<Int64Type>();
    let c = out.column(1).as_primitive::<Int64Type>();
    // Nulls sort first by default.
    assert!(k.is_null(0));
    assert_eq!((c.value(0), k.value(1), c.value(1)), (2, 1, 2));
}

fn ratings_and_items() -> (DataFrame, DataFrame, BTreeMap<String, f64>) {
    let n = 30_000;
    let item: Vec<i64> = noise(n, 3).iter().map(|v| v % 1700 + 1).collect(); // some unknown items
    let rating: Vec<i64> = noise(n, 4).iter().map(|v| v % 5 + 1).collect();
    let genres = ["Drama", "Comedy", "Action", "Noir"];
    let item_ids: Vec<i64> = (1..=1682).collect();
    let genre: Vec<&str> = item_ids
        .iter()
        .map(|i| genres[(*i as usize * 7) % 4])
        .collect();
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (i, r) in item.iter().zip(&rating) {
        if *i <= 1682 {
            let e = sums
                .entry(genres[(*i as usize * 7) % 4].to_string())
                .or_default();
            e.0 += *r as f64;
            e.1 += 1.0;
        }
    }
    let ratings =
        DataFrame::from_columns(vec![("item_id", item.into()), ("rating", rating.into())], 6)
            .unwrap();
    let items = DataFrame::from_columns(
        vec![("item_id", item_ids.into()), ("genre", genre.into())],
        1,
    )
    .unwrap();
    (
        ratings,
        items,
        sums.into_iter().map(|(g, (s, c))| (g, s / c)).collect(),
    )
}

#[test]
fn joins_broadcast_shuffled_and_dictionary_give_the_same_means() {
    let (ratings, items, expected) = ratings_and_items();
    let strategies = [
        JoinOptions::new(JoinKind::Inner),
        JoinOptions::new(JoinKind::Inner).dictionary_strings(true),
        JoinOptions::new(JoinKind::Inner).strategy(JoinStrategy::Shuffle { partitions: 5 }),
    ];
    for options in strategies {
        let joined = ratings
            .join_with(&items, &["item_id"], &["item_id"], options.clone())
            .unwrap();
        let means = joined
            .group_by(&["genre"])
            .unwrap()
            .agg(&[Agg::mean("rating")])
            .unwrap()
            .compute()
            .unwrap();
        let genre = flotilla::dataframe::arrow::cast::cast(
            means.column(0),
            &flotilla::dataframe::arrow::schema::DataType::Utf8,
        )
        .unwrap();
        let genre = genre.as_string::<i32>();
        let mean = means.column(1).as_primitive::<Float64Type>();
        let got: BTreeMap<String, f64> = (0..means.num_rows())
            .map(|i| (genre.value(i).to_string(), mean.value(i)))
            .collect();
        assert_eq!(got.len(), expected.len(), "{options:?}");
        for (g, m) in &expected {
            assert!((got[g] - m).abs() < 1e-9, "{options:?} {g}");
        }
    }
    // A left join keeps the ratings of unknown items, with a null genre.
    let left = ratings
        .join(&items, &["item_id"], &["item_id"], JoinKind::Left)
        .unwrap();
    assert_eq!(
        left.count().compute().unwrap(),
        ratings.count().compute().unwrap()
    );
    let unknown = left
        .filter(col("genre").is_null())
        .unwrap()
        .count()
        .compute()
        .unwrap();
    let expected_unknown = ratings
        .filter(col("item_id").gt(1682))
        .unwrap()
        .count()
        .compute()
        .unwrap();
    assert_eq!(unknown, expected_unknown);
    assert!(unknown > 0);
}

#[test]
fn a_join_on_keys_of_different_types_is_refused_before_any_work() {
    let (ratings, _, _) = ratings_and_items();
    let items = DataFrame::from_columns(
        vec![
            ("item_id", vec!["1", "2"].into()),
            ("genre", vec!["a", "b"].into()),
        ],
        1,
    )
    .unwrap();
    let e = ratings
        .join(&items, &["item_id"], &["item_id"], JoinKind::Inner)
        .unwrap_err();
    assert!(matches!(e, DataFrameError::Kernel(_)), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("item_id") && text.contains("Int64") && text.contains("Utf8"),
        "{text}"
    );
    assert!(ratings
        .join(&items, &["nope"], &["item_id"], JoinKind::Inner)
        .is_err());
    let e = ratings
        .group_by(&["item_id"])
        .unwrap()
        .agg(&[Agg::sum("nope")])
        .unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
}

#[test]
fn files_round_trip_through_part_folders() {
    let dir = TempDir::new("roundtrip");
    let (ratings, _, _) = ratings_and_items();
    let expected = ratings.compute().unwrap();
    ratings.to_csv(dir.path("csv")).unwrap();
    ratings.to_parquet(dir.path("parquet")).unwrap();
    ratings.to_json(dir.path("json")).unwrap();
    for d in ["csv", "parquet", "json"] {
        assert!(std::path::Path::new(&dir.path(d)).join("_SUCCESS").exists());
    }
    let csv = DataFrame::read_csv(&[dir.path("csv/part-*.csv")], CsvOptions::new()).unwrap();
    let parquet = DataFrame::read_parquet(&[dir.path("parquet")], ParquetOptions::new()).unwrap();
    let json = DataFrame::read_json(&[dir.path("json/part-*")], JsonOptions::new()).unwrap();
    assert_eq!(parquet.num_partitions(), ratings.num_partitions());
    for back in [csv, parquet, json] {
        let got = back.compute().unwrap();
        assert_eq!(got.num_rows(), expected.num_rows());
        for c in 0..2 {
            assert_eq!(
                got.column(c).as_primitive::<Int64Type>().values(),
                expected.column(c).as_primitive::<Int64Type>().values()
            );
        }
    }
    // Writing into a folder that holds data is refused, and changes nothing.
    assert!(ratings.to_csv(dir.path("csv")).is_err());
    assert!(std::path::Path::new(&dir.path("csv"))
        .join("_SUCCESS")
        .exists());
}

#[test]
fn a_failed_write_leaves_no_output() {
    let dir = TempDir::new("failed-write");
    let df = DataFrame::from_columns(vec![("x", (0..100i64).collect::<Vec<_>>().into())], 4)
        .unwrap()
        .with_column(
            "y",
            col("x").map::<Int64Type, Int64Type, _>(|x| {
                assert!(x != 77, "bad row {x}");
                x
            }),
        )
        .unwrap();
    let e = df.to_csv(dir.path("out")).unwrap_err();
    assert!(e.to_string().contains("bad row 77"), "{e}");
    assert!(!std::path::Path::new(&dir.path("out")).exists());
}

#[test]
fn a_malformed_csv_value_names_file_line_and_column_unless_made_null() {
    let dir = TempDir::new("bad-csv");
    let path = dir.path("w.csv");
    let mut text = String::from("station_id,temperature\n");
    for i in 0..5000 {
        if i == 3210 {
            text.push_str("7,warm\n");
        } else {
            text.push_str(&format!("{},{}.5\n", i % 10, i % 40));
        }
    }
    std::fs::write(&path, text).unwrap();
    for bytes in [1 << 20, 4096] {
        let df = DataFrame::read_csv(&[path.as_str()], CsvOptions::new().partition_bytes(bytes))
            .unwrap();
        assert_eq!(
            df.schema().field(1).data_type(),
            &flotilla::dataframe::arrow::schema::DataType::Float64
        );
        let e = df.mean("temperature").unwrap().compute().unwrap_err();
        let text = e.to_string();
        // Line 3212: the header is line 1, row i is line i + 2.
        assert!(
            text.contains("w.csv") && text.contains("3212") && text.contains("temperature"),
            "{text}"
        );
        assert!(text.contains("warm"), "{text}");
        let lenient = DataFrame::read_csv(
            &[path.as_str()],
            CsvOptions::new()
                .partition_bytes(bytes)
                .bad_values_as_null(true),
        )
        .unwrap();
        let s = lenient.stats("temperature").unwrap().compute().unwrap();
        assert_eq!((s.count, s.nulls), (4999, 1));
    }
}

#[test]
fn read_csv_then_group_by_sum_over_several_keys_and_aggregations() {
    // The course's `read_csv(...).groupby(...).sum()`, on a headerless TSV
    // like MovieLens' u.data, grouped by two keys with three aggregations.
    let dir = TempDir::new("tsv-groupby");
    let path = dir.path("u.data");
    let users = noise(4000, 5);
    let items = noise(4000, 6);
    let ratings = noise(4000, 7);
    let mut text = String::new();
    let mut expected: BTreeMap<(i64, i64), (i64, i64, i64)> = BTreeMap::new();
    for i in 0..4000 {
        let (u, it, r) = (users[i] % 7, items[i] % 5, ratings[i] % 5 + 1);
        text.push_str(&format!("{u}\t{it}\t{r}\t{}\n", 880_000_000 + i));
        let e = expected.entry((u, it)).or_insert((0, 0, i64::MAX));
        e.0 += r;
        e.1 += 1;
        e.2 = e.2.min(r);
    }
    std::fs::write(&path, text).unwrap();
    let df = DataFrame::read_csv(
        &[path.as_str()],
        CsvOptions::new()
            .delimiter(b'\t')
            .has_header(false)
            .column_names(["user_id", "item_id", "rating", "timestamp"])
            .partition_bytes(8 << 10),
    )
    .unwrap();
    assert!(df.num_partitions() > 5);
    let out = df
        .group_by(&["user_id", "item_id"])
        .unwrap()
        .agg(&[Agg::sum("rating"), Agg::count("rating"), Agg::min("rating")])
        .unwrap()
        .sort_by(&[SortKey::new("user_id"), SortKey::new("item_id")])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(
        out.column_names_for_test(),
        [
            "user_id",
            "item_id",
            "rating_sum",
            "rating_count",
            "rating_min"
        ]
    );
    assert_eq!(out.num_rows(), expected.len());
    let col = |i: usize| out.column(i).as_primitive::<Int64Type>().values().to_vec();
    let (u, it, sum, count, min) = (col(0), col(1), col(2), col(3), col(4));
    for (row, ((eu, ei), (es, ec, em))) in expected.iter().enumerate() {
        assert_eq!((u[row], it[row]), (*eu, *ei));
        assert_eq!((sum[row], count[row], min[row]), (*es, *ec, *em));
    }
}

trait Names {
    fn column_names_for_test(&self) -> Vec<String>;
}

impl Names for RecordBatch {
    fn column_names_for_test(&self) -> Vec<String> {
        self.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }
}

#[test]
fn a_group_by_whose_task_fails_its_first_attempt_gives_the_clean_result_with_retries() {
    use flotilla::dataframe::arrow::array::ArrayRef;
    use flotilla::dataframe::arrow::schema::DataType;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let n = 20_000;
    let keys: Vec<i64> = noise(n, 3).iter().map(|v| v % 500).collect();
    let values: Vec<f64> = noise(n, 4).iter().map(|v| *v as f64 / 1000.0).collect();
    let df = DataFrame::from_columns(vec![("k", keys.into()), ("v", values.into())], 6).unwrap();
    let pool = flotilla::CpuPool::with_threads(2).unwrap();
    let options = flotilla::ComputeOptions::new().pool(&pool).progress(false);
    for split_out in [1, 3] {
        let run = |down: Option<Arc<AtomicBool>>, options: &flotilla::ComputeOptions| {
            // `w` = `v`, through a closure that fails once when asked to.
            let same =
                col("v").map_array(DataType::Float64, DataType::Float64, move |a: &ArrayRef| {
                    if let Some(down) = &down {
                        assert!(!down.swap(false, Ordering::SeqCst), "the storage hiccupped");
                    }
                    Ok(a.clone())
                });
            df.with_column("w", same)?
                .group_by(&["k"])?
                .split_out(split_out)
                .agg(&[Agg::sum("w"), Agg::mean("w")])?
                .compute_with(options)
        };
        let clean = run(None, &options).unwrap();
        let err = run(Some(Arc::new(AtomicBool::new(true))), &options).unwrap_err();
        assert!(err.to_string().contains("the storage hiccupped"), "{err}");
        let retried = run(
            Some(Arc::new(AtomicBool::new(true))),
            &options.clone().retries(1),
        )
        .unwrap();
        assert_eq!(
            pairs_i64_f64(&retried),
            pairs_i64_f64(&clean),
            "split_out {split_out}"
        );
        assert_eq!(retried.num_rows(), 500);
    }
}
