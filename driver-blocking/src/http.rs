//! The HTTP transport: one stateless `POST /rpc` per call over a pool of keep-alive
//! connections (std `TcpStream`, rustls for `https`).
//!
//! Everything but the socket reads and writes is shared with the async driver in
//! `surql_ws::http`: the request head (written by us, so no dependency ever sees or logs the
//! `Authorization` header), the response reader with its limits, the idle pool and the
//! re-send rule. The pure `surql::rpc::http` functions decide the headers and read the
//! answer. What a stateless server forgets between calls (token, ns, db) is kept in an
//! `HttpSession` and re-sent as headers on every request.
//!
//! Re-sending: a request is written again on a new connection only when not one byte of it
//! can have reached the server: a pooled connection that is visibly closed is skipped before
//! writing (one nonblocking peek), and a pooled connection whose very first write fails is
//! replaced. Any failure after a byte was written is reported (`Error::Disconnected`: it may
//! or may not have run), never retried, so a `create` is never applied twice.
//!
//! Time: one exchange (connect, send, status, headers, body) is bounded by
//! `Options::request_timeout` (a deadline, enforced with socket read and write timeouts),
//! TCP connect and TLS handshake also by `Options::connect_timeout`. `Duration::MAX` means
//! no bound.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use surql::endpoint::Endpoint;
use surql::rpc::http::{rpc_payload, HttpSession};
use surql::rpc::{Payload, Request};
use surql::{Error, Options};
use surql_ws::http::{
    self as wire, is_timeout, looks_open, Body, Collect, Pool, ReadError, RecvBuf, MAX_BODY,
};

/// A point in time an exchange must end by (`None`: never).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// `after` from now; a duration too long to add to an `Instant` means no deadline.
    pub(crate) fn after(after: Duration) -> Deadline {
        Deadline(Instant::now().checked_add(after))
    }

    /// The time left, as a socket timeout (`Ok(None)`: no limit), or `Err` once passed.
    /// Whole milliseconds (rounded down; under one, the time itself): successive exchanges
    /// then ask for the same timeout, and a connection sets its socket option only when the
    /// value changes (see [`Conn::set_read_timeout`]).
    fn left(self) -> Result<Option<Duration>, ()> {
        match self.0 {
            None => Ok(None),
            Some(at) => match at.checked_duration_since(Instant::now()) {
                Some(d) if !d.is_zero() => {
                    let ms =
                        Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                    Ok(Some(if ms.is_zero() { d } else { ms }))
                }
                _ => Err(()),
            },
        }
    }

    fn min(self, other: Deadline) -> Deadline {
        match (self.0, other.0) {
            (Some(a), Some(b)) => Deadline(Some(a.min(b))),
            (a, b) => Deadline(a.or(b)),
        }
    }
}

/// A connection's byte stream: plain TCP or TLS over TCP (the WebSocket's type too).
pub(crate) use surql_ws::Transport as Stream;

/// A connection and the bytes read from it but not parsed yet.
pub(crate) struct Conn {
    pub(crate) stream: Stream,
    pub(crate) buf: RecvBuf,
    /// The socket's read and write timeouts as last set (`None`: not known).
    read_timeout: Option<Option<Duration>>,
    write_timeout: Option<Option<Duration>>,
}

impl Conn {
    fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            buf: RecvBuf::default(),
            read_timeout: None,
            write_timeout: None,
        }
    }

    /// Sets the socket's read and write timeouts (`None`: none).
    pub(crate) fn set_timeouts(&mut self, t: Option<Duration>) -> io::Result<()> {
        set_read_timeout(self.stream.tcp(), &mut self.read_timeout, t)?;
        self.set_write_timeout(t)
    }

    fn set_write_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        if self.write_timeout != Some(t) {
            self.write_timeout = None;
            self.stream.tcp().set_write_timeout(t)?;
            self.write_timeout = Some(t);
        }
        Ok(())
    }

    /// Writes all of `bytes` and flushes, each write bounded by `deadline`. On failure,
    /// says whether any byte may have reached the server (`true` as soon as one write call
    /// accepted a byte: conservative, since with TLS an accepted byte may still sit in a
    /// buffer).
    fn write_all(&mut self, bytes: &[u8], deadline: Deadline) -> Result<(), (bool, io::Error)> {
        let mut sent = 0;
        while sent < bytes.len() {
            let left = deadline
                .left()
                .map_err(|()| (sent > 0, io::Error::from(io::ErrorKind::TimedOut)))?;
            self.set_write_timeout(left).map_err(|e| (sent > 0, e))?;
            match self.stream.write(&bytes[sent..]) {
                Ok(0) => return Err((sent > 0, io::ErrorKind::WriteZero.into())),
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((sent > 0, e)),
            }
        }
        self.stream.flush().map_err(|e| (true, e))
    }

    /// Reads one response, each read bounded by `deadline`.
    fn read_response(
        &mut self,
        collect: Collect,
        deadline: Deadline,
    ) -> Result<wire::Response, ReadError> {
        let Conn {
            stream,
            buf,
            read_timeout,
            ..
        } = self;
        let read = |out: &mut [u8]| {
            let left = deadline
                .left()
                .map_err(|()| io::Error::from(io::ErrorKind::TimedOut))?;
            set_read_timeout(stream.tcp(), read_timeout, left)?;
            stream.read(out)
        };
        wire::read_response(read, buf, collect)
    }
}

