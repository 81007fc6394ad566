//! The direct row encoder against `write_data`: same object, same CBOR for every value
//! (tags included), only the order of map entries may differ; same errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{insert_data_cbor, insert_rows_cbor, write_data, write_data_cbor, Model};
use crate::cbor;
use crate::value::{
    Bound, Datetime, Decimal, Duration, FileRef, Geometry, Object, Point, Range, RecordId,
    RecordIdKey, Table, Uuid, Value,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    street: String,
    city: String,
    zip: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Rect { w: i64, h: i64 },
    Pair(i64, String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Audit {
    by: String,
    #[serde(rename = "at-time")]
    at: Datetime,
}

/// A model with every kind of field a write can meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "every")]
#[serde(rename_all = "camelCase")]
struct Every {
    id: Option<RecordId>,
    name: String,
    #[serde(rename = "first-name")]
    first_name: Option<String>,
    nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maybe: Option<i64>,
    small: u8,
    count: i32,
    big: i64,
    unsigned: u64,
    ratio: f64,
    tiny: f32,
    flag: bool,
    letter: char,
    nothing: (),
    born: Datetime,
    wait: Duration,
    token: Uuid,
    price: Decimal,
    friend: RecordId,
    home: Table,
    tags: Vec<String>,
    scores: BTreeMap<String, i64>,
    keyed: BTreeMap<i64, bool>,
    pair: (i64, String),
    address: Address,
    shapes: Vec<Shape>,
    anything: Value,
    raw_bytes: Vec<u8>,
    #[serde(skip)]
    scratch: i64,
    #[serde(flatten)]
    audit: Audit,
    /// Renamed by `rename_all` (`createdAt`): left out under that name.
    #[surql(server)]
    created_at: Option<Datetime>,
    #[surql(computed)]
    #[serde(rename = "the-label")]
    label: Option<String>,
}

fn every(id: Option<RecordId>) -> Every {
    let mut scores = BTreeMap::new();
    scores.insert("zeta".to_owned(), 1);
    scores.insert("alpha".to_owned(), -2);
    let mut keyed = BTreeMap::new();
    keyed.insert(10, true);
    keyed.insert(-3, false);
    let mut anything = Object::new();
    anything.insert("set".into(), Value::Set(vec![1.into(), "a".into()]));
    anything.insert(
        "point".into(),
        Value::Geometry(Geometry::Point(Point { x: 1.5, y: -2.0 })),
    );
    anything.insert(
        "range".into(),
        Value::Range(Box::new(Range {
            start: Bound::Included(1.into()),
            end: Bound::Excluded(9.into()),
        })),
    );
    anything.insert(
        "file".into(),
        Value::File(FileRef {
            bucket: "b".into(),
            key: "/k.txt".into(),
        }),
    );
    anything.insert("bytes".into(), Value::Bytes(vec![0, 255]));
    anything.insert("null".into(), Value::Null);
    anything.insert("none".into(), Value::None);
    anything.insert("table".into(), Value::Table(Table::new("t")));
    anything.insert(
        "dec".into(),
        Value::Decimal(Decimal::parse("12.50").unwrap()),
    );
    anything.insert(
        "rid".into(),
        Value::RecordId(RecordId::new(
            "k",
            RecordIdKey::Array(vec!["x".into(), 2.into()]),
        )),
    );
    anything.insert(
        "dur".into(),
        Value::Duration(Duration { secs: 90, nanos: 5 }),
    );
    Every {
        id,
        name: "Ada".into(),
        first_name: Some("Augusta".into()),
        nickname: None,
        maybe: None,
        small: 255,
        count: -70_000,
        big: i64::MIN,
        unsigned: i64::MAX as u64,
        ratio: -0.0,
        tiny: 1.25,
        flag: true,
        letter: 'é',
        nothing: (),
        born: Datetime::from_unix(1_700_000_000, 123_456_789).unwrap(),
        wait: Duration {
            secs: 3600,
            nanos: 0,
        },
        token: Uuid::from_bytes([7; 16]),
        price: Decimal::parse("19.99").unwrap(),
        friend: RecordId::new("person", "bob"),
        home: Table::new("house"),
        tags: vec!["a".into(), "b".into()],
        scores,
        keyed,
        pair: (4, "four".into()),
        address: Address {
            street: "Main".into(),
            city: "Paris".into(),
            zip: None,
        },
        shapes: vec![
            Shape::Empty,
            Shape::Circle(2.0),
            Shape::Rect { w: 3, h: 4 },
            Shape::Pair(1, "x".into()),
        ],
        anything: Value::Object(anything),
        raw_bytes: vec![1, 2, 3],
        scratch: 99,
        audit: Audit {
            by: "root".into(),
            at: Datetime::from_unix(5, 0).unwrap(),
        },
        created_at: Some(Datetime::from_unix(6, 0).unwrap()),
        label: Some("computed".into()),
    }
}

/// `Ok` when `a` and `b` are the same CBOR item byte for byte, except that map entries
/// may come in another order: heads, tags, integers, floats and texts must be identical.
fn same_item(a: &[u8], b: &[u8], path: &str) -> Result<(), String> {
    let (ma, arg_a, body_a) = cbor::head(a, 0).map_err(|e| format!("{path}: {e}"))?;
    let (mb, arg_b, body_b) = cbor::head(b, 0).map_err(|e| format!("{path}: {e}"))?;
    if (ma, arg_a) != (mb, arg_b) {
        return Err(format!(
            "{path}: heads differ: {:02x?} vs {:02x?}",
            &a[..body_a],
            &b[..body_b]
        ));
    }
    match ma {
        5 => {
            let (mut ea, _) = cbor::map_ranges(a).unwrap().expect("text keys");
            let (mut eb, _) = cbor::map_ranges(b).unwrap().expect("text keys");
            ea.sort_by_key(|(k, _)| *k);
            eb.sort_by_key(|(k, _)| *k);
            let keys = |e: &[(&str, std::ops::Range<usize>)]| {
                e.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>()
            };
            if keys(&ea) != keys(&eb) {
                return Err(format!("{path}: keys {:?} vs {:?}", keys(&ea), keys(&eb)));
            }
            for ((k, ra), (_, rb)) in ea.iter().zip(&eb) {
                same_item(&a[ra.clone()], &b[rb.clone()], &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        4 => {
            let (ia, _) = cbor::array_ranges(a).unwrap().expect("array");
            let (ib, _) = cbor::array_ranges(b).unwrap().expect("array");
            for (i, (ra, rb)) in ia.iter().zip(&ib).enumerate() {
                same_item(&a[ra.clone()], &b[rb.clone()], &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        6 => same_item(
            &a[body_a..],
            &b[body_b..],
            &format!("{path}<tag {arg_a:?}>"),
        ),
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a:02x?} vs {b:02x?}")),
    }
}

/// What an INSERT binds through the `Value` route: `write_data` plus the id as a record id.
fn insert_value<M: Model>(m: &M) -> Value {
    let mut o = write_data(m).unwrap();
    if let Some(rid) = m.record_id() {
        o.insert(M::META.id_field.to_owned(), Value::RecordId(rid));
    }
    Value::Object(o)
}

#[test]
fn direct_rows_are_write_data_encoded_for_every_field_kind() {
    for id in [None, Some(RecordId::new("every", "ada"))] {
        let m = every(id);
        let via_value = Value::Object(write_data(&m).unwrap());
        let mut direct = Vec::new();
        write_data_cbor(&m, &mut direct).unwrap();
        assert_eq!(cbor::decode(&direct).unwrap(), via_value);
        same_item(&direct, &cbor::encode(&via_value), "row").unwrap();

        let mut direct = Vec::new();
        insert_data_cbor(&m, &mut direct).unwrap();
        assert_eq!(cbor::decode(&direct).unwrap(), insert_value(&m));
        same_item(&direct, &cbor::encode(&insert_value(&m)), "row").unwrap();
    }
    // The left-out fields really are out, the renamed ones in under their serde names,
    // `None` is NONE, a skipped `None` absent, the flattened fields at the top.
    let mut direct = Vec::new();
    insert_data_cbor(&every(Some(RecordId::new("every", 1))), &mut direct).unwrap();
    let Value::Object(o) = cbor::decode(&direct).unwrap() else {
        panic!("not an object")
    };
    assert_eq!(o["id"], Value::RecordId(RecordId::new("every", 1)));
    assert_eq!(o["first-name"], Value::from("Augusta"));
    assert_eq!(o["nickname"], Value::None);
    assert_eq!(
        o["rawBytes"],
        Value::Array(vec![1.into(), 2.into(), 3.into()])
    );
    assert_eq!(
        o["at-time"],
        Value::Datetime(Datetime::from_unix(5, 0).unwrap())
    );
    for gone in [
        "maybe",
        "createdAt",
        "the-label",
        "label",
        "scratch",
        "audit",
    ] {
        assert!(!o.contains_key(gone), "{gone} was written");
    }
    // The id goes first, as the record id; then the fields in declaration order.
    let (_, _, first_key) = cbor::head(&direct, 0).unwrap();
    assert_eq!(&direct[first_key..first_key + 3], [0x62, b'i', b'd']);
}

#[test]
fn typed_keys_are_inserted_as_record_ids() {
    #[derive(Debug, Serialize, Deserialize, Model)]
    #[surql(table = "numbered")]
    struct Numbered {
        id: Option<i64>,
        n: i64,
    }
    let m = Numbered { id: Some(7), n: 1 };
    let mut direct = Vec::new();
    insert_data_cbor(&m, &mut direct).unwrap();
    same_item(&direct, &cbor::encode(&insert_value(&m)), "row").unwrap();
    let Value::Object(o) = cbor::decode(&direct).unwrap() else {
        panic!("not an object")
    };
    assert_eq!(o["id"], Value::RecordId(RecordId::new("numbered", 7)));
    // Without the id (save, update): never written.
    let mut direct = Vec::new();
    write_data_cbor(&m, &mut direct).unwrap();
    assert_eq!(
        direct,
        cbor::encode(&Value::Object(write_data(&m).unwrap()))
    );
}

#[test]
fn rows_are_one_array_of_insert_objects() {
    let rows = vec![every(None), every(Some(RecordId::new("every", "x")))];
    let raw = insert_rows_cbor(&rows).unwrap();
    let want = Value::Array(rows.iter().map(insert_value).collect());
    same_item(raw.as_bytes(), &cbor::encode(&want), "rows").unwrap();
    assert_eq!(
        insert_rows_cbor::<Every>(&[]).unwrap().as_bytes(),
        [0x80],
        "no rows: an empty array"
    );
}

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[surql(table = "odd")]
struct Odd {
    id: Option<RecordIdKey>,
    n: u64,
    price: Option<Decimal>,
    #[surql(server)]
    server_n: u64,
    #[surql(server)]
    server_price: Option<Decimal>,
}

fn odd() -> Odd {
    Odd {
        id: None,
        n: 1,
        price: None,
        server_n: 2,
        server_price: None,
    }
}

/// The error of both routes: (direct, via `write_data`).
fn both_errors(m: &Odd) -> (Option<String>, Option<String>) {
    let mut out = vec![0xAA];
    let direct = write_data_cbor(m, &mut out).err().map(|e| e.to_string());
    if direct.is_some() {
        assert_eq!(out, [0xAA], "a failed row leaves the buffer as it was");
    }
    let via_value = write_data(m).err().map(|e| e.to_string());
    (direct, via_value)
}

#[test]
fn values_serde_cannot_convert_fail_exactly_as_write_data() {
    let (direct, via_value) = both_errors(&Odd {
        n: u64::MAX,
        ..odd()
    });
    assert!(
        direct.as_deref().is_some_and(|e| e.contains("`n`")),
        "{direct:?}"
    );
    assert_eq!(direct, via_value);
    // A left-out field is still converted (`write_data` converts it before removing it).
    let (direct, via_value) = both_errors(&Odd {
        server_n: u64::MAX,
        ..odd()
    });
    assert!(direct.is_some());
    assert_eq!(direct, via_value);
    assert_eq!(both_errors(&odd()), (None, None));
}

#[test]
fn a_decimal_the_server_would_round_is_refused_naming_the_field() {
    let inexact = Decimal::parse("1e-30").unwrap();
    let (direct, via_value) = both_errors(&Odd {
        price: Some(inexact.clone()),
        ..odd()
    });
    let direct = direct.expect("refused");
    assert!(
        direct.contains("field `price`") && direct.contains("1e-30"),
        "{direct}"
    );
    // The Value route refused it later, when the bound value was checked.
    assert_eq!(via_value, None);
    // Left out, it is never sent, so never checked.
    assert_eq!(
        both_errors(&Odd {
            server_price: Some(inexact.clone()),
            ..odd()
        }),
        (None, None)
    );
    // The id of an insert is checked too.
    let m = Odd {
        id: Some(RecordIdKey::Array(vec![Value::Decimal(inexact)])),
        ..odd()
    };
    let e = insert_data_cbor(&m, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("field `id`") && e.contains("1e-30"), "{e}");
    assert!(write_data_cbor(&m, &mut Vec::new()).is_ok());
}

/// A model whose serde form is not an object (a hand-written `Serialize`).
#[derive(Debug, Deserialize)]
struct NotAnObject {
    id: Option<RecordId>,
}

impl Serialize for NotAnObject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("just text")
    }
}

impl Model for NotAnObject {
    type Key = RecordId;
    type Fields = ();
    const META: &'static super::ModelMeta = &super::ModelMeta {
        table: "odd",
        rust_name: "NotAnObject",
        kind: super::TableKind::Normal,
        id_field: "id",
        fields: &[],
        schemafull: false,
        changefeed: None,
        connection: None,
        permissions: super::Permissions {
            select: None,
            create: None,
            update: None,
            delete: None,
        },
        indexes: &[],
        defines: &[],
    };
    fn key(&self) -> Option<&RecordId> {
        self.id.as_ref()
    }
    fn fields() {}
}

#[test]
fn a_model_that_is_not_an_object_fails_as_write_data_does() {
    let m = NotAnObject { id: None };
    let mut out = Vec::new();
    let direct = write_data_cbor(&m, &mut out).unwrap_err();
    assert_eq!(Some(direct), write_data(&m).err());
    assert!(out.is_empty());
}
