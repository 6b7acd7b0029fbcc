//! How a connection ends. `ServerSession::close` logs why and queues the v5 DISCONNECT
//! (the caller then lets the writer flush); `ServerSession::detach` releases the session
//! and decides about the will and the session's lifetime, returning what must happen
//! later (`Later`) for the caller to schedule: the timers are the caller's, the
//! decisions, including the checks when a timer fires, are here.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::broker::log::LogType;
use crate::broker::server::{Hub, ServerSession};
use crate::broker::session::{EndReason, Session};
use crate::broker::shared::PendingWill;
use crate::codec::{self, Disconnect, Packet, Properties, QoS, ReasonCode};

/// How a connection ended.
#[derive(Debug)]
pub enum End {
    /// DISCONNECT from the client; `will` for v5 reason codes other than 0x00 (§3.14.4).
    Disconnect { will: bool },
    /// The client closed the socket (or it failed) without DISCONNECT.
    Closed,
    /// Nothing received for 1.5 × keep alive (3.1.1 §3.1.2.10, 5.0 §3.1.2.10).
    KeepAlive,
    /// A protocol violation; v5 clients get DISCONNECT with this reason first
    /// (5.0 §4.13.2).
    Protocol(ReasonCode),
    /// The codec refused the bytes; v5 clients get DISCONNECT with its reason first.
    Malformed(codec::Error),
    /// Ended from outside: a take-over, the broker's shutdown, a failed write.
    Kicked(EndReason),
}

/// What `End` means: the log line, the reason code for a v5 DISCONNECT, and whether
/// the will is published.
struct Verdict {
    line: String,
    v5_reason: Option<ReasonCode>,
    publish_will: bool,
}

impl End {
    fn verdict(&self, id: &str) -> Verdict {
        let (line, v5_reason, publish_will) = match self {
            End::Disconnect { will } => (format!("Client {id} disconnected."), None, *will),
            End::Closed => (format!("Client {id} closed its connection."), None, true),
            End::KeepAlive => (
                format!("Client {id} has exceeded timeout, disconnecting."),
                Some(ReasonCode::KEEP_ALIVE_TIMEOUT),
                true,
            ),
            End::Protocol(rc) => (
                format!("Client {id} disconnected due to protocol error."),
                Some(*rc),
                true,
            ),
            End::Malformed(e) => (
                format!("Client {id} disconnected due to malformed packet ({e})."),
                Some(e.reason_code()),
                true,
            ),
            End::Kicked(EndReason::TakenOver) => (
                format!("Client {id} disconnected: session taken over."),
                Some(ReasonCode::SESSION_TAKEN_OVER),
                true,
            ),
            // As mosquitto: wills are not published when the broker itself stops.
            End::Kicked(EndReason::Shutdown) => (
                format!("Client {id} disconnected: broker shutting down."),
                Some(ReasonCode::SERVER_SHUTTING_DOWN),
                false,
            ),
            End::Kicked(EndReason::WriteError) => (
                format!("Socket error on client {id}, disconnecting."),
                None,
                true,
            ),
        };
        Verdict {
            line,
            v5_reason,
            publish_will,
        }
    }
}

/// Something to do once the connection is gone, after `after` (unless the broker
/// shuts down first): call `fire`.
pub struct Later<H> {
    pub after: Duration,
    hub: Arc<H>,
    session: Arc<Session>,
    /// The session's generation when its connection ended: a different one means the
    /// client came back, and the job is void.
    generation: u64,
    job: Job,
}

enum Job {
    /// A delayed will (5.0 §3.1.3.2.2).
    Will(PendingWill),
    /// The session's expiry (5.0 §3.1.2.11.2).
    Expire,
}

impl<H: Hub> Later<H> {
    /// Does the job, unless the client reconnected to its session meanwhile.
    pub fn fire(self) {
        let st = self.session.state.lock();
        let unchanged = st.generation == self.generation;
        let offline = st.conn.is_none();
        drop(st);
        match self.job {
            Job::Will(will) if unchanged => {
                self.hub.publish_will(&self.session.client_id, will);
            }
            Job::Expire if unchanged && offline => {
                self.hub.log(
                    LogType::Notice,
                    format_args!("Expiring client {}.", self.session.client_id),
                );
                self.hub.end_session(&self.session);
            }
            _ => {}
        }
    }
}

