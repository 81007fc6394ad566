//! Both drivers' WebSocket transport against a HOSTILE peer: a scripted fake server (not
//! SurrealDB) that stays silent, never answers, hangs up mid-request, sends garbage,
//! truncated or stray frames, floods unread streams, or answers a request whose caller left.
//!
//! Every case in `common/hostile_cases.rs` is written once and compiled for both drivers
//! (`w!(expr)`: `.await` for smol, a plain call or `.run()` for blocking). The fake server
//! records every request it receives, so a case can assert that nothing was sent twice,
//! and each case asserts the exact error kind, an upper bound on the time it took (derived
//! from the `Options` it set), and that the same handle keeps working where it can.
//!
//! Every case runs under a watchdog: a driver that hangs fails its case instead of hanging
//! the suite.

// tungstenite fixes the handshake callback's error type (a whole HTTP response), and driver
// errors carry the server error by value; neither size matters in tests.
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use surql::mux::ConnectionEvent;

// The `Resolve` bridge (a blocking builder runs, a result passes through) is the
// conformance harness's; its other pieces (names, the scenario macro) are not used here.
#[allow(dead_code, unused_macros)]
#[path = "common/harness.rs"]
mod harness;

/// Runs `case` on its own thread and fails if it does not finish within `limit`.
pub fn watchdog(name: &str, limit: Duration, case: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(case));
            // The receiver is gone only if the watchdog already failed the case.
            let _ = done.send(outcome);
        })
        .expect("spawn the case thread");
    match finished.recv_timeout(limit) {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("case `{name}` did not finish within {limit:?}: something hung"),
    }
}

