//! # surql-blocking — the blocking SurrealDB driver
//!
//! Runs the sans-IO `surql` core with std threads and sockets; there is no async runtime
//! anywhere inside (`cargo tree -p surql-blocking` shows no tokio and no executor).
//!
//! - `ws://` / `wss://`: one IO thread per connection owns the WebSocket and the core
//!   `Connection` state machine. It sleeps in the OS poller (epoll/kqueue) and callers wake
//!   it when they queue a request, so a request leaves immediately. Requests from many
//!   threads are multiplexed on the socket; when callers overlap, the client opens up to
//!   [`Options::ws_connections`] connections in all (default 4) and spreads plain requests
//!   over them, each carrying a copy of the session (live queries, streams, transactions and
//!   session changes stay on the first). Lost connections are re-opened, the session
//!   replayed and live queries re-subscribed by the core.
//!   Lost connections are reported on [`Surreal::events`] / [`Surreal::on_reconnect`];
//!   requests in flight fail with [`Error::Disconnected`] (they may or may not have run).
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

mod auth;
pub mod connections;
pub mod export;
mod http;
mod live;
mod log;
mod model;
pub mod realtime;
pub mod txn;
mod ws;

use std::sync::mpsc::Receiver;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use auth::{AuthExecutor, UserModelExt, LOCAL_LEEWAY_SECS};
pub use connections::{ConnectionConfig, Connections, Using};
pub use export::{Export, Import};
pub use live::{LiveStream, QueryStream};
pub use model::{ModelExt, ModelQuerySetExt};
pub use realtime::{ChangeStream, LiveQuerySetExt, TypedLiveStream};
pub use surql::auth::{
    AuthConfig, AuthParams, BearerKey, PasswordAlgorithm, TokenCache, UserModel,
};
pub use surql::client::{Credentials, PatchOp, QueryResponse, Resource, Token};
pub use surql::export::{ExportConfig, Tables};
pub use surql::log::{Recorded, Recorder};
pub use surql::model::ops::BulkOptions;
pub use surql::model::{Changes, Expr, Model};
pub use surql::mux::ConnectionEvent;
pub use surql::rpc::{Action, Notification, ServerError, StreamFrame};
pub use surql::{ClientCert, Error, Options, RecordId, Result, TlsOptions, Uuid, Value};
pub use txn::{Deferred, Executor, Transaction};

/// The core crate, for everything not re-exported here.
pub use surql;

use surql::client;
use surql::endpoint::Endpoint;
use surql::op::{IntoOperation, Operation, Step};
use surql::rpc::{Method, Request};
use surql::Object;

use http::HttpTransport;
use ws::WsTransport;

/// Brings the extension traits into scope: `use surql_blocking::prelude::*;`.
pub mod prelude {
    pub use crate::auth::{AuthExecutor, UserModelExt};
    pub use crate::model::{ModelExt, ModelQuerySetExt};
    pub use crate::realtime::LiveQuerySetExt;
    pub use crate::{AggregateExt, Executor, QuerySetExt};
    pub use surql::auth::UserModel;
    pub use surql::model::{Changes, Expr, Model};
}

/// A hook for [`Surreal::on_reconnect`].
pub type ReconnectHook = Arc<dyn Fn(&ConnectionEvent) + Send + Sync>;

enum Transport {
    Ws(Arc<WsTransport>),
    Http(Box<HttpTransport>),
}

struct Inner {
    transport: Transport,
    /// The server's base URL (the RPC URL without `/rpc`), for `/health` and `Debug`.
    base_url: String,
    /// The HTTP transport's (and `/health`'s) timeouts and TLS settings.
    options: Options,
    /// The model signal handlers (shared by clones and transactions).
    signals: surql::signals::Signals,
    log: log::Logging,
}

/// A connection to SurrealDB: cheap to clone, safe to share between threads (clones share
/// the connection; requests from many threads are multiplexed on one WebSocket, or on a few
/// while callers overlap: see [`Options::ws_connections`]).
///
/// A WebSocket connection closes, and its IO thread ends, when the last clone (and the
/// last [`LiveStream`] / [`QueryStream`]) is dropped. That drop sends a close frame on
/// each connection and joins their IO threads, so no IO thread outlives the client; it can
/// take up to the connect timeout if a reconnect attempt is under way at that moment. A lane
/// still being opened at that moment is not waited for: its thread closes it and ends by
/// itself within the connect timeout.
#[derive(Clone)]
pub struct Surreal {
    inner: Arc<Inner>,
    /// The attached session this client works in (`None`: the connection's default one).
    session: Option<Uuid>,
}

