//! [`Emitter`]: what a mapper emits into.

use super::{Counters, RecordError, ShuffleKey, ShuffleSink, ShuffleValue};
use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;

/// What the mapper emits into: the map task's combiner and partitioned
/// sort buffer.
pub struct Emitter<'a, K, V> {
    pub(super) sink: &'a mut ShuffleSink<K, V>,
    pub(super) counters: &'a mut Counters,
}

impl<K, V> fmt::Debug for Emitter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter").finish_non_exhaustive()
    }
}

impl<K: ShuffleKey, V: ShuffleValue> Emitter<'_, K, V> {
    /// Emits one `(key, value)` pair.
    ///
    /// # Errors
    ///
    /// Never: the `Result` lets a mapper end with `emit.emit(k, v)`. (A
    /// spill failure, such as a full disk, fails the task after the mapper
    /// returns.)
    #[inline]
    pub fn emit(&mut self, key: K, value: V) -> Result<(), RecordError> {
        self.counters.map_output_records += 1;
        self.sink.push(key, value);
        Ok(())
    }

    /// Emits one pair whose key is given borrowed — a `&[u8]` for a
    /// [`SmallBytes`](crate::mapreduce::SmallBytes) key, a `&str` for a `String` key.
    /// When the job combines and the key was already emitted by this task,
    /// the value is folded in without building an owned key at all: the
    /// fast path of word counts and other jobs with a few hot keys.
    ///
    /// ```
    /// use flotilla::mapreduce::{Emitter, Job, RecordError, SmallBytes};
    /// struct Words;
    /// impl Job for Words {
    ///     type Input = [u8];
    ///     type Key = SmallBytes;
    ///     type Value = u64;
    ///     type Output = (SmallBytes, u64);
    ///     type State = ();
    ///     const COMBINES: bool = true;
    ///     fn map(&self, _: &mut (), line: &[u8], emit: &mut Emitter<'_, SmallBytes, u64>) -> Result<(), RecordError> {
    ///         for w in line.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
    ///             emit.emit_ref(w, 1)?;
    ///         }
    ///         Ok(())
    ///     }
    ///     fn combine(&self, acc: &mut u64, n: u64) { *acc += n; }
    ///     fn reduce(&self, _: &mut (), k: SmallBytes, v: Vec<u64>, out: &mut Vec<(SmallBytes, u64)>) -> Result<(), RecordError> {
    ///         out.push((k, v.into_iter().sum()));
    ///         Ok(())
    ///     }
    /// }
    /// # let dir = std::env::temp_dir().join(format!("flotilla-doc-emit-ref-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let file = dir.join("t.txt");
    /// std::fs::write(&file, "b a b\n")?;
    /// let pool = flotilla::CpuPool::with_threads(1)?;
    /// let mut counts = flotilla::mapreduce::JobRunner::new(&pool)
    ///     .run_text(Words, &[file.to_str().unwrap()])?
    ///     .records();
    /// counts.sort();
    /// assert_eq!(counts, [("a".into(), 1), ("b".into(), 2)]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Never, as [`emit`](Self::emit).
    #[inline]
    pub fn emit_ref<Q>(&mut self, key: &Q, value: V) -> Result<(), RecordError>
    where
        Q: Hash + Eq + ?Sized,
        K: Borrow<Q> + for<'q> From<&'q Q>,
    {
        self.counters.map_output_records += 1;
        self.sink.push_ref(key, value);
        Ok(())
    }

    /// Adds `n` to the user counter `name`.
    pub fn count(&mut self, name: &str, n: u64) {
        match self.counters.user.get_mut(name) {
            Some(c) => *c += n,
            None => {
                self.counters.user.insert(name.to_string(), n);
            }
        }
    }
}
