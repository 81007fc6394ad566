// The hostile-peer cases, compiled once per driver by `suite!` in `hostile_ws.rs`: `drv` is
// the driver, `w!(expr)` resolves a call (`.await` / plain call or `.run()`), `s!(expr)`
// resolves one synchronously (from inside a connection hook).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use surql::mux::ConnectionEvent;
use surql::value::Value;

use crate::fake::{object, query_result, reply, FakeServer, Peer, Req, LIVE_ID, VERSION};
use crate::{mentions_timeout, wait_event};

/// Every case's upper bound on the whole run (the watchdog).
const CASE_LIMIT: Duration = Duration::from_secs(30);

/// `case!(name, { body })`: a test running the async body under the watchdog.
macro_rules! case {
    ($n:ident, $body:block) => {
        #[test]
        fn $n() {
            crate::watchdog(
                concat!(module_path!(), "::", stringify!($n)),
                CASE_LIMIT,
                move || futures_lite::future::block_on(async move { $body }),
            )
        }
    };
}

/// Bounded options for a fake server: no keep-alive pings (they would show up in the
/// request counts), quick reconnects.
fn options() -> drv::Options {
    drv::Options::default()
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(2))
        .ping_interval(Duration::ZERO)
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
}

/// A script that upgrades and answers everything properly.
fn well_behaved(stream: std::net::TcpStream, ctx: &crate::fake::Ctx) {
    if let Some(mut peer) = ctx.upgrade(stream) {
        peer.serve(|_, _| false);
    }
}

/// A script whose first connection hangs up right after reading its first request (before
/// answering it); later connections behave.
fn hang_up_on_first_request(stream: std::net::TcpStream, ctx: &crate::fake::Ctx) {
    let Some(mut peer) = ctx.upgrade(stream) else {
        return;
    };
    if ctx.conn == 0 {
        // Dropping the peer closes the TCP connection without a close frame.
        peer.next_request();
        return;
    }
    peer.serve(|_, _| false);
}

fn requests(server: &FakeServer, method: &str, conn: usize) -> Vec<Req> {
    server
        .log()
        .into_iter()
        .filter(|r| r.method == method && r.conn == conn)
        .collect()
}

async fn connect(server: &FakeServer, options: drv::Options) -> drv::Surreal {
    w!(drv::Surreal::connect_with(server.url(), options)).expect("connect to the fake server")
}

case!(a_peer_that_never_completes_the_upgrade_fails_connect_within_the_timeout, {
    let server = FakeServer::start(|stream, ctx| ctx.hold(stream));
    let limit = Duration::from_millis(300);
    let started = Instant::now();
    let outcome = w!(drv::Surreal::connect_with(
        server.url(),
        options().connect_timeout(limit)
    ));
    let took = started.elapsed();
    match outcome {
        Err(drv::Error::Connect { reason, .. }) => assert!(
            mentions_timeout(&reason),
            "the connect error does not say the timeout expired: {reason}"
        ),
        other => panic!("expected Error::Connect for a silent peer, got {other:?}"),
    }
    assert!(
        took >= limit.saturating_sub(Duration::from_millis(20)),
        "gave up after {took:?}, before the connect timeout of {limit:?}"
    );
    assert!(took < Duration::from_secs(2), "connect took {took:?} (timeout {limit:?})");
    assert!(server.log().is_empty(), "{:?}", server.log());
});

