//! Golden output of the formatter: exact bytes for every mode, `-F` conversion, flag,
//! width, precision and escape, and JSON (each JSON output also parsed by serde_json).
//! Where 2.0.11 differs from 2.1, the test says how (Debian's 2.0.11 output quoted).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::*;
use crate::codec::{Properties, PropertyId, PropertyValue};

/// 2026-11-23T05:30:42.588806123 UTC.
fn when() -> SystemTime {
    UNIX_EPOCH + Duration::new(1_795_411_842, 588_806_123)
}

fn msg<'a>(topic: &'a str, payload: &'a [u8], props: &'a Properties) -> Message<'a> {
    Message {
        topic,
        payload,
        qos: 0,
        retain: false,
        mid: 0,
        properties: props,
        received: when(),
    }
}

fn v5_props() -> Properties {
    let mut p = Properties::new();
    p.push(PropertyId::PayloadFormatIndicator, PropertyValue::Byte(1));
    p.push(
        PropertyId::MessageExpiryInterval,
        PropertyValue::FourByte(100),
    );
    p.push(PropertyId::TopicAlias, PropertyValue::TwoByte(3));
    p.push(
        PropertyId::ResponseTopic,
        PropertyValue::String("rt".into()),
    );
    p.push(
        PropertyId::CorrelationData,
        PropertyValue::Binary(Bytes::from_static(b"cd")),
    );
    p.push(
        PropertyId::UserProperty,
        PropertyValue::Pair("a".into(), "b".into()),
    );
    p.push(PropertyId::SubscriptionIdentifier, PropertyValue::VarInt(7));
    p.push(PropertyId::ContentType, PropertyValue::String("ct".into()));
    p.push(
        PropertyId::UserProperty,
        PropertyValue::Pair("a".into(), "c\"".into()),
    );
    p
}

/// Output and diagnostics for `m` under `opts`, times in UTC.
fn render_with(opts: &OutputOptions, m: &Message<'_>) -> (Vec<u8>, Vec<u8>) {
    let mut f = Formatter::new(opts).expect("valid options").utc();
    let mut out = Vec::new();
    let mut diag = Vec::new();
    f.write(m, &mut out, &mut diag).unwrap();
    (out, diag)
}

fn fmt(format: &str, m: &Message<'_>) -> Vec<u8> {
    let opts = OutputOptions {
        format: Some(format.as_bytes().to_vec()),
        ..OutputOptions::default()
    };
    let (out, diag) = render_with(&opts, m);
    assert!(diag.is_empty(), "{}", String::from_utf8_lossy(&diag));
    out
}

fn fmt_s(format: &str, m: &Message<'_>) -> String {
    String::from_utf8(fmt(format, m)).unwrap()
}

/// Parses with serde_json, proving the bytes are valid JSON.
fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("invalid JSON ({e}): {:?}", String::from_utf8_lossy(bytes)))
}

#[test]
fn payload_only() {
    let p = Properties::new();
    let o = OutputOptions::default();
    assert_eq!(render_with(&o, &msg("t", b"hello", &p)).0, b"hello\n");
    // Binary payloads go out untouched, NULs included.
    assert_eq!(render_with(&o, &msg("t", b"a\0\xff", &p)).0, b"a\0\xff\n");
    // An empty payload prints nothing at all, not even the newline.
    assert_eq!(render_with(&o, &msg("t", b"", &p)).0, b"");
    let n = OutputOptions {
        eol: false,
        ..OutputOptions::default()
    };
    assert_eq!(render_with(&n, &msg("t", b"hello", &p)).0, b"hello");
}

#[test]
fn verbose() {
    let p = Properties::new();
    let v = OutputOptions {
        verbose: true,
        ..OutputOptions::default()
    };
    assert_eq!(render_with(&v, &msg("a/b", b"hi", &p)).0, b"a/b hi\n");
    assert_eq!(render_with(&v, &msg("a/b", b"", &p)).0, b"a/b (null)\n");
    let vn = OutputOptions {
        verbose: true,
        eol: false,
        ..OutputOptions::default()
    };
    assert_eq!(render_with(&vn, &msg("a/b", b"hi", &p)).0, b"a/b hi");
    // -v -N with an empty payload prints nothing.
    assert_eq!(render_with(&vn, &msg("a/b", b"", &p)).0, b"");
    // -F wins over -v.
    let vf = OutputOptions {
        verbose: true,
        format: Some(b"%l".to_vec()),
        ..OutputOptions::default()
    };
    assert_eq!(render_with(&vf, &msg("a/b", b"hi", &p)).0, b"2\n");
}

