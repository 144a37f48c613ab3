//! Task graphs, lazy (`Delayed`, like `dask.delayed`) and keyed (`Graph`,
//! like a Dask graph dictionary): shared results are computed once, invalid
//! graphs are refused before anything runs, a failure reaches exactly the
//! tasks that depend on it, and large graphs compute correctly.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use flotilla_core::{GraphError, TaskKey};
use flotilla_local::{ComputeOptions, CpuPool, Delayed, Graph, TaskError};

fn options(pool: &CpuPool) -> ComputeOptions {
    ComputeOptions::new().pool(pool).progress(false)
}

/// A task of a keyed graph that has no inputs and returns `value`.
fn leaf(g: &mut Graph, key: &str, value: i64) {
    g.insert(key, [] as [&str; 0], move |_| Ok::<_, TaskError>(value));
}

#[test]
fn a_delayed_value_used_twice_is_computed_once() {
    let pool = CpuPool::with_threads(2).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let shared = Delayed::from_fn(move || {
        c.fetch_add(1, Ordering::SeqCst);
        10i64
    });
    let left = shared.map(|x| x + 1);
    let right = shared.map(|x| x * 2);
    let both = left.zip_with(&right, |a, b| a + b);
    let again = both.zip_with(&shared, |a, b| a - b);
    assert_eq!(again.task_count(), 5);
    assert_eq!(again.compute_with(&options(&pool)).unwrap(), 11 + 20 - 10);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_keyed_result_used_twice_is_computed_once() {
    let pool = CpuPool::with_threads(2).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let mut g = Graph::new();
    g.insert("base", [] as [&str; 0], move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok::<_, TaskError>(3i64)
    });
    g.insert("sq", ["base"], |i| {
        Ok::<_, TaskError>(i.get::<i64>(0)? * i.get::<i64>(0)?)
    });
    g.insert("neg", ["base"], |i| Ok::<_, TaskError>(-i.get::<i64>(0)?));
    g.insert("sum", ["sq", "neg", "base"], |i| {
        Ok::<_, TaskError>(i.get::<i64>(0)? + i.get::<i64>(1)? + i.get::<i64>(2)?)
    });
    let (results, report) = g
        .compute_many_with(&["sum".into(), "sq".into()], &options(&pool))
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().downcast_ref::<i64>(), Some(&9));
    assert_eq!(results[1].as_ref().unwrap().downcast_ref::<i64>(), Some(&9));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(report.tasks(), 4);
}

#[test]
fn a_cycle_is_refused_naming_its_keys_and_nothing_runs() {
    let ran = Arc::new(AtomicBool::new(false));
    let mut g = Graph::new();
    for (key, dep) in [("a", "c"), ("b", "a"), ("c", "b")] {
        let r = Arc::clone(&ran);
        g.insert(key, [dep], move |_| {
            r.store(true, Ordering::SeqCst);
            Ok::<_, TaskError>(0i64)
        });
    }
    let r = Arc::clone(&ran);
    g.insert("fine", [] as [&str; 0], move |_| {
        r.store(true, Ordering::SeqCst);
        Ok::<_, TaskError>(1i64)
    });
    let pool = CpuPool::with_threads(2).unwrap();
    let err = g
        .compute_many_with(&["fine".into()], &options(&pool))
        .unwrap_err();
    match &err {
        TaskError::Graph(GraphError::Cycle { cycle }) => {
            let names: Vec<String> = cycle.iter().map(ToString::to_string).collect();
            for k in ["a", "b", "c"] {
                assert!(names.iter().any(|n| n == k), "{names:?} lacks {k}");
            }
            assert_eq!(names.first(), names.last(), "the cycle closes: {names:?}");
            assert_eq!(names.len(), 4);
        }
        other => panic!("expected a cycle, got {other:?}"),
    }
    assert!(err.to_string().contains("cycle"), "{err}");
    assert!(matches!(
        g.compute::<i64>("a"),
        Err(TaskError::Graph(GraphError::Cycle { .. }))
    ));
    assert!(g.to_dot().is_err());
    assert!(
        !ran.load(Ordering::SeqCst),
        "a task of an invalid graph ran"
    );
}

