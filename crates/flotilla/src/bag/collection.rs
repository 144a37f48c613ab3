//! [`Bag`]: the type, its constructors, its element-wise operations, and
//! computing it.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Range;
use std::sync::Arc;

use flotilla_core::TaskKey;
use flotilla_local::{Checkpoint, ComputeOptions, Delayed};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::feed::{feed, materialized_feed, Feed, Flow, Materialized, Partial, Sink, Source};
use super::{settle, BagError};
use crate::mapreduce::sort::SortOptions;
use flotilla_data::panic_site::{catch_in_partition, Site};

/// How many partial results a combining task of a tree reduction takes by
/// default (dask.bag's `split_every`).
///
/// ```
/// assert_eq!(flotilla::bag::DEFAULT_SPLIT_EVERY, 8);
/// ```
pub const DEFAULT_SPLIT_EVERY: usize = 8;

/// The first key of a fresh group of task keys for one operation,
/// `name[0]`; the others are its siblings, and nodes take them with
/// [`Delayed::named_op`]. The name carries no number: when a graph holds two
/// operations of one name, assembling it tells their groups apart by
/// identity and names the later one `name#2`, so keys do not depend on what
/// else the process built.
pub(super) fn key_group(name: &str) -> TaskKey {
    TaskKey::indexed(name, 0)
}

/// What a bag's operations are tuned with; derived bags inherit it.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    /// Fan-in of tree reductions.
    pub(super) split_every: usize,
    /// Output partitions of shuffles (default: the input's partition count).
    pub(super) shuffle_partitions: Option<usize>,
    /// Memory budget and spill folder of `group_by`'s shuffle.
    pub(super) sort: SortOptions,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            split_every: DEFAULT_SPLIT_EVERY,
            shuffle_partitions: None,
            sort: SortOptions::new(),
        }
    }
}

/// A lazy, partitioned collection of items — flotilla's `dask.bag`.
///
/// Each partition is a node of a task graph ([`Delayed`]); operations build
/// new nodes or extend a partition's pipeline, and nothing runs until a
/// `compute` — of the bag itself, of a reduction ([`Item`](super::Item)), or
/// of an eager operation ([`take`](Bag::take),
/// [`to_textfiles`](Bag::to_textfiles)). See the [module docs](super) for
/// the design: fused pipelines, tree reductions and shuffles.
///
/// A `Bag` is cheap to clone (it shares its graph) and can be computed any
/// number of times; each computation runs its tasks anew.
///
/// ```
/// use flotilla::bag::Bag;
///
/// let squares = Bag::range(10, 3).map(|x| x * x).filter(|x| x % 2 == 0);
/// assert_eq!(squares.compute()?, [0, 4, 16, 36, 64]);
/// assert_eq!(squares.sum().compute()?, 120);
/// # Ok::<(), flotilla::bag::BagError>(())
/// ```
#[must_use = "a bag is lazy: nothing runs until it is computed"]
pub struct Bag<T> {
    /// One graph node per partition.
    pub(super) sources: Vec<Delayed<Source>>,
    /// Pushes a partition's items, through every fused operation.
    pub(super) feed: Feed<T>,
    /// The operations fused so far, for task keys: `read_text|map|filter`.
    pub(super) ops: Arc<str>,
    pub(super) settings: Settings,
}

impl<T> Clone for Bag<T> {
    fn clone(&self) -> Self {
        Bag {
            sources: self.sources.clone(),
            feed: Arc::clone(&self.feed),
            ops: Arc::clone(&self.ops),
            settings: self.settings.clone(),
        }
    }
}

impl<T> fmt::Debug for Bag<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bag")
            .field("partitions", &self.sources.len())
            .field("operations", &self.ops)
            .field("item", &std::any::type_name::<T>())
            .finish()
    }
}

/// One partition's items, as a task sees them: pushed through the bag's
/// fused operations into a consumer.
pub(super) struct Items<'a, T> {
    feed: &'a Feed<T>,
    index: usize,
    source: &'a Source,
}

