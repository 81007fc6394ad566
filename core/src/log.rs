//! Query logging without IO or a clock: what one request may show in a log line (secrets
//! redacted), what its answer amounted to (rows, error), and the [`Recorder`] tests use to
//! count and inspect the requests an action sent.
//!
//! Drivers do the rest: they time each request and pass the duration in, emit the `tracing`
//! span and event (`surql.request`, target `surql`, level DEBUG) and feed the client's
//! [`Recorders`]. Nothing here is formatted unless a driver asks, and a driver asks only when a
//! subscriber or a recorder listens.
//!
//! ## What a request shows
//!
//! - its method;
//! - the statement text of `query`, `query_stream`, `graphql` and `gql`. surql binds every
//!   value as a parameter (`$p0`, `$t0`, …), so the text holds no user data. A string literal
//!   written straight after a secret-looking name is redacted anyway (`PASSWORD '…'`,
//!   `KEY '…'`, `password = crypto::argon2::generate('…')`), but that catches only the
//!   obvious cases: bind secrets, never write them into the text;
//! - the names of the bound variables; their values print as `<redacted>` (table names
//!   excepted) unless the client opted in with
//!   [`Options::log_values`](crate::Options::log_values). Variables bound as encoded CBOR
//!   (the rows of model writes, [`RawValue`]) follow the same rules;
//!   they are decoded only when values show;
//! - for the other methods, a shape of the params: the table or record id a CRUD call targets,
//!   names (`use`, `let`, `unset`, `run`), ids (`kill`, `commit`), `<redacted>` for data.
//!
//! Never shown, even with values opted in: any param of `signin`, `signup`, `authenticate`,
//! `refresh` and `revoke`; the value of `let`/`set`; any value under a key whose name looks
//! like a secret (see [`is_secret_name`]), at any depth; every value bound to a query whose
//! text mentions such a name, or written to a table named like one; quoted text in error
//! messages (the server quotes the values it complains about); the error of a statement
//! whose text had a literal redacted (parse errors quote the text back, cut anywhere).
//!
//! ```
//! use std::time::Duration;
//! use surql::log::RequestLog;
//! use surql::rpc::{Payload, Request};
//! use surql::{Object, Value};
//!
//! let mut vars = Object::new();
//! vars.insert("p0".into(), Value::from("ada@example.com"));
//! let req = Request::query("SELECT * FROM person WHERE email = $p0", vars);
//!
//! let log = RequestLog::new(&req, false);
//! assert_eq!(log.text.as_deref(), Some("SELECT * FROM person WHERE email = $p0"));
//! assert_eq!(log.vars, ["p0"]);
//! assert_eq!(log.params, "{ p0: <redacted> }");
//!
//! // The answer: one statement that returned two rows.
//! let answer = Payload::from(surql::cbor::decode(&surql::cbor::encode(&Value::Array(vec![{
//!     let mut row = Object::new();
//!     row.insert("status".into(), "OK".into());
//!     row.insert("time".into(), "1ms".into());
//!     row.insert("result".into(), Value::Array(vec![1.into(), 2.into()]));
//!     Value::Object(row)
//! }]))).unwrap());
//! let done = log.finish(Duration::from_millis(2), Ok(Some(&answer)));
//! assert_eq!(done.rows, Some(2));
//! assert_eq!(done.error, None);
//!
//! // Opted in, values show, except under secret-looking names.
//! let mut user = Object::new();
//! user.insert("name".into(), "ada".into());
//! user.insert("password".into(), "hunter2".into());
//! let mut vars = Object::new();
//! vars.insert("p0".into(), Value::Object(user));
//! let req = Request::query("CREATE person CONTENT $p0", vars);
//! assert_eq!(
//!     RequestLog::new(&req, true).params,
//!     "{ p0: { name: 'ada', password: <redacted> } }"
//! );
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::cbor::{self, RawValue};
use crate::error::Error;
use crate::escape;
use crate::rpc::{parse_query_results, split_query_results, Method, Payload, Request};
use crate::value::{Object, RecordId, RecordIdKey, Value};

/// What a log line shows in place of a value it may not show.
pub const REDACTED: &str = "<redacted>";

