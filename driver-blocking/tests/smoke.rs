//! Smoke tests of the blocking driver against a real SurrealDB, over WebSocket and HTTP.
//! (The full scenario suite is `conformance/`; these check the driver's own plumbing.)

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use surql_blocking::{Action, Credentials, Error, Options, RecordId, StreamFrame, Surreal, Value};
use surql_conformance::server::{free_port, Server, ROOT_PASS, ROOT_USER};

/// A database of its own for each test, so tests can run in parallel on one server.
fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Signs in as root and selects a fresh namespace and database.
fn fresh(url: &str, prefix: &str) -> Surreal {
    fresh_named(url, prefix).0
}

/// [`fresh`], also giving the name of the namespace and database.
fn fresh_named(url: &str, prefix: &str) -> (Surreal, String) {
    let name = unique(prefix);
    let db = Surreal::connect(url).expect("connect");
    db.signin(&Credentials::root(ROOT_USER, ROOT_PASS))
        .expect("signin");
    db.query(format!(
        "DEFINE NAMESPACE IF NOT EXISTS {name}; USE NS {name}; DEFINE DATABASE IF NOT EXISTS {name};"
    ))
    .run()
    .expect("define")
    .check()
    .expect("define statements");
    db.use_ns_db(&name, &name).expect("use");
    (db, name)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Person {
    name: String,
    age: i64,
}

#[derive(Debug, Deserialize)]
struct Stored {
    id: RecordId,
    name: String,
    age: i64,
}

fn round_trip(db: &Surreal) {
    assert!(db.version().unwrap().starts_with("surrealdb-"));
    db.ping().unwrap();
    db.health().unwrap();

    let tobie = Person {
        name: "Tobie".into(),
        age: 34,
    };
    let created: Stored = db.create(("person", "tobie"), &tobie).unwrap();
    assert_eq!(created.id, RecordId::new("person", "tobie"));
    assert_eq!((created.name.as_str(), created.age), ("Tobie", 34));

    let one: Option<Person> = db.select(("person", "tobie")).unwrap();
    assert_eq!(one, Some(tobie.clone()));
    let missing: Option<Person> = db.select(("person", "nobody")).unwrap();
    assert_eq!(missing, None);

    let mut response = db
        .query("SELECT VALUE name FROM person WHERE age > $min; RETURN $a + $b")
        .bind(("min", 30))
        .bind(("a", 1))
        .bind(("b", 2))
        .run()
        .unwrap();
    let names: Vec<String> = response.take(0).unwrap();
    assert_eq!(names, ["Tobie"]);
    let sum: i64 = response.take(1).unwrap();
    assert_eq!(sum, 3);

    let merged: Option<Person> = db
        .merge(("person", "tobie"), serde_json_like_age(35))
        .unwrap();
    assert_eq!(merged.map(|p| p.age), Some(35));

    // A failing statement in the middle fails only its own row.
    let mut response = db.query("RETURN 1; THROW 'boom'; RETURN 3").run().unwrap();
    let errors = response.take_errors();
    assert_eq!(errors.len(), 1);
    assert!(errors[&1].message.contains("boom"), "{:?}", errors[&1]);
    assert_eq!(response.take::<i64>(2).unwrap(), 3);

    // A syntax error fails the whole call at RPC level, with the server's message.
    let e = db.query("SELEC nonsense").run().unwrap_err();
    let server = e
        .as_server_error()
        .unwrap_or_else(|| panic!("expected a server error, got {e:?}"));
    assert!(server.message.contains("Parse error"), "{server:?}");

    // A bad binding is reported by `run`, before anything is sent.
    let e = db.query("RETURN 1").bind(42).run().unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");

    let deleted: Option<Person> = db.delete(("person", "tobie")).unwrap();
    assert_eq!(deleted.map(|p| p.name), Some("Tobie".to_owned()));
    let all: Vec<Person> = db.select("person").unwrap();
    assert!(all.is_empty());
}

fn serde_json_like_age(age: i64) -> std::collections::BTreeMap<&'static str, i64> {
    [("age", age)].into_iter().collect()
}

