// Auth scenarios, written once. Included by `auth.rs` into one module per driver ×
// transport; `super::drv` is the driver crate, `super::WS` the transport, `w!` resolves a
// call (`.await` for smol, a plain call for blocking) and `concurrently!(n, |i| { … })`
// runs bodies at once (futures or threads). Each scenario runs on a root client of its own
// namespace/database; users sign up and in through the models' record access.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use surql::auth::{jwt, AuthConfig, UserModel};
use surql::model::{Changes, Model};
use surql::{RecordId, Value};
use surql_conformance::server::{Server, ROOT_PASS, ROOT_USER};

use surql::rpc::Method;

use super::drv::{
    self, Credentials, Error, ModelExt, ModelQuerySetExt, Surreal, Token, TokenCache,
    UserModelExt,
};
use super::WS;

/// Users may read and change their own record only; nobody but root creates or deletes
/// one (SIGNUP runs with the access method's rights, so signing up still works). The hash
/// is never readable by a user. Notes are readable by all and writable by root only.
const SCHEMA: &str = "
    DEFINE TABLE user SCHEMALESS
        PERMISSIONS FOR select, update WHERE id = $auth FOR create, delete NONE;
    DEFINE FIELD password ON user PERMISSIONS FOR select NONE;
    DEFINE INDEX user_email ON user FIELDS email UNIQUE;
    DEFINE TABLE note SCHEMALESS PERMISSIONS FOR select FULL FOR create, update, delete NONE;
";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "user")]
struct User {
    id: Option<RecordId>,
    email: String,
    name: String,
}

impl UserModel for User {
    const AUTH: AuthConfig = AuthConfig::new()
        .with_refresh(Duration::from_secs(30 * 86_400))
        .bearer_durations(Duration::from_secs(86_400), Some(Duration::from_secs(3600)));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "note")]
struct Note {
    id: Option<RecordId>,
    text: String,
}

const ADA_PW: &str = "Ada-pw-9f3c1e";
const BOB_PW: &str = "Bob-pw-77a0d2";

/// The schema, the record access and the bearer access, run as root.
async fn install(db: &Surreal) -> Result<(), Error> {
    let text = format!(
        "{SCHEMA}\n{}\n{}",
        User::define_access()?,
        User::define_bearer_access()?
    );
    w!(db.query(text))?.check()?;
    Ok(())
}

fn ada_params() -> surql::auth::AuthParams {
    User::login("ada@example.com", ADA_PW).with("name", "Ada")
}

/// Asserts that no `Debug` output or message in `shown` holds any of `secrets`.
fn assert_no_secret(shown: &[String], secrets: &[&str]) {
    for s in shown {
        for secret in secrets {
            assert!(!s.contains(secret), "a secret leaked into: {s}");
        }
    }
}

/// Fails if any of `secrets` is in a log line captured so far (every request of every
/// client, the auth actions' own connections included, is logged; see `auth.rs`).
fn assert_not_logged(secrets: &[&str]) {
    let log = crate::captured();
    assert!(log.contains("surql.request"), "requests are logged");
    for secret in secrets {
        assert!(secret.len() >= 8, "a needle too short to mean anything: {secret:?}");
        let leaks: Vec<&str> = log.lines().filter(|l| l.contains(secret)).collect();
        assert!(leaks.is_empty(), "{secret:?} is in the log: {leaks:#?}");
    }
}

/// A token pair as log needles: each whole token, the JWT's payload and signature.
fn token_needles(t: &Token) -> Vec<String> {
    let mut out = vec![t.access.clone()];
    out.extend(t.access.split('.').skip(1).map(str::to_owned));
    out.extend(t.refresh.clone());
    out
}

/// Asserts that `rec` (a recorder of the shared root client) saw no request that signs in,
/// signs up or authenticates: user credentials went to the auth actions' own connections.
fn assert_root_untouched(rec: &drv::Recorder) {
    let sent = rec.statements();
    assert!(!sent.is_empty(), "the recorder saw the root client's requests");
    for r in sent {
        assert!(
            !matches!(
                r.method,
                Method::Signin | Method::Signup | Method::Authenticate | Method::Refresh | Method::Revoke | Method::Invalidate
            ),
            "the root client sent {:?}",
            r.method
        );
    }
}

