//! Connection lifecycle against a real server: no IO thread outlives its connection, and a
//! lost server is reconnected to, with the session replayed.
//!
//! One test per concern, each in this separate test binary so the thread count is not
//! disturbed by other tests' connections.

use std::sync::mpsc::Receiver;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use surql_blocking::{ConnectionEvent, Credentials, Options, Surreal};
use surql_conformance::server::{free_port, Server, Storage, ROOT_PASS, ROOT_USER};

/// The tests count threads process-wide: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// How many IO threads of this driver exist in this process right now (Linux only).
#[cfg(target_os = "linux")]
fn io_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|name| name.trim() == "surql-ws")
        })
        .count()
}

/// Waits (briefly) for the count to settle: a new thread names itself only once it runs.
#[cfg(target_os = "linux")]
fn settled_io_threads(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = io_threads();
        if n == expected || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn dropping_the_last_handle_ends_the_io_thread() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let url = Server::shared().ws_url();
    let before = io_threads();
    let db = Surreal::connect(&url).unwrap();
    let clone = db.clone();
    assert_eq!(settled_io_threads(before + 1), before + 1);
    drop(db);
    clone.ping().unwrap();
    assert_eq!(
        settled_io_threads(before + 1),
        before + 1,
        "a clone keeps the connection"
    );
    // A live stream keeps the connection too, and dropping it spawns nothing.
    clone
        .signin(&Credentials::root(ROOT_USER, ROOT_PASS))
        .unwrap();
    clone
        .query("DEFINE NAMESPACE IF NOT EXISTS life; USE NS life; DEFINE DATABASE IF NOT EXISTS life; USE DB life; DEFINE TABLE IF NOT EXISTS t SCHEMALESS")
        .run()
        .unwrap()
        .check()
        .unwrap();
    clone.use_ns_db("life", "life").unwrap();
    let stream = clone.live("t").unwrap();
    drop(clone);
    assert_eq!(
        settled_io_threads(before + 1),
        before + 1,
        "a live stream keeps the connection"
    );
    drop(stream);
    // `Drop` joins the IO thread, so it is gone when `drop` returns (give the kernel a
    // moment to reap the task entry).
    assert_eq!(settled_io_threads(before), before);
}

fn wait_for(
    events: &Receiver<ConnectionEvent>,
    what: &str,
    pred: impl Fn(&ConnectionEvent) -> bool,
) -> Vec<ConnectionEvent> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(e) => {
                let done = pred(&e);
                seen.push(e);
                if done {
                    return seen;
                }
            }
            Err(_) => panic!("no {what} event within 30 s; saw {seen:?}"),
        }
    }
}

#[test]
fn reconnects_after_the_server_restarts() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let port = free_port().unwrap();
    let dir = std::env::temp_dir().join(format!("surql-blocking-reconnect-{}", std::process::id()));
    let storage = Storage::SurrealKv(dir.clone());
    let mut server = Server::start(&storage, Some(port)).unwrap();
    let mut options = Options::default().request_timeout(Duration::from_secs(5));
    options.backoff_initial = Duration::from_millis(50);
    options.backoff_max = Duration::from_millis(500);
    let db = Surreal::connect_with(&server.ws_url(), options).unwrap();
    let events = db.events().unwrap();
    let (hook_tx, hook_events) = std::sync::mpsc::channel();
    db.on_reconnect(move |e| {
        // The test reads them below; a closed receiver just means the test is over.
        let _ = hook_tx.send(e.clone());
    });
    db.signin(&Credentials::root(ROOT_USER, ROOT_PASS)).unwrap();
    db.query("DEFINE NAMESPACE IF NOT EXISTS r; USE NS r; DEFINE DATABASE IF NOT EXISTS r; USE DB r; DEFINE TABLE IF NOT EXISTS t SCHEMALESS")
        .run()
        .unwrap()
        .check()
        .unwrap();
    db.use_ns_db("r", "r").unwrap();
    db.set("marker", 42).unwrap();
    let mut live = db.live("t").unwrap();
    let old_id = live.id();

    server.stop();
    wait_for(&events, "Disconnected", |e| {
        matches!(e, ConnectionEvent::Disconnected(_))
    });
    let mut server = Server::start(&storage, Some(port)).unwrap();
    let seen = wait_for(&events, "Reconnected", |e| {
        *e == ConnectionEvent::Reconnected
    });
    assert!(
        seen.iter()
            .any(|e| matches!(e, ConnectionEvent::LiveRemapped { old, .. } if *old == old_id)),
        "the live query was not re-subscribed: {seen:?}"
    );

    // The hook runs on the IO thread right after the channel listener: wait for it too.
    wait_for(&hook_events, "Reconnected (hook)", |e| {
        *e == ConnectionEvent::Reconnected
    });

    // The session came back: ns/db and the variable, and the live stream still works.
    let mut r = db
        .query("RETURN [$marker, session::ns(), session::db()]")
        .run()
        .unwrap();
    let (marker, ns, db_name): (i64, String, String) = r.take(0).unwrap();
    assert_eq!((marker, ns.as_str(), db_name.as_str()), (42, "r", "r"));
    let _: surql_blocking::Value = db
        .create(
            ("t", "after"),
            [("x", 1i64)]
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
        .unwrap();
    let n = live
        .next_timeout(Duration::from_secs(10))
        .unwrap()
        .expect("a notification after the reconnect");
    assert_ne!(
        n.live_id, old_id,
        "the notification should come from the new live id"
    );

    drop(live);
    drop(db);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
