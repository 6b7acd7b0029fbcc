//! SUBSCRIBE (3.1.1 §3.8, 5.0 §3.8) and the v5 subscription options.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::properties::{self, PropertyContext};
use crate::codec::wire::{self, Reader};
use crate::codec::{Error, Properties, ProtocolVersion, QoS};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: u16,
    /// v5 only (subscription identifier, user properties).
    pub properties: Properties,
    /// At least one (3.1.1 §3.8.3-3).
    pub filters: Vec<SubscribeFilter>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeFilter {
    pub filter: String,
    pub options: SubscriptionOptions,
}

/// The subscription options byte (5.0 §3.8.3.1). 3.x carries only `qos`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SubscriptionOptions {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

/// When retained messages are sent on subscribe (5.0 §3.8.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RetainHandling {
    #[default]
    SendAtSubscribe = 0,
    SendIfNewSubscription = 1,
    DoNotSend = 2,
}

fn malformed(what: &'static str) -> Error {
    Error::Malformed {
        packet: "SUBSCRIBE",
        what,
    }
}

impl SubscriptionOptions {
    /// Parses the options byte (3.1.1 §3.8.3.1, 5.0 §3.8.3.1).
    pub fn from_byte(b: u8, version: ProtocolVersion) -> Result<SubscriptionOptions, Error> {
        if version == ProtocolVersion::V5 {
            // 5.0 §3.8.3-5 [MQTT-3.8.3-5]: bits 6 and 7 reserved, must be 0.
            if b & 0xC0 != 0 {
                return Err(malformed("reserved subscription option bits set"));
            }
        } else if b & 0xFC != 0 {
            // 3.1.1 §3.8.3-4 [MQTT-3-8.3-4]: upper 6 bits reserved, must be 0.
            return Err(malformed("reserved bits set in requested QoS byte"));
        }
        // 3.1.1 §3.8.3-4, 5.0 §3.8.3.1: QoS 3 is malformed.
        let qos = QoS::from_u8(b & 0x03).ok_or_else(|| malformed("QoS 3"))?;
        let retain_handling = match (b >> 4) & 0x03 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNewSubscription,
            2 => RetainHandling::DoNotSend,
            // 5.0 §3.8.3.1: retain handling 3 is a malformed packet.
            _ => return Err(malformed("retain handling 3")),
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: b & 0x04 != 0,
            retain_as_published: b & 0x08 != 0,
            retain_handling,
        })
    }

    /// The options byte; 3.x carries the QoS only.
    pub fn to_byte(self, version: ProtocolVersion) -> u8 {
        let qos = self.qos as u8;
        if version != ProtocolVersion::V5 {
            return qos;
        }
        qos | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4)
    }
}

