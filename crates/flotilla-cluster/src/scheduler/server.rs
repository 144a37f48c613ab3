//! The scheduler's network shell: accepts connections, runs the
//! handshake, and feeds one event loop that owns the [`ClusterState`].
//!
//! Each connection has a reader task (frames in, events to the loop) and
//! a writer task (messages from the loop, frames out, flushed when its
//! queue runs dry, so a turn's messages leave in few writes). The loop
//! drains every event that is waiting before it hands out messages, so
//! under load one frame carries many tasks. A connection that breaks the
//! protocol — a garbage or oversized frame, a failed handshake — is closed
//! with its reason logged; the rest go on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_core::{Placement, Speculation};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::state::{ClusterState, ConnId};
use super::watch::{lock, Watch};
use crate::error::ClusterError;
use crate::protocol::messages::{
    ClientEvent, ClientMessage, Failure, SchedulerMessage, WorkerMessage, SENT_RECORD_ITEMS,
};
use crate::protocol::{accept, FrameWriter, Role, Token, MAX_FRAME_BYTES};
use crate::tls::Tls;
use crate::transport;
use flotilla_core::trace::Outcome;

/// What a connection tells the event loop.
enum Event {
    WorkerJoined {
        conn: ConnId,
        info: crate::protocol::messages::WorkerInfo,
        tx: mpsc::UnboundedSender<SchedulerMessage>,
    },
    Worker {
        conn: ConnId,
        message: WorkerMessage,
    },
    WorkerLeft {
        conn: ConnId,
    },
    ClientJoined {
        conn: ConnId,
        tx: mpsc::UnboundedSender<ClientEvent>,
    },
    Client {
        conn: ConnId,
        message: ClientMessage,
    },
    ClientLeft {
        conn: ConnId,
    },
}

/// Settings of a scheduler.
#[derive(Debug, Clone)]
pub(crate) struct ServerConfig {
    pub(crate) placement: Placement,
    pub(crate) token: Option<Token>,
    pub(crate) max_frame: usize,
    /// A worker silent this long is removed.
    pub(crate) worker_timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) suspicious_after: Option<u32>,
    pub(crate) transfer_rate: f64,
    /// Encrypts every connection when set.
    pub(crate) tls: Option<Tls>,
    /// Speculative copies of stragglers, when on.
    pub(crate) speculation: Option<Speculation>,
    /// What the dashboard shows, when one is served.
    pub(crate) watch: Option<Arc<std::sync::Mutex<Watch>>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            placement: Placement::WorkStealing,
            token: None,
            max_frame: MAX_FRAME_BYTES,
            worker_timeout: Duration::from_secs(10),
            retries: 0,
            suspicious_after: None,
            transfer_rate: 1e9,
            tls: None,
            speculation: None,
            watch: None,
        }
    }
}

/// How often the dashboard takes the cluster's status (queues, memory).
const STATUS_EVERY: Duration = Duration::from_millis(250);

/// While watching, the clock is read when a turn of the event loop begins
/// and again at every this many events of one turn: the events it handles
/// arrived about then (the first before it began, the others while it
/// ran), and a reading per task would cost more than the watch's
/// bookkeeping itself.
const EVENTS_PER_CLOCK_READING: usize = 256;

/// How often running tasks are looked at for stragglers, when speculation
/// is on.
const STRAGGLER_CHECK: Duration = Duration::from_millis(50);

