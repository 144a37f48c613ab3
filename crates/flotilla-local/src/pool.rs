//! The thread pool: worker threads, their queues, and stealing.
//!
//! Every worker owns three queues, and the pool has one more:
//!
//! * a **local deque** (crossbeam `Worker`, LIFO for its owner): jobs the
//!   worker itself made ready or submitted — the hot path of nested work;
//! * an **inbox** (`Injector`): stealable jobs that the placement dealt to
//!   this worker from outside;
//! * a **pinned queue** (`Injector`): jobs that a static policy gave to this
//!   worker and that no other worker may take;
//! * the pool's **shared queue** (`Injector`): the central queue policy.
//!
//! A worker looks in its local deque, its pinned queue, its inbox and the
//! shared queue, then steals the oldest job of the worker that the core's
//! `balance::steal_victim` names (the most loaded; the simulator decides
//! the same way), counting each steal. Where a job goes is
//! a [`Target`] decided by the scheduler core's placer; this file only
//! carries the decision out.
//!
//! Each worker keeps its counters (busy time, jobs run, jobs stolen) in its
//! own cache line; [`Pool::stats`] reads them without stopping anyone.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::CachePadded;
use flotilla_core::balance::steal_victim;
use flotilla_core::{Placement, Placer, Target, WorkerId, WorkerStats};

use crate::recording::{tag_current_job, Recording, Tag};
use crate::sleep::Sleep;

/// A unit of work queued on the pool. Jobs never unwind into the worker:
/// whoever builds one catches the panics of user code inside it.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Debug, Default)]
#[repr(align(128))]
struct Counters {
    busy_ns: AtomicU64,
    tasks: AtomicU64,
    stolen: AtomicU64,
}

static NEXT_POOL_ID: AtomicUsize = AtomicUsize::new(1);

pub(crate) struct Shared {
    id: usize,
    shared_queue: Injector<Job>,
    inboxes: Vec<Injector<Job>>,
    pinned: Vec<Injector<Job>>,
    stealers: Vec<Stealer<Job>>,
    counters: Vec<Counters>,
    // The fields written while jobs flow (by submitters, or by workers
    // going to sleep) each sit on a cache line of their own: sharing one
    // with the fields every worker reads per job (the queues' addresses,
    // the pool's id) made each submission wait for that line.
    sleep: CachePadded<Sleep>,
    shutdown: AtomicBool,
    dealt: CachePadded<AtomicUsize>,
    placement: Placement,
    placer: CachePadded<Mutex<Placer>>,
    name: String,
    /// What the threads ran, made when first asked for (see `recording`).
    recording: OnceLock<Arc<Recording>>,
    /// Recorders alive: jobs are recorded while this is above zero.
    recorders: AtomicUsize,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name)
            .field("workers", &self.inboxes.len())
            .finish()
    }
}

impl Shared {
    /// The queues of a pool of `threads` workers, and each worker's own
    /// deque (which its thread takes).
    fn new(name: &str, threads: usize, placement: Placement) -> (Arc<Shared>, Vec<Worker<Job>>) {
        let deques: Vec<Worker<Job>> = (0..threads).map(|_| Worker::new_lifo()).collect();
        let shared = Arc::new(Shared {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            shared_queue: Injector::new(),
            inboxes: (0..threads).map(|_| Injector::new()).collect(),
            pinned: (0..threads).map(|_| Injector::new()).collect(),
            stealers: deques.iter().map(Worker::stealer).collect(),
            counters: (0..threads).map(|_| Counters::default()).collect(),
            sleep: CachePadded::new(Sleep::default()),
            shutdown: AtomicBool::new(false),
            dealt: CachePadded::new(AtomicUsize::new(0)),
            placement,
            placer: CachePadded::new(Mutex::new(Placer::new(placement, threads, usize::MAX / 2))),
            name: name.to_string(),
            recording: OnceLock::new(),
            recorders: AtomicUsize::new(0),
        });
        (shared, deques)
    }
}

struct Local {
    shared: Arc<Shared>,
    index: usize,
    deque: Worker<Job>,
    /// Scratch for the stealable load of each worker.
    loads: RefCell<Vec<usize>>,
}

