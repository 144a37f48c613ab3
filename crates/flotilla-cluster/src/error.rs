//! The errors of the cluster: connecting, the protocol, and tasks.

use std::io;

/// What went wrong talking to a cluster or running a task on it.
///
/// ```
/// use flotilla_cluster::ClusterError;
/// let e = ClusterError::NotRegistered { function: "closure".into() };
/// assert!(e.to_string().contains("#[flotilla::remote]"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// A connection or file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, and with whom.
        what: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A peer announced a frame over the size limit; the connection is closed.
    #[error("{peer} sent a frame of {bytes} bytes, over the limit of {limit}")]
    FrameTooLarge {
        /// Who sent it.
        peer: String,
        /// Its announced size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A peer sent bytes that are not a message; the connection is closed.
    #[error("{peer} sent a malformed message: {reason}")]
    Malformed {
        /// Who sent it.
        peer: String,
        /// What was wrong.
        reason: String,
    },
    /// A message could not be encoded.
    #[error("cannot encode a message: {0}")]
    Encode(String),
    /// The connection closed while something was still expected.
    #[error("{peer} closed the connection during {during}")]
    Closed {
        /// Who closed it.
        peer: String,
        /// What was going on.
        during: String,
    },
    /// The other side refused the handshake.
    #[error("{peer} refused the connection: {reason}")]
    Refused {
        /// Who refused.
        peer: String,
        /// Why.
        reason: String,
    },
    /// TLS could not be set up (a missing or unusable certificate or key
    /// file, a build without the `tls` feature), or a TLS handshake with a
    /// peer failed.
    #[error("{peer}: {reason}")]
    Tls {
        /// With whom (or `this process` for the set-up).
        peer: String,
        /// What was wrong.
        reason: String,
    },
    /// A setting is wrong (an empty token, a bad address).
    #[error("{0}")]
    Config(String),
    /// The scheduler's dashboard could not be served at the address asked
    /// for (taken, not an address).
    #[error("cannot serve the dashboard at {addr}: {message}")]
    Dashboard {
        /// The address asked for.
        addr: String,
        /// Why.
        message: String,
    },
    /// A function that is not registered was asked to run on a cluster.
    #[error(
        "{function} is not a registered function: mark it #[flotilla::remote] \
         (a closure runs in-process only) and run this binary as the workers"
    )]
    NotRegistered {
        /// The function's name.
        function: String,
    },
    /// A closure was given to a client of a cluster: it cannot cross to
    /// another process.
    #[error(
        "{operation} was given a closure, which runs only in this process: on a cluster, write \
         it as a function marked #[flotilla::remote] and submit f::call(..) (or use \
         Client::in_process)"
    )]
    ClosureOnCluster {
        /// What was asked, and the closure's type.
        operation: String,
    },
    /// A task ended without a result.
    #[error("task {key} ({function}) {reason}")]
    Task {
        /// The task's key.
        key: String,
        /// Its function.
        function: String,
        /// What happened, in words.
        reason: String,
    },
    /// An argument or result could not be encoded or decoded.
    #[error("{what}: {reason}")]
    Codec {
        /// Which value.
        what: String,
        /// Why.
        reason: String,
    },
    /// The client was closed, or its scheduler went away.
    #[error("the connection to the scheduler is gone: {0}")]
    Disconnected(String),
    /// A checkpoint folder could not be opened, or one of its files read.
    #[error(transparent)]
    Checkpoint(#[from] flotilla_local::CheckpointError),
}

impl ClusterError {
    /// The dashboard meant for `addr` could not be served.
    #[cfg(feature = "dashboard")]
    pub(crate) fn dashboard(addr: &str, e: flotilla_dashboard::DashboardError) -> ClusterError {
        ClusterError::Dashboard {
            addr: addr.to_string(),
            message: match e {
                flotilla_dashboard::DashboardError::Bind { source, .. } => source.to_string(),
                other => other.to_string(),
            },
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> ClusterError {
        ClusterError::Io {
            what: what.into(),
            source,
        }
    }
}
