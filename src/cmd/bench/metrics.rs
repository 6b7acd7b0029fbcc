//! What `--metrics` serves: a `Snapshot` of the run (the report's totals, the live
//! gauges, the latency histograms) encoded by the `prometheus-client` crate, as
//! OpenMetrics or as Prometheus text. Every family is named `mqtk_bench_…` (counters
//! `…_total`, latencies in seconds) and every series has the `shard` label. Nothing
//! is counted here: the snapshot is taken from the same counters the report uses, at
//! each scrape, so the run's hot path pays nothing for metrics, and at the end of a
//! run the counters are the report's totals exactly.

use std::borrow::Cow;
use std::fmt;

use hdrhistogram::Histogram;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use crate::cmd::bench::report::Totals;

/// Every family's name starts with this (and `_`).
pub const PREFIX: &str = "mqtk_bench";

/// Classic histogram buckets, in seconds: 100 µs to 10 s, 1-2.5-5 steps.
pub const BUCKETS_S: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// One latency histogram as Prometheus buckets.
#[derive(Clone, Debug, PartialEq)]
pub struct Buckets {
    /// Samples in total: the report's latency count, exactly.
    pub count: u64,
    /// Their sum in seconds, from the HDR histogram's bins (within its 0.1%).
    pub sum_s: f64,
    /// Samples per bucket (not cumulative), one per `BUCKETS_S` bound and `+Inf` last.
    pub per_bucket: Vec<(f64, u64)>,
}

impl Buckets {
    /// An HDR histogram of nanoseconds in `BUCKETS_S`. A value counts in the first
    /// bucket whose bound its HDR bin reaches, so a bound is exact within the
    /// histogram's resolution (0.1%).
    pub fn from_hdr(h: &Histogram<u64>) -> Buckets {
        let mut per_bucket: Vec<(f64, u64)> = BUCKETS_S
            .iter()
            .map(|&b| (b, 0))
            .chain([(f64::INFINITY, 0)])
            .collect();
        for v in h.iter_recorded() {
            let ns = h.lowest_equivalent(v.value_iterated_to());
            let i = BUCKETS_S
                .iter()
                .position(|&b| ns as f64 <= b * 1e9)
                .unwrap_or(BUCKETS_S.len());
            per_bucket[i].1 += v.count_at_value();
        }
        Buckets {
            count: h.len(),
            sum_s: h.mean() * h.len() as f64 / 1e9,
            per_bucket,
        }
    }
}

/// The run as the metrics show it at one instant.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The `shard` label's value: the shard index (0 without `--shard`).
    pub shard: String,
    /// Whether the run is still going (0 once it ended, while `--metrics-linger`).
    pub running: bool,
    /// When the measured phase started (publishing; conn: connecting), Unix seconds.
    pub start_unix_s: Option<f64>,
    /// Connections open now.
    pub connected: u64,
    /// Counts as the report has them (`lost` only once the run has ended).
    pub totals: Totals,
    /// Messages sent, acknowledged and received in the last whole second.
    pub per_second: (u64, u64, u64),
    /// "connect", "ack", "e2e": the histograms the report has.
    pub latency: Vec<(String, Buckets)>,
}

impl Snapshot {
    /// The exposition: OpenMetrics (`openmetrics`, what Prometheus asks for) or the
    /// Prometheus text format 0.0.4, both written by `prometheus-client`.
    pub fn encode(self, openmetrics: bool) -> String {
        let label: (Cow<'static, str>, Cow<'static, str>) =
            (Cow::Borrowed("shard"), Cow::Owned(self.shard.clone()));
        let mut registry = Registry::with_prefix_and_labels(PREFIX, [label].into_iter());
        registry.register_collector(Box::new(self));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        };
        out
    }
}

