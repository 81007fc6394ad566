// Logging scenarios, written once. Included by `logging.rs` into one module per driver ×
// transport; `super::drv` is the driver crate, `super::WS` the transport and `w!` resolves a
// call (`.await` for smol, a plain call for blocking). `crate::captured()` is every log line
// of the process so far.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::rpc::Method;
use surql::{Object, RecordId, Value};
use surql_conformance::server::{Server, ROOT_PASS, ROOT_USER};

use super::drv::{self, Credentials, ModelExt, Options, Surreal};
use super::{INSTANCE, WS};

/// The record user's password.
const USER_PASS: &str = "pw-4f8e1d-secret";
/// The database user's password: `DEFINE USER … PASSWORD` takes only a literal, so it is
/// written into the statement text, where the log must redact it.
const DB_PASS: &str = "pw-db-2b9a6c-secret-Q7xZ";
/// A bound value that is a secret.
const SECRET_VALUE: &str = "sv-93b2c7-secret";
/// A bound value that may show when values are opted in.
const VISIBLE: &str = "visible-5a1e";

fn url() -> String {
    let server = Server::shared();
    if WS {
        server.ws_url()
    } else {
        server.http_url()
    }
}

async fn names(db: &Surreal) -> drv::Result<(String, String)> {
    let mut res = w!(db.query("RETURN [session::ns(), session::db()]"))?;
    let v: (String, String) = res.take(0)?;
    Ok(v)
}

/// A client with its own options, signed in as root on `ns`/`db`.
async fn connect(options: Options, ns: &str, db: &str) -> drv::Result<Surreal> {
    let c = w!(Surreal::connect_with(&url(), options))?;
    w!(c.signin(&Credentials::root(ROOT_USER, ROOT_PASS)))?;
    w!(c.use_ns_db(ns, db))?;
    Ok(c)
}

#[derive(Serialize)]
struct Signup<'a> {
    email: &'a str,
    pass: &'a str,
}

/// The lines of `log` containing `needle` (for a failure message that stays readable).
fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(needle)).collect()
}