#[test]
fn basic_conversions() {
    let p = Properties::new();
    let mut m = msg("r/1", b"hello", &p);
    m.qos = 1;
    m.retain = true;
    m.mid = 42;
    assert_eq!(fmt_s("%t|%p|%l|%m|%q|%r|%%", &m), "r/1|hello|5|42|1|1|%\n");
    m.retain = false;
    m.qos = 0;
    m.mid = 0;
    assert_eq!(fmt_s("%q%r%m", &m), "000\n");
    // Flags and widths mean nothing to %q %r %% %U %D %P.
    assert_eq!(fmt_s("%5q|%-5r|%05%", &m), "0|0|%\n");
    // -N: no newline after a template either.
    let opts = OutputOptions {
        format: Some(b"%t".to_vec()),
        eol: false,
        ..OutputOptions::default()
    };
    assert_eq!(render_with(&opts, &m).0, b"r/1");
}

#[test]
fn widths_and_precision() {
    // Expected strings observed from Debian's mosquitto_sub 2.0.11 on topic r/1,
    // payload "hello", mid 1 (the code for these is the same in 2.1).
    let p = Properties::new();
    let mut m = msg("r/1", b"hello", &p);
    m.qos = 1;
    m.mid = 1;
    assert_eq!(
        fmt_s("%10t|%-10t|%.1t|%5.1t|%-5.1t|%05t|%-.2t", &m),
        "       r/1|r/1       |r|    r|r    |  r/1|r/\n"
    );
    assert_eq!(
        fmt_s("%10p|%-10p|%.2p|%3p|%-p|%05p|%-05p|%-3p", &m),
        "     hello|hello     |hello|hel|hello     |hello|hello|hel\n"
    );
    assert_eq!(fmt_s("%7p|%07p", &m), "  hello|00hello\n");
    assert_eq!(
        fmt_s("%5m|%-5m|%05m|%5l|%-05l", &m),
        "    1|1    |00001|    5|5    \n"
    );
}

#[test]
fn hex() {
    let p = Properties::new();
    let m = msg("r/1", b"hello", &p);
    assert_eq!(fmt_s("%x|%X", &m), "68656c6c6f|68656C6C6F\n");
    // 2.1 widths: the width caps the payload bytes and the padding counts hex digits.
    // Debian's 2.0.11 prints
    // "      6865|6865      |6865|6865|0000006865|68656c6c6f     | 68|68 " here.
    assert_eq!(
        fmt_s("%10x|%-10x|%4x|%-4x|%014x|%-x|%3x|%-3x", &m),
        "68656c6c6f|68656c6c6f|68656c6c|68656c6c    |000068656c6c6f|68656c6c6f     |68656c|68656c   \n"
    );
    // 2.1 nibble grouping: the precision is the group size in hex digits, and an
    // optional separator character (default space) stands before the conversion.
    // 2.0.11 ignores the precision ("68656c6c6f") and rejects "%.2:x" with
    // "Error: Invalid format specifier ':'."
    assert_eq!(
        fmt_s("%.2x|%.2:X|%.4-x|%.3x|%-.2x|%.1_x", &m),
        "68 65 6c 6c 6f|68:65:6C:6C:6F|6865-6c6c-6f|686 56c 6c6 f|68 65 6c 6c 6f     |6_8_6_5_6_c_6_c_6_f\n"
    );
    assert_eq!(fmt_s("%014.4X", &m), "0000 6865 6C6C 6F\n");
    assert_eq!(fmt_s("%12.4x", &m), "  68 656c 6c6f\n");
    let bin = msg("t", b"\x00\xff\x10", &p);
    assert_eq!(fmt_s("%x %X %.2/x", &bin), "00ff10 00FF10 00/ff/10\n");
    let empty = msg("t", b"", &p);
    assert_eq!(fmt_s("[%x][%4x][%-4x]", &empty), "[][    ][    ]\n");
}

