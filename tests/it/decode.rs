//! `--decode` (sub, rr) and `--encode` (pub, rr) end to end: payloads built by hand
//! (tests/fixtures/payloads.rs) published with Debian's `mosquitto_pub -f`, `mqtk sub
//! --decode` output parsed as JSON (never compared as text, except where the text
//! itself is the point); round trips `pub --encode` → `sub --decode` for every format;
//! and each error: what is printed, and the exit status.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{
    Sandbox, Spawned, TestBroker, assert_code, have_mosquitto_tool, run_with_timeout,
};

mod fixtures {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/payloads.rs"
    ));
}
use fixtures::binary::{CBOR, MSGPACK};
use fixtures::proto::READING;
use fixtures::sparkplug::{ARRAYS, BIRTH, COMPLEX, NDATA};

const T: Duration = Duration::from_secs(10);

fn proto_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proto")
}

/// `--decode proto:…sensor.proto:demo.Reading --proto-path …/include`.
fn reading_args() -> Vec<String> {
    let dir = proto_dir();
    vec![
        format!("proto:{}:demo.Reading", dir.join("sensor.proto").display()),
        "--proto-path".into(),
        dir.join("include").display().to_string(),
    ]
}

fn sub(sb: &Sandbox, port: u16, args: &[&str]) -> Command {
    let mut c = sb.mqtk();
    c.args(["sub", "-p", &port.to_string()]).args(args);
    c
}

/// Publishes `bytes` to `topic` with Debian's mosquitto_pub -f.
fn mosquitto_pub_file(sb: &Sandbox, port: u16, topic: &str, bytes: &[u8]) {
    let file = sb.file("payload.bin");
    std::fs::write(&file, bytes).unwrap();
    let out = run_with_timeout(
        sb.command("mosquitto_pub")
            .args(["-p", &port.to_string(), "-t", topic, "-f"])
            .arg(&file),
        T,
    );
    assert_code(&out, 0);
}

/// Each stdout line of `sub -v`: (topic, the rest parsed as JSON).
fn verbose_json(stdout: &[u8]) -> Vec<(String, Value)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let (topic, json) = l.split_once(' ').expect("topic and payload");
            let v = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
            (topic.to_string(), v)
        })
        .collect()
}

fn birth_json() -> Value {
    json!({"timestamp": 1000, "metrics": [
        {"name": "i8", "dataType": "Int8", "value": -5},
        {"name": "i16", "dataType": "Int16", "value": -32768},
        {"name": "i32", "dataType": "Int32", "value": -2147483648i64},
        {"name": "i64", "dataType": "Int64", "value": -1},
        {"name": "u8", "dataType": "UInt8", "value": 255},
        {"name": "u16", "dataType": "UInt16", "value": 65535},
        {"name": "u32", "dataType": "UInt32", "value": 4294967295u64},
        {"name": "u64", "dataType": "UInt64", "value": "18446744073709551615"},
        {"name": "f", "dataType": "Float", "value": 12.5},
        {"name": "d", "dataType": "Double", "value": -0.25},
        {"name": "b", "dataType": "Boolean", "value": true},
        {"name": "s", "dataType": "String", "value": "h\u{e9}"},
        {"name": "when", "dataType": "DateTime", "value": 1486144502122u64},
        {"name": "t", "dataType": "Text", "value": "txt"},
        {"name": "id", "dataType": "UUID", "value": "u-1"},
        {"name": "by", "dataType": "Bytes", "value": "AAH/"},
        {"name": "file", "dataType": "File", "metadata": {"fileName": "a.txt"}, "value": "aGk="},
        {"name": "nul", "dataType": "Int32", "isNull": true, "value": null},
        {"name": "h", "timestamp": 5, "dataType": "Int32", "isHistorical": true,
         "isTransient": true, "properties": {"Quality": {"type": "Int32", "value": 192}},
         "value": 1},
    ], "seq": 0})
}

