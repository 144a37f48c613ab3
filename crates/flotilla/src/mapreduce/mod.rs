//! MapReduce jobs over text inputs, as mrjob and Hadoop streaming users know
//! them: input splits, typed jobs, and a shuffle that spills to disk.

pub mod builtin;
mod job;
mod small_bytes;
pub mod sort;
pub mod split;
pub mod streaming;

pub use job::{
    Counters, Emitter, Job, JobConfig, JobError, JobOutput, JobRunner, KeyHasher, Partitioner,
    RecordError, ShuffleKey, ShuffleValue, TextInput, TextRecord,
};
pub use small_bytes::SmallBytes;
