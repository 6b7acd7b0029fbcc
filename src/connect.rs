//! The one connection builder: a resolved `Endpoint` in, a connected byte stream out
//! (TCP or unix socket, optionally through a SOCKS5 or HTTP proxy, then TLS, then
//! WebSocket). pub, sub, rr and bench all connect through here.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;

use crate::transport::{BoxedStream, http_proxy, socks5, tcp, tls_client, ws};

/// Where and how to reach a broker, fully resolved from flags, options files and URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `-h`; a name or address. Also the TLS server name and the WebSocket Host.
    pub host: String,
    /// `-p`, resolved (1883, or 8883 with TLS, when not given).
    pub port: u16,
    /// `--unix PATH`: connect to a unix socket instead of TCP (host/port unused).
    pub unix_socket: Option<PathBuf>,
    /// `-A`: local address to bind before connecting.
    pub bind_address: Option<String>,
    /// `--nodelay`: disable Nagle's algorithm.
    pub nodelay: bool,
    /// `--ws` / `ws://` / `wss://`: carry MQTT over WebSocket, to this path (`/mqtt`).
    pub websocket_path: Option<String>,
    /// TLS settings when TLS is on (`--cafile`, `--capath`, `--tls-use-os-certs`, `mqtts://`, …).
    pub tls: Option<TlsSettings>,
    /// `--proxy`.
    pub proxy: Option<Proxy>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TlsSettings {
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    /// `--tls-use-os-certs`: trust the system's CA store.
    pub use_os_certs: bool,
    /// `--cert` and `--key`: a client certificate.
    pub certfile: Option<PathBuf>,
    pub keyfile: Option<PathBuf>,
    /// `--insecure`: do not check the server's name against its certificate. The chain
    /// is still verified.
    pub insecure: bool,
    /// `--tls-alpn`.
    pub alpn: Option<String>,
    /// `--tls-version tlsv1.2|tlsv1.3`: the only version allowed (mosquitto's meaning).
    pub version: Option<TlsVersion>,
    /// `--ciphers`: OpenSSL-style cipher list, mapped to rustls suites where possible.
    pub ciphers: Option<String>,
    /// `--tls-keylog FILE`, or `$SSLKEYLOGFILE`: where to append the session secrets.
    pub keylog: Option<KeyLogPath>,
}

/// The key log file and what named it, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLogPath {
    pub path: PathBuf,
    /// `--tls-keylog` or `SSLKEYLOGFILE`.
    pub named_by: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// `Debug` is written by hand: it must not show the password (it ends up in `-d` logs).
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub kind: ProxyKind,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    /// `socks5h://`: the proxy resolves the broker's name.
    Socks5h,
    /// `http://`: HTTP CONNECT (mosquitto lacks it; its issue #1358).
    HttpConnect,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// How long `open` may take as a whole (TCP, proxy, TLS and WebSocket handshakes)
