//! MQTT 5.0 properties (§2.2.2): one table of id, name, type, and the packets that allow each.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::Error;
use crate::codec::wire::{self, Reader};

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

/// The data type of a property value (5.0 §2.2.2.2, "Type" column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PropertyType {
    Byte,
    TwoByte,
    FourByte,
    VarInt,
    String,
    Binary,
    /// UTF-8 String Pair (user property).
    Pair,
}

/// Where a property list sits. The CONNECT will properties are their own context
/// (5.0 §3.1.3.2), separate from the CONNECT properties (§3.1.2.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PropertyContext {
    Connect,
    Will,
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

impl PropertyContext {
    const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The packet name used in errors.
    pub fn packet_name(self) -> &'static str {
        match self {
            PropertyContext::Connect | PropertyContext::Will => "CONNECT",
            PropertyContext::ConnAck => "CONNACK",
            PropertyContext::Publish => "PUBLISH",
            PropertyContext::PubAck => "PUBACK",
            PropertyContext::PubRec => "PUBREC",
            PropertyContext::PubRel => "PUBREL",
            PropertyContext::PubComp => "PUBCOMP",
            PropertyContext::Subscribe => "SUBSCRIBE",
            PropertyContext::SubAck => "SUBACK",
            PropertyContext::Unsubscribe => "UNSUBSCRIBE",
            PropertyContext::UnsubAck => "UNSUBACK",
            PropertyContext::Disconnect => "DISCONNECT",
            PropertyContext::Auth => "AUTH",
        }
    }
}

/// One row of the property table.
#[derive(Debug)]
pub struct PropertyInfo {
    pub id: PropertyId,
    /// mosquitto's name for `-D` / `--property` (e.g. `message-expiry-interval`).
    pub name: &'static str,
    pub data_type: PropertyType,
    /// Bitmask of [`PropertyContext`]s that allow it.
    allowed: u16,
    /// Contexts in which it may appear more than once.
    repeatable: u16,
}

const fn ctx(list: &[PropertyContext]) -> u16 {
    let mut m = 0;
    let mut i = 0;
    while i < list.len() {
        m |= list[i].bit();
        i += 1;
    }
    m
}

use PropertyContext as C;
use PropertyType as T;

const ALL: u16 = ctx(&[
    C::Connect,
    C::Will,
    C::ConnAck,
    C::Publish,
    C::PubAck,
    C::PubRec,
    C::PubRel,
    C::PubComp,
    C::Subscribe,
    C::SubAck,
    C::Unsubscribe,
    C::UnsubAck,
    C::Disconnect,
    C::Auth,
]);
const MSG: u16 = ctx(&[C::Publish, C::Will]);
const REASON_STRING: u16 = ctx(&[
    C::ConnAck,
    C::PubAck,
    C::PubRec,
    C::PubRel,
    C::PubComp,
    C::SubAck,
    C::UnsubAck,
    C::Disconnect,
    C::Auth,
]);

macro_rules! row {
    ($id:ident, $name:literal, $ty:ident, $allowed:expr) => {
        row!($id, $name, $ty, $allowed, 0)
    };
    ($id:ident, $name:literal, $ty:ident, $allowed:expr, $rep:expr) => {
        PropertyInfo {
            id: PropertyId::$id,
            name: $name,
            data_type: T::$ty,
            allowed: $allowed,
            repeatable: $rep,
        }
    };
}

