//! An inbound PUBLISH and the rest of its flow: the topic alias (5.0 §3.3.2.3.4), the
//! checks that refuse it (size, ACL), exactly-once for QoS 2 (PUBREC now, PUBCOMP on
//! PUBREL, duplicates not routed again: 5.0 §4.3.3 method B), routing, and the ack.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::broker::log::LogType;
use crate::broker::server::{End, Hub, ServerSession, TOPIC_ALIAS_MAX};
use crate::broker::session::Message;
use crate::broker::shared::inflight_limit;
use crate::codec::{
    Packet, Properties, PropertyId, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    ReasonCode,
};
use crate::topic;

/// Payloads up to this size are copied out of the read buffer when routed, so a queued
/// small message does not pin a whole 64 KiB read chunk.
const COPY_PAYLOAD_MAX: usize = 64 * 1024;

impl<H: Hub> ServerSession<H> {
    pub(super) fn on_publish(&mut self, mut p: Publish, now: Instant) -> Option<End> {
        if self.v5()
            && let Err(end) = self.resolve_alias(&mut p)
        {
            return Some(end);
        }
        self.log_debug(format_args!(
            "Received PUBLISH from {} (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            self.client_id,
            u8::from(p.dup),
            p.qos as u8,
            u8::from(p.retain),
            p.packet_id,
            p.topic,
            p.payload.len()
        ));
        if let Err(e) =
            topic::validate_name(&p.topic).and_then(|()| topic::check_hierarchy(&p.topic))
        {
            // 3.1.1 §4.7.3 / 5.0 §3.3.2.1: wildcards or an empty topic in PUBLISH; and
            // mosquitto's limit on levels (handle_publish.c: malformed, disconnect).
            self.hub.log(
                LogType::Information,
                format_args!(
                    "Invalid publish topic from {} ({e}), disconnecting.",
                    self.client_id
                ),
            );
            return Some(End::Protocol(ReasonCode::TOPIC_NAME_INVALID));
        }
        if p.retain && !self.hub.config().retain_available {
            // 5.0 §3.3.1.3: retained messages after CONNACK said Retain Available 0;
            // mosquitto closes 3.x clients too.
            return Some(End::Protocol(ReasonCode::RETAIN_NOT_SUPPORTED));
        }
        self.hub
            .stats()
            .messages_received
            .fetch_add(1, Ordering::Relaxed);
        let mut reason = self.refusal(&p);
        let mut duplicate = false;
        if p.qos == QoS::ExactlyOnce && reason == ReasonCode::SUCCESS {
            match self.first_delivery(p.packet_id) {
                Ok(first) => duplicate = !first,
                Err(end) => return Some(end),
            }
        }
        if reason == ReasonCode::SUCCESS && !duplicate {
            let matched = self.route(&p, now);
            if matched == 0 && self.v5() {
                // 5.0 §3.4.2.1: 0x10 No matching subscribers.
                reason = ReasonCode::NO_MATCHING_SUBSCRIBERS;
            }
        }
        self.ack(&p, reason);
        None
    }

    /// Replaces a v5 Topic Alias by its topic, or learns a new one (5.0 §3.3.2.3.4).
    fn resolve_alias(&mut self, p: &mut Publish) -> Result<(), End> {
        let Some(alias) = p.properties.get_int(PropertyId::TopicAlias) else {
            return Ok(());
        };
        // Alias 0 or above our maximum is a protocol error (0x94).
        if alias == 0 || alias > u32::from(TOPIC_ALIAS_MAX) {
            return Err(End::Protocol(ReasonCode::TOPIC_ALIAS_INVALID));
        }
        let alias = alias as u16;
        if p.topic.is_empty() {
            match self.aliases.as_ref().and_then(|map| map.get(&alias)) {
                Some(t) => p.topic = t.clone(),
                // An alias never set.
                None => return Err(End::Protocol(ReasonCode::PROTOCOL_ERROR)),
            }
        } else {
            self.aliases
                .get_or_insert_default()
                .insert(alias, p.topic.clone());
        }
        p.properties.remove(PropertyId::TopicAlias);
        Ok(())
    }

