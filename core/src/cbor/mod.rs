//! `Value` ⇄ CBOR bytes with SurrealDB's tags, in one pass with no intermediate tree;
//! [`to_vec`] and [`from_slice`] do the same for any serde type, also without a `Value`
//! tree in between.
//!
//! The encoder writes definite lengths only, integers in their shortest form, floats as
//! 64-bit, datetimes as tag 12 `[secs, nanos]` and durations as tag 14 (the only shapes
//! SurrealDB 3.x accepts for those in its "custom" tags). The decoder accepts everything
//! the server emits plus the other encodings a CBOR peer may legitimately use (tags 0, 9,
//! 13, bignums, half/single floats, indefinite lengths) and rejects everything else with
//! the byte offset where the problem starts. Hostile input never panics, never recurses
//! deeper than [`MAX_DEPTH`] and never allocates more than the input could fill.
//! [`RawValue`] keeps one encoded item as its bytes, to bind as a query variable as it is.
//!
//! ```
//! use surql::{cbor, Value};
//! let bytes = cbor::encode(&Value::None);
//! assert_eq!(bytes, [0xc6, 0xf6]);
//! assert_eq!(cbor::decode(&bytes).unwrap(), Value::None);
//! ```

mod decode;
mod encode;
mod raw;
mod serde_de;
mod serde_ser;

#[cfg(test)]
mod serde_tests;
#[cfg(test)]
mod tests;

pub use encode::Encoder;
pub use raw::RawValue;
pub(crate) use serde_ser::{write_object, ObjectEdit};

use crate::value::Value;

/// The deepest nesting of arrays, maps and tags the decoder accepts. The server itself
/// stops at 100; anything deeper is hostile or broken input, and refusing it keeps the
/// decoder's recursion far from the stack limit.
pub const MAX_DEPTH: usize = 256;

/// The CBOR tag numbers SurrealDB uses (protocol.md §4.2).
pub mod tags {
    /// RFC 3339 datetime text (accepted on input only).
    pub const DATETIME_TEXT: u64 = 0;
    /// Unsigned bignum (big-endian bytes).
    pub const POSITIVE_BIGNUM: u64 = 2;
    /// Negative bignum (`-1 - n`, big-endian bytes).
    pub const NEGATIVE_BIGNUM: u64 = 3;
    /// NONE: wraps `null` (any payload is ignored on input).
    pub const NONE: u64 = 6;
    /// A table name.
    pub const TABLE: u64 = 7;
    /// A record id `[table, key]`.
    pub const RECORD_ID: u64 = 8;
    /// A UUID as text (accepted on input only).
    pub const UUID_TEXT: u64 = 9;
    /// A decimal as text.
    pub const DECIMAL: u64 = 10;
    /// A datetime `[secs, nanos]`.
    pub const DATETIME: u64 = 12;
    /// A duration as SurrealQL text (accepted on input only).
    pub const DURATION_TEXT: u64 = 13;
    /// A duration `[]`, `[secs]` or `[secs, nanos]`.
    pub const DURATION: u64 = 14;
    /// A UUID as 16 bytes.
    pub const UUID: u64 = 37;
    /// A range `[bound, bound]`.
    pub const RANGE: u64 = 49;
    /// An included range bound.
    pub const BOUND_INCLUDED: u64 = 50;
    /// An excluded range bound.
    pub const BOUND_EXCLUDED: u64 = 51;
    /// A file reference `[bucket, key]`.
    pub const FILE: u64 = 55;
    /// A set (an array the server deduplicates and sorts).
    pub const SET: u64 = 56;
    /// A geometry point `[x, y]`.
    pub const GEOMETRY_POINT: u64 = 88;
    /// A geometry line: an array of points.
    pub const GEOMETRY_LINE: u64 = 89;
    /// A geometry polygon: an array of lines, exterior first.
    pub const GEOMETRY_POLYGON: u64 = 90;
    /// A geometry multi-point.
    pub const GEOMETRY_MULTIPOINT: u64 = 91;
    /// A geometry multi-line.
    pub const GEOMETRY_MULTILINE: u64 = 92;
    /// A geometry multi-polygon.
    pub const GEOMETRY_MULTIPOLYGON: u64 = 93;
    /// A geometry collection.
    pub const GEOMETRY_COLLECTION: u64 = 94;
}

