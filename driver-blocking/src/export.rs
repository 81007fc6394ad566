//! `export` / `import`: the session's database as a SurrealQL dump, streamed to a writer or
//! file and from a reader or file over the server's HTTP `/export` and `/import` (see
//! [`surql::export`]). A WebSocket client makes the HTTP request to the same host (`ws` →
//! `http`, `wss` → `https`, same TLS options) with its session's token, namespace and
//! database.
//!
//! Each transfer uses a fresh connection (closed after it) opened like the HTTP transport's,
//! and its response is read by the same shared reader (`surql_ws::http`).
//!
//! Memory: the dump moves through one [`CHUNK`]-sized buffer, never whole. Time: connecting
//! is bounded by `Options::connect_timeout`, and every single read from or write to the
//! server by `Options::request_timeout` (a stalled server fails the call with
//! `Error::Timeout`); the whole transfer is not, since a dump can be as large as the
//! database. Waits on the caller's own writer or reader are the caller's.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use surql::endpoint::Endpoint;
use surql::export::{
    export_refused, export_request, import_outcome, import_request, ExportConfig, TransferRequest,
    MAX_ERROR_BODY, MAX_IMPORT_ANSWER,
};
use surql::session::SessionState;
use surql::{Error, Result};
use surql_ws::http::{chunk_frame, is_timeout, Body, Piece, ResponseReader, MAX_HEAD};

use crate::http::{bound, Conn, Deadline, HttpTransport};
use crate::{Surreal, Transport};

/// The size of the one buffer a dump moves through.
pub const CHUNK: usize = 64 << 10;

type Progress<'a> = Box<dyn FnMut(u64) + Send + 'a>;

enum Target<'a> {
    Writer(Box<dyn Write + 'a>),
    File(PathBuf),
}

enum Source<'a> {
    Reader(Box<dyn Read + 'a>),
    File(PathBuf),
}

/// An export being set up: [`Surreal::export`] or [`Surreal::export_to_file`], then
/// [`run`](Export::run).
#[must_use = "an export does nothing until `run()`"]
pub struct Export<'a> {
    db: &'a Surreal,
    target: Target<'a>,
    config: Option<ExportConfig>,
    progress: Option<Progress<'a>>,
}

/// An import being set up: [`Surreal::import`] or [`Surreal::import_from_file`], then
/// [`run`](Import::run).
#[must_use = "an import does nothing until `run()`"]
pub struct Import<'a> {
    db: &'a Surreal,
    source: Source<'a>,
    progress: Option<Progress<'a>>,
}