    /// Why the message is not routed (with its log line), or `SUCCESS`.
    fn refusal(&self, p: &Publish) -> ReasonCode {
        let limit = self.hub.config().message_size_limit;
        let (what, reason) = if limit > 0 && p.payload.len() > limit as usize {
            // As mosquitto 2.0 (handle_publish.c): dropped, acked with 0x95.
            ("Dropped too large", ReasonCode::PACKET_TOO_LARGE)
        } else if !self
            .hub
            .may_publish(&self.client_id, self.username.as_deref(), &p.topic)
        {
            ("Denied", ReasonCode::NOT_AUTHORIZED)
        } else {
            return ReasonCode::SUCCESS;
        };
        self.hub.log(
            LogType::Notice,
            format_args!(
                "{what} PUBLISH from {} (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
                self.client_id,
                u8::from(p.dup),
                p.qos as u8,
                u8::from(p.retain),
                p.packet_id,
                p.topic,
                p.payload.len()
            ),
        );
        reason
    }

    /// Books an inbound QoS 2 packet id until PUBREL. `Ok(false)`: a resend of a message
    /// already routed (5.0 §4.3.3 method B: route once, acknowledge every time).
    fn first_delivery(&mut self, packet_id: u16) -> Result<bool, End> {
        let mut st = self.session.state.lock();
        if st.inbound_qos2.contains(&packet_id) {
            return Ok(false);
        }
        // 5.0 §3.3.4: more unacknowledged QoS 2 messages than the Receive Maximum we
        // advertised is a protocol violation (0x93). QoS 1 is acked at once and never
        // counts. 3.x has no such limit; its ids bound the set to 65535.
        if self.v5() && st.inbound_qos2.len() >= inflight_limit(self.hub.config()) {
            return Err(End::Protocol(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED));
        }
        st.inbound_qos2.insert(packet_id);
        Ok(true)
    }

    /// Builds the routed message from an inbound PUBLISH and fans it out; returns how
    /// many sessions it matched.
    fn route(&mut self, p: &Publish, now: Instant) -> usize {
        let payload = if p.payload.len() <= COPY_PAYLOAD_MAX {
            Bytes::copy_from_slice(&p.payload)
        } else {
            p.payload.clone()
        };
        let mut properties = Properties::new();
        let mut expires = None;
        if self.v5() && !p.properties.is_empty() {
            properties = p.properties.clone();
            if let Some(s) = properties.get_int(PropertyId::MessageExpiryInterval) {
                expires = Some(now + Duration::from_secs(u64::from(s)));
            }
            // Per delivery, never forwarded as received (5.0 §3.3.2.3).
            properties.remove(PropertyId::MessageExpiryInterval);
            properties.remove(PropertyId::SubscriptionIdentifier);
        }
        let msg = Arc::new(Message {
            topic: p.topic.clone(),
            payload,
            qos: p.qos,
            retain: p.retain,
            properties,
            expires,
            origin: Some(Arc::clone(&self.client_id)),
        });
        self.hub.route(msg, &mut self.pressure)
    }

