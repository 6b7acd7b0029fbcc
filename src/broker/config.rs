//! Broker configuration: the resolved settings, and the mosquitto.conf subset that sets them.
//! `keys` has the keys beyond listeners, limits, logging and security, the keys mqtk
//! ignores with a warning or refuses, and `include_dir`.

mod keys;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One listener, as a `listener` block of mosquitto.conf describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    /// 0 means "pick a free port" (tests); with `unix_socket` set the port is unused.
    pub port: u16,
    /// Bind address; `None` binds all addresses (IPv4 and IPv6, as mosquitto).
    pub bind_address: Option<String>,
    /// `socket_domain ipv4|ipv6` restricts an address-less listener to one family.
    pub socket_domain: Option<SocketDomain>,
    /// `listener 0 /path/sock` in mosquitto: a unix socket instead of TCP.
    pub unix_socket: Option<PathBuf>,
    /// `protocol websockets`.
    pub websockets: bool,
    /// TLS when `certfile` and `keyfile` are set.
    pub tls: Option<TlsConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketDomain {
    Ipv4,
    Ipv6,
}

/// A listener's TLS settings: exactly what the transport's server side takes, so the
/// listener hands them over as they are.
pub type TlsConfig = crate::transport::tls::ServerTls;

/// Where log lines go (`log_dest`) and which kinds are written (`log_type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    pub dest: LogDest,
    /// The enabled kinds, each one of `LOG_TYPES`, in that order and without repeats:
    /// `log_type all` is stored as the full list and `log_type none` as an empty one,
    /// so a kind is enabled exactly when it is listed (see `enabled`).
    pub types: Vec<String>,
}

/// mosquitto's log kinds, as `log_type` names them.
pub const LOG_TYPES: &[&str] = &[
    "error",
    "warning",
    "notice",
    "information",
    "subscribe",
    "unsubscribe",
    "debug",
    "websockets",
];

impl LogConfig {
    /// Whether lines of this kind (`"subscribe"`, `"debug"`, …) are written.
    pub fn enabled(&self, kind: &str) -> bool {
        self.dest != LogDest::None && self.types.iter().any(|t| t == kind || t == "all")
    }

    /// `-v`: every kind (mosquitto's `log_type all`, overriding the file).
    pub fn set_all(&mut self) {
        self.types = LOG_TYPES.iter().map(|t| t.to_string()).collect();
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogDest {
    Stdout,
    Stderr,
    None,
}

/// Everything the broker needs to run; `Default` is mosquitto's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub listeners: Vec<ListenerConfig>,
    /// mosquitto 2.x: false when listeners are configured in a file, true for the
    /// default local-only listener.
    pub allow_anonymous: bool,
    /// `password_file`: users and password hashes, read at start (`broker::auth`).
    pub password_file: Option<PathBuf>,
    /// `acl_file`: topic access rules, read at start (`broker::auth`).
    pub acl_file: Option<PathBuf>,
    /// Largest packet accepted from clients, and advertised in v5 CONNACK; 0 = MQTT's limit.
    pub max_packet_size: u32,
    /// QoS 1/2 messages in flight to each client at once (mosquitto default 20).
    pub max_inflight_messages: u16,
    /// Messages queued per client beyond the in-flight ones (mosquitto default 1000;
    /// 0 means no maximum, as in mosquitto: `shared::queue_limit`).
    pub max_queued_messages: usize,
    /// Largest payload accepted; 0 = no limit.
    pub message_size_limit: u32,
    /// Total bytes of payload queued per client (0 = no maximum), beside
    /// `max_queued_messages`; whichever is reached first bounds the queue.
    pub max_queued_bytes: usize,
    /// `max_keepalive`: the longest Keep Alive a client may ask for; 0 = no maximum
    /// (mosquitto 2.1's default). v5 clients are told to use it, 3.x clients refused.
    pub max_keepalive: u16,
    /// Connections each listener accepts at once; `None` = no limit (mosquitto's -1).
    pub max_connections: Option<usize>,
    /// `retain_available false`: retained messages are refused (v5 CONNACK says so).
    pub retain_available: bool,
    /// `allow_zero_length_clientid false`: an empty client id is refused even where
    /// the protocol lets the broker assign one.
    pub allow_zero_length_clientid: bool,
    /// Seconds after which a session that would never expire (3.x clean session 0, v5
    /// interval 0xFFFFFFFF) is removed while its client is away; `None` = never.
    pub persistent_client_expiration: Option<u32>,
    /// `connection_messages false`: no log lines for connections and disconnections.
    pub connection_messages: bool,
    /// A client that opens a connection and sends no CONNECT is dropped after this.
    pub connect_timeout: Duration,
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listeners: Vec::new(),
            allow_anonymous: true,
            password_file: None,
            acl_file: None,
            max_packet_size: 0,
            max_inflight_messages: 20,
            max_queued_messages: 1000,
            message_size_limit: 0,
            max_queued_bytes: 0,
            max_keepalive: 0,
            max_connections: None,
            retain_available: true,
            allow_zero_length_clientid: true,
            persistent_client_expiration: None,
            connection_messages: true,
            connect_timeout: Duration::from_secs(10),
            log: LogConfig {
                dest: LogDest::Stderr,
                types: vec![
                    "error".into(),
                    "warning".into(),
                    "notice".into(),
                    "information".into(),
                ],
            },
        }
    }
}

