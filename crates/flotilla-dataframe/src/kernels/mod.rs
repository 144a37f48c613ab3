//! Per-partition kernels that arrow-rs lacks: hash group-by, hash join, hash
//! partitioning.
//!
//! A `DataFrame` partition is an Arrow [`RecordBatch`](crate::RecordBatch);
//! these are the pure functions its tasks run on one batch at a time — no
//! threads, no I/O, no scheduling. The distributed shapes are built from
//! them:
//!
//! * **group-by as a tree**: [`GroupBy::partial`] on every partition,
//!   [`GroupBy::merge`] of the partials `split_every` at a time,
//!   [`GroupBy::finish`] at the root. For keys with many distinct values,
//!   [`hash_partition`] the partials by key to N reducers, merge and finish
//!   each. With no key, the same [`GroupBy`] computes whole-column
//!   aggregates (sum, mean, min, max, count, var, std) as one group.
//! * **joins**: a broadcast join builds a [`JoinTable`] from the small side
//!   once and probes it from every partition of the large side; a shuffled
//!   join [`hash_partition`]s both sides by key and joins partition `i`
//!   with partition `i`.
//!
//! # Semantics
//!
//! Those users of Arrow engines (SQL, DataFusion, Polars) expect:
//! aggregates skip nulls; a group whose values are all null has a null sum,
//! mean, min and max and a count of 0; null group-by keys form their own
//! group; null join keys never match, and a [`JoinKind::Left`] join keeps
//! such rows with nulls on the right. Float keys compare by value with
//! `-0.0 = 0.0` and every NaN equal to every NaN. Variance and standard
//! deviation are the sample ones (ddof = 1). Plans check column names and
//! types before any row is touched, and every error ([`KernelError`]) names
//! the column and type involved.
//!
//! # Speed
//!
//! A batch is processed in chunks of 16 Ki rows: group ids are assigned to
//! a chunk, then every aggregate folds the chunk, so the ids never leave the
//! cache and the columns are read from memory once. Hot loops are
//! dispatched once per column and chunk on the physical type and run over
//! plain `Vec<i64>`/`Vec<f64>` accumulators, with loops without null checks
//! for columns without nulls. Keys go through the cheapest index that fits
//! (see the `grouping` module): a direct slot array for integers in a small
//! range, a `hashbrown` table of 64-bit words for other integers and floats,
//! strings hashed once per row (short ones compared as two words), a
//! dictionary column looked up once per dictionary entry, several keys as
//! tuples of per-column ids. A join probe emits `take` indices and skips
//! the copy of the left side when every left row matches once;
//! [`JoinTable::probe_dictionary`] also skips the copy of the right side's
//! strings. `benches/kernels.rs` measures all of it.
//!
//! ```
//! use std::sync::Arc;
//! use flotilla_dataframe::arrow::array::{Int64Array, RecordBatch, StringArray};
//! use flotilla_dataframe::arrow::array::cast::AsArray;
//! use flotilla_dataframe::arrow::array::types::Int64Type;
//! use flotilla_dataframe::arrow::schema::{DataType, Field, Schema};
//! use flotilla_dataframe::kernels::{Agg, GroupBy, JoinKind, JoinTable};
//!
//! let ratings = RecordBatch::try_new(
//!     Arc::new(Schema::new(vec![
//!         Field::new("movie", DataType::Int64, false),
//!         Field::new("stars", DataType::Int64, false),
//!     ])),
//!     vec![Arc::new(Int64Array::from(vec![1, 2, 1])), Arc::new(Int64Array::from(vec![4, 2, 5]))],
//! )?;
//! let movies = RecordBatch::try_new(
//!     Arc::new(Schema::new(vec![
//!         Field::new("id", DataType::Int64, false),
//!         Field::new("genre", DataType::Utf8, false),
//!     ])),
//!     vec![Arc::new(Int64Array::from(vec![1, 2])), Arc::new(StringArray::from(vec!["noir", "comedy"]))],
//! )?;
//!
//! // Broadcast join, then stars per genre.
//! let joined = JoinTable::build(&movies, &["id"])?.probe(&ratings, &["movie"], JoinKind::Inner)?;
//! let plan = GroupBy::new(&joined.schema(), &["genre"], &[Agg::sum("stars")])?;
//! let out = plan.finish(&plan.merge(&[plan.partial(&joined)?])?)?;
//! assert_eq!(out.column(1).as_primitive::<Int64Type>().values(), &[9, 2]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod agg;
mod error;
mod group_by;
mod grouping;
mod hash;
mod join;
mod partition;
mod primitive;
mod state;

pub use agg::{Agg, AggFunc};
pub use error::KernelError;
pub use group_by::{value_counts, GroupBy};
pub use join::{dictionary_join_schema, join_schema, JoinKind, JoinTable};
pub use partition::hash_partition;
