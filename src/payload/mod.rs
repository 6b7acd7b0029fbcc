//! Payload codecs: what `sub --decode`, `rr --decode` and `pub --encode` (and later
//! `record`) use to turn device payloads into JSON and JSON into payloads. Sparkplug
//! B, any protobuf message (from a descriptor), CBOR, MessagePack, JSON, and `auto`,
//! which picks one per message. A pure library: bytes and a topic in, a JSON value or
//! JSON text out; no I/O, no clock (the .proto is compiled by `crate::settings`, the
//! time for Sparkplug's timestamp is an argument).
//!
//! Untrusted input is bounded: every decoder limits nesting and allocates only as
//! bytes actually arrive (fuzzed in `fuzz/`, target `payload`).
//!
//! ```
//! use mqtk::payload::{Codec, Style};
//! // {"a": 1} in CBOR.
//! let cbor = [0xa1, 0x61, b'a', 0x01];
//! let decoded = Codec::Cbor.decode("t", &cbor).unwrap().unwrap();
//! let mut json = Vec::new();
//! decoded.write_json(Style::Compact, &mut json).unwrap();
//! assert_eq!(json, br#"{"a":1}"#);
//! ```

pub mod cbor;
pub mod json;
pub mod msgpack;
pub mod proto;
pub mod sparkplug;
mod style;

use std::path::PathBuf;

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use rmpv::ValueRef;

pub use style::Style;

/// A payload format as the command line names it (`--decode`, `--encode`): parsed,
/// nothing loaded yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Sparkplug,
    /// `proto:FILE.proto:package.Message`.
    Proto {
        file: PathBuf,
        message: String,
    },
    Cbor,
    Msgpack,
    Json,
    Auto,
}

/// What `--decode`/`--encode` accept, for error messages.
pub const FORMATS: &str =
    "sparkplug, proto:FILE.proto:package.Message, cbor, msgpack, json or auto";

impl Format {
    /// Reads a FORMAT argument.
    pub fn parse(s: &str) -> Result<Format, String> {
        Ok(match s {
            "sparkplug" => Format::Sparkplug,
            "cbor" => Format::Cbor,
            "msgpack" => Format::Msgpack,
            "json" => Format::Json,
            "auto" => Format::Auto,
            _ => {
                let Some(spec) = s.strip_prefix("proto:") else {
                    return Err(format!("unknown payload format '{s}': use {FORMATS}"));
                };
                // The message name has no ':'; the file name might.
                match spec.rsplit_once(':') {
                    Some((file, message)) if !file.is_empty() && !message.is_empty() => {
                        Format::Proto {
                            file: PathBuf::from(file),
                            message: message.trim_start_matches('.').to_string(),
                        }
                    }
                    _ => {
                        return Err(format!(
                            "'{s}' names no message: use proto:FILE.proto:package.Message"
                        ));
                    }
                }
            }
        })
    }
}

/// A format ready to use: `Format` with its schema loaded.
#[derive(Clone, Debug)]
pub enum Codec {
    Sparkplug,
    Proto(MessageDescriptor),
    Cbor,
    Msgpack,
    Json,
    Auto,
}

/// Why a payload did not decode: the format tried and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not {format}: {why}")]
pub struct DecodeError {
    pub format: &'static str,
    pub why: String,
}

/// A decoded payload, ready to print as JSON (it may borrow the payload).
#[derive(Debug)]
pub enum Decoded<'a> {
    Sparkplug(Box<sparkplug::Payload>),
    Proto(DynamicMessage),
    Cbor(ciborium::Value),
    Msgpack(ValueRef<'a>),
    /// Checked JSON text.
    Json(&'a str),
}

impl Codec {
    /// The format's name, as `--decode` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Codec::Sparkplug => "sparkplug",
            Codec::Proto(_) => "proto",
            Codec::Cbor => "cbor",
            Codec::Msgpack => "msgpack",
            Codec::Json => "json",
            Codec::Auto => "auto",
        }
    }

    /// Decodes one message's payload. `Ok(None)`: `auto` recognised no format, so the
    /// payload is to be shown as it is (no error). Sparkplug's `STATE` messages are
    /// JSON, so under `spBv1.0/STATE/` sparkplug decodes JSON.
    pub fn decode<'a>(
        &self,
        topic: &str,
        payload: &'a [u8],
    ) -> Result<Option<Decoded<'a>>, DecodeError> {
        let err = |format: &'static str| move |why: String| DecodeError { format, why };
        Ok(Some(match self {
            Codec::Sparkplug if sparkplug::is_state_topic(topic) => {
                Decoded::Json(json::validate(payload).map_err(err("json"))?)
            }
            Codec::Sparkplug => Decoded::Sparkplug(Box::new(
                sparkplug::decode(payload).map_err(err("sparkplug"))?,
            )),
            Codec::Proto(desc) => {
                Decoded::Proto(proto::decode(desc, payload).map_err(err("proto"))?)
            }
            Codec::Cbor => Decoded::Cbor(cbor::decode(payload).map_err(err("cbor"))?),
            Codec::Msgpack => Decoded::Msgpack(msgpack::decode(payload).map_err(err("msgpack"))?),
            Codec::Json => Decoded::Json(json::validate(payload).map_err(err("json"))?),
            Codec::Auto => return auto(topic, payload),
        }))
    }

    /// Decodes and renders in one step: `Ok(false)` when `auto` found no format
    /// (nothing written).
    pub fn decode_json(
        &self,
        topic: &str,
        payload: &[u8],
        style: Style,
        out: &mut Vec<u8>,
    ) -> Result<bool, DecodeError> {
        match self.decode(topic, payload)? {
            Some(d) => d.write_json(style, out).map(|()| true),
            None => Ok(false),
        }
    }
}

