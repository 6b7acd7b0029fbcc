//! The client session state machine, free of I/O: packet identifiers, the in-flight
//! window, the QoS 1 and QoS 2 handshakes of outgoing messages, what to resend after
//! a reconnection, and keepalive deadlines. The engine feeds it packets and clock
//! readings and does what it answers; tests drive it without sockets.

use std::collections::HashMap;
use std::time::{Duration, Instant};

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
#[derive(Clone, Debug)]
pub struct Outgoing<M> {
    pub qos: QoS,
    pub stage: Stage,
    /// What the engine needs to send it again (the payload, or where to re-read it).
    pub msg: M,
    /// Send order, so that a resend keeps the original order (5.0 §4.6).
    seq: u64,
}

/// A QoS 1/2 message whose handshake ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Completed<M> {
    pub packet_id: u16,
    pub msg: M,
    /// The broker's reason code (3.x: always success).
    pub reason: ReasonCode,
}

impl<M> Completed<M> {
    /// Success codes are below 0x80 (5.0 §2.4); 0x10 "No matching subscribers" is one.
    pub fn succeeded(&self) -> bool {
        self.reason.0 < 0x80
    }
}

/// What to do after a PUBREC.
#[derive(Debug, PartialEq, Eq)]
pub enum PubRecOutcome<M> {
    /// Send PUBREL with this packet id (5.0 §4.3.3).
    Release(u16),
    /// The broker refused the message (reason ≥ 0x80): the handshake ends here, no
    /// PUBREL (5.0 §4.3.3, "the sender … MUST NOT send a PUBREL").
    Refused(Completed<M>),
}

/// What to resend after reconnecting (5.0 §4.4: unacknowledged PUBLISH with DUP,
/// and PUBREL for messages the broker already received).
#[derive(Debug, PartialEq, Eq)]
pub enum Resend {
    Publish(u16),
    PubRel(u16),
}

/// What the keepalive clock asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Tick {
    Nothing,
    /// Nothing sent for a keepalive interval: send PINGREQ (3.1.1 §3.1.2.10).
    SendPing,
    /// PINGREQ unanswered for a keepalive interval: the connection is dead
    /// (3.1.1 §3.1.2.10, "close the Network Connection").
    TimedOut,
}

/// A broker acknowledgement that matches nothing we sent.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("{packet} for unknown packet identifier {packet_id}")]
    UnknownPacketId {
        packet: &'static str,
        packet_id: u16,
    },
}

/// The outgoing side of a client session. `M` is the engine's message handle.
#[derive(Debug)]
pub struct State<M> {
    inflight: HashMap<u16, Outgoing<M>>,
    /// How many QoS 1/2 messages may be unacknowledged at once: `-M`, capped by the
    /// broker's Receive Maximum (5.0 §3.2.2.3.3, §4.9).
    window: u16,
    last_pid: u16,
    next_seq: u64,
    keep_alive: Option<Duration>,
    last_sent: Instant,
    ping_sent: Option<Instant>,
}

impl<M> State<M> {
    /// `window` ≥ 1; `keep_alive` seconds, 0 for none.
    pub fn new(window: u16, keep_alive: u16, now: Instant) -> State<M> {
        State {
            inflight: HashMap::new(),
            window: window.max(1),
            last_pid: 0,
            next_seq: 0,
            keep_alive: (keep_alive > 0).then(|| Duration::from_secs(u64::from(keep_alive))),
            last_sent: now,
            ping_sent: None,
        }
    }

    pub fn window(&self) -> u16 {
        self.window
    }

    /// Applies a new window (e.g. the broker's Receive Maximum after CONNACK).
    pub fn set_window(&mut self, window: u16) {
        self.window = window.max(1);
    }

