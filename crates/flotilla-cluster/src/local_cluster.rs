//! A cluster on this machine: a scheduler on a thread of this process and
//! worker processes of this very binary, on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flotilla_core::{Placement, Speculation};

use crate::client::Client;
use crate::error::ClusterError;
use crate::protocol::Token;
use crate::scheduler::{SchedulerOptions, SchedulerServer};
use crate::tls::{Tls, TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV, TLS_NAME_ENV};
use crate::worker::worker_options;
use crate::worker::{run_worker, WORKER_LOCAL_DATA_ENV, WORKER_MEMORY_LIMIT_ENV};
#[cfg(doc)]
use crate::worker::{WorkerOptions, WORKER_RESOURCES_ENV};

/// The environment variable that makes a process of a binary that calls
/// [`worker_if_asked`] a worker of the scheduler it names.
///
/// ```
/// assert_eq!(flotilla_cluster::WORKER_ENV, "FLOTILLA_WORKER");
/// ```
pub const WORKER_ENV: &str = "FLOTILLA_WORKER";

/// The number of threads such a worker runs tasks on (default: one per core).
///
/// ```
/// use std::process::Command;
///
/// use flotilla_cluster::{WORKER_ENV, WORKER_THREADS_ENV};
///
/// assert_eq!(WORKER_THREADS_ENV, "FLOTILLA_WORKER_THREADS");
/// // A worker of this binary with 4 threads, to start by hand (not started here).
/// let mut worker = Command::new(std::env::current_exe().unwrap());
/// worker.env(WORKER_ENV, "10.0.0.1:8786").env(WORKER_THREADS_ENV, "4");
/// assert!(worker.get_envs().any(|(k, v)| k == WORKER_THREADS_ENV && v == Some("4".as_ref())));
/// ```
pub const WORKER_THREADS_ENV: &str = "FLOTILLA_WORKER_THREADS";

/// The tasks such a worker hands its threads ahead of time (see
/// [`WorkerOptions::prefetch`]).
///
/// ```
/// use std::process::Command;
///
/// use flotilla_cluster::{WORKER_ENV, WORKER_PREFETCH_ENV};
///
/// assert_eq!(WORKER_PREFETCH_ENV, "FLOTILLA_WORKER_PREFETCH");
/// // A worker that takes one task at a time, as a process pool's do (not started here).
/// let mut worker = Command::new(std::env::current_exe().unwrap());
/// worker.env(WORKER_ENV, "10.0.0.1:8786").env(WORKER_PREFETCH_ENV, "0");
/// assert!(worker.get_envs().any(|(k, v)| k == WORKER_PREFETCH_ENV && v == Some("0".as_ref())));
/// ```
pub const WORKER_PREFETCH_ENV: &str = "FLOTILLA_WORKER_PREFETCH";

/// Turns this process into a cluster worker when asked, and never
/// returns then: when `FLOTILLA_WORKER=ADDR` is set, or the first
/// arguments are `--flotilla-worker ADDR`, it serves the scheduler at
/// `ADDR` and exits when the scheduler goes away. Otherwise it returns at
/// once.
///
/// Such a worker takes the options of `flotilla worker`, as flags after
/// the address — `--threads N`, `--memory-limit SIZE`, `--resources
/// gpu=1,...`, `--prefetch N`, `--token-file PATH`, `--tls-ca`,
/// `--tls-cert`, `--tls-key`, `--tls-name` — or from the environment
/// ([`WORKER_THREADS_ENV`], [`WORKER_MEMORY_LIMIT_ENV`],
/// [`WORKER_RESOURCES_ENV`], [`WORKER_PREFETCH_ENV`], `FLOTILLA_TOKEN`,
/// [`TLS_CA_ENV`] and the other TLS variables); flags win. A bad option
/// ends the process with its message and exit code 2.
///
/// Call it first thing in `main` of a binary whose `#[remote]` functions
/// should run on a cluster: workers started from that binary (by
/// [`LocalCluster`], or by hand, SSH or a batch system) know its
/// functions.
///
/// ```no_run
/// fn main() {
///     flotilla_cluster::worker_if_asked();
///     // ... the program, which may start a LocalCluster of itself.
/// }
/// ```
pub fn worker_if_asked() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, flags) = match args.as_slice() {
        [first, addr, flags @ ..] if first == "--flotilla-worker" => (addr.clone(), flags),
        _ => match std::env::var(WORKER_ENV) {
            Ok(addr) => (addr, &[][..]),
            Err(_) => return,
        },
    };
    let options = match worker_options(flags, |name| std::env::var(name).ok()) {
        Ok(options) => options,
        Err(e) => {
            flotilla_local::log::warn("worker", &e.to_string());
            std::process::exit(2)
        }
    };
    match run_worker(&addr, options) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            flotilla_local::log::warn("worker", &e.to_string());
            std::process::exit(1)
        }
    }
}

