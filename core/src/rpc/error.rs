//! `ServerError`: the error object the server sends, with classification helpers.

use std::fmt;

use crate::value::{Object, Value};

/// The `kind` of a server error (3.x). Unknown kinds are kept verbatim in [`ErrorKind::Other`];
/// the server itself treats unknown kinds as `Internal`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Invalid input: bad params, parse errors, SurrealQL syntax errors.
    Validation,
    /// The server is not configured for the request (e.g. live queries over HTTP).
    Configuration,
    /// A query failed: not executed, timed out, cancelled, transaction conflict.
    Query,
    /// A value could not be serialized or deserialized.
    Serialization,
    /// Authentication or permission failure.
    NotAllowed,
    /// Something named does not exist (method, table, record, session, transaction).
    NotFound,
    /// Something being created already exists.
    AlreadyExists,
    /// A connection-level failure.
    Connection,
    /// A `THROW` statement.
    Thrown,
    /// An internal error (also the fallback of 2.x servers, which sent no kind).
    Internal,
    /// A context error (e.g. cancelled execution context).
    Context,
    /// A kind this client does not know, kept verbatim.
    Other(String),
}

impl ErrorKind {
    /// Maps the wire text to a kind; unknown text is kept in [`ErrorKind::Other`].
    pub fn from_wire(s: &str) -> Self {
        match s {
            "Validation" => Self::Validation,
            "Configuration" => Self::Configuration,
            "Query" => Self::Query,
            "Serialization" => Self::Serialization,
            "NotAllowed" => Self::NotAllowed,
            "NotFound" => Self::NotFound,
            "AlreadyExists" => Self::AlreadyExists,
            "Connection" => Self::Connection,
            "Thrown" => Self::Thrown,
            "Internal" => Self::Internal,
            "Context" => Self::Context,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The wire text of the kind.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Validation => "Validation",
            Self::Configuration => "Configuration",
            Self::Query => "Query",
            Self::Serialization => "Serialization",
            Self::NotAllowed => "NotAllowed",
            Self::NotFound => "NotFound",
            Self::AlreadyExists => "AlreadyExists",
            Self::Connection => "Connection",
            Self::Thrown => "Thrown",
            Self::Internal => "Internal",
            Self::Context => "Context",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// JSON-RPC style codes the 3.x server assigns (protocol.md §2.3).
pub mod codes {
    /// Undecodable frame or unencodable response.
    pub const PARSE_ERROR: i64 = -32700;
    /// Invalid request envelope or parameters such as an empty namespace.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Unknown RPC method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Method denied by capabilities, or not allowed on this transport.
    pub const METHOD_NOT_ALLOWED: i64 = -32602;
    /// Wrong arity or parameter types.
    pub const INVALID_PARAMS: i64 = -32603;
    /// Live queries are not supported (HTTP).
    pub const LIVE_QUERY_NOT_SUPPORTED: i64 = -32604;
    /// Every error without a more specific code.
    pub const INTERNAL_ERROR: i64 = -32000;
    /// Authentication failure (except session expiry, which is -32000).
    pub const INVALID_AUTH: i64 = -32002;
    /// Query timed out.
    pub const QUERY_TIMEDOUT: i64 = -32004;
    /// A `THROW` statement.
    pub const THROWN: i64 = -32006;
    /// Retryable transaction conflict.
    pub const QUERY_TRANSACTION_CONFLICT: i64 = -32009;
}

/// An error reported by the server: an RPC-level `error` object, or a failed row of a
/// `query` result (those carry no `code`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerError {
    /// The numeric code (`None` for query-result rows and for malformed errors).
    pub code: Option<i64>,
    /// The error kind.
    pub kind: ErrorKind,
    /// The human-readable message, verbatim.
    pub message: String,
    /// Structured details (`{kind, details?}`), when the server sent them.
    pub details: Option<Value>,
    /// The underlying error, when the server sent one.
    pub cause: Option<Box<ServerError>>,
}

impl ServerError {
    /// An error of `kind` with `message`, no code, details or cause.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ServerError {
            code: None,
            kind,
            message: message.into(),
            details: None,
            cause: None,
        }
    }

    /// Reads an error object `{code, message, kind, details?, cause?}` (3.x) or `{code, message}` (2.x).
    ///
    /// Lenient on purpose: a missing `kind` becomes `Internal` (what the server assumes for
    /// unknown kinds), a missing message is described as such. A non-object value is
    /// described in the message rather than rejected, so the caller still learns that the
    /// request failed.
    pub fn from_value(v: &Value) -> Self {
        Self::from_value_depth(v, 0)
    }

