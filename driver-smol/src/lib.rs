//! # surql-smol — an async SurrealDB client on smol / async-io
//!
//! A thin IO layer around the sans-IO [`surql`] core: one driver task per WebSocket
//! connection (many concurrent callers multiplexed by request id), or stateless HTTP
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

mod error;
mod http;
#[doc(hidden)]
pub mod internal;
mod ws;

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;
use surql::client::{self, Call};
use surql::conn::LiveHandle;
pub use surql::rpc::StreamFrame;
use surql::rpc::{Notification, Request};
use surql::{Object, Value};

pub use error::{Error, Result};
pub use surql;
pub use surql::client::{CallError, Credentials, PatchOp, QueryResponse, Resource, Token};
pub use surql::{RecordId, Uuid};
pub use ws::ConnectionEvent;

pub use surql::Options;

enum Transport {
    Ws(ws::WsClient),
    Http(Arc<http::HttpClient>),
}

struct Inner {
    transport: Transport,
    host: String,
    port: u16,
    tls: bool,
    options: Options,
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
        let e = surql::endpoint::Endpoint::parse(url).map_err(|e| Error::Url {
            url: e.url,
            reason: e.reason,
        })?;
        let tls = e.scheme.is_tls();
        let transport = if e.scheme.is_ws() {
            Transport::Ws(ws::WsClient::connect(e.rpc_url(), options.conn_config()).await?)
        } else {
            Transport::Http(http::HttpClient::new(&e, &options)?)
        };
        Ok(Surreal {
            inner: Arc::new(Inner {
                transport,
                host: e.host,
                port: e.port,
                tls,
                options,
            }),
            session: None,
        })
    }

    /// `true` for a WebSocket connection, `false` for HTTP.
    pub fn is_websocket(&self) -> bool {
        matches!(self.inner.transport, Transport::Ws(_))
    }

    /// Registers a hook called on connection life-cycle events (disconnect, reconnect, live
    /// id remaps). WebSocket only; a no-op over HTTP, which has no connection to lose.
    pub fn on_reconnect(&self, hook: impl Fn(&ConnectionEvent) + Send + Sync + 'static) {
        if let Transport::Ws(w) = &self.inner.transport {
            w.hooks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Arc::new(hook));
        }
    }

    async fn rpc(&self, mut req: Request) -> Result<surql::rpc::Payload> {
        if req.session.is_none() {
            req.session = self.session;
        }
        match &self.inner.transport {
            Transport::Ws(w) => w.call(req).await,
            Transport::Http(h) => Ok(h.call(req).await?),
        }
    }

    /// Runs any prepared [`Call`] (the generic entry point every method uses).
    pub async fn run_call<T: 'static>(&self, call: Call<T>) -> Result<T> {
        let (req, decode) = call.into_parts();
        let v = self.rpc(req).await?;
        decode(v).map_err(Error::from)
    }

    // --- authentication -----------------------------------------------------------------

    /// Signs in (root, namespace, database or record access) and returns the token.
    pub async fn signin(&self, creds: &Credentials) -> Result<Token> {
        self.run_call(client::signin(creds)).await
    }

    /// Signs up a record user (record access with SIGNUP) and returns the token.
    pub async fn signup(&self, creds: &Credentials) -> Result<Token> {
        self.run_call(client::signup(creds)?).await
    }

    /// Authenticates with an access token.
    pub async fn authenticate(&self, token: &str) -> Result<()> {
        self.run_call(client::authenticate(token)).await
    }

    /// Drops the session's authentication.
    pub async fn invalidate(&self) -> Result<()> {
        self.run_call(client::invalidate()).await
    }

    /// Trades a token pair for a new one (record access `WITH REFRESH`).
    pub async fn refresh(&self, token: &Token) -> Result<Token> {
        self.run_call(client::refresh(token)?).await
    }

    /// Revokes the refresh grant of `token`.
    pub async fn revoke(&self, token: &Token) -> Result<()> {
        self.run_call(client::revoke(token)).await
    }

    /// The signed-in record user (`None`/NONE for system users).
    pub async fn info<T: DeserializeOwned + 'static>(&self) -> Result<T> {
        self.run_call(client::info()).await
    }

    // --- session ------------------------------------------------------------------------

    /// Selects the namespace (the database is left as it is).
    pub async fn use_ns(&self, ns: &str) -> Result<()> {
        self.run_call(client::use_ns_db(Some(ns), None)).await
    }

    /// Selects the database (the namespace is left as it is).
    pub async fn use_db(&self, db: &str) -> Result<()> {
        self.run_call(client::use_ns_db(None, Some(db))).await
    }

    /// Selects namespace and database in one round trip.
    pub async fn use_ns_db(&self, ns: &str, db: &str) -> Result<()> {
        self.run_call(client::use_ns_db(Some(ns), Some(db))).await
    }

    /// Defines the session variable `$key` (WebSocket only).
    pub async fn set(&self, key: &str, value: impl Serialize) -> Result<()> {
        self.run_call(client::set(key, &value)?).await
    }

    /// Removes the session variable `$key` (WebSocket only).
    pub async fn unset(&self, key: &str) -> Result<()> {
        self.run_call(client::unset(key)?).await
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
        self.run_call(client::query_cancel(request_id)).await
    }

    /// A table's records (`Vec<T>`) or one record (`Option<T>`).
    pub async fn select<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
    ) -> Result<T> {
        self.run_call(client::select(what)).await
    }

    /// Creates one record.
    pub async fn create<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.run_call(client::create(what, &data)?).await
    }

    /// Inserts one record or many (`data` a list) into `table`.
    pub async fn insert<T: DeserializeOwned + 'static>(
        &self,
        table: &str,
        data: impl Serialize,
    ) -> Result<T> {
        self.run_call(client::insert(table, &data)?).await
    }

    /// Inserts edge records (each with `in` and `out`) into `table`.
    pub async fn insert_relation<T: DeserializeOwned + 'static>(
        &self,
        table: &str,
        data: impl Serialize,
    ) -> Result<T> {
        self.run_call(client::insert_relation(table, &data)?).await
    }

    /// Creates or replaces records.
    pub async fn upsert<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.run_call(client::upsert(what, &data)?).await
    }

    /// Replaces existing records' content (a missing record gives NONE).
    pub async fn update<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.run_call(client::update(what, &data)?).await
    }

    /// Merges fields into existing records (a missing record gives NONE).
    pub async fn merge<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        data: impl Serialize,
    ) -> Result<T> {
        self.run_call(client::merge(what, &data)?).await
    }

    /// Applies JSON-patch operations.
    pub async fn patch<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
        ops: &[PatchOp],
    ) -> Result<T> {
        self.run_call(client::patch(what, ops)).await
    }

    /// Deletes records, returning what was deleted.
    pub async fn delete<T: DeserializeOwned + 'static>(
        &self,
        what: impl Into<Resource>,
    ) -> Result<T> {
        self.run_call(client::delete(what)).await
    }

    /// Creates the edge `from ->edge-> to` with optional content.
    pub async fn relate<T: DeserializeOwned + 'static>(
        &self,
        from: &RecordId,
        edge: &str,
        to: &RecordId,
        data: Option<impl Serialize>,
    ) -> Result<T> {
        self.run_call(client::relate(from, edge, to, data.as_ref())?)
            .await
    }

    /// Calls a function (`fn::custom` or a builtin) with arguments (a tuple/list, or one value).
    pub async fn run<T: DeserializeOwned + 'static>(
        &self,
        function: &str,
        args: impl Serialize,
    ) -> Result<T> {
        self.run_call(client::run(function, &args)?).await
    }

    /// Runs a GraphQL query (the database must `DEFINE CONFIG GRAPHQL AUTO`).
    pub async fn graphql<T: DeserializeOwned + 'static>(
        &self,
        query: &str,
        variables: impl Serialize,
    ) -> Result<T> {
        let vars = match surql::to_value(&variables).map_err(|e| CallError::Encode {
            what: "GraphQL variables",
            source: e,
        })? {
            Value::Object(o) => o,
            Value::None | Value::Null => Object::new(),
            other => {
                return Err(Error::Call(CallError::Invalid {
                    what: "GraphQL variables",
                    reason: format!("expected an object, found {}", other.kind()),
                }))
            }
        };
        self.run_call(client::graphql(query, vars)).await
    }

    /// The server's version text, e.g. `surrealdb-3.3.5`.
    pub async fn version(&self) -> Result<String> {
        self.run_call(client::version()).await
    }

    /// An RPC `ping` round trip.
    pub async fn ping(&self) -> Result<()> {
        self.run_call(client::ping()).await
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
            Err(Error::Http(format!("GET /health answered HTTP {status}")))
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
            return Err(Error::NotSupported(format!(
                "`{}` (live queries) is not supported over HTTP; use a WebSocket (ws:// or wss://) connection",
                req.method
            )));
        };
        let (value, handle, rx) = w.live(req).await?;
        let id = live_id_of(&value)?;
        Ok(LiveStream {
            id,
            handle,
            rx: Box::pin(rx),
            commands: w.commands.clone(),
            done: false,
        })
    }

    // --- transactions and sessions (WebSocket only) -------------------------------------

    /// Opens an interactive RPC transaction.
    pub async fn begin(&self) -> Result<Transaction<'_>> {
        let id = self.run_call(client::begin()).await?;
        Ok(Transaction { db: self, id })
    }

    /// Creates a new session on this connection and returns a client bound to it. The new
    /// session starts empty: sign in and select a namespace/database on it.
    pub async fn attach(&self) -> Result<Surreal> {
        let id = random_uuid();
        self.run_call(client::attach(id)).await?;
        Ok(Surreal {
            inner: self.inner.clone(),
            session: Some(id),
        })
    }

    /// Drops this client's attached session (its live queries and transactions end).
    pub async fn detach(&self) -> Result<()> {
        let Some(id) = self.session else {
            return Err(Error::Call(CallError::Invalid {
                what: "session",
                reason:
                    "this client is on the connection's default session, which cannot be detached"
                        .into(),
            }));
        };
        self.run_call(client::detach(id)).await
    }

    /// The attached session of this client, if any.
    pub fn session_id(&self) -> Option<Uuid> {
        self.session
    }

    /// The ids of the sessions attached to this connection.
    pub async fn sessions(&self) -> Result<Vec<Uuid>> {
        self.run_call(client::sessions()).await
    }
}

