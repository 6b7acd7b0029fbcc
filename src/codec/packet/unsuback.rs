//! UNSUBACK (3.1.1 §3.11, 5.0 §3.11).

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::properties::{self, PropertyContext};
use crate::codec::wire::{self, Reader};
use crate::codec::{Error, Properties, ProtocolVersion, ReasonCode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubAck {
    pub packet_id: u16,
    /// v5 only.
    pub properties: Properties,
    /// v5 only: one per filter. Empty for 3.x.
    pub reasons: Vec<ReasonCode>,
}

impl UnsubAck {
    /// 3.x: just the packet id (3.1.1 §3.11: remaining length 2). v5: packet id,
    /// properties, one reason code per filter (5.0 §3.11.3).
    pub(crate) fn decode(body: Bytes, version: ProtocolVersion) -> Result<UnsubAck, Error> {
        let mut r = Reader::new(body, "UNSUBACK");
        let packet_id = r.u16()?;
        if version != ProtocolVersion::V5 {
            r.finish()?;
            return Ok(UnsubAck {
                packet_id,
                properties: Properties::new(),
                reasons: Vec::new(),
            });
        }
        let properties = properties::decode(&mut r, PropertyContext::UnsubAck)?;
        let reasons = r.rest().iter().map(|&b| ReasonCode(b)).collect();
        Ok(UnsubAck {
            packet_id,
            properties,
            reasons,
        })
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), Error> {
        let mut body = BytesMut::with_capacity(3 + self.reasons.len());
        body.put_u16(self.packet_id);
        if version == ProtocolVersion::V5 {
            properties::encode(&self.properties, PropertyContext::UnsubAck, &mut body)?;
            body.extend(self.reasons.iter().map(|c| c.0));
        }
        wire::write_packet(out, 0xB0, &body, &[], "UNSUBACK")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::test_util::{check, decode_err};
    use crate::codec::{Packet, PropertyId, PropertyValue};

    #[test]
    fn v3_has_no_reason_codes() {
        let bytes = [
            0xB0, // UNSUBACK
            0x02, // remaining length 2
            0x00, 0x03, // packet id 3
        ];
        let u = UnsubAck {
            packet_id: 3,
            properties: Properties::new(),
            reasons: vec![],
        };
        check(&bytes, ProtocolVersion::V31, Packet::UnsubAck(u.clone()));
        check(&bytes, ProtocolVersion::V311, Packet::UnsubAck(u));
        assert!(matches!(
            decode_err(&[0xB0, 0x03, 0x00, 0x03, 0x00], ProtocolVersion::V311),
            Error::Malformed { .. }
        ));
    }

    #[test]
    fn v5_reason_codes() {
        let bytes = [
            0xB0, // UNSUBACK
            0x05, // remaining length 5
            0x00, 0x03, // packet id 3
            0x00, // property length 0
            0x00, // success
            0x11, // no subscription existed
        ];
        let u = UnsubAck {
            packet_id: 3,
            properties: Properties::new(),
            reasons: vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED],
        };
        check(&bytes, ProtocolVersion::V5, Packet::UnsubAck(u));
    }

    #[test]
    fn v5_with_reason_string() {
        let bytes = [
            0xB0, // UNSUBACK
            0x08, // remaining length 8
            0x00, 0x03, // packet id 3
            0x04, // property length 4
            0x1F, 0x00, 0x01, b'x', // reason string "x"
            0x87, // not authorized
        ];
        let mut properties = Properties::new();
        properties.push(PropertyId::ReasonString, PropertyValue::String("x".into()));
        let u = UnsubAck {
            packet_id: 3,
            properties,
            reasons: vec![ReasonCode::NOT_AUTHORIZED],
        };
        check(&bytes, ProtocolVersion::V5, Packet::UnsubAck(u));
    }

    #[test]
    fn v5_requires_property_length() {
        assert_eq!(
            decode_err(&[0xB0, 0x02, 0x00, 0x03], ProtocolVersion::V5),
            Error::Truncated { packet: "UNSUBACK" }
        );
    }
}
