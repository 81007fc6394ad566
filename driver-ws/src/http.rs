//! HTTP/1.1 for both drivers' HTTP transports, without IO: the request head they write, the
//! response reader they feed bytes to, the receive buffer, the idle-connection pool and the
//! never-re-send rule. A driver keeps only its socket reads and writes (async in
//! `surql-smol`, std in `surql-blocking`) around these.
//!
//! ```text
//!   request_bytes() ──► driver writes ──► server
//!   server ──► driver reads into RecvBuf ──► ResponseReader / Collect ──► NeedMore | Done | Failure
//! ```
//!
//! Response framing (status line, headers, `Content-Length` / chunked / close-delimited
//! bodies) is parsed by `ureq-proto`, the sans-IO HTTP/1.1 core of ureq 3: maintained and
//! fuzzed upstream, and driven here by handing it byte slices. This module adds the limits it
//! leaves to its caller: the response head is at most [`MAX_HEAD`] bytes (the receive buffer
//! is that large and never grows), the body at most the caller's limit (a `Content-Length` is
//! checked before anything is allocated for it), and a response with both `Content-Length`
//! and `Transfer-Encoding` is refused.
//!
//! The request head is written here (it is a handful of lines), so that no dependency ever
//! sees, or logs, the `Authorization` header.

use std::fmt::Display;
use std::io::{self, Write as _};
use std::sync::{Mutex, MutexGuard};

use surql::{Error, Result};
use ureq_proto::client::state::{RecvBody, RecvResponse};
use ureq_proto::client::{Call, RecvBodyResult, RecvResponseResult, SendRequestResult};
use ureq_proto::BodyMode;

/// Largest RPC response body accepted (the server caps WebSocket messages at 128 MiB).
pub const MAX_BODY: u64 = 256 << 20;
/// Largest response head (status line and headers) accepted, and the size of a connection's
/// [`RecvBuf`]; SurrealDB's heads are ~200 bytes.
pub const MAX_HEAD: usize = 16 << 10;
/// Idle keep-alive connections kept for reuse by one client (one client talks to one
/// server): as many as concurrent callers are likely to use.
pub const MAX_IDLE: usize = 64;

/// `host:port` for a `Host` header and URLs, an IPv6 address in brackets.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Refuses a header value that could end its header line (CR, LF) or be cut short (NUL),
/// naming the header `name`. The value is never quoted: it may be a token.
pub fn check_header(name: &str, value: &str) -> Result<()> {
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::invalid(
            format!("`{name}` header"),
            "it contains a CR, LF or NUL byte; nothing was sent",
        ));
    }
    Ok(())
}

/// A request's body, as far as its head is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// No body and no framing header (a `GET`).
    None,
    /// These bytes, after a `Content-Length` header.
    Bytes(&'a [u8]),
    /// Streamed by the caller as chunks after a `Transfer-Encoding: chunked` header.
    Chunked,
}

/// The bytes of a request: its head (`Host`, the body's framing, `Connection: close` when
/// `close`, then `headers`, each value checked by [`check_header`]) and a [`Body::Bytes`]
/// body.
pub fn request_bytes(
    method: &str,
    path: &str,
    authority: &str,
    headers: &[(&str, String)],
    body: Body<'_>,
    close: bool,
) -> Result<Vec<u8>> {
    let bytes = match body {
        Body::Bytes(b) => b,
        Body::None | Body::Chunked => &[],
    };
    let mut wire = Vec::with_capacity(160 + bytes.len());
    for part in [method, " ", path, " HTTP/1.1\r\nHost: ", authority, "\r\n"] {
        wire.extend_from_slice(part.as_bytes());
    }
    match body {
        Body::None => {}
        Body::Bytes(b) => {
            // Writing into a Vec cannot fail.
            let _ = write!(wire, "Content-Length: {}\r\n", b.len());
        }
        Body::Chunked => wire.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    if close {
        wire.extend_from_slice(b"Connection: close\r\n");
    }
    for (name, value) in headers {
        // The core validates what it puts in headers; refusing here too keeps a CR/LF from
        // ever splitting a header, whatever the caller.
        check_header(name, value)?;
        for part in [name, ": ", value.as_str(), "\r\n"] {
            wire.extend_from_slice(part.as_bytes());
        }
    }
    wire.extend_from_slice(b"\r\n");
    wire.extend_from_slice(bytes);
    Ok(wire)
}

/// One chunk of a `Transfer-Encoding: chunked` body (`data` empty: the last chunk), into
/// `frame` (cleared first).
pub fn chunk_frame(data: &[u8], frame: &mut Vec<u8>) {
    frame.clear();
    if data.is_empty() {
        frame.extend_from_slice(b"0\r\n\r\n");
    } else {
        let _ = write!(frame, "{:x}\r\n", data.len());
        frame.extend_from_slice(data);
        frame.extend_from_slice(b"\r\n");
    }
}

/// The bytes read from a connection and not parsed yet: a fixed [`MAX_HEAD`]-byte buffer,
/// allocated once per connection (no zeroing per read). A response head that does not fit
/// is refused by the reader.
pub struct RecvBuf {
    data: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Default for RecvBuf {
    fn default() -> Self {
        RecvBuf {
            data: vec![0; MAX_HEAD].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }
}

impl RecvBuf {
    /// The unparsed bytes.
    pub fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// No unparsed bytes.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// No room left to read into.
    pub fn is_full(&self) -> bool {
        self.start == 0 && self.end == self.data.len()
    }

    /// Drops the first `n` unparsed bytes (parsed).
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Where to read more bytes into (empty when full); then [`commit`](Self::commit).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 && self.end == self.data.len() {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.data[self.end..]
    }

    /// `n` bytes were read into [`spare`](Self::spare).
    pub fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.data.len());
    }
}

/// Why reading a response failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The connection ended or failed before a complete response head arrived: the request
    /// may or may not have run.
    Lost(String),
    /// The response is malformed or over a limit (status 0 before the head was read).
    Bad { status: u16, message: String },
}

