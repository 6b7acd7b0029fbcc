//! Sessions: what the broker keeps per client id (subscriptions, the bounded outgoing
//! queue, QoS 1/2 state in both directions), and the link to the connection serving it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::codec::{Packet, Properties, ProtocolVersion, QoS, SubscriptionOptions};

/// An application message as the broker routes it. Shared (`Arc`) by every queue it
/// lands in, so fan-out copies a pointer, not the payload.
#[derive(Debug)]
pub struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    /// The retain flag as published (for retain-as-published, 5.0 §3.8.3.1).
    pub retain: bool,
    /// v5 properties forwarded unchanged (5.0 §3.3.2.3): payload format, content type,
    /// response topic, correlation data, user properties. Topic alias, message expiry and
    /// subscription ids are per delivery and so not kept here.
    pub properties: Properties,
    /// When the Message Expiry Interval runs out (5.0 §3.3.2.3.3).
    pub expires: Option<Instant>,
    /// The publishing client, for No Local (5.0 §3.8.3.1); `None` for wills and $SYS.
    pub origin: Option<Arc<str>>,
}

impl Message {
    pub fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

/// One message on its way to one session, with what the matching subscription decided.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub msg: Arc<Message>,
    /// min(published QoS, granted QoS) (5.0 §3.8.4).
    pub qos: QoS,
    /// The retain flag to send: set for retained messages sent on subscribe, else per
    /// retain-as-published.
    pub retain: bool,
    /// Subscription identifiers of every matching subscription (5.0 §3.3.4).
    pub sub_ids: Vec<u32>,
}

/// Where an outgoing QoS 1/2 message is in its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutState {
    /// QoS 1 PUBLISH sent, waiting for PUBACK.
    AwaitPubAck,
    /// QoS 2 PUBLISH sent, waiting for PUBREC.
    AwaitPubRec,
    /// PUBREL sent, waiting for PUBCOMP.
    AwaitPubComp,
}

#[derive(Debug)]
pub struct Inflight {
    pub packet_id: u16,
    pub out: Outgoing,
    pub state: OutState,
    /// Not yet (re)sent on the current connection: set for every entry when a session
    /// resumes, so that unacknowledged messages are resent with DUP (5.0 §4.4).
    pub needs_send: bool,
}

/// A subscription as its session remembers it (the trie holds the routing copy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubRecord {
    pub options: SubscriptionOptions,
    pub id: Option<u32>,
}

/// How a connection ended, for logs, wills and the v5 DISCONNECT the broker sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Another connection took the client id over (5.0 §3.1.4).
    TakenOver = 1,
    /// The broker is shutting down: no will is published (as mosquitto).
    Shutdown = 2,
    /// The writer could not write.
    WriteError = 3,
}

/// Shared between a connection's reader and writer, and with the router.
#[derive(Debug, Default)]
pub struct ConnCtl {
    /// Wakes the writer: messages queued, an ack opened the window, a control packet.
    pub wake: Notify,
    /// Wakes the reader so it ends the connection; `kick_reason` says why.
    pub kick: Notify,
    pub kick_reason: AtomicU8,
    /// The writer finished a write, or found the socket full: wakes readers waiting for
    /// this connection's queues to shrink.
    pub drained: Notify,
    /// Since when (`now_ms`) the writer has been waiting for the socket to take more
    /// bytes; 0 when it is not. Blocked for `STUCK_AFTER` means the client is not reading:
    /// publishers are then not held back for it and its excess messages are dropped.
    pub blocked_since: AtomicU64,
    /// Set by the reader when it is done; the writer flushes control packets and exits.
    pub closing: AtomicBool,
    /// Acks and other replies for this connection, written before queued messages. Per
    /// connection (not per session) so that a taken-over connection's DISCONNECT never
    /// reaches the new one.
    pub control: Mutex<VecDeque<Packet>>,
}

impl ConnCtl {
    /// Asks the connection to end. The first reason wins.
    pub fn kick(&self, reason: EndReason) {
        let _ =
            self.kick_reason
                .compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire);
        self.kick.notify_one();
    }

    pub fn kicked(&self) -> Option<EndReason> {
        match self.kick_reason.load(Ordering::Acquire) {
            1 => Some(EndReason::TakenOver),
            2 => Some(EndReason::Shutdown),
            3 => Some(EndReason::WriteError),
            _ => None,
        }
    }

    /// Queues a reply and wakes the writer.
    pub fn send(&self, p: Packet) {
        self.control.lock().push_back(p);
        self.wake.notify_one();
    }

    /// Whether the writer has been blocked on a full socket for `STUCK_AFTER` or more.
    pub fn stuck(&self) -> bool {
        let since = self.blocked_since.load(Ordering::Acquire);
        since != 0 && now_ms().saturating_sub(since) >= STUCK_AFTER.as_millis() as u64
    }

    /// Notes that a write found the socket full.
    pub fn set_blocked(&self) {
        if self.blocked_since.load(Ordering::Acquire) == 0 {
            self.blocked_since.store(now_ms(), Ordering::Release);
        }
    }

    pub fn close_writer(&self) {
        self.closing.store(true, Ordering::Release);
        self.wake.notify_one();
    }
}

