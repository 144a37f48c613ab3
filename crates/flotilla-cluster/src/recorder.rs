//! Run reports of cluster runs.
//!
//! The scheduler hears every attempt's start and finish (with the run
//! time its worker measured), every task one worker gives up to another
//! and every task it hands out again, so it is the one place that can
//! draw a cluster run: it keeps a [`Trace`] of its tasks while it serves
//! a dashboard, and from the moment a client asks for one otherwise.
//! [`Client::record`] starts that record (or joins the one kept already)
//! and returns a [`Recorder`], which reads the part since it was made.
//!
//! The record is the scheduler's, not the client's: on a scheduler that
//! several clients share, a report shows every task that ran meanwhile.
//! A recorder reads at most the latest 1,048,576 attempts of its part (a
//! longer run's report says how many earlier ones it left out), so that
//! the record fits in one message.

use std::path::Path;

use flotilla_core::trace::Trace;

use crate::client::Client;
use crate::error::ClusterError;

/// The part of a scheduler's record of its tasks since [`Client::record`]
/// was called: what a run report of a cluster run is drawn from.
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
///     let recorder = client.record()?;
///     let squares = client.map(square::REMOTE, (0..20u64,))?;
///     client.gather(&squares)?;
///     let trace = recorder.trace("squares")?;
///     assert_eq!(trace.spans.len(), 20);
///     assert_eq!(trace.kinds, ["square"]);
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    from_ns: u64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("scheduler", &self.client.scheduler_name())
            .field("from_ns", &self.from_ns)
            .finish()
    }
}

impl Client {
    /// Has the scheduler record what its workers run from now on, for a
    /// run report: each attempt on its worker's thread lanes, tasks moved
    /// between workers, retries, speculative copies and recomputations,
    /// inputs sent between workers, workers' memory. A scheduler that
    /// serves a dashboard records already; another starts when asked and
    /// goes on until it stops.
    ///
    /// ```
    /// let client = flotilla_cluster::Client::in_process(1).unwrap();
    /// let recorder = client.record().unwrap();
    /// assert!(recorder.trace("nothing yet").unwrap().spans.is_empty());
    /// ```
    pub fn record(&self) -> Result<Recorder, ClusterError> {
        let from_ns = self.start_record()?;
        Ok(Recorder {
            client: self.clone(),
            from_ns,
        })
    }
}

impl Recorder {
    /// What the scheduler recorded since this recorder was made, titled
    /// `title`: one lane per worker thread, times in nanoseconds since
    /// then, the makespan up to now, the scheduler's settings.
    ///
    /// ```
    /// let client = flotilla_cluster::Client::in_process(2).unwrap();
    /// let recorder = client.record().unwrap();
    /// let trace = recorder.trace("idle").unwrap();
    /// assert_eq!(trace.title, "idle");
    /// assert_eq!(trace.lanes.len(), 2);
    /// ```
    pub fn trace(&self, title: &str) -> Result<Trace, ClusterError> {
        let Some(mut trace) = self.client.scheduler_trace(self.from_ns)? else {
            return Err(ClusterError::Config(format!(
                "the scheduler at {} keeps no record of its tasks (it restarted since the \
                 recording began)",
                self.client.scheduler_name()
            )));
        };
        let cluster = std::mem::replace(&mut trace.title, title.to_string());
        trace.set("cluster", cluster);
        trace.set("scheduler", self.client.scheduler_name());
        Ok(trace)
    }

    /// Writes [`Recorder::trace`] as a self-contained HTML run report
    /// (task stream, utilization per worker thread, durations per kind,
    /// transfers, the scheduler's decisions, the settings) at `path`.
    ///
    /// ```
    /// let client = flotilla_cluster::Client::in_process(1).unwrap();
    /// let recorder = client.record().unwrap();
    /// let path = std::env::temp_dir().join(format!("flotilla-doc-cluster-report-{}.html", std::process::id()));
    /// recorder.write_report(&path, "an idle cluster").unwrap();
    /// assert!(std::fs::read_to_string(&path).unwrap().contains("an idle cluster"));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn write_report(&self, path: impl AsRef<Path>, title: &str) -> Result<(), ClusterError> {
        let trace = self.trace(title)?;
        let path = path.as_ref();
        std::fs::write(path, flotilla_dashboard::report::render(&trace))
            .map_err(|e| ClusterError::io(format!("writing the run report {}", path.display()), e))
    }
}
