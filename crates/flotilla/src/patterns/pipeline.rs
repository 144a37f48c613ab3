//! Pipelines of stages: items flow from a source through a chain of stages,
//! with a bounded queue between each pair of neighbours and as many worker
//! threads per stage as that stage needs.
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
//!  1 thread                w₀ threads                wₙ₋₁ threads               calling thread
//! ```
//!
//! **Threads.** A pipeline is a plan until a sink ([`Pipeline::collect`],
//! [`Pipeline::collect_unordered`], [`Pipeline::for_each`],
//! [`Pipeline::for_each_unordered`], [`Pipeline::run`]) is called. The sink
//! then opens a [`std::thread::scope`] and starts one thread that pulls the
//! source iterator and, for each stage, as many threads as that stage has
//! workers. The sink itself runs on the calling thread, so a
//! [`for_each`](Pipeline::for_each) closure need not be `Send`. Because the
//! threads are scoped, stages may borrow local data, and every thread has been
//! joined when the sink returns, whatever happened.
//!
//! **Bounded queues and back-pressure.** Neighbours are joined by
//! [`std::sync::mpsc::sync_channel`]s of [`capacity`](Pipeline::capacity)
//! items (default [`DEFAULT_CAPACITY`]). A stage that is faster than the one
//! after it fills the queue between them and then blocks on `send`, and so in
//! turn does everything before it, up to the source, which stops being pulled.
//! The number of items between the source and the sink is therefore bounded:
//! at most `capacity` per queue, one per worker and one held by the source
//! thread. The workers of one stage share their input queue (behind a mutex)
//! and take items from it as they become free, so a slow item on one worker
//! does not hold up the others.
//!
//! **Ordering.** The source numbers every item it yields (its *sequence
//! number*, from 0) and the number travels with the item through every stage.
//! With several workers in a stage items overtake one another; the ordered
//! sinks ([`collect`](Pipeline::collect), [`for_each`](Pipeline::for_each),
//! [`run`](Pipeline::run)) put them back in source order with a reorder buffer
//! at the end, the unordered sinks hand items over as they arrive. The reorder
//! buffer holds the items that arrived before a late one; it is not bounded by
//! the queue capacities.
//!
//! **Stopping on the first error.** A stage function that returns `Err` or
//! panics (the panic is caught with [`std::panic::catch_unwind`]), and a
//! source iterator that panics, fail the whole run:
//!
//! 1. the failing thread records the error, unless an earlier one was already
//!    recorded (the *first* error wins), and raises a shared stop flag;
//! 2. every thread checks the flag before pulling the source and after taking
//!    an item from its input queue, and exits when it is raised, so no new
//!    item is started (an item already inside a stage function finishes);
//! 3. a thread blocked on a queue is released by its neighbours going away: a
//!    worker blocked on a full queue sees its `send` fail once every worker
//!    of the next stage has exited and dropped that queue's receiver, and a
//!    worker blocked on an empty queue sees its `recv` fail once every worker
//!    of the previous stage has exited and dropped the senders;
//! 4. the sink stops delivering items, drops its receiver, and returns the
//!    recorded [`PipelineError`] once the scope has joined every thread.
//!
//! The panic hook still runs for a caught panic, so a panicking stage prints
//! its message on stderr as usual; its thread is named
//! `pipeline:<stage name>:<worker>`.
//!
//! A panic in the sink's own closure (the one given to
//! [`for_each`](Pipeline::for_each)) is not caught: it raises the stop flag,
//! waits for the threads, and continues unwinding in the caller.
//!
//! **Report.** Every thread counts what it did: items in and out, time spent
//! inside the stage function (busy), waiting for input and waiting on a full
//! queue. [`for_each`](Pipeline::for_each) and [`run`](Pipeline::run) return
//! the totals as a [`PipelineReport`], whose
//! [`bottleneck`](PipelineReport::bottleneck) says which stage to give more
//! workers.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, Scope};
use std::time::{Duration, Instant};

use flotilla_local::panic_message;

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

/// An item in flight: its sequence number in the source, and the item.
type Packet<T> = (u64, T);

