//! Scatter-gather: split the data into contiguous pieces, work on every
//! piece as one task on a [`CpuPool`], then gather the pieces' results, in
//! piece order, into one answer.
//!
//! ```
//! use flotilla::patterns::scatter_gather;
//! use flotilla::CpuPool;
//!
//! // Three ranges summed by a pool of three.
//! let pool = CpuPool::with_threads(3).unwrap();
//! let data: Vec<u64> = (1..=30).collect();
//! let (partials, total) = scatter_gather(
//!     &pool,
//!     data,
//!     3,
//!     |part: &[u64]| part.iter().sum::<u64>(),
//!     |partials| {
//!         let total = partials.iter().sum::<u64>();
//!         (partials, total)
//!     },
//! )
//! .unwrap();
//! assert_eq!(partials, [55, 155, 255]);
//! assert_eq!(total, 465);
//! ```
//!
//! # Design
//!
//! ```text
//!            ┌─► work(piece 0) ─┐
//!  data ─────┼─► work(piece 1) ─┼──► gather([r0, r1, …, rP-1])
//!  (shared)  └─► …             ─┘     calling thread
//! ```
//!
//! **Scatter.** The data moves once into an [`Arc`] shared by the tasks; no
//! piece is copied. [`split_even`] cuts its indices into `parts` contiguous
//! ranges whose sizes differ by at most one (the first `len % parts` pieces
//! hold one item more), and each range is one task — `scatter_gather:part[i]`
//! of a task graph run by the scheduler on the pool, like every flotilla
//! computation — which calls `work` on the slice. With more parts than items, the last
//! pieces are empty: `work` is still called on them (with an empty slice), so
//! `gather` always receives exactly `parts` results — the shape of the answer
//! never depends on the data's length.
//!
//! **Gather.** Once every piece's task has finished, `gather` runs on the
//! calling thread with the results in piece order. This is the pattern's
//! known limit: everything comes back to one place, so the gather step
//! should be light (see the [module overview](super) for when map-reduce or a
//! tree reduction fits better).
//!
//! **Errors.** `parts == 0` is [`PatternError::ZeroParts`]. A panic in `work`
//! is caught and returned as [`TaskError::Panicked`]
//! naming the task `scatter_gather:part[i]` (the first failed part in piece
//! order; the other parts still run, as independent branches of a graph
//! do); a panic in `gather` is caught too and names
//! `scatter_gather:gather`.

use std::ops::Range;
use std::sync::Arc;

use flotilla_core::TaskKey;
use flotilla_local::{ComputeOptions, CpuPool, Graph, TaskError};

use super::{catch_panic, PatternError};
use flotilla_data::caller::ForCaller;

/// Splits `0..len` into `parts` contiguous ranges, in order, whose lengths
/// differ by at most one; the first `len % parts` ranges are the longer
/// ones. With `parts > len` the last ranges are empty; with `parts == 0`
/// there are none.
///
/// ```
/// use flotilla::patterns::split_even;
///
/// assert_eq!(split_even(10, 3), [0..4, 4..7, 7..10]);
/// assert_eq!(split_even(2, 4), [0..1, 1..2, 2..2, 2..2]);
/// assert!(split_even(5, 0).is_empty());
/// ```
pub fn split_even(len: usize, parts: usize) -> Vec<Range<usize>> {
    if parts == 0 {
        return Vec::new();
    }
    let base = len / parts;
    let longer = len % parts;
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let size = base + usize::from(i < longer);
            let range = start..start + size;
            start += size;
            range
        })
        .collect()
}

/// Splits `data` into `parts` contiguous, nearly equal pieces (see
/// [`split_even`]), runs `work` on each piece as one task on `pool`, and
/// returns `gather` of the pieces' results in piece order.
///
/// `parts` larger than the data is allowed: the extra pieces are empty and
/// `work` still runs on them, so `gather` always sees `parts` results.
///
/// # Errors
///
/// [`PatternError::ZeroParts`] when `parts == 0` (nothing runs), or
/// [`PatternError::Task`] when `work` panicked on a piece (the error names
/// the task `scatter_gather:part[i]`) or `gather` panicked
/// (`scatter_gather:gather`).
///
/// ```
/// use flotilla::patterns::scatter_gather;
/// use flotilla::CpuPool;
///
/// let pool = CpuPool::with_threads(2).unwrap();
/// let words = vec!["scatter", "the", "words", "then", "gather", "them"];
/// let longest = scatter_gather(
///     &pool,
///     words,
///     4,
///     |piece: &[&str]| piece.iter().copied().max_by_key(|w| w.len()),
///     |bests| bests.into_iter().flatten().max_by_key(|w| w.len()),
/// )
/// .unwrap();
/// assert_eq!(longest, Some("scatter"));
/// ```
pub fn scatter_gather<T, R, S, W, G>(
    pool: &CpuPool,
    data: Vec<T>,
    parts: usize,
    work: W,
    gather: G,
) -> Result<S, PatternError>
where
    T: Send + Sync + 'static,
    R: Send + 'static,
    W: Fn(&[T]) -> R + Send + Sync + 'static,
    G: FnOnce(Vec<R>) -> S,
{
    if parts == 0 {
        return Err(PatternError::ZeroParts);
    }
    let data = Arc::new(data);
    let work = Arc::new(work);
    let op = TaskKey::indexed("scatter_gather:part", 0);
    let mut graph = Graph::new();
    let mut keys = Vec::with_capacity(parts);
    for (index, range) in split_even(data.len(), parts).into_iter().enumerate() {
        let data = Arc::clone(&data);
        let work = Arc::clone(&work);
        let key = op.sibling(index as u64);
        graph.insert(key.clone(), [] as [TaskKey; 0], move |_| {
            Ok::<_, TaskError>(ForCaller::new(work(&data[range.clone()])))
        });
        keys.push(key);
    }
    let options = ComputeOptions::new().pool(pool).label("scatter_gather");
    let (outcomes, _) = graph.compute_many_with(&keys, &options)?;
    let mut results = Vec::with_capacity(parts);
    for (outcome, key) in outcomes.into_iter().zip(&keys) {
        results.push(ForCaller::<R>::take(&outcome?, &key.to_string())?);
    }
    let gathered: Result<S, TaskError> = catch_panic(
        || "scatter_gather:gather".to_string(),
        std::any::type_name::<G>(),
        || gather(results),
    );
    Ok(gathered?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_even_covers_everything_in_order() {
        for len in 0..40 {
            for parts in 1..12 {
                let ranges = split_even(len, parts);
                assert_eq!(ranges.len(), parts);
                assert_eq!(ranges[0].start, 0);
                assert_eq!(ranges[parts - 1].end, len);
                for pair in ranges.windows(2) {
                    assert_eq!(pair[0].end, pair[1].start);
                    assert!(pair[0].len() >= pair[1].len());
                }
                let sizes: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
                let (min, max) = (sizes.iter().min(), sizes.iter().max());
                assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1));
            }
        }
    }
}