case!(a_peer_without_the_cbor_subprotocol_is_refused, {
    let server = FakeServer::start(|stream, ctx| {
        // Upgrades without naming a subprotocol, then waits for the client to leave.
        if let Some(mut peer) = ctx.upgrade_with(stream, None) {
            while peer.next_request().is_some() {}
        }
    });
    let started = Instant::now();
    match w!(drv::Surreal::connect_with(server.url(), options())) {
        Err(drv::Error::Connect { reason, .. }) => assert!(reason.contains("cbor"), "{reason}"),
        other => panic!("expected Error::Connect for a peer without `cbor`, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(server.log().is_empty(), "a request went to a refused peer: {:?}", server.log());
});

case!(a_peer_that_is_not_http_is_a_handshake_error, {
    let server = FakeServer::start(|mut stream, ctx| {
        use std::io::{Read, Write};
        let mut buf = [0u8; 1024];
        // Whatever the client sent, the answer is not HTTP; the client may already be gone.
        let _ = stream.read(&mut buf);
        let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
        ctx.hold(stream);
    });
    let started = Instant::now();
    let e = w!(drv::Surreal::connect_with(server.url(), options()))
        .expect_err("an SSH banner is no WebSocket upgrade");
    assert!(matches!(e, drv::Error::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("handshake"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
});

case!(a_peer_that_trickles_its_upgrade_answer_fails_connect_within_the_timeout, {
    // Every read gets bytes well within the timeout (in chunks big enough not to look
    // like an attack to tungstenite), so only a bound on the whole upgrade ends it.
    let server = FakeServer::start(|mut stream, ctx| {
        use std::io::{Read, Write};
        let mut buf = [0u8; 1024];
        if stream.read(&mut buf).is_err() {
            return;
        }
        let mut chunk = b"HTTP/1.1 101 Switching Protocols\r\nX-Padding: ".to_vec();
        while !ctx.stopped() {
            chunk.resize(256, b'a');
            if stream.write_all(&chunk).is_err() {
                return;
            }
            chunk.clear();
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let limit = Duration::from_millis(300);
    let started = Instant::now();
    let outcome = w!(drv::Surreal::connect_with(
        server.url(),
        options().connect_timeout(limit)
    ));
    let took = started.elapsed();
    match outcome {
        Err(drv::Error::Connect { reason, .. }) => assert!(
            mentions_timeout(&reason),
            "the connect error does not say the timeout expired: {reason}"
        ),
        other => panic!("expected Error::Connect for a trickling peer, got {other:?}"),
    }
    assert!(took < Duration::from_secs(2), "connect took {took:?} (timeout {limit:?})");
});

case!(an_unanswered_request_times_out_once_and_the_connection_goes_on, {
    // The first request is never answered in time; its answer arrives late, just before
    // the answer to the next request, which must still get its own answer.
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        let mut ignored: Option<Option<i64>> = None;
        peer.serve(|peer, req| match ignored {
            None => {
                ignored = Some(req.id);
                true
            }
            Some(late) => {
                peer.reply(late, Value::from("a late answer to the timed-out request"));
                false
            }
        });
    });
    let limit = Duration::from_millis(300);
    let db = connect(&server, options().request_timeout(limit)).await;
    let events = db.events().expect("events");
    let started = Instant::now();
    let e = w!(db.ping()).expect_err("nobody answers this ping");
    let took = started.elapsed();
    assert!(e.is_timeout(), "expected a timeout, got {e:?}");
    assert!(
        took >= limit.saturating_sub(Duration::from_millis(20)),
        "failed after {took:?}, before the request timeout of {limit:?}: {e:?}"
    );
    assert!(took < Duration::from_secs(2), "timed out after {took:?} (timeout {limit:?})");
    let version = w!(db.version()).expect("the next request on the same handle");
    assert_eq!(version, VERSION, "the late answer went to the wrong caller");
    assert_eq!(server.count("ping"), 1, "the timed-out ping was re-sent: {:?}", server.log());
    assert_eq!(server.count("version"), 1, "{:?}", server.log());
    // A late answer to a timed-out request is dropped silently (conn.rs, "Late replies"),
    // and the timeout cost nothing but that request.
    let mut seen = Vec::new();
    wait_event(|| events.try_recv().ok(), Duration::ZERO, &mut seen, |_| false);
    assert!(
        !seen.iter().any(|e| matches!(
            e,
            ConnectionEvent::Error(_) | ConnectionEvent::Disconnected(_)
        )),
        "{seen:?}"
    );
});

case!(a_hang_up_before_the_answer_is_disconnected_and_nothing_is_resent, {
    let server = FakeServer::start(hang_up_on_first_request);
    let db = connect(&server, options()).await;
    let events = db.events().expect("events");
    let started = Instant::now();
    let e = w!(db.ping()).expect_err("the peer hangs up instead of answering");
    let took = started.elapsed();
    assert!(e.is_disconnected(), "expected Error::Disconnected, got {e:?}");
    assert!(took < Duration::from_secs(2), "noticed the hang-up after {took:?}");
    // The next request on the same handle waits for the reconnect and runs there.
    let version = w!(db.version()).expect("the next request, on the new connection");
    assert_eq!(version, VERSION);
    assert_eq!(requests(&server, "ping", 0).len(), 1, "{:?}", server.log());
    assert_eq!(
        requests(&server, "ping", 1).len(),
        0,
        "the ping that may have run was re-sent on the new socket: {:?}",
        server.log()
    );
    assert_eq!(requests(&server, "version", 1).len(), 1, "{:?}", server.log());
    let mut seen = Vec::new();
    assert!(
        wait_event(|| events.try_recv().ok(), Duration::from_secs(2), &mut seen, |e| {
            *e == ConnectionEvent::Reconnected
        }),
        "no Reconnected event: {seen:?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e, ConnectionEvent::Disconnected(_))),
        "{seen:?}"
    );
});

case!(a_hang_up_without_reconnecting_closes_for_good, {
    // Garbage instead of an answer, then the peer hangs up; with reconnecting off the
    // connection is closed for good and says so.
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        if peer.next_request().is_some() {
            peer.send_raw(vec![0xff, 0x00, 0x13]);
        }
    });
    let db = connect(&server, options().reconnect(false)).await;
    let events = db.events().expect("events");
    let started = Instant::now();
    let e = w!(db.ping()).expect_err("the peer hangs up instead of answering");
    assert!(e.is_disconnected() || e.is_closed(), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let mut seen = Vec::new();
    assert!(
        wait_event(|| events.try_recv().ok(), Duration::from_secs(2), &mut seen, |e| {
            *e == ConnectionEvent::Closed
        }),
        "no Closed event: {seen:?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e, ConnectionEvent::Error(_))),
        "the garbage frame was not reported: {seen:?}"
    );
    let e = w!(db.ping()).expect_err("closed for good");
    assert!(e.is_closed(), "{e:?}");
    assert_eq!(server.count("ping"), 1, "{:?}", server.log());
    assert!(server.log().iter().all(|r| r.conn == 0), "it reconnected: {:?}", server.log());
});

case!(a_peer_that_stops_reading_costs_one_request_and_the_socket, {
    // The first connection never reads, so a large request cannot be written out; the
    // request fails within its timeout and the stuck socket is replaced.
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        if ctx.conn == 0 {
            peer.stop_reading();
        } else {
            peer.serve(|_, _| false);
        }
    });
    let limit = Duration::from_millis(500);
    let db = connect(&server, options().request_timeout(limit)).await;
    let events = db.events().expect("events");
    // More than the kernel's socket buffers on both sides hold (a few MiB each by
    // default; 32 MiB covers generously tuned hosts too).
    let text = format!("RETURN '{}'", "x".repeat(32 * 1024 * 1024));
    let started = Instant::now();
    let e = w!(db.query(text)).expect_err("the peer reads nothing");
    let took = started.elapsed();
    assert!(e.is_timeout() || e.is_disconnected(), "{e:?}");
    assert!(took < Duration::from_secs(3), "failed after {took:?} (timeout {limit:?})");
    // The stuck socket is declared dead within the request timeout and replaced (a
    // request sent meanwhile may be caught in it: it was queued behind the stuck write).
    let mut seen = Vec::new();
    assert!(
        wait_event(|| events.try_recv().ok(), Duration::from_secs(3), &mut seen, |e| {
            *e == ConnectionEvent::Reconnected
        }),
        "the socket nobody reads was never replaced: {seen:?}"
    );
    let started = Instant::now();
    let version = w!(db.version()).expect("the next request, on a socket that is read");
    assert_eq!(version, VERSION);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "the next request took {took:?}");
    assert_eq!(server.count("query"), 0, "the stuck query was re-sent: {:?}", server.log());
    assert_eq!(requests(&server, "version", 1).len(), 1, "{:?}", server.log());
});

case!(a_close_frame_before_the_answer_is_disconnected_with_its_code, {
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        if ctx.conn == 0 {
            if peer.next_request().is_some() {
                peer.close_with(1011, "going for coffee");
            }
            return;
        }
        peer.serve(|_, _| false);
    });
    let db = connect(&server, options()).await;
    let events = db.events().expect("events");
    let started = Instant::now();
    let e = w!(db.ping()).expect_err("the peer closes instead of answering");
    assert!(e.is_disconnected(), "expected Error::Disconnected, got {e:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let mut seen = Vec::new();
    assert!(
        wait_event(|| events.try_recv().ok(), Duration::from_secs(2), &mut seen, |e| {
            matches!(e, ConnectionEvent::Disconnected(why) if why.contains("1011"))
        }),
        "no Disconnected event naming the close code: {seen:?}"
    );
    assert_eq!(w!(db.version()).expect("the next request"), VERSION);
    assert_eq!(requests(&server, "ping", 1).len(), 0, "re-sent: {:?}", server.log());
});

case!(an_idle_connection_notices_the_peer_leaving_and_replaces_the_socket, {
    // The first connection answers one request, then hangs up (no close frame) while the
    // client has nothing in flight: nobody reads an idle socket, yet the hang-up is seen.
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        if ctx.conn == 0 {
            if let Some(req) = peer.next_request() {
                peer.answer(&req);
            }
            std::thread::sleep(Duration::from_millis(200));
            return;
        }
        peer.serve(|_, _| false);
    });
    let db = connect(&server, options()).await;
    let events = db.events().expect("events");
    assert_eq!(w!(db.version()).expect("the first request"), VERSION);
    let mut seen = Vec::new();
    assert!(
        wait_event(|| events.try_recv().ok(), Duration::from_secs(3), &mut seen, |e| {
            *e == ConnectionEvent::Reconnected
        }),
        "the idle socket's hang-up was not noticed: {seen:?}"
    );
    let started = Instant::now();
    w!(db.ping()).expect("the next request, on the new socket");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(requests(&server, "ping", 1).len(), 1, "{:?}", server.log());
    assert_eq!(server.count("ping"), 1, "re-sent: {:?}", server.log());
});

