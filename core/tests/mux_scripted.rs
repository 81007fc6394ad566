//! Scripted tests of the `Mux`: the routing both drivers share (answers to their callers,
//! live ids, stream and live buffers with their overflow rule, gone readers, closing when
//! idle). Simulated time, mock sinks, no sockets.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use surql::conn::RequestId;
use surql::mux::{
    Action, ConnectionEvent, ItemSink, LiveItem, Mux, Offer, Outbox, Reply, ReplySink,
};
use surql::rpc::{Method, Request, StreamFrame};
use surql::{Error, Options, Table, Uuid, Value};

/// What a mock reply sink received; `gone` makes it refuse like a caller that left.
#[derive(Default)]
struct ReplyLog {
    got: Vec<Result<Reply, Error>>,
    gone: bool,
}

struct MockReply(Rc<RefCell<ReplyLog>>);

impl ReplySink for MockReply {
    fn deliver(self, answer: Result<Reply, Error>) -> bool {
        let mut log = self.0.borrow_mut();
        if log.gone {
            return false;
        }
        log.got.push(answer);
        true
    }
}

/// A bounded mock buffer: `capacity` items, `gone` = the reader dropped it.
struct BufLog<T> {
    items: VecDeque<T>,
    capacity: usize,
    gone: bool,
    finished: Vec<Option<Error>>,
}

struct MockBuf<T>(Rc<RefCell<BufLog<T>>>);

impl<T> ItemSink<T> for MockBuf<T> {
    fn offer(&mut self, item: T) -> Offer {
        let mut log = self.0.borrow_mut();
        if log.gone {
            Offer::Gone
        } else if log.items.len() >= log.capacity {
            Offer::Full
        } else {
            log.items.push_back(item);
            Offer::Taken
        }
    }

    fn finish(self, error: Option<Error>) {
        self.0.borrow_mut().finished.push(error);
    }
}

struct Mock;

impl Outbox for Mock {
    type Reply = MockReply;
    type Stream = MockBuf<StreamFrame>;
    type Live = MockBuf<LiveItem>;
}

fn reply() -> (MockReply, Rc<RefCell<ReplyLog>>) {
    let log = Rc::new(RefCell::new(ReplyLog::default()));
    (MockReply(log.clone()), log)
}

fn buf<T>(capacity: usize) -> (MockBuf<T>, Rc<RefCell<BufLog<T>>>) {
    let log = Rc::new(RefCell::new(BufLog {
        items: VecDeque::new(),
        capacity,
        gone: false,
        finished: Vec::new(),
    }));
    (MockBuf(log.clone()), log)
}

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

struct Peer {
    mux: Mux<Mock>,
    now: Instant,
}

impl Peer {
    fn connected(options: Options) -> Peer {
        let now = Instant::now();
        let mut mux = Mux::new(&options, now);
        mux.handle_connected(now);
        Peer { mux, now }
    }

    /// `(id, method, params)` of everything the client wants to send.
    fn sent(&mut self) -> Vec<(i64, String, Vec<Value>)> {
        let mut out = Vec::new();
        while let Some(frame) = self.mux.poll_transmit() {
            let v = surql::cbor::decode(&frame).expect("valid CBOR");
            let o = v.as_object().expect("a map");
            out.push((
                o.get("id").and_then(Value::as_int).expect("id"),
                o.get("method")
                    .and_then(Value::as_str)
                    .expect("method")
                    .to_owned(),
                o.get("params")
                    .and_then(Value::as_array)
                    .expect("params")
                    .to_vec(),
            ));
        }
        out
    }

    fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.mux.poll_action()).collect()
    }

    fn reply(&mut self, id: i64, result: Value) {
        let f = surql::cbor::encode(&obj(vec![("id", Value::Int(id)), ("result", result)]));
        self.mux.handle_frame(&f, self.now);
    }

    fn notify(&mut self, live: Uuid, n: i64) {
        let body = obj(vec![
            ("action", Value::from("CREATE")),
            ("id", Value::Uuid(live)),
            ("record", Value::None),
            ("result", Value::Int(n)),
        ]);
        let f = surql::cbor::encode(&obj(vec![("result", body)]));
        self.mux.handle_frame(&f, self.now);
    }

    fn rows(&mut self, id: i64, n: i64) {
        self.reply(
            id,
            obj(vec![
                ("index", Value::Int(0)),
                ("stream", Value::from("rows")),
                ("values", Value::Array(vec![Value::Int(n)])),
            ]),
        );
    }

    fn end(&mut self, id: i64) {
        self.reply(
            id,
            obj(vec![
                ("results", Value::Int(1)),
                ("stream", Value::from("end")),
                ("time", Value::from("1ms")),
            ]),
        );
    }
}

