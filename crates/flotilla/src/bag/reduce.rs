//! Reductions as trees of tasks, and `take`.
//!
//! Every reduction has the same shape: one task per partition folds the
//! partition's items (through the bag's fused operations) into a partial
//! result; combining tasks then merge the partials `split_every` at a time,
//! level after level, until one is left. Partials move from task to task
//! through [`Slot`]s, so a combining task owns what it merges and never
//! clones it. Operands keep partition order, so an associative operation
//! need not be commutative.

use std::cmp::Ordering;
use std::hash::Hash;
use std::ops::Add;
use std::sync::Arc;

use flotilla_core::TaskKey;
use flotilla_local::{ComputeOptions, Delayed};

use super::collection::{default_options, key_group, Items};
use super::count_table::CountTable;
use super::feed::Partial;
use super::{Bag, BagError, Item};

use crate::hash::FastMap;

/// A combining operation, shared by every task of a tree.
type Combine<A> = Arc<dyn Fn(A, A) -> A + Send + Sync>;

/// The tree of `combine` over `leaves` (see [`flotilla_data::tree::tree`]).
fn tree<A: Clone + Send + Sync + 'static>(
    leaves: Vec<Delayed<Partial<A>>>,
    fan_in: usize,
    key: &TaskKey,
    combine: &Combine<A>,
) -> Option<Delayed<Partial<A>>> {
    let combine = Arc::clone(combine);
    let fold: flotilla_data::tree::Combine<A, BagError> = Arc::new(move |values: Vec<A>| {
        values
            .into_iter()
            .reduce(|a, b| combine(a, b))
            .ok_or_else(|| BagError::Internal("a combining task had no input".into()))
    });
    flotilla_data::tree::tree(leaves, fan_in, key, &fold)
}

