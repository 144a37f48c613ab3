//! The dataframe kernels against naive implementations (BTreeMaps and
//! nested loops) on random data: group-by in every splitting of the
//! partial/merge/finish tree and through a hash shuffle, joins, hash
//! partitioning; then the edge cases and every error.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use flotilla_dataframe::kernels::{
    dictionary_join_schema, hash_partition, join_schema, value_counts, Agg, AggFunc, GroupBy,
    JoinKind, JoinTable, KernelError,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Random rows and their batches.

/// Short and long (over 16 bytes) strings, an empty one, one of 16 bytes.
const WORDS: [&str; 7] = [
    "drama",
    "comedy",
    "film-noir",
    "",
    "a",
    "western and more",
    "a title longer than sixteen bytes",
];
const FLOATS: [f64; 5] = [0.0, -0.0, 1.5, f64::NAN, -2.0];

#[derive(Debug, Clone)]
struct Row {
    a: Option<i64>,
    s: Option<usize>,
    b: Option<bool>,
    f: Option<usize>,
    x: Option<f64>,
    n: Option<i32>,
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop::option::weighted(0.85, -3i64..20),
        prop::option::weighted(0.85, 0..WORDS.len()),
        prop::option::weighted(0.85, any::<bool>()),
        prop::option::weighted(0.85, 0..FLOATS.len()),
        prop::option::weighted(0.8, -100.0f64..100.0),
        prop::option::weighted(0.8, -1000i32..1000),
    )
        .prop_map(|(a, s, b, f, x, n)| Row { a, s, b, f, x, n })
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        // `a` spread over the whole i64 range: the hashed (not dense) path.
        Field::new("w", DataType::Int64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new(
            "d",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
        Field::new("b", DataType::Boolean, true),
        Field::new("f", DataType::Float64, true),
        Field::new("x", DataType::Float64, true),
        Field::new("n", DataType::Int32, true),
    ]))
}

fn spread(a: i64) -> i64 {
    a.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64)
}

fn batch(rows: &[Row]) -> RecordBatch {
    let mut dict = StringDictionaryBuilder::<Int32Type>::new();
    for r in rows {
        dict.append_option(r.s.map(|i| WORDS[i]));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.a).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.a.map(spread)).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            rows.iter()
                .map(|r| r.s.map(|i| WORDS[i]))
                .collect::<Vec<_>>(),
        )),
        Arc::new(dict.finish()),
        Arc::new(BooleanArray::from(
            rows.iter().map(|r| r.b).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            rows.iter()
                .map(|r| r.f.map(|i| FLOATS[i]))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            rows.iter().map(|r| r.x).collect::<Vec<_>>(),
        )),
        Arc::new(Int32Array::from(
            rows.iter().map(|r| r.n).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema(), columns).unwrap()
}

/// A key value as the naive implementation sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum K {
    Null,
    Int(i64),
    Str(String),
    Bool(bool),
    /// Canonical bits: -0.0 as 0.0, one NaN.
    Float(u64),
}

