//! Unit tests of the data generator: formats, ranges, distributions,
//! determinism across thread counts, and error handling.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;

use super::blocks::run_blocks;
use super::decimal::{push_fixed6, push_u64};
use super::skew::{heavy_duration, HEAVY_CAP_MS, HEAVY_MIN_MS};
use super::tables::{self, GENRES, ITEMS, RATING_WEIGHTS, STATIONS, TIMESTAMPS, USERS};
use super::text::{self, VOCABULARY_SIZE, WORDS_PER_LINE, WORD_LENGTHS};
use super::{
    run_gen, skew_durations, thousands, DataKind, GenArgs, GenReport, SkewShape, Written,
    BLOCK_ROWS, SKEW_TASKS,
};

/// A directory under the system temp dir, unique to this process and test,
/// removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "flotilla-gen-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            test
        ));
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

/// Checks that `written` matches the file and returns its text.
fn read_checked(path: &Path, written: Written) -> String {
    let text = read(path);
    assert_eq!(written.bytes, text.len() as u64);
    assert!(!path
        .with_file_name(format!(
            "{}.tmp",
            path.file_name().unwrap().to_str().unwrap()
        ))
        .exists());
    text
}

#[test]
fn integers_print_like_std() {
    let mut values = vec![
        0,
        1,
        9,
        10,
        11,
        99,
        100,
        101,
        999,
        1000,
        943,
        1682,
        u64::MAX,
    ];
    values.extend([874_724_710, 893_286_638, 10u64.pow(19), 10u64.pow(19) - 1]);
    let mut buffer = Vec::new();
    for v in values {
        buffer.clear();
        push_u64(&mut buffer, v);
        assert_eq!(String::from_utf8(buffer.clone()).unwrap(), v.to_string());
    }
}

#[test]
fn fixed_point_prints_six_decimals() {
    let cases = [
        (0, "0.000000"),
        (1, "0.000001"),
        (-1, "-0.000001"),
        (-500_000, "-0.500000"),
        (-10_000_000, "-10.000000"),
        (49_999_999, "49.999999"),
        (12_345_678, "12.345678"),
        (-9_000_010, "-9.000010"),
    ];
    for (millionths, expected) in cases {
        let mut buffer = Vec::new();
        push_fixed6(&mut buffer, millionths);
        assert_eq!(String::from_utf8(buffer).unwrap(), expected);
    }
}

#[test]
fn ratings_parse_back_with_expected_frequencies() {
    let dir = TempDir::new("ratings");
    let path = dir.file("ratings.tsv");
    let rows = 2 * BLOCK_ROWS + 12_345;
    let written = tables::write_ratings(&path, rows, 20_240_501, 2).unwrap();
    assert_eq!(written.records, rows);
    let text = read_checked(&path, written);
    assert!(text.ends_with('\n'));
    let mut counts = [0u64; 5];
    let mut lines = 0;
    for line in text.lines() {
        let fields: Vec<u64> = line.split('\t').map(|f| f.parse().unwrap()).collect();
        assert_eq!(fields.len(), 4, "{line}");
        assert!((1..=USERS).contains(&fields[0]), "{line}");
        assert!((1..=ITEMS).contains(&fields[1]), "{line}");
        assert!((1..=5).contains(&fields[2]), "{line}");
        assert!((TIMESTAMPS.0..=TIMESTAMPS.1).contains(&fields[3]), "{line}");
        counts[fields[2] as usize - 1] += 1;
        lines += 1;
    }
    assert_eq!(lines, rows);
    let total: u64 = RATING_WEIGHTS.iter().sum();
    for (count, weight) in counts.iter().zip(RATING_WEIGHTS) {
        let expected = rows as f64 * weight as f64 / total as f64;
        // Five standard deviations of a binomial count.
        let tolerance = 5.0 * expected.sqrt();
        assert!(
            (*count as f64 - expected).abs() < tolerance,
            "counts {counts:?}, expected {expected} for weight {weight}"
        );
    }
}

