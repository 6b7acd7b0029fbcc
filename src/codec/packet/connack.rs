//! CONNACK (3.1.1 §3.2, 5.0 §3.2): the server's answer to CONNECT.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::properties::{self, PropertyContext};
use crate::codec::wire::{self, Reader};
use crate::codec::{Error, Properties, ProtocolVersion};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    /// 3.x connect return code (0–5) or v5 reason code (0x00, 0x80–0x9F).
    pub code: u8,
    /// v5 only.
    pub properties: Properties,
}

impl ConnAck {
    pub(crate) fn decode(body: Bytes, version: ProtocolVersion) -> Result<ConnAck, Error> {
        let mut r = Reader::new(body, "CONNACK");
        let flags = r.u8()?;
        // 3.1.1 §3.2.2.1, 5.0 §3.2.2.1: bits 7–1 are reserved and must be 0. In 3.1
        // the byte was an unused "topic name compression" field, so only bit 0 is read.
        if flags & 0xFE != 0 && version != ProtocolVersion::V31 {
            return Err(Error::Malformed {
                packet: "CONNACK",
                what: "reserved acknowledge flags set",
            });
        }
        let code = r.u8()?;
        let properties = if version == ProtocolVersion::V5 {
            properties::decode(&mut r, PropertyContext::ConnAck)?
        } else {
            Properties::new()
        };
        r.finish()?;
        Ok(ConnAck {
            session_present: flags & 0x01 != 0,
            code,
            properties,
        })
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), Error> {
        let mut body = BytesMut::with_capacity(3);
        body.put_u8(u8::from(self.session_present));
        body.put_u8(self.code);
        if version == ProtocolVersion::V5 {
            // 5.0 §3.2.2.3: the property length is always present in CONNACK.
            properties::encode(&self.properties, PropertyContext::ConnAck, &mut body)?;
        }
        wire::write_packet(out, 0x20, &body, &[], "CONNACK")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::test_util::{check, decode_err, decodes_to};
    use crate::codec::{Packet, PropertyId, PropertyValue};

    fn connack(session_present: bool, code: u8) -> ConnAck {
        ConnAck {
            session_present,
            code,
            properties: Properties::new(),
        }
    }

    #[test]
    fn v311_session_present() {
        let bytes = [
            0x20, // CONNACK
            0x02, // remaining length 2
            0x01, // acknowledge flags: session present
            0x00, // return code 0: accepted
        ];
        check(
            &bytes,
            ProtocolVersion::V311,
            Packet::ConnAck(connack(true, 0)),
        );
    }

    #[test]
    fn v31_refused() {
        let bytes = [
            0x20, // CONNACK
            0x02, // remaining length 2
            0x00, // reserved (3.1: unused)
            0x05, // return code 5: not authorised
        ];
        check(
            &bytes,
            ProtocolVersion::V31,
            Packet::ConnAck(connack(false, 5)),
        );
        // 3.1 ignores the reserved bits of that byte.
        decodes_to(
            &[0x20, 0x02, 0xFE, 0x05],
            ProtocolVersion::V31,
            Packet::ConnAck(connack(false, 5)),
        );
    }

    #[test]
    fn v5_minimal() {
        let bytes = [
            0x20, // CONNACK
            0x03, // remaining length 3
            0x00, // acknowledge flags
            0x00, // reason code: success
            0x00, // property length 0
        ];
        check(
            &bytes,
            ProtocolVersion::V5,
            Packet::ConnAck(connack(false, 0)),
        );
    }

    #[test]
    fn v5_with_properties() {
        let bytes = [
            0x20, // CONNACK
            0x13, // remaining length 19
            0x00, // acknowledge flags
            0x00, // reason code: success
            0x10, // property length 16
            0x12, 0x00, 0x03, b'a', b'b', b'c', // assigned client identifier "abc"
            0x22, 0x00, 0x0A, // topic alias maximum 10
            0x21, 0x00, 0x14, // receive maximum 20
            0x24, 0x01, // maximum QoS 1
            0x25, 0x00, // retain available 0
        ];
        let mut c = connack(false, 0);
        let p = &mut c.properties;
        p.push(
            PropertyId::AssignedClientIdentifier,
            PropertyValue::String("abc".into()),
        );
        p.push(PropertyId::TopicAliasMaximum, PropertyValue::TwoByte(10));
        p.push(PropertyId::ReceiveMaximum, PropertyValue::TwoByte(20));
        p.push(PropertyId::MaximumQos, PropertyValue::Byte(1));
        p.push(PropertyId::RetainAvailable, PropertyValue::Byte(0));
        check(&bytes, ProtocolVersion::V5, Packet::ConnAck(c));
    }

    #[test]
    fn errors() {
        // 3.1.1 §3.2.2.1: reserved acknowledge flag bits.
        assert!(matches!(
            decode_err(&[0x20, 0x02, 0x02, 0x00], ProtocolVersion::V311),
            Error::Malformed { .. }
        ));
        // v5 requires the property length.
        assert_eq!(
            decode_err(&[0x20, 0x02, 0x00, 0x00], ProtocolVersion::V5),
            Error::Truncated { packet: "CONNACK" }
        );
        // Maximum QoS 2 is a protocol error (5.0 §3.2.2.3.4).
        assert_eq!(
            decode_err(
                &[0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02],
                ProtocolVersion::V5
            ),
            Error::InvalidPropertyValue {
                packet: "CONNACK",
                id: PropertyId::MaximumQos
            }
        );
        // 3.x CONNACK is exactly 2 bytes.
        assert!(matches!(
            decode_err(&[0x20, 0x03, 0x00, 0x00, 0x00], ProtocolVersion::V311),
            Error::Malformed { .. }
        ));
    }
}
