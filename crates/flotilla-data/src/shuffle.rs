//! The exchange every in-memory shuffle of a collection is built on: map
//! tasks that cut their output into one piece per reduce partition, and
//! reduce tasks that read their piece of every map task's output.
//!
//! ```text
//!  map task 0 ──► MapPieces [p₀ p₁ … p_R-1] ─┐
//!  map task 1 ──► MapPieces [p₀ p₁ … p_R-1] ─┼─► reducer r: [piece r of map 0, of map 1, …]
//!  …                                          ┘
//! ```
//!
//! A map task leaves a [`MapPieces`]: its pieces, or the error it met (an
//! error of the data, which every reducer then reports). Reducer `r` is one
//! task reading every map task's output; [`reducers`] builds them, each
//! given its pieces in map order (so a merge that keeps order is stable),
//! keyed `KEY[r]`. A reducer *clones* its piece out of the map task's
//! result, which stays whole until every reducer is done: a reducer that
//! runs again (a retry) reads the same pieces, and no map task runs again
//! for it. Pieces that share their data (an Arrow batch, a sorted run)
//! clone by reference count; a bag's pieces clone their items.
//!
//! The bag's `fold_by`, `distinct`, `join` and `group_by` (whose pieces are
//! sorted runs of [`crate::sort`], spilled past a budget), the map-reduce
//! pattern, and the data frame's shuffled group-by, join and sort exchange
//! their pieces this way; typed and streaming MapReduce jobs exchange
//! shared sorted runs, read the same way.
//!
//! ```
//! use flotilla_core::TaskKey;
//! use flotilla_data::hash::partition_of;
//! use flotilla_data::shuffle::{reducers, MapPieces};
//! use flotilla_local::Delayed;
//!
//! // Two map tasks cut their words into 2 pieces by key; each reducer counts its words.
//! let maps: Vec<Delayed<MapPieces<Vec<&str>, String>>> = [["a", "b", "a"], ["c", "a", "b"]]
//!     .into_iter()
//!     .map(|words| {
//!         Delayed::from_fn(move || {
//!             let mut pieces = vec![Vec::new(), Vec::new()];
//!             for w in words {
//!                 pieces[partition_of(w, 2)].push(w);
//!             }
//!             MapPieces::new(Ok(pieces))
//!         })
//!     })
//!     .collect();
//! let counts = reducers(&maps, 2, &TaskKey::indexed("count", 0), |_, pieces| {
//!     pieces.map(|ps| ps.iter().map(Vec::len).sum::<usize>())
//! });
//! let total: usize = counts.iter().map(|c| c.compute().unwrap().unwrap()).sum();
//! assert_eq!(total, 6);
//! ```

use std::fmt;

use flotilla_core::TaskKey;
use flotilla_local::Delayed;

/// An error type that can report a broken invariant of a collection's own
/// graph (a bug in flotilla, not in the user's data): a reducer asking
/// for a piece that its map tasks did not make.
///
/// ```
/// use flotilla_data::shuffle::InternalError;
///
/// #[derive(Debug, PartialEq)]
/// enum MyError {
///     Internal(String),
/// }
/// impl InternalError for MyError {
///     fn internal(message: &str) -> MyError {
///         MyError::Internal(message.to_string())
///     }
/// }
///
/// let bug = MyError::internal("shuffle piece 3 of 2 asked for");
/// assert!(matches!(bug, MyError::Internal(_)));
/// ```
pub trait InternalError {
    /// The error that reports `message`, a broken invariant.
    ///
    /// ```
    /// # use flotilla_data::shuffle::InternalError;
    /// struct Bug(String);
    /// impl InternalError for Bug {
    ///     fn internal(message: &str) -> Bug {
    ///         Bug(format!("internal error: {message}"))
    ///     }
    /// }
    /// assert_eq!(Bug::internal("x").0, "internal error: x");
    /// ```
    fn internal(message: &str) -> Self;
}

