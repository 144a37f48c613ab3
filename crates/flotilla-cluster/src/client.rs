//! The client: submits tasks of registered functions to a scheduler and
//! reads their results from the workers that hold them.
//!
//! The API blocks, like the rest of flotilla; a network thread of the
//! client's own carries messages both ways. Submissions queue there and
//! leave in batches, so a loop that submits 100,000 tasks one by one
//! sends a few large frames. Results are fetched from the workers that
//! hold them, one connection per worker, many results per round trip.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::checkpoint;
use crate::error::ClusterError;
use crate::fetch::Fetcher;
use crate::protocol::messages::{
    ClientArg, ClientEvent, ClientMessage, ClusterStatus, Failure, FailureReason, Submit,
};
use crate::protocol::{connect, Role, Token, MAX_FRAME_BYTES};
use crate::registry::{self, Arg, Batch, Call, Remote, SCATTER};
use crate::scheduler::{SchedulerOptions, SchedulerServer};
use crate::tls::Tls;
use crate::transport;
use crate::worker::{run_worker, WorkerOptions};
use crate::Checkpoint;
use flotilla_core::trace::Trace;
use flotilla_core::BatchSizer;
use flotilla_local::Progress;

/// How many times a gather fetches results that vanished with their
/// worker before it gives up.
const MAX_FETCH_ROUNDS: usize = 20;

/// Where a finished task's result is.
#[derive(Debug, Clone)]
struct Location {
    task: u32,
    addr: String,
    /// How long the task ran on its worker, in microseconds.
    micros: u64,
}

#[derive(Debug, Default)]
struct State {
    done: HashMap<u64, Location>,
    failed: HashMap<u64, String>,
    /// Failures' functions and keys, for errors.
    failed_info: HashMap<u64, (String, String)>,
    status: Option<ClusterStatus>,
    /// The answers about the scheduler's record of tasks.
    recording: Option<u64>,
    trace: Option<Option<Box<Trace>>>,
    gone: Option<String>,
}

/// The client's network runtime. Dropped without waiting for its tasks,
/// which is allowed wherever the last handle goes (even on the runtime's
/// own thread).
#[derive(Debug)]
struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    fn block_on<F: std::future::Future>(&self, f: F) -> Option<F::Output> {
        self.0.as_ref().map(|r| r.block_on(f))
    }

    fn spawn<F>(&self, f: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Some(r) = &self.0 {
            r.spawn(f);
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.shutdown_background();
        }
    }
}

#[derive(Debug)]
struct Inner {
    runtime: Runtime,
    outgoing: mpsc::UnboundedSender<ClientMessage>,
    state: Mutex<State>,
    changed: Condvar,
    next_id: AtomicU64,
    fetcher: Fetcher,
    scheduler: String,
}

impl Inner {
    /// Waits for news from the scheduler (the state changed); an error
    /// once the connection is gone.
    fn wait_changed<'a>(
        &'a self,
        state: MutexGuard<'a, State>,
    ) -> Result<MutexGuard<'a, State>, ClusterError> {
        if let Some(gone) = &state.gone {
            return Err(ClusterError::Disconnected(gone.clone()));
        }
        Ok(self.changed.wait(state).unwrap_or_else(|p| p.into_inner()))
    }
}

impl State {
    /// Whether task `id` ended, with a result or without.
    fn ended(&self, id: u64) -> bool {
        self.done.contains_key(&id) || self.failed.contains_key(&id)
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A connection to a cluster's scheduler.
///
/// ```no_run
/// use flotilla_cluster::{remote, Client};
///
/// #[remote(crate = flotilla_cluster)]
/// fn add(a: i64, b: i64) -> i64 { a + b }
///
/// fn main() {
///     let client = Client::connect("127.0.0.1:8786").unwrap();
///     let sums = client.map(add::REMOTE, (0..10, 10..20)).unwrap();
///     assert_eq!(client.gather(&sums).unwrap(), (0..10).map(|i| 2 * i + 10).collect::<Vec<i64>>());
/// }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// The scheduler and worker of an in-process client.
    embedded: Option<Arc<Embedded>>,
}

/// The scheduler and the worker thread an in-process client runs on; they
/// stop when the client and every future of it are gone.
struct Embedded {
    server: Option<SchedulerServer>,
    workers: Vec<std::thread::JoinHandle<Result<(), ClusterError>>>,
    /// The closures this client made runnable, forgotten at the end.
    closures: Mutex<Vec<String>>,
}

impl Drop for Embedded {
    fn drop(&mut self) {
        // Stopping the scheduler closes the worker's connection: it ends.
        self.server.take();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        let names = std::mem::take(&mut *self.closures.lock().unwrap_or_else(|p| p.into_inner()));
        registry::forget_closures(&names);
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("scheduler", &self.inner.scheduler)
            .finish()
    }
}

impl Client {
    /// Connects to the scheduler at `addr`, with the token of
    /// `FLOTILLA_TOKEN` if set, and TLS when the environment names the
    /// cluster's certificate files ([`Tls::from_env`]).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] when the scheduler cannot be reached,
    /// [`ClusterError::Refused`] when it refuses the client,
    /// [`ClusterError::Tls`] when TLS is misconfigured or fails.
    ///
    /// ```
    /// use flotilla_cluster::{Client, SchedulerOptions, SchedulerServer};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // A scheduler on a free port of this machine (`flotilla scheduler` elsewhere).
    /// let scheduler = SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0"))?;
    /// let client = Client::connect(&scheduler.addr().to_string())?;
    /// assert!(!client.is_in_process());
    /// assert!(client.status()?.workers.is_empty(), "no worker has joined yet");
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect(addr: &str) -> Result<Client, ClusterError> {
        Client::connect_tls(addr, Token::from_env(), Tls::from_env()?)
    }

    /// Connects proving `token`, without TLS.
    ///
    /// # Errors
    ///
    /// As [`Client::connect`].
    ///
    /// ```
    /// use flotilla_cluster::{Client, ClusterError, SchedulerOptions, SchedulerServer, Token};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let token = Token::random()?;
    /// let scheduler = SchedulerServer::start(
    ///     SchedulerOptions::new().listen("127.0.0.1:0").token(Some(token.clone())),
    /// )?;
    /// let addr = scheduler.addr().to_string();
    ///
    /// let guess = Client::connect_with(&addr, Some(Token::new("guess")?));
    /// assert!(matches!(guess, Err(ClusterError::Refused { .. })));
    ///
    /// let client = Client::connect_with(&addr, Some(token))?;
    /// assert!(client.status()?.workers.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_with(addr: &str, token: Option<Token>) -> Result<Client, ClusterError> {
        Client::connect_tls(addr, token, None)
    }