/// The connection currently attached to a session.
#[derive(Debug)]
pub struct ConnLink {
    pub version: ProtocolVersion,
    pub ctl: Arc<ConnCtl>,
}

/// Everything mutable about a session, behind one short-held lock.
#[derive(Debug)]
pub struct SessionState {
    /// Filter (as subscribed, `$share/…` included) → options, for unsubscribe, resubscribe
    /// ("new subscription" for retain handling 1) and cleanup when the session ends.
    pub subs: HashMap<String, SubRecord>,
    /// Messages waiting for the in-flight window or for the client to come back; at most
    /// `max_queued_messages`.
    pub queue: Queue,
    /// Outgoing QoS 1/2 messages sent but not completed, in send order.
    pub inflight: VecDeque<Inflight>,
    pub next_packet_id: u16,
    /// Inbound QoS 2 packet ids between PUBLISH and PUBREL: duplicates are not routed
    /// again (exactly once, 5.0 §4.3.3 method B).
    pub inbound_qos2: HashSet<u16>,
    pub conn: Option<ConnLink>,
    /// User name of the latest connection: ACL read checks on delivery use it, also
    /// while the client is away (mosquitto keeps `context->username`).
    pub username: Option<Arc<str>>,
    /// Bumped on each new connection, so that timers and old connections that outlive
    /// their connection can tell they are stale.
    pub generation: u64,
    /// Seconds the session outlives its connection; `u32::MAX` = never expires.
    pub expiry_interval: u32,
    /// Messages dropped because the queue was full.
    pub dropped: u64,
    /// Drop mode: set when a message is dropped (or a publisher gave up waiting), cleared
    /// only when the writer has emptied the queue. While set, a full queue drops at once
    /// instead of slowing publishers, so a slow reader cannot throttle them again and
    /// again; and a flood logs one line, not one per message.
    pub dropping: bool,
    /// In-flight window for the current connection: min(max_inflight_messages, the
    /// client's Receive Maximum).
    pub window: usize,
}

/// One client id's session.
#[derive(Debug)]
pub struct Session {
    pub client_id: Arc<str>,
    pub state: Mutex<SessionState>,
}

/// What `Session::enqueue` did with a message.
#[derive(Clone, Debug)]
pub enum Enqueued {
    Queued,
    /// Offline and QoS 0: not kept (mosquitto's `queue_qos0_messages false`).
    Skipped,
    /// The queue was full; `first` is true for the first drop of a run, to log once.
    Dropped {
        first: bool,
    },
    /// Queued beyond `max_queued` while the client is keeping up (its writer is not
    /// blocked on the socket): the publisher should pause until this writer catches up,
    /// rather than have messages dropped only because the writer is behind on CPU.
    Backpressure(Arc<ConnCtl>),
}

/// How long a writer may wait on a full socket before its client counts as not reading.
pub const STUCK_AFTER: Duration = Duration::from_millis(100);

/// Milliseconds on a monotonic clock local to this process; never 0 (0 means "not
/// blocked" in `ConnCtl::blocked_since`).
pub fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// The most a queue may hold while publishers are being slowed down for it; beyond
/// this, messages are dropped even for a client that reads.
pub fn hard_limit(max_queued: usize) -> usize {
    max_queued.saturating_mul(2).saturating_add(8192)
}

impl Session {
    pub fn new(client_id: Arc<str>) -> Session {
        Session {
            client_id,
            state: Mutex::new(SessionState {
                subs: HashMap::new(),
                queue: Queue::default(),
                inflight: VecDeque::new(),
                next_packet_id: 1,
                inbound_qos2: HashSet::new(),
                conn: None,
                username: None,
                generation: 0,
                expiry_interval: 0,
                dropped: 0,
                dropping: false,
                window: 20,
            }),
        }
    }

