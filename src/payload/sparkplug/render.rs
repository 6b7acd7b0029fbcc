//! A decoded Sparkplug B payload as JSON, shaped as the specification shows payloads
//! (`{"timestamp":…,"metrics":[{"name":…,"alias":…,"timestamp":…,"dataType":"Int32",
//! "value":…}],"seq":…}`), with every other field under its protobuf JSON name
//! (lowerCamelCase) when present: `isHistorical`, `isTransient`, `isNull`, `metadata`,
//! `properties` (an object of `{"type":…,"value":…}`), `uuid`, `body` (base64).
//!
//! Values by datatype: the integer types as JSON numbers with their sign (Int8…Int64,
//! DateTime as signed milliseconds), UInt64 unsigned; 64-bit values a double cannot
//! hold exactly as strings; Float and Double as numbers; Boolean; String, Text and UUID
//! as strings; Bytes and File as base64; DataSet as `{"numOfColumns","columns",
//! "types","rows":[[…]]}`; Template as `{"version","templateRef","isDefinition",
//! "parameters":[{"name","type","value"}],"metrics":[…]}`; the arrays as JSON arrays.
//! Malformed arrays and property sets are errors (the caller prints the raw payload).

use serde::ser::{Error as _, Serialize, SerializeMap, SerializeSeq, Serializer};

use super::dt;
use super::schema::{
    DataSet, MetaData, Metric, MetricValue, ParameterValue, Payload, PropertySet, PropertyValue,
    PropertyValueKind, ScalarValue, Template,
};
use crate::payload::style;

/// The JSON view of a payload.
pub struct PayloadJson<'a>(pub &'a Payload);

impl Serialize for PayloadJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(t) = p.timestamp {
            m.serialize_entry("timestamp", &Scalar::U64(t))?;
        }
        m.serialize_entry("metrics", &Metrics(&p.metrics))?;
        if let Some(q) = p.seq {
            m.serialize_entry("seq", &Scalar::U64(q))?;
        }
        if let Some(u) = &p.uuid {
            m.serialize_entry("uuid", u)?;
        }
        if let Some(b) = &p.body {
            m.serialize_entry("body", &Base64(b))?;
        }
        m.end()
    }
}

/// A number, flag or text, printed by `style`'s rules.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    I64(i64),
    U64(u64),
    F32(f32),
    F64(f64),
    Bool(bool),
    Str(&'a str),
}

impl Serialize for Scalar<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Scalar::I64(v) => style::i64(v, s),
            Scalar::U64(v) => style::u64(v, s),
            Scalar::F32(v) => style::f32(v, s),
            Scalar::F64(v) => style::f64(v, s),
            Scalar::Bool(v) => s.serialize_bool(v),
            Scalar::Str(v) => s.serialize_str(v),
        }
    }
}

struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        style::base64(self.0, s)
    }
}

/// A datatype by its name, or its number when it has none.
struct TypeName(u32);

impl Serialize for TypeName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match super::type_name(self.0) {
            Some(n) => s.serialize_str(n),
            None => s.serialize_u32(self.0),
        }
    }
}

/// An extension value: nothing mqtk can read, so an empty object.
struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_map(Some(0))?.end()
    }
}

/// A scalar oneof field as it arrived (`Ext` for an extension).
#[derive(Clone, Copy)]
enum Wire<'a> {
    Int(u32),
    Long(u64),
    Float(f32),
    Double(f64),
    Bool(bool),
    Str(&'a str),
    Ext,
}

impl<'a> From<&'a ScalarValue> for Wire<'a> {
    fn from(v: &'a ScalarValue) -> Wire<'a> {
        match v {
            ScalarValue::Int(v) => Wire::Int(*v),
            ScalarValue::Long(v) => Wire::Long(*v),
            ScalarValue::Float(v) => Wire::Float(*v),
            ScalarValue::Double(v) => Wire::Double(*v),
            ScalarValue::Boolean(v) => Wire::Bool(*v),
            ScalarValue::String(v) => Wire::Str(v),
            ScalarValue::Extension(_) => Wire::Ext,
        }
    }
}

impl<'a> From<&'a ParameterValue> for Wire<'a> {
    fn from(v: &'a ParameterValue) -> Wire<'a> {
        match v {
            ParameterValue::Int(v) => Wire::Int(*v),
            ParameterValue::Long(v) => Wire::Long(*v),
            ParameterValue::Float(v) => Wire::Float(*v),
            ParameterValue::Double(v) => Wire::Double(*v),
            ParameterValue::Boolean(v) => Wire::Bool(*v),
            ParameterValue::String(v) => Wire::Str(v),
            ParameterValue::Extension(_) => Wire::Ext,
        }
    }
}

