//! Wire primitives: fixed header, remaining length, strings, binary data (MQTT 5.0 §1.5, §2.1).
//! "Need more bytes" is `Ok(None)`, not an error.
//!
//! Two halves:
//! - [`parse_fixed_header`] looks at the front of the receive buffer and says whether a
//!   whole packet is there yet (`Ok(None)` = need more).
//! - [`Reader`] walks the body of a packet whose bytes are all present. Running out of
//!   bytes there is a malformed packet ([`Error::Truncated`]), never "need more".
//!
//! The `write_*` functions append to a `BytesMut` and refuse values MQTT cannot carry.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::codec::{Error, MAX_REMAINING_LENGTH};

/// Largest value of a Variable Byte Integer (5.0 §1.5.5).
pub const MAX_VARINT: u32 = 268_435_455;

/// Parses the fixed header at the front of `buf` (5.0 §2.1.1).
///
/// Returns `(first byte, remaining length, header length)`, or `Ok(None)` when the
/// remaining length is still incomplete. A remaining length whose 4th byte has the
/// continuation bit set is malformed (5.0 §1.5.5: at most 4 bytes) — that is known
/// without waiting for a 5th byte.
pub fn parse_fixed_header(buf: &[u8]) -> Result<Option<(u8, usize, usize)>, Error> {
    let Some((&byte1, rest)) = buf.split_first() else {
        return Ok(None);
    };
    let mut value: usize = 0;
    for (i, &b) in rest.iter().take(4).enumerate() {
        value |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((byte1, value, i + 2)));
        }
        if i == 3 {
            return Err(Error::MalformedRemainingLength);
        }
    }
    Ok(None)
}

/// Number of bytes `v` takes as a Variable Byte Integer.
pub fn varint_len(v: usize) -> usize {
    match v {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Appends a Variable Byte Integer (5.0 §1.5.5); values above 268,435,455 are refused.
pub fn write_varint(out: &mut BytesMut, v: usize, packet: &'static str) -> Result<(), Error> {
    if v > MAX_VARINT as usize {
        return Err(Error::Malformed {
            packet,
            what: "variable byte integer above 268,435,455",
        });
    }
    let mut v = v;
    loop {
        // v < 2^28 here, so the cast keeps every bit we use.
        let mut b = (v & 0x7F) as u8;
        v >>= 7;
        if v > 0 {
            b |= 0x80;
        }
        out.put_u8(b);
        if v == 0 {
            return Ok(());
        }
    }
}

/// Appends a UTF-8 Encoded String (5.0 §1.5.4): 2-byte length then the bytes.
/// Longer than 65,535 bytes, or containing U+0000, is refused (the decoder would
/// reject it: §1.5.4 [MQTT-1.5.4-2]).
pub fn write_string(out: &mut BytesMut, s: &str, packet: &'static str) -> Result<(), Error> {
    if s.contains('\0') {
        return Err(Error::NullCharacter { packet });
    }
    write_binary(out, s.as_bytes(), packet)
}

/// Appends Binary Data (5.0 §1.5.6): 2-byte length then the bytes.
pub fn write_binary(out: &mut BytesMut, b: &[u8], packet: &'static str) -> Result<(), Error> {
    let len = u16::try_from(b.len()).map_err(|_| Error::TooLong {
        packet,
        len: b.len(),
    })?;
    out.put_u16(len);
    out.put_slice(b);
    Ok(())
}

/// Appends a whole packet: first byte, remaining length, `body`, then `payload`.
/// Remaining length above 268,435,455 (5.0 §1.5.5) is `PacketTooLarge`.
pub fn write_packet(
    out: &mut BytesMut,
    byte1: u8,
    body: &[u8],
    payload: &[u8],
    packet: &'static str,
) -> Result<(), Error> {
    let remaining = body.len().saturating_add(payload.len());
    if remaining > MAX_REMAINING_LENGTH {
        return Err(Error::PacketTooLarge {
            size: remaining,
            max: MAX_REMAINING_LENGTH,
        });
    }
    out.reserve(1 + varint_len(remaining) + remaining);
    out.put_u8(byte1);
    write_varint(out, remaining, packet)?;
    out.put_slice(body);
    out.put_slice(payload);
    Ok(())
}

/// Checks UTF-8 Encoded String content (3.1.1 §1.5.3, 5.0 §1.5.4): well-formed UTF-8
/// (which already excludes the surrogates U+D800..U+DFFF) and no U+0000. Control
/// characters and non-characters are "SHOULD NOT" in the spec, so they are accepted.
pub fn check_utf8<'a>(bytes: &'a [u8], packet: &'static str) -> Result<&'a str, Error> {
    let s = std::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8 { packet })?;
    if s.contains('\0') {
        return Err(Error::NullCharacter { packet });
    }
    Ok(s)
}

/// A cursor over the body of one complete packet. Every read checks the length
/// first, so no input can make it panic; running short is [`Error::Truncated`].
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    packet: &'static str,
}

impl Reader {
    /// `packet` names the packet in errors.
    pub fn new(buf: Bytes, packet: &'static str) -> Reader {
        Reader { buf, packet }
    }

    pub fn packet(&self) -> &'static str {
        self.packet
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn need(&self, n: usize) -> Result<(), Error> {
        if self.buf.len() < n {
            Err(Error::Truncated {
                packet: self.packet,
            })
        } else {
            Ok(())
        }
    }

