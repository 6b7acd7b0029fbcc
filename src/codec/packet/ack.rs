//! The shape PUBACK, PUBREC, PUBREL and PUBCOMP share (3.1.1 §3.4–3.7, 5.0 §3.4–3.7):
//! packet id, then in v5 an optional reason code and optional properties.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::properties::{self, PropertyContext};
use crate::codec::wire::{self, Reader};
use crate::codec::{Error, Properties, ProtocolVersion, ReasonCode};

/// Decodes an ack body into `(packet id, reason, properties)`.
///
/// 3.x: exactly the packet id. v5 (§3.4.2.1, §3.4.2.2.1): remaining length 2 means
/// reason 0x00 and no properties; 3 means a reason and no properties.
pub(crate) fn decode(
    body: Bytes,
    version: ProtocolVersion,
    ctx: PropertyContext,
) -> Result<(u16, ReasonCode, Properties), Error> {
    let mut r = Reader::new(body, ctx.packet_name());
    let packet_id = r.u16()?;
    if version != ProtocolVersion::V5 || r.is_empty() {
        r.finish()?;
        return Ok((packet_id, ReasonCode::SUCCESS, Properties::new()));
    }
    let reason = ReasonCode(r.u8()?);
    if r.is_empty() {
        return Ok((packet_id, reason, Properties::new()));
    }
    let props = properties::decode(&mut r, ctx)?;
    r.finish()?;
    Ok((packet_id, reason, props))
}

/// Encodes an ack in the shortest form mosquitto writes: v5 success without
/// properties is 2 bytes, a reason without properties 3 bytes.
pub(crate) fn encode(
    byte1: u8,
    packet_id: u16,
    reason: ReasonCode,
    props: &Properties,
    version: ProtocolVersion,
    ctx: PropertyContext,
    out: &mut BytesMut,
) -> Result<(), Error> {
    let packet = ctx.packet_name();
    if version != ProtocolVersion::V5 || (reason == ReasonCode::SUCCESS && props.is_empty()) {
        // The common case, written in place: no allocation per acknowledgement.
        out.reserve(4);
        out.put_u8(byte1);
        out.put_u8(2);
        out.put_u16(packet_id);
        return Ok(());
    }
    let mut body = BytesMut::with_capacity(4);
    body.put_u16(packet_id);
    if version == ProtocolVersion::V5 && (reason != ReasonCode::SUCCESS || !props.is_empty()) {
        body.put_u8(reason.0);
        if !props.is_empty() {
            properties::encode(props, ctx, &mut body)?;
        }
    }
    wire::write_packet(out, byte1, &body, &[], packet)
}