/// What a configuration file said, plus the notes mosquitto prints while reading one
/// (the deprecated `port`, `message_size_limit`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileConfig {
    /// The settings; `listeners` in file order, then the default listener (from `port`
    /// or listener options given before any `listener` line), as mosquitto orders them.
    pub config: Config,
    /// mosquitto 2.x "local only mode": the file defines no listener, so the broker
    /// listens on loopback only and anonymous clients are allowed.
    pub local_only: bool,
    pub notes: Vec<String>,
    /// Keys mosquitto knows that mqtk ignores (none of them bears on security): one
    /// line each, logged as warnings at start.
    pub warnings: Vec<String>,
}

/// A configuration file that cannot be used. Displays as mosquitto's two lines, e.g.
/// `Unknown configuration variable "foo".` then `Error found at /etc/mqtk.conf:3.`
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; `None` when the file itself could not be read.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}\nError found at {}:{line}.",
                self.message,
                self.file.display()
            ),
            None => f.write_str(&self.message),
        }
    }
}

/// The largest payload MQTT can carry (MQTT 5.0 §1.5.5: the remaining length is at most
/// 268,435,455 bytes); mosquitto's MQTT_MAX_PAYLOAD bound for `message_size_limit`.
const MQTT_MAX_PAYLOAD: u64 = 268_435_455;

impl Config {
    /// mosquitto 2.x without a listener in its configuration: `port` on 127.0.0.1 and
    /// ::1 only, anonymous clients allowed.
    pub fn local_only(port: u16) -> Config {
        let loopback = |addr: &str| ListenerConfig {
            port,
            bind_address: Some(addr.to_string()),
            socket_domain: None,
            unix_socket: None,
            websockets: false,
            tls: None,
        };
        Config {
            listeners: vec![loopback("127.0.0.1"), loopback("::1")],
            allow_anonymous: true,
            ..Config::default()
        }
    }

    /// The configuration `mqtk broker [-c FILE] [-p PORT] [-v]` runs with. Like
    /// mosquitto 2.x, `-p` only counts when the file defines no listener (local only
    /// mode), and `-v` turns every log kind on whatever the file says.
    pub fn resolve(file: Option<FileConfig>, port: Option<u16>, verbose: bool) -> Config {
        let mut config = match file {
            Some(f) if !f.local_only => f.config,
            Some(f) => Config {
                listeners: Config::local_only(port.unwrap_or(1883)).listeners,
                allow_anonymous: true,
                ..f.config
            },
            None => Config::local_only(port.unwrap_or(1883)),
        };
        if verbose {
            config.log.set_all();
        }
        config
    }

    /// Reads a mosquitto.conf-style file (see `parse`).
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            message: format!("Unable to open config file {}: {e}.", path.display()),
        })?;
        let text = String::from_utf8(text).map_err(|e| {
            // Name the line holding the first bad byte, as for any other malformed line.
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            ConfigError {
                file: path.to_path_buf(),
                line: Some(good.iter().filter(|&&b| b == b'\n').count() + 1),
                message: "Malformed UTF-8 in configuration.".into(),
            }
        })?;
        Config::parse(&text, path)
    }

    /// Parses the mosquitto.conf subset mqtk understands. `path` only names the file in
    /// errors. Any keyword outside the subset is an error, never silently ignored.
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
        let mut p = Parser {
            config: Config::default(),
            listeners: Vec::new(),
            default_listener: ListenerDraft::new(0),
            auth: ListenerAuth::default(),
            log_types: None,
            notes: Vec::new(),
            warnings: Vec::new(),
            per_listener_settings: false,
            includes: 0,
        };
        p.feed(text, path)?;
        p.finish(path)
    }
}

impl Parser {
    /// Reads the lines of one file (the main one, or one `include_dir` brings in).
    fn feed(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |message: String| ConfigError {
                file: path.to_path_buf(),
                line: Some(line),
                message,
            };
            // mosquitto only skips lines that *start* with '#'; "  # x" would be an
            // unknown keyword "#" there. Treating both as comments loses nothing.
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let mut words = content.split_ascii_whitespace();
            let keyword = words.next().unwrap_or_default();
            // The text after the keyword: string values (file names) are the whole rest
            // of the line, as in mosquitto, so they may contain spaces.
            let rest = content[keyword.len()..].trim();
            let args: Vec<&str> = words.take_while(|w| !w.starts_with('#')).collect();
            if keyword == "include_dir" {
                self.include_dir(rest).map_err(err)??;
                continue;
            }
            self.line(keyword, rest, &args, line).map_err(err)?;
        }
        Ok(())
    }
}

/// One listener while its block is being read; TLS files are checked at the end of the
/// block, when it is known whether both `certfile` and `keyfile` came.
#[derive(Debug)]
struct ListenerDraft {
    cfg: ListenerConfig,
    /// The `listener` line, for errors about the block as a whole.
    line: usize,
    /// The default listener only exists if some option was set for it.
    touched: bool,
    cafile: Option<PathBuf>,
    certfile: Option<PathBuf>,
    keyfile: Option<PathBuf>,
    require_certificate: bool,
    /// `tls_version tlsv1.3`: TLS 1.3 only.
    tls13_only: bool,
    /// `max_connections` in this block; `None` when not set (-1 is `Some(None)`).
    max_connections: Option<Option<usize>>,
    /// With `per_listener_settings true`, this block's security settings.
    auth: ListenerAuth,
}

