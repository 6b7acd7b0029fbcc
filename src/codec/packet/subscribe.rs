//! SUBSCRIBE (3.1.1 §3.8, 5.0 §3.8) and the v5 subscription options.

use crate::codec::{Properties, QoS};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: u16,
    /// v5 only (subscription identifier, user properties).
    pub properties: Properties,
    /// At least one (3.1.1 §3.8.3-3).
    pub filters: Vec<SubscribeFilter>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeFilter {
    pub filter: String,
    pub options: SubscriptionOptions,
}

/// The subscription options byte (5.0 §3.8.3.1). 3.x carries only `qos`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SubscriptionOptions {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

/// When retained messages are sent on subscribe (5.0 §3.8.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RetainHandling {
    #[default]
    SendAtSubscribe = 0,
    SendIfNewSubscription = 1,
    DoNotSend = 2,
}
