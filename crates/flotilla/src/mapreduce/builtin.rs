//! Ready-made jobs: the ratings breakdown of the course's mrjob example
//! (workload W3) and word count (W4), written as any user would write them —
//! [`Job`] implementations that a [`JobRunner`](super::JobRunner) runs —
//! plus the line helpers they share.
//!
//! ```
//! use flotilla::mapreduce::builtin::words;
//! let w: Vec<&[u8]> = words(b" to be\tor  not ").collect();
//! assert_eq!(w, [&b"to"[..], b"be", b"or", b"not"]);
//! ```

use super::{Emitter, Job, RecordError, SmallBytes};

/// W3: ratings per rating value in a MovieLens u.data file
/// (`user\titem\trating\ttimestamp`), with a combiner.
///
/// ```
/// use flotilla::mapreduce::{builtin::RatingsBreakdown, JobRunner};
/// # let dir = std::env::temp_dir().join(format!("flotilla-doc-rb-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let file = dir.join("u.data");
/// std::fs::write(&file, "1\t10\t4\t0\n2\t11\t4\t0\n")?;
/// let pool = flotilla::CpuPool::with_threads(1)?;
/// let out = JobRunner::new(&pool).run_text(RatingsBreakdown, &[file.to_str().unwrap()])?;
/// assert_eq!(out.records(), [(4, 2)]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct RatingsBreakdown;

#[cfg(feature = "cluster")]
crate::cluster_job!(RatingsBreakdown);

/// The third tab-separated field of `line`, parsed as a small number.
fn rating_of(line: &[u8]) -> Result<u8, RecordError> {
    let mut fields = line.split(|&b| b == b'\t');
    let field = fields
        .nth(2)
        .ok_or_else(|| RecordError::new("expected 4 tab-separated fields"))?;
    if fields.next().is_none() {
        return Err(RecordError::new("expected 4 tab-separated fields, found 3"));
    }
    let mut v: u32 = 0;
    if field.is_empty() || field.len() > 3 {
        return Err(RecordError::new(format!(
            "rating {:?} is not a number",
            String::from_utf8_lossy(field)
        )));
    }
    for &b in field {
        if !b.is_ascii_digit() {
            return Err(RecordError::new(format!(
                "rating {:?} is not a number",
                String::from_utf8_lossy(field)
            )));
        }
        v = v * 10 + u32::from(b - b'0');
    }
    u8::try_from(v).map_err(|_| RecordError::new(format!("rating {v} is out of range")))
}

impl Job for RatingsBreakdown {
    type Input = [u8];
    type Key = u8;
    type Value = u64;
    type Output = (u8, u64);
    type State = ();
    const COMBINES: bool = true;

    fn map(
        &self,
        _: &mut (),
        line: &[u8],
        emit: &mut Emitter<'_, u8, u64>,
    ) -> Result<(), RecordError> {
        emit.emit(rating_of(line)?, 1)
    }

    fn combine(&self, acc: &mut u64, n: u64) {
        *acc += n;
    }

    fn reduce(
        &self,
        _: &mut (),
        rating: u8,
        counts: Vec<u64>,
        out: &mut Vec<(u8, u64)>,
    ) -> Result<(), RecordError> {
        out.push((rating, counts.iter().sum()));
        Ok(())
    }
}

/// Counts the ratings of one line into `counts` (the hand-written loop that
/// the job is compared with).
///
/// ```
/// let mut counts = [0u64; 256];
/// flotilla::mapreduce::builtin::count_rating(b"1\t2\t5\t9", &mut counts).unwrap();
/// assert_eq!(counts[5], 1);
/// assert!(flotilla::mapreduce::builtin::count_rating(b"1\t2", &mut counts).is_err());
/// ```
pub fn count_rating(line: &[u8], counts: &mut [u64; 256]) -> Result<(), RecordError> {
    counts[usize::from(rating_of(line)?)] += 1;
    Ok(())
}

/// W4: words (maximal runs of non-whitespace bytes, as Python's
/// `bytes.split()`) counted, with a combiner unless `COMBINE` is false
/// (then every word crosses the shuffle: the spill path's workout).
///
/// ```
/// use flotilla::mapreduce::{builtin::WordCount, JobRunner};
/// # let dir = std::env::temp_dir().join(format!("flotilla-doc-wc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let file = dir.join("t.txt");
/// std::fs::write(&file, "b a b\n")?;
/// let pool = flotilla::CpuPool::with_threads(1)?;
/// let mut counts = JobRunner::new(&pool).run_text(WordCount::<true>, &[file.to_str().unwrap()])?.records();
/// counts.sort();
/// assert_eq!(counts, [("a".into(), 1), ("b".into(), 2)]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct WordCount<const COMBINE: bool>;

#[cfg(feature = "cluster")]
crate::cluster_job!(WordCount<true>);
#[cfg(feature = "cluster")]
crate::cluster_job!(WordCount<false>);

/// Python's `bytes.split()` whitespace: space, \t, \n, \r, \x0b, \x0c.
///
/// ```
/// assert!(flotilla::mapreduce::builtin::is_space(0x0b));
/// assert!(!flotilla::mapreduce::builtin::is_space(b'a'));
/// ```
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The words of a line.
///
/// ```
/// let n = flotilla::mapreduce::builtin::words(b"a  b\r").count();
/// assert_eq!(n, 2);
/// ```
pub fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| is_space(b)).filter(|w| !w.is_empty())
}

impl<const COMBINE: bool> Job for WordCount<COMBINE> {
    type Input = [u8];
    type Key = SmallBytes;
    type Value = u64;
    type Output = (SmallBytes, u64);
    type State = ();
    const COMBINES: bool = COMBINE;

    fn map(
        &self,
        _: &mut (),
        line: &[u8],
        emit: &mut Emitter<'_, SmallBytes, u64>,
    ) -> Result<(), RecordError> {
        for w in words(line) {
            emit.emit_ref(w, 1)?;
        }
        Ok(())
    }

    fn combine(&self, acc: &mut u64, n: u64) {
        *acc += n;
    }

    fn reduce(
        &self,
        _: &mut (),
        word: SmallBytes,
        counts: Vec<u64>,
        out: &mut Vec<(SmallBytes, u64)>,
    ) -> Result<(), RecordError> {
        out.push((word, counts.iter().sum()));
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn ratings_parse_and_reject() {
        assert_eq!(rating_of(b"1\t2\t5\t99").unwrap(), 5);
        assert!(rating_of(b"1\t2\t5").is_err());
        assert!(rating_of(b"1\t2\tx\t9").is_err());
        assert!(rating_of(b"1\t2\t\t9").is_err());
    }

    #[test]
    fn words_split_like_python_bytes_split() {
        let w: Vec<&[u8]> = words(b"  a\tbb \x0bccc\r").collect();
        assert_eq!(w, [&b"a"[..], b"bb", b"ccc"]);
    }
}
