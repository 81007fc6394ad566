//! # surql-blocking — the blocking SurrealDB driver
//!
//! Runs the sans-IO `surql` core with std threads and sockets; there is no async runtime
//! anywhere inside (`cargo tree -p surql-blocking` shows no tokio and no executor).
//!
//! - `ws://` / `wss://`: one IO thread per connection owns the WebSocket and the core
//!   `Connection` state machine. It sleeps in the OS poller (epoll/kqueue) and callers wake
//!   it when they queue a request, so a request leaves immediately. Requests from many
//!   threads are multiplexed on the one socket; lost connections are re-opened, the session
//!   replayed and live queries re-subscribed by the core.
//! - `http://` / `https://`: one stateless `POST /rpc` per call over a keep-alive agent;
//!   the token and ns/db are re-sent as headers. Methods that need a connection (live
//!   queries, `set`, transactions, …) are refused before anything is sent.
//!
//! ```no_run
//! use surql_blocking::{Credentials, Surreal};
//!
//! # fn main() -> Result<(), surql_blocking::Error> {
//! let db = Surreal::connect("ws://127.0.0.1:8000")?;
//! db.signin(&Credentials::root("root", "root"))?;
//! db.use_ns_db("app", "main")?;
//! let mut response = db
//!     .query("CREATE person SET name = $name RETURN VALUE name")
//!     .bind(("name", "Tobie"))
//!     .run()?;
//! let names: Vec<String> = response.take(0)?;
//! assert_eq!(names, ["Tobie"]);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]
// `Error` carries the server's whole error (kind, details, cause): failures are the cold path,
// and a boxed variant would make `match`ing on `Error::Server` clumsy for every caller.
#![allow(clippy::result_large_err)]

mod endpoint;
mod error;
mod http;
mod live;
mod ws;

use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::Error;
pub use live::{LiveStream, QueryStream};
pub use proto::client::{CallError, Credentials, PatchOp, QueryResponse, Resource, Token};
pub use proto::rpc::{Action, Notification, ServerError, StreamFrame};
pub use proto::{RecordId, Uuid, Value};

/// The core crate, for everything not re-exported here.
pub use proto;

use proto::client::{self, Call};
use proto::rpc::{Method, Request};
use proto::Object;

use endpoint::Endpoint;
use http::HttpTransport;
use ws::WsTransport;

/// How to connect and how long to wait.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Request timeout, keep-alive ping interval and reconnect policy of the core
    /// connection state machine (WebSocket). Over HTTP only `request_timeout` applies.
    pub connection: proto::conn::Config,
    /// How long opening a connection (TCP, TLS, WebSocket upgrade) may take.
    pub connect_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connection: proto::conn::Config::default(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl Options {
    /// Sets how long a request may wait for its answer.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.connection.request_timeout = timeout;
        self
    }

    /// Sets how long opening a connection may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Turns automatic reconnection (WebSocket) on or off.
    pub fn reconnect(mut self, reconnect: bool) -> Self {
        self.connection.reconnect = reconnect;
        self
    }
}

/// Something that happened to a WebSocket connection, outside any one request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// The socket was lost; in-flight requests failed with [`Error::Disconnected`].
    Disconnected {
        /// Why.
        reason: String,
    },
    /// A reconnection attempt failed; another follows after a backoff.
    ReconnectFailed {
        /// Why.
        reason: String,
    },
    /// One step of the session replay after a reconnect failed (e.g. an expired token);
    /// the replay went on without it.
    ReplayFailed {
        /// The replayed method (`attach`, `authenticate`, `use`, `let`).
        method: String,
        /// Why it failed.
        error: Error,
    },
    /// A new socket is open, the session was replayed and live queries re-subscribed.
    Reconnected,
    /// A live query got a new server-side id after a reconnect.
    LiveRemapped {
        /// The id before the reconnect.
        old: Uuid,
        /// The id now.
        new: Uuid,
    },
    /// The server sent something that belongs to no request (an undecodable frame, an
    /// answer to an unknown id), or the IO thread hit an error of its own.
    Error(String),
    /// The connection is closed for good.
    Closed,
}

