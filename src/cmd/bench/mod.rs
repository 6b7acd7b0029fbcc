//! `mqtk bench`: a load generator. `run()` is the command: settings in, load run,
//! summary on stdout, exit code out (0 when the run completed, its errors in the
//! report; 1 for usage errors or when no client could connect at all). `resolve`
//! turns the flags into `BenchSettings` (through the shared `settings::resolve_client`
//! and `transport::prepare`). The modules: `run` takes one run from settings to
//! report, `load` runs the clients on one thread, each a `client::drive::Client` on
//! the sans-I/O core, `stats` measures, `report` prints the summary, writes and merges
//! JSON, `template` expands the `%i`-style placeholders.

pub mod load;
pub mod report;
pub mod run;
pub mod stats;
pub mod template;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::bench::{
    BenchArgs, BenchMode, DEFAULT_DRAIN_S, DEFAULT_INFLIGHT, DEFAULT_QOS, DEFAULT_SIZE,
    DEFAULT_TOPIC, DEFAULT_WARMUP_S, LoadArgs, MergeArgs, NOT_IN_CONN, NOT_IN_PUB, NOT_IN_SUB,
};
use crate::cli::connect::ConnectArgs;
use crate::codec::QoS;
use crate::exit::Error;
use crate::settings::{ClientSettings, Tool, resolve_client};
use crate::transport::Prepared;

/// Which load to generate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Publishers and subscribers together (the default).
    #[default]
    PubSub,
    Pub,
    Sub,
    Conn,
}

/// `mqtk bench`, resolved.
#[derive(Clone, Debug)]
pub struct BenchSettings {
    pub mode: Mode,
    /// The shared connection settings; `client_id` is the id template.
    pub client: ClientSettings,
    /// One prepared endpoint per `--ifaddr` address (or one without): connection k uses
    /// `prepared[k % len]`.
    pub prepared: Vec<Prepared>,
    /// Publishers (pub, default mode), subscribers (sub) or connections (conn).
    pub clients: u32,
    /// Subscribers in the default mode.
    pub subscribers: u32,
    pub start_number: u32,
    pub connect_rate: f64,
    pub connect_timeout: Duration,
    pub ifaddr: Vec<IpAddr>,
    pub topic: String,
    pub qos: QoS,
    pub size: usize,
    pub retain: bool,
    /// One publisher's interval; `None`: as fast as the connection takes them.
    pub interval_ns: Option<u64>,
    pub limit: Option<u64>,
    pub duration: Option<Duration>,
    pub warmup: Duration,
    pub drain: Duration,
    /// QoS 1/2 messages in flight per publisher (`-M`/`--inflight`, else 20; capped by
    /// the broker's receive maximum in v5).
    pub inflight: u16,
    pub json: Option<PathBuf>,
    pub quiet: bool,
}

impl BenchSettings {
    /// How many publishers and subscribers the mode runs (none in `conn`).
    pub fn roles(&self) -> (u32, u32) {
        match self.mode {
            Mode::PubSub => (self.clients, self.subscribers),
            Mode::Pub => (self.clients, 0),
            Mode::Sub => (0, self.clients),
            Mode::Conn => (0, 0),
        }
    }
}

/// The name usage errors use.
pub const TOOL: &str = "mqtk bench";

/// `mqtk bench`: runs the chosen mode (or merges reports) and returns the exit code.
pub fn run(args: BenchArgs) -> Result<u8, Error> {
    let (mode, load) = match args.mode {
        None => (Mode::PubSub, args.load),
        Some(BenchMode::Pub(a)) => (Mode::Pub, *a),
        Some(BenchMode::Sub(a)) => (Mode::Sub, *a),
        Some(BenchMode::Conn(a)) => (Mode::Conn, *a),
        Some(BenchMode::Merge(m)) => return merge(&m),
    };
    if load.conn.version {
        crate::cmd::print_out(&format!(
            "mqtk bench version {}\n",
            env!("CARGO_PKG_VERSION")
        ));
        return Ok(crate::exit::OK);
    }
    let settings = resolve(mode, &load)?;
    let r = run::measure(settings)?;
    crate::cmd::print_out(&report::summary(&r));
    if r.totals.connects_ok == 0 {
        return Err(Error::Failed("no client could connect.".into()));
    }
    Ok(crate::exit::OK)
}

