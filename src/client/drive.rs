//! The one tokio loop of the client side: it moves bytes between a transport stream
//! and the sans-I/O `Connection`, runs its keepalive timer, and hands events to the
//! command through a small handle (`Client`): `connect`, `reconnect` with backoff,
//! `next` (the next event; cancel-safe, so a command can `select!` it against its
//! own input, signals and deadlines), `try_next`, and `close`. Requests (publish,
//! subscribe, disconnect) go straight into the core through `connection()` and are
//! written by the next `next`.
//!
//! One poll both writes and reads (no split stream, no lock), and the timer is one
//! `Sleep` re-armed only when the keepalive deadline moves.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWrite};
use tokio::time::{Instant, Sleep};

use crate::client::connection::{self, Connection, Event};
use crate::client::message::Outgoing;
use crate::codec::{self, ConnAck, Connect};
use crate::transport::BoxedStream;
use crate::transport::{ConnectError, Prepared};

/// What `next` hands out.
#[derive(Debug)]
pub enum Next<M> {
    Event(Event<M>),
    /// A write left the buffer below the low-water mark (`set_low_water`): time to
    /// queue more.
    Drained,
}

/// Why a network connection ended.
#[derive(Debug, thiserror::Error)]
pub enum Lost {
    #[error("{0}")]
    Io(io::Error),
    /// The broker closed the stream (or there is none).
    #[error("the connection was closed")]
    Closed,
    /// The core gave up: a refused CONNACK, a DISCONNECT, a malformed packet, a
    /// keepalive timeout.
    #[error("{0}")]
    Connection(connection::Error),
}

/// Why `connect` did not get a connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnectFailure {
    /// The transport could not be opened (TCP, proxy, TLS, WebSocket).
    #[error("{0}")]
    Transport(ConnectError),
    /// CONNACK refused the connection: final, never retried.
    #[error("connection refused (code {})", .0.code)]
    Refused(ConnAck),
    /// The stream failed or closed before CONNACK.
    #[error("{0}")]
    Lost(Lost),
    /// CONNECT could not be encoded.
    #[error("{0}")]
    Encode(codec::Error),
}

/// How `reconnect` retries: up to `attempts` tries (`None`: forever), waiting
/// `first` before the first and doubling the wait up to `max`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub attempts: Option<u32>,
    pub first: Duration,
    pub max: Duration,
}

/// A client connection: the core, and the stream while one is open.
pub struct Client<M> {
    conn: Connection<M>,
    stream: Option<BoxedStream>,
    /// The keepalive timer, armed for `timer_at` (allocated on first use).
    timer: Option<Pin<Box<Sleep>>>,
    timer_at: Option<std::time::Instant>,
    /// Bytes were written since the last flush (TLS and WebSocket layers buffer).
    need_flush: bool,
    low_water: Option<usize>,
    /// When the stream last gave bytes: the instant the core decodes them at. Taking
    /// events already read then reads no clock (a subscriber takes millions a second).
    read_at: std::time::Instant,
}

impl<M: Outgoing> Client<M> {
    pub fn new(conn: Connection<M>) -> Client<M> {
        Client {
            conn,
            stream: None,
            timer: None,
            timer_at: None,
            need_flush: false,
            low_water: None,
            read_at: now(),
        }
    }

    /// The core: publish, subscribe, disconnect and the window go through it.
    pub fn connection(&mut self) -> &mut Connection<M> {
        &mut self.conn
    }

    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// `Next::Drained` is reported after each write that leaves fewer than `mark`
    /// bytes queued (so a producer refills, and sees when everything is out).
    pub fn set_low_water(&mut self, mark: Option<usize>) {
        self.low_water = mark;
    }

    /// Opens the transport, sends CONNECT and waits for CONNACK.
    pub async fn connect(
        &mut self,
        prepared: &Prepared,
        connect: &Connect,
    ) -> Result<ConnAck, ConnectFailure> {
        self.drop_stream();
        let stream = crate::transport::open(prepared)
            .await
            .map_err(ConnectFailure::Transport)?;
        self.handshake(stream, connect).await
    }

