//! The workers a scheduler places tasks on: what each offers, which are
//! present, and how many tasks each has queued.
//!
//! Workers are numbered in the order they join and a number is never used
//! twice, so a report from a worker that left can always be told apart
//! from one by a worker that joined later.

use std::sync::Arc;

#[cfg(doc)]
use super::Scheduler;
use crate::WorkerId;

/// What a worker offers: threads, memory and named resources such as
/// `gpu=1`.
///
/// ```
/// use flotilla_core::WorkerOffer;
/// let offer = WorkerOffer::new(8).memory(16 << 30).resource("gpu", 1);
/// assert_eq!(offer.threads(), 8);
/// assert_eq!(offer.memory_bytes(), Some(16 << 30));
/// assert_eq!(offer.resource_amount("gpu"), 1);
/// assert_eq!(offer.resource_amount("tpu"), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOffer {
    threads: u32,
    memory: Option<u64>,
    resources: Vec<(Arc<str>, u64)>,
    /// Folders on the worker's own disks.
    local_data: Vec<Arc<str>>,
}

impl Default for WorkerOffer {
    /// One thread, unknown memory, no resources.
    fn default() -> WorkerOffer {
        WorkerOffer::new(1)
    }
}

impl WorkerOffer {
    /// A worker with `threads` threads (at least 1), unknown memory and no
    /// named resources.
    ///
    /// ```
    /// assert_eq!(flotilla_core::WorkerOffer::new(0).threads(), 1);
    /// ```
    pub fn new(threads: u32) -> WorkerOffer {
        WorkerOffer {
            threads: threads.max(1),
            memory: None,
            resources: Vec::new(),
            local_data: Vec::new(),
        }
    }

    /// The memory the worker may use, in bytes.
    ///
    /// ```
    /// let o = flotilla_core::WorkerOffer::new(1).memory(1 << 20);
    /// assert_eq!(o.memory_bytes(), Some(1 << 20));
    /// ```
    pub fn memory(mut self, bytes: u64) -> WorkerOffer {
        self.memory = Some(bytes);
        self
    }

    /// `amount` units of the resource `name` (`gpu`, `ssd`, ...); naming a
    /// resource again replaces its amount.
    ///
    /// ```
    /// let o = flotilla_core::WorkerOffer::new(1).resource("gpu", 1).resource("gpu", 2);
    /// assert_eq!(o.resource_amount("gpu"), 2);
    /// ```
    pub fn resource(mut self, name: &str, amount: u64) -> WorkerOffer {
        match self.resources.iter_mut().find(|(n, _)| &**n == name) {
            Some(r) => r.1 = amount,
            None => self.resources.push((name.into(), amount)),
        }
        self
    }

    /// Its threads.
    ///
    /// ```
    /// assert_eq!(flotilla_core::WorkerOffer::new(4).threads(), 4);
    /// ```
    pub fn threads(&self) -> u32 {
        self.threads
    }

    /// Its memory in bytes, when known.
    ///
    /// ```
    /// assert_eq!(flotilla_core::WorkerOffer::new(4).memory_bytes(), None);
    /// ```
    pub fn memory_bytes(&self) -> Option<u64> {
        self.memory
    }

    /// How much of resource `name` it offers (0 when none).
    ///
    /// ```
    /// assert_eq!(flotilla_core::WorkerOffer::new(1).resource_amount("gpu"), 0);
    /// ```
    pub fn resource_amount(&self, name: &str) -> u64 {
        self.resources
            .iter()
            .find(|(n, _)| &**n == name)
            .map_or(0, |r| r.1)
    }

    /// Its named resources and their amounts, in the order given.
    ///
    /// ```
    /// let o = flotilla_core::WorkerOffer::new(1).resource("gpu", 2);
    /// assert_eq!(o.resources().collect::<Vec<_>>(), [("gpu", 2)]);
    /// ```
    pub fn resources(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.resources.iter().map(|(n, a)| (&**n, *a))
    }