/// Every MQTT 5.0 property: id, mosquitto name, type, the packets that allow it
/// (5.0 §2.2.2.2 table), and where it may repeat. Sorted by id.
pub static PROPERTY_TABLE: [PropertyInfo; 27] = [
    row!(
        PayloadFormatIndicator,
        "payload-format-indicator",
        Byte,
        MSG
    ),
    row!(
        MessageExpiryInterval,
        "message-expiry-interval",
        FourByte,
        MSG
    ),
    row!(ContentType, "content-type", String, MSG),
    row!(ResponseTopic, "response-topic", String, MSG),
    row!(CorrelationData, "correlation-data", Binary, MSG),
    // 5.0 §3.3.2.3.8: a PUBLISH carries one per matching subscription.
    row!(
        SubscriptionIdentifier,
        "subscription-identifier",
        VarInt,
        ctx(&[C::Publish, C::Subscribe]),
        ctx(&[C::Publish])
    ),
    row!(
        SessionExpiryInterval,
        "session-expiry-interval",
        FourByte,
        ctx(&[C::Connect, C::ConnAck, C::Disconnect])
    ),
    row!(
        AssignedClientIdentifier,
        "assigned-client-identifier",
        String,
        ctx(&[C::ConnAck])
    ),
    row!(
        ServerKeepAlive,
        "server-keep-alive",
        TwoByte,
        ctx(&[C::ConnAck])
    ),
    row!(
        AuthenticationMethod,
        "authentication-method",
        String,
        ctx(&[C::Connect, C::ConnAck, C::Auth])
    ),
    row!(
        AuthenticationData,
        "authentication-data",
        Binary,
        ctx(&[C::Connect, C::ConnAck, C::Auth])
    ),
    row!(
        RequestProblemInformation,
        "request-problem-information",
        Byte,
        ctx(&[C::Connect])
    ),
    row!(
        WillDelayInterval,
        "will-delay-interval",
        FourByte,
        ctx(&[C::Will])
    ),
    row!(
        RequestResponseInformation,
        "request-response-information",
        Byte,
        ctx(&[C::Connect])
    ),
    row!(
        ResponseInformation,
        "response-information",
        String,
        ctx(&[C::ConnAck])
    ),
    row!(
        ServerReference,
        "server-reference",
        String,
        ctx(&[C::ConnAck, C::Disconnect])
    ),
    row!(ReasonString, "reason-string", String, REASON_STRING),
    row!(
        ReceiveMaximum,
        "receive-maximum",
        TwoByte,
        ctx(&[C::Connect, C::ConnAck])
    ),
    row!(
        TopicAliasMaximum,
        "topic-alias-maximum",
        TwoByte,
        ctx(&[C::Connect, C::ConnAck])
    ),
    row!(TopicAlias, "topic-alias", TwoByte, ctx(&[C::Publish])),
    row!(MaximumQos, "maximum-qos", Byte, ctx(&[C::ConnAck])),
    row!(
        RetainAvailable,
        "retain-available",
        Byte,
        ctx(&[C::ConnAck])
    ),
    // 5.0 §2.2.2.2: the only property allowed everywhere, and to repeat.
    row!(UserProperty, "user-property", Pair, ALL, ALL),
    row!(
        MaximumPacketSize,
        "maximum-packet-size",
        FourByte,
        ctx(&[C::Connect, C::ConnAck])
    ),
    row!(
        WildcardSubscriptionAvailable,
        "wildcard-subscription-available",
        Byte,
        ctx(&[C::ConnAck])
    ),
    row!(
        SubscriptionIdentifierAvailable,
        "subscription-identifier-available",
        Byte,
        ctx(&[C::ConnAck])
    ),
    row!(
        SharedSubscriptionAvailable,
        "shared-subscription-available",
        Byte,
        ctx(&[C::ConnAck])
    ),
];

impl PropertyId {
    /// The id for a wire identifier, `None` if 5.0 defines none.
    pub fn from_u8(id: u8) -> Option<PropertyId> {
        PROPERTY_TABLE
            .iter()
            .find(|row| row.id as u8 == id)
            .map(|row| row.id)
    }

    /// The id for a mosquitto property name (`message-expiry-interval`), case-insensitive.
    pub fn from_name(name: &str) -> Option<PropertyId> {
        PROPERTY_TABLE
            .iter()
            .find(|row| row.name.eq_ignore_ascii_case(name))
            .map(|row| row.id)
    }

