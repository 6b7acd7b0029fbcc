//! The bench report: the summary table on stdout, the JSON file (settings, totals,
//! per-second series, each HDR histogram serialized losslessly as base64 of its V2
//! deflate encoding), and `merge`, which combines reports exactly: counts add and
//! histograms merge, then percentiles are computed from the merged histograms.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::cmd::bench::Mode;
use crate::cmd::bench::stats::merge_into;

/// One run's (or a merge's) results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub mqtk_version: String,
    /// One random id per run (several after a merge), so that merging one run twice
    /// is caught. Reports written before run ids have none.
    #[serde(default)]
    pub run_ids: Vec<String>,
    pub mode: Mode,
    /// The settings of each run this report covers (several after a merge).
    pub settings: Vec<RunSettings>,
    /// When the run started (the earliest, after a merge).
    pub start_unix_ms: u64,
    /// Wall time of the whole run, connecting included.
    pub elapsed_s: f64,
    /// The window rates are computed over: publishing after the warm-up (pub, default
    /// mode), first to last message (sub), or the connection ramp (conn).
    pub measured_s: f64,
    /// The window the connection rate is computed over: the ramp (connecting and
    /// subscribing).
    #[serde(default)]
    pub ramp_s: f64,
    pub totals: Totals,
    pub rates: Rates,
    /// "connect", "ack" (publish to PUBACK/PUBCOMP) and "e2e" (publish due time to
    /// delivery), each with its histogram.
    pub latency: BTreeMap<String, Latency>,
    /// One sample per second of the run.
    pub series: Vec<Sample>,
    /// Limits met (fd limit, port range) and other remarks.
    pub notes: Vec<String>,
    /// `bench conn`: the growth of this process's resident memory while connecting,
    /// divided by the connections made.
    #[serde(default)]
    pub rss_bytes_per_connection: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunSettings {
    pub mode: Mode,
    pub broker: String,
    pub protocol: String,
    pub clients: u32,
    pub subscribers: u32,
    pub start_number: u32,
    pub qos: u8,
    pub size: usize,
    pub retain: bool,
    pub topic: String,
    /// One publisher's interval in ms; `None`: unpaced.
    pub interval_ms: Option<f64>,
    pub limit: Option<u64>,
    pub duration_s: Option<f64>,
    pub warmup_s: f64,
    pub inflight: u16,
    pub connect_rate: f64,
    pub ifaddr: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Totals {
    pub clients: u64,
    pub connects_ok: u64,
    /// Failed connections by kind.
    pub connect_errors: BTreeMap<String, u64>,
    /// Connections lost during the run.
    pub disconnects: u64,
    /// Largest number of connections open at once.
    pub connected_max: u64,
    pub subscribed: u64,
    pub sent: u64,
    pub acked: u64,
    /// QoS 1/2 publishes the broker refused (ack reason code ≥ 0x80).
    pub publish_errors: u64,
    pub received: u64,
    /// Deliveries the subscribers should have had (default mode only).
    pub expected: Option<u64>,
    /// `expected` minus the distinct messages received.
    pub lost: Option<u64>,
    /// Missing sequence numbers below the highest seen, per publisher and subscriber.
    pub gaps: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Messages without a bench header.
    pub unparsed: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Rates {
    pub connect_per_s: f64,
    pub sent_per_s: f64,
    pub acked_per_s: f64,
    pub received_per_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Base64 of the HdrHistogram V2 deflate encoding, values in nanoseconds.
    pub histogram: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    /// Unix time of the end of this second.
    pub unix_s: u64,
    pub connected: u64,
    pub sent: u64,
    pub acked: u64,
    pub received: u64,
    /// End-to-end p99 so far (cumulative), in ms; after a merge, the largest of the
    /// runs' (an upper bound: exact percentiles come from the merged histograms).
    pub e2e_p99_ms: Option<f64>,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

impl Latency {
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        let mut bytes = Vec::new();
        // Serializing into memory cannot fail for a histogram of u64.
        let _ = V2DeflateSerializer::new().serialize(h, &mut bytes);
        Latency {
            count: h.len(),
            min_ms: if h.is_empty() { 0.0 } else { ms(h.min()) },
            mean_ms: h.mean() / 1e6,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            histogram: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.histogram)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("histogram does not decode: {e:?}"))
    }
}

/// A merge's result, and what it has to say about its inputs.
pub struct Merged {
    pub report: Report,
    /// Settings that differ between the runs (also among the report's notes).
    pub warnings: Vec<String>,
}

/// Combines reports, each with the name errors and warnings use (its file): totals and
/// rates add up (the runs ran side by side), histograms merge, the series line up by
/// Unix second. A run given twice is refused (it would count twice); runs whose
/// settings differ are merged with a warning naming the fields.
pub fn merge(inputs: &[(String, Report)]) -> Result<Merged, String> {
    let (_, first) = inputs.first().ok_or("no reports to merge")?;
    check_distinct_runs(inputs)?;
    let reports: Vec<&Report> = inputs.iter().map(|(_, r)| r).collect();
    let warnings = differing_settings(&reports);
    let mode = if reports.iter().all(|r| r.mode == first.mode) {
        first.mode
    } else {
        Mode::PubSub
    };
    let mut totals = Totals::default();
    let mut rates = Rates::default();
    let mut series: BTreeMap<u64, Sample> = BTreeMap::new();
    let mut notes = Vec::new();
    for r in &reports {
        add_totals(&mut totals, &r.totals);
        add_rates(&mut rates, &r.rates);
        add_series(&mut series, &r.series);
        notes.extend(r.notes.iter().cloned());
    }
    notes.extend(warnings.iter().cloned());
    let max = |f: fn(&Report) -> f64| reports.iter().map(|r| f(r)).fold(0.0, f64::max);
    let report = Report {
        mqtk_version: env!("CARGO_PKG_VERSION").to_string(),
        run_ids: reports
            .iter()
            .flat_map(|r| r.run_ids.iter().cloned())
            .collect(),
        mode,
        settings: reports
            .iter()
            .flat_map(|r| r.settings.iter().cloned())
            .collect(),
        start_unix_ms: reports.iter().map(|r| r.start_unix_ms).min().unwrap_or(0),
        elapsed_s: max(|r| r.elapsed_s),
        measured_s: max(|r| r.measured_s),
        ramp_s: max(|r| r.ramp_s),
        totals,
        rates,
        latency: merge_latencies(&reports)?,
        series: series.into_values().collect(),
        notes,
        rss_bytes_per_connection: None,
    };
    Ok(Merged { report, warnings })
}

/// Refuses a run that appears in two inputs (the same file twice, or a merged report
/// beside one of its parts).
fn check_distinct_runs(inputs: &[(String, Report)]) -> Result<(), String> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, r) in inputs {
        for id in &r.run_ids {
            if let Some(earlier) = seen.insert(id, name) {
                return Err(format!(
                    "{earlier} and {name} hold the same run (run id {id}); merged twice, it would be counted twice."
                ));
            }
        }
    }
    Ok(())
}

