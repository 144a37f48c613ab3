//! The messages of the three conversations: worker and scheduler, client
//! and scheduler, and anyone fetching a result from a worker.
//!
//! Tasks are named on the wire by the scheduler's task number (a
//! [`TaskId`](flotilla_core::TaskId) index) and their attempt; a client
//! names its own tasks by numbers it chose. Every list-carrying message
//! batches: one frame holds every task the scheduler decided to run on a
//! worker in one turn, every finish a worker saw since its last report.

use serde::{Deserialize, Serialize};

/// What a worker tells the scheduler.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WorkerMessage {
    /// The first message after the handshake: what the worker offers and
    /// where its results can be fetched.
    Register(WorkerInfo),
    /// Tasks that started, with their attempts.
    Started(Vec<(u32, u32)>),
    /// Tasks that finished, in the order they did.
    Finished(Vec<Finished>),
    /// Tasks whose attempt failed.
    Failed(Vec<Failed>),
    /// The answers to [`SchedulerMessage::GiveUp`] requests.
    GaveUp(Vec<GiveUpAnswer>),
    /// "Still here", with the worker's vitals, sent every heartbeat
    /// interval.
    Heartbeat(Vitals),
}

/// A worker's memory and age at its last heartbeat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Vitals {
    /// Time since the worker registered, in microseconds.
    pub(crate) uptime_micros: u64,
    /// The process's resident memory (`None` where it cannot be read).
    pub(crate) process_bytes: Option<u64>,
    /// Bytes of results it holds in memory now.
    pub(crate) held_bytes: u64,
    /// The process's peak resident memory.
    pub(crate) peak_process_bytes: Option<u64>,
    /// Bytes of results in its spill files now.
    pub(crate) spilled_bytes: u64,
    /// Bytes it wrote to spill files, and read back, over its life.
    pub(crate) spill_written: u64,
    pub(crate) spill_read_back: u64,
    /// Whether it starts no task for want of memory.
    pub(crate) paused: bool,
}

/// A worker's offer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WorkerInfo {
    pub(crate) threads: u32,
    pub(crate) memory_bytes: Option<u64>,
    pub(crate) resources: Vec<(String, u64)>,
    /// Folders on the worker's own disks (absolute).
    pub(crate) local_data: Vec<String>,
    /// The address of the worker's data server.
    pub(crate) data_addr: String,
    /// A name for messages (host and process id).
    pub(crate) name: String,
}

/// One finished attempt.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Finished {
    pub(crate) task: u32,
    pub(crate) attempt: u32,
    pub(crate) bytes: u64,
    pub(crate) micros: u64,
}

/// One failed attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Failed {
    pub(crate) task: u32,
    pub(crate) attempt: u32,
    pub(crate) failure: Failure,
}

/// Why an attempt failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Failure {
    /// The function returned an error, or its arguments or result did not
    /// decode.
    Error(String),
    /// The function panicked.
    Panic(String),
    /// The function is not registered in the worker's binary.
    NotRegistered(String),
    /// Input `task` could not be fetched from where the scheduler said it
    /// was.
    InputLost { task: u32, reason: String },
}

/// A worker's answer to a request to give up a queued task.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct GiveUpAnswer {
    pub(crate) task: u32,
    pub(crate) to: u32,
    pub(crate) given: bool,
}

/// What the scheduler tells a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum SchedulerMessage {
    /// Registration accepted: the worker's number, and how often it must
    /// say it is alive (a worker silent for four intervals is removed).
    Registered { worker: u32, heartbeat_ms: u64 },
    /// Tasks to run.
    Run(Vec<RunTask>),
    /// Results no longer needed.
    Release(Vec<u32>),
    /// Queued tasks to drop (cancelled before they started).
    Cancel(Vec<u32>),
    /// Give up these queued tasks, if they have not started, for idle
    /// worker `to`.
    GiveUp(Vec<(u32, u32)>),
    /// Stop: the scheduler is shutting down.
    Shutdown,
}

