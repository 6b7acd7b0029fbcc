//! One client connection over any transport (`BoxedStream`): the CONNECT exchange, then a
//! reader loop (decode in batches, handle each packet) and a writer task (acks first, then
//! queued messages, encoded into one buffer per write).

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::broker::log::LogType;
use crate::broker::session::{ConnCtl, ConnLink, EndReason, Inflight, Message, OutState, Session};
use crate::broker::shared::{AuthResult, PendingWill, Shared, inflight_limit};
use crate::codec::reason::connack_v3;
use crate::codec::{
    self, ConnAck, Connect, Disconnect, MAX_REMAINING_LENGTH, Packet, Properties, PropertyId,
    PropertyValue, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode,
    SubAck, Subscribe, UnsubAck, Unsubscribe,
};
use crate::topic;
use crate::transport::BoxedStream;

/// Bytes asked of the socket per read: large, so one read carries many small packets.
const READ_CHUNK: usize = 64 * 1024;
/// The writer stops adding messages to one write beyond this many bytes, which bounds
/// the per-connection write buffer.
const WRITE_BATCH: usize = 64 * 1024;
/// Replies waiting for the writer beyond which the reader stops reading: a client that
/// sends but never reads cannot grow the control queue without bound.
const CONTROL_LIMIT: usize = 1024;
/// The longest a publisher's reader waits for subscribers that are behind but reading.
const PRESSURE_WAIT: Duration = Duration::from_millis(200);
/// Topic aliases the broker accepts from v5 clients (CONNACK Topic Alias Maximum).
pub const TOPIC_ALIAS_MAX: u16 = 10;
/// Payloads up to this size are copied out of the read buffer when routed, so a queued
/// small message does not pin a whole 64 KiB read chunk.
const COPY_PAYLOAD_MAX: usize = 64 * 1024;

/// How a connection ended.
#[derive(Debug)]
enum End {
    /// DISCONNECT from the client; `will` for v5 reason codes other than 0x00 (§3.14.4).
    Disconnect {
        will: bool,
    },
    /// The client closed the socket (or it failed) without DISCONNECT.
    Closed,
    /// Nothing received for 1.5 × keep alive (3.1.1 §3.1.2.10, 5.0 §3.1.2.10).
    KeepAlive,
    /// A protocol violation; v5 clients get DISCONNECT with this reason first.
    Protocol(ReasonCode),
    Malformed(codec::Error),
    Kicked(EndReason),
}

/// The per-connection context the reader works with.
struct Conn {
    shared: Arc<Shared>,
    session: Arc<Session>,
    ctl: Arc<ConnCtl>,
    generation: u64,
    version: ProtocolVersion,
    client_id: Arc<str>,
    username: Option<String>,
    keep_alive: u16,
    will: Option<PendingWill>,
    /// Inbound topic aliases (5.0 §3.3.2.3.4): alias → topic, for this connection only.
    aliases: HashMap<u16, String>,
    max_packet: usize,
    /// v5 Session Expiry Interval from CONNECT, which DISCONNECT may change (§3.14.2.2.2).
    session_expiry: u32,
    /// The client's Maximum Packet Size and Topic Alias Maximum, for the writer.
    client_max_packet: usize,
    client_alias_max: u16,
    /// Subscribers' connections whose queues went over their limit while they keep up;
    /// the reader waits for them before reading more (see `Enqueued::Backpressure`).
    pressure: Vec<(Arc<Session>, Arc<ConnCtl>)>,
}

fn max_packet(shared: &Shared) -> usize {
    match shared.config.max_packet_size {
        0 => MAX_REMAINING_LENGTH + 5,
        n => n as usize,
    }
}

fn proto_tag(v: ProtocolVersion) -> u8 {
    match v {
        ProtocolVersion::V31 => 1,
        ProtocolVersion::V311 => 2,
        ProtocolVersion::V5 => 5,
    }
}

/// Serves one accepted connection until it ends. `port` names the listener for logs.
pub async fn serve(shared: Arc<Shared>, stream: BoxedStream, peer: String, port: String) {
    shared.log(
        LogType::Notice,
        format_args!("New connection from {peer} on port {port}."),
    );
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let max = max_packet(&shared);

    // 3.1.1 §3.1.0 / 5.0 §3.1: the first packet must be CONNECT, within connect_timeout.
    let mut shutdown = shared.shutdown.clone();
    let first = tokio::select! {
        r = tokio::time::timeout(shared.config.connect_timeout, read_one(&mut rd, &mut buf, max)) => r,
        _ = shutdown.changed() => return,
    };
    let connect = match first {
        Err(_) => {
            shared.log(
                LogType::Notice,
                format_args!("Client <unknown> has exceeded timeout, disconnecting."),
            );
            return;
        }
        Ok(Err(ReadError::Io)) => return,
        Ok(Err(ReadError::Codec(codec::Error::UnsupportedProtocol { level, .. }))) => {
            // mosquitto answers an unknown protocol level with a 3.x CONNACK, return
            // code 1, whatever level was asked for (3.1.1 §3.1.2.2).
            shared.log(
                LogType::Information,
                format_args!("Client <unknown> using unsupported protocol version {level} ({peer}), disconnecting."),
            );
            let _ = wr
                .write_all(&[0x20, 0x02, 0x00, connack_v3::UNACCEPTABLE_PROTOCOL_VERSION])
                .await;
            let _ = wr.flush().await;
            return;
        }
        Ok(Err(ReadError::Codec(e))) => {
            shared.log(
                LogType::Notice,
                format_args!(
                    "Client <unknown> ({peer}) disconnected due to malformed packet: {e}."
                ),
            );
            return;
        }
        Ok(Ok(Packet::Connect(c))) => c,
        Ok(Ok(_)) => {
            // Anything else first is a protocol error (3.1.1 §3.1.0-1): close.
            shared.log(
                LogType::Notice,
                format_args!("Client <unknown> ({peer}) sent a packet other than CONNECT first, disconnecting."),
            );
            return;
        }
    };

    let Some(conn) = accept_connect(&shared, connect, &peer, &mut wr).await else {
        return;
    };
    let conn_writer = Writer::new(&conn, &shared);
    let writer = tokio::spawn(conn_writer.run(wr));
    conn.run(rd, buf, writer).await;
}

