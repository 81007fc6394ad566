//! [`Value`](super::Value) → any `Deserialize` type, with errors naming the path, and
//! `Deserialize` for the value types.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::Deserialize;

use super::ser::{
    fmt_path, geometry_to_object, magic, parse_file_ref, range_from_value, range_to_object, Segment,
};
use super::{
    Datetime, Decimal, Duration, FileRef, Geometry, Object, Range, RecordId, Table, Uuid, Value,
};

/// A value could not be converted; the message names the path and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeError(pub String);

/// Converts a [`Value`] into any `Deserialize` type.
///
/// NONE and NULL both become `Option::None`; a NONE field counts as missing, so
/// `#[serde(default)]` applies. Ints convert to floats; floats convert to ints only when
/// exact. Errors read like ``field `age`: expected i64, found string "x"``.
pub fn from_value<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, DeError> {
    T::deserialize(ValueDeserializer(v)).map_err(|e| DeError(e.render(None)))
}

/// Like [`from_value`], but errors name `context` as the place of the value, e.g. with
/// `context = "row 3"`: ``field `age` of row 3: expected i64, found string "x"``
/// (or `row 3: expected …` for an error at the top level).
pub fn from_value_at<T: serde::de::DeserializeOwned>(
    v: Value,
    context: &str,
) -> Result<T, DeError> {
    T::deserialize(ValueDeserializer(v)).map_err(|e| DeError(e.render(Some(context))))
}

/// The error while deserializing: the path is collected innermost-first as it unwinds.
#[derive(Debug)]
struct Error {
    rev_path: Vec<Segment>,
    msg: String,
}

impl Error {
    fn new(msg: impl Into<String>) -> Self {
        Error {
            rev_path: Vec::new(),
            msg: msg.into(),
        }
    }
    fn at(mut self, seg: Segment) -> Self {
        self.rev_path.push(seg);
        self
    }
    fn render(&self, context: Option<&str>) -> String {
        let path: Vec<Segment> = self.rev_path.iter().rev().cloned().collect();
        match (path.is_empty(), context) {
            (true, None) => self.msg.clone(),
            (true, Some(c)) => format!("{c}: {}", self.msg),
            (false, None) => format!("field `{}`: {}", fmt_path(&path), self.msg),
            (false, Some(c)) => format!("field `{}` of {c}: {}", fmt_path(&path), self.msg),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(None))
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(msg.to_string())
    }
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Error::new(format!("expected {exp}, found {unexp}"))
    }
    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Error::new(format!("expected {exp}, found {unexp}"))
    }
    fn missing_field(field: &'static str) -> Self {
        Error::new("missing (absent or NONE) and not optional").at(Segment::Field(field.to_owned()))
    }
}

/// Describes a value for "found …" in errors, like serde's `Unexpected` does.
fn found(v: &Value) -> String {
    fn clip(s: &str) -> String {
        let mut out: String = s.chars().take(40).collect();
        if out.len() < s.len() {
            out.push('…');
        }
        out
    }
    match v {
        Value::None => "NONE".into(),
        Value::Null => "NULL".into(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Int(i) => format!("integer `{i}`"),
        Value::Float(f) => format!("floating point `{f}`"),
        Value::String(s) => format!("string {:?}", clip(s)),
        Value::Array(a) => format!("array of {} elements", a.len()),
        Value::Set(a) => format!("set of {} elements", a.len()),
        Value::Object(_) => "object".into(),
        Value::Bytes(b) => format!("{} bytes", b.len()),
        other => format!("{} {}", other.kind(), clip(&other.to_string())),
    }
}

fn invalid(v: &Value, exp: &dyn de::Expected) -> Error {
    Error::new(format!("expected {exp}, found {}", found(v)))
}

/// The text form a typed scalar is served as (to `deserialize_str`, `deserialize_any` and
/// the magic newtypes); `None` for values that are not typed scalars.
fn typed_text(v: &Value) -> Option<(&'static str, String)> {
    Some(match v {
        Value::Datetime(d) => (magic::DATETIME, d.to_string()),
        Value::Duration(d) => (magic::DURATION, d.to_string()),
        Value::Uuid(u) => (magic::UUID, u.to_string()),
        Value::Decimal(d) => (magic::DECIMAL, d.as_str().to_owned()),
        Value::Table(t) => (magic::TABLE, t.as_str().to_owned()),
        Value::RecordId(r) => (magic::RECORD_ID, r.to_string()),
        Value::File(f) => (magic::FILE, f.to_string()),
        _ => return None,
    })
}

/// A `serde::Deserializer` over an owned [`Value`].
struct ValueDeserializer(Value);

impl ValueDeserializer {
    /// An int visitor fed from an int, an exact float, or integral decimal text.
    fn int<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Int(i) => visitor.visit_i64(i),
            Value::Float(f) if f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63) => {
                visitor.visit_i64(f as i64)
            }
            Value::Decimal(ref d) => match d.as_str().parse::<i64>() {
                Ok(i) => visitor.visit_i64(i),
                Err(_) => Err(invalid(&self.0, &visitor)),
            },
            ref other => Err(invalid(other, &visitor)),
        }
    }

    fn float<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Float(f) => visitor.visit_f64(f),
            Value::Int(i) => visitor.visit_f64(i as f64),
            Value::Decimal(ref d) => match d.as_str().parse::<f64>() {
                Ok(f) => visitor.visit_f64(f),
                Err(_) => Err(invalid(&self.0, &visitor)),
            },
            ref other => Err(invalid(other, &visitor)),
        }
    }
}

