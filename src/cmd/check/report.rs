//! The report of `mqtk check`: the JSON form (`--json`; a `probes` array with each
//! probe's name, status, value, announced value, deciding reason, time and the reason
//! codes the broker sent) and the table printed on a terminal.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::cli::check::info;
use crate::cmd::check::probe::{Outcome, Status};

/// Retained topics and session ids: what the run created, or what it left.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Things {
    pub retained: Vec<String>,
    pub sessions: Vec<String>,
}

impl Things {
    pub fn is_empty(&self) -> bool {
        self.retained.is_empty() && self.sessions.is_empty()
    }
}

/// One probe in the JSON report.
#[derive(Debug, Serialize)]
pub struct ProbeJson {
    pub name: &'static str,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The search stopped at its upper bound: the limit is at least `value`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ceiling: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announced: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disagreement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_size: Option<u64>,
    pub reason: String,
    pub ms: u64,
    /// The reason codes of the broker's packets, in order of first appearance.
    pub codes: Vec<String>,
}

impl From<Outcome> for ProbeJson {
    fn from(o: Outcome) -> ProbeJson {
        let v = o.verdict;
        ProbeJson {
            name: info(o.id).name,
            status: v.status,
            value: v.value,
            ceiling: v.ceiling,
            announced: v.announced,
            disagreement: v.disagreement,
            packet_size: v.packet_size,
            reason: v.reason,
            ms: o.ms,
            codes: o.codes,
        }
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub mqtk: &'static str,
    /// Where the broker is (`host:port`, and how: TLS, WebSocket, proxy).
    pub broker: String,
    /// The MQTT version the behaviour and limit probes spoke.
    pub protocol: &'static str,
    /// Every topic the run published to is under it.
    pub prefix: String,
    /// Every client id the run used starts with it.
    pub client_id_prefix: String,
    /// The v5 CONNACK properties of the first connection (empty below v5).
    pub connack: Value,
    pub probes: Vec<ProbeJson>,
    /// What the run may have created (noted before the packet that would create it),
    /// all checked and removed again unless listed in `left_behind`.
    pub created: Things,
    pub left_behind: Things,
    /// Every probe could run (no timeout, no error) and nothing was left behind: the
    /// exit status is 0.
    pub ok: bool,
}

impl Report {
    /// Whether the run counts as a success (see `ok`).
    pub fn succeeded(probes: &[ProbeJson], left_behind: &Things) -> bool {
        left_behind.is_empty()
            && probes
                .iter()
                .all(|p| !matches!(p.status, Status::Timeout | Status::Error))
    }

    pub fn json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            // Plain data of strings and numbers always serializes.
            format!("{{\"error\": \"{e}\"}}")
        });
        s.push('\n');
        s
    }

    /// The table for people.
    pub fn table(&self) -> String {
        let mut out = format!(
            "mqtk check: {}, probes on MQTT {}, topics under {}/\n\n",
            self.broker, self.protocol, self.prefix
        );
        let rows: Vec<[String; 5]> = self.probes.iter().map(row).collect();
        let head = [
            "probe".to_string(),
            "value".into(),
            "announced".into(),
            "ms".into(),
            "reason".into(),
        ];
        let widths: Vec<usize> = (0..4)
            .map(|i| {
                rows.iter()
                    .chain([&head])
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |mark: &str, r: &[String; 5]| {
            format!(
                " {mark}  {}  {}  {}  {:>w3$}  {}",
                pad(&r[0], widths[0]),
                pad(&r[1], widths[1]),
                pad(&r[2], widths[2]),
                r[3],
                r[4],
                w3 = widths[3]
            )
            .trim_end()
            .to_string()
        };
        let _ = writeln!(out, "{}", line(" ", &head));
        for (p, r) in self.probes.iter().zip(&rows) {
            let _ = writeln!(out, "{}", line(mark(p.status), r));
            if let Some(d) = &p.disagreement {
                let _ = writeln!(out, "    {}  ≠ {d}", pad("", widths[0]));
            }
        }
        self.footer(&mut out);
        out
    }

    fn footer(&self, out: &mut String) {
        if let Value::Object(m) = &self.connack
            && !m.is_empty()
        {
            let props: Vec<String> = m.iter().map(|(k, v)| format!("{k} {}", text(v))).collect();
            let _ = writeln!(out, "\nMQTT 5 CONNACK: {}", props.join(", "));
        }
        let count = |s: Status| self.probes.iter().filter(|p| p.status == s).count();
        let mut parts = vec![format!("{} supported", count(Status::Supported))];
        for (s, name) in [
            (Status::Unsupported, "unsupported"),
            (Status::NotApplicable, "not applicable"),
            (Status::Timeout, "timed out"),
            (Status::Error, "could not run"),
        ] {
            if count(s) > 0 {
                parts.push(format!("{} {name}", count(s)));
            }
        }
        let left = if self.left_behind.is_empty() {
            "Nothing left behind.".to_string()
        } else {
            format!(
                "Left behind: retained messages {:?}, sessions {:?}.",
                self.left_behind.retained, self.left_behind.sessions
            )
        };
        let _ = writeln!(
            out,
            "\n{} probes: {}. {left}\n✓ supported  ✗ unsupported  – not applicable  ? timed out  ! could not run",
            self.probes.len(),
            parts.join(", ")
        );
    }
}

fn mark(s: Status) -> &'static str {
    match s {
        Status::Supported => "✓",
        Status::Unsupported => "✗",
        Status::NotApplicable => "–",
        Status::Timeout => "?",
        Status::Error => "!",
    }
}

