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