impl<H: Hub> ServerSession<H> {
    /// Starts ending the connection: logs why, queues a v5 DISCONNECT with the reason
    /// (5.0 §4.13), forgets the will if it must not be published, and tells the writer
    /// to flush its control queue and stop.
    pub fn close(&mut self, end: &End) {
        let v = end.verdict(&self.client_id);
        if self.hub.config().connection_messages {
            self.hub.log(LogType::Notice, format_args!("{}", v.line));
        }
        if self.v5()
            && let Some(reason) = v.v5_reason
        {
            self.ctl.send(Packet::Disconnect(Disconnect {
                reason,
                properties: Properties::new(),
            }));
        }
        if !v.publish_will {
            self.will = None;
        }
        self.ctl.close_writer();
    }

    /// Finishes, once the writer is done: detaches from the session (unless a newer
    /// connection already took it over), ends it if it expires now, and publishes the
    /// will or says when to. Returns the jobs for later, in the order to start them.
    pub fn detach(mut self) -> Vec<Later<H>> {
        self.hub.stats().connected.fetch_sub(1, Ordering::Relaxed);
        let (current, expiry) = self.release();
        let session_ends_now = current && expiry == 0;
        if session_ends_now {
            self.hub.end_session(&self.session);
        }
        let mut later = Vec::new();
        if let Some(will) = self.will.take() {
            later.extend(self.dispatch_will(*will, current, session_ends_now, expiry));
        }
        if current && !session_ends_now && expiry != u32::MAX {
            later.push(self.later(expiry, Job::Expire));
        }
        self.hub
            .stats()
            .sessions_detached
            .fetch_add(1, Ordering::Release);
        later
    }

    /// Unlinks the connection from its session if it is still the current one; returns
    /// whether it was, and the session's expiry interval.
    fn release(&self) -> (bool, u32) {
        let mut st = self.session.state.lock();
        if st.generation != self.generation {
            return (false, st.expiry_interval);
        }
        st.conn = None;
        for f in st.inflight.iter_mut() {
            f.needs_send = true;
        }
        // Offline sessions keep QoS 1 and 2 only (mosquitto's default
        // `queue_qos0_messages false`), including what was queued before.
        st.queue.retain(|o| o.qos != QoS::AtMostOnce);
        (true, st.expiry_interval)
    }

    /// Publishes the will now, or returns the job that publishes it later.
    fn dispatch_will(
        &self,
        will: PendingWill,
        current: bool,
        session_ended: bool,
        expiry: u32,
    ) -> Option<Later<H>> {
        if will.delay == 0 || session_ended {
            self.hub.publish_will(&self.client_id, will);
            return None;
        }
        if !current {
            // Taken over: the will waits only if the session lives on (§3.1.3.2.2); a
            // clean start ended this session, so the will goes now.
            if !self.hub.is_registered(&self.session) {
                self.hub.publish_will(&self.client_id, will);
            }
            return None;
        }
        // 5.0 §3.1.3.2.2: publish after the delay or at session end, whichever is first,
        // unless the client reconnects to the session before.
        let wait = will.delay.min(expiry);
        Some(self.later(wait, Job::Will(will)))
    }

