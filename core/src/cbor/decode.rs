//! The CBOR reader: a cursor over a byte slice, recursive descent with a depth limit.

use super::{tags, DecodeError, MAX_DEPTH};
use crate::value::{
    Bound, Datetime, Decimal, Duration, FileRef, Geometry, KeyRange, Object, Point, Range,
    RecordId, RecordIdKey, Uuid, Value,
};

type Result<T> = std::result::Result<T, DecodeError>;

/// Initial capacity cap for arrays: a hostile length prefix must not reserve memory the
/// input cannot fill; real growth beyond this is amortised by `Vec`.
const MAX_PREALLOC: usize = 1024;

const BREAK: u8 = 0xff;

/// One item head: major type, additional info, its argument (`None` = indefinite length),
/// where it started and where it ends (so a peeked head is consumed without reading it
/// again).
#[derive(Clone, Copy)]
pub(super) struct Head {
    pub(super) major: u8,
    pub(super) info: u8,
    pub(super) arg: Option<u64>,
    pub(super) start: usize,
    pub(super) end: usize,
}

pub(super) fn major_name(major: u8) -> &'static str {
    match major {
        0 => "an unsigned integer",
        1 => "a negative integer",
        2 => "a byte string",
        3 => "a text string",
        4 => "an array",
        5 => "a map",
        6 => "a tag",
        _ => "a simple value or float",
    }
}