impl Local {
    fn new(shared: Arc<Shared>, index: usize, deque: Worker<Job>) -> Local {
        Local {
            shared,
            index,
            deque,
            loads: RefCell::new(Vec::new()),
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

/// The pool that owns the threads: dropping it shuts the workers down and
/// joins them. Cheap handles to the queues are [`PoolHandle`]s.
#[derive(Debug)]
pub(crate) struct Pool {
    handle: PoolHandle,
    threads: Vec<JoinHandle<()>>,
}

/// A cloneable reference to a pool's queues.
#[derive(Debug, Clone)]
pub(crate) struct PoolHandle {
    shared: Arc<Shared>,
}

impl Pool {
    pub(crate) fn new(name: &str, threads: usize, placement: Placement) -> std::io::Result<Pool> {
        let threads = threads.max(1);
        let (shared, deques) = Shared::new(name, threads, placement);
        let mut handles = Vec::with_capacity(threads);
        for (index, deque) in deques.into_iter().enumerate() {
            let for_worker = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || worker_main(Local::new(for_worker, index, deque)));
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    let pool = Pool {
                        handle: PoolHandle { shared },
                        threads: handles,
                    };
                    drop(pool);
                    return Err(e);
                }
            }
        }
        Ok(Pool {
            handle: PoolHandle { shared },
            threads: handles,
        })
    }

    pub(crate) fn handle(&self) -> &PoolHandle {
        &self.handle
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.handle.shared.shutdown.store(true, Ordering::SeqCst);
        self.handle.shared.sleep.notify_all();
        let me = std::thread::current().id();
        for t in self.threads.drain(..) {
            // A pool dropped from one of its own workers cannot join itself.
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}

fn worker_main(local: Local) {
    let local = Rc::new(local);
    CURRENT.with(|c| *c.borrow_mut() = Some(Rc::clone(&local)));
    let shared = Arc::clone(&local.shared);
    loop {
        if let Some((job, stolen)) = find_job(&local) {
            run_job(&shared, local.index, job, stolen);
            continue;
        }
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let mut found = None;
        for _ in 0..32 {
            std::thread::yield_now();
            found = find_job(&local);
            if found.is_some() {
                break;
            }
        }
        match found {
            Some((job, stolen)) => run_job(&shared, local.index, job, stolen),
            None => shared.sleep.sleep(
                || has_job_for(&local),
                || shared.shutdown.load(Ordering::SeqCst),
            ),
        }
    }
    CURRENT.with(|c| *c.borrow_mut() = None);
}

thread_local! {
    /// When the job running on this thread started, and whether it was
    /// stolen; taken by whoever records the job's accounting first.
    static JOB: Cell<Option<(Instant, bool)>> = const { Cell::new(None) };
}

#[inline]
fn run_job(shared: &Shared, index: usize, job: Job, stolen: bool) {
    let began = Instant::now();
    let outer = JOB.replace(Some((began, stolen)));
    // Jobs catch user panics themselves; this guard keeps a worker alive even
    // if a bug in flotilla's own job code panics.
    let _ = catch_unwind(AssertUnwindSafe(job));
    if let Some((start, stolen)) = JOB.take() {
        let _ = record(shared, index, start, stolen);
    }
    // A job run while another waited (helping) is not the outer job's busy
    // time: move the outer job's start forward by this one's duration.
    JOB.set(outer.map(|(start, stolen)| (start + began.elapsed(), stolen)));
}

fn record(shared: &Shared, index: usize, start: Instant, stolen: bool) -> Duration {
    let c = &shared.counters[index];
    let took = start.elapsed();
    c.busy_ns
        .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    c.tasks.fetch_add(1, Ordering::Relaxed);
    if stolen {
        c.stolen.fetch_add(1, Ordering::Relaxed);
    }
    if shared.recorders.load(Ordering::Relaxed) > 0 {
        if let Some(recording) = shared.recording.get() {
            recording.push(index, start, took, stolen);
        }
    }
    took
}

/// Records the running job's busy time and counts now, before it publishes
/// its result, so that whoever sees the result also sees the accounting.
/// Returns how long the job ran (zero off a worker thread).
pub(crate) fn account_current_job() -> Duration {
    match JOB.take() {
        Some((start, stolen)) => CURRENT.with(|c| match c.borrow().as_ref() {
            Some(l) => record(&l.shared, l.index, start, stolen),
            None => Duration::ZERO,
        }),
        None => Duration::ZERO,
    }
}

fn steal_from(q: &Injector<Job>) -> Option<Job> {
    loop {
        match q.steal() {
            Steal::Success(j) => return Some(j),
            Steal::Empty => return None,
            Steal::Retry => continue,
        }
    }
}

fn find_job(local: &Local) -> Option<(Job, bool)> {
    let s = &local.shared;
    let i = local.index;
    if let Some(j) = local.deque.pop() {
        return Some((j, false));
    }
    if let Some(j) = steal_from(&s.pinned[i]).or_else(|| steal_from(&s.inboxes[i])) {
        return Some((j, false));
    }
    if let Some(j) = steal_from(&s.shared_queue) {
        return Some((j, false));
    }
    steal(local)
}

/// Takes the oldest job of the worker that the core's
/// [`steal_victim`] names (the decision the simulator makes too). The
/// victim's queue may empty between the look and the take (its owner
/// started the job): then the thief asks again without that victim.
fn steal(local: &Local) -> Option<(Job, bool)> {
    let s = &local.shared;
    let i = local.index;
    let n = s.inboxes.len();
    if n < 2 {
        return None;
    }
    let mut loads = local.loads.borrow_mut();
    loads.clear();
    loads.extend((0..n).map(|v| {
        if v == i {
            0
        } else {
            s.inboxes[v].len() + s.stealers[v].len()
        }
    }));
    let thief = WorkerId::new(i as u32);
    while let Some(victim) = steal_victim(thief, &loads) {
        let v = victim.index();
        if let Some(j) = steal_from(&s.inboxes[v]) {
            return Some((j, true));
        }
        loop {
            match s.stealers[v].steal() {
                Steal::Success(j) => return Some((j, true)),
                Steal::Empty => break,
                Steal::Retry => continue,
            }
        }
        loads[v] = 0;
    }
    None
}

fn has_job_for(local: &Local) -> bool {
    let s = &local.shared;
    let i = local.index;
    !local.deque.is_empty()
        || !s.pinned[i].is_empty()
        || !s.shared_queue.is_empty()
        || s.inboxes.iter().any(|q| !q.is_empty())
        || s.stealers.iter().any(|q| !q.is_empty())
}

/// Tags the job running on this thread as `tag` says, when this thread is
/// a worker of a pool that is being recorded.
pub(crate) fn tag_current_job_if_recording(tag: impl FnOnce() -> Tag) {
    let recording = CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|l| l.shared.recorders.load(Ordering::Relaxed) > 0)
    });
    if recording {
        tag_current_job(tag());
    }
}

