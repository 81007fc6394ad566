//! RPC framing: request envelopes, responses, live notifications, `query_stream` frames
//! and `query` result rows, as pure encode/decode functions over CBOR (protocol.md §2, §3, §5).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use crate::cbor::{self, Encoder, RawValue};
use crate::value::{Object, Uuid, Value};

mod error;
pub mod http;
mod payload;
#[cfg(test)]
mod tests;

pub use error::{codes, ErrorKind, ServerError};
pub use payload::Payload;

macro_rules! methods {
    ($($variant:ident => $wire:literal, $doc:literal;)*) => {
        /// Every RPC method SurrealDB 3.3.5 accepts (protocol.md §3).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Method {
            $(#[doc = $doc] $variant,)*
        }

        impl Method {
            /// Every method, in protocol order.
            pub const ALL: &'static [Method] = &[$(Method::$variant,)*];

            /// The lowercase wire name (the server matches names case-sensitively).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Method::$variant => $wire,)*
                }
            }

            /// Parses a wire name; `set` is accepted as the alias of `let`.
            pub fn from_wire(name: &str) -> Option<Method> {
                match name {
                    $($wire => Some(Method::$variant),)*
                    "set" => Some(Method::Let),
                    _ => None,
                }
            }
        }
    };
}

methods! {
    Ping => "ping", "`ping`: NONE; keeps the connection alive.";
    Version => "version", "`version`: the server version text.";
    Info => "info", "`info`: the record of `$auth`.";
    Use => "use", "`use [ns, db]`: select namespace and database.";
    Signup => "signup", "`signup [{NS, DB, AC, ...}]`: a token.";
    Signin => "signin", "`signin [{...}]`: a token.";
    Authenticate => "authenticate", "`authenticate [jwt]`: authenticate the session with a token.";
    Refresh => "refresh", "`refresh [{access, refresh}]`: a new token pair.";
    Revoke => "revoke", "`revoke [{access, refresh}]`: revoke a refresh token.";
    Invalidate => "invalidate", "`invalidate`: drop the session's authentication.";
    Reset => "reset", "`reset`: drop authentication, ns, db and variables.";
    Let => "let", "`let [name, value]` (alias `set`): define a session variable.";
    Unset => "unset", "`unset [name]`: remove a session variable.";
    Query => "query", "`query [sql, vars?]`: an array of statement results.";
    Live => "live", "`live [table, diff?]`: start a live query; its UUID.";
    Kill => "kill", "`kill [uuid]`: stop a live query.";
    Select => "select", "`select [what]`.";
    Create => "create", "`create [what, data?]`.";
    Insert => "insert", "`insert [what, data]`.";
    InsertRelation => "insert_relation", "`insert_relation [table, data]`.";
    Upsert => "upsert", "`upsert [what, data?]`.";
    Update => "update", "`update [what, data?]` (ignores `txn`).";
    Merge => "merge", "`merge [what, data?]`.";
    Patch => "patch", "`patch [what, patches?, diff?]` (ignores `txn`).";
    Relate => "relate", "`relate [from, table, to, data?]` (ignores `txn`).";
    Delete => "delete", "`delete [what]`.";
    Run => "run", "`run [name, version?, args?]`: call a function (ignores `txn`).";
    Graphql => "graphql", "`graphql [query, vars?, operation?]`.";
    Gql => "gql", "`gql [query, vars?]`.";
    Begin => "begin", "`begin`: open an RPC transaction; its UUID (WebSocket only).";
    Commit => "commit", "`commit [txn]` (WebSocket only).";
    Cancel => "cancel", "`cancel [txn]` (WebSocket only).";
    Attach => "attach", "`attach` with envelope `session`: create a session.";
    Detach => "detach", "`detach` with envelope `session`: drop a session.";
    Sessions => "sessions", "`sessions`: the attached session UUIDs.";
    QueryStream => "query_stream", "`query_stream [sql, vars?]`: a query answered by stream frames.";
    QueryCancel => "query_cancel", "`query_cancel [request-id]`: stop a `query_stream`.";
}

impl Method {
    /// Whether the method can work over stateless HTTP `POST /rpc` (protocol.md §1.2).
    pub fn works_over_http(self) -> bool {
        !matches!(
            self,
            Method::Live
                | Method::Kill
                | Method::Let
                | Method::Unset
                | Method::Begin
                | Method::Commit
                | Method::Cancel
                | Method::Sessions
                | Method::QueryStream
                | Method::QueryCancel
                | Method::Attach
                | Method::Detach
        )
    }