fn canonical_bits(v: f64) -> u64 {
    if v == 0.0 {
        0
    } else if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

fn naive_key(r: &Row, column: &str) -> K {
    match column {
        "a" => r.a.map_or(K::Null, K::Int),
        "w" => r.a.map_or(K::Null, |a| K::Int(spread(a))),
        "s" | "d" => r.s.map_or(K::Null, |i| K::Str(WORDS[i].to_owned())),
        "b" => r.b.map_or(K::Null, K::Bool),
        "f" => r.f.map_or(K::Null, |i| K::Float(canonical_bits(FLOATS[i]))),
        other => panic!("no key {other}"),
    }
}

/// The key of row `i` of the key columns of a kernel's output.
fn output_key(columns: &[ArrayRef], i: usize) -> Vec<K> {
    columns
        .iter()
        .map(|c| {
            if is_null(c, i) {
                return K::Null;
            }
            match c.data_type() {
                DataType::Int64 => K::Int(c.as_primitive::<Int64Type>().value(i)),
                DataType::Utf8 => K::Str(c.as_string::<i32>().value(i).to_owned()),
                DataType::Dictionary(..) => {
                    let d = c.as_dictionary::<Int32Type>();
                    let key = d.keys().value(i) as usize;
                    K::Str(d.values().as_string::<i32>().value(key).to_owned())
                }
                DataType::Boolean => K::Bool(c.as_boolean().value(i)),
                DataType::Float64 => {
                    K::Float(canonical_bits(c.as_primitive::<Float64Type>().value(i)))
                }
                other => panic!("unexpected key type {other}"),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The naive group-by.

/// Every index kind: one group, dense and hashed integers, strings,
/// dictionaries, booleans, floats, composites of two and three keys, and
/// the row format (five keys).
const KEY_SETS: [&[&str]; 11] = [
    &[],
    &["a"],
    &["w"],
    &["s"],
    &["d"],
    &["b"],
    &["f"],
    &["a", "s"],
    &["s", "b", "a"],
    &["d", "f"],
    &["a", "s", "b", "f", "d"],
];

fn aggs() -> Vec<Agg> {
    vec![
        Agg::count("x"),
        Agg::sum("x"),
        Agg::mean("x"),
        Agg::min("x"),
        Agg::max("x"),
        Agg::var("x"),
        Agg::std("x"),
        Agg::count("n"),
        Agg::sum("n"),
        Agg::mean("n").alias("n_average"),
        Agg::min("n"),
        Agg::max("n"),
        Agg::std("n"),
        Agg::min("s"),
        Agg::max("d"),
        Agg::count("b"),
    ]
}

/// One expected output value.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
}

fn naive_value(rows: &[&Row], agg: &Agg) -> V {
    let xs: Vec<f64> = match agg.column.as_str() {
        "x" => rows.iter().filter_map(|r| r.x).collect(),
        "n" => rows.iter().filter_map(|r| r.n.map(f64::from)).collect(),
        "b" => rows.iter().filter_map(|r| r.b.map(|_| 0.0)).collect(),
        _ => Vec::new(),
    };
    let strings: Vec<&str> = rows.iter().filter_map(|r| r.s.map(|i| WORDS[i])).collect();
    let count = if matches!(agg.column.as_str(), "s" | "d") {
        strings.len()
    } else {
        xs.len()
    };
    let int_column = agg.column == "n";
    match agg.func {
        AggFunc::Count => V::Int(count as i64),
        _ if count == 0 => V::Null,
        AggFunc::Sum if int_column => V::Int(xs.iter().map(|&v| v as i64).sum()),
        AggFunc::Sum => V::Float(xs.iter().sum()),
        AggFunc::Mean => V::Float(xs.iter().sum::<f64>() / count as f64),
        AggFunc::Min | AggFunc::Max if matches!(agg.column.as_str(), "s" | "d") => {
            let pick = if agg.func == AggFunc::Min {
                strings.iter().min()
            } else {
                strings.iter().max()
            };
            V::Str(pick.map(|s| (*s).to_owned()).unwrap_or_default())
        }
        AggFunc::Min | AggFunc::Max => {
            let v = if agg.func == AggFunc::Min {
                xs.iter().copied().fold(f64::INFINITY, f64::min)
            } else {
                xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            };
            if int_column {
                V::Int(v as i64)
            } else {
                V::Float(v)
            }
        }
        AggFunc::Var | AggFunc::Std if count < 2 => V::Null,
        AggFunc::Var | AggFunc::Std => {
            let mean = xs.iter().sum::<f64>() / count as f64;
            let var = xs.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (count - 1) as f64;
            V::Float(if agg.func == AggFunc::Std {
                var.sqrt()
            } else {
                var
            })
        }
        other => panic!("no naive {other}"),
    }
}

/// Whether row `i` is null, a null dictionary value included.
fn is_null(column: &ArrayRef, i: usize) -> bool {
    column.logical_nulls().is_some_and(|n| n.is_null(i))
}

fn output_value(column: &ArrayRef, i: usize) -> V {
    if is_null(column, i) {
        return V::Null;
    }
    match column.data_type() {
        DataType::Int64 => V::Int(column.as_primitive::<Int64Type>().value(i)),
        DataType::Int32 => V::Int(i64::from(column.as_primitive::<Int32Type>().value(i))),
        DataType::Float64 => V::Float(column.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => V::Str(column.as_string::<i32>().value(i).to_owned()),
        DataType::Dictionary(..) => {
            let d = column.as_dictionary::<Int32Type>();
            V::Str(
                d.values()
                    .as_string::<i32>()
                    .value(d.keys().value(i) as usize)
                    .to_owned(),
            )
        }
        other => panic!("unexpected output type {other}"),
    }
}

fn close(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Float(x), V::Float(y)) => (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs())),
        _ => a == b,
    }
}

/// Checks a finished group-by against the naive one: the same groups, in
/// order of first appearance, with the same values.
fn check_group_by(
    out: &RecordBatch,
    rows: &[Row],
    keys: &[&str],
    aggs: &[Agg],
) -> Result<(), TestCaseError> {
    let mut groups: BTreeMap<Vec<K>, Vec<&Row>> = BTreeMap::new();
    let mut order: Vec<Vec<K>> = Vec::new();
    for r in rows {
        let key: Vec<K> = keys.iter().map(|k| naive_key(r, k)).collect();
        let members = groups.entry(key.clone()).or_default();
        if members.is_empty() {
            order.push(key);
        }
        members.push(r);
    }
    if keys.is_empty() && rows.is_empty() {
        order.push(Vec::new());
        groups.insert(Vec::new(), Vec::new());
    }
    prop_assert_eq!(out.num_rows(), order.len());
    let key_columns = &out.columns()[..keys.len()];
    for (i, key) in order.iter().enumerate() {
        prop_assert_eq!(&output_key(key_columns, i), key, "group {} out of order", i);
        for (j, agg) in aggs.iter().enumerate() {
            let got = output_value(out.column(keys.len() + j), i);
            let want = naive_value(&groups[key], agg);
            prop_assert!(
                close(&got, &want),
                "{}: got {:?}, want {:?} (key {:?})",
                agg.output_name(),
                got,
                want,
                key
            );
        }
    }
    Ok(())
}

/// Splits `rows` at the (sorted, deduplicated) cut points.
fn chunks<'r>(rows: &'r [Row], cuts: &[usize]) -> Vec<&'r [Row]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (rows.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for c in cuts {
        out.push(&rows[start..c]);
        start = c;
    }
    out.push(&rows[start..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// partial → finish, and partial → merge (a tree, `split_every` at a
    /// time) → finish, give the naive result for every key kind.
    #[test]
    fn group_by_trees_match_a_naive_group_by(
        rows in prop::collection::vec(row(), 0..160),
        cuts in prop::collection::vec(0usize..1000, 0..6),
        split_every in 2usize..4,
    ) {
        let aggs = aggs();
        for keys in KEY_SETS {
            let plan = GroupBy::new(&schema(), keys, &aggs).unwrap();
            let single = plan.finish(&plan.partial(&batch(&rows)).unwrap()).unwrap();
            check_group_by(&single, &rows, keys, &aggs)?;

            let mut level: Vec<RecordBatch> = chunks(&rows, &cuts)
                .iter()
                .map(|c| plan.partial(&batch(c)).unwrap())
                .collect();
            while level.len() > 1 {
                level = level.chunks(split_every).map(|p| plan.merge(p).unwrap()).collect();
            }
            let tree = plan.finish(&level.pop().unwrap()).unwrap();
            check_group_by(&tree, &rows, keys, &aggs)?;
        }
    }

    /// The shuffled path: partials hash-partitioned by key to reducers,
    /// merged and finished per reducer, give every group exactly once.
    #[test]
    fn shuffled_group_by_matches_a_naive_group_by(
        rows in prop::collection::vec(row(), 0..160),
        cuts in prop::collection::vec(0usize..1000, 0..4),
        reducers in 1usize..5,
    ) {
        let aggs = [Agg::sum("n"), Agg::mean("x"), Agg::var("x"), Agg::max("s")];
        for keys in &KEY_SETS[1..] {
            let plan = GroupBy::new(&schema(), keys, &aggs).unwrap();
            let mut inbox: Vec<Vec<RecordBatch>> = vec![Vec::new(); reducers];
            for chunk in chunks(&rows, &cuts) {
                let partial = plan.partial(&batch(chunk)).unwrap();
                for (r, piece) in hash_partition(&partial, keys, reducers).unwrap().into_iter().enumerate() {
                    inbox[r].push(piece);
                }
            }
            let mut got: BTreeMap<Vec<K>, Vec<V>> = BTreeMap::new();
            for pieces in inbox {
                let out = plan.finish(&plan.merge(&pieces).unwrap()).unwrap();
                for i in 0..out.num_rows() {
                    let key = output_key(&out.columns()[..keys.len()], i);
                    let values = (0..aggs.len()).map(|j| output_value(out.column(keys.len() + j), i)).collect();
                    prop_assert!(got.insert(key, values).is_none(), "a group reached two reducers");
                }
            }
            let mut groups: BTreeMap<Vec<K>, Vec<&Row>> = BTreeMap::new();
            for r in &rows {
                groups.entry(keys.iter().map(|k| naive_key(r, k)).collect()).or_default().push(r);
            }
            prop_assert_eq!(got.len(), groups.len());
            for (key, members) in &groups {
                for (j, agg) in aggs.iter().enumerate() {
                    let want = naive_value(members, agg);
                    prop_assert!(close(&got[key][j], &want), "{:?} {}: {:?} vs {:?}", key, agg.output_name(), got[key][j], want);
                }
            }
        }
    }

    /// Same key → same partition, across batches and calls; rows kept, in
    /// order; the dictionary and plain string columns agree.
    #[test]
    fn hash_partition_is_consistent(
        rows in prop::collection::vec(row(), 0..200),
        cut in 0usize..200,
        partitions in 1usize..7,
    ) {
        let cut = cut.min(rows.len());
        for keys in &KEY_SETS[1..] {
            let mut home: BTreeMap<Vec<K>, usize> = BTreeMap::new();
            for part_rows in [&rows[..cut], &rows[cut..], &rows[..]] {
                let parts = hash_partition(&batch(part_rows), keys, partitions).unwrap();
                prop_assert_eq!(parts.len(), partitions);
                prop_assert_eq!(parts.iter().map(|p| p.num_rows()).sum::<usize>(), part_rows.len());
                for (p, part) in parts.iter().enumerate() {
                    let key_columns: Vec<ArrayRef> = keys.iter().map(|k| part.column_by_name(k).unwrap().clone()).collect();
                    for i in 0..part.num_rows() {
                        let key = output_key(&key_columns, i);
                        let at = *home.entry(key.clone()).or_insert(p);
                        prop_assert_eq!(at, p, "key {:?} in two partitions", key);
                    }
                }
            }
        }
        // A dictionary column partitions as its plain strings do.
        let b = batch(&rows);
        let by_s = hash_partition(&b, &["s"], partitions).unwrap();
        let by_d = hash_partition(&b, &["d"], partitions).unwrap();
        prop_assert_eq!(by_s, by_d);
    }

    /// Joins against a nested-loop join: same rows in the same order (left
    /// order, then build order), nulls never matching.
    #[test]
    fn joins_match_a_nested_loop_join(
        left in prop::collection::vec(row(), 0..80),
        right in prop::collection::vec(row(), 0..40),
    ) {
        let left_batch = batch(&left);
        // The right side: same columns, renamed so that only `x` clashes.
        let right_batch = rename(&batch(&right), &[("n", "m")]);
        for on in [&["a"][..], &["w"], &["s"], &["d"], &["b"], &["f"], &["a", "s"], &["d", "b"], &["a", "s", "b", "f", "w"]] {
            let table = JoinTable::build(&right_batch, on).unwrap();
            for kind in [JoinKind::Inner, JoinKind::Left] {
                let out = table.probe(&left_batch, on, kind).unwrap();
                let schema = join_schema(&left_batch.schema(), &right_batch.schema(), on, on, kind).unwrap();
                prop_assert_eq!(out.schema(), schema);
                prop_assert!(out.schema().column_with_name("x_right").is_some());
                // Expected (left row, right row) pairs.
                let mut pairs = Vec::new();
                for (i, l) in left.iter().enumerate() {
                    let lk: Vec<K> = on.iter().map(|k| naive_key(l, k)).collect();
                    let mut matched = false;
                    if !lk.contains(&K::Null) {
                        for (j, r) in right.iter().enumerate() {
                            if on.iter().map(|k| naive_key(r, k)).collect::<Vec<_>>() == lk {
                                pairs.push((i, Some(j)));
                                matched = true;
                            }
                        }
                    }
                    if !matched && kind == JoinKind::Left {
                        pairs.push((i, None));
                    }
                }
                prop_assert_eq!(out.num_rows(), pairs.len());
                let x = out.column_by_name("x").unwrap().as_primitive::<Float64Type>();
                let n = out.column_by_name("n").unwrap().as_primitive::<Int32Type>();
                let m = out.column_by_name("m").unwrap().as_primitive::<Int32Type>();
                let x_right = out.column_by_name("x_right").unwrap().as_primitive::<Float64Type>();
                for (row, &(i, j)) in pairs.iter().enumerate() {
                    prop_assert_eq!(x.is_valid(row).then(|| x.value(row)), left[i].x);
                    prop_assert_eq!(n.is_valid(row).then(|| n.value(row)), left[i].n);
                    let (want_m, want_x) = j.map_or((None, None), |j| (right[j].n, right[j].x));
                    prop_assert_eq!(m.is_valid(row).then(|| m.value(row)), want_m);
                    prop_assert_eq!(x_right.is_valid(row).then(|| x_right.value(row)), want_x);
                }
                // Dictionary output: the same strings, as dictionaries.
                let dict = table.probe_dictionary(&left_batch, on, kind).unwrap();
                prop_assert_eq!(
                    dict.schema(),
                    dictionary_join_schema(&left_batch.schema(), &right_batch.schema(), on, on, kind).unwrap()
                );
                for (plain, coded) in out.columns().iter().zip(dict.columns()) {
                    // Null strings are null keys, so `null_count` tells the truth.
                    prop_assert_eq!(coded.null_count(), plain.logical_nulls().map_or(0, |n| n.null_count()));
                    for row in 0..out.num_rows() {
                        prop_assert_eq!(output_value_any(plain, row), output_value_any(coded, row));
                    }
                }
            }
        }
    }
}

/// Batches of several chunks (the kernels work 16 Ki rows at a time):
/// groups, widened slot arrays and running states carry over chunks.
#[test]
fn large_batches_match_the_naive_group_by() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let rows: Vec<Row> = (0..40_000)
        .map(|i| {
            let mut r = row().new_tree(&mut runner).unwrap().current();
            // Keys that grow over the batch: the slot array widens.
            r.a = r.a.map(|a| a * (1 + i / 4000));
            r
        })
        .collect();
    let aggs = aggs();
    for keys in KEY_SETS {
        let plan = GroupBy::new(&schema(), keys, &aggs).unwrap();
        let single = plan.finish(&plan.partial(&batch(&rows)).unwrap()).unwrap();
        check_group_by(&single, &rows, keys, &aggs).unwrap();
        let halves: Vec<RecordBatch> = rows
            .chunks(25_000)
            .map(|c| plan.partial(&batch(c)).unwrap())
            .collect();
        let merged = plan.finish(&plan.merge(&halves).unwrap()).unwrap();
        check_group_by(&merged, &rows, keys, &aggs).unwrap();
    }
}

