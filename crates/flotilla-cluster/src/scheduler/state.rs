//! The scheduler's state between the network and the core: task specs,
//! who owns which task, where workers and results are. No sockets here:
//! events go in, per-connection batches of messages come out, so that it is
//! tested by feeding it events.
//!
//! Every decision — where a task runs, which task moves to an idle worker,
//! what is retried, what a lost worker costs — is the core's
//! ([`flotilla_core::Scheduler`]); this layer turns the core's commands
//! into messages and the peers' messages into core events.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_core::{
    Attempt, Command, FailureKind, Finish, Placement, Scheduler, Speculation, Target, TaskGraph,
    TaskId, TaskKey, TaskOptions, TaskState, WorkerId, WorkerOffer,
};

use crate::protocol::messages::{
    ClientArg, ClientEvent, ClusterStatus, Done, Failed, Failure, FailureReason, Finished,
    GiveUpAnswer, InputAt, RunTask, SchedulerMessage, Submit, TaskFailure, Vitals, WireArg,
    WorkerInfo, WorkerStatus,
};

/// A connection's number, given by the server.
pub(crate) type ConnId = u64;

/// One argument of a task as the scheduler keeps it.
#[derive(Debug, Clone)]
enum SpecArg {
    Value(Arc<Vec<u8>>),
    /// The result of the task's `n`-th dependency.
    Input(u32),
}

/// What is needed to run a task (again, after a loss).
#[derive(Debug, Clone)]
struct TaskSpec {
    function: Arc<str>,
    args: Vec<SpecArg>,
    /// The checkpoint file its result goes to.
    checkpoint: Option<Arc<str>>,
    /// The client connection and the client's number for the task.
    owner: Option<(ConnId, u64)>,
}

#[derive(Debug)]
struct WorkerEntry {
    conn: ConnId,
    info: WorkerInfo,
    tasks: u64,
    stolen: u64,
    busy_micros: u64,
    /// Its memory and age at its last heartbeat.
    vitals: Vitals,
    /// Tasks of the central queue handed to it and not ended.
    central: usize,
}

/// The last failure of a task, for the message its owner gets.
#[derive(Debug, Clone)]
struct LastFailure {
    worker: String,
    failure: Failure,
}

/// Messages to send, per connection, gathered during one turn.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pub(crate) workers: HashMap<ConnId, Vec<SchedulerMessage>>,
    pub(crate) clients: HashMap<ConnId, Vec<ClientEvent>>,
}

#[derive(Debug, Default)]
struct WorkerBatch {
    run: Vec<RunTask>,
    release: Vec<u32>,
    cancel: Vec<u32>,
    give_up: Vec<(u32, u32)>,
}

#[derive(Debug, Default)]
struct ClientBatch {
    lost: Vec<u64>,
    done: Vec<Done>,
    failed: Vec<TaskFailure>,
    other: Vec<ClientEvent>,
}

/// The cluster scheduler's state.
/// A graph as [`ClusterState::graph_shape`] gives it: per task its key,
/// kind and whether it finished; the edges.
pub(crate) type GraphParts<'a> = (Vec<(String, &'a str, bool)>, Vec<(u32, u32)>);

#[derive(Debug)]
pub(crate) struct ClusterState {
    core: Scheduler,
    specs: Vec<TaskSpec>,
    /// Per task: the worker its result lives on (until released).
    result_at: Vec<Option<WorkerId>>,
    /// Per task: the worker it was last handed to.
    placed_on: Vec<Option<WorkerId>>,
    /// Per task: whether it came from the central queue and has not ended.
    from_central: Vec<bool>,
    /// Tasks placed on the central queue, waiting for a free thread.
    central: VecDeque<(TaskId, Attempt)>,
    by_client: HashMap<(ConnId, u64), TaskId>,
    workers: HashMap<WorkerId, WorkerEntry>,
    worker_of_conn: HashMap<ConnId, WorkerId>,
    clients: HashSet<ConnId>,
    failures: HashMap<TaskId, LastFailure>,
    /// Keys are numbered per function in the order tasks arrive.
    key_counts: HashMap<Arc<str>, u64>,
    commands: Vec<Command>,
    worker_batches: HashMap<WorkerId, WorkerBatch>,
    client_batches: HashMap<ConnId, ClientBatch>,
    /// Tasks whose owner must hear that they ended without a result.
    ended: Vec<TaskId>,
    /// Set while finishes are handled: the tasks they make ready continue
    /// branches.
    continuing: bool,
    /// When each running task's first attempt reported its start, for
    /// speculative copies of stragglers.
    running_since: HashMap<TaskId, Instant>,
}

impl ClusterState {
    /// A scheduler without workers or tasks, placing under `placement`.
    pub(crate) fn new(placement: Placement) -> ClusterState {
        let mut core = Scheduler::new(TaskGraph::new(), placement, 0);
        core.set_balancing(placement == Placement::WorkStealing);
        let mut commands = Vec::new();
        core.start(&mut commands);
        ClusterState {
            core,
            specs: Vec::new(),
            result_at: Vec::new(),
            placed_on: Vec::new(),
            from_central: Vec::new(),
            central: VecDeque::new(),
            by_client: HashMap::new(),
            workers: HashMap::new(),
            worker_of_conn: HashMap::new(),
            clients: HashSet::new(),
            failures: HashMap::new(),
            key_counts: HashMap::new(),
            commands,
            worker_batches: HashMap::new(),
            client_batches: HashMap::new(),
            ended: Vec::new(),
            continuing: false,
            running_since: HashMap::new(),
        }
    }

    /// Retries every task gets after an error or a panic.
    pub(crate) fn set_retries(&mut self, retries: u32) {
        self.core.set_retries(retries);
    }

