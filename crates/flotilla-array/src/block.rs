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
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;

use flotilla_core::TaskKey;
use flotilla_local::{panic_message, record_result_bytes, Delayed};
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

    /// The node that computes the whole block at `coords` in the grid of
    /// blocks (its input, for a stored block).
    pub(crate) fn materialize(
        &self,
        coords: Vec<usize>,
        shape: Vec<usize>,
        key: TaskKey,
    ) -> BlockNode {
        if self.stored {
            if let Some(node) = self.inputs.first() {
                return node.clone();
            }
        }
        let fill = Arc::clone(&self.fill);
        Delayed::gather(&self.inputs, move |values: &[&BlockValue]| {
            in_block(&coords, || {
                let inputs = unpack(values)?;
                let block = make_block(&fill, &inputs, &shape)?;
                record_result_bytes(std::mem::size_of_val(
                    block.as_slice_memory_order().unwrap_or(&[]),
                ) as u64);
                Ok(T::into_block(block))
            })
        })
        .named_op(key)
    }
}

/// Runs the work of the block at `coords` in the grid of blocks; a panic in
/// it (a user's closure panicked) goes on with the block's coordinates after
/// its message, `boom — in block [2,4]`: the task's key numbers the blocks
/// in row-major order, the message says where the block is.
pub(crate) fn in_block<R>(coords: &[usize], f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let coords: Vec<String> = coords.iter().map(ToString::to_string).collect();
            let message = panic_message(&*payload);
            resume_unwind(Box::new(format!(
                "{message} — in block [{}]",
                coords.join(",")
            )))
        }
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

/// Task keys of one operation over an array: `random|map|sum[k]` for the
/// task of block number `k` of the grid of blocks, counted in row-major
/// order (block (1, 0) of a grid of 3 × 2 blocks is number 2),
/// `random|map|sum-combine[n]` for combining tasks and `random|map|sum-all[0]`
/// for a task over all blocks. A panic in a block's task names the block's
/// coordinates too ([`in_block`]).
///
/// Each operation makes fresh groups of keys, whose names carry no number:
/// when two operations of one name meet in a graph, assembling it tells
/// them apart by identity and names the later one `random|map|sum#2`, so
/// keys do not depend on what else the process built.
#[derive(Debug, Clone)]
pub(crate) struct OpKeys {
    blocks: TaskKey,
    combine: TaskKey,
    single: TaskKey,
}

impl OpKeys {
    /// Keys for operation `op` on an array made by the operations `ops`.
    pub(crate) fn new(ops: &str, op: &str) -> OpKeys {
        let name = if ops.is_empty() {
            op.to_string()
        } else {
            format!("{ops}|{op}")
        };
        OpKeys {
            combine: TaskKey::indexed(format!("{name}-combine"), 0),
            single: TaskKey::indexed(format!("{name}-all"), 0),
            blocks: TaskKey::indexed(name, 0),
        }
    }

    /// The key of the task of block number `index` (row-major).
    pub(crate) fn block(&self, index: usize) -> TaskKey {
        self.blocks.sibling(index as u64)
    }

    /// The key of combining task number `n`.
    pub(crate) fn combine(&self, n: u64) -> TaskKey {
        self.combine.sibling(n)
    }

    /// The key of the single task of the operation over all blocks.
    pub(crate) fn single(&self) -> TaskKey {
        self.single.clone()
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
        assert_eq!(keys.block(7).to_string(), "random|map|sum[7]");
        assert!(keys.block(7).same_group(&keys.block(0)));
        assert_eq!(keys.combine(2).to_string(), "random|map|sum-combine[2]");
        assert_eq!(keys.single().to_string(), "random|map|sum-all[0]");
        // Another operation of the same name: the same text, another group.
        let again = OpKeys::new("random|map", "sum");
        assert_eq!(again.block(7), keys.block(7));
        assert!(!again.block(7).same_group(&keys.block(7)));
    }

    #[test]
    fn a_panic_in_a_block_names_its_coordinates() {
        let payload = catch_unwind(|| in_block(&[2, 4], || panic!("boom"))).unwrap_err();
        assert_eq!(panic_message(&*payload), "boom — in block [2,4]");
        assert_eq!(in_block(&[0], || 5), 5);
    }

    #[test]
    fn a_materialized_block_reports_its_size() {
        let fill: Fill<f64> = Arc::new(|_, offset, out: &mut [f64]| {
            for (k, x) in out.iter_mut().enumerate() {
                *x = (offset + k) as f64;
            }
            Ok(())
        });
        let node = Block::generated(fill).materialize(vec![0, 0], vec![30, 50], TaskKey::new("b"));
        let options = flotilla_local::ComputeOptions::new().progress(false);
        let (block, report) = node.compute_shared_with(&options).unwrap();
        assert!(block.is_ok());
        assert_eq!(report.result_bytes(), 30 * 50 * 8);
    }
}