#[test]
fn ratings_do_not_depend_on_thread_count_and_prefix_is_stable() {
    let dir = TempDir::new("ratings-determinism");
    let rows = 3 * BLOCK_ROWS + 7;
    let one = dir.file("one.tsv");
    let three = dir.file("three.tsv");
    let again = dir.file("again.tsv");
    let other_seed = dir.file("other.tsv");
    let short = dir.file("short.tsv");
    tables::write_ratings(&one, rows, 5, 1).unwrap();
    tables::write_ratings(&three, rows, 5, 3).unwrap();
    tables::write_ratings(&again, rows, 5, 3).unwrap();
    tables::write_ratings(&other_seed, rows, 6, 3).unwrap();
    tables::write_ratings(&short, BLOCK_ROWS + 3, 5, 3).unwrap();
    let bytes = fs::read(&one).unwrap();
    assert_eq!(bytes, fs::read(&three).unwrap());
    assert_eq!(bytes, fs::read(&again).unwrap());
    assert_ne!(bytes, fs::read(&other_seed).unwrap());
    assert!(bytes.starts_with(&fs::read(&short).unwrap()));
}

#[test]
fn zero_rows_give_empty_ratings_and_header_only_weather() {
    let dir = TempDir::new("empty");
    let ratings = dir.file("r.tsv");
    let weather = dir.file("w.csv");
    assert_eq!(
        tables::write_ratings(&ratings, 0, 1, 2).unwrap(),
        Written {
            bytes: 0,
            records: 0
        }
    );
    tables::write_weather(&weather, 0, 1, 2).unwrap();
    assert_eq!(read(&ratings), "");
    assert_eq!(read(&weather), "station_id,temperature\n");
}

#[test]
fn weather_parses_back_in_range() {
    let dir = TempDir::new("weather");
    let path = dir.file("weather.csv");
    let rows = BLOCK_ROWS + 501;
    let written = tables::write_weather(&path, rows, 20_240_502, 3).unwrap();
    let text = read_checked(&path, written);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("station_id,temperature"));
    let (mut negative_above_minus_one, mut sum, mut count) = (0, 0.0, 0u64);
    for line in lines {
        let (station, temperature) = line.split_once(',').unwrap();
        let station: u64 = station.parse().unwrap();
        assert!((1..=STATIONS).contains(&station), "{line}");
        let (_, decimals) = temperature.split_once('.').unwrap();
        assert_eq!(decimals.len(), 6, "{line}");
        let value: f64 = temperature.parse().unwrap();
        assert!((-10.0..50.0).contains(&value), "{line}");
        if temperature.starts_with("-0.") {
            negative_above_minus_one += 1;
        }
        sum += value;
        count += 1;
    }
    assert_eq!(count, rows);
    assert!(negative_above_minus_one > 0);
    let mean = sum / count as f64;
    assert!((mean - 20.0).abs() < 0.3, "mean temperature {mean}");

    let serial = dir.file("serial.csv");
    tables::write_weather(&serial, rows, 20_240_502, 1).unwrap();
    assert_eq!(fs::read(&path).unwrap(), fs::read(&serial).unwrap());
}

#[test]
fn vocabulary_is_distinct_lowercase_and_short_words_rank_first() {
    let words = text::vocabulary(20_240_503);
    assert_eq!(words.len(), VOCABULARY_SIZE);
    let distinct: HashSet<&Vec<u8>> = words.iter().collect();
    assert_eq!(distinct.len(), VOCABULARY_SIZE);
    for word in &words {
        assert!((WORD_LENGTHS.0..=WORD_LENGTHS.1).contains(&word.len()));
        assert!(word.iter().all(u8::is_ascii_lowercase));
    }
    let mean = |words: &[Vec<u8>]| {
        words.iter().map(|w| w.len()).sum::<usize>() as f64 / words.len() as f64
    };
    let (head, tail) = (mean(&words[..1000]), mean(&words[VOCABULARY_SIZE - 1000..]));
    assert!(head + 3.0 < tail, "head {head}, tail {tail}");
    assert_eq!(words, text::vocabulary(20_240_503));
}

/// 1 / H(50000, 1.1): the probability of the most frequent word.
fn rank_one_probability() -> f64 {
    1.0 / (1..=VOCABULARY_SIZE)
        .map(|k| (k as f64).powf(-1.1))
        .sum::<f64>()
}

