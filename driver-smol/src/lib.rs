//! # surql-smol — an async SurrealDB client on smol / async-io
//!
//! A thin IO layer around the sans-IO [`surql`] core: one IO thread per WebSocket
//! connection (many concurrent callers multiplexed by request id; while they overlap, up to
//! [`Options::ws_connections`] connections share them), or stateless HTTP
//! `POST /rpc`. It needs no particular executor: it runs under smol, under tokio, or under
//! `futures_lite::future::block_on`.
//!
//! ```no_run
//! # async fn demo() -> surql_smol::Result<()> {
//! use surql_smol::{Credentials, Surreal};
//!
//! let db = Surreal::connect("ws://127.0.0.1:8000").await?;
//! db.signin(&Credentials::root("root", "root")).await?;
//! db.use_ns("app").await?;
//! db.use_db("main").await?;
//! let mut res = db.query("RETURN $x * 2").bind(("x", 21)).await?;
//! let n: i64 = res.take(0)?;
//! assert_eq!(n, 42);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// `Error` carries the server's error object by value so callers can match on it; errors are
// the cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

mod auth;
pub mod connections;
pub mod export;
mod http;
#[doc(hidden)]
pub mod internal;
mod log;
mod model;
pub mod realtime;
pub mod txn;
mod ws;

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;
use surql::client;
use surql::conn::{LiveHandle, RequestId};
use surql::op::{IntoOperation, Operation, Step};
use surql::rpc::Request;
use surql::Object;

pub use auth::{AuthExecutor, UserModelExt, LOCAL_LEEWAY_SECS};
pub use connections::{ConnectionConfig, Connections, Using};
pub use export::{Export, Import};
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
pub use ws::ReconnectHook;

/// The core crate, for everything not re-exported here.
pub use surql;

use ws::{BoundedRx, Listener, Next};

/// Brings the extension traits into scope: `use surql_smol::prelude::*;`.
pub mod prelude {
    pub use crate::auth::{AuthExecutor, UserModelExt};
    pub use crate::model::{ModelExt, ModelQuerySetExt};
    pub use crate::realtime::LiveQuerySetExt;
    pub use crate::{AggregateExt, Executor, QuerySetExt};
    pub use surql::auth::UserModel;
    pub use surql::model::{Changes, Expr, Model};
}

enum Transport {
    Ws(ws::WsClient),
    Http(Arc<http::HttpClient>),
}

struct Inner {
    transport: Transport,
    /// The RPC URL, for auth actions' own connections (`auth.rs`).
    url: String,
    host: String,
    port: u16,
    tls: bool,
    options: Options,
    /// The model signal handlers (shared by clones and transactions).
    signals: surql::signals::Signals,
    log: log::Logging,
}

/// A SurrealDB client. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Surreal {
    inner: Arc<Inner>,
    session: Option<Uuid>,
}

impl std::fmt::Debug for Surreal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Surreal")
            .field("host", &self.inner.host)
            .field("port", &self.inner.port)
            .field("session", &self.session)
            .finish()
    }
}

fn random_uuid() -> Uuid {
    use std::hash::{BuildHasher, Hasher};
    let mut b = [0u8; 16];
    for chunk in b.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    Uuid::from_bytes(b)
}

impl Surreal {
    /// Connects to `ws://`, `wss://` (WebSocket, stateful: sessions, live queries,
    /// transactions) or `http://`, `https://` (stateless `POST /rpc`).
    pub async fn connect(url: &str) -> Result<Surreal> {
        Self::connect_with(url, Options::default()).await
    }

