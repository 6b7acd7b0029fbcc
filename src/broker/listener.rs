//! Bound listeners and what they accept: TCP (IPv4 and IPv6), unix socket, TLS, and
//! WebSocket over TCP or TLS. Handshakes run concurrently, off the accept path.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Mutex, mpsc};
use tokio::task::{JoinHandle, JoinSet};

use crate::broker::config::{ListenerConfig, SocketDomain};
use crate::broker::log::{LogType, Logger};
use crate::transport::tls::{self, TlsAcceptor};
use crate::transport::{BoxedStream, ws};

/// A TLS or WebSocket handshake that takes longer than this is dropped, so a client
/// that connects and stalls costs a task for a while, never the listener.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress per socket; beyond this, accepting waits for one to finish
/// (or time out), leaving new connections in the kernel's backlog meanwhile.
const MAX_HANDSHAKES: usize = 256;

/// Fully set-up connections waiting for `accept`.
const ACCEPT_QUEUE: usize = 64;

/// A listener as one `listener` block configures it: one or more bound sockets (an
/// address-less TCP listener binds both 0.0.0.0 and [::], on the same port), whose
/// connections come out of `accept` with TLS and WebSocket framing already removed.
///
/// Each socket has an accept task; it runs until the Listener is dropped, which
/// closes the sockets and removes the unix socket file.
pub struct Listener {
    addrs: Vec<BoundAddr>,
    websockets: bool,
    tls: bool,
    incoming: Mutex<mpsc::Receiver<(BoxedStream, String)>>,
    tasks: Vec<JoinHandle<()>>,
}

/// Where a listener is bound, for logs and for tests that bound port 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoundAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl BoundAddr {
    /// The TCP port; 0 for a unix socket (which mosquitto also reports as port 0).
    pub fn port(&self) -> u16 {
        match self {
            BoundAddr::Tcp(a) => a.port(),
            BoundAddr::Unix(_) => 0,
        }
    }
}

impl std::fmt::Display for BoundAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BoundAddr::Tcp(a) => write!(f, "{a}"),
            BoundAddr::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The layers a new connection goes through before it speaks MQTT.
struct Layers {
    tls: Option<TlsAcceptor>,
    websockets: bool,
    /// Where failed handshakes are reported; `None`: dropped silently.
    log: Option<Logger>,
}

impl Layers {
    fn is_plain(&self) -> bool {
        self.tls.is_none() && !self.websockets
    }

    async fn wrap<S>(&self, stream: S) -> io::Result<BoxedStream>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let tls_accept = |tls: &TlsAcceptor, stream: S| {
            let accept = tls.accept(stream);
            async move {
                accept
                    .await
                    .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake: {e}")))
            }
        };
        Ok(match (&self.tls, self.websockets) {
            (None, false) => Box::new(stream),
            (None, true) => Box::new(ws::accept(stream).await?),
            (Some(tls), false) => Box::new(tls_accept(tls, stream).await?),
            (Some(tls), true) => Box::new(ws::accept(tls_accept(tls, stream).await?).await?),
        })
    }
}

/// One listening socket of a `Listener`.
enum BoundSocket {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl BoundSocket {
    async fn accept(&self) -> io::Result<(Accepted, String)> {
        match self {
            BoundSocket::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                // MQTT packets are small and latency matters more than batching. A
                // failure here (the peer already gone) shows up on first use instead.
                let _ = s.set_nodelay(true);
                Ok((Accepted::Tcp(s), peer.to_string()))
            }
            BoundSocket::Unix(l, path) => {
                let (s, _) = l.accept().await?;
                // Unix clients are usually unnamed; the socket path says where they came in.
                Ok((Accepted::Unix(s), path.display().to_string()))
            }
        }
    }
}