#[test]
fn zipf_cdf_is_increasing_and_ends_at_one() {
    let cdf = text::zipf_cdf(VOCABULARY_SIZE);
    assert_eq!(cdf.len(), VOCABULARY_SIZE);
    assert!(cdf.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(cdf[VOCABULARY_SIZE - 1], 1.0);
    // P(rank 1) = 1 / H(50000, 1.1), about 0.139.
    assert!(
        (cdf[0] - rank_one_probability()).abs() < 1e-12,
        "{}",
        cdf[0]
    );
    assert!((cdf[0] - 0.139).abs() < 0.001, "{}", cdf[0]);
}

#[test]
fn guided_zipf_search_equals_plain_binary_search() {
    let sampler = text::ZipfSampler::new(VOCABULARY_SIZE);
    let cdf = text::zipf_cdf(VOCABULARY_SIZE);
    let plain = |u: f64| cdf.partition_point(|&p| p <= u).min(VOCABULARY_SIZE - 1);
    let mut rng = flotilla_core::rng::Rng::seed(99);
    let mut probes: Vec<f64> = (0..200_000).map(|_| rng.uniform_f64()).collect();
    // The CDF values themselves and their neighbours, where ties matter.
    for &p in cdf.iter().step_by(7).chain(&cdf[..100]) {
        let bits = p.to_bits();
        probes.extend([p, f64::from_bits(bits - 1), f64::from_bits(bits + 1)]);
    }
    probes.extend([0.0, 1.0 - f64::EPSILON / 2.0, 0.5, 0.25]);
    for u in probes.into_iter().filter(|u| (0.0..1.0).contains(u)) {
        assert_eq!(sampler.rank_of(u), plain(u), "u = {u}");
    }
}

#[test]
fn text_respects_the_limit_and_zipf_law() {
    let dir = TempDir::new("text");
    let path = dir.file("text.txt");
    let limit = 1_500_000;
    let written = text::write_text(&path, limit, 20_240_503, 3).unwrap();
    let text = read_checked(&path, written);
    assert!(written.bytes <= limit);
    assert!(written.bytes > limit - 300, "{} bytes", written.bytes);
    assert!(text.ends_with('\n'));
    assert_eq!(written.records, text.lines().count() as u64);

    let vocabulary = text::vocabulary(20_240_503);
    let known: HashSet<&[u8]> = vocabulary.iter().map(Vec::as_slice).collect();
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words.len(), WORDS_PER_LINE, "{line:?}");
        for word in words {
            assert!(known.contains(word.as_bytes()), "{word:?}");
            *counts.entry(word).or_default() += 1;
        }
    }
    let tokens = written.records * WORDS_PER_LINE as u64;
    let top = std::str::from_utf8(&vocabulary[0]).unwrap();
    let share = counts[top] as f64 / tokens as f64;
    let expected = rank_one_probability();
    // About five standard deviations of the binomial share.
    let tolerance = 5.0 * (expected * (1.0 - expected) / tokens as f64).sqrt();
    assert!(
        (share - expected).abs() < tolerance,
        "rank-1 share {share}, expected {expected}"
    );

    let serial = dir.file("serial.txt");
    text::write_text(&serial, limit, 20_240_503, 1).unwrap();
    assert_eq!(fs::read(&path).unwrap(), fs::read(&serial).unwrap());
}

#[test]
fn tiny_text_limits() {
    let dir = TempDir::new("tiny-text");
    let empty = dir.file("empty.txt");
    let small = dir.file("small.txt");
    assert_eq!(
        text::write_text(&empty, 0, 1, 2).unwrap(),
        Written {
            bytes: 0,
            records: 0
        }
    );
    assert_eq!(read(&empty), "");
    let written = text::write_text(&small, 1000, 1, 2).unwrap();
    let text = read_checked(&small, written);
    assert!(written.bytes <= 1000 && written.records >= 1);
    assert!(text.ends_with('\n'));
}

#[test]
fn items_cover_all_ids_with_known_genres() {
    let dir = TempDir::new("items");
    let path = dir.file("items.csv");
    let written = tables::write_items(&path, 20_240_504).unwrap();
    assert_eq!(written.records, ITEMS);
    let text = read_checked(&path, written);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("item_id,genre"));
    let mut seen = HashSet::new();
    let mut id = 0;
    for line in lines {
        let (item, genre) = line.split_once(',').unwrap();
        id += 1;
        assert_eq!(item.parse::<u64>().unwrap(), id);
        assert!(GENRES.contains(&genre), "{genre:?}");
        seen.insert(genre.to_owned());
    }
    assert_eq!(id, 1682);
    assert_eq!(seen.len(), 19, "with 1682 draws every genre appears");
    let spelled: HashSet<&str> = [
        "Action",
        "Adventure",
        "Animation",
        "Children's",
        "Comedy",
        "Crime",
        "Documentary",
        "Drama",
        "Fantasy",
        "Film-Noir",
        "Horror",
        "Musical",
        "Mystery",
        "Romance",
        "Sci-Fi",
        "Thriller",
        "War",
        "Western",
        "unknown",
    ]
    .into_iter()
    .collect();
    assert_eq!(spelled, GENRES.into_iter().collect());
}

