//! AUTH (5.0 §3.15): extended authentication exchange, MQTT 5.0 only.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::properties::{self, PropertyContext};
use crate::codec::wire::{self, Reader};
use crate::codec::{Error, Properties, ProtocolVersion, ReasonCode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    pub reason: ReasonCode,
    pub properties: Properties,
}

impl Auth {
    /// 5.0 §3.15.2.1: remaining length 0 means success with no properties. A lone
    /// reason byte is accepted too (as DISCONNECT allows, §3.14.2.2.1).
    pub(crate) fn decode(body: Bytes) -> Result<Auth, Error> {
        let mut r = Reader::new(body, "AUTH");
        if r.is_empty() {
            return Ok(Auth {
                reason: ReasonCode::SUCCESS,
                properties: Properties::new(),
            });
        }
        let reason = ReasonCode(r.u8()?);
        let properties = if r.is_empty() {
            Properties::new()
        } else {
            properties::decode(&mut r, PropertyContext::Auth)?
        };
        r.finish()?;
        Ok(Auth { reason, properties })
    }

    /// Success without properties is the 2-byte short form; otherwise the reason
    /// and a property list (the spec allows omitting only both).
    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), Error> {
        if version != ProtocolVersion::V5 {
            return Err(Error::NotInVersion {
                packet: "AUTH",
                version,
            });
        }
        let mut body = BytesMut::new();
        if self.reason != ReasonCode::SUCCESS || !self.properties.is_empty() {
            body.put_u8(self.reason.0);
            properties::encode(&self.properties, PropertyContext::Auth, &mut body)?;
        }
        wire::write_packet(out, 0xF0, &body, &[], "AUTH")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::test_util::{check, decode_err, decodes_to, encode_err};
    use crate::codec::{Packet, PropertyId, PropertyValue};

    fn auth(reason: ReasonCode) -> Auth {
        Auth {
            reason,
            properties: Properties::new(),
        }
    }

    #[test]
    fn short_form() {
        let bytes = [
            0xF0, // AUTH
            0x00, // remaining length 0: success, no properties
        ];
        check(
            &bytes,
            ProtocolVersion::V5,
            Packet::Auth(auth(ReasonCode::SUCCESS)),
        );
    }

    #[test]
    fn continue_with_method_and_data() {
        let bytes = [
            0xF0, // AUTH
            0x0E, // remaining length 14
            0x18, // continue authentication
            0x0C, // property length 12
            0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M', // authentication method "SCRAM"
            0x16, 0x00, 0x01, 0xAB, // authentication data AB
        ];
        let mut a = auth(ReasonCode::CONTINUE_AUTHENTICATION);
        a.properties.push(
            PropertyId::AuthenticationMethod,
            PropertyValue::String("SCRAM".into()),
        );
        a.properties.push(
            PropertyId::AuthenticationData,
            PropertyValue::Binary(Bytes::from_static(&[0xAB])),
        );
        check(&bytes, ProtocolVersion::V5, Packet::Auth(a));
    }

    #[test]
    fn reason_without_properties() {
        // Encoded with an empty property list; a lone reason byte also decodes.
        let bytes = [
            0xF0, // AUTH
            0x02, // remaining length 2
            0x19, // re-authenticate
            0x00, // property length 0
        ];
        check(
            &bytes,
            ProtocolVersion::V5,
            Packet::Auth(auth(ReasonCode::REAUTHENTICATE)),
        );
        decodes_to(
            &[0xF0, 0x01, 0x19],
            ProtocolVersion::V5,
            Packet::Auth(auth(ReasonCode::REAUTHENTICATE)),
        );
    }

    #[test]
    fn not_in_3x() {
        for v in [ProtocolVersion::V31, ProtocolVersion::V311] {
            let e = decode_err(&[0xF0, 0x00], v);
            assert_eq!(
                e,
                Error::NotInVersion {
                    packet: "AUTH",
                    version: v
                }
            );
            assert_eq!(
                encode_err(&Packet::Auth(auth(ReasonCode::SUCCESS)), v),
                Error::NotInVersion {
                    packet: "AUTH",
                    version: v
                }
            );
        }
    }

    #[test]
    fn errors() {
        assert!(matches!(
            decode_err(&[0xF1, 0x00], ProtocolVersion::V5),
            Error::InvalidHeaderFlags { flags: 1, .. }
        ));
        // Duplicate authentication method (5.0 §3.15.2.2.2: protocol error).
        let bytes = [
            0xF0, 0x0A, 0x18, 0x08, 0x15, 0x00, 0x01, b'a', 0x15, 0x00, 0x01, b'b',
        ];
        assert_eq!(
            decode_err(&bytes, ProtocolVersion::V5),
            Error::DuplicateProperty {
                packet: "AUTH",
                id: PropertyId::AuthenticationMethod
            }
        );
    }
}
