//! The worker side: the tasks a frame's plan becomes, registered once for
//! every program (each worker is a copy of the same binary).
//!
//! Every task takes its settings as its first argument and partitions
//! after it. A partition travels as the Arrow IPC stream of its batch,
//! wrapped as one serde byte string ([`Ipc`]), so that the client can
//! fetch it as a value and a task can read it in place.

use flotilla_dataframe::arrow::buffer::Buffer;
use flotilla_dataframe::io::CsvSource;
use flotilla_dataframe::kernels::hash_partition;
use flotilla_dataframe::portable::{
    decode_batch, decode_batch_buffer, encode_batch, write_batch, GroupSpec, JoinSpec, Reduction,
    Step,
};
use flotilla_dataframe::{DataFrameError, RecordBatch};
use serde::{Deserialize, Serialize};

use crate::mapreduce::pieces::{arity, blob, decode, encode};

/// Registered names of the tasks.
pub(crate) const PART: &str = "flotilla::dataframe::part";
pub(crate) const REDUCE: &str = "flotilla::dataframe::reduce";
pub(crate) const GROUP_PARTIAL: &str = "flotilla::dataframe::group_partial";
pub(crate) const GROUP_MERGE: &str = "flotilla::dataframe::group_merge";
pub(crate) const GROUP_SPLIT: &str = "flotilla::dataframe::group_split";
pub(crate) const GROUP_REDUCE: &str = "flotilla::dataframe::group_reduce";
pub(crate) const HASH_SPLIT: &str = "flotilla::dataframe::hash_split";
pub(crate) const JOIN: &str = "flotilla::dataframe::join";

macro_rules! register {
    ($($name:ident => $f:ident),* $(,)?) => {$(
        flotilla_cluster::__private::inventory::submit! {
            flotilla_cluster::RemoteFunction::new($name, $f)
        }
    )*};
}

register!(
    PART => part,
    REDUCE => reduce,
    GROUP_PARTIAL => group_partial,
    GROUP_MERGE => group_merge,
    GROUP_SPLIT => group_split,
    GROUP_REDUCE => group_reduce,
    HASH_SPLIT => hash_split,
    JOIN => join,
);

/// A partition as it travels: the Arrow IPC stream of its batch, as one
/// serde byte string.
#[derive(Debug, Clone)]
pub(crate) struct Ipc(pub(crate) Vec<u8>);

impl Serialize for Ipc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Ipc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ipc, D::Error> {
        Vec::<u8>::deserialize(d).map(Ipc)
    }
}

impl Ipc {
    /// The batch's bytes.
    pub(crate) fn of(batch: &RecordBatch) -> Result<Ipc, DataFrameError> {
        encode_batch(batch).map(Ipc)
    }

    /// The batch back.
    pub(crate) fn batch(&self) -> Result<RecordBatch, DataFrameError> {
        decode_batch(&self.0)
    }
}

/// A partition argument back as a batch (`what` names it in errors). When
/// the argument is a result the worker holds, the batch's columns are
/// views of the worker's copy (no bytes copied); otherwise they are read
/// out of `arg`.
fn batch_arg(arg: &[u8], what: &str) -> Result<RecordBatch, String> {
    let bytes: &[u8] =
        postcard::from_bytes(arg).map_err(|e| format!("{what} does not decode: {e}"))?;
    let decoded = match flotilla_cluster::__private::shared_input(bytes) {
        Some((held, start)) => {
            let held = bytes::Bytes::from_owner(Held(held));
            decode_batch_buffer(Buffer::from(held.slice(start..start + bytes.len())))
        }
        None => decode_batch(bytes),
    };
    decoded.map_err(|e| format!("{what}: {e}"))
}

/// A worker's copy of a result, as the owner of the buffers viewing it.
struct Held(std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Bytes of the length that leads an [`Ipc`] result: eight, so that the
/// stream starts at an 8-byte boundary of the result's allocation and its
/// columns can be read in place ([`batch_arg`]).
const LENGTH_BYTES: usize = 8;

/// The partition arguments `args`, each named `{before} {i} {after}` in
/// errors.
fn batch_args(
    args: std::slice::Iter<'_, &[u8]>,
    before: &str,
    after: &str,
) -> Result<Vec<RecordBatch>, String> {
    args.enumerate()
        .map(|(i, a)| batch_arg(a, format!("{before} {i} {after}").trim_end()))
        .collect()
}

/// A batch as a task's result: what serde makes of its [`Ipc`] — the
/// stream's length as a varint, then the stream — written in one buffer
/// without a second copy. The length takes a fixed eight bytes (leading
/// groups of zero bits still marked as continued), which a varint reader
/// reads as the same number: enough for any stream (under 64 PiB).
fn batch_result(batch: &RecordBatch) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(LENGTH_BYTES + batch.get_array_memory_size() + 1024);
    out.resize(LENGTH_BYTES, 0);
    write_batch(batch, &mut out).map_err(|e| e.to_string())?;
    let len = (out.len() - LENGTH_BYTES) as u64;
    if len >> (7 * LENGTH_BYTES) != 0 {
        return Err(format!("a partition of {len} bytes is too large to send"));
    }
    for (i, b) in out[..LENGTH_BYTES].iter_mut().enumerate() {
        let group = ((len >> (7 * i)) & 0x7f) as u8;
        *b = if i + 1 < LENGTH_BYTES {
            group | 0x80
        } else {
            group
        };
    }
    Ok(out)
}