/// `auto`: a Sparkplug topic means Sparkplug B; otherwise JSON if it is JSON, else
/// CBOR or MessagePack when the first byte opens an array or a map (or a CBOR tag)
/// and the whole payload is one value, else nothing.
fn auto<'a>(topic: &str, payload: &'a [u8]) -> Result<Option<Decoded<'a>>, DecodeError> {
    if sparkplug::is_protobuf_topic(topic) {
        return Codec::Sparkplug.decode(topic, payload);
    }
    if let Ok(text) = json::validate(payload) {
        return Ok(Some(Decoded::Json(text)));
    }
    let first = payload.first().copied().unwrap_or(0);
    if matches!(first, 0x80..=0xdb)
        && let Ok(v) = cbor::decode(payload)
    {
        return Ok(Some(Decoded::Cbor(v)));
    }
    if matches!(first, 0x80..=0x9f | 0xdc..=0xdf)
        && let Ok(v) = msgpack::decode(payload)
    {
        return Ok(Some(Decoded::Msgpack(v)));
    }
    Ok(None)
}

impl Decoded<'_> {
    /// The format it was decoded as.
    pub fn format(&self) -> &'static str {
        match self {
            Decoded::Sparkplug(_) => "sparkplug",
            Decoded::Proto(_) => "proto",
            Decoded::Cbor(_) => "cbor",
            Decoded::Msgpack(_) => "msgpack",
            Decoded::Json(_) => "json",
        }
    }

    /// Appends the JSON text to `out`. Fails (having appended part of it) when the
    /// payload turns out malformed while rendering: a Sparkplug array whose length
    /// is wrong, a property set whose keys and values differ in number.
    pub fn write_json(&self, style: Style, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        let r = match self {
            Decoded::Sparkplug(p) => style::write(&sparkplug::render::PayloadJson(p), style, out),
            Decoded::Proto(m) => style::write(m, style, out),
            Decoded::Cbor(v) => style::write(&cbor::Json(v), style, out),
            Decoded::Msgpack(v) => style::write(&msgpack::Json(v), style, out),
            Decoded::Json(t) => {
                json::write(t, style, out);
                Ok(())
            }
        };
        r.map_err(|e| DecodeError {
            format: self.format(),
            why: e.to_string(),
        })
    }

    /// The payload as a `serde_json::Value` (for `record`).
    pub fn to_value(&self) -> Result<serde_json::Value, DecodeError> {
        let mut text = Vec::new();
        self.write_json(Style::Compact, &mut text)?;
        serde_json::from_slice(&text).map_err(|e| DecodeError {
            format: self.format(),
            why: e.to_string(),
        })
    }
}

/// Turns JSON messages into payloads (`--encode`); keeps Sparkplug's sequence number.
#[derive(Clone, Debug)]
pub struct Encoder {
    codec: Codec,
    /// The next Sparkplug `seq` for a message without one (0…255, then 0 again).
    seq: u64,
}

impl Encoder {
    /// `auto` cannot encode: it names no format.
    pub fn new(codec: Codec) -> Result<Encoder, String> {
        if let Codec::Auto = codec {
            return Err(
                "--encode needs a format: sparkplug, proto:FILE.proto:package.Message, cbor, msgpack or json"
                    .into(),
            );
        }
        Ok(Encoder { codec, seq: 0 })
    }

    pub fn name(&self) -> &'static str {
        self.codec.name()
    }

    /// Encodes one JSON message. `now_ms` (milliseconds since the epoch) is
    /// Sparkplug's timestamp when the message gives none.
    pub fn encode(&mut self, json: &[u8], now_ms: u64) -> Result<Vec<u8>, String> {
        match &self.codec {
            Codec::Sparkplug => {
                let p = sparkplug::build::payload(json, now_ms, self.seq)?;
                self.seq = (p.seq.unwrap_or(self.seq) + 1) % 256;
                Ok(p.encode_to_vec())
            }
            Codec::Proto(desc) => proto::encode(desc, json),
            Codec::Cbor => cbor::encode(json),
            Codec::Msgpack => msgpack::encode(json),
            Codec::Json | Codec::Auto => json::encode(json),
        }
    }
}

#[cfg(test)]
mod tests;
