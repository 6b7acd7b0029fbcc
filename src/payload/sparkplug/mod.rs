//! Sparkplug B (Eclipse Sparkplug 3.0): payloads decoded with the schema in `schema`
//! and rendered as the JSON the specification itself uses to show them (`render`),
//! and that JSON encoded back (`build`, for `pub --encode sparkplug`).
//!
//! Sparkplug's datatypes ride on a handful of protobuf fields (an Int8 travels in a
//! uint32, a DateTime in a uint64, a DoubleArray in bytes), so a value is read by its
//! datatype: signed integers get their sign back, arrays are unpacked, and a value
//! whose datatype is absent (usual in NDATA, where the birth certificate said it) or
//! does not fit its field prints as its field says.

pub mod build;
pub mod render;
pub mod schema;

use prost::Message as _;

pub use schema::Payload;

/// Sparkplug's `DataType` numbers, as named in the specification (index = number).
pub const TYPE_NAMES: [&str; 35] = [
    "Unknown",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "UInt8",
    "UInt16",
    "UInt32",
    "UInt64",
    "Float",
    "Double",
    "Boolean",
    "String",
    "DateTime",
    "Text",
    "UUID",
    "DataSet",
    "Bytes",
    "File",
    "Template",
    "PropertySet",
    "PropertySetList",
    "Int8Array",
    "Int16Array",
    "Int32Array",
    "Int64Array",
    "UInt8Array",
    "UInt16Array",
    "UInt32Array",
    "UInt64Array",
    "FloatArray",
    "DoubleArray",
    "BooleanArray",
    "StringArray",
    "DateTimeArray",
];

/// The datatypes by number, for matching.
pub mod dt {
    pub const INT8: u32 = 1;
    pub const INT16: u32 = 2;
    pub const INT32: u32 = 3;
    pub const INT64: u32 = 4;
    pub const UINT8: u32 = 5;
    pub const UINT16: u32 = 6;
    pub const UINT32: u32 = 7;
    pub const UINT64: u32 = 8;
    pub const FLOAT: u32 = 9;
    pub const DOUBLE: u32 = 10;
    pub const BOOLEAN: u32 = 11;
    pub const STRING: u32 = 12;
    pub const DATETIME: u32 = 13;
    pub const TEXT: u32 = 14;
    pub const UUID: u32 = 15;
    pub const DATASET: u32 = 16;
    pub const BYTES: u32 = 17;
    pub const FILE: u32 = 18;
    pub const TEMPLATE: u32 = 19;
    pub const PROPERTY_SET: u32 = 20;
    pub const PROPERTY_SET_LIST: u32 = 21;
    pub const INT8_ARRAY: u32 = 22;
    pub const INT16_ARRAY: u32 = 23;
    pub const INT32_ARRAY: u32 = 24;
    pub const INT64_ARRAY: u32 = 25;
    pub const UINT8_ARRAY: u32 = 26;
    pub const UINT16_ARRAY: u32 = 27;
    pub const UINT32_ARRAY: u32 = 28;
    pub const UINT64_ARRAY: u32 = 29;
    pub const FLOAT_ARRAY: u32 = 30;
    pub const DOUBLE_ARRAY: u32 = 31;
    pub const BOOLEAN_ARRAY: u32 = 32;
    pub const STRING_ARRAY: u32 = 33;
    pub const DATETIME_ARRAY: u32 = 34;
}

/// The specification's name of a datatype number, if it has one.
pub fn type_name(t: u32) -> Option<&'static str> {
    TYPE_NAMES.get(t as usize).copied()
}

/// The number of a datatype name, ignoring case (`"uint64"` is `UInt64`).
pub fn type_number(name: &str) -> Option<u32> {
    TYPE_NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .map(|i| i as u32)
}

/// Decodes a Sparkplug B payload.
pub fn decode(payload: &[u8]) -> Result<Payload, String> {
    Payload::decode(payload).map_err(|e| e.to_string())
}

/// Whether `topic` is a Sparkplug B topic whose payload is protobuf: everything under
/// `spBv1.0/` except the host applications' `STATE` messages (`is_state_topic`).
pub fn is_protobuf_topic(topic: &str) -> bool {
    topic.starts_with("spBv1.0/") && !is_state_topic(topic)
}

/// A host application's `spBv1.0/STATE/…` message, whose payload is JSON (3.0).
pub fn is_state_topic(topic: &str) -> bool {
    topic.starts_with("spBv1.0/STATE/")
}

#[cfg(test)]
mod tests;
