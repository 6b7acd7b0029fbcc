//! `ConnectArgs`: the connection, TLS, proxy, will, `-D` and logging flags that
//! mosquitto_pub, mosquitto_sub and mosquitto_rr share (mosquitto's
//! `client/client_shared.c`), plus the mapping of clap's parse errors to mosquitto's
//! words. Values are checked here; checks across flags live in `crate::settings`.
//!
//! Error texts are mosquitto's, byte for byte, because scripts match on them. Each
//! value parser returns the whole mosquitto line (trailing blank lines included); the
//! caller adds "\nUse 'TOOL --help' to see usage.\n" as mosquitto's `main` does.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::codec::ProtocolVersion;

/// The flags every client command flattens. `-h` is the host, so clap's `-h` help and
/// `-V` version flags are disabled on the client subcommands (`--help` and
/// `--version` remain).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// MQTT host to connect to. Defaults to localhost.
    #[arg(
        short = 'h',
        long = "host",
        value_name = "HOST",
        help_heading = "Connection"
    )]
    pub host: Option<String>,
    /// Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
    #[arg(short = 'p', long = "port", value_name = "PORT", value_parser = parse_port,
          allow_negative_numbers = true, help_heading = "Connection")]
    pub port: Option<u16>,
    /// Provide a username.
    #[arg(
        short = 'u',
        long = "username",
        value_name = "USERNAME",
        help_heading = "Connection"
    )]
    pub username: Option<String>,
    /// Provide a password.
    #[arg(
        short = 'P',
        long = "pw",
        value_name = "PASSWORD",
        help_heading = "Connection"
    )]
    pub password: Option<String>,
    /// Id to use for this client. Defaults to an empty id (the broker assigns one);
    /// MQTT 3.1 gets a random `mosq-…` id.
    #[arg(
        short = 'i',
        long = "id",
        value_name = "ID",
        help_heading = "Connection"
    )]
    pub id: Option<String>,
    /// Define the client id as ID_PREFIX followed by the process id.
    #[arg(
        short = 'I',
        long = "id-prefix",
        value_name = "ID_PREFIX",
        help_heading = "Connection"
    )]
    pub id_prefix: Option<String>,
    /// Keep alive in seconds for this client. Defaults to 60.
    #[arg(short = 'k', long = "keepalive", value_name = "SECONDS", value_parser = parse_keepalive,
          allow_negative_numbers = true, help_heading = "Connection")]
    pub keepalive: Option<u16>,
    /// Disable clean session/enable persistent client mode.
    #[arg(
        short = 'c',
        long = "disable-clean-session",
        help_heading = "Connection"
    )]
    pub disable_clean_session: bool,
    /// Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞
    /// for a session that does not expire. Defaults to -1 with -c, else 0. Implies -V 5.
    #[arg(short = 'x', value_name = "SESSION_EXPIRY", value_parser = parse_session_expiry,
          allow_negative_numbers = true, help_heading = "Connection")]
    pub session_expiry: Option<u32>,
    /// MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv311.
    #[arg(short = 'V', long = "protocol-version", value_name = "VERSION",
          value_parser = parse_protocol_version, help_heading = "Connection")]
    pub protocol_version: Option<ProtocolVersion>,
    /// Bind the outgoing socket to this host/ip address.
    #[arg(short = 'A', value_name = "ADDRESS", help_heading = "Connection")]
    pub bind_address: Option<String>,
    /// Disable Nagle's algorithm (always disabled in mqtk, which batches writes itself).
    #[arg(long = "nodelay", help_heading = "Connection")]
    pub nodelay: bool,
    /// Not supported (Multipath TCP); accepted only to be rejected with a clear error.
    #[arg(long = "mptcp", help_heading = "Connection", hide = true)]
    pub mptcp: bool,
    /// Connect through a unix domain socket instead of TCP.
    #[arg(long = "unix", value_name = "PATH", help_heading = "Connection")]
    pub unix: Option<PathBuf>,
    /// Connect using WebSockets.
    #[arg(long = "ws", help_heading = "Connection")]
    pub ws: bool,
    /// User, password, host, port and topic as a URL:
    /// mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://…
    #[arg(
        short = 'L',
        long = "url",
        value_name = "URL",
        help_heading = "Connection"
    )]
    pub url: Option<String>,
    /// Read options from FILE instead of the default options file.
    #[arg(short = 'o', value_name = "FILE", help_heading = "Connection")]
    pub options_file: Option<PathBuf>,
    /// The maximum number of QoS 1/2 messages in flight. Defaults to the broker's
    /// receive maximum (MQTT v5), else 65535; at most 1 MiB of payload is ever
    /// unacknowledged.
    #[arg(short = 'M', value_name = "MAX_INFLIGHT", value_parser = parse_max_inflight,
          allow_negative_numbers = true, help_heading = "Connection")]
    pub max_inflight: Option<u16>,
    /// SOCKS5 (socks5h://[user[:pass]@]host[:port]) or HTTP CONNECT (http://…) proxy.
    #[arg(long = "proxy", value_name = "URL", help_heading = "Connection")]
    pub proxy: Option<String>,

    /// Topic of the client's will, sent by the broker on unexpected disconnection.
    #[arg(long = "will-topic", value_name = "TOPIC", value_parser = parse_will_topic,
          help_heading = "Will")]
    pub will_topic: Option<String>,
    /// Payload of the will (empty if not given).
    #[arg(long = "will-payload", value_name = "PAYLOAD", help_heading = "Will")]
    pub will_payload: Option<String>,
    /// QoS of the will.
    #[arg(long = "will-qos", value_name = "QOS", value_parser = parse_will_qos,
          allow_negative_numbers = true, help_heading = "Will")]
    pub will_qos: Option<u8>,
    /// Make the will retained.
    #[arg(long = "will-retain", help_heading = "Will")]
    pub will_retain: bool,

    /// MQTT v5 property: COMMAND NAME VALUE (or COMMAND user-property KEY VALUE), e.g.
    /// `-D publish message-expiry-interval 30`. Commands: connect, publish, disconnect,
    /// will (and subscribe/unsubscribe for sub). Implies -V 5.
    // The words of all `-D`s in order; `crate::settings::props` splits them into groups
    // again (user-property takes 4). The words may start with '-' (mosquitto takes them
    // as they come); `crate::cli::words` marks where each group of fewer than four ends.
    #[arg(short = 'D', long = "property", num_args = 3..=4, action = clap::ArgAction::Append,
          allow_hyphen_values = true, value_terminator = crate::cli::words::PROPERTY_END,
          value_names = ["COMMAND", "NAME", "VALUE"], help_heading = "MQTT v5")]
    pub property: Vec<String>,

    /// Path to a file of trusted CA certificates (enables TLS).
    #[arg(long = "cafile", value_name = "FILE", help_heading = "TLS")]
    pub cafile: Option<PathBuf>,
    /// Path to a directory of trusted CA certificates (enables TLS).
    #[arg(long = "capath", value_name = "DIR", help_heading = "TLS")]
    pub capath: Option<PathBuf>,
    /// Client certificate for authentication.
    #[arg(long = "cert", value_name = "FILE", help_heading = "TLS")]
    pub cert: Option<PathBuf>,
    /// Client private key for authentication.
    #[arg(long = "key", value_name = "FILE", help_heading = "TLS")]
    pub key: Option<PathBuf>,
    /// Key file type: only "pem" is supported ("engine" needs OpenSSL).
    #[arg(long = "keyform", value_name = "KEYFORM", help_heading = "TLS")]
    pub keyform: Option<String>,
    /// OpenSSL-style list of TLS ciphers, mapped to the suites rustls offers.
    #[arg(long = "ciphers", value_name = "CIPHERS", help_heading = "TLS")]
    pub ciphers: Option<String>,
    /// TLS protocol version: tlsv1.3 or tlsv1.2.
    #[arg(long = "tls-version", value_name = "VERSION", help_heading = "TLS")]
    pub tls_version: Option<String>,
    /// Do not check the server's host name against its certificate.
    #[arg(long = "insecure", help_heading = "TLS")]
    pub insecure: bool,
    /// TLS ALPN protocol.
    #[arg(long = "tls-alpn", value_name = "PROTOCOL", help_heading = "TLS")]
    pub tls_alpn: Option<String>,
    /// Load and trust the operating system's CA certificates.
    #[arg(long = "tls-use-os-certs", help_heading = "TLS")]
    pub tls_use_os_certs: bool,
    /// Never use TLS, even on port 8883.
    #[arg(long = "no-tls", help_heading = "TLS")]
    pub no_tls: bool,
    /// Not supported (OpenSSL engines); accepted only to be rejected with a clear error.
    #[arg(
        long = "tls-engine",
        value_name = "ENGINE",
        help_heading = "TLS",
        hide = true
    )]
    pub tls_engine: Option<String>,
    /// Not supported (OpenSSL engines).
    #[arg(
        long = "tls-engine-kpass-sha1",
        value_name = "SHA1",
        help_heading = "TLS",
        hide = true
    )]
    pub tls_engine_kpass_sha1: Option<String>,
    /// Not supported (rustls has no TLS-PSK).
    #[arg(
        long = "psk",
        value_name = "HEX_KEY",
        help_heading = "TLS",
        hide = true
    )]
    pub psk: Option<String>,
    /// Not supported (rustls has no TLS-PSK).
    #[arg(
        long = "psk-identity",
        value_name = "IDENTITY",
        help_heading = "TLS",
        hide = true
    )]
    pub psk_identity: Option<String>,
    /// Append the TLS session secrets to FILE (NSS key log format, created with mode
    /// 0600), so that Wireshark can decrypt the traffic. For debugging only. Without
    /// this flag, $SSLKEYLOGFILE names the file.
    #[arg(long = "tls-keylog", value_name = "FILE", help_heading = "TLS")]
    pub tls_keylog: Option<PathBuf>,

    /// Enable debug messages.
    #[arg(short = 'd', long = "debug", help_heading = "Output")]
    pub debug: bool,
    /// Don't print error messages.
    #[arg(long = "quiet", help_heading = "Output")]
    pub quiet: bool,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help, help_heading = "Output")]
    pub help: Option<bool>,
    /// Print the version.
    #[arg(long = "version", help_heading = "Output")]
    pub version: bool,
}

