//! The scheduler process: one [`flotilla_core::Scheduler`] serving every
//! worker and client of a cluster.
//!
//! [`state`] holds what the network layer needs around the core (task
//! specs, owners, where results are) and turns core commands into
//! messages; [`server`] is the tokio shell. [`SchedulerServer`] runs it on
//! a thread of its own (as `LocalCluster` and tests do);
//! `flotilla scheduler` runs it in the foreground.

mod server;
pub(crate) mod state;
mod watch;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use flotilla_core::{Placement, Speculation};
use tokio::sync::oneshot;

pub(crate) use server::log;
use server::{bind, serve, ServerConfig};

use crate::error::ClusterError;
use crate::protocol::{Token, MAX_FRAME_BYTES};
use crate::tls::Tls;

/// How a scheduler runs.
///
/// ```
/// use flotilla_cluster::SchedulerOptions;
/// let o = SchedulerOptions::new().listen("127.0.0.1:0");
/// assert_eq!(o.listen_addr(), "127.0.0.1:0");
/// ```
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    listen: String,
    placement: Placement,
    token: Option<Token>,
    token_file: Option<PathBuf>,
    max_frame: usize,
    worker_timeout: Duration,
    retries: u32,
    suspicious_after: Option<u32>,
    transfer_rate: f64,
    tls: Option<Tls>,
    speculation: Option<Speculation>,
    dashboard: Option<String>,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions::new()
    }
}

impl SchedulerOptions {
    /// Loopback on port 8786, work stealing, the token of
    /// `FLOTILLA_TOKEN` if set.
    ///
    /// ```
    /// assert_eq!(flotilla_cluster::SchedulerOptions::new().listen_addr(), "127.0.0.1:8786");
    /// ```
    pub fn new() -> SchedulerOptions {
        SchedulerOptions {
            listen: "127.0.0.1:8786".into(),
            placement: Placement::WorkStealing,
            token: Token::from_env(),
            token_file: None,
            max_frame: MAX_FRAME_BYTES,
            worker_timeout: Duration::from_secs(10),
            retries: 0,
            suspicious_after: None,
            transfer_rate: 1e9,
            tls: None,
            speculation: None,
            dashboard: None,
        }
    }

    /// The address to listen on (`HOST:PORT`; port 0 picks a free one).
    ///
    /// ```
    /// use flotilla_cluster::SchedulerOptions;
    ///
    /// let everywhere = SchedulerOptions::new().listen("0.0.0.0:8786");
    /// assert_eq!(everywhere.listen_addr(), "0.0.0.0:8786");
    /// ```
    pub fn listen(mut self, addr: &str) -> SchedulerOptions {
        self.listen = addr.to_string();
        self
    }