    /// Whether a successful call changes session state that later requests depend on
    /// (and that must be replayed after a reconnect).
    pub fn changes_session(self) -> bool {
        matches!(
            self,
            Method::Use
                | Method::Signup
                | Method::Signin
                | Method::Authenticate
                | Method::Refresh
                | Method::Invalidate
                | Method::Reset
                | Method::Let
                | Method::Unset
                | Method::Attach
                | Method::Detach
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One RPC request: method, positional params and the optional 3.x envelope fields.
///
/// A `query` may also carry variables already encoded as CBOR ([`RawValue`]s, see
/// [`Request::query_with_raw`]): they travel in the variables object (`params[1]`) next
/// to the [`Value`] ones, their bytes copied into the frame as they are.
///
/// `Debug` hides the params of `signin`, `signup`, `authenticate`, `refresh` and
/// `revoke` (passwords, keys, tokens), and the values bound to a `query` or `let` (a new
/// password, an API key): it shows the query text and the variable names.
#[derive(Clone, PartialEq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Positional parameters.
    pub params: Vec<Value>,
    /// The attached session to run in (`None` = the connection's default session).
    pub session: Option<Uuid>,
    /// The RPC transaction to run in (WebSocket only).
    pub txn: Option<Uuid>,
    /// Variables bound as encoded CBOR, written into `params[1]` ([`Request::raw_vars`]).
    pub(crate) raw_vars: BTreeMap<String, RawValue>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Request");
        d.field("method", &self.method);
        if matches!(
            self.method,
            Method::Signin
                | Method::Signup
                | Method::Authenticate
                | Method::Refresh
                | Method::Revoke
        ) {
            d.field("params", &format_args!("<{} redacted>", self.params.len()));
        } else if matches!(self.method, Method::Query | Method::QueryStream) {
            // A bound value may be a secret (a new password, a key): the text and the
            // variable names only.
            d.field("text", &self.params.first())
                .field("vars", &self.var_names());
        } else if self.method == Method::Let {
            d.field("name", &self.params.first())
                .field("value", &"<redacted>");
        } else {
            d.field("params", &self.params);
        }
        d.field("session", &self.session)
            .field("txn", &self.txn)
            .finish()
    }
}

impl Request {
    /// A request with `params`, in the default session, outside any transaction.
    pub fn new(method: Method, params: Vec<Value>) -> Self {
        Request {
            method,
            params,
            session: None,
            txn: None,
            raw_vars: BTreeMap::new(),
        }
    }

    /// Runs the request in the attached session `session`.
    pub fn with_session(mut self, session: Uuid) -> Self {
        self.session = Some(session);
        self
    }

    /// Runs the request inside the RPC transaction `txn`.
    pub fn with_txn(mut self, txn: Uuid) -> Self {
        self.txn = Some(txn);
        self
    }

    /// `ping`.
    pub fn ping() -> Self {
        Self::new(Method::Ping, Vec::new())
    }

    /// `query [sql, vars]`; `vars` are bound parameters (`$name`).
    pub fn query(sql: impl Into<String>, vars: Object) -> Self {
        Self::new(
            Method::Query,
            vec![Value::String(sql.into()), Value::Object(vars)],
        )
    }

    /// `query [sql, vars]` with more variables already encoded as CBOR: `raw_vars` are
    /// written into the variables object next to `vars`, their bytes copied into the frame
    /// as they are (no [`Value`] tree is built for them). A name in both is sent once, with
    /// the raw value.
    ///
    /// ```
    /// use surql::cbor::RawValue;
    /// use surql::rpc::Request;
    /// use surql::{Object, Value};
    ///
    /// let mut raw = std::collections::BTreeMap::new();
    /// raw.insert("rows".to_owned(), RawValue::from_serde(&[1, 2]).unwrap());
    /// let mut vars = Object::new();
    /// vars.insert("n".into(), Value::from(3));
    /// let req = Request::query_with_raw("RETURN [$n, $rows]", vars.clone(), raw);
    ///
    /// // The same frame as binding the decoded value.
    /// vars.insert("rows".into(), Value::Array(vec![1.into(), 2.into()]));
    /// assert_eq!(req.encode(Some(1)), Request::query("RETURN [$n, $rows]", vars).encode(Some(1)));
    /// assert_eq!(format!("{req:?}").contains("[\"n\", \"rows\"]"), true);
    /// ```
    pub fn query_with_raw(
        sql: impl Into<String>,
        vars: Object,
        raw_vars: BTreeMap<String, RawValue>,
    ) -> Self {
        let mut r = Self::query(sql, vars);
        r.raw_vars = raw_vars;
        r
    }

    /// The variables bound as encoded CBOR ([`Request::query_with_raw`]); empty for
    /// every other request.
    pub fn raw_vars(&self) -> &BTreeMap<String, RawValue> {
        &self.raw_vars
    }

    /// The names of every bound variable (of `params[1]` and the raw ones), in order.
    pub fn var_names(&self) -> Vec<&str> {
        let vars = match self.params.get(1) {
            Some(Value::Object(o)) => Some(o),
            _ => None,
        };
        merged(vars, &self.raw_vars).map(|(k, _)| k).collect()
    }

    /// `use [ns, db]`.
    pub fn use_ns_db(ns: impl Into<String>, db: impl Into<String>) -> Self {
        Self::new(
            Method::Use,
            vec![Value::String(ns.into()), Value::String(db.into())],
        )
    }

    /// `signin [credentials]`.
    pub fn signin(credentials: Object) -> Self {
        Self::new(Method::Signin, vec![Value::Object(credentials)])
    }

    /// `signup [credentials]`.
    pub fn signup(credentials: Object) -> Self {
        Self::new(Method::Signup, vec![Value::Object(credentials)])
    }

