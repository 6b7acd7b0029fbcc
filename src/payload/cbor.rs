//! CBOR (RFC 8949) both ways. Decoded into ciborium's `Value` (nesting limited to
//! ciborium's 256 levels; byte and text strings grow as bytes arrive, so a length
//! field cannot make it allocate more than the payload holds) and printed as JSON:
//! byte strings as base64, tags dropped (their content printed), map keys that are
//! numbers, booleans, null or bytes as their text (`1` → `"1"`); a map with a key that
//! is an array or a map as an array of `[key, value]` pairs (text keys would escape
//! such keys again at every level, exponential in the nesting, which the fuzzer
//! found). The whole payload must be one value.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::style;

/// The one CBOR value `bytes` holds.
pub fn decode(bytes: &[u8]) -> Result<ciborium::Value, String> {
    let mut rest = bytes;
    let value: ciborium::Value = ciborium::de::from_reader(&mut rest).map_err(|e| match e {
        ciborium::de::Error::Io(_) => "truncated CBOR (the value ends early)".to_string(),
        ciborium::de::Error::Syntax(at) => format!("not CBOR (bad item at byte {at})"),
        ciborium::de::Error::Semantic(_, why) => format!("not CBOR ({why})"),
        ciborium::de::Error::RecursionLimitExceeded => "CBOR nested too deeply".to_string(),
    })?;
    if !rest.is_empty() {
        return Err(format!("{} bytes follow the CBOR value", rest.len()));
    }
    Ok(value)
}

/// JSON text → CBOR (numbers as the smallest CBOR integer or float that holds them).
pub fn encode(json: &[u8]) -> Result<Vec<u8>, String> {
    // ciborium's Value keeps map entries in order (and duplicates).
    let value: ciborium::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    ciborium::ser::into_writer(&value, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The JSON view of a CBOR value.
pub struct Json<'a>(pub &'a ciborium::Value);

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ciborium::Value as V;
        match self.0 {
            V::Integer(i) => {
                let n = i128::from(*i);
                if let Ok(u) = u64::try_from(n) {
                    style::u64(u, s)
                } else if let Ok(i) = i64::try_from(n) {
                    style::i64(i, s)
                } else {
                    s.collect_str(&n)
                }
            }
            V::Bytes(b) => style::base64(b, s),
            V::Float(f) => style::f64(*f, s),
            V::Text(t) => s.serialize_str(t),
            V::Bool(b) => s.serialize_bool(*b),
            V::Tag(_, inner) => Json(inner).serialize(s),
            V::Array(items) => s.collect_seq(items.iter().map(Json)),
            V::Map(entries) => {
                let keys: Option<Vec<String>> = entries.iter().map(|(k, _)| key(k)).collect();
                let Some(keys) = keys else {
                    // A key that is an array or a map: pairs (see the module's note).
                    return s.collect_seq(entries.iter().map(|(k, v)| [Json(k), Json(v)]));
                };
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, (_, v)) in keys.iter().zip(entries) {
                    m.serialize_entry(k, &Json(v))?;
                }
                m.end()
            }
            // Null, and whatever a later ciborium adds.
            _ => s.serialize_unit(),
        }
    }
}

/// A map key as object-key text: text as it is, a scalar as its JSON text, bytes as
/// base64 (a tag's content stands for it); `None` for an array or a map.
fn key(k: &ciborium::Value) -> Option<String> {
    use base64::Engine as _;
    use ciborium::Value as V;
    Some(match k {
        V::Text(t) => t.clone(),
        V::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
        V::Tag(_, inner) => return key(inner),
        V::Array(_) | V::Map(_) => return None,
        scalar => {
            let text = serde_json::to_string(&Json(scalar)).ok()?;
            text.trim_matches('"').to_string()
        }
    })
}
