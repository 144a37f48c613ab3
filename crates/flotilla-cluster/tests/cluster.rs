//! Clusters of real processes on 127.0.0.1: a scheduler on a thread of
//! this test binary and workers that are copies of it (this binary calls
//! `worker_if_asked` first, so its copies become workers). Each test
//! starts its own `LocalCluster`; dropping it kills and reaps the workers,
//! also when the test fails.

/// Headless Chromium over the DevTools protocol, shared with flotilla's
/// browser tests.
#[path = "../../flotilla/tests/browser/chromium.rs"]
#[allow(dead_code)]
mod chromium;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flotilla_cluster::{
    remote, Arg, CallGraph, Client, ClusterError, LocalCluster, ProcessPool, Tls, Token,
};
use libtest_mimic::{Arguments, Failed, Trial};

#[remote(crate = flotilla_cluster)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[remote(crate = flotilla_cluster)]
fn total(parts: Vec<i64>) -> i64 {
    parts.iter().sum()
}

#[remote(crate = flotilla_cluster)]
fn explode(x: u32) -> u32 {
    if x == 3 {
        panic!("boom on {x}");
    }
    x
}

/// Sleeps `ms` milliseconds, then squares `x`.
#[remote(crate = flotilla_cluster)]
fn slow_square(ms: u64, x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    x * x
}

/// Panics until it has been called `succeed_on` times (counted in a file,
/// since every attempt may run in another process).
#[remote(crate = flotilla_cluster)]
fn flaky(counter: String, succeed_on: u32) -> u32 {
    let path = PathBuf::from(counter);
    let calls = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0)
        + 1;
    std::fs::write(&path, calls.to_string()).expect("the counter file is writable");
    if calls < succeed_on {
        panic!("attempt {calls} fails");
    }
    calls
}

/// Squares `x`, or aborts the whole process when `x == crash`.
#[remote(crate = flotilla_cluster)]
fn square_or_abort(x: u64, crash: u64) -> u64 {
    if x == crash {
        std::process::abort();
    }
    x * x
}

/// `mb` megabytes of `i`.
#[remote(crate = flotilla_cluster)]
fn block(i: u8, mb: usize) -> Vec<u8> {
    vec![i; mb << 20]
}

/// The sum of the bytes of a block.
#[remote(crate = flotilla_cluster)]
fn byte_sum(block: Vec<u8>) -> u64 {
    block.iter().map(|&b| u64::from(b)).sum()
}

/// Reads the file at `path` after `ms` and says which process did.
#[remote(crate = flotilla_cluster)]
fn read_here(path: String, ms: u64) -> (u32, usize) {
    std::thread::sleep(Duration::from_millis(ms));
    // An unreadable file reads as empty: the test's sizes catch it.
    let bytes = std::fs::read(&path).map_or(0, |b| b.len());
    (std::process::id(), bytes)
}

fn cluster(workers: usize, threads: usize) -> LocalCluster {
    LocalCluster::builder()
        .workers(workers)
        .threads_per_worker(threads)
        .start()
        .expect("the local cluster starts")
}

fn map_gather_and_futures_as_arguments() -> Result<(), Failed> {
    let cluster = cluster(2, 1);
    let client = cluster.client()?;
    let sums = client.map(add::REMOTE, (0..10, 10..20))?;
    let values = client.gather(&sums)?;
    assert_eq!(values, (0..10).map(|i| 2 * i + 10).collect::<Vec<i64>>());

    // A future as the argument of a later task: the graph grows while it runs.
    let x = client.submit(add::call(1, 2))?;
    let y = client.submit(add::call(&x, 10))?;
    let z = client.submit(add::call(&y, &x))?;
    assert_eq!(z.result()?, 16);
    assert_eq!(x.result()?, 3);

    // A future dropped once it is passed, before the call is submitted:
    // the call holds it until then.
    let w = client.submit(add::call(20, 1))?;
    assert_eq!(w.result()?, 21);
    let call = add::call(&w, 1);
    drop(w);
    client.status()?; // a round trip: anything sent so far has arrived
    assert_eq!(client.submit(call)?.result()?, 22);

    let parts = client.map(add::REMOTE, (0..100i64, 0..100i64))?;
    let chunk = client.gather(&parts)?;
    let sum = client.submit(total::call(chunk))?;
    assert_eq!(sum.result()?, 9900);

    let status = client.status()?;
    assert_eq!(status.workers.len(), 2, "{status:?}");
    assert!(status.finished >= 10, "{status:?}");
    Ok(())
}

fn scatter_as_completed_progress_and_cancel() -> Result<(), Failed> {
    let cluster = cluster(2, 1);
    let client = cluster.client()?;
    let data = client.scatter(&vec![1i64, 2, 3])?;
    assert_eq!(client.submit(total::call(&data))?.result()?, 6);
    assert_eq!(data.result()?, vec![1, 2, 3]);

    // Submitted slow first: the quick one ends first.
    let slow = client.submit(slow_square::call(400, 3))?;
    let quick = client.submit(slow_square::call(1, 2))?;
    let order: Vec<u64> = client
        .as_completed(&[slow.clone(), quick.clone()])
        .map(|f| f.result())
        .collect::<Result<_, _>>()?;
    assert_eq!(order, [4, 9]);
    client.progress(&[slow, quick])?;

    // A task waiting for its input is cancelled before it runs.
    let input = client.submit(slow_square::call(300, 5))?;
    let waiting = client.submit(slow_square::call(1, &input))?;
    client.cancel(&waiting)?;
    let err = waiting.result().unwrap_err().to_string();
    assert!(err.contains("was cancelled"), "{err}");
    assert_eq!(input.result()?, 25);
    Ok(())
}

