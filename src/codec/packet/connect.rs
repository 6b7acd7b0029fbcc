//! CONNECT (MQTT 3.1 §3.1, 3.1.1 §3.1, 5.0 §3.1): the first packet a client sends.

use bytes::Bytes;

use crate::codec::{Properties, ProtocolVersion, QoS};

/// A CONNECT packet. The protocol version is read from the packet itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    /// From the protocol name and level; decides how everything after CONNECT is coded.
    pub version: ProtocolVersion,
    /// "Clean session" in 3.x, "clean start" in 5.0.
    pub clean_start: bool,
    /// Seconds; 0 disables keepalive.
    pub keep_alive: u16,
    /// v5 CONNECT properties; always empty for 3.x.
    pub properties: Properties,
    /// May be empty (3.1.1 with clean session, or 5.0) for a server-assigned id.
    pub client_id: String,
    pub will: Option<Will>,
    pub username: Option<String>,
    /// Binary in MQTT; 3.1 and 3.1.1 allow a password only with a username.
    pub password: Option<Bytes>,
}

/// The last will carried in CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// v5 will properties (will delay interval, message expiry, …).
    pub properties: Properties,
}
