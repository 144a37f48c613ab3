//! Map tasks whose outputs are kept in a [`Checkpoint`]
//! ([`JobConfig::checkpoint`]).
//!
//! A map task over a split of a file is named by the job (its type, its
//! version, the number of reducers, the partitioner, whether bad records
//! are skipped) and the split (path, byte range, the file's size and
//! modification time). Found, the task reads its sorted partitions, counters
//! and skipped records back instead of mapping; otherwise it maps and
//! writes them, each partition merged into one sorted run. Reduce tasks are
//! not kept: they read the map outputs and run every time.

use std::path::PathBuf;

use flotilla_local::checkpoint::KeyHasher;
use flotilla_local::{Checkpoint, CheckpointError};
use serde::{Deserialize, Serialize};

use super::run::{BadRecord, MapFn};
use super::{Counters, Job, JobConfig, JobError, MapResult, Partitioner};
use crate::mapreduce::sort::{merge_runs, MapOutput, SortedRun};
use crate::mapreduce::split::InputSplit;

/// What a kept map task holds.
#[derive(Serialize, Deserialize)]
struct KeptMap<K, V> {
    /// Each partition's records, sorted by key.
    partitions: Vec<Vec<(K, V)>>,
    counters: Counters,
    bad: Vec<BadRecord>,
}

/// The part of every map task's key that names the job.
pub(super) fn job_key<J: Job>(
    config: &JobConfig,
    partitioner: &Partitioner<J::Key>,
    partitions: usize,
) -> Result<KeyHasher, JobError> {
    let mut key = KeyHasher::new("mapreduce map");
    key.add(std::any::type_name::<J>().as_bytes());
    key.add(config.version.as_bytes());
    key.add(&(partitions as u64).to_le_bytes());
    key.add(&[u8::from(config.skip_bad_records), u8::from(J::COMBINES)]);
    match partitioner {
        Partitioner::Hash => key.add(b"hash"),
        Partitioner::Range(bounds) => {
            let bytes = postcard::to_allocvec(bounds).map_err(|e| {
                JobError::Config(format!(
                    "the range partitioner's bounds do not encode for the checkpoint key: {e}"
                ))
            })?;
            key.add(b"range");
            key.add(&bytes);
        }
    }
    Ok(key)
}

/// The key of the map task over `split` of the job named by `job`.
pub(super) fn split_key(job: &KeyHasher, split: &InputSplit) -> String {
    job.clone().part(&split.fingerprint()).finish()
}

/// The map task `map`, kept in `checkpoint` under `key`: read back if
/// there, else run and written.
pub(super) fn keep<J: Job>(checkpoint: Checkpoint, key: String, map: MapFn<J>) -> MapFn<J> {
    Box::new(move || {
        let path = checkpoint.path_of(&key);
        if let Some(bytes) = checkpoint.load(&key)? {
            return read_back::<J>(&bytes, path);
        }
        let mut result = map()?;
        result.output.share();
        let partitions = (0..result.output.partition_count())
            .map(|p| merge_runs(result.output.partition(p))?.collect::<Result<Vec<_>, _>>())
            .collect::<Result<Vec<_>, _>>()?;
        let kept = KeptMap {
            partitions,
            counters: result.counters.clone(),
            bad: result.bad.clone(),
        };
        let bytes = postcard::to_allocvec(&kept).map_err(|e| CheckpointError::Io {
            what: format!("encoding a map task's output for {}", path.display()),
            source: std::io::Error::other(e),
        })?;
        checkpoint.save(&key, &bytes)?;
        Ok(result)
    })
}

/// A map task's result from the bytes kept at `path`.
fn read_back<J: Job>(bytes: &[u8], path: PathBuf) -> Result<MapResult<J::Key, J::Value>, JobError> {
    let kept: KeptMap<J::Key, J::Value> =
        postcard::from_bytes(bytes).map_err(|_| CheckpointError::Damaged { path })?;
    let runs = kept
        .partitions
        .into_iter()
        .map(|records| {
            if records.is_empty() {
                Vec::new()
            } else {
                vec![SortedRun::from_vec(records)]
            }
        })
        .collect();
    Ok(MapResult {
        output: MapOutput::from_runs(runs),
        counters: kept.counters,
        bad: kept.bad,
    })
}
