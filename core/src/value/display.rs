//! `Display` for values: valid SurrealQL literals that the server parses back to the same value.
//!
//! This is the ONE literal writer: the query compiler's log rendering, record-id keys and
//! `Value`'s `Display` all go through [`write_value`].

use std::fmt::{self, Write as _};

use super::{Bound, Geometry, Object, Point, Range, Value};
use crate::escape;

/// Writes `s` as a SurrealQL string literal: single quotes unless `s` contains `'`, then
/// double quotes (the server's `QuoteStr`). Backslashes, the active quote and control
/// characters are escaped, so no content can end the literal early.
pub fn write_string_literal(out: &mut String, s: &str) {
    let quote = if s.contains('\'') { '"' } else { '\'' };
    out.push(quote);
    write_escaped(out, s, quote);
    out.push(quote);
}

/// Writes `s` with the server's escape rules for text inside `quote` (common:`fmt/escape.rs`),
/// plus `\u{X}` for every other control character so the output stays printable.
pub(crate) fn write_escaped(out: &mut String, s: &str, quote: char) {
    for c in s.chars() {
        match c {
            '\0' => out.push_str("\\0"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\x0C' => out.push_str("\\f"),
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Writes a float so that it re-parses as a float: `1.5f`, `1f`, `-0f`, `NaN`,
/// `Infinity`, `-Infinity` (the server's own `Number::fmt_sql`).
pub(crate) fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        let _ = write!(out, "{f}f");
    }
}

/// A coordinate inside a geometry: the parser reads these as floats already, so no suffix.
fn write_coord(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        let _ = write!(out, "{f}");
    }
}

fn write_pair(out: &mut String, p: &Point) {
    out.push('[');
    write_coord(out, p.x);
    out.push_str(", ");
    write_coord(out, p.y);
    out.push(']');
}

fn write_list<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        each(out, x);
    }
    out.push(']');
}

fn write_ring(out: &mut String, ring: &[Point]) {
    write_list(out, ring, write_pair);
}

fn write_polygon(out: &mut String, rings: &[Vec<Point>]) {
    write_list(out, rings, |o, r| write_ring(o, r));
}

/// Writes a geometry: `(x, y)` for a point, a GeoJSON-like object for the rest (the
/// server turns such objects back into geometries).
pub(crate) fn write_geometry(out: &mut String, g: &Geometry) {
    let (kind, coords): (&str, &dyn Fn(&mut String)) = match g {
        Geometry::Point(p) => {
            out.push('(');
            write_coord(out, p.x);
            out.push_str(", ");
            write_coord(out, p.y);
            out.push(')');
            return;
        }
        Geometry::Line(l) => ("LineString", &|o| write_ring(o, l)),
        Geometry::Polygon(p) => ("Polygon", &|o| write_polygon(o, p)),
        Geometry::MultiPoint(m) => ("MultiPoint", &|o| write_ring(o, m)),
        Geometry::MultiLine(m) => ("MultiLineString", &|o| {
            write_list(o, m, |o, l| write_ring(o, l))
        }),
        Geometry::MultiPolygon(m) => ("MultiPolygon", &|o| {
            write_list(o, m, |o, p| write_polygon(o, p))
        }),
        Geometry::Collection(c) => {
            out.push_str("{ type: 'GeometryCollection', geometries: ");
            write_list(out, c, write_geometry);
            out.push_str(" }");
            return;
        }
    };
    let _ = write!(out, "{{ type: '{kind}', coordinates: ");
    coords(out);
    out.push_str(" }");
}

/// Writes an object literal `{ a: 1, "b-c": 2 }` (`{}` when empty) with keys escaped by
/// the server's `EscapeObjectKey` rule.
pub(crate) fn write_object(out: &mut String, o: &Object) {
    if o.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{ ");
    for (i, (k, v)) in o.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&escape::escape_object_key(k));
        out.push_str(": ");
        write_value(out, v);
    }
    out.push_str(" }");
}

