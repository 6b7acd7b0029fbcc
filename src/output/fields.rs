//! The printf-style field writers of mosquitto 2.1's sub_client_output.c
//! (`formatted_print_int/str/blank/float`, `write_payload`), writing straight into
//! an `io::Write` without allocating.
//!
//! Hand-written rather than `format!` or a printf crate: mosquitto's rules (C printf's
//! zero padding after the sign, a precision that cuts strings, `width` blanks for an
//! absent property) differ from Rust's formatting in small ways, and the output must
//! match mosquitto_sub's byte for byte. Numbers go through `itoa`.

use std::io::{self, Write};

use super::format::FieldOpts;

const SPACES: [u8; 64] = [b' '; 64];
const ZEROS: [u8; 64] = [b'0'; 64];

/// `n` copies of `pad` (a space or `0`).
pub(crate) fn repeat(out: &mut (impl Write + ?Sized), pad: u8, mut n: usize) -> io::Result<()> {
    let chunk: &[u8; 64] = if pad == b'0' { &ZEROS } else { &SPACES };
    while n > 0 {
        let k = n.min(chunk.len());
        out.write_all(&chunk[..k])?;
        n -= k;
    }
    Ok(())
}

/// A C `int` width as a count; negative widths are handled by the callers.
fn count(n: i32) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// `formatted_print_blank`: a missing property prints `width` pad characters.
pub(crate) fn blank(out: &mut (impl Write + ?Sized), o: &FieldOpts) -> io::Result<()> {
    repeat(out, o.pad, count(o.width))
}

/// `formatted_print_int`: `%d`, `%-*d`, `%0*d` or `%*d`.
pub(crate) fn int(out: &mut (impl Write + ?Sized), value: i32, o: &FieldOpts) -> io::Result<()> {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(value).as_bytes();
    let fill = count(o.width).saturating_sub(digits.len());
    if o.width == 0 || fill == 0 {
        return out.write_all(digits);
    }
    if o.left {
        out.write_all(digits)?;
        repeat(out, b' ', fill)
    } else if o.pad == b'0' {
        // printf puts zero padding after the sign.
        let (sign, rest) = match digits.split_first() {
            Some((b'-', rest)) => (&b"-"[..], rest),
            _ => (&b""[..], digits),
        };
        out.write_all(sign)?;
        repeat(out, b'0', fill)?;
        out.write_all(rest)
    } else {
        repeat(out, b' ', fill)?;
        out.write_all(digits)
    }
}

/// `formatted_print_str`: `%s` with optional width and precision (both in bytes,
/// as printf counts them; a precision may cut a multi-byte character, as in C).
pub(crate) fn string(
    out: &mut (impl Write + ?Sized),
    value: &[u8],
    o: &FieldOpts,
) -> io::Result<()> {
    let value = if o.precision >= 0 {
        &value[..value.len().min(count(o.precision))]
    } else {
        value
    };
    let fill = count(o.width).saturating_sub(value.len());
    if o.left {
        out.write_all(value)?;
        repeat(out, b' ', fill)
    } else {
        repeat(out, b' ', fill)?;
        out.write_all(value)
    }
}

/// `hexsep`: after nibble number `xpos`, a separator closes each group of
/// `precision` nibbles.
#[inline]
fn hexsep(out: &mut (impl Write + ?Sized), xpos: usize, o: &FieldOpts) -> io::Result<()> {
    if o.precision > 0 {
        let p = o.precision as usize;
        if xpos % p == p - 1 {
            out.write_all(&[o.sep])?;
        }
    }
    Ok(())
}

/// How `write_payload` prints a payload: raw, lower-case or upper-case hex.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadAs {
    Raw,
    HexLower,
    HexUpper,
}

