//! A map task's output on a cluster worker, for every kind of job: one
//! result that holds a head (what the task reports: counters, skipped
//! records, logs) and one sorted piece per reducer.
//!
//! ```text
//!  [u32 head length][head][u32 pieces][u64 length of each piece]…[piece 0][piece 1]…
//! ```
//!
//! The blob stays in its worker's store. A *piece* task per (map task,
//! reducer) cuts one piece out of it, on the same worker, so that a
//! reducer fetches only its share; a *summary* task hands the head to the
//! client. Both are registered once here for every job type: they never
//! decode the pieces.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::mapreduce::sort::{merge_runs, SortedRun};

/// The registered name of the piece task.
pub(crate) const PIECE: &str = "flotilla::mapreduce::piece";

/// The registered name of the summary task.
pub(crate) const SUMMARY: &str = "flotilla::mapreduce::summary";

flotilla_cluster::__private::inventory::submit! {
    flotilla_cluster::RemoteFunction::new(PIECE, piece)
}

flotilla_cluster::__private::inventory::submit! {
    flotilla_cluster::RemoteFunction::new(SUMMARY, summary)
}

/// A map task's result on the client's side: never fetched, only named as
/// the input of its pieces and summary.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct MapBlob;

/// One reducer's piece of a map task's output (typing only).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Piece;

/// Decodes `bytes` as a `T`, or says which value did not decode.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("{what} does not decode: {e}"))
}

/// Encodes `value`, or says which value did not encode.
pub(crate) fn encode<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(value).map_err(|e| format!("{what} does not encode: {e}"))
}

/// What a job on a cluster plans with: the threads of every worker (at
/// least 1; the default number of reducers) and the sort buffer of one
/// map task.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClusterShape {
    pub(crate) threads: usize,
    pub(crate) map_budget: u64,
}

/// The shape of `client`'s cluster for a job whose sort buffers may use
/// `memory_budget` bytes in all: that budget shared by every thread, and
/// never more per task than a quarter of the memory a worker gives each
/// of its threads (its results and the tasks' other memory need the
/// rest).
pub(crate) fn cluster_shape(
    client: &flotilla_cluster::Client,
    memory_budget: usize,
) -> Result<ClusterShape, flotilla_cluster::ClusterError> {
    let workers = client.status()?.workers;
    let threads = workers
        .iter()
        .map(|w| w.threads as usize)
        .sum::<usize>()
        .max(1);
    let mut map_budget = (memory_budget / threads) as u64;
    for w in &workers {
        if let Some(limit) = w.memory_limit {
            map_budget = map_budget.min(limit / 4 / u64::from(w.threads.max(1)));
        }
    }
    Ok(ClusterShape {
        threads,
        map_budget: map_budget.max(64 << 10),
    })
}

/// Piece `reducer` of each map output of `maps`, each cut out by a piece
/// task on the worker that holds its map output.
pub(crate) fn submit_pieces(
    client: &flotilla_cluster::Client,
    maps: &[flotilla_cluster::ClusterFuture<MapBlob>],
    reducer: u32,
    retries: u32,
) -> Result<Vec<flotilla_cluster::ClusterFuture<Piece>>, flotilla_cluster::ClusterError> {
    use flotilla_cluster::{Arg, Call};
    maps.iter()
        .map(|m| {
            client.submit(
                Call::new(PIECE)
                    .arg(Arg::<MapBlob>::from(m))
                    .arg(Arg::from(reducer))
                    .retries(retries),
            )
        })
        .collect()
}

/// `call` with `pieces` as its next arguments (the call holds them until
/// it is submitted).
pub(crate) fn with_pieces<R>(
    mut call: flotilla_cluster::Call<R>,
    pieces: &[flotilla_cluster::ClusterFuture<Piece>],
) -> flotilla_cluster::Call<R> {
    for p in pieces {
        call = call.arg(flotilla_cluster::Arg::<Piece>::from(p));
    }
    call
}

/// Checks that a task was given at least `at_least` arguments.
pub(crate) fn arity(args: &[&[u8]], at_least: usize, task: &str) -> Result<(), String> {
    if args.len() < at_least {
        return Err(format!(
            "the {task} task takes at least {at_least} arguments, it was given {}",
            args.len()
        ));
    }
    Ok(())
}

/// One reducer's runs of a map task's output, merged into one sorted piece.
pub(crate) fn encode_piece<K, V>(runs: Vec<SortedRun<K, V>>) -> Result<Vec<u8>, String>
where
    K: Ord + Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    let records: Vec<(K, V)> = merge_runs(runs)
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    encode(&records, "a piece of a map output")
}

/// A piece back as a sorted run (`which` names it in errors).
pub(crate) fn decode_piece<K, V>(bytes: &[u8], which: &str) -> Result<SortedRun<K, V>, String>
where
    K: Ord + DeserializeOwned,
    V: DeserializeOwned,
{
    let records: Vec<(K, V)> = decode(bytes, which)?;
    Ok(SortedRun::from_vec(records))
}

/// A reduce task's job, reducer and pieces (as sorted runs).
pub(crate) type ReduceInputs<J, K, V> = (J, u32, Vec<SortedRun<K, V>>);

