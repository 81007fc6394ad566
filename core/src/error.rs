//! `Error`: the one error type every surql call returns, in both drivers.
//!
//! The core's layer errors ([`CallError`] for building requests and decoding answers,
//! [`ConnError`] for the WebSocket machine, [`HttpRpcError`] for HTTP `/rpc`) all convert
//! into it, so `surql_smol::Error` and `surql_blocking::Error` are this very type and a
//! scenario that matches on it behaves the same whichever driver runs it.
//!
//! Prefer the accessors (`is_timeout`, `as_server_error`, `is_conflict`, …) over matching:
//! they keep working when variants are added.
//!
//! ```
//! use std::time::Duration;
//! use surql::Error;
//!
//! let e = Error::Timeout { what: "`query` answer".into(), after: Duration::from_secs(5) };
//! assert!(e.is_timeout());
//! assert_eq!(e.to_string(), "no `query` answer within 5s; the request may or may not have run on the server");
//! ```

use std::time::Duration;

use crate::client::CallError;
use crate::conn::ConnError;
use crate::rpc::http::HttpRpcError;
use crate::rpc::{codes, ErrorKind, ServerError};
use crate::value::Uuid;

/// Everything a surql call, connection attempt or stream read can fail with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL given to `connect` could not be used.
    #[error("invalid SurrealDB URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection (TCP, TLS, WebSocket upgrade) could not be opened.
    #[error("could not connect to {url}: {reason}")]
    Connect {
        /// The URL that was tried.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The server answered with an error (its kind, code and details are kept).
    #[error("{0}")]
    Server(ServerError),
    /// Nothing arrived in time: a request's answer, a connect step, a stream item.
    #[error("no {what} within {after:?}; the request may or may not have run on the server")]
    Timeout {
        /// What was awaited (``"`query` answer"``, `"WebSocket upgrade"`, `"live notification"`).
        what: String,
        /// How long was waited.
        after: Duration,
    },
    /// The connection was lost while the request was in flight.
    #[error("the connection was lost before `{method}` was answered; it may or may not have run on the server: {reason}")]
    Disconnected {
        /// The RPC method in flight.
        method: String,
        /// Why the connection was lost.
        reason: String,
    },
    /// The connection is closed (dropped, `close()`d, or lost with reconnecting off).
    #[error("the connection is closed")]
    Closed,
    /// The method cannot work on this transport or server; nothing was sent.
    #[error("{message}")]
    NotSupported {
        /// The refused method.
        method: String,
        /// What to do instead.
        message: String,
    },
    /// An HTTP response that is not an RPC answer (non-200 status, malformed framing).
    #[error("HTTP {status} from the server: {message}")]
    Http {
        /// The HTTP status (0 when the response had no readable status).
        status: u16,
        /// What was wrong.
        message: String,
    },
    /// The server sent something this client cannot understand or match to a request.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// An answer could not be converted into the requested Rust type.
    #[error("cannot decode {context}: {detail}")]
    Decode {
        /// Where: ``"the answer to `query`"``, with the statement when known.
        context: String,
        /// What did not fit, with the row/field path.
        detail: String,
    },
    /// An input was refused before anything was sent.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which input (`variable name`, `namespace header`, `record data`, …).
        what: String,
        /// Why, naming the offending value.
        reason: String,
    },
    /// A write that must affect a record affected none (SurrealDB reports a write denied by
    /// table permissions as an empty result).
    #[error("`{method}` of {target} affected no record: the write was denied by the table's permissions (SurrealDB reports a denied write as an empty result)")]
    NotAffected {
        /// The method.
        method: String,
        /// The record or table written.
        target: String,
    },
    /// No record matches (a model `get`, `refresh`, `QuerySet::get`, or a write to a record
    /// that does not exist or that this session cannot see).
    #[error("no {model} matches {query}")]
    DoesNotExist {
        /// The model type.
        model: String,
        /// What was looked for (`id = person:x`, or the query in its log form).
        query: String,
    },
    /// `QuerySet::get` matched more than one record.
    #[error("more than one {model} matches {query}")]
    MultipleObjectsReturned {
        /// The model type.
        model: String,
        /// The query in its log form.
        query: String,
    },
    /// A write to a record this session can see affected nothing: the table's permissions
    /// denied it (SurrealDB answers a denied write with an empty result).
    #[error("`{action}` of {target} was denied by the table's permissions (the record exists, but the write affected nothing)")]
    WriteDenied {
        /// The model action (`save`, `update`, `merge`, `delete`, …).
        action: String,
        /// The record (or table) written.
        target: String,
    },
    /// A write to a read-only model (a view); nothing was sent.
    #[error("{model} is read-only: {reason}")]
    ReadOnly {
        /// The model type.
        model: String,
        /// Why.
        reason: String,
    },
    /// A transaction run under a retry policy conflicted on every try.
    #[error("the transaction gave up after {tries} tries: it conflicted with concurrent writes every time (the last: {last})")]
    RetriesExhausted {
        /// How many times it was tried.
        tries: u32,
        /// The last conflict.
        last: Box<Error>,
    },
    /// The request targets an RPC transaction that died with a previous socket.
    #[error("RPC transaction {txn} was lost when the connection dropped; begin a new transaction and retry")]
    TransactionLost {
        /// The lost transaction.
        txn: Uuid,
    },
    /// The session could not be restored after a reconnect; requests queued during the
    /// outage fail with this instead of running with less authority.
    #[error("the session could not be restored after a reconnect (`{method}` failed): {source}")]
    ReplayFailed {
        /// The replayed method (`authenticate`, `use`, `let`, `attach`).
        method: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// A stream's reader fell more than `limit` items behind: the stream ended and its
    /// query was cancelled (live query killed) on the server.
    #[error("the {what} reader was too slow: more than {limit} items waited unread, so the stream was ended and its query cancelled on the server")]
    ReaderTooSlow {
        /// `query_stream` or `live query`.
        what: String,
        /// The buffer limit from `Options`.
        limit: usize,
    },
    /// A socket read or write failed outside any single request.
    #[error("I/O error: {0}")]
    Io(String),
    /// A migration could not be planned, applied or rolled back: a statement failed (named
    /// with its text; the migration's transaction was cancelled), a migration is
    /// irreversible, a file changed after it was applied, a target does not exist, … .
    #[error("migration {migration}: {reason}")]
    Migration {
        /// The migration (`0002_add_email`), or `migrations` for the whole set.
        migration: String,
        /// What went wrong, with the failing statement when there is one.
        reason: String,
    },
    /// The server refused the credentials, token or key of an auth action (a wrong
    /// password, an unknown user, a spent refresh token, a revoked bearer key), as opposed
    /// to failing to answer. The server's own error is kept.
    #[error("`{action}` was refused by the server: {source}")]
    AuthRejected {
        /// The action (`signin`, `signup`, `refresh`, `change_password`, …).
        action: String,
        /// The server's answer.
        #[source]
        source: Box<Error>,
    },
    /// `import`: statements of the dump did not apply. Every statement not named here did
    /// (an import is not transactional), so the database holds a partial import.
    #[error("{}", crate::export::describe_failures(failed))]
    Import {
        /// The server's message for each statement that did not apply, in dump order.
        failed: Vec<String>,
    },
}

