//! A private PostgreSQL server in a folder, on a free loopback port: what
//! tests and demos write to, as `LocalCluster` is what they compute on.
//!
//! It runs Debian's (or any installed) server programs: `initdb` makes a
//! fresh data folder trusting local connections, `postgres` serves it on
//! 127.0.0.1 only, with durability off (a throwaway database). PostgreSQL
//! refuses to run as root; started by root, the server runs as the
//! `postgres` user (which owns the folder).

use std::io::Read as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::SinkError;

/// A PostgreSQL server of its own, started in a folder and stopped (and
/// reaped) when dropped, also when a test fails.
///
/// ```no_run
/// use flotilla_sink::{ColumnType, LocalPostgres, Sink, Table};
///
/// # fn main() -> Result<(), flotilla_sink::SinkError> {
/// let server = LocalPostgres::start(std::env::temp_dir().join("pg-demo"))?;
/// let sink = Sink::open(&server.url())?;
/// let t = Table::new("t").column("n", ColumnType::Integer).key(["n"]);
/// sink.create(&t)?;
/// sink.upsert(&t, &[vec![1.into()]])?;
/// assert_eq!(sink.count(&t)?, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LocalPostgres {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

/// How long the server may take to accept connections.
const STARTUP: Duration = Duration::from_secs(60);

impl LocalPostgres {
    /// Makes a data folder under `dir` (which must not hold one yet) and
    /// starts a server on it; returns once it accepts connections.
    ///
    /// # Errors
    ///
    /// [`SinkError::Connect`] naming what failed: the server programs not
    /// found (install Debian's `postgresql` package, or set
    /// `FLOTILLA_POSTGRES_BIN` to the folder holding `initdb` and
    /// `postgres`), `initdb` or the server failing (with the end of their
    /// output), or no connection within a minute.
    ///
    /// ```no_run
    /// let server = flotilla_sink::LocalPostgres::start("/tmp/pg-example").unwrap();
    /// assert!(server.url().starts_with("postgres://postgres@127.0.0.1:"));
    /// ```
    pub fn start(dir: impl AsRef<Path>) -> Result<LocalPostgres, SinkError> {
        let dir = dir.as_ref().to_path_buf();
        let failed = |reason: String| SinkError::Connect {
            target: format!("a PostgreSQL server in {}", dir.display()),
            reason,
        };
        let bin = server_programs().map_err(&failed)?;
        let data = dir.join("data");
        std::fs::create_dir_all(&dir).map_err(|e| failed(format!("creating the folder: {e}")))?;
        let as_root = is_root();
        if as_root {
            // PostgreSQL refuses root: the folder goes to its own user.
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir))
            .map_err(|e| failed(format!("giving the folder to the postgres user: {e}")))?;
        }
        run(as_server_user(as_root, bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]))
        .map_err(|e| failed(format!("initdb: {e}")))?;
        let port = free_port().map_err(|e| failed(format!("finding a free port: {e}")))?;
        let log = dir.join("server.log");
        let log_file = std::fs::File::create(&log)
            .map_err(|e| failed(format!("creating {}: {e}", log.display())))?;
        let child = as_server_user(as_root, bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "unix_socket_directories="])
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "synchronous_commit=off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| failed(format!("starting postgres: {e}")))?;
        let mut server = LocalPostgres {
            child: Some(child),
            port,
            dir: dir.clone(),
        };
        server.wait_ready().map_err(|why| {
            let tail = log_tail(&log);
            failed(format!("{why}; the server's log ends:\n{tail}"))
        })?;
        Ok(server)
    }

    /// The server's address for [`Sink::open`](crate::Sink::open): the
    /// `postgres` database as the `postgres` user, on 127.0.0.1.
    ///
    /// ```no_run
    /// let server = flotilla_sink::LocalPostgres::start("/tmp/pg-url").unwrap();
    /// println!("{}", server.url());
    /// ```
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The port it listens on (on 127.0.0.1).
    ///
    /// ```no_run
    /// let server = flotilla_sink::LocalPostgres::start("/tmp/pg-port").unwrap();
    /// assert!(server.port() > 0);
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder it was started in.
    ///
    /// ```no_run
    /// let server = flotilla_sink::LocalPostgres::start("/tmp/pg-dir").unwrap();
    /// assert!(server.dir().join("data").exists());
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("postgres ended at start ({status})"));
                }
            }
            match postgres::Client::connect(&self.url(), postgres::NoTls) {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("no connection within {STARTUP:?}: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // A fast shutdown (SIGINT): clients are disconnected, the server
        // stops its processes and exits.
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The folder holding `initdb` and `postgres`.
fn server_programs() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("FLOTILLA_POSTGRES_BIN") {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").exists() && dir.join("postgres").exists() {
            return Ok(dir);
        }
        return Err(format!(
            "FLOTILLA_POSTGRES_BIN={} holds no initdb and postgres",
            dir.display()
        ));
    }
    // Debian keeps them per version, off the PATH; take the newest.
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("postgres").exists()).then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if dir.join("initdb").exists() && dir.join("postgres").exists() {
            return Ok(dir);
        }
    }
    Err(
        "PostgreSQL's server programs (initdb, postgres) were not found: install Debian's \
         `postgresql` package or set FLOTILLA_POSTGRES_BIN to the folder holding them"
            .into(),
    )
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program`, run as the `postgres` user when this process is root.
fn as_server_user(as_root: bool, program: PathBuf) -> Command {
    if as_root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Runs a command to its end; `Err` holds its output when it fails.
fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    Err(format!("{} — {}", out.status, text.trim()))
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// The last lines of the server's log.
fn log_tail(log: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(log) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