/// A scalar read by its datatype (`None`: no datatype given).
struct Typed<'a>(Option<u32>, Wire<'a>);

impl Serialize for Typed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The signed types travel as two's complement in the unsigned field: the low
        // bits carry the value whatever width the sender extended it to.
        let scalar = match (self.0, self.1) {
            (Some(dt::INT8), Wire::Int(v)) => Scalar::I64(i64::from(v as u8 as i8)),
            (Some(dt::INT16), Wire::Int(v)) => Scalar::I64(i64::from(v as u16 as i16)),
            (Some(dt::INT32), Wire::Int(v)) => Scalar::I64(i64::from(v as i32)),
            (Some(dt::INT64 | dt::DATETIME), Wire::Long(v)) => Scalar::I64(v as i64),
            (_, Wire::Int(v)) => Scalar::U64(u64::from(v)),
            (_, Wire::Long(v)) => Scalar::U64(v),
            (_, Wire::Float(v)) => Scalar::F32(v),
            (_, Wire::Double(v)) => Scalar::F64(v),
            (_, Wire::Bool(v)) => Scalar::Bool(v),
            (_, Wire::Str(v)) => Scalar::Str(v),
            (_, Wire::Ext) => return Empty.serialize(s),
        };
        scalar.serialize(s)
    }
}

struct Metrics<'a>(&'a [Metric]);

impl Serialize for Metrics<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(MetricJson))
    }
}

struct MetricJson<'a>(&'a Metric);

impl Serialize for MetricJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(v) = &x.name {
            m.serialize_entry("name", v)?;
        }
        if let Some(v) = x.alias {
            m.serialize_entry("alias", &Scalar::U64(v))?;
        }
        if let Some(v) = x.timestamp {
            m.serialize_entry("timestamp", &Scalar::U64(v))?;
        }
        if let Some(v) = x.datatype {
            m.serialize_entry("dataType", &TypeName(v))?;
        }
        for (key, flag) in [
            ("isHistorical", x.is_historical),
            ("isTransient", x.is_transient),
            ("isNull", x.is_null),
        ] {
            if let Some(v) = flag {
                m.serialize_entry(key, &v)?;
            }
        }
        if let Some(v) = &x.metadata {
            m.serialize_entry("metadata", &MetaJson(v))?;
        }
        if let Some(v) = &x.properties {
            m.serialize_entry("properties", &Properties(v))?;
        }
        if x.is_null == Some(true) {
            m.serialize_entry("value", &())?;
        } else if let Some(v) = &x.value {
            m.serialize_entry("value", &MetricValueJson(x.datatype, v))?;
        }
        m.end()
    }
}

struct MetricValueJson<'a>(Option<u32>, &'a MetricValue);

impl Serialize for MetricValueJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        match self.1 {
            MetricValue::Int(v) => Typed(t, Wire::Int(*v)).serialize(s),
            MetricValue::Long(v) => Typed(t, Wire::Long(*v)).serialize(s),
            MetricValue::Float(v) => Typed(t, Wire::Float(*v)).serialize(s),
            MetricValue::Double(v) => Typed(t, Wire::Double(*v)).serialize(s),
            MetricValue::Boolean(v) => Typed(t, Wire::Bool(*v)).serialize(s),
            MetricValue::String(v) => Typed(t, Wire::Str(v)).serialize(s),
            MetricValue::Bytes(b) => match t {
                Some(a @ dt::INT8_ARRAY..=dt::DATETIME_ARRAY) => Array(a, b).serialize(s),
                _ => style::base64(b, s),
            },
            MetricValue::DataSet(d) => DataSetJson(d).serialize(s),
            MetricValue::Template(x) => TemplateJson(x).serialize(s),
            MetricValue::Extension(_) => Empty.serialize(s),
        }
    }
}

struct MetaJson<'a>(&'a MetaData);

impl Serialize for MetaJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(v) = d.is_multi_part {
            m.serialize_entry("isMultiPart", &v)?;
        }
        if let Some(v) = &d.content_type {
            m.serialize_entry("contentType", v)?;
        }
        if let Some(v) = d.size {
            m.serialize_entry("size", &Scalar::U64(v))?;
        }
        if let Some(v) = d.seq {
            m.serialize_entry("seq", &Scalar::U64(v))?;
        }
        for (key, text) in [
            ("fileName", &d.file_name),
            ("fileType", &d.file_type),
            ("md5", &d.md5),
            ("description", &d.description),
        ] {
            if let Some(v) = text {
                m.serialize_entry(key, v)?;
            }
        }
        m.end()
    }
}

