//! Placement policies: which worker's queue a ready task goes to.
//!
//! The course this project comes from compares static and dynamic load
//! balancing; flotilla makes each strategy a [`Placement`] chosen per run, so
//! that the same skewed work can be run under each and compared. A
//! [`Placer`] turns a policy into decisions ([`Target`]s). It is pure state —
//! counters, a seeded generator and per-worker queued load — so the
//! in-process runtime, the cluster and the simulator all place tasks the same
//! way.
//!
//! | policy | decision | fails on |
//! |---|---|---|
//! | work stealing | dealt round-robin (or kept on the worker that made it ready); idle workers steal | — |
//! | central queue | one shared queue; idle workers pull | very many tiny tasks (contention) |
//! | round-robin | task *i* to worker *i* mod *n* | periodic costs |
//! | block | *n* contiguous equal blocks | costs that grow along the list |
//! | block-cyclic | blocks of *b* dealt in turn | periodic costs of period *b*·*n* |
//! | random | a uniformly random worker | heavy tails, by luck |
//! | least-loaded of two | the less loaded (by queued cost) of two random workers | unknown costs |

use std::fmt;
use std::str::FromStr;

use crate::rng::Rng;
use crate::WorkerId;

/// A load-balancing strategy, chosen per run.
///
/// ```
/// use flotilla_core::Placement;
/// let p: Placement = "round-robin".parse().unwrap();
/// assert_eq!(p, Placement::RoundRobin);
/// assert_eq!(p.to_string(), "round-robin");
/// assert_eq!("block-cyclic:8".parse::<Placement>().unwrap(), Placement::BlockCyclic { block: 8 });
/// assert!("fastest".parse::<Placement>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Placement {
    /// Tasks queue on a worker; an idle worker steals from a busy one (default).
    #[default]
    WorkStealing,
    /// One shared queue that idle workers pull from.
    CentralQueue,
    /// Task *i* goes to worker *i* mod *n*; no stealing.
    RoundRobin,
    /// The tasks are cut into *n* contiguous blocks of equal count; no stealing.
    Block,
    /// Blocks of `block` tasks dealt to the workers in turn; no stealing.
    BlockCyclic {
        /// Tasks per block (at least 1).
        block: usize,
    },
    /// A uniformly random worker for each task (seeded); no stealing.
    Random {
        /// Seed of the choices.
        seed: u64,
    },
    /// The less loaded, by queued cost, of two random workers; no stealing.
    LeastLoadedOfTwo {
        /// Seed of the choices.
        seed: u64,
    },
}

impl Placement {
    /// Every policy, with default parameters, in the order reports list them.
    ///
    /// ```
    /// assert_eq!(flotilla_core::Placement::ALL.len(), 7);
    /// ```
    pub const ALL: [Placement; 7] = [
        Placement::WorkStealing,
        Placement::CentralQueue,
        Placement::RoundRobin,
        Placement::Block,
        Placement::BlockCyclic { block: 4 },
        Placement::Random { seed: 1 },
        Placement::LeastLoadedOfTwo { seed: 1 },
    ];

