//! Bags: lazy, partitioned collections of items — flotilla's `dask.bag`.
//!
//! A [`Bag<T>`] is a list of partitions, each a node of a task graph
//! ([`Delayed`](crate::Delayed)). Operations describe work and build graph
//! nodes; nothing runs until something is computed — the bag
//! ([`Bag::compute`]), a reduction ([`Item::compute`]), or an eager
//! operation ([`Bag::take`], [`Bag::to_textfiles`]). Computing hands the
//! graph to the scheduler core and runs it on a pool like any other graph,
//! with the progress bar on long runs; no private thread is involved.
//!
//! ```
//! use flotilla::bag::Bag;
//!
//! let bag = Bag::range(1_000, 8);                          // 8 partitions, nothing run yet
//! let evens = bag.filter(|x| x % 2 == 0).map(|x| x * x);  // still nothing run
//! assert_eq!(evens.count().compute()?, 500);               // runs one small graph
//! assert_eq!(evens.take(3)?, [0, 4, 16]);                  // computes the first partition only
//! # Ok::<(), flotilla::bag::BagError>(())
//! ```
//!
//! # Partitions and fused pipelines
//!
//! A partition is a *source* node — the items handed to
//! [`Bag::from_iter`], a range of numbers for [`Bag::range`], a byte range of
//! a file for [`read_text`], the output of a shuffle's reducer — and the
//! bag's *feed*, a function that pushes the partition's items, read from the
//! source, into a consumer. Element-wise operations ([`map`](Bag::map),
//! [`filter`](Bag::filter), [`flat_map`](Bag::flat_map),
//! [`flat_map_emit`](Bag::flat_map_emit),
//! [`map_partitions`](Bag::map_partitions),
//! [`join_lookup`](Bag::join_lookup)) add no graph node: each wraps the feed
//! in one more closure. Whatever consumes a partition — a partial
//! reduction, a shuffle's map task, a collect — therefore runs the whole
//! chain in **one task per partition**, item by item, with nothing
//! materialized in between (dask's task fusion, done when the bag is
//! built). A word count reads each line of its split, splits it, and counts
//! the words in the same loop.
//!
//! ```text
//!  read_text(split 0) ─► flat_map ─► map ─► frequencies partial  │ one task
//!  read_text(split 1) ─► flat_map ─► map ─► frequencies partial  │ one task
//! ```
//!
//! The price of fusion: a bag consumed twice (two reductions, or one bag
//! joined with itself) runs its pipeline twice. [`Bag::persist`] computes a
//! bag once and keeps its partitions.
//!
//! # Reductions are trees
//!
//! Every reduction ([`fold`](Bag::fold), [`reduce`](Bag::reduce),
//! [`count`](Bag::count), [`sum`](Bag::sum), [`min`](Bag::min),
//! [`max`](Bag::max), [`frequencies`](Bag::frequencies),
//! [`top_k`](Bag::top_k), [`top_k_by`](Bag::top_k_by)) computes one partial
//! result per partition and combines the partials in rounds,
//! [`split_every`](Bag::split_every) at a time (8 by default, as in Dask),
//! never all on one thread:
//!
//! ```text
//!  level 2:                     combine ─────────────┐
//!                              ╱   ╲                 │
//!  level 1:        combine(p0..p7)  combine(p8..p15)   combine(p16..p19)
//!  partials:       p0 … p7          p8 … p15           p16 … p19
//! ```
//!
//! The partials move from task to task instead of being cloned, and keep
//! partition order, so the combining operation must be associative but need
//! not be commutative. A reduction is an [`Item`]: lazy, like the bag.
//!
//! # Shuffles
//!
//! Operations by key move data between partitions: a map task per input
//! partition routes what it produces to R buckets by a hash of the key, and
//! R reducer tasks (one per output partition; see
//! [`shuffle_partitions`](Bag::shuffle_partitions)) each gather their
//! bucket from every map task, in partition order. The reducers' outputs are
//! the partitions of a new bag.
//!
//! * [`fold_by`](Bag::fold_by), [`distinct`](Bag::distinct): each map task
//!   first aggregates its partition in a hash table, so only one partial
//!   value per key and partition crosses the shuffle (a combiner, always).
//! * [`group_by`](Bag::group_by): every item crosses, through the external
//!   sort of the MapReduce jobs ([`mapreduce::sort`](crate::mapreduce::sort)):
//!   a map task spills sorted runs to disk above its memory budget, and each
//!   reducer merges its runs k ways.
//! * [`join`](Bag::join): both sides are hashed into buckets in memory, and
//!   each output partition is a hash join; [`join_lookup`](Bag::join_lookup)
//!   sends a small table to every partition instead, with no shuffle.
//!
//! # Errors
//!
//! A panic in user code fails its task; the graph run names the task — its
//! key lists the fused operations and the partition, e.g.
//! `range|map|collect[3]` — in a [`BagError::Task`]. Input and spill
//! errors (a line that is not UTF-8, a spill file that cannot be written)
//! travel through the graph as values with their type, and the first one in
//! partition order is returned ([`BagError::NotUtf8`], [`BagError::Input`],
//! [`BagError::Spill`]);
//! the other partitions' tasks still run to their end.

mod collection;
mod count_table;
mod error;
mod exchange;
mod feed;
mod group_by;
mod item;
mod reduce;
#[cfg(test)]
mod test;
mod text;
mod text_options;

pub use collection::{Bag, Emit, DEFAULT_SPLIT_EVERY};
use error::settle;
pub use error::BagError;
pub use item::Item;
#[cfg(feature = "cluster")]
pub(crate) use text::read_text_splits;
pub use text::{read_text, read_text_bytes, read_text_bytes_with, read_text_with};
pub use text_options::TextOptions;