enum ReadError {
    Io,
    Codec(codec::Error),
}

async fn read_one(
    rd: &mut ReadHalf<BoxedStream>,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Packet, ReadError> {
    loop {
        // CONNECT reads its own protocol version; the one passed here is unused.
        match codec::decode(buf, ProtocolVersion::V311, max) {
            Ok(Some(p)) => return Ok(p),
            Ok(None) => {}
            Err(e) => return Err(ReadError::Codec(e)),
        }
        buf.reserve(READ_CHUNK);
        match rd.read_buf(buf).await {
            Ok(0) | Err(_) => return Err(ReadError::Io),
            Ok(_) => {}
        }
    }
}

/// `auto-XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`, like mosquitto's assigned ids.
fn assign_client_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: fall back to time, still unique enough per broker.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = t.to_le_bytes();
    }
    let h: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "auto-{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Writes a refusing CONNACK directly (no writer task exists yet) and gives up.
async fn refuse(
    wr: &mut WriteHalf<BoxedStream>,
    version: ProtocolVersion,
    code_v3: u8,
    code_v5: ReasonCode,
) {
    let code = if version == ProtocolVersion::V5 {
        code_v5.0
    } else {
        code_v3
    };
    let p = Packet::ConnAck(ConnAck {
        session_present: false,
        code,
        properties: Properties::new(),
    });
    let mut out = BytesMut::new();
    if codec::encode(&p, version, &mut out).is_ok() {
        let _ = wr.write_all(&out).await;
        let _ = wr.flush().await;
    }
}

/// Will from CONNECT, as a message ready to route (3.1.1 §3.1.2.5, 5.0 §3.1.3.2).
fn pending_will(c: &Connect) -> Option<PendingWill> {
    let w = c.will.as_ref()?;
    let mut properties = w.properties.clone();
    let delay = properties
        .get_int(PropertyId::WillDelayInterval)
        .unwrap_or(0);
    let expiry = properties.get_int(PropertyId::MessageExpiryInterval);
    properties.remove(PropertyId::WillDelayInterval);
    properties.remove(PropertyId::MessageExpiryInterval);
    Some(PendingWill {
        msg: Message {
            topic: w.topic.clone(),
            payload: w.payload.clone(),
            qos: w.qos,
            retain: w.retain,
            properties,
            expires: None,
            origin: None,
        },
        delay,
        expiry,
        username: c.username.as_deref().map(Arc::from),
    })
}

