//! What a transaction does to requests, without IO: the rewrite of RPC methods the server
//! runs outside an RPC transaction, and the batch an HTTP transaction sends at commit.
//!
//! **WebSocket** transactions are the server's interactive RPC transactions (`begin`, then
//! each request carries the `txn` id, then `commit` or `cancel`). SurrealDB 3.3.5 runs
//! `update`, `patch`, `relate` and `run` OUTSIDE the transaction even when the request names
//! it, so [`in_transaction`] turns those four into the equivalent `query` (bound values,
//! checked identifiers) and [`Remap`] turns the query's answer back into the method's.
//!
//! **HTTP** has no interactive transactions (every request is its own), so an HTTP
//! transaction is a [`Batch`]: each action's `query` is queued, and at commit ONE request
//! runs `BEGIN TRANSACTION; …every statement…; COMMIT TRANSACTION;`. Each queued query's
//! variables are renamed (`$p0` of the third action becomes `$b2_p0`) by a tokenizer that
//! skips strings, identifiers in backticks or `⟨⟩`, and comments, so a name that merely
//! starts like another (`$p1` vs `$p10`) or text inside a string is never touched. The
//! answers reach their actions only after the commit: an action that needs its answer
//! before the transaction ends cannot run in an HTTP transaction.
//!
//! ```
//! use surql::rpc::{Method, Request};
//! use surql::tx::Batch;
//! use surql::{Object, Value};
//!
//! let mut b = Batch::default();
//! let mut vars = Object::new();
//! vars.insert("p0".into(), Value::from(1));
//! b.push(Request::query("UPDATE counter:a SET n += $p0;", vars.clone())).unwrap();
//! b.push(Request::query("SELECT * FROM counter WHERE n > $p0 AND s = '$p0';", vars)).unwrap();
//! let req = b.request().unwrap();
//! assert_eq!(
//!     req.params[0],
//!     Value::from("BEGIN TRANSACTION; UPDATE counter:a SET n += $b0_p0; SELECT * FROM counter WHERE n > $b1_p0 AND s = '$p0'; COMMIT TRANSACTION;")
//! );
//! ```

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use crate::client::QueryResponse;
use crate::error::Error;
use crate::escape::escape_ident;
use crate::op::{Operation, Step};
use crate::rpc::{Method, Payload, QueryResult, Request};
use crate::value::{Object, Uuid, Value};

/// How an answer to a rewritten request becomes the original method's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remap {
    /// The request was sent as is.
    None,
    /// The request became a one-statement `query`: its first statement's result (or error)
    /// is the answer.
    FirstStatement,
}

impl Remap {
    /// Applies the remap to an answer.
    pub fn apply(self, answer: Result<Payload, Error>) -> Result<Payload, Error> {
        match self {
            Remap::None => answer,
            Remap::FirstStatement => {
                let resp = QueryResponse::from_payload(answer?)?;
                let v = resp.value_at(0)?;
                Ok(Payload::from(v))
            }
        }
    }
}

fn bad(method: &Method, reason: &str) -> Error {
    Error::Invalid {
        what: format!("`{}` in a transaction", method.as_str()),
        reason: reason.to_owned(),
    }
}

/// `ONLY` when the target is one record (the RPC answers a single object for a record id).
fn only(v: &Value) -> &'static str {
    if matches!(v, Value::RecordId(_)) {
        "ONLY "
    } else {
        ""
    }
}

