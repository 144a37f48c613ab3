//! The worker process: runs the tasks the scheduler gives it on the
//! in-process engine, holds their results, and serves them to whoever
//! needs them.
//!
//! ```text
//!  scheduler ──Run──► queue ──(up to 2 × threads at a time)──► CpuPool threads
//!      ▲                │ GiveUp takes from here                     │
//!      └── Started / Finished / Failed (batched) ◄── store ◄─────────┘
//!                                                  │
//!                       other workers, clients ◄───┘ data server (Fetch)
//! ```
//!
//! Tasks wait in the worker's own queue, and only a few more than it has
//! threads are on the pool at once: what is still queued can be given up
//! to an idle worker when the scheduler asks, and among the tasks on the
//! pool the threads balance by local work stealing, at in-process cost.

mod args;
#[cfg(feature = "dashboard")]
mod dashboard;
mod memory;
mod run;
mod store;

pub(crate) use args::worker_options;
pub use args::{
    parse_resource, parse_size, WORKER_LOCAL_DATA_ENV, WORKER_MEMORY_LIMIT_ENV,
    WORKER_RESOURCES_ENV, WORKER_SPILL_DIR_ENV,
};
pub(crate) use memory::machine_bytes as machine_memory;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use flotilla_local::CpuPool;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::error::ClusterError;
use crate::fetch::Fetcher;
use crate::protocol::messages::{
    DataReply, DataRequest, SchedulerMessage, Vitals, WorkerInfo, WorkerMessage,
};
use crate::protocol::{accept, connect, FrameWriter, Role, Token, CHUNK_BYTES, MAX_FRAME_BYTES};
use crate::tls::Tls;
use crate::transport;
use run::Prepared;
use store::Store;

/// How a worker runs.
///
/// ```
/// use flotilla_cluster::WorkerOptions;
/// let o = WorkerOptions::new().threads(4).resource("gpu", 1).memory_limit(1 << 30);
/// assert_eq!(o.thread_count(), 4);
/// ```
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    threads: usize,
    memory_limit: Option<u64>,
    resources: Vec<(String, u64)>,
    token: Option<Token>,
    prefetch: Option<usize>,
    tls: Option<Tls>,
    spill_dir: Option<std::path::PathBuf>,
    local_data: Vec<std::path::PathBuf>,
    /// Where its dashboard and metrics are served, if anywhere.
    dashboard: Option<String>,
    /// When the scheduler goes: wait for the tasks already running (an
    /// in-process worker, whose threads outlive it otherwise) rather than
    /// leave them to the process's exit.
    pub(crate) finish_running: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions::new()
    }
}