async fn accept_connect(
    shared: &Arc<Shared>,
    c: Connect,
    peer: &str,
    wr: &mut WriteHalf<BoxedStream>,
) -> Option<Conn> {
    let v = c.version;
    let v5 = v == ProtocolVersion::V5;
    let mut assigned = false;
    let client_id: String = if c.client_id.is_empty() {
        // 3.1 requires an id; 3.1.1 allows an empty one only with clean session
        // (3.1.1 §3.1.3-8); 5.0 always assigns one (§3.1.3.1).
        if v == ProtocolVersion::V31 || (v == ProtocolVersion::V311 && !c.clean_start) {
            shared.log(
                LogType::Notice,
                format_args!("New client connected from {peer} with an empty client id, refused."),
            );
            refuse(
                wr,
                v,
                connack_v3::IDENTIFIER_REJECTED,
                ReasonCode::CLIENT_IDENTIFIER_NOT_VALID,
            )
            .await;
            return None;
        }
        assigned = true;
        assign_client_id()
    } else {
        c.client_id.clone()
    };

    if v5 && c.properties.get(PropertyId::AuthenticationMethod).is_some() {
        // No enhanced authentication methods are supported (5.0 §4.12).
        refuse(wr, v, 0, ReasonCode::BAD_AUTHENTICATION_METHOD).await;
        return None;
    }
    if let Some(w) = &c.will
        && topic::validate_name(&w.topic).is_err()
    {
        refuse(wr, v, 0, ReasonCode::TOPIC_NAME_INVALID).await;
        return None;
    }

    match shared.authenticate(&client_id, c.username.as_deref(), c.password.as_deref()) {
        AuthResult::Allowed => {}
        AuthResult::NotAuthorized => {
            shared.log(
                LogType::Notice,
                format_args!("Client {client_id} from {peer} disconnected, not authorised."),
            );
            refuse(
                wr,
                v,
                connack_v3::NOT_AUTHORIZED,
                ReasonCode::NOT_AUTHORIZED,
            )
            .await;
            return None;
        }
        AuthResult::BadCredentials => {
            shared.log(
                LogType::Notice,
                format_args!(
                    "Client {client_id} from {peer} disconnected, bad user name or password."
                ),
            );
            refuse(
                wr,
                v,
                connack_v3::BAD_USERNAME_OR_PASSWORD,
                ReasonCode::BAD_USER_NAME_OR_PASSWORD,
            )
            .await;
            return None;
        }
    }

    // 3.x: clean session 0 keeps the session forever (mosquitto's
    // persistent_client_expiration default); 5.0: Session Expiry Interval, default 0.
    let session_expiry = if v5 {
        c.properties
            .get_int(PropertyId::SessionExpiryInterval)
            .unwrap_or(0)
    } else if c.clean_start {
        0
    } else {
        u32::MAX
    };
    let client_receive_max = c
        .properties
        .get_int(PropertyId::ReceiveMaximum)
        .unwrap_or(65535)
        .max(1) as usize;
    let window = inflight_limit(&shared.config).min(client_receive_max);

    let client_id: Arc<str> = client_id.into();
    let ctl = Arc::new(ConnCtl::default());
    let mut replaced = None;
    let (session, present, generation) = {
        let mut map = shared.sessions.lock();
        let existing = map.get(&client_id).cloned();
        if let Some(s) = &existing {
            let st = s.state.lock();
            if let Some(old) = &st.conn {
                // 3.1.1 §3.1.4-2, 5.0 §3.1.4-3: the new connection takes over.
                shared.log(
                    LogType::Information,
                    format_args!("Client {client_id} already connected, closing old connection."),
                );
                old.ctl.kick(EndReason::TakenOver);
            }
        }
        let (session, present) = match existing {
            Some(s) if !c.clean_start => (s, true),
            other => {
                replaced = other;
                let s = Arc::new(Session::new(Arc::clone(&client_id)));
                map.insert(Arc::clone(&client_id), Arc::clone(&s));
                (s, false)
            }
        };
        let mut st = session.state.lock();
        st.generation += 1;
        st.conn = Some(ConnLink {
            version: v,
            ctl: Arc::clone(&ctl),
        });
        st.username = c.username.as_deref().map(Arc::from);
        st.expiry_interval = session_expiry;
        st.window = window;
        st.dropping = false;
        for f in st.inflight.iter_mut() {
            f.needs_send = true;
        }
        let g = st.generation;
        drop(st);
        (session, present, g)
    };
    if let Some(old) = replaced {
        // Clean start discards the old session (3.1.1 §3.1.2.4, 5.0 §3.1.2.4).
        shared.drop_subscriptions(&old);
    }
    shared.stats.connected.fetch_add(1, Ordering::Relaxed);

    match &c.username {
        Some(u) => shared.log(
            LogType::Notice,
            format_args!(
                "New client connected from {peer} as {client_id} (p{}, c{}, k{}, u'{u}').",
                proto_tag(v),
                u8::from(c.clean_start),
                c.keep_alive
            ),
        ),
        None => shared.log(
            LogType::Notice,
            format_args!(
                "New client connected from {peer} as {client_id} (p{}, c{}, k{}).",
                proto_tag(v),
                u8::from(c.clean_start),
                c.keep_alive
            ),
        ),
    }
    let will = pending_will(&c);
    if shared.log.enabled(LogType::Debug) {
        match &c.will {
            None => shared.log(LogType::Debug, format_args!("No will message specified.")),
            Some(w) => {
                shared.log(
                    LogType::Debug,
                    format_args!(
                        "Will message specified ({} bytes) (r{}, q{}).",
                        w.payload.len(),
                        u8::from(w.retain),
                        w.qos as u8
                    ),
                );
                shared.log(LogType::Debug, format_args!("\t{}", w.topic));
            }
        }
        shared.log(
            LogType::Debug,
            format_args!("Sending CONNACK to {client_id} ({}, 0)", u8::from(present)),
        );
    }

    let mut props = Properties::new();
    if v5 {
        if assigned {
            props.push(
                PropertyId::AssignedClientIdentifier,
                PropertyValue::String(client_id.to_string()),
            );
        }
        // Same order as mosquitto 2.0: Topic Alias Maximum, then Receive Maximum.
        props.push(
            PropertyId::TopicAliasMaximum,
            PropertyValue::TwoByte(TOPIC_ALIAS_MAX),
        );
        let rm = inflight_limit(&shared.config);
        if rm < 65535 {
            props.push(
                PropertyId::ReceiveMaximum,
                PropertyValue::TwoByte(rm as u16),
            );
        }
        if shared.config.max_packet_size > 0 {
            props.push(
                PropertyId::MaximumPacketSize,
                PropertyValue::FourByte(shared.config.max_packet_size),
            );
        }
    }
    // CONNACK goes first: the writer sends control packets before queued messages.
    ctl.send(Packet::ConnAck(ConnAck {
        session_present: present,
        code: 0,
        properties: props,
    }));

    Some(Conn {
        shared: Arc::clone(shared),
        session,
        ctl,
        generation,
        version: v,
        client_id,
        username: c.username.clone(),
        keep_alive: c.keep_alive,
        will,
        aliases: HashMap::new(),
        max_packet: max_packet(shared),
        session_expiry,
        client_max_packet: c
            .properties
            .get_int(PropertyId::MaximumPacketSize)
            .map_or(usize::MAX, |n| n as usize),
        client_alias_max: c
            .properties
            .get_int(PropertyId::TopicAliasMaximum)
            .map_or(0, |n| n.min(u32::from(u16::MAX)) as u16),
        pressure: Vec::new(),
    })
}

impl Conn {
    /// One `log_type debug` line. `Log::log` checks the type before formatting, and
    /// `format_args!` formats nothing by itself, so callers need no guard.
    fn log_debug(&self, msg: std::fmt::Arguments<'_>) {
        self.shared.log(LogType::Debug, msg);
    }

    async fn run(
        mut self,
        mut rd: ReadHalf<BoxedStream>,
        mut buf: BytesMut,
        writer: tokio::task::JoinHandle<()>,
    ) {
        let end = self.read_loop(&mut rd, &mut buf).await;
        self.finish(end, writer).await;
    }