#[test]
fn sparkplug_births_and_data_with_every_datatype() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let p = b.port();
    let run = Spawned::spawn(&mut sub(
        &sb,
        p,
        &["-t", "spBv1.0/#", "-v", "--decode", "sparkplug", "-C", "4"],
    ));
    b.wait_subscriptions(1);
    mosquitto_pub_file(&sb, p, "spBv1.0/plant/NBIRTH/edge", BIRTH);
    mosquitto_pub_file(&sb, p, "spBv1.0/plant/NDATA/edge", NDATA);
    mosquitto_pub_file(&sb, p, "spBv1.0/plant/DDATA/edge/dev", ARRAYS);
    mosquitto_pub_file(&sb, p, "spBv1.0/plant/DBIRTH/edge/dev", COMPLEX);
    let out = run.finish(T);
    assert_code(&out, 0);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = verbose_json(&out.stdout);
    let topics: Vec<&str> = lines.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        topics,
        [
            "spBv1.0/plant/NBIRTH/edge",
            "spBv1.0/plant/NDATA/edge",
            "spBv1.0/plant/DDATA/edge/dev",
            "spBv1.0/plant/DBIRTH/edge/dev"
        ]
    );
    assert_eq!(lines[0].1, birth_json());
    assert_eq!(
        lines[1].1,
        json!({"timestamp": 2000, "metrics": [
            {"alias": 7, "timestamp": 2000, "value": 42},
            {"alias": 8, "value": 4294967291u64}], "seq": 1})
    );
    let arrays = &lines[2].1["metrics"];
    assert_eq!(
        arrays[0],
        json!({"name": "a1", "dataType": "Int8Array", "value": [-1, 2]})
    );
    assert_eq!(arrays[7]["value"], json!(["18446744073709551615"]));
    assert_eq!(arrays[10]["value"], json!([true, false, true]));
    assert_eq!(arrays[11]["value"], json!(["ab", "c"]));
    let complex = &lines[3].1;
    assert_eq!(
        complex["metrics"][0]["value"]["rows"],
        json!([[-1, "x"], [5, null]])
    );
    assert_eq!(
        complex["metrics"][1]["value"]["parameters"][0]["value"],
        json!(-1)
    );
    assert_eq!(
        complex["metrics"][2]["properties"]["list"]["value"],
        json!([{"q": {"type": "Boolean", "value": true}}])
    );
    assert_eq!(complex["body"], json!("AQI="));
}

#[test]
fn protobuf_from_a_proto_file_and_the_binary_formats() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let p = b.port();
    let mut args = vec!["-t", "r", "-C", "1", "--decode"];
    let reading = reading_args();
    args.extend(reading.iter().map(String::as_str));
    let run = Spawned::spawn(&mut sub(&sb, p, &args));
    b.wait_subscriptions(1);
    mosquitto_pub_file(&sb, p, "r", READING);
    let out = run.finish(T);
    assert_code(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({"sensor": "t1", "delta": -3, "samples": [1.5, -2.0], "unit": "KELVIN",
               "where": {"lat": 1.0}, "count": "7", "tags": {"a": 1}, "raw": "AP8=",
               "at": "2023-11-14T22:13:20Z"})
    );
    let want = json!({"t": 21.5, "ok": true, "ids": [1, -2], "raw": "AQI="});
    for (format, bytes) in [("cbor", CBOR), ("msgpack", MSGPACK)] {
        b.wait_subscriptions_down_to(0);
        let run = Spawned::spawn(&mut sub(
            &sb,
            p,
            &["-t", "b", "-C", "1", "--decode", format],
        ));
        b.wait_subscriptions(1);
        mosquitto_pub_file(&sb, p, "b", bytes);
        let out = run.finish(T);
        assert_code(&out, 0);
        assert_eq!(
            serde_json::from_slice::<Value>(&out.stdout).unwrap(),
            want,
            "{format}"
        );
    }
}

