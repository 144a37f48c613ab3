//! Scenario 10, the image-processing case study, as tests: synthetic
//! images with known objects run through the pipeline in-process and on
//! clusters of real processes on 127.0.0.1 (copies of this test binary:
//! it calls `worker_if_asked` first; each `LocalCluster` kills and reaps
//! its workers when dropped, also when a test fails), results in SQLite
//! files and in a real PostgreSQL server started per test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla_cluster::{Client, LocalCluster, SchedulerOptions, Speculation};
use flotilla_images::synthetic::{self, SyntheticImage};
use flotilla_images::{
    images_table, objects_table, register_detector, summary_table, Detection, Detector, Pipeline,
    Prepared, RunReport, ThresholdDetector,
};
use flotilla_sink::{LocalPostgres, Sink, Value};
use libtest_mimic::{Arguments, Failed, Trial};

/// A folder removed when dropped (also when a test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("flotilla-scenario10-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        TempDir(dir)
    }

    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }

    fn sqlite(&self) -> String {
        format!("sqlite:{}", self.join("out.db").display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The threshold detector, slowed down: `sleep_ms` per image, or
/// `slow_ms` in the process whose id is `slow_pid`, or `first_ms` for the
/// first image of its `tag` in this process; it panics on an image
/// `panic_width` pixels wide (at the working size). Counts its calls per
/// `tag` (tests run at once in one process).
struct TestDetector {
    inner: ThresholdDetector,
    sleep_ms: u64,
    slow_pid: u32,
    slow_ms: u64,
    first_ms: u64,
    panic_width: u32,
    tag: String,
}

/// Images detected in this process, per tag.
static DETECTED: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

fn detected(tag: &str) -> u64 {
    DETECTED
        .lock()
        .map(|d| d.get(tag).copied().unwrap_or(0))
        .unwrap_or(0)
}

impl Detector for TestDetector {
    fn detect(&self, image: &Prepared) -> Vec<Detection> {
        assert!(
            image.rgb().width() != self.panic_width,
            "the test detector refuses images {} pixels wide",
            self.panic_width
        );
        let before = {
            let mut counts = DETECTED.lock().unwrap_or_else(|p| p.into_inner());
            let n = counts.entry(self.tag.clone()).or_insert(0);
            *n += 1;
            *n - 1
        };
        let ms = if std::process::id() == self.slow_pid {
            self.slow_ms
        } else if before == 0 && self.first_ms > 0 {
            self.first_ms
        } else {
            self.sleep_ms
        };
        std::thread::sleep(Duration::from_millis(ms));
        self.inner.detect(image)
    }
}

fn test_detector(params: &str) -> Result<Box<dyn Detector>, String> {
    let mut d = TestDetector {
        inner: ThresholdDetector::default(),
        sleep_ms: 0,
        slow_pid: 0,
        slow_ms: 0,
        first_ms: 0,
        panic_width: 0,
        tag: String::new(),
    };
    for part in params.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or("not key=value")?;
        if k == "tag" {
            d.tag = v.to_string();
            continue;
        }
        let n: u64 = v.parse().map_err(|e| format!("{k}: {e}"))?;
        match k {
            "first_ms" => d.first_ms = n,
            "sleep_ms" => d.sleep_ms = n,
            "slow_pid" => d.slow_pid = n as u32,
            "slow_ms" => d.slow_ms = n,
            "panic_width" => d.panic_width = n as u32,
            _ => return Err(format!("unknown {k}")),
        }
    }
    Ok(Box::new(d))
}
register_detector!("test", test_detector);

fn input_of(dir: &Path) -> String {
    dir.to_string_lossy().into_owned()
}

/// A box as stored: `(x, y, width, height)`.
type StoredBox = (i64, i64, i64, i64);

/// Objects per image path as stored.
fn stored_objects(sink: &Sink) -> Result<BTreeMap<String, Vec<StoredBox>>, Failed> {
    let mut by_path: BTreeMap<String, Vec<StoredBox>> = BTreeMap::new();
    for row in sink.rows(&objects_table())? {
        let n = |i: usize| row[i].as_i64().unwrap_or(-1);
        by_path
            .entry(row[0].as_str().unwrap_or_default().to_string())
            .or_default()
            .push((n(2), n(3), n(4), n(5)));
    }
    Ok(by_path)
}

/// Every image has its row, `ok`, and exactly its drawn objects, each box
/// within `tolerance` pixels of the drawn one.
fn rows_match_truth(sink: &Sink, made: &[SyntheticImage]) -> Result<(), Failed> {
    let images = sink.rows(&images_table())?;
    assert_eq!(images.len(), made.len(), "one row per image");
    assert!(images.iter().all(|r| r[1] == Value::from("ok")), "all ok");
    let stored = stored_objects(sink)?;
    let tolerance = 4;
    for m in made {
        let path = std::path::absolute(&m.path)?.to_string_lossy().into_owned();
        let found = stored.get(&path).cloned().unwrap_or_default();
        assert_eq!(
            found.len(),
            m.objects.len(),
            "{path}: {found:?} vs {:?}",
            m.objects
        );
        // Each drawn box against the found box nearest to it (two objects
        // side by side may sort either way once shrunk and scaled back).
        for t in &m.objects {
            let t = (
                i64::from(t.0),
                i64::from(t.1),
                i64::from(t.2),
                i64::from(t.3),
            );
            let off = |f: &StoredBox| [(f.0 - t.0), (f.1 - t.1), (f.2 - t.2), (f.3 - t.3)];
            let nearest = found
                .iter()
                .min_by_key(|f| off(f).iter().map(|d| d.abs()).sum::<i64>())
                .ok_or("no object found")?;
            assert!(
                off(nearest).iter().all(|d| d.abs() <= tolerance),
                "{path}: found {nearest:?}, drawn {t:?}"
            );
        }
    }
    Ok(())
}

fn known_objects_are_found_with_their_boxes() -> Result<(), Failed> {
    let dir = TempDir::new("truth");
    let made = synthetic::generate(dir.join("in"), 40, 512, 11)?;
    let client = Client::in_process(2)?;
    let report = Pipeline::new(&input_of(&dir.join("in")))
        .db(&dir.sqlite())
        .progress(false)
        .run(&client)?;
    let sink = Sink::open(&dir.sqlite())?;
    rows_match_truth(&sink, &made)?;
    let drawn: usize = made.iter().map(|m| m.objects.len()).sum();
    assert!(drawn >= 40, "the images hold objects: {drawn}");
    assert_eq!(report.summary.objects, drawn as u64);
    // The summary is stored too.
    let summary = sink.rows(&summary_table())?;
    let objects = summary
        .iter()
        .find(|r| r[1] == Value::from("objects"))
        .and_then(|r| r[2].as_f64());
    assert_eq!(objects, Some(drawn as f64));
    Ok(())
}

fn corrupt_images_are_failed_rows_and_the_run_goes_on() -> Result<(), Failed> {
    let dir = TempDir::new("corrupt");
    let made = synthetic::generate(dir.join("in"), 6, 256, 5)?;
    let good_png = std::fs::read(&made[0].path)?;
    std::fs::write(
        dir.join("in/truncated.png"),
        &good_png[..good_png.len() / 3],
    )?;
    std::fs::write(dir.join("in/garbage.jpg"), b"this is not a JPEG at all")?;
    // An image the detector panics on: its task fails, reported as a row.
    image::RgbImage::from_pixel(77, 40, image::Rgb([9, 9, 9])).save(dir.join("in/odd.png"))?;
    let client = Client::in_process(2)?;
    let report = Pipeline::new(&input_of(&dir.join("in")))
        .db(&dir.sqlite())
        .detector("test:panic_width=77".parse()?)
        .progress(false)
        .run(&client)?;
    assert_eq!((report.summary.analysed, report.summary.failed), (6, 3));
    let sink = Sink::open(&dir.sqlite())?;
    let failed: BTreeMap<String, String> = sink
        .rows(&images_table())?
        .into_iter()
        .filter(|r| r[1] == Value::from("failed"))
        .map(|r| {
            let name = Path::new(r[0].as_str().unwrap_or_default())
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, r[2].as_str().unwrap_or_default().to_string())
        })
        .collect();
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(failed["truncated.png"].contains("decoding"), "{failed:?}");
    assert!(failed["garbage.jpg"].contains("decoding"), "{failed:?}");
    assert!(failed["odd.png"].contains("77 pixels wide"), "{failed:?}");
    Ok(())
}

