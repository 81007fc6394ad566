//! HTTP `POST /rpc` as pure functions: what to send for a [`Request`], how to read the
//! answer, and the session state a stateless client re-sends on every request.

use super::{
    decode_incoming_with, Incoming, Method, Payload, Request, RpcDecodeError, ServerError,
};
use crate::session::SessionState;
use crate::value::Value;

/// The CBOR media type used for both `Content-Type` and `Accept`.
pub const CBOR_MEDIA_TYPE: &str = "application/cbor";

/// An HTTP request to hand to an HTTP client as is. Its `Debug` hides the
/// `Authorization` header's value and the body (which may carry credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Always `POST`.
    pub method: &'static str,
    /// Always `/rpc` (relative to the server's base URL).
    pub path: &'static str,
    /// Header names and values.
    pub headers: Vec<(&'static str, String)>,
    /// The CBOR request envelope.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                if k.eq_ignore_ascii_case("authorization") {
                    (*k, "<redacted>")
                } else {
                    (*k, v.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Why an HTTP RPC call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpRpcError {
    /// The request cannot work over stateless HTTP; nothing was sent.
    #[error("{message}")]
    Unsupported {
        /// The refused method.
        method: Method,
        /// What to do instead.
        message: String,
    },
    /// The server answered with a non-200 status (transport-level failure).
    #[error("HTTP {status} from /rpc: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// What the body said (JSON `details`/`description`/`information`, or the text).
        message: String,
    },
    /// The server executed the call and returned an error.
    #[error("{0}")]
    Server(ServerError),
    /// The body could not be decoded.
    #[error("{0}")]
    Decode(RpcDecodeError),
    /// A session value cannot be carried in an HTTP header unchanged; nothing was sent.
    #[error("{message}")]
    InvalidHeader {
        /// The header (`surreal-ns`, `surreal-db` or `Authorization`).
        name: &'static str,
        /// The input it carries (`the namespace`, `the database`, `the token`).
        input: &'static str,
        /// What is wrong, naming the input (never a token's value).
        message: String,
    },
}

/// What a stateless HTTP client remembers between requests and re-sends as headers: the
/// same session-state type the WebSocket connection replays (see [`crate::session`]).
pub type HttpSession = SessionState;

impl SessionState {
    /// Builds the HTTP request for `req`, or refuses it before anything is sent when it
    /// cannot work over HTTP (live queries, session variables, RPC transactions, streams,
    /// attached sessions), or when the token, namespace or database cannot be carried in
    /// a header unchanged ([`HttpRpcError::InvalidHeader`]).
    ///
    /// Header values must be visible ASCII (spaces inside allowed): the server reads
    /// `surreal-ns`/`surreal-db` with `HeaderValue::to_str`, which rejects anything else
    /// and does no percent-decoding, and CR/LF would split the request. Leading or
    /// trailing spaces are refused as well because HTTP strips them, which would select
    /// another namespace than the one named. Such names work over WebSocket.
    // The error is large only because of `Server`; HTTP calls are not a hot path and the
    // drivers match on the unboxed `ServerError`.
    #[allow(clippy::result_large_err)]
    pub fn encode_request(&self, req: &Request) -> Result<HttpRequest, HttpRpcError> {
        if !req.method.works_over_http() {
            return Err(HttpRpcError::Unsupported {
                method: req.method,
                message: format!(
                    "`{}` is not supported over HTTP; use a WebSocket (ws:// or wss://) connection",
                    req.method
                ),
            });
        }
        if req.txn.is_some() {
            return Err(HttpRpcError::Unsupported {
                method: req.method,
                message: format!(
                    "`{}` inside an RPC transaction is not supported over HTTP; use a WebSocket (ws:// or wss://) connection",
                    req.method
                ),
            });
        }
        self.check_headers()?;
        if matches!(req.method, Method::Use | Method::Authenticate) {
            // What a success leaves in the session (`use` its ns/db, `authenticate` its
            // token) is re-sent as headers on every later call: refuse a value that could
            // never be sent before this call runs, rather than leave the handle unable to
            // send anything.
            let mut next = self.clone();
            next.apply(req, &Value::None);
            next.check_headers()?;
        }
        let mut headers = vec![
            ("Content-Type", CBOR_MEDIA_TYPE.to_owned()),
            ("Accept", CBOR_MEDIA_TYPE.to_owned()),
        ];
        if let Some(t) = &self.token {
            headers.push(("Authorization", format!("Bearer {t}")));
        }
        if let Some(ns) = &self.ns {
            headers.push(("surreal-ns", ns.clone()));
        }
        if let Some(db) = &self.db {
            headers.push(("surreal-db", db.clone()));
        }
        Ok(HttpRequest {
            method: "POST",
            path: "/rpc",
            headers,
            // Each HTTP call carries exactly one request, so there is nothing to correlate.
            body: req.encode(None),
        })
    }
}

impl SessionState {
    /// Refuses a session whose token, namespace or database HTTP would not carry unchanged.
    #[allow(clippy::result_large_err)] // see `encode_request`
    fn check_headers(&self) -> Result<(), HttpRpcError> {
        if let Some(t) = &self.token {
            check_header("Authorization", "the token", t, true)?;
        }
        if let Some(ns) = &self.ns {
            check_header("surreal-ns", "the namespace", ns, false)?;
        }
        if let Some(db) = &self.db {
            check_header("surreal-db", "the database", db, false)?;
        }
        Ok(())
    }
}

/// Refuses a header value that HTTP would not carry unchanged (see
/// [`SessionState::encode_request`]). A secret is described, never quoted.
#[allow(clippy::result_large_err)] // see `encode_request`
pub(crate) fn check_header(
    name: &'static str,
    what: &'static str,
    value: &str,
    secret: bool,
) -> Result<(), HttpRpcError> {
    let bad = value
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_graphic() || *c == ' '));
    let problem = if let Some((at, c)) = bad {
        let kind = if c.is_ascii_control() {
            "a control character"
        } else {
            "a non-ASCII character"
        };
        format!(
            "contains {kind} ({:?}) at byte {at}",
            c.escape_default().to_string()
        )
    } else if value.starts_with(' ') || value.ends_with(' ') {
        "starts or ends with a space, which HTTP would strip".to_owned()
    } else {
        return Ok(());
    };
    // Formatted only for a value that fails (this runs on every HTTP call).
    let (quoted, hint) = if secret {
        (String::new(), "")
    } else {
        (
            format!(" {value:?}"),
            " (such names work over a WebSocket connection)",
        )
    };
    Err(HttpRpcError::InvalidHeader {
        name,
        input: what,
        message: format!(
            "{what}{quoted} cannot be sent in the `{name}` HTTP header: it {problem}; nothing was sent{hint}"
        ),
    })
}

