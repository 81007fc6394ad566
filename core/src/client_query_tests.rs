//! `QueryResponse` over raw bytes: every `take` rule, checked against the `Value`-tree
//! semantics it replaced (the oracle below is the old implementation, verbatim in spirit).

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::Deserialize;

use super::{decode_error, fetch_all, fetch_first, query, CallError, QueryResponse};
use crate::cbor;
use crate::query::{decode_first_cbor, decode_rows_cbor, QuerySet};
use crate::rpc::{parse_query_results, split_query_results, ErrorKind, Payload, QueryResult};
use crate::value::{from_value, DeError, Object, Value};

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Person {
    name: String,
    age: i64,
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    let mut o = Object::new();
    for (k, v) in pairs {
        o.insert((*k).into(), v.clone());
    }
    Value::Object(o)
}

fn person(name: &str, age: Value) -> Value {
    obj(&[("name", Value::from(name)), ("age", age)])
}

fn ok_row(result: Value) -> Value {
    obj(&[
        ("status", Value::from("OK")),
        ("time", Value::from("1.2ms")),
        ("type", Value::None),
        ("result", result),
    ])
}

fn err_row(message: &str) -> Value {
    obj(&[
        ("status", Value::from("ERR")),
        ("time", Value::from("3µs")),
        ("kind", Value::from("Validation")),
        ("result", Value::from(message)),
    ])
}

/// The reply's `result` as bytes, as the connection hands it over.
fn raw(rows: Vec<Value>) -> QueryResponse {
    let bytes = cbor::encode(&Value::Array(rows));
    query("", Object::new())
        .decode_payload(Payload::from_cbor(bytes))
        .expect("a valid query answer")
}

/// The same reply given as a decoded value (the path `Call::decode` takes).
fn via_value(rows: Vec<Value>) -> QueryResponse {
    query("", Object::new())
        .decode(Value::Array(rows))
        .expect("a valid query answer")
}

/// Both representations of one reply: every assertion runs on each.
fn both(rows: Vec<Value>) -> [QueryResponse; 2] {
    [raw(rows.clone()), via_value(rows)]
}

// --- the oracle: `take` as it was, over `Value` trees ------------------------------------

fn oracle_pick(v: Value, field: &str) -> Value {
    match v {
        Value::Array(rows) => {
            Value::Array(rows.into_iter().map(|r| oracle_pick(r, field)).collect())
        }
        Value::Object(mut o) => o.remove(field).unwrap_or(Value::None),
        _ => Value::None,
    }
}

fn oracle_take<T: serde::de::DeserializeOwned>(
    results: &mut [QueryResult],
    i: usize,
    field: Option<&str>,
) -> Result<T, CallError> {
    let n = results.len();
    let slot = results.get_mut(i).ok_or_else(|| CallError::Invalid {
        what: "statement index",
        reason: format!("{i} is out of range: the query had {n} statement result(s)"),
    })?;
    let value = match &mut slot.result {
        Ok(v) => std::mem::take(v),
        Err(e) => return Err(CallError::Server(e.clone())),
    };
    let value = match field {
        None => value,
        Some(f) => oracle_pick(value, f),
    };
    let single = match &value {
        Value::Array(a) if a.len() <= 1 => Some(a.first().cloned().unwrap_or(Value::None)),
        _ => None,
    };
    match from_value::<T>(value) {
        Ok(t) => Ok(t),
        Err(first) => match single.map(from_value::<T>) {
            Some(Ok(t)) => Ok(t),
            _ => Err(CallError::Decode {
                method: "query",
                source: DeError(format!("statement {i}: {first}")),
            }),
        },
    }
}

// --- take ---------------------------------------------------------------------------------

#[test]
fn take_reads_rows_straight_from_the_bytes() {
    let rows = Value::Array(vec![person("a", Value::Int(1)), person("b", Value::Int(2))]);
    for mut r in both(vec![ok_row(Value::Int(7)), ok_row(rows.clone())]) {
        assert_eq!(r.len(), 2);
        let people: Vec<Person> = r.take(1).expect("rows fit");
        assert_eq!(
            people,
            vec![
                Person {
                    name: "a".into(),
                    age: 1
                },
                Person {
                    name: "b".into(),
                    age: 2
                }
            ]
        );
        assert_eq!(r.take::<i64>(0).expect("an int"), 7);
    }
}

// --- the first `take` reads while it locates (one walk) -------------------------------------