case!(an_answer_and_a_close_frame_in_one_write_answer_and_then_reconnect, {
    // The client reads its answer and the close frame behind it at once; the answer is
    // delivered, and the close is acted on although nobody waits for anything.
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        if ctx.conn == 0 {
            if let Some(req) = peer.next_request() {
                peer.send_together(
                    &[reply(req.id, Value::from(VERSION))],
                    Some((1001, "going away")),
                );
            }
            std::thread::sleep(Duration::from_millis(200));
            return;
        }
        peer.serve(|_, _| false);
    });
    let db = connect(&server, options()).await;
    let events = db.events().expect("events");
    assert_eq!(w!(db.version()).expect("the answer before the close"), VERSION);
    let mut seen = Vec::new();
    assert!(
        wait_event(|| events.try_recv().ok(), Duration::from_secs(3), &mut seen, |e| {
            *e == ConnectionEvent::Reconnected
        }),
        "the close frame behind the answer was not acted on: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, ConnectionEvent::Disconnected(why) if why.contains("1001"))),
        "no Disconnected event naming the close code: {seen:?}"
    );
    w!(db.ping()).expect("the next request, on the new socket");
    assert_eq!(requests(&server, "ping", 1).len(), 1, "{:?}", server.log());
    assert_eq!(server.count("ping"), 1, "re-sent: {:?}", server.log());
});

case!(a_stray_frame_behind_an_answer_is_reported_and_the_next_request_works, {
    // An answer to an id never sent arrives in the same write as the real one, while
    // nothing else is awaited: it is read (and reported) when the socket is read next, and
    // the next request still gets its own answer. (A peer can always lie in an answer; an
    // answer sent ahead for an id not used yet is one more way, not a new risk.)
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        let mut first = true;
        peer.serve(|peer, req| {
            if !std::mem::take(&mut first) {
                return false;
            }
            let next = req.id.map(|id| id + 1_000_000);
            peer.send_together(
                &[
                    reply(req.id, Value::from(VERSION)),
                    reply(next, Value::from("an answer nobody asked for")),
                ],
                None,
            );
            true
        });
    });
    let db = connect(&server, options()).await;
    let events = db.events().expect("events");
    assert_eq!(w!(db.version()).expect("the first answer"), VERSION);
    assert_eq!(w!(db.version()).expect("the next request"), VERSION);
    let mut seen = Vec::new();
    assert!(
        wait_event(|| events.try_recv().ok(), Duration::from_secs(2), &mut seen, |e| {
            matches!(e, ConnectionEvent::Error(_))
        }),
        "the stray answer was not reported: {seen:?}"
    );
    assert!(
        !seen.iter().any(|e| matches!(e, ConnectionEvent::Disconnected(_))),
        "{seen:?}"
    );
    assert_eq!(server.count("version"), 2, "{:?}", server.log());
    assert!(server.log().iter().all(|r| r.conn == 0), "{:?}", server.log());
});

