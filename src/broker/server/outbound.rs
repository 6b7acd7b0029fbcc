//! What the writer sends next, without I/O (`Outbound::fill`): the control queue
//! (replies, CONNACK, DISCONNECT) first, then resends of unacknowledged messages, then
//! queued messages within the in-flight window — all encoded by the codec into the
//! caller's buffer, which the caller writes in one go.
//!
//! Outgoing rules kept here: packet ids for QoS 1/2 (never 0, 5.0 §2.2.1), the in-flight
//! window (min of `max_inflight_messages` and the client's Receive Maximum, 5.0 §4.9),
//! resends with DUP in the original order after a reconnect (5.0 §4.4), message expiry
//! (5.0 §3.3.2.3.3), subscription identifiers (§3.3.2.3.8), topic aliases towards the
//! client (§3.3.2.3.4), and the client's Maximum Packet Size (§3.1.2.11.4).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::BytesMut;

use crate::broker::log::LogType;
use crate::broker::server::{Hub, ServerSession};
use crate::broker::session::{ConnCtl, Inflight, OutState, Outgoing, Session, SessionState};
use crate::codec::{
    self, Packet, Properties, PropertyId, PropertyValue, ProtocolVersion, PubRel, Publish, QoS,
    ReasonCode,
};

/// The writer stops adding messages to one write beyond this many bytes, which bounds
/// the per-connection write buffer.
pub const WRITE_BATCH: usize = 64 * 1024;

/// The writing half of a connection's protocol state.
pub struct Outbound<H> {
    hub: Arc<H>,
    session: Arc<Session>,
    ctl: Arc<ConnCtl>,
    /// The session's generation for this connection: once it changes, the session
    /// belongs to a newer connection and this writer sends nothing more from it.
    generation: u64,
    version: ProtocolVersion,
    client_id: Arc<str>,
    /// The client's Maximum Packet Size (5.0 §3.1.2.11.4): larger packets are not sent.
    client_max_packet: usize,
    /// The client's Topic Alias Maximum (5.0 §3.1.2.11.5) and the aliases handed out.
    alias_max: u16,
    /// Boxed when first used (most connections use none).
    #[allow(
        clippy::box_collection,
        reason = "8 bytes while unused, not an empty map's 48"
    )]
    aliases: Option<Box<HashMap<String, u16>>>,
}

/// What one `fill` takes from the session: PUBRELs to resend, and PUBLISHes as
/// (message, packet id, DUP).
#[derive(Default)]
struct Batch {
    rels: Vec<u16>,
    publishes: Vec<(Outgoing, u16, bool)>,
}

impl<H: Hub> Outbound<H> {
    pub(super) fn new(s: &ServerSession<H>) -> Outbound<H> {
        Outbound {
            hub: Arc::clone(&s.hub),
            session: Arc::clone(&s.session),
            ctl: Arc::clone(&s.ctl),
            generation: s.generation,
            version: s.version,
            client_id: Arc::clone(&s.client_id),
            client_max_packet: s.client_max_packet,
            alias_max: s.client_alias_max,
            aliases: None,
        }
    }

    pub fn ctl(&self) -> &Arc<ConnCtl> {
        &self.ctl
    }

    fn log_debug(&self, msg: std::fmt::Arguments<'_>) {
        self.hub.log(LogType::Debug, msg);
    }

