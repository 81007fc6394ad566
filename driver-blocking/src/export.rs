//! `export` / `import`: the session's database as a SurrealQL dump, streamed to a writer or
//! file and from a reader or file over the server's HTTP `/export` and `/import` (see
//! [`surql::export`]). A WebSocket client makes the HTTP request to the same host (`ws` →
//! `http`, `wss` → `https`, same TLS options) with its session's token, namespace and
//! database.
//!
//! Memory: the dump moves through one [`CHUNK`]-sized buffer, never whole. Time: connecting
//! is bounded by `Options::connect_timeout`, and every single read from or write to the
//! server by `Options::request_timeout` (a stalled server fails the call with
//! `Error::Timeout`); the whole transfer is not, since a dump can be as large as the
//! database. Waits on the caller's own writer or reader are the caller's.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use surql::export::{
    export_refused, export_request, import_outcome, import_request, ExportConfig, TransferRequest,
    MAX_ERROR_BODY, MAX_IMPORT_ANSWER,
};
use surql::session::SessionState;
use surql::{Error, Options, Result};
use ureq::unversioned::transport::DefaultConnector;

use crate::http::{bound, tls_config, CachingResolver};
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

    /// The session state the HTTP request carries: the HTTP transport's, or this client's
    /// WebSocket session's.
    fn transfer_session(&self) -> Result<SessionState> {
        match &self.inner.transport {
            Transport::Http(http) => Ok(http.session_state()),
            Transport::Ws(ws) => ws.session_state(self.session),
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
        let head = export_request(&db.transfer_session()?, config.as_ref())?;
        match target {
            Target::Writer(mut out) => export_into(db, &head, &mut out, &mut progress),
            Target::File(path) => {
                let partial = partial_path(&path);
                let file = File::create(&partial)
                    .map_err(|e| Error::Io(format!("cannot create {}: {e}", partial.display())))?;
                let mut out = BufWriter::with_capacity(CHUNK, file);
                let result = export_into(db, &head, &mut out, &mut progress).and_then(|n| {
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
            progress,
        } = self;
        let head = import_request(&db.transfer_session()?)?;
        let input: Box<dyn Read + 'a> = match source {
            Source::Reader(r) => r,
            Source::File(path) => Box::new(
                File::open(&path)
                    .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?,
            ),
        };
        let mut counting = Counting {
            inner: input,
            done: 0,
            progress,
            failed: None,
        };
        let agent = agent(&db.inner.options)?;
        let url = format!("{}{}", db.inner.base_url, head.path);
        let mut builder = agent.post(&url);
        for (name, value) in &head.headers {
            builder = builder.header(*name, value);
        }
        let sent = builder.send(ureq::SendBody::from_reader(&mut counting));
        if let Some(e) = counting.failed.take() {
            return Err(Error::Io(format!("reading the dump to import failed: {e}")));
        }
        let mut response = sent.map_err(|e| transfer_error(&url, &db.inner.options, e))?;
        let status = response.status().as_u16();
        let limit = if status == 200 || status == 422 {
            MAX_IMPORT_ANSWER
        } else {
            MAX_ERROR_BODY
        };
        let body = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| transfer_error(&url, &db.inner.options, e))?;
        import_outcome(status, &body)?;
        Ok(counting.done)
    }
}

/// A reader that counts what it gave and reports it.
struct Counting<'a> {
    inner: Box<dyn Read + 'a>,
    done: u64,
    progress: Option<Progress<'a>>,
    /// A failure of the caller's reader (told apart from the network's).
    failed: Option<io::Error>,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len().min(CHUNK);
        match self.inner.read(&mut buf[..len]) {
            Ok(n) => {
                self.done += n as u64;
                if n > 0 {
                    if let Some(p) = &mut self.progress {
                        p(self.done);
                    }
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failed = Some(e);
                Err(copy)
            }
        }
    }
}

/// A read that timed out (ureq reports its own timeouts inside an `io::Error`).
fn is_timeout(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)))
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".partial-{}", std::process::id()));
    path.with_file_name(name)
}

/// Streams `GET|POST /export` into `out`.
fn export_into(
    db: &Surreal,
    head: &TransferRequest,
    out: &mut dyn Write,
    progress: &mut Option<Progress<'_>>,
) -> Result<u64> {
    let options = &db.inner.options;
    let agent = agent(options)?;
    let url = format!("{}{}", db.inner.base_url, head.path);
    let response = if head.method == "GET" {
        let mut b = agent.get(&url);
        for (name, value) in &head.headers {
            b = b.header(*name, value);
        }
        b.call()
    } else {
        let mut b = agent.post(&url);
        for (name, value) in &head.headers {
            b = b.header(*name, value);
        }
        b.send(&head.body[..])
    };
    let mut response = response.map_err(|e| transfer_error(&url, options, e))?;
    let status = response.status().as_u16();
    if status != 200 {
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ERROR_BODY)
            .read_to_vec();
        return Err(export_refused(status, body.as_deref()));
    }
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => {
                return Err(Error::timeout(
                    format!("export data from {url}"),
                    options.request_timeout,
                ))
            }
            Err(e) => {
                return Err(Error::Http {
                    status,
                    message: format!("reading the export from {url} failed: {e}"),
                })
            }
        };
        out.write_all(&buf[..n])
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

/// An agent for one transfer: connect bounded by `connect_timeout`, each read and write by
/// `request_timeout`, no bound on the whole.
fn agent(options: &Options) -> Result<ureq::Agent> {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(bound(options.connect_timeout))
        .timeout_per_read(bound(options.request_timeout))
        .timeout_per_write(bound(options.request_timeout))
        .tls_config(tls_config(&options.tls)?)
        .build();
    Ok(ureq::Agent::with_parts(
        config,
        DefaultConnector::default(),
        CachingResolver::default(),
    ))
}

fn transfer_error(url: &str, options: &Options, e: ureq::Error) -> Error {
    match e {
        ureq::Error::Timeout(ureq::Timeout::Connect) => Error::Timeout {
            what: format!("connection to {url} (TCP connect and TLS handshake)"),
            after: options.connect_timeout,
        },
        ureq::Error::Timeout(t) => Error::Timeout {
            what: format!("answer from {url} ({t})"),
            after: options.request_timeout,
        },
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => Error::Connect {
            url: url.to_owned(),
            reason: e.to_string(),
        },
        ureq::Error::Io(io) if io.kind() == io::ErrorKind::TimedOut => Error::Timeout {
            what: format!("answer from {url}"),
            after: options.request_timeout,
        },
        ureq::Error::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused => Error::Connect {
            url: url.to_owned(),
            reason: io.to_string(),
        },
        ureq::Error::BodyExceedsLimit(limit) => Error::Http {
            status: 0,
            message: format!("the answer from {url} is larger than {limit} bytes"),
        },
        other => Error::Disconnected {
            method: url.rsplit('/').next().unwrap_or("transfer").to_owned(),
            reason: format!("{other} ({url})"),
        },
    }
}
