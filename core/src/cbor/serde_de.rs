//! CBOR bytes → any `Deserialize` type in one pass, with no `Value` tree in between.
//!
//! The common shapes of a query result (maps, arrays, text, numbers, booleans, NONE/NULL)
//! are served straight from the input; map keys and strings are borrowed from it. Every
//! other item (typed scalars, big integers, geometries, ranges, mismatched shapes) is
//! decoded into a [`Value`] by the regular decoder and handed to the `Value` deserializer,
//! so the rules and the error messages are exactly those of `from_value`.
//!
//! Like the `Value` decoder, it never recurses deeper than [`MAX_DEPTH`] and never
//! reserves more than the input could fill (sequence size hints are capped by the bytes
//! left).

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use super::decode::{Decoder, Head};
use super::{tags, DecodeError, MAX_DEPTH};
use crate::value::magic::{self, bridge};
use crate::value::Value;

/// A malformed input (reported as it is) or an item that does not fit the requested type
/// (reported with its path, like `from_value`, and the offset of the item). Boxed: every
/// call of the deserializer returns a `Result` of it, and a small error keeps those cheap
/// to move on the path where nothing fails.
#[derive(Debug)]
pub(super) struct Error(Box<Problem>);

#[derive(Debug)]
enum Problem {
    Malformed(DecodeError),
    Shape {
        err: bridge::DeError,
        offset: Option<usize>,
    },
}

impl Error {
    fn shape(err: bridge::DeError) -> Self {
        Error(Box::new(Problem::Shape { err, offset: None }))
    }

    fn malformed(e: DecodeError) -> Self {
        Error(Box::new(Problem::Malformed(e)))
    }

    /// Notes where the offending item starts, unless a deeper item already did.
    fn at_offset(mut self, at: usize) -> Self {
        if let Problem::Shape {
            offset: offset @ None,
            ..
        } = &mut *self.0
        {
            *offset = Some(at);
        }
        self
    }

    fn at(mut self, seg: bridge::Segment) -> Self {
        if let Problem::Shape { err, .. } = &mut *self.0 {
            let inner = std::mem::replace(err, bridge::DeError::new(String::new()));
            *err = inner.at(seg);
        }
        self
    }

    pub(super) fn into_decode_error(self) -> DecodeError {
        match *self.0 {
            Problem::Malformed(e) => e,
            Problem::Shape { err, offset } => DecodeError {
                offset: offset.unwrap_or(0),
                message: format!(
                    "the item does not fit the requested type: {}",
                    err.render(None)
                ),
            },
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::malformed(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Problem::Malformed(e) => e.fmt(f),
            Problem::Shape { err, .. } => f.write_str(&err.render(None)),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::shape(<bridge::DeError as de::Error>::custom(msg))
    }
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Error::shape(<bridge::DeError as de::Error>::invalid_type(unexp, exp))
    }
    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Error::shape(<bridge::DeError as de::Error>::invalid_value(unexp, exp))
    }
    fn missing_field(field: &'static str) -> Self {
        Error::shape(<bridge::DeError as de::Error>::missing_field(field))
    }
}

type Result<T> = std::result::Result<T, Error>;

/// Deserializes exactly one item of `bytes` into `T`; trailing bytes are an error.
pub(super) fn from_slice<'de, T: de::Deserialize<'de>>(
    bytes: &'de [u8],
) -> std::result::Result<T, DecodeError> {
    let mut de = De {
        d: Decoder::new(bytes),
        depth: 0,
    };
    let out = T::deserialize(&mut de).map_err(Error::into_decode_error)?;
    let used = de.d.pos;
    if used != bytes.len() {
        return Err(DecodeError {
            offset: used,
            message: format!(
                "{} trailing byte(s) after a complete item (expected exactly one item)",
                bytes.len() - used
            ),
        });
    }
    Ok(out)
}

/// Deserializes the item at `pos` into `T`, starting the depth count at `depth`; returns
/// it with the offset just past it (a successful read always consumes exactly one item).
pub(super) fn from_slice_at<'de, T: de::Deserialize<'de>>(
    bytes: &'de [u8],
    pos: usize,
    depth: usize,
) -> std::result::Result<(T, usize), DecodeError> {
    let mut de = De {
        d: Decoder::new(bytes),
        depth,
    };
    de.d.pos = pos;
    let out = T::deserialize(&mut de).map_err(Error::into_decode_error)?;
    Ok((out, de.d.pos))
}

