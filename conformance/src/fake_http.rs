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
    /// Starts a server on 127.0.0.1 that plays `script`, one act per request received (on
    /// any connection).
    pub fn start(script: Vec<Act>) -> FakeHttp {
        FakeHttp::start_on("127.0.0.1:0", script)
    }

    /// [`FakeHttp::start`] on `addr` (e.g. `[::1]:0`).
    pub fn start_on(addr: &str, script: Vec<Act>) -> FakeHttp {
        FakeHttp::spawn(addr, script, None)
    }

    /// An `https://` server on 127.0.0.1 with the test certificate of [`tls`] (for
    /// `127.0.0.1` and `localhost`, issued by [`tls::CA`]); with `client_auth`, it requires
    /// a client certificate issued by that CA.
    pub fn start_https(script: Vec<Act>, client_auth: bool) -> FakeHttp {
        FakeHttp::spawn(
            "127.0.0.1:0",
            script,
            Some(Arc::new(tls::server_config(client_auth))),
        )
    }

    fn spawn(addr: &str, script: Vec<Act>, tls: Option<Arc<rustls::ServerConfig>>) -> FakeHttp {
        let listener = TcpListener::bind(addr).expect("bind the fake server");
        let url = format!(
            "{}://{}",
            if tls.is_some() { "https" } else { "http" },
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
                let tls = tls.clone();
                thread::spawn(move || {
                    // Short read timeouts let an idle connection notice that the test is over.
                    if stream
                        .set_read_timeout(Some(Duration::from_millis(100)))
                        .is_err()
                        || stream.set_nodelay(true).is_err()
                    {
                        return;
                    }
                    match tls {
                        None => serve(stream, &reqs, &script, &stopped),
                        Some(config) => {
                            let Ok(conn) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            serve(
                                rustls::StreamOwned::new(conn, stream),
                                &reqs,
                                &script,
                                &stopped,
                            )
                        }
                    }
                });
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
        if let Some((_, addr)) = self.url.split_once("://") {
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
fn read_request<S: Read>(s: &mut S, stop: &AtomicBool) -> Option<Vec<u8>> {
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

fn serve<S: Read + Write>(mut s: S, reqs: &Mutex<Vec<Vec<u8>>>, script: &[Act], stop: &AtomicBool) {
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

/// The test PKI (`conformance/testdata/tls`, made with openssl, valid until 2126): a CA, a
/// server certificate for `127.0.0.1` and `localhost`, and a client certificate. Test keys:
/// they protect nothing.
pub mod tls {
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    /// The CA certificate (PEM) that issued the server and client certificates.
    pub const CA: &[u8] = include_bytes!("../testdata/tls/ca.pem");
    /// The server's certificate (PEM).
    pub const SERVER_CERT: &[u8] = include_bytes!("../testdata/tls/server.pem");
    /// The server's private key (PKCS#8 PEM).
    pub const SERVER_KEY: &[u8] = include_bytes!("../testdata/tls/server-key.pem");
    /// The client's certificate (PEM).
    pub const CLIENT_CERT: &[u8] = include_bytes!("../testdata/tls/client.pem");
    /// The client's private key (PKCS#8 PEM).
    pub const CLIENT_KEY: &[u8] = include_bytes!("../testdata/tls/client-key.pem");

    /// The test server's TLS config (requiring a client certificate from the test CA when
    /// `client_auth`).
    pub fn server_config(client_auth: bool) -> rustls::ServerConfig {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(SERVER_CERT)
            .collect::<Result<_, _>>()
            .expect("the test server certificate");
        let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).expect("the test server key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = if client_auth {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(CA) {
                roots.add(c.expect("the test CA")).expect("the test CA");
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        builder
            .with_single_cert(certs, key)
            .expect("the test server certificate and key")
    }
}
