//! `flotilla scheduler`, `flotilla worker` and `flotilla status`: the
//! processes of a cluster, and a look at one.

use std::path::PathBuf;

use anyhow::{bail, Context};
use flotilla::cluster::{
    parse_resource, parse_size, Client, ClusterError, SchedulerOptions, SchedulerServer,
    Speculation, Tls, Token, WorkerOptions,
};
use flotilla::Placement;

/// Arguments of `flotilla scheduler`.
#[derive(clap::Args, Debug)]
pub(crate) struct SchedulerArgs {
    /// The address to listen on, HOST:PORT. Beyond loopback a token is
    /// required; without one, a fresh one is written to --token-file.
    #[arg(long, default_value = "127.0.0.1:8786")]
    listen: String,
    /// The placement policy (work-stealing, central-queue, round-robin,
    /// block, block-cyclic:B, random:SEED, least-loaded-of-two:SEED).
    #[arg(long, default_value = "work-stealing")]
    policy: Placement,
    /// The file holding the token every worker and client must prove
    /// (default: FLOTILLA_TOKEN; when listening beyond loopback without
    /// either, a token is generated into this file, default `flotilla-token`).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Copy a task that runs FACTOR times longer than the others of its
    /// kind (default 2) onto another worker with a thread to spare; the
    /// first result is kept, the other attempt stopped. `flotilla status`
    /// counts the copies.
    #[arg(long, value_name = "FACTOR", num_args = 0..=1, default_missing_value = "2")]
    speculate: Option<f64>,
    /// Serve the live dashboard (workers, progress per kind, the task
    /// stream, memory) and Prometheus metrics (/metrics) at this address.
    /// When the default address is taken, the scheduler runs without one
    /// and says so.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_DASHBOARD)]
    dashboard: String,
    /// Serve no dashboard.
    #[arg(long, conflicts_with = "dashboard")]
    no_dashboard: bool,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Where `flotilla scheduler` serves its dashboard unless told otherwise.
const DEFAULT_DASHBOARD: &str = "127.0.0.1:8787";

/// The TLS options of every process of a cluster.
#[derive(clap::Args, Debug)]
pub(crate) struct TlsArgs {
    /// Encrypt connections with TLS: the authority's certificate (PEM).
    /// Give all three files, here or in FLOTILLA_TLS_CA, FLOTILLA_TLS_CERT
    /// and FLOTILLA_TLS_KEY; `flotilla tls-certs DIR` makes a set.
    #[arg(long, requires_all = ["tls_cert", "tls_key"])]
    tls_ca: Option<PathBuf>,
    /// The cluster's certificate (PEM), signed by the authority.
    #[arg(long, requires_all = ["tls_ca", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The private key of the cluster's certificate (PEM).
    #[arg(long, requires_all = ["tls_ca", "tls_cert"])]
    tls_key: Option<PathBuf>,
    /// The name the certificate carries (default: FLOTILLA_TLS_NAME, else
    /// `flotilla`).
    #[arg(long)]
    tls_name: Option<String>,
}

impl TlsArgs {
    /// The TLS set-up the flags or the environment give, if any.
    fn tls(&self) -> anyhow::Result<Option<Tls>> {
        let tls = match (&self.tls_ca, &self.tls_cert, &self.tls_key) {
            (Some(ca), Some(cert), Some(key)) => Some(Tls::from_files(ca, cert, key)?),
            _ => Tls::from_env()?,
        };
        Ok(match (tls, &self.tls_name) {
            (Some(tls), Some(name)) => Some(tls.with_name(name)?),
            (Some(tls), None) => Some(tls),
            (None, Some(_)) => {
                bail!("--tls-name needs the TLS files (--tls-ca, --tls-cert, --tls-key)")
            }
            (None, None) => None,
        })
    }
}

/// Arguments of `flotilla tls-certs`.
#[derive(clap::Args, Debug)]
pub(crate) struct TlsCertsArgs {
    /// The folder to write ca.pem, cert.pem and key.pem into (created if
    /// missing; the key readable by this user only).
    dir: PathBuf,
}

/// Arguments of `flotilla worker`.
#[derive(clap::Args, Debug)]
pub(crate) struct WorkerArgs {
    /// The scheduler's address, HOST:PORT.
    scheduler: String,
    /// Threads that run tasks (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// The memory this worker may use: bytes, or with a unit (512M, 4G);
    /// default 80% of the machine's. Results held above 60% of it spill to
    /// --spill-dir; above 80% in resident memory no new task starts.
    #[arg(long, value_parser = parse_size)]
    memory_limit: Option<u64>,
    /// Where results spill above the memory limit (default: the system's
    /// temporary folder).
    #[arg(long)]
    spill_dir: Option<PathBuf>,
    /// A folder on this machine's own disks (may be given several times):
    /// tasks that read input files under it run here when they can.
    #[arg(long, value_name = "DIR")]
    local_data: Vec<PathBuf>,
    /// Named resources this worker offers, NAME=AMOUNT, comma-separated (gpu=1).
    #[arg(long, value_delimiter = ',', value_parser = parse_resource)]
    resources: Vec<(String, u64)>,
    /// The file holding the cluster's token (default: FLOTILLA_TOKEN).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Serve this worker's own dashboard and Prometheus metrics (/metrics)
    /// at this address, HOST:PORT (port 0: a free one): its threads' task
    /// stream, tasks per kind, its memory and spilled results.
    #[arg(long, value_name = "ADDR")]
    dashboard: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Arguments of `flotilla status`.
#[derive(clap::Args, Debug)]
pub(crate) struct StatusArgs {
    /// The scheduler's address, HOST:PORT.
    scheduler: String,
    /// The file holding the cluster's token (default: FLOTILLA_TOKEN).
    #[arg(long)]
    token_file: Option<PathBuf>,
    #[command(flatten)]
    tls: TlsArgs,
}

fn token(file: &Option<PathBuf>) -> anyhow::Result<Option<Token>> {
    Ok(match file {
        Some(path) if path.exists() => Some(Token::from_file(path)?),
        Some(path) => bail!("the token file {} does not exist", path.display()),
        None => Token::from_env(),
    })
}

pub(crate) fn run_scheduler(args: &SchedulerArgs) -> anyhow::Result<()> {
    let mut options = SchedulerOptions::new()
        .listen(&args.listen)
        .placement(args.policy)
        .speculation(args.speculate.map(Speculation::new))
        .tls(args.tls.tls()?);
    match &args.token_file {
        Some(path) if path.exists() => options = options.token(Some(Token::from_file(path)?)),
        Some(path) => options = options.token(Token::from_env()).token_file(path.clone()),
        None => {}
    }
    let dashboard = (!args.no_dashboard).then(|| args.dashboard.clone());
    let server = match SchedulerServer::start(options.clone().dashboard(dashboard)) {
        // Another scheduler (or anything) holds the default address: this
        // one runs without a dashboard rather than not at all.
        Err(ClusterError::Dashboard { addr, message }) if addr == DEFAULT_DASHBOARD => {
            flotilla::log::warn(
                "scheduler",
                &format!(
                    "no dashboard: {addr} cannot be served ({message}); give --dashboard ADDR"
                ),
            );
            SchedulerServer::start(options)
        }
        other => other,
    }
    .context("the scheduler could not start")?;
    flotilla::log::info(
        "scheduler",
        &format!("listening on {} ({} placement)", server.addr(), args.policy),
    );
    if let Some(at) = server.dashboard_addr() {
        flotilla::log::info("scheduler", &format!("dashboard at http://{at}/"));
    }
    server.wait();
    Ok(())
}

pub(crate) fn run_worker(args: &WorkerArgs) -> anyhow::Result<()> {
    let mut options = WorkerOptions::new()
        .token(token(&args.token_file)?)
        .tls(args.tls.tls()?);
    if let Some(n) = args.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        options = options.threads(n);
    }
    if let Some(bytes) = args.memory_limit {
        options = options.memory_limit(bytes);
    }
    if let Some(dir) = &args.spill_dir {
        options = options.spill_dir(dir.clone());
    }
    for dir in &args.local_data {
        options = options.local_data(dir.clone());
    }
    for (name, amount) in &args.resources {
        options = options.resource(name, *amount);
    }
    options = options.dashboard(args.dashboard.clone());
    flotilla::log::info(
        "worker",
        &format!(
            "serving {} with {} threads",
            args.scheduler,
            options.thread_count()
        ),
    );
    flotilla::cluster::run_worker(&args.scheduler, options)
        .with_context(|| format!("the worker of {} stopped", args.scheduler))
}

pub(crate) fn run_status(args: &StatusArgs) -> anyhow::Result<()> {
    let client = Client::connect_tls(&args.scheduler, token(&args.token_file)?, args.tls.tls()?)?;
    let status = client.status()?;
    println!(
        "scheduler {}: {} workers",
        args.scheduler,
        status.workers.len()
    );
    println!(
        "{:>6}  {:<32} {:>8} {:>8} {:>8} {:>9} {:>9} {:>13} {:>10} {:>13} {:>12} {:>11}",
        "worker",
        "name",
        "threads",
        "queued",
        "tasks",
        "busy (s)",
        "idle (s)",
        "results (MB)",
        "held (MB)",
        "spilled (MB)",
        "memory (MB)",
        "limit (MB)"
    );
    let mb =
        |bytes: Option<u64>| bytes.map_or("-".to_string(), |b| format!("{:.1}", b as f64 / 1e6));
    for w in &status.workers {
        println!(
            "{:>6}  {:<32} {:>8} {:>8} {:>8} {:>9.1} {:>9.1} {:>13.1} {:>10.1} {:>13.1} {:>12} {:>11}{}",
            w.id,
            w.name,
            w.threads,
            w.queued,
            w.tasks,
            w.busy_micros as f64 / 1e6,
            w.idle_micros() as f64 / 1e6,
            w.result_bytes as f64 / 1e6,
            w.held_bytes as f64 / 1e6,
            w.spilled_bytes as f64 / 1e6,
            mb(w.memory_used),
            mb(w.memory_limit),
            if w.paused {
                "  paused: memory over 80% of its limit"
            } else {
                ""
            }
        );
    }
    println!(
        "tasks: {} waiting, {} ready or running, {} finished, {} failed or cancelled",
        status.waiting, status.ready_or_running, status.finished, status.failed
    );
    if status.copied > 0 {
        println!(
            "speculative copies: {} launched, {} finished first",
            status.copied, status.copies_won
        );
    }
    Ok(())
}

pub(crate) fn run_tls_certs(args: &TlsCertsArgs) -> anyhow::Result<()> {
    let tls = Tls::generate(&args.dir)?;
    println!(
        "wrote {}, {} and {} (for the name {:?}); give every process of the cluster \
         --tls-ca, --tls-cert and --tls-key with them",
        tls.ca_file().display(),
        tls.cert_file().display(),
        tls.key_file().display(),
        tls.name()
    );
    Ok(())
}