/// Serves on `listener` until `shutdown` resolves.
pub(crate) async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let config = Arc::new(config);
    let (events, mut inbox) = mpsc::unbounded_channel::<Event>();
    let next_conn = Arc::new(AtomicU64::new(1));
    let accept_loop = {
        let config = Arc::clone(&config);
        let events = events.clone();
        async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        log(&format!("accept failed: {e}"));
                        continue;
                    }
                };
                let conn = next_conn.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(
                    stream,
                    peer,
                    conn,
                    Arc::clone(&config),
                    events.clone(),
                ));
            }
        }
    };
    let event_loop = async move {
        let mut state = ClusterState::new(config.placement);
        state.set_retries(config.retries);
        state.set_transfer_rate(config.transfer_rate);
        if let Some(n) = config.suspicious_after {
            state.set_suspicious_after(n);
        }
        state.set_speculation(config.speculation);
        let speculating = config.speculation.is_some();
        let mut links = Links::default();
        // The record of tasks: kept from the start when a dashboard shows
        // it, else from the first client that asks for one.
        let mut watch = config.watch.clone();
        let timeout = config.worker_timeout;
        // How often running tasks are looked at for stragglers.
        let mut stragglers = tokio::time::interval(STRAGGLER_CHECK);
        stragglers.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tick = tokio::time::interval((timeout / 4).max(Duration::from_millis(10)));
        // When the watch next takes the cluster's status (on its clock).
        let mut status_due_ns = 0;
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                first = inbox.recv() => {
                    let Some(first) = first else { break };
                    let mut next = Some(first);
                    let mut handled = 0;
                    let mut watch = watch.as_deref().map(lock);
                    let mut now = watch.as_deref().map_or(0, Watch::now);
                    while let Some(event) = next.take() {
                        match watch.as_deref_mut() {
                            Some(w) => {
                                if handled % EVENTS_PER_CLOCK_READING
                                    == EVENTS_PER_CLOCK_READING - 1
                                {
                                    now = w.now();
                                }
                                let joined = watch_before(w, &state, &event, now);
                                let tasks = state.task_count();
                                handle(&mut state, event, &mut links, timeout);
                                // The tasks the event added to the graph.
                                w.tasks_added(
                                    (tasks..state.task_count()).filter_map(|t| state.task_kind(t)),
                                );
                                if let Some((conn, threads)) = joined {
                                    if let Some(id) = state.worker_index(conn) {
                                        w.worker_joined(id, threads);
                                    }
                                }
                            }
                            None => handle(&mut state, event, &mut links, timeout),
                        }
                        handled += 1;
                        if handled < 4096 {
                            next = inbox.try_recv().ok();
                        }
                    }
                }
                _ = stragglers.tick(), if speculating => {
                    state.plan_copies(Instant::now());
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    let silent: Vec<ConnId> = links
                        .last_heard
                        .iter()
                        .filter(|(_, t)| now.duration_since(**t) > timeout)
                        .map(|(c, _)| *c)
                        .collect();
                    for conn in silent {
                        log(&format!("worker {conn} was silent for over {timeout:?}: removed, its tasks go elsewhere"));
                        // Dropping its sender ends its writer, closing what the worker reads.
                        links.workers.remove(&conn);
                        links.last_heard.remove(&conn);
                        state.worker_left(conn);
                    }
                }
            }
            let out = state.take_outbox();
            if let Some(watch) = watch.as_deref() {
                let mut w = lock(watch);
                let now = w.now();
                watch_sent(&mut w, &state, &out.workers, now);
                if now >= status_due_ns {
                    status_due_ns = now + STATUS_EVERY.as_nanos() as u64;
                    w.set_status(state.status());
                    w.set_graph(state.graph_shape(super::watch::DRAWN_GRAPH_TASKS));
                }
            }
            for (conn, messages) in out.workers {
                if let Some(tx) = links.workers.get(&conn) {
                    for m in messages {
                        let _ = tx.send(m);
                    }
                }
            }
            for (conn, events) in out.clients {
                if let Some(tx) = links.clients.get(&conn) {
                    for e in events {
                        let _ = tx.send(e);
                    }
                }
            }
            if !links.asked.is_empty() {
                answer_asked(&mut links, &mut watch, &state, config.placement.name());
            }
        }
        for tx in links.workers.values() {
            let _ = tx.send(SchedulerMessage::Shutdown);
        }
    };
    tokio::select! {
        _ = accept_loop => {}
        _ = event_loop => {}
        _ = shutdown => {}
    }
}

/// Notes what `event`, which arrived by `now` (the watch's clock), says for the
/// dashboard, before the state handles it; a worker joining is noted after
/// (its number is made then), so its connection and threads are returned.
fn watch_before(
    w: &mut Watch,
    state: &ClusterState,
    event: &Event,
    now: u64,
) -> Option<(ConnId, u32)> {
    match event {
        Event::WorkerJoined { conn, info, .. } => return Some((*conn, info.threads)),
        Event::Worker { conn, message } => {
            let worker = state.worker_index(*conn)?;
            // Tasks the graph does not know (a confused worker's numbers)
            // are not noted: the state ignores them too.
            let known = |task: u32| task < state.task_count();
            match message {
                WorkerMessage::Started(tasks) => {
                    for &(task, _) in tasks.iter().filter(|(task, _)| known(*task)) {
                        w.started(task, now);
                    }
                }
                WorkerMessage::Finished(tasks) => {
                    for f in tasks {
                        let Some(kind) = state.task_kind(f.task) else {
                            continue;
                        };
                        let kind = w.kind(kind);
                        w.ended(worker, f.task, kind, now, Some(f.micros), Outcome::Done);
                    }
                }
                WorkerMessage::Failed(tasks) => {
                    for f in tasks {
                        let outcome = match f.failure {
                            Failure::InputLost { .. } => Outcome::InputLost,
                            _ => Outcome::Failed,
                        };
                        let Some(kind) = state.task_kind(f.task) else {
                            continue;
                        };
                        let kind = w.kind(kind);
                        w.ended(worker, f.task, kind, now, None, outcome);
                    }
                }
                WorkerMessage::GaveUp(answers) => {
                    for a in answers.iter().filter(|a| a.given && known(a.task)) {
                        w.given_up(a.task);
                    }
                }
                WorkerMessage::Heartbeat(_) | WorkerMessage::Register(_) => {}
            }
        }
        _ => {}
    }
    None
}

