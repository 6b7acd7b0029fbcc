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

#[cfg(test)]
mod tests {
    use crate::codec::packet::test_util::{check, decode_err};
    use crate::codec::{Error, Packet, ProtocolVersion};

    #[test]
    fn all_versions() {
        let bytes = [
            0xC0, // PINGREQ
            0x00, // remaining length 0
        ];
        for v in [
            ProtocolVersion::V31,
            ProtocolVersion::V311,
            ProtocolVersion::V5,
        ] {
            check(&bytes, v, Packet::PingReq);
        }
    }

    #[test]
    fn errors() {
        assert!(matches!(
            decode_err(&[0xC0, 0x01, 0x00], ProtocolVersion::V311),
            Error::Malformed { .. }
        ));
        assert_eq!(
            decode_err(&[0xC1, 0x00], ProtocolVersion::V5),
            Error::InvalidHeaderFlags {
                packet: "PINGREQ",
                flags: 1
            }
        );
    }
}