impl<T> Items<'_, T> {
    /// The partition's position in its bag.
    pub(super) fn index(&self) -> usize {
        self.index
    }

    /// Pushes every item into `sink`, until it answers `Break`.
    pub(super) fn push_into(self, sink: &mut Sink<'_, T>) -> Result<(), BagError> {
        (self.feed)(self.index, self.source, sink)
    }

    /// Calls `f` with every item.
    pub(super) fn for_each(self, mut f: impl FnMut(T)) -> Result<(), BagError> {
        self.push_into(&mut |x| {
            f(x);
            Flow::Continue(())
        })
    }

    /// Calls `f` with every item, stopping at its first error.
    pub(super) fn try_for_each(
        self,
        mut f: impl FnMut(T) -> Result<(), BagError>,
    ) -> Result<(), BagError> {
        let mut failed = None;
        self.push_into(&mut |x| match f(x) {
            Ok(()) => Flow::Continue(()),
            Err(e) => {
                failed = Some(e);
                Flow::Break(())
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// The items in a vector, at most `limit` of them.
    pub(super) fn collect_up_to(self, limit: usize) -> Result<Vec<T>, BagError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.push_into(&mut |x| {
            out.push(x);
            if out.len() >= limit {
                Flow::Break(())
            } else {
                Flow::Continue(())
            }
        })?;
        Ok(out)
    }
}

/// Where the function of [`Bag::flat_map_emit`] sends the items it makes.
///
/// ```
/// use flotilla::bag::Bag;
///
/// let pairs = Bag::range(3, 1).flat_map_emit(|x, out| {
///     out.emit(x);
///     if out.wants_more() {
///         out.emit(x * 100);
///     }
/// });
/// assert_eq!(pairs.compute()?, [0, 0, 1, 100, 2, 200]);
/// assert_eq!(pairs.take(3)?, [0, 0, 1]);
/// # Ok::<(), flotilla::bag::BagError>(())
/// ```
pub struct Emit<'s, 'a, U> {
    sink: &'s mut Sink<'a, U>,
    flow: Flow,
}

impl<U> Emit<'_, '_, U> {
    /// Sends one item on; ignored once the consumer has enough items (see
    /// [`wants_more`](Emit::wants_more)).
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// let doubled = Bag::range(2, 1).flat_map_emit(|x, out| { out.emit(x); out.emit(x); });
    /// assert_eq!(doubled.compute()?, [0, 0, 1, 1]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    #[inline]
    pub fn emit(&mut self, item: U) {
        if self.flow.is_continue() {
            self.flow = (self.sink)(item);
        }
    }

    /// Whether the consumer still takes items: false once it has all it
    /// needs (a [`take`](Bag::take)), so that costly work can stop early.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// let many = Bag::range(1, 1).flat_map_emit(|_, out| {
    ///     let mut i = 0u64;
    ///     while out.wants_more() {
    ///         out.emit(i);
    ///         i += 1;
    ///     }
    /// });
    /// assert_eq!(many.take(4)?, [0, 1, 2, 3]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn wants_more(&self) -> bool {
        self.flow.is_continue()
    }
}

impl<U> fmt::Debug for Emit<'_, '_, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emit")
            .field("wants_more", &self.wants_more())
            .finish()
    }
}

