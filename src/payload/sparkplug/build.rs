//! JSON → Sparkplug B, for `pub --encode sparkplug`: the JSON `render` prints (so a
//! decoded payload can be edited and sent back), read strictly: an unknown field is
//! an error naming it, and a value that does not fit its datatype is an error naming
//! its path (`metrics[2].value`).
//!
//! `dataType` is a name (any case) or a number. A metric with a value but no
//! `dataType` gets one from its JSON value (true/false: Boolean, text: String, an
//! integer: Int64, or UInt64 above Int64's range, another number: Double), written
//! into the payload so the receiver knows it. The payload's `timestamp` and `seq`,
//! when absent, come from the caller (the time now, and a counter).

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::Value;

use super::dt;
use super::schema::{
    DataSet, DataSetValue, MetaData, Metric, MetricValue, Parameter, Payload, PropertySet,
    PropertySetList, PropertyValue, PropertyValueKind, Row, ScalarValue, Template,
};
use crate::payload::style;

/// Parses `json` and builds the payload; `timestamp` and `seq` fill in what it lacks.
pub fn payload(json: &[u8], timestamp: u64, seq: u64) -> Result<Payload, String> {
    let p: PayloadIn = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let body = match p.body {
        Some(b) => Some(style::from_base64(&b).ok_or("body: not base64")?),
        None => None,
    };
    let metrics = p
        .metrics
        .into_iter()
        .enumerate()
        .map(|(i, m)| metric(m, &format!("metrics[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(Payload {
        timestamp: Some(p.timestamp.map_or(timestamp, |t| t.0)),
        metrics,
        seq: Some(p.seq.map_or(seq, |s| s.0)),
        uuid: p.uuid,
        body,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PayloadIn {
    timestamp: Option<U64In>,
    #[serde(default)]
    metrics: Vec<MetricIn>,
    seq: Option<U64In>,
    uuid: Option<String>,
    body: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MetricIn {
    name: Option<String>,
    alias: Option<U64In>,
    timestamp: Option<U64In>,
    data_type: Option<TypeIn>,
    is_historical: Option<bool>,
    is_transient: Option<bool>,
    is_null: Option<bool>,
    metadata: Option<MetaIn>,
    properties: Option<Ordered<PropertyIn>>,
    value: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MetaIn {
    is_multi_part: Option<bool>,
    content_type: Option<String>,
    size: Option<U64In>,
    seq: Option<U64In>,
    file_name: Option<String>,
    file_type: Option<String>,
    md5: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PropertyIn {
    r#type: Option<TypeIn>,
    is_null: Option<bool>,
    value: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DataSetIn {
    num_of_columns: Option<U64In>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    types: Vec<TypeIn>,
    #[serde(default)]
    rows: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TemplateIn {
    version: Option<String>,
    template_ref: Option<String>,
    is_definition: Option<bool>,
    #[serde(default)]
    parameters: Vec<ParameterIn>,
    #[serde(default)]
    metrics: Vec<MetricIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParameterIn {
    name: Option<String>,
    r#type: Option<TypeIn>,
    value: Option<Value>,
}

/// A u64 given as a number or, beyond what a double holds, as a string.
struct U64In(u64);

impl<'de> Deserialize<'de> for U64In {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<U64In, D::Error> {
        let v = Value::deserialize(d)?;
        unsigned(&v, u64::MAX).map(U64In).map_err(de::Error::custom)
    }
}

/// A datatype: a name of the specification's, in any case, or a number.
struct TypeIn(u32);

impl<'de> Deserialize<'de> for TypeIn {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<TypeIn, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => super::type_number(&s)
                .map(TypeIn)
                .ok_or_else(|| de::Error::custom(format!("unknown Sparkplug datatype '{s}'"))),
            v => unsigned(&v, u64::from(u32::MAX))
                .map(|n| TypeIn(n as u32))
                .map_err(de::Error::custom),
        }
    }
}

/// A JSON object kept in order, duplicate keys and all.
struct Ordered<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Ordered<T>, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Ordered<T>, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = a.next_entry()? {
                    v.push(entry);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

fn describe(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 40 {
        s.truncate(37);
        s.push_str("...");
    }
    s
}

/// An integer in 0..=max, given as a number or a string of digits.
fn unsigned(v: &Value, max: u64) -> Result<u64, String> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    n.filter(|n| *n <= max)
        .ok_or_else(|| format!("expected an integer from 0 to {max}, got {}", describe(v)))
}

/// An integer in min..=max, given as a number or a string of digits.
fn signed(v: &Value, min: i64, max: i64) -> Result<i64, String> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok(),
        _ => None,
    };
    n.filter(|n| (min..=max).contains(n)).ok_or_else(|| {
        format!(
            "expected an integer from {min} to {max}, got {}",
            describe(v)
        )
    })
}

fn float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| format!("expected a number, got {}", describe(v)))
}

/// A scalar value, in the oneof field its datatype travels in.
enum Scalar {
    Int(u32),
    Long(u64),
    Float(f32),
    Double(f64),
    Bool(bool),
    Str(String),
}

/// A value of a basic datatype (Int8 … Text, UUID).
fn scalar(t: u32, v: &Value) -> Result<Scalar, String> {
    Ok(match t {
        dt::INT8 => Scalar::Int(signed(v, -128, 127)? as i32 as u32),
        dt::INT16 => Scalar::Int(signed(v, -32768, 32767)? as i32 as u32),
        dt::INT32 => Scalar::Int(signed(v, i32::MIN.into(), i32::MAX.into())? as i32 as u32),
        dt::INT64 => Scalar::Long(signed(v, i64::MIN, i64::MAX)? as u64),
        dt::UINT8 => Scalar::Int(unsigned(v, 255)? as u32),
        dt::UINT16 => Scalar::Int(unsigned(v, 65535)? as u32),
        dt::UINT32 => Scalar::Int(unsigned(v, u32::MAX.into())? as u32),
        dt::UINT64 => Scalar::Long(unsigned(v, u64::MAX)?),
        dt::DATETIME => Scalar::Long(signed(v, i64::MIN, i64::MAX)? as u64),
        dt::FLOAT => Scalar::Float(float(v)? as f32),
        dt::DOUBLE => Scalar::Double(float(v)?),
        dt::BOOLEAN => Scalar::Bool(v.as_bool().ok_or_else(|| expected("true or false", v))?),
        dt::STRING | dt::TEXT | dt::UUID => Scalar::Str(text(v)?.to_owned()),
        _ => {
            let name = super::type_name(t).unwrap_or("an unknown datatype");
            return Err(format!("{name} ({t}) is not a datatype for this value"));
        }
    })
}

fn expected(what: &str, v: &Value) -> String {
    format!("expected {what}, got {}", describe(v))
}

fn text(v: &Value) -> Result<&str, String> {
    v.as_str().ok_or_else(|| expected("a string", v))
}

/// The datatype a metric's JSON value implies when `dataType` is absent.
fn infer(v: &Value) -> Result<u32, String> {
    match v {
        Value::Bool(_) => Ok(dt::BOOLEAN),
        Value::String(_) => Ok(dt::STRING),
        Value::Number(n) if n.is_i64() => Ok(dt::INT64),
        Value::Number(n) if n.is_u64() => Ok(dt::UINT64),
        Value::Number(_) => Ok(dt::DOUBLE),
        _ => Err("give a dataType for a value that is an array or an object".into()),
    }
}

fn metric(m: MetricIn, path: &str) -> Result<Metric, String> {
    let mut datatype = m.data_type.map(|t| t.0);
    let value = match &m.value {
        Some(v) => {
            let t = match datatype {
                Some(t) => t,
                None => infer(v).map_err(|e| format!("{path}.value: {e}"))?,
            };
            datatype = Some(t);
            Some(metric_value(t, v).map_err(|e| format!("{path}.value: {e}"))?)
        }
        None => None,
    };
    let properties = match m.properties {
        Some(p) => Some(properties(p, &format!("{path}.properties"))?),
        None => None,
    };
    Ok(Metric {
        name: m.name,
        alias: m.alias.map(|a| a.0),
        timestamp: m.timestamp.map(|t| t.0),
        datatype,
        is_historical: m.is_historical,
        is_transient: m.is_transient,
        is_null: m.is_null,
        metadata: m.metadata.map(|d| Box::new(metadata(d))),
        properties,
        value,
    })
}

fn metadata(d: MetaIn) -> MetaData {
    MetaData {
        is_multi_part: d.is_multi_part,
        content_type: d.content_type,
        size: d.size.map(|v| v.0),
        seq: d.seq.map(|v| v.0),
        file_name: d.file_name,
        file_type: d.file_type,
        md5: d.md5,
        description: d.description,
    }
}

fn metric_value(t: u32, v: &Value) -> Result<MetricValue, String> {
    Ok(match t {
        dt::BYTES | dt::FILE => {
            MetricValue::Bytes(style::from_base64(text(v)?).ok_or_else(|| expected("base64", v))?)
        }
        dt::DATASET => MetricValue::DataSet(Box::new(dataset(v)?)),
        dt::TEMPLATE => MetricValue::Template(Box::new(template(v)?)),
        dt::INT8_ARRAY..=dt::DATETIME_ARRAY => MetricValue::Bytes(array(t, v)?),
        _ => match scalar(t, v)? {
            Scalar::Int(x) => MetricValue::Int(x),
            Scalar::Long(x) => MetricValue::Long(x),
            Scalar::Float(x) => MetricValue::Float(x),
            Scalar::Double(x) => MetricValue::Double(x),
            Scalar::Bool(x) => MetricValue::Boolean(x),
            Scalar::Str(x) => MetricValue::String(x),
        },
    })
}

fn cell(t: u32, v: &Value) -> Result<ScalarValue, String> {
    Ok(match scalar(t, v)? {
        Scalar::Int(x) => ScalarValue::Int(x),
        Scalar::Long(x) => ScalarValue::Long(x),
        Scalar::Float(x) => ScalarValue::Float(x),
        Scalar::Double(x) => ScalarValue::Double(x),
        Scalar::Bool(x) => ScalarValue::Boolean(x),
        Scalar::Str(x) => ScalarValue::String(x),
    })
}

fn dataset(v: &Value) -> Result<DataSet, String> {
    let d: DataSetIn = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    let types: Vec<u32> = d.types.iter().map(|t| t.0).collect();
    let mut rows = Vec::with_capacity(d.rows.len());
    for (r, row) in d.rows.iter().enumerate() {
        let mut elements = Vec::with_capacity(row.len());
        for (c, v) in row.iter().enumerate() {
            let value = match (v, types.get(c)) {
                (Value::Null, _) => None,
                (v, Some(&t)) => Some(cell(t, v).map_err(|e| format!("rows[{r}][{c}]: {e}"))?),
                (_, None) => return Err(format!("rows[{r}][{c}]: no type for column {c}")),
            };
            elements.push(DataSetValue { value });
        }
        rows.push(Row { elements });
    }
    Ok(DataSet {
        num_of_columns: Some(d.num_of_columns.map_or(d.columns.len() as u64, |n| n.0)),
        columns: d.columns,
        types,
        rows,
    })
}

fn template(v: &Value) -> Result<Template, String> {
    let t: TemplateIn = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    let mut parameters = Vec::with_capacity(t.parameters.len());
    for (i, p) in t.parameters.into_iter().enumerate() {
        let ty = p.r#type.map(|t| t.0);
        let value = match (&p.value, ty) {
            (None | Some(Value::Null), _) => None,
            (Some(v), Some(ty)) => Some(
                cell(ty, v)
                    .map_err(|e| format!("parameters[{i}].value: {e}"))?
                    .into(),
            ),
            (Some(_), None) => return Err(format!("parameters[{i}]: a value needs a type")),
        };
        parameters.push(Parameter {
            name: p.name,
            r#type: ty,
            value,
        });
    }
    let metrics = t
        .metrics
        .into_iter()
        .enumerate()
        .map(|(i, m)| metric(m, &format!("metrics[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(Template {
        version: t.version,
        metrics,
        parameters,
        template_ref: t.template_ref,
        is_definition: t.is_definition,
    })
}

fn properties(p: Ordered<PropertyIn>, path: &str) -> Result<PropertySet, String> {
    let mut set = PropertySet::default();
    for (k, v) in p.0 {
        let value = property(v).map_err(|e| format!("{path}.{k}: {e}"))?;
        set.keys.push(k);
        set.values.push(value);
    }
    Ok(set)
}

fn property(p: PropertyIn) -> Result<PropertyValue, String> {
    let ty = p.r#type.map(|t| t.0);
    let value = match (&p.value, ty) {
        (None | Some(Value::Null), _) => None,
        (Some(v), None) => return Err(format!("a value needs a type, got {}", describe(v))),
        (Some(v), Some(dt::PROPERTY_SET)) => {
            let inner: Ordered<PropertyIn> =
                serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
            Some(PropertyValueKind::PropertySet(properties(inner, "value")?))
        }
        (Some(v), Some(dt::PROPERTY_SET_LIST)) => {
            let list: Vec<Ordered<PropertyIn>> =
                serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
            let propertyset = list
                .into_iter()
                .enumerate()
                .map(|(i, s)| properties(s, &format!("value[{i}]")))
                .collect::<Result<_, _>>()?;
            Some(PropertyValueKind::PropertySetList(PropertySetList {
                propertyset,
            }))
        }
        (Some(v), Some(t)) => Some(match scalar(t, v).map_err(|e| format!("value: {e}"))? {
            Scalar::Int(x) => PropertyValueKind::Int(x),
            Scalar::Long(x) => PropertyValueKind::Long(x),
            Scalar::Float(x) => PropertyValueKind::Float(x),
            Scalar::Double(x) => PropertyValueKind::Double(x),
            Scalar::Bool(x) => PropertyValueKind::Boolean(x),
            Scalar::Str(x) => PropertyValueKind::String(x),
        }),
    };
    Ok(PropertyValue {
        r#type: ty,
        is_null: p.is_null,
        value,
    })
}

/// An array datatype's JSON array, packed as the specification packs it.
fn array(t: u32, v: &Value) -> Result<Vec<u8>, String> {
    let items = v.as_array().ok_or_else(|| expected("an array", v))?;
    let mut out = Vec::new();
    if t == dt::BOOLEAN_ARRAY {
        let count = u32::try_from(items.len()).map_err(|_| "too many booleans")?;
        out.extend_from_slice(&count.to_le_bytes());
        out.resize(4 + items.len().div_ceil(8), 0);
    }
    for (i, item) in items.iter().enumerate() {
        let at = |e: String| format!("[{i}]: {e}");
        match t {
            dt::INT8_ARRAY => out.push(signed(item, -128, 127).map_err(at)? as i8 as u8),
            dt::INT16_ARRAY => out.extend_from_slice(
                &(signed(item, -32768, 32767).map_err(at)? as i16).to_le_bytes(),
            ),
            dt::INT32_ARRAY => out.extend_from_slice(
                &(signed(item, i32::MIN.into(), i32::MAX.into()).map_err(at)? as i32).to_le_bytes(),
            ),
            dt::INT64_ARRAY | dt::DATETIME_ARRAY => {
                out.extend_from_slice(&signed(item, i64::MIN, i64::MAX).map_err(at)?.to_le_bytes())
            }
            dt::UINT8_ARRAY => out.push(unsigned(item, 255).map_err(at)? as u8),
            dt::UINT16_ARRAY => {
                out.extend_from_slice(&(unsigned(item, 65535).map_err(at)? as u16).to_le_bytes())
            }
            dt::UINT32_ARRAY => out.extend_from_slice(
                &(unsigned(item, u32::MAX.into()).map_err(at)? as u32).to_le_bytes(),
            ),
            dt::UINT64_ARRAY => {
                out.extend_from_slice(&unsigned(item, u64::MAX).map_err(at)?.to_le_bytes())
            }
            dt::FLOAT_ARRAY => {
                out.extend_from_slice(&(float(item).map_err(at)? as f32).to_le_bytes())
            }
            dt::DOUBLE_ARRAY => out.extend_from_slice(&float(item).map_err(at)?.to_le_bytes()),
            dt::BOOLEAN_ARRAY => {
                if item
                    .as_bool()
                    .ok_or_else(|| at(expected("true or false", item)))?
                {
                    out[4 + i / 8] |= 0x80 >> (i % 8);
                }
            }
            _ => {
                let s = text(item).map_err(at)?;
                if s.contains('\0') {
                    return Err(at("a StringArray string cannot hold NUL".into()));
                }
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
        }
    }
    Ok(out)
}
