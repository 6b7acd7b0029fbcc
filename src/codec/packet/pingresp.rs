//! PINGRESP (3.1.1 §3.13, 5.0 §3.13): a fixed header and nothing else.

use bytes::{Bytes, BytesMut};

use crate::codec::Error;
use crate::codec::wire;

/// 3.1.1 §3.13.2, 5.0 §3.13.2: no variable header and no payload.
pub(crate) fn decode(body: Bytes) -> Result<(), Error> {
    wire::Reader::new(body, "PINGRESP").finish()
}

pub(crate) fn encode(out: &mut BytesMut) -> Result<(), Error> {
    wire::write_packet(out, 0xD0, &[], &[], "PINGRESP")
}