impl<T: Clone + Send + Sync + 'static> Bag<T> {
    /// A bag of `items` cut into `partitions` partitions of nearly equal
    /// length (at least one partition; some are empty when there are fewer
    /// items than partitions) — dask's `from_sequence`.
    ///
    /// The items are kept in the graph and cloned out each time the bag is
    /// computed.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let bag = Bag::from_iter(["a", "b", "c", "d", "e"], 2);
    /// assert_eq!(bag.npartitions(), 2);
    /// assert_eq!(bag.compute_partitions()?, [vec!["a", "b", "c"], vec!["d", "e"]]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn from_iter<I: IntoIterator<Item = T>>(items: I, partitions: usize) -> Bag<T> {
        let items: Vec<T> = items.into_iter().collect();
        let n = partitions.max(1);
        let len = items.len();
        let mut rest = items.into_iter();
        let parts = (0..n)
            .map(|p| {
                let size = len / n + usize::from(p < len % n);
                rest.by_ref().take(size).collect()
            })
            .collect();
        Bag::materialized("from_iter", parts)
    }

    /// A bag with exactly these partitions (empty ones included; no
    /// partition at all makes an empty bag).
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let bag = Bag::from_partitions(vec![vec![1, 2], vec![], vec![3]]);
    /// assert_eq!(bag.npartitions(), 3);
    /// assert_eq!(bag.compute()?, [1, 2, 3]);
    /// assert_eq!(Bag::<u8>::from_partitions(vec![]).count().compute()?, 0);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn from_partitions(partitions: Vec<Vec<T>>) -> Bag<T> {
        Bag::materialized("from_partitions", partitions)
    }

    fn materialized(name: &str, partitions: Vec<Vec<T>>) -> Bag<T> {
        let key = key_group(name);
        let sources = partitions
            .into_iter()
            .enumerate()
            .map(|(i, items)| {
                Delayed::value(Source::new(Materialized(Ok(items)))).named_op(key.sibling(i as u64))
            })
            .collect();
        Bag::from_sources(sources, materialized_feed(), name, Settings::default())
    }

    /// Computes the bag and returns a bag over the computed partitions, so
    /// that later operations (several reductions, a `take` after a shuffle)
    /// do not recompute its pipeline — dask's `persist`.
    ///
    /// # Errors
    ///
    /// As [`Bag::compute`].
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let words = Bag::from_iter(["b", "a", "b"], 2).map(|w| w.to_uppercase()).persist()?;
    /// assert_eq!(words.npartitions(), 2);
    /// assert_eq!(words.frequencies().compute()?, [("B".to_string(), 2), ("A".to_string(), 1)]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn persist(&self) -> Result<Bag<T>, BagError> {
        let settings = self.settings.clone();
        let mut bag = Bag::materialized("persist", self.compute_partitions()?);
        bag.settings = settings;
        Ok(bag)
    }

    /// The same bag, whose partitions' items come from sources of this
    /// `version`: part of every checkpoint key downstream
    /// ([`Bag::checkpoint`]). Give one to a bag made from items in memory
    /// ([`Bag::from_iter`], [`Bag::from_partitions`]) saying what they are,
    /// and change it when the code of the bag's operations changes: what a
    /// closure does is not part of a key. (Files read by
    /// [`read_text`](super::read_text) and [`Bag::range`] are named by
    /// what they read already.)
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// let bag = Bag::from_iter(1..=3, 2).version(b"1..=3");
    /// assert_eq!(bag.sum().compute()?, 6);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn version(&self, version: impl AsRef<[u8]>) -> Bag<T> {
        let version = version.as_ref();
        let mut bag = self.clone();
        bag.sources = self
            .sources
            .iter()
            .map(|source| source.clone().version(version))
            .collect();
        bag
    }
}

impl<T> Bag<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// The same items, each partition kept in `checkpoint` once computed:
    /// a computation of the bag (or of anything made from it) run again —
    /// after a crash, a Ctrl-C, or with a changed later step — reads the
    /// partitions it finds there instead of computing them and the
    /// pipeline before them, and computes only the rest.
    ///
    /// A partition is kept under a key made of its task's key (the bag's
    /// chain of operations and the partition's number), what its sources
    /// read (a file's path, byte range, size and modification time; a
    /// range's bounds; a [version](Bag::version)) and the keys of the
    /// tasks in between, so a changed input file computes its own
    /// partitions again and nothing else. A partition that fails (an input
    /// that cannot be read, a line that is not UTF-8) fails its task and is
    /// not kept.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// use flotilla::Checkpoint;
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-bag-ckpt-doc-{}", std::process::id()));
    /// for run in 0..2 {
    ///     let checkpoint = Checkpoint::open(&dir)?;
    ///     let squares = Bag::range(1_000, 4).map(|x| x * x).checkpoint(&checkpoint);
    ///     assert_eq!(squares.sum().compute()?, 332_833_500);
    ///     // The first run computes the 4 partitions; the second reads them.
    ///     let expected = if run == 0 { (4, 0) } else { (0, 4) };
    ///     assert_eq!((checkpoint.computed(), checkpoint.loaded()), expected);
    /// }
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint(&self, checkpoint: &Checkpoint) -> Bag<T> {
        let key = key_group(&format!("{}|checkpoint", self.ops));
        let sources = self
            .partition_nodes("keep", |items| match items.collect_up_to(usize::MAX) {
                Ok(items) => items,
                Err(e) => flotilla_local::fail_task(e),
            })
            .into_iter()
            .enumerate()
            .map(|(i, kept)| {
                kept.checkpoint(checkpoint)
                    .hand_over()
                    .map_owned(|items: Vec<T>| Source::new(Materialized(Ok(items))))
                    .named_op(key.sibling(i as u64))
            })
            .collect();
        Bag::from_sources(
            sources,
            materialized_feed(),
            "checkpoint",
            self.settings.clone(),
        )
    }
}