/// Notes the tasks handed out this turn (at `now`, the watch's clock): reruns
/// and the inputs they need from other workers.
fn watch_sent(
    w: &mut Watch,
    state: &ClusterState,
    sent: &HashMap<ConnId, Vec<SchedulerMessage>>,
    now: u64,
) {
    for (conn, messages) in sent {
        let Some(worker) = state.worker_index(*conn) else {
            continue;
        };
        for message in messages {
            let SchedulerMessage::Run(tasks) = message else {
                continue;
            };
            for t in tasks {
                let inputs = t
                    .inputs
                    .iter()
                    .map(|i| (i.worker, state.result_bytes(i.task)));
                w.dispatched(worker, t.task, &t.key, t.attempt, now, inputs);
            }
        }
    }
}

/// The event loop's connections: where to send, and when each worker was
/// last heard from.
#[derive(Default)]
struct Links {
    workers: HashMap<ConnId, mpsc::UnboundedSender<SchedulerMessage>>,
    clients: HashMap<ConnId, mpsc::UnboundedSender<ClientEvent>>,
    last_heard: HashMap<ConnId, Instant>,
    /// Clients' requests about the record of tasks, answered at the end
    /// of the turn.
    asked: Vec<(ConnId, Asked)>,
}

/// What a client asked about the record of tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Record,
    Trace { from_ns: u64 },
}

/// Answers the clients' requests about the record: a request to record
/// starts one (seeded with the workers already there) where there is
/// none, a request for the record gets a copy of it.
fn answer_asked(
    links: &mut Links,
    watch: &mut Option<Arc<std::sync::Mutex<Watch>>>,
    state: &ClusterState,
    placement: &str,
) {
    for (conn, asked) in std::mem::take(&mut links.asked) {
        let Some(tx) = links.clients.get(&conn) else {
            continue;
        };
        let answer = match (asked, watch.as_deref()) {
            (Asked::Record, Some(w)) => ClientEvent::Recording {
                at_ns: lock(w).now(),
            },
            (Asked::Record, None) => {
                let mut w = Watch::new(placement);
                let status = state.status();
                for worker in &status.workers {
                    w.worker_joined(worker.id, worker.threads);
                }
                w.set_status(status);
                let at_ns = w.now();
                *watch = Some(Arc::new(std::sync::Mutex::new(w)));
                ClientEvent::Recording { at_ns }
            }
            (Asked::Trace { from_ns }, Some(w)) => ClientEvent::Trace(Some(Box::new(
                lock(w).trace_since(from_ns, SENT_RECORD_ITEMS),
            ))),
            (Asked::Trace { .. }, None) => ClientEvent::Trace(None),
        };
        let _ = tx.send(answer);
    }
}

fn handle(state: &mut ClusterState, event: Event, links: &mut Links, timeout: Duration) {
    match event {
        Event::WorkerJoined { conn, info, tx } => {
            let id = state.worker_joined(conn, info);
            let heartbeat_ms = (timeout / 4).as_millis().max(1) as u64;
            let _ = tx.send(SchedulerMessage::Registered {
                worker: id.index() as u32,
                heartbeat_ms,
            });
            links.workers.insert(conn, tx);
            links.last_heard.insert(conn, Instant::now());
        }
        Event::Worker { conn, message } => {
            if let Some(t) = links.last_heard.get_mut(&conn) {
                *t = Instant::now();
            }
            match message {
                WorkerMessage::Started(t) => state.started(conn, &t),
                WorkerMessage::Finished(f) => state.finished(conn, &f),
                WorkerMessage::Failed(f) => state.failed(conn, f),
                WorkerMessage::GaveUp(a) => state.gave_up(conn, &a),
                WorkerMessage::Heartbeat(vitals) => state.vitals(conn, vitals),
                WorkerMessage::Register(_) => {}
            }
        }
        Event::WorkerLeft { conn } => {
            links.workers.remove(&conn);
            links.last_heard.remove(&conn);
            state.worker_left(conn);
        }
        Event::ClientJoined { conn, tx } => {
            state.client_joined(conn);
            links.clients.insert(conn, tx);
        }
        Event::Client { conn, message } => match message {
            ClientMessage::Submit(s) => state.submit(conn, s),
            ClientMessage::Release(ids) => state.release(conn, &ids),
            ClientMessage::Cancel(ids) => state.cancel(conn, &ids),
            ClientMessage::Status => state.status_request(conn),
            ClientMessage::Record => links.asked.push((conn, Asked::Record)),
            ClientMessage::Trace { from_ns } => links.asked.push((conn, Asked::Trace { from_ns })),
        },
        Event::ClientLeft { conn } => {
            links.clients.remove(&conn);
            state.client_left(conn);
        }
    }
}

