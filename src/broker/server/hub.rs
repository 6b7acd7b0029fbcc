//! `Hub`: everything one connection asks of the rest of the broker — configuration,
//! counters, log lines, who may do what, the session registry, routing and
//! subscriptions. `Shared` implements it by delegating to its own methods; the server
//! session's unit tests give a fake that records what it was asked.
//!
//! Why a trait and not `Shared` itself: the decisions in `server` (what to answer, what
//! to refuse, when to close) are then tested with scripted answers (a refused login, a
//! denied topic, "no subscribers") and with the log lines captured, without building
//! password files or subscription trees. Every method is synchronous and holds its locks
//! only for the call, so a connection can call it between two packets.

use std::fmt;
use std::sync::Arc;

use crate::broker::config::Config;
use crate::broker::log::LogType;
use crate::broker::session::{ConnCtl, ConnLink, Message, Outgoing, Session};
use crate::broker::shared::{AuthResult, PendingWill, Shared, Stats};
use crate::codec::SubscriptionOptions;

/// Subscribers a publish left over their queue limit while they keep reading: the
/// publishing connection waits for them before it reads on (see `broker::mod`).
pub type Pressure = Vec<(Arc<Session>, Arc<ConnCtl>)>;

/// What a new connection asks of the session registry (`Hub::attach`).
#[derive(Debug)]
pub struct Attach<'a> {
    pub client_id: &'a Arc<str>,
    /// Clean session (3.x) / Clean Start (5.0): discard any existing session.
    pub clean_start: bool,
    /// The connection that now serves the session.
    pub link: ConnLink,
    /// For ACL read checks on delivery, also while the client is away.
    pub username: Option<Arc<str>>,
    /// Seconds the session outlives this connection; `u32::MAX` = forever.
    pub expiry: u32,
    /// The in-flight window for this connection (min of ours and the client's Receive
    /// Maximum).
    pub window: usize,
}

/// The session a connection now serves.
#[derive(Debug)]
pub struct Attached {
    pub session: Arc<Session>,
    /// An existing session was resumed (CONNACK Session Present, 3.1.1 §3.2.2.2).
    pub present: bool,
    /// The session's generation for this connection (`SessionState::generation`).
    pub generation: u64,
}

/// The rest of the broker, as one connection sees it.
pub trait Hub {
    fn config(&self) -> &Config;
    fn stats(&self) -> &Stats;
    /// Whether lines of this type are written, for lines costly to prepare.
    fn log_enabled(&self, t: LogType) -> bool;
    /// One log line (checked against `log_type` before it is formatted).
    fn log(&self, t: LogType, msg: fmt::Arguments<'_>);

    fn authenticate(
        &self,
        client_id: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> AuthResult;
    fn may_publish(&self, client_id: &str, username: Option<&str>, topic: &str) -> bool;
    fn may_subscribe(&self, client_id: &str, username: Option<&str>, filter: &str) -> bool;

    /// Attaches a connection to the session for its client id, taking it over from an
    /// older connection, or starting a fresh one.
    fn attach(&self, a: Attach<'_>) -> Attached;
    /// Whether `session` is still the one registered under its client id.
    fn is_registered(&self, session: &Arc<Session>) -> bool;
    /// Forgets a session and its subscriptions (if it is still the registered one).
    fn end_session(&self, session: &Arc<Session>);

    /// Routes a message to every matching session; returns how many matched.
    fn route(&self, msg: Arc<Message>, pressure: &mut Pressure) -> usize;
    /// Adds a subscription; returns the retained messages to send after SUBACK.
    fn subscribe(
        &self,
        session: &Arc<Session>,
        filter: &str,
        options: SubscriptionOptions,
        id: Option<u32>,
    ) -> Vec<Outgoing>;
    /// Queues messages for one session (the retained messages of a subscription).
    fn enqueue_all(&self, session: &Session, outs: Vec<Outgoing>);
    /// Removes a subscription; false when there was none for `filter`.
    fn unsubscribe(&self, session: &Session, filter: &str) -> bool;
    /// Publishes a will now (if its user may write its topic).
    fn publish_will(&self, client_id: &str, will: PendingWill);
}

impl Hub for Shared {
    fn config(&self) -> &Config {
        &self.config
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }

    #[inline]
    fn log_enabled(&self, t: LogType) -> bool {
        self.log.enabled(t)
    }

    #[inline]
    fn log(&self, t: LogType, msg: fmt::Arguments<'_>) {
        Shared::log(self, t, msg);
    }

    fn authenticate(
        &self,
        client_id: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> AuthResult {
        Shared::authenticate(self, client_id, username, password)
    }

    fn may_publish(&self, client_id: &str, username: Option<&str>, topic: &str) -> bool {
        Shared::may_publish(self, client_id, username, topic)
    }

    fn may_subscribe(&self, client_id: &str, username: Option<&str>, filter: &str) -> bool {
        Shared::may_subscribe(self, client_id, username, filter)
    }

    fn attach(&self, a: Attach<'_>) -> Attached {
        Shared::attach(self, a)
    }

    fn is_registered(&self, session: &Arc<Session>) -> bool {
        self.sessions
            .lock()
            .get(&session.client_id)
            .is_some_and(|s| Arc::ptr_eq(s, session))
    }

    fn end_session(&self, session: &Arc<Session>) {
        Shared::end_session(self, session);
    }

    #[inline]
    fn route(&self, msg: Arc<Message>, pressure: &mut Pressure) -> usize {
        self.publish_from(msg, pressure)
    }

    fn subscribe(
        &self,
        session: &Arc<Session>,
        filter: &str,
        options: SubscriptionOptions,
        id: Option<u32>,
    ) -> Vec<Outgoing> {
        Shared::subscribe(self, session, filter, options, id)
    }

    fn enqueue_all(&self, session: &Session, outs: Vec<Outgoing>) {
        Shared::enqueue_all(self, session, outs);
    }

    fn unsubscribe(&self, session: &Session, filter: &str) -> bool {
        Shared::unsubscribe(self, session, filter)
    }

    fn publish_will(&self, client_id: &str, will: PendingWill) {
        Shared::publish_will(self, client_id, will);
    }
}
