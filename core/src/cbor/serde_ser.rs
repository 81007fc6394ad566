//! Any `Serialize` type → CBOR bytes in one pass, with no `Value` tree in between.
//!
//! The rules are those of [`to_value`](crate::value::to_value) with default options
//! (NONE for `None`/`()`, integers outside `i64` refused, externally tagged enums, map keys
//! as text) and the bytes those of [`encode`](super::encode) for the same value, except
//! that struct fields keep their declaration order (the server does not care about key
//! order). The hot typed scalars (datetimes, durations, uuids, record ids) are written
//! from their native parts; the rare ones (geometries, ranges, sets, decimals, tables,
//! files) are built as a `Value` and written by the [`Encoder`](super::Encoder).

use serde::ser::{self, Serialize, Serializer};

use super::{tags, EncodeError, Encoder};
use crate::value::magic::{self, bridge};

type Error = bridge::SerError;
type Result<T> = std::result::Result<T, Error>;

/// Serializes `v` into a fresh buffer.
pub(super) fn to_vec<T: Serialize + ?Sized>(v: &T) -> std::result::Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(128);
    v.serialize(&mut Ser::new(&mut out, false))
        .map_err(|e| EncodeError {
            message: e.to_string(),
        })?;
    Ok(out)
}

/// Appends the encoding of `v` to `out` with every decimal checked as a bound value is
/// ([`check_sendable`](crate::client::check_sendable)): the serializer of values sent
/// pre-encoded, which never pass through the check on `Value` variables.
pub(super) fn to_vec_checked<T: Serialize + ?Sized>(
    v: &T,
    out: &mut Vec<u8>,
) -> std::result::Result<(), Error> {
    v.serialize(&mut Ser::new(out, true))
}

/// The writer. `native` is set inside a magic newtype's payload, where surql's own types
/// hand over native parts instead of text (see `magic`), and where integers above
/// `i64::MAX` (duration seconds) are written as they are. `checked` refuses what
/// [`check_sendable`](crate::client::check_sendable) refuses (decimals the server would
/// round), for bytes that are bound as they are.
pub(super) struct Ser<'a> {
    out: &'a mut Vec<u8>,
    native: bool,
    checked: bool,
}

impl<'a> Ser<'a> {
    pub(super) fn new(out: &'a mut Vec<u8>, checked: bool) -> Self {
        Ser {
            out,
            native: false,
            checked,
        }
    }

    fn enc(&mut self) -> Encoder<'_> {
        Encoder::new(self.out)
    }

    fn int(&mut self, v: i128) -> Result<()> {
        if let Ok(i) = i64::try_from(v) {
            self.enc().int(i);
            return Ok(());
        }
        if self.native {
            if let Ok(u) = u64::try_from(v) {
                self.enc().uint(u);
                return Ok(());
            }
        }
        Err(big_int(&v.to_string()))
    }

    /// Writes a container head for `len` items, or reserves the spot for one whose
    /// length is only known at the end.
    fn open(&mut self, major: u8, len: Option<usize>) -> Open {
        let start = self.out.len();
        if let Some(n) = len {
            write_head(self.out, major, n as u64);
        }
        Open {
            major,
            declared: len,
            start,
            count: 0,
        }
    }

    fn close(&mut self, c: &Open) {
        match c.declared {
            Some(n) if n == c.count => {}
            Some(_) => {
                // A `Serialize` impl announced the wrong length: rewrite the head.
                let mut old = Vec::new();
                write_head(&mut old, c.major, c.declared.unwrap_or(0) as u64);
                let mut head = Vec::new();
                write_head(&mut head, c.major, c.count as u64);
                self.out.splice(c.start..c.start + old.len(), head);
            }
            None => {
                let mut head = Vec::new();
                write_head(&mut head, c.major, c.count as u64);
                self.out.splice(c.start..c.start, head);
            }
        }
    }

    /// A typed scalar whose native payload has a fixed CBOR shape: tag, then the payload
    /// written natively. A payload that does not start the way the tag needs (text from a
    /// foreign `Serialize`, say) is rewound and handled by the `Value` route instead.
    fn native_tagged<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        tag: u64,
        first_ok: fn(u8) -> bool,
        v: &T,
    ) -> Result<()> {
        let start = self.out.len();
        self.enc().tag(tag);
        let body = self.out.len();
        let r = v.serialize(&mut Ser {
            out: self.out,
            native: true,
            checked: self.checked,
        });
        match (r, self.out.get(body)) {
            (Ok(()), Some(&b)) if first_ok(b) => Ok(()),
            _ => {
                self.out.truncate(start);
                self.via_value(name, v)
            }
        }
    }

    fn via_value<T: Serialize + ?Sized>(&mut self, name: &'static str, v: &T) -> Result<()> {
        let value = bridge::magic_to_value(name, v).map_err(|e| Error::new(e.0))?;
        if self.checked {
            // Decimals (the only values the check refuses) always arrive here: alone, or
            // inside the set, range or geometry just built.
            crate::client::check_sendable("value", &value).map_err(|e| match e {
                crate::client::CallError::Invalid { reason, .. } => Error::new(reason),
                other => Error::new(other.to_string()),
            })?;
        }
        self.enc().value(&value);
        Ok(())
    }
}

