//! Shuffles in memory: [`fold_by`](Bag::fold_by), [`distinct`](Bag::distinct)
//! and [`join`](Bag::join).
//!
//! A shuffle has a map side and a reduce side. One map task per input
//! partition runs the partition's pipeline and routes what it produces to
//! one of R buckets by a hash of its key; reducer `r` (one task per output
//! partition) moves bucket `r` out of every map task's output, in partition
//! order, and makes output partition `r` from them. The output partitions
//! are materialized (they are the reducers' results) and become the
//! sources of a new bag.
//!
//! `fold_by` and `distinct` shuffle partial aggregates, never items: each
//! map task first folds its items into a hash table (one entry per distinct
//! key it saw), so what crosses the shuffle is at most one entry per key per
//! partition. `join` shuffles the items of both sides; its buckets live in
//! memory until the reducers run, so it suits inputs that fit in memory
//! (for a small side, prefer [`join_lookup`](Bag::join_lookup), which
//! shuffles nothing).

use std::hash::Hash;

use flotilla_core::TaskKey;
use flotilla_local::Delayed;

use super::collection::{key_group, Items};
use super::feed::{materialized_feed, Buckets, Materialized, Partial, Source};
use super::{settle, Bag, BagError};
use crate::hash::{FastMap, FastSet};
use flotilla_data::shuffle::{pieces_for, reducers};

/// The bucket of `key` among `buckets`: flotilla's one partition of a key
/// (see [`crate::hash`]).
pub(super) fn bucket_of<K: Hash + ?Sized>(key: &K, buckets: usize) -> usize {
    crate::hash::partition_of(key, buckets)
}

/// `n` empty buckets.
fn empty_buckets<X>(n: usize) -> Vec<Vec<X>> {
    (0..n).map(|_| Vec::new()).collect()
}

impl<T: Send + 'static> Bag<T> {
    /// The number of output partitions of a shuffle.
    fn outputs(&self) -> usize {
        self.settings
            .shuffle_partitions
            .unwrap_or(self.npartitions())
            .max(1)
    }

    /// A shuffle: `map_side` turns each input partition into one bucket per
    /// output; `reduce_side` turns output `r`'s buckets (in input partition
    /// order) into its items.
    pub(super) fn shuffle<X, O, M, R>(&self, label: &str, map_side: M, reduce_side: R) -> Bag<O>
    where
        X: Clone + Send + Sync + 'static,
        O: Clone + Send + Sync + 'static,
        M: Fn(Items<'_, T>, usize) -> Result<Vec<Vec<X>>, BagError> + Send + Sync + 'static,
        R: Fn(Vec<Vec<X>>) -> Result<Vec<O>, BagError> + Send + Sync + 'static,
    {
        let outputs = self.outputs();
        let maps = self.partition_nodes(&format!("{label}-map"), move |items| {
            Buckets::new(settle(map_side(items, outputs)))
        });
        let key = key_group(&format!("{}|{label}", self.ops));
        let reducers = reducers(&maps, outputs, &key, move |_, buckets| {
            Source::new(Materialized(settle(buckets.and_then(&reduce_side))))
        });
        Bag::from_sources(reducers, materialized_feed(), label, self.settings.clone())
    }

    /// Folds the items of each key into one value: a bag of `(key, value)`
    /// with one pair per distinct key — dask's `foldby`.
    ///
    /// Each partition folds its items with `fold`, per key, starting from a
    /// clone of `init`; only these partial values are shuffled (by a hash of
    /// the key, into [`shuffle_partitions`](Bag::shuffle_partitions)
    /// partitions), and each output partition merges the partials of its keys
    /// with `combine`, in partition order. As for [`fold`](Bag::fold), `init`
    /// must be neutral for `combine`, and `combine` associative. Pairs come
    /// in no particular order.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let sales = Bag::from_iter([("tea", 3), ("jam", 1), ("tea", 2), ("bun", 4), ("jam", 5)], 3);
    /// let per_item = sales.fold_by(|(item, _)| *item, 0, |sum, (_, n)| sum + n, |a, b| a + b);
    /// let mut totals = per_item.compute()?;
    /// totals.sort();
    /// assert_eq!(totals, [("bun", 4), ("jam", 6), ("tea", 5)]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn fold_by<K, A, KF, F, C>(&self, key: KF, init: A, fold: F, combine: C) -> Bag<(K, A)>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        A: Clone + Send + Sync + 'static,
        KF: Fn(&T) -> K + Send + Sync + 'static,
        F: Fn(A, T) -> A + Send + Sync + 'static,
        C: Fn(A, A) -> A + Send + Sync + 'static,
    {
        self.shuffle(
            "fold_by",
            move |items, outputs| {
                // `Option` so that the fold can take the value by move.
                let mut partials: FastMap<K, Option<A>> = FastMap::default();
                items.for_each(|x| {
                    let slot = partials.entry(key(&x)).or_insert(None);
                    let acc = slot.take().unwrap_or_else(|| init.clone());
                    *slot = Some(fold(acc, x));
                })?;
                let mut buckets = empty_buckets(outputs);
                for (k, a) in partials {
                    if let Some(a) = a {
                        buckets[bucket_of(&k, outputs)].push((k, a));
                    }
                }
                Ok(buckets)
            },
            move |buckets| {
                let mut merged: FastMap<K, Option<A>> = FastMap::default();
                for (k, a) in buckets.into_iter().flatten() {
                    let slot = merged.entry(k).or_insert(None);
                    *slot = Some(match slot.take() {
                        Some(before) => combine(before, a),
                        None => a,
                    });
                }
                Ok(merged
                    .into_iter()
                    .filter_map(|(k, a)| a.map(|a| (k, a)))
                    .collect())
            },
        )
    }

    /// The distinct items, each once, in no particular order, spread over
    /// [`shuffle_partitions`](Bag::shuffle_partitions) partitions by hash.
    ///
    /// Each partition first drops its own duplicates, so only its distinct
    /// items are shuffled.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let mut seen = Bag::from_iter([3, 1, 3, 2, 1, 3], 3).distinct().compute()?;
    /// seen.sort();
    /// assert_eq!(seen, [1, 2, 3]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn distinct(&self) -> Bag<T>
    where
        T: Hash + Eq + Clone + Sync,
    {
        self.shuffle(
            "distinct",
            |items, outputs| {
                let mut seen: FastSet<T> = FastSet::default();
                items.for_each(|x| {
                    seen.insert(x);
                })?;
                let mut buckets = empty_buckets(outputs);
                for x in seen {
                    buckets[bucket_of(&x, outputs)].push(x);
                }
                Ok(buckets)
            },
            |buckets| {
                let mut seen: FastSet<T> = FastSet::default();
                let mut out = Vec::new();
                for x in buckets.into_iter().flatten() {
                    if !seen.contains(&x) {
                        seen.insert(x.clone());
                        out.push(x);
                    }
                }
                Ok(out)
            },
        )
    }

    /// The inner join of two bags on keys: a pair `(a, b)` for every item `a`
    /// of `self` and `b` of `other` with `key_a(&a) == key_b(&b)`.
    ///
    /// Both sides are shuffled by a hash of their keys into
    /// [`shuffle_partitions`](Bag::shuffle_partitions) partitions (default:
    /// the larger partition count of the two); each output partition builds a
    /// hash table of `other`'s items and probes it with `self`'s, in order.
    /// The shuffled items stay in memory until their reducer runs. When
    /// `other` is small, [`join_lookup`](Bag::join_lookup) shuffles nothing.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let users = Bag::from_iter([(1, "ann"), (2, "bob"), (3, "cy")], 2);
    /// let orders = Bag::from_iter([(10, 2), (11, 1), (12, 2), (13, 9)], 3);
    /// let joined = users.join(&orders, |(id, _)| *id, |(_, user)| *user);
    /// let mut pairs = joined.map(|((_, name), (order, _))| (name, order)).compute()?;
    /// pairs.sort();
    /// assert_eq!(pairs, [("ann", 11), ("bob", 10), ("bob", 12)]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn join<U, K, FA, FB>(&self, other: &Bag<U>, key_a: FA, key_b: FB) -> Bag<(T, U)>
    where
        T: Clone + Sync,
        U: Clone + Send + Sync + 'static,
        K: Hash + Eq + Clone + Send + Sync + 'static,
        FA: Fn(&T) -> K + Send + Sync + 'static,
        FB: Fn(&U) -> K + Send + Sync + 'static,
    {
        let outputs = self
            .settings
            .shuffle_partitions
            .unwrap_or(self.npartitions().max(other.npartitions()))
            .max(1);
        let left = keyed_buckets(self, "join-left", outputs, key_a);
        let right = keyed_buckets(other, "join-right", outputs, key_b);
        let (left_key, right_key) = (key_group("join-left"), key_group("join-right"));
        let key = key_group("join");
        let reducers = (0..outputs)
            .map(|r| {
                let left = gather_bucket(&left, r, &left_key);
                let right = gather_bucket(&right, r, &right_key);
                left.zip_with(&right, |left, right| {
                    Source::new(Materialized(match (left, right) {
                        (Ok(l), Ok(r)) => Ok(hash_join(l, r)),
                        (Err(e), _) | (_, Err(e)) => Err(e.clone()),
                    }))
                })
                .named_op(key.sibling(r as u64))
            })
            .collect();
        Bag::from_sources(reducers, materialized_feed(), "join", self.settings.clone())
    }
}

