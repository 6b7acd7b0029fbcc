//! The first packet of a connection: CONNECT checks, authentication, attaching to the
//! session (taking it over from an older connection) and CONNACK — or a refusal, with
//! the CONNACK to write before closing, encoded by the codec.
//!
//! The order of the checks, and each log line, follow mosquitto 2.0 (`handle_connect.c`),
//! which the integration tests compare against.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::BytesMut;

use crate::broker::config::Config;
use crate::broker::log::LogType;
use crate::broker::server::hub::{Attach, Hub};
use crate::broker::server::{ServerSession, TOPIC_ALIAS_MAX};
use crate::broker::session::{ConnCtl, ConnLink, Message};
use crate::broker::shared::{AuthResult, PendingWill, inflight_limit};
use crate::codec::reason::connack_v3;
use crate::codec::{
    self, ConnAck, Connect, Packet, Properties, PropertyId, PropertyValue, ProtocolVersion,
    ReasonCode,
};
use crate::topic;

/// What the broker does with the first packet of a connection.
// Made once per connection and unpacked at once: boxing the session would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
pub enum Opening<H> {
    /// CONNECT accepted; CONNACK is already on the session's control queue.
    Accepted(ServerSession<H>),
    /// Refused: write `reply` (a CONNACK), if there is one, then close.
    Refused { reply: Option<BytesMut> },
}

/// A refused CONNECT: the CONNACK code for 3.x and for 5.0 clients.
struct Refusal {
    v3: u8,
    v5: ReasonCode,
}

impl Refusal {
    const fn new(v3: u8, v5: ReasonCode) -> Refusal {
        Refusal { v3, v5 }
    }

    /// A 3.x refusal without a CONNACK code of its own (`v3` 0, which would read as
    /// "accepted") closes the connection with no reply, as mosquitto does for a
    /// protocol error in CONNECT (an invalid will topic, for one).
    fn into_opening<H>(self, version: ProtocolVersion) -> Opening<H> {
        let reply = match version {
            ProtocolVersion::V5 => connack(version, self.v5.0),
            _ if self.v3 == 0 => None,
            _ => connack(version, self.v3),
        };
        Opening::Refused { reply }
    }
}

/// A CONNACK without properties, encoded for `version`.
fn connack(version: ProtocolVersion, code: u8) -> Option<BytesMut> {
    let p = Packet::ConnAck(ConnAck {
        session_present: false,
        code,
        properties: Properties::new(),
    });
    let mut out = BytesMut::new();
    codec::encode(&p, version, &mut out).ok().map(|()| out)
}

/// The client sent nothing usable within `connect_timeout`.
pub fn timed_out<H: Hub>(hub: &H) {
    hub.log(
        LogType::Notice,
        format_args!("Client <unknown> has exceeded timeout, disconnecting."),
    );
}

/// Decides about the first packet (or the codec's error for it). 3.1.1 §3.1.0 /
/// 5.0 §3.1: it must be CONNECT.
pub fn open<H: Hub>(hub: &Arc<H>, first: Result<Packet, codec::Error>, peer: &str) -> Opening<H> {
    match first {
        Ok(Packet::Connect(c)) => accept(hub, c, peer),
        Err(codec::Error::UnsupportedProtocol { level, .. }) => {
            // mosquitto answers an unknown protocol level with a 3.x CONNACK, return
            // code 1, whatever level was asked for (3.1.1 §3.1.2.2).
            hub.log(
                LogType::Information,
                format_args!("Client <unknown> using unsupported protocol version {level} ({peer}), disconnecting."),
            );
            Opening::Refused {
                reply: connack(
                    ProtocolVersion::V311,
                    connack_v3::UNACCEPTABLE_PROTOCOL_VERSION,
                ),
            }
        }
        Err(e) => {
            hub.log(
                LogType::Notice,
                format_args!(
                    "Client <unknown> ({peer}) disconnected due to malformed packet: {e}."
                ),
            );
            Opening::Refused { reply: None }
        }
        Ok(_) => {
            // Anything else first is a protocol error (3.1.1 §3.1.0-1): close.
            hub.log(
                LogType::Notice,
                format_args!("Client <unknown> ({peer}) sent a packet other than CONNECT first, disconnecting."),
            );
            Opening::Refused { reply: None }
        }
    }
}

