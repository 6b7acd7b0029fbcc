//! The broker state every connection shares: sessions by client id, the subscription
//! tree, retained messages, counters, and the operations on them (publish, subscribe,
//! session start and end, wills). Locks are held briefly and never across I/O.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use crate::broker::auth::Auth;
use crate::broker::config::Config;
use crate::broker::log::{LogType, Logger};
use crate::broker::retained::Retained;
use crate::broker::router::{self, SubEntry, SubTree};
use crate::broker::server::hub::{Attach, Attached};
use crate::broker::session::{
    ConnCtl, EndReason, Enqueued, Message, Outgoing, QueueLimits, Session,
};
use crate::codec::{RetainHandling, SubscriptionOptions};

/// Counters for $SYS and tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub connected: AtomicUsize,
    pub messages_received: AtomicU64,
    pub messages_sent: AtomicU64,
    /// Messages dropped because a client's queue was full (mosquitto's
    /// `$SYS/broker/publish/messages/dropped`).
    pub dropped: AtomicU64,
    /// Subscriptions in the tree (lets tests wait until a client has subscribed).
    pub subscriptions: AtomicUsize,
    /// Connections whose end is fully handled: session released, will published or
    /// scheduled. Bumped after `connected` is lowered and the will is out, so a test
    /// that waits for it may check the will's effects at once.
    pub sessions_detached: AtomicU64,
}

/// A will waiting for its connection to end (3.1.1 §3.1.2.5, 5.0 §3.1.2.5).
#[derive(Debug)]
pub struct PendingWill {
    pub msg: Message,
    /// 5.0 Will Delay Interval, seconds (§3.1.3.2.2); 0 for 3.x.
    pub delay: u32,
    /// 5.0 Message Expiry Interval of the will, counted from publication.
    pub expiry: Option<u32>,
    /// Who set it: the will is published only if this user may write its topic.
    pub username: Option<Arc<str>>,
}

/// Result of an authentication check at CONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthResult {
    Allowed,
    /// Anonymous connections are not allowed (CONNACK 5 / 0x87).
    NotAuthorized,
    /// Wrong user name or password (CONNACK 4 / 0x86).
    BadCredentials,
}

pub struct Shared {
    pub config: Arc<Config>,
    pub log: Logger,
    pub sessions: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    pub subs: RwLock<SubTree>,
    pub retained: Mutex<Retained>,
    pub stats: Arc<Stats>,
    pub started: Instant,
    /// Becomes true when the broker shuts down; every task watches it.
    pub shutdown: watch::Receiver<bool>,
    /// password_file, acl_file, allow_anonymous (`broker::auth`); `run` loads the files.
    pub auth: Auth,
    /// Password checks running at once (one per core): a flood of logins queues here
    /// instead of starting a thread each.
    pub logins: tokio::sync::Semaphore,
}

/// Receive Maximum / in-flight window from config; mosquitto treats 0 as "no limit".
pub fn inflight_limit(cfg: &Config) -> usize {
    match cfg.max_inflight_messages {
        0 => 65535,
        n => usize::from(n),
    }
}

/// Per-client queue limits from config: `max_queued_messages` and `max_queued_bytes`,
/// where 0 means "no maximum" as in mosquitto (its documentation: "not recommended").
pub fn queue_limits(cfg: &Config) -> QueueLimits {
    QueueLimits {
        messages: cfg.max_queued_messages,
        bytes: cfg.max_queued_bytes,
    }
}

impl Shared {
    pub fn new(config: Arc<Config>, stats: Arc<Stats>, shutdown: watch::Receiver<bool>) -> Shared {
        Shared {
            log: Logger::new(&config.log),
            auth: Auth {
                allow_anonymous: config.allow_anonymous,
                ..Auth::default()
            },
            config,
            sessions: Mutex::new(HashMap::new()),
            subs: RwLock::new(SubTree::default()),
            retained: Mutex::new(Retained::default()),
            stats,
            started: Instant::now(),
            shutdown,
            logins: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
        }
    }

    pub fn log(&self, t: LogType, msg: std::fmt::Arguments<'_>) {
        self.log.log(t, msg);
    }

