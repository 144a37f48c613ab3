//! [`SortStats`]: what a sort or merge did.

use std::ops::AddAssign;

/// Counters of a sort buffer or a merge: what went in, what was spilled, and
/// the largest the in-memory buffer grew.
///
/// A buffer's counters are read with
/// [`SortBuffer::stats`](super::SortBuffer::stats); the records of a finished
/// sort or merge carry theirs in
/// [`SortedRecords::stats`](super::SortedRecords::stats). Counters of several
/// map tasks add up with `+=` (peaks take the maximum).
///
/// ```
/// use flotilla_data::sort::{SortBuffer, SortOptions};
///
/// let mut buffer = SortBuffer::new(SortOptions::new().budget_bytes(1024));
/// for i in 0..1000u32 {
///     buffer.push(i % 7, i).unwrap();
/// }
/// let stats = *buffer.stats();
/// assert_eq!(stats.records_in, 1000);
/// assert!(stats.runs_spilled > 0 && stats.bytes_spilled > 0);
/// assert!(stats.peak_buffer_bytes <= 1024 + 4 + 4 + flotilla_data::sort::RECORD_OVERHEAD);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SortStats {
    /// Records pushed into the buffer, or held by the runs a merge was given.
    pub records_in: u64,
    /// Records folded into another one by the combiner (so never spilled or
    /// merged on their own).
    pub records_combined: u64,
    /// Records written to spill files by the buffer.
    pub records_spilled: u64,
    /// Spill files written by the buffer (one per spill; each holds one run
    /// per partition that had records).
    pub runs_spilled: u64,
    /// Bytes written to spill files by the buffer, headers included.
    pub bytes_spilled: u64,
    /// The largest estimated size of the records held in memory, in bytes.
    /// Never more than the budget plus the size of one record.
    pub peak_buffer_bytes: usize,
    /// Runs written by intermediate merge passes (when more spilled runs than
    /// the fan-in had to be merged).
    pub intermediate_runs: u64,
    /// Bytes written by intermediate merge passes.
    pub intermediate_bytes: u64,
}

impl AddAssign for SortStats {
    fn add_assign(&mut self, other: SortStats) {
        self.records_in += other.records_in;
        self.records_combined += other.records_combined;
        self.records_spilled += other.records_spilled;
        self.runs_spilled += other.runs_spilled;
        self.bytes_spilled += other.bytes_spilled;
        self.peak_buffer_bytes = self.peak_buffer_bytes.max(other.peak_buffer_bytes);
        self.intermediate_runs += other.intermediate_runs;
        self.intermediate_bytes += other.intermediate_bytes;
    }
}
