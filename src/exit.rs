//! The one exit-code table. Every error a user can see is an `Error`; `exit_code`
//! maps it to the status mosquitto's tools would give.

use std::io;

/// Success.
pub const OK: u8 = 0;
/// Usage errors, bad input, I/O failures: mosquitto's tools exit 1 for these.
pub const FAILURE: u8 = 1;
/// `-W` timeouts (MOSQ_ERR_TIMEOUT in mosquitto).
pub const TIMEOUT: u8 = 27;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or flag combinations.
    #[error("{0}")]
    Usage(String),
    /// A configuration or options file that cannot be used; the text names file and line.
    #[error("{0}")]
    Config(String),
    /// A file or socket operation failed; `context` says which.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// Anything else a command reports in its own words.
    #[error("{0}")]
    Failed(String),
    /// Text to print exactly as given (no "Error: " prefix added), then exit with
    /// `code`: mosquitto's own words for usage errors ("Error: Unknown option '-z'.\n\n
    /// Use 'mosquitto_pub --help' to see usage.\n") and connection refusals, where
    /// scripts compare stderr byte for byte.
    #[error("{text}")]
    Verbatim { text: String, code: u8 },
    /// A broker refused the connection: the message is already in mosquitto's words
    /// and the exit status is the CONNACK code (3.x: 1–5; v5: 0x80–0xA2), as
    /// mosquitto_pub and mosquitto_sub exit with it.
    #[error("{text}")]
    Refused { text: String, code: u8 },
    /// Exit with `code` and print nothing: the message was already printed, or
    /// `--quiet` asked for silence.
    #[error("")]
    Silent(u8),
}

impl Error {
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config(_) | Error::Io { .. } | Error::Failed(_) => FAILURE,
            Error::Verbatim { code, .. } | Error::Refused { code, .. } => *code,
            Error::Silent(code) => *code,
        }
    }

    /// Everything to write to stderr for this error, newline included ("" for none).
    pub fn message(&self) -> String {
        match self {
            Error::Verbatim { text, .. } | Error::Refused { text, .. } => text.clone(),
            Error::Silent(_) => String::new(),
            other => format!("Error: {other}\n"),
        }
    }

    /// A closed stdout (`mqtk sub | head -1`) is not an error worth a word.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}
