//! Bags on a cluster: a pipeline registered by type, run split by split
//! on the workers.
//!
//! A bag's steps are Rust closures, which a worker process cannot
//! receive; but a worker is a copy of the same binary. So the steps are
//! written once, in a type implementing [`BagPipeline`] — `fn
//! pipeline(&self, lines: Bag<String>) -> Bag<Item>` — that
//! [`cluster_bag!`](crate::cluster_bag) registers. The same pipeline runs
//! in-process on [`read_text`](crate::bag::read_text)'s bag, and on a
//! cluster with [`RemoteBag`]: one task per input split, on a worker,
//! builds the in-process bag of that split's lines, applies the pipeline
//! and computes it (fused, as in-process). `frequencies` then cuts each
//! split's counts by key into one piece per reducer, kept on its worker;
//! reducers fetch their pieces worker to worker and merge them, and only
//! their results come to the client.
//!
//! ```text
//!  split[m] ─► pipeline + counts (worker) ─► piece[m][r] ─► merge[r] ─► client
//! ```

use std::collections::HashMap;
use std::hash::Hash;

use flotilla_cluster::{Arg, Call, Client, ClusterFuture};
use flotilla_data::split::InputSplit;
use flotilla_local::checkpoint::KeyHasher;
use flotilla_local::{Checkpoint, ComputeOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{OnClusterError, RETRIES};
use crate::bag::{read_text_splits, Bag, BagError, TextOptions};
use crate::mapreduce::pieces::{
    arity, blob, cluster_shape, decode, encode, submit_pieces, with_pieces, MapBlob,
};

/// What a bag on a cluster computes: the items a text file's lines become.
/// Register the type with [`cluster_bag!`](crate::cluster_bag) in the
/// binary whose copies are the workers.
///
/// ```
/// use flotilla::bag::{Bag, BagError};
/// use flotilla::on_cluster::BagPipeline;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct LongWords {
///     min: usize,
/// }
///
/// impl BagPipeline for LongWords {
///     type Item = String;
///     fn pipeline(&self, lines: Bag<String>) -> Bag<String> {
///         let min = self.min;
///         lines
///             .flat_map(|l| l.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>())
///             .filter(move |w| w.len() >= min)
///     }
/// }
///
/// let words = LongWords { min: 4 }.pipeline(Bag::from_iter(["The quick brown fox".to_string()], 1));
/// assert_eq!(words.compute()?, ["quick", "brown"]);
/// # Ok::<(), BagError>(())
/// ```
pub trait BagPipeline: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The items of the bag the pipeline makes.
    type Item: Serialize + DeserializeOwned + Send + Sync + Clone + 'static;

    /// The bag made from `lines`, the lines of the input.
    fn pipeline(&self, lines: Bag<String>) -> Bag<Self::Item>;
}

/// A [`BagPipeline`] registered with [`cluster_bag!`](crate::cluster_bag):
/// the names of its tasks.
///
/// ```
/// # use flotilla::bag::Bag;
/// # use flotilla::on_cluster::{BagPipeline, ClusterBag};
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Lines;
/// impl BagPipeline for Lines {
///     type Item = String;
///     fn pipeline(&self, lines: Bag<String>) -> Bag<String> { lines }
/// }
/// flotilla::cluster_bag!(Lines);
/// assert!(<Lines as ClusterBag>::ITEMS.ends_with("Lines#items"));
/// ```
pub trait ClusterBag: BagPipeline {
    /// The task that computes one split's items.
    const ITEMS: &'static str;
    /// The task that counts one split's items.
    const COUNT: &'static str;
}

/// A [`ClusterBag`] whose items can be counted by value on a cluster
/// (`cluster_bag!(Type, frequencies)`).
///
/// ```
/// # use flotilla::bag::Bag;
/// # use flotilla::on_cluster::{BagPipeline, ClusterFrequencies};
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Lines;
/// impl BagPipeline for Lines {
///     type Item = String;
///     fn pipeline(&self, lines: Bag<String>) -> Bag<String> { lines }
/// }
/// flotilla::cluster_bag!(Lines, frequencies);
/// assert!(<Lines as ClusterFrequencies>::FREQUENCIES.ends_with("Lines#frequencies"));
/// ```
pub trait ClusterFrequencies: ClusterBag<Item: Hash + Eq + Ord> {
    /// The task that counts one split's items by value, cut by key.
    const FREQUENCIES: &'static str;
    /// The task that merges one reducer's pieces.
    const MERGE: &'static str;
}