/// Sets `tcp`'s read timeout to `t` unless `cached` says it is that already.
fn set_read_timeout(
    tcp: &TcpStream,
    cached: &mut Option<Option<Duration>>,
    t: Option<Duration>,
) -> io::Result<()> {
    if *cached != Some(t) {
        *cached = None;
        tcp.set_read_timeout(t)?;
        *cached = Some(t);
    }
    Ok(())
}

/// The HTTP client of one `Surreal` handle: a pool of idle keep-alive connections plus what
/// a stateless server forgets between calls (token, namespace, database).
pub(crate) struct HttpTransport {
    /// Host for the socket (an IPv6 address without brackets).
    host: String,
    port: u16,
    /// `host:port` for the `Host` header, IPv6 in brackets.
    authority: String,
    /// The RPC path (`/rpc`, or `<prefix>/rpc` behind a proxy).
    pub(crate) rpc_path: String,
    /// The RPC URL, for errors.
    url: String,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    session: Mutex<HttpSession>,
    idle: Pool<Conn>,
}

impl HttpTransport {
    /// A transport for `endpoint` (`http://` or `https://`); fails on unusable TLS settings
    /// (bad PEM) or a host that is not a valid TLS server name.
    pub(crate) fn new(endpoint: &Endpoint, options: &Options) -> Result<HttpTransport, Error> {
        let authority = wire::authority(&endpoint.host, endpoint.port);
        let scheme = if endpoint.scheme.is_tls() {
            "https"
        } else {
            "http"
        };
        let url = format!("{scheme}://{authority}{}", endpoint.path);
        let tls = if endpoint.scheme.is_tls() {
            let name =
                ServerName::try_from(endpoint.host.clone()).map_err(|e| Error::InvalidUrl {
                    url: url.clone(),
                    reason: format!("`{}` is not a valid TLS server name: {e}", endpoint.host),
                })?;
            Some((surql_ws::tls_config(&options.tls)?, name))
        } else {
            None
        };
        Ok(HttpTransport {
            host: endpoint.host.clone(),
            port: endpoint.port,
            authority,
            rpc_path: endpoint.path.clone(),
            url,
            tls,
            connect_timeout: options.connect_timeout,
            request_timeout: options.request_timeout,
            session: Mutex::new(HttpSession::default()),
            idle: Pool::default(),
        })
    }

    fn session(&self) -> MutexGuard<'_, HttpSession> {
        // The session is plain data updated in one assignment; a panic elsewhere cannot
        // leave it half-written, so a poisoned lock is still safe to use.
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the session (token, namespace, database).
    pub(crate) fn session_state(&self) -> HttpSession {
        self.session().clone()
    }

    /// The server's URL for `path` (after the proxy prefix, if any), for errors.
    pub(crate) fn url_of(&self, path: &str) -> String {
        let prefix = self.prefix();
        let base = self.url.strip_suffix(&self.rpc_path).unwrap_or(&self.url);
        format!("{base}{prefix}{path}")
    }

    /// The proxy prefix before `/rpc` (empty without a proxy).
    pub(crate) fn prefix(&self) -> &str {
        self.rpc_path.strip_suffix("/rpc").unwrap_or("")
    }

    /// The bytes of a request to this server.
    pub(crate) fn request_bytes(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Body<'_>,
        close: bool,
    ) -> Result<Vec<u8>, Error> {
        wire::request_bytes(method, path, &self.authority, headers, body, close)
    }

    /// Sends `req` and returns the server's result.
    pub(crate) fn call(&self, req: &Request) -> Result<Payload, Error> {
        // The core checks every header value, and what a `use` or `authenticate` would
        // leave for later calls, before anything is sent.
        let http = self.session().encode_request(req)?;
        let bytes = self.request_bytes(
            http.method,
            &self.rpc_path,
            &http.headers,
            Body::Bytes(&http.body),
            false,
        )?;
        let method = req.method.as_str();
        let (status, body) = self.exchange(method, http.method, &bytes)?;
        let result = rpc_payload(req.method, status, &body)?;
        self.session().apply_payload(req, &result);
        Ok(result)
    }

