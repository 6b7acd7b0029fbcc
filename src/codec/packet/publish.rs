//! PUBLISH (3.1.1 §3.3, 5.0 §3.3): application messages in both directions.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::properties::{self, PropertyContext};
use crate::codec::wire::{self, Reader};
use crate::codec::{Error, Properties, ProtocolVersion, QoS};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// May be empty in v5 when a topic alias stands for it.
    pub topic: String,
    /// 0 for QoS 0 (absent on the wire); never 0 for QoS 1 and 2.
    pub packet_id: u16,
    pub properties: Properties,
    /// Shares the receive buffer: no copy on the hot path.
    pub payload: Bytes,
}

impl Publish {
    /// Decodes a PUBLISH body; `flags` is the low nibble of the fixed header.
    ///
    /// - QoS 3 is malformed (3.1.1 §3.3.1-4, 5.0 §3.3.1.2), as mosquitto rejects it.
    /// - DUP with QoS 0 is accepted: 3.1.1 §3.3.1-2 binds the sender, and mosquitto
    ///   (src/handle_publish.c) does not check it either.
    /// - Packet id 0 with QoS > 0 is a protocol error (5.0 §2.2.1 [MQTT-2.2.1-3]
    ///   "MUST contain a non-zero Packet Identifier"; mosquitto returns
    ///   MOSQ_ERR_PROTOCOL): the packet parses fine, it breaks a protocol rule.
    /// - Topic content (empty, wildcards, aliases) is the broker's business.
    pub(crate) fn decode(
        flags: u8,
        body: Bytes,
        version: ProtocolVersion,
    ) -> Result<Publish, Error> {
        let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(Error::InvalidHeaderFlags {
            packet: "PUBLISH",
            flags,
        })?;
        let mut r = Reader::new(body, "PUBLISH");
        let topic = r.string()?;
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            match r.u16()? {
                0 => return Err(Error::ZeroPacketId { packet: "PUBLISH" }),
                id => id,
            }
        };
        let properties = if version == ProtocolVersion::V5 {
            properties::decode(&mut r, PropertyContext::Publish)?
        } else {
            Properties::new()
        };
        Ok(Publish {
            dup: flags & 0x08 != 0,
            qos,
            retain: flags & 0x01 != 0,
            topic,
            packet_id,
            properties,
            payload: r.rest(),
        })
    }

    /// The packet id is written only for QoS > 0 (and must then be non-zero);
    /// properties only in v5. DUP is written as given.
    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), Error> {
        self.encode_as(self.dup, self.packet_id, false, version, out)
    }

    /// Encodes this message with another DUP flag and packet id (a client sending or
    /// resending it); `omit_topic` sends an empty Topic Name, for a v5 topic alias the
    /// receiver already knows (5.0 §3.3.2.3.4). On `Err`, `out` is unchanged.
    pub fn encode_as(
        &self,
        dup: bool,
        packet_id: u16,
        omit_topic: bool,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), Error> {
        let byte1 = 0x30 | (u8::from(dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain);
        let topic = if omit_topic { "" } else { self.topic.as_str() };
        let mut body = BytesMut::with_capacity(topic.len() + 8);
        wire::write_string(&mut body, topic, "PUBLISH")?;
        if self.qos != QoS::AtMostOnce {
            if packet_id == 0 {
                return Err(Error::ZeroPacketId { packet: "PUBLISH" });
            }
            body.put_u16(packet_id);
        }
        if version == ProtocolVersion::V5 {
            properties::encode(&self.properties, PropertyContext::Publish, &mut body)?;
        }
        wire::write_packet(out, byte1, &body, &self.payload, "PUBLISH")
    }
}

/// A PUBLISH whose topic and properties are encoded once, for senders that write many
/// packets differing only in DUP, packet identifier and payload (`mqtk pub -l`,
/// `bench`): each packet then costs a fixed header and two copies, with no
/// per-message allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishTemplate {
    qos: QoS,
    retain: bool,
    /// The Topic Name as it goes on the wire: 2-byte length, then UTF-8.
    topic: Bytes,
    /// v5: property length and properties; empty below v5 (3.1.1 has none).
    properties: Bytes,
}

