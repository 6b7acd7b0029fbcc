//! Broker configuration: the resolved settings, and the mosquitto.conf subset that sets them.

use std::path::PathBuf;
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    pub certfile: PathBuf,
    pub keyfile: PathBuf,
    /// CA used to verify client certificates.
    pub cafile: Option<PathBuf>,
    /// Clients must present a certificate signed by `cafile`.
    pub require_certificate: bool,
}

/// Where log lines go (`log_dest`) and which kinds are written (`log_type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    pub dest: LogDest,
    /// mosquitto's log types: error, warning, notice, information, subscribe, unsubscribe, debug, all, none.
    pub types: Vec<String>,
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
    /// Largest packet accepted from clients, and advertised in v5 CONNACK; 0 = MQTT's limit.
    pub max_packet_size: u32,
    /// QoS 1/2 messages in flight to each client at once (mosquitto default 20).
    pub max_inflight_messages: u16,
    /// Messages queued per client beyond the in-flight ones (mosquitto default 1000).
    pub max_queued_messages: usize,
    /// Largest payload accepted; 0 = no limit.
    pub message_size_limit: u32,
    /// A client that opens a connection and sends no CONNECT is dropped after this.
    pub connect_timeout: Duration,
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listeners: Vec::new(),
            allow_anonymous: true,
            max_packet_size: 0,
            max_inflight_messages: 20,
            max_queued_messages: 1000,
            message_size_limit: 0,
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