    /// The policy's short name, as accepted by `--policy`.
    ///
    /// ```
    /// assert_eq!(flotilla_core::Placement::CentralQueue.name(), "central-queue");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Placement::WorkStealing => "work-stealing",
            Placement::CentralQueue => "central-queue",
            Placement::RoundRobin => "round-robin",
            Placement::Block => "block",
            Placement::BlockCyclic { .. } => "block-cyclic",
            Placement::Random { .. } => "random",
            Placement::LeastLoadedOfTwo { .. } => "least-loaded-of-two",
        }
    }

    /// Whether idle workers may take tasks queued on other workers.
    ///
    /// ```
    /// use flotilla_core::Placement;
    /// assert!(Placement::WorkStealing.is_dynamic());
    /// assert!(Placement::CentralQueue.is_dynamic());
    /// assert!(!Placement::Block.is_dynamic());
    /// ```
    pub fn is_dynamic(&self) -> bool {
        matches!(self, Placement::WorkStealing | Placement::CentralQueue)
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing a [`Placement`] name.
///
/// ```
/// let e = "nope".parse::<flotilla_core::Placement>().unwrap_err();
/// assert!(e.to_string().contains("work-stealing"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown placement policy {given:?}; expected one of: work-stealing, central-queue, round-robin, block, block-cyclic[:B], random[:SEED], least-loaded-of-two[:SEED]")]
pub struct ParsePlacementError {
    given: String,
}

impl FromStr for Placement {
    type Err = ParsePlacementError;

    fn from_str(s: &str) -> Result<Placement, ParsePlacementError> {
        let err = || ParsePlacementError {
            given: s.to_string(),
        };
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let num = |default: u64| -> Result<u64, ParsePlacementError> {
            match arg {
                None => Ok(default),
                Some(a) => a.parse().map_err(|_| err()),
            }
        };
        let p = match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "work-stealing" | "stealing" | "ws" => Placement::WorkStealing,
            "central-queue" | "central" | "queue" => Placement::CentralQueue,
            "round-robin" | "rr" | "cyclic" => Placement::RoundRobin,
            "block" => Placement::Block,
            "block-cyclic" => {
                let block = num(4)?;
                if block == 0 {
                    return Err(err());
                }
                Placement::BlockCyclic {
                    block: block as usize,
                }
            }
            "random" => Placement::Random { seed: num(1)? },
            "least-loaded-of-two" | "least-loaded" | "two-choices" => {
                Placement::LeastLoadedOfTwo { seed: num(1)? }
            }
            _ => return Err(err()),
        };
        if arg.is_some()
            && !matches!(
                p,
                Placement::BlockCyclic { .. }
                    | Placement::Random { .. }
                    | Placement::LeastLoadedOfTwo { .. }
            )
        {
            return Err(err());
        }
        Ok(p)
    }
}

/// Where a ready task should be queued.
///
/// ```
/// use flotilla_core::{Target, WorkerId};
/// let t = Target::Pinned(WorkerId::new(0));
/// assert_eq!(t.worker(), Some(WorkerId::new(0)));
/// assert_eq!(Target::Shared.worker(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// Queue on this worker; an idle worker may steal it.
    Stealable(WorkerId),
    /// The one shared queue that every worker pulls from.
    Shared,
    /// This worker only.
    Pinned(WorkerId),
}

impl Target {
    /// The worker named by the target, if any.
    ///
    /// ```
    /// use flotilla_core::{Target, WorkerId};
    /// assert_eq!(Target::Stealable(WorkerId::new(1)).worker(), Some(WorkerId::new(1)));
    /// ```
    pub fn worker(&self) -> Option<WorkerId> {
        match *self {
            Target::Stealable(w) | Target::Pinned(w) => Some(w),
            Target::Shared => None,
        }
    }
}

/// Turns a [`Placement`] into a [`Target`] for each task.
///
/// `sequence` is the task's position in the run (its [`TaskId`](crate::TaskId)
/// index in a graph, or its submission number in an executor); static
/// policies decide from it alone, so the same run always places the same way.
///
/// Workers may join and leave ([`Placer::add_worker`],
/// [`Placer::remove_worker`]): policies deal over the workers present, in
/// the order of their ids, and never name a worker that left.
///
/// ```
/// use flotilla_core::{Placement, Placer, Target, WorkerId};
/// let mut p = Placer::new(Placement::Block, 2, 4);
/// let w: Vec<_> = (0..4).map(|i| p.place(i, 1.0, None).unwrap()).collect();
/// assert_eq!(w[1], Target::Pinned(WorkerId::new(0)));
/// assert_eq!(w[2], Target::Pinned(WorkerId::new(1)));
/// ```
#[derive(Debug, Clone)]
pub struct Placer {
    placement: Placement,
    /// The workers present, by id.
    alive: Vec<WorkerId>,
    /// Whether each worker id ever seen is present.
    present: Vec<bool>,
    total_tasks: usize,
    dealt: usize,
    rng: Rng,
    /// Queued cost per worker id (least-loaded-of-two).
    queued_cost: Vec<f64>,
}

