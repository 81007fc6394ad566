//! The driver's one error type.

use surql::client::CallError;
use surql::conn::ConnError;
use surql::rpc::http::HttpRpcError;
use surql::rpc::ServerError;

/// Everything a surql-smol call can fail with. Every failure reaches the caller.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error.
    #[error("{0}")]
    Server(ServerError),
    /// Building the request or decoding the answer failed.
    #[error("{0}")]
    Call(CallError),
    /// The WebSocket connection failed the request (disconnect, timeout, protocol).
    #[error("{0}")]
    Connection(ConnError),
    /// An HTTP-level failure (non-200 status, undecodable body).
    #[error("{0}")]
    Http(String),
    /// The method cannot work over this transport; nothing was sent.
    #[error("{0}")]
    NotSupported(String),
    /// The URL could not be used.
    #[error("invalid URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Network IO failed.
    #[error("{0}")]
    Io(String),
    /// The client was closed (dropped, or `close()` called).
    #[error("the connection is closed")]
    Closed,
    /// No answer arrived in time.
    #[error("{0}")]
    Timeout(String),
    /// An error in the shared `surql::Error` shape (the HTTP transport's; a bridge until this
    /// type is replaced by `surql::Error`).
    #[error("{0}")]
    Surql(surql::Error),
}

impl Error {
    /// The server's error, if the server answered with one.
    pub fn as_server_error(&self) -> Option<&ServerError> {
        match self {
            Error::Server(e) => Some(e),
            Error::Call(c) => c.as_server_error(),
            Error::Connection(ConnError::Server(e)) => Some(e),
            Error::Surql(e) => e.as_server_error(),
            _ => None,
        }
    }

    /// `true` if the connection is closed for good.
    pub fn is_closed(&self) -> bool {
        match self {
            Error::Surql(e) => e.is_closed(),
            _ => matches!(self, Error::Closed | Error::Connection(ConnError::Closed)),
        }
    }

    /// `true` if the request timed out.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Surql(e) => e.is_timeout(),
            _ => matches!(
                self,
                Error::Timeout(_) | Error::Connection(ConnError::Timeout { .. })
            ),
        }
    }

    /// `true` if the method cannot work over this transport.
    pub fn is_not_supported(&self) -> bool {
        match self {
            Error::Surql(e) => e.is_not_supported(),
            _ => matches!(self, Error::NotSupported(_)),
        }
    }

    /// `true` if the connection dropped while the request was in flight (it may or may not
    /// have run).
    pub fn is_disconnected(&self) -> bool {
        match self {
            Error::Surql(e) => e.is_disconnected(),
            _ => matches!(self, Error::Connection(ConnError::Disconnected { .. })),
        }
    }
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Server(s) => Error::Server(s),
            other => Error::Call(other),
        }
    }
}

impl From<ConnError> for Error {
    fn from(e: ConnError) -> Self {
        match e {
            ConnError::Server(s) => Error::Server(s),
            ConnError::Closed => Error::Closed,
            other => Error::Connection(other),
        }
    }
}

impl From<HttpRpcError> for Error {
    fn from(e: HttpRpcError) -> Self {
        match e {
            HttpRpcError::Server(s) => Error::Server(s),
            HttpRpcError::Unsupported { message, .. } => Error::NotSupported(message),
            other => Error::Http(other.to_string()),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::TimedOut {
            Error::Timeout(e.to_string())
        } else {
            Error::Io(e.to_string())
        }
    }
}

impl From<surql::Error> for Error {
    fn from(e: surql::Error) -> Self {
        match e {
            surql::Error::Server(s) => Error::Server(s),
            other => Error::Surql(other),
        }
    }
}

/// The shared error shape of this error, so that code written against `surql::Error`
/// (the type this one is being replaced by) works with both.
impl From<Error> for surql::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Surql(e) => e,
            Error::Server(s) => surql::Error::Server(s),
            Error::Call(c) => c.into(),
            Error::Connection(c) => c.into(),
            Error::Http(m) => surql::Error::Http {
                status: 0,
                message: m,
            },
            Error::NotSupported(m) => surql::Error::NotSupported {
                method: String::new(),
                message: m,
            },
            Error::Url { url, reason } => surql::Error::InvalidUrl { url, reason },
            Error::Io(m) => surql::Error::Io(m),
            Error::Closed => surql::Error::Closed,
            Error::Timeout(m) => surql::Error::Timeout {
                what: m,
                after: std::time::Duration::ZERO,
            },
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
