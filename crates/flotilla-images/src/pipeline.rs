//! The pipeline: every image of an input analysed as one task on the
//! engine a client drives (in-process or a cluster), its rows written as
//! results arrive, checkpointed so a re-run only does what is missing.
//!
//! The scheduler does the scatter-gather: tasks wait in its queue and idle
//! workers pull them (work stealing between workers of different speed),
//! a lost worker's tasks are retried elsewhere, and with speculation a
//! straggling task is copied and the first result kept. This module adds
//! what is particular to the case study: which files, which rows, the
//! progress bar and the summary.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_cluster::{Checkpoint, Client, ClusterFuture};
use flotilla_local::Progress;
use flotilla_sink::{Sink, Value};

use crate::analyze::{analyze_image, ImageInput, ImageOutcome, Settings};
use crate::detect::{make_detector, DetectorSpec};
use crate::error::ImagesError;
use crate::inputs::list_images;
use crate::records::{image_row, images_table, object_rows, objects_table, summary_table, Summary};

/// The version of the analysis itself: bump it when a change alters the
/// results of the same settings, and checkpoints of older runs are redone.
const ANALYSIS_VERSION: &str = "1";

/// A run over a folder of images: which images, where the rows go, how
/// they are analysed, and what makes a re-run cheap.
///
/// ```
/// use flotilla_images::{synthetic, Pipeline};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("flotilla-pipeline-doc-{}", std::process::id()));
/// synthetic::generate(dir.join("in"), 6, 128, 1)?;
/// let client = flotilla_cluster::Client::in_process(2)?;
/// let report = Pipeline::new(dir.join("in").to_str().unwrap())
///     .db(&format!("sqlite:{}", dir.join("out.db").display()))
///     .run(&client)?;
/// assert_eq!(report.summary.analysed, 6);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Pipeline {
    input: String,
    db: String,
    settings: Settings,
    checkpoint: Option<PathBuf>,
    retries: u32,
    progress: bool,
    stop: Option<Arc<AtomicBool>>,
    batch_rows: usize,
}

/// What a run did.
///
/// ```
/// let r = flotilla_images::RunReport::default();
/// assert!(!r.interrupted);
/// ```
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Counts and distributions over the images recorded.
    pub summary: Summary,
    /// Whether the run was stopped before every image was recorded.
    pub interrupted: bool,
    /// Results read back from the checkpoint instead of computed.
    pub loaded: u64,
    /// Results computed (and kept) in this run.
    pub computed: u64,
    /// How long the run took.
    pub elapsed: Duration,
    /// The database written, as messages name it.
    pub database: String,
}

impl RunReport {
    /// Images recorded per second.
    ///
    /// ```
    /// assert_eq!(flotilla_images::RunReport::default().images_per_second(), 0.0);
    /// ```
    pub fn images_per_second(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s == 0.0 {
            0.0
        } else {
            self.summary.images as f64 / s
        }
    }
}

impl Pipeline {
    /// A run over `input`: a folder (walked for PNG and JPEG files), a
    /// pattern in its last part (`photos/*.jpg`) or one file; results to
    /// `images.db` (SQLite) unless [`db`](Pipeline::db) says otherwise.
    ///
    /// ```
    /// let p = flotilla_images::Pipeline::new("photos");
    /// assert_eq!(p.database(), "sqlite:images.db");
    /// ```
    pub fn new(input: &str) -> Pipeline {
        Pipeline {
            input: input.to_string(),
            db: "sqlite:images.db".into(),
            settings: Settings::default(),
            checkpoint: None,
            retries: 3,
            progress: true,
            stop: None,
            batch_rows: 500,
        }
    }

    /// Where the rows go: `sqlite:PATH` or `postgres://…`.
    ///
    /// ```
    /// let p = flotilla_images::Pipeline::new("in").db("postgres://me@db/images");
    /// assert_eq!(p.database(), "postgres://me@db/images");
    /// ```
    pub fn db(mut self, url: &str) -> Pipeline {
        self.db = url.to_string();
        self
    }