    /// Queues a message without ever blocking: beyond `limits` it is dropped and
    /// counted, so a slow client cannot grow broker memory or stall the router. When
    /// the queue is full, QoS 0 goes first: a QoS 1/2 message takes the place of the
    /// oldest queued QoS 0 one, if there is one.
    pub fn enqueue(&self, out: Outgoing, limits: QueueLimits) -> Enqueued {
        let mut st = self.state.lock();
        if st.conn.is_none() && out.qos == QoS::AtMostOnce {
            return Enqueued::Skipped;
        }
        if limits.full(&st.queue) {
            if !st.dropping
                && !limits.hard_full(&st.queue)
                && let Some(c) = &st.conn
                && !c.ctl.stuck()
            {
                let ctl = Arc::clone(&c.ctl);
                st.queue.push_back(out);
                return Enqueued::Backpressure(ctl);
            }
            st.dropped += 1;
            let first = !st.dropping;
            st.dropping = true;
            if out.qos != QoS::AtMostOnce && st.queue.evict_qos0() {
                st.queue.push_back(out);
            }
            return Enqueued::Dropped { first };
        }
        let was_empty = st.queue.is_empty();
        st.queue.push_back(out);
        // The writer drains the whole queue (or stops at a full window, which only an ack
        // reopens, and acks wake it), so it needs a wake only when the queue was empty.
        if was_empty && let Some(c) = &st.conn {
            c.ctl.wake.notify_one();
        }
        Enqueued::Queued
    }
}

/// How much a session may queue: `max_queued_messages` and `max_queued_bytes` (of
/// payload), each 0 for no maximum, as in mosquitto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    pub messages: usize,
    pub bytes: usize,
}

impl QueueLimits {
    /// At or over either limit: new messages wait (backpressure) or are dropped.
    pub fn full(&self, q: &Queue) -> bool {
        (self.messages > 0 && q.len() >= self.messages) || (self.bytes > 0 && q.bytes >= self.bytes)
    }

    /// Over the bound that holds even while publishers are slowed down for a client
    /// that reads (`hard_limit`, and twice the byte limit).
    fn hard_full(&self, q: &Queue) -> bool {
        (self.messages > 0 && q.len() >= hard_limit(self.messages))
            || (self.bytes > 0 && q.bytes >= self.bytes.saturating_mul(2))
    }
}

/// A session's outgoing queue, which keeps count of its payload bytes and of its QoS 0
/// messages for the limits. Reads go through `Deref`; changes through its methods.
#[derive(Debug, Default)]
pub struct Queue {
    items: VecDeque<Outgoing>,
    /// Payload bytes queued.
    bytes: usize,
    /// QoS 0 messages queued.
    qos0: usize,
}

impl std::ops::Deref for Queue {
    type Target = VecDeque<Outgoing>;
    fn deref(&self) -> &VecDeque<Outgoing> {
        &self.items
    }
}

impl Queue {
    pub fn push_back(&mut self, out: Outgoing) {
        self.count(&out, true);
        self.items.push_back(out);
    }

    pub fn pop_front(&mut self) -> Option<Outgoing> {
        let out = self.items.pop_front()?;
        self.count(&out, false);
        Some(out)
    }

    pub fn extend(&mut self, outs: impl IntoIterator<Item = Outgoing>) {
        for out in outs {
            self.push_back(out);
        }
    }

    pub fn clear(&mut self) {
        *self = Queue::default();
    }

    /// Keeps only the messages `keep` says yes to.
    pub fn retain(&mut self, keep: impl FnMut(&Outgoing) -> bool) {
        let items = std::mem::take(&mut self.items);
        self.clear();
        self.extend(items.into_iter().filter(keep));
    }

    /// Payload bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Removes the oldest QoS 0 message; false when there is none.
    fn evict_qos0(&mut self) -> bool {
        if self.qos0 == 0 {
            return false;
        }
        let Some(i) = self.items.iter().position(|o| o.qos == QoS::AtMostOnce) else {
            return false;
        };
        let out = self.items.remove(i).expect("position is in range");
        self.count(&out, false);
        true
    }

    fn count(&mut self, out: &Outgoing, added: bool) {
        let n = out.msg.payload.len();
        let zero = usize::from(out.qos == QoS::AtMostOnce);
        if added {
            self.bytes += n;
            self.qos0 += zero;
        } else {
            self.bytes -= n;
            self.qos0 -= zero;
        }
    }
}