impl Placer {
    /// A placer for workers `0..workers` and a run of `total_tasks` tasks
    /// (used by [`Placement::Block`]; give an estimate when unknown).
    ///
    /// ```
    /// let p = flotilla_core::Placer::new(flotilla_core::Placement::RoundRobin, 3, 0);
    /// assert_eq!(p.workers(), 3);
    /// ```
    pub fn new(placement: Placement, workers: usize, total_tasks: usize) -> Placer {
        let seed = match placement {
            Placement::Random { seed } | Placement::LeastLoadedOfTwo { seed } => seed,
            _ => 0,
        };
        Placer {
            placement,
            alive: (0..workers as u32).map(WorkerId::new).collect(),
            present: vec![true; workers],
            total_tasks,
            dealt: 0,
            rng: Rng::seed(seed),
            queued_cost: vec![0.0; workers],
        }
    }

    /// The policy.
    ///
    /// ```
    /// use flotilla_core::{Placement, Placer};
    /// assert_eq!(Placer::new(Placement::Block, 1, 1).placement(), Placement::Block);
    /// ```
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// The number of workers present.
    ///
    /// ```
    /// assert_eq!(flotilla_core::Placer::new(Default::default(), 0, 0).workers(), 0);
    /// ```
    pub fn workers(&self) -> usize {
        self.alive.len()
    }

    /// Whether `worker` is present.
    ///
    /// ```
    /// use flotilla_core::{Placement, Placer, WorkerId};
    /// assert!(Placer::new(Placement::Block, 2, 0).is_present(WorkerId::new(1)));
    /// assert!(!Placer::new(Placement::Block, 2, 0).is_present(WorkerId::new(2)));
    /// ```
    pub fn is_present(&self, worker: WorkerId) -> bool {
        self.present.get(worker.index()).copied().unwrap_or(false)
    }

    /// Adds `worker` to the workers tasks are placed on (nothing if it is
    /// already present).
    ///
    /// ```
    /// use flotilla_core::{Placement, Placer, Target, WorkerId};
    /// let mut p = Placer::new(Placement::RoundRobin, 0, 0);
    /// assert_eq!(p.place(0, 1.0, None), None);
    /// p.add_worker(WorkerId::new(5));
    /// assert_eq!(p.place(0, 1.0, None), Some(Target::Pinned(WorkerId::new(5))));
    /// ```
    pub fn add_worker(&mut self, worker: WorkerId) {
        let i = worker.index();
        if self.is_present(worker) {
            return;
        }
        if self.present.len() <= i {
            self.present.resize(i + 1, false);
            self.queued_cost.resize(i + 1, 0.0);
        }
        self.present[i] = true;
        self.queued_cost[i] = 0.0;
        let at = self.alive.partition_point(|w| *w < worker);
        self.alive.insert(at, worker);
    }

    /// Removes `worker`: no task is placed on it any more.
    ///
    /// ```
    /// use flotilla_core::{Placement, Placer, Target, WorkerId};
    /// let mut p = Placer::new(Placement::RoundRobin, 2, 0);
    /// p.remove_worker(WorkerId::new(0));
    /// assert_eq!(p.place(0, 1.0, None), Some(Target::Pinned(WorkerId::new(1))));
    /// ```
    pub fn remove_worker(&mut self, worker: WorkerId) {
        if !self.is_present(worker) {
            return;
        }
        self.present[worker.index()] = false;
        self.alive.retain(|w| *w != worker);
    }

