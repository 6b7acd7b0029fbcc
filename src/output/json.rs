//! `%j` / `%J` JSON as mosquitto 2.1 prints it with cJSON (`cJSON_PrintUnformatted`,
//! or `cJSON_Print` for `--pretty`: tab indents, `"key":\tvalue`, `, ` between array
//! items), written straight into an `io::Write`.
//!
//! Beyond mosquitto, the output is always valid JSON:
//! - `%j`: a payload that is not UTF-8, or holds a NUL (which cuts mosquitto's C
//!   string), is given as `"payload_base64"` instead of `"payload"`; correlation
//!   data likewise as `"correlation-data-base64"`.
//! - `%J`: a payload that is not strict RFC 8259 JSON falls back to what `%j`
//!   prints, and the caller is told so (mosquitto prints an error and no JSON).
//!
//! Hand-written rather than serde_json, on purpose: the writer must print cJSON's
//! bytes (its escapes, `%.15g`/`%.17g` numbers, `--pretty`'s tabs), and the `%J`
//! parser must keep what cJSON keeps: keys in their order, duplicate keys all printed,
//! nesting to cJSON's depth limit (serde_json keeps the last duplicate and stops at 128
//! levels). serde_json checks the output's validity in the tests.

use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::codec::{PropertyId, PropertyValue};

use super::Message;

/// cJSON's `print_string_ptr`: `"`, `\` and the C escapes `\b \f \n \r \t` by
/// name, other bytes below 0x20 as `\u00xx` (lower-case hex), everything else as is.
pub(crate) fn string(out: &mut (impl Write + ?Sized), s: &[u8]) -> io::Result<()> {
    out.write_all(b"\"")?;
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.write_all(&s[start..i])?;
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.write_all(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ])?;
        } else {
            out.write_all(esc)?;
        }
        start = i + 1;
    }
    out.write_all(&s[start..])?;
    out.write_all(b"\"")
}

fn tabs(out: &mut (impl Write + ?Sized), n: usize) -> io::Result<()> {
    const TABS: [u8; 16] = [b'\t'; 16];
    let mut n = n;
    while n > 0 {
        let k = n.min(TABS.len());
        out.write_all(&TABS[..k])?;
        n -= k;
    }
    Ok(())
}

/// An object being printed, cJSON style. `depth` is cJSON's `output_buffer->depth`
/// inside the object: entries are indented by `depth` tabs, the `}` by `depth - 1`.
struct Obj {
    pretty: bool,
    depth: usize,
    entries: usize,
}

impl Obj {
    /// `outer` is the depth the object's value is printed at (0 for the root).
    fn open(out: &mut (impl Write + ?Sized), pretty: bool, outer: usize) -> io::Result<Obj> {
        out.write_all(if pretty { b"{\n" } else { b"{" })?;
        Ok(Obj {
            pretty,
            depth: outer + 1,
            entries: 0,
        })
    }

    /// Starts an entry whose key is a known-safe ASCII literal.
    fn key(&mut self, out: &mut (impl Write + ?Sized), key: &str) -> io::Result<()> {
        self.sep(out)?;
        out.write_all(b"\"")?;
        out.write_all(key.as_bytes())?;
        out.write_all(if self.pretty { b"\":\t" } else { b"\":" })
    }

    /// Starts an entry whose key needs escaping.
    fn key_escaped(&mut self, out: &mut (impl Write + ?Sized), key: &[u8]) -> io::Result<()> {
        self.sep(out)?;
        string(out, key)?;
        out.write_all(if self.pretty { b":\t" } else { b":" })
    }

    fn sep(&mut self, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
        if self.entries > 0 {
            out.write_all(if self.pretty { b",\n" } else { b"," })?;
        }
        self.entries += 1;
        if self.pretty {
            tabs(out, self.depth)?;
        }
        Ok(())
    }