/// `allow_anonymous`, `password_file`, `acl_file` as a file sets them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ListenerAuth {
    /// `None` until set: the 2.x default depends on whether listeners are defined.
    allow_anonymous: Option<bool>,
    password_file: Option<PathBuf>,
    acl_file: Option<PathBuf>,
}

impl ListenerDraft {
    fn new(line: usize) -> ListenerDraft {
        ListenerDraft {
            cfg: ListenerConfig {
                port: 0,
                bind_address: None,
                socket_domain: None,
                unix_socket: None,
                websockets: false,
                tls: None,
            },
            line,
            touched: false,
            cafile: None,
            certfile: None,
            keyfile: None,
            require_certificate: false,
            tls13_only: false,
            max_connections: None,
            auth: ListenerAuth::default(),
        }
    }

    fn finish(mut self) -> Result<ListenerConfig, String> {
        let what = match &self.cfg.unix_socket {
            Some(path) => format!("listener {}", path.display()),
            None => format!("listener on port {}", self.cfg.port),
        };
        match (self.certfile, self.keyfile) {
            (Some(certfile), Some(keyfile)) => {
                if self.require_certificate && self.cafile.is_none() {
                    return Err(format!(
                        "The {what} has require_certificate true but no cafile to check client certificates with."
                    ));
                }
                self.cfg.tls = Some(TlsConfig {
                    certfile,
                    keyfile,
                    cafile: self.cafile,
                    require_certificate: self.require_certificate,
                    tls13_only: self.tls13_only,
                });
            }
            // mosquitto quietly serves plain MQTT when only one of the two is given;
            // a listener the user meant to encrypt must not silently run in clear text.
            (Some(_), None) => {
                return Err(format!(
                    "The {what} has a certfile but no keyfile: both are needed for TLS."
                ));
            }
            (None, Some(_)) => {
                return Err(format!(
                    "The {what} has a keyfile but no certfile: both are needed for TLS."
                ));
            }
            (None, None) => {
                if self.cafile.is_some() || self.require_certificate {
                    return Err(format!(
                        "The {what} sets cafile or require_certificate but not certfile and keyfile, so it would not use TLS."
                    ));
                }
            }
        }
        Ok(self.cfg)
    }
}

struct Parser {
    config: Config,
    listeners: Vec<ListenerDraft>,
    /// mosquitto's "default listener": `port`, and listener options before any `listener`.
    default_listener: ListenerDraft,
    /// allow_anonymous, password_file, acl_file (for every listener, unless
    /// `per_listener_settings`).
    auth: ListenerAuth,
    /// `None` until the first `log_type` line, which replaces the defaults (mosquitto).
    log_types: Option<Vec<String>>,
    notes: Vec<String>,
    warnings: Vec<String>,
    /// `per_listener_settings true`: `allow_anonymous`, `password_file` and `acl_file`
    /// belong to the listener block they appear in (`ListenerDraft::auth`).
    per_listener_settings: bool,
    /// Files read through `include_dir`, to stop include loops.
    includes: usize,
}

/// The value part of one configuration line.
struct Value<'a> {
    keyword: &'a str,
    /// Everything after the keyword: file names take the whole rest, spaces included.
    rest: &'a str,
    /// The words after the keyword, up to a `#`.
    args: &'a [&'a str],
}

impl Value<'_> {
    /// The first word of the value, which most keywords require.
    fn first(&self) -> Result<&str, String> {
        self.args
            .first()
            .copied()
            .ok_or_else(|| format!("Empty {} value in configuration.", self.keyword))
    }
}

impl Parser {
    /// The listener that listener-scoped options apply to: the latest `listener` block.
    fn current(&mut self, line: usize) -> &mut ListenerDraft {
        if self.listeners.is_empty() {
            return self.current_default(line);
        }
        self.listeners.last_mut().expect("checked non-empty")
    }

    fn current_default(&mut self, line: usize) -> &mut ListenerDraft {
        if !self.default_listener.touched {
            self.default_listener.touched = true;
            self.default_listener.line = line;
        }
        &mut self.default_listener
    }

    /// One `keyword value…` line. Each group of keywords has its own function; this one
    /// only dispatches and checks that nothing follows the value.
    fn line(
        &mut self,
        keyword: &str,
        rest: &str,
        args: &[&str],
        line: usize,
    ) -> Result<(), String> {
        let v = Value {
            keyword,
            rest,
            args,
        };
        match keyword {
            "listener" | "port" | "protocol" | "socket_domain" => self.listener_key(&v, line)?,
            "cafile" | "certfile" | "keyfile" | "require_certificate" => self.tls_key(&v, line)?,
            "max_packet_size"
            | "max_inflight_messages"
            | "max_queued_messages"
            | "message_size_limit" => self.limit_key(&v)?,
            "log_dest" | "log_type" => self.log_key(&v)?,
            "allow_anonymous" | "password_file" | "acl_file" => self.auth_key(&v, line)?,
            _ => return self.other_key(&v, line),
        }
        // mosquitto ignores words after the value; a stray one usually means a typo
        // ("max_inflight_messages 10 20"), so say so. File names take the whole rest.
        let max_args = match keyword {
            "listener" => 2,
            "cafile" | "certfile" | "keyfile" | "password_file" | "acl_file" => usize::MAX,
            _ => 1,
        };
        if let Some(extra) = args.get(max_args) {
            return Err(format!("Unexpected value \"{extra}\" after {keyword}."));
        }
        Ok(())
    }

