//! One bench run, from settings to report: the process limits checked (fd limit, port
//! range), one current-thread runtime, then the phases: clients connect (subscribers
//! first, and subscribed, before publishers), `go`, the measurement until the limit,
//! the duration or a stop, the drain, everyone's goodbye; the progress line and the
//! per-second series meanwhile; and the report assembled from the shared `Stats`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::cmd::bench::load::{self, Shared, Stats, launch};
use crate::cmd::bench::report::{self, Latency, Rates, Report, RunSettings, Sample, Totals};
use crate::cmd::bench::{BenchSettings, Mode};
use crate::cmd::client::stdout::Signals;
use crate::codec::{ProtocolVersion, QoS};
use crate::exit::Error;

/// Descriptors kept for stdio, the runtime, files.
const FD_RESERVE: u64 = 32;
/// How long the clients may take to say goodbye at the end.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// Runs the load and returns its report.
pub fn measure(s: BenchSettings) -> Result<Report, Error> {
    let mut notes = Vec::new();
    let (pubs, subs) = s.roles();
    let conns = if s.mode == Mode::Conn {
        u64::from(s.clients)
    } else {
        u64::from(pubs) + u64::from(subs)
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

/// What the phases of a run measured, for the report.
struct Measured {
    /// The window rates are computed over (see `Report::measured_s`).
    ns: u64,
    /// Connecting (and subscribing) took this long.
    ramp_s: f64,
    /// `bench conn`: resident memory grown per connection made.
    rss_per_conn: Option<f64>,
}

/// The whole run on the current thread: the clients, the progress line, Ctrl-C, the
/// report (and its JSON file).
async fn drive(s: BenchSettings, notes: Vec<String>) -> Result<Report, Error> {
    let run_settings = run_settings(&s);
    let json = s.json.clone();
    let quiet = s.quiet;
    let sh = Rc::new(Shared::new(s).map_err(Error::Usage)?);
    let start = Instant::now();
    let start_ns = sh.clock.now_ns();
    let pb = progress_bar(quiet);
    let series: Rc<RefCell<Vec<Sample>>> = Rc::default();
    let ticker = spawn_ticker(sh.clone(), series.clone(), pb.clone(), start);
    // Installed before any client connects: from then on SIGTERM and SIGINT mean
    // "stop and report", never death without a report.
    let signals = Signals::new()?;
    let interrupt = spawn_interrupt(sh.clone(), signals, pb.clone(), quiet);
    let (handles, measured) = if sh.s.mode == Mode::Conn {
        hold_connections(&sh, start).await
    } else {
        run_traffic(&sh, start).await
    };
    sh.stop_all();
    // Let the clients say goodbye, briefly.
    let _ = tokio::time::timeout(GOODBYE_WAIT, async {
        for h in handles {
            let _ = h.await;
        }
    })
    .await;
    ticker.abort();
    interrupt.abort();
    pb.finish_and_clear();
    count_unfinished(&sh);
    let series = series.borrow().clone();
    let report = build_report(&sh, run_settings, &measured, start, start_ns, series, notes);
    if let Some(path) = json {
        report::write(&path, &report).map_err(Error::Failed)?;
    }
    Ok(report)
}

/// The settings as the report states them.
fn run_settings(s: &BenchSettings) -> RunSettings {
    let (_, subscribers) = s.roles();
    RunSettings {
        mode: s.mode,
        broker: crate::transport::describe(&s.client.endpoint),
        protocol: format!(
            "MQTT {}",
            match s.client.version {
                ProtocolVersion::V31 => "3.1",
                ProtocolVersion::V311 => "3.1.1",
                ProtocolVersion::V5 => "5.0",
            }
        ),
        clients: s.clients,
        subscribers: if s.mode == Mode::PubSub {
            subscribers
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
    }
}

/// Progress on stderr, only for a person watching.
fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb
}

/// Once a second: a sample for the series, and the progress line.
fn spawn_ticker(
    sh: Rc<Shared>,
    series: Rc<RefCell<Vec<Sample>>>,
    pb: ProgressBar,
    start: Instant,
) -> JoinHandle<()> {
    tokio::task::spawn_local(async move {
        let mut every = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(1),
            Duration::from_secs(1),
        );
        let mut last = (0, 0, 0);
        loop {
            every.tick().await;
            let st = sh.stats.borrow();
            let sample = sample(&sh, &st, last);
            last = (st.sent, st.acked, st.received);
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
                sample
                    .e2e_p99_ms
                    .map(|v| format!("{v:.3} ms"))
                    .unwrap_or_else(|| "-".into()),
            ));
            pb.tick();
            drop(st);
            series.borrow_mut().push(sample);
        }
    })
}

