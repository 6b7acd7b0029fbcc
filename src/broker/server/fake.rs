//! Test support for `server`: a `Hub` that records what the server session asks of it
//! and answers from a script (a login result, denied topics, how many subscribers a
//! message reaches, retained messages), plus builders for packets and sessions. No
//! router, no password file, no sockets, no clock: tests pass the `Instant`s.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

use crate::broker::config::Config;
use crate::broker::log::LogType;
use crate::broker::server::hub::{Attach, Attached, Hub, Pressure};
use crate::broker::server::{Opening, ServerSession, connect};
use crate::broker::session::{EndReason, Message, Outgoing, Session};
use crate::broker::shared::{AuthResult, PendingWill, Stats};
use crate::codec::{
    Connect, Packet, Properties, ProtocolVersion, Publish, QoS, SubscribeFilter,
    SubscriptionOptions,
};

pub struct FakeHub {
    pub config: Config,
    pub stats: Stats,
    /// The answer to every login.
    pub login: AuthResult,
    /// Topics and filters the ACL refuses (exact match).
    pub denied: Vec<&'static str>,
    /// How many sessions `route` says a message reached.
    pub matches: AtomicUsize,
    /// What `subscribe` returns as retained messages for every filter.
    pub retained: Vec<Arc<Message>>,
    /// Every log line, with its type.
    pub lines: Mutex<Vec<(LogType, String)>>,
    pub sessions: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    pub routed: Mutex<Vec<Arc<Message>>>,
    pub subscribed: Mutex<Vec<(String, SubscriptionOptions, Option<u32>)>>,
    pub unsubscribed: Mutex<Vec<String>>,
    /// Topics of the wills published, in order.
    pub wills: Mutex<Vec<String>>,
    pub ended: Mutex<Vec<Arc<str>>>,
}

impl Default for FakeHub {
    fn default() -> FakeHub {
        FakeHub {
            config: Config::default(),
            stats: Stats::default(),
            login: AuthResult::Allowed,
            denied: Vec::new(),
            matches: AtomicUsize::new(1),
            retained: Vec::new(),
            lines: Mutex::new(Vec::new()),
            sessions: Mutex::new(HashMap::new()),
            routed: Mutex::new(Vec::new()),
            subscribed: Mutex::new(Vec::new()),
            unsubscribed: Mutex::new(Vec::new()),
            wills: Mutex::new(Vec::new()),
            ended: Mutex::new(Vec::new()),
        }
    }
}

impl FakeHub {
    /// The log lines of type `t`, in order.
    pub fn lines_of(&self, t: LogType) -> Vec<String> {
        let lines = self.lines.lock();
        lines
            .iter()
            .filter(|(k, _)| *k == t)
            .map(|(_, l)| l.clone())
            .collect()
    }
}

impl Hub for FakeHub {
    fn config(&self) -> &Config {
        &self.config
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }

    fn log_enabled(&self, _t: LogType) -> bool {
        true
    }

    fn log(&self, t: LogType, msg: fmt::Arguments<'_>) {
        self.lines.lock().push((t, msg.to_string()));
    }

    fn authenticate(&self, _: &str, _: Option<&str>, _: Option<&[u8]>) -> AuthResult {
        self.login
    }

    fn may_publish(&self, _: &str, _: Option<&str>, topic: &str) -> bool {
        !self.denied.contains(&topic)
    }

    fn may_subscribe(&self, _: &str, _: Option<&str>, filter: &str) -> bool {
        !self.denied.contains(&filter)
    }

    /// The registry rules without the subscription tree: resume unless clean start,
    /// kick the older connection.
    fn attach(&self, a: Attach<'_>) -> Attached {
        let mut map = self.sessions.lock();
        let existing = map.get(a.client_id).cloned();
        if let Some(s) = &existing
            && let Some(old) = &s.state.lock().conn
        {
            old.ctl.kick(EndReason::TakenOver);
        }
        let (session, present) = match existing {
            Some(s) if !a.clean_start => (s, true),
            _ => {
                let s = Arc::new(Session::new(Arc::clone(a.client_id)));
                map.insert(Arc::clone(a.client_id), Arc::clone(&s));
                (s, false)
            }
        };
        let mut st = session.state.lock();
        st.generation += 1;
        st.conn = Some(a.link);
        st.expiry_interval = a.expiry;
        st.window = a.window;
        for f in st.inflight.iter_mut() {
            f.needs_send = true;
        }
        let generation = st.generation;
        drop(st);
        Attached {
            session,
            present,
            generation,
        }
    }

