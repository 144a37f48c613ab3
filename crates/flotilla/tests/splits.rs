//! Input splits: every line of every input read exactly once, whatever the
//! split size, plus folders, globs, gzip and the errors users see.

use std::convert::Infallible;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::write::GzEncoder;
use flate2::Compression;
use flotilla::mapreduce::split::{
    for_each_line, line_number_at, plan_splits, InputError, InputSplit, LineReader, SplitError,
};

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "flotilla-splits-{name}-{}-{unique}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, content).unwrap();
        path
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The lines of `content` by definition: `split('\n')`, the final empty
/// piece dropped, one trailing `\r` stripped; with their offsets.
fn expected_lines(content: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut lines = Vec::new();
    let mut offset = 0u64;
    let pieces: Vec<&[u8]> = content.split(|&b| b == b'\n').collect();
    let count = pieces.len();
    for (i, piece) in pieces.into_iter().enumerate() {
        if i + 1 == count && piece.is_empty() {
            break;
        }
        let line = piece.strip_suffix(b"\r").unwrap_or(piece);
        lines.push((offset, line.to_vec()));
        offset += piece.len() as u64 + 1;
    }
    lines
}

/// All lines of all splits, in order, read with the callback reader; checks
/// that the splits' record bytes add up to the file's length.
fn read_with_callback(splits: &[InputSplit], buffer_size: usize) -> Vec<(u64, Vec<u8>)> {
    let mut reader = LineReader::with_buffer_size(buffer_size);
    let mut lines = Vec::new();
    let mut record_bytes = 0;
    for split in splits {
        let stats = reader
            .for_each_line(split, |line| {
                lines.push((line.offset(), line.bytes().to_vec()));
                Ok::<_, Infallible>(())
            })
            .unwrap();
        record_bytes += stats.record_bytes;
    }
    if let Some(first) = splits.first() {
        if !first.is_compressed() {
            assert_eq!(record_bytes, fs::metadata(first.path()).unwrap().len());
        }
    }
    lines
}

/// The same with the iterator.
fn read_with_iterator(splits: &[InputSplit], buffer_size: usize) -> Vec<(u64, Vec<u8>)> {
    let reader = LineReader::with_buffer_size(buffer_size);
    let mut lines = Vec::new();
    for split in splits {
        for line in reader.lines(split).unwrap() {
            let line = line.unwrap();
            lines.push((line.offset(), line.into_bytes()));
        }
    }
    lines
}

/// The boundary cases of the issue, as file contents.
fn tricky_contents() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", b"".to_vec()),
        ("one newline", b"\n".to_vec()),
        ("only newlines", b"\n\n\n\n\n".to_vec()),
        ("simple", b"ab\ncd\nef\n".to_vec()),
        ("no trailing newline", b"ab\ncd\nlast".to_vec()),
        ("single char no newline", b"x".to_vec()),
        ("crlf", b"one\r\ntwo\r\n\r\nthree\r\n".to_vec()),
        ("crlf no trailing", b"one\r\ntwo\r".to_vec()),
        ("lone cr", b"\r".to_vec()),
        ("consecutive empty lines", b"a\n\n\nb\n\n".to_vec()),
        ("leading empty lines", b"\n\nfirst\n".to_vec()),
        (
            "line longer than several splits",
            [&b"x\n"[..], &[b'y'; 37][..], b"\nz\n", &[b'w'; 19][..]].concat(),
        ),
        (
            "invalid utf-8",
            b"ok\nab\xffcd\n\xc3\x28\nfine\xe2\x82\n".to_vec(),
        ),
        ("utf-8", "café\nnaïve\r\n日本語\n".as_bytes().to_vec()),
        ("nul bytes", b"\0\0\n\0\n".to_vec()),
        ("many lines of mixed lengths", mixed_lines()),
    ]
}

/// About 400 bytes of lines 0 to 40 bytes long, some CRLF, so that lines
/// and `\r\n` pairs straddle the reader's 64-byte scanning blocks.
fn mixed_lines() -> Vec<u8> {
    let mut content = Vec::new();
    for i in 0..24u8 {
        let len = (i as usize * 7) % 41;
        content.extend((0..len).map(|j| b'a' + (j % 26) as u8));
        if i % 3 == 0 {
            content.push(b'\r');
        }
        content.push(b'\n');
    }
    content
}

