//! The outgoing half of a client session, free of I/O: packet identifiers, the
//! in-flight window (count and bytes), where each unacknowledged QoS 1/2 message is
//! in its handshake, and what to send again after a reconnection, in order.

use std::collections::HashMap;

use crate::codec::{QoS, ReasonCode};

/// Where an outgoing QoS 1/2 message is in its handshake (5.0 §4.3.2, §4.3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// QoS 1: PUBLISH sent, waiting for PUBACK.
    AwaitPubAck,
    /// QoS 2: PUBLISH sent, waiting for PUBREC.
    AwaitPubRec,
    /// QoS 2: PUBREL sent, waiting for PUBCOMP.
    AwaitPubComp,
}

/// One unacknowledged message.
#[derive(Debug)]
struct Entry<M> {
    stage: Stage,
    msg: M,
    /// Payload bytes, for the byte budget.
    len: usize,
    /// Send order, so that a resend keeps the original order (5.0 §4.6).
    seq: u64,
}

/// What to send again after reconnecting (5.0 §4.4: unacknowledged PUBLISH with DUP,
/// and PUBREL for messages the broker already received).
#[derive(Debug, PartialEq, Eq)]
pub enum Resend {
    Publish(u16),
    PubRel(u16),
}

/// What an acknowledgement did.
#[derive(Debug, PartialEq, Eq)]
pub enum Acked<M> {
    /// The handshake ended: success when the reason is below 0x80 (5.0 §2.4; 0x10 "No
    /// matching subscribers" is one).
    Done(M, ReasonCode),
    /// PUBREC with success: answer with PUBREL (5.0 §4.3.3).
    Release,
    /// Nothing we sent has this packet id (or not at this stage).
    Unknown,
}

/// The outgoing side. `M` is the caller's message, kept until acknowledged so that it
/// can be sent again.
#[derive(Debug)]
pub struct Outbound<M> {
    inflight: HashMap<u16, Entry<M>>,
    /// SUBSCRIBE and UNSUBSCRIBE ids awaiting their ack: they share the id space.
    requests: Vec<u16>,
    /// How many QoS 1/2 messages may be unacknowledged at once: the caller's limit,
    /// capped by the broker's Receive Maximum (5.0 §3.2.2.3.3, §4.9).
    window: u16,
    /// Payload bytes that may be unacknowledged at once.
    max_bytes: usize,
    bytes: usize,
    last_pid: u16,
    next_seq: u64,
}

impl<M> Outbound<M> {
    /// `window` ≥ 1 (0 is taken as 1); `max_bytes` bounds unacknowledged payload.
    pub fn new(window: u16, max_bytes: usize) -> Outbound<M> {
        Outbound {
            inflight: HashMap::new(),
            requests: Vec::new(),
            window: window.max(1),
            max_bytes,
            bytes: 0,
            last_pid: 0,
            next_seq: 0,
        }
    }

    pub fn window(&self) -> u16 {
        self.window
    }

    pub fn set_window(&mut self, window: u16) {
        self.window = window.max(1);
    }

    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    pub fn in_flight_bytes(&self) -> usize {
        self.bytes
    }

    /// Whether another QoS 1/2 message may be sent now. One message always fits when
    /// nothing is in flight, however large.
    pub fn has_room(&self) -> bool {
        self.inflight.len() < usize::from(self.window)
            && (self.bytes < self.max_bytes || self.inflight.is_empty())
    }

    /// The next free packet id (never 0, never one in use). A free id exists: the
    /// window is at most 65,535 and requests are few.
    pub fn next_id(&mut self) -> u16 {
        let mut pid = self.last_pid;
        loop {
            pid = if pid == u16::MAX { 1 } else { pid + 1 };
            if !self.inflight.contains_key(&pid) && !self.requests.contains(&pid) {
                self.last_pid = pid;
                return pid;
            }
        }
    }