/// Registers a [`BagPipeline`] type so that [`RemoteBag`] runs it on a
/// cluster (`cluster_bag!(Type)`; `cluster_bag!(Type, frequencies)` also
/// registers counting by value, for items that are `Hash + Eq + Ord`).
/// Call it at module level, once per type, in the binary whose copies are
/// the workers.
///
/// ```
/// # use flotilla::bag::Bag;
/// # use flotilla::on_cluster::BagPipeline;
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Words;
/// impl BagPipeline for Words {
///     type Item = String;
///     fn pipeline(&self, lines: Bag<String>) -> Bag<String> {
///         lines.flat_map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
///     }
/// }
/// flotilla::cluster_bag!(Words, frequencies);
/// ```
#[macro_export]
macro_rules! cluster_bag {
    ($bag:ty) => {
        const _: () = {
            impl $crate::on_cluster::ClusterBag for $bag {
                const ITEMS: &'static str = $crate::__task_name!($bag, "#items");
                const COUNT: &'static str = $crate::__task_name!($bag, "#count");
            }
            $crate::__register_task!(
                <$bag as $crate::on_cluster::ClusterBag>::ITEMS,
                $crate::on_cluster::__bag::items::<$bag>
            );
            $crate::__register_task!(
                <$bag as $crate::on_cluster::ClusterBag>::COUNT,
                $crate::on_cluster::__bag::count::<$bag>
            );
        };
    };
    ($bag:ty, frequencies) => {
        $crate::cluster_bag!($bag);
        const _: () = {
            impl $crate::on_cluster::ClusterFrequencies for $bag {
                const FREQUENCIES: &'static str = $crate::__task_name!($bag, "#frequencies");
                const MERGE: &'static str = $crate::__task_name!($bag, "#merge");
            }
            $crate::__register_task!(
                <$bag as $crate::on_cluster::ClusterFrequencies>::FREQUENCIES,
                $crate::on_cluster::__bag::frequencies::<$bag>
            );
            $crate::__register_task!(
                <$bag as $crate::on_cluster::ClusterFrequencies>::MERGE,
                $crate::on_cluster::__bag::merge::<$bag>
            );
        };
    };
}

/// The functions `cluster_bag!` registers (not an API: the macro's).
#[doc(hidden)]
pub mod __bag {
    use super::*;

    /// `(pipeline, split)`: the split's bag, built here.
    fn split_bag<P: BagPipeline>(args: &[&[u8]], task: &str) -> Result<Bag<P::Item>, String> {
        arity(args, 2, task)?;
        let pipeline: P = decode(args[0], "the pipeline")?;
        let split: InputSplit = decode(args[1], "the input split")?;
        Ok(pipeline.pipeline(read_text_splits(vec![split])))
    }

    fn options() -> ComputeOptions {
        ComputeOptions::new().progress(false)
    }

    /// `(pipeline, split)`: the split's items.
    pub fn items<P: ClusterBag>(args: &[&[u8]]) -> Result<Vec<u8>, String> {
        let items = split_bag::<P>(args, "bag items")?
            .compute_with(&options())
            .map_err(|e| e.to_string())?;
        encode(&items, "a split's items")
    }

    /// `(pipeline, split)`: the number of the split's items.
    pub fn count<P: ClusterBag>(args: &[&[u8]]) -> Result<Vec<u8>, String> {
        let n = split_bag::<P>(args, "bag count")?
            .count()
            .compute_with(&options())
            .map_err(|e| e.to_string())?;
        encode(&n, "a split's count")
    }

    /// `(pipeline, split, reducers)`: the split's counts by value, cut by
    /// key into one piece per reducer.
    pub fn frequencies<P: ClusterFrequencies>(args: &[&[u8]]) -> Result<Vec<u8>, String>
    where
        P::Item: Hash + Eq + Ord,
    {
        arity(args, 3, "bag frequencies")?;
        let reducers: u32 = decode(args[2], "the reducers")?;
        let counts = split_bag::<P>(&args[..2], "bag frequencies")?
            .frequencies()
            .compute_with(&options())
            .map_err(|e| e.to_string())?;
        let mut pieces: Vec<Vec<(P::Item, u64)>> =
            (0..reducers.max(1)).map(|_| Vec::new()).collect();
        let n = pieces.len();
        for (item, count) in counts {
            pieces[crate::hash::partition_of(&item, n)].push((item, count));
        }
        let pieces = pieces
            .iter()
            .map(|p| encode(p, "a piece of counts"))
            .collect::<Result<Vec<_>, _>>()?;
        blob(&(), &pieces)
    }

