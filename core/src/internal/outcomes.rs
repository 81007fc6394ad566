//! The body of the `connection_outcomes` fuzz target: a script of commands and server
//! behaviour driven through the public [`Connection`] API, with a ledger that checks every
//! request gets exactly one outcome and every live handle exactly one end.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::conn::{Config, Connection, Event};
use crate::live::LiveHandle;
use crate::rpc::{ErrorKind, Method, Request, ServerError};
use crate::value::{Object, Table, Uuid, Value};

/// How many recent wire ids the script can answer.
const WIRE_IDS: usize = 64;

#[derive(Debug)]
struct Sent {
    method: Method,
    stream: bool,
    outcomes: u32,
}

/// What the script has been told so far, checked as events arrive and at the end.
#[derive(Default)]
struct Ledger {
    requests: BTreeMap<u64, Sent>,
    /// Live handle → how many `LiveEnded` it got.
    handles: BTreeMap<u64, u32>,
    closed: u32,
    /// A short history (ops and events) for the panic message.
    trace: String,
}

impl Ledger {
    fn fail(&self, why: String) -> ! {
        panic!("{why}\nhistory:{}", self.trace)
    }

    fn sent(&mut self, id: u64, method: Method) {
        let stream = method == Method::QueryStream;
        self.trace.push_str(&format!(" send({id}:{method})"));
        if self
            .requests
            .insert(
                id,
                Sent {
                    method,
                    stream,
                    outcomes: 0,
                },
            )
            .is_some()
        {
            self.fail(format!("request id {id} handed out twice"));
        }
    }

    fn subscribed(&mut self, handle: LiveHandle) {
        if self.handles.insert(handle.0, 0).is_some() {
            self.fail(format!("live handle {} handed out twice", handle.0));
        }
    }

    fn live_open(&self, handle: LiveHandle, what: &str) {
        match self.handles.get(&handle.0) {
            None => self.fail(format!(
                "{what} for live handle {} never handed out",
                handle.0
            )),
            Some(0) => {}
            Some(_) => self.fail(format!(
                "{what} for live handle {} after it ended",
                handle.0
            )),
        }
    }

    fn outcome(&mut self, id: u64, what: &str) {
        self.trace.push_str(&format!(" {what}({id})"));
        let Some(r) = self.requests.get_mut(&id) else {
            self.fail(format!(
                "{what} for request id {id}, which send/send_live never returned"
            ));
        };
        r.outcomes += 1;
        if r.outcomes > 1 {
            let m = r.method;
            self.fail(format!("request {id} (`{m}`) got a second outcome: {what}"));
        }
    }

    fn event(&mut self, ev: &Event) {
        match ev {
            Event::Response { id, result } => {
                let what = if result.is_ok() { "ok" } else { "err" };
                self.outcome(id.0, what);
            }
            Event::Stream { id, frame } => {
                match self.requests.get(&id.0) {
                    Some(r) if r.stream && r.outcomes == 0 => {}
                    Some(r) => self.fail(format!(
                        "stream frame {frame:?} for request {} ({r:?}) that cannot take one",
                        id.0
                    )),
                    None => self.fail(format!("stream frame for unknown request {}", id.0)),
                }
                if frame.is_end() {
                    self.outcome(id.0, "end");
                }
            }
            Event::Notification { handle, .. } => self.live_open(*handle, "notification"),
            Event::LiveRemapped { handle, .. } => self.live_open(*handle, "remap"),
            Event::LiveEnded { handle, reason } => {
                self.trace.push_str(&format!(" ended(h{})", handle.0));
                let Some(n) = self.handles.get_mut(&handle.0) else {
                    self.fail(format!("LiveEnded for unknown handle {}", handle.0));
                };
                *n += 1;
                if *n > 1 {
                    self.fail(format!(
                        "live handle {} ended a second time ({reason:?})",
                        handle.0
                    ));
                }
            }
            Event::Closed => {
                self.trace.push_str(" closed");
                self.closed += 1;
                if self.closed > 1 {
                    self.fail("Event::Closed emitted twice".into());
                }
            }
            Event::Disconnected { .. } => self.trace.push_str(" disconnected"),
            Event::Reconnect => self.trace.push_str(" reconnect"),
            Event::Reconnected => self.trace.push_str(" reconnected"),
            Event::ReplayFailed { method, .. } => {
                self.trace.push_str(&format!(" replay-failed({method})"));
            }
            Event::ProtocolError(_) => {}
        }
    }

    fn finish(&self) {
        for (id, r) in &self.requests {
            if r.outcomes != 1 {
                self.fail(format!(
                    "request {id} (`{}`) got {} outcomes after close",
                    r.method, r.outcomes
                ));
            }
        }
        for (h, n) in &self.handles {
            if *n != 1 {
                self.fail(format!("live handle {h} ended {n} times after close"));
            }
        }
        if self.closed != 1 {
            self.fail(format!("Event::Closed emitted {} times", self.closed));
        }
    }
}

