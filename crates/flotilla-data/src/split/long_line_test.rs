//! Unit tests of the cost of a long line: every byte searched for a newline
//! a bounded number of times, and a number of reads that grows with the
//! logarithm of the line's length, whatever way the split is read.

use std::convert::Infallible;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::cursor::READS;
use super::scan::SEARCHED;
use super::{plan_splits, InputSplit, LineReader};

/// The long line's length: 4 MiB, 256 reads of the old 16 KiB tail step.
const LONG: usize = 4 << 20;

/// A folder for one test's files, removed on drop.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Folder {
        let path =
            std::env::temp_dir().join(format!("flotilla-long-line-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Folder(path)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file of a `LONG`-byte line, then a short one.
fn long_line_file(folder: &Folder, gzip: bool) -> PathBuf {
    let mut content = vec![b'x'; LONG];
    content.extend_from_slice(b"\nshort\n");
    if gzip {
        let path = folder.0.join("long.txt.gz");
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&content).unwrap();
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        path
    } else {
        let path = folder.0.join("long.txt");
        std::fs::write(&path, content).unwrap();
        path
    }
}

/// The first split of `path`, with 1 KiB splits: the long line starts in
/// it and goes on far past its end.
fn first_split(path: &Path) -> InputSplit {
    plan_splits(&[path.to_str().unwrap()], 1024).unwrap()[0].clone()
}

/// Counts what `read` searches and reads on this thread.
fn measure(read: impl FnOnce() -> Vec<usize>) -> (Vec<usize>, u64, u64) {
    SEARCHED.with(|s| s.set(0));
    READS.with(|r| r.set(0));
    let lengths = read();
    (lengths, SEARCHED.with(|s| s.get()), READS.with(|r| r.get()))
}

fn by_callback(split: &InputSplit) -> Vec<usize> {
    let mut lengths = Vec::new();
    LineReader::with_buffer_size(64 << 10)
        .for_each_line(split, |line| {
            lengths.push(line.bytes().len());
            Ok::<_, Infallible>(())
        })
        .unwrap();
    lengths
}

fn by_iterator(split: &InputSplit) -> Vec<usize> {
    LineReader::with_buffer_size(64 << 10)
        .lines(split)
        .unwrap()
        .map(|line| line.unwrap().bytes().len())
        .collect()
}

/// At most three searches of each byte (the buffered fast path, the first
/// look of the slow path, then new bytes only), and reads that double.
fn assert_linear(what: &str, (lengths, searched, reads): (Vec<usize>, u64, u64)) {
    assert_eq!(lengths[0], LONG, "{what}");
    let bound = 3 * LONG as u64 + (1 << 16);
    assert!(
        searched <= bound,
        "{what}: {searched} bytes searched for a {LONG}-byte line (at most {bound})"
    );
    assert!(reads <= 40, "{what}: {reads} reads for a {LONG}-byte line");
}

#[test]
fn a_long_line_past_the_split_end_costs_linear_time() {
    let folder = Folder::new("plain");
    let split = first_split(&long_line_file(&folder, false));
    assert_linear("callback", measure(|| by_callback(&split)));
    assert_linear("iterator", measure(|| by_iterator(&split)));
}

#[test]
fn a_long_line_of_a_gzip_file_costs_linear_time() {
    let folder = Folder::new("gzip");
    let split = first_split(&long_line_file(&folder, true));
    let (lengths, searched, _) = measure(|| by_callback(&split));
    assert_eq!(lengths, [LONG, 5]);
    // The decoder hands out small pieces: only the search is bounded.
    assert!(searched <= 3 * LONG as u64 + (1 << 16), "{searched}");
    let (lengths, searched, _) = measure(|| by_iterator(&split));
    assert_eq!(lengths, [LONG, 5]);
    assert!(searched <= 3 * LONG as u64 + (1 << 16), "{searched}");
}