    /// PUBACK for QoS 1, PUBREC for QoS 2, nothing for QoS 0. 3.x acks have no reason
    /// code: a refused message is acked as if delivered (mosquitto does the same).
    fn ack(&self, p: &Publish, reason: ReasonCode) {
        let rc = if self.v5() {
            reason
        } else {
            ReasonCode::SUCCESS
        };
        let (packet_id, properties) = (p.packet_id, Properties::new());
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                self.log_debug(format_args!(
                    "Sending PUBACK to {} (m{packet_id}, rc{})",
                    self.client_id, rc.0
                ));
                self.ctl.send(Packet::PubAck(PubAck {
                    packet_id,
                    reason: rc,
                    properties,
                }));
            }
            QoS::ExactlyOnce => {
                self.log_debug(format_args!(
                    "Sending PUBREC to {} (m{packet_id}, rc{})",
                    self.client_id, rc.0
                ));
                self.ctl.send(Packet::PubRec(PubRec {
                    packet_id,
                    reason: rc,
                    properties,
                }));
            }
        }
    }

    /// PUBREL: the QoS 2 exchange ends with PUBCOMP; the id may be used again.
    pub(super) fn on_pubrel(&mut self, r: PubRel) {
        self.log_debug(format_args!(
            "Received PUBREL from {} (Mid: {})",
            self.client_id, r.packet_id
        ));
        let known = self.session.state.lock().inbound_qos2.remove(&r.packet_id);
        // 5.0 §3.7.2.1: PUBCOMP 0x92 for an id we were not holding; 3.x has no code.
        let reason = if known || self.version != ProtocolVersion::V5 {
            ReasonCode::SUCCESS
        } else {
            ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
        };
        self.log_debug(format_args!(
            "Sending PUBCOMP to {} (m{})",
            self.client_id, r.packet_id
        ));
        self.ctl.send(Packet::PubComp(PubComp {
            packet_id: r.packet_id,
            reason,
            properties: Properties::new(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::server::fake::{FakeHub, connect, open, publish, replies};
    use crate::codec::PropertyValue;

    fn session(version: ProtocolVersion, hub: FakeHub) -> (Arc<FakeHub>, ServerSession<FakeHub>) {
        let hub = Arc::new(hub);
        let s = open(&hub, connect(version, "c"));
        replies(&s); // CONNACK
        (hub, s)
    }

    fn puback(packet_id: u16, reason: ReasonCode) -> Packet {
        Packet::PubAck(PubAck {
            packet_id,
            reason,
            properties: Properties::new(),
        })
    }

    fn v5_publish(qos: QoS, packet_id: u16, topic: &str, props: &[(PropertyId, u32)]) -> Packet {
        let Packet::Publish(mut p) = publish(qos, packet_id, topic, b"x") else {
            unreachable!()
        };
        for (id, v) in props {
            let value = match id {
                PropertyId::TopicAlias => PropertyValue::TwoByte(*v as u16),
                _ => PropertyValue::FourByte(*v),
            };
            p.properties.push(*id, value);
        }
        Packet::Publish(p)
    }

    #[test]
    fn qos1_is_routed_then_acknowledged() {
        let (hub, mut s) = session(ProtocolVersion::V311, FakeHub::default());
        let now = Instant::now();
        assert!(
            s.handle(publish(QoS::AtLeastOnce, 7, "a/b", b"hi"), now)
                .is_none()
        );
        let routed = hub.routed.lock();
        assert_eq!(routed.len(), 1);
        assert_eq!(routed[0].topic, "a/b");
        assert_eq!(&routed[0].payload[..], b"hi");
        assert_eq!(routed[0].qos, QoS::AtLeastOnce);
        assert_eq!(routed[0].origin.as_deref(), Some("c"));
        assert_eq!(replies(&s), [puback(7, ReasonCode::SUCCESS)]);
        assert_eq!(hub.stats.messages_received.load(Ordering::Relaxed), 1);
        assert_eq!(
            hub.lines_of(LogType::Debug).last().map(String::as_str),
            Some("Sending PUBACK to c (m7, rc0)")
        );
    }

    #[test]
    fn v5_says_when_nobody_subscribed_and_3x_does_not() {
        let hub = FakeHub::default();
        hub.matches.store(0, Ordering::Relaxed);
        let (_, mut s) = session(ProtocolVersion::V5, hub);
        s.handle(publish(QoS::AtLeastOnce, 1, "t", b""), Instant::now());
        // 5.0 §3.4.2.1: 0x10 No matching subscribers.
        assert_eq!(
            replies(&s),
            [puback(1, ReasonCode::NO_MATCHING_SUBSCRIBERS)]
        );
        let hub = FakeHub::default();
        hub.matches.store(0, Ordering::Relaxed);
        let (_, mut s) = session(ProtocolVersion::V311, hub);
        s.handle(publish(QoS::AtLeastOnce, 1, "t", b""), Instant::now());
        assert_eq!(replies(&s), [puback(1, ReasonCode::SUCCESS)]);
    }

    #[test]
    fn denied_and_oversized_messages_are_acked_but_not_routed() {
        let mut hub = FakeHub {
            denied: vec!["secret"],
            ..FakeHub::default()
        };
        hub.config.message_size_limit = 3;
        let (hub, mut s) = session(ProtocolVersion::V5, hub);
        let now = Instant::now();
        s.handle(publish(QoS::AtLeastOnce, 1, "secret", b"x"), now);
        s.handle(publish(QoS::AtLeastOnce, 2, "big", b"xxxx"), now);
        assert!(hub.routed.lock().is_empty());
        assert_eq!(
            replies(&s),
            [
                puback(1, ReasonCode::NOT_AUTHORIZED),
                puback(2, ReasonCode::PACKET_TOO_LARGE)
            ]
        );
        assert_eq!(
            hub.lines_of(LogType::Notice)[1..],
            [
                "Denied PUBLISH from c (d0, q1, r0, m1, 'secret', ... (1 bytes))",
                "Dropped too large PUBLISH from c (d0, q1, r0, m2, 'big', ... (4 bytes))"
            ]
        );
        // 3.x acks carry no reason: refused messages are acked as if delivered.
        let hub = FakeHub {
            denied: vec!["secret"],
            ..FakeHub::default()
        };
        let (hub, mut s) = session(ProtocolVersion::V311, hub);
        s.handle(publish(QoS::AtLeastOnce, 1, "secret", b"x"), now);
        assert!(hub.routed.lock().is_empty());
        assert_eq!(replies(&s), [puback(1, ReasonCode::SUCCESS)]);
    }

    #[test]
    fn qos2_is_routed_once_however_often_it_is_resent() {
        let (hub, mut s) = session(ProtocolVersion::V5, FakeHub::default());
        let now = Instant::now();
        let pubrec = Packet::PubRec(PubRec {
            packet_id: 3,
            reason: ReasonCode::SUCCESS,
            properties: Properties::new(),
        });
        s.handle(publish(QoS::ExactlyOnce, 3, "t", b"x"), now);
        let Packet::Publish(mut again) = publish(QoS::ExactlyOnce, 3, "t", b"x") else {
            unreachable!()
        };
        again.dup = true;
        s.handle(Packet::Publish(again), now);
        assert_eq!(hub.routed.lock().len(), 1);
        assert_eq!(replies(&s), [pubrec.clone(), pubrec]);
        let pubrel = |id| {
            Packet::PubRel(PubRel {
                packet_id: id,
                reason: ReasonCode::SUCCESS,
                properties: Properties::new(),
            })
        };
        let pubcomp = |id, reason| {
            Packet::PubComp(PubComp {
                packet_id: id,
                reason,
                properties: Properties::new(),
            })
        };
        s.handle(pubrel(3), now);
        // A PUBREL for an id not held: 0x92 in v5 (5.0 §3.7.2.1).
        s.handle(pubrel(3), now);
        assert_eq!(
            replies(&s),
            [
                pubcomp(3, ReasonCode::SUCCESS),
                pubcomp(3, ReasonCode::PACKET_IDENTIFIER_NOT_FOUND)
            ]
        );
        // After PUBCOMP the id is free: the same id is a new message.
        s.handle(publish(QoS::ExactlyOnce, 3, "t", b"x"), now);
        assert_eq!(hub.routed.lock().len(), 2);
    }

    #[test]
    fn v5_clients_may_not_exceed_our_receive_maximum_with_qos2() {
        let mut hub = FakeHub::default();
        hub.config.max_inflight_messages = 2;
        let (_, mut s) = session(ProtocolVersion::V5, hub);
        let now = Instant::now();
        assert!(
            s.handle(publish(QoS::ExactlyOnce, 1, "t", b""), now)
                .is_none()
        );
        assert!(
            s.handle(publish(QoS::ExactlyOnce, 2, "t", b""), now)
                .is_none()
        );
        // QoS 1 is acked at once and never counts.
        assert!(
            s.handle(publish(QoS::AtLeastOnce, 3, "t", b""), now)
                .is_none()
        );
        let end = s.handle(publish(QoS::ExactlyOnce, 4, "t", b""), now);
        assert!(matches!(
            end,
            Some(End::Protocol(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED))
        ));
    }

    #[test]
    fn topic_aliases_are_learned_and_used() {
        let (hub, mut s) = session(ProtocolVersion::V5, FakeHub::default());
        let now = Instant::now();
        let alias = |n| [(PropertyId::TopicAlias, n)];
        assert!(
            s.handle(v5_publish(QoS::AtMostOnce, 0, "a/b", &alias(1)), now)
                .is_none()
        );
        assert!(
            s.handle(v5_publish(QoS::AtMostOnce, 0, "", &alias(1)), now)
                .is_none()
        );
        {
            let routed = hub.routed.lock();
            assert_eq!(routed[1].topic, "a/b");
            // The alias belongs to this connection: it is not forwarded.
            assert!(routed.iter().all(|m| m.properties.is_empty()));
        }
        // 5.0 §3.3.2.3.4: an alias never set is a protocol error, one above our
        // maximum (10) or 0 is "Topic Alias invalid".
        let end = s.handle(v5_publish(QoS::AtMostOnce, 0, "", &alias(2)), now);
        assert!(matches!(
            end,
            Some(End::Protocol(ReasonCode::PROTOCOL_ERROR))
        ));
        let end = s.handle(v5_publish(QoS::AtMostOnce, 0, "x", &alias(11)), now);
        assert!(matches!(
            end,
            Some(End::Protocol(ReasonCode::TOPIC_ALIAS_INVALID))
        ));
        let end = s.handle(v5_publish(QoS::AtMostOnce, 0, "x", &alias(0)), now);
        assert!(matches!(
            end,
            Some(End::Protocol(ReasonCode::TOPIC_ALIAS_INVALID))
        ));
    }

    #[test]
    fn message_expiry_counts_from_the_time_the_message_arrived() {
        let (hub, mut s) = session(ProtocolVersion::V5, FakeHub::default());
        let arrived = Instant::now();
        let expiry = [(PropertyId::MessageExpiryInterval, 30)];
        s.handle(v5_publish(QoS::AtMostOnce, 0, "t", &expiry), arrived);
        let routed = hub.routed.lock();
        assert_eq!(routed[0].expires, Some(arrived + Duration::from_secs(30)));
        // The interval is per delivery (5.0 §3.3.2.3.3): the writer sends what is left.
        assert!(routed[0].properties.is_empty());
    }

    #[test]
    fn retained_messages_are_refused_when_retain_is_not_available() {
        let mut hub = FakeHub::default();
        hub.config.retain_available = false;
        let (hub, mut s) = session(ProtocolVersion::V5, hub);
        let Packet::Publish(mut p) = publish(QoS::AtMostOnce, 0, "t", b"x") else {
            unreachable!()
        };
        p.retain = true;
        let end = s.handle(Packet::Publish(p), Instant::now());
        assert!(matches!(
            end,
            Some(End::Protocol(ReasonCode::RETAIN_NOT_SUPPORTED))
        ));
        assert!(hub.routed.lock().is_empty());
    }

    #[test]
    fn topics_over_mosquittos_hierarchy_limit_end_the_connection() {
        // TOPIC_HIERARCHY_LIMIT counts '/': 200 of them (201 levels) pass, 201 do not.
        let (hub, mut s) = session(ProtocolVersion::V5, FakeHub::default());
        let now = Instant::now();
        for n in [200, 201] {
            let topic = format!("{}a", "a/".repeat(n - 1));
            assert!(
                s.handle(publish(QoS::AtMostOnce, 0, &topic, b""), now)
                    .is_none()
            );
        }
        assert_eq!(hub.routed.lock().len(), 2);
        let topic = format!("{}a", "a/".repeat(201));
        let end = s.handle(publish(QoS::AtMostOnce, 0, &topic, b""), now);
        // As a topic name with a wildcard: DISCONNECT 0x90 in v5, closed in 3.x.
        assert!(matches!(
            end,
            Some(End::Protocol(ReasonCode::TOPIC_NAME_INVALID))
        ));
        assert_eq!(hub.routed.lock().len(), 2);
        assert_eq!(
            hub.lines_of(LogType::Information),
            [
                "Invalid publish topic from c (topic has more than 200 '/' (more than 201 levels)), disconnecting."
            ]
        );
    }

    #[test]
    fn wildcards_in_a_topic_name_end_the_connection() {
        let (hub, mut s) = session(ProtocolVersion::V311, FakeHub::default());
        let end = s.handle(publish(QoS::AtMostOnce, 0, "a/+", b""), Instant::now());
        assert!(matches!(
            end,
            Some(End::Protocol(ReasonCode::TOPIC_NAME_INVALID))
        ));
        assert!(hub.routed.lock().is_empty());
    }
}
