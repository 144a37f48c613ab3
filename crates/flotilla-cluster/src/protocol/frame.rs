//! Frames: a 4-byte big-endian length, then that many bytes holding one
//! postcard-encoded message.
//!
//! Every read checks the length against a hard limit before it allocates,
//! so a peer that announces a huge frame (or sends garbage that reads as
//! one) costs its own connection and nothing else. Results larger than a
//! frame travel as several chunk messages.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};

use crate::error::ClusterError;

/// The largest frame a connection accepts by default (64 MiB).
///
/// ```
/// assert_eq!(flotilla_cluster::protocol::MAX_FRAME_BYTES, 64 << 20);
/// ```
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// Bytes of result data carried by one chunk message.
pub(crate) const CHUNK_BYTES: usize = 4 << 20;

/// The reading half of a connection: whole messages out of frames.
#[derive(Debug)]
pub(crate) struct FrameReader<R> {
    inner: BufReader<R>,
    limit: usize,
    buf: Vec<u8>,
    peer: String,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(crate) fn new(inner: R, limit: usize, peer: String) -> FrameReader<R> {
        FrameReader {
            inner: BufReader::with_capacity(64 << 10, inner),
            limit,
            buf: Vec::new(),
            peer,
        }
    }

    /// The next message, or `None` when the peer closed the connection
    /// between two frames.
    ///
    /// # Errors
    ///
    /// [`ClusterError::FrameTooLarge`] for a length over the limit,
    /// [`ClusterError::Malformed`] for bytes that are not a message of type
    /// `T`, [`ClusterError::Io`] when the connection breaks mid-frame.
    pub(crate) async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ClusterError> {
        let mut len = [0u8; 4];
        match self.inner.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(ClusterError::io(format!("reading from {}", self.peer), e)),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > self.limit {
            return Err(ClusterError::FrameTooLarge {
                peer: self.peer.clone(),
                bytes: len,
                limit: self.limit,
            });
        }
        self.buf.resize(len, 0);
        self.inner
            .read_exact(&mut self.buf)
            .await
            .map_err(|e| ClusterError::io(format!("reading a frame from {}", self.peer), e))?;
        let message = postcard::from_bytes(&self.buf).map_err(|e| ClusterError::Malformed {
            peer: self.peer.clone(),
            reason: format!("a frame of {len} bytes is not a valid message: {e}"),
        })?;
        if self.buf.capacity() > 1 << 20 {
            // Do not keep a large result's buffer for every later small frame.
            self.buf = Vec::new();
        }
        Ok(Some(message))
    }

    /// The next message; a closed connection is an error naming `what` was
    /// expected.
    pub(crate) async fn expect<T: DeserializeOwned>(
        &mut self,
        what: &str,
    ) -> Result<T, ClusterError> {
        self.recv().await?.ok_or_else(|| ClusterError::Closed {
            peer: self.peer.clone(),
            during: what.to_string(),
        })
    }

    /// Whether bytes of a next frame already arrived (so that a server can
    /// answer it before it flushes).
    pub(crate) fn has_buffered(&self) -> bool {
        !self.inner.buffer().is_empty()
    }

    /// Who is at the other end, for messages.
    pub(crate) fn peer(&self) -> &str {
        &self.peer
    }
}

/// The writing half of a connection.
#[derive(Debug)]
pub(crate) struct FrameWriter<W> {
    inner: BufWriter<W>,
    scratch: Vec<u8>,
    peer: String,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    pub(crate) fn new(inner: W, peer: String) -> FrameWriter<W> {
        FrameWriter {
            inner: BufWriter::with_capacity(64 << 10, inner),
            scratch: Vec::new(),
            peer,
        }
    }

    /// Queues one message (sent at the next [`flush`](Self::flush) or when
    /// the buffer fills).
    pub(crate) async fn send<T: Serialize>(&mut self, message: &T) -> Result<(), ClusterError> {
        self.scratch.clear();
        self.scratch.extend_from_slice(&[0; 4]);
        let mut bytes = postcard::to_extend(message, std::mem::take(&mut self.scratch))
            .map_err(|e| ClusterError::Encode(e.to_string()))?;
        let len = u32::try_from(bytes.len() - 4)
            .map_err(|_| ClusterError::Encode(format!("a message of {} bytes", bytes.len())))?;
        bytes[..4].copy_from_slice(&len.to_be_bytes());
        let written = self.inner.write_all(&bytes).await;
        self.scratch = bytes;
        written.map_err(|e| ClusterError::io(format!("writing to {}", self.peer), e))
    }

    /// Sends what is queued.
    pub(crate) async fn flush(&mut self) -> Result<(), ClusterError> {
        self.inner
            .flush()
            .await
            .map_err(|e| ClusterError::io(format!("writing to {}", self.peer), e))
    }

    /// Sends one message at once.
    pub(crate) async fn send_now<T: Serialize>(&mut self, message: &T) -> Result<(), ClusterError> {
        self.send(message).await?;
        self.flush().await
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[tokio::test]
    async fn messages_round_trip_and_a_closed_stream_ends_cleanly() {
        let (a, b) = tokio::io::duplex(1024);
        let mut w = FrameWriter::new(a, "test".into());
        w.send(&(1u32, "one".to_string())).await.unwrap();
        w.send_now(&(2u32, "two".to_string())).await.unwrap();
        drop(w);
        let mut r = FrameReader::new(b, 1024, "test".into());
        assert_eq!(
            r.recv::<(u32, String)>().await.unwrap(),
            Some((1, "one".into()))
        );
        assert_eq!(
            r.recv::<(u32, String)>().await.unwrap(),
            Some((2, "two".into()))
        );
        assert_eq!(r.recv::<(u32, String)>().await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused_before_it_is_read() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        let mut r = FrameReader::new(b, 1024, "peer 9".into());
        let err = r.recv::<u32>().await.unwrap_err();
        assert!(
            matches!(err, ClusterError::FrameTooLarge { limit: 1024, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("peer 9"), "{err}");
    }

    #[tokio::test]
    async fn garbage_is_a_malformed_message() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(&3u32.to_be_bytes()).await.unwrap();
        a.write_all(&[0xff, 0xff, 0xff]).await.unwrap();
        let mut r = FrameReader::new(b, 1024, "peer".into());
        let err = r.recv::<u64>().await.unwrap_err();
        assert!(matches!(err, ClusterError::Malformed { .. }), "{err}");
    }
}