impl SessionState {
    /// The next free packet id for an outgoing QoS 1/2 message (never 0, 5.0 §2.2.1).
    pub fn alloc_packet_id(&mut self) -> u16 {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = self.next_packet_id.wrapping_add(1).max(1);
            if !self.inflight.iter().any(|f| f.packet_id == id) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(qos: QoS) -> Outgoing {
        Outgoing {
            msg: Arc::new(Message {
                topic: "t".into(),
                payload: Bytes::from_static(b"x"),
                qos,
                retain: false,
                properties: Properties::new(),
                expires: None,
                origin: None,
            }),
            qos,
            retain: false,
            sub_ids: Vec::new(),
        }
    }

    fn lim(messages: usize) -> QueueLimits {
        QueueLimits { messages, bytes: 0 }
    }

    fn online(s: &Session) -> Arc<ConnCtl> {
        let ctl = Arc::new(ConnCtl::default());
        s.state.lock().conn = Some(ConnLink {
            version: ProtocolVersion::V311,
            ctl: Arc::clone(&ctl),
        });
        ctl
    }

    #[test]
    fn offline_sessions_keep_only_qos_1_and_2() {
        let s = Session::new("c".into());
        assert!(matches!(
            s.enqueue(out(QoS::AtMostOnce), lim(10)),
            Enqueued::Skipped
        ));
        assert!(matches!(
            s.enqueue(out(QoS::AtLeastOnce), lim(10)),
            Enqueued::Queued
        ));
        assert_eq!(s.state.lock().queue.len(), 1);
    }

    #[test]
    fn full_queue_slows_publishers_while_the_client_reads_then_drops() {
        let s = Session::new("c".into());
        let ctl = online(&s);
        for _ in 0..3 {
            assert!(matches!(
                s.enqueue(out(QoS::AtMostOnce), lim(3)),
                Enqueued::Queued
            ));
        }
        // Over the limit, writer not blocked: queued, publisher asked to wait.
        assert!(matches!(
            s.enqueue(out(QoS::AtMostOnce), lim(3)),
            Enqueued::Backpressure(_)
        ));
        // Blocked on a full socket for long enough: dropped, the first one flagged.
        ctl.set_blocked();
        assert!(!ctl.stuck());
        std::thread::sleep(STUCK_AFTER + Duration::from_millis(5));
        assert!(ctl.stuck());
        assert!(matches!(
            s.enqueue(out(QoS::AtMostOnce), lim(3)),
            Enqueued::Dropped { first: true }
        ));
        assert!(matches!(
            s.enqueue(out(QoS::AtMostOnce), lim(3)),
            Enqueued::Dropped { first: false }
        ));
        // Drop mode holds even once the writer moves again, until the queue empties.
        ctl.blocked_since.store(0, Ordering::Release);
        assert!(matches!(
            s.enqueue(out(QoS::AtMostOnce), lim(3)),
            Enqueued::Dropped { first: false }
        ));
        assert_eq!(s.state.lock().dropped, 3);
        assert_eq!(s.state.lock().queue.len(), 4);
    }

    #[test]
    fn the_hard_limit_bounds_even_a_reading_client() {
        let s = Session::new("c".into());
        let _ctl = online(&s);
        let mut queued = 0;
        for _ in 0..hard_limit(2) + 10 {
            match s.enqueue(out(QoS::AtMostOnce), lim(2)) {
                Enqueued::Queued | Enqueued::Backpressure(_) => queued += 1,
                _ => {}
            }
        }
        assert_eq!(queued, hard_limit(2));
    }

    #[test]
    fn a_full_queue_drops_qos0_first_and_counts_bytes() {
        let s = Session::new("c".into());
        // Online (offline sessions keep no QoS 0) and in drop mode, so that a full
        // queue drops at once instead of asking publishers to wait.
        let _ctl = online(&s);
        s.state.lock().dropping = true;
        let limits = QueueLimits {
            messages: 0,
            bytes: 3,
        };
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::AtMostOnce] {
            assert!(matches!(s.enqueue(out(qos), limits), Enqueued::Queued));
        }
        assert_eq!(s.state.lock().queue.bytes(), 3);
        // Full: a QoS 1 message takes the oldest QoS 0 one's place...
        assert!(matches!(
            s.enqueue(out(QoS::AtLeastOnce), limits),
            Enqueued::Dropped { first: false }
        ));
        let qos: Vec<QoS> = s.state.lock().queue.iter().map(|o| o.qos).collect();
        assert_eq!(qos, [QoS::AtLeastOnce, QoS::AtMostOnce, QoS::AtLeastOnce]);
        // ...a QoS 0 message is dropped itself.
        assert!(matches!(
            s.enqueue(out(QoS::AtMostOnce), limits),
            Enqueued::Dropped { first: false }
        ));
        let mut st = s.state.lock();
        assert_eq!((st.queue.len(), st.queue.bytes(), st.dropped), (3, 3, 2));
        st.queue.pop_front();
        st.queue.retain(|o| o.qos == QoS::AtLeastOnce);
        assert_eq!((st.queue.len(), st.queue.bytes()), (1, 1));
    }

    #[test]
    fn packet_ids_skip_those_in_flight_and_zero() {
        let s = Session::new("c".into());
        let mut st = s.state.lock();
        st.next_packet_id = u16::MAX;
        assert_eq!(st.alloc_packet_id(), u16::MAX);
        st.inflight.push_back(Inflight {
            packet_id: 1,
            out: out(QoS::AtLeastOnce),
            state: OutState::AwaitPubAck,
            needs_send: false,
        });
        assert_eq!(st.alloc_packet_id(), 2);
    }
}
