//! Putting items back in source order at the sink.

use std::collections::BTreeMap;

/// Puts numbered items back in sequence order: items that arrive early wait
/// until every item before them has been emitted.
pub(super) struct Reorder<T> {
    next: u64,
    waiting: BTreeMap<u64, T>,
}

impl<T> Reorder<T> {
    pub(super) fn new() -> Self {
        Reorder {
            next: 0,
            waiting: BTreeMap::new(),
        }
    }

    pub(super) fn push(&mut self, seq: u64, item: T, emit: &mut impl FnMut(T)) {
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

    pub(super) fn is_empty(&self) -> bool {
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
}