impl std::fmt::Debug for Surreal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Surreal")
            .field("url", &self.inner.base_url)
            .field("websocket", &self.is_websocket())
            .field("session", &self.session)
            .finish()
    }
}

impl Surreal {
    /// Connects to `url` (`ws://`, `wss://`, `http://` or `https://`; the `/rpc` path is
    /// added when missing) with default [`Options`].
    pub fn connect(url: &str) -> Result<Surreal> {
        Surreal::connect_with(url, Options::default())
    }

    /// Connects with explicit options. A WebSocket is open when this returns; over HTTP
    /// nothing is opened until the first call.
    pub fn connect_with(url: &str, options: Options) -> Result<Surreal> {
        let endpoint = Endpoint::parse(url)?;
        let base_url = endpoint.base_url();
        let transport = if endpoint.scheme.is_ws() {
            Transport::Ws(Arc::new(WsTransport::connect(endpoint, options.clone())?))
        } else {
            Transport::Http(Box::new(HttpTransport::new(&endpoint, &options)?))
        };
        Ok(Surreal {
            inner: Arc::new(Inner {
                transport,
                base_url,
                log: log::Logging::new(options.log_values),
                options,
                signals: surql::signals::Signals::default(),
            }),
            session: None,
        })
    }

    /// The model signal handlers of this client (shared by its clones and transactions):
    /// `db.signals().on_pre::<Person>(Action::Save, |p, ctx| …)`.
    pub fn signals(&self) -> &surql::signals::Signals {
        &self.inner.signals
    }

    /// `true` for a WebSocket connection, `false` for HTTP.
    pub fn is_websocket(&self) -> bool {
        matches!(self.inner.transport, Transport::Ws(_))
    }

    /// Registers a hook called on connection life-cycle events (disconnect, reconnect, live
    /// id remaps). WebSocket only; a no-op over HTTP, which has no connection to lose.
    ///
    /// The hook runs on the connection's IO thread: keep it short, and do not call this
    /// connection from it (such a call fails at once instead of waiting for itself). A hook
    /// that owns a `Surreal` clone keeps the connection open forever; send events to a
    /// channel instead, or use [`events`](Self::events).
    pub fn on_reconnect(&self, hook: impl Fn(&ConnectionEvent) + Send + Sync + 'static) {
        if let Transport::Ws(ws) = &self.inner.transport {
            // A closed connection has no more events to report.
            let _ = ws.add_hook(Arc::new(hook));
        }
    }

    /// How many WebSocket connections this client has open now: the first, plus the lanes
    /// opened for concurrent callers ([`Options::ws_connections`]); 0 over HTTP.
    pub fn websocket_connections(&self) -> usize {
        match &self.inner.transport {
            Transport::Ws(ws) => 1 + ws.lane_count(),
            Transport::Http(_) => 0,
        }
    }

    /// A receiver of every later [`ConnectionEvent`] (WebSocket only).
    pub fn events(&self) -> Result<Receiver<ConnectionEvent>> {
        match &self.inner.transport {
            Transport::Ws(ws) => ws.listen(),
            Transport::Http(_) => Err(Error::NotSupported {
                method: "events".into(),
                message: "connection events exist only for WebSocket (ws:// or wss://) connections"
                    .into(),
            }),
        }
    }

    /// Starts recording every request this client (and its clones) sends, until the
    /// returned [`Recorder`] is dropped: for tests that count or inspect the statements an
    /// action sent. Recorders of other clients never see them. Bound values are kept only as
    /// the request log shows them (see [`surql::log`]).
    ///
    /// ```no_run
    /// # fn demo(db: surql_blocking::Surreal) -> surql_blocking::Result<()> {
    /// let rec = db.record();
    /// db.query("SELECT * FROM person WHERE age > $a").bind(("a", 30)).run()?;
    /// assert_eq!(rec.count(), 1);
    /// assert_eq!(rec.texts(), ["SELECT * FROM person WHERE age > $a"]);
    /// assert_eq!(rec.statements()[0].vars, ["a"]);
    /// # Ok(()) }
    /// ```
    pub fn record(&self) -> Recorder {
        self.inner.log.record()
    }

