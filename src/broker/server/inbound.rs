//! Every packet after CONNECT (`ServerSession::handle`), except PUBLISH and PUBREL
//! (`publish`): the acks of outgoing QoS 1/2 messages, SUBSCRIBE, UNSUBSCRIBE, PINGREQ,
//! DISCONNECT, and the packets a client may not send.

use std::time::Instant;

use crate::broker::log::LogType;
use crate::broker::server::{End, Hub, ServerSession};
use crate::broker::session::{EndReason, OutState};
use crate::codec::{
    Disconnect, Packet, Properties, PropertyId, ProtocolVersion, PubRec, PubRel, ReasonCode,
    SubAck, Subscribe, UnsubAck, Unsubscribe,
};
use crate::topic;

impl<H: Hub> ServerSession<H> {
    /// Handles one packet from the client at `now`; `Some` ends the connection.
    pub fn handle(&mut self, p: Packet, now: Instant) -> Option<End> {
        match p {
            Packet::Publish(p) => self.on_publish(p, now),
            Packet::PubAck(a) => {
                self.log_debug(format_args!(
                    "Received PUBACK from {} (Mid: {}, RC:{})",
                    self.client_id, a.packet_id, a.reason.0
                ));
                self.complete(a.packet_id, OutState::AwaitPubAck);
                None
            }
            Packet::PubRec(r) => {
                self.log_debug(format_args!(
                    "Received PUBREC from {} (Mid: {})",
                    self.client_id, r.packet_id
                ));
                self.on_pubrec(r);
                None
            }
            Packet::PubComp(c) => {
                self.log_debug(format_args!(
                    "Received PUBCOMP from {} (Mid: {}, RC:{})",
                    self.client_id, c.packet_id, c.reason.0
                ));
                self.complete(c.packet_id, OutState::AwaitPubComp);
                None
            }
            Packet::PubRel(r) => {
                self.on_pubrel(r);
                None
            }
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => {
                self.on_unsubscribe(u);
                None
            }
            Packet::PingReq => {
                self.log_debug(format_args!("Received PINGREQ from {}", self.client_id));
                self.log_debug(format_args!("Sending PINGRESP to {}", self.client_id));
                self.ctl.send(Packet::PingResp);
                None
            }
            Packet::Disconnect(d) => Some(self.on_disconnect(d)),
            // A second CONNECT (3.1.1 §3.1.0-2, 5.0 §3.1.0-2), AUTH without an
            // authentication method (5.0 §4.12), or a packet only servers send.
            Packet::Connect(_)
            | Packet::Auth(_)
            | Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp => Some(End::Protocol(ReasonCode::PROTOCOL_ERROR)),
        }
    }

    fn on_disconnect(&mut self, d: Disconnect) -> End {
        self.log_debug(format_args!("Received DISCONNECT from {}", self.client_id));
        if !self.v5() {
            return End::Disconnect { will: false };
        }
        if let Some(exp) = d.properties.get_int(PropertyId::SessionExpiryInterval) {
            // 5.0 §3.14.2.2.2: a session that was to end at disconnect cannot be
            // given a lifetime now.
            if self.session_expiry == 0 && exp != 0 {
                return End::Protocol(ReasonCode::PROTOCOL_ERROR);
            }
            self.session_expiry = exp;
            let mut st = self.session.state.lock();
            if st.generation == self.generation {
                st.expiry_interval = exp;
            }
        }
        // 5.0 §3.14.4: only reason 0x00 discards the will.
        End::Disconnect {
            will: d.reason != ReasonCode::NORMAL_DISCONNECTION,
        }
    }

    /// PUBACK or PUBCOMP: the outgoing message's handshake is complete (3.1.1 §4.3.2,
    /// §4.3.3). An ack for nothing we sent is ignored.
    fn complete(&self, packet_id: u16, expect: OutState) {
        let mut st = self.session.state.lock();
        if let Some(i) = st
            .inflight
            .iter()
            .position(|f| f.packet_id == packet_id && f.state == expect)
        {
            st.inflight.remove(i);
            drop(st);
            // The window has room again.
            self.ctl.wake.notify_one();
        }
    }

