//! The handshake every connection starts with.
//!
//! ```text
//! connecting side                     accepting side
//!   Hello { protocol, build, role } ─►
//!                                   ◄─ Challenge { protocol, build, nonce }   (or Refused)
//!   Proof { mac }                   ─►
//!                                   ◄─ Welcome                                (or Refused)
//! ```
//!
//! The accepting side refuses another protocol version or another build
//! (naming both), and, when it holds a token, any proof that is not the
//! HMAC-SHA256 of its fresh random nonce under that token. A refused side
//! reads the reason and gives up; nothing else on the server is touched.

use std::fmt;
use std::path::Path;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};

use super::frame::{FrameReader, FrameWriter};
use crate::error::ClusterError;

/// The version of the wire protocol; both ends must speak the same.
///
/// ```
/// assert!(flotilla_cluster::protocol::PROTOCOL_VERSION >= 1);
/// ```
pub const PROTOCOL_VERSION: u32 = 3;

/// The build every process of a cluster must share: flotilla's version
/// and the protocol's.
///
/// ```
/// assert!(flotilla_cluster::protocol::build().starts_with("flotilla "));
/// ```
pub fn build() -> &'static str {
    concat!("flotilla ", env!("CARGO_PKG_VERSION"), " (protocol 1)")
}

/// Who is connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Role {
    Worker,
    Client,
    /// A worker or client fetching results from a worker.
    Fetcher,
}

#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    protocol: u32,
    build: String,
    role: Role,
}

#[derive(Debug, Serialize, Deserialize)]
enum Challenge {
    Nonce { nonce: [u8; 32] },
    Refused { reason: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct Proof {
    mac: Option<[u8; 32]>,
}

#[derive(Debug, Serialize, Deserialize)]
enum Welcome {
    Accepted,
    Refused { reason: String },
}

/// A shared secret: every process of a cluster that has one proves it
/// knows it, and a scheduler or worker that has one refuses anyone who
/// does not.
///
/// ```
/// use flotilla_cluster::Token;
/// let t = Token::new("correct horse").unwrap();
/// assert_eq!(format!("{t:?}"), "Token(…)");
/// assert!(Token::new("").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Vec<u8>);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// A token of the given text (surrounding whitespace removed).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] for an empty token.
    ///
    /// ```
    /// use flotilla_cluster::{ClusterError, Token};
    ///
    /// # fn main() -> Result<(), ClusterError> {
    /// assert_eq!(Token::new("  s3cret\n")?, Token::new("s3cret")?);
    /// assert_eq!(Token::new("s3cret")?.expose(), "s3cret");
    /// assert!(matches!(Token::new(" \n"), Err(ClusterError::Config(_))));
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(text: &str) -> Result<Token, ClusterError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ClusterError::Config("the token is empty".into()));
        }
        Ok(Token(text.as_bytes().to_vec()))
    }

    /// The token in the file at `path`.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] naming the file when it cannot be read,
    /// [`ClusterError::Config`] when it is empty.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("flotilla-token-doc-{}", std::process::id()));
    /// std::fs::write(&path, "s3cret\n").unwrap();
    /// let t = flotilla_cluster::Token::from_file(&path).unwrap();
    /// assert_eq!(t, flotilla_cluster::Token::new("s3cret").unwrap());
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn from_file(path: &Path) -> Result<Token, ClusterError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ClusterError::io(format!("reading the token file {}", path.display()), e)
        })?;
        Token::new(&text).map_err(|_| {
            ClusterError::Config(format!("the token file {} is empty", path.display()))
        })
    }

    /// The token in `FLOTILLA_TOKEN`, if that is set and not empty.
    ///
    /// ```
    /// // Unset in doc tests:
    /// assert!(flotilla_cluster::Token::from_env().is_none() || std::env::var("FLOTILLA_TOKEN").is_ok());
    /// ```
    pub fn from_env() -> Option<Token> {
        std::env::var("FLOTILLA_TOKEN")
            .ok()
            .and_then(|t| Token::new(&t).ok())
    }

    /// A fresh random token (32 random bytes, hex).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] when the system has no randomness to give.
    ///
    /// ```
    /// let a = flotilla_cluster::Token::random().unwrap();
    /// assert_ne!(a, flotilla_cluster::Token::random().unwrap());
    /// assert_eq!(a.expose().len(), 64);
    /// ```
    pub fn random() -> Result<Token, ClusterError> {
        let bytes = random_bytes()?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Token(hex.into_bytes()))
    }

    /// The token's text, to write to a file or pass to a child process.
    ///
    /// ```
    /// assert_eq!(flotilla_cluster::Token::new("abc").unwrap().expose(), "abc");
    /// ```
    pub fn expose(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    fn mac(&self, nonce: &[u8; 32], role: Role) -> [u8; 32] {
        // An HMAC key may have any length: `new_from_slice` cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        };
        mac.update(nonce);
        mac.update(&[role as u8]);
        mac.finalize().into_bytes().into()
    }

    fn verify(&self, nonce: &[u8; 32], role: Role, proof: &[u8; 32]) -> bool {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return false;
        };
        mac.update(nonce);
        mac.update(&[role as u8]);
        mac.verify_slice(proof).is_ok()
    }
}

fn random_bytes() -> Result<[u8; 32], ClusterError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ClusterError::Config(format!("no randomness for a nonce or token: {e}")))?;
    Ok(bytes)
}