    pub fn u8(&mut self) -> Result<u8, Error> {
        self.need(1)?;
        Ok(self.buf.get_u8())
    }

    /// Two Byte Integer, big-endian (5.0 §1.5.2).
    pub fn u16(&mut self) -> Result<u16, Error> {
        self.need(2)?;
        Ok(self.buf.get_u16())
    }

    /// Four Byte Integer, big-endian (5.0 §1.5.3).
    pub fn u32(&mut self) -> Result<u32, Error> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    /// Variable Byte Integer (5.0 §1.5.5): at most 4 bytes. Non-minimal encodings
    /// are accepted (the "minimum number of bytes" rule binds the sender).
    pub fn varint(&mut self) -> Result<u32, Error> {
        let mut value: u32 = 0;
        for i in 0..4 {
            let b = self.u8()?;
            value |= u32::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::Malformed {
            packet: self.packet,
            what: "variable byte integer longer than 4 bytes",
        })
    }

    /// The next `n` bytes, sharing the packet's buffer.
    pub fn take(&mut self, n: usize) -> Result<Bytes, Error> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }

    /// Binary Data (5.0 §1.5.6), zero-copy.
    pub fn binary(&mut self) -> Result<Bytes, Error> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// UTF-8 Encoded String (5.0 §1.5.4), checked by [`check_utf8`].
    pub fn string(&mut self) -> Result<String, Error> {
        let raw = self.binary()?;
        check_utf8(&raw, self.packet).map(str::to_owned)
    }

    /// Everything left (e.g. a PUBLISH payload), zero-copy.
    pub fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// A sub-reader over the next `n` bytes (e.g. a property list).
    pub fn sub(&mut self, n: usize) -> Result<Reader, Error> {
        Ok(Reader::new(self.take(n)?, self.packet))
    }

    /// Ends the packet: bytes left over are malformed (the lengths disagree).
    pub fn finish(self) -> Result<(), Error> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed {
                packet: self.packet,
                what: "unexpected bytes after the end of the packet",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_header_needs_more() {
        assert_eq!(parse_fixed_header(&[]), Ok(None));
        assert_eq!(parse_fixed_header(&[0x30]), Ok(None));
        assert_eq!(parse_fixed_header(&[0x30, 0x80]), Ok(None));
        assert_eq!(parse_fixed_header(&[0x30, 0x80, 0x80, 0x80]), Ok(None));
    }

    #[test]
    fn fixed_header_lengths() {
        assert_eq!(parse_fixed_header(&[0x30, 0x00]), Ok(Some((0x30, 0, 2))));
        assert_eq!(parse_fixed_header(&[0x30, 0x7F]), Ok(Some((0x30, 127, 2))));
        assert_eq!(
            parse_fixed_header(&[0x30, 0x80, 0x01]),
            Ok(Some((0x30, 128, 3)))
        );
        assert_eq!(
            parse_fixed_header(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]),
            Ok(Some((0x30, MAX_REMAINING_LENGTH, 5)))
        );
    }

    #[test]
    fn fixed_header_five_byte_length_is_malformed() {
        // The 4th length byte still has the continuation bit: malformed at once.
        assert_eq!(
            parse_fixed_header(&[0x30, 0x80, 0x80, 0x80, 0x80]),
            Err(Error::MalformedRemainingLength)
        );
        assert_eq!(
            parse_fixed_header(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Err(Error::MalformedRemainingLength)
        );
    }

    #[test]
    fn varint_round_trip_and_lengths() {
        for v in [
            0usize,
            1,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            268_435_455,
        ] {
            let mut out = BytesMut::new();
            write_varint(&mut out, v, "T").unwrap();
            assert_eq!(out.len(), varint_len(v));
            let mut r = Reader::new(out.freeze(), "T");
            assert_eq!(r.varint(), Ok(v as u32));
            assert!(r.is_empty());
        }
        let mut out = BytesMut::new();
        assert!(write_varint(&mut out, 268_435_456, "T").is_err());
    }

    #[test]
    fn reader_truncation_is_malformed() {
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x05, b'a']), "T");
        assert_eq!(r.string(), Err(Error::Truncated { packet: "T" }));
        let mut r = Reader::new(Bytes::from_static(&[0x80, 0x80]), "T");
        assert_eq!(r.varint(), Err(Error::Truncated { packet: "T" }));
        let mut r = Reader::new(Bytes::from_static(&[0x80, 0x80, 0x80, 0x80, 0x01]), "T");
        assert!(matches!(r.varint(), Err(Error::Malformed { .. })));
    }

    #[test]
    fn strings_checked() {
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x02, 0xC3, 0x28]), "T");
        assert_eq!(r.string(), Err(Error::InvalidUtf8 { packet: "T" }));
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x02, b'a', 0x00]), "T");
        assert_eq!(r.string(), Err(Error::NullCharacter { packet: "T" }));
        // An encoded surrogate (U+D800 as ED A0 80) is not UTF-8.
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x03, 0xED, 0xA0, 0x80]), "T");
        assert_eq!(r.string(), Err(Error::InvalidUtf8 { packet: "T" }));
        let mut out = BytesMut::new();
        let long = "x".repeat(65_536);
        assert_eq!(
            write_string(&mut out, &long, "T"),
            Err(Error::TooLong {
                packet: "T",
                len: 65_536
            })
        );
        assert!(write_string(&mut out, &long[..65_535], "T").is_ok());
    }
}
