//! Why a connection could not be prepared or opened (`ConnectError`), and the OS's
//! words for an I/O error (`strerror`). The exit table (`crate::exit`) turns a
//! `ConnectError` into mosquitto's line and status; nothing here knows about exit codes.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a connection could not be prepared or opened. `Display` gives what follows
/// `Error: ` on mosquitto's line where mosquitto has words for it.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A TLS file or directory that does not exist. mosquitto says only
    /// "Problem setting TLS options: File not found."; we name the option and path.
    #[error("Problem setting TLS options: File not found ({option} \"{}\").", path.display())]
    TlsFileNotFound { option: &'static str, path: PathBuf },
    /// A TLS file that exists but cannot be used; `what` is mosquitto's phrase for it
    /// (e.g. `Unable to load CA certificates, check cafile`).
    #[error("{what} \"{}\": {reason}.", path.display())]
    TlsFile {
        what: &'static str,
        option: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// A TLS option that cannot be honoured (an unknown cipher, a version no chosen
    /// cipher supports, no system CA store); names the option.
    #[error("Problem setting TLS options, check the options are valid: {option}: {reason}.")]
    TlsOption {
        option: &'static str,
        reason: String,
    },
    /// Settings that cannot work together or a value that cannot be sent; a full sentence.
    #[error("{0}")]
    Invalid(String),
    /// The broker's (or proxy's, or `-A`'s) name did not resolve. The text is
    /// mosquitto's, byte for byte (scripts compare it); the name and the resolver's
    /// reason are kept for debug output.
    #[error("Unable to connect (Lookup error.).")]
    Lookup { host: String, reason: String },
    /// The OS's error connecting or binding, in its words as mosquitto prints them:
    /// `Connection refused`, `No such file or directory` (unix socket),
    /// `Cannot assign requested address` (`-A`), `Network is unreachable`, …
    #[error("{}", strerror(.source))]
    Io {
        #[from]
        source: io::Error,
    },
    /// `open` took longer than `Prepared::connect_timeout`.
    #[error("Connection timed out (no connection after {} s).", .0.as_secs_f64())]
    Timeout(Duration),
    /// The SOCKS5 or HTTP proxy refused or failed (mosquitto: "Proxy error.").
    #[error("Proxy error: {0}.")]
    Proxy(String),
    /// The TLS handshake failed: an untrusted or wrongly named certificate, no common
    /// version or cipher, a refused client certificate. mosquitto prints
    /// "Unable to connect (A TLS error occurred.)."; we add rustls's reason.
    #[error("Unable to connect (A TLS error occurred: {0}).")]
    Tls(String),
    /// The WebSocket upgrade was refused or malformed.
    #[error("WebSocket handshake failed: {0}.")]
    WebSocket(String),
}

impl ConnectError {
    /// The whole line mosquitto's tools would print (without the newline): most errors
    /// after `Error: `, but lookup and TLS failures as `Unable to connect (…).` with no
    /// prefix, as mosquitto's `client_connect` prints them.
    pub fn stderr_line(&self) -> String {
        match self {
            ConnectError::Lookup { .. } | ConnectError::Tls(_) => self.to_string(),
            _ => format!("Error: {self}"),
        }
    }

    /// Whether trying again later could succeed (the broker or network may come back),
    /// as opposed to settings or certificates that will fail the same way every time.
    /// The session engine uses this to decide whether to reconnect.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConnectError::Io { .. }
                | ConnectError::Timeout(_)
                | ConnectError::Lookup { .. }
                | ConnectError::Proxy(_)
        )
    }
}

/// The text the OS gives for an I/O error, without Rust's " (os error N)" suffix:
/// what mosquitto prints with `strerror(errno)`, e.g. `Connection refused`.
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => text[..i].to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_mosquitto_prints_them() {
        let lookup = ConnectError::Lookup {
            host: "nonexistent.invalid".into(),
            reason: "Name or service not known".into(),
        };
        assert_eq!(lookup.stderr_line(), "Unable to connect (Lookup error.).");
        let refused = ConnectError::from(io::Error::from_raw_os_error(111));
        assert_eq!(refused.stderr_line(), "Error: Connection refused");
        let proxy =
            ConnectError::Proxy("the SOCKS5 proxy rejected the username and password".into());
        assert_eq!(
            proxy.stderr_line(),
            "Error: Proxy error: the SOCKS5 proxy rejected the username and password."
        );
        assert_eq!(strerror(&io::Error::other("plain text")), "plain text");
    }
}