    /// The address it will listen on.
    ///
    /// ```
    /// use flotilla_cluster::{SchedulerOptions, SchedulerServer};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = SchedulerOptions::new().listen("127.0.0.1:0");
    /// assert_eq!(options.listen_addr(), "127.0.0.1:0");
    /// // The port actually taken is the server's.
    /// let server = SchedulerServer::start(options)?;
    /// assert_ne!(server.addr().port(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn listen_addr(&self) -> &str {
        &self.listen
    }

    /// The placement policy for every task.
    ///
    /// ```
    /// use flotilla_cluster::{Placement, SchedulerOptions};
    /// let _ = SchedulerOptions::new().placement(Placement::RoundRobin);
    /// ```
    pub fn placement(mut self, placement: Placement) -> SchedulerOptions {
        self.placement = placement;
        self
    }

    /// The token every worker and client must prove.
    ///
    /// ```
    /// use flotilla_cluster::{Client, SchedulerOptions, SchedulerServer, Token};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let token = Token::new("correct horse battery staple")?;
    /// let server = SchedulerServer::start(
    ///     SchedulerOptions::new().listen("127.0.0.1:0").token(Some(token.clone())),
    /// )?;
    /// assert_eq!(server.token(), Some(&token));
    /// let addr = server.addr().to_string();
    /// assert!(Client::connect_with(&addr, None).is_err(), "no token, no entry");
    /// assert!(Client::connect_with(&addr, Some(token)).is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn token(mut self, token: Option<Token>) -> SchedulerOptions {
        self.token = token;
        self
    }

    /// Where to write a generated token when the scheduler listens beyond
    /// loopback without one (default `flotilla-token` in the current
    /// folder).
    ///
    /// ```
    /// use flotilla_cluster::{SchedulerOptions, SchedulerServer, Token};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let path = std::env::temp_dir().join(format!("flotilla-token-doc-{}", std::process::id()));
    /// // Beyond loopback without a token: one is made and written there.
    /// let server = SchedulerServer::start(
    ///     SchedulerOptions::new().listen("0.0.0.0:0").token(None).token_file(path.clone()),
    /// )?;
    /// assert_eq!(Some(&Token::from_file(&path)?), server.token());
    /// # std::fs::remove_file(&path)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn token_file(mut self, path: PathBuf) -> SchedulerOptions {
        self.token_file = Some(path);
        self
    }

    /// Encrypts every connection with `tls` (default none). Its workers
    /// and clients must be given the same set-up.
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// use flotilla_cluster::{SchedulerOptions, SchedulerServer, Tls};
    /// let dir = std::env::temp_dir().join(format!("flotilla-tls-sched-{}", std::process::id()));
    /// let tls = Tls::generate(&dir).unwrap();
    /// let server = SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0").tls(Some(tls))).unwrap();
    /// assert!(server.addr().port() > 0);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    pub fn tls(mut self, tls: Option<Tls>) -> SchedulerOptions {
        self.tls = tls;
        self
    }

    /// The largest frame accepted from any connection.
    ///
    /// ```
    /// let _ = flotilla_cluster::SchedulerOptions::new().max_frame_bytes(1 << 20);
    /// ```
    pub fn max_frame_bytes(mut self, bytes: usize) -> SchedulerOptions {
        self.max_frame = bytes;
        self
    }

    /// How long a worker may stay silent before it is removed and its
    /// tasks given to others (default 10 s). Workers are told to send a
    /// heartbeat four times in that span.
    ///
    /// ```
    /// use std::time::Duration;
    /// let _ = flotilla_cluster::SchedulerOptions::new().worker_timeout(Duration::from_secs(30));
    /// ```
    pub fn worker_timeout(mut self, timeout: Duration) -> SchedulerOptions {
        self.worker_timeout = timeout.max(Duration::from_millis(40));
        self
    }

    /// Retries every task gets after an error or a panic (default 0; a
    /// task's own retries win when higher).
    ///
    /// ```
    /// let _ = flotilla_cluster::SchedulerOptions::new().retries(2);
    /// ```
    pub fn retries(mut self, retries: u32) -> SchedulerOptions {
        self.retries = retries;
        self
    }

    /// After how many lost workers a task that was running on each of
    /// them fails as suspicious instead of being run again (default 3).
    ///
    /// ```
    /// let _ = flotilla_cluster::SchedulerOptions::new().suspicious_after(1);
    /// ```
    pub fn suspicious_after(mut self, workers: u32) -> SchedulerOptions {
        self.suspicious_after = Some(workers.max(1));
        self
    }

    /// How fast results move between workers, in bytes per second
    /// (default 1e9): a queued task moves to a worker that ran dry only
    /// when sending it its inputs takes less time than it would wait
    /// where it is.
    ///
    /// ```
    /// let _ = flotilla_cluster::SchedulerOptions::new().transfer_rate(125e6); // 1 Gbit/s
    /// ```
    pub fn transfer_rate(mut self, bytes_per_second: f64) -> SchedulerOptions {
        self.transfer_rate = bytes_per_second;
        self
    }

    /// Copies a task that runs far longer than the others of its kind
    /// (`speculation`'s factor times their learned duration) onto another
    /// worker with a thread to spare; the first result is kept and the
    /// other attempt stopped (default off). [`ClusterStatus`](crate::ClusterStatus)
    /// counts the copies launched and won.
    ///
    /// ```
    /// use flotilla_cluster::{SchedulerOptions, Speculation};
    /// let _ = SchedulerOptions::new().speculation(Some(Speculation::new(3.0)));
    /// ```
    pub fn speculation(mut self, speculation: Option<Speculation>) -> SchedulerOptions {
        self.speculation = speculation;
        self
    }

    /// Serves a live dashboard of the cluster at `addr` (`host:port`; port
    /// 0 picks a free one; default none): its workers with their busy
    /// time, queues, memory and spilled bytes, progress per kind of task,
    /// the task stream of the last seconds (a lane per worker thread, a
    /// bar per task coloured by kind, steals marked), the scheduler's
    /// decisions, the placement policy — and Prometheus metrics at
    /// `/metrics`. With the `dashboard` feature.
    ///
    /// ```
    /// use flotilla_cluster::{SchedulerOptions, SchedulerServer};
    /// let server = SchedulerServer::start(
    ///     SchedulerOptions::new().listen("127.0.0.1:0").dashboard(Some("127.0.0.1:0".into())),
    /// )
    /// .unwrap();
    /// assert!(server.dashboard_addr().is_some());
    /// ```
    #[cfg(feature = "dashboard")]
    pub fn dashboard(mut self, addr: Option<String>) -> SchedulerOptions {
        self.dashboard = addr;
        self
    }

    /// The token in force: the one given, or — listening beyond loopback
    /// without one — a fresh one written to the token file, readable by
    /// this user only.
    fn resolve_token(&self, addr: SocketAddr) -> Result<Option<Token>, ClusterError> {
        if self.token.is_some() || is_loopback(addr.ip()) {
            return Ok(self.token.clone());
        }
        let token = Token::random()?;
        let path = self
            .token_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("flotilla-token"));
        write_private(&path, token.expose())?;
        log(&format!(
            "listening on {addr} beyond loopback: the token is in {} (give it to workers and clients with --token-file)",
            path.display()
        ));
        Ok(Some(token))
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

