//! The I/O pool's threads: started on demand, retired after a keep-alive.
//!
//! All state sits behind one mutex (`State`); idle threads wait on the
//! `work` condition variable and the shutdown waits on `exited`. Two queues
//! hold the jobs nobody has taken yet:
//!
//! * **blocking** jobs (`submit`, `map`), each of which may hold its thread
//!   for as long as its call blocks;
//! * **poll** jobs (one poll of an async task), which never block and are
//!   taken first.
//!
//! # When a thread starts
//!
//! After every submission the pool compares *demand* — the queued blocking
//! jobs, plus one if poll jobs are queued and no thread is polling — with
//! *supply* — the idle threads plus those still starting. When demand is
//! larger (and the maximum is not reached) one more thread starts. So every
//! blocking job gets a thread of its own at once (up to the maximum), while a
//! burst of thousands of polls is served by the one or two threads that are
//! polling already: a poll takes microseconds, a thread takes tens of them to
//! start.
//!
//! # Thread life cycle
//!
//! ```text
//!  spawn ──► starting ──► running a job ◄──────┐
//!                              │                │ a job was queued
//!                              ▼                │
//!                            idle ──────────────┘
//!                              │ keep-alive ran out with no job queued,
//!                              ▼ or the pool shut down
//!                           exited (handle kept until someone joins it)
//! ```
//!
//! Threads are spawned outside the lock, so a thread may exit before its
//! spawner has stored its join handle; the `orphans` set settles that race.
//! A thread that exits joins those that exited before it and leaves its own
//! handle in `retired` for the next one (or the next spawner, or the
//! shutdown): at most one exited thread waits unjoined.

use std::cell::Cell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A unit of work for the pool. Jobs catch the panics of user code
/// themselves; the pool's own guard only keeps a thread alive should one
/// slip through.
pub(super) type Job = Box<dyn FnOnce() + Send + 'static>;

/// What kind of job is queued: see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JobKind {
    /// May block its thread for as long as it likes.
    Blocking,
    /// One poll of an async task: short, never blocks.
    Poll,
}