    /// This property's row of [`PROPERTY_TABLE`].
    pub fn info(self) -> &'static PropertyInfo {
        // Every variant has a row; the fallback only keeps this free of panics.
        PROPERTY_TABLE
            .iter()
            .find(|row| row.id == self)
            .unwrap_or(&PROPERTY_TABLE[0])
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn data_type(self) -> PropertyType {
        self.info().data_type
    }

    /// Whether the packet (or will) `ctx` may carry this property (5.0 §2.2.2.2).
    pub fn allowed_in(self, ctx: PropertyContext) -> bool {
        self.info().allowed & ctx.bit() != 0
    }

    /// Whether it may appear more than once in `ctx`: user properties anywhere,
    /// subscription identifiers in PUBLISH. Anything else twice is a protocol error.
    pub fn repeatable_in(self, ctx: PropertyContext) -> bool {
        self.info().repeatable & ctx.bit() != 0
    }
}

impl std::fmt::Display for PropertyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PropertyValue {
    pub fn data_type(&self) -> PropertyType {
        match self {
            PropertyValue::Byte(_) => PropertyType::Byte,
            PropertyValue::TwoByte(_) => PropertyType::TwoByte,
            PropertyValue::FourByte(_) => PropertyType::FourByte,
            PropertyValue::VarInt(_) => PropertyType::VarInt,
            PropertyValue::String(_) => PropertyType::String,
            PropertyValue::Binary(_) => PropertyType::Binary,
            PropertyValue::Pair(..) => PropertyType::Pair,
        }
    }
}

/// Value rules the spec makes protocol errors, checked on decode and on encode.
fn check_value(id: PropertyId, value: &PropertyValue, ctx: PropertyContext) -> Result<(), Error> {
    use PropertyId as P;
    let bad = match (id, value) {
        // 5.0 §3.3.2.3.2, §3.1.2.11.7, §3.1.2.11.6, §3.2.2.3.4/5/11/12/13: 0 or 1 only.
        (
            P::PayloadFormatIndicator
            | P::RequestProblemInformation
            | P::RequestResponseInformation
            | P::MaximumQos
            | P::RetainAvailable
            | P::WildcardSubscriptionAvailable
            | P::SubscriptionIdentifierAvailable
            | P::SharedSubscriptionAvailable,
            PropertyValue::Byte(v),
        ) => *v > 1,
        // 5.0 §3.1.2.11.3 / §3.2.2.3.3: Receive Maximum 0 is a protocol error.
        (P::ReceiveMaximum, PropertyValue::TwoByte(0)) => true,
        // 5.0 §3.1.2.11.4 / §3.2.2.3.6: Maximum Packet Size 0 is a protocol error.
        (P::MaximumPacketSize, PropertyValue::FourByte(0)) => true,
        // 5.0 §3.8.2.1.2: Subscription Identifier 0 is a protocol error.
        (P::SubscriptionIdentifier, PropertyValue::VarInt(v)) => *v == 0,
        _ => false,
    };
    if bad {
        return Err(Error::InvalidPropertyValue {
            packet: ctx.packet_name(),
            id,
        });
    }
    Ok(())
}

