//! `mqtk check` against the in-process broker and Debian's mosquitto (its default
//! configuration, and one with `max_packet_size`, `max_keepalive`, `retain_available
//! false` and `max_qos 1`): the reported values are asserted against what each broker
//! announces and is configured with, and an independent client (rumqttc) then checks
//! that no retained message and no session of the run is left. Also: the table,
//! `--json FILE`, `--list`, usage errors, an unreachable broker, and a probe that
//! times out while the others go on.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;
use std::time::Duration;

use rumqttc::v5::mqttbytes::v5::Packet as P5;
use serde_json::Value;
use tokio::time::timeout;

use crate::util::{Mosquitto, Sandbox, TestBroker, assert_code, describe, run_with_timeout};

/// How long a whole run may take (a full run takes a few seconds).
const RUN_LIMIT: Duration = Duration::from_secs(120);
/// How long the verifying client waits for each answer.
const WAIT: Duration = Duration::from_secs(5);

/// The configuration of the limited mosquitto.
const LIMITED: &str = "max_packet_size 10000\nmax_keepalive 120\nretain_available false\nmax_qos 1";

/// Runs `mqtk check -p PORT ARGS`.
fn check(port: u16, args: &[&str]) -> Output {
    let sb = Sandbox::new();
    run_with_timeout(
        sb.mqtk()
            .args(["check", "-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args),
        RUN_LIMIT,
    )
}

/// Runs `mqtk check --json -` and parses the report; exit status 0 expected.
fn report(port: u16, args: &[&str]) -> Value {
    let out = check(port, &[&["--json", "-"], args].concat());
    assert_code(&out, 0);
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", describe(&out)))
}

/// The entry of probe `name`.
fn probe<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["probes"]
        .as_array()
        .expect("a probes array")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no probe {name} in {r:#}"))
}

fn status<'a>(r: &'a Value, name: &str) -> &'a str {
    probe(r, name)["status"].as_str().expect("a status")
}

/// A CONNACK property the broker announced (v5 runs).
fn announced(r: &Value, prop: &str) -> Option<u64> {
    r["connack"][prop].as_u64()
}

/// What any broker's report must say, given what the broker announced: each
/// availability the CONNACK states is what the probe measured; the limits carry
/// their announced values; every probe has its fields.
fn assert_consistent(r: &Value) {
    assert_eq!(r["ok"], true, "{r:#}");
    assert_eq!(
        r["left_behind"],
        serde_json::json!({"retained": [], "sessions": []})
    );
    for p in r["probes"].as_array().unwrap() {
        assert!(p["ms"].is_u64() && p["reason"].is_string(), "{p}");
        assert!(p["codes"].is_array(), "{p}");
        let s = p["status"].as_str().unwrap();
        assert!(
            ["supported", "unsupported", "not-applicable"].contains(&s),
            "a probe could not run: {p}"
        );
    }
    for name in ["mqtt-3.1", "mqtt-3.1.1", "mqtt-5", "qos-0", "qos-1", "will"] {
        assert_eq!(status(r, name), "supported", "{name}: {r:#}");
    }
    if r["protocol"] != "5" {
        return;
    }
    let max_qos = announced(r, "maximum-qos").unwrap_or(2);
    for n in 0..=2u64 {
        let want = if n <= max_qos {
            "supported"
        } else {
            "unsupported"
        };
        assert_eq!(status(r, &format!("qos-{n}")), want, "{r:#}");
    }
    let flags = [
        ("retain-available", "retain"),
        ("wildcard-subscription-available", "wildcard-plus"),
        ("wildcard-subscription-available", "wildcard-hash"),
        ("shared-subscription-available", "shared-subscription"),
        (
            "subscription-identifier-available",
            "subscription-identifier",
        ),
    ];
    for (prop, name) in flags {
        let want = if announced(r, prop).unwrap_or(1) == 1 {
            "supported"
        } else {
            "unsupported"
        };
        assert_eq!(status(r, name), want, "{name}: {r:#}");
        assert!(probe(r, name).get("disagreement").is_none(), "{r:#}");
    }
    // The keepalive probe asks for 65,535 s: granted unless its CONNACK says less.
    let keepalive = probe(r, "keepalive");
    match keepalive["announced"].as_u64() {
        Some(s) => assert_eq!(keepalive["value"], s),
        None => assert_eq!(keepalive["value"], 65535),
    }
    let payload = probe(r, "max-payload");
    if let Some(m) = announced(r, "maximum-packet-size") {
        assert_eq!(payload["announced"], m);
        let size = payload["packet_size"].as_u64().expect("a packet size");
        assert!(
            size.abs_diff(m) * 100 <= m,
            "{size} is not within 1 % of {m}"
        );
    } else {
        assert_eq!(payload["ceiling"], true, "{payload}");
    }
}