impl<T: Clone + Send + Sync + 'static> Bag<T> {
    /// The skeleton of every reduction: partials per partition, a tree of
    /// `combine`, `empty()` for a bag without partitions.
    fn reduction<A, P, C, E>(&self, label: &str, partial: P, combine: C, empty: E) -> Item<A>
    where
        A: Clone + Send + Sync + 'static,
        P: Fn(Items<'_, T>) -> Result<A, BagError> + Send + Sync + 'static,
        C: Fn(A, A) -> A + Send + Sync + 'static,
        E: Fn() -> A + Send + Sync + 'static,
    {
        let leaves = self.partition_tasks(label, partial);
        let key = key_group(&format!("{label}-combine"));
        let combine: Combine<A> = Arc::new(combine);
        match tree(leaves, self.settings.split_every, &key, &combine) {
            Some(root) => Item::new(root),
            None => Item::constant(&format!("{label}-empty"), empty),
        }
    }

    /// Folds the items into one value: each partition folds its items with
    /// `fold`, starting from a clone of `init`; the partial results are
    /// combined with `combine` as a tree.
    ///
    /// `init` starts every partition, so it must be neutral for `combine`
    /// (`combine(init, a) == a`), and `combine` must be associative; it need
    /// not be commutative (partials keep partition order). A bag without
    /// partitions folds to `init`.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let words = Bag::from_iter(["tree", "folds", "keep", "order"], 3);
    /// let sentence = words.fold(String::new(), |s, w| s + w + " ", |a, b| a + &b);
    /// assert_eq!(sentence.compute()?, "tree folds keep order ");
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn fold<A, F, C>(&self, init: A, fold: F, combine: C) -> Item<A>
    where
        A: Clone + Send + Sync + 'static,
        F: Fn(A, T) -> A + Send + Sync + 'static,
        C: Fn(A, A) -> A + Send + Sync + 'static,
    {
        let start = init.clone();
        self.reduction(
            "fold",
            move |items| {
                let mut acc = Some(start.clone());
                items.for_each(|x| acc = acc.take().map(|a| fold(a, x)))?;
                acc.ok_or_else(|| BagError::Internal("a fold lost its accumulator".into()))
            },
            combine,
            move || init.clone(),
        )
    }

    /// Combines all items with the associative `op` (partition by partition,
    /// then as a tree); `None` for an empty bag.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let letters = Bag::from_iter(["a", "b", "c", "d"], 3).map(String::from);
    /// assert_eq!(letters.reduce(|a, b| a + &b).compute()?.as_deref(), Some("abcd"));
    /// assert_eq!(Bag::range(0, 2).reduce(|a, b| a + b).compute()?, None);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn reduce<F>(&self, op: F) -> Item<Option<T>>
    where
        F: Fn(T, T) -> T + Send + Sync + 'static,
    {
        let op = Arc::new(op);
        let fold = Arc::clone(&op);
        self.reduction(
            "reduce",
            move |items| {
                let mut acc: Option<T> = None;
                items.for_each(|x| {
                    acc = Some(match acc.take() {
                        None => x,
                        Some(a) => fold(a, x),
                    })
                })?;
                Ok(acc)
            },
            move |a, b| match (a, b) {
                (Some(a), Some(b)) => Some(op(a, b)),
                (a, None) => a,
                (None, b) => b,
            },
            || None,
        )
    }

    /// The number of items.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// assert_eq!(Bag::range(1000, 7).filter(|x| x % 3 == 0).count().compute()?, 334);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn count(&self) -> Item<u64> {
        self.reduction(
            "count",
            |items| {
                let mut n = 0u64;
                items.for_each(|_| n += 1)?;
                Ok(n)
            },
            |a, b| a + b,
            || 0,
        )
    }

    /// The sum of the items (`T::default()` for an empty bag).
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// assert_eq!(Bag::range(101, 4).sum().compute()?, 5050);
    /// assert_eq!(Bag::from_iter([0.5, 1.5], 2).sum().compute()?, 2.0);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn sum(&self) -> Item<T>
    where
        T: Add<Output = T> + Default,
    {
        self.reduction(
            "sum",
            |items| {
                let mut acc = Some(T::default());
                items.for_each(|x| acc = acc.take().map(|a| a + x))?;
                Ok(acc.unwrap_or_default())
            },
            |a, b| a + b,
            T::default,
        )
    }

    /// The smallest item (the first of equal ones); `None` for an empty bag.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// assert_eq!(Bag::from_iter([3, 1, 2], 2).min().compute()?, Some(1));
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn min(&self) -> Item<Option<T>>
    where
        T: Ord,
    {
        self.reduce(|a, b| if b < a { b } else { a })
    }

    /// The largest item (the last of equal ones); `None` for an empty bag.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// assert_eq!(Bag::from_iter([3, 1, 2], 2).max().compute()?, Some(3));
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn max(&self) -> Item<Option<T>>
    where
        T: Ord,
    {
        self.reduce(|a, b| if b >= a { b } else { a })
    }

    /// How many times each distinct item occurs, most frequent first (ties
    /// in item order).
    ///
    /// Each partition counts its items in a hash table; the tables are
    /// merged as a tree (the smaller into the larger), and the last task
    /// sorts. Memory: each task holds one table of the distinct items it
    /// has seen; for a very large number of distinct items, prefer
    /// [`fold_by`](Bag::fold_by), whose result stays partitioned.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let words = Bag::from_iter(["a", "b", "a", "c", "b", "a"], 3);
    /// assert_eq!(words.frequencies().compute()?, [("a", 3), ("b", 2), ("c", 1)]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn frequencies(&self) -> Item<Vec<(T, u64)>>
    where
        T: Hash + Eq + Ord,
    {
        self.reduction(
            "frequencies",
            |items| {
                let mut counts = CountTable::new();
                items.for_each(|x| counts.add(x))?;
                let counts: FastMap<T, u64> = counts.into_counts().collect();
                Ok(counts)
            },
            |a, b| {
                let (mut into, from) = if a.len() >= b.len() { (a, b) } else { (b, a) };
                for (x, n) in from {
                    *into.entry(x).or_insert(0) += n;
                }
                into
            },
            FastMap::default,
        )
        .map(|counts| {
            let mut counts: Vec<(T, u64)> = counts.into_iter().collect();
            counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            counts
        })
    }

    /// The `k` largest items, largest first (ties: the earlier item first).
    ///
    /// Each partition keeps its own `k` largest, and the tree keeps the `k`
    /// largest of each pair of partials.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// assert_eq!(Bag::from_iter([5, 1, 9, 3, 7], 2).top_k(3).compute()?, [9, 7, 5]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn top_k(&self, k: usize) -> Item<Vec<T>>
    where
        T: Ord,
    {
        self.top_k_ordered(k, T::cmp, "top_k")
    }

    /// The `k` items with the largest `key`, largest first (ties: the
    /// earlier item first). `key` is called on each comparison, as with
    /// `slice::sort_by_key`, so it should be cheap.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let people = Bag::from_iter([("ann", 31), ("bob", 25), ("cy", 31), ("di", 40)], 2);
    /// let oldest = people.top_k_by(3, |(_, age)| *age).compute()?;
    /// assert_eq!(oldest, [("di", 40), ("ann", 31), ("cy", 31)]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn top_k_by<K, F>(&self, k: usize, key: F) -> Item<Vec<T>>
    where
        K: Ord,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        self.top_k_ordered(k, move |a, b| key(a).cmp(&key(b)), "top_k_by")
    }

    fn top_k_ordered<C>(&self, k: usize, compare: C, label: &str) -> Item<Vec<T>>
    where
        C: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
    {
        let compare = Arc::new(compare);
        let (in_partition, in_tree) = (Arc::clone(&compare), compare);
        self.reduction(
            label,
            move |items| {
                let mut kept = Vec::new();
                if k == 0 {
                    return Ok(kept);
                }
                items.for_each(|x| {
                    kept.push(x);
                    if kept.len() >= 2 * k {
                        keep_largest(&mut kept, k, &*in_partition);
                    }
                })?;
                keep_largest(&mut kept, k, &*in_partition);
                Ok(kept)
            },
            move |mut a, b| {
                a.extend(b);
                keep_largest(&mut a, k, &*in_tree);
                a
            },
            Vec::new,
        )
    }

    /// The first `n` items, in partition order, computing as little as
    /// possible: partitions are computed one at a time, first ones first,
    /// each stopping as soon as `n` items are in hand, and no partition after
    /// the one that completes `n` is computed at all.
    ///
    /// Each partition needed is one computation of its own, which recomputes
    /// what it depends on: after a shuffle, [`persist`](Bag::persist) the bag
    /// first if `take` will need more than its first partition.
    ///
    /// # Errors
    ///
    /// As [`Bag::compute`], for the partitions computed.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// // The second partition would panic, but the first has enough items:
    /// let bag = Bag::range(10, 2).map(|x| if x < 5 { x } else { panic!("never computed") });
    /// assert_eq!(bag.take(3)?, [0, 1, 2]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn take(&self, n: usize) -> Result<Vec<T>, BagError> {
        self.take_with(n, &default_options())
    }

    /// As [`Bag::take`], with explicit options.
    ///
    /// # Errors
    ///
    /// As [`Bag::compute`], for the partitions computed.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// use flotilla::ComputeOptions;
    /// assert_eq!(Bag::range(10, 5).take_with(3, &ComputeOptions::new().progress(false))?, [0, 1, 2]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn take_with(&self, n: usize, options: &ComputeOptions) -> Result<Vec<T>, BagError> {
        let mut out = Vec::new();
        for index in 0..self.npartitions() {
            if out.len() >= n {
                break;
            }
            out.extend(self.compute_one_partition(index, n - out.len(), options)?);
        }
        Ok(out)
    }
}

/// Keeps the `k` largest items of `items` by `compare`, largest first; a
/// stable sort, so equal items keep their order (the earlier first).
fn keep_largest<T>(items: &mut Vec<T>, k: usize, compare: &dyn Fn(&T, &T) -> Ordering) {
    items.sort_by(|a, b| compare(b, a));
    items.truncate(k);
}