/// Like [`output_value`], for any column of the test schema.
fn output_value_any(column: &ArrayRef, i: usize) -> Option<String> {
    if is_null(column, i) {
        return None;
    }
    Some(match column.data_type() {
        DataType::Boolean => column.as_boolean().value(i).to_string(),
        _ => format!("{:?}", output_value(column, i)),
    })
}

fn rename(batch: &RecordBatch, renames: &[(&str, &str)]) -> RecordBatch {
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let name = renames
                .iter()
                .find(|(from, _)| from == f.name())
                .map_or(f.name().as_str(), |(_, to)| to);
            f.as_ref().clone().with_name(name)
        })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec()).unwrap()
}

// ---------------------------------------------------------------------------
// Edge cases.

fn int_batch(name: &str, values: Vec<Option<i64>>) -> RecordBatch {
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(name, DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(values))],
    )
    .unwrap()
}

#[test]
fn whole_column_aggregates_of_an_empty_batch_are_one_row() {
    let b = int_batch("x", vec![]);
    let plan = GroupBy::new(
        &b.schema(),
        &[],
        &[Agg::count("x"), Agg::sum("x"), Agg::max("x")],
    )
    .unwrap();
    let out = plan.finish(&plan.partial(&b).unwrap()).unwrap();
    assert_eq!(out.num_rows(), 1);
    assert_eq!(out.column(0).as_primitive::<Int64Type>().value(0), 0);
    assert!(out.column(1).is_null(0));
    assert!(out.column(2).is_null(0));
    // Merging nothing is the neutral partial.
    let none = plan.finish(&plan.merge(&[]).unwrap()).unwrap();
    assert_eq!(none, out);
}

