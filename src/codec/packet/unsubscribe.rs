//! UNSUBSCRIBE (3.1.1 §3.10, 5.0 §3.10).

use crate::codec::Properties;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: u16,
    /// v5 only.
    pub properties: Properties,
    pub filters: Vec<String>,
}