/// A scheduler and `n` worker processes of the current binary on
/// loopback, with a fresh token; dropping it (also while a panic unwinds)
/// kills and reaps every worker and stops the scheduler.
///
/// The binary must call [`worker_if_asked`] first thing in `main`, so
/// that its copies become workers.
///
/// ```no_run
/// use flotilla_cluster::{remote, LocalCluster};
///
/// #[remote(crate = flotilla_cluster)]
/// fn square(x: u64) -> u64 { x * x }
///
/// fn main() {
///     flotilla_cluster::worker_if_asked();
///     let cluster = LocalCluster::new(2).unwrap();
///     let client = cluster.client().unwrap();
///     let squares = client.map(square::REMOTE, (0..100u64,)).unwrap();
///     let total: u64 = client.gather(&squares).unwrap().iter().sum();
///     assert_eq!(total, 328_350);
/// }
/// ```
#[derive(Debug)]
pub struct LocalCluster {
    workers: Arc<Mutex<Vec<Child>>>,
    spawner: Spawner,
    token: Token,
    tls: Option<Tls>,
    scheduler: Option<SchedulerServer>,
    /// Set when the cluster stops, so that the supervisor replaces no one.
    stopping: Arc<AtomicBool>,
    supervisor: Option<JoinHandle<()>>,
}

/// How a worker process of this binary is started.
#[derive(Debug, Clone)]
struct Spawner {
    exe: PathBuf,
    scheduler: String,
    threads: usize,
    prefetch: Option<usize>,
    token: Token,
    tls: Option<Tls>,
    memory_limit: u64,
    /// The folders each worker (by number) holds on its own disks.
    local_data: Vec<(usize, PathBuf)>,
}

impl Spawner {
    /// Starts worker number `n` (a replacement takes the number of the
    /// worker it replaces).
    fn spawn(&self, n: usize) -> Result<Child, ClusterError> {
        let mut command = Command::new(&self.exe);
        let folders = self.local_data.iter().filter(|(w, _)| *w == n);
        match std::env::join_paths(folders.map(|(_, dir)| dir)) {
            Ok(joined) if !joined.is_empty() => {
                command.env(WORKER_LOCAL_DATA_ENV, joined);
            }
            Ok(_) => {
                command.env_remove(WORKER_LOCAL_DATA_ENV);
            }
            Err(e) => {
                return Err(ClusterError::io(
                    "listing a worker's local data folders",
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
                ))
            }
        }
        if let Some(n) = self.prefetch {
            command.env(WORKER_PREFETCH_ENV, n.to_string());
        }
        match &self.tls {
            Some(tls) => {
                command.envs(tls.env_vars());
            }
            None => {
                for var in [TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV, TLS_NAME_ENV] {
                    command.env_remove(var);
                }
            }
        }
        command
            .env(WORKER_ENV, &self.scheduler)
            .env(WORKER_THREADS_ENV, self.threads.to_string())
            .env(WORKER_MEMORY_LIMIT_ENV, self.memory_limit.to_string())
            .env("FLOTILLA_TOKEN", self.token.expose())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| ClusterError::io(format!("starting a worker ({})", self.exe.display()), e))
    }
}

