//! The one client connection builder: a resolved `Endpoint` in, a connected byte
//! stream out (TCP or unix socket, optionally through a SOCKS5 or HTTP proxy, then
//! TLS, then WebSocket). `prepare` does everything that can fail before the network;
//! `open` dials. pub, sub, rr and bench all connect through here.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;

use super::addr::host_port;
use super::endpoint::{Endpoint, ProxyKind};
use super::error::ConnectError;
use super::{BoxedStream, http_proxy, socks5, tcp, tls_client, ws};

/// How long `open` may take as a whole (TCP, proxy, TLS and WebSocket handshakes)
/// unless the caller sets `Prepared::connect_timeout`. mosquitto has no timeout of its
/// own and waits for the OS (about two minutes for an unanswered SYN on Linux); one
/// minute keeps a dead path from hanging a script for long while leaving slow links
/// and proxies ample time.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

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
/// wrong name, alert from the server), else what happened to the connection. Either
/// way a TLS error: the TCP connection was made, and a server that ends it during the
/// handshake (a plain MQTT port) is one that does not speak TLS there.
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
        None => ConnectError::Tls(format!(
            "the connection failed during the handshake ({})",
            super::error::strerror(&e)
        )),
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
    fn websocket_paths() {
        assert_eq!(websocket_path(""), "/mqtt");
        assert_eq!(websocket_path("/x/y"), "/x/y");
        assert_eq!(websocket_path("mqtt"), "/mqtt");
    }
}