/// Runs the pipeline with the checkpoint on a fresh in-process engine,
/// ended (its running tasks finished) before returning, as a process that
/// stops would be; `stop_after` sets the stop flag once that many images
/// were detected.
fn checkpointed_run(dir: &TempDir, stop_after: Option<u64>) -> Result<RunReport, Failed> {
    let client = Client::in_process(2)?;
    let stop = Arc::new(AtomicBool::new(false));
    let detected_before = detected("resume");
    let watcher = stop_after.map(|n| {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while detected("resume") < detected_before + n && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            stop.store(true, Ordering::SeqCst);
        })
    });
    let report = Pipeline::new(&input_of(&dir.join("in")))
        .db(&dir.sqlite())
        .checkpoint(dir.join("ckpt"))
        .detector("test:sleep_ms=5,tag=resume".parse()?)
        .stop_when(stop)
        .progress(false)
        .run(&client)?;
    if let Some(w) = watcher {
        let _ = w.join();
    }
    drop(client);
    Ok(report)
}

fn an_interrupted_run_resumes_doing_only_the_missing_images() -> Result<(), Failed> {
    let dir = TempDir::new("resume");
    let made = synthetic::generate(dir.join("in"), 60, 256, 21)?;
    let first = checkpointed_run(&dir, Some(15))?;
    assert!(first.interrupted, "{first:?}");
    assert!(
        first.summary.images < 60,
        "stopped early: {}",
        first.summary.images
    );
    let kept = std::fs::read_dir(dir.join("ckpt"))?.count() as u64;
    assert!(kept >= first.summary.images && kept < 60, "{kept} kept");

    let before = detected("resume");
    let second = checkpointed_run(&dir, None)?;
    assert!(!second.interrupted);
    assert_eq!((second.loaded, second.computed), (kept, 60 - kept));
    assert_eq!(
        detected("resume") - before,
        60 - kept,
        "only the missing ones ran"
    );
    let sink = Sink::open(&dir.sqlite())?;
    rows_match_truth(&sink, &made)?;

    // Everything is checkpointed: a third run analyses nothing.
    let before = detected("resume");
    let third = checkpointed_run(&dir, None)?;
    assert_eq!((third.loaded, third.computed), (60, 0));
    assert_eq!(detected("resume"), before);
    rows_match_truth(&sink, &made)?;

    // A changed image is analysed again, and only it; its old objects go.
    let index = made
        .iter()
        .position(|m| !m.objects.is_empty())
        .ok_or("no image has objects")?;
    let changed = &made[index].path;
    image::RgbImage::from_pixel(256, 256, image::Rgb([50, 60, 50])).save(changed)?;
    let fourth = checkpointed_run(&dir, None)?;
    assert_eq!((fourth.loaded, fourth.computed), (59, 1));
    let lost = made[index].objects.len() as u64;
    assert_eq!(fourth.summary.objects, third.summary.objects - lost);
    assert_eq!(sink.count(&objects_table())?, third.summary.objects - lost);
    Ok(())
}

