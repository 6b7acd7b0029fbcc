//! One client connection over any transport (`BoxedStream`): the async loop around the
//! sans-I/O server session (`broker::server`). It reads bytes, frames and decodes them
//! with the codec, hands each packet to the session, and runs the timers (connect
//! timeout, keep alive, will delay, session expiry), and in the same task writes what
//! the session's `Outbound` has to send (`pump`): one task per connection, as an idle
//! connection should cost little memory. Every protocol decision is in `server`.
//!
//! What stays here is flow control: the loop stops reading while its replies pile up
//! (`CONTROL_LIMIT`) or while subscribers it overfilled catch up (`relieve_pressure`),
//! and notes when the socket is full (`write_some`).

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::broker::server::outbound::WRITE_BATCH;
use crate::broker::server::{self, End, Opening, Outbound, ServerSession, connect};
use crate::broker::session::{ConnCtl, EndReason};
use crate::broker::shared::Shared;
use crate::codec::{self, Packet, ProtocolVersion};
use crate::transport::BoxedStream;

/// Bytes asked of the socket per read while a client is sending a lot: large, so one
/// read carries many small packets.
const READ_CHUNK: usize = 64 * 1024;
/// The read buffer of a connection that is not busy: most connections are idle most of
/// the time, and an idle one should cost little memory. Once a small read leaves the
/// buffer empty, it is given back; the next read goes through a stack array of this
/// size (`read_into`). A read that fills it grows the buffer to `READ_CHUNK`.
const READ_SMALL: usize = 256;
/// A writer buffer larger than this is given back when a write was small: the memory
/// of a burst is not kept by a connection that has gone quiet.
const WRITE_KEEP: usize = 4096;
/// Replies waiting for the writer beyond which the reader stops reading: a client that
/// sends but never reads cannot grow the control queue without bound.
const CONTROL_LIMIT: usize = 1024;
/// The longest a publisher's reader waits for subscribers that are behind but reading.
const PRESSURE_WAIT: Duration = Duration::from_millis(200);
/// How long a closing connection's writer gets to flush its last packets: a client that
/// does not read must not hold the connection open.
const FLUSH_WAIT: Duration = Duration::from_secs(1);
/// After the broker ends a connection (a protocol error, a keep alive timeout), how long
/// it goes on reading and discarding what the client still sends, so that the client
/// reads our DISCONNECT before the socket closes: closing with unread input would send
/// a TCP reset, which can destroy the DISCONNECT in flight and fails the client's
/// writes (the Paho flow-control test sends PUBRELs while its DISCONNECT 0x93 waits).
const LINGER: Duration = Duration::from_secs(2);

type Session = ServerSession<Shared>;

/// Serves one accepted connection until it ends (the accept loop logged its arrival).
///
/// The task is allocated at the size of its largest state, which is the running
/// connection's (`run`), held inline: one allocation per idle connection. The CONNECT
/// phase is boxed, so the task holds no room for its futures.
///
/// `fn` returning an `async` block rather than `async fn` (here and in `run`): an
/// `async fn` keeps its arguments and their moved copies in separate slots of its
/// state, an `async` block uses what it captured in place.
#[allow(
    clippy::manual_async_fn,
    reason = "an async block keeps one copy of the arguments"
)]
pub fn serve(
    shared: Arc<Shared>,
    stream: BoxedStream,
    peer: String,
) -> impl Future<Output = ()> + Send {
    async move {
        let (rd, wr) = tokio::io::split(stream);
        let Some((session, rd, wr, buf)) = Box::pin(start(&shared, rd, wr, peer)).await else {
            return;
        };
        run(shared, session, rd, wr, buf).await;
    }
}