fn live_request() -> Request {
    Request::live(Table::new("person"), false)
}

#[test]
fn answers_reach_their_own_callers() {
    let mut p = Peer::connected(Options::default());
    let (a, a_log) = reply();
    let (b, b_log) = reply();
    p.mux.call(Request::ping(), a, p.now);
    p.mux.call(Request::new(Method::Version, vec![]), b, p.now);
    let sent = p.sent();
    assert_eq!(sent.len(), 2);
    // answer out of order
    p.reply(sent[1].0, Value::from("surrealdb-3.3.5"));
    p.reply(sent[0].0, Value::None);
    let a = a_log.borrow();
    let b = b_log.borrow();
    assert_eq!(a.got.len(), 1);
    assert_eq!(b.got.len(), 1);
    match &b.got[0] {
        Ok(Reply::Payload(v)) => assert_eq!(
            v.clone().into_value().unwrap(),
            Value::from("surrealdb-3.3.5")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_live_answer_becomes_its_id_and_notifications_flow() {
    let mut p = Peer::connected(Options::default());
    let (r, r_log) = reply();
    let (sink, items) = buf::<LiveItem>(8);
    p.mux.live(live_request(), r, sink, p.now);
    let (id, method, _) = p.sent().remove(0);
    assert_eq!(method, "live");
    let live = Uuid([7; 16]);
    p.reply(id, Value::Uuid(live));
    assert!(matches!(&r_log.borrow().got[0], Ok(Reply::Live { id, .. }) if *id == live));
    p.notify(live, 1);
    p.notify(live, 2);
    assert_eq!(items.borrow().items.len(), 2);
    assert!(items.borrow().finished.is_empty());
}

#[test]
fn a_reconnect_tells_the_live_reader_its_new_id_before_the_new_notifications() {
    let mut p = Peer::connected(Options::default());
    let (r, _r_log) = reply();
    let (sink, items) = buf::<LiveItem>(8);
    p.mux.live(live_request(), r, sink, p.now);
    let (id, _, _) = p.sent().remove(0);
    let (old, new) = (Uuid([1; 16]), Uuid([2; 16]));
    p.reply(id, Value::Uuid(old));
    p.notify(old, 1);
    p.mux.handle_disconnect("test".into(), p.now);
    // Reconnect after the backoff, then the machine re-issues the live query.
    p.now += Duration::from_secs(60);
    p.mux.handle_timeout(p.now);
    assert!(p.actions().contains(&Action::OpenSocket));
    p.mux.handle_connected(p.now);
    let (id, method, _) = p.sent().remove(0);
    assert_eq!(method, "live");
    p.reply(id, Value::Uuid(new));
    p.notify(new, 2);
    let log = items.borrow();
    let got: Vec<String> = log
        .items
        .iter()
        .map(|i| match i {
            LiveItem::Notification(n) => format!("n{:?}", n.result),
            LiveItem::Resubscribed { old: o, new: n } => {
                format!("resub {} {}", o.as_bytes()[0], n.as_bytes()[0])
            }
        })
        .collect();
    assert_eq!(got, vec!["nInt(1)", "resub 1 2", "nInt(2)"]);
    assert!(log.finished.is_empty());
    drop(log);
    assert!(p
        .actions()
        .contains(&Action::Notify(ConnectionEvent::LiveRemapped { old, new })));
}

#[test]
fn a_caller_that_left_before_the_live_answer_gets_its_live_query_killed() {
    let mut p = Peer::connected(Options::default());
    let (r, r_log) = reply();
    let (sink, items) = buf::<LiveItem>(8);
    p.mux.live(live_request(), r, sink, p.now);
    let (id, _, _) = p.sent().remove(0);
    // The `live()` future is dropped while its request is in flight.
    r_log.borrow_mut().gone = true;
    let live = Uuid([9; 16]);
    p.reply(id, Value::Uuid(live));
    let sent = p.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1, "kill");
    assert_eq!(sent[0].2, vec![Value::Uuid(live)]);
    assert_eq!(p.mux.waiting(), 0, "nothing left for anyone");
    assert!(items.borrow().items.is_empty());
}

#[test]
fn a_live_reader_too_slow_ends_with_an_error_and_the_live_query_is_killed() {
    let options = Options::default().live_buffer(2);
    let mut p = Peer::connected(options);
    let (r, _r_log) = reply();
    let (sink, items) = buf::<LiveItem>(2);
    p.mux.live(live_request(), r, sink, p.now);
    let (id, _, _) = p.sent().remove(0);
    let live = Uuid([3; 16]);
    p.reply(id, Value::Uuid(live));
    for n in 0..3 {
        p.notify(live, n);
    }
    let log = items.borrow();
    assert_eq!(log.items.len(), 2, "the buffered ones stay readable");
    assert_eq!(
        log.finished,
        vec![Some(Error::ReaderTooSlow {
            what: "live query".into(),
            limit: 2
        })]
    );
    drop(log);
    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, "kill");
    // later notifications for it go nowhere and finish nothing twice
    p.notify(live, 4);
    assert_eq!(items.borrow().finished.len(), 1);
}

#[test]
fn a_dropped_live_reader_gets_its_live_query_killed() {
    let mut p = Peer::connected(Options::default());
    let (r, _r_log) = reply();
    let (sink, items) = buf::<LiveItem>(8);
    p.mux.live(live_request(), r, sink, p.now);
    let (id, _, _) = p.sent().remove(0);
    let live = Uuid([4; 16]);
    p.reply(id, Value::Uuid(live));
    items.borrow_mut().gone = true;
    p.notify(live, 1);
    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, "kill");
}