    /// Connects proving `token`, over TLS when `tls` is given (the
    /// scheduler's set-up: the same authority and name).
    ///
    /// # Errors
    ///
    /// As [`Client::connect`].
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// use flotilla_cluster::{Client, SchedulerOptions, SchedulerServer, Tls};
    /// let dir = std::env::temp_dir().join(format!("flotilla-tls-client-{}", std::process::id()));
    /// let tls = Tls::generate(&dir).unwrap();
    /// let server = SchedulerServer::start(
    ///     SchedulerOptions::new().listen("127.0.0.1:0").token(None).tls(Some(tls.clone())),
    /// )
    /// .unwrap();
    /// let addr = server.addr().to_string();
    /// let client = Client::connect_tls(&addr, None, Some(tls)).unwrap();
    /// assert!(client.status().unwrap().workers.is_empty());
    /// // Without TLS, the scheduler hangs up, and the error says why.
    /// let err = Client::connect_with(&addr, None).unwrap_err();
    /// assert!(err.to_string().contains("TLS"), "{err}");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    pub fn connect_tls(
        addr: &str,
        token: Option<Token>,
        tls: Option<Tls>,
    ) -> Result<Client, ClusterError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("flotilla-client")
            .enable_all()
            .build()
            .map_err(|e| ClusterError::io("starting the client's runtime", e))?;
        let (reader, writer) = runtime.block_on(async {
            let (mut reader, mut writer, _) = transport::dial(
                addr,
                tls.as_ref(),
                format!("the scheduler at {addr}"),
                MAX_FRAME_BYTES,
            )
            .await?;
            connect(&mut reader, &mut writer, Role::Client, token.as_ref())
                .await
                .map_err(|e| transport::explain_handshake(e, tls.as_ref()))?;
            Ok::<_, ClusterError>((reader, writer))
        })?;
        let (outgoing, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            runtime: Runtime(Some(runtime)),
            outgoing,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            next_id: AtomicU64::new(0),
            fetcher: Fetcher::new(token, tls),
            scheduler: addr.to_string(),
        });
        inner.runtime.spawn(send_loop(writer, rx));
        inner
            .runtime
            .spawn(receive_loop(reader, Arc::downgrade(&inner)));
        Ok(Client {
            inner,
            embedded: None,
        })
    }

    /// A client of a scheduler and a worker of `threads` threads that run
    /// inside this process (on loopback, with a fresh token): the same
    /// API, the same results, no processes to start — the program chooses
    /// at run time between this and [`Client::connect`]. Only such a
    /// client also runs closures ([`Client::submit_fn`]).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] when the scheduler cannot listen on loopback.
    ///
    /// ```
    /// let client = flotilla_cluster::Client::in_process(2).unwrap();
    /// let x = client.submit_fn(|| 6 * 7).unwrap();
    /// assert_eq!(x.result().unwrap(), 42);
    /// assert!(client.is_in_process());
    /// ```
    pub fn in_process(threads: usize) -> Result<Client, ClusterError> {
        Client::in_process_with(SchedulerOptions::new(), 1, threads)
    }

    /// As [`Client::in_process`], with `workers` workers of `threads`
    /// threads each and a scheduler configured by `options` (speculation,
    /// placement, retries…; its address, token and plain loopback
    /// connections are chosen here). Several
    /// workers let the scheduler copy a straggling task to another one.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] when the scheduler cannot listen on loopback,
    /// [`ClusterError::Config`] when a worker does not start.
    ///
    /// ```
    /// use flotilla_cluster::{Client, SchedulerOptions, Speculation};
    ///
    /// let options = SchedulerOptions::new().speculation(Some(Speculation::new(3.0)));
    /// let client = Client::in_process_with(options, 2, 1).unwrap();
    /// assert_eq!(client.status().unwrap().workers.len(), 2);
    /// ```
    pub fn in_process_with(
        options: SchedulerOptions,
        workers: usize,
        threads: usize,
    ) -> Result<Client, ClusterError> {
        let token = Token::random()?;
        let server = SchedulerServer::start(
            options
                .listen("127.0.0.1:0")
                .token(Some(token.clone()))
                .tls(None),
        )?;
        let addr = server.addr().to_string();
        let workers = workers.max(1);
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let mut options = WorkerOptions::new()
                .threads(threads)
                .token(Some(token.clone()));
            // Dropping the client ends its engine, running tasks included.
            options.finish_running = true;
            let worker_addr = addr.clone();
            handles.push(
                std::thread::Builder::new()
                    .name("flotilla-in-process-worker".into())
                    .spawn(move || run_worker(&worker_addr, options))
                    .map_err(|e| ClusterError::io("starting the in-process worker", e))?,
            );
        }
        let mut client = Client::connect_with(&addr, Some(token))?;
        // The workers register within moments; wait for them, or for an end.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while client.status()?.workers.len() < workers {
            if let Some(i) = handles.iter().position(|w| w.is_finished()) {
                let why = match handles.swap_remove(i).join() {
                    Ok(Err(e)) => e.to_string(),
                    Ok(Ok(())) => "it ended".to_string(),
                    Err(_) => "it panicked".to_string(),
                };
                return Err(ClusterError::Config(format!(
                    "an in-process worker did not start: {why}"
                )));
            }
            if std::time::Instant::now() > deadline {
                return Err(ClusterError::Config(
                    "the in-process workers did not register within 30 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        client.embedded = Some(Arc::new(Embedded {
            server: Some(server),
            workers: handles,
            closures: Mutex::new(Vec::new()),
        }));
        Ok(client)
    }

    /// Whether `other` is this client or a clone of it: the futures of one
    /// are not the other's.
    ///
    /// ```
    /// let a = flotilla_cluster::Client::in_process(1).unwrap();
    /// let b = flotilla_cluster::Client::in_process(1).unwrap();
    /// assert!(a.is_same(&a.clone()));
    /// assert!(!a.is_same(&b));
    /// ```
    pub fn is_same(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether this client runs its tasks inside this process
    /// ([`Client::in_process`]).
    ///
    /// ```
    /// use flotilla_cluster::{Client, SchedulerOptions, SchedulerServer};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// assert!(Client::in_process(1)?.is_in_process());
    ///
    /// let scheduler = SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0"))?;
    /// assert!(!Client::connect(&scheduler.addr().to_string())?.is_in_process());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_in_process(&self) -> bool {
        self.embedded.is_some()
    }

    /// Runs a closure as a task. Only an in-process client can: a closure
    /// cannot cross to another process, so on a cluster it is refused
    /// before anything runs, with an error that says to register a
    /// function instead.
    ///
    /// # Errors
    ///
    /// [`ClusterError::ClosureOnCluster`] on a client of a cluster;
    /// [`ClusterError::Disconnected`] when the scheduler is gone.
    ///
    /// ```
    /// use flotilla_cluster::{Client, ClusterError, SchedulerOptions, SchedulerServer};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::in_process(2)?;
    /// let sum = client.submit_fn(|| (1..=10).sum::<u32>())?;
    /// assert_eq!(sum.result()?, 55);
    ///
    /// // A client of a cluster refuses closures before anything runs.
    /// let scheduler = SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0"))?;
    /// let remote = Client::connect(&scheduler.addr().to_string())?;
    /// let refused = remote.submit_fn(|| 1);
    /// assert!(matches!(refused, Err(ClusterError::ClosureOnCluster { .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub fn submit_fn<R, F>(&self, f: F) -> Result<ClusterFuture<R>, ClusterError>
    where
        F: Fn() -> R + Send + Sync + 'static,
        R: Serialize,
    {
        let Some(embedded) = &self.embedded else {
            return Err(ClusterError::ClosureOnCluster {
                operation: format!("submit_fn ({})", std::any::type_name::<F>()),
            });
        };
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let name = format!("closure {} #{id}", std::any::type_name::<F>());
        let wrapper: registry::LocalFn = Arc::new(move |args: &[&[u8]]| {
            if !args.is_empty() {
                return Err(format!(
                    "a closure takes no arguments, the task gave {}",
                    args.len()
                ));
            }
            postcard::to_stdvec(&f())
                .map_err(|e| format!("the closure's result does not encode: {e}"))
        });
        registry::register_closure(name.clone(), wrapper);
        embedded
            .closures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(name.clone());
        let submit = Submit {
            id,
            function: name,
            args: Vec::new(),
            retries: 0,
            resources: Vec::new(),
            reads: Vec::new(),
            checkpoint: None,
        };
        self.send(ClientMessage::Submit(vec![submit]))?;
        Ok(ClusterFuture::new(id, "closure", self))
    }

    /// Submits one task: `f::call(args..)` of a `#[remote]` function `f`.
    /// Its arguments may be futures of earlier tasks: it runs when they
    /// are done, reading their results where they are.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Codec`] when an argument could not be encoded;
    /// [`ClusterError::Disconnected`] when the scheduler is gone.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Arg, Client, ClusterError};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let x = client.submit(add::call(1, 2))?;
    ///     let y = client.submit(add::call(&x, 10))?; // runs once `x` is done
    ///     assert_eq!(y.result()?, 13);
    ///
    ///     // Graph keys belong in a CallGraph, not in a task on its own.
    ///     let keyed = client.submit(add::call(Arg::key("x"), 1));
    ///     assert!(matches!(keyed, Err(ClusterError::Config(_))));
    ///     Ok(())
    /// }
    /// ```
    pub fn submit<R>(&self, call: Call<R>) -> Result<ClusterFuture<R>, ClusterError> {
        if let Some((_, key)) = call.keys.first() {
            return Err(ClusterError::Config(format!(
                "a task of {} names the graph key {key:?}: add it to a CallGraph and compute that",
                call.function
            )));
        }
        if let Some(reason) = call.error {
            return Err(ClusterError::Codec {
                what: format!("a task of {}", call.function),
                reason,
            });
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut submit = Submit {
            id,
            function: call.function.to_string(),
            args: call.args,
            retries: call.retries,
            resources: call.resources,
            reads: call.reads,
            checkpoint: None,
        };
        let key = match &call.checkpoint {
            Some(checkpoint) => {
                let inputs = &call.input_keys;
                let input_key = |id: u64| inputs.iter().find(|(i, _)| *i == id)?.1.clone();
                Some(checkpointed(
                    &mut submit,
                    checkpoint,
                    (&call.version, call.given_key.as_deref()),
                    input_key,
                )?)
            }
            None => None,
        };
        self.send(ClientMessage::Submit(vec![submit]))?;
        let mut future = ClusterFuture::new(id, call.function, self);
        if let Some(key) = key {
            future.set_checkpoint_key(key);
        }
        Ok(future)
    }

    /// One task of `function` per element of the zipped argument lists:
    /// `client.map(add::REMOTE, (xs, ys))` calls `add(xs[i], ys[i])`,
    /// stopping at the shortest list.
    ///
    /// # Errors
    ///
    /// As [`Client::submit`].
    ///
    /// ```
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     // Three tasks: the second list is longer, the shortest wins.
    ///     let sums = client.map(add::REMOTE, (0..3, vec![10, 20, 30, 40]))?;
    ///     assert_eq!(sums.len(), 3);
    ///     assert_eq!(client.gather(&sums)?, [10, 21, 32]);
    ///     Ok(())
    /// }
    /// ```
    pub fn map<A, R, L>(
        &self,
        function: Remote<A, R>,
        lists: L,
    ) -> Result<Vec<ClusterFuture<R>>, ClusterError>
    where
        L: ArgLists<A>,
        A: EncodeArgs,
    {
        let mut futures = Vec::new();
        let mut batch = Vec::new();
        for args in lists.zipped() {
            let args = args.encode().map_err(|reason| ClusterError::Codec {
                what: format!("a task of {}", function.name()),
                reason,
            })?;
            let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            batch.push(Submit {
                id,
                function: function.name().to_string(),
                args: args.into_iter().map(ClientArg::Value).collect(),
                retries: 0,
                resources: Vec::new(),
                reads: Vec::new(),
                checkpoint: None,
            });
            futures.push(ClusterFuture::new(id, function.name(), self));
        }
        self.send(ClientMessage::Submit(batch))?;
        Ok(futures)
    }

    /// Applies a one-argument `#[remote]` function to every item in
    /// batches sized as it goes: `sizer` starts small, learns the time per
    /// item from each batch's run time on its worker, and sizes the next
    /// batch to take about its target — many tiny items share a task,
    /// an item slower than the target runs alone. Batches are submitted
    /// as earlier ones finish (about two per worker thread in flight), so
    /// this returns once the last batch is submitted. Each future holds
    /// its batch's results, in order; gathered and flattened they are the
    /// items' results in the items' order.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Codec`] when a batch does not encode;
    /// [`ClusterError::Disconnected`] when the scheduler is gone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flotilla_cluster::{remote, BatchSizer, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn inc(x: u64) -> u64 {
    ///     x + 1
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let sizer = BatchSizer::new(Duration::from_millis(20));
    ///     let batches = client.map_adaptive(inc::BATCH, 0..100_000u64, sizer)?;
    ///     assert!(batches.len() < 1_000, "tiny items share tasks: {}", batches.len());
    ///     let all: Vec<u64> = client.gather(&batches)?.into_iter().flatten().collect();
    ///     assert_eq!(all, (1..=100_000).collect::<Vec<_>>());
    ///     Ok(())
    /// }
    /// ```
    pub fn map_adaptive<A: Serialize, R>(
        &self,
        f: Batch<A, R>,
        items: impl IntoIterator<Item = A>,
        mut sizer: BatchSizer,
    ) -> Result<Vec<ClusterFuture<Vec<R>>>, ClusterError> {
        let threads: usize = self
            .status()?
            .workers
            .iter()
            .map(|w| w.threads as usize)
            .sum();
        let window = 2 * threads.max(1);
        let mut items = items.into_iter().peekable();
        let mut futures: Vec<ClusterFuture<Vec<R>>> = Vec::new();
        // Submitted batches not yet ended: (index in `futures`, items).
        let mut in_flight: Vec<(usize, usize)> = Vec::new();
        loop {
            while in_flight.len() < window && items.peek().is_some() {
                let chunk: Vec<A> = items.by_ref().take(sizer.next_size()).collect();
                in_flight.push((futures.len(), chunk.len()));
                futures.push(self.submit(f.call(chunk))?);
            }
            if items.peek().is_none() {
                return Ok(futures);
            }
            // Wait for batches to end; learn from those that finished.
            let mut state = lock(&self.inner.state);
            loop {
                let before = in_flight.len();
                in_flight.retain(|&(i, n)| {
                    let id = futures[i].id();
                    if let Some(at) = state.done.get(&id) {
                        sizer.observe(n, Duration::from_micros(at.micros));
                        false
                    } else {
                        !state.failed.contains_key(&id)
                    }
                });
                if in_flight.len() < before {
                    break;
                }
                state = self.inner.wait_changed(state)?;
            }
        }
    }

    /// Applies a one-argument `#[remote]` function to every item, `batch`
    /// items per task (its `f::BATCH` form): many small items pay for a
    /// few tasks, not one each. Each future holds its batch's results, in
    /// order; gather and flatten them for the whole.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] for a batch of 0;
    /// [`ClusterError::Codec`] when a batch does not encode;
    /// [`ClusterError::Disconnected`] when the scheduler is gone.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn inc(x: u64) -> u64 {
    ///     x + 1
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let batches = client.map_batched(inc::BATCH, 0..10_000u64, 1_000)?;
    ///     assert_eq!(batches.len(), 10);
    ///     let all: Vec<u64> = client.gather(&batches)?.into_iter().flatten().collect();
    ///     assert_eq!(all, (1..=10_000).collect::<Vec<_>>());
    ///     Ok(())
    /// }
    /// ```
    pub fn map_batched<A: Serialize, R>(
        &self,
        f: Batch<A, R>,
        items: impl IntoIterator<Item = A>,
        batch: usize,
    ) -> Result<Vec<ClusterFuture<Vec<R>>>, ClusterError> {
        if batch == 0 {
            return Err(ClusterError::Config(format!(
                "map_batched of {} was given a batch of 0 items",
                f.name()
            )));
        }
        let mut items = items.into_iter().peekable();
        let mut futures = Vec::new();
        while items.peek().is_some() {
            let chunk: Vec<A> = items.by_ref().take(batch).collect();
            futures.push(self.submit(f.call(chunk))?);
        }
        Ok(futures)
    }

    /// Puts `value` on a worker, for tasks to take as an argument without
    /// sending it again with each: the future of a task that holds it.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Codec`] when the value does not encode;
    /// [`ClusterError::Disconnected`] when the scheduler is gone.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn total(parts: Vec<i64>) -> i64 {
    ///     parts.iter().sum()
    /// }
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn largest(parts: Vec<i64>) -> i64 {
    ///     parts.iter().copied().max().unwrap_or(0)
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     // Sent once, read by both tasks where it lives.
    ///     let data = client.scatter(&vec![4i64, 8, 15, 16, 23, 42])?;
    ///     let sum = client.submit(total::call(&data))?;
    ///     let max = client.submit(largest::call(&data))?;
    ///     assert_eq!((sum.result()?, max.result()?), (108, 42));
    ///     assert_eq!(data.result()?, [4, 8, 15, 16, 23, 42]);
    ///     Ok(())
    /// }
    /// ```
    pub fn scatter<T: Serialize>(&self, value: &T) -> Result<ClusterFuture<T>, ClusterError> {
        self.submit(Call::<T>::new(SCATTER).arg(Arg::by_ref(value)))
    }

    /// Blocks until every one of `futures` has ended (with a result or
    /// not), showing the progress bar every flotilla computation shows
    /// (on a terminal, for waits over a second).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Disconnected`] when the scheduler goes away first.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let squares = client.map(square::REMOTE, (0..20u64,))?;
    ///     client.progress(&squares)?;
    ///     assert!(squares.iter().all(|f| f.done()));
    ///     Ok(())
    /// }
    /// ```
    pub fn progress<R>(&self, futures: &[ClusterFuture<R>]) -> Result<(), ClusterError> {
        let total = futures.len() as u64;
        let mut bar = Progress::new("cluster", total, true);
        let mut state = lock(&self.inner.state);
        loop {
            let ended = futures.iter().filter(|f| state.ended(f.id())).count() as u64;
            bar.update(ended);
            if ended == total {
                bar.finish(ended);
                return Ok(());
            }
            if let Some(gone) = &state.gone {
                bar.finish(ended);
                return Err(ClusterError::Disconnected(gone.clone()));
            }
            state = self
                .inner
                .changed
                .wait_timeout(state, Duration::from_millis(200))
                .map(|(s, _)| s)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// The futures in the order their tasks end, each as soon as it has:
    /// `for f in client.as_completed(&futures) { f.result()? ... }`.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let squares = client.map(square::REMOTE, (0..4u64,))?;
    ///     let mut seen = Vec::new();
    ///     for f in client.as_completed(&squares) {
    ///         assert!(f.done(), "each comes out once its task has ended");
    ///         seen.push(f.result()?);
    ///     }
    ///     seen.sort();
    ///     assert_eq!(seen, [0, 1, 4, 9]);
    ///     Ok(())
    /// }
    /// ```
    pub fn as_completed<R>(&self, futures: &[ClusterFuture<R>]) -> AsCompleted<R> {
        AsCompleted {
            pending: futures.iter().cloned().enumerate().collect(),
            ended: std::collections::VecDeque::new(),
            inner: Arc::clone(&self.inner),
        }
    }

    /// The results of `futures`, in order, once all are done.
    ///
    /// # Errors
    ///
    /// The first task's error ([`ClusterError::Task`]) in the order given,
    /// or a result that could not be fetched or decoded.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Client, ClusterError};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn inverse(x: i32) -> i32 {
    ///     assert!(x != 0, "0 has no inverse");
    ///     100 / x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let good = client.map(inverse::REMOTE, (vec![1, 2, 4],))?;
    ///     assert_eq!(client.gather(&good)?, [100, 50, 25]);
    ///
    ///     let bad = client.map(inverse::REMOTE, (vec![1, 0, 4],))?;
    ///     match client.gather(&bad) {
    ///         Err(ClusterError::Task { reason, .. }) => assert!(reason.contains("0 has no inverse")),
    ///         other => panic!("expected a task error, got {other:?}"),
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn gather<R: DeserializeOwned>(
        &self,
        futures: &[ClusterFuture<R>],
    ) -> Result<Vec<R>, ClusterError> {
        let mut results: Vec<Option<R>> = futures.iter().map(|_| None).collect();
        // A result can vanish with its worker between the scheduler's word
        // and the fetch: the scheduler then computes it again and says
        // where; the fetch waits for that and tries again.
        for round in 0.. {
            let missing: Vec<usize> = (0..futures.len())
                .filter(|&n| results[n].is_none())
                .collect();
            if missing.is_empty() {
                break;
            }
            let ids: Vec<u64> = missing.iter().map(|&n| futures[n].id()).collect();
            let wanted: Vec<&ClusterFuture<R>> = missing.iter().map(|&n| &futures[n]).collect();
            let locations = self.wait_all(&ids, &wanted)?;
            let mut by_addr: HashMap<&str, Vec<usize>> = HashMap::new();
            for (k, l) in locations.iter().enumerate() {
                by_addr.entry(l.addr.as_str()).or_default().push(k);
            }
            let mut lost = Vec::new();
            for (addr, positions) in by_addr {
                let tasks: Vec<u32> = positions.iter().map(|&k| locations[k].task).collect();
                let fetched = self
                    .inner
                    .runtime
                    .block_on(self.inner.fetcher.fetch(addr, &tasks))
                    .unwrap_or_default();
                for (&k, bytes) in positions.iter().zip(fetched) {
                    let n = missing[k];
                    match bytes {
                        Ok(bytes) => {
                            let value =
                                postcard::from_bytes(&bytes).map_err(|e| ClusterError::Codec {
                                    what: format!("the result of {}", futures[n].function),
                                    reason: e.to_string(),
                                })?;
                            results[n] = Some(value);
                        }
                        Err(e) if round < MAX_FETCH_ROUNDS => {
                            lost.push((ids[k], locations[k].clone(), e))
                        }
                        Err(e) => {
                            return Err(ClusterError::Disconnected(format!(
                                "fetching the result of {} from {addr}: {e}",
                                futures[n].function
                            )))
                        }
                    }
                }
            }
            if !lost.is_empty() {
                // Forget the stale places (unless news came meanwhile) and wait for new ones.
                let mut state = lock(&self.inner.state);
                for (id, at, _) in &lost {
                    if state
                        .done
                        .get(id)
                        .is_some_and(|l| l.task == at.task && l.addr == at.addr)
                    {
                        state.done.remove(id);
                    }
                }
            }
        }
        results
            .into_iter()
            .zip(futures)
            .map(|(r, f)| {
                r.ok_or_else(|| {
                    ClusterError::Disconnected(format!(
                        "the result of {} did not come back",
                        f.function
                    ))
                })
            })
            .collect()
    }

    fn wait_all<R>(
        &self,
        ids: &[u64],
        futures: &[&ClusterFuture<R>],
    ) -> Result<Vec<Location>, ClusterError> {
        let mut state = lock(&self.inner.state);
        loop {
            for (n, id) in ids.iter().enumerate() {
                if let Some(reason) = state.failed.get(id) {
                    let (key, function) = state
                        .failed_info
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| (format!("#{id}"), futures[n].function.to_string()));
                    return Err(ClusterError::Task {
                        key,
                        function,
                        reason: reason.clone(),
                    });
                }
            }
            if ids.iter().all(|id| state.done.contains_key(id)) {
                return Ok(ids
                    .iter()
                    .filter_map(|id| state.done.get(id).cloned())
                    .collect());
            }
            state = self.inner.wait_changed(state)?;
        }
    }

    /// Cancels a task that has not finished; its future then reports
    /// that it was cancelled.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Disconnected`] when the scheduler is gone.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn slow_square(ms: u64, x: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let input = client.submit(slow_square::call(300, 5))?;
    ///     let waiting = client.submit(slow_square::call(0, &input))?; // waits for `input`
    ///     client.cancel(&waiting)?;
    ///     let err = waiting.result().unwrap_err();
    ///     assert!(err.to_string().contains("was cancelled"), "{err}");
    ///     assert_eq!(input.result()?, 25, "the input is not affected");
    ///     Ok(())
    /// }
    /// ```
    pub fn cancel<R>(&self, future: &ClusterFuture<R>) -> Result<(), ClusterError> {
        self.send(ClientMessage::Cancel(vec![future.id()]))
    }

    /// What the cluster is doing now: its workers and its tasks by state.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Disconnected`] when the scheduler is gone.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let squares = client.map(square::REMOTE, (0..10u64,))?;
    ///     client.gather(&squares)?;
    ///     let status = client.status()?;
    ///     assert_eq!(status.workers.len(), 1);
    ///     assert_eq!(status.workers[0].threads, 2);
    ///     assert_eq!(status.finished, 10);
    ///     Ok(())
    /// }
    /// ```
    pub fn status(&self) -> Result<ClusterStatus, ClusterError> {
        self.ask(ClientMessage::Status, |s| s.status.take())
    }

    /// Sends `message` and waits for its answer, which `take` takes from
    /// the state once it has come (a stale one is dropped first).
    fn ask<T>(
        &self,
        message: ClientMessage,
        mut take: impl FnMut(&mut State) -> Option<T>,
    ) -> Result<T, ClusterError> {
        take(&mut lock(&self.inner.state));
        self.send(message)?;
        let mut state = lock(&self.inner.state);
        loop {
            if let Some(answer) = take(&mut state) {
                return Ok(answer);
            }
            state = self.inner.wait_changed(state)?;
        }
    }

    /// Has the scheduler keep a record of its tasks (if it keeps none
    /// yet); the time on that record's clock from which it holds what
    /// this client does next.
    pub(crate) fn start_record(&self) -> Result<u64, ClusterError> {
        self.ask(ClientMessage::Record, |s| s.recording.take())
    }

    /// The scheduler's record of its tasks from `from_ns` on (`None` if
    /// it keeps none).
    pub(crate) fn scheduler_trace(&self, from_ns: u64) -> Result<Option<Trace>, ClusterError> {
        let trace = self.ask(ClientMessage::Trace { from_ns }, |s| s.trace.take())?;
        Ok(trace.map(|t| *t))
    }

    /// The scheduler's address, as this client was given it.
    pub(crate) fn scheduler_name(&self) -> &str {
        &self.inner.scheduler
    }

    fn send(&self, message: ClientMessage) -> Result<(), ClusterError> {
        self.inner.outgoing.send(message).map_err(|_| {
            ClusterError::Disconnected(format!("the client of {} is closed", self.inner.scheduler))
        })
    }
}

/// Sends the client's messages, merging what queued up into one message
/// of each kind.
async fn send_loop(mut writer: transport::Writer, mut rx: mpsc::UnboundedReceiver<ClientMessage>) {
    while let Some(first) = rx.recv().await {
        let mut submit = Vec::new();
        let mut release = Vec::new();
        let mut cancel = Vec::new();
        let mut status = false;
        let mut record = false;
        let mut trace = None;
        let mut next = Some(first);
        while let Some(m) = next.take() {
            match m {
                ClientMessage::Submit(s) => submit.extend(s),
                ClientMessage::Release(r) => release.extend(r),
                ClientMessage::Cancel(c) => cancel.extend(c),
                ClientMessage::Status => status = true,
                ClientMessage::Record => record = true,
                ClientMessage::Trace { from_ns } => trace = Some(from_ns),
            }
            if submit.len() < 16384 {
                next = rx.try_recv().ok();
            }
        }
        // Submissions first: a release or cancel may name a task just submitted.
        let batch = [
            (!submit.is_empty()).then_some(ClientMessage::Submit(submit)),
            (!cancel.is_empty()).then_some(ClientMessage::Cancel(cancel)),
            (!release.is_empty()).then_some(ClientMessage::Release(release)),
            status.then_some(ClientMessage::Status),
            record.then_some(ClientMessage::Record),
            trace.map(|from_ns| ClientMessage::Trace { from_ns }),
        ];
        for m in batch.into_iter().flatten() {
            if writer.send(&m).await.is_err() {
                return;
            }
        }
        if writer.flush().await.is_err() {
            return;
        }
    }
}

async fn receive_loop(mut reader: transport::Reader, inner: std::sync::Weak<Inner>) {
    loop {
        let event = reader.recv::<ClientEvent>().await;
        let Some(inner) = inner.upgrade() else { return };
        let mut state = lock(&inner.state);
        match event {
            Ok(Some(ClientEvent::Done(done))) => {
                for d in done {
                    state.done.insert(
                        d.id,
                        Location {
                            task: d.task,
                            addr: d.addr,
                            micros: d.micros,
                        },
                    );
                }
            }
            Ok(Some(ClientEvent::Failed(failed))) => {
                for f in failed {
                    state.failed.insert(f.id, describe(&f.reason));
                    state.failed_info.insert(f.id, (f.key, f.function));
                }
            }
            Ok(Some(ClientEvent::Status(s))) => state.status = Some(s),
            Ok(Some(ClientEvent::Recording { at_ns })) => state.recording = Some(at_ns),
            Ok(Some(ClientEvent::Trace(t))) => state.trace = Some(t),
            Ok(Some(ClientEvent::Lost(ids))) => {
                for id in ids {
                    state.done.remove(&id);
                }
            }
            Ok(Some(ClientEvent::Rejected { id, reason })) => {
                state
                    .failed
                    .insert(id, format!("was refused by the scheduler: {reason}"));
            }
            Ok(None) => {
                state.gone = Some(format!(
                    "the scheduler at {} closed the connection",
                    inner.scheduler
                ))
            }
            Err(e) => state.gone = Some(e.to_string()),
        }
        let over = state.gone.is_some();
        drop(state);
        inner.changed.notify_all();
        if over {
            return;
        }
    }
}

/// A task failure in words.
fn describe(reason: &FailureReason) -> String {
    match reason {
        FailureReason::Failed {
            worker,
            failure,
            attempts,
        } => {
            let what = failure_text(failure);
            let tries = if *attempts == 1 {
                "1 attempt".to_string()
            } else {
                format!("{attempts} attempts")
            };
            format!("{what} (on worker {worker}, after {tries})")
        }
        FailureReason::Suspicious { workers } => {
            let times = if *workers == 1 {
                "a worker".to_string()
            } else {
                format!("{workers} workers")
            };
            format!("was running on {times} that died or went silent (a crash, a kill, a lost machine), and is not run again")
        }
        FailureReason::Abandoned {
            because,
            cause: Some(cause),
        } => format!("did not run: its input {because} {}", failure_text(cause)),
        FailureReason::Abandoned { because, .. } => {
            format!("did not run: its input {because} failed or was cancelled")
        }
        FailureReason::Cancelled => "was cancelled".to_string(),
    }
}

/// How one attempt failed, in words.
fn failure_text(failure: &Failure) -> String {
    match failure {
        Failure::Error(m) => format!("failed: {m}"),
        Failure::Panic(m) => format!("panicked: {m}"),
        Failure::NotRegistered(f) => format!(
            "cannot run: {f} is not registered in the worker's binary (run the client's binary as the worker)"
        ),
        Failure::InputLost { reason, .. } => format!("lost an input: {reason}"),
    }
}

/// The result of a task on a cluster, once it is done. Dropping every
/// copy of it tells the scheduler that the result is no longer wanted.
///
/// ```
/// use flotilla_cluster::{remote, Client, ClusterFuture};
///
/// #[remote(crate = flotilla_cluster)]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let client = Client::in_process(2)?;
///     let x: ClusterFuture<i64> = client.submit(add::call(1, 2))?;
///     let same = x.clone(); // both name the one task
///     let y = client.submit(add::call(&x, &same))?;
///     assert_eq!(y.result()?, 6);
///     assert_eq!(same.result()?, 3);
///     Ok(())
/// }
/// ```
pub struct ClusterFuture<T> {
    handle: Arc<Handle>,
    function: &'static str,
    _result: PhantomData<fn() -> T>,
}

struct Handle {
    id: u64,
    /// The key its result is kept under in a checkpoint, if it is.
    checkpoint_key: Option<Arc<str>>,
    inner: Arc<Inner>,
    /// Keeps an in-process client's scheduler and worker alive.
    embedded: Option<Arc<Embedded>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut state = lock(&self.inner.state);
        state.done.remove(&self.id);
        state.failed.remove(&self.id);
        state.failed_info.remove(&self.id);
        drop(state);
        let _ = self
            .inner
            .outgoing
            .send(ClientMessage::Release(vec![self.id]));
    }
}

impl<T> Clone for ClusterFuture<T> {
    fn clone(&self) -> Self {
        ClusterFuture {
            handle: Arc::clone(&self.handle),
            function: self.function,
            _result: PhantomData,
        }
    }
}

impl<T> fmt::Debug for ClusterFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClusterFuture({} #{})", self.function, self.handle.id)
    }
}