/// The streaming deserializer: a decoder cursor plus the current nesting depth.
pub(super) struct De<'de> {
    d: Decoder<'de>,
    depth: usize,
}

impl<'de> De<'de> {
    /// The next item's head, without consuming it (`self.d.pos = h.end` does).
    #[inline]
    fn peek_head(&mut self) -> Result<Head> {
        let at = self.d.pos;
        let h = self.d.head()?;
        self.d.pos = at;
        Ok(h)
    }

    /// Decodes the item at the cursor into a `Value` and lets the `Value` deserializer
    /// serve it: the route for everything the fast paths do not cover.
    fn fallback<V, F>(&mut self, f: F) -> Result<V>
    where
        F: FnOnce(bridge::ValueDeserializer) -> std::result::Result<V, bridge::DeError>,
    {
        let start = self.d.pos;
        let v = self.d.value(self.depth)?;
        f(bridge::ValueDeserializer(v)).map_err(|e| Error::shape(e).at_offset(start))
    }

    fn enter(&mut self, at: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::malformed(DecodeError {
                offset: at,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            }));
        }
        Ok(())
    }

    /// Serves an array (definite with `arg` items, or indefinite) whose head, at `start`,
    /// was consumed.
    fn seq<V: Visitor<'de>>(
        &mut self,
        start: usize,
        arg: Option<u64>,
        visitor: V,
    ) -> Result<V::Value> {
        self.enter(start)?;
        let len = match arg {
            Some(n) => Some(self.d.len(start, n)?),
            None => None,
        };
        let mut access = Seq {
            de: self,
            left: len,
            index: 0,
        };
        let out = visitor.visit_seq(&mut access)?;
        let done = match access.left {
            Some(0) => true,
            Some(_) => false,
            None => access.de.d.at_break()?,
        };
        self.depth -= 1;
        if done {
            Ok(out)
        } else {
            Err(de::Error::invalid_length(
                len.unwrap_or(0),
                &"fewer elements",
            ))
        }
    }

    /// Serves a map (definite with `arg` entries, or indefinite) whose head, at `start`, was
    /// consumed; `skip_none` drops NONE entries (struct fields: a NONE field is an absent
    /// one).
    fn map<V: Visitor<'de>>(
        &mut self,
        start: usize,
        arg: Option<u64>,
        skip_none: bool,
        visitor: V,
    ) -> Result<V::Value> {
        self.enter(start)?;
        let mut access = Map {
            de: self,
            left: arg,
            key: Cow::Borrowed(""),
            skip_none,
        };
        let out = visitor.visit_map(&mut access)?;
        // A visitor may stop early (serde's derive does not, but a custom one can):
        // the remaining entries are read so the cursor stays in sync.
        while access.next_entry_start()? {
            access.de.d.value(access.de.depth)?;
            access.de.d.value(access.de.depth)?;
        }
        self.depth -= 1;
        Ok(out)
    }

    fn text<V: Visitor<'de>>(&mut self, h: Head, visitor: V) -> Result<V::Value> {
        match self.d.text_slice(h)? {
            Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
            Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    /// Reads `tag8([text, int | text])` (definite lengths, key within i64) if that is what
    /// comes next, leaving the cursor after it; `None` (cursor moved) for any other item,
    /// which the caller rewinds and decodes the general way (reporting its errors). Only
    /// where the general way could not hit the depth cap, so both agree on everything.
    #[inline(always)]
    fn plain_record_id(&mut self) -> Option<(&'de str, PlainKey<'de>)> {
        if self.depth + 3 > MAX_DEPTH {
            return None;
        }
        let (6, tags::RECORD_ID, end) = self.d.peek_definite()? else {
            return None;
        };
        self.d.pos = end;
        let (4, 2, end) = self.d.peek_definite()? else {
            return None;
        };
        self.d.pos = end;
        let table = self.d.definite_text()?;
        let key = match self.d.peek_definite()? {
            (0, n, end) => {
                self.d.pos = end;
                PlainKey::Int(i64::try_from(n).ok()?)
            }
            (1, n, end) => {
                self.d.pos = end;
                PlainKey::Int(-1 - i64::try_from(n).ok()?)
            }
            (3, _, _) => PlainKey::Text(self.d.definite_text()?),
            _ => return None,
        };
        Some((table, key))
    }

    /// Whether a NONE (tag 6, whatever it wraps) is next, looking at one byte unless the
    /// tag number is written long-hand.
    #[inline]
    fn none_is_next(&mut self) -> Result<bool> {
        match self.d.peek() {
            Some(0xc6) => Ok(true),
            Some(0xd8..=0xdb) => {
                let h = self.peek_head()?;
                Ok(h.arg == Some(tags::NONE))
            }
            _ => Ok(false),
        }
    }

    /// Consumes a NONE (tag 6 and whatever it wraps) or NULL/undefined if it is next.
    fn take_nullish(&mut self, h: Head) -> Result<bool> {
        match (h.major, h.info, h.arg) {
            (7, 22 | 23, _) => {
                self.d.pos = h.end;
                Ok(true)
            }
            (6, _, Some(tags::NONE)) => {
                self.d.value(self.depth)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// A plain record id key, as read in place.
enum PlainKey<'de> {
    Int(i64),
    Text(&'de str),
}

/// A record id's two parts handed to its visitor the way the `Value` deserializer hands
/// them (`[table, key]`), straight from the input.
struct RecordIdParts<'de> {
    table: Option<&'de str>,
    key: Option<PlainKey<'de>>,
}

#[inline]
fn text_seed<'de, T: DeserializeSeed<'de>>(seed: T, s: &'de str) -> Result<T::Value> {
    seed.deserialize(de::value::BorrowedStrDeserializer::new(s))
}

impl<'de> SeqAccess<'de> for &mut RecordIdParts<'de> {
    type Error = Error;
    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if let Some(table) = self.table.take() {
            return text_seed(seed, table).map(Some);
        }
        match self.key.take() {
            Some(PlainKey::Int(i)) => seed.deserialize(i.into_deserializer()).map(Some),
            Some(PlainKey::Text(s)) => text_seed(seed, s).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(usize::from(self.table.is_some()) + usize::from(self.key.is_some()))
    }
}

struct Seq<'a, 'de> {
    de: &'a mut De<'de>,
    /// Items left in a definite array; `None` for an indefinite one.
    left: Option<usize>,
    index: usize,
}

impl<'de> SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match &mut self.left {
            Some(0) => return Ok(None),
            Some(n) => *n -= 1,
            None => {
                if self.de.d.at_break()? {
                    // Later calls must keep answering "no more".
                    self.left = Some(0);
                    return Ok(None);
                }
            }
        }
        let i = self.index;
        self.index += 1;
        seed.deserialize(&mut *self.de)
            .map(Some)
            .map_err(|e| e.at(bridge::Segment::Index(i)))
    }
    fn size_hint(&self) -> Option<usize> {
        // Every item takes at least one byte: a hostile length cannot reserve more.
        self.left.map(|n| n.min(self.de.d.remaining()))
    }
}

