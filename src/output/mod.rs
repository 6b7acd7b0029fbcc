//! What `mqtk sub` and `mqtk rr` print for each message, byte for byte as
//! mosquitto_sub 2.1 prints it: payload only, `-v`, `-N`, `-F` templates, `%j`/`%J`
//! JSON with `--pretty`, hex, and `--watch` screen positioning. A pure library:
//! messages in, bytes into any `io::Write` (the caller buffers stdout).
//!
//! Known differences from mosquitto_sub 2.1, each on purpose:
//! - `%j`: a payload that is not UTF-8 or holds a NUL is printed as
//!   `"payload_base64"` (mosquitto cuts it at the NUL or emits invalid JSON; its
//!   issues #2213 and #1222). Correlation data likewise as `"correlation-data-base64"`.
//! - `%J`: a payload that is not strict JSON is printed as `%j` would print it (and
//!   reported), instead of no JSON at all; payloads cJSON accepts but RFC 8259 does
//!   not (`01`, raw control characters or invalid UTF-8 in strings) take the same
//!   path, so the output is always valid JSON.
//! - JSON strings holding U+0000 (from `\u0000` in a `%J` payload) keep it as
//!   `\u0000`; cJSON's C strings would cut them there.
//! - `%J` numbers print as cJSON prints them, except one whose 15-digit form reads
//!   back as infinity (near ±1.8e308): 17 digits, since many readers refuse it.
//! - The time of a message is when it was received (one `SystemTime` per message),
//!   where mosquitto reads the clock again for each time field.
//! - `Invalid format specifier` names the whole character where mosquitto prints
//!   one byte of it.
//!
//! With a decoder (`--decode`, mqtk's own), a payload that decodes is shown as JSON:
//! `-v` prints `topic JSON`, `%p` the JSON, `%j`/`%J` put it under `"payload"` as a
//! value; `--pretty` indents it as it indents `%j`. A payload that does not decode is
//! reported on the diagnostic stream, counted, and shown exactly as without a
//! decoder; empty payloads are never decoded. Without a decoder nothing changes.

mod fields;
mod format;
mod json;
mod time;

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::SystemTime;

use crate::codec::{Properties, PropertyId, Publish};
use crate::payload::{Codec, Decoded, Style};

use fields::PayloadAs;
use format::{Compiled, Field, FieldOpts, Op};

/// A `-F` format mosquitto would refuse, in its words. (mosquitto_sub follows the
/// message with a blank line and "Use 'mosquitto_sub --help' to see usage.", exit 1:
/// the command's business.)
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("Error: Incomplete format specifier.")]
    IncompleteFormat,
    #[error("Error: Invalid format specifier '{0}'.")]
    InvalidFormat(char),
    #[error("Error: Incomplete escape specifier.")]
    IncompleteEscape,
    #[error("Error: Invalid escape specifier '{0}'.")]
    InvalidEscape(char),
}

/// One received message, as the subscriber hands it over.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    /// The topic, with any v5 topic alias already resolved.
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: u8,
    pub retain: bool,
    /// The packet id (0 for QoS 0), printed by `%m` and JSON `mid`.
    pub mid: u16,
    /// v5 properties in wire order (empty for 3.1/3.1.1).
    pub properties: &'a Properties,
    /// When the message was received: the time `%I`, `%U`, `@…` and `tst` show.
    pub received: SystemTime,
}

impl<'a> Message<'a> {
    /// A view of a decoded PUBLISH. `topic` is the resolved topic (a v5 PUBLISH
    /// that uses a topic alias may carry an empty one).
    pub fn from_publish(publish: &'a Publish, topic: &'a str, received: SystemTime) -> Message<'a> {
        Message {
            topic,
            payload: &publish.payload,
            qos: publish.qos as u8,
            retain: publish.retain,
            mid: publish.packet_id,
            properties: &publish.properties,
            received,
        }
    }
}