impl<T> ClusterFuture<T> {
    fn new(id: u64, function: &'static str, client: &Client) -> ClusterFuture<T> {
        ClusterFuture {
            handle: Arc::new(Handle {
                id,
                checkpoint_key: None,
                inner: Arc::clone(&client.inner),
                embedded: client.embedded.clone(),
            }),
            function,
            _result: PhantomData,
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.handle.id
    }

    /// What keeps the task's result held while it lives.
    /// The key its result is kept under in a checkpoint, if it is.
    pub(crate) fn checkpoint_key(&self) -> Option<Arc<str>> {
        self.handle.checkpoint_key.clone()
    }

    /// Names the result by its checkpoint key (right after it is made,
    /// while this is the handle's only owner).
    fn set_checkpoint_key(&mut self, key: Arc<str>) {
        if let Some(handle) = Arc::get_mut(&mut self.handle) {
            handle.checkpoint_key = Some(key);
        }
    }

    pub(crate) fn keep_alive(&self) -> Arc<dyn Send + Sync> {
        Arc::clone(&self.handle) as Arc<dyn Send + Sync>
    }

    /// Whether the task ended (with a result or without).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let x = client.submit(add::call(1, 2))?;
    ///     assert!(x.wait_timeout(Duration::from_secs(60)));
    ///     assert!(x.done());
    ///     Ok(())
    /// }
    /// ```
    pub fn done(&self) -> bool {
        let state = lock(&self.handle.inner.state);
        state.done.contains_key(&self.handle.id) || state.failed.contains_key(&self.handle.id)
    }

    /// How long its task ran on its worker, once it has finished (a
    /// result read back from a checkpoint: the read).
    ///
    /// ```
    /// let client = flotilla_cluster::Client::in_process(1).unwrap();
    /// let f = client.submit_fn(|| std::thread::sleep(std::time::Duration::from_millis(20))).unwrap();
    /// f.result().unwrap();
    /// assert!(f.run_time().unwrap() >= std::time::Duration::from_millis(20));
    /// ```
    pub fn run_time(&self) -> Option<Duration> {
        let state = lock(&self.handle.inner.state);
        state
            .done
            .get(&self.handle.id)
            .map(|at| Duration::from_micros(at.micros))
    }

    /// Waits for the result.
    ///
    /// # Errors
    ///
    /// As [`Client::gather`].
    ///
    /// ```
    /// use flotilla_cluster::{remote, Client, ClusterError};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn parse(text: String) -> u32 {
    ///     text.parse().expect("a number")
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     assert_eq!(client.submit(parse::call("42".to_string()))?.result()?, 42);
    ///
    ///     let failed = client.submit(parse::call("forty-two".to_string()))?;
    ///     assert!(matches!(failed.result(), Err(ClusterError::Task { .. })));
    ///     Ok(())
    /// }
    /// ```
    pub fn result(&self) -> Result<T, ClusterError>
    where
        T: DeserializeOwned,
    {
        let client = Client {
            inner: Arc::clone(&self.handle.inner),
            embedded: self.handle.embedded.clone(),
        };
        let mut v = client.gather(std::slice::from_ref(self))?;
        v.pop()
            .ok_or_else(|| ClusterError::Disconnected("no result came back".into()))
    }

    /// Waits at most `timeout` for the task to end; whether it did.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn slow_square(ms: u64, x: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let f = client.submit(slow_square::call(500, 7))?;
    ///     assert!(!f.wait_timeout(Duration::from_millis(1)), "still running");
    ///     assert!(f.wait_timeout(Duration::from_secs(60)));
    ///     assert_eq!(f.result()?, 49);
    ///     Ok(())
    /// }
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let inner = &self.handle.inner;
        let mut state = lock(&inner.state);
        loop {
            let id = self.handle.id;
            if state.done.contains_key(&id)
                || state.failed.contains_key(&id)
                || state.gone.is_some()
            {
                return true;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            state = inner
                .changed
                .wait_timeout(state, left)
                .map(|(s, _)| s)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

/// Lists of arguments zipped into the argument tuples of a function
/// (implemented for tuples of up to four iterables).
///
/// ```
/// use flotilla_cluster::ArgLists;
///
/// let args: Vec<(i32, char)> = (0..10, vec!['a', 'b', 'c']).zipped();
/// assert_eq!(args, [(0, 'a'), (1, 'b'), (2, 'c')]);
/// ```
pub trait ArgLists<A> {
    /// The argument tuples, up to the shortest list.
    fn zipped(self) -> Vec<A>;
}

/// A tuple of arguments that encodes each argument on its own.
///
/// ```
/// use flotilla_cluster::EncodeArgs;
///
/// # fn main() -> Result<(), String> {
/// let encoded = (7u32, String::from("seven"), vec![1.5f64]).encode()?;
/// assert_eq!(encoded.len(), 3, "one encoding per argument");
/// assert!(encoded.iter().all(|bytes| !bytes.is_empty()));
/// # Ok(())
/// # }
/// ```
pub trait EncodeArgs {
    /// Each argument's bytes.
    ///
    /// # Errors
    ///
    /// The message of the first argument that does not encode.
    fn encode(&self) -> Result<Vec<Vec<u8>>, String>;
}

fn encode_one<T: Serialize>(value: &T, index: usize) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(value).map_err(|e| format!("argument {index} does not encode: {e}"))
}

macro_rules! tuples {
    ($(($($name:ident $list:ident $index:tt),+))*) => {$(
        impl<$($name: Serialize),+> EncodeArgs for ($($name,)+) {
            fn encode(&self) -> Result<Vec<Vec<u8>>, String> {
                Ok(vec![$(encode_one(&self.$index, $index)?),+])
            }
        }
        impl<$($name,)+ $($list: IntoIterator<Item = $name>),+> ArgLists<($($name,)+)> for ($($list,)+) {
            fn zipped(self) -> Vec<($($name,)+)> {
                #[allow(non_snake_case)]
                let ($($list,)+) = self;
                $(#[allow(non_snake_case)] let mut $list = $list.into_iter();)+
                let mut out = Vec::new();
                loop {
                    $(#[allow(non_snake_case)] let Some($name) = $list.next() else { break };)+
                    out.push(($($name,)+));
                }
                out
            }
        }
    )*};
}

tuples! {
    (A0 L0 0)
    (A0 L0 0, A1 L1 1)
    (A0 L0 0, A1 L1 1, A2 L2 2)
    (A0 L0 0, A1 L1 1, A2 L2 2, A3 L3 3)
}

/// The futures of [`Client::as_completed`], in the order their tasks end.
///
/// ```
/// use flotilla_cluster::{remote, AsCompleted, Client};
///
/// #[remote(crate = flotilla_cluster)]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let client = Client::in_process(2)?;
///     let squares = client.map(square::REMOTE, (1..=3u64,))?;
///     let ended: AsCompleted<u64> = client.as_completed(&squares);
///     let total: u64 = ended.map(|f| f.result()).sum::<Result<u64, _>>()?;
///     assert_eq!(total, 14);
///     Ok(())
/// }
/// ```
pub struct AsCompleted<R> {
    /// Futures not yet ended, with their place in the caller's slice.
    pending: Vec<(usize, ClusterFuture<R>)>,
    /// Futures seen ended, not yet handed out, in the order seen.
    ended: std::collections::VecDeque<(usize, ClusterFuture<R>)>,
    inner: Arc<Inner>,
}

impl<R> fmt::Debug for AsCompleted<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AsCompleted({} pending)",
            self.pending.len() + self.ended.len()
        )
    }
}

impl<R> AsCompleted<R> {
    /// Moves every pending future that has ended to `ended`, in one pass:
    /// each wake-up costs one scan of what is pending, not one per future.
    fn move_ended(&mut self, state: &State) {
        let mut i = 0;
        while i < self.pending.len() {
            if state.ended(self.pending[i].1.id()) {
                self.ended.push_back(self.pending.swap_remove(i));
            } else {
                i += 1;
            }
        }
    }

    /// The next future to end with its index in the slice given to
    /// [`Client::as_completed`], so a caller can tell which input it was.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn cube(x: u64) -> u64 {
    ///     x * x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let inputs = [2u64, 3, 4];
    ///     let cubes = client.map(cube::REMOTE, (inputs.to_vec(),))?;
    ///     let mut done = client.as_completed(&cubes);
    ///     while let Some((i, f)) = done.next_indexed() {
    ///         assert_eq!(f.result()?, inputs[i].pow(3));
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn next_indexed(&mut self) -> Option<(usize, ClusterFuture<R>)> {
        if let Some(next) = self.ended.pop_front() {
            return Some(next);
        }
        if self.pending.is_empty() {
            return None;
        }
        let inner = Arc::clone(&self.inner);
        let mut state = lock(&inner.state);
        loop {
            self.move_ended(&state);
            if let Some(next) = self.ended.pop_front() {
                return Some(next);
            }
            if state.gone.is_some() {
                // Its result() reports the lost connection.
                return Some(self.pending.remove(0));
            }
            state = inner.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl<R> AsCompleted<R> {
    /// Every future that has ended by now (at least one, waiting for it
    /// if need be), with its index: a batch to fetch in one
    /// [`Client::gather`] — one round trip per worker instead of one per
    /// result. Empty once every future was handed out.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn half(x: u64) -> u64 {
    ///     x / 2
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let halves = client.map(half::REMOTE, ((0..100u64).collect::<Vec<_>>(),))?;
    ///     let mut done = client.as_completed(&halves);
    ///     let mut seen = 0;
    ///     loop {
    ///         let batch = done.next_batch();
    ///         if batch.is_empty() {
    ///             break;
    ///         }
    ///         let futures: Vec<_> = batch.iter().map(|(_, f)| f.clone()).collect();
    ///         for ((i, _), v) in batch.iter().zip(client.gather(&futures)?) {
    ///             assert_eq!(v, *i as u64 / 2);
    ///         }
    ///         seen += batch.len();
    ///     }
    ///     assert_eq!(seen, 100);
    ///     Ok(())
    /// }
    /// ```
    pub fn next_batch(&mut self) -> Vec<(usize, ClusterFuture<R>)> {
        let Some(first) = self.next_indexed() else {
            return Vec::new();
        };
        let mut batch = vec![first];
        let inner = Arc::clone(&self.inner);
        self.move_ended(&lock(&inner.state));
        batch.extend(self.ended.drain(..));
        batch
    }
}

impl<R> Iterator for AsCompleted<R> {
    type Item = ClusterFuture<R>;

    fn next(&mut self) -> Option<ClusterFuture<R>> {
        self.next_indexed().map(|(_, f)| f)
    }
}

/// A task graph of registered calls, by key, as Dask's graphs are: a
/// node's arguments are values or other nodes' keys
/// ([`Arg::key`](crate::Arg::key)). [`Client::compute_graph`] submits it
/// whole.
///
/// ```
/// use flotilla_cluster::{remote, Arg, CallGraph};
///
/// #[remote(crate = flotilla_cluster)]
/// fn add(a: i64, b: i64) -> i64 { a + b }
///
/// fn main() {
///     let mut g = CallGraph::new();
///     g.add("x", add::call(1, 2)).unwrap();
///     g.add("y", add::call(Arg::key("x"), Arg::key("x"))).unwrap();
///     assert!(g.add("x", add::call(0, 0)).is_err(), "a key is added once");
/// }
/// ```
#[derive(Debug, Default)]
pub struct CallGraph {
    nodes: Vec<GraphNode>,
    index: HashMap<String, usize>,
}

/// Turns `submit` into a checkpointed task of `checkpoint`: a read of the
/// result kept under its key when the folder has it, else the task itself
/// with the file its worker writes the result to. Returns the key.
/// `input_key` gives the key of the task behind each future argument.
/// `(version, given)` names the task: a key given whole, or one made of
/// the function, the version and the arguments.
fn checkpointed(
    submit: &mut Submit,
    checkpoint: &Checkpoint,
    (version, given): (&str, Option<&str>),
    input_key: impl Fn(u64) -> Option<Arc<str>>,
) -> Result<Arc<str>, ClusterError> {
    let key = match given {
        Some(given) => checkpoint::given_key(given).map_err(|e| {
            ClusterError::Config(format!("a checkpointed task of {}: {e}", submit.function))
        })?,
        None => {
            checkpoint::key_of(&submit.function, version, &submit.args, input_key).map_err(|n| {
                ClusterError::Config(format!(
                    "a checkpointed task of {} takes as argument {n} the future of a task that \
                     is not checkpointed, so its result has no key: checkpoint that task too, \
                     or pass the value",
                    submit.function
                ))
            })?
        }
    };
    let path = checkpoint.path_of(&key);
    let found = path.is_file();
    checkpoint.count(found);
    let path = path.to_string_lossy().into_owned();
    if found {
        // Read back where it is kept instead of computed.
        let arg = postcard::to_stdvec(&path).map_err(|e| ClusterError::Codec {
            what: format!("the checkpoint path of a task of {}", submit.function),
            reason: e.to_string(),
        })?;
        submit.function = checkpoint::LOAD.to_string();
        submit.args = vec![ClientArg::Value(arg)];
        submit.reads = vec![path];
    } else {
        submit.checkpoint = Some(path);
    }
    Ok(Arc::from(key))
}

#[derive(Debug)]
struct GraphNode {
    key: String,
    function: &'static str,
    args: Vec<ClientArg>,
    keys: Vec<(usize, String)>,
    retries: u32,
    resources: Vec<(String, u64)>,
    reads: Vec<String>,
    checkpoint: Option<Checkpoint>,
    version: String,
    given_key: Option<String>,
    input_keys: Vec<(u64, Option<Arc<str>>)>,
}

impl CallGraph {
    /// An empty graph.
    ///
    /// ```
    /// use flotilla_cluster::CallGraph;
    ///
    /// let g = CallGraph::new();
    /// assert!(g.is_empty());
    /// ```
    pub fn new() -> CallGraph {
        CallGraph::default()
    }

    /// Adds the node `key`: `call`, whose arguments may name other nodes.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] for a key already in the graph;
    /// [`ClusterError::Codec`] for an argument that does not encode.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Arg, CallGraph, ClusterError};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() {
    ///     let mut g = CallGraph::new();
    ///     g.add("x", add::call(1, 2)).unwrap();
    ///     // A node may name a key added later: the graph is checked when computed.
    ///     g.add("z", add::call(Arg::key("x"), Arg::key("y"))).unwrap();
    ///     g.add("y", add::call(Arg::key("x"), 10)).unwrap();
    ///     assert_eq!(g.len(), 3);
    ///
    ///     let again = g.add("x", add::call(0, 0));
    ///     assert!(matches!(again, Err(ClusterError::Config(_))));
    /// }
    /// ```
    pub fn add<R>(&mut self, key: &str, call: Call<R>) -> Result<(), ClusterError> {
        if self.index.contains_key(key) {
            return Err(ClusterError::Config(format!(
                "the key {key:?} is in the graph twice"
            )));
        }
        if let Some(reason) = call.error {
            return Err(ClusterError::Codec {
                what: format!("node {key:?} ({})", call.function),
                reason,
            });
        }
        self.index.insert(key.to_string(), self.nodes.len());
        self.nodes.push(GraphNode {
            key: key.to_string(),
            function: call.function,
            args: call.args,
            keys: call.keys,
            retries: call.retries,
            resources: call.resources,
            reads: call.reads,
            checkpoint: call.checkpoint,
            version: call.version,
            given_key: call.given_key,
            input_keys: call.input_keys,
        });
        Ok(())
    }

    /// Its number of nodes.
    ///
    /// ```
    /// use flotilla_cluster::{remote, CallGraph};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn double(x: u32) -> u32 {
    ///     2 * x
    /// }
    ///
    /// fn main() {
    ///     let mut g = CallGraph::new();
    ///     for i in 0..5 {
    ///         g.add(&format!("double-{i}"), double::call(i)).unwrap();
    ///     }
    ///     assert_eq!(g.len(), 5);
    /// }
    /// ```
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether it has no node.
    ///
    /// ```
    /// use flotilla_cluster::{remote, CallGraph};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn double(x: u32) -> u32 {
    ///     2 * x
    /// }
    ///
    /// fn main() {
    ///     let mut g = CallGraph::new();
    ///     assert!(g.is_empty());
    ///     g.add("d", double::call(21)).unwrap();
    ///     assert!(!g.is_empty());
    /// }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The nodes in an order where every node comes after those it names.
    fn order(&self) -> Result<Vec<usize>, ClusterError> {
        let mut deps: Vec<Vec<usize>> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let mut mine = Vec::new();
            for (i, key) in &node.keys {
                let d = *self.index.get(key).ok_or_else(|| {
                    ClusterError::Config(format!(
                        "argument {i} of node {:?} names {key:?}, which is not in the graph",
                        node.key
                    ))
                })?;
                mine.push(d);
            }
            deps.push(mine);
        }
        let mut readers: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
        for (n, ds) in deps.iter().enumerate() {
            for &d in ds {
                readers[d].push(n);
            }
        }
        let mut order: Vec<usize> = (0..self.nodes.len()).filter(|&n| waiting[n] == 0).collect();
        let mut next = 0;
        while next < order.len() {
            let n = order[next];
            next += 1;
            for &r in &readers[n] {
                waiting[r] -= 1;
                if waiting[r] == 0 {
                    order.push(r);
                }
            }
        }
        if order.len() < self.nodes.len() {
            let stuck = (0..self.nodes.len()).find(|&n| waiting[n] > 0).unwrap_or(0);
            return Err(ClusterError::Config(format!(
                "the graph has a cycle through node {:?}",
                self.nodes[stuck].key
            )));
        }
        Ok(order)
    }
}

/// The futures of a computed [`CallGraph`], by key; dropping it releases
/// the results nobody else holds.
///
/// ```
/// use flotilla_cluster::{remote, Arg, CallGraph, Client, GraphFutures};
///
/// #[remote(crate = flotilla_cluster)]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let client = Client::in_process(2)?;
///     let mut g = CallGraph::new();
///     g.add("x", add::call(1, 2))?;
///     g.add("y", add::call(Arg::key("x"), 10))?;
///     let results: GraphFutures = client.compute_graph(&g)?;
///     assert_eq!(results.result::<i64>("y")?, 13);
///     assert_eq!(results.result::<i64>("x")?, 3);
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct GraphFutures {
    futures: HashMap<String, ClusterFuture<()>>,
}

impl GraphFutures {
    /// The future of node `key`, as a result of type `R` (the type of the
    /// node's function; another type fails to decode).
    ///
    /// ```
    /// use flotilla_cluster::{remote, Arg, CallGraph, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let mut g = CallGraph::new();
    ///     g.add("x", add::call(1, 2))?;
    ///     g.add("y", add::call(Arg::key("x"), 10))?;
    ///     let results = client.compute_graph(&g)?;
    ///
    ///     // A node's future is an argument like any other task's.
    ///     let y = results.future::<i64>("y").expect("y is in the graph");
    ///     let z = client.submit(add::call(&y, 100))?;
    ///     assert_eq!(z.result()?, 113);
    ///     assert!(results.future::<i64>("nope").is_none());
    ///     Ok(())
    /// }
    /// ```
    pub fn future<R>(&self, key: &str) -> Option<ClusterFuture<R>> {
        self.futures.get(key).map(|f| ClusterFuture {
            handle: Arc::clone(&f.handle),
            function: f.function,
            _result: PhantomData,
        })
    }

    /// The result of node `key`, once it is done.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] for a key not in the graph; otherwise as
    /// [`ClusterFuture::result`].
    ///
    /// ```
    /// use flotilla_cluster::{remote, CallGraph, Client, ClusterError};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let mut g = CallGraph::new();
    ///     g.add("x", add::call(20, 22))?;
    ///     let results = client.compute_graph(&g)?;
    ///     assert_eq!(results.result::<i64>("x")?, 42);
    ///     assert!(matches!(results.result::<i64>("nope"), Err(ClusterError::Config(_))));
    ///     Ok(())
    /// }
    /// ```
    pub fn result<R: DeserializeOwned>(&self, key: &str) -> Result<R, ClusterError> {
        self.future::<R>(key)
            .ok_or_else(|| ClusterError::Config(format!("the graph has no node {key:?}")))?
            .result()
    }
}

impl Client {
    /// Submits every node of `graph` at once, each waiting for the nodes
    /// it names.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] for a node naming a key not in the graph,
    /// or a cycle (naming a node on it), before anything is submitted;
    /// [`ClusterError::Disconnected`] when the scheduler is gone.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Arg, CallGraph, Client, ClusterError};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     // A diamond: x feeds y and z, which both feed w.
    ///     let mut g = CallGraph::new();
    ///     g.add("w", add::call(Arg::key("y"), Arg::key("z")))?;
    ///     g.add("y", add::call(Arg::key("x"), 1))?;
    ///     g.add("z", add::call(Arg::key("x"), 2))?;
    ///     g.add("x", add::call(1, 2))?;
    ///     let results = client.compute_graph(&g)?;
    ///     assert_eq!(results.result::<i64>("w")?, 9);
    ///
    ///     // A cycle is refused before anything runs.
    ///     let mut cyclic = CallGraph::new();
    ///     cyclic.add("a", add::call(Arg::key("b"), 0))?;
    ///     cyclic.add("b", add::call(Arg::key("a"), 0))?;
    ///     assert!(matches!(client.compute_graph(&cyclic), Err(ClusterError::Config(_))));
    ///     Ok(())
    /// }
    /// ```
    pub fn compute_graph(&self, graph: &CallGraph) -> Result<GraphFutures, ClusterError> {
        let order = graph.order()?;
        let mut ids = vec![0u64; graph.nodes.len()];
        let mut batch = Vec::with_capacity(order.len());
        let mut futures = HashMap::with_capacity(order.len());
        // The checkpoint keys of the nodes submitted so far, by id.
        let mut node_keys: HashMap<u64, Arc<str>> = HashMap::new();
        for n in order {
            let node = &graph.nodes[n];
            let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            ids[n] = id;
            let mut args = node.args.clone();
            for (i, key) in &node.keys {
                if let (Some(&d), Some(slot)) = (graph.index.get(key), args.get_mut(*i)) {
                    *slot = ClientArg::Future(ids[d]);
                }
            }
            let mut submit = Submit {
                id,
                function: node.function.to_string(),
                args,
                retries: node.retries,
                resources: node.resources.clone(),
                reads: node.reads.clone(),
                checkpoint: None,
            };
            let mut future = ClusterFuture::new(id, node.function, self);
            if let Some(checkpoint) = &node.checkpoint {
                let input_key = |id: u64| {
                    node_keys
                        .get(&id)
                        .cloned()
                        .or_else(|| node.input_keys.iter().find(|(i, _)| *i == id)?.1.clone())
                };
                let name = (node.version.as_str(), node.given_key.as_deref());
                let key = checkpointed(&mut submit, checkpoint, name, input_key)
                    .map_err(|e| ClusterError::Config(format!("node {:?}: {e}", node.key)))?;
                node_keys.insert(id, Arc::clone(&key));
                future.set_checkpoint_key(key);
            }
            batch.push(submit);
            futures.insert(node.key.clone(), future);
        }
        self.send(ClientMessage::Submit(batch))?;
        Ok(GraphFutures { futures })
    }
}