impl PublishTemplate {
    /// Encodes `topic` and `properties` for `version`, checking them as `encode` does.
    pub fn new(
        topic: &str,
        qos: QoS,
        retain: bool,
        properties: &Properties,
        version: ProtocolVersion,
    ) -> Result<PublishTemplate, Error> {
        let mut t = BytesMut::with_capacity(topic.len() + 2);
        wire::write_string(&mut t, topic, "PUBLISH")?;
        let mut p = BytesMut::new();
        if version == ProtocolVersion::V5 {
            properties::encode(properties, PropertyContext::Publish, &mut p)?;
        }
        Ok(PublishTemplate {
            qos,
            retain,
            topic: t.freeze(),
            properties: p.freeze(),
        })
    }

    pub fn qos(&self) -> QoS {
        self.qos
    }

    pub fn retain(&self) -> bool {
        self.retain
    }

    /// The topic (checked UTF-8 when the template was made).
    pub fn topic(&self) -> &str {
        std::str::from_utf8(&self.topic[2..]).unwrap_or_default()
    }

    /// The remaining length of a packet with `payload_len` bytes of payload;
    /// `omit_topic` sends an empty Topic Name (a v5 topic alias stands for it).
    fn remaining(&self, packet_id: bool, omit_topic: bool, payload_len: usize) -> usize {
        let topic = if omit_topic { 2 } else { self.topic.len() };
        let id = if packet_id { 2 } else { 0 };
        (topic + id + self.properties.len()).saturating_add(payload_len)
    }

