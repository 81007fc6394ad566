//! The HTTP transport: `POST /rpc` over keep-alive HTTP/1.1 on async-net (rustls for
//! `https`). The request body and the session headers come from the core's pure `rpc::http`
//! functions; this file moves bytes, and bounds every wait and every buffer.
//!
//! Response framing (status line, headers, `Content-Length` / chunked / close-delimited
//! bodies) is parsed by `ureq-proto`, the sans-IO HTTP/1.1 core of ureq 3 that the blocking
//! driver already uses, instead of a hand-written parser: it is maintained and fuzzed
//! upstream, and being sans-IO it is driven from async code by handing it byte slices (no
//! runtime, no IO traits; 5 small crates, `http` and `httparse` among them). This file adds
//! the limits it leaves to its caller: the response head is at most
//! [`MAX_HEAD`] bytes, the body at most [`MAX_BODY`] (a `Content-Length` is checked before
//! anything is allocated for it), and a response with both `Content-Length` and
//! `Transfer-Encoding` is refused.
//!
//! The request head is written here (it is four kinds of line), so that no dependency ever
//! sees, or logs, the `Authorization` header.
//!
//! A request is re-sent on a new connection only when not one byte of it can have reached
//! the server: a pooled connection that is visibly closed is skipped before writing, and a
//! pooled connection whose very first write fails is replaced. Any failure after a byte was
//! written is reported (`Error::Disconnected`: it may or may not have run), never retried,
//! so a `create` is never applied twice.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_io::Timer;
use async_net::TcpStream;
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_rustls::rustls;
use rustls::pki_types::ServerName;
use surql::endpoint::Endpoint;
use surql::rpc::http::{decode_response_payload, HttpSession};
use surql::rpc::{Payload, Request};
use surql::{Error, Options, Result};
use ureq_proto::client::state::RecvResponse;
use ureq_proto::client::{Call, RecvBodyResult, RecvResponseResult, SendRequestResult};
use ureq_proto::BodyMode;

/// Largest response body accepted (the server caps WebSocket messages at 128 MiB).
pub(crate) const MAX_BODY: usize = 256 << 20;
/// Largest response head (status line and headers) accepted; SurrealDB's are ~200 bytes.
pub(crate) const MAX_HEAD: usize = 16 << 10;
/// How much is read from the socket at a time.
pub(crate) const READ_CHUNK: usize = 16 << 10;

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A kept-alive connection and the bytes read from it but not parsed yet.
pub(crate) struct Conn {
    pub(crate) io: Box<dyn Io>,
    pub(crate) buf: Vec<u8>,
}

/// The HTTP client of one `Surreal` handle: a pool of idle keep-alive connections plus what
/// a stateless server forgets between calls (token, namespace, database).
pub(crate) struct HttpClient {
    /// Host for the socket (an IPv6 address without brackets).
    host: String,
    port: u16,
    /// `host:port` for the `Host` header, IPv6 in brackets.
    pub(crate) authority: String,
    /// The RPC path (`/rpc`, or `<prefix>/rpc` behind a proxy).
    pub(crate) rpc_path: String,
    tls: Option<(futures_rustls::TlsConnector, ServerName<'static>)>,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) session: Mutex<HttpSession>,
    idle: Mutex<Vec<Conn>>,
}

impl HttpClient {
    /// A client for `endpoint` (an `http://` or `https://` one). Fails on unusable TLS
    /// settings (bad PEM) or a host that is not a valid TLS server name.
    pub(crate) fn new(endpoint: &Endpoint, options: &Options) -> Result<Arc<Self>> {
        Self::from_parts(
            &endpoint.host,
            endpoint.port,
            endpoint.scheme.is_tls(),
            &endpoint.path,
            options,
        )
        .map(Arc::new)
    }

