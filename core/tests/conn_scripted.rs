//! Scripted-peer tests of the `Connection` state machine: simulated time, no sockets.

use std::time::{Duration, Instant};

use surql::conn::{Config, ConnError, Connection, Event, LiveEndReason, RequestId, State};
use surql::rpc::{Action, Method, Request, StreamFrame};
use surql::{Object, Table, Uuid, Value};

/// One side of the wire played by the test: reads what the client sent, answers by id.
struct Peer {
    conn: Connection,
    now: Instant,
}

/// One request as the server would see it.
#[derive(Debug, Clone)]
struct Sent {
    id: i64,
    method: String,
    params: Vec<Value>,
    session: Option<Value>,
}

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn uuid(b: u8) -> Uuid {
    Uuid([b; 16])
}

fn config() -> Config {
    Config {
        request_timeout: Duration::from_secs(10),
        ping_interval: Duration::from_secs(30),
        reconnect: true,
        backoff_initial: Duration::from_secs(1),
        backoff_max: Duration::from_secs(4),
        jitter_seed: Some(7),
    }
}

impl Peer {
    fn new(config: Config) -> Self {
        let now = Instant::now();
        Peer {
            conn: Connection::new(config, now),
            now,
        }
    }

    fn connected() -> Self {
        let mut p = Peer::new(config());
        p.conn.handle_connected(p.now);
        p
    }

    /// Everything the client wants to send, decoded.
    fn sent(&mut self) -> Vec<Sent> {
        let mut out = Vec::new();
        while let Some(frame) = self.conn.poll_transmit() {
            let v = surql::cbor::decode(&frame).expect("client frames are valid CBOR");
            let o = v.as_object().expect("a request is a map");
            out.push(Sent {
                id: o
                    .get("id")
                    .and_then(Value::as_int)
                    .expect("every request has an id"),
                method: o
                    .get("method")
                    .and_then(Value::as_str)
                    .expect("method")
                    .to_owned(),
                params: o
                    .get("params")
                    .and_then(Value::as_array)
                    .expect("params")
                    .to_vec(),
                session: o.get("session").cloned(),
            });
        }
        out
    }

    fn one(&mut self) -> Sent {
        let mut s = self.sent();
        assert_eq!(s.len(), 1, "expected exactly one request, got {s:?}");
        s.remove(0)
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }

    fn reply(&mut self, id: i64, result: Value) {
        let f = surql::cbor::encode(&obj(vec![("id", Value::Int(id)), ("result", result)]));
        self.conn.handle_frame(&f, self.now);
    }

    fn reply_err(&mut self, id: i64, message: &str) {
        let err = obj(vec![
            ("cause", Value::None),
            ("code", Value::Int(-32002)),
            ("kind", Value::from("NotAllowed")),
            ("message", Value::from(message)),
        ]);
        let f = surql::cbor::encode(&obj(vec![("error", err), ("id", Value::Int(id))]));
        self.conn.handle_frame(&f, self.now);
    }

    fn notify(&mut self, live: Uuid, action: &str) {
        let n = obj(vec![
            ("action", Value::from(action)),
            ("id", Value::Uuid(live)),
            ("record", Value::None),
            ("result", Value::Int(1)),
        ]);
        let f = surql::cbor::encode(&obj(vec![("result", n)]));
        self.conn.handle_frame(&f, self.now);
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.conn.handle_timeout(self.now);
    }

    fn send(&mut self, req: Request) -> RequestId {
        self.conn.send(req, self.now)
    }

    /// How long until the machine wants `handle_timeout` (panics if never).
    fn wait(&self) -> Duration {
        let t = self.conn.poll_timeout().expect("a timer is armed");
        assert!(t >= self.now, "poll_timeout in the past");
        t - self.now
    }

    /// Asserts the reconnect delay is jittered within `[backoff/2, backoff]`, then lets it
    /// pass and expects `Event::Reconnect`. Returns the delay.
    fn reconnect_after(&mut self, backoff: Duration) -> Duration {
        let d = self.wait();
        assert!(
            d >= backoff / 2 && d <= backoff,
            "delay {d:?} outside [{:?}, {backoff:?}]",
            backoff / 2
        );
        self.advance(d);
        assert_eq!(self.events(), vec![Event::Reconnect]);
        d
    }
}

fn ok(id: RequestId, v: Value) -> Event {
    Event::Response {
        id,
        result: Ok(v.into()),
    }
}

#[test]
fn request_response_and_out_of_order_answers() {
    let mut p = Peer::connected();
    let a = p.send(Request::ping());
    let b = p.send(Request::new(Method::Version, vec![]));
    let sent = p.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!((sent[0].id, sent[0].method.as_str()), (a.0 as i64, "ping"));
    assert_eq!(
        (sent[1].id, sent[1].method.as_str()),
        (b.0 as i64, "version")
    );
    assert!(b.0 > a.0, "ids increase");
    p.reply(sent[1].id, Value::from("surrealdb-3.3.5"));
    p.reply(sent[0].id, Value::None);
    assert_eq!(
        p.events(),
        vec![ok(b, Value::from("surrealdb-3.3.5")), ok(a, Value::None)]
    );
}

#[test]
fn requests_queue_until_the_first_connect_and_still_time_out() {
    let mut p = Peer::new(config());
    assert_eq!(p.conn.state(), State::Connecting);
    let a = p.send(Request::ping());
    assert!(
        p.sent().is_empty(),
        "nothing goes out before the socket is open"
    );
    p.now += Duration::from_secs(2);
    p.conn.handle_connected(p.now);
    assert!(p.conn.is_connected());
    let s = p.one();
    assert_eq!(s.id, a.0 as i64);
    assert!(p.events().is_empty(), "a first connect is not a reconnect");

    let mut q = Peer::new(config());
    let b = q.send(Request::ping());
    assert_eq!(q.conn.poll_timeout(), Some(q.now + Duration::from_secs(10)));
    q.advance(Duration::from_secs(10));
    assert_eq!(
        q.events(),
        vec![Event::Response {
            id: b,
            result: Err(ConnError::Timeout {
                method: Method::Ping,
                after: Duration::from_secs(10)
            })
        }]
    );
}

#[test]
fn timeout_then_late_reply_is_dropped_silently() {
    let mut p = Peer::connected();
    let a = p.send(Request::ping());
    let s = p.one();
    p.advance(Duration::from_secs(9));
    assert!(p.events().is_empty());
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.events(),
        vec![Event::Response {
            id: a,
            result: Err(ConnError::Timeout {
                method: Method::Ping,
                after: Duration::from_secs(10)
            })
        }]
    );
    p.reply(s.id, Value::None);
    assert!(p.events().is_empty(), "late reply dropped silently");
    p.reply(999, Value::None);
    assert!(matches!(p.events().as_slice(), [Event::ProtocolError(m)] if m.contains("999")));
}