/// An error that is its message: an internal error is that message.
///
/// ```
/// use flotilla_data::shuffle::InternalError;
/// assert_eq!(String::internal("a piece is missing"), "a piece is missing");
/// ```
impl InternalError for String {
    fn internal(message: &str) -> String {
        message.to_string()
    }
}

/// One map task's output of a shuffle: one piece per reduce partition,
/// each read by its reducer; or the error the map task met, which every
/// reducer reports.
///
/// ```
/// use flotilla_data::shuffle::MapPieces;
/// let pieces = MapPieces::<Vec<u8>, String>::new(Ok(vec![vec![1, 2], vec![3]]));
/// assert_eq!(pieces.len(), 2);
/// let failed = MapPieces::<Vec<u8>, String>::new(Err("bad line".to_string()));
/// assert_eq!(failed.len(), 0);
/// ```
pub struct MapPieces<P, E>(Result<Vec<P>, E>);

impl<P, E> MapPieces<P, E> {
    /// A map task's pieces (piece `r` for reducer `r`), or its error.
    ///
    /// ```
    /// let pieces = flotilla_data::shuffle::MapPieces::<u8, String>::new(Ok(vec![7]));
    /// assert_eq!(pieces.len(), 1);
    /// ```
    pub fn new(result: Result<Vec<P>, E>) -> MapPieces<P, E> {
        MapPieces(result)
    }

    /// How many pieces there are (none for a failed map task).
    ///
    /// ```
    /// let pieces = flotilla_data::shuffle::MapPieces::<u8, String>::new(Ok(vec![1, 2, 3]));
    /// assert_eq!(pieces.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, Vec::len)
    }

    /// Whether there are no pieces.
    ///
    /// ```
    /// let pieces = flotilla_data::shuffle::MapPieces::<u8, String>::new(Ok(vec![]));
    /// assert!(pieces.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<P: Clone, E: Clone + InternalError> MapPieces<P, E> {
    /// Piece `r`, cloned out (the pieces stay whole, for a reducer that
    /// runs again); the map task's error if it failed.
    ///
    /// # Errors
    ///
    /// The map task's error, or an internal error for a piece that does not
    /// exist (a bug in the collection).
    ///
    /// ```
    /// use flotilla_data::shuffle::{InternalError, MapPieces};
    ///
    /// #[derive(Clone, Debug, PartialEq)]
    /// struct Bug(String);
    /// impl InternalError for Bug {
    ///     fn internal(message: &str) -> Bug { Bug(message.to_string()) }
    /// }
    ///
    /// let pieces = MapPieces::<Vec<u8>, Bug>::new(Ok(vec![vec![1, 2], vec![3]]));
    /// assert_eq!(pieces.piece(1), Ok(vec![3]));
    /// assert_eq!(pieces.piece(1), Ok(vec![3])); // read again: the same piece
    /// assert!(pieces.piece(5).is_err());
    /// ```
    pub fn piece(&self, r: usize) -> Result<P, E> {
        match &self.0 {
            Ok(pieces) => pieces.get(r).cloned().ok_or_else(|| {
                E::internal(&format!("shuffle piece {r} of {} asked for", pieces.len()))
            }),
            Err(e) => Err(e.clone()),
        }
    }
}

impl<P, E> fmt::Debug for MapPieces<P, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MapPieces({} pieces)", self.len())
    }
}

/// Piece `r` of every map output, in map order: what reducer `r` works on;
/// the first map task's error (in map order) if one failed.
///
/// # Errors
///
/// As [`MapPieces::piece`].
///
/// ```
/// use flotilla_data::shuffle::{pieces_for, MapPieces};
/// let a = MapPieces::<Vec<u8>, String>::new(Ok(vec![vec![1], vec![2]]));
/// let b = MapPieces::new(Ok(vec![vec![3], vec![4]]));
/// assert_eq!(pieces_for(&[&a, &b], 1).unwrap(), [vec![2], vec![4]]);
/// ```
pub fn pieces_for<P: Clone, E: Clone + InternalError>(
    maps: &[&MapPieces<P, E>],
    r: usize,
) -> Result<Vec<P>, E> {
    maps.iter().map(|out| out.piece(r)).collect()
}

