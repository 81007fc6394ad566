//! Exact text and bound values of every statement a model action sends, and the answers it
//! turns into errors, driven through `Operation::step` with scripted answers (no server:
//! the conformance suite runs the same actions against a real one).

#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use surql::client::QueryResponse;
use surql::model::ops::{self, BulkOptions};
use surql::model::{Changes, Expr, Model};
use surql::op::{Operation, Step};
use surql::query::F;
use surql::rpc::{Method, Payload, QueryResult, Request};
use surql::{Datetime, Error, Object, RecordId, Table, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "person")]
struct Person {
    id: Option<RecordId>,
    name: String,
    #[serde(rename = "first-name")]
    first_name: Option<String>,
    #[surql(server)]
    created_at: Option<Datetime>,
    #[surql(computed)]
    label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "numbered")]
struct Numbered {
    id: Option<i64>,
    n: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "stats", view = "SELECT count() AS n FROM person GROUP ALL")]
struct Stats {
    id: Option<RecordId>,
    n: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "likes", relation(in = "person", out = "person"))]
struct Likes {
    id: Option<RecordId>,
    #[serde(rename = "in")]
    from: RecordId,
    #[serde(rename = "out")]
    to: RecordId,
}

fn ada(id: Option<&str>) -> Person {
    Person {
        id: id.map(|k| RecordId::new("person", k)),
        name: "Ada".into(),
        first_name: None,
        created_at: Some(Datetime::from_unix(5, 0).unwrap()),
        label: Some("computed".into()),
    }
}

/// The text and vars of a `query` request (variables bound as CBOR decoded among them).
fn text_of(r: &Request) -> (String, Object) {
    assert_eq!(r.method, Method::Query);
    let text = match &r.params[0] {
        Value::String(s) => s.clone(),
        other => panic!("query text is {other:?}"),
    };
    let mut vars = match r.params.get(1) {
        Some(Value::Object(o)) => o.clone(),
        _ => Object::new(),
    };
    for (name, raw) in r.raw_vars() {
        let old = vars.insert(name.clone(), raw.to_value().expect("raw var decodes"));
        assert!(old.is_none(), "${name} bound twice");
    }
    (text, vars)
}

fn first_request<O: Operation>(op: &mut O) -> (String, Object) {
    match op.step(None) {
        Step::Send(r) => text_of(&r),
        Step::Done(Err(e)) => panic!("failed before sending: {e}"),
        Step::Done(Ok(_)) => panic!("finished before sending"),
    }
}

/// A `query` answer with these statement results.
fn answer(results: Vec<Value>) -> Option<Result<Payload, Error>> {
    let rows = results
        .into_iter()
        .map(|v| QueryResult {
            time: "1µs".into(),
            kind: None,
            result: Ok(v),
        })
        .collect();
    let resp = QueryResponse::new(rows);
    let v = Value::Array(
        resp.results()
            .unwrap()
            .into_iter()
            .map(|r| {
                let mut o = Object::new();
                o.insert("status".into(), "OK".into());
                o.insert("time".into(), r.time.into());
                o.insert("result".into(), r.result.unwrap());
                Value::Object(o)
            })
            .collect(),
    );
    Some(Ok(Payload::from(v)))
}

fn row(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn done<T: std::fmt::Debug>(step: Step<T>) -> Result<T, Error> {
    match step {
        Step::Done(r) => r,
        Step::Send(r) => panic!("sent another request: {r:?}"),
    }
}

#[test]
fn save_without_id_creates_with_content_minus_server_fields() {
    let mut op = ops::save(&ada(None));
    let (text, vars) = first_request(&mut op);
    assert_eq!(text, "CREATE $t0 CONTENT $p0 RETURN AFTER;");
    assert_eq!(vars["t0"], Value::Table(Table::new("person")));
    let data = match &vars["p0"] {
        Value::Object(o) => o.clone(),
        other => panic!("{other:?}"),
    };
    // no id, no server field, no computed field; None is sent as NONE (unsets)
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        vec!["first-name", "name"],
        "{data:?}"
    );
    assert_eq!(data["first-name"], Value::None);
    let stored = row(&[
        ("id", RecordId::new("person", "x1").into()),
        ("name", "Ada".into()),
        (
            "created_at",
            Value::Datetime(Datetime::from_unix(9, 0).unwrap()),
        ),
        ("label", "Ada!".into()),
    ]);
    let p = done(op.step(answer(vec![Value::Array(vec![stored])]))).unwrap();
    assert_eq!(p.id, Some(RecordId::new("person", "x1")));
    assert_eq!(p.label.as_deref(), Some("Ada!"));
}