fn big_int(text: &str) -> Error {
    Error::new(format!(
        "integer {text} does not fit in SurrealDB's 64-bit signed range; use a smaller \
         type or set SerializeOptions::big_ints_as_decimal to send it as a decimal"
    ))
}

fn write_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let mut e = Encoder::new(out);
    match major {
        4 => e.array(n as usize),
        _ => e.map(n as usize),
    };
}

/// A container being written.
pub(super) struct Open {
    major: u8,
    declared: Option<usize>,
    start: usize,
    count: usize,
}

/// An open array or map (`key` holds the text of a map's pending key for error paths).
pub(super) struct Compound<'s, 'a> {
    ser: &'s mut Ser<'a>,
    open: Open,
    /// For an enum variant with data: the variant, whose one-entry map is already open.
    variant: Option<&'static str>,
    key: String,
}

impl Compound<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        let i = self.open.count;
        self.open.count += 1;
        let variant = self.variant;
        v.serialize(&mut *self.ser).map_err(|e| {
            let e = e.at(bridge::Segment::Index(i));
            match variant {
                Some(name) => e.at(bridge::Segment::Field(name.to_owned())),
                None => e,
            }
        })
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        self.open.count += 1;
        self.ser.enc().text(key);
        let variant = self.variant;
        v.serialize(&mut *self.ser).map_err(|e| {
            let e = e.at(bridge::Segment::Field(key.to_owned()));
            match variant {
                Some(name) => e.at(bridge::Segment::Field(name.to_owned())),
                None => e,
            }
        })
    }

    fn end(self) -> Result<()> {
        self.ser.close(&self.open);
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.element(v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<()> {
        self.key = k.serialize(bridge::KeySerializer)?;
        self.open.count += 1;
        self.ser.enc().text(&self.key);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        let key = &self.key;
        v.serialize(&mut *self.ser)
            .map_err(|e| e.at(bridge::Segment::Field(key.clone())))
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        self.field(key, v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        self.field(key, v)
    }
    fn end(self) -> Result<()> {
        Compound::end(self)
    }
}

macro_rules! ser_int {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<()> {
            self.int(i128::from(v))
        }
    )*};
}

