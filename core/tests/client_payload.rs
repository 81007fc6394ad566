//! Typed calls read the reply's bytes directly, with the same results and errors as the
//! value path.

use serde::Deserialize;
use surql::client::{self, CallError};
use surql::rpc::Payload;
use surql::{cbor, Object, Value};

#[derive(Debug, PartialEq, Deserialize)]
struct Person {
    name: String,
    age: i64,
}

fn person(name: &str, age: Value) -> Value {
    let mut o = Object::new();
    o.insert("name".into(), Value::from(name));
    o.insert("age".into(), age);
    Value::Object(o)
}

#[test]
fn select_reads_rows_straight_from_bytes() {
    let rows = Value::Array(vec![person("a", Value::Int(1)), person("b", Value::Int(2))]);
    let raw = Payload::from_cbor(cbor::encode(&rows));
    let got: Vec<Person> = client::select("person").decode_payload(raw).expect("fits");
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1],
        Person {
            name: "b".into(),
            age: 2
        }
    );
    // The value path gives the same.
    let via_value: Vec<Person> = client::select("person").decode(rows).expect("fits");
    assert_eq!(via_value, got);
}

#[test]
fn a_typed_decode_failure_names_method_and_path_on_both_paths() {
    let rows = Value::Array(vec![
        person("a", Value::Int(1)),
        person("b", Value::from("x")),
    ]);
    let raw = client::select::<Vec<Person>>("person")
        .decode_payload(Payload::from_cbor(cbor::encode(&rows)))
        .expect_err("age is text");
    let via_value = client::select::<Vec<Person>>("person")
        .decode(rows)
        .expect_err("age is text");
    for e in [&raw, &via_value] {
        let CallError::Decode { method, source } = e else {
            panic!("expected a decode error, got {e:?}");
        };
        assert_eq!(*method, "select");
        assert!(source.0.contains("`[1].age`"), "{source}");
        assert!(source.0.contains("expected i64"), "{source}");
    }
    assert_eq!(raw, via_value, "the same message either way");
}

#[test]
fn create_still_reports_an_empty_answer_as_not_affected() {
    for empty in [Value::None, Value::Array(vec![])] {
        let call = client::create::<Person>("person", &Object::new()).expect("call");
        let e = call
            .decode_payload(Payload::from_cbor(cbor::encode(&empty)))
            .expect_err("empty");
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
    }
    let call = client::create::<Person>("person", &Object::new()).expect("call");
    let got = call
        .decode_payload(Payload::from_cbor(cbor::encode(&person(
            "a",
            Value::Int(1),
        ))))
        .expect("one record");
    assert_eq!(got.age, 1);
}

#[test]
fn value_based_decoders_report_malformed_bytes_as_a_decode_error() {
    let e = client::version()
        .decode_payload(Payload::from_cbor(vec![0x62, b'a']))
        .expect_err("truncated");
    let CallError::Decode { method, source } = &e else {
        panic!("expected a decode error, got {e:?}");
    };
    assert_eq!(*method, "version");
    assert!(source.0.contains("invalid CBOR"), "{source}");
    // A value-based decoder (a token) gets the same treatment.
    let e = client::signin(&client::Credentials::root("u", "p"))
        .decode_payload(Payload::from_cbor(vec![0x62, b'a']))
        .expect_err("truncated");
    assert!(
        matches!(
            e,
            CallError::Decode {
                method: "signin",
                ..
            }
        ),
        "{e:?}"
    );
}
