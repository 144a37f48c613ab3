//! Where in a collection a user's function panicked.
//!
//! A `Bag` fuses its element-wise operations into the one task that reads
//! each partition, and a `DataFrame` fuses its per-partition steps
//! the same way, so the pool that catches a panic knows only the task's key
//! (`range|map|sum[2]`) and a closure path inside flotilla. The user wants
//! the operation they wrote, the partition and the item.
//!
//! Each operation that calls user code keeps a [`Site`] in its own frame
//! while the partition's items flow through it, and calls the user's
//! function through [`Site::call`], which marks the site active for the
//! length of the call and counts the items it has finished. If the
//! function unwinds, the site's `Drop` (run during unwinding) records the
//! operation and the item in a thread-local. Sites of the operations
//! downstream of an active one drop after it, so when a panic passes
//! through several active sites (an emitting `flat_map_emit` whose
//! downstream `map` panicked) the last record, the innermost operation,
//! wins. [`catch_in_partition`] wraps a partition's task: it clears the
//! record, runs the task, and on a panic puts the recorded site after the
//! panic's message before handing the panic on to the pool, which reports
//! it as a task error. No call pays more than two stores and an increment.
//!
//! ```
//! use flotilla_data::panic_site::{catch_in_partition, Site};
//!
//! // The task of partition 2 of `range|map|collect`, and a `map` that panics on item 3.
//! let caught = std::panic::catch_unwind(|| {
//!     catch_in_partition(2, "range|map|collect", || {
//!         let map = Site::per_item("map", "range|map");
//!         (0..10u64).map(|x| map.call(|| 10 / (3 - x))).collect::<Vec<_>>()
//!     })
//! })
//! .unwrap_err();
//! let message = flotilla_local::panic_message(&*caught);
//! assert!(message.ends_with("in `map` (step 2 of range|map) on partition 2, item 3 (counting from 0)"));
//! ```

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use flotilla_local::panic_message;

thread_local! {
    /// The innermost active site a panic unwound through on this thread.
    static RECORDED: RefCell<Option<Recorded>> = const { RefCell::new(None) };
}

/// What a [`Site`] left behind when a panic unwound through it.
#[derive(Debug)]
struct Recorded {
    operation: String,
    chain: String,
    item: Option<u64>,
}

impl Recorded {
    fn describe(&self, partition: usize) -> String {
        let step = self.chain.split('|').count();
        let mut out = format!(
            "in `{}` (step {step} of {}) on partition {partition}",
            self.operation, self.chain
        );
        if let Some(item) = self.item {
            out.push_str(&format!(", item {item} (counting from 0)"));
        }
        out
    }
}

/// An operation of a fused pipeline that calls user code: its name, its
/// place in the chain, the item it is on.
///
/// ```
/// use flotilla_data::panic_site::Site;
///
/// let filter = Site::per_item("filter", "range|filter");
/// let kept: Vec<u32> = (0..6u32).filter(|x| filter.call(|| x % 2 == 0)).collect();
/// assert_eq!(kept, [0, 2, 4]);
/// ```
#[derive(Debug)]
pub struct Site<'a> {
    operation: &'a str,
    chain: &'a str,
    counts_items: bool,
    items_done: Cell<u64>,
    active: Cell<bool>,
}

impl<'a> Site<'a> {
    /// A site for `operation`, the last step of `chain`
    /// (`range|map|filter`), called once per item.
    ///
    /// ```
    /// # use flotilla_data::panic_site::Site;
    /// let site = Site::per_item("map", "range|map");
    /// assert_eq!(site.call(|| 2 + 2), 4);
    /// ```
    pub fn per_item(operation: &'a str, chain: &'a str) -> Site<'a> {
        Site {
            operation,
            chain,
            counts_items: true,
            items_done: Cell::new(0),
            active: Cell::new(false),
        }
    }

    /// A site for `operation`, called once per partition (a
    /// `map_partitions`, a DataFrame step).
    ///
    /// ```
    /// # use flotilla_data::panic_site::Site;
    /// let site = Site::per_partition("map_partitions", "range|map_partitions");
    /// let partition = vec![1, 2, 3];
    /// assert_eq!(site.call(|| partition.iter().sum::<i32>()), 6);
    /// ```
    pub fn per_partition(operation: &'a str, chain: &'a str) -> Site<'a> {
        Site {
            operation,
            chain,
            counts_items: false,
            items_done: Cell::new(0),
            active: Cell::new(false),
        }
    }

    /// Calls user code `f` for the current item; the item counts as done
    /// when `f` returns.
    ///
    /// ```
    /// # use flotilla_data::panic_site::Site;
    /// let site = Site::per_item("map", "range|map");
    /// let doubled: Vec<u8> = [1u8, 2].iter().map(|x| site.call(|| x * 2)).collect();
    /// assert_eq!(doubled, [2, 4]);
    /// ```
    #[inline(always)]
    pub fn call<R>(&self, f: impl FnOnce() -> R) -> R {
        let r = self.call_again(f);
        self.next_item();
        r
    }

    /// Calls user code `f` for the current item without moving to the next
    /// (the iterator an item was turned into, pulled one value at a time).
    ///
    /// ```
    /// # use flotilla_data::panic_site::Site;
    /// let site = Site::per_item("flat_map", "range|flat_map");
    /// let mut words = "a b".split(' ');
    /// assert_eq!(site.call_again(|| words.next()), Some("a"));
    /// assert_eq!(site.call_again(|| words.next()), Some("b"));
    /// site.next_item(); // the item's iterator is done
    /// ```
    #[inline(always)]
    pub fn call_again<R>(&self, f: impl FnOnce() -> R) -> R {
        self.active.set(true);
        let r = f();
        self.active.set(false);
        r
    }

    /// Finishes an item begun with [`call_again`](Self::call_again).
    ///
    /// ```
    /// # use flotilla_data::panic_site::Site;
    /// let site = Site::per_item("flat_map", "range|flat_map");
    /// for item in [vec![1, 2], vec![3]] {
    ///     let mut values = item.into_iter();
    ///     while site.call_again(|| values.next()).is_some() {}
    ///     site.next_item();
    /// }
    /// ```
    #[inline(always)]
    pub fn next_item(&self) {
        self.items_done.set(self.items_done.get() + 1);
    }
}