    fn is_registered(&self, session: &Arc<Session>) -> bool {
        self.sessions
            .lock()
            .get(&session.client_id)
            .is_some_and(|s| Arc::ptr_eq(s, session))
    }

    fn end_session(&self, session: &Arc<Session>) {
        self.ended.lock().push(Arc::clone(&session.client_id));
        self.sessions.lock().remove(&session.client_id);
    }

    fn route(&self, msg: Arc<Message>, _pressure: &mut Pressure) -> usize {
        self.routed.lock().push(msg);
        self.matches.load(Ordering::Relaxed)
    }

    fn subscribe(
        &self,
        _session: &Arc<Session>,
        filter: &str,
        options: SubscriptionOptions,
        id: Option<u32>,
    ) -> Vec<Outgoing> {
        self.subscribed
            .lock()
            .push((filter.to_string(), options, id));
        self.retained
            .iter()
            .map(|m| Outgoing {
                msg: Arc::clone(m),
                qos: m.qos.min(options.qos),
                retain: true,
                sub_ids: id.into_iter().collect(),
            })
            .collect()
    }

    fn enqueue_all(&self, session: &Session, outs: Vec<Outgoing>) {
        session.state.lock().queue.extend(outs);
    }

    /// "Existed" for every filter the session subscribed to through this hub.
    fn unsubscribe(&self, _session: &Session, filter: &str) -> bool {
        self.unsubscribed.lock().push(filter.to_string());
        self.subscribed.lock().iter().any(|(f, _, _)| f == filter)
    }

    fn publish_will(&self, _client_id: &str, will: PendingWill) {
        self.wills.lock().push(will.msg.topic);
    }
}

/// A CONNECT with clean start and keep alive 60.
pub fn connect(version: ProtocolVersion, client_id: &str) -> Connect {
    Connect {
        version,
        clean_start: true,
        keep_alive: 60,
        properties: Properties::new(),
        client_id: client_id.into(),
        will: None,
        username: None,
        password: None,
    }
}

/// Opens a session, expecting CONNECT to be accepted.
pub fn open(hub: &Arc<FakeHub>, c: Connect) -> ServerSession<FakeHub> {
    match connect::open(hub, Ok(Packet::Connect(c)), "peer") {
        Opening::Accepted(s) => s,
        Opening::Refused { reply } => panic!("refused: {reply:?}"),
    }
}

/// The bytes of a refusal; panics on acceptance.
pub fn refused(o: Opening<FakeHub>) -> Option<Vec<u8>> {
    match o {
        Opening::Accepted(_) => panic!("accepted"),
        Opening::Refused { reply } => reply.map(|b| b.to_vec()),
    }
}

/// Takes the replies the session queued for the writer.
pub fn replies(s: &ServerSession<FakeHub>) -> Vec<Packet> {
    s.ctl.control.lock().drain(..).collect()
}

/// What the writer would write now.
pub fn written(out: &mut crate::broker::server::Outbound<FakeHub>, now: Instant) -> Vec<u8> {
    let mut buf = BytesMut::new();
    out.fill(&mut buf, now, false);
    buf.to_vec()
}

pub fn publish(qos: QoS, packet_id: u16, topic: &str, payload: &'static [u8]) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.into(),
        packet_id,
        properties: Properties::new(),
        payload: Bytes::from_static(payload),
    })
}

/// A message as routing would queue it.
pub fn message(topic: &str, payload: &'static [u8], qos: QoS) -> Arc<Message> {
    Arc::new(Message {
        topic: topic.into(),
        payload: Bytes::from_static(payload),
        qos,
        retain: false,
        properties: Properties::new(),
        expires: None,
        origin: None,
    })
}

pub fn outgoing(msg: &Arc<Message>) -> Outgoing {
    Outgoing {
        msg: Arc::clone(msg),
        qos: msg.qos,
        retain: false,
        sub_ids: Vec::new(),
    }
}

pub fn filter(f: &str, qos: QoS) -> SubscribeFilter {
    SubscribeFilter {
        filter: f.into(),
        options: SubscriptionOptions {
            qos,
            ..SubscriptionOptions::default()
        },
    }
}