    /// Appends everything but the payload; the caller appends exactly `payload_len`
    /// bytes next. `packet_id` is written for QoS > 0 only, and must then be non-zero
    /// (5.0 §2.2.1). On `Err`, `out` is unchanged.
    pub fn encode_header(
        &self,
        dup: bool,
        packet_id: u16,
        omit_topic: bool,
        payload_len: usize,
        out: &mut BytesMut,
    ) -> Result<(), Error> {
        let with_id = self.qos != QoS::AtMostOnce;
        if with_id && packet_id == 0 {
            return Err(Error::ZeroPacketId { packet: "PUBLISH" });
        }
        let remaining = self.remaining(with_id, omit_topic, payload_len);
        if remaining > crate::codec::MAX_REMAINING_LENGTH {
            return Err(Error::PacketTooLarge {
                size: remaining,
                max: crate::codec::MAX_REMAINING_LENGTH,
            });
        }
        let byte1 = 0x30 | (u8::from(dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain);
        out.reserve(5 + remaining - payload_len + payload_len.min(64 * 1024));
        out.put_u8(byte1);
        wire::write_varint(out, remaining, "PUBLISH")?;
        if omit_topic {
            out.put_u16(0);
        } else {
            out.put_slice(&self.topic);
        }
        if with_id {
            out.put_u16(packet_id);
        }
        out.put_slice(&self.properties);
        Ok(())
    }

    /// Appends a whole PUBLISH with `payload`.
    pub fn encode(
        &self,
        dup: bool,
        packet_id: u16,
        omit_topic: bool,
        payload: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), Error> {
        self.encode_header(dup, packet_id, omit_topic, payload.len(), out)?;
        out.put_slice(payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::codec::packet::test_util::{check, decode_err, decodes_to, encode_err};
    use crate::codec::{Packet, PropertyId, PropertyValue, decode};

    fn publish(qos: QoS, packet_id: u16, topic: &str, payload: &'static [u8]) -> Publish {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic: topic.into(),
            packet_id,
            properties: Properties::new(),
            payload: Bytes::from_static(payload),
        }
    }

    #[test]
    fn qos0_v311() {
        let bytes = [
            0x30, // PUBLISH, dup 0, QoS 0, retain 0
            0x0A, // remaining length 10
            0x00, 0x03, b'a', b'/', b'b', // topic "a/b"
            // no packet id at QoS 0
            b'h', b'e', b'l', b'l', b'o', // payload
        ];
        let p = publish(QoS::AtMostOnce, 0, "a/b", b"hello");
        check(&bytes, ProtocolVersion::V311, Packet::Publish(p.clone()));
        check(&bytes, ProtocolVersion::V31, Packet::Publish(p));
    }

    #[test]
    fn qos1_dup_retain_v311() {
        let bytes = [
            0x3B, // PUBLISH, dup 1, QoS 1, retain 1
            0x09, // remaining length 9
            0x00, 0x03, b'a', b'/', b'b', // topic "a/b"
            0x00, 0x0A, // packet id 10
            b'h', b'i', // payload
        ];
        let mut p = publish(QoS::AtLeastOnce, 10, "a/b", b"hi");
        p.dup = true;
        p.retain = true;
        check(&bytes, ProtocolVersion::V311, Packet::Publish(p));
    }

    #[test]
    fn qos2_v31_empty_payload() {
        let bytes = [
            0x34, // PUBLISH, QoS 2
            0x05, // remaining length 5
            0x00, 0x01, b't', // topic "t"
            0x12, 0x34, // packet id 0x1234
                  // empty payload
        ];
        let p = publish(QoS::ExactlyOnce, 0x1234, "t", b"");
        check(&bytes, ProtocolVersion::V31, Packet::Publish(p));
    }

    #[test]
    fn qos0_v5_no_properties() {
        let bytes = [
            0x30, // PUBLISH, QoS 0
            0x05, // remaining length 5
            0x00, 0x01, b't', // topic "t"
            0x00, // property length 0
            b'x', // payload
        ];
        let p = publish(QoS::AtMostOnce, 0, "t", b"x");
        check(&bytes, ProtocolVersion::V5, Packet::Publish(p));
    }

    #[test]
    fn v5_with_properties() {
        let bytes = [
            0x32, // PUBLISH, QoS 1
            0x2B, // remaining length 43
            0x00, 0x01, b't', // topic "t"
            0x00, 0x01, // packet id 1
            0x24, // property length 36
            0x23, 0x00, 0x05, // topic alias 5
            0x02, 0x00, 0x00, 0x00, 0x3C, // message expiry interval 60
            0x08, 0x00, 0x01, b'r', // response topic "r"
            0x09, 0x00, 0x02, 0x01, 0x02, // correlation data 01 02
            0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property k=v
            0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'w', // user property k=w
            0x0B, 0x01, // subscription identifier 1
            0x0B, 0x80, 0x01, // subscription identifier 128 (2-byte varint)
            b'x', // payload
        ];
        let mut p = publish(QoS::AtLeastOnce, 1, "t", b"x");
        let props = &mut p.properties;
        props.push(PropertyId::TopicAlias, PropertyValue::TwoByte(5));
        props.push(
            PropertyId::MessageExpiryInterval,
            PropertyValue::FourByte(60),
        );
        props.push(PropertyId::ResponseTopic, PropertyValue::String("r".into()));
        props.push(
            PropertyId::CorrelationData,
            PropertyValue::Binary(Bytes::from_static(&[1, 2])),
        );
        props.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("k".into(), "v".into()),
        );
        props.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("k".into(), "w".into()),
        );
        props.push(PropertyId::SubscriptionIdentifier, PropertyValue::VarInt(1));
        props.push(
            PropertyId::SubscriptionIdentifier,
            PropertyValue::VarInt(128),
        );
        assert_eq!(
            p.properties.subscription_identifiers().collect::<Vec<_>>(),
            [1, 128]
        );
        assert_eq!(
            p.properties.user_properties().collect::<Vec<_>>(),
            [("k", "v"), ("k", "w")]
        );
        check(&bytes, ProtocolVersion::V5, Packet::Publish(p));
    }

