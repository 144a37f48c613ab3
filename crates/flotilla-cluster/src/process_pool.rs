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
    ///
    /// ```
    /// use flotilla_cluster::ProcessPool;
    ///
    /// assert_eq!(ProcessPool::builder().processes(4).process_count(), 4);
    /// assert_eq!(ProcessPool::builder().processes(0).process_count(), 1, "at least one");
    /// ```
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = n.max(1);
        self
    }

    /// The processes it will start.
    ///
    /// ```
    /// use flotilla_cluster::ProcessPool;
    ///
    /// let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    /// assert_eq!(ProcessPool::builder().process_count(), cores, "one per core by default");
    /// ```
    pub fn process_count(&self) -> usize {
        self.processes
    }

    /// Times a task is run again after it failed, panicked or its process
    /// died (default 0).
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, ProcessPool};
    ///
    /// /// Crashes its process on 0 (a segfault in a C library, say).
    /// #[remote(crate = flotilla_cluster)]
    /// fn risky(x: u64) -> u64 {
    ///     if x == 0 {
    ///         std::process::abort();
    ///     }
    ///     x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let pool = ProcessPool::builder().processes(2).retries(1).start()?;
    ///     // Tried twice, in two processes, then reported; the pool goes on.
    ///     assert!(pool.map(risky::REMOTE, (vec![1u64, 0],)).is_err());
    ///     assert_eq!(pool.map(risky::REMOTE, (vec![1u64, 2],))?, [1, 2]);
    ///     Ok(())
    /// }
    /// ```
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Starts the processes and waits until each is ready.
    ///
    /// # Errors
    ///
    /// As [`LocalClusterBuilder::start`](crate::LocalClusterBuilder::start).
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, ProcessPool};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let pool = ProcessPool::builder().processes(2).start()?;
    ///     assert_eq!(pool.pids().len(), 2);
    ///     assert_eq!(pool.map(square::REMOTE, (1..=3u64,))?, [1, 4, 9]);
    ///     Ok(())
    /// }
    /// ```
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
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, ProcessPool};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let pool = ProcessPool::new(4)?;
    ///     assert_eq!(pool.map(square::REMOTE, (1..=3u64,))?, [1, 4, 9]);
    ///     Ok(())
    /// }
    /// ```
    pub fn new(processes: usize) -> Result<ProcessPool, ClusterError> {
        ProcessPool::builder().processes(processes).start()
    }

    /// A builder: one process per core, no retries.
    ///
    /// ```
    /// use flotilla_cluster::ProcessPool;
    ///
    /// let builder = ProcessPool::builder().processes(2);
    /// assert_eq!(builder.process_count(), 2);
    /// ```
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
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, ProcessPool};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let pool = ProcessPool::new(2)?;
    ///     let x = pool.submit(add::call(1, 2))?;
    ///     let y = pool.submit(add::call(&x, 10))?;
    ///     assert_eq!(y.result()?, 13);
    ///     Ok(())
    /// }
    /// ```
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
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, ProcessPool};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let pool = ProcessPool::new(2)?;
    ///     // The results themselves, in order, as Python's `Pool.map` gives them.
    ///     assert_eq!(pool.map(add::REMOTE, (0..3, 10..13))?, [10, 12, 14]);
    ///     Ok(())
    /// }
    /// ```
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
    ///
    /// ```no_run
    /// use flotilla_cluster::{remote, ProcessPool};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let pool = ProcessPool::new(2)?;
    ///     let client = pool.client();
    ///     let squares = client.map(square::REMOTE, (0..10u64,))?;
    ///     client.progress(&squares)?;
    ///     let total: u64 = client.as_completed(&squares).map(|f| f.result()).sum::<Result<u64, _>>()?;
    ///     assert_eq!(total, 285);
    ///     Ok(())
    /// }
    /// ```
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The process ids of the pool's workers now.
    ///
    /// ```no_run
    /// use flotilla_cluster::ProcessPool;
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let pool = ProcessPool::new(3)?;
    ///     let pids = pool.pids();
    ///     assert_eq!(pids.len(), 3);
    ///     assert!(!pids.contains(&std::process::id()));
    ///     Ok(())
    /// }
    /// ```
    pub fn pids(&self) -> Vec<u32> {
        self.cluster.worker_pids()
    }
}
