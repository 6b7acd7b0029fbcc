//! One file per MQTT control packet: struct, encode, decode, byte-level tests.

mod ack;
pub mod auth;
pub mod connack;
pub mod connect;
pub mod disconnect;
pub mod pingreq;
pub mod pingresp;
pub mod puback;
pub mod pubcomp;
pub mod publish;
pub mod pubrec;
pub mod pubrel;
pub mod suback;
pub mod subscribe;
pub mod unsuback;
pub mod unsubscribe;

/// Helpers for the byte-level tests in each packet file.
#[cfg(test)]
pub(crate) mod test_util {
    use bytes::BytesMut;

    use crate::codec::{Error, Packet, ProtocolVersion, decode, encode};

    /// `bytes` decodes to `packet` (consuming exactly `bytes`), every strict prefix
    /// is `Ok(None)` with the buffer left as it was, and `packet` encodes to `bytes`.
    pub(crate) fn check(bytes: &[u8], version: ProtocolVersion, packet: Packet) {
        for n in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..n]);
            assert_eq!(
                decode(&mut buf, version, usize::MAX),
                Ok(None),
                "prefix of {n} bytes"
            );
            assert_eq!(&buf[..], &bytes[..n], "prefix of {n} bytes was modified");
        }
        let mut buf = BytesMut::from(bytes);
        assert_eq!(
            decode(&mut buf, version, usize::MAX),
            Ok(Some(packet.clone()))
        );
        assert!(buf.is_empty(), "bytes left over after decoding");
        let mut out = BytesMut::new();
        encode(&packet, version, &mut out).expect("encode");
        assert_eq!(&out[..], bytes, "encoding differs");
    }

    /// Only decodes (for inputs that are valid but not the canonical encoding).
    pub(crate) fn decodes_to(bytes: &[u8], version: ProtocolVersion, packet: Packet) {
        let mut buf = BytesMut::from(bytes);
        assert_eq!(decode(&mut buf, version, usize::MAX), Ok(Some(packet)));
        assert!(buf.is_empty(), "bytes left over after decoding");
    }

    /// The error decoding a complete `bytes` gives.
    pub(crate) fn decode_err(bytes: &[u8], version: ProtocolVersion) -> Error {
        let mut buf = BytesMut::from(bytes);
        match decode(&mut buf, version, usize::MAX) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// The error encoding `packet` gives; `out` must stay untouched.
    pub(crate) fn encode_err(packet: &Packet, version: ProtocolVersion) -> Error {
        let mut out = BytesMut::new();
        let e = encode(packet, version, &mut out).expect_err("expected an encode error");
        assert!(out.is_empty(), "output written despite the error");
        e
    }
}