#[test]
fn an_unknown_dependency_is_refused_naming_both_keys() {
    let mut g = Graph::new();
    leaf(&mut g, "real", 1);
    g.insert("needy", ["real", "ghost"], |_| Ok::<_, TaskError>(0i64));
    let err = g.compute::<i64>("real").unwrap_err();
    match &err {
        TaskError::Graph(GraphError::UnknownDependency { task, dependency }) => {
            assert_eq!(task.to_string(), "needy");
            assert_eq!(dependency, "ghost");
        }
        other => panic!("expected UnknownDependency, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(
        shown.contains("needy") && shown.contains("ghost"),
        "{shown}"
    );
}

#[test]
fn asking_for_a_key_not_in_the_graph_is_an_error() {
    let mut g = Graph::new();
    leaf(&mut g, "a", 1);
    let err = g.compute::<i64>("nope").unwrap_err();
    assert!(matches!(err, TaskError::Graph(_)), "{err:?}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn a_duplicate_key_is_refused() {
    let mut g = Graph::new();
    leaf(&mut g, "twice", 1);
    leaf(&mut g, "twice", 2);
    match g.compute::<i64>("twice") {
        Err(TaskError::Graph(GraphError::DuplicateKey(k))) => assert_eq!(k.to_string(), "twice"),
        other => panic!("expected DuplicateKey, got {other:?}"),
    }
}

#[test]
fn a_failure_reaches_its_dependents_transitively_and_spares_other_branches() {
    let pool = CpuPool::with_threads(2).unwrap();
    let dependents_ran = Arc::new(AtomicBool::new(false));
    let mut g = Graph::new();
    leaf(&mut g, "source", 1);
    g.insert("bad", ["source"], |_| Err::<i64, _>("sensor offline"));
    for (key, dep) in [("mid", "bad"), ("top", "mid")] {
        let r = Arc::clone(&dependents_ran);
        g.insert(key, [dep], move |_| {
            r.store(true, Ordering::SeqCst);
            Ok::<_, TaskError>(0i64)
        });
    }
    leaf(&mut g, "other", 5);
    g.insert("other2", ["other", "source"], |i| {
        Ok::<_, TaskError>(i.get::<i64>(0)? + i.get::<i64>(1)?)
    });
    let keys: Vec<TaskKey> = ["top", "mid", "bad", "other2"].map(TaskKey::from).to_vec();
    let (results, report) = g.compute_many_with(&keys, &options(&pool)).unwrap();

    match &results[2] {
        Err(TaskError::Failed { task, message, .. }) => {
            assert_eq!(task, "bad");
            assert_eq!(message, "sensor offline");
        }
        other => panic!("expected bad to fail, got {other:?}"),
    }
    for (i, key) in [(0, "top"), (1, "mid")] {
        match &results[i] {
            Err(
                e @ TaskError::DependencyFailed {
                    task,
                    dependency,
                    cause,
                },
            ) => {
                assert_eq!(task, key);
                assert_eq!(dependency, "bad");
                assert!(cause.contains("sensor offline"), "{cause}");
                assert!(e.to_string().contains("bad"), "{e}");
            }
            other => panic!("expected {key} to fail because of bad, got {other:?}"),
        }
    }
    assert_eq!(
        results[3].as_ref().unwrap().downcast_ref::<i64>(),
        Some(&6),
        "the unrelated branch finished"
    );
    assert!(
        !dependents_ran.load(Ordering::SeqCst),
        "a dependent of a failed task ran"
    );
    // source, bad, other and other2 ran; mid and top never did.
    assert_eq!(report.tasks(), 4);
}

#[test]
fn a_panicking_graph_task_is_named_and_fails_its_dependents() {
    let pool = CpuPool::with_threads(2).unwrap();
    let mut g = Graph::new();
    g.insert("explodes", [] as [&str; 0], |_| -> Result<i64, TaskError> {
        panic!("pressure too high")
    });
    g.insert("after", ["explodes"], |i| {
        Ok::<_, TaskError>(*i.get::<i64>(0)?)
    });
    let (results, _) = g
        .compute_many_with(&["explodes".into(), "after".into()], &options(&pool))
        .unwrap();
    match &results[0] {
        Err(TaskError::Panicked {
            task,
            function,
            message,
        }) => {
            assert_eq!(task, "explodes");
            assert!(function.contains("graphs::"), "{function}");
            assert_eq!(message, "pressure too high");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    match &results[1] {
        Err(TaskError::DependencyFailed {
            dependency, cause, ..
        }) => {
            assert_eq!(dependency, "explodes");
            assert!(cause.contains("pressure too high"), "{cause}");
        }
        other => panic!("expected DependencyFailed, got {other:?}"),
    }
}

#[test]
fn a_panic_in_a_delayed_map_names_the_task() {
    let pool = CpuPool::with_threads(2).unwrap();
    let base = Delayed::value(4i64);
    let broken = base.map(|x| -> i64 { panic!("cannot double {x}") });
    let broken_key = broken.key();
    let err = broken.compute_with(&options(&pool)).unwrap_err();
    let shown = err.to_string();
    match &err {
        TaskError::Panicked {
            task,
            function,
            message,
        } => {
            assert_eq!(task, &broken_key);
            assert!(function.contains("graphs::"), "{function}");
            assert_eq!(message, "cannot double 4");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    assert!(
        shown.contains(&broken_key) && shown.contains("cannot double 4"),
        "{shown}"
    );

    // Downstream of a named panicking node, the error names that node.
    let named = base.map(|_| -> i64 { panic!("boom") }).named("doubler");
    let total = named.zip_with(&base, |a, b| a + b);
    match total.compute_with(&options(&pool)) {
        Err(TaskError::DependencyFailed {
            task,
            dependency,
            cause,
        }) => {
            assert_eq!(task, total.key());
            assert_eq!(dependency, "doubler");
            assert!(
                cause.contains("doubler") && cause.contains("boom"),
                "{cause}"
            );
        }
        other => panic!("expected DependencyFailed, got {other:?}"),
    }
}

#[test]
fn a_failed_try_map_fails_its_dependents() {
    let pool = CpuPool::with_threads(2).unwrap();
    let parsed = Delayed::value("12x".to_string()).try_map(|s| s.parse::<i32>());
    let doubled = parsed.map(|x| x * 2);
    match doubled.compute_with(&options(&pool)) {
        Err(TaskError::DependencyFailed {
            dependency, cause, ..
        }) => {
            assert_eq!(dependency, parsed.key());
            assert!(cause.contains("invalid digit"), "{cause}");
        }
        other => panic!("expected DependencyFailed, got {other:?}"),
    }
    let ok = Delayed::value("12".to_string())
        .try_map(|s| s.parse::<i32>())
        .map(|x| x * 2);
    assert_eq!(ok.compute_with(&options(&pool)).unwrap(), 24);
}

#[test]
fn an_input_of_the_wrong_type_is_reported() {
    let mut g = Graph::new();
    leaf(&mut g, "number", 1);
    g.insert("reader", ["number"], |i| i.get::<String>(0).cloned());
    // The task propagates `Inputs::get`'s error with `?`, so it reaches the
    // caller as the task's failure; either way it names the task and input.
    match g.compute::<String>("reader") {
        Err(TaskError::WrongInputType { task, index, .. }) => {
            assert_eq!(task, "reader");
            assert_eq!(index, 0);
        }
        Err(TaskError::Failed { task, message, .. }) => {
            assert_eq!(task, "reader");
            assert!(message.contains("input 0"), "{message}");
            assert!(message.contains("String"), "{message}");
        }
        other => panic!("expected a wrong-input error, got {other:?}"),
    }
    // Asking for an output as the wrong type is refused the same way.
    match g.compute::<String>("number") {
        Err(TaskError::WrongInputType { task, .. }) => assert_eq!(task, "number"),
        other => panic!("expected WrongInputType, got {other:?}"),
    }
}

#[test]
fn to_dot_shows_nodes_and_edges() {
    let a = Delayed::value(1).named("load");
    let b = a.map(|x| x + 1).named("clean");
    let c = a.zip_with(&b, |x, y| x + y).named("join");
    let dot = c.to_dot();
    assert!(dot.starts_with("digraph"), "{dot}");
    for node in ["\"load\"", "\"clean\"", "\"join\""] {
        assert!(dot.contains(node), "{dot} lacks {node}");
    }
    for edge in [
        "\"load\" -> \"clean\"",
        "\"load\" -> \"join\"",
        "\"clean\" -> \"join\"",
    ] {
        assert!(dot.contains(edge), "{dot} lacks {edge}");
    }
    assert_eq!(dot.matches("->").count(), 3);

    let mut g = Graph::new();
    leaf(&mut g, "x", 1);
    g.insert("y", ["x"], |_| Ok::<_, TaskError>(2i64));
    let dot = g.to_dot().unwrap();
    assert!(dot.contains("\"x\" -> \"y\""), "{dot}");
}

#[test]
fn a_100_000_leaf_tree_reduces_to_the_right_sum() {
    let pool = CpuPool::with_threads(2).unwrap();
    let leaves = 100_000u64;
    let mut level: Vec<Delayed<u64>> = (0..leaves).map(Delayed::value).collect();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            next.push(match pair {
                [a, b] => a.zip_with(b, |x, y| x + y),
                [a] => a.clone(),
                _ => unreachable!(),
            });
        }
        level = next;
    }
    let root = level.pop().unwrap();
    assert_eq!(root.task_count(), 2 * leaves as usize - 1);
    let (sum, report) = root.compute_shared_with(&options(&pool)).unwrap();
    assert_eq!(*sum, leaves * (leaves - 1) / 2);
    assert_eq!(report.tasks(), 2 * leaves - 1);
}

#[test]
fn computing_the_same_delayed_twice_gives_the_same_result() {
    let pool = CpuPool::with_threads(2).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let parts: Vec<Delayed<u64>> = (0..20u64)
        .map(|i| {
            let c = Arc::clone(&c);
            Delayed::from_fn(move || {
                c.fetch_add(1, Ordering::SeqCst);
                i * i
            })
        })
        .collect();
    let total = Delayed::gather(&parts, |xs| xs.iter().copied().sum::<u64>());
    let first = total.compute_with(&options(&pool)).unwrap();
    let second = total.compute_with(&options(&pool)).unwrap();
    assert_eq!(first, 2470);
    assert_eq!(first, second);
    // Each computation runs each task once.
    assert_eq!(calls.load(Ordering::SeqCst), 40);
    let g = Graph::new();
    assert!(g
        .compute_many_with(&[], &options(&pool))
        .unwrap()
        .0
        .is_empty());
}

#[test]
fn a_keyed_graph_accepts_tasks_in_any_order() {
    let pool = CpuPool::with_threads(2).unwrap();
    let mut g = Graph::new();
    g.insert("total", ["a", "b", "c"], |i| {
        Ok::<_, TaskError>(
            i.len() as i64 * 100 + i.get::<i64>(0)? + i.get::<i64>(1)? + i.get::<i64>(2)?,
        )
    });
    g.insert("c", ["b"], |i| Ok::<_, TaskError>(i.get::<i64>(0)? * 10));
    g.insert("b", ["a"], |i| Ok::<_, TaskError>(i.get::<i64>(0)? + 1));
    leaf(&mut g, "a", 1);
    let (results, _) = g
        .compute_many_with(&["total".into(), "a".into()], &options(&pool))
        .unwrap();
    let total: &dyn Any = &**results[0].as_ref().unwrap();
    assert_eq!(total.downcast_ref::<i64>(), Some(&(300 + 1 + 2 + 20)));
    assert_eq!(results[1].as_ref().unwrap().downcast_ref::<i64>(), Some(&1));
}

#[test]
fn compute_uses_the_global_pool_by_default() {
    let d = Delayed::value(20).map(|x| x + 1);
    assert_eq!(d.compute().unwrap(), 21);
    let v = Delayed::value(vec![1u8, 2, 3]).compute_shared().unwrap();
    assert_eq!(v.len(), 3);
}

#[test]
fn a_task_error_returned_by_a_graph_task_keeps_its_kind() {
    let mut g = Graph::new();
    g.insert("text", [] as [&str; 0], |_| {
        Ok::<_, TaskError>("not a number".to_string())
    });
    g.insert("use", ["text"], |i| i.get::<i64>(0).map(|x| x + 1));
    match g.compute::<i64>("use") {
        Err(TaskError::WrongInputType { task, index, .. }) => {
            assert_eq!(task, "use");
            assert_eq!(index, 0);
        }
        other => panic!("expected WrongInputType, got {other:?}"),
    }
}

/// The task names of a graph in DOT format, in graph order.
fn dot_keys(dot: &str) -> Vec<String> {
    dot.lines()
        .filter(|l| !l.contains("->"))
        .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\";"))
        .map(str::to_string)
        .collect()
}

/// Four values, each mapped, squared by one operation, summed into a named
/// total.
fn four_squares() -> Delayed<i64> {
    let squares = TaskKey::indexed("square", 0);
    let parts: Vec<Delayed<i64>> = (0..4)
        .map(|i| {
            Delayed::value(i)
                .map(|x| x + 1)
                .map(|x| x * x)
                .named_op(squares.sibling(i as u64))
        })
        .collect();
    Delayed::gather(&parts, |xs| xs.iter().copied().sum::<i64>()).named("total")
}

#[test]
fn keys_are_the_same_whatever_was_built_before() {
    let first = four_squares().to_dot();
    // Unrelated graphs built, and computed, in between.
    let others: Vec<Delayed<u64>> = (0..50).map(|i| Delayed::value(i).map(|x| x * 3)).collect();
    assert_eq!(
        Delayed::gather(&others, |xs| xs.len()).compute().unwrap(),
        50
    );
    let _ = four_squares().task_count();
    let again = four_squares();
    assert_eq!(again.to_dot(), first);
    // Generated keys are numbered in the graph's order, dependencies first.
    assert_eq!(
        dot_keys(&first),
        [
            "value[0]",
            "map[0]",
            "square[0]",
            "value[1]",
            "map[1]",
            "square[1]",
            "value[2]",
            "map[2]",
            "square[2]",
            "value[3]",
            "map[3]",
            "square[3]",
            "total",
        ]
    );
    assert_eq!(again.compute().unwrap(), 1 + 4 + 9 + 16);
}

#[test]
fn two_operations_of_one_name_get_distinct_keys_of_one_kind() {
    let op = |v: i64| {
        let group = TaskKey::indexed("map", 0);
        let parts: Vec<_> = (0..2)
            .map(|i| Delayed::value(v + i).named_op(group.sibling(i as u64)))
            .collect();
        Delayed::gather(&parts, |xs| xs.iter().copied().sum::<i64>())
    };
    let both = op(1).zip_with(&op(10), |a, b| a + b);
    assert_eq!(both.compute().unwrap(), 1 + 2 + 10 + 11);
    let keys: Vec<TaskKey> = dot_keys(&both.to_dot())
        .iter()
        .map(|k| k.parse::<TaskKey>().unwrap())
        .collect();
    let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "map[0]",
            "map[1]",
            "gather[0]",
            "map#2[0]",
            "map#2[1]",
            "gather[1]",
            "zip[0]"
        ]
    );
    assert_ne!(keys[0], keys[3]);
    assert_eq!(keys[0].kind(), "map");
    assert_eq!(keys[3].kind(), "map");
    // Delayed's own `map` nodes are another group named `map` in the same
    // graph: they move on to the next free name.
    let mapped = both.map(|x| x + 1);
    let names = dot_keys(&mapped.to_dot());
    assert_eq!(names.last().map(String::as_str), Some("map#3[0]"));
}