/// Shorthand for results with surql's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A timeout waiting for `what`.
    pub fn timeout(what: impl Into<String>, after: Duration) -> Self {
        Error::Timeout {
            what: what.into(),
            after,
        }
    }

    /// An input refused before sending.
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Whether the connection is closed: nothing sent on it will ever be answered.
    pub fn is_closed(&self) -> bool {
        matches!(self, Error::Closed)
    }

    /// The server's error, when the server answered with one (also inside a failed replay).
    pub fn as_server_error(&self) -> Option<&ServerError> {
        match self {
            Error::Server(e) => Some(e),
            Error::ReplayFailed { source, .. } | Error::AuthRejected { source, .. } => {
                source.as_server_error()
            }
            _ => None,
        }
    }

    /// No record matched ([`Error::DoesNotExist`]).
    pub fn is_does_not_exist(&self) -> bool {
        matches!(self, Error::DoesNotExist { .. })
    }

    /// `QuerySet::get` matched several records.
    pub fn is_multiple_objects(&self) -> bool {
        matches!(self, Error::MultipleObjectsReturned { .. })
    }

    /// A write was denied by permissions ([`Error::WriteDenied`], or the older
    /// [`Error::NotAffected`] of the SDK-level CRUD calls).
    pub fn is_write_denied(&self) -> bool {
        matches!(self, Error::WriteDenied { .. } | Error::NotAffected { .. })
    }

    /// Whether something timed out: in the driver, or on the server (`QUERY_TIMEDOUT`).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Server(e) => e.is_timeout(),
            _ => false,
        }
    }

    /// Whether the method is not supported on this transport or server.
    pub fn is_not_supported(&self) -> bool {
        matches!(self, Error::NotSupported { .. })
    }

    /// Whether the connection was lost with the request in flight (it may have run).
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Error::Disconnected { .. })
    }

    /// Whether an input was refused before anything was sent.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Error::Invalid { .. } | Error::InvalidUrl { .. })
    }

    /// Whether a migration failed ([`Error::Migration`]).
    pub fn is_migration(&self) -> bool {
        matches!(self, Error::Migration { .. })
    }

    /// Whether the server refused an auth action's credentials, token or key
    /// ([`Error::AuthRejected`]).
    pub fn is_auth_rejected(&self) -> bool {
        matches!(self, Error::AuthRejected { .. })
    }

    /// Whether a stream ended because its reader fell too far behind.
    pub fn is_reader_too_slow(&self) -> bool {
        matches!(self, Error::ReaderTooSlow { .. })
    }

    /// Whether this is a retryable transaction conflict, judged from the server's
    /// structured error (`details.kind == "TransactionConflict"` or code -32009), never
    /// from its message text (a user's `THROW "… can be retried"` is not a conflict).
    pub fn is_conflict(&self) -> bool {
        match self {
            Error::Server(e) => is_structured_conflict(e),
            Error::RetriesExhausted { last, .. } => last.is_conflict(),
            _ => false,
        }
    }
}