fn idless_parse_error() -> Vec<u8> {
    let err = obj(vec![
        ("cause", Value::None),
        ("code", Value::Int(-32700)),
        ("kind", Value::from("Validation")),
        ("message", Value::from("Parse error")),
    ]);
    surql::cbor::encode(&obj(vec![("error", err)]))
}

#[test]
fn garbage_frames_change_nothing() {
    let mut p = Peer::connected();
    p.send(Request::ping());
    p.send(Request::new(Method::Version, vec![]));
    let _ = p.sent();
    p.conn.handle_frame(&[0xff, 0x00, 0x13], p.now);
    assert!(
        matches!(p.events().as_slice(), [Event::ProtocolError(m)] if m.contains("frame ignored"))
    );
    assert_eq!(p.conn.pending_requests(), 2, "garbage changes nothing");
}

#[test]
fn idless_error_fails_only_the_requests_it_can_concern() {
    let mut p = Peer::connected();
    // In flight, without params: the server cannot have failed to decode these.
    let ping = p.send(Request::ping());
    let begin = p.send(Request::new(Method::Begin, vec![]));
    // In flight with caller values: candidates.
    let query = p.send(Request::query("SELECT 1", Object::new()));
    let (live, h) = p
        .conn
        .send_live(Request::live(Table::new("t"), false), p.now);
    // A barrier holds the next request back: it is not on the wire, so it is innocent.
    let u = p.send(Request::use_ns_db("a", "b"));
    let held = p.send(Request::query("SELECT 2", Object::new()));
    let sent = p.sent();
    assert_eq!(
        sent.iter().map(|s| s.method.as_str()).collect::<Vec<_>>(),
        vec!["ping", "begin", "query", "live", "use"]
    );
    // Another caller's request was already answered: untouched.
    p.reply(sent[0].id, Value::None);
    assert_eq!(p.events(), vec![ok(ping, Value::None)]);

    p.conn.handle_frame(&idless_parse_error(), p.now);
    let ev = p.events();
    assert!(
        matches!(&ev[0], Event::ProtocolError(m) if m.contains("could not decode")),
        "{ev:?}"
    );
    let failed: Vec<RequestId> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Response {
                id,
                result: Err(ConnError::Protocol(m)),
            } if m.contains("did not say which one") => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec![query, live, u]);
    assert!(
        ev.contains(&Event::LiveEnded {
            handle: h,
            reason: LiveEndReason::SubscribeFailed(ConnError::Protocol(
                "the server rejected a request it could not decode, and did not say which one: Parse error (Validation, code -32700)".to_owned()
            ))
        }),
        "{ev:?}"
    );
    assert!(!failed.contains(&begin) && !failed.contains(&held));
    // The barrier failed, so the held request goes out now.
    let s = p.one();
    assert_eq!(s.method, "query");
    p.reply(s.id, Value::Array(vec![]));
    assert_eq!(p.events(), vec![ok(held, Value::Array(vec![]))]);
    p.reply(sent[1].id, Value::Uuid(uuid(9)));
    assert_eq!(p.events(), vec![ok(begin, Value::Uuid(uuid(9)))]);

    // Late answers of the innocent ones are reconciled: dropped, or the live query killed.
    p.reply(sent[2].id, Value::Array(vec![]));
    p.reply(sent[4].id, Value::None);
    assert!(p.events().is_empty(), "late answers dropped silently");
    assert!(p.sent().is_empty());
    p.reply(sent[3].id, Value::Uuid(uuid(4)));
    assert!(p.events().is_empty());
    let k = p.one();
    assert_eq!(
        (k.method.as_str(), k.params.clone()),
        ("kill", vec![Value::Uuid(uuid(4))])
    );
    p.notify(uuid(4), "CREATE");
    assert!(
        p.events().is_empty(),
        "the killed query's stragglers are quiet"
    );
    // Still usable.
    let c = p.send(Request::ping());
    let s = p.one();
    p.reply(s.id, Value::None);
    assert_eq!(p.events(), vec![ok(c, Value::None)]);
}

#[test]
fn idless_error_with_no_candidate_is_only_reported() {
    let mut p = Peer::connected();
    let a = p.send(Request::ping());
    let s = p.one();
    p.conn.handle_frame(&idless_parse_error(), p.now);
    assert!(matches!(p.events().as_slice(), [Event::ProtocolError(_)]));
    assert_eq!(p.conn.pending_requests(), 1);
    p.reply(s.id, Value::None);
    assert_eq!(p.events(), vec![ok(a, Value::None)]);
}

#[test]
fn late_begin_after_timeout_is_cancelled() {
    let mut p = Peer::connected();
    p.conn.send(
        Request::new(Method::Begin, vec![]).with_session(uuid(3)),
        p.now,
    );
    let s = p.one();
    p.advance(Duration::from_secs(10));
    assert!(matches!(
        p.events().as_slice(),
        [Event::Response {
            result: Err(ConnError::Timeout {
                method: Method::Begin,
                ..
            }),
            ..
        }]
    ));
    p.reply(s.id, Value::Uuid(uuid(8)));
    assert!(p.events().is_empty());
    let c = p.one();
    assert_eq!(
        (c.method.as_str(), c.params.clone(), c.session.clone()),
        (
            "cancel",
            vec![Value::Uuid(uuid(8))],
            Some(Value::Uuid(uuid(3)))
        )
    );
    p.reply(c.id, Value::None);
    assert!(p.events().is_empty(), "the cancel's answer is internal");
    // A late failure of a begin needs nothing.
    p.send(Request::new(Method::Begin, vec![]));
    let s = p.one();
    p.advance(Duration::from_secs(10));
    let _ = p.events();
    p.reply_err(s.id, "no");
    assert!(p.events().is_empty());
    assert!(p.sent().is_empty());
}