fn is_auth_refusal(e: &Error) -> bool {
    e.is_auth_rejected() && surql::auth::is_rejection(e)
}

scenario!(signup_signin_authenticate_refresh_invalidate, |db| {
    crate::captured();
    install(&db).await?;
    let rec = db.record();
    let (ada, t0) = w!(User::signup(&db, &ada_params()))?;
    let ada_id = ada.id.clone().expect("the stored user has an id");
    assert_eq!((ada.email.as_str(), ada.name.as_str()), ("ada@example.com", "Ada"));
    let r0 = t0.refresh.clone().expect("WITH REFRESH gives a refresh token");
    assert!(r0.starts_with("surreal-refresh-"), "a refresh token");
    let claims = jwt::decode_claims(&t0.access).expect("a JWT");
    assert_eq!(claims.record_id(), Some(ada_id.clone()));
    assert_eq!(claims.access.as_deref(), Some("user_auth"));
    // the password was hashed once, by SIGNUP: the stored hash verifies the password
    let ok: bool = w!(db
        .query("RETURN crypto::argon2::compare((SELECT VALUE password FROM ONLY $u), $p)")
        .bind(("u", ada_id.clone()))
        .bind(("p", ADA_PW)))?
    .take(0)?;
    assert!(ok, "the stored hash is argon2 of the password itself");

    let (again, t1) = w!(User::signin(&db, &User::login("ada@example.com", ADA_PW)))?;
    assert_eq!(again, ada);
    assert_ne!(t1.access, t0.access);

    // authenticate: the user and its id; garbage and foreign tokens: None
    let who = w!(User::authenticate_token(&db, &t1.access))?;
    assert_eq!(who, Some((ada.clone(), ada_id.clone())));
    assert_eq!(w!(User::authenticate_token(&db, "not-a-token"))?, None);
    // one character in the middle of the signature changed (the last one may be padding)
    let mut chars: Vec<char> = t1.access.chars().collect();
    let at = chars.len() - 10;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    assert_eq!(w!(User::authenticate_token(&db, &tampered))?, None, "a bad signature is refused by the server");
    // validate: cached, bounded
    let cache = TokenCache::new(Duration::from_secs(60), 8);
    assert_eq!(w!(User::validate_token(&db, &t1.access, &cache))?, Some(ada_id.clone()));
    assert_eq!(cache.len(), 1);
    assert_eq!(w!(User::validate_token(&db, &t1.access, &cache))?, Some(ada_id.clone()));
    assert_eq!(w!(User::validate_token(&db, &tampered, &cache))?, None);
    assert_eq!(cache.len(), 1, "refusals are not cached");
    // local decode: the claims, no signature check (the tampered token passes locally)
    assert_eq!(User::validate_token_local(&t1.access), Some(ada_id.clone()));
    assert_eq!(User::validate_token_local(&tampered), Some(ada_id.clone()));
    assert_eq!(User::validate_token_local("not-a-token"), None);

    // refresh rotation: the new pair works, the old refresh token is refused afterwards
    let (u, t2) = w!(User::refresh_access_token(&db, &r0))?;
    assert_eq!(u, ada);
    let r2 = t2.refresh.clone().expect("a new refresh token");
    assert_ne!(r2, r0);
    let reused = w!(User::refresh_access_token(&db, &r0)).unwrap_err();
    assert!(is_auth_refusal(&reused), "{reused:?}");
    assert!(!reused.to_string().contains(&r0));
    assert_eq!(w!(User::authenticate_token(&db, &t2.access))?.map(|(u, _)| u), Some(ada.clone()));
    let (_, t3) = w!(User::refresh_access_token(&db, &r2))?;

    // invalidate: the refresh grant is revoked (idempotently) …
    w!(User::invalidate(&db, &t3))?;
    w!(User::invalidate(&db, &t3))?;
    let r3 = t3.refresh.clone().expect("a refresh token");
    let revoked = w!(User::refresh_access_token(&db, &r3)).unwrap_err();
    assert!(is_auth_refusal(&revoked), "{revoked:?}");
    // … while the access token, a signed JWT, stays valid until its exp (by design)
    assert!(w!(User::authenticate_token(&db, &t3.access))?.is_some());

    // a session opened with the token runs with Ada's permissions, until invalidated
    w!(db.query("CREATE user:bob SET email = 'bob@example.com', name = 'Bob'"))?.check()?;
    let as_ada = w!(User::connect_as(&db, &t3.access))?;
    let seen = w!(User::objects().all(&as_ada))?;
    assert_eq!(seen, vec![ada.clone()], "a user sees itself only");
    let me: Value = w!(as_ada.query("RETURN $auth"))?.take(0)?;
    assert_eq!(me, Value::RecordId(ada_id.clone()));
    w!(as_ada.invalidate())?;
    // WebSocket: the server dropped the session's auth; HTTP: the client stopped sending the
    // token. Either way the same connection is now anonymous in the same database.
    // The test server does not allow guests, so its queries are refused as anonymous.
    let err = w!(User::objects().all(&as_ada)).unwrap_err();
    let refused = err.as_server_error().expect("the server's error");
    assert!(refused.is_auth_error(), "{err:?}");
    assert!(refused.message.starts_with("Anonymous access not allowed"), "{err}");
    // a refused token cannot open a session
    let err = w!(User::connect_as(&db, &tampered)).unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    assert!(!err.to_string().contains(&tampered));

    // the root connection was never touched
    let root: Value = w!(db.query("RETURN $auth"))?.take(0)?;
    assert!(matches!(root, Value::None | Value::Null), "root has no record auth: {root:?}");
    assert_eq!(w!(User::objects().count_rows(&db))?, 2, "root sees every user");
    assert_root_untouched(&rec);
    // the auth actions' own connections are logged too (their params redacted)
    let log = crate::captured();
    for method in ["signup", "signin", "authenticate", "revoke"] {
        assert!(log.contains(&format!("method=\"{method}\"")), "no {method} logged");
    }
    let mut needles: Vec<String> = vec![ADA_PW.to_owned(), tampered.clone()];
    for t in [&t0, &t1, &t2, &t3] {
        needles.extend(token_needles(t));
    }
    assert_not_logged(&needles.iter().map(String::as_str).collect::<Vec<_>>());
    Ok(())
});