    fn close(self, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
        if self.pretty {
            if self.entries > 0 {
                out.write_all(b"\n")?;
            }
            tabs(out, self.depth - 1)?;
        }
        out.write_all(b"}")
    }
}

fn int(out: &mut (impl Write + ?Sized), v: impl itoa::Integer) -> io::Result<()> {
    let mut buf = itoa::Buffer::new();
    out.write_all(buf.format(v).as_bytes())
}

/// Whether bytes can be a JSON string as they are: UTF-8 with no NUL (mosquitto's
/// C strings end at the first NUL).
fn is_text(b: &[u8]) -> bool {
    !b.contains(&0) && std::str::from_utf8(b).is_ok()
}

/// Standard base64 with padding, encoded through a stack buffer.
fn base64_string(out: &mut (impl Write + ?Sized), data: &[u8]) -> io::Result<()> {
    out.write_all(b"\"")?;
    let mut buf = [0u8; 1024];
    for chunk in data.chunks(768) {
        let n = STANDARD
            .encode_slice(chunk, &mut buf)
            .map_err(|e| io::Error::other(e.to_string()))?;
        out.write_all(&buf[..n])?;
    }
    out.write_all(b"\"")
}

/// Text under `key`, or base64 under `key_base64` when it is not text.
fn text_or_base64(
    obj: &mut Obj,
    out: &mut (impl Write + ?Sized),
    key: &str,
    key_base64: &str,
    data: &[u8],
) -> io::Result<()> {
    if is_text(data) {
        obj.key(out, key)?;
        string(out, data)
    } else {
        obj.key(out, key_base64)?;
        base64_string(out, data)
    }
}

/// mosquitto 2.1 `json_print_properties`: wire order, mosquitto's property names,
/// user properties as an array of one-entry objects placed where the first one is.
fn properties(
    out: &mut (impl Write + ?Sized),
    msg: &Message<'_>,
    root: &mut Obj,
) -> io::Result<()> {
    root.key(out, "properties")?;
    let mut obj = Obj::open(out, root.pretty, root.depth)?;
    let mut users_done = false;
    for p in &msg.properties.0 {
        match (p.id, &p.value) {
            (PropertyId::PayloadFormatIndicator, PropertyValue::Byte(v)) => {
                obj.key(out, "payload-format-indicator")?;
                int(out, *v)?;
            }
            (PropertyId::MessageExpiryInterval, PropertyValue::FourByte(v)) => {
                obj.key(out, "message-expiry-interval")?;
                int(out, *v)?;
            }
            (PropertyId::ContentType, PropertyValue::String(s)) => {
                obj.key(out, "content-type")?;
                string(out, s.as_bytes())?;
            }
            (PropertyId::ResponseTopic, PropertyValue::String(s)) => {
                obj.key(out, "response-topic")?;
                string(out, s.as_bytes())?;
            }
            (PropertyId::CorrelationData, PropertyValue::Binary(b)) => {
                text_or_base64(
                    &mut obj,
                    out,
                    "correlation-data",
                    "correlation-data-base64",
                    b,
                )?;
            }
            (PropertyId::SubscriptionIdentifier, PropertyValue::VarInt(v)) => {
                obj.key(out, "subscription-identifier")?;
                int(out, *v)?;
            }
            (PropertyId::TopicAlias, PropertyValue::TwoByte(v)) => {
                obj.key(out, "topic-alias")?;
                int(out, *v)?;
            }
            (PropertyId::UserProperty, PropertyValue::Pair(..)) if !users_done => {
                users_done = true;
                obj.key(out, "user-properties")?;
                out.write_all(b"[")?;
                for (i, (k, v)) in msg.properties.user_properties().enumerate() {
                    if i > 0 {
                        out.write_all(if obj.pretty { b", " } else { b"," })?;
                    }
                    let mut user = Obj::open(out, obj.pretty, obj.depth + 1)?;
                    user.key_escaped(out, k.as_bytes())?;
                    string(out, v.as_bytes())?;
                    user.close(out)?;
                }
                out.write_all(b"]")?;
            }
            // Later user properties are already in the array; other properties do
            // not belong in a PUBLISH and mosquitto prints nothing for them.
            _ => {}
        }
    }
    obj.close(out)
}