struct Map<'a, 'de> {
    de: &'a mut De<'de>,
    left: Option<u64>,
    key: Cow<'de, str>,
    skip_none: bool,
}

impl<'de> Map<'_, 'de> {
    /// Whether another entry follows (consuming the break of an indefinite map).
    fn next_entry_start(&mut self) -> Result<bool> {
        match &mut self.left {
            Some(0) => Ok(false),
            Some(n) => {
                *n -= 1;
                Ok(true)
            }
            None => {
                if self.de.d.at_break()? {
                    self.left = Some(0);
                    Ok(false)
                } else {
                    Ok(true)
                }
            }
        }
    }

    /// A key that is not one whole, valid, definite text string: read the careful way
    /// (chunks) or refused with the decoder's error.
    #[cold]
    fn slow_key(&mut self) -> Result<Cow<'de, str>> {
        let k = self.de.d.head()?;
        if k.major != 3 {
            return Err(Error::malformed(DecodeError {
                offset: k.start,
                message: format!(
                    "map key must be a text string, found {}",
                    super::decode::major_name(k.major)
                ),
            }));
        }
        Ok(self.de.d.text_slice(k)?)
    }
}

impl<'de> MapAccess<'de> for Map<'_, 'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        loop {
            if !self.next_entry_start()? {
                return Ok(None);
            }
            let key = match self.de.d.definite_text() {
                Some(s) => Cow::Borrowed(s),
                None => self.slow_key()?,
            };
            if self.skip_none && self.de.none_is_next()? {
                self.de.d.value(self.de.depth)?;
                continue;
            }
            let out = match &key {
                Cow::Borrowed(s) => seed.deserialize(de::value::BorrowedStrDeserializer::new(s)),
                Cow::Owned(s) => seed.deserialize(de::value::StrDeserializer::new(s)),
            };
            let out: Result<K::Value> = out;
            let out = out.map_err(|e| e.at(bridge::Segment::Field(key.to_string())))?;
            self.key = key;
            return Ok(Some(out));
        }
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.de)
            .map_err(|e| e.at(bridge::Segment::Field(self.key.to_string())))
    }
    fn size_hint(&self) -> Option<usize> {
        // Every entry takes at least two bytes.
        self.left.map(|n| {
            usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(self.de.d.remaining() / 2)
        })
    }
}