/// A raw accepted connection, before its handshakes.
enum Accepted {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

impl Accepted {
    async fn wrap(self, layers: &Layers) -> io::Result<BoxedStream> {
        match self {
            Accepted::Tcp(s) => layers.wrap(s).await,
            Accepted::Unix(s) => layers.wrap(s).await,
        }
    }
}

impl Listener {
    /// Binds what `cfg` describes. Port 0 picks a free port (the same one for IPv4 and
    /// IPv6); `local_addr` tells which. TLS files are read here, so a bad certificate
    /// fails at startup. Errors name the address or file and the OS reason.
    pub async fn bind(cfg: &ListenerConfig) -> io::Result<Listener> {
        Listener::bind_logged(cfg, None).await
    }

    /// `bind`, logging (as `notice`) each TLS or WebSocket handshake that fails or
    /// times out, since such clients never reach the broker's own log lines.
    pub async fn bind_logged(cfg: &ListenerConfig, log: Option<Logger>) -> io::Result<Listener> {
        let layers = Arc::new(Layers {
            tls: match &cfg.tls {
                Some(t) => Some(TlsAcceptor::from(tls::server_config(t)?)),
                None => None,
            },
            websockets: cfg.websockets,
            log,
        });
        let sockets = match &cfg.unix_socket {
            Some(path) => vec![bind_unix(path)?],
            None => bind_tcp(cfg).await?,
        };
        let addrs = sockets
            .iter()
            .map(|s| match s {
                BoundSocket::Tcp(l) => l.local_addr().map(BoundAddr::Tcp),
                BoundSocket::Unix(_, p) => Ok(BoundAddr::Unix(p.clone())),
            })
            .collect::<io::Result<Vec<_>>>()?;
        let (tx, rx) = mpsc::channel(ACCEPT_QUEUE);
        let tasks = sockets
            .into_iter()
            .map(|s| tokio::spawn(accept_loop(s, layers.clone(), tx.clone())))
            .collect();
        Ok(Listener {
            addrs,
            websockets: cfg.websockets,
            tls: cfg.tls.is_some(),
            incoming: Mutex::new(rx),
            tasks,
        })
    }

    /// The first bound address (IPv4 when both families are bound; all share the port).
    pub fn local_addr(&self) -> io::Result<BoundAddr> {
        self.addrs
            .first()
            .cloned()
            .ok_or_else(|| io::Error::other("listener has no socket"))
    }

    /// Every bound address, in binding order.
    pub fn local_addrs(&self) -> &[BoundAddr] {
        &self.addrs
    }

    /// `protocol websockets`.
    pub fn is_websockets(&self) -> bool {
        self.websockets
    }