    fn from_value_depth(v: &Value, depth: usize) -> Self {
        let Some(obj) = v.as_object() else {
            return ServerError::new(
                ErrorKind::Internal,
                match v {
                    Value::String(s) => s.clone(),
                    other => format!(
                        "server sent a malformed error (a {} instead of an error object)",
                        other.kind()
                    ),
                },
            );
        };
        let code = obj.get("code").and_then(Value::as_int);
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .map(ErrorKind::from_wire)
            .unwrap_or(ErrorKind::Internal);
        let message = match obj.get("message") {
            Some(Value::String(s)) => s.clone(),
            _ => "server sent an error without a message".to_owned(),
        };
        let details = obj.get("details").filter(|d| !d.is_nullish()).cloned();
        // Causes nest; a hostile server could nest them deeply, so stop at a sane depth.
        let cause = match obj.get("cause") {
            Some(c @ Value::Object(_)) if depth < 32 => {
                Some(Box::new(Self::from_value_depth(c, depth + 1)))
            }
            _ => None,
        };
        ServerError {
            code,
            kind,
            message,
            details,
            cause,
        }
    }

    /// The error as its wire object (for tests and for re-encoding).
    pub fn to_value(&self) -> Value {
        let mut o = Object::new();
        if let Some(code) = self.code {
            o.insert("code".into(), Value::Int(code));
        }
        o.insert("kind".into(), Value::String(self.kind.as_str().to_owned()));
        o.insert("message".into(), Value::String(self.message.clone()));
        if let Some(d) = &self.details {
            o.insert("details".into(), d.clone());
        }
        o.insert(
            "cause".into(),
            self.cause.as_ref().map_or(Value::None, |c| c.to_value()),
        );
        Value::Object(o)
    }

    /// `details.kind`, e.g. `"TransactionConflict"`, `"Auth"`, `"Method"`, `"InvalidParams"`.
    pub fn detail_kind(&self) -> Option<&str> {
        self.details.as_ref()?.get("kind")?.as_str()
    }

    /// `details.details.kind`, e.g. `"TokenExpired"` inside an `Auth` detail.
    pub fn inner_detail_kind(&self) -> Option<&str> {
        self.details.as_ref()?.get("details")?.get("kind")?.as_str()
    }

    /// A retryable transaction conflict (protocol.md §8.3), judged from the structure only:
    /// `details.kind` (or the nested `details.details.kind`) is `TransactionConflict`, or the
    /// code is -32009. The message text is never consulted, so a user's
    /// `THROW "… This transaction can be retried"` is not a conflict. An error whose commit
    /// outcome is unknown is never one either: retrying it could apply the writes twice.
    ///
    /// The same rule as [`crate::error::is_structured_conflict`] (this delegates to it).
    pub fn is_transaction_conflict(&self) -> bool {
        crate::error::is_structured_conflict(self)
    }

    /// The server could not tell whether a commit happened: never retry blindly.
    pub fn is_commit_outcome_unknown(&self) -> bool {
        self.message.contains("commit outcome is unknown")
    }

    /// An undecodable request/unencodable response (-32700) or a SurrealQL syntax error.
    pub fn is_parse_error(&self) -> bool {
        self.code == Some(codes::PARSE_ERROR)
            || (self.kind == ErrorKind::Validation && self.message.starts_with("Parse error"))
    }

    /// Authentication failed or expired (`NotAllowed` + `Auth` detail, or code -32002).
    pub fn is_auth_error(&self) -> bool {
        self.code == Some(codes::INVALID_AUTH)
            || (self.kind == ErrorKind::NotAllowed && self.detail_kind() == Some("Auth"))
    }

    /// The token has expired: refresh it or sign in again.
    pub fn is_token_expired(&self) -> bool {
        self.detail_kind() == Some("Auth") && self.inner_detail_kind() == Some("TokenExpired")
            || self.message.contains("token has expired")
    }

    /// The session has expired (code -32000): authenticate again.
    pub fn is_session_expired(&self) -> bool {
        self.detail_kind() == Some("Auth") && self.inner_detail_kind() == Some("SessionExpired")
            || self.message.contains("session has expired")
    }

    /// Something named in the request does not exist (kind `NotFound`).
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// The method is unknown to this server (-32601).
    pub fn is_method_not_found(&self) -> bool {
        self.code == Some(codes::METHOD_NOT_FOUND)
            || (self.kind == ErrorKind::NotFound && self.detail_kind() == Some("Method"))
    }

    /// Something being created already exists (kind `AlreadyExists`).
    pub fn is_already_exists(&self) -> bool {
        self.kind == ErrorKind::AlreadyExists
    }

    /// A `THROW` statement's error.
    pub fn is_thrown(&self) -> bool {
        self.kind == ErrorKind::Thrown || self.code == Some(codes::THROWN)
    }

    /// The query timed out on the server.
    pub fn is_timeout(&self) -> bool {
        self.code == Some(codes::QUERY_TIMEDOUT) || self.detail_kind() == Some("TimedOut")
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.message)?;
        match self.detail_kind() {
            Some(d) => write!(f, "{}/{d}", self.kind)?,
            None => write!(f, "{}", self.kind)?,
        }
        if let Some(code) = self.code {
            write!(f, ", code {code}")?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}
