//! The `-F` format language: checked as mosquitto 2.1's `check_format`
//! (client/client_shared.c) checks it, then compiled once into a list of ops, with
//! the field flags read the way its `formatted_print` (client/sub_client_output.c)
//! reads them.
//!
//! The two mosquitto functions read flags slightly differently (`check_format`
//! takes one flag character, `formatted_print` takes `-` then `0`); a format that
//! passes the check means the same thing to both except for `%-0…`, where only the
//! printer's reading (left-aligned, zero "padding" for blanks) matters, so that is
//! the one we compile.
//!
//! Hand-written rather than a template or printf crate: every flag, width, precision
//! and refusal must read as mosquitto's C code reads it, and print the same bytes,
//! which no general formatter promises (the golden tests in `output/tests.rs` hold it).

use super::FormatError;

/// Characters that may stand between the precision and the conversion of a `%`
/// sequence, to separate hex digit groups (mosquitto 2.1 `hexseplist`).
const HEX_SEPARATORS: &[u8; 32] = b"!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~ ";

/// How one `%` field is laid out: mosquitto's `struct fieldoptions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldOpts {
    /// Minimum width (C `int`; digits beyond `i32::MAX` saturate).
    pub width: i32,
    /// `-1` when absent, as in mosquitto.
    pub precision: i32,
    /// `-` flag: left-align.
    pub left: bool,
    /// `0` flag: `b'0'`, else `b' '`.
    pub pad: u8,
    /// Hex group separator (default space), used by `%x`/`%X` with a precision.
    pub sep: u8,
}

impl Default for FieldOpts {
    fn default() -> FieldOpts {
        FieldOpts {
            width: 0,
            precision: -1,
            left: false,
            pad: b' ',
            sep: b' ',
        }
    }
}

/// What a `%` conversion prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    /// `%A` topic alias.
    TopicAlias,
    /// `%C` content type.
    ContentType,
    /// `%D` correlation data, raw.
    CorrelationData,
    /// `%E` message expiry interval.
    MessageExpiry,
    /// `%F` payload format indicator.
    PayloadFormat,
    /// `%I` ISO-8601 local time, seconds.
    Iso8601,
    /// `%j` JSON with the payload as a string.
    Json,
    /// `%J` JSON with the payload embedded as JSON.
    JsonRaw,
    /// `%l` payload length.
    PayloadLen,
    /// `%m` message id.
    Mid,
    /// `%P` user properties, `key:value` separated by spaces.
    UserProperties,
    /// `%p` payload, raw.
    Payload,
    /// `%q` QoS digit.
    Qos,
    /// `%R` response topic.
    ResponseTopic,
    /// `%r` retain flag, 0 or 1.
    Retain,
    /// `%S` subscription identifier (the first).
    SubscriptionId,
    /// `%t` topic.
    Topic,
    /// `%U` Unix time with nanoseconds.
    UnixTime,
    /// `%x` payload in lower-case hex.
    HexLower,
    /// `%X` payload in upper-case hex.
    HexUpper,
    /// `%f` 4-byte payload as a native-endian IEEE float.
    Float,
    /// `%d` 8-byte payload as a native-endian IEEE double.
    Double,
}

/// One step of a compiled format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Literal bytes `lits[start..end]` (text, escapes, `%%`, `@@`).
    Lit { start: u32, end: u32 },
    /// A `%` conversion.
    Field(Field, FieldOpts),
    /// `@N`: nanoseconds within the second, 9 digits.
    Nanos,
    /// `@c`: strftime `%c` of the local time; the index into the clock's strftime slots.
    Strftime(usize),
}

/// A format compiled once: ops plus the literal bytes they point into.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Compiled {
    pub ops: Vec<Op>,
    pub lits: Vec<u8>,
    /// The strftime conversion character of each `Op::Strftime` slot.
    pub strftime: Vec<u8>,
}

impl Compiled {
    fn lit(&mut self, bytes: &[u8]) {
        let start = self.lits.len() as u32;
        self.lits.extend_from_slice(bytes);
        let end = self.lits.len() as u32;
        if let Some(Op::Lit { end: prev_end, .. }) = self.ops.last_mut()
            && *prev_end == start
        {
            *prev_end = end;
            return;
        }
        self.ops.push(Op::Lit { start, end });
    }

    /// Whether any op needs the wall-clock breakdown.
    pub fn uses(&self, pred: impl Fn(&Op) -> bool) -> bool {
        self.ops.iter().any(pred)
    }
}

/// The char at byte `i` of `fmt`, for error messages (mosquitto prints the byte;
/// we print the whole character it starts, or U+FFFD).
fn char_at(fmt: &[u8], i: usize) -> char {
    match fmt.get(i) {
        None => '\0',
        Some(&b) if b.is_ascii() => b as char,
        Some(_) => {
            let end = (i + 4).min(fmt.len());
            (i + 1..=end)
                .find_map(|e| std::str::from_utf8(&fmt[i..e]).ok())
                .and_then(|s| s.chars().next())
                .unwrap_or('\u{FFFD}')
        }
    }
}