/// A reply whose statements are not located yet, and the same reply located first (by
/// `results`), so a `take` on the second follows the locate-then-read path.
fn fresh_and_located(bytes: &[u8]) -> [QueryResponse; 2] {
    let fresh = query("", Object::new())
        .decode_payload(Payload::from_cbor(bytes.to_vec()))
        .expect("a definite array");
    let located = fresh.clone();
    let _ = located.results();
    [fresh, located]
}

#[test]
fn a_first_take_of_a_later_statement_then_earlier_ones() {
    let rows = Value::Array(vec![person("a", Value::Int(1)), person("b", Value::Int(2))]);
    let bytes = cbor::encode(&Value::Array(vec![
        ok_row(Value::Int(7)),
        err_row("bad"),
        ok_row(rows.clone()),
        ok_row(Value::from("last")),
    ]));
    for mut r in fresh_and_located(&bytes) {
        let people: Vec<Person> = r.take(2).expect("rows fit");
        assert_eq!(people.len(), 2);
        assert_eq!(people[1].name, "b");
        // Taken: NONE now, however it is read.
        assert_eq!(r.take::<Value>(2).expect("taken"), Value::None);
        assert_eq!(r.take::<Option<Person>>(2).expect("taken"), None);
        // The others are untouched and read as before.
        assert_eq!(r.take::<i64>(0).expect("an int"), 7);
        assert_eq!(r.take::<String>(3).expect("text"), "last");
        let e = r.take::<Value>(1).expect_err("failed");
        assert_eq!(e.as_server_error().map(|s| s.message.as_str()), Some("bad"));
        let now = r.results().expect("located");
        assert_eq!(now[2].result, Ok(Value::None));
        assert_eq!(now[0].result, Ok(Value::None));
    }
}

#[test]
fn a_failed_statement_is_its_error_even_when_its_message_fits_t() {
    // The message (a string) would read as `String` or `Value`: the status decides.
    let bytes = cbor::encode(&Value::Array(vec![
        err_row("denied"),
        ok_row(Value::Int(1)),
    ]));
    for mut r in fresh_and_located(&bytes) {
        for _ in 0..2 {
            let e = r.take::<String>(0).expect_err("failed");
            assert_eq!(
                e.as_server_error().map(|s| s.message.as_str()),
                Some("denied")
            );
        }
        let mut other = r.clone();
        assert!(other
            .take::<Value>(0)
            .expect_err("failed")
            .as_server_error()
            .is_some());
        assert!(r.clone().check().is_err());
        assert_eq!(r.take::<i64>(1).expect("fine"), 1);
    }
    // `status` before `result` in the row, the usual order after it: the same.
    let mut b = vec![0x81];
    cbor::Encoder::new(&mut b)
        .map(3)
        .text("status")
        .text("ERR")
        .text("result")
        .text("denied")
        .text("time")
        .text("1ms");
    let mut r = query("", Object::new())
        .decode_payload(Payload::from_cbor(b))
        .expect("an array");
    let e = r.take::<String>(0).expect_err("failed");
    assert_eq!(
        e.as_server_error().map(|s| s.message.as_str()),
        Some("denied")
    );
}

#[test]
fn a_first_take_that_does_not_fit_falls_back_to_the_usual_rules() {
    let one = Value::Array(vec![person("a", Value::Int(1))]);
    let bytes = cbor::encode(&Value::Array(vec![
        ok_row(one.clone()),
        ok_row(Value::Int(1)),
    ]));
    for r in fresh_and_located(&bytes) {
        // The single row of a one-row result.
        let mut r1 = r.clone();
        let p: Option<Person> = r1.take(0).expect("the one row");
        assert_eq!(p.map(|p| p.age), Some(1));
        let mut r2 = r.clone();
        assert_eq!(r2.take::<Person>(0).expect("the one row").name, "a");
        // A misfit is the statement's decode error, and the value is taken all the same.
        let mut r3 = r.clone();
        let e = r3.take::<i64>(0).expect_err("rows are not an int");
        assert!(
            matches!(&e, CallError::Decode { method: "query", source } if source.0.starts_with("statement 0: ")),
            "{e:?}"
        );
        assert_eq!(r3.take::<Value>(0).expect("taken"), Value::None);
        assert_eq!(r3.take::<i64>(1).expect("untouched"), 1);
    }
    // Text that is not UTF-8 inside the rows (well-formed otherwise): the statement's
    // decode error, on both paths.
    let mut bad = cbor::encode(&Value::Array(vec![ok_row(Value::Array(vec![
        Value::from("abc"),
    ]))]));
    let at = bad
        .windows(4)
        .position(|w| w == [0x63, b'a', b'b', b'c'])
        .expect("the text");
    bad[at + 1] = 0xff;
    for mut r in fresh_and_located(&bad) {
        let e = r.take::<Vec<String>>(0).expect_err("not UTF-8");
        assert!(
            matches!(&e, CallError::Decode { method: "query", source } if source.0.starts_with("statement 0: ") && source.0.contains("UTF-8")),
            "{e:?}"
        );
    }
}