impl Error {
    /// Something named in the request does not exist on the server (a method, table,
    /// record, namespace, database, session, transaction), on every supported version:
    /// kind `NotFound` (3.x and 4.0 alike); for servers that send no kind (2.x, 3.0
    /// pre-releases) the code -32601 (an unknown method) is the only structured sign.
    ///
    /// Not [`Error::DoesNotExist`] (a model lookup that matched nothing): see
    /// [`Error::is_does_not_exist`].
    pub fn is_not_found(&self) -> bool {
        self.as_server_error().is_some_and(|e| {
            e.kind == ErrorKind::NotFound
                || (kind_unknown(e) && e.code == Some(codes::METHOD_NOT_FOUND))
        })
    }

    /// The server denied the request: bad credentials, an expired token or session, a
    /// method or function denied by capabilities. Kind `NotAllowed` (3.x, 4.0), else the
    /// codes -32002 (auth) and -32602 (method not allowed). Also true for
    /// [`Error::AuthRejected`] and for writes denied by table permissions
    /// ([`Error::is_write_denied`]), which the server reports as empty results.
    pub fn is_denied(&self) -> bool {
        if self.is_write_denied() {
            return true;
        }
        self.as_server_error().is_some_and(|e| {
            e.kind == ErrorKind::NotAllowed
                || (kind_unknown(e)
                    && matches!(
                        e.code,
                        Some(codes::INVALID_AUTH | codes::METHOD_NOT_ALLOWED)
                    ))
        })
    }

    /// The server refused the request's content: a SurrealQL syntax error, wrong
    /// parameters, a value that does not fit a SCHEMAFULL field, an empty namespace.
    ///
    /// Kind `Validation` (4.0 reports a coercion failure as `Validation`/`InvalidRequest`,
    /// -32600), else the codes -32700/-32600/-32603. 3.3.5 reports a coercion failure as
    /// `Internal`/-32000 with no details, which cannot be told apart structurally from
    /// other internal errors: there, and only for `Internal` errors without details, the
    /// message is consulted (it starts `Couldn't coerce`), the
    /// last resort protocol.md recommends for servers without structured errors.
    /// Inputs refused before sending ([`Error::is_invalid_input`]) are validation too.
    pub fn is_validation(&self) -> bool {
        if self.is_invalid_input() {
            return true;
        }
        self.as_server_error().is_some_and(|e| {
            e.kind == ErrorKind::Validation
                || (kind_unknown(e)
                    && matches!(
                        e.code,
                        Some(codes::PARSE_ERROR | codes::INVALID_REQUEST | codes::INVALID_PARAMS)
                    ))
                || (e.kind == ErrorKind::Internal
                    && e.details.is_none()
                    && is_coercion_text(&e.message))
        })
    }

