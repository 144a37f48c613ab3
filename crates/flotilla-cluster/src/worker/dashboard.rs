//! A worker's own dashboard and Prometheus metrics (the `dashboard`
//! feature): the page of its pool (its threads' task stream, tasks per
//! kind), with what only the worker knows added — its memory, the
//! results it has spilled to disk, the tasks waiting in its queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flotilla_dashboard::live::{Live, Source};
use flotilla_dashboard::Dashboard;

use super::{lock, memory, Shared};
use crate::error::ClusterError;

struct WorkerSource {
    pool: Arc<dyn Source>,
    shared: Arc<Shared>,
    name: String,
    /// The store's spilled bytes when last read: a page never waits
    /// behind a spill.
    spilled: AtomicU64,
    held: AtomicU64,
}

impl Source for WorkerSource {
    fn live(&self) -> Live {
        let mut live = self.pool.live();
        live.trace.title = format!("flotilla worker {}", self.name);
        if let Ok(store) = self.shared.store.try_lock() {
            self.spilled.store(store.spilled_bytes(), Ordering::Relaxed);
            self.held.store(store.held_bytes(), Ordering::Relaxed);
        }
        let held = self.held.load(Ordering::Relaxed);
        live.memory = vec![memory::resident_bytes().unwrap_or(held)];
        live.spilled = vec![self.spilled.load(Ordering::Relaxed)];
        // Tasks the scheduler gave it that wait for a thread count on its
        // first lane, with the pool's own queue.
        let waiting = lock(&self.shared.queue).ready.len() as u64;
        if let Some(first) = live.queued.first_mut() {
            *first += waiting;
        }
        live
    }
}

/// Serves the dashboard of the worker `name` at `addr`.
pub(super) fn serve(
    addr: &str,
    shared: &Arc<Shared>,
    name: &str,
) -> Result<Dashboard, ClusterError> {
    let source = WorkerSource {
        pool: shared.pool.dashboard_source(),
        shared: Arc::clone(shared),
        name: name.to_string(),
        spilled: AtomicU64::new(0),
        held: AtomicU64::new(0),
    };
    let dashboard =
        Dashboard::serve(addr, Arc::new(source)).map_err(|e| ClusterError::dashboard(addr, e))?;
    flotilla_local::log::info("worker", &format!("dashboard at {}", dashboard.url()));
    Ok(dashboard)
}
