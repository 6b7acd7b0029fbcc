//! The first packet of a connection: CONNECT checks, authentication, attaching to the
//! session (taking it over from an older connection) and CONNACK — or a refusal, with
//! the CONNACK to write before closing, encoded by the codec.
//!
//! The order of the checks, and each log line, follow mosquitto 2.0 (`handle_connect.c`),
//! which the integration tests compare against.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::BytesMut;

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

    fn into_opening<H>(self, version: ProtocolVersion) -> Opening<H> {
        let code = if version == ProtocolVersion::V5 {
            self.v5.0
        } else {
            self.v3
        };
        Opening::Refused {
            reply: connack(version, code),
        }
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
    let session_expiry = session_expiry(&c);
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
    ctl.send(Packet::ConnAck(ConnAck {
        session_present: attached.present,
        code: 0,
        properties: connack_properties(&**hub, v, assigned.then_some(&*client_id)),
    }));
    Opening::Accepted(ServerSession {
        hub: Arc::clone(hub),
        session: attached.session,
        ctl,
        generation: attached.generation,
        version: v,
        client_id,
        username: c.username.clone(),
        keep_alive: c.keep_alive,
        will: pending_will(&c),
        aliases: Default::default(),
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
    Ok((id, assigned))
}

/// The client id to use, and whether the broker assigned it.
fn client_id<H: Hub>(hub: &H, c: &Connect, peer: &str) -> Result<(String, bool), Refusal> {
    if !c.client_id.is_empty() {
        return Ok((c.client_id.clone(), false));
    }
    // 3.1 requires an id; 3.1.1 allows an empty one only with clean session
    // (3.1.1 §3.1.3-8); 5.0 always assigns one (§3.1.3.1).
    let v = c.version;
    if v == ProtocolVersion::V31 || (v == ProtocolVersion::V311 && !c.clean_start) {
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
        && topic::validate_name(&w.topic).is_err()
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
    props
}