/// Starts the threads of the source and of every stage so far, inside the
/// scope of one run, and returns the receiving end of the last queue.
type Launcher<'a, T> = Box<
    dyn for<'scope> FnOnce(&'scope Scope<'scope, 'a>, &Arc<RunState>) -> Receiver<Packet<T>>
        + Send
        + 'a,
>;

/// Boxes a launcher; going through this function lets the compiler give the
/// closure the higher-ranked signature that [`Launcher`] needs.
fn launcher<'a, T, F>(launch: F) -> Launcher<'a, T>
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'a>, &Arc<RunState>) -> Receiver<Packet<T>>
        + Send
        + 'a,
{
    Box::new(launch)
}

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
    launch: Launcher<'a, T>,
    stages: Vec<StageSpec>,
    capacity: usize,
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
    /// The iterator is pulled lazily, on a thread of its own, only as fast as
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
        let items = items.into_iter();
        let launch = launcher(move |scope, run| {
            let (output, downstream) = mpsc::sync_channel(run.capacity);
            let state = Arc::clone(run);
            spawn_named(scope, run, "pipeline:source".to_owned(), move || {
                pull_source(items, output, &state);
            });
            downstream
        });
        Pipeline {
            launch,
            stages: Vec::new(),
            capacity: DEFAULT_CAPACITY,
        }
    }

    /// Adds a stage named `name` that runs `f` on every item with `workers`
    /// threads; an `Err` from `f` stops the pipeline (see
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
    /// The stage function runs on several threads at once, so it must be
    /// `Send + Sync`:
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
        let mut stages = self.stages;
        stages.push(StageSpec {
            name: name.into(),
            workers,
        });
        let upstream = self.launch;
        let launch = launcher(move |scope, run| {
            let input = Arc::new(Mutex::new(upstream(scope, run)));
            let (output, downstream) = mpsc::sync_channel(run.capacity);
            let f = Arc::new(f);
            for worker in 0..workers {
                let input = Arc::clone(&input);
                let output = output.clone();
                let f = Arc::clone(&f);
                let state = Arc::clone(run);
                let thread_name = format!("pipeline:{}:{worker}", run.stage_names[index]);
                spawn_named(scope, run, thread_name, move || {
                    run_stage_worker(index, &*f, &input, output, &state);
                });
            }
            // The workers hold the only senders now: the next stage sees the
            // queue close when the last of them exits.
            drop(output);
            downstream
        });
        Pipeline {
            launch,
            stages,
            capacity: self.capacity,
        }
    }

    /// Adds a stage named `name` that runs `f`, which cannot fail, on every
    /// item with `workers` threads.
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

    /// Checks the configuration, runs every thread in one scope, hands each
    /// output to `deliver` on this thread, and returns the first error or
    /// the report.
    fn execute(self, mut deliver: impl FnMut(u64, T)) -> Result<PipelineReport, PipelineError> {
        self.validate()?;
        let run = Arc::new(RunState::new(self.capacity, &self.stages));
        let launch = self.launch;
        let started = Instant::now();
        let items_to_sink = thread::scope(|scope| {
            // Raised however this closure ends, a panic in `deliver` included;
            // `output` is dropped before it, releasing a blocked last stage.
            let _stop = StopOnDrop(&run);
            let output = launch(scope, &run);
            let mut delivered = 0u64;
            for (seq, item) in output.iter() {
                if run.is_stopped() {
                    break;
                }
                deliver(seq, item);
                delivered += 1;
            }
            delivered
        });
        let elapsed = started.elapsed();
        if let Some(error) = run.take_error() {
            return Err(error);
        }
        Ok(run.report(&self.stages, items_to_sink, elapsed))
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
    /// Wall-clock time from starting the threads to joining them.
    pub elapsed: Duration,
}

impl PipelineReport {
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
    /// Number of worker threads.
    pub workers: usize,
    /// Items taken from the input queue.
    pub items_in: u64,
    /// Items put on the output queue.
    pub items_out: u64,
    /// Time spent inside the stage function.
    pub busy: Duration,
    /// Time spent waiting for an item on the input queue (the stage before is
    /// slower).
    pub waiting_for_input: Duration,
    /// Time spent blocked on a full output queue (the stage after is slower).
    pub waiting_for_output: Duration,
}