    async fn read_loop(&mut self, rd: &mut ReadHalf<BoxedStream>, buf: &mut BytesMut) -> End {
        let ka = match self.keep_alive {
            0 => None,
            // 1.5 × keep alive (3.1.1 §3.1.2.10, 5.0 §3.1.2.10).
            k => Some(Duration::from_millis(u64::from(k) * 1500)),
        };
        let sleep = tokio::time::sleep(ka.unwrap_or(Duration::from_secs(86400)));
        tokio::pin!(sleep);
        let mut shutdown = self.shared.shutdown.clone();
        if *shutdown.borrow() {
            return End::Kicked(EndReason::Shutdown);
        }
        loop {
            // Every complete packet in the buffer, then read more.
            loop {
                match codec::decode(buf, self.version, self.max_packet) {
                    Ok(Some(p)) => {
                        if let Some(end) = self.handle(p) {
                            return end;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return End::Malformed(e),
                }
            }
            if !self.pressure.is_empty()
                && let Some(end) = self.relieve_pressure().await
            {
                return end;
            }
            if self.ctl.control.lock().len() > CONTROL_LIMIT {
                // Backpressure: stop reading until the writer catches up.
                let drained = self.ctl.drained.notified();
                tokio::pin!(drained);
                drained.as_mut().enable();
                if self.ctl.control.lock().len() > CONTROL_LIMIT {
                    tokio::select! {
                        _ = drained => {}
                        // A client that sends but never reads is not kept forever.
                        _ = &mut sleep, if ka.is_some() => return End::KeepAlive,
                        _ = self.ctl.kick.notified() => {
                            return End::Kicked(self.ctl.kicked().unwrap_or(EndReason::WriteError));
                        }
                        _ = shutdown.changed() => return End::Kicked(EndReason::Shutdown),
                    }
                    continue;
                }
            }
            if buf.capacity() - buf.len() < READ_CHUNK / 8 {
                buf.reserve(READ_CHUNK);
            }
            tokio::select! {
                r = rd.read_buf(buf) => match r {
                    Ok(0) | Err(_) => return End::Closed,
                    Ok(_) => {
                        if let Some(ka) = ka {
                            sleep.as_mut().reset(tokio::time::Instant::now() + ka);
                        }
                    }
                },
                _ = &mut sleep, if ka.is_some() => return End::KeepAlive,
                _ = self.ctl.kick.notified() => {
                    return End::Kicked(self.ctl.kicked().unwrap_or(EndReason::WriteError));
                }
                _ = shutdown.changed() => return End::Kicked(EndReason::Shutdown),
            }
        }
    }

    /// Waits (at most `PRESSURE_WAIT`) until the subscribers this reader overfilled have
    /// caught up, or turn out not to read (their writer is blocked): then their excess is
    /// dropped instead. This slows a publisher to what its subscribers take, as a
    /// single-threaded broker would, without letting a stuck client stall it.
    async fn relieve_pressure(&mut self) -> Option<End> {
        let max = crate::broker::shared::queue_limit(&self.shared.config);
        let deadline = tokio::time::Instant::now() + PRESSURE_WAIT;
        for (session, ctl) in std::mem::take(&mut self.pressure) {
            loop {
                let drained = ctl.drained.notified();
                tokio::pin!(drained);
                drained.as_mut().enable();
                {
                    let mut st = session.state.lock();
                    if st.queue.len() < max || st.dropping || ctl.closing.load(Ordering::Acquire) {
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
                    _ = self.ctl.kick.notified() => {
                        return Some(End::Kicked(self.ctl.kicked().unwrap_or(EndReason::WriteError)));
                    }
                }
            }
        }
        None
    }

    /// Handles one packet; `Some` ends the connection.
    fn handle(&mut self, p: Packet) -> Option<End> {
        match p {
            Packet::Publish(p) => self.on_publish(p),
            Packet::PubAck(a) => {
                self.log_debug(format_args!(
                    "Received PUBACK from {} (Mid: {}, RC:{})",
                    self.client_id, a.packet_id, a.reason.0
                ));
                self.complete(a.packet_id, OutState::AwaitPubAck);
                None
            }
            Packet::PubRec(r) => {
                self.log_debug(format_args!(
                    "Received PUBREC from {} (Mid: {})",
                    self.client_id, r.packet_id
                ));
                self.on_pubrec(r);
                None
            }
            Packet::PubComp(c) => {
                self.log_debug(format_args!(
                    "Received PUBCOMP from {} (Mid: {}, RC:{})",
                    self.client_id, c.packet_id, c.reason.0
                ));
                self.complete(c.packet_id, OutState::AwaitPubComp);
                None
            }
            Packet::PubRel(r) => {
                self.on_pubrel(r);
                None
            }
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => {
                self.on_unsubscribe(u);
                None
            }
            Packet::PingReq => {
                self.log_debug(format_args!("Received PINGREQ from {}", self.client_id));
                self.log_debug(format_args!("Sending PINGRESP to {}", self.client_id));
                self.ctl.send(Packet::PingResp);
                None
            }
            Packet::Disconnect(d) => Some(self.on_disconnect(d)),
            // A second CONNECT (3.1.1 §3.1.0-2, 5.0 §3.1.0-2), AUTH without an
            // authentication method (5.0 §4.12), or a packet only servers send.
            Packet::Connect(_)
            | Packet::Auth(_)
            | Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp => Some(End::Protocol(ReasonCode::PROTOCOL_ERROR)),
        }
    }

    fn on_disconnect(&mut self, d: Disconnect) -> End {
        self.log_debug(format_args!("Received DISCONNECT from {}", self.client_id));
        if self.version == ProtocolVersion::V5 {
            if let Some(exp) = d.properties.get_int(PropertyId::SessionExpiryInterval) {
                // 5.0 §3.14.2.2.2: a session that was to end at disconnect cannot be
                // given a lifetime now.
                if self.session_expiry == 0 && exp != 0 {
                    return End::Protocol(ReasonCode::PROTOCOL_ERROR);
                }
                self.session_expiry = exp;
                let mut st = self.session.state.lock();
                if st.generation == self.generation {
                    st.expiry_interval = exp;
                }
            }
            // 5.0 §3.14.4: only reason 0x00 discards the will.
            return End::Disconnect {
                will: d.reason != ReasonCode::NORMAL_DISCONNECTION,
            };
        }
        End::Disconnect { will: false }
    }

    fn on_publish(&mut self, mut p: Publish) -> Option<End> {
        let v5 = self.version == ProtocolVersion::V5;
        if v5 && let Some(alias) = p.properties.get_int(PropertyId::TopicAlias) {
            // 5.0 §3.3.2.3.4: alias 0 or above our maximum is a protocol error (0x94).
            if alias == 0 || alias > u32::from(TOPIC_ALIAS_MAX) {
                return Some(End::Protocol(ReasonCode::TOPIC_ALIAS_INVALID));
            }
            let alias = alias as u16;
            if p.topic.is_empty() {
                match self.aliases.get(&alias) {
                    Some(t) => p.topic = t.clone(),
                    None => return Some(End::Protocol(ReasonCode::PROTOCOL_ERROR)),
                }
            } else {
                self.aliases.insert(alias, p.topic.clone());
            }
            p.properties.remove(PropertyId::TopicAlias);
        }
        self.log_debug(format_args!(
            "Received PUBLISH from {} (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            self.client_id,
            u8::from(p.dup),
            p.qos as u8,
            u8::from(p.retain),
            p.packet_id,
            p.topic,
            p.payload.len()
        ));
        if topic::validate_name(&p.topic).is_err() {
            // 3.1.1 §4.7.3 / 5.0 §3.3.2.1: wildcards or an empty topic in PUBLISH.
            return Some(End::Protocol(ReasonCode::TOPIC_NAME_INVALID));
        }
        self.shared
            .stats
            .messages_received
            .fetch_add(1, Ordering::Relaxed);

        let limit = self.shared.config.message_size_limit;
        let mut reason = ReasonCode::SUCCESS;
        if limit > 0 && p.payload.len() > limit as usize {
            // As mosquitto 2.0 (handle_publish.c): dropped, acked with 0x95.
            self.shared.log(
                LogType::Notice,
                format_args!(
                    "Dropped too large PUBLISH from {} (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
                    self.client_id,
                    u8::from(p.dup),
                    p.qos as u8,
                    u8::from(p.retain),
                    p.packet_id,
                    p.topic,
                    p.payload.len()
                ),
            );
            reason = ReasonCode::PACKET_TOO_LARGE;
        } else if !self
            .shared
            .may_publish(&self.client_id, self.username.as_deref(), &p.topic)
        {
            self.shared.log(
                LogType::Notice,
                format_args!(
                    "Denied PUBLISH from {} (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
                    self.client_id,
                    u8::from(p.dup),
                    p.qos as u8,
                    u8::from(p.retain),
                    p.packet_id,
                    p.topic,
                    p.payload.len()
                ),
            );
            reason = ReasonCode::NOT_AUTHORIZED;
        }

        let mut duplicate = false;
        if p.qos == QoS::ExactlyOnce && reason == ReasonCode::SUCCESS {
            let mut st = self.session.state.lock();
            duplicate = st.inbound_qos2.contains(&p.packet_id);
            if !duplicate {
                // 5.0 §3.3.4: more unacknowledged QoS 2 messages than the Receive Maximum
                // we advertised is a protocol violation (0x93). QoS 1 is acked at once and
                // never counts. 3.x has no such limit; its ids bound the set to 65535.
                if v5 && st.inbound_qos2.len() >= inflight_limit(&self.shared.config) {
                    return Some(End::Protocol(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED));
                }
                st.inbound_qos2.insert(p.packet_id);
            }
        }
        if reason == ReasonCode::SUCCESS && !duplicate {
            let matched = self.route(p.topic.clone(), p.payload.clone(), &p);
            if matched == 0 && v5 {
                // 5.0 §3.4.2.1: 0x10 No matching subscribers.
                reason = ReasonCode::NO_MATCHING_SUBSCRIBERS;
            }
        }
        // 3.x acks have no reason code: a refused message is acked as if delivered
        // (mosquitto does the same).
        let rc = if v5 { reason } else { ReasonCode::SUCCESS };
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                self.log_debug(format_args!(
                    "Sending PUBACK to {} (m{}, rc{})",
                    self.client_id, p.packet_id, rc.0
                ));
                self.ctl.send(Packet::PubAck(PubAck {
                    packet_id: p.packet_id,
                    reason: rc,
                    properties: Properties::new(),
                }));
            }
            QoS::ExactlyOnce => {
                self.log_debug(format_args!(
                    "Sending PUBREC to {} (m{}, rc{})",
                    self.client_id, p.packet_id, rc.0
                ));
                self.ctl.send(Packet::PubRec(PubRec {
                    packet_id: p.packet_id,
                    reason: rc,
                    properties: Properties::new(),
                }));
            }
        }
        None
    }

    /// Builds the routed message from an inbound PUBLISH and fans it out.
    fn route(&mut self, topic: String, payload: Bytes, p: &Publish) -> usize {
        let payload = if payload.len() <= COPY_PAYLOAD_MAX {
            Bytes::copy_from_slice(&payload)
        } else {
            payload
        };
        let mut properties = Properties::new();
        let mut expires = None;
        if self.version == ProtocolVersion::V5 && !p.properties.is_empty() {
            properties = p.properties.clone();
            if let Some(s) = properties.get_int(PropertyId::MessageExpiryInterval) {
                expires = Some(Instant::now() + Duration::from_secs(u64::from(s)));
            }
            // Per delivery, never forwarded as received (5.0 §3.3.2.3).
            properties.remove(PropertyId::MessageExpiryInterval);
            properties.remove(PropertyId::SubscriptionIdentifier);
        }
        let msg = Arc::new(Message {
            topic,
            payload,
            qos: p.qos,
            retain: p.retain,
            properties,
            expires,
            origin: Some(Arc::clone(&self.client_id)),
        });
        self.shared.publish_from(msg, &mut self.pressure)
    }

    fn on_pubrel(&mut self, r: PubRel) {
        self.log_debug(format_args!(
            "Received PUBREL from {} (Mid: {})",
            self.client_id, r.packet_id
        ));
        let known = self.session.state.lock().inbound_qos2.remove(&r.packet_id);
        let reason = if known || self.version != ProtocolVersion::V5 {
            ReasonCode::SUCCESS
        } else {
            ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
        };
        self.log_debug(format_args!(
            "Sending PUBCOMP to {} (m{})",
            self.client_id, r.packet_id
        ));
        self.ctl.send(Packet::PubComp(PubComp {
            packet_id: r.packet_id,
            reason,
            properties: Properties::new(),
        }));
    }

    /// PUBACK or PUBCOMP: the outgoing message's handshake is complete.
    fn complete(&self, packet_id: u16, expect: OutState) {
        let mut st = self.session.state.lock();
        if let Some(i) = st
            .inflight
            .iter()
            .position(|f| f.packet_id == packet_id && f.state == expect)
        {
            st.inflight.remove(i);
            drop(st);
            // The window has room again.
            self.ctl.wake.notify_one();
        }
    }

    fn on_pubrec(&self, r: PubRec) {
        let mut st = self.session.state.lock();
        let pos = st
            .inflight
            .iter()
            .position(|f| f.packet_id == r.packet_id && f.state != OutState::AwaitPubAck);
        match pos {
            Some(i) if r.reason.is_error() => {
                // 5.0 §4.3.3: a failed PUBREC ends the exchange.
                st.inflight.remove(i);
                drop(st);
                self.ctl.wake.notify_one();
            }
            Some(i) => {
                st.inflight[i].state = OutState::AwaitPubComp;
                st.inflight[i].needs_send = true;
                drop(st);
                self.ctl.wake.notify_one();
            }
            None => {
                drop(st);
                let reason = if self.version == ProtocolVersion::V5 {
                    ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
                } else {
                    ReasonCode::SUCCESS
                };
                self.ctl.send(Packet::PubRel(PubRel {
                    packet_id: r.packet_id,
                    reason,
                    properties: Properties::new(),
                }));
            }
        }
    }

    fn on_subscribe(&mut self, s: Subscribe) -> Option<End> {
        let v5 = self.version == ProtocolVersion::V5;
        if self.session.state.lock().generation != self.generation {
            // Taken over: the session now belongs to the new connection (or was
            // discarded by its clean start); this one must not add to it.
            return Some(End::Kicked(EndReason::TakenOver));
        }
        let log = &self.shared;
        log.log(
            LogType::Debug,
            format_args!("Received SUBSCRIBE from {}", self.client_id),
        );
        let sub_id = s
            .properties
            .get_int(PropertyId::SubscriptionIdentifier)
            .filter(|_| v5);
        if sub_id == Some(0) {
            // 5.0 §3.8.2.1.2: 0 is a protocol error.
            return Some(End::Protocol(ReasonCode::PROTOCOL_ERROR));
        }
        let mut reasons = Vec::with_capacity(s.filters.len());
        let mut retained = Vec::new();
        for f in &s.filters {
            log.log(
                LogType::Debug,
                format_args!("\t{} (QoS {})", f.filter, f.options.qos as u8),
            );
            if topic::validate_filter(&f.filter).is_err() {
                if !v5 {
                    // 3.x has no failure code for a malformed filter: mosquitto disconnects.
                    return Some(End::Protocol(ReasonCode::TOPIC_FILTER_INVALID));
                }
                reasons.push(ReasonCode::TOPIC_FILTER_INVALID);
                continue;
            }
            let shared_sub = topic::parse_shared(&f.filter).is_some();
            if shared_sub && f.options.no_local {
                // 5.0 §3.8.3.1: No Local on a shared subscription is a protocol error.
                return Some(End::Protocol(ReasonCode::PROTOCOL_ERROR));
            }
            if !log.may_subscribe(&self.client_id, self.username.as_deref(), &f.filter) {
                reasons.push(if v5 {
                    ReasonCode::NOT_AUTHORIZED
                } else {
                    ReasonCode::UNSPECIFIED_ERROR
                });
                continue;
            }
            log.log(
                LogType::Subscribe,
                format_args!("{} {} {}", self.client_id, f.options.qos as u8, f.filter),
            );
            retained.extend(log.subscribe(&self.session, &f.filter, f.options, sub_id));
            reasons.push(ReasonCode(f.options.qos as u8));
        }
        log.log(
            LogType::Debug,
            format_args!("Sending SUBACK to {}", self.client_id),
        );
        self.ctl.send(Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            properties: Properties::new(),
            reasons,
        }));
        // Retained messages after SUBACK: the writer sends control packets first.
        self.shared.enqueue_all(&self.session, retained);
        None
    }

    fn on_unsubscribe(&mut self, u: Unsubscribe) {
        let shared = &self.shared;
        shared.log(
            LogType::Debug,
            format_args!("Received UNSUBSCRIBE from {}", self.client_id),
        );
        let mut reasons = Vec::with_capacity(u.filters.len());
        for f in &u.filters {
            shared.log(LogType::Debug, format_args!("\t{f}"));
            shared.log(LogType::Unsubscribe, format_args!("{} {f}", self.client_id));
            let existed = shared.unsubscribe(&self.session, f);
            reasons.push(if existed {
                ReasonCode::SUCCESS
            } else {
                ReasonCode::NO_SUBSCRIPTION_EXISTED
            });
        }
        if self.version != ProtocolVersion::V5 {
            reasons.clear();
        }
        shared.log(
            LogType::Debug,
            format_args!("Sending UNSUBACK to {}", self.client_id),
        );
        self.ctl.send(Packet::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            properties: Properties::new(),
            reasons,
        }));
    }

    /// Logs the end, tells a v5 client why, detaches the session, and decides about the
    /// will and the session's life.
    async fn finish(mut self, end: End, mut writer: tokio::task::JoinHandle<()>) {
        let id = &self.client_id;
        let (line, v5_reason, publish_will): (String, Option<ReasonCode>, bool) = match &end {
            End::Disconnect { will } => (format!("Client {id} disconnected."), None, *will),
            End::Closed => (format!("Client {id} closed its connection."), None, true),
            End::KeepAlive => (
                format!("Client {id} has exceeded timeout, disconnecting."),
                Some(ReasonCode::KEEP_ALIVE_TIMEOUT),
                true,
            ),
            End::Protocol(rc) => (
                format!("Client {id} disconnected due to protocol error."),
                Some(*rc),
                true,
            ),
            End::Malformed(e) => (
                format!("Client {id} disconnected due to malformed packet ({e})."),
                Some(e.reason_code()),
                true,
            ),
            End::Kicked(EndReason::TakenOver) => (
                format!("Client {id} disconnected: session taken over."),
                Some(ReasonCode::SESSION_TAKEN_OVER),
                true,
            ),
            // As mosquitto: wills are not published when the broker itself stops.
            End::Kicked(EndReason::Shutdown) => (
                format!("Client {id} disconnected: broker shutting down."),
                Some(ReasonCode::SERVER_SHUTTING_DOWN),
                false,
            ),
            End::Kicked(EndReason::WriteError) => (
                format!("Socket error on client {id}, disconnecting."),
                None,
                true,
            ),
        };
        self.shared.log(LogType::Notice, format_args!("{line}"));
        if self.version == ProtocolVersion::V5
            && let Some(rc) = v5_reason
        {
            self.ctl.send(Packet::Disconnect(Disconnect {
                reason: rc,
                properties: Properties::new(),
            }));
        }
        self.ctl.close_writer();
        // Give the writer a moment to flush the DISCONNECT; a client that does not read
        // must not hold the connection open.
        if tokio::time::timeout(Duration::from_secs(1), &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
        self.shared.stats.connected.fetch_sub(1, Ordering::Relaxed);

        // Detach, unless a newer connection already took the session over.
        let (current, expiry) = {
            let mut st = self.session.state.lock();
            if st.generation == self.generation {
                st.conn = None;
                for f in st.inflight.iter_mut() {
                    f.needs_send = true;
                }
                // Offline sessions keep QoS 1 and 2 only (mosquitto's default
                // `queue_qos0_messages false`), including what was queued before.
                st.queue.retain(|o| o.qos != QoS::AtMostOnce);
                (true, st.expiry_interval)
            } else {
                (false, st.expiry_interval)
            }
        };
        let will = if publish_will { self.will.take() } else { None };
        let session_ends_now = current && expiry == 0;
        if session_ends_now {
            self.shared.end_session(&self.session);
        }
        if let Some(will) = will {
            self.dispatch_will(will, current, session_ends_now, expiry);
        }
        if current && !session_ends_now && expiry != u32::MAX {
            self.spawn_expiry(expiry);
        }
    }

    fn dispatch_will(&self, will: PendingWill, current: bool, session_ended: bool, expiry: u32) {
        if will.delay == 0 || session_ended {
            self.shared.publish_will(&self.client_id, will);
            return;
        }
        if !current {
            // Taken over: the will waits only if the session lives on (§3.1.3.2.2); a
            // clean start ended this session, so the will goes now.
            let still_registered = self
                .shared
                .sessions
                .lock()
                .get(&self.client_id)
                .is_some_and(|s| Arc::ptr_eq(s, &self.session));
            if !still_registered {
                self.shared.publish_will(&self.client_id, will);
            }
            return;
        }
        // 5.0 §3.1.3.2.2: publish after the delay or at session end, whichever is first,
        // unless the client reconnects to the session before.
        let wait = will.delay.min(expiry);
        let shared = Arc::clone(&self.shared);
        let session = Arc::clone(&self.session);
        let generation = self.generation;
        let client_id = Arc::clone(&self.client_id);
        tokio::spawn(async move {
            if !shared
                .sleep_unless_shutdown(Duration::from_secs(u64::from(wait)))
                .await
            {
                return;
            }
            let unchanged = session.state.lock().generation == generation;
            if unchanged {
                shared.publish_will(&client_id, will);
            }
        });
    }

    /// Ends the session after its expiry interval, unless the client came back.
    fn spawn_expiry(&self, expiry: u32) {
        let shared = Arc::clone(&self.shared);
        let session = Arc::clone(&self.session);
        let generation = self.generation;
        tokio::spawn(async move {
            if !shared
                .sleep_unless_shutdown(Duration::from_secs(u64::from(expiry)))
                .await
            {
                return;
            }
            let unchanged = {
                let st = session.state.lock();
                st.generation == generation && st.conn.is_none()
            };
            if unchanged {
                shared.log(
                    LogType::Notice,
                    format_args!("Expiring client {}.", session.client_id),
                );
                shared.end_session(&session);
            }
        });
    }
}

