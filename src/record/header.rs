//! The header line of a record: which format and version, when the recording started,
//! where (the broker, the recording machine), and what was subscribed to. Readers
//! check the format and the version before anything else, and ignore header fields
//! they do not know (later versions may add some).

use serde::{Deserialize, Serialize};

use super::{FORMAT, VERSION};

/// The first line of a record (and of each section of a concatenated one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written by this mqtk.
    pub version: u64,
    /// When the recording started: RFC 3339 in UTC with microseconds.
    pub started: String,
    /// The broker, as a URL without credentials: `mqtt://host:1883`, `mqtts://…`,
    /// `ws://host:port/mqtt`, `unix:/path`.
    pub broker: String,
    /// `mqttv5`, `mqttv311` or `mqttv31`.
    pub protocol: String,
    /// The recording machine's host name, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The subscription's topic filters (`-t`).
    pub filters: Vec<String>,
    /// Filters whose messages were left out (`-T`).
    #[serde(default)]
    pub filter_out: Vec<String>,
    /// The subscription's maximum QoS (`-q`).
    pub qos: u8,
    /// The version of mqtk that recorded it.
    pub mqtk: String,
}

/// Why a line is not a header this mqtk can read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("not an mqtk record: the first line is not a record header ({0})")]
    NotAHeader(String),
    #[error(
        "record format version {0} is newer than this mqtk reads (version {VERSION}); \
         replay it with a newer mqtk"
    )]
    Future(u64),
    #[error("invalid record header: {0}")]
    Invalid(String),
}

/// Only what decides whether the line is a header at all, and of which version.
#[derive(Deserialize)]
struct Probe {
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

impl Header {
    /// The header of a recording starting now, by this mqtk.
    pub fn new(started: std::time::SystemTime, broker: String, protocol: &str) -> Header {
        Header {
            format: FORMAT.to_string(),
            version: VERSION,
            started: humantime::format_rfc3339_micros(started).to_string(),
            broker,
            protocol: protocol.to_string(),
            hostname: None,
            filters: Vec::new(),
            filter_out: Vec::new(),
            qos: 0,
            mqtk: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The header as one line, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(self).expect("a header always serialises");
        out.push(b'\n');
        out
    }

    /// Reads a header line: the format and version first (a newer version is refused
    /// whatever else the line holds), then the fields of this version.
    pub fn parse(line: &[u8]) -> Result<Header, HeaderError> {
        let probe: Probe = serde_json::from_slice(line)
            .map_err(|e| HeaderError::NotAHeader(super::read::json_error(&e)))?;
        match probe.format.as_ref().and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(HeaderError::NotAHeader(format!(
                    "its format is \"{other}\", not \"{FORMAT}\""
                )));
            }
            None => {
                return Err(HeaderError::NotAHeader(format!(
                    "no \"format\": \"{FORMAT}\" field"
                )));
            }
        }
        let version = probe
            .version
            .as_ref()
            .and_then(|v| v.as_u64())
            .filter(|&v| v >= 1)
            .ok_or_else(|| HeaderError::Invalid("\"version\" must be a positive integer".into()))?;
        if version > VERSION {
            return Err(HeaderError::Future(version));
        }
        let header: Header = serde_json::from_slice(line)
            .map_err(|e| HeaderError::Invalid(super::read::json_error(&e)))?;
        if humantime::parse_rfc3339(&header.started).is_err() {
            return Err(HeaderError::Invalid(format!(
                "\"started\" is not an RFC 3339 UTC time: \"{}\"",
                header.started
            )));
        }
        Ok(header)
    }

    /// Whether a line is a header of any version (a new section of a concatenated
    /// record), without checking the rest of it.
    pub fn is_header(line: &[u8]) -> bool {
        serde_json::from_slice::<Probe>(line)
            .is_ok_and(|p| p.format.as_ref().and_then(|f| f.as_str()) == Some(FORMAT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        let mut h = Header::new(
            std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456),
            "mqtt://localhost:1883".into(),
            "mqttv5",
        );
        h.filters = vec!["a/#".into()];
        h.hostname = Some("box".into());
        h
    }

    #[test]
    fn round_trip() {
        let h = sample();
        let line = h.to_line();
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(
            text.starts_with(
                r#"{"format":"mqtk-record","version":1,"started":"2023-11-14T22:13:20.123456Z","#
            ),
            "{text}"
        );
        assert!(text.ends_with("}\n"));
        assert_eq!(Header::parse(&line).unwrap(), h);
        assert!(Header::is_header(&line));
    }

    #[test]
    fn unknown_fields_are_ignored_but_versions_are_checked() {
        let ok = br#"{"format":"mqtk-record","version":1,"started":"2024-01-01T00:00:00Z","broker":"b","protocol":"mqttv5","filters":[],"qos":0,"mqtk":"9","later":true}"#;
        assert!(Header::parse(ok).is_ok());
        let future = br#"{"format":"mqtk-record","version":2,"whatever":1}"#;
        assert_eq!(Header::parse(future), Err(HeaderError::Future(2)));
        assert!(
            HeaderError::Future(2)
                .to_string()
                .contains("version 2 is newer than this mqtk reads (version 1)")
        );
        let zero = br#"{"format":"mqtk-record","version":0}"#;
        assert!(matches!(Header::parse(zero), Err(HeaderError::Invalid(_))));
    }

    #[test]
    fn other_lines_are_not_headers() {
        for line in [
            &br#"{"topic":"a"}"#[..],
            br#"{"format":"other","version":1}"#,
            b"not json",
            b"",
        ] {
            assert!(
                matches!(Header::parse(line), Err(HeaderError::NotAHeader(_))),
                "{}",
                String::from_utf8_lossy(line)
            );
            assert!(!Header::is_header(line));
        }
        let missing = br#"{"format":"mqtk-record","version":1}"#;
        let e = Header::parse(missing).unwrap_err().to_string();
        assert!(e.contains("missing field `started`"), "{e}");
    }
}