/// The content type of each exposition.
pub fn content_type(openmetrics: bool) -> &'static str {
    if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE
    }
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge<N>(e: &mut DescriptorEncoder, name: &str, help: &str, v: N) -> fmt::Result
where
    N: prometheus_client::encoding::EncodeGaugeValue,
{
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let t = &self.totals;
        let counters: [(&str, &str, u64); 11] = [
            ("sent", "Messages published.", t.sent),
            (
                "acked",
                "QoS 1/2 messages acknowledged (PUBACK, PUBCOMP).",
                t.acked,
            ),
            (
                "publish_refused",
                "QoS 1/2 messages the broker refused (reason code 0x80 or above).",
                t.publish_errors,
            ),
            (
                "received",
                "Messages received by the subscribers (retained messages of earlier runs left out).",
                t.received,
            ),
            (
                "duplicates",
                "Messages received again (the same publisher and sequence number, per subscriber).",
                t.duplicates,
            ),
            (
                "out_of_order",
                "Messages that arrived after a later one of the same publisher.",
                t.out_of_order,
            ),
            (
                "unparsed",
                "Messages without a bench payload header.",
                t.unparsed,
            ),
            (
                "connect_attempts",
                "Connections attempted.",
                t.connect_attempts,
            ),
            (
                "connects",
                "Connections made (CONNACK accepted).",
                t.connects_ok,
            ),
            (
                "disconnects",
                "Connections lost during the run.",
                t.disconnects,
            ),
            (
                "subscribed",
                "Subscriptions the broker granted.",
                t.subscribed,
            ),
        ];
        for (name, help, v) in counters {
            counter(&mut e, name, help, v)?;
        }
        if let Some(expected) = t.expected {
            counter(
                &mut e,
                "expected",
                "Deliveries the subscribers should get for what was sent (default mode).",
                expected,
            )?;
            counter(
                &mut e,
                "lost",
                "Expected deliveries that never arrived; counted when the run ends (0 until then, as messages in flight are not lost).",
                t.lost.unwrap_or(0),
            )?;
        }
        let mut errors = e.encode_descriptor(
            "connection_errors",
            "Failed connections and connections ended by an error, by reason (the report's connect_errors).",
            None,
            MetricType::Counter,
        )?;
        for (reason, n) in &t.connect_errors {
            let labels = [("reason", reason.as_str())];
            let member = errors.encode_family(&labels)?;
            ConstCounter::new(*n).encode(member)?;
        }
        self.encode_gauges(&mut e)?;
        for (name, b) in &self.latency {
            let help = match name.as_str() {
                "connect" => "Connect latency: TCP (TLS, WebSocket) connect to CONNACK.",
                "ack" => "Publish-to-acknowledgement latency, from each message's due time.",
                _ => "End-to-end latency: from each message's due time to its delivery.",
            };
            let unit = Unit::Seconds;
            let family = format!("{name}_latency");
            let mut m = e.encode_descriptor(&family, help, Some(&unit), MetricType::Histogram)?;
            m.encode_histogram::<NoLabelSet>(b.sum_s, b.count, &b.per_bucket, None)?;
        }
        Ok(())
    }
}

impl Snapshot {
    fn encode_gauges(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        gauge(
            e,
            "running",
            "1 while the run lasts, 0 after it (while --metrics-linger keeps serving).",
            u64::from(self.running),
        )?;
        gauge(
            e,
            "connected_clients",
            "Connections open now.",
            self.connected,
        )?;
        gauge(
            e,
            "sequence_gaps",
            "Missing sequence numbers below the highest seen, per publisher and subscriber (falls when late messages arrive).",
            self.totals.gaps,
        )?;
        let (sent, acked, received) = self.per_second;
        gauge(
            e,
            "sent_per_second",
            "Messages published in the last whole second.",
            sent,
        )?;
        gauge(
            e,
            "acked_per_second",
            "Messages acknowledged in the last whole second.",
            acked,
        )?;
        gauge(
            e,
            "received_per_second",
            "Messages received in the last whole second.",
            received,
        )?;
        if let Some(s) = self.start_unix_s {
            gauge(
                e,
                "start_time_seconds",
                "When the measured phase started (publishing; conn: connecting), Unix time.",
                s,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::bench::stats::new_histogram;

    fn snapshot() -> Snapshot {
        let mut h = new_histogram();
        for ns in [50_000u64, 1_000_000, 1_000_000, 3_000_000, 20_000_000_000] {
            h.record(ns).unwrap();
        }
        Snapshot {
            shard: "3".into(),
            running: true,
            start_unix_s: Some(1_767_225_600.25),
            connected: 4,
            totals: Totals {
                sent: 10,
                acked: 9,
                received: 8,
                expected: Some(10),
                lost: Some(2),
                connect_attempts: 5,
                connects_ok: 4,
                connect_errors: [("ECONNREFUSED".to_string(), 1)].into(),
                ..Totals::default()
            },
            per_second: (3, 2, 1),
            latency: vec![("e2e".into(), Buckets::from_hdr(&h))],
        }
    }

    /// The sample lines: name, labels, value.
    fn samples(text: &str) -> Vec<(String, String, String)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').unwrap();
                let (name, labels) = series.split_once('{').unwrap_or((series, ""));
                (
                    name.into(),
                    labels.trim_end_matches('}').into(),
                    value.into(),
                )
            })
            .collect()
    }