    /// The database address.
    ///
    /// ```
    /// assert!(flotilla_images::Pipeline::new("in").database().starts_with("sqlite:"));
    /// ```
    pub fn database(&self) -> &str {
        &self.db
    }

    /// How images are analysed (preprocessing, detector).
    ///
    /// ```
    /// let mut s = flotilla_images::Settings::default();
    /// s.preprocess.working_size = 128;
    /// let _p = flotilla_images::Pipeline::new("in").settings(s);
    /// ```
    pub fn settings(mut self, settings: Settings) -> Pipeline {
        self.settings = settings;
        self
    }

    /// The detector, by registered name (and parameters).
    ///
    /// ```
    /// let _p = flotilla_images::Pipeline::new("in").detector("threshold:min_area=20".parse().unwrap());
    /// ```
    pub fn detector(mut self, spec: DetectorSpec) -> Pipeline {
        self.settings.detector = spec;
        self
    }

    /// Keeps every image's result in `dir`: a re-run (after a crash, a
    /// Ctrl-C, or simply again) reads them back and analyses only the
    /// images that are new or changed (by size or modification time), or
    /// all of them when the settings or the detector's version change.
    ///
    /// ```
    /// let _p = flotilla_images::Pipeline::new("in").checkpoint("ckpt");
    /// ```
    pub fn checkpoint(mut self, dir: impl Into<PathBuf>) -> Pipeline {
        self.checkpoint = Some(dir.into());
        self
    }

    /// How many times a task whose worker was lost is run again (3 unless
    /// set).
    ///
    /// ```
    /// let _p = flotilla_images::Pipeline::new("in").retries(5);
    /// ```
    pub fn retries(mut self, retries: u32) -> Pipeline {
        self.retries = retries;
        self
    }

    /// Whether to draw a progress bar (on a terminal, for runs over a
    /// second, unless `FLOTILLA_NO_PROGRESS` is set); on unless set.
    ///
    /// ```
    /// let _p = flotilla_images::Pipeline::new("in").progress(false);
    /// ```
    pub fn progress(mut self, show: bool) -> Pipeline {
        self.progress = show;
        self
    }

    /// Stops the run once `flag` is set (a Ctrl-C handler sets it): the
    /// images recorded so far stay recorded (and checkpointed), the rest
    /// are cancelled.
    ///
    /// ```
    /// let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    /// let _p = flotilla_images::Pipeline::new("in").stop_when(flag.clone());
    /// ```
    pub fn stop_when(mut self, flag: Arc<AtomicBool>) -> Pipeline {
        self.stop = Some(flag);
        self
    }

    /// Rows per database transaction (500 unless set).
    ///
    /// ```
    /// let _p = flotilla_images::Pipeline::new("in").batch_rows(100);
    /// ```
    pub fn batch_rows(mut self, rows: usize) -> Pipeline {
        self.batch_rows = rows.max(1);
        self
    }

    /// Runs: every image is one task on `client`'s engine; rows are
    /// written as results arrive; the summary is stored last.
    ///
    /// # Errors
    ///
    /// [`ImagesError::Input`] when the input names no images,
    /// [`ImagesError::Detector`] for an unknown detector or bad parameters
    /// (before anything runs), [`ImagesError::Sink`] when the database
    /// cannot be opened or refuses a row (rows written before stay),
    /// [`ImagesError::Cluster`] when the engine is lost. An image that
    /// cannot be read or decoded is not an error: it is a failed row.
    ///
    /// ```no_run
    /// let client = flotilla_cluster::Client::connect("127.0.0.1:7878")?;
    /// let report = flotilla_images::Pipeline::new("/data/photos")
    ///     .db("postgres://me@db/images")
    ///     .checkpoint("/data/ckpt")
    ///     .run(&client)?;
    /// println!("{} images, {} objects", report.summary.images, report.summary.objects);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run(&self, client: &Client) -> Result<RunReport, ImagesError> {
        let started = Instant::now();
        let paths = list_images(&self.input)?;
        let detector = make_detector(&self.settings.detector).map_err(ImagesError::Detector)?;
        let version = format!("{ANALYSIS_VERSION}/{}", detector.version());
        let detector_label = self.settings.detector.to_string();
        let sink = Sink::open(&self.db)?;
        for t in [images_table(), objects_table(), summary_table()] {
            sink.create(&t)?;
        }
        let checkpoint = match &self.checkpoint {
            Some(dir) => Some(Checkpoint::open(dir)?),
            None => None,
        };