/// Writes a range `a..b`, `a>..=b`, `..`: start `>` marks an excluded start, `=` before the
/// end an included end.
pub(crate) fn write_range<T>(
    out: &mut String,
    start: &Bound<T>,
    end: &Bound<T>,
    mut each: impl FnMut(&mut String, &T),
) {
    match start {
        Bound::Unbounded => {}
        Bound::Included(x) => each(out, x),
        Bound::Excluded(x) => {
            each(out, x);
            out.push('>');
        }
    }
    out.push_str("..");
    match end {
        Bound::Unbounded => {}
        Bound::Included(x) => {
            out.push('=');
            each(out, x);
        }
        Bound::Excluded(x) => each(out, x),
    }
}

/// A value inside a range bound: ranges and `NONE`/`NULL`-like bare words are parenthesised
/// so that `..` never binds to the wrong operand.
fn write_bound_value(out: &mut String, v: &Value) {
    if matches!(v, Value::Range(_)) {
        out.push('(');
        write_value(out, v);
        out.push(')');
    } else {
        write_value(out, v);
    }
}

/// Appends the SurrealQL literal of `v` to `out`.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::None => out.push_str("NONE"),
        Value::Null => out.push_str("NULL"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => write_float(out, *f),
        Value::Decimal(d) => {
            out.push_str(d.as_str());
            out.push_str("dec");
        }
        Value::String(s) => write_string_literal(out, s),
        Value::Bytes(b) => {
            out.push_str("b\"");
            for byte in b {
                let _ = write!(out, "{byte:02X}");
            }
            out.push('"');
        }
        Value::Datetime(d) => {
            let _ = write!(out, "d'{d}'");
        }
        Value::Duration(d) => {
            let _ = write!(out, "{d}");
        }
        Value::Uuid(u) => {
            let _ = write!(out, "u'{u}'");
        }
        Value::RecordId(r) => escape::write_record_id(out, r),
        Value::Table(t) => out.push_str(&escape::escape_ident(t.as_str())),
        Value::Array(a) => write_list(out, a, write_value),
        Value::Object(o) => write_object(out, o),
        Value::Set(s) => {
            // The server's set syntax: `{,}` empty, `{x,}` for one element, `{x, y}`.
            match s.as_slice() {
                [] => out.push_str("{,}"),
                [one] => {
                    out.push('{');
                    write_value(out, one);
                    out.push_str(",}");
                }
                many => {
                    out.push('{');
                    for (i, x) in many.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        write_value(out, x);
                    }
                    out.push('}');
                }
            }
        }
        Value::Geometry(g) => write_geometry(out, g),
        Value::Range(r) => {
            let Range { start, end } = &**r;
            write_range(out, start, end, write_bound_value);
        }
        Value::File(f) => {
            out.push_str("f\"");
            write_file_part(out, &f.bucket, true);
            out.push(':');
            write_file_part(out, &f.key, false);
            out.push('"');
        }
    }
}

/// The server's file-ref escaping: everything but `[A-Za-z0-9._-]` (and `/` in the key)
/// is prefixed with a backslash.
fn write_file_part(out: &mut String, s: &str, escape_slash: bool) {
    for c in s.chars() {
        if !(c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '.')
            || (!escape_slash && c == '/'))
        {
            out.push('\\');
        }
        out.push(c);
    }
}

impl fmt::Display for Value {
    /// The SurrealQL literal of the value (see [`write_value`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_value(&mut s, self);
        f.write_str(&s)
    }
}

impl fmt::Display for super::Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for super::Table {
    /// The table name escaped as an identifier (`person`, `` `my-table` ``).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape::escape_ident(self.as_str()))
    }
}

impl fmt::Display for super::FileRef {
    /// `bucket:/key`, the plain text form (without the `f"…"` literal wrapper).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.bucket, self.key)
    }
}

impl fmt::Display for Geometry {
    /// The SurrealQL literal: `(x, y)` or a GeoJSON-like object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_geometry(&mut s, self);
        f.write_str(&s)
    }
}

impl fmt::Display for Range {
    /// The SurrealQL literal: `1..=5`, `'a'>..'z'`, `..`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_range(&mut s, &self.start, &self.end, write_bound_value);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escape::parse_literal;
    use crate::value::{Datetime, Decimal, Duration, FileRef, RecordId, Table, Uuid};

    fn lit(v: Value) -> String {
        v.to_string()
    }