/// The arguments of a reduce task, `(job, reducer, piece of map 0, piece
/// of map 1, …)`: the job (`what` names it in errors), the reducer, and
/// the pieces as sorted runs.
pub(crate) fn reduce_inputs<J, K, V>(
    args: &[&[u8]],
    what: &str,
) -> Result<ReduceInputs<J, K, V>, String>
where
    J: DeserializeOwned,
    K: Ord + DeserializeOwned,
    V: DeserializeOwned,
{
    arity(args, 2, "reduce")?;
    let job: J = decode(args[0], what)?;
    let reducer: u32 = decode(args[1], "the reducer")?;
    let runs = args[2..]
        .iter()
        .enumerate()
        .map(|(m, piece)| decode_piece(piece, &format!("the piece of map task {m}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((job, reducer, runs))
}

/// The blob of a map task: its head and its pieces.
pub(crate) fn blob<H: Serialize>(head: &H, pieces: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    let head = encode(head, "a map output's head")?;
    let total = 8 + head.len() + 8 * pieces.len() + pieces.iter().map(Vec::len).sum::<usize>();
    let mut blob = Vec::with_capacity(total);
    blob.extend_from_slice(&(head.len() as u32).to_le_bytes());
    blob.extend_from_slice(&head);
    blob.extend_from_slice(&(pieces.len() as u32).to_le_bytes());
    for p in pieces {
        blob.extend_from_slice(&(p.len() as u64).to_le_bytes());
    }
    for p in pieces {
        blob.extend_from_slice(p);
    }
    Ok(blob)
}

/// Reads a little-endian number of `N` bytes at `at`.
fn number<const N: usize>(blob: &[u8], at: usize) -> Result<u64, String> {
    let bytes = blob
        .get(at..at + N)
        .ok_or_else(|| format!("a map output of {} bytes is cut short", blob.len()))?;
    let mut buf = [0u8; 8];
    buf[..N].copy_from_slice(bytes);
    Ok(u64::from_le_bytes(buf))
}

/// Where each piece of a blob starts and ends.
type Spans = Vec<(usize, usize)>;

/// The head of a blob, and its pieces' spans.
fn layout(blob: &[u8]) -> Result<(&[u8], Spans), String> {
    let head_len = number::<4>(blob, 0)? as usize;
    let head = blob
        .get(4..4 + head_len)
        .ok_or("a map output shorter than its head")?;
    let mut at = 4 + head_len;
    let n = number::<4>(blob, at)? as usize;
    at += 4;
    let short = || {
        format!(
            "a map output of {} bytes is shorter than its pieces",
            blob.len()
        )
    };
    // Every length is read from the blob: checked before it sizes anything.
    if n > (blob.len() - at) / 8 {
        return Err(short());
    }
    let mut start = at + 8 * n;
    let mut spans = Vec::with_capacity(n);
    for i in 0..n {
        let len = usize::try_from(number::<8>(blob, at + 8 * i)?).map_err(|_| short())?;
        let end = start
            .checked_add(len)
            .filter(|e| *e <= blob.len())
            .ok_or_else(short)?;
        spans.push((start, end));
        start = end;
    }
    Ok((head, spans))
}

/// The piece task: `(map blob, reducer)` to that reducer's piece.
fn piece(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    arity(args, 2, "piece")?;
    let reducer: u32 = decode(args[1], "the reducer")?;
    let (_, spans) = layout(args[0])?;
    let &(start, end) = spans.get(reducer as usize).ok_or_else(|| {
        format!(
            "reducer {reducer} of a map output cut into {} pieces",
            spans.len()
        )
    })?;
    Ok(args[0][start..end].to_vec())
}

/// The summary task: `(map blob)` to its head, as the map task encoded it.
fn summary(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    arity(args, 1, "summary")?;
    Ok(layout(args[0])?.0.to_vec())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_map_task_s_buffer_fits_its_worker_s_memory() {
        let client = flotilla_cluster::Client::in_process(2).unwrap();
        let limit = client.status().unwrap().workers[0].memory_limit.unwrap();
        let shape = cluster_shape(&client, usize::MAX).unwrap();
        assert_eq!(shape.threads, 2);
        assert_eq!(shape.map_budget, limit / 4 / 2);
        // A smaller budget for the whole job wins.
        let shape = cluster_shape(&client, 1 << 20).unwrap();
        assert_eq!(shape.map_budget, 512 << 10);
    }

    #[test]
    fn pieces_and_summary_come_out_of_a_blob_as_they_went_in() {
        let head = ("counters", 7u64);
        let pieces = vec![b"abc".to_vec(), Vec::new(), b"zz".to_vec()];
        let b = blob(&head, &pieces).unwrap();
        for (r, p) in pieces.iter().enumerate() {
            let r = encode(&(r as u32), "r").unwrap();
            assert_eq!(&piece(&[&b, &r]).unwrap(), p);
        }
        let s = summary(&[&b]).unwrap();
        assert_eq!(
            decode::<(String, u64)>(&s, "s").unwrap(),
            ("counters".into(), 7)
        );
        let far = encode(&3u32, "r").unwrap();
        assert!(piece(&[&b, &far]).unwrap_err().contains("3 pieces"));
        assert!(piece(&[&b[..b.len() - 1], &far]).is_err());
        // Lengths that lie: a huge count, a huge piece.
        let mut lying = b.clone();
        let at = 4 + 4 + encode(&head, "h").unwrap().len() - 4;
        lying[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(summary(&[&lying]).unwrap_err().contains("shorter"));
        let mut huge = b.clone();
        huge[at + 4..at + 12].copy_from_slice(&u64::MAX.to_le_bytes());
        let zero = encode(&0u32, "r").unwrap();
        assert!(piece(&[&huge, &zero]).unwrap_err().contains("shorter"));
        assert!(summary(&[]).unwrap_err().contains("at least 1"));
    }
}