/// unless the caller sets `Prepared::connect_timeout`. mosquitto has no timeout of its
/// own and waits for the OS (about two minutes for an unanswered SYN on Linux); one
/// minute keeps a dead path from hanging a script for long while leaving slow links
/// and proxies ample time.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a connection could not be prepared or opened. `Display` gives what follows
/// `Error: ` on mosquitto's line where mosquitto has words for it.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A TLS file or directory that does not exist. mosquitto says only
    /// "Problem setting TLS options: File not found."; we name the option and path.
    #[error("Problem setting TLS options: File not found ({option} \"{}\").", path.display())]
    TlsFileNotFound { option: &'static str, path: PathBuf },
    /// A TLS file that exists but cannot be used; `what` is mosquitto's phrase for it
    /// (e.g. `Unable to load CA certificates, check cafile`).
    #[error("{what} \"{}\": {reason}.", path.display())]
    TlsFile {
        what: &'static str,
        option: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// A TLS option that cannot be honoured (an unknown cipher, a version no chosen
    /// cipher supports, no system CA store); names the option.
    #[error("Problem setting TLS options, check the options are valid: {option}: {reason}.")]
    TlsOption {
        option: &'static str,
        reason: String,
    },
    /// Settings that cannot work together or a value that cannot be sent; a full sentence.
    #[error("{0}")]
    Invalid(String),
    /// The broker's (or proxy's, or `-A`'s) name did not resolve. The text is
    /// mosquitto's, byte for byte (scripts compare it); the name and the resolver's
    /// reason are kept for debug output.
    #[error("Unable to connect (Lookup error.).")]
    Lookup { host: String, reason: String },
    /// The OS's error connecting or binding, in its words as mosquitto prints them:
    /// `Connection refused`, `No such file or directory` (unix socket),
    /// `Cannot assign requested address` (`-A`), `Network is unreachable`, …
    #[error("{}", crate::exit::strerror(.source))]
    Io {
        #[from]
        source: io::Error,
    },
    /// `open` took longer than `Prepared::connect_timeout`.
    #[error("Connection timed out (no connection after {} s).", .0.as_secs_f64())]
    Timeout(Duration),
    /// The SOCKS5 or HTTP proxy refused or failed (mosquitto: "Proxy error.").
    #[error("Proxy error: {0}.")]
    Proxy(String),
    /// The TLS handshake failed: an untrusted or wrongly named certificate, no common
    /// version or cipher, a refused client certificate. mosquitto prints
    /// "Unable to connect (A TLS error occurred.)."; we add rustls's reason.
    #[error("Unable to connect (A TLS error occurred: {0}).")]
    Tls(String),
    /// The WebSocket upgrade was refused or malformed.
    #[error("WebSocket handshake failed: {0}.")]
    WebSocket(String),
}

impl ConnectError {
    /// The whole line mosquitto's tools would print (without the newline): most errors
    /// after `Error: `, but lookup and TLS failures as `Unable to connect (…).` with no
    /// prefix, as mosquitto's `client_connect` prints them.
    pub fn stderr_line(&self) -> String {
        match self {
            ConnectError::Lookup { .. } | ConnectError::Tls(_) => self.to_string(),
            _ => format!("Error: {self}"),
        }
    }

    /// Whether trying again later could succeed (the broker or network may come back),
    /// as opposed to settings or certificates that will fail the same way every time.
    /// The session engine uses this to decide whether to reconnect.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConnectError::Io { .. }
                | ConnectError::Timeout(_)
                | ConnectError::Lookup { .. }
                | ConnectError::Proxy(_)
        )
    }
}

/// mosquitto_pub and mosquitto_sub exit 1 for every failure to connect (the TLS option
/// errors included); only a refused CONNACK has codes of its own, and that comes later.
/// The text is the whole line as mosquitto prints it (`stderr_line`).
impl From<ConnectError> for crate::exit::Error {
    fn from(e: ConnectError) -> crate::exit::Error {
        crate::exit::Error::Verbatim {
            text: format!("{}\n", e.stderr_line()),
            code: crate::exit::FAILURE,
        }
    }
}

/// An `Endpoint` checked and made ready: certificates loaded, the TLS configuration,
/// server name and WebSocket URL built. Cheap to clone; `open` can be called on it again
/// for every reconnection.
#[derive(Clone, Debug)]
pub struct Prepared {
    endpoint: Endpoint,
    /// The TLS client configuration and the name the server's certificate must carry.
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    /// `ws://host:port/path` or `wss://…`, when WebSocket is on.
    ws_url: Option<String>,
    /// The bound on one whole `open` (see `DEFAULT_CONNECT_TIMEOUT`).
    pub connect_timeout: Duration,
}

impl Prepared {
    /// The WebSocket URL, when WebSocket is on.
    pub fn websocket_url(&self) -> Option<&str> {
        self.ws_url.as_deref()
    }
}