impl Failure {
    /// The driver error: [`Error::Disconnected`] for `method` when the answer was lost,
    /// [`Error::Http`] for a broken one.
    pub fn into_error(self, method: &str, url: &str) -> Error {
        match self {
            Failure::Lost(reason) => Error::Disconnected {
                method: method.to_owned(),
                reason: format!("{reason} ({url})"),
            },
            Failure::Bad { status, message } => Error::Http { status, message },
        }
    }

    /// The human explanation, whichever the kind.
    pub fn message(&self) -> &str {
        match self {
            Failure::Lost(m) | Failure::Bad { message: m, .. } => m,
        }
    }
}

fn bad(status: u16, message: impl Into<String>) -> Failure {
    Failure::Bad {
        status,
        message: message.into(),
    }
}

/// What [`ResponseReader::advance`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// Read more bytes into the buffer (or call [`ResponseReader::end_of_stream`]).
    NeedMore,
    /// The head is complete: the status code.
    Head(u16),
    /// This many body bytes were written to the output.
    Data(usize),
    /// The response is complete.
    End,
}

enum Phase {
    /// Before the head is complete: `None` until the head needs ureq-proto's parser (see
    /// [`plain_head`]); the common response never makes one.
    Head(Option<Call<RecvResponse>>),
    Body(Call<RecvBody>),
    /// A `Content-Length` body after a plain head: this many bytes are still to come.
    Length {
        left: u64,
        reusable: bool,
    },
    Done {
        reusable: bool,
    },
    /// Between states, or after a failure.
    Gone,
}

/// Reads one response, head then body, from the bytes a driver feeds it, streaming the body
/// out in pieces (see [`Collect`] for a whole body in memory).
pub struct ResponseReader {
    phase: Phase,
    /// The request's method (for a head that needs ureq-proto's parser).
    method: ureq_proto::http::Method,
    /// Whether a plain head is read with [`plain_head`] (always, but for the test that
    /// compares both paths).
    plain_heads: bool,
    status: u16,
    close_delimited: bool,
    seen_any: bool,
    max_body: u64,
    received: u64,
}

impl ResponseReader {
    /// A reader for the response to a request of `method` (it decides whether a body may
    /// follow), refusing a body over `max_body` bytes.
    pub fn new(method: &str, max_body: u64) -> Result<ResponseReader> {
        let method = ureq_proto::http::Method::from_bytes(method.as_bytes())
            .map_err(|e| Error::Protocol(format!("cannot set up the HTTP parser: {e}")))?;
        Ok(ResponseReader {
            phase: Phase::Head(None),
            method,
            plain_heads: true,
            status: 0,
            close_delimited: false,
            seen_any: false,
            max_body,
            received: 0,
        })
    }

    /// The status code (0 until the head is read).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The head has been read.
    pub fn has_head(&self) -> bool {
        !matches!(self.phase, Phase::Head(_))
    }

    /// Parses what it can of `buf` (consuming it), writing body bytes to `out` (which
    /// should be at least as long as `buf.filled()`: decoding never grows the bytes).
    pub fn advance(&mut self, buf: &mut RecvBuf, out: &mut [u8]) -> Result<Piece, Failure> {
        let result = self.step(buf, out);
        if result.is_err() {
            self.phase = Phase::Gone;
        }
        result
    }

