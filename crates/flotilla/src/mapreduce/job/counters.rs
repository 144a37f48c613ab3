//! [`Counters`]: what a job counted.

use std::collections::BTreeMap;
use std::fmt;

/// The built-in and user counters of a job, shown at the end of a run.
///
/// ```
/// let c = flotilla::mapreduce::Counters::default();
/// assert_eq!(c.bad_records, 0);
/// assert!(c.to_string().contains("map input records"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// Records the mappers read.
    pub map_input_records: u64,
    /// Bytes of input read (text input).
    pub map_input_bytes: u64,
    /// Pairs the mappers emitted.
    pub map_output_records: u64,
    /// Pairs that crossed the shuffle (after combining).
    pub shuffled_records: u64,
    /// Keys the reducers saw.
    pub reduce_input_groups: u64,
    /// Records the reducers produced.
    pub reduce_output_records: u64,
    /// Malformed records skipped (with [`JobConfig::skip_bad_records`](super::JobConfig::skip_bad_records)).
    pub bad_records: u64,
    /// Bytes written to spill files.
    pub spilled_bytes: u64,
    /// Counters bumped by user code through [`Emitter::count`](super::Emitter::count).
    pub user: BTreeMap<String, u64>,
}

impl Counters {
    pub(super) fn add(&mut self, o: &Counters) {
        self.map_input_records += o.map_input_records;
        self.map_input_bytes += o.map_input_bytes;
        self.map_output_records += o.map_output_records;
        self.shuffled_records += o.shuffled_records;
        self.reduce_input_groups += o.reduce_input_groups;
        self.reduce_output_records += o.reduce_output_records;
        self.bad_records += o.bad_records;
        self.spilled_bytes += o.spilled_bytes;
        for (k, v) in &o.user {
            *self.user.entry(k.clone()).or_default() += v;
        }
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = [
            ("map input records", self.map_input_records),
            ("map input bytes", self.map_input_bytes),
            ("map output records", self.map_output_records),
            ("shuffled records", self.shuffled_records),
            ("reduce input groups", self.reduce_input_groups),
            ("reduce output records", self.reduce_output_records),
            ("bad records", self.bad_records),
            ("spilled bytes", self.spilled_bytes),
        ];
        for (name, v) in rows {
            writeln!(f, "{name:>24}: {v}")?;
        }
        for (name, v) in &self.user {
            writeln!(f, "{name:>24}: {v}")?;
        }
        Ok(())
    }
}
