//! `flotilla mapreduce`: Hadoop-streaming-style jobs from the shell, any
//! commands as mapper, combiner and reducer (see
//! `flotilla::mapreduce::streaming` for what happens to the records).

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use flotilla::cluster::Client;
use flotilla::mapreduce::streaming::{StreamingError, StreamingJob};
use flotilla::output::{OutputError, WriteMode};
use flotilla::CpuPool;

/// Arguments of `flotilla mapreduce`.
#[derive(clap::Args, Debug)]
pub(crate) struct MapReduceArgs {
    /// Input files, folders or globs (`data/part-*.txt`); gzip files are read whole.
    #[arg(long, value_name = "PATH", required = true, num_args = 1..)]
    input: Vec<String>,
    /// The output folder: must not exist, or be empty (see --overwrite). Gets `part-NNNNN` files,
    /// `_SUCCESS`, and `_logs/` with what commands wrote to stderr. A failed job leaves it as it was.
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    /// Replace a previous flotilla output in the output folder (its part files, `_SUCCESS`,
    /// `_logs/`) once the job succeeded; a folder holding anything else is still refused.
    #[arg(long)]
    overwrite: bool,
    /// The map command (run with `sh -c`): reads input lines, writes `key<TAB>value` lines.
    /// Commands get the input's bytes as they are: run text tools with `LC_ALL=C` for byte-oriented
    /// work (in a UTF-8 locale, `grep` skips lines it takes for binary and only says so on stderr).
    #[arg(long, value_name = "CMD")]
    mapper: String,
    /// The combine command, run on each map task's output sorted by key.
    #[arg(long, value_name = "CMD")]
    combiner: Option<String>,
    /// The reduce command: reads `key<TAB>value` lines sorted by key.
    #[arg(long, value_name = "CMD")]
    reducer: String,
    /// Reduce tasks, hence part files [default: the workers].
    #[arg(long, value_name = "N")]
    reducers: Option<usize>,
    /// Megabytes per input split, hence per map task.
    #[arg(long, value_name = "N", default_value_t = 32)]
    split_mb: u64,
    /// Tries per task before the job fails.
    #[arg(long, value_name = "N", default_value_t = 3)]
    attempts: usize,
    /// Worker threads, hence commands running at once [default: the cores].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Megabytes of map output held in memory (over all running tasks) before spilling to disk.
    #[arg(long, value_name = "N", default_value_t = 512)]
    memory_mb: usize,
    /// Leave out the splits whose map task failed on every attempt instead of failing the job.
    #[arg(long)]
    skip_failed_splits: bool,
    /// Run on the cluster of this scheduler (HOST:PORT) instead of in this process: the
    /// commands, the inputs and the output folder must be at the same paths on every worker.
    /// The token and TLS files come from FLOTILLA_TOKEN and FLOTILLA_TLS_*.
    #[arg(long, value_name = "ADDR", conflicts_with = "workers")]
    scheduler: Option<String>,
    /// Write an HTML run report there: the map, combine and reduce tasks
    /// on every worker thread over time, utilization, durations per kind.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

pub(crate) fn run_mapreduce(args: &MapReduceArgs) -> anyhow::Result<()> {
    if args.workers == Some(0) {
        bail!("--workers must be at least 1");
    }
    if args.split_mb == 0 {
        bail!("--split-mb must be at least 1");
    }
    let mut job = StreamingJob::new(&args.mapper, &args.reducer)
        .split_bytes(args.split_mb.saturating_mul(1 << 20))
        .attempts(args.attempts)
        .memory_budget(args.memory_mb.saturating_mul(1 << 20))
        .skip_failed_splits(args.skip_failed_splits)
        .write_mode(if args.overwrite {
            WriteMode::Overwrite
        } else {
            WriteMode::ErrorIfNotEmpty
        });
    if let Some(combiner) = &args.combiner {
        job = job.combiner(combiner);
    }
    if let Some(reducers) = args.reducers {
        job = job.reducers(reducers);
    }
    if let Some(path) = &args.report {
        crate::report::prepare(path)?;
    }
    let title = format!("flotilla mapreduce {}", args.input.join(" "));
    let (ran, trace) = match &args.scheduler {
        Some(addr) => {
            let client = Client::connect(addr)
                .with_context(|| format!("connecting to the scheduler at {addr}"))?;
            let recorder = match args.report {
                Some(_) => Some(client.record().context("starting the scheduler's record")?),
                None => None,
            };
            let ran = job.run_on(&client, &args.input, &args.output);
            let trace = match recorder {
                Some(r) => Some(r.trace(&title).context("reading the scheduler's record")?),
                None => None,
            };
            (ran, trace)
        }
        None => {
            let mut pool = CpuPool::builder().name("mapreduce");
            if let Some(workers) = args.workers {
                pool = pool.threads(workers);
            }
            let pool = pool.build().context("starting the worker threads")?;
            let recorder = args.report.as_ref().map(|_| pool.record());
            let ran = job.run(&pool, &args.input, &args.output);
            (ran, recorder.map(|r| r.trace(&title)))
        }
    };
    // Written whether the job succeeded or not: a report of a failed run
    // shows where it failed.
    if let (Some(path), Some(trace)) = (&args.report, trace) {
        crate::report::write(path, flotilla::dashboard::report::render(&trace))?;
        eprintln!("report: {}", path.display());
    }
    let report = ran.map_err(|e| match e {
        StreamingError::Output(OutputError::NotEmpty { path }) => anyhow!(
            "output folder {} already exists and is not empty: use a new or empty folder, \
                 or --overwrite to replace a previous flotilla output",
            path.display()
        ),
        e => anyhow::Error::new(e).context("the streaming job failed"),
    })?;
    eprintln!("{report}");
    Ok(())
}
