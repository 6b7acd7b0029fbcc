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

#[derive(Debug, Clone, clap::Subcommand)]
pub enum BenchMode {
    /// Publishers only: sent/s, and for QoS 1/2 acked/s with publish-to-ack latency.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Pub(Box<LoadArgs>),
    /// Subscribers only: received/s and end-to-end latency from the payload's timestamp.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Sub(Box<LoadArgs>),
    /// Open N connections at a rate and hold them: connect latency, rate, errors.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Conn(Box<LoadArgs>),
    /// Combine JSON reports from several runs (machines, processes) into one, exactly.
    Merge(MergeArgs),
}

/// The flags of every load mode.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    mut_arg("disable_clean_session", |a| a.short(None)),
    mut_arg("id_prefix", |a| a.short(None)),
    mut_arg("url", |a| a.short(None)),
    mut_arg("max_inflight", |a| a.long("inflight")),
    mut_arg("id", |a| a.help("Client id template (placeholders as in -t); without %i the client index is appended. Defaults to mqtk-bench-PID-%i.")),
    mut_arg("id_prefix", |a| a.help("Client ids are ID_PREFIX followed by the client index.")),
    mut_arg("quiet", |a| a.help("Hide the progress display (it is also hidden when stderr is not a terminal)."))
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

    /// Topic to publish to / subscribe to. Placeholders: %i client index, %c client id,
    /// %u username, %rand_N a random number in 0..N (chosen once per client).
    #[arg(
        short = 't',
        long = "topic",
        value_name = "TOPIC",
        default_value = "mqtk/bench/%i",
        help_heading = "Messages"
    )]
    pub topic: String,
    /// Quality of service of publishes and subscriptions.
    #[arg(short = 'q', long = "qos", value_name = "QOS", default_value_t = 0, value_parser = parse_qos,
          allow_negative_numbers = true, help_heading = "Messages")]
    pub qos: u8,
    /// Payload size in bytes, at least 16 (publisher id, sequence and send timestamp),
    /// padded with zeros.
    #[arg(short = 's', long = "size", value_name = "BYTES", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(16..=268_435_000), help_heading = "Messages")]
    pub size: u32,
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
    /// Stop publishing (or holding connections) after this many seconds. Without -L or
    /// --duration, runs until interrupted (Ctrl-C), then reports.
    #[arg(long = "duration", value_name = "SECONDS", value_parser = parse_positive, allow_negative_numbers = true,
          help_heading = "Messages")]
    pub duration: Option<f64>,
    /// Leave the first SECONDS out of latency histograms and rates.
    #[arg(long = "warmup", value_name = "SECONDS", default_value_t = 0.0,
          value_parser = parse_non_negative, allow_negative_numbers = true, help_heading = "Messages")]
    pub warmup: f64,
    /// After publishing stops, wait up to SECONDS for acknowledgements and deliveries.
    #[arg(long = "drain", value_name = "SECONDS", default_value_t = 5.0,
          value_parser = parse_non_negative, allow_negative_numbers = true, help_heading = "Messages")]
    pub drain: f64,

    /// Write the full report (settings, totals, per-second series, HDR histograms) as JSON.
    #[arg(long = "json", value_name = "FILE", help_heading = "Output")]
    pub json: Option<PathBuf>,
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