        // Scatter: one task per image, each reading its file where it runs.
        let mut unreadable = Vec::new();
        let mut submitted: Vec<(PathBuf, ClusterFuture<ImageOutcome>)> =
            Vec::with_capacity(paths.len());
        for path in paths {
            let input = match ImageInput::of(&path) {
                Ok(i) => i,
                Err(e) => {
                    unreadable.push(ImageOutcome::failed(path, format!("reading: {e}")));
                    continue;
                }
            };
            let mut call = analyze_image::call(input.clone(), self.settings.clone())
                .reads(&input.path)
                .retries(self.retries);
            if let Some(c) = &checkpoint {
                call = call.checkpoint(c).version(&version);
            }
            submitted.push((input.path, client.submit(call)?));
        }
        let (paths, futures): (Vec<PathBuf>, Vec<_>) = submitted.into_iter().unzip();

        // Gather: rows written as results arrive, in batches.
        let mut images = sink.writer(&images_table()).batch_rows(self.batch_rows);
        let mut objects = sink.writer(&objects_table()).batch_rows(self.batch_rows);
        let mut summary = Summary::default();
        let total = (futures.len() + unreadable.len()) as u64;
        let mut bar = Progress::new("images", total, self.progress);
        let mut record = |o: &ImageOutcome, summary: &mut Summary| -> Result<(), ImagesError> {
            images.push(image_row(o, &detector_label))?;
            for row in object_rows(o) {
                objects.push(row)?;
            }
            summary.add(o);
            Ok(())
        };
        for o in &unreadable {
            record(o, &mut summary)?;
        }
        let mut interrupted = false;
        let mut done = client.as_completed(&futures);
        loop {
            // Every result ready by now, fetched together.
            let batch = done.next_batch();
            if batch.is_empty() {
                break;
            }
            let batch_futures: Vec<_> = batch.iter().map(|(_, f)| f.clone()).collect();
            let outcomes: Vec<ImageOutcome> = match client.gather(&batch_futures) {
                Ok(outcomes) => outcomes,
                // Some task failed (a panic in the detector, or out of
                // retries): each is then taken on its own.
                Err(_) => batch
                    .iter()
                    .map(|(i, f)| {
                        f.result().unwrap_or_else(|e| {
                            ImageOutcome::failed(paths[*i].clone(), format!("task failed: {e}"))
                        })
                    })
                    .collect(),
            };
            // What was fetched is recorded, stop or not.
            for outcome in &outcomes {
                record(outcome, &mut summary)?;
            }
            bar.update(summary.images);
            if self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                interrupted = true;
                break;
            }
        }
        bar.finish(summary.images);
        if interrupted {
            for f in futures.iter().filter(|f| !f.done()) {
                let _ = client.cancel(f);
            }
        }
        images.finish()?;
        objects.finish()?;
        // An image that now has fewer objects than an earlier run found
        // keeps no rows of the ones it lost (upserts alone never delete).
        sink.execute(
            "DELETE FROM objects WHERE EXISTS (SELECT 1 FROM images \
             WHERE images.path = objects.path AND objects.object >= images.objects)",
        )?;

        let mut metrics: Vec<Vec<Value>> = summary
            .metrics()
            .into_iter()
            .map(|(name, v)| vec![self.input.as_str().into(), name.into(), v.into()])
            .collect();
        metrics.push(vec![
            self.input.as_str().into(),
            "interrupted".into(),
            f64::from(u8::from(interrupted)).into(),
        ]);
        sink.upsert(&summary_table(), &metrics)?;
        Ok(RunReport {
            summary,
            interrupted,
            loaded: checkpoint.as_ref().map_or(0, Checkpoint::loaded),
            computed: checkpoint.as_ref().map_or(0, Checkpoint::computed),
            elapsed: started.elapsed(),
            database: sink.target().to_string(),
        })
    }
}
