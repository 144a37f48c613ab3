//! TLS on every connection of a cluster (the `tls` feature).
//!
//! A cluster given certificates encrypts all of its connections: clients
//! and workers to the scheduler, and fetches between workers. Every
//! process holds the same three PEM files: the authority (CA) that signed
//! the cluster's certificate, the certificate, and its private key. The
//! servers (the scheduler and each worker's data server) present the
//! certificate; whoever connects checks it against the authority and
//! against a name (`flotilla` unless told otherwise), not against the
//! address dialled, so that one certificate serves every machine of the
//! cluster. The token's challenge runs inside the encrypted connection,
//! as it does without TLS.
//!
//! [`Tls::generate`] writes such a set of files (a fresh authority and a
//! certificate it signed for `flotilla`) for a cluster that has none; the
//! processes read theirs from `--tls-ca`, `--tls-cert` and `--tls-key` or
//! from the variables [`TLS_CA_ENV`], [`TLS_CERT_ENV`] and
//! [`TLS_KEY_ENV`].
//!
//! A build without the `tls` feature has the same [`Tls`] type, but none
//! can be made: each constructor says that the feature is missing.

use std::path::{Path, PathBuf};

use crate::error::ClusterError;

/// The variable naming the authority's certificate file (PEM).
///
/// ```
/// assert_eq!(flotilla_cluster::TLS_CA_ENV, "FLOTILLA_TLS_CA");
/// ```
pub const TLS_CA_ENV: &str = "FLOTILLA_TLS_CA";
/// The variable naming the cluster's certificate file (PEM).
///
/// ```
/// assert_eq!(flotilla_cluster::TLS_CERT_ENV, "FLOTILLA_TLS_CERT");
/// ```
pub const TLS_CERT_ENV: &str = "FLOTILLA_TLS_CERT";
/// The variable naming the private key file of the cluster's certificate
/// (PEM).
///
/// ```
/// assert_eq!(flotilla_cluster::TLS_KEY_ENV, "FLOTILLA_TLS_KEY");
/// ```
pub const TLS_KEY_ENV: &str = "FLOTILLA_TLS_KEY";
/// The variable giving the name the certificate must carry (default
/// [`DEFAULT_TLS_NAME`]).
///
/// ```
/// assert_eq!(flotilla_cluster::TLS_NAME_ENV, "FLOTILLA_TLS_NAME");
/// ```
pub const TLS_NAME_ENV: &str = "FLOTILLA_TLS_NAME";
/// The name a cluster's certificate carries unless told otherwise.
///
/// ```
/// assert_eq!(flotilla_cluster::DEFAULT_TLS_NAME, "flotilla");
/// ```
pub const DEFAULT_TLS_NAME: &str = "flotilla";

/// The three files of a cluster's TLS set-up.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A cluster's TLS set-up: its authority, certificate and key, read from
/// PEM files, ready to encrypt connections.
///
/// Cheap to clone. Give the same one (or the same files) to the scheduler,
/// every worker and every client.
///
/// ```
/// # #[cfg(feature = "tls")] {
/// use flotilla_cluster::Tls;
/// let dir = std::env::temp_dir().join(format!("flotilla-tls-doc-{}", std::process::id()));
/// let tls = Tls::generate(&dir).unwrap();
/// assert_eq!(tls.name(), "flotilla");
/// let again = Tls::from_files(tls.ca_file(), tls.cert_file(), tls.key_file()).unwrap();
/// assert_eq!(again.cert_file(), tls.cert_file());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct Tls {
    #[cfg(feature = "tls")]
    inner: std::sync::Arc<enabled::Configs>,
    #[cfg(not(feature = "tls"))]
    never: std::convert::Infallible,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("ca", &self.files().ca)
            .field("cert", &self.files().cert)
            .field("key", &self.files().key)
            .field("name", &self.name())
            .finish()
    }
}

