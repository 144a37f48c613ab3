//! DataFrames, arrays and bags on clusters of real processes on 127.0.0.1: the workers are
//! copies of this test binary (it calls `worker_if_asked` first), and each
//! test's `LocalCluster` kills and reaps them when it is dropped, also
//! when the test fails. Every result is compared with the same frame
//! computed in-process.

use std::path::{Path, PathBuf};

use flotilla::cluster::{Client, LocalCluster};
use flotilla::dataframe::arrow::array::RecordBatch;
use flotilla::dataframe::io::CsvOptions;
use flotilla::dataframe::kernels::{Agg, JoinKind};
use flotilla::dataframe::{col, DataFrame, DataFrameError, JoinOptions, JoinStrategy, SortKey};
use flotilla::on_cluster::{ComputeOnCluster, OnClusterError};
use libtest_mimic::{Arguments, Failed, Trial};

mod common;
use common::cluster::{peaks_stay_under, run_and_kill};
use common::TempDir;

/// A xorshift generator, so that the data is the same on every run.
fn numbers(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// A weather CSV of `rows` rows: station 1..=99, a temperature with two
/// decimals, and an empty (null) temperature every 97 rows.
fn write_weather(dir: &Path, rows: usize) -> PathBuf {
    let mut next = numbers(0x5eed);
    let mut text = String::from("station_id,temperature\n");
    for i in 0..rows {
        let station = next() % 99 + 1;
        if i % 97 == 96 {
            text.push_str(&format!("{station},\n"));
        } else {
            let t = (next() % 6000) as f64 / 100.0 - 10.0;
            text.push_str(&format!("{station},{t:.2}\n"));
        }
    }
    let path = dir.join("weather.csv");
    std::fs::write(&path, text).expect("the input is writable");
    path
}

/// A ratings TSV (no header: user, item, rating) and an items CSV (item,
/// genre) of 50 items.
fn write_ratings(dir: &Path, rows: usize) -> (PathBuf, PathBuf) {
    let mut next = numbers(0xfeed);
    let mut ratings = String::new();
    for _ in 0..rows {
        let (user, item, rating) = (next() % 300 + 1, next() % 60 + 1, next() % 5 + 1);
        ratings.push_str(&format!("{user}\t{item}\t{rating}\n"));
    }
    let genres = [
        "Action", "Comedy", "Drama", "Horror", "Sci-Fi", "War", "Western",
    ];
    let mut items = String::from("item_id,genre\n");
    for item in 1..=50 {
        items.push_str(&format!("{item},{}\n", genres[item % genres.len()]));
    }
    let (r, i) = (dir.join("ratings.tsv"), dir.join("items.csv"));
    std::fs::write(&r, ratings).expect("the input is writable");
    std::fs::write(&i, items).expect("the input is writable");
    (r, i)
}

fn weather(path: &Path, partition_bytes: u64) -> Result<DataFrame, DataFrameError> {
    DataFrame::read_csv(
        &[path.to_string_lossy().as_ref()],
        CsvOptions::new().partition_bytes(partition_bytes),
    )
}

fn ratings(path: &Path, partition_bytes: u64) -> Result<DataFrame, DataFrameError> {
    DataFrame::read_csv(
        &[path.to_string_lossy().as_ref()],
        CsvOptions::new()
            .delimiter(b'\t')
            .has_header(false)
            .column_names(["user_id", "item_id", "rating"])
            .columns(["item_id", "rating"])
            .partition_bytes(partition_bytes),
    )
}

/// A batch's rows sorted by `keys`, to compare outputs whose row order is
/// the shuffle's.
fn sorted(batch: RecordBatch, keys: &[&str]) -> Result<RecordBatch, Failed> {
    let keys: Vec<SortKey> = keys.iter().map(|k| SortKey::new(*k)).collect();
    Ok(DataFrame::from_batches(vec![batch])?
        .sort_by(&keys)?
        .compute()?)
}

/// Means compared to 1e-9 (a different order of additions), the rest
/// exactly.
fn assert_close(a: Option<f64>, b: Option<f64>) {
    match (a, b) {
        (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}"),
        _ => assert_eq!(a, b),
    }
}

/// Every float column of `a` close to `b`'s, every other column equal.
fn assert_batches_close(a: &RecordBatch, b: &RecordBatch) {
    use flotilla::dataframe::arrow::array::{Array, Float64Array};
    assert_eq!(a.schema(), b.schema());
    assert_eq!(a.num_rows(), b.num_rows());
    for (x, y) in a.columns().iter().zip(b.columns()) {
        match (
            x.as_any().downcast_ref::<Float64Array>(),
            y.as_any().downcast_ref::<Float64Array>(),
        ) {
            (Some(x), Some(y)) => {
                for i in 0..x.len() {
                    assert_close(
                        x.is_valid(i).then(|| x.value(i)),
                        y.is_valid(i).then(|| y.value(i)),
                    );
                }
            }
            _ => assert_eq!(x, y),
        }
    }
}

fn two_workers() -> Result<LocalCluster, Failed> {
    Ok(LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .start()?)
}

fn weather_on_a_cluster_gives_the_in_process_results() -> Result<(), Failed> {
    let dir = TempDir::new("cdf-weather");
    let path = write_weather(dir.path(), 20_000);
    let df = weather(&path, 40 << 10)?;
    assert!(df.num_partitions() >= 5);
    let cluster = two_workers()?;
    let client = cluster.client()?;

    // Whole-column reductions.
    let (local, remote) = (
        df.stats("temperature")?.compute()?,
        df.stats("temperature")?.compute_on(&client)?,
    );
    assert_eq!((remote.count, remote.nulls), (local.count, local.nulls));
    assert_eq!((remote.min, remote.max), (local.min, local.max));
    assert_close(remote.mean(), local.mean());
    assert_close(remote.var(1), local.var(1));
    assert_eq!(df.count().compute_on(&client)?, 20_000);

    // Per-partition steps, fused into the reading tasks.
    let f = df.with_column("f", col("temperature") * 9 / 5 + 32)?;
    assert_close(f.mean("f")?.compute_on(&client)?, f.mean("f")?.compute()?);
    let hot = f.filter(col("f").gt(100.0))?.select(&["station_id", "f"])?;
    assert_eq!(hot.compute_on(&client)?, hot.compute()?);

    // Group-bys: a tree of merges, and a shuffle into 3 partitions.
    let aggs = [
        Agg::mean("temperature"),
        Agg::max("temperature"),
        Agg::count("temperature"),
    ];
    let tree = df.group_by(&["station_id"])?.agg(&aggs)?;
    let shuffled = df.group_by(&["station_id"])?.split_out(3).agg(&aggs)?;
    let expected = sorted(tree.compute()?, &["station_id"])?;
    assert_eq!(expected.num_rows(), 99);
    assert_batches_close(
        &sorted(tree.compute_on(&client)?, &["station_id"])?,
        &expected,
    );
    assert_batches_close(
        &sorted(shuffled.compute_on(&client)?, &["station_id"])?,
        &expected,
    );

    // Both workers took part.
    let status = client.status()?;
    assert!(status.workers.iter().all(|w| w.tasks > 0), "{status:?}");
    Ok(())
}

fn joins_on_a_cluster_give_the_in_process_results() -> Result<(), Failed> {
    let dir = TempDir::new("cdf-join");
    let (r, i) = write_ratings(dir.path(), 20_000);
    let ratings = ratings(&r, 32 << 10)?;
    let items = DataFrame::read_csv(&[i.to_string_lossy().as_ref()], CsvOptions::new())?;
    let client = Client::in_process(2)?;
    let cluster = two_workers()?;
    let remote = cluster.client()?;
    for options in [
        // The items are one partition: broadcast, strings as dictionaries.
        JoinOptions::new(JoinKind::Inner).dictionary_strings(true),
        JoinOptions::new(JoinKind::Inner).strategy(JoinStrategy::Shuffle { partitions: 3 }),
        JoinOptions::new(JoinKind::Left).strategy(JoinStrategy::Shuffle { partitions: 2 }),
    ] {
        let joined = ratings.join_with(&items, &["item_id"], &["item_id"], options.clone())?;
        let means = joined
            .group_by(&["genre"])?
            .agg(&[Agg::mean("rating"), Agg::count("rating")])?;
        let expected = sorted(means.compute()?, &["genre"])?;
        for c in [&client, &remote] {
            let got = sorted(means.compute_on(c)?, &["genre"])?;
            assert_batches_close(&got, &expected);
        }
        // The joined rows themselves.
        let rows = joined.count().compute()?;
        assert_eq!(joined.count().compute_on(&remote)?, rows, "{options:?}");
    }
    Ok(())
}

fn what_cannot_run_on_a_cluster_says_so_and_bad_data_names_its_line() -> Result<(), Failed> {
    let dir = TempDir::new("cdf-errors");
    let path = write_weather(dir.path(), 500);
    let df = weather(&path, 4 << 10)?;
    let client = Client::in_process(1)?;

    let mapped = df.map_partitions(Ok)?;
    let err = mapped.count().compute_on(&client).unwrap_err();
    assert!(
        matches!(err, OnClusterError::Frame(DataFrameError::LocalOnly { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("map_partitions"), "{err}");
    let closure = df.with_column(
        "double",
        col("temperature").map::<flotilla::dataframe::arrow::array::types::Float64Type, flotilla::dataframe::arrow::array::types::Float64Type, _>(|t| t * 2.0),
    )?;
    let err = closure.compute_on(&client).unwrap_err();
    assert!(
        err.to_string()
            .contains("with_column with the Rust closure"),
        "{err}"
    );
    let sorted = df.sort_by(&[SortKey::new("temperature")])?;
    assert!(sorted
        .compute_on(&client)
        .unwrap_err()
        .to_string()
        .contains("sort"));

    // A value that does not parse: the task's error names file, line and
    // column, as in-process.
    let mut text = std::fs::read_to_string(&path)?;
    text.push_str("7,warm\n");
    std::fs::write(&path, text)?;
    let bad = DataFrame::read_csv(
        &[path.to_string_lossy().as_ref()],
        CsvOptions::new().partition_bytes(4 << 10).dtype(
            "temperature",
            flotilla::dataframe::arrow::schema::DataType::Float64,
        ),
    )?;
    let err = bad.sum("temperature")?.compute_on(&client).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, OnClusterError::Cluster(_)), "{text}");
    assert!(
        text.contains("weather.csv:502") && text.contains("warm"),
        "{text}"
    );
    Ok(())
}

/// Computes `frame` on 2 workers, killing worker 0 once 3 tasks are
/// done; the result must be the in-process one.
fn killed_during(frame: &DataFrame, keys: &[&str]) -> Result<(), Failed> {
    let expected = sorted(frame.compute()?, keys)?;
    let mut cluster = two_workers()?;
    let client = cluster.client()?;
    let watcher = cluster.client()?;
    let got = run_and_kill(
        &mut cluster,
        &watcher,
        |finished| finished >= 3,
        || frame.compute_on(&client),
    )?;
    assert_batches_close(&sorted(got, keys)?, &expected);
    Ok(())
}

fn a_worker_killed_during_a_group_by_costs_only_time() -> Result<(), Failed> {
    let dir = TempDir::new("cdf-kill-group");
    let path = write_weather(dir.path(), 200_000);
    let df = weather(&path, 64 << 10)?;
    let means = df
        .with_column("f", col("temperature") * 9 / 5 + 32)?
        .group_by(&["station_id"])?
        .split_out(2)
        .agg(&[Agg::mean("f"), Agg::count("f")])?;
    killed_during(&means, &["station_id"])
}

fn a_worker_killed_during_a_shuffled_join_costs_only_time() -> Result<(), Failed> {
    let dir = TempDir::new("cdf-kill-join");
    let (r, i) = write_ratings(dir.path(), 300_000);
    let ratings = ratings(&r, 64 << 10)?;
    let items = DataFrame::read_csv(&[i.to_string_lossy().as_ref()], CsvOptions::new())?;
    let joined = ratings.join_with(
        &items,
        &["item_id"],
        &["item_id"],
        JoinOptions::new(JoinKind::Inner).strategy(JoinStrategy::Shuffle { partitions: 2 }),
    )?;
    let means = joined
        .group_by(&["genre"])?
        .agg(&[Agg::mean("rating"), Agg::count("rating")])?;
    killed_during(&means, &["genre"])
}

fn a_group_by_over_input_larger_than_every_workers_memory_stays_within_it() -> Result<(), Failed> {
    // 130 MB of weather rows (a 1 MB block written 130 times) against
    // workers limited to 40 MB each.
    let dir = TempDir::new("cdf-larger");
    let block = std::fs::read(write_weather(dir.path(), 100_000))?;
    let body = &block[block.iter().position(|&b| b == b'\n').unwrap_or(0) + 1..];
    let path = dir.path().join("big.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    std::io::Write::write_all(&mut file, b"station_id,temperature\n")?;
    while std::fs::metadata(&path)?.len() < 130 << 20 {
        std::io::Write::write_all(&mut file, body)?;
        std::io::Write::flush(&mut file)?;
    }
    drop(file);
    let total = std::fs::metadata(&path)?.len();
    let limit: u64 = 40 << 20;
    assert!(
        total > 3 * limit,
        "the input ({total} bytes) must outsize the limit"
    );
    // 2 MB partitions: a task's working set (the parsed partition, its
    // pieces and their encoding) is several times its partition, and a
    // debug worker's own footprint is about half the limit.
    let df = weather(&path, 2 << 20)?;
    let means = df
        .group_by(&["station_id"])?
        .split_out(2)
        .agg(&[Agg::mean("temperature"), Agg::count("temperature")])?;
    let expected = sorted(means.compute()?, &["station_id"])?;
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .memory_limit(limit)
        .worker_timeout(std::time::Duration::from_secs(2))
        .start()?;
    let client = cluster.client()?;
    let got = sorted(means.compute_on(&client)?, &["station_id"])?;
    assert_batches_close(&got, &expected);
    peaks_stay_under(&client, 2, limit)
}

fn arrays_on_a_cluster_give_the_in_process_results() -> Result<(), Failed> {
    use flotilla::array::Array;
    let cluster = two_workers()?;
    let client = cluster.client()?;
    let x = (Array::random(&[1_000, 1_000], [250, 200], 11)? - 0.5).abs() * 4.0;
    assert_eq!(x.max().compute_on(&client)?, x.max().compute()?);
    assert_eq!(x.min().compute_on(&client)?, x.min().compute()?);
    let (here, there) = (x.sum().compute()?, x.sum().compute_on(&client)?);
    assert!((here - there).abs() <= 1e-9 * here, "{here} vs {there}");
    let n = Array::<i64>::arange(1_000_000, 100_000)? * 2;
    assert_eq!(n.sum().compute_on(&client)?, 999_999_000_000);
    assert_close(
        Some(n.mean().compute_on(&client)?),
        Some(n.mean().compute()?),
    );
    let status = client.status()?;
    assert!(status.workers.iter().all(|w| w.tasks > 0), "{status:?}");
    Ok(())
}

/// Words of at least `min` letters, lowercased, each line slowed down by
/// `delay_us` (so that a worker can be killed mid-run).
#[derive(serde::Serialize, serde::Deserialize)]
struct Words {
    min: usize,
    delay_us: u64,
}

impl flotilla::on_cluster::BagPipeline for Words {
    type Item = String;
    fn pipeline(&self, lines: flotilla::bag::Bag<String>) -> flotilla::bag::Bag<String> {
        let (min, delay) = (self.min, self.delay_us);
        lines
            .map(move |l| {
                if delay > 0 {
                    std::thread::sleep(std::time::Duration::from_micros(delay));
                }
                l
            })
            .flat_map(|l| {
                l.split_whitespace()
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
            })
            .filter(move |w| w.len() >= min)
    }
}

flotilla::cluster_bag!(Words, frequencies);

/// `lines` lines of 8 words drawn from 300, in a file of `dir`.
fn write_words(dir: &Path, lines: usize) -> PathBuf {
    let mut next = numbers(0xbad5eed);
    let mut text = String::new();
    for _ in 0..lines {
        for _ in 0..8 {
            let w = next() % 300;
            text.push_str(&format!("W{}{} ", "x".repeat((w % 5) as usize), w));
        }
        text.push('\n');
    }
    let path = dir.join("words.txt");
    std::fs::write(&path, text).expect("the input is writable");
    path
}

fn bags_on_a_cluster_give_the_in_process_results() -> Result<(), Failed> {
    use flotilla::bag::{read_text_with, TextOptions};
    use flotilla::on_cluster::{BagPipeline, RemoteBag};
    let dir = TempDir::new("cdf-bag");
    let path = write_words(dir.path(), 5_000);
    let path = path.to_string_lossy();
    let options = TextOptions::new().split_bytes(16 << 10);
    let words = Words {
        min: 4,
        delay_us: 0,
    };
    let local = words.pipeline(read_text_with(&[path.as_ref()], options)?);
    let cluster = two_workers()?;
    let client = cluster.client()?;
    let remote = RemoteBag::read_text_with(&client, words, &[path.as_ref()], options)?;
    assert!(remote.npartitions() > 4);
    assert_eq!(remote.compute()?, local.compute()?);
    assert_eq!(remote.count()?, local.count().compute()?);
    assert_eq!(remote.frequencies()?, local.frequencies().compute()?);
    let status = client.status()?;
    assert!(status.workers.iter().all(|w| w.tasks > 0), "{status:?}");
    Ok(())
}

fn a_worker_killed_during_a_bag_s_frequencies_costs_only_time() -> Result<(), Failed> {
    use flotilla::bag::{read_text_with, TextOptions};
    use flotilla::on_cluster::{BagPipeline, RemoteBag};
    let dir = TempDir::new("cdf-bag-kill");
    let path = write_words(dir.path(), 2_000);
    let path = path.to_string_lossy();
    let options = TextOptions::new().split_bytes(8 << 10);
    let expected = Words {
        min: 3,
        delay_us: 0,
    }
    .pipeline(read_text_with(&[path.as_ref()], options)?)
    .frequencies()
    .compute()?;
    let mut cluster = two_workers()?;
    let client = cluster.client()?;
    let watcher = cluster.client()?;
    let slow = Words {
        min: 3,
        delay_us: 300,
    };
    let remote = RemoteBag::read_text_with(&client, slow, &[path.as_ref()], options)?;
    let got = run_and_kill(
        &mut cluster,
        &watcher,
        |finished| finished >= 2,
        || remote.frequencies(),
    )?;
    assert_eq!(got, expected);
    Ok(())
}

/// A frame read from CSV and a bag over text files, kept in checkpoints
/// on a cluster: the workers write each partition's task result, a second
/// run reads every one back, a changed file runs its own partitions again;
/// results equal the in-process ones. A checkpoint after a group-by says
/// what a cluster can keep.
fn checkpointed_collections_on_a_cluster_read_back_what_they_kept() -> Result<(), Failed> {
    use flotilla::bag::{read_text_with, TextOptions};
    use flotilla::on_cluster::{BagPipeline, RemoteBag};
    use flotilla::Checkpoint;
    let dir = TempDir::new("cdf-checkpoint");
    let path = write_weather(dir.path(), 20_000);
    let cluster = two_workers()?;
    let client = cluster.client()?;
    let store = dir.join("frames");
    let hot = |checkpoint: &Checkpoint| -> Result<DataFrame, Failed> {
        Ok(weather(&path, 64 << 10)?
            .with_column("f", col("temperature") * 9 / 5 + 32)?
            .filter(col("f").gt(50.0))?
            .checkpoint(checkpoint))
    };
    let expected = hot(&Checkpoint::open(dir.join("in-process"))?)?
        .mean("f")?
        .compute()?;
    let checkpoint = Checkpoint::open(&store)?;
    let first = hot(&checkpoint)?.mean("f")?.compute_on(&client)?;
    assert_close(first, expected);
    let parts = checkpoint.computed();
    assert!(parts > 2 && checkpoint.loaded() == 0, "{parts}");
    let checkpoint = Checkpoint::open(&store)?;
    let again = hot(&checkpoint)?.mean("f")?.compute_on(&client)?;
    assert_close(again, expected);
    assert_eq!((checkpoint.computed(), checkpoint.loaded()), (0, parts));
    // After a group-by (partitions computed by other tasks): kept the same
    // way, and read back without running the group-by again.
    let grouped = |checkpoint: &Checkpoint| -> Result<RecordBatch, Failed> {
        let frame = weather(&path, 64 << 10)?
            .group_by(&["station_id"])?
            .agg(&[Agg::count("temperature")])?
            .checkpoint(checkpoint);
        Ok(frame.compute_on(&client)?)
    };
    let store = dir.join("grouped");
    let checkpoint = Checkpoint::open(&store)?;
    let first = grouped(&checkpoint)?;
    assert_eq!((checkpoint.computed(), checkpoint.loaded()), (1, 0));
    let local = weather(&path, 64 << 10)?
        .group_by(&["station_id"])?
        .agg(&[Agg::count("temperature")])?
        .compute()?;
    assert_eq!(
        sorted(first, &["station_id"])?,
        sorted(local.clone(), &["station_id"])?
    );
    let checkpoint = Checkpoint::open(&store)?;
    let tasks_before = client
        .status()?
        .workers
        .iter()
        .map(|w| w.tasks)
        .sum::<u64>();
    let again = grouped(&checkpoint)?;
    let tasks_after = client
        .status()?
        .workers
        .iter()
        .map(|w| w.tasks)
        .sum::<u64>();
    assert_eq!((checkpoint.computed(), checkpoint.loaded()), (0, 1));
    assert_eq!(
        sorted(again, &["station_id"])?,
        sorted(local, &["station_id"])?
    );
    // One task read it back; no partial or merge ran.
    assert_eq!(tasks_after - tasks_before, 1);

    // An array: the workers keep the blocks they compute, under the keys
    // the in-process array uses, so either reads what the other kept.
    let store = dir.join("arrays");
    let array = |checkpoint: &Checkpoint| -> Result<flotilla::array::Array<f64>, Failed> {
        let x = flotilla::array::Array::random(&[400, 300], [100, 100], 5)? * 3.0;
        Ok(x.checkpoint(checkpoint))
    };
    let checkpoint = Checkpoint::open(&store)?;
    let on_cluster = array(&checkpoint)?.sum().compute_on(&client)?;
    let blocks: Vec<PathBuf> = std::fs::read_dir(&store)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    assert_eq!(blocks.len(), 12, "{blocks:?}");
    // In-process, every block is read back from what the workers kept.
    let checkpoint = Checkpoint::open(&store)?;
    let here = array(&checkpoint)?.sum().compute()?;
    assert_eq!((checkpoint.computed(), checkpoint.loaded()), (0, 12));
    assert!(
        (here - on_cluster).abs() <= 1e-9 * here.abs(),
        "{here} vs {on_cluster}"
    );
    // A damaged block is read, not recomputed: the error names its file.
    let bytes = std::fs::read(&blocks[0])?;
    std::fs::write(&blocks[0], &bytes[..bytes.len() - 1])?;
    let err = array(&checkpoint)?.sum().compute_on(&client).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");

    let words_path = write_words(dir.path(), 3_000);
    let words_path = words_path.to_string_lossy().into_owned();
    let other = dir.join("other.txt");
    std::fs::write(&other, "Wxxone Wxxtwo\n")?;
    let other = other.to_string_lossy().into_owned();
    let inputs = [words_path.as_str(), other.as_str()];
    let options = TextOptions::new().split_bytes(16 << 10);
    let words = || Words {
        min: 4,
        delay_us: 0,
    };
    let store = dir.join("bags");
    type Run = (Vec<(String, u64)>, u64, u64);
    let run = || -> Result<Run, Failed> {
        let checkpoint = Checkpoint::open(&store)?;
        let bag =
            RemoteBag::read_text_with(&client, words(), &inputs, options)?.checkpoint(&checkpoint);
        let counts = bag.frequencies()?;
        Ok((counts, checkpoint.computed(), checkpoint.loaded()))
    };
    let local = || -> Result<Vec<(String, u64)>, Failed> {
        Ok(words()
            .pipeline(read_text_with(&inputs, options)?)
            .frequencies()
            .compute()?)
    };
    let (counts, splits, loaded) = run()?;
    assert_eq!(counts, local()?);
    assert!(splits > 2 && loaded == 0, "{splits}");
    assert_eq!(run()?, (local()?, 0, splits));
    // The small file changes (a file's size and time name all its
    // splits): its one split runs again, the big file's are read back.
    std::fs::write(&other, "Wxxone Wxxtwo Wxxthree\n")?;
    let (counts, computed, loaded) = run()?;
    assert_eq!(counts, local()?);
    assert_eq!((computed, loaded), (1, splits - 1));
    Ok(())
}

fn main() {
    flotilla::cluster::worker_if_asked();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "checkpointed_collections_on_a_cluster_read_back_what_they_kept",
            checkpointed_collections_on_a_cluster_read_back_what_they_kept,
        ),
        Trial::test(
            "bags_on_a_cluster_give_the_in_process_results",
            bags_on_a_cluster_give_the_in_process_results,
        ),
        Trial::test(
            "a_worker_killed_during_a_bag_s_frequencies_costs_only_time",
            a_worker_killed_during_a_bag_s_frequencies_costs_only_time,
        ),
        Trial::test(
            "arrays_on_a_cluster_give_the_in_process_results",
            arrays_on_a_cluster_give_the_in_process_results,
        ),
        Trial::test(
            "a_group_by_over_input_larger_than_every_workers_memory_stays_within_it",
            a_group_by_over_input_larger_than_every_workers_memory_stays_within_it,
        ),
        Trial::test(
            "weather_on_a_cluster_gives_the_in_process_results",
            weather_on_a_cluster_gives_the_in_process_results,
        ),
        Trial::test(
            "joins_on_a_cluster_give_the_in_process_results",
            joins_on_a_cluster_give_the_in_process_results,
        ),
        Trial::test(
            "what_cannot_run_on_a_cluster_says_so_and_bad_data_names_its_line",
            what_cannot_run_on_a_cluster_says_so_and_bad_data_names_its_line,
        ),
        Trial::test(
            "a_worker_killed_during_a_group_by_costs_only_time",
            a_worker_killed_during_a_group_by_costs_only_time,
        ),
        Trial::test(
            "a_worker_killed_during_a_shuffled_join_costs_only_time",
            a_worker_killed_during_a_shuffled_join_costs_only_time,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
