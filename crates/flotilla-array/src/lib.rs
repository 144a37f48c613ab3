//! Chunked n-dimensional arrays — flotilla's `dask.array`.
//!
//! An [`Array<T>`] of `f64` or `i64` (see [`Element`]) is a shape, a
//! chunking ([`Chunks`]) and one lazy block per chunk. Operations build
//! new arrays and run nothing; computing an array or a reduction
//! ([`Scalar`]) turns its blocks into a task graph of
//! [`Delayed`](flotilla_local::Delayed) nodes and runs it on the engine's
//! pool, like every other graph — no private threads, so the same program
//! runs on a cluster.
//!
//! ```
//! use flotilla_array::Array;
//!
//! // Scenario 7 of flotilla's design, smaller: a random array summed.
//! let x = Array::random(&[2000, 2000], [500, 500], 42)?;  // 16 blocks, nothing run
//! let total = x.sum().compute()?;                         // 16 tasks, then a tree
//! assert!((total / 4e6 - 0.5).abs() < 0.01);
//!
//! let n = Array::<i64>::arange(1_000_000, 100_000)?;
//! assert_eq!(n.sum().compute()?, 499_999_500_000);
//! assert_eq!(n.max().compute()?, 999_999);
//! # Ok::<(), flotilla_array::ArrayError>(())
//! ```
//!
//! # Blocks are generators, fused
//!
//! A block is not data but a way to make data: the graph nodes it reads
//! (none for `random`, `zeros` or `arange`, whose elements follow from their
//! place in the array; one stored value per block for
//! [`from_ndarray`](Array::from_ndarray)) and a *fill*, a closure that
//! writes any run of the block's elements (a stretch of one row, at most
//! 1024 elements) from those values. Element-wise operations —
//! [`map`](Array::map), arithmetic with scalars and between arrays
//! ([`ops`]), [`sqrt`](Array::sqrt), [`abs`](Array::abs), … — wrap the
//! fill in one more closure and add no graph node. So whatever consumes a
//! block runs the whole chain run by run, with each run in cache and no
//! intermediate block ever materialized: `random(..).map(f).sum()` is one
//! task per block that generates, maps and sums its elements.
//!
//! ```text
//!  block (i, j):  random fill ─► map ─► × 2 ─► partial sum   │ one task
//! ```
//!
//! [`rechunk`](Array::rechunk) and [`slice`](Array::slice) are fused too:
//! a new block that is exactly an old one reuses it; any other reads the
//! inputs of the old blocks it overlaps and asks their fills for just the
//! runs it keeps. Arrays combined element by element with different
//! chunkings are combined after rechunking the right one to the left's
//! chunks, the same way.
//!
//! The price of fusion, as in dask's: an array consumed twice (two
//! reductions of it, or `&a + &a.slice(..)`) runs its chain twice.
//! [`persist`](Array::persist) computes the blocks once and keeps them.
//!
//! # Random arrays that do not depend on the chunking
//!
//! [`Array::random`] uses a counter-based generator: the element at flat
//! index `i` is a function of the seed and `i` only (SplitMix64's output
//! `i + 1`; see [`uniform_at`]). A block makes its elements without
//! waiting for any other, and the same seed gives the same array whatever
//! the chunking and the thread count.
//!
//! # Reductions are trees
//!
//! Every reduction — [`sum`](Array::sum), [`mean`](Array::mean),
//! [`min`](Array::min), [`max`](Array::max), [`var`](Array::var),
//! [`std`](Array::std), [`argmin`](Array::argmin),
//! [`argmax`](Array::argmax), over the whole array or along an axis
//! ([`sum_axis`](Array::sum_axis), …) — folds each block into a partial
//! result in the block's own task, then merges the partials
//! [`split_every`](Array::split_every) at a time (8 by default), level after
//! level, never gathering every block on one thread. Partials are chosen to
//! merge soundly: count, mean and M2 merged with Chan's formula for the
//! variance, value and index for `argmax`. The tree's shape depends on the
//! chunking only, so results are identical whatever the number of threads.
//!
//! ```text
//!  final:              merge + finish
//!                       ╱          ╲
//!  level 1:   merge(p0..p7)   merge(p8..p12)
//!  partials:  p0 … p7         p8 … p12         one task per block
//! ```
//!
//! # Errors
//!
//! A description that cannot work — a chunking that does not fit the shape,
//! arrays of different shapes, an axis or slice that does not exist — is an
//! [`ArrayError`] when the operation is called, naming the axis and sizes,
//! before any task is scheduled. A panic in a user closure fails the
//! computation with [`ArrayError::Task`], whose message names the task of
//! the block — the chain of operations and the block's number in row-major
//! order, as in `random|map|sum[10]` — and the block's grid coordinates
//! (`in block [2,4]`). Keys carry no process-wide number: the same array
//! gives the same keys in every run.

mod array;
mod block;
mod chunks;
mod compute;
mod create;
mod element;
mod elementwise;
mod error;
mod kept;
pub mod ops;
pub mod portable;
mod random;
mod reduce;
mod reducers;
mod regrid;
mod scalar;

pub use array::{Array, DEFAULT_SPLIT_EVERY};
pub use chunks::Chunks;
pub use element::Element;
pub use error::ArrayError;
pub use random::uniform_at;
pub use scalar::{Scalar, ScalarPlan};
