//! JSON payloads: checked (RFC 8259 as serde_json reads it: UTF-8, one value, nothing
//! after it) and printed again minimised or indented, token by token from the text,
//! so numbers, escapes, key order and duplicate keys stay exactly as sent.

use super::style::{self, Style};

/// The payload as text, if it is one JSON value.
pub fn validate(bytes: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8, so not JSON".to_string())?;
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| format!("not JSON: {e}"))?;
    Ok(text)
}

/// The end (one past the closing quote) of the string starting at `b[i]`.
fn string_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// Writes `text`, which `validate` accepted, in `style`.
pub fn write(text: &str, style: Style, out: &mut Vec<u8>) {
    let b = text.as_bytes();
    let (pretty, mut depth) = match style {
        Style::Compact => (false, 0),
        Style::Pretty { depth } => (true, depth),
    };
    // Per open container: whether it is an object, and whether it has an entry.
    let mut open: Vec<(bool, bool)> = Vec::new();
    let mut key_next = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        i += 1;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'{' => {
                depth += 1;
                open.push((true, false));
                out.extend_from_slice(if pretty { b"{\n" } else { b"{" });
                key_next = true;
            }
            b'[' => {
                depth += 1;
                open.push((false, false));
                out.push(b'[');
            }
            b'}' | b']' => {
                let (object, entries) = open.pop().unwrap_or((false, false));
                depth -= 1;
                if pretty && object {
                    if entries {
                        out.push(b'\n');
                    }
                    let _ = style::tabs(out, depth);
                }
                out.push(c);
                key_next = false;
            }
            b',' => {
                let object = open.last().is_some_and(|o| o.0);
                out.extend_from_slice(match (pretty, object) {
                    (true, true) => b",\n",
                    (true, false) => b", ",
                    _ => b",",
                });
                key_next = object;
            }
            b':' => out.extend_from_slice(if pretty { b":\t" } else { b":" }),
            _ => {
                if key_next {
                    if pretty {
                        let _ = style::tabs(out, depth);
                    }
                    if let Some(o) = open.last_mut() {
                        o.1 = true;
                    }
                    key_next = false;
                }
                i = if c == b'"' {
                    string_end(b, start)
                } else {
                    // A number or literal runs to the next delimiter.
                    let mut j = i;
                    while j < b.len() && !b"{}[],: \t\n\r\"".contains(&b[j]) {
                        j += 1;
                    }
                    j
                };
                out.extend_from_slice(&b[start..i]);
            }
        }
    }
}

/// JSON text checked, to be sent as it is.
pub fn encode(json: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(json).map_err(|_| "not UTF-8".to_string())?;
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| e.to_string())?;
    Ok(json.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str, style: Style) -> String {
        let t = validate(text.as_bytes()).unwrap();
        let mut out = Vec::new();
        write(t, style, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn reprints_exactly_in_both_styles() {
        let src = " { \"t\" : 27.50, \"big\": 123456789012345678901234567890, \"h\":[1, 2,{\"x\":\"y \\\" ,:{}\"}], \"e\":{}, \"a\":[ ], \"t\": null } ";
        assert_eq!(
            w(src, Style::Compact),
            r#"{"t":27.50,"big":123456789012345678901234567890,"h":[1,2,{"x":"y \" ,:{}"}],"e":{},"a":[],"t":null}"#
        );
        // The same bytes cJSON's pretty printer lays out (see output::json's tests).
        assert_eq!(
            w(src, Style::Pretty { depth: 0 }),
            "{\n\t\"t\":\t27.50,\n\t\"big\":\t123456789012345678901234567890,\n\t\"h\":\t[1, 2, {\n\t\t\t\"x\":\t\"y \\\" ,:{}\"\n\t\t}],\n\t\"e\":\t{\n\t},\n\t\"a\":\t[],\n\t\"t\":\tnull\n}"
        );
        assert_eq!(w("  \"a\"  ", Style::Pretty { depth: 3 }), "\"a\"");
        assert_eq!(w("[{}]", Style::Pretty { depth: 1 }), "[{\n\t\t}]");
    }

    #[test]
    fn refuses_what_is_not_one_json_value() {
        for bad in [
            &b""[..],
            b"{",
            b"[1,]",
            b"01",
            b"1 2",
            b"\xff",
            b"{\"a\":1}x",
            b"nul",
        ] {
            assert!(validate(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
