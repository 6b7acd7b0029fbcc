//! The TLS key log of the clients (`--tls-keylog FILE`, mosquitto 2.1; else the
//! `SSLKEYLOGFILE` environment variable, as curl reads it): every secret rustls
//! derives, in NSS key log format, so that Wireshark can decrypt a capture.
//!
//! rustls's own `KeyLogFile` reads only `SSLKEYLOGFILE` and reports failures through
//! the `log` crate, which mqtk does not print; this one takes the path it is given,
//! opens the file before connecting (so a bad path is an error, not a silent loss),
//! and says once on stderr if a later write fails. The secrets go to that file and
//! nowhere else: `Debug` shows only the path.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where the key log goes and what named it, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLogPath {
    pub path: PathBuf,
    /// `--tls-keylog` or `SSLKEYLOGFILE`.
    pub named_by: &'static str,
}

/// An open key log file, appended to (several connections, or several runs, share
/// one file, as with OpenSSL's and curl's key logs).
pub struct KeyLogFile {
    path: PathBuf,
    state: Mutex<State>,
}

struct State {
    file: File,
    /// A write failed and was reported: later failures stay quiet.
    warned: bool,
}

impl KeyLogFile {
    /// Opens (or creates) `path` for appending. A new file gets mode 0600: anyone who
    /// can read it can decrypt the sessions. An existing file keeps its mode.
    pub fn open(path: &Path) -> io::Result<KeyLogFile> {
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        Ok(KeyLogFile {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                file,
                warned: false,
            }),
        })
    }
}

/// One line of the NSS key log format: `LABEL <client random hex> <secret hex>`.
fn line(label: &str, client_random: &[u8], secret: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(label.len() + 2 * (client_random.len() + secret.len()) + 3);
    s.push_str(label);
    s.push(' ');
    for b in client_random {
        let _ = write!(s, "{b:02x}");
    }
    s.push(' ');
    for b in secret {
        let _ = write!(s, "{b:02x}");
    }
    s.push('\n');
    s
}

impl rustls::KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let text = line(label, client_random, secret);
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // One write per line: with O_APPEND, lines of concurrent writers stay whole.
        if let Err(e) = st.file.write_all(text.as_bytes())
            && !st.warned
        {
            st.warned = true;
            let _ = writeln!(
                io::stderr(),
                "Warning: Unable to write to TLS key log file \"{}\": {}.",
                self.path.display(),
                super::strerror(&e)
            );
        }
    }
}

impl std::fmt::Debug for KeyLogFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLogFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::KeyLog;

    #[test]
    fn lines_are_nss_key_log_format() {
        assert_eq!(
            line("CLIENT_RANDOM", &[0x00, 0xab], &[0x01, 0xff, 0x10]),
            "CLIENT_RANDOM 00ab 01ff10\n"
        );
    }

    #[test]
    fn appends_to_a_new_file_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let log = KeyLogFile::open(&path).unwrap();
        log.log("CLIENT_TRAFFIC_SECRET_0", &[1], &[2]);
        let again = KeyLogFile::open(&path).unwrap();
        again.log("SERVER_TRAFFIC_SECRET_0", &[3], &[4]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "CLIENT_TRAFFIC_SECRET_0 01 02\nSERVER_TRAFFIC_SECRET_0 03 04\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = KeyLogFile::open(&dir.path().join("no/such/keys")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
