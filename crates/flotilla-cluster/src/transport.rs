//! Opening and accepting connections: plain TCP, or TLS when the cluster
//! has a [`Tls`] set-up. Either way the rest of the crate gets the same
//! pair of frame halves, so nothing past this file knows which it is.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::error::ClusterError;
use crate::protocol::{FrameReader, FrameWriter};
use crate::tls::{self, Tls};

/// What a connection's reading half is, TLS or not.
pub(crate) trait ByteRead: AsyncRead + Send + Unpin + std::fmt::Debug {}
impl<T: AsyncRead + Send + Unpin + std::fmt::Debug> ByteRead for T {}

/// What a connection's writing half is, TLS or not.
pub(crate) trait ByteWrite: AsyncWrite + Send + Unpin + std::fmt::Debug {}
impl<T: AsyncWrite + Send + Unpin + std::fmt::Debug> ByteWrite for T {}

/// The reading and writing halves of a connection.
pub(crate) type Halves = (Box<dyn ByteRead>, Box<dyn ByteWrite>);

/// The reading half of a connection, as frames.
pub(crate) type Reader = FrameReader<Box<dyn ByteRead>>;

/// The writing half of a connection, as frames.
pub(crate) type Writer = FrameWriter<Box<dyn ByteWrite>>;

/// Opens a connection to `addr` (`peer` names it in errors), encrypted
/// when `tls` is given; also returns this end's address.
pub(crate) async fn dial(
    addr: &str,
    tls: Option<&Tls>,
    peer: String,
    limit: usize,
) -> Result<(Reader, Writer, SocketAddr), ClusterError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| ClusterError::io(format!("connecting to {peer}"), e))?;
    let _ = stream.set_nodelay(true);
    let local = stream
        .local_addr()
        .map_err(|e| ClusterError::io(format!("reading this end's address towards {peer}"), e))?;
    let (r, w) = match tls {
        Some(tls) => tls::connect(tls, stream, &peer).await?,
        None => plain(stream),
    };
    Ok((
        FrameReader::new(r, limit, peer.clone()),
        FrameWriter::new(w, peer),
        local,
    ))
}

/// Takes a connection `peer` opened, encrypted when `tls` is given.
pub(crate) async fn accept(
    stream: TcpStream,
    tls: Option<&Tls>,
    peer: String,
    limit: usize,
) -> Result<(Reader, Writer), ClusterError> {
    let _ = stream.set_nodelay(true);
    let (r, w) = match tls {
        Some(tls) => tls::accept(tls, stream, &peer).await?,
        None => plain(stream),
    };
    Ok((
        FrameReader::new(r, limit, peer.clone()),
        FrameWriter::new(w, peer),
    ))
}

fn plain(stream: TcpStream) -> Halves {
    let (r, w) = stream.into_split();
    (Box::new(r), Box::new(w))
}

/// Says what went wrong when a connection opened without TLS met a
/// cluster that uses it: such a peer either hangs up or answers with a TLS
/// alert, which reads as a frame of some 350 MB.
pub(crate) fn explain_handshake(error: ClusterError, tls: Option<&Tls>) -> ClusterError {
    if tls.is_some() {
        return error;
    }
    let fix = format!(
        "give this process the cluster's certificate files ({}, {} and {}, or --tls-ca, \
         --tls-cert and --tls-key)",
        tls::TLS_CA_ENV,
        tls::TLS_CERT_ENV,
        tls::TLS_KEY_ENV
    );
    match error {
        // 0x14..=0x17 open a TLS record (alert, handshake, ...).
        ClusterError::FrameTooLarge { peer, bytes, .. }
            if (0x14..=0x17).contains(&(bytes >> 24)) =>
        {
            ClusterError::Tls {
                peer,
                reason: format!("it answered with TLS, and this process connected without: {fix}"),
            }
        }
        ClusterError::Closed { peer, during } => ClusterError::Closed {
            peer,
            during: format!(
                "{during} (a cluster that uses TLS hangs up on connections without it: {fix})"
            ),
        },
        other => other,
    }
}
