//! What a pipeline run did, stage by stage.

use std::fmt;
use std::time::Duration;

use super::run::Tally;
use super::StageSpec;

#[cfg(doc)]
use super::Pipeline;

/// The outputs of a pipeline in source order, with the report of the run;
/// returned by [`Pipeline::run`].
///
/// ```
/// use flotilla::patterns::pipeline::{Pipeline, PipelineOutput};
///
/// let PipelineOutput { items, report } = Pipeline::from_iter(0..3).map_stage("id", 1, |x| x).run().unwrap();
/// assert_eq!(items, [0, 1, 2]);
/// assert_eq!(report.items_from_source, 3);
/// ```
#[derive(Debug, Clone)]
pub struct PipelineOutput<T> {
    /// The outputs of the last stage, in source order.
    pub items: Vec<T>,
    /// What every stage did.
    pub report: PipelineReport,
}

/// What one successful run did, stage by stage.
///
/// Its `Display` form is a table with one line per stage:
///
/// ```
/// use flotilla::patterns::pipeline::Pipeline;
///
/// let report = Pipeline::from_iter(0..100)
///     .map_stage("parse", 2, |x: u64| x.to_string())
///     .map_stage("measure", 1, |s: String| s.len())
///     .for_each(|_| {})
///     .unwrap();
/// assert_eq!(report.items_from_source, 100);
/// assert!(report.stages.iter().all(|s| s.items_in == 100 && s.items_out == 100));
/// println!("{report}");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PipelineReport {
    /// Items the source iterator yielded.
    pub items_from_source: u64,
    /// Time spent inside the source iterator's `next`.
    pub source_busy: Duration,
    /// One entry per stage, in pipeline order.
    pub stages: Vec<StageReport>,
    /// Items handed to the sink.
    pub items_to_sink: u64,
    /// Wall-clock time from the start of the run to the end of its last
    /// piece of work.
    pub elapsed: Duration,
}

impl PipelineReport {
    /// The report of a run of `stages` from what each node did (the source
    /// first), `elapsed` long.
    pub(super) fn new(
        stages: &[StageSpec],
        tallies: &[Tally],
        items_to_sink: u64,
        elapsed: Duration,
    ) -> PipelineReport {
        let source = &tallies[0];
        PipelineReport {
            items_from_source: source.items_out,
            source_busy: source.busy,
            stages: stages
                .iter()
                .zip(&tallies[1..])
                .enumerate()
                .map(|(index, (spec, tally))| {
                    let workers = u32::try_from(spec.workers).unwrap_or(u32::MAX);
                    let idle = (elapsed * workers).saturating_sub(tally.busy);
                    StageReport {
                        index,
                        name: spec.name.clone(),
                        workers: spec.workers,
                        items_in: tally.items_in,
                        items_out: tally.items_out,
                        busy: tally.busy,
                        waiting_for_input: idle.saturating_sub(tally.held_back),
                        waiting_for_output: tally.held_back.min(idle),
                    }
                })
                .collect(),
            items_to_sink,
            elapsed,
        }
    }

    /// The stage with the most busy time per worker: the one that limits the
    /// pipeline's throughput, and the first candidate for more workers.
    /// `None` for a pipeline without stages.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    /// use std::time::Duration;
    ///
    /// let report = Pipeline::from_iter(0..20)
    ///     .map_stage("quick", 1, |x| x)
    ///     .map_stage("slow", 1, |x| { std::thread::sleep(Duration::from_millis(2)); x })
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// assert_eq!(report.bottleneck().unwrap().name, "slow");
    /// ```
    pub fn bottleneck(&self) -> Option<&StageReport> {
        self.stages
            .iter()
            .max_by_key(|stage| stage.busy_per_worker())
    }
}

impl fmt::Display for PipelineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pipeline: {} items from the source (busy {:.3?}), {} to the sink, in {:.3?}",
            self.items_from_source, self.source_busy, self.items_to_sink, self.elapsed
        )?;
        writeln!(
            f,
            "{:>3}  {:<20} {:>7} {:>10} {:>10} {:>12} {:>6} {:>12} {:>12}",
            "#", "stage", "workers", "in", "out", "busy", "util", "wait input", "wait output"
        )?;
        for stage in &self.stages {
            let capacity = self.elapsed.as_secs_f64() * stage.workers as f64;
            let utilization = if capacity > 0.0 {
                100.0 * stage.busy.as_secs_f64() / capacity
            } else {
                0.0
            };
            writeln!(
                f,
                "{:>3}  {:<20} {:>7} {:>10} {:>10} {:>12} {:>5.1}% {:>12} {:>12}",
                stage.index,
                stage.name,
                stage.workers,
                stage.items_in,
                stage.items_out,
                format!("{:.3?}", stage.busy),
                utilization,
                format!("{:.3?}", stage.waiting_for_input),
                format!("{:.3?}", stage.waiting_for_output),
            )?;
        }
        Ok(())
    }
}

/// What one stage did during a run, summed over its workers; part of a
/// [`PipelineReport`].
///
/// ```
/// use flotilla::patterns::pipeline::Pipeline;
///
/// let report = Pipeline::from_iter(0..8).map_stage("halve", 2, |x| x / 2).for_each(|_| {}).unwrap();
/// let stage = &report.stages[0];
/// assert_eq!((stage.index, stage.name.as_str(), stage.workers), (0, "halve", 2));
/// assert_eq!((stage.items_in, stage.items_out), (8, 8));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StageReport {
    /// Position of the stage, from 0 for the stage after the source.
    pub index: usize,
    /// The name the stage was given.
    pub name: String,
    /// How many items the stage works on at once (its workers).
    pub workers: usize,
    /// Items taken from the input queue.
    pub items_in: u64,
    /// Items put on the output queue.
    pub items_out: u64,
    /// Time spent inside the stage function.
    pub busy: Duration,
    /// Worker time with nothing to work on: neither busy nor held back by
    /// a full output queue (the stage before is slower). The stage's
    /// workers hold no thread meanwhile; the pool runs other work.
    pub waiting_for_input: Duration,
    /// Worker time held back by a full output queue (the stage after is
    /// slower).
    pub waiting_for_output: Duration,
}

impl StageReport {
    fn busy_per_worker(&self) -> Duration {
        let workers = u32::try_from(self.workers.max(1)).unwrap_or(u32::MAX);
        self.busy / workers
    }
}