#[test]
fn keyed_group_by_of_an_empty_batch_is_empty() {
    let b = int_batch("k", vec![]);
    let plan = GroupBy::new(&b.schema(), &["k"], &[Agg::count("k")]).unwrap();
    let out = plan
        .finish(&plan.merge(&[plan.partial(&b).unwrap()]).unwrap())
        .unwrap();
    assert_eq!(out.num_rows(), 0);
    assert_eq!(out.schema(), plan.output_schema());
}

#[test]
fn all_null_groups_and_null_keys() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("v", DataType::Float64, true),
    ]));
    let b = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![
                Some(1),
                None,
                Some(1),
                None,
                Some(2),
            ])),
            Arc::new(Float64Array::from(vec![
                None,
                Some(4.0),
                None,
                Some(6.0),
                Some(1.0),
            ])),
        ],
    )
    .unwrap();
    let aggs = [
        Agg::count("v"),
        Agg::sum("v"),
        Agg::mean("v"),
        Agg::min("v"),
        Agg::var("v"),
    ];
    let plan = GroupBy::new(&schema, &["k"], &aggs).unwrap();
    let out = plan.finish(&plan.partial(&b).unwrap()).unwrap();
    // Groups: 1 (all values null), null (4, 6), 2 (one value).
    let k = out.column(0).as_primitive::<Int64Type>();
    assert_eq!((k.value(0), k.is_null(1), k.value(2)), (1, true, 2));
    assert_eq!(
        out.column(1).as_primitive::<Int64Type>().values(),
        &[0, 2, 1]
    );
    for c in 2..=5 {
        assert!(out.column(c).is_null(0), "column {c} of an all-null group");
    }
    assert_eq!(out.column(3).as_primitive::<Float64Type>().value(1), 5.0);
    assert_eq!(out.column(5).as_primitive::<Float64Type>().value(1), 2.0);
    assert!(out.column(5).is_null(2), "variance of one value is null");
}

