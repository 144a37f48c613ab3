//! A file removed when dropped: a reducer's input, kept under the output
//! folder's `_temporary/` for the retries of its reduce task.

use std::fs;
use std::path::{Path, PathBuf};

/// A file removed when dropped: a reducer's kept input.
#[derive(Debug)]
pub(super) struct TemporaryFile {
    path: PathBuf,
}

impl TemporaryFile {
    pub(super) fn new(path: PathBuf) -> TemporaryFile {
        TemporaryFile { path }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