#[test]
fn websocket_round_trip() {
    let db = fresh(&Server::shared().ws_url(), "ws_rt");
    round_trip(&db);
    // Session variables live on the connection.
    db.set("greeting", "hello").unwrap();
    let mut r = db.query("RETURN $greeting").run().unwrap();
    assert_eq!(r.take::<String>(0).unwrap(), "hello");
    db.unset("greeting").unwrap();
    let mut r = db.query("RETURN $greeting").run().unwrap();
    assert_eq!(r.take::<Option<String>>(0).unwrap(), None);
}

#[test]
fn http_round_trip() {
    let db = fresh(&Server::shared().http_url(), "http_rt");
    round_trip(&db);
}

#[test]
fn eight_threads_share_one_websocket() {
    let db = fresh(&Server::shared().ws_url(), "ws_conc");
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let db = db.clone();
            thread::spawn(move || {
                for i in 0..100 {
                    let n = t * 1000 + i;
                    let mut r = db.query("RETURN $n").bind(("n", n)).run().unwrap();
                    assert_eq!(r.take::<i64>(0).unwrap(), n, "thread {t} query {i}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a query thread panicked");
    }
}

#[test]
fn live_stream_delivers_and_ends_on_kill() {
    let db = fresh(&Server::shared().ws_url(), "ws_live");
    db.query("DEFINE TABLE item SCHEMALESS")
        .run()
        .unwrap()
        .check()
        .unwrap();
    let mut stream = db.live("item").unwrap();
    let live_id = stream.id();
    let _: Value = db.create(("item", "a"), serde_json_like_age(1)).unwrap();
    let _: Value = db.create(("item", "b"), serde_json_like_age(2)).unwrap();
    let mut seen = BTreeSet::new();
    for _ in 0..2 {
        let n = stream
            .next_timeout(Duration::from_secs(10))
            .unwrap()
            .expect("a notification within 10 s");
        assert_eq!(n.action, Action::Create);
        assert_eq!(n.live_id, live_id);
        seen.insert(format!("{:?}", n.record));
    }
    assert_eq!(seen.len(), 2);
    // Killing it on the server ends the stream.
    db.query("KILL $id")
        .bind(("id", Value::Uuid(live_id)))
        .run()
        .unwrap()
        .check()
        .unwrap();
    let end = stream.next_timeout(Duration::from_secs(10)).unwrap();
    assert!(end.is_none() && stream.is_ended(), "{end:?}");
    assert!(stream.next().is_none());
    assert_eq!(stream.error(), None, "KILLED is a normal end");
}

#[test]
fn live_select_filters_with_bound_variables_and_drop_kills_it() {
    let db = fresh(&Server::shared().ws_url(), "ws_live_sel");
    db.query("DEFINE TABLE p SCHEMALESS")
        .run()
        .unwrap()
        .check()
        .unwrap();
    let mut stream = db
        .query("LIVE SELECT * FROM p WHERE age > $min")
        .bind(("min", 30))
        .live()
        .unwrap();
    let _: Value = db.create(("p", "young"), serde_json_like_age(20)).unwrap();
    let _: Value = db.create(("p", "old"), serde_json_like_age(40)).unwrap();
    let n = stream
        .next_timeout(Duration::from_secs(10))
        .unwrap()
        .expect("a notification");
    assert_eq!(n.record, Value::RecordId(RecordId::new("p", "old")));
    let quiet = stream.next_timeout(Duration::from_millis(300)).unwrap_err();
    assert!(quiet.is_timeout(), "{quiet:?}");
    drop(stream);
    // Dropping queued a kill; the connection goes on working.
    db.ping().unwrap();

    // A LIVE SELECT on a missing table fails with the server's error.
    let e = db.query("LIVE SELECT * FROM nope").live().unwrap_err();
    assert!(e.as_server_error().is_some(), "{e:?}");
}

#[test]
fn rpc_transactions_commit_and_cancel() {
    let db = fresh(&Server::shared().ws_url(), "ws_txn");
    let _: Value = db.create(("k", 1i64), serde_json_like_age(0)).unwrap();
    let txn = db.begin().unwrap();
    txn.query("UPDATE k:1 SET age = 5")
        .run()
        .unwrap()
        .check()
        .unwrap();
    txn.cancel().unwrap();
    let mut r = db.query("SELECT VALUE age FROM ONLY k:1").run().unwrap();
    assert_eq!(r.take::<i64>(0).unwrap(), 0);

    let txn = db.begin().unwrap();
    txn.query("UPDATE k:1 SET age = 7")
        .run()
        .unwrap()
        .check()
        .unwrap();
    txn.commit().unwrap();
    let mut r = db.query("SELECT VALUE age FROM ONLY k:1").run().unwrap();
    assert_eq!(r.take::<i64>(0).unwrap(), 7);
}

#[test]
fn request_timeout_fails_the_call_not_the_connection() {
    let options = Options::default().request_timeout(Duration::from_millis(300));
    let db = Surreal::connect_with(&Server::shared().ws_url(), options).unwrap();
    db.signin(&Credentials::root(ROOT_USER, ROOT_PASS)).unwrap();
    let e = db.query("SLEEP 2s").run().unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    db.ping().unwrap();
}

#[test]
fn connect_errors_name_the_url() {
    let port = free_port().unwrap();
    let url = format!("ws://127.0.0.1:{port}");
    match Surreal::connect(&url) {
        Err(Error::Connect { url: u, reason }) => {
            assert_eq!(u, format!("{url}/rpc"));
            assert!(!reason.is_empty());
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert!(matches!(
        Surreal::connect("ftp://x"),
        Err(Error::InvalidUrl { .. })
    ));
    // Over HTTP nothing is opened until the first call.
    let db = Surreal::connect(&format!("http://127.0.0.1:{port}")).unwrap();
    assert!(
        matches!(db.ping(), Err(Error::Connect { .. })),
        "{:?}",
        db.ping()
    );
}

#[test]
fn query_stream_delivers_frames_and_drop_cancels() {
    let db = fresh(&Server::shared().ws_url(), "ws_stream");
    db.query("FOR $i IN 0..3000 { CREATE row SET n = $i };")
        .run()
        .unwrap()
        .check()
        .unwrap();
    let mut stream = db
        .query_stream("SELECT n FROM row WHERE n >= $min")
        .bind(("min", 1000))
        .run()
        .unwrap();
    let (mut rows, mut ended) = (0, false);
    while let Some(frame) = stream.next_timeout(Duration::from_secs(30)).unwrap() {
        match frame {
            StreamFrame::Rows { values, .. } => rows += values.len(),
            StreamFrame::Finished { error: Some(e), .. } => panic!("statement failed: {e}"),
            StreamFrame::End { .. } => ended = true,
            _ => {}
        }
    }
    assert!(ended, "the stream ends with an End frame");
    assert_eq!(rows, 2000);
    assert!(stream.next().is_none());

    // Dropping a stream before its end cancels it; the connection goes on.
    let mut stream = db.query_stream("SELECT n FROM row").run().unwrap();
    let first = stream.next().expect("a first frame").unwrap();
    assert!(matches!(first, StreamFrame::Begin { .. }), "{first:?}");
    drop(stream);
    db.ping().unwrap();
    let mut r = db.query("RETURN 7").run().unwrap();
    assert_eq!(r.take::<i64>(0).unwrap(), 7);
}

#[test]
fn attached_sessions_are_separate() {
    let (db, name) = fresh_named(&Server::shared().ws_url(), "ws_sessions");
    let other = db.attach().unwrap();
    let id = other.session_id().expect("an attached session id");
    assert!(db.sessions().unwrap().contains(&id));
    // The attached session starts empty: not even the default session's auth.
    db.set("who", "default").unwrap();
    let e = other.query("RETURN $who").run().unwrap_err();
    assert!(
        e.as_server_error().is_some_and(|s| s.is_auth_error()),
        "{e:?}"
    );
    other
        .signin(&Credentials::root(ROOT_USER, ROOT_PASS))
        .unwrap();
    other.use_ns_db(&name, &name).unwrap();
    let mut r = other.query("RETURN $who").run().unwrap();
    assert_eq!(r.take::<Option<String>>(0).unwrap(), None);
    other.set("who", "attached").unwrap();
    let mut r = other.query("RETURN $who").run().unwrap();
    assert_eq!(r.take::<String>(0).unwrap(), "attached");
    let mut r = db.query("RETURN $who").run().unwrap();
    assert_eq!(r.take::<String>(0).unwrap(), "default");
    other.detach().unwrap();
    assert!(!db.sessions().unwrap().contains(&id));
}
