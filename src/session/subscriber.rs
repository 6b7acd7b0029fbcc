//! The receiving side of a client session, for `mqtk sub` and `mqtk rr`: `Link` (one
//! connection: decode every complete packet in the read buffer, acknowledge QoS 1/2
//! messages as libmosquitto does, resolve v5 topic aliases, keepalive pings) and the
//! subscriber loop (mosquitto_sub's message rules, `-C`/`-E`/`-W`, signals,
//! reconnection, buffered output with its flush rules, `--message-rate`'s counting).
//!
//! Performance: one current-thread runtime; a 64 KiB read buffer decoded in a loop
//! (payloads share it, no copy); messages are formatted straight into a 64 KiB
//! `BufWriter` over a duplicate of fd 1 (bypassing std's line-buffered stdout), which
//! is flushed only when the socket has nothing more ready. Writing to a full pipe
//! blocks the thread, so the socket is not read and TCP pushes back on the broker:
//! memory stays flat under a flood.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::codec::{
    self, Disconnect, Packet, Properties, PropertyContext, PropertyId, ProtocolVersion, PubAck,
    PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, SubAck, Subscribe, SubscribeFilter,
    SubscriptionOptions, Unsubscribe,
};
use crate::exit::{self, Error};
use crate::output::{Formatter, Message};
use crate::session::engine::{
    Debug, EstablishError, LinkError, PublishSummary, establish, prepare, sleep_until_opt,
};
use crate::session::rate::Rate;
use crate::session::state::{State, Tick};
use crate::settings::ClientSettings;
use crate::settings::props::check_all;
use crate::settings::sub::SubSettings;
use crate::transport::{BoxedStream, Prepared};

/// Read this much from the socket at a time (and keep at least this much room).
const READ_CHUNK: usize = 64 * 1024;
/// Output buffer size.
const OUT_BUF: usize = 64 * 1024;
/// A batch this large between two waits means a flood: see `COALESCE`.
const FLOOD_BATCH: usize = 4;
/// How long to let a flood accumulate before waiting for the socket again.
const COALESCE: Duration = Duration::from_micros(500);
/// libmosquitto's default reconnect delay (`mosquitto_loop_forever`).
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------
// Link: one connection

/// What the link hands to its owner.
pub enum Event {
    /// An application message, ready to print: acknowledged already (QoS 1: PUBACK
    /// queued; QoS 2: PUBREL received and PUBCOMP queued), topic alias resolved.
    Message(Publish),
    SubAck(SubAck),
    UnsubAck(u16),
    /// One of our QoS 1 PUBLISHes was acknowledged (or a QoS 2 one completed).
    Published(u16, ReasonCode),
    /// v5: the broker is closing the connection.
    Disconnect(ReasonCode),
}

pub struct Link {
    stream: BoxedStream,
    rbuf: BytesMut,
    /// Acks and requests waiting to be written.
    wbuf: BytesMut,
    pub version: ProtocolVersion,
    /// Keepalive only (nothing outgoing is tracked here).
    keepalive: State<()>,
    /// v5 topic aliases the broker set up (5.0 §3.3.2.3.4).
    aliases: HashMap<u16, String>,
    /// QoS 2 messages received, held until PUBREL (5.0 §4.3.3; libmosquitto delivers
    /// them then, so a duplicate PUBLISH is not printed twice).
    qos2: HashMap<u16, Publish>,
    last_pid: u16,
    pub dbg: Debug,
}

impl Link {
    pub fn new(
        stream: BoxedStream,
        mut rbuf: BytesMut,
        version: ProtocolVersion,
        keep_alive: u16,
        dbg: Debug,
    ) -> Link {
        rbuf.reserve(READ_CHUNK);
        Link {
            stream,
            rbuf,
            wbuf: BytesMut::with_capacity(4096),
            version,
            keepalive: State::new(1, keep_alive, Instant::now().into_std()),
            aliases: HashMap::new(),
            qos2: HashMap::new(),
            last_pid: 0,
            dbg,
        }
    }

    pub fn set_keep_alive(&mut self, secs: u16) {
        self.keepalive.set_keep_alive(secs);
    }

    /// The next packet id (never 0).
    pub fn next_pid(&mut self) -> u16 {
        self.last_pid = self.last_pid.wrapping_add(1).max(1);
        self.last_pid
    }

    /// Encodes a packet into the write buffer.
    pub fn queue(&mut self, p: &Packet) -> Result<(), LinkError> {
        codec::encode(p, self.version, &mut self.wbuf)
            .map_err(|e| LinkError::Protocol(e.to_string()))
    }

