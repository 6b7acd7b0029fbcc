//! The embedded MQTT broker: `run(listeners, config, shutdown)`.
//!
//! Each listener has an accept task; each connection a reader (in its own task) and a
//! writer task (`conn`). The protocol itself — what to answer, route, refuse, and when
//! to close — is decided without I/O by the connection's server session (`server`), which
//! `conn` feeds with decoded packets. Connections share `shared::Shared`: sessions
//! (`session`: what outlives a connection), the subscription trie (`router`), retained
//! messages (`retained`). Routing never waits for a client: it pushes into each
//! session's bounded queue and wakes that writer.
//!
//! Flow control: a session's queue holds `max_queued_messages`. Past that, if the
//! subscriber is reading (its writer is not stuck on a full socket for `STUCK_AFTER`), the
//! publisher's reader pauses briefly until it catches up, like a single-threaded broker;
//! a subscriber that does not read gets "drop mode": its excess is dropped and counted
//! (`Stats::dropped`, `$SYS/broker/publish/messages/dropped`) until its queue empties.
//! `session::hard_limit` bounds the queue either way.
//!
//! Shutdown: listeners close, every connection ends (v5 clients get DISCONNECT 0x8B), and
//! wills are NOT published, as mosquitto does when it stops.

pub mod auth;
pub mod config;
pub mod listener;

pub mod conn;
pub mod log;
pub mod retained;
pub mod router;
pub mod server;
pub mod session;
pub mod shared;
pub mod sys;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::broker::config::Config;
use crate::broker::listener::Listener;
use crate::broker::log::LogType;
use crate::broker::session::EndReason;
use crate::broker::shared::Shared;
pub use crate::broker::shared::Stats;

/// How long connections get to close after shutdown before they are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The runtime the broker runs on: one thread, as mosquitto.
///
/// Why not a worker per core: packets must be handled in the order they arrived, across
/// connections too. A client that subscribes on one connection and then publishes on
/// another expects the subscription to be in place (the Paho No Local and
/// request/response tests do exactly that). On one thread, connections woken by the same
/// poll run in the order the kernel reported them; tokio's multi-threaded scheduler runs
/// the last one woken first and spreads the rest over workers. One thread also means one
/// malloc arena, so memory freed after a burst of connections is reused, and no thread
/// is started per connection. Password hashing runs on the blocking pool (`conn::open`).
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Password checks are the only blocking work; their threads need not linger.
        .thread_keep_alive(Duration::from_secs(2))
        .build()
}

/// Runs the broker on `listeners` until `shutdown` resolves.
pub async fn run(
    listeners: Vec<Listener>,
    config: Arc<Config>,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    run_with_stats(listeners, config, shutdown, Arc::new(Stats::default())).await
}

/// `run`, with counters the caller can read while it runs (tests, `$SYS`).
pub async fn run_with_stats(
    listeners: Vec<Listener>,
    config: Arc<Config>,
    shutdown: impl Future<Output = ()> + Send,
    stats: Arc<Stats>,
) -> io::Result<()> {
    let (tx, rx) = watch::channel(false);
    // mosquitto refuses to start when the password or ACL file cannot be used.
    let (auth, warnings) = auth::Auth::from_config(&config).map_err(io::Error::other)?;
    let mut shared = Shared::new(config, stats, rx);
    for w in warnings {
        shared.log(LogType::Warning, format_args!("{w}"));
    }
    shared.auth = auth;
    let shared = Arc::new(shared);
    let mut tasks = JoinSet::new();
    for l in listeners {
        tasks.spawn(accept_loop(Arc::clone(&shared), l));
    }
    tasks.spawn(sys::run(Arc::clone(&shared)));
    shutdown.await;
    let _ = tx.send(true);
    shared.kick_all(EndReason::Shutdown);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// The port a listener is known by in log lines (0 for unix sockets, as mosquitto).
fn port_of(listener: &Listener) -> String {
    listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(0)
        .to_string()
}

/// Gives freed memory back to the system once many connections have closed. glibc keeps
/// the heap pages of freed connections for reuse, so without this a broker that once
/// served thousands of clients would hold that memory for good.
#[derive(Default)]
struct MemoryWatch {
    /// The most connections since memory was last given back.
    high: usize,
}

impl MemoryWatch {
    /// Connections that ended since the high-water mark worth trimming for.
    const TRIM_AFTER: usize = 256;

    fn connections(&mut self, now: usize) {
        self.high = self.high.max(now);
        if self.high - now >= Self::TRIM_AFTER && now <= self.high / 2 {
            self.high = now;
            trim_heap();
        }
    }
}

/// Returns the free pages of the heap to the operating system (glibc's `malloc_trim`).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: Listener) {
    let port = port_of(&listener);
    let mut conns = JoinSet::new();
    let mut shutdown = shared.shutdown.clone();
    let mut memory = MemoryWatch::default();
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    if shared.config.max_connections.is_some_and(|max| conns.len() >= max) {
                        // mosquitto closes connections over the limit at once.
                        shared.log(
                            LogType::Notice,
                            format_args!("Client connection from {peer} denied: max_connections exceeded."),
                        );
                        drop(stream);
                        continue;
                    }
                    if shared.config.connection_messages {
                        shared.log(
                            LogType::Notice,
                            format_args!("New connection from {peer} on port {port}."),
                        );
                    }
                    conns.spawn(conn::serve(Arc::clone(&shared), stream, peer));
                    // Free the tasks of connections that ended: while accepts keep
                    // coming, the branch below alone may fall behind, and each finished
                    // task keeps its memory until it is joined.
                    while conns.try_join_next().is_some() {}
                    memory.connections(conns.len());
                }
                Err(e) => {
                    // Out of file descriptors and the like: log, breathe, go on.
                    shared.log(LogType::Error, format_args!("Error accepting connection: {e}."));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => memory.connections(conns.len()),
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    // Connections watch the shutdown flag too and close themselves.
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        conns.abort_all();
    }
}