    /// `authenticate [token]`.
    pub fn authenticate(token: impl Into<String>) -> Self {
        Self::new(Method::Authenticate, vec![Value::String(token.into())])
    }

    /// `let [name, value]`.
    pub fn let_var(name: impl Into<String>, value: Value) -> Self {
        Self::new(Method::Let, vec![Value::String(name.into()), value])
    }

    /// `unset [name]`.
    pub fn unset(name: impl Into<String>) -> Self {
        Self::new(Method::Unset, vec![Value::String(name.into())])
    }

    /// `live [table, diff]`.
    pub fn live(table: crate::value::Table, diff: bool) -> Self {
        Self::new(Method::Live, vec![Value::Table(table), Value::Bool(diff)])
    }

    /// `kill [live-id]`.
    pub fn kill(live_id: Uuid) -> Self {
        Self::new(Method::Kill, vec![Value::Uuid(live_id)])
    }

    /// The request as its wire map `{id?, method, params, session?, txn?}`.
    /// `session`/`txn` are UUID values (CBOR tag 37), the form the server emits and accepts.
    /// Raw variables are decoded into `params[1]`; one that does not decode (only an item
    /// nested deeper than [`cbor::MAX_DEPTH`], which the server refuses too) appears as the
    /// [`Value::Bytes`] of its encoding.
    pub fn to_value(&self, id: Option<u64>) -> Value {
        let mut o = Object::new();
        if let Some(id) = id {
            o.insert("id".into(), Value::Int(wire_id(id)));
        }
        o.insert(
            "method".into(),
            Value::String(self.method.as_str().to_owned()),
        );
        let mut params = self.params.clone();
        if !self.raw_vars.is_empty() {
            let vars = match params.get(1) {
                Some(Value::Object(o)) => Some(o),
                _ => None,
            };
            let merged: Object = merged(vars, &self.raw_vars)
                .map(|(k, v)| {
                    let v = match v {
                        Var::Value(v) => v.clone(),
                        Var::Raw(r) => r
                            .to_value()
                            .unwrap_or_else(|_| Value::Bytes(r.as_bytes().to_vec())),
                    };
                    (k.to_owned(), v)
                })
                .collect();
            if params.len() < 2 {
                params.resize(2, Value::None);
            }
            params[1] = Value::Object(merged);
        }
        o.insert("params".into(), Value::Array(params));
        if let Some(s) = self.session {
            o.insert("session".into(), Value::Uuid(s));
        }
        if let Some(t) = self.txn {
            o.insert("txn".into(), Value::Uuid(t));
        }
        Value::Object(o)
    }

    /// The request as one CBOR frame. `id: None` sends it without id (its reply then has
    /// none either and cannot be told apart from other id-less replies).
    ///
    /// The frame is written straight from the request (the bytes of
    /// `cbor::encode(&self.to_value(id))`, without building that value): the params'
    /// values are encoded where they are, and raw variables copied in.
    pub fn encode(&self, id: Option<u64>) -> Vec<u8> {
        let raw_len: usize = self.raw_vars.values().map(|r| r.as_bytes().len()).sum();
        let mut out = Vec::with_capacity(64 + raw_len);
        let mut e = Encoder::new(&mut out);
        let entries = 2
            + usize::from(id.is_some())
            + usize::from(self.session.is_some())
            + usize::from(self.txn.is_some());
        // Keys in the order an `Object` (sorted) writes them.
        e.map(entries);
        if let Some(id) = id {
            e.text("id").int(wire_id(id));
        }
        e.text("method").text(self.method.as_str());
        e.text("params");
        if self.raw_vars.is_empty() {
            e.array(self.params.len());
            for p in &self.params {
                e.value(p);
            }
        } else {
            // The raw variables always travel in `params[1]` (padded with NONE when the
            // params are shorter, replacing it when it is not an object).
            let n = self.params.len().max(2);
            e.array(n);
            for i in 0..n {
                if i == 1 {
                    let vars = match self.params.get(1) {
                        Some(Value::Object(o)) => Some(o),
                        _ => None,
                    };
                    e.map(merged(vars, &self.raw_vars).count());
                    for (k, v) in merged(vars, &self.raw_vars) {
                        e.text(k);
                        match v {
                            Var::Value(v) => {
                                e.value(v);
                            }
                            Var::Raw(r) => e.0.extend_from_slice(r.as_bytes()),
                        }
                    }
                } else {
                    match self.params.get(i) {
                        Some(p) => e.value(p),
                        None => e.none(),
                    };
                }
            }
        }
        if let Some(s) = self.session {
            e.text("session").uuid(&s);
        }
        if let Some(t) = self.txn {
            e.text("txn").uuid(&t);
        }
        out
    }
}

/// Ids come from a per-connection counter; saturate rather than wrap into negatives.
fn wire_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// One variable of a request: a value, or one already encoded.
enum Var<'a> {
    Value(&'a Value),
    Raw(&'a RawValue),
}

/// The variables of `vars` and `raw` in name order; a name in both is the raw one.
fn merged<'a>(
    vars: Option<&'a Object>,
    raw: &'a BTreeMap<String, RawValue>,
) -> impl Iterator<Item = (&'a str, Var<'a>)> {
    let mut a = vars.into_iter().flatten().peekable();
    let mut b = raw.iter().peekable();
    std::iter::from_fn(move || {
        let order = match (a.peek(), b.peek()) {
            (None, None) => return None,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
        };
        if order == std::cmp::Ordering::Equal {
            // Shadowed by the raw variable of the same name.
            a.next();
        }
        let take_raw = order != std::cmp::Ordering::Less;
        Some(if take_raw {
            let (k, v) = b.next()?;
            (k.as_str(), Var::Raw(v))
        } else {
            let (k, v) = a.next()?;
            (k.as_str(), Var::Value(v))
        })
    })
}

/// A message from the server could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid message from the server: {message}")]
pub struct RpcDecodeError {
    /// What was wrong, with the offending input described.
    pub message: String,
}

impl RpcDecodeError {
    fn new(message: impl Into<String>) -> Self {
        RpcDecodeError {
            message: message.into(),
        }
    }
}

/// The action of a live notification.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// A record was created.
    Create,
    /// A record was updated.
    Update,
    /// A record was deleted (`result` is the record before deletion).
    Delete,
    /// The live query ended on the server; nothing follows.
    Killed,
    /// An action this client does not know (e.g. `ERROR`), kept verbatim.
    Other(String),
}