    fn from_parts(
        host: &str,
        port: u16,
        https: bool,
        rpc_path: &str,
        options: &Options,
    ) -> Result<Self> {
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let tls = if https {
            let name = ServerName::try_from(host.to_owned()).map_err(|e| Error::InvalidUrl {
                url: format!("https://{authority}"),
                reason: format!("`{host}` is not a valid TLS server name: {e}"),
            })?;
            let config = surql_ws::tls_config(&options.tls)?;
            Some((futures_rustls::TlsConnector::from(config), name))
        } else {
            None
        };
        Ok(HttpClient {
            host: host.to_owned(),
            port,
            authority,
            rpc_path: rpc_path.to_owned(),
            tls,
            connect_timeout: options.connect_timeout,
            request_timeout: options.request_timeout,
            session: Mutex::new(HttpSession::default()),
            idle: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.authority)
    }

    /// Opens a connection: TCP connect and TLS handshake, bounded by `connect_timeout`.
    pub(crate) async fn open(&self) -> Result<Conn> {
        let after = self.connect_timeout;
        let what = || {
            format!(
                "connection to {} (TCP connect and TLS handshake)",
                self.url()
            )
        };
        bounded(after, what, async {
            let fail = |e: io::Error| Error::Connect {
                url: self.url(),
                reason: e.to_string(),
            };
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(fail)?;
            tcp.set_nodelay(true).map_err(fail)?;
            let io: Box<dyn Io> = match &self.tls {
                None => Box::new(tcp),
                Some((tls, name)) => Box::new(tls.connect(name.clone(), tcp).await.map_err(fail)?),
            };
            Ok(Conn {
                io,
                buf: Vec::new(),
            })
        })
        .await
    }

    /// Sends one RPC request and returns its `result`. The whole exchange (connecting
    /// included) is bounded by `request_timeout`.
    pub(crate) async fn call(&self, req: Request) -> Result<Payload> {
        // The core checks every header value, and what a `use` or `authenticate` would
        // leave for later calls, before anything is sent.
        let http = lock(&self.session).encode_request(&req)?;
        let method = req.method.as_str();
        let (wire, call) = self.encode(http.method, &self.rpc_path, &http.headers, &http.body)?;
        let (status, body) = bounded(
            self.request_timeout,
            || format!("`{method}` answer"),
            self.exchange(method, &wire, call, true),
        )
        .await?;
        let payload = decode_response_payload(status, &body)?;
        lock(&self.session).apply_payload(&req, &payload);
        Ok(payload)
    }

    /// The status of `GET path` on a fresh connection (used for `/health`), bounded like a
    /// request.
    async fn get_status(&self, path: &str) -> Result<u16> {
        let (wire, call) = self.encode("GET", path, &[("Connection", "close".into())], &[])?;
        let (status, _body) = bounded(
            self.request_timeout,
            || format!("answer to GET {path}"),
            self.exchange("GET", &wire, call, false),
        )
        .await?;
        Ok(status)
    }

    /// The request's bytes, and the parser state that will read its response.
    fn encode(
        &self,
        method: &str,
        path: &str,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> Result<(Vec<u8>, Call<RecvResponse>)> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.authority);
        if method != "GET" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        for (name, value) in headers {
            // The core validates what it puts in headers; refusing here too keeps a CR/LF
            // from ever splitting a header, whatever the caller.
            check_header(name, value)?;
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut wire = head.into_bytes();
        wire.extend_from_slice(body);
        Ok((wire, response_reader(method)?))
    }

    /// Writes the request on a pooled or new connection and reads the response.
    async fn exchange(
        &self,
        method: &str,
        wire: &[u8],
        call: Call<RecvResponse>,
        keep_alive: bool,
    ) -> Result<(u16, Vec<u8>)> {
        let mut conn = loop {
            let popped = if keep_alive {
                lock(&self.idle).pop()
            } else {
                None
            };
            let (mut conn, pooled) = match popped {
                Some(mut c) => {
                    // The server may have closed it while it sat idle.
                    if !looks_open(&mut c.io).await {
                        continue;
                    }
                    (c, true)
                }
                None => (self.open().await?, false),
            };
            match write_request(&mut conn.io, wire).await {
                Ok(()) => break conn,
                // Not a byte went out on a connection that was closed while pooled: the one
                // case where sending again cannot run the request twice.
                Err((false, _)) if pooled => continue,
                Err((false, e)) => {
                    return Err(Error::Connect {
                        url: self.url(),
                        reason: format!(
                            "the new connection failed before the request was sent: {e}"
                        ),
                    })
                }
                Err((true, e)) => {
                    return Err(Error::Disconnected {
                        method: method.to_owned(),
                        reason: format!("writing the request to {} failed: {e}", self.url()),
                    })
                }
            }
        };
        match read_response(&mut conn.io, &mut conn.buf, call).await {
            Ok(r) => {
                if keep_alive && r.reusable {
                    lock(&self.idle).push(conn);
                }
                Ok((r.status, r.body))
            }
            Err(Failure::Lost(reason)) => Err(Error::Disconnected {
                method: method.to_owned(),
                reason: format!("{reason} ({})", self.url()),
            }),
            Err(Failure::Bad { status, message }) => Err(Error::Http { status, message }),
        }
    }
}

/// Refuses a header value that could end its header line (CR, LF) or be cut short (NUL),
/// naming the header `name`. The value may be a token: it is never quoted.
pub(crate) fn check_header(name: &str, value: &str) -> Result<()> {
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::invalid(
            format!("`{name}` header"),
            "it contains a CR, LF or NUL byte; nothing was sent",
        ));
    }
    Ok(())
}