/// The output flags of mosquitto_sub / mosquitto_rr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputOptions {
    /// `-v`: `topic payload`.
    pub verbose: bool,
    /// `--pretty`: indented JSON for `%j`/`%J`.
    pub pretty: bool,
    /// End each message with a newline; `-N` clears it.
    pub eol: bool,
    /// `-F`: the format's raw bytes (on Unix an argument need not be UTF-8). Takes
    /// precedence over `verbose`, as in mosquitto.
    pub format: Option<Vec<u8>>,
    /// `-w`/`--watch`: one screen line per topic, redrawn in place.
    pub watch: bool,
}

impl Default for OutputOptions {
    fn default() -> OutputOptions {
        OutputOptions {
            verbose: false,
            pretty: false,
            eol: true,
            format: None,
            watch: false,
        }
    }
}

enum Mode {
    Payload,
    Verbose,
    Template(Compiled),
}

/// `--watch` state: the screen line of each topic seen (mosquitto's `watch_items`).
struct Watch {
    lines: HashMap<String, u32>,
    next: u32,
}

/// What `-v`, `-N`, `-F` and `--pretty` make of a message; built once, then used
/// for every message.
pub struct Formatter {
    mode: Mode,
    eol: bool,
    pretty: bool,
    watch: Option<Watch>,
    clock: time::Clock,
    /// `--decode`: payloads shown as JSON when they decode.
    decoder: Option<Codec>,
    /// The decoded payload's JSON for `-v`, plain output and `%p`.
    json: Vec<u8>,
    /// The same at `%j`'s depth, when `--pretty` makes the two differ.
    json_nested: Vec<u8>,
    /// Payloads the decoder refused (shown as received).
    undecoded: u64,
}

/// A message's payload as decoded JSON, for the template fields.
#[derive(Clone, Copy)]
struct Json<'a> {
    /// For `%p`.
    top: &'a [u8],
    /// For `%j`/`%J`'s `"payload"`.
    nested: &'a [u8],
}

impl Formatter {
    /// Checks and compiles `-F` (once; messages never re-parse it).
    pub fn new(opts: &OutputOptions) -> Result<Formatter, FormatError> {
        let mut needs = time::Needs::default();
        let mode = match &opts.format {
            Some(f) => {
                let c = format::compile(f)?;
                needs.tst = c.uses(|op| matches!(op, Op::Field(Field::Json | Field::JsonRaw, _)));
                needs.iso = c.uses(|op| matches!(op, Op::Field(Field::Iso8601, _)));
                needs.strftime = c.strftime.clone();
                Mode::Template(c)
            }
            None if opts.verbose => Mode::Verbose,
            None => Mode::Payload,
        };
        Ok(Formatter {
            mode,
            eol: opts.eol,
            pretty: opts.pretty,
            watch: opts.watch.then(|| Watch {
                lines: HashMap::new(),
                next: 2,
            }),
            clock: time::Clock::new(needs),
            decoder: None,
            json: Vec::new(),
            json_nested: Vec::new(),
            undecoded: 0,
        })
    }

    /// Shows payloads as JSON through `codec` (`--decode`).
    pub fn with_decoder(mut self, codec: Option<Codec>) -> Formatter {
        self.decoder = codec;
        self
    }

    /// How many payloads did not decode (each was reported and shown as received).
    pub fn undecoded(&self) -> u64 {
        self.undecoded
    }

