//! The exchange every in-memory shuffle of a collection is built on: map
//! tasks that cut their output into one piece per reduce partition, and
//! reduce tasks that take their piece of every map task's output.
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
//! keyed `KEY[r]`. A reducer *moves* its piece out, so no item is copied;
//! a reducer that runs again (a retry) finds its piece gone and asks the
//! scheduler to compute that map task again from lineage
//! ([`input_consumed`](flotilla_local::input_consumed)) — running a task
//! again is always safe.
//!
//! The bag's `fold_by`, `distinct`, `join` and `group_by` (whose pieces are
//! sorted runs of [`crate::sort`], spilled past a budget), the map-reduce
//! pattern, and the data frame's shuffled group-by, join and sort exchange
//! their pieces this way. Typed and streaming MapReduce jobs exchange
//! shared sorted runs instead, which every reducer attempt can read again.
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
use std::sync::Mutex;

use flotilla_core::TaskKey;
use flotilla_local::Delayed;

use crate::slot::{lock, InternalError};

/// One map task's output of a shuffle: one piece per reduce partition, each
/// moved out by its reducer; or the error the map task met, which every
/// reducer reports.
///
/// ```
/// use flotilla_data::shuffle::MapPieces;
/// let pieces = MapPieces::<Vec<u8>, String>::new(Ok(vec![vec![1, 2], vec![3]]));
/// assert_eq!(pieces.len(), 2);
/// let failed = MapPieces::<Vec<u8>, String>::new(Err("bad line".to_string()));
/// assert_eq!(failed.len(), 0);
/// ```
pub struct MapPieces<P, E>(Result<Vec<Mutex<Option<P>>>, E>);

impl<P, E> MapPieces<P, E> {
    /// A map task's pieces (piece `r` for reducer `r`), or its error.
    ///
    /// ```
    /// let pieces = flotilla_data::shuffle::MapPieces::<u8, String>::new(Ok(vec![7]));
    /// assert_eq!(pieces.len(), 1);
    /// ```
    pub fn new(result: Result<Vec<P>, E>) -> MapPieces<P, E> {
        MapPieces(result.map(|pieces| pieces.into_iter().map(|p| Mutex::new(Some(p))).collect()))
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

impl<P, E> MapPieces<P, E> {
    /// Whether piece `r` was moved out already (false for a failed map
    /// task, or a piece that does not exist).
    fn is_taken(&self, r: usize) -> bool {
        match &self.0 {
            Ok(pieces) => pieces.get(r).is_some_and(|p| lock(p).is_none()),
            Err(_) => false,
        }
    }
}

impl<P, E: Clone + InternalError> MapPieces<P, E> {
    /// Moves piece `r` out for the calling task, whose input `input` (in
    /// dependency order) these pieces are; the map task's error if it
    /// failed. A piece already moved out (by an earlier attempt of the
    /// task) ends the task, to run again once the map task has been
    /// computed again ([`input_consumed`](flotilla_local::input_consumed)).
    ///
    /// # Errors
    ///
    /// The map task's error, or an internal error for a piece that does not
    /// exist (a bug in the collection).
    ///
    /// ```
    /// use flotilla_data::shuffle::MapPieces;
    /// use flotilla_data::slot::InternalError;
    ///
    /// #[derive(Clone, Debug, PartialEq)]
    /// struct Bug(String);
    /// impl InternalError for Bug {
    ///     fn internal(message: &str) -> Bug { Bug(message.to_string()) }
    /// }
    ///
    /// let pieces = MapPieces::<Vec<u8>, Bug>::new(Ok(vec![vec![1, 2], vec![3]]));
    /// assert_eq!(pieces.take(1, 0), Ok(vec![3]));
    /// assert!(pieces.take(5, 0).is_err());
    /// ```
    pub fn take(&self, r: usize, input: usize) -> Result<P, E> {
        match &self.0 {
            Ok(pieces) => match pieces.get(r) {
                Some(piece) => match lock(piece).take() {
                    Some(p) => Ok(p),
                    None => flotilla_local::input_consumed(input),
                },
                None => Err(E::internal(&format!(
                    "shuffle piece {r} of {} asked for",
                    pieces.len()
                ))),
            },
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
/// As [`MapPieces::take`].
///
/// ```
/// use flotilla_data::shuffle::{pieces_for, MapPieces};
/// let a = MapPieces::<Vec<u8>, String>::new(Ok(vec![vec![1], vec![2]]));
/// let b = MapPieces::new(Ok(vec![vec![3], vec![4]]));
/// assert_eq!(pieces_for(&[&a, &b], 1).unwrap(), [vec![2], vec![4]]);
/// ```
pub fn pieces_for<P, E: Clone + InternalError>(
    maps: &[&MapPieces<P, E>],
    r: usize,
) -> Result<Vec<P>, E> {
    // Every piece is looked at before any is taken: a reducer running
    // again after taking them all must not take some, find one gone and
    // drop what it took (each map task would then be computed again once
    // per map task before it, an exponential number of attempts).
    if let Some(m) = maps.iter().position(|out| out.is_taken(r)) {
        flotilla_local::input_consumed(m)
    }
    maps.iter()
        .enumerate()
        .map(|(m, out)| out.take(r, m))
        .collect()
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
    P: Send + 'static,
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

    #[test]
    fn a_piece_taken_twice_outside_a_run_unwinds() {
        let pieces = MapPieces::<Vec<u8>, Bug>::new(Ok(vec![vec![1]]));
        assert_eq!(pieces.take(0, 0), Ok(vec![1]));
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pieces.take(0, 0)));
        assert!(again.is_err(), "a second take asks for the map task again");
    }
}

#[cfg(test)]
mod retry_test {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use flotilla_core::TaskKey;
    use flotilla_local::{ComputeOptions, CpuPool, Delayed};

    use super::*;

    /// A reducer that fails once after taking its pieces from 20 map tasks
    /// runs again after each map task is computed once more: about 20 map
    /// runs and attempts, not one per subset of the map tasks.
    #[test]
    fn a_reducer_run_again_gets_each_map_task_computed_once_more() {
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
        let runs = map_runs.load(Ordering::SeqCst);
        assert!(runs <= 2 * 20, "{runs} map runs for 20 map tasks");
    }
}
