//! The client connection core, free of I/O (sans-I/O): bytes and the current
//! `Instant` in, bytes to write and events for the command out. It owns the CONNECT /
//! CONNACK handshake, packet identifiers, the in-flight window (our limit and the
//! broker's Receive Maximum), QoS 1 and QoS 2 in both directions (inbound QoS 2
//! delivered once), topic aliases both ways, keepalive and the PINGRESP timeout, and
//! session resumption (after a reconnection, unacknowledged PUBLISH again with DUP and
//! PUBREL, in their original order: 3.1.1 §4.4, 5.0 §4.4).
//!
//! It reads no clock and touches no socket: `client::drive` (or a test) moves the
//! bytes between `read_buf`/`pending` and a stream, and passes `Instant`s in. Every
//! packet byte comes from `codec`. It is small when idle (empty maps and buffers
//! allocate nothing), so `bench` keeps one per connection by the ten thousand.

use std::collections::HashMap;
use std::time::Instant;

use bytes::{Buf, BytesMut};

use crate::client::inbound::{Inbound, InboundError, Qos2Delivery};
use crate::client::keepalive::{Keepalive, Tick};
use crate::client::message::Outgoing;
use crate::client::outbound::{Acked, Outbound, Resend};
use crate::client::trace::{Dir, PublishInfo, Trace};
use crate::codec::packet::puback;
use crate::codec::{
    self, ConnAck, Connect, Disconnect, Packet, Properties, PropertyId, ProtocolVersion, PubAck,
    PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, SubAck, Subscribe, SubscribeFilter,
    UnsubAck, Unsubscribe,
};

/// How a connection behaves; fixed for its life.
#[derive(Clone, Debug)]
pub struct Options {
    pub version: ProtocolVersion,
    /// Our cap on unacknowledged QoS 1/2 messages; a v5 broker's Receive Maximum may
    /// lower it (5.0 §3.2.2.3.3).
    pub max_inflight: u16,
    /// Payload bytes that may be unacknowledged at once (one message always fits).
    pub max_inflight_bytes: usize,
    pub qos2_delivery: Qos2Delivery,
    /// The largest packet accepted from the broker, fixed header included.
    pub max_packet: usize,
    /// Reads start at `read_min` bytes of room and double, up to `read_max`, while
    /// they fill it: an idle connection keeps a tiny buffer, a busy one reads a lot at
    /// a time.
    pub read_min: usize,
    pub read_max: usize,
    /// Free the read buffer whenever it empties (for many idle connections).
    pub shrink_when_idle: bool,
}

impl Options {
    /// Defaults: no window of our own (65,535), no byte budget, QoS 2 delivered on
    /// PUBREL as libmosquitto does, 4 KiB to 64 KiB reads.
    pub fn new(version: ProtocolVersion) -> Options {
        Options {
            version,
            max_inflight: u16::MAX,
            max_inflight_bytes: usize::MAX,
            qos2_delivery: Qos2Delivery::OnRelease,
            max_packet: usize::MAX,
            read_min: 4096,
            read_max: 64 * 1024,
            shrink_when_idle: false,
        }
    }
}

/// What the connection hands to the command.
#[derive(Debug)]
pub enum Event<M> {
    /// CONNACK accepted the connection. Unacknowledged messages of an earlier
    /// connection have been queued again already.
    Connected(ConnAck),
    /// An application message, acknowledged already (QoS 1: PUBACK queued; QoS 2: as
    /// `Options::qos2_delivery` says), topic alias resolved.
    Message(Publish),
    /// A QoS 1/2 message's handshake ended, successfully or not.
    Delivered(Delivered<M>),
    SubAck(SubAck),
    UnsubAck(UnsubAck),
}

/// The end of an outgoing QoS 1/2 handshake.
#[derive(Debug)]
pub struct Delivered<M> {
    pub packet_id: u16,
    pub msg: M,
    /// The broker's reason code (3.x: always success).
    pub reason: ReasonCode,
    pub properties: Properties,
}

impl<M> Delivered<M> {
    /// Success codes are below 0x80 (5.0 §2.4); 0x10 "No matching subscribers" is one.
    pub fn succeeded(&self) -> bool {
        self.reason.0 < 0x80
    }
}

/// Why the connection cannot go on; the network connection must be closed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// CONNACK refused the connection (3.x return code 1–5, v5 reason ≥ 0x80).
    #[error("connection refused (code {})", .0.code)]
    Refused(ConnAck),
    /// The broker sent DISCONNECT (v5).
    #[error("the broker disconnected: {}", .0.reason)]
    Disconnected(Disconnect),
    /// A PINGREQ went unanswered for a keepalive interval.
    #[error("keepalive timeout")]
    KeepaliveTimeout,
    /// The broker sent bytes that do not decode.
    #[error("malformed packet from the broker: {0}")]
    Malformed(codec::Error),
    /// A well-formed packet that breaks the protocol here.
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// Why `publish` did not send a message; the message comes back.
#[derive(Debug)]
pub enum PublishError<M> {
    /// The in-flight window (count or bytes) is full: wait for a `Delivered`.
    Full(M),
    /// No accepted network connection right now.
    NotConnected(M),
    /// It cannot be encoded (e.g. over MQTT's 256 MiB packet limit).
    Encode(codec::Error, M),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No network connection (before `connect`, after an error).
    Down,
    /// CONNECT queued, waiting for CONNACK.
    Connecting,
    Connected,
    /// DISCONNECT queued: nothing more may be sent.
    Closing,
}