fn live_id_of(v: &Value) -> Result<Uuid> {
    match v {
        Value::Uuid(u) => Ok(*u),
        // `query` with a LIVE SELECT answers with statement rows
        Value::Array(rows) => rows
            .iter()
            .find_map(|r| match r.get("result") {
                Some(Value::Uuid(u)) => Some(*u),
                _ => None,
            })
            .ok_or_else(|| {
                Error::Call(CallError::Protocol {
                    method: "live",
                    detail: "the LIVE SELECT returned no live id (did the statement fail?)".into(),
                })
            }),
        other => Err(Error::Call(CallError::Protocol {
            method: "live",
            detail: format!("expected a live id, found {}", other.kind()),
        })),
    }
}

/// A query being built: bind variables, then `.await` it (or [`Query::live`] for a LIVE SELECT).
pub struct Query<'a> {
    db: &'a Surreal,
    text: String,
    vars: Object,
    txn: Option<Uuid>,
    error: Option<Error>,
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
        let (req, _) = client::query(&self.text, self.vars).into_parts();
        self.db.live_request(req).await
    }
}

impl<'a> IntoFuture for Query<'a> {
    type Output = Result<QueryResponse>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<QueryResponse>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if let Some(e) = self.error {
                return Err(e);
            }
            let mut call = client::query(&self.text, self.vars);
            if let Some(t) = self.txn {
                call = call.in_transaction(t);
            }
            self.db.run_call(call).await
        })
    }
}