    /// Decodes a non-empty payload into `self.json` (and `self.json_nested` when
    /// `nested`); `false` when there is no decoder, nothing to decode, `auto` found
    /// no format, or it failed (then reported on `diag` and counted).
    fn decode(&mut self, msg: &Message<'_>, nested: bool, diag: &mut impl Write) -> bool {
        let Some(codec) = &self.decoder else {
            return false;
        };
        if msg.payload.is_empty() {
            return false;
        }
        self.json.clear();
        self.json_nested.clear();
        let top = if self.pretty {
            Style::Pretty { depth: 0 }
        } else {
            Style::Compact
        };
        let result = codec.decode(msg.topic, msg.payload).and_then(|d| match d {
            None => Ok(false),
            Some(d) => {
                d.write_json(top, &mut self.json)?;
                if nested && self.pretty {
                    // `%j`'s object puts its payload one level deep.
                    render_nested(&d, &mut self.json_nested)?;
                }
                Ok(true)
            }
        });
        match result {
            Ok(decoded) => decoded,
            Err(e) => {
                self.undecoded += 1;
                let why = e.to_string().replace('\n', " ");
                let _ = writeln!(
                    diag,
                    "Warning: the payload on topic '{}' is {why}; shown as received.",
                    msg.topic
                );
                false
            }
        }
    }

    /// Times in UTC whatever the process zone, for golden tests.
    #[cfg(test)]
    pub(crate) fn utc(mut self) -> Formatter {
        self.clock.utc = true;
        self
    }

