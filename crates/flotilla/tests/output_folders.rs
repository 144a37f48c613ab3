#![cfg(feature = "dataframe")]

//! One rule for every output folder, writer by writer: a fresh path, a
//! folder the user made, a folder that is not empty (refused, or
//! overwritten when asked), a plain file, and a write that fails.

mod common;
use common::{names_in, TempDir};

use std::fs;
use std::io::Write as _;
use std::path::Path;

use flotilla::bag::Bag;
use flotilla::dataframe::DataFrame;
use flotilla::mapreduce::streaming::StreamingJob;
use flotilla::mapreduce::JobOutput;
use flotilla::output::{OutputDir, OutputError, WriteMode};
use flotilla::{ComputeOptions, CpuPool};

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
            if b.num_rows() > 0 {
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

/// A writer under test: writes a small output into a folder, or fails
/// half way (after some parts were written) when `fail` is set.
type Writer = fn(&Path, WriteMode, bool) -> Result<(), String>;

fn bag_writer(dir: &Path, mode: WriteMode, fail: bool) -> Result<(), String> {
    Bag::range(8, 4)
        .map(move |x| {
            if fail && x == 5 {
                panic!("cannot format {x}");
            }
            x
        })
        .to_textfiles_with(dir, mode, &ComputeOptions::new())
        .map(drop)
        .map_err(|e| e.to_string())
}

fn job_writer(dir: &Path, mode: WriteMode, fail: bool) -> Result<(), String> {
    use std::fmt::Write as _;
    let output = JobOutput {
        partitions: vec![vec![(1u8, 10u64)], vec![(2, 20)], vec![(3, 30)]],
        counters: Default::default(),
        bad_record_sample: vec![],
        elapsed: std::time::Duration::ZERO,
    };
    output
        .write_text_by(dir, mode, |(k, v), line| {
            if fail && *k == 3 {
                return Err(std::fmt::Error);
            }
            write!(line, "{k}\t{v}")
        })
        .map_err(|e| e.to_string())
}

fn streaming_writer(dir: &Path, mode: WriteMode, fail: bool) -> Result<(), String> {
    // Unique per call: the tests of this file run in parallel threads of
    // one process.
    let folder = TempDir::new("output-input");
    let input = folder.join("input.txt");
    fs::write(&input, "a\nb\nc\n").unwrap();
    let reducer = if fail { "cat; exit 3" } else { "cat" };
    let pool = CpuPool::with_threads(2).unwrap();
    StreamingJob::new("cat", reducer)
        .reducers(3)
        .attempts(1)
        .write_mode(mode)
        .run(&pool, &[input.to_str().unwrap()], dir)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn dataframe_writer(dir: &Path, mode: WriteMode, fail: bool) -> Result<(), String> {
    let df = if fail { failing_frame() } else { frame() };
    df.to_csv_with(dir, mode).map_err(|e| e.to_string())
}

const WRITERS: [(&str, Writer); 4] = [
    ("bag", bag_writer),
    ("job", job_writer),
    ("streaming", streaming_writer),
    ("dataframe", dataframe_writer),
];

#[test]
fn every_writer_creates_a_fresh_path_with_its_parents() {
    for (name, write) in WRITERS {
        let dir = TempDir::new(name);
        let out = dir.join("new/out");
        write(&out, WriteMode::ErrorIfNotEmpty, false).unwrap();
        let names = names_in(&out);
        assert!(names.contains(&"_SUCCESS".to_string()), "{name}: {names:?}");
        assert!(!names.contains(&"_temporary".to_string()), "{name}");
    }
}

#[test]
fn every_writer_writes_into_a_folder_the_user_made() {
    for (name, write) in WRITERS {
        let dir = TempDir::new(name);
        let out = dir.join("out");
        fs::create_dir(&out).unwrap();
        write(&out, WriteMode::ErrorIfNotEmpty, false).unwrap();
        assert!(out.join("_SUCCESS").exists(), "{name}");
    }
}

#[test]
fn every_writer_refuses_a_folder_that_is_not_empty_and_keeps_it() {
    for (name, write) in WRITERS {
        let dir = TempDir::new(name);
        let out = dir.join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("notes.txt"), "mine\n").unwrap();
        fs::write(out.join("part-00000"), "mine too\n").unwrap();
        let err = write(&out, WriteMode::ErrorIfNotEmpty, false).unwrap_err();
        assert!(err.contains("not empty"), "{name}: {err}");
        assert_eq!(err.matches("not empty").count(), 1, "{name}: {err}");
        // Overwriting replaces only a previous flotilla output.
        let err = write(&out, WriteMode::Overwrite, false).unwrap_err();
        assert!(err.contains("notes.txt"), "{name}: {err}");
        assert_eq!(names_in(&out), ["notes.txt", "part-00000"], "{name}");
        assert_eq!(
            fs::read_to_string(out.join("part-00000")).unwrap(),
            "mine too\n"
        );
    }
}

#[test]
fn every_writer_overwrites_a_previous_output_when_asked() {
    for (name, write) in WRITERS {
        let dir = TempDir::new(name);
        let out = dir.join("out");
        fs::create_dir(&out).unwrap();
        for stale in ["part-00007", "part-00008.csv", "_SUCCESS"] {
            fs::write(out.join(stale), "old\n").unwrap();
        }
        fs::create_dir(out.join("_logs")).unwrap();
        fs::write(out.join("_logs/map-00009.stderr"), "old\n").unwrap();
        write(&out, WriteMode::Overwrite, false).unwrap();
        let names = names_in(&out);
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with("part-0000") && n[9..].starts_with(['7', '8'])),
            "{name}: {names:?}"
        );
        assert!(!names.contains(&"_logs".to_string()), "{name}: {names:?}");
        assert_eq!(fs::read_to_string(out.join("_SUCCESS")).unwrap(), "");
    }
}