impl WorkerOptions {
    /// One thread per core, no memory limit or resources, the token of
    /// `FLOTILLA_TOKEN` if set.
    ///
    /// ```
    /// assert!(flotilla_cluster::WorkerOptions::new().thread_count() >= 1);
    /// ```
    pub fn new() -> WorkerOptions {
        WorkerOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_limit: None,
            resources: Vec::new(),
            token: Token::from_env(),
            prefetch: None,
            tls: None,
            spill_dir: None,
            local_data: Vec::new(),
            dashboard: None,
            finish_running: false,
        }
    }

    /// Threads that run tasks.
    ///
    /// ```
    /// use flotilla_cluster::WorkerOptions;
    ///
    /// assert_eq!(WorkerOptions::new().threads(8).thread_count(), 8);
    /// assert_eq!(WorkerOptions::new().threads(0).thread_count(), 1, "at least one");
    /// ```
    pub fn threads(mut self, n: usize) -> WorkerOptions {
        self.threads = n.max(1);
        self
    }

    /// The threads that will run tasks.
    ///
    /// ```
    /// use flotilla_cluster::WorkerOptions;
    ///
    /// let options = WorkerOptions::new().threads(3);
    /// assert_eq!(options.thread_count(), 3);
    /// ```
    pub fn thread_count(&self) -> usize {
        self.threads
    }

    /// The memory this worker may use, in bytes (default: 80% of the
    /// machine's). Results it holds above 60% of it are written to local
    /// files ([`WorkerOptions::spill_dir`]) and read back when needed;
    /// above 80% in resident memory it starts no new task until memory
    /// falls.
    ///
    /// ```
    /// use flotilla_cluster::{run_worker, Client, SchedulerOptions, SchedulerServer, WorkerOptions};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let scheduler =
    ///     SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0").token(None))?;
    /// let addr = scheduler.addr().to_string();
    /// let options = WorkerOptions::new().threads(1).memory_limit(1 << 30).token(None);
    /// let at = addr.clone();
    /// std::thread::spawn(move || run_worker(&at, options));
    ///
    /// let client = Client::connect_with(&addr, None)?;
    /// let mut status = client.status()?;
    /// while status.workers.is_empty() {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    ///     status = client.status()?;
    /// }
    /// assert_eq!(status.workers[0].memory_limit, Some(1 << 30));
    /// # Ok(())
    /// # }
    /// ```
    pub fn memory_limit(mut self, bytes: u64) -> WorkerOptions {
        self.memory_limit = Some(bytes);
        self
    }

    /// A named resource this worker offers (`gpu`, `1`).
    ///
    /// ```
    /// use flotilla_cluster::{
    ///     remote, run_worker, Client, SchedulerOptions, SchedulerServer, WorkerOptions,
    /// };
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn render(frame: u32) -> String {
    ///     format!("frame {frame} rendered")
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let scheduler =
    ///         SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0").token(None))?;
    ///     let addr = scheduler.addr().to_string();
    ///     let options = WorkerOptions::new().threads(1).resource("gpu", 1).token(None);
    ///     let at = addr.clone();
    ///     std::thread::spawn(move || run_worker(&at, options));
    ///
    ///     // Only a worker offering a GPU takes this task.
    ///     let client = Client::connect_with(&addr, None)?;
    ///     let frame = client.submit(render::call(7).resource("gpu", 1))?;
    ///     assert_eq!(frame.result()?, "frame 7 rendered");
    ///     Ok(())
    /// }
    /// ```
    pub fn resource(mut self, name: &str, amount: u64) -> WorkerOptions {
        self.resources.push((name.to_string(), amount));
        self
    }

    /// Tasks handed to the threads ahead of time, beyond one per thread
    /// (default: one per thread), so that a thread never waits for the
    /// network between two tasks. A task handed over can no longer move to
    /// another worker, and dies with this one if it crashes: a process
    /// pool, where a crash must cost only the task that caused it, uses 0.
    ///
    /// ```
    /// let _ = flotilla_cluster::WorkerOptions::new().prefetch(0);
    /// ```
    pub fn prefetch(mut self, tasks: usize) -> WorkerOptions {
        self.prefetch = Some(tasks);
        self
    }

    /// Encrypts this worker's connections with `tls` (default none): to
    /// the scheduler, from and to other workers. The scheduler and every
    /// other process of the cluster must be given the same set-up.
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// # let dir = std::env::temp_dir().join(format!("flotilla-tls-worker-{}", std::process::id()));
    /// let tls = flotilla_cluster::Tls::generate(&dir).unwrap();
    /// let _options = flotilla_cluster::WorkerOptions::new().tls(Some(tls));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    pub fn tls(mut self, tls: Option<Tls>) -> WorkerOptions {
        self.tls = tls;
        self
    }

    /// Serves this worker's own live dashboard at `addr` (`host:port`;
    /// port 0 picks a free one; default none): its threads' task stream,
    /// tasks per kind, the results it holds and has spilled, its queue;
    /// `/metrics` there serves them as Prometheus metrics. With the
    /// `dashboard` feature.
    ///
    /// ```
    /// let options = flotilla_cluster::WorkerOptions::new().dashboard(Some("127.0.0.1:0".into()));
    /// assert_eq!(options.dashboard_address(), Some("127.0.0.1:0"));
    /// ```
    #[cfg(feature = "dashboard")]
    pub fn dashboard(mut self, addr: Option<String>) -> WorkerOptions {
        self.dashboard = addr;
        self
    }

    /// The address [`WorkerOptions::dashboard`] asked for.
    ///
    /// ```
    /// assert_eq!(flotilla_cluster::WorkerOptions::new().dashboard_address(), None);
    /// ```
    pub fn dashboard_address(&self) -> Option<&str> {
        self.dashboard.as_deref()
    }

    /// Where results spilled above the memory limit go (default: the
    /// system's temporary folder); a folder of this worker's own is made
    /// in it, and removed when the worker ends.
    ///
    /// ```
    /// let _options = flotilla_cluster::WorkerOptions::new().spill_dir("/var/tmp".into());
    /// ```
    pub fn spill_dir(mut self, dir: std::path::PathBuf) -> WorkerOptions {
        self.spill_dir = Some(dir);
        self
    }

    /// A folder on this worker's own disks (it may be given several
    /// times): tasks that read files under it
    /// ([`Call::reads`](crate::Call::reads)) are placed on this worker when
    /// they can be. The folder must exist when the worker starts.
    ///
    /// ```
    /// let o = flotilla_cluster::WorkerOptions::new().local_data("/data/disk1".into());
    /// assert_eq!(o.local_folders().len(), 1);
    /// ```
    pub fn local_data(mut self, dir: std::path::PathBuf) -> WorkerOptions {
        self.local_data.push(dir);
        self
    }

    /// The folders given with [`WorkerOptions::local_data`].
    ///
    /// ```
    /// assert!(flotilla_cluster::WorkerOptions::new().local_folders().is_empty());
    /// ```
    pub fn local_folders(&self) -> &[std::path::PathBuf] {
        &self.local_data
    }

    /// The token to prove to the scheduler and to require of fetchers.
    ///
    /// ```
    /// use flotilla_cluster::{
    ///     run_worker, ClusterError, SchedulerOptions, SchedulerServer, Token, WorkerOptions,
    /// };
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let token = Token::random()?;
    /// let scheduler = SchedulerServer::start(
    ///     SchedulerOptions::new().listen("127.0.0.1:0").token(Some(token)),
    /// )?;
    /// let wrong = WorkerOptions::new().token(Some(Token::new("guess")?));
    /// let refused = run_worker(&scheduler.addr().to_string(), wrong);
    /// assert!(matches!(refused, Err(ClusterError::Refused { .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub fn token(mut self, token: Option<Token>) -> WorkerOptions {
        self.token = token;
        self
    }
}

