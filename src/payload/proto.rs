//! Any protobuf message, given its descriptor (from a .proto compiled at run time by
//! `crate::settings`): decoded with prost-reflect and printed in protobuf's canonical
//! JSON mapping (lowerCamelCase names, enums by name, 64-bit integers as strings,
//! bytes as base64, well-known types such as Timestamp, Duration, Any and Struct in
//! their special forms), and encoded back from that JSON.

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};

/// Decodes one message (prost's nesting limit of 100 applies).
pub fn decode(desc: &MessageDescriptor, bytes: &[u8]) -> Result<DynamicMessage, String> {
    DynamicMessage::decode(desc.clone(), bytes).map_err(|e| e.to_string())
}

/// JSON (the canonical mapping; unknown fields refused) → the message's bytes.
pub fn encode(desc: &MessageDescriptor, json: &[u8]) -> Result<Vec<u8>, String> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let msg = DynamicMessage::deserialize(desc.clone(), &mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(msg.encode_to_vec())
}