/// record and replay read no options file (mosquitto has no such tools to share one
/// with), and `-o` is record's output: their connection flags' `-o` is hidden and
/// renamed, and `crate::settings::record::refuse_options_file` refuses it if given.
pub(crate) fn no_options_file(a: clap::Arg) -> clap::Arg {
    a.short(None).long("options-file").hide(true)
}

/// C's `atoi`-like reading for mosquitto's messages: the number, or `None`.
fn int(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok()
}

fn parse_port(s: &str) -> Result<u16, String> {
    match int(s) {
        Some(p) if (1..=65535).contains(&p) => Ok(p as u16),
        Some(p) => Err(format!("Error: Invalid port given: {p}\n")),
        None => Err(format!("Error: Invalid port given: {s}\n")),
    }
}

fn parse_keepalive(s: &str) -> Result<u16, String> {
    match int(s) {
        Some(k) if (5..=65535).contains(&k) => Ok(k as u16),
        _ => Err(
            "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.\n\n".into(),
        ),
    }
}

/// `-x`: -1, 4294967295 and ∞ all mean "never expires" (0xFFFFFFFF, 5.0 §3.1.2.11.2).
fn parse_session_expiry(s: &str) -> Result<u32, String> {
    if s == "∞" {
        return Ok(u32::MAX);
    }
    let v = parse_c_integer(s).ok_or("Error: session-expiry-interval not a number.\n\n")?;
    match v {
        -1 => Ok(u32::MAX),
        v if (0..=i64::from(u32::MAX)).contains(&v) => Ok(v as u32),
        _ => Err("Error: session-expiry-interval out of range.\n\n".into()),
    }
}