impl Bag<u64> {
    /// The numbers `0..n` in `partitions` contiguous ranges of nearly equal
    /// length (at least one partition). Nothing is stored: each partition's
    /// task counts its own range.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let bag = Bag::range(7, 3);
    /// assert_eq!(bag.compute_partitions()?, [vec![0, 1], vec![2, 3], vec![4, 5, 6]]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn range(n: u64, partitions: usize) -> Bag<u64> {
        let parts = partitions.max(1) as u128;
        let key = key_group("range");
        let sources = (0..parts)
            .map(|p| {
                // In u128 so that n * p never overflows.
                let start = (u128::from(n) * p / parts) as u64;
                let end = (u128::from(n) * (p + 1) / parts) as u64;
                let range = [start.to_le_bytes(), end.to_le_bytes()].concat();
                Delayed::value(Source::new(start..end))
                    .version(range)
                    .named_op(key.sibling(p as u64))
            })
            .collect();
        let feed = feed(|_, source, sink: &mut Sink<'_, u64>| {
            for x in source.get::<Range<u64>>()?.clone() {
                if sink(x).is_break() {
                    break;
                }
            }
            Ok(())
        });
        Bag::from_sources(sources, feed, "range", Settings::default())
    }
}

impl<T: Send + 'static> Bag<T> {
    pub(super) fn from_sources(
        sources: Vec<Delayed<Source>>,
        feed: Feed<T>,
        ops: &str,
        settings: Settings,
    ) -> Bag<T> {
        Bag {
            sources,
            feed,
            ops: ops.into(),
            settings,
        }
    }

    /// The same partitions with one more operation fused into their feed.
    /// The bag after one more element-wise operation `op`, whose feed
    /// `make` builds, given the chain of operations up to and including
    /// `op` (`range|map|filter`) for naming it if the user's code panics.
    fn derive<U>(&self, op: &str, make: impl FnOnce(Arc<str>) -> Feed<U>) -> Bag<U> {
        let ops: Arc<str> = format!("{}|{op}", self.ops).into();
        Bag {
            sources: self.sources.clone(),
            feed: make(Arc::clone(&ops)),
            ops,
            settings: self.settings.clone(),
        }
    }

    /// One graph node per partition, computing `f` over the partition's
    /// items; keys `ops|label[i]`.
    pub(super) fn partition_nodes<V, F>(&self, label: &str, f: F) -> Vec<Delayed<V>>
    where
        V: Send + Sync + 'static,
        F: Fn(Items<'_, T>) -> V + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let chain: Arc<str> = format!("{}|{label}", self.ops).into();
        let key = key_group(&chain);
        (0..self.sources.len())
            .map(|i| self.partition_node(i, &key, Arc::clone(&chain), Arc::clone(&f)))
            .collect()
    }

    fn partition_node<V, F>(
        &self,
        index: usize,
        key: &TaskKey,
        chain: Arc<str>,
        f: Arc<F>,
    ) -> Delayed<V>
    where
        V: Send + Sync + 'static,
        F: Fn(Items<'_, T>) -> V + Send + Sync + 'static,
    {
        let feed = Arc::clone(&self.feed);
        self.sources[index]
            .map(move |source| {
                catch_in_partition(index, &chain, || {
                    f(Items {
                        feed: &feed,
                        index,
                        source,
                    })
                })
            })
            .named_op(key.sibling(index as u64))
    }

    /// As [`partition_nodes`](Self::partition_nodes), each result handed
    /// over to the one task that consumes it, which moves it out.
    pub(super) fn partition_tasks<A, F>(&self, label: &str, f: F) -> Vec<Delayed<Partial<A>>>
    where
        A: Clone + Send + Sync + 'static,
        F: Fn(Items<'_, T>) -> Result<A, BagError> + Send + Sync + 'static,
    {
        self.partition_nodes(label, move |items| settle(f(items)))
            .into_iter()
            .map(Delayed::hand_over)
            .collect()
    }

    /// The number of partitions.
    ///
    /// ```
    /// assert_eq!(flotilla::bag::Bag::range(100, 4).npartitions(), 4);
    /// ```
    pub fn npartitions(&self) -> usize {
        self.sources.len()
    }

    /// The same bag, whose tree reductions combine `fan_in` partial results
    /// per task (at least 2; default [`DEFAULT_SPLIT_EVERY`]). Bags derived
    /// from it keep the setting.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let bag = Bag::range(100, 8);
    /// // 8 sources + 8 partials + 7 binary combining tasks:
    /// assert_eq!(bag.clone().split_every(2).count().task_count(), 23);
    /// // 8 sources + 8 partials + 1 combining task:
    /// assert_eq!(bag.split_every(8).count().task_count(), 17);
    /// ```
    pub fn split_every(mut self, fan_in: usize) -> Bag<T> {
        self.settings.split_every = fan_in.max(2);
        self
    }

    /// The same bag, whose shuffles ([`group_by`](Bag::group_by),
    /// [`fold_by`](Bag::fold_by), [`distinct`](Bag::distinct),
    /// [`join`](Bag::join)) produce `partitions` partitions (at least 1;
    /// default: as many as the input has). Bags derived from it keep the
    /// setting.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let counts = Bag::range(100, 10).shuffle_partitions(3).fold_by(|x| x % 7, 0, |n, _| n + 1, |a, b| a + b);
    /// assert_eq!(counts.npartitions(), 3);
    /// ```
    pub fn shuffle_partitions(mut self, partitions: usize) -> Bag<T> {
        self.settings.shuffle_partitions = Some(partitions.max(1));
        self
    }

    /// The same bag, whose [`group_by`](Bag::group_by) shuffle buffers and
    /// spills with these options: the memory budget of each map task, and the
    /// folder of the spill files. Bags derived from it keep the setting.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// use flotilla::mapreduce::sort::SortOptions;
    ///
    /// let groups = Bag::range(1000, 4)
    ///     .sort_options(SortOptions::new().budget_bytes(1024)) // spills a lot
    ///     .group_by(|x| x % 3);
    /// assert_eq!(groups.map(|(_, xs)| xs.len()).sum().compute()?, 1000);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn sort_options(mut self, options: SortOptions) -> Bag<T> {
        self.settings.sort = options;
        self
    }

    /// Applies `f` to every item.
    ///
    /// Element-wise operations are fused: a chain of `map`, `filter`,
    /// `flat_map`, `map_partitions` and `join_lookup` runs inside the one
    /// task that reads each partition, item by item, with nothing
    /// materialized in between.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let lengths = Bag::from_iter(["a", "bcd", "ef"], 2).map(str::len);
    /// assert_eq!(lengths.compute()?, [1, 3, 2]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn map<U, F>(&self, f: F) -> Bag<U>
    where
        U: Send + 'static,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        let prev = Arc::clone(&self.feed);
        self.derive("map", |chain| {
            feed(move |i, source, sink: &mut Sink<'_, U>| {
                let site = Site::per_item("map", &chain);
                prev(i, source, &mut |x| {
                    let y = site.call(|| f(x));
                    sink(y)
                })
            })
        })
    }

    /// Keeps the items for which `predicate` is true.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let odd = Bag::range(10, 3).filter(|x| x % 2 == 1);
    /// assert_eq!(odd.compute()?, [1, 3, 5, 7, 9]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn filter<F>(&self, predicate: F) -> Bag<T>
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        let prev = Arc::clone(&self.feed);
        self.derive("filter", |chain| {
            feed(move |i, source, sink: &mut Sink<'_, T>| {
                let site = Site::per_item("filter", &chain);
                prev(i, source, &mut |x| {
                    if site.call(|| predicate(&x)) {
                        sink(x)
                    } else {
                        Flow::Continue(())
                    }
                })
            })
        })
    }

    /// Replaces every item by the items `f` returns for it (any
    /// `IntoIterator`: a `Vec`, an `Option`, an owning iterator).
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let lines = Bag::from_iter(["to be", "or not"], 2);
    /// let words = lines.flat_map(|line| line.split(' ').map(str::to_owned).collect::<Vec<_>>());
    /// assert_eq!(words.compute()?, ["to", "be", "or", "not"]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn flat_map<U, I, F>(&self, f: F) -> Bag<U>
    where
        U: Send + 'static,
        I: IntoIterator<Item = U>,
        F: Fn(T) -> I + Send + Sync + 'static,
    {
        let prev = Arc::clone(&self.feed);
        self.derive("flat_map", |chain| {
            feed(move |i, source, sink: &mut Sink<'_, U>| {
                let site = Site::per_item("flat_map", &chain);
                prev(i, source, &mut |x| {
                    let mut items = site.call_again(|| f(x).into_iter());
                    while let Some(u) = site.call_again(|| items.next()) {
                        if sink(u).is_break() {
                            site.next_item();
                            return Flow::Break(());
                        }
                    }
                    site.next_item();
                    Flow::Continue(())
                })
            })
        })
    }

    /// Replaces every item by the items `f` emits for it through an
    /// [`Emit`]: a [`flat_map`](Bag::flat_map) without a collection in
    /// between, for the hot loop of a pipeline — a word count emits each
    /// word straight from the line it splits.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let lines = Bag::from_iter(["to be", "or not"], 2);
    /// let lengths = lines.flat_map_emit(|line, out| {
    ///     for word in line.split(' ') {
    ///         out.emit(word.len());
    ///     }
    /// });
    /// assert_eq!(lengths.compute()?, [2, 2, 2, 3]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn flat_map_emit<U, F>(&self, f: F) -> Bag<U>
    where
        U: Send + 'static,
        F: Fn(T, &mut Emit<'_, '_, U>) + Send + Sync + 'static,
    {
        let prev = Arc::clone(&self.feed);
        self.derive("flat_map_emit", |chain| {
            feed(move |i, source, sink: &mut Sink<'_, U>| {
                let site = Site::per_item("flat_map_emit", &chain);
                prev(i, source, &mut |x| {
                    let mut out = Emit {
                        sink: &mut *sink,
                        flow: Flow::Continue(()),
                    };
                    site.call(|| f(x, &mut out));
                    out.flow
                })
            })
        })
    }

    /// Replaces each partition by what `f` makes of all its items at once
    /// (one call per partition, with the partition's items in order).
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// // One running total per partition:
    /// let totals = Bag::range(6, 2).map_partitions(|xs| vec![xs.iter().sum::<u64>()]);
    /// assert_eq!(totals.compute()?, [3, 12]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn map_partitions<U, I, F>(&self, f: F) -> Bag<U>
    where
        U: Send + 'static,
        I: IntoIterator<Item = U>,
        F: Fn(Vec<T>) -> I + Send + Sync + 'static,
    {
        let prev = Arc::clone(&self.feed);
        self.derive("map_partitions", |chain| {
            feed(move |i, source, sink: &mut Sink<'_, U>| {
                let site = Site::per_partition("map_partitions", &chain);
                let mut items = Vec::new();
                prev(i, source, &mut |x| {
                    items.push(x);
                    Flow::Continue(())
                })?;
                let mut out = site.call_again(|| f(items).into_iter());
                while let Some(u) = site.call_again(|| out.next()) {
                    if sink(u).is_break() {
                        break;
                    }
                }
                Ok(())
            })
        })
    }

    /// Pairs every item with the value of its key in a small lookup table,
    /// sent whole to every partition (a broadcast join); items whose key is
    /// not in the table are dropped (an inner join). The table is cloned once,
    /// here.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use flotilla::bag::Bag;
    ///
    /// let names = HashMap::from([(1u32, "one"), (2, "two")]);
    /// let orders = Bag::from_iter([(1u32, 9.5), (3, 1.0), (2, 4.0)], 2);
    /// let named = orders.join_lookup(&names, |(id, _)| *id);
    /// assert_eq!(named.compute()?, [((1, 9.5), "one"), ((2, 4.0), "two")]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn join_lookup<K, U, S, F>(&self, table: &HashMap<K, U, S>, key: F) -> Bag<(T, U)>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        U: Clone + Send + Sync + 'static,
        S: BuildHasher + Clone + Send + Sync + 'static,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        let table = Arc::new(table.clone());
        let prev = Arc::clone(&self.feed);
        self.derive("join_lookup", |chain| {
            feed(move |i, source, sink: &mut Sink<'_, (T, U)>| {
                let site = Site::per_item("join_lookup", &chain);
                prev(
                    i,
                    source,
                    &mut |x| match table.get(&site.call(|| key(&x))) {
                        Some(u) => sink((x, u.clone())),
                        None => Flow::Continue(()),
                    },
                )
            })
        })
    }

    /// The items of `self`, then those of `other`: a bag with the partitions
    /// of both (dask's `concat`). Each side keeps its own pipeline.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let a = Bag::range(3, 1);
    /// let b = Bag::range(2, 2).map(|x| x + 100);
    /// let both = a.concat(&b);
    /// assert_eq!(both.npartitions(), 3);
    /// assert_eq!(both.compute()?, [0, 1, 2, 100, 101]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn concat(&self, other: &Bag<T>) -> Bag<T> {
        let split = self.sources.len();
        let (first, second) = (Arc::clone(&self.feed), Arc::clone(&other.feed));
        let mut sources = self.sources.clone();
        sources.extend(other.sources.iter().cloned());
        Bag {
            sources,
            feed: feed(move |i, source, sink: &mut Sink<'_, T>| {
                if i < split {
                    first(i, source, sink)
                } else {
                    second(i - split, source, sink)
                }
            }),
            ops: "concat".into(),
            settings: self.settings.clone(),
        }
    }

    /// The graph node holding every partition's items, in partition order.
    fn partitions_root(&self) -> Delayed<Partial<Vec<Vec<T>>>>
    where
        T: Clone + Sync,
    {
        let parts = self.partition_tasks("collect", |items| items.collect_up_to(usize::MAX));
        let key = key_group(&format!("{}|concat", self.ops));
        if parts.is_empty() {
            return Delayed::from_fn(|| Ok(Vec::new())).named_op(key);
        }
        Delayed::gather_owned(&parts, |parts: Vec<Partial<Vec<T>>>| {
            parts.into_iter().collect()
        })
        .named_op(key)
    }

    /// Computes every partition and returns all the items, partition after
    /// partition, on the default pool (with a progress bar on a terminal for
    /// runs over a second).
    ///
    /// # Errors
    ///
    /// [`BagError::Task`] for a panic in user code (naming the task); an
    /// input that could not be read, or a spill that could not be written
    /// ([`BagError::Input`], [`BagError::Spill`]): a failure of its task,
    /// retried as many times as [`ComputeOptions::retries`] allows, and
    /// the work that needed it not started; or a line that is not UTF-8
    /// ([`BagError::NotUtf8`]), an error of the data that no retry mends:
    /// the first one in partition order.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// assert_eq!(Bag::range(4, 2).map(|x| x * 10).compute()?, [0, 10, 20, 30]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn compute(&self) -> Result<Vec<T>, BagError>
    where
        T: Clone + Sync,
    {
        self.compute_with(&default_options())
    }

    /// As [`Bag::compute`], with explicit options: the pool, the placement
    /// policy, the progress bar.
    ///
    /// # Errors
    ///
    /// As [`Bag::compute`].
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// use flotilla::{ComputeOptions, CpuPool};
    ///
    /// let pool = CpuPool::with_threads(2).unwrap();
    /// let options = ComputeOptions::new().pool(&pool).progress(false);
    /// assert_eq!(Bag::range(3, 3).compute_with(&options)?, [0, 1, 2]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn compute_with(&self, options: &ComputeOptions) -> Result<Vec<T>, BagError>
    where
        T: Clone + Sync,
    {
        let parts = self.compute_partitions_with(options)?;
        let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
        for part in parts {
            out.extend(part);
        }
        Ok(out)
    }

    /// Computes the bag and returns each partition's items separately.
    ///
    /// # Errors
    ///
    /// As [`Bag::compute`].
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// assert_eq!(Bag::range(3, 2).compute_partitions()?, [vec![0], vec![1, 2]]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn compute_partitions(&self) -> Result<Vec<Vec<T>>, BagError>
    where
        T: Clone + Sync,
    {
        self.compute_partitions_with(&default_options())
    }

    /// As [`Bag::compute_partitions`], with explicit options.
    ///
    /// # Errors
    ///
    /// As [`Bag::compute`].
    ///
    /// ```
    /// use flotilla::bag::Bag;
    /// use flotilla::ComputeOptions;
    /// let parts = Bag::range(2, 2).compute_partitions_with(&ComputeOptions::new().progress(false))?;
    /// assert_eq!(parts, [vec![0], vec![1]]);
    /// # Ok::<(), flotilla::bag::BagError>(())
    /// ```
    pub fn compute_partitions_with(&self, options: &ComputeOptions) -> Result<Vec<Vec<T>>, BagError>
    where
        T: Clone + Sync,
    {
        self.partitions_root().compute_with(options)?
    }

    /// The graph that [`compute`](Bag::compute) runs, in Graphviz DOT
    /// format: one source node and one task per partition (the fused
    /// operations are named in its key), then the concatenation.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let dot = Bag::range(10, 2).map(|x| x + 1).filter(|x| x % 2 == 0).to_dot();
    /// assert!(dot.starts_with("digraph"));
    /// assert!(dot.contains("range|map|filter|collect"));
    /// ```
    pub fn to_dot(&self) -> String
    where
        T: Clone + Sync,
    {
        self.partitions_root().to_dot()
    }

    /// The number of tasks [`compute`](Bag::compute) runs: a chain of
    /// element-wise operations adds none.
    ///
    /// ```
    /// use flotilla::bag::Bag;
    ///
    /// let bag = Bag::range(100, 4);
    /// let long_chain = bag.map(|x| x + 1).filter(|x| x % 3 > 0).map(|x| x * 2);
    /// // 4 sources, 4 partition tasks, 1 concatenation:
    /// assert_eq!(bag.task_count(), 9);
    /// assert_eq!(long_chain.task_count(), 9);
    /// ```
    pub fn task_count(&self) -> usize
    where
        T: Clone + Sync,
    {
        self.partitions_root().task_count()
    }

    /// Computes partition `index` alone, in a graph of its own, and returns
    /// its first `limit` items (its pipeline stops there).
    pub(super) fn compute_one_partition(
        &self,
        index: usize,
        limit: usize,
        options: &ComputeOptions,
    ) -> Result<Vec<T>, BagError>
    where
        T: Clone + Sync,
    {
        let chain: Arc<str> = format!("{}|take", self.ops).into();
        let key = key_group(&chain);
        let node = self.partition_node(
            index,
            &key,
            chain,
            Arc::new(move |items: Items<'_, T>| settle(items.collect_up_to(limit))),
        );
        node.compute_with(options)?
    }
}

/// The options of the `compute` methods without options: the default pool,
/// a progress bar labelled `bag`.
pub(super) fn default_options() -> ComputeOptions {
    ComputeOptions::new().label("bag")
}