/// The request to send inside RPC transaction `txn`: the same request with the `txn` id,
/// or, for the methods the server runs outside the transaction (`update`, `patch`,
/// `relate`, `run`), the equivalent `query`.
///
/// ```
/// use surql::rpc::{Method, Request};
/// use surql::tx::{in_transaction, Remap};
/// use surql::{RecordId, Uuid, Value};
///
/// let txn = Uuid::from_bytes([1; 16]);
/// let req = Request::new(Method::Update, vec![RecordId::new("t", 1).into(), Value::from(5)]);
/// let (sent, remap) = in_transaction(req, txn).unwrap();
/// assert_eq!(sent.method, Method::Query);
/// assert_eq!(sent.params[0], "UPDATE ONLY $target CONTENT $data;".into());
/// assert_eq!((sent.txn, remap), (Some(txn), Remap::FirstStatement));
/// ```
pub fn in_transaction(mut req: Request, txn: Uuid) -> Result<(Request, Remap), Error> {
    let mut params = std::mem::take(&mut req.params).into_iter();
    let mut vars = Object::new();
    let text = match req.method {
        Method::Update => {
            let target = params.next().unwrap_or(Value::None);
            let data = params.next();
            let o = only(&target);
            vars.insert("target".into(), target);
            match data {
                Some(d) if !d.is_nullish() => {
                    vars.insert("data".into(), d);
                    format!("UPDATE {o}$target CONTENT $data;")
                }
                _ => format!("UPDATE {o}$target;"),
            }
        }
        Method::Patch => {
            let target = params.next().unwrap_or(Value::None);
            let patches = params.next().unwrap_or(Value::Array(Vec::new()));
            let diff = matches!(params.next(), Some(Value::Bool(true)));
            let o = only(&target);
            vars.insert("target".into(), target);
            vars.insert("patches".into(), patches);
            format!(
                "UPDATE {o}$target PATCH $patches RETURN {};",
                if diff { "DIFF" } else { "AFTER" }
            )
        }
        Method::Relate => {
            let from = params.next().unwrap_or(Value::None);
            let table = params.next().unwrap_or(Value::None);
            let to = params.next().unwrap_or(Value::None);
            let data = params.next();
            let table = match table {
                Value::Table(t) => t.as_str().to_owned(),
                Value::String(s) => s,
                other => {
                    return Err(bad(
                        &Method::Relate,
                        &format!("the edge table must be a table name, not {}", other.kind()),
                    ))
                }
            };
            crate::escape::validate_name(&table)
                .map_err(|e| bad(&Method::Relate, &e.to_string()))?;
            let o = if matches!(from, Value::RecordId(_)) && matches!(to, Value::RecordId(_)) {
                "ONLY "
            } else {
                ""
            };
            vars.insert("from".into(), from);
            vars.insert("to".into(), to);
            let edge = escape_ident(&table);
            match data {
                Some(d) if !d.is_nullish() => {
                    vars.insert("data".into(), d);
                    format!("RELATE {o}$from->{edge}->$to CONTENT $data;")
                }
                _ => format!("RELATE {o}$from->{edge}->$to;"),
            }
        }
        Method::Run => {
            let name = match params.next() {
                Some(Value::String(s)) => s,
                _ => return Err(bad(&Method::Run, "the function name must be a string")),
            };
            let _version = params.next();
            let args = match params.next() {
                Some(Value::Array(a)) => a,
                Some(v) if v.is_nullish() => Vec::new(),
                None => Vec::new(),
                Some(other) => {
                    return Err(bad(
                        &Method::Run,
                        &format!("the arguments must be an array, not {}", other.kind()),
                    ))
                }
            };
            let plain = name.split("::").all(|p| {
                let mut c = p.chars();
                matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || x == '_')
                    && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
            });
            if name.is_empty() || !plain {
                return Err(bad(
                    &Method::Run,
                    &format!("`{name}` is not a function name"),
                ));
            }
            let mut text = format!("RETURN {name}(");
            for (i, a) in args.into_iter().enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                text.push_str(&format!("$a{i}"));
                vars.insert(format!("a{i}"), a);
            }
            text.push_str(");");
            text
        }
        _ => {
            req.params = params.collect();
            req.txn = Some(txn);
            return Ok((req, Remap::None));
        }
    };
    let mut q = Request::query(text, vars);
    q.session = req.session;
    q.txn = Some(txn);
    Ok((q, Remap::FirstStatement))
}

