//! Entry points for fuzz targets and their seed-corpus tests. Not a stable API.
//!
//! Each `fuzz_*` function is the whole body of one `fuzz/fuzz_targets/*.rs` target, so the
//! checked-in corpus can run through exactly the same code as a plain stable `#[test]`.

use crate::cbor;

mod outcomes;
mod typed;

/// Decodes arbitrary bytes as CBOR; must never panic. When they decode, re-encoding and
/// decoding again must be stable: `encode(decode(encode(v))) == encode(v)`.
///
/// The oracle compares bytes rather than `Value`s because geometry points compare floats
/// with `==`, so a decoded NaN coordinate would make an equal value look different.
pub fn fuzz_cbor_decode(data: &[u8]) {
    let Ok(value) = cbor::decode(data) else {
        return;
    };
    let first = cbor::encode(&value);
    let again = match cbor::decode(&first) {
        Ok(v) => v,
        Err(e) => {
            panic!("re-encoded value does not decode: {e}\nvalue: {value:?}\nbytes: {first:02x?}")
        }
    };
    let second = cbor::encode(&again);
    assert_eq!(first, second, "encode/decode is not stable for {value:?}");
}

/// Parses arbitrary UTF-8 as a record id; must never panic. When it parses, writing it
/// back and parsing again must give the same record id.
pub fn fuzz_record_id_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rid) = crate::escape::parse_record_id(text) else {
        return;
    };
    let written = rid.to_string();
    match crate::escape::parse_record_id(&written) {
        Ok(again) => assert_eq!(again, rid, "{text:?} was written as {written:?}"),
        Err(e) => panic!("{text:?} parsed, but its rendering {written:?} does not: {e}"),
    }
}

/// Decodes arbitrary bytes as a server message (reply, notification, stream frame); must
/// never panic.
pub fn fuzz_rpc_incoming(data: &[u8]) {
    crate::rpc::fuzz_decode_incoming(data);
}

/// Interprets arbitrary bytes as a script of operations on a
/// [`Connection`](crate::conn::Connection) (sends, live subscriptions, frames, timeouts,
/// disconnects, reconnects); must never panic. `start` is the simulated clock's origin: the
/// core never reads a clock, so the caller passes one.
pub fn fuzz_connection_ops(data: &[u8], start: std::time::Instant) {
    crate::conn::fuzz_connection_ops(data, start);
}

/// Decodes arbitrary bytes with [`cbor::from_slice`] into several typed structs (strings,
/// ints, floats, `Option`, `Vec`, nested structs, externally/internally tagged and
/// untagged enums, flatten, maps, [`RecordId`](crate::RecordId),
/// [`Datetime`](crate::Datetime), [`Value`](crate::Value)); must never panic.
///
/// Oracles: the direct path agrees with `from_value(decode(..))`, the documented
/// equivalent; a value that decodes re-encodes with [`cbor::to_vec`], decodes again to an
/// equal value (NaN equal to NaN), and encodes to the same bytes. Returns the short names
/// of the types the bytes decoded into (the corpus seeds are named after them).
pub fn fuzz_cbor_typed(data: &[u8]) -> Vec<&'static str> {
    typed::run(data)
}

/// Interprets arbitrary bytes as a script of operations on a
/// [`Connection`](crate::conn::Connection) through its public API (sends, live
/// subscriptions and unsubscribes, well-formed, duplicated and garbage frames, stream
/// frames, notifications, id-less errors, timeouts, disconnects, reconnects, close) and
/// checks the delivery contract: every request handed to `send`/`send_live` gets exactly
/// one outcome (an [`Event::Response`](crate::conn::Event::Response), or a stream's `End`
/// frame), never two, and none left once the script closes the connection and drains its
/// events; every live handle gets exactly one
/// [`Event::LiveEnded`](crate::conn::Event::LiveEnded) and nothing after it.
pub fn fuzz_connection_outcomes(data: &[u8], start: std::time::Instant) {
    outcomes::run(data, start);
}

/// Proptest strategies for [`Value`](crate::Value), shared by the crate's unit tests.
#[cfg(test)]
pub mod strategy {
    use crate::value::{
        Bound, Datetime, Decimal, Duration, FileRef, Geometry, KeyRange, Object, Point, Range,
        RecordId, RecordIdKey, Table, Uuid, Value,
    };
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;