impl<'s, 'a> Serializer for &'s mut Ser<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'s, 'a>;
    type SerializeTuple = Compound<'s, 'a>;
    type SerializeTupleStruct = Compound<'s, 'a>;
    type SerializeTupleVariant = Compound<'s, 'a>;
    type SerializeMap = Compound<'s, 'a>;
    type SerializeStruct = Compound<'s, 'a>;
    type SerializeStructVariant = Compound<'s, 'a>;

    ser_int!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
             serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
             serialize_i128: i128);

    fn serialize_u128(self, v: u128) -> Result<()> {
        match i128::try_from(v) {
            Ok(i) => self.int(i),
            Err(_) => Err(big_int(&v.to_string())),
        }
    }

    fn is_human_readable(&self) -> bool {
        !self.native
    }
    fn serialize_bool(self, v: bool) -> Result<()> {
        self.enc().bool(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.enc().float(f64::from(v));
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.enc().float(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.enc().text(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        self.enc().text(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.enc().bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<()> {
        self.enc().none();
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<()> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.enc().none();
        Ok(())
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<()> {
        if name == magic::NULL {
            self.enc().null();
        } else {
            self.enc().none();
        }
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.enc().text(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<()> {
        if !name.starts_with("$surql::") {
            return v.serialize(self);
        }
        match name {
            magic::DATETIME => self.native_tagged(name, tags::DATETIME, |b| b == 0x82, v),
            magic::DURATION => {
                self.native_tagged(name, tags::DURATION, |b| (0x80..=0x82).contains(&b), v)
            }
            magic::UUID => self.native_tagged(name, tags::UUID, |b| b == 0x50, v),
            magic::RECORD_ID => self.native_tagged(name, tags::RECORD_ID, |b| b == 0x82, v),
            _ => self.via_value(name, v),
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<()> {
        self.enc().map(1).text(variant);
        v.serialize(self)
            .map_err(|e| e.at(bridge::Segment::Field(variant.to_owned())))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'s, 'a>> {
        let open = self.open(4, len);
        Ok(Compound {
            ser: self,
            open,
            variant: None,
            key: String::new(),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'s, 'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'s, 'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'s, 'a>> {
        self.enc().map(1).text(variant);
        let open = self.open(4, Some(len));
        Ok(Compound {
            ser: self,
            open,
            variant: Some(variant),
            key: String::new(),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'s, 'a>> {
        let open = self.open(5, len);
        Ok(Compound {
            ser: self,
            open,
            variant: None,
            key: String::new(),
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'s, 'a>> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'s, 'a>> {
        self.enc().map(1).text(variant);
        let open = self.open(5, Some(len));
        Ok(Compound {
            ser: self,
            open,
            variant: Some(variant),
            key: String::new(),
        })
    }
}

/// What [`write_object`] puts first into, and leaves out of, the object it writes.
pub(crate) struct ObjectEdit<'f> {
    /// Entries written before the value's own, checked as bound values are.
    pub(crate) prefix: &'f [(&'f str, crate::value::Value)],
    /// Keys of the value's own entries that are left out (their values are still
    /// serialized, into a scratch buffer, so one that cannot be serialized fails exactly as
    /// it does through `to_value`, which builds every entry before any is removed).
    pub(crate) omit: &'f [&'f str],
}

/// Appends `v`, which must serialize as a struct or a map, as one CBOR map edited by
/// `edit`, with decimals checked as [`to_vec_checked`] does. On error `out` is left as it
/// was; a value that is not a struct or a map is an error. `scratch` takes the left-out
/// values (a buffer kept across rows, so they cost no allocation).
pub(crate) fn write_object<T: Serialize + ?Sized>(
    v: &T,
    edit: &ObjectEdit<'_>,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<()> {
    let start = out.len();
    let r = v.serialize(ObjectSer {
        ser: &mut Ser::new(out, true),
        edit,
        scratch,
    });
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn not_object() -> Error {
    Error::new("a model must serialize as an object (a struct or a map)")
}

/// The top level of [`write_object`]: accepts a struct or a map (through `Some` and plain
/// newtypes, as `to_value` does), refuses anything else.
struct ObjectSer<'s, 'a, 'f> {
    ser: &'s mut Ser<'a>,
    edit: &'f ObjectEdit<'f>,
    scratch: &'s mut Vec<u8>,
}

impl<'s, 'a, 'f> ObjectSer<'s, 'a, 'f> {
    fn open(self, len: Option<usize>) -> Result<ObjectEntries<'s, 'a, 'f>> {
        let prefix = self.edit.prefix;
        let mut open = self.ser.open(5, len.map(|n| n + prefix.len()));
        for (key, value) in prefix {
            crate::client::check_sendable("value", value).map_err(|e| match e {
                crate::client::CallError::Invalid { reason, .. } => {
                    Error::new(reason).at(bridge::Segment::Field((*key).to_owned()))
                }
                other => Error::new(other.to_string()),
            })?;
            self.ser.enc().text(key).value(value);
            open.count += 1;
        }
        Ok(ObjectEntries {
            ser: self.ser,
            open,
            omit: self.edit.omit,
            omit_value: false,
            key: String::new(),
            scratch: self.scratch,
        })
    }
}

/// The entries of the object [`write_object`] writes.
struct ObjectEntries<'s, 'a, 'f> {
    ser: &'s mut Ser<'a>,
    open: Open,
    omit: &'f [&'f str],
    /// The pending map key is omitted, so its value goes to `scratch`.
    omit_value: bool,
    key: String,
    scratch: &'s mut Vec<u8>,
}

impl ObjectEntries<'_, '_, '_> {
    /// Serializes a left-out value only to fail as `to_value` would.
    fn discard<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<()> {
        self.scratch.clear();
        v.serialize(&mut Ser::new(self.scratch, false))
            .map_err(|e| e.at(bridge::Segment::Field(key.to_owned())))
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<()> {
        self.open.count += 1;
        self.ser.enc().text(key);
        v.serialize(&mut *self.ser)
            .map_err(|e| e.at(bridge::Segment::Field(key.to_owned())))
    }
}

impl ser::SerializeStruct for ObjectEntries<'_, '_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        if self.omit.contains(&key) {
            self.discard(key, v)
        } else {
            self.entry(key, v)
        }
    }
    fn end(self) -> Result<()> {
        self.ser.close(&self.open);
        Ok(())
    }
}

impl ser::SerializeMap for ObjectEntries<'_, '_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<()> {
        self.key = k.serialize(bridge::KeySerializer)?;
        self.omit_value = self.omit.contains(&self.key.as_str());
        if !self.omit_value {
            self.open.count += 1;
            self.ser.enc().text(&self.key);
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        let key = std::mem::take(&mut self.key);
        let r = if self.omit_value {
            self.discard(&key, v)
        } else {
            v.serialize(&mut *self.ser)
                .map_err(|e| e.at(bridge::Segment::Field(key.clone())))
        };
        self.key = key;
        r
    }
    fn end(self) -> Result<()> {
        self.ser.close(&self.open);
        Ok(())
    }
}

macro_rules! refuse {
    ($($f:ident($($t:ty),*)),* $(,)?) => {$(
        fn $f(self, $(_: $t),*) -> Result<()> {
            Err(not_object())
        }
    )*};
}

impl<'s, 'a, 'f> Serializer for ObjectSer<'s, 'a, 'f> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ObjectEntries<'s, 'a, 'f>;
    type SerializeStruct = ObjectEntries<'s, 'a, 'f>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn is_human_readable(&self) -> bool {
        true
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<()> {
        v.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<()> {
        if name.starts_with("$surql::") {
            // A typed scalar (or a `Value`), never an object here.
            return Err(not_object());
        }
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<()> {
        Err(not_object())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(not_object())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(not_object())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(not_object())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(not_object())
    }
    fn serialize_map(self, len: Option<usize>) -> Result<ObjectEntries<'s, 'a, 'f>> {
        self.open(len)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<ObjectEntries<'s, 'a, 'f>> {
        self.open(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(not_object())
    }
}
