//! The results a worker holds: in memory up to a budget, and beyond it
//! the least recently used written to files of a local folder, read back
//! when a task or a fetch asks for them.
//!
//! Results are immutable bytes, so spilling one is writing it once and
//! forgetting the copy in memory; reading it back does not bring it back
//! into memory (whoever asked holds it while they need it). A spill that
//! cannot be written (a full disk) leaves the result in memory; a file
//! that cannot be read back makes the result missing, which the scheduler
//! answers by computing it again from lineage. The folder and its files
//! are removed when the store is dropped.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// What a store did over its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SpillStats {
    /// Bytes written to spill files.
    pub(crate) written: u64,
    /// Bytes read back from them.
    pub(crate) read_back: u64,
}

#[derive(Debug)]
pub(crate) struct Store {
    /// Results in memory, with the stamp of their last use.
    memory: HashMap<u32, (Arc<Vec<u8>>, u64)>,
    /// Results in spill files, with their sizes.
    disk: HashMap<u32, u64>,
    /// Uses, oldest first; an entry whose stamp is not its result's last
    /// is stale and skipped.
    uses: VecDeque<(u32, u64)>,
    stamp: u64,
    /// Bytes of results in memory.
    held: u64,
    /// Spill above this many bytes in memory (`None`: never).
    budget: Option<u64>,
    dir: PathBuf,
    dir_made: bool,
    stats: SpillStats,
    /// A spill failed already (said once).
    warned: bool,
    /// Results read back and still held by someone: read once, shared.
    read_back: HashMap<u32, Weak<Vec<u8>>>,
}

/// Stores made by this process, so that each has a folder of its own.
static STORES: AtomicU64 = AtomicU64::new(0);

impl Store {
    /// A store that spills into a folder of its own under `parent` above
    /// `budget` bytes held in memory.
    pub(crate) fn new(budget: Option<u64>, parent: PathBuf) -> Store {
        remove_abandoned(&parent);
        let n = STORES.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("flotilla-worker-{}-{n}", std::process::id()));
        Store {
            memory: HashMap::new(),
            disk: HashMap::new(),
            uses: VecDeque::new(),
            stamp: 0,
            held: 0,
            budget,
            dir,
            dir_made: false,
            stats: SpillStats::default(),
            warned: false,
            read_back: HashMap::new(),
        }
    }

    /// A new use of `task`: its stamp. The caller records the stamp in
    /// `memory` right after.
    fn touch(&mut self, task: u32) -> u64 {
        self.stamp += 1;
        if self.budget.is_some() {
            if self.uses.len() > 2 * self.memory.len() + 64 {
                // Mostly stale entries: keep each result's last use only
                // (before this use is recorded, which is then the newest).
                let memory = &self.memory;
                self.uses
                    .retain(|(t, s)| memory.get(t).is_some_and(|(_, m)| m == s));
            }
            self.uses.push_back((task, self.stamp));
        }
        self.stamp
    }

    /// Writes every result in memory to its file (memory is short).
    pub(crate) fn spill_all(&mut self) {
        self.spill_while(|_| true);
    }

    /// Writes the least recently used results to files while `more` says
    /// so of the bytes in memory; stops at the first that cannot be
    /// written (it stays first in line).
    fn spill_while(&mut self, more: impl Fn(u64) -> bool) {
        while more(self.held) {
            let Some((task, stamp)) = self.uses.pop_front() else {
                return;
            };
            let current = self.memory.get(&task).is_some_and(|(_, s)| *s == stamp);
            if current && !self.spill(task) {
                self.uses.push_front((task, stamp));
                return;
            }
        }
    }

    /// Keeps `bytes` as the result of `task`, then spills what is over the
    /// budget.
    pub(crate) fn insert(&mut self, task: u32, bytes: Arc<Vec<u8>>) {
        self.remove(task);
        self.held += bytes.len() as u64;
        let stamp = self.touch(task);
        self.memory.insert(task, (bytes, stamp));
        self.spill_over();
    }

    /// The result of `task`: from memory, or read back from its file.
    pub(crate) fn get(&mut self, task: u32) -> Option<Arc<Vec<u8>>> {
        if self.memory.contains_key(&task) {
            let stamp = self.touch(task);
            let entry = self.memory.get_mut(&task)?;
            entry.1 = stamp;
            return Some(Arc::clone(&entry.0));
        }
        self.disk.get(&task)?;
        if let Some(shared) = self.read_back.get(&task).and_then(Weak::upgrade) {
            return Some(shared);
        }
        match std::fs::read(self.file(task)) {
            Ok(bytes) => {
                self.stats.read_back += bytes.len() as u64;
                let bytes = Arc::new(bytes);
                self.read_back.retain(|_, w| w.strong_count() > 0);
                self.read_back.insert(task, Arc::downgrade(&bytes));
                Some(bytes)
            }
            Err(e) => {
                flotilla_local::log::warn(
                    "worker",
                    &format!("the spilled result of task {task} cannot be read back ({e}); it will be computed again"),
                );
                self.remove(task);
                None
            }
        }
    }

    /// Whether the result of `task` is here, in memory or spilled.
    pub(crate) fn contains(&self, task: u32) -> bool {
        self.memory.contains_key(&task) || self.disk.contains_key(&task)
    }

    /// Drops the result of `task`.
    pub(crate) fn remove(&mut self, task: u32) {
        if let Some((bytes, _)) = self.memory.remove(&task) {
            self.held -= bytes.len() as u64;
        }
        if self.disk.remove(&task).is_some() {
            let _ = std::fs::remove_file(self.file(task));
            self.read_back.remove(&task);
        }
        if self.memory.is_empty() {
            self.uses.clear();
        }
    }

    /// Bytes of results in memory.
    pub(crate) fn held_bytes(&self) -> u64 {
        self.held
    }

    /// Bytes of results in spill files now.
    pub(crate) fn spilled_bytes(&self) -> u64 {
        self.disk.values().sum()
    }

    pub(crate) fn stats(&self) -> SpillStats {
        self.stats
    }

    fn file(&self, task: u32) -> PathBuf {
        self.dir.join(format!("{task}.result"))
    }

    /// Writes the least recently used results to files until what is in
    /// memory fits the budget.
    fn spill_over(&mut self) {
        if let Some(budget) = self.budget {
            self.spill_while(|held| held > budget);
        }
    }

    /// Moves the result of `task` to its file; false when it cannot.
    fn spill(&mut self, task: u32) -> bool {
        if !self.dir_made {
            if let Err(e) = std::fs::create_dir_all(&self.dir) {
                self.warn(&format!("cannot create {}: {e}", self.dir.display()));
                return false;
            }
            self.dir_made = true;
        }
        let Some((bytes, _)) = self.memory.get(&task) else {
            return true;
        };
        let len = bytes.len() as u64;
        if let Err(e) = std::fs::write(self.file(task), bytes.as_slice()) {
            let path = self.file(task);
            self.warn(&format!("cannot write {}: {e}", path.display()));
            return false;
        }
        self.memory.remove(&task);
        self.held -= len;
        self.disk.insert(task, len);
        self.stats.written += len;
        true
    }

    fn warn(&mut self, what: &str) {
        if !self.warned {
            self.warned = true;
            flotilla_local::log::warn(
                "worker",
                &format!("results stay in memory over the budget: {what}"),
            );
        }
    }
}