    /// Sends one request, logged (see [`surql::log`]) and recorded.
    fn rpc(&self, mut request: Request) -> Result<surql::rpc::Payload> {
        if request.session.is_none() {
            request.session = self.session;
        }
        let send = |request| match &self.inner.transport {
            Transport::Ws(ws) => ws.call(request),
            Transport::Http(http) => http.call(&request),
        };
        self.inner.log.observe(request, send, log::payload)
    }

    /// Runs any operation of the core (a single [`surql::client::Call`] or a multi-step
    /// [`surql::op::Operation`]): the one entry point every method uses. Each request it
    /// emits runs on this client's session unless the operation chose one.
    pub fn perform<O: IntoOperation>(&self, op: O) -> Result<<O::Op as Operation>::Output> {
        let mut op = op.into_operation();
        let mut answer = None;
        loop {
            match op.step(answer.take()) {
                Step::Send(request) => answer = Some(self.rpc(request)),
                Step::Done(output) => return output,
            }
        }
    }

    /// Signs in, then loads the signed-in record, as one two-step operation: the token and
    /// the record (`None` for system users: use `Option<T>`).
    pub fn signin_and_load<T: DeserializeOwned + 'static>(
        &self,
        creds: &Credentials,
    ) -> Result<(Token, T)> {
        self.perform(surql::op::signin_and_load::<T>(creds))
    }

    /// Closes the connection now (WebSocket): everything waiting fails with
    /// [`Error::Closed`], every stream ends. Dropping the last handle does the same.
    pub fn close(&self) {
        if let Transport::Ws(ws) = &self.inner.transport {
            ws.close();
        }
    }

    fn ws(&self, method: Method) -> Result<&Arc<WsTransport>> {
        match &self.inner.transport {
            Transport::Ws(ws) => Ok(ws),
            Transport::Http(_) => Err(Error::NotSupported {
                method: method.as_str().to_owned(),
                message: format!(
                    "`{method}` is not supported over HTTP; use a WebSocket (ws:// or wss://) connection"
                ),
            }),
        }
    }

    // --- authentication -----------------------------------------------------------------

    /// Signs in (root, namespace, database or record access) and returns the token.
    pub fn signin(&self, creds: &Credentials) -> Result<Token> {
        self.perform(client::signin(creds))
    }

    /// Signs up a record user (record access with SIGNUP) and returns the token.
    pub fn signup(&self, creds: &Credentials) -> Result<Token> {
        self.perform(client::signup(creds)?)
    }

    /// Authenticates with an access token.
    pub fn authenticate(&self, token: &str) -> Result<()> {
        self.perform(client::authenticate(token))
    }

    /// Drops the session's authentication (and, on the server, its live queries).
    pub fn invalidate(&self) -> Result<()> {
        self.perform(client::invalidate())
    }

    /// Trades a token pair for a new one (record access `WITH REFRESH`).
    pub fn refresh(&self, token: &Token) -> Result<Token> {
        self.perform(client::refresh(token)?)
    }

    /// Revokes the refresh grant of `token`.
    pub fn revoke(&self, token: &Token) -> Result<()> {
        self.perform(client::revoke(token))
    }

    /// The signed-in record user (`None`/NONE for system users).
    pub fn info<T: DeserializeOwned + 'static>(&self) -> Result<T> {
        self.perform(client::info())
    }

    // --- session ------------------------------------------------------------------------

    /// Selects the namespace (the database is left as it is).
    pub fn use_ns(&self, ns: &str) -> Result<()> {
        self.perform(client::use_ns_db(Some(ns), None))
    }

    /// Selects the database (the namespace is left as it is).
    pub fn use_db(&self, db: &str) -> Result<()> {
        self.perform(client::use_ns_db(None, Some(db)))
    }

    /// Selects namespace and database in one round trip.
    pub fn use_ns_db(&self, ns: &str, db: &str) -> Result<()> {
        self.perform(client::use_ns_db(Some(ns), Some(db)))
    }

    /// Defines the session variable `$key` (WebSocket only).
    pub fn set(&self, key: &str, value: impl Serialize) -> Result<()> {
        self.perform(client::set(key, &value)?)
    }

    /// Removes the session variable `$key` (WebSocket only).
    pub fn unset(&self, key: &str) -> Result<()> {
        self.perform(client::unset(key)?)
    }

    // --- queries ------------------------------------------------------------------------

    /// Starts a SurrealQL query; add variables with [`Query::bind`], then [`Query::run`].
    pub fn query(&self, text: impl Into<String>) -> Query<'_> {
        Query {
            db: self,
            text: text.into(),
            vars: Object::new(),
            txn: None,
            error: None,
        }
    }

    /// Starts a streamed SurrealQL query (`query_stream`, WebSocket only): rows arrive as
    /// frames while statements run. Bind variables, then [`StreamQuery::run`].
    pub fn query_stream(&self, text: impl Into<String>) -> StreamQuery<'_> {
        StreamQuery(self.query(text))
    }

    /// Cancels the streamed query started by request `request_id`
    /// ([`QueryStream::request_id`]).
    pub fn query_cancel(&self, request_id: u64) -> Result<()> {
        self.perform(client::query_cancel(request_id))
    }

    // --- records ------------------------------------------------------------------------

    /// A table's records (`Vec<T>`) or one record (`Option<T>`).
    pub fn select<T: DeserializeOwned + 'static>(&self, what: impl Into<Resource>) -> Result<T> {
        self.perform(client::select(what))
    }

    /// Creates one record.
    pub fn create<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::create(what, &data)?)
    }

    /// Inserts one record or many (`data` a list) into `table`.
    pub fn insert<T: DeserializeOwned + 'static>(
        &self,
        table: &str,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::insert(table, &data)?)
    }

    /// Inserts edge records (each with `in` and `out`) into `table`.
    pub fn insert_relation<T: DeserializeOwned + 'static>(
        &self,
        table: &str,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::insert_relation(table, &data)?)
    }

    /// Creates or replaces records.
    pub fn upsert<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::upsert(what, &data)?)
    }

    /// Replaces existing records' content (a missing record gives NONE).
    pub fn update<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::update(what, &data)?)
    }

    /// Merges fields into existing records (a missing record gives NONE).
    pub fn merge<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::merge(what, &data)?)
    }

    /// Applies JSON-patch operations.
    pub fn patch<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        ops: &[PatchOp],
    ) -> Result<T> {
        self.perform(client::patch(what, ops))
    }

    /// Deletes records, returning what was deleted.
    pub fn delete<T: DeserializeOwned + 'static>(&self, what: impl Into<Resource>) -> Result<T> {
        self.perform(client::delete(what))
    }

    /// Creates the edge `from ->edge-> to` with optional content.
    pub fn relate<T: DeserializeOwned + 'static>(
        &self,
        from: &RecordId,
        edge: &str,
        to: &RecordId,
        data: Option<impl Serialize>,
    ) -> Result<T> {
        self.perform(client::relate(from, edge, to, data.as_ref())?)
    }

    /// Calls a function (`fn::custom` or a builtin) with arguments (a tuple/list, or one value).
    pub fn run<T: DeserializeOwned + 'static>(
        &self,
        function: &str,
        args: impl Serialize,
    ) -> Result<T> {
        self.perform(client::run(function, &args)?)
    }

    /// Runs a GraphQL query (the database must `DEFINE CONFIG GRAPHQL AUTO`); `variables`
    /// must serialize to an object (or be `()`/`None` for none).
    pub fn graphql<T: DeserializeOwned + 'static>(
        &self,
        query: &str,
        variables: impl Serialize,
    ) -> Result<T> {
        self.perform(client::graphql_with(query, &variables)?)
            .map_err(|e| e.version_gated("graphql"))
    }

    // --- server -------------------------------------------------------------------------

    /// The server's version text, e.g. `surrealdb-3.3.5`.
    pub fn version(&self) -> Result<String> {
        self.perform(client::version())
    }

    /// An RPC `ping` round trip.
    pub fn ping(&self) -> Result<()> {
        self.perform(client::ping())
    }

    /// `GET /health` on the server: `Ok` when its storage is healthy.
    pub fn health(&self) -> Result<()> {
        match &self.inner.transport {
            Transport::Http(http) => http.health(),
            Transport::Ws(_) => {
                // `base_url` is the HTTP form of the endpoint (proxy prefix kept).
                let endpoint = Endpoint::parse(&self.inner.base_url)?;
                HttpTransport::new(&endpoint, &self.inner.options)?.health()
            }
        }
    }

    // --- live queries -------------------------------------------------------------------

    /// Subscribes to every change of `table` (WebSocket only). The stream ends when the
    /// server kills the live query; dropping it kills the live query.
    pub fn live(&self, table: &str) -> Result<LiveStream> {
        self.live_request(client::live(table, false).into_parts().0)
    }

    /// Subscribes to every change of `table` with JSON-patch (DIFF) payloads.
    pub fn live_diff(&self, table: &str) -> Result<LiveStream> {
        self.live_request(client::live(table, true).into_parts().0)
    }

    fn live_request(&self, mut request: Request) -> Result<LiveStream> {
        if request.session.is_none() {
            request.session = self.session;
        }
        let ws = self.ws(request.method)?;
        // The core's mux checks the answer and kills a subscription nobody will read.
        let (handle, id, items) =
            self.inner
                .log
                .observe(request, |r| ws.live(r), log::no_payload)?;
        Ok(LiveStream::new(ws.clone(), handle, id, items))
    }

    // --- transactions and sessions (WebSocket only) -------------------------------------

    /// Creates a new session on this connection and returns a client bound to it. The new
    /// session starts empty: sign in and select a namespace/database on it.
    pub fn attach(&self) -> Result<Surreal> {
        let id = random_uuid();
        self.perform(client::attach(id))?;
        Ok(Surreal {
            inner: self.inner.clone(),
            session: Some(id),
        })
    }

    /// Drops this client's attached session (its live queries and transactions end).
    pub fn detach(&self) -> Result<()> {
        let Some(id) = self.session else {
            return Err(Error::invalid(
                "session",
                "this client is on the connection's default session, which cannot be detached",
            ));
        };
        self.perform(client::detach(id))
    }

    /// The attached session of this client, if any.
    pub fn session_id(&self) -> Option<Uuid> {
        self.session
    }

    /// The ids of the sessions attached to this connection.
    pub fn sessions(&self) -> Result<Vec<Uuid>> {
        self.perform(client::sessions())
    }
}

