//! SurrealDB's value model: every type the server can send or receive.
//!
//! [`Value`] keeps NONE and NULL apart, keeps integers as `i64` (the server's range),
//! and carries the typed scalars SurrealDB knows (datetimes with nanoseconds, durations,
//! UUIDs, decimals, record ids, tables, geometries, ranges, file references).
//! `Display` prints valid SurrealQL literals; the serde bridge (`to_value`, `from_value`)
//! converts any `Serialize` type into a `Value` and a `Value` into any `Deserialize` type.

use std::collections::BTreeMap;

mod datetime;
mod de;
mod display;
mod ser;

pub use datetime::{Datetime, Duration, ParseTemporalError};
pub use de::{from_value, from_value_at, DeError};
pub(crate) use display::{write_escaped, write_object, write_range};
pub use display::{write_string_literal, write_value};
#[doc(hidden)]
pub use ser::magic;
pub(crate) use ser::to_binding;
pub use ser::{to_value, to_value_with, SerError, SerializeOptions};

/// A JSON-like object with text keys, sorted as the server sorts them.
pub type Object = BTreeMap<String, Value>;

/// Any value SurrealDB can send or receive.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// `NONE`: no value at all (an absent field, an empty `option<T>`).
    #[default]
    None,
    /// `NULL`: an explicit null, distinct from `NONE`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit signed integer (the server's integer range).
    Int(i64),
    /// A 64-bit float. NaN, infinities and `-0.0` round-trip through the server.
    Float(f64),
    /// An arbitrary-precision decimal (up to 28 significant digits on the server).
    Decimal(Decimal),
    /// A UTF-8 string. Never reinterpreted: `"data:..."` or `"a:b"` stay strings.
    String(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A UTC datetime with nanosecond precision.
    Datetime(Datetime),
    /// A non-negative duration with nanosecond precision.
    Duration(Duration),
    /// A UUID.
    Uuid(Uuid),
    /// A record id `table:key`.
    RecordId(RecordId),
    /// A table name (sent as a typed table, never as a string).
    Table(Table),
    /// An ordered list.
    Array(Vec<Value>),
    /// An object with text keys.
    Object(Object),
    /// A set: the server deduplicates and sorts it.
    Set(Vec<Value>),
    /// A GeoJSON-like geometry.
    Geometry(Geometry),
    /// A range of values with included/excluded/unbounded ends.
    Range(Box<Range>),
    /// A reference to a file in a bucket.
    File(FileRef),
}

impl PartialEq for Value {
    /// Structural equality, except that floats compare by bit pattern so that `NaN == NaN`
    /// (a round-tripped NaN is the same value) and `0.0 != -0.0`.
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (None, None) | (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (Decimal(a), Decimal(b)) => a == b,
            (String(a), String(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (Datetime(a), Datetime(b)) => a == b,
            (Duration(a), Duration(b)) => a == b,
            (Uuid(a), Uuid(b)) => a == b,
            (RecordId(a), RecordId(b)) => a == b,
            (Table(a), Table(b)) => a == b,
            (Array(a), Array(b)) | (Set(a), Set(b)) => a == b,
            (Object(a), Object(b)) => a == b,
            (Geometry(a), Geometry(b)) => a == b,
            (Range(a), Range(b)) => a == b,
            (File(a), File(b)) => a == b,
            _ => false,
        }
    }
}

impl Value {
    /// `true` for `NONE`.
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// `true` for `NONE` or `NULL`.
    pub fn is_nullish(&self) -> bool {
        matches!(self, Value::None | Value::Null)
    }

