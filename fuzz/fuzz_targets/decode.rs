//! Fuzz target for `codec::decode`: arbitrary bytes, each protocol version, a
//! random maximum packet size. Whatever decodes must re-encode, and the encoding
//! must decode to the same packet (round-trip consistency).
//!
//! Input layout: byte 0 picks the version (mod 3), bytes 1–2 the maximum packet
//! size (u16, little-endian; 0xFFFF means no limit), the rest is the stream.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtk::codec::{ProtocolVersion, decode, encode};

fuzz_target!(|data: &[u8]| {
    let [sel, lo, hi, stream @ ..] = data else {
        return;
    };
    let version = match sel % 3 {
        0 => ProtocolVersion::V31,
        1 => ProtocolVersion::V311,
        _ => ProtocolVersion::V5,
    };
    let max = match u16::from_le_bytes([*lo, *hi]) {
        u16::MAX => usize::MAX,
        m => usize::from(m),
    };
    let mut buf = BytesMut::from(stream);
    // Decode packets back to back until the stream needs more bytes or fails.
    while let Ok(Some(packet)) = decode(&mut buf, version, max) {
        let mut out = BytesMut::new();
        encode(&packet, version, &mut out).expect("a decoded packet must re-encode");
        let again = decode(&mut out, version, usize::MAX);
        assert_eq!(
            again,
            Ok(Some(packet)),
            "re-encoded packet decodes differently"
        );
        assert!(out.is_empty(), "re-encoded packet has trailing bytes");
    }
});
