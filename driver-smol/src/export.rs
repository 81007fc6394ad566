//! `export` / `import`: the session's database as a SurrealQL dump, streamed to an
//! `AsyncWrite` or file and from an `AsyncRead` or file over the server's HTTP `/export`
//! and `/import` (see [`surql::export`]). A WebSocket client makes the HTTP request to the
//! same host (`ws` → `http`, `wss` → `https`, same TLS options) with its session's token,
//! namespace and database.
//!
//! Each transfer uses a fresh connection (closed after it) of the HTTP client in
//! `http.rs`; the response is parsed by `ureq-proto` like every other answer.
//!
//! Memory: the dump moves through one [`CHUNK`]-sized buffer, never whole. Time: connecting
//! is bounded by `Options::connect_timeout`, and every single read from or write to the
//! server by `Options::request_timeout` (a stalled server fails the call with
//! `Error::Timeout`); the whole transfer is not, since a dump can be as large as the
//! database. Waits on the caller's own writer or reader are the caller's.

use std::future::{Future, IntoFuture};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use surql::endpoint::Endpoint;
use surql::export::{
    export_refused, export_request, import_outcome, import_request, ExportConfig, TransferRequest,
    MAX_ERROR_BODY, MAX_IMPORT_ANSWER,
};
use surql::session::SessionState;
use surql::{Error, Result};
use ureq_proto::client::state::{RecvBody, RecvResponse};
use ureq_proto::client::{Call, RecvResponseResult};
use ureq_proto::BodyMode;

use crate::http::{
    bounded, check_header, fill, response_reader, Conn, HttpClient, MAX_HEAD, READ_CHUNK,
};
use crate::{Surreal, Transport};

/// The size of the one buffer a dump moves through.
pub const CHUNK: usize = 64 << 10;

type Progress<'a> = Box<dyn FnMut(u64) + Send + 'a>;
type Writer<'a> = Box<dyn AsyncWrite + Unpin + Send + 'a>;
type Reader<'a> = Box<dyn AsyncRead + Unpin + Send + 'a>;

enum Target<'a> {
    Writer(Writer<'a>),
    File(PathBuf),
}

enum Source<'a> {
    Reader(Reader<'a>),
    File(PathBuf),
}

/// An export being set up: [`Surreal::export`] or [`Surreal::export_to_file`]; `.await` it.
#[must_use = "an export does nothing until awaited"]
pub struct Export<'a> {
    db: &'a Surreal,
    target: Target<'a>,
    config: Option<ExportConfig>,
    progress: Option<Progress<'a>>,
}

/// An import being set up: [`Surreal::import`] or [`Surreal::import_from_file`]; `.await`
/// it.
#[must_use = "an import does nothing until awaited"]
pub struct Import<'a> {
    db: &'a Surreal,
    source: Source<'a>,
    progress: Option<Progress<'a>>,
}

impl Surreal {
    /// Exports this session's database (its namespace and database must be selected) as
    /// SurrealQL into `out`, streamed: `db.export(&mut file).progress(|n| …).await?`
    /// returns the number of bytes written.
    pub fn export<'a>(&'a self, out: impl AsyncWrite + Unpin + Send + 'a) -> Export<'a> {
        Export {
            db: self,
            target: Target::Writer(Box::new(out)),
            config: None,
            progress: None,
        }
    }