    /// Writes `bytes` on a pooled or new connection and reads the response, all within the
    /// request timeout.
    fn exchange(&self, method: &str, verb: &str, bytes: &[u8]) -> Result<(u16, Vec<u8>), Error> {
        let deadline = Deadline::after(self.request_timeout);
        let timed_out = || Error::Timeout {
            what: format!("`{method}` answer"),
            after: self.request_timeout,
        };
        let mut conn = loop {
            let (mut conn, pooled) = match self.idle.take() {
                // The server may have closed it while it sat idle.
                Some(c) if !looks_open(c.stream.tcp()) => continue,
                Some(c) => (c, true),
                None => (self.open(deadline, &timed_out)?, false),
            };
            match conn.write_all(bytes, deadline) {
                Ok(()) => break conn,
                Err((_, e)) if is_timeout(&e) => return Err(timed_out()),
                Err((sent_any, e)) => {
                    match wire::write_failed(pooled, sent_any, &e, method, &self.url) {
                        // Not a byte went out on a connection closed while pooled: the one
                        // case where sending again cannot run the request twice.
                        None => continue,
                        Some(error) => return Err(error),
                    }
                }
            }
        };
        let collect = Collect::new(verb, MAX_BODY)?;
        match conn.read_response(collect, deadline) {
            Ok(r) => {
                if r.reusable {
                    self.idle.put(conn);
                }
                Ok((r.status, r.body))
            }
            Err(ReadError::TimedOut) => Err(timed_out()),
            Err(ReadError::Failed(f)) => Err(f.into_error(method, &self.url)),
        }
    }

    /// Opens a connection: TCP connect and TLS handshake, bounded by `connect_timeout` and
    /// by `limit` (then failing with `limit_passed()`).
    pub(crate) fn open(
        &self,
        limit: Deadline,
        limit_passed: &dyn Fn() -> Error,
    ) -> Result<Conn, Error> {
        let own = Deadline::after(self.connect_timeout);
        let deadline = own.min(limit);
        // Which bound ran out: the connect timeout's, or the caller's.
        let timed_out = || match (own.0, limit.0) {
            (Some(a), Some(b)) if b < a => limit_passed(),
            (None, Some(_)) => limit_passed(),
            _ => Error::Timeout {
                what: format!("connection to {} (TCP connect and TLS handshake)", self.url),
                after: self.connect_timeout,
            },
        };
        let fail = |reason: String| Error::Connect {
            url: self.url.clone(),
            reason,
        };
        let addrs = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| fail(format!("cannot resolve `{}`: {e}", self.host)))?;
        let mut last_error = format!("`{}` resolved to no address", self.host);
        let mut tcp = None;
        for addr in addrs {
            let attempt = match deadline.left() {
                Err(()) => return Err(timed_out()),
                Ok(None) => TcpStream::connect(addr),
                Ok(Some(left)) => TcpStream::connect_timeout(&addr, left),
            };
            match attempt {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) if is_timeout(&e) => return Err(timed_out()),
                Err(e) => last_error = format!("{addr}: {e}"),
            }
        }
        let tcp = tcp.ok_or_else(|| fail(last_error))?;
        // Requests are small and latency-bound: never wait for Nagle's algorithm.
        tcp.set_nodelay(true)
            .map_err(|e| fail(format!("cannot set TCP_NODELAY: {e}")))?;
        let stream = match &self.tls {
            None => Stream::Plain(tcp),
            Some((config, name)) => {
                let mut tls = ClientConnection::new(config.clone(), name.clone())
                    .map_err(|e| fail(format!("TLS: {e}")))?;
                let mut tcp = tcp;
                while tls.is_handshaking() {
                    let left = deadline.left().map_err(|()| timed_out())?;
                    tcp.set_read_timeout(left)
                        .and_then(|()| tcp.set_write_timeout(left))
                        .map_err(|e| fail(format!("cannot set a socket timeout: {e}")))?;
                    match tls.complete_io(&mut tcp) {
                        Ok(_) => {}
                        Err(e) if is_timeout(&e) => return Err(timed_out()),
                        Err(e) => return Err(fail(format!("TLS handshake: {e}"))),
                    }
                }
                Stream::Tls(Box::new(StreamOwned::new(tls, tcp)))
            }
        };
        Ok(Conn::new(stream))
    }

    /// `GET /health`: `Ok` when the server answers 200 (storage healthy). Bounded like a
    /// request, on a fresh connection.
    pub(crate) fn health(&self) -> Result<(), Error> {
        let url = self.url_of("/health");
        let timed_out = || Error::Timeout {
            what: format!("answer to GET {url}"),
            after: self.request_timeout,
        };
        let path = format!("{}/health", self.prefix());
        let bytes = self.request_bytes("GET", &path, &[], Body::None, true)?;
        let deadline = Deadline::after(self.request_timeout);
        let mut conn = self.open(deadline, &timed_out)?;
        let failed = |reason: String| Error::Connect {
            url: url.clone(),
            reason,
        };
        match conn.write_all(&bytes, deadline) {
            Ok(()) => {}
            Err((_, e)) if is_timeout(&e) => return Err(timed_out()),
            Err((_, e)) => return Err(failed(format!("writing the request failed: {e}"))),
        }
        // The body only adds detail to the status.
        let response = match conn.read_response(Collect::new("GET", 64 << 10)?, deadline) {
            Ok(r) => r,
            Err(ReadError::TimedOut) => return Err(timed_out()),
            Err(ReadError::Failed(f)) => return Err(failed(f.message().to_owned())),
        };
        if response.status == 200 {
            return Ok(());
        }
        Err(Error::Http {
            status: response.status,
            message: match String::from_utf8_lossy(&response.body).trim() {
                "" => format!("GET {url} reports the server unhealthy"),
                text => format!("GET {url}: {text}"),
            },
        })
    }
}

