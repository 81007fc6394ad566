//! Typed client calls: one constructor per RPC method, each returning a [`Call`] that pairs the
//! [`Request`] to send with the function that decodes its answer.
//!
//! Both drivers run these same calls, so the request shapes, the result decoding and every
//! error message are written once, here, and the two drivers cannot drift apart.
//!
//! ```
//! use surql::client::{self, Credentials};
//! use surql::Value;
//!
//! let call = client::signin(&Credentials::root("root", "secret"));
//! assert_eq!(call.request().method.as_str(), "signin");
//! // a driver sends `call.request()`, then decodes the server's answer:
//! let token = call.decode(Value::from("eyJhbGciOi...")).unwrap();
//! assert_eq!(token.access, "eyJhbGciOi...");
//! ```

// `CallError` carries the server's error object by value so callers can match on it; errors
// are the cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::rpc::{
    parse_query_results, split_query_results_reading, Method, Payload, QueryResult, Request,
    ServerError, TimeText,
};
use crate::value::{
    to_value, DeError, Object, RecordId, RecordIdKey, SerError, Table, Uuid, Value,
};

/// What a [`Call`] can fail with, independent of the transport.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The server answered with an error.
    #[error("{0}")]
    Server(ServerError),
    /// The server's answer did not have the expected shape or type.
    #[error("cannot decode the answer to `{method}`: {source}")]
    Decode {
        /// The method whose answer was being decoded.
        method: &'static str,
        /// What did not fit.
        source: DeError,
    },
    /// A value given by the caller could not be converted for sending.
    #[error("cannot send {what}: {source}")]
    Encode {
        /// Which argument.
        what: &'static str,
        /// Why.
        source: SerError,
    },
    /// An argument was rejected before anything was sent.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why, naming the input.
        reason: String,
    },
    /// A write that must affect a record affected none: the server answered with nothing,
    /// which is how SurrealDB reports a write its table permissions denied.
    #[error("`{method}` of {target} affected no record: the write was denied by the table's permissions (SurrealDB reports a denied write as an empty result)")]
    NotAffected {
        /// The method.
        method: &'static str,
        /// The record or table written.
        target: String,
    },
    /// The answer was not what the protocol promises (a bug in the server or in surql).
    #[error("unexpected answer to `{method}`: {detail}")]
    Protocol {
        /// The method.
        method: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl CallError {
    /// The server's error, if the server answered with one.
    pub fn as_server_error(&self) -> Option<&ServerError> {
        match self {
            CallError::Server(e) => Some(e),
            _ => None,
        }
    }
}

/// Turns a call's successful answer into its typed output. (Boxing a plain `fn` item or a
/// capture-free closure allocates nothing: they are zero-sized.)
///
/// It takes the answer as a [`Payload`]: typed answers are read straight from its bytes.
pub type Decoder<T> = Box<dyn FnOnce(Payload) -> Result<T, CallError> + Send>;

/// One RPC round trip: the request to send and how to decode its answer.
pub struct Call<T> {
    request: Request,
    decode: Decoder<T>,
}

impl<T> fmt::Debug for Call<T> {
    // The request's params may hold a password or a token (signin, authenticate, …): only
    // the method is shown, so a logged call never leaks a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.request.method.as_str())
            .finish_non_exhaustive()
    }
}

impl<T: 'static> Call<T> {
    /// A call whose answer is decoded from a [`Value`] tree.
    fn new(
        request: Request,
        decode: impl FnOnce(Value) -> Result<T, CallError> + Send + 'static,
    ) -> Self {
        let method = request.method.as_str();
        Call {
            request,
            decode: Box::new(move |p: Payload| {
                let v = p.into_value().map_err(|e| decode_error(method, &e))?;
                decode(v)
            }),
        }
    }

    /// A call whose answer is read from the payload itself (straight from its bytes).
    fn raw(
        request: Request,
        decode: impl FnOnce(Payload) -> Result<T, CallError> + Send + 'static,
    ) -> Self {
        Call {
            request,
            decode: Box::new(decode),
        }
    }

    /// The request to send.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Mutable access to the request (to set its session or transaction).
    pub fn request_mut(&mut self) -> &mut Request {
        &mut self.request
    }

    /// Runs this call inside the RPC transaction `txn` (WebSocket only).
    pub fn in_transaction(mut self, txn: Uuid) -> Self {
        self.request.txn = Some(txn);
        self
    }

    /// Runs this call on the attached session `session`.
    pub fn on_session(mut self, session: Uuid) -> Self {
        self.request.session = Some(session);
        self
    }

    /// Splits into the request and the decoder.
    pub fn into_parts(self) -> (Request, Decoder<T>) {
        (self.request, self.decode)
    }

    /// Decodes the server's successful answer, given as a value tree.
    pub fn decode(self, v: Value) -> Result<T, CallError> {
        (self.decode)(Payload::from(v))
    }

    /// Decodes the server's successful answer as it came off the wire.
    pub fn decode_payload(self, p: Payload) -> Result<T, CallError> {
        (self.decode)(p)
    }
}

fn req(method: Method, params: Vec<Value>) -> Request {
    Request::new(method, params)
}

fn decode_error(method: &'static str, e: &crate::cbor::DecodeError) -> CallError {
    CallError::Decode {
        method,
        source: DeError(Payload::describe_error(e)),
    }
}

fn decode_as<T: DeserializeOwned + 'static>(
    method: &'static str,
) -> impl Fn(Payload) -> Result<T, CallError> {
    move |p| p.into_deserialized().map_err(|e| decode_error(method, &e))
}

macro_rules! decoder {
    ($method:literal) => {
        |p| decode_as($method)(p)
    };
}

fn unit(_: Value) -> Result<(), CallError> {
    Ok(())
}

/// Encodes a caller's value for sending, refusing what the server would silently alter
/// (see [`check_sendable`]). Every argument that carries user data passes here.
fn encode<S: Serialize + ?Sized>(what: &'static str, v: &S) -> Result<Value, CallError> {
    let v = to_value(v).map_err(|source| CallError::Encode { what, source })?;
    check_sendable(what, &v)?;
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Fidelity: nothing the caller gives is silently changed on the way to storage

/// The largest mantissa of the server's decimal type (rust_decimal: 96 bits).
const DECIMAL_MAX_MANTISSA: &str = "79228162514264337593543950335";
/// The most digits after the point the server's decimal type keeps.
const DECIMAL_MAX_SCALE: u64 = 28;

/// Refuses a value the server would store as something else, or could not read, naming
/// it: today a decimal the server's decimal type cannot hold exactly (more than 28 digits
/// after the point, or more than 96 bits of mantissa: SurrealDB 3.3.5 rounds
/// `0.000000000000000000000000000001` to `0` without a word, and cannot read `1e-30` at
/// all). `what` names the argument in the error.
///
/// Every call that encodes user data runs this (bound variables, record data, function
/// arguments, record-access parameters); call it yourself for values you put in a request
/// by hand.
///
/// ```
/// use surql::client::check_sendable;
/// use surql::{Decimal, Value};
/// let exact = Value::Decimal(Decimal::parse("0.1234567890123456789012345678").unwrap());
/// assert!(check_sendable("price", &exact).is_ok());
/// let rounded = Value::Decimal(Decimal::parse("1e-30").unwrap());
/// let err = check_sendable("price", &rounded).unwrap_err();
/// assert!(err.to_string().contains("1e-30"), "{err}");
/// ```
pub fn check_sendable(what: &'static str, v: &Value) -> Result<(), CallError> {
    // The value in hand is kept out of the stack, which therefore stays unallocated for
    // a scalar (the usual bound variable); the visiting order is that of a stack that
    // started with `v`.
    let mut stack = Vec::new();
    let mut next = Some(v);
    while let Some(v) = next {
        match v {
            Value::Decimal(d) if !decimal_is_exact_on_server(d.as_str()) => {
                return Err(CallError::Invalid {
                    what,
                    reason: format!(
                        "the decimal {} cannot be stored exactly: the server's decimal keeps at most \
                         {DECIMAL_MAX_SCALE} digits after the point (an exponent of at most \
                         {DECIMAL_MAX_SCALE} either way) and a magnitude below \
                         {DECIMAL_MAX_MANTISSA}.5, and would silently round it or fail to read it; \
                         round it yourself or send it as a string or a float",
                        d.as_str()
                    ),
                })
            }
            _ => push_children(v, &mut stack),
        }
        next = stack.pop();
    }
    Ok(())
}

/// Pushes the values nested in `v` (no recursion, so nesting depth cannot overflow).
fn push_children<'a>(v: &'a Value, stack: &mut Vec<&'a Value>) {
    match v {
        Value::Array(a) | Value::Set(a) => stack.extend(a),
        Value::Object(o) => stack.extend(o.values()),
        Value::Range(r) => {
            for b in [&r.start, &r.end] {
                if let crate::value::Bound::Included(x) | crate::value::Bound::Excluded(x) = b {
                    stack.push(x);
                }
            }
        }
        Value::RecordId(rid) => match &rid.key {
            RecordIdKey::Array(a) => stack.extend(a),
            RecordIdKey::Object(o) => stack.extend(o.values()),
            _ => {}
        },
        _ => {}
    }
}