/// `auto` per message; `%j`/`%J` embed the decoded value; `--pretty` indents it; a
/// payload auto does not recognise is printed as it is, without a warning.
#[test]
fn auto_with_json_formats_and_pretty() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let p = b.port();
    let run = Spawned::spawn(&mut sub(
        &sb,
        p,
        &["-t", "#", "-F", "%j", "--decode", "auto", "-C", "4"],
    ));
    b.wait_subscriptions(1);
    mosquitto_pub_file(&sb, p, "spBv1.0/g/NDATA/n", NDATA);
    mosquitto_pub_file(&sb, p, "c", CBOR);
    mosquitto_pub_file(&sb, p, "m", MSGPACK);
    mosquitto_pub_file(&sb, p, "text", b"plain words");
    let out = run.finish(T);
    assert_code(&out, 0);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs[0]["payload"]["metrics"][0]["value"], json!(42));
    assert_eq!(objs[0]["payloadlen"], json!(NDATA.len()));
    assert_eq!(objs[1]["payload"]["t"], json!(21.5));
    assert_eq!(objs[2]["payload"]["raw"], json!("AQI="));
    // Not recognised: the payload as %j shows it, a JSON string.
    assert_eq!(objs[3]["payload"], json!("plain words"));

    b.wait_subscriptions_down_to(0);
    let run = Spawned::spawn(&mut sub(
        &sb,
        p,
        &[
            "-t", "c", "-F", "%p|%j", "--pretty", "--decode", "cbor", "-C", "1",
        ],
    ));
    b.wait_subscriptions(1);
    mosquitto_pub_file(&sb, p, "c", CBOR);
    let out = run.finish(T);
    let text = String::from_utf8(out.stdout).unwrap();
    let (top, j) = text.trim_end().split_once('|').unwrap();
    assert!(top.starts_with("{\n\t\"t\":\t21.5,\n"), "{top}");
    assert_eq!(
        serde_json::from_str::<Value>(top).unwrap()["ids"],
        json!([1, -2])
    );
    // Inside %j's object, one level deeper.
    assert!(j.contains("\t\"payload\":\t{\n\t\t\"t\":\t21.5,"), "{j}");
    assert_eq!(
        serde_json::from_str::<Value>(j).unwrap()["payload"]["ok"],
        json!(true)
    );
}

/// A payload that does not decode: one warning line naming the topic and why, the
/// payload shown as received (base64 in %j when it is not text), counted at the end,
/// and the exit status unchanged.
#[test]
fn bad_payloads_are_reported_and_shown_as_received() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let p = b.port();
    let run = Spawned::spawn(&mut sub(
        &sb,
        p,
        &["-t", "#", "-v", "--decode", "sparkplug", "-C", "3"],
    ));
    b.wait_subscriptions(1);
    // A metric (field 2) whose length (5) runs past the end.
    mosquitto_pub_file(&sb, p, "spBv1.0/g/NDATA/n", &[0x12, 0x05, 0x0a, 0x01]);
    mosquitto_pub_file(&sb, p, "spBv1.0/g/NDATA/n", NDATA);
    mosquitto_pub_file(&sb, p, "spBv1.0/g/NDATA/n", b"not protobuf");
    let out = run.finish(T);
    assert_code(&out, 0);
    let stdout = out.stdout;
    let mut want = b"spBv1.0/g/NDATA/n \x12\x05\x0a\x01\n".to_vec();
    assert!(
        stdout.starts_with(&want),
        "{:?}",
        String::from_utf8_lossy(&stdout)
    );
    assert!(stdout.ends_with(b"\nspBv1.0/g/NDATA/n not protobuf\n"));
    want.extend_from_slice(b"spBv1.0/g/NDATA/n {\"timestamp\":2000,");
    assert!(stdout.starts_with(&want));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(lines[0].starts_with("Warning: the payload on topic 'spBv1.0/g/NDATA/n' is not sparkplug: failed to decode Protobuf message: "), "{stderr}");
    assert!(lines[0].contains("buffer underflow") && lines[0].ends_with("; shown as received."));
    assert!(lines[1].contains("invalid wire type"), "{stderr}");
    assert_eq!(
        lines[2],
        "Warning: 2 payload(s) did not decode (--decode sparkplug) and were shown as received."
    );

    // %j: a payload that is not text goes under payload_base64.
    b.wait_subscriptions_down_to(0);
    let run = Spawned::spawn(&mut sub(
        &sb,
        p,
        &[
            "-t", "x", "-F", "%j", "--decode", "cbor", "-C", "1", "--quiet",
        ],
    ));
    b.wait_subscriptions(1);
    mosquitto_pub_file(&sb, p, "x", &[0xa1, 0xff]);
    let out = run.finish(T);
    assert_code(&out, 0);
    assert!(out.stderr.is_empty(), "--quiet");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["payload_base64"], json!("of8="));
}