/// What the worker's threads and network tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    store: Mutex<Store>,
    /// No new task starts while set (memory above the pause mark).
    paused: std::sync::atomic::AtomicBool,
    queue: Mutex<Queue>,
    pool: CpuPool,
    /// Tasks on the pool at most.
    slots: usize,
    out: mpsc::UnboundedSender<WorkerMessage>,
    fetcher: Fetcher,
    /// Outcomes (finishes and failures) reported, and written to the
    /// scheduler, in order.
    outcomes: Mutex<Outcomes>,
    outcome_written: Condvar,
    /// A thread waits for its task's outcome to be written before it takes
    /// the next task, so that a crash in the next one cannot lose it.
    careful: bool,
    /// Set when the scheduler is gone: tasks still waiting for a thread
    /// are dropped instead of run.
    stopping: std::sync::atomic::AtomicBool,
    /// Signalled, once `stopping` is set, each time a task leaves the pool.
    left_pool: Condvar,
    /// Whether a dashboard watches the pool (its tasks are then recorded
    /// by the name of their function).
    watched: bool,
}

/// Counts of outcome reports: handed to the writer, and written.
#[derive(Debug, Default)]
struct Outcomes {
    sent: u64,
    written: u64,
}

#[derive(Debug, Default)]
struct Queue {
    ready: VecDeque<Prepared>,
    in_flight: usize,
    /// Tasks whose inputs are being fetched.
    /// (With the number of batches fetching for each: a task given up and
    /// given back may be in two.)
    fetching: HashMap<u32, u32>,
    /// Of those, tasks cancelled meanwhile: dropped when their inputs
    /// arrive.
    cancelled: HashSet<u32>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs a worker of the scheduler at `scheduler` until the scheduler goes
/// away or shuts down.
///
/// # Errors
///
/// [`ClusterError::Io`] when the scheduler cannot be reached,
/// [`ClusterError::Refused`] when it refuses this worker (another build,
/// a wrong or missing token).
///
/// ```
/// use flotilla_cluster::{
///     remote, run_worker, Client, SchedulerOptions, SchedulerServer, WorkerOptions,
/// };
///
/// #[remote(crate = flotilla_cluster)]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let scheduler =
///         SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0").token(None))?;
///     let addr = scheduler.addr().to_string();
///     // Usually a process of its own (`flotilla worker ADDR`); here a thread.
///     let at = addr.clone();
///     let worker =
///         std::thread::spawn(move || run_worker(&at, WorkerOptions::new().threads(2).token(None)));
///
///     let client = Client::connect_with(&addr, None)?;
///     assert_eq!(client.submit(add::call(40, 2))?.result()?, 42);
///
///     // The worker returns once its scheduler is gone.
///     drop(client);
///     drop(scheduler);
///     let _ = worker.join().expect("the worker thread does not panic");
///     Ok(())
/// }
/// ```
pub fn run_worker(scheduler: &str, options: WorkerOptions) -> Result<(), ClusterError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("flotilla-worker-net")
        .enable_all()
        .build()
        .map_err(|e| ClusterError::io("starting the worker's runtime", e))?;
    runtime.block_on(serve(scheduler, options))
}

