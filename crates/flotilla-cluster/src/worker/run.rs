//! Running tasks on the worker: inputs gathered (from the store, or
//! fetched from the workers that hold them), a few tasks at a time on the
//! pool, outcomes reported.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use flotilla_local::panic_message;

use super::{lock, Shared};
use crate::protocol::messages::{
    Failed, Failure, Finished, GiveUpAnswer, RunTask, WireArg, WorkerMessage,
};
use crate::registry;
use crate::task_context::TaskContext;

/// A task whose inputs are all here.
#[derive(Debug)]
pub(crate) struct Prepared {
    task: RunTask,
    inputs: Vec<Arc<Vec<u8>>>,
}

/// Takes tasks from the scheduler: those whose inputs are here queue at
/// once; the others wait for their inputs, fetched for the whole batch
/// together (one pipelined exchange per worker that holds some).
pub(crate) fn accept_tasks(shared: &Arc<Shared>, tasks: Vec<RunTask>) {
    let mut waiting = Vec::new();
    {
        let mut store = lock(&shared.store);
        let mut q = lock(&shared.queue);
        for task in tasks {
            let local: Option<Vec<Arc<Vec<u8>>>> =
                task.inputs.iter().map(|i| store.get(i.task)).collect();
            match local {
                Some(inputs) => {
                    let first = task.first;
                    let p = Prepared { task, inputs };
                    if first {
                        q.ready.push_front(p);
                    } else {
                        q.ready.push_back(p);
                    }
                }
                None => waiting.push(task),
            }
        }
    }
    if !waiting.is_empty() {
        let shared = Arc::clone(shared);
        let fetching: Vec<u32> = waiting.iter().map(|t| t.task).collect();
        {
            let mut q = lock(&shared.queue);
            for &t in &fetching {
                *q.fetching.entry(t).or_insert(0) += 1;
            }
        }
        tokio::spawn(async move {
            let prepared = fetch_inputs(&shared, waiting).await;
            let mut q = lock(&shared.queue);
            for p in prepared {
                if q.cancelled.contains(&p.task.task) {
                    continue;
                }
                if p.task.first {
                    q.ready.push_front(p);
                } else {
                    q.ready.push_back(p);
                }
            }
            // Every task of the batch is queued, dropped or failed now; a
            // cancellation is forgotten once no batch fetches for it.
            for t in &fetching {
                if let Some(n) = q.fetching.get_mut(t) {
                    *n -= 1;
                    if *n == 0 {
                        q.fetching.remove(t);
                        q.cancelled.remove(t);
                    }
                }
            }
            drop(q);
            pump(&shared);
        });
    }
    pump(shared);
}

/// Gathers the inputs of `tasks`, fetching what is not here from the
/// workers that hold it, every worker at once; a task whose input cannot
/// be fetched is reported as having lost it.
async fn fetch_inputs(shared: &Arc<Shared>, tasks: Vec<RunTask>) -> Vec<Prepared> {
    // What to fetch from where, each result once.
    let mut wanted: HashMap<&str, Vec<u32>> = HashMap::new();
    {
        let store = lock(&shared.store);
        for task in &tasks {
            for i in &task.inputs {
                if !store.contains(i.task) {
                    let ids = wanted.entry(i.addr.as_str()).or_default();
                    if !ids.contains(&i.task) {
                        ids.push(i.task);
                    }
                }
            }
        }
    }
    let exchanges = wanted.iter().map(|(addr, ids)| async move {
        let results = shared.fetcher.fetch(addr, ids).await;
        (*addr, ids, results)
    });
    let mut fetched: HashMap<u32, Result<Arc<Vec<u8>>, String>> = HashMap::new();
    for (addr, ids, results) in join_all(exchanges).await {
        for (&id, r) in ids.iter().zip(results) {
            fetched.insert(
                id,
                r.map(Arc::new)
                    .map_err(|e| format!("fetching it from {addr}: {e}")),
            );
        }
    }
    let mut prepared = Vec::with_capacity(tasks.len());
    let mut store = lock(&shared.store);
    'tasks: for task in tasks {
        let mut inputs = Vec::with_capacity(task.inputs.len());
        for i in &task.inputs {
            let found = match store.get(i.task) {
                Some(v) => Ok(v),
                None => match fetched.get(&i.task) {
                    Some(Ok(v)) => Ok(Arc::clone(v)),
                    Some(Err(e)) => Err(e.clone()),
                    None => Err("it was released before it could be read".to_string()),
                },
            };
            match found {
                Ok(v) => inputs.push(v),
                Err(reason) => {
                    report_failure(
                        shared,
                        &task,
                        Failure::InputLost {
                            task: i.task,
                            reason,
                        },
                    );
                    continue 'tasks;
                }
            }
        }
        prepared.push(Prepared { task, inputs });
    }
    prepared
}

/// Runs every future to its end, concurrently on this task.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Puts queued tasks on the pool while it has free slots.
pub(crate) fn pump(shared: &Arc<Shared>) {
    loop {
        let next = {
            let mut q = lock(&shared.queue);
            if q.in_flight >= shared.slots
                || shared.paused.load(std::sync::atomic::Ordering::Relaxed)
            {
                return;
            }
            let Some(next) = q.ready.pop_front() else {
                return;
            };
            q.in_flight += 1;
            next
        };
        // Committed to the pool, it can no longer be given up: the
        // scheduler counts it as started from now on.
        let started = WorkerMessage::Started(vec![(next.task.task, next.task.attempt)]);
        let _ = shared.out.send(started);
        let s = Arc::clone(shared);
        // Recorded by its function's name while a dashboard watches.
        let kind = if shared.watched {
            kind_of(&next.task.function).to_string()
        } else {
            String::new()
        };
        // The outcome goes back by message, not through the handle; the
        // handle's error only marks a failed attempt on the dashboard.
        drop(shared.pool.try_submit_as(&kind, move || {
            let ended = if s.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                Ok(())
            } else {
                let executed = execute(&s, next);
                if s.careful {
                    let (Ok(outcome) | Err(outcome)) = executed;
                    wait_written(&s, outcome);
                }
                executed.map(drop).map_err(|_| "the attempt failed")
            };
            {
                let mut q = lock(&s.queue);
                q.in_flight -= 1;
                // Only a worker winding down waits for this.
                if s.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    s.left_pool.notify_all();
                }
            }
            pump(&s);
            ended
        }));
    }
}

