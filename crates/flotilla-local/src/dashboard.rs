//! A live dashboard of a pool (the `dashboard` feature).
//!
//! [`CpuPool::dashboard`] serves the page of `flotilla_dashboard` for one
//! pool: it holds a [`Recorder`] of the pool for as long as it is served,
//! and answers each request with what the recording holds then — the
//! spans of every task, the tasks planned per kind, the queues, the
//! latest small graph. [`ComputeOptions::dashboard`](crate::ComputeOptions::dashboard)
//! and the `FLOTILLA_DASHBOARD` variable start one that lasts as long as
//! the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use flotilla_dashboard::live::{GraphNode, GraphShape, Live, Source};
use flotilla_dashboard::{Dashboard, DashboardError};

use crate::executor::CpuPool;
use crate::recording::Recorder;

/// The variable that starts a dashboard of the default pool at its
/// address (`host:port`).
pub(crate) const DASHBOARD_VARIABLE: &str = "FLOTILLA_DASHBOARD";

struct PoolSource {
    recorder: Recorder,
    pool: CpuPool,
}

impl Source for PoolSource {
    fn live(&self) -> Live {
        let trace = self.recorder.trace(&format!(
            "flotilla: {} threads in this process",
            self.pool.threads()
        ));
        let recording = self.recorder.recording();
        let graph = recording.graph().map(|(graph, done)| GraphShape {
            nodes: graph
                .keys
                .iter()
                .zip(&graph.kinds)
                .zip(&done)
                .map(|((key, &kind), &done)| GraphNode {
                    key: key.clone(),
                    kind,
                    done,
                })
                .collect(),
            edges: graph.edges.clone(),
        });
        Live {
            trace,
            planned: recording.planned(),
            memory: vec![resident_bytes()],
            spilled: vec![0],
            queued: self.pool.handle().queued(),
            placement: self.pool.placement().name().to_string(),
            graph,
        }
    }
}

/// This process's resident memory, where the system says it (Linux);
/// else 0.
fn resident_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

impl CpuPool {
    /// Serves a live dashboard of this pool at `addr` (`host:port`; port
    /// 0 picks a free one): the pool's threads with their busy time and
    /// queues, progress per kind of task, the task stream of the last
    /// seconds (a lane per thread, a bar per task coloured by kind, steals
    /// marked), the latest graph's shape when it has up to 200 tasks, the
    /// placement policy; it updates itself twice a second over
    /// server-sent events. `/metrics` on the same address serves the
    /// pool's Prometheus metrics. The pool is recorded while the returned
    /// [`Dashboard`] lives (32 bytes per task run: see
    /// [`CpuPool::record`]); dropping it stops the server.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// let dashboard = pool.dashboard("127.0.0.1:0").unwrap();
    /// pool.map(0..100u64, |i| i + 1).for_each(drop);
    ///
    /// let mut http = std::net::TcpStream::connect(dashboard.addr()).unwrap();
    /// http.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    /// let mut text = String::new();
    /// http.read_to_string(&mut text).unwrap();
    /// assert!(text.contains("flotilla_tasks{state=\"done\"} 100"), "{text}");
    /// ```
    pub fn dashboard(&self, addr: &str) -> Result<Dashboard, DashboardError> {
        Dashboard::serve(addr, self.dashboard_source())
    }

    /// What [`CpuPool::dashboard`] serves, for a program that adds to it
    /// before serving it with [`Dashboard::serve`] (a cluster worker puts
    /// its held and spilled results in). The pool is recorded while the
    /// source lives.
    ///
    /// ```
    /// let pool = flotilla_local::CpuPool::with_threads(2).unwrap();
    /// let source = pool.dashboard_source();
    /// pool.submit(|| 1).result().unwrap();
    /// let live = source.live();
    /// assert_eq!(live.trace.lanes.len(), 2);
    /// assert_eq!(live.trace.spans.len(), 1);
    /// ```
    pub fn dashboard_source(&self) -> Arc<dyn Source> {
        Arc::new(PoolSource {
            recorder: self.record(),
            pool: self.clone(),
        })
    }
}

/// Dashboards started for a whole process, by address.
static SERVED: OnceLock<Mutex<HashMap<String, Dashboard>>> = OnceLock::new();

/// Makes sure `pool` has a dashboard at `addr` for the rest of the
/// process: started on first demand, kept after.
pub(crate) fn serve_for_process(pool: &CpuPool, addr: &str) -> Result<(), DashboardError> {
    let served = SERVED.get_or_init(|| Mutex::new(HashMap::new()));
    let mut served = match served.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if !served.contains_key(addr) {
        let dashboard = pool.dashboard(addr)?;
        served.insert(addr.to_string(), dashboard);
    }
    Ok(())
}

/// Starts the default pool's dashboard when `FLOTILLA_DASHBOARD` asks for
/// one; a failure is said on stderr (the pool still runs).
pub(crate) fn serve_if_asked(pool: &CpuPool) {
    let Ok(addr) = std::env::var(DASHBOARD_VARIABLE) else {
        return;
    };
    match serve_for_process(pool, &addr) {
        Ok(()) => crate::log::info("pool", &format!("dashboard at http://{addr}/")),
        Err(e) => crate::log::warn("pool", &format!("{DASHBOARD_VARIABLE}: {e}")),
    }
}