/// Writes the `%j` (`raw == false`) or `%J` (`raw == true`) object. `tst` is the
/// timestamp text; `decoded`, a decoded payload's JSON text, is the `"payload"`
/// value when given. Returns `false` when `%J` had to fall back because the payload
/// is not JSON (the caller reports it, as mosquitto does).
pub(crate) fn message(
    out: &mut (impl Write + ?Sized),
    msg: &Message<'_>,
    decoded: Option<&[u8]>,
    tst: &[u8],
    pretty: bool,
    raw: bool,
) -> io::Result<bool> {
    // Parse first, so that nothing is written for a payload we cannot embed.
    let parsed = if raw && decoded.is_none() && !msg.payload.is_empty() {
        parse(msg.payload)
    } else {
        None
    };
    let mut root = Obj::open(out, pretty, 0)?;
    root.key(out, "tst")?;
    string(out, tst)?;
    root.key(out, "topic")?;
    string(out, msg.topic.as_bytes())?;
    root.key(out, "qos")?;
    int(out, msg.qos)?;
    root.key(out, "retain")?;
    out.write_all(if msg.retain { b"true" } else { b"false" })?;
    root.key(out, "payloadlen")?;
    int(out, msg.payload.len())?;
    if msg.qos > 0 {
        root.key(out, "mid")?;
        int(out, msg.mid)?;
    }
    if !msg.properties.is_empty() {
        properties(out, msg, &mut root)?;
    }
    let mut ok = true;
    if let Some(text) = decoded {
        root.key(out, "payload")?;
        out.write_all(text)?;
    } else if msg.payload.is_empty() {
        // libmosquitto hands over a NULL payload when it is empty.
        root.key(out, "payload")?;
        out.write_all(b"null")?;
    } else if let Some(value) = parsed {
        root.key(out, "payload")?;
        value.print(out, pretty, root.depth)?;
    } else {
        ok = !raw;
        text_or_base64(&mut root, out, "payload", "payload_base64", msg.payload)?;
    }
    root.close(out)?;
    Ok(ok)
}

/// A parsed JSON value, kept as cJSON keeps it: objects as ordered lists (duplicate
/// keys and all), numbers as doubles.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

/// cJSON's `CJSON_NESTING_LIMIT`: deeper input is refused.
const NESTING_LIMIT: usize = 1000;

/// Strict RFC 8259 parse of a whole payload (whitespace around the value allowed).
/// `None` for anything else, including what cJSON would leniently accept (leading
/// zeros, control characters in strings, invalid UTF-8, lone surrogates).
pub(crate) fn parse(input: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(input).ok()?;
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> Option<()> {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            Some(())
        } else {
            None
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        match self.peek()? {
            b'n' => self.eat(b"null").map(|_| Value::Null),
            b't' => self.eat(b"true").map(|_| Value::Bool(true)),
            b'f' => self.eat(b"false").map(|_| Value::Bool(false)),
            b'"' => self.string().map(Value::String),
            b'-' | b'0'..=b'9' => self.number(),
            b'[' => {
                if depth >= NESTING_LIMIT {
                    return None;
                }
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(Value::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(Value::Array(items));
                        }
                        _ => return None,
                    }
                }
            }
            b'{' => {
                if depth >= NESTING_LIMIT {
                    return None;
                }
                self.i += 1;
                let mut entries = Vec::new();
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(Value::Object(entries));
                }
                loop {
                    self.ws();
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let k = self.string()?;
                    self.ws();
                    self.eat(b":")?;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(Value::Object(entries));
                        }
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        // The slice is ASCII by construction; Rust's parse rounds correctly, as
        // glibc's strtod (which cJSON uses) does.
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        text.parse::<f64>().ok().map(Value::Number)
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        let h = std::str::from_utf8(h).ok()?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.i += 4;
        u32::from_str_radix(h, 16).ok()
    }

    fn string(&mut self) -> Option<String> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // The input is valid UTF-8 and we stopped at ASCII, so this is whole chars.
            out.push_str(std::str::from_utf8(&self.s[start..self.i]).ok()?);
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.i += 1;
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = match hi {
                                0xD800..=0xDBFF => {
                                    self.eat(b"\\u")?;
                                    let lo = self.hex4()?;
                                    if !(0xDC00..=0xDFFF).contains(&lo) {
                                        return None;
                                    }
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                }
                                0xDC00..=0xDFFF => return None,
                                c => c,
                            };
                            out.push(char::from_u32(c)?);
                        }
                        _ => return None,
                    }
                }
                _ => return None, // raw control character
            }
        }
    }
}

