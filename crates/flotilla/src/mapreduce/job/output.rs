//! [`JobOutput`]: a job's records, and how they are written as text.

use super::{Counters, Job, JobError, JobRunner};
use crate::output::{LinePart, OutputDir, OutputError, WriteMode};
use std::fmt;
use std::time::Duration;

/// The result of a run: each reduce partition's output records (keys sorted
/// within a partition), the counters, a sample of skipped bad records.
#[derive(Debug)]
pub struct JobOutput<O> {
    /// Output records per reduce partition, in partition order.
    pub partitions: Vec<Vec<O>>,
    /// What the run counted.
    pub counters: Counters,
    /// Up to ten skipped bad records, as `file:line: message: snippet`.
    pub bad_record_sample: Vec<String>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl<O: Send + 'static> JobOutput<O> {
    /// All output records, partition after partition.
    ///
    /// ```
    /// let out = flotilla::mapreduce::JobOutput::<u8> {
    ///     partitions: vec![vec![1, 2], vec![3]],
    ///     counters: Default::default(),
    ///     bad_record_sample: vec![],
    ///     elapsed: std::time::Duration::ZERO,
    /// };
    /// assert_eq!(out.records(), [1, 2, 3]);
    /// ```
    pub fn records(self) -> Vec<O> {
        self.partitions.into_iter().flatten().collect()
    }

    /// Runs the next step of a multi-step job on this step's output: the
    /// records of every partition become the next mapper's input. The
    /// returned counters are the next step's.
    ///
    /// # Errors
    ///
    /// As [`JobRunner::run_records`].
    ///
    /// ```
    /// use flotilla::mapreduce::{Emitter, Job, JobOutput, JobRunner, RecordError};
    ///
    /// /// Step 2: invert (word, count) into (count, word) and list words per count.
    /// struct ByCount;
    /// impl Job for ByCount {
    ///     type Input = (String, u64);
    ///     type Key = u64;
    ///     type Value = String;
    ///     type Output = (u64, Vec<String>);
    ///     type State = ();
    ///     fn map(&self, _: &mut (), (w, c): &(String, u64), emit: &mut Emitter<'_, u64, String>) -> Result<(), RecordError> {
    ///         emit.emit(*c, w.clone())
    ///     }
    ///     fn reduce(&self, _: &mut (), c: u64, mut ws: Vec<String>, out: &mut Vec<(u64, Vec<String>)>) -> Result<(), RecordError> {
    ///         ws.sort();
    ///         out.push((c, ws));
    ///         Ok(())
    ///     }
    /// }
    /// let pool = flotilla::CpuPool::with_threads(2)?;
    /// let runner = JobRunner::new(&pool);
    /// let step1 = JobOutput {
    ///     partitions: vec![vec![("a".to_string(), 2), ("b".to_string(), 1)], vec![("c".to_string(), 2)]],
    ///     counters: Default::default(),
    ///     bad_record_sample: vec![],
    ///     elapsed: std::time::Duration::ZERO,
    /// };
    /// let mut step2 = step1.then(&runner, ByCount)?.records();
    /// step2.sort();
    /// assert_eq!(step2, vec![(1, vec!["b".to_string()]), (2, vec!["a".to_string(), "c".to_string()])]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn then<J: Job<Input = O>>(
        self,
        runner: &JobRunner,
        job: J,
    ) -> Result<JobOutput<J::Output>, JobError> {
        runner.run_records(job, self.records())
    }
}

/// An output record that can be written as one line of text, as Hadoop's
/// `key\tvalue` convention wants it.
///
/// ```
/// use flotilla::mapreduce::TextRecord;
/// let mut line = Vec::new();
/// (5u8, 42u64).write_line(&mut line).unwrap();
/// assert_eq!(line, b"5\t42\n");
/// ```
pub trait TextRecord {
    /// Writes the record and a newline.
    ///
    /// # Errors
    ///
    /// The writer's error.
    fn write_line(&self, out: &mut dyn std::io::Write) -> std::io::Result<()>;
}

impl<A: fmt::Display, B: fmt::Display> TextRecord for (A, B) {
    fn write_line(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "{}\t{}", self.0, self.1)
    }
}

impl TextRecord for String {
    fn write_line(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "{self}")
    }
}

