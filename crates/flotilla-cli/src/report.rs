//! `--report FILE`, on every command that runs work: where the HTML run
//! report goes.

use std::path::Path;

use anyhow::Context;

/// Creates (or empties) the report's file before the run, so that a
/// report that cannot be written stops the run before it starts.
pub(crate) fn prepare(path: &Path) -> anyhow::Result<()> {
    std::fs::File::create(path)
        .with_context(|| format!("cannot write the report {}", path.display()))?;
    Ok(())
}

/// Writes the report's HTML at `path`.
pub(crate) fn write(path: &Path, html: String) -> anyhow::Result<()> {
    std::fs::write(path, html)
        .with_context(|| format!("cannot write the report {}", path.display()))
}