#[test]
fn save_with_id_upserts_with_merge() {
    let mut op = ops::save(&ada(Some("7abc")));
    let (text, vars) = first_request(&mut op);
    assert_eq!(text, "UPSERT $p0 MERGE $p1 RETURN AFTER;");
    assert_eq!(vars["p0"], RecordId::new("person", "7abc").into());
    // an empty answer is a denied write, never a silent success
    let err = done(op.step(answer(vec![Value::Array(vec![])]))).unwrap_err();
    assert!(err.is_write_denied(), "{err}");
}

#[test]
fn relation_models_insert_relation() {
    let l = Likes {
        id: None,
        from: RecordId::new("person", "a"),
        to: RecordId::new("person", "b"),
    };
    let (text, vars) = first_request(&mut ops::save(&l));
    assert_eq!(text, "INSERT RELATION INTO $t0 $p0;");
    assert_eq!(vars["t0"], Value::Table(Table::new("likes")));
}

#[test]
fn save_with_sets_every_field_and_the_server_values() {
    let f = Person::fields();
    let changes = Changes::new()
        .set_expr(
            f.first_name,
            Expr::func("string::uppercase", [Expr::var("n")]),
        )
        .bind("n", "ada");
    let (text, vars) = first_request(&mut ops::save_with(&ada(None), &changes));
    assert_eq!(
        text,
        "CREATE $t0 SET name = $p0, `first-name` = string::uppercase($v_n) RETURN AFTER;"
    );
    assert_eq!(vars["v_n"], "ada".into());
    let (text, _) = first_request(&mut ops::save_with(&ada(Some("a")), &changes));
    assert_eq!(
        text,
        "UPSERT $p0 SET name = $p1, `first-name` = string::uppercase($v_n) RETURN AFTER;"
    );
    let mut op = ops::save_with(&ada(None), &Changes::new().set(f.label, "x"));
    let err = done(op.step(None)).unwrap_err();
    assert!(
        err.is_invalid_input() && err.to_string().contains("label"),
        "{err}"
    );
}

#[test]
fn get_and_refresh_select_the_record() {
    for input in ["abc", "person:abc", "person:⟨abc⟩"] {
        let mut op = ops::get::<Person>(input);
        let (text, vars) = first_request(&mut op);
        assert_eq!(text, "SELECT * FROM $p0;");
        assert_eq!(vars["p0"], RecordId::new("person", "abc").into(), "{input}");
        let err = done(op.step(answer(vec![Value::Array(vec![])]))).unwrap_err();
        assert!(err.is_does_not_exist(), "{err}");
        assert_eq!(err.to_string(), "no Person matches id = person:abc");
    }
    let (_, vars) = first_request(&mut ops::get::<Person>("person:`7abc`"));
    assert_eq!(vars["p0"], RecordId::new("person", "7abc").into());
    // a string never silently becomes a number; `person:123` is record-id syntax for one
    let (_, vars) = first_request(&mut ops::get::<Person>("123"));
    assert_eq!(vars["p0"], RecordId::new("person", "123").into());
    let (_, vars) = first_request(&mut ops::get::<Person>("person:123"));
    assert_eq!(vars["p0"], RecordId::new("person", 123i64).into());
    let (_, vars) = first_request(&mut ops::get::<Person>(("person", 7i64)));
    assert_eq!(vars["p0"], RecordId::new("person", 7i64).into());
    let mut op = ops::get::<Person>(RecordId::new("dog", "rex"));
    assert!(done(op.step(None)).unwrap_err().is_invalid_input());
    let (text, _) = first_request(&mut ops::refresh(&ada(Some("a"))));
    assert_eq!(text, "SELECT * FROM $p0;");
    let mut op = ops::refresh(&ada(None));
    let err = done(op.step(None)).unwrap_err();
    assert!(err.to_string().contains("save it first"), "{err}");
}

#[test]
fn typed_keys_are_rewritten_from_record_ids() {
    let mut op = ops::get::<Numbered>(12);
    let (_, vars) = first_request(&mut op);
    assert_eq!(vars["p0"], RecordId::new("numbered", 12i64).into());
    let stored = row(&[
        ("id", RecordId::new("numbered", 12i64).into()),
        ("n", 1.into()),
    ]);
    let n = done(op.step(answer(vec![Value::Array(vec![stored])]))).unwrap();
    assert_eq!(n, Numbered { id: Some(12), n: 1 });
    let mut op = ops::get::<Numbered>(12);
    first_request(&mut op);
    let wrong = row(&[
        ("id", RecordId::new("numbered", "x").into()),
        ("n", 1.into()),
    ]);
    let err = done(op.step(answer(vec![Value::Array(vec![wrong])]))).unwrap_err();
    assert!(
        err.to_string().contains("numbered:x has a string key"),
        "{err}"
    );
}

