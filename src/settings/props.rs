//! `-D COMMAND NAME VALUE`, as mosquitto 2.1 reads it (`cfg_parse_property` in
//! client/client_props.c): the checks in its order and its words, values read with
//! C's `atol`, every property kept in order (duplicates included). What libmosquitto
//! checks only when a packet is about to go out (`mosquitto_property_check_all`:
//! values, duplicates) is [`check_all`]; the commands call it where mosquitto does.

use bytes::Bytes;

use crate::codec::{Properties, PropertyContext, PropertyId, PropertyType, PropertyValue};
use crate::exit::Error;
use crate::settings::{plain, usage};

/// The -D properties, by command.
#[derive(Debug, Default)]
pub(crate) struct PropertySets {
    pub connect: Properties,
    pub publish: Properties,
    pub subscribe: Properties,
    pub unsubscribe: Properties,
    pub disconnect: Properties,
    pub will: Properties,
}

/// The commands mosquitto names (`mosquitto_string_to_command`), case-insensitively.
const COMMANDS: &[(&str, PropertyContext)] = &[
    ("connect", PropertyContext::Connect),
    ("connack", PropertyContext::ConnAck),
    ("publish", PropertyContext::Publish),
    ("puback", PropertyContext::PubAck),
    ("pubrec", PropertyContext::PubRec),
    ("pubrel", PropertyContext::PubRel),
    ("pubcomp", PropertyContext::PubComp),
    ("subscribe", PropertyContext::Subscribe),
    ("suback", PropertyContext::SubAck),
    ("unsubscribe", PropertyContext::Unsubscribe),
    ("unsuback", PropertyContext::UnsubAck),
    ("disconnect", PropertyContext::Disconnect),
    ("auth", PropertyContext::Auth),
    ("will", PropertyContext::Will),
];

const NOT_ENOUGH: &str = "Error: --property argument given but not enough arguments specified.\n\n";

/// Splits the words of all `-D`s (clap keeps them in one list) into groups again:
/// COMMAND NAME VALUE, or COMMAND user-property KEY VALUE. Every group is whole but a
/// last `user-property` one, which clap let through with three words.
fn property_groups(words: &[String]) -> Vec<&[String]> {
    let mut groups = Vec::new();
    let mut rest = words;
    while !rest.is_empty() {
        let pair = rest
            .get(1)
            .is_some_and(|n| n.eq_ignore_ascii_case("user-property"));
        let (g, tail) = rest.split_at(rest.len().min(if pair { 4 } else { 3 }));
        groups.push(g);
        rest = tail;
    }
    groups
}

/// Parses the `-D` words into per-command lists. `tool` names the program in the
/// usage line after an error.
pub(crate) fn parse_properties(words: &[String], tool: &str) -> Result<PropertySets, Error> {
    let mut sets = PropertySets::default();
    for g in property_groups(words) {
        let (list, id, value) = parse_group(&mut sets, g, tool)?;
        list.push(id, value);
    }
    Ok(sets)
}

fn parse_group<'s>(
    sets: &'s mut PropertySets,
    g: &[String],
    tool: &str,
) -> Result<(&'s mut Properties, PropertyId, PropertyValue), Error> {
    if g.len() < 3 {
        return Err(usage(NOT_ENOUGH, tool));
    }
    let (cmd, name) = (g[0].as_str(), g[1].as_str());
    let Some(&(_, ctx)) = COMMANDS.iter().find(|(c, _)| c.eq_ignore_ascii_case(cmd)) else {
        return Err(usage(
            format!("Error: Invalid command {cmd} given in --property argument.\n\n"),
            tool,
        ));
    };
    let Some(id) = PropertyId::from_name(name) else {
        return Err(usage(
            format!("Error: Invalid property name {name} given in --property argument.\n\n"),
            tool,
        ));
    };
    if !id.allowed_in(ctx) {
        // (mosquitto 2.1 also lets `will reason-string` through, into a CONNECT every
        // broker refuses as malformed; mqtk refuses it here.)
        return Err(usage(
            format!("Error: {name} property not allowed for {cmd} in --property argument.\n\n"),
            tool,
        ));
    }
    if id == PropertyId::UserProperty && g.len() < 4 {
        return Err(usage(NOT_ENOUGH, tool));
    }
    let not_supported = || {
        usage(
            format!("Error: {name} property not supported for {cmd} in --property argument.\n\n"),
            tool,
        )
    };
    let list = match ctx {
        PropertyContext::Connect => &mut sets.connect,
        PropertyContext::Publish if id == PropertyId::SubscriptionIdentifier => {
            return Err(not_supported());
        }
        PropertyContext::Publish => &mut sets.publish,
        PropertyContext::Subscribe => &mut sets.subscribe,
        PropertyContext::Unsubscribe => &mut sets.unsubscribe,
        PropertyContext::Disconnect => &mut sets.disconnect,
        PropertyContext::Will => &mut sets.will,
        // mosquitto has no list for CONNACK properties and leaves without a word:
        // only the usage line is printed.
        PropertyContext::ConnAck => return Err(usage("", tool)),
        _ => return Err(not_supported()),
    };
    let value = property_value(id, ctx, &g[2..], tool)?;
    Ok((list, id, value))
}