#[test]
fn v5_properties() {
    let p = v5_props();
    let m = msg("t", b"x", &p);
    assert_eq!(
        fmt_s("%A|%C|%D|%E|%F|%P|%R|%S", &m),
        "3|ct|cd|100|1|a:b a:c\"|rt|7\n"
    );
    assert_eq!(
        fmt_s(
            "%5A|%-5A|%05A|%8C|%-8C|%.1C|%10D|%5E|%05E|%-5E|%3F|%5S|%05S|%10P|%4R|%-4R|%.1R",
            &m
        ),
        "    3|3    |00003|      ct|ct      |c|cd|  100|00100|100  |  1|    7|00007|a:b a:c\"|  rt|rt  |r\n"
    );
    // Missing properties: blanks of the field width (pad character included, even
    // with `-`), except %R, %D and %P, which print nothing.
    let none = Properties::new();
    let m = msg("t", b"x", &none);
    assert_eq!(
        fmt_s(
            "[%A|%5A|%05A|%-5A|%-05A|%C|%8C|%08C|%D|%5D|%E|%5E|%F|%3F|%P|%R|%5R|%S|%05S]",
            &m
        ),
        "[|     |00000|     |00000||        |00000000||||     ||   |||||00000]\n"
    );
}

#[test]
fn property_edge_values() {
    // The message expiry interval goes through a C int, as in mosquitto.
    let mut p = Properties::new();
    p.push(
        PropertyId::MessageExpiryInterval,
        PropertyValue::FourByte(u32::MAX),
    );
    p.push(
        PropertyId::SubscriptionIdentifier,
        PropertyValue::VarInt(268_435_455),
    );
    p.push(PropertyId::SubscriptionIdentifier, PropertyValue::VarInt(2));
    p.push(
        PropertyId::CorrelationData,
        PropertyValue::Binary(Bytes::from_static(b"\0\xff")),
    );
    let m = msg("t", b"x", &p);
    assert_eq!(fmt("%E|%S|%D", &m), b"-1|268435455|\0\xff\n");
}

#[test]
fn times() {
    let p = Properties::new();
    let m = msg("t", b"x", &p);
    assert_eq!(fmt_s("%I", &m), "2026-11-23T05:30:42+0000\n");
    assert_eq!(
        fmt_s("%26I|%-26I|%.4I", &m),
        "  2026-11-23T05:30:42+0000|2026-11-23T05:30:42+0000  |2026\n"
    );
    assert_eq!(fmt_s("%U", &m), "1795411842.588806123\n");
    assert_eq!(fmt_s("%20U", &m), "1795411842.588806123\n");
    assert_eq!(
        fmt_s("@Y-@m-@d @H:@M:@S.@N @@ @z @Q", &m),
        "2026-11-23 05:30:42.588806123 @ +0000 %Q\n"
    );
    // @s is strftime's epoch seconds of the local time: %U's seconds in any zone.
    let mut local = Formatter::new(&OutputOptions {
        format: Some(b"@s %U".to_vec()),
        ..OutputOptions::default()
    })
    .unwrap();
    let mut out = Vec::new();
    local.write(&m, &mut out, &mut io::sink()).unwrap();
    assert_eq!(out, b"1795411842 1795411842.588806123\n");
    // Nanoseconds are always nine digits.
    let mut early = msg("t", b"x", &p);
    early.received = UNIX_EPOCH + Duration::new(1_795_411_842, 5);
    assert_eq!(fmt_s("@N %U", &early), "000000005 1795411842.000000005\n");
    // A second formatter call in the next second re-renders the cached fields.
    let mut f = Formatter::new(&OutputOptions {
        format: Some(b"@S %I".to_vec()),
        ..OutputOptions::default()
    })
    .unwrap()
    .utc();
    let mut out = Vec::new();
    f.write(&m, &mut out, &mut io::sink()).unwrap();
    let mut later = m;
    later.received = when() + Duration::from_secs(1);
    f.write(&later, &mut out, &mut io::sink()).unwrap();
    assert_eq!(
        out,
        b"42 2026-11-23T05:30:42+0000\n43 2026-11-23T05:30:43+0000\n"
    );
}

#[test]
fn escapes() {
    let p = Properties::new();
    let m = msg("t", b"x", &p);
    assert_eq!(
        fmt("\\\\|\\0|\\a|\\e|\\n|\\r|\\t|\\v|%t\\0%p", &m),
        b"\\|\0|\x07|\x1b|\n|\r|\t|\x0b|t\0x\n"
    );
}

