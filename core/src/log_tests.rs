//! Table tests of what a request may show in a log line.

use std::sync::Arc;
use std::time::Duration;

use pretty_assertions::assert_eq;

use super::*;
use crate::client::{self, Credentials, Token};
use crate::rpc::{ErrorKind, ServerError};
use crate::value::{RecordId, Table};

fn obj(pairs: &[(&str, Value)]) -> Object {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn params(req: &Request, values: bool) -> String {
    RequestLog::new(req, values).params
}

const SECRET: &str = "pw-4f8e1d-secret";

#[test]
fn secret_names() {
    for name in [
        "pass",
        "password",
        "PassWord",
        "user_pwd",
        "client_secret",
        "token",
        "access_token",
        "refresh",
        "api_key",
        "KEY",
        "auth",
        "jwt",
        "credentials",
        "private_key",
        "signature",
        "salt",
        "pass_hash",
        "encrypted",
        "cookie",
        "bearer",
        "session_id",
    ] {
        assert!(is_secret_name(name), "{name}");
    }
    for name in ["name", "email", "age", "id", "tags", "p0", "t0", ""] {
        assert!(!is_secret_name(name), "{name}");
    }
}

#[test]
fn query_vars_are_named_and_redacted_by_default() {
    let req = Request::query(
        "CREATE $t0 CONTENT $p0 RETURN AFTER;",
        obj(&[
            ("t0", Value::Table(Table::new("person"))),
            ("p0", Value::Object(obj(&[("name", "ada".into())]))),
        ]),
    );
    let log = RequestLog::new(&req, false);
    assert_eq!(log.method, Method::Query);
    assert_eq!(
        log.text.as_deref(),
        Some("CREATE $t0 CONTENT $p0 RETURN AFTER;")
    );
    assert_eq!(log.vars, ["p0", "t0"]);
    // A table name is schema, like the text; everything else is data.
    assert_eq!(log.params, "{ p0: <redacted>, t0: person }");
    assert_eq!(
        params(&req, true),
        "{ p0: { name: 'ada' }, t0: person }",
        "opted in"
    );
    assert_eq!(
        params(&Request::query("RETURN 1", Object::new()), true),
        "{}"
    );
}

#[test]
fn opted_in_values_hide_secret_keys_at_any_depth() {
    let user = Value::Object(obj(&[
        ("name", "ada".into()),
        ("password", SECRET.into()),
        (
            "profile",
            Value::Object(obj(&[
                ("apiKey", SECRET.into()),
                ("bio", "hi".into()),
                (
                    "logins",
                    Value::Array(vec![Value::Object(obj(&[("token", SECRET.into())]))]),
                ),
            ])),
        ),
    ]));
    let req = Request::query(
        "CREATE person CONTENT $p0",
        obj(&[("p0", user), ("token", SECRET.into())]),
    );
    let shown = params(&req, true);
    assert!(!shown.contains(SECRET), "{shown}");
    assert_eq!(
        shown,
        "{ p0: { name: 'ada', password: <redacted>, profile: { apiKey: <redacted>, bio: 'hi', logins: [{ token: <redacted> }] } }, token: <redacted> }"
    );
}

#[test]
fn a_statement_about_secrets_shows_no_values() {
    // `SET password = $p0` binds the secret under an innocent name.
    let req = Request::query(
        "UPDATE user SET password = crypto::argon2::generate($p0) WHERE name = $p1",
        obj(&[("p0", SECRET.into()), ("p1", "ada".into())]),
    );
    assert_eq!(params(&req, true), "{ p0: <redacted>, p1: <redacted> }");
}

#[test]
fn auth_methods_never_show_params() {
    let creds = Credentials::root("root", SECRET);
    let token = Token {
        access: "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl".into(),
        refresh: Some("refresh-secret".into()),
    };
    let record =
        Credentials::record("ns", "db", "account", &obj(&[("email", "a@b".into())])).unwrap();
    let requests = [
        client::signin(&creds).into_parts().0,
        client::signup(&record).unwrap().into_parts().0,
        client::authenticate(&token.access).into_parts().0,
        client::refresh(&token).unwrap().into_parts().0,
        client::revoke(&token).into_parts().0,
    ];
    for req in &requests {
        for values in [false, true] {
            let log = RequestLog::new(req, values);
            assert_eq!(log.params, "[<redacted>]", "{:?}", req.method);
            assert_eq!(log.text, None);
            let all = format!("{log:?}");
            for secret in [
                SECRET,
                "eyJzdWIiOi",
                "c2lnbmF0dXJl",
                "refresh-secret",
                "a@b",
            ] {
                assert!(!all.contains(secret), "{all}");
            }
        }
    }
}

#[test]
fn let_shows_the_name_never_the_value() {
    let req = client::set("greeting", &"hello").unwrap().into_parts().0;
    assert_eq!(params(&req, false), "['greeting', <redacted>]");
    assert_eq!(params(&req, true), "['greeting', <redacted>]");
    let req = client::unset("greeting").unwrap().into_parts().0;
    assert_eq!(params(&req, false), "['greeting']");
}

#[test]
fn crud_shows_the_target_and_hides_the_data() {
    let data = Value::Object(obj(&[("name", "ada".into()), ("pass", SECRET.into())]));
    let rid = RecordId::new("person", "ada");
    let cases: Vec<(Request, &str, &str)> = vec![
        (
            client::select::<Value>(rid.clone()).into_parts().0,
            "[person:ada]",
            "[person:ada]",
        ),
        (
            client::select::<Value>("person").into_parts().0,
            "[person]",
            "[person]",
        ),
        (
            client::create::<Value>(rid.clone(), &data)
                .unwrap()
                .into_parts()
                .0,
            "[person:ada, <redacted>]",
            "[person:ada, { name: 'ada', pass: <redacted> }]",
        ),
        (
            client::insert::<Value>("person", &vec![data.clone()])
                .unwrap()
                .into_parts()
                .0,
            "[person, <redacted>]",
            "[person, [{ name: 'ada', pass: <redacted> }]]",
        ),
        (
            client::delete::<Value>(rid.clone()).into_parts().0,
            "[person:ada]",
            "[person:ada]",
        ),
        (
            client::run::<Value>("fn::greet", &("ada",))
                .unwrap()
                .into_parts()
                .0,
            "['fn::greet', NONE, <redacted>]",
            "['fn::greet', NONE, ['ada']]",
        ),
        (
            client::use_ns_db(Some("app"), Some("main")).into_parts().0,
            "['app', 'main']",
            "['app', 'main']",
        ),
        (client::ping().into_parts().0, "[]", "[]"),
    ];
    for (req, off, on) in cases {
        assert_eq!(params(&req, false), off, "{:?}", req.method);
        assert_eq!(params(&req, true), on, "{:?} opted in", req.method);
    }
}

#[test]
fn data_for_a_secret_table_or_function_stays_hidden() {
    let data = Value::Object(obj(&[("value", SECRET.into())]));
    let req = client::create::<Value>("api_keys", &data)
        .unwrap()
        .into_parts()
        .0;
    // A text table name (how `create` sends one) counts too.
    assert_eq!(params(&req, true), "['api_keys', <redacted>]");
    let req = client::run::<Value>("fn::hash_password", &(SECRET,))
        .unwrap()
        .into_parts()
        .0;
    assert_eq!(
        params(&req, true),
        "['fn::hash_password', NONE, <redacted>]"
    );
}

#[test]
fn complex_record_keys_are_data() {
    let rid = RecordId::new(
        "login",
        RecordIdKey::Object(obj(&[("email", "a@b".into()), ("pass", SECRET.into())])),
    );
    let req = client::select::<Value>(rid).into_parts().0;
    assert_eq!(params(&req, false), "[login:<redacted>]");
    assert_eq!(params(&req, true), "[login:<redacted>]");
    let rid = RecordId::new("visit", RecordIdKey::Array(vec!["ada".into(), 3.into()]));
    let req = client::select::<Value>(rid).into_parts().0;
    assert_eq!(params(&req, false), "[visit:<redacted>]");
    assert_eq!(params(&req, true), "[visit:['ada', 3]]");
}

#[test]
fn long_params_are_cut() {
    let rows: Vec<Value> = (0..2000)
        .map(|i| Value::Object(obj(&[("n", i.into())])))
        .collect();
    let req = client::insert::<Value>("t", &rows).unwrap().into_parts().0;
    let shown = params(&req, true);
    assert!(
        shown.len() <= MAX_PARAMS_LEN + '…'.len_utf8(),
        "{}",
        shown.len()
    );
    assert!(shown.ends_with('…'), "{shown}");
    assert_eq!(params(&req, false), "[t, <redacted>]");
}

#[test]
fn statement_literals_after_secret_names_are_redacted() {
    let cases = [
        // (text, logged)
        ("RETURN 1", "RETURN 1"),
        (
            "SELECT * FROM person WHERE name = 'ada'",
            "SELECT * FROM person WHERE name = 'ada'",
        ),
        (
            "DEFINE USER bob ON ROOT PASSWORD 'hunter2' ROLES OWNER",
            "DEFINE USER bob ON ROOT PASSWORD '<redacted>' ROLES OWNER",
        ),
        (
            "DEFINE USER bob ON ROOT PASSHASH \"$argon2id$v=19$x\" ROLES VIEWER",
            "DEFINE USER bob ON ROOT PASSHASH \"<redacted>\" ROLES VIEWER",
        ),
        (
            "DEFINE ACCESS api ON DATABASE TYPE JWT ALGORITHM HS512 KEY 'k3y' DURATION FOR SESSION 1h",
            "DEFINE ACCESS api ON DATABASE TYPE JWT ALGORITHM HS512 KEY '<redacted>' DURATION FOR SESSION 1h",
        ),
        (
            "UPDATE user SET password = crypto::argon2::generate('hunter2'), name = 'ada'",
            "UPDATE user SET password = crypto::argon2::generate('<redacted>'), name = 'ada'",
        ),
        (
            "CREATE app CONTENT { api_key: 'abc\\'def', label: 'x' }",
            "CREATE app CONTENT { api_key: '<redacted>', label: 'x' }",
        ),
        (
            "UPDATE t SET `my password` = 'x'",
            "UPDATE t SET `my password` = '<redacted>'",
        ),
        // Only whitespace, `=`, `:`, `(` and names may stand between the name and the literal.
        (
            "SELECT * FROM t WHERE token_count > 5 AND name = 'ada'",
            "SELECT * FROM t WHERE token_count > 5 AND name = 'ada'",
        ),
        // Text inside a literal is not a name.
        (
            "RETURN 'password' + 'x'",
            "RETURN 'password' + 'x'",
        ),
        // An unterminated literal is redacted to the end.
        ("DEFINE USER x ON ROOT PASSWORD 'abc", "DEFINE USER x ON ROOT PASSWORD '<redacted>"),
        ("UPDATE t SET `pass", "UPDATE t SET `pass"),
        ("RETURN 'é' + `ü", "RETURN 'é' + `ü"),
    ];
    for (text, logged) in cases {
        assert_eq!(redact_statement(text), logged, "{text}");
    }
    assert!(matches!(redact_statement("RETURN 1"), Cow::Borrowed(_)));
}

#[test]
fn quoted_text_in_errors_is_redacted() {
    let cases = [
        ("the connection is closed", "the connection is closed"),
        (
            "Couldn't coerce value for field `age` of `person:1`: Expected `int` but found `'hunter2'`",
            "Couldn't coerce value for field `age` of `person:1`: Expected `int` but found `'<redacted>'`",
        ),
        (
            "Found { pass: \"x'y\" } for field",
            "Found { pass: \"<redacted>\" } for field",
        ),
        ("value s'abc' is bad", "value s'<redacted>' is bad"),
        ("the server's 'x'", "the server's '<redacted>'"),
        ("'abc", "'<redacted>"),
        ("'", "'<redacted>"),
    ];
    for (text, logged) in cases {
        assert_eq!(redact_quoted(text), logged, "{text}");
    }
}

fn query_answer(statements: Vec<Result<Value, &str>>) -> Payload {
    let rows = statements
        .into_iter()
        .map(|s| {
            let mut row = obj(&[("time", "1ms".into())]);
            match s {
                Ok(v) => {
                    row.insert("status".into(), "OK".into());
                    row.insert("result".into(), v);
                }
                Err(m) => {
                    row.insert("status".into(), "ERR".into());
                    row.insert("result".into(), m.into());
                }
            }
            Value::Object(row)
        })
        .collect();
    Payload::from_cbor(cbor::encode(&Value::Array(rows)))
}

fn finish(method: Method, answer: Result<Option<&Payload>, &Error>) -> Recorded {
    RequestLog {
        method,
        text: None,
        vars: Vec::new(),
        params: String::new(),
        secret_text: false,
    }
    .finish(Duration::from_millis(3), answer)
}

#[test]
fn rows_of_a_query_answer() {
    let answer = query_answer(vec![
        Ok(Value::None),
        Ok(Value::Array(vec![1.into(), 2.into(), 3.into()])),
        Ok(Value::from(7)),
        Ok(Value::Array(vec![])),
    ]);
    let r = finish(Method::Query, Ok(Some(&answer)));
    assert_eq!((r.rows, r.error), (Some(3), None));
    assert_eq!(r.duration, Duration::from_millis(3));
    // The same answer decoded.
    let decoded = Payload::from(answer.to_value().unwrap());
    assert_eq!(finish(Method::Query, Ok(Some(&decoded))).rows, Some(3));
    // No array at all: no rows to count.
    let answer = query_answer(vec![Ok(Value::from(1))]);
    assert_eq!(finish(Method::Query, Ok(Some(&answer))).rows, None);
}

#[test]
fn indefinite_arrays_are_counted() {
    // [_ 1, 2 ] as one statement's result
    let mut bytes = vec![0x81, 0xa3];
    for (k, v) in [("status", &b"\x62OK"[..]), ("time", b"\x60")] {
        bytes.push(0x60 + k.len() as u8);
        bytes.extend_from_slice(k.as_bytes());
        bytes.extend_from_slice(v);
    }
    bytes.extend_from_slice(b"\x66result\x9f\x01\x02\xff");
    let answer = Payload::from_cbor(bytes);
    assert_eq!(finish(Method::Query, Ok(Some(&answer))).rows, Some(2));
}

#[test]
fn a_failed_statement_is_the_error_with_its_quotes_redacted() {
    let answer = query_answer(vec![
        Ok(Value::Array(vec![1.into()])),
        Err("Found 'hunter2' for field `pass`"),
        Err("second"),
    ]);
    let r = finish(Method::Query, Ok(Some(&answer)));
    assert_eq!(r.rows, Some(1));
    assert_eq!(
        r.error.as_deref(),
        Some("statement 1: Found '<redacted>' for field `pass` (Internal)")
    );
}

#[test]
fn request_errors_are_shown_redacted() {
    let e = Error::Server(ServerError::new(
        ErrorKind::NotAllowed,
        "There was a problem with authentication for 'root'",
    ));
    let r = finish(Method::Signin, Err(&e));
    assert_eq!(r.rows, None);
    assert_eq!(
        r.error.as_deref(),
        Some("There was a problem with authentication for '<redacted>' (NotAllowed)")
    );
    assert_eq!(finish(Method::Live, Ok(None)).error, None);
}

#[test]
fn errors_of_a_statement_holding_a_secret_are_not_shown() {
    // The server quotes the text back in a parse error, cut anywhere: `...cret' ROLES`.
    let req = Request::query(
        "DEFINE USER u ON DATABASE PASSWORD 'pw-secret' ROLES",
        Object::new(),
    );
    let e = Error::Server(ServerError::new(
        ErrorKind::Validation,
        "Parse error: Unexpected end of file\n1 | ...cret' ROLES",
    ));
    let r = RequestLog::new(&req, false).finish(Duration::ZERO, Err(&e));
    assert_eq!(
        r.error.as_deref(),
        Some("<redacted> (Validation): not shown, the statement text holds a secret")
    );
    let answer = query_answer(vec![Err("...cret' is bad")]);
    let r = RequestLog::new(&req, false).finish(Duration::ZERO, Ok(Some(&answer)));
    assert_eq!(
        r.error.as_deref(),
        Some("<redacted>: not shown, the statement text holds a secret")
    );
    // Without a secret in the text, the error shows (quotes redacted).
    let req = Request::query("DEFINE USER u ON DATABASE ROLES", Object::new());
    let r = RequestLog::new(&req, false).finish(Duration::ZERO, Err(&e));
    assert_eq!(
        r.error.as_deref(),
        Some("Parse error: Unexpected end of file\n1 | ...cret' ROLES (Validation)")
    );
}

#[test]
fn rows_of_crud_answers() {
    let enc = |v: Value| Payload::from_cbor(cbor::encode(&v));
    let record = Value::Object(obj(&[("id", 1.into())]));
    assert_eq!(
        answer_rows(Method::Select, &enc(Value::Array(vec![record.clone(); 4]))),
        Some(4)
    );
    assert_eq!(answer_rows(Method::Create, &enc(record.clone())), Some(1));
    assert_eq!(answer_rows(Method::Delete, &enc(Value::None)), Some(0));
    assert_eq!(answer_rows(Method::Update, &enc(Value::Null)), Some(0));
    assert_eq!(answer_rows(Method::Select, &Payload::from(record)), Some(1));
    assert_eq!(answer_rows(Method::Run, &enc(Value::Array(vec![]))), None);
    assert_eq!(answer_rows(Method::Select, &enc(Value::from(1))), None);
    assert_eq!(
        answer_rows(Method::Select, &Payload::from_cbor(vec![])),
        None
    );
}

fn recorded(text: &str) -> Recorded {
    RequestLog::new(&Request::query(text, Object::new()), false).finish(Duration::ZERO, Ok(None))
}

#[test]
fn recorders_see_what_is_pushed_while_they_live() {
    let set = Arc::new(Recorders::new());
    assert!(!set.is_active());
    set.push(recorded("before"));
    let a = set.start();
    let b = set.start();
    set.push(recorded("one"));
    assert_eq!(a.texts(), ["one"]);
    drop(b);
    assert!(set.is_active());
    set.push(recorded("two"));
    assert_eq!(a.texts(), ["one", "two"]);
    assert_eq!(a.count(), 2);
    a.clear();
    assert_eq!(a.count(), 0);
    let c = set.start();
    set.push(recorded("three"));
    assert_eq!(
        (a.texts(), c.texts()),
        (vec!["three".into()], vec!["three".into()])
    );
    drop((a, c));
    assert!(!set.is_active());
    assert_eq!(lock(&set.lists).len(), 0);
}

#[test]
fn separate_sets_stay_apart() {
    let (x, y) = (Arc::new(Recorders::new()), Arc::new(Recorders::new()));
    let (rx, ry) = (x.start(), y.start());
    x.push(recorded("x"));
    y.push(recorded("y"));
    assert_eq!(
        (rx.texts(), ry.texts()),
        (vec!["x".into()], vec!["y".into()])
    );
}

#[test]
fn raw_vars_show_like_the_values_they_encode() {
    let rows = Value::Array(vec![Value::Object(obj(&[
        ("name", "ada".into()),
        ("password", SECRET.into()),
    ]))]);
    let mut raws = BTreeMap::new();
    raws.insert(
        "p0".to_owned(),
        crate::cbor::RawValue::from_serde(&rows).unwrap(),
    );
    let tables = obj(&[("t0", Value::Table(Table::new("person")))]);
    let req = Request::query_with_raw("INSERT INTO $t0 $p0;", tables.clone(), raws.clone());
    let log = RequestLog::new(&req, false);
    assert_eq!(log.vars, ["p0", "t0"]);
    assert_eq!(log.params, "{ p0: <redacted>, t0: person }");
    assert_eq!(
        params(&req, true),
        "{ p0: [{ name: 'ada', password: <redacted> }], t0: person }"
    );
    // Exactly what the same request with the decoded value shows.
    let mut plain = tables.clone();
    plain.insert("p0".into(), rows.clone());
    let plain = Request::query("INSERT INTO $t0 $p0;", plain);
    for values in [false, true] {
        assert_eq!(params(&req, values), params(&plain, values));
        assert_eq!(
            RequestLog::new(&req, values).vars,
            RequestLog::new(&plain, values).vars
        );
    }

    // A secret name, or a statement about secrets: never shown.
    let mut secret = BTreeMap::new();
    secret.insert(
        "api_key".to_owned(),
        crate::cbor::RawValue::from_serde(SECRET).unwrap(),
    );
    let req = Request::query_with_raw("RETURN $api_key;", Object::new(), secret);
    assert_eq!(params(&req, true), "{ api_key: <redacted> }");
    let req = Request::query_with_raw("UPDATE user SET password = $p0;", Object::new(), raws);
    assert_eq!(params(&req, true), "{ p0: <redacted> }");
}