    /// PUBREC: the client has the QoS 2 message; the writer sends PUBREL next.
    fn on_pubrec(&self, r: PubRec) {
        let mut st = self.session.state.lock();
        let pos = st
            .inflight
            .iter()
            .position(|f| f.packet_id == r.packet_id && f.state != OutState::AwaitPubAck);
        match pos {
            Some(i) if r.reason.is_error() => {
                // 5.0 §4.3.3: a failed PUBREC ends the exchange.
                st.inflight.remove(i);
                drop(st);
                self.ctl.wake.notify_one();
            }
            Some(i) => {
                st.inflight[i].state = OutState::AwaitPubComp;
                st.inflight[i].needs_send = true;
                drop(st);
                self.ctl.wake.notify_one();
            }
            None => {
                drop(st);
                // 5.0 §3.6.2.1: PUBREL 0x92 for an id we do not know; 3.x has no code.
                let reason = if self.v5() {
                    ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
                } else {
                    ReasonCode::SUCCESS
                };
                self.ctl.send(Packet::PubRel(PubRel {
                    packet_id: r.packet_id,
                    reason,
                    properties: Properties::new(),
                }));
            }
        }
    }

    fn on_subscribe(&mut self, s: Subscribe) -> Option<End> {
        if self.taken_over() {
            // Taken over: the session now belongs to the new connection (or was
            // discarded by its clean start); this one must not add to it.
            return Some(End::Kicked(EndReason::TakenOver));
        }
        self.log_debug(format_args!("Received SUBSCRIBE from {}", self.client_id));
        let sub_id = s
            .properties
            .get_int(PropertyId::SubscriptionIdentifier)
            .filter(|_| self.v5());
        if sub_id == Some(0) {
            // 5.0 §3.8.2.1.2: 0 is a protocol error.
            return Some(End::Protocol(ReasonCode::PROTOCOL_ERROR));
        }
        let mut reasons = Vec::with_capacity(s.filters.len());
        let mut retained = Vec::new();
        for f in &s.filters {
            match self.subscribe_one(f, sub_id, &mut retained) {
                Ok(reason) => reasons.push(reason),
                Err(end) => return Some(end),
            }
        }
        self.log_debug(format_args!("Sending SUBACK to {}", self.client_id));
        self.ctl.send(Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            properties: Properties::new(),
            reasons,
        }));
        // Retained messages after SUBACK: the writer sends control packets first.
        self.hub.enqueue_all(&self.session, retained);
        None
    }

    /// One filter of a SUBSCRIBE: its SUBACK reason code (5.0 §3.9.3), or the end of
    /// the connection. Retained messages it releases are added to `retained`.
    fn subscribe_one(
        &mut self,
        f: &crate::codec::SubscribeFilter,
        sub_id: Option<u32>,
        retained: &mut Vec<crate::broker::session::Outgoing>,
    ) -> Result<ReasonCode, End> {
        let v5 = self.v5();
        self.log_debug(format_args!("\t{} (QoS {})", f.filter, f.options.qos as u8));
        if topic::validate_filter(&f.filter).is_err() {
            if !v5 {
                // 3.x has no failure code for a malformed filter: mosquitto disconnects.
                return Err(End::Protocol(ReasonCode::TOPIC_FILTER_INVALID));
            }
            return Ok(ReasonCode::TOPIC_FILTER_INVALID);
        }
        if topic::parse_shared(&f.filter).is_some() && f.options.no_local {
            // 5.0 §3.8.3.1: No Local on a shared subscription is a protocol error.
            return Err(End::Protocol(ReasonCode::PROTOCOL_ERROR));
        }
        if !self
            .hub
            .may_subscribe(&self.client_id, self.username.as_deref(), &f.filter)
        {
            return Ok(if v5 {
                ReasonCode::NOT_AUTHORIZED
            } else {
                ReasonCode::UNSPECIFIED_ERROR
            });
        }
        self.hub.log(
            LogType::Subscribe,
            format_args!("{} {} {}", self.client_id, f.options.qos as u8, f.filter),
        );
        retained.extend(
            self.hub
                .subscribe(&self.session, &f.filter, f.options, sub_id),
        );
        Ok(ReasonCode(f.options.qos as u8))
    }

    fn on_unsubscribe(&mut self, u: Unsubscribe) {
        let hub = &self.hub;
        self.log_debug(format_args!("Received UNSUBSCRIBE from {}", self.client_id));
        let mut reasons = Vec::with_capacity(u.filters.len());
        for f in &u.filters {
            hub.log(LogType::Debug, format_args!("\t{f}"));
            hub.log(LogType::Unsubscribe, format_args!("{} {f}", self.client_id));
            let existed = hub.unsubscribe(&self.session, f);
            reasons.push(if existed {
                ReasonCode::SUCCESS
            } else {
                ReasonCode::NO_SUBSCRIPTION_EXISTED
            });
        }
        // 3.x UNSUBACK has no reason codes (3.1.1 §3.11).
        if self.version != ProtocolVersion::V5 {
            reasons.clear();
        }
        self.log_debug(format_args!("Sending UNSUBACK to {}", self.client_id));
        self.ctl.send(Packet::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            properties: Properties::new(),
            reasons,
        }));
    }
}