macro_rules! int_fast {
    ($($f:ident)*) => {$(
        fn $f<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            if let Some((major @ (0 | 1), n, end)) = self.d.peek_definite() {
                if let Ok(n) = i64::try_from(n) {
                    let start = self.d.pos;
                    self.d.pos = end;
                    let i = if major == 0 { n } else { -1 - n };
                    return visitor.visit_i64(i).map_err(|e: Error| e.at_offset(start));
                }
            }
            self.fallback(|v| v.$f(visitor))
        }
    )*};
}

impl<'de> Deserializer<'de> for &mut De<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let h = self.peek_head()?;
        let r = match (h.major, h.info, h.arg) {
            (0 | 1, _, Some(n)) if i64::try_from(n).is_ok() => {
                self.d.pos = h.end;
                match self.d.int_value(h)? {
                    Value::Int(i) => visitor.visit_i64(i),
                    _ => unreachable_int(h.start),
                }
            }
            (3, _, _) => {
                self.d.pos = h.end;
                self.text(h, visitor)
            }
            (4, _, _) => {
                self.d.pos = h.end;
                self.seq(h.start, h.arg, visitor)
            }
            (5, _, _) => {
                self.d.pos = h.end;
                self.map(h.start, h.arg, false, visitor)
            }
            (6, _, Some(tags::NONE)) => {
                self.d.value(self.depth)?;
                visitor.visit_none()
            }
            (7, 20 | 21, _) => {
                self.d.pos = h.end;
                visitor.visit_bool(h.info == 21)
            }
            (7, 22 | 23, _) => {
                self.d.pos = h.end;
                visitor.visit_unit()
            }
            (7, 25..=27, _) => {
                self.d.pos = h.end;
                match self.d.simple(h)? {
                    Value::Float(f) => visitor.visit_f64(f),
                    _ => unreachable_int(h.start),
                }
            }
            _ => return self.fallback(|v| v.deserialize_any(visitor)),
        };
        r.map_err(|e: Error| e.at_offset(h.start))
    }

    int_fast!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
              deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128);

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let h = self.peek_head()?;
        if h.major == 7 && matches!(h.info, 25..=27) {
            self.d.pos = h.end;
            if let Value::Float(f) = self.d.simple(h)? {
                return visitor
                    .visit_f64(f)
                    .map_err(|e: Error| e.at_offset(h.start));
            }
        }
        self.fallback(|v| v.deserialize_f64(visitor))
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let h = self.peek_head()?;
        if h.major == 7 && matches!(h.info, 20 | 21) {
            self.d.pos = h.end;
            return visitor
                .visit_bool(h.info == 21)
                .map_err(|e: Error| e.at_offset(h.start));
        }
        self.fallback(|v| v.deserialize_bool(visitor))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.d.pos;
        if let Some(s) = self.d.definite_text() {
            return visitor
                .visit_borrowed_str(s)
                .map_err(|e: Error| e.at_offset(start));
        }
        let h = self.peek_head()?;
        if h.major == 3 {
            self.d.pos = h.end;
            return self
                .text(h, visitor)
                .map_err(|e: Error| e.at_offset(h.start));
        }
        self.fallback(|v| v.deserialize_str(visitor))
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }
    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let h = self.peek_head()?;
        if let (2, Some(n)) = (h.major, h.arg) {
            self.d.pos = h.end;
            let n = self.d.len(h.start, n)?;
            let b = self.d.take(n)?;
            return visitor
                .visit_borrowed_bytes(b)
                .map_err(|e: Error| e.at_offset(h.start));
        }
        self.fallback(|v| v.deserialize_bytes(visitor))
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let h = self.peek_head()?;
        if self.take_nullish(h)? {
            return visitor
                .visit_none()
                .map_err(|e: Error| e.at_offset(h.start));
        }
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let h = self.peek_head()?;
        if self.take_nullish(h)? {
            return visitor
                .visit_unit()
                .map_err(|e: Error| e.at_offset(h.start));
        }
        self.fallback(|v| v.deserialize_unit(visitor))
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == magic::DATETIME {
            let h = self.peek_head()?;
            // Where the general way could not hit the depth cap (see `plain_record_id`).
            if h.major == 6 && h.arg == Some(tags::DATETIME) && self.depth + 2 <= MAX_DEPTH {
                // The hottest typed scalar: its parts go to `Datetime`'s visitor as read.
                self.d.pos = h.end;
                let d = self.d.datetime()?;
                let mut seq =
                    de::value::SeqDeserializer::new([d.secs, i64::from(d.nanos)].into_iter());
                return visitor
                    .visit_seq(&mut seq)
                    .and_then(|out| seq.end().map(|()| out))
                    .map_err(|e: Error| e.at_offset(h.start));
            }
        }
        if name == magic::RECORD_ID {
            // The usual record id (`id` of every row): text table, integer or text key.
            // Served in place; anything else (and any error) takes the `Value` route below.
            let start = self.d.pos;
            if let Some((table, key)) = self.plain_record_id() {
                let mut seq = RecordIdParts {
                    table: Some(table),
                    key: Some(key),
                };
                return visitor
                    .visit_seq(&mut seq)
                    .and_then(|out| match (seq.table, seq.key) {
                        (None, None) => Ok(out),
                        _ => Err(de::Error::invalid_length(0, &"a record id [table, key]")),
                    })
                    .map_err(|e: Error| e.at_offset(start));
            }
            self.d.pos = start;
        }
        if name.starts_with("$surql::") {
            // `Value` and the typed scalars: the decoder reads the item natively and the
            // `Value` deserializer hands it over in the agreed form (see `magic`).
            return self.fallback(|v| v.deserialize_newtype_struct(name, visitor));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let h = self.peek_head()?;
        if h.major == 4 {
            self.d.pos = h.end;
            return self
                .seq(h.start, h.arg, visitor)
                .map_err(|e: Error| e.at_offset(h.start));
        }
        self.fallback(|v| v.deserialize_seq(visitor))
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let h = self.peek_head()?;
        if h.major == 5 {
            self.d.pos = h.end;
            return self
                .map(h.start, h.arg, false, visitor)
                .map_err(|e: Error| e.at_offset(h.start));
        }
        self.fallback(|v| v.deserialize_map(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let start = self.d.pos;
        // A definite head (every row) in registers; anything else the careful way.
        let (major, arg, end) = match self.d.peek_definite() {
            Some((major, n, end)) => (major, Some(n), end),
            None => {
                let h = self.peek_head()?;
                (h.major, h.arg, h.end)
            }
        };
        let r = match major {
            5 => {
                self.d.pos = end;
                self.map(start, arg, true, visitor)
            }
            4 => {
                self.d.pos = end;
                self.seq(start, arg, visitor)
            }
            _ => return self.fallback(|v| v.deserialize_struct(name, fields, visitor)),
        };
        r.map_err(|e: Error| e.at_offset(start))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let h = self.peek_head()?;
        if h.major == 3 {
            // A unit variant as text: the common case (status fields and the like).
            self.d.pos = h.end;
            let s = self.d.text_slice(h)?;
            let r = match s {
                Cow::Borrowed(s) => {
                    visitor.visit_enum(de::value::BorrowedStrDeserializer::<Error>::new(s))
                }
                Cow::Owned(s) => visitor.visit_enum(s.into_deserializer()),
            };
            return r.map_err(|e: Error| e.at_offset(h.start));
        }
        self.fallback(|v| v.deserialize_enum(name, variants, visitor))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Still decoded in full, so an ignored field is checked like any other.
        self.d.value(self.depth)?;
        visitor.visit_unit()
    }
}

/// `int_value`/`simple` only give other variants for heads the callers exclude.
fn unreachable_int<T>(at: usize) -> Result<T> {
    Err(Error::malformed(DecodeError {
        offset: at,
        message: "internal error: number head decoded to a non-number".into(),
    }))
}