/// A PropertySet as an object: key → `{"type":…,"isNull":…,"value":…}`.
struct Properties<'a>(&'a PropertySet);

impl Serialize for Properties<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        if p.keys.len() != p.values.len() {
            return Err(S::Error::custom(format!(
                "a PropertySet has {} keys and {} values",
                p.keys.len(),
                p.values.len()
            )));
        }
        let mut m = s.serialize_map(Some(p.keys.len()))?;
        for (k, v) in p.keys.iter().zip(&p.values) {
            m.serialize_entry(k, &PropertyJson(v))?;
        }
        m.end()
    }
}

struct PropertyJson<'a>(&'a PropertyValue);

impl Serialize for PropertyJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(t) = p.r#type {
            m.serialize_entry("type", &TypeName(t))?;
        }
        if let Some(v) = p.is_null {
            m.serialize_entry("isNull", &v)?;
        }
        let t = p.r#type;
        match (&p.value, p.is_null) {
            (_, Some(true)) => m.serialize_entry("value", &())?,
            (None, _) => {}
            (Some(v), _) => match v {
                PropertyValueKind::Int(v) => {
                    m.serialize_entry("value", &Typed(t, Wire::Int(*v)))?
                }
                PropertyValueKind::Long(v) => {
                    m.serialize_entry("value", &Typed(t, Wire::Long(*v)))?
                }
                PropertyValueKind::Float(v) => {
                    m.serialize_entry("value", &Typed(t, Wire::Float(*v)))?
                }
                PropertyValueKind::Double(v) => {
                    m.serialize_entry("value", &Typed(t, Wire::Double(*v)))?
                }
                PropertyValueKind::Boolean(v) => {
                    m.serialize_entry("value", &Typed(t, Wire::Bool(*v)))?
                }
                PropertyValueKind::String(v) => {
                    m.serialize_entry("value", &Typed(t, Wire::Str(v)))?
                }
                PropertyValueKind::PropertySet(v) => m.serialize_entry("value", &Properties(v))?,
                PropertyValueKind::PropertySetList(l) => m.serialize_entry(
                    "value",
                    &Seq(l.propertyset.iter().map(Properties).collect()),
                )?,
                PropertyValueKind::Extension(_) => m.serialize_entry("value", &Empty)?,
            },
        }
        m.end()
    }
}

/// Items already built, as a JSON array.
struct Seq<T>(Vec<T>);

impl<T: Serialize> Serialize for Seq<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(&self.0)
    }
}

struct DataSetJson<'a>(&'a DataSet);

impl Serialize for DataSetJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(n) = d.num_of_columns {
            m.serialize_entry("numOfColumns", &Scalar::U64(n))?;
        }
        m.serialize_entry("columns", &d.columns)?;
        m.serialize_entry(
            "types",
            &Seq(d.types.iter().map(|t| TypeName(*t)).collect()),
        )?;
        m.serialize_entry("rows", &Rows(d))?;
        m.end()
    }
}

struct Rows<'a>(&'a DataSet);

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut rows = s.serialize_seq(Some(d.rows.len()))?;
        for row in &d.rows {
            let cells: Vec<Option<Typed<'_>>> = row
                .elements
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let t = d.types.get(i).copied();
                    e.value.as_ref().map(|v| Typed(t, Wire::from(v)))
                })
                .collect();
            rows.serialize_element(&cells)?;
        }
        rows.end()
    }
}

struct TemplateJson<'a>(&'a Template);

impl Serialize for TemplateJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(v) = &x.version {
            m.serialize_entry("version", v)?;
        }
        if let Some(v) = &x.template_ref {
            m.serialize_entry("templateRef", v)?;
        }
        if let Some(v) = x.is_definition {
            m.serialize_entry("isDefinition", &v)?;
        }
        m.serialize_entry("parameters", &Parameters(x))?;
        m.serialize_entry("metrics", &Metrics(&x.metrics))?;
        m.end()
    }
}

struct Parameters<'a>(&'a Template);

impl Serialize for Parameters<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.parameters.len()))?;
        for p in &self.0.parameters {
            seq.serialize_element(&ParameterJson(
                p.name.as_deref(),
                p.r#type,
                p.value.as_ref(),
            ))?;
        }
        seq.end()
    }
}

struct ParameterJson<'a>(Option<&'a str>, Option<u32>, Option<&'a ParameterValue>);