/// The writing half of a connection: control packets first, then resends, then queued
/// messages within the in-flight window, all encoded into one buffer per write.
struct Writer {
    shared: Arc<Shared>,
    session: Arc<Session>,
    ctl: Arc<ConnCtl>,
    generation: u64,
    version: ProtocolVersion,
    client_id: Arc<str>,
    /// The client's Maximum Packet Size (5.0 §3.1.2.11.4): larger packets are not sent.
    client_max_packet: usize,
    /// The client's Topic Alias Maximum (5.0 §3.1.2.11.5) and the aliases handed out.
    alias_max: u16,
    aliases: HashMap<String, u16>,
    buf: BytesMut,
}

impl Writer {
    /// One `log_type debug` line, as `Conn::log_debug`.
    fn log_debug(&self, msg: std::fmt::Arguments<'_>) {
        self.shared.log(LogType::Debug, msg);
    }

    fn new(conn: &Conn, shared: &Arc<Shared>) -> Writer {
        Writer {
            shared: Arc::clone(shared),
            session: Arc::clone(&conn.session),
            ctl: Arc::clone(&conn.ctl),
            generation: conn.generation,
            version: conn.version,
            client_id: Arc::clone(&conn.client_id),
            client_max_packet: conn.client_max_packet,
            alias_max: conn.client_alias_max,
            aliases: HashMap::new(),
            buf: BytesMut::with_capacity(WRITE_BATCH + 1024),
        }
    }

