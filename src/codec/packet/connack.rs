//! CONNACK (3.1.1 §3.2, 5.0 §3.2): the server's answer to CONNECT.

use crate::codec::Properties;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    /// 3.x connect return code (0–5) or v5 reason code (0x00, 0x80–0x9F).
    pub code: u8,
    /// v5 only.
    pub properties: Properties,
}
