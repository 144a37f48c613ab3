//! Work stealing's decision: which worker an idle worker takes work from.
//!
//! Every driver that steals — the in-process pool, the simulator — asks
//! [`steal_victim`] and carries out its answer, so a simulation predicts
//! the policy the runtime runs. The driver then takes the *oldest* task
//! queued on the victim (the front of its inbox, else the oldest of the
//! tasks the victim made ready itself) and *confirms* by taking it, or
//! *refuses* when the victim's queue emptied meanwhile (the task started
//! there); after a refusal it asks again with that victim's load at zero.
//!
//! The rule: the worker with the most queued tasks; among equals, the first
//! after the thief in ring order (`thief + 1`, `thief + 2`, …), so idle
//! workers spread over equally busy victims instead of all hitting the
//! lowest-numbered one.

use crate::WorkerId;

/// The worker that `thief` should steal from, given each worker's number
/// of queued tasks that may be stolen (`queued[w]`; the thief's own entry
/// is ignored), or `None` when no other worker has any.
///
/// ```
/// use flotilla_core::{balance::steal_victim, WorkerId};
/// // Workers 2 and 3 tie with 5 queued tasks; thief 0 takes the first
/// // after itself, thief 3 (ring order 0, 1, 2) takes worker 2.
/// assert_eq!(steal_victim(WorkerId::new(0), &[0, 3, 5, 5]), Some(WorkerId::new(2)));
/// assert_eq!(steal_victim(WorkerId::new(3), &[9, 3, 9, 5]), Some(WorkerId::new(0)));
/// assert_eq!(steal_victim(WorkerId::new(1), &[0, 7, 0]), None);
/// ```
pub fn steal_victim(thief: WorkerId, queued: &[usize]) -> Option<WorkerId> {
    let n = queued.len();
    let mut best: Option<(usize, usize)> = None;
    for k in 1..n {
        let v = (thief.index() + k) % n;
        let load = queued[v];
        if load > 0 && best.is_none_or(|(_, most)| load > most) {
            best = Some((v, load));
        }
    }
    best.map(|(v, _)| WorkerId::new(v as u32))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_most_loaded_wins_and_ties_go_round_the_ring() {
        let w = WorkerId::new;
        assert_eq!(steal_victim(w(1), &[4, 0, 4, 1]), Some(w(2)));
        assert_eq!(steal_victim(w(3), &[4, 0, 4, 1]), Some(w(0)));
        assert_eq!(
            steal_victim(w(0), &[100, 0, 0, 0]),
            None,
            "its own queue is not a victim"
        );
        assert_eq!(steal_victim(w(0), &[]), None);
        assert_eq!(steal_victim(w(0), &[0]), None);
    }
}