/// The longest params rendering kept (bytes); longer ones end with `…`. A bulk insert logged
/// with values opted in would otherwise write megabytes per line.
const MAX_PARAMS_LEN: usize = 4096;

/// Parts of names that mark a secret, matched anywhere in a name, ignoring ASCII case.
/// Deliberately broad: a false alarm hides a value, a miss leaks one.
const SECRET_WORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "refresh",
    "auth",
    "jwt",
    "credential",
    "private",
    "signature",
    "salt",
    "hash",
    "crypt",
    "cookie",
    "bearer",
    "session",
];

/// Whether a key, variable, table or function name looks like it holds a secret: it
/// contains (ignoring ASCII case) `pass`, `pwd`, `secret`, `token`, `key`, `refresh`, `auth`,
/// `jwt`, `credential`, `private`, `signature`, `salt`, `hash`, `crypt`, `cookie`, `bearer`
/// or `session`.
///
/// ```
/// use surql::log::is_secret_name;
/// assert!(is_secret_name("password"));
/// assert!(is_secret_name("API_KEY"));
/// assert!(is_secret_name("refresh_token"));
/// assert!(!is_secret_name("name"));
/// assert!(!is_secret_name("email"));
/// ```
pub fn is_secret_name(name: &str) -> bool {
    SECRET_WORDS
        .iter()
        .any(|w| contains_ignore_ascii_case(name, w))
}

fn contains_ignore_ascii_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    h.len() >= n.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// Whether every param of `method` is a secret (credentials, tokens).
fn is_secret_method(method: Method) -> bool {
    matches!(
        method,
        Method::Signin | Method::Signup | Method::Authenticate | Method::Refresh | Method::Revoke
    )
}

/// Whether param 0 of `method` is statement text and param 1 its variables.
fn has_statement(method: Method) -> bool {
    matches!(
        method,
        Method::Query | Method::QueryStream | Method::Graphql | Method::Gql
    )
}

/// What a positional param is, for logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A name or an id (`use` ns/db, a `let` name, a function name, a live/txn/session id):
    /// shown when it is a plain scalar.
    Name,
    /// The table or record(s) a CRUD call works on: shown.
    Target,
    /// User data: shown only when values are opted in, with the secret rules.
    Data,
    /// Never shown.
    Secret,
}

/// The role of each positional param of `method` (params past the list are data).
fn roles(method: Method) -> &'static [Role] {
    use Role::*;
    match method {
        Method::Use => &[Name, Name],
        Method::Let => &[Name, Secret],
        Method::Unset => &[Name],
        Method::Live => &[Target, Name],
        Method::Kill
        | Method::Commit
        | Method::Cancel
        | Method::Attach
        | Method::Detach
        | Method::QueryCancel => &[Name],
        Method::Select | Method::Delete => &[Target],
        Method::Create
        | Method::Insert
        | Method::InsertRelation
        | Method::Upsert
        | Method::Update
        | Method::Merge => &[Target, Data],
        Method::Patch => &[Target, Data, Name],
        Method::Relate => &[Target, Target, Target, Data],
        Method::Run => &[Name, Name, Data],
        _ => &[],
    }
}

/// One request as it may appear in a log line, taken before the request is sent (the
/// driver gives the request away to send it). See the [module docs](self) for what is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestLog {
    /// The method.
    pub method: Method,
    /// The statement text (`query`, `query_stream`, `graphql`, `gql`), with string literals
    /// after secret-looking names redacted.
    pub text: Option<String>,
    /// The names of the bound variables (`query`, `query_stream`, `graphql`, `gql`).
    pub vars: Vec<String>,
    /// The params, redacted: the variables for a statement (`{ p0: <redacted> }`), else the
    /// positional params (`[person:1, <redacted>]`).
    pub params: String,
    /// A literal was redacted from the text: the server quotes statement text back in parse
    /// errors (`...cret' ROLES`, cut anywhere), so this request's errors are not shown.
    secret_text: bool,
}