impl<O: TextRecord> JobOutput<O> {
    /// Writes the output to the folder `dir`, one `part-NNNNN` file per
    /// reduce partition (each record as [`TextRecord`] writes it) and an
    /// empty `_SUCCESS` last, like Hadoop. Each part is written under a
    /// temporary name and renamed when complete, so a failure leaves no
    /// `_SUCCESS` and no half-written part. The folder must be new or
    /// empty, and a failed write leaves it as it found it: the rule of
    /// every output folder, in [`crate::output`].
    /// [`write_text_with`](Self::write_text_with) overwrites a previous
    /// output; [`write_text_by`](Self::write_text_by) writes any record.
    ///
    /// # Errors
    ///
    /// [`JobError::Output`]: the folder is refused, or a file could not be
    /// written.
    ///
    /// ```
    /// let out = flotilla::mapreduce::JobOutput {
    ///     partitions: vec![vec![("a".to_string(), 1u64)], vec![("b".to_string(), 2)]],
    ///     counters: Default::default(),
    ///     bad_record_sample: vec![],
    ///     elapsed: std::time::Duration::ZERO,
    /// };
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-parts-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// out.write_text(&dir)?;
    /// assert_eq!(std::fs::read_to_string(dir.join("part-00001"))?, "b\t2\n");
    /// assert!(dir.join("_SUCCESS").exists());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_text(&self, dir: &std::path::Path) -> Result<(), JobError> {
        self.write_text_with(dir, WriteMode::ErrorIfNotEmpty)
    }

    /// [`write_text`](Self::write_text), with [`WriteMode::Overwrite`] to
    /// replace a previous flotilla output in the folder.
    ///
    /// # Errors
    ///
    /// As [`write_text`](Self::write_text); with [`WriteMode::Overwrite`],
    /// also a folder holding anything but a previous flotilla output.
    ///
    /// ```
    /// use flotilla::output::WriteMode;
    /// let out = flotilla::mapreduce::JobOutput {
    ///     partitions: vec![vec![("a".to_string(), 1u64)]],
    ///     counters: Default::default(),
    ///     bad_record_sample: vec![],
    ///     elapsed: std::time::Duration::ZERO,
    /// };
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-parts-with-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// out.write_text(&dir)?;
    /// assert!(out.write_text(&dir).is_err()); // not empty
    /// out.write_text_with(&dir, WriteMode::Overwrite)?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_text_with(&self, dir: &std::path::Path, mode: WriteMode) -> Result<(), JobError> {
        write_parts(&self.partitions, dir, mode, |part, record| {
            part.write_with(|line| record.write_line(line))
        })
    }
}

impl<O> JobOutput<O> {
    /// As [`write_text_with`](Self::write_text_with), each record written
    /// as `format` writes it into its line (without the newline): for
    /// records whose key or value has no `Display` (a tuple key), or to
    /// choose their text.
    ///
    /// # Errors
    ///
    /// As [`write_text_with`](Self::write_text_with).
    ///
    /// ```
    /// use std::fmt::Write;
    /// use flotilla::output::WriteMode;
    ///
    /// let out = flotilla::mapreduce::JobOutput {
    ///     partitions: vec![vec![(("cat".to_string(), 2017u32), 3u64)]],
    ///     counters: Default::default(),
    ///     bad_record_sample: vec![],
    ///     elapsed: std::time::Duration::ZERO,
    /// };
    /// let dir = std::env::temp_dir().join(format!("flotilla-doc-parts-by-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// out.write_text_by(&dir, WriteMode::ErrorIfNotEmpty, |((word, year), n), line| {
    ///     write!(line, "{word}\t{year}\t{n}")
    /// })?;
    /// assert_eq!(std::fs::read_to_string(dir.join("part-00000"))?, "cat\t2017\t3\n");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_text_by(
        &self,
        dir: &std::path::Path,
        mode: WriteMode,
        format: impl Fn(&O, &mut String) -> fmt::Result,
    ) -> Result<(), JobError> {
        write_parts(&self.partitions, dir, mode, |part, record| {
            part.push(record, &format)
        })
    }
}

/// Writes `partitions` as the parts of a new output folder `dir`, each
/// record into its part's lines through `write`, and commits; a failure
/// leaves the folder as it was found.
pub(super) fn write_parts<O>(
    partitions: &[Vec<O>],
    dir: &std::path::Path,
    mode: WriteMode,
    mut write: impl FnMut(&mut LinePart, &O) -> Result<(), OutputError>,
) -> Result<(), JobError> {
    let out = OutputDir::create(dir, mode)?;
    for (i, records) in partitions.iter().enumerate() {
        let mut part = LinePart::create(&out, i)?;
        for record in records {
            write(&mut part, record)?;
        }
        part.commit()?;
    }
    // Dropped on an error above, `out` removes what was written.
    out.commit_expecting(partitions.len())?;
    Ok(())
}