    fn step(&mut self, buf: &mut RecvBuf, out: &mut [u8]) -> Result<Piece, Failure> {
        if !buf.is_empty() {
            self.seen_any = true;
        }
        loop {
            match std::mem::replace(&mut self.phase, Phase::Gone) {
                Phase::Head(None) => {
                    if buf.is_empty() {
                        self.phase = Phase::Head(None);
                        return Ok(Piece::NeedMore);
                    }
                    let plain = if self.plain_heads {
                        plain_head(buf.filled(), &self.method)
                    } else {
                        Plain::Other
                    };
                    match plain {
                        Plain::Partial if buf.is_full() => {
                            return Err(bad(
                                0,
                                format!("HTTP response head longer than {MAX_HEAD} bytes"),
                            ));
                        }
                        Plain::Partial => {
                            self.phase = Phase::Head(None);
                            return Ok(Piece::NeedMore);
                        }
                        Plain::Head {
                            len,
                            status,
                            body,
                            reusable,
                        } => {
                            buf.consume(len);
                            self.status = status;
                            if body > self.max_body {
                                return Err(bad(
                                    status,
                                    format!(
                                        "response body of {body} bytes is over the {}-byte limit",
                                        self.max_body
                                    ),
                                ));
                            }
                            self.phase = Phase::Length {
                                left: body,
                                reusable,
                            };
                            return Ok(Piece::Head(status));
                        }
                        Plain::Other => {
                            // Anything else (chunked, 1xx, no length, malformed, …) is
                            // ureq-proto's to read, from the same unconsumed bytes.
                            let call =
                                stand_in_call(&self.method).map_err(|e| bad(0, e.to_string()))?;
                            self.phase = Phase::Head(Some(call));
                        }
                    }
                }
                Phase::Length { left, reusable } => {
                    if left == 0 {
                        self.phase = Phase::Done { reusable };
                        return Ok(Piece::End);
                    }
                    if buf.is_empty() {
                        self.phase = Phase::Length { left, reusable };
                        return Ok(Piece::NeedMore);
                    }
                    if out.is_empty() {
                        return Err(bad(self.status, "no room for the response body"));
                    }
                    let filled = buf.filled();
                    let n = filled
                        .len()
                        .min(out.len())
                        .min(usize::try_from(left).unwrap_or(usize::MAX));
                    out[..n].copy_from_slice(&filled[..n]);
                    buf.consume(n);
                    self.received = self.received.saturating_add(n as u64);
                    self.phase = Phase::Length {
                        left: left - n as u64,
                        reusable,
                    };
                    return Ok(Piece::Data(n));
                }
                Phase::Head(Some(mut call)) => {
                    if buf.is_empty() {
                        self.phase = Phase::Head(Some(call));
                        return Ok(Piece::NeedMore);
                    }
                    let (used, response) = call
                        .try_response(buf.filled(), false)
                        .map_err(|e| bad(0, format!("malformed HTTP response head: {e}")))?;
                    buf.consume(used);
                    let Some(response) = response else {
                        if used > 0 {
                            // An informational (1xx) response was skipped; the real one follows.
                            self.phase = Phase::Head(Some(call));
                            continue;
                        }
                        if buf.is_full() {
                            return Err(bad(
                                0,
                                format!("HTTP response head longer than {MAX_HEAD} bytes"),
                            ));
                        }
                        self.phase = Phase::Head(Some(call));
                        return Ok(Piece::NeedMore);
                    };
                    let status = response.status().as_u16();
                    self.status = status;
                    let headers = response.headers();
                    if headers.contains_key(ureq_proto::http::header::TRANSFER_ENCODING)
                        && headers.contains_key(ureq_proto::http::header::CONTENT_LENGTH)
                    {
                        // RFC 9112 lets a client pick Transfer-Encoding, but a peer sending
                        // both is either broken or trying to desynchronise a proxy.
                        return Err(bad(
                            status,
                            "response has both Content-Length and Transfer-Encoding",
                        ));
                    }
                    self.phase = match call.proceed() {
                        Some(RecvResponseResult::RecvBody(c)) => {
                            let mode = c.body_mode();
                            if let BodyMode::LengthDelimited(n) = mode {
                                if n > self.max_body {
                                    return Err(bad(
                                        status,
                                        format!(
                                            "response body of {n} bytes is over the {}-byte limit",
                                            self.max_body
                                        ),
                                    ));
                                }
                            }
                            self.close_delimited = matches!(mode, BodyMode::CloseDelimited);
                            Phase::Body(c)
                        }
                        Some(RecvResponseResult::Cleanup(c)) => Phase::Done {
                            reusable: !c.must_close_connection(),
                        },
                        Some(RecvResponseResult::Redirect(c)) => Phase::Done {
                            reusable: !c.must_close_connection(),
                        },
                        None => return Err(bad(status, "incomplete HTTP response head")),
                    };
                    return Ok(Piece::Head(status));
                }
                Phase::Body(mut call) => {
                    if !self.close_delimited && call.can_proceed() {
                        let reusable = match call.proceed() {
                            Some(RecvBodyResult::Cleanup(c)) => !c.must_close_connection(),
                            Some(RecvBodyResult::Redirect(c)) => !c.must_close_connection(),
                            None => false,
                        };
                        self.phase = Phase::Done { reusable };
                        return Ok(Piece::End);
                    }
                    if buf.is_empty() {
                        self.phase = Phase::Body(call);
                        return Ok(Piece::NeedMore);
                    }
                    let (used, produced) = call.read(buf.filled(), out).map_err(|e| {
                        bad(self.status, format!("malformed HTTP response body: {e}"))
                    })?;
                    buf.consume(used);
                    if produced > 0 {
                        self.received = self.received.saturating_add(produced as u64);
                        if self.received > self.max_body {
                            return Err(bad(
                                self.status,
                                format!("response body over the {}-byte limit", self.max_body),
                            ));
                        }
                        self.phase = Phase::Body(call);
                        return Ok(Piece::Data(produced));
                    }
                    if used == 0 && out.is_empty() {
                        return Err(bad(self.status, "no room for the response body"));
                    }
                    // No progress: a chunk-size line or trailer is incomplete. Those are
                    // short; one that never ends is refused instead of buffered.
                    if used == 0 && buf.is_full() {
                        return Err(bad(
                            self.status,
                            format!("chunk framing line longer than {MAX_HEAD} bytes"),
                        ));
                    }
                    self.phase = Phase::Body(call);
                    if used == 0 {
                        return Ok(Piece::NeedMore);
                    }
                }
                Phase::Done { reusable } => {
                    self.phase = Phase::Done { reusable };
                    return Ok(Piece::End);
                }
                Phase::Gone => return Err(bad(self.status, "the response was already refused")),
            }
        }
    }