fn a_panic_reaches_the_client_with_its_message_and_worker() -> Result<(), Failed> {
    let cluster = cluster(2, 1);
    let client = cluster.client()?;
    let futures = client.map(explode::REMOTE, (0..6u32,))?;
    let err = client.gather(&futures).unwrap_err();
    let ClusterError::Task {
        key,
        function,
        reason,
    } = &err
    else {
        return Err(format!("expected a task error, got {err:?}").into());
    };
    assert_eq!(key, "explode[3]");
    assert!(function.ends_with("::explode"), "{function}");
    assert!(reason.contains("panicked: boom on 3"), "{reason}");
    assert!(reason.contains("pid"), "names the worker: {reason}");
    // The other tasks are unaffected.
    assert_eq!(futures[5].result()?, 5);
    Ok(())
}

fn a_task_that_fails_twice_succeeds_on_its_third_attempt() -> Result<(), Failed> {
    let cluster = cluster(2, 1);
    let client = cluster.client()?;
    let counter = std::env::temp_dir().join(format!("flotilla-flaky-{}", std::process::id()));
    let _ = std::fs::remove_file(&counter);
    let path = counter.display().to_string();
    let f = client.submit(flaky::call(path.clone(), 3).retries(2))?;
    let calls = f.result();
    let _ = std::fs::remove_file(&counter);
    assert_eq!(calls?, 3);

    // Without enough retries the last error comes back.
    let g = client.submit(flaky::call(path, 3).retries(1))?;
    let err = g.result().unwrap_err().to_string();
    let _ = std::fs::remove_file(&counter);
    assert!(
        err.contains("attempt 2 fails") && err.contains("after 2 attempts"),
        "{err}"
    );
    Ok(())
}

fn a_killed_worker_costs_only_time() -> Result<(), Failed> {
    let mut cluster = cluster(2, 1);
    let client = cluster.client()?;
    let squares = client.map(slow_square::REMOTE, (std::iter::repeat(30u64), 0..40u64))?;
    // Let some finish on both workers, then kill one without warning.
    assert!(squares[0].wait_timeout(Duration::from_secs(30)));
    cluster.kill_worker(0)?;
    let values = client.gather(&squares)?;
    assert_eq!(values, (0..40u64).map(|x| x * x).collect::<Vec<_>>());
    assert_eq!(client.status()?.workers.len(), 1);
    Ok(())
}

/// Sends `signal` (STOP, CONT) to a process.
fn signal(pid: u32, signal: &str) -> Result<(), Failed> {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill -{signal} {pid} failed").into())
    }
}

fn a_silent_worker_is_removed_and_its_tasks_run_elsewhere() -> Result<(), Failed> {
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .worker_timeout(Duration::from_millis(400))
        .start()?;
    let client = cluster.client()?;
    let frozen = cluster.worker_pids()[0];
    // A stopped process keeps its connections open but says nothing.
    signal(frozen, "STOP")?;
    let squares = client.map(slow_square::REMOTE, (std::iter::repeat(5u64), 0..20u64));
    let values = squares.and_then(|s| client.gather(&s));
    let workers = client.status().map(|s| s.workers.len());
    signal(frozen, "CONT")?;
    assert_eq!(values?, (0..20u64).map(|x| x * x).collect::<Vec<_>>());
    assert_eq!(workers?, 1);
    Ok(())
}

fn a_wrong_or_missing_token_is_refused() -> Result<(), Failed> {
    let cluster = cluster(1, 1);
    let addr = cluster.addr().to_string();
    let err = Client::connect_with(&addr, Some(Token::new("not the token")?)).unwrap_err();
    assert!(
        matches!(err, ClusterError::Refused { .. }) && err.to_string().contains("wrong token"),
        "{err}"
    );
    let err = Client::connect_with(&addr, None).unwrap_err();
    assert!(err.to_string().contains("FLOTILLA_TOKEN"), "{err}");
    // The cluster goes on serving those who have it.
    let client = cluster.client()?;
    assert_eq!(client.submit(add::call(2, 2))?.result()?, 4);
    Ok(())
}

fn garbage_and_oversized_frames_close_only_their_connection() -> Result<(), Failed> {
    let cluster = cluster(1, 1);
    let addr = cluster.addr();
    for frame in [
        // A length far over the limit.
        u32::MAX.to_be_bytes().to_vec(),
        // A short frame of bytes that are no message.
        [&5u32.to_be_bytes()[..], &[0xff; 5]].concat(),
    ] {
        let mut raw = TcpStream::connect(addr)?;
        raw.set_read_timeout(Some(Duration::from_secs(10)))?;
        raw.write_all(&frame)?;
        let mut rest = Vec::new();
        // The scheduler closes this connection (read ends), and nothing else.
        let _ = raw.read_to_end(&mut rest);
    }
    let client = cluster.client()?;
    assert_eq!(client.submit(add::call(40, 2))?.result()?, 42);
    assert_eq!(client.status()?.workers.len(), 1);
    Ok(())
}