impl Value {
    /// cJSON's `print_value` at output depth `depth`.
    pub(crate) fn print(
        &self,
        out: &mut (impl Write + ?Sized),
        pretty: bool,
        depth: usize,
    ) -> io::Result<()> {
        match self {
            Value::Null => out.write_all(b"null"),
            Value::Bool(true) => out.write_all(b"true"),
            Value::Bool(false) => out.write_all(b"false"),
            Value::Number(d) => number(out, *d),
            Value::String(s) => string(out, s.as_bytes()),
            Value::Array(items) => {
                out.write_all(b"[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.write_all(if pretty { b", " } else { b"," })?;
                    }
                    v.print(out, pretty, depth + 1)?;
                }
                out.write_all(b"]")
            }
            Value::Object(entries) => {
                let mut obj = Obj::open(out, pretty, depth)?;
                for (k, v) in entries {
                    obj.key_escaped(out, k.as_bytes())?;
                    v.print(out, pretty, obj.depth)?;
                }
                obj.close(out)
            }
        }
    }
}

/// cJSON 1.7.15 `print_number` as Debian's build behaves: `null` for NaN/infinity,
/// else `%1.15g`, or `%1.17g` when 15 digits do not read back within DBL_EPSILON.
/// (Its `%d` branch for whole numbers prints what `%1.15g` prints, except for -0,
/// which Debian's libcjson prints as `-0`; so there is no such branch here.)
fn number(out: &mut (impl Write + ?Sized), d: f64) -> io::Result<()> {
    if !d.is_finite() {
        return out.write_all(b"null");
    }
    let mut buf = [0u8; 32];
    let s = printf_g(&mut buf, c"%1.15g", d);
    let back = std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<f64>().ok());
    // Beyond cJSON: 15 digits that read back as infinity (near f64::MAX) count as
    // not reading back, since many JSON readers refuse such a number.
    let same = back.is_some_and(|t| {
        let max = t.abs().max(d.abs());
        t.is_finite() && (t - d).abs() <= max * f64::EPSILON
    });
    if same {
        return out.write_all(s);
    }
    let mut buf = [0u8; 32];
    let s = printf_g(&mut buf, c"%1.17g", d);
    out.write_all(s)
}

