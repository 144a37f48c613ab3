//! Helpers of the tests that run on clusters of processes.

use std::time::{Duration, Instant};

use flotilla::cluster::{Client, LocalCluster};
use libtest_mimic::Failed;

/// Runs `run` on a thread and kills worker 0 of `cluster` (SIGKILL) once
/// `ready` says so of the count of finished tasks `watcher` sees; `run`'s
/// result. Fails when the run ends first.
pub(crate) fn run_and_kill<T: Send, E: std::fmt::Display + Send>(
    cluster: &mut LocalCluster,
    watcher: &Client,
    ready: impl Fn(u64) -> bool,
    run: impl FnOnce() -> Result<T, E> + Send,
) -> Result<T, Failed> {
    std::thread::scope(|s| {
        let run = s.spawn(run);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let finished = watcher.status()?.finished;
            if ready(finished) {
                cluster.kill_worker(0)?;
                break;
            }
            if run.is_finished() || Instant::now() > deadline {
                return Err(Failed::from(format!(
                    "the moment to kill never came ({finished} tasks finished)"
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        run.join()
            .map_err(|_| Failed::from("the job's thread panicked"))?
            .map_err(|e| Failed::from(e.to_string()))
    })
}

/// Checks that each of the `workers` workers of `client`'s cluster, all of
/// which ran tasks, peaked under `limit` bytes of resident memory, as their
/// next heartbeats say.
pub(crate) fn peaks_stay_under(client: &Client, workers: usize, limit: u64) -> Result<(), Failed> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client.status()?;
        let peaks: Vec<u64> = status
            .workers
            .iter()
            .filter_map(|w| w.peak_memory)
            .collect();
        if peaks.len() == workers && status.workers.iter().all(|w| w.tasks > 0) {
            eprintln!("peak resident bytes per worker: {peaks:?} (limit {limit})");
            for p in &peaks {
                assert!(
                    *p < limit,
                    "a worker peaked at {p} bytes, over its limit of {limit}"
                );
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("no peak memory reported: {status:?}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