    /// A short name of the value's type, as used in error messages ("string", "int", ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "none",
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Decimal(_) => "decimal",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Datetime(_) => "datetime",
            Value::Duration(_) => "duration",
            Value::Uuid(_) => "uuid",
            Value::RecordId(_) => "record id",
            Value::Table(_) => "table",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Set(_) => "set",
            Value::Geometry(_) => "geometry",
            Value::Range(_) => "range",
            Value::File(_) => "file",
        }
    }

    /// The object's field `key`, if this is an object holding it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(o) => o.get(key),
            _ => Option::None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => Option::None,
        }
    }

    /// The integer, if this is an int.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => Option::None,
        }
    }

    /// The elements, if this is an array or a set.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) | Value::Set(a) => Some(a),
            _ => Option::None,
        }
    }

    /// The object, if this is an object.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => Option::None,
        }
    }

    /// The record id, if this is one.
    pub fn as_record_id(&self) -> Option<&RecordId> {
        match self {
            Value::RecordId(r) => Some(r),
            _ => Option::None,
        }
    }
}

/// An arbitrary-precision decimal, kept as its canonical text (`"1.50"` stays as given;
/// the server normalises on its side). Constructed only from valid decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Decimal(String);

/// The input was not a decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid decimal {input:?}: expected digits with an optional sign, point and exponent")]
pub struct ParseDecimalError {
    /// The rejected text.
    pub input: String,
}

impl Decimal {
    /// Parses decimal text: optional sign, digits, optional `.digits`, optional exponent.
    pub fn parse(s: &str) -> Result<Self, ParseDecimalError> {
        let err = || ParseDecimalError {
            input: s.to_owned(),
        };
        let b = s.as_bytes();
        let mut i = 0;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let int_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let mut digits = i - int_start;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let frac_start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            digits += i - frac_start;
        }
        if digits == 0 {
            return Err(err());
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
                i += 1;
            }
            let exp_start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == exp_start {
                return Err(err());
            }
        }
        if i != b.len() {
            return Err(err());
        }
        Ok(Decimal(s.to_owned()))
    }

    /// The decimal's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Decimal {
    type Err = ParseDecimalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decimal::parse(s)
    }
}

/// A UUID (any version), stored as its 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

/// The input was not a UUID in canonical hyphenated (or plain 32-hex) form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid uuid {input:?}: expected 32 hex digits, optionally hyphenated 8-4-4-4-12")]
pub struct ParseUuidError {
    /// The rejected text.
    pub input: String,
}

impl Uuid {
    /// Wraps 16 raw bytes.
    pub const fn from_bytes(b: [u8; 16]) -> Self {
        Uuid(b)
    }

    /// The 16 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (or the same 32 hex digits unhyphenated).
    pub fn parse(s: &str) -> Result<Self, ParseUuidError> {
        let err = || ParseUuidError {
            input: s.to_owned(),
        };
        let b = s.as_bytes();
        let hyphenated = b.len() == 36;
        if !(hyphenated || b.len() == 32) {
            return Err(err());
        }
        if hyphenated && [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return Err(err());
        }
        let mut out = [0u8; 16];
        let mut n = 0;
        let mut hi: Option<u8> = Option::None;
        for (i, &c) in b.iter().enumerate() {
            if hyphenated && [8, 13, 18, 23].contains(&i) {
                continue;
            }
            let d = (c as char).to_digit(16).ok_or_else(err)? as u8;
            match hi.take() {
                Option::None => hi = Some(d),
                Some(h) => {
                    out[n] = (h << 4) | d;
                    n += 1;
                }
            }
        }
        Ok(Uuid(out))
    }
}

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Uuid {
    type Err = ParseUuidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse(s)
    }
}

/// A table name. Sent to the server as a typed table (CBOR tag 7), so it is never
/// confused with a string; rendered into SurrealQL text with identifier escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Table(pub String);

impl Table {
    /// A table named `name` (any text: escaping happens when it is rendered).
    pub fn new(name: impl Into<String>) -> Self {
        Table(name.into())
    }

    /// The raw, unescaped name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A record id: a table and a key.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordId {
    /// The table, unescaped.
    pub table: String,
    /// The key.
    pub key: RecordIdKey,
}