impl Subscribe {
    /// Packet id 0 is a protocol error (5.0 §2.2.1 [MQTT-2.2.1-3], as mosquitto);
    /// no filters at all is a protocol error (5.0 §3.8.3-2, 3.1.1 §3.8.3-3).
    pub(crate) fn decode(body: Bytes, version: ProtocolVersion) -> Result<Subscribe, Error> {
        let mut r = Reader::new(body, "SUBSCRIBE");
        let packet_id = r.u16()?;
        if packet_id == 0 {
            return Err(Error::ZeroPacketId {
                packet: "SUBSCRIBE",
            });
        }
        let properties = if version == ProtocolVersion::V5 {
            properties::decode(&mut r, PropertyContext::Subscribe)?
        } else {
            Properties::new()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string()?;
            let options = SubscriptionOptions::from_byte(r.u8()?, version)?;
            filters.push(SubscribeFilter { filter, options });
        }
        if filters.is_empty() {
            return Err(Error::Protocol {
                packet: "SUBSCRIBE",
                what: "no topic filters",
            });
        }
        Ok(Subscribe {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), Error> {
        if self.packet_id == 0 {
            return Err(Error::ZeroPacketId {
                packet: "SUBSCRIBE",
            });
        }
        if self.filters.is_empty() {
            return Err(Error::Protocol {
                packet: "SUBSCRIBE",
                what: "no topic filters",
            });
        }
        let mut body = BytesMut::new();
        body.put_u16(self.packet_id);
        if version == ProtocolVersion::V5 {
            properties::encode(&self.properties, PropertyContext::Subscribe, &mut body)?;
        }
        for f in &self.filters {
            wire::write_string(&mut body, &f.filter, "SUBSCRIBE")?;
            body.put_u8(f.options.to_byte(version));
        }
        wire::write_packet(out, 0x82, &body, &[], "SUBSCRIBE")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::test_util::{check, decode_err, encode_err};
    use crate::codec::{Packet, PropertyId, PropertyValue};

    fn filter(f: &str, qos: QoS) -> SubscribeFilter {
        SubscribeFilter {
            filter: f.into(),
            options: SubscriptionOptions {
                qos,
                ..SubscriptionOptions::default()
            },
        }
    }

    #[test]
    fn v3_two_filters() {
        let bytes = [
            0x82, // SUBSCRIBE, flags 0b0010
            0x0C, // remaining length 12
            0x00, 0x01, // packet id 1
            0x00, 0x03, b'a', b'/', b'b', // filter "a/b"
            0x01, // requested QoS 1
            0x00, 0x01, b'#', // filter "#"
            0x02, // requested QoS 2
        ];
        let s = Subscribe {
            packet_id: 1,
            properties: Properties::new(),
            filters: vec![
                filter("a/b", QoS::AtLeastOnce),
                filter("#", QoS::ExactlyOnce),
            ],
        };
        check(&bytes, ProtocolVersion::V31, Packet::Subscribe(s.clone()));
        check(&bytes, ProtocolVersion::V311, Packet::Subscribe(s));
    }

    #[test]
    fn v5_options_and_properties() {
        let bytes = [
            0x82, // SUBSCRIBE
            0x10, // remaining length 16
            0x00, 0x02, // packet id 2
            0x09, // property length 9
            0x0B, 0x05, // subscription identifier 5
            0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property k=v
            0x00, 0x01, b't', // filter "t"
            0x2E, // retain handling 2, retain as published, no local, QoS 2
        ];
        let mut props = Properties::new();
        props.push(PropertyId::SubscriptionIdentifier, PropertyValue::VarInt(5));
        props.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("k".into(), "v".into()),
        );
        let s = Subscribe {
            packet_id: 2,
            properties: props,
            filters: vec![SubscribeFilter {
                filter: "t".into(),
                options: SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::DoNotSend,
                },
            }],
        };
        check(&bytes, ProtocolVersion::V5, Packet::Subscribe(s));
    }

    #[test]
    fn errors() {
        let v3 = ProtocolVersion::V311;
        let v5 = ProtocolVersion::V5;
        // No filters at all.
        assert_eq!(
            decode_err(&[0x82, 0x02, 0x00, 0x01], v3),
            Error::Protocol {
                packet: "SUBSCRIBE",
                what: "no topic filters"
            }
        );
        assert!(matches!(
            decode_err(&[0x82, 0x03, 0x00, 0x01, 0x00], v5),
            Error::Protocol { .. }
        ));
        // Packet id 0.
        assert_eq!(
            decode_err(&[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b't', 0x00], v3),
            Error::ZeroPacketId {
                packet: "SUBSCRIBE"
            }
        );
        // Fixed header flags must be 0b0010.
        assert_eq!(
            decode_err(&[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b't', 0x00], v3),
            Error::InvalidHeaderFlags {
                packet: "SUBSCRIBE",
                flags: 0
            }
        );
        let opt = |b: u8, v| decode_err(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b't', b], v);
        let opt5 = |b: u8| decode_err(&[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b't', b], v5);
        assert_eq!(opt(0x03, v3), malformed("QoS 3"));
        assert_eq!(
            opt(0x04, v3),
            malformed("reserved bits set in requested QoS byte")
        );
        assert_eq!(opt5(0x03), malformed("QoS 3"));
        assert_eq!(opt5(0x30), malformed("retain handling 3"));
        assert_eq!(
            opt5(0x40),
            malformed("reserved subscription option bits set")
        );
        assert_eq!(
            opt5(0x80),
            malformed("reserved subscription option bits set")
        );
        // Filter truncated inside the packet.
        assert_eq!(
            decode_err(&[0x82, 0x05, 0x00, 0x01, 0x00, 0x05, b't'], v3),
            Error::Truncated {
                packet: "SUBSCRIBE"
            }
        );
        // Filter without its options byte.
        assert_eq!(
            decode_err(&[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b't'], v3),
            Error::Truncated {
                packet: "SUBSCRIBE"
            }
        );
        // Subscription identifier twice (only PUBLISH may repeat it).
        assert_eq!(
            decode_err(
                &[
                    0x82, 0x0B, 0x00, 0x01, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x01, b't', 0x00
                ],
                v5
            ),
            Error::DuplicateProperty {
                packet: "SUBSCRIBE",
                id: PropertyId::SubscriptionIdentifier
            }
        );
        // Subscription identifier 0.
        assert_eq!(
            decode_err(
                &[
                    0x82, 0x09, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01, b't', 0x00
                ],
                v5
            ),
            Error::InvalidPropertyValue {
                packet: "SUBSCRIBE",
                id: PropertyId::SubscriptionIdentifier
            }
        );
    }

    #[test]
    fn encode_refuses_empty_and_zero_id() {
        let s = Subscribe {
            packet_id: 1,
            properties: Properties::new(),
            filters: vec![],
        };
        assert!(matches!(
            encode_err(&Packet::Subscribe(s), ProtocolVersion::V311),
            Error::Protocol { .. }
        ));
        let s = Subscribe {
            packet_id: 0,
            properties: Properties::new(),
            filters: vec![filter("t", QoS::AtMostOnce)],
        };
        assert!(matches!(
            encode_err(&Packet::Subscribe(s), ProtocolVersion::V5),
            Error::ZeroPacketId { .. }
        ));
    }
}