/// The bytes are not a CBOR item surql can read; `offset` is where the problem starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CBOR at byte {offset}: {message}")]
pub struct DecodeError {
    /// Byte offset into the input where the offending item (or the missing bytes) starts.
    pub offset: usize,
    /// What was wrong, naming the value found.
    pub message: String,
}

/// A Rust value could not be turned into CBOR (it has no SurrealDB representation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode as CBOR: {message}")]
pub struct EncodeError {
    /// What was wrong, naming the offending value.
    pub message: String,
}

/// Encodes `v` into a fresh buffer.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_into(v, &mut out);
    out
}

/// Appends the encoding of `v` to `out`.
pub fn encode_into(v: &Value, out: &mut Vec<u8>) {
    Encoder::new(out).value(v);
}

/// Decodes exactly one CBOR item; trailing bytes are an error.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let (value, used) = decode_prefix(bytes)?;
    if used != bytes.len() {
        return Err(DecodeError {
            offset: used,
            message: format!(
                "{} trailing byte(s) after a complete item (expected exactly one item)",
                bytes.len() - used
            ),
        });
    }
    Ok(value)
}

/// Decodes the first CBOR item of `bytes`, returning it and the number of bytes it used.
pub fn decode_prefix(bytes: &[u8]) -> Result<(Value, usize), DecodeError> {
    decode::Decoder::new(bytes).item()
}

/// Steps over the CBOR item starting at `pos` without building it and returns the offset
/// just past it. Heads, lengths and nesting are checked with the same caps as [`decode`]
/// (at most [`MAX_DEPTH`] levels, no length beyond the input); the contents are not (a
/// text string's UTF-8, a tag's payload), so decoding the located bytes can still fail.
///
/// ```
/// use surql::cbor;
/// let bytes = [0x82, 0x01, 0x61, b'a', 0x07]; // [1, "a"] then 7
/// assert_eq!(cbor::skip_item(&bytes, 0).unwrap(), 4);
/// assert_eq!(cbor::skip_item(&bytes, 4).unwrap(), 5);
/// assert!(cbor::skip_item(&bytes, 5).is_err());
/// ```
pub fn skip_item(bytes: &[u8], pos: usize) -> Result<usize, DecodeError> {
    let mut d = decode::Decoder::new(bytes);
    d.pos = pos;
    d.skip(0)?;
    Ok(d.pos)
}

/// A map's entries as (text key, byte range of the value), and the offset just past it.
pub(crate) type MapRanges<'a> = (Vec<(&'a str, std::ops::Range<usize>)>, usize);

/// The entries of the map at the start of `bytes` as (key, byte range of the value),
/// plus the offset just past the map; `Ok(None)` if the item is not a map or has a key
/// that is not one definite text string. Values are located with [`skip_item`], not built.
pub(crate) fn map_ranges(bytes: &[u8]) -> Result<Option<MapRanges<'_>>, DecodeError> {
    decode::Decoder::new(bytes).text_keyed_map(0, |_, _, _| None)
}