async fn serve(scheduler: &str, options: WorkerOptions) -> Result<(), ClusterError> {
    let tls = options.tls.as_ref();
    let (mut reader, mut writer, local) = transport::dial(
        scheduler,
        tls,
        format!("the scheduler at {scheduler}"),
        MAX_FRAME_BYTES,
    )
    .await?;
    // The data server listens on the address this machine reaches the
    // scheduler from, which the other workers can reach too.
    let data = TcpListener::bind(SocketAddr::new(local.ip(), 0))
        .await
        .map_err(|e| ClusterError::io(format!("listening on {}", local.ip()), e))?;
    let data_addr = data
        .local_addr()
        .map_err(|e| ClusterError::io("reading the data address", e))?;

    connect(
        &mut reader,
        &mut writer,
        Role::Worker,
        options.token.as_ref(),
    )
    .await
    .map_err(|e| transport::explain_handshake(e, tls))?;
    let limit = memory::resolve_limit(options.memory_limit);
    let mut local_data = Vec::with_capacity(options.local_data.len());
    for dir in &options.local_data {
        let resolved = std::fs::canonicalize(dir)
            .map_err(|e| ClusterError::io(format!("the local data folder {}", dir.display()), e))?;
        local_data.push(resolved.to_string_lossy().into_owned());
    }
    let info = WorkerInfo {
        threads: options.threads as u32,
        memory_bytes: limit,
        resources: options.resources.clone(),
        local_data,
        data_addr: data_addr.to_string(),
        name: format!("{} (pid {})", data_addr.ip(), std::process::id()),
    };
    #[cfg(feature = "dashboard")]
    let info_name = info.name.clone();
    writer.send_now(&WorkerMessage::Register(info)).await?;
    let heartbeat = match reader.expect::<SchedulerMessage>("registration").await? {
        SchedulerMessage::Registered { heartbeat_ms, .. } => {
            Duration::from_millis(heartbeat_ms.max(1))
        }
        other => {
            return Err(ClusterError::Malformed {
                peer: reader.peer().to_string(),
                reason: format!("expected a registration answer, got {other:?}"),
            })
        }
    };

    let pool = CpuPool::with_threads(options.threads).map_err(|e| {
        ClusterError::Config(format!(
            "cannot start {} worker threads: {e}",
            options.threads
        ))
    })?;
    let (out, outgoing) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        store: Mutex::new(Store::new(
            limit.map(|l| memory::mark(l, memory::SPILL_FRACTION)),
            options.spill_dir.clone().unwrap_or_else(std::env::temp_dir),
        )),
        paused: std::sync::atomic::AtomicBool::new(false),
        queue: Mutex::new(Queue::default()),
        pool,
        slots: options.threads + options.prefetch.unwrap_or(options.threads),
        out,
        fetcher: Fetcher::new(options.token.clone(), options.tls.clone()),
        outcomes: Mutex::new(Outcomes::default()),
        outcome_written: Condvar::new(),
        careful: options.prefetch == Some(0),
        stopping: std::sync::atomic::AtomicBool::new(false),
        left_pool: Condvar::new(),
        watched: options.dashboard.is_some(),
    });
    // Served until the worker ends.
    #[cfg(feature = "dashboard")]
    let _dashboard = match &options.dashboard {
        Some(addr) => Some(dashboard::serve(addr, &shared, &info_name)?),
        None => None,
    };
    tokio::spawn(report_loop(writer, outgoing, Arc::clone(&shared)));
    let beats = Arc::clone(&shared);
    let registered = std::time::Instant::now();
    let mut vitals = Vitals::default();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(heartbeat);
        loop {
            tick.tick().await;
            // The store's figures as they were when it was last free: a
            // heartbeat never waits behind a spill or a read-back.
            if let Ok(store) = beats.store.try_lock() {
                let spills = store.stats();
                vitals.held_bytes = store.held_bytes();
                vitals.spilled_bytes = store.spilled_bytes();
                vitals.spill_written = spills.written;
                vitals.spill_read_back = spills.read_back;
            }
            vitals.uptime_micros = registered.elapsed().as_micros() as u64;
            vitals.process_bytes = memory::resident_bytes();
            vitals.peak_process_bytes = memory::peak_resident_bytes();
            vitals.paused = beats.paused.load(std::sync::atomic::Ordering::Relaxed);
            if beats.out.send(WorkerMessage::Heartbeat(vitals)).is_err() {
                return;
            }
        }
    });
    if let Some(limit) = limit {
        tokio::spawn(watch_memory(
            Arc::clone(&shared),
            memory::mark(limit, memory::PAUSE_FRACTION),
        ));
    }
    tokio::spawn(data_server(
        data,
        Arc::clone(&shared),
        options.token.clone(),
        options.tls.clone(),
    ));

    let finish_running = options.finish_running;
    let end = |result: Result<(), ClusterError>| {
        tokio::task::block_in_place(|| run::wind_down(&shared, finish_running));
        result
    };
    loop {
        let message = match reader.recv::<SchedulerMessage>().await {
            Ok(Some(m)) => m,
            // The scheduler went away: this worker's work is over.
            Ok(None) => return end(Ok(())),
            Err(e) => return end(Err(e)),
        };
        match message {
            // Inputs spilled to disk are read back here.
            SchedulerMessage::Run(tasks) => {
                tokio::task::block_in_place(|| run::accept_tasks(&shared, tasks))
            }
            SchedulerMessage::Release(tasks) => {
                let mut store = lock(&shared.store);
                for t in tasks {
                    store.remove(t);
                }
            }
            SchedulerMessage::Cancel(tasks) => run::cancel(&shared, &tasks),
            SchedulerMessage::GiveUp(requests) => run::give_up(&shared, &requests),
            SchedulerMessage::Shutdown => return end(Ok(())),
            SchedulerMessage::Registered { .. } => {}
        }
    }
}

