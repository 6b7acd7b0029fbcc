//! mosquitto's words for what goes wrong while connecting and after, shared by pub,
//! sub and rr (scripts compare these lines byte for byte).

use crate::client::connection;
use crate::client::drive::{ConnectFailure, Lost};
use crate::codec::reason::connack_v3_description;
use crate::codec::{ProtocolVersion, ReasonCode};
use crate::exit::{self, Error};
use crate::transport::ConnectError;

/// `-q`: the error keeps its exit status but loses its words.
pub fn quieted(quiet: bool, e: Error) -> Error {
    if quiet {
        Error::Silent(e.exit_code())
    } else {
        e
    }
}

/// mosquitto's words for a connection that could not be made (exit status 1).
pub fn connect_error(e: &ConnectError, quiet: bool) -> Error {
    quieted(
        quiet,
        Error::Verbatim {
            text: format!("{}\n", e.stderr_line()),
            code: exit::FAILURE,
        },
    )
}

/// mosquitto's words for a refused CONNACK; the exit status is the code.
pub fn refusal(version: ProtocolVersion, code: u8, quiet: bool) -> Error {
    let text = if version == ProtocolVersion::V5 {
        let rc = ReasonCode(code);
        if rc == ReasonCode::UNSUPPORTED_PROTOCOL_VERSION {
            format!(
                "Connection error: {rc}. Try connecting to an MQTT v5 broker, or use MQTT v3.x mode.\n"
            )
        } else {
            format!(
                "Connection error: {rc}\nError: A network protocol error occurred when communicating with the broker.\n"
            )
        }
    } else {
        format!(
            "Connection error: {}\nError: The connection was refused.\n",
            connack_v3_description(code)
        )
    };
    quieted(quiet, Error::Refused { text, code })
}

/// What follows "Error: " for a lost connection.
pub fn lost_text(e: &Lost) -> String {
    match e {
        Lost::Io(e) => exit::strerror(e),
        Lost::Closed => "The connection was lost.".into(),
        Lost::Connection(connection::Error::KeepaliveTimeout) => {
            "The connection was lost (keepalive timeout).".into()
        }
        Lost::Connection(connection::Error::Disconnected(d)) => {
            format!("The broker disconnected: {}.", d.reason)
        }
        Lost::Connection(_) => {
            "A network protocol error occurred when communicating with the broker.".into()
        }
    }
}

/// "Error: <what>\n", exit 1.
pub fn lost(e: &Lost, quiet: bool) -> Error {
    quieted(
        quiet,
        Error::Verbatim {
            text: format!("Error: {}\n", lost_text(e)),
            code: exit::FAILURE,
        },
    )
}

/// A first connection that failed, in mosquitto's words.
pub fn connect_failure(e: &ConnectFailure, version: ProtocolVersion, quiet: bool) -> Error {
    match e {
        ConnectFailure::Transport(e) => connect_error(e, quiet),
        ConnectFailure::Refused(ack) => refusal(version, ack.code, quiet),
        ConnectFailure::Lost(l) => lost(l, quiet),
        ConnectFailure::Encode(e) => quieted(quiet, Error::Failed(format!("CONNECT: {e}."))),
    }
}