impl RequestLog {
    /// What `request` may show; `log_values` is the client's
    /// [`Options::log_values`](crate::Options::log_values).
    pub fn new(request: &Request, log_values: bool) -> RequestLog {
        let method = request.method;
        let params = &request.params;
        let mut out = Shown::new(log_values);
        if is_secret_method(method) {
            out.list(params.iter().map(|_| Role::Secret), params);
            return RequestLog {
                method,
                text: None,
                vars: Vec::new(),
                params: out.finish(),
                secret_text: false,
            };
        }
        if has_statement(method) {
            let raw = params.first().and_then(Value::as_str);
            let redacted = raw.map(redact_statement);
            let secret_text = matches!(redacted, Some(Cow::Owned(_)));
            let text = redacted.map(Cow::into_owned);
            let vars = request.var_names().into_iter().map(str::to_owned).collect();
            // A statement about secrets may bind them under innocent names (`SET password =
            // $p0`): none of its values show.
            out.secret_context = raw.is_some_and(is_secret_name);
            let encoded = request.raw_vars();
            match params.get(1) {
                Some(Value::Object(o)) => out.vars(o, encoded),
                _ if !encoded.is_empty() => out.vars(&Object::new(), encoded),
                Some(v) => out.value(Role::Data, v),
                None => out.push("{}"),
            }
            if params.len() > 2 {
                out.push(" ");
                out.list(params[2..].iter().map(|_| Role::Name), &params[2..]);
            }
            return RequestLog {
                method,
                text,
                vars,
                params: out.finish(),
                secret_text,
            };
        }
        let roles = roles(method);
        // Data written to a table (or through a function) named like a secret is secret.
        out.secret_context = params.iter().zip(roles).any(|(v, role)| match (role, v) {
            (Role::Target, Value::Table(t)) => is_secret_name(t.as_str()),
            (Role::Target, Value::RecordId(r)) => is_secret_name(&r.table),
            (Role::Target, Value::String(s)) | (Role::Name, Value::String(s)) => is_secret_name(s),
            _ => false,
        });
        let role_of = (0..params.len()).map(|i| roles.get(i).copied().unwrap_or(Role::Data));
        out.list(role_of, params);
        RequestLog {
            method,
            text: None,
            vars: Vec::new(),
            params: out.finish(),
            secret_text: false,
        }
    }

    /// The finished record: this request, how long it took and what came back. `answer` is
    /// the request's outcome, `Ok(None)` when the driver has no payload to show (a live
    /// query or a stream that was opened).
    ///
    /// `rows`: for `query`, the summed lengths of the statement results that are arrays
    /// (`None` when none is); for CRUD methods, an array's length, 1 for one record, 0 for
    /// NONE/NULL. Rows are counted in the CBOR bytes, not decoded. `error`: the request's
    /// error, or a `query`'s first failed statement, with quoted text redacted (only its kind
    /// when a secret was redacted from the statement text, which errors may quote back).
    pub fn finish(self, duration: Duration, answer: Result<Option<&Payload>, &Error>) -> Recorded {
        let (rows, mut error) = match answer {
            Err(e) if self.secret_text => (None, Some(hidden_error(e.as_server_error()))),
            Err(e) => (None, Some(redact_quoted(&e.to_string()).into_owned())),
            Ok(None) => (None, None),
            Ok(Some(p)) if self.method == Method::Query => query_summary(p),
            Ok(Some(p)) => (answer_rows(self.method, p), None),
        };
        if self.secret_text && answer.is_ok() && error.is_some() {
            error = Some(hidden_error(None));
        }
        Recorded {
            method: self.method,
            text: self.text,
            vars: self.vars,
            params: self.params,
            duration,
            rows,
            error,
        }
    }
}

/// One finished request, as logged and as a [`Recorder`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recorded {
    /// The method.
    pub method: Method,
    /// The statement text (`query`, `query_stream`, `graphql`, `gql`).
    pub text: Option<String>,
    /// The names of the bound variables.
    pub vars: Vec<String>,
    /// The params, redacted as the client's value-logging setting says
    /// ([`RequestLog::params`]).
    pub params: String,
    /// How long the request took, as the driver measured it.
    pub duration: Duration,
    /// How many rows the answer had ([`RequestLog::finish`]).
    pub rows: Option<usize>,
    /// Why it failed (quoted text redacted), or a `query`'s first failed statement.
    pub error: Option<String>,
}

