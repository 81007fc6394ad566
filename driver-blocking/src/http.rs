//! The HTTP transport: one stateless `POST /rpc` per call over a keep-alive `ureq` agent.
//!
//! The pure `surql::rpc::http` functions decide the headers and read the answer; this file
//! only moves bytes. What a stateless server forgets between calls (token, ns, db) is kept
//! in an `HttpSession` and re-sent as headers on every request.
//!
//! Re-sending: ureq 3 never re-sends a request (it has no retry logic); a pooled connection
//! that the server closed while idle is noticed by ureq's pool (`is_open` probe) before any
//! byte is written, and replaced. Every failure after that is reported, never retried.
//!
//! Time: one exchange (name lookup, connect, send, status, headers, body) is bounded by
//! `Options::request_timeout` (ureq's global timeout), TCP connect and TLS handshake also
//! by `Options::connect_timeout`.

use std::io::ErrorKind as IoKind;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use surql::options::TlsOptions;
use surql::rpc::http::{decode_response_payload, HttpRpcError, HttpSession};
use surql::rpc::{Payload, Request};
use surql::{Error, Options};
use ureq::http::Uri;
use ureq::tls::{PemItem, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use surql::endpoint::Endpoint;

/// Bodies larger than the server's own WebSocket message limit are refused rather than
/// buffered without bound.
const MAX_RESPONSE_BYTES: u64 = 128 * 1024 * 1024;

/// Idle keep-alive connections kept for reuse (one handle talks to one server): as many
/// as concurrent callers are likely to use.
const MAX_IDLE_CONNECTIONS: usize = 64;

/// How long a name lookup is reused (see [`CachingResolver`]).
const RESOLVE_TTL: Duration = Duration::from_secs(30);

/// A stateless HTTP connection to one server.
pub(crate) struct HttpTransport {
    agent: ureq::Agent,
    url: String,
    connect_timeout: Duration,
    request_timeout: Duration,
    session: Mutex<HttpSession>,
}

impl HttpTransport {
    /// A transport for `endpoint` (`http://` or `https://`); fails on unusable TLS settings.
    pub(crate) fn new(endpoint: &Endpoint, options: &Options) -> Result<HttpTransport, Error> {
        Ok(HttpTransport {
            agent: agent(options)?,
            url: endpoint.rpc_url(),
            connect_timeout: options.connect_timeout,
            request_timeout: options.request_timeout,
            session: Mutex::new(HttpSession::default()),
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

    /// Sends `req` and returns the server's result.
    pub(crate) fn call(&self, req: &Request) -> Result<Payload, Error> {
        // The core checks every header value, and what a `use` or `authenticate` would
        // leave for later calls, before anything is sent.
        let http = self
            .session()
            .encode_request(req)
            .map_err(|e| map_error(req, e))?;
        let mut builder = self.agent.post(&self.url);
        for (name, value) in &http.headers {
            builder = builder.header(*name, value);
        }
        let mut response = builder
            .send(&http.body[..])
            .map_err(|e| self.transport_error(req, e))?;
        let status = response.status().as_u16();
        // The server answered, so the request ran: from here a failure is a broken answer,
        // not a lost connection.
        let broken = |message: String| Error::Http { status, message };
        let method = req.method.as_str();
        if let Some(n) = response.body().content_length() {
            if n > MAX_RESPONSE_BYTES {
                return Err(broken(format!(
                    "the answer to `{method}` announces {n} bytes, over the {MAX_RESPONSE_BYTES}-byte limit"
                )));
            }
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::Timeout(_) => Error::Timeout {
                    what: format!("`{method}` answer"),
                    after: self.request_timeout,
                },
                ureq::Error::BodyExceedsLimit(limit) => broken(format!(
                    "the answer to `{method}` is larger than {limit} bytes"
                )),
                other => broken(format!(
                    "reading the body of the answer to `{method}` failed: {other}"
                )),
            })?;
        let result = decode_response_payload(status, &body).map_err(|e| map_error(req, e))?;
        self.session().apply_payload(req, &result);
        Ok(result)
    }

    fn transport_error(&self, req: &Request, e: ureq::Error) -> Error {
        let method = req.method.as_str().to_owned();
        match e {
            ureq::Error::Timeout(ureq::Timeout::Connect) => Error::Timeout {
                what: format!("connection to {} (TCP connect and TLS handshake)", self.url),
                after: self.connect_timeout,
            },
            ureq::Error::Timeout(_) => Error::Timeout {
                what: format!("`{method}` answer"),
                after: self.request_timeout,
            },
            ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => Error::Connect {
                url: self.url.clone(),
                reason: e.to_string(),
            },
            // Refused or unreachable: nothing was sent.
            ureq::Error::Io(io)
                if matches!(
                    io.kind(),
                    IoKind::ConnectionRefused
                        | IoKind::AddrNotAvailable
                        | IoKind::HostUnreachable
                        | IoKind::NetworkUnreachable
                ) =>
            {
                Error::Connect {
                    url: self.url.clone(),
                    reason: io.to_string(),
                }
            }
            // Any other socket error may strike after the request went out: it may have run.
            ureq::Error::Io(io) => Error::Disconnected {
                method,
                reason: format!("{} ({})", io, self.url),
            },
            // Framing ureq could not read (a garbage status line, a bad chunk, a header
            // over the size limit): the server's answer, if any, is lost.
            ureq::Error::Protocol(p) => Error::Http {
                status: 0,
                message: format!("malformed HTTP response to `{method}`: {p}"),
            },
            ureq::Error::LargeResponseHeader(got, limit) => Error::Http {
                status: 0,
                message: format!(
                    "HTTP response head of {got} bytes to `{method}` is over the {limit}-byte limit"
                ),
            },
            other => Error::Io(format!("`{method}` over HTTP to {}: {other}", self.url)),
        }
    }
}

/// `Some(d)`, or `None` (no timeout) when `d` is too long to add to an `Instant`: ureq
/// would overflow (and panic) on `Duration::MAX`.
pub(crate) fn bound(d: Duration) -> Option<Duration> {
    Instant::now().checked_add(d).map(|_| d)
}

fn agent(options: &Options) -> Result<ureq::Agent, Error> {
    let config = ureq::Agent::config_builder()
        // A non-200 status carries the server's explanation in the body: read it
        // instead of turning it into a bodiless ureq error.
        .http_status_as_error(false)
        .timeout_global(bound(options.request_timeout))
        .timeout_connect(bound(options.connect_timeout))
        .tls_config(tls_config(&options.tls)?)
        // ureq keeps 3 idle connections per host by default: 32 threads calling at once
        // then open a new connection for most calls (measured: 79% of the floor).
        .max_idle_connections(MAX_IDLE_CONNECTIONS)
        .max_idle_connections_per_host(MAX_IDLE_CONNECTIONS)
        .build();
    // With a global timeout ureq resolves the host on a helper thread for EVERY request,
    // even on a kept-alive connection (it more than doubled the cost of a call): the
    // resolver caches the lookup.
    Ok(ureq::Agent::with_parts(
        config,
        DefaultConnector::default(),
        CachingResolver::default(),
    ))
}

/// ureq's resolver, with the last lookup reused for [`RESOLVE_TTL`].
#[derive(Debug, Default)]
pub(crate) struct CachingResolver {
    last: Mutex<Option<(String, Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{:?}{:?}",
            uri.scheme_str(),
            uri.authority().map(|a| a.as_str())
        );
        let last = || self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((k, at, addrs)) = &*last() {
            if *k == key && at.elapsed() < RESOLVE_TTL {
                return Ok(addrs.clone());
            }
        }
        let addrs = DefaultResolver::default().resolve(uri, config, timeout)?;
        *last() = Some((key, Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}

/// ureq's TLS settings from `Options.tls`.
pub(crate) fn tls_config(tls: &TlsOptions) -> Result<TlsConfig, Error> {
    let mut builder = TlsConfig::builder();
    if !tls.extra_roots_pem.is_empty() {
        if !tls.no_public_roots {
            // ureq takes either its bundled public roots or a given list, not both.
            return Err(Error::NotSupported {
                method: "connect".into(),
                message: "over https, the blocking driver cannot add roots to the public ones: \
                          call `only_extra_roots()` (adding the public CA's certificate if it \
                          is needed too)"
                    .into(),
            });
        }
        let mut roots = Vec::new();
        for pem in &tls.extra_roots_pem {
            for item in ureq::tls::parse_pem(pem) {
                match item {
                    Ok(PemItem::Certificate(c)) => roots.push(c),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(Error::invalid("TLS root certificate (PEM)", e.to_string()))
                    }
                }
            }
        }
        if roots.is_empty() {
            return Err(Error::invalid(
                "TLS root certificate (PEM)",
                "no `CERTIFICATE` block found",
            ));
        }
        builder = builder.root_certs(RootCerts::new_with_certs(&roots));
    }
    if let Some(cert) = &tls.client_cert {
        let mut chain = Vec::new();
        for item in ureq::tls::parse_pem(&cert.chain_pem) {
            match item {
                Ok(PemItem::Certificate(c)) => chain.push(c),
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::invalid(
                        "TLS client certificate chain (PEM)",
                        e.to_string(),
                    ))
                }
            }
        }
        // The key's PEM is never quoted in an error.
        let key = ureq::tls::parse_pem(&cert.key_pem).find_map(|item| match item {
            Ok(PemItem::PrivateKey(k)) => Some(k),
            _ => None,
        });
        let (false, Some(key)) = (chain.is_empty(), key) else {
            return Err(Error::invalid(
                "TLS client certificate",
                "the chain needs a `CERTIFICATE` block and the key a PKCS#8, PKCS#1 or SEC1 \
                 private key block",
            ));
        };
        builder = builder.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, key)));
    }
    Ok(builder.build())
}