/// Whether the server's decimal holds the decimal written as `text` exactly, and can read
/// it at all. The server (surrealdb-core 3.3.5, rust_decimal 1.43) parses plain text with
/// rounding, so the value must need at most 28 digits after the point (after dropping
/// trailing zeros) and a mantissa below 2^96. Text with an exponent is read by
/// `from_scientific_lossy`: its base is parsed (and rounded) alone, and an exponent beyond
/// 28 is an error there even for a value that fits, so those are refused too.
fn decimal_is_exact_on_server(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let Some(i) = t.find(['e', 'E']) else {
        return decimal_value_fits(t, 0);
    };
    let (base, exp) = (&t[..i], &t[i + 1..]);
    let Ok(exp) = exp.parse::<i64>() else {
        return false; // beyond any exponent the server reads
    };
    // `from_scientific_lossy` refuses an exponent beyond the maximum scale either way
    exp.unsigned_abs() <= DECIMAL_MAX_SCALE
        && decimal_value_fits(base, 0)
        && decimal_value_fits(base, exp)
}

/// Whether `num × 10^exp` (`num` plain digits with an optional point, no sign) is
/// m × 10^-s with m < 2^96 and s ≤ 28.
fn decimal_value_fits(num: &str, exp: i64) -> bool {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits: String = int.chars().chain(frac.chars()).collect();
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return true; // zero, whatever its scale
    }
    // value = digits × 10^-(frac.len() - exp)
    let mut scale = (frac.len() as i64).saturating_sub(exp);
    let mut mantissa = digits;
    while scale > 0 && mantissa.ends_with('0') {
        mantissa = &mantissa[..mantissa.len() - 1];
        scale -= 1;
    }
    if scale > DECIMAL_MAX_SCALE as i64 {
        return false;
    }
    // a negative scale appends zeros to the mantissa
    let zeros = if scale < 0 { scale.unsigned_abs() } else { 0 };
    let max = DECIMAL_MAX_MANTISSA;
    match (mantissa.len() as u64)
        .saturating_add(zeros)
        .cmp(&(max.len() as u64))
    {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => {
            let full: String = mantissa
                .chars()
                .chain(std::iter::repeat_n('0', zeros as usize))
                .collect();
            full.as_str() <= max
        }
    }
}

/// Whether the data-carrying RPC methods (`create`, `insert`, `upsert`, `update`, `merge`,
/// `patch`, `relate`) would store `data` as something else. Measured on SurrealDB 3.3.5:
/// they keep a range only when its start is included and its end is bounded (`1..5`,
/// `1..=5`); every other range is rewritten (`'a'..` becomes `'a'..NONE`, `1>..=5` becomes
/// `1..5`, `..5` becomes `NONE..5`). Sets and record ids with range keys are kept. A `query`
/// with the data bound as a variable stores every one of them as given.
fn rpc_would_alter(data: &Value) -> bool {
    use crate::value::Bound;
    let mut stack = vec![data];
    while let Some(v) = stack.pop() {
        match v {
            Value::Range(r)
                if !matches!(r.start, Bound::Included(_)) || matches!(r.end, Bound::Unbounded) =>
            {
                return true
            }
            _ => push_children(v, &mut stack),
        }
    }
    false
}

/// Whether the server answers with one record (`ONLY`) rather than an array, as its RPC
/// methods decide: for a record id that is not a range.
fn singular(what: &Value) -> bool {
    matches!(what, Value::RecordId(r) if !matches!(r.key, RecordIdKey::Range(_)))
}

/// The same write as an RPC method, as one `query` statement with `what` bound as `$what`
/// and the data as `$data`, its single result decoded by `decode` exactly as the RPC's
/// answer would be. `text` is the statement with those two parameters.
fn write_via_query<T: 'static>(
    method: &'static str,
    text: &'static str,
    vars: Vec<(&'static str, Value)>,
    decode: impl FnOnce(Payload) -> Result<T, CallError> + Send + 'static,
) -> Call<T> {
    let vars: Object = vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Call::raw(
        req(Method::Query, vec![Value::from(text), Value::Object(vars)]),
        move |p| {
            let v = p.into_value().map_err(|e| decode_error(method, &e))?;
            let mut rows = parse_query_results(v).map_err(|e| CallError::Protocol {
                method,
                detail: e.to_string(),
            })?;
            if rows.len() != 1 {
                return Err(CallError::Protocol {
                    method,
                    detail: format!("expected one statement result, found {}", rows.len()),
                });
            }
            match rows.pop().map(|r| r.result) {
                Some(Ok(v)) => decode(Payload::from(v)),
                Some(Err(e)) => Err(CallError::Server(e)),
                None => Err(CallError::Protocol {
                    method,
                    detail: "no statement result".into(),
                }),
            }
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Resources

/// What a CRUD method acts on: a whole table or one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    /// Every record of a table.
    Table(Table),
    /// One record.
    Record(RecordId),
}

impl Resource {
    fn into_value(self) -> Value {
        match self {
            Resource::Table(t) => Value::Table(t),
            Resource::Record(r) => Value::RecordId(r),
        }
    }
}

impl From<&str> for Resource {
    /// A table name. (A record is never parsed out of a string: use [`RecordId`] or a
    /// `(table, key)` tuple, so a string key can never silently become a number.)
    fn from(t: &str) -> Self {
        Resource::Table(Table::new(t))
    }
}
impl From<String> for Resource {
    fn from(t: String) -> Self {
        Resource::Table(Table(t))
    }
}
impl From<Table> for Resource {
    fn from(t: Table) -> Self {
        Resource::Table(t)
    }
}
impl From<RecordId> for Resource {
    fn from(r: RecordId) -> Self {
        Resource::Record(r)
    }
}
impl From<&RecordId> for Resource {
    fn from(r: &RecordId) -> Self {
        Resource::Record(r.clone())
    }
}
impl<K: Into<RecordIdKey>> From<(&str, K)> for Resource {
    fn from((t, k): (&str, K)) -> Self {
        Resource::Record(RecordId::new(t, k))
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication

/// Who signs in.
///
/// Its `Debug` shows who (user, namespace, database, access method, parameter names) but
/// never a password or any record-access parameter's value.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Credentials {
    /// A root user.
    Root {
        /// User name.
        user: String,
        /// Password.
        pass: String,
    },
    /// A namespace user.
    Namespace {
        /// Namespace.
        ns: String,
        /// User name.
        user: String,
        /// Password.
        pass: String,
    },
    /// A database user.
    Database {
        /// Namespace.
        ns: String,
        /// Database.
        db: String,
        /// User name.
        user: String,
        /// Password.
        pass: String,
    },
    /// A record access method (`DEFINE ACCESS … TYPE RECORD`); `params` become the SIGNIN /
    /// SIGNUP clause's `$variables`.
    Record {
        /// Namespace.
        ns: String,
        /// Database.
        db: String,
        /// Access method name.
        access: String,
        /// The variables (an object).
        params: Object,
    },
}

/// What `Debug` prints in place of a secret.
const REDACTED: &str = "<redacted>";

/// A record-access parameter map with its values hidden.
struct RedactedParams<'a>(&'a Object);

impl fmt::Debug for RedactedParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, REDACTED)))
            .finish()
    }
}