/// A streamed query being built: bind variables, then `.await` it.
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
                return Err(Error::NotSupported(
                    "`query_stream` is not supported over HTTP; use a WebSocket (ws:// or wss://) connection"
                        .into(),
                ));
            };
            let (id, frames) = w.stream(req).await?;
            Ok(QueryStream {
                id,
                frames: Box::pin(frames),
                commands: w.commands.clone(),
                ended: false,
            })
        })
    }
}

/// The frames of a streamed query (`Begin`, `Rows`…, `Finished` per statement, `End`).
/// At most a few frames are buffered: an unread stream pauses the connection's reads.
/// Dropping it before the end cancels the query on the server.
pub struct QueryStream {
    id: surql::conn::RequestId,
    frames:
        Pin<Box<async_channel::Receiver<std::result::Result<StreamFrame, surql::conn::ConnError>>>>,
    commands: async_channel::Sender<ws::Command>,
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

    /// The next frame, waiting at most `timeout`.
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<StreamFrame>> {
        let next = async { self.next().await.transpose() };
        let timer = async {
            async_io::Timer::after(timeout).await;
            Err(Error::Timeout(format!(
                "no query_stream frame within {timeout:?}"
            )))
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
        match self.frames.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if frame.is_end() {
                    self.ended = true;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.ended = true;
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(Some(Err(Error::Closed)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for QueryStream {
    fn drop(&mut self) {
        if !self.ended {
            // If the connection is gone, the stream died with it.
            let _ = self.commands.try_send(ws::Command::CancelStream(self.id));
        }
    }
}

/// An interactive RPC transaction (WebSocket only). Dropping it without `commit` leaves it to
/// the server, which cancels it when the connection closes; call [`Transaction::cancel`].
#[derive(Debug)]
pub struct Transaction<'a> {
    db: &'a Surreal,
    id: Uuid,
}

impl<'a> Transaction<'a> {
    /// The transaction id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// A query inside this transaction.
    pub fn query(&self, text: impl Into<String>) -> Query<'a> {
        let mut q = self.db.query(text);
        q.txn = Some(self.id);
        q
    }

    /// Commits. A conflict is reported as a server error with
    /// `is_transaction_conflict() == true`.
    pub async fn commit(self) -> Result<()> {
        self.db.run_call(client::commit(self.id)).await
    }

    /// Cancels (rolls back).
    pub async fn cancel(self) -> Result<()> {
        self.db.run_call(client::cancel(self.id)).await
    }
}

/// A live query's notifications. Ends when the live query is killed; dropping it
/// unsubscribes (the kill is queued on the connection, nothing is spawned).
pub struct LiveStream {
    id: Uuid,
    handle: LiveHandle,
    rx: Pin<Box<async_channel::Receiver<ws::LiveMsg>>>,
    commands: async_channel::Sender<ws::Command>,
    done: bool,
}

impl std::fmt::Debug for LiveStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStream").field("id", &self.id).finish()
    }
}

impl LiveStream {
    /// The server's live-query id when the subscription was made (it changes after a
    /// reconnect; see [`ConnectionEvent::LiveRemapped`]).
    pub fn id(&self) -> Uuid {
        self.id
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
            Err(Error::Timeout(format!(
                "no live notification within {timeout:?}"
            )))
        };
        futures_lite::future::or(next, timer).await
    }
}

impl Stream for LiveStream {
    type Item = Result<Notification>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.as_mut().poll_next(cx) {
            Poll::Ready(Some(ws::LiveMsg::Notification(n))) => Poll::Ready(Some(Ok(n))),
            Poll::Ready(Some(ws::LiveMsg::Ended(reason))) => {
                self.done = true;
                Poll::Ready(live_end_error(reason).map(Err))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(Some(Err(Error::Closed)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A live query that ended because of a failure becomes one last error item.
fn live_end_error(reason: surql::live::LiveEndReason) -> Option<Error> {
    use surql::live::LiveEndReason as R;
    match reason {
        R::Killed | R::Unsubscribed => None,
        R::SubscribeFailed(e) | R::RestoreFailed(e) => Some(e.into()),
        R::ConnectionClosed => Some(Error::Closed),
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        if !self.done {
            // Queue the unsubscribe on the driver; if the connection is gone there is nothing
            // left to unsubscribe from.
            let _ = self
                .commands
                .try_send(ws::Command::Unsubscribe(self.handle));
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
        async move { db.run_call(call?).await }
    }

    fn first<T: DeserializeOwned + Send + 'static>(
        &self,
        db: &Surreal,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        let call = client::fetch_first(self);
        async move { db.run_call(call?).await }
    }

    fn count_rows(&self, db: &Surreal) -> impl Future<Output = Result<u64>> + Send {
        let call = client::count(self);
        async move { db.run_call(call?).await }
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
        async move { db.run_call(call?).await }
    }
}

impl Surreal {
    /// Runs a compiled query (from the query compiler) and returns every statement's result;
    /// the answer is statement `q.result_index`.
    pub async fn execute(&self, q: surql::query::CompiledQuery) -> Result<QueryResponse> {
        self.run_call(client::execute(q)).await
    }

    /// Runs an aggregate (`qs.count()`, `qs.sum(f)`, …) and returns its answer.
    pub async fn aggregate(&self, agg: surql::query::AggregateQuery) -> Result<Value> {
        self.run_call(client::aggregate(agg)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_refused_before_connecting() {
        let err = futures_lite::future::block_on(Surreal::connect("ftp://x")).unwrap_err();
        assert!(
            matches!(&err, Error::Url { url, .. } if url == "ftp://x"),
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