#[test]
fn encode_then_decode_round_trips_every_format() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let p = b.port().to_string();
    let reading = reading_args();
    let cases: Vec<(Vec<&str>, &str, Value)> = vec![
        (
            vec!["sparkplug"],
            r#"{"timestamp":5,"metrics":[{"name":"t","dataType":"Int16","value":-7},{"name":"a","dataType":"FloatArray","value":[0.5,2.0]}]}"#,
            json!({"timestamp": 5, "metrics": [{"name": "t", "dataType": "Int16", "value": -7},
               {"name": "a", "dataType": "FloatArray", "value": [0.5, 2.0]}], "seq": 0}),
        ),
        (
            reading.iter().map(String::as_str).collect(),
            r#"{"sensor":"s","delta":-9,"unit":"CELSIUS","tags":{"k":2},"note":"n","at":"2024-01-01T00:00:00Z"}"#,
            json!({"sensor": "s", "delta": -9, "unit": "CELSIUS", "tags": {"k": 2}, "note": "n", "at": "2024-01-01T00:00:00Z"}),
        ),
        (
            vec!["cbor"],
            r#"{"a":[1,-2.5,"x",null,true]}"#,
            json!({"a": [1, -2.5, "x", null, true]}),
        ),
        (
            vec!["msgpack"],
            r#"{"a":[1,-2.5,"x",null,true]}"#,
            json!({"a": [1, -2.5, "x", null, true]}),
        ),
        (vec!["json"], r#"{"a": [1, 2]}"#, json!({"a": [1, 2]})),
    ];
    for (format, input, want) in cases {
        b.wait_subscriptions_down_to(0);
        let mut sub_args = vec!["-t", "rt", "-C", "1", "--decode"];
        sub_args.extend(&format);
        let run = Spawned::spawn(&mut sub(&sb, b.port(), &sub_args));
        b.wait_subscriptions(1);
        let out = run_with_timeout(
            sb.mqtk()
                .args(["pub", "-p", &p, "-t", "rt", "-m", input, "--encode"])
                .args(&format),
            T,
        );
        assert_code(&out, 0);
        let out = run.finish(T);
        assert_code(&out, 0);
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        // (Each decoder refuses JSON text, so the bytes were the format's.)
        assert_eq!(got, want, "{format:?}");
    }
}

/// `-l`: a bad line is reported with its number and field and skipped; the good
/// lines are published; the exit status is 1 at the end.
#[test]
fn encode_lines_skips_bad_ones() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let p = b.port();
    let run = Spawned::spawn(&mut sub(
        &sb,
        p,
        &["-t", "l", "-v", "--decode", "sparkplug", "-C", "2"],
    ));
    b.wait_subscriptions(1);
    let input = sb.file("lines.json");
    std::fs::write(
        &input,
        "{\"metrics\":[{\"alias\":1,\"value\":1}]}\n{\"metrics\":[{\"alias\":1,\"valu\":2}]}\n{\"metrics\":[{\"alias\":1,\"value\":3}]}\n",
    )
    .unwrap();
    let out = run_with_timeout(
        sb.mqtk()
            .args([
                "pub",
                "-p",
                &p.to_string(),
                "-t",
                "l",
                "-l",
                "--encode",
                "sparkplug",
            ])
            .stdin(std::fs::File::open(&input).unwrap()),
        T,
    );
    assert_code(&out, 1);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(
            "Error: line 2: cannot encode as sparkplug: unknown field `valu`, expected one of"
        ),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "Error: 1 line(s) could not be encoded as sparkplug and were not published.\n"
        )
    );
    let out = run.finish(T);
    let lines = verbose_json(&out.stdout);
    let values: Vec<&Value> = lines
        .iter()
        .map(|(_, v)| &v["metrics"][0]["value"])
        .collect();
    assert_eq!(values, [&json!(1), &json!(3)]);
    // seq counts the messages sent.
    assert_eq!(lines[1].1["seq"], json!(1));
}

