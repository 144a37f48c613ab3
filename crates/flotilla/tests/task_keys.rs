//! Task keys are names, not numbers from a process-wide counter: the same
//! Bag pipeline, DataFrame operation or tree reduction gives the same keys
//! whatever else the process built before, and two operations of one name
//! in one graph get distinct keys (`op`, `op#2`) of the same kind.

use flotilla::bag::Bag;
use flotilla::patterns::tree_reduce_delayed;
use flotilla::{Delayed, TaskKey};

/// The task names of a graph in DOT format, in graph order.
fn dot_keys(dot: &str) -> Vec<String> {
    dot.lines()
        .filter(|l| !l.contains("->"))
        .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\";"))
        .map(str::to_string)
        .collect()
}

/// Builds and computes graphs that have nothing to do with the ones under
/// test, as other work in the process would.
fn unrelated_work() {
    let squares = Bag::range(50, 5).map(|x| x * x);
    assert_eq!(squares.sum().compute().unwrap(), 40425);
    let _ = Bag::from_iter(["a", "b", "a"], 2).frequencies().to_dot();
    let values: Vec<Delayed<u64>> = (0..20).map(|i| Delayed::value(i).map(|x| x + 1)).collect();
    assert_eq!(
        tree_reduce_delayed(&values, 3, |a, b| a + b)
            .unwrap()
            .unwrap()
            .compute()
            .unwrap(),
        210
    );
    #[cfg(feature = "dataframe")]
    {
        let df = flotilla::dataframe::DataFrame::from_columns(
            vec![("x", (0..30i64).collect::<Vec<_>>().into())],
            3,
        )
        .unwrap();
        assert_eq!(df.count().compute().unwrap(), 30);
    }
    #[cfg(feature = "array")]
    {
        let a = flotilla::array::Array::<f64>::ones(&[6, 6], [2, 3]).unwrap();
        assert_eq!((&a + 1.0).sum().compute().unwrap(), 72.0);
    }
}

/// Asserts that `build` gives the same graph, key for key, before and after
/// other graphs are built and computed, and returns its keys.
fn same_keys_whatever_came_before(build: impl Fn() -> String) -> Vec<String> {
    let first = build();
    unrelated_work();
    let _ = build();
    unrelated_work();
    let again = build();
    assert_eq!(again, first);
    let keys = dot_keys(&first);
    assert!(!keys.is_empty(), "{first}");
    keys
}

#[test]
fn a_bag_pipeline_has_the_same_keys_whatever_was_built_before() {
    let keys = same_keys_whatever_came_before(|| {
        Bag::range(100, 4)
            .map(|x| x % 7)
            .filter(|x| *x > 0)
            .frequencies()
            .to_dot()
    });
    assert!(keys.contains(&"range[3]".to_string()), "{keys:?}");
    assert!(
        keys.iter()
            .any(|k| k.starts_with("range|map|filter|") && k.ends_with("[0]")),
        "{keys:?}"
    );
    assert!(keys.iter().all(|k| !k.contains('#')), "{keys:?}");
}

#[test]
fn a_tree_reduction_has_the_same_keys_whatever_was_built_before() {
    let keys = same_keys_whatever_came_before(|| {
        let leaves: Vec<Delayed<u64>> = (0..9).map(Delayed::value).collect();
        tree_reduce_delayed(&leaves, 2, |a, b| a + b)
            .unwrap()
            .unwrap()
            .to_dot()
    });
    // Numbered level by level from the leaves, so listed in graph order
    // (dependencies first) they are not in order.
    let mut combines: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with("tree_reduce"))
        .collect();
    combines.sort_by_key(|k| k.parse::<TaskKey>().unwrap().index());
    let expected: Vec<String> = (0..8).map(|n| format!("tree_reduce[{n}]")).collect();
    assert_eq!(combines, expected.iter().collect::<Vec<_>>());
}

#[test]
fn two_bag_operations_of_one_name_get_distinct_keys_of_one_kind() {
    let a = Bag::range(4, 2).map(|x| x + 1);
    let b = Bag::range(6, 2).map(|x| x * 2);
    let both = a.concat(&b).sum();
    assert_eq!(
        both.compute().unwrap(),
        (1..=4).sum::<u64>() + 2 * (0..6).sum::<u64>()
    );
    let keys: Vec<TaskKey> = dot_keys(&both.to_dot())
        .iter()
        .map(|k| k.parse::<TaskKey>().unwrap())
        .collect();
    let first = keys.iter().find(|k| k.group() == "range").unwrap();
    let second = keys.iter().find(|k| k.group() == "range#2").unwrap();
    assert_ne!(first, second);
    assert_eq!(first.kind(), "range");
    assert_eq!(second.kind(), "range");
}

#[test]
fn two_tree_reductions_in_one_graph_get_distinct_keys_of_one_kind() {
    let tree = |n: u64| {
        let leaves: Vec<Delayed<u64>> = (0..n).map(Delayed::value).collect();
        tree_reduce_delayed(&leaves, 2, |a, b| a + b)
            .unwrap()
            .unwrap()
    };
    let total = tree(4).zip_with(&tree(3), |a, b| a + b);
    assert_eq!(total.compute().unwrap(), 6 + 3);
    let keys = dot_keys(&total.to_dot());
    let combines: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| k.parse::<TaskKey>().unwrap().kind() == "tree_reduce")
        .collect();
    assert_eq!(
        combines,
        [
            "tree_reduce[0]",
            "tree_reduce[1]",
            "tree_reduce[2]",
            "tree_reduce#2[0]",
            "tree_reduce#2[1]"
        ]
    );
}

#[cfg(feature = "dataframe")]
mod dataframe {
    use flotilla::dataframe::kernels::{Agg, JoinKind};
    use flotilla::dataframe::{DataFrame, SortKey};

    use super::*;

    fn frame() -> DataFrame {
        DataFrame::from_columns(
            vec![
                ("k", (0..40i64).map(|i| i % 5).collect::<Vec<_>>().into()),
                ("v", (0..40i64).collect::<Vec<_>>().into()),
            ],
            4,
        )
        .unwrap()
    }

    #[test]
    fn a_group_by_and_a_sort_have_the_same_keys_whatever_was_built_before() {
        let keys = same_keys_whatever_came_before(|| {
            frame()
                .group_by(&["k"])
                .unwrap()
                .agg(&[Agg::sum("v")])
                .unwrap()
                .sort_by(&[SortKey::new("k")])
                .unwrap()
                .count()
                .to_dot()
        });
        assert!(keys.iter().any(|k| k.contains("|group_by")), "{keys:?}");
        assert!(keys.iter().any(|k| k.contains("|sort")), "{keys:?}");
        assert!(keys.iter().all(|k| !k.contains('#')), "{keys:?}");
    }

    #[test]
    fn a_self_join_gets_distinct_keys_of_one_kind() {
        let left = frame();
        let right = frame();
        let joined = left.join(&right, &["k"], &["k"], JoinKind::Inner).unwrap();
        assert_eq!(joined.count().compute().unwrap(), 5 * 8 * 8);
        let keys: Vec<TaskKey> = dot_keys(&joined.count().to_dot())
            .iter()
            .map(|k| k.parse::<TaskKey>().unwrap())
            .collect();
        let kinds_with_twins: Vec<&str> = keys
            .iter()
            .filter(|k| k.group().contains('#'))
            .map(TaskKey::kind)
            .collect();
        assert!(!kinds_with_twins.is_empty(), "{keys:?}");
        for kind in kinds_with_twins {
            assert!(keys.iter().any(|k| k.group() == kind), "{kind}: {keys:?}");
        }
    }
}
