//! Pipelines of stages: items flow from a source through a chain of stages,
//! with a bounded queue between each pair of neighbours and as many items
//! in work at once in each stage as that stage has workers.
//!
//! This is the *pipeline pattern*: a task broken into steps (`x + 1`, then
//! `* 2`, then `- 3`), where every step works on a different item at the same
//! time, like stations on an assembly line.
//!
//! ```
//! use flotilla::patterns::pipeline::Pipeline;
//!
//! # fn main() -> Result<(), flotilla::patterns::pipeline::PipelineError> {
//! let out: Vec<i64> = Pipeline::from_iter(0..10i64)
//!     .map_stage("add one", 2, |x| x + 1)
//!     .map_stage("double", 1, |x| x * 2)
//!     .map_stage("minus three", 1, |x| x - 3)
//!     .capacity(8)
//!     .collect()?;
//! assert_eq!(out, (0..10).map(|x| (x + 1) * 2 - 3).collect::<Vec<_>>());
//! # Ok(())
//! # }
//! ```
//!
//! # Design
//!
//! ```text
//!             queue 0              queue 1                    queue n
//!  source ──[cap items]──► stage 0 ──[cap items]──► … stage n-1 ──[cap items]──► sink
//!  1 at a time             w₀ at a time              wₙ₋₁ at a time             calling thread
//! ```
//!
//! **On the pool.** A pipeline is a plan until a sink ([`Pipeline::collect`],
//! [`Pipeline::collect_unordered`], [`Pipeline::for_each`],
//! [`Pipeline::for_each_unordered`], [`Pipeline::run`]) is called. The sink
//! then opens a [`CpuPool::scope`] on the pipeline's pool (the
//! [global](CpuPool::global) one unless [`Pipeline::pool`] names another)
//! and the work runs there as the pool's own jobs: stolen by idle workers,
//! counted in [`CpuPool::measure`]'s run report. A stage's *workers* are how
//! many items it works on at once, not threads: a stage whose input queue is
//! empty or whose output queue is full holds no thread at all, and is started
//! again by the neighbour that changes that. So any number of stages and
//! workers runs on a pool of any size. The sink runs on the calling thread,
//! so a [`for_each`](Pipeline::for_each) closure need not be `Send`. Because
//! the jobs are scoped, stages may borrow local data, and every job has
//! ended when the sink returns, whatever happened.
//!
//! **Bounded queues and back-pressure.** Neighbours are joined by queues of
//! [`capacity`](Pipeline::capacity) items (default [`DEFAULT_CAPACITY`]). A
//! stage that is faster than the one after it fills the queue between them
//! and then starts no more items, and so in turn does everything before it,
//! up to the source, which stops being pulled. The number of items between
//! the source and the sink is therefore bounded: at most `capacity` per
//! queue plus one per worker (an item a worker finished while the queue
//! after it was full waits there as it would in the worker's hand). The
//! workers of one stage take items from their input queue as they become
//! free, so a slow item on one worker does not hold up the others.
//!
//! **Ordering.** The source numbers every item it yields (its *sequence
//! number*, from 0) and the number travels with the item through every stage.
//! With several workers in a stage items overtake one another; the ordered
//! sinks ([`collect`](Pipeline::collect), [`for_each`](Pipeline::for_each),
//! [`run`](Pipeline::run)) put them back in source order with a reorder
//! buffer at the end, the unordered sinks hand items over as they arrive.
//! The reorder buffer holds the items that arrived before a late one; it is
//! not bounded by the queue capacities.
//!
//! **Stopping on the first error.** A stage function that returns `Err` or
//! panics (the panic is caught with [`std::panic::catch_unwind`]), and a
//! source iterator that panics, fail the whole run: the first error is
//! recorded (later ones are dropped), no stage starts another item and the
//! source is not pulled again (an item already inside a stage function
//! finishes), the sink stops delivering, and it returns the recorded
//! [`PipelineError`] once every job has ended. The panic hook still runs for
//! a caught panic, so a panicking stage prints its message on stderr as
//! usual.
//!
//! A panic in the sink's own closure (the one given to
//! [`for_each`](Pipeline::for_each)) is not caught: it stops the run, waits
//! for the jobs, and continues unwinding in the caller.
//!
//! **Report.** Every stage counts what it did: items in and out, time spent
//! inside the stage function (busy), worker time with nothing to do and
//! worker time held back by a full queue. [`for_each`](Pipeline::for_each)
//! and [`run`](Pipeline::run) return the totals as a [`PipelineReport`],
//! whose [`bottleneck`](PipelineReport::bottleneck) says which stage to give
//! more workers.
//!
//! The implementation is in three parts: `flow` counts (which stage may start
//! an item, whom to wake; no items, threads or clocks, tested directly),
//! `run` moves the items (the source and stage nodes, their jobs, the sink
//! loop), and this file is the builder.