    /// `self`, or [`Error::NotSupported`] when it is the server's "method not found"
    /// answer (-32601, or `NotFound`/`Method`) to `method`, one of the RPC methods that
    /// not every supported server version has ([`VERSION_GATED_METHODS`]: 3.0 has neither
    /// `graphql` nor `query_stream`). Decided from the server's own answer, so no call
    /// pays for a `version()` round trip.
    pub fn version_gated(self, method: &str) -> Error {
        if !VERSION_GATED_METHODS.contains(&method) {
            return self;
        }
        match &self {
            Error::Server(e) if e.is_method_not_found() => Error::NotSupported {
                method: method.to_owned(),
                message: format!(
                    "`{method}` is not supported by this server version (the server does not know \
                     the method: {e}); `version()` names the server, and the README's support \
                     table lists which versions have it"
                ),
            },
            _ => self,
        }
    }
}

/// RPC methods that not every supported server version has: a "method not found" answer
/// to one of them becomes [`Error::NotSupported`] ([`Error::version_gated`]).
pub const VERSION_GATED_METHODS: &[&str] = &["graphql", "query_stream"];

/// The error carries no kind of its own: 2.x and 3.0 pre-releases sent `{code, message}`
/// only, which reads as `Internal` (or an unknown kind, which servers treat as `Internal`).
fn kind_unknown(e: &ServerError) -> bool {
    matches!(e.kind, ErrorKind::Internal | ErrorKind::Other(_)) && e.details.is_none()
}

/// The texts of a value that does not fit a field's type (3.x, unstructured).
fn is_coercion_text(message: &str) -> bool {
    message.starts_with("Couldn't coerce")
}

/// A transaction conflict as the server structures it: `details.kind` TransactionConflict
/// or code -32009, and not "commit outcome unknown" (retrying that could apply it twice).
pub fn is_structured_conflict(e: &ServerError) -> bool {
    if e.is_commit_outcome_unknown() {
        return false;
    }
    e.detail_kind() == Some("TransactionConflict")
        || e.inner_detail_kind() == Some("TransactionConflict")
        || e.code == Some(codes::QUERY_TRANSACTION_CONFLICT)
}

impl From<crate::endpoint::EndpointError> for Error {
    fn from(e: crate::endpoint::EndpointError) -> Self {
        Error::InvalidUrl {
            url: e.url,
            reason: e.reason,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Self {
        Error::Server(e)
    }
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Server(s) => Error::Server(s),
            CallError::Decode { method, source } => Error::Decode {
                context: format!("the answer to `{method}`"),
                detail: source.to_string(),
            },
            CallError::Encode { what, source } => Error::Invalid {
                what: what.to_owned(),
                reason: format!("cannot be sent: {source}"),
            },
            CallError::Invalid { what, reason } => Error::Invalid {
                what: what.to_owned(),
                reason,
            },
            CallError::NotAffected { method, target } => Error::NotAffected {
                method: method.to_owned(),
                target,
            },
            CallError::Protocol { method, detail } => {
                Error::Protocol(format!("unexpected answer to `{method}`: {detail}"))
            }
        }
    }
}

impl From<ConnError> for Error {
    fn from(e: ConnError) -> Self {
        match e {
            ConnError::Server(s) => Error::Server(s),
            ConnError::Timeout { method, after } => Error::Timeout {
                what: format!("`{method}` answer"),
                after,
            },
            ConnError::Disconnected { method, reason } => Error::Disconnected {
                method: method.as_str().to_owned(),
                reason,
            },
            ConnError::Closed => Error::Closed,
            ConnError::Protocol(m) => Error::Protocol(m),
            ConnError::TransactionLost { txn } => Error::TransactionLost { txn },
            ConnError::ReplayFailed { method, error } => Error::ReplayFailed {
                method: method.as_str().to_owned(),
                source: Box::new(Error::from(*error)),
            },
        }
    }
}

