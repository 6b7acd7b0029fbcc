//! The one exit-code table. Every error a user can see is an `Error`; `exit_code`
//! maps it to the status mosquitto's tools would give.

use std::io;

use crate::transport::ConnectError;

/// Success.
pub const OK: u8 = 0;
/// Usage errors, bad input, I/O failures: mosquitto's tools exit 1 for these.
pub const FAILURE: u8 = 1;
/// `-W` timeouts (MOSQ_ERR_TIMEOUT in mosquitto).
pub const TIMEOUT: u8 = 27;
/// libmosquitto's error numbers that mosquitto_pub exits with when its `-D publish`
/// properties cannot be sent (`crate::settings::props::check_all`).
pub const MOSQ_ERR_PROTOCOL: u8 = 2;
pub const MOSQ_ERR_CONN_LOST: u8 = 7;
pub const MOSQ_ERR_NOT_SUPPORTED: u8 = 10;
pub const MOSQ_ERR_DUPLICATE_PROPERTY: u8 = 22;

/// The status `--help` and `--version` of a client command exit with: 1 when run as
/// `mosquitto_pub`/`mosquitto_sub`/`mosquitto_rr` (mosquitto's clients print them and
/// leave through their cleanup path, which returns 1), 0 under mqtk's own names.
pub fn help_exit_code(tool: &str) -> u8 {
    if tool.starts_with("mosquitto_") {
        FAILURE
    } else {
        OK
    }
}

/// The exit statuses a command can end with, and what each means: the table the man
/// pages print (`crate::doc`), so they cannot drift from the constants above. A
/// refused connection exits with the CONNACK code, as mosquitto's clients do; those
/// codes are listed by [`CONNACK_V3`] and [`CONNACK_V5`].
pub const TABLE: &[(u8, &str)] = &[
    (OK, "Success."),
    (
        FAILURE,
        "Usage error, bad input, an unusable file, a failed connection or I/O error, \
         or any other failure. (Also MQTT 3.1.1's CONNACK code 1, below.) Also --help \
         and --version when run as mosquitto_pub, mosquitto_sub or mosquitto_rr, as \
         mosquitto's clients exit.",
    ),
    (
        MOSQ_ERR_PROTOCOL,
        "pub -l: the -D publish properties hold a value MQTT forbids (MOSQ_ERR_PROTOCOL; \
         for the other message sources see 7).",
    ),
    (
        MOSQ_ERR_CONN_LOST,
        "pub: the -D publish properties could not be sent (a forbidden value, a \
         duplicate, or properties below MQTT v5), so the connection was closed \
         without publishing, as mosquitto_pub 2.1 does (MOSQ_ERR_CONN_LOST).",
    ),
    (
        MOSQ_ERR_NOT_SUPPORTED,
        "pub -l: -D publish properties on an MQTT 3.x connection (MOSQ_ERR_NOT_SUPPORTED).",
    ),
    (
        MOSQ_ERR_DUPLICATE_PROPERTY,
        "pub -l: a property given twice in -D publish (MOSQ_ERR_DUPLICATE_PROPERTY).",
    ),
    (
        TIMEOUT,
        "A -W timeout expired before the command finished (MOSQ_ERR_TIMEOUT).",
    ),
];

/// 3.1/3.1.1 CONNACK return codes a refused connection exits with (3.1.1 §3.2.2.3);
/// the text is `crate::codec::connack_v3_description`.
pub const CONNACK_V3: &[u8] = &[1, 2, 3, 4, 5];

/// v5 CONNACK reason codes a refused connection exits with (5.0 §3.2.2.2); the text
/// is `crate::codec::ReasonCode::description`.
pub const CONNACK_V5: &[u8] = &[
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99,
    0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];

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

/// The OS's words for an I/O error (`strerror(errno)` in mosquitto); defined down in
/// the transport layer, which needs it for its own errors.
pub use crate::transport::strerror;

/// mosquitto_pub and mosquitto_sub exit 1 for every failure to connect (the TLS option
/// errors included); only a refused CONNACK has codes of its own, and that comes later.
/// The text is the whole line as mosquitto prints it (`stderr_line`).
impl From<ConnectError> for Error {
    fn from(e: ConnectError) -> Error {
        Error::Verbatim {
            text: format!("{}\n", e.stderr_line()),
            code: FAILURE,
        }
    }
}