/// Reads an HTTP `/rpc` answer: checks the status first (non-200 bodies are JSON or text),
/// then decodes the envelope; a 200 may still carry an RPC `error`.
#[allow(clippy::result_large_err)] // see `encode_request`
pub fn decode_response(status: u16, body: &[u8]) -> Result<Value, HttpRpcError> {
    if status != 200 {
        return Err(HttpRpcError::Status {
            status,
            message: describe_error_body(body),
        });
    }
    match decode_incoming_with(body, |_| false).map_err(HttpRpcError::Decode)? {
        Incoming::Response { result: Ok(v), .. } => Ok(v),
        Incoming::Response { result: Err(e), .. } => Err(HttpRpcError::Server(e)),
        Incoming::Notification(n) => Err(HttpRpcError::Decode(RpcDecodeError::new(format!(
            "expected a reply, got a live notification for {}",
            n.live_id
        )))),
        Incoming::Stream { id, .. } => Err(HttpRpcError::Decode(RpcDecodeError::new(format!(
            "expected a reply, got a stream frame for request {id}"
        )))),
    }
}

/// [`decode_response`] that keeps a successful `result` as bytes, to be read straight
/// into the caller's type ([`Payload::deserialize`]).
#[allow(clippy::result_large_err)] // see `encode_request`
pub fn decode_response_payload(status: u16, body: &[u8]) -> Result<Payload, HttpRpcError> {
    if status == 200 {
        if let Some((_, payload)) = super::split_envelope(body) {
            return Ok(payload);
        }
    }
    decode_response(status, body).map(Payload::from)
}