/// Errors before connecting, exit status 1: a bad message for --encode, a .proto
/// that does not compile (file:line:column), a message it lacks, an unknown format.
#[test]
fn start_up_errors() {
    let sb = Sandbox::new();
    let dir = proto_dir();
    let run = |args: &[&str]| run_with_timeout(sb.mqtk().args(args).args(["-p", "1"]), T);
    let out = run(&["pub", "-t", "x", "-m", "{\"a\":", "--encode", "cbor"]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: cannot encode the message as cbor: EOF while parsing a value at line 1 column 5\n"
    );
    let broken = dir.join("broken.proto");
    let spec = format!("proto:{}:Broken", broken.display());
    let out = run(&["sub", "-t", "x", "--decode", &spec]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: cannot use {f}: {f}:5:3: expected ';' or '[', but found 'int32'\n",
            f = broken.display()
        )
    );
    let sensor = dir.join("sensor.proto");
    let spec = format!("proto:{}:demo.Missing", sensor.display());
    let include = dir.join("include");
    let out = run(&[
        "pub",
        "-t",
        "x",
        "-m",
        "{}",
        "--encode",
        &spec,
        "--proto-path",
        include.to_str().unwrap(),
    ]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: {} does not define message 'demo.Missing' (it defines demo.Reading).\n",
            sensor.display()
        )
    );
    let out = run(&["rr", "-t", "q", "-e", "r", "-m", "{}", "--decode", "yaml"]);
    assert_code(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with(
        "Error: --decode: unknown payload format 'yaml': use sparkplug, proto:FILE.proto:package.Message, cbor, msgpack, json or auto.\n"
    ));
    let out = run(&["pub", "-t", "x", "-m", "{}", "--encode", "auto"]);
    assert_code(&out, 1);

    // -f and -s are checked before connecting too; the field is named.
    let bad = sb.file("bad.json");
    std::fs::write(&bad, "{\"a\":").unwrap();
    let out = run(&[
        "pub",
        "-t",
        "x",
        "--encode",
        "msgpack",
        "-f",
        bad.to_str().unwrap(),
    ]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: cannot encode the message as msgpack: EOF while parsing a value at line 1 column 5\n"
    );
    let out = run_with_timeout(
        sb.mqtk()
            .args(["pub", "-p", "1", "-t", "x", "-s", "--encode", "sparkplug"])
            .stdin(std::fs::File::open(&bad).unwrap()),
        T,
    );
    assert_code(&out, 1);
    let spec = format!("proto:{}:demo.Reading", sensor.display());
    let out = run(&[
        "pub",
        "-t",
        "x",
        "-m",
        r#"{"sensor":"x","nope":1}"#,
        "--encode",
        &spec,
        "--proto-path",
        include.to_str().unwrap(),
    ]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: cannot encode the message as proto: unrecognized field name 'nope' at line 1 column 20\n"
    );
    // Without --proto-path, the import it supplies is missing: file:line:column.
    let out = run(&["sub", "-t", "x", "--decode", &spec]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: cannot use {f}: {f}:10:1: import 'units.proto' not found\n",
            f = sensor.display()
        )
    );
}

/// rr: the request encoded, the response decoded.
#[test]
fn rr_encodes_the_request_and_decodes_the_response() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let p = b.port().to_string();
    // The responder: answers the first request on "req" with its payload, on "resp".
    let responder = Spawned::spawn(
        sb.mqtk()
            .args(["sub", "-p", &p, "-t", "req", "-C", "1", "-F", "%x"]),
    );
    b.wait_subscriptions(1);
    let rr = Spawned::spawn(sb.mqtk().args([
        "rr",
        "-p",
        &p,
        "-t",
        "req",
        "-e",
        "resp",
        "-m",
        r#"{"n":1}"#,
        "--encode",
        "msgpack",
        "--decode",
        "msgpack",
        "-W",
        "10",
    ]));
    let hex = responder.finish(T);
    assert_code(&hex, 0);
    let hex = String::from_utf8(hex.stdout).unwrap();
    // {"n":1} in MessagePack: fixmap 1, fixstr "n", 1.
    assert_eq!(hex.trim_end(), "81a16e01");
    b.wait_subscriptions(1);
    let reply = sb.file("reply.bin");
    std::fs::write(&reply, [0x81, 0xa2, b'o', b'k', 0xc3]).unwrap();
    let out = run_with_timeout(
        sb.mqtk()
            .args(["pub", "-p", &p, "-t", "resp", "-f"])
            .arg(&reply),
        T,
    );
    assert_code(&out, 0);
    let out = rr.finish(T);
    assert_code(&out, 0);
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        json!({"ok": true})
    );
}