/// The reduce side of a shuffle: `outputs` tasks, keyed `key`'s siblings
/// (`key[r]`); reducer `r` calls `reduce(r, pieces)` with piece `r` of every
/// map output in map order (or the first map task's error).
///
/// ```
/// use flotilla_core::TaskKey;
/// use flotilla_data::shuffle::{reducers, MapPieces};
/// use flotilla_local::Delayed;
///
/// let maps: Vec<Delayed<MapPieces<u32, String>>> =
///     (0..3).map(|m| Delayed::from_fn(move || MapPieces::new(Ok(vec![m, 10 * m])))).collect();
/// let sums = reducers(&maps, 2, &TaskKey::indexed("sum", 0), |_, pieces| pieces.map(|p| p.iter().sum::<u32>()));
/// assert_eq!(sums[1].key(), "sum[1]");
/// assert_eq!(sums[1].compute().unwrap().unwrap(), 30);
/// ```
pub fn reducers<P, E, O, F>(
    maps: &[Delayed<MapPieces<P, E>>],
    outputs: usize,
    key: &TaskKey,
    reduce: F,
) -> Vec<Delayed<O>>
where
    P: Clone + Send + Sync + 'static,
    E: Clone + InternalError + Send + Sync + 'static,
    O: Send + Sync + 'static,
    F: Fn(usize, Result<Vec<P>, E>) -> O + Send + Sync + 'static,
{
    let reduce = std::sync::Arc::new(reduce);
    (0..outputs)
        .map(|r| {
            let reduce = std::sync::Arc::clone(&reduce);
            Delayed::gather(maps, move |outs: &[&MapPieces<P, E>]| {
                reduce(r, pieces_for(outs, r))
            })
            .named_op(key.sibling(r as u64))
        })
        .collect()
}

#[cfg(test)]
mod test {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Bug(String);

    impl InternalError for Bug {
        fn internal(message: &str) -> Bug {
            Bug(message.to_string())
        }
    }

    #[test]
    fn a_failed_map_task_gives_its_error_to_every_reducer() {
        let failed = MapPieces::<Vec<u8>, Bug>::new(Err(Bug("line 3 is bad".into())));
        let ok = MapPieces::new(Ok(vec![vec![1u8], vec![2]]));
        for r in 0..2 {
            assert_eq!(
                pieces_for(&[&ok, &failed], r),
                Err(Bug("line 3 is bad".into()))
            );
        }
    }
}

#[cfg(test)]
mod retry_test {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use flotilla_core::TaskKey;
    use flotilla_local::{ComputeOptions, CpuPool, Delayed};

    use super::*;

    /// A reducer that fails once after reading its pieces from 20 map
    /// tasks runs again on the same pieces: no map task runs twice.
    #[test]
    fn a_reducer_run_again_reads_the_same_pieces() {
        let pool = CpuPool::with_threads(2).unwrap();
        let options = ComputeOptions::new().pool(&pool).progress(false).retries(1);
        let map_runs = Arc::new(AtomicUsize::new(0));
        let maps: Vec<Delayed<MapPieces<u64, String>>> = (0..20u64)
            .map(|m| {
                let runs = Arc::clone(&map_runs);
                Delayed::from_fn(move || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    MapPieces::new(Ok(vec![m]))
                })
            })
            .collect();
        let tries = AtomicUsize::new(0);
        let sums = reducers(&maps, 1, &TaskKey::indexed("sum", 0), move |_, pieces| {
            let total: u64 = pieces.unwrap().iter().sum();
            assert!(
                tries.fetch_add(1, Ordering::SeqCst) > 0,
                "the first try fails"
            );
            total
        });
        assert_eq!(
            sums[0].compute_with(&options).unwrap(),
            (0..20).sum::<u64>()
        );
        assert_eq!(map_runs.load(Ordering::SeqCst), 20);
    }
}