#[test]
fn a_duplicate_result_key_keeps_the_last_on_the_first_take() {
    // [{result: [1], status: "OK", result: [2, 3]}]
    let mut b = vec![0x81];
    cbor::Encoder::new(&mut b)
        .map(3)
        .text("result")
        .array(1)
        .int(1)
        .text("status")
        .text("OK")
        .text("result")
        .array(2)
        .int(2)
        .int(3);
    for mut r in fresh_and_located(&b) {
        assert_eq!(r.take::<Vec<i64>>(0).expect("ints"), vec![2, 3]);
    }
    // The later one does not fit where the first did: the general rules read the last.
    let mut b = vec![0x81];
    cbor::Encoder::new(&mut b)
        .map(3)
        .text("result")
        .array(1)
        .int(1)
        .text("status")
        .text("OK")
        .text("result")
        .text("x");
    for mut r in fresh_and_located(&b) {
        assert!(r.take::<Vec<i64>>(0).is_err());
    }
    for mut r in fresh_and_located(&b) {
        assert_eq!(r.take::<String>(0).expect("the last"), "x");
    }
}

#[test]
fn deep_results_read_the_same_whichever_way_they_are_taken() {
    // Around the depth cap, the one-walk take must accept exactly what locating first
    // and then reading accepts.
    for depth in 250..=258 {
        let mut v = Value::Int(1);
        for _ in 0..depth {
            v = Value::Array(vec![v]);
        }
        let bytes = cbor::encode(&Value::Array(vec![ok_row(v)]));
        let Ok(r) = query("", Object::new()).decode_payload(Payload::from_cbor(bytes)) else {
            continue;
        };
        let [mut fresh, mut located] = [r.clone(), r];
        let _ = located.results();
        assert_eq!(
            fresh.take::<Value>(0),
            located.take::<Value>(0),
            "depth {depth}"
        );
        let [mut fresh, mut located] = [fresh.clone(), located.clone()];
        assert_eq!(fresh.take::<Value>(0), located.take::<Value>(0));
    }
}

#[test]
fn indefinite_rows_inside_a_definite_answer_read_the_same() {
    // [{"result": [_ {"name": "a", "age": 1}], "status": "OK"}]
    let mut b = vec![0x81];
    cbor::Encoder::new(&mut b).map(2).text("result");
    b.push(0x9f);
    cbor::Encoder::new(&mut b)
        .map(2)
        .text("name")
        .text("a")
        .text("age")
        .int(1);
    b.push(0xff);
    cbor::Encoder::new(&mut b).text("status").text("OK");
    for mut r in fresh_and_located(&b) {
        let rows: Vec<Person> = r.take(0).expect("rows");
        assert_eq!(
            rows,
            vec![Person {
                name: "a".into(),
                age: 1
            }]
        );
    }
}

#[test]
fn take_value_gives_the_decoded_tree() {
    let rows = Value::Array(vec![person("a", Value::Int(1)), Value::Null, Value::None]);
    for mut r in both(vec![ok_row(rows.clone())]) {
        assert_eq!(r.take::<Value>(0).expect("any value"), rows);
    }
}

#[test]
fn take_field_picks_it_out_of_every_row() {
    let rows = Value::Array(vec![
        person("a", Value::Int(1)),
        obj(&[("age", Value::Int(5))]),
        Value::Int(3),
        Value::Array(vec![person("n", Value::Int(9)), Value::from("x")]),
    ]);
    for mut r in both(vec![ok_row(rows.clone())]) {
        let names: Value = r.take((0, "name")).expect("any value");
        assert_eq!(
            names,
            Value::Array(vec![
                Value::from("a"),
                Value::None,
                Value::None,
                Value::Array(vec![Value::from("n"), Value::None]),
            ])
        );
    }
    let flat = Value::Array(vec![
        person("a", Value::Int(1)),
        obj(&[("age", Value::Int(5))]),
        Value::Int(3),
    ]);
    for mut r in both(vec![ok_row(flat.clone())]) {
        let ages: Vec<Option<i64>> = r.take((0, "age")).expect("ages fit");
        assert_eq!(ages, vec![Some(1), Some(5), None]);
    }
    // On a single object the field itself; on a scalar NONE.
    for mut r in both(vec![
        ok_row(person("z", Value::Int(4))),
        ok_row(Value::Int(1)),
    ]) {
        assert_eq!(r.take::<i64>((0, "age")).expect("an int"), 4);
        assert_eq!(r.take::<Value>((1, "age")).expect("any value"), Value::None);
    }
}

