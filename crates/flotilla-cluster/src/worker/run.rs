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

/// A task whose inputs are all here.
#[derive(Debug)]
pub(crate) struct Prepared {
    task: RunTask,
    inputs: Vec<Arc<Vec<u8>>>,
}

/// Takes tasks from the scheduler: those whose inputs are here queue at
/// once; the others wait for their inputs to be fetched.
pub(crate) fn accept_tasks(shared: &Arc<Shared>, tasks: Vec<RunTask>) {
    for task in tasks {
        let local: Option<Vec<Arc<Vec<u8>>>> = {
            let store = lock(&shared.store);
            task.inputs
                .iter()
                .map(|i| store.get(&i.task).cloned())
                .collect()
        };
        match local {
            Some(inputs) => lock(&shared.queue)
                .ready
                .push_back(Prepared { task, inputs }),
            None => {
                let shared = Arc::clone(shared);
                tokio::spawn(async move {
                    if let Some(prepared) = fetch_inputs(&shared, task).await {
                        let mut q = lock(&shared.queue);
                        if !q.cancelled.remove(&prepared.task.task) {
                            q.ready.push_back(prepared);
                        }
                        drop(q);
                        pump(&shared);
                    }
                });
            }
        }
    }
    pump(shared);
}

/// Gathers the inputs of `task`, fetching from other workers what is not
/// here; a fetch that fails is reported as that input lost.
async fn fetch_inputs(shared: &Arc<Shared>, task: RunTask) -> Option<Prepared> {
    let mut inputs: Vec<Option<Arc<Vec<u8>>>> = {
        let store = lock(&shared.store);
        task.inputs
            .iter()
            .map(|i| store.get(&i.task).cloned())
            .collect()
    };
    let mut by_addr: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, i) in task.inputs.iter().enumerate() {
        if inputs[n].is_none() {
            by_addr.entry(i.addr.as_str()).or_default().push(n);
        }
    }
    for (addr, wanted) in by_addr {
        let ids: Vec<u32> = wanted.iter().map(|&n| task.inputs[n].task).collect();
        let results = shared.fetcher.fetch(addr, &ids).await;
        for (&n, result) in wanted.iter().zip(results) {
            match result {
                Ok(bytes) => inputs[n] = Some(Arc::new(bytes)),
                Err(e) => {
                    let lost = task.inputs[n].task;
                    let failure = Failure::InputLost {
                        task: lost,
                        reason: format!("fetching it from {addr}: {e}"),
                    };
                    report_failure(shared, &task, failure);
                    return None;
                }
            }
        }
    }
    let inputs = inputs.into_iter().collect::<Option<Vec<_>>>()?;
    Some(Prepared { task, inputs })
}

/// Puts queued tasks on the pool while it has free slots.
pub(crate) fn pump(shared: &Arc<Shared>) {
    loop {
        let next = {
            let mut q = lock(&shared.queue);
            if q.in_flight >= shared.slots {
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
        // The outcome goes back by message, not through the handle.
        drop(shared.pool.submit(move || {
            let outcome = execute(&s, next);
            if s.careful {
                wait_written(&s, outcome);
            }
            lock(&s.queue).in_flight -= 1;
            pump(&s);
        }));
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
fn execute(shared: &Shared, prepared: Prepared) -> u64 {
    let Prepared { task, inputs } = prepared;
    let Some(function) = registry::lookup(&task.function) else {
        return report_failure(shared, &task, Failure::NotRegistered(task.function.clone()));
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
                    return report_failure(shared, &task, Failure::Error(message));
                }
            },
        }
    }
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| function.call(&args)));
    let micros = start.elapsed().as_micros() as u64;
    match outcome {
        Ok(Ok(bytes)) => {
            let len = bytes.len() as u64;
            lock(&shared.store).insert(task.task, Arc::new(bytes));
            let finished = Finished {
                task: task.task,
                attempt: task.attempt,
                bytes: len,
                micros,
            };
            send_outcome(shared, WorkerMessage::Finished(vec![finished]))
        }
        Ok(Err(message)) => report_failure(shared, &task, Failure::Error(message)),
        Err(payload) => report_failure(shared, &task, Failure::Panic(panic_message(&*payload))),
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
            q.cancelled.insert(t);
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