#[test]
fn update_merge_and_delete_check_what_happened() {
    let f = Person::fields();
    let (text, _) = first_request(&mut ops::update(&ada(Some("a"))));
    assert_eq!(
        text,
        "UPDATE $p0 MERGE $p1 RETURN AFTER; RETURN record::exists($p0);"
    );
    let changes = Changes::new()
        .set(f.name, "B")
        .set_expr(f.created_at, Expr::now());
    let mut op = ops::merge(&ada(Some("a")), &changes, true);
    let (text, vars) = first_request(&mut op);
    assert_eq!(
        text,
        "UPDATE $p0 SET name = $p1, created_at = time::now() RETURN AFTER; RETURN record::exists($p0);"
    );
    assert_eq!(vars["p1"], "B".into());
    // nothing written and the record is visible: denied
    let err = done(op.step(answer(vec![Value::Array(vec![]), true.into()]))).unwrap_err();
    assert!(matches!(err, Error::WriteDenied { .. }), "{err}");
    // nothing written and not visible: does not exist
    let mut op = ops::merge(&ada(Some("a")), &changes, false);
    let (text, _) = first_request(&mut op);
    assert_eq!(
        text,
        "UPDATE $p0 SET name = $p1, created_at = time::now() RETURN VALUE id; RETURN record::exists($p0);"
    );
    let err = done(op.step(answer(vec![Value::Array(vec![]), false.into()]))).unwrap_err();
    assert!(err.is_does_not_exist(), "{err}");
    let mut op = ops::delete(&ada(Some("a")));
    let (text, _) = first_request(&mut op);
    assert_eq!(
        text,
        "DELETE $p0 RETURN VALUE id; RETURN record::exists($p0);"
    );
    let ok = done(op.step(answer(vec![
        Value::Array(vec![RecordId::new("person", "a").into()]),
        false.into(),
    ])));
    assert!(ok.is_ok());
}

#[test]
fn views_refuse_every_write_before_sending() {
    let s = Stats {
        id: Some(RecordId::new("stats", "x")),
        n: 1,
    };
    for mut op in [ops::save(&s), ops::update(&s)] {
        let err = done(op.step(None)).unwrap_err();
        assert!(matches!(err, Error::ReadOnly { .. }), "{err}");
    }
    let err = done(ops::delete(&s).step(None)).unwrap_err();
    assert!(err.to_string().contains("is a view"), "{err}");
}

#[test]
fn queryset_reads_and_counted_writes() {
    let f = Person::fields();
    let qs = Person::objects().filter(f.name.eq("Ada"));
    let (text, _) = first_request(&mut ops::find(&qs));
    assert_eq!(text, "SELECT * FROM $t0 WHERE name = $p0 LIMIT $p1;");
    let (text, vars) = first_request(&mut ops::first(&qs));
    assert_eq!(text, "SELECT * FROM $t0 WHERE name = $p0 LIMIT $p1;");
    assert_eq!(vars["p1"], 1.into());
    let (text, _) = first_request(&mut ops::last(&qs));
    assert_eq!(
        text,
        "SELECT * FROM $t0 WHERE name = $p0 ORDER BY id DESC LIMIT $p1;"
    );
    let (text, _) = first_request(&mut ops::last(&qs.clone().order_by([f.name.asc()])));
    assert_eq!(
        text,
        "SELECT * FROM $t0 WHERE name = $p0 ORDER BY name DESC LIMIT $p1;"
    );
    let (text, _) = first_request(&mut ops::exists(&qs));
    assert_eq!(text, "SELECT VALUE id FROM $t0 WHERE name = $p0 LIMIT $p1;");
    let (text, _) = first_request(&mut ops::page_after(
        &qs,
        Some(&RecordId::new("person", "k")),
        10,
    ));
    assert_eq!(
        text,
        "SELECT * FROM $t0 WHERE name = $p0 AND id > $p1 ORDER BY id ASC LIMIT $p2;"
    );
    let (text, _) = first_request(&mut ops::update_all(
        &qs,
        &Changes::new().unset(f.first_name),
    ));
    assert_eq!(
        text,
        "UPDATE $t0 SET `first-name` = $p0 WHERE name = $p1 RETURN VALUE id;"
    );
    let (text, _) = first_request(&mut ops::delete_all(&qs));
    assert_eq!(text, "DELETE $t0 WHERE name = $p0 RETURN VALUE id;");
    let mut op = ops::find(&qs);
    first_request(&mut op);
    let two = Value::Array(vec![
        row(&[
            ("id", RecordId::new("person", "a").into()),
            ("name", "Ada".into()),
        ]),
        row(&[
            ("id", RecordId::new("person", "b").into()),
            ("name", "Ada".into()),
        ]),
    ]);
    let err = done(op.step(answer(vec![two]))).unwrap_err();
    assert!(err.is_multiple_objects(), "{err}");
    assert_eq!(
        err.to_string(),
        "more than one Person matches SELECT * FROM person WHERE name = 'Ada';"
    );
    // typed handles and strings compile to the same text
    let typed = Person::objects()
        .filter(f.first_name.icontains("a"))
        .compile()
        .unwrap();
    let dynamic = Person::objects()
        .filter(F::new("`first-name`").icontains("a"))
        .compile()
        .unwrap();
    assert_eq!(typed, dynamic);
}

