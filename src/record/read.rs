//! A message line read back and checked: every field of `write`'s output, with the
//! same names, and nothing else (an unknown field is an error, not silently dropped:
//! a misspelt `content_typ` would otherwise replay a different message). `decoded`
//! is accepted and ignored: it is derived from the payload, which is sent as it is.

use std::borrow::Cow;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::codec::{Properties, PropertyId, PropertyValue, QoS};

/// A recorded message, checked: what replay needs to publish it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub time: SystemTime,
    pub offset_us: u64,
    pub topic: String,
    pub qos: QoS,
    pub retain: bool,
    pub payload: Bytes,
    /// In MQTT's property order: payload format indicator, message expiry interval,
    /// content type, response topic, correlation data, user properties (in order),
    /// subscription identifiers.
    pub properties: Properties,
}

/// Why a line is not a record message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("the line ends inside its JSON (truncated?)")]
    Truncated,
    #[error("not a record message: {0}")]
    Shape(String),
    #[error("{0}")]
    Value(String),
}

/// The largest subscription identifier (5.0 §3.3.2.3.8: a Variable Byte Integer of
/// 1 to 268,435,455).
const MAX_SUBSCRIPTION_ID: u32 = 268_435_455;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    time: Cow<'a, str>,
    offset_us: u64,
    #[serde(borrow)]
    topic: Cow<'a, str>,
    qos: u8,
    retain: bool,
    #[serde(borrow, default)]
    payload: Option<Text<'a>>,
    #[serde(borrow, default)]
    payload_base64: Option<Text<'a>>,
    #[serde(borrow, default)]
    properties: Option<PropertiesIn<'a>>,
    #[serde(default)]
    #[allow(dead_code)]
    decoded: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PropertiesIn<'a> {
    #[serde(default)]
    payload_format_indicator: Option<u8>,
    #[serde(default)]
    message_expiry_interval: Option<u32>,
    #[serde(borrow, default)]
    content_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    response_topic: Option<Text<'a>>,
    #[serde(borrow, default)]
    correlation_data: Option<Text<'a>>,
    #[serde(borrow, default)]
    correlation_data_base64: Option<Text<'a>>,
    #[serde(borrow, default)]
    user_properties: Vec<(Text<'a>, Text<'a>)>,
    #[serde(default)]
    subscription_identifiers: Vec<u32>,
}

/// A string that borrows from the line when it has no escapes. (serde borrows a bare
/// `Cow<str>` field, but not one inside an `Option` or a tuple.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(Text)
    }
}

/// serde_json's words without its position inside our one-line document ("at line 1
/// column 7" becomes "at column 7").
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let head = text.rfind(" at line ").map_or(&text[..], |i| &text[..i]);
    if e.column() > 0 {
        format!("{head} at column {}", e.column())
    } else {
        head.to_string()
    }
}

fn cow(t: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    t.map(|t| t.0)
}

fn value(text: impl Into<String>) -> LineError {
    LineError::Value(text.into())
}

/// Reads and checks one message line (without its newline).
pub fn read_message(line: &[u8]) -> Result<Message, LineError> {
    parse(line, None)
}

/// `read_message` for a line that lies in shared bytes (`line` is a part of
/// `owner`): a payload without escapes is a slice of `owner` (no copy), which keeps
/// `owner` alive as long as the payload lives.
pub fn read_message_shared(line: &[u8], owner: &Bytes) -> Result<Message, LineError> {
    parse(line, Some(owner))
}

fn parse(line: &[u8], owner: Option<&Bytes>) -> Result<Message, LineError> {
    let l = match super::fast::canonical(line) {
        Some(c) => Line {
            time: Cow::Borrowed(c.time),
            offset_us: c.offset_us,
            topic: Cow::Borrowed(c.topic),
            qos: c.qos,
            retain: c.retain,
            payload: Some(Text(Cow::Borrowed(c.payload))),
            payload_base64: None,
            properties: None,
            decoded: None,
        },
        None => serde_line(line)?,
    };
    checked(l, owner)
}