/// Writes `text` to a file only this user can read (a token, a key).
#[cfg(unix)]
pub(crate) fn write_private(path: &std::path::Path, text: &str) -> Result<(), ClusterError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| ClusterError::io(format!("writing {}", path.display()), e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| ClusterError::io(format!("writing {}", path.display()), e))
}

/// Writes `text` to `path` (no owner-only mode off Unix).
#[cfg(not(unix))]
pub(crate) fn write_private(path: &std::path::Path, text: &str) -> Result<(), ClusterError> {
    std::fs::write(path, text)
        .map_err(|e| ClusterError::io(format!("writing {}", path.display()), e))
}

/// A scheduler running on a thread of this process; dropping it stops it
/// (its workers then exit, seeing the connection close).
///
/// ```
/// use flotilla_cluster::{SchedulerOptions, SchedulerServer};
/// let s = SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0")).unwrap();
/// assert!(s.addr().ip().is_loopback());
/// drop(s);
/// ```
#[derive(Debug)]
pub struct SchedulerServer {
    addr: SocketAddr,
    token: Option<Token>,
    /// The dashboard's server, stopped before the scheduler.
    #[cfg(feature = "dashboard")]
    dashboard: Option<flotilla_dashboard::Dashboard>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SchedulerServer {
    /// Binds and starts serving in the background.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] when the address cannot be bound or the
    /// runtime cannot start; [`ClusterError::Config`] when a token was
    /// needed and none could be made.
    ///
    /// ```
    /// use flotilla_cluster::{Client, SchedulerOptions, SchedulerServer};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0").token(None))?;
    /// let client = Client::connect_with(&server.addr().to_string(), None)?;
    /// assert!(client.status()?.workers.is_empty());
    /// drop(client);
    /// drop(server); // stops serving
    /// # Ok(())
    /// # }
    /// ```
    pub fn start(options: SchedulerOptions) -> Result<SchedulerServer, ClusterError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("flotilla-scheduler")
            .enable_all()
            .build()
            .map_err(|e| ClusterError::io("starting the scheduler's runtime", e))?;
        let listener = runtime.block_on(bind(&options.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ClusterError::io(format!("listening on {}", options.listen), e))?;
        let token = options.resolve_token(addr)?;
        let watch = options.dashboard.as_ref().map(|_| {
            std::sync::Arc::new(std::sync::Mutex::new(watch::Watch::new(
                options.placement.name(),
            )))
        });
        #[cfg(feature = "dashboard")]
        let dashboard = match (&options.dashboard, &watch) {
            (Some(at), Some(watch)) => Some(
                flotilla_dashboard::Dashboard::serve(
                    at,
                    std::sync::Arc::new(watch::SharedWatch::new(std::sync::Arc::clone(watch))),
                )
                .map_err(|e| ClusterError::dashboard(at, e))?,
            ),
            _ => None,
        };
        let config = ServerConfig {
            placement: options.placement,
            token: token.clone(),
            max_frame: options.max_frame,
            worker_timeout: options.worker_timeout,
            retries: options.retries,
            suspicious_after: options.suspicious_after,
            transfer_rate: options.transfer_rate,
            tls: options.tls.clone(),
            speculation: options.speculation,
            watch,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("flotilla-scheduler".into())
            .spawn(move || {
                runtime.block_on(serve(listener, config, async {
                    let _ = stopped.await;
                }));
                runtime.shutdown_background();
            })
            .map_err(|e| ClusterError::io("starting the scheduler's thread", e))?;
        Ok(SchedulerServer {
            addr,
            token,
            #[cfg(feature = "dashboard")]
            dashboard,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    ///
    /// ```
    /// use flotilla_cluster::{SchedulerOptions, SchedulerServer};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0"))?;
    /// let addr = server.addr();
    /// assert!(addr.ip().is_loopback());
    /// assert_ne!(addr.port(), 0, "port 0 became a free port");
    /// # Ok(())
    /// # }
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address its dashboard is served at, when it serves one (see
    /// [`SchedulerOptions::dashboard`]).
    ///
    /// ```
    /// use flotilla_cluster::{SchedulerOptions, SchedulerServer};
    /// let server = SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0")).unwrap();
    /// assert_eq!(server.dashboard_addr(), None);
    /// ```
    pub fn dashboard_addr(&self) -> Option<SocketAddr> {
        #[cfg(feature = "dashboard")]
        return self
            .dashboard
            .as_ref()
            .map(flotilla_dashboard::Dashboard::addr);
        #[cfg(not(feature = "dashboard"))]
        None
    }

    /// The token in force, if any.
    ///
    /// ```
    /// use flotilla_cluster::{SchedulerOptions, SchedulerServer, Token};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let open = SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0").token(None))?;
    /// assert_eq!(open.token(), None, "loopback needs no token");
    ///
    /// let token = Token::random()?;
    /// let closed = SchedulerServer::start(
    ///     SchedulerOptions::new().listen("127.0.0.1:0").token(Some(token.clone())),
    /// )?;
    /// assert_eq!(closed.token(), Some(&token));
    /// # Ok(())
    /// # }
    /// ```
    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// Serves in the foreground until the process ends.
    ///
    /// # Errors
    ///
    /// As [`SchedulerServer::start`].
    ///
    /// ```no_run
    /// use flotilla_cluster::{SchedulerOptions, SchedulerServer};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // What `flotilla scheduler --listen 0.0.0.0:8786` does.
    /// SchedulerServer::run(SchedulerOptions::new().listen("0.0.0.0:8786"), |addr| {
    ///     println!("scheduler listening on {addr}")
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn run(
        options: SchedulerOptions,
        on_listening: impl FnOnce(SocketAddr),
    ) -> Result<(), ClusterError> {
        let server = SchedulerServer::start(options)?;
        on_listening(server.addr);
        server.wait();
        Ok(())
    }

    /// Serves in the foreground until the process ends (what
    /// [`SchedulerServer::run`] does after starting).
    ///
    /// ```no_run
    /// use flotilla_cluster::{SchedulerOptions, SchedulerServer};
    /// let server = SchedulerServer::start(SchedulerOptions::new()).unwrap();
    /// println!("listening on {}", server.addr());
    /// server.wait();
    /// ```
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SchedulerServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::protocol::{FrameReader, FrameWriter, Role};

    #[test]
    fn beyond_loopback_without_a_token_one_is_made_for_this_user_only() {
        let path = std::env::temp_dir().join(format!("flotilla-token-test-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let server = SchedulerServer::start(
            SchedulerOptions::new()
                .listen("0.0.0.0:0")
                .token(None)
                .token_file(path.clone()),
        )
        .unwrap();
        let token = server.token().cloned().expect("a token was made");
        assert_eq!(Token::from_file(&path).unwrap(), token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Reached over loopback, it wants that token.
        let addr = format!("127.0.0.1:{}", server.addr().port());
        assert!(crate::Client::connect_with(&addr, None).is_err());
        let client = crate::Client::connect_with(&addr, Some(token)).unwrap();
        assert!(client.status().unwrap().workers.is_empty());
        drop(client);
        drop(server);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_process_of_another_build_is_refused_naming_both_builds() {
        let server =
            SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0").token(None))
                .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = runtime.block_on(async {
            let stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
            let (r, w) = stream.into_split();
            let mut reader = FrameReader::new(r, 1 << 20, "scheduler".into());
            let mut writer = FrameWriter::new(w, "scheduler".into());
            crate::protocol::connect_as(
                &mut reader,
                &mut writer,
                Role::Worker,
                None,
                "flotilla 9.9.9 (protocol 1)",
            )
            .await
            .unwrap_err()
        });
        let message = err.to_string();
        assert!(
            message.contains("9.9.9") && message.contains(crate::protocol::build()),
            "{message}"
        );
    }
}