    /// How fast results move between workers, for the cost of a steal.
    pub(crate) fn set_transfer_rate(&mut self, bytes_per_second: f64) {
        self.core.set_transfer_rate(Some(bytes_per_second));
    }

    /// Lost workers after which a task fails as suspicious.
    pub(crate) fn set_suspicious_after(&mut self, workers: u32) {
        self.core.set_suspicious_after(workers);
    }

    /// A worker registered on connection `conn`.
    pub(crate) fn worker_joined(&mut self, conn: ConnId, info: WorkerInfo) -> WorkerId {
        let mut offer = WorkerOffer::new(info.threads.max(1));
        if let Some(m) = info.memory_bytes {
            offer = offer.memory(m);
        }
        for (name, amount) in &info.resources {
            offer = offer.resource(name, *amount);
        }
        for folder in &info.local_data {
            offer = offer.local_data(folder);
        }
        let id = self.core.add_worker(offer, &mut self.commands);
        self.workers.insert(
            id,
            WorkerEntry {
                conn,
                info,
                tasks: 0,
                stolen: 0,
                busy_micros: 0,
                vitals: Vitals::default(),
                central: 0,
            },
        );
        self.worker_of_conn.insert(conn, id);
        self.apply();
        id
    }

    /// The worker on `conn` is gone: its tasks go elsewhere, its results
    /// are computed again where still needed.
    pub(crate) fn worker_left(&mut self, conn: ConnId) {
        let Some(worker) = self.worker_of_conn.remove(&conn) else {
            return;
        };
        self.workers.remove(&worker);
        self.worker_batches.remove(&worker);
        let running: Vec<TaskId> = (0..self.specs.len() as u32)
            .map(TaskId::new)
            .filter(|t| self.core.state(*t) == TaskState::Running(worker))
            .collect();
        for (i, r) in self.result_at.iter_mut().enumerate() {
            if *r == Some(worker) {
                *r = None;
                // Its owner may be about to fetch it from there.
                if let Some((client, id)) = self.specs[i].owner {
                    if self.clients.contains(&client) {
                        self.client_batches.entry(client).or_default().lost.push(id);
                    }
                }
            }
        }
        if self.core.remove_worker(worker, &mut self.commands).is_ok() {
            for t in running {
                if self.core.state(t) == TaskState::Failed {
                    self.ended.push(t);
                }
            }
        }
        self.apply();
    }

    pub(crate) fn client_joined(&mut self, conn: ConnId) {
        self.clients.insert(conn);
    }

    /// The client on `conn` is gone: its results are released and its
    /// unfinished tasks cancelled.
    pub(crate) fn client_left(&mut self, conn: ConnId) {
        self.clients.remove(&conn);
        self.client_batches.remove(&conn);
        let mine: Vec<TaskId> = self
            .by_client
            .iter()
            .filter(|((c, _), _)| *c == conn)
            .map(|(_, t)| *t)
            .collect();
        self.by_client.retain(|(c, _), _| *c != conn);
        for t in mine {
            if !self.core.state(t).is_terminal() {
                self.core.cancel(t, &mut self.commands);
            }
            self.core.release_result(t, &mut self.commands);
        }
        self.apply();
    }

    /// Tasks submitted by the client on `conn`.
    pub(crate) fn submit(&mut self, conn: ConnId, tasks: Vec<Submit>) {
        for s in tasks {
            if let Err(reason) = self.submit_one(conn, s.id, &s) {
                self.client_batch(conn)
                    .other
                    .push(ClientEvent::Rejected { id: s.id, reason });
            }
        }
        self.apply();
    }

    fn submit_one(&mut self, conn: ConnId, id: u64, s: &Submit) -> Result<(), String> {
        if self.by_client.contains_key(&(conn, id)) {
            return Err(format!("task {id} was submitted twice"));
        }
        let mut deps = Vec::new();
        let mut args = Vec::with_capacity(s.args.len());
        for (i, a) in s.args.iter().enumerate() {
            match a {
                ClientArg::Value(bytes) => args.push(SpecArg::Value(Arc::new(bytes.clone()))),
                ClientArg::Future(f) => {
                    let dep = *self.by_client.get(&(conn, *f)).ok_or_else(|| {
                        format!("argument {i} is the future of task {f}, which this client no longer holds")
                    })?;
                    let n = match deps.iter().position(|d| *d == dep) {
                        Some(n) => n,
                        None => {
                            deps.push(dep);
                            deps.len() - 1
                        }
                    };
                    args.push(SpecArg::Input(n as u32));
                }
            }
        }
        let function: Arc<str> = s.function.as_str().into();
        let short = function.rsplit("::").next().unwrap_or(&function);
        let count = self.key_counts.entry(Arc::clone(&function)).or_insert(0);
        let key = TaskKey::indexed(short, *count);
        *count += 1;
        let options = TaskOptions {
            retries: s.retries,
            ..TaskOptions::default()
        };
        // Placement and the run command may come at once: record the spec
        // before the core decides.
        let next = self.specs.len();
        self.specs.push(TaskSpec {
            function,
            args,
            checkpoint: s.checkpoint.as_deref().map(Arc::from),
            owner: Some((conn, id)),
        });
        self.result_at.push(None);
        self.placed_on.push(None);
        self.from_central.push(false);
        let reads: Vec<&str> = s.reads.iter().map(String::as_str).collect();
        let added = self
            .core
            .add_task_reading(key, &deps, options, &reads, &mut self.commands);
        match added {
            Ok(task) => {
                debug_assert_eq!(task.index(), next);
                for (name, amount) in &s.resources {
                    self.core.require(task, name, *amount, &mut self.commands);
                }
                self.by_client.insert((conn, id), task);
                if self.core.state(task).is_terminal() {
                    self.ended.push(task);
                }
                Ok(())
            }
            Err(e) => {
                self.specs.pop();
                self.result_at.pop();
                self.placed_on.pop();
                self.from_central.pop();
                Err(e.to_string())
            }
        }
    }

