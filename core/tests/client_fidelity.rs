//! Nothing the caller gives is silently changed on the way to storage: writes whose data
//! the RPC methods would alter go through `query` with the data bound, and decimals the
//! server would round are refused before sending, naming the value.

use serde::Deserialize;
use surql::client::{self, CallError, Credentials, PatchOp};
use surql::rpc::{Method, Payload};
use surql::{Bound, Decimal, Object, Range, RecordId, Table, Value};

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn open_range() -> Value {
    Value::Range(Box::new(Range {
        start: Bound::Included(Value::from("a")),
        end: Bound::Unbounded,
    }))
}

fn closed_range() -> Value {
    Value::Range(Box::new(Range {
        start: Bound::Included(Value::Int(1)),
        end: Bound::Excluded(Value::Int(5)),
    }))
}

fn data_with(v: Value) -> Value {
    obj(vec![
        ("name", Value::from("x")),
        ("nested", obj(vec![("r", v)])),
    ])
}

fn dec(s: &str) -> Value {
    Value::Decimal(Decimal::parse(s).expect("decimal text"))
}

/// The query text and vars of a routed call.
fn as_query(req: &surql::rpc::Request) -> (&str, &Object) {
    assert_eq!(req.method, Method::Query, "{:?}", req.method);
    match (&req.params[0], &req.params[1]) {
        (Value::String(t), Value::Object(vars)) => (t.as_str(), vars),
        other => panic!("not query params: {other:?}"),
    }
}

/// A `query` reply with one statement result.
fn reply(result: Result<Value, (&str, &str)>) -> Value {
    let row = match result {
        Ok(v) => obj(vec![
            ("result", v),
            ("status", Value::from("OK")),
            ("time", Value::from("1ms")),
        ]),
        Err((kind, msg)) => obj(vec![
            ("kind", Value::from(kind)),
            ("result", Value::from(msg)),
            ("status", Value::from("ERR")),
            ("time", Value::from("1ms")),
        ]),
    };
    Value::Array(vec![row])
}

#[derive(Debug, PartialEq, Deserialize)]
struct Rec {
    name: String,
}

#[test]
fn create_with_an_open_range_goes_through_query_with_the_data_bound() {
    let rid = RecordId::new("t", "a");
    let data = data_with(open_range());
    let call = client::create::<Rec>(&rid, &data).expect("valid");
    let (text, vars) = as_query(call.request());
    assert_eq!(text, "CREATE ONLY $what CONTENT $data");
    assert_eq!(vars["what"], Value::RecordId(rid.clone()));
    assert_eq!(vars["data"], data, "the data is sent exactly as given");
    // decoded like the RPC's answer
    let got = call
        .decode(reply(Ok(obj(vec![("name", Value::from("x"))]))))
        .expect("a record");
    assert_eq!(got, Rec { name: "x".into() });

    // a table name is bound as a table, still one record (ONLY)
    let call = client::create::<Rec>("t", &data).expect("valid");
    let (text, vars) = as_query(call.request());
    assert_eq!(text, "CREATE ONLY $what CONTENT $data");
    assert_eq!(vars["what"], Value::Table(Table::new("t")));

    // the NotAffected check holds on this path too
    let call = client::create::<Rec>(&rid, &data).expect("valid");
    let e = call.decode(reply(Ok(Value::None))).unwrap_err();
    assert!(
        matches!(
            e,
            CallError::NotAffected {
                method: "create",
                ..
            }
        ),
        "{e:?}"
    );
    // and a failed statement is the server's error
    let call = client::create::<Rec>(&rid, &data).expect("valid");
    let e = call
        .decode(reply(Err((
            "AlreadyExists",
            "Database record `t:a` already exists",
        ))))
        .unwrap_err();
    let server = e.as_server_error().expect("a server error");
    assert!(server.is_already_exists(), "{server:?}");
    // a malformed reply is a protocol error naming the method
    let call = client::create::<Rec>(&rid, &data).expect("valid");
    let e = call.decode(Value::Array(vec![])).unwrap_err();
    assert!(
        matches!(
            e,
            CallError::Protocol {
                method: "create",
                ..
            }
        ),
        "{e:?}"
    );
}