/// `mqtk bench merge`: the merged summary on stdout, warnings on stderr.
fn merge(m: &MergeArgs) -> Result<u8, Error> {
    let mut inputs = Vec::new();
    for path in &m.reports {
        let r = report::read(path).map_err(Error::Failed)?;
        inputs.push((path.display().to_string(), r));
    }
    let merged = report::merge(&inputs).map_err(Error::Failed)?;
    for w in &merged.warnings {
        crate::cmd::print_err(&format!("Warning: {w}.\n"));
    }
    if let Some(path) = &m.json {
        report::write(path, &merged.report).map_err(Error::Failed)?;
    }
    crate::cmd::print_out(&report::summary(&merged.report));
    Ok(crate::exit::OK)
}

fn usage(text: impl Into<String>) -> Error {
    Error::Usage(text.into())
}

/// An error from the shared client settings, which speak mosquitto's words for
/// mosquitto's tools ("Error: …", blank lines, "Use '… --help'"), as bench's one line.
fn one_line(e: Error) -> Error {
    match e {
        Error::Verbatim { text, .. } => {
            let line = text.lines().map(str::trim).find(|l| !l.is_empty());
            usage(line.unwrap_or("").trim_start_matches("Error: "))
        }
        other => other,
    }
}

/// Resolves a load mode's flags.
pub fn resolve(mode: Mode, args: &LoadArgs) -> Result<BenchSettings, Error> {
    check_mode_flags(mode, args)?;
    if args.conn.options_file.is_some() {
        return Err(usage("-o: bench reads no options file."));
    }
    if args.conn.debug {
        return Err(usage(
            "-d: bench has no packet log; use --json for the full report.",
        ));
    }
    let mut conn = args.conn.clone();
    conn.id = Some(id_template(&conn)?);
    conn.id_prefix = None;
    if !args.ifaddr.is_empty() && conn.bind_address.is_some() {
        return Err(usage("-A and --ifaddr cannot be used together."));
    }
    if !args.ifaddr.is_empty() && (conn.unix.is_some() || conn.proxy.is_some()) {
        return Err(usage("--ifaddr cannot be used with --unix or --proxy."));
    }
    let mut client = resolve_client(&conn, Tool::Pub, TOOL).map_err(one_line)?;
    let topic = args
        .topic
        .clone()
        .or_else(|| client.url_topic.clone())
        .unwrap_or_else(|| DEFAULT_TOPIC.into());
    template::check(&topic).map_err(|e| usage(format!("-t: {e}")))?;
    // Nagle's algorithm would hold a paced publisher's small packets until the
    // broker's delayed ACK (up to 40 ms on Linux), which is our latency, not the
    // broker's. Unpaced publishers write 64 KiB batches, where it makes no difference.
    client.endpoint.nodelay = true;
    let connect_timeout = Duration::from_secs_f64(args.connect_timeout);
    let prepared = prepare_endpoints(&client, &args.ifaddr, connect_timeout)?;
    let (warmup, duration) = warmup_and_duration(args)?;
    Ok(BenchSettings {
        mode,
        prepared,
        clients: args.clients,
        subscribers: args.subscribers.unwrap_or(args.clients),
        start_number: args.start_number,
        connect_rate: args.connect_rate,
        connect_timeout,
        ifaddr: args.ifaddr.clone(),
        topic,
        qos: QoS::from_u8(args.qos.unwrap_or(DEFAULT_QOS)).unwrap_or_default(),
        size: args.size.unwrap_or(DEFAULT_SIZE) as usize,
        retain: args.retain,
        interval_ns: interval_ns(args),
        limit: args.limit,
        duration,
        warmup,
        drain: Duration::from_secs_f64(args.drain.unwrap_or(DEFAULT_DRAIN_S)),
        inflight: client.max_inflight.unwrap_or(DEFAULT_INFLIGHT),
        json: args.json.clone(),
        quiet: client.quiet,
        client,
    })
}