    /// Connects with explicit options.
    pub async fn connect_with(url: &str, options: Options) -> Result<Surreal> {
        let e = surql::endpoint::Endpoint::parse(url)?;
        let tls = e.scheme.is_tls();
        let transport = if e.scheme.is_ws() {
            Transport::Ws(ws::WsClient::connect(e.clone(), options.clone()).await?)
        } else {
            Transport::Http(http::HttpClient::new(&e, &options)?)
        };
        Ok(Surreal {
            inner: Arc::new(Inner {
                transport,
                url: e.rpc_url(),
                host: e.host,
                port: e.port,
                tls,
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

    /// How many WebSocket connections this client has open now: the first, plus the lanes
    /// opened for concurrent callers ([`Options::ws_connections`]); 0 over HTTP.
    pub fn websocket_connections(&self) -> usize {
        match &self.inner.transport {
            Transport::Ws(ws) => 1 + ws.lane_count(),
            _ => 0,
        }
    }

    /// Registers a hook called on connection life-cycle events (disconnect, reconnect, live
    /// id remaps). WebSocket only; a no-op over HTTP, which has no connection to lose.
    ///
    /// The hook runs on the connection's IO thread: keep it short, and do not call this
    /// connection from it (such a call fails at once instead of waiting for itself). A hook
    /// that panics is dropped; the connection goes on.
    pub fn on_reconnect(&self, hook: impl Fn(&ConnectionEvent) + Send + Sync + 'static) {
        if let Transport::Ws(w) = &self.inner.transport {
            // A closed connection has no more events to report.
            let _ = w.listen(Listener::Hook(Arc::new(hook)));
        }
    }

    /// A receiver of every later [`ConnectionEvent`] (WebSocket only).
    pub fn events(&self) -> Result<async_channel::Receiver<ConnectionEvent>> {
        match &self.inner.transport {
            Transport::Ws(w) => {
                let (tx, rx) = async_channel::unbounded();
                w.listen(Listener::Channel(tx))?;
                Ok(rx)
            }
            Transport::Http(_) => Err(Error::NotSupported {
                method: "events".into(),
                message: "connection events exist only for WebSocket (ws:// or wss://) connections"
                    .into(),
            }),
        }
    }

    /// Closes the connection now (WebSocket): everything waiting fails with
    /// [`Error::Closed`], every stream ends. Dropping the last handle closes it once
    /// nothing waits any more.
    pub fn close(&self) {
        if let Transport::Ws(w) = &self.inner.transport {
            w.close();
        }
    }

    /// Starts recording every request this client (and its clones) sends, until the
    /// returned [`Recorder`] is dropped: for tests that count or inspect the statements an
    /// action sent. Recorders of other clients never see them. Bound values are kept only as
    /// the request log shows them (see [`surql::log`]).
    ///
    /// ```no_run
    /// # async fn demo(db: surql_smol::Surreal) -> surql_smol::Result<()> {
    /// let rec = db.record();
    /// db.query("SELECT * FROM person WHERE age > $a").bind(("a", 30)).await?;
    /// assert_eq!(rec.count(), 1);
    /// assert_eq!(rec.texts(), ["SELECT * FROM person WHERE age > $a"]);
    /// assert_eq!(rec.statements()[0].vars, ["a"]);
    /// # Ok(()) }
    /// ```
    pub fn record(&self) -> Recorder {
        self.inner.log.record()
    }

    /// Sends one request, logged (see [`surql::log`]) and recorded.
    fn rpc(
        &self,
        mut req: Request,
    ) -> impl Future<Output = Result<surql::rpc::Payload>> + Send + '_ {
        if req.session.is_none() {
            req.session = self.session;
        }
        let send = move |req| async move {
            match &self.inner.transport {
                Transport::Ws(w) => w.call(req).await,
                // Boxed: an HTTP exchange's future (connect, TLS, request, response) is ~16
                // KiB, and inline it would size every WebSocket call's future too (~0.4 KiB
                // on its own), an allocation touched on every round trip.
                Transport::Http(h) => Ok(Box::pin(h.call(req)).await?),
            }
        };
        let log = &self.inner.log;
        // Not an `async fn`, and the logged path boxed: every call's future holds the
        // request once and the send once, which keeps a `query(..).await` (one allocation)
        // within the allocator's per-thread cache.
        async move {
            if log.quiet() {
                send(req).await
            } else {
                Box::pin(log.observe(req, send, log::payload)).await
            }
        }
    }

    /// Runs any operation of the core (a single [`surql::client::Call`] or a multi-step
    /// [`surql::op::Operation`]): the one entry point every method uses. Each request it
    /// emits runs on this client's session unless the operation chose one.
    pub async fn perform<O>(&self, op: O) -> Result<<O::Op as Operation>::Output>
    where
        O: IntoOperation,
        O::Op: Send,
    {
        let mut op = op.into_operation();
        // Only the next request lives from one step to the next: the future holds no step
        // (nor an answer slot) across the wait, which keeps it small.
        let mut request = match op.step(None) {
            Step::Send(request) => request,
            Step::Done(output) => return output,
        };
        loop {
            let answer = self.rpc(request).await;
            request = match op.step(Some(answer)) {
                Step::Send(request) => request,
                Step::Done(output) => return output,
            };
        }
    }

    /// Signs in, then loads the signed-in record, as one two-step operation: the token and
    /// the record (`None` for system users: use `Option<T>`).
    pub async fn signin_and_load<T: DeserializeOwned + Send + 'static>(
        &self,
        creds: &Credentials,
    ) -> Result<(Token, T)> {
        self.perform(surql::op::signin_and_load::<T>(creds)).await
    }

    // --- authentication -----------------------------------------------------------------

    /// Signs in (root, namespace, database or record access) and returns the token.
    pub async fn signin(&self, creds: &Credentials) -> Result<Token> {
        self.perform(client::signin(creds)).await
    }

    /// Signs up a record user (record access with SIGNUP) and returns the token.
    pub async fn signup(&self, creds: &Credentials) -> Result<Token> {
        self.perform(client::signup(creds)?).await
    }

    /// Authenticates with an access token.
    pub async fn authenticate(&self, token: &str) -> Result<()> {
        self.perform(client::authenticate(token)).await
    }

    /// Drops the session's authentication.
    pub async fn invalidate(&self) -> Result<()> {
        self.perform(client::invalidate()).await
    }

    /// Trades a token pair for a new one (record access `WITH REFRESH`).
    pub async fn refresh(&self, token: &Token) -> Result<Token> {
        self.perform(client::refresh(token)?).await
    }

    /// Revokes the refresh grant of `token`.
    pub async fn revoke(&self, token: &Token) -> Result<()> {
        self.perform(client::revoke(token)).await
    }

    /// The signed-in record user (`None`/NONE for system users).
    pub async fn info<T: DeserializeOwned + 'static>(&self) -> Result<T> {
        self.perform(client::info()).await
    }

    // --- session ------------------------------------------------------------------------

    /// Selects the namespace (the database is left as it is).
    pub async fn use_ns(&self, ns: &str) -> Result<()> {
        self.perform(client::use_ns_db(Some(ns), None)).await
    }

    /// Selects the database (the namespace is left as it is).
    pub async fn use_db(&self, db: &str) -> Result<()> {
        self.perform(client::use_ns_db(None, Some(db))).await
    }

    /// Selects namespace and database in one round trip.
    pub async fn use_ns_db(&self, ns: &str, db: &str) -> Result<()> {
        self.perform(client::use_ns_db(Some(ns), Some(db))).await
    }

    /// Defines the session variable `$key` (WebSocket only).
    pub async fn set(&self, key: &str, value: impl Serialize) -> Result<()> {
        self.perform(client::set(key, &value)?).await
    }

    /// Removes the session variable `$key` (WebSocket only).
    pub async fn unset(&self, key: &str) -> Result<()> {
        self.perform(client::unset(key)?).await
    }

    // --- queries ------------------------------------------------------------------------

    /// Starts a SurrealQL query; add variables with [`Query::bind`], then `.await` it.
    pub fn query(&self, text: impl Into<String>) -> Query<'_> {
        Query {
            db: self,
            text: text.into(),
            vars: Object::new(),
            txn: None,
            error: None,
        }
    }

    /// Starts a streamed query (`query_stream`, WebSocket only): rows arrive in frames as the
    /// server produces them, so a huge result never has to fit in memory at once. Bind
    /// variables with [`StreamQuery::bind`], then `.await` it for a [`QueryStream`].
    pub fn query_stream(&self, text: impl Into<String>) -> StreamQuery<'_> {
        StreamQuery(self.query(text))
    }

