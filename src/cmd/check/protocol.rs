//! The protocol probes (`mqtt-3.1`, `mqtt-3.1.1`, `mqtt-5`) and the discovery that
//! precedes every run: the first connection finds out whether the broker can be
//! reached at all, the version the other probes speak (the newest it accepts, or
//! `-V`'s), and, in v5, the CONNACK properties it announces.

use serde_json::{Map, Value};

use crate::cmd::check::link::{Fail, Link, Net, Opts, connack_text};
use crate::cmd::check::probe::{Ctx, Probe, Step, Verdict, version_name};
use crate::codec::{ConnAck, Properties, PropertyValue, ProtocolVersion, ReasonCode};

/// The first connection: `Ok` with the version the probes will speak and its CONNACK,
/// `Err` with why the broker cannot be checked (unreachable, or it refused us).
pub async fn discover(
    net: &Net,
    explicit: Option<ProtocolVersion>,
    client_id: &str,
) -> Result<(ProtocolVersion, ConnAck), String> {
    let tries = match explicit {
        Some(v) => vec![v],
        None => vec![
            ProtocolVersion::V5,
            ProtocolVersion::V311,
            ProtocolVersion::V31,
        ],
    };
    let mut why = Vec::new();
    for v in tries {
        match Link::open(net, &Opts::clean(v, client_id.to_string())).await {
            Ok((link, ack)) => {
                link.disconnect().await;
                return Ok((v, ack));
            }
            Err(f @ (Fail::Unreachable(_) | Fail::Timeout(_) | Fail::Encode(_))) => {
                return Err(f.to_string());
            }
            Err(Fail::Refused(ack, v)) if !wrong_version(&ack, v) => {
                return Err(connack_text(&ack, v));
            }
            Err(f) => why.push(format!("MQTT {}: {f}", version_name(v))),
        }
    }
    Err(why.join("; "))
}

/// A refusal that means "not this protocol version" (3.1.1 §3.2.2.3 code 1, 5.0
/// §3.2.2.2 0x84), after which an older version is worth a try.
fn wrong_version(ack: &ConnAck, v: ProtocolVersion) -> bool {
    match v {
        ProtocolVersion::V5 => ack.code == ReasonCode::UNSUPPORTED_PROTOCOL_VERSION.0,
        _ => ack.code == 1,
    }
}

/// `mqtt-3.1`, `mqtt-3.1.1`, `mqtt-5`: connects with `v`. In v5 the client id is empty
/// (so the broker assigns one) unless the broker refuses that (0x85), and the CONNACK
/// properties are the announced value.
pub async fn version(ctx: &Ctx, v: ProtocolVersion) -> Probe {
    let first_id = if v == ProtocolVersion::V5 {
        String::new()
    } else {
        ctx.id()
    };
    let mut res = Link::open(&ctx.net, &Opts::clean(v, first_id)).await;
    let mut note = "";
    if v == ProtocolVersion::V5
        && matches!(&res, Err(Fail::Refused(a, _)) if a.code == ReasonCode::CLIENT_IDENTIFIER_NOT_VALID.0)
    {
        note = "; an empty client id was refused (0x85)";
        res = Link::open(&ctx.net, &Opts::clean(v, ctx.id())).await;
    }
    let (link, ack) = res.feature()?;
    link.disconnect().await;
    let verdict = Verdict::supported(format!("{}{note}", connack_text(&ack, v)));
    if v == ProtocolVersion::V5 {
        return Ok(verdict.announced(Some(properties_json(&ack.properties))));
    }
    Ok(verdict)
}

/// CONNACK properties as a JSON object by mosquitto's property names: numbers, text,
/// binary as hex, user properties as [key, value] pairs.
pub fn properties_json(props: &Properties) -> Value {
    let mut map = Map::new();
    for p in &props.0 {
        let name = p.id.name().to_string();
        let value = match &p.value {
            PropertyValue::Byte(b) => Value::from(*b),
            PropertyValue::TwoByte(n) => Value::from(*n),
            PropertyValue::FourByte(n) | PropertyValue::VarInt(n) => Value::from(*n),
            PropertyValue::String(s) => Value::from(s.as_str()),
            PropertyValue::Binary(b) => {
                Value::from(b.iter().map(|x| format!("{x:02x}")).collect::<String>())
            }
            PropertyValue::Pair(k, v) => {
                let pair = Value::from(vec![k.as_str(), v.as_str()]);
                match map.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
                    Value::Array(list) => list.push(pair),
                    other => *other = Value::Array(vec![pair]),
                }
                continue;
            }
        };
        map.insert(name, value);
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::PropertyId;

    #[test]
    fn connack_properties_by_name() {
        let mut p = Properties::new();
        p.push(PropertyId::TopicAliasMaximum, PropertyValue::TwoByte(10));
        p.push(PropertyId::RetainAvailable, PropertyValue::Byte(0));
        p.push(
            PropertyId::AssignedClientIdentifier,
            PropertyValue::String("auto-1".into()),
        );
        p.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("a".into(), "b".into()),
        );
        p.push(
            PropertyId::UserProperty,
            PropertyValue::Pair("c".into(), "d".into()),
        );
        assert_eq!(
            properties_json(&p),
            serde_json::json!({
                "topic-alias-maximum": 10,
                "retain-available": 0,
                "assigned-client-identifier": "auto-1",
                "user-property": [["a", "b"], ["c", "d"]],
            })
        );
    }

    #[test]
    fn which_refusals_mean_another_version() {
        let ack = |code| ConnAck {
            session_present: false,
            code,
            properties: Properties::new(),
        };
        assert!(wrong_version(&ack(0x84), ProtocolVersion::V5));
        assert!(!wrong_version(&ack(0x87), ProtocolVersion::V5));
        assert!(wrong_version(&ack(1), ProtocolVersion::V311));
        assert!(!wrong_version(&ack(5), ProtocolVersion::V311));
    }
}