#[test]
fn a_stream_reader_too_slow_ends_with_an_error_and_the_query_is_cancelled_once() {
    let mut p = Peer::connected(Options::default().stream_buffer(2));
    let (sink, frames) = buf::<StreamFrame>(2);
    let rid = p.mux.stream(
        Request::new(Method::QueryStream, vec![Value::from("SELECT * FROM t")]),
        sink,
        p.now,
    );
    let (id, _, _) = p.sent().remove(0);
    assert_eq!(RequestId(id as u64), rid);
    for n in 0..5 {
        p.rows(id, n);
    }
    let log = frames.borrow();
    assert_eq!(log.items.len(), 2);
    assert_eq!(
        log.finished,
        vec![Some(Error::ReaderTooSlow {
            what: "query_stream".into(),
            limit: 2
        })]
    );
    drop(log);
    let sent = p.sent();
    assert_eq!(
        sent.len(),
        1,
        "one cancel, not one per dropped frame: {sent:?}"
    );
    assert_eq!(sent[0].1, "query_cancel");
    assert_eq!(sent[0].2, vec![Value::Int(id)]);
    // The cancel's answer and the stream's end are absorbed quietly.
    p.reply(sent[0].0, Value::None);
    p.end(id);
    assert!(p
        .actions()
        .iter()
        .all(|a| !matches!(a, Action::Notify(ConnectionEvent::Error(_)))));
    assert_eq!(p.mux.waiting(), 0);
}

#[test]
fn a_stream_that_ends_normally_finishes_once_without_error() {
    let mut p = Peer::connected(Options::default());
    let (sink, frames) = buf::<StreamFrame>(8);
    p.mux.stream(
        Request::new(Method::QueryStream, vec![Value::from("SELECT * FROM t")]),
        sink,
        p.now,
    );
    let (id, _, _) = p.sent().remove(0);
    p.rows(id, 1);
    p.end(id);
    let log = frames.borrow();
    assert_eq!(log.items.len(), 2);
    assert!(log.items[1].is_end());
    assert_eq!(log.finished, vec![None]);
    assert!(p.sent().is_empty(), "nothing to cancel");
}

#[test]
fn a_dropped_stream_reader_cancels_the_query() {
    let mut p = Peer::connected(Options::default());
    let (sink, frames) = buf::<StreamFrame>(8);
    let rid = p.mux.stream(
        Request::new(Method::QueryStream, vec![Value::from("SELECT * FROM t")]),
        sink,
        p.now,
    );
    let (id, _, _) = p.sent().remove(0);
    frames.borrow_mut().gone = true;
    p.mux.cancel_stream(rid, p.now);
    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, "query_cancel");
    p.rows(id, 1);
    assert!(p.sent().is_empty(), "cancelled once");
}

#[test]
fn handles_gone_closes_only_when_nothing_waits() {
    let mut p = Peer::connected(Options::default());
    let (r, r_log) = reply();
    p.mux.call(Request::ping(), r, p.now);
    let (id, _, _) = p.sent().remove(0);
    p.mux.handles_gone(p.now);
    assert!(!p.mux.is_finished(), "a caller still waits");
    p.reply(id, Value::None);
    assert_eq!(r_log.borrow().got.len(), 1);
    assert!(p.mux.is_finished());
    let actions = p.actions();
    assert!(actions.contains(&Action::Notify(ConnectionEvent::Closed)));
    assert_eq!(actions.last(), Some(&Action::Finished));
}

