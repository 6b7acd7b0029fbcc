//! `mqtk record` and `mqtk replay`: recording what Debian's mosquitto_pub publishes
//! (every QoS, retained, empty and binary payloads, MQTT v5 properties), replaying it
//! into a second broker while `mqtk sub -F %j` listens there, the timing of a replay,
//! the .zst round trip, the options that rewrite what is sent, and every kind of bad
//! input. Every recorded file is validated against docs/record.schema.json.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::util::{
    Mosquitto, Sandbox, Spawned, TestBroker, assert_code, have_mosquitto_tool, poll_until,
    run_with_timeout,
};

const T: Duration = Duration::from_secs(30);

/// The JSON Schema of the format, as committed.
fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/record.schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("docs/record.schema.json is a valid schema")
}

/// The lines of a record, each checked against the schema.
pub(crate) fn parse_record(text: &[u8]) -> Vec<Value> {
    let v = schema();
    let text = std::str::from_utf8(text).expect("a record is UTF-8");
    assert!(text.ends_with('\n'), "the last line is complete: {text:?}");
    text.lines()
        .map(|l| {
            let line: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let errors: Vec<String> = v.iter_errors(&line).map(|e| e.to_string()).collect();
            assert!(
                errors.is_empty(),
                "{l}\ndoes not match the schema: {errors:?}"
            );
            line
        })
        .collect()
}

fn read_record(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        return parse_record(&zstd::decode_all(&bytes[..]).unwrap());
    }
    parse_record(&bytes)
}

/// The lines (header included) of a .zst record so far: what its flushed blocks hold.
fn zst_lines_so_far(path: &Path) -> usize {
    use std::io::Read;
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut out = Vec::new();
    if let Ok(mut d) = zstd::stream::read::Decoder::new(&bytes[..]) {
        // An unfinished frame ends in an error; what came before it is in `out`.
        let _ = d.read_to_end(&mut out);
    }
    out.iter().filter(|&&b| b == b'\n').count()
}

/// The message lines of a plain record file so far (the last may be incomplete).
fn lines_so_far(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count().saturating_sub(1))
        .unwrap_or(0)
}

fn record(sb: &Sandbox, port: u16, args: &[&str]) -> Spawned {
    Spawned::spawn(
        sb.mqtk()
            .args(["record", "-p", &port.to_string()])
            .args(args),
    )
}

