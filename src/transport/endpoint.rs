//! What to connect to and how, as plain data: `Endpoint` (address, unix socket, `-A`,
//! WebSocket path), its `TlsSettings` and `Proxy`. `settings` fills them in from
//! flags, options files and URLs; `dial::prepare` checks and loads them.

use std::fmt;
use std::path::PathBuf;

use super::keylog::KeyLogPath;

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