#[test]
fn bulk_create_sends_one_insert_per_batch() {
    let rows: Vec<Person> = (0..5)
        .map(|i| Person {
            name: format!("p{i}"),
            ..ada(None)
        })
        .collect();
    let mut op = ops::bulk_create(
        &rows,
        BulkOptions {
            batch_size: 2,
            atomic: false,
        },
    );
    let mut sent = Vec::new();
    let mut step = op.step(None);
    let mut batch = 0;
    while let Step::Send(r) = step {
        // The rows travel pre-encoded: exactly the bytes of the batch's rows as
        // `insert_rows_cbor` writes them, meaning what `write_data` builds.
        let raw = &r.raw_vars()["p0"];
        let chunk = &rows[batch * 2..(batch * 2 + 2).min(rows.len())];
        assert_eq!(raw, &surql::model::insert_rows_cbor(chunk).unwrap());
        let want: Vec<Value> = chunk
            .iter()
            .map(|m| Value::Object(surql::model::write_data(m).unwrap()))
            .collect();
        assert_eq!(raw.to_value().unwrap(), Value::Array(want));
        assert!(!matches!(&r.params[1], Value::Object(o) if o.contains_key("p0")));
        batch += 1;
        let (text, vars) = text_of(&r);
        let n = match &vars["p0"] {
            Value::Array(a) => a.len(),
            other => panic!("{other:?}"),
        };
        sent.push((text, n));
        let stored: Vec<Value> = (0..n)
            .map(|i| {
                row(&[
                    ("id", RecordId::new("person", i as i64).into()),
                    ("name", "x".into()),
                ])
            })
            .collect();
        step = op.step(answer(vec![Value::Array(stored)]));
    }
    let out = done(step).unwrap();
    assert_eq!(out.len(), 5);
    assert_eq!(
        sent,
        vec![
            ("INSERT INTO $t0 $p0;".to_owned(), 2),
            ("INSERT INTO $t0 $p0;".to_owned(), 2),
            ("INSERT INTO $t0 $p0;".to_owned(), 1)
        ]
    );
    let mut op = ops::bulk_create(
        &rows,
        BulkOptions {
            batch_size: 2,
            atomic: true,
        },
    );
    let (text, _) = first_request(&mut op);
    assert_eq!(
        text,
        "BEGIN TRANSACTION; INSERT INTO $t0 $p0; INSERT INTO $t0 $p1; INSERT INTO $t0 $p2; COMMIT TRANSACTION;"
    );
    // nothing to insert: nothing sent
    let mut op = ops::bulk_create::<Person>(&[], BulkOptions::default());
    assert!(done(op.step(None)).unwrap().is_empty());
}

#[test]
fn upserts_insert_on_duplicate_key_update() {
    let f = Person::fields();
    let on_conflict = Changes::new()
        .replace(f.name)
        .set_expr(f.created_at, Expr::now());
    let (text, vars) = first_request(&mut ops::upsert(&ada(Some("a")), Some(&on_conflict)));
    assert_eq!(
        text,
        "INSERT INTO $t0 $p0 ON DUPLICATE KEY UPDATE name = $input.name, created_at = time::now();"
    );
    let data = match &vars["p0"] {
        Value::Array(a) => a[0].clone(),
        other => panic!("{other:?}"),
    };
    match data {
        Value::Object(o) => assert_eq!(o["id"], RecordId::new("person", "a").into()),
        other => panic!("{other:?}"),
    }
    // no on_conflict: every written field is replaced
    let (text, _) = first_request(&mut ops::bulk_upsert(&[ada(Some("a")), ada(None)], None));
    assert_eq!(
        text,
        "INSERT INTO $t0 $p0 ON DUPLICATE KEY UPDATE name = $input.name, `first-name` = $input.`first-name`;"
    );
}