impl Action {
    /// Maps the wire text.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "CREATE" => Action::Create,
            "UPDATE" => Action::Update,
            "DELETE" => Action::Delete,
            "KILLED" => Action::Killed,
            other => Action::Other(other.to_owned()),
        }
    }
}

/// A live-query notification (protocol.md §2.4).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The live query's UUID.
    pub live_id: Uuid,
    /// What happened.
    pub action: Action,
    /// The record id (NONE for `KILLED`).
    pub record: Value,
    /// The record after the change (before it for DELETE), or patch ops in DIFF mode.
    pub result: Value,
    /// The attached session owning the live query, from the envelope; `None` for the
    /// default session.
    pub session: Option<Uuid>,
}

/// One frame of a `query_stream` answer (surrealdb-rpc 3.3.5 `stream.rs`, revision 1).
///
/// Rows are provisional until their statement's `Finished` frame; a `Finished` or `End`
/// carrying an error retracts rows of the statements it covers.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamFrame {
    /// The stream is open; `statements` is an upper bound on the statements that finish.
    Begin {
        /// Upper bound on the number of statements.
        statements: u64,
        /// The frame protocol revision (`1` when absent).
        version: i64,
    },
    /// Rows produced by statement `index`; more may follow.
    Rows {
        /// The statement index.
        index: u64,
        /// The rows.
        values: Vec<Value>,
    },
    /// Statement `index` produced one value that is not a list of rows.
    Value {
        /// The statement index.
        index: u64,
        /// The value.
        value: Value,
    },
    /// Statement `index` is final.
    Finished {
        /// The statement index.
        index: u64,
        /// Execution time as the server renders it (`"1.2ms"`).
        time: String,
        /// `Some("live")`/`Some("kill")` for those statements, else `None`.
        kind: Option<String>,
        /// The statement's value is one bare value, not a list.
        single: bool,
        /// The statement failed: discard its rows.
        error: Option<ServerError>,
    },
    /// The stream is complete; nothing follows.
    End {
        /// Number of statements whose `Finished` frame was delivered.
        results: u64,
        /// Total time as the server renders it.
        time: String,
        /// Execution stopped, or something finished could not be kept.
        error: Option<ServerError>,
    },
    /// A frame kind this client does not know; the protocol says to ignore it.
    Unknown {
        /// The `stream` tag.
        tag: String,
        /// The whole frame object.
        value: Value,
    },
}

impl StreamFrame {
    /// Whether this frame ends the stream.
    pub fn is_end(&self) -> bool {
        matches!(self, StreamFrame::End { .. })
    }

