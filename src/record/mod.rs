//! The record format of `mqtk record` and `mqtk replay`: NDJSON, one JSON object per
//! line, a header line and then one line per message. The format is the interface
//! (docs/record.schema.json is its JSON Schema, README and `man mqtk-record` its
//! prose), so every field is written and read here and nowhere else. Pure: lines in,
//! values out, values in, bytes out; no files, no clock.
//!
//! - `header`: the first line (format name, version, when, where, the filters), and
//!   the check that refuses a version newer than ours.
//! - `write`: a received `Publish` as a message line, never lossy (a payload that is
//!   not text is base64; every v5 property is kept).
//! - `read`: a message line back into a checked [`Message`], with a reason when the
//!   line is not one; `fast` reads the common shape of line without serde.
//! - `timeline`: where each message sits on the replay timeline, across the sections
//!   of a file (`cat a.ndjson b.ndjson` is a valid record) and across files.

mod fast;
pub mod header;
pub mod read;
pub mod timeline;
pub mod write;

pub use header::{Header, HeaderError};
pub use read::{LineError, Message, read_message, read_message_shared};
pub use timeline::{Backwards, Timeline};
pub use write::{MessageLine, write_message};

/// The `format` value of a header line.
pub const FORMAT: &str = "mqtk-record";

/// The format version this mqtk writes, and the newest it reads. A reader refuses a
/// newer version: its lines may mean something this one cannot replay faithfully.
pub const VERSION: u64 = 1;

/// Whether a payload (or correlation data) is written as a JSON string: UTF-8 with no
/// NUL, as `%j` decides (C consumers of the file stop at a NUL). Anything else is
/// base64, so nothing is ever lost.
pub fn is_text(b: &[u8]) -> bool {
    !b.contains(&0) && std::str::from_utf8(b).is_ok()
}