/// Settings that may differ between the processes of one distributed run: each has
/// its own client range, addresses, share of clients and of `-L`.
const MAY_DIFFER: &[&str] = &["start_number", "ifaddr", "clients", "subscribers", "limit"];

/// One warning naming every other setting (and the mode) that differs between the
/// runs, with the values seen: such totals add up as if from one run, and what one
/// run published and no other subscribed to reads as loss.
fn differing_settings(reports: &[&Report]) -> Vec<String> {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut note = |key: &str, value: String| {
        let values = fields.entry(key.to_string()).or_default();
        if !values.contains(&value) {
            values.push(value);
        }
    };
    for r in reports {
        note("mode", json_text(&r.mode));
        for s in &r.settings {
            if let serde_json::Value::Object(map) = serde_json::to_value(s).unwrap_or_default() {
                for (k, v) in map
                    .iter()
                    .filter(|(k, _)| !MAY_DIFFER.contains(&k.as_str()))
                {
                    note(k, v.to_string());
                }
            }
        }
    }
    let differ: Vec<String> = fields
        .iter()
        .filter(|(_, values)| values.len() > 1)
        .map(|(k, values)| format!("{k} ({})", values.join(", ")))
        .collect();
    if differ.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "the merged runs differ in {}: their totals add up as if from one run, so what one run published and no other run's subscribers received reads as loss",
        differ.join(", ")
    )]
}