    /// The client on `conn` dropped these futures.
    pub(crate) fn release(&mut self, conn: ConnId, ids: &[u64]) {
        for id in ids {
            if let Some(t) = self.by_client.remove(&(conn, *id)) {
                self.core.release_result(t, &mut self.commands);
            }
        }
        self.apply();
    }

    /// The client on `conn` cancels these futures.
    pub(crate) fn cancel(&mut self, conn: ConnId, ids: &[u64]) {
        for id in ids {
            if let Some(&t) = self.by_client.get(&(conn, *id)) {
                if self.core.cancel(t, &mut self.commands) {
                    self.ended.push(t);
                }
            }
        }
        self.apply();
    }

    /// Tasks that the worker on `conn` started.
    /// The vitals the worker on `conn` reported with its heartbeat.
    pub(crate) fn vitals(&mut self, conn: ConnId, vitals: Vitals) {
        let Some(worker) = self.worker_of_conn.get(&conn) else {
            return;
        };
        if let Some(entry) = self.workers.get_mut(worker) {
            entry.vitals = vitals;
        }
    }

    pub(crate) fn started(&mut self, conn: ConnId, tasks: &[(u32, u32)]) {
        let Some(&worker) = self.worker_of_conn.get(&conn) else {
            return;
        };
        let speculating = self.core.speculation().is_some();
        let now = Instant::now();
        for &(task, attempt) in tasks {
            if let (Some(t), Some(a)) = (self.task(task), Attempt::from_number(attempt)) {
                // A stale report (an earlier attempt, a moved task) changes nothing.
                if self.core.task_started(t, worker, a).is_ok() && speculating {
                    self.running_since.entry(t).or_insert(now);
                }
            }
        }
    }

    /// Turns speculative copies of stragglers on (or off with `None`).
    pub(crate) fn set_speculation(&mut self, speculation: Option<Speculation>) {
        self.core.set_speculation(speculation);
    }

    /// Copies the running tasks that have run far longer than their kind
    /// onto workers with a thread to spare, as of `now`.
    pub(crate) fn plan_copies(&mut self, now: Instant) {
        let core = &self.core;
        self.running_since
            .retain(|t, _| matches!(core.state(*t), TaskState::Running(_)));
        if self.running_since.is_empty() {
            return;
        }
        let running: Vec<(TaskId, Duration)> = self
            .running_since
            .iter()
            .map(|(t, since)| (*t, now.saturating_duration_since(*since)))
            .collect();
        if self.core.plan_copies(running, &mut self.commands) > 0 {
            self.apply();
        }
    }

    /// Tasks that finished on the worker on `conn`.
    pub(crate) fn finished(&mut self, conn: ConnId, tasks: &[Finished]) {
        let Some(&worker) = self.worker_of_conn.get(&conn) else {
            return;
        };
        for f in tasks {
            let (Some(t), Some(a)) = (self.task(f.task), Attempt::from_number(f.attempt)) else {
                continue;
            };
            if self.core.state(t) == TaskState::Ready {
                let _ = self.core.task_started(t, worker, a);
            }
            let finish = Finish::new(Duration::from_micros(f.micros), f.bytes);
            self.continuing = true;
            let accepted = self
                .core
                .task_finished(t, worker, a, finish, &mut self.commands)
                .is_ok();
            if !accepted
                && self.core.state(t) == TaskState::Finished
                && self.result_at[t.index()].is_some_and(|at| at != worker)
            {
                // The loser of a speculative race finished after all: its
                // result is not the task's and goes.
                self.worker_batches
                    .entry(worker)
                    .or_default()
                    .release
                    .push(f.task);
            }
            if accepted {
                self.running_since.remove(&t);
                self.central_done(t, worker);
                if let Some(w) = self.workers.get_mut(&worker) {
                    w.tasks += 1;
                    w.busy_micros = w.busy_micros.saturating_add(f.micros);
                }
                self.result_at[t.index()] = Some(worker);
                self.failures.remove(&t);
                if let Some((client, id)) = self.specs[t.index()].owner {
                    let addr = self
                        .workers
                        .get(&worker)
                        .map(|w| w.info.data_addr.clone())
                        .unwrap_or_default();
                    self.client_batch(client).done.push(Done {
                        id,
                        task: f.task,
                        addr,
                        bytes: f.bytes,
                        micros: f.micros,
                    });
                }
            }
        }
        self.apply();
        self.continuing = false;
    }

    /// Tasks whose attempt failed on the worker on `conn`.
    pub(crate) fn failed(&mut self, conn: ConnId, tasks: Vec<Failed>) {
        let Some(&worker) = self.worker_of_conn.get(&conn) else {
            return;
        };
        let name = self
            .workers
            .get(&worker)
            .map(|w| w.info.name.clone())
            .unwrap_or_default();
        for f in tasks {
            let (Some(t), Some(a)) = (self.task(f.task), Attempt::from_number(f.attempt)) else {
                continue;
            };
            let outcome = match &f.failure {
                Failure::InputLost { task: lost, .. } => match self.task(*lost) {
                    Some(lost) => {
                        if self.result_at[lost.index()] != Some(worker) {
                            self.result_at[lost.index()] = None;
                        }
                        self.core
                            .input_lost(t, worker, a, lost, &mut self.commands)
                            .map(|_| ())
                    }
                    None => continue,
                },
                Failure::Panic(_) => {
                    self.core
                        .task_failed(t, worker, a, FailureKind::Panic, &mut self.commands)
                }
                Failure::Error(_) | Failure::NotRegistered(_) => {
                    self.core
                        .task_failed(t, worker, a, FailureKind::Error, &mut self.commands)
                }
            };
            if outcome.is_ok() {
                self.central_done(t, worker);
                self.failures.insert(
                    t,
                    LastFailure {
                        worker: name.clone(),
                        failure: f.failure,
                    },
                );
                if self.core.state(t) == TaskState::Failed {
                    self.ended.push(t);
                }
            }
        }
        self.apply();
    }