fn a_process_pool_survives_a_child_that_aborts() -> Result<(), Failed> {
    let pool = ProcessPool::new(2)?;
    let first = pool.pids();
    let futures = (0..6u64)
        .map(|x| pool.submit(square_or_abort::call(x, 3)))
        .collect::<Result<Vec<_>, _>>()?;
    for (x, f) in futures.iter().enumerate() {
        match f.result() {
            Ok(v) => assert_eq!(v, (x * x) as u64),
            Err(e) => {
                assert_eq!(x, 3, "only the task that aborted fails: {e}");
                assert!(e.to_string().contains("died"), "{e}");
            }
        }
    }
    assert!(futures[3].result().is_err());
    // The pool replaced the process and goes on.
    let squares = pool.map(square_or_abort::REMOTE, (0..20u64, std::iter::repeat(99)))?;
    assert_eq!(squares, (0..20u64).map(|x| x * x).collect::<Vec<_>>());
    let mut replaced = pool.pids();
    for _ in 0..500 {
        if pool.client().status()?.workers.len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        replaced = pool.pids();
    }
    assert_eq!(pool.client().status()?.workers.len(), 2);
    assert_ne!(
        first, replaced,
        "a new process took the place of the one that aborted"
    );
    Ok(())
}

fn scenario_1_sum_of_squares_on_a_process_pool() -> Result<(), Failed> {
    let pool = ProcessPool::builder().processes(3).start()?;
    let squares = pool.map(square_or_abort::REMOTE, (1..=100u64, std::iter::repeat(0)))?;
    assert_eq!(squares.iter().sum::<u64>(), 338_350);
    Ok(())
}

/// The computation of `map_gather_and_futures_as_arguments`, on any client.
fn same_program(client: &Client) -> Result<(i64, Vec<i64>), Failed> {
    let sums = client.map(add::REMOTE, (0..10, 10..20))?;
    let x = client.submit(add::call(1, 2))?;
    let y = client.submit(add::call(&x, 10))?;
    Ok((y.result()?, client.gather(&sums)?))
}

