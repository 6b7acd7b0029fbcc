//! Broker log lines in mosquitto's format (`<unix time>: <message>`), filtered by `log_type`
//! and written to `log_dest`.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::broker::config::{LogConfig, LogDest};

/// mosquitto's log types (mosquitto.conf(5) `log_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogType {
    Error,
    Warning,
    Notice,
    Information,
    Subscribe,
    Unsubscribe,
    Debug,
}

impl LogType {
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Decides once, from the config, which types are written, so that a disabled type
/// (debug, on the hot path) costs one bit test and no formatting.
#[derive(Clone, Debug)]
pub struct Logger {
    mask: u8,
    dest: LogDest,
}

impl Logger {
    pub fn new(cfg: &LogConfig) -> Logger {
        let mut mask = 0u8;
        for t in &cfg.types {
            mask |= match t.as_str() {
                "error" => LogType::Error.bit(),
                "warning" => LogType::Warning.bit(),
                "notice" => LogType::Notice.bit(),
                "information" => LogType::Information.bit(),
                "subscribe" => LogType::Subscribe.bit(),
                "unsubscribe" => LogType::Unsubscribe.bit(),
                "debug" => LogType::Debug.bit(),
                "all" => 0x7f,
                "none" => 0,
                _ => 0,
            };
        }
        if cfg.types.iter().any(|t| t == "none") {
            mask = 0;
        }
        if cfg.dest == LogDest::None {
            mask = 0;
        }
        Logger {
            mask,
            dest: cfg.dest,
        }
    }

    /// Whether lines of this type are written; check before formatting costly lines.
    #[inline]
    pub fn enabled(&self, t: LogType) -> bool {
        self.mask & t.bit() != 0
    }

    /// Writes one line if its type is enabled. The line is formatted and written with one
    /// `write_all`, so lines from different tasks never interleave.
    pub fn log(&self, t: LogType, msg: std::fmt::Arguments<'_>) {
        if !self.enabled(t) {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let line = format!("{now}: {msg}\n");
        // A closed stderr/stdout must not take the broker down: ignore write errors.
        let _ = match self.dest {
            LogDest::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
            LogDest::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
            LogDest::None => Ok(()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_filter() {
        let l = Logger::new(&LogConfig {
            dest: LogDest::Stderr,
            types: vec!["error".into(), "debug".into()],
        });
        assert!(l.enabled(LogType::Error));
        assert!(l.enabled(LogType::Debug));
        assert!(!l.enabled(LogType::Notice));
        let all = Logger::new(&LogConfig {
            dest: LogDest::Stdout,
            types: vec!["all".into()],
        });
        assert!(all.enabled(LogType::Subscribe));
        let none = Logger::new(&LogConfig {
            dest: LogDest::None,
            types: vec!["all".into()],
        });
        assert!(!none.enabled(LogType::Error));
    }
}
