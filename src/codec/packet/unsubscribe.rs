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