#[derive(Clone)]
enum Transport {
    Ws(Arc<WsTransport>),
    Http(Arc<HttpTransport>),
}

/// A connection to SurrealDB: cheap to clone, safe to share between threads (every clone
/// uses the same connection). The WebSocket connection closes, and its IO thread ends,
/// when the last clone (and the last [`LiveStream`]) is dropped.
#[derive(Clone)]
pub struct Surreal {
    transport: Transport,
    /// The server's base URL (the RPC URL without `/rpc`), for `/health` and `Debug`.
    base_url: String,
}

impl std::fmt::Debug for Surreal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.transport {
            Transport::Ws(_) => "WebSocket",
            Transport::Http(_) => "HTTP",
        };
        f.debug_struct("Surreal")
            .field("transport", &kind)
            .field("url", &self.base_url)
            .finish()
    }
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Server(e) => Error::Server(e),
            CallError::Decode { .. } => Error::Decode(e.to_string()),
            CallError::Protocol { .. } => Error::Protocol(e.to_string()),
            other => Error::Invalid(other.to_string()),
        }
    }
}

impl Surreal {
    /// Connects to `url` (`ws://`, `wss://`, `http://` or `https://`; the `/rpc` path is
    /// added when missing) with default [`Options`].
    pub fn connect(url: &str) -> Result<Surreal, Error> {
        Surreal::connect_with(url, Options::default())
    }

    /// Connects to `url` with `options`. A WebSocket is opened before this returns; an HTTP
    /// "connection" is only checked by the first call.
    pub fn connect_with(url: &str, options: Options) -> Result<Surreal, Error> {
        let endpoint = Endpoint::parse(url)?;
        let base_url = endpoint.base_url();
        let transport = if endpoint.scheme.is_ws() {
            Transport::Ws(Arc::new(WsTransport::connect(endpoint, options)?))
        } else {
            Transport::Http(Arc::new(HttpTransport::new(
                &endpoint,
                options.connection.request_timeout,
            )))
        };
        Ok(Surreal {
            transport,
            base_url,
        })
    }

    /// Sends one raw request and returns the server's result, undecoded.
    pub fn call_raw(&self, request: Request) -> Result<Value, Error> {
        match &self.transport {
            Transport::Ws(ws) => ws.call(request),
            Transport::Http(http) => http.call(&request),
        }
    }

    /// Runs one typed [`Call`] from `surql::client`.
    pub fn call<T>(&self, call: Call<T>) -> Result<T, Error> {
        let (request, decode) = call.into_parts();
        let value = self.call_raw(request)?;
        decode(value).map_err(Error::from)
    }

    fn ws(&self, method: Method) -> Result<&Arc<WsTransport>, Error> {
        match &self.transport {
            Transport::Ws(ws) => Ok(ws),
            Transport::Http(_) => Err(Error::NotSupported {
                method: method.as_str().to_owned(),
                message: format!(
                    "`{method}` is not supported over HTTP; use a WebSocket (ws:// or wss://) connection"
                ),
            }),
        }
    }

    /// A receiver of [`ConnectionEvent`]s (disconnects, reconnects, stray server messages).
    /// Events that happen before this call are not replayed. WebSocket only.
    pub fn events(&self) -> Result<Receiver<ConnectionEvent>, Error> {
        self.ws(Method::Ping)
            .map_err(|_| Error::NotSupported {
                method: "events".into(),
                message: "connection events exist only for WebSocket connections".into(),
            })?
            .listen()
    }

    // --- authentication -----------------------------------------------------------------

    /// Signs in; the session (and every later call on this connection) is authenticated.
    pub fn signin(&self, credentials: &Credentials) -> Result<Token, Error> {
        self.call(client::signin(credentials))
    }

    /// Signs up a record user (record access only) and authenticates the session as them.
    pub fn signup(&self, credentials: &Credentials) -> Result<Token, Error> {
        self.call(client::signup(credentials)?)
    }

    /// Authenticates the session with an access token.
    pub fn authenticate(&self, token: &str) -> Result<(), Error> {
        self.call(client::authenticate(token))
    }

    /// Drops the session's authentication (and, on the server, its live queries).
    pub fn invalidate(&self) -> Result<(), Error> {
        self.call(client::invalidate())
    }