/// The map side of one side of a join: every item with its key, in the
/// bucket of its key.
fn keyed_buckets<T, K, F>(
    bag: &Bag<T>,
    label: &str,
    outputs: usize,
    key: F,
) -> Vec<Delayed<Buckets<(K, T)>>>
where
    T: Send + Sync + 'static,
    K: Hash + Eq + Send + Sync + 'static,
    F: Fn(&T) -> K + Send + Sync + 'static,
{
    bag.partition_nodes(label, move |items: Items<'_, T>| {
        let mut buckets = empty_buckets(outputs);
        let done = items.for_each(|x| {
            let k = key(&x);
            buckets[bucket_of(&k, outputs)].push((k, x));
        });
        Buckets::new(settle(done.map(|()| buckets)))
    })
}

/// One side's bucket `r` from every map task, in partition order.
fn gather_bucket<X: Clone + Send + Sync + 'static>(
    maps: &[Delayed<Buckets<X>>],
    r: usize,
    key: &TaskKey,
) -> Delayed<Partial<Vec<X>>> {
    Delayed::gather(maps, move |outs: &[&Buckets<X>]| {
        pieces_for(outs, r).map(|buckets| buckets.into_iter().flatten().collect())
    })
    .named_op(key.sibling(r as u64))
}

/// Joins one output partition: a table of the right side's items by key,
/// probed with the left side's items in order.
fn hash_join<K, T, U>(left: &[(K, T)], right: &[(K, U)]) -> Vec<(T, U)>
where
    K: Hash + Eq,
    T: Clone,
    U: Clone,
{
    let mut table: FastMap<&K, Vec<&U>> = FastMap::default();
    for (k, u) in right {
        table.entry(k).or_default().push(u);
    }
    let mut out = Vec::new();
    for (k, t) in left {
        if let Some(matches) = table.get(k) {
            for &u in matches {
                out.push((t.clone(), u.clone()));
            }
        }
    }
    out
}