scenario!(wrong_passwords_and_bad_parameters_are_errors_without_secrets, |db| {
    install(&db).await?;
    w!(User::signup(&db, &ada_params()))?;
    let wrong = w!(User::signin(&db, &User::login("ada@example.com", "Wrong-pw-1234"))).unwrap_err();
    assert!(is_auth_refusal(&wrong), "{wrong:?}");
    let nobody = w!(User::signin(&db, &User::login("nobody@example.com", ADA_PW))).unwrap_err();
    assert!(is_auth_refusal(&nobody), "{nobody:?}");
    // a second signup with the same identifier: the unique index refuses it
    let dup = w!(User::signup(&db, &ada_params())).unwrap_err();
    let failed = dup.as_server_error().expect("the server's error");
    assert!(!dup.is_auth_rejected(), "{dup:?}");
    assert_eq!(failed.message, "The record access signup query failed");
    // missing fields are refused before anything is sent
    let missing = w!(User::signin(&db, &surql::auth::AuthParams::new().with("password", ADA_PW)))
        .unwrap_err();
    assert!(missing.to_string().contains("missing required field `email`"), "{missing}");
    let shown: Vec<String> = [&wrong, &nobody, &dup, &missing]
        .iter()
        .map(|e| format!("{e} {e:?}"))
        .collect();
    assert_no_secret(&shown, &[ADA_PW, "Wrong-pw-1234"]);
    // a model connection without a database says so
    let server = Server::shared();
    let bare = w!(Surreal::connect(&if WS { server.ws_url() } else { server.http_url() }))?;
    w!(bare.signin(&Credentials::root(ROOT_USER, ROOT_PASS)))?;
    let err = w!(User::signin(&bare, &User::login("ada@example.com", ADA_PW))).unwrap_err();
    assert!(err.to_string().contains("use_ns_db"), "{err}");
    Ok(())
});