/// `fut`, or `Error::Timeout` once `after` has passed.
pub(crate) async fn bounded<T>(
    after: Duration,
    what: impl FnOnce() -> String,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    future::or(fut, async move {
        // `Timer::after(Duration::MAX)` is a timer that never fires, not an overflow.
        Timer::after(after).await;
        Err(Error::Timeout {
            what: what(),
            after,
        })
    })
    .await
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them half-updated (plain assignments
    // and Vec push/pop), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether an idle connection still looks usable: a read must have nothing to give. End of
/// stream (the server closed it), an error, or unsolicited bytes all make it unusable.
async fn looks_open(io: &mut Box<dyn Io>) -> bool {
    let mut probe = [0u8; 1];
    future::poll_once(io.read(&mut probe)).await.is_none()
}

/// Writes the whole request. On failure, says whether any byte may have reached the server
/// (`true` as soon as one write call accepted a byte: conservative, since with TLS an
/// accepted byte may still sit in a buffer).
async fn write_request(
    io: &mut Box<dyn Io>,
    wire: &[u8],
) -> std::result::Result<(), (bool, io::Error)> {
    let mut sent = 0;
    while sent < wire.len() {
        match io.write(&wire[sent..]).await {
            Ok(0) => return Err((sent > 0, io::ErrorKind::WriteZero.into())),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((sent > 0, e)),
        }
    }
    io.flush().await.map_err(|e| (true, e))
}

/// The parser state for the response to a request of `method`. The request it "sends" is
/// a stand-in (only the method matters for reading the response) and its bytes are thrown
/// away: the real head is written by [`HttpClient::encode`].
pub(crate) fn response_reader(method: &str) -> Result<Call<RecvResponse>> {
    let bad =
        |e: &dyn std::fmt::Display| Error::Protocol(format!("cannot set up the HTTP parser: {e}"));
    let request = ureq_proto::http::Request::builder()
        .method(method)
        .uri("http://localhost/")
        .header("content-length", "0")
        .body(())
        .map_err(|e| bad(&e))?;
    let mut call = Call::new(request).map_err(|e| bad(&e))?.proceed();
    let mut sink = [0u8; 256];
    while !call.can_proceed() {
        if call.write(&mut sink).map_err(|e| bad(&e))? == 0 {
            return Err(bad(&"the stand-in request does not fit"));
        }
    }
    match call.proceed().map_err(|e| bad(&e))? {
        Some(SendRequestResult::RecvResponse(c)) => Ok(c),
        Some(SendRequestResult::SendBody(mut c)) => {
            c.write(&[], &mut sink).map_err(|e| bad(&e))?;
            c.proceed().ok_or_else(|| bad(&"empty body not accepted"))
        }
        Some(SendRequestResult::Await100(_)) | None => Err(bad(&"unexpected request state")),
    }
}

/// A complete response.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// The connection may carry another request.
    pub(crate) reusable: bool,
}

/// Why reading a response failed.
pub(crate) enum Failure {
    /// The connection ended or failed before a complete response head arrived: the request
    /// may or may not have run.
    Lost(String),
    /// The response is malformed or over a limit.
    Bad { status: u16, message: String },
}

fn bad(status: u16, message: impl Into<String>) -> Failure {
    Failure::Bad {
        status,
        message: message.into(),
    }
}

/// Reads at most `max` more bytes into `buf`; `Ok(0)` is the end of the stream.
pub(crate) async fn fill<R: AsyncRead + Unpin + ?Sized>(
    io: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<usize> {
    let old = buf.len();
    buf.resize(old + max, 0);
    let result = loop {
        match io.read(&mut buf[old..]).await {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => break r,
        }
    };
    buf.truncate(old + *result.as_ref().unwrap_or(&0));
    result
}

/// Reads one response from `io` (`buf` holds bytes already read). Memory stays bounded by
/// [`MAX_HEAD`] for the head and [`MAX_BODY`] for the body, whatever the peer sends.
pub(crate) async fn read_response<R: AsyncRead + Unpin + ?Sized>(
    io: &mut R,
    buf: &mut Vec<u8>,
    mut call: Call<RecvResponse>,
) -> std::result::Result<Response, Failure> {
    let mut seen_any = !buf.is_empty();
    let response = loop {
        if !buf.is_empty() {
            let (used, response) = call
                .try_response(buf, false)
                .map_err(|e| bad(0, format!("malformed HTTP response head: {e}")))?;
            buf.drain(..used);
            if let Some(r) = response {
                break r;
            }
            if used > 0 {
                // An informational (1xx) response was skipped; the real one follows.
                continue;
            }
        }
        if buf.len() >= MAX_HEAD {
            return Err(bad(
                0,
                format!("HTTP response head longer than {MAX_HEAD} bytes"),
            ));
        }
        let room = (MAX_HEAD - buf.len()).min(READ_CHUNK);
        match fill(io, buf, room).await {
            Ok(0) if !seen_any => {
                return Err(Failure::Lost(
                    "the server closed the connection before replying".into(),
                ))
            }
            Ok(0) => {
                return Err(Failure::Lost(
                    "the server closed the connection inside the response head".into(),
                ))
            }
            Ok(_) => seen_any = true,
            Err(e) => return Err(Failure::Lost(format!("reading the response failed: {e}"))),
        }
    };
    let status = response.status().as_u16();
    let headers = response.headers();
    if headers.contains_key(ureq_proto::http::header::TRANSFER_ENCODING)
        && headers.contains_key(ureq_proto::http::header::CONTENT_LENGTH)
    {
        // RFC 9112 lets a client pick Transfer-Encoding, but a peer sending both is either
        // broken or trying to desynchronise a proxy: refuse it.
        return Err(bad(
            status,
            "response has both Content-Length and Transfer-Encoding",
        ));
    }
    let mut call = match call.proceed() {
        Some(RecvResponseResult::RecvBody(c)) => c,
        Some(RecvResponseResult::Cleanup(c)) => {
            return Ok(Response {
                status,
                body: Vec::new(),
                reusable: !c.must_close_connection() && buf.is_empty(),
            })
        }
        Some(RecvResponseResult::Redirect(c)) => {
            return Ok(Response {
                status,
                body: Vec::new(),
                reusable: !c.must_close_connection() && buf.is_empty(),
            })
        }
        None => return Err(bad(status, "incomplete HTTP response head")),
    };
    let mode = call.body_mode();
    let close_delimited = matches!(mode, BodyMode::CloseDelimited);
    let mut body = Vec::new();
    if let BodyMode::LengthDelimited(n) = mode {
        if n > MAX_BODY as u64 {
            return Err(bad(
                status,
                format!("response body of {n} bytes is over the {MAX_BODY}-byte limit"),
            ));
        }
        // Grown as bytes arrive: a peer announcing a large body and sending nothing costs
        // nothing.
        body.reserve((n as usize).min(READ_CHUNK));
    }
    let mut out = vec![0u8; READ_CHUNK];
    loop {
        if !close_delimited && call.can_proceed() {
            break;
        }
        if !buf.is_empty() {
            let (used, produced) = call
                .read(buf, &mut out)
                .map_err(|e| bad(status, format!("malformed HTTP response body: {e}")))?;
            buf.drain(..used);
            if body.len().saturating_add(produced) > MAX_BODY {
                return Err(bad(
                    status,
                    format!("response body over the {MAX_BODY}-byte limit"),
                ));
            }
            body.extend_from_slice(&out[..produced]);
            if used > 0 || produced > 0 {
                continue;
            }
            // No progress: a chunk-size line or trailer is incomplete. Those are short;
            // one that never ends is refused instead of buffered.
            if buf.len() >= MAX_HEAD {
                return Err(bad(
                    status,
                    format!("chunk framing line longer than {MAX_HEAD} bytes"),
                ));
            }
        }
        match fill(io, buf, READ_CHUNK).await {
            Ok(0) if close_delimited => break,
            Ok(0) => {
                return Err(bad(
                    status,
                    "the server closed the connection before the response body ended",
                ))
            }
            Ok(_) => {}
            Err(e) => {
                return Err(bad(
                    status,
                    format!("reading the response body failed: {e}"),
                ))
            }
        }
    }
    let reusable = !close_delimited
        && buf.is_empty()
        && match call.proceed() {
            Some(RecvBodyResult::Cleanup(c)) => !c.must_close_connection(),
            Some(RecvBodyResult::Redirect(c)) => !c.must_close_connection(),
            None => false,
        };
    Ok(Response {
        status,
        body,
        reusable,
    })
}

/// The status code of `GET path` on a fresh connection (used for `/health`), bounded by
/// `options`' connect and request timeouts.
pub(crate) async fn get_status(
    host: &str,
    port: u16,
    tls: bool,
    path: &str,
    options: &Options,
) -> Result<u16> {
    HttpClient::from_parts(host, port, tls, "", options)?
        .get_status(path)
        .await
}

/// Runs the response reader over `bytes` as if a server had sent them after a `POST`:
/// for fuzzing; it must never panic, whatever the bytes.
pub(crate) fn fuzz_response(bytes: &[u8]) {
    let Ok(call) = response_reader("POST") else {
        return;
    };
    let mut source = futures_lite::io::Cursor::new(bytes);
    let mut buf = Vec::new();
    // Only the absence of a panic matters here, not which answer the bytes give.
    drop(future::block_on(read_response(&mut source, &mut buf, call)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(host: &str) -> HttpClient {
        HttpClient::from_parts(host, 8000, false, "/rpc", &Options::default()).expect("client")
    }

    fn read(bytes: &[u8]) -> std::result::Result<Response, Failure> {
        let call = response_reader("POST").expect("reader");
        let mut source = futures_lite::io::Cursor::new(bytes);
        let mut buf = Vec::new();
        future::block_on(read_response(&mut source, &mut buf, call))
    }

    fn message(r: std::result::Result<Response, Failure>) -> String {
        match r {
            Ok(r) => panic!("expected an error, got status {}", r.status),
            Err(Failure::Lost(m)) => format!("lost: {m}"),
            Err(Failure::Bad { message, .. }) => message,
        }
    }

    #[test]
    fn calls_can_be_spawned_on_multi_threaded_executors() {
        fn send<T: Send>(_: T) {}
        let c = client("localhost");
        let (req, _) = surql::client::ping().into_parts();
        send(c.call(req));
        send(c.get_status("/health"));
    }

    #[test]
    fn an_ipv6_host_header_is_bracketed() {
        let (wire, _) = client("::1")
            .encode("POST", "/rpc", &[], b"x")
            .expect("encode");
        let text = String::from_utf8(wire).expect("ascii");
        assert!(text.contains("\r\nHost: [::1]:8000\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nx"), "{text}");
    }

    #[test]
    fn header_values_with_line_breaks_are_refused_without_quoting_them() {
        for bad in ["a\r\nX-Evil: 1", "a\nb", "a\rb", "a\0b"] {
            let e = client("localhost")
                .encode(
                    "POST",
                    "/rpc",
                    &[("Authorization", format!("Bearer {bad}"))],
                    b"",
                )
                .expect_err("refused");
            assert!(e.is_invalid_input(), "{e}");
            let text = e.to_string();
            assert!(text.contains("`Authorization` header"), "{text}");
            assert!(!text.contains("Bearer"), "the value leaked: {text}");
        }
    }

    #[test]
    fn bodies_are_read_in_every_framing() {
        let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
            .ok()
            .expect("ok");
        assert_eq!(
            (r.status, r.body.as_slice(), r.reusable),
            (200, &b"abc"[..], true)
        );
        let r = read(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n2\r\nbc\r\n0\r\n\r\n",
        )
        .ok()
        .expect("ok");
        assert_eq!((r.body.as_slice(), r.reusable), (&b"abc"[..], true));
        let r = read(b"HTTP/1.1 200 OK\r\n\r\nabc").ok().expect("ok");
        assert_eq!((r.body.as_slice(), r.reusable), (&b"abc"[..], false));
        let r = read(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz")
            .ok()
            .expect("ok");
        assert_eq!((r.body.as_slice(), r.reusable), (&b"z"[..], false));
    }

    #[test]
    fn hostile_framing_is_refused() {
        assert!(message(read(b"")).starts_with("lost"));
        assert!(message(read(b"garbage\r\n\r\n")).contains("malformed"));
        let huge = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(message(read(huge.as_bytes())).contains("over the"));
        let both =
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert!(message(read(both)).contains("both"));
        let overflow =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc";
        assert!(message(read(overflow)).contains("closed"));
        let overflow =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nabc";
        assert!(message(read(overflow)).contains("malformed"));
        let bad_end = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY\r\n0\r\n\r\n";
        assert!(message(read(bad_end)).contains("malformed"));
        let mut endless = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        endless.resize(MAX_HEAD * 4, b'a');
        assert!(message(read(&endless)).contains("longer than"));
        let mut endless = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1".to_vec();
        endless.resize(MAX_HEAD * 4, b' ');
        let m = message(read(&endless));
        assert!(m.contains("longer than") || m.contains("malformed"), "{m}");
        let truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert!(message(read(truncated)).contains("closed"));
    }

    #[test]
    fn mangled_responses_never_panic() {
        let seeds: [&[u8]; 4] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;x=y\r\na\r\n0\r\nT: v\r\n\r\n",
            b"HTTP/1.0 500 Internal\r\nConnection: keep-alive\r\n\r\n{\"description\":\"x\"}",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        ];
        // xorshift: deterministic, so a failure replays.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..5_000 {
            let mut b = seeds[i % seeds.len()].to_vec();
            for _ in 0..=next() % 4 {
                let at = (next() as usize) % (b.len() + 1);
                match next() % 5 {
                    0 if at < b.len() => b[at] = next() as u8,
                    1 => b.truncate(at),
                    2 => b.insert(at, next() as u8),
                    3 => b.insert(at, [b'\r', b'\n', b':', b';', b'0', b'f'][at % 6]),
                    _ => {
                        let tail = b[at..].to_vec();
                        b.extend(tail);
                    }
                }
            }
            fuzz_response(&b);
        }
    }

    #[test]
    fn tls_settings_are_checked() {
        let o = Options::default()
            .tls(surql::options::TlsOptions::default().add_root_pem(&b"not pem"[..]));
        let e = HttpClient::from_parts("localhost", 443, true, "/rpc", &o)
            .err()
            .expect("bad pem refused");
        assert!(e.is_invalid_input(), "{e}");
        let o = Options::default().tls(
            surql::options::TlsOptions::default()
                .client_cert(&b"nothing"[..], &b"SECRET-KEY-TEXT"[..]),
        );
        let e = HttpClient::from_parts("localhost", 443, true, "/rpc", &o)
            .err()
            .expect("bad client cert refused");
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }
}
