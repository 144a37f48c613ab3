//! The `flotilla` binary: a demo, the data generator and the workload runner.

mod bench;
mod cluster_cmd;
mod demo;
mod gen;
mod images_cmd;
mod json;
mod report;
mod spin;
mod streaming_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// flotilla: parallel and distributed computing for Rust.
#[derive(Parser, Debug)]
#[command(name = "flotilla", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How the scheduler, workers and pools log what happens: text lines
    /// or JSON lines (one object per event: timestamp, level, component,
    /// message), on standard error. Worker processes this command starts
    /// log the same way (FLOTILLA_LOG_FORMAT).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// The format of the log lines.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The variable through which worker processes learn the log format.
const LOG_FORMAT_VARIABLE: &str = "FLOTILLA_LOG_FORMAT";

/// Installs the log subscriber: events at info level and above, on stderr.
fn init_logs(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        // A closed stderr (a parent that stopped reading) must not stop
        // the process: lines that cannot be written are dropped.
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compare load-balancing strategies on skewed work, measured on this machine.
    Demo(demo::DemoArgs),
    /// Write a benchmark data set (ratings, weather, text, items, skew).
    Gen(gen::GenArgs),
    /// Run a benchmark workload (W1-W9; see `flotilla bench --help`) and print JSON lines.
    Bench(bench::BenchArgs),
    /// Run a Hadoop-streaming-style job: shell commands as mapper, combiner and reducer.
    Mapreduce(streaming_cmd::MapReduceArgs),
    /// Run a cluster's scheduler: workers and clients connect to it.
    Scheduler(cluster_cmd::SchedulerArgs),
    /// Run a cluster worker: runs the tasks its scheduler gives it on every core.
    Worker(cluster_cmd::WorkerArgs),
    /// Print a cluster's workers, tasks by state and memory.
    Status(cluster_cmd::StatusArgs),
    /// Write a fresh TLS authority, certificate and key for a cluster.
    TlsCerts(cluster_cmd::TlsCertsArgs),
    /// Analyse a folder of PNG/JPEG images (detect objects, measure
    /// features) into SQLite or PostgreSQL, checkpointed and resumable.
    Images(images_cmd::ImagesArgs),
}

/// Runs the command; an error is printed as its message and the chain of
/// its causes, with exit code 1 — never with a backtrace, whatever
/// `RUST_BACKTRACE` says: a user's mistake is not a crash.
fn main() -> ExitCode {
    // A worker process logs as the command that started it asked.
    let inherited = match std::env::var(LOG_FORMAT_VARIABLE).as_deref() {
        Ok("json") => Some(LogFormat::Json),
        Ok("text") => Some(LogFormat::Text),
        _ => None,
    };
    if let Some(format) = inherited {
        init_logs(format);
    }
    // A copy of this binary started as a cluster worker (by `LocalCluster`,
    // `--runtime cluster`) serves its scheduler and never returns here.
    flotilla::cluster::worker_if_asked();
    let cli = Cli::parse();
    if inherited.is_none() {
        init_logs(cli.log_format);
        // Still one thread: the workers this command starts inherit it.
        std::env::set_var(
            LOG_FORMAT_VARIABLE,
            match cli.log_format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            },
        );
    }
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its chain of causes, each cause said once: many errors
/// already end with their cause's message.
fn message(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Demo(args) => demo::run_demo(&args),
        Command::Gen(args) => {
            let report = gen::run_gen(&args)?;
            eprintln!("{report}");
            Ok(())
        }
        Command::Bench(args) => bench::run_bench(&args),
        Command::Mapreduce(args) => streaming_cmd::run_mapreduce(&args),
        Command::Scheduler(args) => cluster_cmd::run_scheduler(&args),
        Command::Worker(args) => cluster_cmd::run_worker(&args),
        Command::Status(args) => cluster_cmd::run_status(&args),
        Command::TlsCerts(args) => cluster_cmd::run_tls_certs(&args),
        Command::Images(args) => images_cmd::run_images(&args),
    }
}