#[test]
fn floats() {
    let p = Properties::new();
    let f = 1.5f32.to_ne_bytes();
    let m = msg("t", &f, &p);
    assert_eq!(
        fmt_s("%f|%.2f|%8.3f|%-8.1f|%08.2f", &m),
        "1.500000|1.50|   1.500|1.5     |00001.50\n"
    );
    let d = 1e10f64.to_ne_bytes();
    let m = msg("t", &d, &p);
    assert_eq!(fmt_s("%d|%.0d", &m), "10000000000.000000|10000000000\n");
    // Wrong length: nothing printed, mosquitto's words on stderr (no newline, as
    // mosquitto prints them).
    let m = msg("t", b"abc", &p);
    let opts = OutputOptions {
        format: Some(b"[%f][%d]".to_vec()),
        ..OutputOptions::default()
    };
    let (out, diag) = render_with(&opts, &m);
    assert_eq!(out, b"[][]\n");
    assert_eq!(
        diag,
        b"requested float printing, but non-float data receivedrequested double printing, but non-double data received"
    );
}

#[test]
fn json_plain() {
    let p = Properties::new();
    let m = msg("x/y", b"hello", &p);
    let out = fmt("%j", &m);
    assert_eq!(
        out,
        b"{\"tst\":\"2026-11-23T05:30:42.588806+0000\",\"topic\":\"x/y\",\"qos\":0,\"retain\":false,\"payloadlen\":5,\"payload\":\"hello\"}\n"
    );
    json(&out);
    // 2.0.11 prints "tst":"2026-11-23T05:30:42.588806Z+0000" and "retain":0.
    let mut m1 = msg("x/y", b"hello", &p);
    m1.qos = 2;
    m1.mid = 9;
    m1.retain = true;
    let out = fmt("%j", &m1);
    assert_eq!(
        out,
        b"{\"tst\":\"2026-11-23T05:30:42.588806+0000\",\"topic\":\"x/y\",\"qos\":2,\"retain\":true,\"payloadlen\":5,\"mid\":9,\"payload\":\"hello\"}\n"
    );
    let v = json(&out);
    assert_eq!(v["retain"], serde_json::Value::Bool(true));
}

#[test]
fn json_payload_kinds() {
    let p = Properties::new();
    let head =
        "{\"tst\":\"2026-11-23T05:30:42.588806+0000\",\"topic\":\"t\",\"qos\":0,\"retain\":false,";
    let cases: [(&[u8], &str); 6] = [
        (b"", "\"payloadlen\":0,\"payload\":null}"),
        (
            b"a\"\\\n\x01\x7f",
            "\"payloadlen\":6,\"payload\":\"a\\\"\\\\\\n\\u0001\x7f\"}",
        ),
        (
            "caf\u{e9}".as_bytes(),
            "\"payloadlen\":5,\"payload\":\"caf\u{e9}\"}",
        ),
        // Beyond mosquitto: NUL (2.0.11 prints "a", cut at the NUL) and invalid
        // UTF-8 (2.0.11 prints the raw byte, invalid JSON) go out as base64.
        (b"a\0b", "\"payloadlen\":3,\"payload_base64\":\"YQBi\"}"),
        (
            b"caf\xe9",
            "\"payloadlen\":4,\"payload_base64\":\"Y2Fm6Q==\"}",
        ),
        (
            b"\xff\xfe\xfd\xfc",
            "\"payloadlen\":4,\"payload_base64\":\"//79/A==\"}",
        ),
    ];
    for (payload, tail) in cases {
        let out = fmt("%j", &msg("t", payload, &p));
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            format!("{head}{tail}\n")
        );
        let v = json(&out);
        if let Some(b64) = v.get("payload_base64") {
            use base64::Engine as _;
            let back = base64::engine::general_purpose::STANDARD
                .decode(b64.as_str().unwrap())
                .unwrap();
            assert_eq!(back, payload);
        }
    }
    // A large binary payload crosses the base64 chunk boundary intact.
    let big: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    let v = json(&fmt("%j", &msg("t", &big, &p)));
    use base64::Engine as _;
    let back = base64::engine::general_purpose::STANDARD
        .decode(v["payload_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(back, big);
}

#[test]
fn json_with_v5_properties() {
    let p = v5_props();
    let mut m = msg("t", b"x", &p);
    m.qos = 1;
    m.mid = 3;
    let out = fmt("%j", &m);
    // 2.1: user properties as an array of one-entry objects, placed where the first
    // one was; 2.0.11 prints one object ("user-properties":{"a":"b","a":"c\""}).
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "{\"tst\":\"2026-11-23T05:30:42.588806+0000\",\"topic\":\"t\",\"qos\":1,\"retain\":false,\"payloadlen\":1,\"mid\":3,\
\"properties\":{\"payload-format-indicator\":1,\"message-expiry-interval\":100,\"topic-alias\":3,\"response-topic\":\"rt\",\
\"correlation-data\":\"cd\",\"user-properties\":[{\"a\":\"b\"},{\"a\":\"c\\\"\"}],\"subscription-identifier\":7,\"content-type\":\"ct\"},\
\"payload\":\"x\"}\n"
    );
    let v = json(&out);
    assert_eq!(v["properties"]["user-properties"][1]["a"], "c\"");
    // Binary correlation data: base64 under its own key.
    let mut p = Properties::new();
    p.push(
        PropertyId::CorrelationData,
        PropertyValue::Binary(Bytes::from_static(b"\0\x01")),
    );
    p.push(
        PropertyId::MessageExpiryInterval,
        PropertyValue::FourByte(u32::MAX),
    );
    let out = fmt("%j", &msg("t", b"x", &p));
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        text.contains(
            "\"properties\":{\"correlation-data-base64\":\"AAE=\",\"message-expiry-interval\":4294967295}"
        ),
        "{text}"
    );
    assert_eq!(
        json(&out)["properties"]["message-expiry-interval"],
        u32::MAX
    );
}