/// Reads a property list (length, then properties) for `ctx` (5.0 §2.2.2).
///
/// Unknown identifier → malformed; a property the packet does not allow → malformed
/// (5.0 §2.2.2.2: "an Identifier which is not valid for its packet type … is a
/// Malformed Packet"); a non-repeatable property twice → protocol error.
pub fn decode(r: &mut Reader, ctx: PropertyContext) -> Result<Properties, Error> {
    let packet = ctx.packet_name();
    let len = r.varint()?;
    let mut pr = r.sub(len as usize)?;
    let mut props = Vec::new();
    let mut seen: u64 = 0;
    while !pr.is_empty() {
        let raw = pr.varint()?;
        let id = u8::try_from(raw)
            .ok()
            .and_then(PropertyId::from_u8)
            .ok_or(Error::UnknownProperty { packet, id: raw })?;
        if !id.allowed_in(ctx) {
            return Err(Error::PropertyNotAllowed { packet, id });
        }
        // Ids are below 0x2B, so they fit a 64-bit set.
        let bit = 1u64 << (id as u8);
        if seen & bit != 0 && !id.repeatable_in(ctx) {
            return Err(Error::DuplicateProperty { packet, id });
        }
        seen |= bit;
        let value = match id.data_type() {
            PropertyType::Byte => PropertyValue::Byte(pr.u8()?),
            PropertyType::TwoByte => PropertyValue::TwoByte(pr.u16()?),
            PropertyType::FourByte => PropertyValue::FourByte(pr.u32()?),
            PropertyType::VarInt => PropertyValue::VarInt(pr.varint()?),
            PropertyType::String => PropertyValue::String(pr.string()?),
            PropertyType::Binary => PropertyValue::Binary(pr.binary()?),
            PropertyType::Pair => {
                let k = pr.string()?;
                let v = pr.string()?;
                PropertyValue::Pair(k, v)
            }
        };
        check_value(id, &value, ctx)?;
        props.push(Property { id, value });
    }
    Ok(Properties(props))
}