#[test]
fn a_given_key_is_kept_and_generated_keys_move_out_of_its_way() {
    // The user's key reads like the first generated `map` key would.
    let base = Delayed::value(2i64);
    let given = base.map(|x| x * 10).named(TaskKey::indexed("map", 0));
    let mine = base.map(|x| x + 1).named("value[0]");
    let total = given.zip_with(&mine, |a, b| a + b).map(|x| x - 1);
    let keys = dot_keys(&total.to_dot());
    assert_eq!(
        keys,
        ["value#2[0]", "map[0]", "value[0]", "zip[0]", "map#2[0]"]
    );
    assert_eq!(total.key(), "map#2[0]");
    assert_eq!(total.compute().unwrap(), 20 + 3 - 1);
}

#[test]
fn an_error_names_the_key_of_the_assembled_graph() {
    let pool = CpuPool::with_threads(2).unwrap();
    let fine = Delayed::value(1i64).map(|x| x + 1);
    let broken = Delayed::value(2i64).map(|_| -> i64 { panic!("broken") });
    let total = fine.zip_with(&broken, |a, b| a + b);
    match total.compute_with(&options(&pool)) {
        Err(TaskError::DependencyFailed {
            task, dependency, ..
        }) => {
            assert_eq!(task, "zip[0]");
            // `broken` alone is `map[0]`; in this graph it is the second map.
            assert_eq!(broken.key(), "map[0]");
            assert_eq!(dependency, "map[1]");
        }
        other => panic!("expected DependencyFailed, got {other:?}"),
    }
}