    /// Reads a frame object `{stream: <tag>, ...}`.
    pub fn from_value(v: Value) -> Result<StreamFrame, RpcDecodeError> {
        let Value::Object(mut o) = v else {
            return Err(RpcDecodeError::new(format!(
                "query_stream frame is a {}, expected an object with a `stream` tag",
                v.kind()
            )));
        };
        let tag = match o.get("stream") {
            Some(Value::String(s)) => s.clone(),
            other => {
                return Err(RpcDecodeError::new(format!(
                    "query_stream frame has no text `stream` tag (found {})",
                    other.map_or("nothing", Value::kind)
                )))
            }
        };
        let uint = |o: &Object, key: &str| -> Result<u64, RpcDecodeError> {
            match o.get(key) {
                Some(Value::Int(n)) if *n >= 0 => Ok(*n as u64),
                other => Err(RpcDecodeError::new(format!(
                    "query_stream `{tag}` frame: `{key}` must be a non-negative integer, found {}",
                    other.map_or("nothing", Value::kind)
                ))),
            }
        };
        let text = |o: &Object, key: &str| -> Result<String, RpcDecodeError> {
            match o.get(key) {
                Some(Value::String(s)) => Ok(s.clone()),
                other => Err(RpcDecodeError::new(format!(
                    "query_stream `{tag}` frame: `{key}` must be text, found {}",
                    other.map_or("nothing", Value::kind)
                ))),
            }
        };
        let error = |o: &Object| {
            o.get("error")
                .filter(|e| !e.is_nullish())
                .map(ServerError::from_value)
        };
        Ok(match tag.as_str() {
            "begin" => StreamFrame::Begin {
                statements: uint(&o, "statements")?,
                version: o.get("version").and_then(Value::as_int).unwrap_or(1),
            },
            "rows" => {
                let index = uint(&o, "index")?;
                let values = match o.remove("values") {
                    Some(Value::Array(a)) => a,
                    other => {
                        return Err(RpcDecodeError::new(format!(
                            "query_stream `rows` frame: `values` must be an array, found {}",
                            other.as_ref().map_or("nothing", Value::kind)
                        )))
                    }
                };
                StreamFrame::Rows { index, values }
            }
            "value" => StreamFrame::Value {
                index: uint(&o, "index")?,
                value: o.remove("value").unwrap_or(Value::None),
            },
            "finished" => StreamFrame::Finished {
                index: uint(&o, "index")?,
                time: text(&o, "time")?,
                kind: o.get("type").and_then(Value::as_str).map(str::to_owned),
                single: matches!(o.get("single"), Some(Value::Bool(true))),
                error: error(&o),
            },
            "end" => StreamFrame::End {
                results: uint(&o, "results")?,
                time: text(&o, "time")?,
                error: error(&o),
            },
            _ => StreamFrame::Unknown {
                tag,
                value: Value::Object(o),
            },
        })
    }
}

/// One message from the server, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A reply. `id: None` means the server could not correlate it (an envelope-level
    /// failure) or the request was sent without id.
    Response {
        /// The echoed request id.
        id: Option<u64>,
        /// The `result`, or the `error` object.
        result: Result<Value, ServerError>,
        /// The echoed attached session.
        session: Option<Uuid>,
    },
    /// A live-query notification.
    Notification(Notification),
    /// One frame of a `query_stream` answer.
    Stream {
        /// The `query_stream` request's id.
        id: u64,
        /// The frame.
        frame: StreamFrame,
        /// The echoed attached session.
        session: Option<Uuid>,
    },
}

fn uuid_of(v: &Value) -> Option<Uuid> {
    match v {
        Value::Uuid(u) => Some(*u),
        Value::String(s) => Uuid::parse(s).ok(),
        _ => None,
    }
}

/// Decodes one server frame, recognising stream frames by shape: a reply whose `result`
/// is an object with a known `stream` tag. User data could imitate that shape, so a
/// client that knows which ids are `query_stream` requests should call
/// [`decode_incoming_with`] instead (the [`Connection`](crate::conn::Connection) does).
pub fn decode_incoming(bytes: &[u8]) -> Result<Incoming, RpcDecodeError> {
    decode_incoming_with(bytes, |_| true)
}

/// Decodes one server frame. `is_stream(id)` says whether `id` is a pending `query_stream`
/// request: only then is a `{stream: ...}` result read as a [`StreamFrame`].
///
/// A message without `id` whose `result` is a map holding `action` and `id` is a live
/// notification (protocol.md §2.4); any other id-less message is an uncorrelated reply.
pub fn decode_incoming_with(
    bytes: &[u8],
    is_stream: impl Fn(u64) -> bool,
) -> Result<Incoming, RpcDecodeError> {
    let value = cbor::decode(bytes).map_err(|e| RpcDecodeError::new(format!("not CBOR: {e}")))?;
    let Value::Object(mut o) = value else {
        return Err(RpcDecodeError::new(format!(
            "expected a response map, found a {}",
            value.kind()
        )));
    };
    let session = match o.get("session") {
        None | Some(Value::None | Value::Null) => None,
        Some(v) => Some(uuid_of(v).ok_or_else(|| {
            RpcDecodeError::new(format!("`session` is a {}, expected a UUID", v.kind()))
        })?),
    };
    let id = match o.get("id") {
        None | Some(Value::None) => None,
        Some(Value::Int(n)) if *n >= 0 => Some(*n as u64),
        // This client only sends non-negative integer ids, so anything else cannot be ours.
        Some(other) => {
            return Err(RpcDecodeError::new(format!(
                "response `id` is {} ({:?}); this client only sends non-negative integer ids",
                other.kind(),
                other
            )))
        }
    };
    if let Some(err) = o.get("error") {
        return Ok(Incoming::Response {
            id,
            result: Err(ServerError::from_value(err)),
            session,
        });
    }
    let result = o.remove("result").unwrap_or(Value::None);
    match id {
        None => {
            if let Value::Object(r) = &result {
                if r.contains_key("action") && r.contains_key("id") {
                    return decode_notification(r, session).map(Incoming::Notification);
                }
            }
            Ok(Incoming::Response {
                id: None,
                result: Ok(result),
                session,
            })
        }
        Some(id) => {
            let is_frame = matches!(
                result.get("stream").and_then(Value::as_str),
                Some("begin" | "rows" | "value" | "finished" | "end")
            );
            if is_frame && is_stream(id) {
                let frame = StreamFrame::from_value(result)?;
                return Ok(Incoming::Stream { id, frame, session });
            }
            Ok(Incoming::Response {
                id: Some(id),
                result: Ok(result),
                session,
            })
        }
    }
}