#[test]
fn late_stream_frames_after_timeout_cancel_the_stream_once() {
    let mut p = Peer::connected();
    let id = p.send(Request::new(
        Method::QueryStream,
        vec![Value::from("SELECT * FROM t")],
    ));
    let s = p.one();
    p.advance(Duration::from_secs(10));
    assert!(matches!(
        p.events().as_slice(),
        [Event::Response { id: i, result: Err(ConnError::Timeout { .. }) }] if *i == id
    ));
    let rows = obj(vec![
        ("index", Value::Int(0)),
        ("stream", Value::from("rows")),
        ("values", Value::Array(vec![Value::Int(1)])),
    ]);
    p.reply(s.id, rows.clone());
    p.reply(s.id, rows);
    assert!(p.events().is_empty(), "late frames are dropped");
    let c = p.one();
    assert_eq!(
        (c.method.as_str(), c.params.clone()),
        ("query_cancel", vec![Value::Int(s.id)])
    );
    let end = obj(vec![
        ("results", Value::Int(1)),
        ("stream", Value::from("end")),
        ("time", Value::from("1ms")),
    ]);
    p.reply(s.id, end);
    assert!(p.events().is_empty());
    assert!(p.sent().is_empty(), "cancelled once");
}

#[test]
fn keepalive_ping_and_dead_connection() {
    let mut p = Peer::connected();
    assert_eq!(p.conn.poll_timeout(), Some(p.now + Duration::from_secs(30)));
    p.advance(Duration::from_secs(30));
    let ping = p.one();
    assert_eq!(ping.method, "ping");
    p.reply(ping.id, Value::None);
    assert!(p.events().is_empty(), "keep-alive answers are internal");
    p.advance(Duration::from_secs(30));
    let _ping = p.one();
    p.advance(Duration::from_secs(10));
    let ev = p.events();
    assert!(
        matches!(ev.as_slice(), [Event::Disconnected { reason }] if reason.contains("keep-alive")),
        "{ev:?}"
    );
    assert_eq!(p.conn.state(), State::WaitingToReconnect);
    // The driver also reports the socket gone: nothing happens twice.
    p.conn.handle_disconnect(p.now);
    assert!(p.events().is_empty());
}

#[test]
fn disconnect_fails_in_flight_and_backoff_doubles() {
    let mut p = Peer::connected();
    let a = p.send(Request::ping());
    let _ = p.sent();
    p.conn.handle_disconnect(p.now);
    let ev = p.events();
    assert_eq!(ev.len(), 2);
    assert!(matches!(&ev[0], Event::Disconnected { .. }));
    let Event::Response { id, result: Err(e) } = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!(*id, a);
    assert!(
        e.to_string().contains("may or may not have executed"),
        "{e}"
    );
    p.reconnect_after(Duration::from_secs(1));
    assert_eq!(p.conn.state(), State::Connecting);
    p.conn.handle_connect_failed(p.now, "refused".into());
    assert!(
        matches!(p.events().as_slice(), [Event::Disconnected { reason }] if reason.contains("refused"))
    );
    p.reconnect_after(Duration::from_secs(2));
    p.conn.handle_connect_failed(p.now, "refused".into());
    let _ = p.events();
    p.reconnect_after(Duration::from_secs(4));
    p.conn.handle_connect_failed(p.now, "refused".into());
    let _ = p.events();
    // Capped at `backoff_max`.
    p.reconnect_after(Duration::from_secs(4));
}

#[test]
fn no_reconnect_means_closed() {
    let mut p = Peer::new(Config {
        reconnect: false,
        ..config()
    });
    p.conn.handle_connected(p.now);
    let a = p.send(Request::ping());
    let _ = p.sent();
    p.conn.handle_disconnect(p.now);
    let ev = p.events();
    assert!(matches!(ev.first(), Some(Event::Disconnected { .. })));
    assert!(
        matches!(ev.get(1), Some(Event::Response { id, result: Err(ConnError::Disconnected { .. }) }) if *id == a)
    );
    assert_eq!(ev.last(), Some(&Event::Closed));
    assert_eq!(p.conn.state(), State::Closed);
    let b = p.send(Request::ping());
    assert_eq!(
        p.events(),
        vec![Event::Response {
            id: b,
            result: Err(ConnError::Closed)
        }]
    );
}

#[test]
fn session_changes_are_barriers() {
    let mut p = Peer::connected();
    let u = p.send(Request::use_ns_db("app", "main"));
    let q = p.send(Request::query("SELECT 1", Object::new()));
    let s = p.one();
    assert_eq!(s.method, "use");
    p.reply(s.id, Value::None);
    let s2 = p.one();
    assert_eq!(s2.method, "query", "held until `use` was answered");
    assert_eq!(p.events(), vec![ok(u, Value::None)]);
    p.reply(s2.id, Value::Array(vec![]));
    assert_eq!(p.events(), vec![ok(q, Value::Array(vec![]))]);
}

/// Signs in, selects ns/db, sets a var and a live query; then loses the socket.
fn session_then_disconnect() -> (Peer, surql::conn::LiveHandle) {
    let mut p = Peer::connected();
    p.send(Request::signin(Object::new()));
    let s = p.one();
    p.reply(s.id, Value::from("jwt-1"));
    p.send(Request::use_ns_db("app", "main"));
    let s = p.one();
    p.reply(s.id, Value::None);
    p.send(Request::let_var("x", Value::Int(1)));
    let s = p.one();
    p.reply(s.id, Value::Null);
    let (_, h) = p
        .conn
        .send_live(Request::live(Table::new("person"), false), p.now);
    let s = p.one();
    assert_eq!(s.method, "live");
    p.reply(s.id, Value::Uuid(uuid(1)));
    let _ = p.events();
    p.conn.handle_disconnect(p.now);
    assert!(matches!(
        p.events().as_slice(),
        [Event::Disconnected { .. }]
    ));
    (p, h)
}

#[test]
fn reconnect_replays_one_step_at_a_time_and_holds_user_requests() {
    let (mut p, h) = session_then_disconnect();
    let user = p.send(Request::query("SELECT 1", Object::new()));
    p.advance(Duration::from_secs(1));
    assert_eq!(p.events(), vec![Event::Reconnect]);
    p.conn.handle_connected(p.now);
    assert_eq!(p.conn.state(), State::Replaying);

    let s = p.one();
    assert_eq!(
        (s.method.as_str(), s.params.clone()),
        ("authenticate", vec![Value::from("jwt-1")])
    );
    p.reply(s.id, Value::None);
    let s = p.one();
    assert_eq!(
        (s.method.as_str(), s.params.clone()),
        ("use", vec![Value::from("app"), Value::from("main")])
    );
    p.reply(s.id, Value::None);
    let s = p.one();
    assert_eq!(
        (s.method.as_str(), s.params.clone()),
        ("let", vec![Value::from("x"), Value::Int(1)])
    );
    p.reply(s.id, Value::Null);
    let s = p.one();
    assert_eq!(s.method, "live");
    assert!(
        p.events().is_empty(),
        "user requests stay held during replay"
    );
    p.reply(s.id, Value::Uuid(uuid(2)));
    assert_eq!(
        p.events(),
        vec![
            Event::LiveRemapped {
                handle: h,
                old: uuid(1),
                new: uuid(2)
            },
            Event::Reconnected
        ]
    );
    assert!(p.conn.is_connected());
    let s = p.one();
    assert_eq!(s.method, "query", "released after the replay");
    p.reply(s.id, Value::Array(vec![]));
    assert_eq!(p.events(), vec![ok(user, Value::Array(vec![]))]);
    // Notifications follow the new id; the old one is unknown now.
    p.notify(uuid(2), "UPDATE");
    assert!(matches!(p.events().as_slice(), [Event::Notification { handle, .. }] if *handle == h));
    assert_eq!(p.conn.live_id(h), Some(uuid(2)));
}

