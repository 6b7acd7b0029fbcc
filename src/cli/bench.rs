//! `mqtk bench` arguments: the load modes (`pub`, `sub`, `conn`, the default pub+sub)
//! share `LoadArgs`, which flattens the shared `ConnectArgs` so every transport and
//! protocol version works in bench too. Where emqtt-bench's letters clash with
//! mosquitto's (`-c` clients, `-I` interval, `-L` limit), bench's win inside
//! `mqtk bench` and the mosquitto flags keep their long names (`--disable-clean-session`,
//! `--id-prefix`, `--url`). Values are checked here; checks across flags live in
//! `crate::cmd::bench::resolve`.

use std::path::PathBuf;

use crate::cli::connect::{ConnectArgs, parse_qos};

/// `mqtk bench [MODE] FLAGS`: with no mode, publishers and subscribers run together.
#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub mode: Option<BenchMode>,
    #[command(flatten)]
    pub load: LoadArgs,
}

// Each mode's help lists exactly the flags it takes (the `help` goldens keep it so):
// the flags of `NOT_IN_*` are hidden there, and refused when given
// (`crate::cmd::bench::resolve`).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum BenchMode {
    /// Publishers only: sent/s, and for QoS 1/2 acked/s with publish-to-ack latency.
    #[command(disable_help_flag = true, disable_version_flag = true,
              mut_args(|a| hide_unless(a, NOT_IN_PUB)),
              mut_arg("property", |a| a.help(property_help("connect, publish, disconnect, will"))),
              mut_arg("topic", |a| a.help(topic_help("Topic to publish to"))))]
    Pub(Box<LoadArgs>),
    /// Subscribers only: received/s and end-to-end latency from the payload's timestamp.
    #[command(disable_help_flag = true, disable_version_flag = true,
              mut_args(|a| hide_unless(a, NOT_IN_SUB)),
              mut_arg("property", |a| a.help(property_help("connect, subscribe, disconnect, will"))),
              mut_arg("clients", |a| a.help("Number of subscribers")),
              mut_arg("topic", |a| a.help(topic_help("Topic filter to subscribe to"))),
              mut_arg("qos", |a| a.help(format!("Quality of service of the subscriptions [default: {DEFAULT_QOS}]"))),
              mut_arg("limit", |a| a.help("Stop once the subscribers have received N messages in all")),
              mut_arg("duration", |a| a.help("Stop after this many seconds. Without -L or --duration, runs until interrupted (Ctrl-C or SIGTERM), then reports")),
              mut_arg("warmup", |a| a.help(format!("Leave the first SECONDS out of latency histograms and rates; must be shorter than --duration [default: {DEFAULT_WARMUP_S}]"))))]
    Sub(Box<LoadArgs>),
    /// Open N connections at a rate and hold them: connect latency, rate, errors.
    #[command(disable_help_flag = true, disable_version_flag = true,
              mut_args(|a| hide_unless(a, NOT_IN_CONN)),
              mut_arg("property", |a| a.help(property_help("connect, disconnect, will"))),
              mut_arg("url", |a| a.help("User, password, host and port as a URL: mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://… (the topic is not used)")),
              mut_arg("clients", |a| a.help("Number of connections")),
              mut_arg("duration", |a| a.help("Hold the connections for this many seconds once they are made. Without --duration, holds them until interrupted (Ctrl-C or SIGTERM), then reports")))]
    Conn(Box<LoadArgs>),
    /// Combine JSON reports from several runs (machines, processes) into one, exactly.
    Merge(MergeArgs),
}

/// Load flags (clap ids) a mode does not take: hidden from its help, refused if given.
pub const NOT_IN_PUB: &[&str] = &["subscribers"];
pub const NOT_IN_SUB: &[&str] = &[
    "subscribers",
    "size",
    "retain",
    "rate",
    "interval",
    "drain",
    "max_inflight",
];
pub const NOT_IN_CONN: &[&str] = &[
    "subscribers",
    "topic",
    "qos",
    "size",
    "retain",
    "rate",
    "interval",
    "limit",
    "warmup",
    "drain",
    "max_inflight",
];

/// Hides `a` when it is one of `not_in` (and leaves hidden what already is).
fn hide_unless(a: clap::Arg, not_in: &[&str]) -> clap::Arg {
    if not_in.contains(&a.get_id().as_str()) {
        a.hide(true)
    } else {
        a
    }
}

/// `-D`'s help, naming the property commands the mode sends.
fn property_help(commands: &str) -> String {
    format!(
        "MQTT v5 property: COMMAND NAME VALUE (or COMMAND user-property KEY VALUE), e.g. \
         `-D connect session-expiry-interval 60`. Commands: {commands}. Implies -V 5"
    )
}