fn lock(workers: &Mutex<Vec<Child>>) -> MutexGuard<'_, Vec<Child>> {
    workers.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a [`LocalCluster`] starts.
///
/// ```
/// let b = flotilla_cluster::LocalCluster::builder().workers(3).threads_per_worker(2);
/// assert_eq!(b.worker_count(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct LocalClusterBuilder {
    workers: usize,
    threads: Option<usize>,
    placement: Placement,
    startup: Duration,
    worker_timeout: Option<Duration>,
    replace_lost: bool,
    retries: u32,
    suspicious_after: Option<u32>,
    prefetch: Option<usize>,
    tls: Option<Tls>,
    memory_limit: Option<u64>,
    local_data: Vec<(usize, PathBuf)>,
    speculation: Option<Speculation>,
    #[cfg_attr(not(feature = "dashboard"), allow(dead_code))]
    dashboard: Option<String>,
}

impl LocalClusterBuilder {
    /// Worker processes to start (default 2).
    ///
    /// ```
    /// use flotilla_cluster::LocalCluster;
    ///
    /// let builder = LocalCluster::builder().workers(4);
    /// assert_eq!(builder.worker_count(), 4);
    /// ```
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// The worker processes it will start.
    ///
    /// ```
    /// use flotilla_cluster::LocalCluster;
    ///
    /// assert_eq!(LocalCluster::builder().worker_count(), 2, "the default");
    /// assert_eq!(LocalCluster::builder().workers(8).worker_count(), 8);
    /// ```
    pub fn worker_count(&self) -> usize {
        self.workers
    }

    /// Threads of each worker (default: the cores divided among them).
    ///
    /// ```no_run
    /// use flotilla_cluster::LocalCluster;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::builder().workers(2).threads_per_worker(3).start()?;
    ///     let status = cluster.client()?.status()?;
    ///     assert!(status.workers.iter().all(|w| w.threads == 3));
    ///     Ok(())
    /// }
    /// ```
    pub fn threads_per_worker(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }

    /// The memory limit of each worker, in bytes (default: 80% of the
    /// machine's memory divided among the workers). Results a worker
    /// holds above 60% of it spill to local files.
    ///
    /// ```no_run
    /// flotilla_cluster::worker_if_asked();
    /// let cluster = flotilla_cluster::LocalCluster::builder()
    ///     .workers(2)
    ///     .memory_limit(512 << 20)
    ///     .start()
    ///     .unwrap();
    /// let status = cluster.client().unwrap().status().unwrap();
    /// assert_eq!(status.workers[0].memory_limit, Some(512 << 20));
    /// ```
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Worker number `n` (from 0; a replacement of it too) holds `dir` on
    /// its own disks ([`WorkerOptions::local_data`]): tasks that read
    /// files under it go to that worker when they can. On one machine every
    /// worker can read every file; this lets a program (or a test) lay out
    /// its inputs as a cluster of machines would.
    ///
    /// ```no_run
    /// flotilla_cluster::worker_if_asked();
    /// let cluster = flotilla_cluster::LocalCluster::builder()
    ///     .workers(2)
    ///     .local_data(0, "/data/disk0")
    ///     .local_data(1, "/data/disk1")
    ///     .start()
    ///     .unwrap();
    /// let status = cluster.client().unwrap().status().unwrap();
    /// assert_eq!(status.workers.len(), 2);
    /// ```
    pub fn local_data(mut self, n: usize, dir: impl Into<PathBuf>) -> Self {
        self.local_data.push((n, dir.into()));
        self
    }

    /// Speculative copies of stragglers on the scheduler (default off):
    /// see [`SchedulerOptions::speculation`].
    ///
    /// ```
    /// use flotilla_cluster::{LocalCluster, Speculation};
    /// let _builder = LocalCluster::builder().speculation(Some(Speculation::new(3.0)));
    /// ```
    pub fn speculation(mut self, speculation: Option<Speculation>) -> Self {
        self.speculation = speculation;
        self
    }

