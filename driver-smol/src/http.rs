//! The HTTP transport: `POST /rpc` over a small keep-alive HTTP/1.1 client on async-net
//! (rustls for `https`). The request and the session headers come from the core's pure
//! `rpc::http` functions; this file only moves bytes.
//!
//! A full HTTP client crate would pull in a runtime (reqwest needs tokio) or far more code
//! than the one request shape surql sends, so the adapter is written here: one request at a
//! time per pooled connection, `Content-Length` or chunked bodies.

use std::sync::{Arc, Mutex};

use async_net::TcpStream;
use futures_lite::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures_lite::{AsyncRead, AsyncWrite};
use surql::rpc::http::{decode_response_payload, HttpSession};
use surql::rpc::{Payload, Request};

use surql::{Error, Result};

/// Largest response body accepted (the server caps WebSocket messages at 128 MiB too).
const MAX_BODY: usize = 256 << 20;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Conn = BufReader<Box<dyn Io>>;

pub(crate) struct HttpClient {
    host: String,
    port: u16,
    /// The RPC path (`/rpc`, or `<prefix>/rpc` behind a proxy).
    rpc_path: String,
    tls: Option<futures_rustls::TlsConnector>,
    pub(crate) session: Mutex<HttpSession>,
    idle: Mutex<Vec<Conn>>,
}

impl HttpClient {
    pub(crate) fn new(host: String, port: u16, https: bool, rpc_path: String) -> Arc<Self> {
        let tls = https.then(|| {
            let mut roots = futures_rustls::rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let config = futures_rustls::rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth();
            futures_rustls::TlsConnector::from(Arc::new(config))
        });
        Arc::new(HttpClient {
            host,
            port,
            rpc_path,
            tls,
            session: Mutex::new(HttpSession::default()),
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn open(&self) -> Result<Conn> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await?;
        tcp.set_nodelay(true)?;
        let io: Box<dyn Io> = match &self.tls {
            None => Box::new(tcp),
            Some(tls) => {
                let name =
                    futures_rustls::rustls::pki_types::ServerName::try_from(self.host.clone())
                        .map_err(|e| Error::InvalidUrl {
                            url: self.host.clone(),
                            reason: format!("not a valid TLS server name: {e}"),
                        })?;
                Box::new(tls.connect(name, tcp).await?)
            }
        };
        Ok(BufReader::new(io))
    }

    /// Sends one RPC request and returns its `result`.
    pub(crate) async fn call(&self, req: Request) -> Result<Payload> {
        let http = lock(&self.session).encode_request(&req)?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Length: {}\r\n",
            http.method,
            self.rpc_path,
            self.host,
            self.port,
            http.body.len()
        );
        for (k, v) in &http.headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let pooled = lock(&self.idle).pop();
        let (status, body, conn) = match pooled {
            Some(conn) => match exchange(conn, &head, &http.body).await {
                Ok(r) => r,
                // A pooled connection may have been closed by the server while idle: retry
                // once on a fresh one (the request never reached the server in that case).
                Err(_) => exchange(self.open().await?, &head, &http.body).await?,
            },
            None => exchange(self.open().await?, &head, &http.body).await?,
        };
        if let Some(conn) = conn {
            lock(&self.idle).push(conn);
        }
        let payload = decode_response_payload(status, &body)?;
        lock(&self.session).apply_payload(&req, &payload);
        Ok(payload)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them half-updated (plain assignments),
    // so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes one request and reads its response; gives the connection back if it can be reused.
async fn exchange(mut conn: Conn, head: &str, body: &[u8]) -> Result<(u16, Vec<u8>, Option<Conn>)> {
    {
        let w = conn.get_mut();
        w.write_all(head.as_bytes()).await?;
        w.write_all(body).await?;
        w.flush().await?;
    }
    let mut line = String::new();
    if conn.read_line(&mut line).await? == 0 {
        return Err(Error::Io("the server closed the HTTP connection".into()));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Http {
            status: 0,
            message: format!("not an HTTP status line: {line:?}"),
        })?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = false;
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            return Err(Error::Io(
                "the HTTP response ended inside its headers".into(),
            ));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let v = v.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    length = Some(v.parse().map_err(|_| Error::Http {
                        status: 0,
                        message: format!("bad Content-Length {v:?}"),
                    })?)
                }
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "connection" => close = v.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    let body = if chunked {
        read_chunked(&mut conn).await?
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(Error::Http {
                status: 0,
                message: format!("response body of {n} bytes is over the {MAX_BODY}-byte limit"),
            });
        }
        let mut b = vec![0; n];
        conn.read_exact(&mut b).await?;
        b
    } else {
        close = true;
        let mut b = Vec::new();
        (&mut conn)
            .take(MAX_BODY as u64)
            .read_to_end(&mut b)
            .await?;
        b
    };
    Ok((status, body, (!close).then_some(conn)))
}

async fn read_chunked(conn: &mut Conn) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).await?;
        let size_text = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text, 16).map_err(|_| Error::Http {
            status: 0,
            message: format!("bad chunk size {size_text:?}"),
        })?;
        if body.len() + size > MAX_BODY {
            return Err(Error::Http {
                status: 0,
                message: "chunked response body over the limit".into(),
            });
        }
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..]).await?;
        line.clear();
        conn.read_line(&mut line).await?; // CRLF after the chunk (or the trailer end)
        if size == 0 {
            return Ok(body);
        }
    }
}

/// The status code of `GET path` on a fresh connection (used for `/health`).
pub(crate) async fn get_status(host: &str, port: u16, tls: bool, path: &str) -> Result<u16> {
    let client = HttpClient::new(host.to_owned(), port, tls, String::new());
    let mut conn = client.open().await?;
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    conn.get_mut().write_all(head.as_bytes()).await?;
    conn.get_mut().flush().await?;
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Http {
            status: 0,
            message: format!("not an HTTP status line: {line:?}"),
        })
}