impl From<HttpRpcError> for Error {
    fn from(e: HttpRpcError) -> Self {
        match e {
            HttpRpcError::Server(s) => Error::Server(s),
            HttpRpcError::Unsupported { method, message } => Error::NotSupported {
                method: method.as_str().to_owned(),
                message,
            },
            HttpRpcError::Status { status, message } => Error::Http { status, message },
            HttpRpcError::Decode(d) => Error::Protocol(d.to_string()),
            HttpRpcError::InvalidHeader {
                name,
                input,
                message,
            } => Error::Invalid {
                what: format!("`{name}` header ({input})"),
                reason: message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::Method;
    use crate::value::{Object, Value};

    fn conflict() -> ServerError {
        let mut e = ServerError::new(ErrorKind::Query, "Transaction conflict");
        let mut d = Object::new();
        d.insert("kind".into(), Value::from("TransactionConflict"));
        e.details = Some(Value::Object(d));
        e
    }

    #[test]
    fn conflicts_come_from_the_structure_not_the_text() {
        assert!(Error::Server(conflict()).is_conflict());
        let mut by_code = ServerError::new(ErrorKind::Query, "x");
        by_code.code = Some(codes::QUERY_TRANSACTION_CONFLICT);
        assert!(Error::Server(by_code).is_conflict());
        // a user's THROW with the magic words is not a conflict
        let thrown = ServerError::new(
            ErrorKind::Thrown,
            "An error occurred: This transaction can be retried",
        );
        assert!(!Error::Server(thrown).is_conflict());
        assert!(!Error::Closed.is_conflict());
    }

    #[test]
    fn accessors_answer_for_their_variants_only() {
        let t = Error::timeout("`query` answer", Duration::from_secs(1));
        assert!(t.is_timeout() && !t.is_closed() && !t.is_disconnected());
        assert!(Error::Closed.is_closed());
        assert!(Error::invalid("namespace header", "contains CR").is_invalid_input());
        let replay = Error::from(ConnError::ReplayFailed {
            method: Method::Authenticate,
            error: Box::new(ConnError::Server(ServerError::new(
                ErrorKind::NotAllowed,
                "token expired",
            ))),
        });
        assert!(replay.as_server_error().is_some());
        assert!(
            replay.to_string().contains("`authenticate` failed"),
            "{replay}"
        );
        assert!(std::error::Error::source(&replay).is_some());
    }

    #[test]
    fn call_errors_keep_their_context() {
        let e = Error::from(CallError::Invalid {
            what: "variable name",
            reason: "`a b` is not an identifier".into(),
        });
        assert_eq!(
            e.to_string(),
            "invalid variable name: `a b` is not an identifier"
        );
        let e = Error::from(ConnError::Timeout {
            method: Method::Query,
            after: Duration::from_millis(250),
        });
        assert!(e.is_timeout());
        assert!(e.to_string().contains("`query` answer within 250ms"), "{e}");
    }

    /// An RPC error object as a server of one version sends it.
    fn wire(json: &[(&str, Value)]) -> Error {
        let mut o = Object::new();
        for (k, v) in json {
            o.insert((*k).into(), v.clone());
        }
        Error::Server(ServerError::from_value(&Value::Object(o)))
    }

    fn details(kind: &str, inner: Option<(&str, &str)>) -> Value {
        let mut d = Object::new();
        d.insert("kind".into(), Value::from(kind));
        if let Some((k, v)) = inner {
            let mut i = Object::new();
            i.insert(k.into(), Value::from(v));
            d.insert("details".into(), Value::Object(i));
        }
        Value::Object(d)
    }

    #[test]
    fn a_coercion_failure_is_validation_on_3_3_and_4_0() {
        // 3.3.5, as captured from the server (`create` of a string into an int field).
        let v33 = wire(&[
            ("code", Value::Int(-32000)),
            ("kind", Value::from("Internal")),
            ("message", Value::from("Couldn't coerce value for field `name` of `o:8cge`: Expected `int` but found `'x'`")),
        ]);
        // 4.0.0-beta.1, as captured from the server: Validation/InvalidRequest, -32600.
        let v40 = wire(&[
            ("code", Value::Int(-32600)),
            ("kind", Value::from("Validation")),
            ("details", details("InvalidRequest", None)),
            ("message", Value::from("Couldn't coerce value for field `name` of `o:8cge`: Expected `int` but found `'x'`")),
        ]);
        for e in [&v33, &v40] {
            assert!(e.is_validation(), "{e}");
            assert!(
                !e.is_not_found() && !e.is_denied() && !e.is_conflict(),
                "{e}"
            );
        }
        // Other internal errors are not validation, whatever their code.
        let internal = wire(&[
            ("code", Value::Int(-32000)),
            ("kind", Value::from("Internal")),
            ("message", Value::from("The query was not executed")),
        ]);
        assert!(!internal.is_validation());
        // A user's THROW mentioning coercion is not validation.
        let thrown = wire(&[
            ("code", Value::Int(-32006)),
            ("kind", Value::from("Thrown")),
            ("message", Value::from("Couldn't coerce my patience")),
        ]);
        assert!(!thrown.is_validation());
        // Syntax errors (3.3.5: Validation, -32000, no details) and pre-send refusals.
        let parse = wire(&[
            ("code", Value::Int(-32000)),
            ("kind", Value::from("Validation")),
            ("message", Value::from("Parse error: Unexpected token")),
        ]);
        assert!(parse.is_validation());
        assert!(Error::invalid("variable name", "x").is_validation());
    }

    #[test]
    fn not_found_and_denied_hold_across_versions() {
        // 3.3.5 and 4.0: kind + details.
        let method = wire(&[
            ("code", Value::Int(-32601)),
            ("kind", Value::from("NotFound")),
            ("details", details("Method", Some(("name", "graphql")))),
            ("message", Value::from("Method not found")),
        ]);
        let namespace = wire(&[
            ("code", Value::Int(-32000)),
            ("kind", Value::from("NotFound")),
            ("details", details("Namespace", Some(("name", "t")))),
            ("message", Value::from("The namespace 't' does not exist")),
        ]);
        // A server that sends `{code, message}` only (2.x, 3.0 pre-releases).
        let bare_method = wire(&[
            ("code", Value::Int(-32601)),
            ("message", Value::from("Method not found")),
        ]);
        for e in [&method, &namespace, &bare_method] {
            assert!(e.is_not_found(), "{e}");
            assert!(!e.is_denied() && !e.is_validation(), "{e}");
        }
        let auth = wire(&[
            ("code", Value::Int(-32002)),
            ("kind", Value::from("NotAllowed")),
            ("details", details("Auth", Some(("kind", "InvalidAuth")))),
            (
                "message",
                Value::from("There was a problem with authentication"),
            ),
        ]);
        let bare_auth = wire(&[
            ("code", Value::Int(-32002)),
            (
                "message",
                Value::from("There was a problem with authentication"),
            ),
        ]);
        let capability = wire(&[
            ("code", Value::Int(-32602)),
            ("kind", Value::from("NotAllowed")),
            ("details", details("Method", Some(("name", "query")))),
            ("message", Value::from("Method not allowed")),
        ]);
        for e in [&auth, &bare_auth, &capability] {
            assert!(e.is_denied(), "{e}");
            assert!(!e.is_not_found() && !e.is_validation(), "{e}");
        }
        let rejected = Error::AuthRejected {
            action: "signin".into(),
            source: Box::new(auth.clone()),
        };
        assert!(rejected.is_denied());
        assert!(Error::WriteDenied {
            action: "save".into(),
            target: "p:1".into()
        }
        .is_denied());
        // A structured kind wins over a code that would say otherwise.
        let thrown = wire(&[
            ("code", Value::Int(-32601)),
            ("kind", Value::from("Thrown")),
            ("message", Value::from("Method not found")),
        ]);
        assert!(!thrown.is_not_found());
        assert!(!Error::Closed.is_not_found() && !Error::Closed.is_denied());
    }

    #[test]
    fn an_unknown_version_gated_method_is_not_supported() {
        // 3.0.5 answers `graphql` and `query_stream` with "Method not found".
        for method in VERSION_GATED_METHODS {
            let e = wire(&[
                ("code", Value::Int(-32601)),
                ("kind", Value::from("NotFound")),
                ("details", details("Method", Some(("name", method)))),
                ("message", Value::from("Method not found")),
            ])
            .version_gated(method);
            assert!(e.is_not_supported(), "{e}");
            assert!(
                e.to_string()
                    .contains("not supported by this server version"),
                "{e}"
            );
            let bare = wire(&[("code", Value::Int(-32601)), ("message", Value::from("x"))]);
            assert!(bare.version_gated(method).is_not_supported());
        }
        // Other methods, and other errors of gated methods, are left alone.
        let unknown = wire(&[("code", Value::Int(-32601)), ("message", Value::from("x"))]);
        assert!(!unknown.clone().version_gated("query").is_not_supported());
        let denied = wire(&[("code", Value::Int(-32602)), ("message", Value::from("x"))]);
        assert_eq!(denied.clone().version_gated("graphql"), denied);
        assert_eq!(Error::Closed.version_gated("graphql"), Error::Closed);
    }
}