/// The defaults the code uses when a flag is not given; the help texts print these.
pub const DEFAULT_TOPIC: &str = "mqtk/bench/%i";
pub const DEFAULT_QOS: u8 = 0;
pub const DEFAULT_SIZE: u32 = 256;
pub const DEFAULT_WARMUP_S: f64 = 0.0;
pub const DEFAULT_DRAIN_S: f64 = 5.0;
/// QoS 1/2 messages in flight per publisher without `-M` (libmosquitto's 20).
pub const DEFAULT_INFLIGHT: u16 = 20;

const PLACEHOLDERS: &str = "Placeholders: %i client index, %c client id, %u username, \
    %rand_N a random number in 0..N (chosen once per client)";
/// `-t`'s help: what the topic is for in the mode, then what all modes share.
fn topic_help(what: &str) -> String {
    format!("{what}. {PLACEHOLDERS}. Without -t, the --url topic, else {DEFAULT_TOPIC}")
}

/// The flags of every load mode.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    mut_arg("disable_clean_session", |a| a.short(None)),
    mut_arg("id_prefix", |a| a.short(None)),
    mut_arg("url", |a| a.short(None).help("User, password, host, port and topic as a URL: mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://…; its topic is used when -t is not given")),
    mut_arg("max_inflight", |a| a.long("inflight").help(format!("QoS 1/2 messages in flight per publisher, capped by the broker's Receive Maximum in MQTT v5 [default: {DEFAULT_INFLIGHT}]"))),
    mut_arg("session_expiry", |a| a.help("Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does not expire. Defaults to -1 with --disable-clean-session, else 0. Implies -V 5")),
    mut_arg("property", |a| a.help(property_help("connect, publish (publishers), subscribe (subscribers), disconnect, will"))),
    mut_arg("id", |a| a.help("Client id template (placeholders as in -t); without %i the client index is appended. Defaults to mqtk-bench-PID-%i.")),
    mut_arg("id_prefix", |a| a.help("Client ids are ID_PREFIX followed by the client index.")),
    mut_arg("quiet", |a| a.help("Hide the progress display (it is also hidden when stderr is not a terminal) and the line a first Ctrl-C or SIGTERM prints")),
    // bench has no options file and no packet log; refused when given.
    mut_arg("options_file", |a| a.hide(true)),
    mut_arg("debug", |a| a.hide(true))
)]
pub struct LoadArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,

    /// Number of clients (publishers, subscribers or connections; in the default mode,
    /// this many of each).
    #[arg(short = 'c', long = "clients", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000), help_heading = "Load")]
    pub clients: u32,
    /// Default mode: number of subscribers, when it should differ from -c.
    #[arg(long = "subscribers", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000_000), help_heading = "Load")]
    pub subscribers: Option<u32>,
    /// Index of the first client (%i); give each process of a multi-process run its own
    /// range so that client ids and publisher ids stay unique.
    #[arg(
        short = 'n',
        long = "start-number",
        value_name = "N",
        default_value_t = 0,
        help_heading = "Load"
    )]
    pub start_number: u32,
    /// New connections per second while ramping up (0: as fast as possible).
    #[arg(long = "connect-rate", value_name = "PER_SECOND", default_value_t = 0.0,
          value_parser = parse_non_negative, allow_negative_numbers = true, help_heading = "Load")]
    pub connect_rate: f64,
    /// Give up on a connection (TCP, TLS, CONNACK) after this many seconds.
    #[arg(long = "connect-timeout", value_name = "SECONDS", default_value_t = 10.0,
          value_parser = parse_positive, allow_negative_numbers = true, help_heading = "Load")]
    pub connect_timeout: f64,
    /// Spread connections over these local source addresses, round-robin (bind before
    /// connect): each address has its own ephemeral port range.
    #[arg(
        long = "ifaddr",
        value_name = "ADDR,ADDR,…",
        value_delimiter = ',',
        help_heading = "Load"
    )]
    pub ifaddr: Vec<std::net::IpAddr>,

    // The help of the flags below names the defaults (`DEFAULT_*`) itself: they are
    // options, so that a mode can tell (and refuse) a flag it does not take.
    #[arg(short = 't', long = "topic", value_name = "TOPIC", help_heading = "Messages",
          help = topic_help("Topic to publish to; subscriber k subscribes to publisher k's \
                             topic (k modulo the publishers)"))]
    pub topic: Option<String>,
    #[arg(short = 'q', long = "qos", value_name = "QOS", value_parser = parse_qos,
          allow_negative_numbers = true, help_heading = "Messages",
          help = format!("Quality of service of publishes and subscriptions [default: {DEFAULT_QOS}]"))]
    pub qos: Option<u8>,
    #[arg(short = 's', long = "size", value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(16..=268_435_000), help_heading = "Messages",
          help = format!("Payload size in bytes, at least 16 (publisher id, sequence and send \
                          timestamp), padded with zeros [default: {DEFAULT_SIZE}]"))]
    pub size: Option<u32>,
    /// Publish retained messages.
    #[arg(short = 'r', long = "retain", help_heading = "Messages")]
    pub retain: bool,
    /// Total publish rate over all publishers, in messages per second (a fixed schedule:
    /// latency counts from when each message should have been sent).
    #[arg(long = "rate", value_name = "PER_SECOND", value_parser = parse_positive, allow_negative_numbers = true,
          conflicts_with = "interval", help_heading = "Messages")]
    pub rate: Option<f64>,
    /// Interval between one publisher's messages, in milliseconds (fractions allowed).
    /// Without --rate or -I, publishers send as fast as the connection takes them.
    #[arg(short = 'I', long = "interval", value_name = "MS", value_parser = parse_positive, allow_negative_numbers = true,
          help_heading = "Messages")]
    pub interval: Option<f64>,
    /// Total number of messages over all publishers.
    #[arg(short = 'L', long = "limit", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..), help_heading = "Messages")]
    pub limit: Option<u64>,
    /// Stop publishing after this many seconds. Without -L or --duration, runs until
    /// interrupted (Ctrl-C or SIGTERM), then reports.
    #[arg(long = "duration", value_name = "SECONDS", value_parser = parse_positive, allow_negative_numbers = true,
          help_heading = "Messages")]
    pub duration: Option<f64>,
    #[arg(long = "warmup", value_name = "SECONDS",
          value_parser = parse_non_negative, allow_negative_numbers = true, help_heading = "Messages",
          help = format!("Leave the first SECONDS out of latency histograms and rates; must be \
                          shorter than --duration [default: {DEFAULT_WARMUP_S}]"))]
    pub warmup: Option<f64>,
    #[arg(long = "drain", value_name = "SECONDS",
          value_parser = parse_non_negative, allow_negative_numbers = true, help_heading = "Messages",
          help = format!("After publishing stops, wait up to SECONDS for acknowledgements and \
                          deliveries [default: {DEFAULT_DRAIN_S}]"))]
    pub drain: Option<f64>,

    /// Write the full report (settings, totals, per-second series, HDR histograms) as JSON.
    #[arg(long = "json", value_name = "FILE", help_heading = "Output")]
    pub json: Option<PathBuf>,
}