    async fn run(mut self, mut wr: WriteHalf<BoxedStream>) {
        loop {
            let closing = self.ctl.closing.load(Ordering::Acquire);
            self.fill(closing);
            if self.buf.is_empty() {
                if closing {
                    break;
                }
                self.ctl.wake.notified().await;
                continue;
            }
            let r = write_all(&mut wr, &self.buf, &self.ctl).await;
            self.buf.clear();
            if self.buf.capacity() > 4 * WRITE_BATCH {
                // A huge message grew the buffer: give the memory back.
                self.buf = BytesMut::with_capacity(WRITE_BATCH + 1024);
            }
            self.ctl.drained.notify_waiters();
            if r.is_err() {
                self.ctl.kick(EndReason::WriteError);
                return;
            }
        }
        let _ = wr.shutdown().await;
    }

    fn encode(&mut self, p: &Packet) -> bool {
        let start = self.buf.len();
        match codec::encode(p, self.version, &mut self.buf) {
            Ok(()) if self.buf.len() - start <= self.client_max_packet => true,
            Ok(()) => {
                // 5.0 §3.1.2.11.4: never send more than the client accepts; the message
                // is discarded as if delivered.
                self.buf.truncate(start);
                false
            }
            Err(e) => {
                self.buf.truncate(start);
                self.shared.log(
                    LogType::Error,
                    format_args!("Error encoding packet for {}: {e}", self.client_id),
                );
                false
            }
        }
    }

