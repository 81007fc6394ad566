//! Any `Serialize` type → [`Value`](super::Value), and `Serialize` for the value types.
//!
//! Typed SurrealDB scalars travel through serde as newtype structs with the magic names in
//! [`magic`]: [`to_value`] recognises them and rebuilds the typed value, while foreign
//! serializers (serde_json) just see a transparent newtype around readable text.
//!
//! Inside a magic newtype, surql's serializers report `is_human_readable() == false`, and
//! datetimes, durations, uuids, record ids and file references then hand over their
//! native parts (`[secs, nanos]`, 16 bytes, `[table, key]`, …) instead of text, so no text
//! is formatted and parsed again; their `Deserialize` accepts both forms. User types never
//! see the flag change: only the payloads of surql's own types are serialized that way.

use std::fmt;

use serde::ser::{self, Serialize, SerializeMap as _, Serializer};

use super::{
    Bound, Datetime, Decimal, Duration, FileRef, Geometry, KeyRange, Object, Point, Range,
    RecordId, RecordIdKey, Table, Uuid, Value,
};

/// Newtype-struct names that mark typed values inside serde data. The typed scalars wrap
/// their text form for human-readable formats and their native parts otherwise (noted
/// after "or").
#[doc(hidden)]
pub mod magic {
    /// `Value` itself (used by `Value`'s `Deserialize` to ask for typed values).
    pub const VALUE: &str = "$surql::Value";
    /// RFC 3339 UTC text, or `(secs: i64, nanos: u32)`.
    pub const DATETIME: &str = "$surql::Datetime";
    /// SurrealQL duration text (`1h30m`), or a sequence `[]`, `[secs]`, `[secs, nanos]`.
    pub const DURATION: &str = "$surql::Duration";
    /// Hyphenated UUID text, or 16 bytes.
    pub const UUID: &str = "$surql::Uuid";
    /// Decimal text.
    pub const DECIMAL: &str = "$surql::Decimal";
    /// The raw table name.
    pub const TABLE: &str = "$surql::Table";
    /// Record-id text as `escape::write_record_id` renders it, or `(table, key)` with the
    /// key as the value it is (a range key as a `RANGE` of key values).
    pub const RECORD_ID: &str = "$surql::RecordId";
    /// `bucket:/key` text, or `(bucket, key)`.
    pub const FILE: &str = "$surql::File";
    /// NONE: a unit struct.
    pub const NONE: &str = "$surql::None";
    /// NULL: a unit struct.
    pub const NULL: &str = "$surql::Null";
    /// A set: wraps a sequence.
    pub const SET: &str = "$surql::Set";
    /// A geometry: wraps a GeoJSON-like map `{type, coordinates}` (or `{type, geometries}`).
    pub const GEOMETRY: &str = "$surql::Geometry";
    /// A range: wraps a map `{start, end}` whose bounds are externally tagged
    /// `{"Included": v}`, `{"Excluded": v}` or the string `"Unbounded"`.
    pub const RANGE: &str = "$surql::Range";

    /// Crate-internal access to the serde bridge for the direct CBOR (de)serializers
    /// (the `value::de`/`value::ser` modules themselves are private to `value`).
    pub(crate) mod bridge {
        pub(crate) use crate::value::de::{Error as DeError, ValueDeserializer};
        pub(crate) use crate::value::ser::{
            magic_to_value, Error as SerError, KeySerializer, Segment,
        };
    }
}

/// Options for [`to_value_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SerializeOptions {
    /// Send integers outside `i64` (u64 above `i64::MAX`, i128, u128) as decimals instead
    /// of refusing them.
    pub big_ints_as_decimal: bool,
}

/// A value could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SerError(pub String);

/// Converts any `Serialize` value into a [`Value`] with default options.
pub fn to_value<T: serde::Serialize + ?Sized>(v: &T) -> Result<Value, SerError> {
    to_value_with(v, SerializeOptions::default())
}

/// Converts any `Serialize` value into a [`Value`].
///
/// `None` and `()` become NONE (never NULL), also inside objects; integers outside `i64`
/// are refused (naming the field) unless `opts.big_ints_as_decimal`; map keys must be
/// strings, integers or bools; enums are externally tagged (`{"Variant": value}`, unit
/// variants as strings).
pub fn to_value_with<T: serde::Serialize + ?Sized>(
    v: &T,
    opts: SerializeOptions,
) -> Result<Value, SerError> {
    v.serialize(ValueSerializer {
        opts,
        native: false,
    })
    .map_err(|e| SerError(e.to_string()))
}