#[test]
fn json_pretty() {
    let p = v5_props();
    let opts = OutputOptions {
        format: Some(b"%j".to_vec()),
        pretty: true,
        ..OutputOptions::default()
    };
    let (out, _) = render_with(&opts, &msg("t", b"x", &p));
    // cJSON_Print: tabs, "key":<tab>value, ", " between array items.
    let expected = "{\n\
\t\"tst\":\t\"2026-11-23T05:30:42.588806+0000\",\n\
\t\"topic\":\t\"t\",\n\
\t\"qos\":\t0,\n\
\t\"retain\":\tfalse,\n\
\t\"payloadlen\":\t1,\n\
\t\"properties\":\t{\n\
\t\t\"payload-format-indicator\":\t1,\n\
\t\t\"message-expiry-interval\":\t100,\n\
\t\t\"topic-alias\":\t3,\n\
\t\t\"response-topic\":\t\"rt\",\n\
\t\t\"correlation-data\":\t\"cd\",\n\
\t\t\"user-properties\":\t[{\n\
\t\t\t\t\"a\":\t\"b\"\n\
\t\t\t}, {\n\
\t\t\t\t\"a\":\t\"c\\\"\"\n\
\t\t\t}],\n\
\t\t\"subscription-identifier\":\t7,\n\
\t\t\"content-type\":\t\"ct\"\n\
\t},\n\
\t\"payload\":\t\"x\"\n\
}\n";
    assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);
    json(&out);
    // --pretty changes nothing outside JSON.
    let opts = OutputOptions {
        format: Some(b"%t".to_vec()),
        pretty: true,
        ..OutputOptions::default()
    };
    assert_eq!(render_with(&opts, &msg("t", b"x", &p)).0, b"t\n");
}