/// This second's sample: counts since `last` (sent, acked, received).
fn sample(sh: &Shared, st: &Stats, last: (u64, u64, u64)) -> Sample {
    let p99 = (!st.e2e_hist.is_empty()).then(|| st.e2e_hist.value_at_quantile(0.99) as f64 / 1e6);
    Sample {
        unix_s: sh.clock.now_ns() / 1_000_000_000,
        connected: st.connected,
        sent: st.sent - last.0,
        acked: st.acked - last.1,
        received: st.received - last.2,
        e2e_p99_ms: p99,
    }
}

/// Ctrl-C or SIGTERM (from `timeout`, CI runners, systemd, Kubernetes): stop
/// publishing and drain, then report; a second one skips what is left of the drain.
fn spawn_interrupt(
    sh: Rc<Shared>,
    mut signals: Signals,
    pb: ProgressBar,
    quiet: bool,
) -> JoinHandle<()> {
    tokio::task::spawn_local(async move {
        signals.recv().await;
        if matches!(sh.s.mode, Mode::Conn | Mode::Sub) {
            sh.stop_all();
            return;
        }
        sh.stop_publishing();
        if !quiet {
            let line = format!(
                "Stopping: no more publishing; waiting up to {} s for acknowledgements and deliveries (interrupt again to stop at once).",
                sh.s.drain.as_secs_f64()
            );
            if pb.is_hidden() {
                crate::cmd::print_err(&format!("{line}\n"));
            } else {
                pb.println(line);
            }
        }
        signals.recv().await;
        sh.stop_all();
    })
}

/// When `n` clients launched now have all connected or failed, at the latest.
fn settle_deadline(sh: &Shared, n: u32) -> Option<Instant> {
    // Every connection either connects or times out; ramps take their time.
    let ramp = if sh.s.connect_rate > 0.0 {
        f64::from(n) / sh.s.connect_rate
    } else {
        0.0
    };
    Some(Instant::now() + sh.s.connect_timeout * 2 + Duration::from_secs_f64(ramp))
}

/// Whether `n` connections have connected or failed.
fn settled(sh: &Shared, n: u64) -> bool {
    let st = sh.stats.borrow();
    st.connects_ok + st.failed_connects() >= n
}

/// `bench conn`: connects every client, measures the memory that took, holds the
/// connections for the duration.
async fn hold_connections(sh: &Rc<Shared>, start: Instant) -> (Vec<JoinHandle<()>>, Measured) {
    let rss0 = rss_bytes();
    let n = sh.s.clients;
    let shc = sh.clone();
    let handles = launch(sh, n, move |k| load::idle_conn(shc.clone(), k)).await;
    wait_for(sh, settle_deadline(sh, n), |sh| settled(sh, u64::from(n))).await;
    let ns = start.elapsed().as_nanos() as u64;
    let ramp_s = start.elapsed().as_secs_f64();
    let connected = sh.stats.borrow().connected;
    let rss_per_conn = match (rss0, rss_bytes()) {
        (Some(a), Some(b)) if connected > 0 => Some(b.saturating_sub(a) as f64 / connected as f64),
        _ => None,
    };
    sh.go();
    let hold_until = sh.s.duration.map(|d| Instant::now() + d);
    wait_for(sh, hold_until, |_| false).await;
    let measured = Measured {
        ns,
        ramp_s,
        rss_per_conn,
    };
    (handles, measured)
}

/// The modes with messages: subscribers connect and subscribe, then publishers
/// connect; then `go`, and the measurement.
async fn run_traffic(sh: &Rc<Shared>, start: Instant) -> (Vec<JoinHandle<()>>, Measured) {
    let (pubs, subs) = sh.s.roles();
    let mut handles = Vec::new();
    if subs > 0 {
        let shc = sh.clone();
        handles.extend(launch(sh, subs, move |k| load::subscriber(shc.clone(), k)).await);
        wait_for(sh, settle_deadline(sh, subs), |sh| {
            let st = sh.stats.borrow();
            st.subscribed + st.failed_connects() + st.disconnects >= u64::from(subs)
        })
        .await;
    }
    if pubs > 0 {
        handles.extend(launch_publishers(sh, pubs).await);
        wait_for(sh, settle_deadline(sh, pubs), |sh| {
            settled(sh, u64::from(pubs) + u64::from(subs))
        })
        .await;
    }
    let ramp_s = start.elapsed().as_secs_f64();
    sh.go();
    let stop_at = sh.s.duration.map(|d| Instant::now() + d);
    let ns = if pubs > 0 {
        publish_and_drain(sh, pubs, subs, stop_at).await
    } else {
        receive(sh, stop_at).await
    };
    let measured = Measured {
        ns,
        ramp_s,
        rss_per_conn: None,
    };
    (handles, measured)
}

/// Starts the publishers, `-L` shared out among them.
async fn launch_publishers(sh: &Rc<Shared>, pubs: u32) -> Vec<JoinHandle<()>> {
    let limit = sh.s.limit;
    let shc = sh.clone();
    launch(sh, pubs, move |k| {
        let quota =
            limit.map(|l| l / u64::from(pubs) + u64::from(u64::from(k) < l % u64::from(pubs)));
        load::publisher(shc.clone(), k, quota)
    })
    .await
}

