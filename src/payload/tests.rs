//! The codecs on payloads built by hand (tests/fixtures/payloads.rs): CBOR,
//! MessagePack, protobuf from a .proto, JSON, `auto`; and FORMAT arguments.

use std::path::PathBuf;

use serde_json::json;

use super::*;

mod fixtures {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/payloads.rs"
    ));
}
use fixtures::binary::{CBOR, MSGPACK};
use fixtures::proto::{ENVELOPE, READING, UNKNOWN_ANY};
use fixtures::sparkplug::NDATA;

fn value(codec: &Codec, topic: &str, bytes: &[u8]) -> serde_json::Value {
    codec
        .decode(topic, bytes)
        .unwrap()
        .unwrap()
        .to_value()
        .unwrap()
}

fn text(codec: &Codec, bytes: &[u8], style: Style) -> String {
    let mut out = Vec::new();
    assert!(codec.decode_json("t", bytes, style, &mut out).unwrap());
    String::from_utf8(out).unwrap()
}

fn reading() -> MessageDescriptor {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proto");
    protox::Compiler::new([dir.clone(), dir.join("include")])
        .unwrap()
        .open_file("sensor.proto")
        .unwrap()
        .descriptor_pool()
        .get_message_by_name("demo.Reading")
        .unwrap()
}

#[test]
fn formats_parse() {
    assert_eq!(Format::parse("sparkplug"), Ok(Format::Sparkplug));
    assert_eq!(Format::parse("auto"), Ok(Format::Auto));
    assert_eq!(
        Format::parse("proto:a:b/c.proto:pkg.Msg"),
        Ok(Format::Proto {
            file: "a:b/c.proto".into(),
            message: "pkg.Msg".into()
        })
    );
    assert_eq!(
        Format::parse("yaml").unwrap_err(),
        format!("unknown payload format 'yaml': use {FORMATS}")
    );
    assert!(
        Format::parse("proto:x.proto")
            .unwrap_err()
            .contains("names no message")
    );
    assert!(Format::parse("proto::M").is_err());
}

#[test]
fn cbor_and_msgpack_decode_to_the_same_json() {
    let want = json!({"t": 21.5, "ok": true, "ids": [1, -2], "raw": "AQI="});
    assert_eq!(value(&Codec::Cbor, "t", CBOR), want);
    assert_eq!(value(&Codec::Msgpack, "t", MSGPACK), want);
    assert_eq!(
        text(&Codec::Cbor, CBOR, Style::Compact),
        r#"{"t":21.5,"ok":true,"ids":[1,-2],"raw":"AQI="}"#
    );
}

#[test]
fn binary_oddities() {
    // CBOR: map with an integer key and a tagged epoch time; 2^64 - 1; -2^64.
    let cbor = [
        0xa1, // map of 1
        0x01, // key: 1
        0x83, // array of 3
        0xc1, 0x1a, 0x65, 0x53, 0xf1, 0x00, // tag 1 (epoch), 1700000000
        0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 2^64 - 1
        0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // -2^64
    ];
    assert_eq!(
        value(&Codec::Cbor, "t", &cbor),
        json!({"1": [1700000000, "18446744073709551615", "-18446744073709551616"]})
    );
    // MessagePack: an extension (type 5, 2 bytes), a str 8 that is not UTF-8, NaN.
    let mp = [
        0x93, // fixarray of 3
        0xd5, 0x05, 0x01, 0x02, // fixext 2, type 5, 01 02
        0xd9, 0x01, 0xff, // str 8 of 1 byte: ff
        0xca, 0x7f, 0xc0, 0x00, 0x00, // float 32 NaN
    ];
    assert_eq!(
        value(&Codec::Msgpack, "t", &mp),
        json!([{"ext": 5, "data": "AQI="}, "/w==", "NaN"])
    );
}

/// Map keys that are containers make the map a list of pairs: linear output, where
/// keys as escaped JSON text would double at each level (a fuzzer find: 200 bytes of
/// nested msgpack maps asked for gigabytes).
#[test]
fn container_keys_make_pairs() {
    // MessagePack {{1: 2}: 3}: fixmap 1, key fixmap 1 (1: 2), value 3.
    let mp = [0x81, 0x81, 0x01, 0x02, 0x03];
    assert_eq!(value(&Codec::Msgpack, "t", &mp), json!([[{"1": 2}, 3]]));
    // CBOR {[1]: true, 2: false}: map 2, key array 1 (1), true, key 2, false.
    let cbor = [0xa2, 0x81, 0x01, 0xf5, 0x02, 0xf4];
    assert_eq!(
        value(&Codec::Cbor, "t", &cbor),
        json!([[[1], true], [2, false]])
    );
    // 60 levels of maps keyed by maps: small output, not 2^60 bytes.
    let mut deep = vec![0x81u8; 60];
    deep.extend_from_slice(&[0x01, 0x02]);
    deep.extend(std::iter::repeat_n(0x03, 59));
    let mut out = Vec::new();
    assert!(
        Codec::Msgpack
            .decode_json("t", &deep, Style::Compact, &mut out)
            .unwrap()
    );
    assert!(out.len() < 2000, "{} bytes", out.len());
}