impl Surreal {
    /// Exports this session's database (its namespace and database must be selected) as
    /// SurrealQL into `out`, streamed: `db.export(&mut file).progress(|n| …).run()?`
    /// returns the number of bytes written.
    pub fn export<'a>(&'a self, out: impl Write + 'a) -> Export<'a> {
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
    pub fn import<'a>(&'a self, input: impl Read + 'a) -> Import<'a> {
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

    /// Runs `f` with the HTTP client of a transfer (the HTTP transport's, or one to the
    /// WebSocket's server) and the session state the request carries (the HTTP
    /// transport's, or this client's WebSocket session's).
    fn with_transfer<T>(
        &self,
        f: impl FnOnce(&HttpTransport, SessionState) -> Result<T>,
    ) -> Result<T> {
        match &self.inner.transport {
            Transport::Http(http) => f(http, http.session_state()),
            Transport::Ws(ws) => {
                let session = ws.session_state(self.session)?;
                // `base_url` is the HTTP form of the endpoint (proxy prefix kept).
                let endpoint = Endpoint::parse(&self.inner.base_url)?;
                f(
                    &HttpTransport::new(&endpoint, &self.inner.options)?,
                    session,
                )
            }
        }
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

    /// Runs the export; returns the number of bytes written.
    pub fn run(self) -> Result<u64> {
        let Export {
            db,
            target,
            config,
            mut progress,
        } = self;
        db.with_transfer(|client, session| {
            let head = export_request(&session, config.as_ref())?;
            export_to(client, &head, target, &mut progress)
        })
    }
}

/// Runs the export into `target`.
fn export_to(
    client: &HttpTransport,
    head: &TransferRequest,
    target: Target<'_>,
    progress: &mut Option<Progress<'_>>,
) -> Result<u64> {
    {
        match target {
            Target::Writer(mut out) => export_into(client, head, &mut out, progress),
            Target::File(path) => {
                let partial = partial_path(&path);
                let file = File::create(&partial)
                    .map_err(|e| Error::Io(format!("cannot create {}: {e}", partial.display())))?;
                let mut out = BufWriter::with_capacity(CHUNK, file);
                let result = export_into(client, head, &mut out, progress).and_then(|n| {
                    let file = out.into_inner().map_err(|e| e.into_error())?;
                    file.sync_all()?;
                    std::fs::rename(&partial, &path)?;
                    Ok(n)
                });
                if result.is_err() {
                    // Nothing useful is left in a partial dump.
                    let _ = std::fs::remove_file(&partial);
                }
                result.map_err(|e| match e {
                    Error::Io(m) => Error::Io(format!("export to {}: {m}", path.display())),
                    other => other,
                })
            }
        }
    }
}

impl<'a> Import<'a> {
    /// Called with the total number of bytes sent so far, after every chunk.
    pub fn progress(mut self, f: impl FnMut(u64) + Send + 'a) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// Runs the import; returns the number of bytes sent.
    pub fn run(self) -> Result<u64> {
        let Import {
            db,
            source,
            mut progress,
        } = self;
        db.with_transfer(|client, session| {
            let head = import_request(&session)?;
            let mut input: Box<dyn Read + 'a> = match source {
                Source::Reader(r) => r,
                Source::File(path) => Box::new(
                    File::open(&path)
                        .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?,
                ),
            };
            import_from(client, &head, &mut input, &mut progress)
        })
    }
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".partial-{}", std::process::id()));
    path.with_file_name(name)
}

/// One transfer's connection: every read and write bounded by the request timeout.
struct Transfer<'c> {
    client: &'c HttpTransport,
    conn: Conn,
    /// The URL, for errors.
    url: String,
    /// `export` or `import`, for errors.
    what: &'static str,
}

impl<'c> Transfer<'c> {
    /// A fresh connection (connecting bounded by the connect timeout alone).
    fn open(client: &'c HttpTransport, path: &str, what: &'static str) -> Result<Self> {
        let never = || Error::Protocol("no deadline was set".into());
        let mut conn = client.open(Deadline::after(Duration::MAX), &never)?;
        let url = client.url_of(path);
        conn.set_timeouts(bound(client.request_timeout))
            .map_err(|e| Error::Connect {
                url: url.clone(),
                reason: format!("cannot set a socket timeout: {e}"),
            })?;
        Ok(Transfer {
            client,
            conn,
            url,
            what,
        })
    }

    /// Writes `bytes` to the server.
    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let stream = &mut self.conn.stream;
        match stream.write_all(bytes).and_then(|()| stream.flush()) {
            Ok(()) => Ok(()),
            Err(e) if is_timeout(&e) => Err(Error::timeout(
                format!(
                    "{} write to {} (the server stopped reading)",
                    self.what, self.url
                ),
                self.client.request_timeout,
            )),
            Err(e) => Err(Error::Disconnected {
                method: self.what.to_owned(),
                reason: format!("writing to {} failed: {e}", self.url),
            }),
        }
    }

    /// The next piece of the response (never [`Piece::NeedMore`]); body bytes go to `out`.
    fn next(&mut self, reader: &mut ResponseReader, out: &mut [u8]) -> Result<Piece> {
        loop {
            let piece = reader.advance(&mut self.conn.buf, out);
            match piece.map_err(|f| f.into_error(self.what, &self.url))? {
                Piece::NeedMore => {}
                other => return Ok(other),
            }
            let read = loop {
                match self.conn.stream.read(self.conn.buf.spare()) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other,
                }
            };
            match read {
                Ok(0) => {
                    return reader
                        .end_of_stream()
                        .map_err(|f| f.into_error(self.what, &self.url))
                }
                Ok(n) => self.conn.buf.commit(n),
                Err(e) if is_timeout(&e) => {
                    return Err(Error::timeout(
                        format!("{} data from {}", self.what, self.url),
                        self.client.request_timeout,
                    ))
                }
                Err(e) => return Err(reader.read_failed(e).into_error(self.what, &self.url)),
            }
        }
    }

    /// Reads the response head: its status.
    fn head(&mut self, reader: &mut ResponseReader) -> Result<u16> {
        while !reader.has_head() {
            self.next(reader, &mut [])?;
        }
        Ok(reader.status())
    }

    /// The rest of the body, at most `limit` bytes.
    fn collect(&mut self, reader: &mut ResponseReader, limit: u64) -> Result<Vec<u8>> {
        let mut all = Vec::new();
        let mut chunk = vec![0u8; MAX_HEAD];
        loop {
            match self.next(reader, &mut chunk)? {
                Piece::Data(n) => {
                    if (all.len() + n) as u64 > limit {
                        return Err(Error::Http {
                            status: reader.status(),
                            message: format!(
                                "the answer from {} is larger than {limit} bytes",
                                self.url
                            ),
                        });
                    }
                    all.extend_from_slice(&chunk[..n]);
                }
                Piece::End => return Ok(all),
                Piece::Head(_) | Piece::NeedMore => {}
            }
        }
    }
}

