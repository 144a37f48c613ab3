//! The client side: a frame's plan lowered to tasks of the cluster's
//! scheduler.
//!
//! A partition is not computed on its own unless something needs it whole:
//! a [`Part`] is the recipe of one (its input and the operations after
//! it), and the task that consumes it — a reduction's partial, a
//! group-by's partial, a shuffle's cut — reads and transforms it in the
//! same task, as the in-process frame fuses its pipelines. Shuffles cut
//! each partition into one piece per output partition in its worker's
//! store; the piece tasks and the reducers that fetch them are those of
//! the MapReduce jobs.

use flotilla_cluster::{Arg, Call, Checkpoint, Client, ClusterFuture};
use flotilla_dataframe::io::CsvSource;
use flotilla_dataframe::portable::{FramePlan, GroupSpec, Reduced, ScalarPlan};
use flotilla_dataframe::{DataFrameError, JoinStrategy, RecordBatch};
use flotilla_local::checkpoint::KeyHasher;
use serde::Serialize;

use super::tasks::{
    Input, Ipc, Op, PartSpec, GROUP_MERGE, GROUP_PARTIAL, GROUP_REDUCE, GROUP_SPLIT, HASH_SPLIT,
    JOIN, PART, REDUCE,
};
use crate::mapreduce::pieces::{submit_pieces, with_pieces, MapBlob, Piece};
use crate::on_cluster::OnClusterError;
use crate::on_cluster::RETRIES;

/// Where a partition's rows come from, on the client.
#[derive(Clone)]
enum PartInput {
    Csv(CsvSource, u32),
    Computed(ClusterFuture<Ipc>),
}

/// The recipe of one partition: its input, the operations after it, and
/// the partitions those operations take (a broadcast join's right side).
#[derive(Clone)]
struct Part {
    input: PartInput,
    ops: Vec<Op>,
    extra: Vec<ClusterFuture<Ipc>>,
}

impl Part {
    fn computed(future: ClusterFuture<Ipc>) -> Part {
        Part {
            input: PartInput::Computed(future),
            ops: Vec::new(),
            extra: Vec::new(),
        }
    }

    fn spec(&self) -> PartSpec {
        PartSpec {
            input: match &self.input {
                PartInput::Csv(source, index) => Input::Csv {
                    source: source.clone(),
                    index: *index,
                },
                PartInput::Computed(_) => Input::Arg,
            },
            ops: self.ops.clone(),
        }
    }

    /// A call of `task` with `settings` and this partition's inputs.
    fn call<R, S: Serialize>(&self, task: &'static str, settings: &S) -> Call<R> {
        let mut call = Call::new(task).arg(Arg::by_ref(settings));
        match &self.input {
            PartInput::Computed(f) => call = call.arg(Arg::<Ipc>::from(f)),
            PartInput::Csv(source, index) => {
                if let Some(split) = source.splits().get(*index as usize) {
                    call = call.reads(split.path());
                }
            }
        }
        for e in &self.extra {
            call = call.arg(Arg::<Ipc>::from(e));
        }
        call
    }
}

/// The partitions of a frame persisted on a cluster: in its workers'
/// stores for as long as this lives.
pub(crate) struct Held {
    pub(crate) client: Client,
    pub(crate) futures: Vec<ClusterFuture<Ipc>>,
}

/// Submits the tasks of plans on one client.
pub(crate) struct Lowering<'c> {
    client: &'c Client,
}

impl<'c> Lowering<'c> {
    pub(crate) fn new(client: &'c Client) -> Lowering<'c> {
        Lowering { client }
    }

    fn submit<R>(&self, call: Call<R>) -> Result<ClusterFuture<R>, OnClusterError> {
        Ok(self.client.submit(call.retries(RETRIES))?)
    }

    /// Every partition of `plan`, computed by the workers and kept there.
    pub(crate) fn partitions(
        &self,
        plan: &FramePlan,
    ) -> Result<Vec<ClusterFuture<Ipc>>, OnClusterError> {
        self.parts(plan)?
            .iter()
            .map(|p| self.materialize(p))
            .collect()
    }

    /// The whole frame of `plan`, `schema` giving the type of an empty one.
    pub(crate) fn frame(
        &self,
        plan: &FramePlan,
        schema: flotilla_dataframe::arrow::schema::SchemaRef,
    ) -> Result<RecordBatch, OnClusterError> {
        let futures = self.partitions(plan)?;
        let batches = self
            .client
            .gather(&futures)?
            .iter()
            .map(Ipc::batch)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(
            flotilla_dataframe::arrow::select::concat::concat_batches(&schema, &batches).map_err(
                |e| DataFrameError::Arrow {
                    context: "gathering a frame's partitions".into(),
                    source: std::sync::Arc::new(e),
                },
            )?,
        )
    }

    /// The value of a scalar's plan: partials per partition, combined here.
    pub(crate) fn scalar<A: 'static>(&self, plan: &ScalarPlan<A>) -> Result<A, OnClusterError> {
        let partials = self
            .parts(plan.frame())?
            .iter()
            .map(|p| self.submit(p.call(REDUCE, &(p.spec(), plan.reduction()))))
            .collect::<Result<Vec<ClusterFuture<Reduced>>, _>>()?;
        let partials = self.client.gather(&partials)?;
        Ok(plan.finish(plan.reduction().combine(partials)?)?)
    }

