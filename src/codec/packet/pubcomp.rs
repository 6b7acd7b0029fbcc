//! PUBCOMP (3.1.1 §3.7, 5.0 §3.7): a step of the QoS 1/2 handshake.

use crate::codec::{Properties, ReasonCode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PubComp {
    pub packet_id: u16,
    /// v5 only; 3.x has none (decoded as success).
    pub reason: ReasonCode,
    /// v5 only.
    pub properties: Properties,
}