/// The value, refused in mosquitto's words: integers out of range for their type,
/// binary longer than 65,535 bytes, strings libmosquitto will not add ("Error adding
/// property NAME TYPE", TYPE its number for the data type).
fn property_value(
    id: PropertyId,
    ctx: PropertyContext,
    words: &[String],
    tool: &str,
) -> Result<PropertyValue, Error> {
    let name = id.name();
    let value = words[0].as_str();
    let adding = |ty: u8| usage(format!("Error adding property {name} {ty}\n"), tool);
    let number = |max: i64| -> Result<i64, Error> {
        let n = atol(value);
        if !(0..=max).contains(&n) {
            return Err(usage(
                format!("Error: Property value ({n}) out of range for property {name}.\n\n"),
                tool,
            ));
        }
        Ok(n)
    };
    let u32_max = i64::from(u32::MAX);
    Ok(match id.data_type() {
        // mosquitto's byte range is the type's (0–255); values above 1 are refused
        // when the packet is sent (check_all).
        PropertyType::Byte => PropertyValue::Byte(number(255)? as u8),
        PropertyType::TwoByte => PropertyValue::TwoByte(number(65535)? as u16),
        PropertyType::FourByte => PropertyValue::FourByte(number(u32_max)? as u32),
        PropertyType::VarInt => {
            let n = number(u32_max)?;
            // mosquitto_property_add_varint: at most 268,435,455 (5.0 §1.5.5).
            if n > 268_435_455 {
                return Err(adding(4));
            }
            // 5.0 §3.8.2.1.2: 0 is a protocol error. mosquitto 2.1 sends it and the
            // broker disconnects; mqtk's encoder will not write it, so it is refused
            // here, in mosquitto's words for a value out of range.
            if n == 0 && ctx == PropertyContext::Subscribe {
                return Err(usage(
                    format!("Error: Property value (0) out of range for property {name}.\n\n"),
                    tool,
                ));
            }
            PropertyValue::VarInt(n as u32)
        }
        PropertyType::Binary if value.len() > 65535 => {
            return Err(usage(
                format!("Error: Property value too long for property {name}.\n\n"),
                tool,
            ));
        }
        PropertyType::Binary => PropertyValue::Binary(Bytes::copy_from_slice(value.as_bytes())),
        // mosquitto_validate_utf8 refuses control characters and non-characters, and
        // more than 65,536 bytes. (At exactly 65,536 mosquitto writes a length of 0;
        // mqtk refuses that too.)
        PropertyType::String if !mosquitto_utf8(value) => return Err(adding(6)),
        PropertyType::String => PropertyValue::String(value.to_string()),
        // mosquitto checks the key only; a value over 65,535 bytes would be cut, so
        // mqtk refuses it in the same words.
        PropertyType::Pair if !mosquitto_utf8(value) || words[1].len() > 65535 => {
            return Err(adding(7));
        }
        PropertyType::Pair => PropertyValue::Pair(value.to_string(), words[1].clone()),
    })
}

/// C's `atol` (glibc): leading white space, a sign, decimal digits up to the first
/// other character; 0 when there are none; saturated at the `long` range.
fn atol(s: &str) -> i64 {
    let s = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for d in digits.bytes().take_while(u8::is_ascii_digit) {
        let d = i64::from(d - b'0');
        n = if neg {
            n.saturating_mul(10).saturating_sub(d)
        } else {
            n.saturating_mul(10).saturating_add(d)
        };
    }
    n
}

/// libmosquitto's `mosquitto_validate_utf8` for a string Rust already knows to be
/// UTF-8: no control characters (U+0001–U+001F, U+007F–U+009F), no non-characters,
/// at most 65,535 bytes (the most an MQTT string can carry).
fn mosquitto_utf8(s: &str) -> bool {
    s.len() <= 65535
        && s.chars().all(|c| {
            let c = u32::from(c);
            !(c <= 0x1F
                || (0x7F..=0x9F).contains(&c)
                || (0xFDD0..=0xFDEF).contains(&c)
                || (c & 0xFFFF) >= 0xFFFE)
        })
}