/// Polls `next` until an event matching `want` arrives (`true`) or `within` passes
/// (`false`); every event seen is appended to `seen`.
pub fn wait_event(
    mut next: impl FnMut() -> Option<ConnectionEvent>,
    within: Duration,
    seen: &mut Vec<ConnectionEvent>,
    want: impl Fn(&ConnectionEvent) -> bool,
) -> bool {
    let deadline = Instant::now() + within;
    loop {
        while let Some(event) = next() {
            let hit = want(&event);
            seen.push(event);
            if hit {
                return true;
            }
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether a connect error's reason says that a timeout expired.
pub fn mentions_timeout(reason: &str) -> bool {
    let r = reason.to_lowercase();
    r.contains("timeout") || r.contains("timed out")
}

/// The scripted fake WebSocket server.
pub mod fake {
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Condvar, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};

    use surql::value::{Object, Uuid, Value};
    use tungstenite::handshake::server::{Request, Response};
    use tungstenite::http::HeaderValue;
    use tungstenite::{Message, WebSocket};

    /// The live-query id the fake server hands out.
    pub const LIVE_ID: Uuid = Uuid::from_bytes([
        0x01, 0x93, 0x5f, 0x1e, 0x7a, 0x20, 0x4b, 0x3c, 0x9d, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
        0x77,
    ]);
    /// What the fake server answers to `version`.
    pub const VERSION: &str = "surrealdb-3.3.5";

    /// How often blocked reads look at the stop flag.
    const TICK: Duration = Duration::from_millis(20);

    /// One request the server received.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Req {
        /// Which accepted connection it came on (0 = the first).
        pub conn: usize,
        /// Its `id`.
        pub id: Option<i64>,
        /// Its `method`.
        pub method: String,
        /// Its `params`.
        pub params: Vec<Value>,
    }

    struct Shared {
        log: Mutex<Vec<Req>>,
        changed: Condvar,
        stop: AtomicBool,
    }

    impl Shared {
        fn stopped(&self) -> bool {
            self.stop.load(Ordering::Relaxed)
        }
    }

    /// What a script gets for one accepted TCP connection.
    pub struct Ctx {
        /// The connection's number (0 = the first accepted).
        pub conn: usize,
        shared: Arc<Shared>,
    }

    impl Ctx {
        /// Whether the server is stopping (scripts that loop on their own check it).
        pub fn stopped(&self) -> bool {
            self.shared.stopped()
        }

        /// Keeps the TCP connection open and silent (no upgrade) until the server stops.
        pub fn hold(&self, stream: TcpStream) {
            while !self.shared.stopped() {
                thread::sleep(TICK);
            }
            drop(stream);
        }

        /// Completes the WebSocket upgrade, accepting the `cbor` subprotocol.
        pub fn upgrade(&self, stream: TcpStream) -> Option<Peer> {
            self.upgrade_with(stream, Some("cbor"))
        }

        /// Completes the WebSocket upgrade answering with `subprotocol` (or none).
        pub fn upgrade_with(
            &self,
            stream: TcpStream,
            subprotocol: Option<&'static str>,
        ) -> Option<Peer> {
            // The handshake itself is bounded; afterwards reads wake up every tick.
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            let callback = move |_req: &Request, mut resp: Response| {
                if let Some(p) = subprotocol {
                    resp.headers_mut()
                        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(p));
                }
                Ok(resp)
            };
            let ws = tungstenite::accept_hdr(stream, callback).ok()?;
            ws.get_ref().set_read_timeout(Some(TICK)).ok()?;
            Some(Peer {
                ws,
                conn: self.conn,
                shared: self.shared.clone(),
            })
        }
    }

    /// An upgraded connection.
    pub struct Peer {
        ws: WebSocket<TcpStream>,
        conn: usize,
        shared: Arc<Shared>,
    }

    fn field(o: &Object, key: &str) -> Option<Value> {
        o.get(key).cloned()
    }

    impl Peer {
        /// The next request (recorded in the log), or `None` once the client is gone or
        /// the server stops.
        pub fn next_request(&mut self) -> Option<Req> {
            loop {
                if self.shared.stopped() {
                    return None;
                }
                match self.ws.read() {
                    Ok(Message::Binary(bytes)) => {
                        let req = match surql::cbor::decode(&bytes) {
                            Ok(Value::Object(o)) => Req {
                                conn: self.conn,
                                id: match field(&o, "id") {
                                    Some(Value::Int(n)) => Some(n),
                                    _ => None,
                                },
                                method: match field(&o, "method") {
                                    Some(Value::String(m)) => m,
                                    other => format!("<not a method: {other:?}>"),
                                },
                                params: match field(&o, "params") {
                                    Some(Value::Array(p)) => p,
                                    _ => Vec::new(),
                                },
                            },
                            other => Req {
                                conn: self.conn,
                                id: None,
                                method: format!("<not a request map: {other:?}>"),
                                params: Vec::new(),
                            },
                        };
                        let mut log = self.shared.log.lock().unwrap_or_else(|p| p.into_inner());
                        log.push(req.clone());
                        self.shared.changed.notify_all();
                        return Some(req);
                    }
                    Ok(_) => {} // pings, pongs, a close frame (tungstenite answers it)
                    Err(tungstenite::Error::Io(e))
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => return None,
                }
            }
        }

        /// Stops reading (and answering) until the server stops; the connection stays open.
        pub fn stop_reading(self) {
            while !self.shared.stopped() {
                thread::sleep(TICK);
            }
        }

        /// Sends a close frame with `code` and `reason`, then hangs up.
        pub fn close_with(mut self, code: u16, reason: &'static str) {
            let frame = tungstenite::protocol::CloseFrame {
                code: code.into(),
                reason: reason.into(),
            };
            // The client may be gone already; hanging up follows either way.
            let _ = self.ws.close(Some(frame));
            let _ = self.ws.flush();
        }

        /// Sends one binary frame as it is.
        pub fn send_raw(&mut self, bytes: Vec<u8>) {
            // A client that left makes the script end at its next read.
            let _ = self.ws.send(Message::Binary(bytes.into()));
        }

        /// Sends `value` as one CBOR frame written in two parts, `pause` apart (the client
        /// sees half a frame, then the rest).
        pub fn send_value_split(&mut self, value: &Value, pause: Duration) {
            use std::io::Write;
            let payload = surql::cbor::encode(value);
            // A server frame: FIN + binary, unmasked, then the length.
            let mut frame = vec![0x82];
            match payload.len() {
                n if n < 126 => frame.push(n as u8),
                n if n <= 0xffff => {
                    frame.push(126);
                    frame.extend_from_slice(&(n as u16).to_be_bytes());
                }
                n => {
                    frame.push(127);
                    frame.extend_from_slice(&(n as u64).to_be_bytes());
                }
            }
            frame.extend_from_slice(&payload);
            let (first, rest) = frame.split_at(frame.len() / 2);
            // A client that left makes the script end at its next read.
            let stream = self.ws.get_mut();
            let _ = stream.write_all(first).and_then(|()| stream.flush());
            thread::sleep(pause);
            let _ = stream.write_all(rest).and_then(|()| stream.flush());
        }

        /// Sends `values` as CBOR frames in one write (the client reads them all at once),
        /// followed by a close frame if `close` is given.
        pub fn send_together(&mut self, values: &[Value], close: Option<(u16, &'static str)>) {
            // A client that left makes the script end at its next read.
            for value in values {
                let _ = self
                    .ws
                    .write(Message::Binary(surql::cbor::encode(value).into()));
            }
            if let Some((code, reason)) = close {
                let _ = self.ws.close(Some(tungstenite::protocol::CloseFrame {
                    code: code.into(),
                    reason: reason.into(),
                }));
            }
            let _ = self.ws.flush();
        }

        /// Sends `value` as one CBOR frame.
        pub fn send_value(&mut self, value: &Value) {
            self.send_raw(surql::cbor::encode(value));
        }

        /// Sends `{"id": id, "result": result}`.
        pub fn reply(&mut self, id: Option<i64>, result: Value) {
            self.send_value(&reply(id, result));
        }

        /// Answers `req` as a well-behaved server would.
        pub fn answer(&mut self, req: &Req) {
            let result = match req.method.as_str() {
                "version" => Value::from(VERSION),
                "live" => Value::Uuid(LIVE_ID),
                _ => Value::None,
            };
            self.reply(req.id, result);
        }

        /// Answers every request until the client leaves; `custom` may answer one itself
        /// (returning `true`), otherwise [`Peer::answer`] does.
        pub fn serve(&mut self, mut custom: impl FnMut(&mut Peer, &Req) -> bool) {
            while let Some(req) = self.next_request() {
                if !custom(self, &req) {
                    self.answer(&req);
                }
            }
        }
    }

    /// The reply map `{"id": id, "result": result}`.
    pub fn reply(id: Option<i64>, result: Value) -> Value {
        let mut o = Object::new();
        o.insert("id".into(), id.map_or(Value::None, Value::Int));
        o.insert("result".into(), result);
        Value::Object(o)
    }

    /// The answer to a `query` whose one statement returned `result`.
    pub fn query_result(result: Value) -> Value {
        Value::Array(vec![object(&[
            ("status", Value::from("OK")),
            ("time", Value::from("1ms")),
            ("result", result),
        ])])
    }

    /// An object from `(key, value)` pairs.
    pub fn object(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    /// A fake server on 127.0.0.1 running `script` on a thread per accepted connection.
    pub struct FakeServer {
        url: String,
        shared: Arc<Shared>,
        acceptor: Option<thread::JoinHandle<()>>,
    }

    impl FakeServer {
        /// Starts listening; each accepted TCP connection runs `script`.
        pub fn start(script: impl Fn(TcpStream, &Ctx) + Send + Sync + 'static) -> FakeServer {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
            let url = format!("ws://{}", listener.local_addr().expect("local address"));
            listener
                .set_nonblocking(true)
                .expect("nonblocking listener");
            let shared = Arc::new(Shared {
                log: Mutex::new(Vec::new()),
                changed: Condvar::new(),
                stop: AtomicBool::new(false),
            });
            let script = Arc::new(script);
            let acceptor = {
                let shared = shared.clone();
                thread::spawn(move || {
                    let mut conn = 0;
                    while !shared.stopped() {
                        match listener.accept() {
                            Ok((stream, _)) => {
                                if stream.set_nonblocking(false).is_err() {
                                    continue;
                                }
                                let ctx = Ctx {
                                    conn,
                                    shared: shared.clone(),
                                };
                                conn += 1;
                                let script = script.clone();
                                thread::spawn(move || script(stream, &ctx));
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                thread::sleep(Duration::from_millis(5))
                            }
                            Err(_) => thread::sleep(Duration::from_millis(5)),
                        }
                    }
                })
            };
            FakeServer {
                url,
                shared,
                acceptor: Some(acceptor),
            }
        }

        /// `ws://127.0.0.1:<port>`.
        pub fn url(&self) -> &str {
            &self.url
        }

        /// Every request received so far, in order.
        pub fn log(&self) -> Vec<Req> {
            self.shared
                .log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        }

        /// How many `method` requests were received.
        pub fn count(&self, method: &str) -> usize {
            self.log().iter().filter(|r| r.method == method).count()
        }

        /// Waits until `done(log)` holds (`true`) or `within` passes (`false`).
        pub fn wait_until(&self, within: Duration, done: impl Fn(&[Req]) -> bool) -> bool {
            let deadline = Instant::now() + within;
            let mut log = self.shared.log.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if done(&log) {
                    return true;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                log = self
                    .shared
                    .changed
                    .wait_timeout(log, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }

    impl Drop for FakeServer {
        fn drop(&mut self) {
            // Connection threads notice within a tick and end; they are not joined, as a
            // script may be blocked in a write to a client that stopped reading.
            self.shared.stop.store(true, Ordering::Relaxed);
            if let Some(acceptor) = self.acceptor.take() {
                let _ = acceptor.join();
            }
        }
    }
}

/// `suite!(module, driver_crate, async = bool)` compiles `common/hostile_cases.rs` into
/// `module` with `drv` = the driver, `w!(expr)` resolving a call on the test's side and
/// `s!(expr)` resolving one synchronously (inside a connection hook).
macro_rules! suite {
    (@module $name:ident, $drv:ident, $w:item, $s:item) => {
        mod $name {
            #[allow(unused_imports)]
            use $drv as drv;
            $w
            $s
            include!("common/hostile_cases.rs");
        }
    };
    ($name:ident, $drv:ident, async = true) => {
        suite!(@module $name, $drv, macro_rules! w {
            ($e:expr) => {
                $e.await
            };
        }, macro_rules! s {
            ($e:expr) => {
                futures_lite::future::block_on($e)
            };
        });
    };
    ($name:ident, $drv:ident, async = false) => {
        suite!(@module $name, $drv, macro_rules! w {
            ($e:expr) => {
                crate::harness::Resolve::resolve($e)
            };
        }, macro_rules! s {
            ($e:expr) => {
                crate::harness::Resolve::resolve($e)
            };
        });
    };
}

suite!(smol, surql_smol, async = true);
suite!(blocking, surql_blocking, async = false);

/// Cases only an async API has.
mod smol_only {
    use std::sync::{mpsc, Mutex};
    use std::time::Duration;

    use futures_lite::future;
    use surql::value::Value;

    use crate::fake::{FakeServer, LIVE_ID};

    /// A `live()` future dropped after its request left: when the answer comes, nobody
    /// reads the subscription, so it must be killed on the server (not leak there).
    #[test]
    fn a_live_future_dropped_after_its_request_left_is_killed_on_the_server() {
        crate::watchdog(
            "smol_only::dropped_live_future",
            Duration::from_secs(20),
            || {
                let (go, answer_now) = mpsc::channel::<()>();
                let answer_now = Mutex::new(answer_now);
                let server = FakeServer::start(move |stream, ctx| {
                    let Some(mut peer) = ctx.upgrade(stream) else {
                        return;
                    };
                    peer.serve(|peer, req| {
                        if req.method != "live" {
                            return false;
                        }
                        // Hold the answer until the test dropped the caller's future.
                        let released = answer_now
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .recv_timeout(Duration::from_secs(5))
                            .is_ok();
                        assert!(released, "the test never released the live answer");
                        peer.reply(req.id, Value::Uuid(LIVE_ID));
                        true
                    });
                });
                future::block_on(async {
                    let options = surql_smol::Options::default()
                        .request_timeout(Duration::from_secs(5))
                        .ping_interval(Duration::ZERO);
                    let db = surql_smol::Surreal::connect_with(server.url(), options)
                        .await
                        .expect("connect to the fake server");
                    let mut subscribe = Box::pin(db.live("t"));
                    // One poll hands the request to the driver; the answer is held back.
                    assert!(future::poll_once(&mut subscribe).await.is_none());
                    assert!(
                        server.wait_until(Duration::from_secs(2), |log| log
                            .iter()
                            .any(|r| r.method == "live")),
                        "the live request never reached the server: {:?}",
                        server.log()
                    );
                    drop(subscribe);
                    go.send(())
                        .expect("the server script waits for the release");
                    let killed = server.wait_until(Duration::from_secs(3), |log| {
                        log.iter().any(|r| {
                            r.method == "kill" && r.params.first() == Some(&Value::Uuid(LIVE_ID))
                        })
                    });
                    assert!(
                        killed,
                        "no `kill` for the orphaned live query: {:?}",
                        server.log()
                    );
                    assert_eq!(server.count("live"), 1, "{:?}", server.log());
                    db.ping().await.expect("the connection still works");
                    assert_eq!(server.count("kill"), 1, "{:?}", server.log());
                });
            },
        );
    }
}
