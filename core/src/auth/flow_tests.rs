//! Scripted runs of the auth operations: which connection each request goes to, what it
//! says, and what the operation makes of the answers (no server, no clock).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::*;
use crate::auth::jwt::base64url_encode;
use crate::auth::{AuthConfig, AuthParams, UserModel, REDACTED};
use crate::rpc::{ErrorKind, Method, ServerError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, crate::model::Model)]
#[surql(table = "user")]
struct User {
    id: Option<RecordId>,
    email: String,
    name: String,
}

impl UserModel for User {
    const AUTH: AuthConfig = AuthConfig::new().with_refresh(Duration::from_secs(86_400));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, crate::model::Model)]
#[surql(table = "user")]
struct NoRefresh {
    id: Option<RecordId>,
    email: String,
}

impl UserModel for NoRefresh {
    const AUTH: AuthConfig = AuthConfig::new().access("user_auth");
}

const NOW: i64 = 1_800_000_000;

fn jwt(claims: &str) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        base64url_encode(br#"{"alg":"HS512","typ":"JWT"}"#),
        base64url_encode(claims.as_bytes())
    )
}

/// A token of `user_auth` for `user:ada` in `app/main`, valid around `NOW`.
fn ada_token() -> String {
    jwt(&format!(
        r#"{{"iat":{NOW},"nbf":{NOW},"exp":{},"NS":"app","DB":"main","AC":"user_auth","ID":"user:ada"}}"#,
        NOW + 900
    ))
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// A `query` answer with one statement result per value.
fn rows(results: Vec<Value>) -> Result<Payload, Error> {
    Ok(Payload::from(Value::Array(
        results
            .into_iter()
            .map(|r| {
                obj(&[
                    ("status", Value::from("OK")),
                    ("time", Value::from("1ms")),
                    ("result", r),
                ])
            })
            .collect(),
    )))
}

fn ns_db(ns: &str, db: &str) -> Result<Payload, Error> {
    rows(vec![Value::Array(vec![Value::from(ns), Value::from(db)])])
}

fn ada_row() -> Value {
    Value::Array(vec![obj(&[
        ("id", Value::RecordId(RecordId::new("user", "ada"))),
        ("email", Value::from("ada@example.com")),
        ("name", Value::from("Ada")),
    ])])
}

fn token_answer(access: &str, refresh: Option<&str>) -> Result<Payload, Error> {
    Ok(Payload::from(match refresh {
        None => Value::from(access),
        Some(r) => obj(&[("access", Value::from(access)), ("refresh", Value::from(r))]),
    }))
}

fn auth_error(inner: &str) -> Error {
    let mut e = ServerError::new(
        ErrorKind::NotAllowed,
        "There was a problem with authentication",
    );
    e.code = Some(crate::rpc::codes::INVALID_AUTH);
    e.details = Some(obj(&[
        ("kind", Value::from("Auth")),
        ("details", obj(&[("kind", Value::from(inner))])),
    ]));
    Error::Server(e)
}

/// One request the operation sent: where, and what.
#[derive(Debug)]
struct Sent {
    via: Via,
    req: Request,
}

impl Sent {
    fn text(&self) -> &str {
        self.req.params[0].as_str().unwrap_or("")
    }
    fn param(&self, key: &str) -> Option<&Value> {
        match self.req.method {
            Method::Query => self.req.params.get(1)?.get(key),
            _ => self.req.params.first()?.get(key),
        }
    }
}

/// Runs `op` against scripted answers; returns what it sent, the waits and the outcome.
fn drive<T>(
    mut op: AuthOp<T>,
    answers: Vec<Result<Payload, Error>>,
) -> (Vec<Sent>, Vec<Duration>, Result<T, Error>) {
    let mut sent = Vec::new();
    let mut waits = Vec::new();
    let mut answers = answers.into_iter();
    let mut answer = None;
    loop {
        match op.step(answer.take()) {
            AuthStep::Send(via, req) => {
                sent.push(Sent { via, req });
                answer = Some(answers.next().expect("the script has an answer"));
            }
            AuthStep::Wait(d) => waits.push(d),
            AuthStep::Done(out) => {
                assert!(answers.next().is_none(), "unused answers");
                assert!(matches!(
                    op.step(None),
                    AuthStep::Done(Err(Error::Protocol(_)))
                ));
                return (sent, waits, out);
            }
        }
    }
}

fn ada() -> User {
    User {
        id: Some(RecordId::new("user", "ada")),
        email: "ada@example.com".into(),
        name: "Ada".into(),
    }
}

#[test]
fn signin_reads_ns_db_signs_in_on_its_own_connection_and_loads_the_user() {
    let token = ada_token();
    let (sent, waits, out) = drive(
        signin::<User>(&User::login("ada@example.com", "pw-123456")),
        vec![
            ns_db("app", "main"),
            token_answer(&token, Some("surreal-refresh-r1")),
            rows(vec![ada_row()]),
        ],
    );
    assert!(waits.is_empty());
    let (user, tok) = out.unwrap();
    assert_eq!(user, ada());
    assert_eq!(tok.access, token);
    assert_eq!(tok.refresh.as_deref(), Some("surreal-refresh-r1"));
    assert_eq!(sent.len(), 3);
    assert_eq!(
        (sent[0].via, sent[0].req.method),
        (Via::Model, Method::Query)
    );
    assert_eq!(sent[0].text(), "RETURN [session::ns(), session::db()];");
    assert_eq!(
        (sent[1].via, sent[1].req.method),
        (Via::Isolated, Method::Signin)
    );
    for (k, v) in [
        ("ns", "app"),
        ("db", "main"),
        ("ac", "user_auth"),
        ("email", "ada@example.com"),
        ("password", "pw-123456"),
    ] {
        assert_eq!(sent[1].param(k), Some(&Value::from(v)), "{k}");
    }
    assert_eq!(
        (sent[2].via, sent[2].req.method),
        (Via::Model, Method::Query)
    );
    assert_eq!(sent[2].text(), "SELECT * FROM $p0;");
    assert_eq!(
        sent[2].param("p0"),
        Some(&Value::RecordId(RecordId::new("user", "ada")))
    );
    // no request on the model connection ever carries a secret
    for s in sent.iter().filter(|s| s.via == Via::Model) {
        let shown = format!("{:?}", s.req.params);
        assert!(
            !shown.contains("pw-123456") && !shown.contains(&token),
            "{shown}"
        );
    }
}

#[test]
fn signup_sends_every_parameter_to_the_signup_clause() {
    let params = User::login("ada@example.com", "pw-123456").with("name", "Ada");
    let (sent, _, out) = drive(
        signup::<User>(&params),
        vec![
            ns_db("app", "main"),
            token_answer(&ada_token(), None),
            rows(vec![ada_row()]),
        ],
    );
    assert_eq!(out.unwrap().0, ada());
    assert_eq!(
        (sent[1].via, sent[1].req.method),
        (Via::Isolated, Method::Signup)
    );
    assert_eq!(sent[1].param("name"), Some(&Value::from("Ada")));
    // any serializable map works too
    let mut map = std::collections::BTreeMap::new();
    map.insert("email", "a@b.c");
    map.insert("password", "pw");
    let (sent, _, _) = drive(
        signup::<User>(&map),
        vec![ns_db("app", "main"), Err(auth_error("InvalidAuth"))],
    );
    assert_eq!(sent[1].param("email"), Some(&Value::from("a@b.c")));
}

#[test]
fn bad_parameters_are_refused_before_anything_is_sent() {
    let (sent, _, out) = drive(
        signin::<User>(&AuthParams::new().with("password", "pw")),
        vec![],
    );
    assert!(sent.is_empty());
    let e = out.unwrap_err();
    assert!(
        e.to_string().contains("missing required field `email`"),
        "{e}"
    );
    let (_, _, out) = drive(signup::<User>(&"just text"), vec![]);
    assert!(out.unwrap_err().to_string().contains("expected an object"));
    let p = User::login("a", "b").with("NS", "other");
    let (sent, _, out) = drive(signin::<User>(&p), vec![]);
    assert!(sent.is_empty());
    assert!(out
        .unwrap_err()
        .to_string()
        .contains("`NS` cannot be a parameter"));
}

#[test]
fn a_model_connection_without_a_database_is_an_error_saying_so() {
    let (sent, _, out) = drive(
        signin::<User>(&User::login("a", "b")),
        vec![rows(vec![Value::Array(vec![
            Value::from("app"),
            Value::None,
        ])])],
    );
    assert_eq!(sent.len(), 1);
    let e = out.unwrap_err();
    assert!(e.to_string().contains("use_ns_db"), "{e}");
}

#[test]
fn a_wrong_password_is_the_servers_error_with_secrets_redacted() {
    // a (hypothetical) server message that echoes the password back
    let mut s = ServerError::new(ErrorKind::NotAllowed, "no user with password pw-123456");
    s.code = Some(crate::rpc::codes::INVALID_AUTH);
    s.details = Some(Value::from("pw-123456"));
    let (sent, _, out) = drive(
        signin::<User>(&User::login("ada@example.com", "pw-123456")),
        vec![ns_db("app", "main"), Err(Error::Server(s))],
    );
    assert_eq!(sent.len(), 2);
    let e = out.unwrap_err();
    assert!(e.is_auth_rejected(), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("pw-123456"), "{shown}");
    assert!(shown.contains(REDACTED), "{shown}");
    assert!(e.as_server_error().is_some());
}

#[test]
fn no_record_from_the_signin_clause_is_a_rejection() {
    // SurrealDB 3.3.5's answer to a wrong password or an unknown user
    let mut s = ServerError::new(ErrorKind::NotFound, "No record was returned");
    s.code = Some(-32000);
    let (_, _, out) = drive(
        signin::<User>(&User::login("ada@example.com", "pw-123456")),
        vec![ns_db("app", "main"), Err(Error::Server(s))],
    );
    let e = out.unwrap_err();
    assert!(e.is_auth_rejected() && is_rejection(&e), "{e:?}");
    assert_eq!(
        e.as_server_error().map(|s| s.message.as_str()),
        Some("No record was returned")
    );
    assert!(
        e.to_string()
            .starts_with("`signin` was refused by the server"),
        "{e}"
    );
    // SurrealDB 3.0.5 says the same as `Internal`
    let mut s30 = ServerError::new(ErrorKind::Internal, "No record was returned");
    s30.code = Some(-32000);
    let (_, _, out) = drive(
        signin::<User>(&User::login("ada@example.com", "pw-123456")),
        vec![ns_db("app", "main"), Err(Error::Server(s30))],
    );
    assert!(out.unwrap_err().is_auth_rejected());
    // a failure to answer is not a rejection
    let (_, _, out) = drive(
        signin::<User>(&User::login("ada@example.com", "pw-123456")),
        vec![ns_db("app", "main"), Err(Error::Closed)],
    );
    assert!(out.unwrap_err().is_closed());
}

#[test]
fn refresh_signs_in_with_the_refresh_token_only() {
    let (sent, _, out) = drive(
        refresh::<User>("surreal-refresh-old"),
        vec![
            ns_db("app", "main"),
            token_answer(&ada_token(), Some("surreal-refresh-new")),
            rows(vec![ada_row()]),
        ],
    );
    let (_, tok) = out.unwrap();
    assert_eq!(tok.refresh.as_deref(), Some("surreal-refresh-new"));
    assert_eq!(
        (sent[1].via, sent[1].req.method),
        (Via::Isolated, Method::Signin)
    );
    assert_eq!(
        sent[1].param("refresh"),
        Some(&Value::from("surreal-refresh-old"))
    );
    assert_eq!(sent[1].param("email"), None);
    // a model without refresh tokens says so, without sending anything
    let (sent, _, out) = drive(refresh::<NoRefresh>("surreal-refresh-old"), vec![]);
    assert!(sent.is_empty());
    let e = out.unwrap_err();
    assert!(e.to_string().contains("with_refresh"), "{e}");
    assert!(!e.to_string().contains("surreal-refresh-old"));
    // the spent token is refused: the server's error, redacted
    let (_, _, out) = drive(
        refresh::<User>("surreal-refresh-old"),
        vec![ns_db("app", "main"), Err(auth_error("InvalidAuth"))],
    );
    assert!(is_rejection(&out.unwrap_err()));
}

#[test]
fn a_token_of_another_table_is_refused() {
    let other = jwt(r#"{"NS":"app","DB":"main","AC":"user_auth","ID":"admin:root"}"#);
    let (_, _, out) = drive(
        signin::<User>(&User::login("a", "b")),
        vec![ns_db("app", "main"), token_answer(&other, None)],
    );
    let e = out.unwrap_err();
    assert!(e.to_string().contains("`admin`"), "{e}");
}

#[test]
fn authenticate_token_verifies_on_its_own_connection_then_loads() {
    let token = ada_token();
    let (sent, waits, out) = drive(
        authenticate_token::<User>(&token, NOW),
        vec![
            ns_db("app", "main"),
            Ok(Payload::from(Value::None)),
            rows(vec![ada_row()]),
        ],
    );
    assert!(waits.is_empty());
    assert_eq!(out.unwrap(), Some((ada(), RecordId::new("user", "ada"))));
    assert_eq!(
        (sent[1].via, sent[1].req.method),
        (Via::Isolated, Method::Authenticate)
    );
    assert_eq!(sent[1].req.params, vec![Value::from(token.as_str())]);
    assert_eq!(sent[2].via, Via::Model);
    // the user is gone: None
    let (_, _, out) = drive(
        authenticate_token::<User>(&token, NOW),
        vec![
            ns_db("app", "main"),
            Ok(Payload::from(Value::None)),
            rows(vec![Value::Array(vec![])]),
        ],
    );
    assert_eq!(out.unwrap(), None);
}

#[test]
fn tokens_that_cannot_be_the_models_are_none_without_a_round_trip() {
    for token in [
        "garbage".to_owned(),
        "a.b.c".to_owned(),
        jwt(r#"{"NS":"app","DB":"main","AC":"other_auth","ID":"user:ada"}"#),
        jwt(r#"{"NS":"app","DB":"main","AC":"user_auth","ID":"admin:ada"}"#),
        jwt(r#"{"NS":"app","DB":"main","AC":"user_auth"}"#),
    ] {
        let (sent, _, out) = drive(authenticate_token::<User>(&token, NOW), vec![]);
        assert!(sent.is_empty(), "{token}");
        assert_eq!(out.unwrap(), None);
        let (sent, _, out) = drive(validate_token::<User>(&token, NOW), vec![]);
        assert!(sent.is_empty());
        assert_eq!(out.unwrap(), None);
    }
    // another database: asked the model connection, never the server's authenticate
    let (sent, _, out) = drive(
        validate_token::<User>(&ada_token(), NOW),
        vec![ns_db("app", "other")],
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(out.unwrap(), None);
}

#[test]
fn a_refused_fresh_token_is_retried_with_bounded_backoff() {
    let token = ada_token();
    // refused twice (clock skew), then accepted
    let (sent, waits, out) = drive(
        validate_token::<User>(&token, NOW),
        vec![
            ns_db("app", "main"),
            Err(auth_error("InvalidAuth")),
            Err(auth_error("InvalidAuth")),
            Ok(Payload::from(Value::None)),
        ],
    );
    assert_eq!(out.unwrap(), Some(RecordId::new("user", "ada")));
    assert_eq!(waits, AUTH_RETRY_DELAYS[..2]);
    assert_eq!(
        sent.iter()
            .filter(|s| s.req.method == Method::Authenticate)
            .count(),
        3
    );
    // refused every time: None after the last retry, every wait bounded
    let mut script = vec![ns_db("app", "main")];
    script.extend((0..=AUTH_RETRY_DELAYS.len()).map(|_| Err(auth_error("InvalidAuth"))));
    let (_, waits, out) = drive(validate_token::<User>(&token, NOW), script);
    assert_eq!(out.unwrap(), None);
    assert_eq!(waits, AUTH_RETRY_DELAYS);
    assert!(waits.iter().sum::<Duration>() < Duration::from_secs(2));
    // an HTTP 401 counts as a refusal too
    let (_, waits, out) = drive(
        validate_token::<User>(&token, NOW),
        vec![
            ns_db("app", "main"),
            Err(Error::Http {
                status: 401,
                message: "unauthorized".into(),
            }),
            Ok(Payload::from(Value::None)),
        ],
    );
    assert_eq!(out.unwrap(), Some(RecordId::new("user", "ada")));
    assert_eq!(waits.len(), 1);
}

#[test]
fn an_old_or_expired_token_is_not_retried_and_failures_are_errors() {
    let token = ada_token();
    // an hour later the token is not fresh: one refusal is final
    let (_, waits, out) = drive(
        validate_token::<User>(&token, NOW + 3600),
        vec![ns_db("app", "main"), Err(auth_error("InvalidAuth"))],
    );
    assert_eq!(out.unwrap(), None);
    assert!(waits.is_empty());
    // expired: final at once
    let (_, waits, out) = drive(
        authenticate_token::<User>(&token, NOW),
        vec![ns_db("app", "main"), Err(auth_error("TokenExpired"))],
    );
    assert_eq!(out.unwrap(), None);
    assert!(waits.is_empty());
    // not an answer: an error, with the token redacted
    let lost = Error::Disconnected {
        method: "authenticate".into(),
        reason: format!("reset while sending {token}"),
    };
    let (_, _, out) = drive(
        authenticate_token::<User>(&token, NOW),
        vec![ns_db("app", "main"), Err(lost)],
    );
    let e = out.unwrap_err();
    assert!(e.is_disconnected());
    assert!(!e.to_string().contains(&token), "{e}");
}

#[test]
fn local_validation_reads_claims_and_times_only() {
    let token = ada_token();
    assert_eq!(
        validate_token_local::<User>(&token, NOW, 5),
        Some(RecordId::new("user", "ada"))
    );
    assert_eq!(
        validate_token_local::<User>(&token, NOW + 900 + 5, 5),
        Some(RecordId::new("user", "ada"))
    );
    assert_eq!(validate_token_local::<User>(&token, NOW + 900 + 6, 5), None);
    assert_eq!(validate_token_local::<User>(&token, NOW - 6, 5), None);
    assert_eq!(
        validate_token_local::<User>(&token, NOW - 5, 5),
        Some(RecordId::new("user", "ada"))
    );
    assert_eq!(validate_token_local::<User>("garbage", NOW, 5), None);
    let other = jwt(r#"{"AC":"other","ID":"user:ada"}"#);
    assert_eq!(validate_token_local::<User>(&other, NOW, 5), None);
    // a forged token passes: this is exactly why it is only a pre-filter
    let forged = jwt(r#"{"AC":"user_auth","ID":"user:admin"}"#);
    assert_eq!(
        validate_token_local::<User>(&forged, NOW, 5),
        Some(RecordId::new("user", "admin"))
    );
}

#[test]
fn change_password_checks_the_old_one_then_updates_that_record_as_the_model_connection() {
    let (sent, _, out) = drive(
        change_password::<User>("ada@example.com", "old-pass", "new-pass"),
        vec![
            ns_db("app", "main"),
            token_answer(&ada_token(), None),
            rows(vec![Value::Array(vec![Value::RecordId(RecordId::new(
                "user", "ada",
            ))])]),
        ],
    );
    out.unwrap();
    assert_eq!(
        (sent[1].via, sent[1].req.method),
        (Via::Isolated, Method::Signin)
    );
    assert_eq!(sent[1].param("password"), Some(&Value::from("old-pass")));
    assert_eq!(sent[2].via, Via::Model);
    assert_eq!(
        sent[2].text(),
        "UPDATE $user SET password = crypto::argon2::generate($new_password) WHERE email = $identifier RETURN VALUE id;"
    );
    assert_eq!(
        sent[2].param("user"),
        Some(&Value::RecordId(RecordId::new("user", "ada")))
    );
    assert_eq!(
        sent[2].param("new_password"),
        Some(&Value::from("new-pass"))
    );
    assert_eq!(
        sent[2].param("identifier"),
        Some(&Value::from("ada@example.com"))
    );
    // the old password is wrong: stops after the check
    let (sent, _, out) = drive(
        change_password::<User>("ada@example.com", "bad-pass", "new-pass"),
        vec![ns_db("app", "main"), Err(auth_error("InvalidAuth"))],
    );
    assert_eq!(sent.len(), 2);
    assert!(is_rejection(&out.unwrap_err()));
    // nothing updated
    let (_, _, out) = drive(
        change_password::<User>("ada@example.com", "old-pass", "new-pass"),
        vec![
            ns_db("app", "main"),
            token_answer(&ada_token(), None),
            rows(vec![Value::Array(vec![])]),
        ],
    );
    assert!(out.unwrap_err().is_does_not_exist());
    let (sent, _, out) = drive(change_password::<User>("a", "old-pass", ""), vec![]);
    assert!(sent.is_empty() && out.is_err());
}

#[test]
fn invalidate_revokes_the_refresh_grant_idempotently() {
    let tok = Token {
        access: ada_token(),
        refresh: Some("surreal-refresh-r1".into()),
    };
    let (sent, _, out) = drive(invalidate(&tok), vec![Ok(Payload::from(Value::None))]);
    out.unwrap();
    assert_eq!(
        (sent[0].via, sent[0].req.method),
        (Via::Isolated, Method::Revoke)
    );
    let (_, _, out) = drive(invalidate(&tok), vec![Err(auth_error("InvalidAuth"))]);
    out.unwrap();
    let (_, _, out) = drive(invalidate(&tok), vec![Err(Error::Closed)]);
    assert!(out.unwrap_err().is_closed());
    // nothing to revoke without a refresh part
    let bare = Token {
        access: ada_token(),
        refresh: None,
    };
    let (sent, _, out) = drive(invalidate(&bare), vec![]);
    assert!(sent.is_empty());
    out.unwrap();
}

#[test]
fn bearer_keys_are_granted_and_revoked_on_the_model_connection() {
    let grant = obj(&[
        ("id", Value::from("G1")),
        ("ac", Value::from("user_bearer")),
        (
            "grant",
            obj(&[
                ("id", Value::from("G1")),
                ("key", Value::from("surreal-bearer-G1-SECRET")),
            ]),
        ),
        ("expiration", Value::from("2030-01-01T00:00:00Z")),
    ]);
    let (sent, _, out) = drive(grant_bearer_key::<User>("ada"), vec![rows(vec![grant])]);
    let key = out.unwrap();
    assert_eq!(key.id, "G1");
    assert_eq!(key.key, "surreal-bearer-G1-SECRET");
    assert_eq!(key.subject, RecordId::new("user", "ada"));
    assert!(key.expiration.is_some());
    assert!(!format!("{key:?}").contains("SECRET"));
    assert_eq!(sent[0].via, Via::Model);
    assert_eq!(
        sent[0].text(),
        "ACCESS user_bearer ON DATABASE GRANT FOR RECORD user:ada;"
    );
    // a record of another table is refused before sending
    let (sent, _, out) = drive(
        grant_bearer_key::<User>(RecordId::new("admin", "x")),
        vec![],
    );
    assert!(sent.is_empty() && out.is_err());
    // an answer of the wrong shape never shows the key
    let bad = obj(&[(
        "grant",
        obj(&[("key", Value::from("surreal-bearer-G1-SECRET"))]),
    )]);
    let (_, _, out) = drive(grant_bearer_key::<User>("ada"), vec![rows(vec![bad])]);
    assert!(!format!("{:?}", out.unwrap_err()).contains("SECRET"));
    // revoke by whole key: only the id is sent
    let (sent, _, out) = drive(
        revoke_bearer_key::<User>("surreal-bearer-G1-SECRET"),
        vec![rows(vec![Value::Array(vec![])])],
    );
    out.unwrap();
    assert_eq!(
        sent[0].text(),
        "ACCESS user_bearer ON DATABASE REVOKE GRANT G1;"
    );
    assert!(!format!("{:?}", sent[0].req).contains("SECRET"));
}

#[test]
fn signin_with_key_uses_the_bearer_access() {
    let (sent, _, out) = drive(
        signin_with_key::<User>("surreal-bearer-G1-SECRET"),
        vec![
            ns_db("app", "main"),
            token_answer(&ada_token(), None),
            rows(vec![ada_row()]),
        ],
    );
    assert_eq!(out.unwrap().0, ada());
    assert_eq!(sent[1].param("ac"), Some(&Value::from("user_bearer")));
    assert_eq!(
        sent[1].param("key"),
        Some(&Value::from("surreal-bearer-G1-SECRET"))
    );
}

#[test]
fn debug_of_an_operation_shows_no_secret() {
    let op = signin::<User>(&User::login("ada@example.com", "pw-123456"));
    let shown = format!("{op:?}");
    assert!(!shown.contains("pw-123456"), "{shown}");
    let mut op = authenticate_token::<User>(&ada_token(), NOW);
    let _ = op.step(None);
    let step = op.step(Some(ns_db("app", "main")));
    let shown = format!("{step:?} {op:?}");
    assert!(!shown.contains(&ada_token()), "{shown}");
}

#[test]
fn freshness_is_judged_either_way_within_the_window() {
    let token = ada_token();
    let refused_once = |now: i64| {
        let mut script = vec![ns_db("app", "main"), Err(auth_error("InvalidAuth"))];
        let mut op = validate_token::<User>(&token, now);
        let mut waits = 0;
        let mut answer = None;
        loop {
            match op.step(answer.take()) {
                AuthStep::Send(..) => {
                    answer = Some(if script.is_empty() {
                        Ok(Payload::from(Value::None))
                    } else {
                        script.remove(0)
                    })
                }
                AuthStep::Wait(_) => waits += 1,
                AuthStep::Done(out) => return (waits, out.unwrap()),
            }
        }
    };
    // our clock ahead of, or behind, the token's nbf by up to the window: retried
    for now in [NOW + FRESH_WINDOW_SECS, NOW - FRESH_WINDOW_SECS, NOW] {
        assert_eq!(
            refused_once(now),
            (1, Some(RecordId::new("user", "ada"))),
            "{now}"
        );
    }
    // beyond it: final
    for now in [NOW + FRESH_WINDOW_SECS + 1, NOW - FRESH_WINDOW_SECS - 1] {
        assert_eq!(refused_once(now), (0, None), "{now}");
    }
}