#[test]
fn json_embedded() {
    let p = Properties::new();
    let head =
        "{\"tst\":\"2026-11-23T05:30:42.588806+0000\",\"topic\":\"t\",\"qos\":0,\"retain\":false,";
    let cases: [(&[u8], &str); 6] = [
        (
            br#" {"temperature": 27.0, "humidity":57, "s":"\u00e9\/", "n":[1e3,-0.5,null,true]} "#,
            "\"payloadlen\":80,\"payload\":{\"temperature\":27,\"humidity\":57,\"s\":\"\u{e9}/\",\"n\":[1000,-0.5,null,true]}}",
        ),
        (b"\"str\"", "\"payloadlen\":5,\"payload\":\"str\"}"),
        (
            b"12345678901234567890",
            "\"payloadlen\":20,\"payload\":1.2345678901234567e+19}",
        ),
        (b"", "\"payloadlen\":0,\"payload\":null}"),
        // Not JSON: beyond mosquitto (which prints nothing but the newline and an
        // error), the payload goes out as %j would print it.
        (b"not json", "\"payloadlen\":8,\"payload\":\"not json\"}"),
        (
            b"{\"a\":\xff}",
            "\"payloadlen\":7,\"payload_base64\":\"eyJhIjr/fQ==\"}",
        ),
    ];
    for (payload, tail) in cases {
        let opts = OutputOptions {
            format: Some(b"%J".to_vec()),
            ..OutputOptions::default()
        };
        let (out, diag) = render_with(&opts, &msg("t", payload, &p));
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            format!("{head}{tail}\n")
        );
        json(&out);
        let fell_back = tail.contains("not json") || tail.contains("base64");
        if fell_back {
            assert_eq!(
                diag,
                b"Error: Message payload is not valid JSON on topic t.\n"
            );
        } else {
            assert!(diag.is_empty());
        }
    }
    let opts = OutputOptions {
        format: Some(b"%J".to_vec()),
        pretty: true,
        ..OutputOptions::default()
    };
    let (out, _) = render_with(&opts, &msg("t", br#"{"a":[{"b":{}}],"c":[]}"#, &p));
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "{\n\t\"tst\":\t\"2026-11-23T05:30:42.588806+0000\",\n\t\"topic\":\t\"t\",\n\t\"qos\":\t0,\n\t\"retain\":\tfalse,\n\t\"payloadlen\":\t23,\n\
\t\"payload\":\t{\n\t\t\"a\":\t[{\n\t\t\t\t\"b\":\t{\n\t\t\t\t}\n\t\t\t}],\n\t\t\"c\":\t[]\n\t}\n}\n"
    );
    json(&out);
}

#[test]
fn json_inside_a_template() {
    let p = Properties::new();
    let out = fmt("%t %j\\0", &msg("t", b"1", &p));
    assert!(out.starts_with(b"t {\"tst\":"));
    assert!(out.ends_with(b"\"payload\":\"1\"}\0\n"));
}