    /// Trades a token pair for a new one (the old refresh token is spent).
    pub fn refresh(&self, token: &Token) -> Result<Token, Error> {
        self.call(client::refresh(token)?)
    }

    /// Revokes the refresh grant of `token`.
    pub fn revoke(&self, token: &Token) -> Result<(), Error> {
        self.call(client::revoke(token))
    }

    /// The signed-in record user (NONE, i.e. `Option::None`, for system users).
    pub fn info<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.call(client::info())
    }

    // --- session ------------------------------------------------------------------------

    /// Selects the namespace (the database stays as it is).
    pub fn use_ns(&self, ns: &str) -> Result<(), Error> {
        self.call(client::use_ns_db(Some(ns), None))
    }

    /// Selects the database (the namespace must be selected).
    pub fn use_db(&self, db: &str) -> Result<(), Error> {
        self.call(client::use_ns_db(None, Some(db)))
    }

    /// Selects namespace and database in one round trip.
    pub fn use_ns_db(&self, ns: &str, db: &str) -> Result<(), Error> {
        self.call(client::use_ns_db(Some(ns), Some(db)))
    }

    /// Defines the session variable `$key` (WebSocket only).
    pub fn set(&self, key: &str, value: &impl Serialize) -> Result<(), Error> {
        self.call(client::set(key, value)?)
    }

    /// Removes the session variable `$key` (WebSocket only).
    pub fn unset(&self, key: &str) -> Result<(), Error> {
        self.call(client::unset(key)?)
    }

    // --- queries ------------------------------------------------------------------------

    /// Starts a SurrealQL query; add variables with [`Query::bind`], send it with
    /// [`Query::run`].
    pub fn query(&self, text: impl Into<String>) -> Query<'_> {
        Query {
            db: self,
            text: text.into(),
            vars: Object::new(),
            txn: None,
            session: None,
            error: None,
        }
    }

    /// Starts a streamed SurrealQL query (`query_stream`, WebSocket only): rows arrive as
    /// frames while statements run. Send it with [`StreamQuery::run`].
    pub fn query_stream(&self, text: impl Into<String>) -> StreamQuery<'_> {
        StreamQuery(self.query(text))
    }

    /// Cancels the streamed query started by request `request_id`
    /// ([`QueryStream::request_id`]).
    pub fn query_cancel(&self, request_id: u64) -> Result<(), Error> {
        self.call(client::query_cancel(request_id))
    }

    // --- live queries -------------------------------------------------------------------

    /// Subscribes to every change of `table` (WebSocket only). The stream ends when the
    /// server kills the live query; dropping it kills the live query.
    pub fn live(&self, table: &str) -> Result<LiveStream, Error> {
        self.live_request(client::live(table, false).into_parts().0)
    }

    /// Like [`live`](Self::live), but UPDATE notifications carry JSON-patch operations
    /// (`DIFF`) instead of the whole record.
    pub fn live_diff(&self, table: &str) -> Result<LiveStream, Error> {
        self.live_request(client::live(table, true).into_parts().0)
    }

    /// Subscribes with a `LIVE SELECT …` statement and bound variables (e.g. a WHERE
    /// filter); `text` must contain that one statement only.
    pub fn live_select(&self, text: impl Into<String>) -> LiveQuery<'_> {
        LiveQuery(self.query(text))
    }

    fn live_request(&self, request: Request) -> Result<LiveStream, Error> {
        let ws = self.ws(request.method)?;
        let method = request.method;
        let (handle, value, items) = ws.live(request)?;
        // Built first so that, if the answer is an error row, dropping it kills the
        // subscription the core registered.
        let mut stream = LiveStream::new(ws.clone(), handle, items);
        stream.set_live_id(live::live_id_of(method, value)?);
        Ok(stream)
    }

    // --- records ------------------------------------------------------------------------

    /// Selects a table's records (`Vec<T>`) or one record (`Option<T>`).
    pub fn select<T: DeserializeOwned>(&self, what: impl Into<Resource>) -> Result<T, Error> {
        self.call(client::select(what))
    }

    /// Creates one record (with the given id, or a random one when given a table).
    pub fn create<T: DeserializeOwned>(
        &self,
        what: impl Into<Resource>,
        data: &(impl Serialize + ?Sized),
    ) -> Result<T, Error> {
        self.call(client::create(what, data)?)
    }

    /// Inserts one record or many (`data` an array) into `table`.
    pub fn insert<T: DeserializeOwned>(
        &self,
        table: &str,
        data: &(impl Serialize + ?Sized),
    ) -> Result<T, Error> {
        self.call(client::insert(table, data)?)
    }

    /// Inserts edge records (each with `in` and `out`) into `table`.
    pub fn insert_relation<T: DeserializeOwned>(
        &self,
        table: &str,
        data: &(impl Serialize + ?Sized),
    ) -> Result<T, Error> {
        self.call(client::insert_relation(table, data)?)
    }

    /// Creates or replaces records.
    pub fn upsert<T: DeserializeOwned>(
        &self,
        what: impl Into<Resource>,
        data: &(impl Serialize + ?Sized),
    ) -> Result<T, Error> {
        self.call(client::upsert(what, data)?)
    }

    /// Replaces the content of existing records (a missing record gives NONE).
    pub fn update<T: DeserializeOwned>(
        &self,
        what: impl Into<Resource>,
        data: &(impl Serialize + ?Sized),
    ) -> Result<T, Error> {
        self.call(client::update(what, data)?)
    }

    /// Merges fields into existing records (a missing record gives NONE).
    pub fn merge<T: DeserializeOwned>(
        &self,
        what: impl Into<Resource>,
        data: &(impl Serialize + ?Sized),
    ) -> Result<T, Error> {
        self.call(client::merge(what, data)?)
    }

    /// Applies JSON-patch operations; returns the records after the change.
    pub fn patch<T: DeserializeOwned>(
        &self,
        what: impl Into<Resource>,
        ops: &[PatchOp],
    ) -> Result<T, Error> {
        self.call(client::patch(what, ops))
    }

    /// Deletes records; returns what was deleted (NONE for a missing record).
    pub fn delete<T: DeserializeOwned>(&self, what: impl Into<Resource>) -> Result<T, Error> {
        self.call(client::delete(what))
    }

    /// Creates the edge `from -> edge -> to`, with optional content.
    pub fn relate<T: DeserializeOwned>(
        &self,
        from: &RecordId,
        edge: &str,
        to: &RecordId,
        data: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, Error> {
        self.call(client::relate(from, edge, to, data)?)
    }

    /// Calls a function (`fn::custom` or a builtin such as `string::len`); `args` is an
    /// array/tuple of arguments, or one argument.
    pub fn run_function<T: DeserializeOwned>(
        &self,
        name: &str,
        args: &(impl Serialize + ?Sized),
    ) -> Result<T, Error> {
        self.call(client::run(name, args)?)
    }

    /// Runs a GraphQL query (the database must `DEFINE CONFIG GRAPHQL AUTO`).
    pub fn graphql<T: DeserializeOwned>(&self, query: &str, variables: Object) -> Result<T, Error> {
        self.call(client::graphql(query, variables))
    }

    // --- server -------------------------------------------------------------------------

    /// The server's version text, e.g. `surrealdb-3.3.5`.
    pub fn version(&self) -> Result<String, Error> {
        self.call(client::version())
    }

    /// Checks that the server is up: `GET /health` over HTTP, a `ping` over WebSocket.
    pub fn health(&self) -> Result<(), Error> {
        match &self.transport {
            Transport::Ws(_) => self.ping(),
            Transport::Http(http) => http.health(&self.base_url),
        }
    }

    /// Sends an RPC `ping`.
    pub fn ping(&self) -> Result<(), Error> {
        self.call(client::ping())
    }

    // --- transactions and sessions (WebSocket only) -------------------------------------

    /// Opens an RPC transaction; run calls in it with `Call::in_transaction` through
    /// [`call`](Self::call), or with the query builder's [`Query::in_transaction`].
    pub fn begin(&self) -> Result<Uuid, Error> {
        self.call(client::begin())
    }

    /// Commits the RPC transaction `txn`.
    pub fn commit(&self, txn: Uuid) -> Result<(), Error> {
        self.call(client::commit(txn))
    }

    /// Cancels the RPC transaction `txn`.
    pub fn cancel(&self, txn: Uuid) -> Result<(), Error> {
        self.call(client::cancel(txn))
    }

    /// Creates the empty session `session` on this connection.
    pub fn attach(&self, session: Uuid) -> Result<(), Error> {
        self.call(client::attach(session))
    }

    /// Drops the session `session`.
    pub fn detach(&self, session: Uuid) -> Result<(), Error> {
        self.call(client::detach(session))
    }

    /// The sessions attached to this connection.
    pub fn sessions(&self) -> Result<Vec<Uuid>, Error> {
        self.call(client::sessions())
    }
}