fn range(start: Bound<Value>, end: Bound<Value>) -> Value {
    Value::Range(Box::new(Range { start, end }))
}

#[test]
fn data_the_rpc_keeps_still_uses_the_rpc() {
    // measured on 3.3.5: included start and bounded end survive the RPC, as do sets and
    // record ids with range keys
    let rid = RecordId::new("t", "a");
    for data in [
        data_with(closed_range()),
        data_with(range(
            Bound::Included(Value::Int(1)),
            Bound::Included(Value::Int(5)),
        )),
        data_with(Value::Set(vec![Value::Int(1), Value::Int(2)])),
        data_with(Value::RecordId(RecordId {
            table: "t".into(),
            key: surql::RecordIdKey::Range(Box::new(surql::value::KeyRange {
                start: Bound::Included(surql::RecordIdKey::Int(1)),
                end: Bound::Unbounded,
            })),
        })),
        data_with(dec("1.5")),
    ] {
        let call = client::create::<Value>(&rid, &data).expect("valid");
        assert_eq!(call.request().method, Method::Create, "{data:?}");
        assert_eq!(call.request().params[1], data);
    }
}

#[test]
fn every_value_the_rpc_would_alter_is_routed() {
    let rid = RecordId::new("t", "a");
    let one = || Value::Int(1);
    let five = || Value::Int(5);
    for v in [
        open_range(),
        range(Bound::Included(one()), Bound::Unbounded),
        range(Bound::Excluded(one()), Bound::Unbounded),
        range(Bound::Excluded(one()), Bound::Excluded(five())),
        range(Bound::Excluded(one()), Bound::Included(five())),
        range(Bound::Unbounded, Bound::Excluded(five())),
        range(Bound::Unbounded, Bound::Included(five())),
        range(Bound::Unbounded, Bound::Unbounded),
        // deep inside arrays, sets and ranges
        Value::Array(vec![Value::Array(vec![open_range()])]),
        Value::Set(vec![open_range()]),
        range(
            Bound::Included(Value::Array(vec![open_range()])),
            Bound::Excluded(Value::Array(vec![Value::Int(9)])),
        ),
    ] {
        let call = client::create::<Value>(&rid, &data_with(v.clone())).expect("valid");
        assert_eq!(call.request().method, Method::Query, "{v:?}");
    }
}

#[test]
fn every_write_method_routes_an_open_range() {
    let rid = RecordId::new("t", "a");
    let data = data_with(open_range());
    let cases: Vec<(&str, surql::rpc::Request)> = vec![
        (
            "INSERT INTO $what $data",
            client::insert::<Value>("t", &data).unwrap().into_parts().0,
        ),
        (
            "INSERT RELATION INTO $what $data",
            client::insert_relation::<Value>("e", &data)
                .unwrap()
                .into_parts()
                .0,
        ),
        (
            "UPSERT ONLY $what CONTENT $data",
            client::upsert::<Value>(&rid, &data).unwrap().into_parts().0,
        ),
        (
            "UPSERT $what CONTENT $data",
            client::upsert::<Value>("t", &data).unwrap().into_parts().0,
        ),
        (
            "UPDATE ONLY $what CONTENT $data",
            client::update::<Value>(&rid, &data).unwrap().into_parts().0,
        ),
        (
            "UPDATE $what CONTENT $data",
            client::update::<Value>("t", &data).unwrap().into_parts().0,
        ),
        (
            "UPDATE ONLY $what MERGE $data",
            client::merge::<Value>(&rid, &data).unwrap().into_parts().0,
        ),
        (
            "UPDATE ONLY $what PATCH $data",
            client::patch::<Value>(&rid, &[PatchOp::Add("/r".into(), open_range())])
                .into_parts()
                .0,
        ),
        (
            "RELATE ONLY $from->$edge->$to CONTENT $data",
            client::relate::<Value>(&rid, "likes", &RecordId::new("t", "b"), Some(&data))
                .unwrap()
                .into_parts()
                .0,
        ),
    ];
    for (want, req) in &cases {
        let (text, vars) = as_query(req);
        assert_eq!(text, *want);
        assert!(vars.contains_key("data"), "{want}");
    }
    // relate binds its ends and the edge table
    let (_, vars) = as_query(&cases[8].1);
    assert_eq!(vars["edge"], Value::Table(Table::new("likes")));
    assert_eq!(vars["to"], Value::RecordId(RecordId::new("t", "b")));
    // a table update answers with an array, decoded as such
    let call = client::update::<Vec<Rec>>("t", &data).unwrap();
    let rows = Value::Array(vec![obj(vec![("name", Value::from("x"))])]);
    assert_eq!(
        call.decode(reply(Ok(rows))).unwrap(),
        vec![Rec { name: "x".into() }]
    );
    // and through the payload path too
    let call = client::update::<Vec<Rec>>("t", &data).unwrap();
    let rows = Value::Array(vec![obj(vec![("name", Value::from("y"))])]);
    let raw = Payload::from_cbor(surql::cbor::encode(&reply(Ok(rows))));
    assert_eq!(
        call.decode_payload(raw).unwrap(),
        vec![Rec { name: "y".into() }]
    );
}