/// `GET /health` on the server at `base_url`: `Ok` when it answers 200 (storage healthy).
/// Bounded like a request by `options`.
pub(crate) fn health(base_url: &str, options: &Options) -> Result<(), Error> {
    let url = format!("{base_url}/health");
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(bound(options.request_timeout))
        .timeout_connect(bound(options.connect_timeout))
        .tls_config(tls_config(&options.tls)?)
        .build();
    let agent: ureq::Agent = config.into();
    let mut response = agent.get(&url).call().map_err(|e| match e {
        ureq::Error::Timeout(t) => Error::Timeout {
            what: format!("answer to GET {url} ({t})"),
            after: if t == ureq::Timeout::Connect {
                options.connect_timeout
            } else {
                options.request_timeout
            },
        },
        other => Error::Connect {
            url: url.clone(),
            reason: other.to_string(),
        },
    })?;
    let status = response.status().as_u16();
    if status == 200 {
        return Ok(());
    }
    // The body only adds detail to the status; an unreadable body leaves the status alone.
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    Err(Error::Http {
        status,
        message: match body.trim() {
            "" => format!("GET {url} reports the server unhealthy"),
            text => format!("GET {url}: {text}"),
        },
    })
}

fn map_error(req: &Request, e: HttpRpcError) -> Error {
    match e {
        HttpRpcError::Unsupported { message, .. } => Error::NotSupported {
            method: req.method.as_str().to_owned(),
            message,
        },
        HttpRpcError::Status { status, message } => Error::Http { status, message },
        HttpRpcError::Server(e) => Error::Server(e),
        HttpRpcError::Decode(e) => {
            Error::Protocol(format!("answer to `{}`: {}", req.method, e.message))
        }
        // Refused inputs (an invalid header value) and any later kind: the core's mapping.
        other => Error::from(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_too_long_for_an_instant_mean_no_timeout() {
        assert_eq!(bound(Duration::MAX), None);
        assert_eq!(bound(Duration::from_secs(5)), Some(Duration::from_secs(5)));
        // Building an agent with "no limit" must not panic either.
        let o = Options::default()
            .request_timeout(Duration::MAX)
            .connect_timeout(Duration::MAX);
        assert!(agent(&o).is_ok());
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
        let o = TlsOptions::default()
            .only_extra_roots()
            .add_root_pem(&b"not pem"[..]);
        assert!(tls_config(&o).is_err());
        let o = TlsOptions::default().client_cert(&b"nothing"[..], &b"SECRET-KEY-TEXT"[..]);
        let e = tls_config(&o).expect_err("refused");
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(tls_config(&TlsOptions::default()).is_ok());
    }
}
