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
    aliases: HashMap<String, u16>,
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
            aliases: HashMap::new(),
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
        let control: Vec<Packet> = self.ctl.control.lock().drain(..).collect();
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
            self.aliases.remove(&m.topic);
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
        if let Some(a) = self.aliases.get(topic.as_str()) {
            properties.push(PropertyId::TopicAlias, PropertyValue::TwoByte(*a));
            topic.clear();
            return false;
        }
        if self.aliases.len() >= usize::from(self.alias_max) {
            return false;
        }
        let a = self.aliases.len() as u16 + 1;
        self.aliases.insert(topic.clone(), a);
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