    #[test]
    fn scalars() {
        assert_eq!(lit(Value::None), "NONE");
        assert_eq!(lit(Value::Null), "NULL");
        assert_eq!(lit(Value::Bool(true)), "true");
        assert_eq!(lit(Value::Int(-5)), "-5");
        assert_eq!(lit(Value::Int(i64::MIN)), "-9223372036854775808");
        assert_eq!(lit(Value::Float(1.5)), "1.5f");
        assert_eq!(lit(Value::Float(1.0)), "1f");
        assert_eq!(lit(Value::Float(-0.0)), "-0f");
        assert_eq!(lit(Value::Float(f64::NAN)), "NaN");
        assert_eq!(lit(Value::Float(f64::INFINITY)), "Infinity");
        assert_eq!(lit(Value::Float(f64::NEG_INFINITY)), "-Infinity");
        assert_eq!(
            lit(Value::Decimal(Decimal::parse("1.5").unwrap())),
            "1.5dec"
        );
        assert_eq!(lit(Value::Bytes(vec![0, 0xab, 0xff])), "b\"00ABFF\"");
        assert_eq!(
            lit(Value::Datetime(
                Datetime::from_unix(1_704_067_200, 500_000_000).unwrap()
            )),
            "d'2024-01-01T00:00:00.5Z'"
        );
        assert_eq!(
            lit(Value::Duration(Duration {
                secs: 5400,
                nanos: 0
            })),
            "1h30m"
        );
        assert_eq!(
            lit(Value::Uuid(
                Uuid::parse("0190d9a4-2d5e-7b3c-8f4a-1234567890ab").unwrap()
            )),
            "u'0190d9a4-2d5e-7b3c-8f4a-1234567890ab'"
        );
        assert_eq!(lit(Value::Table(Table::new("person"))), "person");
        assert_eq!(lit(Value::Table(Table::new("select"))), "`select`");
        assert_eq!(lit(Value::RecordId(RecordId::new("t", "123"))), "t:`123`");
        assert_eq!(
            lit(Value::File(FileRef {
                bucket: "b".into(),
                key: "/a b/c.txt".into()
            })),
            "f\"b:/a\\ b/c.txt\""
        );
    }

    #[test]
    fn strings() {
        assert_eq!(lit(Value::from("abc")), "'abc'");
        assert_eq!(lit(Value::from("it's")), "\"it's\"");
        assert_eq!(lit(Value::from("say \"hi\"")), "'say \"hi\"'");
        assert_eq!(lit(Value::from("both ' and \"")), "\"both ' and \\\"\"");
        assert_eq!(lit(Value::from("back\\slash")), "'back\\\\slash'");
        assert_eq!(lit(Value::from("a\nb\tc\r\0\x0c")), "'a\\nb\\tc\\r\\0\\f'");
        assert_eq!(lit(Value::from("bell\x07 bs\x08")), "'bell\\u{7} bs\\u{8}'");
        assert_eq!(lit(Value::from("ünï ⟨⟩")), "'ünï ⟨⟩'");
        assert_eq!(lit(Value::from("data:text")), "'data:text'");
    }

    #[test]
    fn collections() {
        assert_eq!(lit(Value::Array(vec![])), "[]");
        assert_eq!(lit(Value::Array(vec![1.into(), "a".into()])), "[1, 'a']");
        let mut o = crate::value::Object::new();
        assert_eq!(lit(Value::Object(o.clone())), "{}");
        o.insert("a".into(), 1.into());
        o.insert("b-c".into(), 2.into());
        o.insert("1x".into(), Value::None);
        assert_eq!(lit(Value::Object(o)), "{ \"1x\": NONE, a: 1, \"b-c\": 2 }");
        assert_eq!(lit(Value::Set(vec![])), "{,}");
        assert_eq!(lit(Value::Set(vec![1.into()])), "{1,}");
        assert_eq!(lit(Value::Set(vec![1.into(), 2.into()])), "{1, 2}");
    }