/// A task as a worker runs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunTask {
    pub(crate) task: u32,
    pub(crate) attempt: u32,
    /// The task's key, for messages.
    pub(crate) key: String,
    /// The registered name of the function.
    pub(crate) function: String,
    pub(crate) args: Vec<WireArg>,
    /// Where each input lives (as `WireArg::Input` indices refer to them).
    pub(crate) inputs: Vec<InputAt>,
    /// It continues a branch (a finish made it ready): it runs before the
    /// tasks queued earlier, so that a graph finishes its branches and
    /// frees their results depth first.
    pub(crate) first: bool,
    /// The attempts that failed before this one, and the retries it has
    /// left if this one fails.
    pub(crate) failures: u32,
    pub(crate) retries_left: u32,
    /// The checkpoint file to write the result to, if any.
    pub(crate) checkpoint: Option<String>,
}

/// One argument of a task on its way to a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WireArg {
    /// The encoded value itself.
    Value(Vec<u8>),
    /// The result of the task's `n`-th input.
    Input(u32),
}

/// Where an input's result can be fetched.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InputAt {
    pub(crate) task: u32,
    pub(crate) worker: u32,
    pub(crate) addr: String,
}

/// The most attempts (and, apart, decisions and transfers) of a record
/// sent to a client in one [`ClientEvent::Trace`]: some 30 bytes each,
/// well inside a frame.
pub(crate) const SENT_RECORD_ITEMS: usize = 1 << 20;

/// What a client tells the scheduler.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ClientMessage {
    /// New tasks.
    Submit(Vec<Submit>),
    /// Futures the client dropped.
    Release(Vec<u64>),
    /// Futures the client cancels.
    Cancel(Vec<u64>),
    /// Asks for a [`ClusterStatus`].
    Status,
    /// Starts the scheduler's record of its tasks, if it keeps none yet;
    /// answered by [`ClientEvent::Recording`].
    Record,
    /// Asks for that record from `from_ns` on (on its clock); answered
    /// by [`ClientEvent::Trace`].
    Trace { from_ns: u64 },
}

/// A task as a client submits it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Submit {
    /// The client's number for it.
    pub(crate) id: u64,
    pub(crate) function: String,
    pub(crate) args: Vec<ClientArg>,
    pub(crate) retries: u32,
    /// Named resources it needs.
    pub(crate) resources: Vec<(String, u64)>,
    /// Files it reads, for input locality.
    pub(crate) reads: Vec<String>,
    /// The checkpoint file its worker writes its result to.
    pub(crate) checkpoint: Option<String>,
}

/// One argument as a client gives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ClientArg {
    Value(Vec<u8>),
    /// The result of the client's earlier task of that number.
    Future(u64),
}

/// What the scheduler tells a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum ClientEvent {
    /// Tasks of this client that finished, and where their results are.
    Done(Vec<Done>),
    /// Tasks of this client that failed for good (or were abandoned or
    /// cancelled).
    Failed(Vec<TaskFailure>),
    /// The answer to [`ClientMessage::Status`].
    Status(ClusterStatus),
    /// Results of these tasks were lost with their worker; they are being
    /// computed again, and a new `Done` will say where.
    Lost(Vec<u64>),
    /// A submission the scheduler could not accept.
    Rejected { id: u64, reason: String },
    /// The answer to [`ClientMessage::Record`]: the time on the record's
    /// clock (nanoseconds) from which it holds what the client does next.
    Recording { at_ns: u64 },
    /// The answer to [`ClientMessage::Trace`]: the record so far, its
    /// times counted from the `from_ns` asked for, its lists cut to their
    /// latest [`SENT_RECORD_ITEMS`] so that it fits in a frame (`None`
    /// when the scheduler keeps none).
    Trace(Option<Box<flotilla_core::trace::Trace>>),
}

/// A finished task of a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Done {
    pub(crate) id: u64,
    pub(crate) task: u32,
    pub(crate) addr: String,
    pub(crate) bytes: u64,
    /// How long it ran on its worker, in microseconds.
    pub(crate) micros: u64,
}

/// A task of a client that ended without a result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TaskFailure {
    pub(crate) id: u64,
    pub(crate) key: String,
    pub(crate) function: String,
    /// What happened, in words.
    pub(crate) reason: FailureReason,
}

/// Why a client's task has no result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum FailureReason {
    /// Its last attempt failed on `worker`.
    Failed {
        worker: String,
        failure: Failure,
        attempts: u32,
    },
    /// It was running on too many workers that were lost.
    Suspicious { workers: u32 },
    /// An input failed or was cancelled.
    Abandoned {
        because: String,
        /// How that input failed, when it did (not when it was cancelled).
        cause: Option<Failure>,
    },
    /// It was cancelled.
    Cancelled,
}