case!(a_live_request_answered_without_a_uuid_is_a_protocol_error, {
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        peer.serve(|peer, req| {
            if req.method != "live" {
                return false;
            }
            peer.reply(req.id, Value::from("not a uuid"));
            true
        });
    });
    let db = connect(&server, options()).await;
    match w!(db.live("t")) {
        Err(drv::Error::Protocol(why)) => assert!(why.contains("uuid"), "{why}"),
        other => panic!("expected Error::Protocol, got {other:?}"),
    }
    assert_eq!(w!(db.version()).expect("the next request"), VERSION);
    assert_eq!(server.count("live"), 1, "{:?}", server.log());
    // Nothing to kill: the server named no live query.
    assert_eq!(server.count("kill"), 0, "{:?}", server.log());
});

case!(a_query_stream_answered_with_a_plain_result_is_a_protocol_error, {
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        peer.serve(|peer, req| {
            if req.method != "query_stream" {
                return false;
            }
            peer.reply(req.id, Value::Array(vec![Value::Int(1)]));
            true
        });
    });
    let db = connect(&server, options()).await;
    let mut stream = w!(db.query_stream("SELECT * FROM t")).expect("query_stream");
    match w!(stream.next_timeout(Duration::from_secs(2))) {
        Err(drv::Error::Protocol(why)) => assert!(why.contains("query_stream"), "{why}"),
        other => panic!("expected Error::Protocol, got {other:?}"),
    }
    assert_eq!(w!(db.version()).expect("the next request"), VERSION);
    assert_eq!(server.count("query_stream"), 1, "{:?}", server.log());
});

case!(methods_a_3_0_server_lacks_are_not_supported_by_this_server_version, {
    // 3.0.x answers `graphql` and `query_stream` as unknown methods (-32601).
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        peer.serve(|peer, req| {
            if req.method != "query_stream" && req.method != "graphql" {
                return false;
            }
            let details = object(&[
                ("kind", Value::from("Method")),
                ("details", object(&[("name", Value::from("unknown"))])),
            ]);
            let error = object(&[
                ("code", Value::Int(-32601)),
                ("kind", Value::from("NotFound")),
                ("details", details),
                ("message", Value::from("Method not found")),
            ]);
            peer.send_value(&object(&[
                ("id", req.id.map_or(Value::None, Value::Int)),
                ("error", error),
            ]));
            true
        });
    });
    let db = connect(&server, options()).await;
    let gql = w!(db.graphql::<Value>("{ items { name } }", Value::None))
        .expect_err("graphql must fail");
    assert!(gql.is_not_supported(), "{gql:?}");
    assert!(gql.to_string().contains("not supported by this server version"), "{gql}");
    let streamed = match w!(db.query_stream("RETURN 1")) {
        Err(e) => e,
        Ok(mut stream) => w!(stream.next_timeout(Duration::from_secs(2)))
            .expect_err("query_stream must fail"),
    };
    assert!(streamed.is_not_supported(), "{streamed:?}");
    assert!(streamed.to_string().contains("not supported by this server version"), "{streamed}");
    // The connection goes on.
    assert_eq!(w!(db.version()).expect("the next request"), VERSION);
});

/// A server that, before answering the first request, sends `noise(request)` frames.
fn noisy_server(noise: fn(&Req) -> Vec<Vec<u8>>) -> FakeServer {
    FakeServer::start(move |stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        let mut first = true;
        peer.serve(|peer: &mut Peer, req| {
            if std::mem::take(&mut first) {
                for frame in noise(req) {
                    peer.send_raw(frame);
                }
            }
            false
        });
    })
}

/// Checks that the noise before the first answer was reported as an `Error` event and
/// that the connection stayed usable.
async fn survives_noise(server: FakeServer) {
    let db = connect(&server, options()).await;
    let events = db.events().expect("events");
    let version = w!(db.version()).expect("the answer after the noise");
    assert_eq!(version, VERSION);
    let mut seen = Vec::new();
    assert!(
        wait_event(|| events.try_recv().ok(), Duration::from_secs(2), &mut seen, |e| {
            matches!(e, ConnectionEvent::Error(_))
        }),
        "the bad frame was not reported as an Error event: {seen:?}"
    );
    w!(db.ping()).expect("the next request on the same connection");
    wait_event(|| events.try_recv().ok(), Duration::ZERO, &mut seen, |_| false);
    assert!(
        !seen.iter().any(|e| matches!(e, ConnectionEvent::Disconnected(_))),
        "a bad frame must not cost the connection: {seen:?}"
    );
    assert_eq!(server.count("version"), 1, "{:?}", server.log());
    assert_eq!(server.count("ping"), 1, "{:?}", server.log());
    assert!(server.log().iter().all(|r| r.conn == 0), "{:?}", server.log());
}

case!(a_garbage_frame_is_an_error_event_and_the_connection_stays_usable, {
    survives_noise(noisy_server(|_| vec![vec![0xff, 0x00, 0x13, 0x37]])).await;
});