/// A query being built: [`bind`](Query::bind) variables, then [`run`](Query::run).
#[must_use = "a query does nothing until `.run()`"]
pub struct Query<'a> {
    db: &'a Surreal,
    text: String,
    vars: Object,
    txn: Option<Uuid>,
    session: Option<Uuid>,
    /// The first `bind` that failed; reported by `run` so `bind` can chain.
    error: Option<CallError>,
}

impl std::fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("text", &self.text)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> Query<'a> {
    /// Binds variables: a `("name", value)` pair, or a struct/map whose fields become
    /// `$variables`. An invalid binding is reported by [`run`](Query::run).
    pub fn bind(mut self, bindings: impl Serialize) -> Self {
        if self.error.is_none() {
            if let Err(e) = client::bind_vars(&mut self.vars, &bindings) {
                self.error = Some(e);
            }
        }
        self
    }

    /// Runs the query inside the RPC transaction `txn` (WebSocket only).
    pub fn in_transaction(mut self, txn: Uuid) -> Self {
        self.txn = Some(txn);
        self
    }

    /// Runs the query on the attached session `session` (WebSocket only).
    pub fn on_session(mut self, session: Uuid) -> Self {
        self.session = Some(session);
        self
    }

    /// The `query` call, with its request's method replaced by `method` (`query_stream`
    /// takes the same params).
    fn into_call(self, method: Method) -> Result<(&'a Surreal, Call<QueryResponse>), Error> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        let mut call = client::query(&self.text, self.vars);
        let request = call.request_mut();
        request.method = method;
        request.txn = self.txn;
        request.session = self.session;
        Ok((self.db, call))
    }

    /// Sends the query and waits for every statement's result.
    pub fn run(self) -> Result<QueryResponse, Error> {
        let (db, call) = self.into_call(Method::Query)?;
        db.call(call)
    }
}