/// The first packet: CONNECT within `connect_timeout` (3.1.1 §3.1.0, 5.0 §3.1), then
/// the session, or the refusal written.
async fn start(
    shared: &Arc<Shared>,
    mut rd: ReadHalf<BoxedStream>,
    mut wr: WriteHalf<BoxedStream>,
    peer: String,
) -> Option<(
    Session,
    ReadHalf<BoxedStream>,
    WriteHalf<BoxedStream>,
    BytesMut,
)> {
    // No capacity: the first read goes through `read_into`'s stack array.
    let mut buf = BytesMut::new();
    let max = server::max_packet(&shared.config);
    let mut shutdown = shared.shutdown.clone();
    let first = tokio::select! {
        r = tokio::time::timeout(shared.config.connect_timeout, read_one(&mut rd, &mut buf, max)) => r,
        _ = shutdown.changed() => return None,
    };
    let first = match first {
        Err(_) => {
            connect::timed_out(&**shared);
            return None;
        }
        Ok(None) => return None,
        Ok(Some(first)) => first,
    };
    match open(shared, first, peer).await {
        Opening::Accepted(s) => Some((s, rd, wr, buf)),
        Opening::Refused { reply } => {
            if let Some(bytes) = reply {
                let _ = wr.write_all(&bytes).await;
                let _ = wr.flush().await;
            }
            None
        }
    }
}

