//! TLS (rustls) for the client port and for node-to-node links (replication and
//! forwarding), named and behaving as Redis' `tls-*` options do.
//!
//! The certificate, key and CA files are re-read every second (see
//! [`Tls::reload`]): a rotated Kubernetes Secret reaches new connections without
//! a restart, and connections already open keep the session they negotiated. A
//! half-written rotation (a new certificate beside the old key) fails to load
//! and the previous material stays in use until the files agree again.

use arc_swap::{ArcSwap, ArcSwapOption};
use parking_lot::Mutex;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
/// Re-exported so that users of [`client_config`] need no rustls of their own.
pub use rustls::ClientConfig;
use rustls::{RootCertStore, ServerConfig};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long a client has to finish its TLS handshake: a client that opens a
/// connection and says nothing must not hold a slot for long.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether clients must present a certificate signed by the CA
/// (`tls-auth-clients`). Redis' default is `yes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClientAuth {
    No,
    Optional,
    #[default]
    Yes,
}

impl ClientAuth {
    /// As `tls-auth-clients` writes it.
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::No => "no",
            ClientAuth::Optional => "optional",
            ClientAuth::Yes => "yes",
        }
    }
}

impl FromStr for ClientAuth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "yes" => Ok(ClientAuth::Yes),
            "no" => Ok(ClientAuth::No),
            "optional" => Ok(ClientAuth::Optional),
            _ => Err(format!("'{s}' must be yes, no or optional")),
        }
    }
}

/// The TLS part of the startup configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// CA that client and peer certificates must chain to.
    pub ca_cert_file: Option<PathBuf>,
    pub auth_clients: ClientAuth,
    /// Replicas reach their primary over TLS (`tls-replication`).
    pub replication: bool,
    /// Forwarding links and health probes use TLS (`tls-cluster`).
    pub cluster: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: no PEM certificate in it", .0.display())]
    NoCertificate(PathBuf),
    #[error("{}: no PEM private key in it", .0.display())]
    NoKey(PathBuf),
    #[error("{0}")]
    Invalid(String),
}

/// Which kind of node-to-node link asks for a client configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Replication,
    Cluster,
}

/// The files' contents as last loaded, to tell a rotation from no change.
#[derive(PartialEq, Eq)]
struct Files {
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Option<Vec<u8>>,
}

/// Loaded TLS material, swapped whole when the files change.
pub struct Tls {
    config: TlsConfig,
    server: ArcSwap<ServerConfig>,
    client: ArcSwapOption<ClientConfig>,
    last: Mutex<Files>,
}

impl Tls {
    /// Reads and checks the files; an error names the file at fault.
    pub fn load(config: TlsConfig) -> Result<Tls, TlsError> {
        if config.ca_cert_file.is_none() {
            if config.auth_clients != ClientAuth::No {
                return Err(TlsError::Invalid(
                    "tls-auth-clients yes or optional needs tls-ca-cert-file to verify clients against (or set tls-auth-clients no)".into(),
                ));
            }
            if config.replication || config.cluster {
                return Err(TlsError::Invalid(
                    "tls-replication and tls-cluster need tls-ca-cert-file to verify peers against"
                        .into(),
                ));
            }
        }
        let files = read(&config)?;
        let (server, client) = build(&config, &files)?;
        Ok(Tls {
            config,
            server: ArcSwap::new(server),
            client: ArcSwapOption::new(client),
            last: Mutex::new(files),
        })
    }

    pub fn config(&self) -> &TlsConfig {
        &self.config
    }

