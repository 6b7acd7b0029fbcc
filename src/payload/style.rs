//! How decoded payloads are written as JSON: minimised, or indented the way `%j
//! --pretty` indents (cJSON's `cJSON_Print`: a tab per level, `"key":\tvalue`, arrays
//! on one line with `, `), so a decoded payload nests in `%j` output without a seam.
//! Also the number rules every decoder shares: a 64-bit integer is a JSON number when
//! a double holds it exactly and a string otherwise; NaN and the infinities, which
//! JSON lacks, are the strings `"NaN"`, `"Infinity"` and `"-Infinity"` (protobuf's
//! JSON mapping spells them so).

use std::io::{self, Write};

use base64::Engine as _;
use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::{Serialize, Serializer};

/// Minimised or indented JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `{"a":1,"b":[1,2]}`.
    Compact,
    /// cJSON's indentation, starting as if the value were printed `depth` levels
    /// deep (0 at the top; 1 for a value inside `%j`'s object).
    Pretty { depth: usize },
}

/// Serialises `value` in `style` into `out`.
pub(crate) fn write<T: Serialize + ?Sized>(
    value: &T,
    style: Style,
    out: &mut (impl Write + ?Sized),
) -> Result<(), serde_json::Error> {
    match style {
        Style::Compact => value.serialize(&mut serde_json::Serializer::new(out)),
        Style::Pretty { depth } => value.serialize(&mut serde_json::Serializer::with_formatter(
            out,
            Cjson::new(depth),
        )),
    }
}

/// serde_json's formatter hooks set to print what cJSON's `print_value` prints with
/// formatting on (see `crate::output` json.rs, which prints `%j` itself that way).
pub(crate) struct Cjson {
    depth: usize,
    /// Whether the innermost open object has an entry yet (serde_json's
    /// `PrettyFormatter` keeps the same flag).
    has_value: bool,
}

impl Cjson {
    pub(crate) fn new(depth: usize) -> Cjson {
        Cjson {
            depth,
            has_value: false,
        }
    }
}

pub(crate) fn tabs(w: &mut (impl Write + ?Sized), n: usize) -> io::Result<()> {
    for _ in 0..n {
        w.write_all(b"\t")?;
    }
    Ok(())
}

impl serde_json::ser::Formatter for Cjson {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{\n")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.has_value {
            w.write_all(b"\n")?;
        }
        self.depth -= 1;
        tabs(w, self.depth)?;
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",\n")?;
        }
        tabs(w, self.depth)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b":\t")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// 2^64 and 2^63 as doubles: bounds for "a double holds it exactly".
const TWO_64: f64 = 18446744073709551616.0;
const TWO_63: f64 = 9223372036854775808.0;

/// A u64 as a JSON number when a double holds it exactly, else as a string.
pub(crate) fn u64<S: Serializer>(v: u64, s: S) -> Result<S::Ok, S::Error> {
    let d = v as f64;
    if d < TWO_64 && d as u64 == v {
        s.serialize_u64(v)
    } else {
        s.collect_str(&v)
    }
}

/// An i64 as a JSON number when a double holds it exactly, else as a string.
pub(crate) fn i64<S: Serializer>(v: i64, s: S) -> Result<S::Ok, S::Error> {
    let d = v as f64;
    if d < TWO_63 && d as i64 == v {
        s.serialize_i64(v)
    } else {
        s.collect_str(&v)
    }
}

/// A double, with the non-finite ones as strings.
pub(crate) fn f64<S: Serializer>(v: f64, s: S) -> Result<S::Ok, S::Error> {
    match non_finite(v) {
        Some(word) => s.serialize_str(word),
        None => s.serialize_f64(v),
    }
}

/// A float: finite ones print their shortest f32 form (`12.1`, not
/// `12.100000381469727`).
pub(crate) fn f32<S: Serializer>(v: f32, s: S) -> Result<S::Ok, S::Error> {
    match non_finite(f64::from(v)) {
        Some(word) => s.serialize_str(word),
        None => s.serialize_f32(v),
    }
}

fn non_finite(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v.is_infinite() {
        Some(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        None
    }
}

/// Bytes as a standard base64 string (with padding), as protobuf's JSON mapping and
/// `%j`'s `payload_base64` give them.
pub(crate) fn base64<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Base64Display::new(v, &STANDARD))
}

/// The bytes a base64 string stands for (standard alphabet, padding optional).
pub(crate) fn from_base64(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<T: Serialize>(v: &T, style: Style) -> String {
        let mut out = Vec::new();
        write(v, style, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn pretty_is_cjson_style() {
        let v = serde_json::json!({"t": 27, "h": [1, 2, {"x": "y"}], "e": {}, "a": []});
        // serde_json's Value keeps keys sorted: a, e, h, t.
        assert_eq!(
            text(&v, Style::Pretty { depth: 0 }),
            "{\n\t\"a\":\t[],\n\t\"e\":\t{\n\t},\n\t\"h\":\t[1, 2, {\n\t\t\t\"x\":\t\"y\"\n\t\t}],\n\t\"t\":\t27\n}"
        );
        assert_eq!(
            text(&serde_json::json!({"x": 1}), Style::Pretty { depth: 1 }),
            "{\n\t\t\"x\":\t1\n\t}"
        );
        assert_eq!(
            text(&v, Style::Compact),
            r#"{"a":[],"e":{},"h":[1,2,{"x":"y"}],"t":27}"#
        );
    }

    struct N(u64, i64, f64, f32);
    enum E {
        U(u64),
        I(i64),
        D(f64),
        F(f32),
    }
    impl Serialize for E {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match *self {
                E::U(v) => u64(v, s),
                E::I(v) => i64(v, s),
                E::D(v) => f64(v, s),
                E::F(v) => f32(v, s),
            }
        }
    }
    impl Serialize for N {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq([E::U(self.0), E::I(self.1), E::D(self.2), E::F(self.3)])
        }
    }

    #[test]
    fn numbers_stay_exact() {
        let t = |n: N| text(&n, Style::Compact);
        assert_eq!(
            t(N(1 << 53, -(1 << 53), 0.5, 12.1)),
            "[9007199254740992,-9007199254740992,0.5,12.1]"
        );
        // 2^53 + 1 is the first integer a double cannot hold.
        assert_eq!(
            t(N((1 << 53) + 1, -(1 << 53) - 1, f64::NAN, f32::INFINITY)),
            r#"["9007199254740993","-9007199254740993","NaN","Infinity"]"#
        );
        assert_eq!(
            t(N(u64::MAX, i64::MIN, f64::NEG_INFINITY, -0.25)),
            r#"["18446744073709551615",-9223372036854775808,"-Infinity",-0.25]"#
        );
        assert_eq!(
            t(N(1 << 60, i64::MAX, 1e300, 0.0)),
            r#"[1152921504606846976,"9223372036854775807",1e+300,0.0]"#
        );
    }

    #[test]
    fn base64_both_ways() {
        assert_eq!(from_base64("AAEC").unwrap(), [0, 1, 2]);
        assert_eq!(from_base64("AA==").unwrap(), [0]);
        assert_eq!(from_base64("AA").unwrap(), [0]);
        assert!(from_base64("A!").is_none());
    }
}
