//! `Error`: every way a call through the blocking driver can fail.

use std::time::Duration;

use proto::rpc::ServerError;

/// A failed call, connection attempt or live-stream read.
///
/// Match on it when you must; prefer the accessors (`is_closed`, `as_server_error`,
/// `is_timeout`, `is_not_supported`), which keep working when variants are added.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL given to `connect` could not be used.
    #[error("invalid SurrealDB URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it and what to write instead.
        reason: String,
    },
    /// The connection (TCP, TLS or the WebSocket upgrade) could not be opened.
    #[error("could not connect to {url}: {reason}")]
    Connect {
        /// The RPC URL that was tried.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The server answered with an error.
    #[error("{0}")]
    Server(ServerError),
    /// No answer arrived in time.
    #[error("`{method}` got no answer within {after:?}; it may or may not have run on the server")]
    Timeout {
        /// The RPC method that timed out.
        method: String,
        /// How long the driver waited.
        after: Duration,
    },
    /// Nothing arrived on a stream within the time given to `next_timeout` (the stream
    /// itself goes on).
    #[error("no {what} within {after:?}")]
    NothingWithin {
        /// What was awaited (`live notification`, `query_stream frame`).
        what: String,
        /// How long.
        after: Duration,
    },
    /// The connection was lost while the request was in flight.
    #[error("the connection was lost before `{method}` was answered; it may or may not have run on the server: {reason}")]
    Disconnected {
        /// The RPC method that was in flight.
        method: String,
        /// Why the connection was lost.
        reason: String,
    },
    /// The request targets an RPC transaction that died with a previous connection.
    #[error("RPC transaction {txn} was lost when the connection dropped; begin a new transaction and retry")]
    TransactionLost {
        /// The lost transaction.
        txn: proto::Uuid,
    },
    /// The connection is closed (by `Surreal::close`, by dropping it, or the server went away
    /// and reconnecting is disabled); nothing more can be sent on it.
    #[error("the connection is closed")]
    Closed,
    /// The method cannot work on this transport (e.g. `live` over HTTP).
    #[error("{message}")]
    NotSupported {
        /// The RPC method that was refused.
        method: String,
        /// What to do instead.
        message: String,
    },
    /// An HTTP response that is not an RPC answer (non-200 status).
    #[error("HTTP {status} from the server: {message}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The body's explanation.
        message: String,
    },
    /// The server sent something this client could not understand, or the answer did not
    /// have the shape the called method promises.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// An answer could not be converted into the requested Rust type.
    #[error("could not decode the answer: {0}")]
    Decode(String),
    /// An argument was rejected before anything was sent (an invalid variable name, a
    /// value that cannot be serialized, …).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// A socket read or write failed outside any single request.
    #[error("I/O error: {0}")]
    Io(String),
}

impl Error {
    /// Whether the connection is closed: nothing sent on it will ever be answered.
    pub fn is_closed(&self) -> bool {
        matches!(self, Error::Closed)
    }

    /// The server's error, when the server answered with one.
    pub fn as_server_error(&self) -> Option<&ServerError> {
        match self {
            Error::Server(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the request timed out (in the driver, or on the server: `QUERY_TIMEDOUT`).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::NothingWithin { .. } => true,
            Error::Server(e) => e.is_timeout(),
            _ => false,
        }
    }

    /// Whether the method is not supported on this transport.
    pub fn is_not_supported(&self) -> bool {
        matches!(self, Error::NotSupported { .. })
    }

    /// Whether the connection was lost with the request in flight (it may have run).
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Error::Disconnected { .. })
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Self {
        Error::Server(e)
    }
}

/// The HTTP transport's errors are already in the shared `proto::Error` shape (the type this
/// one is being replaced by).
impl From<proto::Error> for Error {
    fn from(e: proto::Error) -> Self {
        match e {
            proto::Error::InvalidUrl { url, reason } => Error::InvalidUrl { url, reason },
            proto::Error::Connect { url, reason } => Error::Connect { url, reason },
            proto::Error::Server(s) => Error::Server(s),
            proto::Error::Timeout { what, after } => Error::Timeout {
                method: what,
                after,
            },
            proto::Error::Disconnected { method, reason } => Error::Disconnected { method, reason },
            proto::Error::Closed => Error::Closed,
            proto::Error::NotSupported { method, message } => {
                Error::NotSupported { method, message }
            }
            proto::Error::Http { status, message } => Error::Http { status, message },
            proto::Error::Protocol(m) => Error::Protocol(m),
            proto::Error::Decode { context, detail } => {
                Error::Decode(format!("{context}: {detail}"))
            }
            proto::Error::Invalid { what, reason } => Error::Invalid(format!("{what}: {reason}")),
            proto::Error::TransactionLost { txn } => Error::TransactionLost { txn },
            other => Error::Io(other.to_string()),
        }
    }
}