fn json_text(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn add_totals(acc: &mut Totals, t: &Totals) {
    acc.clients += t.clients;
    acc.connects_ok += t.connects_ok;
    for (k, v) in &t.connect_errors {
        *acc.connect_errors.entry(k.clone()).or_insert(0) += v;
    }
    acc.disconnects += t.disconnects;
    acc.connected_max += t.connected_max;
    acc.subscribed += t.subscribed;
    acc.sent += t.sent;
    acc.acked += t.acked;
    acc.publish_errors += t.publish_errors;
    acc.received += t.received;
    acc.expected = add_opt(acc.expected, t.expected);
    acc.lost = add_opt(acc.lost, t.lost);
    acc.gaps += t.gaps;
    acc.duplicates += t.duplicates;
    acc.out_of_order += t.out_of_order;
    acc.unparsed += t.unparsed;
}

fn add_rates(acc: &mut Rates, r: &Rates) {
    acc.connect_per_s += r.connect_per_s;
    acc.sent_per_s += r.sent_per_s;
    acc.acked_per_s += r.acked_per_s;
    acc.received_per_s += r.received_per_s;
}

/// Adds a run's per-second samples to those of the same Unix second.
fn add_series(acc: &mut BTreeMap<u64, Sample>, series: &[Sample]) {
    for s in series {
        let e = acc.entry(s.unix_s).or_insert_with(|| Sample {
            unix_s: s.unix_s,
            ..Sample::default()
        });
        e.connected += s.connected;
        e.sent += s.sent;
        e.acked += s.acked;
        e.received += s.received;
        e.e2e_p99_ms = match (e.e2e_p99_ms, s.e2e_p99_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Each latency histogram merged over the runs, then summarised again.
fn merge_latencies(reports: &[&Report]) -> Result<BTreeMap<String, Latency>, String> {
    let mut hists: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for r in reports {
        for (name, lat) in &r.latency {
            let h = lat.histogram()?;
            match hists.get_mut(name) {
                Some(acc) => merge_into(acc, &h),
                None => {
                    hists.insert(name.clone(), h);
                }
            }
        }
    }
    Ok(hists
        .iter()
        .map(|(k, h)| (k.clone(), Latency::from_histogram(h)))
        .collect())
}

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// A fresh run id: 128 random bits in hex.
pub fn new_run_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: the clock and the process id still tell runs apart.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        b[..8].copy_from_slice(&(t.as_nanos() as u64).to_le_bytes());
        b[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn read(path: &Path) -> Result<Report, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read {}: {}",
            path.display(),
            crate::exit::strerror(&e)
        )
    })?;
    serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not a bench report: {e}", path.display()))
}

pub fn write(path: &Path, r: &Report) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(r).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| {
        format!(
            "cannot write {}: {}",
            path.display(),
            crate::exit::strerror(&e)
        )
    })
}