/// mosquitto 2.1 `write_payload`, quirks included:
/// - a field width also caps the number of payload *bytes* (so `%4x` of a 5-byte
///   payload prints 4 bytes as 8 hex digits);
/// - for `-` alignment the trailing blanks are `printf("%*s", padlen, "")`, and a
///   negative `padlen` means a left-justified field of `-padlen` blanks, so `%-p`
///   (width 0) prints the payload followed by as many spaces as it has bytes;
/// - right-aligned pad characters take part in hex digit grouping.
pub(crate) fn payload(
    out: &mut (impl Write + ?Sized),
    payload: &[u8],
    how: PayloadAs,
    o: &FieldOpts,
) -> io::Result<()> {
    let width = i64::from(o.width);
    let mut len = payload.len() as i64;
    let padlen = if o.width > 0 {
        len = len.min(width);
        if how == PayloadAs::Raw {
            width - len
        } else {
            width - len * 2
        }
    } else {
        width - len
    };
    let bytes = &payload[..len as usize];

    let mut xpos = 0usize;
    if !o.left && padlen > 0 {
        if how == PayloadAs::Raw || o.precision <= 0 {
            repeat(out, o.pad, padlen as usize)?;
        } else {
            for _ in 0..padlen {
                out.write_all(&[o.pad])?;
                hexsep(out, xpos, o)?;
                xpos += 1;
            }
        }
    }

    match how {
        PayloadAs::Raw => out.write_all(bytes)?,
        PayloadAs::HexLower | PayloadAs::HexUpper => {
            let digits: &[u8; 16] = if how == PayloadAs::HexLower {
                b"0123456789abcdef"
            } else {
                b"0123456789ABCDEF"
            };
            if o.precision <= 0 {
                // No grouping: encode in stack-sized chunks.
                let mut buf = [0u8; 512];
                for chunk in bytes.chunks(buf.len() / 2) {
                    for (i, &b) in chunk.iter().enumerate() {
                        buf[2 * i] = digits[usize::from(b >> 4)];
                        buf[2 * i + 1] = digits[usize::from(b & 0x0f)];
                    }
                    out.write_all(&buf[..chunk.len() * 2])?;
                }
            } else {
                for (i, &b) in bytes.iter().enumerate() {
                    out.write_all(&[digits[usize::from(b >> 4)]])?;
                    hexsep(out, xpos, o)?;
                    xpos += 1;
                    out.write_all(&[digits[usize::from(b & 0x0f)]])?;
                    if i + 1 < bytes.len() {
                        hexsep(out, xpos, o)?;
                        xpos += 1;
                    }
                }
            }
        }
    }

    if o.left {
        repeat(out, b' ', padlen.unsigned_abs() as usize)?;
    }
    Ok(())
}

/// `formatted_print_float` (mosquitto 2.1, `%f`/`%d`): a 4- or 8-byte payload read
/// as a native-endian IEEE value and printed by the C library's printf with
/// mosquitto's exact format strings. `None` when the payload has the wrong length.
pub(crate) fn float(
    out: &mut (impl Write + ?Sized),
    payload: &[u8],
    double: bool,
    o: &FieldOpts,
) -> Option<io::Result<()>> {
    let value = if double {
        f64::from_ne_bytes(payload.try_into().ok()?)
    } else {
        f64::from(f32::from_ne_bytes(payload.try_into().ok()?))
    };
    Some(printf_float(out, value, o))
}