    /// Writes everything queued.
    pub async fn write_pending(&mut self) -> Result<(), LinkError> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        self.stream
            .write_all(&self.wbuf)
            .await
            .map_err(LinkError::Io)?;
        self.stream.flush().await.map_err(LinkError::Io)?;
        self.wbuf.clear();
        self.keepalive.on_sent(Instant::now().into_std());
        Ok(())
    }

    /// Whether acks or requests are waiting to be written.
    pub fn has_pending(&self) -> bool {
        !self.wbuf.is_empty()
    }

    /// Reads more bytes. `Ok(false)`: the broker closed the connection.
    pub async fn read_more(&mut self) -> Result<bool, LinkError> {
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
            self.rbuf.reserve(READ_CHUNK);
        }
        let n = self
            .stream
            .read_buf(&mut self.rbuf)
            .await
            .map_err(LinkError::Io)?;
        Ok(n > 0)
    }

    /// Reads more bytes only if they are there already. `None`: nothing ready.
    pub fn read_ready(&mut self) -> Option<Result<bool, LinkError>> {
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
            self.rbuf.reserve(READ_CHUNK);
        }
        self.stream
            .read_buf(&mut self.rbuf)
            .now_or_never()
            .map(|r| r.map(|n| n > 0).map_err(LinkError::Io))
    }

    /// When the keepalive clock next needs attention.
    pub fn keepalive_deadline(&self) -> Option<Instant> {
        self.keepalive.next_deadline().map(Instant::from_std)
    }

    /// Sends PINGREQ when due (3.1.1 §3.1.2.10); an unanswered one means the
    /// connection is dead.
    pub fn on_keepalive_timer(&mut self) -> Result<(), LinkError> {
        match self.keepalive.tick(Instant::now().into_std()) {
            Tick::Nothing => Ok(()),
            Tick::SendPing => {
                self.dbg.log(format_args!("sending PINGREQ"));
                self.wbuf.extend_from_slice(&[0xC0, 0x00]);
                self.keepalive.on_ping_sent(Instant::now().into_std());
                Ok(())
            }
            Tick::TimedOut => Err(LinkError::KeepaliveTimeout),
        }
    }

    /// Decodes the next complete packet in the read buffer and handles what the
    /// session handles by itself. `Ok(None)`: no complete packet buffered.
    pub fn next_event(&mut self) -> Result<Option<Event>, LinkError> {
        loop {
            let packet = match codec::decode(&mut self.rbuf, self.version, usize::MAX) {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(None),
                Err(e) => return Err(LinkError::Protocol(e.to_string())),
            };
            if let Some(ev) = self.handle(packet)? {
                return Ok(Some(ev));
            }
        }
    }

    fn handle(&mut self, packet: Packet) -> Result<Option<Event>, LinkError> {
        match packet {
            Packet::Publish(mut p) => {
                self.resolve_alias(&mut p)?;
                if self.dbg.enabled() {
                    self.dbg
                        .log(format_args!("received {}", PublishSummary::of(&p)));
                }
                match p.qos {
                    QoS::AtMostOnce => Ok(Some(Event::Message(p))),
                    QoS::AtLeastOnce => {
                        // libmosquitto acknowledges before the message callback.
                        self.dbg
                            .log(format_args!("sending PUBACK (m{}, rc0)", p.packet_id));
                        self.queue(&Packet::PubAck(PubAck {
                            packet_id: p.packet_id,
                            reason: ReasonCode::SUCCESS,
                            properties: Properties::new(),
                        }))?;
                        Ok(Some(Event::Message(p)))
                    }
                    QoS::ExactlyOnce => {
                        self.dbg
                            .log(format_args!("sending PUBREC (m{}, rc0)", p.packet_id));
                        self.queue(&Packet::PubRec(PubRec {
                            packet_id: p.packet_id,
                            reason: ReasonCode::SUCCESS,
                            properties: Properties::new(),
                        }))?;
                        // A resent PUBLISH (DUP) replaces the held one: printed once.
                        self.qos2.insert(p.packet_id, p);
                        Ok(None)
                    }
                }
            }
            Packet::PubRel(r) => {
                self.dbg
                    .log(format_args!("received PUBREL (Mid: {})", r.packet_id));
                self.dbg
                    .log(format_args!("sending PUBCOMP (m{})", r.packet_id));
                self.queue(&Packet::PubComp(PubComp {
                    packet_id: r.packet_id,
                    reason: ReasonCode::SUCCESS,
                    properties: Properties::new(),
                }))?;
                Ok(self.qos2.remove(&r.packet_id).map(Event::Message))
            }
            Packet::PubAck(a) => {
                self.dbg.log(format_args!(
                    "received PUBACK (Mid: {}, RC:{})",
                    a.packet_id, a.reason.0
                ));
                Ok(Some(Event::Published(a.packet_id, a.reason)))
            }
            Packet::PubRec(r) => {
                self.dbg
                    .log(format_args!("received PUBREC (Mid: {})", r.packet_id));
                if r.reason.0 >= 0x80 {
                    // 5.0 §4.3.3: a refused QoS 2 message ends here, no PUBREL.
                    return Ok(Some(Event::Published(r.packet_id, r.reason)));
                }
                self.dbg
                    .log(format_args!("sending PUBREL (m{})", r.packet_id));
                self.queue(&Packet::PubRel(PubRel {
                    packet_id: r.packet_id,
                    reason: ReasonCode::SUCCESS,
                    properties: Properties::new(),
                }))?;
                Ok(None)
            }
            Packet::PubComp(c) => {
                self.dbg.log(format_args!(
                    "received PUBCOMP (Mid: {}, RC:{})",
                    c.packet_id, c.reason.0
                ));
                Ok(Some(Event::Published(c.packet_id, c.reason)))
            }
            Packet::SubAck(a) => {
                self.dbg.log(format_args!("received SUBACK"));
                Ok(Some(Event::SubAck(a)))
            }
            Packet::UnsubAck(a) => {
                self.dbg.log(format_args!("received UNSUBACK"));
                Ok(Some(Event::UnsubAck(a.packet_id)))
            }
            Packet::PingResp => {
                self.dbg.log(format_args!("received PINGRESP"));
                self.keepalive.on_pingresp();
                Ok(None)
            }
            Packet::Disconnect(d) => {
                self.dbg
                    .log(format_args!("received DISCONNECT ({})", d.reason.0));
                Ok(Some(Event::Disconnect(d.reason)))
            }
            other => Err(LinkError::Protocol(format!(
                "unexpected {} from the broker",
                other.name()
            ))),
        }
    }

    /// 5.0 §3.3.2.3.4: a topic alias with a topic sets it; with an empty topic it
    /// stands for the topic set before.
    fn resolve_alias(&mut self, p: &mut Publish) -> Result<(), LinkError> {
        if self.version != ProtocolVersion::V5 {
            return Ok(());
        }
        let Some(alias) = p.properties.get_int(PropertyId::TopicAlias) else {
            return Ok(());
        };
        let alias = alias as u16;
        if p.topic.is_empty() {
            match self.aliases.get(&alias) {
                Some(t) => p.topic = t.clone(),
                None => {
                    return Err(LinkError::Protocol(format!(
                        "unknown topic alias {alias} from the broker"
                    )));
                }
            }
        } else {
            self.aliases.insert(alias, p.topic.clone());
        }
        Ok(())
    }

    /// Sends DISCONNECT (with `reason` in v5) and closes our side.
    pub async fn disconnect(&mut self, reason: ReasonCode, properties: &Properties) {
        self.dbg.log(format_args!("sending DISCONNECT"));
        let d = Disconnect {
            reason,
            properties: properties.clone(),
        };
        if self.queue(&Packet::Disconnect(d)).is_ok() {
            let _ = self.write_pending().await;
        }
        let _ = self.stream.shutdown().await;
    }

    /// Writes what is queued (acks) and closes the connection without a DISCONNECT,
    /// as mosquitto_rr ends once it has its response.
    pub async fn close(&mut self) {
        let _ = self.write_pending().await;
        let _ = self.stream.shutdown().await;
    }
}