    /// For accepting clients, with the current certificate.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server.load_full())
    }

    /// The client configuration for a link of `kind`, or None when that kind
    /// of link runs in plaintext.
    pub fn link(&self, kind: Link) -> Option<Arc<ClientConfig>> {
        let on = match kind {
            Link::Replication => self.config.replication,
            Link::Cluster => self.config.cluster,
        };
        if on {
            self.client.load_full()
        } else {
            None
        }
    }

    /// Re-reads the files: Ok(true) when they changed and were installed,
    /// Ok(false) when unchanged, Err when they changed but do not load (the
    /// previous material stays in use).
    pub fn reload(&self) -> Result<bool, TlsError> {
        let files = read(&self.config)?;
        let mut last = self.last.lock();
        if *last == files {
            return Ok(false);
        }
        let (server, client) = build(&self.config, &files)?;
        self.server.store(server);
        self.client.store(client);
        *last = files;
        Ok(true)
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read(config: &TlsConfig) -> Result<Files, TlsError> {
    Ok(Files {
        cert: read_file(&config.cert_file)?,
        key: read_file(&config.key_file)?,
        ca: config.ca_cert_file.as_deref().map(read_file).transpose()?,
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(what: &str) -> impl FnOnce(rustls::Error) -> TlsError + '_ {
    move |e| TlsError::Invalid(format!("{what}: {e}"))
}

/// The PEM certificates in `pem`, read from `path`.
pub fn certificates(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Invalid(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(certs)
}

/// A root store holding the CA certificates in `pem`.
pub fn roots(pem: &[u8], path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(pem, path)? {
        roots
            .add(cert)
            .map_err(|e| TlsError::Invalid(format!("{}: {e}", path.display())))?;
    }
    Ok(Arc::new(roots))
}

/// A client configuration trusting the CA in `ca` and, when `identity` is
/// given (certificate and key PEM), presenting it to servers that ask.
pub fn client_config(
    ca: &[u8],
    ca_path: &Path,
    identity: Option<(&[u8], &[u8])>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid("TLS client"))?
        .with_root_certificates(roots(ca, ca_path)?);
    let config = match identity {
        Some((cert, key)) => {
            let certs = certificates(cert, Path::new("client certificate"))?;
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|_| TlsError::NoKey(PathBuf::from("client key")))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(invalid("client certificate"))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

type Built = (Arc<ServerConfig>, Option<Arc<ClientConfig>>);

fn build(config: &TlsConfig, files: &Files) -> Result<Built, TlsError> {
    let certs = certificates(&files.cert, &config.cert_file)?;
    let key = PrivateKeyDer::from_pem_slice(&files.key)
        .map_err(|_| TlsError::NoKey(config.key_file.clone()))?;
    let ca = match (&files.ca, &config.ca_cert_file) {
        (Some(pem), Some(path)) => Some((roots(pem, path)?, pem, path)),
        _ => None,
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid("TLS server"))?;
    let builder = match (config.auth_clients, &ca) {
        (ClientAuth::No, _) | (_, None) => builder.with_no_client_auth(),
        (auth, Some((roots, _, _))) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider());
            let verifier = if auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| TlsError::Invalid(format!("tls-ca-cert-file: {e}")))?,
            )
        }
    };
    let server = builder
        .with_single_cert(certs, key.clone_key())
        .map_err(|e| {
            TlsError::Invalid(format!(
                "{} and {} do not make a usable identity: {e}",
                config.cert_file.display(),
                config.key_file.display()
            ))
        })?;
    // Links present this node's own certificate, as Redis does when no
    // separate client certificate is configured, so peers requiring client
    // certificates (tls-auth-clients yes) accept them.
    let client = match &ca {
        Some((_, pem, path)) => Some(client_config(pem, path, Some((&files.cert, &files.key)))?),
        None => None,
    };
    Ok((Arc::new(server), client))
}

/// A node-to-node connection: plain TCP or TLS over it.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Connects to `host:port` within `timeout` (TCP and TLS handshake each), with
/// no Nagle delay and TCP keepalive, over TLS when `tls` is given; the peer's
/// certificate must then chain to the CA and name `host`.
pub async fn connect(
    host: &str,
    port: u16,
    tls: Option<&Arc<ClientConfig>>,
    timeout: Duration,
) -> io::Result<Stream> {
    let timed_out =
        |what: &str| io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"));
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| timed_out("connect"))??;
    tcp.set_nodelay(true)?;
    // Idle links to a peer that vanished without a FIN are found by keepalive.
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(10))
        .with_interval(Duration::from_secs(5));
    let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(&keepalive);
    let Some(config) = tls else {
        return Ok(Stream::Plain(tcp));
    };
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
    let tls = tokio::time::timeout(
        timeout,
        tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp),
    )
    .await
    .map_err(|_| timed_out("TLS handshake"))??;
    Ok(Stream::Tls(Box::new(tls)))
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A blocking TLS (or plain) connection for the short-lived health probes.
pub enum BlockingStream {
    Plain(std::net::TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>>),
}

impl BlockingStream {
    /// Wraps a connected socket, in TLS when `tls` is given (the handshake
    /// happens on first use, under the socket's timeouts).
    pub fn new(
        tcp: std::net::TcpStream,
        host: &str,
        tls: Option<&Arc<ClientConfig>>,
    ) -> io::Result<BlockingStream> {
        let Some(config) = tls else {
            return Ok(BlockingStream::Plain(tcp));
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
        let conn = rustls::ClientConnection::new(config.clone(), name)
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(BlockingStream::Tls(Box::new(rustls::StreamOwned::new(
            conn, tcp,
        ))))
    }
}

impl io::Read for BlockingStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            BlockingStream::Plain(s) => s.read(buf),
            BlockingStream::Tls(s) => s.read(buf),
        }
    }
}

impl io::Write for BlockingStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            BlockingStream::Plain(s) => s.write(buf),
            BlockingStream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            BlockingStream::Plain(s) => s.flush(),
            BlockingStream::Tls(s) => s.flush(),
        }
    }
}