#[test]
fn replay_failure_is_reported_and_replay_goes_on() {
    let (mut p, h) = session_then_disconnect();
    p.advance(Duration::from_secs(1));
    let _ = p.events();
    p.conn.handle_connected(p.now);
    let s = p.one();
    p.reply_err(s.id, "The token has expired");
    let ev = p.events();
    assert!(
        matches!(ev.as_slice(), [Event::ReplayFailed { method: Method::Authenticate, error: ConnError::Server(e) }] if e.message == "The token has expired"),
        "{ev:?}"
    );
    let s = p.one();
    assert_eq!(s.method, "use");
    p.reply(s.id, Value::None);
    let s = p.one();
    assert_eq!(s.method, "let");
    p.reply(s.id, Value::Null);
    // The live query is not re-issued anonymously (it could see less, or nothing).
    assert!(p.sent().is_empty());
    let ev = p.events();
    assert!(
        matches!(&ev[0], Event::LiveEnded { handle, reason: LiveEndReason::RestoreFailed(ConnError::ReplayFailed { method: Method::Authenticate, .. }) } if *handle == h),
        "{ev:?}"
    );
    assert_eq!(ev.last(), Some(&Event::Reconnected));
    // The failed token is not replayed again next time.
    p.conn.handle_disconnect(p.now);
    p.advance(Duration::from_secs(1));
    let _ = p.events();
    p.conn.handle_connected(p.now);
    assert_eq!(p.one().method, "use");
}