fn a_killed_worker_leaves_the_rows_complete_and_unduplicated() -> Result<(), Failed> {
    let dir = TempDir::new("kill");
    let made = synthetic::generate(dir.join("in"), 80, 256, 31)?;
    let mut cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(2)
        .start()?;
    let client = cluster.client()?;
    let watcher = cluster.client()?;
    let pipeline = Pipeline::new(&input_of(&dir.join("in")))
        .db(&dir.sqlite())
        .detector("test:sleep_ms=20".parse()?)
        .batch_rows(1)
        .progress(false);
    let report = std::thread::scope(|s| -> Result<RunReport, Failed> {
        let run = s.spawn(|| pipeline.run(&client));
        let deadline = Instant::now() + Duration::from_secs(60);
        while watcher.status()?.finished < 20 {
            if run.is_finished() || Instant::now() > deadline {
                return Err("the run ended before a worker could be killed".into());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        cluster.kill_worker(0)?;
        run.join()
            .map_err(|_| Failed::from("the run's thread panicked"))?
            .map_err(|e| Failed::from(e.to_string()))
    })?;
    assert_eq!(report.summary.images, 80);
    let sink = Sink::open(&dir.sqlite())?;
    rows_match_truth(&sink, &made)?;
    let drawn: usize = made.iter().map(|m| m.objects.len()).sum();
    assert_eq!(
        sink.count(&objects_table())?,
        drawn as u64,
        "no object twice"
    );
    Ok(())
}

/// A copy won somewhere, the run did not wait for the 5 s straggler, and
/// every row is there.
fn copies_won_and_rows_complete(
    client: &Client,
    report: &RunReport,
    dir: &TempDir,
    made: &[SyntheticImage],
) -> Result<(), Failed> {
    let status = client.status()?;
    assert!(status.copied >= 1 && status.copies_won >= 1, "{status:?}");
    assert!(
        report.elapsed < Duration::from_secs(5),
        "{:?}",
        report.elapsed
    );
    rows_match_truth(&Sink::open(&dir.sqlite())?, made)
}

fn a_slow_workers_tasks_are_copied_and_won_elsewhere() -> Result<(), Failed> {
    let dir = TempDir::new("speculate");
    let made = synthetic::generate(dir.join("in"), 24, 256, 41)?;
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .speculation(Some(
            Speculation::new(3.0).min_runtime(Duration::from_millis(100)),
        ))
        .start()?;
    let slow = cluster.worker_pids()[0];
    let client = cluster.client()?;
    let report = Pipeline::new(&input_of(&dir.join("in")))
        .db(&dir.sqlite())
        .detector(format!("test:sleep_ms=10,slow_pid={slow},slow_ms=5000").parse()?)
        .progress(false)
        .run(&client)?;
    assert_eq!(report.summary.analysed, 24);
    copies_won_and_rows_complete(&client, &report, &dir, &made)
}

fn in_process_speculation_copies_to_another_in_process_worker() -> Result<(), Failed> {
    let dir = TempDir::new("speculate-in-process");
    let made = synthetic::generate(dir.join("in"), 12, 128, 51)?;
    let options = SchedulerOptions::new().speculation(Some(
        Speculation::new(3.0).min_runtime(Duration::from_millis(50)),
    ));
    let client = Client::in_process_with(options, 2, 1)?;
    // The first image detected takes 5 s; its copy, on the other worker,
    // is the tag's second call and takes 5 ms.
    let report = Pipeline::new(&input_of(&dir.join("in")))
        .db(&dir.sqlite())
        .detector("test:sleep_ms=5,first_ms=5000,tag=in-process-copy".parse()?)
        .progress(false)
        .run(&client)?;
    assert_eq!(report.summary.analysed, 12);
    copies_won_and_rows_complete(&client, &report, &dir, &made)
}

fn results_go_to_postgresql_once_per_key() -> Result<(), Failed> {
    let dir = TempDir::new("postgres");
    let made = synthetic::generate(dir.join("in"), 30, 256, 61)?;
    let server = LocalPostgres::start(dir.join("pg"))?;
    let client = Client::in_process(2)?;
    let pipeline = Pipeline::new(&input_of(&dir.join("in")))
        .db(&server.url())
        .batch_rows(7)
        .progress(false);
    let first = pipeline.run(&client)?;
    let again = pipeline.run(&client)?;
    let counts = |r: &RunReport| {
        let s = &r.summary;
        (
            s.images,
            s.analysed,
            s.failed,
            s.objects,
            s.objects_per_image,
        )
    };
    assert_eq!(counts(&first), counts(&again));
    assert_eq!(
        first.summary.objects,
        made.iter().map(|m| m.objects.len() as u64).sum::<u64>()
    );
    assert!(first.database.starts_with("PostgreSQL"));
    let sink = Sink::open(&server.url())?;
    rows_match_truth(&sink, &made)?;
    Ok(())
}

fn main() {
    flotilla_cluster::worker_if_asked();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "known_objects_are_found_with_their_boxes",
            known_objects_are_found_with_their_boxes,
        ),
        Trial::test(
            "corrupt_images_are_failed_rows_and_the_run_goes_on",
            corrupt_images_are_failed_rows_and_the_run_goes_on,
        ),
        Trial::test(
            "an_interrupted_run_resumes_doing_only_the_missing_images",
            an_interrupted_run_resumes_doing_only_the_missing_images,
        ),
        Trial::test(
            "a_killed_worker_leaves_the_rows_complete_and_unduplicated",
            a_killed_worker_leaves_the_rows_complete_and_unduplicated,
        ),
        Trial::test(
            "a_slow_workers_tasks_are_copied_and_won_elsewhere",
            a_slow_workers_tasks_are_copied_and_won_elsewhere,
        ),
        Trial::test(
            "in_process_speculation_copies_to_another_in_process_worker",
            in_process_speculation_copies_to_another_in_process_worker,
        ),
        Trial::test(
            "results_go_to_postgresql_once_per_key",
            results_go_to_postgresql_once_per_key,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
