//! Checkpointed delayed values: a run that failed part-way keeps what
//! finished; run again, it computes only the rest; a changed input or
//! version computes exactly what depends on it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use flotilla_local::{Checkpoint, ComputeOptions, CpuPool, Delayed, TaskError};

/// A folder removed when dropped, also when the test fails.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Folder {
        let path = std::env::temp_dir().join(format!("flotilla-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Folder(path)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What ran, one line per execution.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }

    fn take(&self) -> Vec<String> {
        let mut lines = std::mem::take(&mut *self.0.lock().unwrap());
        lines.sort();
        lines
    }
}

/// Squares of `inputs` summed along a chain, every square and every
/// partial sum checkpointed; the square of `fail_at` panics (a crash
/// part-way through the run).
fn chain(checkpoint: &Checkpoint, log: &Log, inputs: &[u64], fail_at: Option<u64>) -> Delayed<u64> {
    let mut acc = Delayed::value(0u64).checkpoint(checkpoint);
    for &x in inputs {
        let log_square = log.clone();
        let square = Delayed::value(x)
            .version(x.to_le_bytes())
            .map(move |&v| {
                assert_ne!(Some(v), fail_at, "the machine went down");
                log_square.push(format!("square {v}"));
                v * v
            })
            .checkpoint(checkpoint);
        let log_add = log.clone();
        acc = acc
            .zip_with(&square, move |a, b| {
                log_add.push(format!("add {a} {b}"));
                a + b
            })
            .checkpoint(checkpoint);
    }
    acc
}

#[test]
fn a_run_that_failed_part_way_resumes_and_recomputes_exactly_what_changed() {
    let folder = Folder::new("local-ckpt-chain");
    let pool = CpuPool::with_threads(2).unwrap();
    let options = ComputeOptions::new().pool(&pool);
    let log = Log::default();
    let run = |inputs: &[u64], fail_at| {
        let checkpoint = Checkpoint::open(&folder.0).unwrap();
        let sum = chain(&checkpoint, &log, inputs, fail_at).compute_with(&options);
        (sum, checkpoint.computed(), checkpoint.loaded())
    };
    let inputs = [1u64, 2, 3, 4, 5, 6];
    // The square of 4 brings the run down; the other squares, the zero
    // and the adds before it are kept.
    let (sum, computed, loaded) = run(&inputs, Some(4));
    let err = sum.unwrap_err();
    assert!(err.to_string().contains("the machine went down"), "{err}");
    let first = log.take();
    assert_eq!(computed as usize, first.len() + 1, "{first:?}");
    assert!(!first.iter().any(|l| l == "square 4"), "{first:?}");
    assert!(first.iter().any(|l| l == "square 6"), "{first:?}");
    assert_eq!(loaded, 0);
    // Run again: what finished is read back, the rest computed.
    let (sum, computed, loaded) = run(&inputs, None);
    assert_eq!(sum.unwrap(), 91);
    let second = log.take();
    assert!(
        second.iter().all(|l| !first.contains(l)),
        "{first:?} then {second:?}"
    );
    assert_eq!(first.len() + second.len(), 12, "{first:?} then {second:?}");
    assert_eq!(computed as usize, second.len());
    assert!(loaded > 0);
    // Nothing changed: only the result is read, nothing upstream of it.
    assert_eq!(run(&inputs, None), (Ok(91), 0, 1));
    assert!(log.take().is_empty());
    // Input 5 becomes 10: its square and the adds from there on.
    let changed = [1u64, 2, 3, 4, 10, 6];
    assert_eq!(run(&changed, None), (Ok(166), 3, 2));
    assert_eq!(log.take(), ["add 130 36", "add 30 100", "square 10"]);
}

#[test]
fn a_new_version_of_a_function_computes_it_and_what_reads_it() {
    let folder = Folder::new("local-ckpt-version");
    let log = Log::default();
    let run = |version: &str| {
        let checkpoint = Checkpoint::open(&folder.0).unwrap();
        let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
        let parsed = Delayed::from_fn(move || {
            l1.push("read".into());
            vec![3u32, 1, 2]
        })
        .checkpoint(&checkpoint);
        let sorted = parsed
            .map(move |v| {
                l2.push("sort".into());
                let mut v = v.clone();
                v.sort_unstable();
                v
            })
            .version(version)
            .checkpoint(&checkpoint);
        let first = sorted.map(move |v| {
            l3.push("first".into());
            v[0]
        });
        (
            first.compute().unwrap(),
            checkpoint.computed(),
            checkpoint.loaded(),
        )
    };
    assert_eq!(run("1"), (1, 2, 0));
    assert_eq!(log.take(), ["first", "read", "sort"]);
    // The same version: the sorted vector is read back, its input is not.
    assert_eq!(run("1"), (1, 0, 1));
    assert_eq!(log.take(), ["first"]);
    // A new version of the sort: it runs again on the kept input.
    assert_eq!(run("2"), (1, 1, 1));
    assert_eq!(log.take(), ["first", "sort"]);
}

#[test]
fn a_damaged_checkpoint_file_fails_its_task_and_names_the_file() {
    let folder = Folder::new("local-ckpt-damaged");
    let checkpoint = Checkpoint::open(&folder.0).unwrap();
    let value = || Delayed::value(7u64).map(|x| x * 6).checkpoint(&checkpoint);
    assert_eq!(value().compute().unwrap(), 42);
    let files: Vec<PathBuf> = std::fs::read_dir(&folder.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    cut_short(&files[0]);
    let err = value().compute().unwrap_err();
    assert!(matches!(err, TaskError::Failed { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&files[0].display().to_string()),
        "{message}"
    );
    assert!(message.contains("damaged"), "{message}");
    // Removed, the file is computed and written again.
    std::fs::remove_file(&files[0]).unwrap();
    assert_eq!(value().compute().unwrap(), 42);
    assert_eq!(value().compute().unwrap(), 42);
    assert_eq!((checkpoint.computed(), checkpoint.loaded()), (2, 1));
}

/// Drops the last byte of `file`.
fn cut_short(file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    std::fs::write(file, &bytes[..bytes.len() - 1]).unwrap();
}

#[test]
fn a_value_of_another_type_under_the_same_key_is_an_error_not_a_wrong_value() {
    let folder = Folder::new("local-ckpt-type");
    let checkpoint = Checkpoint::open(&folder.0).unwrap();
    // Same key, function name and inputs: only the result's type differs.
    let text = Delayed::value(String::from("not a number")).named("x");
    assert_eq!(
        text.clone().checkpoint(&checkpoint).compute().unwrap(),
        "not a number"
    );
    let files = std::fs::read_dir(&folder.0).unwrap().count();
    assert_eq!(files, 1);
    // A u64 named the same: a value's function name is its type's, so its
    // key differs and the string's bytes are not read as a number.
    let number = Delayed::value(5u64).named("x").checkpoint(&checkpoint);
    assert_eq!(number.compute().unwrap(), 5);
}

/// A keyed graph, its tasks inserted readers first: a checkpointed task is
/// read back with nothing upstream of it run; a new version of a leaf
/// computes what depends on it.
#[test]
fn a_keyed_graph_reads_back_its_checkpointed_tasks() {
    use flotilla_local::{Graph, Inputs};
    let folder = Folder::new("local-ckpt-keyed");
    let log = Log::default();
    let run = |version: &str| {
        let checkpoint = Checkpoint::open(&folder.0).unwrap();
        let mut g = Graph::new();
        let (l1, l2, l3, l4) = (log.clone(), log.clone(), log.clone(), log.clone());
        g.insert("total", ["left", "right"], move |i: &Inputs<'_>| {
            l1.push("total".into());
            Ok::<u64, TaskError>(i.get::<u64>(0)? + i.get::<u64>(1)?)
        });
        g.insert("left", ["base"], move |i: &Inputs<'_>| {
            l2.push("left".into());
            Ok::<u64, TaskError>(i.get::<u64>(0)? * 2)
        });
        g.insert("right", ["base"], move |i: &Inputs<'_>| {
            l3.push("right".into());
            Ok::<u64, TaskError>(i.get::<u64>(0)? * 3)
        });
        g.insert("base", [] as [&str; 0], move |_: &Inputs<'_>| {
            l4.push("base".into());
            Ok::<u64, String>(10)
        });
        g.version("base", version).unwrap();
        g.checkpoint::<u64>("left", &checkpoint).unwrap();
        g.checkpoint::<u64>("total", &checkpoint).unwrap();
        let total = g.compute::<u64>("total").unwrap();
        (total, checkpoint.computed(), checkpoint.loaded())
    };
    assert_eq!(run("1"), (50, 2, 0));
    assert_eq!(log.take(), ["base", "left", "right", "total"]);
    // Everything read back from the total: nothing runs.
    assert_eq!(run("1"), (50, 0, 1));
    assert!(log.take().is_empty());
    // A new version of the base: everything downstream runs again.
    assert_eq!(run("2"), (50, 2, 0));
    assert_eq!(log.take(), ["base", "left", "right", "total"]);
    // An unknown key is an error, not a silent no-op.
    let mut g = Graph::new();
    let checkpoint = Checkpoint::open(&folder.0).unwrap();
    assert!(g.checkpoint::<u64>("missing", &checkpoint).is_err());
}