scenario!(table_permissions_deny_a_record_users_writes, |db| {
    install(&db).await?;
    let mut note = Note {
        id: None,
        text: "root wrote this".into(),
    };
    w!(note.save(&db))?;
    let (_ada, token) = w!(User::signup(&db, &ada_params()))?;
    let as_ada = w!(User::connect_as(&db, &token.access))?;
    // reads are allowed …
    let notes = w!(Note::objects().all(&as_ada))?;
    assert_eq!(notes, vec![note.clone()]);
    // … writes are not: the record is visible, so the empty answer is a denied write
    let mut mine = notes[0].clone();
    let err = w!(mine.merge(&as_ada, &Changes::new().set(Note::fields().text, "ada was here".to_owned())))
        .unwrap_err();
    assert!(err.is_write_denied(), "{err:?}");
    let err = w!(mine.delete(&as_ada)).unwrap_err();
    assert!(err.is_write_denied(), "{err:?}");
    let mut new_note = Note {
        id: None,
        text: "by ada".into(),
    };
    let err = w!(new_note.save(&as_ada)).unwrap_err();
    assert!(
        matches!(&err, Error::WriteDenied { action, target } if action == "save" && target == "table `note`"),
        "{err:?}"
    );
    // nothing changed, as root sees it
    let all = w!(Note::objects().all(&db))?;
    assert_eq!(all, vec![note]);
    // Ada may change her own record (FOR update WHERE id = $auth) …
    let mut me = w!(User::objects().all(&as_ada))?.remove(0);
    w!(me.merge(&as_ada, &Changes::new().set(User::fields().name, "Ada L.".to_owned())))?;
    assert_eq!(me.name, "Ada L.");
    // … but cannot see, so cannot write, Bob's
    w!(db.query("CREATE user:bob SET email = 'bob@example.com', name = 'Bob'"))?.check()?;
    let err = w!(User::get(&as_ada, "bob")).unwrap_err();
    assert!(err.is_does_not_exist(), "{err:?}");
    // and the hash is not readable by the user
    let pw: Value = w!(as_ada.query("SELECT VALUE password FROM ONLY $auth"))?.take(0)?;
    assert!(matches!(pw, Value::None | Value::Null), "{pw:?}");
    Ok(())
});

scenario!(root_keeps_its_rights_after_100_concurrent_signins, |db| {
    crate::captured();
    install(&db).await?;
    const USERS: usize = 4;
    for i in 0..USERS {
        let params = User::login(format!("u{i}@example.com"), format!("pw-{i}-{BOB_PW}"))
            .with("name", format!("user {i}"));
        w!(User::signup(&db, &params))?;
    }
    let rec = db.record();
    let root = &db;
    let results = concurrently!(100, |i| {
        let n = i % USERS;
        let params = User::login(format!("u{n}@example.com"), format!("pw-{n}-{BOB_PW}"));
        w!(User::signin(root, &params)).map(|(u, t)| (n, u, t))
    });
    let mut needles = Vec::new();
    for r in results {
        let (n, user, token) = r?;
        assert_eq!(user.email, format!("u{n}@example.com"));
        let claims = jwt::decode_claims(&token.access).expect("a JWT");
        assert_eq!(claims.record_id(), user.id);
        needles.extend(token_needles(&token));
    }
    // 100 signins: the root client only read its ns/db and loaded users
    assert_root_untouched(&rec);
    assert_eq!(rec.count(), 200, "one ns/db read and one user load per signin");
    needles.extend((0..USERS).map(|n| format!("pw-{n}-{BOB_PW}")));
    assert_not_logged(&needles.iter().map(String::as_str).collect::<Vec<_>>());
    // the shared client is still root: no record auth, root-only statements work, it sees
    // past the table permissions
    let auth: Value = w!(db.query("RETURN $auth"))?.take(0)?;
    assert!(matches!(auth, Value::None | Value::Null), "{auth:?}");
    w!(db.query("INFO FOR ROOT; DEFINE TABLE after_signins SCHEMALESS;"))?.check()?;
    assert_eq!(w!(User::objects().count_rows(&db))?, USERS as u64);
    let mut note = Note {
        id: None,
        text: "root still writes".into(),
    };
    w!(note.save(&db))?;
    Ok(())
});