/// Connects (CONNECT/CONNACK) and wraps the connection in a `Link`.
pub async fn connect_link(
    c: &ClientSettings,
    prepared: &Prepared,
    dbg: Debug,
    clean_start: bool,
) -> Result<(Link, bool), (EstablishError, Debug)> {
    let mut dbg = dbg;
    match establish(c, prepared, &mut dbg, clean_start).await {
        Ok((session, ack)) => {
            let (stream, rbuf) = session.into_parts();
            let mut link = Link::new(stream, rbuf, c.version, c.keep_alive, dbg);
            // 5.0 §3.2.2.3.14: the broker may impose its own keepalive.
            if let Some(ka) = ack.properties.get_int(PropertyId::ServerKeepAlive) {
                link.set_keep_alive(ka.min(65535) as u16);
            }
            Ok((link, ack.session_present))
        }
        Err(e) => Err((e, dbg)),
    }
}

// ---------------------------------------------------------------------------------
// Output

/// stdout through a 64 KiB buffer, flushed after every message on a terminal, with
/// `--line-buffered`, or with `-d` (whose lines go through std's stdout and must stay
/// in order); otherwise when the socket has nothing more ready.
pub struct Out {
    pub w: BufWriter<Box<dyn Write>>,
    pub every: bool,
}