/// Where a partition's rows come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Input {
    /// Partition `index` of a CSV source, read where the task runs.
    Csv { source: CsvSource, index: u32 },
    /// The task's next argument: a partition computed by another task.
    Arg,
}

/// One operation on a partition after it is read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Op {
    /// A per-partition step.
    Step(Step),
    /// A broadcast join's probe; the right side is the task's next
    /// `right` arguments.
    Probe { join: JoinSpec, right: u32 },
}

/// A partition's work: its input and the operations after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartSpec {
    pub(crate) input: Input,
    pub(crate) ops: Vec<Op>,
}

impl PartSpec {
    /// Runs the spec, taking partitions from `args` in order.
    fn run(&self, args: &mut std::slice::Iter<'_, &[u8]>) -> Result<RecordBatch, String> {
        let mut next = |what: &str| {
            args.next()
                .ok_or_else(|| format!("a partition task is missing {what}"))
                .and_then(|a| batch_arg(a, what))
        };
        let mut batch = match &self.input {
            Input::Csv { source, index } => source
                .read_partition(*index as usize)
                .map_err(|e| e.to_string())?,
            Input::Arg => next("its input partition")?,
        };
        for op in &self.ops {
            batch = match op {
                Op::Step(step) => step.apply(batch),
                Op::Probe { join, right } => {
                    let right = (0..*right)
                        .map(|_| next("a partition of a join's right side"))
                        .collect::<Result<Vec<_>, _>>()?;
                    join.table(&right)
                        .and_then(|table| join.probe(&table, &batch))
                }
            }
            .map_err(|e| e.to_string())?;
        }
        Ok(batch)
    }
}

/// `(settings, partitions…)`: the settings decoded, the rest to iterate.
fn settings<'a, 'b, S: serde::de::DeserializeOwned>(
    args: &'b [&'a [u8]],
    task: &str,
) -> Result<(S, std::slice::Iter<'b, &'a [u8]>), String> {
    arity(args, 1, task)?;
    let s = decode(args[0], &format!("the settings of a {task} task"))?;
    Ok((s, args[1..].iter()))
}

/// `(spec)`: the partition.
fn part(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let (spec, mut rest): (PartSpec, _) = settings(args, "partition")?;
    batch_result(&spec.run(&mut rest)?)
}

/// `(spec, reduction)`: the partition's partial reduction.
fn reduce(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let ((spec, reduction), mut rest): ((PartSpec, Reduction), _) = settings(args, "reduction")?;
    let batch = spec.run(&mut rest)?;
    let partial = reduction.partial(&batch).map_err(|e| e.to_string())?;
    encode(&partial, "a partial reduction")
}

/// `(spec, group)`: the partition's partial aggregates.
fn group_partial(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let ((spec, group), mut rest): ((PartSpec, GroupSpec), _) = settings(args, "group-by")?;
    let batch = spec.run(&mut rest)?;
    let kernel = group.kernel().map_err(|e| e.to_string())?;
    batch_result(&kernel.partial(&batch).map_err(|e| e.to_string())?)
}

/// `((group, finish), partials…)`: the partials merged, and finished at
/// the root of the tree.
fn group_merge(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let ((group, finish), rest): ((GroupSpec, bool), _) = settings(args, "group-by merge")?;
    let kernel = group.kernel().map_err(|e| e.to_string())?;
    let partials = batch_args(rest, "partial", "of a group-by")?;
    let merged = kernel.merge(&partials).map_err(|e| e.to_string())?;
    let out = match finish {
        true => kernel.finish(&merged).map_err(|e| e.to_string())?,
        false => merged,
    };
    batch_result(&out)
}

/// Cuts `batch` by the hash of `keys` into `n` pieces, as a map blob.
fn split_blob(batch: &RecordBatch, keys: &[String], n: u32) -> Result<Vec<u8>, String> {
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let pieces = hash_partition(batch, &keys, n as usize).map_err(|e| e.to_string())?;
    let pieces = pieces
        .iter()
        .map(batch_result)
        .collect::<Result<Vec<_>, _>>()?;
    blob(&(), &pieces)
}

