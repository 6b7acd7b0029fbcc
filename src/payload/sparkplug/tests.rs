//! Sparkplug B decoding on payloads built by hand (tests/fixtures/payloads.rs), the
//! encoder against the same JSON, and the prost structs against the .proto.

use prost::Message as _;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value};
use serde_json::json;

use super::schema;
use crate::payload::{Codec, Encoder, Style};

mod fixtures {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/payloads.rs"
    ));
}
use fixtures::sparkplug::{ARRAYS, BIRTH, COMPLEX, NDATA};

const TOPIC: &str = "spBv1.0/g/NBIRTH/n";

fn decode(bytes: &[u8]) -> serde_json::Value {
    let d = Codec::Sparkplug.decode(TOPIC, bytes).unwrap().unwrap();
    d.to_value().unwrap()
}

fn birth_json() -> serde_json::Value {
    json!({"timestamp": 1000, "metrics": [
        {"name": "i8", "dataType": "Int8", "value": -5},
        {"name": "i16", "dataType": "Int16", "value": -32768},
        {"name": "i32", "dataType": "Int32", "value": -2147483648i64},
        {"name": "i64", "dataType": "Int64", "value": -1},
        {"name": "u8", "dataType": "UInt8", "value": 255},
        {"name": "u16", "dataType": "UInt16", "value": 65535},
        {"name": "u32", "dataType": "UInt32", "value": 4294967295u64},
        // 2^64 - 1: a double cannot hold it, so a string.
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

fn complex_json() -> serde_json::Value {
    json!({"metrics": [
        {"name": "ds", "dataType": "DataSet", "value": {
            "numOfColumns": 2, "columns": ["a", "b"], "types": ["Int32", "String"],
            "rows": [[-1, "x"], [5, null]]}},
        {"name": "tpl", "dataType": "Template", "value": {
            "version": "v1", "templateRef": "T", "isDefinition": false,
            "parameters": [{"name": "p", "type": "Int32", "value": -1}],
            "metrics": [{"name": "m", "dataType": "Boolean", "value": false}]}},
        {"name": "ps", "dataType": "String", "properties": {
            "set": {"type": "PropertySet", "value": {"k": {"type": "String", "value": "v"}}},
            "list": {"type": "PropertySetList", "value": [{"q": {"type": "Boolean", "value": true}}]}},
         "value": "x"},
    ], "uuid": "U", "body": "AQI="})
}

#[test]
fn every_basic_datatype_by_its_type() {
    assert_eq!(decode(BIRTH), birth_json());
}

#[test]
fn data_without_datatype_prints_the_field_as_it_is() {
    assert_eq!(
        decode(NDATA),
        json!({"timestamp": 2000, "metrics": [
            {"alias": 7, "timestamp": 2000, "value": 42},
            // No datatype: a uint32 is a uint32 (the birth would say Int32).
            {"alias": 8, "value": 4294967291u64},
        ], "seq": 1})
    );
}

#[test]
fn arrays_unpack() {
    assert_eq!(
        decode(ARRAYS),
        json!({"metrics": [
            {"name": "a1", "dataType": "Int8Array", "value": [-1, 2]},
            {"name": "a2", "dataType": "Int16Array", "value": [-2, 3]},
            {"name": "a3", "dataType": "Int32Array", "value": [-1]},
            {"name": "a4", "dataType": "Int64Array", "value": [-2]},
            {"name": "a5", "dataType": "UInt8Array", "value": [255, 0]},
            {"name": "a6", "dataType": "UInt16Array", "value": [65535]},
            {"name": "a7", "dataType": "UInt32Array", "value": [4294967295u64]},
            {"name": "a8", "dataType": "UInt64Array", "value": ["18446744073709551615"]},
            {"name": "a9", "dataType": "FloatArray", "value": [1.5]},
            {"name": "a10", "dataType": "DoubleArray", "value": [2.0]},
            {"name": "a11", "dataType": "BooleanArray", "value": [true, false, true]},
            {"name": "a12", "dataType": "StringArray", "value": ["ab", "c"]},
            {"name": "a13", "dataType": "DateTimeArray", "value": [1000]},
        ]})
    );
}

#[test]
fn dataset_template_and_property_sets() {
    assert_eq!(decode(COMPLEX), complex_json());
}

#[test]
fn pretty_and_compact_text() {
    let d = Codec::Sparkplug.decode(TOPIC, NDATA).unwrap().unwrap();
    let mut out = Vec::new();
    d.write_json(Style::Compact, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"timestamp":2000,"metrics":[{"alias":7,"timestamp":2000,"value":42},{"alias":8,"value":4294967291}],"seq":1}"#
    );
    let mut out = Vec::new();
    d.write_json(Style::Pretty { depth: 0 }, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\n\t\"timestamp\":\t2000,\n\t\"metrics\":\t[{\n\t\t\t\"alias\":\t7,\n\t\t\t\"timestamp\":\t2000,\n\t\t\t\"value\":\t42\n\t\t}, {\n\t\t\t\"alias\":\t8,\n\t\t\t\"value\":\t4294967291\n\t\t}],\n\t\"seq\":\t1\n}"
    );
}

#[test]
fn malformed_payloads_say_why() {
    let why = |bytes: &[u8]| {
        Codec::Sparkplug
            .decode(TOPIC, bytes)
            .and_then(|d| d.unwrap().to_value())
    };
    // A metric (field 2, length 5) with only 2 bytes after it.
    let e = why(&[0x12, 0x05, 0x0a, 0x01]).unwrap_err();
    assert_eq!(e.format, "sparkplug");
    assert!(e.why.contains("buffer underflow"), "{e}");
    // Metric.datatype (field 4) sent length-delimited (0x22) instead of as a varint.
    let e = why(&[0x12, 0x03, 0x22, 0x01, 0x00]).unwrap_err();
    assert!(e.why.contains("invalid wire type"), "{e}");
    // An Int16Array of 3 bytes.
    let e = why(&[0x12, 0x08, 0x20, 0x17, 0x82, 0x01, 0x03, 0x01, 0x02, 0x03]).unwrap_err();
    assert_eq!(e.why, "an array of 2-byte values has 3 bytes");
    // A BooleanArray claiming 9 values with one byte of bits.
    let e = why(&[
        0x12, 0x0a, 0x20, 0x20, 0x82, 0x01, 0x05, 0x09, 0, 0, 0, 0xff,
    ])
    .unwrap_err();
    assert_eq!(e.why, "a BooleanArray of 9 values has 1 bytes of bits");
    // Properties: two keys, one value.
    let e = why(&[
        0x12, 0x0a, 0x4a, 0x08, 0x0a, 0x01, b'a', 0x0a, 0x01, b'b', 0x12, 0x00,
    ])
    .unwrap_err();
    assert_eq!(e.why, "a PropertySet has 2 keys and 1 values");
}

#[test]
fn state_messages_are_json() {
    let d = Codec::Sparkplug
        .decode("spBv1.0/STATE/host", br#"{"online":true,"timestamp":1}"#)
        .unwrap()
        .unwrap();
    assert_eq!(d.format(), "json");
    assert!(
        Codec::Sparkplug
            .decode("spBv1.0/STATE/host", BIRTH)
            .is_err()
    );
    // Any other topic is Sparkplug B (the user said so).
    let d = Codec::Sparkplug
        .decode("plain/topic", BIRTH)
        .unwrap()
        .unwrap();
    assert_eq!(d.format(), "sparkplug");
}

/// The encoder, given the JSON the decoder prints, produces the same fields.
#[test]
fn encoding_the_printed_json_gives_the_payload_back() {
    for bytes in [BIRTH, ARRAYS, COMPLEX] {
        let mut text = Vec::new();
        let d = Codec::Sparkplug.decode(TOPIC, bytes).unwrap().unwrap();
        d.write_json(Style::Compact, &mut text).unwrap();
        let mut enc = Encoder::new(Codec::Sparkplug).unwrap();
        let built = schema::Payload::decode(&enc.encode(&text, 7).unwrap()[..]).unwrap();
        let mut want = schema::Payload::decode(bytes).unwrap();
        // Filled in because absent: the timestamp given, and seq 0.
        want.timestamp.get_or_insert(7);
        want.seq.get_or_insert(0);
        assert_eq!(built, want);
    }
}

#[test]
fn encoder_fills_seq_and_timestamp_and_infers_datatypes() {
    let mut enc = Encoder::new(Codec::Sparkplug).unwrap();
    let one = br#"{"metrics":[{"alias":1,"value":-3},{"alias":2,"value":1.5},{"alias":3,"value":true},{"alias":4,"value":"x"}]}"#;
    let p = schema::Payload::decode(&enc.encode(one, 99).unwrap()[..]).unwrap();
    assert_eq!((p.timestamp, p.seq), (Some(99), Some(0)));
    let types: Vec<_> = p.metrics.iter().map(|m| m.datatype).collect();
    assert_eq!(types, [Some(4), Some(10), Some(11), Some(12)]);
    assert_eq!(
        p.metrics[0].value,
        Some(schema::MetricValue::Long(-3i64 as u64))
    );
    let p = schema::Payload::decode(&enc.encode(one, 99).unwrap()[..]).unwrap();
    assert_eq!(p.seq, Some(1));
    let p = schema::Payload::decode(&enc.encode(br#"{"seq":255}"#, 1).unwrap()[..]).unwrap();
    assert_eq!(p.seq, Some(255));
    let p = schema::Payload::decode(&enc.encode(b"{}", 1).unwrap()[..]).unwrap();
    assert_eq!(p.seq, Some(0), "after 255 comes 0");
}

#[test]
fn encoder_errors_name_the_field() {
    let mut enc = Encoder::new(Codec::Sparkplug).unwrap();
    let mut e = |json: &str| enc.encode(json.as_bytes(), 0).unwrap_err();
    assert!(e(r#"{"metrics":[{"nam":"x"}]}"#).starts_with("unknown field `nam`, expected one of"));
    assert_eq!(
        e(r#"{"metrics":[{"name":"x"},{"dataType":"Int8","value":300}]}"#),
        "metrics[1].value: expected an integer from -128 to 127, got 300"
    );
    assert!(
        e(r#"{"metrics":[{"dataType":"Int9"}]}"#).contains("unknown Sparkplug datatype 'Int9'")
    );
    assert_eq!(
        e(r#"{"metrics":[{"dataType":"BooleanArray","value":[true,1]}]}"#),
        "metrics[0].value: [1]: expected true or false, got 1"
    );
    assert!(e("{").contains("EOF"));
}

/// The prost structs agree with `sparkplug_b.proto`: every field of every message,
/// set alone in a dynamic message built from the compiled .proto, survives decoding
/// into our struct and encoding again (a missing or mis-numbered field would be
/// dropped; a wrong scalar type would change the value).
#[test]
fn structs_match_the_proto() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/payload");
    let pool = protox::Compiler::new([dir])
        .unwrap()
        .open_file("sparkplug_b.proto")
        .unwrap()
        .descriptor_pool();
    let p = "org.eclipse.tahu.protobuf.Payload";
    type RoundTrip = fn(&[u8]) -> Vec<u8>;
    let cases: Vec<(&str, RoundTrip)> = vec![
        (p, rt::<schema::Payload>),
        ("Metric", rt::<schema::Metric>),
        ("MetaData", rt::<schema::MetaData>),
        ("PropertySet", rt::<schema::PropertySet>),
        ("PropertySetList", rt::<schema::PropertySetList>),
        ("PropertyValue", rt::<schema::PropertyValue>),
        ("DataSet", rt::<schema::DataSet>),
        ("DataSet.Row", rt::<schema::Row>),
        ("DataSet.DataSetValue", rt::<schema::DataSetValue>),
        ("Template", rt::<schema::Template>),
        ("Template.Parameter", rt::<schema::Parameter>),
    ];
    let mut checked = 0;
    for (name, roundtrip) in cases {
        let full = if name == p {
            p.to_string()
        } else {
            format!("{p}.{name}")
        };
        let desc = pool.get_message_by_name(&full).expect(&full);
        for field in desc.fields() {
            let msg = one_field(&desc, &field);
            let bytes = msg.encode_to_vec();
            let back = DynamicMessage::decode(desc.clone(), &roundtrip(&bytes)[..]).unwrap();
            assert_eq!(back, msg, "{full}.{}", field.name());
            checked += 1;
        }
    }
    assert_eq!(checked, 5 + 19 + 8 + 2 + 1 + 11 + 4 + 1 + 7 + 5 + 9);
}

fn rt<T: prost::Message + Default>(bytes: &[u8]) -> Vec<u8> {
    T::decode(bytes).unwrap().encode_to_vec()
}

/// A message of `desc` with only `field` set, to a value its type alone can carry.
fn one_field(desc: &MessageDescriptor, field: &prost_reflect::FieldDescriptor) -> DynamicMessage {
    let value = match field.kind() {
        Kind::Uint32 => Value::U32(4_000_000_000),
        Kind::Uint64 => Value::U64(u64::MAX - 5),
        Kind::Float => Value::F32(1.5),
        Kind::Double => Value::F64(2.5),
        Kind::Bool => Value::Bool(true),
        Kind::String => Value::String("s".into()),
        Kind::Bytes => Value::Bytes(vec![1, 2].into()),
        Kind::Message(m) => Value::Message(DynamicMessage::new(m)),
        k => panic!("{k:?} is not in the Sparkplug schema"),
    };
    let value = if field.is_list() {
        Value::List(vec![value.clone(), value])
    } else {
        value
    };
    let mut msg = DynamicMessage::new(desc.clone());
    msg.set_field(field, value);
    msg
}