/// Reads a successful reply `{id, result, session?}` without decoding its `result`: the
/// request id and the `result` item's bytes. `None` for anything else (an error reply, a
/// message without a non-negative integer id or without `result`, malformed envelope
/// entries or trailing bytes after the map): [`decode_incoming_with`] classifies and
/// reports those.
///
/// The `result` bytes are only located, not checked, so they can still fail to decode.
/// When `result` is the last entry of a definite-length map (the server's `{id, result}`)
/// it is not even walked: its bytes are the rest of the frame, and whoever reads the
/// payload checks them as the one item they must be (a truncated item, or bytes after it,
/// is then that reader's decode error). A `{stream: ...}` result is not recognised here
/// (the caller knows which ids stream).
pub fn split_reply(bytes: &[u8]) -> Option<(u64, Payload)> {
    match split_envelope(bytes)? {
        (Some(id), payload) => Some((id, payload)),
        (None, _) => None,
    }
}

/// [`split_reply`] that also accepts a reply without `id` (or with a NONE one), as HTTP
/// answers are.
pub(crate) fn split_envelope(bytes: &[u8]) -> Option<(Option<u64>, Payload)> {
    // A final `result` runs to the end of the frame: stepping over it here would walk the
    // whole answer once more before it is read (see `split_reply`).
    // Only the entries read are kept, as they are met (no list of all of them): the last
    // occurrence wins, as when the map is decoded into an object.
    let (mut id, mut result, mut error) = (None, None, false);
    let end = cbor::map_entries_with(
        bytes,
        0,
        |key, _, last| (last && key == "result").then_some(bytes.len()),
        |key, range| match key {
            "id" => id = Some(range),
            "result" => result = Some(range),
            "error" => error = true,
            _ => {}
        },
    )
    .ok()??;
    if end != bytes.len() || error {
        return None;
    }
    let id = match id.and_then(|r| bytes.get(r)) {
        None => None,
        // A plain unsigned integer (what every answer to a request carries) is read from
        // its head; anything else is decoded, with the same outcome.
        Some(item) => match cbor::head(item, 0) {
            Ok((0, Some(n), end)) if end == item.len() && i64::try_from(n).is_ok() => Some(n),
            _ => match cbor::decode(item) {
                Ok(Value::None) => None,
                Ok(Value::Int(n)) => Some(u64::try_from(n).ok()?),
                _ => return None,
            },
        },
    };
    Some((id, Payload::from_cbor(bytes.get(result?)?)))
}

fn decode_notification(r: &Object, session: Option<Uuid>) -> Result<Notification, RpcDecodeError> {
    let live_id = r.get("id").and_then(uuid_of).ok_or_else(|| {
        RpcDecodeError::new(format!(
            "live notification `id` is {}, expected a UUID",
            r.get("id").map_or("nothing", Value::kind)
        ))
    })?;
    let action = match r.get("action") {
        Some(Value::String(s)) => Action::from_wire(s),
        other => {
            return Err(RpcDecodeError::new(format!(
                "live notification `action` is {}, expected text",
                other.map_or("nothing", Value::kind)
            )))
        }
    };
    Ok(Notification {
        live_id,
        action,
        record: r.get("record").cloned().unwrap_or(Value::None),
        result: r.get("result").cloned().unwrap_or(Value::None),
        session,
    })
}

/// One statement's result in a `query` answer (protocol.md §5).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// Execution time as the server renders it (`"1.2ms"`, `"812ns"`, `"12.5µs"`).
    pub time: String,
    /// `Some("live")` for `LIVE SELECT`, `Some("kill")` for `KILL`, else `None`.
    pub kind: Option<String>,
    /// The statement's value, or its error (no `code`: rows carry none).
    pub result: Result<Value, ServerError>,
}

/// Splits a `query` result into its statement rows `[{status, time, type, result, kind?, details?}]`.
pub fn parse_query_results(v: Value) -> Result<Vec<QueryResult>, RpcDecodeError> {
    let Value::Array(rows) = v else {
        return Err(RpcDecodeError::new(format!(
            "a query result must be an array of statement results, found a {}",
            v.kind()
        )));
    };
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| parse_row(i, row))
        .collect()
}