    /// `(pipeline, piece of split 0, piece of split 1, …)`: one reducer's
    /// counts, merged.
    pub fn merge<P: ClusterFrequencies>(args: &[&[u8]]) -> Result<Vec<u8>, String>
    where
        P::Item: Hash + Eq + Ord,
    {
        arity(args, 1, "bag merge")?;
        let mut merged: HashMap<P::Item, u64> = HashMap::new();
        for (m, piece) in args[1..].iter().enumerate() {
            let counts: Vec<(P::Item, u64)> = decode(piece, &format!("the piece of split {m}"))?;
            for (item, n) in counts {
                *merged.entry(item).or_insert(0) += n;
            }
        }
        encode(
            &merged.into_iter().collect::<Vec<_>>(),
            "a reducer's counts",
        )
    }
}

/// Items and how many times each occurs.
type Counts<T> = Vec<(T, u64)>;

/// A bag on a cluster: a registered [`BagPipeline`] over text files (paths
/// every worker can read), one task per input split.
///
/// ```
/// use flotilla::bag::{read_text, Bag};
/// use flotilla::on_cluster::{BagPipeline, RemoteBag};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Words;
/// impl BagPipeline for Words {
///     type Item = String;
///     fn pipeline(&self, lines: Bag<String>) -> Bag<String> {
///         lines.flat_map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
///     }
/// }
/// flotilla::cluster_bag!(Words, frequencies);
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("flotilla-doc-remote-bag-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let file = dir.join("t.txt");
/// std::fs::write(&file, "b a b\nc b a\n")?;
/// let path = file.to_str().unwrap();
/// let client = flotilla::cluster::Client::in_process(2)?;
/// let remote = RemoteBag::read_text(&client, Words, &[path])?;
/// assert_eq!(remote.frequencies()?, [("b".to_string(), 3), ("a".into(), 2), ("c".into(), 1)]);
/// // The same pipeline in-process:
/// assert_eq!(Words.pipeline(read_text(&[path])?).frequencies().compute()?, remote.frequencies()?);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RemoteBag<'c, P> {
    client: &'c Client,
    pipeline: P,
    splits: Vec<InputSplit>,
    checkpoint: Option<Checkpoint>,
}