/// Runs [`QuerySet`](surql::query::QuerySet)s: `qs.all(&db)?`, `qs.first(&db)?`,
/// `qs.count_rows(&db)?`. (`qs.count()` itself builds the aggregate query; run any aggregate
/// with [`AggregateExt::fetch`].)
pub trait QuerySetExt {
    /// Every matching row, decoded as `T`.
    fn all<T: DeserializeOwned + Send + 'static>(&self, db: &Surreal) -> Result<Vec<T>>;
    /// The first matching row, if any.
    fn first<T: DeserializeOwned + Send + 'static>(&self, db: &Surreal) -> Result<Option<T>>;
    /// The number of matching rows.
    fn count_rows(&self, db: &Surreal) -> Result<u64>;
}

impl QuerySetExt for surql::query::QuerySet {
    fn all<T: DeserializeOwned + Send + 'static>(&self, db: &Surreal) -> Result<Vec<T>> {
        db.perform(client::fetch_all(self)?)
    }

    fn first<T: DeserializeOwned + Send + 'static>(&self, db: &Surreal) -> Result<Option<T>> {
        db.perform(client::fetch_first(self)?)
    }

    fn count_rows(&self, db: &Surreal) -> Result<u64> {
        db.perform(client::count(self)?)
    }
}

/// Runs aggregate queries: `qs.avg("age").fetch(&db)?` (0 for count/sum of no rows, NONE
/// for avg/min/max of no rows).
pub trait AggregateExt {
    /// The aggregate's answer.
    fn fetch(self, db: &Surreal) -> Result<Value>;
}

