//! MessagePack both ways. Decoded with rmpv into a `ValueRef` borrowing the payload
//! (nesting limited; arrays and maps grow as items arrive, never by their declared
//! length) and printed as JSON: binary as base64, an extension as
//! `{"ext":TYPE,"data":BASE64}`, strings that are not UTF-8 as base64, map keys that
//! are numbers, booleans, nil or binary as their text; a map with a key that is an
//! array, a map or an extension as an array of `[key, value]` pairs (rendering such
//! keys as text would escape them again at every level: output exponential in the
//! nesting, which the fuzzer found). The whole payload must be one value.

use rmpv::ValueRef;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::style;

/// Levels of nesting accepted (rmpv counts several per level, so this is about 100
/// arrays deep): deep enough for real data, shallow enough for the stack.
const MAX_DEPTH: usize = 256;

/// The one MessagePack value `bytes` holds.
pub fn decode(bytes: &[u8]) -> Result<ValueRef<'_>, String> {
    let mut rest = bytes;
    let value =
        rmpv::decode::read_value_ref_with_max_depth(&mut rest, MAX_DEPTH).map_err(|e| match e {
            rmpv::decode::Error::DepthLimitExceeded => "MessagePack nested too deeply".to_string(),
            _ => "truncated MessagePack (the value ends early)".to_string(),
        })?;
    if !rest.is_empty() {
        return Err(format!("{} bytes follow the MessagePack value", rest.len()));
    }
    Ok(value)
}

/// JSON text → MessagePack (integers in their smallest form, other numbers float64).
pub fn encode(json: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(json);
    let mut ser = rmp_serde::Serializer::new(&mut out);
    serde_transcode::transcode(&mut de, &mut ser).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(out)
}

/// The JSON view of a MessagePack value.
pub struct Json<'a, 'b>(pub &'b ValueRef<'a>);

impl Serialize for Json<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ValueRef::Nil => s.serialize_unit(),
            ValueRef::Boolean(b) => s.serialize_bool(*b),
            ValueRef::Integer(i) => match (i.as_u64(), i.as_i64()) {
                (Some(u), _) => style::u64(u, s),
                (_, Some(n)) => style::i64(n, s),
                _ => s.serialize_unit(),
            },
            ValueRef::F32(f) => style::f32(*f, s),
            ValueRef::F64(f) => style::f64(*f, s),
            ValueRef::String(t) => match t.as_str() {
                Some(t) => s.serialize_str(t),
                None => style::base64(t.as_bytes(), s),
            },
            ValueRef::Binary(b) => style::base64(b, s),
            ValueRef::Array(items) => s.collect_seq(items.iter().map(Json)),
            ValueRef::Map(entries) => {
                let keys: Option<Vec<String>> = entries.iter().map(|(k, _)| key(k)).collect();
                let Some(keys) = keys else {
                    // A key that is an array, a map or an extension: pairs, so that
                    // nothing is escaped into a string again at every level.
                    return s.collect_seq(entries.iter().map(|(k, v)| [Json(k), Json(v)]));
                };
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, (_, v)) in keys.iter().zip(entries) {
                    m.serialize_entry(k, &Json(v))?;
                }
                m.end()
            }
            ValueRef::Ext(ty, data) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("ext", ty)?;
                m.serialize_entry("data", &Base64(data))?;
                m.end()
            }
        }
    }
}

/// A map key as object-key text: a string as it is, a scalar as its JSON text,
/// binary as base64; `None` for a container, which has no short text.
fn key(k: &ValueRef<'_>) -> Option<String> {
    use base64::Engine as _;
    Some(match k {
        ValueRef::String(t) => match t.as_str() {
            Some(t) => t.to_string(),
            None => base64::engine::general_purpose::STANDARD.encode(t.as_bytes()),
        },
        ValueRef::Binary(b) => base64::engine::general_purpose::STANDARD.encode(b),
        ValueRef::Nil
        | ValueRef::Boolean(_)
        | ValueRef::Integer(_)
        | ValueRef::F32(_)
        | ValueRef::F64(_) => {
            let text = serde_json::to_string(&Json(k)).ok()?;
            text.trim_matches('"').to_string()
        }
        ValueRef::Array(_) | ValueRef::Map(_) | ValueRef::Ext(..) => return None,
    })
}

struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        style::base64(self.0, s)
    }
}
