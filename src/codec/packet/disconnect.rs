//! DISCONNECT (3.1.1 §3.14, 5.0 §3.14): sent by the client, and by the server in v5.

use crate::codec::{Properties, ReasonCode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disconnect {
    /// v5 only; 3.x decodes as normal disconnection (0x00).
    pub reason: ReasonCode,
    /// v5 only.
    pub properties: Properties,
}