/// One client's MQTT session over successive network connections.
pub struct Connection<M> {
    opts: Options,
    phase: Phase,
    out: Outbound<M>,
    inb: Inbound,
    ka: Keepalive,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// Room to give the next read (see `Options::read_min`), and the room the last
    /// `read_buf` gave, to see whether the read filled it.
    read_want: usize,
    read_room: usize,
    /// Outbound topic aliases set on this network connection (5.0 §3.3.2.3.4).
    aliases_sent: HashMap<u16, Box<str>>,
    /// The Topic Alias Maximum we announced in the pending CONNECT, if any.
    alias_max: Option<u16>,
    trace: Option<Box<dyn Trace>>,
}

/// Write buffers above this are freed once written out.
const WBUF_KEEP: usize = 256 * 1024;

impl<M: Outgoing> Connection<M> {
    pub fn new(opts: Options, now: Instant) -> Connection<M> {
        Connection {
            out: Outbound::new(opts.max_inflight, opts.max_inflight_bytes),
            inb: Inbound::new(opts.qos2_delivery),
            ka: Keepalive::new(0, now),
            read_want: opts.read_min.max(1),
            read_room: 0,
            rbuf: BytesMut::new(),
            wbuf: BytesMut::new(),
            phase: Phase::Down,
            aliases_sent: HashMap::new(),
            alias_max: None,
            trace: None,
            opts,
        }
    }

    /// Shows every packet to `trace` from now on (mosquitto's `-d`).
    pub fn set_trace(&mut self, trace: Box<dyn Trace>) {
        self.trace = Some(trace);
    }

    pub fn version(&self) -> ProtocolVersion {
        self.opts.version
    }

    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    fn trace(&mut self, dir: Dir, p: &Packet) {
        if let Some(t) = &mut self.trace {
            t.packet(dir, p);
        }
    }

    /// Encodes `p` into the write buffer, showing it to the trace.
    fn send(&mut self, p: &Packet) -> Result<(), codec::Error> {
        codec::encode(p, self.opts.version, &mut self.wbuf)?;
        self.trace(Dir::Sent, p);
        Ok(())
    }

    // -----------------------------------------------------------------------------
    // Network connections

    /// Starts a network connection: forgets what the last one left in the buffers and
    /// queues CONNECT. The session (unacknowledged messages, QoS 2 state) carries over
    /// until CONNACK says whether the broker kept it.
    pub fn connect(&mut self, c: &Connect, now: Instant) -> Result<(), codec::Error> {
        self.rbuf.clear();
        self.wbuf.clear();
        self.aliases_sent.clear();
        self.read_want = self.opts.read_min.max(1);
        self.ka.reset(c.keep_alive, now);
        self.alias_max = (c.version == ProtocolVersion::V5)
            .then(|| c.properties.get_int(PropertyId::TopicAliasMaximum))
            .flatten()
            .map(|m| m.min(65535) as u16);
        self.send(&Packet::Connect(c.clone()))?;
        self.phase = Phase::Connecting;
        Ok(())
    }

    /// The network connection is gone: nothing buffered for it matters any more.
    pub fn lost(&mut self) {
        self.phase = Phase::Down;
        self.wbuf.clear();
        self.rbuf.clear();
    }

    fn on_connack(&mut self, ack: ConnAck, now: Instant) -> Result<Event<M>, Error> {
        if ack.code != 0 {
            self.phase = Phase::Down;
            return Err(Error::Refused(ack));
        }
        let v5 = self.opts.version == ProtocolVersion::V5;
        // 5.0 §3.2.2.3.3: an absent Receive Maximum means 65,535.
        let broker_max = if v5 {
            ack.properties
                .get_int(PropertyId::ReceiveMaximum)
                .map_or(u16::MAX, |v| v.clamp(1, 65535) as u16)
        } else {
            u16::MAX
        };
        self.out.set_window(self.opts.max_inflight.min(broker_max));
        if let Some(ka) = ack.properties.get_int(PropertyId::ServerKeepAlive) {
            self.ka.reset(ka.min(65535) as u16, now);
        }
        self.inb.reconnected(ack.session_present, self.alias_max);
        self.phase = Phase::Connected;
        for r in self.out.reconnected(ack.session_present) {
            match r {
                Resend::Publish(pid) => self.resend_publish(pid)?,
                Resend::PubRel(pid) => self.send_pubrel(pid, ReasonCode::SUCCESS),
            }
        }
        Ok(Event::Connected(ack))
    }

    fn resend_publish(&mut self, pid: u16) -> Result<(), Error> {
        let Some(msg) = self.out.get(pid) else {
            return Ok(());
        };
        encode_publish(
            msg,
            true,
            pid,
            self.opts.version,
            &mut self.wbuf,
            &mut self.aliases_sent,
            &mut self.trace,
        )
        .map_err(|e| Error::Protocol(format!("cannot resend message {pid}: {e}")))
    }

    // -----------------------------------------------------------------------------
    // Bytes in and out