#[test]
fn notifications_before_the_live_id_are_buffered() {
    let mut p = Peer::connected();
    let (id, h) = p.conn.send_live(
        Request::query("LIVE SELECT * FROM person", Object::new()),
        p.now,
    );
    let s = p.one();
    p.notify(uuid(5), "CREATE");
    p.notify(uuid(5), "UPDATE");
    assert!(p.events().is_empty(), "buffered, not lost");
    let rows = Value::Array(vec![obj(vec![
        ("result", Value::Uuid(uuid(5))),
        ("status", Value::from("OK")),
        ("time", Value::from("1ms")),
        ("type", Value::from("live")),
    ])]);
    p.reply(s.id, rows.clone());
    let ev = p.events();
    assert_eq!(ev[0], ok(id, rows));
    let actions: Vec<Action> = ev[1..]
        .iter()
        .map(|e| match e {
            Event::Notification {
                handle,
                notification,
            } if *handle == h => notification.action.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(actions, vec![Action::Create, Action::Update]);
}

#[test]
fn killed_ends_the_subscription() {
    let mut p = Peer::connected();
    let (_, h) = p
        .conn
        .send_live(Request::live(Table::new("t"), false), p.now);
    let s = p.one();
    p.reply(s.id, Value::Uuid(uuid(3)));
    let _ = p.events();
    p.notify(uuid(3), "KILLED");
    assert_eq!(
        p.events(),
        vec![Event::LiveEnded {
            handle: h,
            reason: LiveEndReason::Killed
        }]
    );
    p.notify(uuid(3), "UPDATE");
    assert!(
        p.events().is_empty(),
        "stragglers of an ended query are dropped quietly"
    );
}

#[test]
fn unsubscribe_sends_kill_and_consumes_its_answer() {
    let mut p = Peer::connected();
    let (_, h) = p
        .conn
        .send_live(Request::live(Table::new("t"), false), p.now);
    let s = p.one();
    p.reply(s.id, Value::Uuid(uuid(3)));
    let _ = p.events();
    p.conn.unsubscribe(h, p.now);
    assert_eq!(
        p.events(),
        vec![Event::LiveEnded {
            handle: h,
            reason: LiveEndReason::Unsubscribed
        }]
    );
    let k = p.one();
    assert_eq!(
        (k.method.as_str(), k.params.clone()),
        ("kill", vec![Value::Uuid(uuid(3))])
    );
    p.reply(k.id, Value::None);
    p.notify(uuid(3), "KILLED");
    assert!(p.events().is_empty());

    // Unsubscribed before the id is known: killed when it arrives.
    let (_, h2) = p
        .conn
        .send_live(Request::live(Table::new("t"), false), p.now);
    let s = p.one();
    p.conn.unsubscribe(h2, p.now);
    p.reply(s.id, Value::Uuid(uuid(4)));
    let ev = p.events();
    assert_eq!(
        ev[0],
        Event::LiveEnded {
            handle: h2,
            reason: LiveEndReason::Unsubscribed
        }
    );
    let k = p.one();
    assert_eq!(
        (k.method.as_str(), k.params.clone()),
        ("kill", vec![Value::Uuid(uuid(4))])
    );
}

#[test]
fn failed_live_request_ends_the_handle() {
    let mut p = Peer::connected();
    let (id, h) = p
        .conn
        .send_live(Request::live(Table::new("nope"), false), p.now);
    let s = p.one();
    p.reply_err(s.id, "The table 'nope' does not exist");
    let ev = p.events();
    assert!(
        matches!(&ev[0], Event::Response { id: i, result: Err(ConnError::Server(_)) } if *i == id)
    );
    assert!(
        matches!(&ev[1], Event::LiveEnded { handle, reason: LiveEndReason::SubscribeFailed(_) } if *handle == h)
    );
}

#[test]
fn query_stream_frames_route_to_the_request() {
    let mut p = Peer::connected();
    let id = p.send(Request::new(
        Method::QueryStream,
        vec![Value::from("SELECT * FROM t")],
    ));
    let s = p.one();
    let rows = obj(vec![
        ("index", Value::Int(0)),
        ("stream", Value::from("rows")),
        ("values", Value::Array(vec![Value::Int(1)])),
    ]);
    p.reply(s.id, rows);
    let end = obj(vec![
        ("results", Value::Int(1)),
        ("stream", Value::from("end")),
        ("time", Value::from("1ms")),
    ]);
    p.reply(s.id, end);
    assert_eq!(
        p.events(),
        vec![
            Event::Stream {
                id,
                frame: StreamFrame::Rows {
                    index: 0,
                    values: vec![Value::Int(1)]
                }
            },
            Event::Stream {
                id,
                frame: StreamFrame::End {
                    results: 1,
                    time: "1ms".into(),
                    error: None
                }
            },
        ]
    );
    assert_eq!(p.conn.pending_requests(), 0);
}

#[test]
fn close_fails_everything() {
    let mut p = Peer::connected();
    let a = p.send(Request::ping());
    let (_, h) = p
        .conn
        .send_live(Request::live(Table::new("t"), false), p.now);
    let _ = p.sent();
    p.conn.close();
    let ev = p.events();
    assert!(ev.contains(&Event::Response {
        id: a,
        result: Err(ConnError::Closed)
    }));
    assert!(ev.contains(&Event::LiveEnded {
        handle: h,
        reason: LiveEndReason::ConnectionClosed
    }));
    assert_eq!(ev.last(), Some(&Event::Closed));
    assert_eq!(p.conn.poll_timeout(), None);
}

#[test]
fn lost_transactions_fail_fast_after_reconnect() {
    let mut p = Peer::connected();
    p.send(Request::new(Method::Begin, vec![]));
    let s = p.one();
    p.reply(s.id, Value::Uuid(uuid(8)));
    let _ = p.events();
    p.conn.handle_disconnect(p.now);
    p.advance(Duration::from_secs(1));
    p.conn.handle_connected(p.now);
    let _ = p.events();
    let q = p.send(Request::query("UPDATE x", Object::new()).with_txn(uuid(8)));
    assert!(p.sent().is_empty());
    assert_eq!(
        p.events(),
        vec![Event::Response {
            id: q,
            result: Err(ConnError::TransactionLost { txn: uuid(8) })
        }]
    );
}

#[test]
fn attached_sessions_are_replayed() {
    let mut p = Peer::connected();
    p.send(Request::new(Method::Attach, vec![]).with_session(uuid(7)));
    let s = p.one();
    p.reply(s.id, Value::None);
    p.send(Request::use_ns_db("a", "b").with_session(uuid(7)));
    let s = p.one();
    p.reply(s.id, Value::None);
    p.conn.handle_disconnect(p.now);
    p.advance(Duration::from_secs(1));
    p.conn.handle_connected(p.now);
    let s = p.one();
    assert_eq!(
        (s.method.as_str(), s.session.clone()),
        ("attach", Some(Value::Uuid(uuid(7))))
    );
    p.reply(s.id, Value::None);
    let s = p.one();
    assert_eq!(
        (s.method.as_str(), s.session.clone()),
        ("use", Some(Value::Uuid(uuid(7))))
    );
}

#[test]
fn fuzz_seeds_do_not_panic() {
    let seeds: Vec<Vec<u8>> = vec![
        vec![],
        vec![7, 0, 1, 0, 4, 0, 9, 0, 6, 0, 5, 40, 7, 2, 4, 1],
        vec![1, 3, 3, 5, 0xa1, 0x62, b'i', b'd', 4, 1, 10, 0, 2, 0],
        (0..=255u8).collect(),
        (0..512).map(|i| (i * 37 % 251) as u8).collect(),
    ];
    for s in seeds {
        surql::conn::fuzz_connection_ops(&s, std::time::Instant::now());
        surql::rpc::fuzz_decode_incoming(&s);
    }
}

#[test]
fn user_replies_arrive_as_undecoded_bytes_and_read_into_any_type() {
    let mut p = Peer::connected();
    let id = p.send(Request::new(Method::Select, vec![Value::from("person")]));
    let s = p.one();
    let rows = Value::Array(vec![obj(vec![("age", Value::Int(3))])]);
    p.reply(s.id, rows.clone());
    let ev = p.events();
    let [Event::Response {
        id: got,
        result: Ok(payload),
    }] = ev.as_slice()
    else {
        panic!("expected one response, got {ev:?}");
    };
    assert_eq!(*got, id);
    assert_eq!(
        payload.raw_bytes(),
        Some(&surql::cbor::encode(&rows)[..]),
        "kept as the reply's bytes"
    );
    assert_eq!(payload.deserialize::<Vec<Object>>().map(|v| v.len()), Ok(1));
    assert_eq!(payload.to_value(), Ok(rows));
}

#[test]
fn a_user_reply_with_a_broken_result_fails_only_when_read() {
    let mut p = Peer::connected();
    let id = p.send(Request::new(Method::Version, vec![]));
    let s = p.one();
    // {id, result: "\xff"} — a text string that is not UTF-8.
    let mut frame = vec![0xa2, 0x62, b'i', b'd'];
    frame.push(u8::try_from(s.id).expect("small id"));
    frame.extend_from_slice(&[0x66, b'r', b'e', b's', b'u', b'l', b't', 0x61, 0xff]);
    p.conn.handle_frame(&frame, p.now);
    let ev = p.events();
    let [Event::Response {
        id: got,
        result: Ok(payload),
    }] = ev.as_slice()
    else {
        panic!("expected one response, got {ev:?}");
    };
    assert_eq!(*got, id);
    let e = payload.deserialize::<String>().expect_err("not UTF-8");
    assert!(e.message.contains("UTF-8"), "{e}");
    assert!(payload.to_value().is_err());
}

#[test]
fn a_user_reply_cut_short_or_with_trailing_bytes_fails_when_read_naming_the_method() {
    // The reply's final `result` is handed over without being walked: bytes after it, or
    // a result cut short, reach the caller, whose read refuses them (instead of the frame
    // being dropped and the caller left waiting for its timeout).
    for broken in [
        |mut f: Vec<u8>| {
            f.push(0x00);
            f
        },
        |mut f: Vec<u8>| {
            f.pop();
            f
        },
    ] {
        let mut p = Peer::connected();
        let id = p.send(Request::new(Method::Version, vec![]));
        let s = p.one();
        let frame = surql::cbor::encode(&obj(vec![
            ("id", Value::Int(s.id)),
            ("result", Value::from("surrealdb-3.3.5")),
        ]));
        p.conn.handle_frame(&broken(frame), p.now);
        let ev = p.events();
        let [Event::Response {
            id: got,
            result: Ok(payload),
        }] = ev.as_slice()
        else {
            panic!("expected one response, got {ev:?}");
        };
        assert_eq!(*got, id);
        assert_eq!(p.conn.pending_requests(), 0);
        let e = surql::client::version()
            .decode_payload(payload.clone())
            .expect_err("not one item");
        let surql::client::CallError::Decode { method, source } = &e else {
            panic!("expected a decode error, got {e:?}");
        };
        assert_eq!(*method, "version");
        assert!(source.0.contains("invalid CBOR at byte"), "{source}");
    }
}

fn pair(access: &str, refresh: &str) -> Value {
    obj(vec![
        ("access", Value::from(access)),
        ("refresh", Value::from(refresh)),
    ])
}

#[test]
fn duration_max_everywhere_never_panics_nor_spins() {
    let max = Config {
        request_timeout: Duration::MAX,
        ping_interval: Duration::MAX,
        reconnect: true,
        backoff_initial: Duration::MAX,
        backoff_max: Duration::MAX,
        jitter_seed: Some(1),
    };
    let mut p = Peer::new(max.clone());
    let a = p.send(Request::ping());
    assert_eq!(p.conn.poll_timeout(), None, "no limit means no timer");
    p.conn.handle_connected(p.now);
    let s = p.one();
    p.advance(Duration::from_secs(1_000_000_000));
    assert!(p.events().is_empty(), "never times out");
    assert!(p.sent().is_empty(), "never pings");
    p.reply(s.id, Value::None);
    assert_eq!(p.events(), vec![ok(a, Value::None)]);
    // Streams refresh their deadline on every frame.
    p.send(Request::new(Method::QueryStream, vec![Value::from("x")]));
    let s = p.one();
    p.reply(
        s.id,
        obj(vec![
            ("index", Value::Int(0)),
            ("stream", Value::from("rows")),
            ("values", Value::Array(vec![])),
        ]),
    );
    let _ = p.events();
    // Reconnect: the delay cannot be represented, so no timer; the driver may still
    // reconnect on its own.
    p.conn.handle_disconnect(p.now);
    let _ = p.events();
    assert_eq!(p.conn.state(), State::WaitingToReconnect);
    assert_eq!(p.conn.poll_timeout(), None);
    p.conn.handle_connected(p.now);
    assert!(p.conn.is_connected());
    p.conn
        .handle_connect_failed(p.now, "ignored while connected".into());
    p.conn.handle_disconnect(p.now);
    let _ = p.events();
    assert_eq!(p.conn.poll_timeout(), None);

    // A representable first delay with an unbounded cap: doubling saturates.
    let mut q = Peer::new(Config {
        backoff_initial: Duration::from_secs(1),
        backoff_max: Duration::MAX,
        request_timeout: Duration::from_secs(10),
        ping_interval: Duration::MAX,
        ..max
    });
    let b = q.send(Request::ping());
    let mut delays = Vec::new();
    for _ in 0..200 {
        q.conn.handle_connect_failed(q.now, "refused".into());
        let _ = q.events();
        let Some(t) = q.conn.poll_timeout() else {
            break;
        };
        assert!(t >= q.now);
        delays.push(t - q.now);
        // The queued request times out on its own schedule, never in a spin.
        q.now = t;
        q.conn.handle_timeout(q.now);
    }
    assert!(delays.len() > 20, "{delays:?}");
    assert!(delays.windows(2).all(|w| w[1] >= w[0] / 2), "{delays:?}");
    assert_eq!(q.conn.poll_timeout(), None, "eventually beyond any instant");
    let ev = q.events();
    assert!(ev.is_empty(), "{ev:?}");
    let _ = b;

    // A short timeout with MAX keep-alive still times out.
    let mut r = Peer::new(Config {
        request_timeout: Duration::from_secs(10),
        ..Config {
            ping_interval: Duration::MAX,
            ..config()
        }
    });
    r.conn.handle_connected(r.now);
    let c = r.send(Request::ping());
    let _ = r.sent();
    assert_eq!(r.wait(), Duration::from_secs(10));
    r.advance(Duration::from_secs(10));
    assert!(matches!(
        r.events().as_slice(),
        [Event::Response { id, result: Err(ConnError::Timeout { .. }) }] if *id == c
    ));
    assert_eq!(r.conn.poll_timeout(), None);
}

#[test]
fn backoff_resets_only_after_a_successful_replay() {
    let (mut p, _h) = session_then_disconnect();
    // The server accepts each socket and drops it during the replay: delays keep growing.
    for backoff in [1, 2, 4, 4] {
        p.reconnect_after(Duration::from_secs(backoff));
        p.conn.handle_connected(p.now);
        assert_eq!(p.one().method, "authenticate");
        p.conn.handle_disconnect(p.now);
        let _ = p.events();
    }
    // A replay with a failed step is not a success either.
    p.reconnect_after(Duration::from_secs(4));
    p.conn.handle_connected(p.now);
    let s = p.one();
    p.reply_err(s.id, "The token has expired");
    for _ in 0..3 {
        let s = p.one();
        let v = if s.method == "live" {
            Value::Uuid(uuid(2))
        } else {
            Value::None
        };
        p.reply(s.id, v);
        if p.conn.is_connected() {
            break;
        }
    }
    assert!(p.conn.is_connected());
    let _ = p.events();
    p.conn.handle_disconnect(p.now);
    let _ = p.events();
    p.reconnect_after(Duration::from_secs(4));
    // A clean replay resets it.
    p.conn.handle_connected(p.now);
    loop {
        let s = p.one();
        p.reply(s.id, Value::None);
        if p.conn.is_connected() {
            break;
        }
    }
    let _ = p.events();
    p.conn.handle_disconnect(p.now);
    let _ = p.events();
    p.reconnect_after(Duration::from_secs(1));
}

#[test]
fn reconnect_delays_are_jittered_per_seed() {
    let delays = |seed: Option<u64>| -> Vec<Duration> {
        let mut p = Peer::new(Config {
            jitter_seed: seed,
            backoff_initial: Duration::from_secs(8),
            backoff_max: Duration::from_secs(8),
            ..config()
        });
        (0..8)
            .map(|_| {
                p.conn.handle_connect_failed(p.now, "refused".into());
                let _ = p.events();
                p.reconnect_after(Duration::from_secs(8))
            })
            .collect()
    };
    let a = delays(Some(1));
    assert_eq!(a, delays(Some(1)), "a fixed seed repeats");
    assert_ne!(a, delays(Some(2)), "another seed differs");
    assert!(
        a.windows(2).any(|w| w[0] != w[1]),
        "delays vary within one connection: {a:?}"
    );
    // Unseeded connections (as in two processes) do not move in lockstep.
    assert_ne!(delays(None), delays(None));
}

#[test]
fn refresh_updates_the_token_the_replay_sends() {
    let mut p = Peer::connected();
    p.send(Request::signin(Object::new()));
    let s = p.one();
    p.reply(s.id, pair("access-1", "refresh-1"));
    let _ = p.events();
    let r = p.send(Request::new(
        Method::Refresh,
        vec![pair("access-1", "refresh-1")],
    ));
    let q = p.send(Request::query("SELECT 1", Object::new()));
    let s = p.one();
    assert_eq!(
        s.method, "refresh",
        "refresh is a barrier: the query waits for it"
    );
    p.reply(s.id, pair("access-2", "refresh-2"));
    assert_eq!(p.events(), vec![ok(r, pair("access-2", "refresh-2"))]);
    let s = p.one();
    p.reply(s.id, Value::Array(vec![]));
    assert_eq!(p.events(), vec![ok(q, Value::Array(vec![]))]);
    let st = p
        .conn
        .session_state(None)
        .expect("the default session is known");
    assert_eq!(
        (st.token.as_deref(), st.refresh.as_deref()),
        (Some("access-2"), Some("refresh-2"))
    );
    p.conn.handle_disconnect(p.now);
    p.advance(Duration::from_secs(1));
    p.conn.handle_connected(p.now);
    let s = p.one();
    assert_eq!(
        (s.method.as_str(), s.params.clone()),
        ("authenticate", vec![Value::from("access-2")])
    );
}

#[test]
fn a_failed_replay_fails_the_requests_held_for_that_session() {
    let mut p = Peer::connected();
    p.send(Request::signin(Object::new()));
    let s = p.one();
    p.reply(s.id, Value::from("jwt-1"));
    p.send(Request::new(Method::Attach, vec![]).with_session(uuid(7)));
    let s = p.one();
    p.reply(s.id, Value::None);
    p.conn
        .send(Request::use_ns_db("a", "b").with_session(uuid(7)), p.now);
    let s = p.one();
    p.reply(s.id, Value::None);
    let (_, h) = p
        .conn
        .send_live(Request::live(Table::new("t"), false), p.now);
    let s = p.one();
    p.reply(s.id, Value::Uuid(uuid(1)));
    let _ = p.events();
    p.conn.handle_disconnect(p.now);
    let _ = p.events();
    // Queued during the outage: two on the default session, one on the attached one.
    let q1 = p.send(Request::query("SELECT secret FROM t", Object::new()));
    let (q2, h2) = p
        .conn
        .send_live(Request::live(Table::new("t"), false), p.now);
    let other = p.conn.send(
        Request::query("SELECT 1", Object::new()).with_session(uuid(7)),
        p.now,
    );
    p.advance(Duration::from_secs(1));
    let _ = p.events();
    p.conn.handle_connected(p.now);
    let s = p.one();
    assert_eq!(s.method, "authenticate");
    p.reply_err(s.id, "The token has expired");
    let ev = p.events();
    let replay_err = |method| ConnError::ReplayFailed {
        method,
        error: Box::new(ConnError::Server({
            let mut e = surql::rpc::ServerError::new(
                surql::rpc::ErrorKind::from_wire("NotAllowed"),
                "The token has expired",
            );
            e.code = Some(-32002);
            e
        })),
    };
    assert!(
        matches!(
            &ev[0],
            Event::ReplayFailed {
                method: Method::Authenticate,
                ..
            }
        ),
        "{ev:?}"
    );
    assert!(
        ev.contains(&Event::Response {
            id: q1,
            result: Err(replay_err(Method::Authenticate))
        }),
        "{ev:?}"
    );
    assert!(
        ev.contains(&Event::Response {
            id: q2,
            result: Err(replay_err(Method::Authenticate))
        }),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| matches!(e, Event::LiveEnded { handle, reason: LiveEndReason::SubscribeFailed(ConnError::ReplayFailed { .. }) } if *handle == h2)), "{ev:?}");
    assert!(!ev
        .iter()
        .any(|e| matches!(e, Event::Response { id, .. } if *id == other)));
    // Sent while the replay still runs: refused the same way.
    let late = p.send(Request::query("SELECT 2", Object::new()));
    assert_eq!(
        p.events(),
        vec![Event::Response {
            id: late,
            result: Err(replay_err(Method::Authenticate))
        }]
    );
    // The attached session restores fine; its request runs.
    let s = p.one();
    assert_eq!(
        (s.method.as_str(), s.session.clone()),
        ("attach", Some(Value::Uuid(uuid(7))))
    );
    p.reply(s.id, Value::None);
    let s = p.one();
    assert_eq!(s.method, "use");
    p.reply(s.id, Value::None);
    // The default session's live query is not re-issued anonymously.
    let ev = p.events();
    assert!(
        matches!(&ev[0], Event::LiveEnded { handle, reason: LiveEndReason::RestoreFailed(ConnError::ReplayFailed { method: Method::Authenticate, .. }) } if *handle == h),
        "{ev:?}"
    );
    assert_eq!(ev.last(), Some(&Event::Reconnected));
    let s = p.one();
    assert_eq!(
        (s.method.as_str(), s.session.clone()),
        ("query", Some(Value::Uuid(uuid(7))))
    );
    p.reply(s.id, Value::Array(vec![]));
    assert_eq!(p.events(), vec![ok(other, Value::Array(vec![]))]);
    // After the replay the (now anonymous) default session accepts requests again; the
    // caller was told through `Event::ReplayFailed`.
    p.send(Request::ping());
    assert_eq!(p.one().method, "ping");
}

#[test]
fn a_failed_attach_skips_the_rest_of_that_session() {
    let mut p = Peer::connected();
    p.conn.send(
        Request::new(Method::Attach, vec![]).with_session(uuid(7)),
        p.now,
    );
    let s = p.one();
    p.reply(s.id, Value::None);
    p.conn
        .send(Request::use_ns_db("a", "b").with_session(uuid(7)), p.now);
    let s = p.one();
    p.reply(s.id, Value::None);
    p.conn.send(
        Request::let_var("v", Value::Int(1)).with_session(uuid(7)),
        p.now,
    );
    let s = p.one();
    p.reply(s.id, Value::None);
    let _ = p.events();
    p.conn.handle_disconnect(p.now);
    let held = p.conn.send(
        Request::query("SELECT 1", Object::new()).with_session(uuid(7)),
        p.now,
    );
    p.advance(Duration::from_secs(1));
    let _ = p.events();
    p.conn.handle_connected(p.now);
    let s = p.one();
    assert_eq!(s.method, "attach");
    p.reply_err(s.id, "too many sessions");
    let ev = p.events();
    assert!(
        matches!(
            &ev[0],
            Event::ReplayFailed {
                method: Method::Attach,
                ..
            }
        ),
        "{ev:?}"
    );
    assert!(
        matches!(&ev[1], Event::Response { id, result: Err(ConnError::ReplayFailed { method: Method::Attach, .. }) } if *id == held),
        "{ev:?}"
    );
    assert_eq!(ev.last(), Some(&Event::Reconnected));
    assert!(
        p.sent().is_empty(),
        "no use/let on a session that does not exist"
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let mut p = Peer::connected();
    let mut creds = Object::new();
    creds.insert("user".into(), Value::from("root"));
    creds.insert("pass".into(), Value::from("SECRETPASS"));
    p.send(Request::signin(creds.clone()));
    let s = p.one();
    p.reply(s.id, Value::from("SECRETTOKEN"));
    let _ = p.events();
    // One in flight, one held behind it: both carry secrets.
    p.send(Request::signup(creds.clone()));
    p.send(Request::authenticate("SECRETTOKEN"));
    p.send(Request::new(
        Method::Refresh,
        vec![pair("SECRETTOKEN", "SECRETTOKEN")],
    ));
    let text = format!(
        "{:?} {:?} {:?} {:?} {:?}",
        p.conn,
        p.conn.session_state(None),
        Request::signin(creds),
        Request::authenticate("SECRETTOKEN"),
        Request::new(Method::Revoke, vec![pair("SECRETTOKEN", "SECRETTOKEN")]),
    );
    for secret in ["SECRETPASS", "SECRETTOKEN"] {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(text.contains("redacted"), "{text}");
    // Ordinary params stay visible.
    assert!(format!("{:?}", Request::use_ns_db("app", "main")).contains("app"));
}

#[test]
fn a_late_session_change_is_still_tracked_for_the_replay() {
    let mut p = Peer::connected();
    p.send(Request::use_ns_db("app", "main"));
    let s = p.one();
    p.advance(Duration::from_secs(10));
    let _ = p.events();
    // The server did switch, after the caller gave up.
    p.reply(s.id, Value::None);
    assert!(p.events().is_empty());
    p.conn.handle_disconnect(p.now);
    p.advance(Duration::from_secs(1));
    p.conn.handle_connected(p.now);
    let s = p.one();
    assert_eq!(
        (s.method.as_str(), s.params.clone()),
        ("use", vec![Value::from("app"), Value::from("main")])
    );
}

#[test]
fn a_seeded_session_is_replayed_before_the_first_request() {
    let mut p = Peer::new(config());
    let mut state = surql::session::SessionState {
        token: Some("jwt-9".into()),
        ns: Some("app".into()),
        db: Some("main".into()),
        ..Default::default()
    };
    state.vars.insert("x".into(), Value::Int(1));
    p.conn.seed_session(state.clone());
    let user = p.send(Request::query("RETURN $x", Object::new()));
    p.conn.handle_connected(p.now);
    assert_eq!(p.conn.state(), State::Replaying);
    for (method, params) in [
        ("authenticate", vec![Value::from("jwt-9")]),
        ("use", vec![Value::from("app"), Value::from("main")]),
        ("let", vec![Value::from("x"), Value::Int(1)]),
    ] {
        let s = p.one();
        assert_eq!((s.method.as_str(), s.params.clone()), (method, params));
        p.reply(s.id, Value::None);
    }
    assert_eq!(p.events(), vec![Event::Reconnected]);
    let s = p.one();
    assert_eq!(s.method, "query", "held until the session is restored");
    p.reply(s.id, Value::Array(vec![]));
    assert_eq!(p.events(), vec![ok(user, Value::Array(vec![]))]);
    assert_eq!(p.conn.session_state(None), Some(&state));
    // Once connected, a seed changes nothing.
    p.conn.seed_session(Default::default());
    assert_eq!(p.conn.session_state(None), Some(&state));
}

#[test]
fn an_empty_seed_connects_without_a_replay() {
    let mut p = Peer::new(config());
    p.conn.seed_session(Default::default());
    p.conn.handle_connected(p.now);
    assert!(p.conn.is_connected());
    assert!(p.sent().is_empty());
}

#[test]
fn the_session_version_moves_with_every_change_of_the_default_session() {
    let mut p = Peer::connected();
    let v0 = p.conn.session_version();
    // A plain request changes nothing.
    p.send(Request::query("RETURN 1", Object::new()));
    let s = p.one();
    p.reply(s.id, Value::Array(vec![]));
    assert_eq!(p.conn.session_version(), v0);
    // An answered session change: bumped before its answer is handed out.
    let handle = p.conn.session_version_handle();
    p.send(Request::let_var("x", Value::Int(1)));
    let s = p.one();
    p.reply(s.id, Value::Null);
    let v1 = handle.load(std::sync::atomic::Ordering::SeqCst);
    assert!(v1 > v0);
    // A change whose caller gave up (timed out) still counts when its answer lands late.
    p.send(Request::use_ns_db("app", "main"));
    let s = p.one();
    p.advance(Duration::from_secs(10));
    let _ = p.events();
    assert_eq!(p.conn.session_version(), v1, "not applied yet");
    p.reply(s.id, Value::None);
    let v2 = p.conn.session_version();
    assert!(v2 > v1, "a late session change moves the version");
    // A change of an attached session does not move the default session's version.
    let mut attached = Request::let_var("y", Value::Int(2));
    attached.session = Some(uuid(4));
    p.send(attached);
    let s = p.one();
    p.reply(s.id, Value::Null);
    assert_eq!(p.conn.session_version(), v2);
}

#[test]
fn a_refused_re_authentication_moves_the_session_version() {
    let (mut p, _) = session_then_disconnect();
    let before = p.conn.session_version();
    p.advance(Duration::from_secs(1));
    let _ = p.events();
    p.conn.handle_connected(p.now);
    let s = p.one();
    assert_eq!(s.method, "authenticate");
    p.reply_err(s.id, "token expired");
    assert!(p.conn.session_version() > before, "the token is forgotten");
}