/// What the tokenizer found in a query text.
#[derive(Debug, Default, PartialEq, Eq)]
struct Scan {
    /// Top-level statements (`;`-terminated, or a trailing one without `;`).
    statements: usize,
    /// Byte ranges of `$name` tokens (without the `$`).
    vars: Vec<std::ops::Range<usize>>,
}

/// Tokenizes SurrealQL just enough to find variables and top-level statement ends: string
/// literals (`'…'`, `"…"`, with backslash escapes, and prefixed forms such as `r"…"`,
/// `d'…'`), identifiers in backticks or `⟨…⟩`, comments (`--`, `//`, `#`, `/* */`) and
/// nesting (`()`, `[]`, `{}`) are skipped.
fn scan(text: &str) -> Scan {
    let b = text.as_bytes();
    let mut out = Scan::default();
    let mut depth = 0usize;
    let mut content = false;
    let mut i = 0;
    let skip_quoted = |i: usize, q: u8| -> usize {
        let mut j = i + 1;
        while j < b.len() {
            if b[j] == b'\\' {
                j += 2;
                continue;
            }
            if b[j] == q {
                return j + 1;
            }
            j += 1;
        }
        b.len()
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' | b'`' => {
                i = skip_quoted(i, c);
                content = true;
                continue;
            }
            _ if text[i..].starts_with('⟨') => {
                i = text[i..]
                    .find('⟩')
                    .map_or(b.len(), |k| i + k + '⟩'.len_utf8());
                content = true;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = text[i..].find('\n').map_or(b.len(), |k| i + k);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(b.len(), |k| i + k);
                continue;
            }
            b'#' => {
                i = text[i..].find('\n').map_or(b.len(), |k| i + k);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..].find("*/").map_or(b.len(), |k| i + 2 + k + 2);
                continue;
            }
            b'$' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j > start {
                    out.vars.push(start..j);
                }
                content = true;
                i = j.max(i + 1);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b';' if depth == 0 => {
                if content {
                    out.statements += 1;
                }
                content = false;
                i += 1;
                continue;
            }
            _ => {}
        }
        if !c.is_ascii_whitespace() {
            content = true;
        }
        i += 1;
    }
    if content {
        out.statements += 1;
    }
    out
}

/// The queued actions of an HTTP transaction, sent as one `BEGIN … COMMIT` query.
#[derive(Debug, Default)]
pub struct Batch {
    text: String,
    vars: Object,
    /// Variables bound as encoded CBOR, renamed like `vars`.
    raw_vars: std::collections::BTreeMap<String, crate::cbor::RawValue>,
    /// Statements of each queued query, in order.
    counts: Vec<usize>,
}

impl Batch {
    /// How many queries are queued.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// `true` when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Queues a `query` request (other methods cannot be batched: an error names them) and
    /// returns its slot.
    pub fn push(&mut self, req: Request) -> Result<usize, Error> {
        if req.method != Method::Query {
            return Err(Error::NotSupported {
                method: req.method.as_str().to_owned(),
                message: format!(
                    "`{}` cannot run in an HTTP transaction: it is one `query` request sent at commit, so only query-based actions (every model action, `query`, the query compiler) can be queued; use a WebSocket connection for RPC methods in a transaction",
                    req.method.as_str()
                ),
            });
        }
        let raw = req.raw_vars;
        let mut params = req.params.into_iter();
        let text = match params.next() {
            Some(Value::String(s)) => s,
            _ => return Err(Error::Protocol("a query request without its text".into())),
        };
        let vars = match params.next() {
            Some(Value::Object(o)) => o,
            _ => Object::new(),
        };
        let slot = self.counts.len();
        let scan = scan(&text);
        if scan.statements == 0 {
            return Err(Error::Invalid {
                what: "query in a transaction".into(),
                reason: "it has no statement".into(),
            });
        }
        let upper = text.to_ascii_uppercase();
        if upper.contains("BEGIN") || upper.contains("COMMIT") || upper.contains("CANCEL") {
            // Cheap pre-check; the tokenizer-level check below is exact.
            let words: Vec<String> = statement_heads(&text);
            if words
                .iter()
                .any(|w| matches!(w.as_str(), "BEGIN" | "COMMIT" | "CANCEL"))
            {
                return Err(Error::Invalid {
                    what: "query in a transaction".into(),
                    reason: "it has its own BEGIN/COMMIT/CANCEL; the transaction adds them".into(),
                });
            }
        }
        let prefix = format!("b{slot}_");
        let mut out = String::with_capacity(text.len() + scan.vars.len() * prefix.len());
        let mut last = 0;
        for r in &scan.vars {
            let name = &text[r.clone()];
            out.push_str(&text[last..r.start]);
            if vars.contains_key(name) || raw.contains_key(name) {
                out.push_str(&prefix);
            }
            out.push_str(name);
            last = r.end;
        }
        out.push_str(&text[last..]);
        let trimmed = out.trim_end();
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(trimmed);
        if !trimmed.ends_with(';') {
            self.text.push(';');
        }
        for (k, v) in vars {
            self.vars.insert(format!("{prefix}{k}"), v);
        }
        for (k, v) in raw {
            self.raw_vars.insert(format!("{prefix}{k}"), v);
        }
        self.counts.push(scan.statements);
        Ok(slot)
    }

    /// The one request to send at commit (`None` when nothing is queued).
    pub fn request(&self) -> Option<Request> {
        if self.is_empty() {
            return None;
        }
        Some(Request::query_with_raw(
            format!("BEGIN TRANSACTION; {} COMMIT TRANSACTION;", self.text),
            self.vars.clone(),
            self.raw_vars.clone(),
        ))
    }

    /// Splits the commit's answer into each queued query's own answer, in slot order. A
    /// failed transaction is one error: the statement that failed (not the "not executed"
    /// echoes of the others).
    pub fn split(&self, answer: Result<Payload, Error>) -> Result<Vec<Payload>, Error> {
        let resp = QueryResponse::from_payload(answer?)?;
        let results = resp.results()?;
        let expected = self.counts.iter().sum::<usize>() + 2;
        // the cause of a failed transaction (whatever the count: SurrealDB 3.0 answers a
        // failed one with a result fewer, checked against 3.0.5)
        let mut failure = None;
        for r in &results {
            if let Err(e) = &r.result {
                let echo = matches!(&e.details, Some(Value::Object(d)) if matches!(d.get("kind"), Some(Value::String(k)) if k == "NotExecuted" || k == "Cancelled"));
                if !echo {
                    failure = Some(e.clone());
                    break;
                }
                failure.get_or_insert_with(|| e.clone());
            }
        }
        if let Some(e) = failure {
            return Err(Error::Server(e));
        }
        if results.len() != expected {
            return Err(Error::Protocol(format!(
                "a transaction of {} statements was answered with {} results",
                expected,
                results.len()
            )));
        }
        let mut out = Vec::with_capacity(self.counts.len());
        let mut at = 1;
        for n in &self.counts {
            let rows: Vec<Value> = results[at..at + n].iter().map(row_of).collect();
            out.push(Payload::from(Value::Array(rows)));
            at += n;
        }
        Ok(out)
    }
}

/// The answer of an action queued in a transaction, readable once the transaction has
/// committed (at once for an action that already ran).
pub struct Deferred<T> {
    slot: std::sync::Arc<std::sync::Mutex<Option<Result<T, Error>>>>,
}

impl<T> std::fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ready = self.slot.lock().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("Deferred").field("ready", &ready).finish()
    }
}

impl<T> Deferred<T> {
    fn empty() -> Self {
        Deferred {
            slot: Default::default(),
        }
    }

    /// An answer already known (an action that ran, or failed before sending).
    pub fn ready(out: Result<T, Error>) -> Self {
        let d = Deferred::empty();
        d.set(out);
        d
    }

    fn set(&self, out: Result<T, Error>) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(out);
    }

    /// The action's answer. Before the transaction committed this is an error saying so;
    /// if the transaction failed, its error.
    pub fn take(self) -> Result<T, Error> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.take().unwrap_or_else(|| {
            Err(Error::invalid(
                "deferred answer",
                "the transaction has not committed yet (HTTP transactions answer at commit)",
            ))
        })
    }
}

type Completion = Box<dyn FnOnce(Result<Payload, Error>) + Send>;

/// An HTTP transaction's queue: the [`Batch`] of its actions' requests and, for each, the
/// operation waiting for its share of the commit's answer.
#[derive(Default)]
pub struct Queue {
    batch: Batch,
    waiting: Vec<Completion>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("queued", &self.len())
            .finish()
    }
}

impl Queue {
    /// How many actions are queued.
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// `true` when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// Queues `op` (a single-request query action: every model action is one); an
    /// operation that finishes without a request is answered at once.
    pub fn defer<O>(&mut self, mut op: O) -> Result<Deferred<O::Output>, Error>
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static,
    {
        let request = match op.step(None) {
            Step::Send(r) => r,
            Step::Done(out) => return Ok(Deferred::ready(out)),
        };
        self.batch.push(request)?;
        let answer = Deferred::empty();
        let target = Deferred {
            slot: answer.slot.clone(),
        };
        self.waiting.push(Box::new(move |a: Result<Payload, Error>| {
            target.set(match op.step(Some(a)) {
                Step::Done(out) => out,
                Step::Send(r) => Err(Error::NotSupported {
                    method: r.method.as_str().into(),
                    message: "a multi-step action cannot run in an HTTP transaction: its later steps need answers only the commit brings".into(),
                }),
            });
        }));
        Ok(answer)
    }

    /// The one request to send at commit (`None`: nothing queued, nothing to send).
    pub fn request(&self) -> Option<Request> {
        self.batch.request()
    }

    /// Hands the commit's answer to every queued action; the transaction's outcome.
    pub fn complete(self, answer: Result<Payload, Error>) -> Result<(), Error> {
        match self.batch.split(answer) {
            Ok(parts) => {
                for (done, part) in self.waiting.into_iter().zip(parts) {
                    done(Ok(part));
                }
                Ok(())
            }
            Err(e) => {
                for done in self.waiting {
                    done(Err(e.clone()));
                }
                Err(e)
            }
        }
    }
}

/// The first word of every top-level statement, upper-cased.
fn statement_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut at_start = true;
    let mut word = String::new();
    let mut in_str: Option<char> = None;
    for c in text.chars() {
        if let Some(q) = in_str {
            if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => in_str = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            ';' if depth == 0 => {
                at_start = true;
                continue;
            }
            _ => {}
        }
        if at_start && depth == 0 {
            if c.is_ascii_alphabetic() {
                word.push(c.to_ascii_uppercase());
                continue;
            } else if !word.is_empty() {
                heads.push(std::mem::take(&mut word));
                at_start = false;
            }
        }
    }
    if !word.is_empty() {
        heads.push(word);
    }
    heads
}

/// A statement result as the row of a `query` answer.
fn row_of(r: &QueryResult) -> Value {
    let mut o = Object::new();
    o.insert("time".into(), Value::String(r.time.clone()));
    if let Some(k) = &r.kind {
        o.insert("type".into(), Value::String(k.clone()));
    }
    match &r.result {
        Ok(v) => {
            o.insert("status".into(), "OK".into());
            o.insert("result".into(), v.clone());
        }
        Err(e) => {
            o.insert("status".into(), "ERR".into());
            o.insert("result".into(), Value::String(e.message.clone()));
            o.insert("kind".into(), Value::String(e.kind.as_str().to_owned()));
            if let Some(d) = &e.details {
                o.insert("details".into(), d.clone());
            }
        }
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tokenizer_counts_statements_and_finds_variables() {
        let s = scan("LET $s0 = (SELECT * FROM t WHERE a = $p0; ); SELECT * FROM $t0 WHERE x = '$p1;' AND y = $p10 -- $p2;\n;");
        assert_eq!(s.statements, 2);
        let t = "LET $s0 = (SELECT * FROM t WHERE a = $p0; ); SELECT * FROM $t0 WHERE x = '$p1;' AND y = $p10 -- $p2;\n;";
        let names: Vec<&str> = s.vars.iter().map(|r| &t[r.clone()]).collect();
        assert_eq!(names, ["s0", "p0", "t0", "p10"]);
        assert_eq!(scan("RETURN 1").statements, 1);
        assert_eq!(scan(" ; ;").statements, 0);
        assert_eq!(
            scan("SELECT `a;b`, ⟨c;$d⟩ FROM t; /* ; $x */ RETURN \"\\\";$y\";").statements,
            2
        );
        assert!(
            scan("SELECT `a;b`, ⟨c;$d⟩ FROM t; /* ; $x */ RETURN \"\\\";$y\";")
                .vars
                .is_empty()
        );
    }

    #[test]
    fn batches_rename_only_the_bound_variables() {
        let mut b = Batch::default();
        let mut vars = Object::new();
        vars.insert("p1".into(), 1.into());
        vars.insert("p10".into(), 10.into());
        b.push(Request::query(
            "RETURN [$p1, $p10, $session_var, '$p1']",
            vars,
        ))
        .unwrap();
        let req = b.request().unwrap();
        assert_eq!(
            req.params[0],
            Value::from("BEGIN TRANSACTION; RETURN [$b0_p1, $b0_p10, $session_var, '$p1']; COMMIT TRANSACTION;")
        );
        let Value::Object(vars) = &req.params[1] else {
            panic!()
        };
        assert_eq!(vars.keys().collect::<Vec<_>>(), ["b0_p1", "b0_p10"]);
    }

    #[test]
    fn batches_rename_raw_variables_too() {
        use crate::cbor::RawValue;
        let mut b = Batch::default();
        let mut vars = Object::new();
        vars.insert(
            "t0".into(),
            Value::Table(crate::value::Table::new("person")),
        );
        for n in [1, 2] {
            let mut raw = std::collections::BTreeMap::new();
            raw.insert("p0".to_owned(), RawValue::from_serde(&[n]).unwrap());
            b.push(Request::query_with_raw(
                "INSERT INTO $t0 $p0;",
                vars.clone(),
                raw,
            ))
            .unwrap();
        }
        let req = b.request().unwrap();
        assert_eq!(
            req.params[0],
            Value::from("BEGIN TRANSACTION; INSERT INTO $b0_t0 $b0_p0; INSERT INTO $b1_t0 $b1_p0; COMMIT TRANSACTION;")
        );
        let raw: Vec<(&str, Value)> = req
            .raw_vars()
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_value().unwrap()))
            .collect();
        assert_eq!(
            raw,
            [
                ("b0_p0", Value::Array(vec![1.into()])),
                ("b1_p0", Value::Array(vec![2.into()]))
            ]
        );
        assert_eq!(req.var_names(), ["b0_p0", "b0_t0", "b1_p0", "b1_t0"]);
    }

    #[test]
    fn batches_refuse_what_they_cannot_hold() {
        let mut b = Batch::default();
        assert!(b
            .push(Request::new(Method::Select, vec![]))
            .unwrap_err()
            .is_not_supported());
        assert!(b
            .push(Request::query("BEGIN; RETURN 1; COMMIT;", Object::new()))
            .is_err());
        assert!(b.push(Request::query("  ", Object::new())).is_err());
        // a word that merely contains BEGIN is fine
        b.push(Request::query("SELECT * FROM beginners", Object::new()))
            .unwrap();
        assert!(b.request().is_some());
        assert!(Batch::default().request().is_none());
    }

    #[test]
    fn answers_are_split_per_action_and_a_failure_names_its_cause() {
        let mut b = Batch::default();
        b.push(Request::query("LET $x = 1; RETURN $x;", Object::new()))
            .unwrap();
        b.push(Request::query("RETURN 2;", Object::new())).unwrap();
        let row = |result| QueryResult {
            time: String::new(),
            kind: None,
            result,
        };
        let ok = |v: Value| row(Ok(v));
        let answer = |rows: Vec<QueryResult>| {
            Ok(Payload::from(Value::Array(
                rows.iter().map(row_of).collect(),
            )))
        };
        let parts = b
            .split(answer(vec![
                ok(Value::None),
                ok(Value::None),
                ok(1.into()),
                ok(2.into()),
                ok(Value::None),
            ]))
            .unwrap();
        assert_eq!(parts.len(), 2);
        let first = QueryResponse::from_payload(parts[0].clone()).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first.value_at(1).unwrap(), Value::from(1));
        let echo = |k: &str| {
            let mut d = Object::new();
            d.insert("kind".into(), Value::from(k));
            crate::rpc::ServerError {
                code: None,
                kind: crate::rpc::ErrorKind::Query,
                message: "not executed".into(),
                details: Some(Value::Object(d)),
                cause: None,
            }
        };
        let cause =
            crate::rpc::ServerError::new(crate::rpc::ErrorKind::AlreadyExists, "record exists");
        let err = b
            .split(answer(vec![
                ok(Value::None),
                row(Err(echo("NotExecuted"))),
                row(Err(echo("NotExecuted"))),
                row(Err(cause.clone())),
                row(Err(echo("NotExecuted"))),
            ]))
            .unwrap_err();
        assert_eq!(err, Error::Server(cause.clone()));
        // 3.0 answers a failed transaction with a result fewer: still its cause.
        let short = b
            .split(answer(vec![
                ok(Value::None),
                ok(Value::None),
                row(Err(cause.clone())),
                row(Err(echo("NotExecuted"))),
            ]))
            .unwrap_err();
        assert_eq!(short, Error::Server(cause));
        assert!(
            matches!(
                b.split(answer(vec![ok(Value::None)])),
                Err(Error::Protocol(_))
            ),
            "a short answer without a failure is a protocol error"
        );
    }

    #[test]
    fn methods_the_server_runs_outside_a_transaction_become_queries() {
        let txn = Uuid::from_bytes([7; 16]);
        let rid = Value::RecordId(crate::RecordId::new("a", 1));
        let (r, m) = in_transaction(
            Request::new(
                Method::Patch,
                vec![rid.clone(), Value::Array(vec![]), true.into()],
            ),
            txn,
        )
        .unwrap();
        assert_eq!(
            r.params[0],
            "UPDATE ONLY $target PATCH $patches RETURN DIFF;".into()
        );
        assert_eq!(m, Remap::FirstStatement);
        let (r, _) = in_transaction(
            Request::new(
                Method::Relate,
                vec![
                    rid.clone(),
                    Value::Table(crate::Table::new("likes-x")),
                    rid.clone(),
                    Value::None,
                ],
            ),
            txn,
        )
        .unwrap();
        assert_eq!(r.params[0], "RELATE ONLY $from->`likes-x`->$to;".into());
        let (r, _) = in_transaction(
            Request::new(
                Method::Run,
                vec!["fn::f".into(), Value::None, Value::Array(vec![1.into()])],
            ),
            txn,
        )
        .unwrap();
        assert_eq!(r.params[0], "RETURN fn::f($a0);".into());
        assert!(in_transaction(
            Request::new(Method::Run, vec!["fn::f(); DELETE t".into()]),
            txn
        )
        .is_err());
        let (r, m) = in_transaction(Request::new(Method::Select, vec![rid]), txn).unwrap();
        assert_eq!(
            (r.method, r.txn, m),
            (Method::Select, Some(txn), Remap::None)
        );
    }
}
