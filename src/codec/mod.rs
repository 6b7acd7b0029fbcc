//! The one MQTT codec: packet types for 3.1, 3.1.1 and 5.0, and `decode`/`encode`.
//!
//! Shared by the clients, `bench` and the broker. The protocol version is a
//! parameter, never a separate codec. Decoding an incomplete buffer is
//! `Ok(None)` ("need more bytes"), not an error.
//!
//! What the codec checks, and what it leaves to the broker:
//! - Checked: everything that makes a packet malformed or that the spec calls a
//!   protocol error *within one packet*: fixed-header flags, QoS 3, reserved bits,
//!   UTF-8 strings (well-formed, no U+0000), property ids/types/contexts/duplicates,
//!   packet id 0 where one is required, empty SUBSCRIBE/UNSUBSCRIBE.
//! - Lenient, like mosquitto: DUP set on a QoS 0 PUBLISH (3.1.1 §3.3.1-2 binds the
//!   sender), 3.1 fixed-header flags, non-minimal variable byte integers, a v5
//!   AUTH of one byte.
//! - Left to the broker: topic name/filter syntax and emptiness, client id length,
//!   payload UTF-8 (payload format indicator, 0x99), topic alias ranges, which reason
//!   codes a packet may carry, session state (packet ids in flight, etc.).
//!
//! Hand-written rather than taken from an MQTT crate on purpose: the line above
//! between checked and lenient must be mosquitto's, byte for byte and reason code for
//! reason code (tests compare our packets and refusals with mosquitto's), and MQTT 3.1
//! (`MQIsdp`) must be spoken; the general-purpose crates make their own choices there.

pub mod packet;
pub mod properties;
pub mod reason;
pub mod wire;

#[cfg(test)]
mod tests;

use bytes::{Buf, BytesMut};

pub use packet::auth::Auth;
pub use packet::connack::ConnAck;
pub use packet::connect::{Connect, Will};
pub use packet::disconnect::Disconnect;
pub use packet::puback::PubAck;
pub use packet::pubcomp::PubComp;
pub use packet::publish::{Publish, PublishTemplate};
pub use packet::pubrec::PubRec;
pub use packet::pubrel::PubRel;
pub use packet::suback::SubAck;
pub use packet::subscribe::{RetainHandling, Subscribe, SubscribeFilter, SubscriptionOptions};
pub use packet::unsuback::UnsubAck;
pub use packet::unsubscribe::Unsubscribe;
pub use properties::{
    Properties, Property, PropertyContext, PropertyId, PropertyType, PropertyValue,
};
pub use reason::ReasonCode;

/// The largest remaining length MQTT can express (MQTT 5.0 §1.5.5): 268,435,455.
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// Protocol version, carried by CONNECT and fixed for the rest of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT 3.1: protocol name `MQIsdp`, level 3.
    V31,
    /// MQTT 3.1.1: protocol name `MQTT`, level 4.
    V311,
    /// MQTT 5.0: protocol name `MQTT`, level 5.
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            ProtocolVersion::V31 => 3,
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// The protocol name of CONNECT.
    pub fn protocol_name(self) -> &'static str {
        match self {
            ProtocolVersion::V31 => "MQIsdp",
            ProtocolVersion::V311 | ProtocolVersion::V5 => "MQTT",
        }
    }
}

