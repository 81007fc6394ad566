//! The HTTP transport: one stateless `POST /rpc` per call over a keep-alive `ureq` agent.
//!
//! The pure `surql::rpc::http` functions decide the headers and read the answer; this file
//! only moves bytes. What a stateless server forgets between calls (token, ns, db) is kept
//! in an `HttpSession` and re-sent as headers on every request.

use std::io::ErrorKind as IoKind;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use surql::rpc::http::{decode_response_payload, HttpRpcError, HttpSession};
use surql::rpc::{Payload, Request};

use crate::Error;
use surql::endpoint::Endpoint;

/// Bodies larger than the server's own WebSocket message limit are refused rather than
/// buffered without bound.
const MAX_RESPONSE_BYTES: u64 = 128 * 1024 * 1024;

/// A stateless HTTP connection to one server.
pub(crate) struct HttpTransport {
    agent: ureq::Agent,
    url: String,
    request_timeout: Duration,
    session: Mutex<HttpSession>,
}

impl HttpTransport {
    pub(crate) fn new(
        endpoint: &Endpoint,
        request_timeout: Duration,
        connect_timeout: Duration,
    ) -> HttpTransport {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // A non-200 status carries the server's explanation in the body: read it
            // instead of turning it into a bodiless ureq error.
            .http_status_as_error(false)
            // Per-phase timeouts, and none on name resolution: with a global (or resolve)
            // timeout ureq resolves the host on a new thread for EVERY request, even on a
            // kept-alive connection, which more than doubled the cost of a call.
            .timeout_connect(Some(connect_timeout))
            .timeout_send_request(Some(request_timeout))
            .timeout_send_body(Some(request_timeout))
            .timeout_recv_response(Some(request_timeout))
            .timeout_recv_body(Some(request_timeout))
            .build()
            .into();
        HttpTransport {
            agent,
            url: endpoint.rpc_url(),
            request_timeout,
            session: Mutex::new(HttpSession::default()),
        }
    }

    fn session(&self) -> std::sync::MutexGuard<'_, HttpSession> {
        // The session is plain data updated in one assignment; a panic elsewhere cannot
        // leave it half-written, so a poisoned lock is still safe to use.
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `req` and returns the server's result.
    pub(crate) fn call(&self, req: &Request) -> Result<Payload, Error> {
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
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| self.transport_error(req, e))?;
        let result = decode_response_payload(status, &body).map_err(|e| map_error(req, e))?;
        self.session().apply_payload(req, &result);
        Ok(result)
    }
}

/// `GET /health` on the server at `base_url`: `Ok` when it answers 200 (storage healthy).
pub(crate) fn health(base_url: &str) -> Result<(), Error> {
    let url = format!("{base_url}/health");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = agent.get(&url).call().map_err(|e| Error::Connect {
        url: url.clone(),
        reason: e.to_string(),
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
        other => Error::Protocol(format!("answer to `{}`: {other}", req.method)),
    }
}

impl HttpTransport {
    fn transport_error(&self, req: &Request, e: ureq::Error) -> Error {
        let method = req.method.as_str().to_owned();
        match e {
            // Every configured phase timeout but connect's is the request timeout (a
            // connect timeout is a request that could not even start: same answer).
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
            ureq::Error::BodyExceedsLimit(limit) => Error::Protocol(format!(
                "the answer to `{method}` is larger than {limit} bytes"
            )),
            other => Error::Io(format!("`{method}` over HTTP to {}: {other}", self.url)),
        }
    }
}
