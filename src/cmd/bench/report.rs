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

/// Combines reports: totals and rates add up (the runs ran side by side), histograms
/// merge, the series line up by Unix second.
pub fn merge(reports: &[Report]) -> Result<Report, String> {
    let first = reports.first().ok_or("no reports to merge")?;
    let mode = if reports.iter().all(|r| r.mode == first.mode) {
        first.mode
    } else {
        Mode::PubSub
    };
    let mut hists: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut totals = Totals::default();
    let mut rates = Rates::default();
    let mut series: BTreeMap<u64, Sample> = BTreeMap::new();
    let mut settings = Vec::new();
    let mut notes = Vec::new();
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
        let t = &r.totals;
        totals.clients += t.clients;
        totals.connects_ok += t.connects_ok;
        for (k, v) in &t.connect_errors {
            *totals.connect_errors.entry(k.clone()).or_insert(0) += v;
        }
        totals.disconnects += t.disconnects;
        totals.connected_max += t.connected_max;
        totals.subscribed += t.subscribed;
        totals.sent += t.sent;
        totals.acked += t.acked;
        totals.publish_errors += t.publish_errors;
        totals.received += t.received;
        totals.expected = add_opt(totals.expected, t.expected);
        totals.lost = add_opt(totals.lost, t.lost);
        totals.gaps += t.gaps;
        totals.duplicates += t.duplicates;
        totals.out_of_order += t.out_of_order;
        totals.unparsed += t.unparsed;
        rates.connect_per_s += r.rates.connect_per_s;
        rates.sent_per_s += r.rates.sent_per_s;
        rates.acked_per_s += r.rates.acked_per_s;
        rates.received_per_s += r.rates.received_per_s;
        for s in &r.series {
            let e = series.entry(s.unix_s).or_insert_with(|| Sample {
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
        settings.extend(r.settings.iter().cloned());
        notes.extend(r.notes.iter().cloned());
    }
    Ok(Report {
        mqtk_version: env!("CARGO_PKG_VERSION").to_string(),
        mode,
        settings,
        start_unix_ms: reports.iter().map(|r| r.start_unix_ms).min().unwrap_or(0),
        elapsed_s: reports.iter().map(|r| r.elapsed_s).fold(0.0, f64::max),
        measured_s: reports.iter().map(|r| r.measured_s).fold(0.0, f64::max),
        totals,
        rates,
        latency: hists
            .iter()
            .map(|(k, h)| (k.clone(), Latency::from_histogram(h)))
            .collect(),
        series: series.into_values().collect(),
        notes,
        rss_bytes_per_connection: None,
    })
}

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
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

fn rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{}/s", thousands(r.round() as u64))
    } else {
        format!("{r:.1}/s")
    }
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
        rate(r.rates.connect_per_s)
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
    o
}

/// "mqtk bench MODE: what ran, against what".
fn headline(r: &Report) -> String {
    let head = match r.settings.as_slice() {
        [s] => {
            let what = match s.mode {
                Mode::PubSub => format!("{} publishers → {} subscribers", s.clients, s.subscribers),
                Mode::Pub => format!("{} publishers", s.clients),
                Mode::Sub => format!("{} subscribers", s.clients),
                Mode::Conn => format!("{} connections", s.clients),
            };
            let msgs = if s.mode == Mode::Conn {
                String::new()
            } else {
                let pace = match s.interval_ms {
                    Some(iv) => format!("every {iv} ms each"),
                    None => "unpaced".into(),
                };
                format!(", QoS {}, {} B, {pace}", s.qos, s.size)
            };
            format!("{what}{msgs}, {} ({})", s.broker, s.protocol)
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
            rate(r.rates.sent_per_s)
        );
        if r.settings.iter().any(|s| s.qos > 0) {
            let _ = writeln!(
                o,
                "  acked         {} ({}), {} refused",
                thousands(t.acked),
                rate(r.rates.acked_per_s),
                thousands(t.publish_errors)
            );
        }
    }
    if r.mode != Mode::Pub {
        let _ = writeln!(
            o,
            "  received      {} ({})",
            thousands(t.received),
            rate(r.rates.received_per_s)
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
            mode: Mode::Pub,
            settings: vec![RunSettings::default()],
            start_unix_ms: 1000,
            elapsed_s: 1.0,
            measured_s: 1.0,
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
        let m = merge(&[a, b]).unwrap();
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
