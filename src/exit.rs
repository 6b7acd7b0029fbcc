//! The one exit-code table. Every error a user can see is an `Error`; `exit_code`
//! maps it to the status mosquitto's tools would give.

use std::io;

/// Success.
pub const OK: u8 = 0;
/// Usage errors, bad input, I/O failures: mosquitto's tools exit 1 for these.
pub const FAILURE: u8 = 1;
/// `-W` timeouts (MOSQ_ERR_TIMEOUT in mosquitto).
pub const TIMEOUT: u8 = 27;
/// libmosquitto's error numbers, which mosquitto_pub, mosquitto_sub and mosquitto_rr
/// exit with when a connection, once made, fails (`crate::cmd::client::words`), and
/// mosquitto_pub when its `-D publish` properties cannot be sent
/// (`crate::settings::props::check_all`).
pub const MOSQ_ERR_PROTOCOL: u8 = 2;
pub const MOSQ_ERR_CONN_LOST: u8 = 7;
pub const MOSQ_ERR_TLS: u8 = 8;
pub const MOSQ_ERR_NOT_SUPPORTED: u8 = 10;
pub const MOSQ_ERR_KEEPALIVE: u8 = 19;
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

/// mosquitto_passwd's status when the two passwords typed differ.
pub const PASSWD_MISMATCH: u8 = 2;

/// One exit status of some commands, and what it means there.
pub struct Status {
    pub code: u8,
    /// The commands (`pub`, `sub`, `rr`, `passwd`, `broker`, `bench`; `mqtk` for the
    /// binary itself) that end with it.
    pub commands: &'static [&'static str],
    pub meaning: &'static str,
}

const CLIENTS: &[&str] = &["pub", "sub", "rr"];