fn accept<H: Hub>(hub: &Arc<H>, c: Connect, peer: &str) -> Opening<H> {
    let v = c.version;
    let (client_id, assigned) = match admit(&**hub, &c, peer) {
        Ok(id) => id,
        Err(refusal) => return refusal.into_opening(v),
    };
    let session_expiry = match (
        session_expiry(&c),
        hub.config().persistent_client_expiration,
    ) {
        // mosquitto's persistent_client_expiration: sessions that would never expire
        // are removed after this long without their client.
        (u32::MAX, Some(limit)) => limit,
        (e, _) => e,
    };
    let client_receive_max = c
        .properties
        .get_int(PropertyId::ReceiveMaximum)
        .unwrap_or(65535)
        .max(1) as usize;
    let client_id: Arc<str> = client_id.into();
    let ctl = Arc::new(ConnCtl::default());
    let attached = hub.attach(Attach {
        client_id: &client_id,
        clean_start: c.clean_start,
        link: ConnLink {
            version: v,
            ctl: Arc::clone(&ctl),
        },
        username: c.username.as_deref().map(Arc::from),
        expiry: session_expiry,
        window: inflight_limit(hub.config()).min(client_receive_max),
    });
    hub.stats().connected.fetch_add(1, Ordering::Relaxed);
    log_connected(&**hub, &c, peer, &client_id, attached.present);
    // CONNACK goes first: the writer sends control packets before queued messages.
    let keep_alive = server_keep_alive(hub.config(), &c);
    let mut properties = connack_properties(&**hub, v, assigned.then_some(&*client_id));
    if let Some(k) = keep_alive {
        properties.push(PropertyId::ServerKeepAlive, PropertyValue::TwoByte(k));
    }
    ctl.send(Packet::ConnAck(ConnAck {
        session_present: attached.present,
        code: 0,
        properties,
    }));
    Opening::Accepted(ServerSession {
        hub: Arc::clone(hub),
        session: attached.session,
        ctl,
        generation: attached.generation,
        version: v,
        client_id,
        username: c.username.clone(),
        keep_alive: keep_alive.unwrap_or(c.keep_alive),
        will: pending_will(&c).map(Box::new),
        aliases: None,
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

/// The checks before a session is touched, in mosquitto's order: client id, what
/// CONNECT asks for, credentials. Gives the client id and whether it was assigned.
fn admit<H: Hub>(hub: &H, c: &Connect, peer: &str) -> Result<(String, bool), Refusal> {
    let (id, assigned) = client_id(hub, c, peer)?;
    check(c)?;
    authenticate(hub, c, &id, peer)?;
    if server_keep_alive(hub.config(), c).is_some() && c.version != ProtocolVersion::V5 {
        // mosquitto 2.1: a 3.x client has no way to learn a shorter keep alive, so it
        // is refused with "identifier rejected" (mosquitto.conf(5), max_keepalive).
        hub.log(
            LogType::Notice,
            format_args!(
                "Client {id} from {peer} disconnected: keep alive {} is not within max_keepalive {}.",
                c.keep_alive,
                hub.config().max_keepalive
            ),
        );
        return Err(Refusal::new(connack_v3::IDENTIFIER_REJECTED, ReasonCode(0)));
    }
    Ok((id, assigned))
}

/// With `max_keepalive N`, a Keep Alive of 0 (none) or over N is replaced by N, which a v5
/// client learns from CONNACK's Server Keep Alive (5.0 §3.2.2.3.14); `None` when the
/// client's own value stands.
fn server_keep_alive(config: &Config, c: &Connect) -> Option<u16> {
    let max = config.max_keepalive;
    (max > 0 && (c.keep_alive == 0 || c.keep_alive > max)).then_some(max)
}

/// The client id to use, and whether the broker assigned it.
fn client_id<H: Hub>(hub: &H, c: &Connect, peer: &str) -> Result<(String, bool), Refusal> {
    if !c.client_id.is_empty() {
        return Ok((c.client_id.clone(), false));
    }
    // 3.1 requires an id; 3.1.1 allows an empty one only with clean session
    // (3.1.1 §3.1.3-8); 5.0 always assigns one (§3.1.3.1).
    let v = c.version;
    if v == ProtocolVersion::V31
        || (v == ProtocolVersion::V311 && !c.clean_start)
        || !hub.config().allow_zero_length_clientid
    {
        hub.log(
            LogType::Notice,
            format_args!("New client connected from {peer} with an empty client id, refused."),
        );
        return Err(Refusal::new(
            connack_v3::IDENTIFIER_REJECTED,
            ReasonCode::CLIENT_IDENTIFIER_NOT_VALID,
        ));
    }
    Ok((assign_client_id(), true))
}

/// What CONNECT may not ask for, whoever sends it.
fn check(c: &Connect) -> Result<(), Refusal> {
    if c.version == ProtocolVersion::V5
        && c.properties.get(PropertyId::AuthenticationMethod).is_some()
    {
        // No enhanced authentication methods are supported (5.0 §4.12).
        return Err(Refusal::new(0, ReasonCode::BAD_AUTHENTICATION_METHOD));
    }
    if let Some(w) = &c.will
        && topic::validate_name(&w.topic)
            .and_then(|()| topic::check_hierarchy(&w.topic))
            .is_err()
    {
        return Err(Refusal::new(0, ReasonCode::TOPIC_NAME_INVALID));
    }
    Ok(())
}

fn authenticate<H: Hub>(hub: &H, c: &Connect, client_id: &str, peer: &str) -> Result<(), Refusal> {
    match hub.authenticate(client_id, c.username.as_deref(), c.password.as_deref()) {
        AuthResult::Allowed => Ok(()),
        AuthResult::NotAuthorized => {
            hub.log(
                LogType::Notice,
                format_args!("Client {client_id} from {peer} disconnected, not authorised."),
            );
            Err(Refusal::new(
                connack_v3::NOT_AUTHORIZED,
                ReasonCode::NOT_AUTHORIZED,
            ))
        }
        AuthResult::BadCredentials => {
            hub.log(
                LogType::Notice,
                format_args!(
                    "Client {client_id} from {peer} disconnected, bad user name or password."
                ),
            );
            Err(Refusal::new(
                connack_v3::BAD_USERNAME_OR_PASSWORD,
                ReasonCode::BAD_USER_NAME_OR_PASSWORD,
            ))
        }
    }
}

/// Seconds the session outlives the connection. 3.x: clean session 0 keeps it forever
/// (mosquitto's `persistent_client_expiration` default), `u32::MAX`; 5.0: Session Expiry
/// Interval, default 0 (§3.1.2.11.2).
fn session_expiry(c: &Connect) -> u32 {
    if c.version == ProtocolVersion::V5 {
        c.properties
            .get_int(PropertyId::SessionExpiryInterval)
            .unwrap_or(0)
    } else if c.clean_start {
        0
    } else {
        u32::MAX
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

/// mosquitto's `p` number in "New client connected" lines.
fn proto_tag(v: ProtocolVersion) -> u8 {
    match v {
        ProtocolVersion::V31 => 1,
        ProtocolVersion::V311 => 2,
        ProtocolVersion::V5 => 5,
    }
}

/// The "New client connected" line, and with `log_type debug` the will and CONNACK.
fn log_connected<H: Hub>(hub: &H, c: &Connect, peer: &str, client_id: &str, present: bool) {
    let (p, clean, k) = (proto_tag(c.version), u8::from(c.clean_start), c.keep_alive);
    match &c.username {
        _ if !hub.config().connection_messages => {}
        Some(u) => hub.log(
            LogType::Notice,
            format_args!(
                "New client connected from {peer} as {client_id} (p{p}, c{clean}, k{k}, u'{u}')."
            ),
        ),
        None => hub.log(
            LogType::Notice,
            format_args!("New client connected from {peer} as {client_id} (p{p}, c{clean}, k{k})."),
        ),
    }
    if !hub.log_enabled(LogType::Debug) {
        return;
    }
    match &c.will {
        None => hub.log(LogType::Debug, format_args!("No will message specified.")),
        Some(w) => {
            hub.log(
                LogType::Debug,
                format_args!(
                    "Will message specified ({} bytes) (r{}, q{}).",
                    w.payload.len(),
                    u8::from(w.retain),
                    w.qos as u8
                ),
            );
            hub.log(LogType::Debug, format_args!("\t{}", w.topic));
        }
    }
    hub.log(
        LogType::Debug,
        format_args!("Sending CONNACK to {client_id} ({}, 0)", u8::from(present)),
    );
}

/// CONNACK's v5 properties (5.0 §3.2.2.3): the assigned client id, and the limits the
/// client must respect. None for 3.x.
fn connack_properties<H: Hub>(hub: &H, v: ProtocolVersion, assigned: Option<&str>) -> Properties {
    let mut props = Properties::new();
    if v != ProtocolVersion::V5 {
        return props;
    }
    if let Some(id) = assigned {
        props.push(
            PropertyId::AssignedClientIdentifier,
            PropertyValue::String(id.to_string()),
        );
    }
    // Same order as mosquitto 2.0: Topic Alias Maximum, then Receive Maximum.
    props.push(
        PropertyId::TopicAliasMaximum,
        PropertyValue::TwoByte(TOPIC_ALIAS_MAX),
    );
    let rm = inflight_limit(hub.config());
    if rm < 65535 {
        props.push(
            PropertyId::ReceiveMaximum,
            PropertyValue::TwoByte(rm as u16),
        );
    }
    let max = hub.config().max_packet_size;
    if max > 0 {
        props.push(PropertyId::MaximumPacketSize, PropertyValue::FourByte(max));
    }
    if !hub.config().retain_available {
        // 5.0 §3.2.2.3.5: the client must not send retained messages.
        props.push(PropertyId::RetainAvailable, PropertyValue::Byte(0));
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::server::End;
    use crate::broker::server::fake::{
        FakeHub, connect, filter, open as accept_ok, refused, replies,
    };
    use crate::broker::session::EndReason;
    use crate::codec::{QoS, Subscribe, Will};

    fn hub() -> Arc<FakeHub> {
        Arc::new(FakeHub::default())
    }

    #[test]
    fn a_first_packet_other_than_connect_is_dropped_without_reply() {
        let h = hub();
        let o = open(&h, Ok(Packet::PingReq), "1.2.3.4:5");
        assert_eq!(refused(o), None);
        assert_eq!(
            h.lines_of(LogType::Notice),
            ["Client <unknown> (1.2.3.4:5) sent a packet other than CONNECT first, disconnecting."]
        );
    }

    #[test]
    fn an_unknown_protocol_level_gets_a_3x_connack_1() {
        let h = hub();
        let e = codec::Error::UnsupportedProtocol {
            name: "MQTT".into(),
            level: 7,
        };
        let o = open(&h, Err(e), "p");
        // CONNACK, remaining length 2, no session present, return code 1.
        assert_eq!(refused(o), Some(vec![0x20, 0x02, 0x00, 0x01]));
        assert_eq!(
            h.lines_of(LogType::Information),
            ["Client <unknown> using unsupported protocol version 7 (p), disconnecting."]
        );
    }

    #[test]
    fn a_malformed_connect_is_dropped_and_logged() {
        let h = hub();
        let o = open(&h, Err(codec::Error::MalformedRemainingLength), "p");
        assert_eq!(refused(o), None);
        assert_eq!(
            h.lines_of(LogType::Notice),
            [
                "Client <unknown> (p) disconnected due to malformed packet: malformed remaining length."
            ]
        );
    }

    #[test]
    fn empty_client_ids_are_refused_where_the_version_requires_one() {
        let h = hub();
        let mut c = connect(ProtocolVersion::V311, "");
        c.clean_start = false;
        let o = open(&h, Ok(Packet::Connect(c)), "p");
        // 3.1.1 §3.1.3-8: return code 2, identifier rejected.
        assert_eq!(refused(o), Some(vec![0x20, 0x02, 0x00, 0x02]));
        let c = connect(ProtocolVersion::V31, "");
        assert_eq!(
            refused(open(&h, Ok(Packet::Connect(c)), "p")),
            Some(vec![0x20, 0x02, 0x00, 0x02])
        );
        assert!(h.sessions.lock().is_empty());
    }

    #[test]
    fn v5_gets_an_assigned_client_id_in_connack() {
        let h = hub();
        let s = accept_ok(&h, connect(ProtocolVersion::V5, ""));
        assert!(s.client_id().starts_with("auto-"), "{}", s.client_id());
        assert_eq!(s.client_id().len(), "auto-".len() + 36);
        let [Packet::ConnAck(ack)] = &replies(&s)[..] else {
            panic!("one CONNACK");
        };
        assert_eq!(
            ack.properties.get_str(PropertyId::AssignedClientIdentifier),
            Some(&**s.client_id())
        );
    }

    #[test]
    fn refused_logins_get_not_authorised_in_each_version() {
        let h = Arc::new(FakeHub {
            login: AuthResult::NotAuthorized,
            ..FakeHub::default()
        });
        let c = connect(ProtocolVersion::V311, "c");
        assert_eq!(
            refused(open(&h, Ok(Packet::Connect(c)), "p")),
            Some(vec![0x20, 0x02, 0x00, 0x05])
        );
        let c = connect(ProtocolVersion::V5, "c");
        // v5: flags, reason 0x87, property length 0.
        assert_eq!(
            refused(open(&h, Ok(Packet::Connect(c)), "p")),
            Some(vec![0x20, 0x03, 0x00, 0x87, 0x00])
        );
        assert_eq!(
            h.lines_of(LogType::Notice),
            [
                "Client c from p disconnected, not authorised.",
                "Client c from p disconnected, not authorised."
            ]
        );
        assert_eq!(h.stats.connected.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn v5_refuses_authentication_methods_and_bad_will_topics() {
        let h = hub();
        let mut c = connect(ProtocolVersion::V5, "c");
        c.properties.push(
            PropertyId::AuthenticationMethod,
            PropertyValue::String("SCRAM".into()),
        );
        let o = open(&h, Ok(Packet::Connect(c)), "p");
        assert_eq!(refused(o), Some(vec![0x20, 0x03, 0x00, 0x8C, 0x00]));
        let mut c = connect(ProtocolVersion::V5, "c");
        c.will = Some(Will {
            topic: "a/#".into(),
            payload: Default::default(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::new(),
        });
        let o = open(&h, Ok(Packet::Connect(c)), "p");
        assert_eq!(refused(o), Some(vec![0x20, 0x03, 0x00, 0x90, 0x00]));
        // mosquitto's TOPIC_HIERARCHY_LIMIT: 201 levels (200 '/') pass, 202 do not.
        let deep_will = |slashes: usize| {
            let mut c = connect(ProtocolVersion::V5, "c");
            c.will = Some(Will {
                topic: "/".repeat(slashes),
                payload: Default::default(),
                qos: QoS::AtMostOnce,
                retain: false,
                properties: Properties::new(),
            });
            open(&h, Ok(Packet::Connect(c)), "p")
        };
        assert!(matches!(deep_will(200), Opening::Accepted(_)));
        assert_eq!(
            refused(deep_will(201)),
            Some(vec![0x20, 0x03, 0x00, 0x90, 0x00])
        );
    }

    /// 3.x has no CONNACK code for a bad will topic: the connection is closed with no
    /// reply (a CONNACK 0 would tell the client it was accepted).
    #[test]
    fn v3_bad_will_topics_close_without_a_connack() {
        let h = hub();
        for version in [ProtocolVersion::V31, ProtocolVersion::V311] {
            let mut c = connect(version, "c");
            c.will = Some(Will {
                topic: "a/+".into(),
                payload: Default::default(),
                qos: QoS::AtMostOnce,
                retain: false,
                properties: Properties::new(),
            });
            let o = open(&h, Ok(Packet::Connect(c)), "p");
            assert!(matches!(o, Opening::Refused { reply: None }), "{version:?}");
        }
    }

    #[test]
    fn accepted_connect_queues_connack_and_logs_like_mosquitto() {
        let h = hub();
        let mut c = connect(ProtocolVersion::V311, "c1");
        c.username = Some("u".into());
        let s = accept_ok(&h, c);
        let ack = ConnAck {
            session_present: false,
            code: 0,
            properties: Properties::new(),
        };
        assert_eq!(replies(&s), [Packet::ConnAck(ack)]);
        assert_eq!(
            h.lines_of(LogType::Notice),
            ["New client connected from peer as c1 (p2, c1, k60, u'u')."]
        );
        assert_eq!(
            h.lines_of(LogType::Debug),
            ["No will message specified.", "Sending CONNACK to c1 (0, 0)"]
        );
        assert_eq!(h.stats.connected.load(Ordering::Relaxed), 1);
        assert_eq!(
            s.keepalive_timeout(),
            Some(std::time::Duration::from_secs(90))
        );
    }

    #[test]
    fn v5_connack_advertises_the_broker_limits() {
        let mut h = FakeHub::default();
        h.config.max_inflight_messages = 5;
        h.config.max_packet_size = 1000;
        let h = Arc::new(h);
        let s = accept_ok(&h, connect(ProtocolVersion::V5, "c"));
        let [Packet::ConnAck(ack)] = &replies(&s)[..] else {
            panic!("one CONNACK");
        };
        let props: Vec<_> = ack.properties.0.iter().map(|p| p.id).collect();
        // mosquitto's order: Topic Alias Maximum, Receive Maximum, Maximum Packet Size.
        assert_eq!(
            props,
            [
                PropertyId::TopicAliasMaximum,
                PropertyId::ReceiveMaximum,
                PropertyId::MaximumPacketSize
            ]
        );
        assert_eq!(
            ack.properties.get_int(PropertyId::TopicAliasMaximum),
            Some(10)
        );
        assert_eq!(ack.properties.get_int(PropertyId::ReceiveMaximum), Some(5));
        assert_eq!(
            ack.properties.get_int(PropertyId::MaximumPacketSize),
            Some(1000)
        );
        assert_eq!(s.max_packet(), 1000);
    }

    #[test]
    fn a_second_connection_takes_the_session_over() {
        let h = hub();
        let first = accept_ok(&h, connect(ProtocolVersion::V311, "c"));
        let mut c = connect(ProtocolVersion::V311, "c");
        c.clean_start = false;
        let second = accept_ok(&h, c);
        // 3.1.1 §3.1.4-2: the older connection is told to close.
        assert_eq!(first.ctl().kicked(), Some(EndReason::TakenOver));
        assert_eq!(second.ctl().kicked(), None);
        let [Packet::ConnAck(ack)] = &replies(&second)[..] else {
            panic!("one CONNACK");
        };
        // Clean session 0 resumes the session: Session Present (3.1.1 §3.2.2.2).
        assert!(ack.session_present);
        // The older connection may no longer change the session it lost.
        let mut first = first;
        let sub = Subscribe {
            packet_id: 1,
            properties: Properties::new(),
            filters: vec![filter("t", QoS::AtMostOnce)],
        };
        let end = first.handle(Packet::Subscribe(sub), std::time::Instant::now());
        assert!(matches!(end, Some(End::Kicked(EndReason::TakenOver))));
        assert!(h.subscribed.lock().is_empty());
    }

    #[test]
    fn max_keepalive_becomes_the_server_keep_alive_or_refuses_3x() {
        let mut h = FakeHub::default();
        h.config.max_keepalive = 30;
        let h = Arc::new(h);
        let mut c = connect(ProtocolVersion::V5, "c");
        c.keep_alive = 0;
        let s = accept_ok(&h, c);
        let [Packet::ConnAck(ack)] = &replies(&s)[..] else {
            panic!("one CONNACK");
        };
        assert_eq!(
            ack.properties.get_int(PropertyId::ServerKeepAlive),
            Some(30)
        );
        assert_eq!(
            s.keepalive_timeout(),
            Some(std::time::Duration::from_secs(45))
        );
        let mut c = connect(ProtocolVersion::V5, "d");
        c.keep_alive = 20;
        let s = accept_ok(&h, c);
        let [Packet::ConnAck(ack)] = &replies(&s)[..] else {
            panic!("one CONNACK");
        };
        assert_eq!(ack.properties.get_int(PropertyId::ServerKeepAlive), None);
        // 3.1.1 asking for more (60 in `connect`): identifier rejected.
        let o = open(
            &h,
            Ok(Packet::Connect(connect(ProtocolVersion::V311, "e"))),
            "p",
        );
        assert_eq!(refused(o), Some(vec![0x20, 0x02, 0x00, 0x02]));
        // And asking for none (0), as mosquitto 2.1; 30 or less is accepted as asked.
        let mut c = connect(ProtocolVersion::V311, "f");
        c.keep_alive = 0;
        let o = open(&h, Ok(Packet::Connect(c)), "p");
        assert_eq!(refused(o), Some(vec![0x20, 0x02, 0x00, 0x02]));
        let mut c = connect(ProtocolVersion::V311, "g");
        c.keep_alive = 30;
        assert_eq!(
            accept_ok(&h, c).keepalive_timeout(),
            Some(std::time::Duration::from_secs(45))
        );
    }

    #[test]
    fn empty_ids_refused_when_configured_and_expiry_for_persistent_sessions() {
        let mut h = FakeHub::default();
        h.config.allow_zero_length_clientid = false;
        h.config.persistent_client_expiration = Some(3600);
        let h = Arc::new(h);
        let o = open(
            &h,
            Ok(Packet::Connect(connect(ProtocolVersion::V5, ""))),
            "p",
        );
        assert_eq!(refused(o), Some(vec![0x20, 0x03, 0x00, 0x85, 0x00]));
        let mut c = connect(ProtocolVersion::V311, "c");
        c.clean_start = false;
        let s = accept_ok(&h, c);
        assert_eq!(s.session.state.lock().expiry_interval, 3600);
    }

    #[test]
    fn no_keep_alive_means_no_deadline() {
        let h = hub();
        let mut c = connect(ProtocolVersion::V311, "c");
        c.keep_alive = 0;
        assert_eq!(accept_ok(&h, c).keepalive_timeout(), None);
    }
}