/// Streams `GET|POST /export` into `out`.
fn export_into(
    client: &HttpTransport,
    head: &TransferRequest,
    out: &mut dyn Write,
    progress: &mut Option<Progress<'_>>,
) -> Result<u64> {
    let body = if head.method == "GET" {
        Body::None
    } else {
        Body::Bytes(&head.body)
    };
    let path = format!("{}{}", client.prefix(), head.path);
    let bytes = client.request_bytes(head.method, &path, &head.headers, body, true)?;
    let mut transfer = Transfer::open(client, head.path, "export")?;
    transfer.send(&bytes)?;
    let mut reader = ResponseReader::new(head.method, u64::MAX)?;
    let status = transfer.head(&mut reader)?;
    if status != 200 {
        let text = transfer.collect(&mut reader, MAX_ERROR_BODY);
        return Err(export_refused(status, text.as_deref()));
    }
    let mut chunk = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let n = match transfer.next(&mut reader, &mut chunk)? {
            Piece::Data(n) => n,
            Piece::End => break,
            Piece::Head(_) | Piece::NeedMore => continue,
        };
        out.write_all(&chunk[..n])
            .map_err(|e| Error::Io(format!("writing the export failed: {e}")))?;
        done += n as u64;
        if let Some(p) = progress {
            p(done);
        }
    }
    out.flush()
        .map_err(|e| Error::Io(format!("writing the export failed: {e}")))?;
    Ok(done)
}

/// Streams `input` as the chunked body of `POST /import`, then reads the report.
fn import_from(
    client: &HttpTransport,
    head: &TransferRequest,
    input: &mut dyn Read,
    progress: &mut Option<Progress<'_>>,
) -> Result<u64> {
    let path = format!("{}{}", client.prefix(), head.path);
    let bytes = client.request_bytes("POST", &path, &head.headers, Body::Chunked, true)?;
    let mut transfer = Transfer::open(client, head.path, "import")?;
    let mut chunk = vec![0u8; CHUNK];
    let mut frame = Vec::with_capacity(CHUNK + 16);
    let mut done = 0u64;
    let mut sent = transfer.send(&bytes);
    while sent.is_ok() {
        let n = match input.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Io(format!("reading the dump to import failed: {e}"))),
        };
        chunk_frame(&chunk[..n], &mut frame);
        sent = transfer.send(&frame);
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
    let mut answer = || {
        let mut reader = ResponseReader::new("POST", u64::MAX)?;
        let status = transfer.head(&mut reader)?;
        let limit = if status == 200 || status == 422 {
            MAX_IMPORT_ANSWER
        } else {
            MAX_ERROR_BODY
        };
        Ok::<_, Error>((status, transfer.collect(&mut reader, limit)?))
    };
    match (sent, answer()) {
        (Ok(()), Ok((status, text))) => import_outcome(status, &text).map(|()| done),
        (Err(_), Ok((status, text))) if status != 200 => {
            import_outcome(status, &text).map(|()| done)
        }
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
    }
}