impl StageReport {
    fn busy_per_worker(&self) -> Duration {
        let workers = u32::try_from(self.workers.max(1)).unwrap_or(u32::MAX);
        self.busy / workers
    }
}

/// Why a pipeline run failed.
///
/// Stage errors name the stage (its name and its index, from 0 for the stage
/// after the source) and the sequence number of the item (its position in the
/// source, from 0). Only the first failure of a run is reported.
///
/// ```
/// use flotilla::patterns::pipeline::{Pipeline, PipelineError};
///
/// let err = Pipeline::from_iter(0..100)
///     .map_stage("fine", 2, |x: u32| x)
///     .stage("picky", 1, |x| if x == 42 { Err(format!("{x} is not allowed")) } else { Ok(x) })
///     .collect()
///     .unwrap_err();
/// assert_eq!(err.stage_name(), Some("picky"));
/// assert_eq!(err.stage_index(), Some(1));
/// assert_eq!(err.item(), Some(42));
/// assert_eq!(err.to_string(), "pipeline stage 1 `picky` failed on item 42: 42 is not allowed");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A stage function returned `Err`.
    #[error("pipeline stage {stage_index} `{stage}` failed on item {item}: {source}")]
    StageFailed {
        /// Name of the stage.
        stage: String,
        /// Index of the stage, from 0.
        stage_index: usize,
        /// Sequence number of the item the stage failed on.
        item: u64,
        /// The error the stage function returned.
        source: StageError,
    },
    /// A stage function panicked.
    #[error("pipeline stage {stage_index} `{stage}` panicked on item {item}: {message}")]
    StagePanicked {
        /// Name of the stage.
        stage: String,
        /// Index of the stage, from 0.
        stage_index: usize,
        /// Sequence number of the item the stage panicked on.
        item: u64,
        /// The panic message, or a placeholder when the payload was not a
        /// string.
        message: String,
    },
    /// The source iterator panicked.
    #[error("the pipeline's source panicked while producing item {item}: {message}")]
    SourcePanicked {
        /// Sequence number the item would have had.
        item: u64,
        /// The panic message, or a placeholder when the payload was not a
        /// string.
        message: String,
    },
    /// The operating system refused to start a thread.
    #[error("could not start pipeline thread `{thread}`: {source}")]
    ThreadSpawn {
        /// Name of the thread (`pipeline:<stage>:<worker>` or
        /// `pipeline:source`).
        thread: String,
        /// The error from the operating system.
        source: io::Error,
    },
    /// The pipeline was configured so that it could not run; nothing was
    /// started and the source was not pulled.
    #[error("invalid pipeline configuration: {0}")]
    InvalidConfig(#[from] ConfigError),
}

impl PipelineError {
    /// The name of the stage that failed, when a stage failed.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let err = Pipeline::from_iter([0]).stage("reject", 1, |_: i32| Err::<i32, _>("no")).collect().unwrap_err();
    /// assert_eq!(err.stage_name(), Some("reject"));
    /// ```
    pub fn stage_name(&self) -> Option<&str> {
        match self {
            Self::StageFailed { stage, .. } | Self::StagePanicked { stage, .. } => Some(stage),
            Self::InvalidConfig(ConfigError::ZeroWorkers { stage, .. }) => Some(stage),
            _ => None,
        }
    }

    /// The index of the stage that failed (from 0), when a stage failed.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let err = Pipeline::from_iter([0]).map_stage("lazy", 0, |x: i32| x).collect().unwrap_err();
    /// assert_eq!(err.stage_index(), Some(0));
    /// ```
    pub fn stage_index(&self) -> Option<usize> {
        match self {
            Self::StageFailed { stage_index, .. } | Self::StagePanicked { stage_index, .. } => {
                Some(*stage_index)
            }
            Self::InvalidConfig(ConfigError::ZeroWorkers { stage_index, .. }) => Some(*stage_index),
            _ => None,
        }
    }