#[test]
fn take_field_keeps_the_last_of_duplicate_keys() {
    // Built by hand: `Object` cannot hold duplicate keys.
    let mut b = Vec::new();
    cbor::Encoder::new(&mut b).array(1);
    cbor::Encoder::new(&mut b).map(4);
    for (k, v) in [("status", "OK"), ("time", "1ms")] {
        cbor::Encoder::new(&mut b).text(k).text(v);
    }
    cbor::Encoder::new(&mut b).text("result").array(1).map(2);
    cbor::Encoder::new(&mut b)
        .text("age")
        .int(1)
        .text("age")
        .int(2);
    cbor::Encoder::new(&mut b).text("type").null();
    let mut r = query("", Object::new())
        .decode_payload(Payload::from_cbor(b.clone()))
        .expect("valid");
    let reference = parse_query_results(cbor::decode(&b).expect("decodes")).expect("valid");
    assert_eq!(r.take::<Vec<i64>>((0, "age")).expect("ints"), vec![2]);
    let mut oracle = reference;
    assert_eq!(
        oracle_take::<Vec<i64>>(&mut oracle, 0, Some("age")),
        Ok(vec![2])
    );
}

#[test]
fn a_single_row_result_fits_option_and_plain_t() {
    let one = Value::Array(vec![person("a", Value::Int(1))]);
    let none = Value::Array(vec![]);
    for mut r in both(vec![
        ok_row(one.clone()),
        ok_row(none.clone()),
        ok_row(one.clone()),
    ]) {
        let p: Option<Person> = r.take(0).expect("one row");
        assert_eq!(
            p,
            Some(Person {
                name: "a".into(),
                age: 1
            })
        );
        let p: Option<Person> = r.take(1).expect("no row");
        assert_eq!(p, None);
        let p: Person = r.take(2).expect("one row as T");
        assert_eq!(p.name, "a");
    }
    // With a field too: the one row's field.
    for mut r in both(vec![ok_row(one.clone())]) {
        let age: i64 = r.take((0, "age")).expect("the one row's age");
        assert_eq!(age, 1);
    }
}

#[test]
fn more_than_one_row_does_not_fit_a_single_t() {
    let two = Value::Array(vec![person("a", Value::Int(1)), person("b", Value::Int(2))]);
    for mut r in both(vec![ok_row(two.clone())]) {
        let e = r.take::<Option<Person>>(0).expect_err("two rows");
        let CallError::Decode { method, source } = &e else {
            panic!("expected a decode error, got {e:?}");
        };
        assert_eq!(*method, "query");
        assert!(source.0.starts_with("statement 0: "), "{source}");
    }
}

#[test]
fn decode_errors_name_the_statement_row_and_field() {
    let rows = Value::Array(vec![
        person("a", Value::Int(1)),
        person("b", Value::from("x")),
    ]);
    let mut got = Vec::new();
    for mut r in both(vec![ok_row(Value::None), ok_row(rows.clone())]) {
        let e = r.take::<Vec<Person>>(1).expect_err("age is text");
        let CallError::Decode { source, .. } = &e else {
            panic!("expected a decode error, got {e:?}");
        };
        assert!(source.0.starts_with("statement 1: "), "{source}");
        assert!(source.0.contains("`[1].age`"), "{source}");
        assert!(source.0.contains("expected i64"), "{source}");
        assert!(source.0.contains("\"x\""), "{source}");
        got.push(e);
    }
    assert_eq!(got[0], got[1], "the same message on both paths");
    let mut oracle =
        parse_query_results(Value::Array(vec![ok_row(Value::None), ok_row(rows)])).expect("valid");
    assert_eq!(
        Err(got[0].clone()),
        oracle_take::<Vec<Person>>(&mut oracle, 1, None)
    );
}

#[test]
fn a_failed_statement_gives_its_server_error_every_time() {
    for mut r in both(vec![ok_row(Value::Int(1)), err_row("bad input")]) {
        for _ in 0..2 {
            let e = r.take::<Value>(1).expect_err("failed");
            let s = e.as_server_error().expect("a server error");
            assert_eq!(s.message, "bad input");
            assert_eq!(s.kind, ErrorKind::from_wire("Validation"));
        }
        let e = r.take::<Value>((1, "x")).expect_err("failed, field or not");
        assert!(e.as_server_error().is_some());
        assert_eq!(r.take::<i64>(0).expect("statement 0 is fine"), 1);
    }
}

