//! flotilla's in-process runtime: a work-stealing thread pool that drives
//! the scheduler core, with executors, futures, lazy task graphs and a
//! progress bar.
//!
//! The crate is organised the way rayon-core is — each file one idea:
//!
//! * `pool` — worker threads and their queues (crossbeam-deque), stealing,
//!   per-worker accounting;
//! * `sleep` — how idle workers park without spinning and are woken;
//! * `future` — [`TaskFuture`], the handle to a result to come;
//! * `executor` — [`CpuPool`]: `submit`, `map`, `measure`;
//! * `scope` — [`CpuPool::scope`]: jobs that borrow from the caller, who
//!   waits for them (the crate's one `unsafe`, and its invariant);
//! * `waiting` — [`as_completed`] and [`wait`];
//! * `recording` — [`Recorder`]: what the pool's threads ran, task by
//!   task, for run reports and dashboards;
//! * `checkpoint` — [`Checkpoint`]: task results kept in a folder across
//!   runs;
//! * `error` — [`TaskError`].
//!
//! ```
//! use flotilla_local::CpuPool;
//! let pool = CpuPool::with_threads(2).unwrap();
//! assert_eq!(pool.submit(|| 2 + 2).result().unwrap(), 4);
//! ```

pub mod checkpoint;
mod checkpointed;
#[cfg(feature = "dashboard")]
mod dashboard;
mod delayed;
mod error;
mod executor;
mod future;
mod graph_run;
mod io;
mod keyed_graph;
pub mod log;
mod pool;
mod progress;
mod recording;
mod scope;
mod sleep;
mod waiting;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use delayed::Delayed;
pub use error::{is_panic_with_message, panic_message, SharedError, TaskError};
pub use executor::{CpuPool, CpuPoolBuilder, MapResults};
pub use flotilla_core::Speculation;
#[cfg(feature = "dashboard")]
pub use flotilla_dashboard::{Dashboard, DashboardError};
pub use future::TaskFuture;
pub use graph_run::{fail_task, input_consumed, record_result_bytes, ComputeOptions};
pub use io::{sleep, sleep_until, IoMapResults, IoPool, IoPoolBuilder, Sleep};
pub use keyed_graph::{Graph, Inputs, TaskValue};
pub use progress::Progress;
pub use recording::Recorder;
pub use scope::{yield_now, Scope, Yield};
pub use waiting::{as_completed, wait, AsCompleted, WaitFor, WaitResult};
