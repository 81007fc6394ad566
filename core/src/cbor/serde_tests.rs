//! The direct serde paths (`from_slice`, `to_vec`) against the `Value` paths they replace:
//! same results, same error messages, hostile input refused without panics.
use std::collections::BTreeMap;

use super::*;
use crate::internal::strategy;
use crate::value::{
    from_value, to_value, Bound, Datetime, Decimal, Duration, FileRef, Geometry, KeyRange, Object,
    Point, Range, RecordId, RecordIdKey, Table, Uuid,
};
use pretty_assertions::assert_eq;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|e| panic!("bad hex {b:?}: {e}")))
        .collect()
}

fn obj(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Status {
    Active,
    Banned { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Row {
    id: RecordId,
    name: String,
    age: i64,
    small: u8,
    score: f64,
    ok: bool,
    tags: Vec<String>,
    created: Datetime,
    ttl: Duration,
    uid: Uuid,
    price: Decimal,
    table: Table,
    file: FileRef,
    place: Geometry,
    span: Range,
    any: Value,
    nick: Option<String>,
    #[serde(default)]
    missing: i64,
    status: Status,
    other: Status,
    pair: (i32, String),
    scores: BTreeMap<String, f64>,
    bytes: Vec<u8>,
}

fn row(i: i64) -> Row {
    Row {
        id: RecordId::new("person", format!("p{i}")),
        name: format!("Name {i}"),
        age: 20 + i,
        small: 7,
        score: 0.5 * i as f64,
        ok: i % 2 == 0,
        tags: vec!["a".into(), "ü".into()],
        created: Datetime {
            secs: -1_000 + i,
            nanos: 999_999_999,
        },
        ttl: Duration {
            secs: u64::MAX,
            nanos: 3,
        },
        uid: Uuid([i as u8; 16]),
        price: Decimal::parse("12.50").unwrap(),
        table: Table::new("a b"),
        file: FileRef {
            bucket: "b".into(),
            key: "/k".into(),
        },
        place: Geometry::Point(Point { x: 1.0, y: 2.0 }),
        span: Range {
            start: Bound::Included(Value::Int(1)),
            end: Bound::Unbounded,
        },
        any: Value::Set(vec![Value::None, Value::Datetime(Datetime::UNIX_EPOCH)]),
        nick: None,
        missing: 0,
        status: Status::Active,
        other: Status::Banned {
            reason: "spam".into(),
        },
        pair: (-3, "x".into()),
        scores: [("m".to_owned(), 1.5)].into_iter().collect(),
        bytes: vec![1, 2],
    }
}

#[test]
fn typed_rows_round_trip_through_the_direct_paths() {
    let rows: Vec<Row> = (0..5).map(row).collect();
    let bytes = to_vec(&rows).unwrap();
    assert_eq!(from_slice::<Vec<Row>>(&bytes), Ok(rows.clone()));
    // The direct serializer writes what the Value path means.
    assert_eq!(decode(&bytes), Ok(to_value(&rows).unwrap()));
    // And the Value path reads the direct bytes the same way.
    assert_eq!(from_value::<Vec<Row>>(decode(&bytes).unwrap()), Ok(rows));
}

#[test]
fn server_shapes_read_directly() {
    // What a SELECT returns: NONE fields, extra fields, text and integer record keys,
    // indefinite containers, a datetime in tag 0 text.
    let v = Value::Array(vec![obj(vec![
        ("id", Value::RecordId(RecordId::new("t", 1))),
        ("created", Value::Datetime(Datetime { secs: 5, nanos: 6 })),
        (
            "extra",
            obj(vec![("deep", Value::Array(vec![Value::Null]))]),
        ),
        ("name", Value::from("n")),
        ("age", Value::Float(42.0)),
        ("nick", Value::None),
        ("missing", Value::None),
    ])]);
    #[derive(Debug, PartialEq, Deserialize)]
    struct Small {
        id: RecordId,
        created: Datetime,
        name: String,
        age: u8,
        nick: Option<String>,
        #[serde(default)]
        missing: i64,
    }
    let want = vec![Small {
        id: RecordId::new("t", 1),
        created: Datetime { secs: 5, nanos: 6 },
        name: "n".into(),
        age: 42,
        nick: None,
        missing: 0,
    }];
    assert_eq!(from_slice::<Vec<Small>>(&encode(&v)), Ok(want));
    // Indefinite array of one indefinite map {"a": "x"}, with a text datetime.
    #[derive(Debug, PartialEq, Deserialize)]
    struct A {
        a: String,
        at: Datetime,
    }
    let mut b = hex("9f bf 61 61 7f 61 78 ff 62 61 74 c0 74");
    b.extend_from_slice(b"1970-01-01T00:00:01Z");
    b.extend_from_slice(&hex("ff ff"));
    assert_eq!(
        from_slice::<Vec<A>>(&b),
        Ok(vec![A {
            a: "x".into(),
            at: Datetime { secs: 1, nanos: 0 }
        }])
    );
}

#[test]
fn shape_errors_name_the_path_and_the_offset() {
    let good = obj(vec![("age", Value::Int(1)), ("name", Value::from("n"))]);
    let bad = obj(vec![("age", Value::from("x")), ("name", Value::from("n"))]);
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct P {
        age: i64,
        name: String,
    }
    let v = Value::Array(vec![good.clone(), good.clone(), good, bad]);
    let bytes = encode(&v);
    let e = from_slice::<Vec<P>>(&bytes).unwrap_err();
    assert_eq!(
        e.message,
        "the item does not fit the requested type: field `[3].age`: expected i64, found string \"x\""
    );
    // The offset is the start of the offending item: the text "x" after the key "age".
    assert_eq!(bytes.get(e.offset..e.offset + 2), Some(&[0x61, b'x'][..]));

    let e = from_slice::<Vec<P>>(&encode(&Value::Array(vec![obj(vec![(
        "name",
        Value::from("n"),
    )])])))
    .unwrap_err();
    assert!(
        e.message
            .ends_with("field `[0].age`: missing (absent or NONE) and not optional"),
        "{e}"
    );
    let e = from_slice::<Vec<u8>>(&encode(&Value::Array(vec![Value::Int(300)]))).unwrap_err();
    assert!(
        e.message
            .ends_with("field `[0]`: expected u8, found integer `300`"),
        "{e}"
    );
    let e = from_slice::<Datetime>(&encode(&Value::Int(1))).unwrap_err();
    assert!(e.message.contains("found integer `1`"), "{e}");
    let e = from_slice::<[i64; 2]>(&encode(&Value::Array(vec![Value::Int(1); 3]))).unwrap_err();
    assert!(e.message.contains("fewer elements"), "{e}");
}

#[test]
fn malformed_input_is_reported_like_decode() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct P {
        a: i64,
    }
    // An integer map key.
    let e = from_slice::<P>(&hex("a1 01 02")).unwrap_err();
    assert_eq!(e.offset, 1);
    assert!(e.message.contains("map key must be a text string"), "{e}");
    // Truncated text, invalid UTF-8, trailing bytes, an unknown tag in an ignored field.
    assert!(from_slice::<String>(&hex("63 61 62")).is_err());
    let e = from_slice::<String>(&hex("62 ff fe")).unwrap_err();
    assert!(e.message.contains("UTF-8"), "{e}");
    let e = from_slice::<i64>(&hex("01 02")).unwrap_err();
    assert_eq!((e.offset, e.message.contains("trailing")), (1, true));
    let e = from_slice::<P>(&hex("a2 61 61 01 61 62 d9 03 e7 00")).unwrap_err();
    assert!(e.message.contains("unsupported tag 999"), "{e}");
}

#[test]
fn fast_paths_keep_the_general_rules() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct P {
        #[serde(default)]
        a: i64,
        b: Option<String>,
    }
    // A NONE field is an absent one, whether tag 6 is written short (c6) or long-hand
    // (d8 06, d9 00 06): the field takes its default.
    for none in [
        "c6 f6",
        "d8 06 f6",
        "d9 00 06 f6",
        "da 00 00 00 06 f6",
        "c6 01",
    ] {
        let bytes = hex(&format!("a2 61 61 {none} 61 62 61 78"));
        assert_eq!(
            from_slice::<P>(&bytes),
            Ok(P {
                a: 0,
                b: Some("x".into())
            }),
            "{none}"
        );
    }
    // Other tags written long-hand are not NONE: tag 7 (a table) does not fit `i64`.
    let e = from_slice::<P>(&hex("a1 61 61 d8 07 61 74")).unwrap_err();
    assert!(e.message.contains("`a`"), "{e}");
    // A map cut right after a key: the missing value is reported, as before.
    let e = from_slice::<P>(&hex("a1 61 61")).unwrap_err();
    assert_eq!(e.offset, 3, "{e}");
    assert!(e.message.contains("unexpected end of input"), "{e}");
    // Keys and values that are not UTF-8, cut short, or written in chunks.
    let e = from_slice::<P>(&hex("a1 61 ff 01")).unwrap_err();
    assert!(e.message.contains("UTF-8"), "{e}");
    assert_eq!(e.offset, 1);
    let e = from_slice::<P>(&hex("a1 61 62 63 78 79")).unwrap_err();
    assert!(e.message.contains("unexpected end of input"), "{e}");
    assert_eq!(
        from_slice::<P>(&hex("a1 7f 61 62 ff 7f 61 78 61 79 ff")),
        Ok(P {
            a: 0,
            b: Some("xy".into())
        })
    );
    // A length past the end of the input, as text and as a key.
    assert!(from_slice::<String>(&hex("7b 7f ff ff ff ff ff ff ff 61")).is_err());
    assert!(from_slice::<P>(&hex("a1 7b ff ff ff ff ff ff ff ff 61")).is_err());
    // Every head is consumed exactly once: ints of every width, then the next field.
    for int in [
        "17",
        "18 2a",
        "19 01 00",
        "1a 00 01 00 00",
        "1b 00 00 00 01 00 00 00 00",
        "38 2a",
    ] {
        let bytes = hex(&format!("a2 61 61 {int} 61 62 f6"));
        let p = from_slice::<P>(&bytes).unwrap_or_else(|e| panic!("{int}: {e}"));
        assert_eq!(Ok(Value::Int(p.a)), decode(&hex(int)), "{int}");
        assert_eq!(p.b, None);
    }
}

#[test]
fn hostile_lengths_and_depths_are_refused() {
    // A huge array length with nothing behind it must not reserve memory.
    let e = from_slice::<Vec<u64>>(&hex("9b 00 ff ff ff ff ff ff ff")).unwrap_err();
    assert!(e.message.contains("unexpected end of input"), "{e}");
    let e = from_slice::<BTreeMap<String, i64>>(&hex("bb 00 ff ff ff ff ff ff ff")).unwrap_err();
    assert!(e.message.contains("unexpected end of input"), "{e}");
    // Nesting far deeper than MAX_DEPTH, through the direct paths.
    let mut deep = vec![0x81; 100_000];
    deep.push(0x01);
    for r in [
        from_slice::<Value>(&deep).map(|_| ()),
        from_slice::<serde::de::IgnoredAny>(&deep).map(|_| ()),
        from_slice::<NestedVec>(&deep).map(|_| ()),
    ] {
        let e = r.unwrap_err();
        assert!(e.message.contains("nesting deeper than"), "{e}");
    }
}

/// A type that recurses as deep as the input does.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
#[allow(dead_code)]
enum NestedVec {
    Leaf(i64),
    Nest(Vec<NestedVec>),
}

/// An `f64` compared by bits (NaN equals NaN).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct Bits(f64);

impl PartialEq for Bits {
    fn eq(&self, o: &Self) -> bool {
        self.0.to_bits() == o.0.to_bits() || (self.0.is_nan() && o.0.is_nan())
    }
}

fn same_outcome<T>(v: &Value) -> Result<(), TestCaseError>
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let direct = from_slice::<T>(&encode(v));
    let via_value = from_value::<T>(v.clone());
    match (direct, via_value) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        (Err(a), Err(b)) => prop_assert!(
            a.message.ends_with(&b.0),
            "direct {:?} vs value {:?}",
            a.message,
            b.0
        ),
        (a, b) => prop_assert!(false, "direct {a:?} vs value {b:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn direct_decoding_agrees_with_from_value(v in strategy::value()) {
        prop_assert_eq!(from_slice::<Value>(&encode(&v)), Ok(v.clone()));
        // The Value bridge itself is lossless for every value CBOR can carry.
        prop_assert_eq!(from_value::<Value>(v.clone()), Ok(v.clone()));
        prop_assert_eq!(to_value(&v), Ok(v.clone()));
        same_outcome::<Vec<Value>>(&v)?;
        same_outcome::<Option<String>>(&v)?;
        same_outcome::<i64>(&v)?;
        same_outcome::<Bits>(&v)?;
        same_outcome::<BTreeMap<String, Value>>(&v)?;
        same_outcome::<Vec<Option<Datetime>>>(&v)?;
        same_outcome::<Datetime>(&v)?;
        same_outcome::<RecordId>(&v)?;
        same_outcome::<Uuid>(&v)?;
        same_outcome::<Duration>(&v)?;
        same_outcome::<(bool, Value)>(&v)?;
    }

    #[test]
    fn direct_encoding_agrees_with_the_value_path(v in strategy::value()) {
        prop_assert_eq!(to_vec(&v), Ok(encode(&v)));
        let w = Value::Array(vec![v.clone(), obj(vec![("k", v)])]);
        prop_assert_eq!(to_vec(&w), Ok(encode(&w)));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_direct_paths(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = from_slice::<Value>(&bytes);
        let _ = from_slice::<Vec<Row>>(&bytes);
        let _ = from_slice::<Row>(&bytes);
        let _ = from_slice::<BTreeMap<String, Option<Vec<u8>>>>(&bytes);
        let _ = from_slice::<serde::de::IgnoredAny>(&bytes);
    }

    #[test]
    fn corrupted_rows_never_panic(i in 0i64..4, flip in any::<(prop::sample::Index, u8)>(), cut in any::<prop::sample::Index>()) {
        let bytes = to_vec(&vec![row(i)]).unwrap();
        let mut corrupt = bytes.clone();
        let at = flip.0.index(corrupt.len());
        corrupt[at] ^= flip.1;
        let _ = from_slice::<Vec<Row>>(&corrupt);
        let n = cut.index(bytes.len());
        prop_assert!(from_slice::<Vec<Row>>(&bytes[..n]).is_err());
    }
}

#[test]
fn every_typed_field_round_trips_alone() {
    let r = row(1);
    macro_rules! alone {
        ($($f:ident: $t:ty),*) => {$(
            let b = to_vec(&r.$f).unwrap();
            assert_eq!(from_slice::<$t>(&b), Ok(r.$f.clone()), stringify!($f));
            assert_eq!(decode(&b), to_value(&r.$f).map_err(|e| panic!("{e}")), stringify!($f));
        )*};
    }
    alone!(id: RecordId, created: Datetime, ttl: Duration, uid: Uuid, price: Decimal,
           table: Table, file: FileRef, place: Geometry, span: Range, any: Value);
    let keys = [
        RecordIdKey::Int(i64::MIN),
        RecordIdKey::Uuid(Uuid([3; 16])),
        RecordIdKey::Array(vec![Value::Datetime(Datetime::UNIX_EPOCH)]),
        RecordIdKey::Object(Object::from([("a".to_owned(), Value::Null)])),
        RecordIdKey::Range(Box::new(KeyRange {
            start: Bound::Excluded(RecordIdKey::String("a".into())),
            end: Bound::Unbounded,
        })),
    ];
    for key in keys {
        let id = RecordId::new("t", key);
        let b = to_vec(&id).unwrap();
        assert_eq!(decode(&b), Ok(Value::RecordId(id.clone())));
        assert_eq!(from_slice::<RecordId>(&b), Ok(id));
    }
}

#[test]
fn direct_encoding_errors_name_the_path() {
    #[derive(Serialize)]
    struct Big {
        inner: Vec<u64>,
    }
    #[derive(Serialize)]
    enum E {
        V { big: u128 },
        T(i8, i128),
    }
    let e = to_vec(&Big {
        inner: vec![1, u64::MAX],
    })
    .unwrap_err();
    assert_eq!(
        e.message,
        "field `inner[1]`: integer 18446744073709551615 does not fit in SurrealDB's 64-bit \
         signed range; use a smaller type or set SerializeOptions::big_ints_as_decimal to \
         send it as a decimal"
    );
    assert_eq!(
        to_vec(&E::V { big: u128::MAX }).unwrap_err().message,
        to_value(&E::V { big: u128::MAX }).unwrap_err().0
    );
    assert_eq!(
        to_vec(&E::T(1, i128::MIN)).unwrap_err().message,
        to_value(&E::T(1, i128::MIN)).unwrap_err().0
    );
    let m: BTreeMap<Vec<u8>, i32> = [(vec![1], 1)].into_iter().collect();
    assert_eq!(
        to_vec(&m).unwrap_err().message,
        "map keys must be strings, integers or bools, found a sequence"
    );
    assert!(to_vec(&u64::MAX)
        .unwrap_err()
        .to_string()
        .starts_with("cannot encode as CBOR: "));
}

#[test]
fn direct_encoding_handles_unknown_and_wrong_lengths() {
    /// A sequence and a map of unknown length, and a struct announcing the wrong count.
    struct Odd;
    impl Serialize for Odd {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(None)?;
            m.serialize_entry("seq", &Unknown)?;
            m.serialize_entry(&7, &Liar)?;
            m.end()
        }
        // (helper types below)
    }
    struct Unknown;
    impl Serialize for Unknown {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            let mut q = s.serialize_seq(None)?;
            for i in 0..30 {
                q.serialize_element(&i)?;
            }
            q.end()
        }
    }
    struct Liar;
    impl Serialize for Liar {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeStruct;
            let mut st = s.serialize_struct("Liar", 300)?;
            st.serialize_field("a", &1)?;
            st.end()
        }
    }
    let _ = Odd;
    let bytes = to_vec(&Odd).unwrap();
    assert_eq!(decode(&bytes), Ok(to_value(&Odd).unwrap()));
    assert_eq!(
        decode(&bytes).unwrap().get("7"),
        Some(&obj(vec![("a", Value::Int(1))]))
    );
}

