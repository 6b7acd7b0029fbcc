//! `mqtk bench`: a load generator. `run` is the command (settings in, load run,
//! summary on stdout, exit code out: 0 when the run completed, its errors in the
//! report; 1 for usage errors or when no client could connect at all). `resolve`
//! turns the flags into `BenchSettings` (through the shared `settings::resolve_client`
//! and `transport::prepare`), `load` runs the clients on one thread, each a
//! `client::drive::Client` on the sans-I/O core, `stats` measures, `report` prints the
//! summary, writes and merges JSON, `template` expands `%i`-style placeholders.

pub mod load;
pub mod report;
pub mod stats;
pub mod template;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::bench::{BenchArgs, BenchMode, LoadArgs};
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

/// The name usage errors use.
pub const TOOL: &str = "mqtk bench";

/// `mqtk bench`: runs the chosen mode (or merges reports) and returns the exit code.
pub fn run(args: BenchArgs) -> Result<u8, Error> {
    let (mode, load) = match args.mode {
        None => (Mode::PubSub, args.load),
        Some(BenchMode::Pub(a)) => (Mode::Pub, *a),
        Some(BenchMode::Sub(a)) => (Mode::Sub, *a),
        Some(BenchMode::Conn(a)) => (Mode::Conn, *a),
        Some(BenchMode::Merge(m)) => {
            let mut reports = Vec::new();
            for path in &m.reports {
                reports.push(report::read(path).map_err(Error::Failed)?);
            }
            let merged = report::merge(&reports).map_err(Error::Failed)?;
            if let Some(path) = &m.json {
                report::write(path, &merged).map_err(Error::Failed)?;
            }
            print!("{}", report::summary(&merged));
            return Ok(crate::exit::OK);
        }
    };
    if load.conn.version {
        println!("mqtk bench version {}", env!("CARGO_PKG_VERSION"));
        return Ok(crate::exit::OK);
    }
    let settings = resolve(mode, &load)?;
    let r = measure(settings)?;
    print!("{}", report::summary(&r));
    if r.totals.connects_ok == 0 {
        return Err(Error::Failed("no client could connect.".into()));
    }
    Ok(crate::exit::OK)
}

fn usage(text: impl Into<String>) -> Error {
    Error::Usage(text.into())
}

