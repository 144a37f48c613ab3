//! Fetching results from the worker that holds them, over a direct
//! connection (results never pass through the scheduler).
//!
//! A [`Fetcher`] keeps one connection per worker address and sends all of
//! a batch's requests before it reads the first answer, so fetching many
//! small results costs one round trip per worker, not one per result.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::error::ClusterError;
use crate::protocol::messages::{DataReply, DataRequest};
use crate::protocol::{connect, Role, Token, MAX_FRAME_BYTES};
use crate::tls::Tls;
use crate::transport::{self, Reader, Writer};

/// One open connection to a worker's data server.
#[derive(Debug)]
struct DataConnection {
    reader: Reader,
    writer: Writer,
}

/// Why a result could not be fetched.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// The worker answered that it does not hold it.
    Missing,
    /// The worker could not be reached or broke the protocol.
    Unreachable(ClusterError),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Missing => f.write_str("the worker no longer holds it"),
            FetchError::Unreachable(e) => write!(f, "{e}"),
        }
    }
}

/// Connections to data servers, by address.
#[derive(Debug)]
pub(crate) struct Fetcher {
    token: Option<Token>,
    tls: Option<Tls>,
    connections: Mutex<HashMap<String, Arc<Mutex<Option<DataConnection>>>>>,
}

impl Fetcher {
    pub(crate) fn new(token: Option<Token>, tls: Option<Tls>) -> Fetcher {
        Fetcher {
            token,
            tls,
            connections: Mutex::new(HashMap::new()),
        }
    }

    /// The results of `tasks` held by the worker at `addr`, in order.
    pub(crate) async fn fetch(
        &self,
        addr: &str,
        tasks: &[u32],
    ) -> Vec<Result<Vec<u8>, FetchError>> {
        let slot = {
            let mut map = self.connections.lock().await;
            Arc::clone(map.entry(addr.to_string()).or_default())
        };
        let mut guard = slot.lock().await;
        if guard.is_none() {
            match open(addr, self.token.as_ref(), self.tls.as_ref()).await {
                Ok(c) => *guard = Some(c),
                Err(e) => {
                    return tasks
                        .iter()
                        .map(|_| Err(FetchError::Unreachable(clone_error(&e))))
                        .collect();
                }
            }
        }
        let Some(conn) = guard.as_mut() else {
            return Vec::new();
        };
        match exchange(conn, tasks).await {
            Ok(results) => results,
            Err(e) => {
                // The connection is broken: the next fetch opens a new one.
                *guard = None;
                tasks
                    .iter()
                    .map(|_| Err(FetchError::Unreachable(clone_error(&e))))
                    .collect()
            }
        }
    }
}

fn clone_error(e: &ClusterError) -> ClusterError {
    ClusterError::Disconnected(e.to_string())
}

async fn open(
    addr: &str,
    token: Option<&Token>,
    tls: Option<&Tls>,
) -> Result<DataConnection, ClusterError> {
    let (mut reader, mut writer, _) =
        transport::dial(addr, tls, format!("the worker at {addr}"), MAX_FRAME_BYTES).await?;
    connect(&mut reader, &mut writer, Role::Fetcher, token)
        .await
        .map_err(|e| transport::explain_handshake(e, tls))?;
    Ok(DataConnection { reader, writer })
}

async fn exchange(
    conn: &mut DataConnection,
    tasks: &[u32],
) -> Result<Vec<Result<Vec<u8>, FetchError>>, ClusterError> {
    for &task in tasks {
        conn.writer.send(&DataRequest::Fetch { task }).await?;
    }
    conn.writer.flush().await?;
    let mut results = Vec::with_capacity(tasks.len());
    for _ in tasks {
        let mut bytes = Vec::new();
        loop {
            match conn.reader.expect::<DataReply>("a fetch").await? {
                DataReply::Chunk { bytes: chunk, last } => {
                    if bytes.is_empty() {
                        bytes = chunk;
                    } else {
                        bytes.extend_from_slice(&chunk);
                    }
                    if last {
                        results.push(Ok(bytes));
                        break;
                    }
                }
                DataReply::Missing { .. } => {
                    results.push(Err(FetchError::Missing));
                    break;
                }
            }
        }
    }
    Ok(results)
}