    /// A folder on the worker's own disks: a task that reads a file under
    /// it ([`Scheduler::reads`]) is placed on this worker when it can be.
    /// Paths are compared as given, a component at a time, so give both
    /// absolute and in the same form.
    ///
    /// ```
    /// let o = flotilla_core::WorkerOffer::new(1).local_data("/data/disk1");
    /// assert!(o.holds_locally("/data/disk1/part-0.csv"));
    /// assert!(!o.holds_locally("/data/disk10/part-0.csv"));
    /// assert!(!o.holds_locally("/shared/part-0.csv"));
    /// ```
    pub fn local_data(mut self, folder: &str) -> WorkerOffer {
        let folder = folder.trim_end_matches('/');
        // The root itself would be trimmed to nothing: keep it as "/".
        self.local_data
            .push(if folder.is_empty() { "/" } else { folder }.into());
        self
    }

    /// Whether `path` lies under one of the worker's [local
    /// folders](WorkerOffer::local_data).
    ///
    /// ```
    /// let o = flotilla_core::WorkerOffer::new(1).local_data("/");
    /// assert!(o.holds_locally("/any/file"));
    /// assert!(!flotilla_core::WorkerOffer::new(1).holds_locally("/any/file"));
    /// ```
    pub fn holds_locally(&self, path: &str) -> bool {
        self.local_data.iter().any(|folder| {
            &**folder == "/"
                || path
                    .strip_prefix(&**folder)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// Its local folders, in the order given.
    ///
    /// ```
    /// let o = flotilla_core::WorkerOffer::new(1).local_data("/data/");
    /// assert_eq!(o.local_folders().collect::<Vec<_>>(), ["/data"]);
    /// ```
    pub fn local_folders(&self) -> impl Iterator<Item = &str> + '_ {
        self.local_data.iter().map(|f| &**f)
    }
}

/// Every worker that ever joined: its offer, whether it is present, and
/// how many tasks are queued on it (placed there and not yet ended).
#[derive(Debug, Clone, Default)]
pub(super) struct WorkerTable {
    offers: Vec<WorkerOffer>,
    present: Vec<bool>,
    queued: Vec<u32>,
    /// Bytes of results each worker's finished attempts reported.
    produced: Vec<u64>,
}

impl WorkerTable {
    pub(super) fn join(&mut self, offer: WorkerOffer) -> WorkerId {
        let id = WorkerId::new(self.offers.len() as u32);
        self.offers.push(offer);
        self.present.push(true);
        self.queued.push(0);
        self.produced.push(0);
        id
    }

    /// Marks `worker` gone; false when it was not present.
    pub(super) fn leave(&mut self, worker: WorkerId) -> bool {
        match self.present.get_mut(worker.index()) {
            Some(p) if *p => {
                *p = false;
                self.queued[worker.index()] = 0;
                true
            }
            _ => false,
        }
    }

    #[inline]
    pub(super) fn is_present(&self, worker: WorkerId) -> bool {
        self.present.get(worker.index()).copied().unwrap_or(false)
    }

    /// How many workers ever joined.
    pub(super) fn len(&self) -> usize {
        self.offers.len()
    }

    pub(super) fn offer(&self, worker: WorkerId) -> Option<&WorkerOffer> {
        self.offers.get(worker.index())
    }

    pub(super) fn present(&self) -> impl Iterator<Item = WorkerId> + '_ {
        self.present
            .iter()
            .enumerate()
            .filter(|(_, p)| **p)
            .map(|(i, _)| WorkerId::new(i as u32))
    }

    /// The present worker `eligible` accepts with the fewest tasks queued
    /// (the lowest id among equals).
    pub(super) fn least_queued(&self, eligible: impl Fn(WorkerId) -> bool) -> Option<WorkerId> {
        self.present()
            .filter(|&w| eligible(w))
            .min_by_key(|&w| (self.queued(w), w))
    }

    #[inline]
    pub(super) fn queue(&mut self, worker: u32) {
        if let Some(q) = self.queued.get_mut(worker as usize) {
            *q += 1;
        }
    }

    #[inline]
    pub(super) fn unqueue(&mut self, worker: u32) {
        if let Some(q) = self.queued.get_mut(worker as usize) {
            *q = q.saturating_sub(1);
        }
    }

    pub(super) fn queued(&self, worker: WorkerId) -> usize {
        self.queued.get(worker.index()).map_or(0, |q| *q as usize)
    }

    #[inline]
    pub(super) fn produced(&mut self, worker: WorkerId, bytes: u64) {
        if let Some(p) = self.produced.get_mut(worker.index()) {
            *p += bytes;
        }
    }

    pub(super) fn bytes_produced(&self, worker: WorkerId) -> u64 {
        self.produced.get(worker.index()).copied().unwrap_or(0)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.offers.capacity() * std::mem::size_of::<WorkerOffer>()
            + self.present.capacity()
            + self.queued.capacity() * 4
            + self.produced.capacity() * 8
    }
}

impl super::Scheduler {
    /// A worker joins with what it `offer`s and gets the next unused
    /// [`WorkerId`]. Ready tasks that found no worker are placed now.
    ///
    /// ```
    /// use flotilla_core::{Command, Placement, Scheduler, TaskGraph, TaskKey, WorkerOffer};
    /// let mut g = TaskGraph::new();
    /// g.add_task(TaskKey::new("a"), &[]).unwrap();
    /// let mut s = Scheduler::new(g, Placement::WorkStealing, 0);
    /// let mut out = Vec::new();
    /// s.start(&mut out);
    /// assert!(out.is_empty(), "no worker yet: the task waits");
    /// let w = s.add_worker(WorkerOffer::new(4).resource("gpu", 1), &mut out);
    /// assert!(matches!(out[0], Command::Run { .. }));
    /// assert_eq!(s.worker_offer(w).unwrap().resource_amount("gpu"), 1);
    /// ```
    pub fn add_worker(&mut self, offer: WorkerOffer, out: &mut impl super::Actions) -> WorkerId {
        let id = self.workers.join(offer);
        self.placer.add_worker(id);
        let mut parked = std::mem::take(&mut self.parked);
        self.sort_by_priority(&mut parked);
        for task in parked {
            let i = task.index();
            if self.state[i] == super::TaskState::Ready && self.site[i] == super::NO_WORKER {
                self.make_ready(task, None, out);
            }
        }
        id
    }