fn parse_row(i: usize, row: Value) -> Result<QueryResult, RpcDecodeError> {
    let Value::Object(mut o) = row else {
        return Err(RpcDecodeError::new(format!(
            "statement result {i} is a {}, expected an object {{status, time, result}}",
            row.kind()
        )));
    };
    let time = match o.remove("time") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let kind = match o.remove("type") {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let status = match o.get("status") {
        Some(Value::String(s)) => s.clone(),
        other => {
            return Err(RpcDecodeError::new(format!(
                "statement result {i}: `status` is {}, expected \"OK\" or \"ERR\"",
                other.map_or("missing", Value::kind)
            )))
        }
    };
    let value = o.remove("result").unwrap_or(Value::None);
    let result = match status.as_str() {
        "OK" => Ok(value),
        "ERR" => {
            let details = o.remove("details");
            Err(statement_error(value, o.get("kind"), details))
        }
        other => {
            return Err(RpcDecodeError::new(format!(
                "statement result {i}: unknown status {other:?}, expected \"OK\" or \"ERR\""
            )))
        }
    };
    Ok(QueryResult { time, kind, result })
}

/// A failed statement's error from its row's `result` (the message), `kind` and `details`.
fn statement_error(result: Value, kind: Option<&Value>, details: Option<Value>) -> ServerError {
    ServerError {
        code: None,
        kind: kind
            .and_then(Value::as_str)
            .map(ErrorKind::from_wire)
            .unwrap_or(ErrorKind::Internal),
        message: match result {
            Value::String(s) => s,
            other => format!("{other:?}"),
        },
        details: details.filter(|d| !d.is_nullish()),
        cause: None,
    }
}

/// One statement's result in a `query` answer, its value left as CBOR bytes
/// ([`split_query_results`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RawQueryResult {
    /// Execution time as the server renders it.
    pub time: String,
    /// `Some("live")` for `LIVE SELECT`, `Some("kill")` for `KILL`, else `None`.
    pub kind: Option<String>,
    /// Where the statement's `result` item lies in the bytes given to
    /// [`split_query_results`] (`None`: the row has no `result`, which means NONE), or the
    /// statement's error.
    pub result: Result<Option<std::ops::Range<usize>>, ServerError>,
}

/// [`parse_query_results`] over the CBOR bytes of a `query` result, without decoding the
/// statements' values: each row's `status`, `time`, `type` (and a failed statement's
/// error) are decoded, its `result` is only located.
///
/// `Ok(None)` when the bytes are well-formed but not in the shape this reader takes
/// without decoding (not an array, trailing bytes, a row that is not a map with definite
/// text keys, a missing or unknown `status`): [`parse_query_results`] on the decoded value
/// then gives the answer or the exact error. `Err` for bytes that are not CBOR. As with
/// [`cbor::skip_item`], the located values are checked for structure only, so reading one
/// can still fail.
pub fn split_query_results(bytes: &[u8]) -> Result<Option<Vec<RawQueryResult>>, cbor::DecodeError> {
    let rows = split_query_results_reading(bytes, usize::MAX, |_| None)?;
    Ok(rows.map(|rows| {
        rows.into_iter()
            .map(|r| RawQueryResult {
                time: r.time.text(bytes).into_owned(),
                kind: r.kind,
                result: r.result,
            })
            .collect()
    }))
}

/// A statement row as [`split_query_results_reading`] finds it: a [`RawQueryResult`] whose
/// `time` stays where it lies in the answer.
pub(crate) struct LocatedRow {
    pub(crate) time: TimeText,
    pub(crate) kind: Option<String>,
    pub(crate) result: Result<Option<std::ops::Range<usize>>, ServerError>,
}

/// A statement's `time`: where its text lies in the answer (the usual case, no copy made
/// for a time nobody may ask for), or the text itself (decoded from another shape, or
/// given as a value).
#[derive(Clone)]
pub(crate) enum TimeText {
    At(std::ops::Range<usize>),
    Owned(String),
}

impl TimeText {
    /// The text, given the answer's bytes the range points into.
    pub(crate) fn text<'b>(&'b self, bytes: &'b [u8]) -> Cow<'b, str> {
        match self {
            TimeText::At(r) => bytes
                .get(r.clone())
                .and_then(|b| std::str::from_utf8(b).ok())
                .map_or(Cow::Borrowed(""), Cow::Borrowed),
            TimeText::Owned(s) => Cow::Borrowed(s),
        }
    }
}