fn serde_line(line: &[u8]) -> Result<Line<'_>, LineError> {
    serde_json::from_slice(line).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Eof => LineError::Truncated,
            Category::Data => LineError::Shape(json_error(&e)),
            Category::Syntax | Category::Io => LineError::Json(json_error(&e)),
        }
    })
}

/// The checks beyond JSON's, and the message.
fn checked(l: Line<'_>, owner: Option<&Bytes>) -> Result<Message, LineError> {
    let time = humantime::parse_rfc3339(&l.time)
        .map_err(|_| value(format!("time \"{}\" is not an RFC 3339 UTC time", l.time)))?;
    crate::topic::validate_name(&l.topic)
        .map_err(|e| value(format!("topic \"{}\": {e}", l.topic)))?;
    let qos =
        QoS::from_u8(l.qos).ok_or_else(|| value(format!("qos {} is not 0, 1 or 2", l.qos)))?;
    let payload = text_or_base64(cow(l.payload), cow(l.payload_base64), "payload", owner)?
        .ok_or_else(|| value("neither payload nor payload_base64 is given"))?;
    let properties = match l.properties {
        Some(p) => properties(p)?,
        None => Properties::new(),
    };
    Ok(Message {
        time,
        offset_us: l.offset_us,
        topic: l.topic.into_owned(),
        qos,
        retain: l.retain,
        payload,
        properties,
    })
}

/// `NAME` (text) or `NAME_base64`: at most one of the two. Text borrowed from the
/// line is sliced out of `owner` when there is one.
fn text_or_base64(
    text: Option<Cow<'_, str>>,
    b64: Option<Cow<'_, str>>,
    name: &str,
    owner: Option<&Bytes>,
) -> Result<Option<Bytes>, LineError> {
    match (text, b64) {
        (Some(_), Some(_)) => Err(value(format!("both {name} and {name}_base64 are given"))),
        (Some(Cow::Borrowed(t)), None) if owner.is_some_and(|o| holds(o, t.as_bytes())) => {
            Ok(owner.map(|o| o.slice_ref(t.as_bytes())))
        }
        (Some(t), None) => Ok(Some(Bytes::from(t.into_owned().into_bytes()))),
        (None, Some(b)) => STANDARD
            .decode(b.as_bytes())
            .map(|v| Some(Bytes::from(v)))
            .map_err(|e| value(format!("{name}_base64 is not base64: {e}"))),
        (None, None) => Ok(None),
    }
}