    /// Cancels the streamed query started by request `request_id` (see
    /// [`QueryStream::request_id`]); dropping the stream does the same.
    pub async fn query_cancel(&self, request_id: u64) -> Result<()> {
        self.perform(client::query_cancel(request_id)).await
    }

    /// A table's records (`Vec<T>`) or one record (`Option<T>`).
    pub async fn select<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
    ) -> Result<T> {
        self.perform(client::select(what)).await
    }

    /// Creates one record.
    pub async fn create<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::create(what, &data)?).await
    }

    /// Inserts one record or many (`data` a list) into `table`.
    pub async fn insert<T: DeserializeOwned + 'static>(
        &self,
        table: &str,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::insert(table, &data)?).await
    }

    /// Inserts edge records (each with `in` and `out`) into `table`.
    pub async fn insert_relation<T: DeserializeOwned + 'static>(
        &self,
        table: &str,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::insert_relation(table, &data)?).await
    }

    /// Creates or replaces records.
    pub async fn upsert<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::upsert(what, &data)?).await
    }

    /// Replaces existing records' content (a missing record gives NONE).
    pub async fn update<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::update(what, &data)?).await
    }

    /// Merges fields into existing records (a missing record gives NONE).
    pub async fn merge<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.perform(client::merge(what, &data)?).await
    }

    /// Applies JSON-patch operations.
    pub async fn patch<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        ops: &[PatchOp],
    ) -> Result<T> {
        self.perform(client::patch(what, ops)).await
    }

    /// Deletes records, returning what was deleted.
    pub async fn delete<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
    ) -> Result<T> {
        self.perform(client::delete(what)).await
    }

    /// Creates the edge `from ->edge-> to` with optional content.
    pub async fn relate<T: DeserializeOwned + 'static>(
        &self,
        from: &RecordId,
        edge: &str,
        to: &RecordId,
        data: Option<impl Serialize>,
    ) -> Result<T> {
        self.perform(client::relate(from, edge, to, data.as_ref())?)
            .await
    }

    /// Calls a function (`fn::custom` or a builtin) with arguments (a tuple/list, or one value).
    pub async fn run<T: DeserializeOwned + 'static>(
        &self,
        function: &str,
        args: impl Serialize,
    ) -> Result<T> {
        self.perform(client::run(function, &args)?).await
    }

    /// Runs a GraphQL query (the database must `DEFINE CONFIG GRAPHQL AUTO`).
    pub async fn graphql<T: DeserializeOwned + 'static>(
        &self,
        query: &str,
        variables: impl Serialize,
    ) -> Result<T> {
        self.perform(client::graphql_with(query, &variables)?)
            .await
            .map_err(|e| e.version_gated("graphql"))
    }

    /// The server's version text, e.g. `surrealdb-3.3.5`.
    pub async fn version(&self) -> Result<String> {
        self.perform(client::version()).await
    }

    /// An RPC `ping` round trip.
    pub async fn ping(&self) -> Result<()> {
        self.perform(client::ping()).await
    }

    /// `GET /health` on the server: `Ok` when its storage is healthy.
    pub async fn health(&self) -> Result<()> {
        let status = http::get_status(
            &self.inner.host,
            self.inner.port,
            self.inner.tls,
            "/health",
            &self.inner.options,
        )
        .await?;
        if status == 200 {
            Ok(())
        } else {
            Err(Error::Http {
                status,
                message: "GET /health did not answer 200: the server's storage is not healthy"
                    .into(),
            })
        }
    }

    // --- live queries -------------------------------------------------------------------

    /// Subscribes to every change of `table` (WebSocket only).
    pub async fn live(&self, table: &str) -> Result<LiveStream> {
        self.live_request(client::live(table, false).into_parts().0)
            .await
    }

    /// Subscribes to every change of `table` with JSON-patch (DIFF) payloads.
    pub async fn live_diff(&self, table: &str) -> Result<LiveStream> {
        self.live_request(client::live(table, true).into_parts().0)
            .await
    }

    async fn live_request(&self, mut req: Request) -> Result<LiveStream> {
        if req.session.is_none() {
            req.session = self.session;
        }
        let Transport::Ws(w) = &self.inner.transport else {
            return Err(Error::NotSupported {
                method: req.method.as_str().to_owned(),
                message: format!(
                    "`{}` (live queries) is not supported over HTTP; use a WebSocket (ws:// or wss://) connection",
                    req.method
                ),
            });
        };
        // The core's mux checks the answer, and kills a subscription whose caller left.
        let (handle, id, items) = self
            .inner
            .log
            .observe(req, |req| w.live(req), log::no_payload)
            .await?;
        Ok(LiveStream {
            id,
            handle,
            items,
            conn: w.handle(),
            done: false,
            error: None,
        })
    }

    // --- transactions and sessions (WebSocket only) -------------------------------------

    /// Creates a new session on this connection and returns a client bound to it. The new
    /// session starts empty: sign in and select a namespace/database on it.
    pub async fn attach(&self) -> Result<Surreal> {
        let id = random_uuid();
        self.perform(client::attach(id)).await?;
        Ok(Surreal {
            inner: self.inner.clone(),
            session: Some(id),
        })
    }

    /// Drops this client's attached session (its live queries and transactions end).
    pub async fn detach(&self) -> Result<()> {
        let Some(id) = self.session else {
            return Err(Error::invalid(
                "session",
                "this client is on the connection's default session, which cannot be detached",
            ));
        };
        self.perform(client::detach(id)).await
    }

    /// The attached session of this client, if any.
    pub fn session_id(&self) -> Option<Uuid> {
        self.session
    }

    /// The ids of the sessions attached to this connection.
    pub async fn sessions(&self) -> Result<Vec<Uuid>> {
        self.perform(client::sessions()).await
    }
}