    /// The answers of the worker on `conn` to requests to give up tasks.
    pub(crate) fn gave_up(&mut self, conn: ConnId, answers: &[GiveUpAnswer]) {
        let Some(&from) = self.worker_of_conn.get(&conn) else {
            return;
        };
        for a in answers {
            let Some(t) = self.task(a.task) else { continue };
            let to = WorkerId::new(a.to);
            if a.given {
                if self
                    .core
                    .steal_confirmed(t, from, to, &mut self.commands)
                    .is_ok()
                {
                    if let Some(w) = self.workers.get_mut(&to) {
                        w.stolen += 1;
                    }
                }
            } else {
                self.core.steal_refused(t, from, to);
            }
        }
        self.apply();
    }

    /// The number of the worker on `conn`.
    pub(crate) fn worker_index(&self, conn: ConnId) -> Option<u32> {
        self.worker_of_conn.get(&conn).map(|w| w.index() as u32)
    }

    /// The number of tasks the graph holds: tasks are numbered from 0 in
    /// the order they joined it.
    pub(crate) fn task_count(&self) -> u32 {
        self.specs.len() as u32
    }

    /// The kind of task `task` (its key's kind): its number in the graph
    /// and its name.
    pub(crate) fn task_kind(&self, task: u32) -> Option<(usize, &str)> {
        let graph = self.core.graph();
        self.task(task).map(|t| {
            let kind = graph.kind_of(t);
            (kind, graph.kind_name(kind))
        })
    }

