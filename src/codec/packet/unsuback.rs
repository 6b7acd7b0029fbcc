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
