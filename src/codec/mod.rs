//! The one MQTT codec: packet types for 3.1, 3.1.1 and 5.0, and `decode`/`encode`.
//!
//! Shared by the clients, `bench` and the broker. The protocol version is a
//! parameter, never a separate codec. Decoding an incomplete buffer is
//! `Ok(None)` ("need more bytes"), not an error.

pub mod packet;
pub mod properties;
pub mod reason;
pub mod wire;

use bytes::BytesMut;

pub use packet::auth::Auth;
pub use packet::connack::ConnAck;
pub use packet::connect::{Connect, Will};
pub use packet::disconnect::Disconnect;
pub use packet::puback::PubAck;
pub use packet::pubcomp::PubComp;
pub use packet::publish::Publish;
pub use packet::pubrec::PubRec;
pub use packet::pubrel::PubRel;
pub use packet::suback::SubAck;
pub use packet::subscribe::{RetainHandling, Subscribe, SubscribeFilter, SubscriptionOptions};
pub use packet::unsuback::UnsubAck;
pub use packet::unsubscribe::Unsubscribe;
pub use properties::{Properties, Property, PropertyId, PropertyValue};
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
}

impl Error {
    /// The v5 reason code this error calls for (5.0 §4.13).
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Error::PacketTooLarge { .. } => ReasonCode::PACKET_TOO_LARGE,
            Error::UnsupportedProtocol { .. } => ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
            Error::Protocol { .. } | Error::NotInVersion { .. } => ReasonCode::PROTOCOL_ERROR,
            _ => ReasonCode::MALFORMED_PACKET,
        }
    }
}

/// Decodes one packet from the front of `buf`.
///
/// - `Ok(None)`: the packet is not complete yet; `buf` is untouched.
/// - `Ok(Some(p))`: the packet's bytes were removed from `buf` (payloads share them).
/// - `Err(e)`: malformed; the connection must be closed.
///
/// `version` is the connection's version; CONNECT ignores it and reads its own.
/// `max_packet_size` (whole packet, fixed header included) is checked from the
/// fixed header alone, before anything is allocated.
pub fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: usize,
) -> Result<Option<Packet>, Error> {
    let _ = (buf, version, max_packet_size);
    unimplemented!("codec helper")
}

/// Appends the encoding of `packet` for `version` to `out`.
pub fn encode(packet: &Packet, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), Error> {
    let _ = (packet, version, out);
    unimplemented!("codec helper")
}