/// `(spec, group, n)`: the partition's partial aggregates, cut by key into
/// `n` pieces.
fn group_split(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let ((spec, group, n), mut rest): ((PartSpec, GroupSpec, u32), _) =
        settings(args, "group-by shuffle")?;
    let batch = spec.run(&mut rest)?;
    let kernel = group.kernel().map_err(|e| e.to_string())?;
    let partial = kernel.partial(&batch).map_err(|e| e.to_string())?;
    split_blob(&partial, group.keys(), n)
}

/// `(group, pieces…)`: one output partition of a shuffled group-by.
fn group_reduce(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let (group, rest): (GroupSpec, _) = settings(args, "group-by reduce")?;
    let kernel = group.kernel().map_err(|e| e.to_string())?;
    let pieces = batch_args(rest, "the piece of map task", "")?;
    let merged = kernel.merge(&pieces).map_err(|e| e.to_string())?;
    batch_result(&kernel.finish(&merged).map_err(|e| e.to_string())?)
}

/// `(spec, keys, n)`: the partition cut by the hash of `keys` into `n`
/// pieces.
fn hash_split(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let ((spec, keys, n), mut rest): ((PartSpec, Vec<String>, u32), _) = settings(args, "shuffle")?;
    split_blob(&spec.run(&mut rest)?, &keys, n)
}

/// `((join, left pieces), left pieces…, right pieces…)`: one output
/// partition of a shuffled join.
fn join(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let ((spec, left), rest): ((JoinSpec, u32), _) = settings(args, "join")?;
    let pieces = batch_args(rest, "piece", "of a join")?;
    let left = (left as usize).min(pieces.len());
    let (l, r) = pieces.split_at(left);
    batch_result(&spec.join(l, r).map_err(|e| e.to_string())?)
}

#[cfg(test)]
mod test {
    use super::*;
    use flotilla_dataframe::DataFrame;

    #[test]
    fn a_partition_result_decodes_as_its_ipc() {
        for rows in [0i64, 3, 100_000] {
            let batch =
                DataFrame::from_columns(vec![("x", (0..rows).collect::<Vec<i64>>().into())], 1)
                    .and_then(|df| df.compute())
                    .unwrap();
            let result = batch_result(&batch).unwrap();
            let ipc: Ipc = postcard::from_bytes(&result).unwrap();
            assert_eq!(ipc.0, encode_batch(&batch).unwrap());
            assert_eq!(batch_arg(&result, "x").unwrap(), batch);
        }
    }

    const MAKE: &str = "flotilla::dataframe::test::make";
    const IN_PLACE: &str = "flotilla::dataframe::test::in_place";
    register!(MAKE => make, IN_PLACE => in_place);

    fn numbers() -> RecordBatch {
        DataFrame::from_columns(vec![("x", (0..10_000i64).collect::<Vec<_>>().into())], 1)
            .and_then(|df| df.compute())
            .unwrap()
    }

    fn make(_: &[&[u8]]) -> Result<Vec<u8>, String> {
        batch_result(&numbers())
    }

    /// Whether the partition argument's column lies in the worker's copy
    /// of the argument (read in place), and equals what was made.
    fn in_place(args: &[&[u8]]) -> Result<Vec<u8>, String> {
        let arg = args.first().ok_or("no argument")?;
        let batch = batch_arg(arg, "the partition")?;
        let values = batch.column(0).to_data().buffers()[0].as_ptr() as usize;
        let (held, _) = flotilla_cluster::__private::shared_input(arg).ok_or("not held")?;
        let start = held.as_ptr() as usize;
        let inside = values >= start && values < start + held.len();
        postcard::to_allocvec(&(inside, batch == numbers())).map_err(|e| e.to_string())
    }

    #[test]
    fn a_partition_the_worker_holds_is_read_in_place() {
        use flotilla_cluster::{Arg, Call, Client};
        let client = Client::in_process(1).unwrap();
        let part = client.submit(Call::<Ipc>::new(MAKE)).unwrap();
        let read = client
            .submit(Call::<(bool, bool)>::new(IN_PLACE).arg(Arg::<Ipc>::from(&part)))
            .unwrap();
        assert_eq!(read.result().unwrap(), (true, true));
        // A partition sent with the task is not held: read out of the message.
        let sent = Ipc::of(&numbers()).unwrap();
        let read = client
            .submit(Call::<(bool, bool)>::new(IN_PLACE).arg(Arg::by_ref(&sent)))
            .unwrap();
        assert!(read.result().unwrap_err().to_string().contains("not held"));
    }
}