impl Out {
    pub fn stdout(line_buffered: bool, debug: bool) -> Out {
        let every = line_buffered || debug || io::stdout().is_terminal();
        Out {
            w: BufWriter::with_capacity(OUT_BUF, raw_stdout()),
            every,
        }
    }

    pub fn after_message(&mut self) -> Result<(), Error> {
        if self.every {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), Error> {
        self.w.flush().map_err(out_err)
    }
}

/// File descriptor 1 itself (a duplicate), so writes skip std's line buffering.
#[cfg(unix)]
fn raw_stdout() -> Box<dyn Write> {
    use std::os::fd::AsFd;
    match io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(io::stdout()),
    }
}

#[cfg(not(unix))]
fn raw_stdout() -> Box<dyn Write> {
    Box::new(io::stdout())
}

/// `-W` ran out: what is printed stays printed, then "Timed out" and exit 27.
pub fn timed_out(out: &mut Out, quiet: bool) -> Result<u8, Error> {
    let _ = out.flush();
    if !quiet {
        let _ = writeln!(io::stderr(), "Timed out");
    }
    Ok(exit::TIMEOUT)
}

/// A failed write to stdout. A closed pipe keeps its kind, so `main` exits quietly.
pub fn out_err(e: io::Error) -> Error {
    Error::io("writing to stdout", e)
}

/// Where the formatter's complaints go: stderr, or nowhere with `--quiet`.
pub fn diag(quiet: bool) -> Box<dyn Write> {
    if quiet {
        Box::new(io::sink())
    } else {
        Box::new(io::stderr())
    }
}

// ---------------------------------------------------------------------------------
// Signals and timers

