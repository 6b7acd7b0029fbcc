//! PINGREQ (3.1.1 §3.12, 5.0 §3.12): a fixed header and nothing else.

use bytes::{Bytes, BytesMut};

use crate::codec::Error;
use crate::codec::wire;

/// 3.1.1 §3.12.2, 5.0 §3.12.2: no variable header and no payload.
pub(crate) fn decode(body: Bytes) -> Result<(), Error> {
    wire::Reader::new(body, "PINGREQ").finish()
}

pub(crate) fn encode(out: &mut BytesMut) -> Result<(), Error> {
    wire::write_packet(out, 0xC0, &[], &[], "PINGREQ")
}