    /// Where to read into: the driver appends what the stream gives, then calls
    /// `on_read`.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        let room = self.rbuf.capacity() - self.rbuf.len();
        if room < self.read_want / 2 {
            self.rbuf.reserve(self.read_want);
        }
        self.read_room = self.rbuf.capacity() - self.rbuf.len();
        &mut self.rbuf
    }

    /// `n` bytes were appended to `read_buf()`; a read that filled the room asks for
    /// more room next time.
    pub fn on_read(&mut self, n: usize) {
        if n >= self.read_room && self.read_want < self.opts.read_max {
            self.read_want = (self.read_want * 2).min(self.opts.read_max);
        }
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        &self.wbuf
    }

    /// `n` bytes of `pending()` were written at `now`.
    pub fn written(&mut self, n: usize, now: Instant) {
        self.wbuf.advance(n);
        self.ka.on_sent(now);
        if self.wbuf.is_empty() && self.wbuf.capacity() > WBUF_KEEP {
            self.wbuf = BytesMut::new();
        }
    }

    // -----------------------------------------------------------------------------
    // Time

    /// When `on_timeout` next has something to do, if ever.
    pub fn next_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Connected {
            self.ka.deadline()
        } else {
            None
        }
    }

    /// Sends PINGREQ when due (3.1.1 §3.1.2.10); an unanswered one ends the connection.
    pub fn on_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if self.phase != Phase::Connected {
            return Ok(());
        }
        match self.ka.tick(now) {
            Tick::Nothing => Ok(()),
            Tick::Ping => {
                self.send(&Packet::PingReq).map_err(Error::Malformed)?;
                self.ka.on_ping_sent(now);
                Ok(())
            }
            Tick::TimedOut => Err(Error::KeepaliveTimeout),
        }
    }
}

// ---------------------------------------------------------------------------------
// What the command asks for

impl<M: Outgoing> Connection<M> {
    /// Queues a PUBLISH: QoS 0 returns packet id 0 and keeps nothing; QoS 1/2 take a
    /// packet id and a place in the window until acknowledged.
    pub fn publish(&mut self, msg: M) -> Result<u16, PublishError<M>> {
        if self.phase != Phase::Connected {
            return Err(PublishError::NotConnected(msg));
        }
        let qos = msg.qos();
        if qos == QoS::AtMostOnce {
            // libmosquitto numbers QoS 0 messages too, from the same counter; only the
            // packet log shows the number (no id goes on the wire at QoS 0).
            let mid = if self.trace.is_some() {
                self.out.next_id()
            } else {
                0
            };
            return match self.encode_new(&msg, mid) {
                Ok(()) => Ok(0),
                Err(e) => Err(PublishError::Encode(e, msg)),
            };
        }
        let len = msg.payload_len();
        let pid = self.out.start(qos, msg, len).map_err(PublishError::Full)?;
        let msg = self.out.get(pid).expect("just registered");
        let r = encode_publish(
            msg,
            false,
            pid,
            self.opts.version,
            &mut self.wbuf,
            &mut self.aliases_sent,
            &mut self.trace,
        );
        match r {
            Ok(()) => Ok(pid),
            Err(e) => {
                let msg = self.out.cancel(pid).expect("just registered");
                Err(PublishError::Encode(e, msg))
            }
        }
    }

    fn encode_new(&mut self, msg: &M, pid: u16) -> Result<(), codec::Error> {
        encode_publish(
            msg,
            false,
            pid,
            self.opts.version,
            &mut self.wbuf,
            &mut self.aliases_sent,
            &mut self.trace,
        )
    }

    /// Queues SUBSCRIBE for `filters` (one packet); returns its packet id. Properties
    /// are dropped below v5.
    pub fn subscribe(
        &mut self,
        filters: Vec<SubscribeFilter>,
        properties: Properties,
    ) -> Result<u16, codec::Error> {
        self.request(properties, |packet_id, properties| {
            Packet::Subscribe(Subscribe {
                packet_id,
                properties,
                filters,
            })
        })
    }

    /// Queues UNSUBSCRIBE for `filters` (one packet); returns its packet id.
    pub fn unsubscribe(
        &mut self,
        filters: Vec<String>,
        properties: Properties,
    ) -> Result<u16, codec::Error> {
        self.request(properties, |packet_id, properties| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties,
                filters,
            })
        })
    }

    /// Queues a request that takes a packet id until its ack (SUBSCRIBE, UNSUBSCRIBE).
    fn request(
        &mut self,
        properties: Properties,
        packet: impl FnOnce(u16, Properties) -> Packet,
    ) -> Result<u16, codec::Error> {
        let packet_id = self.out.start_request();
        let p = packet(packet_id, self.v5_only(properties));
        self.send(&p).inspect_err(|_| {
            self.out.request_done(packet_id);
        })?;
        Ok(packet_id)
    }

    fn v5_only(&self, properties: Properties) -> Properties {
        if self.opts.version == ProtocolVersion::V5 {
            properties
        } else {
            Properties::new()
        }
    }

    /// Queues DISCONNECT (with `reason` and `properties` in v5); nothing more is sent
    /// after it.
    pub fn disconnect(
        &mut self,
        reason: ReasonCode,
        properties: Properties,
    ) -> Result<(), codec::Error> {
        if !matches!(self.phase, Phase::Connected | Phase::Connecting) {
            return Ok(());
        }
        let properties = self.v5_only(properties);
        self.send(&Packet::Disconnect(Disconnect { reason, properties }))?;
        self.phase = Phase::Closing;
        Ok(())
    }

    /// QoS 1/2 messages sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.out.in_flight()
    }

    /// Their payload bytes.
    pub fn in_flight_bytes(&self) -> usize {
        self.out.in_flight_bytes()
    }

    /// The in-flight window now in force.
    pub fn window(&self) -> u16 {
        self.out.window()
    }

    /// Whether `publish` of a QoS 1/2 message would find room.
    pub fn has_room(&self) -> bool {
        self.out.has_room()
    }

    /// Takes every unacknowledged message out (e.g. to report them as lost).
    pub fn drain_unacked(&mut self) -> Vec<(u16, M)> {
        self.out.drain().collect()
    }
}