fn the_same_program_runs_in_process_or_on_a_cluster() -> Result<(), Failed> {
    let in_process = Client::in_process(2)?;
    assert!(in_process.is_in_process());
    let cluster = cluster(2, 1);
    let remote = cluster.client()?;
    assert!(!remote.is_in_process());
    let here = same_program(&in_process)?;
    assert_eq!(here, same_program(&remote)?);
    assert_eq!(here.0, 13);

    // A closure runs in-process, and is refused by a cluster before anything runs.
    let base = 40;
    let f = in_process.submit_fn(move || base + 2)?;
    assert_eq!(f.result()?, 42);
    let err = remote.submit_fn(move || base + 2).unwrap_err();
    assert!(
        matches!(err, ClusterError::ClosureOnCluster { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("#[flotilla::remote]") && message.contains("submit_fn"),
        "{message}"
    );
    assert_eq!(remote.status()?.finished, in_process.status()?.finished - 1);
    Ok(())
}

fn a_task_graph_by_key_is_computed_whole() -> Result<(), Failed> {
    let cluster = cluster(2, 1);
    let client = cluster.client()?;
    let mut g = CallGraph::new();
    // Added in any order: each node waits for the nodes it names.
    g.add("z", add::call(Arg::key("x"), Arg::key("y")))?;
    g.add("y", add::call(Arg::key("x"), 10))?;
    g.add("x", add::call(1, 2))?;
    let results = client.compute_graph(&g)?;
    assert_eq!(results.result::<i64>("z")?, 16);
    assert_eq!(results.result::<i64>("y")?, 13);
    assert!(results.result::<i64>("w").is_err());

    let mut bad = CallGraph::new();
    bad.add("a", add::call(Arg::key("b"), 1))?;
    let err = client.compute_graph(&bad).unwrap_err().to_string();
    assert!(
        err.contains("names \"b\", which is not in the graph"),
        "{err}"
    );
    bad.add("b", add::call(Arg::key("a"), 1))?;
    let err = client.compute_graph(&bad).unwrap_err().to_string();
    assert!(err.contains("cycle"), "{err}");
    // A key outside a graph means nothing.
    let err = client
        .submit(add::call(Arg::key("x"), 1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("CallGraph"), "{err}");
    Ok(())
}

/// Sums `parts` pairwise as a tree of tasks, each reading two futures
/// that may live on different workers.
fn tree_sum(
    client: &Client,
    mut parts: Vec<flotilla_cluster::ClusterFuture<i64>>,
) -> Result<i64, Failed> {
    while parts.len() > 1 {
        let mut next = Vec::new();
        for pair in parts.chunks(2) {
            next.push(match pair {
                [a, b] => client.submit(add::call(a, b))?,
                [a] => client.submit(add::call(a, 0))?,
                _ => unreachable!("chunks of two"),
            });
        }
        parts = next;
    }
    Ok(parts[0].result()?)
}

fn every_connection_is_encrypted_with_tls() -> Result<(), Failed> {
    let dir = std::env::temp_dir().join(format!("flotilla-tls-test-{}", std::process::id()));
    let tls = Tls::generate(&dir)?;
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .tls(tls.clone())
        .start()?;
    let client = cluster.client()?;
    // Results move worker to worker and to the client, all over TLS.
    let parts = client.map(add::REMOTE, (0..40i64, 0..40i64))?;
    assert_eq!(tree_sum(&client, parts)?, 1560);
    let values = client.gather(&client.map(add::REMOTE, (0..5i64, 5..10i64))?)?;
    assert_eq!(values, vec![5, 7, 9, 11, 13]);

    let addr = cluster.addr().to_string();
    let token = Some(cluster.token().clone());
    // Without TLS: refused, and the error says what to give.
    let err = Client::connect_with(&addr, token.clone()).unwrap_err();
    assert!(err.to_string().contains("FLOTILLA_TLS_CA"), "{err}");
    // With another authority: the scheduler's certificate is not trusted.
    let stranger = Tls::generate(&dir.join("stranger"))?;
    let err = Client::connect_tls(&addr, token.clone(), Some(stranger)).unwrap_err();
    assert!(
        matches!(err, ClusterError::Tls { .. }) && err.to_string().contains("handshake failed"),
        "{err}"
    );
    // The cluster goes on serving those who have the set-up.
    let again = Client::connect_tls(&addr, token, Some(tls))?;
    assert_eq!(again.submit(add::call(40, 2))?.result()?, 42);
    drop((client, again, cluster));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn status_shows_each_workers_memory_and_idle_time() -> Result<(), Failed> {
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        // Heartbeats, which carry the memory, a quarter of this apart.
        .worker_timeout(Duration::from_millis(400))
        .start()?;
    let client = cluster.client()?;
    let sums = client.map(add::REMOTE, (0..100i64, 0..100i64))?;
    assert_eq!(client.gather(&sums)?.len(), 100);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = client.status()?;
        let reported = status
            .workers
            .iter()
            .all(|w| w.memory_used.is_some_and(|m| m > 1 << 20) && w.uptime_micros > 0);
        let held: u64 = status.workers.iter().map(|w| w.held_bytes).sum();
        // 100 results of one postcard-encoded i64 each, held until released.
        if reported && held >= 100 {
            // Mostly idle: a hundred tiny tasks over at least a heartbeat.
            for w in &status.workers {
                assert!(w.idle_micros() > w.busy_micros, "{w:?}");
                assert!(w.idle_micros() <= w.uptime_micros, "{w:?}");
            }
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("no memory reported: {status:?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn the_schedulers_dashboard_shows_workers_tasks_and_metrics() -> Result<(), Failed> {
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(2)
        .worker_timeout(Duration::from_millis(400))
        .dashboard("127.0.0.1:0")
        .start()?;
    let at = cluster.dashboard_addr().ok_or("no dashboard")?;
    let client = cluster.client()?;
    let sums = client.map(add::REMOTE, (0..200i64, 0..200i64))?;
    let parts = client.gather(&sums)?;
    let total = client.submit(total::call(parts))?;
    assert_eq!(total.result()?, 39_800);
    // Sums of results held across the two workers: some inputs move.
    let pairs: Vec<_> = (0..20)
        .map(|i| client.submit(add::call(&sums[i], &sums[199 - i])))
        .collect::<Result<_, _>>()?;
    assert!(client.gather(&pairs)?.iter().all(|&v| v == 398));
    // The slow squares keep both workers' threads busy at once.
    let slow = client.map(slow_square::REMOTE, (vec![50u64; 8], 0..8u64))?;
    client.gather(&slow)?;

    let page = chromium::get(at, "/");
    assert!(page.contains("<canvas id=\"stream\""), "{page}");
    // The view, once the heartbeats brought the memory.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let view = loop {
        let view: serde_json::Value = serde_json::from_str(&chromium::get(at, "/api/view"))?;
        let reported = view["workers"].as_array().is_some_and(|w| {
            w.len() == 2 && w.iter().all(|w| w["memory"].as_u64() > Some(1 << 20))
        });
        if reported {
            break view;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("no memory in {view}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(view["lanes"].as_array().map(Vec::len), Some(4), "{view}");
    assert_eq!(view["placement"], "work-stealing");
    assert_eq!(
        view["totals"]["done"].as_u64(),
        Some(229),
        "{}",
        view["totals"]
    );
    let progress = view["progress"].as_array().ok_or("no progress")?;
    let add = progress
        .iter()
        .find(|p| p["kind"] == "add")
        .ok_or("no add")?;
    assert_eq!(
        (add["done"].as_u64(), add["total"].as_u64()),
        (Some(220), Some(220))
    );
    let squares = progress
        .iter()
        .find(|p| p["kind"] == "slow_square")
        .ok_or("no slow_square")?;
    assert_eq!(squares["done"].as_u64(), Some(8));
    assert!(!view["stream"].as_array().ok_or("no stream")?.is_empty());
    // Every slow square ran 50 ms: with two threads per worker, some ran
    // side by side, on two lanes of one worker.
    let mut lanes_used = std::collections::HashSet::new();
    for bar in view["stream"].as_array().unwrap() {
        lanes_used.insert(bar["lane"].as_u64());
    }
    assert!(lanes_used.len() >= 3, "{lanes_used:?}");

    let metrics = chromium::get(at, "/metrics");
    let value = |name: &str| -> Result<f64, Failed> {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .ok_or_else(|| format!("{name} missing from\n{metrics}").into())
    };
    assert_eq!(value("flotilla_tasks{state=\"done\"}")?, 229.0);
    assert_eq!(
        value("flotilla_task_duration_seconds_count{kind=\"slow_square\"}")?,
        8.0
    );
    assert!(value("flotilla_task_duration_seconds_sum{kind=\"slow_square\"}")? >= 0.4);
    assert!(value("flotilla_memory_bytes{worker=\"1\"}")? > 0.0);
    assert!(
        value("flotilla_transferred_bytes_total")? > 0.0,
        "no input moved"
    );
    Ok(())
}

fn the_schedulers_dashboard_updates_live_in_a_browser() -> Result<(), Failed> {
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .worker_timeout(Duration::from_millis(400))
        .dashboard("127.0.0.1:0")
        .start()?;
    let at = cluster.dashboard_addr().ok_or("no dashboard")?;
    let client = cluster.client()?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Rounds of ten 20 ms squares until the test is done with the page.
    let work = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || -> Result<(), String> {
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && rounds < 15 {
                let squares = client
                    .map(slow_square::REMOTE, (vec![20u64; 10], 0..10u64))
                    .map_err(|e| e.to_string())?;
                client.gather(&squares).map_err(|e| e.to_string())?;
                rounds += 1;
            }
            Ok(())
        })
    };
    let checked = (|| -> Result<(), Failed> {
        let browser = chromium::Browser::start();
        let mut page = browser.open(&format!("http://{at}/"));
        page.wait_until(
            "Number(document.body.dataset.updates) >= 4",
            Duration::from_secs(30),
        );
        let history = page.eval("document.body.dataset.doneHistory.split(',').map(Number)");
        let history: Vec<u64> = history
            .as_array()
            .ok_or("no history")?
            .iter()
            .filter_map(serde_json::Value::as_u64)
            .collect();
        if history.last() <= history.first() {
            return Err(format!("no task finished between updates: {history:?}").into());
        }
        let workers = page.eval("document.querySelectorAll('#workers tr.worker').length");
        if workers != 2 {
            return Err(format!("{workers} workers listed").into());
        }
        let kinds = page.eval("[...document.querySelectorAll('#progress tr.kind td:first-child')].map(td => td.textContent)");
        if !kinds
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "slow_square"))
        {
            return Err(format!("kinds {kinds}").into());
        }
        if page
            .eval("Number(document.getElementById('stream').dataset.bars)")
            .as_u64()
            < Some(1)
        {
            return Err("no bar in the stream".into());
        }
        if page
            .eval("document.querySelectorAll('svg.graph circle.node').length")
            .as_u64()
            < Some(10)
        {
            return Err("no graph drawn".into());
        }
        let errors = page.console_errors();
        if !errors.is_empty() {
            return Err(format!("console errors: {errors:?}").into());
        }
        if let Some(dir) = std::env::var_os("FLOTILLA_SCREENSHOTS") {
            page.screenshot(&std::path::Path::new(&dir).join("cluster-dashboard.png"));
        }
        Ok(())
    })();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    work.join().map_err(|_| "the work thread panicked")??;
    checked
}

/// Processes killed and reaped when the test ends, passed or not.
struct Reaped(Vec<std::process::Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn this_binary_becomes_a_worker_with_the_options_of_flotilla_worker() -> Result<(), Failed> {
    use flotilla_cluster::{SchedulerOptions, SchedulerServer};
    use std::process::{Command, Stdio};
    let token = Token::random()?;
    let scheduler = SchedulerServer::start(
        SchedulerOptions::new()
            .listen("127.0.0.1:0")
            .token(Some(token.clone())),
    )?;
    let addr = scheduler.addr().to_string();
    let dir = std::env::temp_dir().join(format!("flotilla-worker-args-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let token_file = dir.join("token");
    std::fs::write(&token_file, token.expose())?;
    let exe = std::env::current_exe()?;
    let mut procs = Reaped(Vec::new());
    procs.0.push(
        Command::new(&exe)
            .args([
                "--flotilla-worker",
                &addr,
                "--threads",
                "2",
                "--resources",
                "gpu=1",
            ])
            .arg("--token-file")
            .arg(&token_file)
            .env("FLOTILLA_WORKER_MEMORY_LIMIT", "64M")
            .env_remove("FLOTILLA_TOKEN")
            .stderr(Stdio::null())
            .spawn()?,
    );
    let client = Client::connect_with(&addr, Some(token))?;
    // A task that needs a gpu runs there: the worker offers one.
    let x = client.submit(add::call(20, 22).resource("gpu", 1))?;
    assert_eq!(x.result()?, 42);
    let status = client.status()?;
    let w = &status.workers[0];
    assert_eq!(
        (w.threads, w.memory_limit),
        (2, Some(64 << 20)),
        "{status:?}"
    );

    // A bad option: its message and exit code 2, before connecting.
    let out = Command::new(&exe)
        .args(["--flotilla-worker", &addr, "--memory-limit", "lots"])
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("memory limit") && err.contains("\"lots\""),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn a_worker_over_its_memory_limit_spills_and_goes_on() -> Result<(), Failed> {
    // Spills above 60% of 32 MB: 12 blocks of 2 MB cannot all stay.
    let cluster = LocalCluster::builder()
        .workers(1)
        .threads_per_worker(1)
        .memory_limit(32 << 20)
        // Heartbeats, which carry the spill figures, every 500 ms.
        .worker_timeout(Duration::from_secs(2))
        .start()?;
    let client = cluster.client()?;
    let blocks = client.map(block::REMOTE, (0..12u8, std::iter::repeat(2)))?;
    // Every block is read again: from memory or from its spill file.
    let sums = blocks
        .iter()
        .map(|b| client.submit(byte_sum::call(b)))
        .collect::<Result<Vec<_>, _>>()?;
    let expected: Vec<u64> = (0..12u64).map(|i| i * (2 << 20)).collect();
    assert_eq!(client.gather(&sums)?, expected);
    assert_eq!(client.gather(&blocks)?[11], vec![11u8; 2 << 20]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = client.status()?;
        let w = &status.workers[0];
        if w.spill_written > 0 && w.spill_read_back > 0 {
            assert!(w.spilled_bytes > 0, "{w:?}");
            assert!(w.held_bytes <= 20 << 20, "held over the spill mark: {w:?}");
            assert_eq!(w.memory_limit, Some(32 << 20));
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("nothing spilled: {w:?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The length of a line in words.
#[remote(crate = flotilla_cluster)]
fn word_count(line: String) -> usize {
    line.split_whitespace().count()
}

fn many_small_items_run_in_batches_on_the_workers() -> Result<(), Failed> {
    let cluster = cluster(2, 1);
    let client = cluster.client()?;
    let lines: Vec<String> = (0..5_000).map(|i| "w ".repeat(i % 7)).collect();
    let before = client.status()?.finished;
    let batches = client.map_batched(word_count::BATCH, lines.iter().cloned(), 500)?;
    assert_eq!(batches.len(), 10);
    let counts: Vec<usize> = client.gather(&batches)?.into_iter().flatten().collect();
    assert_eq!(counts, (0..5_000).map(|i| i % 7).collect::<Vec<usize>>());
    // Ten tasks, not five thousand.
    assert_eq!(client.status()?.finished - before, 10);
    // A batch can be the result of an earlier task.
    let made = client.scatter(&lines[..3].to_vec())?;
    assert_eq!(
        client.submit(word_count::BATCH.call(&made))?.result()?,
        vec![0, 1, 2]
    );
    let err = client.map_batched(word_count::BATCH, lines, 0).unwrap_err();
    assert!(err.to_string().contains("batch of 0"), "{err}");
    Ok(())
}

#[remote(crate = flotilla_cluster)]
fn sleep_then_double(micros: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(micros));
    2 * micros
}

/// Batches sized from measured durations: tiny items end up many to a
/// task, items slower than the target each alone; results in item order.
fn a_map_sizes_its_batches_from_the_items_measured_durations() -> Result<(), Failed> {
    let cluster = cluster(2, 1);
    let client = cluster.client()?;
    let tiny: Vec<String> = (0..200_000).map(|i| "w ".repeat(i % 5)).collect();
    let sizer = flotilla_cluster::BatchSizer::new(Duration::from_millis(20));
    let batches = client.map_adaptive(word_count::BATCH, tiny.iter().cloned(), sizer)?;
    let counts: Vec<usize> = client.gather(&batches)?.into_iter().flatten().collect();
    assert_eq!(counts, (0..200_000).map(|i| i % 5).collect::<Vec<usize>>());
    assert!(
        batches.len() < 2_000,
        "{} tasks for 200,000 tiny items",
        batches.len()
    );
    // The learned sizes: the last batches are far larger than the first.
    let sizes: Vec<usize> = client.gather(&batches)?.iter().map(Vec::len).collect();
    assert!(
        sizes[0] < 10 && sizes.iter().max() > Some(&1_000),
        "{sizes:?}"
    );

    // Items of 30 ms against a 10 ms target: one per task.
    let slow = vec![30_000u64; 12];
    let sizer = flotilla_cluster::BatchSizer::new(Duration::from_millis(10));
    let batches = client.map_adaptive(sleep_then_double::BATCH, slow, sizer)?;
    assert_eq!(batches.len(), 12);
    let doubled: Vec<u64> = client.gather(&batches)?.into_iter().flatten().collect();
    assert_eq!(doubled, vec![60_000; 12]);
    assert!(batches[0].run_time() >= Some(Duration::from_millis(30)));
    Ok(())
}

/// Two workers, each holding one folder on its "own disk"; the splits
/// are listed so that dealing them in turn would send half of them to the
/// wrong worker. Each runs where its file lies; a file under neither folder
/// runs all the same.
fn map_tasks_run_on_the_worker_that_holds_their_file() -> Result<(), Failed> {
    let root = std::env::temp_dir().join(format!("flotilla-locality-{}", std::process::id()));
    let disks = [
        root.join("disk-0"),
        root.join("disk-1"),
        root.join("shared"),
    ];
    for d in &disks {
        std::fs::create_dir_all(d)?;
    }
    let cleanup = Cleanup(root.clone());
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .local_data(0, &disks[0])
        .local_data(1, &disks[1])
        .start()?;
    let pids = cluster.worker_pids();
    let client = cluster.client()?;
    let holders = [1, 1, 0, 0];
    let mut graph = CallGraph::new();
    for (i, &holder) in holders.iter().enumerate() {
        let file = disks[holder].join(format!("part-{i}.txt"));
        std::fs::write(&file, vec![b'x'; 10 + i])?;
        let path = file.display().to_string();
        graph.add(
            &format!("split-{i}"),
            read_here::call(path, 150).reads(&file),
        )?;
    }
    let shared = disks[2].join("part-4.txt");
    std::fs::write(&shared, b"shared")?;
    let path = shared.display().to_string();
    graph.add("split-4", read_here::call(path, 0).reads(&shared))?;
    let done = client.compute_graph(&graph)?;
    for (i, &holder) in holders.iter().enumerate() {
        let (pid, bytes): (u32, usize) = done.result(&format!("split-{i}"))?;
        assert_eq!(bytes, 10 + i);
        assert_eq!(
            pid, pids[holder],
            "split {i} lies on worker {holder} (pids {pids:?})"
        );
    }
    let (pid, bytes): (u32, usize) = done.result("split-4")?;
    assert_eq!(bytes, 6);
    assert!(pids.contains(&pid));
    drop(cleanup);
    Ok(())
}

/// Takes 20 ms, or `slow_ms` in the process `slow_pid`; says which
/// process ran it.
#[remote(crate = flotilla_cluster)]
fn tile(i: u32, slow_pid: u32, slow_ms: u64) -> (u32, u32) {
    let ms = if std::process::id() == slow_pid {
        slow_ms
    } else {
        20
    };
    std::thread::sleep(Duration::from_millis(ms));
    (i, std::process::id())
}

/// One worker is slow (a tile takes 5 s there, 20 ms elsewhere): with
/// speculation on, its straggling tiles are copied to the other worker,
/// the copies' results are the ones kept, and the status counts them.
/// (Without speculation two tiles come from the slow worker.)
fn a_straggler_is_copied_to_another_worker_and_the_copy_wins() -> Result<(), Failed> {
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .speculation(Some(
            flotilla_cluster::Speculation::new(2.0).min_runtime(Duration::from_millis(100)),
        ))
        .start()?;
    let slow = cluster.worker_pids()[0];
    let client = cluster.client()?;
    // The scheduler serves no dashboard: it keeps a record from here on.
    let recorder = client.record()?;
    let tiles = client.map(tile::REMOTE, (0..8u32, vec![slow; 8], vec![5_000u64; 8]))?;
    let done = client.gather(&tiles)?;
    assert_eq!(
        done.iter().map(|d| d.0).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
    assert!(done.iter().all(|d| d.1 != slow), "{done:?} (slow: {slow})");
    let status = client.status()?;
    assert!(status.copied >= 1 && status.copies_won >= 1, "{status:?}");

    // The run as its report draws it: the tiles on both workers' lanes,
    // and the copies among the scheduler's decisions.
    use flotilla_core::trace::{DecisionKind, Outcome};
    let trace = recorder.trace("a straggler")?;
    assert_eq!(trace.title, "a straggler");
    assert_eq!(trace.lanes.len(), 2, "{:?}", trace.lanes);
    assert_eq!(trace.kinds, ["tile"]);
    let done_spans = trace.spans.iter().filter(|s| s.outcome == Outcome::Done);
    assert!(done_spans.count() >= 8, "{:?}", trace.spans);
    let copies = trace
        .decisions
        .iter()
        .filter(|d| d.kind == DecisionKind::Copy)
        .count();
    assert!(copies as u64 >= status.copied, "{:?}", trace.decisions);
    assert!(trace
        .config
        .iter()
        .any(|(k, v)| k == "placement" && v == "work-stealing"));
    let html = flotilla_dashboard::report::render(&trace);
    assert!(html.contains("speculative copies"), "{html}");
    // A recorder made later holds none of it.
    let later = client.record()?;
    assert!(later.trace("later")?.spans.is_empty());
    Ok(())
}

/// Appends `line` to the file `log` (one line per execution), in one
/// `write` call: workers in other processes append to the same file, and
/// `writeln!` may write the text and its newline separately, interleaving
/// two lines.
fn log_line(log: &str, line: String) {
    use std::io::Write as _;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

#[remote(crate = flotilla_cluster)]
fn logged_square(log: String, x: u64) -> u64 {
    log_line(&log, format!("square {x}"));
    x * x
}

#[remote(crate = flotilla_cluster)]
fn logged_add(log: String, a: u64, b: u64) -> u64 {
    log_line(&log, format!("add {a} {b}"));
    a + b
}

/// Squares of `inputs` summed along a chain (acc[i] = acc[i-1] + sq[i]),
/// every call checkpointed; runs only the first `submit` squares (an
/// interrupted run) or everything. The final sum, if it ran that far.
fn checkpointed_chain(
    client: &Client,
    checkpoint: &flotilla_cluster::Checkpoint,
    log: &str,
    inputs: &[u64],
    submit: usize,
) -> Result<Option<u64>, Failed> {
    let squares = inputs
        .iter()
        .take(submit)
        .map(|&x| client.submit(logged_square::call(log.to_string(), x).checkpoint(checkpoint)))
        .collect::<Result<Vec<_>, _>>()?;
    if submit < inputs.len() {
        for s in &squares {
            s.result()?;
        }
        return Ok(None);
    }
    let mut acc = client.submit(logged_square::call(log.to_string(), 0).checkpoint(checkpoint))?;
    for s in &squares {
        acc = client.submit(logged_add::call(log.to_string(), &acc, s).checkpoint(checkpoint))?;
    }
    Ok(Some(acc.result()?))
}

fn take_log(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let _ = std::fs::remove_file(log);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.sort();
    lines
}

/// An interrupted run keeps what finished; the run started again computes
/// only the rest; a changed input computes that task and what is
/// downstream of it, and reads everything else back. Each run is a fresh
/// cluster of two worker processes, as after a crash.
fn a_checkpointed_run_resumes_and_recomputes_exactly_what_changed() -> Result<(), Failed> {
    let root = std::env::temp_dir().join(format!("flotilla-ckpt-{}", std::process::id()));
    let cleanup = Cleanup(root.clone());
    std::fs::create_dir_all(&root)?;
    let log_path = root.join("executions.log");
    let log = log_path.display().to_string();
    let run = |inputs: &[u64], submit: usize| -> Result<(Option<u64>, u64, u64), Failed> {
        let checkpoint = flotilla_cluster::Checkpoint::open(root.join("checkpoint"))?;
        let cluster = cluster(2, 1);
        let client = cluster.client()?;
        let sum = checkpointed_chain(&client, &checkpoint, &log, inputs, submit)?;
        Ok((sum, checkpoint.computed(), checkpoint.loaded()))
    };
    let inputs = [1u64, 2, 3, 4, 5, 6];
    // Interrupted after three squares.
    assert_eq!(run(&inputs, 3)?, (None, 3, 0));
    assert_eq!(take_log(&log_path), ["square 1", "square 2", "square 3"]);
    // Started again: the three other squares, the zero and the six adds.
    assert_eq!(run(&inputs, 6)?, (Some(91), 10, 3));
    assert_eq!(take_log(&log_path).len(), 10);
    // Nothing changed: nothing runs.
    assert_eq!(run(&inputs, 6)?, (Some(91), 0, 13));
    assert!(take_log(&log_path).is_empty());
    // Input 5 becomes 10: its square and the adds from there on.
    let changed = [1u64, 2, 3, 4, 10, 6];
    assert_eq!(run(&changed, 6)?, (Some(166), 3, 10));
    assert_eq!(
        take_log(&log_path),
        ["add 130 36", "add 30 100", "square 10"]
    );
    drop(cleanup);
    Ok(())
}

/// A keyed graph's checkpointed nodes chain their keys through graph
/// keys as calls do through futures: computed again, every node is read
/// back; a node whose input changed runs with those downstream of it.
fn a_checkpointed_graph_reads_back_what_it_computed() -> Result<(), Failed> {
    let root = std::env::temp_dir().join(format!("flotilla-ckpt-graph-{}", std::process::id()));
    let cleanup = Cleanup(root.clone());
    let client = Client::in_process(2)?;
    let log = root.join("executions.log").display().to_string();
    let graph = |x: u64| -> Result<(CallGraph, flotilla_cluster::Checkpoint), Failed> {
        let checkpoint = flotilla_cluster::Checkpoint::open(root.join("checkpoint"))?;
        let mut g = CallGraph::new();
        g.add(
            "a",
            logged_square::call(log.clone(), x).checkpoint(&checkpoint),
        )?;
        g.add(
            "b",
            logged_square::call(log.clone(), 2).checkpoint(&checkpoint),
        )?;
        let sum = logged_add::call(log.clone(), Arg::key("a"), Arg::key("b"));
        g.add("sum", sum.checkpoint(&checkpoint))?;
        Ok((g, checkpoint))
    };
    for (x, expected, computed) in [(3u64, 13u64, 3u64), (3, 13, 0), (4, 20, 2)] {
        let (g, checkpoint) = graph(x)?;
        let done = client.compute_graph(&g)?;
        assert_eq!(done.result::<u64>("sum")?, expected);
        assert_eq!(
            (checkpoint.computed(), checkpoint.loaded()),
            (computed, 3 - computed)
        );
    }
    drop(cleanup);
    Ok(())
}

/// Removes a test's folder when dropped, also when the test fails.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() {
    flotilla_cluster::worker_if_asked();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "a_checkpointed_graph_reads_back_what_it_computed",
            a_checkpointed_graph_reads_back_what_it_computed,
        ),
        Trial::test(
            "a_checkpointed_run_resumes_and_recomputes_exactly_what_changed",
            a_checkpointed_run_resumes_and_recomputes_exactly_what_changed,
        ),
        Trial::test(
            "a_straggler_is_copied_to_another_worker_and_the_copy_wins",
            a_straggler_is_copied_to_another_worker_and_the_copy_wins,
        ),
        Trial::test(
            "a_map_sizes_its_batches_from_the_items_measured_durations",
            a_map_sizes_its_batches_from_the_items_measured_durations,
        ),
        Trial::test(
            "map_tasks_run_on_the_worker_that_holds_their_file",
            map_tasks_run_on_the_worker_that_holds_their_file,
        ),
        Trial::test(
            "many_small_items_run_in_batches_on_the_workers",
            many_small_items_run_in_batches_on_the_workers,
        ),
        Trial::test(
            "a_task_graph_by_key_is_computed_whole",
            a_task_graph_by_key_is_computed_whole,
        ),
        Trial::test(
            "the_same_program_runs_in_process_or_on_a_cluster",
            the_same_program_runs_in_process_or_on_a_cluster,
        ),
        Trial::test(
            "a_process_pool_survives_a_child_that_aborts",
            a_process_pool_survives_a_child_that_aborts,
        ),
        Trial::test(
            "scenario_1_sum_of_squares_on_a_process_pool",
            scenario_1_sum_of_squares_on_a_process_pool,
        ),
        Trial::test(
            "scatter_as_completed_progress_and_cancel",
            scatter_as_completed_progress_and_cancel,
        ),
        Trial::test(
            "map_gather_and_futures_as_arguments",
            map_gather_and_futures_as_arguments,
        ),
        Trial::test(
            "a_panic_reaches_the_client_with_its_message_and_worker",
            a_panic_reaches_the_client_with_its_message_and_worker,
        ),
        Trial::test(
            "a_task_that_fails_twice_succeeds_on_its_third_attempt",
            a_task_that_fails_twice_succeeds_on_its_third_attempt,
        ),
        Trial::test(
            "a_killed_worker_costs_only_time",
            a_killed_worker_costs_only_time,
        ),
        Trial::test(
            "a_silent_worker_is_removed_and_its_tasks_run_elsewhere",
            a_silent_worker_is_removed_and_its_tasks_run_elsewhere,
        ),
        Trial::test(
            "a_wrong_or_missing_token_is_refused",
            a_wrong_or_missing_token_is_refused,
        ),
        Trial::test(
            "this_binary_becomes_a_worker_with_the_options_of_flotilla_worker",
            this_binary_becomes_a_worker_with_the_options_of_flotilla_worker,
        ),
        Trial::test(
            "a_worker_over_its_memory_limit_spills_and_goes_on",
            a_worker_over_its_memory_limit_spills_and_goes_on,
        ),
        Trial::test(
            "status_shows_each_workers_memory_and_idle_time",
            status_shows_each_workers_memory_and_idle_time,
        ),
        Trial::test(
            "the_schedulers_dashboard_updates_live_in_a_browser",
            the_schedulers_dashboard_updates_live_in_a_browser,
        ),
        Trial::test(
            "the_schedulers_dashboard_shows_workers_tasks_and_metrics",
            the_schedulers_dashboard_shows_workers_tasks_and_metrics,
        ),
        Trial::test(
            "every_connection_is_encrypted_with_tls",
            every_connection_is_encrypted_with_tls,
        ),
        Trial::test(
            "garbage_and_oversized_frames_close_only_their_connection",
            garbage_and_oversized_frames_close_only_their_connection,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