/// The C library's `%g` rendering of `d` (C locale, as mosquitto_sub runs in).
fn printf_g<'b>(buf: &'b mut [u8; 32], fmt: &std::ffi::CStr, d: f64) -> &'b [u8] {
    // SAFETY: `buf` is writable for its length; the format takes one double.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), d) };
    // `%1.17g` of a double is at most 24 bytes, so it always fits.
    let n = usize::try_from(n).unwrap_or(0).min(buf.len() - 1);
    &buf[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut v = Vec::new();
        f(&mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn strings_escape_like_cjson() {
        assert_eq!(
            s(|o| string(o, b"a\"b\\c\x08\x0c\n\r\t\x01\x1f\x7f/\xc3\xa9")),
            "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\u{e9}\""
        );
        assert_eq!(s(|o| string(o, b"")), "\"\"");
        assert_eq!(s(|o| string(o, b"\0")), "\"\\u0000\"");
    }

    #[test]
    fn numbers_like_cjson() {
        let n = |d: f64| s(|o| number(o, d));
        // Each as Debian's libcjson 1.7.15 prints it.
        assert_eq!(n(0.0), "0");
        assert_eq!(n(-0.0), "-0");
        assert_eq!(n(1e20), "1e+20");
        assert_eq!(n(1e-7), "1e-07");
        assert_eq!(n(-2147483648.0), "-2147483648");
        assert_eq!(n(2147483647.5), "2147483647.5");
        assert_eq!(n(27.0), "27");
        assert_eq!(n(-3.0), "-3");
        assert_eq!(n(0.1), "0.1");
        assert_eq!(n(1.5e300), "1.5e+300");
        assert_eq!(n(2147483647.0), "2147483647");
        assert_eq!(n(2147483648.0), "2147483648");
        assert_eq!(n(4294967295.0), "4294967295");
        assert_eq!(n(-2147483649.0), "-2147483649");
        assert_eq!(n(1e15), "1e+15");
        assert_eq!(n(12345678901234567890.0), "1.2345678901234567e+19");
        // cJSON's compare_double accepts 15 digits within DBL_EPSILON relative.
        assert_eq!(n(0.30000000000000004), "0.3");
        assert_eq!(n(1.0 / 3.0), "0.33333333333333331");
        assert_eq!(n(0.1 + 0.7), "0.8");
        assert_eq!(n(123456789.12345679), "123456789.12345679");
        assert_eq!(n(f64::INFINITY), "null");
        // cJSON prints "1.79769313486232e+308", which reads back as infinity.
        assert_eq!(n(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(n(5e-324), "4.94065645841247e-324");
    }

    #[test]
    fn strict_parse() {
        assert_eq!(parse(b" 1 "), Some(Value::Number(1.0)));
        assert_eq!(
            parse(br#"{"a":[1,true,null,"x\u00e9\ud83d\ude00\/"],"a":{}}"#),
            Some(Value::Object(vec![
                (
                    "a".into(),
                    Value::Array(vec![
                        Value::Number(1.0),
                        Value::Bool(true),
                        Value::Null,
                        Value::String("x\u{e9}\u{1F600}/".into())
                    ])
                ),
                ("a".into(), Value::Object(vec![]))
            ]))
        );
        for bad in [
            &b""[..],
            b" ",
            b"01",
            b"1.",
            b".5",
            b"-",
            b"+1",
            b"1e",
            b"[1,]",
            b"{\"a\" 1}",
            b"{\"a\":1,}",
            b"\"\x01\"",
            b"\"\\ud800\"",
            b"\"\\udc00\"",
            b"\"\\x\"",
            b"\"\xff\"",
            b"nul",
            b"1 2",
            b"\x0b1",
            b"[1]\0",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        let deep_ok = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(parse(deep_ok.as_bytes()).is_some());
        let too_deep = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
        assert!(parse(too_deep.as_bytes()).is_none());
    }

    #[test]
    fn values_print_like_cjson() {
        let v = parse(br#"{ "t" : 27.0, "h":[1, 2,{"x":"y"}], "e":{}, "a":[] }"#).unwrap();
        assert_eq!(
            s(|o| v.print(o, false, 0)),
            r#"{"t":27,"h":[1,2,{"x":"y"}],"e":{},"a":[]}"#
        );
        assert_eq!(
            s(|o| v.print(o, true, 0)),
            "{\n\t\"t\":\t27,\n\t\"h\":\t[1, 2, {\n\t\t\t\"x\":\t\"y\"\n\t\t}],\n\t\"e\":\t{\n\t},\n\t\"a\":\t[]\n}"
        );
    }
}
