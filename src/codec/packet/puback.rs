//! PUBACK (3.1.1 §3.4, 5.0 §3.4): a step of the QoS 1/2 handshake.

use bytes::{Buf, Bytes, BytesMut};

use crate::codec::packet::ack;
use crate::codec::properties::PropertyContext;
use crate::codec::{Error, Properties, ProtocolVersion, ReasonCode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PubAck {
    pub packet_id: u16,
    /// v5 only; 3.x has none (decoded as success).
    pub reason: ReasonCode,
    /// v5 only.
    pub properties: Properties,
}

impl PubAck {
    pub(crate) fn decode(body: Bytes, version: ProtocolVersion) -> Result<PubAck, Error> {
        let (packet_id, reason, properties) = ack::decode(body, version, PropertyContext::PubAck)?;
        Ok(PubAck {
            packet_id,
            reason,
            properties,
        })
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), Error> {
        ack::encode(
            0x40,
            self.packet_id,
            self.reason,
            &self.properties,
            version,
            PropertyContext::PubAck,
            out,
        )
    }
}

/// Takes a PUBACK that carries only a packet id off the front of `buf` and returns
/// the id, without building a packet: the fast path of a QoS 1 publisher, which reads
/// one per message. That form (remaining length 2) is every 3.x PUBACK and a v5 one
/// with reason Success and no properties (5.0 §3.4.2.1). `None` leaves `buf` as it is.
pub fn take_plain(buf: &mut BytesMut) -> Option<u16> {
    match buf[..] {
        [0x40, 0x02, hi, lo, ..] => {
            buf.advance(4);
            Some(u16::from_be_bytes([hi, lo]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::test_util::{check, decode_err, decodes_to};
    use crate::codec::{Packet, PropertyId, PropertyValue};

    fn ack(packet_id: u16, reason: u8) -> Packet {
        Packet::PubAck(PubAck {
            packet_id,
            reason: ReasonCode(reason),
            properties: Properties::new(),
        })
    }

    #[test]
    fn v3() {
        let bytes = [
            0x40, // PUBACK
            0x02, // remaining length 2
            0x00, 0x0A, // packet id 10
        ];
        check(&bytes, ProtocolVersion::V31, ack(10, 0));
        check(&bytes, ProtocolVersion::V311, ack(10, 0));
    }

    #[test]
    fn v5_success_short_form() {
        // 5.0 §3.4.2.1: reason 0x00 without properties may be left out entirely.
        let bytes = [
            0x40, // PUBACK
            0x02, // remaining length 2
            0xFF, 0xFF, // packet id 65535
        ];
        check(&bytes, ProtocolVersion::V5, ack(0xFFFF, 0));
    }

    #[test]
    fn v5_reason_without_properties() {
        let bytes = [
            0x40, // PUBACK
            0x03, // remaining length 3: no property length
            0x00, 0x0A, // packet id 10
            0x10, // reason code
        ];
        check(&bytes, ProtocolVersion::V5, ack(10, 0x10));
    }

    #[test]
    fn v5_reason_and_reason_string() {
        let bytes = [
            0x40, // PUBACK
            0x0A, // remaining length 10
            0x00, 0x0A, // packet id 10
            0x10, // reason code
            0x06, // property length 6
            0x1F, 0x00, 0x03, b'b', b'a', b'd', // reason string "bad"
        ];
        let mut p = PubAck {
            packet_id: 10,
            reason: ReasonCode(0x10),
            properties: Properties::new(),
        };
        p.properties.push(
            PropertyId::ReasonString,
            PropertyValue::String("bad".into()),
        );
        check(&bytes, ProtocolVersion::V5, Packet::PubAck(p));
    }

    #[test]
    fn v5_long_form_of_success_decodes() {
        // Reason 0 and an empty property list, written out in full.
        let bytes = [0x40, 0x04, 0x00, 0x0A, 0x00, 0x00];
        decodes_to(&bytes, ProtocolVersion::V5, ack(10, 0));
    }

    #[test]
    fn errors() {
        // 3.x: remaining length must be 2.
        assert!(matches!(
            decode_err(&[0x40, 0x03, 0x00, 0x0A, 0x00], ProtocolVersion::V311),
            Error::Malformed { .. }
        ));
        // Packet id cut short.
        assert_eq!(
            decode_err(&[0x40, 0x01, 0x00], ProtocolVersion::V5),
            Error::Truncated { packet: "PUBACK" }
        );
        // Bad fixed-header flags.
        assert_eq!(
            decode_err(&[0x41, 0x02, 0x00, 0x01], ProtocolVersion::V311),
            Error::InvalidHeaderFlags {
                packet: "PUBACK",
                flags: 0x01
            }
        );
        // A property PUBACK does not allow.
        assert_eq!(
            decode_err(
                &[0x40, 0x07, 0x00, 0x01, 0x00, 0x03, 0x23, 0x00, 0x01],
                ProtocolVersion::V5
            ),
            Error::PropertyNotAllowed {
                packet: "PUBACK",
                id: PropertyId::TopicAlias
            }
        );
        // Bytes after the properties.
        assert!(matches!(
            decode_err(
                &[0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00],
                ProtocolVersion::V5
            ),
            Error::Malformed { .. }
        ));
    }

    #[test]
    fn mqtt31_flags_are_not_checked() {
        // 3.1 predates the fixed-flags rule (see `check_type_and_flags`).
        decodes_to(&[0x41, 0x02, 0x00, 0x01], ProtocolVersion::V31, ack(1, 0));
    }

    #[test]
    fn v3_drops_reason_and_properties() {
        let mut out = bytes::BytesMut::new();
        crate::codec::encode(&ack(1, 0x80), ProtocolVersion::V311, &mut out).unwrap();
        assert_eq!(&out[..], [0x40, 0x02, 0x00, 0x01]);
    }

    #[test]
    fn plain_pubacks_are_taken_without_decoding() {
        let mut buf = BytesMut::from(
            &[
                0x40, 0x02, 0x00, 0x0A, // PUBACK 10
                0x40, 0x03, 0x00, 0x0B, 0x10, // PUBACK 11, reason 0x10: not plain
            ][..],
        );
        assert_eq!(take_plain(&mut buf), Some(10));
        assert_eq!(take_plain(&mut buf), None);
        assert_eq!(buf.len(), 5, "a PUBACK with a reason is left for decode");
        // Incomplete: left alone.
        let mut buf = BytesMut::from(&[0x40, 0x02, 0x00][..]);
        assert_eq!(take_plain(&mut buf), None);
        assert_eq!(buf.len(), 3);
    }
}