    /// Moves what can be sent now into `buf`. The session lock is held only to take
    /// messages off the queue and book their packet ids, not while encoding.
    fn fill(&mut self, closing: bool) {
        let control: Vec<Packet> = self.ctl.control.lock().drain(..).collect();
        for p in &control {
            self.encode(p);
        }
        if closing {
            return;
        }
        let now = Instant::now();
        let mut resend_rel: Vec<u16> = Vec::new();
        let mut batch: Vec<(crate::broker::session::Outgoing, u16, bool)> = Vec::new();
        {
            let mut st = self.session.state.lock();
            if st.generation != self.generation {
                return;
            }
            // Resends first (5.0 §4.4: in the original order, with DUP).
            for f in st.inflight.iter_mut().filter(|f| f.needs_send) {
                f.needs_send = false;
                match f.state {
                    OutState::AwaitPubComp => resend_rel.push(f.packet_id),
                    _ => batch.push((f.out.clone(), f.packet_id, true)),
                }
            }
            let mut estimate = self.buf.len();
            while estimate < WRITE_BATCH {
                let Some(front) = st.queue.front() else {
                    break;
                };
                if front.msg.expired(now) {
                    // 5.0 §3.3.2.3.3: expired messages are not delivered.
                    st.queue.pop_front();
                    continue;
                }
                if front.qos != QoS::AtMostOnce && st.inflight.len() >= st.window {
                    break;
                }
                let out = st.queue.pop_front().expect("front exists");
                estimate += out.msg.topic.len() + out.msg.payload.len() + 8;
                let pid = match out.qos {
                    QoS::AtMostOnce => 0,
                    q => {
                        let pid = st.alloc_packet_id();
                        st.inflight.push_back(Inflight {
                            packet_id: pid,
                            out: out.clone(),
                            state: if q == QoS::AtLeastOnce {
                                OutState::AwaitPubAck
                            } else {
                                OutState::AwaitPubRec
                            },
                            needs_send: false,
                        });
                        pid
                    }
                };
                batch.push((out, pid, false));
            }
            if st.queue.is_empty() {
                st.dropping = false;
            }
        }
        for pid in resend_rel {
            self.log_debug(format_args!(
                "Sending PUBREL to {} (m{pid})",
                self.client_id
            ));
            self.encode(&Packet::PubRel(PubRel {
                packet_id: pid,
                reason: ReasonCode::SUCCESS,
                properties: Properties::new(),
            }));
        }
        let mut unsent = Vec::new();
        for (out, pid, dup) in &batch {
            if !self.encode_publish(out, *pid, *dup, now) && *pid != 0 {
                unsent.push(*pid);
            }
        }
        if !unsent.is_empty() {
            // Too large for the client: discarded as if delivered (5.0 §3.1.2.11.4).
            self.session
                .state
                .lock()
                .inflight
                .retain(|f| !unsent.contains(&f.packet_id));
        }
    }