scenario!(secrets_never_reach_the_log, |db| {
    crate::captured();
    let (ns, name) = names(&db).await?;
    // `db` logs value names only; `loud` opted in to values.
    let loud = connect(Options::default().log_values(true), &ns, &name).await?;
    w!(db.query(
        "DEFINE TABLE user SCHEMALESS PERMISSIONS FULL;
         DEFINE TABLE note SCHEMALESS;
         DEFINE ACCESS account ON DATABASE TYPE RECORD
           SIGNUP ( CREATE user SET email = $email, pass = crypto::argon2::generate($pass) )
           SIGNIN ( SELECT * FROM user WHERE email = $email AND crypto::argon2::compare(pass, $pass) )
           WITH REFRESH
           DURATION FOR TOKEN 15m, FOR SESSION 12h;
         DEFINE FIELD n ON typed TYPE int;"
    ))?
    .check()?;
    // A database user: the server takes its password only as a literal in the text, which
    // the log redacts (the literal after PASSWORD).
    let define_user = format!("DEFINE USER logger ON DATABASE PASSWORD '{DB_PASS}' ROLES VIEWER");
    w!(db.query(define_user.as_str()))?.check()?;
    // A statement that does not parse: the server's error quotes the text back, cut just
    // inside the literal (`...Q7xZ' ROLES`), so the log shows only the error's kind.
    let typo = format!("DEFINE USER typo ON DATABASE PASSWORD '{DB_PASS}' ROLES");
    let parse_error = w!(db.query(typo.as_str())).expect_err("ROLES needs a role");
    assert!(
        parse_error.to_string().contains("Q7xZ' ROLES"),
        "the server quotes the end of the password back: {parse_error}"
    );

    // A record user signs up, signs in and refreshes its token (values opted in: the params
    // of these methods never show anyway).
    let creds = Credentials::record(
        &ns,
        &name,
        "account",
        &Signup {
            email: "log@b.c",
            pass: USER_PASS,
        },
    )?;
    let user = w!(Surreal::connect_with(
        &url(),
        Options::default().log_values(true)
    ))?;
    let first = w!(user.signup(&creds))?;
    let second = w!(user.signin(&creds))?;
    let fresh = w!(user.refresh(&second))?;
    // Another client authenticates with the fresh token.
    let authed = w!(Surreal::connect_with(
        &url(),
        Options::default().log_values(true)
    ))?;
    w!(authed.authenticate(&fresh.access))?;
    let email: String = w!(authed.query("RETURN $auth.email"))?.take(0)?;
    assert_eq!(email, "log@b.c", "the token authenticated the record user");
    let dbu = w!(Surreal::connect_with(
        &url(),
        Options::default().log_values(true)
    ))?;
    w!(dbu.signin(&Credentials::database(&ns, &name, "logger", DB_PASS)))?;

    // Bound values that look like secrets.
    let create = format!("CREATE note_{INSTANCE} CONTENT $data RETURN AFTER");
    let data = BTreeMap::from([
        ("title", Value::from(VISIBLE)),
        ("password", Value::from(SECRET_VALUE)),
        (
            "profile",
            Value::Object(Object::from([("api_key".into(), Value::from(SECRET_VALUE))])),
        ),
    ]);
    w!(loud.query(create.as_str()).bind(("data", data)))?.check()?;
    w!(loud
        .query("UPDATE note SET password = $p0 WHERE title = $p1")
        .bind(("p0", SECRET_VALUE))
        .bind(("p1", VISIBLE)))?
    .check()?;
    w!(db.query("RETURN $v").bind(("v", SECRET_VALUE)))?.check()?;
    let _: Option<Value> = w!(loud.create(
        ("note", "x"),
        BTreeMap::from([("title", VISIBLE), ("token", SECRET_VALUE)])
    ))?;
    if WS {
        w!(loud.set("greeting", SECRET_VALUE))?;
    }
    // The server quotes a value it refuses; the log redacts quoted text in errors.
    let refused = w!(db.query("CREATE typed SET n = $v").bind(("v", SECRET_VALUE)))?
        .check()
        .expect_err("a string is not an int");
    assert!(
        refused.to_string().contains(SECRET_VALUE),
        "the server's error quotes the value, so the log had a chance to leak it: {refused}"
    );

    let log = crate::captured();
    let mut secrets = vec![
        USER_PASS.to_owned(),
        DB_PASS.to_owned(),
        SECRET_VALUE.to_owned(),
    ];
    for token in [&first, &second, &fresh] {
        secrets.push(token.access.clone());
        // Each part of the JWT (its base64 header, payload and signature).
        secrets.extend(token.access.split('.').map(str::to_owned));
        secrets.extend(token.refresh.clone());
    }
    // The part of the password the parse error quoted.
    secrets.push("Q7xZ' ROLES".to_owned());
    for secret in &secrets {
        assert!(
            secret.len() >= 8,
            "a needle too short to mean anything: {secret:?}"
        );
        let leaks = lines_with(&log, secret);
        assert!(leaks.is_empty(), "{secret:?} is in the log: {leaks:#?}");
    }
    // The log is not empty: statements and opted-in values do show.
    for shown in [
        create.as_str(),
        "UPDATE note SET password = $p0 WHERE title = $p1",
        "DEFINE USER logger ON DATABASE PASSWORD '<redacted>' ROLES VIEWER",
        VISIBLE,
        "surql.request",
        "method=\"signup\"",
        "method=\"signin\"",
        "method=\"authenticate\"",
        "method=\"refresh\"",
        "rows=1",
    ] {
        assert!(log.contains(shown), "{shown:?} is not in the log:\n{log}");
    }
    Ok(())
});

scenario!(log_lines_carry_method_statement_rows_and_errors, |db| {
    crate::captured();
    let text = format!("SELECT * FROM [1, 2, 3] /* {INSTANCE} */");
    w!(db.query(text.as_str()))?.check()?;
    let failing = format!("THROW 'boom' /* {INSTANCE} */");
    assert!(w!(db.query(failing.as_str()))?.check().is_err());
    let log = crate::captured();
    let line = lines_with(&log, &text)
        .into_iter()
        .find(|l| l.contains("request finished"))
        .unwrap_or_else(|| panic!("no finished line for {text:?}:\n{log}"));
    for field in ["method=\"query\"", "rows=3", "duration_ms="] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
    let failed = lines_with(&log, &failing[..failing.len() - 3])
        .into_iter()
        .find(|l| l.contains("request finished"))
        .unwrap_or_else(|| panic!("no finished line for {failing:?}:\n{log}"));
    assert!(failed.contains("error=\"statement 0:"), "{failed}");
    Ok(())
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "note")]
struct Note {
    id: Option<RecordId>,
    title: String,
}