/// A query being built: bind variables, then `.await` it (or [`Query::live`] for a LIVE SELECT).
#[must_use = "a query does nothing until it is `.await`ed"]
pub struct Query<'a> {
    db: &'a Surreal,
    text: String,
    vars: Object,
    txn: Option<Uuid>,
    error: Option<Error>,
}

impl std::fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bound values may be secrets: only their names are shown.
        f.debug_struct("Query")
            .field("text", &self.text)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("txn", &self.txn)
            .finish()
    }
}

impl<'a> Query<'a> {
    /// Binds variables: a `("name", value)` pair, or a struct/map whose fields become variables.
    pub fn bind(mut self, bindings: impl Serialize) -> Self {
        if self.error.is_none() {
            if let Err(e) = client::bind_vars(&mut self.vars, &bindings) {
                self.error = Some(e.into());
            }
        }
        self
    }

    /// Runs a `LIVE SELECT …` query and returns its notification stream (WebSocket only).
    pub async fn live(self) -> Result<LiveStream> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let (req, _) = client::query(self.text, self.vars).into_parts();
        self.db.live_request(req).await
    }
}

impl<'a> IntoFuture for Query<'a> {
    type Output = Result<QueryResponse>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<QueryResponse>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        // The call is built here and `perform`'s future boxed as it is: wrapped in another
        // async block it would also carry the builder and the call (~0.8 KiB in all).
        if let Some(e) = self.error {
            return Box::pin(std::future::ready(Err(e)));
        }
        let mut call = client::query(self.text, self.vars);
        if let Some(t) = self.txn {
            call = call.in_transaction(t);
        }
        Box::pin(self.db.perform(call))
    }
}