    /// Any float, including NaN, infinities and `-0.0`.
    pub fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(0.0),
            Just(1.5),
        ]
    }

    /// A valid decimal text.
    pub fn decimal() -> impl Strategy<Value = Decimal> {
        "-?[0-9]{1,20}(\\.[0-9]{1,10})?(e-?[0-9]{1,3})?"
            .prop_filter_map("valid decimal", |s| Decimal::parse(&s).ok())
    }

    /// A datetime anywhere in the `i64` seconds range.
    pub fn datetime() -> impl Strategy<Value = Datetime> {
        (any::<i64>(), 0u32..1_000_000_000).prop_map(|(secs, nanos)| Datetime { secs, nanos })
    }

    /// A duration, including zero and whole seconds (the short encodings).
    pub fn duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(secs, nanos)| Duration { secs, nanos }),
            any::<u64>().prop_map(|secs| Duration { secs, nanos: 0 }),
            Just(Duration::default()),
        ]
    }

    /// A finite point (geometry compares coordinates with `==`, so no NaN).
    pub fn point() -> impl Strategy<Value = Point> {
        (-180.0f64..180.0, -90.0f64..90.0).prop_map(|(x, y)| Point { x, y })
    }

    /// Any geometry, nested collections included.
    pub fn geometry() -> impl Strategy<Value = Geometry> {
        let line = || vec(point(), 0..4);
        let polygon = move || vec(line(), 0..3);
        let leaf = prop_oneof![
            point().prop_map(Geometry::Point),
            line().prop_map(Geometry::Line),
            polygon().prop_map(Geometry::Polygon),
            vec(point(), 0..4).prop_map(Geometry::MultiPoint),
            vec(line(), 0..3).prop_map(Geometry::MultiLine),
            vec(polygon(), 0..3).prop_map(Geometry::MultiPolygon),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            vec(inner, 0..4).prop_map(Geometry::Collection)
        })
    }

    /// A scalar (non-container) value of any kind.
    pub fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::None),
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            prop_oneof![
                Just(0i64),
                Just(23),
                Just(24),
                Just(255),
                Just(256),
                Just(65536),
                Just(-1),
                Just(-24),
                Just(-25),
                Just(i64::MIN),
                Just(i64::MAX)
            ]
            .prop_map(Value::Int),
            float().prop_map(Value::Float),
            decimal().prop_map(Value::Decimal),
            any::<String>().prop_map(Value::String),
            prop_oneof![
                Just("data:image/png;base64,AAAA".to_owned()),
                Just("mailto:x@y".to_owned()),
                Just("person:tobie".to_owned())
            ]
            .prop_map(Value::String),
            vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
            datetime().prop_map(Value::Datetime),
            duration().prop_map(Value::Duration),
            any::<[u8; 16]>().prop_map(|b| Value::Uuid(Uuid(b))),
            any::<String>().prop_map(|t| Value::Table(Table(t))),
            geometry().prop_map(Value::Geometry),
            (any::<String>(), any::<String>())
                .prop_map(|(bucket, key)| Value::File(FileRef { bucket, key })),
        ]
    }

    fn bound<T: std::fmt::Debug + Clone>(
        inner: impl Strategy<Value = T> + Clone,
    ) -> impl Strategy<Value = Bound<T>> {
        prop_oneof![
            inner.clone().prop_map(Bound::Included),
            inner.prop_map(Bound::Excluded),
            Just(Bound::Unbounded),
        ]
    }

    /// A record-id key of any kind; `value` supplies array/object elements.
    pub fn record_key(
        value: impl Strategy<Value = Value> + Clone + 'static,
    ) -> impl Strategy<Value = RecordIdKey> {
        let simple = prop_oneof![
            any::<String>().prop_map(RecordIdKey::String),
            any::<i64>().prop_map(RecordIdKey::Int),
            any::<[u8; 16]>().prop_map(|b| RecordIdKey::Uuid(Uuid(b))),
            vec(value.clone(), 0..3).prop_map(RecordIdKey::Array),
            btree_map(any::<String>(), value, 0..3).prop_map(RecordIdKey::Object),
        ];
        prop_oneof![
            3 => simple.clone(),
            1 => (bound(simple.clone()), bound(simple))
                .prop_map(|(start, end)| RecordIdKey::Range(Box::new(KeyRange { start, end }))),
        ]
    }

    /// Any [`Value`]: every variant, nested up to 6 levels deep.
    pub fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..6).prop_map(Value::Array),
                vec(inner.clone(), 0..6).prop_map(Value::Set),
                btree_map(any::<String>(), inner.clone(), 0..6)
                    .prop_map(|o: Object| Value::Object(o)),
                (any::<String>(), record_key(inner.clone()))
                    .prop_map(|(table, key)| Value::RecordId(RecordId { table, key })),
                (bound(inner.clone()), bound(inner))
                    .prop_map(|(start, end)| Value::Range(Box::new(Range { start, end }))),
            ]
        })
    }
}
