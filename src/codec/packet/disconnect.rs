//! DISCONNECT (3.1.1 §3.14, 5.0 §3.14): sent by the client, and by the server in v5.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::properties::{self, PropertyContext};
use crate::codec::wire::{self, Reader};
use crate::codec::{Error, Properties, ProtocolVersion, ReasonCode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disconnect {
    /// v5 only; 3.x decodes as normal disconnection (0x00).
    pub reason: ReasonCode,
    /// v5 only.
    pub properties: Properties,
}

impl Disconnect {
    /// 3.x: nothing after the fixed header (3.1.1 §3.14.2). v5 (§3.14.2.1,
    /// §3.14.2.2.1): remaining length 0 is normal disconnection, 1 a reason without
    /// properties.
    pub(crate) fn decode(body: Bytes, version: ProtocolVersion) -> Result<Disconnect, Error> {
        let mut r = Reader::new(body, "DISCONNECT");
        if version != ProtocolVersion::V5 || r.is_empty() {
            r.finish()?;
            return Ok(Disconnect {
                reason: ReasonCode::NORMAL_DISCONNECTION,
                properties: Properties::new(),
            });
        }
        let reason = ReasonCode(r.u8()?);
        let properties = if r.is_empty() {
            Properties::new()
        } else {
            properties::decode(&mut r, PropertyContext::Disconnect)?
        };
        r.finish()?;
        Ok(Disconnect { reason, properties })
    }

    /// Shortest form, as mosquitto writes it: length 0, 1, or reason + properties.
    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), Error> {
        let mut body = BytesMut::new();
        if version == ProtocolVersion::V5
            && (self.reason != ReasonCode::NORMAL_DISCONNECTION || !self.properties.is_empty())
        {
            body.put_u8(self.reason.0);
            if !self.properties.is_empty() {
                properties::encode(&self.properties, PropertyContext::Disconnect, &mut body)?;
            }
        }
        wire::write_packet(out, 0xE0, &body, &[], "DISCONNECT")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::test_util::{check, decode_err, decodes_to};
    use crate::codec::{Packet, PropertyId, PropertyValue};

    fn disconnect(reason: ReasonCode) -> Packet {
        Packet::Disconnect(Disconnect {
            reason,
            properties: Properties::new(),
        })
    }

    #[test]
    fn v3_and_v5_short_form() {
        let bytes = [
            0xE0, // DISCONNECT
            0x00, // remaining length 0 (v5: normal disconnection, no properties)
        ];
        for v in [
            ProtocolVersion::V31,
            ProtocolVersion::V311,
            ProtocolVersion::V5,
        ] {
            check(&bytes, v, disconnect(ReasonCode::NORMAL_DISCONNECTION));
        }
    }

    #[test]
    fn v5_reason_only() {
        let bytes = [
            0xE0, // DISCONNECT
            0x01, // remaining length 1: no property length
            0x04, // disconnect with will message
        ];
        check(
            &bytes,
            ProtocolVersion::V5,
            disconnect(ReasonCode::DISCONNECT_WITH_WILL_MESSAGE),
        );
    }

    #[test]
    fn v5_with_properties() {
        let bytes = [
            0xE0, // DISCONNECT
            0x0D, // remaining length 13
            0x9C, // use another server
            0x0B, // property length 11
            0x1C, 0x00, 0x03, b's', b'r', b'v', // server reference "srv"
            0x11, 0x00, 0x00, 0x00, 0x00, // session expiry interval 0
        ];
        let mut properties = Properties::new();
        properties.push(
            PropertyId::ServerReference,
            PropertyValue::String("srv".into()),
        );
        properties.push(
            PropertyId::SessionExpiryInterval,
            PropertyValue::FourByte(0),
        );
        let d = Disconnect {
            reason: ReasonCode::USE_ANOTHER_SERVER,
            properties,
        };
        check(&bytes, ProtocolVersion::V5, Packet::Disconnect(d));
    }

    #[test]
    fn v5_long_form_of_normal_decodes() {
        decodes_to(
            &[0xE0, 0x02, 0x00, 0x00],
            ProtocolVersion::V5,
            disconnect(ReasonCode::NORMAL_DISCONNECTION),
        );
    }

    #[test]
    fn errors() {
        // 3.x DISCONNECT has no body.
        assert!(matches!(
            decode_err(&[0xE0, 0x01, 0x00], ProtocolVersion::V311),
            Error::Malformed { .. }
        ));
        assert!(matches!(
            decode_err(&[0xE2, 0x00], ProtocolVersion::V5),
            Error::InvalidHeaderFlags { flags: 2, .. }
        ));
        // Topic alias is not a DISCONNECT property.
        assert_eq!(
            decode_err(
                &[0xE0, 0x05, 0x00, 0x03, 0x23, 0x00, 0x01],
                ProtocolVersion::V5
            ),
            Error::PropertyNotAllowed {
                packet: "DISCONNECT",
                id: PropertyId::TopicAlias
            }
        );
    }
}