case!(a_truncated_answer_fails_its_caller_at_once_and_the_connection_stays_usable, {
    // A valid prefix of the very answer the caller waits for, cut short, then the real
    // answer. The cut answer is its caller's (its id says so): the caller gets a decode
    // error naming the request at once, rather than waiting for an answer that may never
    // come; the late real answer is an answer to nobody, reported as an `Error` event.
    let server = noisy_server(|req| {
        let full = surql::cbor::encode(&reply(req.id, Value::from(VERSION)));
        vec![full[..full.len() - 4].to_vec()]
    });
    let db = connect(&server, options()).await;
    let events = db.events().expect("events");
    let started = Instant::now();
    match w!(db.version()) {
        Err(drv::Error::Decode { context, .. }) => {
            assert!(context.contains("version"), "the error does not name `version`: {context}")
        }
        other => panic!("expected Error::Decode for a cut answer, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    w!(db.ping()).expect("the next request on the same connection");
    let mut seen = Vec::new();
    assert!(
        wait_event(|| events.try_recv().ok(), Duration::from_secs(2), &mut seen, |e| {
            matches!(e, ConnectionEvent::Error(_))
        }),
        "the real answer after the cut one was not reported: {seen:?}"
    );
    assert!(
        !seen.iter().any(|e| matches!(e, ConnectionEvent::Disconnected(_))),
        "a bad frame must not cost the connection: {seen:?}"
    );
    assert_eq!(server.count("version"), 1, "re-sent: {:?}", server.log());
    assert!(server.log().iter().all(|r| r.conn == 0), "{:?}", server.log());
});

case!(an_answer_to_an_unknown_id_is_an_error_event_and_the_real_answer_wins, {
    survives_noise(noisy_server(|req| {
        let stray = req.id.map_or(1_000_000, |id| id + 1_000_000);
        vec![surql::cbor::encode(&reply(
            Some(stray),
            Value::from("an answer nobody asked for"),
        ))]
    }))
    .await;
});

case!(an_answer_with_a_malformed_id_is_an_error_event_and_the_real_answer_wins, {
    survives_noise(noisy_server(|_| {
        vec![surql::cbor::encode(&object(&[
            ("id", Value::from("not-a-number")),
            ("result", Value::from("an answer nobody can own")),
        ]))]
    }))
    .await;
});

case!(a_panicking_hook_is_dropped_and_the_connection_survives, {
    let server = FakeServer::start(hang_up_on_first_request);
    let db = connect(&server, options()).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    db.on_reconnect(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        panic!("this hook panics on purpose (hostile_ws)");
    });
    let events = db.events().expect("events");
    let e = w!(db.ping()).expect_err("the peer hangs up instead of answering");
    assert!(e.is_disconnected(), "{e:?}");
    let mut seen = Vec::new();
    assert!(
        wait_event(|| events.try_recv().ok(), Duration::from_secs(3), &mut seen, |e| {
            *e == ConnectionEvent::Reconnected
        }),
        "the connection did not come back after the hook panicked: {seen:?}"
    );
    // Called for the Disconnected event, then dropped: not called for Reconnected.
    assert_eq!(calls.load(Ordering::SeqCst), 1, "{seen:?}");
    let version = w!(db.version()).expect("a request after the panic");
    assert_eq!(version, VERSION);
    w!(db.ping()).expect("and another one");
});

case!(a_hook_calling_its_own_connection_fails_at_once, {
    let server = FakeServer::start(hang_up_on_first_request);
    let db = connect(&server, options()).await;
    // The hook reaches the connection through a slot emptied at the end, so it does not
    // keep the connection alive after the case.
    let slot = Arc::new(Mutex::new(Some(db.clone())));
    let (tx, outcomes) = mpsc::channel();
    let hook_slot = slot.clone();
    db.on_reconnect(move |event| {
        if !matches!(event, ConnectionEvent::Disconnected(_)) {
            return;
        }
        let own = hook_slot.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(own) = own {
            let started = Instant::now();
            let outcome = s!(own.ping());
            // The receiver lives until the case ends.
            let _ = tx.send((outcome, started.elapsed()));
        }
    });
    let e = w!(db.ping()).expect_err("the peer hangs up instead of answering");
    assert!(e.is_disconnected(), "{e:?}");
    let (outcome, took) = outcomes
        .recv_timeout(Duration::from_secs(5))
        .expect("the hook ran and its call returned (no deadlock)");
    let e = outcome.expect_err("a hook cannot call its own connection");
    assert!(e.is_invalid_input(), "expected Error::Invalid, got {e:?}");
    assert!(took < Duration::from_secs(1), "the refusal took {took:?}");
    let version = w!(db.version()).expect("the connection goes on");
    assert_eq!(version, VERSION);
    assert_eq!(server.count("ping"), 1, "the hook's ping went out: {:?}", server.log());
    *slot.lock().unwrap_or_else(|p| p.into_inner()) = None;
});

case!(every_duration_at_max_connects_answers_and_closes, {
    let server = FakeServer::start(well_behaved);
    let options = drv::Options::default()
        .connect_timeout(Duration::MAX)
        .request_timeout(Duration::MAX)
        .ping_interval(Duration::MAX)
        .backoff(Duration::MAX, Duration::MAX);
    let db = connect(&server, options).await;
    w!(db.ping()).expect("a request with Duration::MAX timeouts");
    assert_eq!(w!(db.version()).expect("version"), VERSION);
    db.close();
    let e = w!(db.ping()).expect_err("closed");
    assert!(e.is_closed(), "{e:?}");
    assert_eq!(server.count("ping"), 1, "{:?}", server.log());
});

case!(requests_right_after_close_fail_closed_at_once_even_while_others_wait, {
    let server = FakeServer::start(well_behaved);
    let db = connect(&server, options()).await;
    w!(db.ping()).expect("a request before the close");
    db.close();
    // Queued behind the close: the driver must answer it, not leave it waiting for the
    // caller's own bound (2 × request timeout + connect timeout).
    let started = Instant::now();
    let e = w!(db.ping()).expect_err("closed");
    let took = started.elapsed();
    assert!(e.is_closed(), "expected Error::Closed, got {e:?}");
    assert!(took < Duration::from_secs(1), "the refusal took {took:?}");
    // Then many at once: the IO thread is ending while the first callers that find others
    // waiting queue their request (its last turn must run what they queued), then gone for
    // the later ones (they must run the queue themselves).
    let started = Instant::now();
    let outcomes = pings_at_once(&db, 8, 10);
    let took = started.elapsed();
    for outcome in &outcomes {
        assert!(
            matches!(outcome, Err(e) if e.is_closed()),
            "expected Closed: {outcome:?}"
        );
    }
    assert!(took < Duration::from_secs(1), "80 calls on a closed client took {took:?}");
    assert_eq!(server.count("ping"), 1, "{:?}", server.log());
});

/// Frames the fake server floods an unread stream with.
const FLOOD: usize = 40;

case!(an_unread_query_stream_overflows_is_cancelled_and_blocks_nobody, {
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        peer.serve(|peer, req| {
            if req.method != "query_stream" {
                return false;
            }
            let id = req.id;
            let frame = |v: Value| reply(id, v);
            for _ in 0..FLOOD {
                peer.send_value(&frame(object(&[
                    ("stream", Value::from("rows")),
                    ("index", Value::Int(0)),
                    ("values", Value::Array(vec![Value::Int(1)])),
                ])));
            }
            peer.send_value(&frame(object(&[
                ("stream", Value::from("end")),
                ("results", Value::Int(1)),
                ("time", Value::from("1ms")),
            ])));
            true
        });
    });
    let buffer = 4;
    let db = connect(&server, options().stream_buffer(buffer)).await;
    let mut stream = w!(db.query_stream("SELECT * FROM t")).expect("query_stream");
    let request_id = Value::Int(stream.request_id() as i64);
    // Nobody reads the stream; other callers are not held up by it.
    let started = Instant::now();
    w!(db.ping()).expect("a ping next to the unread stream");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "the ping took {took:?}");
    let cancelled = server.wait_until(Duration::from_secs(3), |log| {
        log.iter()
            .any(|r| r.method == "query_cancel" && r.params.first() == Some(&request_id))
    });
    assert!(cancelled, "no query_cancel for {request_id:?}: {:?}", server.log());
    let mut frames = 0;
    let e = loop {
        match w!(stream.next_timeout(Duration::from_secs(2))) {
            Ok(Some(_)) => frames += 1,
            Ok(None) => panic!("the overflowed stream ended normally after {frames} frames"),
            Err(e) => break e,
        }
    };
    assert!(e.is_reader_too_slow(), "expected ReaderTooSlow, got {e:?}");
    assert!(frames <= buffer, "{frames} frames read, buffer {buffer}");
    assert_eq!(server.count("query_stream"), 1, "{:?}", server.log());
    assert_eq!(server.count("query_cancel"), 1, "{:?}", server.log());
    w!(db.ping()).expect("the connection goes on");
});