    /// Applies a server keep alive (5.0 §3.2.2.3.14), which overrides ours.
    pub fn set_keep_alive(&mut self, secs: u16) {
        self.keep_alive = (secs > 0).then(|| Duration::from_secs(u64::from(secs)));
    }

    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Whether another QoS 1/2 message may be sent now.
    pub fn has_room(&self) -> bool {
        self.inflight.len() < usize::from(self.window)
    }

    /// Registers a QoS 1/2 PUBLISH about to be sent and returns its packet id, or
    /// `None` when the window is full. QoS 0 needs no state and no id.
    pub fn start_publish(&mut self, qos: QoS, msg: M) -> Option<u16> {
        if qos == QoS::AtMostOnce || !self.has_room() {
            return None;
        }
        // A free id exists: fewer than 65,535 are in use.
        let mut pid = self.last_pid;
        loop {
            pid = if pid == u16::MAX { 1 } else { pid + 1 };
            if !self.inflight.contains_key(&pid) {
                break;
            }
        }
        self.last_pid = pid;
        let stage = if qos == QoS::AtLeastOnce {
            Stage::AwaitPubAck
        } else {
            Stage::AwaitPubRec
        };
        self.inflight.insert(
            pid,
            Outgoing {
                qos,
                stage,
                msg,
                seq: self.next_seq,
            },
        );
        self.next_seq += 1;
        Some(pid)
    }

    fn expect(
        &mut self,
        packet: &'static str,
        packet_id: u16,
        stage: Stage,
    ) -> Result<&mut Outgoing<M>, StateError> {
        match self.inflight.get_mut(&packet_id) {
            Some(o) if o.stage == stage => Ok(o),
            _ => Err(StateError::UnknownPacketId { packet, packet_id }),
        }
    }

    fn finish(&mut self, packet_id: u16, reason: ReasonCode) -> Completed<M> {
        // Callers checked presence.
        let o = self.inflight.remove(&packet_id);
        Completed {
            packet_id,
            msg: o.map(|o| o.msg).expect("checked by expect()"),
            reason,
        }
    }

    /// PUBACK ends a QoS 1 handshake (5.0 §4.3.2).
    pub fn on_puback(
        &mut self,
        packet_id: u16,
        reason: ReasonCode,
    ) -> Result<Completed<M>, StateError> {
        self.expect("PUBACK", packet_id, Stage::AwaitPubAck)?;
        Ok(self.finish(packet_id, reason))
    }

    /// PUBREC: release with PUBREL, or end on a failure reason (5.0 §4.3.3).
    pub fn on_pubrec(
        &mut self,
        packet_id: u16,
        reason: ReasonCode,
    ) -> Result<PubRecOutcome<M>, StateError> {
        let o = self.expect("PUBREC", packet_id, Stage::AwaitPubRec)?;
        if reason.0 >= 0x80 {
            return Ok(PubRecOutcome::Refused(self.finish(packet_id, reason)));
        }
        o.stage = Stage::AwaitPubComp;
        Ok(PubRecOutcome::Release(packet_id))
    }

    /// PUBCOMP ends a QoS 2 handshake.
    pub fn on_pubcomp(
        &mut self,
        packet_id: u16,
        reason: ReasonCode,
    ) -> Result<Completed<M>, StateError> {
        self.expect("PUBCOMP", packet_id, Stage::AwaitPubComp)?;
        Ok(self.finish(packet_id, reason))
    }

    /// The message and stage of an in-flight packet id.
    pub fn get(&self, packet_id: u16) -> Option<&Outgoing<M>> {
        self.inflight.get(&packet_id)
    }