/// Whether `part` lies inside `whole` (so that `Bytes::slice_ref` may take it).
fn holds(whole: &Bytes, part: &[u8]) -> bool {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

/// An MQTT UTF-8 string property: no U+0000 (5.0 §1.5.4).
fn mqtt_string(name: &str, s: Cow<'_, str>) -> Result<String, LineError> {
    if s.contains('\0') {
        return Err(value(format!("{name} contains U+0000, which MQTT forbids")));
    }
    Ok(s.into_owned())
}

fn properties(p: PropertiesIn<'_>) -> Result<Properties, LineError> {
    let mut out = Properties::new();
    if let Some(v) = p.payload_format_indicator {
        if v > 1 {
            return Err(value(format!("payload_format_indicator {v} is not 0 or 1")));
        }
        out.push(PropertyId::PayloadFormatIndicator, PropertyValue::Byte(v));
    }
    if let Some(v) = p.message_expiry_interval {
        out.push(
            PropertyId::MessageExpiryInterval,
            PropertyValue::FourByte(v),
        );
    }
    if let Some(Text(s)) = p.content_type {
        let s = mqtt_string("content_type", s)?;
        out.push(PropertyId::ContentType, PropertyValue::String(s));
    }
    if let Some(Text(s)) = p.response_topic {
        crate::topic::validate_name(&s)
            .map_err(|e| value(format!("response_topic \"{s}\": {e}")))?;
        out.push(
            PropertyId::ResponseTopic,
            PropertyValue::String(s.into_owned()),
        );
    }
    let data = text_or_base64(
        cow(p.correlation_data),
        cow(p.correlation_data_base64),
        "correlation_data",
        None,
    )?;
    if let Some(b) = data {
        out.push(PropertyId::CorrelationData, PropertyValue::Binary(b));
    }
    for (Text(k), Text(v)) in p.user_properties {
        let pair = (
            mqtt_string("a user property", k)?,
            mqtt_string("a user property", v)?,
        );
        out.push(
            PropertyId::UserProperty,
            PropertyValue::Pair(pair.0, pair.1),
        );
    }
    for id in p.subscription_identifiers {
        if !(1..=MAX_SUBSCRIPTION_ID).contains(&id) {
            return Err(value(format!(
                "subscription identifier {id} is not between 1 and {MAX_SUBSCRIPTION_ID}"
            )));
        }
        out.push(
            PropertyId::SubscriptionIdentifier,
            PropertyValue::VarInt(id),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Publish;
    use crate::record::{MessageLine, write_message};

    fn err(line: &str) -> String {
        read_message(line.as_bytes()).unwrap_err().to_string()
    }

    const OK: &str =
        r#""time":"2024-01-01T00:00:00.5Z","offset_us":5,"topic":"a/b","qos":1,"retain":false"#;

    #[test]
    fn a_written_line_reads_back_the_same() {
        let mut props = Properties::new();
        props.push(PropertyId::PayloadFormatIndicator, PropertyValue::Byte(1));
        props.push(
            PropertyId::MessageExpiryInterval,
            PropertyValue::FourByte(9),
        );
        props.push(PropertyId::ContentType, PropertyValue::String("t".into()));
        props.push(
            PropertyId::ResponseTopic,
            PropertyValue::String("r/t".into()),
        );
        props.push(
            PropertyId::CorrelationData,
            PropertyValue::Binary(Bytes::from_static(b"\xff\x00")),
        );
        props.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("b".into(), "1".into()),
        );
        props.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("a".into(), "2".into()),
        );
        props.push(PropertyId::SubscriptionIdentifier, PropertyValue::VarInt(3));
        for payload in [&b""[..], b"text \"quoted\" \xc3\xa9", b"\x00\xff bin"] {
            let p = Publish {
                dup: true,
                qos: QoS::ExactlyOnce,
                retain: true,
                topic: "x/y".into(),
                packet_id: 3,
                properties: props.clone(),
                payload: Bytes::copy_from_slice(payload),
            };
            let time = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_234_567);
            let mut out = Vec::new();
            write_message(
                &mut out,
                &MessageLine {
                    time,
                    offset_us: 99,
                    publish: &p,
                    decoded: None,
                },
            );
            let m = read_message(out.strip_suffix(b"\n").unwrap()).unwrap();
            assert_eq!(
                m,
                Message {
                    time,
                    offset_us: 99,
                    topic: "x/y".into(),
                    qos: QoS::ExactlyOnce,
                    retain: true,
                    payload: p.payload.clone(),
                    properties: props.clone(),
                }
            );
        }
    }

    #[test]
    fn shared_lines_lend_their_payloads() {
        let line = Bytes::from(format!(r#"{{{OK},"payload":"abc"}}"#));
        let m = read_message_shared(&line, &line).unwrap();
        assert_eq!(m.payload, Bytes::from_static(b"abc"));
        let at = line.as_ptr() as usize;
        let p = m.payload.as_ptr() as usize;
        assert!((at..at + line.len()).contains(&p), "a slice of the line");
        let escaped = Bytes::from(format!(r#"{{{OK},"payload":"a\nb"}}"#));
        assert_eq!(
            read_message_shared(&escaped, &escaped).unwrap().payload,
            Bytes::from_static(b"a\nb")
        );
        // A line that is not part of the owner is copied, not sliced.
        let other = Bytes::from_static(b"elsewhere");
        assert_eq!(
            read_message_shared(&line, &other).unwrap().payload,
            Bytes::from_static(b"abc")
        );
    }

    /// Lines the fast path reads are read the same by serde; lines it leaves are
    /// serde's alone. Written lines of every kind, and those lines damaged byte by byte.
    #[test]
    fn the_fast_path_agrees_with_serde() {
        use proptest::prelude::*;
        let topic = "[a-zé/ +#\"\\\\\u{1}]{0,12}";
        let payload = proptest::collection::vec(any::<u8>(), 0..24);
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &(
                    topic,
                    payload,
                    0u8..3,
                    any::<bool>(),
                    0u64..u64::MAX,
                    any::<usize>(),
                    any::<u8>(),
                ),
                |(t, p, q, r, o, at, flip)| {
                    let publish = crate::codec::Publish {
                        dup: false,
                        qos: QoS::from_u8(q).unwrap(),
                        retain: r,
                        topic: t,
                        packet_id: 0,
                        properties: Properties::new(),
                        payload: Bytes::from(p),
                    };
                    let mut line = Vec::new();
                    crate::record::write_message(
                        &mut line,
                        &crate::record::MessageLine {
                            time: std::time::UNIX_EPOCH
                                + std::time::Duration::from_micros(o % (1 << 50)),
                            offset_us: o,
                            publish: &publish,
                            decoded: None,
                        },
                    );
                    line.pop();
                    let mut damaged = line.clone();
                    let i = at % damaged.len();
                    damaged[i] ^= flip;
                    for l in [&line, &damaged] {
                        if super::super::fast::canonical(l).is_some() {
                            let serde = serde_line(l).map_err(|e| e.to_string());
                            prop_assert!(serde.is_ok(), "{}", String::from_utf8_lossy(l));
                            let serde = checked(serde.unwrap(), None);
                            prop_assert_eq!(read_message(l), serde);
                        }
                    }
                    Ok(())
                },
            )
            .unwrap();
    }

    #[test]
    fn decoded_is_accepted_and_ignored() {
        let m = read_message(format!(r#"{{{OK},"payload":"1","decoded":{{"x":[1]}}}}"#).as_bytes());
        assert_eq!(m.unwrap().payload, Bytes::from_static(b"1"));
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(err("{").contains("the line ends inside its JSON"));
        assert_eq!(
            err("{x}"),
            "not valid JSON: key must be a string at column 2"
        );
        assert!(err(r#"{"topic":"a"}"#).starts_with("not a record message: missing field"));
        let cases = [
            (
                format!(r#"{{{OK}}}"#),
                "neither payload nor payload_base64 is given",
            ),
            (
                format!(r#"{{{OK},"payload":"a","payload_base64":"YQ=="}}"#),
                "both payload and payload_base64 are given",
            ),
            (
                format!(r#"{{{OK},"payload_base64":"!"}}"#),
                "payload_base64 is not base64",
            ),
            (
                format!(r#"{{{OK},"payload":"a","extra":1}}"#),
                "unknown field `extra`",
            ),
            (
                OK.replace("\"qos\":1", "\"qos\":3") + r#","payload":"a""#,
                "qos 3 is not 0, 1 or 2",
            ),
            (
                format!(r#"{{{},"payload":"a"}}"#, OK.replace("a/b", "a/#")),
                "topic \"a/#\": topic name contains a wildcard",
            ),
            (
                format!(r#"{{{},"payload":"a"}}"#, OK.replace("00.5Z", "00.5")),
                "is not an RFC 3339 UTC time",
            ),
            (
                format!(r#"{{{OK},"payload":"a","properties":{{"payload_format_indicator":2}}}}"#),
                "payload_format_indicator 2 is not 0 or 1",
            ),
            (
                format!(
                    r#"{{{OK},"payload":"a","properties":{{"subscription_identifiers":[0]}}}}"#
                ),
                "subscription identifier 0 is not between",
            ),
            (
                format!(r#"{{{OK},"payload":"a","properties":{{"content_typ":"x"}}}}"#),
                "unknown field `content_typ`",
            ),
            (
                format!(
                    r#"{{{OK},"payload":"a","properties":{{"user_properties":[["a\u0000","b"]]}}}}"#
                ),
                "a user property contains U+0000",
            ),
            (
                format!(r#"{{{OK},"payload":"a","properties":{{"response_topic":"r/+"}}}}"#),
                "response_topic \"r/+\"",
            ),
        ];
        for (line, want) in cases {
            let line = if line.starts_with('{') {
                line
            } else {
                format!("{{{line}}}")
            };
            let got = err(&line);
            assert!(got.contains(want), "{line}: {got}");
        }
    }
}