    /// `listener`, `port`, `protocol`, `socket_domain`: where and how a listener listens.
    fn listener_key(&mut self, v: &Value<'_>, line: usize) -> Result<(), String> {
        match v.keyword {
            "listener" => {
                let port_text = v.first()?;
                let port: u16 = port_text
                    .parse()
                    .map_err(|_| format!("Invalid port value ({port_text})."))?;
                let mut draft = ListenerDraft::new(line);
                draft.cfg.port = port;
                match (port, v.args.get(1)) {
                    // mosquitto 2.0: port 0 plus a path is a unix socket listener.
                    (0, Some(path)) => draft.cfg.unix_socket = Some(PathBuf::from(path)),
                    (0, None) => {
                        return Err(
                            "A listener with port 0 must provide a Unix socket path.".into()
                        );
                    }
                    (_, address) => draft.cfg.bind_address = address.map(|a| a.to_string()),
                }
                self.listeners.push(draft);
            }
            "port" => {
                self.notes.push(
                    "The 'port' option is now deprecated and will be removed in a future version. Please use 'listener' instead."
                        .into(),
                );
                let text = v.first()?;
                let port: u16 = match text.parse() {
                    Ok(p) if p > 0 => p,
                    _ => return Err(format!("Invalid port value ({text}).")),
                };
                self.current_default(line).cfg.port = port;
            }
            "protocol" => {
                let websockets = match v.first()? {
                    "mqtt" => false,
                    "websockets" => true,
                    other => return Err(format!("Invalid protocol value ({other}).")),
                };
                self.current(line).cfg.websockets = websockets;
            }
            _ => {
                let domain = match v.first()? {
                    "ipv4" => SocketDomain::Ipv4,
                    "ipv6" => SocketDomain::Ipv6,
                    other => {
                        return Err(format!(
                            "Invalid socket_domain value \"{other}\" in configuration."
                        ));
                    }
                };
                self.current(line).cfg.socket_domain = Some(domain);
            }
        }
        Ok(())
    }

    /// `cafile`, `certfile`, `keyfile`, `require_certificate`: the current listener's TLS,
    /// checked as a whole when its block ends (`ListenerDraft::finish`).
    fn tls_key(&mut self, v: &Value<'_>, line: usize) -> Result<(), String> {
        let keyword = v.keyword;
        if keyword == "require_certificate" {
            let value = parse_bool(keyword, v.args)?;
            self.current(line).require_certificate = value;
            return Ok(());
        }
        if v.rest.is_empty() {
            return Err(format!("Empty {keyword} value in configuration."));
        }
        let cur = self.current(line);
        let slot = match keyword {
            "cafile" => &mut cur.cafile,
            "certfile" => &mut cur.certfile,
            _ => &mut cur.keyfile,
        };
        if slot.is_some() {
            return Err(format!("Duplicate {keyword} value in configuration."));
        }
        *slot = Some(PathBuf::from(v.rest));
        Ok(())
    }

    /// `max_packet_size`, `max_inflight_messages`, `max_queued_messages`,
    /// `message_size_limit`: the broker-wide limits.
    fn limit_key(&mut self, v: &Value<'_>) -> Result<(), String> {
        let (keyword, args) = (v.keyword, v.args);
        match keyword {
            "max_packet_size" => {
                let n = parse_number(keyword, args, 20, u64::from(u32::MAX))?;
                self.config.max_packet_size = n as u32;
            }
            "max_inflight_messages" => {
                let text = v.first()?;
                let n: u64 = text
                    .parse()
                    .map_err(|_| format!("Invalid {keyword} value ({text})."))?;
                if n > u64::from(u16::MAX) {
                    return Err("max_inflight_messages must be <= 65535.".into());
                }
                self.config.max_inflight_messages = n as u16;
            }
            "max_queued_messages" => {
                let n = parse_number(keyword, args, 0, usize::MAX as u64)?;
                self.config.max_queued_messages = n as usize;
            }
            _ => {
                self.notes.push(
                    "Note: It is recommended to replace `message_size_limit` with `max_packet_size`."
                        .into(),
                );
                let n = parse_number(keyword, args, 0, MQTT_MAX_PAYLOAD)?;
                self.config.message_size_limit = n as u32;
            }
        }
        Ok(())
    }

    /// `log_dest`, `log_type`.
    fn log_key(&mut self, v: &Value<'_>) -> Result<(), String> {
        if v.keyword == "log_dest" {
            self.config.log.dest = match v.first()? {
                "stdout" => LogDest::Stdout,
                "stderr" => LogDest::Stderr,
                "none" => LogDest::None,
                other @ ("file" | "syslog" | "topic" | "dlt") => {
                    return Err(format!(
                        "log_dest {other} is not supported by mqtk; use stdout, stderr or none."
                    ));
                }
                other => return Err(format!("Invalid log_dest value ({other}).")),
            };
            return Ok(());
        }
        let kind = v.first()?;
        let types = self.log_types.get_or_insert_with(Vec::new);
        match kind {
            "none" => types.clear(),
            "all" => *types = LOG_TYPES.iter().map(|t| t.to_string()).collect(),
            k if LOG_TYPES.contains(&k) => {
                if !types.iter().any(|t| t == k) {
                    types.push(k.to_string());
                }
            }
            other => return Err(format!("Invalid log_type value ({other}).")),
        }
        Ok(())
    }

