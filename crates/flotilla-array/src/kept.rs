//! Arrays whose blocks are kept in a checkpoint ([`Array::checkpoint`]).

use flotilla_local::{fail_task, Checkpoint};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use crate::block::{Block, BlockValue, OpKeys};
use crate::element::BlockData;
use crate::portable::ArrayPlan;
use crate::{Array, ArrayError, Element};

/// A block as a checkpoint keeps it: its shape and its elements in
/// row-major order.
#[derive(Clone, Serialize, Deserialize)]
enum KeptBlock {
    F64 { shape: Vec<usize>, data: Vec<f64> },
    I64 { shape: Vec<usize>, data: Vec<i64> },
}

impl KeptBlock {
    fn of(block: &BlockData) -> KeptBlock {
        match block {
            BlockData::F64(a) => KeptBlock::F64 {
                shape: a.shape().to_vec(),
                data: a.iter().copied().collect(),
            },
            BlockData::I64(a) => KeptBlock::I64 {
                shape: a.shape().to_vec(),
                data: a.iter().copied().collect(),
            },
        }
    }

    fn into_block(self) -> BlockValue {
        let wrong = |e: ndarray::ShapeError| {
            ArrayError::Internal(format!("a checkpointed block does not fit its shape: {e}"))
        };
        Ok(match self {
            KeptBlock::F64 { shape, data } => {
                BlockData::F64(ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(wrong)?)
            }
            KeptBlock::I64 { shape, data } => {
                BlockData::I64(ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(wrong)?)
            }
        })
    }
}

impl<T: Element> Array<T> {
    /// The same array, each block kept in `checkpoint` once computed: a
    /// computation of it (or of anything made from it) run again — after
    /// a crash, a Ctrl-C, or with a changed later step — reads the blocks
    /// it finds there instead of computing them, and computes only the
    /// rest.
    ///
    /// A block is kept under a key made of the array's chain of operations
    /// and the block's number, the array's [plan](Array::plan) when it has
    /// one (every operation with its parameters: a seed, a shape, a
    /// constant) and the keys of the tasks it reads. An array whose lineage
    /// holds a Rust closure ([`Array::map`]) has no plan: its key names
    /// its operations but not what the closure or the parameters before it
    /// do, so after changing those use another folder (or empty it). A
    /// block that fails fails its task and is not kept. On a cluster
    /// (`compute_on`) each worker rebuilding the array from its plan keeps
    /// and reads the blocks it computes in the same folder (one every
    /// worker must reach), under the same keys.
    ///
    /// ```
    /// use flotilla_array::Array;
    /// use flotilla_local::Checkpoint;
    ///
    /// let dir = std::env::temp_dir().join(format!("flotilla-array-ckpt-doc-{}", std::process::id()));
    /// for run in 0..2 {
    ///     let checkpoint = Checkpoint::open(&dir)?;
    ///     let x = Array::random(&[100, 100], [50, 50], 7)?;
    ///     let kept = (&x * 2.0).checkpoint(&checkpoint);
    ///     assert!((kept.mean().compute()? - 1.0).abs() < 0.05);
    ///     let expected = if run == 0 { (4, 0) } else { (0, 4) };
    ///     assert_eq!((checkpoint.computed(), checkpoint.loaded()), expected);
    /// }
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint(&self, checkpoint: &Checkpoint) -> Array<T> {
        // An array with a plan is kept as the array its plan rebuilds, the
        // one a cluster's workers build: the same tasks, so the same keys.
        if let Ok(plan) = &self.portable {
            if let Some(rebuilt) = plan.build_typed::<T>() {
                return rebuilt.kept(checkpoint, Some(plan));
            }
        }
        self.kept(checkpoint, None)
    }

    /// This array with its blocks kept in `checkpoint`; `plan` is its plan,
    /// if it has one, part of every block's key.
    pub(crate) fn kept(&self, checkpoint: &Checkpoint, plan: Option<&ArrayPlan>) -> Array<T> {
        // Every node is named by its block's index, so a graph of some
        // blocks (a worker's slice) keys them as the whole array's does.
        let (made, kept_keys, keys) = (
            OpKeys::new(&self.ops, "compute"),
            OpKeys::new(&self.ops, "keep"),
            OpKeys::new(&self.ops, "checkpoint"),
        );
        let version = plan
            .map(|p| format!("{p:?}").into_bytes())
            .unwrap_or_default();
        let blocks = (0..self.blocks.len())
            .map(|i| {
                let coords = self.grid.coords(i);
                let shape = self.grid.block_shape(&coords);
                let computed = self.blocks[i].materialize(coords, shape, made.block(i));
                let kept = computed
                    .map(|value: &BlockValue| match value {
                        Ok(block) => KeptBlock::of(block),
                        Err(e) => fail_task(e.clone()),
                    })
                    .named_op(kept_keys.block(i))
                    .version(&version)
                    .checkpoint(checkpoint);
                Block::stored(
                    kept.map(|k: &KeptBlock| k.clone().into_block())
                        .named_op(keys.block(i)),
                )
            })
            .collect();
        let mut out = Array::from_blocks(
            (*self.grid).clone(),
            blocks,
            self.ops_then("checkpoint"),
            self.split_every,
        );
        out.portable = match plan {
            Some(plan) => Ok(std::sync::Arc::new(ArrayPlan::Checkpoint {
                input: Box::new(plan.clone()),
                dir: checkpoint.dir().to_path_buf(),
            })),
            None => Err("checkpoint".into()),
        };
        out
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_changed_parameter_computes_again_and_kept_blocks_read_back_equal() {
        let dir = std::env::temp_dir().join(format!("flotilla-array-ckpt-{}", std::process::id()));
        let run = |seed: u64| {
            let checkpoint = Checkpoint::open(&dir).unwrap();
            let x = Array::random(&[30, 20], [10, 10], seed).unwrap() * 3.0;
            let kept = x.checkpoint(&checkpoint).sum().compute().unwrap();
            let fresh = x.sum().compute().unwrap();
            assert_eq!(kept.to_bits(), fresh.to_bits());
            (checkpoint.computed(), checkpoint.loaded())
        };
        assert_eq!(run(1), (6, 0));
        assert_eq!(run(2), (6, 0));
        assert_eq!(run(1), (0, 6));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod shared_keys {
    use super::*;
    use crate::portable::ArrayReduction;

    /// What a cluster worker computes for one block (the plan rebuilt,
    /// sliced, reduced) reads the block the whole array kept, and the
    /// other way round.
    #[test]
    fn a_block_rebuilt_from_the_plan_has_the_key_of_the_whole_array_s() {
        let dir =
            std::env::temp_dir().join(format!("flotilla-array-shared-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let checkpoint = Checkpoint::open(&dir).unwrap();
        let x = (Array::random(&[40, 30], [10, 10], 5).unwrap() * 3.0).checkpoint(&checkpoint);
        let whole = x.sum().compute().unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 12);
        let plan = x.plan().unwrap();
        let mut by_block = 0.0;
        for b in 0..12 {
            match plan.reduce_block(ArrayReduction::Sum, b).unwrap() {
                crate::portable::Number::F64(v) => by_block += v,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 12);
        assert!((whole - by_block).abs() <= 1e-9 * whole.abs());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