#[test]
fn every_line_is_read_once_for_every_split_size() {
    let dir = TempDir::new("exhaustive");
    for (name, content) in tricky_contents() {
        let path = dir.write(&format!("{}.txt", name.replace(' ', "-")), &content);
        let expected = expected_lines(&content);
        for split_bytes in 1..=content.len() as u64 + 2 {
            let splits = plan_splits(&[s(&path)], split_bytes).unwrap();
            let expected_splits = content.len().div_ceil(split_bytes as usize);
            assert_eq!(
                splits.len(),
                expected_splits,
                "{name}: split size {split_bytes}"
            );
            for buffer_size in [1, 2, 3, 5, 16, 1 << 20] {
                let got = read_with_callback(&splits, buffer_size);
                assert_eq!(
                    got, expected,
                    "{name}: split size {split_bytes}, buffer {buffer_size} (callback)"
                );
                let got = read_with_iterator(&splits, buffer_size);
                assert_eq!(
                    got, expected,
                    "{name}: split size {split_bytes}, buffer {buffer_size} (iterator)"
                );
            }
        }
    }
}

/// The lines of each split separately.
fn lines_per_split(splits: &[InputSplit]) -> Vec<Vec<String>> {
    splits
        .iter()
        .map(|split| {
            split
                .lines()
                .unwrap()
                .map(|line| line.unwrap().into_string().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn a_split_ending_exactly_at_a_newline_hands_the_next_line_on() {
    let dir = TempDir::new("newline-end");
    let path = dir.write("a.txt", b"ab\ncd\nef\n");
    // Splits [0..3) [3..6) [6..9): each ends right after a newline.
    let splits = plan_splits(&[s(&path)], 3).unwrap();
    assert_eq!(lines_per_split(&splits), [["ab"], ["cd"], ["ef"]]);
    // Splits [0..2) [2..4) [4..6) [6..8) [8..9): splits ending just before
    // a newline byte, and the lines "cd" (at 3) and "ef" (at 6) starting
    // inside or exactly at a split's start.
    let splits = plan_splits(&[s(&path)], 2).unwrap();
    assert_eq!(
        lines_per_split(&splits),
        [vec!["ab"], vec!["cd"], vec![], vec!["ef"], vec![]]
    );
}

#[test]
fn a_line_longer_than_several_splits_belongs_to_the_split_it_starts_in() {
    let dir = TempDir::new("long-line");
    let long = "y".repeat(20);
    let path = dir.write("a.txt", format!("x\n{long}\nz\n").as_bytes());
    let splits = plan_splits(&[s(&path)], 4).unwrap();
    assert_eq!(splits.len(), 7);
    let per_split = lines_per_split(&splits);
    assert_eq!(per_split[0], ["x", long.as_str()]);
    assert!(per_split[1..5].iter().all(Vec::is_empty), "{per_split:?}");
    assert_eq!(per_split[5], ["z"]);
    assert!(per_split[6].is_empty());
}

#[test]
fn a_split_inside_a_long_line_reads_only_its_own_bytes() {
    // Each split that starts inside the line owns no line, which it knows
    // once it has looked at its own bytes: reading on to the line's end
    // would make the line cost its length times its number of splits.
    let dir = TempDir::new("inside-long-line");
    let mut content = vec![b'y'; 1 << 20];
    content.extend_from_slice(b"\nz\n");
    let path = dir.write("a.txt", &content);
    let splits = plan_splits(&[s(&path)], 4096).unwrap();
    let mut reader = LineReader::with_buffer_size(1 << 16);
    let mut lines = 0;
    for split in &splits[1..] {
        let stats = reader
            .for_each_line(split, |_| Ok::<_, Infallible>(()))
            .unwrap();
        lines += stats.lines;
        assert!(
            stats.bytes_read <= split.len() + 1,
            "{split} read {} bytes",
            stats.bytes_read
        );
        let mut by_iterator = split.lines().unwrap();
        assert_eq!(by_iterator.by_ref().count() as u64, stats.lines);
        assert!(by_iterator.stats().bytes_read <= split.len() + 1, "{split}");
    }
    assert_eq!(lines, 1, "only the split holding z's start owns a line");
}

#[test]
fn empty_files_give_no_split() {
    let dir = TempDir::new("empty");
    let path = dir.write("empty.txt", b"");
    assert_eq!(plan_splits(&[s(&path)], 10).unwrap(), []);
    let other = dir.write("other.txt", b"a\n");
    let splits = plan_splits(&[s(&path), s(&other)], 10).unwrap();
    assert_eq!(splits.len(), 1);
    assert_eq!(splits[0].path(), other);
}

#[test]
fn invalid_utf8_is_kept_as_bytes_and_text_names_file_and_offset() {
    let dir = TempDir::new("utf8");
    let path = dir.write("bad.txt", b"ok\nab\xffcd\nfine\n");
    let splits = plan_splits(&[s(&path)], 4).unwrap();
    let mut texts = Vec::new();
    for split in &splits {
        for_each_line(split, |line| {
            texts.push(line.text().map(str::to_owned).map_err(|e| e.to_string()));
            Ok::<_, Infallible>(())
        })
        .unwrap();
    }
    assert_eq!(texts.len(), 3);
    assert_eq!(texts[0].as_deref(), Ok("ok"));
    assert_eq!(texts[2].as_deref(), Ok("fine"));
    let message = texts[1].clone().unwrap_err();
    assert!(message.contains(s(&path)), "{message}");
    assert!(message.contains("byte offset 5"), "{message}");

    // The same through the iterator's owned lines; the line starts at 3, so
    // it is the second line of the first split [0..4).
    let line = splits[0].lines().unwrap().nth(1).unwrap().unwrap();
    assert_eq!(line.bytes(), b"ab\xffcd");
    match line.into_string() {
        Err(InputError::InvalidUtf8 { path: p, offset }) => {
            assert_eq!((p, offset), (path.clone(), 5));
        }
        other => panic!("expected InvalidUtf8, got {other:?}"),
    }
}

#[test]
fn a_callback_error_comes_back_unchanged_with_the_split_and_offset() {
    let dir = TempDir::new("callback");
    let path = dir.write("nums.txt", b"1\n2\nx\n4\n");
    let splits = plan_splits(&[s(&path)], 100).unwrap();
    #[derive(Debug, PartialEq)]
    struct BadRecord(String);
    let mut seen = 0;
    let err = for_each_line(&splits[0], |line| {
        seen += 1;
        match line.text() {
            Ok(t) if t.parse::<u32>().is_ok() => Ok(()),
            _ => Err(BadRecord(
                String::from_utf8_lossy(line.bytes()).into_owned(),
            )),
        }
    })
    .unwrap_err();
    assert_eq!(seen, 3, "reading stops at the first error");
    match err {
        SplitError::Callback {
            split,
            offset,
            error,
        } => {
            assert_eq!(split, splits[0]);
            assert_eq!(offset, 4);
            assert_eq!(error, BadRecord("x".into()));
            assert_eq!(line_number_at(&path, offset).unwrap(), 3);
        }
        SplitError::Input(e) => panic!("unexpected {e}"),
    }
}

#[test]
fn folders_give_their_visible_files_sorted() {
    let dir = TempDir::new("folder");
    dir.write("b.txt", b"b1\nb2\n");
    dir.write("a.txt", b"a1\n");
    dir.write("c.log", b"c1\n");
    dir.write("_SUCCESS", b"");
    dir.write("_logs", b"not data\n");
    dir.write(".a.txt.crc", b"not data\n");
    fs::create_dir(dir.path().join("nested")).unwrap();
    dir.write("nested/deep.txt", b"not read\n");

    let splits = plan_splits(&[s(dir.path())], 1 << 20).unwrap();
    let names: Vec<_> = splits
        .iter()
        .map(|sp| sp.path().file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["a.txt", "b.txt", "c.log"]);
    assert!(splits.iter().enumerate().all(|(i, sp)| sp.index() == i));
    let lines: Vec<String> = splits
        .iter()
        .flat_map(|sp| {
            sp.lines()
                .unwrap()
                .map(|l| l.unwrap().into_string().unwrap())
        })
        .collect();
    assert_eq!(lines, ["a1", "b1", "b2", "c1"]);

    // A folder with nothing visible matches nothing.
    let hidden = TempDir::new("folder-hidden");
    hidden.write("_SUCCESS", b"");
    let err = plan_splits(&[s(hidden.path())], 10).unwrap_err();
    assert!(matches!(err, InputError::NoMatch { .. }), "{err:?}");
    assert!(err.to_string().contains(s(hidden.path())), "{err}");
}

fn glob_names(pattern: &str) -> Result<Vec<String>, InputError> {
    Ok(plan_splits(&[pattern], 1 << 20)?
        .iter()
        .map(|sp| sp.path().file_name().unwrap().to_str().unwrap().to_owned())
        .collect())
}

#[test]
fn globs_match_file_names_sorted() {
    let dir = TempDir::new("glob");
    for name in [
        "part-00002.txt",
        "part-00000.txt",
        "part-00001.txt",
        "part-00010.txt",
        "part-a.txt",
        "other.txt",
        "part-00000.tsv",
        "_part-hidden.txt",
        ".part-hidden.txt",
    ] {
        dir.write(name, b"line\n");
    }
    fs::create_dir(dir.path().join("part-dir.txt")).unwrap();
    let d = s(dir.path());

    assert_eq!(
        glob_names(&format!("{d}/part-*.txt")).unwrap(),
        [
            "part-00000.txt",
            "part-00001.txt",
            "part-00002.txt",
            "part-00010.txt",
            "part-a.txt"
        ]
    );
    assert_eq!(
        glob_names(&format!("{d}/part-0000?.txt")).unwrap(),
        ["part-00000.txt", "part-00001.txt", "part-00002.txt"]
    );
    assert_eq!(
        glob_names(&format!("{d}/part-0000[02].*")).unwrap(),
        ["part-00000.tsv", "part-00000.txt", "part-00002.txt"]
    );
    assert_eq!(
        glob_names(&format!("{d}/part-[!0-9]*")).unwrap(),
        ["part-a.txt"]
    );
    assert_eq!(
        glob_names(&format!("{d}/*.tsv")).unwrap(),
        ["part-00000.tsv"]
    );
    // Hidden names only when the pattern asks for them.
    assert!(!glob_names(&format!("{d}/*"))
        .unwrap()
        .iter()
        .any(|n| n.starts_with(['_', '.'])));
    assert_eq!(
        glob_names(&format!("{d}/_*")).unwrap(),
        ["_part-hidden.txt"]
    );
    assert_eq!(
        glob_names(&format!("{d}/.*")).unwrap(),
        [".part-hidden.txt"]
    );

    // Several inputs keep their order.
    let both = plan_splits(
        &[format!("{d}/other.txt"), format!("{d}/part-0000[0].txt")],
        1 << 20,
    )
    .unwrap();
    assert_eq!(both[0].path().file_name().unwrap(), "other.txt");
    assert_eq!(both[1].path().file_name().unwrap(), "part-00000.txt");
}

#[test]
fn a_glob_matching_nothing_is_an_error_naming_it() {
    let dir = TempDir::new("glob-none");
    dir.write("a.txt", b"x\n");
    let pattern = format!("{}/part-*.txt", s(dir.path()));
    match plan_splits(&[pattern.as_str()], 10) {
        Err(InputError::NoMatch { pattern: p }) => assert_eq!(p, pattern),
        other => panic!("expected NoMatch, got {other:?}"),
    }
    let err = plan_splits(&[pattern.as_str()], 10).unwrap_err();
    assert!(err.to_string().contains(&pattern), "{err}");

    // A glob in a missing folder matches nothing, too.
    let missing = format!("{}/no-such-folder/*.txt", s(dir.path()));
    assert!(matches!(
        plan_splits(&[missing.as_str()], 10),
        Err(InputError::NoMatch { .. })
    ));
    // Wildcards in folder names and unclosed classes are refused.
    let in_folder = format!("{}/*/a.txt", s(dir.path()));
    assert!(matches!(
        plan_splits(&[in_folder.as_str()], 10),
        Err(InputError::BadPattern { .. })
    ));
    let unclosed = format!("{}/part-[0-9.txt", s(dir.path()));
    assert!(matches!(
        plan_splits(&[unclosed.as_str()], 10),
        Err(InputError::BadPattern { .. })
    ));
}

#[test]
fn a_path_that_exists_is_literal_even_with_brackets() {
    let dir = TempDir::new("literal-brackets");
    let path = dir.write("run[1].txt", b"a\n");
    dir.write("run1.txt", b"b\n");
    let splits = plan_splits(&[s(&path)], 10).unwrap();
    assert_eq!(splits.len(), 1);
    assert_eq!(splits[0].path(), path);
}

fn gzip(content: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(content).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn gzip_files_are_one_split_each_and_read_right() {
    let dir = TempDir::new("gzip");
    let content: Vec<u8> = (0..5000)
        .flat_map(|i| format!("line {i}\r\n").into_bytes())
        .chain(b"last without newline".iter().copied())
        .collect();
    let compressed = gzip(&content);
    let path = dir.write("big.txt.gz", &compressed);
    let splits = plan_splits(&[s(&path)], 64).unwrap();
    assert_eq!(splits.len(), 1);
    let split = &splits[0];
    assert!(split.is_compressed());
    assert_eq!((split.start(), split.end()), (0, compressed.len() as u64));
    assert_eq!(
        split.to_string(),
        format!("{}[0..{}, gzip]", path.display(), compressed.len())
    );
    let expected = expected_lines(&content);
    for buffer_size in [1, 7, 4096, 1 << 22] {
        assert_eq!(read_with_callback(&splits, buffer_size), expected);
        assert_eq!(read_with_iterator(&splits, buffer_size), expected);
    }
    let stats = for_each_line(split, |_| Ok::<_, Infallible>(())).unwrap();
    assert_eq!(stats.lines, 5001);
    assert_eq!(stats.record_bytes, content.len() as u64);
    assert_eq!(stats.bytes_read, compressed.len() as u64);

    // Found by its magic bytes without the suffix; several members read through.
    let two_members = [gzip(b"a\nb"), gzip(b"\nc\n")].concat();
    let path = dir.write("data.bin", &two_members);
    let splits = plan_splits(&[s(&path)], 1).unwrap();
    assert_eq!(splits.len(), 1);
    assert!(splits[0].is_compressed());
    assert_eq!(
        lines_per_split(&splits),
        [vec!["a".to_owned(), "b".into(), "c".into()]]
    );

    // A corrupt gzip file, or one cut short, fails with an error of the
    // data naming it (reading again would not help), not an I/O error.
    let whole = gzip(b"first line\nsecond line\n");
    let cases = [
        ("corrupt.gz", b"this is not gzip\n".to_vec()),
        ("truncated.gz", whole[..whole.len() - 6].to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.write(name, &bytes);
        let splits = plan_splits(&[s(&path)], 1).unwrap();
        match for_each_line(&splits[0], |_| Ok::<_, Infallible>(())) {
            Err(SplitError::Input(e @ InputError::Corrupt { .. })) => {
                assert!(!e.is_environmental(), "{e}");
                assert!(e.to_string().contains(name), "{e}");
            }
            other => panic!("{name}: expected a corrupt input, got {other:?}"),
        }
        let mut buf = Vec::new();
        match splits[0].read_block(&mut buf) {
            Err(e @ InputError::Corrupt { .. }) => assert!(e.to_string().contains(name)),
            other => panic!("{name}: read_block: expected a corrupt input, got {other:?}"),
        }
    }
    // A file that is not there when read is the machine's problem.
    let path = dir.write("gone.gz", &whole);
    let splits = plan_splits(&[s(&path)], 1).unwrap();
    std::fs::remove_file(&path).unwrap();
    match for_each_line(&splits[0], |_| Ok::<_, Infallible>(())) {
        Err(SplitError::Input(e @ InputError::Io { .. })) => assert!(e.is_environmental()),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn plan_errors_name_their_cause() {
    let dir = TempDir::new("errors");
    let path = dir.write("a.txt", b"x\n");
    assert!(matches!(
        plan_splits(&[s(&path)], 0),
        Err(InputError::ZeroSplitSize)
    ));
    assert!(matches!(
        plan_splits::<&str>(&[], 10),
        Err(InputError::NoInputs)
    ));
    let missing = dir.path().join("missing.txt");
    let err = plan_splits(&[s(&path), s(&missing)], 10).unwrap_err();
    match &err {
        InputError::NotFound { path: p } => assert_eq!(p, &missing),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(err.to_string().contains(s(&missing)), "{err}");
}

#[test]
fn split_ranges_cover_each_file_once() {
    let dir = TempDir::new("ranges");
    let path = dir.write("a.txt", &[b'x'; 100]);
    let splits = plan_splits(&[s(&path)], 30).unwrap();
    let ranges: Vec<_> = splits.iter().map(|sp| (sp.start(), sp.end())).collect();
    assert_eq!(ranges, [(0, 30), (30, 60), (60, 90), (90, 100)]);
    assert_eq!(
        splits[3].to_string(),
        format!("{}[90..100]", path.display())
    );
    let whole = plan_splits(&[s(&path)], u64::MAX).unwrap();
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].len(), 100);
}

#[test]
fn splits_survive_serialisation() {
    let dir = TempDir::new("serde");
    let path = dir.write("a.txt", b"abc\ndef\n");
    for split in plan_splits(&[s(&path)], 3).unwrap() {
        let bytes = postcard::to_allocvec(&split).unwrap();
        let back: InputSplit = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, split);
    }
}

#[test]
fn line_numbers_of_plain_and_gzip_files() {
    let dir = TempDir::new("line-number");
    let content = b"one\ntwo\r\n\nfour\nfive";
    let plain = dir.write("a.txt", content);
    let packed = dir.write("a.txt.gz", &gzip(content));
    for path in [&plain, &packed] {
        let lines = expected_lines(content);
        for (i, (offset, _)) in lines.iter().enumerate() {
            assert_eq!(line_number_at(path, *offset).unwrap(), i as u64 + 1);
        }
        // Mid-line offsets give the line holding them; the end is allowed.
        assert_eq!(line_number_at(path, 5).unwrap(), 2);
        assert_eq!(line_number_at(path, content.len() as u64).unwrap(), 5);
        match line_number_at(path, content.len() as u64 + 1) {
            Err(InputError::OffsetPastEnd { path: p, len, .. }) => {
                assert_eq!((&p, len), (path, content.len() as u64));
            }
            other => panic!("expected OffsetPastEnd, got {other:?}"),
        }
    }
    // Offsets reported while reading a gzip split agree.
    let split = &plan_splits(&[s(&packed)], 10).unwrap()[0];
    let mut numbers = Vec::new();
    for_each_line(split, |line| {
        numbers.push(line_number_at(&packed, line.offset()).unwrap());
        Ok::<_, Infallible>(())
    })
    .unwrap();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
}

/// xorshift64*, enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn a_large_random_file_reads_the_same_for_large_split_sizes() {
    let dir = TempDir::new("random");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut content = Vec::with_capacity(2 << 20);
    while content.len() < 2_000_000 {
        // Mostly short lines, some empty, a few longer than a split.
        let len = match rng.below(100) {
            0 => 5000 + rng.below(200_000),
            1..=9 => 0,
            _ => rng.below(120),
        };
        content.extend((0..len).map(|_| b' ' + rng.below(95) as u8));
        if rng.below(10) == 0 {
            content.push(b'\r');
        }
        content.push(b'\n');
    }
    content.extend_from_slice(b"tail without newline");
    let path = dir.write("random.txt", &content);
    let expected = expected_lines(&content);
    for split_bytes in [4096, 65536, 1 << 20] {
        let splits = plan_splits(&[s(&path)], split_bytes).unwrap();
        assert_eq!(
            splits.len(),
            content.len().div_ceil(split_bytes as usize),
            "split size {split_bytes}"
        );
        for buffer_size in [1000, 1 << 22] {
            assert_eq!(
                read_with_callback(&splits, buffer_size),
                expected,
                "split size {split_bytes}, buffer {buffer_size}"
            );
        }
        assert_eq!(read_with_iterator(&splits, 1 << 16), expected);
    }
}
