//! AUTH (5.0 §3.15): extended authentication exchange, MQTT 5.0 only.

use crate::codec::{Properties, ReasonCode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    pub reason: ReasonCode,
    pub properties: Properties,
}