fn printf_float(out: &mut (impl Write + ?Sized), value: f64, o: &FieldOpts) -> io::Result<()> {
    let (fmt, with_width): (&std::ffi::CStr, bool) = if o.width == 0 {
        (c"%.*f", false)
    } else if o.left {
        (c"%-*.*f", true)
    } else if o.pad == b'0' {
        (c"%0*.*f", true)
    } else {
        (c"%*.*f", true)
    };
    let call = |buf: &mut [u8]| -> i32 {
        let p = buf.as_mut_ptr().cast::<libc::c_char>();
        // SAFETY: `buf` is writable for `buf.len()` bytes; the format takes exactly
        // the int(s) and the double passed.
        unsafe {
            if with_width {
                libc::snprintf(p, buf.len(), fmt.as_ptr(), o.width, o.precision, value)
            } else {
                libc::snprintf(p, buf.len(), fmt.as_ptr(), o.precision, value)
            }
        }
    };
    let mut small = [0u8; 128];
    let n = call(&mut small);
    let Ok(n) = usize::try_from(n) else {
        // printf failed (e.g. output beyond INT_MAX): mosquitto prints nothing.
        return Ok(());
    };
    if n < small.len() {
        return out.write_all(&small[..n]);
    }
    let mut big = vec![0u8; n + 1];
    let m = call(&mut big);
    match usize::try_from(m) {
        Ok(m) if m <= n => out.write_all(&big[..m]),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(width: i32, precision: i32, left: bool, pad: u8, sep: u8) -> FieldOpts {
        FieldOpts {
            width,
            precision,
            left,
            pad,
            sep,
        }
    }

    fn run(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut v = Vec::new();
        f(&mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn ints_like_printf() {
        let d = FieldOpts::default();
        assert_eq!(run(|o| int(o, 42, &d)), "42");
        assert_eq!(
            run(|o| int(o, 42, &opts(5, -1, false, b' ', b' '))),
            "   42"
        );
        assert_eq!(run(|o| int(o, 42, &opts(5, -1, true, b'0', b' '))), "42   ");
        assert_eq!(
            run(|o| int(o, 42, &opts(5, -1, false, b'0', b' '))),
            "00042"
        );
        assert_eq!(
            run(|o| int(o, -42, &opts(5, -1, false, b'0', b' '))),
            "-0042"
        );
        assert_eq!(
            run(|o| int(o, -42, &opts(5, -1, false, b' ', b' '))),
            "  -42"
        );
        assert_eq!(
            run(|o| int(o, 123456, &opts(3, -1, false, b'0', b' '))),
            "123456"
        );
    }

    #[test]
    fn strings_like_printf() {
        let s = b"r/1";
        assert_eq!(
            run(|o| string(o, s, &opts(6, -1, false, b'0', b' '))),
            "   r/1"
        );
        assert_eq!(
            run(|o| string(o, s, &opts(6, -1, true, b' ', b' '))),
            "r/1   "
        );
        assert_eq!(run(|o| string(o, s, &opts(0, 1, false, b' ', b' '))), "r");
        assert_eq!(
            run(|o| string(o, s, &opts(4, 2, false, b' ', b' '))),
            "  r/"
        );
        assert_eq!(run(|o| string(o, s, &opts(4, 2, true, b' ', b' '))), "r/  ");
        assert_eq!(run(|o| string(o, s, &opts(0, 0, false, b' ', b' '))), "");
    }

    #[test]
    fn payload_quirks() {
        let p = b"hello";
        let raw = PayloadAs::Raw;
        // Observed from Debian's mosquitto_sub 2.0.11 (the raw payload code is unchanged in 2.1).
        assert_eq!(
            run(|o| payload(o, p, raw, &opts(10, -1, false, b' ', b' '))),
            "     hello"
        );
        assert_eq!(
            run(|o| payload(o, p, raw, &opts(10, -1, true, b' ', b' '))),
            "hello     "
        );
        assert_eq!(
            run(|o| payload(o, p, raw, &opts(3, -1, false, b' ', b' '))),
            "hel"
        );
        assert_eq!(
            run(|o| payload(o, p, raw, &opts(0, -1, true, b' ', b' '))),
            "hello     "
        );
        assert_eq!(
            run(|o| payload(o, p, raw, &opts(3, -1, true, b' ', b' '))),
            "hel"
        );
        assert_eq!(
            run(|o| payload(o, p, raw, &opts(7, -1, false, b'0', b' '))),
            "00hello"
        );
        assert_eq!(
            run(|o| payload(o, p, raw, &opts(0, 2, false, b' ', b' '))),
            "hello"
        );
    }

    #[test]
    fn hex_2_1() {
        let p = b"hello";
        let lo = PayloadAs::HexLower;
        let up = PayloadAs::HexUpper;
        let d = FieldOpts::default();
        assert_eq!(run(|o| payload(o, p, lo, &d)), "68656c6c6f");
        assert_eq!(run(|o| payload(o, p, up, &d)), "68656C6C6F");
        // 2.1: width caps bytes, padding counts hex digits (2.0.11 halves the bytes:
        // "      6865").
        assert_eq!(
            run(|o| payload(o, p, lo, &opts(10, -1, false, b' ', b' '))),
            "68656c6c6f"
        );
        assert_eq!(
            run(|o| payload(o, p, lo, &opts(14, -1, false, b'0', b' '))),
            "000068656c6c6f"
        );
        assert_eq!(
            run(|o| payload(o, p, lo, &opts(4, -1, false, b' ', b' '))),
            "68656c6c"
        );
        assert_eq!(
            run(|o| payload(o, p, lo, &opts(3, -1, true, b' ', b' '))),
            "68656c   "
        );
        assert_eq!(
            run(|o| payload(o, p, lo, &opts(0, -1, true, b' ', b' '))),
            "68656c6c6f     "
        );
        // Nibble grouping.
        assert_eq!(
            run(|o| payload(o, p, lo, &opts(0, 2, false, b' ', b' '))),
            "68 65 6c 6c 6f"
        );
        assert_eq!(
            run(|o| payload(o, p, lo, &opts(0, 2, false, b' ', b':'))),
            "68:65:6c:6c:6f"
        );
        assert_eq!(
            run(|o| payload(o, p, lo, &opts(0, 4, false, b' ', b'-'))),
            "6865-6c6c-6f"
        );
        assert_eq!(
            run(|o| payload(o, p, lo, &opts(0, 3, false, b' ', b' '))),
            "686 56c 6c6 f"
        );
        assert_eq!(
            run(|o| payload(o, p, lo, &opts(0, 1, false, b' ', b'.'))),
            "6.8.6.5.6.c.6.c.6.f"
        );
        // Right-aligned padding is grouped too.
        assert_eq!(
            run(|o| payload(o, p, up, &opts(14, 4, false, b'0', b' '))),
            "0000 6865 6C6C 6F"
        );
        assert_eq!(
            run(|o| payload(o, b"", lo, &opts(0, 2, false, b' ', b' '))),
            ""
        );
        assert_eq!(
            run(|o| payload(o, &[0xab], lo, &opts(0, 2, false, b' ', b' '))),
            "ab"
        );
    }

    #[test]
    fn floats() {
        let d = FieldOpts::default();
        let f = 1.5f32.to_ne_bytes();
        assert_eq!(run(|o| float(o, &f, false, &d).unwrap()), "1.500000");
        let v = (-2.25f64).to_ne_bytes();
        assert_eq!(
            run(|o| float(o, &v, true, &opts(0, 1, false, b' ', b' ')).unwrap()),
            "-2.2"
        );
        assert_eq!(
            run(|o| float(o, &v, true, &opts(8, 2, false, b'0', b' ')).unwrap()),
            "-0002.25"
        );
        assert_eq!(
            run(|o| float(o, &v, true, &opts(8, 2, true, b'0', b' ')).unwrap()),
            "-2.25   "
        );
        assert_eq!(
            run(|o| float(o, &v, true, &opts(8, 0, false, b' ', b' ')).unwrap()),
            "      -2"
        );
        assert!(float(&mut Vec::new(), b"abc", false, &d).is_none());
        assert!(float(&mut Vec::new(), &f, true, &d).is_none());
        let big = f64::MAX.to_ne_bytes();
        assert_eq!(run(|o| float(o, &big, true, &d).unwrap()).len(), 309 + 7);
    }
}