/// `record --decode`: each payload written decoded under `decoded` beside the payload
/// itself (the line still matching docs/record.schema.json); one that does not decode
/// is recorded as received, reported and counted, exit 0; a replay of the recording
/// publishes the original bytes.
#[test]
fn record_decodes_and_replay_sends_the_original_bytes() {
    use base64::Engine;
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let p = b.port();
    let file = sb.file("sp.ndjson");
    let bad: &[u8] = &[0x12, 0x05, 0x0a, 0x01];
    let run = Spawned::spawn(sb.mqtk().args(["record", "-p", &p.to_string()]).args([
        "-t",
        "spBv1.0/#",
        "--decode",
        "sparkplug",
        "-C",
        "3",
        "-o",
        file.to_str().unwrap(),
    ]));
    b.wait_subscriptions(1);
    mosquitto_pub_file(&sb, p, "spBv1.0/g/NDATA/n", NDATA);
    mosquitto_pub_file(&sb, p, "spBv1.0/g/NDATA/n", bad);
    mosquitto_pub_file(
        &sb,
        p,
        "spBv1.0/STATE/host",
        br#"{"online":true,"timestamp":5}"#,
    );
    let out = run.finish(T);
    assert_code(&out, 0);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let warnings: Vec<&str> = stderr.lines().collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(
        warnings[0].starts_with(
            "Warning: the payload on topic 'spBv1.0/g/NDATA/n' is not sparkplug: failed to decode Protobuf message: "
        ) && warnings[0].ends_with("; recorded as received."),
        "{stderr}"
    );
    assert_eq!(
        warnings[1],
        "Warning: 1 payload(s) did not decode (--decode sparkplug) and were recorded as received."
    );
    let lines = crate::record::parse_record(&std::fs::read(&file).unwrap());
    assert_eq!(lines.len(), 4);
    let b64 = |b: &[u8]| json!(base64::engine::general_purpose::STANDARD.encode(b));
    assert_eq!(lines[1]["payload_base64"], b64(NDATA));
    assert_eq!(
        lines[1]["decoded"],
        json!({"timestamp": 2000, "metrics": [
            {"alias": 7, "timestamp": 2000, "value": 42},
            {"alias": 8, "value": 4294967291u64}], "seq": 1})
    );
    // UTF-8 without NUL: recorded as text.
    assert_eq!(lines[2]["payload"], json!("\u{12}\u{5}\n\u{1}"));
    assert!(lines[2].get("decoded").is_none(), "{}", lines[2]);
    // STATE is JSON in Sparkplug: kept as text, decoded as the JSON value.
    assert_eq!(
        lines[3]["payload"],
        json!(r#"{"online":true,"timestamp":5}"#)
    );
    assert_eq!(lines[3]["decoded"], json!({"online": true, "timestamp": 5}));

    // Replayed: the bytes as published, not the decoded JSON.
    b.wait_subscriptions_down_to(0);
    let listen = Spawned::spawn(&mut sub(&sb, p, &["-t", "#", "-F", "%t %x", "-C", "3"]));
    b.wait_subscriptions(1);
    let out = run_with_timeout(
        sb.mqtk()
            .args(["replay", "-p", &p.to_string(), "--speed", "max"])
            .arg(&file),
        T,
    );
    assert_code(&out, 0);
    let heard = listen.finish(T);
    assert_code(&heard, 0);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let state = br#"{"online":true,"timestamp":5}"#;
    assert_eq!(
        String::from_utf8(heard.stdout).unwrap(),
        format!(
            "spBv1.0/g/NDATA/n {}\nspBv1.0/g/NDATA/n {}\nspBv1.0/STATE/host {}\n",
            hex(NDATA),
            hex(bad),
            hex(state)
        )
    );

    // CBOR, and --quiet silences the warnings.
    b.wait_subscriptions_down_to(0);
    let file = sb.file("cbor.ndjson");
    let run = Spawned::spawn(sb.mqtk().args(["record", "-p", &p.to_string()]).args([
        "-t",
        "c",
        "--decode",
        "cbor",
        "--quiet",
        "-C",
        "2",
        "-o",
        file.to_str().unwrap(),
    ]));
    b.wait_subscriptions(1);
    mosquitto_pub_file(&sb, p, "c", CBOR);
    mosquitto_pub_file(&sb, p, "c", &[0xa1, 0xff]);
    let out = run.finish(T);
    assert_code(&out, 0);
    assert!(
        out.stderr.is_empty(),
        "--quiet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = crate::record::parse_record(&std::fs::read(&file).unwrap());
    assert_eq!(
        lines[1]["decoded"],
        json!({"t": 21.5, "ok": true, "ids": [1, -2], "raw": "AQI="})
    );
    assert_eq!(lines[1]["payload_base64"], b64(CBOR));
    assert!(lines[2].get("decoded").is_none());
}