impl LoadArgs {
    /// The mode-dependent flags (clap ids, as in `NOT_IN_*`) that were given.
    pub fn given(&self) -> Vec<&'static str> {
        let flags = [
            ("subscribers", self.subscribers.is_some()),
            ("topic", self.topic.is_some()),
            ("qos", self.qos.is_some()),
            ("size", self.size.is_some()),
            ("retain", self.retain),
            ("rate", self.rate.is_some()),
            ("interval", self.interval.is_some()),
            ("limit", self.limit.is_some()),
            ("warmup", self.warmup.is_some()),
            ("drain", self.drain.is_some()),
            ("max_inflight", self.conn.max_inflight.is_some()),
        ];
        flags
            .iter()
            .filter(|(_, on)| *on)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// `mqtk bench merge A.json B.json …`
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// Reports written by `mqtk bench --json`.
    #[arg(required = true, num_args = 1.., value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Write the merged report as JSON too.
    #[arg(long = "json", value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Print help (`bench` turns clap's own help flag off, since `-h` is the host).
    #[arg(short = 'h', long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

fn parse_positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0e12 => Ok(v),
        _ => Err(format!("must be a number greater than 0, not '{s}'")),
    }
}

fn parse_non_negative(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0e12).contains(&v) => Ok(v),
        _ => Err(format!("must be a number of at least 0, not '{s}'")),
    }
}

/// clap's error for a bench flag as one line with one "Error: " (what `main` prints):
/// the value parsers shared with mosquitto's tools answer in mosquitto's words, with
/// their own "Error: " and blank lines, which bench does not repeat. `None` for
/// `--help` and `--version`, which clap prints as they are.
pub fn parse_error_line(e: &clap::Error) -> Option<String> {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    let text = e.render().to_string();
    let first = text
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ");
    Some(format!(
        "Error: {}\n",
        first.replace(": Error: ", ": ").trim_end()
    ))
}