#[test]
fn binary_errors_say_why() {
    let e = Codec::Cbor
        .decode("t", &CBOR[..CBOR.len() - 1])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "not cbor: truncated CBOR (the value ends early)"
    );
    let mut extra = CBOR.to_vec();
    extra.push(0);
    assert_eq!(
        Codec::Cbor.decode("t", &extra).unwrap_err().why,
        "1 bytes follow the CBOR value"
    );
    assert_eq!(
        Codec::Msgpack.decode("t", &MSGPACK[..5]).unwrap_err().why,
        "truncated MessagePack (the value ends early)"
    );
    // An array claiming 2^32 - 1 items in 5 bytes: an error, not a 4-billion-item
    // allocation.
    assert!(
        Codec::Msgpack
            .decode("t", &[0xdd, 0xff, 0xff, 0xff, 0xff])
            .is_err()
    );
    assert!(
        Codec::Cbor
            .decode("t", &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
            .is_err()
    );
    let deep = vec![0x91u8; 10_000];
    assert!(
        Codec::Msgpack
            .decode("t", &deep)
            .unwrap_err()
            .why
            .contains("deep")
    );
    let deep = vec![0x81u8; 10_000];
    assert!(
        Codec::Cbor
            .decode("t", &deep)
            .unwrap_err()
            .why
            .contains("deep")
    );
}

#[test]
fn proto_canonical_json() {
    let codec = Codec::Proto(reading());
    assert_eq!(
        value(&codec, "t", READING),
        json!({"sensor": "t1", "delta": -3, "samples": [1.5, -2.0], "unit": "KELVIN",
               "where": {"lat": 1.0}, "count": "7", "tags": {"a": 1}, "raw": "AP8=",
               "at": "2023-11-14T22:13:20Z"})
    );
    // Field 2 (sint32) sent as a 64-bit value.
    let e = codec
        .decode("t", &[0x11, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap_err();
    assert_eq!(e.format, "proto");
    assert!(e.why.contains("invalid wire type"), "{e}");
}

/// Well-known types in protobuf's canonical JSON: Any with `@type` and the message's
/// fields, Struct as a plain object, Duration as seconds with an `s`, a wrapper as its
/// bare value. An Any of a type the schema lacks is an error, not a guess.
#[test]
fn proto_well_known_types() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proto");
    let desc = protox::Compiler::new([dir])
        .unwrap()
        .open_file("wkt.proto")
        .unwrap()
        .descriptor_pool()
        .get_message_by_name("demo.Envelope")
        .unwrap();
    let codec = Codec::Proto(desc);
    assert_eq!(
        value(&codec, "t", ENVELOPE),
        json!({"body": {"@type": "type.googleapis.com/demo.Location", "lat": 1.0},
               "attrs": {"on": true, "n": 2.5}, "took": "1.500s", "level": -1})
    );
    let bytes = Encoder::new(codec.clone())
        .unwrap()
        .encode(
            &serde_json::to_vec(&value(&codec, "t", ENVELOPE)).unwrap(),
            0,
        )
        .unwrap();
    assert_eq!(value(&codec, "t", &bytes), value(&codec, "t", ENVELOPE));
    let e = codec.decode_json("t", UNKNOWN_ANY, Style::Compact, &mut Vec::new());
    let e = e.unwrap_err();
    assert_eq!(e.format, "proto");
    assert!(e.why.contains("a.B"), "{e}");
}

#[test]
fn every_format_encodes_what_it_decodes() {
    let json = br#"{"t":21.5,"ok":true,"ids":[1,-2],"raw":"AQI="}"#;
    for codec in [Codec::Cbor, Codec::Msgpack, Codec::Json] {
        let bytes = Encoder::new(codec.clone())
            .unwrap()
            .encode(json, 0)
            .unwrap();
        assert_eq!(
            text(&codec, &bytes, Style::Compact),
            std::str::from_utf8(json).unwrap()
        );
    }
    let codec = Codec::Proto(reading());
    let json = br#"{"sensor":"t1","delta":-3,"samples":[1.5,-2.0],"unit":"KELVIN","where":{"lat":1.0},"count":"7","tags":{"a":1},"raw":"AP8=","at":"2023-11-14T22:13:20Z"}"#;
    let bytes = Encoder::new(codec.clone())
        .unwrap()
        .encode(json, 0)
        .unwrap();
    assert_eq!(
        text(&codec, &bytes, Style::Compact),
        std::str::from_utf8(json).unwrap()
    );
    let e = Encoder::new(codec)
        .unwrap()
        .encode(br#"{"sensr":"x"}"#, 0)
        .unwrap_err();
    assert_eq!(e, "unrecognized field name 'sensr' at line 1 column 8");
    assert!(Encoder::new(Codec::Auto).is_err());
    assert!(
        Encoder::new(Codec::Cbor)
            .unwrap()
            .encode(b"{} x", 0)
            .is_err()
    );
}

#[test]
fn auto_picks_by_topic_then_content() {
    let a = Codec::Auto;
    let format = |topic: &str, bytes: &[u8]| a.decode(topic, bytes).unwrap().map(|d| d.format());
    assert_eq!(format("spBv1.0/g/NDATA/n", NDATA), Some("sparkplug"));
    assert_eq!(
        format("spBv1.0/STATE/h", b"{\"online\":true}"),
        Some("json")
    );
    assert_eq!(format("x", b" [1, 2] "), Some("json"));
    assert_eq!(format("x", CBOR), Some("cbor"));
    assert_eq!(format("x", MSGPACK), Some("msgpack"));
    assert_eq!(format("x", b"hello"), None);
    assert_eq!(format("x", &[0x00, 0xff]), None);
    assert_eq!(format("x", NDATA), None);
    // A Sparkplug topic whose payload is not Sparkplug is an error, not raw.
    assert_eq!(
        a.decode("spBv1.0/g/NDATA/n", b"{").unwrap_err().format,
        "sparkplug"
    );
}
