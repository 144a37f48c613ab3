#![cfg(feature = "dataframe")]

//! One rule for every output folder, writer by writer: a fresh path, a
//! folder the user made, a folder that is not empty (refused, or
//! overwritten when asked), a plain file, and a write that fails.

use std::error::Error as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use flotilla::bag::Bag;
use flotilla::dataframe::DataFrame;
use flotilla::mapreduce::JobOutput;
use flotilla::output::WriteMode;

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "flotilla-output-{name}-{}-{unique}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The names in a folder, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// An error and its causes, as `anyhow` prints them.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn frame() -> DataFrame {
    DataFrame::from_columns(vec![("x", vec![1i64, 2, 3, 4].into())], 2).unwrap()
}

/// A frame whose second partition panics when computed.
fn failing_frame() -> DataFrame {
    frame()
        .map_partitions(|b| {
            if b.num_rows() > 0 && b.column(0).len() > 0 {
                let x = b
                    .column(0)
                    .as_any()
                    .downcast_ref::<arrow_array::Int64Array>()
                    .unwrap();
                if x.value(0) == 3 {
                    panic!("row 3 is cursed");
                }
            }
            Ok(b)
        })
        .unwrap()
}

#[test]
fn a_failed_dataframe_write_keeps_the_folder_the_user_made() {
    let dir = TempDir::new("df-user-folder");
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    let err = failing_frame().to_csv(&out).unwrap_err();
    assert!(err.to_string().contains("row 3 is cursed"), "{err}");
    assert!(out.is_dir(), "the folder the user made is gone");
    assert!(names_in(&out).is_empty(), "{:?}", names_in(&out));
}

#[test]
fn a_dataframe_write_onto_a_file_says_it_is_a_file() {
    let dir = TempDir::new("df-file");
    let file = dir.join("out.csv");
    fs::write(&file, "keep\n").unwrap();
    let err = frame().to_csv(&file).unwrap_err();
    assert!(err.to_string().contains("is a file"), "{err}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "keep\n");
}

#[test]
fn a_bag_write_refuses_a_folder_that_is_not_empty() {
    let dir = TempDir::new("bag-not-empty");
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "mine\n").unwrap();
    let err = Bag::range(4, 2).to_textfiles(&out).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(names_in(&out), ["notes.txt"]);
}

#[test]
fn a_failed_bag_write_leaves_no_folder_behind() {
    let dir = TempDir::new("bag-failed");
    let out = dir.join("out");
    let failing = Bag::range(8, 2).map(|x| {
        if x == 5 {
            panic!("cannot format {x}");
        }
        x
    });
    let err = failing.to_textfiles(&out).unwrap_err();
    assert!(err.to_string().contains("cannot format 5"), "{err}");
    assert!(!out.exists(), "{:?}", names_in(&out));
}

#[test]
fn a_refused_job_output_names_its_cause_once() {
    let dir = TempDir::new("job-not-empty");
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "mine\n").unwrap();
    let output = JobOutput {
        partitions: vec![vec![("a".to_string(), 1u64)]],
        counters: Default::default(),
        bad_record_sample: vec![],
        elapsed: std::time::Duration::ZERO,
    };
    let err = output.write_text(&out).unwrap_err();
    let text = chain(&err);
    assert_eq!(text.matches("not empty").count(), 1, "{text}");
    let _ = err.source();
}

#[test]
fn a_job_output_with_a_tuple_key_is_written_through_a_formatter() {
    use std::fmt::Write as _;
    let dir = TempDir::new("job-tuple-key");
    let out = dir.join("out");
    let output: JobOutput<((String, u32), u64)> = JobOutput {
        partitions: vec![
            vec![(("cat".to_string(), 2017), 3)],
            vec![(("hat".to_string(), 2018), 1)],
        ],
        counters: Default::default(),
        bad_record_sample: vec![],
        elapsed: std::time::Duration::ZERO,
    };
    output
        .write_text_by(
            &out,
            WriteMode::ErrorIfNotEmpty,
            |((word, year), n), line| write!(line, "{word}\t{year}\t{n}"),
        )
        .unwrap();
    assert_eq!(
        fs::read_to_string(out.join("part-00000")).unwrap(),
        "cat\t2017\t3\n"
    );
    assert_eq!(
        fs::read_to_string(out.join("part-00001")).unwrap(),
        "hat\t2018\t1\n"
    );
}