mod error;
mod flow;
mod reorder;
mod report;
mod run;

use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use flotilla_local::CpuPool;

pub use error::{ConfigError, PipelineError};
pub use report::{PipelineOutput, PipelineReport, StageReport};

use flow::Flow;
use reorder::Reorder;
use run::{Edge, Node, Run, Source, Stage};

/// Capacity of each queue between stages when [`Pipeline::capacity`] is not
/// called.
///
/// ```
/// assert_eq!(flotilla::patterns::pipeline::DEFAULT_CAPACITY, 64);
/// ```
pub const DEFAULT_CAPACITY: usize = 64;

/// The error a failing stage function reports, as carried by
/// [`PipelineError::StageFailed`].
///
/// Any error type converts into it (as do `String` and `&str`), so it can be
/// named as a stage closure's error type when inference needs help:
///
/// ```
/// use flotilla::patterns::pipeline::{Pipeline, StageError};
///
/// let out = Pipeline::from_iter(["1", "2", "3"])
///     .stage("parse", 2, |s: &str| -> Result<i64, StageError> { Ok(s.parse::<i64>()? * 10) })
///     .collect()
///     .unwrap();
/// assert_eq!(out, [10, 20, 30]);
/// ```
pub type StageError = Box<dyn StdError + Send + Sync + 'static>;

/// What the builder knows of a stage before the run.
#[derive(Debug, Clone)]
struct StageSpec {
    name: String,
    workers: usize,
}

/// A pipeline whose last stage produces items of type `T`; a plan that runs
/// when one of its sinks is called.
///
/// Build one with [`Pipeline::from_iter`], add stages with
/// [`stage`](Pipeline::stage) (fallible) or [`map_stage`](Pipeline::map_stage)
/// (infallible), each of which may change the item type, and finish with a
/// sink: [`collect`](Pipeline::collect), [`collect_unordered`](Pipeline::collect_unordered),
/// [`for_each`](Pipeline::for_each), [`for_each_unordered`](Pipeline::for_each_unordered)
/// or [`run`](Pipeline::run). The lifetime `'a` is that of whatever the source
/// and the stage functions borrow.
///
/// ```
/// use flotilla::patterns::pipeline::Pipeline;
///
/// let words = vec!["pipeline", "of", "stages"];
/// let lengths: Vec<usize> = Pipeline::from_iter(words.iter())
///     .map_stage("upper", 2, |w| w.to_uppercase())
///     .map_stage("length", 2, |w: String| w.len())
///     .collect()
///     .unwrap();
/// assert_eq!(lengths, [8, 2, 6]);
/// ```
pub struct Pipeline<'a, T> {
    /// The source, then each stage, in order.
    nodes: Vec<Box<dyn Node + 'a>>,
    /// The queue after the last node, which the sink takes from.
    last: Arc<Edge<T>>,
    stages: Vec<StageSpec>,
    capacity: usize,
    pool: Option<CpuPool>,
}