/// One connection, from handshake to close.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    conn: ConnId,
    config: Arc<ServerConfig>,
    events: mpsc::UnboundedSender<Event>,
) {
    let (mut reader, mut writer) = match transport::accept(
        stream,
        config.tls.as_ref(),
        peer.to_string(),
        config.max_frame,
    )
    .await
    {
        Ok(halves) => halves,
        Err(e) => {
            log(&format!("connection from {peer} closed: {e}"));
            return;
        }
    };
    let role = match accept(
        &mut reader,
        &mut writer,
        config.token.as_ref(),
        &[Role::Worker, Role::Client],
    )
    .await
    {
        Ok(role) => role,
        Err(e) => {
            log(&format!("connection from {peer} closed: {e}"));
            return;
        }
    };
    match role {
        Role::Worker => {
            let info = match reader.expect::<WorkerMessage>("registration").await {
                Ok(WorkerMessage::Register(info)) => info,
                Ok(other) => {
                    log(&format!(
                        "worker {peer} sent {other:?} before registering; closed"
                    ));
                    return;
                }
                Err(e) => {
                    log(&format!("worker {peer} closed: {e}"));
                    return;
                }
            };
            let (tx, rx) = mpsc::unbounded_channel();
            if events.send(Event::WorkerJoined { conn, info, tx }).is_err() {
                return;
            }
            tokio::spawn(write_loop(writer, rx));
            loop {
                match reader.recv::<WorkerMessage>().await {
                    Ok(Some(message)) => {
                        if events.send(Event::Worker { conn, message }).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        log(&format!("worker {peer} dropped: {e}"));
                        break;
                    }
                }
            }
            let _ = events.send(Event::WorkerLeft { conn });
        }
        Role::Client | Role::Fetcher => {
            let (tx, rx) = mpsc::unbounded_channel();
            if events.send(Event::ClientJoined { conn, tx }).is_err() {
                return;
            }
            tokio::spawn(write_loop(writer, rx));
            loop {
                match reader.recv::<ClientMessage>().await {
                    Ok(Some(message)) => {
                        if events.send(Event::Client { conn, message }).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        log(&format!("client {peer} dropped: {e}"));
                        break;
                    }
                }
            }
            let _ = events.send(Event::ClientLeft { conn });
        }
    }
}

/// Sends what the event loop queues for one connection, flushing when the
/// queue runs dry.
async fn write_loop<W, M>(mut writer: FrameWriter<W>, mut rx: mpsc::UnboundedReceiver<M>)
where
    W: tokio::io::AsyncWrite + Unpin,
    M: serde::Serialize,
{
    while let Some(m) = rx.recv().await {
        if writer.send(&m).await.is_err() {
            return;
        }
        while let Ok(m) = rx.try_recv() {
            if writer.send(&m).await.is_err() {
                return;
            }
        }
        if writer.flush().await.is_err() {
            return;
        }
    }
}

/// Logs a line about the scheduler's connections (see
/// [`flotilla_local::log`]).
pub(crate) fn log(line: &str) {
    flotilla_local::log::warn("scheduler", line);
}

/// Binds `addr`.
pub(crate) async fn bind(addr: &str) -> Result<TcpListener, ClusterError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| ClusterError::io(format!("listening on {addr}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::state::test_support::{finished, state_with_workers, submit, CLIENT};

    #[test]
    fn the_watch_notes_only_the_tasks_of_the_graph() {
        let mut state = state_with_workers(1);
        state.submit(CLIENT, vec![submit(7, "app::add", vec![])]);
        let mut w = Watch::new("work-stealing");
        w.worker_joined(0, 1);
        // Worker 1 (connection 1) names a task the graph does not have:
        // noting it by its number would grow the watch to 4 G entries.
        let started = Event::Worker {
            conn: 1,
            message: WorkerMessage::Started(vec![(u32::MAX, 1), (0, 1)]),
        };
        let ended = Event::Worker {
            conn: 1,
            message: WorkerMessage::Finished(vec![finished(u32::MAX, 1), finished(0, 1)]),
        };
        assert_eq!(watch_before(&mut w, &state, &started, 5), None);
        assert_eq!(watch_before(&mut w, &state, &ended, 9), None);
        let trace = w.trace();
        let tasks: Vec<u32> = trace.spans.iter().map(|s| s.task).collect();
        assert_eq!(tasks, [0]);
        assert_eq!(trace.kinds, ["add"]);
    }
}