/// The typed value behind a magic newtype `name` wrapping `payload` (what `to_value`
/// makes of `serialize_newtype_struct(name, payload)`), for serializers that meet one.
pub(crate) fn magic_to_value<T: Serialize + ?Sized>(
    name: &str,
    payload: &T,
) -> Result<Value, SerError> {
    let payload = payload
        .serialize(NATIVE)
        .map_err(|e| SerError(e.to_string()))?;
    magic_value(name, payload).map_err(SerError)
}

/// One step of a path inside the serialized data.
#[derive(Debug, Clone)]
pub(crate) enum Segment {
    Field(String),
    Index(usize),
}

/// Renders a path like `address.city`, `tags[2]`, `[3].name`.
pub(crate) fn fmt_path(path: &[Segment]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Segment::Field(f) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(f);
            }
            Segment::Index(i) => {
                s.push('[');
                s.push_str(&i.to_string());
                s.push(']');
            }
        }
    }
    s
}

/// The error while serializing: the path is collected innermost-first as it unwinds.
#[derive(Debug)]
pub(crate) struct Error {
    rev_path: Vec<Segment>,
    msg: String,
}

impl Error {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Error {
            rev_path: Vec::new(),
            msg: msg.into(),
        }
    }
    pub(crate) fn at(mut self, seg: Segment) -> Self {
        self.rev_path.push(seg);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rev_path.is_empty() {
            return f.write_str(&self.msg);
        }
        let path: Vec<Segment> = self.rev_path.iter().rev().cloned().collect();
        write!(f, "field `{}`: {}", fmt_path(&path), self.msg)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(msg.to_string())
    }
}

#[derive(Clone, Copy)]
struct ValueSerializer {
    opts: SerializeOptions,
    /// Set while serializing the payload of a magic newtype: the typed scalars then hand
    /// over their native parts (`[secs, nanos]`, uuid bytes, `[table, key]`) instead of
    /// text. Only surql's own types ever look at it (through `is_human_readable`).
    native: bool,
}

/// The serializer for magic newtype payloads. Those are surql's own types only, whose
/// integers are all meant to arrive (duration seconds may exceed `i64::MAX`, so they come
/// as decimals rather than being refused).
const NATIVE: ValueSerializer = ValueSerializer {
    opts: SerializeOptions {
        big_ints_as_decimal: true,
    },
    native: true,
};

impl ValueSerializer {
    fn big_int(self, text: String) -> Result<Value, Error> {
        if self.opts.big_ints_as_decimal {
            Decimal::parse(&text)
                .map(Value::Decimal)
                .map_err(|e| Error::new(e.to_string()))
        } else {
            Err(Error::new(format!(
                "integer {text} does not fit in SurrealDB's 64-bit signed range; use a smaller \
                 type or set SerializeOptions::big_ints_as_decimal to send it as a decimal"
            )))
        }
    }
}