/// Rows in a CRUD answer: an array's length, 1 for a record, 0 for NONE/NULL; `None` for
/// other methods or other shapes. Only the item's head is read.
///
/// ```
/// use surql::log::answer_rows;
/// use surql::rpc::{Method, Payload};
/// use surql::Value;
///
/// let two = Payload::from_cbor(surql::cbor::encode(&Value::Array(vec![1.into(), 2.into()])));
/// assert_eq!(answer_rows(Method::Select, &two), Some(2));
/// assert_eq!(answer_rows(Method::Delete, &Payload::from(Value::None)), Some(0));
/// assert_eq!(answer_rows(Method::Version, &Payload::from(Value::from("3.3.5"))), None);
/// ```
pub fn answer_rows(method: Method, answer: &Payload) -> Option<usize> {
    if !matches!(
        method,
        Method::Select
            | Method::Create
            | Method::Insert
            | Method::InsertRelation
            | Method::Upsert
            | Method::Update
            | Method::Merge
            | Method::Patch
            | Method::Relate
            | Method::Delete
    ) {
        return None;
    }
    match answer.raw_bytes() {
        Some(bytes) => match cbor::head(bytes, 0).ok()? {
            (4, _, _) => array_len_at(bytes, 0),
            (5, _, _) => Some(1),
            // NONE (tag 6) and NULL (simple 22).
            (6, Some(6), _) | (7, Some(22), _) => Some(0),
            _ => None,
        },
        None => match answer.to_value().ok()? {
            Value::Array(a) => Some(a.len()),
            Value::Object(_) => Some(1),
            Value::None | Value::Null => Some(0),
            _ => None,
        },
    }
}

/// The length of the array at `pos`, reading heads only (an indefinite array is stepped
/// through); `None` if the item there is not an array.
fn array_len_at(bytes: &[u8], pos: usize) -> Option<usize> {
    match cbor::head(bytes, pos).ok()? {
        (4, Some(n), _) => usize::try_from(n).ok(),
        (4, None, mut at) => {
            let mut n = 0;
            while *bytes.get(at)? != 0xff {
                at = cbor::skip_item(bytes, at).ok()?;
                n += 1;
            }
            Some(n)
        }
        _ => None,
    }
}

/// Rows and first error of a `query` answer, from its bytes when it has them.
fn query_summary(answer: &Payload) -> (Option<usize>, Option<String>) {
    let mut rows = None::<usize>;
    let mut error = None;
    let mut add = |n: Option<usize>| {
        if let Some(n) = n {
            rows = Some(rows.unwrap_or(0).saturating_add(n));
        }
    };
    let split = answer
        .raw_bytes()
        .and_then(|b| Some((b, split_query_results(b).ok()??)));
    match split {
        Some((bytes, statements)) => {
            for (i, s) in statements.iter().enumerate() {
                match &s.result {
                    Ok(Some(range)) => add(array_len_at(bytes, range.start)),
                    Ok(None) => {}
                    Err(e) if error.is_none() => error = Some(statement_error(i, e)),
                    Err(_) => {}
                }
            }
        }
        // A decoded answer, or a rare shape the byte reader leaves to the value path.
        None => {
            let Some(statements) = answer
                .to_value()
                .ok()
                .and_then(|v| parse_query_results(v).ok())
            else {
                return (None, None);
            };
            for (i, s) in statements.iter().enumerate() {
                match &s.result {
                    Ok(Value::Array(a)) => add(Some(a.len())),
                    Ok(_) => {}
                    Err(e) if error.is_none() => error = Some(statement_error(i, e)),
                    Err(_) => {}
                }
            }
        }
    }
    (rows, error)
}

/// What stands for the error of a request whose text held a secret.
fn hidden_error(e: Option<&crate::rpc::ServerError>) -> String {
    let kind = e.map(|e| format!(" ({})", e.kind)).unwrap_or_default();
    format!("{REDACTED}{kind}: not shown, the statement text holds a secret")
}

fn statement_error(i: usize, e: &crate::rpc::ServerError) -> String {
    format!("statement {i}: {}", redact_quoted(&e.to_string()))
}

/// Writes params as a log line, redacting what may not show.
struct Shown {
    out: String,
    /// The client opted in to value logging.
    values: bool,
    /// The request is about secrets: no data value shows, opted in or not.
    secret_context: bool,
    full: bool,
}