/// `strtoll(s, _, 0)` with the whole string consumed: decimal, 0x hex, 0 octal.
pub(crate) fn parse_c_integer(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        body.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_protocol_version(s: &str) -> Result<ProtocolVersion, String> {
    match s {
        "mqttv31" | "31" => Ok(ProtocolVersion::V31),
        "mqttv311" | "311" => Ok(ProtocolVersion::V311),
        "mqttv5" | "5" => Ok(ProtocolVersion::V5),
        _ => Err("Error: Invalid protocol version argument given.\n\n".into()),
    }
}

fn parse_max_inflight(s: &str) -> Result<u16, String> {
    match int(s) {
        // More than 65,535 can never be in flight (packet ids are 16 bits).
        Some(m) if m >= 1 => Ok(m.min(65535) as u16),
        _ => Err("Error: Maximum inflight messages must be greater than 0.\n\n".into()),
    }
}

fn parse_will_qos(s: &str) -> Result<u8, String> {
    match int(s) {
        Some(q) if (0..=2).contains(&q) => Ok(q as u8),
        Some(q) => Err(format!("Error: Invalid will QoS {q}.\n\n")),
        None => Err(format!("Error: Invalid will QoS {s}.\n\n")),
    }
}

fn parse_will_topic(s: &str) -> Result<String, String> {
    if !valid_publish_topic(s) {
        return Err(format!(
            "{}\n",
            crate::topic::invalid_topic_message("will topic", s, crate::topic::NAME_HINT)
        ));
    }
    Ok(s.to_string())
}

/// A publish topic (`-t` of pub and rr, and the `-L` URL's topic), refused in
/// mosquitto_pub's words.
pub fn parse_publish_topic(s: &str) -> Result<String, String> {
    if !valid_publish_topic(s) {
        return Err(format!(
            "{}\n",
            crate::topic::invalid_publish_topic_message(s)
        ));
    }
    Ok(s.to_string())
}

/// mosquitto_pub_topic_check(): no wildcard characters, at most 65,535 bytes
/// (5.0 §4.7.3, §1.5.4), at most 200 '/' (2.1's TOPIC_HIERARCHY_LIMIT, which its
/// clients check too). An empty topic passes here and is refused at publish time, as
/// in mosquitto.
pub fn valid_publish_topic(s: &str) -> bool {
    matches!(
        crate::topic::validate_name(s),
        Ok(()) | Err(crate::topic::TopicError::Empty)
    ) && crate::topic::check_hierarchy(s).is_ok()
}

/// `-q` for pub and sub.
pub fn parse_qos(s: &str) -> Result<u8, String> {
    match int(s) {
        Some(q) if (0..=2).contains(&q) => Ok(q as u8),
        Some(q) => Err(format!("Error: Invalid QoS given: {q}\n")),
        None => Err(format!("Error: Invalid QoS given: {s}\n")),
    }
}

/// The name a client tool was invoked by, for "Use 'NAME --help' to see usage.":
/// `mosquitto_pub` through a symlink, `mqtk pub` otherwise. `None` when argv does not
/// run a client command (then clap's own messages stand).
pub fn client_tool_name(raw_argv: &[OsString]) -> Option<String> {
    let base = super::invoked_as(raw_argv.first()?)?;
    if matches!(base, "mosquitto_pub" | "mosquitto_sub" | "mosquitto_rr") {
        return Some(base.to_string());
    }
    let sub = raw_argv.get(1)?.to_str()?;
    matches!(sub, "pub" | "sub" | "rr" | "record" | "replay").then(|| format!("mqtk {sub}"))
}

/// mosquitto's text when an option is last on the line with its value missing.
pub(crate) fn missing_value_text(arg: &str) -> Option<&'static str> {
    Some(match arg {
        "-A" => "Error: -A argument given but no address specified.\n\n",
        "--cafile" => "Error: --cafile argument given but no file specified.\n\n",
        "--capath" => "Error: --capath argument given but no directory specified.\n\n",
        "--cert" => "Error: --cert argument given but no file specified.\n\n",
        "--ciphers" => "Error: --ciphers argument given but no ciphers specified.\n\n",
        "-D" | "--property" => {
            "Error: --property argument given but not enough arguments specified.\n\n"
        }
        "-f" | "--file" => "Error: -f argument given but no file specified.\n\n",
        "-h" | "--host" => "Error: -h argument given but no host specified.\n\n",
        "-i" | "--id" => "Error: -i argument given but no id specified.\n\n",
        "-I" | "--id-prefix" => "Error: -I argument given but no id prefix specified.\n\n",
        "-k" | "--keepalive" => "Error: -k argument given but no keepalive specified.\n\n",
        "--key" => "Error: --key argument given but no file specified.\n\n",
        "--keyform" => "Error: --keyform argument given but no keyform specified.\n\n",
        "-L" | "--url" => "Error: -L argument given but no URL specified.\n\n",
        "-m" | "--message" => "Error: -m argument given but no message specified.\n\n",
        "-M" => "Error: -M argument given but max_inflight not specified.\n\n",
        "-o" => "Error: -o argument given but no options file specified.\n\n",
        "-p" | "--port" => "Error: -p argument given but no port specified.\n\n",
        "-P" | "--pw" => "Error: -P argument given but no password specified.\n\n",
        "--proxy" => "Error: --proxy argument given but no proxy url specified.\n\n",
        "--psk" => "Error: --psk argument given but no key specified.\n\n",
        "--psk-identity" => "Error: --psk-identity argument given but no identity specified.\n\n",
        "-q" | "--qos" => "Error: -q argument given but no QoS specified.\n\n",
        "--repeat" => "Error: --repeat argument given but no count specified.\n\n",
        "--repeat-delay" => "Error: --repeat-delay argument given but no time specified.\n\n",
        "-t" | "--topic" => "Error: -t argument given but no topic specified.\n\n",
        "--tls-alpn" => "Error: --tls-alpn argument given but no protocol specified.\n\n",
        "--tls-engine" => "Error: --tls-engine argument given but no engine_id specified.\n\n",
        "--tls-engine-kpass-sha1" => {
            "Error: --tls-engine-kpass-sha1 argument given but no kpass sha1 specified.\n\n"
        }
        "--tls-version" => "Error: --tls-version argument given but no version specified.\n\n",
        "--tls-keylog" => "Error: --tls-keylog argument given but no file specified.\n\n",
        "-u" | "--username" => "Error: -u argument given but no username specified.\n\n",
        "--unix" => "Error: --unix argument given but no socket path specified.\n\n",
        "-V" | "--protocol-version" => {
            "Error: --protocol-version argument given but no version specified.\n\n"
        }
        "--will-payload" => {
            "Error: --will-payload argument given but no will payload specified.\n\n"
        }
        "--will-qos" => "Error: --will-qos argument given but no will QoS specified.\n\n",
        "--will-topic" => "Error: --will-topic argument given but no will topic specified.\n\n",
        "-x" => "Error: -x argument given but no session expiry interval specified.\n\n",
        // sub and rr
        "-C" => "Error: -C argument given but no count specified.\n\n",
        "-e" => "Error: -e argument given but no response topic specified.\n\n",
        "-F" => "Error: -F argument given but no format specified.\n\n",
        "--random-filter" => "Error: --random-filter argument given but no chance specified.\n\n",
        "--retain-handling" => {
            "Error: --retain-handling argument given but no option specified.\n\n"
        }
        "-T" | "--filter-out" => "Error: -T argument given but no topic filter specified.\n\n",
        "-U" | "--unsubscribe" => {
            "Error: -U argument given but no unsubscribe topic specified.\n\n"
        }
        "-W" => "Error: -W argument given but no timeout specified.\n\n",
        _ => return None,
    })
}