/// Why libmosquitto will not send a property list (`mosquitto_property_check_all`,
/// or a list given to an MQTT 3.x connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyProblem {
    /// A value the spec forbids (MOSQ_ERR_PROTOCOL).
    Protocol,
    /// A property other than user-property twice (MOSQ_ERR_DUPLICATE_PROPERTY).
    Duplicate,
    /// Properties on an MQTT 3.x connection (MOSQ_ERR_NOT_SUPPORTED).
    NotSupported,
}

impl PropertyProblem {
    /// `mosquitto_strerror`'s words.
    pub fn strerror(self) -> &'static str {
        match self {
            PropertyProblem::Protocol => {
                "A network protocol error occurred when communicating with the broker"
            }
            PropertyProblem::Duplicate => "Duplicate property in property list",
            PropertyProblem::NotSupported => "This feature is not supported",
        }
    }

    /// The MOSQ_ERR_* number, which mosquitto_pub -l exits with.
    pub fn code(self) -> u8 {
        match self {
            PropertyProblem::Protocol => crate::exit::MOSQ_ERR_PROTOCOL,
            PropertyProblem::Duplicate => crate::exit::MOSQ_ERR_DUPLICATE_PROPERTY,
            PropertyProblem::NotSupported => crate::exit::MOSQ_ERR_NOT_SUPPORTED,
        }
    }
}

/// `mosquitto_property_check_all` for a list about to be sent in `ctx` on a `v5` (or
/// 3.x) connection: property by property in order, first its value, then whether a
/// later one repeats it. An empty list always passes.
pub fn check_all(
    ctx: PropertyContext,
    props: &Properties,
    v5: bool,
) -> Result<(), PropertyProblem> {
    if props.is_empty() {
        return Ok(());
    }
    if !v5 {
        return Err(PropertyProblem::NotSupported);
    }
    for (i, p) in props.0.iter().enumerate() {
        let bad_value = match (p.id, &p.value) {
            (_, PropertyValue::Byte(v)) => *v > 1,
            (PropertyId::MaximumPacketSize, PropertyValue::FourByte(0)) => true,
            (PropertyId::ReceiveMaximum | PropertyId::TopicAlias, PropertyValue::TwoByte(0)) => {
                true
            }
            (PropertyId::ResponseTopic, PropertyValue::String(t)) => {
                !crate::cli::connect::valid_publish_topic(t) || t.is_empty()
            }
            _ => false,
        };
        if bad_value || !p.id.allowed_in(ctx) {
            return Err(PropertyProblem::Protocol);
        }
        if p.id != PropertyId::UserProperty && props.0[i + 1..].iter().any(|q| q.id == p.id) {
            return Err(PropertyProblem::Duplicate);
        }
    }
    Ok(())
}