impl Shown {
    fn new(values: bool) -> Self {
        Shown {
            out: String::new(),
            values,
            secret_context: false,
            full: false,
        }
    }

    fn finish(mut self) -> String {
        if self.full {
            self.out.push('…');
        }
        self.out
    }

    /// Appends `s`, unless the rendering is already at its cap.
    fn push(&mut self, s: &str) {
        if self.full {
            return;
        }
        if self.out.len() + s.len() > MAX_PARAMS_LEN {
            let mut end = MAX_PARAMS_LEN.saturating_sub(self.out.len()).min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.out.push_str(&s[..end]);
            self.full = true;
        } else {
            self.out.push_str(s);
        }
    }

    fn push_display(&mut self, v: &dyn fmt::Display) {
        if self.full {
            return;
        }
        let mut s = String::new();
        let _ = write!(s, "{v}");
        self.push(&s);
    }

    /// `[a, b, …]` with each param in its role.
    fn list(&mut self, roles: impl Iterator<Item = Role>, params: &[Value]) {
        self.push("[");
        for (i, (role, v)) in roles.zip(params).enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.value(role, v);
        }
        self.push("]");
    }

    /// A statement's variables: `{ name: value, … }`, names always shown. `encoded` are
    /// the variables bound as CBOR (a name in both is the encoded one, as on the wire):
    /// decoded only when values show.
    fn vars(&mut self, vars: &Object, encoded: &BTreeMap<String, RawValue>) {
        if vars.is_empty() && encoded.is_empty() {
            self.push("{}");
            return;
        }
        let mut names: Vec<&String> = vars.keys().chain(encoded.keys()).collect();
        names.sort_unstable();
        names.dedup();
        self.push("{ ");
        for (i, k) in names.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push(&escape::escape_object_key(k));
            self.push(": ");
            match (encoded.get(k), vars.get(k)) {
                (Some(_), _) if is_secret_name(k) => self.push(REDACTED),
                (Some(raw), _) => self.encoded(raw),
                (None, Some(v)) if is_secret_name(k) && !matches!(v, Value::Table(_)) => {
                    self.push(REDACTED)
                }
                (None, Some(v)) => self.value(Role::Data, v),
                (None, None) => {}
            }
            if self.full {
                break;
            }
        }
        self.push(" }");
    }

    /// A variable bound as CBOR: redacted unless values show, then decoded and shown as
    /// data (with the secret rules); only its size if it does not decode.
    fn encoded(&mut self, raw: &RawValue) {
        if !self.values || self.secret_context || self.full {
            self.push(REDACTED);
            return;
        }
        match raw.to_value() {
            Ok(v) => self.data(&v),
            Err(_) => self.push(&format!("<{} bytes of CBOR>", raw.as_bytes().len())),
        }
    }

    fn value(&mut self, role: Role, v: &Value) {
        match (role, v) {
            (Role::Secret, _) => self.push(REDACTED),
            // Table names are schema, like the statement text.
            (_, Value::Table(t)) => self.push_display(t),
            (Role::Name, v) if is_scalar(v) => self.push_display(v),
            (Role::Target, Value::RecordId(r)) => self.record_id(r),
            (Role::Target, Value::Array(items)) => {
                self.push("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.value(Role::Target, item);
                }
                self.push("]");
            }
            (Role::Target, v @ (Value::Range(_) | Value::String(_))) => self.push_display(v),
            (_, v) if self.values && !self.secret_context => self.data(v),
            _ => self.push(REDACTED),
        }
    }

    /// A target record id: the table, and the key when it is a plain one (a key that is an
    /// array or an object is data).
    fn record_id(&mut self, r: &RecordId) {
        match &r.key {
            RecordIdKey::Array(_) | RecordIdKey::Object(_)
                if !self.values || self.secret_context =>
            {
                self.push(&escape::escape_ident(&r.table));
                self.push(":");
                self.push(REDACTED);
            }
            RecordIdKey::Array(a) if !a.iter().any(has_secret_key) => self.push_display(r),
            RecordIdKey::Object(o) if !has_secret_key_in(o) => self.push_display(r),
            RecordIdKey::Array(_) | RecordIdKey::Object(_) => {
                self.push(&escape::escape_ident(&r.table));
                self.push(":");
                self.push(REDACTED);
            }
            _ => self.push_display(r),
        }
    }

    /// A data value with values opted in: everything but what sits under a secret-looking key.
    fn data(&mut self, v: &Value) {
        match v {
            Value::Object(o) => {
                if o.is_empty() {
                    self.push("{}");
                    return;
                }
                self.push("{ ");
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.push(&escape::escape_object_key(k));
                    self.push(": ");
                    if is_secret_name(k) {
                        self.push(REDACTED);
                    } else {
                        self.data(v);
                    }
                    if self.full {
                        return;
                    }
                }
                self.push(" }");
            }
            Value::Array(items) | Value::Set(items) => {
                self.push("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.data(item);
                    if self.full {
                        return;
                    }
                }
                self.push("]");
            }
            Value::RecordId(r) => self.record_id(r),
            other => self.push_display(other),
        }
    }
}

