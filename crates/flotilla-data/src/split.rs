//! Input splits: large text inputs cut into byte ranges, one per map task,
//! as Hadoop's `FileInputFormat` / `TextInputFormat` do.
//!
//! # Planning
//!
//! [`plan_splits`] expands each input — a file, a folder (its visible
//! regular files, sorted, not recursive; names starting with `_` or `.` are
//! skipped), or a glob with `*`, `?`, `[abc]` in its file-name part — and
//! cuts every file into [`InputSplit`]s of `split_bytes` bytes, the last one
//! shorter. Planning only looks at file lengths (and the first two bytes, to
//! spot gzip): no line is read. An empty file gives **no split**, so no map
//! task is spent on it. A pattern or path matching nothing is an error naming
//! it.
//!
//! # Which split owns a line
//!
//! Split boundaries fall anywhere, mid-line included. The rule that makes
//! every line read exactly once: **a line belongs to the split in which it
//! starts.** A split `[start, end)` therefore
//!
//! * if `start > 0`, reads from `start - 1` and discards everything through
//!   the first `\n`: when the byte before `start` is a newline, a line starts
//!   exactly at `start` and is kept; otherwise the partial line belongs to
//!   the split before (a split without a `\n` in its bytes owns no line, and
//!   reads nothing past its end);
//! * reads every line that starts before `end`, reading past `end` as far as
//!   needed to finish the last one (a line longer than several splits is read
//!   whole by the split it starts in, and skipped by the others; a line costs
//!   time linear in its length, however long);
//! * stops at a line starting exactly at `end`: it is the next split's.
//!
//! Lines are yielded without their `\n`, and without a `\r` just before it,
//! so CRLF files read like LF files. A last line without a newline still
//! counts; a file ending in `\n` has no empty line after it.
//!
//! # Gzip
//!
//! A file named `*.gz`, or starting with the gzip magic bytes `1f 8b`, is one
//! split covering the whole file: a deflate stream cannot be entered in the
//! middle. Files of several gzip members (`cat a.gz b.gz`, bgzip) are read
//! through. Line offsets of gzip files are offsets in the decompressed
//! stream. To spread a large gzip input over many map tasks, store it as
//! several `.gz` files.
//!
//! # Bytes, and UTF-8
//!
//! Lines are handed out **as bytes, losslessly**: reading never fails or
//! alters data because of its encoding, so Latin-1 files, binary keys or a
//! stray bad byte in one record do not stop a job that does not look at
//! them. [`Line::text`] (and [`OwnedLine::text`]) checks UTF-8 when asked and
//! fails with [`InputError::InvalidUtf8`], naming the file and the byte
//! offset of the first invalid byte, which a job reports as a bad record
//! (with [`line_number_at`] for the line number) or skips. A UTF-8 byte
//! order mark is kept as part of the first line.
//!
//! # Reading fast
//!
//! [`LineReader::for_each_line`] reads a split into one large buffer
//! ([`DEFAULT_BUFFER_SIZE`], 4 MiB, reused from split to split; smaller for
//! a small split), and passes each line to a callback as a [`Line`]
//! borrowing the buffer: no allocation and no copy per line. Newlines are
//! found without a per-byte loop: each 64-byte block of the buffer becomes a
//! 64-bit mask of its newline positions (portable SWAR arithmetic, no
//! `unsafe`), and lines are cut at the mask's set bits. Only a line cut by
//! the buffer's end is moved to the buffer's front before the next read,
//! and the buffer grows only for a line longer than itself.
//! [`InputSplit::lines`] is the iterator form, with an owned [`OwnedLine`]
//! per line, for code that keeps lines (the Bag collection), and
//! [`InputSplit::read_block`] reads all the lines a split owns as one block
//! of bytes, for parsers that take a whole range at once (the DataFrame's
//! CSV and JSON-lines readers). [`list_input_files`] lists the files of the
//! inputs without cutting them (Parquet files are read by row group).
//!
//! ```
//! use flotilla_data::split::{plan_splits, LineReader};
//!
//! let dir = std::env::temp_dir().join(format!("flotilla-doc-split-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let file = dir.join("u.data");
//! std::fs::write(&file, "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n")?;
//!
//! // Tiny splits, to show that the lines are still each read once.
//! let splits = plan_splits(&[file.to_str().unwrap()], 10)?;
//! assert_eq!(splits.len(), 6); // 59 bytes
//! let mut reader = LineReader::new();
//! let mut ratings = [0u32; 6];
//! for split in &splits {
//!     reader.for_each_line(split, |line| {
//!         let rating = line.text()?.split('\t').nth(2).unwrap_or("0");
//!         ratings[rating.parse::<usize>()?] += 1;
//!         Ok::<_, Box<dyn std::error::Error>>(())
//!     })?;
//! }
//! assert_eq!(ratings, [0, 1, 0, 2, 0, 0]);
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod block;
mod cursor;
mod error;
mod glob;
mod line_number;
#[cfg(test)]
mod long_line_test;
mod plan;
mod read;
mod scan;
#[cfg(test)]
mod test;

pub use error::{InputError, SplitError};
pub use line_number::line_number_at;
pub use plan::{default_split_bytes, file_fingerprint, list_input_files, plan_splits, InputSplit};
pub use read::{
    for_each_line, Line, LineReader, OwnedLine, SplitLines, SplitStats, DEFAULT_BUFFER_SIZE,
};