/// mosquitto_rr adds the response topic (`-e`) to the PUBLISH properties and checks
/// them before connecting; any problem (a `-D publish response-topic` above all) is
/// reported in these words.
pub fn check_rr_request(
    publish: &Properties,
    response_topic: &str,
    quiet: bool,
) -> Result<(), Error> {
    let mut props = publish.clone();
    props.push(
        PropertyId::ResponseTopic,
        PropertyValue::String(response_topic.to_string()),
    );
    match check_all(PropertyContext::Publish, &props, true) {
        Ok(()) => Ok(()),
        Err(_) if quiet => Err(Error::Silent(crate::exit::FAILURE)),
        Err(_) => Err(plain(
            "Error in PUBLISH properties: Duplicate response topic.\n",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(words: &[&str]) -> Result<PropertySets, String> {
        let g: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        parse_properties(&g, "mosquitto_pub").map_err(|e| e.message())
    }

    const U: &str = "\nUse 'mosquitto_pub --help' to see usage.\n";

    #[test]
    fn errors_in_mosquitto_21_words_and_order() {
        let cases: &[(&[&str], &str)] = &[
            (&["publish", "x"], NOT_ENOUGH),
            (
                &["bogus", "nope", "1"],
                "Error: Invalid command bogus given in --property argument.\n\n",
            ),
            (
                &["Publish", "nope", "1"],
                "Error: Invalid property name nope given in --property argument.\n\n",
            ),
            (
                &["CONNECT", "Content-Type", "1"],
                "Error: Content-Type property not allowed for CONNECT in --property argument.\n\n",
            ),
            (&["connect", "user-property", "k"], NOT_ENOUGH),
            (
                &["publish", "subscription-identifier", "1"],
                "Error: subscription-identifier property not supported for publish in --property argument.\n\n",
            ),
            (
                &["auth", "reason-string", "x"],
                "Error: reason-string property not supported for auth in --property argument.\n\n",
            ),
            (&["connack", "maximum-qos", "1"], ""),
            (
                &["publish", "message-expiry-interval", "-1"],
                "Error: Property value (-1) out of range for property message-expiry-interval.\n\n",
            ),
            (
                &["publish", "message-expiry-interval", " -5x"],
                "Error: Property value (-5) out of range for property message-expiry-interval.\n\n",
            ),
            (
                &["publish", "message-expiry-interval", "99999999999999999999"],
                "Error: Property value (9223372036854775807) out of range for property message-expiry-interval.\n\n",
            ),
            (
                &["connect", "receive-maximum", "70000"],
                "Error: Property value (70000) out of range for property receive-maximum.\n\n",
            ),
            (
                &["publish", "payload-format-indicator", "256"],
                "Error: Property value (256) out of range for property payload-format-indicator.\n\n",
            ),
            (
                &["subscribe", "subscription-identifier", "268435456"],
                "Error adding property subscription-identifier 4\n",
            ),
            (
                &["subscribe", "subscription-identifier", "0"],
                "Error: Property value (0) out of range for property subscription-identifier.\n\n",
            ),
            (
                &["publish", "content-type", "a\tb"],
                "Error adding property content-type 6\n",
            ),
            (
                &["connect", "user-property", "a\u{85}", "v"],
                "Error adding property user-property 7\n",
            ),
        ];
        for (words, head) in cases {
            assert_eq!(one(words).unwrap_err(), format!("{head}{U}"), "{words:?}");
        }
        let long = "x".repeat(65536);
        assert_eq!(
            one(&["publish", "correlation-data", &long]).unwrap_err(),
            format!("Error: Property value too long for property correlation-data.\n\n{U}")
        );
    }

    #[test]
    fn values_as_atol_reads_them_and_duplicates_kept() {
        let words: Vec<String> = [
            "publish",
            "message-expiry-interval",
            "12abc",
            "publish",
            "payload-format-indicator",
            "abc",
            "publish",
            "message-expiry-interval",
            "0x10",
            "PUBLISH",
            "User-Property",
            "-k",
            "v\tw",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let sets = parse_properties(&words, "t").unwrap();
        let p = &sets.publish.0;
        assert_eq!(p.len(), 4);
        assert_eq!(p[0].value, PropertyValue::FourByte(12));
        assert_eq!(p[1].value, PropertyValue::Byte(0));
        assert_eq!(p[2].value, PropertyValue::FourByte(0));
        assert_eq!(p[3].value, PropertyValue::Pair("-k".into(), "v\tw".into()));
        assert_eq!(
            check_all(PropertyContext::Publish, &sets.publish, true),
            Err(PropertyProblem::Duplicate)
        );
    }

    #[test]
    fn check_all_goes_property_by_property() {
        let mut p = Properties::new();
        p.push(PropertyId::ReceiveMaximum, PropertyValue::TwoByte(5));
        p.push(PropertyId::ReceiveMaximum, PropertyValue::TwoByte(0));
        // The first is a duplicate before the second's value is looked at.
        assert_eq!(
            check_all(PropertyContext::Connect, &p, true),
            Err(PropertyProblem::Duplicate)
        );
        p.0.swap(0, 1);
        assert_eq!(
            check_all(PropertyContext::Connect, &p, true),
            Err(PropertyProblem::Protocol)
        );
        assert_eq!(
            check_all(PropertyContext::Connect, &p, false),
            Err(PropertyProblem::NotSupported)
        );
        assert_eq!(
            check_all(PropertyContext::Connect, &Properties::new(), false),
            Ok(())
        );
        let mut w = Properties::new();
        w.push(
            PropertyId::ResponseTopic,
            PropertyValue::String("a/#".into()),
        );
        assert_eq!(
            check_all(PropertyContext::Will, &w, true),
            Err(PropertyProblem::Protocol)
        );
        let mut u = Properties::new();
        u.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("k".into(), "1".into()),
        );
        u.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("k".into(), "2".into()),
        );
        assert_eq!(check_all(PropertyContext::Subscribe, &u, true), Ok(()));
    }

    #[test]
    fn atol_is_glibcs() {
        for (s, n) in [
            ("42", 42),
            ("  -7x", -7),
            ("+3", 3),
            ("x1", 0),
            ("", 0),
            ("0x10", 0),
            ("-99999999999999999999", i64::MIN),
        ] {
            assert_eq!(atol(s), n, "{s:?}");
        }
    }
}