case!(an_unread_live_query_overflows_is_killed_and_blocks_nobody, {
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        peer.serve(|peer, req| {
            if req.method != "live" {
                return false;
            }
            peer.reply(req.id, Value::Uuid(LIVE_ID));
            for n in 0..FLOOD {
                let record = format!("t:{n}");
                peer.send_value(&object(&[(
                    "result",
                    object(&[
                        ("action", Value::from("CREATE")),
                        ("id", Value::Uuid(LIVE_ID)),
                        ("record", Value::from(record.as_str())),
                        ("result", object(&[("n", Value::Int(n as i64))])),
                    ]),
                )]));
            }
            true
        });
    });
    let buffer = 4;
    let db = connect(&server, options().live_buffer(buffer)).await;
    let mut live = w!(db.live("t")).expect("live");
    assert_eq!(live.id(), LIVE_ID);
    let started = Instant::now();
    w!(db.ping()).expect("a ping next to the unread live query");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "the ping took {took:?}");
    let killed = server.wait_until(Duration::from_secs(3), |log| {
        log.iter()
            .any(|r| r.method == "kill" && r.params.first() == Some(&Value::Uuid(LIVE_ID)))
    });
    assert!(killed, "no kill for the overflowed live query: {:?}", server.log());
    let mut items = 0;
    let e = loop {
        match w!(live.next_timeout(Duration::from_secs(2))) {
            Ok(Some(_)) => items += 1,
            Ok(None) => panic!("the overflowed live query ended normally after {items} items"),
            Err(e) => break e,
        }
    };
    assert!(e.is_reader_too_slow(), "expected ReaderTooSlow, got {e:?}");
    assert!(items <= buffer, "{items} notifications read, buffer {buffer}");
    assert_eq!(server.count("live"), 1, "{:?}", server.log());
    assert_eq!(server.count("kill"), 1, "{:?}", server.log());
    w!(db.ping()).expect("the connection goes on");
});

/// The SQL text of a `query` request (its first parameter).
fn sql_of(req: &Req) -> Value {
    req.params.first().cloned().unwrap_or(Value::None)
}

// A caller alone on the connection reads the socket itself (surql-ws): an answer that arrives
// in two halves, 150 ms apart, is still read whole, once.
case!(an_answer_split_across_slow_writes_reaches_the_caller_reading_it, {
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        peer.serve(|peer, req| {
            if req.method != "query" {
                return false;
            }
            let answer = reply(req.id, query_result(sql_of(req)));
            peer.send_value_split(&answer, Duration::from_millis(150));
            true
        });
    });
    let db = connect(&server, options()).await;
    for sql in ["RETURN 'first'", "RETURN 'second'"] {
        let started = Instant::now();
        let mut res = w!(db.query(sql)).expect("query answered in two halves");
        let echoed: String = res.take(0).expect("the echoed statement");
        assert_eq!(echoed, sql);
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "answered before the second half was sent"
        );
    }
    assert_eq!(server.count("query"), 2, "{:?}", server.log());
});

