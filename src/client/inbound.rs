//! The incoming half of a client session, free of I/O: QoS 2 messages between PUBLISH
//! and PUBREL (so a resent PUBLISH is delivered once, 5.0 §4.3.3), and the topic
//! aliases the broker set up (5.0 §3.3.2.3.4).

use std::collections::HashMap;

use crate::codec::{PropertyId, ProtocolVersion, Publish};

/// When a QoS 2 message reaches the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qos2Delivery {
    /// On PUBREL, as libmosquitto does (5.0 §4.3.3 method B): mosquitto_sub prints a
    /// QoS 2 message after the handshake, and a resent PUBLISH replaces the held one.
    OnRelease,
    /// On the first PUBLISH (method A): `bench` measures latency at arrival. A resent
    /// PUBLISH with an id not yet released is a duplicate and is not delivered again.
    OnPublish,
}

/// Why an incoming PUBLISH cannot be accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("topic alias {0} from the broker was never set")]
    UnknownAlias(u16),
    #[error("topic alias {alias} from the broker exceeds our maximum of {max}")]
    AliasOutOfRange { alias: u16, max: u16 },
}

#[derive(Debug)]
pub struct Inbound {
    delivery: Qos2Delivery,
    /// QoS 2 packet ids received and not yet released, with the message when it is
    /// held until PUBREL.
    qos2: HashMap<u16, Option<Publish>>,
    aliases: HashMap<u16, String>,
    /// The Topic Alias Maximum we announced in CONNECT (0: none allowed, 5.0
    /// §3.1.2.11.5). `None`: not checked (the caller announced nothing and a broker's
    /// alias is taken as it comes, as libmosquitto does).
    alias_max: Option<u16>,
}

impl Inbound {
    pub fn new(delivery: Qos2Delivery) -> Inbound {
        Inbound {
            delivery,
            qos2: HashMap::new(),
            aliases: HashMap::new(),
            alias_max: None,
        }
    }

    /// A new network connection: aliases are per connection (5.0 §3.3.2.3.4); QoS 2
    /// state survives only into a resumed session.
    pub fn reconnected(&mut self, session_present: bool, alias_max: Option<u16>) {
        self.aliases.clear();
        self.alias_max = alias_max;
        if !session_present {
            self.qos2.clear();
        }
    }

    /// Resolves the topic alias of `p` (v5): an alias with a topic sets it, an alias
    /// with an empty topic stands for the topic set before.
    pub fn resolve_alias(
        &mut self,
        p: &mut Publish,
        version: ProtocolVersion,
    ) -> Result<(), InboundError> {
        if version != ProtocolVersion::V5 {
            return Ok(());
        }
        let Some(alias) = p.properties.get_int(PropertyId::TopicAlias) else {
            return Ok(());
        };
        let alias = alias as u16;
        if let Some(max) = self.alias_max
            && (alias == 0 || alias > max)
        {
            return Err(InboundError::AliasOutOfRange { alias, max });
        }
        if p.topic.is_empty() {
            match self.aliases.get(&alias) {
                Some(t) => p.topic.clone_from(t),
                None => return Err(InboundError::UnknownAlias(alias)),
            }
        } else {
            self.aliases.insert(alias, p.topic.clone());
        }
        Ok(())
    }

    /// A QoS 2 PUBLISH arrived (PUBREC is sent whatever this returns): the message to
    /// deliver now, if any.
    pub fn on_qos2_publish(&mut self, p: Publish) -> Option<Publish> {
        match self.delivery {
            Qos2Delivery::OnRelease => {
                self.qos2.insert(p.packet_id, Some(p));
                None
            }
            Qos2Delivery::OnPublish => match self.qos2.insert(p.packet_id, None) {
                Some(_) => None,
                None => Some(p),
            },
        }
    }

    /// PUBREL (PUBCOMP is sent whatever this returns): the held message, if any.
    pub fn on_pubrel(&mut self, pid: u16) -> Option<Publish> {
        self.qos2.remove(&pid).flatten()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::codec::{Properties, PropertyValue, QoS};

    fn publish(topic: &str, pid: u16, alias: Option<u16>) -> Publish {
        let mut properties = Properties::new();
        if let Some(a) = alias {
            properties.push(PropertyId::TopicAlias, PropertyValue::TwoByte(a));
        }
        Publish {
            dup: false,
            qos: QoS::ExactlyOnce,
            retain: false,
            topic: topic.into(),
            packet_id: pid,
            properties,
            payload: Bytes::from_static(b"x"),
        }
    }

    #[test]
    fn on_release_holds_and_a_duplicate_replaces() {
        let mut i = Inbound::new(Qos2Delivery::OnRelease);
        assert_eq!(i.on_qos2_publish(publish("a", 6, None)), None);
        let mut dup = publish("a", 6, None);
        dup.dup = true;
        assert_eq!(i.on_qos2_publish(dup.clone()), None);
        assert_eq!(i.on_pubrel(6), Some(dup));
        assert_eq!(i.on_pubrel(6), None, "released once");
    }

    #[test]
    fn on_publish_delivers_once_until_released() {
        let mut i = Inbound::new(Qos2Delivery::OnPublish);
        assert!(i.on_qos2_publish(publish("a", 6, None)).is_some());
        assert_eq!(i.on_qos2_publish(publish("a", 6, None)), None, "duplicate");
        assert_eq!(i.on_pubrel(6), None);
        assert!(
            i.on_qos2_publish(publish("a", 6, None)).is_some(),
            "after PUBREL the id is a new message"
        );
    }

    #[test]
    fn qos2_state_survives_only_a_resumed_session() {
        let mut i = Inbound::new(Qos2Delivery::OnRelease);
        i.on_qos2_publish(publish("a", 1, None));
        i.reconnected(true, None);
        assert!(i.on_pubrel(1).is_some());
        i.on_qos2_publish(publish("a", 2, None));
        i.reconnected(false, None);
        assert!(i.on_pubrel(2).is_none());
    }

    #[test]
    fn aliases_set_use_and_check_range() {
        let v5 = ProtocolVersion::V5;
        let mut i = Inbound::new(Qos2Delivery::OnRelease);
        let mut p = publish("a/b", 0, Some(7));
        i.resolve_alias(&mut p, v5).unwrap();
        let mut q = publish("", 0, Some(7));
        i.resolve_alias(&mut q, v5).unwrap();
        assert_eq!(q.topic, "a/b");
        let mut r = publish("", 0, Some(9));
        assert_eq!(
            i.resolve_alias(&mut r, v5),
            Err(InboundError::UnknownAlias(9))
        );
        // Aliases are per connection.
        i.reconnected(true, Some(5));
        let mut s = publish("", 0, Some(7));
        assert_eq!(
            i.resolve_alias(&mut s, v5),
            Err(InboundError::AliasOutOfRange { alias: 7, max: 5 })
        );
        // Below v5 there are no properties to look at.
        let mut t = publish("", 0, Some(9));
        assert!(i.resolve_alias(&mut t, ProtocolVersion::V311).is_ok());
    }
}
