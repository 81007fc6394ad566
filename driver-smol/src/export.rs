//! `export` / `import`: the session's database as a SurrealQL dump, streamed to an
//! `AsyncWrite` or file and from an `AsyncRead` or file over the server's HTTP `/export`
//! and `/import` (see [`surql::export`]). A WebSocket client makes the HTTP request to the
//! same host (`ws` → `http`, `wss` → `https`, same TLS options) with its session's token,
//! namespace and database.
//!
//! Each transfer uses a fresh connection (closed after it) of the HTTP client in
//! `http.rs`; the response is read by the shared reader (`surql_ws::http`) like every other
//! answer.
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
use surql_ws::http::{chunk_frame, Body, Piece, ResponseReader, MAX_HEAD};

use crate::http::{bounded, fill, Conn, HttpClient};
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
    let body = if chunked {
        Body::Chunked
    } else if head.method == "GET" {
        Body::None
    } else {
        Body::Bytes(&head.body)
    };
    let path = format!("{prefix}{}", head.path);
    client.request_bytes(head.method, &path, &head.headers, body, true)
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

/// The next piece of the response (never [`Piece::NeedMore`]); body bytes go to `out`.
/// Every read is bounded by the request timeout.
async fn next(
    client: &HttpClient,
    conn: &mut Conn,
    reader: &mut ResponseReader,
    out: &mut [u8],
    what: &str,
) -> Result<Piece> {
    let url = client.url();
    loop {
        let piece = reader.advance(&mut conn.buf, out);
        match piece.map_err(|f| f.into_error(what, &url))? {
            Piece::NeedMore => {}
            other => return Ok(other),
        }
        let Conn { io, buf } = conn;
        let read = bounded(
            client.request_timeout,
            || format!("{what} from {url}"),
            async { Ok(fill(io, buf).await) },
        )
        .await?;
        match read {
            Ok(0) => return reader.end_of_stream().map_err(|f| f.into_error(what, &url)),
            Ok(_) => {}
            Err(e) => return Err(reader.read_failed(e).into_error(what, &url)),
        }
    }
}

/// Reads the response head: its status.
async fn read_head(
    client: &HttpClient,
    conn: &mut Conn,
    reader: &mut ResponseReader,
    what: &str,
) -> Result<u16> {
    while !reader.has_head() {
        next(client, conn, reader, &mut [], what).await?;
    }
    Ok(reader.status())
}

/// The rest of the body, at most `limit` bytes.
async fn collect(
    client: &HttpClient,
    conn: &mut Conn,
    reader: &mut ResponseReader,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>> {
    let mut all = Vec::new();
    let mut chunk = vec![0u8; MAX_HEAD];
    loop {
        match next(client, conn, reader, &mut chunk, what).await? {
            Piece::Data(n) => {
                if (all.len() + n) as u64 > limit {
                    return Err(Error::Http {
                        status: reader.status(),
                        message: format!("the {what} is larger than {limit} bytes"),
                    });
                }
                all.extend_from_slice(&chunk[..n]);
            }
            Piece::End => return Ok(all),
            Piece::Head(_) | Piece::NeedMore => {}
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
    let mut reader = ResponseReader::new(head.method, u64::MAX)?;
    let status = read_head(client, &mut conn, &mut reader, "export").await?;
    if status != 200 {
        let text = collect(
            client,
            &mut conn,
            &mut reader,
            MAX_ERROR_BODY,
            "export answer",
        )
        .await;
        return Err(export_refused(status, text.as_deref()));
    }
    let mut chunk = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let n = match next(client, &mut conn, &mut reader, &mut chunk, "export").await? {
            Piece::Data(n) => n,
            Piece::End => break,
            Piece::Head(_) | Piece::NeedMore => continue,
        };
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
        chunk_frame(&chunk[..n], &mut frame);
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
        let mut reader = ResponseReader::new("POST", u64::MAX)?;
        let status = read_head(client, &mut conn, &mut reader, "import").await?;
        let limit = if status == 200 || status == 422 {
            MAX_IMPORT_ANSWER
        } else {
            MAX_ERROR_BODY
        };
        let text = collect(client, &mut conn, &mut reader, limit, "import answer").await?;
        Ok::<_, Error>((status, text))
    };
    match (sent, answer.await) {
        (Ok(()), Ok((status, text))) => import_outcome(status, &text).map(|()| done),
        (Err(_), Ok((status, text))) if status != 200 => {
            import_outcome(status, &text).map(|()| done)
        }
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
    }
}