#[test]
fn every_writer_refuses_a_plain_file_and_keeps_it() {
    for (name, write) in WRITERS {
        let dir = TempDir::new(name);
        let out = dir.join("out.txt");
        fs::write(&out, "keep\n").unwrap();
        for mode in [WriteMode::ErrorIfNotEmpty, WriteMode::Overwrite] {
            let err = write(&out, mode, false).unwrap_err();
            assert!(err.contains("is a file"), "{name}: {err}");
            assert_eq!(fs::read_to_string(&out).unwrap(), "keep\n");
        }
    }
}

#[test]
fn a_failed_write_of_every_writer_leaves_the_folder_as_it_found_it() {
    for (name, write) in WRITERS {
        let dir = TempDir::new(name);
        // A fresh path: nothing created remains, parents included.
        let out = dir.join("new/out");
        assert!(
            write(&out, WriteMode::ErrorIfNotEmpty, true).is_err(),
            "{name}"
        );
        assert!(
            !dir.join("new").exists(),
            "{name}: {:?}",
            names_in(dir.path())
        );
        // A folder the user made: it stays, empty.
        let out = dir.join("out");
        fs::create_dir(&out).unwrap();
        assert!(
            write(&out, WriteMode::ErrorIfNotEmpty, true).is_err(),
            "{name}"
        );
        assert!(names_in(&out).is_empty(), "{name}: {:?}", names_in(&out));
        // A previous output being overwritten: it stays as it was.
        fs::write(out.join("part-00000"), "old\n").unwrap();
        fs::write(out.join("_SUCCESS"), "").unwrap();
        assert!(write(&out, WriteMode::Overwrite, true).is_err(), "{name}");
        assert_eq!(names_in(&out), ["_SUCCESS", "part-00000"], "{name}");
        assert_eq!(fs::read_to_string(out.join("part-00000")).unwrap(), "old\n");
    }
}

#[test]
fn a_folder_with_a_temporary_folder_is_refused_and_left_alone() {
    let dir = TempDir::new("inprogress");
    let out = dir.join("out");
    // A write in progress (or killed): its `_temporary/` holds a part.
    let running = OutputDir::create(&out, WriteMode::ErrorIfNotEmpty).unwrap();
    let mut part = running.create_part(0, "txt").unwrap();
    part.file()
        .write_all(b"the running write's data\n")
        .unwrap();
    part.commit().unwrap();
    for mode in [WriteMode::ErrorIfNotEmpty, WriteMode::Overwrite] {
        let err = OutputDir::create(&out, mode).unwrap_err();
        if mode == WriteMode::Overwrite {
            assert!(matches!(err, OutputError::InProgress { .. }), "{err}");
            assert!(err.to_string().contains("_temporary"), "{err}");
        }
    }
    // The running write still commits its part.
    let parts = running.commit().unwrap();
    assert_eq!(
        fs::read_to_string(&parts[0]).unwrap(),
        "the running write's data\n"
    );
}

#[test]
fn log_names_cannot_leave_the_output_folder() {
    let dir = TempDir::new("lognames");
    let out = OutputDir::create(dir.join("out"), WriteMode::ErrorIfNotEmpty).unwrap();
    for name in ["../escape.stderr", "/tmp/abs.stderr", "a/b.stderr", ""] {
        assert!(out.write_log(name, b"x").is_err(), "{name:?} was accepted");
    }
    assert!(!dir.join("escape.stderr").exists());
    assert!(out.write_log("map-00000.stderr", b"fine").is_ok());
    out.abort().unwrap();
}

#[test]
fn a_formatter_error_names_the_part_and_the_record_and_leaves_nothing() {
    use std::fmt::Write as _;
    let dir = TempDir::new("formatter-error");
    let out = dir.join("out");
    let output: JobOutput<u64> = JobOutput {
        partitions: vec![vec![1, 2], vec![3, 4, 5]],
        counters: Default::default(),
        bad_record_sample: vec![],
        elapsed: std::time::Duration::ZERO,
    };
    let err = output
        .write_text_by(&out, WriteMode::ErrorIfNotEmpty, |n, line| {
            if *n == 4 {
                return Err(std::fmt::Error);
            }
            write!(line, "{n}")
        })
        .unwrap_err();
    let text = chain(&err);
    assert!(
        text.contains(&format!("{}", out.join("part-00001").display()))
            && text.contains("record 1 (counting from 0)"),
        "{text}"
    );
    assert!(!out.exists(), "a failed write leaves nothing: {text}");
}