/// Appends a property list (length, then properties) for `ctx`, refusing what
/// [`decode`] would refuse: wrong context, wrong value type, forbidden duplicates,
/// out-of-range values.
pub fn encode(props: &Properties, ctx: PropertyContext, out: &mut BytesMut) -> Result<(), Error> {
    let packet = ctx.packet_name();
    let mut body = BytesMut::new();
    let mut seen: u64 = 0;
    for p in &props.0 {
        let id = p.id;
        if !id.allowed_in(ctx) {
            return Err(Error::PropertyNotAllowed { packet, id });
        }
        let bit = 1u64 << (id as u8);
        if seen & bit != 0 && !id.repeatable_in(ctx) {
            return Err(Error::DuplicateProperty { packet, id });
        }
        seen |= bit;
        if p.value.data_type() != id.data_type() {
            return Err(Error::PropertyType { packet, id });
        }
        check_value(id, &p.value, ctx)?;
        body.put_u8(id as u8);
        match &p.value {
            PropertyValue::Byte(v) => body.put_u8(*v),
            PropertyValue::TwoByte(v) => body.put_u16(*v),
            PropertyValue::FourByte(v) => body.put_u32(*v),
            PropertyValue::VarInt(v) => wire::write_varint(&mut body, *v as usize, packet)?,
            PropertyValue::String(s) => wire::write_string(&mut body, s, packet)?,
            PropertyValue::Binary(b) => wire::write_binary(&mut body, b, packet)?,
            PropertyValue::Pair(k, v) => {
                wire::write_string(&mut body, k, packet)?;
                wire::write_string(&mut body, v, packet)?;
            }
        }
    }
    wire::write_varint(out, body.len(), packet)?;
    out.put_slice(&body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_sorted() {
        let mut last = 0u8;
        for row in &PROPERTY_TABLE {
            assert!(row.id as u8 > last, "{:?} out of order", row.id);
            last = row.id as u8;
            assert_eq!(row.id.info().id, row.id);
            assert_eq!(PropertyId::from_u8(row.id as u8), Some(row.id));
            assert_eq!(PropertyId::from_name(row.name), Some(row.id));
            assert_ne!(row.allowed, 0);
        }
        assert_eq!(PropertyId::from_u8(0x00), None);
        assert_eq!(PropertyId::from_u8(0x04), None);
        assert_eq!(PropertyId::from_u8(0x2B), None);
        assert_eq!(PropertyId::from_name("no-such-property"), None);
    }

    #[test]
    fn lookups() {
        assert_eq!(
            PropertyId::from_name("message-expiry-interval"),
            Some(PropertyId::MessageExpiryInterval)
        );
        assert_eq!(PropertyId::TopicAlias.name(), "topic-alias");
        assert_eq!(
            PropertyId::CorrelationData.data_type(),
            PropertyType::Binary
        );
        assert_eq!(PropertyId::UserProperty.data_type(), PropertyType::Pair);
        assert_eq!(
            PropertyId::SubscriptionIdentifier.data_type(),
            PropertyType::VarInt
        );
        assert!(PropertyId::WillDelayInterval.allowed_in(PropertyContext::Will));
        assert!(!PropertyId::WillDelayInterval.allowed_in(PropertyContext::Connect));
        assert!(PropertyId::MessageExpiryInterval.allowed_in(PropertyContext::Will));
        assert!(!PropertyId::TopicAlias.allowed_in(PropertyContext::Will));
        assert!(PropertyId::UserProperty.allowed_in(PropertyContext::Auth));
        assert!(PropertyId::ReasonString.allowed_in(PropertyContext::Auth));
        assert!(!PropertyId::ReasonString.allowed_in(PropertyContext::Publish));
        assert!(PropertyId::SubscriptionIdentifier.repeatable_in(PropertyContext::Publish));
        assert!(!PropertyId::SubscriptionIdentifier.repeatable_in(PropertyContext::Subscribe));
        assert_eq!(
            PropertyId::SharedSubscriptionAvailable.to_string(),
            "shared-subscription-available"
        );
    }

    fn dec(bytes: &'static [u8], ctx: PropertyContext) -> Result<Properties, Error> {
        let mut r = Reader::new(Bytes::from_static(bytes), "T");
        decode(&mut r, ctx)
    }

    #[test]
    fn decode_errors() {
        // Unknown id 0x04.
        assert_eq!(
            dec(&[0x02, 0x04, 0x00], PropertyContext::Publish),
            Err(Error::UnknownProperty {
                packet: "PUBLISH",
                id: 4
            })
        );
        // Topic alias (0x23) in SUBSCRIBE.
        assert_eq!(
            dec(&[0x03, 0x23, 0x00, 0x01], PropertyContext::Subscribe),
            Err(Error::PropertyNotAllowed {
                packet: "SUBSCRIBE",
                id: PropertyId::TopicAlias
            })
        );
        // Message expiry twice.
        assert_eq!(
            dec(
                &[0x0A, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2],
                PropertyContext::Publish
            ),
            Err(Error::DuplicateProperty {
                packet: "PUBLISH",
                id: PropertyId::MessageExpiryInterval
            })
        );
        // Subscription identifier 0.
        assert_eq!(
            dec(&[0x02, 0x0B, 0x00], PropertyContext::Publish),
            Err(Error::InvalidPropertyValue {
                packet: "PUBLISH",
                id: PropertyId::SubscriptionIdentifier
            })
        );
        // Property length longer than the packet.
        assert_eq!(
            dec(&[0x05, 0x01, 0x00], PropertyContext::Publish),
            Err(Error::Truncated { packet: "T" })
        );
        // Value cut short inside the property list.
        assert_eq!(
            dec(&[0x02, 0x02, 0x00], PropertyContext::Publish),
            Err(Error::Truncated { packet: "T" })
        );
    }

    #[test]
    fn encode_refuses_what_decode_refuses() {
        let mut out = BytesMut::new();
        let mut p = Properties::new();
        p.push(PropertyId::TopicAlias, PropertyValue::FourByte(1));
        assert!(matches!(
            encode(&p, PropertyContext::Publish, &mut out),
            Err(Error::PropertyType { .. })
        ));
        let mut p = Properties::new();
        p.push(PropertyId::WillDelayInterval, PropertyValue::FourByte(1));
        assert!(matches!(
            encode(&p, PropertyContext::Connect, &mut out),
            Err(Error::PropertyNotAllowed { .. })
        ));
        let mut p = Properties::new();
        p.push(PropertyId::SubscriptionIdentifier, PropertyValue::VarInt(1));
        p.push(PropertyId::SubscriptionIdentifier, PropertyValue::VarInt(2));
        assert!(encode(&p, PropertyContext::Publish, &mut out).is_ok());
        assert!(matches!(
            encode(&p, PropertyContext::Subscribe, &mut out),
            Err(Error::DuplicateProperty { .. })
        ));
    }
}