impl fmt::Debug for Credentials {
    // Passwords, and every record-access parameter value (any of them may be a password, a
    // one-time code or an API key), stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Root { user, pass: _ } => f
                .debug_struct("Root")
                .field("user", user)
                .field("pass", &REDACTED)
                .finish(),
            Credentials::Namespace { ns, user, pass: _ } => f
                .debug_struct("Namespace")
                .field("ns", ns)
                .field("user", user)
                .field("pass", &REDACTED)
                .finish(),
            Credentials::Database {
                ns,
                db,
                user,
                pass: _,
            } => f
                .debug_struct("Database")
                .field("ns", ns)
                .field("db", db)
                .field("user", user)
                .field("pass", &REDACTED)
                .finish(),
            Credentials::Record {
                ns,
                db,
                access,
                params,
            } => f
                .debug_struct("Record")
                .field("ns", ns)
                .field("db", db)
                .field("access", access)
                .field("params", &RedactedParams(params))
                .finish(),
        }
    }
}

impl Credentials {
    /// Root user credentials.
    pub fn root(user: impl Into<String>, pass: impl Into<String>) -> Self {
        Credentials::Root {
            user: user.into(),
            pass: pass.into(),
        }
    }

    /// Namespace user credentials.
    pub fn namespace(
        ns: impl Into<String>,
        user: impl Into<String>,
        pass: impl Into<String>,
    ) -> Self {
        Credentials::Namespace {
            ns: ns.into(),
            user: user.into(),
            pass: pass.into(),
        }
    }

    /// Database user credentials.
    pub fn database(
        ns: impl Into<String>,
        db: impl Into<String>,
        user: impl Into<String>,
        pass: impl Into<String>,
    ) -> Self {
        Credentials::Database {
            ns: ns.into(),
            db: db.into(),
            user: user.into(),
            pass: pass.into(),
        }
    }

    /// Record-access credentials; `params` (any serializable struct or map) must serialize to
    /// an object.
    pub fn record(
        ns: impl Into<String>,
        db: impl Into<String>,
        access: impl Into<String>,
        params: &impl Serialize,
    ) -> Result<Self, CallError> {
        match encode("record access parameters", params)? {
            Value::Object(params) => Ok(Credentials::Record {
                ns: ns.into(),
                db: db.into(),
                access: access.into(),
                params,
            }),
            other => Err(CallError::Invalid {
                what: "record access parameters",
                reason: format!(
                    "expected an object (a struct or a map), found {}",
                    other.kind()
                ),
            }),
        }
    }

    fn to_object(&self) -> Object {
        let mut o = Object::new();
        let mut put = |k: &str, v: &str| {
            o.insert(k.to_owned(), Value::from(v));
        };
        match self {
            Credentials::Root { user, pass } => {
                put("user", user);
                put("pass", pass);
            }
            Credentials::Namespace { ns, user, pass } => {
                put("ns", ns);
                put("user", user);
                put("pass", pass);
            }
            Credentials::Database { ns, db, user, pass } => {
                put("ns", ns);
                put("db", db);
                put("user", user);
                put("pass", pass);
            }
            Credentials::Record {
                ns,
                db,
                access,
                params,
            } => {
                for (k, v) in params {
                    o.insert(k.clone(), v.clone());
                }
                o.insert("ns".into(), Value::from(ns.as_str()));
                o.insert("db".into(), Value::from(db.as_str()));
                o.insert("ac".into(), Value::from(access.as_str()));
            }
        }
        o
    }
}

/// A session token: the access JWT, and a refresh token when the access method issues one.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The access token (a JWT).
    pub access: String,
    /// The refresh token (record access `WITH REFRESH`).
    pub refresh: Option<String>,
}

impl fmt::Debug for Token {
    // Tokens are secrets: keep them out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access", &"…")
            .field("refresh", &self.refresh.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Token {
    fn to_value(&self) -> Value {
        let mut o = Object::new();
        o.insert("access".into(), Value::from(self.access.as_str()));
        if let Some(r) = &self.refresh {
            o.insert("refresh".into(), Value::from(r.as_str()));
        }
        Value::Object(o)
    }
}

fn decode_token(v: Value) -> Result<Token, CallError> {
    match v {
        Value::String(access) => Ok(Token {
            access,
            refresh: None,
        }),
        Value::Object(mut o) => match o.remove("access") {
            Some(Value::String(access)) => {
                let refresh = match o.remove("refresh") {
                    Some(Value::String(r)) => Some(r),
                    _ => None,
                };
                Ok(Token { access, refresh })
            }
            _ => Err(CallError::Protocol {
                method: "signin",
                detail: "a token object without an `access` string".into(),
            }),
        },
        other => Err(CallError::Protocol {
            method: "signin",
            detail: format!("expected a token, found {}", other.kind()),
        }),
    }
}

/// `signin`: returns the session token.
pub fn signin(creds: &Credentials) -> Call<Token> {
    Call::new(
        req(Method::Signin, vec![Value::Object(creds.to_object())]),
        decode_token,
    )
}

/// `signup` (record access only): returns the new user's token.
pub fn signup(creds: &Credentials) -> Result<Call<Token>, CallError> {
    if !matches!(creds, Credentials::Record { .. }) {
        return Err(CallError::Invalid {
            what: "signup credentials",
            reason: "signup works only with record access credentials (Credentials::record)".into(),
        });
    }
    Ok(Call::new(
        req(Method::Signup, vec![Value::Object(creds.to_object())]),
        decode_token,
    ))
}

/// `authenticate` with an access token.
pub fn authenticate(token: &str) -> Call<()> {
    Call::new(req(Method::Authenticate, vec![Value::from(token)]), unit)
}

/// `invalidate`: drop the session's authentication (and its live queries).
pub fn invalidate() -> Call<()> {
    Call::new(req(Method::Invalidate, vec![]), unit)
}

/// `refresh`: trade an (access, refresh) pair for a new one; the old refresh token is spent.
pub fn refresh(token: &Token) -> Result<Call<Token>, CallError> {
    if token.refresh.is_none() {
        return Err(CallError::Invalid {
            what: "token",
            reason:
                "refresh needs a token with a refresh part (record access defined WITH REFRESH)"
                    .into(),
        });
    }
    Ok(Call::new(
        req(Method::Refresh, vec![token.to_value()]),
        decode_token,
    ))
}

/// `revoke`: revoke the refresh grant of `token`.
pub fn revoke(token: &Token) -> Call<()> {
    Call::new(req(Method::Revoke, vec![token.to_value()]), unit)
}

/// `info`: the signed-in record user (NONE for system users).
pub fn info<T: DeserializeOwned + 'static>() -> Call<T> {
    Call::raw(req(Method::Info, vec![]), decoder!("info"))
}

// ---------------------------------------------------------------------------------------------
// Session

/// `use`: select a namespace and/or database (`None` leaves that one unchanged).
pub fn use_ns_db(ns: Option<&str>, db: Option<&str>) -> Call<()> {
    let p = |x: Option<&str>| x.map(Value::from).unwrap_or(Value::None);
    Call::new(req(Method::Use, vec![p(ns), p(db)]), unit)
}

/// `let`: define a session variable `$key`.
pub fn set(key: &str, value: &impl Serialize) -> Result<Call<()>, CallError> {
    let key = crate::escape::validate_ident(key).map_err(|e| CallError::Invalid {
        what: "variable name",
        reason: e.to_string(),
    })?;
    let v = encode("variable value", value)?;
    Ok(Call::new(req(Method::Let, vec![Value::from(key), v]), unit))
}

/// `unset`: remove the session variable `$key`.
pub fn unset(key: &str) -> Result<Call<()>, CallError> {
    let key = crate::escape::validate_ident(key).map_err(|e| CallError::Invalid {
        what: "variable name",
        reason: e.to_string(),
    })?;
    Ok(Call::new(req(Method::Unset, vec![Value::from(key)]), unit))
}

/// `ping`.
pub fn ping() -> Call<()> {
    Call::new(req(Method::Ping, vec![]), unit)
}

/// `version`: the server's version text, e.g. `surrealdb-3.3.5`.
pub fn version() -> Call<String> {
    Call::raw(req(Method::Version, vec![]), decoder!("version"))
}

// ---------------------------------------------------------------------------------------------
// Queries

/// `query`: run SurrealQL with bound variables. An owned `String` is moved into the
/// request, not copied.
pub fn query(text: impl Into<String>, vars: Object) -> Call<QueryResponse> {
    Call::raw(
        req(
            Method::Query,
            vec![Value::String(text.into()), Value::Object(vars)],
        ),
        QueryResponse::from_payload,
    )
}

/// Turns `bind` arguments into query variables: a `(name, value)` pair, or any struct/map
/// whose fields become variables.
pub fn bind_vars(vars: &mut Object, bindings: &impl Serialize) -> Result<(), CallError> {
    const WHAT: &str = "bound variables";
    // A `(name, value)` tuple arrives as its two values, not as the array of two that
    // `encode` would build (and the match below take apart again): the same values, the
    // same checks in the same order, one allocation fewer per bind.
    let (name, v) = crate::value::to_binding(bindings)
        .map_err(|source| CallError::Encode { what: WHAT, source })?;
    if let Some(k) = name {
        // `check_sendable` of the array [k, v] walks `v` first.
        check_sendable(WHAT, &v)?;
        check_sendable(WHAT, &k)?;
        return bind_pair(vars, k, v);
    }
    check_sendable(WHAT, &v)?;
    // A pair that did not serialize as a tuple (a `Vec` or array of two, say).
    let v = match v {
        Value::Array(items) => match <[Value; 2]>::try_from(items) {
            Ok([k, v]) => return bind_pair(vars, k, v),
            Err(items) => Value::Array(items),
        },
        v => v,
    };
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                check_var_name(&k)?;
                vars.insert(k, v);
            }
            Ok(())
        }
        other => Err(CallError::Invalid {
            what: WHAT,
            reason: format!(
                "expected a (name, value) pair or a struct/map of variables, found {}",
                other.kind()
            ),
        }),
    }
}