    /// Appends to `buf` what can be sent at `now`. When `closing`, only the control
    /// queue (the last replies and the DISCONNECT). The session lock is held only to
    /// take messages off the queue and book their packet ids, not while encoding.
    pub fn fill(&mut self, buf: &mut BytesMut, now: Instant, closing: bool) {
        // Taken whole, not drained: the queue's memory goes with it, so an idle
        // connection does not keep the room its CONNACK grew (800 bytes a connection).
        let control = std::mem::take(&mut *self.ctl.control.lock());
        for p in &control {
            self.encode(buf, p);
        }
        if closing {
            return;
        }
        let Some(batch) = self.take_batch(buf.len(), now) else {
            return;
        };
        for packet_id in batch.rels {
            self.log_debug(format_args!(
                "Sending PUBREL to {} (m{packet_id})",
                self.client_id
            ));
            self.encode(
                buf,
                &Packet::PubRel(PubRel {
                    packet_id,
                    reason: ReasonCode::SUCCESS,
                    properties: Properties::new(),
                }),
            );
        }
        let mut unsent = Vec::new();
        for (out, pid, dup) in &batch.publishes {
            if !self.encode_publish(buf, out, *pid, *dup, now) && *pid != 0 {
                unsent.push(*pid);
            }
        }
        if !unsent.is_empty() {
            // Too large for the client: discarded as if delivered (5.0 §3.1.2.11.4).
            self.session
                .state
                .lock()
                .inflight
                .retain(|f| !unsent.contains(&f.packet_id));
        }
    }

    /// Takes resends and queued messages off the session, booking packet ids, until
    /// about `WRITE_BATCH` bytes (counting the `buffered` ones) or a full window.
    /// `None` when the session belongs to a newer connection.
    fn take_batch(&self, buffered: usize, now: Instant) -> Option<Batch> {
        let mut st = self.session.state.lock();
        if st.generation != self.generation {
            return None;
        }
        let mut batch = Batch::default();
        // Resends first (5.0 §4.4: in the original order, with DUP).
        for f in st.inflight.iter_mut().filter(|f| f.needs_send) {
            f.needs_send = false;
            match f.state {
                OutState::AwaitPubComp => batch.rels.push(f.packet_id),
                _ => batch.publishes.push((f.out.clone(), f.packet_id, true)),
            }
        }
        take_queued(&mut st, &mut batch, buffered, now);
        if st.queue.is_empty() {
            st.dropping = false;
        }
        Some(batch)
    }

    /// Encodes one packet into `buf`; false when it was not (too large for the client,
    /// or not encodable: logged).
    fn encode(&self, buf: &mut BytesMut, p: &Packet) -> bool {
        let start = buf.len();
        match codec::encode(p, self.version, buf) {
            Ok(()) if buf.len() - start <= self.client_max_packet => true,
            Ok(()) => {
                // 5.0 §3.1.2.11.4: never send more than the client accepts; the message
                // is discarded as if delivered.
                buf.truncate(start);
                false
            }
            Err(e) => {
                buf.truncate(start);
                self.hub.log(
                    LogType::Error,
                    format_args!("Error encoding packet for {}: {e}", self.client_id),
                );
                false
            }
        }
    }