#[test]
fn float_keys_group_zeroes_and_nans_together_and_min_max_order_nan_highest() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Float64, false),
        Field::new("v", DataType::Float64, false),
    ]));
    let b = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Float64Array::from(vec![
                0.0,
                -0.0,
                f64::NAN,
                -f64::NAN,
                0.0,
            ])),
            Arc::new(Float64Array::from(vec![1.0, f64::NAN, 2.0, 3.0, 0.5])),
        ],
    )
    .unwrap();
    let plan = GroupBy::new(
        &schema,
        &["k"],
        &[Agg::count("v"), Agg::min("v"), Agg::max("v")],
    )
    .unwrap();
    let out = plan.finish(&plan.partial(&b).unwrap()).unwrap();
    assert_eq!(out.num_rows(), 2);
    assert_eq!(out.column(1).as_primitive::<Int64Type>().values(), &[3, 2]);
    assert_eq!(out.column(2).as_primitive::<Float64Type>().value(0), 0.5);
    assert!(out
        .column(3)
        .as_primitive::<Float64Type>()
        .value(0)
        .is_nan());
    assert_eq!(out.column(3).as_primitive::<Float64Type>().value(1), 3.0);
}

#[test]
fn integer_sums_are_int64_and_wrap() {
    let b = int_batch("x", vec![Some(i64::MAX), Some(1)]);
    let plan = GroupBy::new(&b.schema(), &[], &[Agg::sum("x")]).unwrap();
    let out = plan.finish(&plan.partial(&b).unwrap()).unwrap();
    assert_eq!(out.column(0).as_primitive::<Int64Type>().value(0), i64::MIN);
}