    /// The one place that decides whether a CONNECT's credentials are accepted. The
    /// password-file check (src/broker/auth.rs) plugs in here. Passwords are never logged.
    pub fn authenticate(
        &self,
        client_id: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> AuthResult {
        let _ = client_id;
        // mosquitto refuses every failed login with 5 / 0x87 (never 4 / 0x86),
        // whichever part was wrong. A password check is slow: `conn` runs CONNECTs on
        // the blocking pool when a password file is configured.
        let allowed = self.auth.login(username, password);
        if allowed {
            AuthResult::Allowed
        } else {
            AuthResult::NotAuthorized
        }
    }

    /// Attaches a new connection to the session for its client id. An older connection
    /// with the same id is told to close (3.1.1 §3.1.4-2, 5.0 §3.1.4-3: the new one takes
    /// over); its session is resumed, or discarded when the new connection asks for a
    /// clean start (3.1.1 §3.1.2.4, 5.0 §3.1.2.4). Unacknowledged messages are marked
    /// for resending on the new connection (5.0 §4.4).
    pub fn attach(&self, a: Attach<'_>) -> Attached {
        let mut replaced = None;
        let (session, present, generation) = {
            let mut map = self.sessions.lock();
            let existing = map.get(a.client_id).cloned();
            if let Some(s) = &existing
                && let Some(old) = &s.state.lock().conn
            {
                self.log(
                    LogType::Information,
                    format_args!(
                        "Client {} already connected, closing old connection.",
                        a.client_id
                    ),
                );
                old.ctl.kick(EndReason::TakenOver);
            }
            let (session, present) = match existing {
                Some(s) if !a.clean_start => (s, true),
                other => {
                    replaced = other;
                    let s = Arc::new(Session::new(Arc::clone(a.client_id)));
                    map.insert(Arc::clone(a.client_id), Arc::clone(&s));
                    (s, false)
                }
            };
            let mut st = session.state.lock();
            st.generation += 1;
            st.conn = Some(a.link);
            st.username = a.username;
            st.expiry_interval = a.expiry;
            st.window = a.window;
            st.dropping = false;
            for f in st.inflight.iter_mut() {
                f.needs_send = true;
            }
            let g = st.generation;
            drop(st);
            (session, present, g)
        };
        if let Some(old) = replaced {
            self.drop_subscriptions(&old);
        }
        Attached {
            session,
            present,
            generation,
        }
    }

    /// The one place that decides whether `client_id` may publish to `topic` (ACL hook).
    pub fn may_publish(&self, client_id: &str, username: Option<&str>, topic: &str) -> bool {
        self.auth.may_publish(client_id, username, topic)
    }

    /// The one place that decides whether `client_id` may subscribe to `filter` (ACL hook).
    pub fn may_subscribe(&self, client_id: &str, username: Option<&str>, filter: &str) -> bool {
        self.auth.may_subscribe(client_id, username, filter)
    }

    /// The one place that decides whether a message on `topic` may be delivered to
    /// `session` (ACL read access, checked per message as mosquitto does).
    pub fn may_read(&self, session: &Session, topic: &str) -> bool {
        if self.auth.acl.is_none() {
            return true;
        }
        let username = session.state.lock().username.clone();
        self.auth
            .may_read(&session.client_id, username.as_deref(), topic)
    }

    /// Routes one message: stores it if retained, then queues it for every matching
    /// session. Never blocks on a client. Returns how many sessions it matched.
    pub fn publish(&self, msg: Arc<Message>) -> usize {
        self.publish_from(msg, &mut Vec::new())
    }

    /// `publish`, collecting in `pressure` the connections whose queues are over their
    /// limit while they keep up: the publishing reader waits for them before reading on.
    pub fn publish_from(
        &self,
        msg: Arc<Message>,
        pressure: &mut Vec<(Arc<Session>, Arc<ConnCtl>)>,
    ) -> usize {
        if msg.retain {
            self.retained.lock().set(&msg);
        }
        let mut matches = Vec::new();
        self.subs.read().collect(&msg.topic, &mut matches);
        matches.retain(|m| self.may_read(&m.entry.session, &msg.topic));
        if matches.is_empty() {
            return 0;
        }
        let n = matches.len();
        let limits = queue_limits(&self.config);
        for (session, out) in router::deliveries(&msg, matches) {
            if let Some(ctl) = self.enqueue(&session, out, limits)
                && !pressure.iter().any(|(_, c)| Arc::ptr_eq(c, &ctl))
            {
                pressure.push((session, ctl));
            }
        }
        n
    }

    /// Queues one message; `Some` when the caller should wait for that connection.
    fn enqueue(
        &self,
        session: &Session,
        out: Outgoing,
        limits: QueueLimits,
    ) -> Option<Arc<ConnCtl>> {
        match session.enqueue(out, limits) {
            Enqueued::Dropped { first } => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                if first {
                    self.log(
                        LogType::Notice,
                        format_args!(
                            "Outgoing messages are being dropped for client {}.",
                            session.client_id
                        ),
                    );
                }
                None
            }
            Enqueued::Backpressure(ctl) => Some(ctl),
            Enqueued::Queued | Enqueued::Skipped => None,
        }
    }