impl RecordId {
    /// `table:key`. A `&str`/`String` key is always a STRING key (never a number),
    /// an `i64` key a number key.
    pub fn new(table: impl Into<String>, key: impl Into<RecordIdKey>) -> Self {
        RecordId {
            table: table.into(),
            key: key.into(),
        }
    }
}

/// The key half of a record id.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordIdKey {
    /// A string key: `t:abc`, ``t:`123` ``, `t:⟨a-b⟩`.
    String(String),
    /// An integer key: `t:123`.
    Int(i64),
    /// A UUID key: `t:u'…'`.
    Uuid(Uuid),
    /// An array key: `t:['a', 1]`.
    Array(Vec<Value>),
    /// An object key: `t:{ a: 1 }`.
    Object(Object),
    /// A range of keys (only meaningful in queries): `t:1..=5`.
    Range(Box<KeyRange>),
}

/// A range of record-id keys.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRange {
    /// The lower end.
    pub start: Bound<RecordIdKey>,
    /// The upper end.
    pub end: Bound<RecordIdKey>,
}

impl From<&str> for RecordIdKey {
    fn from(s: &str) -> Self {
        RecordIdKey::String(s.to_owned())
    }
}
impl From<String> for RecordIdKey {
    fn from(s: String) -> Self {
        RecordIdKey::String(s)
    }
}
impl From<i64> for RecordIdKey {
    fn from(i: i64) -> Self {
        RecordIdKey::Int(i)
    }
}
impl From<Uuid> for RecordIdKey {
    fn from(u: Uuid) -> Self {
        RecordIdKey::Uuid(u)
    }
}
impl From<Vec<Value>> for RecordIdKey {
    fn from(a: Vec<Value>) -> Self {
        RecordIdKey::Array(a)
    }
}
impl From<Object> for RecordIdKey {
    fn from(o: Object) -> Self {
        RecordIdKey::Object(o)
    }
}

/// One end of a range.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound<T> {
    /// The end is part of the range.
    Included(T),
    /// The end is not part of the range.
    Excluded(T),
    /// No end.
    Unbounded,
}

/// A range of values, `start..end` with each end included, excluded or open.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// The lower end.
    pub start: Bound<Value>,
    /// The upper end.
    pub end: Bound<Value>,
}

/// A point `(x, y)` = (longitude, latitude).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Longitude.
    pub x: f64,
    /// Latitude.
    pub y: f64,
}

/// A geometry, as SurrealDB models GeoJSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// One point.
    Point(Point),
    /// A line through two or more points.
    Line(Vec<Point>),
    /// An exterior ring followed by interior rings (holes).
    Polygon(Vec<Vec<Point>>),
    /// Several points.
    MultiPoint(Vec<Point>),
    /// Several lines.
    MultiLine(Vec<Vec<Point>>),
    /// Several polygons.
    MultiPolygon(Vec<Vec<Vec<Point>>>),
    /// Any mixture of geometries.
    Collection(Vec<Geometry>),
}

/// A reference to a file: `f"bucket:/key"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileRef {
    /// The bucket name.
    pub bucket: String,
    /// The key inside the bucket (starts with `/`).
    pub key: String,
}

macro_rules! from_scalar {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Self {
                Value::$v(x.into())
            }
        }
    )*};
}

from_scalar! {
    bool => Bool,
    i8 => Int, i16 => Int, i32 => Int, i64 => Int, u8 => Int, u16 => Int, u32 => Int,
    f32 => Float, f64 => Float,
    String => String, Decimal => Decimal, Datetime => Datetime, Duration => Duration,
    Uuid => Uuid, RecordId => RecordId, Table => Table, Vec<Value> => Array,
    Object => Object, Geometry => Geometry, FileRef => File, Vec<u8> => Bytes,
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` becomes NONE (never NULL).
    fn from(o: Option<T>) -> Self {
        match o {
            Some(v) => v.into(),
            Option::None => Value::None,
        }
    }
}

impl From<Range> for Value {
    fn from(r: Range) -> Self {
        Value::Range(Box::new(r))
    }
}
