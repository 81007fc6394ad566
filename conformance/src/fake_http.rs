//! A scripted fake HTTP `/rpc` server on 127.0.0.1 for the drivers' hostile-network tests:
//! the n-th request it receives gets the n-th [`Act`] of its script (silence, a hang-up,
//! garbage, a drip-fed answer, an endless header, …), and every request received is counted,
//! so a test can tell whether the driver sent a request twice.
//!
//! Requests past the end of the script get a proper CBOR RPC answer (`{"result":
//! "surrealdb-fake"}`), which is what `version()` reads: a test checks that the next call on
//! the same handle works after a hostile exchange.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What `version()` returns when the fake server answers properly.
pub const VERSION: &str = "surrealdb-fake";

/// How the server treats one request.
#[derive(Debug, Clone)]
pub enum Act {
    /// A proper CBOR RPC answer; the connection stays open for the next request.
    Reply,
    /// A proper answer (keep-alive), then the server closes the connection while it is idle.
    ReplyThenClose,
    /// Never answer (the connection stays open until the client gives up).
    Silent,
    /// Close the connection right after reading the request, before any reply.
    Close,
    /// Send these bytes, then close.
    Raw(Vec<u8>),
    /// Send these bytes one at a time, each flushed on its own; keep the connection.
    Drip(Vec<u8>),
    /// Send these bytes, then `a` forever (an unterminated header line) until the client
    /// goes away.
    Endless(Vec<u8>),
}

/// A running fake server; it stops when dropped (its threads end once their clients do).
pub struct FakeHttp {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
}

impl FakeHttp {
    /// Starts a server that plays `script`, one act per request received (any connection).
    pub fn start(script: Vec<Act>) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the listener's address")
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script = Arc::new(script);
        let (reqs, stopped) = (requests.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { return };
                let (reqs, script, stopped) = (reqs.clone(), script.clone(), stopped.clone());
                thread::spawn(move || serve(stream, &reqs, &script, &stopped));
            }
        });
        FakeHttp {
            url,
            requests,
            stop,
        }
    }

    /// How many complete requests the server has received.
    pub fn count(&self) -> usize {
        self.requests.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// The requests received so far (head and body, as sent).
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stop`.
        if let Some(addr) = self.url.strip_prefix("http://") {
            drop(TcpStream::connect(addr));
        }
    }
}

/// The CBOR body `{"result": <text>}`.
pub fn cbor_result(text: &str) -> Vec<u8> {
    let mut out = vec![0xa1];
    cbor_text(&mut out, "result");
    cbor_text(&mut out, text);
    out
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    match s.len() {
        n @ 0..=23 => out.push(0x60 + n as u8),
        n @ 24..=255 => out.extend([0x78, n as u8]),
        n => {
            out.push(0x79);
            out.extend((n as u16).to_be_bytes());
        }
    }
    out.extend(s.as_bytes());
}

/// A proper `200` answer carrying `{"result": VERSION}`.
pub fn good_reply() -> Vec<u8> {
    let body = cbor_result(VERSION);
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/cbor\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend(body);
    out
}

/// Reads one request (head and `Content-Length` body); `None` when the client closed.
fn read_request(s: &mut TcpStream, stop: &AtomicBool) -> Option<Vec<u8>> {
    let mut req = Vec::new();
    let mut byte = [0u8; 1];
    while !req.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) => req.push(byte[0]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                if stop.load(Ordering::SeqCst) {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
    let head = String::from_utf8_lossy(&req).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).ok()?;
    req.extend(body);
    Some(req)
}

fn serve(mut s: TcpStream, reqs: &Mutex<Vec<Vec<u8>>>, script: &[Act], stop: &AtomicBool) {
    // Short read timeouts let an idle connection notice that the test is over.
    if s.set_read_timeout(Some(Duration::from_millis(100)))
        .is_err()
        || s.set_nodelay(true).is_err()
    {
        return;
    }
    while let Some(req) = read_request(&mut s, stop) {
        let n = {
            let Ok(mut r) = reqs.lock() else { return };
            r.push(req);
            r.len() - 1
        };
        match script.get(n).cloned().unwrap_or(Act::Reply) {
            Act::Reply => {
                if s.write_all(&good_reply()).is_err() {
                    return;
                }
            }
            Act::ReplyThenClose => {
                // Dropping the stream closes it; the client has it pooled as idle.
                if s.write_all(&good_reply()).is_ok() {
                    thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            Act::Silent => {
                // Hold the connection until the client drops it (or the test ends).
                let mut sink = [0u8; 1024];
                loop {
                    match s.read(&mut sink) {
                        Ok(0) => return,
                        Ok(_) => {}
                        Err(_) if !stop.load(Ordering::SeqCst) => {}
                        Err(_) => return,
                    }
                }
            }
            Act::Close => return,
            Act::Raw(bytes) => {
                // Whether the client still listens does not matter: the act is over.
                drop(s.write_all(&bytes));
                thread::sleep(Duration::from_millis(20));
                return;
            }
            Act::Drip(bytes) => {
                for b in bytes {
                    if s.write_all(&[b]).and_then(|()| s.flush()).is_err() {
                        return;
                    }
                    thread::sleep(Duration::from_millis(1));
                }
            }
            Act::Endless(prefix) => {
                if s.write_all(&prefix).is_err() {
                    return;
                }
                let filler = [b'a'; 1024];
                while !stop.load(Ordering::SeqCst) {
                    if s.write_all(&filler).is_err() {
                        return;
                    }
                }
                return;
            }
        }
    }
}