    /// TLS (`certfile`/`keyfile`) is on.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Waits for the next connection. The returned stream speaks raw MQTT bytes, with
    /// TLS and WebSocket framing already taken off; the string names the peer for logs
    /// (`127.0.0.1:50312`, `[::1]:50312`, or the unix socket's path). Connections whose
    /// handshake fails or times out never come out here. Safe to call from several tasks.
    pub async fn accept(&self) -> io::Result<(BoxedStream, String)> {
        self.incoming
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| io::Error::other("listener stopped accepting"))
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addrs", &self.addrs)
            .field("websockets", &self.websockets)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for addr in &self.addrs {
            if let BoundAddr::Unix(path) = addr {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Accepts on one socket until aborted; plain connections go straight to the queue,
/// others through their handshake in a task of their own.
async fn accept_loop(
    socket: BoundSocket,
    layers: Arc<Layers>,
    tx: mpsc::Sender<(BoxedStream, String)>,
) {
    // Dropped (aborting every handshake) when this task is aborted.
    let mut handshakes = JoinSet::new();
    loop {
        while handshakes.len() >= MAX_HANDSHAKES {
            handshakes.join_next().await;
        }
        let accepted = tokio::select! {
            r = socket.accept() => r,
            Some(_) = handshakes.join_next(), if !handshakes.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(_) if tx.is_closed() => return,
            Err(_) => {
                // Out of file descriptors and the like: back off instead of spinning;
                // the connection stays in the backlog (or the client gave up already).
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if layers.is_plain() {
            let stream = match stream {
                Accepted::Tcp(s) => Box::new(s) as BoxedStream,
                Accepted::Unix(s) => Box::new(s) as BoxedStream,
            };
            if tx.send((stream, peer)).await.is_err() {
                return;
            }
            continue;
        }
        let (layers, tx) = (layers.clone(), tx.clone());
        handshakes.spawn(async move {
            let failure = match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.wrap(&layers)).await
            {
                Ok(Ok(stream)) => {
                    let _ = tx.send((stream, peer)).await;
                    return;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!(
                    "no handshake within {} seconds",
                    HANDSHAKE_TIMEOUT.as_secs()
                ),
            };
            if let Some(log) = &layers.log {
                log.log(
                    LogType::Notice,
                    format_args!("Client connection from {peer} failed: {failure}."),
                );
            }
        });
    }
}

fn with_addr(e: io::Error, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(e.kind(), format!("Unable to listen on {what}: {e}"))
}

/// One TCP socket. IPv6 sockets are IPV6_V6ONLY, so 0.0.0.0 and [::] can share a port.
fn bind_tcp_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // As mosquitto does: a restarted broker can rebind while old connections linger in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

async fn bind_tcp(cfg: &ListenerConfig) -> io::Result<Vec<BoundSocket>> {
    let wanted = |ip: &IpAddr| match cfg.socket_domain {
        None => true,
        Some(SocketDomain::Ipv4) => ip.is_ipv4(),
        Some(SocketDomain::Ipv6) => ip.is_ipv6(),
    };
    let mut ips: Vec<IpAddr> = match &cfg.bind_address {
        None => vec![Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()],
        Some(host) => match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| with_addr(e, host))?
                .map(|a| a.ip())
                .collect(),
        },
    };
    let mut seen = Vec::new();
    ips.retain(|ip| {
        wanted(ip) && !seen.contains(ip) && {
            seen.push(*ip);
            true
        }
    });
    let host = cfg.bind_address.as_deref().unwrap_or("any address");
    if ips.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("Unable to listen on {host}: no address of the configured socket_domain"),
        ));
    }
    // With port 0 the first socket picks the port and the others follow; if another
    // program holds that port in the other family, pick again.
    let attempts = if cfg.port == 0 { 5 } else { 1 };
    let mut last_err = None;
    'attempt: for _ in 0..attempts {
        let mut port = cfg.port;
        let mut sockets = Vec::new();
        for ip in &ips {
            let addr = SocketAddr::new(*ip, port);
            match bind_tcp_one(addr) {
                Ok(l) => {
                    port = l.local_addr()?.port();
                    sockets.push(BoundSocket::Tcp(l));
                }
                // No IPv6 on this host: an address-less listener serves IPv4 only, as mosquitto.
                Err(e)
                    if cfg.bind_address.is_none()
                        && ip.is_ipv6()
                        && !sockets.is_empty()
                        && ipv6_unavailable(&e) => {}
                Err(e)
                    if cfg.port == 0
                        && !sockets.is_empty()
                        && e.kind() == io::ErrorKind::AddrInUse =>
                {
                    last_err = Some(with_addr(e, addr));
                    continue 'attempt;
                }
                Err(e) => return Err(with_addr(e, addr)),
            }
        }
        return Ok(sockets);
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no free port")))
}

fn ipv6_unavailable(e: &io::Error) -> bool {
    // EAFNOSUPPORT (97) or EADDRNOTAVAIL when IPv6 is disabled.
    e.raw_os_error() == Some(97) || e.kind() == io::ErrorKind::AddrNotAvailable
}

/// A unix socket at `path`. A leftover socket file (from a broker that did not clean
/// up) is removed first; any other kind of file is left alone and is an error.
fn bind_unix(path: &Path) -> io::Result<BoundSocket> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "Unable to listen on unix socket {}: the path exists and is not a socket",
                    path.display()
                ),
            ));
        }
        // Only remove it if nobody is listening there: a live broker keeps its socket.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "Unable to listen on unix socket {}: another process is listening on it",
                    path.display()
                ),
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| with_addr(e, format_args!("unix socket {}", path.display())))?;
    }
    let l = UnixListener::bind(path)
        .map_err(|e| with_addr(e, format_args!("unix socket {}", path.display())))?;
    Ok(BoundSocket::Unix(l, path.to_path_buf()))
}