    /// The partition, computed by a task of its own unless it already is.
    fn materialize(&self, part: &Part) -> Result<ClusterFuture<Ipc>, OnClusterError> {
        match &part.input {
            PartInput::Computed(f) if part.ops.is_empty() => Ok(f.clone()),
            _ => self.submit(part.call(PART, &part.spec())),
        }
    }

    /// The recipes of a plan's partitions, submitting the tasks that come
    /// before them (group-bys, shuffles).
    fn parts(&self, plan: &FramePlan) -> Result<Vec<Part>, OnClusterError> {
        Ok(match plan {
            FramePlan::Csv(source) => (0..source.partitions() as u32)
                .map(|i| Part {
                    input: PartInput::Csv(source.clone(), i),
                    ops: Vec::new(),
                    extra: Vec::new(),
                })
                .collect(),
            FramePlan::Batches(batches) => batches
                .iter()
                .map(|b| Ok(Part::computed(self.client.scatter(&Ipc::of(b)?)?)))
                .collect::<Result<_, OnClusterError>>()?,
            FramePlan::Held(held) => match held.handle().downcast_ref::<Held>() {
                Some(h) if h.client.is_same(self.client) => {
                    h.futures.iter().cloned().map(Part::computed).collect()
                }
                _ => {
                    return Err(DataFrameError::Invalid(
                        "a frame persisted on another cluster (or by another client)".into(),
                    )
                    .into())
                }
            },
            FramePlan::Steps { input, steps } => {
                let mut parts = self.parts(input)?;
                for p in &mut parts {
                    p.ops.extend(steps.iter().cloned().map(Op::Step));
                }
                parts
            }
            FramePlan::GroupBy {
                input,
                group,
                split_out,
                split_every,
            } => {
                let parts = self.parts(input)?;
                match *split_out {
                    0 | 1 => vec![self.tree_group_by(&parts, group, (*split_every).max(2))?],
                    n => self.shuffled_group_by(&parts, group, n as u32)?,
                }
            }
            FramePlan::Join {
                left,
                right,
                join,
                strategy,
            } => match strategy {
                JoinStrategy::Broadcast => {
                    let right = self
                        .parts(right)?
                        .iter()
                        .map(|p| self.materialize(p))
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut parts = self.parts(left)?;
                    for p in &mut parts {
                        p.ops.push(Op::Probe {
                            join: join.clone(),
                            right: right.len() as u32,
                        });
                        p.extra.extend(right.iter().cloned());
                    }
                    parts
                }
                JoinStrategy::Shuffle { partitions } => {
                    let n = (*partitions).max(1) as u32;
                    let cut = |parts: Vec<Part>, keys: &[String]| {
                        parts
                            .iter()
                            .map(|p| self.submit(p.call(HASH_SPLIT, &(p.spec(), keys, n))))
                            .collect::<Result<Vec<ClusterFuture<MapBlob>>, _>>()
                    };
                    let l = cut(self.parts(left)?, join.left_on())?;
                    let r = cut(self.parts(right)?, join.right_on())?;
                    let mut out = Vec::with_capacity(n as usize);
                    for j in 0..n {
                        let call = Call::new(JOIN).arg(Arg::by_ref(&(join, l.len() as u32)));
                        let call = with_pieces(call, &self.pieces(&l, j)?);
                        let call = with_pieces(call, &self.pieces(&r, j)?);
                        out.push(Part::computed(self.submit(call)?));
                    }
                    out
                }
            },
            FramePlan::Checkpoint { input, checkpoint } => self.kept_parts(input, checkpoint)?,
            other => {
                return Err(DataFrameError::LocalOnly {
                    operation: format!("{other:?}"),
                }
                .into())
            }
        })
    }

    /// The partitions of `input`, each computed by a task of its own whose
    /// result is kept in `checkpoint`, under a key naming the input's plan,
    /// what its files hold now and the partition's number. When every one
    /// is kept, they are read back and nothing of the input is submitted.
    fn kept_parts(
        &self,
        input: &FramePlan,
        checkpoint: &Checkpoint,
    ) -> Result<Vec<Part>, OnClusterError> {
        let mut name = KeyHasher::new("frame partition");
        name_plan(input, &mut name)?;
        let count = partition_count(input)?;
        let keys: Vec<String> = (0..count as u64)
            .map(|i| name.clone().part(&i.to_le_bytes()).finish())
            .collect();
        if keys.iter().all(|k| checkpoint.contains(k)) {
            return keys
                .iter()
                .map(|k| {
                    let load = Call::new(PART).checkpoint_as(checkpoint, k);
                    Ok(Part::computed(self.submit(load)?))
                })
                .collect();
        }
        let parts = self.parts(input)?;
        if parts.len() != keys.len() {
            return Err(DataFrameError::Internal(format!(
                "a checkpointed frame planned {} partitions and lowered {}",
                keys.len(),
                parts.len()
            ))
            .into());
        }
        parts
            .iter()
            .zip(&keys)
            .map(|(p, k)| {
                let call = p.call(PART, &p.spec()).checkpoint_as(checkpoint, k);
                Ok(Part::computed(self.submit(call)?))
            })
            .collect()
    }