/// Binds `$name` to `v` for a `(name, value)` pair.
fn bind_pair(vars: &mut Object, name: Value, v: Value) -> Result<(), CallError> {
    match name {
        Value::String(k) => {
            check_var_name(&k)?;
            vars.insert(k, v);
            Ok(())
        }
        other => Err(CallError::Invalid {
            what: "bound variable",
            reason: format!(
                "a (name, value) pair needs a string name, found {}",
                other.kind()
            ),
        }),
    }
}

fn check_var_name(k: &str) -> Result<(), CallError> {
    crate::escape::validate_ident(k)
        .map(|_| ())
        .map_err(|e| CallError::Invalid {
            what: "variable name",
            reason: e.to_string(),
        })
}

/// The answer to a `query`: one result per statement.
///
/// Each statement's value stays as the CBOR bytes it arrived in: [`QueryResponse::take`]
/// reads it straight into the caller's type, without building a [`Value`] tree. Cloning
/// shares the bytes.
///
/// The statements are located (and their status, time and any error decoded) when first
/// needed, not when the answer arrives: a `take` of one statement reads its value where
/// the walk over the answer reaches it, so a large result is gone over once, not once to
/// locate it and again to read it. An answer that cannot be read (bytes that are not
/// CBOR, a statement without the promised shape, trailing bytes) therefore fails at that
/// first use — `take`, `check`, `results` — with the error reading it always gave.
#[derive(Clone)]
pub struct QueryResponse {
    /// The reply's `result` item, as it arrived.
    bytes: Arc<[u8]>,
    /// How many statement results the answer's array holds (from its head).
    len: usize,
    /// The statements, once located; or why the answer cannot be read.
    located: OnceLock<Result<Located, CallError>>,
}

/// A `query` answer's statements, located.
#[derive(Clone)]
struct Located {
    /// The bytes every statement's value is a range of: the answer's own, or (for an
    /// answer in a shape the byte walk leaves to the value path) the values re-encoded.
    bytes: Arc<[u8]>,
    statements: Vec<Statement>,
}

impl Located {
    fn slice(&self, range: &Option<Range<usize>>) -> &[u8] {
        range
            .clone()
            .and_then(|r| self.bytes.get(r))
            .unwrap_or(crate::cbor::NONE)
    }
}

#[derive(Clone)]
struct Statement {
    time: TimeText,
    kind: Option<String>,
    /// Where the value lies in [`Located::bytes`] (`None`: NONE, because the row had no
    /// `result` or it was taken), or the statement's error.
    result: Result<Option<Range<usize>>, ServerError>,
}

/// Selects what [`QueryResponse::take`] takes: a statement index, or `(index, "field")`.
pub trait QueryIndex {
    /// The statement index.
    fn index(&self) -> usize;
    /// The field to pick out of each row, if any.
    fn field(&self) -> Option<&str> {
        None
    }
}

impl QueryIndex for usize {
    fn index(&self) -> usize {
        *self
    }
}

impl QueryIndex for (usize, &str) {
    fn index(&self) -> usize {
        self.0
    }
    fn field(&self) -> Option<&str> {
        Some(self.1)
    }
}

impl QueryResponse {
    /// Wraps statement results given as values (they are encoded, so every read takes the
    /// same path as a reply off the wire).
    pub fn new(results: Vec<QueryResult>) -> Self {
        let located = Located::encode(results);
        QueryResponse {
            bytes: located.bytes.clone(),
            len: located.statements.len(),
            located: OnceLock::from(Ok(located)),
        }
    }

    /// Reads a `query` reply's `result` (a payload holding a decoded value is encoded
    /// first). Only the head of its array is read now: the statements are located when
    /// first needed (see [`QueryResponse`]).
    ///
    /// Fails like the value path did: bytes that are not CBOR give
    /// [`CallError::Decode`], an answer without the promised shape [`CallError::Protocol`]
    /// — here for an answer that is not one definite-length array, else at the first use.
    pub fn from_payload(p: Payload) -> Result<Self, CallError> {
        let bytes = p.into_cbor();
        let len = match crate::cbor::head(&bytes, 0) {
            Ok((4, Some(n), _)) => usize::try_from(n).ok(),
            _ => None,
        };
        match len {
            // Every statement takes at least one byte: a longer count is read (and
            // refused) now, with the others below.
            Some(len) if len <= bytes.len() => Ok(QueryResponse {
                bytes,
                len,
                located: OnceLock::new(),
            }),
            // Anything else (not an array, an indefinite one, not CBOR) is read now: its
            // length, or its error, comes from reading it.
            _ => {
                let located = Located::split(&bytes, usize::MAX, |_| None)?;
                Ok(QueryResponse {
                    bytes,
                    len: located.statements.len(),
                    located: OnceLock::from(Ok(located)),
                })
            }
        }
    }