thread_local! {
    /// The address of the `Threads` this thread belongs to (0: none).
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// The threads of one I/O pool and the jobs waiting for them.
pub(super) struct Threads {
    state: Mutex<State>,
    /// Idle threads wait here for a job or the shutdown.
    work: Condvar,
    /// The shutdown waits here for threads to exit or to get their handle.
    exited: Condvar,
    name: String,
    max_threads: usize,
    keep_alive: Duration,
}

struct State {
    blocking: VecDeque<Job>,
    polls: VecDeque<Job>,
    /// Threads started and not yet exited (including those starting).
    alive: usize,
    /// Threads spawned that have not yet taken the lock once.
    starting: usize,
    /// Threads waiting for a job.
    idle: usize,
    /// Threads running a poll job.
    polling: usize,
    /// The most threads alive at once.
    peak: usize,
    shutting_down: bool,
    next_id: u64,
    handles: HashMap<u64, JoinHandle<()>>,
    /// Handles of threads that have exited, to be joined.
    retired: Vec<JoinHandle<()>>,
    /// Threads that exited before their handle was stored.
    orphans: HashSet<u64>,
}

impl State {
    /// Whether the queued work needs more threads than will soon be free.
    fn needs_thread(&self, max_threads: usize) -> bool {
        let demand = self.blocking.len() + usize::from(!self.polls.is_empty() && self.polling == 0);
        let supply = self.idle + self.starting;
        demand > supply && self.alive < max_threads
    }

    fn pop(&mut self) -> Option<(Job, JobKind)> {
        if let Some(job) = self.polls.pop_front() {
            return Some((job, JobKind::Poll));
        }
        self.blocking
            .pop_front()
            .map(|job| (job, JobKind::Blocking))
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn wait<'a>(cv: &Condvar, g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    match cv.wait(g) {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn wait_timeout<'a>(cv: &Condvar, g: MutexGuard<'a, State>, d: Duration) -> MutexGuard<'a, State> {
    match cv.wait_timeout(g, d) {
        Ok((g, _)) => g,
        Err(p) => p.into_inner().0,
    }
}

/// Runs a job under a guard: no panic reaches the thread's loop.
fn run(job: Job) {
    let _ = catch_unwind(AssertUnwindSafe(job));
}

impl fmt::Debug for Threads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Threads")
            .field("name", &self.name)
            .field("alive", &st.alive)
            .field("idle", &st.idle)
            .field("queued", &(st.blocking.len() + st.polls.len()))
            .field("max_threads", &self.max_threads)
            .field("keep_alive", &self.keep_alive)
            .finish()
    }
}

impl Threads {
    pub(super) fn new(name: String, max_threads: usize, keep_alive: Duration) -> Threads {
        Threads {
            state: Mutex::new(State {
                blocking: VecDeque::new(),
                polls: VecDeque::new(),
                alive: 0,
                starting: 0,
                idle: 0,
                polling: 0,
                peak: 0,
                shutting_down: false,
                next_id: 0,
                handles: HashMap::new(),
                retired: Vec::new(),
                orphans: HashSet::new(),
            }),
            work: Condvar::new(),
            exited: Condvar::new(),
            name,
            max_threads: max_threads.max(1),
            keep_alive,
        }
    }

    pub(super) fn max_threads(&self) -> usize {
        self.max_threads
    }

    pub(super) fn keep_alive(&self) -> Duration {
        self.keep_alive
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn alive(&self) -> usize {
        lock(&self.state).alive
    }

    pub(super) fn peak(&self) -> usize {
        lock(&self.state).peak
    }

    pub(super) fn queued(&self) -> usize {
        let st = lock(&self.state);
        st.blocking.len() + st.polls.len()
    }

    /// Queues `job`, waking an idle thread or starting a new one. After the
    /// shutdown the job is dropped instead (outside the lock), which fails
    /// its future with `PoolShutDown`.
    pub(super) fn submit(self: &Arc<Self>, job: Job, kind: JobKind) {
        let mut st = lock(&self.state);
        if st.shutting_down {
            drop(st);
            drop(job);
            return;
        }
        match kind {
            JobKind::Blocking => st.blocking.push_back(job),
            JobKind::Poll => st.polls.push_back(job),
        }
        if st.idle > 0 {
            self.work.notify_one();
        }
        if !st.needs_thread(self.max_threads) {
            return;
        }
        st.alive += 1;
        st.starting += 1;
        st.peak = st.peak.max(st.alive);
        let id = st.next_id;
        st.next_id += 1;
        let finished = std::mem::take(&mut st.retired);
        drop(st);
        for h in finished {
            let _ = h.join();
        }
        self.start_thread(id);
    }

    fn start_thread(self: &Arc<Self>, id: u64) {
        let threads = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(format!("{}-{id}", self.name))
            .spawn(move || worker_main(threads, id));
        let mut st = lock(&self.state);
        match spawned {
            Ok(handle) => {
                if st.orphans.remove(&id) {
                    st.retired.push(handle);
                } else {
                    st.handles.insert(id, handle);
                }
                if st.shutting_down {
                    self.exited.notify_all();
                }
            }
            Err(_) => {
                st.alive -= 1;
                st.starting -= 1;
                self.exited.notify_all();
                // With no thread at all, nobody would ever run what is
                // queued: run one job here rather than strand it. (Every
                // submission that finds no thread comes through here.)
                let stranded = if st.alive == 0 && !st.shutting_down {
                    st.pop()
                } else {
                    None
                };
                drop(st);
                if let Some((job, _)) = stranded {
                    run(job);
                }
            }
        }
    }

    /// Stops taking jobs, drops the queued ones (outside the lock), lets the
    /// running ones finish, and joins every thread — except the calling
    /// thread itself when the pool is dropped from one of its own jobs.
    pub(super) fn shut_down(&self) {
        let on_own_thread = CURRENT.with(Cell::get) == std::ptr::from_ref(self) as usize;
        let me = std::thread::current().id();
        let (blocking, polls) = {
            let mut st = lock(&self.state);
            st.shutting_down = true;
            self.work.notify_all();
            (
                std::mem::take(&mut st.blocking),
                std::mem::take(&mut st.polls),
            )
        };
        drop(blocking);
        drop(polls);
        let floor = usize::from(on_own_thread);
        let mut st = lock(&self.state);
        loop {
            let mut handles: Vec<JoinHandle<()>> = st.handles.drain().map(|(_, h)| h).collect();
            handles.append(&mut st.retired);
            if handles.is_empty() {
                if st.alive <= floor {
                    break;
                }
                st = wait(&self.exited, st);
                continue;
            }
            drop(st);
            for h in handles {
                // A thread cannot join itself; its own handle is just dropped.
                if h.thread().id() != me {
                    let _ = h.join();
                }
            }
            st = lock(&self.state);
        }
    }
}

fn worker_main(threads: Arc<Threads>, id: u64) {
    CURRENT.with(|c| c.set(Arc::as_ptr(&threads) as usize));
    let mut st = lock(&threads.state);
    st.starting -= 1;
    loop {
        if let Some((job, kind)) = st.pop() {
            if kind == JobKind::Poll {
                st.polling += 1;
            }
            drop(st);
            run(job);
            st = lock(&threads.state);
            if kind == JobKind::Poll {
                st.polling -= 1;
            }
            continue;
        }
        if st.shutting_down {
            break;
        }
        // Idle: wait for a job until the keep-alive runs out.
        let idle_until = Instant::now().checked_add(threads.keep_alive);
        st.idle += 1;
        let mut expired = false;
        loop {
            match idle_until {
                None => st = wait(&threads.work, st),
                Some(until) => {
                    let now = Instant::now();
                    if now >= until {
                        expired = true;
                        break;
                    }
                    st = wait_timeout(&threads.work, st, until - now);
                }
            }
            if !st.blocking.is_empty() || !st.polls.is_empty() || st.shutting_down {
                break;
            }
        }
        st.idle -= 1;
        if expired && st.blocking.is_empty() && st.polls.is_empty() {
            break;
        }
    }
    st.alive -= 1;
    // Join the threads that exited before this one, and leave this one's
    // handle to the next: so at most one exited thread waits to be joined.
    let earlier = std::mem::take(&mut st.retired);
    match st.handles.remove(&id) {
        Some(handle) => st.retired.push(handle),
        None => {
            st.orphans.insert(id);
        }
    }
    threads.exited.notify_all();
    drop(st);
    CURRENT.with(|c| c.set(0));
    for h in earlier {
        let _ = h.join();
    }
}
