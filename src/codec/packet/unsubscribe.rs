//! UNSUBSCRIBE (3.1.1 §3.10, 5.0 §3.10).

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::properties::{self, PropertyContext};
use crate::codec::wire::{self, Reader};
use crate::codec::{Error, Properties, ProtocolVersion};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: u16,
    /// v5 only.
    pub properties: Properties,
    pub filters: Vec<String>,
}

impl Unsubscribe {
    /// Packet id 0 is a protocol error (5.0 §2.2.1 [MQTT-2.2.1-3]); no filters is a
    /// protocol error (5.0 §3.10.3-2, 3.1.1 §3.10.3-2).
    pub(crate) fn decode(body: Bytes, version: ProtocolVersion) -> Result<Unsubscribe, Error> {
        let mut r = Reader::new(body, "UNSUBSCRIBE");
        let packet_id = r.u16()?;
        if packet_id == 0 {
            return Err(Error::ZeroPacketId {
                packet: "UNSUBSCRIBE",
            });
        }
        let properties = if version == ProtocolVersion::V5 {
            properties::decode(&mut r, PropertyContext::Unsubscribe)?
        } else {
            Properties::new()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(r.string()?);
        }
        if filters.is_empty() {
            return Err(Error::Protocol {
                packet: "UNSUBSCRIBE",
                what: "no topic filters",
            });
        }
        Ok(Unsubscribe {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), Error> {
        if self.packet_id == 0 {
            return Err(Error::ZeroPacketId {
                packet: "UNSUBSCRIBE",
            });
        }
        if self.filters.is_empty() {
            return Err(Error::Protocol {
                packet: "UNSUBSCRIBE",
                what: "no topic filters",
            });
        }
        let mut body = BytesMut::new();
        body.put_u16(self.packet_id);
        if version == ProtocolVersion::V5 {
            properties::encode(&self.properties, PropertyContext::Unsubscribe, &mut body)?;
        }
        for f in &self.filters {
            wire::write_string(&mut body, f, "UNSUBSCRIBE")?;
        }
        wire::write_packet(out, 0xA2, &body, &[], "UNSUBSCRIBE")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::test_util::{check, decode_err, encode_err};
    use crate::codec::{Packet, PropertyId, PropertyValue};

    #[test]
    fn v3() {
        let bytes = [
            0xA2, // UNSUBSCRIBE, flags 0b0010
            0x0A, // remaining length 10
            0x00, 0x03, // packet id 3
            0x00, 0x03, b'a', b'/', b'b', // filter "a/b"
            0x00, 0x01, b'#', // filter "#"
        ];
        let u = Unsubscribe {
            packet_id: 3,
            properties: Properties::new(),
            filters: vec!["a/b".into(), "#".into()],
        };
        check(&bytes, ProtocolVersion::V31, Packet::Unsubscribe(u.clone()));
        check(&bytes, ProtocolVersion::V311, Packet::Unsubscribe(u));
    }

    #[test]
    fn v5_with_user_property() {
        let bytes = [
            0xA2, // UNSUBSCRIBE
            0x0D, // remaining length 13
            0x00, 0x03, // packet id 3
            0x07, // property length 7
            0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property k=v
            0x00, 0x01, b't', // filter "t"
        ];
        let mut properties = Properties::new();
        properties.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("k".into(), "v".into()),
        );
        let u = Unsubscribe {
            packet_id: 3,
            properties,
            filters: vec!["t".into()],
        };
        check(&bytes, ProtocolVersion::V5, Packet::Unsubscribe(u));
    }

    #[test]
    fn errors() {
        let v3 = ProtocolVersion::V311;
        assert_eq!(
            decode_err(&[0xA2, 0x02, 0x00, 0x01], v3),
            Error::Protocol {
                packet: "UNSUBSCRIBE",
                what: "no topic filters"
            }
        );
        assert_eq!(
            decode_err(&[0xA2, 0x05, 0x00, 0x00, 0x00, 0x01, b't'], v3),
            Error::ZeroPacketId {
                packet: "UNSUBSCRIBE"
            }
        );
        assert!(matches!(
            decode_err(&[0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, b't'], v3),
            Error::InvalidHeaderFlags { flags: 0, .. }
        ));
        assert_eq!(
            decode_err(&[0xA2, 0x05, 0x00, 0x01, 0x00, 0x02, b't'], v3),
            Error::Truncated {
                packet: "UNSUBSCRIBE"
            }
        );
        // Subscription identifier is a SUBSCRIBE property, not an UNSUBSCRIBE one.
        assert_eq!(
            decode_err(
                &[0xA2, 0x08, 0x00, 0x01, 0x02, 0x0B, 0x01, 0x00, 0x01, b't'],
                ProtocolVersion::V5
            ),
            Error::PropertyNotAllowed {
                packet: "UNSUBSCRIBE",
                id: PropertyId::SubscriptionIdentifier
            }
        );
        let u = Unsubscribe {
            packet_id: 1,
            properties: Properties::new(),
            filters: vec![],
        };
        assert!(matches!(
            encode_err(&Packet::Unsubscribe(u), v3),
            Error::Protocol { .. }
        ));
    }
}