/// `Some(d)`, or `None` (no timeout) when `d` is too long to add to an `Instant`.
pub(crate) fn bound(d: Duration) -> Option<Duration> {
    Instant::now().checked_add(d).map(|_| d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use surql::options::TlsOptions;

    #[test]
    fn durations_too_long_for_an_instant_mean_no_timeout() {
        assert_eq!(bound(Duration::MAX), None);
        assert_eq!(bound(Duration::from_secs(5)), Some(Duration::from_secs(5)));
        assert_eq!(Deadline::after(Duration::MAX).left(), Ok(None));
        assert!(Deadline::after(Duration::ZERO).left().is_err());
        let d = Deadline::after(Duration::from_secs(5)).min(Deadline::after(Duration::MAX));
        assert!(matches!(d.left(), Ok(Some(t)) if t <= Duration::from_secs(5)));
    }

    #[test]
    fn urls_keep_the_proxy_prefix() {
        let e = Endpoint::parse("http://[::1]:8000/db").expect("url");
        let t = HttpTransport::new(&e, &Options::default()).expect("transport");
        assert_eq!(t.url, "http://[::1]:8000/db/rpc");
        assert_eq!(t.url_of("/health"), "http://[::1]:8000/db/health");
        assert_eq!(t.prefix(), "/db");
    }

    #[test]
    fn https_trusts_the_extra_root_and_presents_the_client_certificate() {
        use surql_conformance::fake_http::{tls, FakeHttp, VERSION};
        let server = FakeHttp::start_https(vec![], true);
        let endpoint = Endpoint::parse(&server.url).expect("url");
        let version = |options: &Options| {
            let transport = HttpTransport::new(&endpoint, options)?;
            let (req, decode) = surql::client::version().into_parts();
            let payload = transport.call(&req)?;
            decode(payload).map_err(Error::from)
        };
        let trusted = Options::default()
            .request_timeout(Duration::from_secs(5))
            .tls(
                TlsOptions::default()
                    .only_extra_roots()
                    .add_root_pem(tls::CA),
            );
        let with_cert = trusted.clone().tls(
            trusted
                .tls
                .clone()
                .client_cert(tls::CLIENT_CERT, tls::CLIENT_KEY),
        );
        assert_eq!(version(&with_cert).expect("mutual TLS"), VERSION);
        // With TLS 1.3 the server's refusal comes after the request was written.
        let e = version(&trusted).expect_err("no client certificate");
        assert!(
            matches!(e, Error::Disconnected { .. } | Error::Connect { .. }),
            "{e:?}"
        );
        let e = version(&Options::default()).expect_err("unknown issuer");
        assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
        assert_eq!(server.count(), 1);
    }

    #[test]
    fn tls_settings_are_checked_without_quoting_the_key() {
        let https = Endpoint::parse("https://localhost:8000").expect("url");
        let o = |tls: TlsOptions| Options::default().tls(tls);
        let bad_root = TlsOptions::default()
            .only_extra_roots()
            .add_root_pem(&b"not pem"[..]);
        assert!(HttpTransport::new(&https, &o(bad_root)).is_err());
        let bad_key = TlsOptions::default().client_cert(&b"nothing"[..], &b"SECRET-KEY-TEXT"[..]);
        let e = HttpTransport::new(&https, &o(bad_key))
            .err()
            .expect("refused");
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(HttpTransport::new(&https, &o(TlsOptions::default())).is_ok());
    }
}