    /// The number of statement results.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if there are no statement results.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The statements, located on first use; the answer's reading error if it has one.
    fn located(&self) -> Result<&Located, CallError> {
        self.located
            .get_or_init(|| Located::split(&self.bytes, usize::MAX, |_| None))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// [`QueryResponse::located`], mutable.
    fn located_mut(&mut self) -> Result<&mut Located, CallError> {
        if self.located.get().is_none() {
            self.located = OnceLock::from(Located::split(&self.bytes, usize::MAX, |_| None));
        }
        match self.located.get_mut() {
            Some(Ok(l)) => Ok(l),
            Some(Err(e)) => Err(e.clone()),
            None => unreachable!("the statements were located just above"),
        }
    }

    /// Every statement's result decoded into a [`Value`] now (a taken statement reads as
    /// NONE). This builds the trees [`QueryResponse::take`] avoids: for typed reads use
    /// `take`.
    pub fn results(&self) -> Result<Vec<QueryResult>, CallError> {
        let located = self.located()?;
        located
            .statements
            .iter()
            .map(|s| {
                Ok(QueryResult {
                    time: s.time.text(&located.bytes).into_owned(),
                    kind: s.kind.clone(),
                    result: match &s.result {
                        Ok(r) => Ok(crate::cbor::decode(located.slice(r))
                            .map_err(|e| decode_error("query", &e))?),
                        Err(e) => Err(e.clone()),
                    },
                })
            })
            .collect()
    }

    /// Statement `i`'s value decoded as a [`Value`] (not taken out), or its error.
    pub(crate) fn value_at(&self, i: usize) -> Result<Value, crate::Error> {
        let bytes = self.statement_bytes(i)?;
        crate::cbor::decode(bytes).map_err(|e| decode_error("query", &e).into())
    }

    /// Statement `i`'s value as CBOR bytes (not taken out), or why there is none.
    pub(crate) fn statement_bytes(&self, i: usize) -> Result<&[u8], CallError> {
        let located = self.located()?;
        let statement = located
            .statements
            .get(i)
            .ok_or_else(|| out_of_range(i, self.len))?;
        match &statement.result {
            Ok(r) => Ok(located.slice(r)),
            Err(e) => Err(CallError::Server(e.clone())),
        }
    }

    /// Takes statement `index`'s result (or one field of it, with `(index, "field")`) as `T`.
    ///
    /// A statement that failed gives its [`ServerError`]. The result is taken out: taking
    /// the same index again gives NONE. When `T` does not fit a result holding at most one
    /// row, the single row (or NONE) is tried, so `take::<Option<Person>>(0)` works on a
    /// `SELECT` of one record. The value is read straight from the reply's bytes.
    pub fn take<T: DeserializeOwned + 'static>(
        &mut self,
        index: impl QueryIndex,
    ) -> Result<T, CallError> {
        let i = index.index();
        let n = self.len;
        if i >= n {
            return Err(out_of_range(i, n));
        }
        if index.field().is_none() && self.located.get().is_none() {
            if let Some(t) = self.take_while_locating(i) {
                return Ok(t);
            }
        }
        let located = self.located_mut()?;
        let slot = located
            .statements
            .get_mut(i)
            .ok_or_else(|| out_of_range(i, n))?;
        let range = match &mut slot.result {
            Ok(r) => r.take(),
            Err(e) => return Err(CallError::Server(e.clone())),
        };
        let item = located.slice(&range);
        let picked;
        let item = match index.field() {
            None => item,
            Some(field) => {
                let mut out = Vec::new();
                pick_field(item, field, &mut out).map_err(|e| statement_error(i, &e))?;
                picked = out;
                &picked[..]
            }
        };
        match read::<T>(item) {
            Ok(t) => Ok(t),
            Err(first) => match single_row(item).map(read::<T>) {
                Some(Ok(t)) => Ok(t),
                _ => Err(statement_error(i, &first)),
            },
        }
    }

    /// The first `take` of statement `i` while the statements are not located yet: one
    /// walk over the answer locates them all and reads statement `i`'s value as `T` where
    /// the walk reaches it, instead of stepping over it and reading it again afterwards.
    /// `None` (the statements located all the same) when that read is not the answer —
    /// the value does not fit `T` as it is, the statement failed, the answer is not in the
    /// shape the walk reads or cannot be read — and the rules of [`QueryResponse::take`]
    /// decide, with their errors.
    fn take_while_locating<T: DeserializeOwned + 'static>(&mut self, i: usize) -> Option<T> {
        let mut read: Option<(usize, T)> = None;
        let mut stepped_by_read = false;
        let bytes = &self.bytes;
        let mut located = Located::split(bytes, i, |at| {
            // Counted one level deeper than the walk counts its own steps: a read that
            // succeeds is then one the walk would have stepped over (the depth cap is the
            // walk's to apply).
            match read_at::<T>(bytes, at, 2) {
                Ok((t, end)) => {
                    read = Some((at, t));
                    stepped_by_read = true;
                    Some(end)
                }
                // Stepped over by the walk (which reports malformed bytes); a later
                // duplicate `result` key would be read again.
                Err(_) => {
                    read = None;
                    None
                }
            }
        });
        if located.is_err() && stepped_by_read {
            // A successful read always ends where the item does, so the walk fails where
            // it would have anyway; located again without reading all the same, so that
            // an unreadable answer's error is exactly the walk's own.
            located = Located::split(bytes, usize::MAX, |_| None);
        }
        let t = match (&mut located, read) {
            // Only if it is what the walk found there: an OK statement whose value starts
            // where it was read (same bytes: not re-encoded by the value path).
            (Ok(l), Some((at, t))) if Arc::ptr_eq(&l.bytes, &self.bytes) => {
                match l.statements.get_mut(i).map(|s| &mut s.result) {
                    Some(Ok(r)) if r.as_ref().is_some_and(|r| r.start == at) => {
                        *r = None;
                        Some(t)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        self.located = OnceLock::from(located);
        t
    }

    /// Fails with the first failed statement's error (or the answer's reading error),
    /// else gives the response back.
    pub fn check(self) -> Result<Self, CallError> {
        let first = self
            .located()?
            .statements
            .iter()
            .find_map(|s| s.result.as_ref().err());
        if let Some(e) = first {
            return Err(CallError::Server(e.clone()));
        }
        Ok(self)
    }

    /// Removes and returns every failed statement's error, keyed by statement index. An
    /// answer that cannot be read has none to give (its error comes from `take`, `check`
    /// and `results`).
    pub fn take_errors(&mut self) -> BTreeMap<usize, ServerError> {
        let mut out = BTreeMap::new();
        let Ok(located) = self.located_mut() else {
            return out;
        };
        for (i, s) in located.statements.iter_mut().enumerate() {
            if let Err(e) = &s.result {
                out.insert(i, e.clone());
                s.result = Ok(None);
            }
        }
        out
    }
}

impl Located {
    /// Statement results given as values, encoded into one buffer.
    fn encode(results: Vec<QueryResult>) -> Self {
        let mut bytes = Vec::new();
        let statements = results
            .into_iter()
            .map(|r| Statement {
                time: TimeText::Owned(r.time),
                kind: r.kind,
                result: r.result.map(|v| {
                    let start = bytes.len();
                    crate::cbor::encode_into(&v, &mut bytes);
                    Some(start..bytes.len())
                }),
            })
            .collect();
        Located {
            bytes: bytes.into(),
            statements,
        }
    }

    /// Locates a `query` answer's statements ([`split_query_results_reading`]: `read` may
    /// read statement `want`'s value on the way), with the errors the answer always
    /// gave: bytes that are not CBOR give [`CallError::Decode`], an answer without the
    /// promised shape [`CallError::Protocol`].
    fn split(
        bytes: &Arc<[u8]>,
        want: usize,
        read: impl FnMut(usize) -> Option<usize>,
    ) -> Result<Self, CallError> {
        let rows = split_query_results_reading(bytes, want, read)
            .map_err(|e| decode_error("query", &e))?;
        match rows {
            Some(rows) => Ok(Located {
                bytes: bytes.clone(),
                statements: rows
                    .into_iter()
                    .map(|r| Statement {
                        time: r.time,
                        kind: r.kind,
                        result: r.result,
                    })
                    .collect(),
            }),
            // Rare shapes (a key sent in chunks, trailing bytes) and invalid answers: the
            // value path reads the first and words the errors exactly as before.
            None => {
                let v = crate::cbor::decode(bytes).map_err(|e| decode_error("query", &e))?;
                let results = parse_query_results(v).map_err(|e| CallError::Protocol {
                    method: "query",
                    detail: e.to_string(),
                })?;
                Ok(Located::encode(results))
            }
        }
    }
}

fn out_of_range(i: usize, n: usize) -> CallError {
    CallError::Invalid {
        what: "statement index",
        reason: format!("{i} is out of range: the query had {n} statement result(s)"),
    }
}

fn statement_error(i: usize, e: &crate::cbor::DecodeError) -> CallError {
    CallError::Decode {
        method: "query",
        source: DeError(format!("statement {i}: {}", Payload::describe_error(e))),
    }
}

/// Reads `T` from one CBOR item. `Value` itself comes from the value decoder (the same
/// tree `from_slice` would build, without the serde round).
fn read<T: DeserializeOwned + 'static>(item: &[u8]) -> Result<T, crate::cbor::DecodeError> {
    if TypeId::of::<T>() == TypeId::of::<Value>() {
        let v: Box<dyn Any> = Box::new(crate::cbor::decode(item)?);
        if let Ok(t) = v.downcast::<T>() {
            return Ok(*t);
        }
    }
    crate::cbor::from_slice(item)
}

/// [`read`] of the item at `at` in `bytes`, its depth counted from `depth`: the value and
/// the offset just past the item (what follows is not looked at).
fn read_at<T: DeserializeOwned + 'static>(
    bytes: &[u8],
    at: usize,
    depth: usize,
) -> Result<(T, usize), crate::cbor::DecodeError> {
    if TypeId::of::<T>() == TypeId::of::<Value>() {
        let (v, end) = crate::cbor::decode_at(bytes, at, depth)?;
        let v: Box<dyn Any> = Box::new(v);
        if let Ok(t) = v.downcast::<T>() {
            return Ok((*t, end));
        }
    }
    crate::cbor::from_slice_at(bytes, at, depth)
}

/// The one row of an array holding at most one (NONE for an empty one); `None` for
/// anything else. Only the head and at most two elements are looked at.
fn single_row(item: &[u8]) -> Option<&[u8]> {
    let (major, len, first) = crate::cbor::head(item, 0).ok()?;
    if major != 4 {
        return None;
    }
    let empty = match len {
        Some(n) => n == 0,
        None => item.get(first) == Some(&0xff),
    };
    if empty {
        return Some(crate::cbor::NONE);
    }
    if len.is_some_and(|n| n > 1) {
        return None;
    }
    let end = crate::cbor::skip_item(item, first).ok()?;
    if len.is_none() && item.get(end) != Some(&0xff) {
        return None;
    }
    item.get(first..end)
}

/// Writes `item` with every row replaced by its `field` (NONE where a row is not an object
/// or lacks it), recursing into nested arrays: the rule `take((i, "field"))` always had,
/// applied to bytes. Field values are copied, not decoded.
fn pick_field(item: &[u8], field: &str, out: &mut Vec<u8>) -> Result<(), crate::cbor::DecodeError> {
    if let Some((rows, _)) = crate::cbor::array_ranges(item)? {
        crate::cbor::Encoder::new(out).array(rows.len());
        for r in rows {
            pick_field(item.get(r).unwrap_or(crate::cbor::NONE), field, out)?;
        }
        return Ok(());
    }
    let (major, _, _) = crate::cbor::head(item, 0)?;
    if major != 5 {
        out.extend_from_slice(crate::cbor::NONE);
        return Ok(());
    }
    match crate::cbor::map_ranges(item)? {
        // The last occurrence wins, as when the map is decoded into an object.
        Some((entries, _)) => {
            let value = entries
                .iter()
                .rev()
                .find(|(k, _)| *k == field)
                .and_then(|(_, r)| item.get(r.clone()));
            out.extend_from_slice(value.unwrap_or(crate::cbor::NONE));
        }
        // A key sent in chunks (or not text, which the decoder refuses): decode this row.
        None => {
            let v = match crate::cbor::decode(item)? {
                Value::Object(mut o) => o.remove(field).unwrap_or(Value::None),
                _ => Value::None,
            };
            crate::cbor::encode_into(&v, out);
        }
    }
    Ok(())
}

impl fmt::Debug for QueryResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.results() {
            Ok(results) => f
                .debug_struct("QueryResponse")
                .field("results", &results)
                .finish(),
            Err(e) => f
                .debug_struct("QueryResponse")
                .field("bytes", &self.bytes.len())
                .field("invalid", &e.to_string())
                .finish(),
        }
    }
}

