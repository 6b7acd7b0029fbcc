//! A received message as one record line:
//!
//! ```text
//! {"time":"2024-05-01T12:00:00.123456Z","offset_us":1500,"topic":"a/b","qos":1,
//!  "retain":false,"payload":"hello","properties":{"content_type":"text/plain"}}
//! ```
//!
//! `payload` holds text (UTF-8 without NUL), `payload_base64` anything else; likewise
//! `correlation_data` and `correlation_data_base64`. `properties` is left out when the
//! message has none. The Topic Alias is not written: the core has already resolved it
//! into `topic`, and an alias only means something on the connection that set it.

use std::time::SystemTime;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::{Serialize, Serializer};

use crate::codec::{PropertyId, PropertyValue, Publish};

use super::is_text;

/// What one message line is made of.
#[derive(Clone, Copy, Debug)]
pub struct MessageLine<'a> {
    /// When it was received (wall clock).
    pub time: SystemTime,
    /// Microseconds since the recording's first message (monotonic clock).
    pub offset_us: u64,
    pub publish: &'a Publish,
    /// The payload as `record --decode` read it, as compact JSON text: written as
    /// `decoded`, the line's last field, beside the payload itself; replay ignores it
    /// and sends the payload.
    pub decoded: Option<&'a [u8]>,
}

/// Appends `m` as a line, newline included.
pub fn write_message(out: &mut Vec<u8>, m: &MessageLine<'_>) {
    let p = m.publish;
    let text = is_text(&p.payload);
    let line = Line {
        time: m.time,
        offset_us: m.offset_us,
        topic: &p.topic,
        qos: p.qos as u8,
        retain: p.retain,
        // Checked by `is_text`: valid UTF-8.
        payload: text.then(|| std::str::from_utf8(&p.payload).unwrap_or_default()),
        payload_base64: (!text).then(|| B64(&p.payload)),
        properties: PropertiesOut::of(p),
    };
    // Serialising into a Vec cannot fail: every value here is representable.
    serde_json::to_writer(&mut *out, &line).expect("a record line always serialises");
    if let Some(json) = m.decoded {
        // The decoder's own JSON text, spliced in as the last field: no second parse.
        out.pop(); // the object's closing brace
        out.extend_from_slice(b",\"decoded\":");
        out.extend_from_slice(json);
        out.push(b'}');
    }
    out.push(b'\n');
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(serialize_with = "rfc3339")]
    time: SystemTime,
    offset_us: u64,
    topic: &'a str,
    qos: u8,
    retain: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_base64: Option<B64<'a>>,
    #[serde(skip_serializing_if = "PropertiesOut::is_empty")]
    properties: PropertiesOut<'a>,
}

fn rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_micros(*t))
}

/// Bytes written as a standard base64 string (with padding), without a copy.
struct B64<'a>(&'a [u8]);

impl Serialize for B64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Base64Display::new(self.0, &STANDARD))
    }
}

/// Every property a PUBLISH can carry, under names jq can address
/// (`.properties.content_type`).
#[derive(Default, Serialize)]
struct PropertiesOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_format_indicator: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_expiry_interval: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_topic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_data: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_data_base64: Option<B64<'a>>,
    /// `[key, value]` pairs in the order received (5.0 §3.3.2.3.7: order matters,
    /// keys may repeat).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    user_properties: Vec<(&'a str, &'a str)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscription_identifiers: Vec<u32>,
}