fn typed<T, E: fmt::Display>(r: Result<T, E>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

/// An integer payload part, checked into `T`'s range.
fn part<T: TryFrom<i64> + std::str::FromStr>(v: &Value, what: &str) -> Result<T, String> {
    match v {
        Value::Int(i) => T::try_from(*i).map_err(|_| format!("{what} {i} is out of range")),
        // Duration seconds above i64::MAX (see `NATIVE`).
        Value::Decimal(d) => d
            .as_str()
            .parse()
            .map_err(|_| format!("{what} {} is out of range", d.as_str())),
        other => Err(format!("{what} must be an integer, found {}", other.kind())),
    }
}

/// Rebuilds the typed value a magic newtype named `name` stands for from its payload:
/// the native parts surql's own types send (see [`ValueSerializer::native`]) or the text
/// form anything else may send.
pub(crate) fn magic_value(name: &str, payload: Value) -> Result<Value, String> {
    let wrong = |p: &Value, want: &str| {
        Err(format!(
            "{name} must wrap {want}, found {}",
            match p {
                Value::Array(a) => format!("an array of {} items", a.len()),
                other => other.kind().to_owned(),
            }
        ))
    };
    Ok(match (name, payload) {
        (magic::DATETIME, Value::String(s)) => Value::Datetime(typed(Datetime::parse(&s))?),
        (magic::DATETIME, Value::Array(a)) if a.len() == 2 => {
            let secs = part::<i64>(&a[0], "datetime seconds")?;
            let nanos = part::<u32>(&a[1], "datetime nanoseconds")?;
            Value::Datetime(
                Datetime::from_unix(secs, nanos)
                    .ok_or_else(|| format!("datetime nanoseconds {nanos} are out of range"))?,
            )
        }
        (magic::DATETIME, p) => return wrong(&p, "text or [secs, nanos]"),
        (magic::DURATION, Value::String(s)) => Value::Duration(typed(Duration::parse(&s))?),
        (magic::DURATION, Value::Array(a)) if a.len() <= 2 => {
            let secs = a
                .first()
                .map_or(Ok(0), |v| part::<u64>(v, "duration seconds"))?;
            let nanos = a
                .get(1)
                .map_or(Ok(0), |v| part::<u32>(v, "duration nanoseconds"))?;
            Value::Duration(
                (nanos < 1_000_000_000)
                    .then_some(Duration { secs, nanos })
                    .ok_or_else(|| format!("duration nanoseconds {nanos} are out of range"))?,
            )
        }
        (magic::DURATION, p) => return wrong(&p, "text or [secs, nanos]"),
        (magic::UUID, Value::String(s)) => Value::Uuid(typed(Uuid::parse(&s))?),
        (magic::UUID, Value::Bytes(b)) => match <[u8; 16]>::try_from(b.as_slice()) {
            Ok(a) => Value::Uuid(Uuid(a)),
            Err(_) => return Err(format!("a uuid must be 16 bytes, found {}", b.len())),
        },
        (magic::UUID, p) => return wrong(&p, "text or 16 bytes"),
        (magic::DECIMAL, Value::String(s)) => Value::Decimal(typed(Decimal::parse(&s))?),
        (magic::DECIMAL, p) => return wrong(&p, "text"),
        (magic::TABLE, Value::String(s)) => Value::Table(Table(s)),
        (magic::TABLE, p) => return wrong(&p, "text"),
        (magic::RECORD_ID, Value::String(s)) => {
            Value::RecordId(typed(crate::escape::parse_record_id(&s))?)
        }
        (magic::RECORD_ID, Value::Array(a)) if a.len() == 2 => {
            let mut it = a.into_iter();
            match (it.next(), it.next()) {
                (Some(Value::String(table)), Some(key)) => Value::RecordId(RecordId {
                    table,
                    key: key_from_value(key)?,
                }),
                (Some(other), _) => {
                    return Err(format!(
                        "a record id table must be text, found {}",
                        other.kind()
                    ))
                }
                _ => return Err("a record id needs [table, key]".into()),
            }
        }
        (magic::RECORD_ID, p) => return wrong(&p, "text or [table, key]"),
        (magic::FILE, Value::String(s)) => Value::File(parse_file_ref(&s)?),
        (magic::FILE, Value::Array(a)) if a.len() == 2 => {
            let mut it = a.into_iter();
            match (it.next(), it.next()) {
                (Some(Value::String(bucket)), Some(Value::String(key))) => {
                    Value::File(FileRef { bucket, key })
                }
                _ => return Err("a file reference needs [bucket, key] as text".into()),
            }
        }
        (magic::FILE, p) => return wrong(&p, "text or [bucket, key]"),
        (magic::NONE, _) => Value::None,
        (magic::NULL, _) => Value::Null,
        (magic::SET, Value::Array(a) | Value::Set(a)) => Value::Set(a),
        (magic::SET, p) => return Err(format!("a set must wrap a sequence, found {}", p.kind())),
        (magic::GEOMETRY, Value::Object(o)) => Value::Geometry(
            crate::escape::geometry_from_object(&o)
                .ok_or("a geometry must be a GeoJSON-like map {type, coordinates}")?,
        ),
        (magic::GEOMETRY, g @ Value::Geometry(_)) => g,
        (magic::GEOMETRY, p) => {
            return Err(format!("a geometry must wrap a map, found {}", p.kind()))
        }
        (magic::RANGE, p) => Value::Range(Box::new(range_from_value(p)?)),
        (_, p) => p,
    })
}

fn map_bound<A, B>(b: Bound<A>, f: impl Fn(A) -> Result<B, String>) -> Result<Bound<B>, String> {
    Ok(match b {
        Bound::Included(x) => Bound::Included(f(x)?),
        Bound::Excluded(x) => Bound::Excluded(f(x)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

/// The value a record id key travels as (the inverse of [`key_from_value`]).
pub(crate) fn key_to_value(k: RecordIdKey) -> Value {
    match k {
        RecordIdKey::String(s) => Value::String(s),
        RecordIdKey::Int(i) => Value::Int(i),
        RecordIdKey::Uuid(u) => Value::Uuid(u),
        RecordIdKey::Array(a) => Value::Array(a),
        RecordIdKey::Object(o) => Value::Object(o),
        RecordIdKey::Range(r) => {
            let KeyRange { start, end } = *r;
            let conv = |b: Bound<RecordIdKey>| match b {
                Bound::Included(k) => Bound::Included(key_to_value(k)),
                Bound::Excluded(k) => Bound::Excluded(key_to_value(k)),
                Bound::Unbounded => Bound::Unbounded,
            };
            Value::Range(Box::new(Range {
                start: conv(start),
                end: conv(end),
            }))
        }
    }
}

/// The key of a record id from the value it travels as (the inverse of [`KeyPayload`]).
pub(crate) fn key_from_value(v: Value) -> Result<RecordIdKey, String> {
    Ok(match v {
        Value::String(s) => RecordIdKey::String(s),
        Value::Int(i) => RecordIdKey::Int(i),
        Value::Uuid(u) => RecordIdKey::Uuid(u),
        // A compact foreign format hands a uuid key over as its 16 bytes; no key is bytes.
        Value::Bytes(b) if b.len() == 16 => match <[u8; 16]>::try_from(b.as_slice()) {
            Ok(a) => RecordIdKey::Uuid(Uuid(a)),
            Err(_) => return Err("a record id key cannot be bytes".into()),
        },
        Value::Array(a) => RecordIdKey::Array(a),
        Value::Object(o) => RecordIdKey::Object(o),
        Value::Range(r) => {
            let Range { start, end } = *r;
            RecordIdKey::Range(Box::new(KeyRange {
                start: map_bound(start, key_from_value)?,
                end: map_bound(end, key_from_value)?,
            }))
        }
        other => {
            return Err(format!(
                "a record id key must be text, an integer, a uuid, an array or an object, found {}",
                other.kind()
            ))
        }
    })
}

macro_rules! ser_int {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<Value, Error> {
            match i64::try_from(v) {
                Ok(i) => Ok(Value::Int(i)),
                Err(_) => self.big_int(v.to_string()),
            }
        }
    )*};
}

impl Serializer for ValueSerializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = VariantSer<SeqSer>;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = VariantSer<MapSer>;

    ser_int!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
             serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
             serialize_i128: i128, serialize_u128: u128);

    fn is_human_readable(&self) -> bool {
        !self.native
    }
    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(Value::Bool(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, Error> {
        Ok(Value::Float(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, Error> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value, Error> {
        Ok(Value::None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(Value::None)
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Value, Error> {
        Ok(if name == magic::NULL {
            Value::Null
        } else {
            Value::None
        })
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Value, Error> {
        Ok(Value::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        if !name.starts_with("$surql::") {
            return v.serialize(self);
        }
        let payload = v.serialize(NATIVE)?;
        magic_value(name, payload).map_err(Error::new)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        let inner = v
            .serialize(self)
            .map_err(|e| e.at(Segment::Field(variant.to_owned())))?;
        let mut o = Object::new();
        o.insert(variant.to_owned(), inner);
        Ok(Value::Object(o))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, Error> {
        Ok(SeqSer {
            ser: self,
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqSer, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantSer<SeqSer>, Error> {
        Ok(VariantSer {
            variant,
            inner: self.serialize_seq(Some(len))?,
        })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapSer, Error> {
        Ok(MapSer {
            ser: self,
            map: Object::new(),
            key: None,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<MapSer, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantSer<MapSer>, Error> {
        Ok(VariantSer {
            variant,
            inner: self.serialize_map(Some(len))?,
        })
    }
}

struct SeqSer {
    ser: ValueSerializer,
    items: Vec<Value>,
}

impl SeqSer {
    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let i = self.items.len();
        self.items
            .push(v.serialize(self.ser).map_err(|e| e.at(Segment::Index(i)))?);
        Ok(())
    }
}

impl ser::SerializeSeq for SeqSer {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.push(v)
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Array(self.items))
    }
}
impl ser::SerializeTuple for SeqSer {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.push(v)
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Array(self.items))
    }
}
impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.push(v)
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Array(self.items))
    }
}

struct MapSer {
    ser: ValueSerializer,
    map: Object,
    key: Option<String>,
}

impl MapSer {
    fn field<T: Serialize + ?Sized>(&mut self, key: String, v: &T) -> Result<(), Error> {
        // `None` fields are kept as NONE values: dropping them is the server's decision.
        let v = v
            .serialize(self.ser)
            .map_err(|e| e.at(Segment::Field(key.clone())))?;
        self.map.insert(key, v);
        Ok(())
    }
}

impl ser::SerializeMap for MapSer {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Error> {
        self.key = Some(k.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error::new("map value serialized before its key"))?;
        self.field(key, v)
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Object(self.map))
    }
}
impl ser::SerializeStruct for MapSer {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.field(key.to_owned(), v)
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Object(self.map))
    }
}

struct VariantSer<S> {
    variant: &'static str,
    inner: S,
}

fn wrap_variant(variant: &str, v: Value) -> Value {
    let mut o = Object::new();
    o.insert(variant.to_owned(), v);
    Value::Object(o)
}

impl ser::SerializeTupleVariant for VariantSer<SeqSer> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let variant = self.variant;
        self.inner
            .push(v)
            .map_err(|e| e.at(Segment::Field(variant.to_owned())))
    }
    fn end(self) -> Result<Value, Error> {
        Ok(wrap_variant(self.variant, Value::Array(self.inner.items)))
    }
}
impl ser::SerializeStructVariant for VariantSer<MapSer> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        let variant = self.variant;
        self.inner
            .field(key.to_owned(), v)
            .map_err(|e| e.at(Segment::Field(variant.to_owned())))
    }
    fn end(self) -> Result<Value, Error> {
        Ok(wrap_variant(self.variant, Value::Object(self.inner.map)))
    }
}

/// [`to_value`] of a query binding, except that a two-element tuple (the
/// `("name", value)` pair of `bind`) is handed over as its two values, `(Some(first),
/// second)`, without the array of two being built. Anything else is `to_value`'s value,
/// with `None`. Each element is serialized, and each error worded, exactly as `to_value`
/// does inside the array.
pub(crate) fn to_binding<T: Serialize + ?Sized>(v: &T) -> Result<(Option<Value>, Value), SerError> {
    let mut first = None;
    let second = v
        .serialize(BindingSerializer {
            ser: ValueSerializer {
                opts: SerializeOptions::default(),
                native: false,
            },
            first: &mut first,
        })
        .map_err(|e| SerError(e.to_string()))?;
    Ok((first, second))
}

/// A [`ValueSerializer`] that serializes a top-level two-element tuple as its elements,
/// storing the first in `first` and answering the second. Every other shape is
/// `ValueSerializer`'s.
struct BindingSerializer<'a> {
    ser: ValueSerializer,
    first: &'a mut Option<Value>,
}

/// The elements of a tuple announced with two: kept apart while there are at most two,
/// gathered into an array (what `to_value` makes of it) once a third arrives.
enum BindingTuple<'a> {
    Pair {
        ser: ValueSerializer,
        first: &'a mut Option<Value>,
        items: [Option<Value>; 2],
    },
    Seq(SeqSer),
}

impl ser::SerializeTuple for BindingTuple<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        match self {
            BindingTuple::Pair { ser, items, .. } => {
                if let Some(i) = items.iter().position(Option::is_none) {
                    // Only a slot after the filled ones is ever free.
                    items[i] = Some(v.serialize(*ser).map_err(|e| e.at(Segment::Index(i)))?);
                    return Ok(());
                }
                let mut seq = SeqSer {
                    ser: *ser,
                    items: items.iter_mut().filter_map(Option::take).collect(),
                };
                seq.push(v)?;
                *self = BindingTuple::Seq(seq);
                Ok(())
            }
            BindingTuple::Seq(seq) => seq.push(v),
        }
    }
    fn end(self) -> Result<Value, Error> {
        match self {
            BindingTuple::Pair {
                first,
                items: [Some(a), Some(b)],
                ..
            } => {
                *first = Some(a);
                Ok(b)
            }
            BindingTuple::Pair { items, .. } => {
                Ok(Value::Array(items.into_iter().flatten().collect()))
            }
            BindingTuple::Seq(seq) => ser::SerializeTuple::end(seq),
        }
    }
}