/// `host` without the brackets an IPv6 literal may carry in a URL (`[::1]`), for
/// parsing it as an address or a TLS name.
pub(crate) fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `host:port` with IPv6 literals in brackets, as URLs and HTTP (RFC 9110 §7.2) need
/// them.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The request path: mosquitto's clients use `/mqtt`; a path without its leading
/// slash gets one.
fn websocket_path(path: &str) -> String {
    match path {
        "" => "/mqtt".to_string(),
        p if p.starts_with('/') => p.to_string(),
        p => format!("/{p}"),
    }
}

/// Checks `ep` and builds everything that can fail before touching the network: the
/// TLS configuration (reading `--cafile`, `--capath`, the system store, `--cert`,
/// `--key`; mapping `--ciphers` and `--tls-version`), the TLS server name, the
/// WebSocket URL, and the proxy credentials' limits.
pub fn prepare(ep: &Endpoint) -> Result<Prepared, ConnectError> {
    if ep.unix_socket.is_some() && ep.proxy.is_some() {
        return Err(ConnectError::Invalid(
            "--proxy cannot be used with --unix.".into(),
        ));
    }
    if ep.unix_socket.is_some() && ep.bind_address.is_some() {
        return Err(ConnectError::Invalid(
            "-A cannot be used with --unix.".into(),
        ));
    }
    let tls = match &ep.tls {
        Some(settings) => Some((
            tls_client::client_config(settings)?,
            tls_client::server_name(&ep.host)?,
        )),
        None => None,
    };
    if let Some(proxy) = &ep.proxy {
        if let Some(user) = &proxy.username {
            let pass = proxy.password.as_deref().unwrap_or("");
            match proxy.kind {
                ProxyKind::Socks5h => socks5::check_credentials(user, pass)?,
                ProxyKind::HttpConnect if user.contains(':') => {
                    // RFC 7617 §2: Basic cannot carry a colon in the user-id.
                    return Err(ConnectError::Invalid(
                        "An HTTP proxy username cannot contain ':'.".into(),
                    ));
                }
                ProxyKind::HttpConnect => {}
            }
        }
        if proxy.kind == ProxyKind::Socks5h {
            socks5::destination(&ep.host)?;
        }
    }
    let ws_url = match &ep.websocket_path {
        Some(path) => {
            let path = websocket_path(path);
            let scheme = if tls.is_some() { "wss" } else { "ws" };
            let url = format!("{scheme}://{}{path}", host_port(&ep.host, ep.port));
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            url.as_str().into_client_request().map_err(|e| {
                ConnectError::Invalid(format!("Invalid WebSocket URL \"{url}\": {e}."))
            })?;
            Some(url)
        }
        None => None,
    };
    Ok(Prepared {
        endpoint: ep.clone(),
        tls,
        ws_url,
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
    })
}

/// A TLS handshake error in words: rustls's reason when it is one (untrusted issuer,
/// wrong name, alert from the server), else the I/O error.
fn tls_error(e: io::Error) -> ConnectError {
    let rustls_reason = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .map(|r| r.to_string());
    match rustls_reason {
        Some(reason) => ConnectError::Tls(reason),
        None if e.kind() == io::ErrorKind::UnexpectedEof => {
            ConnectError::Tls("the server closed the connection during the handshake".into())
        }
        None => ConnectError::Io { source: e },
    }
}

/// Opens the connection `prepared` describes: TCP (or a unix socket), through the proxy
/// when there is one, then TLS, then WebSocket; bounded by `prepared.connect_timeout`.
pub async fn open(prepared: &Prepared) -> Result<BoxedStream, ConnectError> {
    match tokio::time::timeout(prepared.connect_timeout, open_unbounded(prepared)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(ConnectError::Timeout(prepared.connect_timeout)),
    }
}

