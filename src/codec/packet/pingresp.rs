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

#[cfg(test)]
mod tests {
    use crate::codec::packet::test_util::{check, decode_err};
    use crate::codec::{Error, Packet, ProtocolVersion};

    #[test]
    fn all_versions() {
        let bytes = [
            0xD0, // PINGRESP
            0x00, // remaining length 0
        ];
        for v in [
            ProtocolVersion::V31,
            ProtocolVersion::V311,
            ProtocolVersion::V5,
        ] {
            check(&bytes, v, Packet::PingResp);
        }
    }

    #[test]
    fn errors() {
        assert!(matches!(
            decode_err(&[0xD0, 0x02, 0x00, 0x00], ProtocolVersion::V5),
            Error::Malformed { .. }
        ));
        assert_eq!(
            decode_err(&[0xD8, 0x00], ProtocolVersion::V311),
            Error::InvalidHeaderFlags {
                packet: "PINGRESP",
                flags: 8
            }
        );
    }
}
