//! W1 and W2 on a `LocalCluster`: worker processes of this binary, the
//! tasks' functions registered with `#[remote]`.

use std::time::Instant;

use anyhow::bail;
use flotilla::cluster::{ClusterFuture, LocalCluster};

use super::{emit, BenchArgs};

/// W1's task: i + 1.
#[flotilla::remote]
fn increment(i: u64) -> u64 {
    i + 1
}

/// W2's leaf: i itself.
#[flotilla::remote]
fn leaf(i: u64) -> u64 {
    i
}

/// W2's inner node: the sum of two children.
#[flotilla::remote]
fn sum_pair(a: u64, b: u64) -> u64 {
    a + b
}

/// W7's task: `ms` milliseconds of CPU-busy work.
#[flotilla::remote]
fn spin_ms(ms: f64) -> f64 {
    crate::spin::spin(ms)
}

fn start(args: &BenchArgs) -> anyhow::Result<LocalCluster> {
    let mut builder = LocalCluster::builder().workers(args.workers);
    if let Some(p) = args.policy {
        builder = builder.placement(p);
    }
    Ok(builder.start()?)
}

/// W1: 100,000 tasks submitted one by one, gathered.
pub(super) fn w1(args: &BenchArgs) -> anyhow::Result<()> {
    let n = args.n;
    let cluster = start(args)?;
    let client = cluster.client()?;
    client.submit(increment::call(0))?.result()?; // warm
    let begin = Instant::now();
    let futures = (0..n)
        .map(|i| client.submit(increment::call(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let sum: u64 = client.gather(&futures)?.iter().sum();
    let secs = begin.elapsed().as_secs_f64();
    let expected = n * (n + 1) / 2;
    if sum != expected {
        bail!("W1 on the cluster computed {sum}, expected {expected}");
    }
    emit(&[
        ("workload", "W1".into()),
        ("system", "flotilla-cluster".into()),
        ("seconds", secs.into()),
        ("result", sum.to_string().into()),
        ("us_per_task", (secs / n as f64 * 1e6).into()),
        ("workers", args.workers.into()),
    ]);
    Ok(())
}

/// W2: a binary tree reduction over n leaves, each node a task whose
/// arguments are the futures of its children.
pub(super) fn w2(args: &BenchArgs) -> anyhow::Result<()> {
    let n = args.n.max(1);
    let cluster = start(args)?;
    let client = cluster.client()?;
    client.submit(leaf::call(0))?.result()?; // warm
    let begin = Instant::now();
    let mut level: Vec<ClusterFuture<u64>> = client.map(leaf::REMOTE, (0..n,))?;
    let mut tasks = level.len() as u64;
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            match pair {
                [a, b] => next.push(client.submit(sum_pair::call(a, b))?),
                [a] => next.push(a.clone()),
                _ => {}
            }
        }
        tasks += (level.len() / 2) as u64;
        // The children's results are released once their parents read them.
        level = next;
    }
    let total = level[0].result()?;
    let secs = begin.elapsed().as_secs_f64();
    let expected = n * (n - 1) / 2;
    if total != expected {
        bail!("W2 on the cluster computed {total}, expected {expected}");
    }
    emit(&[
        ("workload", "W2".into()),
        ("system", "flotilla-cluster".into()),
        ("seconds", secs.into()),
        ("result", total.to_string().into()),
        ("us_per_task", (secs / tasks as f64 * 1e6).into()),
        ("tasks", (tasks as usize).into()),
        ("workers", args.workers.into()),
    ]);
    Ok(())
}

/// W7: one CPU-busy task per line of each skew file, on the cluster under
/// its placement policy; utilization from the workers' busy time.
pub(super) fn w7(args: &BenchArgs) -> anyhow::Result<()> {
    let inputs = super::skew_inputs(args)?;
    let cluster = start(args)?;
    let client = cluster.client()?;
    client.submit(spin_ms::call(0.0))?.result()?; // warm
    let policy = args.policy.unwrap_or_default();
    for (shape, durations) in &inputs {
        let before = client.status()?;
        let begin = Instant::now();
        let futures = client.map(spin_ms::REMOTE, (durations.iter().copied(),))?;
        let total: f64 = client.gather(&futures)?.iter().sum();
        let makespan = begin.elapsed().as_secs_f64();
        let after = client.status()?;
        let busy: f64 = after
            .workers
            .iter()
            .map(|w| {
                let earlier = before
                    .workers
                    .iter()
                    .find(|b| b.id == w.id)
                    .map_or(0, |b| b.busy_micros);
                (w.busy_micros - earlier) as f64 / 1e6
            })
            .sum();
        let stolen: u64 = after.workers.iter().map(|w| w.stolen).sum::<u64>()
            - before.workers.iter().map(|w| w.stolen).sum::<u64>();
        let threads: u64 = after.workers.iter().map(|w| u64::from(w.threads)).sum();
        let utilization = (busy / (threads as f64 * makespan)).min(1.0);
        emit(&[
            ("workload", "W7".into()),
            ("system", "flotilla-cluster".into()),
            ("seconds", makespan.into()),
            (
                "result",
                format!("{}", crate::json::round_sig(total, 6)).into(),
            ),
            ("shape", shape.as_str().into()),
            ("policy", policy.name().into()),
            ("makespan", makespan.into()),
            ("utilization", utilization.into()),
            ("stolen", (stolen as usize).into()),
            ("workers", args.workers.into()),
        ]);
    }
    Ok(())
}