    /// Registers a QoS 1/2 message under a fresh packet id, or gives it back when the
    /// window is full.
    pub fn start(&mut self, qos: QoS, msg: M, len: usize) -> Result<u16, M> {
        if qos == QoS::AtMostOnce || !self.has_room() {
            return Err(msg);
        }
        let pid = self.next_id();
        let stage = if qos == QoS::AtLeastOnce {
            Stage::AwaitPubAck
        } else {
            Stage::AwaitPubRec
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += len;
        self.inflight.insert(
            pid,
            Entry {
                stage,
                msg,
                len,
                seq,
            },
        );
        Ok(pid)
    }

    /// Takes back a message registered by `start` that could not be sent after all.
    pub fn cancel(&mut self, pid: u16) -> Option<M> {
        let e = self.inflight.remove(&pid)?;
        self.bytes -= e.len;
        Some(e.msg)
    }

    /// Registers a SUBSCRIBE or UNSUBSCRIBE id, freed by `request_done`.
    pub fn start_request(&mut self) -> u16 {
        let pid = self.next_id();
        self.requests.push(pid);
        pid
    }

    /// SUBACK/UNSUBACK: whether the id was ours.
    pub fn request_done(&mut self, pid: u16) -> bool {
        let before = self.requests.len();
        self.requests.retain(|p| *p != pid);
        before != self.requests.len()
    }

    fn finish(&mut self, pid: u16, reason: ReasonCode) -> Acked<M> {
        match self.inflight.remove(&pid) {
            Some(e) => {
                self.bytes -= e.len;
                Acked::Done(e.msg, reason)
            }
            None => Acked::Unknown,
        }
    }

    fn at(&self, pid: u16, stage: Stage) -> bool {
        self.inflight.get(&pid).is_some_and(|e| e.stage == stage)
    }

    /// PUBACK ends a QoS 1 handshake (5.0 §4.3.2).
    pub fn on_puback(&mut self, pid: u16, reason: ReasonCode) -> Acked<M> {
        if !self.at(pid, Stage::AwaitPubAck) {
            return Acked::Unknown;
        }
        self.finish(pid, reason)
    }

    /// PUBREC: release with PUBREL, or end on a failure reason (5.0 §4.3.3, "the
    /// sender … MUST NOT send a PUBREL" after a PUBREC ≥ 0x80).
    pub fn on_pubrec(&mut self, pid: u16, reason: ReasonCode) -> Acked<M> {
        if !self.at(pid, Stage::AwaitPubRec) {
            return Acked::Unknown;
        }
        if reason.0 >= 0x80 {
            return self.finish(pid, reason);
        }
        if let Some(e) = self.inflight.get_mut(&pid) {
            e.stage = Stage::AwaitPubComp;
        }
        Acked::Release
    }

    /// PUBCOMP ends a QoS 2 handshake.
    pub fn on_pubcomp(&mut self, pid: u16, reason: ReasonCode) -> Acked<M> {
        if !self.at(pid, Stage::AwaitPubComp) {
            return Acked::Unknown;
        }
        self.finish(pid, reason)
    }

    /// The message of an in-flight packet id.
    pub fn get(&self, pid: u16) -> Option<&M> {
        self.inflight.get(&pid).map(|e| &e.msg)
    }

    /// What to send again after reconnecting, in the original order (5.0 §4.4). When
    /// the broker kept our session, messages it already received get PUBREL; when it
    /// did not (`session_present` false), it has forgotten them, so they are published
    /// again: a duplicate is better than a loss. Pending requests are forgotten (the
    /// caller subscribes again on the new connection).
    pub fn reconnected(&mut self, session_present: bool) -> Vec<Resend> {
        self.requests.clear();
        let mut all: Vec<(u64, u16)> = self.inflight.iter().map(|(p, e)| (e.seq, *p)).collect();
        all.sort_unstable();
        all.into_iter()
            .map(|(_, pid)| {
                let e = self.inflight.get_mut(&pid).expect("listed above");
                match e.stage {
                    Stage::AwaitPubComp if session_present => Resend::PubRel(pid),
                    Stage::AwaitPubComp => {
                        e.stage = Stage::AwaitPubRec;
                        Resend::Publish(pid)
                    }
                    _ => Resend::Publish(pid),
                }
            })
            .collect()
    }

    /// Everything still unacknowledged, e.g. to report what was lost.
    pub fn drain(&mut self) -> impl Iterator<Item = (u16, M)> + '_ {
        self.bytes = 0;
        self.inflight.drain().map(|(p, e)| (p, e.msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done<M>(a: Acked<M>) -> (M, ReasonCode) {
        match a {
            Acked::Done(m, r) => (m, r),
            Acked::Release => panic!("expected Done, got Release"),
            Acked::Unknown => panic!("expected Done, got Unknown"),
        }
    }

    #[test]
    fn qos1_handshake_frees_the_window() {
        let mut o = Outbound::new(2, usize::MAX);
        assert_eq!(o.start(QoS::AtLeastOnce, "a", 1), Ok(1));
        assert_eq!(o.start(QoS::AtLeastOnce, "b", 1), Ok(2));
        assert!(!o.has_room());
        assert_eq!(o.start(QoS::AtLeastOnce, "c", 1), Err("c"));
        assert_eq!(
            done(o.on_puback(1, ReasonCode::SUCCESS)),
            ("a", ReasonCode::SUCCESS)
        );
        assert!(o.has_room());
        assert_eq!(o.in_flight(), 1);
    }

    #[test]
    fn qos0_takes_no_id() {
        let mut o = Outbound::new(1, usize::MAX);
        assert_eq!(o.start(QoS::AtMostOnce, "x", 1), Err("x"));
        assert_eq!(o.in_flight(), 0);
    }

    #[test]
    fn byte_budget_limits_but_one_message_always_fits() {
        let mut o = Outbound::new(100, 10);
        assert_eq!(o.start(QoS::AtLeastOnce, "big", 50), Ok(1));
        assert!(
            !o.has_room(),
            "50 bytes in flight exceed the 10-byte budget"
        );
        assert_eq!(o.in_flight_bytes(), 50);
        done(o.on_puback(1, ReasonCode::SUCCESS));
        assert_eq!(o.in_flight_bytes(), 0);
        assert!(o.has_room());
    }

    #[test]
    fn qos2_handshake_and_refusal() {
        let mut o = Outbound::new(5, usize::MAX);
        let pid = o.start(QoS::ExactlyOnce, "m", 1).unwrap();
        // PUBCOMP before PUBREC matches nothing.
        assert_eq!(o.on_pubcomp(pid, ReasonCode::SUCCESS), Acked::Unknown);
        assert_eq!(o.on_pubrec(pid, ReasonCode::SUCCESS), Acked::Release);
        // A second PUBREC for the same id is not expected any more.
        assert_eq!(o.on_pubrec(pid, ReasonCode::SUCCESS), Acked::Unknown);
        assert_eq!(done(o.on_pubcomp(pid, ReasonCode::SUCCESS)).0, "m");
        let pid = o.start(QoS::ExactlyOnce, "n", 1).unwrap();
        assert_eq!(
            done(o.on_pubrec(pid, ReasonCode::QUOTA_EXCEEDED)),
            ("n", ReasonCode::QUOTA_EXCEEDED)
        );
        assert_eq!(o.in_flight(), 0);
    }

    #[test]
    fn a_puback_for_a_qos2_message_is_not_its_handshake() {
        let mut o = Outbound::new(5, usize::MAX);
        let pid = o.start(QoS::ExactlyOnce, "m", 1).unwrap();
        assert_eq!(o.on_puback(pid, ReasonCode::SUCCESS), Acked::Unknown);
        assert_eq!(o.on_puback(77, ReasonCode::SUCCESS), Acked::Unknown);
    }

    #[test]
    fn packet_ids_wrap_and_skip_ids_in_use() {
        let mut o = Outbound::new(3, usize::MAX);
        o.last_pid = u16::MAX - 1;
        assert_eq!(o.start(QoS::AtLeastOnce, "a", 1), Ok(u16::MAX));
        assert_eq!(o.start(QoS::AtLeastOnce, "b", 1), Ok(1));
        done(o.on_puback(u16::MAX, ReasonCode::SUCCESS));
        o.last_pid = 0;
        // 1 is still in flight; 2 is a pending SUBSCRIBE.
        assert_eq!(o.start_request(), 2);
        assert_eq!(o.start(QoS::AtLeastOnce, "c", 1), Ok(3));
        assert!(o.request_done(2));
        assert!(!o.request_done(2));
    }

    #[test]
    fn resend_keeps_order_and_uses_pubrel_when_session_kept() {
        let mut o = Outbound::new(10, usize::MAX);
        let a = o.start(QoS::AtLeastOnce, "a", 1).unwrap();
        let b = o.start(QoS::ExactlyOnce, "b", 1).unwrap();
        let c = o.start(QoS::ExactlyOnce, "c", 1).unwrap();
        o.on_pubrec(b, ReasonCode::SUCCESS);
        assert_eq!(
            o.reconnected(true),
            [Resend::Publish(a), Resend::PubRel(b), Resend::Publish(c)]
        );
        // Session lost: b is published again and awaits PUBREC once more.
        assert_eq!(
            o.reconnected(false),
            [Resend::Publish(a), Resend::Publish(b), Resend::Publish(c)]
        );
        assert_eq!(o.on_pubrec(b, ReasonCode::SUCCESS), Acked::Release);
    }
}