#[test]
fn closing_answers_everyone_once_with_closed() {
    let mut p = Peer::connected(Options::default());
    let (r, r_log) = reply();
    let (lr, lr_log) = reply();
    let (ls, l_items) = buf::<LiveItem>(8);
    let (ss, s_frames) = buf::<StreamFrame>(8);
    p.mux.call(Request::ping(), r, p.now);
    p.mux.live(live_request(), lr, ls, p.now);
    p.mux.stream(
        Request::new(Method::QueryStream, vec![Value::from("RETURN 1")]),
        ss,
        p.now,
    );
    p.mux.close(p.now);
    assert_eq!(r_log.borrow().got, vec![Err(Error::Closed)]);
    assert_eq!(lr_log.borrow().got, vec![Err(Error::Closed)]);
    assert_eq!(l_items.borrow().finished.len(), 1);
    assert_eq!(s_frames.borrow().finished, vec![Some(Error::Closed)]);
    // after the end, new work is refused at once
    let (late, late_log) = reply();
    p.mux.call(Request::ping(), late, p.now);
    assert_eq!(late_log.borrow().got, vec![Err(Error::Closed)]);
}

#[test]
fn a_lost_socket_is_dropped_reported_with_its_cause_and_reopened_after_the_backoff() {
    let options = Options::default().backoff(Duration::from_millis(100), Duration::from_secs(1));
    let mut p = Peer::connected(options);
    let (r, r_log) = reply();
    p.mux.call(Request::ping(), r, p.now);
    let _ = p.sent();
    p.mux.handle_disconnect("connection reset".into(), p.now);
    assert!(matches!(&r_log.borrow().got[0], Err(e) if e.is_disconnected()));
    let actions = p.actions();
    assert!(actions.contains(&Action::DropSocket), "{actions:?}");
    assert!(
        actions.iter().any(|a| matches!(a,
            Action::Notify(ConnectionEvent::Disconnected(why)) if why.contains("connection reset"))),
        "{actions:?}"
    );
    let at = p.mux.poll_timeout().expect("a reconnect is scheduled");
    assert!(at > p.now);
    p.now = at + Duration::from_secs(2);
    p.mux.handle_timeout(p.now);
    assert!(p.actions().contains(&Action::OpenSocket));
}

#[test]
fn durations_max_are_safe() {
    let options = Options::default()
        .request_timeout(Duration::MAX)
        .ping_interval(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .backoff(Duration::MAX, Duration::MAX);
    let mut p = Peer::connected(options);
    let (r, r_log) = reply();
    p.mux.call(Request::ping(), r, p.now);
    let (id, _, _) = p.sent().remove(0);
    p.mux.handle_timeout(p.now + Duration::from_secs(3600));
    p.reply(id, Value::None);
    assert_eq!(r_log.borrow().got.len(), 1);
    p.mux.handle_disconnect("gone".into(), p.now);
    let _ = p.mux.poll_timeout();
}

#[test]
fn frames_are_awaited_only_while_something_waits_for_one() {
    // Options without keep-alive: a ping would be awaited too.
    let mut p = Peer::connected(Options::default().ping_interval(Duration::ZERO));
    assert!(!p.mux.awaits_frames(), "a fresh connection awaits nothing");
    let (r, _) = reply();
    p.mux.call(Request::ping(), r, p.now);
    assert!(
        p.mux.awaits_frames(),
        "a request in flight awaits its answer"
    );
    let (id, _, _) = p.sent().remove(0);
    p.reply(id, Value::None);
    assert!(!p.mux.awaits_frames(), "answered: nothing is awaited");

    // A live subscription awaits notifications until it is dropped.
    let (r, _) = reply();
    let (sink, _items) = buf::<LiveItem>(8);
    p.mux.live(live_request(), r, sink, p.now);
    let (id, _, _) = p.sent().remove(0);
    p.reply(id, Value::Uuid(Uuid([3; 16])));
    assert!(p.mux.awaits_frames(), "a live query awaits notifications");

    // A request that timed out still awaits its late answer (to reconcile it).
    let mut q = Peer::connected(
        Options::default()
            .ping_interval(Duration::ZERO)
            .request_timeout(Duration::from_secs(1)),
    );
    let (r, r_log) = reply();
    q.mux.call(Request::new(Method::Version, vec![]), r, q.now);
    let _ = q.sent();
    q.now += Duration::from_secs(2);
    q.mux.handle_timeout(q.now);
    assert!(matches!(r_log.borrow().got.as_slice(), [Err(e)] if e.is_timeout()));
    assert!(
        q.mux.awaits_frames(),
        "a late answer to a timed-out request is awaited"
    );
}