macro_rules! binding_delegate {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<Value, Error> {
            self.ser.$f(v)
        }
    )*};
}

impl<'a> Serializer for BindingSerializer<'a> {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqSer;
    type SerializeTuple = BindingTuple<'a>;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = VariantSer<SeqSer>;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = VariantSer<MapSer>;

    binding_delegate!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16,
                      serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
                      serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
                      serialize_u64: u64, serialize_u128: u128, serialize_f32: f32,
                      serialize_f64: f64, serialize_char: char, serialize_str: &str,
                      serialize_bytes: &[u8]);

    fn is_human_readable(&self) -> bool {
        self.ser.is_human_readable()
    }
    fn serialize_none(self) -> Result<Value, Error> {
        self.ser.serialize_none()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, Error> {
        self.ser.serialize_some(v)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        self.ser.serialize_unit()
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Value, Error> {
        self.ser.serialize_unit_struct(name)
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<Value, Error> {
        self.ser.serialize_unit_variant(name, index, variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        self.ser.serialize_newtype_struct(name, v)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        self.ser.serialize_newtype_variant(name, index, variant, v)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, Error> {
        self.ser.serialize_seq(len)
    }
    fn serialize_tuple(self, len: usize) -> Result<BindingTuple<'a>, Error> {
        Ok(if len == 2 {
            BindingTuple::Pair {
                ser: self.ser,
                first: self.first,
                items: [None, None],
            }
        } else {
            BindingTuple::Seq(self.ser.serialize_tuple(len)?)
        })
    }
    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<SeqSer, Error> {
        self.ser.serialize_tuple_struct(name, len)
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantSer<SeqSer>, Error> {
        self.ser.serialize_tuple_variant(name, index, variant, len)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapSer, Error> {
        self.ser.serialize_map(len)
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<MapSer, Error> {
        self.ser.serialize_struct(name, len)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantSer<MapSer>, Error> {
        self.ser.serialize_struct_variant(name, index, variant, len)
    }
}

/// Serializes a map key to text: strings and chars as they are, integers and bools as
/// their text, magic newtypes (uuids, record ids, …) as their text form.
pub(crate) struct KeySerializer;

fn bad_key(what: &str) -> Error {
    Error::new(format!(
        "map keys must be strings, integers or bools, found {what}"
    ))
}

macro_rules! key_display {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<String, Error> {
            Ok(v.to_string())
        }
    )*};
}

impl Serializer for KeySerializer {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = ser::Impossible<String, Error>;
    type SerializeTuple = ser::Impossible<String, Error>;
    type SerializeTupleStruct = ser::Impossible<String, Error>;
    type SerializeTupleVariant = ser::Impossible<String, Error>;
    type SerializeMap = ser::Impossible<String, Error>;
    type SerializeStruct = ser::Impossible<String, Error>;
    type SerializeStructVariant = ser::Impossible<String, Error>;

    key_display!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
                 serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
                 serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_char: char);

    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_owned())
    }
    fn serialize_f32(self, v: f32) -> Result<String, Error> {
        Err(bad_key(&format!("float {v}")))
    }
    fn serialize_f64(self, v: f64) -> Result<String, Error> {
        Err(bad_key(&format!("float {v}")))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, Error> {
        Err(bad_key("bytes"))
    }
    fn serialize_none(self) -> Result<String, Error> {
        Err(bad_key("None"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<String, Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Err(bad_key("()"))
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<String, Error> {
        Err(bad_key(&format!("unit struct {name}")))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, Error> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<String, Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: &T,
    ) -> Result<String, Error> {
        Err(bad_key(&format!("enum variant {variant} with data")))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(bad_key("a sequence"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(bad_key("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(bad_key(&format!("tuple struct {name}")))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(bad_key(&format!("enum variant {variant} with data")))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(bad_key("a map"))
    }
    fn serialize_struct(
        self,
        name: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(bad_key(&format!("struct {name}")))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(bad_key(&format!("enum variant {variant} with data")))
    }
}

/// Parses `bucket:/key` text.
pub(crate) fn parse_file_ref(s: &str) -> Result<FileRef, String> {
    match s.split_once(':') {
        Some((bucket, key)) if !bucket.is_empty() && key.starts_with('/') => Ok(FileRef {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        }),
        _ => Err(format!(
            "invalid file reference {s:?}: expected `bucket:/key`"
        )),
    }
}

fn point_value(p: &Point) -> Value {
    Value::Array(vec![Value::Float(p.x), Value::Float(p.y)])
}

fn points_value(ps: &[Point]) -> Value {
    Value::Array(ps.iter().map(point_value).collect())
}

fn rings_value(rs: &[Vec<Point>]) -> Value {
    Value::Array(rs.iter().map(|r| points_value(r)).collect())
}

/// The GeoJSON-like object of a geometry: `{type, coordinates}` or, for a collection,
/// `{type: "GeometryCollection", geometries: [...]}`.
pub(crate) fn geometry_to_object(g: &Geometry) -> Object {
    let mut o = Object::new();
    let (kind, coords) = match g {
        Geometry::Point(p) => ("Point", point_value(p)),
        Geometry::Line(l) => ("LineString", points_value(l)),
        Geometry::Polygon(p) => ("Polygon", rings_value(p)),
        Geometry::MultiPoint(m) => ("MultiPoint", points_value(m)),
        Geometry::MultiLine(m) => ("MultiLineString", rings_value(m)),
        Geometry::MultiPolygon(m) => (
            "MultiPolygon",
            Value::Array(m.iter().map(|p| rings_value(p)).collect()),
        ),
        Geometry::Collection(c) => {
            o.insert("type".into(), Value::from("GeometryCollection"));
            o.insert(
                "geometries".into(),
                Value::Array(
                    c.iter()
                        .map(|g| Value::Object(geometry_to_object(g)))
                        .collect(),
                ),
            );
            return o;
        }
    };
    o.insert("type".into(), Value::from(kind));
    o.insert("coordinates".into(), coords);
    o
}

fn bound_value(b: &Bound<Value>) -> Value {
    match b {
        Bound::Included(v) => wrap_variant("Included", v.clone()),
        Bound::Excluded(v) => wrap_variant("Excluded", v.clone()),
        Bound::Unbounded => Value::from("Unbounded"),
    }
}

/// The `{start, end}` object that stands for a range in serde data.
pub(crate) fn range_to_object(r: &Range) -> Object {
    let mut o = Object::new();
    o.insert("start".into(), bound_value(&r.start));
    o.insert("end".into(), bound_value(&r.end));
    o
}

fn bound_from_value(v: Value) -> Result<Bound<Value>, String> {
    match v {
        Value::String(s) if s == "Unbounded" => Ok(Bound::Unbounded),
        Value::Object(o) if o.len() == 1 => {
            let Some((k, v)) = o.into_iter().next() else {
                return Err("empty range bound".into());
            };
            match k.as_str() {
                "Included" => Ok(Bound::Included(v)),
                "Excluded" => Ok(Bound::Excluded(v)),
                _ => Err(format!("unknown range bound {k:?}: expected Included, Excluded or Unbounded")),
            }
        }
        other => Err(format!(
            "a range bound must be {{\"Included\": v}}, {{\"Excluded\": v}} or \"Unbounded\", found {}",
            other.kind()
        )),
    }
}

/// Rebuilds a range from its `{start, end}` object form.
pub(crate) fn range_from_value(v: Value) -> Result<Range, String> {
    match v {
        Value::Range(r) => Ok(*r),
        Value::Object(mut o) if o.len() == 2 => {
            let start = o.remove("start").ok_or("a range needs a `start` field")?;
            let end = o.remove("end").ok_or("a range needs an `end` field")?;
            Ok(Range {
                start: bound_from_value(start)?,
                end: bound_from_value(end)?,
            })
        }
        other => Err(format!(
            "a range must be a map {{start, end}}, found {}",
            other.kind()
        )),
    }
}

impl Serialize for Value {
    /// Plain values map to serde's data model; typed scalars go through the newtype
    /// structs named in [`magic`], so [`to_value`] keeps them and serde_json prints text.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::None => s.serialize_unit_struct(magic::NONE),
            Value::Null => s.serialize_unit_struct(magic::NULL),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Decimal(d) => d.serialize(s),
            Value::String(x) => s.serialize_str(x),
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::Datetime(d) => d.serialize(s),
            Value::Duration(d) => d.serialize(s),
            Value::Uuid(u) => u.serialize(s),
            Value::RecordId(r) => r.serialize(s),
            Value::Table(t) => t.serialize(s),
            Value::Array(a) => a.serialize(s),
            Value::Object(o) => {
                let mut m = s.serialize_map(Some(o.len()))?;
                for (k, v) in o {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Value::Set(x) => s.serialize_newtype_struct(magic::SET, x),
            Value::Geometry(g) => g.serialize(s),
            Value::Range(r) => r.serialize(s),
            Value::File(f) => f.serialize(s),
        }
    }
}

macro_rules! ser_as_text {
    ($($t:ty => $name:ident),*) => {$(
        impl Serialize for $t {
            /// A newtype struct (see `magic`) around the value's text form.
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_newtype_struct(magic::$name, &self.to_string())
            }
        }
    )*};
}

ser_as_text!(Decimal => DECIMAL);

/// The payload of a typed scalar's magic newtype: its text for human-readable formats
/// (serde_json prints `"2024-01-01T00:00:00Z"`), its native parts otherwise (surql's own
/// serializers and compact formats), so no text is formatted and re-parsed.
struct Payload<'a, T>(&'a T);

impl Serialize for Payload<'_, Datetime> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self.0)
        } else {
            (self.0.secs, self.0.nanos).serialize(s)
        }
    }
}

impl Serialize for Payload<'_, Duration> {
    /// `[]`, `[secs]` or `[secs, nanos]`: the shape of CBOR tag 14.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.collect_str(self.0);
        }
        use ser::SerializeSeq as _;
        let d = self.0;
        let n = match (d.secs, d.nanos) {
            (0, 0) => 0,
            (_, 0) => 1,
            _ => 2,
        };
        let mut seq = s.serialize_seq(Some(n))?;
        if n >= 1 {
            seq.serialize_element(&d.secs)?;
        }
        if n == 2 {
            seq.serialize_element(&d.nanos)?;
        }
        seq.end()
    }
}

impl Serialize for Payload<'_, Uuid> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self.0)
        } else {
            s.serialize_bytes(self.0.as_bytes())
        }
    }
}

