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