    /// The connection reached its end (a read returned 0 bytes).
    pub fn end_of_stream(&mut self) -> Result<Piece, Failure> {
        let result = match &self.phase {
            Phase::Head(_) if !self.seen_any => Err(Failure::Lost(
                "the server closed the connection before replying".into(),
            )),
            Phase::Head(_) => Err(Failure::Lost(
                "the server closed the connection inside the response head".into(),
            )),
            Phase::Body(_) if self.close_delimited => Ok(Piece::End),
            Phase::Length { left: 0, .. } => Ok(Piece::End),
            Phase::Body(_) | Phase::Length { .. } => Err(bad(
                self.status,
                "the server closed the connection before the response body ended",
            )),
            Phase::Done { .. } => Ok(Piece::End),
            Phase::Gone => Err(bad(self.status, "the response was already refused")),
        };
        self.phase = match result {
            Ok(_) => Phase::Done { reusable: false },
            Err(_) => Phase::Gone,
        };
        result
    }

    /// The failure for a read from the connection that failed with `e` (not a timeout:
    /// those are the driver's).
    pub fn read_failed(&mut self, e: impl Display) -> Failure {
        let failure = match self.phase {
            Phase::Head(_) => Failure::Lost(format!("reading the response failed: {e}")),
            _ => bad(
                self.status,
                format!("reading the response body failed: {e}"),
            ),
        };
        self.phase = Phase::Gone;
        failure
    }

    /// The bytes of a `Content-Length` body still to come when they can be read straight
    /// into place: the head was read by the plain path and `buf` holds nothing unparsed.
    fn direct_left(&self, buf: &RecvBuf) -> Option<u64> {
        match self.phase {
            Phase::Length { left, .. } if left > 0 && buf.is_empty() => Some(left),
            _ => None,
        }
    }

    /// `n` bytes of the body were read straight into place (at most [`direct_left`]'s).
    ///
    /// [`direct_left`]: ResponseReader::direct_left
    fn direct_read(&mut self, n: usize) {
        if let Phase::Length { left, reusable } = self.phase {
            let n = (n as u64).min(left);
            self.seen_any |= n > 0;
            self.received = self.received.saturating_add(n);
            self.phase = Phase::Length {
                left: left - n,
                reusable,
            };
        }
    }

    /// The response is complete and the connection may carry another request (nothing
    /// unread is left in `buf`).
    pub fn reusable(&self, buf: &RecvBuf) -> bool {
        matches!(self.phase, Phase::Done { reusable: true })
            && !self.close_delimited
            && buf.is_empty()
    }
}

/// What [`plain_head`] made of the bytes so far.
#[derive(Debug, PartialEq, Eq)]
enum Plain {
    /// The head is not complete yet.
    Partial,
    /// A complete plain head of `len` bytes: an HTTP/1.1 final response with one valid
    /// `Content-Length` of `body` bytes, no `Transfer-Encoding`, a status that has a body.
    Head {
        len: usize,
        status: u16,
        body: u64,
        reusable: bool,
    },
    /// Anything else: ureq-proto reads it.
    Other,
}

/// The common response head read straight with `httparse` (what ureq-proto itself parses
/// with), without building ureq-proto's state machine and `http` types for it: a profile
/// of 32 blocking HTTP callers had those at 18 % of the client's samples. Only the plainest
/// head takes this path; any doubt (another version, a 1xx/204/304 status, a `HEAD` request,
/// `Transfer-Encoding`, a missing, repeated or non-decimal `Content-Length`, too many headers,
/// a parse error) is [`Plain::Other`], read by ureq-proto exactly as before, from the same
/// bytes. A test compares both paths on mangled responses.
fn plain_head(bytes: &[u8], method: &ureq_proto::http::Method) -> Plain {
    if method == ureq_proto::http::Method::HEAD || method == ureq_proto::http::Method::CONNECT {
        return Plain::Other;
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Plain::Partial,
        Err(_) => return Plain::Other,
    };
    let (Some(1), Some(status)) = (response.version, response.code) else {
        return Plain::Other;
    };
    if !(200..=599).contains(&status) || status == 204 || status == 304 {
        return Plain::Other;
    }
    let mut body = None;
    let mut reusable = true;
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let digits = h.value;
            let valid = !digits.is_empty()
                && digits.len() <= 18
                && digits.iter().all(u8::is_ascii_digit)
                && body.is_none();
            if !valid {
                return Plain::Other;
            }
            body = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<u64>().ok());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Plain::Other;
        } else if h.name.eq_ignore_ascii_case("connection") {
            let Ok(value) = std::str::from_utf8(h.value) else {
                return Plain::Other;
            };
            if value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"))
            {
                reusable = false;
            }
        }
    }
    match body {
        Some(body) => Plain::Head {
            len,
            status,
            body,
            reusable,
        },
        None => Plain::Other,
    }
}

/// The parser state for the response to a request of `method`. The request it "sends" is a
/// stand-in (only the method matters for reading the response) and its bytes are thrown
/// away: the real head is written by [`request_bytes`].
fn stand_in_call(method: &ureq_proto::http::Method) -> Result<Call<RecvResponse>> {
    let bad = |e: &dyn Display| Error::Protocol(format!("cannot set up the HTTP parser: {e}"));
    use ureq_proto::http::{header, HeaderValue, Uri};
    // Built from constants where it can be (this runs for every HTTP call): no URI or
    // header parsing.
    let mut request = ureq_proto::http::Request::new(());
    *request.method_mut() = method.clone();
    *request.uri_mut() = Uri::from_static("http://localhost/");
    request
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
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
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// The connection may carry another request.
    pub reusable: bool,
}