    /// Every task — key, kind, whether it finished — and every edge
    /// (dependency, dependent), when there are at most `max` tasks.
    pub(crate) fn graph_shape(&self, max: usize) -> Option<GraphParts<'_>> {
        let graph = self.core.graph();
        if self.specs.len() > max {
            return None;
        }
        let ids = (0..self.specs.len() as u32).map(TaskId::new);
        let nodes = ids
            .clone()
            .map(|t| {
                let key = graph.key(t);
                (
                    key.to_string(),
                    key.kind(),
                    self.core.state(t) == TaskState::Finished,
                )
            })
            .collect();
        let edges = ids
            .flat_map(|t| {
                graph
                    .dependencies(t)
                    .iter()
                    .map(move |d| (d.index() as u32, t.index() as u32))
            })
            .collect();
        Some((nodes, edges))
    }

    /// The size of `task`'s result, where it is held.
    pub(crate) fn result_bytes(&self, task: u32) -> u64 {
        self.task(task)
            .and_then(|t| self.core.result_location(t))
            .map_or(0, |(_, bytes)| bytes)
    }

    /// What the cluster is doing now.
    pub(crate) fn status(&self) -> ClusterStatus {
        let mut status = ClusterStatus::default();
        let mut ids: Vec<_> = self.workers.keys().copied().collect();
        ids.sort();
        for w in ids {
            let entry = &self.workers[&w];
            status.workers.push(WorkerStatus {
                id: w.index() as u32,
                name: entry.info.name.clone(),
                threads: entry.info.threads,
                queued: self.core.queued_on(w) as u64,
                result_bytes: self.core.bytes_produced_on(w),
                tasks: entry.tasks,
                stolen: entry.stolen,
                busy_micros: entry.busy_micros,
                memory_limit: entry.info.memory_bytes,
                memory_used: entry.vitals.process_bytes,
                held_bytes: entry.vitals.held_bytes,
                peak_memory: entry.vitals.peak_process_bytes,
                spilled_bytes: entry.vitals.spilled_bytes,
                spill_written: entry.vitals.spill_written,
                spill_read_back: entry.vitals.spill_read_back,
                paused: entry.vitals.paused,
                uptime_micros: entry.vitals.uptime_micros,
            });
        }
        let counts = self.core.counts();
        status.copied = counts.copied as u64;
        status.copies_won = counts.copies_won as u64;
        for i in 0..self.specs.len() as u32 {
            match self.core.state(TaskId::new(i)) {
                TaskState::Waiting => status.waiting += 1,
                TaskState::Finished => status.finished += 1,
                s if s.is_terminal() => status.failed += 1,
                _ => status.ready_or_running += 1,
            }
        }
        status
    }

    /// Answers a status request of the client on `conn`.
    pub(crate) fn status_request(&mut self, conn: ConnId) {
        let status = self.status();
        self.client_batch(conn)
            .other
            .push(ClientEvent::Status(status));
    }

    /// Plans moves of queued tasks to idle workers, then hands out this
    /// turn's messages.
    pub(crate) fn take_outbox(&mut self) -> Outbox {
        self.core.plan_steals(&mut self.commands);
        self.apply();
        self.dispatch_central();
        let mut out = Outbox::default();
        for (w, b) in self.worker_batches.drain() {
            let Some(entry) = self.workers.get(&w) else {
                continue;
            };
            let messages = out.workers.entry(entry.conn).or_default();
            if !b.cancel.is_empty() {
                messages.push(SchedulerMessage::Cancel(b.cancel));
            }
            if !b.give_up.is_empty() {
                messages.push(SchedulerMessage::GiveUp(b.give_up));
            }
            if !b.run.is_empty() {
                messages.push(SchedulerMessage::Run(b.run));
            }
            if !b.release.is_empty() {
                messages.push(SchedulerMessage::Release(b.release));
            }
        }
        for (c, b) in self.client_batches.drain() {
            let events = out.clients.entry(c).or_default();
            if !b.lost.is_empty() {
                events.push(ClientEvent::Lost(b.lost));
            }
            if !b.done.is_empty() {
                events.push(ClientEvent::Done(b.done));
            }
            if !b.failed.is_empty() {
                events.push(ClientEvent::Failed(b.failed));
            }
            events.extend(b.other);
        }
        out
    }

    fn task(&self, n: u32) -> Option<TaskId> {
        ((n as usize) < self.specs.len()).then(|| TaskId::new(n))
    }

    fn client_batch(&mut self, conn: ConnId) -> &mut ClientBatch {
        self.client_batches.entry(conn).or_default()
    }

    /// Turns the core's commands into messages.
    fn apply(&mut self) {
        let mut commands = std::mem::take(&mut self.commands);
        for c in commands.drain(..) {
            match c {
                Command::Run {
                    task,
                    target,
                    attempt,
                } => self.run(task, target, attempt),
                Command::Abandon { task, .. } => self.ended.push(task),
                Command::Release { task } => {
                    if let Some(w) = self.result_at[task.index()].take() {
                        self.worker_batches
                            .entry(w)
                            .or_default()
                            .release
                            .push(task.index() as u32);
                    }
                }
                Command::Cancel { task } => {
                    if let Some(w) = self.placed_on[task.index()] {
                        let n = task.index() as u32;
                        let batch = self.worker_batches.entry(w).or_default();
                        // Not sent yet (placed and taken back in one turn,
                        // as a task given resources is): just unsend it.
                        let before = batch.run.len();
                        batch.run.retain(|r| r.task != n);
                        if batch.run.len() == before {
                            batch.cancel.push(n);
                        }
                    }
                }
                Command::Steal { task, from, to, .. } => {
                    self.worker_batches
                        .entry(from)
                        .or_default()
                        .give_up
                        .push((task.index() as u32, to.index() as u32));
                }
                Command::CancelAttempt { task, worker, .. } => {
                    let n = task.index() as u32;
                    let batch = self.worker_batches.entry(worker).or_default();
                    let before = batch.run.len();
                    batch.run.retain(|r| r.task != n);
                    if batch.run.len() == before {
                        batch.cancel.push(n);
                    }
                }
                _ => {}
            }
        }
        self.commands = commands;
        let ended = std::mem::take(&mut self.ended);
        for t in ended {
            self.report_end(t);
        }
    }

    fn run(&mut self, task: TaskId, target: Target, attempt: Attempt) {
        match target.worker() {
            Some(w) => self.send_run(task, w, attempt),
            // The central queue: held here until a worker has a free thread.
            None => self.central.push_back((task, attempt)),
        }
    }

    /// Hands tasks of the central queue to workers with free threads, the
    /// least busy first.
    fn dispatch_central(&mut self) {
        while !self.central.is_empty() {
            let free = self
                .workers
                .iter()
                .map(|(w, e)| (*w, e.info.threads as usize, e.central))
                .filter(|(w, threads, central)| self.core.queued_on(*w) + central < *threads)
                .min_by_key(|(w, _, central)| (self.core.queued_on(*w) + central, w.index()));
            let Some((worker, ..)) = free else { return };
            let Some((task, attempt)) = self.central.pop_front() else {
                return;
            };
            // Cancelled or moved on while it waited here.
            if self.core.state(task) != TaskState::Ready || self.core.attempt(task) != attempt {
                continue;
            }
            if let Some(e) = self.workers.get_mut(&worker) {
                e.central += 1;
            }
            self.from_central[task.index()] = true;
            self.send_run(task, worker, attempt);
        }
    }

    /// A task of the central queue ended on `worker` (or left it).
    fn central_done(&mut self, task: TaskId, worker: WorkerId) {
        if std::mem::take(&mut self.from_central[task.index()]) {
            if let Some(e) = self.workers.get_mut(&worker) {
                e.central = e.central.saturating_sub(1);
            }
        }
    }

    fn send_run(&mut self, task: TaskId, worker: WorkerId, attempt: Attempt) {
        self.placed_on[task.index()] = Some(worker);
        let spec = &self.specs[task.index()];
        let deps = self.core.graph().dependencies(task);
        let inputs = deps
            .iter()
            .map(|d| {
                let at = self.result_at[d.index()].unwrap_or(worker);
                InputAt {
                    task: d.index() as u32,
                    worker: at.index() as u32,
                    addr: self
                        .workers
                        .get(&at)
                        .map(|w| w.info.data_addr.clone())
                        .unwrap_or_default(),
                }
            })
            .collect();
        let args = spec
            .args
            .iter()
            .map(|a| match a {
                SpecArg::Value(v) => WireArg::Value(v.to_vec()),
                SpecArg::Input(n) => WireArg::Input(*n),
            })
            .collect();
        let run = RunTask {
            task: task.index() as u32,
            attempt: attempt.number(),
            key: self.core.graph().key(task).to_string(),
            function: spec.function.to_string(),
            args,
            inputs,
            first: self.continuing,
            failures: self.core.retries_used(task),
            retries_left: self.core.retries_left(task),
            checkpoint: spec.checkpoint.as_deref().map(String::from),
        };
        self.worker_batches.entry(worker).or_default().run.push(run);
    }

    /// Tells the owner of `task` that it ended without a result.
    fn report_end(&mut self, task: TaskId) {
        let Some((client, id)) = self.specs[task.index()].owner else {
            return;
        };
        if !self.clients.contains(&client) {
            return;
        }
        let reason = match self.core.state(task) {
            TaskState::Cancelled => FailureReason::Cancelled,
            TaskState::Abandoned { because } => FailureReason::Abandoned {
                because: self.core.graph().key(because).to_string(),
                cause: self.failures.get(&because).map(|f| f.failure.clone()),
            },
            TaskState::Failed => match (self.core.failure(task), self.failures.get(&task)) {
                (Some(FailureKind::WorkerLost), _) | (_, None) => FailureReason::Suspicious {
                    workers: self.core.suspicious_after(),
                },
                (_, Some(last)) => FailureReason::Failed {
                    worker: last.worker.clone(),
                    failure: last.failure.clone(),
                    attempts: self.core.attempt(task).number(),
                },
            },
            _ => return,
        };
        let failure = TaskFailure {
            id,
            key: self.core.graph().key(task).to_string(),
            function: self.specs[task.index()].function.to_string(),
            reason,
        };
        self.client_batch(client).failed.push(failure);
    }
}