#[test]
fn skew_shapes_have_exact_values() {
    let ramp = skew_durations(SkewShape::Ramp, 1);
    assert_eq!(ramp.len(), SKEW_TASKS);
    assert_eq!(ramp[0], 0.0);
    assert_eq!(ramp[3], 0.3);
    assert_eq!(ramp[199], 19.9);
    for (i, d) in ramp.iter().enumerate() {
        assert!((d - 0.1 * i as f64).abs() < 1e-12);
    }
    let periodic = skew_durations(SkewShape::Periodic, 1);
    assert_eq!(periodic.len(), SKEW_TASKS);
    for (i, d) in periodic.iter().enumerate() {
        assert_eq!(*d, if i % 2 == 0 { 20.0 } else { 1.0 });
    }
}

#[test]
fn heavy_skew_is_capped_and_at_least_five() {
    assert_eq!(heavy_duration(0.0), HEAVY_MIN_MS);
    assert_eq!(heavy_duration(1.0 - f64::EPSILON), HEAVY_CAP_MS);
    assert_eq!(heavy_duration(0.999), HEAVY_CAP_MS);
    // Median of 5·(1 + Lomax(1.1)) is 5 · 2^(1/1.1).
    assert!((heavy_duration(0.5) - 5.0 * 2f64.powf(1.0 / 1.1)).abs() < 1e-12);
    let heavy = skew_durations(SkewShape::Heavy, 7);
    assert_eq!(heavy.len(), SKEW_TASKS);
    assert!(heavy
        .iter()
        .all(|d| (HEAVY_MIN_MS..=HEAVY_CAP_MS).contains(d)));
    assert_eq!(heavy, skew_durations(SkewShape::Heavy, 7));
    assert_ne!(heavy, skew_durations(SkewShape::Heavy, 8));
    let max = heavy.iter().cloned().fold(0.0, f64::max);
    assert!(max > 50.0, "a heavy tail has long tasks: max {max}");
}

#[test]
fn skew_file_round_trips() {
    let dir = TempDir::new("skew");
    for shape in [SkewShape::Heavy, SkewShape::Ramp, SkewShape::Periodic] {
        let path = dir.file("skew.txt");
        let written = super::write_skew(&path, shape, 7).unwrap();
        let text = read_checked(&path, written);
        let parsed: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(parsed, skew_durations(shape, 7));
        assert_eq!(written.records, SKEW_TASKS as u64);
    }
    assert_eq!(read(&dir.file("skew.txt")).lines().next(), Some("20"));
}

/// The command line of `flotilla gen`, for parsing tests.
#[derive(Parser, Debug)]
struct Command {
    #[command(flatten)]
    gen: GenArgs,
}

#[test]
fn arguments_parse_with_defaults() {
    let args = Command::try_parse_from(["gen", "ratings", "--output", "x.tsv"])
        .unwrap()
        .gen;
    assert_eq!(args.kind, DataKind::Ratings);
    assert_eq!(args.rows, 10_000_000);
    assert_eq!(args.mb, 100.0);
    assert_eq!(args.seed, None);
    assert_eq!(args.shape, SkewShape::Heavy);
    assert_eq!(args.output, PathBuf::from("x.tsv"));

    let args = Command::try_parse_from([
        "gen", "skew", "--shape", "periodic", "--seed", "3", "--output", "s",
    ])
    .unwrap()
    .gen;
    assert_eq!(
        (args.kind, args.shape, args.seed),
        (DataKind::Skew, SkewShape::Periodic, Some(3))
    );
    assert!(Command::try_parse_from(["gen", "ratings"]).is_err());
    assert!(Command::try_parse_from(["gen", "nope", "--output", "x"]).is_err());
}