/// The text after mosquitto's usage errors.
pub(crate) fn usage_suffix(tool: &str) -> String {
    format!("\nUse '{tool} --help' to see usage.\n")
}

/// Maps a clap parse error of a client command to mosquitto's words: the whole stderr
/// text, exit status 1. `None` for `--help` output and errors clap should print itself.
pub fn mosquitto_parse_error(e: &clap::Error, tool: &str, argv: &[OsString]) -> Option<String> {
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.split_whitespace().next().unwrap_or("").to_string(),
        _ => String::new(),
    };
    let head = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => return None,
        ErrorKind::UnknownArgument => format!("Error: Unknown option '{arg}'.\n"),
        ErrorKind::ValueValidation => {
            // Our value parsers return mosquitto's whole line as the error source.
            match std::error::Error::source(e) {
                Some(src) => src.to_string(),
                None => format!("Error: Invalid value for {arg}.\n\n"),
            }
        }
        ErrorKind::InvalidValue | ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            missing_value_text(&arg)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    format!("Error: {arg} argument given but no value specified.\n\n")
                })
        }
        ErrorKind::InvalidUtf8 => {
            // clap does not say which option; the one before the first bad value does.
            let opt = argv
                .iter()
                .position(|a| a.to_str().is_none())
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| argv[i].to_str())
                .unwrap_or("");
            let opt = match opt {
                "--topic" => "-t",
                o => o,
            };
            format!("Error: Malformed UTF-8 in {opt} argument.\n\n")
        }
        _ => {
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            format!("Error: {first}\n")
        }
    };
    Some(format!("{head}{}", usage_suffix(tool)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_integers() {
        assert_eq!(parse_c_integer("10"), Some(10));
        assert_eq!(parse_c_integer("-1"), Some(-1));
        assert_eq!(parse_c_integer("0x10"), Some(16));
        assert_eq!(parse_c_integer("010"), Some(8));
        assert_eq!(parse_c_integer("1x"), None);
        assert_eq!(parse_c_integer(""), None);
    }

    #[test]
    fn session_expiry_forms() {
        assert_eq!(parse_session_expiry("∞"), Ok(u32::MAX));
        assert_eq!(parse_session_expiry("-1"), Ok(u32::MAX));
        assert_eq!(parse_session_expiry("4294967295"), Ok(u32::MAX));
        assert_eq!(parse_session_expiry("30"), Ok(30));
        assert!(
            parse_session_expiry("-2")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            parse_session_expiry("x")
                .unwrap_err()
                .contains("not a number")
        );
    }

    #[test]
    fn tool_names() {
        let v = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            client_tool_name(&v(&["/usr/bin/mosquitto_pub", "-t", "a"])).as_deref(),
            Some("mosquitto_pub")
        );
        assert_eq!(
            client_tool_name(&v(&["mqtk", "pub", "-t"])).as_deref(),
            Some("mqtk pub")
        );
        assert_eq!(client_tool_name(&v(&["mqtk", "broker"])), None);
    }

    #[test]
    fn port_range() {
        assert_eq!(parse_port("1883"), Ok(1883));
        assert_eq!(
            parse_port("70000").unwrap_err(),
            "Error: Invalid port given: 70000\n"
        );
        assert!(parse_port("0").is_err());
    }
}