impl<T> fmt::Debug for Pipeline<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("stages", &self.stages)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<'a, T: Send + 'a> Pipeline<'a, T> {
    /// Starts a pipeline whose items come from `items`.
    ///
    /// The iterator is pulled lazily, one item at a time, only as fast as
    /// the queue after it drains (so an endless iterator is fine), and it is
    /// no longer pulled once a stage has failed.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let evens: Vec<u32> = Pipeline::from_iter((0..).step_by(2).take(4)).collect().unwrap();
    /// assert_eq!(evens, [0, 2, 4, 6]);
    /// ```
    #[allow(clippy::should_implement_trait)] // lazy, so not `FromIterator`
    pub fn from_iter<I>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'a,
    {
        let last = Arc::new(Edge::new());
        let source = Source::new(items.into_iter(), Arc::clone(&last));
        Pipeline {
            nodes: vec![Box::new(source)],
            last,
            stages: Vec::new(),
            capacity: DEFAULT_CAPACITY,
            pool: None,
        }
    }

    /// Adds a stage named `name` that runs `f` on every item, on up to
    /// `workers` items at once; an `Err` from `f` stops the pipeline (see
    /// [`PipelineError::StageFailed`]).
    ///
    /// The error type `E` may be any error type, `String` or `&str`. A
    /// closure such as `|x| Ok(x + 1)` leaves `E` unknown to the compiler:
    /// use [`map_stage`](Pipeline::map_stage) for a stage that cannot fail, or
    /// name the error type (`Ok::<_, MyError>(…)`, or `-> Result<_, StageError>`).
    /// A `workers` of zero makes the sink return
    /// [`ConfigError::ZeroWorkers`].
    ///
    /// ```
    /// use flotilla::patterns::pipeline::{Pipeline, PipelineError};
    ///
    /// let result = Pipeline::from_iter(["4", "x", "6"])
    ///     .stage("parse", 1, |s: &str| s.parse::<u8>())
    ///     .collect();
    /// match result {
    ///     Err(PipelineError::StageFailed { stage, stage_index, item, source }) => {
    ///         assert_eq!((stage.as_str(), stage_index, item), ("parse", 0, 1));
    ///         assert!(source.is::<std::num::ParseIntError>());
    ///     }
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// ```
    ///
    /// The stage function runs on several of the pool's threads at once, so
    /// it must be `Send + Sync`:
    ///
    /// ```compile_fail,E0277
    /// use flotilla::patterns::pipeline::Pipeline;
    /// use std::rc::Rc;
    ///
    /// let base = Rc::new(10);
    /// let _ = Pipeline::from_iter(0..3).map_stage("add", 2, move |x: i32| x + *base).collect();
    /// ```
    pub fn stage<U, E, F>(self, name: impl Into<String>, workers: usize, f: F) -> Pipeline<'a, U>
    where
        U: Send + 'a,
        E: Into<StageError>,
        F: Fn(T) -> Result<U, E> + Send + Sync + 'a,
    {
        let index = self.stages.len();
        let name = name.into();
        let mut stages = self.stages;
        stages.push(StageSpec {
            name: name.clone(),
            workers,
        });
        let last = Arc::new(Edge::new());
        let mut nodes = self.nodes;
        nodes.push(Box::new(Stage {
            index,
            name,
            f,
            input: self.last,
            output: Arc::clone(&last),
        }));
        Pipeline {
            nodes,
            last,
            stages,
            capacity: self.capacity,
            pool: self.pool,
        }
    }

    /// Adds a stage named `name` that runs `f`, which cannot fail, on every
    /// item, on up to `workers` items at once.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let out = Pipeline::from_iter(1..=3u64)
    ///     .map_stage("square", 2, |x| x * x)
    ///     .map_stage("label", 1, |x| format!("#{x}"))
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(out, ["#1", "#4", "#9"]);
    /// ```
    pub fn map_stage<U, F>(self, name: impl Into<String>, workers: usize, f: F) -> Pipeline<'a, U>
    where
        U: Send + 'a,
        F: Fn(T) -> U + Send + Sync + 'a,
    {
        self.stage(name, workers, move |item| Ok::<U, Infallible>(f(item)))
    }

    /// Sets how many items each queue holds (the queue after the source, the
    /// queues between stages and the queue before the sink); the default is
    /// [`DEFAULT_CAPACITY`]. Smaller queues hold fewer items in memory, larger
    /// ones smooth out stages whose speed varies. Zero makes the sink return
    /// [`ConfigError::ZeroCapacity`].
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let out = Pipeline::from_iter(0..100).map_stage("inc", 4, |x| x + 1).capacity(2).collect();
    /// assert_eq!(out.unwrap(), (1..=100).collect::<Vec<_>>());
    /// ```
    pub fn capacity(mut self, items: usize) -> Self {
        self.capacity = items;
        self
    }

    /// Runs the pipeline's work on `pool` instead of the
    /// [global](CpuPool::global) pool; the work is the pool's, counted in
    /// its [run report](CpuPool::measure).
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    /// use flotilla::CpuPool;
    ///
    /// let pool = CpuPool::with_threads(2).unwrap();
    /// let (out, report) = pool.measure(|| {
    ///     Pipeline::from_iter(0..100).map_stage("square", 4, |x: u64| x * x).pool(&pool).collect()
    /// });
    /// assert_eq!(out.unwrap().iter().sum::<u64>(), 328_350);
    /// assert!(report.tasks() > 0, "the stages ran as the pool's jobs");
    /// ```
    pub fn pool(mut self, pool: &CpuPool) -> Self {
        self.pool = Some(pool.clone());
        self
    }

    /// Runs the pipeline and returns its outputs in source order.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let out = Pipeline::from_iter(0..1000).map_stage("triple", 8, |x| 3 * x).collect().unwrap();
    /// assert_eq!(out, (0..1000).map(|x| 3 * x).collect::<Vec<_>>());
    /// ```
    pub fn collect(self) -> Result<Vec<T>, PipelineError> {
        self.run().map(|output| output.items)
    }

    /// Runs the pipeline and returns its outputs in the order they came out
    /// of the last stage, which skips the reorder buffer.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let mut out = Pipeline::from_iter(0..50).map_stage("negate", 4, |x: i32| -x).collect_unordered().unwrap();
    /// out.sort();
    /// assert_eq!(out, (-49..=0).collect::<Vec<_>>());
    /// ```
    pub fn collect_unordered(self) -> Result<Vec<T>, PipelineError> {
        let mut items = Vec::new();
        self.execute(|_, item| items.push(item))?;
        Ok(items)
    }

    /// Runs the pipeline and returns its outputs in source order together
    /// with the [`PipelineReport`] of the run.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let run = Pipeline::from_iter(0..10).map_stage("double", 2, |x| 2 * x).run().unwrap();
    /// assert_eq!(run.items, (0..10).map(|x| 2 * x).collect::<Vec<_>>());
    /// assert_eq!(run.report.stages[0].items_out, 10);
    /// ```
    pub fn run(self) -> Result<PipelineOutput<T>, PipelineError> {
        let mut items = Vec::new();
        let mut reorder = Reorder::new();
        let report =
            self.execute(|seq, item| reorder.push(seq, item, &mut |item| items.push(item)))?;
        debug_assert!(
            reorder.is_empty(),
            "a successful run delivers every sequence number"
        );
        Ok(PipelineOutput { items, report })
    }

    /// Runs the pipeline, calling `f` on the calling thread with every output
    /// in source order, and returns the [`PipelineReport`] of the run.
    ///
    /// When a stage fails, `f` is not called again, but it may already have
    /// seen the outputs of items before the failing one.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let mut seen = Vec::new();
    /// let report = Pipeline::from_iter(0..5)
    ///     .map_stage("inc", 3, |x| x + 1)
    ///     .for_each(|x| seen.push(x))
    ///     .unwrap();
    /// assert_eq!(seen, [1, 2, 3, 4, 5]);
    /// assert_eq!(report.items_to_sink, 5);
    /// ```
    pub fn for_each<F: FnMut(T)>(self, mut f: F) -> Result<PipelineReport, PipelineError> {
        let mut reorder = Reorder::new();
        self.execute(|seq, item| reorder.push(seq, item, &mut f))
    }

    /// Runs the pipeline, calling `f` on the calling thread with every output
    /// as it comes out of the last stage, and returns the [`PipelineReport`]
    /// of the run.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let mut total = 0;
    /// Pipeline::from_iter(1..=10).map_stage("square", 4, |x| x * x).for_each_unordered(|x| total += x).unwrap();
    /// assert_eq!(total, 385);
    /// ```
    pub fn for_each_unordered<F: FnMut(T)>(
        self,
        mut f: F,
    ) -> Result<PipelineReport, PipelineError> {
        self.execute(|_, item| f(item))
    }

    /// Checks the configuration, runs the pipeline's jobs in one scope of
    /// its pool, hands each output to `deliver` on this thread, and returns
    /// the first error or the report.
    fn execute(self, deliver: impl FnMut(u64, T)) -> Result<PipelineReport, PipelineError> {
        self.validate()?;
        let pool = self.pool.unwrap_or_else(|| CpuPool::global().clone());
        let flow = Flow::new(self.capacity, self.stages.iter().map(|s| s.workers));
        let run = Run::new(self.nodes, flow);
        let last = self.last;
        let started = Instant::now();
        let items_to_sink = pool.scope(|scope| {
            // Raised however this closure ends, a panic in `deliver` included.
            let _stop = StopOnDrop(&run);
            run.start(scope);
            run.sink(scope, &last, deliver)
        });
        let end = Instant::now();
        let (tallies, drained) = run.finish(end)?;
        debug_assert!(drained, "a run that did not stop delivers every item");
        Ok(PipelineReport::new(
            &self.stages,
            &tallies,
            items_to_sink,
            end - started,
        ))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some((stage_index, spec)) =
            self.stages.iter().enumerate().find(|(_, s)| s.workers == 0)
        {
            return Err(ConfigError::ZeroWorkers {
                stage: spec.name.clone(),
                stage_index,
            });
        }
        if self.capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        Ok(())
    }
}

/// Stops the run when the sink's closure ends, normally or by a panic.
struct StopOnDrop<'r, 'n>(&'r Run<'n>);

impl Drop for StopOnDrop<'_, '_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelines_and_errors_cross_threads() {
        fn assert_send<T: Send>() {}
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send::<Pipeline<'static, u8>>();
        assert_send_sync::<PipelineError>();
        assert_send_sync::<PipelineReport>();
    }

    #[test]
    fn stage_names_with_nul_still_run() {
        let out = Pipeline::from_iter(0..3)
            .map_stage("odd\0name", 2, |x| x + 1)
            .collect();
        assert_eq!(out.unwrap(), [1, 2, 3]);
    }

    #[test]
    fn pipeline_debug_names_stages() {
        let pipeline = Pipeline::from_iter(0..3)
            .map_stage("inc", 2, |x| x + 1)
            .capacity(5);
        let debug = format!("{pipeline:?}");
        assert!(
            debug.contains("inc") && debug.contains("capacity: 5"),
            "{debug}"
        );
    }
}