impl Tls {
    /// Reads the authority's certificate, the cluster's certificate chain
    /// and its private key from PEM files.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Tls`] naming the file that is missing, unreadable
    /// or holds no certificate or key, or saying that this build has no
    /// TLS (the `tls` feature).
    ///
    /// ```
    /// let err = flotilla_cluster::Tls::from_files("/nonexistent/ca.pem", "c.pem", "k.pem").unwrap_err();
    /// assert!(err.to_string().contains("/nonexistent/ca.pem") || err.to_string().contains("feature"));
    /// ```
    pub fn from_files(
        ca: impl AsRef<Path>,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Tls, ClusterError> {
        let files = TlsFiles {
            ca: ca.as_ref().to_path_buf(),
            cert: cert.as_ref().to_path_buf(),
            key: key.as_ref().to_path_buf(),
        };
        Tls::build(files, DEFAULT_TLS_NAME.to_string())
    }

    /// The set-up the environment names: the files of [`TLS_CA_ENV`],
    /// [`TLS_CERT_ENV`] and [`TLS_KEY_ENV`] and the name of
    /// [`TLS_NAME_ENV`]; `None` when none of the three files is named.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Tls`] when only some of the three are set, and as
    /// [`Tls::from_files`].
    ///
    /// ```
    /// // No TLS variables set here: no TLS.
    /// # std::env::remove_var(flotilla_cluster::TLS_CA_ENV);
    /// # std::env::remove_var(flotilla_cluster::TLS_CERT_ENV);
    /// # std::env::remove_var(flotilla_cluster::TLS_KEY_ENV);
    /// assert!(flotilla_cluster::Tls::from_env().unwrap().is_none());
    /// ```
    pub fn from_env() -> Result<Option<Tls>, ClusterError> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Tls::from_vars(
            var(TLS_CA_ENV),
            var(TLS_CERT_ENV),
            var(TLS_KEY_ENV),
            var(TLS_NAME_ENV),
        )
    }

    /// [`Tls::from_env`] given the variables' values.
    fn from_vars(
        ca: Option<std::ffi::OsString>,
        cert: Option<std::ffi::OsString>,
        key: Option<std::ffi::OsString>,
        name: Option<std::ffi::OsString>,
    ) -> Result<Option<Tls>, ClusterError> {
        if ca.is_none() && cert.is_none() && key.is_none() {
            return Ok(None);
        }
        let missing: Vec<&str> = [
            (TLS_CA_ENV, &ca),
            (TLS_CERT_ENV, &cert),
            (TLS_KEY_ENV, &key),
        ]
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
        let (Some(ca), Some(cert), Some(key)) = (ca, cert, key) else {
            return Err(ClusterError::Tls {
                peer: "this process".into(),
                reason: format!(
                    "TLS needs all three of {TLS_CA_ENV}, {TLS_CERT_ENV} and {TLS_KEY_ENV}; {} not set",
                    missing.join(" and ")
                ),
            });
        };
        let tls = Tls::from_files(ca, cert, key)?;
        Ok(Some(match name {
            Some(name) => tls.with_name(&name.to_string_lossy())?,
            None => tls,
        }))
    }

    /// Writes a fresh authority and a certificate it signed for
    /// [`DEFAULT_TLS_NAME`] into `dir` (created if missing) as `ca.pem`,
    /// `cert.pem` and `key.pem` (the key readable by this user only), and
    /// reads them back.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] when the folder or a file cannot be written,
    /// [`ClusterError::Tls`] when this build has no TLS.
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// let dir = std::env::temp_dir().join(format!("flotilla-tls-gen-{}", std::process::id()));
    /// let tls = flotilla_cluster::Tls::generate(&dir).unwrap();
    /// assert!(dir.join("key.pem").exists() && tls.ca_file() == dir.join("ca.pem"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    pub fn generate(dir: &Path) -> Result<Tls, ClusterError> {
        #[cfg(feature = "tls")]
        {
            let files = enabled::generate(dir)?;
            Tls::build(files, DEFAULT_TLS_NAME.to_string())
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = dir;
            Err(not_built())
        }
    }

    /// The same set-up, checking that servers' certificates carry `name`
    /// instead of [`DEFAULT_TLS_NAME`].
    ///
    /// # Errors
    ///
    /// [`ClusterError::Tls`] when `name` is not a valid DNS name.
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// # let dir = std::env::temp_dir().join(format!("flotilla-tls-name-{}", std::process::id()));
    /// let tls = flotilla_cluster::Tls::generate(&dir).unwrap();
    /// assert_eq!(tls.with_name("cluster.example.org").unwrap().name(), "cluster.example.org");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    pub fn with_name(self, name: &str) -> Result<Tls, ClusterError> {
        Tls::build(self.files().clone(), name.to_string())
    }

    /// The authority's certificate file.
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// # let dir = std::env::temp_dir().join(format!("flotilla-tls-ca-{}", std::process::id()));
    /// let tls = flotilla_cluster::Tls::generate(&dir).unwrap();
    /// assert!(tls.ca_file().ends_with("ca.pem"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    pub fn ca_file(&self) -> &Path {
        &self.files().ca
    }

    /// The cluster's certificate file.
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// # let dir = std::env::temp_dir().join(format!("flotilla-tls-cert-{}", std::process::id()));
    /// let tls = flotilla_cluster::Tls::generate(&dir).unwrap();
    /// assert!(tls.cert_file().ends_with("cert.pem"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    pub fn cert_file(&self) -> &Path {
        &self.files().cert
    }

    /// The private key file of the cluster's certificate.
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// # let dir = std::env::temp_dir().join(format!("flotilla-tls-key-{}", std::process::id()));
    /// let tls = flotilla_cluster::Tls::generate(&dir).unwrap();
    /// assert!(tls.key_file().ends_with("key.pem"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    pub fn key_file(&self) -> &Path {
        &self.files().key
    }

    /// The name servers' certificates must carry.
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// # let dir = std::env::temp_dir().join(format!("flotilla-tls-nm-{}", std::process::id()));
    /// let tls = flotilla_cluster::Tls::generate(&dir).unwrap();
    /// assert_eq!(tls.name(), flotilla_cluster::DEFAULT_TLS_NAME);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    pub fn name(&self) -> &str {
        #[cfg(feature = "tls")]
        {
            &self.inner.name
        }
        #[cfg(not(feature = "tls"))]
        match self.never {}
    }

    /// The variables that hand this set-up to a child process.
    pub(crate) fn env_vars(&self) -> [(&'static str, std::ffi::OsString); 4] {
        let files = self.files();
        [
            (TLS_CA_ENV, files.ca.clone().into_os_string()),
            (TLS_CERT_ENV, files.cert.clone().into_os_string()),
            (TLS_KEY_ENV, files.key.clone().into_os_string()),
            (TLS_NAME_ENV, self.name().into()),
        ]
    }

    fn files(&self) -> &TlsFiles {
        #[cfg(feature = "tls")]
        {
            &self.inner.files
        }
        #[cfg(not(feature = "tls"))]
        match self.never {}
    }

    fn build(files: TlsFiles, name: String) -> Result<Tls, ClusterError> {
        #[cfg(feature = "tls")]
        {
            Ok(Tls {
                inner: std::sync::Arc::new(enabled::Configs::load(files, name)?),
            })
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (files, name);
            Err(not_built())
        }
    }
}