    /// The sequence number (position in the source, from 0) of the item
    /// being processed when the failure happened, when there was one.
    ///
    /// ```
    /// use flotilla::patterns::pipeline::Pipeline;
    ///
    /// let err = Pipeline::from_iter(0..9)
    ///     .map_stage("boom", 1, |x: i32| if x == 3 { panic!("three") } else { x })
    ///     .collect()
    ///     .unwrap_err();
    /// assert_eq!(err.item(), Some(3));
    /// ```
    pub fn item(&self) -> Option<u64> {
        match self {
            Self::StageFailed { item, .. }
            | Self::StagePanicked { item, .. }
            | Self::SourcePanicked { item, .. } => Some(*item),
            _ => None,
        }
    }
}

/// A pipeline configuration that cannot run; carried by
/// [`PipelineError::InvalidConfig`].
///
/// ```
/// use flotilla::patterns::pipeline::{ConfigError, Pipeline, PipelineError};
///
/// let err = Pipeline::from_iter(0..3).map_stage("inc", 1, |x| x + 1).capacity(0).collect().unwrap_err();
/// assert!(matches!(err, PipelineError::InvalidConfig(ConfigError::ZeroCapacity)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A stage was given zero workers, so no item could ever pass it.
    #[error("stage {stage_index} `{stage}` has zero workers; a stage needs at least one")]
    ZeroWorkers {
        /// Name of the stage.
        stage: String,
        /// Index of the stage, from 0.
        stage_index: usize,
    },
    /// The queue capacity is zero.
    #[error("the queue capacity is zero; queues between stages need room for at least one item")]
    ZeroCapacity,
}

/// Shared state of one run: the stop flag, the first error, and the counters
/// each thread adds to when it exits.
struct RunState {
    capacity: usize,
    stage_names: Vec<String>,
    stop: AtomicBool,
    first_error: Mutex<Option<PipelineError>>,
    source: Mutex<Tally>,
    stages: Vec<Mutex<Tally>>,
}

impl RunState {
    fn new(capacity: usize, stages: &[StageSpec]) -> Self {
        RunState {
            capacity,
            stage_names: stages.iter().map(|s| s.name.clone()).collect(),
            stop: AtomicBool::new(false),
            first_error: Mutex::new(None),
            source: Mutex::new(Tally::default()),
            stages: stages
                .iter()
                .map(|_| Mutex::new(Tally::default()))
                .collect(),
        }
    }

    fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Records `error` unless an earlier one was recorded, and stops the run.
    fn fail(&self, error: PipelineError) {
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if first.is_none() {
            *first = Some(error);
        }
        self.stop();
    }