    fn later(&self, secs: u32, job: Job) -> Later<H> {
        Later {
            after: Duration::from_secs(u64::from(secs)),
            hub: Arc::clone(&self.hub),
            session: Arc::clone(&self.session),
            generation: self.generation,
            job,
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::broker::server::fake::{FakeHub, connect, message, open, outgoing, replies};
    use crate::codec::{Connect, PropertyId, PropertyValue, ProtocolVersion, Will};

    fn with_will(mut c: Connect, delay: u32) -> Connect {
        let mut properties = Properties::new();
        if delay > 0 {
            properties.push(
                PropertyId::WillDelayInterval,
                PropertyValue::FourByte(delay),
            );
        }
        c.will = Some(Will {
            topic: "will".into(),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtMostOnce,
            retain: false,
            properties,
        });
        c
    }

    fn v5_expiring(secs: u32) -> Connect {
        let mut c = connect(ProtocolVersion::V5, "c");
        c.properties.push(
            PropertyId::SessionExpiryInterval,
            PropertyValue::FourByte(secs),
        );
        c
    }

    #[test]
    fn close_logs_and_tells_v5_clients_why() {
        let hub = Arc::new(FakeHub::default());
        let mut s = open(&hub, connect(ProtocolVersion::V5, "c"));
        replies(&s);
        s.close(&End::KeepAlive);
        let disconnect = Disconnect {
            reason: ReasonCode::KEEP_ALIVE_TIMEOUT,
            properties: Properties::new(),
        };
        assert_eq!(replies(&s), [Packet::Disconnect(disconnect)]);
        assert!(s.ctl.closing.load(Ordering::Acquire));
        assert_eq!(
            hub.lines_of(LogType::Notice).last().map(String::as_str),
            Some("Client c has exceeded timeout, disconnecting.")
        );
        // 3.x has no DISCONNECT from the server.
        let mut s = open(&hub, connect(ProtocolVersion::V311, "d"));
        replies(&s);
        s.close(&End::Protocol(ReasonCode::PROTOCOL_ERROR));
        assert!(replies(&s).is_empty());
    }

    #[test]
    fn a_lost_connection_publishes_its_will_and_ends_a_clean_session() {
        let hub = Arc::new(FakeHub::default());
        let mut s = open(&hub, with_will(connect(ProtocolVersion::V311, "c"), 0));
        s.close(&End::Closed);
        assert!(s.detach().is_empty());
        assert_eq!(*hub.wills.lock(), ["will"]);
        assert_eq!(hub.ended.lock().len(), 1);
        assert_eq!(hub.stats.connected.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn no_will_after_a_clean_disconnect_or_a_shutdown() {
        let hub = Arc::new(FakeHub::default());
        for end in [
            End::Disconnect { will: false },
            End::Kicked(EndReason::Shutdown),
        ] {
            let mut s = open(&hub, with_will(connect(ProtocolVersion::V311, "c"), 0));
            s.close(&end);
            s.detach();
        }
        assert!(hub.wills.lock().is_empty());
    }

    #[test]
    fn a_delayed_will_waits_and_is_void_if_the_client_returns() {
        let hub = Arc::new(FakeHub::default());
        let mut s = open(&hub, with_will(v5_expiring(100), 30));
        s.close(&End::Closed);
        let mut later = s.detach();
        // 5.0 §3.1.3.2.2: after the delay (or the session's end, if sooner); the
        // session's own expiry is the second job.
        assert_eq!(later.len(), 2);
        assert_eq!(later[0].after, Duration::from_secs(30));
        assert_eq!(later[1].after, Duration::from_secs(100));
        assert!(hub.wills.lock().is_empty());
        let mut c = v5_expiring(100);
        c.clean_start = false;
        let _back = open(&hub, c);
        later.remove(0).fire();
        later.remove(0).fire();
        assert!(hub.wills.lock().is_empty());
        assert!(hub.ended.lock().is_empty());
    }

    #[test]
    fn a_delayed_will_fires_when_nobody_came_back() {
        let hub = Arc::new(FakeHub::default());
        let mut s = open(&hub, with_will(v5_expiring(10), 30));
        s.close(&End::Closed);
        let later = s.detach();
        assert_eq!(later[0].after, Duration::from_secs(10));
        for job in later {
            job.fire();
        }
        assert_eq!(*hub.wills.lock(), ["will"]);
        assert_eq!(hub.ended.lock().len(), 1);
        assert_eq!(
            hub.lines_of(LogType::Notice).last().map(String::as_str),
            Some("Expiring client c.")
        );
    }

    #[test]
    fn a_3x_persistent_session_never_expires_and_keeps_qos1_only() {
        let hub = Arc::new(FakeHub::default());
        let mut c = connect(ProtocolVersion::V311, "c");
        c.clean_start = false;
        let mut s = open(&hub, c);
        let session = Arc::clone(&s.session);
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            let m = message("t", b"", qos);
            session.state.lock().queue.push_back(outgoing(&m));
        }
        s.close(&End::Closed);
        assert!(s.detach().is_empty());
        assert!(hub.ended.lock().is_empty());
        let st = session.state.lock();
        assert!(st.conn.is_none());
        assert_eq!(st.queue.len(), 1);
        assert_eq!(st.queue[0].qos, QoS::AtLeastOnce);
    }

    #[test]
    fn a_taken_over_connection_leaves_the_session_to_the_new_one() {
        let hub = Arc::new(FakeHub::default());
        let mut c = connect(ProtocolVersion::V311, "c");
        c.clean_start = false;
        let mut old = open(&hub, c.clone());
        let new = open(&hub, c);
        old.close(&End::Kicked(EndReason::TakenOver));
        assert!(old.detach().is_empty());
        let st = new.session.state.lock();
        assert!(st.conn.is_some(), "still attached to the new connection");
        assert!(hub.ended.lock().is_empty());
    }
}