    #[test]
    fn payload_is_zero_copy() {
        let bytes = [0x30, 0x06, 0x00, 0x01, b't', b'a', b'b', b'c'];
        let mut buf = BytesMut::from(&bytes[..]);
        let base = buf.as_ptr() as usize;
        let Some(Packet::Publish(p)) = decode(&mut buf, ProtocolVersion::V311, 1024).unwrap()
        else {
            panic!("not a PUBLISH");
        };
        // The payload points into the receive buffer, 5 bytes in.
        assert_eq!(p.payload.as_ptr() as usize, base + 5);
    }

    #[test]
    fn dup_with_qos0_is_accepted() {
        // 3.1.1 §3.3.1-2 binds the sender; mosquitto accepts it, so do we.
        let mut p = publish(QoS::AtMostOnce, 0, "t", b"");
        p.dup = true;
        decodes_to(
            &[0x38, 0x03, 0x00, 0x01, b't'],
            ProtocolVersion::V311,
            Packet::Publish(p),
        );
    }

    #[test]
    fn qos3_is_malformed() {
        let e = decode_err(&[0x36, 0x03, 0x00, 0x01, b't'], ProtocolVersion::V311);
        assert_eq!(
            e,
            Error::InvalidHeaderFlags {
                packet: "PUBLISH",
                flags: 0x06
            }
        );
        assert_eq!(e.reason_code(), crate::codec::ReasonCode::MALFORMED_PACKET);
    }

    #[test]
    fn zero_packet_id_is_protocol_error() {
        let bytes = [0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00];
        let e = decode_err(&bytes, ProtocolVersion::V311);
        assert_eq!(e, Error::ZeroPacketId { packet: "PUBLISH" });
        assert_eq!(e.reason_code(), crate::codec::ReasonCode::PROTOCOL_ERROR);
        let p = publish(QoS::AtLeastOnce, 0, "t", b"");
        assert_eq!(
            encode_err(&Packet::Publish(p), ProtocolVersion::V311),
            Error::ZeroPacketId { packet: "PUBLISH" }
        );
    }

    #[test]
    fn truncated_topic_inside_complete_packet() {
        // Topic length says 5 but the packet ends after 1 byte: malformed, not "need more".
        let e = decode_err(&[0x30, 0x03, 0x00, 0x05, b'a'], ProtocolVersion::V311);
        assert_eq!(e, Error::Truncated { packet: "PUBLISH" });
        // Packet id cut off.
        let e = decode_err(&[0x32, 0x04, 0x00, 0x01, b't', 0x00], ProtocolVersion::V311);
        assert_eq!(e, Error::Truncated { packet: "PUBLISH" });
    }

    #[test]
    fn invalid_utf8_topic() {
        let e = decode_err(&[0x30, 0x04, 0x00, 0x02, 0xC3, 0x28], ProtocolVersion::V311);
        assert_eq!(e, Error::InvalidUtf8 { packet: "PUBLISH" });
    }

    #[test]
    fn nul_in_topic() {
        let e = decode_err(&[0x30, 0x04, 0x00, 0x02, b'a', 0x00], ProtocolVersion::V311);
        assert_eq!(e, Error::NullCharacter { packet: "PUBLISH" });
        let p = publish(QoS::AtMostOnce, 0, "a\0", b"");
        assert_eq!(
            encode_err(&Packet::Publish(p), ProtocolVersion::V311),
            Error::NullCharacter { packet: "PUBLISH" }
        );
    }

    #[test]
    fn property_not_allowed_in_publish() {
        let bytes = [
            0x30, 0x08, // PUBLISH QoS 0, remaining length 8
            0x00, 0x01, b't', // topic
            0x04, // property length 4
            0x1F, 0x00, 0x01, b'x', // reason string: not a PUBLISH property
        ];
        let e = decode_err(&bytes, ProtocolVersion::V5);
        assert_eq!(
            e,
            Error::PropertyNotAllowed {
                packet: "PUBLISH",
                id: PropertyId::ReasonString
            }
        );
        assert_eq!(e.reason_code(), crate::codec::ReasonCode::MALFORMED_PACKET);
    }