    /// [`export`](Self::export) into the file at `path`. The dump is written next to it
    /// and renamed into place when complete: a failed export leaves no partial file and
    /// an older dump there untouched.
    pub fn export_to_file(&self, path: impl AsRef<Path>) -> Export<'_> {
        Export {
            db: self,
            target: Target::File(path.as_ref().to_owned()),
            config: None,
            progress: None,
        }
    }

    /// Imports a SurrealQL dump (an [`export`](Self::export); it must start with `OPTION
    /// IMPORT;`) read from `input` into this session's database, streamed. Returns the
    /// number of bytes sent; statements that did not apply fail it with
    /// [`Error::Import`] naming each (the others did apply: an import is not
    /// transactional).
    pub fn import<'a>(&'a self, input: impl AsyncRead + Unpin + Send + 'a) -> Import<'a> {
        Import {
            db: self,
            source: Source::Reader(Box::new(input)),
            progress: None,
        }
    }

    /// [`import`](Self::import) from the file at `path`.
    pub fn import_from_file(&self, path: impl AsRef<Path>) -> Import<'_> {
        Import {
            db: self,
            source: Source::File(path.as_ref().to_owned()),
            progress: None,
        }
    }

    /// The HTTP client, path prefix and session state of a transfer.
    async fn transfer_parts(&self) -> Result<(Arc<HttpClient>, String, SessionState)> {
        let (client, session) = match &self.inner.transport {
            Transport::Http(http) => {
                let s = http
                    .session
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                (http.clone(), s)
            }
            Transport::Ws(ws) => {
                let session = ws.session_state(self.session).await?;
                let endpoint = Endpoint::parse(&ws.url)?;
                (HttpClient::new(&endpoint, &self.inner.options)?, session)
            }
        };
        let prefix = client
            .rpc_path
            .strip_suffix("/rpc")
            .unwrap_or("")
            .to_owned();
        Ok((client, prefix, session))
    }
}

impl<'a> Export<'a> {
    /// Called with the total number of bytes written so far, after every chunk.
    pub fn progress(mut self, f: impl FnMut(u64) + Send + 'a) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// What to export (tables, records, users, …); the default is everything.
    pub fn config(mut self, config: ExportConfig) -> Self {
        self.config = Some(config);
        self
    }

    async fn run(self) -> Result<u64> {
        let Export {
            db,
            target,
            config,
            mut progress,
        } = self;
        let (client, prefix, session) = db.transfer_parts().await?;
        let head = export_request(&session, config.as_ref())?;
        match target {
            Target::Writer(mut out) => {
                export_into(&client, &prefix, &head, &mut out, &mut progress).await
            }
            Target::File(path) => {
                let partial = partial_path(&path);
                let io = |what: &str, p: &Path, e: std::io::Error| {
                    Error::Io(format!("{what} {}: {e}", p.display()))
                };
                let file = std::fs::File::create(&partial)
                    .map_err(|e| io("cannot create", &partial, e))?;
                let mut out = blocking::Unblock::with_capacity(CHUNK, file);
                let mut result =
                    export_into(&client, &prefix, &head, &mut out, &mut progress).await;
                if result.is_ok() {
                    let file = out.into_inner().await;
                    let (from, to) = (partial.clone(), path.clone());
                    let done = blocking::unblock(move || {
                        file.sync_all()?;
                        std::fs::rename(from, to)
                    })
                    .await;
                    if let Err(e) = done {
                        result = Err(io("cannot write", &path, e));
                    }
                }
                if result.is_err() {
                    // Nothing useful is left in a partial dump.
                    let _ = std::fs::remove_file(&partial);
                }
                result
            }
        }
    }
}

impl<'a> IntoFuture for Export<'a> {
    type Output = Result<u64>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<u64>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl<'a> Import<'a> {
    /// Called with the total number of bytes sent so far, after every chunk.
    pub fn progress(mut self, f: impl FnMut(u64) + Send + 'a) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    async fn run(self) -> Result<u64> {
        let Import {
            db,
            source,
            mut progress,
        } = self;
        let (client, prefix, session) = db.transfer_parts().await?;
        let head = import_request(&session)?;
        let mut input: Reader<'a> = match source {
            Source::Reader(r) => r,
            Source::File(path) => Box::new(blocking::Unblock::with_capacity(
                CHUNK,
                std::fs::File::open(&path)
                    .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?,
            )),
        };
        import_from(&client, &prefix, &head, &mut input, &mut progress).await
    }
}

impl<'a> IntoFuture for Import<'a> {
    type Output = Result<u64>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<u64>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".partial-{}", std::process::id()));
    path.with_file_name(name)
}