    fn take_error(&self) -> Option<PipelineError> {
        self.first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn report(
        &self,
        stages: &[StageSpec],
        items_to_sink: u64,
        elapsed: Duration,
    ) -> PipelineReport {
        let source = lock(&self.source).clone();
        PipelineReport {
            items_from_source: source.items_out,
            source_busy: source.busy,
            stages: stages
                .iter()
                .zip(&self.stages)
                .enumerate()
                .map(|(index, (spec, tally))| {
                    let tally = lock(tally).clone();
                    StageReport {
                        index,
                        name: spec.name.clone(),
                        workers: spec.workers,
                        items_in: tally.items_in,
                        items_out: tally.items_out,
                        busy: tally.busy,
                        waiting_for_input: tally.waiting_for_input,
                        waiting_for_output: tally.waiting_for_output,
                    }
                })
                .collect(),
            items_to_sink,
            elapsed,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Raises the stop flag when the sink's scope closure ends, normally or by a
/// panic.
struct StopOnDrop<'r>(&'r RunState);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// One thread's counts, kept locally and added to the shared ones at exit.
#[derive(Debug, Clone, Default)]
struct Tally {
    items_in: u64,
    items_out: u64,
    busy: Duration,
    waiting_for_input: Duration,
    waiting_for_output: Duration,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.items_in += other.items_in;
        self.items_out += other.items_out;
        self.busy += other.busy;
        self.waiting_for_input += other.waiting_for_input;
        self.waiting_for_output += other.waiting_for_output;
    }
}

/// Starts a named scoped thread; if the system refuses, fails the run (the
/// closure, and the queue ends it holds, are dropped, so neighbours see the
/// queues close).
fn spawn_named<'scope, 'env, F>(
    scope: &'scope Scope<'scope, 'env>,
    run: &RunState,
    name: String,
    body: F,
) where
    F: FnOnce() + Send + 'scope,
{
    // A thread name may not contain NUL; a stage name might.
    let name = name.replace('\0', "?");
    if let Err(source) = thread::Builder::new()
        .name(name.clone())
        .spawn_scoped(scope, body)
    {
        run.fail(PipelineError::ThreadSpawn {
            thread: name,
            source,
        });
    }
}

/// The source thread: numbers and sends items until the source ends, the
/// run stops, or the first stage has gone away.
fn pull_source<T>(
    mut items: impl Iterator<Item = T>,
    output: SyncSender<Packet<T>>,
    run: &RunState,
) {
    let mut tally = Tally::default();
    let mut seq = 0u64;
    while !run.is_stopped() {
        let started = Instant::now();
        let next = panic::catch_unwind(AssertUnwindSafe(|| items.next()));
        tally.busy += started.elapsed();
        let item = match next {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(payload) => {
                run.fail(PipelineError::SourcePanicked {
                    item: seq,
                    message: panic_message(payload.as_ref()),
                });
                break;
            }
        };
        tally.items_out += 1;
        let started = Instant::now();
        let sent = output.send((seq, item));
        tally.waiting_for_output += started.elapsed();
        if sent.is_err() {
            break;
        }
        seq += 1;
    }
    lock(&run.source).add(&tally);
}

/// One worker of stage `index`: takes items from the shared input queue, runs
/// `f`, and sends the result on, until the input closes, the run stops or the
/// next stage has gone away.
fn run_stage_worker<T, U, E, F>(
    index: usize,
    f: &F,
    input: &Mutex<Receiver<Packet<T>>>,
    output: SyncSender<Packet<U>>,
    run: &RunState,
) where
    E: Into<StageError>,
    F: Fn(T) -> Result<U, E>,
{
    let mut tally = Tally::default();
    while !run.is_stopped() {
        let started = Instant::now();
        let received = lock(input).recv();
        tally.waiting_for_input += started.elapsed();
        let Ok((seq, item)) = received else { break };
        if run.is_stopped() {
            break;
        }
        tally.items_in += 1;
        let started = Instant::now();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| f(item)));
        tally.busy += started.elapsed();
        let result = match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(error)) => {
                run.fail(PipelineError::StageFailed {
                    stage: run.stage_names[index].clone(),
                    stage_index: index,
                    item: seq,
                    source: error.into(),
                });
                break;
            }
            Err(payload) => {
                run.fail(PipelineError::StagePanicked {
                    stage: run.stage_names[index].clone(),
                    stage_index: index,
                    item: seq,
                    message: panic_message(payload.as_ref()),
                });
                break;
            }
        };
        let started = Instant::now();
        let sent = output.send((seq, result));
        tally.waiting_for_output += started.elapsed();
        if sent.is_err() {
            break;
        }
        tally.items_out += 1;
    }
    lock(&run.stages[index]).add(&tally);
}

/// Puts numbered items back in sequence order: items that arrive early wait
/// until every item before them has been emitted.
struct Reorder<T> {
    next: u64,
    waiting: BTreeMap<u64, T>,
}

impl<T> Reorder<T> {
    fn new() -> Self {
        Reorder {
            next: 0,
            waiting: BTreeMap::new(),
        }
    }

    fn push(&mut self, seq: u64, item: T, emit: &mut impl FnMut(T)) {
        if seq != self.next {
            self.waiting.insert(seq, item);
            return;
        }
        emit(item);
        self.next += 1;
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            emit(entry.remove());
            self.next += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorder_emits_in_sequence() {
        let mut out = Vec::new();
        let mut reorder = Reorder::new();
        for seq in [2, 0, 3, 1, 5, 4] {
            reorder.push(seq, seq * 10, &mut |x| out.push(x));
        }
        assert_eq!(out, [0, 10, 20, 30, 40, 50]);
        assert!(reorder.is_empty());
    }

    #[test]
    fn reorder_holds_items_after_a_gap() {
        let mut out = Vec::new();
        let mut reorder = Reorder::new();
        for seq in [1, 2, 3] {
            reorder.push(seq, seq, &mut |x| out.push(x));
        }
        assert!(out.is_empty());
        assert!(!reorder.is_empty());
    }

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