/// A diamond whose middle task fails (`how`) on its first attempt: with
/// one retry the run gives the clean run's result and the middle task ran
/// twice; without, its failure is final and names the first attempt's
/// message.
fn flaky_diamond(retries: u32, how: &'static str) -> (Result<i64, TaskError>, usize) {
    let pool = CpuPool::with_threads(2).unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let mut g = Graph::new();
    leaf(&mut g, "x", 20);
    let seen = Arc::clone(&attempts);
    let flaky = flotilla_core::TaskOptions {
        retries,
        ..Default::default()
    };
    g.insert_with("double", ["x"], flaky, move |i| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            if how == "panic" {
                panic!("first attempt panics");
            }
            return Err(TaskError::Failed {
                task: "double".into(),
                function: "flaky".into(),
                message: "first attempt fails".into(),
            });
        }
        Ok::<_, TaskError>(i.get::<i64>(0)? * 2)
    });
    g.insert("plus_one", ["x"], |i| {
        Ok::<_, TaskError>(i.get::<i64>(0)? + 1)
    });
    g.insert("total", ["double", "plus_one"], |i| {
        Ok::<_, TaskError>(i.get::<i64>(0)? + i.get::<i64>(1)?)
    });
    let outcome = g
        .compute_many_with(&[TaskKey::new("total")], &options(&pool))
        .map(|(mut values, _)| values.remove(0));
    let total = match outcome {
        Ok(Ok(v)) => Ok(*v.downcast_ref::<i64>().unwrap()),
        Ok(Err(e)) | Err(e) => Err(e),
    };
    (total, attempts.load(Ordering::SeqCst))
}

#[test]
fn a_task_that_fails_once_and_has_a_retry_gives_the_clean_result() {
    for how in ["error", "panic"] {
        let (total, attempts) = flaky_diamond(1, how);
        assert_eq!(total.unwrap(), 20 * 2 + 21, "{how}");
        assert_eq!(attempts, 2, "{how}");
    }
}

#[test]
fn without_a_retry_the_first_failure_is_final() {
    let (total, attempts) = flaky_diamond(0, "error");
    let err = total.unwrap_err();
    assert_eq!(attempts, 1);
    assert!(err.to_string().contains("first attempt fails"), "{err}");
    let (total, _) = flaky_diamond(0, "panic");
    assert!(total
        .unwrap_err()
        .to_string()
        .contains("first attempt panics"));
}