/// 1234567 → "1,234,567".
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Windows shorter than this give no rate worth printing (one message in 6 µs is not
/// "169,750/s"): the summary shows "–" instead.
pub const MIN_RATE_WINDOW_S: f64 = 0.1;

/// A rate measured over `window_s` seconds, or "–" when the window is too short.
fn rate(r: f64, window_s: f64) -> String {
    if window_s < MIN_RATE_WINDOW_S {
        "–".into()
    } else if r >= 100.0 {
        format!("{}/s", thousands(r.round() as u64))
    } else {
        format!("{r:.1}/s")
    }
}

/// "1 publisher", "2 publishers".
fn count(n: u32, what: &str) -> String {
    format!(
        "{} {what}{}",
        thousands(u64::from(n)),
        if n == 1 { "" } else { "s" }
    )
}

/// The summary table printed at the end of a run.
pub fn summary(r: &Report) -> String {
    let mut o = String::new();
    let t = &r.totals;
    let _ = writeln!(o, "{}", headline(r));
    let _ = writeln!(
        o,
        "  time          {:.2} s elapsed, {:.2} s measured",
        r.elapsed_s, r.measured_s
    );
    let failed: u64 = t.connect_errors.values().sum();
    let _ = writeln!(
        o,
        "  connections   {} ok, {} failed, {} lost, {} max open ({})",
        thousands(t.connects_ok),
        thousands(failed),
        thousands(t.disconnects),
        thousands(t.connected_max),
        rate(r.rates.connect_per_s, r.ramp_s)
    );
    if r.mode != Mode::Conn {
        message_lines(&mut o, r);
    }
    latency_lines(&mut o, r);
    if t.connect_errors.is_empty() {
        let _ = writeln!(o, "  errors        none");
    } else {
        for (i, (k, v)) in t.connect_errors.iter().enumerate() {
            let label = if i == 0 { "errors" } else { "" };
            let _ = writeln!(o, "  {label:<12}  {} × {k}", thousands(*v));
        }
    }
    if let Some(b) = r.rss_bytes_per_connection {
        let _ = writeln!(o, "  memory        {b:.0} B RSS per connection");
    }
    for n in &r.notes {
        let _ = writeln!(o, "  note          {n}");
    }
    if r.measured_s < MIN_RATE_WINDOW_S || r.ramp_s < MIN_RATE_WINDOW_S {
        let _ = writeln!(
            o,
            "  note          –: measured over less than {MIN_RATE_WINDOW_S} s, too short for a rate"
        );
    }
    o
}

/// "mqtk bench MODE: what ran, against what".
fn headline(r: &Report) -> String {
    let head = match r.settings.as_slice() {
        [s] => {
            let pace = match s.interval_ms {
                Some(iv) => format!("every {iv} ms each"),
                None => "unpaced".into(),
            };
            let publishing = format!("QoS {}, {} B, {pace}", s.qos, s.size);
            let what = match s.mode {
                Mode::PubSub => format!(
                    "{} → {}, {publishing}",
                    count(s.clients, "publisher"),
                    count(s.subscribers, "subscriber")
                ),
                Mode::Pub => format!("{}, {publishing}", count(s.clients, "publisher")),
                // What subscribers choose: their filter and QoS; publishing is not theirs.
                Mode::Sub => format!(
                    "{} to {}, QoS {}",
                    count(s.clients, "subscriber"),
                    s.topic,
                    s.qos
                ),
                Mode::Conn => count(s.clients, "connection"),
            };
            format!("{what}, {} ({})", s.broker, s.protocol)
        }
        many => format!("{} merged runs", many.len()),
    };
    let mode = match r.mode {
        Mode::PubSub => "pub+sub",
        Mode::Pub => "pub",
        Mode::Sub => "sub",
        Mode::Conn => "conn",
    };
    format!("mqtk bench {mode}: {head}")
}

/// Sent and acked (publishers), received and loss (subscribers).
fn message_lines(o: &mut String, r: &Report) {
    let t = &r.totals;
    if r.mode != Mode::Sub {
        let _ = writeln!(
            o,
            "  sent          {} ({})",
            thousands(t.sent),
            rate(r.rates.sent_per_s, r.measured_s)
        );
        if r.settings.iter().any(|s| s.qos > 0) {
            let _ = writeln!(
                o,
                "  acked         {} ({}), {} refused",
                thousands(t.acked),
                rate(r.rates.acked_per_s, r.measured_s),
                thousands(t.publish_errors)
            );
        }
    }
    if r.mode != Mode::Pub {
        let _ = writeln!(
            o,
            "  received      {} ({})",
            thousands(t.received),
            rate(r.rates.received_per_s, r.measured_s)
        );
        let lost = match (t.lost, t.expected) {
            (Some(l), Some(e)) => format!("{} lost of {} expected", thousands(l), thousands(e)),
            _ => format!("{} missing in sequences", thousands(t.gaps)),
        };
        let _ = writeln!(
            o,
            "  loss          {lost}, {} duplicates, {} out of order, {} unparsed",
            thousands(t.duplicates),
            thousands(t.out_of_order),
            thousands(t.unparsed)
        );
    }
}

/// The latency table: one row per histogram with values.
fn latency_lines(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "  latency (ms)  {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "count", "p50", "p90", "p99", "p99.9", "max"
    );
    for name in ["connect", "ack", "e2e"] {
        if let Some(l) = r.latency.get(name).filter(|l| l.count > 0) {
            let _ = writeln!(
                o,
                "  {:<12}  {:>10} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                name,
                thousands(l.count),
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.p999_ms,
                l.max_ms
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::bench::stats::new_histogram;

    fn report(values: &[u64], sent: u64) -> Report {
        let mut h = new_histogram();
        for v in values {
            h.record(*v).unwrap();
        }
        Report {
            mqtk_version: "0".into(),
            run_ids: vec![new_run_id()],
            mode: Mode::Pub,
            settings: vec![RunSettings {
                mode: Mode::Pub,
                clients: 1,
                ..RunSettings::default()
            }],
            start_unix_ms: 1000,
            elapsed_s: 1.0,
            measured_s: 1.0,
            ramp_s: 0.5,
            totals: Totals {
                sent,
                ..Totals::default()
            },
            rates: Rates {
                sent_per_s: sent as f64,
                ..Rates::default()
            },
            latency: [("ack".to_string(), Latency::from_histogram(&h))].into(),
            series: vec![Sample {
                unix_s: 5,
                sent,
                ..Sample::default()
            }],
            notes: vec![],
            rss_bytes_per_connection: None,
        }
    }

    #[test]
    fn histograms_survive_json() {
        let r = report(&[1_000, 2_000_000, 3_000_000_000], 3);
        let text = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        let h = back.latency["ack"].histogram().unwrap();
        assert_eq!(h.len(), 3);
        assert!(h.equivalent(1_000, h.min()));
        assert!(h.equivalent(3_000_000_000, h.max()));
    }

    #[test]
    fn merge_adds_counts_and_merges_histograms() {
        let a = report(&[1_000_000; 90], 90);
        let b = report(&[100_000_000; 10], 10);
        let m = merge(&[("a".into(), a), ("b".into(), b)]).unwrap();
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        let m = m.report;
        assert_eq!(m.totals.sent, 100);
        assert_eq!(m.rates.sent_per_s, 100.0);
        assert_eq!(m.series.len(), 1);
        assert_eq!(m.series[0].sent, 100);
        let l = &m.latency["ack"];
        assert_eq!(l.count, 100);
        // Averaging the runs' p99s would give ~50 ms; the merged histogram knows the
        // top 10% are 100 ms.
        assert!((l.p50_ms - 1.0).abs() < 0.01, "{l:?}");
        assert!((l.p99_ms - 100.0).abs() < 0.1, "{l:?}");
        assert_eq!(m.settings.len(), 2);
        assert_eq!(m.run_ids.len(), 2);
    }

    #[test]
    fn merge_refuses_a_run_given_twice() {
        let a = report(&[1_000_000], 1);
        let b = report(&[1_000_000], 1);
        let e = merge(&[
            ("a.json".into(), a.clone()),
            ("again.json".into(), a.clone()),
        ])
        .err()
        .unwrap();
        assert!(
            e.starts_with("a.json and again.json hold the same run"),
            "{e}"
        );
        // Also inside a merged report.
        let ab = merge(&[("a".into(), a.clone()), ("b".into(), b)])
            .unwrap()
            .report;
        let e = merge(&[("ab.json".into(), ab), ("a.json".into(), a)])
            .err()
            .unwrap();
        assert!(e.contains("ab.json and a.json"), "{e}");
    }

    #[test]
    fn merge_warns_naming_the_settings_that_differ() {
        let a = report(&[1_000_000], 1);
        let mut b = report(&[1_000_000], 1);
        b.mode = Mode::Sub;
        b.settings[0].mode = Mode::Sub;
        b.settings[0].qos = 1;
        // Expected to differ between the parts of one distributed run: no warning.
        b.settings[0].start_number = 100;
        b.settings[0].clients = 3;
        let m = merge(&[("a".into(), a), ("b".into(), b)]).unwrap();
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        let w = &m.warnings[0];
        assert!(
            w.starts_with("the merged runs differ in mode (\"pub\", \"sub\"), qos (0, 1):"),
            "{w}"
        );
        assert!(!w.contains("start_number") && !w.contains("clients"), "{w}");
        assert!(m.report.notes.contains(w));
    }

    #[test]
    fn summary_counts_in_words_and_gives_no_rate_for_a_tiny_window() {
        let mut r = report(&[1_000_000], 1);
        r.measured_s = 0.000_006;
        r.rates.sent_per_s = 169_750.0;
        let s = summary(&r);
        assert!(s.starts_with("mqtk bench pub: 1 publisher, QoS 0"), "{s}");
        assert!(s.contains("  sent          1 (–)\n"), "{s}");
        assert!(s.contains("too short for a rate"), "{s}");
        assert!(
            s.contains("max open (0.0/s)"),
            "connect rate over 0.5 s: {s}"
        );
        r.measured_s = 0.5;
        r.settings[0].clients = 2;
        let s = summary(&r);
        assert!(s.starts_with("mqtk bench pub: 2 publishers"), "{s}");
        assert!(s.contains("  sent          1 (169,750/s)\n"), "{s}");
        assert!(!s.contains("too short"), "{s}");
    }

    #[test]
    fn a_sub_run_is_described_by_what_subscribers_choose() {
        let mut r = report(&[], 0);
        r.mode = Mode::Sub;
        r.settings[0] = RunSettings {
            mode: Mode::Sub,
            clients: 10,
            topic: "dev/+/t".into(),
            qos: 1,
            size: 256,
            broker: "localhost:1883".into(),
            protocol: "MQTT 3.1.1".into(),
            ..RunSettings::default()
        };
        let s = summary(&r);
        assert!(
            s.starts_with(
                "mqtk bench sub: 10 subscribers to dev/+/t, QoS 1, localhost:1883 (MQTT 3.1.1)\n"
            ),
            "{s}"
        );
        assert!(!s.contains("256 B") && !s.contains("unpaced"), "{s}");
    }

    #[test]
    fn summary_has_the_fields() {
        let s = summary(&report(&[1_000_000], 1));
        for f in ["sent", "latency (ms)", "p99", "ack", "errors"] {
            assert!(s.contains(f), "{f} missing in {s}");
        }
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
