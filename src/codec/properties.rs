//! MQTT 5.0 properties (§2.2.2): one table of id, name, type, and the packets that allow each.

use bytes::Bytes;

/// Property identifiers (5.0 §2.2.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PropertyId {
    PayloadFormatIndicator = 0x01,
    MessageExpiryInterval = 0x02,
    ContentType = 0x03,
    ResponseTopic = 0x08,
    CorrelationData = 0x09,
    SubscriptionIdentifier = 0x0B,
    SessionExpiryInterval = 0x11,
    AssignedClientIdentifier = 0x12,
    ServerKeepAlive = 0x13,
    AuthenticationMethod = 0x15,
    AuthenticationData = 0x16,
    RequestProblemInformation = 0x17,
    WillDelayInterval = 0x18,
    RequestResponseInformation = 0x19,
    ResponseInformation = 0x1A,
    ServerReference = 0x1C,
    ReasonString = 0x1F,
    ReceiveMaximum = 0x21,
    TopicAliasMaximum = 0x22,
    TopicAlias = 0x23,
    MaximumQos = 0x24,
    RetainAvailable = 0x25,
    UserProperty = 0x26,
    MaximumPacketSize = 0x27,
    WildcardSubscriptionAvailable = 0x28,
    SubscriptionIdentifierAvailable = 0x29,
    SharedSubscriptionAvailable = 0x2A,
}

/// A property value, by the data type the table gives its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropertyValue {
    Byte(u8),
    TwoByte(u16),
    FourByte(u32),
    VarInt(u32),
    String(String),
    Binary(Bytes),
    Pair(String, String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub id: PropertyId,
    pub value: PropertyValue,
}

/// The properties of one packet, in wire order (order matters for byte-exact output
/// and for user properties, which may repeat).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Properties(pub Vec<Property>);

impl Properties {
    pub fn new() -> Properties {
        Properties(Vec::new())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first value with this id.
    pub fn get(&self, id: PropertyId) -> Option<&PropertyValue> {
        self.0.iter().find(|p| p.id == id).map(|p| &p.value)
    }

    /// A Byte, Two Byte, Four Byte or Variable Byte Integer property, widened.
    pub fn get_int(&self, id: PropertyId) -> Option<u32> {
        match self.get(id)? {
            PropertyValue::Byte(v) => Some(u32::from(*v)),
            PropertyValue::TwoByte(v) => Some(u32::from(*v)),
            PropertyValue::FourByte(v) | PropertyValue::VarInt(v) => Some(*v),
            _ => None,
        }
    }

    pub fn get_str(&self, id: PropertyId) -> Option<&str> {
        match self.get(id)? {
            PropertyValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn get_binary(&self, id: PropertyId) -> Option<&Bytes> {
        match self.get(id)? {
            PropertyValue::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// Appends, keeping any earlier value (for user properties and subscription ids).
    pub fn push(&mut self, id: PropertyId, value: PropertyValue) {
        self.0.push(Property { id, value });
    }

    /// Replaces every value with this id by one value, at the place of the first.
    pub fn set(&mut self, id: PropertyId, value: PropertyValue) {
        match self.0.iter().position(|p| p.id == id) {
            Some(i) => {
                self.0[i].value = value;
                let mut seen = 0;
                self.0.retain(|p| {
                    if p.id != id {
                        return true;
                    }
                    seen += 1;
                    seen == 1
                });
            }
            None => self.push(id, value),
        }
    }

    /// Removes every value with this id.
    pub fn remove(&mut self, id: PropertyId) {
        self.0.retain(|p| p.id != id);
    }

    /// User properties in order (5.0 §3.3.2.3.7: order must be kept).
    pub fn user_properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().filter_map(|p| match &p.value {
            PropertyValue::Pair(k, v) if p.id == PropertyId::UserProperty => {
                Some((k.as_str(), v.as_str()))
            }
            _ => None,
        })
    }

    /// Subscription identifiers in order (a PUBLISH may carry several).
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().filter_map(|p| match p.value {
            PropertyValue::VarInt(v) if p.id == PropertyId::SubscriptionIdentifier => Some(v),
            _ => None,
        })
    }
}
