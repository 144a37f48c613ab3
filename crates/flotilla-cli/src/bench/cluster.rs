//! W1, W2, W3, W4, W7 and W8 on a `LocalCluster`: worker processes of
//! this binary, the tasks' functions registered with `#[remote]` and the
//! MapReduce jobs with `cluster_job!` (the built-in ones are).

use std::time::Instant;

use anyhow::bail;
use flotilla::cluster::{Client, ClusterFuture, LocalCluster, LocalClusterBuilder};
use flotilla::mapreduce::builtin::{RatingsBreakdown, WordCount};
use flotilla::mapreduce::{ClusterJobRunner, JobOutput};

use super::{emit, job_config, peak_rss_mb, w3_result, w4_result, BenchArgs, BenchCluster};

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

/// A local cluster of `--workers` workers, placing with `--policy`,
/// serving `--dashboard`.
fn builder(args: &BenchArgs) -> LocalClusterBuilder {
    let mut builder = LocalCluster::builder().workers(args.workers);
    if let Some(p) = args.policy {
        builder = builder.placement(p);
    }
    if let Some(addr) = &args.dashboard {
        builder = builder.dashboard(addr);
    }
    builder
}

pub(super) fn start(args: &BenchArgs) -> anyhow::Result<BenchCluster> {
    BenchCluster::new(args, builder(args).start()?)
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

/// Runs W3's job on `client`'s cluster.
fn ratings(args: &BenchArgs, client: &Client, input: &str) -> anyhow::Result<JobOutput<(u8, u64)>> {
    Ok(ClusterJobRunner::new(client)
        .config(job_config(args))
        .run_text(RatingsBreakdown, &[input])?)
}

/// W3: ratings per rating value, the typed job on the workers.
pub(super) fn w3(args: &BenchArgs, input: &str) -> anyhow::Result<()> {
    let cluster = start(args)?;
    let client = cluster.client()?;
    let begin = Instant::now();
    let out = ratings(args, &client, input)?;
    let secs = begin.elapsed().as_secs_f64();
    let counters = out.counters.clone();
    let mut counts = out.records();
    counts.sort();
    emit(&[
        ("workload", "W3".into()),
        ("system", "flotilla-cluster".into()),
        ("seconds", secs.into()),
        ("result", w3_result(&counts)),
        ("records", (counters.map_input_records as usize).into()),
        ("shuffled", (counters.shuffled_records as usize).into()),
        ("workers", args.workers.into()),
    ]);
    Ok(())
}

/// W4: word count, the typed job on the workers.
pub(super) fn w4(args: &BenchArgs, input: &str) -> anyhow::Result<()> {
    let cluster = start(args)?;
    let client = cluster.client()?;
    let begin = Instant::now();
    let runner = ClusterJobRunner::new(&client).config(job_config(args));
    let out = if args.no_combiner {
        runner.run_text(WordCount::<false>, &[input])?
    } else {
        runner.run_text(WordCount::<true>, &[input])?
    };
    let counters = out.counters.clone();
    let (result, total) = w4_result(out.records());
    let secs = begin.elapsed().as_secs_f64();
    emit(&[
        ("workload", "W4".into()),
        ("system", "flotilla-cluster".into()),
        ("seconds", secs.into()),
        ("result", result),
        ("total_words", (total as usize).into()),
        ("shuffled", (counters.shuffled_records as usize).into()),
        ("spilled_bytes", (counters.spilled_bytes as usize).into()),
        ("client_peak_rss_mb", peak_rss_mb().into()),
        ("workers", args.workers.into()),
    ]);
    Ok(())
}

/// W8: W3 on the cluster without a fault, then again with worker 0 killed
/// (SIGKILL) about half-way through, a fresh worker taking its place as a
/// crashed machine's would; the same counts, and the slowdown.
pub(super) fn w8(args: &BenchArgs, input: &str) -> anyhow::Result<()> {
    let mut cluster = BenchCluster::new(args, builder(args).replace_lost_workers(true).start()?)?;
    let client = cluster.client()?;
    // A first run warms the page cache and the workers, so that the run
    // without a fault and the run with one start alike.
    ratings(args, &client, input)?;
    let begin = Instant::now();
    let clean = ratings(args, &client, input)?;
    let clean_secs = begin.elapsed().as_secs_f64();
    let mut expected = clean.records();
    expected.sort();

    let begin = Instant::now();
    let (faulty, killed_at) = std::thread::scope(|s| {
        let run = s.spawn(|| ratings(args, &client, input));
        std::thread::sleep(std::time::Duration::from_secs_f64(clean_secs / 2.0));
        let killed_at = if run.is_finished() {
            None
        } else {
            cluster.kill_worker(0)?;
            Some(begin.elapsed().as_secs_f64())
        };
        let out = run
            .join()
            .map_err(|_| anyhow::anyhow!("the faulty run's thread panicked"))??;
        anyhow::Ok((out, killed_at))
    })?;
    let secs = begin.elapsed().as_secs_f64();
    let Some(killed_at) = killed_at else {
        bail!("W8: the run ended before the worker could be killed ({secs:.3} s)");
    };
    let mut counts = faulty.records();
    counts.sort();
    if counts != expected {
        bail!("W8: the run with a fault counted {counts:?}, without {expected:?}");
    }
    emit(&[
        ("workload", "W8".into()),
        ("system", "flotilla-cluster".into()),
        ("seconds", secs.into()),
        ("result", w3_result(&counts)),
        ("seconds_without_fault", clean_secs.into()),
        ("slowdown", (secs / clean_secs).into()),
        ("killed_at_seconds", killed_at.into()),
        ("workers", args.workers.into()),
    ]);
    Ok(())
}