fn is_scalar(v: &Value) -> bool {
    matches!(
        v,
        Value::None
            | Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::String(_)
            | Value::Uuid(_)
            | Value::Table(_)
    )
}

fn has_secret_key(v: &Value) -> bool {
    match v {
        Value::Object(o) => has_secret_key_in(o),
        Value::Array(a) | Value::Set(a) => a.iter().any(has_secret_key),
        _ => false,
    }
}

fn has_secret_key_in(o: &Object) -> bool {
    o.iter()
        .any(|(k, v)| is_secret_name(k) || has_secret_key(v))
}

/// Whether `b` can be part of a name (bytes of multi-byte characters count, so names end on
/// character boundaries).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The string literal whose opening quote is at `open`: the offset just past it (backslash
/// escapes honoured) and whether it is closed (else it runs to the end of `b`).
fn literal_end(b: &[u8], open: usize) -> (usize, bool) {
    let quote = b[open];
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return (i + 1, true),
            _ => i += 1,
        }
    }
    (b.len(), false)
}

/// Writes into `out` what came before the literal opened at `open`, then the literal with its
/// content replaced by [`REDACTED`]; `end` and `closed` are [`literal_end`]'s answer.
fn redact_literal(
    text: &str,
    out: &mut Option<String>,
    copied: &mut usize,
    open: usize,
    (end, closed): (usize, bool),
) {
    let quote = text.as_bytes()[open] as char;
    let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
    out.push_str(&text[*copied..=open]);
    out.push_str(REDACTED);
    if closed {
        out.push(quote);
    }
    *copied = end;
}

/// Statement text with the string literals that follow a secret-looking name redacted:
/// `PASSWORD 'x'`, `KEY "x"`, `password = 'x'`, `{ token: 'x' }`,
/// `pass = crypto::argon2::generate('x')`. Between the name and the literal only
/// whitespace, `=`, `:`, `(` and names (a function path) may stand.
fn redact_statement(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    let mut out = None;
    let mut copied = 0;
    let mut armed = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let end = literal_end(b, i);
                if armed {
                    redact_literal(text, &mut out, &mut copied, i, end);
                }
                armed = false;
                i = end.0;
            }
            b'`' => {
                let close = b[i + 1..]
                    .iter()
                    .position(|&c| c == b'`')
                    .map_or(b.len(), |p| i + 1 + p);
                armed |= is_secret_name(&text[i + 1..close]);
                i = close + 1;
            }
            c if is_name_byte(c) => {
                let start = i;
                while i < b.len() && is_name_byte(b[i]) {
                    i += 1;
                }
                armed |= is_secret_name(&text[start..i]);
            }
            c if c.is_ascii_whitespace() || matches!(c, b'=' | b':' | b'(') => i += 1,
            _ => {
                armed = false;
                i += 1;
            }
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut s) => {
            s.push_str(&text[copied..]);
            Cow::Owned(s)
        }
    }
}