#[test]
fn check_and_take_errors() {
    for r in both(vec![
        ok_row(Value::Int(1)),
        err_row("first"),
        err_row("second"),
    ]) {
        let e = r.clone().check().expect_err("a statement failed");
        assert_eq!(
            e.as_server_error().map(|s| s.message.as_str()),
            Some("first")
        );
        let mut r = r;
        let errors = r.take_errors();
        assert_eq!(errors.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(errors[&2].message, "second");
        assert_eq!(r.take::<Value>(1).expect("now NONE"), Value::None);
        assert!(r.take_errors().is_empty());
        let mut r = r.check().expect("no failure left");
        assert_eq!(r.take::<i64>(0).expect("an int"), 1);
    }
}

#[test]
fn taking_twice_gives_none() {
    let rows = Value::Array(vec![person("a", Value::Int(1))]);
    for mut r in both(vec![ok_row(rows.clone())]) {
        let first: Vec<Person> = r.take(0).expect("rows");
        assert_eq!(first.len(), 1);
        assert_eq!(r.take::<Value>(0).expect("taken"), Value::None);
        assert_eq!(r.take::<Option<Person>>(0).expect("taken"), None);
        let e = r.take::<Vec<Person>>(0).expect_err("NONE is not a list");
        assert!(matches!(e, CallError::Decode { .. }), "{e:?}");
    }
    // A failed take takes the result too, as before.
    for mut r in both(vec![ok_row(Value::from("text"))]) {
        r.take::<i64>(0).expect_err("text is not an int");
        assert_eq!(r.take::<Value>(0).expect("taken"), Value::None);
    }
}

#[test]
fn an_index_out_of_range_is_invalid() {
    for mut r in both(vec![ok_row(Value::Int(1))]) {
        let e = r.take::<Value>(3).expect_err("only one statement");
        assert_eq!(
            e,
            CallError::Invalid {
                what: "statement index",
                reason: "3 is out of range: the query had 1 statement result(s)".into(),
            }
        );
    }
}

#[test]
fn a_missing_result_is_none_and_status_time_type_are_kept() {
    let rows = vec![
        obj(&[("status", Value::from("OK")), ("time", Value::from("5ms"))]),
        obj(&[
            ("status", Value::from("OK")),
            ("time", Value::from("1ms")),
            ("type", Value::from("live")),
            ("result", Value::Int(2)),
        ]),
        err_row("nope"),
    ];
    let reference = parse_query_results(Value::Array(rows.clone())).expect("valid");
    for mut r in both(rows.clone()) {
        assert_eq!(r.results().expect("decodes"), reference);
        assert_eq!(r.take::<Value>(0).expect("NONE"), Value::None);
        // `results` reflects what was taken.
        let now = r.results().expect("decodes");
        assert_eq!(now[1], reference[1]);
        assert_eq!(now[0].result, Ok(Value::None));
    }
}

/// Every way of reading `got` (an answer as `decode_payload` / `decode` give it) fails
/// with `want`: right away, or — for a definite-length array, whose statements are located
/// on first use — at the first `take` (of any statement), `check` and `results`.
fn refused_with(got: Result<QueryResponse, CallError>, want: &CallError) {
    let r = match got {
        Err(e) => {
            assert_eq!(&e, want);
            return;
        }
        Ok(r) => r,
    };
    for i in 0..r.len() {
        assert_eq!(r.clone().take::<Value>(i).as_ref(), Err(want), "take({i})");
        assert_eq!(
            r.clone().take::<Vec<Person>>(i).as_ref(),
            Err(want),
            "take({i})"
        );
        assert_eq!(
            r.clone().take::<Value>((i, "name")).as_ref(),
            Err(want),
            "take(({i}, \"name\"))"
        );
        // Taking again (after a failed first attempt) gives the same error.
        let mut again = r.clone();
        let _ = again.take::<i64>(i);
        assert_eq!(
            again.take::<Value>(i).as_ref(),
            Err(want),
            "second take({i})"
        );
    }
    assert_eq!(r.results().as_ref(), Err(want));
    assert_eq!(r.clone().check().map(|_| ()).as_ref(), Err(want));
    // An unreadable answer has no statement errors to hand out, and stays unreadable.
    let mut r = r;
    assert!(r.take_errors().is_empty());
    assert_eq!(r.results().as_ref(), Err(want));
}

#[test]
fn malformed_answers_are_refused_with_the_old_messages() {
    let cases = [
        Value::Int(1),
        Value::Array(vec![Value::Null]),
        Value::Array(vec![obj(&[("status", Value::from("MAYBE"))])]),
        Value::Array(vec![obj(&[("time", Value::from("1ms"))])]),
        Value::Array(vec![obj(&[("status", Value::Int(1))])]),
        // The shape is wrong in the second statement: taking the first fails too.
        Value::Array(vec![ok_row(Value::Int(1)), Value::Int(2)]),
    ];
    for v in cases {
        let want = CallError::Protocol {
            method: "query",
            detail: parse_query_results(v.clone())
                .expect_err("invalid")
                .to_string(),
        };
        refused_with(
            query("", Object::new()).decode_payload(Payload::from_cbor(cbor::encode(&v))),
            &want,
        );
        refused_with(query("", Object::new()).decode(v.clone()), &want);
    }
    // Not an array: refused right away, as before.
    let e = query("", Object::new())
        .decode(Value::Int(1))
        .expect_err("not an array");
    assert!(matches!(e, CallError::Protocol { .. }), "{e:?}");

    // Bytes that are not one CBOR item fail as undecodable, with the message reading the
    // answer always gave (the statement walk's, or the decoder's for trailing bytes).
    let undecodable = |b: &[u8]| {
        let e = match split_query_results(b) {
            Err(e) => e,
            Ok(_) => cbor::decode(b).expect_err("not one item"),
        };
        decode_error("query", &e)
    };
    let ok = cbor::encode(&Value::Array(vec![
        ok_row(Value::Array(vec![person("a", Value::Int(1))])),
        ok_row(Value::Int(2)),
    ]));
    let mut trailing = ok.clone();
    trailing.push(0x01);
    let mut cut = ok.clone();
    cut.pop();
    // A truncated value inside the first statement's rows.
    let mut inner = cbor::encode(&Value::Array(vec![ok_row(Value::Array(vec![
        Value::from("abc"),
    ]))]));
    let at = inner
        .windows(4)
        .position(|w| w == [0x63, b'a', b'b', b'c'])
        .expect("the text");
    inner[at] = 0x6a; // claims 10 bytes
    for b in [trailing, cut, inner, vec![0x9f, 0x01]] {
        let want = undecodable(&b);
        refused_with(
            query("", Object::new()).decode_payload(Payload::from_cbor(b.clone())),
            &want,
        );
    }
    // A length prefix far beyond the input reserves nothing and fails cleanly, at once.
    let huge = vec![0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    let e = query("", Object::new())
        .decode_payload(Payload::from_cbor(huge))
        .expect_err("no rows behind the length");
    assert!(matches!(e, CallError::Decode { .. }), "{e:?}");
}

/// Indefinite lengths and chunked keys are legitimate CBOR the fast splitter does not
/// special-case: they must read the same.
#[test]
fn indefinite_lengths_and_chunked_keys_read_the_same() {
    // [_ {_ "status": "OK", (_ "ti" "me"): "1ms", "result": [_ {"age": 3}]}]
    let mut b = vec![0x9f, 0xbf];
    cbor::Encoder::new(&mut b).text("status").text("OK");
    b.extend_from_slice(&[0x7f, 0x62, b't', b'i', 0x62, b'm', b'e', 0xff]);
    cbor::Encoder::new(&mut b).text("1ms").text("result");
    b.push(0x9f);
    cbor::Encoder::new(&mut b).map(1).text("age").int(3);
    b.extend_from_slice(&[0xff, 0xff, 0xff]);
    let value = cbor::decode(&b).expect("well-formed");
    let reference = parse_query_results(value).expect("valid");
    let mut r = query("", Object::new())
        .decode_payload(Payload::from_cbor(b.clone()))
        .expect("valid");
    assert_eq!(r.results().expect("decodes"), reference);
    assert_eq!(r.take::<i64>((0, "age")).expect("the single row's age"), 3);

    // Indefinite rows with definite keys take the fast path; single-row fallback included.
    let mut b = vec![0x9f];
    cbor::Encoder::new(&mut b)
        .map(3)
        .text("status")
        .text("OK")
        .text("time")
        .text("1ms")
        .text("result");
    b.push(0x9f);
    cbor::Encoder::new(&mut b)
        .map(2)
        .text("name")
        .text("a")
        .text("age")
        .int(1);
    b.extend_from_slice(&[0xff, 0xff]);
    let mut r = query("", Object::new())
        .decode_payload(Payload::from_cbor(b))
        .expect("valid");
    let p: Option<Person> = r.take(0).expect("one row");
    assert_eq!(
        p,
        Some(Person {
            name: "a".into(),
            age: 1
        })
    );
}

#[test]
fn responses_compare_and_clone_by_meaning() {
    let rows = vec![
        ok_row(Value::Array(vec![person("a", Value::Int(1))])),
        err_row("x"),
    ];
    let [a, b] = both(rows.clone());
    assert_eq!(a, b);
    assert_eq!(a.clone(), a);
    let mut c = a.clone();
    c.take::<Value>(0).expect("rows");
    assert_ne!(c, a, "a taken statement differs");
    assert_ne!(
        raw(vec![ok_row(Value::Int(1))]),
        raw(vec![ok_row(Value::Int(2))])
    );
    let built = QueryResponse::new(parse_query_results(Value::Array(rows)).expect("valid"));
    assert_eq!(built, a);
    // A statement's time, read where it lies in the answer, is its text.
    assert_eq!(a.results().expect("readable")[0].time, "1.2ms");
    let mut later = ok_row(Value::Int(1));
    if let Value::Object(o) = &mut later {
        o.insert("time".into(), Value::from("9ms"));
    }
    assert_ne!(
        raw(vec![ok_row(Value::Int(1))]),
        raw(vec![later]),
        "the times differ"
    );
    assert!(
        format!("{a:?}").contains("\"a\""),
        "Debug shows the values: {a:?}"
    );
}

// --- QuerySet reads -----------------------------------------------------------------------

fn queryset_answer(result: Value) -> Payload {
    Payload::from_cbor(cbor::encode(&Value::Array(vec![ok_row(result)])))
}

#[test]
fn fetch_all_and_fetch_first_read_rows_from_bytes() {
    let qs = QuerySet::table("person");
    let rows = Value::Array(vec![person("a", Value::Int(1)), person("b", Value::Int(2))]);
    let all: Vec<Person> = fetch_all(&qs)
        .expect("compiles")
        .decode_payload(queryset_answer(rows.clone()))
        .expect("rows");
    assert_eq!(all.len(), 2);
    let first: Option<Person> = fetch_first(&qs)
        .expect("compiles")
        .decode_payload(queryset_answer(rows.clone()))
        .expect("rows");
    assert_eq!(first.map(|p| p.name), Some("a".into()));
    let none: Option<Person> = fetch_first(&qs)
        .expect("compiles")
        .decode_payload(queryset_answer(Value::Array(vec![])))
        .expect("no rows");
    assert_eq!(none, None);

    let bad = Value::Array(vec![
        person("a", Value::Int(1)),
        person("b", Value::from("x")),
    ]);
    let e = fetch_all::<Person>(&qs)
        .expect("compiles")
        .decode_payload(queryset_answer(bad))
        .expect_err("age is text");
    let CallError::Decode { source, .. } = &e else {
        panic!("expected a decode error, got {e:?}");
    };
    assert!(source.0.starts_with("row 1: "), "{source}");
    assert!(source.0.contains("`age`"), "{source}");

    let failed = Payload::from_cbor(cbor::encode(&Value::Array(vec![err_row("denied")])));
    let e = fetch_all::<Person>(&qs)
        .expect("compiles")
        .decode_payload(failed)
        .expect_err("failed statement");
    assert_eq!(
        e.as_server_error().map(|s| s.message.as_str()),
        Some("denied")
    );
}

fn row_cases() -> Vec<Value> {
    vec![
        Value::Array(vec![Value::Int(1), Value::Int(2)]),
        Value::Set(vec![Value::Int(3), Value::Int(4)]),
        Value::Array(vec![]),
        Value::None,
        Value::Null,
        Value::Int(5),
        Value::Array(vec![Value::Int(1), Value::from("x"), Value::Int(2)]),
        Value::from("y"),
    ]
}

#[test]
fn row_decoding_from_bytes_matches_the_value_path() {
    use crate::query::{decode_first, decode_rows};
    for v in row_cases() {
        let b = cbor::encode(&v);
        assert_eq!(
            decode_rows_cbor::<i64>(&b),
            decode_rows::<i64>(v.clone()),
            "rows of {v:?}"
        );
        assert_eq!(
            decode_first_cbor::<i64>(&b),
            decode_first::<i64>(v.clone()),
            "first of {v:?}"
        );
    }
    // Indefinite arrays too.
    let b = [0x9f, 0x01, 0x02, 0xff];
    assert_eq!(decode_rows_cbor::<i64>(&b), Ok(vec![1, 2]));
    assert_eq!(decode_first_cbor::<i64>(&b), Ok(Some(1)));
}

// --- against the oracle, on any value -----------------------------------------------------

fn agree<T>(result: &Value, field: Option<&str>) -> Result<(), TestCaseError>
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + 'static,
{
    let rows = vec![ok_row(result.clone())];
    let mut oracle = parse_query_results(Value::Array(rows.clone())).expect("valid");
    let want = oracle_take::<T>(&mut oracle, 0, field);
    let mut r = raw(rows);
    let got = match field {
        None => r.take::<T>(0),
        Some(f) => r.take::<T>((0, f)),
    };
    prop_assert_eq!(&got, &want, "take of {:?} (field {:?})", result, field);
    // Taken afterwards either way.
    prop_assert_eq!(r.take::<Value>(0), Ok(Value::None));
    Ok(())
}

fn rows_agree<T>(result: &Value) -> Result<(), TestCaseError>
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    use crate::query::{decode_first, decode_rows};
    let b = cbor::encode(result);
    prop_assert_eq!(decode_rows_cbor::<T>(&b), decode_rows::<T>(result.clone()));
    prop_assert_eq!(
        decode_first_cbor::<T>(&b),
        decode_first::<T>(result.clone())
    );
    Ok(())
}

/// Results shaped like query answers: lists of small objects sharing keys, and anything.
fn result_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![Just("a".to_owned()), Just("b".to_owned()), any::<String>()];
    let row = proptest::collection::btree_map(key, crate::internal::strategy::value(), 0..4)
        .prop_map(Value::Object)
        .boxed();
    prop_oneof![
        2 => proptest::collection::vec(row.clone(), 0..4).prop_map(Value::Array),
        1 => row,
        2 => crate::internal::strategy::value(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn take_on_bytes_agrees_with_the_value_semantics(v in result_value()) {
        for field in [None, Some("a"), Some("zz")] {
            agree::<Value>(&v, field)?;
            agree::<Vec<Value>>(&v, field)?;
            agree::<Option<Value>>(&v, field)?;
            agree::<Option<String>>(&v, field)?;
            agree::<Vec<Option<i64>>>(&v, field)?;
            agree::<i64>(&v, field)?;
            agree::<BTreeMap<String, Value>>(&v, field)?;
            agree::<Option<BTreeMap<String, Value>>>(&v, field)?;
            agree::<Vec<BTreeMap<String, Value>>>(&v, field)?;
        }
        rows_agree::<Value>(&v)?;
        rows_agree::<i64>(&v)?;
        rows_agree::<BTreeMap<String, Value>>(&v)?;
    }
}

/// The first `take` (reading while it locates) and a `take` after locating agree on the
/// outcome, the error and what is left, for damaged answers too.
fn first_take_agrees<T>(bytes: &[u8], i: usize) -> Result<(), TestCaseError>
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + 'static,
{
    let Ok(fresh) = query("", Object::new()).decode_payload(Payload::from_cbor(bytes.to_vec()))
    else {
        return Ok(());
    };
    let [mut fresh, mut located] = [fresh.clone(), fresh];
    let _ = located.results();
    prop_assert_eq!(fresh.take::<T>(i), located.take::<T>(i));
    prop_assert_eq!(fresh.results(), located.results());
    prop_assert_eq!(fresh.take::<Value>(i), located.take::<Value>(i));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_first_take_agrees_with_locating_first_on_damaged_answers(
        i in 0usize..3,
        flip in any::<(prop::sample::Index, u8)>(),
        cut in any::<prop::sample::Index>(),
        extra in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let answer = Value::Array(vec![
            ok_row(Value::Array(vec![person("a", Value::Int(1)), person("b", Value::Int(2))])),
            err_row("bad"),
            ok_row(Value::Array(vec![person("c", Value::from("x"))])),
        ]);
        let good = cbor::encode(&answer);
        let mut flipped = good.clone();
        let at = flip.0.index(flipped.len());
        flipped[at] ^= flip.1;
        let cut_short = good[..cut.index(good.len())].to_vec();
        let mut longer = good.clone();
        longer.extend_from_slice(&extra);
        for bytes in [&good, &flipped, &cut_short, &longer] {
            first_take_agrees::<Vec<Person>>(bytes, i)?;
            first_take_agrees::<Option<Person>>(bytes, i)?;
            first_take_agrees::<Value>(bytes, i)?;
            first_take_agrees::<String>(bytes, i)?;
            first_take_agrees::<Vec<BTreeMap<String, Value>>>(bytes, i)?;
        }
    }
}