/// What a driver reports for the answer to a `method` call over HTTP (`status`, `body`):
/// its `result` kept as bytes, or the error, an undecodable answer naming the method. The
/// one mapping both drivers use.
#[allow(clippy::result_large_err)] // `Error` is the drivers' one error; its size is not this function's choice
pub fn rpc_payload(method: Method, status: u16, body: &[u8]) -> Result<Payload, crate::Error> {
    decode_response_payload(status, body).map_err(|e| match e {
        HttpRpcError::Decode(d) => {
            crate::Error::Protocol(format!("answer to `{method}`: {}", d.message))
        }
        other => other.into(),
    })
}

const MAX_BODY_IN_ERROR: usize = 500;

/// Turns a non-200 body into one readable line: the JSON error's `description`,
/// `information` and `details` strings when present, else the text itself (shortened).
pub(crate) fn describe_error_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "empty body".to_owned();
    }
    if text.starts_with('{') {
        let parts: Vec<String> = ["description", "information", "details"]
            .iter()
            .filter_map(|k| json_string_field(text, k))
            .filter(|s| !s.is_empty())
            .collect();
        if !parts.is_empty() {
            let mut seen: Vec<String> = Vec::new();
            for p in parts {
                if !seen.contains(&p) {
                    seen.push(p);
                }
            }
            return seen.join(": ");
        }
    }
    shorten(text)
}

fn shorten(text: &str) -> String {
    if text.len() <= MAX_BODY_IN_ERROR {
        return text.to_owned();
    }
    let mut end = MAX_BODY_IN_ERROR;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or_default())
}