/// `--warmup` and `--duration`: a warm-up that lasts the whole run would measure
/// nothing, so it is refused before anything starts.
fn warmup_and_duration(args: &LoadArgs) -> Result<(Duration, Option<Duration>), Error> {
    let warmup = args.warmup.unwrap_or(DEFAULT_WARMUP_S);
    if let Some(d) = args.duration
        && warmup >= d
    {
        return Err(usage(format!(
            "--warmup ({warmup} s) must be shorter than --duration ({d} s): nothing would be measured."
        )));
    }
    Ok((
        Duration::from_secs_f64(warmup),
        args.duration.map(Duration::from_secs_f64),
    ))
}

/// The client id template: unique per client through the index. `-i` may use the
/// placeholders (without %i the index is appended); `--id-prefix` is a prefix.
fn id_template(conn: &ConnectArgs) -> Result<String, Error> {
    let id_template = match (&conn.id, &conn.id_prefix) {
        (Some(_), Some(_)) => {
            return Err(usage("-i and --id-prefix cannot be used together."));
        }
        (Some(id), None) if id.contains("%i") => id.clone(),
        (Some(id), None) => format!("{id}%i"),
        (None, Some(prefix)) => format!("{prefix}%i"),
        (None, None) => format!("mqtk-bench-{}-%i", std::process::id()),
    };
    template::check(&id_template).map_err(|e| usage(format!("-i: {e}")))?;
    Ok(id_template)
}

/// One prepared endpoint per `--ifaddr` source address (or one without).
fn prepare_endpoints(
    client: &ClientSettings,
    ifaddr: &[IpAddr],
    connect_timeout: Duration,
) -> Result<Vec<Prepared>, Error> {
    let endpoints: Vec<_> = if ifaddr.is_empty() {
        vec![client.endpoint.clone()]
    } else {
        ifaddr
            .iter()
            .map(|ip| {
                let mut ep = client.endpoint.clone();
                ep.bind_address = Some(ip.to_string());
                ep
            })
            .collect()
    };
    let mut prepared = Vec::new();
    for ep in &endpoints {
        let mut p = crate::transport::prepare(ep).map_err(|e| Error::Failed(e.to_string()))?;
        p.connect_timeout = connect_timeout;
        prepared.push(p);
    }
    Ok(prepared)
}

/// Flags that only some modes take (`crate::cli::bench::NOT_IN_*`, hidden from those
/// modes' help): given to another mode, they are refused, naming the mode.
fn check_mode_flags(mode: Mode, args: &LoadArgs) -> Result<(), Error> {
    let (name, not_in) = match mode {
        Mode::PubSub => return Ok(()),
        Mode::Pub => ("pub", NOT_IN_PUB),
        Mode::Sub => ("sub", NOT_IN_SUB),
        Mode::Conn => ("conn", NOT_IN_CONN),
    };
    let refused: Vec<&str> = args
        .given()
        .into_iter()
        .filter(|id| not_in.contains(id))
        .map(flag_name)
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let why = match mode {
        Mode::Pub => "it has no subscribers",
        Mode::Sub => "it has no publishers",
        _ => "it holds idle connections; use --connect-rate and --duration",
    };
    Err(usage(format!(
        "bench {name} does not take {} ({why}).",
        refused.join(", ")
    )))
}

/// How the help names a mode-dependent load flag (a clap id of `LoadArgs::given`).
fn flag_name(id: &str) -> &str {
    match id {
        "subscribers" => "--subscribers",
        "topic" => "-t",
        "qos" => "-q",
        "size" => "-s",
        "retain" => "-r",
        "rate" => "--rate",
        "interval" => "-I",
        "limit" => "-L",
        "warmup" => "--warmup",
        "drain" => "--drain",
        "max_inflight" => "-M/--inflight",
        other => other,
    }
}

/// One publisher's interval: `--rate` is shared by all publishers, `-I` is each one's.
fn interval_ns(args: &LoadArgs) -> Option<u64> {
    match (args.rate, args.interval) {
        (Some(rate), _) => Some(((f64::from(args.clients) / rate) * 1e9).max(1.0) as u64),
        (None, Some(ms)) => Some((ms * 1e6).max(1.0) as u64),
        (None, None) => None,
    }
}