pub(super) struct Decoder<'a> {
    buf: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Decoder<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, pos: 0 }
    }

    /// Decodes one item and reports how many bytes it used.
    pub(super) fn item(mut self) -> Result<(Value, usize)> {
        let v = self.value(0)?;
        Ok((v, self.pos))
    }

    pub(super) fn err<T>(&self, offset: usize, message: impl Into<String>) -> Result<T> {
        Err(DecodeError {
            offset,
            message: message.into(),
        })
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.buf.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => self.err(
                self.pos,
                format!(
                    "unexpected end of input: needed {n} more byte(s), {} left",
                    self.remaining()
                ),
            ),
        }
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The head at the cursor when it is definite and whole, without consuming it: its
    /// major type, argument and end. `None` for anything else (an indefinite length, a
    /// break, a reserved byte, a truncated head): [`Decoder::head`] tells those apart.
    ///
    /// The hot paths of the serde decoder use this rather than [`Decoder::head`]: three
    /// scalars stay in registers, where a [`Head`] merged from the fast and the slow path
    /// goes through memory, copied with wider loads than it was stored with (a
    /// store-forwarding stall on every item).
    #[inline(always)]
    pub(super) fn peek_definite(&self) -> Option<(u8, u64, usize)> {
        let rest = self.buf.get(self.pos..)?;
        let ib = *rest.first()?;
        let (arg, used) = match ib & 0x1f {
            info @ 0..=23 => (u64::from(info), 1),
            24 => (u64::from(*rest.get(1)?), 2),
            25 => (
                u64::from(u16::from_be_bytes(rest.get(1..3)?.try_into().ok()?)),
                3,
            ),
            26 => (
                u64::from(u32::from_be_bytes(rest.get(1..5)?.try_into().ok()?)),
                5,
            ),
            27 => (u64::from_be_bytes(rest.get(1..9)?.try_into().ok()?), 9),
            _ => return None,
        };
        Some((ib >> 5, arg, self.pos + used))
    }

    /// The definite text string at the cursor, borrowed and consumed, when it is whole and
    /// valid UTF-8; `None` (nothing consumed) for anything else, which
    /// [`Decoder::head`] + [`Decoder::text_slice`] read or refuse with their errors.
    #[inline(always)]
    pub(super) fn definite_text(&mut self) -> Option<&'a str> {
        let (3, n, start) = self.peek_definite()? else {
            return None;
        };
        let end = start.checked_add(usize::try_from(n).ok()?)?;
        let s = std::str::from_utf8(self.buf.get(start..end)?).ok()?;
        self.pos = end;
        Some(s)
    }

    /// Consumes a break byte if it is next (end of an indefinite-length item).
    pub(super) fn at_break(&mut self) -> Result<bool> {
        match self.peek() {
            Some(BREAK) => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => self.err(
                self.pos,
                "unexpected end of input inside an indefinite-length item (missing break 0xff)",
            ),
        }
    }

    #[inline]
    pub(super) fn head(&mut self) -> Result<Head> {
        let start = self.pos;
        // Fast path for the definite heads (all but break and reserved bytes) when the
        // whole head is present; everything else takes the careful path.
        if let Some((major, arg, end)) = self.peek_definite() {
            self.pos = end;
            return Ok(Head {
                major,
                info: self.buf[start] & 0x1f,
                arg: Some(arg),
                start,
                end,
            });
        }
        self.head_slow()
    }

    #[cold]
    fn head_slow(&mut self) -> Result<Head> {
        let start = self.pos;
        let [ib] = self.take_array::<1>()?;
        let major = ib >> 5;
        let info = ib & 0x1f;
        let arg = match info {
            0..=23 => Some(u64::from(info)),
            24 => Some(u64::from(self.take_array::<1>()?[0])),
            25 => Some(u64::from(u16::from_be_bytes(self.take_array()?))),
            26 => Some(u64::from(u32::from_be_bytes(self.take_array()?))),
            27 => Some(u64::from_be_bytes(self.take_array()?)),
            31 if matches!(major, 2..=5) => None,
            31 if major == 7 => {
                return self.err(
                    start,
                    "unexpected break byte 0xff outside an indefinite-length item",
                )
            }
            _ => {
                return self.err(
                    start,
                    format!(
                        "invalid head byte 0x{ib:02x} (reserved additional information {info})"
                    ),
                )
            }
        };
        Ok(Head {
            major,
            info,
            arg,
            start,
            end: self.pos,
        })
    }

    /// The definite length `n` of the item whose head starts at `at`, as a `usize`.
    pub(super) fn len(&self, at: usize, n: u64) -> Result<usize> {
        match usize::try_from(n) {
            Ok(n) => Ok(n),
            Err(_) => self.err(at, format!("length {n} does not fit in memory")),
        }
    }

    /// The body of a byte or text string (definite, or indefinite chunks of the same major).
    pub(super) fn string_body(&mut self, h: Head) -> Result<Vec<u8>> {
        match h.arg {
            Some(n) => {
                let n = self.len(h.start, n)?;
                Ok(self.take(n)?.to_vec())
            }
            None => {
                let mut out = Vec::new();
                while !self.at_break()? {
                    let chunk = self.head()?;
                    match (chunk.major == h.major, chunk.arg) {
                        (true, Some(n)) => {
                            let n = self.len(chunk.start, n)?;
                            out.extend_from_slice(self.take(n)?);
                        }
                        _ => {
                            return self.err(
                                chunk.start,
                                format!(
                                    "indefinite-length {} holds {}, expected definite-length chunks of the same type",
                                    major_name(h.major),
                                    major_name(chunk.major)
                                ),
                            )
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    fn text_body(&mut self, h: Head) -> Result<String> {
        self.text_slice(h).map(std::borrow::Cow::into_owned)
    }

    /// A text string's body, borrowed from the input when it is one definite chunk; the
    /// UTF-8 check runs once, on the input bytes.
    #[inline]
    pub(super) fn text_slice(&mut self, h: Head) -> Result<std::borrow::Cow<'a, str>> {
        // The usual case (one definite chunk, all there, valid) without the error paths.
        if let Some(n) = h.arg {
            let end = usize::try_from(n)
                .ok()
                .and_then(|n| self.pos.checked_add(n));
            if let Some(b) = end.and_then(|end| self.buf.get(self.pos..end)) {
                if let Ok(s) = std::str::from_utf8(b) {
                    self.pos += b.len();
                    return Ok(std::borrow::Cow::Borrowed(s));
                }
            }
        }
        self.text_slice_slow(h)
    }

    #[cold]
    fn text_slice_slow(&mut self, h: Head) -> Result<std::borrow::Cow<'a, str>> {
        let bytes = match h.arg {
            Some(n) => {
                let n = self.len(h.start, n)?;
                std::borrow::Cow::Borrowed(self.take(n)?)
            }
            None => std::borrow::Cow::Owned(self.string_body(h)?),
        };
        let bad = |e: std::str::Utf8Error| DecodeError {
            offset: h.start,
            message: format!(
                "text string is not valid UTF-8 (invalid byte at position {} of the string)",
                e.valid_up_to()
            ),
        };
        match bytes {
            std::borrow::Cow::Borrowed(b) => std::str::from_utf8(b)
                .map(std::borrow::Cow::Borrowed)
                .map_err(bad),
            std::borrow::Cow::Owned(b) => String::from_utf8(b)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| bad(e.utf8_error())),
        }
    }

    fn text(&mut self, what: &str) -> Result<String> {
        let h = self.head()?;
        if h.major != 3 {
            return self.err(
                h.start,
                format!(
                    "{what} must be a text string, found {}",
                    major_name(h.major)
                ),
            );
        }
        self.text_body(h)
    }

    /// Reads the items of an array (definite or indefinite) with `item`.
    fn seq<T>(
        &mut self,
        h: Head,
        what: &str,
        mut item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        if h.major != 4 {
            return self.err(
                h.start,
                format!("{what} must be an array, found {}", major_name(h.major)),
            );
        }
        match h.arg {
            Some(n) => {
                let n = self.len(h.start, n)?;
                let mut out = Vec::with_capacity(n.min(self.remaining()).min(MAX_PREALLOC));
                for _ in 0..n {
                    out.push(item(self)?);
                }
                Ok(out)
            }
            None => {
                let mut out = Vec::new();
                while !self.at_break()? {
                    out.push(item(self)?);
                }
                Ok(out)
            }
        }
    }

    /// Opens an array that must hold exactly `n` items; returns whether it is indefinite.
    fn open_tuple(&mut self, n: u64, what: &str) -> Result<bool> {
        let h = self.head()?;
        match (h.major, h.arg) {
            (4, Some(len)) if len == n => Ok(false),
            (4, None) => Ok(true),
            (4, Some(len)) => self.err(
                h.start,
                format!("{what} must be an array of {n} items, found {len}"),
            ),
            (m, _) => self.err(
                h.start,
                format!(
                    "{what} must be an array of {n} items, found {}",
                    major_name(m)
                ),
            ),
        }
    }

    fn close_tuple(&mut self, indefinite: bool, n: u64, what: &str) -> Result<()> {
        if indefinite && !self.at_break()? {
            return self.err(
                self.pos,
                format!("{what} must be an array of {n} items, found more"),
            );
        }
        Ok(())
    }

    fn map_body(&mut self, h: Head, depth: usize) -> Result<Object> {
        // Entries are gathered in a `Vec` and the map is bulk-built at the end: the server
        // sends keys already sorted, so the (stable) sort inside `from_iter` is one linear
        // pass and the tree is filled left to right instead of searched once per key.
        // Duplicate keys keep the last value, as repeated `insert`s would.
        let hint = match h.arg {
            Some(n) => usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(self.remaining() / 2)
                .min(MAX_PREALLOC),
            None => 0,
        };
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(hint);
        let mut entry = |this: &mut Self| -> Result<()> {
            let k = this.head()?;
            if k.major != 3 {
                return this.err(
                    k.start,
                    format!(
                        "map key must be a text string, found {}",
                        major_name(k.major)
                    ),
                );
            }
            let key = this.text_body(k)?;
            let value = this.value(depth + 1)?;
            entries.push((key, value));
            Ok(())
        };
        match h.arg {
            Some(n) => {
                for _ in 0..n {
                    entry(self)?;
                }
            }
            None => {
                while !self.at_break()? {
                    entry(self)?;
                }
            }
        }
        Ok(entries.into_iter().collect())
    }

    /// Integer digits as a decimal: used for integers outside `i64`.
    fn big_int(&self, at: usize, digits: String) -> Result<Value> {
        match Decimal::parse(&digits) {
            Ok(d) => Ok(Value::Decimal(d)),
            Err(e) => self.err(at, e.to_string()),
        }
    }

    /// A major-0/1 head as an `Int`, or a `Decimal` when it falls outside `i64`.
    pub(super) fn int_value(&self, h: Head) -> Result<Value> {
        let n = i128::from(h.arg.unwrap_or(0));
        let v = if h.major == 0 { n } else { -1 - n };
        match i64::try_from(v) {
            Ok(i) => Ok(Value::Int(i)),
            Err(_) => self.big_int(h.start, v.to_string()),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return self.err(self.pos, format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    pub(super) fn value(&mut self, depth: usize) -> Result<Value> {
        self.check_depth(depth)?;
        let h = self.head()?;
        self.value_from(h, depth)
    }

    fn value_from(&mut self, h: Head, depth: usize) -> Result<Value> {
        Ok(match h.major {
            0 | 1 => self.int_value(h)?,
            2 => Value::Bytes(self.string_body(h)?),
            3 => Value::String(self.text_body(h)?),
            4 => Value::Array(self.seq(h, "array", |d| d.value(depth + 1))?),
            5 => Value::Object(self.map_body(h, depth)?),
            6 => self.tagged(h, depth)?,
            _ => self.simple(h)?,
        })
    }

    pub(super) fn simple(&self, h: Head) -> Result<Value> {
        let bits = h.arg.unwrap_or(0);
        Ok(match h.info {
            20 => Value::Bool(false),
            21 => Value::Bool(true),
            // CBOR `undefined` has no SurrealDB meaning; the server reads it as NULL too.
            22 | 23 => Value::Null,
            25 => Value::Float(f16_to_f64(bits as u16)),
            26 => Value::Float(f64::from(f32::from_bits(bits as u32))),
            27 => Value::Float(f64::from_bits(bits)),
            _ => return self.err(h.start, format!("unsupported simple value {bits}")),
        })
    }

    fn tagged(&mut self, h: Head, depth: usize) -> Result<Value> {
        let tag = h.arg.unwrap_or(0);
        self.check_depth(depth + 1)?;
        Ok(match tag {
            tags::DATETIME_TEXT => {
                let at = self.pos;
                let s = self.text("tag 0 (datetime) payload")?;
                match Datetime::parse(&s) {
                    Ok(d) => Value::Datetime(d),
                    Err(e) => return self.err(at, format!("tag 0 payload: {e}")),
                }
            }
            tags::POSITIVE_BIGNUM | tags::NEGATIVE_BIGNUM => self.bignum(h, tag)?,
            tags::NONE => {
                // The server ignores the payload; we still read it so the input stays in sync.
                self.value(depth + 1)?;
                Value::None
            }
            tags::TABLE => Value::Table(crate::value::Table(self.text("tag 7 (table) payload")?)),
            tags::RECORD_ID => Value::RecordId(self.record_id(depth + 1)?),
            tags::UUID_TEXT => Value::Uuid(self.uuid_text()?),
            tags::DECIMAL => {
                let at = self.pos;
                let s = self.text("tag 10 (decimal) payload")?;
                match Decimal::parse(&s) {
                    Ok(d) => Value::Decimal(d),
                    Err(e) => return self.err(at, e.to_string()),
                }
            }
            tags::DATETIME => Value::Datetime(self.datetime()?),
            tags::DURATION_TEXT => {
                let at = self.pos;
                let s = self.text("tag 13 (duration) payload")?;
                match Duration::parse(&s) {
                    Ok(d) => Value::Duration(d),
                    Err(e) => return self.err(at, format!("tag 13 payload: {e}")),
                }
            }
            tags::DURATION => Value::Duration(self.duration()?),
            tags::UUID => Value::Uuid(self.uuid_bytes()?),
            tags::RANGE => {
                let (start, end) = self.range(|d| d.value(depth + 2))?;
                Value::Range(Box::new(Range { start, end }))
            }
            tags::FILE => {
                let indef = self.open_tuple(2, "tag 55 (file) payload")?;
                let bucket = self.text("file bucket")?;
                let key = self.text("file key")?;
                self.close_tuple(indef, 2, "tag 55 (file) payload")?;
                Value::File(FileRef { bucket, key })
            }
            tags::SET => {
                let a = self.head()?;
                Value::Set(self.seq(a, "tag 56 (set) payload", |d| d.value(depth + 2))?)
            }
            tags::GEOMETRY_POINT..=tags::GEOMETRY_COLLECTION => {
                Value::Geometry(self.geometry_body(tag, depth + 1)?)
            }
            other => return self.err(h.start, format!("unsupported tag {other}")),
        })
    }

    fn bignum(&mut self, h: Head, tag: u64) -> Result<Value> {
        let b = self.head()?;
        if b.major != 2 {
            return self.err(
                b.start,
                format!(
                    "tag {tag} (bignum) payload must be a byte string, found {}",
                    major_name(b.major)
                ),
            );
        }
        let bytes = self.string_body(b)?;
        if bytes.len() > 16 {
            return self.err(
                h.start,
                format!(
                    "bignum of {} bytes is too large (at most 16 supported)",
                    bytes.len()
                ),
            );
        }
        let n = bytes
            .iter()
            .fold(0u128, |acc, &x| (acc << 8) | u128::from(x));
        if tag == tags::POSITIVE_BIGNUM {
            match i64::try_from(n) {
                Ok(i) => Ok(Value::Int(i)),
                Err(_) => self.big_int(h.start, n.to_string()),
            }
        } else {
            // The value is -1 - n.
            match i64::try_from(n).ok().and_then(|n| (-1i64).checked_sub(n)) {
                Some(i) => Ok(Value::Int(i)),
                None => self.big_int(
                    h.start,
                    match n.checked_add(1) {
                        Some(m) => format!("-{m}"),
                        None => "-340282366920938463463374607431768211456".to_owned(),
                    },
                ),
            }
        }
    }

    fn uuid_bytes(&mut self) -> Result<Uuid> {
        let h = self.head()?;
        if h.major != 2 {
            return self.err(
                h.start,
                format!(
                    "tag 37 (uuid) payload must be 16 bytes, found {}",
                    major_name(h.major)
                ),
            );
        }
        let b = self.string_body(h)?;
        match <[u8; 16]>::try_from(b.as_slice()) {
            Ok(a) => Ok(Uuid(a)),
            Err(_) => self.err(
                h.start,
                format!("tag 37 (uuid) payload must be 16 bytes, found {}", b.len()),
            ),
        }
    }

    fn uuid_text(&mut self) -> Result<Uuid> {
        let at = self.pos;
        let s = self.text("tag 9 (uuid) payload")?;
        Uuid::parse(&s).or_else(|e| self.err(at, e.to_string()))
    }

    fn int_item(&mut self, what: &str) -> Result<i128> {
        let h = self.head()?;
        match (h.major, h.arg) {
            (0, Some(n)) => Ok(i128::from(n)),
            (1, Some(n)) => Ok(-1 - i128::from(n)),
            (m, _) => self.err(
                h.start,
                format!("{what} must be an integer, found {}", major_name(m)),
            ),
        }
    }

    pub(super) fn datetime(&mut self) -> Result<Datetime> {
        let at = self.pos;
        let indef = self.open_tuple(2, "tag 12 (datetime) payload")?;
        let secs = self.int_item("datetime seconds")?;
        let nanos = self.int_item("datetime nanoseconds")?;
        self.close_tuple(indef, 2, "tag 12 (datetime) payload")?;
        match (i64::try_from(secs), u32::try_from(nanos)) {
            (Ok(secs), Ok(nanos)) if nanos < 1_000_000_000 => Ok(Datetime { secs, nanos }),
            _ => self.err(at, format!("tag 12 datetime [{secs}, {nanos}] is out of range (seconds must fit i64, nanoseconds 0..1e9)")),
        }
    }

    fn duration(&mut self) -> Result<Duration> {
        let h = self.head()?;
        let parts = self.seq(h, "tag 14 (duration) payload", |d| {
            d.int_item("duration part")
        })?;
        let (secs, nanos) = match parts.as_slice() {
            [] => (0, 0),
            [s] => (*s, 0),
            [s, n] => (*s, *n),
            _ => {
                return self.err(
                    h.start,
                    format!(
                        "tag 14 (duration) payload must have at most 2 items, found {}",
                        parts.len()
                    ),
                )
            }
        };
        match (u64::try_from(secs), u32::try_from(nanos)) {
            (Ok(secs), Ok(nanos)) if nanos < 1_000_000_000 => Ok(Duration { secs, nanos }),
            _ => self.err(h.start, format!("tag 14 duration [{secs}, {nanos}] is out of range (seconds must fit u64, nanoseconds 0..1e9)")),
        }
    }

    /// A `[bound, bound]` payload of tag 49; `item` reads what a bound wraps.
    fn range<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<(Bound<T>, Bound<T>)> {
        let indef = self.open_tuple(2, "tag 49 (range) payload")?;
        let start = self.bound(&mut item)?;
        let end = self.bound(&mut item)?;
        self.close_tuple(indef, 2, "tag 49 (range) payload")?;
        Ok((start, end))
    }

    fn bound<T>(&mut self, item: &mut impl FnMut(&mut Self) -> Result<T>) -> Result<Bound<T>> {
        let h = self.head()?;
        match (h.major, h.info, h.arg) {
            (7, 22 | 23, _) => Ok(Bound::Unbounded),
            (6, _, Some(tags::BOUND_INCLUDED)) => Ok(Bound::Included(item(self)?)),
            (6, _, Some(tags::BOUND_EXCLUDED)) => Ok(Bound::Excluded(item(self)?)),
            (m, _, arg) => self.err(
                h.start,
                format!(
                    "range bound must be tag 50, tag 51 or null, found {}{}",
                    major_name(m),
                    if m == 6 {
                        format!(" {}", arg.unwrap_or(0))
                    } else {
                        String::new()
                    }
                ),
            ),
        }
    }

    fn record_id(&mut self, depth: usize) -> Result<RecordId> {
        let h = self.head()?;
        if h.major == 3 {
            // The server also accepts `tag8("table:key")`, parsed as SurrealQL.
            let s = self.text_body(h)?;
            return crate::escape::parse_record_id(&s)
                .or_else(|e| self.err(h.start, format!("tag 8 (record id) text payload: {e}")));
        }
        let indef = match (h.major, h.arg) {
            (4, Some(2)) => false,
            (4, None) => true,
            (4, Some(n)) => {
                return self.err(
                    h.start,
                    format!(
                    "tag 8 (record id) payload must be [table, key], found an array of {n} items"
                ),
                )
            }
            (m, _) => {
                return self.err(
                    h.start,
                    format!(
                        "tag 8 (record id) payload must be [table, key], found {}",
                        major_name(m)
                    ),
                )
            }
        };
        let table = self.text("record id table")?;
        let key = self.key(depth + 1)?;
        self.close_tuple(indef, 2, "tag 8 (record id) payload")?;
        Ok(RecordId { table, key })
    }

    fn key(&mut self, depth: usize) -> Result<RecordIdKey> {
        self.check_depth(depth)?;
        let h = self.head()?;
        Ok(match (h.major, h.arg) {
            (3, _) => RecordIdKey::String(self.text_body(h)?),
            (0 | 1, _) => match self.int_value(h)? {
                Value::Int(i) => RecordIdKey::Int(i),
                _ => return self.err(h.start, "record id integer key does not fit in i64"),
            },
            (4, _) => RecordIdKey::Array(self.seq(h, "record id array key", |d| d.value(depth + 1))?),
            (5, _) => RecordIdKey::Object(self.map_body(h, depth)?),
            (6, Some(tags::UUID)) => RecordIdKey::Uuid(self.uuid_bytes()?),
            (6, Some(tags::UUID_TEXT)) => RecordIdKey::Uuid(self.uuid_text()?),
            (6, Some(tags::RANGE)) => {
                let (start, end) = self.range(|d| d.key(depth + 1))?;
                RecordIdKey::Range(Box::new(KeyRange { start, end }))
            }
            (m, arg) => {
                return self.err(
                    h.start,
                    format!(
                        "record id key must be text, an integer, a uuid, an array, an object or a range, found {}{}",
                        major_name(m),
                        if m == 6 { format!(" {}", arg.unwrap_or(0)) } else { String::new() }
                    ),
                )
            }
        })
    }

    fn number(&mut self, what: &str) -> Result<f64> {
        let h = self.head()?;
        match (h.major, h.info, h.arg) {
            (0, _, Some(n)) => Ok(n as f64),
            (1, _, Some(n)) => Ok(-1.0 - n as f64),
            (7, 25..=27, _) => match self.simple(h)? {
                Value::Float(f) => Ok(f),
                _ => self.err(h.start, format!("{what} must be a number")),
            },
            (6, _, Some(tags::DECIMAL)) => {
                let s = self.text("tag 10 (decimal) payload")?;
                match s.parse::<f64>() {
                    Ok(f) if Decimal::parse(&s).is_ok() => Ok(f),
                    _ => self.err(h.start, format!("{what}: {s:?} is not a decimal number")),
                }
            }
            (m, _, _) => self.err(
                h.start,
                format!("{what} must be a number, found {}", major_name(m)),
            ),
        }
    }

    /// Reads a tag head that must be the geometry tag `want`.
    fn geometry_tag(&mut self, want: u64, depth: usize) -> Result<()> {
        self.check_depth(depth)?;
        let h = self.head()?;
        match (h.major, h.arg) {
            (6, Some(t)) if t == want => Ok(()),
            (6, Some(t)) => self.err(
                h.start,
                format!("expected geometry tag {want}, found tag {t}"),
            ),
            (m, _) => self.err(
                h.start,
                format!("expected geometry tag {want}, found {}", major_name(m)),
            ),
        }
    }

    fn point(&mut self, depth: usize) -> Result<Point> {
        self.geometry_tag(tags::GEOMETRY_POINT, depth)?;
        self.point_body()
    }

    fn point_body(&mut self) -> Result<Point> {
        let indef = self.open_tuple(2, "tag 88 (point) payload")?;
        let x = self.number("point x")?;
        let y = self.number("point y")?;
        self.close_tuple(indef, 2, "tag 88 (point) payload")?;
        Ok(Point { x, y })
    }

    fn line(&mut self, depth: usize) -> Result<Vec<Point>> {
        self.geometry_tag(tags::GEOMETRY_LINE, depth)?;
        self.line_body(depth)
    }

    fn line_body(&mut self, depth: usize) -> Result<Vec<Point>> {
        let h = self.head()?;
        self.seq(h, "tag 89 (line) payload", |s| s.point(depth + 1))
    }

    fn polygon(&mut self, depth: usize) -> Result<Vec<Vec<Point>>> {
        self.geometry_tag(tags::GEOMETRY_POLYGON, depth)?;
        self.polygon_body(depth)
    }

    fn polygon_body(&mut self, depth: usize) -> Result<Vec<Vec<Point>>> {
        let h = self.head()?;
        self.seq(h, "tag 90 (polygon) payload", |s| s.line(depth + 1))
    }

    fn geometry_body(&mut self, tag: u64, depth: usize) -> Result<Geometry> {
        let d = depth + 1;
        Ok(match tag {
            tags::GEOMETRY_POINT => Geometry::Point(self.point_body()?),
            tags::GEOMETRY_LINE => Geometry::Line(self.line_body(depth)?),
            tags::GEOMETRY_POLYGON => Geometry::Polygon(self.polygon_body(depth)?),
            tags::GEOMETRY_MULTIPOINT => {
                let h = self.head()?;
                Geometry::MultiPoint(self.seq(h, "tag 91 (multipoint) payload", |s| s.point(d))?)
            }
            tags::GEOMETRY_MULTILINE => {
                let h = self.head()?;
                Geometry::MultiLine(self.seq(h, "tag 92 (multiline) payload", |s| s.line(d))?)
            }
            tags::GEOMETRY_MULTIPOLYGON => {
                let h = self.head()?;
                Geometry::MultiPolygon(
                    self.seq(h, "tag 93 (multipolygon) payload", |s| s.polygon(d))?,
                )
            }
            _ => {
                let h = self.head()?;
                Geometry::Collection(
                    self.seq(h, "tag 94 (collection) payload", |s| s.any_geometry(d))?,
                )
            }
        })
    }

    fn any_geometry(&mut self, depth: usize) -> Result<Geometry> {
        self.check_depth(depth)?;
        let h = self.head()?;
        match (h.major, h.arg) {
            (6, Some(t @ tags::GEOMETRY_POINT..=tags::GEOMETRY_COLLECTION)) => {
                self.geometry_body(t, depth)
            }
            (m, arg) => self.err(
                h.start,
                format!(
                    "geometry collection item must be a geometry tag (88-94), found {}{}",
                    major_name(m),
                    if m == 6 {
                        format!(" {}", arg.unwrap_or(0))
                    } else {
                        String::new()
                    }
                ),
            ),
        }
    }
}

fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let mant = f64::from(h & 0x3ff);
    match exp {
        0 => sign * mant * (-24f64).exp2(),
        31 if mant == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + mant / 1024.0) * f64::from(exp - 15).exp2(),
    }
}

impl<'a> Decoder<'a> {
    /// Steps over one item without building it: heads and lengths are checked with the
    /// same caps as [`Decoder::value`], contents (UTF-8, tag payloads) are not.
    pub(super) fn skip(&mut self, depth: usize) -> Result<()> {
        self.check_depth(depth)?;
        let h = self.head()?;
        match h.major {
            2 | 3 => match h.arg {
                Some(n) => {
                    let n = self.len(h.start, n)?;
                    self.take(n).map(drop)
                }
                // Chunk rules are the decoder's; reuse them rather than restate them.
                None => self.string_body(h).map(drop),
            },
            4 | 5 => {
                let per = if h.major == 5 { 2 } else { 1 };
                match h.arg {
                    Some(n) => {
                        let n = self.len(h.start, n)?;
                        for _ in 0..n {
                            for _ in 0..per {
                                self.skip(depth + 1)?;
                            }
                        }
                    }
                    None => {
                        while !self.at_break()? {
                            for _ in 0..per {
                                self.skip(depth + 1)?;
                            }
                        }
                    }
                }
                Ok(())
            }
            6 => self.skip(depth + 1),
            // Integers, simple values and floats are all head.
            _ => Ok(()),
        }
    }

    /// The major type, argument (`None`: indefinite length) and end of the head at `pos`.
    pub(super) fn head_at(mut self, pos: usize) -> Result<(u8, Option<u64>, usize)> {
        self.pos = pos;
        let h = self.head()?;
        Ok((h.major, h.arg, self.pos))
    }

    /// The byte range of every element of the array at `pos` and the offset just past it;
    /// `None` if the item at `pos` is not an array. Elements are located with
    /// [`Decoder::skip`], not built.
    pub(super) fn array_ranges(mut self, pos: usize) -> Result<Option<super::ArrayRanges>> {
        self.pos = pos;
        let h = self.head()?;
        if h.major != 4 {
            return Ok(None);
        }
        let mut out = Vec::new();
        let mut element = |d: &mut Self| -> Result<()> {
            let start = d.pos;
            d.skip(1)?;
            out.push(start..d.pos);
            Ok(())
        };
        match h.arg {
            Some(n) => {
                let n = self.len(h.start, n)?;
                for _ in 0..n {
                    element(&mut self)?;
                }
            }
            None => {
                while !self.at_break()? {
                    element(&mut self)?;
                }
            }
        }
        Ok(Some((out, self.pos)))
    }

    /// Reads a map head whose keys are definite text strings, returning each key with the
    /// byte range of its value; `None` if the item at `pos` is not such a map.
    ///
    /// `value(key, at, last)` is asked first about each value (`at`: where it starts;
    /// `last`: it is the final entry of a definite-length map): `Some(end)` means the caller
    /// has read it itself and it ends at `end` (at most the input's length), `None` that it
    /// is to be stepped over here.
    pub(super) fn text_keyed_map(
        self,
        pos: usize,
        value: impl FnMut(&'a str, usize, bool) -> Option<usize>,
    ) -> Result<Option<super::MapRanges<'a>>> {
        let mut out = Vec::new();
        let end = self.text_keyed_map_each(pos, value, |key, range| out.push((key, range)))?;
        Ok(end.map(|end| (out, end)))
    }

    /// [`text_keyed_map`](Self::text_keyed_map) handing each entry to `entry` as it is
    /// read instead of collecting them, and answering only the offset past the map. When
    /// the answer is `None` (a key that is not one definite text string), `entry` may
    /// already have seen the entries before it.
    pub(super) fn text_keyed_map_each(
        mut self,
        pos: usize,
        mut value: impl FnMut(&'a str, usize, bool) -> Option<usize>,
        mut out: impl FnMut(&'a str, std::ops::Range<usize>),
    ) -> Result<Option<usize>> {
        self.pos = pos;
        let h = self.head()?;
        if h.major != 5 {
            return Ok(None);
        }
        let mut entry = |d: &mut Self, last: bool| -> Result<bool> {
            let k = d.head()?;
            if k.major != 3 || k.arg.is_none() {
                return Ok(false);
            }
            let key = match known_key(d.buf, d.pos, k.arg) {
                Some(s) => {
                    d.pos += s.len();
                    s
                }
                None => match d.text_slice(k)? {
                    std::borrow::Cow::Borrowed(s) => s,
                    std::borrow::Cow::Owned(_) => return Ok(false),
                },
            };
            let start = d.pos;
            match value(key, start, last) {
                Some(end) if (start..=d.buf.len()).contains(&end) => d.pos = end,
                _ => d.skip(1)?,
            }
            out(key, start..d.pos);
            Ok(true)
        };
        match h.arg {
            Some(n) => {
                let n = self.len(h.start, n)?;
                for i in 0..n {
                    if !entry(&mut self, i + 1 == n)? {
                        return Ok(None);
                    }
                }
            }
            None => {
                while !self.at_break()? {
                    if !entry(&mut self, false)? {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some(self.pos))
    }
}

/// The key of an RPC answer or a statement row that starts at `pos` with length `len`, when
/// it is one of the few the protocol uses: those are read without a UTF-8 pass (equal bytes
/// are the same valid text). Anything else is `None` and read as any text is.
#[inline(always)]
fn known_key(buf: &[u8], pos: usize, len: Option<u64>) -> Option<&'static str> {
    let len = usize::try_from(len?).ok()?;
    let b = buf.get(pos..pos.checked_add(len)?)?;
    Some(match b {
        b"id" => "id",
        b"result" => "result",
        b"status" => "status",
        b"time" => "time",
        b"type" => "type",
        b"error" => "error",
        b"kind" => "kind",
        b"details" => "details",
        _ => return None,
    })
}
