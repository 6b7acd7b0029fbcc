//! PUBLISH (3.1.1 §3.3, 5.0 §3.3): application messages in both directions.

use bytes::Bytes;

use crate::codec::{Properties, QoS};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// May be empty in v5 when a topic alias stands for it.
    pub topic: String,
    /// 0 for QoS 0 (absent on the wire); never 0 for QoS 1 and 2.
    pub packet_id: u16,
    pub properties: Properties,
    /// Shares the receive buffer: no copy on the hot path.
    pub payload: Bytes,
}