/// Quality of service of a PUBLISH or a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// `None` for 3, which is malformed everywhere MQTT carries a QoS.
    pub fn from_u8(v: u8) -> Option<QoS> {
        match v {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// Every MQTT control packet. `PingReq` and `PingResp` carry nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    Connect(Connect),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubAck),
    PubRec(PubRec),
    PubRel(PubRel),
    PubComp(PubComp),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    /// MQTT 5.0 only.
    Auth(Auth),
}

/// What made a packet malformed, or unencodable. Each names the v5 reason code to
/// send in DISCONNECT or CONNACK (`reason_code`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("packet of {size} bytes exceeds the maximum packet size of {max}")]
    PacketTooLarge { size: usize, max: usize },
    #[error("malformed remaining length")]
    MalformedRemainingLength,
    #[error("invalid packet type {0}")]
    InvalidPacketType(u8),
    #[error("invalid fixed header flags {flags:#04x} for {packet}")]
    InvalidHeaderFlags { packet: &'static str, flags: u8 },
    #[error("unsupported protocol {name:?} level {level}")]
    UnsupportedProtocol { name: String, level: u8 },
    #[error("malformed {packet}: {what}")]
    Malformed {
        packet: &'static str,
        what: &'static str,
    },
    #[error("protocol error in {packet}: {what}")]
    Protocol {
        packet: &'static str,
        what: &'static str,
    },
    #[error("{packet} is not part of MQTT {version:?}")]
    NotInVersion {
        packet: &'static str,
        version: ProtocolVersion,
    },
    /// A field runs past the end of a packet whose bytes are all present.
    #[error("malformed {packet}: truncated field")]
    Truncated { packet: &'static str },
    /// A UTF-8 Encoded String that is not well-formed UTF-8 (5.0 §1.5.4).
    #[error("malformed {packet}: string is not valid UTF-8")]
    InvalidUtf8 { packet: &'static str },
    /// U+0000 in a UTF-8 Encoded String (5.0 §1.5.4 [MQTT-1.5.4-2]).
    #[error("malformed {packet}: string contains U+0000")]
    NullCharacter { packet: &'static str },
    /// A string or binary field longer than 65,535 bytes (encode only).
    #[error("{packet}: field of {len} bytes exceeds 65,535")]
    TooLong { packet: &'static str, len: usize },
    /// A property identifier 5.0 does not define.
    #[error("malformed {packet}: unknown property identifier {id:#04x}")]
    UnknownProperty { packet: &'static str, id: u32 },
    /// A property this packet may not carry (5.0 §2.2.2.2: malformed).
    #[error("malformed {packet}: property {id} not allowed here")]
    PropertyNotAllowed {
        packet: &'static str,
        id: PropertyId,
    },
    /// A property that may appear once, twice.
    #[error("protocol error in {packet}: property {id} included more than once")]
    DuplicateProperty {
        packet: &'static str,
        id: PropertyId,
    },
    /// A property value the spec calls a protocol error (e.g. subscription identifier 0).
    #[error("protocol error in {packet}: invalid value for property {id}")]
    InvalidPropertyValue {
        packet: &'static str,
        id: PropertyId,
    },
    /// A `PropertyValue` of the wrong type for its id (encode only).
    #[error("{packet}: value of property {id} has the wrong type")]
    PropertyType {
        packet: &'static str,
        id: PropertyId,
    },
    /// Packet identifier 0 where one is required (5.0 §2.2.1 [MQTT-2.2.1-3]).
    #[error("protocol error in {packet}: packet identifier 0")]
    ZeroPacketId { packet: &'static str },
}

impl Error {
    /// The v5 reason code this error calls for (5.0 §4.13).
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Error::PacketTooLarge { .. } => ReasonCode::PACKET_TOO_LARGE,
            Error::UnsupportedProtocol { .. } => ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
            Error::Protocol { .. }
            | Error::NotInVersion { .. }
            | Error::DuplicateProperty { .. }
            | Error::InvalidPropertyValue { .. }
            | Error::ZeroPacketId { .. } => ReasonCode::PROTOCOL_ERROR,
            Error::MalformedRemainingLength
            | Error::InvalidPacketType(_)
            | Error::InvalidHeaderFlags { .. }
            | Error::Malformed { .. }
            | Error::Truncated { .. }
            | Error::InvalidUtf8 { .. }
            | Error::NullCharacter { .. }
            | Error::TooLong { .. }
            | Error::UnknownProperty { .. }
            | Error::PropertyNotAllowed { .. }
            | Error::PropertyType { .. } => ReasonCode::MALFORMED_PACKET,
        }
    }
}

impl Packet {
    /// The packet's name as the spec writes it ("PUBLISH").
    pub fn name(&self) -> &'static str {
        match self {
            Packet::Connect(_) => "CONNECT",
            Packet::ConnAck(_) => "CONNACK",
            Packet::Publish(_) => "PUBLISH",
            Packet::PubAck(_) => "PUBACK",
            Packet::PubRec(_) => "PUBREC",
            Packet::PubRel(_) => "PUBREL",
            Packet::PubComp(_) => "PUBCOMP",
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::SubAck(_) => "SUBACK",
            Packet::Unsubscribe(_) => "UNSUBSCRIBE",
            Packet::UnsubAck(_) => "UNSUBACK",
            Packet::PingReq => "PINGREQ",
            Packet::PingResp => "PINGRESP",
            Packet::Disconnect(_) => "DISCONNECT",
            Packet::Auth(_) => "AUTH",
        }
    }
}

/// Names of packet types 1..=15 (5.0 §2.1.2), for errors.
const PACKET_NAMES: [&str; 16] = [
    "reserved",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

/// Checks the packet type and the fixed-header flags (5.0 §2.1.3, 3.1.1 §2.2.2).
///
/// PUBREL, SUBSCRIBE and UNSUBSCRIBE must carry 0b0010, every other packet but
/// PUBLISH 0b0000 ("MUST be treated as malformed"). MQTT 3.1 had no such rule:
/// its DUP/QoS/RETAIN bits exist on every packet and 3.1 clients set DUP on a
/// resent SUBSCRIBE or PUBREL, so, like mosquitto (lib/handle_pubrel.c checks
/// `command & 0x0F == 0x02` only when the protocol is not 3.1), 3.1 flags are not
/// checked.
/// PUBLISH flags (QoS 3) are checked by `publish::decode`.
fn check_type_and_flags(byte1: u8, version: ProtocolVersion) -> Result<(), Error> {
    let ptype = byte1 >> 4;
    let flags = byte1 & 0x0F;
    let packet = PACKET_NAMES.get(usize::from(ptype)).copied().unwrap_or("?");
    let expected = match ptype {
        0 => return Err(Error::InvalidPacketType(0)),
        // CONNECT: the version is inside, so its flags are checked after parsing.
        1 | 3 => return Ok(()),
        6 | 8 | 10 => 0b0010,
        15 if version != ProtocolVersion::V5 => {
            return Err(Error::NotInVersion {
                packet: "AUTH",
                version,
            });
        }
        _ => 0,
    };
    if flags != expected && version != ProtocolVersion::V31 {
        return Err(Error::InvalidHeaderFlags { packet, flags });
    }
    Ok(())
}

/// Decodes one packet from the front of `buf`.
///
/// - `Ok(None)`: the packet is not complete yet; `buf` is untouched.
/// - `Ok(Some(p))`: the packet's bytes were removed from `buf` (payloads share them).
/// - `Err(e)`: malformed; the connection must be closed. `buf` may have lost the
///   bad packet's bytes.
///
/// `version` is the connection's version; CONNECT ignores it and reads its own.
/// `max_packet_size` (whole packet, fixed header included) is checked from the
/// fixed header alone, before anything is allocated; pass `usize::MAX` for no limit.
pub fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: usize,
) -> Result<Option<Packet>, Error> {
    let Some((byte1, remaining, header_len)) = wire::parse_fixed_header(buf)? else {
        return Ok(None);
    };
    // header_len <= 5 and remaining < 2^28: no overflow, but stay checked anyway.
    let size = header_len.saturating_add(remaining);
    if size > max_packet_size {
        return Err(Error::PacketTooLarge {
            size,
            max: max_packet_size,
        });
    }
    // Type and flags are known now; failing early saves waiting for a bad body.
    check_type_and_flags(byte1, version)?;
    if buf.len() < size {
        return Ok(None);
    }
    let mut frame = buf.split_to(size).freeze();
    frame.advance(header_len);
    let flags = byte1 & 0x0F;
    let packet = match byte1 >> 4 {
        1 => Packet::Connect(Connect::decode(flags, frame)?),
        2 => Packet::ConnAck(ConnAck::decode(frame, version)?),
        3 => Packet::Publish(Publish::decode(flags, frame, version)?),
        4 => Packet::PubAck(PubAck::decode(frame, version)?),
        5 => Packet::PubRec(PubRec::decode(frame, version)?),
        6 => Packet::PubRel(PubRel::decode(frame, version)?),
        7 => Packet::PubComp(PubComp::decode(frame, version)?),
        8 => Packet::Subscribe(Subscribe::decode(frame, version)?),
        9 => Packet::SubAck(SubAck::decode(frame, version)?),
        10 => Packet::Unsubscribe(Unsubscribe::decode(frame, version)?),
        11 => Packet::UnsubAck(UnsubAck::decode(frame, version)?),
        12 => {
            packet::pingreq::decode(frame)?;
            Packet::PingReq
        }
        13 => {
            packet::pingresp::decode(frame)?;
            Packet::PingResp
        }
        14 => Packet::Disconnect(Disconnect::decode(frame, version)?),
        15 => Packet::Auth(Auth::decode(frame)?),
        t => return Err(Error::InvalidPacketType(t)),
    };
    Ok(Some(packet))
}

/// Appends the encoding of `packet` for `version` to `out`.
///
/// CONNECT is always encoded for `connect.version` (the packet states its own
/// version; `version` is ignored for it). Fields a version cannot carry (v5
/// properties and reason codes in 3.x) are left out, so a broker can forward a v5
/// message to a 3.x subscriber as is. On `Err`, `out` is unchanged.
pub fn encode(packet: &Packet, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), Error> {
    match packet {
        Packet::Connect(p) => p.encode(out),
        Packet::ConnAck(p) => p.encode(version, out),
        Packet::Publish(p) => p.encode(version, out),
        Packet::PubAck(p) => p.encode(version, out),
        Packet::PubRec(p) => p.encode(version, out),
        Packet::PubRel(p) => p.encode(version, out),
        Packet::PubComp(p) => p.encode(version, out),
        Packet::Subscribe(p) => p.encode(version, out),
        Packet::SubAck(p) => p.encode(version, out),
        Packet::Unsubscribe(p) => p.encode(version, out),
        Packet::UnsubAck(p) => p.encode(version, out),
        Packet::PingReq => packet::pingreq::encode(out),
        Packet::PingResp => packet::pingresp::encode(out),
        Packet::Disconnect(p) => p.encode(version, out),
        Packet::Auth(p) => p.encode(version, out),
    }
}