/// The smallest read straight into a body (see [`Collect::spare`]).
const DIRECT_MIN: usize = 64 << 10;

/// Reads a whole response into memory: [`step`](Self::step) after every read (and once
/// before the first, for bytes already buffered), reading into [`spare`](Self::spare) and
/// then [`commit`](Self::commit)ting; [`end_of_stream`](Self::end_of_stream) when a read
/// returns 0, [`read_failed`](Self::read_failed) when one fails.
pub struct Collect {
    reader: ResponseReader,
    /// The body read so far is `body[..len]`; the rest is zeroed room, each byte zeroed
    /// once, so a body trickling in one byte per read costs no more than a fast one.
    body: Vec<u8>,
    len: usize,
}

/// `body[len..len + n]`, zeroing only what the body has not held before.
fn room(body: &mut Vec<u8>, len: usize, n: usize) -> &mut [u8] {
    let end = len + n;
    if body.len() < end {
        body.resize(end, 0);
    }
    &mut body[len..end]
}

impl Collect {
    /// For the response to a request of `method`, with a body of at most `max_body` bytes.
    pub fn new(method: &str, max_body: u64) -> Result<Collect> {
        Ok(Collect {
            reader: ResponseReader::new(method, max_body)?,
            body: Vec::new(),
            len: 0,
        })
    }

    /// Where the next read from the connection goes; then [`commit`](Self::commit) what it
    /// read. Once the head announced a `Content-Length` and nothing is buffered, that is the
    /// body itself: no copy, and reads as large as the window, which starts at 64 KiB and
    /// grows with what has arrived (never past what is announced), so an announced length
    /// costs nothing until it is sent. Otherwise it is the connection's buffer.
    pub fn spare<'b>(&'b mut self, buf: &'b mut RecvBuf) -> &'b mut [u8] {
        match self.reader.direct_left(buf) {
            Some(left) => {
                let window = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(self.len.max(DIRECT_MIN));
                room(&mut self.body, self.len, window)
            }
            None => buf.spare(),
        }
    }

    /// `n` bytes were read into the last [`spare`](Self::spare) (nothing else touched `buf`
    /// or `self` since, so where they went is decided again the same way).
    pub fn commit(&mut self, buf: &mut RecvBuf, n: usize) {
        if self.reader.direct_left(buf).is_some() {
            let n = n.min(self.body.len() - self.len);
            self.len += n;
            self.reader.direct_read(n);
        } else {
            buf.commit(n);
        }
    }

    /// Parses the bytes in `buf`: `Ok(true)` once the response is complete.
    pub fn step(&mut self, buf: &mut RecvBuf) -> Result<bool, Failure> {
        loop {
            // Decoding never grows the bytes: `buf`'s length is room enough.
            let out = room(&mut self.body, self.len, buf.filled().len());
            let piece = self.reader.advance(buf, out);
            if let Ok(Piece::Data(n)) = piece {
                self.len += n;
            }
            match piece? {
                Piece::NeedMore => return Ok(false),
                Piece::End => return Ok(true),
                Piece::Head(_) | Piece::Data(_) => {}
            }
        }
    }

    /// A read returned 0: `Ok(())` if that ends a close-delimited body.
    pub fn end_of_stream(&mut self) -> Result<(), Failure> {
        self.reader.end_of_stream().map(drop)
    }

    /// A read failed with `e` (not a timeout).
    pub fn read_failed(&mut self, e: impl Display) -> Failure {
        self.reader.read_failed(e)
    }

    /// The response, once [`step`](Self::step) said it is complete.
    pub fn finish(mut self, buf: &RecvBuf) -> Response {
        self.body.truncate(self.len);
        Response {
            status: self.reader.status(),
            reusable: self.reader.reusable(buf),
            body: self.body,
        }
    }
}

/// Reads one response with blocking `read`s (a `Read` impl, or a test's bytes).
pub fn read_response(
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    buf: &mut RecvBuf,
    mut collect: Collect,
) -> Result<Response, ReadError> {
    loop {
        if collect.step(buf)? {
            return Ok(collect.finish(buf));
        }
        let n = loop {
            match read(collect.spare(buf)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(ReadError::TimedOut),
                Err(e) => return Err(collect.read_failed(e).into()),
                Ok(n) => break n,
            }
        };
        collect.commit(buf, n);
        if n == 0 {
            collect.end_of_stream()?;
            return Ok(collect.finish(buf));
        }
    }
}

/// Why [`read_response`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// A read timed out (a socket read timeout).
    TimedOut,
    /// The response was lost or broken.
    Failed(Failure),
}

impl From<Failure> for ReadError {
    fn from(f: Failure) -> Self {
        ReadError::Failed(f)
    }
}

/// A socket read or write that gave up waiting (`SO_RCVTIMEO` / `SO_SNDTIMEO`: `WouldBlock`
/// on Unix, `TimedOut` on Windows).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Idle keep-alive connections of one client, most recently used first (its keep-alive
/// is the freshest), at most [`MAX_IDLE`].
pub struct Pool<C> {
    idle: Mutex<Vec<C>>,
}