impl Drop for Site<'_> {
    fn drop(&mut self) {
        if self.active.get() && std::thread::panicking() {
            let recorded = Recorded {
                operation: self.operation.to_string(),
                chain: self.chain.to_string(),
                item: self.counts_items.then(|| self.items_done.get()),
            };
            RECORDED.with(|r| *r.borrow_mut() = Some(recorded));
        }
    }
}

/// Runs the task of partition `partition` of a pipeline `chain` (the
/// collection's operations and the consumer: `range|map|sum`). A panic in
/// it goes on unwinding with a message that leads with the panic's own and
/// names the operation that raised it (from the innermost [`Site`]), or
/// the partition and the chain when no site was active. An unwinding that
/// carries no message (a task ended with
/// [`fail_task`](flotilla_local::fail_task) or
/// [`input_consumed`](flotilla_local::input_consumed), a `panic_any`)
/// goes on untouched: the engine reads its payload.
///
/// ```
/// use flotilla_data::panic_site::catch_in_partition;
///
/// assert_eq!(catch_in_partition(0, "range|sum", || (1..=4).sum::<i32>()), 10);
/// let caught = std::panic::catch_unwind(|| {
///     catch_in_partition(1, "range|fold", || panic!("in the consumer"))
/// })
/// .unwrap_err();
/// assert_eq!(
///     flotilla_local::panic_message(&*caught),
///     "in the consumer — in partition 1 of range|fold"
/// );
/// ```
pub fn catch_in_partition<R>(partition: usize, chain: &str, f: impl FnOnce() -> R) -> R {
    RECORDED.with(|r| r.borrow_mut().take());
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            if !flotilla_local::is_panic_with_message(&*payload) {
                resume_unwind(payload)
            }
            let message = panic_message(&*payload);
            let site = RECORDED
                .with(|r| r.borrow_mut().take())
                .map(|s| s.describe(partition))
                .unwrap_or_else(|| format!("in partition {partition} of {chain}"));
            resume_unwind(Box::new(format!("{message} — {site}")))
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_innermost_active_site_is_named_with_its_item() {
        let caught = catch_unwind(|| {
            catch_in_partition(3, "range|map|collect", || {
                let site = Site::per_item("map", "range|map");
                for x in 0..10u64 {
                    site.call(|| assert!(x != 4, "four"));
                }
            })
        })
        .unwrap_err();
        assert_eq!(
            panic_message(&*caught),
            "four — in `map` (step 2 of range|map) on partition 3, item 4 (counting from 0)"
        );
    }

    #[test]
    fn a_panic_outside_any_site_names_the_partition_and_chain() {
        let caught = catch_unwind(|| {
            catch_in_partition(1, "range|fold", || {
                let site = Site::per_item("map", "range|map");
                site.call(|| ());
                panic!("in the consumer");
            })
        })
        .unwrap_err();
        assert_eq!(
            panic_message(&*caught),
            "in the consumer — in partition 1 of range|fold"
        );
    }

    #[test]
    fn a_site_that_is_not_active_during_the_panic_is_not_named() {
        let caught = catch_unwind(|| {
            catch_in_partition(0, "range|map|map|collect", || {
                let outer = Site::per_item("map", "range|map");
                let inner = Site::per_item("map", "range|map|map");
                outer.call(|| ());
                inner.call(|| panic!("second"));
            })
        })
        .unwrap_err();
        assert!(
            panic_message(&*caught).contains("step 3 of range|map|map"),
            "{}",
            panic_message(&*caught)
        );
    }

    #[test]
    fn a_stale_record_does_not_leak_into_the_next_partition() {
        // A user function that catches its own panic leaves a record.
        let _ = catch_unwind(|| {
            let site = Site::per_item("map", "range|map");
            site.call(|| panic!("caught"));
        });
        assert!(RECORDED.with(|r| r.borrow().is_some()));
        let caught =
            catch_unwind(|| catch_in_partition(5, "range|fold", || panic!("fresh"))).unwrap_err();
        assert_eq!(
            panic_message(&*caught),
            "fresh — in partition 5 of range|fold"
        );
    }
}
