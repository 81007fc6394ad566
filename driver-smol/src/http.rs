//! The HTTP transport: `POST /rpc` over keep-alive HTTP/1.1 on async-net (rustls for
//! `https`). The request body and the session headers come from the core's pure `rpc::http`
//! functions; this file moves bytes, and bounds every wait and every buffer.
//!
//! Everything but the socket reads and writes is shared with the blocking driver in
//! `surql_ws::http`: the request head (written by us, so no dependency ever sees, or logs,
//! the `Authorization` header), the response reader with its limits (head at most
//! `MAX_HEAD` bytes, body at most `MAX_BODY`, a `Content-Length` checked before anything is
//! allocated for it, `Content-Length` with `Transfer-Encoding` refused), the idle pool and
//! the re-send rule. This file is the async read/write loop around them.
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
use surql::rpc::http::{rpc_payload, HttpSession};
use surql::rpc::{Payload, Request};
use surql::{Error, Options, Result};
use surql_ws::http::{self as wire, Body, Collect, Pool, RecvBuf, MAX_BODY};

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A kept-alive connection and the bytes read from it but not parsed yet.
pub(crate) struct Conn {
    pub(crate) io: Box<dyn Io>,
    pub(crate) buf: RecvBuf,
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
    idle: Pool<Conn>,
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
        let authority = wire::authority(host, port);
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
            idle: Pool::default(),
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
                buf: RecvBuf::default(),
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
        let bytes = self.request_bytes(
            http.method,
            &self.rpc_path,
            &http.headers,
            Body::Bytes(&http.body),
            false,
        )?;
        let collect = Collect::new(http.method, MAX_BODY)?;
        let (status, body) = bounded(
            self.request_timeout,
            || format!("`{method}` answer"),
            self.exchange(method, &bytes, collect, true),
        )
        .await?;
        let payload = rpc_payload(req.method, status, &body)?;
        lock(&self.session).apply_payload(&req, &payload);
        Ok(payload)
    }

    /// The status of `GET path` on a fresh connection (used for `/health`), bounded like a
    /// request.
    async fn get_status(&self, path: &str) -> Result<u16> {
        let bytes = self.request_bytes("GET", path, &[], Body::None, true)?;
        let collect = Collect::new("GET", 64 << 10)?;
        let (status, _body) = bounded(
            self.request_timeout,
            || format!("answer to GET {path}"),
            self.exchange("GET", &bytes, collect, false),
        )
        .await?;
        Ok(status)
    }

    /// The bytes of a request to this server.
    pub(crate) fn request_bytes(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Body<'_>,
        close: bool,
    ) -> Result<Vec<u8>> {
        wire::request_bytes(method, path, &self.authority, headers, body, close)
    }

    /// Writes the request on a pooled or new connection and reads the response.
    async fn exchange(
        &self,
        method: &str,
        bytes: &[u8],
        mut collect: Collect,
        keep_alive: bool,
    ) -> Result<(u16, Vec<u8>)> {
        let mut conn = loop {
            let popped = if keep_alive { self.idle.take() } else { None };
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
            match write_request(&mut conn.io, bytes).await {
                Ok(()) => break conn,
                Err((sent_any, e)) => {
                    match wire::write_failed(pooled, sent_any, &e, method, &self.url()) {
                        // Not a byte went out on a connection closed while pooled: the one
                        // case where sending again cannot run the request twice.
                        None => continue,
                        Some(error) => return Err(error),
                    }
                }
            }
        };
        let read = async {
            loop {
                if collect.step(&mut conn.buf)? {
                    return Ok(());
                }
                // Straight into the body once its length is known (see `Collect::spare`).
                let n = read_some(&mut conn.io, collect.spare(&mut conn.buf))
                    .await
                    .map_err(|e| collect.read_failed(e))?;
                collect.commit(&mut conn.buf, n);
                if n == 0 {
                    return collect.end_of_stream();
                }
            }
        };
        match read.await {
            Ok(()) => {
                let r = collect.finish(&conn.buf);
                if keep_alive && r.reusable {
                    self.idle.put(conn);
                }
                Ok((r.status, r.body))
            }
            Err(failure) => Err(failure.into_error(method, &self.url())),
        }
    }
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

/// Reads more bytes into `buf`; `Ok(0)` is the end of the stream.
pub(crate) async fn fill<R: AsyncRead + Unpin + ?Sized>(
    io: &mut R,
    buf: &mut RecvBuf,
) -> io::Result<usize> {
    let n = read_some(io, buf.spare()).await?;
    buf.commit(n);
    Ok(n)
}

/// One read into `out`, retried if interrupted; `Ok(0)` is the end of the stream.
async fn read_some<R: AsyncRead + Unpin + ?Sized>(io: &mut R, out: &mut [u8]) -> io::Result<usize> {
    loop {
        match io.read(out).await {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
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

/// Runs the shared response reader over `bytes` as if a server had sent them after a
/// `POST`: for fuzzing; it must never panic, whatever the bytes.
pub(crate) fn fuzz_response(bytes: &[u8]) {
    wire::fuzz_response(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(host: &str) -> HttpClient {
        HttpClient::from_parts(host, 8000, false, "/rpc", &Options::default()).expect("client")
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
        let bytes = client("::1")
            .request_bytes("POST", "/rpc", &[], Body::Bytes(b"x"), false)
            .expect("encode");
        let text = String::from_utf8(bytes).expect("ascii");
        assert!(text.contains("\r\nHost: [::1]:8000\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nx"), "{text}");
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