/// Appends `msg` as a PUBLISH, sending the topic empty when this connection already
/// set up its alias (5.0 §3.3.2.3.4), and shows it to the trace.
fn encode_publish<M: Outgoing>(
    msg: &M,
    dup: bool,
    packet_id: u16,
    version: ProtocolVersion,
    wbuf: &mut BytesMut,
    aliases: &mut HashMap<u16, Box<str>>,
    trace: &mut Option<Box<dyn Trace>>,
) -> Result<(), codec::Error> {
    let alias = msg.topic_alias().filter(|_| version == ProtocolVersion::V5);
    let omit_topic = alias.is_some_and(|a| aliases.get(&a).is_some_and(|t| **t == *msg.topic()));
    msg.encode(dup, packet_id, omit_topic, version, wbuf)?;
    if let Some(a) = alias
        && !omit_topic
    {
        aliases.insert(a, msg.topic().into());
    }
    if let Some(t) = trace {
        t.publish(&PublishInfo {
            dup,
            qos: msg.qos(),
            retain: msg.retain(),
            packet_id,
            topic: if omit_topic { "" } else { msg.topic() },
            payload_len: msg.payload_len(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// What the broker sends

impl<M: Outgoing> Connection<M> {
    /// Handles every complete packet in the read buffer until one makes an event for
    /// the command. `Ok(None)`: no complete packet is buffered.
    pub fn poll_event(&mut self, now: Instant) -> Result<Option<Event<M>>, Error> {
        loop {
            if let Some(ev) = self.plain_pubacks() {
                return Ok(Some(ev));
            }
            let decoded = codec::decode(&mut self.rbuf, self.opts.version, self.opts.max_packet);
            let packet = match decoded {
                Ok(Some(p)) => p,
                Ok(None) => {
                    self.idle_read_buffer();
                    return Ok(None);
                }
                Err(e) => return Err(Error::Malformed(e)),
            };
            if let Some(ev) = self.on_packet(packet, now)? {
                return Ok(Some(ev));
            }
        }
    }

    /// The bulk of a QoS 1 publisher's input, read in place (`puback::take_plain`).
    fn plain_pubacks(&mut self) -> Option<Event<M>> {
        if self.phase != Phase::Connected {
            return None;
        }
        while let Some(packet_id) = puback::take_plain(&mut self.rbuf) {
            let reason = ReasonCode::SUCCESS;
            if self.trace.is_some() {
                let p = Packet::PubAck(PubAck {
                    packet_id,
                    reason,
                    properties: Properties::new(),
                });
                self.trace(Dir::Received, &p);
            }
            if let Acked::Done(msg, reason) = self.out.on_puback(packet_id, reason) {
                return Some(Event::Delivered(Delivered {
                    packet_id,
                    msg,
                    reason,
                    properties: Properties::new(),
                }));
            }
        }
        None
    }

    fn idle_read_buffer(&mut self) {
        if self.opts.shrink_when_idle
            && self.rbuf.is_empty()
            && self.rbuf.capacity() > self.opts.read_min.max(4096)
        {
            self.rbuf = BytesMut::new();
            self.read_want = self.opts.read_min.max(1);
        }
    }

    fn on_packet(&mut self, packet: Packet, now: Instant) -> Result<Option<Event<M>>, Error> {
        if let Packet::Publish(p) = packet {
            // Traced after its alias is resolved (inside), so the log shows the topic.
            return self.on_publish(p);
        }
        self.trace(Dir::Received, &packet);
        match (self.phase, packet) {
            (Phase::Connecting, Packet::ConnAck(ack)) => self.on_connack(ack, now).map(Some),
            (Phase::Connecting, other) => Err(unexpected(&other, "before CONNACK")),
            (_, Packet::PubAck(a)) => Ok(delivered(
                self.out.on_puback(a.packet_id, a.reason),
                a.packet_id,
                a.properties,
            )),
            (_, Packet::PubRec(r)) => Ok(self.on_pubrec(r)),
            (_, Packet::PubComp(c)) => Ok(delivered(
                self.out.on_pubcomp(c.packet_id, c.reason),
                c.packet_id,
                c.properties,
            )),
            (_, Packet::PubRel(r)) => Ok(self.on_pubrel(r)),
            (_, Packet::SubAck(a)) => {
                self.out.request_done(a.packet_id);
                Ok(Some(Event::SubAck(a)))
            }
            (_, Packet::UnsubAck(a)) => {
                self.out.request_done(a.packet_id);
                Ok(Some(Event::UnsubAck(a)))
            }
            (_, Packet::PingResp) => {
                self.ka.on_pingresp();
                Ok(None)
            }
            (_, Packet::Disconnect(d)) => Err(Error::Disconnected(d)),
            (_, other) => Err(unexpected(&other, "from the broker")),
        }
    }

    fn on_pubrec(&mut self, r: PubRec) -> Option<Event<M>> {
        match self.out.on_pubrec(r.packet_id, r.reason) {
            Acked::Release => {
                self.send_pubrel(r.packet_id, ReasonCode::SUCCESS);
                None
            }
            // 5.0 §4.3.3: a PUBREC we have no record of still gets a PUBREL, so the
            // broker can finish its side ("Packet Identifier not found" in v5).
            Acked::Unknown => {
                self.send_pubrel(r.packet_id, ReasonCode::PACKET_IDENTIFIER_NOT_FOUND);
                None
            }
            done => delivered(done, r.packet_id, r.properties),
        }
    }

    fn send_pubrel(&mut self, packet_id: u16, reason: ReasonCode) {
        let p = Packet::PubRel(PubRel {
            packet_id,
            reason,
            properties: Properties::new(),
        });
        // An ack with an id and no properties always encodes.
        let _ = self.send(&p);
    }

    /// PUBREL for a QoS 2 message the broker sent: PUBCOMP, and the held message.
    fn on_pubrel(&mut self, r: PubRel) -> Option<Event<M>> {
        let p = Packet::PubComp(PubComp {
            packet_id: r.packet_id,
            reason: ReasonCode::SUCCESS,
            properties: Properties::new(),
        });
        let _ = self.send(&p);
        self.inb.on_pubrel(r.packet_id).map(Event::Message)
    }

    fn on_publish(&mut self, mut p: Publish) -> Result<Option<Event<M>>, Error> {
        if self.phase == Phase::Connecting {
            return Err(unexpected(&Packet::Publish(p), "before CONNACK"));
        }
        self.inb
            .resolve_alias(&mut p, self.opts.version)
            .map_err(|e: InboundError| Error::Protocol(e.to_string()))?;
        if self.trace.is_some() {
            let p = Packet::Publish(p);
            self.trace(Dir::Received, &p);
            let Packet::Publish(back) = p else {
                unreachable!()
            };
            return self.ack_publish(back);
        }
        self.ack_publish(p)
    }

    /// QoS 1: PUBACK, then deliver (libmosquitto acknowledges before its message
    /// callback). QoS 2: PUBREC, then deliver as `Options::qos2_delivery` says.
    fn ack_publish(&mut self, p: Publish) -> Result<Option<Event<M>>, Error> {
        let ack = |packet_id| (packet_id, ReasonCode::SUCCESS, Properties::new());
        match p.qos {
            QoS::AtMostOnce => Ok(Some(Event::Message(p))),
            QoS::AtLeastOnce => {
                let (packet_id, reason, properties) = ack(p.packet_id);
                let _ = self.send(&Packet::PubAck(PubAck {
                    packet_id,
                    reason,
                    properties,
                }));
                Ok(Some(Event::Message(p)))
            }
            QoS::ExactlyOnce => {
                let (packet_id, reason, properties) = ack(p.packet_id);
                let _ = self.send(&Packet::PubRec(PubRec {
                    packet_id,
                    reason,
                    properties,
                }));
                Ok(self.inb.on_qos2_publish(p).map(Event::Message))
            }
        }
    }
}

fn delivered<M>(a: Acked<M>, packet_id: u16, properties: Properties) -> Option<Event<M>> {
    match a {
        Acked::Done(msg, reason) => Some(Event::Delivered(Delivered {
            packet_id,
            msg,
            reason,
            properties,
        })),
        // An ack for an id we do not have in flight is ignored, as libmosquitto does.
        Acked::Release | Acked::Unknown => None,
    }
}

fn unexpected(p: &Packet, when: &str) -> Error {
    Error::Protocol(format!("unexpected {} {when}", p.name()))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::codec::{PropertyValue, SubscriptionOptions};

    type Conn = Connection<Publish>;

    fn connect_packet(version: ProtocolVersion, keep_alive: u16) -> Connect {
        Connect {
            version,
            clean_start: true,
            keep_alive,
            properties: Properties::new(),
            client_id: "c".into(),
            will: None,
            username: None,
            password: None,
        }
    }

    /// Feeds `bytes` as if read from the stream.
    fn feed(c: &mut Conn, bytes: &[u8]) {
        c.read_buf().extend_from_slice(bytes);
        c.on_read(bytes.len());
    }

    /// Everything written so far, taken out.
    fn take(c: &mut Conn, now: Instant) -> Vec<u8> {
        let out = c.pending().to_vec();
        c.written(out.len(), now);
        out
    }

    fn events(c: &mut Conn, now: Instant) -> Vec<Event<Publish>> {
        let mut v = Vec::new();
        while let Some(ev) = c.poll_event(now).expect("no error") {
            v.push(ev);
        }
        v
    }

    /// A connection past CONNACK (`connack` bytes), its CONNECT taken out.
    fn connected(version: ProtocolVersion, connack: &[u8]) -> (Conn, Instant) {
        let now = Instant::now();
        let mut c = Conn::new(Options::new(version), now);
        c.connect(&connect_packet(version, 10), now).unwrap();
        take(&mut c, now);
        feed(&mut c, connack);
        assert!(matches!(events(&mut c, now)[..], [Event::Connected(_)]));
        (c, now)
    }

    fn msg(qos: QoS, topic: &str, payload: &'static [u8]) -> Publish {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic: topic.into(),
            packet_id: 0,
            properties: Properties::new(),
            payload: Bytes::from_static(payload),
        }
    }

    const CONNACK_311: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

    #[test]
    fn connect_writes_connect_and_connack_connects() {
        let now = Instant::now();
        let mut c = Conn::new(Options::new(ProtocolVersion::V311), now);
        assert!(matches!(
            c.publish(msg(QoS::AtMostOnce, "t", b"x")),
            Err(PublishError::NotConnected(_))
        ));
        c.connect(&connect_packet(ProtocolVersion::V311, 10), now)
            .unwrap();
        assert_eq!(
            take(&mut c, now),
            [
                0x10, 0x0D, // CONNECT, remaining length 13
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
                0x04, // level 4 (3.1.1)
                0x02, // clean session
                0x00, 0x0A, // keep alive 10
                0x00, 0x01, b'c', // client id "c"
            ]
        );
        // Only CONNACK may come first.
        feed(&mut c, &[0xD0, 0x00]);
        assert!(matches!(c.poll_event(now), Err(Error::Protocol(_))));
        c.connect(&connect_packet(ProtocolVersion::V311, 10), now)
            .unwrap();
        feed(&mut c, &CONNACK_311);
        assert!(matches!(events(&mut c, now)[..], [Event::Connected(_)]));
        assert!(c.is_connected());
    }

    #[test]
    fn a_refused_connack_is_an_error() {
        let now = Instant::now();
        let mut c = Conn::new(Options::new(ProtocolVersion::V311), now);
        c.connect(&connect_packet(ProtocolVersion::V311, 0), now)
            .unwrap();
        feed(&mut c, &[0x20, 0x02, 0x00, 0x05]);
        match c.poll_event(now) {
            Err(Error::Refused(ack)) => assert_eq!(ack.code, 5),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(!c.is_connected());
    }

    #[test]
    fn qos1_publish_and_puback_in_both_forms() {
        let (mut c, now) = connected(ProtocolVersion::V5, &[0x20, 0x03, 0x00, 0x00, 0x00]);
        assert_eq!(c.publish(msg(QoS::AtLeastOnce, "t", b"x")).ok(), Some(1));
        assert_eq!(c.publish(msg(QoS::AtLeastOnce, "t", b"y")).ok(), Some(2));
        assert_eq!(
            take(&mut c, now),
            [
                0x32, 0x07, 0x00, 0x01, b't', 0x00, 0x01, 0x00, b'x', // PUBLISH q1 id 1
                0x32, 0x07, 0x00, 0x01, b't', 0x00, 0x02, 0x00, b'y', // PUBLISH q1 id 2
            ]
        );
        assert_eq!(c.in_flight(), 2);
        // PUBACK 1 plain; PUBACK 2 with reason 0x10 (no matching subscribers, a success).
        feed(
            &mut c,
            &[0x40, 0x02, 0x00, 0x01, 0x40, 0x03, 0x00, 0x02, 0x10],
        );
        let evs = events(&mut c, now);
        let done: Vec<(u16, bool, &[u8])> = evs
            .iter()
            .map(|e| match e {
                Event::Delivered(d) => (d.packet_id, d.succeeded(), &d.msg.payload[..]),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(done, [(1, true, &b"x"[..]), (2, true, &b"y"[..])]);
        assert_eq!(c.in_flight(), 0);
        // An ack for nothing in flight is ignored.
        feed(&mut c, &[0x40, 0x02, 0x00, 0x09]);
        assert!(events(&mut c, now).is_empty());
    }

    #[test]
    fn receive_maximum_caps_the_window() {
        // CONNACK v5 with Receive Maximum 2 (5.0 §3.2.2.3.3).
        let (mut c, _) = connected(
            ProtocolVersion::V5,
            &[0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x02],
        );
        assert_eq!(c.window(), 2);
        c.publish(msg(QoS::AtLeastOnce, "t", b"1")).ok().unwrap();
        c.publish(msg(QoS::AtLeastOnce, "t", b"2")).ok().unwrap();
        assert!(!c.has_room());
        assert!(matches!(
            c.publish(msg(QoS::AtLeastOnce, "t", b"3")),
            Err(PublishError::Full(_))
        ));
        // QoS 0 is not windowed.
        assert_eq!(c.publish(msg(QoS::AtMostOnce, "t", b"4")).ok(), Some(0));
    }

    #[test]
    fn outgoing_qos2_handshake() {
        let (mut c, now) = connected(ProtocolVersion::V311, &CONNACK_311);
        c.publish(msg(QoS::ExactlyOnce, "t", b"x")).ok().unwrap();
        take(&mut c, now);
        feed(&mut c, &[0x50, 0x02, 0x00, 0x01]); // PUBREC 1
        assert!(events(&mut c, now).is_empty());
        assert_eq!(take(&mut c, now), [0x62, 0x02, 0x00, 0x01]); // PUBREL 1
        feed(&mut c, &[0x70, 0x02, 0x00, 0x01]); // PUBCOMP 1
        assert!(matches!(events(&mut c, now)[..], [Event::Delivered(ref d)] if d.packet_id == 1));
        // A PUBREC for nothing still gets a PUBREL (5.0 §4.3.3).
        feed(&mut c, &[0x50, 0x02, 0x00, 0x07]);
        events(&mut c, now);
        assert_eq!(take(&mut c, now), [0x62, 0x02, 0x00, 0x07]);
    }

    #[test]
    fn incoming_qos1_and_qos2_are_acknowledged_and_delivered_once() {
        let (mut c, now) = connected(ProtocolVersion::V311, &CONNACK_311);
        feed(
            &mut c,
            &[
                0x32, 0x06, 0x00, 0x01, b't', 0x00, 0x05, b'x', // PUBLISH q1 id 5
                0x34, 0x06, 0x00, 0x01, b't', 0x00, 0x06, b'y', // PUBLISH q2 id 6
                0x3C, 0x06, 0x00, 0x01, b't', 0x00, 0x06, b'y', // again, DUP
            ],
        );
        let evs = events(&mut c, now);
        assert!(matches!(&evs[..], [Event::Message(p)] if &p.payload[..] == b"x"));
        assert_eq!(
            take(&mut c, now),
            [
                0x40, 0x02, 0x00, 0x05, 0x50, 0x02, 0x00, 0x06, 0x50, 0x02, 0x00, 0x06
            ]
        );
        // PUBREL 6 delivers the held message and is answered with PUBCOMP 6.
        feed(&mut c, &[0x62, 0x02, 0x00, 0x06, 0x62, 0x02, 0x00, 0x06]);
        let evs = events(&mut c, now);
        assert!(matches!(&evs[..], [Event::Message(p)] if &p.payload[..] == b"y"));
        assert_eq!(
            take(&mut c, now),
            [0x70, 0x02, 0x00, 0x06, 0x70, 0x02, 0x00, 0x06]
        );
    }

    #[test]
    fn keepalive_pings_and_times_out() {
        let (mut c, t0) = connected(ProtocolVersion::V311, &CONNACK_311);
        let due = c.next_timeout().unwrap();
        assert_eq!(due, t0 + Duration::from_secs(10));
        c.on_timeout(due - Duration::from_secs(1)).unwrap();
        assert!(c.pending().is_empty());
        c.on_timeout(due).unwrap();
        assert_eq!(take(&mut c, due), [0xC0, 0x00]); // PINGREQ
        feed(&mut c, &[0xD0, 0x00]); // PINGRESP
        events(&mut c, due);
        let next = c.next_timeout().unwrap();
        c.on_timeout(next).unwrap();
        take(&mut c, next);
        // No PINGRESP this time.
        let last = c.next_timeout().unwrap();
        assert!(matches!(c.on_timeout(last), Err(Error::KeepaliveTimeout)));
    }

    #[test]
    fn server_keep_alive_overrides_ours() {
        // CONNACK v5 with Server Keep Alive 3 (5.0 §3.2.2.3.14).
        let (c, now) = connected(
            ProtocolVersion::V5,
            &[0x20, 0x06, 0x00, 0x00, 0x03, 0x13, 0x00, 0x03],
        );
        assert_eq!(c.next_timeout(), Some(now + Duration::from_secs(3)));
    }

    #[test]
    fn topic_alias_sent_once_per_connection() {
        let (mut c, now) = connected(ProtocolVersion::V5, &[0x20, 0x03, 0x00, 0x00, 0x00]);
        let mut m = msg(QoS::AtMostOnce, "a", b"1");
        m.properties
            .push(PropertyId::TopicAlias, PropertyValue::TwoByte(1));
        c.publish(m.clone()).ok().unwrap();
        c.publish(m.clone()).ok().unwrap();
        assert_eq!(
            take(&mut c, now),
            [
                0x30, 0x08, 0x00, 0x01, b'a', 0x03, 0x23, 0x00, 0x01,
                b'1', // topic "a", alias 1
                0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, b'1', // empty topic, alias 1
            ]
        );
        // A new connection sets the alias up again.
        c.connect(&connect_packet(ProtocolVersion::V5, 0), now)
            .unwrap();
        take(&mut c, now);
        feed(&mut c, &[0x20, 0x03, 0x00, 0x00, 0x00]);
        events(&mut c, now);
        c.publish(m).ok().unwrap();
        assert_eq!(take(&mut c, now)[2..5], [0x00, 0x01, b'a']);
    }

    #[test]
    fn incoming_topic_alias_is_resolved() {
        let (mut c, now) = connected(ProtocolVersion::V5, &[0x20, 0x03, 0x00, 0x00, 0x00]);
        feed(
            &mut c,
            &[
                0x30, 0x09, 0x00, 0x02, b'a', b'b', 0x03, 0x23, 0x00, 0x07,
                b'1', // "ab", alias 7
                0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x07, b'2', // "", alias 7
            ],
        );
        let evs = events(&mut c, now);
        let topics: Vec<&str> = evs
            .iter()
            .map(|e| match e {
                Event::Message(p) => p.topic.as_str(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(topics, ["ab", "ab"]);
        // An alias never set is a protocol error.
        feed(
            &mut c,
            &[0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x09, b'3'],
        );
        assert!(matches!(c.poll_event(now), Err(Error::Protocol(_))));
    }

    #[test]
    fn resumed_session_resends_publish_with_dup_and_pubrel_in_order() {
        let (mut c, now) = connected(ProtocolVersion::V311, &CONNACK_311);
        c.publish(msg(QoS::AtLeastOnce, "t", b"a")).ok().unwrap();
        c.publish(msg(QoS::ExactlyOnce, "t", b"b")).ok().unwrap();
        c.publish(msg(QoS::ExactlyOnce, "t", b"c")).ok().unwrap();
        take(&mut c, now);
        feed(&mut c, &[0x50, 0x02, 0x00, 0x02]); // PUBREC 2
        events(&mut c, now);
        c.lost();
        c.connect(&connect_packet(ProtocolVersion::V311, 10), now)
            .unwrap();
        take(&mut c, now);
        feed(&mut c, &[0x20, 0x02, 0x01, 0x00]); // session present
        events(&mut c, now);
        assert_eq!(
            take(&mut c, now),
            [
                0x3A, 0x06, 0x00, 0x01, b't', 0x00, 0x01, b'a', // PUBLISH DUP q1 id 1
                0x62, 0x02, 0x00, 0x02, // PUBREL 2
                0x3C, 0x06, 0x00, 0x01, b't', 0x00, 0x03, b'c', // PUBLISH DUP q2 id 3
            ]
        );
        // Without the session, message 2 is published again instead.
        c.lost();
        c.connect(&connect_packet(ProtocolVersion::V311, 10), now)
            .unwrap();
        take(&mut c, now);
        feed(&mut c, &CONNACK_311);
        events(&mut c, now);
        let resent = take(&mut c, now);
        assert_eq!(
            resent[8..16],
            [0x3C, 0x06, 0x00, 0x01, b't', 0x00, 0x02, b'b']
        );
    }

    #[test]
    fn subscribe_ids_share_the_space_and_server_disconnect_ends() {
        let (mut c, now) = connected(ProtocolVersion::V5, &[0x20, 0x03, 0x00, 0x00, 0x00]);
        c.publish(msg(QoS::AtLeastOnce, "t", b"a")).ok().unwrap();
        let filter = SubscribeFilter {
            filter: "f".into(),
            options: SubscriptionOptions::default(),
        };
        assert_eq!(c.subscribe(vec![filter], Properties::new()).unwrap(), 2);
        take(&mut c, now);
        feed(&mut c, &[0x90, 0x04, 0x00, 0x02, 0x00, 0x00]); // SUBACK 2, QoS 0
        assert!(matches!(events(&mut c, now)[..], [Event::SubAck(ref a)] if a.packet_id == 2));
        feed(&mut c, &[0xE0, 0x02, 0x8B, 0x00]); // DISCONNECT, server shutting down
        match c.poll_event(now) {
            Err(Error::Disconnected(d)) => assert_eq!(d.reason, ReasonCode::SERVER_SHUTTING_DOWN),
            other => panic!("expected DISCONNECT, got {other:?}"),
        }
    }

    #[test]
    fn malformed_input_is_an_error_and_disconnect_stops_sending() {
        let (mut c, now) = connected(ProtocolVersion::V311, &CONNACK_311);
        c.disconnect(ReasonCode::NORMAL_DISCONNECTION, Properties::new())
            .unwrap();
        assert_eq!(take(&mut c, now), [0xE0, 0x00]);
        assert!(matches!(
            c.publish(msg(QoS::AtMostOnce, "t", b"x")),
            Err(PublishError::NotConnected(_))
        ));
        feed(&mut c, &[0x00, 0x00]); // packet type 0 is reserved
        assert!(matches!(c.poll_event(now), Err(Error::Malformed(_))));
    }

    #[derive(Default)]
    struct Log(Rc<RefCell<Vec<String>>>);

    impl Trace for Log {
        fn packet(&mut self, dir: Dir, p: &Packet) {
            self.0.borrow_mut().push(format!("{dir:?} {}", p.name()));
        }
        fn publish(&mut self, i: &PublishInfo<'_>) {
            self.0
                .borrow_mut()
                .push(format!("Sent PUBLISH {} '{}'", i.packet_id, i.topic));
        }
    }

    #[test]
    fn the_trace_sees_every_packet() {
        let now = Instant::now();
        let lines = Rc::new(RefCell::new(Vec::new()));
        let mut c = Conn::new(Options::new(ProtocolVersion::V311), now);
        c.set_trace(Box::new(Log(lines.clone())));
        c.connect(&connect_packet(ProtocolVersion::V311, 10), now)
            .unwrap();
        feed(&mut c, &CONNACK_311);
        events(&mut c, now);
        c.publish(msg(QoS::AtLeastOnce, "t", b"x")).ok().unwrap();
        feed(&mut c, &[0x40, 0x02, 0x00, 0x01]);
        feed(&mut c, &[0x30, 0x04, 0x00, 0x01, b't', b'z']);
        events(&mut c, now);
        assert_eq!(
            *lines.borrow(),
            [
                "Sent CONNECT",
                "Received CONNACK",
                "Sent PUBLISH 1 't'",
                "Received PUBACK",
                "Received PUBLISH"
            ]
        );
    }
}
