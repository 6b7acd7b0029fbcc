//! SUBACK (3.1.1 §3.9, 5.0 §3.9): one return/reason code per requested filter.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::properties::{self, PropertyContext};
use crate::codec::wire::{self, Reader};
use crate::codec::{Error, Properties, ProtocolVersion, ReasonCode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck {
    pub packet_id: u16,
    /// v5 only.
    pub properties: Properties,
    /// Granted QoS 0/1/2, or a failure (0x80 in 3.x; any v5 error code).
    pub reasons: Vec<ReasonCode>,
}

impl SubAck {
    /// 3.x return codes are 0, 1, 2 or 0x80; others are reserved (3.1.1 §3.9.3
    /// [MQTT-3.9.3-2]) and malformed. 0x80 came with 3.1.1, but 3.1 brokers such as
    /// mosquitto send it too, so it is accepted for 3.1 as well.
    pub(crate) fn decode(body: Bytes, version: ProtocolVersion) -> Result<SubAck, Error> {
        let mut r = Reader::new(body, "SUBACK");
        let packet_id = r.u16()?;
        let properties = if version == ProtocolVersion::V5 {
            properties::decode(&mut r, PropertyContext::SubAck)?
        } else {
            Properties::new()
        };
        let reasons: Vec<ReasonCode> = r.rest().iter().map(|&b| ReasonCode(b)).collect();
        if version != ProtocolVersion::V5
            && reasons.iter().any(|c| !matches!(c.0, 0 | 1 | 2 | 0x80))
        {
            return Err(Error::Malformed {
                packet: "SUBACK",
                what: "reserved return code",
            });
        }
        Ok(SubAck {
            packet_id,
            properties,
            reasons,
        })
    }

    /// In 3.x every v5 failure code (>= 0x80) is written as 0x80, the one 3.x
    /// failure; a success code other than a granted QoS cannot be expressed.
    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), Error> {
        let mut body = BytesMut::with_capacity(4 + self.reasons.len());
        body.put_u16(self.packet_id);
        if version == ProtocolVersion::V5 {
            properties::encode(&self.properties, PropertyContext::SubAck, &mut body)?;
            body.extend(self.reasons.iter().map(|c| c.0));
        } else {
            for c in &self.reasons {
                match c.0 {
                    0..=2 => body.put_u8(c.0),
                    0x80.. => body.put_u8(0x80),
                    _ => {
                        return Err(Error::Malformed {
                            packet: "SUBACK",
                            what: "reason code has no 3.x return code",
                        });
                    }
                }
            }
        }
        wire::write_packet(out, 0x90, &body, &[], "SUBACK")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::test_util::{check, decode_err, encode_err};
    use crate::codec::{Packet, PropertyId, PropertyValue};

    #[test]
    fn v3_return_codes() {
        let bytes = [
            0x90, // SUBACK
            0x05, // remaining length 5
            0x00, 0x01, // packet id 1
            0x00, // granted QoS 0
            0x01, // granted QoS 1
            0x80, // failure
        ];
        let s = SubAck {
            packet_id: 1,
            properties: Properties::new(),
            reasons: vec![ReasonCode(0), ReasonCode(1), ReasonCode(0x80)],
        };
        check(&bytes, ProtocolVersion::V31, Packet::SubAck(s.clone()));
        check(&bytes, ProtocolVersion::V311, Packet::SubAck(s));
    }

    #[test]
    fn v5_with_reason_string() {
        let bytes = [
            0x90, // SUBACK
            0x0B, // remaining length 11
            0x00, 0x01, // packet id 1
            0x06, // property length 6
            0x1F, 0x00, 0x03, b'n', b'o', b'!', // reason string "no!"
            0x02, // granted QoS 2
            0x87, // not authorized
        ];
        let mut properties = Properties::new();
        properties.push(
            PropertyId::ReasonString,
            PropertyValue::String("no!".into()),
        );
        let s = SubAck {
            packet_id: 1,
            properties,
            reasons: vec![ReasonCode::GRANTED_QOS_2, ReasonCode::NOT_AUTHORIZED],
        };
        check(&bytes, ProtocolVersion::V5, Packet::SubAck(s));
    }

    #[test]
    fn v3_maps_v5_failures_to_0x80() {
        let s = SubAck {
            packet_id: 7,
            properties: Properties::new(),
            reasons: vec![ReasonCode::NOT_AUTHORIZED, ReasonCode::GRANTED_QOS_1],
        };
        let mut out = bytes::BytesMut::new();
        crate::codec::encode(&Packet::SubAck(s), ProtocolVersion::V311, &mut out).unwrap();
        assert_eq!(&out[..], [0x90, 0x04, 0x00, 0x07, 0x80, 0x01]);
        let s = SubAck {
            packet_id: 7,
            properties: Properties::new(),
            reasons: vec![ReasonCode::NO_MATCHING_SUBSCRIBERS],
        };
        assert!(matches!(
            encode_err(&Packet::SubAck(s), ProtocolVersion::V311),
            Error::Malformed { .. }
        ));
    }

    #[test]
    fn errors() {
        // 3.1.1 [MQTT-3.9.3-2]: return code 3 is reserved.
        assert!(matches!(
            decode_err(&[0x90, 0x03, 0x00, 0x01, 0x03], ProtocolVersion::V311),
            Error::Malformed { .. }
        ));
        // Flags must be 0.
        assert!(matches!(
            decode_err(&[0x92, 0x03, 0x00, 0x01, 0x00], ProtocolVersion::V311),
            Error::InvalidHeaderFlags { .. }
        ));
        // v5 property length runs past the end.
        assert_eq!(
            decode_err(&[0x90, 0x04, 0x00, 0x01, 0x05, 0x00], ProtocolVersion::V5),
            Error::Truncated { packet: "SUBACK" }
        );
    }
}
