//! CONNECT (MQTT 3.1 §3.1, 3.1.1 §3.1, 5.0 §3.1): the first packet a client sends.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::properties::{self, PropertyContext};
use crate::codec::wire::{self, Reader};
use crate::codec::{Error, Properties, ProtocolVersion, QoS};

/// A CONNECT packet. The protocol version is read from the packet itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    /// From the protocol name and level; decides how everything after CONNECT is coded.
    pub version: ProtocolVersion,
    /// "Clean session" in 3.x, "clean start" in 5.0.
    pub clean_start: bool,
    /// Seconds; 0 disables keepalive.
    pub keep_alive: u16,
    /// v5 CONNECT properties; always empty for 3.x.
    pub properties: Properties,
    /// May be empty (3.1.1 with clean session, or 5.0) for a server-assigned id.
    pub client_id: String,
    pub will: Option<Will>,
    pub username: Option<String>,
    /// Binary in MQTT; 3.1 and 3.1.1 allow a password only with a username.
    pub password: Option<Bytes>,
}

/// The last will carried in CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// v5 will properties (will delay interval, message expiry, …).
    pub properties: Properties,
}

fn malformed(what: &'static str) -> Error {
    Error::Malformed {
        packet: "CONNECT",
        what,
    }
}

// Connect flags (3.1.1 §3.1.2.3, 5.0 §3.1.2.3).
const RESERVED: u8 = 0x01;
const CLEAN_START: u8 = 0x02;
const WILL: u8 = 0x04;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD: u8 = 0x40;
const USERNAME: u8 = 0x80;

