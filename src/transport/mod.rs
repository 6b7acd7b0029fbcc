//! Byte-stream transports (TCP, unix socket, TLS, WebSocket, proxies), shared by the
//! clients and the broker. Every transport ends as a `BoxedStream`.
//!
//! This is the bottom layer of the I/O side: it imports nothing of the commands,
//! their settings, the broker or the exit table. Callers describe a connection as an
//! `Endpoint` (plain data), `prepare` it once and `open` it as often as they
//! reconnect; failures are `ConnectError`s, which `crate::exit` turns into
//! mosquitto's words and status. The broker's listeners use `tls` (server side)
//! and `ws`.

pub mod addr;
pub mod dial;
pub mod endpoint;
pub mod error;
pub mod http_proxy;
pub mod keylog;
pub mod socks5;
pub mod tcp;
pub mod tls;
pub mod tls_client;
pub mod ws;

pub use dial::{DEFAULT_CONNECT_TIMEOUT, Prepared, describe, open, prepare};
pub use endpoint::{Endpoint, Proxy, ProxyKind, TlsSettings, TlsVersion};
pub use error::{ConnectError, strerror};
pub use keylog::KeyLogPath;

use tokio::io::{AsyncRead, AsyncWrite};

/// Anything MQTT can be carried over: an ordered, reliable byte stream.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}

/// A transport whose kind is chosen at run time.
pub type BoxedStream = Box<dyn AsyncStream>;
