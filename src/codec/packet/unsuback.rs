//! UNSUBACK (3.1.1 §3.11, 5.0 §3.11).

use crate::codec::{Properties, ReasonCode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubAck {
    pub packet_id: u16,
    /// v5 only.
    pub properties: Properties,
    /// v5 only: one per filter. Empty for 3.x.
    pub reasons: Vec<ReasonCode>,
}