impl Connect {
    /// Decodes CONNECT, taking the version from its protocol name and level.
    ///
    /// Unknown name/level → `UnsupportedProtocol` (3.1.1 §3.1.2.2: answer CONNACK 1;
    /// 5.0: 0x84). mosquitto's bridge variant (level | 0x80) is not accepted.
    /// Client identifier length and characters are left to the broker (3.1 says
    /// 1..=23 characters, mosquitto accepts more).
    pub(crate) fn decode(flags: u8, body: Bytes) -> Result<Connect, Error> {
        let mut r = Reader::new(body, "CONNECT");
        let name = r.binary()?;
        let level = r.u8()?;
        let version = match (&name[..], level) {
            (b"MQIsdp", 3) => ProtocolVersion::V31,
            (b"MQTT", 4) => ProtocolVersion::V311,
            (b"MQTT", 5) => ProtocolVersion::V5,
            _ => {
                return Err(Error::UnsupportedProtocol {
                    name: String::from_utf8_lossy(&name).into_owned(),
                    level,
                });
            }
        };
        // 3.1.1 §2.2.2, 5.0 §2.1.3: CONNECT flags are 0 (3.1 did not require it).
        if flags != 0 && version != ProtocolVersion::V31 {
            return Err(Error::InvalidHeaderFlags {
                packet: "CONNECT",
                flags,
            });
        }
        let cf = r.u8()?;
        // 3.1.1 §3.1.2-3 [MQTT-3.1.2-3], 5.0 §3.1.2.3: the reserved flag must be 0.
        if cf & RESERVED != 0 {
            return Err(malformed("reserved connect flag set"));
        }
        let will_flag = cf & WILL != 0;
        let will_qos_bits = (cf >> WILL_QOS_SHIFT) & 0x03;
        let will_retain = cf & WILL_RETAIN != 0;
        // 3.1.1 §3.1.2-14, 5.0 §3.1.2.6: will QoS 3 is malformed.
        let will_qos = QoS::from_u8(will_qos_bits).ok_or_else(|| malformed("will QoS 3"))?;
        // 3.1.1 [MQTT-3.1.2-11]/[MQTT-3.1.2-13]/[MQTT-3.1.2-15], 5.0 §3.1.2.5–7:
        // without a will, will QoS and will retain must be 0.
        if !will_flag && (will_qos_bits != 0 || will_retain) {
            return Err(malformed("will QoS or retain set without a will"));
        }
        let has_password = cf & PASSWORD != 0;
        let has_username = cf & USERNAME != 0;
        // 3.1.1 [MQTT-3.1.2-22]: no password without a user name. 5.0 §3.1.2.9
        // dropped the rule (a password alone may carry a token).
        if has_password && !has_username && version != ProtocolVersion::V5 {
            return Err(malformed("password flag set without user name flag"));
        }
        let keep_alive = r.u16()?;
        let properties = if version == ProtocolVersion::V5 {
            properties::decode(&mut r, PropertyContext::Connect)?
        } else {
            Properties::new()
        };
        // Payload order (3.1.1 §3.1.3, 5.0 §3.1.3): client id, will properties,
        // will topic, will payload, user name, password.
        let client_id = r.string()?;
        let will = if will_flag {
            let properties = if version == ProtocolVersion::V5 {
                properties::decode(&mut r, PropertyContext::Will)?
            } else {
                Properties::new()
            };
            let topic = r.string()?;
            let payload = r.binary()?;
            Some(Will {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if has_username {
            Some(r.string()?)
        } else {
            None
        };
        let password = if has_password {
            Some(r.binary()?)
        } else {
            None
        };
        r.finish()?;
        Ok(Connect {
            version,
            clean_start: cf & CLEAN_START != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    /// Encodes for `self.version`. A password without a user name is refused
    /// before v5 (3.1.1 [MQTT-3.1.2-22]).
    pub(crate) fn encode(&self, out: &mut BytesMut) -> Result<(), Error> {
        let version = self.version;
        let v5 = version == ProtocolVersion::V5;
        if self.password.is_some() && self.username.is_none() && !v5 {
            return Err(malformed("password without user name before MQTT 5"));
        }
        let mut cf = 0u8;
        if self.clean_start {
            cf |= CLEAN_START;
        }
        if let Some(w) = &self.will {
            cf |= WILL | ((w.qos as u8) << WILL_QOS_SHIFT);
            if w.retain {
                cf |= WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            cf |= USERNAME;
        }
        if self.password.is_some() {
            cf |= PASSWORD;
        }
        let mut body = BytesMut::new();
        wire::write_string(&mut body, version.protocol_name(), "CONNECT")?;
        body.put_u8(version.level());
        body.put_u8(cf);
        body.put_u16(self.keep_alive);
        if v5 {
            properties::encode(&self.properties, PropertyContext::Connect, &mut body)?;
        }
        wire::write_string(&mut body, &self.client_id, "CONNECT")?;
        if let Some(w) = &self.will {
            if v5 {
                properties::encode(&w.properties, PropertyContext::Will, &mut body)?;
            }
            wire::write_string(&mut body, &w.topic, "CONNECT")?;
            wire::write_binary(&mut body, &w.payload, "CONNECT")?;
        }
        if let Some(u) = &self.username {
            wire::write_string(&mut body, u, "CONNECT")?;
        }
        if let Some(p) = &self.password {
            wire::write_binary(&mut body, p, "CONNECT")?;
        }
        wire::write_packet(out, 0x10, &body, &[], "CONNECT")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::test_util::{check, decode_err, encode_err};
    use crate::codec::{Packet, PropertyId, PropertyValue, ReasonCode};

    fn connect(version: ProtocolVersion, client_id: &str) -> Connect {
        Connect {
            version,
            clean_start: true,
            keep_alive: 60,
            properties: Properties::new(),
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
        }
    }

    #[test]
    fn minimal_v311() {
        let bytes = [
            0x10, // CONNECT
            0x0F, // remaining length 15
            0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
            0x04, // level 4
            0x02, // flags: clean session
            0x00, 0x3C, // keep alive 60
            0x00, 0x03, b'a', b'b', b'c', // client id "abc"
        ];
        // The `version` argument is ignored for CONNECT: the packet says 3.1.1.
        check(
            &bytes,
            ProtocolVersion::V5,
            Packet::Connect(connect(ProtocolVersion::V311, "abc")),
        );
    }

    #[test]
    fn full_v31() {
        let bytes = [
            0x10, // CONNECT
            0x1F, // remaining length 31
            0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', // protocol name "MQIsdp"
            0x03, // level 3
            0xEE, // flags: user name, password, will retain, will QoS 1, will, clean
            0x00, 0x0A, // keep alive 10
            0x00, 0x02, b'i', b'd', // client id "id"
            0x00, 0x01, b'w', // will topic "w"
            0x00, 0x03, b'b', b'y', b'e', // will message "bye"
            0x00, 0x01, b'u', // user name "u"
            0x00, 0x02, b'p', b'w', // password "pw"
        ];
        let c = Connect {
            keep_alive: 10,
            will: Some(Will {
                topic: "w".into(),
                payload: Bytes::from_static(b"bye"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties::new(),
            }),
            username: Some("u".into()),
            password: Some(Bytes::from_static(b"pw")),
            ..connect(ProtocolVersion::V31, "id")
        };
        check(&bytes, ProtocolVersion::V31, Packet::Connect(c));
    }

    #[test]
    fn v5_with_properties_and_will_properties() {
        let bytes = [
            0x10, // CONNECT
            0x2D, // remaining length 45
            0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
            0x05, // level 5
            0x16, // flags: will QoS 2, will, clean start
            0x00, 0x3C, // keep alive 60
            0x0C, // property length 12
            0x11, 0x00, 0x00, 0x00, 0x78, // session expiry interval 120
            0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'b', // user property a=b
            0x00, 0x00, // client id "" (server assigns one)
            0x0E, // will property length 14
            0x18, 0x00, 0x00, 0x00, 0x05, // will delay interval 5
            0x01, 0x01, // payload format indicator 1 (UTF-8)
            0x03, 0x00, 0x04, b't', b'e', b'x', b't', // content type "text"
            0x00, 0x01, b'w', // will topic "w"
            0x00, 0x00, // will payload (empty)
        ];
        let mut c = connect(ProtocolVersion::V5, "");
        c.properties.push(
            PropertyId::SessionExpiryInterval,
            PropertyValue::FourByte(120),
        );
        c.properties.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("a".into(), "b".into()),
        );
        let mut wp = Properties::new();
        wp.push(PropertyId::WillDelayInterval, PropertyValue::FourByte(5));
        wp.push(PropertyId::PayloadFormatIndicator, PropertyValue::Byte(1));
        wp.push(
            PropertyId::ContentType,
            PropertyValue::String("text".into()),
        );
        c.will = Some(Will {
            topic: "w".into(),
            payload: Bytes::new(),
            qos: QoS::ExactlyOnce,
            retain: false,
            properties: wp,
        });
        check(&bytes, ProtocolVersion::V5, Packet::Connect(c));
    }

    #[test]
    fn v5_password_without_user_name() {
        let bytes = [
            0x10, // CONNECT
            0x11, // remaining length 17
            0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
            0x05, // level 5
            0x42, // flags: password, clean start
            0x00, 0x00, // keep alive 0
            0x00, // property length 0
            0x00, 0x01, b'c', // client id "c"
            0x00, 0x01, b'p', // password "p"
        ];
        let c = Connect {
            keep_alive: 0,
            password: Some(Bytes::from_static(b"p")),
            ..connect(ProtocolVersion::V5, "c")
        };
        check(&bytes, ProtocolVersion::V5, Packet::Connect(c.clone()));
        // Not expressible before v5.
        let c3 = Connect {
            version: ProtocolVersion::V311,
            ..c
        };
        assert!(matches!(
            encode_err(&Packet::Connect(c3), ProtocolVersion::V311),
            Error::Malformed { .. }
        ));
    }

    /// A 3.1.1 CONNECT up to the keep alive, with `flags`, and client id "c".
    fn v311_with_flags(flags: u8) -> Vec<u8> {
        vec![
            0x10, 0x0D, // CONNECT, remaining length 13
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, // "MQTT" level 4
            flags, 0x00, 0x3C, // flags, keep alive 60
            0x00, 0x01, b'c', // client id "c"
        ]
    }

    #[test]
    fn unsupported_protocol() {
        let bytes = [
            0x10, 0x0A, // CONNECT, remaining length 10
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x06, // "MQTT" level 6
            0x02, 0x00, 0x3C,
        ];
        let e = decode_err(&bytes, ProtocolVersion::V311);
        assert_eq!(
            e,
            Error::UnsupportedProtocol {
                name: "MQTT".into(),
                level: 6
            }
        );
        assert_eq!(e.reason_code(), ReasonCode::UNSUPPORTED_PROTOCOL_VERSION);
        // Right level, wrong name.
        let bytes = [
            0x10, 0x0C, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x04, 0x02, 0x00, 0x3C,
        ];
        assert!(matches!(
            decode_err(&bytes, ProtocolVersion::V311),
            Error::UnsupportedProtocol { level: 4, .. }
        ));
    }

    #[test]
    fn flag_errors() {
        let v = ProtocolVersion::V311;
        // Reserved bit 0 set.
        assert_eq!(
            decode_err(&v311_with_flags(0x03), v),
            malformed("reserved connect flag set")
        );
        // Will QoS 1 without the will flag.
        assert_eq!(
            decode_err(&v311_with_flags(0x0A), v),
            malformed("will QoS or retain set without a will")
        );
        // Will retain without the will flag.
        assert_eq!(
            decode_err(&v311_with_flags(0x22), v),
            malformed("will QoS or retain set without a will")
        );
        // Will QoS 3.
        assert_eq!(
            decode_err(&v311_with_flags(0x1E), v),
            malformed("will QoS 3")
        );
        // Password without user name (3.1.1 [MQTT-3.1.2-22]).
        assert_eq!(
            decode_err(&v311_with_flags(0x42), v),
            malformed("password flag set without user name flag")
        );
        // Fixed header flags must be 0.
        let mut bad = v311_with_flags(0x02);
        bad[0] = 0x11;
        assert_eq!(
            decode_err(&bad, v),
            Error::InvalidHeaderFlags {
                packet: "CONNECT",
                flags: 0x01
            }
        );
        // Trailing byte after the payload.
        let mut bad = v311_with_flags(0x02);
        bad[1] = 0x0E;
        bad.push(0x00);
        assert_eq!(
            decode_err(&bad, v),
            Error::Malformed {
                packet: "CONNECT",
                what: "unexpected bytes after the end of the packet"
            }
        );
        // User name flag but no user name.
        assert_eq!(
            decode_err(&v311_with_flags(0x82), v),
            Error::Truncated { packet: "CONNECT" }
        );
    }

    #[test]
    fn property_in_wrong_context() {
        // Will delay interval belongs to the will properties, not CONNECT's.
        let bytes = [
            0x10, 0x13, // CONNECT, remaining length 19
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, // "MQTT" 5, clean, 60
            0x05, 0x18, 0x00, 0x00, 0x00, 0x05, // properties: will delay interval 5
            0x00, 0x01, b'c', // client id
        ];
        assert_eq!(
            decode_err(&bytes, ProtocolVersion::V5),
            Error::PropertyNotAllowed {
                packet: "CONNECT",
                id: PropertyId::WillDelayInterval
            }
        );
        // Session expiry belongs to CONNECT, not to the will.
        let bytes = [
            0x10, 0x19, // CONNECT, remaining length 25
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x06, 0x00,
            0x3C, // "MQTT" 5, will+clean
            0x00, // properties: none
            0x00, 0x01, b'c', // client id
            0x05, 0x11, 0x00, 0x00, 0x00, 0x05, // will properties: session expiry 5
            0x00, 0x01, b'w', 0x00, 0x00, // will topic, will payload
        ];
        assert_eq!(
            decode_err(&bytes, ProtocolVersion::V5),
            Error::PropertyNotAllowed {
                packet: "CONNECT",
                id: PropertyId::SessionExpiryInterval
            }
        );
    }

    #[test]
    fn duplicate_connect_property() {
        let bytes = [
            0x10, 0x12, // CONNECT, remaining length 18
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, // "MQTT" 5, clean, 60
            0x06, 0x21, 0x00, 0x0A, 0x21, 0x00, 0x0B, // receive maximum twice
            0x00, 0x00, // client id ""
        ];
        let e = decode_err(&bytes, ProtocolVersion::V5);
        assert_eq!(
            e,
            Error::DuplicateProperty {
                packet: "CONNECT",
                id: PropertyId::ReceiveMaximum
            }
        );
        assert_eq!(e.reason_code(), ReasonCode::PROTOCOL_ERROR);
    }
}
