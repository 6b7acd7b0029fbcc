//! CBOR (RFC 8949) both ways. Decoded into ciborium's `Value` (nesting limited to
//! ciborium's 256 levels; byte and text strings grow as bytes arrive, so a length
//! field cannot make it allocate more than the payload holds) and printed as JSON:
//! byte strings as base64, tags dropped (their content printed), map keys that are
//! not text as their JSON text (`1` → `"1"`). The whole payload must be one value.

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
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    match k {
                        V::Text(t) => m.serialize_entry(t, &Json(v))?,
                        other => {
                            let key = serde_json::to_string(&Json(other))
                                .map_err(serde::ser::Error::custom)?;
                            m.serialize_entry(&key, &Json(v))?
                        }
                    }
                }
                m.end()
            }
            // Null, and whatever a later ciborium adds.
            _ => s.serialize_unit(),
        }
    }
}