impl<'a> PropertiesOut<'a> {
    fn of(p: &'a Publish) -> PropertiesOut<'a> {
        let mut out = PropertiesOut::default();
        for prop in &p.properties.0 {
            match (prop.id, &prop.value) {
                (PropertyId::PayloadFormatIndicator, PropertyValue::Byte(v)) => {
                    out.payload_format_indicator = Some(*v);
                }
                (PropertyId::MessageExpiryInterval, PropertyValue::FourByte(v)) => {
                    out.message_expiry_interval = Some(*v);
                }
                (PropertyId::ContentType, PropertyValue::String(s)) => out.content_type = Some(s),
                (PropertyId::ResponseTopic, PropertyValue::String(s)) => {
                    out.response_topic = Some(s);
                }
                (PropertyId::CorrelationData, PropertyValue::Binary(b)) => match is_text(b) {
                    // Checked by `is_text`: valid UTF-8.
                    true => out.correlation_data = std::str::from_utf8(b).ok(),
                    false => out.correlation_data_base64 = Some(B64(b)),
                },
                (PropertyId::UserProperty, PropertyValue::Pair(k, v)) => {
                    out.user_properties.push((k, v));
                }
                (PropertyId::SubscriptionIdentifier, PropertyValue::VarInt(v)) => {
                    out.subscription_identifiers.push(*v);
                }
                // The Topic Alias is resolved into the topic (see the module doc);
                // the codec lets no other property into a PUBLISH.
                _ => {}
            }
        }
        out
    }

    fn is_empty(&self) -> bool {
        self.payload_format_indicator.is_none()
            && self.message_expiry_interval.is_none()
            && self.content_type.is_none()
            && self.response_topic.is_none()
            && self.correlation_data.is_none()
            && self.correlation_data_base64.is_none()
            && self.user_properties.is_empty()
            && self.subscription_identifiers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Properties, QoS};
    use bytes::Bytes;

    fn publish(payload: &[u8], properties: Properties) -> Publish {
        Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "a/\"b\"".into(),
            packet_id: 7,
            properties,
            payload: Bytes::copy_from_slice(payload),
        }
    }

    fn line(p: &Publish) -> String {
        let mut out = Vec::new();
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_000_000_000_000_001);
        write_message(
            &mut out,
            &MessageLine {
                time: t,
                offset_us: 42,
                publish: p,
                decoded: None,
            },
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decoded_goes_last_beside_the_payload() {
        let p = publish(&[0xa1, 0x61, 0x74, 0x01], Properties::new());
        let v = br#"{"t":1}"#;
        let mut out = Vec::new();
        write_message(
            &mut out,
            &MessageLine {
                time: std::time::UNIX_EPOCH,
                offset_us: 0,
                publish: &p,
                decoded: Some(v),
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"time\":\"1970-01-01T00:00:00.000000Z\",\"offset_us\":0,\"topic\":\"a/\\\"b\\\"\",\
             \"qos\":1,\"retain\":true,\"payload_base64\":\"oWF0AQ==\",\"decoded\":{\"t\":1}}\n"
        );
    }

    #[test]
    fn text_payload_without_properties() {
        assert_eq!(
            line(&publish(b"hi\n", Properties::new())),
            "{\"time\":\"2001-09-09T01:46:40.000001Z\",\"offset_us\":42,\"topic\":\"a/\\\"b\\\"\",\
             \"qos\":1,\"retain\":true,\"payload\":\"hi\\n\"}\n"
        );
    }

    #[test]
    fn binary_payload_and_every_property() {
        let mut props = Properties::new();
        props.push(PropertyId::TopicAlias, PropertyValue::TwoByte(3));
        props.push(PropertyId::PayloadFormatIndicator, PropertyValue::Byte(0));
        props.push(
            PropertyId::MessageExpiryInterval,
            PropertyValue::FourByte(30),
        );
        props.push(PropertyId::ContentType, PropertyValue::String("c/t".into()));
        props.push(PropertyId::ResponseTopic, PropertyValue::String("r".into()));
        props.push(
            PropertyId::CorrelationData,
            PropertyValue::Binary(Bytes::from_static(&[0, 0xff])),
        );
        props.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("k".into(), "2".into()),
        );
        props.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("k".into(), "1".into()),
        );
        props.push(PropertyId::SubscriptionIdentifier, PropertyValue::VarInt(9));
        let text = line(&publish(&[0, 1, 0xff], props));
        assert!(
            text.contains(
                "\"payload_base64\":\"AAH/\",\"properties\":{\"payload_format_indicator\":0,\
                 \"message_expiry_interval\":30,\"content_type\":\"c/t\",\"response_topic\":\"r\",\
                 \"correlation_data_base64\":\"AP8=\",\"user_properties\":[[\"k\",\"2\"],[\"k\",\"1\"]],\
                 \"subscription_identifiers\":[9]}}\n"
            ),
            "{text}"
        );
        assert!(!text.contains("alias"), "{text}");
    }

    #[test]
    fn empty_payload_is_an_empty_string() {
        assert!(line(&publish(b"", Properties::new())).contains(",\"payload\":\"\"}"));
    }
}
