//! The server side of one client connection, without I/O. Fed decoded packets and the
//! current time, it decides what the broker does: what to answer, what to route,
//! subscribe or refuse, and when and why the connection ends. The async loop in
//! `broker::conn` only moves bytes between the socket, the codec and this module, and
//! keeps the timers.
//!
//! - `connect`: the first packet. CONNECT checks, authentication, session take-over and
//!   CONNACK give a `ServerSession`, or a refusal to write before closing.
//! - `inbound` and `publish`: every packet after CONNECT (`ServerSession::handle`):
//!   PUBLISH with topic aliases, ACL checks and the QoS 1/2 flows, the acks of outgoing
//!   messages, SUBSCRIBE/UNSUBSCRIBE, PINGREQ, DISCONNECT.
//! - `outbound`: what the writer sends next (`Outbound::fill`): replies, then resends,
//!   then queued messages within the in-flight window, with outgoing topic aliases.
//! - `end`: how a connection ends (`End`): the log line, the v5 DISCONNECT, the will and
//!   the session's expiry (`ServerSession::close`, then `detach`).
//! - `hub`: `Hub`, what a connection asks of the rest of the broker (`Shared`
//!   implements it; the unit tests use a fake that records).
//!
//! Replies go to the connection's control queue (`ConnCtl::send`) rather than being
//! returned: the writer sends that queue before any queued message, which is what keeps
//! CONNACK first (5.0 §3.2) and SUBACK ahead of the retained messages it releases
//! (5.0 §3.8.4) even when routing wakes the writer in between. The queue is plain
//! memory; the tests read it.
//!
//! A connection that must end returns `Some(End)`; `End::Protocol(reason)` is "close,
//! telling a v5 client this reason code first", the outcome new protocol checks use.

pub mod connect;
pub mod end;
pub mod hub;
mod inbound;
pub mod outbound;
mod publish;

#[cfg(test)]
mod fake;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::broker::config::Config;
use crate::broker::log::LogType;
use crate::broker::session::{ConnCtl, Session};
use crate::broker::shared::PendingWill;
use crate::codec::{MAX_REMAINING_LENGTH, ProtocolVersion};

pub use connect::Opening;
pub use end::{End, Later};
pub use hub::{Hub, Pressure};
pub use outbound::Outbound;

/// Topic aliases the broker accepts from v5 clients (CONNACK Topic Alias Maximum).
pub const TOPIC_ALIAS_MAX: u16 = 10;

/// The largest packet accepted from clients: `max_packet_size`, or MQTT's own limit.
pub fn max_packet(config: &Config) -> usize {
    match config.max_packet_size {
        0 => MAX_REMAINING_LENGTH + 5,
        n => n as usize,
    }
}

/// One accepted connection's protocol state, from CONNACK to its end.
pub struct ServerSession<H> {
    hub: Arc<H>,
    /// The session (client id) this connection serves; it outlives the connection.
    session: Arc<Session>,
    /// This connection's side of the session: control queue, wake-ups, kick.
    ctl: Arc<ConnCtl>,
    /// `session`'s generation when this connection attached: a different one means a
    /// newer connection took the session over.
    generation: u64,
    version: ProtocolVersion,
    client_id: Arc<str>,
    /// For ACL checks on every PUBLISH and SUBSCRIBE.
    username: Option<String>,
    /// Keep Alive from CONNECT, seconds; 0 = none (3.1.1 §3.1.2.10, 5.0 §3.1.2.10).
    keep_alive: u16,
    /// Published when the connection ends without a clean DISCONNECT. Boxed: most
    /// connections have none, and an idle connection should not carry its room.
    will: Option<Box<PendingWill>>,
    /// Inbound topic aliases (5.0 §3.3.2.3.4): alias → topic, for this connection only.
    /// Boxed when first used: most clients use none, and an empty map takes 48 bytes.
    #[allow(
        clippy::box_collection,
        reason = "8 bytes while unused, not an empty map's 48"
    )]
    aliases: Option<Box<HashMap<u16, String>>>,
    /// v5 Session Expiry Interval from CONNECT, which DISCONNECT may change (§3.14.2.2.2).
    session_expiry: u32,
    /// The client's Maximum Packet Size and Topic Alias Maximum, for the writer.
    client_max_packet: usize,
    client_alias_max: u16,
    /// Subscribers' connections whose queues went over their limit while they keep up;
    /// the reader waits for them before reading more (see `Enqueued::Backpressure`).
    pressure: Pressure,
}

impl<H: Hub> ServerSession<H> {
    pub fn hub(&self) -> &Arc<H> {
        &self.hub
    }

    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    pub fn client_id(&self) -> &Arc<str> {
        &self.client_id
    }

    pub fn ctl(&self) -> &Arc<ConnCtl> {
        &self.ctl
    }

    /// The largest packet to accept from this client (for the codec's framing).
    pub fn max_packet(&self) -> usize {
        max_packet(self.hub.config())
    }

    /// How long the client may stay silent: 1.5 × its Keep Alive (3.1.1 §3.1.2.10,
    /// 5.0 §3.1.2.10); `None` when it asked for none. The caller's timer restarts
    /// whenever bytes arrive.
    pub fn keepalive_timeout(&self) -> Option<Duration> {
        match self.keep_alive {
            0 => None,
            k => Some(Duration::from_millis(u64::from(k) * 1500)),
        }
    }

    /// The subscribers the latest packets overfilled; the caller waits for them.
    pub fn take_pressure(&mut self) -> Pressure {
        std::mem::take(&mut self.pressure)
    }

    pub fn has_pressure(&self) -> bool {
        !self.pressure.is_empty()
    }

    /// The writer's half of this connection.
    pub fn outbound(&self) -> Outbound<H> {
        Outbound::new(self)
    }

    /// One `log_type debug` line. `Hub::log` checks the type before formatting, and
    /// `format_args!` formats nothing by itself, so callers need no guard.
    fn log_debug(&self, msg: std::fmt::Arguments<'_>) {
        self.hub.log(LogType::Debug, msg);
    }

    fn v5(&self) -> bool {
        self.version == ProtocolVersion::V5
    }

    /// Whether a newer connection has taken this one's session over.
    fn taken_over(&self) -> bool {
        self.session.state.lock().generation != self.generation
    }
}