/// The scheduler is gone: queued tasks are dropped, and tasks waiting
/// for a pool thread will not run; with `wait`, returns once the tasks
/// already running have ended.
pub(crate) fn wind_down(shared: &Shared, wait: bool) {
    shared
        .stopping
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut q = lock(&shared.queue);
    q.ready.clear();
    while wait && q.in_flight > 0 {
        q = shared.left_pool.wait(q).unwrap_or_else(|p| p.into_inner());
    }
}

/// Waits (a few seconds at most) until outcome number `n` has been written
/// to the scheduler.
fn wait_written(shared: &Shared, n: u64) {
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    let mut outcomes = lock(&shared.outcomes);
    while outcomes.written < n {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        outcomes = match shared.outcome_written.wait_timeout(outcomes, left) {
            Ok((o, _)) => o,
            Err(p) => p.into_inner().0,
        };
    }
}

/// Hands an outcome (a finish or a failure) to the writer; its number in
/// the order of outcomes.
fn send_outcome(shared: &Shared, message: WorkerMessage) -> u64 {
    let mut outcomes = lock(&shared.outcomes);
    outcomes.sent += 1;
    let n = outcomes.sent;
    // Sent under the lock, so that numbers follow the channel's order.
    let _ = shared.out.send(message);
    n
}

/// Runs one task on this thread and reports its outcome; the outcome's
/// number.
/// A registered function's kind of task: its name without its path.
fn kind_of(function: &str) -> &str {
    function.rsplit("::").next().unwrap_or(function)
}

/// Runs the task and reports its outcome: `Ok` with the outcome's number
/// when it finished, `Err` with it when it failed.
fn execute(shared: &Shared, prepared: Prepared) -> Result<u64, u64> {
    let Prepared { task, inputs } = prepared;
    let Some(function) = registry::find(&task.function) else {
        return Err(report_failure(
            shared,
            &task,
            Failure::NotRegistered(task.function.clone()),
        ));
    };
    let mut args: Vec<&[u8]> = Vec::with_capacity(task.args.len());
    for a in &task.args {
        match a {
            WireArg::Value(v) => args.push(v),
            WireArg::Input(n) => match inputs.get(*n as usize) {
                Some(v) => args.push(v),
                None => {
                    let message = format!(
                        "argument refers to input {n}, the task has {}",
                        inputs.len()
                    );
                    return Err(report_failure(shared, &task, Failure::Error(message)));
                }
            },
        }
    }
    let start = Instant::now();
    let context = TaskContext::new(
        task.key.clone(),
        task.attempt,
        task.failures,
        task.retries_left,
    );
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        context.enter(&inputs, || function.call(&args))
    }));
    let micros = start.elapsed().as_micros() as u64;
    match outcome {
        Ok(Ok(bytes)) => {
            if let Some(path) = &task.checkpoint {
                // Kept for a later run; a result that cannot be kept is
                // still this run's.
                if let Err(e) =
                    flotilla_local::checkpoint::write_result(std::path::Path::new(path), &bytes)
                {
                    flotilla_local::log::warn(
                        "worker",
                        &format!(
                            "the result of {} could not be kept in the checkpoint file {path}: {e}",
                            task.key
                        ),
                    );
                }
            }
            let len = bytes.len() as u64;
            lock(&shared.store).insert(task.task, Arc::new(bytes));
            let finished = Finished {
                task: task.task,
                attempt: task.attempt,
                bytes: len,
                micros,
            };
            Ok(send_outcome(
                shared,
                WorkerMessage::Finished(vec![finished]),
            ))
        }
        Ok(Err(message)) => Err(report_failure(shared, &task, Failure::Error(message))),
        Err(payload) => Err(report_failure(
            shared,
            &task,
            Failure::Panic(panic_message(&*payload)),
        )),
    }
}

fn report_failure(shared: &Shared, task: &RunTask, failure: Failure) -> u64 {
    let failed = Failed {
        task: task.task,
        attempt: task.attempt,
        failure,
    };
    send_outcome(shared, WorkerMessage::Failed(vec![failed]))
}

/// Drops cancelled tasks that have not started.
pub(crate) fn cancel(shared: &Shared, tasks: &[u32]) {
    let mut q = lock(&shared.queue);
    for &t in tasks {
        let before = q.ready.len();
        q.ready.retain(|p| p.task.task != t);
        if q.ready.len() == before {
            // Perhaps still fetching its inputs: skip it when it arrives.
            if q.fetching.contains_key(&t) {
                q.cancelled.insert(t);
            }
        }
    }
}

/// Answers requests to give up queued tasks for idle workers.
pub(crate) fn give_up(shared: &Shared, requests: &[(u32, u32)]) {
    let mut answers = Vec::with_capacity(requests.len());
    {
        let mut q = lock(&shared.queue);
        for &(task, to) in requests {
            let at = q.ready.iter().rposition(|p| p.task.task == task);
            let given = at.and_then(|i| q.ready.remove(i)).is_some();
            answers.push(GiveUpAnswer { task, to, given });
        }
    }
    let _ = shared.out.send(WorkerMessage::GaveUp(answers));
}