// Two callers at once: the server answers the second request first. Whoever reads the socket
// (a leading caller or the IO thread) must hand each answer to its own caller.
case!(answers_in_reverse_order_reach_their_own_callers, {
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        let mut held: Option<Req> = None;
        peer.serve(|peer, req| {
            if req.method != "query" {
                return false;
            }
            match held.take() {
                // The first query waits for the second, which is answered first.
                None => held = Some(req.clone()),
                Some(first) => {
                    peer.reply(req.id, query_result(sql_of(req)));
                    peer.reply(first.id, query_result(sql_of(&first)));
                }
            }
            true
        });
    });
    let db = connect(&server, options()).await;
    std::thread::scope(|scope| {
        let callers: Vec<_> = ["RETURN 'a'", "RETURN 'b'"]
            .into_iter()
            .map(|sql| {
                let db = db.clone();
                scope.spawn(move || {
                    futures_lite::future::block_on(async move {
                        let mut res = w!(db.query(sql)).expect("query");
                        let echoed: String = res.take(0).expect("the echoed statement");
                        (sql, echoed)
                    })
                })
            })
            .collect();
        for caller in callers {
            let (sql, echoed) = caller.join().expect("caller thread");
            assert_eq!(echoed, sql, "a caller got another caller's answer");
        }
    });
    assert_eq!(server.count("query"), 2, "{:?}", server.log());
    w!(db.ping()).expect("the connection goes on");
});

/// `rounds` rounds of `callers` threads each calling `ping` on `db` at once; every outcome.
fn pings_at_once(db: &drv::Surreal, callers: usize, rounds: usize) -> Vec<drv::Result<()>> {
    let mut out = Vec::new();
    for _ in 0..rounds {
        std::thread::scope(|scope| {
            let threads: Vec<_> = (0..callers)
                .map(|_| {
                    let db = db.clone();
                    scope.spawn(move || futures_lite::future::block_on(async { w!(db.ping()) }))
                })
                .collect();
            out.extend(threads.into_iter().map(|t| t.join().expect("caller thread")));
        });
    }
    out
}

case!(a_lane_that_never_opens_delays_no_caller_and_sends_nothing_twice, {
    // The first connection behaves; every later one (a lane) is accepted and never
    // upgraded.
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = attempts.clone();
    let server = FakeServer::start(move |stream, ctx| {
        if ctx.conn == 0 {
            well_behaved(stream, ctx);
        } else {
            seen.fetch_add(1, Ordering::SeqCst);
            ctx.hold(stream);
        }
    });
    let connect_timeout = Duration::from_millis(300);
    let db = connect(&server, options().connect_timeout(connect_timeout)).await;
    let started = Instant::now();
    let outcomes = pings_at_once(&db, 8, 20);
    let took = started.elapsed();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert!(attempts.load(Ordering::SeqCst) >= 1, "no lane was tried");
    // A caller never waits for a lane being opened (160 calls each waiting for the connect
    // timeout would take 48 s).
    assert!(took < Duration::from_secs(5), "160 pings took {took:?}");
    assert_eq!(db.websocket_connections(), 1);
    assert_eq!(requests(&server, "ping", 0).len(), 160, "{:?}", server.log());
    assert_eq!(server.count("ping"), 160, "a ping sent twice or lost");
    // Closing does not wait for the lane still being opened.
    let closing = Instant::now();
    drop(db);
    assert!(closing.elapsed() < Duration::from_secs(1), "{:?}", closing.elapsed());
});

case!(a_lane_whose_session_replay_fails_never_takes_a_request, {
    // Sign-in gives a token; a lane's replay of it (`authenticate`) is refused, so the lane
    // must not join: every request stays on the first connection.
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        let lane = ctx.conn > 0;
        peer.serve(move |peer, req| match req.method.as_str() {
            "signin" => {
                peer.reply(req.id, Value::from("jwt-1"));
                true
            }
            "authenticate" if lane => {
                let error = object(&[
                    ("code", Value::Int(-32002)),
                    ("kind", Value::from("NotAllowed")),
                    ("message", Value::from("There was a problem with authentication")),
                ]);
                peer.send_value(&object(&[
                    ("id", req.id.map_or(Value::None, Value::Int)),
                    ("error", error),
                ]));
                true
            }
            _ => false,
        });
    });
    let db = connect(&server, options()).await;
    w!(db.signin(&drv::Credentials::root("root", "root"))).expect("signin");
    let outcomes = pings_at_once(&db, 8, 20);
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert!(
        server.wait_until(Duration::from_secs(5), |log| log
            .iter()
            .any(|r| r.method == "authenticate" && r.conn > 0)),
        "no lane replayed the session: {:?}",
        server.log()
    );
    assert_eq!(db.websocket_connections(), 1);
    let pings: Vec<_> = server.log().into_iter().filter(|r| r.method == "ping").collect();
    assert_eq!(pings.len(), 160, "a ping sent twice or lost");
    assert!(pings.iter().all(|r| r.conn == 0), "a lane took a request: {pings:?}");
});