    /// Decides where the task at `sequence`, of estimated `cost`, goes, or
    /// `None` when no worker is present to take it. `near` is the worker
    /// that holds most of the task's input (or whose finished task made it
    /// ready): work stealing queues the task there, next to its data.
    ///
    /// ```
    /// use flotilla_core::{Placement, Placer, Target, WorkerId};
    /// let mut p = Placer::new(Placement::RoundRobin, 2, 0);
    /// assert_eq!(p.place(3, 1.0, None), Some(Target::Pinned(WorkerId::new(1))));
    /// ```
    pub fn place(&mut self, sequence: usize, cost: f32, near: Option<WorkerId>) -> Option<Target> {
        let n = self.alive.len();
        if n == 0 {
            return match self.placement {
                Placement::CentralQueue => Some(Target::Shared),
                _ => None,
            };
        }
        let w = |i: usize| self.alive[i];
        Some(match self.placement {
            Placement::WorkStealing => match near.filter(|v| self.is_present(*v)) {
                Some(worker) => Target::Stealable(worker),
                None => {
                    let i = self.dealt % n;
                    self.dealt += 1;
                    Target::Stealable(w(i))
                }
            },
            Placement::CentralQueue => Target::Shared,
            Placement::RoundRobin => Target::Pinned(w(sequence % n)),
            Placement::Block => {
                let per = self.total_tasks.max(1).div_ceil(n);
                Target::Pinned(w((sequence / per).min(n - 1)))
            }
            Placement::BlockCyclic { block } => Target::Pinned(w((sequence / block.max(1)) % n)),
            Placement::Random { .. } => Target::Pinned(w(self.rng.below(n))),
            Placement::LeastLoadedOfTwo { .. } => {
                let a = w(self.rng.below(n));
                let chosen = if n == 1 {
                    a
                } else {
                    let mut b = self.rng.below(n - 1);
                    if w(b) >= a {
                        b += 1;
                    }
                    let b = w(b);
                    if self.queued_cost[b.index()] < self.queued_cost[a.index()] {
                        b
                    } else {
                        a
                    }
                };
                self.queued_cost[chosen.index()] += f64::from(cost);
                Target::Pinned(chosen)
            }
        })
    }

    /// Under work stealing, the next worker of the dealing rotation other
    /// than `besides`, advancing the rotation: the alternative a ready task
    /// is weighed against when the worker that holds its data is busy.
    /// `None` under other policies or with fewer than two workers.
    ///
    /// ```
    /// use flotilla_core::{Placement, Placer, Target, WorkerId};
    /// let mut p = Placer::new(Placement::WorkStealing, 3, 0);
    /// assert_eq!(p.next_besides(WorkerId::new(0)), Some(WorkerId::new(1)));
    /// assert_eq!(p.next_besides(WorkerId::new(2)), Some(WorkerId::new(0)));
    /// // The rotation went on: the next task without a near worker goes to 1.
    /// assert_eq!(p.place(0, 1.0, None), Some(Target::Stealable(WorkerId::new(1))));
    /// assert_eq!(Placer::new(Placement::RoundRobin, 3, 0).next_besides(WorkerId::new(0)), None);
    /// ```
    pub fn next_besides(&mut self, besides: WorkerId) -> Option<WorkerId> {
        let n = self.alive.len();
        if self.placement != Placement::WorkStealing || n < 2 {
            return None;
        }
        let mut w = self.alive[self.dealt % n];
        self.dealt += 1;
        if w == besides {
            w = self.alive[self.dealt % n];
            self.dealt += 1;
        }
        Some(w)
    }

    /// Records that a task of `cost` was queued on `worker` other than by
    /// [`Placer::place`] (moved there by a steal), so load-aware policies
    /// see its queue grow.
    ///
    /// ```
    /// use flotilla_core::{Placement, Placer, WorkerId};
    /// let mut p = Placer::new(Placement::LeastLoadedOfTwo { seed: 1 }, 2, 0);
    /// p.queued(WorkerId::new(0), 100.0);
    /// // Worker 1 is now the less loaded of the two.
    /// assert_eq!(p.place(0, 1.0, None).unwrap().worker(), Some(WorkerId::new(1)));
    /// ```
    pub fn queued(&mut self, worker: WorkerId, cost: f32) {
        if let Some(load) = self.queued_cost.get_mut(worker.index()) {
            *load += f64::from(cost);
        }
    }