#[test]
fn foreign_payloads_of_magic_names_take_the_value_route() {
    /// A hand-written type that sends a datetime and a record id as text.
    struct Legacy;
    impl Serialize for Legacy {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeTuple;
            let mut t = s.serialize_tuple(3)?;
            t.serialize_element(&Named(
                crate::value::magic::DATETIME,
                "1970-01-01T00:00:01Z",
            ))?;
            t.serialize_element(&Named(crate::value::magic::RECORD_ID, "t:1"))?;
            t.serialize_element(&Named(crate::value::magic::UUID, "nope"))?;
            t.end()
        }
    }
    struct Named(&'static str, &'static str);
    impl Serialize for Named {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_newtype_struct(self.0, self.1)
        }
    }
    let e = to_vec(&Legacy).unwrap_err();
    assert!(e.message.contains("invalid uuid \"nope\""), "{e}");
    assert_eq!(
        e.message,
        format!(
            "cannot encode as CBOR: {}",
            to_value(&Legacy).unwrap_err().0
        )
        .trim_start_matches("cannot encode as CBOR: ")
    );
    let ok = (
        Named(crate::value::magic::DATETIME, "1970-01-01T00:00:01Z"),
        Named(crate::value::magic::RECORD_ID, "t:1"),
    );
    assert_eq!(
        decode(&to_vec(&ok).unwrap()),
        Ok(Value::Array(vec![
            Value::Datetime(Datetime { secs: 1, nanos: 0 }),
            Value::RecordId(RecordId::new("t", 1)),
        ]))
    );
}

