//! flotilla on many processes and machines: a scheduler, workers and
//! clients, all driven by the one scheduler core of `flotilla-core`.
//!
//! ```text
//!   Client ──submit/map──► scheduler (flotilla_core::Scheduler behind a tokio shell)
//!     ▲                        │  Run (batched, placed by the core)
//!     │ fetch results          ▼
//!     └──────────────── worker processes: the in-process engine on all cores,
//!                        results held where they were made, fetched worker to worker
//! ```
//!
//! - Two levels: the scheduler places tasks on workers; each worker runs
//!   its tasks on a [`flotilla_local::CpuPool`], whose threads balance by
//!   local work stealing. Queued tasks move between workers when the core
//!   decides so and the giving worker confirms.
//! - The wire: length-prefixed postcard frames with a hard size limit, and
//!   a handshake (protocol version, build, HMAC of a shared token) on
//!   every connection ([`protocol`]).
//! - Code that runs remotely is named: `#[remote]` functions, registered
//!   at compile time; every worker runs the client's binary
//!   ([`worker_if_asked`], [`LocalCluster`]).
//!
//! ```no_run
//! use flotilla_cluster::{remote, LocalCluster};
//!
//! #[remote(crate = flotilla_cluster)]
//! fn add(a: i64, b: i64) -> i64 { a + b }
//!
//! fn main() {
//!     flotilla_cluster::worker_if_asked();
//!     let cluster = LocalCluster::new(2).unwrap();
//!     let client = cluster.client().unwrap();
//!     let x = client.submit(add::call(1, 2)).unwrap();
//!     let y = client.submit(add::call(&x, 10)).unwrap(); // a future as an argument
//!     assert_eq!(y.result().unwrap(), 13);
//! }
//! ```

// The examples show `main` because a worker binary must call
// `worker_if_asked` first thing in it.
#![allow(clippy::needless_doctest_main)]

mod checkpoint;
mod client;
mod error;
mod fetch;
mod local_cluster;
mod process_pool;
pub mod protocol;
mod recorder;
mod registry;
mod scheduler;
mod task_context;
mod tls;
mod transport;
mod worker;

pub use client::{
    ArgLists, AsCompleted, CallGraph, Client, ClusterFuture, EncodeArgs, GraphFutures,
};
pub use error::ClusterError;
pub use flotilla_core::{BatchSizer, Placement, Speculation};
pub use flotilla_local::{Checkpoint, CheckpointError};
pub use flotilla_macros::remote;
pub use local_cluster::{
    worker_if_asked, LocalCluster, LocalClusterBuilder, WORKER_ENV, WORKER_PREFETCH_ENV,
    WORKER_THREADS_ENV,
};
pub use process_pool::{ProcessPool, ProcessPoolBuilder};
pub use protocol::{ClusterStatus, Token, WorkerStatus};
pub use recorder::Recorder;
pub use registry::{registered_functions, Arg, Batch, Call, Remote, RemoteFunction};
pub use scheduler::{SchedulerOptions, SchedulerServer};
pub use task_context::TaskContext;
pub use tls::{Tls, DEFAULT_TLS_NAME, TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV, TLS_NAME_ENV};
pub use worker::{
    parse_resource, parse_size, run_worker, WorkerOptions, WORKER_LOCAL_DATA_ENV,
    WORKER_MEMORY_LIMIT_ENV, WORKER_RESOURCES_ENV, WORKER_SPILL_DIR_ENV,
};

#[doc(hidden)]
pub mod __private {
    pub use crate::registry::{check_arity, decode_arg, encode_result};
    pub use crate::task_context::shared_input;
    pub use inventory;
}
