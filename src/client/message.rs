//! What the client core sends: the `Outgoing` trait (a message that can write itself
//! as a PUBLISH, again with DUP after a reconnection) and its two everyday forms, a
//! whole `codec::Publish` and a payload on a shared `PublishTemplate`.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::codec::{self, PropertyId, ProtocolVersion, Publish, PublishTemplate, QoS};

/// An application message the core can send and, until acknowledged, send again.
pub trait Outgoing {
    fn qos(&self) -> QoS;
    fn retain(&self) -> bool;
    fn topic(&self) -> &str;
    /// Payload bytes: for the in-flight byte budget and the packet log.
    fn payload_len(&self) -> usize;
    /// The v5 Topic Alias this message carries in its properties, if any: after the
    /// first PUBLISH on a connection with that alias and topic, the core sends the
    /// topic empty (5.0 §3.3.2.3.4), as mosquitto_pub does.
    fn topic_alias(&self) -> Option<u16> {
        None
    }
    /// Appends this message as a PUBLISH with these header fields.
    fn encode(
        &self,
        dup: bool,
        packet_id: u16,
        omit_topic: bool,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), codec::Error>;
}

impl Outgoing for Publish {
    fn qos(&self) -> QoS {
        self.qos
    }

    fn retain(&self) -> bool {
        self.retain
    }

    fn topic(&self) -> &str {
        &self.topic
    }

    fn payload_len(&self) -> usize {
        self.payload.len()
    }

    fn topic_alias(&self) -> Option<u16> {
        self.properties
            .get_int(PropertyId::TopicAlias)
            .map(|a| a as u16)
    }

    fn encode(
        &self,
        dup: bool,
        packet_id: u16,
        omit_topic: bool,
        version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), codec::Error> {
        self.encode_as(dup, packet_id, omit_topic, version, out)
    }
}

/// A payload on a template shared by many messages (`mqtk pub -l`, `replay`): one
/// reference count and the payload per message.
#[derive(Clone, Debug)]
pub struct Templated {
    pub template: Arc<PublishTemplate>,
    /// The template's topic alias, if its properties carry one.
    pub alias: Option<u16>,
    pub payload: Bytes,
}

impl Outgoing for Templated {
    fn qos(&self) -> QoS {
        self.template.qos()
    }

    fn retain(&self) -> bool {
        self.template.retain()
    }

    fn topic(&self) -> &str {
        self.template.topic()
    }

    fn payload_len(&self) -> usize {
        self.payload.len()
    }

    fn topic_alias(&self) -> Option<u16> {
        self.alias
    }

    fn encode(
        &self,
        dup: bool,
        packet_id: u16,
        omit_topic: bool,
        _version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), codec::Error> {
        self.template
            .encode(dup, packet_id, omit_topic, &self.payload, out)
    }
}