scenario!(a_save_records_one_create_query, |db| {
    let mut note = Note {
        id: None,
        title: VISIBLE.into(),
    };
    let rec = db.record();
    w!(note.save(&db))?;
    let seen = rec.statements();
    assert_eq!(rec.count(), 1, "{seen:#?}");
    let s = &seen[0];
    assert_eq!(s.method, Method::Query);
    assert_eq!(s.text.as_deref(), Some("CREATE $t0 CONTENT $p0 RETURN AFTER;"));
    assert_eq!(s.vars, ["p0", "t0"]);
    assert_eq!(s.rows, Some(1));
    assert_eq!(s.error, None);
    // Values are not kept unless the client opted in.
    assert!(!s.params.contains(VISIBLE), "{}", s.params);
    assert!(s.params.contains("p0: <redacted>"), "{}", s.params);
    assert!(note.id.is_some());

    // A CRUD call shows its target; rows are counted.
    rec.clear();
    let all: Vec<Note> = w!(db.select("note"))?;
    assert_eq!(all.len(), 1);
    let seen = rec.statements();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(
        (seen[0].method, seen[0].params.as_str(), seen[0].rows),
        (Method::Select, "[note]", Some(1))
    );
    Ok(())
});

scenario!(opted_in_recorders_keep_values_but_not_secrets, |db| {
    let (ns, name) = names(&db).await?;
    let loud = connect(Options::default().log_values(true), &ns, &name).await?;
    let rec = loud.record();
    w!(loud
        .query("CREATE ONLY note:v CONTENT $p0")
        .bind(("p0", BTreeMap::from([("title", VISIBLE), ("password", SECRET_VALUE)]))))?
    .check()?;
    let seen = rec.statements();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(
        seen[0].params,
        format!("{{ p0: {{ password: <redacted>, title: '{VISIBLE}' }} }}")
    );
    Ok(())
});

scenario!(recorders_of_two_clients_stay_apart, |db| {
    let (ns, name) = names(&db).await?;
    let other = connect(Options::default(), &ns, &name).await?;
    let mine = db.record();
    let theirs = other.record();
    w!(db.query("RETURN 1"))?.check()?;
    w!(other.query("RETURN 2"))?.check()?;
    // A clone shares its client's recorders.
    let clone = db.clone();
    w!(clone.query("RETURN 3"))?.check()?;
    assert_eq!(mine.texts(), ["RETURN 1", "RETURN 3"]);
    assert_eq!(theirs.texts(), ["RETURN 2"]);
    Ok(())
});

scenario!(a_dropped_recorder_stops_recording, |db| {
    let rec = db.record();
    w!(db.query("RETURN 'a'"))?.check()?;
    let before = rec.statements();
    drop(rec);
    w!(db.query("RETURN 'b'"))?.check()?;
    let again = db.record();
    w!(db.query("RETURN 'c'"))?.check()?;
    assert_eq!(
        before.iter().map(|s| s.text.as_deref()).collect::<Vec<_>>(),
        [Some("RETURN 'a'")]
    );
    assert_eq!(again.texts(), ["RETURN 'c'"]);
    drop(again);
    Ok(())
});

scenario!(multi_step_actions_record_every_request, |db| {
    let rec = db.record();
    let (_, user): (_, Option<Value>) =
        w!(db.signin_and_load(&Credentials::root(ROOT_USER, ROOT_PASS)))?;
    assert_eq!(user, None);
    let seen = rec.statements();
    assert_eq!(
        seen.iter().map(|s| s.method).collect::<Vec<_>>(),
        [Method::Signin, Method::Info]
    );
    assert_eq!(seen[0].params, "[<redacted>]");
    if WS {
        w!(db.query("DEFINE TABLE note SCHEMALESS"))?.check()?;
        rec.clear();
        let live = w!(db.live("note"))?;
        let seen = rec.statements();
        assert_eq!(seen.len(), 1, "{seen:#?}");
        assert_eq!((seen[0].method, seen[0].params.as_str()), (Method::Live, "[note, false]"));
        drop(live);
    }
    Ok(())
});