/// An accepted connection, from CONNACK to its end.
#[allow(
    clippy::manual_async_fn,
    reason = "an async block keeps one copy of the arguments"
)]
fn run(
    shared: Arc<Shared>,
    mut session: Session,
    mut rd: ReadHalf<BoxedStream>,
    wr: WriteHalf<BoxedStream>,
    mut buf: BytesMut,
) -> impl Future<Output = ()> + Send {
    async move {
        let mut w = Writer {
            out: session.outbound(),
            wr,
            buf: BytesMut::new(),
            off: 0,
            flush: false,
        };
        let end = read_loop(&mut session, &mut rd, &mut buf, &mut w).await;
        let linger = !matches!(
            end,
            End::Closed | End::Kicked(EndReason::WriteError | EndReason::Shutdown)
        );
        // Boxed: an idle connection's state need not hold room for the closing futures.
        Box::pin(finish(&shared, session, end, w)).await;
        if linger {
            let mut shutdown = shared.shutdown.clone();
            tokio::select! {
                _ = Box::pin(drain(&mut rd, buf)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// Decides about the first packet. Checking a password (PBKDF2, argon2id) takes
/// milliseconds of CPU: that runs on tokio's blocking pool, at most `Shared::logins`
/// at a time, never on the thread that serves every connection. Without a password
/// file nothing is hashed and the decision is made here.
async fn open(
    shared: &Arc<Shared>,
    first: Result<Packet, codec::Error>,
    peer: String,
) -> Opening<Shared> {
    if shared.auth.passwords.is_none() || !matches!(first, Ok(Packet::Connect(_))) {
        return connect::open(shared, first, &peer);
    }
    let Ok(_permit) = shared.logins.acquire().await else {
        return Opening::Refused { reply: None };
    };
    let hub = Arc::clone(shared);
    match tokio::task::spawn_blocking(move || connect::open(&hub, first, &peer)).await {
        Ok(opening) => opening,
        Err(_) => Opening::Refused { reply: None },
    }
}

/// Reads and discards what the client still sends, until it closes or `LINGER` passes.
async fn drain(rd: &mut ReadHalf<BoxedStream>, mut buf: BytesMut) {
    buf.clear();
    let _ = tokio::time::timeout(LINGER, async {
        loop {
            if buf.capacity() < READ_SMALL {
                buf.reserve(READ_SMALL);
            }
            match rd.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => buf.clear(),
            }
        }
    })
    .await;
}

/// Reads until one packet (or the codec's error) is complete; `None` when the socket
/// closed or failed first.
async fn read_one(
    rd: &mut ReadHalf<BoxedStream>,
    buf: &mut BytesMut,
    max: usize,
) -> Option<Result<Packet, codec::Error>> {
    let mut last_read = 0;
    loop {
        // CONNECT reads its own protocol version; the one passed here is unused.
        match codec::decode(buf, ProtocolVersion::V311, max) {
            Ok(Some(p)) => return Some(Ok(p)),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        make_room(buf, last_read);
        match read_into(rd, buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => last_read = n,
        }
    }
}

/// Makes room before a read, given what the previous read brought. A busy client's
/// reads fill the room they have: the buffer grows to `READ_CHUNK`. When a small read
/// (a ping, one message) left the buffer empty, the buffer is given back, so a
/// connection between bursts keeps no read buffer; a small packet split across reads
/// gets `READ_SMALL` more.
fn make_room(buf: &mut BytesMut, last_read: usize) {
    let spare = buf.capacity() - buf.len();
    if last_read < READ_SMALL {
        if buf.is_empty() {
            if buf.capacity() > 0 {
                *buf = BytesMut::new();
            }
        } else if spare == 0 {
            buf.reserve(READ_SMALL);
        }
    } else if spare < READ_CHUNK / 8 {
        buf.reserve(READ_CHUNK);
    }
}

/// Reads into `buf`. A buffer without capacity (an idle connection holds none) is read
/// through a stack array, and gets only the bytes that came.
async fn read_into(rd: &mut ReadHalf<BoxedStream>, buf: &mut BytesMut) -> io::Result<usize> {
    if buf.capacity() > buf.len() {
        return rd.read_buf(buf).await;
    }
    std::future::poll_fn(|cx| {
        let mut bytes = [0u8; READ_SMALL];
        let mut rb = tokio::io::ReadBuf::new(&mut bytes);
        std::task::ready!(std::pin::Pin::new(&mut *rd).poll_read(cx, &mut rb))?;
        buf.extend_from_slice(rb.filled());
        std::task::Poll::Ready(Ok(rb.filled().len()))
    })
    .await
}

/// Feeds the session every packet that arrives and writes what it has to send, until
/// something ends the connection.
async fn read_loop(
    s: &mut Session,
    rd: &mut ReadHalf<BoxedStream>,
    buf: &mut BytesMut,
    w: &mut Writer,
) -> End {
    let ka = s.keepalive_timeout();
    let sleep = tokio::time::sleep(ka.unwrap_or(Duration::from_secs(86400)));
    tokio::pin!(sleep);
    let ctl = Arc::clone(s.ctl());
    // Shutdown comes as a kick (`Shared::kick_all`), to connections already running.
    if s.hub().shutting_down() {
        return End::Kicked(EndReason::Shutdown);
    }
    let (version, max) = (s.version(), s.max_packet());
    // What the latest read brought (`make_room`).
    let mut last_read = 0;
    loop {
        // Every complete packet in the buffer, then read more.
        let now = Instant::now();
        loop {
            match codec::decode(buf, version, max) {
                Ok(Some(p)) => {
                    if let Some(end) = s.handle(p, now) {
                        return end;
                    }
                }
                Ok(None) => break,
                Err(e) => return End::Malformed(e),
            }
        }
        if s.has_pressure() {
            // Boxed, as it is rare: an idle connection's task need not hold room for
            // its futures. This connection goes on writing meanwhile.
            let pressure = s.take_pressure();
            let relieve = Box::pin(relieve_pressure(s, pressure));
            let end = tokio::select! {
                end = relieve => end,
                r = pump(w, &ctl, false) => Some(write_ended(&ctl, r)),
            };
            if let Some(end) = end {
                return end;
            }
        }
        // Backpressure: while replies pile up, only write until they are sent.
        let reading = ctl.control.lock().len() <= CONTROL_LIMIT;
        if reading {
            make_room(buf, last_read);
        }
        tokio::select! {
            // Returns `Ok` only when not reading, once the replies went out.
            r = pump(w, &ctl, !reading) => if r.is_err() {
                return write_ended(&ctl, r);
            },
            r = read_into(rd, buf), if reading => match r {
                Ok(0) | Err(_) => return End::Closed,
                Ok(n) => {
                    last_read = n;
                    if let Some(ka) = ka {
                        sleep.as_mut().reset(tokio::time::Instant::now() + ka);
                    }
                }
            },
            _ = &mut sleep, if ka.is_some() => return End::KeepAlive,
            _ = ctl.kick.notified() => return kicked(&ctl),
        }
    }
}

fn kicked(ctl: &ConnCtl) -> End {
    End::Kicked(ctl.kicked().unwrap_or(EndReason::WriteError))
}

/// The connection's end when `pump` ended the loop: a write failed (it returns `Ok`
/// while the loop runs only when asked to stop once the control queue drained; closing
/// starts in `finish`, after the loop).
fn write_ended(ctl: &ConnCtl, r: io::Result<()>) -> End {
    drop(r);
    ctl.kick(EndReason::WriteError);
    kicked(ctl)
}

/// Waits (at most `PRESSURE_WAIT`) until the subscribers this reader overfilled have
/// caught up, or turn out not to read (their writer is blocked): then their excess is
/// dropped instead. This slows a publisher to what its subscribers take, as a
/// single-threaded broker would, without letting a stuck client stall it.
async fn relieve_pressure(s: &Session, pressure: server::Pressure) -> Option<End> {
    let limits = crate::broker::shared::queue_limits(&s.hub().config);
    let deadline = tokio::time::Instant::now() + PRESSURE_WAIT;
    let own = s.ctl();
    for (session, ctl) in pressure {
        loop {
            let drained = ctl.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            {
                let mut st = session.state.lock();
                if !limits.full(&st.queue) || st.dropping || ctl.closing.load(Ordering::Acquire) {
                    break;
                }
                if ctl.stuck() || tokio::time::Instant::now() >= deadline {
                    // Not reading: stop waiting for it; its excess is dropped.
                    st.dropping = true;
                    break;
                }
            }
            tokio::select! {
                _ = drained => {}
                // Re-check `stuck` now and then: a blocked writer sends no wake-ups.
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                _ = own.kick.notified() => return Some(kicked(own)),
            }
        }
    }
    None
}

/// Ends the connection: the session logs and queues its last packets, which get
/// `FLUSH_WAIT` to be written, then the session detaches and its timers start.
async fn finish(shared: &Arc<Shared>, mut s: Session, end: End, mut w: Writer) {
    s.close(&end);
    let ctl = Arc::clone(s.ctl());
    let _ = tokio::time::timeout(FLUSH_WAIT, async {
        pump(&mut w, &ctl, false).await?;
        w.wr.shutdown().await
    })
    .await;
    for job in s.detach() {
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            if shared.sleep_unless_shutdown(job.after).await {
                job.fire();
            }
        });
    }
}

/// The writing side of a connection: the session's `Outbound`, the socket, and the
/// bytes being written. Progress lives here, not in `pump`'s future, so that the loop
/// can drop a `pump` whenever a read completes without losing a byte.
struct Writer {
    out: Outbound<Shared>,
    wr: WriteHalf<BoxedStream>,
    /// What `Outbound` encoded, written up to `off`.
    buf: BytesMut,
    off: usize,
    /// All of `buf` was written and still has to be flushed (TLS and WebSocket layers
    /// buffer).
    flush: bool,
}

/// Writes whatever `Outbound` has, encoded into one buffer per write; then waits to be
/// woken (a reply, a queued message, an ack that opened the window). Returns `Ok` once
/// closing and everything is written, or with `until_drained` once the control queue
/// is back within `CONTROL_LIMIT`; or a write's error. Cancel-safe.
async fn pump(w: &mut Writer, ctl: &ConnCtl, until_drained: bool) -> io::Result<()> {
    loop {
        if w.flush {
            w.wr.flush().await?;
            w.flush = false;
            ctl.blocked_since.store(0, Ordering::Release);
            ctl.drained.notify_waiters();
        }
        if w.off == w.buf.len() {
            let written = w.buf.len();
            w.buf.clear();
            w.off = 0;
            let closing = ctl.closing.load(Ordering::Acquire);
            w.out.fill(&mut w.buf, Instant::now(), closing);
            if until_drained && ctl.control.lock().len() <= CONTROL_LIMIT {
                return Ok(());
            }
            if w.buf.is_empty() {
                if closing {
                    return Ok(());
                }
                if written < WRITE_KEEP || w.buf.capacity() > 4 * WRITE_BATCH {
                    // Quiet now, or a huge message grew the buffer: give it back, so
                    // that an idle connection holds no write buffer.
                    w.buf = BytesMut::new();
                }
                ctl.wake.notified().await;
                continue;
            }
        }
        let n = write_some(&mut w.wr, &w.buf[w.off..], ctl).await?;
        w.off += n;
        w.flush = w.off == w.buf.len();
    }
}

/// One write, noting in `ctl.blocked` when the socket is full (the client is not
/// keeping up), so publishers stop waiting for this connection.
async fn write_some(
    wr: &mut WriteHalf<BoxedStream>,
    bytes: &[u8],
    ctl: &ConnCtl,
) -> io::Result<usize> {
    let n = std::future::poll_fn(
        |cx| match std::pin::Pin::new(&mut *wr).poll_write(cx, bytes) {
            std::task::Poll::Pending => {
                ctl.set_blocked();
                ctl.drained.notify_waiters();
                std::task::Poll::Pending
            }
            r => r,
        },
    )
    .await?;
    if n == 0 {
        return Err(io::ErrorKind::WriteZero.into());
    }
    Ok(n)
}