/// The connecting side of the handshake, as `role`, proving `token`.
pub(crate) async fn connect<R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut FrameWriter<W>,
    role: Role,
    token: Option<&Token>,
) -> Result<(), ClusterError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    connect_as(reader, writer, role, token, build()).await
}

/// [`connect`] claiming another build (tests of the refusal use it).
pub(crate) async fn connect_as<R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut FrameWriter<W>,
    role: Role,
    token: Option<&Token>,
    claimed_build: &str,
) -> Result<(), ClusterError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        build: claimed_build.to_string(),
        role,
    };
    writer.send_now(&hello).await?;
    let nonce = match reader.expect::<Challenge>("the handshake").await? {
        Challenge::Nonce { nonce } => nonce,
        Challenge::Refused { reason } => {
            return Err(ClusterError::Refused {
                peer: reader.peer().to_string(),
                reason,
            })
        }
    };
    let proof = Proof {
        mac: token.map(|t| t.mac(&nonce, role)),
    };
    writer.send_now(&proof).await?;
    match reader.expect::<Welcome>("the handshake").await? {
        Welcome::Accepted => Ok(()),
        Welcome::Refused { reason } => Err(ClusterError::Refused {
            peer: reader.peer().to_string(),
            reason,
        }),
    }
}

/// The accepting side: checks version, build and token; returns the role
/// of a peer it accepted.
pub(crate) async fn accept<R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut FrameWriter<W>,
    token: Option<&Token>,
    allowed: &[Role],
) -> Result<Role, ClusterError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let hello: Hello = reader.expect("the handshake").await?;
    let refusal = if hello.protocol != PROTOCOL_VERSION {
        Some(format!(
            "protocol version {} is not this side's {PROTOCOL_VERSION}",
            hello.protocol
        ))
    } else if hello.build != build() {
        Some(format!(
            "a process of build {:?} cannot join a cluster of build {:?}",
            hello.build,
            build()
        ))
    } else if !allowed.contains(&hello.role) {
        Some(format!("a {:?} cannot connect here", hello.role))
    } else {
        None
    };
    if let Some(reason) = refusal {
        writer
            .send_now(&Challenge::Refused {
                reason: reason.clone(),
            })
            .await?;
        return Err(ClusterError::Refused {
            peer: reader.peer().to_string(),
            reason,
        });
    }
    let nonce = random_bytes()?;
    writer.send_now(&Challenge::Nonce { nonce }).await?;
    let proof: Proof = reader.expect("the handshake").await?;
    let refusal = match (token, proof.mac) {
        (None, _) => None,
        (Some(_), None) => Some(
            "this cluster requires a token: set FLOTILLA_TOKEN or pass --token-file".to_string(),
        ),
        (Some(t), Some(mac)) if t.verify(&nonce, hello.role, &mac) => None,
        (Some(_), Some(_)) => Some("wrong token".to_string()),
    };
    match refusal {
        None => {
            writer.send_now(&Welcome::Accepted).await?;
            Ok(hello.role)
        }
        Some(reason) => {
            writer
                .send_now(&Welcome::Refused {
                    reason: reason.clone(),
                })
                .await?;
            Err(ClusterError::Refused {
                peer: reader.peer().to_string(),
                reason,
            })
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    async fn shake(
        server_token: Option<Token>,
        client_token: Option<Token>,
        claimed: &'static str,
    ) -> (Result<Role, ClusterError>, Result<(), ClusterError>) {
        let (a, b) = tokio::io::duplex(4096);
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        let server = tokio::spawn(async move {
            let mut r = FrameReader::new(ar, 4096, "client".into());
            let mut w = FrameWriter::new(aw, "client".into());
            accept(&mut r, &mut w, server_token.as_ref(), &[Role::Worker]).await
        });
        let mut r = FrameReader::new(br, 4096, "server".into());
        let mut w = FrameWriter::new(bw, "server".into());
        let client = connect_as(&mut r, &mut w, Role::Worker, client_token.as_ref(), claimed).await;
        (server.await.unwrap(), client)
    }

    #[tokio::test]
    async fn the_same_token_is_accepted() {
        let t = Token::new("secret").unwrap();
        let (s, c) = shake(Some(t.clone()), Some(t), build()).await;
        assert_eq!(s.unwrap(), Role::Worker);
        c.unwrap();
    }

    #[tokio::test]
    async fn a_wrong_or_missing_token_is_refused_with_the_reason() {
        let (s, c) = shake(
            Some(Token::new("a").unwrap()),
            Some(Token::new("b").unwrap()),
            build(),
        )
        .await;
        assert!(s.is_err());
        assert!(c.unwrap_err().to_string().contains("wrong token"));
        let (_, c) = shake(Some(Token::new("a").unwrap()), None, build()).await;
        assert!(c.unwrap_err().to_string().contains("FLOTILLA_TOKEN"));
    }

    #[tokio::test]
    async fn another_build_is_refused_naming_both() {
        let (_, c) = shake(None, None, "flotilla 0.0.1 (protocol 1)").await;
        let message = c.unwrap_err().to_string();
        assert!(
            message.contains("0.0.1") && message.contains(build()),
            "{message}"
        );
    }

    #[tokio::test]
    async fn without_a_server_token_anyone_of_the_build_joins() {
        let (s, c) = shake(None, Some(Token::new("x").unwrap()), build()).await;
        s.unwrap();
        c.unwrap();
    }
}