    /// Records that `worker` finished a task of `cost` that was placed on
    /// it, so load-aware policies see its queue shrink.
    ///
    /// ```
    /// use flotilla_core::{Placement, Placer, WorkerId};
    /// let mut p = Placer::new(Placement::LeastLoadedOfTwo { seed: 1 }, 2, 0);
    /// let t = p.place(0, 1.0, None).unwrap();
    /// p.finished(t.worker().unwrap(), 1.0);
    /// ```
    pub fn finished(&mut self, worker: WorkerId, cost: f32) {
        if let Some(load) = self.queued_cost.get_mut(worker.index()) {
            *load = (*load - f64::from(cost)).max(0.0);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn pinned(p: &mut Placer, n: usize) -> Vec<usize> {
        (0..n)
            .map(|i| p.place(i, 1.0, None).unwrap().worker().unwrap().index())
            .collect()
    }

    #[test]
    fn static_policies_place_as_documented() {
        assert_eq!(
            pinned(&mut Placer::new(Placement::RoundRobin, 3, 7), 7),
            [0, 1, 2, 0, 1, 2, 0]
        );
        assert_eq!(
            pinned(&mut Placer::new(Placement::Block, 3, 7), 7),
            [0, 0, 0, 1, 1, 1, 2]
        );
        assert_eq!(
            pinned(
                &mut Placer::new(Placement::BlockCyclic { block: 2 }, 2, 8),
                8
            ),
            [0, 0, 1, 1, 0, 0, 1, 1]
        );
    }

    #[test]
    fn random_is_seeded() {
        let a = pinned(&mut Placer::new(Placement::Random { seed: 3 }, 4, 0), 50);
        let b = pinned(&mut Placer::new(Placement::Random { seed: 3 }, 4, 0), 50);
        assert_eq!(a, b);
        assert!((0..4).all(|w| a.contains(&w)));
    }

    #[test]
    fn least_loaded_balances_counts() {
        let mut p = Placer::new(Placement::LeastLoadedOfTwo { seed: 9 }, 4, 0);
        let placed = pinned(&mut p, 400);
        for w in 0..4 {
            let c = placed.iter().filter(|&&x| x == w).count();
            assert!((95..=105).contains(&c), "worker {w} got {c}");
        }
    }

    #[test]
    fn work_stealing_keeps_tasks_local_and_deals_the_rest() {
        let mut p = Placer::new(Placement::WorkStealing, 2, 0);
        assert_eq!(
            p.place(0, 1.0, Some(WorkerId::new(1))),
            Some(Target::Stealable(WorkerId::new(1)))
        );
        assert_eq!(
            p.place(1, 1.0, None),
            Some(Target::Stealable(WorkerId::new(0)))
        );
        assert_eq!(
            p.place(2, 1.0, None),
            Some(Target::Stealable(WorkerId::new(1)))
        );
    }

    #[test]
    fn policies_deal_over_the_workers_present() {
        for placement in Placement::ALL {
            let mut p = Placer::new(placement, 3, 30);
            p.remove_worker(WorkerId::new(1));
            p.add_worker(WorkerId::new(7));
            for i in 0..30 {
                let target = p.place(i, 1.0, Some(WorkerId::new(1))).unwrap();
                if let Some(w) = target.worker() {
                    assert!([0, 2, 7].contains(&w.index()), "{placement}: {w}");
                }
            }
            for w in [0, 2, 7] {
                p.remove_worker(WorkerId::new(w));
            }
            let none = p.place(0, 1.0, None);
            assert_eq!(
                none.is_some(),
                placement == Placement::CentralQueue,
                "{placement}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for p in Placement::ALL {
            assert_eq!(p.name().parse::<Placement>().unwrap().name(), p.name());
        }
        assert!("block:3".parse::<Placement>().is_err());
        assert!("block-cyclic:0".parse::<Placement>().is_err());
    }
}