/// The worker index of the calling thread if it is a worker of `handle`'s pool.
fn current_index(shared: &Arc<Shared>) -> Option<usize> {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|l| l.shared.id == shared.id)
            .map(|l| l.index)
    })
}

impl PoolHandle {
    pub(crate) fn workers(&self) -> usize {
        self.shared.inboxes.len()
    }

    pub(crate) fn placement(&self) -> Placement {
        self.shared.placement
    }

    /// The calling thread's worker id, when it is one of this pool's workers.
    pub(crate) fn current_worker(&self) -> Option<WorkerId> {
        current_index(&self.shared).map(|i| WorkerId::new(i as u32))
    }

    /// Queues a job where `target` says. A `Stealable` job for the calling
    /// worker goes to its local deque.
    pub(crate) fn push(&self, job: Job, target: Target) {
        let s = &self.shared;
        let n = s.inboxes.len();
        match target {
            Target::Stealable(w) => {
                let w = w.index() % n;
                let pushed_locally = CURRENT.with(|c| match c.borrow().as_ref() {
                    Some(l) if l.shared.id == s.id && l.index == w => {
                        l.deque.push(job);
                        None
                    }
                    _ => Some(job),
                });
                if let Some(job) = pushed_locally {
                    s.inboxes[w].push(job);
                }
                s.sleep.notify(false);
            }
            Target::Pinned(w) => {
                s.pinned[w.index() % n].push(job);
                s.sleep.notify(true);
            }
            // The shared queue, and any target this pool does not know:
            // every worker takes from it.
            _ => {
                s.shared_queue.push(job);
                s.sleep.notify(false);
            }
        }
    }

    /// Queues a job submitted outside a graph, placed by the pool's policy.
    pub(crate) fn submit(&self, job: Job) {
        let s = &self.shared;
        let target = match s.placement {
            Placement::WorkStealing => {
                let w = match current_index(&self.shared) {
                    Some(i) => i,
                    None => s.dealt.fetch_add(1, Ordering::Relaxed) % s.inboxes.len(),
                };
                Target::Stealable(WorkerId::new(w as u32))
            }
            Placement::CentralQueue => Target::Shared,
            _ => {
                let seq = s.dealt.fetch_add(1, Ordering::Relaxed);
                let placed = match s.placer.lock() {
                    Ok(mut p) => p.place(seq, 1.0, None),
                    Err(p) => p.into_inner().place(seq, 1.0, None),
                };
                // The pool has at least one worker, so a placement exists.
                placed.unwrap_or(Target::Shared)
            }
        };
        self.push(job, target);
    }