scenario!(bearer_keys_are_granted_used_and_revoked, |db| {
    crate::captured();
    install(&db).await?;
    let (ada, _) = w!(User::signup(&db, &ada_params()))?;
    let ada_id = ada.id.clone().expect("an id");
    let key = w!(User::grant_bearer_key(&db, &ada_id))?;
    assert_eq!(key.subject, ada_id);
    assert!(key.key.starts_with("surreal-bearer-"), "a bearer key");
    assert!(key.expiration.is_some());
    let (u, token) = w!(User::signin_with_key(&db, &key.key))?;
    assert_eq!(u, ada);
    let claims = jwt::decode_claims(&token.access).expect("a JWT");
    assert_eq!(claims.access.as_deref(), Some("user_bearer"));
    w!(User::revoke_bearer_key(&db, &key.id))?;
    let err = w!(User::signin_with_key(&db, &key.key)).unwrap_err();
    assert!(is_auth_refusal(&err), "{err:?}");
    // revoking twice is the server's error; a whole key works as well as its id
    let twice = w!(User::revoke_bearer_key(&db, &key.id)).unwrap_err();
    assert!(twice.to_string().contains("revoked"), "{twice}");
    let key2 = w!(User::grant_bearer_key(&db, "bob"))?;
    w!(User::revoke_bearer_key(&db, &key2.key))?;
    let shown = vec![
        format!("{key:?}"),
        format!("{key2:?}"),
        format!("{err} {err:?}"),
        format!("{twice} {twice:?}"),
    ];
    assert_no_secret(&shown, &[&key.key, &key2.key]);
    let mut needles = vec![key.key.clone(), key2.key.clone()];
    needles.extend(token_needles(&token));
    assert_not_logged(&needles.iter().map(String::as_str).collect::<Vec<_>>());
    Ok(())
});

scenario!(change_password_checks_the_old_one, |db| {
    crate::captured();
    install(&db).await?;
    w!(User::signup(&db, &ada_params()))?;
    let err = w!(User::change_password(&db, "ada@example.com", "not-the-password", "New-pw-55c1"))
        .unwrap_err();
    assert!(is_auth_refusal(&err), "{err:?}");
    assert_no_secret(&[format!("{err} {err:?}")], &["not-the-password", "New-pw-55c1"]);
    w!(User::change_password(&db, "ada@example.com", ADA_PW, "New-pw-55c1"))?;
    let old = w!(User::signin(&db, &User::login("ada@example.com", ADA_PW))).unwrap_err();
    assert!(is_auth_refusal(&old), "{old:?}");
    let (u, _) = w!(User::signin(&db, &User::login("ada@example.com", "New-pw-55c1")))?;
    assert_eq!(u.email, "ada@example.com");
    assert_not_logged(&[ADA_PW, "not-the-password", "New-pw-55c1"]);
    Ok(())
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "member", connection = "accounts")]
struct Member {
    id: Option<RecordId>,
    email: String,
}

impl UserModel for Member {
    const AUTH: AuthConfig = AuthConfig::new().access("member_login");
}

