//! `flotilla images`: the image-processing case study from the command
//! line — a folder of PNG/JPEG images analysed in-process, on a local
//! cluster of worker processes, or on a running cluster, rows written to
//! SQLite or PostgreSQL, checkpointed so that a re-run (after Ctrl-C, a
//! crash, or new images) does only what is missing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use flotilla::cluster::{Client, LocalCluster, SchedulerOptions, Speculation};
use flotilla_images::{
    list_images, synthetic, DetectorSpec, Pipeline, Preprocess, RunReport, Settings,
};

use crate::json::{line, Json};

#[derive(clap::Args, Debug)]
pub(crate) struct ImagesArgs {
    /// The images: a folder (walked for .png, .jpg and .jpeg files), a
    /// pattern in its last part (`photos/*.jpg`) or one file.
    #[arg(long)]
    input: String,
    /// Where the rows go: sqlite:PATH (created if missing) or
    /// postgres://USER@HOST:PORT/DB. Tables: images, objects, summary.
    #[arg(long, default_value = "sqlite:images.db")]
    db: String,
    /// Run on the cluster whose scheduler listens here (its workers must
    /// run this same binary: `flotilla worker`).
    #[arg(long, value_name = "ADDR", conflicts_with = "workers")]
    scheduler: Option<String>,
    /// Run on a local cluster of this many worker processes (copies of this
    /// binary) instead of in this process.
    #[arg(long)]
    workers: Option<usize>,
    /// Threads: of this process when in-process (default: one per core),
    /// of each worker with --workers (default 1).
    #[arg(long)]
    threads: Option<usize>,
    /// Keep every image's result in this folder: a re-run reads them back
    /// and analyses only new or changed images.
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,
    /// Copy an image's task that runs FACTOR times longer than the others
    /// (default 2) onto another worker; the first result is kept. With
    /// --scheduler, speculation is the scheduler's setting
    /// (`flotilla scheduler --speculate`).
    #[arg(long, value_name = "FACTOR", num_args = 0..=1, default_missing_value = "2")]
    speculate: Option<f64>,
    /// The detector: a registered name, optionally with parameters
    /// (threshold:min_area=12,min_contrast=50,threshold=150).
    #[arg(long, default_value = "threshold")]
    detector: String,
    /// The longest side, in pixels, images are shrunk to before detection.
    #[arg(long, default_value_t = 256)]
    working_size: u32,
    /// The box filter's radius smoothing the grey channel (0: none).
    #[arg(long, default_value_t = 1)]
    denoise: u32,
    /// Times a task whose worker was lost is run again.
    #[arg(long, default_value_t = 3)]
    retries: u32,
    /// When --input is a folder holding no images: first write this many
    /// synthetic 512×512 images with known objects into it.
    #[arg(long, value_name = "N")]
    synthetic: Option<usize>,
    /// Print the run's figures as one JSON line instead of text.
    #[arg(long)]
    json: bool,
    /// Write an HTML run report there: the task stream of every worker
    /// thread, utilization, durations per kind of task, the scheduler's
    /// retries and copies.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

pub(crate) fn run_images(args: &ImagesArgs) -> anyhow::Result<()> {
    if let Some(n) = args.synthetic {
        if list_images(&args.input).is_err() {
            synthetic::generate(&args.input, n, 512, 2026)
                .with_context(|| format!("writing synthetic images into {}", args.input))?;
            eprintln!("wrote {n} synthetic images into {}", args.input);
        }
    }
    let settings = Settings {
        preprocess: Preprocess {
            working_size: args.working_size,
            denoise_radius: args.denoise,
        },
        detector: args.detector.parse::<DetectorSpec>()?,
    };
    let speculation = args.speculate.map(Speculation::new);
    if let Some(path) = &args.report {
        crate::report::prepare(path)?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let stop_on_signal = Arc::clone(&stop);
    let presses = AtomicU32::new(0);
    ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) > 0 {
            eprintln!("\nstopped at once");
            std::process::exit(130);
        }
        eprintln!("\nstopping: recording what is done (Ctrl-C again to quit at once)");
        stop_on_signal.store(true, Ordering::SeqCst);
    })
    .context("installing the Ctrl-C handler")?;

    let mut pipeline = Pipeline::new(&args.input)
        .db(&args.db)
        .settings(settings)
        .retries(args.retries)
        .stop_when(stop);
    if let Some(dir) = &args.checkpoint {
        pipeline = pipeline.checkpoint(dir);
    }
    // The engine: a running cluster, a local one, or this process.
    let (report, engine) = if let Some(addr) = &args.scheduler {
        if speculation.is_some() {
            bail!(
                "--speculate with --scheduler: speculation is the scheduler's setting; start it \
                 with `flotilla scheduler --speculate`"
            );
        }
        let client = Client::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        (
            run_recorded(&pipeline, &client, args)?,
            format!("the cluster at {addr}"),
        )
    } else if let Some(n) = args.workers {
        let cluster = LocalCluster::builder()
            .workers(n)
            .threads_per_worker(args.threads.unwrap_or(1))
            .speculation(speculation)
            .start()
            .context("starting the local cluster")?;
        let client = cluster.client()?;
        (
            run_recorded(&pipeline, &client, args)?,
            format!("a local cluster of {n} worker processes"),
        )
    } else {
        let threads = args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        // With speculation, one worker per thread, so that a copy has
        // another worker to go to.
        let client = match speculation {
            Some(s) => {
                Client::in_process_with(SchedulerOptions::new().speculation(Some(s)), threads, 1)?
            }
            None => Client::in_process(threads)?,
        };
        (
            run_recorded(&pipeline, &client, args)?,
            format!("this process ({threads} threads)"),
        )
    };
    if args.json {
        println!("{}", json_line(args, &report, &engine));
    } else {
        print_report(&report, &engine, args.checkpoint.is_some());
    }
    if report.interrupted {
        bail!(
            "interrupted after {} images{}",
            report.summary.images,
            if args.checkpoint.is_some() {
                "; run again with the same --checkpoint to go on"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// Runs `pipeline` on `client`'s cluster, and writes the run report when
/// `--report` asks for one (also of a run that was interrupted).
fn run_recorded(
    pipeline: &Pipeline,
    client: &Client,
    args: &ImagesArgs,
) -> anyhow::Result<RunReport> {
    let Some(path) = &args.report else {
        return Ok(pipeline.run(client)?);
    };
    let recorder = client
        .record()
        .context("starting the scheduler's record for the report")?;
    let report = pipeline.run(client)?;
    let trace = recorder
        .trace(&format!("flotilla images {}", args.input))
        .context("reading the scheduler's record for the report")?;
    crate::report::write(path, flotilla::dashboard::report::render(&trace))?;
    eprintln!("report: {}", path.display());
    Ok(report)
}

fn metric(report: &RunReport, name: &str) -> f64 {
    report
        .summary
        .metrics()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map_or(0.0, |(_, v)| v)
}

fn print_report(report: &RunReport, engine: &str, checkpointed: bool) {
    let s = &report.summary;
    println!(
        "images: {} ({} analysed, {} failed) in {:.2} s on {engine}: {:.1} images/s",
        s.images,
        s.analysed,
        s.failed,
        report.elapsed.as_secs_f64(),
        report.images_per_second()
    );
    println!(
        "objects: {} ({:.2} per image; by count 0/1/2/3/4/5+: {:?}); area median {} px, 90th percentile {} px",
        s.objects,
        metric(report, "objects_per_image_mean"),
        s.objects_per_image,
        metric(report, "area_median"),
        metric(report, "area_p90"),
    );
    println!(
        "features: vegetation index {:.3}, edge density {:.4}, brightness {:.1} (means)",
        metric(report, "vegetation_mean"),
        metric(report, "edge_density_mean"),
        metric(report, "brightness_mean"),
    );
    if checkpointed {
        println!(
            "checkpoint: {} results read back, {} computed",
            report.loaded, report.computed
        );
    }
    println!(
        "results: {} (tables images, objects, summary)",
        report.database
    );
}

fn json_line(args: &ImagesArgs, report: &RunReport, engine: &str) -> String {
    let s = &report.summary;
    line(&[
        ("command", Json::from("images")),
        ("input", Json::from(args.input.as_str())),
        ("engine", Json::from(engine)),
        ("images", Json::Int(s.images as i64)),
        ("analysed", Json::Int(s.analysed as i64)),
        ("failed", Json::Int(s.failed as i64)),
        ("objects", Json::Int(s.objects as i64)),
        ("loaded", Json::Int(report.loaded as i64)),
        ("computed", Json::Int(report.computed as i64)),
        ("seconds", Json::Num(report.elapsed.as_secs_f64())),
        ("images_per_second", Json::Num(report.images_per_second())),
        ("interrupted", Json::Int(i64::from(report.interrupted))),
    ])
}
