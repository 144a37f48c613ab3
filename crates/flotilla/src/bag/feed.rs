//! The plumbing under a bag: partition sources, fused feeds and the slots
//! that carry one task's result to the one task that consumes it.
//!
//! A partition is a [`Source`] node of the task graph plus the bag's
//! [`Feed`]: a function that, given the source's value, pushes the
//! partition's items into a [`Sink`]. Element-wise operations wrap the feed
//! in another closure instead of adding graph nodes, so a chain of
//! `map`/`filter`/`flat_map` runs inside the one task that consumes the
//! partition (a reduction, a shuffle's map side, a collect). A sink answers
//! [`Flow::Break`] when it has seen enough (`take`), and every feed stops at
//! that answer.

use std::any::{type_name, Any};
use std::fmt;
use std::ops::ControlFlow;
use std::sync::Arc;

use super::BagError;

/// What a sink answers to an item: go on, or stop feeding.
pub(crate) type Flow = ControlFlow<()>;

/// Where a feed pushes a partition's items.
pub(crate) type Sink<'a, T> = dyn FnMut(T) -> Flow + 'a;

/// Pushes the items of partition `index`, read from its source's value,
/// into a sink, until the items end or the sink answers [`Flow::Break`].
pub(crate) type Feed<T> =
    Arc<dyn Fn(usize, &Source, &mut Sink<'_, T>) -> Result<(), BagError> + Send + Sync>;

/// Makes a [`Feed`] from a closure, fixing the closure's signature (its
/// references are then general over every lifetime, as a feed needs).
pub(crate) fn feed<T, F>(f: F) -> Feed<T>
where
    F: Fn(usize, &Source, &mut Sink<'_, T>) -> Result<(), BagError> + Send + Sync + 'static,
{
    Arc::new(f)
}

/// The value of a partition's source node: whatever the partition's feed
/// reads its items from — a vector of items, a range of numbers, an input
/// split, the output of a shuffle's reducer. Its type is erased so that the
/// partitions of every bag are nodes of one type, whatever the operations
/// that led to them; the feed that made the source knows what is inside.
pub(crate) struct Source(Box<dyn Any + Send + Sync>);

impl Source {
    pub(crate) fn new<S: Any + Send + Sync>(data: S) -> Source {
        Source(Box::new(data))
    }

    /// The value inside, as the feed expects it.
    pub(crate) fn get<S: Any>(&self) -> Result<&S, BagError> {
        self.0.downcast_ref::<S>().ok_or_else(|| {
            BagError::Internal(format!(
                "a partition source is not the {} its feed reads",
                type_name::<S>()
            ))
        })
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Source")
    }
}

/// A partition whose items exist as a vector: given to a constructor, or
/// made by a task (a shuffle's reducer). A reducer that failed holds its
/// error, and every feed reading it returns that error.
pub(crate) struct Materialized<T>(pub(crate) Result<Vec<T>, BagError>);

/// The feed of materialized partitions: clones the items out of the vector,
/// which stays in the graph for every other consumer (and every later
/// computation, for a constructor's data).
pub(crate) fn materialized_feed<T: Clone + Send + Sync + 'static>() -> Feed<T> {
    feed(|_, source, sink: &mut Sink<'_, T>| {
        let items = match &source.get::<Materialized<T>>()?.0 {
            Ok(items) => items,
            Err(e) => return Err(e.clone()),
        };
        for item in items {
            if sink(item.clone()).is_break() {
                break;
            }
        }
        Ok(())
    })
}

/// A partition's partial result, or the error met computing it: what one
/// task hands to the one that consumes it (see [`flotilla_data::tree`]).
pub(crate) type Partial<A> = Result<A, BagError>;

impl flotilla_data::shuffle::InternalError for BagError {
    fn internal(message: &str) -> Self {
        BagError::Internal(message.to_string())
    }
}

/// One map task's output of a shuffle: one bucket per output partition,
/// each read by that partition's reducer (see
/// [`flotilla_data::shuffle`]); a map task that failed holds its error, and
/// every reducer returns it.
pub(crate) type Buckets<X> = flotilla_data::shuffle::MapPieces<Vec<X>, BagError>;
