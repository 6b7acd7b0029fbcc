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

/// mosquitto's words for a connection that could not be made: exit status 1, except
/// for a failed TLS handshake, which happens after the TCP connection was made and
/// exits as mosquitto's clients do then (see [`Failure`]).
pub fn connect_error(e: &ConnectError, quiet: bool) -> Error {
    if let ConnectError::Tls(reason) = e {
        let f = Failure {
            code: exit::MOSQ_ERR_TLS,
            words: "A TLS error occurred",
            detail: Some(reason.clone()),
        };
        return quieted(quiet, f.error());
    }
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

/// A connection, once made, that failed: mosquitto_pub, mosquitto_sub and
/// mosquitto_rr 2.1 end with libmosquitto's error number as the exit status and print
/// "Error: " and its `mosquitto_strerror` text (2.1's words, which lost 2.0.11's final
/// period). mqtk adds a line with its own, more specific reason when it has one.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: u8,
    /// `mosquitto_strerror(code)` in 2.1.
    pub words: &'static str,
    /// Why, in mqtk's words, for the second line.
    pub detail: Option<String>,
}

const CONN_LOST: &str = "The connection was lost";
const PROTOCOL: &str = "A network protocol error occurred when communicating with the broker";

impl Failure {
    /// How a lost connection ends the command.
    pub fn of(e: &Lost) -> Failure {
        let lost = |detail| Failure {
            code: exit::MOSQ_ERR_CONN_LOST,
            words: CONN_LOST,
            detail,
        };
        match e {
            Lost::Closed => lost(None),
            // libmosquitto counts a reset as a lost connection, with nothing to add.
            Lost::Io(io) if is_plain_loss(io) => lost(None),
            // A TLS alert (a refused client certificate) or another OS error.
            Lost::Io(io) => lost(Some(exit::strerror(io))),
            Lost::Connection(connection::Error::Disconnected(d)) => {
                lost(Some(format!("the broker disconnected: {}", d.reason)))
            }
            Lost::Connection(connection::Error::KeepaliveTimeout) => Failure {
                code: exit::MOSQ_ERR_KEEPALIVE,
                words: "Keepalive exceeded",
                detail: None,
            },
            Lost::Connection(other) => Failure {
                code: exit::MOSQ_ERR_PROTOCOL,
                words: PROTOCOL,
                detail: Some(other.to_string()),
            },
        }
    }

    /// The lines: "Error: <words>", then the detail, capitalised, as a sentence.
    pub fn text(&self) -> String {
        let mut text = format!("Error: {}\n", self.words);
        if let Some(d) = &self.detail {
            let mut chars = d.chars();
            if let Some(first) = chars.next() {
                let end = if d.ends_with('.') { "" } else { "." };
                text.push_str(&format!(
                    "{}{}{end}\n",
                    first.to_uppercase(),
                    chars.as_str()
                ));
            }
        }
        text
    }

    pub fn error(&self) -> Error {
        Error::Verbatim {
            text: self.text(),
            code: self.code,
        }
    }
}

fn is_plain_loss(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
    )
}

/// A lost connection, in mosquitto's words and with its exit status.
pub fn lost(e: &Lost, quiet: bool) -> Error {
    quieted(quiet, Failure::of(e).error())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn failure(e: Lost) -> (u8, String) {
        let f = Failure::of(&e);
        (f.code, f.text())
    }

    #[test]
    fn lost_connections_end_as_mosquitto_21_numbers_them() {
        let lost = "Error: The connection was lost\n".to_string();
        assert_eq!(failure(Lost::Closed), (7, lost.clone()));
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(failure(Lost::Io(reset)), (7, lost.clone()));
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            "received fatal alert: CertificateRequired",
        );
        assert_eq!(
            failure(Lost::Io(alert)),
            (
                7,
                format!("{lost}Received fatal alert: CertificateRequired.\n")
            )
        );
        assert_eq!(
            failure(Lost::Connection(connection::Error::KeepaliveTimeout)),
            (19, "Error: Keepalive exceeded\n".into())
        );
        let (code, text) = failure(Lost::Connection(connection::Error::Protocol(
            "a PUBACK for no message".into(),
        )));
        assert_eq!(code, 2);
        assert_eq!(
            text,
            "Error: A network protocol error occurred when communicating with the broker\n\
             Protocol error: a PUBACK for no message.\n"
        );
        let quiet = super::lost(&Lost::Closed, true);
        assert_eq!((quiet.exit_code(), quiet.message()), (7, String::new()));
    }

    #[test]
    fn a_failed_tls_handshake_is_a_tls_error_and_the_rest_exit_1() {
        let tls = connect_error(
            &ConnectError::Tls("invalid peer certificate: UnknownIssuer".into()),
            false,
        );
        assert_eq!(tls.exit_code(), 8);
        assert_eq!(
            tls.message(),
            "Error: A TLS error occurred\nInvalid peer certificate: UnknownIssuer.\n"
        );
        let refused = connect_error(
            &ConnectError::from(io::Error::from_raw_os_error(111)),
            false,
        );
        assert_eq!(refused.exit_code(), 1);
        assert_eq!(refused.message(), "Error: Connection refused\n");
    }
}