fn visit_array<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value, Error> {
    let len = items.len();
    let mut seq = SeqDe {
        iter: items.into_iter(),
        index: 0,
    };
    let out = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements"))
    }
}

fn visit_object<'de, V: Visitor<'de>>(o: Object, visitor: V) -> Result<V::Value, Error> {
    visitor.visit_map(MapDe {
        iter: o.into_iter(),
        value: None,
    })
}

macro_rules! forward_int {
    ($($f:ident)*) => {$(
        fn $f<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.int(visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for ValueDeserializer {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::None => visitor.visit_none(),
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::Float(f) => visitor.visit_f64(f),
            Value::String(s) => visitor.visit_string(s),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::Array(a) | Value::Set(a) => visit_array(a, visitor),
            Value::Object(o) => visit_object(o, visitor),
            Value::Geometry(g) => visit_object(geometry_to_object(&g), visitor),
            Value::Range(r) => visit_object(range_to_object(&r), visitor),
            ref v => match typed_text(v) {
                Some((_, text)) => visitor.visit_string(text),
                None => Err(invalid(v, &visitor)),
            },
        }
    }

    forward_int!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
                 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.float(visitor)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.float(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Bool(b) => visitor.visit_bool(b),
            ref other => Err(invalid(other, &visitor)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => visitor.visit_string(s),
            ref v => match typed_text(v) {
                Some((_, text)) => visitor.visit_string(text),
                None => Err(invalid(v, &visitor)),
            },
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }
    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(a) => visit_array(a, visitor),
            ref other => Err(invalid(other, &visitor)),
        }
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::None | Value::Null => visitor.visit_none(),
            v => visitor.visit_some(ValueDeserializer(v)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::None | Value::Null => visitor.visit_unit(),
            ref other => Err(invalid(other, &visitor)),
        }
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == magic::VALUE {
            // `Value`'s own Deserialize: typed values arrive as an enum whose variant is
            // their magic name, so nothing is lost; plain values arrive as themselves.
            let (variant, payload) = match self.0 {
                Value::None => (magic::NONE, Value::None),
                Value::Null => (magic::NULL, Value::None),
                Value::Set(s) => (magic::SET, Value::Array(s)),
                Value::Geometry(g) => (magic::GEOMETRY, Value::Object(geometry_to_object(&g))),
                Value::Range(r) => (magic::RANGE, Value::Object(range_to_object(&r))),
                v => match typed_text(&v) {
                    Some((name, text)) => (name, Value::String(text)),
                    None => return ValueDeserializer(v).deserialize_any(visitor),
                },
            };
            return visitor.visit_enum(MagicEnum { variant, payload });
        }
        if !name.starts_with("$surql::") {
            return visitor.visit_newtype_struct(self);
        }
        match self.0 {
            Value::Set(s) if name == magic::SET => visit_array(s, visitor),
            Value::Geometry(g) if name == magic::GEOMETRY => {
                visit_object(geometry_to_object(&g), visitor)
            }
            Value::Range(r) if name == magic::RANGE => visit_object(range_to_object(&r), visitor),
            v => ValueDeserializer(v).deserialize_any(visitor),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(a) | Value::Set(a) => visit_array(a, visitor),
            Value::Bytes(b) => visit_array(
                b.into_iter().map(|x| Value::Int(i64::from(x))).collect(),
                visitor,
            ),
            ref other => Err(invalid(other, &visitor)),
        }
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(o) => visit_object(o, visitor),
            Value::Geometry(g) => visit_object(geometry_to_object(&g), visitor),
            Value::Range(r) => visit_object(range_to_object(&r), visitor),
            ref other => Err(invalid(other, &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(mut o) => {
                // A NONE field is an absent field (the server does not even store it), so
                // `#[serde(default)]` and `Option` treat both alike.
                o.retain(|_, v| !v.is_none());
                visit_object(o, visitor)
            }
            Value::Array(a) => visit_array(a, visitor),
            ref other => Err(invalid(other, &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.into_deserializer()),
            Value::Object(o) if o.len() == 1 => {
                let Some((variant, payload)) = o.into_iter().next() else {
                    return Err(Error::new("empty object cannot name an enum variant"));
                };
                visitor.visit_enum(TaggedEnum { variant, payload })
            }
            ref other => Err(invalid(other, &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

impl<'de> IntoDeserializer<'de, Error> for ValueDeserializer {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

struct SeqDe {
    iter: std::vec::IntoIter<Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for SeqDe {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(v) = self.iter.next() else {
            return Ok(None);
        };
        let i = self.index;
        self.index += 1;
        seed.deserialize(ValueDeserializer(v))
            .map(Some)
            .map_err(|e| e.at(Segment::Index(i)))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDe {
    iter: std::collections::btree_map::IntoIter<String, Value>,
    value: Option<(String, Value)>,
}

impl<'de> MapAccess<'de> for MapDe {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((k, v)) = self.iter.next() else {
            return Ok(None);
        };
        let key = seed
            .deserialize(ValueDeserializer(Value::String(k.clone())))
            .map_err(|e| e.at(Segment::Field(k.clone())))?;
        self.value = Some((k, v));
        Ok(Some(key))
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let (k, v) = self
            .value
            .take()
            .ok_or_else(|| Error::new("map value requested before its key"))?;
        seed.deserialize(ValueDeserializer(v))
            .map_err(|e| e.at(Segment::Field(k)))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An externally tagged enum `{"Variant": payload}`.
struct TaggedEnum {
    variant: String,
    payload: Value,
}

impl<'de> EnumAccess<'de> for TaggedEnum {
    type Error = Error;
    type Variant = TaggedVariant;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, TaggedVariant), Error> {
        let v = seed.deserialize(ValueDeserializer(Value::String(self.variant.clone())))?;
        Ok((
            v,
            TaggedVariant {
                variant: self.variant,
                payload: self.payload,
            },
        ))
    }
}

struct TaggedVariant {
    variant: String,
    payload: Value,
}

impl<'de> VariantAccess<'de> for TaggedVariant {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        match self.payload {
            Value::None | Value::Null => Ok(()),
            ref other => Err(Error::new(format!(
                "expected no data for a unit variant, found {}",
                found(other)
            ))
            .at(Segment::Field(self.variant))),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        let variant = self.variant;
        seed.deserialize(ValueDeserializer(self.payload))
            .map_err(|e| e.at(Segment::Field(variant)))
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        let variant = self.variant;
        ValueDeserializer(self.payload)
            .deserialize_seq(visitor)
            .map_err(|e| e.at(Segment::Field(variant)))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let variant = self.variant;
        ValueDeserializer(self.payload)
            .deserialize_struct("", fields, visitor)
            .map_err(|e| e.at(Segment::Field(variant)))
    }
}

/// The enum a typed value is handed to `Value`'s visitor as: variant = magic name.
struct MagicEnum {
    variant: &'static str,
    payload: Value,
}

impl<'de> EnumAccess<'de> for MagicEnum {
    type Error = Error;
    type Variant = ValueDeserializer;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, ValueDeserializer), Error> {
        let v = seed.deserialize(ValueDeserializer(Value::String(self.variant.to_owned())))?;
        Ok((v, ValueDeserializer(self.payload)))
    }
}

impl<'de> VariantAccess<'de> for ValueDeserializer {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }
}

// ---------------------------------------------------------------------------------------
// `Deserialize` for the value types.

struct ValueVisitor;

fn typed_from_text<E: de::Error>(name: &str, text: &str) -> Result<Value, E> {
    let r = match name {
        magic::DATETIME => Datetime::parse(text)
            .map(Value::Datetime)
            .map_err(|e| e.to_string()),
        magic::DURATION => Duration::parse(text)
            .map(Value::Duration)
            .map_err(|e| e.to_string()),
        magic::UUID => Uuid::parse(text)
            .map(Value::Uuid)
            .map_err(|e| e.to_string()),
        magic::DECIMAL => Decimal::parse(text)
            .map(Value::Decimal)
            .map_err(|e| e.to_string()),
        magic::TABLE => Ok(Value::Table(Table(text.to_owned()))),
        magic::RECORD_ID => crate::escape::parse_record_id(text)
            .map(Value::RecordId)
            .map_err(|e| e.to_string()),
        magic::FILE => parse_file_ref(text).map(Value::File),
        other => Err(format!("unknown typed value {other:?}")),
    };
    r.map_err(E::custom)
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any SurrealDB value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        // Foreign formats (JSON) may hold integers above i64::MAX: keep them exact as decimals.
        Ok(i64::try_from(v).map_or_else(|_| Value::Decimal(Decimal(v.to_string())), Value::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or_else(|_| Value::Decimal(Decimal(v.to_string())), Value::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or_else(|_| Value::Decimal(Decimal(v.to_string())), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Object::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (name, variant): (String, _) = data.variant()?;
        match name.as_str() {
            magic::NONE => variant.unit_variant().map(|()| Value::None),
            magic::NULL => variant.unit_variant().map(|()| Value::Null),
            magic::SET => variant.newtype_variant::<Vec<Value>>().map(Value::Set),
            magic::GEOMETRY => match variant.newtype_variant::<Value>()? {
                Value::Object(o) => crate::escape::geometry_from_object(&o)
                    .map(Value::Geometry)
                    .ok_or_else(|| de::Error::custom("invalid GeoJSON-like geometry map")),
                other => Err(de::Error::custom(format!(
                    "a geometry must be a map, found {}",
                    other.kind()
                ))),
            },
            magic::RANGE => range_from_value(variant.newtype_variant::<Value>()?)
                .map(|r| Value::Range(Box::new(r)))
                .map_err(de::Error::custom),
            n if n.starts_with("$surql::") => {
                let text: String = variant.newtype_variant()?;
                typed_from_text(n, &text)
            }
            _ => {
                // A genuine enum from a foreign format: keep it externally tagged.
                let payload: Value = variant.newtype_variant()?;
                let mut o = Object::new();
                o.insert(name, payload);
                Ok(Value::Object(o))
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    /// From [`from_value`]: exactly the value that was there (typed scalars, NONE vs NULL);
    /// from foreign formats: plain values (JSON null ⇒ NULL, strings stay strings).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_newtype_struct(magic::VALUE, ValueVisitor)
    }
}

/// Reads a typed scalar from its text form (or a matching native form).
struct TextVisitor<T> {
    what: &'static str,
    parse: fn(&str) -> Result<T, String>,
}

impl<'de, T> Visitor<'de> for TextVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_str(self)
    }
}

macro_rules! de_from_text {
    ($($t:ty => $name:ident, $what:literal, $parse:expr;)*) => {$(
        impl<'de> Deserialize<'de> for $t {
            /// From the value itself or from its text form.
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_newtype_struct(
                    magic::$name,
                    TextVisitor { what: $what, parse: $parse },
                )
            }
        }
    )*};
}

de_from_text! {
    Datetime => DATETIME, "a datetime (RFC 3339 text)", |s| Datetime::parse(s).map_err(|e| e.to_string());
    Duration => DURATION, "a duration (text like `1h30m`)", |s| Duration::parse(s).map_err(|e| e.to_string());
    Uuid => UUID, "a uuid (hyphenated text)", |s| Uuid::parse(s).map_err(|e| e.to_string());
    Table => TABLE, "a table name", |s| Ok(Table(s.to_owned()));
    RecordId => RECORD_ID, "a record id (text like `person:tobie`)", |s| crate::escape::parse_record_id(s).map_err(|e| e.to_string());
    FileRef => FILE, "a file reference (text like `bucket:/key`)", parse_file_ref;
}

/// Decimals also accept native numbers from foreign formats.
struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Decimal;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal (number or decimal text)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        Decimal::parse(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        Decimal::parse(&v.to_string()).map_err(E::custom)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Decimal, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    /// From the value itself, decimal text, or an integer/float.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(magic::DECIMAL, DecimalVisitor)
    }
}

impl<'de> Deserialize<'de> for Geometry {
    /// From the value itself or a GeoJSON-like map `{type, coordinates}`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_newtype_struct(magic::GEOMETRY, ValueVisitor)? {
            Value::Geometry(g) => Ok(g),
            Value::Object(o) => crate::escape::geometry_from_object(&o).ok_or_else(|| {
                de::Error::custom("invalid GeoJSON-like geometry map {type, coordinates}")
            }),
            other => Err(de::Error::custom(format!(
                "expected a geometry map {{type, coordinates}}, found {}",
                other.kind()
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for Range {
    /// From the value itself or a map `{start, end}` with externally tagged bounds.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_newtype_struct(magic::RANGE, ValueVisitor)?;
        range_from_value(v).map_err(de::Error::custom)
    }
}
