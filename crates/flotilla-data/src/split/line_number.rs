//! Line numbers for error messages.

use std::path::Path;

use super::cursor::Source;
use super::plan::is_gzip;
use super::scan::count_newlines;
use super::InputError;

/// The 1-based number of the line holding byte `offset` of `path`: one plus
/// the newlines before `offset`.
///
/// Meant for reporting a bad record found at [`Line::offset`](super::Line::offset),
/// not for the hot path: it reads the file from its start (decompressing a
/// gzip file, whose offsets are in the decompressed stream). An offset equal
/// to the length is allowed; one past it is [`InputError::OffsetPastEnd`].
///
/// ```
/// use flotilla_data::split::line_number_at;
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-linenumber-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("a.txt");
/// std::fs::write(&file, "one\ntwo\nthree\n")?;
/// assert_eq!(line_number_at(&file, 0)?, 1);
/// assert_eq!(line_number_at(&file, 4)?, 2);
/// assert_eq!(line_number_at(&file, 10)?, 3);
/// assert!(line_number_at(&file, 99).is_err());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn line_number_at(path: impl AsRef<Path>, offset: u64) -> Result<u64, InputError> {
    let path = path.as_ref();
    let compressed = is_gzip(path)?;
    let mut source = Source::open(path, compressed, 0)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut position = 0u64;
    let mut newlines = 0u64;
    while position < offset {
        let wanted = usize::try_from(offset - position)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let got = match source.read(&mut buf[..wanted]) {
            Ok(got) => got,
            Err(e) => return Err(source.read_error(path, e)),
        };
        if got == 0 {
            return Err(InputError::OffsetPastEnd {
                path: path.to_path_buf(),
                offset,
                len: position,
            });
        }
        newlines += count_newlines(&buf[..got]);
        position += got as u64;
    }
    Ok(newlines + 1)
}
