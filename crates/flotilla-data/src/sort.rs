//! The external sort under the MapReduce shuffle: sort map output under a
//! memory budget, spill sorted runs to disk, merge them k ways in the reducer.
//!
//! # The flow of a record
//!
//! ```text
//!  map task i                                   reducer r
//!  ──────────                                   ─────────
//!  push(partition, k, v)                        merge_runs([runs of map 0 for r,
//!    │                                                      runs of map 1 for r, ...])
//!    ▼                                            │
//!  PartitionedSortBuffer  ── over budget ──▶      ▼
//!   one Vec per partition   sort (stable),     k-way merge (heap of run heads,
//!   + estimated bytes       combine, spill      ties → earlier run first)
//!    │                      one file: a run       │
//!    │ finish                per partition        ▼
//!    ▼                                          SortedRecords ─ next_group ─▶ (k, values…)
//!  MapOutput: per partition [spilled runs…,                  └ group_by_key ▶ (k, Vec<v>)
//!                            in-memory run]                                    sort_values
//! ```
//!
//! # Budget accounting
//! Every buffered record is charged the [`ApproxSize`] of its key and value
//! (inline size plus owned heap bytes) plus [`RECORD_OVERHEAD`] bytes. After a push takes the estimate over
//! [`budget_bytes`](SortOptions::budget_bytes), the buffer is sorted and
//! spilled at once, so the estimate never exceeds the budget by more than one
//! record; [`SortStats::peak_buffer_bytes`] reports the largest it reached.
//! The estimate counts records, not the spare capacity of the buffer's
//! vectors (kept between spills to avoid reallocating) nor the I/O buffers
//! (one writer of [`write_buffer_bytes`](SortOptions::write_buffer_bytes)
//! while spilling; one reader of
//! [`read_buffer_bytes`](SortOptions::read_buffer_bytes) per run while
//! merging).
//!
//! # Runs
//! A spill writes one file: the header `FLSORT01`, then for each partition
//! that has records, its records sorted by key as frames (a little-endian
//! `u32` length and a postcard-encoded `(K, V)`), through a buffered writer.
//! Each partition's byte range becomes a [`SortedRun`]; the run knows its
//! range and record count, so a reader stops exactly at its end and detects a
//! truncated or overwritten file instead of yielding garbage. A run can also
//! be a sorted `Vec` in memory: the remainder at the end of a map task, or
//! the whole output when nothing spilled. In-memory runs are merged without
//! serialization, and a lone run is streamed without a heap, so a sort that
//! fits in memory costs one `sort_by` and nothing else.
//!
//! # The k-way merge
//! [`merge_runs`] opens every run (a buffered reader per spilled run, reading
//! one frame at a time) and keeps each run's head record in a binary heap
//! ordered by key, then by run index. Popping the smallest head and pulling
//! that run's next record replaces the heap's top in place. With more spilled
//! runs than [`merge_fan_in`](SortOptions::merge_fan_in), consecutive runs
//! are first merged into bigger spill files until the rest fit, which bounds
//! open files and read buffers.
//!
//! # Stability
//! Buffers sort with a stable sort, runs are listed in the order they were
//! produced (spills in spill order, then the in-memory remainder last), and
//! heap ties go to the earlier run. Hence equal keys reach the reducer in the
//! order they were pushed — and, across map tasks, in the order the reducer
//! lists the tasks' runs. Secondary sort ([`GroupedRecords::sort_values`])
//! is a stable sort of each key's values.
//!
//! # Combiner
//! [`with_combiner`](PartitionedSortBuffer::with_combiner) takes a pairwise
//! fold `FnMut(V, V) -> V`, applied left to right over each key's values in
//! push order before a spill and on the final in-memory run, so it must be
//! associative (not necessarily commutative). A pairwise fold needs no
//! allocation per key, unlike mrjob's `combiner(key, values)`; a combiner
//! that changes the value's type is expressed by mapping values to the
//! combined type before pushing (for a mean: `(sum, count)`). When a push
//! takes a combining buffer over budget, it is sorted and combined in place
//! first; if that brings it to half the budget or less, it stays in memory
//! and nothing is spilled — a word count with few distinct words never
//! touches the disk.
//!
//! # Cleanup
//! Spill files live in the caller's [`spill_dir`](SortOptions::spill_dir) or
//! in a fresh directory under [`std::env::temp_dir`], created at the first
//! spill. Each file is owned by a reference-counted handle that deletes it
//! when dropped; runs, readers and buffers hold such handles, so a file
//! disappears as soon as nothing needs it — when the merge has read it, when
//! an unfinished merge or an unmerged run is dropped, and on error and panic
//! paths alike. A temporary directory is removed with its last file.
//!
//! # Example: a word count larger than its budget
//!
//! ```
//! use flotilla_data::sort::{SortBuffer, SortOptions};
//!
//! let text = "the cat and the hat and the bat ".repeat(500);
//! let mut sorter = SortBuffer::new(SortOptions::new().budget_bytes(4 << 10));
//! for word in text.split_whitespace() {
//!     sorter.push(word.to_string(), 1u64).unwrap();
//! }
//! let stats = *sorter.stats();
//! assert!(stats.runs_spilled > 1);
//! assert!(stats.peak_buffer_bytes <= (4 << 10) + 24 + 3 + 8 + 16);
//!
//! let counts: Vec<(String, u64)> = sorter
//!     .finish()
//!     .unwrap()
//!     .group_by_key()
//!     .map(|group| group.map(|(word, ones)| (word, ones.iter().sum())))
//!     .collect::<Result<_, _>>()
//!     .unwrap();
//! assert_eq!(counts[0], ("and".to_string(), 1000));
//! assert_eq!(counts[4], ("the".to_string(), 1500));
//! ```

mod buffer;
mod error;
mod merge;
mod options;
mod run;
mod size;
mod spill_file;
mod stats;

#[cfg(test)]
mod test;

pub use buffer::{MapOutput, PartitionedSortBuffer, SortBuffer, RECORD_OVERHEAD};
pub use error::SpillError;
pub use merge::{merge_runs, merge_runs_with, GroupedRecords, KeyGroup, SortedRecords};
pub use options::SortOptions;
pub use run::SortedRun;
pub use size::ApproxSize;
pub use stats::SortStats;