/// Sends the worker's reports, merging what queued up since the last
/// write into one message of each kind.
async fn report_loop(
    mut writer: transport::Writer,
    mut outgoing: mpsc::UnboundedReceiver<WorkerMessage>,
    shared: Arc<Shared>,
) {
    while let Some(first) = outgoing.recv().await {
        let mut started = Vec::new();
        let mut finished = Vec::new();
        let mut failed = Vec::new();
        let mut gave_up = Vec::new();
        let mut beat = None;
        let mut next = Some(first);
        while let Some(m) = next.take() {
            match m {
                WorkerMessage::Started(s) => started.extend(s),
                WorkerMessage::Finished(f) => finished.extend(f),
                WorkerMessage::Failed(f) => failed.extend(f),
                WorkerMessage::GaveUp(g) => gave_up.extend(g),
                WorkerMessage::Heartbeat(memory) => beat = Some(memory),
                WorkerMessage::Register(_) => {}
            }
            if started.len() + finished.len() < 8192 {
                next = outgoing.try_recv().ok();
            }
        }
        let outcomes = (finished.len() + failed.len()) as u64;
        let batch = [
            (!started.is_empty()).then_some(WorkerMessage::Started(started)),
            (!finished.is_empty()).then_some(WorkerMessage::Finished(finished)),
            (!failed.is_empty()).then_some(WorkerMessage::Failed(failed)),
            (!gave_up.is_empty()).then_some(WorkerMessage::GaveUp(gave_up)),
        ];
        let batch = batch
            .into_iter()
            .chain([beat.map(WorkerMessage::Heartbeat)]);
        for m in batch.flatten() {
            if writer.send(&m).await.is_err() {
                return;
            }
        }
        if writer.flush().await.is_err() {
            return;
        }
        if outcomes > 0 {
            lock(&shared.outcomes).written += outcomes;
            shared.outcome_written.notify_all();
        }
    }
}