impl AggregateExt for surql::query::AggregateQuery {
    fn fetch(self, db: &Surreal) -> Result<Value> {
        db.perform(client::aggregate(self)?)
    }
}

impl Surreal {
    /// Runs a compiled query (from the query compiler) and returns every statement's result;
    /// the answer is statement `q.result_index`.
    pub fn execute(&self, q: surql::query::CompiledQuery) -> Result<QueryResponse> {
        self.perform(client::execute(q)?)
    }

    /// Runs an aggregate (`qs.count()`, `qs.sum(f)`, …) and returns its answer.
    pub fn aggregate(&self, agg: surql::query::AggregateQuery) -> Result<Value> {
        self.perform(client::aggregate(agg)?)
    }
}

/// A random (version 4) UUID for a client-chosen session id. Uniqueness per connection is
/// all that is needed, so std's randomly keyed hasher is a good enough source.
fn random_uuid() -> Uuid {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid(bytes)
}

/// A query being built: [`bind`](Query::bind) variables, then [`run`](Query::run) it (or
/// [`live`](Query::live) for a `LIVE SELECT`).
#[must_use = "a query does nothing until `.run()`"]
pub struct Query<'a> {
    db: &'a Surreal,
    text: String,
    vars: Object,
    txn: Option<Uuid>,
    /// The first `bind` that failed; reported by `run` so `bind` can chain.
    error: Option<Error>,
}

