//! MapReduce jobs over text inputs, as mrjob and Hadoop streaming users know
//! them: input splits, typed jobs, and a shuffle that spills to disk.

pub mod builtin;
mod job;
#[cfg(feature = "cluster")]
pub(crate) mod pieces;
mod small_bytes;
pub mod streaming;

pub use flotilla_data::{sort, split};

pub use crate::hash::KeyHasher;
#[cfg(feature = "cluster")]
#[doc(hidden)]
pub use job::cluster::__cluster;
#[cfg(feature = "cluster")]
pub use job::{ClusterJob, ClusterJobRunner};
pub use job::{
    Counters, Emitter, Job, JobConfig, JobError, JobOutput, JobRunner, Partitioner, RecordError,
    ShuffleKey, ShuffleValue, TextInput, TextRecord,
};
pub use small_bytes::SmallBytes;