    /// The scheduler's placement policy (default work stealing).
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, LocalCluster, Placement};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::builder().placement(Placement::RoundRobin).start()?;
    ///     let client = cluster.client()?;
    ///     let squares = client.map(square::REMOTE, (0..4u64,))?;
    ///     assert_eq!(client.gather(&squares)?, [0, 1, 4, 9]);
    ///     Ok(())
    /// }
    /// ```
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
        self
    }

    /// How long a worker may stay silent before the scheduler removes it
    /// (default as [`SchedulerOptions::worker_timeout`]).
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// use flotilla_cluster::LocalCluster;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     // A worker silent for 2 s (stopped, or its machine lost) is removed.
    ///     let cluster = LocalCluster::builder()
    ///         .worker_timeout(Duration::from_secs(2))
    ///         .start()?;
    ///     assert_eq!(cluster.client()?.status()?.workers.len(), 2);
    ///     Ok(())
    /// }
    /// ```
    pub fn worker_timeout(mut self, timeout: Duration) -> Self {
        self.worker_timeout = Some(timeout);
        self
    }

    /// Starts a new worker process whenever one exits (default off): a
    /// crash costs the task it was running, not a worker.
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// use flotilla_cluster::LocalCluster;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let mut cluster = LocalCluster::builder().workers(2).replace_lost_workers(true).start()?;
    ///     let before = cluster.worker_pids();
    ///     cluster.kill_worker(0)?;
    ///     std::thread::sleep(Duration::from_secs(1));
    ///     let after = cluster.worker_pids();
    ///     assert_eq!(after.len(), 2);
    ///     assert!(!after.contains(&before[0]), "a fresh process took its place");
    ///     Ok(())
    /// }
    /// ```
    pub fn replace_lost_workers(mut self, replace: bool) -> Self {
        self.replace_lost = replace;
        self
    }

    /// Tasks each worker hands its threads ahead of time (see
    /// [`WorkerOptions::prefetch`](crate::WorkerOptions::prefetch)).
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, LocalCluster};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     // Every queued task stays movable between workers.
    ///     let cluster = LocalCluster::builder().prefetch(0).start()?;
    ///     let client = cluster.client()?;
    ///     let squares = client.map(square::REMOTE, (0..4u64,))?;
    ///     assert_eq!(client.gather(&squares)?, [0, 1, 4, 9]);
    ///     Ok(())
    /// }
    /// ```
    pub fn prefetch(mut self, tasks: usize) -> Self {
        self.prefetch = Some(tasks);
        self
    }

    /// Retries every task gets after an error or a panic (default 0;
    /// a call's own `retries` wins when higher).
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, LocalCluster};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn fetch_page(url: String) -> String {
    ///     // Something that fails now and then: a network call, a busy resource.
    ///     format!("contents of {url}")
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::builder().retries(3).start()?;
    ///     let client = cluster.client()?;
    ///     let page = client.submit(fetch_page::call("https://example.org".to_string()))?;
    ///     assert_eq!(page.result()?, "contents of https://example.org");
    ///     Ok(())
    /// }
    /// ```
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// After how many lost workers a task that was running on each of them
    /// fails instead of being run again (the scheduler's default, 3, when
    /// not given).
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, ClusterError, LocalCluster};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn crash(x: u64) -> u64 {
    ///     if x == 0 {
    ///         std::process::abort(); // takes its worker down with it
    ///     }
    ///     x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::builder()
    ///         .workers(2)
    ///         .replace_lost_workers(true)
    ///         .suspicious_after(1)
    ///         .start()?;
    ///     let client = cluster.client()?;
    ///     // After one lost worker the task fails instead of killing another.
    ///     let result = client.submit(crash::call(0))?.result();
    ///     assert!(matches!(result, Err(ClusterError::Task { .. })));
    ///     Ok(())
    /// }
    /// ```
    pub fn suspicious_after(mut self, workers: u32) -> Self {
        self.suspicious_after = Some(workers.max(1));
        self
    }

    /// How long to wait for every worker to register (default 60 s).
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// use flotilla_cluster::LocalCluster;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::builder()
    ///         .workers(16)
    ///         .startup_timeout(Duration::from_secs(120))
    ///         .start()?;
    ///     assert_eq!(cluster.worker_pids().len(), 16);
    ///     Ok(())
    /// }
    /// ```
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup = timeout;
        self
    }

    /// Encrypts every connection of the cluster with `tls`: the
    /// scheduler's, the workers' (given the same files through the
    /// environment) and its clients' (default none).
    ///
    /// ```no_run
    /// use flotilla_cluster::{LocalCluster, Tls};
    /// flotilla_cluster::worker_if_asked();
    /// let tls = Tls::generate(&std::env::temp_dir().join("flotilla-tls")).unwrap();
    /// let cluster = LocalCluster::builder().workers(2).tls(tls).start().unwrap();
    /// let _client = cluster.client().unwrap(); // over TLS too
    /// ```
    pub fn tls(mut self, tls: Tls) -> LocalClusterBuilder {
        self.tls = Some(tls);
        self
    }

    /// Serves the scheduler's live dashboard and metrics at `addr`
    /// (`host:port`, port 0 for a free one; default none; see
    /// [`SchedulerOptions::dashboard`]). With the `dashboard` feature.
    ///
    /// ```no_run
    /// use flotilla_cluster::LocalCluster;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::builder().dashboard("127.0.0.1:0").start()?;
    ///     println!("dashboard at http://{}/", cluster.dashboard_addr().unwrap());
    ///     Ok(())
    /// }
    /// ```
    #[cfg(feature = "dashboard")]
    pub fn dashboard(mut self, addr: &str) -> LocalClusterBuilder {
        self.dashboard = Some(addr.to_string());
        self
    }

    /// Starts the scheduler and the workers, and waits until every worker
    /// has registered.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] when the scheduler cannot listen or a worker
    /// cannot start; [`ClusterError::Config`] when a worker exits or does
    /// not register in time (every process started is stopped then).
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, LocalCluster};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::builder().workers(3).threads_per_worker(1).start()?;
    ///     let client = cluster.client()?;
    ///     assert_eq!(client.status()?.workers.len(), 3, "all registered");
    ///     assert_eq!(client.submit(add::call(1, 2))?.result()?, 3);
    ///     Ok(())
    /// }
    /// ```
    pub fn start(self) -> Result<LocalCluster, ClusterError> {
        let token = Token::random()?;
        let mut options = SchedulerOptions::new()
            .listen("127.0.0.1:0")
            .placement(self.placement)
            .token(Some(token.clone()))
            .tls(self.tls.clone())
            .retries(self.retries)
            .speculation(self.speculation);
        if let Some(t) = self.worker_timeout {
            options = options.worker_timeout(t);
        }
        if let Some(n) = self.suspicious_after {
            options = options.suspicious_after(n);
        }
        #[cfg(feature = "dashboard")]
        {
            options = options.dashboard(self.dashboard.clone());
        }
        let scheduler = SchedulerServer::start(options)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = self
            .threads
            .unwrap_or_else(|| (cores / self.workers.max(1)).max(1));
        let exe = std::env::current_exe()
            .map_err(|e| ClusterError::io("finding this program's path", e))?;
        let spawner = Spawner {
            exe,
            scheduler: scheduler.addr().to_string(),
            threads,
            prefetch: self.prefetch,
            token: token.clone(),
            tls: self.tls.clone(),
            memory_limit: self.memory_limit.unwrap_or_else(|| {
                let machine = crate::worker::machine_memory().unwrap_or(8 << 30);
                machine * 4 / 5 / self.workers.max(1) as u64
            }),
            local_data: self.local_data,
        };
        let mut cluster = LocalCluster {
            workers: Arc::new(Mutex::new(Vec::new())),
            spawner,
            token,
            tls: self.tls,
            scheduler: Some(scheduler),
            stopping: Arc::new(AtomicBool::new(false)),
            supervisor: None,
        };
        for n in 0..self.workers {
            let child = cluster.spawner.spawn(n)?;
            lock(&cluster.workers).push(child);
        }
        cluster.wait_for_workers(self.workers, self.startup)?;
        if self.replace_lost {
            cluster.supervise()?;
        }
        Ok(cluster)
    }
}