/// The value of a top-level-looking `"key": "string"` pair in JSON text, unescaped.
/// A deliberately small reader: the core has no JSON dependency and only needs a few
/// string fields out of the server's error body; anything odd yields `None`.
fn json_string_field(json: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\"");
    let start = json.find(&needle)? + needle.len();
    let rest = json.get(start..)?.trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    let mut chars = rest.strip_prefix('"')?.chars();
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let c = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{fffd}');
                    out.push(c);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Object;

    fn signin() -> Request {
        let mut o = Object::new();
        o.insert("user".into(), "root".into());
        o.insert("pass".into(), "root".into());
        Request::signin(o)
    }

    #[test]
    fn headers_carry_token_and_namespace() {
        let s = HttpSession {
            token: Some("jwt".into()),
            ns: Some("app".into()),
            db: Some("main".into()),
            ..HttpSession::default()
        };
        let r = s
            .encode_request(&Request::ping())
            .expect("ping works over HTTP");
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/rpc");
        assert_eq!(
            r.headers,
            vec![
                ("Content-Type", "application/cbor".to_owned()),
                ("Accept", "application/cbor".to_owned()),
                ("Authorization", "Bearer jwt".to_owned()),
                ("surreal-ns", "app".to_owned()),
                ("surreal-db", "main".to_owned()),
            ]
        );
        assert_eq!(r.body, Request::ping().encode(None));
    }

    #[test]
    fn header_values_are_checked_and_named() {
        let cases: &[(&str, &str, &str)] = &[
            ("app\r\nX-Evil: 1", "surreal-ns", "control character"),
            ("a\0b", "surreal-ns", "control character"),
            ("tab\there", "surreal-ns", "control character"),
            ("café", "surreal-ns", "non-ASCII"),
            (" app", "surreal-ns", "space"),
        ];
        for (ns, name, problem) in cases {
            let s = HttpSession {
                ns: Some((*ns).to_owned()),
                ..HttpSession::default()
            };
            let err = s.encode_request(&Request::ping()).expect_err(ns);
            let HttpRpcError::InvalidHeader {
                name: got, message, ..
            } = &err
            else {
                panic!("{err:?}");
            };
            assert_eq!(got, name);
            assert!(message.contains(problem), "{message}");
            assert!(
                message.contains(&format!("{ns:?}")),
                "names the input: {message}"
            );
        }
        let s = HttpSession {
            db: Some("main\n".into()),
            ..HttpSession::default()
        };
        assert!(matches!(
            s.encode_request(&Request::ping()),
            Err(HttpRpcError::InvalidHeader {
                name: "surreal-db",
                ..
            })
        ));
        let s = HttpSession {
            token: Some("SECRETTOKEN\r\nX: y".into()),
            ..HttpSession::default()
        };
        let err = s.encode_request(&Request::ping()).expect_err("CR LF");
        assert!(matches!(
            err,
            HttpRpcError::InvalidHeader {
                name: "Authorization",
                ..
            }
        ));
        let text = format!("{err} {err:?}");
        assert!(!text.contains("SECRETTOKEN"), "{text}");
        // Visible ASCII with inner spaces is fine.
        let s = HttpSession {
            ns: Some("my app-1.x".into()),
            db: Some("d_b".into()),
            token: Some("a.b-c_d".into()),
            ..HttpSession::default()
        };
        assert!(s.encode_request(&Request::ping()).is_ok());
    }

    #[test]
    fn a_use_or_authenticate_that_would_leave_an_unsendable_session_is_refused_first() {
        let s = HttpSession::default();
        let err = s
            .encode_request(&Request::use_ns_db("ok", "bad\r\ndb"))
            .expect_err("the next session could never be sent");
        assert!(
            matches!(
                err,
                HttpRpcError::InvalidHeader {
                    name: "surreal-db",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = s
            .encode_request(&Request::authenticate("SECRET\nX: y"))
            .expect_err("the next token could never be sent");
        assert!(
            matches!(
                err,
                HttpRpcError::InvalidHeader {
                    name: "Authorization",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!format!("{err} {err:?}").contains("SECRET"));
        // The session itself is untouched, and sendable values pass.
        assert_eq!(s, HttpSession::default());
        assert!(s.encode_request(&Request::use_ns_db("n", "d")).is_ok());
        assert!(s.encode_request(&Request::authenticate("a.b-c")).is_ok());
    }

    #[test]
    fn debug_hides_tokens_and_credentials() {
        let s = HttpSession {
            token: Some("SECRETTOKEN".into()),
            refresh: Some("SECRETREFRESH".into()),
            ..HttpSession::default()
        };
        let mut creds = Object::new();
        creds.insert("user".into(), "root".into());
        creds.insert("pass".into(), "SECRETPASS".into());
        let r = s
            .encode_request(&Request::signin(creds))
            .expect("signin works over HTTP");
        let text = format!("{s:?} {r:?}");
        for secret in ["SECRETTOKEN", "SECRETREFRESH", "SECRETPASS"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(
            text.contains("surreal") || text.contains("Authorization"),
            "{text}"
        );
    }

    #[test]
    fn websocket_only_methods_are_refused_before_sending() {
        for m in [
            Method::Live,
            Method::Kill,
            Method::Let,
            Method::Unset,
            Method::Begin,
            Method::Commit,
            Method::Cancel,
            Method::Sessions,
            Method::QueryStream,
            Method::QueryCancel,
            Method::Attach,
            Method::Detach,
        ] {
            let err = HttpSession::default()
                .encode_request(&Request::new(m, vec![]))
                .expect_err("must be refused");
            assert_eq!(
                err.to_string(),
                format!("`{m}` is not supported over HTTP; use a WebSocket (ws:// or wss://) connection")
            );
        }
        let in_txn = Request::ping().with_txn(crate::value::Uuid([1; 16]));
        assert!(HttpSession::default().encode_request(&in_txn).is_err());
    }

    #[test]
    fn session_follows_successful_calls() {
        let mut s = HttpSession::default();
        s.apply(&signin(), &Value::String("t1".into()));
        assert_eq!(s.token.as_deref(), Some("t1"));
        let mut pair = Object::new();
        pair.insert("access".into(), "a2".into());
        pair.insert("refresh".into(), "r2".into());
        s.apply(&signin(), &Value::Object(pair));
        assert_eq!(s.token.as_deref(), Some("a2"));
        s.apply(&Request::authenticate("t3"), &Value::None);
        assert_eq!(s.token.as_deref(), Some("t3"));
        s.apply(&Request::use_ns_db("n", "d"), &Value::None);
        assert_eq!((s.ns.as_deref(), s.db.as_deref()), (Some("n"), Some("d")));
        s.apply(
            &Request::new(Method::Use, vec![Value::None, Value::Null]),
            &Value::None,
        );
        assert_eq!((s.ns.as_deref(), s.db.as_deref()), (Some("n"), None));
        s.apply(&Request::new(Method::Invalidate, vec![]), &Value::None);
        assert_eq!(s.token, None);
        assert_eq!(s.ns.as_deref(), Some("n"));
        s.apply(&Request::new(Method::Reset, vec![]), &Value::None);
        assert_eq!(s, HttpSession::default());
    }

    #[test]
    fn non_200_bodies_become_clear_errors() {
        let body = br#"{"code":400,"details":"Request problems detected","description":"There is a problem with your request.","information":"Parse error: oops"}"#;
        assert_eq!(
            decode_response(400, body),
            Err(HttpRpcError::Status {
                status: 400,
                message: "There is a problem with your request.: Parse error: oops: Request problems detected".into()
            })
        );
        assert_eq!(
            decode_response(401, b"Invalid token")
                .unwrap_err()
                .to_string(),
            "HTTP 401 from /rpc: Invalid token"
        );
        assert_eq!(
            decode_response(503, b"").unwrap_err().to_string(),
            "HTTP 503 from /rpc: empty body"
        );
        let long = "x".repeat(2000);
        let HttpRpcError::Status { message, .. } =
            decode_response(500, long.as_bytes()).unwrap_err()
        else {
            panic!("status error expected");
        };
        assert!(message.len() < 600);
    }

    #[test]
    fn json_reader_unescapes_and_tolerates_garbage() {
        assert_eq!(
            json_string_field(r#"{"a" : "x\"y\n\u0041"}"#, "a").as_deref(),
            Some("x\"y\nA")
        );
        assert_eq!(json_string_field(r#"{"a": 1}"#, "a"), None);
        assert_eq!(json_string_field(r#"{"a": "unterminated"#, "a"), None);
        assert_eq!(json_string_field(r#"{"a": "\u12"}"#, "a"), None);
    }

    #[test]
    fn ok_and_error_envelopes() {
        // {"result": NONE}
        assert_eq!(
            decode_response(
                200,
                &[0xa1, 0x66, b'r', b'e', b's', b'u', b'l', b't', 0xc6, 0xf6]
            ),
            Ok(Value::None)
        );
        let err = ServerError {
            code: Some(-32601),
            kind: super::super::ErrorKind::NotFound,
            message: "Method not found".into(),
            details: None,
            cause: None,
        };
        let mut env = Object::new();
        env.insert("error".into(), err.to_value());
        let bytes = crate::cbor::encode(&Value::Object(env));
        assert_eq!(decode_response(200, &bytes), Err(HttpRpcError::Server(err)));
        assert!(matches!(
            decode_response(200, b"\xff"),
            Err(HttpRpcError::Decode(_))
        ));
    }
}