impl<'c, P: ClusterBag> RemoteBag<'c, P> {
    /// The bag of `pipeline` over the lines of `inputs` (files, folders,
    /// globs), split as [`read_text`](crate::bag::read_text) splits them.
    ///
    /// # Errors
    ///
    /// [`OnClusterError::Bag`] for inputs that match nothing or cannot be
    /// read here.
    ///
    /// ```
    /// # use flotilla::bag::Bag;
    /// # use flotilla::on_cluster::{BagPipeline, RemoteBag};
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Lines;
    /// # impl BagPipeline for Lines {
    /// #     type Item = String;
    /// #     fn pipeline(&self, lines: Bag<String>) -> Bag<String> { lines }
    /// # }
    /// # flotilla::cluster_bag!(Lines);
    /// let client = flotilla::cluster::Client::in_process(1).unwrap();
    /// assert!(RemoteBag::read_text(&client, Lines, &["/no/such/file.txt"]).is_err());
    /// ```
    pub fn read_text(
        client: &'c Client,
        pipeline: P,
        inputs: &[&str],
    ) -> Result<RemoteBag<'c, P>, OnClusterError> {
        RemoteBag::read_text_with(client, pipeline, inputs, TextOptions::new())
    }

    /// As [`read_text`](RemoteBag::read_text), split as `options` says.
    ///
    /// # Errors
    ///
    /// As [`read_text`](RemoteBag::read_text).
    ///
    /// ```
    /// # use flotilla::bag::{Bag, TextOptions};
    /// # use flotilla::on_cluster::{BagPipeline, RemoteBag};
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Lines;
    /// # impl BagPipeline for Lines {
    /// #     type Item = String;
    /// #     fn pipeline(&self, lines: Bag<String>) -> Bag<String> { lines }
    /// # }
    /// # flotilla::cluster_bag!(Lines);
    /// # let file = std::env::temp_dir().join(format!("flotilla-doc-rb-with-{}.txt", std::process::id()));
    /// std::fs::write(&file, "one\ntwo\nthree\n").unwrap();
    /// let client = flotilla::cluster::Client::in_process(1).unwrap();
    /// let bag = RemoteBag::read_text_with(&client, Lines, &[file.to_str().unwrap()], TextOptions::new().split_bytes(5)).unwrap();
    /// assert_eq!(bag.npartitions(), 3);
    /// assert_eq!(bag.count().unwrap(), 3);
    /// # std::fs::remove_file(&file).unwrap();
    /// ```
    pub fn read_text_with(
        client: &'c Client,
        pipeline: P,
        inputs: &[&str],
        options: TextOptions,
    ) -> Result<RemoteBag<'c, P>, OnClusterError> {
        let splits = options.plan(inputs).map_err(BagError::from)?;
        Ok(RemoteBag {
            client,
            pipeline,
            splits,
            checkpoint: None,
        })
    }

    /// Keeps each split's task result in `checkpoint` (a folder every
    /// worker can reach): a computation run again reads back what it finds
    /// instead of running the pipeline over those splits. A task is kept
    /// under a key of what it computes (items, count, or counts to merge),
    /// the pipeline's own fields (they travel with each task), the split,
    /// and the file's size and modification time: a changed file runs its
    /// splits again, the others are read back.
    ///
    /// ```
    /// # use flotilla::bag::Bag;
    /// # use flotilla::on_cluster::{BagPipeline, RemoteBag};
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Lines;
    /// # impl BagPipeline for Lines {
    /// #     type Item = String;
    /// #     fn pipeline(&self, lines: Bag<String>) -> Bag<String> { lines }
    /// # }
    /// # flotilla::cluster_bag!(Lines);
    /// # let file = std::env::temp_dir().join(format!("flotilla-doc-rb-ckpt-{}.txt", std::process::id()));
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-rb-ckpt-dir-{}", std::process::id()));
    /// std::fs::write(&file, "a\nb\n").unwrap();
    /// let client = flotilla::cluster::Client::in_process(1).unwrap();
    /// for run in 0..2 {
    ///     let checkpoint = flotilla::Checkpoint::open(&dir).unwrap();
    ///     let bag = RemoteBag::read_text(&client, Lines, &[file.to_str().unwrap()]).unwrap();
    ///     assert_eq!(bag.checkpoint(&checkpoint).count().unwrap(), 2);
    ///     assert_eq!(checkpoint.loaded(), run);
    /// }
    /// # std::fs::remove_file(&file).unwrap();
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn checkpoint(mut self, checkpoint: &Checkpoint) -> RemoteBag<'c, P> {
        self.checkpoint = Some(checkpoint.clone());
        self
    }

    /// The number of partitions (input splits).
    ///
    /// ```
    /// # use flotilla::bag::Bag;
    /// # use flotilla::on_cluster::{BagPipeline, RemoteBag};
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Lines;
    /// # impl BagPipeline for Lines {
    /// #     type Item = String;
    /// #     fn pipeline(&self, lines: Bag<String>) -> Bag<String> { lines }
    /// # }
    /// # flotilla::cluster_bag!(Lines);
    /// # let file = std::env::temp_dir().join(format!("flotilla-doc-rb-n-{}.txt", std::process::id()));
    /// std::fs::write(&file, "x\n").unwrap();
    /// let client = flotilla::cluster::Client::in_process(1).unwrap();
    /// assert_eq!(RemoteBag::read_text(&client, Lines, &[file.to_str().unwrap()]).unwrap().npartitions(), 1);
    /// # std::fs::remove_file(&file).unwrap();
    /// ```
    pub fn npartitions(&self) -> usize {
        self.splits.len()
    }

    /// One task of `task` per split, with `extra` after the pipeline and
    /// the split.
    fn per_split<R, E: Serialize>(
        &self,
        task: &'static str,
        extra: Option<&E>,
    ) -> Result<Vec<ClusterFuture<R>>, OnClusterError> {
        self.splits
            .iter()
            .map(|split| {
                let mut call = Call::new(task)
                    .arg(Arg::by_ref(&self.pipeline))
                    .arg(Arg::by_ref(split))
                    .reads(split.path());
                if let Some(e) = extra {
                    call = call.arg(Arg::by_ref(e));
                }
                if let Some(checkpoint) = &self.checkpoint {
                    let version = KeyHasher::new("split").part(&split.fingerprint()).finish();
                    call = call.checkpoint(checkpoint).version(&version);
                }
                Ok(self.client.submit(call.retries(RETRIES))?)
            })
            .collect()
    }

    /// Every item, in input order: what the pipeline's `compute()` gives
    /// in-process.
    ///
    /// # Errors
    ///
    /// [`OnClusterError::Cluster`] for a task that failed for good (bad
    /// input names its file and line) or a cluster that went away.
    ///
    /// ```
    /// # use flotilla::bag::Bag;
    /// # use flotilla::on_cluster::{BagPipeline, RemoteBag};
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Lengths;
    /// impl BagPipeline for Lengths {
    ///     type Item = usize;
    ///     fn pipeline(&self, lines: Bag<String>) -> Bag<usize> { lines.map(|l| l.len()) }
    /// }
    /// flotilla::cluster_bag!(Lengths);
    /// # let file = std::env::temp_dir().join(format!("flotilla-doc-rb-items-{}.txt", std::process::id()));
    /// std::fs::write(&file, "a\nbcd\n").unwrap();
    /// let client = flotilla::cluster::Client::in_process(2).unwrap();
    /// let bag = RemoteBag::read_text(&client, Lengths, &[file.to_str().unwrap()]).unwrap();
    /// assert_eq!(bag.compute().unwrap(), [1, 3]);
    /// # std::fs::remove_file(&file).unwrap();
    /// ```
    pub fn compute(&self) -> Result<Vec<P::Item>, OnClusterError> {
        let parts = self.per_split::<Vec<P::Item>, ()>(P::ITEMS, None)?;
        Ok(self.client.gather(&parts)?.into_iter().flatten().collect())
    }

    /// The number of items.
    ///
    /// # Errors
    ///
    /// As [`compute`](RemoteBag::compute).
    ///
    /// ```
    /// # use flotilla::bag::Bag;
    /// # use flotilla::on_cluster::{BagPipeline, RemoteBag};
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Lines;
    /// # impl BagPipeline for Lines {
    /// #     type Item = String;
    /// #     fn pipeline(&self, lines: Bag<String>) -> Bag<String> { lines }
    /// # }
    /// # flotilla::cluster_bag!(Lines);
    /// # let file = std::env::temp_dir().join(format!("flotilla-doc-rb-count-{}.txt", std::process::id()));
    /// std::fs::write(&file, "a\nb\n").unwrap();
    /// let client = flotilla::cluster::Client::in_process(1).unwrap();
    /// assert_eq!(RemoteBag::read_text(&client, Lines, &[file.to_str().unwrap()]).unwrap().count().unwrap(), 2);
    /// # std::fs::remove_file(&file).unwrap();
    /// ```
    pub fn count(&self) -> Result<u64, OnClusterError> {
        let parts = self.per_split::<u64, ()>(P::COUNT, None)?;
        Ok(self.client.gather(&parts)?.into_iter().sum())
    }
}