    #[test]
    fn names_follow_prometheus_conventions_and_carry_the_shard() {
        for openmetrics in [true, false] {
            let text = snapshot().encode(openmetrics);
            let types: Vec<(&str, &str)> = text
                .lines()
                .filter_map(|l| l.strip_prefix("# TYPE "))
                .map(|l| l.split_once(' ').unwrap())
                .collect();
            for (name, kind) in &types {
                assert!(name.starts_with("mqtk_bench_"), "{name}");
                if *kind == "histogram" {
                    assert!(name.ends_with("_seconds"), "{name}");
                }
            }
            let s = samples(&text);
            assert!(s.len() > 20, "{text}");
            for (name, labels, _) in &s {
                assert!(name.starts_with("mqtk_bench_"), "{name}");
                assert!(labels.contains("shard=\"3\""), "{name}{{{labels}}}");
                // The longest TYPE name the sample's name starts with
                // (`mqtk_bench_sent` is a prefix of `mqtk_bench_sent_per_second`).
                let family = types
                    .iter()
                    .filter(|(t, _)| name.starts_with(t))
                    .max_by_key(|(t, _)| t.len())
                    .unwrap_or_else(|| panic!("{name} has no TYPE"));
                match family.1 {
                    "counter" => assert!(name.ends_with("_total"), "{name}"),
                    "gauge" => assert!(!name.ends_with("_total"), "{name}"),
                    "histogram" => assert!(
                        ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|x| name.ends_with(x)),
                        "{name}"
                    ),
                    other => panic!("{name}: type {other}"),
                }
            }
            let value = |n: &str, extra: &str| {
                s.iter()
                    .find(|(name, l, _)| name == n && l.contains(extra))
                    .map(|(_, _, v)| v.clone())
                    .unwrap_or_else(|| panic!("{n} {extra} missing in\n{text}"))
            };
            assert_eq!(value("mqtk_bench_sent_total", ""), "10");
            assert_eq!(value("mqtk_bench_lost_total", ""), "2");
            assert_eq!(value("mqtk_bench_connect_attempts_total", ""), "5");
            assert_eq!(
                value(
                    "mqtk_bench_connection_errors_total",
                    "reason=\"ECONNREFUSED\""
                ),
                "1"
            );
            assert_eq!(value("mqtk_bench_connected_clients", ""), "4");
            assert_eq!(value("mqtk_bench_e2e_latency_seconds_count", ""), "5");
            assert_eq!(
                value("mqtk_bench_e2e_latency_seconds_bucket", "le=\"0.001\""),
                "3"
            );
            // OpenMetrics writes bounds as floats ("10.0"), Prometheus text as "10".
            let le10 = if openmetrics {
                "le=\"10.0\""
            } else {
                "le=\"10\""
            };
            assert_eq!(value("mqtk_bench_e2e_latency_seconds_bucket", le10), "4");
            assert_eq!(
                value("mqtk_bench_e2e_latency_seconds_bucket", "le=\"+Inf\""),
                "5"
            );
            assert_eq!(text.ends_with("# EOF\n"), openmetrics, "{text}");
        }
    }

    #[test]
    fn buckets_count_every_sample_once() {
        let mut h = new_histogram();
        for ns in 1..=10_000u64 {
            h.record(ns * 1_000).unwrap();
        }
        let b = Buckets::from_hdr(&h);
        assert_eq!(b.count, 10_000);
        assert_eq!(b.per_bucket.iter().map(|(_, n)| n).sum::<u64>(), 10_000);
        // 1 µs … 10 ms: 100 up to 100 µs, 1000 up to 1 ms.
        assert_eq!(b.per_bucket[0], (0.0001, 100));
        let to_1ms: u64 = b.per_bucket[..4].iter().map(|(_, n)| n).sum();
        assert_eq!(to_1ms, 1000);
        assert!((b.sum_s - 50.005).abs() < 0.05, "{}", b.sum_s);
    }
}