#[test]
fn run_gen_creates_parents_and_reports() {
    let dir = TempDir::new("run");
    let path = dir.file("a/b/text.txt");
    let args = Command::try_parse_from([
        "gen",
        "text",
        "--mb",
        "0.25",
        "--output",
        path.to_str().unwrap(),
    ])
    .unwrap()
    .gen;
    let report = run_gen(&args).unwrap();
    assert!(report.written.bytes <= 250_000);
    assert_eq!(fs::metadata(&path).unwrap().len(), report.written.bytes);
    // Default seed: the same bytes as an explicit 20240503.
    let explicit = dir.file("explicit.txt");
    text::write_text(&explicit, 250_000, DataKind::Text.default_seed(), 2).unwrap();
    assert_eq!(fs::read(&path).unwrap(), fs::read(&explicit).unwrap());
    let shown = report.to_string();
    assert!(
        shown.starts_with(&format!("wrote {}: ", path.display())),
        "{shown}"
    );
    assert!(shown.contains(" lines, "), "{shown}");

    let bad = Command::try_parse_from(["gen", "text", "--mb=-1", "--output", "t"])
        .unwrap()
        .gen;
    assert!(run_gen(&bad).is_err());
}

#[test]
fn report_display_and_thousands() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(10_000_000), "10,000,000");
    let report = GenReport {
        path: PathBuf::from("data/ratings.tsv"),
        kind: DataKind::Ratings,
        written: Written {
            bytes: 202_345_678,
            records: 10_000_000,
        },
        seconds: 1.26,
    };
    assert_eq!(
        report.to_string(),
        "wrote data/ratings.tsv: 10,000,000 rows, 202 MB in 1.3 s"
    );
    let small = GenReport {
        path: PathBuf::from("items.csv"),
        kind: DataKind::Items,
        written: Written {
            bytes: 24_012,
            records: 1682,
        },
        seconds: 0.001,
    };
    assert_eq!(
        small.to_string(),
        "wrote items.csv: 1,682 rows, 24,012 bytes in 0.0 s"
    );
}

#[test]
fn errors_name_the_path_and_leave_nothing_behind() {
    let dir = TempDir::new("errors");
    let blocker = dir.file("plain-file");
    fs::write(&blocker, "not a directory").unwrap();
    let path = blocker.join("ratings.tsv");
    let error = tables::write_ratings(&path, 10, 1, 2).unwrap_err();
    assert!(
        error.to_string().contains(&blocker.display().to_string()),
        "{error}"
    );
    let directory = dir.file("a-directory");
    fs::create_dir_all(&directory).unwrap();
    let error = super::write_items(&directory, 1).unwrap_err();
    assert!(error.to_string().contains("a-directory"), "{error}");
    // The failed rename removed the temporary file.
    assert!(!dir.file("a-directory.tmp").exists());
}

#[test]
fn blocks_arrive_in_order_within_the_window() {
    for workers in [1, 3] {
        let consumed = AtomicUsize::new(0);
        let mut seen = Vec::new();
        run_blocks(
            workers,
            Some(50),
            |index, buffer| {
                // A worker never runs more than 2·workers blocks ahead.
                assert!(index < consumed.load(Ordering::SeqCst) + 2 * workers);
                // Uneven work, so blocks finish out of order.
                std::thread::sleep(std::time::Duration::from_micros((index % 4 * 300) as u64));
                buffer.extend_from_slice(&index.to_le_bytes());
            },
            |block| {
                seen.push(usize::from_le_bytes(block.try_into().unwrap()));
                consumed.fetch_add(1, Ordering::SeqCst);
                Ok(ControlFlow::Continue(()))
            },
        )
        .unwrap();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
    }
}

#[test]
fn endless_blocks_stop_on_break_and_on_error() {
    let mut seen = 0;
    run_blocks(
        2,
        None,
        |index, buffer| buffer.push(index as u8),
        |_| {
            seen += 1;
            Ok(if seen == 5 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        },
    )
    .unwrap();
    assert_eq!(seen, 5);
    let error = run_blocks(2, None, |_, _| {}, |_| Err(io::Error::other("disk full"))).unwrap_err();
    assert_eq!(error.to_string(), "disk full");
}

#[test]
#[should_panic(expected = "render failed")]
fn a_panicking_worker_panics_the_caller_instead_of_hanging() {
    let _ = run_blocks(
        2,
        Some(100),
        |index, _| assert!(index != 3, "render failed"),
        |_| Ok(ControlFlow::Continue(())),
    );
}

#[test]
#[should_panic(expected = "consume failed")]
fn a_panicking_consumer_does_not_leave_workers_waiting() {
    let _ = run_blocks(
        2,
        None,
        |_, _| {},
        |_| -> io::Result<ControlFlow<()>> { panic!("consume failed") },
    );
}