impl<P: ClusterFrequencies> RemoteBag<'_, P>
where
    P::Item: Hash + Eq + Ord,
{
    /// How many times each distinct item occurs, most frequent first (ties
    /// in item order), as the in-process `frequencies()`: each split's
    /// counts cut by key into one piece per worker thread, merged by
    /// reducers on the workers.
    ///
    /// # Errors
    ///
    /// As [`compute`](RemoteBag::compute).
    ///
    /// ```
    /// # use flotilla::bag::Bag;
    /// # use flotilla::on_cluster::{BagPipeline, RemoteBag};
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Lines;
    /// # impl BagPipeline for Lines {
    /// #     type Item = String;
    /// #     fn pipeline(&self, lines: Bag<String>) -> Bag<String> { lines }
    /// # }
    /// # flotilla::cluster_bag!(Lines, frequencies);
    /// # let file = std::env::temp_dir().join(format!("flotilla-doc-rb-freq-{}.txt", std::process::id()));
    /// std::fs::write(&file, "x\ny\nx\n").unwrap();
    /// let client = flotilla::cluster::Client::in_process(1).unwrap();
    /// let bag = RemoteBag::read_text(&client, Lines, &[file.to_str().unwrap()]).unwrap();
    /// assert_eq!(bag.frequencies().unwrap(), [("x".to_string(), 2), ("y".to_string(), 1)]);
    /// # std::fs::remove_file(&file).unwrap();
    /// ```
    pub fn frequencies(&self) -> Result<Vec<(P::Item, u64)>, OnClusterError> {
        let reducers = cluster_shape(self.client, usize::MAX)?.threads as u32;
        let blobs = self.per_split::<MapBlob, u32>(P::FREQUENCIES, Some(&reducers))?;
        let mut merged: Vec<ClusterFuture<Counts<P::Item>>> = Vec::new();
        for r in 0..reducers {
            let pieces = submit_pieces(self.client, &blobs, r, RETRIES)?;
            let call = Call::new(P::MERGE).arg(Arg::by_ref(&self.pipeline));
            merged.push(
                self.client
                    .submit(with_pieces(call, &pieces).retries(RETRIES))?,
            );
        }
        let mut counts: Vec<(P::Item, u64)> =
            self.client.gather(&merged)?.into_iter().flatten().collect();
        counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(counts)
    }
}