    /// `allow_anonymous`, `password_file`, `acl_file`. The files are read (and checked)
    /// when the broker starts, as mosquitto does.
    fn auth_key(&mut self, v: &Value<'_>, line: usize) -> Result<(), String> {
        let keyword = v.keyword;
        let per_listener = self.per_listener_settings;
        let auth = if per_listener {
            &mut self.current(line).auth
        } else {
            &mut self.auth
        };
        if keyword == "allow_anonymous" {
            auth.allow_anonymous = Some(parse_bool(keyword, v.args)?);
            return Ok(());
        }
        if v.rest.is_empty() {
            return Err(format!("Empty {keyword} value in configuration."));
        }
        let slot = match keyword {
            "password_file" => &mut auth.password_file,
            _ => &mut auth.acl_file,
        };
        if slot.is_some() {
            return Err(format!("Duplicate {keyword} value in configuration."));
        }
        *slot = Some(PathBuf::from(v.rest));
        Ok(())
    }

    fn finish(mut self, path: &Path) -> Result<FileConfig, ConfigError> {
        let err = |line: usize, message: String| ConfigError {
            file: path.to_path_buf(),
            line: Some(line),
            message,
        };
        let mut drafts = std::mem::take(&mut self.listeners);
        if self.default_listener.touched {
            if self.default_listener.cfg.port == 0 {
                self.default_listener.cfg.port = 1883;
            }
            drafts.push(self.default_listener);
        }
        if self.per_listener_settings {
            self.auth = keys::one_auth(&drafts).map_err(|(line, m)| err(line, m))?;
        }
        self.config.max_connections =
            keys::one_max_connections(&drafts).map_err(|(line, m)| err(line, m))?;
        for draft in drafts {
            let line = draft.line;
            let cfg = draft.finish().map_err(|m| err(line, m))?;
            self.config.listeners.push(cfg);
        }
        let local_only = self.config.listeners.is_empty();
        let auth = self.auth;
        self.config.password_file = auth.password_file;
        self.config.acl_file = auth.acl_file;
        // mosquitto 2.x: anonymous clients are refused once listeners are configured,
        // unless the file allows them; local only mode always allows them.
        self.config.allow_anonymous = local_only || auth.allow_anonymous.unwrap_or(false);
        if let Some(types) = self.log_types {
            // Keep LOG_TYPES order, so equal settings compare equal.
            self.config.log.types = LOG_TYPES
                .iter()
                .filter(|t| types.iter().any(|k| k == *t))
                .map(|t| t.to_string())
                .collect();
        }
        Ok(FileConfig {
            config: self.config,
            local_only,
            notes: self.notes,
            warnings: self.warnings,
        })
    }
}

fn parse_bool(keyword: &str, args: &[&str]) -> Result<bool, String> {
    match args.first() {
        Some(&"true") => Ok(true),
        Some(&"false") => Ok(false),
        Some(other) => Err(format!("Invalid {keyword} value ({other}).")),
        None => Err(format!("Empty {keyword} value in configuration.")),
    }
}