impl Serialize for Payload<'_, RecordId> {
    /// `[table, key]`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self.0)
        } else {
            (self.0.table.as_str(), KeyPayload(&self.0.key)).serialize(s)
        }
    }
}

impl Serialize for Payload<'_, FileRef> {
    /// `[bucket, key]`: exact even where the `bucket:/key` text is ambiguous.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self.0)
        } else {
            (self.0.bucket.as_str(), self.0.key.as_str()).serialize(s)
        }
    }
}

/// A record id key as the value it travels as (see [`key_from_value`]).
struct KeyPayload<'a>(&'a RecordIdKey);

impl Serialize for KeyPayload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            RecordIdKey::String(k) => s.serialize_str(k),
            RecordIdKey::Int(i) => s.serialize_i64(*i),
            RecordIdKey::Uuid(u) => u.serialize(s),
            RecordIdKey::Array(a) => a.serialize(s),
            RecordIdKey::Object(o) => {
                let mut m = s.serialize_map(Some(o.len()))?;
                for (k, v) in o {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            // Rare (only meaningful in queries): travels as a `Range` of key values.
            RecordIdKey::Range(_) => key_to_value(self.0.clone()).serialize(s),
        }
    }
}

macro_rules! ser_with_payload {
    ($($t:ty => $name:ident),*) => {$(
        impl Serialize for $t {
            /// A newtype struct (see `magic`) around the text form (human-readable
            /// formats) or the native parts (surql's serializers, compact formats).
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_newtype_struct(magic::$name, &Payload(self))
            }
        }
    )*};
}

ser_with_payload!(Datetime => DATETIME, Duration => DURATION, Uuid => UUID, RecordId => RECORD_ID,
                  FileRef => FILE);

impl Serialize for Table {
    /// A newtype struct (see `magic`) around the raw, unescaped name.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(magic::TABLE, self.as_str())
    }
}

impl Serialize for Geometry {
    /// A newtype struct (see `magic`) around the GeoJSON-like map.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(magic::GEOMETRY, &Value::Object(geometry_to_object(self)))
    }
}

impl Serialize for Range {
    /// A newtype struct (see `magic`) around `{start, end}` with externally tagged bounds.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(magic::RANGE, &Value::Object(range_to_object(self)))
    }
}

impl Serialize for RecordIdKey {
    /// As the value the key holds (a string, integer, uuid, array or object): what a
    /// model's `id: Option<RecordIdKey>` field stores.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        key_to_value(self.clone()).serialize(s)
    }
}