/// The id of a frame the connection transmitted.
fn wire_id(frame: &[u8]) -> Option<u64> {
    match crate::cbor::decode(frame).ok()? {
        Value::Object(o) => match o.get("id") {
            Some(Value::Int(n)) => u64::try_from(*n).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// A well-formed answer to request `id`: `result` is the `result`, or the `error` if `None`.
fn reply(id: u64, result: Option<Value>) -> Vec<u8> {
    let mut o = Object::new();
    o.insert(
        "id".into(),
        Value::Int(i64::try_from(id).unwrap_or(i64::MAX)),
    );
    match result {
        Some(v) => o.insert("result".into(), v),
        None => o.insert(
            "error".into(),
            ServerError::new(ErrorKind::Query, "boom").to_value(),
        ),
    };
    crate::cbor::encode(&Value::Object(o))
}

fn obj(entries: &[(&str, Value)]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// A result a server could send to any request: a live id, nothing, a query answer (with a
/// live row), a token, a stream frame; `None` stands for an error answer.
fn result_for(kind: u8, n: u8) -> Option<Value> {
    let uuid = Value::Uuid(Uuid([n % 8; 16]));
    Some(match kind % 8 {
        0 => uuid,
        1 => Value::None,
        2 => return None,
        3 => Value::Array(vec![obj(&[
            ("status", Value::String("OK".into())),
            ("time", Value::String("1ms".into())),
            ("type", Value::String("live".into())),
            ("result", uuid),
        ])]),
        4 => Value::String("token".into()),
        5 => obj(&[
            ("stream", Value::String("begin".into())),
            ("statements", Value::Int(1)),
        ]),
        6 => obj(&[
            ("stream", Value::String("rows".into())),
            ("index", Value::Int(0)),
            ("values", Value::Array(vec![Value::Int(1)])),
        ]),
        _ => obj(&[
            ("stream", Value::String("end".into())),
            ("results", Value::Int(i64::from(n % 2))),
            ("time", Value::String("1ms".into())),
        ]),
    })
}

fn notification(action: u8, n: u8) -> Vec<u8> {
    let r = obj(&[
        (
            "action",
            Value::String(["CREATE", "UPDATE", "KILLED", "X"][usize::from(action % 4)].into()),
        ),
        ("id", Value::Uuid(Uuid([n % 8; 16]))),
        ("result", Value::None),
    ]);
    crate::cbor::encode(&obj(&[("result", r)]))
}

/// See [`crate::internal::fuzz_connection_outcomes`].
pub(crate) fn run(data: &[u8], start: Instant) {
    let mut now = start;
    let mut bytes = data.iter().copied();
    let flags = bytes.next().unwrap_or(0);
    let mut conn = Connection::new(
        Config {
            request_timeout: Duration::from_secs(5),
            ping_interval: if flags & 2 == 0 {
                Duration::from_secs(3)
            } else {
                Duration::ZERO
            },
            reconnect: flags & 1 == 0,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            // Deterministic: a fuzz input must replay the same way.
            jitter_seed: Some(u64::from(flags)),
        },
        now,
    );
    let mut ledger = Ledger::default();
    let mut handles: Vec<LiveHandle> = Vec::new();
    let mut wire: Vec<u64> = Vec::new();
    let send = |conn: &mut Connection, ledger: &mut Ledger, req: Request, now: Instant| {
        let method = req.method;
        let id = conn.send(req, now);
        ledger.sent(id.0, method);
    };
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        ledger.trace.push_str(&format!("\n  [{}/{arg}]", op % 16));
        match op % 16 {
            0 => send(&mut conn, &mut ledger, Request::ping(), now),
            1 | 2 => {
                let req = if op % 16 == 1 {
                    Request::live(Table::new("t"), arg % 2 == 0)
                } else {
                    Request::query("LIVE SELECT * FROM t", Object::new())
                };
                let method = req.method;
                let (id, h) = conn.send_live(req, now);
                ledger.sent(id.0, method);
                ledger.subscribed(h);
                handles.push(h);
            }
            3 => {
                if let Some(h) = handles.get(usize::from(arg) % handles.len().max(1)) {
                    conn.unsubscribe(*h, now);
                }
            }
            4 => {
                let frame: Vec<u8> = bytes.by_ref().take(usize::from(arg % 48)).collect();
                conn.handle_frame(&frame, now);
            }
            5 => {
                // A well-formed answer to something the connection put on the wire
                // (user requests, replay steps, kills, pings), possibly a second time.
                let kind = bytes.next().unwrap_or(0);
                let id = wire
                    .get(usize::from(arg) % wire.len().max(1))
                    .copied()
                    .unwrap_or(u64::from(arg));
                conn.handle_frame(&reply(id, result_for(kind, arg)), now);
            }
            6 => {
                now += Duration::from_millis(u64::from(arg) * 50);
                conn.handle_timeout(now);
            }
            7 => conn.handle_disconnect(now),
            8 => conn.handle_connected(now),
            9 => conn.handle_connect_failed(now, "refused".into()),
            10 => conn.handle_frame(&notification(arg, arg / 4), now),
            11 => {
                let e = ServerError::new(ErrorKind::Validation, "Parse error");
                let mut o = Object::new();
                o.insert("error".into(), e.to_value());
                conn.handle_frame(&crate::cbor::encode(&Value::Object(o)), now);
            }
            12 => {
                let txn = Uuid([arg % 8; 16]);
                let session = Uuid([arg % 3; 16]);
                let req = match arg % 9 {
                    0 => Request::use_ns_db("a", "b"),
                    1 => Request::authenticate("token"),
                    2 => Request::let_var("x", Value::Int(1)),
                    3 => Request::new(Method::Begin, Vec::new()),
                    4 => Request::query("RETURN 1", Object::new()).with_txn(txn),
                    5 => Request::new(Method::Commit, vec![Value::Uuid(txn)]),
                    6 => Request::new(Method::Attach, Vec::new()).with_session(session),
                    7 => Request::signin(Object::new()),
                    _ => Request::query("RETURN 1", Object::new()).with_session(session),
                };
                send(&mut conn, &mut ledger, req, now);
            }
            13 => {
                let req = Request::new(
                    Method::QueryStream,
                    vec![Value::String("SELECT * FROM t".into())],
                );
                send(&mut conn, &mut ledger, req, now);
            }
            14 => {
                if arg == 0 {
                    conn.close();
                } else {
                    let req = Request::query("RETURN 1", Object::new());
                    send(&mut conn, &mut ledger, req, now);
                }
            }
            _ => {
                // Several frames in one go: an answer, then the same answer again.
                let id = wire.last().copied().unwrap_or(u64::from(arg));
                let frame = reply(id, result_for(arg, arg / 8));
                conn.handle_frame(&frame, now);
                conn.handle_frame(&frame, now);
            }
        }
        while let Some(frame) = conn.poll_transmit() {
            if let Some(id) = wire_id(&frame) {
                if wire.len() == WIRE_IDS {
                    wire.remove(0);
                }
                wire.push(id);
            }
        }
        while let Some(ev) = conn.poll_event() {
            ledger.event(&ev);
            if ev == Event::Reconnect && arg % 2 == 0 {
                conn.handle_connected(now);
            }
        }
        if conn.state() == crate::conn::State::Closed && conn.pending_requests() != 0 {
            ledger.fail(format!(
                "closed, yet {} requests are pending",
                conn.pending_requests()
            ));
        }
    }
    conn.close();
    while let Some(ev) = conn.poll_event() {
        ledger.event(&ev);
    }
    ledger.trace.push_str("\n  [close]");
    ledger.finish();
    if conn.pending_requests() != 0 {
        ledger.fail(format!(
            "{} requests still pending after close",
            conn.pending_requests()
        ));
    }
    if conn.poll_timeout().is_some() {
        ledger.fail("a closed connection still wants a timer".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{ConnError, RequestId};
    use crate::live::LiveEndReason;

    fn closed_response(id: u64) -> Event {
        Event::Response {
            id: RequestId(id),
            result: Err(ConnError::Closed),
        }
    }

    #[test]
    #[should_panic(expected = "got a second outcome")]
    fn ledger_refuses_two_responses() {
        let mut l = Ledger::default();
        l.sent(1, Method::Ping);
        l.event(&closed_response(1));
        l.event(&closed_response(1));
    }

    #[test]
    #[should_panic(expected = "got 0 outcomes after close")]
    fn ledger_refuses_a_request_without_outcome() {
        let mut l = Ledger::default();
        l.sent(1, Method::Ping);
        l.event(&Event::Closed);
        l.finish();
    }

    #[test]
    #[should_panic(expected = "ended a second time")]
    fn ledger_refuses_two_live_ends() {
        let mut l = Ledger::default();
        l.subscribed(LiveHandle(1));
        for _ in 0..2 {
            l.event(&Event::LiveEnded {
                handle: LiveHandle(1),
                reason: LiveEndReason::Unsubscribed,
            });
        }
    }

    #[test]
    #[should_panic(expected = "stream frame")]
    fn ledger_refuses_a_frame_after_the_end() {
        let mut l = Ledger::default();
        l.sent(1, Method::QueryStream);
        let end = crate::rpc::StreamFrame::End {
            results: 0,
            time: "1ms".into(),
            error: None,
        };
        for _ in 0..2 {
            l.event(&Event::Stream {
                id: RequestId(1),
                frame: end.clone(),
            });
        }
    }

    #[test]
    fn ledger_accepts_one_outcome_each() {
        let mut l = Ledger::default();
        l.sent(1, Method::Ping);
        l.subscribed(LiveHandle(1));
        l.event(&closed_response(1));
        l.event(&Event::LiveEnded {
            handle: LiveHandle(1),
            reason: LiveEndReason::ConnectionClosed,
        });
        l.event(&Event::Closed);
        l.finish();
        assert_eq!(l.requests[&1].outcomes, 1);
    }
}
