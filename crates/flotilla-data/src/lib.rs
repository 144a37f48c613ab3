//! The building blocks every collection of flotilla shares.
//!
//! flotilla's collections — MapReduce jobs, the map-reduce pattern, `Bag`
//! and `DataFrame` — are all the same machine seen from different sides:
//! they read large inputs in byte ranges, run one task per partition on the
//! in-process engine (`flotilla-local`), send keys to partitions with one
//! hash, fold partial results up a tree of tasks, and write a folder of
//! parts that appears whole or not at all. This crate holds those shared
//! pieces, so that each collection's crate keeps only what is its own:
//!
//! * [`split`]: input splits. Files, folders and globs are cut into
//!   [`InputSplit`](split::InputSplit)s of a chosen byte size; **a line
//!   belongs to the split it starts in**, so every line is read exactly once
//!   whatever the cut, and lines are read as bytes, fast and losslessly.
//! * [`hash`]: the one key hash ([`KeyHasher`](hash::KeyHasher)) and the
//!   partition of a key ([`partition_of`](hash::partition_of)): the same in
//!   every task, process and run, so every shuffle agrees where a key goes.
//! * [`shuffle`]: the exchange under every in-memory shuffle: map tasks
//!   that cut their output into a piece per reduce partition, reducers that
//!   read their piece of each ([`MapPieces`](shuffle::MapPieces),
//!   [`reducers`](shuffle::reducers)).
//! * [`sort`]: the external sort under the shuffles that spill: map output
//!   sorted per partition under a memory budget, spilled as sorted runs,
//!   merged k ways by the reduce side (MapReduce jobs, streaming jobs, the
//!   bag's group-by).
//! * [`tree`]: the tree reduction of partial results, each moved (not
//!   cloned) into the one combining task that reads it.
//! * [`caller`]: what a run's tasks leave for the caller rather than for
//!   another task (a reducer's records, a map task's counters).
//! * [`task_errors`]: a collection's own typed errors kept beside the
//!   scheduler, which sees only [`TaskError`](flotilla_local::TaskError)s,
//!   and handed back to the caller after the run.
//! * [`panic_site`]: which of a fused chain of user functions panicked, on
//!   which partition and item.
//! * [`output`]: the one output committer. Every writer writes a folder of
//!   `part-NNNNN` files through an [`OutputDir`](output::OutputDir): parts
//!   appear only at the commit, with `_SUCCESS`, and a failed write leaves
//!   the folder as it found it.
//!
//! Nothing here starts a thread or keeps global state beyond a thread-local
//! (the panic site): collections build task graphs of
//! [`Delayed`](flotilla_local::Delayed) nodes from these pieces and the
//! engine runs them. Most programs use these through the `flotilla` crate,
//! which re-exports [`split`] as `flotilla::mapreduce::split`, [`sort`] as
//! `flotilla::mapreduce::sort`, [`hash`] as
//! `flotilla::hash` and [`output`] as `flotilla::output`.
//!
//! ```
//! use flotilla_data::hash::partition_of;
//! use flotilla_data::split::{plan_splits, LineReader};
//!
//! let dir = std::env::temp_dir().join(format!("flotilla-doc-data-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let file = dir.join("words.txt");
//! std::fs::write(&file, "apple\nbanana\ncherry\napple\n")?;
//!
//! // Read in splits of 8 bytes, and count the words each of 2 partitions gets.
//! let mut counts = [0usize; 2];
//! let mut reader = LineReader::new();
//! for split in plan_splits(&[file.to_str().unwrap()], 8)? {
//!     reader.for_each_line(&split, |line| {
//!         counts[partition_of(line.bytes(), 2)] += 1;
//!         Ok::<_, std::convert::Infallible>(())
//!     })?;
//! }
//! assert_eq!(counts.iter().sum::<usize>(), 4); // each line read once
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod caller;
pub mod hash;
pub mod output;
pub mod panic_site;
pub mod shuffle;
pub mod sort;
pub mod split;
pub mod task_errors;
pub mod tree;