#[test]
fn variance_stays_accurate_with_a_large_mean() {
    let values: Vec<f64> = (0..1000).map(|i| 1e9 + f64::from(i % 2)).collect();
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
    let plan = GroupBy::new(&schema, &[], &[Agg::var("x")]).unwrap();
    let partials: Vec<RecordBatch> = values
        .chunks(77)
        .map(|c| {
            let b = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Float64Array::from(c.to_vec()))],
            )
            .unwrap();
            plan.partial(&b).unwrap()
        })
        .collect();
    let out = plan.finish(&plan.merge(&partials).unwrap()).unwrap();
    let var = out.column(0).as_primitive::<Float64Type>().value(0);
    let want = 0.25 * 1000.0 / 999.0;
    assert!((var - want).abs() < 1e-9, "{var} vs {want}");
}

#[test]
fn dense_and_hashed_integer_keys_agree_on_large_batches() {
    // 20 000 rows over 999 keys: the dense path; the same keys spread: hashed.
    let keys: Vec<i64> = (0..20_000).map(|i| (i * 7919) % 999).collect();
    for (name, ks) in [
        ("dense", keys.clone()),
        (
            "hashed",
            keys.iter().map(|&k| spread(k)).collect::<Vec<_>>(),
        ),
    ] {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Float64, false),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(ks)),
                Arc::new(Float64Array::from(
                    (0..20_000).map(f64::from).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap();
        let plan = GroupBy::new(&schema, &["k"], &[Agg::count("v"), Agg::sum("v")]).unwrap();
        let out = plan.finish(&plan.partial(&b).unwrap()).unwrap();
        assert_eq!(out.num_rows(), 999, "{name}");
        let counts = out.column(1).as_primitive::<Int64Type>();
        assert_eq!(counts.values().iter().sum::<i64>(), 20_000, "{name}");
        let total: f64 = out
            .column(2)
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .sum();
        assert_eq!(total, (0..20_000).map(f64::from).sum::<f64>(), "{name}");
    }
}

#[test]
fn value_counts_sorts_by_count_and_drops_nulls() {
    let b = int_batch(
        "k",
        vec![
            Some(3),
            None,
            Some(1),
            Some(3),
            None,
            Some(1),
            Some(3),
            Some(2),
        ],
    );
    let out = value_counts(&b, "k").unwrap();
    assert_eq!(
        out.column(0).as_primitive::<Int64Type>().values(),
        &[3, 1, 2]
    );
    assert_eq!(
        out.column(1).as_primitive::<Int64Type>().values(),
        &[3, 2, 1]
    );
    assert_eq!(out.schema().field(1).name(), "count");
}