/// SIGINT and SIGTERM (Ctrl-C and `kill`): mosquitto_sub disconnects and exits 0.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn new() -> Result<Signals, Error> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let err = |e| Error::io("installing signal handlers", e);
            Ok(Signals {
                int: signal(SignalKind::interrupt()).map_err(err)?,
                term: signal(SignalKind::terminate()).map_err(err)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => {}
                _ = self.term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

// ---------------------------------------------------------------------------------
// The subscriber

/// Why the subscriber stops.
enum Stop {
    /// `-C`, `--retained-only`, `-E`, all subscriptions denied: DISCONNECT, exit 0.
    Done,
    /// SIGINT/SIGTERM: DISCONNECT (v5: with will, as mosquitto), exit 0.
    Signal,
    /// `-W`: DISCONNECT (v5: with will), "Timed out", exit 27.
    Timeout,
}

/// How one connection ended.
enum PumpEnd {
    Stop(Stop),
    Lost(LinkError),
}

struct Subscriber<'a> {
    s: &'a SubSettings,
    fmt: Formatter,
    out: Out,
    diag: Box<dyn Write>,
    /// `--random-filter`'s dice (statistics, not secrets).
    rng: fastrand::Rng,
    /// Messages counted towards `-C`.
    received: u32,
    /// False once mosquitto would stop handling messages (`-C` reached, …).
    processing: bool,
    /// `--remove-retained` PUBLISHes not yet acknowledged: we wait for them before
    /// disconnecting, as mosquitto_sub does with `last_mid`.
    removals: HashSet<u16>,
    stop: Option<Stop>,
    /// `--message-rate`: messages are counted here instead of printed.
    rate: Option<&'a Rate>,
}

/// Runs `mqtk sub` and returns the exit status.
pub async fn run_subscriber(s: &SubSettings) -> Result<u8, Error> {
    let deadline = s.timeout.map(|d| Instant::now() + d);
    if !s.message_rate {
        return run_session(s, None, deadline).await;
    }
    let rate = Rate::new(deadline);
    tokio::select! {
        r = run_session(s, Some(&rate), deadline) => {
            let last = rate.finish();
            let code = r?;
            last.map_err(out_err)?;
            Ok(code)
        }
        e = rate.report() => Err(out_err(e)),
    }
}

/// The subscriber's run, from the first connection to the exit status.
async fn run_session(
    s: &SubSettings,
    rate: Option<&Rate>,
    deadline: Option<Instant>,
) -> Result<u8, Error> {
    let fmt = Formatter::new(&s.output).map_err(|e| Error::Failed(e.to_string()))?;
    let c = &s.client;
    let mut sub = Subscriber {
        s,
        fmt,
        out: Out::stdout(s.line_buffered, c.debug),
        diag: diag(c.quiet),
        rng: fastrand::Rng::new(),
        received: 0,
        processing: true,
        removals: HashSet::new(),
        stop: None,
        rate,
    };
    let mut signals = Signals::new()?;
    let host = match &c.endpoint.unix_socket {
        Some(p) => p.display().to_string(),
        None => c.endpoint.host.clone(),
    };
    sub.fmt
        .write_header(&host, &mut sub.out.w)
        .map_err(out_err)?;
    sub.out.flush()?;

    // TLS files and the like are checked once, before the first connection.
    let prepared = prepare(c)?;
    let mut dbg = Debug::new(c.debug, &c.client_id);
    let mut first = true;
    loop {
        // Connect (the first failure is final; later ones are retried, as
        // mosquitto_loop_forever does), watching signals and -W meanwhile.
        let connected = tokio::select! {
            r = connect_link(c, &prepared, dbg, c.clean_start) => r,
            _ = signals.recv() => return Ok(exit::OK),
            _ = sleep_until_opt(deadline) => return sub.timed_out(),
        };
        let mut link = match connected {
            Ok((link, _)) => link,
            Err((EstablishError::Refused(e), _)) => return Err(e),
            Err((EstablishError::Failed(e), d)) => {
                if first {
                    return Err(e);
                }
                dbg = d;
                tokio::select! {
                    _ = tokio::time::sleep(RECONNECT_DELAY) => continue,
                    _ = signals.recv() => return Ok(exit::OK),
                    _ = sleep_until_opt(deadline) => return sub.timed_out(),
                }
            }
        };
        first = false;
        if let Some(r) = sub.rate {
            r.start();
        }
        sub.subscribe(&mut link)?;
        let end = sub.pump(&mut link, &mut signals, deadline).await;
        match end {
            Ok(PumpEnd::Stop(stop)) => {
                let reason = match stop {
                    Stop::Done => ReasonCode::NORMAL_DISCONNECTION,
                    // mosquitto_sub's signal handler asks for the will to be sent.
                    Stop::Signal | Stop::Timeout => ReasonCode::DISCONNECT_WITH_WILL_MESSAGE,
                };
                let flushed = sub.out.flush();
                link.disconnect(reason, &c.disconnect_properties).await;
                flushed?;
                return match stop {
                    Stop::Timeout => sub.timed_out(),
                    _ => Ok(exit::OK),
                };
            }
            Ok(PumpEnd::Lost(_why)) => {
                sub.out.flush()?;
                // Already done (waiting only for --remove-retained acks): the
                // connection's end is the end, as mosquitto_sub exits 0 then.
                if sub.stop.is_some() {
                    return Ok(exit::OK);
                }
                sub.removals.clear();
                dbg = Debug::new(c.debug, &c.client_id);
                tokio::select! {
                    _ = tokio::time::sleep(RECONNECT_DELAY) => {}
                    _ = signals.recv() => return Ok(exit::OK),
                    _ = sleep_until_opt(deadline) => return sub.timed_out(),
                }
            }
            Err(e) => {
                // stdout failed (a closed pipe, usually): leave the broker politely.
                link.disconnect(ReasonCode::NORMAL_DISCONNECTION, &c.disconnect_properties)
                    .await;
                return Err(e);
            }
        }
    }
}

impl Subscriber<'_> {
    fn timed_out(&mut self) -> Result<u8, Error> {
        // The last count comes before "Timed out", as in mosquitto; failing to print
        // it must not hide the time-out.
        if let Some(r) = self.rate {
            let _ = r.finish();
        }
        timed_out(&mut self.out, self.s.client.quiet)
    }

    /// SUBSCRIBE with every `-t` in one packet, then one UNSUBSCRIBE per `-U`
    /// (mosquitto_sub's connect callback). `-D subscribe`/`-D unsubscribe` properties
    /// libmosquitto refuses mean that packet is not sent, and, as in mosquitto_sub,
    /// nothing is said: the client stays connected until -W, -C or a signal.
    fn subscribe(&mut self, link: &mut Link) -> Result<(), Error> {
        let s = self.s;
        let link_err = |e: LinkError| Error::Failed(format!("{e:?}"));
        let v5 = link.version == ProtocolVersion::V5;
        let sendable = |ctx, props| check_all(ctx, props, v5).is_ok();
        if !s.topics.is_empty()
            && sendable(PropertyContext::Subscribe, &s.client.subscribe_properties)
        {
            let options = SubscriptionOptions {
                qos: s.qos,
                no_local: false,
                retain_as_published: s.retain_as_published,
                retain_handling: s.retain_handling,
            };
            let pid = link.next_pid();
            for t in &s.topics {
                link.dbg.log(format_args!(
                    "sending SUBSCRIBE (Mid: {pid}, Topic: {t}, QoS: {}, Options: 0x{:02x})",
                    s.qos as u8,
                    options.to_byte(link.version) & 0xFC
                ));
            }
            let sub = Subscribe {
                packet_id: pid,
                properties: if link.version == ProtocolVersion::V5 {
                    s.client.subscribe_properties.clone()
                } else {
                    Properties::new()
                },
                filters: s
                    .topics
                    .iter()
                    .map(|t| SubscribeFilter {
                        filter: t.clone(),
                        options,
                    })
                    .collect(),
            };
            link.queue(&Packet::Subscribe(sub)).map_err(link_err)?;
        }
        let unsubscribe = sendable(
            PropertyContext::Unsubscribe,
            &s.client.unsubscribe_properties,
        );
        for t in s.unsubscribe.iter().filter(|_| unsubscribe) {
            let pid = link.next_pid();
            link.dbg
                .log(format_args!("sending UNSUBSCRIBE (Mid: {pid}, Topic: {t})"));
            let u = Unsubscribe {
                packet_id: pid,
                properties: if link.version == ProtocolVersion::V5 {
                    s.client.unsubscribe_properties.clone()
                } else {
                    Properties::new()
                },
                filters: vec![t.clone()],
            };
            link.queue(&Packet::Unsubscribe(u)).map_err(link_err)?;
        }
        Ok(())
    }

    /// Runs one connection until it stops or is lost. `Err`: stdout failed.
    async fn pump(
        &mut self,
        link: &mut Link,
        signals: &mut Signals,
        deadline: Option<Instant>,
    ) -> Result<PumpEnd, Error> {
        let mut now = SystemTime::now();
        // The timers live across iterations: re-arming them for every read would
        // cost more than the read.
        let far = Instant::now() + Duration::from_secs(86400 * 365);
        let w_sleep = tokio::time::sleep_until(deadline.unwrap_or(far));
        let ka_sleep = tokio::time::sleep_until(far);
        tokio::pin!(w_sleep, ka_sleep);
        let mut ka_at = None;
        // Messages since the output was last flushed, and whether acks went out.
        let mut batch = 0usize;
        let mut acked = false;
        loop {
            // 1. Everything already buffered.
            loop {
                let ev = match link.next_event() {
                    Ok(Some(ev)) => ev,
                    Ok(None) => break,
                    Err(e) => return Ok(PumpEnd::Lost(e)),
                };
                match ev {
                    Event::Message(p) => {
                        batch += 1;
                        self.on_message(link, &p, now)?;
                    }
                    Event::SubAck(a) => self.on_suback(link, &a),
                    Event::UnsubAck(_) => {}
                    Event::Published(pid, _) => {
                        self.removals.remove(&pid);
                    }
                    Event::Disconnect(rc) => {
                        return Ok(PumpEnd::Lost(LinkError::ServerDisconnect(rc)));
                    }
                }
            }
            // 2. Acks (and requests) out.
            acked |= link.has_pending();
            if let Err(e) = link.write_pending().await {
                return Ok(PumpEnd::Lost(e));
            }
            if self.stop.is_some() && self.removals.is_empty() {
                return Ok(PumpEnd::Stop(self.stop.take().unwrap_or(Stop::Done)));
            }
            // 3. More bytes ready at once? Then keep the output buffered.
            if !self.out.w.buffer().is_empty() {
                match link.read_ready() {
                    Some(Ok(true)) => {
                        now = SystemTime::now();
                        continue;
                    }
                    Some(Ok(false)) => {
                        self.out.flush()?;
                        return Ok(PumpEnd::Lost(LinkError::Closed));
                    }
                    Some(Err(e)) => {
                        self.out.flush()?;
                        return Ok(PumpEnd::Lost(e));
                    }
                    None => {}
                }
            }
            self.out.flush()?;
            // 4. Under a flood of QoS 0 messages, let a few more arrive before
            //    waiting: one wakeup per COALESCE instead of one per handful of
            //    messages halves the CPU per message. Never when output is
            //    interactive (a terminal, --line-buffered, -d), and never while acks
            //    flow (holding them would throttle the broker's in-flight window).
            if batch >= FLOOD_BATCH && !acked && !self.out.every {
                std::thread::sleep(COALESCE);
            }
            batch = 0;
            acked = false;
            // 5. Wait.
            let want = link.keepalive_deadline();
            if want != ka_at {
                ka_at = want;
                ka_sleep.as_mut().reset(want.unwrap_or(far));
            }
            tokio::select! {
                r = link.read_more() => match r {
                    Ok(true) => now = SystemTime::now(),
                    Ok(false) => return Ok(PumpEnd::Lost(LinkError::Closed)),
                    Err(e) => return Ok(PumpEnd::Lost(e)),
                },
                _ = signals.recv() => return Ok(PumpEnd::Stop(Stop::Signal)),
                _ = &mut w_sleep, if deadline.is_some() => return Ok(PumpEnd::Stop(Stop::Timeout)),
                _ = &mut ka_sleep, if ka_at.is_some() => {
                    if let Err(e) = link.on_keepalive_timer() {
                        return Ok(PumpEnd::Lost(e));
                    }
                }
            }
        }
    }

    fn finish(&mut self) {
        self.processing = false;
        if self.stop.is_none() {
            self.stop = Some(Stop::Done);
        }
    }

    /// mosquitto_sub's `my_subscribe_callback`.
    fn on_suback(&mut self, link: &mut Link, a: &SubAck) {
        let s = self.s;
        if s.client.debug && !s.client.quiet {
            let codes: Vec<String> = a.reasons.iter().map(|r| r.0.to_string()).collect();
            // Printed in line with the -d lines (both go to stdout).
            let _ = self.out.flush();
            let _ = writeln!(
                io::stdout().lock(),
                "Subscribed (mid: {}): {}",
                a.packet_id,
                codes.join(", ")
            );
        }
        let allowed = a.reasons.iter().any(|r| r.0 < 0x80);
        if !allowed {
            if !s.client.quiet {
                let _ = writeln!(io::stderr(), "All subscription requests were denied.");
            }
            self.finish();
        } else if !s.client.quiet {
            // Some denied: say which, and why (v5 reason codes carry the why).
            for (t, r) in s.topics.iter().zip(&a.reasons) {
                if r.0 >= 0x80 {
                    if link.version == ProtocolVersion::V5 {
                        let _ = writeln!(
                            io::stderr(),
                            "Warning: Subscription to '{t}' was denied: {r}."
                        );
                    } else {
                        let _ =
                            writeln!(io::stderr(), "Warning: Subscription to '{t}' was denied.");
                    }
                }
            }
        }
        if s.exit_after_sub {
            self.finish();
        }
    }

    /// mosquitto_sub's `my_message_callback`.
    fn on_message(&mut self, link: &mut Link, p: &Publish, now: SystemTime) -> Result<(), Error> {
        let s = self.s;
        // --message-rate counts every message and handles none (mosquitto counts
        // before its `process_messages` check, which the option turns off).
        if let Some(r) = self.rate {
            r.count();
            return Ok(());
        }
        if !self.processing {
            return Ok(());
        }
        if s.retained_only && !p.retain {
            self.finish();
            return Ok(());
        }
        if p.retain && s.no_retain {
            return Ok(());
        }
        if s.filter_out
            .iter()
            .any(|f| crate::topic::matches(f, &p.topic))
        {
            return Ok(());
        }
        if s.remove_retained && p.retain {
            let pid = link.next_pid();
            let clear = Publish {
                dup: false,
                qos: QoS::AtLeastOnce,
                retain: true,
                topic: p.topic.clone(),
                packet_id: pid,
                properties: Properties::new(),
                payload: Bytes::new(),
            };
            link.dbg
                .log(format_args!("sending {}", PublishSummary::of(&clear)));
            link.queue(&Packet::Publish(clear))
                .map_err(|e| Error::Failed(format!("{e:?}")))?;
            self.removals.insert(pid);
        }
        let msg = Message::from_publish(p, &p.topic, now);
        if s.random_filter < 10000 && self.rng.u32(..10000) >= s.random_filter {
            self.fmt.skip(&msg, &mut self.out.w).map_err(out_err)?;
        } else {
            self.fmt
                .write(&msg, &mut self.out.w, &mut self.diag)
                .map_err(out_err)?;
            self.out.after_message()?;
        }
        if let Some(n) = s.count {
            self.received += 1;
            if self.received >= n {
                self.finish();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::PropertyValue;

    fn link(version: ProtocolVersion) -> (Link, tokio::io::DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let link = Link::new(
            Box::new(ours),
            BytesMut::new(),
            version,
            60,
            Debug::new(false, "t"),
        );
        (link, theirs)
    }

    fn publish(topic: &str, alias: Option<u16>, qos: QoS, pid: u16, payload: &str) -> Vec<u8> {
        let mut properties = Properties::new();
        if let Some(a) = alias {
            properties.set(PropertyId::TopicAlias, PropertyValue::TwoByte(a));
        }
        let p = Publish {
            dup: false,
            qos,
            retain: false,
            topic: topic.into(),
            packet_id: pid,
            properties,
            payload: Bytes::from(payload.to_string()),
        };
        let mut b = BytesMut::new();
        codec::encode(&Packet::Publish(p), ProtocolVersion::V5, &mut b).unwrap();
        b.to_vec()
    }

    fn message(ev: Option<Event>) -> Publish {
        match ev {
            Some(Event::Message(p)) => p,
            _ => panic!("expected a message"),
        }
    }

    #[test]
    fn topic_aliases_are_resolved_before_printing() {
        let (mut l, _peer) = link(ProtocolVersion::V5);
        // 5.0 §3.3.2.3.4: alias 7 set with a topic, then used with an empty one.
        l.rbuf
            .extend_from_slice(&publish("a/b", Some(7), QoS::AtMostOnce, 0, "1"));
        l.rbuf
            .extend_from_slice(&publish("", Some(7), QoS::AtMostOnce, 0, "2"));
        let first = message(l.next_event().unwrap());
        let second = message(l.next_event().unwrap());
        assert_eq!(
            (first.topic.as_str(), &first.payload[..]),
            ("a/b", &b"1"[..])
        );
        assert_eq!(
            (second.topic.as_str(), &second.payload[..]),
            ("a/b", &b"2"[..])
        );
        // The alias stays visible to %A.
        assert_eq!(second.properties.get_int(PropertyId::TopicAlias), Some(7));
        assert!(l.next_event().unwrap().is_none());
        // An alias never set is a protocol error.
        l.rbuf
            .extend_from_slice(&publish("", Some(9), QoS::AtMostOnce, 0, "3"));
        assert!(matches!(l.next_event(), Err(LinkError::Protocol(_))));
    }

    #[test]
    fn qos1_is_acked_and_qos2_waits_for_pubrel() {
        let (mut l, _peer) = link(ProtocolVersion::V311);
        let mut b = BytesMut::new();
        let p1 = Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "t".into(),
            packet_id: 5,
            properties: Properties::new(),
            payload: Bytes::from_static(b"x"),
        };
        codec::encode(&Packet::Publish(p1), ProtocolVersion::V311, &mut b).unwrap();
        let mut p2 = Publish {
            qos: QoS::ExactlyOnce,
            packet_id: 6,
            payload: Bytes::from_static(b"y"),
            topic: "t".into(),
            dup: false,
            retain: false,
            properties: Properties::new(),
        };
        codec::encode(&Packet::Publish(p2.clone()), ProtocolVersion::V311, &mut b).unwrap();
        // A resent duplicate before PUBREL must not print twice.
        p2.dup = true;
        codec::encode(&Packet::Publish(p2), ProtocolVersion::V311, &mut b).unwrap();
        l.rbuf.extend_from_slice(&b);
        assert_eq!(&message(l.next_event().unwrap()).payload[..], b"x");
        // PUBACK 5, PUBREC 6, PUBREC 6: byte by byte (3.1.1 §3.4, §3.5).
        assert!(l.next_event().unwrap().is_none());
        assert_eq!(
            &l.wbuf[..],
            &[0x40, 2, 0, 5, 0x50, 2, 0, 6, 0x50, 2, 0, 6][..]
        );
        l.wbuf.clear();
        // PUBREL 6 (flags 0b0010): the message is delivered, PUBCOMP 6 queued.
        l.rbuf.extend_from_slice(&[0x62, 2, 0, 6]);
        assert_eq!(&message(l.next_event().unwrap()).payload[..], b"y");
        assert_eq!(&l.wbuf[..], &[0x70, 2, 0, 6][..]);
        // A second PUBREL for it is answered but delivers nothing.
        l.rbuf.extend_from_slice(&[0x62, 2, 0, 6]);
        assert!(l.next_event().unwrap().is_none());
    }

    #[test]
    fn packet_ids_skip_zero() {
        let (mut l, _peer) = link(ProtocolVersion::V5);
        l.last_pid = u16::MAX;
        assert_eq!(l.next_pid(), 1);
        assert_eq!(l.next_pid(), 2);
    }
}