/// A decimal number in `min..=max`. mosquitto reads numbers with atoi, so "abc" is 0
/// there; here it is an error naming the value.
fn parse_number(keyword: &str, args: &[&str], min: u64, max: u64) -> Result<u64, String> {
    let text = args
        .first()
        .ok_or_else(|| format!("Empty {keyword} value in configuration."))?;
    match text.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(format!("Invalid {keyword} value ({text}).")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileConfig, ConfigError> {
        Config::parse(text, Path::new("/etc/mqtk.conf"))
    }

    fn parse_ok(text: &str) -> FileConfig {
        parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    /// The error text, which must name the file and the line.
    fn parse_err(text: &str, line: usize) -> String {
        let e = parse(text).expect_err(text);
        assert_eq!(e.line, Some(line), "{e}");
        let shown = e.to_string();
        assert!(
            shown.ends_with(&format!("\nError found at /etc/mqtk.conf:{line}.")),
            "{shown}"
        );
        e.message
    }

    fn plain(port: u16) -> ListenerConfig {
        ListenerConfig {
            port,
            bind_address: None,
            socket_domain: None,
            unix_socket: None,
            websockets: false,
            tls: None,
        }
    }

    #[test]
    fn empty_file_is_local_only_with_defaults() {
        let f = parse_ok("# nothing\n\n   \n");
        assert!(f.local_only);
        assert_eq!(f.config, Config::default());
        assert!(f.config.allow_anonymous);
    }

    #[test]
    fn listener_blocks_collect_their_own_options() {
        let f = parse_ok(
            "listener 1883\n\
             socket_domain ipv4\n\
             listener 8080 127.0.0.1\n\
             protocol websockets\n\
             listener 0 /run/mqtk.sock\n\
             listener 9001 ::1\n\
             protocol mqtt\n\
             socket_domain ipv6\n",
        );
        assert!(!f.local_only);
        let l = &f.config.listeners;
        assert_eq!(l.len(), 4);
        assert_eq!(
            l[0],
            ListenerConfig {
                socket_domain: Some(SocketDomain::Ipv4),
                ..plain(1883)
            }
        );
        assert_eq!(
            l[1],
            ListenerConfig {
                bind_address: Some("127.0.0.1".into()),
                websockets: true,
                ..plain(8080)
            }
        );
        assert_eq!(
            l[2],
            ListenerConfig {
                unix_socket: Some("/run/mqtk.sock".into()),
                ..plain(0)
            }
        );
        assert_eq!(
            l[3],
            ListenerConfig {
                bind_address: Some("::1".into()),
                socket_domain: Some(SocketDomain::Ipv6),
                ..plain(9001)
            }
        );
    }

    #[test]
    fn allow_anonymous_defaults_false_with_listeners() {
        assert!(!parse_ok("listener 1883\n").config.allow_anonymous);
        assert!(
            parse_ok("listener 1883\nallow_anonymous true\n")
                .config
                .allow_anonymous
        );
        assert!(
            !parse_ok("allow_anonymous true\nallow_anonymous false\nlistener 1\n")
                .config
                .allow_anonymous
        );
        // Local only mode allows anonymous clients whatever the file says (mosquitto 2.x).
        let f = parse_ok("allow_anonymous false\n");
        assert!(f.local_only && f.config.allow_anonymous);
    }

    #[test]
    fn deprecated_port_makes_the_default_listener_last() {
        let f = parse_ok("port 1884\nlistener 1885\n");
        assert_eq!(f.config.listeners, vec![plain(1885), plain(1884)]);
        assert!(!f.config.allow_anonymous);
        assert!(f.notes[0].contains("'port' option is now deprecated"));
        // Listener options before any `listener` line create the default listener, on 1883.
        let f = parse_ok("socket_domain ipv4\n");
        assert_eq!(
            f.config.listeners,
            vec![ListenerConfig {
                socket_domain: Some(SocketDomain::Ipv4),
                ..plain(1883)
            }]
        );
    }

    #[test]
    fn tls_options_apply_to_the_latest_listener() {
        let f = parse_ok(
            "listener 1883\n\
             listener 8883\n\
             cafile /etc/ca dir/ca.pem\n\
             certfile /etc/server.pem\n\
             keyfile /etc/server.key   \n\
             require_certificate true\n\
             listener 8884\n\
             certfile c.pem\n\
             keyfile k.pem\n\
             require_certificate false\n",
        );
        let l = &f.config.listeners;
        assert_eq!(l[0].tls, None);
        assert_eq!(
            l[1].tls,
            Some(TlsConfig {
                certfile: "/etc/server.pem".into(),
                keyfile: "/etc/server.key".into(),
                cafile: Some("/etc/ca dir/ca.pem".into()),
                require_certificate: true,
                tls13_only: false,
            })
        );
        assert_eq!(
            l[2].tls,
            Some(TlsConfig {
                certfile: "c.pem".into(),
                keyfile: "k.pem".into(),
                cafile: None,
                require_certificate: false,
                tls13_only: false,
            })
        );
    }

    #[test]
    fn limits() {
        let f = parse_ok(
            "max_packet_size 1000\n\
             max_inflight_messages 5\n\
             max_queued_messages 0\n\
             message_size_limit 268435455\n",
        );
        assert_eq!(f.config.max_packet_size, 1000);
        assert_eq!(f.config.max_inflight_messages, 5);
        assert_eq!(f.config.max_queued_messages, 0);
        assert_eq!(f.config.message_size_limit, 268_435_455);
        assert!(f.notes[0].contains("message_size_limit"));
        let d = parse_ok("").config;
        assert_eq!(
            (
                d.max_packet_size,
                d.max_inflight_messages,
                d.max_queued_messages
            ),
            (0, 20, 1000)
        );
    }

    #[test]
    fn log_types_replace_the_defaults_and_accumulate() {
        let f = parse_ok("log_type subscribe\nlog_type error\nlog_type subscribe\n");
        assert_eq!(f.config.log.types, ["error", "subscribe"]);
        assert!(f.config.log.enabled("subscribe"));
        assert!(!f.config.log.enabled("information"));
        let f = parse_ok("log_type all\n");
        assert_eq!(f.config.log.types, LOG_TYPES);
        let f = parse_ok("log_type all\nlog_type none\nlog_type debug\n");
        assert_eq!(f.config.log.types, ["debug"]);
        let f = parse_ok(
            "log_type websockets\nlog_type unsubscribe\nlog_type notice\nlog_type warning\nlog_type information\n",
        );
        assert_eq!(
            f.config.log.types,
            [
                "warning",
                "notice",
                "information",
                "unsubscribe",
                "websockets"
            ]
        );
        assert_eq!(
            parse_ok("").config.log.types,
            ["error", "warning", "notice", "information"]
        );
    }

    #[test]
    fn log_dest() {
        assert_eq!(
            parse_ok("log_dest stdout\n").config.log.dest,
            LogDest::Stdout
        );
        assert_eq!(
            parse_ok("log_dest stderr\n").config.log.dest,
            LogDest::Stderr
        );
        let f = parse_ok("log_dest none\n");
        assert_eq!(f.config.log.dest, LogDest::None);
        assert!(!f.config.log.enabled("error"));
        assert!(parse_err("\nlog_dest file /var/log/x\n", 2).contains("not supported"));
        assert!(parse_err("log_dest syslog\n", 1).contains("log_dest syslog is not supported"));
        assert_eq!(
            parse_err("log_dest bogus\n", 1),
            "Invalid log_dest value (bogus)."
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("# c\n\nfoo bar\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unknown configuration variable \"foo\".\nError found at /etc/mqtk.conf:3."
        );
        assert!(
            parse_err("include_dir /nonexistent/mqtk.d\n", 1)
                .starts_with("Unable to open include_dir '/nonexistent/mqtk.d': ")
        );
        assert_eq!(
            parse_err("listener\n", 1),
            "Empty listener value in configuration."
        );
        assert_eq!(parse_err("listener abc\n", 1), "Invalid port value (abc).");
        assert_eq!(
            parse_err("listener 70000\n", 1),
            "Invalid port value (70000)."
        );
        assert_eq!(
            parse_err("listener 0\n", 1),
            "A listener with port 0 must provide a Unix socket path."
        );
        assert_eq!(parse_err("port 0\n", 1), "Invalid port value (0).");
        assert_eq!(
            parse_err("listener 1\nprotocol\n", 2),
            "Empty protocol value in configuration."
        );
        assert_eq!(
            parse_err("listener 1\nprotocol foo\n", 2),
            "Invalid protocol value (foo)."
        );
        assert_eq!(
            parse_err("listener 1\nsocket_domain ipv5\n", 2),
            "Invalid socket_domain value \"ipv5\" in configuration."
        );
        assert_eq!(
            parse_err("listener 1\nallow_anonymous maybe\n", 2),
            "Invalid allow_anonymous value (maybe)."
        );
        assert_eq!(
            parse_err("allow_anonymous\n", 1),
            "Empty allow_anonymous value in configuration."
        );
        assert_eq!(
            parse_err("listener 1\nrequire_certificate TRUE\n", 2),
            "Invalid require_certificate value (TRUE)."
        );
        assert_eq!(
            parse_err("max_inflight_messages abc\n", 1),
            "Invalid max_inflight_messages value (abc)."
        );
        assert_eq!(
            parse_err("max_inflight_messages 70000\n", 1),
            "max_inflight_messages must be <= 65535."
        );
        assert_eq!(
            parse_err("max_queued_messages -1\n", 1),
            "Invalid max_queued_messages value (-1)."
        );
        assert_eq!(
            parse_err("max_packet_size 10\n", 1),
            "Invalid max_packet_size value (10)."
        );
        assert_eq!(
            parse_err("message_size_limit 268435456\n", 1),
            "Invalid message_size_limit value (268435456)."
        );
        assert_eq!(
            parse_err("log_type\n", 1),
            "Empty log_type value in configuration."
        );
        assert_eq!(
            parse_err("log_type chatty\n", 1),
            "Invalid log_type value (chatty)."
        );
        assert_eq!(
            parse_err("listener 1\ncafile\n", 2),
            "Empty cafile value in configuration."
        );
        assert_eq!(
            parse_err("listener 1\ncafile a\ncafile b\n", 3),
            "Duplicate cafile value in configuration."
        );
        assert_eq!(
            parse_err("listener 1\nmax_inflight_messages 10 20\n", 2),
            "Unexpected value \"20\" after max_inflight_messages."
        );
    }

    #[test]
    fn trailing_comments_and_whitespace_are_ignored() {
        let f = parse_ok(
            "listener 1883   # plain\r\nallow_anonymous true\t# yes\n  max_inflight_messages 3 \n",
        );
        assert_eq!(f.config.listeners, vec![plain(1883)]);
        assert!(f.config.allow_anonymous);
        assert_eq!(f.config.max_inflight_messages, 3);
    }

    #[test]
    fn auth_files_take_the_rest_of_the_line() {
        let f = parse_ok("listener 1\npassword_file /etc/my pw\nacl_file /etc/acl\n");
        assert_eq!(f.config.password_file, Some(PathBuf::from("/etc/my pw")));
        assert_eq!(f.config.acl_file, Some(PathBuf::from("/etc/acl")));
        assert_eq!(
            parse_err("password_file a\npassword_file b\n", 2),
            "Duplicate password_file value in configuration."
        );
        assert_eq!(
            parse_err("acl_file\n", 1),
            "Empty acl_file value in configuration."
        );
    }

    #[test]
    fn incomplete_tls_is_an_error_on_the_listener_line() {
        assert!(
            parse_err("listener 1\nlistener 8883\ncertfile c.pem\n", 2)
                .contains("certfile but no keyfile")
        );
        assert!(parse_err("listener 8883\nkeyfile k.pem\n", 1).contains("keyfile but no certfile"));
        assert!(parse_err("listener 8883\ncafile ca.pem\n", 1).contains("would not use TLS"));
        assert!(
            parse_err(
                "listener 8883\ncertfile c\nkeyfile k\nrequire_certificate true\n",
                1
            )
            .contains("no cafile")
        );
        // The default listener's errors point at the line that created it.
        assert!(parse_err("\ncertfile c.pem\n", 2).contains("listener on port 1883"));
    }

    #[test]
    fn general_keys_are_honoured() {
        let c = parse_ok(
            "max_keepalive 60\nmax_queued_bytes 1000\nretain_available false\n\
             allow_zero_length_clientid false\npersistent_client_expiration 2h\n\
             connection_messages false\nlistener 1883\nmax_connections 10\n\
             certfile c\nkeyfile k\ntls_version tlsv1.3\n",
        )
        .config;
        assert_eq!(c.max_keepalive, 60);
        assert_eq!(c.max_queued_bytes, 1000);
        assert!(!c.retain_available && !c.allow_zero_length_clientid);
        assert!(!c.connection_messages);
        assert_eq!(c.persistent_client_expiration, Some(7200));
        assert_eq!(c.max_connections, Some(10));
        assert!(c.listeners[0].tls.as_ref().unwrap().tls13_only);
        assert_eq!(
            parse_ok("max_connections -1\n").config.max_connections,
            None
        );
        let d = parse_ok("").config;
        assert_eq!((d.max_keepalive, d.max_connections), (0, None));
        assert!(d.retain_available && d.allow_zero_length_clientid && d.connection_messages);
        // bind_address: the default listener's address.
        let f = parse_ok("bind_address 127.0.0.1\nport 1884\n");
        assert_eq!(
            f.config.listeners[0].bind_address.as_deref(),
            Some("127.0.0.1")
        );
        for (text, words) in [
            (
                "max_keepalive 70000\n",
                "Invalid max_keepalive value (70000).",
            ),
            (
                "persistent_client_expiration 3x\n",
                "Invalid persistent_client_expiration value (3x).",
            ),
            (
                "listener 1\ntls_version tlsv1.0\n",
                "Invalid tls_version value (tlsv1.0).",
            ),
            (
                "retain_available maybe\n",
                "Invalid retain_available value (maybe).",
            ),
        ] {
            let line = text.lines().count();
            assert_eq!(parse_err(text, line), words);
        }
        assert!(
            parse_err(
                "listener 1\nmax_connections 1\nlistener 2\nmax_connections 2\n",
                3
            )
            .contains("one max_connections")
        );
    }

    #[test]
    fn harmless_unknowns_warn_and_security_keys_refuse() {
        let f = parse_ok(
            "persistence true\nautosave_interval 10\npid_file /run/m.pid\nsys_interval 5\n",
        );
        assert_eq!(
            f.warnings,
            [
                "Warning: persistence is not supported by mqtk and is ignored.",
                "Warning: autosave_interval is not supported by mqtk and is ignored.",
                "Warning: pid_file is not supported by mqtk and is ignored.",
                "Warning: sys_interval is not supported by mqtk and is ignored.",
            ]
        );
        assert!(
            parse_ok("use_identity_as_username false\n")
                .warnings
                .is_empty()
        );
        for key in [
            "psk_file /x",
            "clientid_prefixes secret-",
            "plugin /x.so",
            "auth_opt_db x",
            "use_identity_as_username true",
            "crlfile /x",
        ] {
            let e = parse_err(&format!("\n{key}\n"), 2);
            assert!(
                e.ends_with("is not supported by mqtk, and ignoring it would weaken security."),
                "{e}"
            );
        }
        assert_eq!(
            parse_err("connection br\n", 1),
            "Unknown configuration variable \"connection\"."
        );
    }

    #[test]
    fn per_listener_settings_must_agree_across_listeners() {
        let f = parse_ok(
            "per_listener_settings true\nlistener 1\nallow_anonymous true\nacl_file /a\n\
             listener 2\nallow_anonymous true\nacl_file /a\n",
        );
        assert!(f.config.allow_anonymous);
        assert_eq!(f.config.acl_file, Some(PathBuf::from("/a")));
        let f = parse_ok("per_listener_settings true\nlistener 1\nlistener 2\n");
        assert!(!f.config.allow_anonymous);
        assert!(
            parse_err(
                "per_listener_settings true\nlistener 1\nallow_anonymous true\nlistener 2\n",
                4
            )
            .contains("different security settings")
        );
        assert!(
            parse_err("listener 1\nper_listener_settings true\n", 2).contains("must come before")
        );
    }

    #[test]
    fn include_dir_reads_conf_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.conf"), "max_inflight_messages 7\n").unwrap();
        std::fs::write(
            dir.path().join("a.conf"),
            "max_inflight_messages 3\nmax_keepalive 30\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("c.txt"), "bogus\n").unwrap();
        let f = parse_ok(&format!("include_dir {}\n", dir.path().display()));
        assert_eq!(f.config.max_inflight_messages, 7);
        assert_eq!(f.config.max_keepalive, 30);
        std::fs::write(dir.path().join("d.conf"), "\nbogus 1\n").unwrap();
        let e = parse(&format!("include_dir {}\n", dir.path().display())).unwrap_err();
        assert_eq!(e.file, dir.path().join("d.conf"));
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn resolve_applies_mosquitto_command_line_rules() {
        // No file: local only on 1883 or -p.
        let c = Config::resolve(None, None, false);
        assert_eq!(c, Config::local_only(1883));
        assert_eq!(
            c.listeners
                .iter()
                .map(|l| l.bind_address.as_deref().unwrap())
                .collect::<Vec<_>>(),
            ["127.0.0.1", "::1"]
        );
        assert!(c.allow_anonymous);
        assert_eq!(
            Config::resolve(None, Some(1999), false).listeners[0].port,
            1999
        );
        // A file without listeners: local only on -p, its other settings kept.
        let f = parse_ok("max_inflight_messages 7\n");
        let c = Config::resolve(Some(f), Some(1999), false);
        assert_eq!(c.listeners[1].port, 1999);
        assert_eq!(c.max_inflight_messages, 7);
        // A file with listeners: -p is ignored; -v turns all logging on.
        let f = parse_ok("listener 1884\nlog_type error\n");
        let c = Config::resolve(Some(f), Some(1999), true);
        assert_eq!(c.listeners, vec![plain(1884)]);
        assert_eq!(c.log.types, LOG_TYPES);
    }

    #[test]
    fn load_names_a_missing_file() {
        let e = Config::load(Path::new("/nonexistent/mqtk.conf")).unwrap_err();
        assert_eq!(e.line, None);
        assert!(
            e.to_string()
                .starts_with("Unable to open config file /nonexistent/mqtk.conf: "),
            "{e}"
        );
    }
}