#[test]
fn a_visitor_that_stops_early_leaves_the_cursor_in_sync() {
    /// Reads only the first entry of a map.
    #[derive(Debug, PartialEq)]
    struct First(String, i64);
    impl<'de> Deserialize<'de> for First {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = First;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<First, A::Error> {
                    let (k, v) = m
                        .next_entry::<String, i64>()?
                        .ok_or_else(|| serde::de::Error::custom("empty"))?;
                    Ok(First(k, v))
                }
            }
            d.deserialize_map(V)
        }
    }
    let v = Value::Array(vec![
        obj(vec![("a", Value::Int(1)), ("b", Value::from("x"))]),
        obj(vec![("c", Value::Int(2)), ("d", Value::Array(vec![]))]),
    ]);
    assert_eq!(
        from_slice::<Vec<First>>(&encode(&v)),
        Ok(vec![First("a".into(), 1), First("c".into(), 2)])
    );
    // The same with indefinite-length maps: {_ "a": 1, "b": 2} twice.
    let b = hex("82 bf 61 61 01 61 62 02 ff bf 61 63 03 61 64 04 ff");
    assert_eq!(
        from_slice::<Vec<First>>(&b),
        Ok(vec![First("a".into(), 1), First("c".into(), 3)])
    );
}

/// Plain record ids (text table, integer or text key) are read in place; every other
/// shape goes the `Value` way. Both must agree with `from_value`, errors included.
#[test]
fn record_ids_read_in_place_agree_with_the_value_path() {
    let cases = [
        // person:7, person:-3, person:⟨a b⟩
        "c8 82 66 70 65 72 73 6f 6e 07",
        "c8 82 66 70 65 72 73 6f 6e 22",
        "c8 82 66 70 65 72 73 6f 6e 63 61 20 62",
        // i64::MAX and a key beyond it (refused by both)
        "c8 82 61 74 1b 7f ff ff ff ff ff ff ff",
        "c8 82 61 74 1b ff ff ff ff ff ff ff ff",
        "c8 82 61 74 3b ff ff ff ff ff ff ff ff",
        // array key, indefinite payload, table not text, three parts, bad UTF-8 key
        "c8 82 61 74 82 01 02",
        "c8 9f 61 74 01 ff",
        "c8 82 01 01",
        "c8 83 61 74 01 01",
        "c8 82 61 74 61 ff",
        // text form, truncated
        "c8 68 70 65 72 73 6f 6e 3a 31",
        "c8 82 61 74",
    ];
    for case in cases {
        let b = hex(case);
        let direct = from_slice::<RecordId>(&b);
        match decode(&b) {
            Ok(v) => match (direct, crate::value::from_value::<RecordId>(v)) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{case}"),
                (Err(a), Err(b)) => assert!(a.message.ends_with(&b.0), "{case}: {a} vs {b}"),
                (a, b) => panic!("{case}: direct {a:?} vs value {b:?}"),
            },
            Err(e) => assert_eq!(direct.map_err(|d| d.message), Err(e.message), "{case}"),
        }
    }
    #[derive(Debug, PartialEq, Deserialize)]
    struct Row {
        id: RecordId,
        n: i64,
    }
    let rows = Value::Array(vec![Value::Object(
        [
            ("id".to_owned(), Value::RecordId(RecordId::new("t", 5))),
            ("n".to_owned(), Value::Int(1)),
        ]
        .into_iter()
        .collect(),
    )]);
    assert_eq!(
        from_slice::<Vec<Row>>(&encode(&rows)),
        Ok(vec![Row {
            id: RecordId::new("t", 5),
            n: 1
        }])
    );
}