    /// Adds a subscription, and returns the retained messages to send for it per the
    /// retain handling option (5.0 §3.8.3.1), none for shared subscriptions (§4.8.2). The
    /// caller queues them after SUBACK (`enqueue_all`).
    pub fn subscribe(
        &self,
        session: &Arc<Session>,
        filter: &str,
        options: SubscriptionOptions,
        id: Option<u32>,
    ) -> Vec<Outgoing> {
        let entry = SubEntry {
            session: Arc::clone(session),
            options,
            id,
        };
        let new = {
            let mut tree = self.subs.write();
            let new = tree.subscribe(filter, entry);
            self.stats
                .subscriptions
                .store(tree.len(), Ordering::Relaxed);
            new
        };
        session.state.lock().subs.insert(
            filter.to_string(),
            crate::broker::session::SubRecord { options, id },
        );
        let send = match options.retain_handling {
            RetainHandling::SendAtSubscribe => true,
            RetainHandling::SendIfNewSubscription => new,
            RetainHandling::DoNotSend => false,
        };
        if !send || crate::topic::parse_shared(filter).is_some() {
            return Vec::new();
        }
        let found = self.retained.lock().matching(filter, Instant::now());
        found
            .into_iter()
            .filter(|msg| self.may_read(session, &msg.topic))
            .map(|msg| Outgoing {
                qos: msg.qos.min(options.qos),
                // 3.1.1 §3.3.1.3 / 5.0 §3.3.1.3: retained messages sent because of a new
                // subscription carry the retain flag.
                retain: true,
                sub_ids: id.into_iter().collect(),
                msg,
            })
            .collect()
    }

    /// Queues messages for one session (retained messages after SUBACK).
    pub fn enqueue_all(&self, session: &Session, outs: Vec<Outgoing>) {
        for out in outs {
            let _ = self.enqueue(session, out, queue_limits(&self.config));
        }
    }

    /// Removes a subscription; false when the session had none for `filter`.
    pub fn unsubscribe(&self, session: &Session, filter: &str) -> bool {
        let removed = {
            let mut tree = self.subs.write();
            let removed = tree.unsubscribe(filter, &session.client_id);
            self.stats
                .subscriptions
                .store(tree.len(), Ordering::Relaxed);
            removed
        };
        session.state.lock().subs.remove(filter);
        removed
    }

    /// Ends a session: forgets it and its subscriptions. Only if it is still the one
    /// registered under its client id (a newer one may have replaced it).
    pub fn end_session(&self, session: &Arc<Session>) {
        {
            let mut map = self.sessions.lock();
            match map.get(&session.client_id) {
                Some(s) if Arc::ptr_eq(s, session) => {
                    map.remove(&session.client_id);
                }
                _ => {}
            }
        }
        self.drop_subscriptions(session);
    }

    /// Removes every subscription of `session` from the tree (its session has ended).
    pub fn drop_subscriptions(&self, session: &Session) {
        let filters: Vec<String> = {
            let mut st = session.state.lock();
            st.queue.clear();
            st.inflight.clear();
            st.subs.drain().map(|(f, _)| f).collect()
        };
        if filters.is_empty() {
            return;
        }
        let mut tree = self.subs.write();
        for f in filters {
            // Only this session's entry: the key is the client id, and a newer session
            // with the same id may already have subscribed again.
            tree.remove_if_session(&f, session);
        }
        self.stats
            .subscriptions
            .store(tree.len(), Ordering::Relaxed);
    }

    /// Publishes a will now.
    pub fn publish_will(&self, client_id: &str, will: PendingWill) {
        if !self.may_publish(client_id, will.username.as_deref(), &will.msg.topic) {
            self.log(
                LogType::Debug,
                format_args!("Denied will of client {client_id}."),
            );
            return;
        }
        self.log(
            LogType::Debug,
            format_args!("Publishing will of client {client_id}."),
        );
        let mut msg = will.msg;
        msg.expires = will
            .expiry
            .map(|s| Instant::now() + Duration::from_secs(u64::from(s)));
        self.publish(Arc::new(msg));
    }

    /// Asks every connection attached to a session to end, as the broker shuts down.
    /// Running connections wait on their kick rather than on the shutdown flag, which
    /// would cost each idle connection room for a watch future; one that attaches
    /// after this checks the flag before it starts.
    pub fn kick_all(&self, reason: EndReason) {
        let sessions: Vec<Arc<Session>> = self.sessions.lock().values().cloned().collect();
        for s in sessions {
            if let Some(c) = &s.state.lock().conn {
                c.ctl.kick(reason);
            }
        }
    }

    /// Whether the broker is shutting down.
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Sleeps `d`, or returns false early when the broker shuts down.
    pub async fn sleep_unless_shutdown(&self, d: Duration) -> bool {
        let mut rx = self.shutdown.clone();
        if *rx.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = rx.changed() => false,
        }
    }
}