async fn open_unbounded(prepared: &Prepared) -> Result<BoxedStream, ConnectError> {
    let ep = &prepared.endpoint;
    let mut stream: BoxedStream = match (&ep.unix_socket, &ep.proxy) {
        (Some(path), _) => open_unix(path).await?,
        (None, None) => {
            Box::new(tcp::connect(&ep.host, ep.port, ep.bind_address.as_deref(), ep.nodelay).await?)
        }
        (None, Some(proxy)) => {
            let mut s = tcp::connect(
                &proxy.host,
                proxy.port,
                ep.bind_address.as_deref(),
                ep.nodelay,
            )
            .await?;
            let auth = proxy
                .username
                .as_deref()
                .map(|u| (u, proxy.password.as_deref().unwrap_or("")));
            match proxy.kind {
                ProxyKind::Socks5h => socks5::handshake(&mut s, &ep.host, ep.port, auth).await?,
                ProxyKind::HttpConnect => {
                    http_proxy::handshake(&mut s, &ep.host, ep.port, auth).await?
                }
            }
            Box::new(s)
        }
    };
    if let Some((config, name)) = &prepared.tls {
        let tls = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name.clone(), stream)
            .await
            .map_err(tls_error)?;
        stream = Box::new(tls);
    }
    if let Some(url) = &prepared.ws_url {
        let ws = ws::connect(stream, url).await.map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
                ConnectError::WebSocket(e.to_string())
            }
            _ => ConnectError::Io { source: e },
        })?;
        stream = Box::new(ws);
    }
    Ok(stream)
}

#[cfg(unix)]
async fn open_unix(path: &std::path::Path) -> Result<BoxedStream, ConnectError> {
    Ok(Box::new(tokio::net::UnixStream::connect(path).await?))
}

#[cfg(not(unix))]
async fn open_unix(_path: &std::path::Path) -> Result<BoxedStream, ConnectError> {
    Err(ConnectError::Invalid(
        "--unix is not available on this system.".into(),
    ))
}

/// One line for debug logs: where and how, never a password. E.g.
/// `broker:8883 over TLS over WebSocket (/mqtt) via SOCKS5 proxy 127.0.0.1:1080`.
pub fn describe(ep: &Endpoint) -> String {
    let mut out = match &ep.unix_socket {
        Some(path) => format!("unix socket {}", path.display()),
        None => host_port(&ep.host, ep.port),
    };
    if ep.tls.is_some() {
        out.push_str(" over TLS");
    }
    if let Some(path) = &ep.websocket_path {
        out.push_str(&format!(" over WebSocket ({})", websocket_path(path)));
    }
    if let Some(proxy) = &ep.proxy {
        let kind = match proxy.kind {
            ProxyKind::Socks5h => "SOCKS5",
            ProxyKind::HttpConnect => "HTTP",
        };
        out.push_str(&format!(
            " via {kind} proxy {}",
            host_port(&proxy.host, proxy.port)
        ));
        if let Some(user) = &proxy.username {
            out.push_str(&format!(" as {user}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_mosquitto_prints_them() {
        let lookup = ConnectError::Lookup {
            host: "nonexistent.invalid".into(),
            reason: "Name or service not known".into(),
        };
        assert_eq!(lookup.stderr_line(), "Unable to connect (Lookup error.).");
        let refused = ConnectError::from(io::Error::from_raw_os_error(111));
        assert_eq!(refused.stderr_line(), "Error: Connection refused");
        let proxy =
            ConnectError::Proxy("the SOCKS5 proxy rejected the username and password".into());
        assert_eq!(
            proxy.stderr_line(),
            "Error: Proxy error: the SOCKS5 proxy rejected the username and password."
        );
        assert_eq!(
            crate::exit::strerror(&io::Error::other("plain text")),
            "plain text"
        );
    }

    #[test]
    fn websocket_paths() {
        assert_eq!(websocket_path(""), "/mqtt");
        assert_eq!(websocket_path("/x/y"), "/x/y");
        assert_eq!(websocket_path("mqtt"), "/mqtt");
        assert_eq!(host_port("::1", 80), "[::1]:80");
        assert_eq!(host_port("[::1]", 80), "[::1]:80");
        assert_eq!(host_port("h", 80), "h:80");
    }
}