/// What a cluster is doing now.
///
/// ```
/// use flotilla_cluster::{remote, Client, ClusterStatus};
///
/// #[remote(crate = flotilla_cluster)]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let client = Client::in_process(2)?;
///     let squares = client.map(square::REMOTE, (0..5u64,))?;
///     client.gather(&squares)?;
///     let status: ClusterStatus = client.status()?;
///     assert_eq!(status.workers.len(), 1);
///     assert_eq!((status.finished, status.failed, status.waiting), (5, 0, 0));
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The workers present.
    pub workers: Vec<WorkerStatus>,
    /// Tasks waiting for inputs.
    pub waiting: u64,
    /// Tasks ready or running.
    pub ready_or_running: u64,
    /// Tasks finished (results held or released).
    pub finished: u64,
    /// Tasks that failed, were abandoned or cancelled.
    pub failed: u64,
    /// Speculative copies launched of straggling tasks (see
    /// [`SchedulerOptions::speculation`](crate::SchedulerOptions::speculation)).
    pub copied: u64,
    /// Of those, copies that finished first.
    pub copies_won: u64,
}

/// One worker in a [`ClusterStatus`].
///
/// ```
/// use flotilla_cluster::{remote, Client, WorkerStatus};
///
/// #[remote(crate = flotilla_cluster)]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let client = Client::in_process(2)?;
///     let squares = client.map(square::REMOTE, (0..5u64,))?;
///     client.gather(&squares)?;
///     let worker: &WorkerStatus = &client.status()?.workers[0];
///     assert_eq!(worker.threads, 2);
///     assert_eq!(worker.tasks, 5);
///     assert!(worker.name.contains("pid"), "{}", worker.name);
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    /// The scheduler's number for it.
    pub id: u32,
    /// Host and process.
    pub name: String,
    /// Threads it runs tasks on.
    pub threads: u32,
    /// Tasks queued or running there.
    pub queued: u64,
    /// Bytes of results it made over the run.
    pub result_bytes: u64,
    /// Tasks it finished.
    pub tasks: u64,
    /// Of those, tasks moved to it from another worker's queue.
    pub stolen: u64,
    /// Time its tasks ran, summed over its threads, in microseconds.
    pub busy_micros: u64,
    /// Its memory limit, if it gave one.
    pub memory_limit: Option<u64>,
    /// The resident memory of its process at its last heartbeat (`None`
    /// before the first, or where the system does not say).
    pub memory_used: Option<u64>,
    /// Bytes of results it held in memory at its last heartbeat.
    pub held_bytes: u64,
    /// The peak resident memory of its process, at its last heartbeat.
    pub peak_memory: Option<u64>,
    /// Bytes of results it held in spill files at its last heartbeat.
    pub spilled_bytes: u64,
    /// Bytes it had written to spill files, at its last heartbeat.
    pub spill_written: u64,
    /// Bytes it had read back from spill files, at its last heartbeat.
    pub spill_read_back: u64,
    /// Whether it started no task for want of memory at its last
    /// heartbeat.
    pub paused: bool,
    /// Time since it registered, at its last heartbeat, in microseconds.
    pub uptime_micros: u64,
}

impl WorkerStatus {
    /// Thread time it spent without a task, up to its last heartbeat, in
    /// microseconds: its threads times its uptime, less the time its
    /// tasks ran.
    ///
    /// ```
    /// let w = flotilla_cluster::WorkerStatus {
    ///     threads: 2,
    ///     uptime_micros: 1_000_000,
    ///     busy_micros: 1_500_000,
    ///     ..Default::default()
    /// };
    /// assert_eq!(w.idle_micros(), 500_000);
    /// ```
    pub fn idle_micros(&self) -> u64 {
        (u64::from(self.threads).saturating_mul(self.uptime_micros))
            .saturating_sub(self.busy_micros)
    }
}

/// A request to a worker's data server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum DataRequest {
    Fetch { task: u32 },
}

/// A data server's answer: the result in chunks, the last one marked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum DataReply {
    Chunk { bytes: Vec<u8>, last: bool },
    Missing { task: u32 },
}
