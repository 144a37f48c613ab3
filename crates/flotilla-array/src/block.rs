//! Blocks: one lazy chunk of an array, as graph nodes plus a fused kernel.
//!
//! A [`Block`] is the list of graph nodes whose values it reads (none for a
//! generated block such as `random`'s, one stored block for `from_ndarray`'s)
//! and a [`Fill`]: a function that writes any run of the block's elements,
//! given those values. Element-wise operations wrap the fill in one more
//! closure instead of adding a graph node, so whatever finally consumes the
//! block — a reduction's partial, a materialized block — makes each run of
//! elements through the whole chain while the run is in cache, in one task.
//!
//! A run is a stretch of at most [`RUN`] elements inside one row of the
//! block (its last axis), given by its row-major offset in the block. Inside
//! a row, consecutive elements of the block are consecutive elements of the
//! array too, which lets a generator compute a run from the flat index of
//! its first element.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flotilla_core::TaskKey;
use flotilla_local::Delayed;
use ndarray::{ArrayD, IxDyn};

use crate::chunks::row_len;
use crate::element::BlockData;
use crate::{ArrayError, Element};

/// The most elements a kernel makes per call: small enough that a run and
/// the scratch of a binary operation stay in the L1 cache.
pub(crate) const RUN: usize = 1024;

/// The value of a graph node that holds a computed block. Errors travel as
/// values so that the first one reaches the caller with its type.
pub(crate) type BlockValue = Result<BlockData, ArrayError>;

/// A graph node that holds a computed block.
pub(crate) type BlockNode = Delayed<BlockValue>;

/// Writes the run of a block that starts at `offset` (row-major, inside the
/// block) into `out`, reading the values of the block's input nodes. The
/// run lies inside one row and holds at most [`RUN`] elements.
pub(crate) type Fill<T> =
    Arc<dyn Fn(&[&BlockData], usize, &mut [T]) -> Result<(), ArrayError> + Send + Sync>;

/// One chunk of an array, not computed yet.
pub(crate) struct Block<T> {
    /// The graph nodes the fill reads, in the order it expects them.
    pub(crate) inputs: Vec<BlockNode>,
    /// Makes the block's elements, run by run.
    pub(crate) fill: Fill<T>,
    /// The block is exactly the value of its single input (nothing to
    /// compute on top), so materializing it reuses that node.
    pub(crate) stored: bool,
}

impl<T> Clone for Block<T> {
    fn clone(&self) -> Self {
        Block {
            inputs: self.inputs.clone(),
            fill: Arc::clone(&self.fill),
            stored: self.stored,
        }
    }
}

impl<T> fmt::Debug for Block<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("inputs", &self.inputs.len())
            .field("stored", &self.stored)
            .finish()
    }
}

impl<T: Element> Block<T> {
    /// A block made from nothing but its place (`random`, `full`, `arange`).
    pub(crate) fn generated(fill: Fill<T>) -> Block<T> {
        Block {
            inputs: Vec::new(),
            fill,
            stored: false,
        }
    }

    /// A block that is the value of `node`, a block of `T` of the block's
    /// shape.
    pub(crate) fn stored(node: BlockNode) -> Block<T> {
        Block {
            inputs: vec![node],
            fill: Arc::new(copy_from_input::<T>),
            stored: true,
        }
    }

    /// The same inputs, with another fill.
    pub(crate) fn with_fill<U>(&self, fill: Fill<U>) -> Block<U> {
        Block {
            inputs: self.inputs.clone(),
            fill,
            stored: false,
        }
    }

    /// The node that computes the whole block (its input, for a stored
    /// block).
    pub(crate) fn materialize(&self, shape: Vec<usize>, key: TaskKey) -> BlockNode {
        if self.stored {
            if let Some(node) = self.inputs.first() {
                return node.clone();
            }
        }
        let fill = Arc::clone(&self.fill);
        Delayed::gather(&self.inputs, move |values: &[&BlockValue]| {
            let inputs = unpack(values)?;
            let block = make_block(&fill, &inputs, &shape)?;
            Ok(T::into_block(block))
        })
        .named(key)
    }
}

/// The blocks read by a task, or the first error among them.
pub(crate) fn unpack<'a>(values: &[&'a BlockValue]) -> Result<Vec<&'a BlockData>, ArrayError> {
    values
        .iter()
        .map(|v| v.as_ref().map_err(Clone::clone))
        .collect()
}