#[test]
fn batches_are_read_by_column_name() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("v", DataType::Int64, false),
        Field::new("extra", DataType::Utf8, false),
        Field::new("k", DataType::Int64, false),
    ]));
    let plan = GroupBy::new(&schema, &["k"], &[Agg::sum("v")]).unwrap();
    let other = int_batch("k", vec![Some(1)]);
    let v = Arc::new(Int64Array::from(vec![5])) as ArrayRef;
    let b = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, false),
        ])),
        vec![other.column(0).clone(), v],
    )
    .unwrap();
    let out = plan.finish(&plan.partial(&b).unwrap()).unwrap();
    assert_eq!(out.column(1).as_primitive::<Int64Type>().value(0), 5);
}

#[test]
fn joins_with_empty_sides() {
    let right = int_batch("k", vec![]);
    let left = rename(&int_batch("k", vec![Some(1), None]), &[]);
    let table = JoinTable::build(&right, &["k"]).unwrap();
    assert_eq!(
        table
            .probe(&left, &["k"], JoinKind::Inner)
            .unwrap()
            .num_rows(),
        0
    );
    let outer = table.probe(&left, &["k"], JoinKind::Left).unwrap();
    assert_eq!(outer.num_rows(), 2);
    let table = JoinTable::build(&int_batch("k", vec![Some(1)]), &["k"]).unwrap();
    assert_eq!(
        table
            .probe(&int_batch("k", vec![]), &["k"], JoinKind::Left)
            .unwrap()
            .num_rows(),
        0
    );
}

#[test]
fn a_join_table_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<JoinTable>();
    assert_send_sync::<GroupBy>();
    let table =
        Arc::new(JoinTable::build(&int_batch("k", vec![Some(1), Some(2)]), &["k"]).unwrap());
    let rows: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let table = table.clone();
                s.spawn(move || {
                    table
                        .probe(
                            &int_batch("k", vec![Some(1), Some(3), Some(2)]),
                            &["k"],
                            JoinKind::Inner,
                        )
                        .unwrap()
                        .num_rows()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(rows, 6);
}

// ---------------------------------------------------------------------------
// Every error, before any work.

#[test]
fn group_by_plans_name_what_is_wrong() {
    let s = schema();
    let err = |keys: &[&str], aggs: &[Agg]| GroupBy::new(&s, keys, aggs).unwrap_err();

    let e = err(&["nope"], &[Agg::count("x")]);
    assert!(
        matches!(&e, KernelError::UnknownColumn { column, role: "group-by key", .. } if column == "nope")
    );
    assert!(e.to_string().contains("columns: a, w, s"), "{e}");
    assert!(matches!(
        err(&["a"], &[Agg::sum("nope")]),
        KernelError::UnknownColumn {
            role: "aggregate",
            ..
        }
    ));
    for func in [AggFunc::Sum, AggFunc::Mean, AggFunc::Var, AggFunc::Std] {
        let e = err(&["a"], &[Agg::new("s", func)]);
        assert!(
            matches!(&e, KernelError::NotNumeric { column, data_type: DataType::Utf8, func: f } if column == "s" && *f == func)
        );
    }
    assert!(matches!(err(&["a", "a"], &[]), KernelError::DuplicateKey { column } if column == "a"));
    assert!(matches!(
        err(&["a"], &[Agg::sum("x"), Agg::mean("n").alias("x_sum")]),
        KernelError::DuplicateOutput { name } if name == "x_sum"
    ));
    assert!(matches!(
        err(&["a"], &[Agg::count("x").alias("a")]),
        KernelError::DuplicateOutput { .. }
    ));
    assert!(matches!(err(&[], &[]), KernelError::EmptyGroupBy));

    let nested = Schema::new(vec![Field::new(
        "l",
        DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
        true,
    )]);
    assert!(matches!(
        GroupBy::new(&nested, &["l"], &[]).unwrap_err(),
        KernelError::UnsupportedKeyType { column, .. } if column == "l"
    ));
    assert!(matches!(
        GroupBy::new(&nested, &[], &[Agg::max("l")]).unwrap_err(),
        KernelError::NotOrderable { column, func: AggFunc::Max, .. } if column == "l"
    ));
}

#[test]
fn batches_and_partials_that_do_not_fit_the_plan_are_refused() {
    let plan = GroupBy::new(&schema(), &["a"], &[Agg::mean("x")]).unwrap();
    let missing = int_batch("x", vec![Some(1)]);
    assert!(
        matches!(plan.partial(&missing).unwrap_err(), KernelError::UnknownColumn { column, .. } if column == "a")
    );
    let wrong = rename(&int_batch("a", vec![Some(1)]), &[]);
    let wrong = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            wrong.schema().field(0).clone(),
            Field::new("x", DataType::Int64, true),
        ])),
        vec![wrong.column(0).clone(), wrong.column(0).clone()],
    )
    .unwrap();
    let e = plan.partial(&wrong).unwrap_err();
    assert!(
        matches!(&e, KernelError::ColumnType { column, expected: DataType::Float64, found: DataType::Int64 } if column == "x"),
        "{e}"
    );

    let not_partial = batch(&[]);
    assert!(matches!(
        plan.merge(std::slice::from_ref(&not_partial)).unwrap_err(),
        KernelError::NotAPartial { .. }
    ));
    assert!(matches!(
        plan.finish(&not_partial).unwrap_err(),
        KernelError::NotAPartial { .. }
    ));
}