/// This error in the shared `proto::Error` shape, so that code written against it works
/// with both.
impl From<Error> for proto::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidUrl { url, reason } => proto::Error::InvalidUrl { url, reason },
            Error::Connect { url, reason } => proto::Error::Connect { url, reason },
            Error::Server(s) => proto::Error::Server(s),
            Error::Timeout { method, after } => proto::Error::Timeout {
                what: method,
                after,
            },
            Error::NothingWithin { what, after } => proto::Error::Timeout { what, after },
            Error::Disconnected { method, reason } => proto::Error::Disconnected { method, reason },
            Error::TransactionLost { txn } => proto::Error::TransactionLost { txn },
            Error::Closed => proto::Error::Closed,
            Error::NotSupported { method, message } => {
                proto::Error::NotSupported { method, message }
            }
            Error::Http { status, message } => proto::Error::Http { status, message },
            Error::Protocol(m) => proto::Error::Protocol(m),
            Error::Decode(d) => proto::Error::Decode {
                context: "the answer".into(),
                detail: d,
            },
            Error::Invalid(m) => {
                let (what, reason) = m.split_once(": ").unwrap_or((m.as_str(), ""));
                proto::Error::invalid(what, reason)
            }
            Error::Io(m) => proto::Error::Io(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::rpc::ErrorKind;

    #[test]
    fn accessors_match_their_variant_only() {
        let server = ServerError::new(ErrorKind::Thrown, "boom");
        let all = [
            Error::InvalidUrl {
                url: "x".into(),
                reason: "r".into(),
            },
            Error::Connect {
                url: "ws://h/rpc".into(),
                reason: "refused".into(),
            },
            Error::Server(server.clone()),
            Error::Timeout {
                method: "query".into(),
                after: Duration::from_secs(3),
            },
            Error::NothingWithin {
                what: "live notification".into(),
                after: Duration::from_secs(1),
            },
            Error::Disconnected {
                method: "query".into(),
                reason: "reset".into(),
            },
            Error::Closed,
            Error::TransactionLost {
                txn: proto::Uuid([7; 16]),
            },
            Error::NotSupported {
                method: "live".into(),
                message: "use ws".into(),
            },
            Error::Http {
                status: 401,
                message: "bad token".into(),
            },
            Error::Protocol("garbage".into()),
            Error::Decode("expected int".into()),
            Error::Invalid("bad name".into()),
            Error::Io("broken pipe".into()),
        ];
        for e in &all {
            assert_eq!(e.is_closed(), matches!(e, Error::Closed), "{e:?}");
            assert_eq!(
                e.as_server_error(),
                if let Error::Server(s) = e {
                    Some(s)
                } else {
                    None
                }
            );
            assert_eq!(
                e.is_timeout(),
                matches!(e, Error::Timeout { .. } | Error::NothingWithin { .. }),
                "{e:?}"
            );
            assert_eq!(
                e.is_not_supported(),
                matches!(e, Error::NotSupported { .. }),
                "{e:?}"
            );
            assert_eq!(
                e.is_disconnected(),
                matches!(e, Error::Disconnected { .. }),
                "{e:?}"
            );
        }
        assert_eq!(Error::from(server.clone()).as_server_error(), Some(&server));
    }

    #[test]
    fn server_side_timeouts_count_as_timeouts() {
        let mut e = ServerError::new(ErrorKind::Query, "query timed out");
        e.code = Some(proto::rpc::codes::QUERY_TIMEDOUT);
        e.details = Some(proto::Value::Object(
            [("kind".to_owned(), proto::Value::String("TimedOut".into()))]
                .into_iter()
                .collect(),
        ));
        assert!(Error::Server(e).is_timeout());
    }

    #[test]
    fn messages_name_the_method_and_the_cause() {
        let e = Error::Disconnected {
            method: "query".into(),
            reason: "connection reset".into(),
        };
        let text = e.to_string();
        assert!(
            text.contains("`query`")
                && text.contains("connection reset")
                && text.contains("may or may not"),
            "{text}"
        );
        let e = Error::Timeout {
            method: "select".into(),
            after: Duration::from_secs(5),
        };
        assert!(e.to_string().contains("`select`") && e.to_string().contains("5s"));
    }
}