#[test]
fn watch_mode() {
    let p = Properties::new();
    let opts = OutputOptions {
        verbose: true,
        watch: true,
        ..OutputOptions::default()
    };
    let mut f = Formatter::new(&opts).unwrap();
    let mut out = Vec::new();
    f.write_header("localhost", &mut out).unwrap();
    f.write(&msg("a", b"1", &p), &mut out, &mut io::sink())
        .unwrap();
    f.write(&msg("b", b"2", &p), &mut out, &mut io::sink())
        .unwrap();
    f.write(&msg("a", b"3", &p), &mut out, &mut io::sink())
        .unwrap();
    f.skip(&msg("c", b"4", &p), &mut out).unwrap();
    f.write(&msg("b", b"5", &p), &mut out, &mut io::sink())
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\x1b[2J\x1b[1;1HBroker: localhost\n\
\x1b[2;1Ha 1\n\x1b[2;1H\n\
\x1b[3;1Hb 2\n\x1b[3;1H\n\
\x1b[2;1Ha 3\n\x1b[3;1H\n\
\x1b[4;1H\
\x1b[3;1Hb 5\n\x1b[4;1H\n"
    );
    // Without --watch there is no header.
    let f = Formatter::new(&OutputOptions::default()).unwrap();
    let mut out = Vec::new();
    f.write_header("h", &mut out).unwrap();
    assert!(out.is_empty());
}

#[test]
fn invalid_formats_are_errors() {
    for (f, e) in [
        ("%", "Error: Incomplete format specifier."),
        ("%y", "Error: Invalid format specifier 'y'."),
        ("\\x", "Error: Invalid escape specifier 'x'."),
        ("x\\", "Error: Incomplete escape specifier."),
    ] {
        let opts = OutputOptions {
            format: Some(f.as_bytes().to_vec()),
            ..OutputOptions::default()
        };
        assert_eq!(Formatter::new(&opts).err().unwrap().to_string(), e);
    }
}

#[test]
fn non_utf8_format_bytes_are_literal() {
    let p = Properties::new();
    let opts = OutputOptions {
        format: Some(b"\xff%t\xfe".to_vec()),
        ..OutputOptions::default()
    };
    assert_eq!(render_with(&opts, &msg("t", b"x", &p)).0, b"\xfft\xfe\n");
}

#[test]
fn from_publish() {
    let publish = Publish {
        dup: false,
        qos: crate::codec::QoS::AtLeastOnce,
        retain: true,
        topic: String::new(),
        packet_id: 5,
        properties: Properties::new(),
        payload: Bytes::from_static(b"pl"),
    };
    let m = Message::from_publish(&publish, "aliased/topic", when());
    assert_eq!(fmt_s("%t %p %q %r %m", &m), "aliased/topic pl 1 1 5\n");
}

mod props {
    //! Properties over arbitrary input: JSON output is always valid JSON that gives
    //! back the payload, and no format or message makes the formatter panic.

    use super::*;
    use proptest::prelude::*;

    fn any_properties() -> impl Strategy<Value = Properties> {
        (
            proptest::option::of(any::<String>()),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            proptest::collection::vec((any::<String>(), any::<String>()), 0..3),
            proptest::option::of(any::<u32>()),
        )
            .prop_map(|(ct, cd, users, expiry)| {
                let mut p = Properties::new();
                if let Some(ct) = ct {
                    p.push(PropertyId::ContentType, PropertyValue::String(ct));
                }
                if let Some(cd) = cd {
                    p.push(
                        PropertyId::CorrelationData,
                        PropertyValue::Binary(Bytes::from(cd)),
                    );
                }
                for (k, v) in users {
                    p.push(PropertyId::UserProperty, PropertyValue::Pair(k, v));
                }
                if let Some(e) = expiry {
                    p.push(
                        PropertyId::MessageExpiryInterval,
                        PropertyValue::FourByte(e),
                    );
                }
                p
            })
    }

    proptest! {
        #[test]
        fn json_is_always_valid_and_keeps_the_payload(
            topic in any::<String>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            text in any::<String>(),
            use_text in any::<bool>(),
            props in any_properties(),
            pretty in any::<bool>(),
            raw in any::<bool>(),
            qos in 0u8..3,
        ) {
            let payload = if use_text { text.into_bytes() } else { payload };
            let m = Message { qos, ..msg(&topic, &payload, &props) };
            let opts = OutputOptions {
                format: Some(if raw { b"%J".to_vec() } else { b"%j".to_vec() }),
                pretty,
                eol: false,
                ..OutputOptions::default()
            };
            let (out, _) = render_with(&opts, &m);
            let v = json(&out);
            prop_assert_eq!(v["topic"].as_str(), Some(topic.as_str()));
            prop_assert_eq!(v["payloadlen"].as_u64(), Some(payload.len() as u64));
            if payload.is_empty() {
                prop_assert!(v["payload"].is_null());
            } else if let Some(b64) = v.get("payload_base64") {
                use base64::Engine as _;
                let back = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_str().unwrap())
                    .unwrap();
                prop_assert_eq!(back, payload);
            } else if raw && json::parse(&payload).is_some() {
                prop_assert!(v.get("payload").is_some());
            } else {
                prop_assert_eq!(v["payload"].as_str().map(str::as_bytes), Some(&payload[..]));
            }
        }

        #[test]
        fn embedded_json_round_trips(value in arb_json()) {
            let text = serde_json::to_vec(&value).unwrap();
            let p = Properties::new();
            let opts = OutputOptions {
                format: Some(b"%J".to_vec()),
                eol: false,
                ..OutputOptions::default()
            };
            let (out, diag) = render_with(&opts, &msg("t", &text, &p));
            prop_assert!(diag.is_empty());
            let v = json(&out);
            prop_assert!(same_json(&v["payload"], &value), "{} vs {}", v["payload"], value);
        }

        #[test]
        fn any_format_compiles_or_errors_and_never_panics(
            format in proptest::collection::vec(
                prop_oneof![
                    Just(b'%'), Just(b'@'), Just(b'\\'), Just(b'-'), Just(b'0'), Just(b'.'),
                    Just(b':'), b'0'..=b'9', b'A'..=b'Z', b'a'..=b'z', any::<u8>(),
                ],
                0..24,
            ),
            payload in proptest::collection::vec(any::<u8>(), 0..12),
            props in any_properties(),
        ) {
            let opts = OutputOptions { format: Some(format), ..OutputOptions::default() };
            if let Ok(f) = Formatter::new(&opts) {
                let mut f = f.utc();
                let mut out = Vec::new();
                f.write(&msg("a/b", &payload, &props), &mut out, &mut io::sink()).unwrap();
            }
        }
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::json!(f)),
            any::<String>().prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::vec((any::<String>(), inner), 0..4)
                    .prop_map(|kv| { serde_json::Value::Object(kv.into_iter().collect()) }),
            ]
        })
    }

    /// Equal as JSON, numbers within cJSON's printing precision (15 significant
    /// digits when they read back within DBL_EPSILON, else 17).
    fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        match (a, b) {
            (V::Number(x), V::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                // serde_json's parser (without `float_roundtrip`) may land an ulp off;
                // for subnormals an ulp is more than EPSILON relative, hence the
                // absolute bound of a few subnormal steps.
                x == y
                    || (x - y).abs() <= x.abs().max(y.abs()) * f64::EPSILON * 2.0
                    || (x - y).abs() <= 4.0 * f64::from_bits(1)
            }
            (V::Array(x), V::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q))
            }
            (V::Object(x), V::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
            }
            _ => a == b,
        }
    }
}

mod decoded {
    //! `with_decoder`: what `--decode` changes, and what it leaves alone.
    use super::*;
    use crate::payload::Codec;

    /// `{"t": 21.5}` in CBOR: map of 1, text "t", half float 21.5.
    const CBOR: &[u8] = &[0xa1, 0x61, b't', 0xf9, 0x4d, 0x60];

    fn run(opts: OutputOptions, payloads: &[&[u8]]) -> (String, String, u64) {
        let mut f = Formatter::new(&opts)
            .unwrap()
            .utc()
            .with_decoder(Some(Codec::Cbor));
        let (mut out, mut diag) = (Vec::new(), Vec::new());
        let props = Properties::new();
        for p in payloads {
            f.write(&msg("s/1", p, &props), &mut out, &mut diag)
                .unwrap();
        }
        let text = |v: Vec<u8>| String::from_utf8_lossy(&v).into_owned();
        (text(out), text(diag), f.undecoded())
    }

    #[test]
    fn verbose_and_plain_show_the_json() {
        let verbose = OutputOptions {
            verbose: true,
            ..OutputOptions::default()
        };
        let (out, diag, n) = run(verbose, &[CBOR, b"", b"\xff"]);
        // Empty: "(null)" as ever; not CBOR: as received, reported, counted.
        assert_eq!(out, "s/1 {\"t\":21.5}\ns/1 (null)\ns/1 \u{fffd}\n");
        assert_eq!(
            diag,
            "Warning: the payload on topic 's/1' is not cbor: not CBOR (invalid type: break, expected non-break); shown as received.\n"
        );
        assert_eq!(n, 1);
        let pretty = OutputOptions {
            pretty: true,
            ..OutputOptions::default()
        };
        assert_eq!(run(pretty, &[CBOR]).0, "{\n\t\"t\":\t21.5\n}\n");
    }

    #[test]
    fn templates_embed_it() {
        let opts = |f: &str, pretty: bool| OutputOptions {
            format: Some(f.as_bytes().to_vec()),
            pretty,
            ..OutputOptions::default()
        };
        assert_eq!(
            run(opts("%p %l %x", false), &[CBOR]).0,
            "{\"t\":21.5} 6 a16174f94d60\n"
        );
        let (out, ..) = run(opts("%j", false), &[CBOR]);
        assert!(
            out.ends_with(",\"payloadlen\":6,\"payload\":{\"t\":21.5}}\n"),
            "{out}"
        );
        let (out, ..) = run(opts("%J", true), &[CBOR]);
        assert!(
            out.ends_with("\t\"payload\":\t{\n\t\t\"t\":\t21.5\n\t}\n}\n"),
            "{out}"
        );
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
        // A template that never shows the payload does not decode it.
        let (out, diag, n) = run(opts("%t", false), &[b"\xff"]);
        assert_eq!((out.as_str(), diag.as_str(), n), ("s/1\n", "", 0));
        // Undecodable under %j: base64, as without a decoder.
        let (out, _, n) = run(opts("%j", false), &[b"\xff"]);
        assert!(out.contains("\"payload_base64\":\"/w==\""), "{out}");
        assert_eq!(n, 1);
    }
}