scenario!(auth_models_honour_named_connections, |db| {
    use super::drv::{ConnectionConfig, Connections};
    let names: Vec<String> = w!(db.query("RETURN [session::ns(), session::db()]"))?.take(0)?;
    let (ns, main) = (names[0].clone(), names[1].clone());
    let accounts = format!("{main}_accounts");
    let server = Server::shared();
    let url = if WS { server.ws_url() } else { server.http_url() };
    let root = || Credentials::root(ROOT_USER, ROOT_PASS);
    let conns = Connections::new();
    conns.add("default", ConnectionConfig::new(url.clone()).credentials(root()).ns_db(ns.clone(), main.clone()));
    conns.add(
        "accounts",
        ConnectionConfig::new(url.clone())
            .credentials(root())
            .ns_db(ns.clone(), accounts.clone())
            .define_ns_db(true),
    );
    let acc = w!(conns.get("accounts"))?;
    w!(acc.query(Member::define_access()?))?.check()?;
    // the model's own connection: the user lands in `accounts`, not in `default`
    let params = Member::login("m@example.com", ADA_PW);
    let (m, token) = w!(Member::signup(&conns, &params))?;
    assert_eq!(jwt::decode_claims(&token.access).expect("a JWT").db.as_deref(), Some(accounts.as_str()));
    assert_eq!(w!(Member::objects().count_rows(&acc))?, 1);
    let in_default: Value = w!(db.query("INFO FOR DB"))?.take(0)?;
    assert!(!format!("{in_default:?}").contains("member_login"));
    assert_eq!(w!(Member::signin(&conns, &params))?.0, m);
    // `using` overrides it: `default` has no such access method
    let err = w!(Member::signin(&conns.using("default"), &params)).unwrap_err();
    assert!(err.as_server_error().is_some(), "{err:?}");
    // a token of `accounts` is not a token of `default`'s database
    assert_eq!(w!(Member::authenticate_token(&conns, &token.access))?.map(|(u, _)| u), Some(m));
    assert_eq!(w!(Member::authenticate_token(&conns.using("default"), &token.access))?, None);
    Ok(())
});

scenario!(secrets_never_show_in_debug_output_errors_or_logs, |db| {
    crate::captured();
    install(&db).await?;
    let params = ada_params();
    let (ada, token) = w!(User::signup(&db, &params))?;
    let refresh = token.refresh.clone().expect("a refresh token");
    let key = w!(User::grant_bearer_key(&db, ada.id.clone().expect("an id")))?;
    let cache = TokenCache::default();
    w!(User::validate_token(&db, &token.access, &cache))?;
    let as_ada = w!(User::connect_as(&db, &token.access))?;
    let failures: Vec<Error> = vec![
        w!(User::signin(&db, &User::login("ada@example.com", "Wrong-pw-1234"))).unwrap_err(),
        w!(User::refresh_access_token(&db, "surreal-refresh-NotARealToken")).unwrap_err(),
        w!(User::signin_with_key(&db, "surreal-bearer-NoSuchId-NotARealSecret")).unwrap_err(),
        w!(User::revoke_bearer_key(&db, "surreal-bearer-NoSuchId-NotARealSecret")).unwrap_err(),
        w!(User::connect_as(&db, "eyJhbGciOiJIUzUxMiJ9.e30.NotARealSignature")).unwrap_err(),
    ];
    let mut shown = vec![
        format!("{params:?}"),
        format!("{token:?}"),
        format!("{key:?}"),
        format!("{cache:?}"),
        format!("{as_ada:?}"),
        format!("{db:?}"),
    ];
    shown.extend(failures.iter().map(|e| format!("{e} {e:?}")));
    assert_no_secret(
        &shown,
        &[
            ADA_PW,
            "Wrong-pw-1234",
            &token.access,
            &refresh,
            &key.key,
            "NotARealToken",
            "NotARealSecret",
            "NotARealSignature",
        ],
    );
    let mut needles = vec![
        ADA_PW.to_owned(),
        "Wrong-pw-1234".to_owned(),
        key.key.clone(),
        "NotARealToken".to_owned(),
        "NotARealSecret".to_owned(),
        "NotARealSignature".to_owned(),
    ];
    needles.extend(token_needles(&token));
    assert_not_logged(&needles.iter().map(String::as_str).collect::<Vec<_>>());
    Ok(())
});