    /// What to send again after reconnecting, in the original order (5.0 §4.4). When
    /// the broker kept our session, messages it already received get PUBREL; when it
    /// did not (`session_present` false), it has forgotten them, so they are
    /// published again: a duplicate is better than a loss.
    pub fn reconnected(&mut self, session_present: bool, now: Instant) -> Vec<Resend> {
        self.ping_sent = None;
        self.last_sent = now;
        let mut all: Vec<(u64, u16)> = self.inflight.iter().map(|(p, o)| (o.seq, *p)).collect();
        all.sort_unstable();
        all.into_iter()
            .map(|(_, pid)| {
                let o = self.inflight.get_mut(&pid).expect("listed above");
                match o.stage {
                    Stage::AwaitPubComp if session_present => Resend::PubRel(pid),
                    Stage::AwaitPubComp => {
                        o.stage = Stage::AwaitPubRec;
                        Resend::Publish(pid)
                    }
                    _ => Resend::Publish(pid),
                }
            })
            .collect()
    }

    /// Everything still unacknowledged, e.g. to report what was lost.
    pub fn drain(&mut self) -> impl Iterator<Item = (u16, Outgoing<M>)> + '_ {
        self.inflight.drain()
    }

    /// Call after writing any packet: it resets the keepalive clock.
    pub fn on_sent(&mut self, now: Instant) {
        self.last_sent = now;
    }

    /// Call when a PINGREQ went out.
    pub fn on_ping_sent(&mut self, now: Instant) {
        self.ping_sent = Some(now);
        self.last_sent = now;
    }

    pub fn on_pingresp(&mut self) {
        self.ping_sent = None;
    }

    /// When `tick` next has something to say, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        let ka = self.keep_alive?;
        Some(match self.ping_sent {
            Some(at) => at + ka,
            None => self.last_sent + ka,
        })
    }

    pub fn tick(&self, now: Instant) -> Tick {
        match self.next_deadline() {
            Some(d) if now >= d => {
                if self.ping_sent.is_some() {
                    Tick::TimedOut
                } else {
                    Tick::SendPing
                }
            }
            _ => Tick::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(window: u16) -> (State<&'static str>, Instant) {
        let now = Instant::now();
        (State::new(window, 10, now), now)
    }

    #[test]
    fn qos1_handshake_frees_the_window() {
        let (mut s, _) = state(2);
        let a = s.start_publish(QoS::AtLeastOnce, "a").unwrap();
        let b = s.start_publish(QoS::AtLeastOnce, "b").unwrap();
        assert_eq!((a, b), (1, 2));
        assert!(!s.has_room());
        assert_eq!(s.start_publish(QoS::AtLeastOnce, "c"), None);
        let done = s.on_puback(1, ReasonCode::SUCCESS).unwrap();
        assert_eq!(done.msg, "a");
        assert!(done.succeeded());
        assert!(s.has_room());
        assert_eq!(s.in_flight(), 1);
    }

    #[test]
    fn qos0_takes_no_id() {
        let (mut s, _) = state(1);
        assert_eq!(s.start_publish(QoS::AtMostOnce, "x"), None);
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn no_matching_subscribers_is_success_and_0x80_is_not() {
        let (mut s, _) = state(5);
        s.start_publish(QoS::AtLeastOnce, "a");
        s.start_publish(QoS::AtLeastOnce, "b");
        assert!(
            s.on_puback(1, ReasonCode::NO_MATCHING_SUBSCRIBERS)
                .unwrap()
                .succeeded()
        );
        assert!(
            !s.on_puback(2, ReasonCode::NOT_AUTHORIZED)
                .unwrap()
                .succeeded()
        );
    }

    #[test]
    fn qos2_handshake() {
        let (mut s, _) = state(5);
        let pid = s.start_publish(QoS::ExactlyOnce, "m").unwrap();
        // PUBCOMP before PUBREC matches nothing.
        assert!(s.on_pubcomp(pid, ReasonCode::SUCCESS).is_err());
        assert_eq!(
            s.on_pubrec(pid, ReasonCode::SUCCESS).unwrap(),
            PubRecOutcome::Release(pid)
        );
        assert_eq!(s.get(pid).unwrap().stage, Stage::AwaitPubComp);
        // A second PUBREC for the same id is not expected any more.
        assert!(s.on_pubrec(pid, ReasonCode::SUCCESS).is_err());
        let done = s.on_pubcomp(pid, ReasonCode::SUCCESS).unwrap();
        assert_eq!(done.msg, "m");
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn qos2_refused_at_pubrec_ends_without_pubrel() {
        let (mut s, _) = state(5);
        let pid = s.start_publish(QoS::ExactlyOnce, "m").unwrap();
        match s.on_pubrec(pid, ReasonCode::QUOTA_EXCEEDED).unwrap() {
            PubRecOutcome::Refused(c) => assert!(!c.succeeded()),
            other => panic!("expected refusal, got {other:?}"),
        }
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn unknown_ids_are_errors() {
        let (mut s, _) = state(5);
        assert_eq!(
            s.on_puback(7, ReasonCode::SUCCESS).unwrap_err(),
            StateError::UnknownPacketId {
                packet: "PUBACK",
                packet_id: 7
            }
        );
        // A PUBACK for a QoS 2 message is not its handshake.
        let pid = s.start_publish(QoS::ExactlyOnce, "m").unwrap();
        assert!(s.on_puback(pid, ReasonCode::SUCCESS).is_err());
    }

    #[test]
    fn packet_ids_wrap_and_skip_ids_in_use() {
        let (mut s, _) = state(3);
        s.last_pid = u16::MAX - 1;
        assert_eq!(s.start_publish(QoS::AtLeastOnce, "a"), Some(u16::MAX));
        assert_eq!(s.start_publish(QoS::AtLeastOnce, "b"), Some(1));
        s.on_puback(u16::MAX, ReasonCode::SUCCESS).unwrap();
        s.last_pid = 0;
        // 1 is still in flight.
        assert_eq!(s.start_publish(QoS::AtLeastOnce, "c"), Some(2));
    }

    #[test]
    fn resend_keeps_order_and_uses_pubrel_when_session_kept() {
        let (mut s, now) = state(10);
        let a = s.start_publish(QoS::AtLeastOnce, "a").unwrap();
        let b = s.start_publish(QoS::ExactlyOnce, "b").unwrap();
        let c = s.start_publish(QoS::ExactlyOnce, "c").unwrap();
        s.on_pubrec(b, ReasonCode::SUCCESS).unwrap();
        assert_eq!(
            s.reconnected(true, now),
            [Resend::Publish(a), Resend::PubRel(b), Resend::Publish(c)]
        );
        // Session lost: b is published again and awaits PUBREC once more.
        assert_eq!(
            s.reconnected(false, now),
            [Resend::Publish(a), Resend::Publish(b), Resend::Publish(c)]
        );
        assert_eq!(s.get(b).unwrap().stage, Stage::AwaitPubRec);
    }

    #[test]
    fn keepalive_pings_then_times_out() {
        let (mut s, t0) = state(1);
        assert_eq!(s.tick(t0 + Duration::from_secs(9)), Tick::Nothing);
        let t10 = t0 + Duration::from_secs(10);
        assert_eq!(s.tick(t10), Tick::SendPing);
        s.on_ping_sent(t10);
        assert_eq!(s.tick(t10 + Duration::from_secs(5)), Tick::Nothing);
        assert_eq!(s.tick(t10 + Duration::from_secs(10)), Tick::TimedOut);
        s.on_pingresp();
        assert_eq!(s.tick(t10 + Duration::from_secs(10)), Tick::SendPing);
        // Sending anything postpones the next ping.
        s.on_sent(t10 + Duration::from_secs(10));
        assert_eq!(s.next_deadline(), Some(t10 + Duration::from_secs(20)));
    }

    #[test]
    fn keepalive_zero_never_fires() {
        let now = Instant::now();
        let s: State<()> = State::new(1, 0, now);
        assert_eq!(s.next_deadline(), None);
        assert_eq!(s.tick(now + Duration::from_secs(100_000)), Tick::Nothing);
    }
}