/// Publishing until the publishers are done, the duration ends or a stop; then the
/// drain: acks and deliveries still on their way. Returns the measured window (ns).
async fn publish_and_drain(sh: &Shared, pubs: u32, subs: u32, stop_at: Option<Instant>) -> u64 {
    wait_for(sh, stop_at, |sh| {
        sh.stop_publishing.get() || sh.stats.borrow().pubs_done >= u64::from(pubs)
    })
    .await;
    sh.stop_publishing();
    let drain_until = Some(Instant::now() + sh.s.drain);
    wait_for(sh, drain_until, |sh| {
        let done = sh.stats.borrow().pubs_done >= u64::from(pubs);
        done && (subs == 0 || {
            let expected = sh.expected_deliveries();
            let st = sh.stats.borrow();
            // The received count first: cheap, and a lower bound is enough to keep
            // waiting.
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
    end.saturating_sub(st.measure_from_ns)
}

/// `bench sub`: receiving until `-L` messages, the duration or a stop. Returns the
/// measured window (ns): first to last message, after the warm-up.
async fn receive(sh: &Shared, stop_at: Option<Instant>) -> u64 {
    let limit = sh.s.limit;
    wait_for(sh, stop_at, |sh| {
        limit.is_some_and(|l| sh.stats.borrow().received >= l)
    })
    .await;
    let st = sh.stats.borrow();
    let from = st.first_recv_ns.max(st.measure_from_ns);
    st.last_recv_ns.saturating_sub(from)
}

/// Handshakes cut short by the end of the run are neither made nor failed.
fn count_unfinished(sh: &Shared) {
    let mut st = sh.stats.borrow_mut();
    let unfinished = u64::from(st.connecting);
    if unfinished > 0 {
        *st.errors
            .entry("unfinished when the run ended".into())
            .or_insert(0) += unfinished;
    }
}

/// The report of a finished run.
fn build_report(
    sh: &Shared,
    run_settings: RunSettings,
    m: &Measured,
    start: Instant,
    start_ns: u64,
    series: Vec<Sample>,
    mut notes: Vec<String>,
) -> Report {
    let mode = sh.s.mode;
    let st = sh.stats.borrow();
    limit_notes(&st, &mut notes);
    Report {
        mqtk_version: env!("CARGO_PKG_VERSION").to_string(),
        run_ids: vec![report::new_run_id()],
        mode,
        settings: vec![run_settings],
        start_unix_ms: start_ns / 1_000_000,
        elapsed_s: start.elapsed().as_secs_f64(),
        measured_s: secs(m.ns),
        ramp_s: m.ramp_s,
        totals: totals(sh, &st),
        rates: rates(&st, m),
        latency: latencies(&sh.s, &st),
        series,
        notes,
        rss_bytes_per_connection: m.rss_per_conn,
    }
}

/// Notes for the limits the errors show were met.
fn limit_notes(st: &Stats, notes: &mut Vec<String>) {
    for kind in st.errors.keys() {
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
}

fn totals(sh: &Shared, st: &Stats) -> Totals {
    let s = &sh.s;
    let (pubs, subs) = s.roles();
    let expected = (s.mode == Mode::PubSub).then(|| sh.expected_deliveries());
    let (unique, gaps, duplicates, out_of_order) = st.sequence_totals();
    Totals {
        clients: if s.mode == Mode::Conn {
            u64::from(s.clients)
        } else {
            u64::from(pubs) + u64::from(subs)
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
    }
}

fn rates(st: &Stats, m: &Measured) -> Rates {
    let measured_s = secs(m.ns);
    let per_s = |n: u64| {
        if measured_s > 0.0 {
            n as f64 / measured_s
        } else {
            0.0
        }
    };
    Rates {
        connect_per_s: if m.ramp_s > 0.0 {
            st.connects_ok as f64 / m.ramp_s
        } else {
            0.0
        },
        sent_per_s: per_s(st.sent_measured),
        acked_per_s: per_s(st.acked_measured),
        received_per_s: per_s(st.received_measured),
    }
}

/// The latencies the mode measures: connect always; publish-to-ack for QoS 1/2
/// publishers; end-to-end where there are subscribers.
fn latencies(s: &BenchSettings, st: &Stats) -> BTreeMap<String, Latency> {
    let mut latency = BTreeMap::new();
    latency.insert(
        "connect".to_string(),
        Latency::from_histogram(&st.connect_hist),
    );
    if s.mode != Mode::Conn {
        if s.mode != Mode::Sub && s.qos != QoS::AtMostOnce {
            latency.insert("ack".to_string(), Latency::from_histogram(&st.ack_hist));
        }
        if s.mode != Mode::Pub {
            latency.insert("e2e".to_string(), Latency::from_histogram(&st.e2e_hist));
        }
    }
    latency
}
