//! SUBACK (3.1.1 §3.9, 5.0 §3.9): one return/reason code per requested filter.

use crate::codec::{Properties, ReasonCode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck {
    pub packet_id: u16,
    /// v5 only.
    pub properties: Properties,
    /// Granted QoS 0/1/2, or a failure (0x80 in 3.x; any v5 error code).
    pub reasons: Vec<ReasonCode>,
}
