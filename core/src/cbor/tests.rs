//! Byte-exact encodings, every tag both ways, round-trip properties, interop with
//! `ciborium`, error offsets and hostile input.
use super::*;
use crate::internal::strategy;
use crate::value::{
    Bound, Datetime, Decimal, Duration, FileRef, Geometry, KeyRange, Object, Point, Range,
    RecordId, RecordIdKey, Table, Uuid,
};
use pretty_assertions::assert_eq;
use proptest::prelude::*;

/// Parses space-separated hex (`"c6 f6"`); `<…>` is not allowed, spell bytes out.
fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|e| panic!("bad hex {b:?}: {e}")))
        .collect()
}

fn text_bytes(prefix: &str, s: &str) -> Vec<u8> {
    let mut v = hex(prefix);
    v.extend_from_slice(s.as_bytes());
    v
}

fn obj(entries: &[(&str, Value)]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

const UUID: Uuid = Uuid([
    0x01, 0x92, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07,
]);

/// Asserts the exact encoding and that it decodes back to the same value.
#[track_caller]
fn both_ways(v: Value, bytes: &[u8]) {
    assert_eq!(encode(&v), bytes, "encoding of {v:?}");
    assert_eq!(decode(bytes), Ok(v));
}

#[track_caller]
fn decodes_to(bytes: &[u8], v: Value) {
    assert_eq!(decode(bytes), Ok(v), "decoding {bytes:02x?}");
}

#[track_caller]
fn fails_at(bytes: &[u8], offset: usize, needle: &str) {
    match decode(bytes) {
        Ok(v) => panic!("{bytes:02x?} decoded to {v:?}, expected an error containing {needle:?}"),
        Err(e) => {
            assert!(
                e.message.contains(needle),
                "error {:?} should contain {needle:?}",
                e.message
            );
            assert_eq!(e.offset, offset, "offset of {e}");
        }
    }
}

// --- protocol.md §4.4 and §4.3, byte for byte ---------------------------------------

#[test]
fn spec_none_and_null() {
    both_ways(Value::None, &hex("c6 f6"));
    both_ways(Value::Null, &hex("f6"));
}

#[test]
fn spec_request_envelope() {
    let mut expected =
        hex("a3 62 69 64 01 66 6d 65 74 68 6f 64 65 71 75 65 72 79 66 70 61 72 61 6d 73 82 70");
    expected.extend_from_slice(b"SELECT * FROM $t");
    expected.extend_from_slice(&hex("a1 61 74 c7 66 70 65 72 73 6f 6e"));

    let value = obj(&[
        ("id", Value::Int(1)),
        ("method", "query".into()),
        (
            "params",
            Value::Array(vec![
                "SELECT * FROM $t".into(),
                obj(&[("t", Value::Table(Table::new("person")))]),
            ]),
        ),
    ]);
    both_ways(value, &expected);

    // The same envelope written with the low-level writer, no Value tree.
    let mut buf = Vec::new();
    Encoder::new(&mut buf)
        .map(3)
        .text("id")
        .int(1)
        .text("method")
        .text("query")
        .text("params")
        .array(2)
        .text("SELECT * FROM $t")
        .map(1)
        .text("t")
        .table("person");
    assert_eq!(buf, expected);
}

#[test]
fn spec_response_envelope() {
    both_ways(
        obj(&[("id", Value::Int(1)), ("result", Value::None)]),
        &hex("a2 62 69 64 01 66 72 65 73 75 6c 74 c6 f6"),
    );
}

#[test]
fn spec_datetime() {
    both_ways(
        Value::Datetime(Datetime {
            secs: 1_704_067_200,
            nanos: 500_000_000,
        }),
        &hex("cc 82 1a 65 92 00 80 1a 1d cd 65 00"),
    );
    both_ways(
        Value::Datetime(Datetime { secs: -1, nanos: 0 }),
        &hex("cc 82 20 00"),
    );
}

#[test]
fn spec_duration() {
    both_ways(
        Value::Duration(Duration {
            secs: 5400,
            nanos: 0,
        }),
        &hex("ce 81 19 15 18"),
    );
    both_ways(Value::Duration(Duration::default()), &hex("ce 80"));
    both_ways(
        Value::Duration(Duration { secs: 1, nanos: 5 }),
        &hex("ce 82 01 05"),
    );
    both_ways(
        Value::Duration(Duration { secs: 0, nanos: 5 }),
        &hex("ce 82 00 05"),
    );
}

#[test]
fn spec_uuid() {
    let mut bytes = hex("d8 25 50");
    bytes.extend_from_slice(UUID.as_bytes());
    both_ways(Value::Uuid(UUID), &bytes);
}

#[test]
fn spec_decimal() {
    both_ways(
        Value::Decimal(Decimal::parse("1.5").unwrap()),
        &hex("ca 63 31 2e 35"),
    );
}

#[test]
fn spec_range() {
    let r = Range {
        start: Bound::Included(Value::Int(1)),
        end: Bound::Included(Value::Int(5)),
    };
    both_ways(r.into(), &hex("d8 31 82 d8 32 01 d8 32 05"));
    let r = Range {
        start: Bound::Excluded("a".into()),
        end: Bound::Unbounded,
    };
    both_ways(r.into(), &hex("d8 31 82 d8 33 61 61 f6"));
}

#[test]
fn spec_point() {
    let (x, y) = (-0.118092f64, 51.509865f64);
    let mut bytes = hex("d8 58 82 fb");
    bytes.extend_from_slice(&x.to_bits().to_be_bytes());
    bytes.push(0xfb);
    bytes.extend_from_slice(&y.to_bits().to_be_bytes());
    both_ways(Value::Geometry(Geometry::Point(Point { x, y })), &bytes);
}

#[test]
fn spec_record_ids() {
    both_ways(
        RecordId::new("person", "tobie").into(),
        &text_bytes("c8 82 66", "person")
            .into_iter()
            .chain(text_bytes("65", "tobie"))
            .collect::<Vec<_>>(),
    );
    both_ways(RecordId::new("t", 1).into(), &hex("c8 82 61 74 01"));
    both_ways(
        RecordId::new("t", vec![Value::from("a"), Value::Int(1)]).into(),
        &hex("c8 82 61 74 82 61 61 01"),
    );
    let range = RecordIdKey::Range(Box::new(KeyRange {
        start: Bound::Included(RecordIdKey::Int(1)),
        end: Bound::Unbounded,
    }));
    both_ways(
        RecordId::new("t", range).into(),
        &hex("c8 82 61 74 d8 31 82 d8 32 01 f6"),
    );
    let mut uuid_key = hex("c8 82 61 74 d8 25 50");
    uuid_key.extend_from_slice(UUID.as_bytes());
    both_ways(RecordId::new("t", UUID).into(), &uuid_key);
    let mut o = Object::new();
    o.insert("a".into(), Value::Int(1));
    both_ways(
        RecordId::new("t", o).into(),
        &hex("c8 82 61 74 a1 61 61 01"),
    );
    // A string key that looks like a number or an id stays a string.
    both_ways(
        RecordId::new("t", "123").into(),
        &hex("c8 82 61 74 63 31 32 33"),
    );
}

// --- scalars -----------------------------------------------------------------------

#[test]
fn integers_use_the_shortest_head() {
    for (i, h) in [
        (0i64, "00"),
        (23, "17"),
        (24, "18 18"),
        (255, "18 ff"),
        (256, "19 01 00"),
        (65_535, "19 ff ff"),
        (65_536, "1a 00 01 00 00"),
        (4_294_967_295, "1a ff ff ff ff"),
        (4_294_967_296, "1b 00 00 00 01 00 00 00 00"),
        (i64::MAX, "1b 7f ff ff ff ff ff ff ff"),
        (-1, "20"),
        (-24, "37"),
        (-25, "38 18"),
        (-256, "38 ff"),
        (-257, "39 01 00"),
        (i64::MIN, "3b 7f ff ff ff ff ff ff ff"),
    ] {
        both_ways(Value::Int(i), &hex(h));
    }
}

#[test]
fn integers_outside_i64_become_decimals() {
    decodes_to(
        &hex("1b ff ff ff ff ff ff ff ff"),
        Value::Decimal(Decimal::parse("18446744073709551615").unwrap()),
    );
    decodes_to(
        &hex("3b ff ff ff ff ff ff ff ff"),
        Value::Decimal(Decimal::parse("-18446744073709551616").unwrap()),
    );
    decodes_to(
        &hex("3b 80 00 00 00 00 00 00 00"),
        Value::Decimal(Decimal::parse("-9223372036854775809").unwrap()),
    );
}

#[test]
fn floats() {
    both_ways(Value::Float(1.5), &hex("fb 3f f8 00 00 00 00 00 00"));
    both_ways(Value::Float(-0.0), &hex("fb 80 00 00 00 00 00 00 00"));
    both_ways(
        Value::Float(f64::INFINITY),
        &hex("fb 7f f0 00 00 00 00 00 00"),
    );
    assert_eq!(
        decode(&encode(&Value::Float(f64::NAN))),
        Ok(Value::Float(f64::NAN))
    );
    // The server sends the shortest lossless width.
    decodes_to(&hex("f9 3c 00"), Value::Float(1.0));
    decodes_to(&hex("f9 3e 00"), Value::Float(1.5));
    decodes_to(&hex("f9 c4 00"), Value::Float(-4.0));
    decodes_to(&hex("f9 80 00"), Value::Float(-0.0));
    decodes_to(&hex("f9 00 01"), Value::Float(5.960_464_477_539_063e-8));
    decodes_to(&hex("f9 7b ff"), Value::Float(65504.0));
    decodes_to(&hex("f9 7c 00"), Value::Float(f64::INFINITY));
    decodes_to(&hex("f9 fc 00"), Value::Float(f64::NEG_INFINITY));
    decodes_to(&hex("f9 7e 00"), Value::Float(f64::NAN));
    decodes_to(&hex("fa 47 c3 50 00"), Value::Float(100_000.0));
    decodes_to(&hex("fa 7f 80 00 00"), Value::Float(f64::INFINITY));
    // A float is never an integer, even when whole.
    assert_eq!(decode(&hex("f9 3c 00")).unwrap().kind(), "float");
}

#[test]
fn simple_values() {
    both_ways(Value::Bool(false), &hex("f4"));
    both_ways(Value::Bool(true), &hex("f5"));
    decodes_to(&hex("f7"), Value::Null);
    fails_at(&hex("f0"), 0, "unsupported simple value 16");
    fails_at(&hex("f8 20"), 0, "unsupported simple value 32");
}

#[test]
fn strings_and_bytes() {
    both_ways("".into(), &hex("60"));
    both_ways("é".into(), &hex("62 c3 a9"));
    both_ways(Value::Bytes(vec![1, 2, 3]), &hex("43 01 02 03"));
    let long = "x".repeat(300);
    both_ways(long.clone().into(), &text_bytes("79 01 2c", &long));
    // No sniffing: URL-ish, id-ish and date-ish strings stay strings.
    for s in [
        "data:image/png;base64,iVBORw0KGgo=",
        "mailto:x@y",
        "person:tobie",
        "2024-01-01T00:00:00Z",
        "0192a3b4-0000-0000-0000-000000000000",
        "1h30m",
    ] {
        assert_eq!(decode(&encode(&s.into())), Ok(Value::String(s.to_owned())));
    }
}

#[test]
fn containers() {
    both_ways(Value::Array(vec![]), &hex("80"));
    both_ways(
        Value::Array(vec![Value::Int(1), Value::Null]),
        &hex("82 01 f6"),
    );
    both_ways(Value::Object(Object::new()), &hex("a0"));
    both_ways(
        obj(&[("a", Value::Int(1)), ("b", Value::None)]),
        &hex("a2 61 61 01 61 62 c6 f6"),
    );
    both_ways(
        Value::Set(vec![Value::Int(1), Value::Int(2)]),
        &hex("d8 38 82 01 02"),
    );
    // Duplicate keys: the last one wins, like the server.
    decodes_to(&hex("a2 61 61 01 61 61 02"), obj(&[("a", Value::Int(2))]));
}

#[test]
fn indefinite_lengths() {
    decodes_to(
        &hex("9f 01 02 ff"),
        Value::Array(vec![Value::Int(1), Value::Int(2)]),
    );
    decodes_to(&hex("9f ff"), Value::Array(vec![]));
    decodes_to(&hex("bf 61 61 01 ff"), obj(&[("a", Value::Int(1))]));
    decodes_to(&hex("7f 62 61 62 61 63 ff"), "abc".into());
    decodes_to(&hex("5f 42 01 02 41 03 ff"), Value::Bytes(vec![1, 2, 3]));
    decodes_to(&hex("c8 9f 61 74 01 ff"), RecordId::new("t", 1).into());
    decodes_to(
        &hex("cc 9f 01 02 ff"),
        Value::Datetime(Datetime { secs: 1, nanos: 2 }),
    );
    decodes_to(
        &hex("ce 9f 01 ff"),
        Value::Duration(Duration { secs: 1, nanos: 0 }),
    );
    fails_at(
        &hex("7f 42 01 02 ff"),
        1,
        "definite-length chunks of the same type",
    );
    fails_at(&hex("9f 01 02"), 3, "missing break");
    fails_at(&hex("cc 9f 01 02 03 ff"), 4, "found more");
}

// --- tags ------------------------------------------------------------------------------

#[test]
fn none_ignores_its_payload() {
    decodes_to(&hex("c6 01"), Value::None);
    decodes_to(&hex("c6 82 01 02"), Value::None);
}

#[test]
fn table_and_file() {
    both_ways(
        Value::Table(Table::new("person")),
        &text_bytes("c7 66", "person"),
    );
    both_ways(
        Value::File(FileRef {
            bucket: "b".into(),
            key: "/k".into(),
        }),
        &hex("d8 37 82 61 62 62 2f 6b"),
    );
    fails_at(
        &hex("c7 01"),
        1,
        "tag 7 (table) payload must be a text string",
    );
}

#[test]
fn text_datetime_uuid_and_duration_tags() {
    decodes_to(
        &text_bytes("c0 78 18", "2024-01-01T00:00:00.500Z"),
        Value::Datetime(Datetime {
            secs: 1_704_067_200,
            nanos: 500_000_000,
        }),
    );
    decodes_to(
        &text_bytes("c9 78 24", &UUID.to_string()),
        Value::Uuid(UUID),
    );
    decodes_to(
        &text_bytes("cd 65", "1h30m"),
        Value::Duration(Duration {
            secs: 5400,
            nanos: 0,
        }),
    );
    let mut rid = hex("c8 82 61 74 c9 78 24");
    rid.extend_from_slice(UUID.to_string().as_bytes());
    decodes_to(&rid, RecordId::new("t", UUID).into());
    fails_at(
        &text_bytes("c0 63", "now"),
        1,
        "tag 0 payload: invalid datetime",
    );
    fails_at(&text_bytes("c9 63", "abc"), 1, "invalid uuid");
    fails_at(
        &text_bytes("cd 62", "1x"),
        1,
        "tag 13 payload: invalid duration",
    );
}

#[test]
fn bignums() {
    decodes_to(&hex("c2 41 05"), Value::Int(5));
    decodes_to(&hex("c2 40"), Value::Int(0));
    decodes_to(&hex("c3 41 05"), Value::Int(-6));
    decodes_to(&hex("c3 48 7f ff ff ff ff ff ff ff"), Value::Int(i64::MIN));
    decodes_to(
        &hex("c2 49 01 00 00 00 00 00 00 00 00"),
        Value::Decimal(Decimal::parse("18446744073709551616").unwrap()),
    );
    decodes_to(
        &hex("c3 50 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff"),
        Value::Decimal(Decimal::parse("-340282366920938463463374607431768211456").unwrap()),
    );
    fails_at(
        &hex("c2 51 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
        0,
        "at most 16",
    );
    fails_at(&hex("c2 01"), 1, "must be a byte string");
}

#[test]
fn datetime_and_duration_shapes() {
    fails_at(
        &text_bytes("cc 74", "2024-01-01T00:00:00Z"),
        1,
        "must be an array of 2 items",
    );
    fails_at(&hex("cc 81 01"), 1, "found 1");
    fails_at(&hex("cc 82 01 1a 3b 9a ca 00"), 1, "out of range");
    fails_at(
        &hex("cc 82 f6 00"),
        2,
        "datetime seconds must be an integer",
    );
    fails_at(&text_bytes("ce 65", "1h30m"), 1, "must be an array");
    fails_at(&hex("ce 83 01 02 03"), 1, "at most 2 items");
    fails_at(&hex("ce 81 20"), 1, "out of range");
}

#[test]
fn uuid_shapes() {
    fails_at(&hex("d8 25 43 01 02 03"), 2, "must be 16 bytes, found 3");
    fails_at(
        &hex("d8 25 01"),
        2,
        "must be 16 bytes, found an unsigned integer",
    );
}

#[test]
fn ranges() {
    fails_at(
        &hex("d8 31 82 01 f6"),
        3,
        "range bound must be tag 50, tag 51 or null",
    );
    fails_at(&hex("d8 31 81 f6"), 2, "array of 2 items, found 1");
    fails_at(&hex("d8 32 01"), 0, "unsupported tag 50");
}

#[test]
fn record_id_shapes() {
    fails_at(&hex("c8 83 61 74 01 02"), 1, "found an array of 3 items");
    fails_at(
        &hex("c8 82 01 01"),
        2,
        "record id table must be a text string",
    );
    fails_at(&hex("c8 82 61 74 f6"), 4, "record id key must be text");
    fails_at(
        &hex("c8 82 61 74 f9 3c 00"),
        4,
        "record id key must be text",
    );
    fails_at(&hex("c8 82 61 74 c7 61 61"), 4, "found a tag 7");
    decodes_to(
        &text_bytes("c8 66", "t:abcd"),
        RecordId::new("t", "abcd").into(),
    );
    decodes_to(&text_bytes("c8 63", "t:1"), RecordId::new("t", 1).into());
    fails_at(
        &text_bytes("c8 63", "t:-"),
        1,
        "tag 8 (record id) text payload: invalid record id",
    );
    fails_at(
        &hex("c8 82 61 74 1b ff ff ff ff ff ff ff ff"),
        4,
        "does not fit in i64",
    );
}

#[test]
fn geometries() {
    let p = |x: f64, y: f64| Point { x, y };
    let pt = |x: f64, y: f64| {
        let mut v = hex("d8 58 82 fb");
        v.extend_from_slice(&x.to_bits().to_be_bytes());
        v.push(0xfb);
        v.extend_from_slice(&y.to_bits().to_be_bytes());
        v
    };
    let line = [p(0.0, 0.0), p(1.0, 1.0)];
    let mut line_bytes = hex("d8 59 82");
    line_bytes.extend(pt(0.0, 0.0));
    line_bytes.extend(pt(1.0, 1.0));
    both_ways(Value::Geometry(Geometry::Line(line.to_vec())), &line_bytes);

    let mut polygon_bytes = hex("d8 5a 81");
    polygon_bytes.extend(&line_bytes);
    both_ways(
        Value::Geometry(Geometry::Polygon(vec![line.to_vec()])),
        &polygon_bytes,
    );

    let mut mp = hex("d8 5b 81");
    mp.extend(pt(2.0, 3.0));
    both_ways(
        Value::Geometry(Geometry::MultiPoint(vec![p(2.0, 3.0)])),
        &mp,
    );

    let mut ml = hex("d8 5c 81");
    ml.extend(&line_bytes);
    both_ways(
        Value::Geometry(Geometry::MultiLine(vec![line.to_vec()])),
        &ml,
    );

    let mut mpoly = hex("d8 5d 81");
    mpoly.extend(&polygon_bytes);
    both_ways(
        Value::Geometry(Geometry::MultiPolygon(vec![vec![line.to_vec()]])),
        &mpoly,
    );

    let mut coll = hex("d8 5e 82");
    coll.extend(pt(2.0, 3.0));
    coll.extend(&line_bytes);
    both_ways(
        Value::Geometry(Geometry::Collection(vec![
            Geometry::Point(p(2.0, 3.0)),
            Geometry::Line(line.to_vec()),
        ])),
        &coll,
    );

    // Points accept ints, half floats and decimals on input.
    decodes_to(
        &hex("d8 58 82 01 20"),
        Value::Geometry(Geometry::Point(p(1.0, -1.0))),
    );
    decodes_to(
        &hex("d8 58 82 f9 3e 00 ca 63 32 2e 35"),
        Value::Geometry(Geometry::Point(p(1.5, 2.5))),
    );
    fails_at(&hex("d8 58 82 01 61 61"), 4, "point y must be a number");
    fails_at(&hex("d8 59 81 01"), 3, "expected geometry tag 88");
    fails_at(
        &hex("d8 5a 81 d8 58 82 01 01"),
        3,
        "expected geometry tag 89, found tag 88",
    );
    fails_at(
        &hex("d8 5e 81 01"),
        3,
        "geometry collection item must be a geometry tag",
    );
}

#[test]
fn unknown_tags_name_the_tag() {
    fails_at(&hex("c1 01"), 0, "unsupported tag 1");
    fails_at(&hex("cf 01"), 0, "unsupported tag 15");
    fails_at(&hex("82 01 d8 64 01"), 2, "unsupported tag 100");
    fails_at(
        &hex("db ff ff ff ff ff ff ff ff 01"),
        0,
        "unsupported tag 18446744073709551615",
    );
}

// --- malformed and hostile input ----------------------------------------------------------

#[test]
fn truncated_input_reports_where_bytes_are_missing() {
    fails_at(&[], 0, "unexpected end of input");
    fails_at(&hex("19 01"), 1, "needed 2 more byte(s), 1 left");
    fails_at(&hex("63 61 62"), 1, "needed 3 more byte(s), 2 left");
    fails_at(&hex("82 01"), 2, "unexpected end of input");
    fails_at(&hex("a1 61 61"), 3, "unexpected end of input");
    fails_at(&hex("cc 82 1a 65 92"), 3, "needed 4 more byte(s), 2 left");
    // Every proper prefix of a realistic item fails cleanly.
    let full = encode(&obj(&[
        ("id", RecordId::new("person", "tobie").into()),
        ("born", Value::Datetime(Datetime { secs: 1, nanos: 2 })),
        ("tags", Value::Set(vec!["a".into(), Value::Float(0.5)])),
    ]));
    for n in 0..full.len() {
        let e = decode(&full[..n]).expect_err("a prefix must not decode");
        assert!(
            e.offset <= n,
            "offset {} past the end of a {n}-byte prefix",
            e.offset
        );
    }
}

#[test]
fn trailing_bytes_and_prefix_decoding() {
    fails_at(&hex("01 02"), 1, "1 trailing byte(s)");
    assert_eq!(decode_prefix(&hex("01 02")), Ok((Value::Int(1), 1)));
    assert_eq!(decode_prefix(&hex("c6 f6 ff")), Ok((Value::None, 2)));
}

#[test]
fn map_keys_must_be_text() {
    fails_at(
        &hex("a1 01 02"),
        1,
        "map key must be a text string, found an unsigned integer",
    );
    fails_at(&hex("82 00 a2 61 61 01 41 62 02"), 6, "found a byte string");
    fails_at(&hex("a1 c7 61 61 01"), 1, "found a tag");
}

#[test]
fn invalid_heads() {
    fails_at(&hex("1c"), 0, "reserved additional information 28");
    fails_at(&hex("ff"), 0, "unexpected break");
    fails_at(&hex("82 01 ff"), 2, "unexpected break");
    fails_at(&hex("1f"), 0, "reserved additional information 31");
    fails_at(&hex("62 ff fe"), 0, "not valid UTF-8");
}

#[test]
fn huge_lengths_do_not_allocate() {
    // Each claims ~2^64 items/bytes; the decoder must fail on missing input, not on
    // allocation.
    fails_at(
        &hex("9b ff ff ff ff ff ff ff ff 01"),
        10,
        "unexpected end of input",
    );
    fails_at(
        &hex("bb ff ff ff ff ff ff ff ff"),
        9,
        "unexpected end of input",
    );
    fails_at(&hex("5b 7f ff ff ff ff ff ff ff 01"), 9, "needed");
    fails_at(&hex("7b 00 00 00 10 00 00 00 00"), 9, "needed");
    fails_at(&hex("d8 38 9a ff ff ff ff"), 7, "unexpected end of input");
    fails_at(
        &hex("d8 59 9b 7f ff ff ff ff ff ff ff"),
        11,
        "unexpected end of input",
    );
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for (open, what) in [(0x81u8, "arrays"), (0xd8, "sets"), (0xc6, "none tags")] {
        let mut bytes = Vec::new();
        for _ in 0..100_000 {
            bytes.push(open);
            if open == 0xd8 {
                bytes.extend_from_slice(&[0x38, 0x81]);
            }
        }
        bytes.push(0x01);
        let e = decode(&bytes).expect_err(what);
        assert!(e.message.contains("nesting deeper than 256"), "{what}: {e}");
    }
    let mut maps = Vec::new();
    for _ in 0..10_000 {
        maps.extend_from_slice(&[0xa1, 0x61, 0x61]);
    }
    maps.push(0x01);
    assert!(decode(&maps).unwrap_err().message.contains("nesting"));
    let mut keys = hex("c8 82 61 74");
    for _ in 0..10_000 {
        keys.extend_from_slice(&hex("d8 31 82 d8 32"));
    }
    assert!(decode(&keys).unwrap_err().message.contains("nesting"));
    let mut geo = Vec::new();
    for _ in 0..10_000 {
        geo.extend_from_slice(&hex("d8 5e 81"));
    }
    assert!(decode(&geo).unwrap_err().message.contains("nesting"));

    // Exactly at the limit still decodes.
    let mut ok = vec![0x81u8; MAX_DEPTH];
    ok.push(0x01);
    assert!(decode(&ok).is_ok());
}

#[test]
fn decode_error_display() {
    let e = decode(&hex("c1 01")).unwrap_err();
    assert_eq!(e.to_string(), "invalid CBOR at byte 0: unsupported tag 1");
}

// --- interop with ciborium --------------------------------------------------------------

fn ciborium_decode(bytes: &[u8]) -> ciborium::Value {
    let mut reader = bytes;
    let v: ciborium::Value = ciborium::de::from_reader(&mut reader)
        .unwrap_or_else(|e| panic!("ciborium rejects {bytes:02x?}: {e}"));
    assert!(reader.is_empty(), "ciborium left {} bytes", reader.len());
    v
}

fn ciborium_encode(v: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out)
        .unwrap_or_else(|e| panic!("ciborium cannot encode: {e}"));
    out
}

#[test]
fn ciborium_reads_our_bytes() {
    use ciborium::Value as C;
    let v = obj(&[
        ("id", RecordId::new("person", 7).into()),
        (
            "at",
            Value::Datetime(Datetime {
                secs: 10,
                nanos: 20,
            }),
        ),
        ("none", Value::None),
        ("f", Value::Float(0.25)),
    ]);
    let expected = C::Map(vec![
        (
            C::Text("at".into()),
            C::Tag(
                12,
                Box::new(C::Array(vec![C::Integer(10.into()), C::Integer(20.into())])),
            ),
        ),
        (C::Text("f".into()), C::Float(0.25)),
        (
            C::Text("id".into()),
            C::Tag(
                8,
                Box::new(C::Array(vec![
                    C::Text("person".into()),
                    C::Integer(7.into()),
                ])),
            ),
        ),
        (C::Text("none".into()), C::Tag(6, Box::new(C::Null))),
    ]);
    assert_eq!(ciborium_decode(&encode(&v)), expected);
}

#[test]
fn we_read_ciborium_bytes() {
    use ciborium::Value as C;
    // ciborium writes floats in their shortest width, like the server.
    let c = C::Array(vec![
        C::Float(1.0),
        C::Float(0.1),
        C::Integer((-5).into()),
        C::Tag(37, Box::new(C::Bytes(UUID.as_bytes().to_vec()))),
        C::Tag(14, Box::new(C::Array(vec![C::Integer(3.into())]))),
        C::Map(vec![(C::Text("k".into()), C::Tag(6, Box::new(C::Null)))]),
    ]);
    let bytes = ciborium_encode(&c);
    assert_eq!(bytes.get(1..4), Some(&[0xf9, 0x3c, 0x00][..]));
    decodes_to(
        &bytes,
        Value::Array(vec![
            Value::Float(1.0),
            Value::Float(0.1),
            Value::Int(-5),
            Value::Uuid(UUID),
            Value::Duration(Duration { secs: 3, nanos: 0 }),
            obj(&[("k", Value::None)]),
        ]),
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(v in strategy::value()) {
        let bytes = encode(&v);
        prop_assert_eq!(decode(&bytes), Ok(v.clone()));
        // Appending to a non-empty buffer writes the same bytes.
        let mut buf = vec![0xaa];
        encode_into(&v, &mut buf);
        prop_assert_eq!(&buf[1..], &bytes[..]);
        // decode_prefix reports the exact length.
        let mut padded = bytes.clone();
        padded.extend_from_slice(&[0x01, 0x02]);
        prop_assert_eq!(decode_prefix(&padded).map(|(_, n)| n), Ok(bytes.len()));
    }

    #[test]
    fn ciborium_accepts_everything_we_write(v in strategy::value()) {
        let bytes = encode(&v);
        let c = ciborium_decode(&bytes);
        // And what ciborium re-encodes (shortest floats) still means the same value.
        prop_assert_eq!(decode(&ciborium_encode(&c)), Ok(v));
    }

    #[test]
    fn prefixes_and_corruptions_never_panic(v in strategy::value(), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
        let bytes = encode(&v);
        let n = cut.index(bytes.len() + 1);
        prop_assert!(n == bytes.len() || decode(&bytes[..n]).is_err());
        let mut corrupt = bytes.clone();
        let i = flip.0.index(corrupt.len());
        corrupt[i] ^= flip.1;
        crate::internal::fuzz_cbor_decode(&corrupt);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        crate::internal::fuzz_cbor_decode(&bytes);
    }
}

// --- serde path -------------------------------------------------------------------------

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Person {
    id: RecordId,
    name: String,
    age: u8,
    born: Datetime,
    tags: Vec<String>,
    nickname: Option<String>,
}

fn tobie() -> Person {
    Person {
        id: RecordId::new("person", "tobie"),
        name: "Tobie".into(),
        age: 33,
        born: Datetime {
            secs: 1_704_067_200,
            nanos: 0,
        },
        tags: vec!["a".into(), "b".into()],
        nickname: None,
    }
}

#[test]
fn serde_struct_round_trip_keeps_typed_values() {
    let bytes = to_vec(&tobie()).unwrap();
    let v = decode(&bytes).unwrap();
    // Typed values travel as their tags, not as text.
    assert_eq!(
        v.get("id"),
        Some(&Value::RecordId(RecordId::new("person", "tobie")))
    );
    assert_eq!(v.get("born").map(Value::kind), Some("datetime"));
    assert_eq!(v.get("nickname"), Some(&Value::None));
    assert_eq!(from_slice::<Person>(&bytes), Ok(tobie()));
}

#[test]
fn from_slice_reports_malformed_bytes_and_mismatched_shapes() {
    let e = from_slice::<Person>(&hex("a1 01 02")).unwrap_err();
    assert_eq!(e.offset, 1);
    let e = from_slice::<Person>(&encode(&Value::Int(1))).unwrap_err();
    assert!(e.message.contains("does not fit the requested type"), "{e}");
}

#[test]
fn to_vec_refuses_what_surrealdb_cannot_hold() {
    let e = to_vec(&u64::MAX).unwrap_err();
    assert!(e.to_string().starts_with("cannot encode as CBOR: "), "{e}");
}

// ---------------------------------------------------------------------------------------------
// skip_item

#[test]
fn skip_item_steps_over_every_shape() {
    // Each case: bytes, then the offset just past the first item.
    let cases: &[(&str, usize)] = &[
        ("00", 1),
        ("18 ff", 2),
        ("3b 00 00 00 00 00 00 00 01", 9),
        ("63 61 62 63 00", 4),
        ("42 01 02", 3),
        ("5f 41 01 42 02 03 ff 00", 7),
        ("7f 61 61 ff", 4),
        ("83 01 82 02 03 61 78 00", 7),
        ("9f 01 9f ff ff 00", 5),
        ("a2 61 61 01 61 62 82 01 02", 9),
        ("bf 61 61 01 ff", 5),
        ("c6 f6 00", 2),
        ("c8 82 61 74 01", 5),
        ("fb 3f f0 00 00 00 00 00 00", 9),
        ("f9 3c 00", 3),
        ("f5", 1),
    ];
    for (bytes, end) in cases {
        let b = hex(bytes);
        assert_eq!(skip_item(&b, 0), Ok(*end), "{bytes}");
    }
    // From the middle of a buffer.
    let b = hex("82 01 61 61 07");
    assert_eq!(skip_item(&b, 1), Ok(2));
    assert_eq!(skip_item(&b, 2), Ok(4));
}

#[test]
fn skip_item_rejects_what_the_decoder_rejects_structurally() {
    let bad: &[(&str, usize)] = &[
        ("", 0),
        ("62 61", 1),
        ("83 01 02", 3),
        ("9f 01", 2),
        ("ff", 0),
        ("1c", 0),
        ("5f 61 61 ff", 1),
        ("c6", 1),
        ("7b ff ff ff ff ff ff ff ff", 9),
    ];
    for (bytes, offset) in bad {
        let b = hex(bytes);
        let e = skip_item(&b, 0).expect_err(bytes);
        assert_eq!(e.offset, *offset, "{bytes}: {e}");
    }
    assert!(skip_item(&hex("01"), 5).is_err(), "a start past the end");
}

#[test]
fn skip_item_keeps_the_depth_cap() {
    let mut deep = vec![0x81; MAX_DEPTH + 1];
    deep.push(0x00);
    let e = skip_item(&deep, 0).expect_err("too deep");
    assert!(e.message.contains("nesting deeper"), "{e}");
    let mut ok = vec![0x81; MAX_DEPTH];
    ok.push(0x00);
    assert_eq!(skip_item(&ok, 0), Ok(ok.len()));
    // The decoder agrees on both.
    assert!(decode(&deep).is_err());
    assert!(decode(&ok).is_ok());
}

proptest! {
    #[test]
    fn skip_item_ends_where_the_decoder_ends(v in strategy::value(), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
        let mut b = encode(&v);
        let len = b.len();
        b.extend_from_slice(&tail);
        prop_assert_eq!(skip_item(&b, 0), Ok(len));
        prop_assert_eq!(decode_prefix(&b).map(|(_, n)| n), Ok(len));
    }

    #[test]
    fn skip_item_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), start in 0usize..66) {
        if let Ok(end) = skip_item(&bytes, start) {
            prop_assert!(end > start && end <= bytes.len());
        }
    }
}
