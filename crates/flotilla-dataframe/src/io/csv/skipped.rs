//! Records skipped for having the wrong number of fields
//! ([`CsvOptions::skip_bad_records`](super::CsvOptions::skip_bad_records)):
//! counted per partition and sampled, as MapReduce jobs count and sample
//! bad records, and reported by [`CsvSource::bad_records`](super::CsvSource::bad_records).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use flotilla_data::split::line_number_at;

/// The most skipped records kept as a sample (per partition, and in the
/// report).
pub(super) const SAMPLE: usize = 10;

/// The records a source skipped, as far as its partitions have been read.
///
/// ```
/// use flotilla_dataframe::io::{CsvOptions, CsvSource};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-badrecords-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("t.csv");
/// std::fs::write(&file, "a,b\n1,2\n3\n4,5\n")?;
///
/// let source = CsvSource::plan(&[file.to_str().unwrap()], CsvOptions::new().skip_bad_records(true))?;
/// let batch = source.read_partition(0)?;
/// assert_eq!(batch.num_rows(), 2);
/// let report = source.bad_records();
/// assert_eq!(report.count, 1);
/// assert!(report.sample[0].ends_with("t.csv:3: 1 field where 2 were expected: \"3\""));
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BadRecords {
    /// Records skipped.
    pub count: u64,
    /// Up to ten of them, in file order, as `file:line: what: record`.
    pub sample: Vec<String>,
}

/// One skipped record, as kept until reported.
#[derive(Debug, Clone)]
pub(super) struct Skipped {
    pub(super) path: PathBuf,
    /// Its first byte in the file.
    pub(super) offset: u64,
    pub(super) expected: usize,
    pub(super) found: usize,
    /// The record, truncated.
    pub(super) record: String,
}

/// The skipped records of each partition read, by partition: reading a
/// partition again replaces its entry, so that a frame computed twice
/// reports each record once.
#[derive(Debug, Default)]
pub(super) struct SkipLog {
    partitions: Mutex<BTreeMap<usize, (u64, Vec<Skipped>)>>,
}

impl SkipLog {
    /// Records what reading partition `index` skipped.
    pub(super) fn record(&self, index: usize, count: u64, sample: Vec<Skipped>) {
        let mut partitions = match self.partitions.lock() {
            Ok(p) => p,
            // A panic elsewhere while holding the lock leaves a map that
            // is still whole: keep using it.
            Err(poisoned) => poisoned.into_inner(),
        };
        if count == 0 {
            partitions.remove(&index);
        } else {
            partitions.insert(index, (count, sample));
        }
    }

    /// The report: the count, and the first records of the first
    /// partitions with their line numbers.
    pub(super) fn report(&self) -> BadRecords {
        let partitions = match self.partitions.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        let count = partitions.values().map(|(n, _)| n).sum();
        let sample = partitions
            .values()
            .flat_map(|(_, sample)| sample)
            .take(SAMPLE)
            .map(|s| {
                let line = line_number_at(&s.path, s.offset).unwrap_or(0);
                let fields = if s.found == 1 { "field" } else { "fields" };
                format!(
                    "{}:{line}: {} {fields} where {} were expected: {:?}",
                    s.path.display(),
                    s.found,
                    s.expected,
                    s.record
                )
            })
            .collect();
        BadRecords { count, sample }
    }
}