#[cfg(test)]
pub(super) mod test_support {
    use super::*;

    pub(in crate::scheduler) const CLIENT: ConnId = 100;

    pub(in crate::scheduler) fn info(n: u32) -> WorkerInfo {
        WorkerInfo {
            threads: 1,
            memory_bytes: None,
            resources: Vec::new(),
            local_data: Vec::new(),
            data_addr: format!("10.0.0.{n}:7000"),
            name: format!("w{n}"),
        }
    }

    pub(in crate::scheduler) fn submit(id: u64, function: &str, args: Vec<ClientArg>) -> Submit {
        Submit {
            id,
            function: function.into(),
            args,
            retries: 0,
            resources: Vec::new(),
            reads: Vec::new(),
            checkpoint: None,
        }
    }

    pub(in crate::scheduler) fn value(v: u8) -> ClientArg {
        ClientArg::Value(vec![v])
    }

    /// The Run messages for the worker on `conn`.
    pub(in crate::scheduler) fn runs(out: &Outbox, conn: ConnId) -> Vec<RunTask> {
        out.workers
            .get(&conn)
            .into_iter()
            .flatten()
            .filter_map(|m| match m {
                SchedulerMessage::Run(r) => Some(r.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    pub(in crate::scheduler) fn client_events(out: &Outbox) -> Vec<ClientEvent> {
        out.clients.get(&CLIENT).cloned().unwrap_or_default()
    }

    pub(in crate::scheduler) fn finished(task: u32, attempt: u32) -> Finished {
        Finished {
            task,
            attempt,
            bytes: 8,
            micros: 10,
        }
    }

    pub(in crate::scheduler) fn state_with_workers(n: u32) -> ClusterState {
        let mut s = ClusterState::new(Placement::WorkStealing);
        for w in 1..=n {
            s.worker_joined(u64::from(w), info(w));
        }
        s.client_joined(CLIENT);
        let _ = s.take_outbox();
        s
    }
}

#[cfg(test)]
mod test {
    //! The scheduler's state driven by events, without sockets or threads.

    use super::test_support::*;
    use super::*;

    #[test]
    fn a_submitted_task_runs_and_its_owner_hears_where_the_result_is() {
        let mut s = state_with_workers(1);
        s.submit(
            CLIENT,
            vec![submit(7, "app::add", vec![value(1), value(2)])],
        );
        let out = s.take_outbox();
        let run = runs(&out, 1);
        assert_eq!(run.len(), 1);
        assert_eq!(run[0].function, "app::add");
        assert_eq!(run[0].key, "add[0]");
        assert!(
            matches!(&run[0].args[..], [WireArg::Value(a), WireArg::Value(b)] if a == &[1] && b == &[2])
        );

        s.finished(1, &[finished(run[0].task, run[0].attempt)]);
        let events = client_events(&s.take_outbox());
        let [ClientEvent::Done(done)] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!((done[0].id, done[0].addr.as_str()), (7, "10.0.0.1:7000"));
    }

    #[test]
    fn a_future_argument_waits_for_its_task_and_is_read_where_it_lives() {
        let mut s = state_with_workers(2);
        s.submit(CLIENT, vec![submit(1, "app::load", vec![])]);
        s.submit(
            CLIENT,
            vec![submit(2, "app::double", vec![ClientArg::Future(1)])],
        );
        let out = s.take_outbox();
        let all: Vec<RunTask> = runs(&out, 1).into_iter().chain(runs(&out, 2)).collect();
        assert_eq!(all.len(), 1, "double waits for load");
        let (load, on) = if runs(&out, 1).is_empty() {
            (runs(&out, 2)[0].clone(), 2)
        } else {
            (runs(&out, 1)[0].clone(), 1)
        };
        s.finished(on, &[finished(load.task, 1)]);
        let out = s.take_outbox();
        let double: Vec<RunTask> = runs(&out, 1).into_iter().chain(runs(&out, 2)).collect();
        assert_eq!(double.len(), 1);
        assert!(matches!(double[0].args[..], [WireArg::Input(0)]));
        assert_eq!(double[0].inputs[0].task, load.task);
        assert_eq!(double[0].inputs[0].addr, format!("10.0.0.{on}:7000"));
    }

    #[test]
    fn a_fetch_from_a_dead_worker_recomputes_the_input_there_is_no_more() {
        // `load` finishes on worker 1; worker 2 joins and is given `double`
        // (worker 1 left the data behind when it died, unnoticed so far).
        let mut s = state_with_workers(1);
        s.submit(CLIENT, vec![submit(1, "app::load", vec![])]);
        let load = runs(&s.take_outbox(), 1).remove(0);
        s.finished(1, &[finished(load.task, 1)]);
        s.worker_joined(2, info(2));
        s.submit(
            CLIENT,
            vec![submit(2, "app::double", vec![ClientArg::Future(1)])],
        );
        let out = s.take_outbox();
        let (reader, double) = match (runs(&out, 1).pop(), runs(&out, 2).pop()) {
            (Some(d), _) => (1, d),
            (None, Some(d)) => (2, d),
            (None, None) => panic!("double is not run"),
        };
        assert_eq!(double.inputs[0].addr, "10.0.0.1:7000");
        // Its worker could not fetch the input: a typed report, not an error.
        s.failed(
            reader,
            vec![Failed {
                task: double.task,
                attempt: double.attempt,
                failure: Failure::InputLost {
                    task: load.task,
                    reason: "connection refused".into(),
                },
            }],
        );
        // The scheduler learns that worker 1 is gone; `load` runs again,
        // then `double`, and the client sees no failure on the way.
        s.worker_left(1);
        let reload = runs(&s.take_outbox(), 2);
        assert_eq!(reload.len(), 1, "{reload:?}");
        assert_eq!((reload[0].task, reload[0].attempt), (load.task, 2));
        s.finished(2, &[finished(load.task, 2)]);
        let again = runs(&s.take_outbox(), 2);
        assert_eq!(again.len(), 1, "{again:?}");
        assert_eq!(again[0].task, double.task);
        assert!(again[0].attempt > double.attempt);
        s.finished(2, &[finished(double.task, again[0].attempt)]);
        let events = client_events(&s.take_outbox());
        assert!(
            events.iter().all(|e| !matches!(e, ClientEvent::Failed(_))),
            "{events:?}"
        );
    }

    #[test]
    fn a_lost_worker_s_task_runs_again_elsewhere_and_its_old_attempt_is_ignored() {
        let mut s = state_with_workers(1);
        s.submit(CLIENT, vec![submit(1, "app::slow", vec![])]);
        let first = runs(&s.take_outbox(), 1).remove(0);
        s.started(1, &[(first.task, first.attempt)]);
        s.worker_joined(2, info(2));
        let _ = s.take_outbox();
        s.worker_left(1);
        let again = runs(&s.take_outbox(), 2);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempt, 2);
        // A report of attempt 1 (from a worker that is still there) changes nothing.
        s.finished(2, &[finished(first.task, 1)]);
        assert!(client_events(&s.take_outbox()).is_empty());
        s.finished(2, &[finished(first.task, 2)]);
        assert!(matches!(
            &client_events(&s.take_outbox())[..],
            [ClientEvent::Done(_)]
        ));
    }

    #[test]
    fn a_failure_reaches_the_owner_and_abandons_what_read_it() {
        let mut s = state_with_workers(1);
        s.submit(
            CLIENT,
            vec![
                submit(1, "app::bad", vec![]),
                submit(2, "app::next", vec![ClientArg::Future(1)]),
            ],
        );
        let run = runs(&s.take_outbox(), 1).remove(0);
        s.failed(
            1,
            vec![Failed {
                task: run.task,
                attempt: 1,
                failure: Failure::Panic("boom".into()),
            }],
        );
        let events = client_events(&s.take_outbox());
        let [ClientEvent::Failed(failed)] = &events[..] else {
            panic!("{events:?}")
        };
        let bad = failed
            .iter()
            .find(|f| f.id == 1)
            .expect("the failed task is reported");
        assert!(
            matches!(&bad.reason, FailureReason::Failed { worker, failure: Failure::Panic(m), attempts: 1 } if worker == "w1" && m == "boom")
        );
        let next = failed
            .iter()
            .find(|f| f.id == 2)
            .expect("its reader is reported");
        assert!(
            matches!(&next.reason, FailureReason::Abandoned { because, cause: Some(Failure::Panic(m)) }
                if because == "bad[0]" && m == "boom")
        );
    }

    #[test]
    fn released_and_abandoned_results_are_dropped_on_their_worker() {
        let mut s = state_with_workers(1);
        s.submit(
            CLIENT,
            vec![submit(1, "app::a", vec![]), submit(2, "app::b", vec![])],
        );
        let r = runs(&s.take_outbox(), 1);
        s.finished(1, &[finished(r[0].task, 1), finished(r[1].task, 1)]);
        let _ = s.take_outbox();
        s.release(CLIENT, &[1]);
        let out = s.take_outbox();
        assert!(
            matches!(&out.workers[&1][..], [SchedulerMessage::Release(t)] if t == &[r[0].task])
        );
        // A client that leaves releases the rest.
        s.client_left(CLIENT);
        let out = s.take_outbox();
        assert!(
            matches!(&out.workers[&1][..], [SchedulerMessage::Release(t)] if t == &[r[1].task])
        );
    }

    #[test]
    fn an_idle_worker_gets_a_queued_task_once_its_holder_gives_it_up() {
        let mut s = state_with_workers(1);
        s.submit(
            CLIENT,
            (0..3).map(|i| submit(i, "app::t", vec![])).collect(),
        );
        assert_eq!(runs(&s.take_outbox(), 1).len(), 3);
        s.worker_joined(2, info(2));
        let out = s.take_outbox();
        let give_up: Vec<(u32, u32)> = out.workers[&1]
            .iter()
            .filter_map(|m| match m {
                SchedulerMessage::GiveUp(g) => Some(g.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(give_up.len(), 1);
        let (task, to) = give_up[0];
        s.gave_up(
            1,
            &[GiveUpAnswer {
                task,
                to,
                given: true,
            }],
        );
        let moved = runs(&s.take_outbox(), 2);
        assert_eq!(moved.len(), 1);
        assert_eq!((moved[0].task, moved[0].attempt), (task, 2));
    }

    #[test]
    fn a_future_the_client_no_longer_holds_is_refused_with_the_reason() {
        let mut s = state_with_workers(1);
        s.submit(
            CLIENT,
            vec![submit(5, "app::x", vec![ClientArg::Future(4)])],
        );
        let events = client_events(&s.take_outbox());
        let [ClientEvent::Rejected { id: 5, reason }] = &events[..] else {
            panic!("{events:?}")
        };
        assert!(reason.contains("task 4"), "{reason}");
    }

    #[test]
    fn status_counts_workers_and_tasks() {
        let mut s = state_with_workers(2);
        s.submit(
            CLIENT,
            vec![
                submit(1, "app::a", vec![]),
                submit(2, "app::b", vec![ClientArg::Future(1)]),
            ],
        );
        let status = s.status();
        assert_eq!(status.workers.len(), 2);
        assert_eq!((status.waiting, status.ready_or_running), (1, 1));
    }
}

#[cfg(test)]
mod balance_test {
    use super::test_support::*;
    use super::*;

    #[test]
    fn a_worker_that_finishes_its_share_takes_queued_work_from_the_other() {
        let mut s = state_with_workers(2);
        s.submit(
            CLIENT,
            (0..10).map(|i| submit(i, "app::t", vec![])).collect(),
        );
        let out = s.take_outbox();
        let (mine, theirs) = (runs(&out, 1), runs(&out, 2));
        assert_eq!(mine.len() + theirs.len(), 10);
        // The other worker committed its first two tasks to its threads.
        for r in &theirs[..2] {
            s.started(2, &[(r.task, r.attempt)]);
        }
        let _ = s.take_outbox();
        for r in &mine {
            s.started(1, &[(r.task, r.attempt)]);
            let _ = s.take_outbox();
            s.finished(1, &[finished(r.task, r.attempt)]);
        }
        let out = s.take_outbox();
        let asked: Vec<(u32, u32)> = out
            .workers
            .get(&2)
            .into_iter()
            .flatten()
            .filter_map(|m| match m {
                SchedulerMessage::GiveUp(g) => Some(g.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(asked.len(), 1, "{out:?}");
    }
}

#[cfg(test)]
mod refused_test {
    use super::test_support::*;
    use super::*;

    #[test]
    fn a_task_that_started_before_its_steal_arrived_is_not_offered_again() {
        let mut s = state_with_workers(2);
        s.submit(CLIENT, vec![submit(0, "app::t", vec![])]);
        let out = s.take_outbox();
        let (r1, r2) = (runs(&out, 1), runs(&out, 2));
        let (run, holder) = if r1.is_empty() {
            (r2[0].clone(), 2)
        } else {
            (r1[0].clone(), 1)
        };
        let other = 3 - holder;
        let asked = out
            .workers
            .get(&holder)
            .into_iter()
            .flatten()
            .any(|m| matches!(m, SchedulerMessage::GiveUp(_)));
        eprintln!("asked at once: {asked}");
        s.started(holder, &[(run.task, run.attempt)]);
        s.gave_up(
            holder,
            &[GiveUpAnswer {
                task: run.task,
                to: other as u32 - 1,
                given: false,
            }],
        );
        let out = s.take_outbox();
        assert!(
            !out.workers
                .values()
                .flatten()
                .any(|m| matches!(m, SchedulerMessage::GiveUp(_))),
            "{out:?}"
        );
        s.finished(holder, &[finished(run.task, run.attempt)]);
        assert!(matches!(
            &client_events(&s.take_outbox())[..],
            [ClientEvent::Done(_)]
        ));
    }
}

#[cfg(test)]
mod central_test {
    use super::test_support::*;
    use super::*;

    #[test]
    fn the_central_queue_hands_a_task_to_each_free_thread_and_holds_the_rest() {
        let mut s = ClusterState::new(Placement::CentralQueue);
        s.worker_joined(1, info(1));
        s.worker_joined(2, info(2));
        s.client_joined(CLIENT);
        s.submit(
            CLIENT,
            (0..5).map(|i| submit(i, "app::t", vec![])).collect(),
        );
        let out = s.take_outbox();
        let (a, b) = (runs(&out, 1), runs(&out, 2));
        assert_eq!((a.len(), b.len()), (1, 1), "one per thread, the rest held");
        s.started(2, &[(b[0].task, b[0].attempt)]);
        s.finished(2, &[finished(b[0].task, b[0].attempt)]);
        let out = s.take_outbox();
        assert_eq!(
            (runs(&out, 1).len(), runs(&out, 2).len()),
            (0, 1),
            "the free thread gets the next"
        );
        // A worker that leaves gives its task back to the queue.
        s.worker_left(1);
        let out = s.take_outbox();
        assert!(runs(&out, 2).is_empty(), "worker 2 is busy");
        assert_eq!(s.status().ready_or_running, 4);
    }
}

#[cfg(test)]
mod resources_test {
    use super::test_support::*;

    #[test]
    fn a_task_that_needs_a_gpu_runs_only_where_one_is_offered_and_waits_for_one() {
        let mut s = state_with_workers(1);
        let mut task = submit(1, "app::train", vec![]);
        task.resources = vec![("gpu".into(), 1)];
        s.submit(CLIENT, vec![task, submit(2, "app::plain", vec![])]);
        let out = s.take_outbox();
        let first: Vec<String> = runs(&out, 1).iter().map(|r| r.function.clone()).collect();
        assert_eq!(first, ["app::plain"], "no worker offers a gpu yet");
        let mut gpu = info(2);
        gpu.resources = vec![("gpu".into(), 1)];
        s.worker_joined(2, gpu);
        let out = s.take_outbox();
        let on_gpu: Vec<String> = runs(&out, 2).iter().map(|r| r.function.clone()).collect();
        assert_eq!(on_gpu, ["app::train"]);
    }
}