    #[test]
    fn geometries_and_ranges() {
        let p = |x, y| Point { x, y };
        assert_eq!(
            lit(Value::Geometry(Geometry::Point(p(-0.5, 51.0)))),
            "(-0.5, 51)"
        );
        assert_eq!(
            lit(Value::Geometry(Geometry::Line(vec![
                p(0.0, 0.0),
                p(1.0, 1.5)
            ]))),
            "{ type: 'LineString', coordinates: [[0, 0], [1, 1.5]] }"
        );
        assert_eq!(
            lit(Value::Geometry(Geometry::Collection(vec![
                Geometry::Point(p(1.0, 2.0))
            ]))),
            "{ type: 'GeometryCollection', geometries: [(1, 2)] }"
        );
        let r = |start, end| Value::from(Range { start, end });
        assert_eq!(
            lit(r(Bound::Included(1.into()), Bound::Included(5.into()))),
            "1..=5"
        );
        assert_eq!(
            lit(r(Bound::Excluded(1.into()), Bound::Excluded(5.into()))),
            "1>..5"
        );
        assert_eq!(lit(r(Bound::Unbounded, Bound::Unbounded)), "..");
        assert_eq!(
            lit(r(Bound::Included("a".into()), Bound::Unbounded)),
            "'a'.."
        );
    }

    #[test]
    fn literals_read_back() {
        let p = |x, y| Point { x, y };
        let mut o = crate::value::Object::new();
        o.insert("a-b".into(), Value::Float(f64::NAN));
        o.insert("n".into(), Value::None);
        for v in [
            Value::None,
            Value::Null,
            Value::Float(-0.0),
            Value::Float(1e300),
            Value::Float(f64::NEG_INFINITY),
            Value::Decimal(Decimal::parse("-1.25e-3").unwrap()),
            Value::from("it's \"x\" \\ \n"),
            Value::Bytes(vec![1, 2, 255]),
            Value::Duration(Duration { secs: 1, nanos: 5 }),
            Value::Datetime(Datetime::from_unix(-1, 1).unwrap()),
            Value::Table(Table::new("my table")),
            Value::RecordId(RecordId::new("t", vec![Value::from("a"), 1.into()])),
            Value::Object(o),
            Value::Set(vec![1.into()]),
            Value::Geometry(Geometry::Point(p(1.5, -2.0))),
            Value::Geometry(Geometry::Polygon(vec![vec![
                p(0.0, 0.0),
                p(1.0, 0.0),
                p(0.0, 0.0),
            ]])),
            Value::Geometry(Geometry::Collection(vec![Geometry::MultiPoint(vec![p(
                1.0, 2.0,
            )])])),
            Value::from(Range {
                start: Bound::Excluded(Value::from("a")),
                end: Bound::Included(Value::Float(2.5)),
            }),
            Value::File(FileRef {
                bucket: "b".into(),
                key: "/x y.txt".into(),
            }),
        ] {
            let text = v.to_string();
            assert_eq!(parse_literal(&text), Ok(v), "{text}");
        }
    }

    /// A deliberately tiny, independent reader for what `write_string_literal` emits.
    fn unescape(lit: &str) -> Option<String> {
        let q = lit.chars().next()?;
        let body = lit.strip_prefix(q)?.strip_suffix(q)?;
        let mut out = String::new();
        let mut it = body.chars();
        while let Some(c) = it.next() {
            if c == q {
                return None; // an unescaped quote would end the literal early
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            match it.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                'f' => out.push('\x0C'),
                'u' => {
                    if it.next()? != '{' {
                        return None;
                    }
                    let hex: String = it.by_ref().take_while(|&c| c != '}').collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                e @ ('\\' | '\'' | '"') => out.push(e),
                _ => return None,
            }
        }
        Some(out)
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn string_literals_cannot_break_out(s in any::<String>()) {
                let mut out = String::new();
                write_string_literal(&mut out, &s);
                prop_assert_eq!(unescape(&out), Some(s.clone()), "{}", out);
                prop_assert_eq!(parse_literal(&out), Ok(Value::String(s)));
            }

            #[test]
            fn floats_read_back(f in any::<f64>()) {
                prop_assert_eq!(parse_literal(&Value::Float(f).to_string()), Ok(Value::Float(f)));
            }

            #[test]
            fn datetimes_read_back(secs in -62_167_219_200i64..253_402_300_800, nanos in 0u32..1_000_000_000) {
                let v = Value::Datetime(Datetime::from_unix(secs, nanos).unwrap());
                prop_assert_eq!(parse_literal(&v.to_string()), Ok(v));
            }

            #[test]
            fn durations_read_back(secs in any::<u64>(), nanos in 0u32..1_000_000_000) {
                let d = Duration { secs, nanos };
                prop_assert_eq!(Duration::parse(&d.to_string()), Ok(d));
            }
        }
    }
}