impl<C> Default for Pool<C> {
    fn default() -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
        }
    }
}

impl<C> Pool<C> {
    fn lock(&self) -> MutexGuard<'_, Vec<C>> {
        // A panic while holding the lock cannot leave it half-updated (Vec push/pop), so a
        // poisoned lock is still usable.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection, if any (the caller checks it still looks open).
    pub fn take(&self) -> Option<C> {
        self.lock().pop()
    }

    /// Keeps `conn` for reuse, or drops it (closing it) when [`MAX_IDLE`] are kept.
    pub fn put(&self, conn: C) {
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// What to do when writing a request failed with `e`: `None` to write it again on a new
/// connection, which is allowed only when not one byte of it can have reached the server
/// (`sent_any` false) on a `pooled` connection (the server closed it while idle); otherwise
/// the error to report: [`Error::Connect`] when a fresh connection took nothing,
/// [`Error::Disconnected`] (it may or may not have run) once a byte went out.
pub fn write_failed(
    pooled: bool,
    sent_any: bool,
    e: &io::Error,
    method: &str,
    url: &str,
) -> Option<Error> {
    match (sent_any, pooled) {
        (false, true) => None,
        (false, false) => Some(Error::Connect {
            url: url.to_owned(),
            reason: format!("the new connection failed before the request was sent: {e}"),
        }),
        (true, _) => Some(Error::Disconnected {
            method: method.to_owned(),
            reason: format!("writing the request to {url} failed: {e}"),
        }),
    }
}

/// Whether an idle TCP connection still looks usable, with one nonblocking peek: end of
/// stream (the server closed it), an error, or unsolicited bytes all make it unusable.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn looks_open(tcp: &std::net::TcpStream) -> bool {
    use rustix::net::RecvFlags;
    let mut probe = [0u8; 1];
    match rustix::net::recv(tcp, &mut probe, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
        Err(e) => e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::WOULDBLOCK,
        Ok(_) => false,
    }
}

/// Whether an idle TCP connection still looks usable: a nonblocking peek must have nothing
/// to give. End of stream, an error, or unsolicited bytes all make it unusable.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn looks_open(tcp: &std::net::TcpStream) -> bool {
    if tcp.set_nonblocking(true).is_err() {
        return false;
    }
    let mut probe = [0u8; 1];
    let open = matches!(tcp.peek(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    tcp.set_nonblocking(false).is_ok() && open
}

/// Runs the response reader over `bytes` as if a server had sent them after a `POST`: for
/// fuzzing; it must never panic, whatever the bytes, and must give the same answer however
/// they are cut into reads (it panics if not).
pub fn fuzz_response(bytes: &[u8]) {
    let whole = read_bytes(bytes);
    // However the bytes are cut into reads, the answer is the same: a body read straight
    // into place (`Collect::spare`) or through the connection's buffer, a head in one read
    // or in many. (Whether the connection is reusable may differ: it says that nothing
    // unread is left in the buffer, and bytes past the response are read or not depending
    // on the cut; an idle connection with bytes waiting is never used again anyway.)
    // (Small cuts only of small inputs: a head re-parsed after every byte costs its length
    // squared, which a fuzzer would spend its time on.)
    for (step, up_to) in [(1, 512), (7, 4_096), (4_096, usize::MAX)] {
        if bytes.len() > up_to {
            continue;
        }
        let cut = read_bytes_with(bytes, step, true);
        match (&whole, &cut) {
            (Ok(a), Ok(b)) => assert_eq!(
                (a.status, &a.body),
                (b.status, &b.body),
                "reads of {step} bytes"
            ),
            (a, b) => assert_eq!(
                a.is_ok(),
                b.is_ok(),
                "reads of {step} bytes: {a:?} vs {b:?}"
            ),
        }
    }
}

/// Reads the response to a `POST` from `bytes`, fed in reads of up to a buffer's room.
fn read_bytes(bytes: &[u8]) -> Result<Response, ReadError> {
    read_bytes_with(bytes, bytes.len().max(1), true)
}

/// [`read_bytes`] in reads of at most `step` bytes, with or without the plain-head path.
fn read_bytes_with(bytes: &[u8], step: usize, plain: bool) -> Result<Response, ReadError> {
    let mut collect =
        Collect::new("POST", MAX_BODY).map_err(|e| ReadError::Failed(bad(0, e.to_string())))?;
    collect.reader.plain_heads = plain;
    let mut rest = bytes;
    let read = |out: &mut [u8]| {
        let n = out.len().min(rest.len()).min(step);
        out[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        Ok(n)
    };
    read_response(read, &mut RecvBuf::default(), collect)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<Response, ReadError>) -> String {
        match r {
            Ok(r) => panic!("expected an error, got status {}", r.status),
            Err(ReadError::Failed(Failure::Lost(m))) => format!("lost: {m}"),
            Err(ReadError::Failed(Failure::Bad { message, .. })) => message,
            Err(ReadError::TimedOut) => "timed out".into(),
        }
    }

    #[test]
    fn an_ipv6_host_header_is_bracketed() {
        let wire = request_bytes(
            "POST",
            "/rpc",
            &authority("::1", 8000),
            &[],
            Body::Bytes(b"x"),
            false,
        )
        .expect("encode");
        let text = String::from_utf8(wire).expect("ascii");
        assert_eq!(
            text,
            "POST /rpc HTTP/1.1\r\nHost: [::1]:8000\r\nContent-Length: 1\r\n\r\nx"
        );
    }

    #[test]
    fn framing_headers_follow_the_body_kind() {
        let h = [("Accept", "application/cbor".to_owned())];
        let get = request_bytes("GET", "/health", "h:1", &h, Body::None, true).expect("get");
        assert_eq!(
            String::from_utf8(get).expect("ascii"),
            "GET /health HTTP/1.1\r\nHost: h:1\r\nConnection: close\r\nAccept: application/cbor\r\n\r\n"
        );
        let post = request_bytes("POST", "/import", "h:1", &[], Body::Chunked, true).expect("p");
        assert!(String::from_utf8(post)
            .expect("ascii")
            .contains("\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
        let mut frame = Vec::new();
        chunk_frame(&[7; 26], &mut frame);
        assert_eq!(&frame[..4], b"1a\r\n");
        chunk_frame(&[], &mut frame);
        assert_eq!(frame, b"0\r\n\r\n");
    }

    #[test]
    fn header_values_with_line_breaks_are_refused_without_quoting_them() {
        for bad in ["a\r\nX-Evil: 1", "a\nb", "a\rb", "a\0b"] {
            let e = request_bytes(
                "POST",
                "/rpc",
                "localhost:8000",
                &[("Authorization", format!("Bearer {bad}"))],
                Body::Bytes(b""),
                false,
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
        let r = read_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc").expect("ok");
        assert_eq!(
            (r.status, r.body.as_slice(), r.reusable),
            (200, &b"abc"[..], true)
        );
        let r = read_bytes(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n2\r\nbc\r\n0\r\n\r\n",
        )
        .expect("ok");
        assert_eq!((r.body.as_slice(), r.reusable), (&b"abc"[..], true));
        let r = read_bytes(b"HTTP/1.1 200 OK\r\n\r\nabc").expect("ok");
        assert_eq!((r.body.as_slice(), r.reusable), (&b"abc"[..], false));
        let r = read_bytes(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz")
            .expect("ok");
        assert_eq!((r.body.as_slice(), r.reusable), (&b"z"[..], false));
        let r = read_bytes(b"HTTP/1.1 204 No Content\r\n\r\n").expect("ok");
        assert_eq!((r.status, r.body.len(), r.reusable), (204, 0, true));
        // Bytes after the response: the connection is not reused.
        let r = read_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nzz").expect("ok");
        assert_eq!((r.body.as_slice(), r.reusable), (&b"z"[..], false));
    }

    #[test]
    fn a_body_larger_than_the_buffer_is_read_whole() {
        let n = MAX_HEAD * 5 + 7;
        let mut reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").into_bytes();
        reply.extend((0..n).map(|i| i as u8));
        let r = read_bytes(&reply).expect("ok");
        assert_eq!(r.body.len(), n);
        assert!(r.body.iter().enumerate().all(|(i, b)| *b == i as u8));
    }

    /// Reads `bytes` with reads of at most `step` bytes, counting them.
    fn counted(bytes: &[u8], step: usize) -> (Result<Response, ReadError>, usize, usize) {
        let collect = Collect::new("POST", MAX_BODY).expect("a reader");
        let (mut rest, mut reads, mut widest) = (bytes, 0, 0);
        let read = |out: &mut [u8]| {
            reads += 1;
            widest = widest.max(out.len());
            let n = out.len().min(rest.len()).min(step);
            out[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            Ok(n)
        };
        let r = read_response(read, &mut RecvBuf::default(), collect);
        (r, reads, widest)
    }

    #[test]
    fn a_length_body_is_read_straight_into_place_in_few_reads() {
        let n = 1_400_000;
        let mut reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").into_bytes();
        reply.extend((0..n).map(|i| (i % 251) as u8));
        let (r, reads, widest) = counted(&reply, usize::MAX);
        let r = r.expect("ok");
        assert_eq!(r.body.len(), n);
        assert!(r
            .body
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (i % 251) as u8));
        assert!(r.reusable);
        // One read for the head (and the body's first 16 KiB with it), then windows of
        // 64 KiB growing with what arrived: 16 KiB reads would take 86.
        assert!(reads <= 8, "{reads} reads");
        assert!(
            widest <= n,
            "a read window past the announced length: {widest}"
        );
    }

    #[test]
    fn a_trickled_length_body_costs_no_more_room_than_it_fills() {
        let n = 200_000;
        let mut reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").into_bytes();
        reply.extend((0..n).map(|i| (i % 7) as u8));
        let (r, reads, _) = counted(&reply, 1);
        let r = r.expect("ok");
        assert_eq!(r.body.len(), n);
        assert!(r.body.iter().enumerate().all(|(i, b)| *b == (i % 7) as u8));
        assert_eq!(reads, reply.len(), "one read per byte, none after the last");
        // Room grows with what arrived, so a huge announced length that never comes is cheap.
        let (r, _, widest) = counted(b"HTTP/1.1 200 OK\r\nContent-Length: 200000000\r\n\r\nab", 1);
        assert!(message(r).contains("before the response body ended"));
        assert!(
            widest <= 64 << 10,
            "a read window of {widest} bytes for 2 arrived"
        );
    }

    #[test]
    fn the_response_after_a_direct_body_is_read_from_the_buffer() {
        // Two responses in one stream: the first's body read in place must stop at its
        // length, leaving the second for the connection's buffer.
        let mut stream = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
        stream.extend(std::iter::repeat_n(b'x', 100_000));
        stream.extend(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
        let mut rest = &stream[..];
        let mut buf = RecvBuf::default();
        let mut read = |out: &mut [u8]| {
            let n = out.len().min(rest.len());
            out[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            Ok(n)
        };
        let first = read_response(&mut read, &mut buf, Collect::new("POST", MAX_BODY).unwrap())
            .expect("first");
        assert_eq!((first.status, first.body.len()), (200, 100_000));
        assert!(first.body.iter().all(|b| *b == b'x'));
        let second = read_response(&mut read, &mut buf, Collect::new("POST", MAX_BODY).unwrap())
            .expect("second");
        assert_eq!((second.status, second.body), (201, b"ok".to_vec()));
    }

    #[test]
    fn hostile_framing_is_refused() {
        assert!(message(read_bytes(b"")).starts_with("lost"));
        assert!(message(read_bytes(b"HTTP/1.1 200")).starts_with("lost"));
        assert!(message(read_bytes(b"garbage\r\n\r\n")).contains("malformed"));
        let huge = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(message(read_bytes(huge.as_bytes())).contains("over the"));
        let both =
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert!(message(read_bytes(both)).contains("both"));
        let overflow =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc";
        assert!(message(read_bytes(overflow)).contains("closed"));
        let overflow =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nabc";
        assert!(message(read_bytes(overflow)).contains("malformed"));
        let bad_end = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY\r\n0\r\n\r\n";
        assert!(message(read_bytes(bad_end)).contains("malformed"));
        let mut endless = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        endless.resize(MAX_HEAD * 4, b'a');
        assert!(message(read_bytes(&endless)).contains("longer than"));
        let mut endless = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1".to_vec();
        endless.resize(MAX_HEAD * 4, b' ');
        let m = message(read_bytes(&endless));
        assert!(m.contains("longer than") || m.contains("malformed"), "{m}");
        let truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert!(message(read_bytes(truncated)).contains("closed"));
    }

    #[test]
    fn a_streamed_body_over_its_limit_is_refused() {
        let mut reader = ResponseReader::new("GET", 4).expect("reader");
        let mut buf = RecvBuf::default();
        let reply = b"HTTP/1.1 200 OK\r\n\r\nabcdef";
        buf.spare()[..reply.len()].copy_from_slice(reply);
        buf.commit(reply.len());
        let mut out = [0u8; 64];
        assert_eq!(reader.advance(&mut buf, &mut out), Ok(Piece::Head(200)));
        let e = reader.advance(&mut buf, &mut out).expect_err("over");
        assert!(e.message().contains("4-byte limit"), "{e:?}");
    }

    #[test]
    fn the_pool_keeps_at_most_max_idle_most_recent_first() {
        let pool = Pool::default();
        for i in 0..MAX_IDLE + 5 {
            pool.put(i);
        }
        assert_eq!(pool.take(), Some(MAX_IDLE - 1));
        let mut n = 1;
        while pool.take().is_some() {
            n += 1;
        }
        assert_eq!(n, MAX_IDLE);
    }

    #[test]
    fn only_an_untouched_pooled_connection_is_written_again() {
        let e = io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(write_failed(true, false, &e, "create", "http://h:1").is_none());
        let fresh = write_failed(false, false, &e, "create", "http://h:1").expect("error");
        assert!(matches!(fresh, Error::Connect { .. }), "{fresh:?}");
        for pooled in [true, false] {
            let sent = write_failed(pooled, true, &e, "create", "http://h:1").expect("error");
            assert!(sent.is_disconnected(), "{sent:?}");
        }
    }

    #[test]
    fn a_closed_idle_connection_does_not_look_open() {
        use std::io::Write;
        use std::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        assert!(looks_open(&client));
        server.write_all(b"x").expect("write");
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!looks_open(&client), "unsolicited bytes");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        drop(server);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!looks_open(&client), "closed by the server");
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
            // The plain-head path and ureq-proto's give the same outcome, whole or byte by
            // byte.
            for step in [b.len().max(1), 1] {
                assert_eq!(
                    read_bytes_with(&b, step, true),
                    read_bytes_with(&b, step, false),
                    "{:?} in reads of {step}",
                    String::from_utf8_lossy(&b)
                );
            }
        }
    }

    #[test]
    fn a_plain_head_is_read_without_ureq_proto_and_anything_else_with_it() {
        let post = ureq_proto::http::Method::POST;
        let plain = |b: &[u8]| plain_head(b, &post);
        assert_eq!(
            plain(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
            Plain::Head {
                len: 38,
                status: 200,
                body: 3,
                reusable: true
            }
        );
        assert!(matches!(
            plain(b"HTTP/1.1 500 X\r\nconnection: keep-alive, Close\r\ncontent-length: 0\r\n\r\n"),
            Plain::Head {
                status: 500,
                body: 0,
                reusable: false,
                ..
            }
        ));
        assert_eq!(plain(b"HTTP/1.1 200 OK\r\nContent-Len"), Plain::Partial);
        for other in [
            &b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"[..],
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"garbage\r\n\r\n",
        ] {
            assert_eq!(
                plain(other),
                Plain::Other,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        assert_eq!(
            plain_head(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
                &ureq_proto::http::Method::HEAD
            ),
            Plain::Other
        );
    }
}