#[test]
fn decimals_the_server_would_round_are_refused_naming_them() {
    for ok in [
        "0",
        "1.5",
        "-1.5",
        "0.1234567890123456789012345678", // 28 digits after the point
        "1.0000000000000000000000000000000000", // trailing zeros are exact
        "79228162514264337593543950335",  // 2^96 - 1
        "-79228162514264337593543950335",
        "7.9228162514264337593543950335",
        "1e28",
        "1e-28",
        "1.5e-27",
        "+2.5E+3",
        "0.00000000000000000000000000000000000",
        "12.5e-3",
    ] {
        let v = obj(vec![("d", dec(ok))]);
        assert!(client::check_sendable("x", &v).is_ok(), "{ok}");
        assert!(client::create::<Value>("t", &v).is_ok(), "{ok}");
    }
    for bad in [
        "1e-30",
        "0.00000000000000000000000000001", // 29 digits after the point
        "0.12345678901234567890123456789",
        "79228162514264337593543950336", // 2^96
        "1e29",
        "1.23456789012345678901234567891",
        "1e999999999999999999999",
        "0e-999999", // the server cannot read an exponent beyond 28, even for zero
        "1.23e-27",  // the server would round it to 1.2e-27
        "-1e-29",
    ] {
        let data = obj(vec![("price", dec(bad))]);
        let e = client::create::<Value>("t", &data).unwrap_err();
        let CallError::Invalid { what, reason } = &e else {
            panic!("{bad}: expected Invalid, got {e:?}");
        };
        assert_eq!(*what, "record data");
        assert!(reason.contains(bad), "{reason}");
        assert!(e.to_string().contains(bad), "{e}");
        // every path that encodes user data refuses it
        let mut vars = Object::new();
        let e = client::bind_vars(&mut vars, &("p", dec(bad))).unwrap_err();
        assert!(e.to_string().contains(bad), "{e}");
        assert!(vars.is_empty(), "nothing bound");
        for e in [
            client::insert::<Value>("t", &data).unwrap_err(),
            client::upsert::<Value>("t", &data).unwrap_err(),
            client::update::<Value>("t", &data).unwrap_err(),
            client::merge::<Value>("t", &data).unwrap_err(),
            client::relate::<Value>(
                &RecordId::new("t", 1),
                "e",
                &RecordId::new("t", 2),
                Some(&data),
            )
            .unwrap_err(),
            client::set("p", &dec(bad)).unwrap_err(),
            client::run::<Value>("fn::f", &vec![dec(bad)]).unwrap_err(),
            Credentials::record("n", "d", "a", &data).unwrap_err(),
            client::check_sendable(
                "deep",
                &Value::Array(vec![Value::Set(vec![obj(vec![("x", dec(bad))])])]),
            )
            .unwrap_err(),
        ] {
            assert!(matches!(e, CallError::Invalid { .. }), "{e:?}");
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