impl LocalCluster {
    /// A scheduler and `workers` worker processes with the cores divided
    /// among them.
    ///
    /// # Errors
    ///
    /// As [`LocalClusterBuilder::start`].
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, LocalCluster};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::new(2)?;
    ///     let client = cluster.client()?;
    ///     let sums = client.map(add::REMOTE, (0..3, 10..13))?;
    ///     assert_eq!(client.gather(&sums)?, [10, 12, 14]);
    ///     Ok(())
    /// }
    /// ```
    pub fn new(workers: usize) -> Result<LocalCluster, ClusterError> {
        LocalCluster::builder().workers(workers).start()
    }

    /// A builder with the defaults of [`LocalCluster::new`]`(2)`.
    ///
    /// ```
    /// use flotilla_cluster::LocalCluster;
    ///
    /// let builder = LocalCluster::builder();
    /// assert_eq!(builder.worker_count(), 2);
    /// ```
    pub fn builder() -> LocalClusterBuilder {
        LocalClusterBuilder {
            workers: 2,
            threads: None,
            placement: Placement::WorkStealing,
            startup: Duration::from_secs(60),
            worker_timeout: None,
            replace_lost: false,
            retries: 0,
            suspicious_after: None,
            prefetch: None,
            tls: None,
            memory_limit: None,
            local_data: Vec::new(),
            speculation: None,
            dashboard: None,
        }
    }

    /// The scheduler's address.
    ///
    /// ```no_run
    /// use flotilla_cluster::{Client, LocalCluster};
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::new(2)?;
    ///     assert!(cluster.addr().ip().is_loopback());
    ///     // Another client, as `cluster.client()` makes one.
    ///     let client = Client::connect_with(&cluster.addr().to_string(), Some(cluster.token().clone()))?;
    ///     assert_eq!(client.status()?.workers.len(), 2);
    ///     Ok(())
    /// }
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.scheduler
            .as_ref()
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |s| s.addr())
    }

    /// Where the scheduler's dashboard is served, when it serves one (see
    /// [`LocalClusterBuilder::dashboard`]).
    ///
    /// ```no_run
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = flotilla_cluster::LocalCluster::new(1)?;
    ///     assert_eq!(cluster.dashboard_addr(), None);
    ///     Ok(())
    /// }
    /// ```
    pub fn dashboard_addr(&self) -> Option<SocketAddr> {
        self.scheduler
            .as_ref()
            .and_then(SchedulerServer::dashboard_addr)
    }

    /// The cluster's token (to connect other clients or workers).
    ///
    /// ```no_run
    /// use flotilla_cluster::{Client, LocalCluster};
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::new(2)?;
    ///     let addr = cluster.addr().to_string();
    ///     assert!(Client::connect_with(&addr, None).is_err(), "the cluster wants its token");
    ///     assert!(Client::connect_with(&addr, Some(cluster.token().clone())).is_ok());
    ///     Ok(())
    /// }
    /// ```
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// A client of this cluster.
    ///
    /// # Errors
    ///
    /// As [`Client::connect`].
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, LocalCluster};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::new(2)?;
    ///     let client = cluster.client()?;
    ///     assert_eq!(client.submit(add::call(1, 2))?.result()?, 3);
    ///     Ok(())
    /// }
    /// ```
    pub fn client(&self) -> Result<Client, ClusterError> {
        Client::connect_tls(
            &self.addr().to_string(),
            Some(self.token.clone()),
            self.tls.clone(),
        )
    }

    /// The process ids of the workers started.
    ///
    /// ```no_run
    /// use flotilla_cluster::LocalCluster;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let cluster = LocalCluster::new(3)?;
    ///     let pids = cluster.worker_pids();
    ///     assert_eq!(pids.len(), 3);
    ///     assert!(!pids.contains(&std::process::id()), "separate processes");
    ///     Ok(())
    /// }
    /// ```
    pub fn worker_pids(&self) -> Vec<u32> {
        lock(&self.workers).iter().map(Child::id).collect()
    }

    /// Kills worker `n` at once (SIGKILL), as a crash would: the scheduler
    /// notices the connection close and moves its work elsewhere.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] for a worker that does not exist;
    /// [`ClusterError::Io`] when it cannot be killed.
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, ClusterError, LocalCluster};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let mut cluster = LocalCluster::new(2)?;
    ///     let client = cluster.client()?;
    ///     let squares = client.map(square::REMOTE, (0..100u64,))?;
    ///     cluster.kill_worker(0)?;
    ///     // Its work moves to the other worker: the results all come.
    ///     assert_eq!(client.gather(&squares)?.len(), 100);
    ///     assert!(matches!(cluster.kill_worker(7), Err(ClusterError::Config(_))));
    ///     Ok(())
    /// }
    /// ```
    pub fn kill_worker(&mut self, n: usize) -> Result<(), ClusterError> {
        let mut workers = lock(&self.workers);
        let child = workers
            .get_mut(n)
            .ok_or_else(|| ClusterError::Config(format!("there is no worker {n}")))?;
        child
            .kill()
            .map_err(|e| ClusterError::io(format!("killing worker {n}"), e))?;
        let _ = child.wait();
        Ok(())
    }

    /// Watches the workers from a thread of its own and starts a new one
    /// for each that exits.
    fn supervise(&mut self) -> Result<(), ClusterError> {
        let workers = Arc::clone(&self.workers);
        let stopping = Arc::clone(&self.stopping);
        let spawner = self.spawner.clone();
        let thread = std::thread::Builder::new()
            .name("flotilla-local-cluster".into())
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    for (n, child) in lock(&workers).iter_mut().enumerate() {
                        let Ok(Some(status)) = child.try_wait() else {
                            continue;
                        };
                        if stopping.load(Ordering::Acquire) {
                            return;
                        }
                        match spawner.spawn(n) {
                            Ok(fresh) => {
                                flotilla_local::log::warn(
                                    "cluster",
                                    &format!(
                                        "worker process {} exited ({status}); started {} in its place",
                                        child.id(),
                                        fresh.id()
                                    ),
                                );
                                *child = fresh;
                            }
                            Err(e) => {
                                flotilla_local::log::warn(
                                    "cluster",
                                    &format!("a worker process exited and none could replace it: {e}"),
                                )
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
            .map_err(|e| ClusterError::io("starting the worker supervisor", e))?;
        self.supervisor = Some(thread);
        Ok(())
    }

    fn wait_for_workers(&mut self, n: usize, timeout: Duration) -> Result<(), ClusterError> {
        let workers = Arc::clone(&self.workers);
        let client = self.client()?;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            if client.status()?.workers.len() >= n {
                return Ok(());
            }
            for (i, child) in lock(&workers).iter_mut().enumerate() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(ClusterError::Config(format!(
                        "worker {i} exited ({status}) before registering: does this program call \
                         flotilla's worker_if_asked() first thing in main?"
                    )));
                }
            }
            if Instant::now() >= deadline {
                return Err(ClusterError::Config(format!(
                    "{n} workers did not all register within {timeout:?}"
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Release);
        if let Some(t) = self.supervisor.take() {
            let _ = t.join();
        }
        // The scheduler first: its workers see the connection close and
        // exit on their own; whatever is left is killed.
        self.scheduler.take();
        let mut workers = lock(&self.workers);
        for child in workers.iter_mut() {
            let _ = child.kill();
        }
        for child in workers.iter_mut() {
            let _ = child.wait();
        }
    }
}