/// `text` (an error message) with the content of every quoted string redacted: the server
/// quotes the values it complains about (`found 'hunter2' for field pass`). A quote after a
/// letter or digit is an apostrophe (`can't`), except after a one-letter literal prefix
/// (`s'…'`, `r'…'`, `d'…'`, `u'…'`, `b'…'`, `f'…'`).
fn redact_quoted(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    let mut out = None;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if matches!(b[i], b'\'' | b'"') && opens_literal(b, i) {
            let end = literal_end(b, i);
            redact_literal(text, &mut out, &mut copied, i, end);
            i = end.0;
        } else {
            i += 1;
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut s) => {
            s.push_str(&text[copied..]);
            Cow::Owned(s)
        }
    }
}

fn opens_literal(b: &[u8], i: usize) -> bool {
    match i.checked_sub(1).map(|p| b[p]) {
        None => true,
        Some(p) if !is_name_byte(p) => true,
        Some(b's' | b'r' | b'd' | b'u' | b'b' | b'f') => i < 2 || !is_name_byte(b[i - 2]),
        Some(_) => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Recorders

type List = Arc<Mutex<Vec<Recorded>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-written list behind (pushes and
    // clones only), so a poisoned lock is still good.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The recorders active on one client: a driver keeps one per connection (a client and its
/// clones share it), checks [`Recorders::is_active`] before doing any work for them, and
/// [`push`](Recorders::push)es every finished request.
#[derive(Debug, Default)]
pub struct Recorders {
    /// `lists.len()`, readable without the lock: the check on every request.
    active: AtomicUsize,
    lists: Mutex<Vec<List>>,
}

impl Recorders {
    /// An empty set.
    pub fn new() -> Self {
        Recorders::default()
    }

    /// Whether any recorder is listening (one atomic load).
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    /// Starts a recorder; it records every request pushed until it is dropped.
    pub fn start(self: &Arc<Self>) -> Recorder {
        let list = List::default();
        let mut lists = lock(&self.lists);
        lists.push(list.clone());
        self.active.store(lists.len(), Ordering::Relaxed);
        Recorder {
            set: self.clone(),
            list,
        }
    }

    /// Adds a finished request to every active recorder.
    pub fn push(&self, record: Recorded) {
        let lists = lock(&self.lists);
        if let Some((last, rest)) = lists.split_last() {
            for list in rest {
                lock(list).push(record.clone());
            }
            lock(last).push(record);
        }
    }
}

/// A scoped record of the requests a client sends, for tests: every request of the client
/// (and its clones) that finishes while the recorder lives, in the order they finished.
/// Dropping it stops the recording. Recorders of different clients never see each other's
/// requests, so tests running in parallel stay apart.
///
/// Bound values are kept only as the log shows them ([`Recorded::params`]): redacted unless
/// the client opted in to value logging, and secrets never.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use surql::log::{RequestLog, Recorders};
/// use surql::rpc::{Method, Request};
/// use surql::Object;
///
/// let set = Arc::new(Recorders::new());
/// let rec = set.start();
/// assert!(set.is_active());
/// // What a driver does for each request:
/// let req = Request::query("RETURN 1", Object::new());
/// set.push(RequestLog::new(&req, false).finish(Duration::from_millis(1), Ok(None)));
/// assert_eq!(rec.count(), 1);
/// assert_eq!(rec.statements()[0].method, Method::Query);
/// assert_eq!(rec.texts(), ["RETURN 1"]);
/// drop(rec);
/// assert!(!set.is_active());
/// ```
pub struct Recorder {
    set: Arc<Recorders>,
    list: List,
}

impl Recorder {
    /// Every request recorded so far.
    pub fn statements(&self) -> Vec<Recorded> {
        lock(&self.list).clone()
    }

    /// How many requests were recorded (of any method).
    pub fn count(&self) -> usize {
        lock(&self.list).len()
    }

    /// The statement texts recorded so far (requests without text are skipped).
    pub fn texts(&self) -> Vec<String> {
        lock(&self.list)
            .iter()
            .filter_map(|r| r.text.clone())
            .collect()
    }

    /// Forgets what was recorded so far; recording goes on.
    pub fn clear(&self) {
        lock(&self.list).clear();
    }
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("count", &self.count())
            .finish()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let mut lists = lock(&self.set.lists);
        lists.retain(|l| !Arc::ptr_eq(l, &self.list));
        self.set.active.store(lists.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