fn is_conversion(c: u8) -> bool {
    matches!(
        c,
        b'%' | b'A'
            | b'C'
            | b'D'
            | b'E'
            | b'F'
            | b'I'
            | b'l'
            | b'm'
            | b'P'
            | b'p'
            | b'q'
            | b'R'
            | b'S'
            | b'r'
            | b't'
            | b'j'
            | b'J'
            | b'U'
            | b'x'
            | b'X'
            | b'f'
            | b'd'
    )
}

/// mosquitto 2.1 `check_format`, step for step: `str[i+1]` past the end reads the
/// C string's terminating NUL, which is what `at` returns.
pub(crate) fn check(fmt: &[u8]) -> Result<(), FormatError> {
    let len = fmt.len();
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while i < len {
        match fmt[i] {
            b'%' => {
                if i == len - 1 {
                    return Err(FormatError::IncompleteFormat);
                }
                if at(i + 1) == b'0' || at(i + 1) == b'-' {
                    i += 1;
                    if i == len - 1 {
                        return Err(FormatError::IncompleteFormat);
                    }
                }
                while at(i + 1).is_ascii_digit() {
                    i += 1;
                    if i == len - 1 {
                        return Err(FormatError::IncompleteFormat);
                    }
                }
                if at(i + 1) == b'.' {
                    i += 1;
                    if i == len - 1 {
                        return Err(FormatError::IncompleteFormat);
                    }
                    while at(i + 1).is_ascii_digit() {
                        i += 1;
                        if i == len - 1 {
                            return Err(FormatError::IncompleteFormat);
                        }
                    }
                }
                if HEX_SEPARATORS.contains(&at(i + 1)) {
                    i += 1;
                }
                if !is_conversion(at(i + 1)) {
                    return Err(FormatError::InvalidFormat(char_at(fmt, i + 1)));
                }
                i += 1;
            }
            b'@' => {
                if i == len - 1 {
                    return Err(FormatError::IncompleteFormat);
                }
                i += 1;
            }
            b'\\' => {
                if i == len - 1 {
                    return Err(FormatError::IncompleteEscape);
                }
                if !matches!(
                    at(i + 1),
                    b'\\' | b'0' | b'a' | b'e' | b'n' | b'r' | b't' | b'v'
                ) {
                    return Err(FormatError::InvalidEscape(char_at(fmt, i + 1)));
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// `field = field * 10 + digit` on a C `int`, saturating instead of overflowing.
fn push_digit(v: i32, d: u8) -> i32 {
    v.saturating_mul(10).saturating_add(i32::from(d - b'0'))
}

/// Checks `fmt`, then compiles it the way mosquitto 2.1's `formatted_print` walks it.
pub(crate) fn compile(fmt: &[u8]) -> Result<Compiled, FormatError> {
    check(fmt)?;
    let mut c = Compiled::default();
    let len = fmt.len();
    let mut i = 0;
    while i < len {
        match fmt[i] {
            b'%' if i < len - 1 => {
                i += 1;
                let o = field_opts(fmt, &mut i);
                match fmt.get(i) {
                    Some(b'%') => c.lit(b"%"),
                    // Unknown conversions cannot pass `check`; mosquitto prints nothing.
                    Some(&ch) => {
                        if let Some(f) = conversion(ch) {
                            c.ops.push(Op::Field(f, o));
                        }
                    }
                    None => {}
                }
            }
            b'@' if i < len - 1 => {
                i += 1;
                match fmt[i] {
                    b'@' => c.lit(b"@"),
                    b'N' => c.ops.push(Op::Nanos),
                    ch => {
                        c.ops.push(Op::Strftime(c.strftime.len()));
                        c.strftime.push(ch);
                    }
                }
            }
            b'\\' if i < len - 1 => {
                i += 1;
                if let Some(b) = escape(fmt[i]) {
                    c.lit(&[b]);
                }
            }
            // A lone `%`, `@` or `\` at the end cannot pass `check`; mosquitto prints
            // nothing for it.
            b'%' | b'@' | b'\\' => {}
            b => c.lit(&[b]),
        }
        i += 1;
    }
    Ok(c)
}

/// Reads a field's flags, width, precision and hex separator as `formatted_print`
/// does, from `*i` (just after the `%`); leaves `*i` at the conversion character (or
/// at the end of `fmt`).
fn field_opts(fmt: &[u8], i: &mut usize) -> FieldOpts {
    let len = fmt.len();
    let mut o = FieldOpts::default();
    if fmt[*i] == b'-' {
        o.left = true;
        if *i < len - 1 {
            *i += 1;
        }
    }
    if fmt[*i] == b'0' {
        o.pad = b'0';
        if *i < len - 1 {
            *i += 1;
        }
    }
    while *i < len - 1 && fmt[*i].is_ascii_digit() {
        o.width = push_digit(o.width, fmt[*i]);
        *i += 1;
    }
    if fmt[*i] == b'.' && *i < len - 1 {
        *i += 1;
        o.precision = 0;
        while *i < len - 1 && fmt[*i].is_ascii_digit() {
            o.precision = push_digit(o.precision, fmt[*i]);
            *i += 1;
        }
    }
    if HEX_SEPARATORS.contains(&fmt[*i]) {
        o.sep = fmt[*i];
        *i += 1;
    }
    o
}

/// The field a `%` conversion character prints (`%%` is a literal, handled apart).
fn conversion(ch: u8) -> Option<Field> {
    Some(match ch {
        b'A' => Field::TopicAlias,
        b'C' => Field::ContentType,
        b'D' => Field::CorrelationData,
        b'E' => Field::MessageExpiry,
        b'F' => Field::PayloadFormat,
        b'I' => Field::Iso8601,
        b'j' => Field::Json,
        b'J' => Field::JsonRaw,
        b'l' => Field::PayloadLen,
        b'm' => Field::Mid,
        b'P' => Field::UserProperties,
        b'p' => Field::Payload,
        b'q' => Field::Qos,
        b'R' => Field::ResponseTopic,
        b'r' => Field::Retain,
        b'S' => Field::SubscriptionId,
        b't' => Field::Topic,
        b'U' => Field::UnixTime,
        b'x' => Field::HexLower,
        b'X' => Field::HexUpper,
        b'f' => Field::Float,
        b'd' => Field::Double,
        _ => return None,
    })
}

/// The byte a `\` escape stands for.
fn escape(ch: u8) -> Option<u8> {
    Some(match ch {
        b'\\' => b'\\',
        b'0' => 0,
        b'a' => 0x07,
        b'e' => 0x1b,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(fmt: &str) -> String {
        compile(fmt.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn errors_in_mosquittos_words() {
        // Each checked against Debian's mosquitto_sub 2.0.11 (same check_format text).
        assert_eq!(err("%"), "Error: Incomplete format specifier.");
        assert_eq!(err("%5"), "Error: Incomplete format specifier.");
        assert_eq!(err("%-"), "Error: Incomplete format specifier.");
        assert_eq!(err("%5."), "Error: Incomplete format specifier.");
        assert_eq!(err("%.5"), "Error: Incomplete format specifier.");
        assert_eq!(err("@"), "Error: Incomplete format specifier.");
        assert_eq!(err("ab\\"), "Error: Incomplete escape specifier.");
        assert_eq!(err("%y"), "Error: Invalid format specifier 'y'.");
        assert_eq!(err("%5.2Z"), "Error: Invalid format specifier 'Z'.");
        assert_eq!(err("\\q"), "Error: Invalid escape specifier 'q'.");
        assert_eq!(err("%é"), "Error: Invalid format specifier 'é'.");
        // A separator with nothing after it: mosquitto reads the C string's NUL.
        assert_eq!(err("%:"), "Error: Invalid format specifier '\0'.");
        // `%0-x`: `-` is read as the hex separator, then `5` is no conversion.
        assert_eq!(err("%0-5x"), "Error: Invalid format specifier '5'.");
    }

    #[test]
    fn literals_merge_and_escapes_resolve() {
        let c = compile(b"a%%b@@\\n\\0\\e\\a\\t\\v\\r\\\\c").unwrap();
        assert_eq!(c.ops, vec![Op::Lit { start: 0, end: 13 }]);
        assert_eq!(c.lits, b"a%b@\n\0\x1b\x07\t\x0b\r\\c");
    }

    #[test]
    fn field_options() {
        let c = compile(b"%-010.3:x|%05t|%.x|%-0A").unwrap();
        let fields: Vec<_> = c
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Field(f, o) => Some((*f, *o)),
                _ => None,
            })
            .collect();
        assert_eq!(
            fields,
            vec![
                (
                    Field::HexLower,
                    FieldOpts {
                        width: 10,
                        precision: 3,
                        left: true,
                        pad: b'0',
                        sep: b':'
                    }
                ),
                (
                    Field::Topic,
                    FieldOpts {
                        width: 5,
                        pad: b'0',
                        ..FieldOpts::default()
                    }
                ),
                (
                    Field::HexLower,
                    FieldOpts {
                        precision: 0,
                        ..FieldOpts::default()
                    }
                ),
                (
                    Field::TopicAlias,
                    FieldOpts {
                        left: true,
                        pad: b'0',
                        ..FieldOpts::default()
                    }
                ),
            ]
        );
    }

    #[test]
    fn huge_widths_saturate() {
        let c = compile(b"%99999999999999999999p").unwrap();
        assert!(matches!(c.ops[0], Op::Field(Field::Payload, o) if o.width == i32::MAX));
    }

    #[test]
    fn time_ops() {
        let c = compile(b"@Y-@N@@@H").unwrap();
        assert_eq!(
            c.ops,
            vec![
                Op::Strftime(0),
                Op::Lit { start: 0, end: 1 },
                Op::Nanos,
                Op::Lit { start: 1, end: 2 },
                Op::Strftime(1),
            ]
        );
        assert_eq!(c.strftime, b"YH");
    }
}