    /// The pool's recording, made on first demand.
    pub(crate) fn recording(&self) -> Arc<Recording> {
        let threads = self.workers();
        Arc::clone(
            self.shared
                .recording
                .get_or_init(|| Arc::new(Recording::new(threads))),
        )
    }

    /// The count of the pool's live recorders.
    pub(crate) fn recorders(&self) -> &AtomicUsize {
        &self.shared.recorders
    }

    /// The recording, while someone records this pool.
    pub(crate) fn active_recording(&self) -> Option<&Arc<Recording>> {
        if self.shared.recorders.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.shared.recording.get()
    }

    /// Jobs queued per worker now: its deque, inbox and pinned queue; the
    /// pool's shared queue counts on worker 0.
    #[cfg_attr(not(feature = "dashboard"), allow(dead_code))]
    pub(crate) fn queued(&self) -> Vec<u64> {
        let s = &self.shared;
        (0..s.inboxes.len())
            .map(|i| {
                let shared = if i == 0 { s.shared_queue.len() } else { 0 };
                (s.inboxes[i].len() + s.pinned[i].len() + s.stealers[i].len() + shared) as u64
            })
            .collect()
    }

    /// A snapshot of every worker's counters.
    pub(crate) fn stats(&self) -> Vec<WorkerStats> {
        self.shared
            .counters
            .iter()
            .map(|c| WorkerStats {
                busy: Duration::from_nanos(c.busy_ns.load(Ordering::Relaxed)),
                tasks: c.tasks.load(Ordering::Relaxed),
                stolen: c.stolen.load(Ordering::Relaxed),
                result_bytes: 0,
            })
            .collect()
    }
}

/// Counters accumulated between two snapshots.
pub(crate) fn stats_since(before: &[WorkerStats], after: &[WorkerStats]) -> Vec<WorkerStats> {
    after
        .iter()
        .zip(before)
        .map(|(a, b)| WorkerStats {
            busy: a.busy.saturating_sub(b.busy),
            tasks: a.tasks - b.tasks,
            stolen: a.stolen - b.stolen,
            result_bytes: a.result_bytes.saturating_sub(b.result_bytes),
        })
        .collect()
}

/// Whether the calling thread is a worker of any flotilla pool.
pub(crate) fn is_any_worker_thread() -> bool {
    CURRENT.with(|c| c.borrow().is_some())
}

/// Runs one job of the calling worker's pool, if it is a worker and there is
/// one; returns whether a job ran.
pub(crate) fn help_current() -> bool {
    let local = CURRENT.with(|c| c.borrow().clone());
    match local {
        Some(l) => match find_job(&l) {
            Some((job, stolen)) => {
                run_job(&l.shared, l.index, job, stolen);
                true
            }
            None => false,
        },
        None => false,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// The thief (worker 0) faces queues of 0, 3, 5 and 5 stealable jobs:
    /// worker 1's in its inbox, worker 2's split between inbox and local
    /// deque, worker 3's in its local deque. The simulator's test of the
    /// same name faces the same queues.
    const FIXTURE: [(usize, usize); 4] = [(0, 0), (3, 0), (2, 3), (0, 5)];

    /// The order in which the core's decision empties the fixture.
    fn predicted() -> Vec<usize> {
        let mut loads: Vec<usize> = FIXTURE.iter().map(|(i, l)| i + l).collect();
        let mut order = Vec::new();
        while let Some(v) = steal_victim(WorkerId::new(0), &loads) {
            loads[v.index()] -= 1;
            order.push(v.index());
        }
        order
    }

    #[test]
    fn the_pool_steals_where_the_core_decides() {
        let (shared, mut deques) =
            Shared::new("steal-test", FIXTURE.len(), Placement::WorkStealing);
        let origins = Arc::new(Mutex::new(Vec::new()));
        let job = |v: usize| -> Job {
            let origins = Arc::clone(&origins);
            Box::new(move || origins.lock().unwrap().push(v))
        };
        for (v, &(inbox, local)) in FIXTURE.iter().enumerate() {
            for _ in 0..inbox {
                shared.inboxes[v].push(job(v));
            }
            for _ in 0..local {
                deques[v].push(job(v));
            }
        }
        let thief = Local::new(Arc::clone(&shared), 0, deques.remove(0));
        while let Some((job, stolen)) = steal(&thief) {
            assert!(stolen);
            job();
        }
        assert_eq!(*origins.lock().unwrap(), predicted());
        assert_eq!(predicted().len(), 13);
    }
}