/// Resolves a load mode's flags.
pub fn resolve(mode: Mode, args: &LoadArgs) -> Result<BenchSettings, Error> {
    template::check(&args.topic).map_err(|e| usage(format!("-t: {e}")))?;
    if args.conn.options_file.is_some() {
        return Err(usage("-o: bench reads no options file."));
    }
    if args.conn.debug {
        return Err(usage(
            "-d: bench has no packet log; use --json for the full report.",
        ));
    }
    let mut conn = args.conn.clone();
    // Client ids: a template with the client index, unique per client. `-i` may use
    // the placeholders; without %i the index is appended. `--id-prefix` is a prefix.
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
    conn.id = Some(id_template);
    conn.id_prefix = None;
    if !args.ifaddr.is_empty() && conn.bind_address.is_some() {
        return Err(usage("-A and --ifaddr cannot be used together."));
    }
    if !args.ifaddr.is_empty() && (conn.unix.is_some() || conn.proxy.is_some()) {
        return Err(usage("--ifaddr cannot be used with --unix or --proxy."));
    }
    let mut client = resolve_client(&conn, Tool::Pub, TOOL)?;
    // Nagle's algorithm would hold a paced publisher's small packets until the
    // broker's delayed ACK (up to 40 ms on Linux), which is our latency, not the
    // broker's. Unpaced publishers write 64 KiB batches, where it makes no difference.
    client.endpoint.nodelay = true;
    let mut prepared = Vec::new();
    let endpoints: Vec<_> = if args.ifaddr.is_empty() {
        vec![client.endpoint.clone()]
    } else {
        args.ifaddr
            .iter()
            .map(|ip| {
                let mut ep = client.endpoint.clone();
                ep.bind_address = Some(ip.to_string());
                ep
            })
            .collect()
    };
    let connect_timeout = Duration::from_secs_f64(args.connect_timeout);
    for ep in &endpoints {
        let mut p = crate::transport::prepare(ep).map_err(|e| Error::Failed(e.to_string()))?;
        p.connect_timeout = connect_timeout;
        prepared.push(p);
    }
    let qos = QoS::from_u8(args.qos).unwrap_or_default();
    let interval_ns = match (args.rate, args.interval) {
        (Some(rate), _) => Some(((f64::from(args.clients) / rate) * 1e9).max(1.0) as u64),
        (None, Some(ms)) => Some((ms * 1e6).max(1.0) as u64),
        (None, None) => None,
    };
    if mode == Mode::Conn
        && (args.rate.is_some() || args.interval.is_some() || args.limit.is_some())
    {
        return Err(usage(
            "bench conn holds idle connections: --rate, -I and -L do not apply (use --connect-rate and --duration).",
        ));
    }
    if mode != Mode::PubSub && args.subscribers.is_some() {
        return Err(usage(
            "--subscribers applies to the default (pub + sub) mode only.",
        ));
    }
    Ok(BenchSettings {
        mode,
        prepared,
        clients: args.clients,
        subscribers: args.subscribers.unwrap_or(args.clients),
        start_number: args.start_number,
        connect_rate: args.connect_rate,
        connect_timeout,
        ifaddr: args.ifaddr.clone(),
        topic: args.topic.clone(),
        qos,
        size: args.size as usize,
        retain: args.retain,
        interval_ns,
        limit: args.limit,
        duration: args.duration.map(Duration::from_secs_f64),
        warmup: Duration::from_secs_f64(args.warmup),
        drain: Duration::from_secs_f64(args.drain),
        inflight: client.max_inflight.unwrap_or(20),
        json: args.json.clone(),
        quiet: client.quiet,
        client,
    })
}

// ---------------------------------------------------------------------------------
// The run

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cmd::bench::load::{Shared, launch};
use crate::cmd::bench::report::{Latency, Rates, Report, RunSettings, Sample, Totals};

/// Raises the soft RLIMIT_NOFILE to the hard limit (the only raise a process may make
/// on its own) and says when `needed` descriptors still do not fit.
fn raise_fd_limit(needed: u64, notes: &mut Vec<String>) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    let soft = lim.rlim_cur;
    if needed > soft {
        notes.push(format!(
            "fd limit: RLIMIT_NOFILE is {soft} (hard limit {}), so this process can hold about {} connections; run several processes or machines and `mqtk bench merge` their reports",
            lim.rlim_max,
            soft.saturating_sub(FD_RESERVE)
        ));
    }
    soft
}

/// Descriptors kept for stdio, the runtime, files.
const FD_RESERVE: u64 = 32;

/// The local port range, for the note when connections may outnumber ports.
fn port_range() -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse::<u32>().ok());
    Some((it.next()??, it.next()??))
}