    /// What mosquitto_sub prints once before any message: with `--watch`, a cleared
    /// screen and `Broker: host`; otherwise nothing.
    pub fn write_header(&self, host: &str, out: &mut impl Write) -> io::Result<()> {
        if self.watch.is_some() {
            out.write_all(b"\x1b[2J\x1b[1;1HBroker: ")?;
            out.write_all(host.as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Prints one message. Problems mosquitto reports on stderr without stopping
    /// (`%f` on a payload that is not 4 bytes, `%J` on a payload that is not JSON)
    /// go to `diag`, whose own write errors are ignored; pass `io::sink()` for `--quiet`.
    pub fn write(
        &mut self,
        msg: &Message<'_>,
        out: &mut impl Write,
        diag: &mut impl Write,
    ) -> io::Result<()> {
        self.watch_position(msg, out)?;
        // Without a decoder this is one test of an Option: the hot path stays as it was.
        let decoded = self.decoder.is_some() && {
            // Which template fields show the payload decide what to render.
            let (wanted, nested) = match &self.mode {
                Mode::Template(c) => {
                    let uses = |f: Field| c.uses(|op| matches!(op, Op::Field(g, _) if *g == f));
                    let nested = uses(Field::Json) || uses(Field::JsonRaw);
                    (nested || uses(Field::Payload), nested)
                }
                _ => (true, false),
            };
            wanted && self.decode(msg, nested, diag)
        };
        let payload = if decoded { &self.json[..] } else { msg.payload };
        match &self.mode {
            Mode::Payload => {
                if !payload.is_empty() {
                    out.write_all(payload)?;
                    if self.eol {
                        out.write_all(b"\n")?;
                    }
                }
            }
            Mode::Verbose => {
                if !payload.is_empty() {
                    out.write_all(msg.topic.as_bytes())?;
                    out.write_all(b" ")?;
                    out.write_all(payload)?;
                    if self.eol {
                        out.write_all(b"\n")?;
                    }
                } else if self.eol {
                    out.write_all(msg.topic.as_bytes())?;
                    out.write_all(b" (null)\n")?;
                }
            }
            Mode::Template(_) => {
                self.template(msg, decoded, out, diag)?;
                if self.eol {
                    out.write_all(b"\n")?;
                }
            }
        }
        if let Some(w) = &self.watch {
            write_cursor(out, w.next - 1)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// For a message `--random-filter` drops: mosquitto has already moved the
    /// cursor to the topic's `--watch` line (and given a new topic its line) by then.
    pub fn skip(&mut self, msg: &Message<'_>, out: &mut impl Write) -> io::Result<()> {
        self.watch_position(msg, out)
    }

    fn watch_position(&mut self, msg: &Message<'_>, out: &mut impl Write) -> io::Result<()> {
        let Some(w) = &mut self.watch else {
            return Ok(());
        };
        let line = match w.lines.get(msg.topic) {
            Some(&l) => l,
            None => {
                let l = w.next;
                w.next += 1;
                w.lines.insert(msg.topic.to_owned(), l);
                l
            }
        };
        write_cursor(out, line)
    }

    fn template(
        &mut self,
        msg: &Message<'_>,
        decoded: bool,
        out: &mut impl Write,
        diag: &mut impl Write,
    ) -> io::Result<()> {
        let Mode::Template(c) = &self.mode else {
            return Ok(());
        };
        let json = decoded.then(|| Json {
            top: &self.json,
            nested: if self.pretty {
                &self.json_nested
            } else {
                &self.json
            },
        });
        let (sec, nanos) = time::split(msg.received);
        for op in &c.ops {
            match *op {
                Op::Lit { start, end } => out.write_all(&c.lits[start as usize..end as usize])?,
                Op::Nanos => write_nanos(out, nanos)?,
                Op::Strftime(slot) => {
                    self.clock.at(sec);
                    out.write_all(&self.clock.strftime[slot])?;
                }
                Op::Field(f, o) => field(
                    f,
                    &o,
                    msg,
                    json,
                    (sec, nanos),
                    self.pretty,
                    &mut self.clock,
                    out,
                    diag,
                )?,
            }
        }
        Ok(())
    }
}

fn write_cursor(out: &mut impl Write, line: u32) -> io::Result<()> {
    let mut b = itoa::Buffer::new();
    out.write_all(b"\x1b[")?;
    out.write_all(b.format(line).as_bytes())?;
    out.write_all(b";1H")
}

/// `%09ld` of the nanoseconds.
fn write_nanos(out: &mut impl Write, nanos: u32) -> io::Result<()> {
    let mut digits = [b'0'; 9];
    let mut n = nanos;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.write_all(&digits)
}

/// `%j`'s depth of a decoded payload, indented.
fn render_nested(d: &Decoded<'_>, out: &mut Vec<u8>) -> Result<(), crate::payload::DecodeError> {
    d.write_json(Style::Pretty { depth: 1 }, out)
}

/// One `%` conversion (mosquitto 2.1 `formatted_print_percent`); `json` is the
/// decoded payload, if any.
#[allow(clippy::too_many_arguments)]
fn field(
    f: Field,
    o: &FieldOpts,
    msg: &Message<'_>,
    json: Option<Json<'_>>,
    (sec, nanos): (i64, u32),
    pretty: bool,
    clock: &mut time::Clock,
    out: &mut impl Write,
    diag: &mut impl Write,
) -> io::Result<()> {
    let props = msg.properties;
    match f {
        Field::TopicAlias => int_or_blank(out, props.get_int(PropertyId::TopicAlias), o),
        Field::ContentType => match props.get_str(PropertyId::ContentType) {
            Some(s) => fields::string(out, s.as_bytes(), o),
            None => fields::blank(out, o),
        },
        Field::CorrelationData => match props.get_binary(PropertyId::CorrelationData) {
            Some(b) => out.write_all(b),
            None => Ok(()),
        },
        Field::MessageExpiry => {
            int_or_blank(out, props.get_int(PropertyId::MessageExpiryInterval), o)
        }
        Field::PayloadFormat => {
            int_or_blank(out, props.get_int(PropertyId::PayloadFormatIndicator), o)
        }
        Field::Iso8601 => {
            clock.at(sec);
            fields::string(out, &clock.iso, o)
        }
        Field::Json | Field::JsonRaw => {
            clock.at(sec);
            json_field(
                out,
                diag,
                msg,
                json.map(|j| j.nested),
                (&clock.tst, nanos),
                pretty,
                f == Field::JsonRaw,
            )
        }
        Field::PayloadLen => fields::int(out, msg.payload.len() as i32, o),
        Field::Mid => fields::int(out, i32::from(msg.mid), o),
        Field::UserProperties => user_properties(out, props),
        Field::Payload => {
            let payload = json.map_or(msg.payload, |j| j.top);
            fields::payload(out, payload, PayloadAs::Raw, o)
        }
        Field::Qos => out.write_all(&[b'0'.wrapping_add(msg.qos)]),
        // Unlike %C, a missing response topic prints no blanks.
        Field::ResponseTopic => match props.get_str(PropertyId::ResponseTopic) {
            Some(s) => fields::string(out, s.as_bytes(), o),
            None => Ok(()),
        },
        Field::Retain => out.write_all(if msg.retain { b"1" } else { b"0" }),
        Field::SubscriptionId => int_or_blank(out, props.subscription_identifiers().next(), o),
        Field::Topic => fields::string(out, msg.topic.as_bytes(), o),
        Field::UnixTime => {
            let mut b = itoa::Buffer::new();
            out.write_all(b.format(sec).as_bytes())?;
            out.write_all(b".")?;
            write_nanos(out, nanos)
        }
        Field::HexLower => fields::payload(out, msg.payload, PayloadAs::HexLower, o),
        Field::HexUpper => fields::payload(out, msg.payload, PayloadAs::HexUpper, o),
        Field::Float | Field::Double => {
            let double = f == Field::Double;
            match fields::float(out, msg.payload, double, o) {
                Some(r) => r,
                None => {
                    // mosquitto's words, without a newline, as it prints them.
                    let _ = diag.write_all(if double {
                        &b"requested double printing, but non-double data received"[..]
                    } else {
                        &b"requested float printing, but non-float data received"[..]
                    });
                    Ok(())
                }
            }
        }
    }
}

/// An integer property, or `width` blanks when the message lacks it. mosquitto prints
/// the u32 through an `int`.
fn int_or_blank(out: &mut impl Write, v: Option<u32>, o: &FieldOpts) -> io::Result<()> {
    match v {
        Some(v) => fields::int(out, v as i32, o),
        None => fields::blank(out, o),
    }
}

/// `%j` / `%J`: the message as JSON, its `tst` from the second's rendered time
/// (`tst_template`) and `nanos`. A `%J` payload that is not JSON is reported on
/// `diag` (mosquitto's words) and printed as `%j` would print it. A decoded payload
/// (`decoded`, JSON text) goes under `"payload"` as it is.
fn json_field(
    out: &mut impl Write,
    diag: &mut impl Write,
    msg: &Message<'_>,
    decoded: Option<&[u8]>,
    (tst_template, nanos): (&[u8], u32),
    pretty: bool,
    raw: bool,
) -> io::Result<()> {
    let mut tst = [0u8; 128];
    let n = tst_text(tst_template, nanos, &mut tst);
    let ok = json::message(out, msg, decoded, &tst[..n], pretty, raw)?;
    if !ok {
        let _ = diag.write_all(b"Error: Message payload is not valid JSON on topic ");
        let _ = diag.write_all(msg.topic.as_bytes());
        let _ = diag.write_all(b".\n");
    }
    Ok(())
}

/// `%P`: the user properties as `key:value`, separated by spaces.
fn user_properties(out: &mut impl Write, props: &Properties) -> io::Result<()> {
    for (i, (k, v)) in props.user_properties().enumerate() {
        if i > 0 {
            out.write_all(b" ")?;
        }
        out.write_all(k.as_bytes())?;
        out.write_all(b":")?;
        out.write_all(v.as_bytes())?;
    }
    Ok(())
}

/// mosquitto 2.1 `format_time_8601`: the strftime text with the microseconds
/// written over bytes 20..26 (`2020-05-06T21:48:00.123456+0100`).
fn tst_text(template: &[u8], nanos: u32, buf: &mut [u8; 128]) -> usize {
    let n = template.len().min(buf.len());
    buf[..n].copy_from_slice(&template[..n]);
    if n >= 26 {
        let mut micros = nanos / 1000;
        for d in buf[20..26].iter_mut().rev() {
            *d = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
    }
    n
}

#[cfg(test)]
mod tests;