    /// Encodes one PUBLISH; false when it was not sent (too large for the client).
    fn encode_publish(
        &mut self,
        out: &crate::broker::session::Outgoing,
        packet_id: u16,
        dup: bool,
        now: Instant,
    ) -> bool {
        let m = &out.msg;
        let mut properties = Properties::new();
        let mut topic = m.topic.clone();
        let mut new_alias = false;
        if self.version == ProtocolVersion::V5 {
            properties = m.properties.clone();
            if let Some(e) = m.expires {
                // Send what is left of the interval (5.0 §3.3.2.3.3), rounded up.
                let left = e.saturating_duration_since(now);
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                properties.push(
                    PropertyId::MessageExpiryInterval,
                    PropertyValue::FourByte(secs.min(u64::from(u32::MAX)) as u32),
                );
            }
            for id in &out.sub_ids {
                properties.push(
                    PropertyId::SubscriptionIdentifier,
                    PropertyValue::VarInt(*id),
                );
            }
            if self.alias_max > 0 {
                // Outbound topic aliases (5.0 §3.3.2.3.4): one per topic until the client's
                // maximum; then full topics.
                if let Some(a) = self.aliases.get(&topic) {
                    properties.push(PropertyId::TopicAlias, PropertyValue::TwoByte(*a));
                    topic = String::new();
                } else if self.aliases.len() < usize::from(self.alias_max) {
                    let a = self.aliases.len() as u16 + 1;
                    self.aliases.insert(topic.clone(), a);
                    new_alias = true;
                    properties.push(PropertyId::TopicAlias, PropertyValue::TwoByte(a));
                }
            }
        }
        self.log_debug(format_args!(
            "Sending PUBLISH to {} (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            self.client_id,
            u8::from(dup),
            out.qos as u8,
            u8::from(out.retain),
            packet_id,
            m.topic,
            m.payload.len()
        ));
        let sent = self.encode(&Packet::Publish(Publish {
            dup,
            qos: out.qos,
            retain: out.retain,
            topic,
            packet_id,
            properties,
            payload: m.payload.clone(),
        }));
        if !sent && new_alias {
            // The client never saw this alias: do not rely on it later.
            self.aliases.remove(&m.topic);
        }
        if sent {
            self.shared
                .stats
                .messages_sent
                .fetch_add(1, Ordering::Relaxed);
        }
        sent
    }
}

/// Writes everything, noting in `ctl.blocked` when the socket is full (the client is
/// not keeping up), so publishers stop waiting for this connection.
async fn write_all(wr: &mut WriteHalf<BoxedStream>, buf: &[u8], ctl: &ConnCtl) -> io::Result<()> {
    let mut off = 0;
    while off < buf.len() {
        let n = std::future::poll_fn(|cx| {
            match std::pin::Pin::new(&mut *wr).poll_write(cx, &buf[off..]) {
                std::task::Poll::Pending => {
                    ctl.set_blocked();
                    ctl.drained.notify_waiters();
                    std::task::Poll::Pending
                }
                r => r,
            }
        })
        .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        off += n;
    }
    ctl.blocked_since.store(0, Ordering::Release);
    // TLS and WebSocket layers buffer: push the bytes out.
    wr.flush().await
}