/// Removes the spill folders under `parent` of worker processes that are
/// gone (killed before they could clean up), where the system says which
/// processes live (Linux).
fn remove_abandoned(parent: &std::path::Path) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix("flotilla-worker-"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.dir_made {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn store(budget: u64, name: &str) -> Store {
        let parent = std::env::temp_dir().join(format!("flotilla-store-{name}"));
        Store::new(Some(budget), parent)
    }

    fn bytes(n: usize, fill: u8) -> Arc<Vec<u8>> {
        Arc::new(vec![fill; n])
    }

    #[test]
    fn results_over_the_budget_go_to_disk_least_recently_used_first() {
        let mut s = store(250, "lru");
        s.insert(1, bytes(100, 1));
        s.insert(2, bytes(100, 2));
        // 1 is used again: 2 is now the least recently used.
        assert_eq!(s.get(1).unwrap()[0], 1);
        s.insert(3, bytes(100, 3));
        assert_eq!(s.held_bytes(), 200);
        assert_eq!(s.spilled_bytes(), 100);
        assert!(s.memory.contains_key(&1) && s.disk.contains_key(&2));
        // Read back whole, from its file, and still on disk after.
        assert_eq!(*s.get(2).unwrap(), vec![2; 100]);
        assert_eq!(
            s.stats(),
            SpillStats {
                written: 100,
                read_back: 100
            }
        );
        assert!(s.contains(2));
        let file = s.file(2);
        assert!(file.exists());
        s.remove(2);
        assert!(!file.exists() && !s.contains(2));
        let dir = s.dir.clone();
        drop(s);
        assert!(!dir.exists(), "the folder goes with the store");
    }

    #[test]
    fn a_result_whose_file_is_gone_is_missing_not_an_error() {
        let mut s = store(50, "gone");
        s.insert(7, bytes(100, 7));
        assert_eq!(s.spilled_bytes(), 100);
        std::fs::remove_file(s.file(7)).unwrap();
        assert!(s.get(7).is_none());
        assert!(!s.contains(7));
    }

    #[test]
    fn a_result_used_many_times_can_still_be_spilled() {
        let mut s = store(1 << 20, "compact");
        for t in 0..10 {
            s.insert(t, bytes(100, t as u8));
        }
        // Enough uses to compact the line of uses several times.
        for _ in 0..100 {
            assert!(s.get(3).is_some());
        }
        s.spill_all();
        assert_eq!(s.held_bytes(), 0, "every result spilled");
        assert_eq!(s.spilled_bytes(), 1000);
    }

    #[test]
    fn a_spilled_result_read_by_several_is_read_once() {
        let mut s = store(50, "shared");
        s.insert(1, bytes(100, 1));
        let a = s.get(1).unwrap();
        let b = s.get(1).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(s.stats().read_back, 100);
        drop((a, b));
        let _c = s.get(1).unwrap();
        assert_eq!(s.stats().read_back, 200, "read again once nobody held it");
    }

    #[test]
    fn stores_of_one_process_spill_into_folders_of_their_own() {
        let a = store(0, "own");
        let b = store(0, "own");
        assert_ne!(a.dir, b.dir);
    }

    #[test]
    fn without_a_budget_nothing_is_spilled() {
        let mut s = Store::new(None, std::env::temp_dir());
        for t in 0..10 {
            s.insert(t, bytes(1 << 10, 0));
        }
        assert_eq!((s.held_bytes(), s.spilled_bytes()), (10 << 10, 0));
    }
}