/// An independent client's look at the broker after a run: no retained message under
/// mqtk-check/, and no session for any client id the run made persistent.
fn assert_nothing_left(port: u16, sessions: &[String]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(retained_under_prefix(port).await, Vec::<String>::new());
        for id in sessions {
            assert!(!session_present(port, id).await, "{id} still has a session");
        }
    });
}

/// The retained messages under `mqtk-check/#`: those that arrive before a marker the
/// same client publishes after its SUBACK.
async fn retained_under_prefix(port: u16) -> Vec<String> {
    let o = rumqttc::MqttOptions::new("verify-retained", "127.0.0.1", port);
    let (c, mut ev) = rumqttc::AsyncClient::new(o, 10);
    c.subscribe("mqtk-check/#", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut found = Vec::new();
    loop {
        let e = timeout(WAIT, ev.poll()).await.expect("events in time");
        match e.expect("the verifying client stays connected") {
            rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => {
                c.publish(
                    "mqtk-check/verify-marker",
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    "m",
                )
                .await
                .unwrap();
            }
            rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => {
                if p.topic == "mqtk-check/verify-marker" {
                    return found;
                }
                if p.retain {
                    found.push(p.topic);
                }
            }
            _ => {}
        }
    }
}

/// Whether the broker holds a session for `id` (v5 clean start 0, session expiry 0:
/// the look itself leaves nothing).
async fn session_present(port: u16, id: &str) -> bool {
    let mut o = rumqttc::v5::MqttOptions::new(id, "127.0.0.1", port);
    o.set_clean_start(false);
    let (c, mut ev) = rumqttc::v5::AsyncClient::new(o, 10);
    loop {
        let e = timeout(WAIT, ev.poll()).await.expect("CONNACK in time");
        if let rumqttc::v5::Event::Incoming(P5::ConnAck(a)) = e.expect("connects") {
            c.disconnect().await.unwrap();
            while let Ok(Ok(_)) = timeout(WAIT, ev.poll()).await {}
            return a.session_present;
        }
    }
}

/// The session client ids a report says the run created.
fn sessions(r: &Value) -> Vec<String> {
    r["created"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The client ids mosquitto logged as connecting with clean start 0 (persistent).
fn persistent_ids_in_log(log: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(log)
        .lines()
        .filter(|l| l.contains("New client connected") && l.contains(", c0,"))
        .filter_map(|l| {
            l.split(" as ")
                .nth(1)?
                .split(' ')
                .next()
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn the_embedded_broker_does_what_it_announces_and_keeps_nothing() {
    let b = TestBroker::start();
    let r = report(b.port(), &[]);
    assert_eq!(r["protocol"], "5");
    assert_consistent(&r);
    let prefix = r["prefix"].as_str().unwrap();
    assert!(prefix.starts_with("mqtk-check/") && prefix.len() == "mqtk-check/".len() + 6);
    for name in [
        "shared-subscription",
        "no-local",
        "retain-as-published",
        "topic-alias",
    ] {
        assert_eq!(status(&r, name), "supported", "{name}: {r:#}");
    }
    for name in ["session-resume", "message-expiry", "sys-topics"] {
        assert_eq!(status(&r, name), "supported", "{name}: {r:#}");
    }
    assert!(
        probe(&r, "sys-topics")["value"]
            .as_str()
            .unwrap()
            .starts_with("mqtk version")
    );
    // mosquitto's TOPIC_HIERARCHY_LIMIT, adopted: 200 '/', so 201 levels.
    let levels = probe(&r, "max-topic-levels");
    assert_eq!(levels["value"], 201, "{r:#}");
    assert_eq!(levels["reason"], "201 levels got through, 202 did not");
    // What the run created, all under its prefix, and removed.
    let created = &r["created"];
    assert!(created["retained"].as_array().unwrap().len() >= 2, "{r:#}");
    for t in created["retained"].as_array().unwrap() {
        assert!(t.as_str().unwrap().starts_with(prefix), "{t}");
    }
    assert!(sessions(&r).len() >= 2, "{r:#}");
    assert_nothing_left(b.port(), &sessions(&r));
}

#[test]
fn the_embedded_broker_with_a_packet_size_limit() {
    let mut config = TestBroker::config();
    config.max_packet_size = 10_000;
    let b = TestBroker::start_with(config);
    let only = "max-topic-length,max-client-id-length,max-payload,retain,qos-2";
    let r = report(b.port(), &["--only", only]);
    assert_eq!(announced(&r, "maximum-packet-size"), Some(10_000));
    let size = probe(&r, "max-payload")["packet_size"].as_u64().unwrap();
    assert!(size.abs_diff(10_000) <= 100, "{r:#}");
    // A topic and a client id cannot be longer than the packet that carries them.
    for name in ["max-topic-length", "max-client-id-length"] {
        let v = probe(&r, name)["value"].as_u64().unwrap();
        assert!((9_900..10_000).contains(&v), "{name} {v}");
    }
    assert_nothing_left(b.port(), &sessions(&r));
}

#[test]
fn mosquitto_with_its_default_configuration() {
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let r = report(m.port, &[]);
    assert_eq!(r["protocol"], "5");
    assert_consistent(&r);
    for name in [
        "retain",
        "shared-subscription",
        "no-local",
        "retain-as-published",
    ] {
        assert_eq!(status(&r, name), "supported", "{name}: {r:#}");
    }
    for name in ["session-resume", "message-expiry", "topic-alias"] {
        assert_eq!(status(&r, name), "supported", "{name}: {r:#}");
    }
    assert_eq!(probe(&r, "topic-alias")["announced"], 10);
    // mosquitto refuses topics with more than 200 '/' (TOPIC_HIERARCHY_LIMIT).
    assert_eq!(probe(&r, "max-topic-levels")["value"], 201);
    for name in ["max-topic-length", "max-client-id-length", "max-payload"] {
        assert_eq!(probe(&r, name)["ceiling"], true, "{name}: {r:#}");
    }
    assert!(
        probe(&r, "sys-topics")["value"]
            .as_str()
            .unwrap()
            .starts_with("mosquitto version")
    );
    let mut ids = sessions(&r);
    assert_nothing_left(m.port, &ids);
    let log = m.kill().stderr;
    let logged = persistent_ids_in_log(&log);
    assert!(!logged.is_empty());
    ids.sort();
    for id in logged {
        assert!(ids.binary_search(&id).is_ok(), "{id} is not in the report");
    }
}

#[test]
fn mosquitto_with_limits_announced_and_measured() {
    let Some(m) = Mosquitto::start(LIMITED) else {
        return;
    };
    let r = report(m.port, &[]);
    assert_consistent(&r);
    assert_eq!(announced(&r, "maximum-qos"), Some(1));
    assert_eq!(announced(&r, "retain-available"), Some(0));
    let qos2 = probe(&r, "qos-2");
    assert_eq!(qos2["status"], "unsupported");
    assert_eq!(qos2["announced"], 1);
    assert!(qos2["reason"].as_str().unwrap().contains("0x9B"), "{qos2}");
    let retain = probe(&r, "retain");
    assert_eq!(retain["announced"], false);
    assert!(
        retain["reason"].as_str().unwrap().contains("0x9A"),
        "{retain}"
    );
    assert_eq!(status(&r, "retain-as-published"), "not-applicable");
    // max_packet_size 10000: the largest PUBLISH that gets through (mosquitto 2.0
    // does not count the length bytes, so a little over) and the payload in it.
    let payload = probe(&r, "max-payload");
    let size = payload["packet_size"].as_u64().unwrap();
    assert!((10_000..=10_100).contains(&size), "{payload}");
    assert!(payload["value"].as_u64().unwrap() < size);
    let keepalive = probe(&r, "keepalive");
    assert_eq!(
        (&keepalive["value"], &keepalive["announced"]),
        (&Value::from(120), &Value::from(120))
    );
    assert_nothing_left(m.port, &sessions(&r));
}

#[test]
fn mosquitto_with_limits_on_mqtt_3_1_1() {
    let Some(m) = Mosquitto::start(LIMITED) else {
        return;
    };
    let r = report(m.port, &["-V", "311", "--skip", "sys-topics"]);
    assert_eq!(r["protocol"], "3.1.1");
    assert_consistent(&r);
    // Nothing is announced below v5: only measured.
    for name in ["qos-2", "retain"] {
        let p = probe(&r, name);
        assert_eq!(p["status"], "unsupported", "{p}");
        assert_eq!(p["reason"], "the broker closed the connection", "{p}");
        assert!(
            p.get("announced").is_none() && p.get("disagreement").is_none(),
            "{p}"
        );
    }
    for name in [
        "no-local",
        "retain-as-published",
        "message-expiry",
        "topic-alias",
    ] {
        assert_eq!(status(&r, name), "not-applicable", "{name}");
    }
    assert_eq!(status(&r, "session-resume"), "supported");
    let size = probe(&r, "max-payload")["packet_size"].as_u64().unwrap();
    assert!((10_000..=10_100).contains(&size), "{r:#}");
    assert_nothing_left(m.port, &sessions(&r));
}

#[test]
fn the_table_and_a_json_file() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let json = sb.file("report.json");
    let out = run_with_timeout(
        sb.mqtk()
            .args([
                "check",
                "-p",
                &b.port().to_string(),
                "--only",
                "qos-1,retain,no-local",
            ])
            .arg("--json")
            .arg(&json),
        RUN_LIMIT,
    );
    assert_code(&out, 0);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("probes on MQTT 5"), "{table}");
    assert!(table.contains(" ✓  qos-1     1"), "{table}");
    assert!(table.contains(" ✓  retain"), "{table}");
    assert!(
        table.contains("3 probes: 3 supported. Nothing left behind."),
        "{table}"
    );
    let r: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["probes"].as_array().unwrap().len(), 3);
}

#[test]
fn list_and_usage_errors() {
    let sb = Sandbox::new();
    let out = run_with_timeout(sb.mqtk().args(["check", "--list"]), RUN_LIMIT);
    assert_code(&out, 0);
    let list = String::from_utf8(out.stdout).unwrap();
    assert_eq!(list.lines().count(), 23, "{list}");
    for name in [
        "mqtt-3.1 ",
        "qos-2 ",
        "shared-subscription ",
        "max-payload ",
        "keepalive ",
    ] {
        assert!(list.lines().any(|l| l.starts_with(name)), "{name}: {list}");
    }
    let out = run_with_timeout(sb.mqtk().args(["check", "--only", "qos-3"]), RUN_LIMIT);
    assert_code(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no probe named 'qos-3'"));
    let out = run_with_timeout(sb.mqtk().args(["check", "-i", "me"]), RUN_LIMIT);
    assert_code(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Error: -i: check opens many"));
}

#[test]
fn an_unreachable_broker_exits_1() {
    // A port that was just free and is closed again: nothing listens there.
    let port = crate::util::free_port();
    let out = check(port, &["--json", "-"]);
    assert_code(&out, 1);
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("Error: cannot check 127.0.0.1:{port}: ")),
        "{err}"
    );
}

/// A broker that answers CONNECT (v5 or 3.x) and then nothing at all.
fn mute_broker() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { return };
            std::thread::spawn(move || {
                let mut head = [0u8; 11];
                if s.read_exact(&mut head).is_err() {
                    return;
                }
                // CONNECT: fixed header, a one-byte length, "\0\4MQTT" (or MQIsdp), level.
                let level = if head[4] == b'M' && head[5] == b'Q' && head[6] == b'T' {
                    head[8]
                } else {
                    head[10]
                };
                let connack: &[u8] = if level == 5 {
                    &[0x20, 0x03, 0x00, 0x00, 0x00]
                } else {
                    &[0x20, 0x02, 0x00, 0x00]
                };
                let _ = s.write_all(connack);
                let mut sink = [0u8; 4096];
                while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

#[test]
fn a_probe_that_times_out_is_reported_and_the_rest_go_on() {
    let port = mute_broker();
    let out = check(
        port,
        &[
            "--json",
            "-",
            "--timeout",
            "0.5",
            "--only",
            "qos-1,keepalive",
        ],
    );
    assert_code(&out, 1);
    let r: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", describe(&out)));
    let qos1 = probe(&r, "qos-1");
    assert_eq!(qos1["status"], "timeout", "{qos1}");
    assert_eq!(qos1["reason"], "no SUBACK within 0.5 s");
    assert_eq!(status(&r, "keepalive"), "supported");
    assert_eq!(r["ok"], false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err, "Error: probes that could not finish: qos-1.\n");
}

#[test]
fn the_leftover_checks_see_leftovers() {
    let b = TestBroker::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut o = rumqttc::MqttOptions::new("mqtk-check-left-0", "127.0.0.1", b.port());
        o.set_clean_session(false);
        let (c, mut ev) = rumqttc::AsyncClient::new(o, 10);
        c.publish(
            "mqtk-check/left/retain",
            rumqttc::QoS::AtLeastOnce,
            true,
            "x",
        )
        .await
        .unwrap();
        loop {
            let e = timeout(WAIT, ev.poll()).await.expect("PUBACK in time");
            if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = e.unwrap() {
                break;
            }
        }
        c.disconnect().await.unwrap();
        while let Ok(Ok(_)) = timeout(WAIT, ev.poll()).await {}
        b.wait_connected_down_to(0);
        assert_eq!(
            retained_under_prefix(b.port()).await,
            ["mqtk-check/left/retain"]
        );
        assert!(session_present(b.port(), "mqtk-check-left-0").await);
    });
}