#[test]
fn get_or_create_finds_then_creates() {
    let qs = Person::objects().filter(Person::fields().name.eq("Ada"));
    let mut op = ops::get_or_create(&qs, ada(None));
    let (text, _) = first_request(&mut op);
    assert_eq!(text, "SELECT * FROM $t0 WHERE name = $p0 LIMIT $p1;");
    let Step::Send(r) = op.step(answer(vec![Value::Array(vec![])])) else {
        panic!("creates after finding nothing")
    };
    assert_eq!(text_of(&r).0, "CREATE $t0 CONTENT $p0 RETURN AFTER;");
    let stored = row(&[
        ("id", RecordId::new("person", "n").into()),
        ("name", "Ada".into()),
    ]);
    let (p, created) = done(op.step(answer(vec![Value::Array(vec![stored.clone()])]))).unwrap();
    assert!(created);
    assert_eq!(p.id, Some(RecordId::new("person", "n")));
    let mut op = ops::update_or_create(&qs, Changes::new().set_path("name", "B"), ada(None));
    first_request(&mut op);
    let Step::Send(r) = op.step(answer(vec![Value::Array(vec![stored])])) else {
        panic!("updates what it found")
    };
    assert_eq!(
        text_of(&r).0,
        "UPDATE $p0 SET name = $p1 RETURN AFTER; RETURN record::exists($p0);"
    );
}

#[test]
fn function_calls_bind_their_arguments() {
    let (text, vars) = first_request(&mut ops::call_function::<String>(
        "fn::greet",
        vec!["x".into(), 2.into()],
    ));
    assert_eq!(text, "RETURN fn::greet($p0, $p1);");
    assert_eq!(vars["p0"], "x".into());
    let mut bad = ops::call_function::<String>("fn::x; DELETE y", vec![]);
    assert!(done(bad.step(None)).unwrap_err().is_invalid_input());
    let mut named = ops::call_function_named::<String>(
        "fn::greet",
        BTreeMap::from([
            ("b".to_owned(), Value::from(2)),
            ("a".to_owned(), Value::from(1)),
        ]),
    );
    let (text, _) = first_request(&mut named);
    assert_eq!(text, "INFO FOR DB;");
    let info = row(&[(
        "functions",
        row(&[(
            "greet",
            "DEFINE FUNCTION fn::greet($b: int, $a: int) { RETURN $a; }".into(),
        )]),
    )]);
    let Step::Send(r) = named.step(answer(vec![info])) else {
        panic!("calls after reading the definition")
    };
    let (text, vars) = text_of(&r);
    assert_eq!(text, "RETURN fn::greet($p0, $p1);");
    assert_eq!(
        (vars["p0"].clone(), vars["p1"].clone()),
        (2.into(), 1.into())
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "priced")]
struct Priced {
    id: Option<RecordId>,
    n: u64,
    price: surql::Decimal,
}

#[test]
fn bulk_create_refuses_a_bad_row_before_sending_anything() {
    let ok = |n: u64| Priced {
        id: None,
        n,
        price: surql::Decimal::parse("1.5").unwrap(),
    };
    let one_batch_each = BulkOptions {
        batch_size: 1,
        atomic: false,
    };
    // A decimal the server would round, in the third batch: nothing is sent at all.
    let mut rows = vec![ok(1), ok(2), ok(3)];
    rows[2].price = surql::Decimal::parse("1e-30").unwrap();
    let e = done(ops::bulk_create(&rows, one_batch_each).step(None)).unwrap_err();
    let Error::Invalid { what, reason } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(what, "Priced data");
    assert!(
        reason.contains("field `price`") && reason.contains("1e-30"),
        "{reason}"
    );
    // A value serde cannot convert: `write_data`'s own error.
    let mut rows = vec![ok(1), ok(2)];
    rows[1].n = u64::MAX;
    let e = done(ops::bulk_create(&rows, one_batch_each).step(None)).unwrap_err();
    assert_eq!(Some(e), surql::model::write_data(&rows[1]).err());
    // The same checks guard every other write that binds encoded rows.
    let saved = done(ops::save(&rows[1]).step(None)).unwrap_err();
    let upserted = done(ops::bulk_upsert(&rows, None).step(None)).unwrap_err();
    let updated = done(
        ops::update(&Priced {
            id: Some(RecordId::new("priced", 1)),
            ..rows[1].clone()
        })
        .step(None),
    )
    .unwrap_err();
    for e in [saved, upserted, updated] {
        assert_eq!(Some(e), surql::model::write_data(&rows[1]).err());
    }
}