/// [`split_query_results`] that lets the caller read statement `want`'s `result` value
/// where the walk reaches it instead of stepping over it: `read(start)` answers the
/// offset just past the value when it has read it, `None` to have it skipped (after a
/// failed read, say). The answer is the same as [`split_query_results`]'s either way, so
/// the caller can tell from it whether what it read is the statement's value (an OK
/// status, a range starting where it read; a later duplicate `result` key wins).
pub(crate) fn split_query_results_reading(
    bytes: &[u8],
    want: usize,
    mut read: impl FnMut(usize) -> Option<usize>,
) -> Result<Option<Vec<LocatedRow>>, cbor::DecodeError> {
    let (major, len, mut pos) = cbor::head(bytes, 0)?;
    if major != 4 {
        return Ok(None);
    }
    // Each row is read where it starts (one pass over the values: locating the rows first
    // would step over every value twice). A hostile length cannot reserve more than the
    // input could fill.
    let mut out = Vec::with_capacity(len.map_or(0, |n| n.min(bytes.len() as u64) as usize));
    let mut left = len;
    loop {
        match left {
            Some(0) => break,
            Some(n) => left = Some(n - 1),
            None if bytes.get(pos) == Some(&0xff) => {
                pos += 1;
                break;
            }
            None => {}
        }
        let row = out.len();
        // The fields a row is read for, as they are met (no list of its entries): the last
        // occurrence wins, as when the map is decoded into an object.
        let mut fields = RowFields::default();
        let Some(end) = cbor::map_entries_with(
            bytes,
            pos,
            |key, at, _| {
                if row == want && key == "result" {
                    read(at)
                } else {
                    None
                }
            },
            |key, range| fields.note(key, range),
        )?
        else {
            return Ok(None);
        };
        pos = end;
        let small =
            |f: &Option<std::ops::Range<usize>>| -> Result<Option<Value>, cbor::DecodeError> {
                match f.clone().and_then(|f| bytes.get(f)) {
                    Some(b) => cbor::decode(b).map(Some),
                    None => Ok(None),
                }
            };
        let time = match (&fields.time, text_field(bytes, &fields.time)?) {
            // Borrowed, the field is one definite text string: its text ends the item.
            (Some(item), Some(Cow::Borrowed(t))) => TimeText::At(item.end - t.len()..item.end),
            (_, Some(t)) => TimeText::Owned(t.into_owned()),
            (_, None) => TimeText::Owned(String::new()),
        };
        let kind = text_field(bytes, &fields.kind)?.map(Cow::into_owned);
        let result = match text_field(bytes, &fields.status)?.as_deref() {
            Some("OK") => Ok(fields.result),
            Some("ERR") => Err(statement_error(
                small(&fields.result)?.unwrap_or(Value::None),
                small(&fields.error_kind)?.as_ref(),
                small(&fields.details)?,
            )),
            _ => return Ok(None),
        };
        out.push(LocatedRow { time, kind, result });
    }
    if pos != bytes.len() {
        return Ok(None);
    }
    Ok(Some(out))
}

/// Where a statement row's fields lie (the last occurrence of each key).
#[derive(Default)]
struct RowFields {
    status: Option<std::ops::Range<usize>>,
    time: Option<std::ops::Range<usize>>,
    /// `type`.
    kind: Option<std::ops::Range<usize>>,
    result: Option<std::ops::Range<usize>>,
    /// A failed statement's `kind`.
    error_kind: Option<std::ops::Range<usize>>,
    details: Option<std::ops::Range<usize>>,
}

impl RowFields {
    fn note(&mut self, key: &str, range: std::ops::Range<usize>) {
        let slot = match key {
            "status" => &mut self.status,
            "time" => &mut self.time,
            "type" => &mut self.kind,
            "result" => &mut self.result,
            "kind" => &mut self.error_kind,
            "details" => &mut self.details,
            _ => return,
        };
        *slot = Some(range);
    }
}

/// A row field's text (`None`: missing, or not text), borrowed from `bytes` when it is
/// one definite text string (the field's item then ends with that text); anything else is
/// decoded, with decoding's errors.
fn text_field<'b>(
    bytes: &'b [u8],
    field: &Option<std::ops::Range<usize>>,
) -> Result<Option<Cow<'b, str>>, cbor::DecodeError> {
    let Some(item) = field.clone().and_then(|f| bytes.get(f)) else {
        return Ok(None);
    };
    if let Some(s) = cbor::definite_text(item) {
        return Ok(Some(Cow::Borrowed(s)));
    }
    // NONE (tag 6 over null) or null: how the server sends an absent `type`; not text.
    if item == cbor::NONE || item == [0xf6] {
        return Ok(None);
    }
    match cbor::decode(item)? {
        Value::String(s) => Ok(Some(Cow::Owned(s))),
        _ => Ok(None),
    }
}

/// Fuzz entry: decoding arbitrary bytes must never panic; and where the reply fast path
/// ([`split_envelope`]) reads a reply that the full decoder also reads, both find the same
/// id and the same result.
#[doc(hidden)]
pub fn fuzz_decode_incoming(data: &[u8]) {
    if let Ok(Incoming::Response { result: Ok(v), .. }) = decode_incoming(data) {
        let _ = parse_query_results(v);
    }
    if let Some((id, p)) = split_envelope(data) {
        if let (Some(id), Ok(v)) = (id, p.to_value()) {
            if let Ok(Incoming::Response {
                id: full_id,
                result: Ok(full),
                ..
            }) = decode_incoming_with(data, |_| false)
            {
                assert_eq!(full_id, Some(id), "the reply's id");
                // Compared as bytes: NaN is not equal to itself.
                assert!(
                    cbor::encode(&full) == cbor::encode(&v),
                    "the reply's result: {full:?} vs {v:?}"
                );
            }
        }
        if let Some(b) = p.raw_bytes() {
            let _ = split_query_results(b);
        }
        // A first `take` reads while it locates; a later one after: both ways.
        if let Ok(mut r) = crate::client::QueryResponse::from_payload(p) {
            let _ = r.clone().take::<Vec<Object>>(0);
            let _ = r.take::<Value>(1);
            let _ = r.take::<Value>(0);
            let _ = r.results();
        }
    }
    let _ = decode_incoming_with(data, |id| id % 2 == 0);
}