#[cfg(not(feature = "tls"))]
fn not_built() -> ClusterError {
    ClusterError::Tls {
        peer: "this process".into(),
        reason: "this build of flotilla has no TLS; build it with the `tls` feature".into(),
    }
}

#[cfg(feature = "tls")]
pub(crate) use enabled::{accept, connect};

/// Without the feature no [`Tls`] exists, so these are never called.
#[cfg(not(feature = "tls"))]
pub(crate) async fn connect(
    tls: &Tls,
    _stream: tokio::net::TcpStream,
    _peer: &str,
) -> Result<crate::transport::Halves, ClusterError> {
    match tls.never {}
}

/// Without the feature no [`Tls`] exists, so these are never called.
#[cfg(not(feature = "tls"))]
pub(crate) async fn accept(
    tls: &Tls,
    _stream: tokio::net::TcpStream,
    _peer: &str,
) -> Result<crate::transport::Halves, ClusterError> {
    match tls.never {}
}

#[cfg(feature = "tls")]
mod enabled {
    use std::path::Path;
    use std::sync::Arc;

    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    use super::{TlsFiles, DEFAULT_TLS_NAME};
    use crate::error::ClusterError;
    use crate::transport::Halves;

    /// The files, and the rustls configurations made from them.
    pub(super) struct Configs {
        pub(super) files: TlsFiles,
        pub(super) name: String,
        server_name: ServerName<'static>,
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
    }

    fn error(reason: String) -> ClusterError {
        ClusterError::Tls {
            peer: "this process".into(),
            reason,
        }
    }

    fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, ClusterError> {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| error(format!("reading the {what} {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(error(format!(
                "the {what} {} holds no PEM certificate",
                path.display()
            )));
        }
        Ok(certs)
    }

    impl Configs {
        pub(super) fn load(files: TlsFiles, name: String) -> Result<Configs, ClusterError> {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut roots = RootCertStore::empty();
            for ca in certificates(&files.ca, "authority's certificate file")? {
                roots.add(ca).map_err(|e| {
                    error(format!(
                        "the authority's certificate in {} is not usable: {e}",
                        files.ca.display()
                    ))
                })?;
            }
            let chain = certificates(&files.cert, "certificate file")?;
            let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
                error(format!(
                    "reading the private key file {}: {e}",
                    files.key.display()
                ))
            })?;
            let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .map_err(|e| error(format!("configuring TLS: {e}")))?
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .map_err(|e| {
                    error(format!(
                        "the certificate {} and the key {} do not make a usable pair: {e}",
                        files.cert.display(),
                        files.key.display()
                    ))
                })?;
            let client = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| error(format!("configuring TLS: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            let server_name = ServerName::try_from(name.clone())
                .map_err(|e| error(format!("{name:?} cannot be a certificate's name: {e}")))?;
            Ok(Configs {
                files,
                name,
                server_name,
                server: Arc::new(server),
                client: Arc::new(client),
            })
        }
    }

    /// Encrypts a connection this process opened to `peer`.
    pub(crate) async fn connect(
        tls: &super::Tls,
        stream: tokio::net::TcpStream,
        peer: &str,
    ) -> Result<Halves, ClusterError> {
        let connector = TlsConnector::from(Arc::clone(&tls.inner.client));
        let stream = connector
            .connect(tls.inner.server_name.clone(), stream)
            .await
            .map_err(|e| ClusterError::Tls {
                peer: peer.to_string(),
                reason: format!(
                    "the TLS handshake failed: {e} (does it use TLS, with a certificate for {:?} signed by {}?)",
                    tls.inner.name,
                    tls.inner.files.ca.display()
                ),
            })?;
        let (r, w) = tokio::io::split(stream);
        Ok((Box::new(r), Box::new(w)))
    }

    /// Encrypts a connection `peer` opened to this process.
    pub(crate) async fn accept(
        tls: &super::Tls,
        stream: tokio::net::TcpStream,
        peer: &str,
    ) -> Result<Halves, ClusterError> {
        let acceptor = TlsAcceptor::from(Arc::clone(&tls.inner.server));
        let stream = acceptor.accept(stream).await.map_err(|e| {
            // Plain frames read as records of no known content type.
            let hint = if e.to_string().contains("InvalidContentType") {
                " (a connection without TLS?)"
            } else {
                ""
            };
            ClusterError::Tls {
                peer: peer.to_string(),
                reason: format!("the TLS handshake failed: {e}{hint}"),
            }
        })?;
        let (r, w) = tokio::io::split(stream);
        Ok((Box::new(r), Box::new(w)))
    }

    /// Writes a fresh authority and a certificate for [`DEFAULT_TLS_NAME`]
    /// signed by it into `dir`.
    pub(super) fn generate(dir: &Path) -> Result<TlsFiles, ClusterError> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
        let gen = |e: rcgen::Error| error(format!("making a certificate: {e}"));
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(gen)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "flotilla cluster authority");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().map_err(gen)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(gen)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let mut params = CertificateParams::new(vec![DEFAULT_TLS_NAME.to_string()]).map_err(gen)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, DEFAULT_TLS_NAME);
        let key = KeyPair::generate().map_err(gen)?;
        let cert = params.signed_by(&key, &issuer).map_err(gen)?;

        std::fs::create_dir_all(dir)
            .map_err(|e| ClusterError::io(format!("creating {}", dir.display()), e))?;
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        let write = |path: &Path, text: &str| {
            std::fs::write(path, text)
                .map_err(|e| ClusterError::io(format!("writing {}", path.display()), e))
        };
        write(&files.ca, &ca_cert.pem())?;
        write(&files.cert, &cert.pem())?;
        crate::scheduler::write_private(&files.key, &key.serialize_pem())?;
        Ok(files)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_environment_must_name_all_three_files_or_none() {
        assert!(Tls::from_vars(None, None, None, None).unwrap().is_none());
        let err = Tls::from_vars(Some("ca.pem".into()), None, None, None).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(TLS_CERT_ENV) && text.contains(TLS_KEY_ENV) && !text.contains("CA not"),
            "{text}"
        );
    }

    #[cfg(feature = "tls")]
    #[test]
    fn bad_files_are_named_in_the_error() {
        let dir = std::env::temp_dir().join(format!("flotilla-tls-unit-{}", std::process::id()));
        let tls = Tls::generate(&dir).unwrap();
        let missing = dir.join("nope.pem");
        let err = Tls::from_files(&missing, tls.cert_file(), tls.key_file()).unwrap_err();
        assert!(err.to_string().contains("nope.pem"), "{err}");
        // A key that is not the certificate's.
        let other = dir.join("other");
        let second = Tls::generate(&other).unwrap();
        let err = Tls::from_files(tls.ca_file(), tls.cert_file(), second.key_file()).unwrap_err();
        assert!(err.to_string().contains("usable pair"), "{err}");
        // A certificate file that holds no certificate.
        let err = Tls::from_files(tls.key_file(), tls.cert_file(), tls.key_file()).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        assert!(tls.clone().with_name("not a name!").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