/// [`map_ranges`] for the map at `pos` (ranges and end are offsets into `bytes`), without
/// collecting the entries: each is handed to `entry(key, range)` as it is read, and only
/// the offset just past the map is answered. On `Ok(None)`, `entry` may have seen some
/// entries already (the caller discards what it gathered).
///
/// The caller may read values itself instead of having them stepped over: `value(key,
/// start, last)` is asked about each value as it is reached (`last`: the final entry of a
/// definite-length map) and answers `Some(end)` when it has read (or vouches for) the
/// value up to `end`, `None` to have it skipped as usual. An `end` beyond the input or
/// before `start` is ignored (the value is skipped).
pub(crate) fn map_entries_with<'a>(
    bytes: &'a [u8],
    pos: usize,
    value: impl FnMut(&'a str, usize, bool) -> Option<usize>,
    entry: impl FnMut(&'a str, std::ops::Range<usize>),
) -> Result<Option<usize>, DecodeError> {
    decode::Decoder::new(bytes).text_keyed_map_each(pos, value, entry)
}

/// NONE as CBOR (tag 6 wrapping null): also what an absent or taken query result reads as.
pub(crate) const NONE: &[u8] = &[0xc6, 0xf6];

/// The text of `item` when it is exactly one definite-length, valid UTF-8 text string,
/// borrowed; `None` for anything else, including text [`decode`] would refuse or build
/// from chunks (decode those to tell). Where it answers, `decode(item)` gives the same
/// text as a [`Value::String`](crate::Value::String).
pub(crate) fn definite_text(item: &[u8]) -> Option<&str> {
    let mut d = decode::Decoder::new(item);
    let s = d.definite_text()?;
    (d.pos == item.len()).then_some(s)
}

/// Decodes the item at `pos` as if it were nested `depth` levels deep (the depth cap
/// counts from there), returning it and the offset just past it.
pub(crate) fn decode_at(
    bytes: &[u8],
    pos: usize,
    depth: usize,
) -> Result<(Value, usize), DecodeError> {
    let mut d = decode::Decoder::new(bytes);
    d.pos = pos;
    let v = d.value(depth)?;
    Ok((v, d.pos))
}

/// [`from_slice`] of the item at `pos`, as if it were nested `depth` levels deep,
/// returning the value and the offset just past the item; what follows it is not looked
/// at. Offsets in errors are offsets into `bytes`.
pub(crate) fn from_slice_at<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    pos: usize,
    depth: usize,
) -> Result<(T, usize), DecodeError> {
    serde_de::from_slice_at(bytes, pos, depth)
}

/// An array's elements as byte ranges, and the offset just past the array.
pub(crate) type ArrayRanges = (Vec<std::ops::Range<usize>>, usize);

/// The elements of the array at the start of `bytes` as byte ranges, plus the offset just
/// past the array; `Ok(None)` if the item is not an array. Elements are located with
/// [`skip_item`], not built.
pub(crate) fn array_ranges(bytes: &[u8]) -> Result<Option<ArrayRanges>, DecodeError> {
    decode::Decoder::new(bytes).array_ranges(0)
}

/// The head of the item at `pos`: its major type (0-7), its argument (a length, a tag
/// number, an integer, a simple value; `None` for an indefinite length) and the offset just
/// past the head (where an array's first element or a tag's payload starts).
pub(crate) fn head(bytes: &[u8], pos: usize) -> Result<(u8, Option<u64>, usize), DecodeError> {
    decode::Decoder::new(bytes).head_at(pos)
}

/// Serializes any `Serialize` type (a user struct, a map, a `Value`) to CBOR, straight
/// into the output buffer (no intermediate [`Value`] tree).
///
/// The conversion rules are those of [`to_value`](crate::value::to_value) with default
/// options, and the bytes mean the same value; struct fields keep their declaration order.
pub fn to_vec<T: serde::Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, EncodeError> {
    serde_ser::to_vec(v)
}

/// Deserializes any `Deserialize` type from one CBOR item, straight from the bytes (no
/// intermediate [`Value`] tree; map keys and strings are read in place).
///
/// The conversion rules are those of [`from_value`](crate::value::from_value). Malformed
/// bytes are reported like [`decode`] does; a well-formed item whose shape does not fit
/// `T` is reported at the offset of the offending item with its path and the value found,
/// e.g. ``the item does not fit the requested type: field `[3].age`: expected i64, found
/// string "x"``.
pub fn from_slice<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, DecodeError> {
    serde_de::from_slice(b)
}