/// The exit statuses each command can end with, and what each means: the tables the
/// man pages print (`crate::doc`), so they cannot drift from the constants above. A
/// client whose connection is refused exits with the CONNACK code, as mosquitto's
/// clients do; those codes are listed by [`CONNACK_V3`] and [`CONNACK_V5`].
pub const TABLE: &[Status] = &[
    Status {
        code: OK,
        commands: &["mqtk"],
        meaning: "Success (--help, --version).",
    },
    Status {
        code: FAILURE,
        commands: &["mqtk"],
        meaning: "Usage error: an unknown command or option.",
    },
    Status {
        code: OK,
        commands: CLIENTS,
        meaning: "Success.",
    },
    Status {
        code: FAILURE,
        commands: CLIENTS,
        meaning: "Usage error, bad input, an unusable file, a connection that could not \
                  be made (refused, unreachable, an unknown host, a failed proxy), an I/O \
                  error, or any other failure. (Also MQTT 3.1.1's CONNACK code 1, below.) \
                  Also --help and --version when run as mosquitto_pub, mosquitto_sub or \
                  mosquitto_rr, as mosquitto's clients exit.",
    },
    Status {
        code: MOSQ_ERR_PROTOCOL,
        commands: &["pub"],
        meaning: "After the connection was made, the broker sent something that breaks \
                  MQTT or is not MQTT at all, e.g. a TLS alert to a client that did not \
                  use TLS (MOSQ_ERR_PROTOCOL). Also -l: the -D publish properties hold a \
                  value MQTT forbids.",
    },
    Status {
        code: MOSQ_ERR_PROTOCOL,
        commands: &["sub", "rr"],
        meaning: "After the connection was made, the broker sent something that breaks \
                  MQTT or is not MQTT at all, e.g. a TLS alert to a client that did not \
                  use TLS (MOSQ_ERR_PROTOCOL).",
    },
    Status {
        code: MOSQ_ERR_CONN_LOST,
        commands: &["pub"],
        meaning: "After the connection was made, it was lost: closed or reset by the \
                  broker, or ended by a TLS alert such as a refused client certificate \
                  (MOSQ_ERR_CONN_LOST); mqtk pub first tries to reconnect and resend. \
                  Also when the -D publish properties could not be sent (a forbidden \
                  value, a duplicate, or properties below MQTT v5), so the connection \
                  was closed without publishing, as mosquitto_pub 2.1 does.",
    },
    Status {
        code: MOSQ_ERR_CONN_LOST,
        commands: &["sub", "rr"],
        meaning: "After the connection was made, it was lost: closed or reset by the \
                  broker, or ended by a TLS alert such as a refused client certificate \
                  (MOSQ_ERR_CONN_LOST). sub reconnects instead once it has been \
                  connected.",
    },
    Status {
        code: MOSQ_ERR_TLS,
        commands: CLIENTS,
        meaning: "The TLS handshake failed after the TCP connection was made: an \
                  untrusted or wrongly named server certificate, no common version or \
                  cipher, or a port where the server does not speak TLS (MOSQ_ERR_TLS).",
    },
    Status {
        code: MOSQ_ERR_NOT_SUPPORTED,
        commands: &["pub"],
        meaning: "pub -l: -D publish properties on an MQTT 3.x connection \
                  (MOSQ_ERR_NOT_SUPPORTED).",
    },
    Status {
        code: MOSQ_ERR_KEEPALIVE,
        commands: CLIENTS,
        meaning: "The broker did not answer within the keepalive interval \
                  (MOSQ_ERR_KEEPALIVE).",
    },
    Status {
        code: MOSQ_ERR_DUPLICATE_PROPERTY,
        commands: &["pub"],
        meaning: "pub -l: a property given twice in -D publish \
                  (MOSQ_ERR_DUPLICATE_PROPERTY).",
    },
    Status {
        code: TIMEOUT,
        commands: &["sub", "rr"],
        meaning: "A -W timeout expired before the command finished (MOSQ_ERR_TIMEOUT).",
    },
    Status {
        code: OK,
        commands: &["passwd"],
        meaning: "Success; with --verify, the password matches.",
    },
    Status {
        code: FAILURE,
        commands: &["passwd"],
        meaning: "Usage error (the usage is printed), a password file that cannot be \
                  read, parsed or written, a user not in the file, an empty password, a \
                  password that does not match (--verify), or any other failure.",
    },
    Status {
        code: PASSWD_MISMATCH,
        commands: &["passwd"],
        meaning: "The two passwords typed differ.",
    },
    Status {
        code: OK,
        commands: &["broker"],
        meaning: "Stopped by SIGINT or SIGTERM.",
    },
    Status {
        code: FAILURE,
        commands: &["broker"],
        meaning: "It did not start: a configuration it cannot use (an unknown keyword, a \
                  bad value, an unreadable password or ACL file), a listener it cannot \
                  open, or another failure. Nothing listens by then.",
    },
    Status {
        code: OK,
        commands: &["bench"],
        meaning: "The run completed, also when stopped by SIGINT or SIGTERM; failed \
                  connections and publishes are counted in the report. merge: the reports \
                  were merged.",
    },
    Status {
        code: FAILURE,
        commands: &["bench"],
        meaning: "Usage error, settings that cannot work together, a report that cannot \
                  be read, written or merged, or no client could connect at all.",
    },
    Status {
        code: OK,
        commands: &["check"],
        meaning: "Every probe that ran could run; a feature the broker lacks is a result \
                  (unsupported), not a failure. Also --list.",
    },
    Status {
        code: FAILURE,
        commands: &["check"],
        meaning: "Usage error, a broker that cannot be reached or refuses the connection, \
                  a probe that broke off or timed out, or an interrupted run (what the \
                  probes created is removed first).",
    },
];

/// `command`'s rows of [`TABLE`] (`bench merge` is `bench`'s), as (status, meaning).
pub fn statuses(command: &str) -> impl Iterator<Item = (u8, &'static str)> + '_ {
    let name = command.split(' ').next().unwrap_or("");
    TABLE
        .iter()
        .filter(move |s| s.commands.contains(&name))
        .map(|s| (s.code, s.meaning))
}

/// Whether `command` exits with a refused CONNACK's code (the clients).
pub fn exits_with_connack_codes(command: &str) -> bool {
    CLIENTS.contains(&command)
}

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
    #[error("{context}: {}", crate::transport::error::strerror(source))]
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