/// A streamed query being built: bind variables, then `.await` it.
#[must_use = "a query does nothing until it is `.await`ed"]
#[derive(Debug)]
pub struct StreamQuery<'a>(Query<'a>);

impl<'a> StreamQuery<'a> {
    /// Binds variables, as [`Query::bind`].
    pub fn bind(self, bindings: impl Serialize) -> Self {
        StreamQuery(self.0.bind(bindings))
    }
}

impl<'a> IntoFuture for StreamQuery<'a> {
    type Output = Result<QueryStream>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<QueryStream>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let q = self.0;
            if let Some(e) = q.error {
                return Err(e);
            }
            let mut req = Request::new(
                surql::rpc::Method::QueryStream,
                vec![Value::from(q.text), Value::Object(q.vars)],
            );
            req.txn = q.txn;
            if req.session.is_none() {
                req.session = q.db.session;
            }
            let Transport::Ws(w) = &q.db.inner.transport else {
                return Err(Error::NotSupported {
                    method: "query_stream".into(),
                    message: "`query_stream` is not supported over HTTP; use a WebSocket (ws:// or wss://) connection"
                        .into(),
                });
            };
            let (id, frames) =
                q.db.inner
                    .log
                    .observe(req, |req| w.stream(req), log::no_payload)
                    .await
                    .map_err(|e| e.version_gated("query_stream"))?;
            Ok(QueryStream {
                id,
                frames,
                conn: w.handle(),
                ended: false,
            })
        })
    }
}