/// Responses are equal when their statements have the same time, type and outcome, values
/// compared by meaning (bytes that do not decode are equal only to the same bytes).
impl PartialEq for QueryResponse {
    fn eq(&self, other: &Self) -> bool {
        let (mine, theirs) = match (self.located(), other.located()) {
            (Ok(a), Ok(b)) => (a, b),
            // Unreadable answers are equal only when they are the same bytes.
            (Err(a), Err(b)) => return a == b && self.bytes == other.bytes,
            _ => return false,
        };
        mine.statements.len() == theirs.statements.len()
            && mine
                .statements
                .iter()
                .zip(&theirs.statements)
                .all(|(a, b)| {
                    a.time.text(&mine.bytes) == b.time.text(&theirs.bytes)
                        && a.kind == b.kind
                        && match (&a.result, &b.result) {
                            (Err(x), Err(y)) => x == y,
                            (Ok(x), Ok(y)) => {
                                let (x, y) = (mine.slice(x), theirs.slice(y));
                                x == y
                                    || matches!(
                                        (crate::cbor::decode(x), crate::cbor::decode(y)),
                                        (Ok(p), Ok(q)) if p == q
                                    )
                            }
                            _ => false,
                        }
                })
    }
}

#[cfg(test)]
#[path = "client_query_tests.rs"]
mod query_tests;

#[cfg(test)]
#[path = "client_bind_tests.rs"]
mod bind_tests;

// ---------------------------------------------------------------------------------------------
// Live queries

/// `live`: subscribe to changes of a table (`diff` = JSON-patch payloads). Returns the live id.
pub fn live(table: &str, diff: bool) -> Call<Uuid> {
    Call::new(
        req(
            Method::Live,
            vec![Value::Table(Table::new(table)), Value::Bool(diff)],
        ),
        decode_uuid,
    )
}

/// `kill`: end a live query.
pub fn kill(live_id: Uuid) -> Call<()> {
    Call::new(req(Method::Kill, vec![Value::Uuid(live_id)]), unit)
}