/// Pauses the worker while its resident memory is above `pause_at` (and
/// pausing can help), spilling what it holds; starts tasks again when it
/// falls.
async fn watch_memory(shared: Arc<Shared>, pause_at: u64) {
    use std::sync::atomic::Ordering;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut said = false;
    loop {
        tick.tick().await;
        if shared.out.is_closed() {
            return;
        }
        let Some(resident) = memory::resident_bytes() else {
            return;
        };
        let over = resident > pause_at;
        if over {
            // Files written on this thread: the runtime moves its other
            // work (heartbeats, fetches) to its other thread meanwhile.
            tokio::task::block_in_place(|| lock(&shared.store).spill_all());
        }
        let running = lock(&shared.queue).in_flight;
        let pause = memory::should_pause(resident, pause_at, running);
        if over && !pause && !said {
            said = true;
            flotilla_local::log::warn(
                "worker",
                &format!(
                    "{} MB resident, over the pause mark of {} MB with its results spilled and no task running: going on, one task at a time while over",
                    resident >> 20,
                    pause_at >> 20
                ),
            );
        }
        let was = shared.paused.swap(pause, Ordering::Relaxed);
        if was && !pause {
            run::pump(&shared);
        }
    }
}

/// Serves results to other workers and clients.
async fn data_server(
    listener: TcpListener,
    shared: Arc<Shared>,
    token: Option<Token>,
    tls: Option<Tls>,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let shared = Arc::clone(&shared);
        let token = token.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let Ok((mut reader, mut writer)) =
                transport::accept(stream, tls.as_ref(), peer.to_string(), MAX_FRAME_BYTES).await
            else {
                return;
            };
            if accept(&mut reader, &mut writer, token.as_ref(), &[Role::Fetcher])
                .await
                .is_err()
            {
                return;
            }
            while let Ok(Some(DataRequest::Fetch { task })) = reader.recv::<DataRequest>().await {
                let value = tokio::task::block_in_place(|| lock(&shared.store).get(task));
                let sent = match value {
                    None => writer.send(&DataReply::Missing { task }).await,
                    Some(bytes) => send_chunks(&mut writer, &bytes).await,
                };
                if sent.is_err() {
                    return;
                }
                // Answer every request that came in one go, then flush once.
                if !reader.has_buffered() && writer.flush().await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn send_chunks<W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut FrameWriter<W>,
    bytes: &[u8],
) -> Result<(), ClusterError> {
    let mut chunks = bytes.chunks(CHUNK_BYTES).peekable();
    if chunks.peek().is_none() {
        return writer
            .send(&DataReply::Chunk {
                bytes: Vec::new(),
                last: true,
            })
            .await;
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        writer
            .send(&DataReply::Chunk {
                bytes: chunk.to_vec(),
                last,
            })
            .await?;
    }
    Ok(())
}