impl Serialize for ParameterJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(n) = self.0 {
            m.serialize_entry("name", n)?;
        }
        if let Some(t) = self.1 {
            m.serialize_entry("type", &TypeName(t))?;
        }
        if let Some(v) = self.2 {
            m.serialize_entry("value", &Typed(self.1, Wire::from(v)))?;
        }
        m.end()
    }
}

/// An array datatype's packed little-endian bytes as a JSON array.
struct Array<'a>(u32, &'a [u8]);

impl Serialize for Array<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.1;
        match self.0 {
            dt::INT8_ARRAY => fixed::<S, 1>(s, b, |x| Scalar::I64(i64::from(x[0] as i8))),
            dt::INT16_ARRAY => {
                fixed::<S, 2>(s, b, |x| Scalar::I64(i64::from(i16::from_le_bytes(x))))
            }
            dt::INT32_ARRAY => {
                fixed::<S, 4>(s, b, |x| Scalar::I64(i64::from(i32::from_le_bytes(x))))
            }
            dt::INT64_ARRAY | dt::DATETIME_ARRAY => {
                fixed::<S, 8>(s, b, |x| Scalar::I64(i64::from_le_bytes(x)))
            }
            dt::UINT8_ARRAY => fixed::<S, 1>(s, b, |x| Scalar::U64(u64::from(x[0]))),
            dt::UINT16_ARRAY => {
                fixed::<S, 2>(s, b, |x| Scalar::U64(u64::from(u16::from_le_bytes(x))))
            }
            dt::UINT32_ARRAY => {
                fixed::<S, 4>(s, b, |x| Scalar::U64(u64::from(u32::from_le_bytes(x))))
            }
            dt::UINT64_ARRAY => fixed::<S, 8>(s, b, |x| Scalar::U64(u64::from_le_bytes(x))),
            dt::FLOAT_ARRAY => fixed::<S, 4>(s, b, |x| Scalar::F32(f32::from_le_bytes(x))),
            dt::DOUBLE_ARRAY => fixed::<S, 8>(s, b, |x| Scalar::F64(f64::from_le_bytes(x))),
            dt::BOOLEAN_ARRAY => booleans(s, b),
            _ => strings(s, b),
        }
    }
}

/// Elements of `N` bytes each; a length that is not a multiple of `N` is an error.
fn fixed<S: Serializer, const N: usize>(
    s: S,
    bytes: &[u8],
    item: impl Fn([u8; N]) -> Scalar<'static>,
) -> Result<S::Ok, S::Error> {
    if !bytes.len().is_multiple_of(N) {
        return Err(S::Error::custom(format!(
            "an array of {N}-byte values has {} bytes",
            bytes.len()
        )));
    }
    let mut seq = s.serialize_seq(Some(bytes.len() / N))?;
    for chunk in bytes.chunks_exact(N) {
        let mut a = [0u8; N];
        a.copy_from_slice(chunk);
        seq.serialize_element(&item(a))?;
    }
    seq.end()
}

/// BooleanArray: a 4-byte little-endian count, then the bits, most significant first
/// (as Eclipse Tahu packs them).
fn booleans<S: Serializer>(s: S, bytes: &[u8]) -> Result<S::Ok, S::Error> {
    let (count, bits) = match bytes.split_first_chunk::<4>() {
        Some((c, rest)) => (u32::from_le_bytes(*c) as usize, rest),
        None => {
            return Err(S::Error::custom(
                "a BooleanArray shorter than its 4-byte count",
            ));
        }
    };
    if bits.len() != count.div_ceil(8) {
        return Err(S::Error::custom(format!(
            "a BooleanArray of {count} values has {} bytes of bits",
            bits.len()
        )));
    }
    let mut seq = s.serialize_seq(Some(count))?;
    for i in 0..count {
        seq.serialize_element(&(bits[i / 8] & (0x80 >> (i % 8)) != 0))?;
    }
    seq.end()
}

/// StringArray: UTF-8 strings, each ended by a NUL (a last one without its NUL counts).
fn strings<S: Serializer>(s: S, bytes: &[u8]) -> Result<S::Ok, S::Error> {
    let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    let mut seq = s.serialize_seq(None)?;
    if !bytes.is_empty() {
        for part in body.split(|&b| b == 0) {
            let text = std::str::from_utf8(part)
                .map_err(|_| S::Error::custom("a StringArray holds a string that is not UTF-8"))?;
            seq.serialize_element(text)?;
        }
    }
    seq.end()
}
