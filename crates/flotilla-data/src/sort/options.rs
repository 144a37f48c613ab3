//! [`SortOptions`]: the memory budget and the knobs of spilling and merging.

use std::path::{Path, PathBuf};

/// How a sort buffer spills and how runs are merged.
///
/// | setting | default | used by |
/// |---|---|---|
/// | [`budget_bytes`](Self::budget_bytes) | 64 MiB | buffers: spill above it |
/// | [`spill_dir`](Self::spill_dir) | a fresh directory under [`std::env::temp_dir`] | buffers and intermediate merges |
/// | [`write_buffer_bytes`](Self::write_buffer_bytes) | 1 MiB | every spill file written (a buffer's spills use at most the budget) |
/// | [`read_buffer_bytes`](Self::read_buffer_bytes) | 64 KiB | every run read in a merge |
/// | [`merge_fan_in`](Self::merge_fan_in) | 64 | merges: most spill files open at once |
///
/// A merge holds one read buffer per spilled run it reads at once, so its I/O
/// buffers take at most `merge_fan_in × read_buffer_bytes` (4 MiB by default).
///
/// ```
/// use flotilla_data::sort::SortOptions;
///
/// let options = SortOptions::new().budget_bytes(1 << 20).merge_fan_in(16);
/// assert_eq!(options.budget(), 1 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortOptions {
    pub(crate) budget_bytes: usize,
    pub(crate) spill_dir: Option<PathBuf>,
    pub(crate) write_buffer_bytes: usize,
    pub(crate) read_buffer_bytes: usize,
    pub(crate) merge_fan_in: usize,
}

impl Default for SortOptions {
    fn default() -> Self {
        SortOptions {
            budget_bytes: 64 << 20,
            spill_dir: None,
            write_buffer_bytes: 1 << 20,
            read_buffer_bytes: 64 << 10,
            merge_fan_in: 64,
        }
    }
}

impl SortOptions {
    /// The defaults of the table above.
    ///
    /// ```
    /// use flotilla_data::sort::SortOptions;
    ///
    /// assert_eq!(SortOptions::new().budget(), 64 << 20);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Spill when the estimated size of the buffered records exceeds `bytes`
    /// (see [`ApproxSize`](super::ApproxSize) and
    /// [`RECORD_OVERHEAD`](super::RECORD_OVERHEAD)). A budget of 0 spills
    /// after every record.
    ///
    /// ```
    /// use flotilla_data::sort::SortOptions;
    ///
    /// assert_eq!(SortOptions::new().budget_bytes(4096).budget(), 4096);
    /// ```
    pub fn budget_bytes(mut self, bytes: usize) -> Self {
        self.budget_bytes = bytes;
        self
    }

    /// Write spill files into `dir` (created if missing, never removed)
    /// instead of a temporary directory. Files are named
    /// `flotilla-<pid>-<n>.run`, so several buffers can share a directory.
    ///
    /// ```
    /// use flotilla_data::sort::SortOptions;
    ///
    /// let dir = std::env::temp_dir().join("my-job-spills");
    /// assert_eq!(SortOptions::new().spill_dir(&dir).spill_directory(), Some(dir.as_path()));
    /// ```
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Size of the buffered writer of each spill file (at least 4 KiB). A
    /// buffer's spills use the smaller of this and the budget, so that the
    /// writer does not double the memory a small budget allows.
    ///
    /// ```
    /// use flotilla_data::sort::SortOptions;
    ///
    /// let options = SortOptions::new().write_buffer_bytes(256 << 10);
    /// ```
    pub fn write_buffer_bytes(mut self, bytes: usize) -> Self {
        self.write_buffer_bytes = bytes;
        self
    }

    /// Size of the buffered reader of each spilled run being merged (at
    /// least 4 KiB).
    ///
    /// ```
    /// use flotilla_data::sort::SortOptions;
    ///
    /// let options = SortOptions::new().read_buffer_bytes(16 << 10);
    /// ```
    pub fn read_buffer_bytes(mut self, bytes: usize) -> Self {
        self.read_buffer_bytes = bytes;
        self
    }

    /// The most spilled runs a merge reads at once (at least 2). With more,
    /// the merge first combines consecutive runs into bigger ones
    /// (intermediate passes) until the rest fit, which bounds open files and
    /// read-buffer memory.
    ///
    /// ```
    /// use flotilla_data::sort::SortOptions;
    ///
    /// let options = SortOptions::new().merge_fan_in(8);
    /// ```
    pub fn merge_fan_in(mut self, runs: usize) -> Self {
        self.merge_fan_in = runs.max(2);
        self
    }

    /// The memory budget, in estimated bytes.
    ///
    /// ```
    /// use flotilla_data::sort::SortOptions;
    ///
    /// assert_eq!(SortOptions::new().budget_bytes(10).budget(), 10);
    /// ```
    pub fn budget(&self) -> usize {
        self.budget_bytes
    }

    /// The spill directory the caller chose, if any.
    ///
    /// ```
    /// use flotilla_data::sort::SortOptions;
    ///
    /// assert_eq!(SortOptions::new().spill_directory(), None);
    /// ```
    pub fn spill_directory(&self) -> Option<&Path> {
        self.spill_dir.as_deref()
    }
}