    /// Sends CONNECT over an open `stream` and waits for CONNACK.
    pub async fn handshake(
        &mut self,
        stream: BoxedStream,
        connect: &Connect,
    ) -> Result<ConnAck, ConnectFailure> {
        self.drop_stream();
        self.stream = Some(stream);
        self.conn
            .connect(connect, now())
            .map_err(ConnectFailure::Encode)?;
        loop {
            match self.next().await {
                Ok(Next::Event(Event::Connected(ack))) => return Ok(ack),
                // Nothing else can come before CONNACK (the core refuses it).
                Ok(_) => {}
                Err(Lost::Connection(connection::Error::Refused(ack))) => {
                    return Err(ConnectFailure::Refused(ack));
                }
                Err(e) => return Err(ConnectFailure::Lost(e)),
            }
        }
    }

    /// Connects again after a loss, waiting as `backoff` says between attempts. A
    /// refusal ends it at once; otherwise the last failure is returned when the
    /// attempts run out. The session carries over (see `Connection::connect`).
    pub async fn reconnect(
        &mut self,
        prepared: &Prepared,
        connect: &Connect,
        backoff: &Backoff,
    ) -> Result<ConnAck, ConnectFailure> {
        let mut delay = backoff.first;
        let mut tries = 0u32;
        loop {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(backoff.max);
            tries += 1;
            match self.connect(prepared, connect).await {
                Ok(ack) => return Ok(ack),
                Err(e @ (ConnectFailure::Refused(_) | ConnectFailure::Encode(_))) => return Err(e),
                Err(e) if backoff.attempts.is_some_and(|n| tries >= n) => return Err(e),
                Err(_) => {}
            }
        }
    }

    /// The next event. Writes what the core has queued and reads as needed meanwhile.
    /// Cancel-safe: dropped before it completes, it loses nothing.
    pub async fn next(&mut self) -> Result<Next<M>, Lost> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    /// The next event if one is ready without waiting (buffered, or readable now).
    pub fn try_next(&mut self) -> Option<Result<Next<M>, Lost>> {
        self.next().now_or_never()
    }

    /// The next event among the packets already read, without any I/O (a command
    /// takes every buffered ack before it queues more).
    pub fn next_buffered(&mut self) -> Option<Result<Next<M>, Lost>> {
        match self.conn.poll_event(self.read_at) {
            Ok(Some(ev)) => Some(Ok(Next::Event(ev))),
            Ok(None) => None,
            Err(e) => {
                self.drop_stream();
                Some(Err(Lost::Connection(e)))
            }
        }
    }

    /// Writes what is queued (a DISCONNECT, say), flushes and shuts the stream down;
    /// bounded by `limit`. Errors are of no interest any more.
    pub async fn close(&mut self, limit: Duration) {
        let Some(mut stream) = self.stream.take() else {
            return;
        };
        let conn = &mut self.conn;
        let work = async {
            use tokio::io::AsyncWriteExt;
            let _ = stream.write_all(conn.pending()).await;
            let _ = stream.flush().await;
            let _ = stream.shutdown().await;
        };
        let _ = tokio::time::timeout(limit, work).await;
        self.conn.lost();
    }

    fn drop_stream(&mut self) {
        self.stream = None;
        self.need_flush = false;
        self.conn.lost();
    }

