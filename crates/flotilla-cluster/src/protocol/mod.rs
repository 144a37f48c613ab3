//! The wire: length-prefixed frames of postcard messages, and the
//! handshake every connection starts with.

mod frame;
mod handshake;
pub(crate) mod messages;

pub use frame::MAX_FRAME_BYTES;
pub(crate) use frame::{FrameReader, FrameWriter, CHUNK_BYTES};
#[cfg(test)]
pub(crate) use handshake::connect_as;
pub(crate) use handshake::{accept, connect, Role};
pub use handshake::{build, Token, PROTOCOL_VERSION};
pub use messages::{ClusterStatus, WorkerStatus};