/// The request head (and `POST /export`'s small body), `Connection: close`.
fn request_bytes(
    client: &HttpClient,
    prefix: &str,
    head: &TransferRequest,
    chunked: bool,
) -> Result<Vec<u8>> {
    let mut text = format!(
        "{} {prefix}{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        head.method, head.path, client.authority
    );
    if chunked {
        text.push_str("Transfer-Encoding: chunked\r\n");
    } else if head.method != "GET" {
        text.push_str(&format!("Content-Length: {}\r\n", head.body.len()));
    }
    for (name, value) in &head.headers {
        check_header(name, value)?;
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    let mut wire = text.into_bytes();
    wire.extend_from_slice(&head.body);
    Ok(wire)
}

/// Writes `bytes` to the server, bounded by the request timeout.
async fn send(client: &HttpClient, conn: &mut Conn, bytes: &[u8], what: &str) -> Result<()> {
    bounded(
        client.request_timeout,
        || {
            format!(
                "{what} write to {} (the server stopped reading)",
                client.url()
            )
        },
        async {
            conn.io.write_all(bytes).await?;
            conn.io.flush().await?;
            Ok(())
        },
    )
    .await
    .map_err(|e| match e {
        Error::Timeout { .. } => e,
        other => Error::Disconnected {
            method: what.to_owned(),
            reason: format!("writing to {} failed: {other}", client.url()),
        },
    })
}

/// Reads more bytes into `conn.buf`, bounded by the request timeout; `Ok(0)` at the end.
async fn more(client: &HttpClient, conn: &mut Conn, what: &str) -> Result<usize> {
    let Conn { io, buf } = conn;
    bounded(
        client.request_timeout,
        || format!("{what} from {}", client.url()),
        async {
            fill(io, buf, READ_CHUNK)
                .await
                .map_err(|e| Error::Disconnected {
                    method: what.to_owned(),
                    reason: format!("reading from {} failed: {e}", client.url()),
                })
        },
    )
    .await
}

/// A response body being read chunk by chunk.
struct Body {
    call: Option<Call<RecvBody>>,
    close_delimited: bool,
    status: u16,
}

/// Reads the response head: the status and the body's reader.
async fn read_head(
    client: &HttpClient,
    conn: &mut Conn,
    mut call: Call<RecvResponse>,
    what: &str,
) -> Result<Body> {
    let response = loop {
        if !conn.buf.is_empty() {
            let (used, response) =
                call.try_response(&conn.buf, false)
                    .map_err(|e| Error::Http {
                        status: 0,
                        message: format!("malformed HTTP response head from {what}: {e}"),
                    })?;
            conn.buf.drain(..used);
            if let Some(r) = response {
                break r;
            }
            if used > 0 {
                continue; // a 1xx was skipped
            }
        }
        if conn.buf.len() >= MAX_HEAD {
            return Err(Error::Http {
                status: 0,
                message: format!("HTTP response head longer than {MAX_HEAD} bytes"),
            });
        }
        if more(client, conn, what).await? == 0 {
            return Err(Error::Disconnected {
                method: what.to_owned(),
                reason: format!("{} closed the connection before answering", client.url()),
            });
        }
    };
    let status = response.status().as_u16();
    let headers = response.headers();
    if headers.contains_key(ureq_proto::http::header::TRANSFER_ENCODING)
        && headers.contains_key(ureq_proto::http::header::CONTENT_LENGTH)
    {
        return Err(Error::Http {
            status,
            message: "response has both Content-Length and Transfer-Encoding".into(),
        });
    }
    match call.proceed() {
        Some(RecvResponseResult::RecvBody(c)) => Ok(Body {
            close_delimited: matches!(c.body_mode(), BodyMode::CloseDelimited),
            call: Some(c),
            status,
        }),
        Some(_) => Ok(Body {
            call: None,
            close_delimited: false,
            status,
        }),
        None => Err(Error::Http {
            status,
            message: "incomplete HTTP response head".into(),
        }),
    }
}

impl Body {
    /// The next piece of the body in `out` (its length; 0 at the end).
    async fn next(
        &mut self,
        client: &HttpClient,
        conn: &mut Conn,
        out: &mut [u8],
        what: &str,
    ) -> Result<usize> {
        let Some(call) = &mut self.call else {
            return Ok(0);
        };
        loop {
            if !self.close_delimited && call.can_proceed() {
                return Ok(0);
            }
            if !conn.buf.is_empty() {
                let (used, produced) = call.read(&conn.buf, out).map_err(|e| Error::Http {
                    status: self.status,
                    message: format!("malformed HTTP response body from {what}: {e}"),
                })?;
                conn.buf.drain(..used);
                if produced > 0 {
                    return Ok(produced);
                }
                if used > 0 {
                    continue;
                }
                if conn.buf.len() >= MAX_HEAD {
                    return Err(Error::Http {
                        status: self.status,
                        message: format!("chunk framing line longer than {MAX_HEAD} bytes"),
                    });
                }
            }
            match more(client, conn, what).await? {
                0 if self.close_delimited => return Ok(0),
                0 => {
                    return Err(Error::Http {
                        status: self.status,
                        message: format!(
                            "{} closed the connection before the {what} ended",
                            client.url()
                        ),
                    })
                }
                _ => {}
            }
        }
    }

    /// The rest of the body, at most `limit` bytes.
    async fn collect(
        &mut self,
        client: &HttpClient,
        conn: &mut Conn,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>> {
        let mut all = Vec::new();
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            let n = self.next(client, conn, &mut chunk, what).await?;
            if n == 0 {
                return Ok(all);
            }
            if (all.len() + n) as u64 > limit {
                return Err(Error::Http {
                    status: self.status,
                    message: format!("the {what} is larger than {limit} bytes"),
                });
            }
            all.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Streams `GET|POST /export` into `out`.
async fn export_into(
    client: &HttpClient,
    prefix: &str,
    head: &TransferRequest,
    out: &mut (dyn AsyncWrite + Unpin + Send + '_),
    progress: &mut Option<Progress<'_>>,
) -> Result<u64> {
    let wire = request_bytes(client, prefix, head, false)?;
    let mut conn = client.open().await?;
    send(client, &mut conn, &wire, "export").await?;
    let mut body = read_head(client, &mut conn, response_reader(head.method)?, "export").await?;
    if body.status != 200 {
        let text = body
            .collect(client, &mut conn, MAX_ERROR_BODY, "export answer")
            .await;
        return Err(export_refused(body.status, text.as_deref()));
    }
    let mut chunk = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let n = body.next(client, &mut conn, &mut chunk, "export").await?;
        if n == 0 {
            break;
        }
        out.write_all(&chunk[..n])
            .await
            .map_err(|e| Error::Io(format!("writing the export failed: {e}")))?;
        done += n as u64;
        if let Some(p) = progress {
            p(done);
        }
    }
    out.flush()
        .await
        .map_err(|e| Error::Io(format!("writing the export failed: {e}")))?;
    Ok(done)
}

/// Streams `input` as the chunked body of `POST /import`, then reads the report.
async fn import_from(
    client: &HttpClient,
    prefix: &str,
    head: &TransferRequest,
    input: &mut (dyn AsyncRead + Unpin + Send + '_),
    progress: &mut Option<Progress<'_>>,
) -> Result<u64> {
    let wire = request_bytes(client, prefix, head, true)?;
    let mut conn = client.open().await?;
    let mut chunk = vec![0u8; CHUNK];
    let mut frame = Vec::with_capacity(CHUNK + 16);
    let mut done = 0u64;
    let mut sent = send(client, &mut conn, &wire, "import").await;
    while sent.is_ok() {
        let n = match input.read(&mut chunk).await {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Io(format!("reading the dump to import failed: {e}"))),
        };
        frame.clear();
        if n == 0 {
            frame.extend_from_slice(b"0\r\n\r\n");
        } else {
            frame.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            frame.extend_from_slice(&chunk[..n]);
            frame.extend_from_slice(b"\r\n");
        }
        sent = send(client, &mut conn, &frame, "import").await;
        if n == 0 {
            break;
        }
        if sent.is_ok() {
            done += n as u64;
            if let Some(p) = progress {
                p(done);
            }
        }
    }
    // A server that refuses the import (authentication, permissions) may answer and close
    // before reading the whole body: its answer says why, so it is read even then.
    let answer = async {
        let mut body = read_head(client, &mut conn, response_reader("POST")?, "import").await?;
        let limit = if body.status == 200 || body.status == 422 {
            MAX_IMPORT_ANSWER
        } else {
            MAX_ERROR_BODY
        };
        let text = body
            .collect(client, &mut conn, limit, "import answer")
            .await?;
        Ok::<_, Error>((body.status, text))
    };
    match (sent, answer.await) {
        (Ok(()), Ok((status, text))) => import_outcome(status, &text).map(|()| done),
        (Err(_), Ok((status, text))) if status != 200 => {
            import_outcome(status, &text).map(|()| done)
        }
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
    }
}
