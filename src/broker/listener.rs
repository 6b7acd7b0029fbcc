//! Bound listeners and what they accept: TCP, unix socket, TLS, WebSocket (over TCP or TLS).

use std::io;

use tokio::net::TcpListener;

use crate::transport::BoxedStream;

/// A bound listening socket and the layers each accepted connection goes through.
pub enum Listener {
    Tcp(TcpListener),
}

impl Listener {
    /// Waits for the next connection. The returned stream speaks raw MQTT bytes, with
    /// TLS and WebSocket framing already taken off; the string names the peer for logs.
    pub async fn accept(&self) -> io::Result<(BoxedStream, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                s.set_nodelay(true)?;
                Ok((Box::new(s), peer.to_string()))
            }
        }
    }
}
