//! The default size of a text partition, shared by the CSV and JSON-lines
//! sources: the MapReduce rule (about four byte ranges per thread, so that
//! work stealing can even them out, each between 1 MiB and 64 MiB).

use flotilla_data::split::{default_split_bytes, InputSplit};

use super::IoError;

/// The bytes per partition: `explicit` when given (and not zero), else the
/// total size of `files` (whole-file splits) over four partitions per
/// available thread, clamped to 1..=64 MiB.
pub(super) fn partition_bytes(files: &[InputSplit], explicit: Option<u64>) -> Result<u64, IoError> {
    match explicit {
        Some(0) => Err(IoError::InvalidOption(
            "partition_bytes must be at least 1".to_owned(),
        )),
        Some(bytes) => Ok(bytes),
        None => {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            Ok(default_split_bytes(files, threads))
        }
    }
}
