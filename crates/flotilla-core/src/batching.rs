//! Adaptive batching: how many items to put in the next task of a map
//! over many items, from the durations of the tasks that already ran.
//!
//! A map over a million tiny items would pay the per-task cost a million
//! times; a fixed batch size guesses the items' cost up front, and guesses
//! wrong for items whose cost varies. A [`BatchSizer`] starts with small
//! batches, learns the time per item from each finished batch (a running
//! mean weighted by items, so that a large batch counts for more), and
//! sizes the next batch to take about the target time. Tiny items end up
//! in large batches; an item that alone takes longer than the target runs
//! alone, never queued behind others in one batch.
//!
//! Like the rest of the core it keeps no clock: the driver reports how
//! long each batch ran.

use std::time::Duration;

/// Sizes the batches of a map from measured durations.
///
/// ```
/// use std::time::Duration;
/// use flotilla_core::BatchSizer;
///
/// let mut sizer = BatchSizer::new(Duration::from_millis(100));
/// assert_eq!(sizer.next_size(), 1); // nothing measured yet: one item
/// sizer.observe(4, Duration::from_millis(2)); // 0.5 ms per item
/// assert_eq!(sizer.next_size(), 200); // 100 ms / 0.5 ms
/// ```
#[derive(Debug, Clone)]
pub struct BatchSizer {
    target: Duration,
    min: usize,
    max: usize,
    /// Items and time of every batch observed so far, decayed.
    items: f64,
    nanos: f64,
}

/// How much of the past a new observation keeps (1 keeps it all).
const DECAY: f64 = 0.8;

impl BatchSizer {
    /// A sizer aiming at batches that run for `target` each; batches of
    /// 1 item until something is measured, and at most 1,000,000 items.
    ///
    /// ```
    /// let s = flotilla_core::BatchSizer::new(std::time::Duration::from_millis(50));
    /// assert_eq!(s.target(), std::time::Duration::from_millis(50));
    /// ```
    pub fn new(target: Duration) -> BatchSizer {
        BatchSizer {
            target,
            min: 1,
            max: 1_000_000,
            items: 0.0,
            nanos: 0.0,
        }
    }

    /// Batches of at least `min` and at most `max` items (`min` is also
    /// the size before anything is measured).
    ///
    /// ```
    /// let mut s = flotilla_core::BatchSizer::new(std::time::Duration::from_secs(1)).limits(10, 500);
    /// assert_eq!(s.next_size(), 10);
    /// s.observe(10, std::time::Duration::from_micros(10));
    /// assert_eq!(s.next_size(), 500);
    /// ```
    pub fn limits(mut self, min: usize, max: usize) -> BatchSizer {
        self.min = min.max(1);
        self.max = max.max(self.min);
        self
    }

    /// The time a batch should take.
    ///
    /// ```
    /// let s = flotilla_core::BatchSizer::new(std::time::Duration::from_millis(5));
    /// assert_eq!(s.target().as_millis(), 5);
    /// ```
    pub fn target(&self) -> Duration {
        self.target
    }

    /// Records that a batch of `items` items ran for `ran`.
    ///
    /// ```
    /// let mut s = flotilla_core::BatchSizer::new(std::time::Duration::from_millis(10));
    /// s.observe(1, std::time::Duration::from_millis(20)); // one item is 20 ms
    /// assert_eq!(s.next_size(), 1); // over the target: items run alone
    /// ```
    pub fn observe(&mut self, items: usize, ran: Duration) {
        if items == 0 {
            return;
        }
        self.items = self.items * DECAY + items as f64;
        self.nanos = self.nanos * DECAY + ran.as_nanos() as f64;
    }

    /// The learned time per item, once a batch was observed.
    ///
    /// ```
    /// let mut s = flotilla_core::BatchSizer::new(std::time::Duration::from_millis(10));
    /// assert_eq!(s.per_item(), None);
    /// s.observe(10, std::time::Duration::from_millis(1));
    /// assert_eq!(s.per_item(), Some(std::time::Duration::from_micros(100)));
    /// ```
    pub fn per_item(&self) -> Option<Duration> {
        (self.items > 0.0).then(|| Duration::from_nanos((self.nanos / self.items) as u64))
    }

    /// How many items the next batch should hold.
    ///
    /// ```
    /// let s = flotilla_core::BatchSizer::new(std::time::Duration::from_millis(10));
    /// assert_eq!(s.next_size(), 1);
    /// ```
    pub fn next_size(&self) -> usize {
        if self.items == 0.0 {
            return self.min;
        }
        let per_item = (self.nanos / self.items).max(1.0);
        let size = (self.target.as_nanos() as f64 / per_item).floor();
        (size as usize).clamp(self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_follow_a_change_in_the_items_cost() {
        let mut s = BatchSizer::new(Duration::from_millis(10));
        for _ in 0..5 {
            s.observe(100, Duration::from_millis(1)); // 10 µs per item
        }
        assert_eq!(s.next_size(), 1000);
        // The items become 10× dearer: within a few batches the size follows.
        for _ in 0..20 {
            let n = s.next_size();
            s.observe(n, Duration::from_micros(100) * n as u32);
        }
        let size = s.next_size();
        assert!((95..=105).contains(&size), "{size}");
    }

    #[test]
    fn empty_batches_teach_nothing_and_limits_hold() {
        let mut s = BatchSizer::new(Duration::from_secs(10)).limits(2, 64);
        s.observe(0, Duration::from_secs(1));
        assert_eq!(s.next_size(), 2);
        s.observe(1, Duration::ZERO); // immeasurably fast
        assert_eq!(s.next_size(), 64);
    }
}