fn decode_uuid(v: Value) -> Result<Uuid, CallError> {
    match v {
        Value::Uuid(u) => Ok(u),
        other => Err(CallError::Protocol {
            method: "live/begin",
            detail: format!("expected a uuid, found {}", other.kind()),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// CRUD
//
// Writes (`create`, `insert`, `insert_relation`, `upsert`, `update`, `merge`, `patch`,
// `relate`) store exactly what they are given: when the data holds something the RPC method
// would store differently (a range whose start is not included or whose end is open),
// the call is sent as a `query` running the RPC's own statement with the data bound as
// `$data`, and its answer is decoded exactly as the RPC's would be. Decimals the server
// would round are refused before sending (`CallError::Invalid`, naming the value).

/// Any RPC method with `params` as given, its answer as a [`Value`]: an escape hatch for
/// methods this module has no constructor for, and for observing the server's own
/// behaviour. Nothing is checked or rerouted (see [`check_sendable`]).
pub fn raw(method: Method, params: Vec<Value>) -> Call<Value> {
    Call::new(req(method, params), Ok)
}

/// `select`: a table's records (`Vec<T>`), or one record (`Option<T>`; NONE if it is missing).
pub fn select<T: DeserializeOwned + 'static>(what: impl Into<Resource>) -> Call<T> {
    Call::raw(
        req(Method::Select, vec![what.into().into_value()]),
        decoder!("select"),
    )
}

fn with_data<T: DeserializeOwned + 'static>(
    method: Method,
    what: Value,
    data: Option<&(impl Serialize + ?Sized)>,
    decode: fn(Payload) -> Result<T, CallError>,
) -> Result<Call<T>, CallError> {
    let data = data.map(|d| encode("record data", d)).transpose()?;
    if let Some(d) = data.as_ref().filter(|d| rpc_would_alter(d)) {
        let only = singular(&what);
        // The RPC's own statement (surrealdb-core rpc/protocol.rs), with the data bound.
        let (name, text) = match (method, only) {
            (Method::Insert, _) => ("insert", "INSERT INTO $what $data"),
            (Method::InsertRelation, _) => ("insert_relation", "INSERT RELATION INTO $what $data"),
            (Method::Upsert, true) => ("upsert", "UPSERT ONLY $what CONTENT $data"),
            (Method::Upsert, false) => ("upsert", "UPSERT $what CONTENT $data"),
            (Method::Update, true) => ("update", "UPDATE ONLY $what CONTENT $data"),
            (Method::Update, false) => ("update", "UPDATE $what CONTENT $data"),
            (Method::Merge, true) => ("merge", "UPDATE ONLY $what MERGE $data"),
            (Method::Merge, false) => ("merge", "UPDATE $what MERGE $data"),
            (other, _) => {
                return Err(CallError::Protocol {
                    method: "write",
                    detail: format!("`{}` has no query form", other.as_str()),
                })
            }
        };
        return Ok(write_via_query(
            name,
            text,
            vec![("what", what), ("data", d.clone())],
            decode,
        ));
    }
    let mut params = vec![what];
    params.extend(data);
    Ok(Call::raw(req(method, params), decode))
}

/// `create`: one record (given its id, or a random id when given a table).
///
/// Data the `create` RPC would alter (a range such as `'a'..`, which SurrealDB 3.3.5
/// stores as `'a'..NONE`) is sent as `CREATE ONLY $what CONTENT $data` through
/// `query` instead, with the same result and the same [`CallError::NotAffected`] check.
pub fn create<T: DeserializeOwned + 'static>(
    what: impl Into<Resource>,
    data: &(impl Serialize + ?Sized),
) -> Result<Call<T>, CallError> {
    // A text table name makes the server answer with a single object (tag-7 tables give an
    // array), which is what "create one record" means.
    let (what, target) = match what.into() {
        Resource::Table(t) => {
            let target = format!("table {}", crate::escape::escape_ident(&t.0));
            (Value::String(t.0), target)
        }
        Resource::Record(r) => {
            let target = r.to_string();
            (Value::RecordId(r), target)
        }
    };
    let data = encode("record data", data)?;
    let decode = move |v: Payload| {
        // CREATE either creates the record or fails ("already exists"); an empty answer
        // means the table's permissions silently refused it.
        if v.is_empty() {
            return Err(CallError::NotAffected {
                method: "create",
                target,
            });
        }
        decode_as("create")(v)
    };
    if rpc_would_alter(&data) {
        // The RPC's statement (`CREATE ONLY` for a table name or a record id), with the
        // data bound so that it is stored as given.
        let (what, text) = match what {
            Value::String(t) => (Value::Table(Table(t)), "CREATE ONLY $what CONTENT $data"),
            rid if singular(&rid) => (rid, "CREATE ONLY $what CONTENT $data"),
            other => (other, "CREATE $what CONTENT $data"),
        };
        return Ok(write_via_query(
            "create",
            text,
            vec![("what", what), ("data", data)],
            decode,
        ));
    }
    Ok(Call::raw(req(Method::Create, vec![what, data]), decode))
}

/// `insert`: one record or many (`data` an array) into `table`.
pub fn insert<T: DeserializeOwned + 'static>(
    table: &str,
    data: &(impl Serialize + ?Sized),
) -> Result<Call<T>, CallError> {
    with_data(
        Method::Insert,
        Value::Table(Table::new(table)),
        Some(data),
        decoder!("insert"),
    )
}

/// `insert_relation`: insert edge records (each with `in` and `out`) into `table`.
pub fn insert_relation<T: DeserializeOwned + 'static>(
    table: &str,
    data: &(impl Serialize + ?Sized),
) -> Result<Call<T>, CallError> {
    with_data(
        Method::InsertRelation,
        Value::Table(Table::new(table)),
        Some(data),
        decoder!("insert_relation"),
    )
}

/// `upsert`: create or replace.
pub fn upsert<T: DeserializeOwned + 'static>(
    what: impl Into<Resource>,
    data: &(impl Serialize + ?Sized),
) -> Result<Call<T>, CallError> {
    with_data(
        Method::Upsert,
        what.into().into_value(),
        Some(data),
        decoder!("upsert"),
    )
}

/// `update`: replace the content of existing records (a missing record gives NONE).
pub fn update<T: DeserializeOwned + 'static>(
    what: impl Into<Resource>,
    data: &(impl Serialize + ?Sized),
) -> Result<Call<T>, CallError> {
    with_data(
        Method::Update,
        what.into().into_value(),
        Some(data),
        decoder!("update"),
    )
}

/// `merge`: merge fields into existing records (a missing record gives NONE).
pub fn merge<T: DeserializeOwned + 'static>(
    what: impl Into<Resource>,
    data: &(impl Serialize + ?Sized),
) -> Result<Call<T>, CallError> {
    with_data(
        Method::Merge,
        what.into().into_value(),
        Some(data),
        decoder!("merge"),
    )
}

/// One JSON-patch operation for [`patch`].
#[derive(Debug, Clone, PartialEq)]
pub enum PatchOp {
    /// Add `value` at `path`.
    Add(String, Value),
    /// Remove `path`.
    Remove(String),
    /// Replace `path` with `value`.
    Replace(String, Value),
    /// Copy `from` to `path`.
    Copy {
        /// Source path.
        from: String,
        /// Destination path.
        path: String,
    },
    /// Move `from` to `path`.
    Move {
        /// Source path.
        from: String,
        /// Destination path.
        path: String,
    },
    /// Fail the patch unless `path` holds `value`.
    Test(String, Value),
}

impl PatchOp {
    fn to_value(&self) -> Value {
        let mut o = Object::new();
        let (op, path, from, value) = match self {
            PatchOp::Add(p, v) => ("add", p, None, Some(v)),
            PatchOp::Remove(p) => ("remove", p, None, None),
            PatchOp::Replace(p, v) => ("replace", p, None, Some(v)),
            PatchOp::Copy { from, path } => ("copy", path, Some(from), None),
            PatchOp::Move { from, path } => ("move", path, Some(from), None),
            PatchOp::Test(p, v) => ("test", p, None, Some(v)),
        };
        o.insert("op".into(), Value::from(op));
        o.insert("path".into(), Value::from(path.as_str()));
        if let Some(f) = from {
            o.insert("from".into(), Value::from(f.as_str()));
        }
        if let Some(v) = value {
            o.insert("value".into(), v.clone());
        }
        Value::Object(o)
    }
}

/// `patch`: apply JSON-patch operations; returns the records after the change.
pub fn patch<T: DeserializeOwned + 'static>(what: impl Into<Resource>, ops: &[PatchOp]) -> Call<T> {
    let ops = Value::Array(ops.iter().map(PatchOp::to_value).collect());
    let what = what.into().into_value();
    if rpc_would_alter(&ops) {
        let text = if singular(&what) {
            "UPDATE ONLY $what PATCH $data"
        } else {
            "UPDATE $what PATCH $data"
        };
        return write_via_query(
            "patch",
            text,
            vec![("what", what), ("data", ops)],
            decoder!("patch"),
        );
    }
    Call::raw(req(Method::Patch, vec![what, ops]), decoder!("patch"))
}

/// `delete`: delete records; returns what was deleted (NONE for a missing record).
pub fn delete<T: DeserializeOwned + 'static>(what: impl Into<Resource>) -> Call<T> {
    Call::raw(
        req(Method::Delete, vec![what.into().into_value()]),
        decoder!("delete"),
    )
}