fn rss_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// Runs the load and returns its report.
pub fn measure(s: BenchSettings) -> Result<Report, Error> {
    let mut notes = Vec::new();
    let conns = match s.mode {
        Mode::PubSub => u64::from(s.clients) + u64::from(s.subscribers),
        _ => u64::from(s.clients),
    };
    raise_fd_limit(conns + FD_RESERVE, &mut notes);
    if let Some((lo, hi)) = port_range() {
        let ports = u64::from(hi.saturating_sub(lo)) + 1;
        let addrs = s.ifaddr.len().max(1) as u64;
        if conns > ports * addrs {
            notes.push(format!(
                "port range: {ports} local ports ({lo}-{hi}) per source address and {addrs} address(es) cannot hold {conns} connections; add --ifaddr addresses"
            ));
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, drive(s, notes))
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// Waits until `done` holds, `deadline` passes or the run is stopped.
async fn wait_for(sh: &Shared, deadline: Option<Instant>, mut done: impl FnMut(&Shared) -> bool) {
    loop {
        if done(sh) || sh.stop_all.get() || deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        let wake = sh.wake.notified();
        tokio::select! {
            _ = wake => {}
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
}

async fn drive(s: BenchSettings, mut notes: Vec<String>) -> Result<Report, Error> {
    let mode = s.mode;
    let run_settings = RunSettings {
        mode,
        broker: crate::transport::describe(&s.client.endpoint),
        protocol: format!(
            "MQTT {}",
            match s.client.version {
                crate::codec::ProtocolVersion::V31 => "3.1",
                crate::codec::ProtocolVersion::V311 => "3.1.1",
                crate::codec::ProtocolVersion::V5 => "5.0",
            }
        ),
        clients: s.clients,
        subscribers: if mode == Mode::PubSub {
            s.subscribers
        } else {
            0
        },
        start_number: s.start_number,
        qos: s.qos as u8,
        size: s.size,
        retain: s.retain,
        topic: s.topic.clone(),
        interval_ms: s.interval_ns.map(|n| n as f64 / 1e6),
        limit: s.limit,
        duration_s: s.duration.map(|d| d.as_secs_f64()),
        warmup_s: s.warmup.as_secs_f64(),
        inflight: s.inflight,
        connect_rate: s.connect_rate,
        ifaddr: s.ifaddr.iter().map(|a| a.to_string()).collect(),
    };
    let json = s.json.clone();
    let quiet = s.quiet;
    let sh = Rc::new(Shared::new(s).map_err(Error::Usage)?);
    let start = Instant::now();
    let start_ns = sh.clock.now_ns();

    // Progress on stderr, only for a person watching.
    let pb = if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
    } else {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb
    };
    let series: Rc<RefCell<Vec<Sample>>> = Rc::default();
    let ticker = {
        let sh = sh.clone();
        let series = series.clone();
        let pb = pb.clone();
        tokio::task::spawn_local(async move {
            let mut every = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_secs(1),
                Duration::from_secs(1),
            );
            let (mut sent, mut acked, mut received) = (0, 0, 0);
            loop {
                every.tick().await;
                let st = sh.stats.borrow();
                let p99 = (!st.e2e_hist.is_empty())
                    .then(|| st.e2e_hist.value_at_quantile(0.99) as f64 / 1e6);
                let sample = Sample {
                    unix_s: sh.clock.now_ns() / 1_000_000_000,
                    connected: st.connected,
                    sent: st.sent - sent,
                    acked: st.acked - acked,
                    received: st.received - received,
                    e2e_p99_ms: p99,
                };
                (sent, acked, received) = (st.sent, st.acked, st.received);
                let remaining =
                    sh.s.duration
                        .map(|d| {
                            format!(
                                ", {:.0} s left",
                                d.saturating_sub(start.elapsed()).as_secs_f64()
                            )
                        })
                        .unwrap_or_default();
                pb.set_message(format!(
                    "connected {} (failed {}) | sent {}/s | received {}/s | e2e p99 {}{remaining}",
                    st.connected,
                    st.failed_connects(),
                    sample.sent,
                    sample.received,
                    p99.map(|v| format!("{v:.3} ms"))
                        .unwrap_or_else(|| "-".into()),
                ));
                pb.tick();
                drop(st);
                series.borrow_mut().push(sample);
            }
        })
    };
    // Ctrl-C: stop publishing and drain; a second one stops at once.
    let interrupt = {
        let sh = sh.clone();
        tokio::task::spawn_local(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                if matches!(sh.s.mode, Mode::Conn | Mode::Sub) {
                    sh.stop_all();
                } else {
                    sh.stop_publishing();
                }
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                sh.stop_all();
            }
        })
    };

    let mut handles = Vec::new();
    let (pubs, subs) = match mode {
        Mode::PubSub => (sh.s.clients, sh.s.subscribers),
        Mode::Pub => (sh.s.clients, 0),
        Mode::Sub => (0, sh.s.clients),
        Mode::Conn => (0, 0),
    };
    let settle_deadline = |n: u32| {
        // Every connection either connects or times out; ramps take their time.
        let ramp = if sh.s.connect_rate > 0.0 {
            f64::from(n) / sh.s.connect_rate
        } else {
            0.0
        };
        Some(Instant::now() + sh.s.connect_timeout * 2 + Duration::from_secs_f64(ramp))
    };
    let settled = |sh: &Shared, n: u64| {
        let st = sh.stats.borrow();
        st.connects_ok + st.failed_connects() >= n
    };
    let mut rss_per_conn = None;
    let measured_ns: u64;
    let ramp_s: f64;

    if mode == Mode::Conn {
        let rss0 = rss_bytes();
        let n = sh.s.clients;
        let shc = sh.clone();
        handles = launch(&sh, n, move |k| load::idle_conn(shc.clone(), k)).await;
        wait_for(&sh, settle_deadline(n), |sh| settled(sh, u64::from(n))).await;
        measured_ns = start.elapsed().as_nanos() as u64;
        ramp_s = start.elapsed().as_secs_f64();
        let connected = sh.stats.borrow().connected;
        if let (Some(a), Some(b)) = (rss0, rss_bytes())
            && connected > 0
        {
            rss_per_conn = Some(b.saturating_sub(a) as f64 / connected as f64);
        }
        sh.go();
        let hold_until = sh.s.duration.map(|d| Instant::now() + d);
        wait_for(&sh, hold_until, |_| false).await;
    } else {
        if subs > 0 {
            let shc = sh.clone();
            handles.extend(launch(&sh, subs, move |k| load::subscriber(shc.clone(), k)).await);
            wait_for(&sh, settle_deadline(subs), |sh| {
                let st = sh.stats.borrow();
                st.subscribed + st.failed_connects() + st.disconnects >= u64::from(subs)
            })
            .await;
        }
        if pubs > 0 {
            let limit = sh.s.limit;
            let shc = sh.clone();
            handles.extend(
                launch(&sh, pubs, move |k| {
                    let quota = limit.map(|l| {
                        l / u64::from(pubs) + u64::from(u64::from(k) < l % u64::from(pubs))
                    });
                    load::publisher(shc.clone(), k, quota)
                })
                .await,
            );
            wait_for(&sh, settle_deadline(pubs), |sh| {
                settled(sh, u64::from(pubs) + u64::from(subs))
            })
            .await;
        }
        ramp_s = start.elapsed().as_secs_f64();
        sh.go();
        let go = Instant::now();
        let stop_at = sh.s.duration.map(|d| go + d);
        if pubs > 0 {
            wait_for(&sh, stop_at, |sh| {
                sh.stop_publishing.get() || sh.stats.borrow().pubs_done >= u64::from(pubs)
            })
            .await;
            sh.stop_publishing();
            // Drain: acks and deliveries still on their way.
            let drain_until = Some(Instant::now() + sh.s.drain);
            wait_for(&sh, drain_until, |sh| {
                let done = sh.stats.borrow().pubs_done >= u64::from(pubs);
                done && (subs == 0 || {
                    let expected = sh.expected_deliveries();
                    let st = sh.stats.borrow();
                    // The received count first: cheap, and a lower bound is enough
                    // to keep waiting.
                    st.received >= expected && st.sequence_totals().0 >= expected
                })
            })
            .await;
            let st = sh.stats.borrow();
            let end = if subs == 0 {
                st.last_sent_ns
            } else {
                st.last_sent_ns.max(st.last_recv_ns)
            };
            measured_ns = end.saturating_sub(st.measure_from_ns);
        } else {
            let limit = sh.s.limit;
            wait_for(&sh, stop_at, |sh| {
                limit.is_some_and(|l| sh.stats.borrow().received >= l)
            })
            .await;
            let st = sh.stats.borrow();
            let from = st.first_recv_ns.max(st.measure_from_ns);
            measured_ns = st.last_recv_ns.saturating_sub(from);
        }
    }
    sh.stop_all();
    // Let the clients say goodbye, briefly.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        for h in handles {
            let _ = h.await;
        }
    })
    .await;
    ticker.abort();
    interrupt.abort();
    pb.finish_and_clear();

    let elapsed = start.elapsed().as_secs_f64();
    {
        // Handshakes cut short by the end of the run are neither made nor failed.
        let mut st = sh.stats.borrow_mut();
        let unfinished = u64::from(st.connecting);
        if unfinished > 0 {
            *st.errors
                .entry("unfinished when the run ended".into())
                .or_insert(0) += unfinished;
        }
    }
    let expected = (mode == Mode::PubSub).then(|| sh.expected_deliveries());
    let st = sh.stats.borrow();
    let (unique, gaps, duplicates, out_of_order) = st.sequence_totals();
    let measured_s = secs(measured_ns);
    let per_s = |n: u64| {
        if measured_s > 0.0 {
            n as f64 / measured_s
        } else {
            0.0
        }
    };
    for (kind, _) in st.errors.iter() {
        if kind.starts_with("EMFILE") || kind.starts_with("ENFILE") {
            notes.push(
                "stopped by the fd limit: connections beyond RLIMIT_NOFILE failed with EMFILE"
                    .into(),
            );
        }
        if kind.starts_with("EADDRNOTAVAIL") {
            notes
                .push("stopped by the local port range: add source addresses with --ifaddr".into());
        }
    }
    let mut latency = std::collections::BTreeMap::new();
    latency.insert(
        "connect".to_string(),
        Latency::from_histogram(&st.connect_hist),
    );
    if mode != Mode::Conn {
        if mode != Mode::Sub && sh.s.qos != QoS::AtMostOnce {
            latency.insert("ack".to_string(), Latency::from_histogram(&st.ack_hist));
        }
        if mode != Mode::Pub {
            latency.insert("e2e".to_string(), Latency::from_histogram(&st.e2e_hist));
        }
    }
    let report = Report {
        mqtk_version: env!("CARGO_PKG_VERSION").to_string(),
        mode,
        settings: vec![run_settings],
        start_unix_ms: start_ns / 1_000_000,
        elapsed_s: elapsed,
        measured_s,
        totals: Totals {
            clients: u64::from(pubs)
                + u64::from(subs)
                + if mode == Mode::Conn {
                    u64::from(sh.s.clients)
                } else {
                    0
                },
            connects_ok: st.connects_ok,
            connect_errors: st.errors.clone(),
            disconnects: st.disconnects,
            connected_max: st.connected_max,
            subscribed: st.subscribed,
            sent: st.sent,
            acked: st.acked,
            publish_errors: st.publish_errors,
            received: st.received,
            expected,
            lost: expected.map(|e| e.saturating_sub(unique)),
            gaps,
            duplicates,
            out_of_order,
            unparsed: st.unparsed,
        },
        rates: Rates {
            connect_per_s: if ramp_s > 0.0 {
                st.connects_ok as f64 / ramp_s
            } else {
                0.0
            },
            sent_per_s: per_s(st.sent_measured),
            acked_per_s: per_s(st.acked_measured),
            received_per_s: per_s(st.received_measured),
        },
        latency,
        series: series.borrow().clone(),
        notes,
        rss_bytes_per_connection: rss_per_conn,
    };
    drop(st);
    if let Some(path) = json {
        report::write(&path, &report).map_err(Error::Failed)?;
    }
    Ok(report)
}