    /// Encodes one PUBLISH; false when it was not sent (too large for the client).
    fn encode_publish(
        &mut self,
        buf: &mut BytesMut,
        out: &Outgoing,
        packet_id: u16,
        dup: bool,
        now: Instant,
    ) -> bool {
        let m = &out.msg;
        let mut properties = Properties::new();
        let mut topic = m.topic.clone();
        let mut new_alias = false;
        if self.version == ProtocolVersion::V5 {
            properties = delivery_properties(out, now);
            new_alias = self.alias(&mut topic, &mut properties);
        }
        self.log_debug(format_args!(
            "Sending PUBLISH to {} (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            self.client_id,
            u8::from(dup),
            out.qos as u8,
            u8::from(out.retain),
            packet_id,
            m.topic,
            m.payload.len()
        ));
        let publish = Packet::Publish(Publish {
            dup,
            qos: out.qos,
            retain: out.retain,
            topic,
            packet_id,
            properties,
            payload: m.payload.clone(),
        });
        let sent = self.encode(buf, &publish);
        if !sent && new_alias {
            // The client never saw this alias: do not rely on it later.
            if let Some(map) = &mut self.aliases {
                map.remove(&m.topic);
            }
        }
        if sent {
            self.hub
                .stats()
                .messages_sent
                .fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Outbound topic aliases (5.0 §3.3.2.3.4): one per topic until the client's
    /// maximum, then full topics. A known topic is sent as its alias and an empty topic;
    /// returns true when this PUBLISH introduces a new alias.
    fn alias(&mut self, topic: &mut String, properties: &mut Properties) -> bool {
        if self.alias_max == 0 {
            return false;
        }
        let map = self.aliases.get_or_insert_default();
        if let Some(a) = map.get(topic.as_str()) {
            properties.push(PropertyId::TopicAlias, PropertyValue::TwoByte(*a));
            topic.clear();
            return false;
        }
        if map.len() >= usize::from(self.alias_max) {
            return false;
        }
        let a = map.len() as u16 + 1;
        map.insert(topic.clone(), a);
        properties.push(PropertyId::TopicAlias, PropertyValue::TwoByte(a));
        true
    }
}

/// Moves queued messages into `batch` while the estimate stays under `WRITE_BATCH` and
/// the in-flight window has room; QoS 1/2 ones get a packet id and an in-flight entry.
fn take_queued(st: &mut SessionState, batch: &mut Batch, buffered: usize, now: Instant) {
    let mut estimate = buffered;
    while estimate < WRITE_BATCH {
        let Some(front) = st.queue.front() else {
            break;
        };
        if front.msg.expired(now) {
            // 5.0 §3.3.2.3.3: expired messages are not delivered.
            st.queue.pop_front();
            continue;
        }
        if front.qos != QoS::AtMostOnce && st.inflight.len() >= st.window {
            break;
        }
        let out = st.queue.pop_front().expect("front exists");
        estimate += out.msg.topic.len() + out.msg.payload.len() + 8;
        let pid = match out.qos {
            QoS::AtMostOnce => 0,
            q => {
                let pid = st.alloc_packet_id();
                st.inflight.push_back(Inflight {
                    packet_id: pid,
                    out: out.clone(),
                    state: if q == QoS::AtLeastOnce {
                        OutState::AwaitPubAck
                    } else {
                        OutState::AwaitPubRec
                    },
                    needs_send: false,
                });
                pid
            }
        };
        batch.publishes.push((out, pid, false));
    }
}

/// A v5 message's properties for one delivery: those forwarded as published, what is
/// left of its expiry interval (5.0 §3.3.2.3.3, rounded up), and the identifiers of the
/// subscriptions it matched (§3.3.2.3.8).
fn delivery_properties(out: &Outgoing, now: Instant) -> Properties {
    let m = &out.msg;
    let mut properties = m.properties.clone();
    if let Some(e) = m.expires {
        let left = e.saturating_duration_since(now);
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        properties.push(
            PropertyId::MessageExpiryInterval,
            PropertyValue::FourByte(secs.min(u64::from(u32::MAX)) as u32),
        );
    }
    for id in &out.sub_ids {
        properties.push(
            PropertyId::SubscriptionIdentifier,
            PropertyValue::VarInt(*id),
        );
    }
    properties
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::broker::server::fake::{
        FakeHub, connect, message, open, outgoing, replies, written,
    };
    use crate::broker::session::Message;
    use crate::codec::{Connect, PubAck, PubComp, PubRec};

    fn session(hub: FakeHub, c: Connect) -> (Arc<FakeHub>, ServerSession<FakeHub>) {
        let hub = Arc::new(hub);
        let s = open(&hub, c);
        replies(&s); // CONNACK
        (hub, s)
    }

    fn queue(s: &ServerSession<FakeHub>, m: &Arc<Message>) {
        s.session.state.lock().queue.push_back(outgoing(m));
    }

    fn puback(id: u16) -> Packet {
        Packet::PubAck(PubAck {
            packet_id: id,
            reason: ReasonCode::SUCCESS,
            properties: Properties::new(),
        })
    }

    #[test]
    fn queued_messages_are_encoded_with_fresh_packet_ids() {
        let (hub, s) = session(FakeHub::default(), connect(ProtocolVersion::V311, "c"));
        let mut out = s.outbound();
        queue(&s, &message("t", b"x", QoS::AtMostOnce));
        queue(&s, &message("t", b"y", QoS::AtLeastOnce));
        let bytes = [
            0x30, 0x04, 0x00, 0x01, b't', b'x', // PUBLISH QoS 0, topic "t", "x"
            0x32, 0x06, 0x00, 0x01, b't', 0x00, 0x01, b'y', // QoS 1, packet id 1, "y"
        ];
        assert_eq!(written(&mut out, Instant::now()), bytes);
        assert_eq!(hub.stats.messages_sent.load(Ordering::Relaxed), 2);
        assert_eq!(s.session.state.lock().inflight.len(), 1);
        assert!(written(&mut out, Instant::now()).is_empty());
    }

    #[test]
    fn the_in_flight_window_holds_messages_until_acked() {
        let mut hub = FakeHub::default();
        hub.config.max_inflight_messages = 1;
        let (_, mut s) = session(hub, connect(ProtocolVersion::V311, "c"));
        let mut out = s.outbound();
        let m = message("t", b"", QoS::AtLeastOnce);
        queue(&s, &m);
        queue(&s, &m);
        let now = Instant::now();
        assert_eq!(
            written(&mut out, now),
            [0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x01]
        );
        assert!(written(&mut out, now).is_empty(), "window of 1 is full");
        // An ack for an id not in flight changes nothing.
        s.handle(puback(9), now);
        assert!(written(&mut out, now).is_empty());
        s.handle(puback(1), now);
        assert_eq!(
            written(&mut out, now),
            [0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x02]
        );
    }

    #[test]
    fn qos2_goes_publish_pubrec_pubrel_pubcomp() {
        let (_, mut s) = session(FakeHub::default(), connect(ProtocolVersion::V5, "c"));
        let mut out = s.outbound();
        queue(&s, &message("t", b"", QoS::ExactlyOnce));
        let now = Instant::now();
        // PUBLISH QoS 2, packet id 1, property length 0.
        assert_eq!(
            written(&mut out, now),
            [0x34, 0x06, 0x00, 0x01, b't', 0x00, 0x01, 0x00]
        );
        let rec = |id| {
            Packet::PubRec(PubRec {
                packet_id: id,
                reason: ReasonCode::SUCCESS,
                properties: Properties::new(),
            })
        };
        s.handle(rec(1), now);
        assert_eq!(written(&mut out, now), [0x62, 0x02, 0x00, 0x01]);
        // A PUBREC for nothing we sent: PUBREL 0x92 (5.0 §3.6.2.1).
        s.handle(rec(4), now);
        assert_eq!(written(&mut out, now), [0x62, 0x03, 0x00, 0x04, 0x92]);
        s.handle(
            Packet::PubComp(PubComp {
                packet_id: 1,
                reason: ReasonCode::SUCCESS,
                properties: Properties::new(),
            }),
            now,
        );
        assert!(s.session.state.lock().inflight.is_empty());
    }

    #[test]
    fn a_resumed_session_resends_with_dup_in_order() {
        let (hub, s) = session(FakeHub::default(), connect(ProtocolVersion::V311, "c"));
        let mut old = s.outbound();
        queue(&s, &message("t", b"1", QoS::AtLeastOnce));
        queue(&s, &message("t", b"2", QoS::ExactlyOnce));
        let now = Instant::now();
        assert_eq!(written(&mut old, now).len(), 16);
        let mut c = connect(ProtocolVersion::V311, "c");
        c.clean_start = false;
        let resumed = open(&hub, c);
        replies(&resumed);
        // 3.1.1 §4.4: unacknowledged PUBLISH packets again, DUP set (0x08), same ids.
        let bytes = [
            0x3A, 0x06, 0x00, 0x01, b't', 0x00, 0x01, b'1', // QoS 1, DUP, id 1
            0x3C, 0x06, 0x00, 0x01, b't', 0x00, 0x02, b'2', // QoS 2, DUP, id 2
        ];
        assert_eq!(written(&mut resumed.outbound(), now), bytes);
        // The old connection's writer sends nothing more from the session.
        queue(&s, &message("t", b"3", QoS::AtMostOnce));
        assert!(written(&mut old, now).is_empty());
    }

    #[test]
    fn topic_aliases_towards_the_client_up_to_its_maximum() {
        let mut c = connect(ProtocolVersion::V5, "c");
        c.properties
            .push(PropertyId::TopicAliasMaximum, PropertyValue::TwoByte(1));
        let (_, s) = session(FakeHub::default(), c);
        let mut out = s.outbound();
        for topic in ["a", "a", "b"] {
            queue(&s, &message(topic, b"x", QoS::AtMostOnce));
        }
        let bytes = [
            // topic "a", properties (3): Topic Alias 1, payload "x"
            0x30, 0x08, 0x00, 0x01, b'a', 0x03, 0x23, 0x00, 0x01, b'x',
            // empty topic, Topic Alias 1
            0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, b'x',
            // no alias left: topic "b" in full, no properties
            0x30, 0x05, 0x00, 0x01, b'b', 0x00, b'x',
        ];
        assert_eq!(written(&mut out, Instant::now()), bytes);
    }

    #[test]
    fn messages_too_large_for_the_client_are_dropped_as_if_delivered() {
        let mut c = connect(ProtocolVersion::V5, "c");
        c.properties
            .push(PropertyId::MaximumPacketSize, PropertyValue::FourByte(10));
        let (hub, s) = session(FakeHub::default(), c);
        let mut out = s.outbound();
        queue(&s, &message("t", b"0123456789", QoS::AtLeastOnce));
        queue(&s, &message("t", b"", QoS::AtMostOnce));
        assert_eq!(
            written(&mut out, Instant::now()),
            [0x30, 0x04, 0x00, 0x01, b't', 0x00]
        );
        assert!(s.session.state.lock().inflight.is_empty());
        assert_eq!(hub.stats.messages_sent.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn expiry_counts_down_and_expired_messages_are_not_sent() {
        let (_, s) = session(FakeHub::default(), connect(ProtocolVersion::V5, "c"));
        let mut out = s.outbound();
        let t0 = Instant::now();
        let m = Arc::new(Message {
            expires: Some(t0 + Duration::from_secs(10)),
            ..Arc::into_inner(message("t", b"", QoS::AtMostOnce)).expect("one owner")
        });
        queue(&s, &m);
        queue(&s, &m);
        // 7.5 s left: sent as 8 (rounded up), property 0x02 Message Expiry Interval.
        let bytes = [0x30, 0x09, 0x00, 0x01, b't', 0x05, 0x02, 0, 0, 0, 8];
        let mut buf = BytesMut::new();
        out.fill(&mut buf, t0 + Duration::from_millis(2500), false);
        assert_eq!(buf[..bytes.len()], bytes);
        assert_eq!(buf.len(), bytes.len() * 2);
        queue(&s, &m);
        assert!(written(&mut out, t0 + Duration::from_secs(10)).is_empty());
        assert!(s.session.state.lock().queue.is_empty());
    }

    #[test]
    fn a_closing_writer_sends_only_its_control_queue() {
        let (_, s) = session(FakeHub::default(), connect(ProtocolVersion::V311, "c"));
        let mut out = s.outbound();
        queue(&s, &message("t", b"", QoS::AtLeastOnce));
        s.ctl.send(Packet::PingResp);
        let mut buf = BytesMut::new();
        out.fill(&mut buf, Instant::now(), true);
        assert_eq!(buf[..], [0xD0, 0x00]);
        assert_eq!(s.session.state.lock().queue.len(), 1);
        // The control queue's memory went with its packets (idle connections stay small).
        assert_eq!(s.ctl.control.lock().capacity(), 0);
    }
}