/// The runs of a block of `shape`: `(offset, length)`, row by row, at most
/// [`RUN`] elements each.
pub(crate) fn runs(shape: &[usize]) -> impl Iterator<Item = (usize, usize)> {
    let row = row_len(shape);
    let len: usize = shape.iter().product();
    let rows = len.checked_div(row).unwrap_or(0);
    (0..rows).flat_map(move |r| {
        (0..row)
            .step_by(RUN)
            .map(move |c| (r * row + c, RUN.min(row - c)))
    })
}

/// Runs `fill` over a whole block of `shape`.
pub(crate) fn make_block<T: Element>(
    fill: &Fill<T>,
    inputs: &[&BlockData],
    shape: &[usize],
) -> Result<ArrayD<T>, ArrayError> {
    let len: usize = shape.iter().product();
    let mut data = vec![T::ZERO; len];
    for (offset, n) in runs(shape) {
        fill(inputs, offset, &mut data[offset..offset + n])?;
    }
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| ArrayError::Internal(e.to_string()))
}

/// The fill of a stored block: copies the run from its input.
fn copy_from_input<T: Element>(
    inputs: &[&BlockData],
    offset: usize,
    out: &mut [T],
) -> Result<(), ArrayError> {
    let data = inputs
        .first()
        .and_then(|b| T::from_block(b))
        .and_then(|a| a.as_slice())
        .ok_or_else(|| {
            ArrayError::Internal(format!(
                "a stored block is not a contiguous block of {}",
                T::NAME
            ))
        })?;
    let run = data.get(offset..offset + out.len()).ok_or_else(|| {
        ArrayError::Internal(format!(
            "a run {offset}..{} outside a stored block of {} elements",
            offset + out.len(),
            data.len()
        ))
    })?;
    out.copy_from_slice(run);
    Ok(())
}

/// Numbers the operations of every array in this process, so that the task
/// keys of two operations never clash in one graph.
static NEXT_OP: AtomicU64 = AtomicU64::new(0);

/// Task keys of one operation over an array: `random|map|sum-12[3,4]` for
/// the task of block (3, 4), `random|map|sum-12-combine[0]` for combining
/// tasks. The block's coordinates in the key are what an error names.
#[derive(Debug, Clone)]
pub(crate) struct OpKeys {
    name: String,
    combine: TaskKey,
}

impl OpKeys {
    /// Keys for operation `op` on an array made by the operations `ops`.
    pub(crate) fn new(ops: &str, op: &str) -> OpKeys {
        let id = NEXT_OP.fetch_add(1, Ordering::Relaxed);
        let name = if ops.is_empty() {
            format!("{op}-{id}")
        } else {
            format!("{ops}|{op}-{id}")
        };
        let combine = TaskKey::indexed(format!("{name}-combine"), 0);
        OpKeys { name, combine }
    }

    /// The key of the task of the block at `coords`.
    pub(crate) fn block(&self, coords: &[usize]) -> TaskKey {
        let coords: Vec<String> = coords.iter().map(ToString::to_string).collect();
        TaskKey::new(format!("{}[{}]", self.name, coords.join(",")))
    }

    /// The key of combining task number `n`.
    pub(crate) fn combine(&self, n: u64) -> TaskKey {
        self.combine.sibling(n)
    }

    /// The key of the single task of the operation.
    pub(crate) fn single(&self) -> TaskKey {
        TaskKey::new(self.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_every_element_once_without_crossing_rows() {
        let shape = [3, 2500];
        let runs: Vec<_> = runs(&shape).collect();
        assert_eq!(runs.len(), 9);
        assert_eq!(runs[0..3], [(0, 1024), (1024, 1024), (2048, 452)]);
        assert_eq!(runs.iter().map(|r| r.1).sum::<usize>(), 7500);
        assert_eq!(super::runs(&[]).collect::<Vec<_>>(), [(0, 1)]);
        assert_eq!(super::runs(&[4, 0]).count(), 0);
    }

    #[test]
    fn keys_name_the_operation_chain_and_the_block() {
        let keys = OpKeys::new("random|map", "sum");
        let key = keys.block(&[3, 4]).to_string();
        assert!(
            key.starts_with("random|map|sum-") && key.ends_with("[3,4]"),
            "{key}"
        );
        assert!(keys.combine(2).to_string().ends_with("-combine[2]"));
    }
}
