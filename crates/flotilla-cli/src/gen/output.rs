//! Writing an output file safely: parent directories are created, the data
//! goes to `PATH.tmp`, and only a complete file is renamed to `PATH`.
//!
//! Every I/O error is returned with the path it concerns in its message
//! ("cannot create /x/y.tmp: Permission denied"), keeping its
//! [`io::ErrorKind`].

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// Capacity of the output buffer. Blocks larger than this bypass it.
const BUFFER_BYTES: usize = 1 << 20;

/// Returns an error of the same kind as `error` whose message starts with
/// `what` and the path, e.g. `cannot write data/x.tmp: No space left`.
pub(super) fn with_path(error: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{what} {}: {error}", path.display()))
}

/// The temporary name of `path` while it is being written: `PATH.tmp`.
fn temporary_path(path: &Path) -> io::Result<PathBuf> {
    let Some(name) = path.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("output path {} does not name a file", path.display()),
        ));
    };
    let mut temporary: OsString = name.to_owned();
    temporary.push(".tmp");
    Ok(path.with_file_name(temporary))
}

/// Creates `path` through `write`, which receives a buffered writer on
/// `PATH.tmp`; once `write` succeeds and the data is flushed, the file is
/// renamed to `path`. On any failure the temporary file is removed and the
/// error names the path concerned.
///
/// Errors returned by `write` itself are taken to be write errors on the
/// temporary file.
pub(super) fn write_file<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<T>,
) -> io::Result<T> {
    let temporary = temporary_path(path)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| with_path(e, "cannot create directory", parent))?;
    }
    let file = File::create(&temporary).map_err(|e| with_path(e, "cannot create", &temporary))?;
    let result = (|| {
        let mut writer = BufWriter::with_capacity(BUFFER_BYTES, file);
        let value = write(&mut writer).map_err(|e| with_path(e, "cannot write", &temporary))?;
        writer
            .into_inner()
            .map_err(|e| with_path(e.into_error(), "cannot write", &temporary))?;
        fs::rename(&temporary, path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot rename {} to {}: {e}",
                    temporary.display(),
                    path.display()
                ),
            )
        })?;
        Ok(value)
    })();
    if result.is_err() {
        // Best effort: the error being reported matters more than this one.
        let _ = fs::remove_file(&temporary);
    }
    result
}