impl std::fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("text", &self.text)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("txn", &self.txn)
            .finish()
    }
}

impl<'a> Query<'a> {
    /// Binds variables: a `("name", value)` pair, or a struct/map whose fields become
    /// `$variables`. An invalid binding is reported by [`run`](Query::run).
    pub fn bind(mut self, bindings: impl Serialize) -> Self {
        if self.error.is_none() {
            if let Err(e) = client::bind_vars(&mut self.vars, &bindings) {
                self.error = Some(e.into());
            }
        }
        self
    }

    /// The `query` call, with its method replaced by `method` (`query_stream` takes the
    /// same params).
    fn into_call(self, method: Method) -> Result<(&'a Surreal, client::Call<QueryResponse>)> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut call = client::query(self.text, self.vars);
        call.request_mut().method = method;
        if let Some(txn) = self.txn {
            call = call.in_transaction(txn);
        }
        Ok((self.db, call))
    }

    /// Sends the query and waits for every statement's result.
    pub fn run(self) -> Result<QueryResponse> {
        let (db, call) = self.into_call(Method::Query)?;
        db.perform(call)
    }

    /// Runs a `LIVE SELECT …` query (its only statement) and returns its notification
    /// stream (WebSocket only).
    pub fn live(self) -> Result<LiveStream> {
        let (db, call) = self.into_call(Method::Query)?;
        db.live_request(call.into_parts().0)
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

    /// Sends the query; its frames arrive on the returned [`QueryStream`].
    pub fn run(self) -> Result<QueryStream> {
        let (db, call) = self.0.into_call(Method::QueryStream)?;
        let ws = db.ws(Method::QueryStream)?;
        let mut request = call.into_parts().0;
        if request.session.is_none() {
            request.session = db.session;
        }
        let (id, frames) = db
            .inner
            .log
            .observe(request, |r| ws.stream(r), log::no_payload)
            .map_err(|e| e.version_gated("query_stream"))?;
        Ok(QueryStream::new(ws.clone(), id, frames))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_can_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Surreal>();
        send_sync::<Error>();
        send_sync::<ConnectionEvent>();
        send::<LiveStream>();
        send::<QueryStream>();
    }

    #[test]
    fn random_uuids_differ_and_are_v4() {
        let a = random_uuid();
        let b = random_uuid();
        assert_ne!(a, b);
        assert_eq!(a.0[6] >> 4, 4);
        assert_eq!(a.0[8] >> 6, 0b10);
    }

    #[test]
    fn http_refuses_connection_only_methods_without_a_server() {
        // Port 9 (discard) on loopback: nothing is ever sent, so nothing needs to listen.
        let db = Surreal::connect("http://127.0.0.1:9").unwrap();
        assert!(!db.is_websocket());
        for e in [
            db.set("x", 1).unwrap_err(),
            db.unset("x").unwrap_err(),
            db.live("person").unwrap_err(),
            db.sessions().unwrap_err(),
            db.attach().unwrap_err(),
            db.query("LIVE SELECT * FROM person").live().unwrap_err(),
            db.query_stream("RETURN 1").run().unwrap_err(),
            db.events().unwrap_err(),
        ] {
            assert!(e.is_not_supported(), "{e:?}");
            assert!(e.to_string().contains("ws://"), "{e}");
        }
        // A transaction over HTTP is a batch sent at commit: opening it sends nothing, and
        // an action that needs its answer inside it is refused.
        let tx = db.begin().unwrap();
        assert_eq!(tx.id(), None);
        let e = tx.perform(client::ping()).unwrap_err();
        assert!(
            e.is_not_supported() && e.to_string().contains("not supported over HTTP"),
            "{e}"
        );
        tx.cancel().unwrap();
    }

    #[test]
    fn bad_bindings_are_reported_by_run() {
        let db = Surreal::connect("http://127.0.0.1:9").unwrap();
        let e = db.query("RETURN $x").bind(42).run().unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
        // The first bad binding wins; later ones do not hide it.
        let e = db
            .query("RETURN 1")
            .bind(("", 1))
            .bind(("ok", 2))
            .run()
            .unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    }

    #[test]
    fn detach_on_the_default_session_is_refused() {
        let db = Surreal::connect("http://127.0.0.1:9").unwrap();
        assert!(matches!(db.detach(), Err(Error::Invalid { .. })));
        assert_eq!(db.session_id(), None);
    }
}