/// The frames of a streamed query (`Begin`, `Rows`…, `Finished` per statement, `End`).
///
/// At most `Options::stream_buffer` frames wait for the reader: a reader further behind
/// gets the buffered frames, then one `Error::ReaderTooSlow`, and the query is cancelled
/// on the server; other callers of the connection are never held up. Dropping the stream
/// before the end cancels the query on the server.
pub struct QueryStream {
    id: RequestId,
    frames: BoundedRx<StreamFrame>,
    conn: ws::Handle,
    ended: bool,
}

impl std::fmt::Debug for QueryStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryStream")
            .field("request_id", &self.id.0)
            .finish()
    }
}

impl QueryStream {
    /// The request id, for [`Surreal::query_cancel`].
    pub fn request_id(&self) -> u64 {
        self.id.0
    }

    /// The next frame; `None` after the `End` frame.
    pub async fn next(&mut self) -> Option<Result<StreamFrame>> {
        futures_lite::StreamExt::next(self).await
    }

    /// The next frame, waiting at most `timeout`: `Ok(None)` once the stream has ended,
    /// `Err` with `is_timeout()` if nothing arrived in time (the stream goes on).
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<StreamFrame>> {
        let next = async { self.next().await.transpose() };
        let timer = async {
            async_io::Timer::after(timeout).await;
            Err(Error::timeout("query_stream frame", timeout))
        };
        futures_lite::future::or(next, timer).await
    }
}