/// A `query_stream` being built: [`bind`](StreamQuery::bind), then [`run`](StreamQuery::run).
#[must_use = "a query does nothing until `.run()`"]
#[derive(Debug)]
pub struct StreamQuery<'a>(Query<'a>);

impl StreamQuery<'_> {
    /// Binds variables, as [`Query::bind`].
    pub fn bind(self, bindings: impl Serialize) -> Self {
        StreamQuery(self.0.bind(bindings))
    }

    /// Sends the query; frames arrive on the returned [`QueryStream`].
    pub fn run(self) -> Result<QueryStream, Error> {
        let (db, call) = self.0.into_call(Method::QueryStream)?;
        let ws = db.ws(Method::QueryStream)?;
        let (id, frames) = ws.stream(call.into_parts().0)?;
        Ok(QueryStream::new(ws.clone(), id.0, frames))
    }
}

/// A `LIVE SELECT` being built: [`bind`](LiveQuery::bind), then [`run`](LiveQuery::run).
#[must_use = "a live query does nothing until `.run()`"]
#[derive(Debug)]
pub struct LiveQuery<'a>(Query<'a>);

impl LiveQuery<'_> {
    /// Binds variables, as [`Query::bind`].
    pub fn bind(self, bindings: impl Serialize) -> Self {
        LiveQuery(self.0.bind(bindings))
    }

    /// Starts the live query.
    pub fn run(self) -> Result<LiveStream, Error> {
        let (db, call) = self.0.into_call(Method::Query)?;
        db.live_request(call.into_parts().0)
    }
}