    /// The workers present, by id.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, WorkerId};
    /// let s = Scheduler::new(TaskGraph::new(), Placement::Block, 2);
    /// assert_eq!(s.workers().collect::<Vec<_>>(), [WorkerId::new(0), WorkerId::new(1)]);
    /// ```
    pub fn workers(&self) -> impl Iterator<Item = WorkerId> + '_ {
        self.workers.present()
    }

    /// Whether `worker` is present (joined and not left).
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, WorkerId};
    /// let s = Scheduler::new(TaskGraph::new(), Placement::Block, 1);
    /// assert!(s.is_present(WorkerId::new(0)));
    /// assert!(!s.is_present(WorkerId::new(1)));
    /// ```
    pub fn is_present(&self, worker: WorkerId) -> bool {
        self.workers.is_present(worker)
    }

    /// What `worker` offered when it joined (also after it left).
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, WorkerId};
    /// let s = Scheduler::new(TaskGraph::new(), Placement::Block, 1);
    /// assert_eq!(s.worker_offer(WorkerId::new(0)).unwrap().threads(), 1);
    /// assert!(s.worker_offer(WorkerId::new(3)).is_none());
    /// ```
    pub fn worker_offer(&self, worker: WorkerId) -> Option<&WorkerOffer> {
        self.workers.offer(worker)
    }

    /// How many tasks are queued on `worker`: placed there (or running
    /// there) and not yet ended. Tasks in the shared queue count for no
    /// worker.
    ///
    /// ```
    /// use flotilla_core::{Placement, Scheduler, TaskGraph, TaskKey, WorkerId};
    /// let mut g = TaskGraph::new();
    /// for i in 0..3 { g.add_task(TaskKey::indexed("t", i), &[]).unwrap(); }
    /// let mut s = Scheduler::new(g, Placement::RoundRobin, 2);
    /// s.start(&mut Vec::new());
    /// assert_eq!(s.queued_on(WorkerId::new(0)), 2);
    /// assert_eq!(s.queued_on(WorkerId::new(1)), 1);
    /// ```
    pub fn queued_on(&self, worker: WorkerId) -> usize {
        self.workers.queued(worker)
    }
}
