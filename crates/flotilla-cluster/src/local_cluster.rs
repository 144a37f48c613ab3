//! A cluster on this machine: a scheduler on a thread of this process and
//! worker processes of this very binary, on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flotilla_core::Placement;

use crate::client::Client;
use crate::error::ClusterError;
use crate::protocol::Token;
use crate::scheduler::{SchedulerOptions, SchedulerServer};
use crate::tls::{Tls, TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV, TLS_NAME_ENV};
use crate::worker::{run_worker, WorkerOptions};

/// The environment variable that makes a process of a binary that calls
/// [`worker_if_asked`] a worker of the scheduler it names.
///
/// ```
/// assert_eq!(flotilla_cluster::WORKER_ENV, "FLOTILLA_WORKER");
/// ```
pub const WORKER_ENV: &str = "FLOTILLA_WORKER";

/// The number of threads such a worker runs tasks on (default: one per core).
pub const WORKER_THREADS_ENV: &str = "FLOTILLA_WORKER_THREADS";

/// The tasks such a worker hands its threads ahead of time (see
/// [`WorkerOptions::prefetch`]).
pub const WORKER_PREFETCH_ENV: &str = "FLOTILLA_WORKER_PREFETCH";

/// Turns this process into a cluster worker when asked, and never
/// returns then: when `FLOTILLA_WORKER=ADDR` is set, or the first
/// arguments are `--flotilla-worker ADDR`, it serves the scheduler at
/// `ADDR` (with `FLOTILLA_WORKER_THREADS` threads and the token of
/// `FLOTILLA_TOKEN`) and exits when the scheduler goes away. Otherwise it
/// returns at once.
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
    let from_flag = {
        let mut args = std::env::args().skip(1);
        match (args.next().as_deref(), args.next()) {
            (Some("--flotilla-worker"), Some(addr)) => Some(addr),
            _ => None,
        }
    };
    let Some(addr) = from_flag.or_else(|| std::env::var(WORKER_ENV).ok()) else {
        return;
    };
    let mut options = WorkerOptions::new();
    if let Some(n) = std::env::var(WORKER_THREADS_ENV)
        .ok()
        .and_then(|t| t.parse().ok())
    {
        options = options.threads(n);
    }
    if let Some(n) = std::env::var(WORKER_PREFETCH_ENV)
        .ok()
        .and_then(|t| t.parse().ok())
    {
        options = options.prefetch(n);
    }
    match Tls::from_env() {
        Ok(tls) => options = options.tls(tls),
        Err(e) => {
            eprintln!("flotilla worker: {e}");
            std::process::exit(1)
        }
    }
    match run_worker(&addr, options) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("flotilla worker: {e}");
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
}

impl Spawner {
    fn spawn(&self) -> Result<Child, ClusterError> {
        let mut command = Command::new(&self.exe);
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
}

impl LocalClusterBuilder {
    /// Worker processes to start (default 2).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// The worker processes it will start.
    pub fn worker_count(&self) -> usize {
        self.workers
    }

    /// Threads of each worker (default: the cores divided among them).
    pub fn threads_per_worker(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }

    /// The scheduler's placement policy (default work stealing).
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
        self
    }

    /// How long a worker may stay silent before the scheduler removes it
    /// (default as [`SchedulerOptions::worker_timeout`]).
    pub fn worker_timeout(mut self, timeout: Duration) -> Self {
        self.worker_timeout = Some(timeout);
        self
    }

    /// Starts a new worker process whenever one exits (default off): a
    /// crash costs the task it was running, not a worker.
    pub fn replace_lost_workers(mut self, replace: bool) -> Self {
        self.replace_lost = replace;
        self
    }

    /// Tasks each worker hands its threads ahead of time (see
    /// [`WorkerOptions::prefetch`](crate::WorkerOptions::prefetch)).
    pub fn prefetch(mut self, tasks: usize) -> Self {
        self.prefetch = Some(tasks);
        self
    }

    /// Retries every task gets after an error or a panic (default 0;
    /// a call's own `retries` wins when higher).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// After how many lost workers a task that was running on each of them
    /// fails instead of being run again (the scheduler's default, 3, when
    /// not given).
    pub fn suspicious_after(mut self, workers: u32) -> Self {
        self.suspicious_after = Some(workers.max(1));
        self
    }

    /// How long to wait for every worker to register (default 60 s).
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

    /// Starts the scheduler and the workers, and waits until every worker
    /// has registered.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] when the scheduler cannot listen or a worker
    /// cannot start; [`ClusterError::Config`] when a worker exits or does
    /// not register in time (every process started is stopped then).
    pub fn start(self) -> Result<LocalCluster, ClusterError> {
        let token = Token::random()?;
        let mut options = SchedulerOptions::new()
            .listen("127.0.0.1:0")
            .placement(self.placement)
            .token(Some(token.clone()))
            .tls(self.tls.clone())
            .retries(self.retries);
        if let Some(t) = self.worker_timeout {
            options = options.worker_timeout(t);
        }
        if let Some(n) = self.suspicious_after {
            options = options.suspicious_after(n);
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
        for _ in 0..self.workers {
            let child = cluster.spawner.spawn()?;
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
    pub fn new(workers: usize) -> Result<LocalCluster, ClusterError> {
        LocalCluster::builder().workers(workers).start()
    }

    /// A builder with the defaults of [`LocalCluster::new`]`(2)`.
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
        }
    }

    /// The scheduler's address.
    pub fn addr(&self) -> SocketAddr {
        self.scheduler
            .as_ref()
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |s| s.addr())
    }

    /// The cluster's token (to connect other clients or workers).
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// A client of this cluster.
    ///
    /// # Errors
    ///
    /// As [`Client::connect`].
    pub fn client(&self) -> Result<Client, ClusterError> {
        Client::connect_tls(
            &self.addr().to_string(),
            Some(self.token.clone()),
            self.tls.clone(),
        )
    }

    /// The process ids of the workers started.
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
                    for child in lock(&workers).iter_mut() {
                        let Ok(Some(status)) = child.try_wait() else {
                            continue;
                        };
                        if stopping.load(Ordering::Acquire) {
                            return;
                        }
                        match spawner.spawn() {
                            Ok(fresh) => {
                                eprintln!(
                                    "flotilla: worker process {} exited ({status}); started {} in its place",
                                    child.id(),
                                    fresh.id()
                                );
                                *child = fresh;
                            }
                            Err(e) => {
                                eprintln!("flotilla: a worker process exited and none could replace it: {e}")
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
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