    #[test]
    fn duplicate_property_in_publish() {
        let bytes = [
            0x30, 0x0A, // PUBLISH QoS 0, remaining length 10
            0x00, 0x01, b't', // topic
            0x06, // property length 6
            0x23, 0x00, 0x01, // topic alias 1
            0x23, 0x00, 0x02, // topic alias 2: may appear once
        ];
        let e = decode_err(&bytes, ProtocolVersion::V5);
        assert_eq!(
            e,
            Error::DuplicateProperty {
                packet: "PUBLISH",
                id: PropertyId::TopicAlias
            }
        );
        assert_eq!(e.reason_code(), crate::codec::ReasonCode::PROTOCOL_ERROR);
    }

    #[test]
    fn unknown_property_id() {
        let bytes = [
            0x30, 0x06, // PUBLISH QoS 0, remaining length 6
            0x00, 0x01, b't', // topic
            0x02, // property length 2
            0x7F, 0x00, // property 0x7F does not exist
        ];
        assert_eq!(
            decode_err(&bytes, ProtocolVersion::V5),
            Error::UnknownProperty {
                packet: "PUBLISH",
                id: 0x7F
            }
        );
    }

    #[test]
    fn properties_are_dropped_for_3x() {
        // A v5 message forwarded to a 3.1.1 subscriber loses its properties.
        let mut p = publish(QoS::AtMostOnce, 0, "t", b"x");
        p.properties
            .push(PropertyId::ContentType, PropertyValue::String("c".into()));
        let mut out = BytesMut::new();
        crate::codec::encode(&Packet::Publish(p), ProtocolVersion::V311, &mut out).unwrap();
        assert_eq!(&out[..], [0x30, 0x04, 0x00, 0x01, b't', b'x']);
    }

    #[test]
    fn template_writes_the_same_bytes_as_the_packet() {
        let mut props = Properties::new();
        props.push(PropertyId::TopicAlias, PropertyValue::TwoByte(3));
        for version in [
            ProtocolVersion::V31,
            ProtocolVersion::V311,
            ProtocolVersion::V5,
        ] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let t = PublishTemplate::new("a/b", qos, true, &props, version).unwrap();
                let pid = if qos == QoS::AtMostOnce { 0 } else { 7 };
                let mut want = BytesMut::new();
                let mut p = publish(qos, pid, "a/b", b"hello");
                p.retain = true;
                p.dup = true;
                p.properties = props.clone();
                p.encode(version, &mut want).unwrap();
                let mut got = BytesMut::new();
                t.encode(true, pid, false, b"hello", &mut got).unwrap();
                assert_eq!(got, want, "{version:?} {qos:?}");
            }
        }
    }

    #[test]
    fn template_bytes_qos1_v5_alias_without_topic() {
        let mut props = Properties::new();
        props.push(PropertyId::TopicAlias, PropertyValue::TwoByte(3));
        let t = PublishTemplate::new("a/b", QoS::AtLeastOnce, false, &props, ProtocolVersion::V5)
            .unwrap();
        let mut out = BytesMut::new();
        t.encode(false, 0x0102, true, b"hi", &mut out).unwrap();
        assert_eq!(
            &out[..],
            &[
                0x32, // PUBLISH, QoS 1
                0x0A, // remaining length 10
                0x00, 0x00, // empty topic: the alias stands for it
                0x01, 0x02, // packet id 0x0102
                0x03, // property length 3
                0x23, 0x00, 0x03, // topic alias 3
                b'h', b'i', // payload
            ][..]
        );
        assert_eq!(t.topic(), "a/b");
        // QoS 1 needs a packet id; nothing is written then.
        let mut out = BytesMut::new();
        assert_eq!(
            t.encode(false, 0, false, b"", &mut out),
            Err(Error::ZeroPacketId { packet: "PUBLISH" })
        );
        assert!(out.is_empty());
    }
}