fn row(p: &ProbeJson) -> [String; 5] {
    let mut value = p.value.as_ref().map(text).unwrap_or_default();
    if p.ceiling {
        value = format!("≥ {value}");
    }
    if let Some(size) = p.packet_size {
        value = format!("{value} (packet {size})");
    }
    let announced = match &p.announced {
        // mqtt-5's announced value is the whole CONNACK, listed under the table.
        Some(Value::Object(_)) => "(below)".to_string(),
        Some(v) => text(v),
        None => String::new(),
    };
    [
        p.name.to_string(),
        value,
        announced,
        p.ms.to_string(),
        p.reason.clone(),
    ]
}

/// A JSON value as a table shows it.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(" + "),
        other => other.to_string(),
    }
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::check::ProbeId;
    use crate::cmd::check::probe::Verdict;

    fn report(outcomes: Vec<Outcome>, left: Things) -> Report {
        let probes: Vec<ProbeJson> = outcomes.into_iter().map(ProbeJson::from).collect();
        Report {
            mqtk: "0",
            broker: "127.0.0.1:1883".into(),
            protocol: "5",
            prefix: "mqtk-check/abc".into(),
            client_id_prefix: "mqtk-check-abc-".into(),
            connack: serde_json::json!({"maximum-qos": 1}),
            ok: Report::succeeded(&probes, &left),
            probes,
            created: Things::default(),
            left_behind: left,
        }
    }

    fn outcome(id: ProbeId, v: Verdict) -> Outcome {
        Outcome {
            id,
            verdict: v,
            ms: 3,
            codes: vec!["SUBACK 0x01".into()],
        }
    }

    #[test]
    fn json_has_every_field_of_a_probe() {
        let mut v = Verdict::unsupported("DISCONNECT 0x9B QoS not supported")
            .announced(Some(Value::from(1)))
            .against(Some(false));
        v.value = None;
        let r = report(vec![outcome(ProbeId::Qos2, v)], Things::default());
        let j: Value = serde_json::from_str(&r.json()).unwrap();
        let p = &j["probes"][0];
        assert_eq!(p["name"], "qos-2");
        assert_eq!(p["status"], "unsupported");
        assert_eq!(p["announced"], 1);
        assert_eq!(p["reason"], "DISCONNECT 0x9B QoS not supported");
        assert_eq!(p["ms"], 3);
        assert_eq!(p["codes"][0], "SUBACK 0x01");
        assert!(p.get("value").is_none());
        assert!(p.get("disagreement").is_none());
        assert_eq!(j["ok"], true);
    }

    #[test]
    fn a_timeout_or_a_leftover_fails_the_run() {
        let t = Verdict {
            status: Status::Timeout,
            ..Verdict::supported("x")
        };
        assert!(!report(vec![outcome(ProbeId::Will, t)], Things::default()).ok);
        let left = Things {
            retained: vec!["mqtk-check/abc/retain".into()],
            sessions: Vec::new(),
        };
        assert!(!report(Vec::new(), left).ok);
    }

    #[test]
    fn the_table_marks_values_ceilings_and_disagreements() {
        let mut limit =
            Verdict::supported("1048576 bytes (--max-payload) got through").value(1_048_576);
        limit.ceiling = true;
        let na = Verdict::not_applicable("needs MQTT 5");
        let wild = Verdict::unsupported("SUBACK 0xA2").against(None);
        let r = report(
            vec![
                outcome(ProbeId::MaxPayload, limit),
                outcome(ProbeId::NoLocal, na),
                outcome(ProbeId::WildcardPlus, wild),
            ],
            Things::default(),
        );
        let t = r.table();
        assert!(t.contains(" ✓  max-payload    ≥ 1048576"), "{t}");
        assert!(t.contains(" –  no-local"), "{t}");
        assert!(t.contains(" ✗  wildcard-plus"), "{t}");
        assert!(
            t.contains("≠ announced as available, but it does not work"),
            "{t}"
        );
        assert!(t.contains("MQTT 5 CONNACK: maximum-qos 1"), "{t}");
        assert!(
            t.contains(
                "3 probes: 1 supported, 1 unsupported, 1 not applicable. Nothing left behind."
            ),
            "{t}"
        );
    }
}