impl Stream for QueryStream {
    type Item = Result<StreamFrame>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.frames.poll_item(cx) {
            Poll::Ready(Next::Item(frame)) => {
                if frame.is_end() {
                    self.ended = true;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Next::End(outcome)) => {
                self.ended = true;
                Poll::Ready(outcome.map(|e| Err(e.version_gated("query_stream"))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for QueryStream {
    fn drop(&mut self) {
        if !self.ended {
            // If the connection is gone, the stream died with it.
            self.conn.cancel_stream(self.id);
        }
    }
}

/// A live query's notifications. Ends when the live query is killed; dropping it
/// unsubscribes (the kill is queued on the connection, nothing is spawned).
///
/// At most `Options::live_buffer` notifications wait for the reader: a reader further
/// behind gets the buffered ones, then one `Error::ReaderTooSlow`, and the live query is
/// killed on the server.
pub struct LiveStream {
    id: Uuid,
    handle: LiveHandle,
    items: BoundedRx<surql::mux::LiveItem>,
    conn: ws::Handle,
    done: bool,
    error: Option<Error>,
}

impl std::fmt::Debug for LiveStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStream").field("id", &self.id).finish()
    }
}

impl LiveStream {
    /// The server's live-query id: the one the subscription got, or the one a reconnect
    /// gave it since (see [`ConnectionEvent::LiveRemapped`]; a [`TypedLiveStream`] reports
    /// the change as an event).
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Whether the stream has ended: nothing more will arrive.
    pub fn is_ended(&self) -> bool {
        self.done
    }

    /// Why the stream ended, when it did not end normally (by `KILLED`).
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// The next notification; `None` when the live query has ended normally (killed or
    /// unsubscribed), `Some(Err(..))` once if it ended because of a failure.
    pub async fn next(&mut self) -> Option<Result<Notification>> {
        futures_lite::StreamExt::next(self).await
    }

    /// The next notification, waiting at most `timeout`: `Ok(None)` means the stream ended,
    /// `Err` with `is_timeout()` that nothing arrived in time; other errors say why the live
    /// query failed.
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Notification>> {
        let next = async { self.next().await.transpose() };
        let timer = async {
            async_io::Timer::after(timeout).await;
            Err(Error::timeout("live notification", timeout))
        };
        futures_lite::future::or(next, timer).await
    }
}

impl Stream for LiveStream {
    type Item = Result<Notification>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // A re-subscription only moves `id()` here; the typed adapter reports it.
        loop {
            return match self.poll_item(cx) {
                Poll::Ready(Some(Ok(surql::mux::LiveItem::Notification(n)))) => {
                    Poll::Ready(Some(Ok(n)))
                }
                Poll::Ready(Some(Ok(surql::mux::LiveItem::Resubscribed { .. }))) => continue,
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        if !self.done {
            // Queue the unsubscribe on the driver; if the connection is gone there is nothing
            // left to unsubscribe from.
            self.conn.unsubscribe(self.handle);
        }
    }
}

/// Runs [`QuerySet`](surql::query::QuerySet)s: `qs.all(&db).await`, `qs.first(&db).await`,
/// `qs.count_rows(&db).await`. (`qs.count()` itself builds the aggregate query; run any
/// aggregate with [`AggregateExt::fetch`].)
pub trait QuerySetExt {
    /// Every matching row, decoded as `T`.
    fn all<T: DeserializeOwned + Send + 'static>(
        &self,
        db: &Surreal,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;
    /// The first matching row, if any.
    fn first<T: DeserializeOwned + Send + 'static>(
        &self,
        db: &Surreal,
    ) -> impl Future<Output = Result<Option<T>>> + Send;
    /// The number of matching rows.
    fn count_rows(&self, db: &Surreal) -> impl Future<Output = Result<u64>> + Send;
}

impl QuerySetExt for surql::query::QuerySet {
    fn all<T: DeserializeOwned + Send + 'static>(
        &self,
        db: &Surreal,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        let call = client::fetch_all(self);
        async move { db.perform(call?).await }
    }

    fn first<T: DeserializeOwned + Send + 'static>(
        &self,
        db: &Surreal,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        let call = client::fetch_first(self);
        async move { db.perform(call?).await }
    }

    fn count_rows(&self, db: &Surreal) -> impl Future<Output = Result<u64>> + Send {
        let call = client::count(self);
        async move { db.perform(call?).await }
    }
}

/// Runs aggregate queries: `qs.avg("age").fetch(&db).await` (0 for count/sum of no rows,
/// NONE for avg/min/max of no rows).
pub trait AggregateExt {
    /// The aggregate's answer.
    fn fetch(self, db: &Surreal) -> impl Future<Output = Result<Value>> + Send;
}

impl AggregateExt for surql::query::AggregateQuery {
    fn fetch(self, db: &Surreal) -> impl Future<Output = Result<Value>> + Send {
        let call = client::aggregate(self);
        async move { db.perform(call?).await }
    }
}

impl Surreal {
    /// Runs a compiled query (from the query compiler) and returns every statement's result;
    /// the answer is statement `q.result_index`.
    pub async fn execute(&self, q: surql::query::CompiledQuery) -> Result<QueryResponse> {
        self.perform(client::execute(q)?).await
    }

    /// Runs an aggregate (`qs.count()`, `qs.sum(f)`, …) and returns its answer.
    pub async fn aggregate(&self, agg: surql::query::AggregateQuery) -> Result<Value> {
        self.perform(client::aggregate(agg)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_refused_before_connecting() {
        let err = futures_lite::future::block_on(Surreal::connect("ftp://x")).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidUrl { url, .. } if url == "ftp://x"),
            "{err:?}"
        );
        assert!(err.to_string().contains("unsupported scheme"), "{err}");
        let err = futures_lite::future::block_on(Surreal::connect("ws://h:99999")).unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn random_uuids_differ_and_are_v4() {
        let a = random_uuid();
        let b = random_uuid();
        assert_ne!(a, b);
        assert_eq!(a.as_bytes()[6] >> 4, 4);
    }
}
