//! The common message line read without serde: what `write` produces for a message
//! with a text payload and no properties, when neither topic nor payload needs an
//! escape. Most lines of most records have that shape, and reading them here is
//! several times faster than serde_json. Any other line, valid or not, is left to
//! serde (`None`), so this path never accepts what serde would refuse, nor reads a
//! value differently (a property test compares the two).

/// The fields of a canonical line, borrowed from it.
#[derive(Debug, PartialEq, Eq)]
pub struct Canonical<'a> {
    pub time: &'a str,
    pub offset_us: u64,
    pub topic: &'a str,
    pub qos: u8,
    pub retain: bool,
    pub payload: &'a str,
}

/// `{"time":"…","offset_us":N,"topic":"…","qos":Q,"retain":B,"payload":"…"}`, exactly.
pub fn canonical(line: &[u8]) -> Option<Canonical<'_>> {
    let mut c = Cursor { b: line, i: 0 };
    c.lit(b"{\"time\":\"")?;
    let time = c.string()?;
    c.lit(b",\"offset_us\":")?;
    let offset_us = c.number()?;
    c.lit(b",\"topic\":\"")?;
    let topic = c.string()?;
    c.lit(b",\"qos\":")?;
    let qos = c.digit()?;
    c.lit(b",\"retain\":")?;
    let retain = if c.lit(b"true").is_some() {
        true
    } else {
        c.lit(b"false")?;
        false
    };
    c.lit(b",\"payload\":\"")?;
    let payload = c.string()?;
    c.lit(b"}")?;
    (c.i == line.len()).then_some(Canonical {
        time,
        offset_us,
        topic,
        qos,
        retain,
        payload,
    })
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn lit(&mut self, s: &[u8]) -> Option<()> {
        let end = self.i.checked_add(s.len())?;
        (self.b.get(self.i..end)? == s).then(|| self.i = end)
    }

    /// The rest of a string whose opening quote is read: no escape, no control
    /// character (JSON forbids them raw), valid UTF-8; the closing quote is read.
    fn string(&mut self) -> Option<&'a str> {
        let rest = &self.b[self.i..];
        let len = memchr::memchr(b'"', rest)?;
        let raw = &rest[..len];
        if raw.iter().any(|&b| b == b'\\' || b < 0x20) {
            return None;
        }
        self.i += len + 1;
        std::str::from_utf8(raw).ok()
    }

    /// A JSON integer that fits in a u64: no sign, no fraction, no leading zero.
    fn number(&mut self) -> Option<u64> {
        let rest = &self.b[self.i..];
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || (len > 1 && rest[0] == b'0') {
            return None;
        }
        let v = std::str::from_utf8(&rest[..len]).ok()?.parse().ok()?;
        self.i += len;
        Some(v)
    }

    fn digit(&mut self) -> Option<u8> {
        let d = *self.b.get(self.i)?;
        // One digit, not followed by another (`00`, `12` are serde's to judge).
        if !d.is_ascii_digit() || self.b.get(self.i + 1).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        self.i += 1;
        Some(d - b'0')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"time":"2024-01-01T00:00:00.000001Z","offset_us":12,"topic":"a/b","qos":1,"retain":true,"payload":"hé"}"#;

    #[test]
    fn reads_the_canonical_shape() {
        assert_eq!(
            canonical(LINE.as_bytes()),
            Some(Canonical {
                time: "2024-01-01T00:00:00.000001Z",
                offset_us: 12,
                topic: "a/b",
                qos: 1,
                retain: true,
                payload: "hé",
            })
        );
    }

    #[test]
    fn leaves_everything_else_to_serde() {
        for (from, to) in [
            ("\"hé\"", "\"h\\\"\""),
            ("\"hé\"", "\"a\u{1}\""),
            ("12", "012"),
            ("12", "-1"),
            ("12", "1.5"),
            ("12", "99999999999999999999999"),
            ("\"qos\":1", "\"qos\":12"),
            ("true", "TRUE"),
            ("{\"time\"", "{ \"time\""),
            ("\"payload\"", "\"payload_base64\""),
            ("}", "}x"),
            ("}", ",\"properties\":{}}"),
        ] {
            let line = LINE.replacen(from, to, 1);
            assert_eq!(canonical(line.as_bytes()), None, "{line}");
        }
        assert_eq!(canonical(&LINE.as_bytes()[..LINE.len() - 1]), None);
        let mut bad_utf8 = LINE.as_bytes().to_vec();
        let at = LINE.find('é').unwrap();
        bad_utf8[at] = 0xff;
        assert_eq!(canonical(&bad_utf8), None);
    }
}
