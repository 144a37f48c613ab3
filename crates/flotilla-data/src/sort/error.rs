//! [`SpillError`]: everything that can go wrong while spilling or merging.

use std::io;
use std::path::{Path, PathBuf};

/// Why a sort buffer could not spill, or a merge could not read a run back.
///
/// Every variant about a file names it, so that a failed map or reduce task
/// reports which spill file (and, when decoding, which byte) was at fault.
///
/// ```
/// use flotilla_data::sort::SpillError;
/// use std::path::PathBuf;
///
/// let err = SpillError::Corrupt {
///     path: PathBuf::from("/tmp/run.spill"),
///     offset: 8,
///     reason: "frame length overruns the run".into(),
/// };
/// assert_eq!(err.path(), Some(PathBuf::from("/tmp/run.spill").as_path()));
/// assert!(err.to_string().contains("/tmp/run.spill"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpillError {
    /// The spill directory could not be created.
    #[error("cannot create spill directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Creating, writing, opening or reading a spill file failed.
    #[error("I/O error while {op} spill file {}: {source}", path.display())]
    Io {
        /// The spill file.
        path: PathBuf,
        /// What was being done: `"creating"`, `"writing"`, `"opening"`, `"reading"`.
        op: &'static str,
        /// The cause.
        source: io::Error,
    },
    /// A record could not be serialized (its `Serialize` impl failed).
    #[error("cannot encode a record into spill file {}: {source}", path.display())]
    Encode {
        /// The spill file being written.
        path: PathBuf,
        /// The cause.
        source: postcard::Error,
    },
    /// A record is larger than a frame can hold (4 GiB once encoded).
    #[error("a record of {bytes} bytes is too large for spill file {} (frames hold at most 4 GiB)", path.display())]
    RecordTooLarge {
        /// The spill file being written.
        path: PathBuf,
        /// The record's encoded size.
        bytes: usize,
    },
    /// A record read back from a spill file did not decode.
    #[error("cannot decode the record at byte {offset} of spill file {}: {source}", path.display())]
    Decode {
        /// The spill file.
        path: PathBuf,
        /// Byte offset of the record's frame in the file.
        offset: u64,
        /// The cause.
        source: postcard::Error,
    },
    /// A spill file does not have the expected structure: wrong header, a
    /// frame that overruns its run, a file cut short, a record count that does
    /// not match.
    #[error("spill file {} is corrupt at byte {offset}: {reason}", path.display())]
    Corrupt {
        /// The spill file.
        path: PathBuf,
        /// Byte offset where the problem was found.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A record was pushed to a partition the buffer does not have.
    #[error("partition {partition} is out of range: the buffer has {partitions} partitions")]
    PartitionOutOfRange {
        /// The partition asked for.
        partition: usize,
        /// How many partitions the buffer has.
        partitions: usize,
    },
}

impl SpillError {
    /// The spill file or directory the error is about, if any.
    ///
    /// ```
    /// use flotilla_data::sort::SpillError;
    ///
    /// let err = SpillError::PartitionOutOfRange { partition: 3, partitions: 2 };
    /// assert_eq!(err.path(), None);
    /// ```
    pub fn path(&self) -> Option<&Path> {
        match self {
            SpillError::CreateDir { path, .. }
            | SpillError::Io { path, .. }
            | SpillError::Encode { path, .. }
            | SpillError::RecordTooLarge { path, .. }
            | SpillError::Decode { path, .. }
            | SpillError::Corrupt { path, .. } => Some(path),
            SpillError::PartitionOutOfRange { .. } => None,
        }
    }
}