    fn fail<T>(&mut self, e: Lost) -> Poll<Result<T, Lost>> {
        self.drop_stream();
        Poll::Ready(Err(e))
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Next<M>, Lost>> {
        loop {
            match self.conn.poll_event(self.read_at) {
                Ok(Some(ev)) => return Poll::Ready(Ok(Next::Event(ev))),
                Ok(None) => {}
                Err(e) => return self.fail(Lost::Connection(e)),
            }
            if self.stream.is_none() {
                return Poll::Ready(Err(Lost::Closed));
            }
            let mut progressed = false;
            match self.poll_write(cx) {
                Poll::Ready(Ok(drained)) => {
                    progressed = true;
                    if drained {
                        return Poll::Ready(Ok(Next::Drained));
                    }
                }
                Poll::Ready(Err(e)) => return self.fail(e),
                Poll::Pending => {}
            }
            match self.poll_read(cx) {
                Poll::Ready(Ok(())) => progressed = true,
                Poll::Ready(Err(e)) => return self.fail(e),
                Poll::Pending => {}
            }
            match self.poll_timer(cx) {
                Poll::Ready(Ok(())) => progressed = true,
                Poll::Ready(Err(e)) => return self.fail(e),
                Poll::Pending => {}
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }

    /// Writes some of the queue, or flushes once it is empty. `Ready(Ok(true))`: the
    /// write left the queue below the low-water mark.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, Lost>> {
        let stream = self.stream.as_mut().expect("checked by poll_next");
        let before = self.conn.pending().len();
        if before == 0 {
            if !self.need_flush {
                return Poll::Pending;
            }
            return match Pin::new(stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.need_flush = false;
                    Poll::Ready(Ok(false))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(Lost::Io(e))),
                Poll::Pending => Poll::Pending,
            };
        }
        match Pin::new(stream).poll_write(cx, self.conn.pending()) {
            Poll::Ready(Ok(0)) => Poll::Ready(Err(Lost::Closed)),
            Poll::Ready(Ok(n)) => {
                self.conn.written(n, now());
                self.need_flush = true;
                let below = self.low_water.is_some_and(|m| before - n < m);
                Poll::Ready(Ok(below))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(Lost::Io(e))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Lost>> {
        let stream = self.stream.as_mut().expect("checked by poll_next");
        let buf = self.conn.read_buf();
        match pin!(stream.read_buf(buf)).poll(cx) {
            Poll::Ready(Ok(0)) => Poll::Ready(Err(Lost::Closed)),
            Poll::Ready(Ok(n)) => {
                self.read_at = now();
                self.conn.on_read(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(Lost::Io(e))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Re-arms the timer when the core's deadline moved; when it fires, lets the core
    /// act (PINGREQ, or the keepalive timeout).
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Lost>> {
        let Some(at) = self.conn.next_timeout() else {
            return Poll::Pending;
        };
        if self.timer_at != Some(at) {
            self.timer_at = Some(at);
            let deadline = Instant::from_std(at);
            match &mut self.timer {
                Some(t) => t.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        let timer = self.timer.as_mut().expect("armed above");
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.timer_at = None;
        match self.conn.on_timeout(now()) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(Lost::Connection(e))),
        }
    }
}

/// The driver's clock: tokio's, so tests with paused time drive keepalive too.
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use super::*;
    use crate::client::connection::Options;
    use crate::codec::{Properties, ProtocolVersion, Publish, QoS};

    fn connect_packet(keep_alive: u16) -> Connect {
        Connect {
            version: ProtocolVersion::V311,
            clean_start: false,
            keep_alive,
            properties: Properties::new(),
            client_id: "c".into(),
            will: None,
            username: None,
            password: None,
        }
    }

    fn client() -> Client<Publish> {
        Client::new(Connection::new(Options::new(ProtocolVersion::V311), now()))
    }

    fn msg(qos: QoS, payload: &'static [u8]) -> Publish {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic: "t".into(),
            packet_id: 0,
            properties: Properties::new(),
            payload: Bytes::from_static(payload),
        }
    }

    /// Reads exactly `n` bytes the client wrote.
    async fn read_n(broker: &mut DuplexStream, n: usize) -> Vec<u8> {
        let mut b = vec![0; n];
        broker.read_exact(&mut b).await.unwrap();
        b
    }

    /// A connected client and the broker's end of its stream (CONNECT consumed).
    async fn connected(keep_alive: u16, session_present: bool) -> (Client<Publish>, DuplexStream) {
        let (ours, mut broker) = tokio::io::duplex(4096);
        let mut c = client();
        let connack = [0x20, 0x02, u8::from(session_present), 0x00];
        broker.write_all(&connack).await.unwrap();
        let ack = c
            .handshake(Box::new(ours), &connect_packet(keep_alive))
            .await
            .unwrap();
        assert_eq!(ack.session_present, session_present);
        assert_eq!(read_n(&mut broker, 2).await, [0x10, 0x0D]);
        read_n(&mut broker, 13).await;
        (c, broker)
    }

    #[tokio::test]
    async fn publish_is_written_and_its_ack_delivered() {
        let (mut c, mut broker) = connected(0, false).await;
        c.connection()
            .publish(msg(QoS::AtLeastOnce, b"x"))
            .ok()
            .unwrap();
        let (ev, wrote) = tokio::join!(c.next(), async {
            let b = read_n(&mut broker, 8).await;
            broker.write_all(&[0x40, 0x02, 0x00, 0x01]).await.unwrap();
            b
        });
        assert_eq!(wrote, [0x32, 0x06, 0x00, 0x01, b't', 0x00, 0x01, b'x']);
        match ev.unwrap() {
            Next::Event(Event::Delivered(d)) => assert_eq!(d.packet_id, 1),
            other => panic!("expected the ack, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn keepalive_pings_then_gives_up() {
        let (mut c, mut broker) = connected(10, false).await;
        let started = Instant::now();
        let (ev, ping) = tokio::join!(c.next(), read_n(&mut broker, 2));
        assert_eq!(ping, [0xC0, 0x00]);
        assert!(matches!(
            ev,
            Err(Lost::Connection(connection::Error::KeepaliveTimeout))
        ));
        assert_eq!(started.elapsed(), Duration::from_secs(20));
        assert!(!c.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn server_keep_alive_counts_from_when_the_connack_was_read() {
        // The core is given the instant the bytes were read (not a clock read per
        // event): a stale one would make the first PINGREQ due at once here.
        let (ours, mut broker) = tokio::io::duplex(4096);
        let mut c: Client<Publish> =
            Client::new(Connection::new(Options::new(ProtocolVersion::V5), now()));
        let mut connect = connect_packet(0);
        connect.version = ProtocolVersion::V5;
        let mut connect_bytes = bytes::BytesMut::new();
        codec::encode(
            &codec::Packet::Connect(connect.clone()),
            ProtocolVersion::V5,
            &mut connect_bytes,
        )
        .unwrap();
        let started = Instant::now();
        let (ack, ()) = tokio::join!(c.handshake(Box::new(ours), &connect), async {
            read_n(&mut broker, connect_bytes.len()).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            // CONNACK v5 with Server Keep Alive 3 (5.0 §3.2.2.3.14).
            let connack = [0x20, 0x06, 0x00, 0x00, 0x03, 0x13, 0x00, 0x03];
            broker.write_all(&connack).await.unwrap();
        });
        ack.unwrap();
        let (ev, ping_at) = tokio::join!(c.next(), async {
            assert_eq!(read_n(&mut broker, 2).await, [0xC0, 0x00]);
            started.elapsed()
        });
        assert_eq!(ping_at, Duration::from_secs(8));
        assert!(matches!(
            ev,
            Err(Lost::Connection(connection::Error::KeepaliveTimeout))
        ));
    }

    #[tokio::test]
    async fn a_closed_stream_is_lost_and_a_new_one_resends() {
        let (mut c, broker) = connected(0, false).await;
        c.connection()
            .publish(msg(QoS::AtLeastOnce, b"x"))
            .ok()
            .unwrap();
        drop(broker);
        assert!(matches!(c.next().await, Err(Lost::Io(_) | Lost::Closed)));
        let (ours, mut broker) = tokio::io::duplex(4096);
        broker.write_all(&[0x20, 0x02, 0x01, 0x00]).await.unwrap();
        c.handshake(Box::new(ours), &connect_packet(0))
            .await
            .unwrap();
        read_n(&mut broker, 15).await;
        // The unacknowledged message again, with DUP.
        // next() writes the queue while it waits for an event that never comes.
        let resent = tokio::select! {
            r = c.next() => panic!("no event expected, got {r:?}"),
            b = read_n(&mut broker, 8) => b,
        };
        assert_eq!(resent, [0x3A, 0x06, 0x00, 0x01, b't', 0x00, 0x01, b'x']);
    }

    #[tokio::test]
    async fn a_refusal_is_reported_as_such() {
        let (ours, mut broker) = tokio::io::duplex(4096);
        broker.write_all(&[0x20, 0x02, 0x00, 0x05]).await.unwrap();
        let mut c = client();
        match c.handshake(Box::new(ours), &connect_packet(0)).await {
            Err(ConnectFailure::Refused(ack)) => assert_eq!(ack.code, 5),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn low_water_reports_a_drained_buffer() {
        let (mut c, mut broker) = connected(0, false).await;
        c.set_low_water(Some(16));
        for _ in 0..4 {
            c.connection()
                .publish(msg(QoS::AtMostOnce, b"0123456789"))
                .ok()
                .unwrap();
        }
        let (ev, _) = tokio::join!(c.next(), read_n(&mut broker, 4 * 15));
        assert!(matches!(ev, Ok(Next::Drained)));
    }
}