case!(a_lane_that_hangs_up_is_dropped_and_nothing_is_sent_twice, {
    // The first connection behaves; each lane answers three queries, then hangs up.
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        if ctx.conn == 0 {
            peer.serve(|peer, req| {
                if req.method != "query" {
                    return false;
                }
                peer.reply(req.id, query_result(sql_of(req)));
                true
            });
            return;
        }
        let mut answered = 0;
        while let Some(req) = peer.next_request() {
            if req.method != "query" {
                peer.answer(&req);
                continue;
            }
            peer.reply(req.id, query_result(sql_of(&req)));
            answered += 1;
            if answered == 3 {
                return; // dropping the peer closes the TCP connection
            }
        }
    });
    let db = connect(&server, options()).await;
    let mut failures = 0;
    let started = Instant::now();
    for round in 0..30 {
        for (sql, got) in echoes_at_once(&db, 8, &format!("r{round}")) {
            match got {
                Ok(echoed) => assert_eq!(echoed, sql, "a caller got another caller's answer"),
                // In flight on a lane when it hung up: it may or may not have run.
                Err(e) if e.is_disconnected() || e.is_closed() => failures += 1,
                Err(e) => panic!("{sql}: {e:?}"),
            }
        }
    }
    let took = started.elapsed();
    // Nobody waited for a request timeout (2 s) on a dead lane (30 rounds, generously).
    assert!(took < Duration::from_secs(30), "240 queries took {took:?}");
    let queries: Vec<_> = server.log().into_iter().filter(|r| r.method == "query").collect();
    let mut texts: Vec<_> = queries.iter().map(|r| format!("{:?}", r.params.first())).collect();
    let received = texts.len();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), received, "a query was sent twice");
    assert!(queries.iter().any(|r| r.conn > 0), "no lane took a query");
    // Only calls in flight on a lane as it hung up fail (a lane that died pauses the next).
    assert!(failures < 240 / 2, "{failures} of 240 failed");
    assert!(db.websocket_connections() <= drv::Options::default().ws_connections);
    // The client goes on.
    let mut res = w!(db.query("RETURN 'after'")).expect("a query after the lanes died");
    assert_eq!(res.take::<String>(0).expect("echo"), "RETURN 'after'");
});

/// `callers` threads each sending `RETURN '<tag>-<i>'` at once (a fake server echoes the
/// text); each one's text and outcome.
fn echoes_at_once(
    db: &drv::Surreal,
    callers: usize,
    tag: &str,
) -> Vec<(String, drv::Result<String>)> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..callers)
            .map(|i| {
                let db = db.clone();
                let sql = format!("RETURN '{tag}-{i}'");
                scope.spawn(move || {
                    let got = futures_lite::future::block_on(async {
                        let mut res = w!(db.query(sql.as_str()))?;
                        res.take::<String>(0).map_err(drv::Error::from)
                    });
                    (sql, got)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("caller thread")).collect()
    })
}

/// [`echoes_at_once`], every echo its own.
fn queries_at_once(db: &drv::Surreal, callers: usize, tag: &str) {
    for (sql, got) in echoes_at_once(db, callers, tag) {
        assert_eq!(got.expect("a query"), sql);
    }
}

case!(a_session_change_that_lands_after_its_caller_gave_up_retires_older_lanes, {
    // The first connection holds its answer to `let v = 2` until a query says "release":
    // the caller times out, the server then applies it late.
    let server = FakeServer::start(|stream, ctx| {
        let Some(mut peer) = ctx.upgrade(stream) else {
            return;
        };
        let first = ctx.conn == 0;
        let mut held: Option<Req> = None;
        peer.serve(move |peer, req| match req.method.as_str() {
            "let" if first && req.params.get(1) == Some(&Value::Int(2)) => {
                held = Some(req.clone());
                true
            }
            "query" => {
                let sql = sql_of(req);
                if sql.as_str().is_some_and(|s| s.contains("release")) {
                    if let Some(late) = held.take() {
                        peer.reply(late.id, Value::None);
                    }
                }
                peer.reply(req.id, query_result(sql));
                true
            }
            _ => false,
        });
    });
    let db = connect(&server, options()).await;
    w!(db.set("v", 1)).expect("let v = 1");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut round = 0;
    while db.websocket_connections() < 2 {
        assert!(Instant::now() < deadline, "no lane opened");
        queries_at_once(&db, 8, &format!("warm{round}"));
        round += 1;
    }
    let err = w!(db.set("v", 2)).expect_err("the held `let` times out");
    assert!(err.is_timeout(), "{err:?}");
    // Its outcome is unknown (the server may still apply it): no lane is used or opened.
    for r in 0..5 {
        queries_at_once(&db, 8, &format!("gap{r}"));
    }
    let mut res = w!(db.query("RETURN 'release'")).expect("release");
    assert_eq!(res.take::<String>(0).expect("echo"), "RETURN 'release'");
    // From here on the session has `v = 2`: lanes reopen from it, and no query may run on
    // a lane that replayed `v = 1`.
    let replayed_v2 = |log: &[Req], conn: usize| {
        log.iter().any(|r| {
            r.conn == conn && r.method == "let" && r.params.get(1) == Some(&Value::Int(2))
        })
    };
    let is_query = |r: &Req, tag: &str| {
        r.method == "query" && sql_of(r).as_str().is_some_and(|s| s.contains(tag))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut rounds = 0;
    loop {
        queries_at_once(&db, 8, &format!("after{rounds}"));
        rounds += 1;
        let log = server.log();
        let on_v2_lane = log
            .iter()
            .any(|r| is_query(r, "'after") && r.conn > 0 && replayed_v2(&log, r.conn));
        if on_v2_lane {
            break;
        }
        assert!(Instant::now() < deadline, "no lane reopened from `v = 2`");
    }
    let log = server.log();
    let gap: Vec<_> = log.iter().filter(|r| is_query(r, "'gap")).collect();
    assert_eq!(gap.len(), 40, "a query lost or sent twice");
    assert!(
        gap.iter().all(|q| q.conn == 0),
        "a query ran on a lane while the `let` was unsettled"
    );
    let after: Vec<_> = log.iter().filter(|r| is_query(r, "'after")).collect();
    assert_eq!(after.len(), 8 * rounds, "a query lost or sent twice");
    for q in after {
        assert!(
            q.conn == 0 || replayed_v2(&log, q.conn),
            "a query after the late `let v = 2` ran on lane {} with `v = 1`",
            q.conn
        );
    }
});