#[test]
fn join_plans_name_what_is_wrong() {
    let l = schema();
    let r = Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("a", DataType::Int64, true),
    ]);
    let e = join_schema(&l, &r, &["a"], &["id"], JoinKind::Inner).unwrap_err();
    assert!(
        matches!(&e, KernelError::KeyTypeMismatch { left_column, left_type: DataType::Int64, right_column, right_type: DataType::Int32 }
        if left_column == "a" && right_column == "id")
    );
    assert!(
        e.to_string()
            .contains("left `a` is Int64, right `id` is Int32"),
        "{e}"
    );
    assert!(matches!(
        join_schema(&l, &r, &["a", "s"], &["a"], JoinKind::Inner).unwrap_err(),
        KernelError::KeyCountMismatch { left: 2, right: 1 }
    ));
    assert!(matches!(
        join_schema(&l, &r, &[], &[], JoinKind::Left).unwrap_err(),
        KernelError::NoKeys { op: "join" }
    ));
    assert!(matches!(
        join_schema(&l, &r, &["zz"], &["a"], JoinKind::Inner).unwrap_err(),
        KernelError::UnknownColumn {
            role: "left join key",
            ..
        }
    ));
    assert!(matches!(
        join_schema(&l, &r, &["a"], &["zz"], JoinKind::Inner).unwrap_err(),
        KernelError::UnknownColumn {
            role: "right join key",
            ..
        }
    ));

    let right = int_batch("id", vec![Some(1)]);
    assert!(matches!(
        JoinTable::build(&right, &[]).unwrap_err(),
        KernelError::NoKeys { .. }
    ));
    assert!(matches!(
        JoinTable::build(&right, &["zz"]).unwrap_err(),
        KernelError::UnknownColumn { .. }
    ));
    let table = JoinTable::build(&right, &["id"]).unwrap();
    let left = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)])),
        vec![Arc::new(StringArray::from(vec!["1"]))],
    )
    .unwrap();
    assert!(matches!(
        table.probe(&left, &["id"], JoinKind::Inner).unwrap_err(),
        KernelError::KeyTypeMismatch { .. }
    ));
}

#[test]
fn hash_partition_spreads_keys() {
    // Equal key columns must not cancel out in the row hash.
    let k = Arc::new(Int64Array::from((0..1000).collect::<Vec<i64>>())) as ArrayRef;
    let b = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("x", DataType::Int64, false),
            Field::new("y", DataType::Int64, false),
        ])),
        vec![k.clone(), k],
    )
    .unwrap();
    for keys in [&["x"][..], &["x", "y"]] {
        let sizes: Vec<usize> = hash_partition(&b, keys, 4)
            .unwrap()
            .iter()
            .map(|p| p.num_rows())
            .collect();
        assert!(sizes.iter().all(|&n| n > 180), "{keys:?}: {sizes:?}");
    }
}

#[test]
fn hash_partition_errors() {
    let b = batch(&[]);
    assert!(matches!(
        hash_partition(&b, &["a"], 0).unwrap_err(),
        KernelError::ZeroPartitions
    ));
    assert!(matches!(
        hash_partition(&b, &[], 2).unwrap_err(),
        KernelError::NoKeys { .. }
    ));
    assert!(matches!(
        hash_partition(&b, &["zz"], 2).unwrap_err(),
        KernelError::UnknownColumn {
            role: "partition key",
            ..
        }
    ));
    // Equal values of different integer widths land together.
    let narrow = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("k", DataType::Int32, false)])),
        vec![Arc::new(Int32Array::from((0..100).collect::<Vec<i32>>()))],
    )
    .unwrap();
    let wide = int_batch("k", (0..100).map(Some).collect());
    let rows = |parts: Vec<RecordBatch>| -> Vec<BTreeSet<i64>> {
        parts
            .iter()
            .map(|p| {
                let c = arrow_cast::cast(p.column(0), &DataType::Int64).unwrap();
                c.as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .copied()
                    .collect()
            })
            .collect()
    };
    assert_eq!(
        rows(hash_partition(&narrow, &["k"], 3).unwrap()),
        rows(hash_partition(&wide, &["k"], 3).unwrap())
    );
}
