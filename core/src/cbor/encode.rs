//! The CBOR writer: heads written by hand (a few shifts beat a generic header type on
//! this hot path), definite lengths only.

use super::tags;
use crate::value::{
    Bound, Datetime, Decimal, Duration, FileRef, Geometry, KeyRange, Point, Range, RecordId,
    RecordIdKey, Uuid, Value,
};

/// A low-level CBOR writer appending to a caller-owned buffer.
///
/// Lets callers build envelopes (`{id, method, params}`) directly, without first building
/// a [`Value`] tree. Every container is written with a definite length that the caller
/// promises to fill with exactly that many items (map entries count once per key/value pair).
///
/// ```
/// use surql::cbor::{self, Encoder};
/// let mut buf = Vec::new();
/// Encoder::new(&mut buf).map(1).text("id").int(1);
/// assert_eq!(buf, [0xa1, 0x62, b'i', b'd', 0x01]);
/// assert_eq!(cbor::decode(&buf).unwrap().get("id"), Some(&surql::Value::Int(1)));
/// ```
#[derive(Debug)]
pub struct Encoder<'a>(pub &'a mut Vec<u8>);

const MAJOR_UINT: u8 = 0;
const MAJOR_NEGINT: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;

impl<'a> Encoder<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Encoder(out)
    }

    #[inline]
    fn head(&mut self, major: u8, n: u64) {
        let m = major << 5;
        if n < 24 {
            self.0.push(m | n as u8);
        } else if n <= 0xff {
            self.0.extend_from_slice(&[m | 24, n as u8]);
        } else if n <= 0xffff {
            let b = (n as u16).to_be_bytes();
            self.0.extend_from_slice(&[m | 25, b[0], b[1]]);
        } else if n <= 0xffff_ffff {
            let b = (n as u32).to_be_bytes();
            self.0.extend_from_slice(&[m | 26, b[0], b[1], b[2], b[3]]);
        } else {
            self.0.push(m | 27);
            self.0.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// Starts a map of `len` key/value pairs.
    pub fn map(&mut self, len: usize) -> &mut Self {
        self.head(MAJOR_MAP, len as u64);
        self
    }

    /// Starts an array of `len` items.
    pub fn array(&mut self, len: usize) -> &mut Self {
        self.head(MAJOR_ARRAY, len as u64);
        self
    }

    /// Writes a text string.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.head(MAJOR_TEXT, s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    /// Writes a byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(MAJOR_BYTES, b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }

    /// Writes an integer in its shortest form.
    pub fn int(&mut self, v: i64) -> &mut Self {
        if v >= 0 {
            self.head(MAJOR_UINT, v as u64);
        } else {
            // CBOR stores -1 - v, which is the bitwise complement for two's complement.
            self.head(MAJOR_NEGINT, !v as u64);
        }
        self
    }

    /// Writes an unsigned integer in its shortest form. The server wraps values above
    /// `i64::MAX` to negative numbers: only use this for values known to fit, such as
    /// duration seconds.
    pub fn uint(&mut self, v: u64) -> &mut Self {
        self.head(MAJOR_UINT, v);
        self
    }

    /// Writes a float as a 64-bit IEEE 754 value (`fb`), preserving NaN payloads and `-0.0`.
    pub fn float(&mut self, v: f64) -> &mut Self {
        self.0.push(0xfb);
        self.0.extend_from_slice(&v.to_bits().to_be_bytes());
        self
    }

    /// Writes `true` or `false`.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.0.push(if v { 0xf5 } else { 0xf4 });
        self
    }

    /// Writes NULL (`f6`).
    pub fn null(&mut self) -> &mut Self {
        self.0.push(0xf6);
        self
    }

    /// Writes NONE (tag 6 wrapping null: `c6 f6`).
    pub fn none(&mut self) -> &mut Self {
        self.0.extend_from_slice(super::NONE);
        self
    }

    /// Writes a tag head; the tagged item must follow.
    pub fn tag(&mut self, tag: u64) -> &mut Self {
        self.head(MAJOR_TAG, tag);
        self
    }

    /// Writes a UUID as tag 37 wrapping its 16 bytes.
    pub fn uuid(&mut self, u: &Uuid) -> &mut Self {
        self.0.extend_from_slice(&[0xd8, tags::UUID as u8, 0x50]);
        self.0.extend_from_slice(u.as_bytes());
        self
    }

    /// Writes a table name as tag 7 text.
    pub fn table(&mut self, name: &str) -> &mut Self {
        self.tag(tags::TABLE).text(name)
    }

    /// Writes a decimal as tag 10 text.
    pub fn decimal(&mut self, d: &Decimal) -> &mut Self {
        self.tag(tags::DECIMAL).text(d.as_str())
    }

    /// Writes a datetime as tag 12 `[secs, nanos]` (the only datetime shape the server
    /// accepts in tag 12).
    pub fn datetime(&mut self, d: &Datetime) -> &mut Self {
        self.tag(tags::DATETIME)
            .array(2)
            .int(d.secs)
            .uint(u64::from(d.nanos))
    }

    /// Writes a duration as tag 14 `[]`, `[secs]` or `[secs, nanos]`, as the server does.
    pub fn duration(&mut self, d: &Duration) -> &mut Self {
        self.tag(tags::DURATION);
        match (d.secs, d.nanos) {
            (0, 0) => self.array(0),
            (s, 0) => self.array(1).uint(s),
            (s, n) => self.array(2).uint(s).uint(u64::from(n)),
        }
    }

    /// Writes a record id as tag 8 `[table, key]`.
    pub fn record_id(&mut self, r: &RecordId) -> &mut Self {
        self.tag(tags::RECORD_ID).array(2).text(&r.table);
        self.record_key(&r.key)
    }

    fn record_key(&mut self, k: &RecordIdKey) -> &mut Self {
        match k {
            RecordIdKey::String(s) => self.text(s),
            RecordIdKey::Int(i) => self.int(*i),
            RecordIdKey::Uuid(u) => self.uuid(u),
            RecordIdKey::Array(a) => self.values(a),
            RecordIdKey::Object(o) => self.object(o),
            RecordIdKey::Range(r) => {
                let KeyRange { start, end } = &**r;
                self.tag(tags::RANGE).array(2);
                self.bound(start, Self::record_key);
                self.bound(end, Self::record_key)
            }
        }
    }

    fn bound<T>(
        &mut self,
        b: &Bound<T>,
        write: impl for<'x, 'y> FnOnce(&'x mut Self, &'y T) -> &'x mut Self,
    ) -> &mut Self {
        match b {
            Bound::Included(v) => {
                self.tag(tags::BOUND_INCLUDED);
                write(self, v);
            }
            Bound::Excluded(v) => {
                self.tag(tags::BOUND_EXCLUDED);
                write(self, v);
            }
            Bound::Unbounded => {
                self.null();
            }
        }
        self
    }

    fn values(&mut self, items: &[Value]) -> &mut Self {
        self.array(items.len());
        for v in items {
            self.value(v);
        }
        self
    }

    fn object(&mut self, o: &crate::value::Object) -> &mut Self {
        self.map(o.len());
        for (k, v) in o {
            self.text(k).value(v);
        }
        self
    }

    fn point(&mut self, p: &Point) -> &mut Self {
        self.tag(tags::GEOMETRY_POINT)
            .array(2)
            .float(p.x)
            .float(p.y)
    }

    fn points(&mut self, tag: u64, ps: &[Point]) -> &mut Self {
        self.tag(tag).array(ps.len());
        for p in ps {
            self.point(p);
        }
        self
    }

    fn polygon(&mut self, rings: &[Vec<Point>]) -> &mut Self {
        self.tag(tags::GEOMETRY_POLYGON).array(rings.len());
        for ring in rings {
            self.points(tags::GEOMETRY_LINE, ring);
        }
        self
    }

    /// Writes a geometry with its tag (88–94).
    pub fn geometry(&mut self, g: &Geometry) -> &mut Self {
        match g {
            Geometry::Point(p) => self.point(p),
            Geometry::Line(ps) => self.points(tags::GEOMETRY_LINE, ps),
            Geometry::Polygon(rings) => self.polygon(rings),
            Geometry::MultiPoint(ps) => self.points(tags::GEOMETRY_MULTIPOINT, ps),
            Geometry::MultiLine(lines) => {
                self.tag(tags::GEOMETRY_MULTILINE).array(lines.len());
                for l in lines {
                    self.points(tags::GEOMETRY_LINE, l);
                }
                self
            }
            Geometry::MultiPolygon(polys) => {
                self.tag(tags::GEOMETRY_MULTIPOLYGON).array(polys.len());
                for p in polys {
                    self.polygon(p);
                }
                self
            }
            Geometry::Collection(gs) => {
                self.tag(tags::GEOMETRY_COLLECTION).array(gs.len());
                for g in gs {
                    self.geometry(g);
                }
                self
            }
        }
    }

    fn range(&mut self, r: &Range) -> &mut Self {
        self.tag(tags::RANGE).array(2);
        self.bound(&r.start, Self::value);
        self.bound(&r.end, Self::value);
        self
    }

    fn file(&mut self, f: &FileRef) -> &mut Self {
        self.tag(tags::FILE).array(2).text(&f.bucket).text(&f.key)
    }

    /// Writes any [`Value`] with SurrealDB's tags.
    pub fn value(&mut self, v: &Value) -> &mut Self {
        match v {
            Value::None => self.none(),
            Value::Null => self.null(),
            Value::Bool(b) => self.bool(*b),
            Value::Int(i) => self.int(*i),
            Value::Float(f) => self.float(*f),
            Value::Decimal(d) => self.decimal(d),
            Value::String(s) => self.text(s),
            Value::Bytes(b) => self.bytes(b),
            Value::Datetime(d) => self.datetime(d),
            Value::Duration(d) => self.duration(d),
            Value::Uuid(u) => self.uuid(u),
            Value::RecordId(r) => self.record_id(r),
            Value::Table(t) => self.table(t.as_str()),
            Value::Array(a) => self.values(a),
            Value::Object(o) => self.object(o),
            Value::Set(s) => {
                self.tag(tags::SET);
                self.values(s)
            }
            Value::Geometry(g) => self.geometry(g),
            Value::Range(r) => self.range(r),
            Value::File(f) => self.file(f),
        }
    }
}
