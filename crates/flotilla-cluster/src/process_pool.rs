//! The process pool: `concurrent.futures.ProcessPoolExecutor` and
//! `multiprocessing.Pool`, on worker processes of this binary.
//!
//! A [`ProcessPool`] is a [`LocalCluster`] of one-thread workers that
//! replaces a worker process as soon as it exits: a task that aborts,
//! segfaults or is killed fails alone (retried per the pool's policy, then
//! reported as a task whose process died), and the pool goes on with a
//! fresh process — where Python's pool would be broken for good.

use serde::de::DeserializeOwned;

use crate::client::{ArgLists, Client, ClusterFuture, EncodeArgs};
use crate::error::ClusterError;
use crate::local_cluster::LocalCluster;
use crate::registry::{Call, Remote};

/// Worker processes of this binary, one task at a time each, that replace
/// themselves when one dies. The binary must call
/// [`worker_if_asked`](crate::worker_if_asked) first thing in `main`.
///
/// ```no_run
/// use flotilla_cluster::{remote, ProcessPool};
///
/// #[remote(crate = flotilla_cluster)]
/// fn square(x: u64) -> u64 { x * x }
///
/// fn main() {
///     flotilla_cluster::worker_if_asked();
///     let pool = ProcessPool::new(4).unwrap();
///     let squares = pool.map(square::REMOTE, (1..=100u64,)).unwrap();
///     assert_eq!(squares.iter().sum::<u64>(), 338_350);
/// }
/// ```
#[derive(Debug)]
pub struct ProcessPool {
    client: Client,
    cluster: LocalCluster,
}

/// How a [`ProcessPool`] starts.
///
/// ```
/// let b = flotilla_cluster::ProcessPool::builder().processes(3).retries(1);
/// assert_eq!(b.process_count(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct ProcessPoolBuilder {
    processes: usize,
    retries: u32,
}

impl ProcessPoolBuilder {
    /// Worker processes (default: one per core).
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = n.max(1);
        self
    }

    /// The processes it will start.
    pub fn process_count(&self) -> usize {
        self.processes
    }

    /// Times a task is run again after it failed, panicked or its process
    /// died (default 0).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Starts the processes and waits until each is ready.
    ///
    /// # Errors
    ///
    /// As [`LocalClusterBuilder::start`](crate::LocalClusterBuilder::start).
    pub fn start(self) -> Result<ProcessPool, ClusterError> {
        let cluster = LocalCluster::builder()
            .workers(self.processes)
            .threads_per_worker(1)
            // One task at a time: a crash costs only the task that caused it.
            .prefetch(0)
            .replace_lost_workers(true)
            .retries(self.retries)
            .suspicious_after(self.retries + 1)
            .start()?;
        let client = cluster.client()?;
        Ok(ProcessPool { client, cluster })
    }
}

impl ProcessPool {
    /// A pool of `processes` worker processes.
    ///
    /// # Errors
    ///
    /// As [`ProcessPoolBuilder::start`].
    pub fn new(processes: usize) -> Result<ProcessPool, ClusterError> {
        ProcessPool::builder().processes(processes).start()
    }

    /// A builder: one process per core, no retries.
    pub fn builder() -> ProcessPoolBuilder {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ProcessPoolBuilder {
            processes: cores,
            retries: 0,
        }
    }

    /// Runs one task: `f::call(args..)` of a `#[remote]` function.
    ///
    /// # Errors
    ///
    /// As [`Client::submit`].
    pub fn submit<R>(&self, call: Call<R>) -> Result<ClusterFuture<R>, ClusterError> {
        self.client.submit(call)
    }

    /// `function` over the zipped argument lists, results in order
    /// (`Pool.map`).
    ///
    /// # Errors
    ///
    /// The first task's error in list order: a task that failed, or whose
    /// process died, after its retries.
    pub fn map<A, R, L>(&self, function: Remote<A, R>, lists: L) -> Result<Vec<R>, ClusterError>
    where
        L: ArgLists<A>,
        A: EncodeArgs,
        R: DeserializeOwned,
    {
        let futures = self.client.map(function, lists)?;
        self.client.gather(&futures)
    }

    /// The client behind the pool (for `as_completed`, `progress`, `cancel`).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The process ids of the pool's workers now.
    pub fn pids(&self) -> Vec<u32> {
        self.cluster.worker_pids()
    }
}
