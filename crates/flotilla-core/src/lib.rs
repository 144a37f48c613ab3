//! flotilla's scheduler core: task graphs and the scheduling state machine,
//! with no threads, no clock and no I/O.
//!
//! Everything that decides *what runs where* lives here, so that the
//! in-process runtime (`flotilla-local`), the cluster and the simulator in
//! [`sim`] all make the same decisions, and so that tests can check each
//! decision by feeding events and reading the answers:
//!
//! * [`TaskGraph`] / [`KeyedGraphBuilder`]: tasks with keys, dependencies,
//!   priorities and cost hints; cycle and missing-key checks.
//! * [`Placement`] / [`Placer`]: the load-balancing policies.
//! * [`Scheduler`]: the state machine of one run (see its task-state diagram):
//!   attempts and retries, workers that join ([`WorkerOffer`]) and leave
//!   (lost results computed again from lineage), finishes that report
//!   durations and sizes ([`Finish`]), durations learned per kind of task,
//!   tasks added while others run and results released on request, steals
//!   planned for workers whose queues it cannot reach.
//! * [`balance`]: work stealing's one decision, which worker an idle
//!   worker takes work from, shared by the pool and the simulator.
//! * [`RunReport`]: per-worker busy time, idle time, tasks run and stolen.
//! * [`sim`]: a discrete-event simulator with any number of fake workers.
//! * [`trace`]: the record of a run, task by task, that reports and
//!   dashboards draw.
//! * [`rng`]: the seedable generator shared by policies and data generators.
//!
//! ```
//! use flotilla_core::{sim, Placement, TaskGraph, TaskKey};
//!
//! // Ten independent tasks, the last one ten times longer, on two workers.
//! let mut g = TaskGraph::new();
//! let mut cost = Vec::new();
//! for i in 0..10 {
//!     g.add_task(TaskKey::indexed("t", i), &[]).unwrap();
//!     cost.push(if i == 9 { 10.0 } else { 1.0 });
//! }
//! let stealing = sim::simulate(&g, &cost, 2, Placement::WorkStealing).unwrap();
//! let block = sim::simulate(&g, &cost, 2, Placement::Block).unwrap();
//! assert!(stealing.makespan_seconds() <= block.makespan_seconds());
//! ```

pub mod balance;
mod batching;
pub mod cluster_sim;
mod graph;
mod id;
mod key;
mod placement;
mod report;
pub mod rng;
mod scheduler;
pub mod sim;
pub mod trace;

pub use batching::BatchSizer;
pub use graph::{GraphError, KeyedGraphBuilder, TaskGraph, TaskOptions};
pub use id::{Attempt, TaskId, WorkerId};
pub use key::TaskKey;
pub use placement::{ParsePlacementError, Placement, Placer, Target};
pub use report::{RunReport, WorkerStats};
pub use scheduler::{
    Actions, Command, FailureKind, Finish, Scheduler, SchedulerError, Speculation, TaskCounts,
    TaskState, WorkerLoss, WorkerOffer,
};