fn replay(sb: &Sandbox, port: u16, args: &[&str]) -> Output {
    run_with_timeout(
        sb.mqtk()
            .args(["replay", "-p", &port.to_string()])
            .args(args),
        T,
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A record file written by hand: a header, then one line per `(offset_us, topic,
/// qos, retain, payload)`.
fn write_record(path: &Path, messages: &[(u64, &str, u8, bool, &str)]) {
    let mut text = String::from(
        r##"{"format":"mqtk-record","version":1,"started":"2024-05-01T12:00:00.000000Z","broker":"mqtt://localhost:1883","protocol":"mqttv5","filters":["#"],"filter_out":[],"qos":2,"mqtk":"test"}"##,
    );
    text.push('\n');
    for (offset, topic, qos, retain, payload) in messages {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_800);
        let line = json!({
            "time": humantime::format_rfc3339_micros(t + Duration::from_micros(*offset)).to_string(),
            "offset_us": offset, "topic": topic, "qos": qos, "retain": retain, "payload": payload,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

// ---------------------------------------------------------------------------------
// Recording Debian's mosquitto_pub, replaying into a second mosquitto

/// What mosquitto_pub publishes, in order: (topic, mosquitto_pub flags).
fn publications(bin: &Path) -> Vec<(&'static str, Vec<String>)> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        ("rec/q0", v(&["-m", "zero", "-q", "0"])),
        ("rec/q1", v(&["-m", "one", "-q", "1"])),
        ("rec/q2", v(&["-m", "two \"quoted\" é", "-q", "2"])),
        ("rec/empty", v(&["-n", "-q", "1"])),
        ("rec/binary", v(&["-f", bin.to_str().unwrap(), "-q", "2"])),
        (
            "rec/props",
            v(&[
                "-m",
                "with properties",
                "-q",
                "1",
                "-V",
                "5",
                "-D",
                "publish",
                "user-property",
                "k",
                "v1",
                "-D",
                "publish",
                "user-property",
                "k",
                "v2",
                "-D",
                "publish",
                "user-property",
                "a",
                "b",
                "-D",
                "publish",
                "content-type",
                "text/plain",
                "-D",
                "publish",
                "response-topic",
                "rec/reply",
                "-D",
                "publish",
                "correlation-data",
                "corr-1",
                "-D",
                "publish",
                "message-expiry-interval",
                "3600",
                "-D",
                "publish",
                "payload-format-indicator",
                "1",
            ]),
        ),
        ("rec/live", v(&["-m", "retained live", "-r", "-q", "1"])),
    ]
}

/// The payload with NUL and 0xFF bytes.
const BINARY: &[u8] = b"\x00\x01bin\xff\xfe\x00";

#[test]
fn records_what_mosquitto_pub_sends_and_replays_it_into_another_broker() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let (Some(a), Some(b)) = (Mosquitto::start(""), Mosquitto::start("")) else {
        return;
    };
    let sb = Sandbox::new();
    let bin = sb.file("bin");
    std::fs::write(&bin, BINARY).unwrap();
    let pub_to = |port: u16, topic: &str, args: &[String]| {
        let out = run_with_timeout(
            sb.command("mosquitto_pub")
                .args(["-p", &port.to_string(), "-t", topic])
                .args(args),
            T,
        );
        assert_code(&out, 0);
    };
    // Retained before the recording starts: it arrives with the SUBACK, retain set.
    pub_to(
        a.port,
        "rec/retained",
        &[
            "-m".into(),
            "kept".into(),
            "-r".into(),
            "-q".into(),
            "1".into(),
        ],
    );
    let file = sb.file("rec.ndjson");
    let started = SystemTime::now();
    let rec = record(
        &sb,
        a.port,
        &[
            "-t",
            "rec/#",
            "-q",
            "2",
            "--retain-as-published",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    a.wait_subacks(1);
    let pubs = publications(&bin);
    for (topic, args) in &pubs {
        pub_to(a.port, topic, args);
    }
    poll_until("8 recorded messages", T, || lines_so_far(&file) >= 8);
    rec.signal("TERM");
    let out = rec.finish(T);
    assert_code(&out, 0);
    let lines = read_record(&file);
    check_header(&lines[0], a.port);
    let messages = &lines[1..];
    check_recorded(messages, started);

    // Replayed into the second broker, while mqtk sub prints %j there.
    let sub = Spawned::spawn(sb.mqtk().args([
        "sub",
        "-p",
        &b.port.to_string(),
        "-t",
        "rec/#",
        "-q",
        "2",
        "-V",
        "5",
        "--retain-as-published",
        "-F",
        "%j",
        "-C",
        "8",
    ]));
    // And a second recorder, which records in arrival order: the exact order.
    let again = sb.file("again.ndjson");
    let rec = record(
        &sb,
        b.port,
        &[
            "-t",
            "rec/#",
            "-q",
            "2",
            "--retain-as-published",
            "-o",
            again.to_str().unwrap(),
        ],
    );
    b.wait_subacks(2);
    // -d shows the PUBLISH packets replay sends: exactly the recorded order.
    let out = replay(
        &sb,
        b.port,
        &["--speed", "max", "-d", file.to_str().unwrap()],
    );
    assert_code(&out, 0);
    assert!(
        stderr(&out).starts_with("Replayed 8 messages in "),
        "{}",
        stderr(&out)
    );
    let sent: Vec<&str> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(" sending PUBLISH "))
        .map(|l| l.split('\'').nth(1).unwrap())
        .collect();
    let recorded: Vec<&str> = messages
        .iter()
        .map(|m| m["topic"].as_str().unwrap())
        .collect();
    assert_eq!(sent, recorded);
    let got = sub.finish(T);
    assert_code(&got, 0);
    let printed: Vec<Value> = String::from_utf8(got.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    check_replayed(messages, &printed);
    poll_until("8 messages recorded again", T, || lines_so_far(&again) >= 8);
    rec.signal("TERM");
    assert_code(&rec.finish(T), 0);
    // Every field the same (times and the expiry's countdown aside), in the same
    // order for each QoS: what MQTT promises of a broker (5.0 §4.6); mosquitto
    // forwards a QoS 2 message at its PUBREL, after the messages sent right behind it.
    let comparable = |lines: &[Value], qos2: bool| -> Vec<Value> {
        lines
            .iter()
            .filter(|l| (l["qos"] == 2) == qos2)
            .map(|l| {
                let mut l = l.clone();
                let o = l.as_object_mut().unwrap();
                o.remove("time");
                o.remove("offset_us");
                if let Some(p) = o.get_mut("properties") {
                    p.as_object_mut().unwrap().remove("message_expiry_interval");
                }
                l
            })
            .collect()
    };
    let replayed = read_record(&again);
    assert_eq!(replayed.len(), lines.len());
    for qos2 in [false, true] {
        assert_eq!(comparable(&replayed[1..], qos2), comparable(messages, qos2));
    }
    // The retained message is retained again on the second broker.
    let kept = run_with_timeout(
        sb.command("mosquitto_sub")
            .args([
                "-p",
                &b.port.to_string(),
                "-t",
                "rec/retained",
                "-C",
                "1",
                "-W",
                "10",
            ])
            .args(["-F", "%r %p"]),
        T,
    );
    assert_eq!(String::from_utf8_lossy(&kept.stdout), "1 kept\n");
}

fn check_header(h: &Value, port: u16) {
    assert_eq!(h["format"], "mqtk-record");
    assert_eq!(h["version"], 1);
    assert_eq!(h["broker"], format!("mqtt://localhost:{port}"));
    assert_eq!(h["protocol"], "mqttv5");
    assert_eq!(h["filters"], json!(["rec/#"]));
    assert_eq!(h["qos"], 2);
    assert_eq!(h["mqtk"], env!("CARGO_PKG_VERSION"));
}

/// Every field of every recorded message, in publication order.
fn check_recorded(m: &[Value], started: SystemTime) {
    let topics: Vec<&str> = m.iter().map(|l| l["topic"].as_str().unwrap()).collect();
    assert_eq!(
        topics,
        [
            "rec/retained",
            "rec/q0",
            "rec/q1",
            "rec/q2",
            "rec/empty",
            "rec/binary",
            "rec/props",
            "rec/live"
        ]
    );
    let field = |k: &str| m.iter().map(|l| l[k].clone()).collect::<Vec<_>>();
    assert_eq!(
        field("qos"),
        json!([1, 0, 1, 2, 1, 2, 1, 1]).as_array().unwrap().clone()
    );
    assert_eq!(
        field("retain"),
        json!([true, false, false, false, false, false, false, true])
            .as_array()
            .unwrap()
            .clone()
    );
    assert_eq!(
        field("payload"),
        json!([
            "kept",
            "zero",
            "one",
            "two \"quoted\" é",
            "",
            null,
            "with properties",
            "retained live"
        ])
        .as_array()
        .unwrap()
        .clone()
    );
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(BINARY);
    assert_eq!(m[5]["payload_base64"], b64);
    assert_eq!(
        m[6]["properties"],
        json!({
            "payload_format_indicator": 1,
            "message_expiry_interval": m[6]["properties"]["message_expiry_interval"],
            "content_type": "text/plain",
            "response_topic": "rec/reply",
            "correlation_data": "corr-1",
            "user_properties": [["k", "v1"], ["k", "v2"], ["a", "b"]],
        })
    );
    // mosquitto forwards what is left of the expiry interval.
    let expiry = m[6]["properties"]["message_expiry_interval"]
        .as_u64()
        .unwrap();
    assert!((3590..=3600).contains(&expiry), "{expiry}");
    assert!(
        m.iter()
            .enumerate()
            .all(|(i, l)| i == 6 || l.get("properties").is_none())
    );
    // Offsets from the first message, never decreasing; times from this test's run.
    let offsets: Vec<u64> = m.iter().map(|l| l["offset_us"].as_u64().unwrap()).collect();
    assert_eq!(offsets[0], 0);
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "{offsets:?}");
    for l in m {
        let t = humantime::parse_rfc3339(l["time"].as_str().unwrap()).unwrap();
        assert!(t >= started && t <= SystemTime::now(), "{l}");
    }
}

/// What `mqtk sub -F %j` printed on the second broker: the same messages in the same
/// order, with the same flags, payloads and properties.
fn check_replayed(recorded: &[Value], printed: &[Value]) {
    assert_eq!(printed.len(), recorded.len(), "{printed:?}");
    // Each QoS in the recorded order (see above), and each message once.
    let is_qos2 = |v: &&Value| v["qos"] == 2;
    let topics = |v: &[Value], two: bool| -> Vec<Value> {
        v.iter()
            .filter(|m| is_qos2(m) == two)
            .map(|m| m["topic"].clone())
            .collect()
    };
    assert_eq!(topics(printed, true), topics(recorded, true));
    assert_eq!(topics(printed, false), topics(recorded, false));
    for r in recorded {
        let p = printed
            .iter()
            .find(|p| p["topic"] == r["topic"])
            .unwrap_or_else(|| panic!("{r} not printed: {printed:?}"));
        assert_eq!(p["topic"], r["topic"], "{p}");
        assert_eq!(p["qos"], r["qos"], "{p}");
        assert_eq!(p["retain"], r["retain"], "{p}");
        match (&r["payload"], &r["payload_base64"]) {
            (Value::String(s), _) if s.is_empty() => assert_eq!(p["payloadlen"], 0, "{p}"),
            (Value::String(s), _) => assert_eq!(&p["payload"], s, "{p}"),
            (_, b) => assert_eq!(&p["payload_base64"], b, "{p}"),
        }
        let Some(rp) = r.get("properties") else {
            assert!(p.get("properties").is_none(), "{p}");
            continue;
        };
        let pp = &p["properties"];
        assert_eq!(pp["content-type"], rp["content_type"], "{p}");
        assert_eq!(pp["response-topic"], rp["response_topic"], "{p}");
        assert_eq!(pp["correlation-data"], rp["correlation_data"], "{p}");
        assert_eq!(
            pp["payload-format-indicator"], rp["payload_format_indicator"],
            "{p}"
        );
        assert_eq!(
            pp["user-properties"],
            json!([{"k": "v1"}, {"k": "v2"}, {"a": "b"}]),
            "{p}"
        );
        let sent = rp["message_expiry_interval"].as_u64().unwrap();
        let got = pp["message-expiry-interval"].as_u64().unwrap();
        assert!(got <= sent && got + 10 >= sent, "{got} of {sent}");
    }
}

// ---------------------------------------------------------------------------------
// zstd, our broker

#[test]
fn a_zst_record_replays_into_the_same_messages() {
    let (a, b) = (TestBroker::start(), TestBroker::start());
    let sb = Sandbox::new();
    let zst = sb.file("rec.ndjson.zst");
    let rec = record(
        &sb,
        a.port(),
        &["-t", "z/#", "-q", "1", "-o", zst.to_str().unwrap()],
    );
    a.wait_subscriptions(1);
    let topics: Vec<String> = (0..50).map(|i| format!("z/{}", i % 7)).collect();
    for (i, t) in topics.iter().enumerate() {
        let out = run_with_timeout(
            sb.mqtk()
                .args(["pub", "-p", &a.port().to_string(), "-t", t, "-q", "1"])
                .args([
                    "-m",
                    &format!("message {i}"),
                    "-D",
                    "publish",
                    "user-property",
                    "n",
                    &i.to_string(),
                ]),
            T,
        );
        assert_code(&out, 0);
    }
    // What is compressed reaches the file within a second of the last message.
    poll_until("50 messages in the .zst", T, || {
        zst_lines_so_far(&zst) >= 51
    });
    // SIGINT, as Ctrl-C: the frame is ended and the file synced before exit 0.
    rec.signal("INT");
    assert_code(&rec.finish(T), 0);
    let bytes = std::fs::read(&zst).unwrap();
    assert!(bytes.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]), "zstd magic");
    let first = read_record(&zst);
    assert_eq!(first.len(), 51);

    let plain = sb.file("again.ndjson");
    let rec = record(
        &sb,
        b.port(),
        &["-t", "z/#", "-q", "1", "-o", plain.to_str().unwrap()],
    );
    b.wait_subscriptions(1);
    let out = replay(&sb, b.port(), &["--speed", "max", zst.to_str().unwrap()]);
    assert_code(&out, 0);
    poll_until("50 messages recorded again", T, || {
        lines_so_far(&plain) >= 50
    });
    rec.signal("TERM");
    assert_code(&rec.finish(T), 0);
    let second = read_record(&plain);
    let strip = |l: &Value| {
        let mut l = l.clone();
        l.as_object_mut()
            .unwrap()
            .retain(|k, _| !matches!(k.as_str(), "time" | "offset_us"));
        l
    };
    let a_msgs: Vec<Value> = first[1..].iter().map(strip).collect();
    let b_msgs: Vec<Value> = second[1..].iter().map(strip).collect();
    assert_eq!(a_msgs, b_msgs);
    assert_eq!(
        a_msgs[49]["properties"]["user_properties"],
        json!([["n", "49"]])
    );
}

// ---------------------------------------------------------------------------------
// Timing

/// "Replayed N messages in D s (speed X: schedule S s, sent over P s, largest lag
/// behind schedule L ms)." → (D, S, P, L) in seconds.
fn timing(summary: &str) -> (f64, f64, f64, f64) {
    let num = |after: &str, until: char| -> f64 {
        let i = summary
            .find(after)
            .unwrap_or_else(|| panic!("{after:?} in {summary}"))
            + after.len();
        summary[i..]
            .split(until)
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    (
        num(" in ", 's'),
        num("schedule ", 's'),
        num("sent over ", 's'),
        num("largest lag behind schedule ", 'm') / 1e3,
    )
}

/// A span of 1.5 s in 16 messages replays in 1.5 s at speed 1 and in 0.15 s at speed 10.
///
/// On a loaded CI machine a wakeup can come late; what must hold whatever the load
/// comes from the replay's own report, measured on its monotonic clock between the
/// first and the last message sent: the replay is never early (that spread is at least
/// the schedule), and lateness does not accumulate (the spread exceeds the schedule by
/// the last message's lag, so by no more than the largest lag of any one message; a
/// replay that slept gap after gap would exceed it by the sum of its lags). The ±50 ms
/// of the issue is checked on top: only one wakeup late by over 50 ms, the very last,
/// can fail it. A listener on the broker sees the same spacing, within looser bounds
/// (both ends see the load).
#[test]
fn replay_keeps_the_recorded_timing() {
    let broker = TestBroker::start();
    let sb = Sandbox::new();
    let file = sb.file("timed.ndjson");
    let messages: Vec<(u64, String)> = (0..16).map(|i| (i * 100_000, format!("t/{i}"))).collect();
    let rows: Vec<(u64, &str, u8, bool, &str)> = messages
        .iter()
        .map(|(o, t)| (*o, t.as_str(), 0, false, "x"))
        .collect();
    write_record(&file, &rows);
    let listened = sb.file("listened.ndjson");
    let rec = record(
        &sb,
        broker.port(),
        &["-t", "t/#", "-o", listened.to_str().unwrap()],
    );
    broker.wait_subscriptions(1);
    for (speed, schedule) in [("1", 1.5), ("10", 0.15)] {
        let out = replay(
            &sb,
            broker.port(),
            &["--speed", speed, file.to_str().unwrap()],
        );
        assert_code(&out, 0);
        let (took, planned, spread, lag) = timing(&stderr(&out));
        assert!((planned - schedule).abs() < 1e-9, "{}", stderr(&out));
        // The first message is sent at the schedule's start, so the spread is the
        // schedule plus the last message's lag (rounding: the figures are printed to
        // 1 ms and 0.1 ms).
        assert!(spread >= schedule - 0.0015, "early: {}", stderr(&out));
        assert!(
            spread <= schedule + lag + 0.0015,
            "lateness accumulated: {}",
            stderr(&out)
        );
        assert!(
            spread <= schedule + 0.050,
            "not within 50 ms: {}",
            stderr(&out)
        );
        assert!(took >= spread, "{}", stderr(&out));
    }
    poll_until("32 messages listened to", T, || {
        lines_so_far(&listened) >= 32
    });
    rec.signal("TERM");
    assert_code(&rec.finish(T), 0);
    let heard = read_record(&listened);
    let offsets: Vec<f64> = heard[1..]
        .iter()
        .map(|l| l["offset_us"].as_f64().unwrap() / 1e6)
        .collect();
    let topics: Vec<&str> = heard[1..]
        .iter()
        .map(|l| l["topic"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = messages.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(topics[..16], want[..]);
    assert_eq!(topics[16..], want[..]);
    // The listener's own clock: a looser bound, since both ends see the load.
    let first_run = offsets[15] - offsets[0];
    let second_run = offsets[31] - offsets[16];
    assert!((1.40..=1.70).contains(&first_run), "{offsets:?}");
    assert!((0.10..=0.30).contains(&second_run), "{offsets:?}");
}

// ---------------------------------------------------------------------------------
// What replay changes on the way

#[test]
fn replay_rewrites_topics_qos_and_retain_and_plays_a_window() {
    let broker = TestBroker::start();
    let sb = Sandbox::new();
    let file = sb.file("in.ndjson");
    write_record(
        &sb.file("in.ndjson"),
        &[
            (0, "prod/a", 0, true, "0"),
            (1_000_000, "prod/b/c", 1, false, "1"),
            (2_000_000, "production/x", 2, true, "2"),
            (3_000_000, "other", 0, false, "3"),
        ],
    );
    let heard = sb.file("heard.ndjson");
    let rec = record(
        &sb,
        broker.port(),
        &[
            "-t",
            "#",
            "-q",
            "2",
            "--retain-as-published",
            "-o",
            heard.to_str().unwrap(),
        ],
    );
    broker.wait_subscriptions(1);
    // Messages 1..=3 (from 1 s to the line's own time of message 3), 8 loops at max.
    let out = replay(
        &sb,
        broker.port(),
        &[
            "--speed",
            "max",
            "--topic-map",
            "prod=staging",
            "--topic-map",
            "other=else/where",
            "--topic-prefix",
            "copy/",
            "-q",
            "1",
            "--no-retain",
            "--from",
            "1s",
            "--to",
            "2024-05-01T12:00:03Z",
            "--loop",
            "2",
            file.to_str().unwrap(),
        ],
    );
    assert_code(&out, 0);
    assert!(
        stderr(&out).starts_with("Replayed 6 messages (2 loops) in "),
        "{}",
        stderr(&out)
    );
    poll_until("6 messages heard", T, || lines_so_far(&heard) >= 6);
    rec.signal("TERM");
    assert_code(&rec.finish(T), 0);
    let got: Vec<(String, u64, bool, String)> = read_record(&heard)[1..]
        .iter()
        .map(|l| {
            (
                l["topic"].as_str().unwrap().to_string(),
                l["qos"].as_u64().unwrap(),
                l["retain"].as_bool().unwrap(),
                l["payload"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let once = [
        ("copy/staging/b/c", 1, false, "1"),
        ("copy/production/x", 1, false, "2"),
        ("copy/else/where", 1, false, "3"),
    ];
    let want: Vec<(String, u64, bool, String)> = once
        .iter()
        .chain(once.iter())
        .map(|(t, q, r, p)| (t.to_string(), *q, *r, p.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn replay_exits_1_when_a_message_is_not_acknowledged() {
    let sb = Sandbox::new();
    let acl = sb.file("acl");
    std::fs::write(&acl, "topic readwrite ok/#\n").unwrap();
    let mut config = TestBroker::config();
    config.acl_file = Some(acl);
    config.allow_anonymous = true;
    let broker = TestBroker::start_with(config);
    let file = sb.file("in.ndjson");
    write_record(
        &file,
        &[
            (0, "ok/1", 1, false, "a"),
            (10, "denied/1", 1, false, "b"),
            (20, "ok/2", 2, false, "c"),
        ],
    );
    let out = replay(
        &sb,
        broker.port(),
        &["--speed", "max", file.to_str().unwrap()],
    );
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("Warning: Publish 2 to 'denied/1' failed: Not authorized."),
        "{err}"
    );
    assert!(err.contains("Replayed 3 messages in "), "{err}");
    assert!(
        err.ends_with(
            "Error: 1 QoS 1/2 message(s) were not acknowledged (1 refused by the broker).\n"
        ),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------
// Bad input

/// Runs replay on `files` against a broker that counts what it receives, with `args`;
/// returns the output and how many messages reached the broker.
fn replay_files(sb: &Sandbox, files: &[&PathBuf], args: &[&str]) -> (Output, u64) {
    let broker = TestBroker::start();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(files.iter().map(|f| f.to_str().unwrap()));
    all.extend(["--speed", "max"]);
    let out = replay(sb, broker.port(), &all);
    let received = broker.stats().messages_received.load(Ordering::SeqCst);
    (out, received)
}

fn good_lines(path: &Path, n: usize) {
    let rows: Vec<(u64, String)> = (0..n).map(|i| (i as u64, format!("g/{i}"))).collect();
    let rows: Vec<(u64, &str, u8, bool, &str)> = rows
        .iter()
        .map(|(o, t)| (*o, t.as_str(), 1, false, "p"))
        .collect();
    write_record(path, &rows);
}

#[test]
fn bad_lines_stop_the_replay_before_anything_is_sent() {
    let sb = Sandbox::new();
    let good = sb.file("good.ndjson");
    good_lines(&good, 3);
    let bad = sb.file("bad.ndjson");
    good_lines(&bad, 3);
    let mut text = std::fs::read_to_string(&bad).unwrap();
    text.push_str("this is not json\n");
    text.push_str(r#"{"time":"2024-05-01T12:00:00Z","offset_us":5,"topic":"a/#","qos":0,"retain":false,"payload":""}"#);
    text.push('\n');
    text.push_str(
        r#"{"time":"2024-05-01T12:00:00Z","offset_us":6,"topic":"a","qos":0,"retain":false}"#,
    );
    text.push('\n');
    text.push_str(r#"{"time":"2024-05-01T12:00:00Z","offset_us":7,"topic":"a","qos":0,"ret"#);
    std::fs::write(&bad, text).unwrap();
    let name = bad.display();
    // The good file comes first: nothing of it is sent either.
    let (out, received) = replay_files(&sb, &[&good, &bad], &[]);
    assert_code(&out, 1);
    assert_eq!(received, 0);
    assert_eq!(
        stderr(&out),
        format!(
            "Error: {name}: line 5: not valid JSON: expected ident at column 2\n\
             Error: {name}: line 6: topic \"a/#\": topic name contains a wildcard ('+' or '#')\n\
             Error: {name}: line 7: neither payload nor payload_base64 is given\n\
             Error: {name}: line 8: the line ends inside its JSON (truncated?)\n\
             Error: 4 bad line(s): nothing was sent (--skip-bad replays the good ones).\n"
        )
    );
    // --skip-bad: the good lines go, the bad ones are listed as skipped, exit 0.
    let (out, received) = replay_files(&sb, &[&good, &bad], &["--skip-bad"]);
    assert_code(&out, 0);
    assert_eq!(received, 6);
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("Skipped: {name}: line 5: not valid JSON")),
        "{err}"
    );
    assert!(err.ends_with("; skipped 4 bad line(s).\n"), "{err}");
}

#[test]
fn truncated_and_corrupt_zst_files_are_reported_with_their_line() {
    let sb = Sandbox::new();
    let plain = sb.file("p.ndjson");
    good_lines(&plain, 2000);
    let text = std::fs::read(&plain).unwrap();
    // Two blocks, as record's periodic flushes make them, and its content checksum.
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    enc.include_checksum(true).unwrap();
    let half = text.len() / 2;
    let cut_at = half + text[half..].iter().position(|&b| b == b'\n').unwrap() + 1;
    std::io::Write::write_all(&mut enc, &text[..cut_at]).unwrap();
    std::io::Write::flush(&mut enc).unwrap();
    let first_block = enc.get_ref().len();
    std::io::Write::write_all(&mut enc, &text[cut_at..]).unwrap();
    let z = enc.finish().unwrap();
    let lines_in_first = text[..cut_at].iter().filter(|&&b| b == b'\n').count();

    let truncated = sb.file("t.ndjson.zst");
    std::fs::write(&truncated, &z[..z.len() - 10]).unwrap();
    let (out, received) = replay_files(&sb, &[&truncated], &[]);
    assert_code(&out, 1);
    assert_eq!(received, 0);
    let line = lines_in_first + 1;
    assert!(
        stderr(&out).starts_with(&format!(
            "Error: {}: line {line}: the zstd data is truncated",
            truncated.display()
        )),
        "{}",
        stderr(&out)
    );
    // --skip-bad replays what could be read.
    let (out, received) = replay_files(&sb, &[&truncated], &["--skip-bad"]);
    assert_code(&out, 0);
    assert_eq!(received, lines_in_first as u64 - 1);

    let corrupt = sb.file("c.zst");
    let mut bytes = z.clone();
    for b in &mut bytes[first_block + 20..first_block + 40] {
        *b ^= 0x5A;
    }
    std::fs::write(&corrupt, &bytes).unwrap();
    let (out, received) = replay_files(&sb, &[&corrupt], &[]);
    assert_code(&out, 1);
    assert_eq!(received, 0);
    // Damage inside a block decompresses into other bytes (bad lines, or none); the
    // checksum at the end of the frame gives it away either way.
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}: line ", corrupt.display()))
            && err.contains(": the zstd data is corrupt")
            && err.ends_with("nothing was sent (--skip-bad replays the good ones).\n"),
        "{err}"
    );
}

#[test]
fn files_that_are_not_records_are_refused_even_with_skip_bad() {
    let sb = Sandbox::new();
    let future = sb.file("future.ndjson");
    good_lines(&future, 1);
    let text = std::fs::read_to_string(&future)
        .unwrap()
        .replace("\"version\":1", "\"version\":2");
    std::fs::write(&future, text).unwrap();
    let empty = sb.file("empty.ndjson");
    std::fs::write(&empty, "").unwrap();
    let other = sb.file("other.json");
    std::fs::write(&other, "{\"topic\":\"a\"}\n").unwrap();
    let missing = sb.file("missing.ndjson");
    let cases = [
        (
            &future,
            "line 1: record format version 2 is newer than this mqtk reads (version 1); replay it with a newer mqtk",
        ),
        (&empty, "line 1: the file is empty, not an mqtk record"),
        (
            &other,
            "line 1: not an mqtk record: the first line is not a record header (no \"format\": \"mqtk-record\" field)",
        ),
        (&missing, "No such file or directory"),
    ];
    for (file, why) in cases {
        for args in [&[][..], &["--skip-bad"]] {
            let (out, received) = replay_files(&sb, &[file], args);
            assert_code(&out, 1);
            assert_eq!(received, 0);
            assert_eq!(stderr(&out), format!("Error: {}: {why}\n", file.display()));
        }
    }
}

// ---------------------------------------------------------------------------------
// Recording's own options

#[test]
fn record_filters_counts_and_times_out() {
    let broker = TestBroker::start();
    let sb = Sandbox::new();
    let port = broker.port().to_string();
    let publish = |topic: &str, retain: bool| {
        let mut cmd = sb.mqtk();
        cmd.args(["pub", "-p", &port, "-t", topic, "-m", topic]);
        if retain {
            cmd.arg("-r");
        }
        assert_code(&run_with_timeout(&mut cmd, T), 0);
    };
    publish("f/stale", true);
    let file = sb.file("f.ndjson");
    // -R skips the retained one, -T the filtered topic, -C 2 ends it with status 0.
    let rec = record(
        &sb,
        broker.port(),
        &[
            "-t",
            "f/#",
            "-R",
            "-T",
            "f/skip",
            "-C",
            "2",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    broker.wait_subscriptions(1);
    for t in ["f/skip", "f/one", "f/two", "f/three"] {
        publish(t, false);
    }
    assert_code(&rec.finish(T), 0);
    let topics: Vec<String> = read_record(&file)[1..]
        .iter()
        .map(|l| l["topic"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(topics, ["f/one", "f/two"]);
    // -W: "Timed out", status 27, and a complete record (a header only, here).
    let out = run_with_timeout(
        sb.mqtk()
            .args(["record", "-p", &port, "-t", "none", "-W", "1", "-o", "-"]),
        T,
    );
    assert_code(&out, 27);
    assert_eq!(stderr(&out), "Timed out\n");
    let lines = parse_record(&out.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["filters"], json!(["none"]));
}

#[test]
fn record_and_replay_usage_errors() {
    let sb = Sandbox::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["record", "-t", "a"],
            "Error: Give the file to record to with -o FILE (or -o - for standard output).\n\nUse 'mqtk record --help' to see usage.\n",
        ),
        (
            &["record", "-o", "x"],
            "Error: You must specify a topic to record (-t).\n\nUse 'mqtk record --help' to see usage.\n",
        ),
        (
            &["record", "-t", "a", "-o", "/nonexistent/dir/x"],
            "Error: creating /nonexistent/dir/x: No such file or directory\n",
        ),
        (
            &["replay"],
            "Error: Give the record files to replay.\n\nUse 'mqtk replay --help' to see usage.\n",
        ),
        (
            &["replay", "f", "--speed", "0"],
            "Error: Invalid --speed '0': give a factor between 0.000001 and 1000000 (0.5, 10) or 'max'.\n\nUse 'mqtk replay --help' to see usage.\n",
        ),
        (
            &["replay", "f", "--from", "soon"],
            "Error: Invalid time 'soon': give a duration from the start (90, 1m30s, 250ms) or a UTC time (2024-05-01T12:00:00Z).\n\nUse 'mqtk replay --help' to see usage.\n",
        ),
    ];
    for (args, want) in cases {
        let out = run_with_timeout(sb.mqtk().args(*args), T);
        assert_code(&out, 1);
        assert_eq!(stderr(&out), *want, "{args:?}");
    }
}

#[test]
fn the_schema_can_fail() {
    // The schema is a real check: lines record would never write fail it.
    let v = schema();
    let ok = json!({"time": "2024-05-01T12:00:00.000001Z", "offset_us": 0, "topic": "a", "qos": 0, "retain": false, "payload": ""});
    assert!(v.is_valid(&ok));
    let mut both = ok.clone();
    both["payload_base64"] = json!("AA==");
    let mut extra = ok.clone();
    extra["dup"] = json!(true);
    let mut wildcard = ok.clone();
    wildcard["topic"] = json!("a/+");
    let mut not_base64 = ok.clone();
    not_base64.as_object_mut().unwrap().remove("payload");
    not_base64["payload_base64"] = json!("A");
    let mut bad_time = ok.clone();
    bad_time["time"] = json!("yesterday");
    // `decoded` (record --decode) is any JSON value, beside the payload, never instead.
    let mut decoded = ok.clone();
    decoded["decoded"] = json!({"metrics": [{"value": 1}]});
    assert!(v.is_valid(&decoded));
    let mut decoded_only = decoded.clone();
    decoded_only.as_object_mut().unwrap().remove("payload");
    let future = json!({"format": "mqtk-record", "version": 2, "started": "2024-05-01T12:00:00Z", "broker": "b", "protocol": "mqttv5", "filters": [], "qos": 0, "mqtk": "x"});
    for bad in [
        both,
        extra,
        wildcard,
        not_base64,
        bad_time,
        decoded_only,
        future,
    ] {
        assert!(!v.is_valid(&bad), "{bad}");
    }
}