/// `relate`: create an edge record `from ->edge-> to` (with optional content).
pub fn relate<T: DeserializeOwned + 'static>(
    from: &RecordId,
    edge: &str,
    to: &RecordId,
    data: Option<&(impl Serialize + ?Sized)>,
) -> Result<Call<T>, CallError> {
    let from = Value::RecordId(from.clone());
    let to = Value::RecordId(to.clone());
    let edge = Value::Table(Table::new(edge));
    let data = data.map(|d| encode("edge data", d)).transpose()?;
    if let Some(d) = data.as_ref().filter(|d| rpc_would_alter(d)) {
        let text = if singular(&from) && singular(&to) {
            "RELATE ONLY $from->$edge->$to CONTENT $data"
        } else {
            "RELATE $from->$edge->$to CONTENT $data"
        };
        return Ok(write_via_query(
            "relate",
            text,
            vec![
                ("from", from),
                ("edge", edge),
                ("to", to),
                ("data", d.clone()),
            ],
            decoder!("relate"),
        ));
    }
    let mut params = vec![from, edge, to];
    params.extend(data);
    Ok(Call::raw(req(Method::Relate, params), decoder!("relate")))
}

/// `run`: call a function (`fn::custom` or a builtin such as `string::len`) with arguments.
pub fn run<T: DeserializeOwned + 'static>(
    name: &str,
    args: &(impl Serialize + ?Sized),
) -> Result<Call<T>, CallError> {
    let args = match encode("function arguments", args)? {
        a @ Value::Array(_) => a,
        Value::None => Value::Array(vec![]),
        one => Value::Array(vec![one]),
    };
    Ok(Call::raw(
        req(Method::Run, vec![Value::from(name), Value::None, args]),
        decoder!("run"),
    ))
}

/// `graphql`: run a GraphQL query (the database must `DEFINE CONFIG GRAPHQL AUTO`).
pub fn graphql<T: DeserializeOwned + 'static>(query: &str, variables: Object) -> Call<T> {
    Call::raw(
        req(
            Method::Graphql,
            vec![Value::from(query), Value::Object(variables)],
        ),
        decoder!("graphql"),
    )
}

/// `graphql` with variables from any serializable object (`()`/`None` for none).
pub fn graphql_with<T: DeserializeOwned + 'static>(
    query: &str,
    variables: &(impl Serialize + ?Sized),
) -> Result<Call<T>, CallError> {
    let vars = match encode("GraphQL variables", variables)? {
        Value::Object(o) => o,
        Value::None | Value::Null => Object::new(),
        other => {
            return Err(CallError::Invalid {
                what: "GraphQL variables",
                reason: format!("expected an object, found {}", other.kind()),
            })
        }
    };
    Ok(graphql(query, vars))
}

// ---------------------------------------------------------------------------------------------
// Interactive transactions and sessions (WebSocket only)

/// `begin`: open an RPC transaction; returns its id.
pub fn begin() -> Call<Uuid> {
    Call::new(req(Method::Begin, vec![]), decode_uuid)
}

/// `commit` the RPC transaction `txn`.
pub fn commit(txn: Uuid) -> Call<()> {
    Call::new(req(Method::Commit, vec![Value::Uuid(txn)]), unit)
}

/// `cancel` the RPC transaction `txn`.
pub fn cancel(txn: Uuid) -> Call<()> {
    Call::new(req(Method::Cancel, vec![Value::Uuid(txn)]), unit)
}

/// `attach`: create the (empty) session `session` on this connection.
pub fn attach(session: Uuid) -> Call<()> {
    Call::new(req(Method::Attach, vec![]), unit).on_session(session)
}

/// `detach`: drop the session `session`.
pub fn detach(session: Uuid) -> Call<()> {
    Call::new(req(Method::Detach, vec![]), unit).on_session(session)
}

/// `sessions`: the ids of the sessions attached to this connection.
pub fn sessions() -> Call<Vec<Uuid>> {
    Call::new(req(Method::Sessions, vec![]), |v| match v {
        Value::Array(a) => a.into_iter().map(decode_uuid).collect(),
        other => Err(CallError::Protocol {
            method: "sessions",
            detail: format!("expected an array of uuids, found {}", other.kind()),
        }),
    })
}

/// `query_cancel`: cancel the streamed query started by request `request_id`.
pub fn query_cancel(request_id: u64) -> Call<()> {
    Call::new(
        req(Method::QueryCancel, vec![Value::Int(request_id as i64)]),
        unit,
    )
}

// ---------------------------------------------------------------------------------------------
// Compiled queries (the query compiler's output) and QuerySet execution

use crate::query::{AggregateQuery, CompiledQuery, QueryError, QuerySet};

fn query_error(e: QueryError) -> CallError {
    CallError::Invalid {
        what: "query",
        reason: e.to_string(),
    }
}

/// Runs a compiled query and returns every statement's result. Its bound values are
/// checked first, as every user value is: one the server would silently alter (a decimal
/// beyond its precision) is refused naming it.
pub fn execute(q: CompiledQuery) -> Result<Call<QueryResponse>, CallError> {
    for (name, v) in &q.vars {
        check_sendable("query value", v).map_err(|e| match e {
            CallError::Invalid { what, reason } => CallError::Invalid {
                what,
                reason: format!("${name}: {reason}"),
            },
            other => other,
        })?;
    }
    // Raw variables were checked when they were encoded (`RawValue`'s constructors).
    let mut call = query(q.text, q.vars);
    call.request.raw_vars = q.raw_vars;
    Ok(call)
}

/// Statement `index`'s result as a [`Value`] (aggregates are one small value).
fn statement_result(p: Payload, index: usize) -> Result<Value, CallError> {
    QueryResponse::from_payload(p)?.take::<Value>(index)
}

fn row_error(e: crate::query::RowError) -> CallError {
    CallError::Decode {
        method: "query",
        source: DeError(e.to_string()),
    }
}

/// Every row a [`QuerySet`] selects, decoded as `T` straight from the reply's bytes
/// (errors name the row and field).
pub fn fetch_all<T: DeserializeOwned + 'static>(
    qs: &QuerySet<impl Sized>,
) -> Result<Call<Vec<T>>, CallError> {
    let q = qs.compile().map_err(query_error)?;
    let index = q.result_index;
    let (request, _) = execute(q)?.into_parts();
    Ok(Call::raw(request, move |p| {
        let response = QueryResponse::from_payload(p)?;
        crate::query::decode_rows_cbor(response.statement_bytes(index)?).map_err(row_error)
    }))
}

/// The first row a [`QuerySet`] selects (`LIMIT 1`), or `None`.
pub fn fetch_first<T: DeserializeOwned + 'static>(
    qs: &QuerySet<impl Sized>,
) -> Result<Call<Option<T>>, CallError> {
    let q = qs.clone().limit(1).compile().map_err(query_error)?;
    let index = q.result_index;
    let (request, _) = execute(q)?.into_parts();
    Ok(Call::raw(request, move |p| {
        let response = QueryResponse::from_payload(p)?;
        crate::query::decode_first_cbor(response.statement_bytes(index)?).map_err(row_error)
    }))
}

/// Runs an aggregate (`count`, `sum`, `avg`, `min`, `max`) and returns its answer: 0 for
/// count/sum of nothing, NONE for avg/min/max of nothing.
pub fn aggregate(agg: AggregateQuery) -> Result<Call<Value>, CallError> {
    let q = agg.compile().map_err(query_error)?;
    let index = q.result_index;
    let (request, _) = execute(q)?.into_parts();
    Ok(Call::raw(request, move |p| {
        let result = statement_result(p, index)?;
        agg.decode(&result).map_err(|e| CallError::Protocol {
            method: "query",
            detail: e.to_string(),
        })
    }))
}

/// The number of rows a [`QuerySet`] selects.
pub fn count<M>(qs: &QuerySet<M>) -> Result<Call<u64>, CallError> {
    let (request, decode) = aggregate(qs.clone().count())?.into_parts();
    Ok(Call::raw(request, move |p| match decode(p)? {
        Value::Int(n) if n >= 0 => Ok(n as u64),
        other => Err(CallError::Protocol {
            method: "query",
            detail: format!("count() gave {}, not a non-negative int", other.kind()),
        }),
    }))
}