    /// Piece `j` of each map output of a shuffle, cut out on its worker.
    fn pieces(
        &self,
        blobs: &[ClusterFuture<MapBlob>],
        j: u32,
    ) -> Result<Vec<ClusterFuture<Piece>>, OnClusterError> {
        Ok(submit_pieces(self.client, blobs, j, RETRIES)?)
    }

    /// A group-by as a tree: partials per partition, merged `fan_in` at a
    /// time, finished at the root.
    fn tree_group_by(
        &self,
        parts: &[Part],
        group: &GroupSpec,
        fan_in: usize,
    ) -> Result<Part, OnClusterError> {
        let mut level = parts
            .iter()
            .map(|p| self.submit(p.call(GROUP_PARTIAL, &(p.spec(), group))))
            .collect::<Result<Vec<ClusterFuture<Ipc>>, _>>()?;
        if level.is_empty() {
            let kernel = group.kernel()?;
            let empty = RecordBatch::new_empty(kernel.output_schema());
            return Ok(Part::computed(self.client.scatter(&Ipc::of(&empty)?)?));
        }
        loop {
            let finish = level.len() <= fan_in;
            level = level
                .chunks(fan_in)
                .map(|chunk| {
                    let mut call = Call::new(GROUP_MERGE).arg(Arg::by_ref(&(group, finish)));
                    for f in chunk {
                        call = call.arg(Arg::<Ipc>::from(f));
                    }
                    self.submit(call)
                })
                .collect::<Result<_, _>>()?;
            if finish {
                break;
            }
        }
        match level.pop() {
            Some(root) => Ok(Part::computed(root)),
            None => Err(DataFrameError::Internal("a group-by tree without a root".into()).into()),
        }
    }

    /// A group-by as a shuffle: partials cut by key into `n` pieces;
    /// output partition `j` merges and finishes the `j`-th pieces.
    fn shuffled_group_by(
        &self,
        parts: &[Part],
        group: &GroupSpec,
        n: u32,
    ) -> Result<Vec<Part>, OnClusterError> {
        let blobs = parts
            .iter()
            .map(|p| self.submit(p.call(GROUP_SPLIT, &(p.spec(), group, n))))
            .collect::<Result<Vec<ClusterFuture<MapBlob>>, _>>()?;
        (0..n)
            .map(|j| {
                let call = Call::new(GROUP_REDUCE).arg(Arg::by_ref(group));
                let call = with_pieces(call, &self.pieces(&blobs, j)?);
                Ok(Part::computed(self.submit(call)?))
            })
            .collect()
    }
}

/// Adds to `name` what the partitions of `plan` depend on: the plan itself
/// (its sources, steps, groupings and joins, as its `Debug` text shows
/// them) and the size and modification time of every file it reads.
fn name_plan(plan: &FramePlan, name: &mut KeyHasher) -> Result<(), OnClusterError> {
    name.add(format!("{plan:?}").as_bytes());
    let mut stack = vec![plan];
    while let Some(plan) = stack.pop() {
        match plan {
            FramePlan::Csv(source) => {
                for split in source.splits() {
                    name.add(&split.fingerprint());
                }
            }
            FramePlan::Batches(_) => {}
            FramePlan::Steps { input, .. }
            | FramePlan::GroupBy { input, .. }
            | FramePlan::Checkpoint { input, .. } => stack.push(input),
            FramePlan::Join { left, right, .. } => {
                stack.push(left);
                stack.push(right);
            }
            other => return Err(not_kept(other)),
        }
    }
    Ok(())
}

/// How many partitions lowering `plan` makes.
fn partition_count(plan: &FramePlan) -> Result<usize, OnClusterError> {
    Ok(match plan {
        FramePlan::Csv(source) => source.partitions(),
        FramePlan::Batches(batches) => batches.len(),
        FramePlan::Steps { input, .. } | FramePlan::Checkpoint { input, .. } => {
            partition_count(input)?
        }
        FramePlan::GroupBy { split_out, .. } => (*split_out).max(1),
        FramePlan::Join { left, strategy, .. } => match strategy {
            JoinStrategy::Broadcast => partition_count(left)?,
            JoinStrategy::Shuffle { partitions } => (*partitions).max(1),
        },
        other => return Err(not_kept(other)),
    })
}

/// The error of a checkpoint over `plan`, whose partitions have no name
/// that outlives the run (partitions persisted on a cluster).
fn not_kept(plan: &FramePlan) -> OnClusterError {
    DataFrameError::LocalOnly {
        operation: format!(
            "a checkpoint of {plan:?}: partitions held by a cluster have no name that outlives \
             them"
        ),
    }
    .into()
}
