//! Byte-stream transports (TCP, unix socket, TLS, WebSocket, proxies), shared by the
//! clients and the broker. Every transport ends as a `BoxedStream`.

pub mod http_proxy;
pub mod keylog;
pub mod socks5;
pub mod tcp;
pub mod tls;
pub mod tls_client;
pub mod ws;

use tokio::io::{AsyncRead, AsyncWrite};

/// Anything MQTT can be carried over: an ordered, reliable byte stream.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}

/// A transport whose kind is chosen at run time.
pub type BoxedStream = Box<dyn AsyncStream>;
