//! `export` / `import`: a database as a SurrealQL dump, over the server's HTTP `GET|POST
//! /export` and `POST /import` (the endpoints the official SDK uses, for either transport:
//! a WebSocket client makes the HTTP request to the same host with its session's token,
//! namespace and database).
//!
//! The sans-IO parts live here: the request head for a session ([`export_request`],
//! [`import_request`]), the export selection ([`ExportConfig`]) and the reading of the
//! server's answers ([`import_outcome`], [`export_refused`]). The drivers stream the bodies
//! through bounded buffers: a dump is never held whole in memory.
//!
//! The server's rules, as of 3.3: the dump is the session's namespace and database; an
//! import must start with `OPTION IMPORT;` (every export does); an import is **not**
//! transactional: each statement commits on its own, execution carries on past one that
//! fails (a parse error stops it), and the answer lists what did not apply, which
//! [`import_outcome`] turns into [`Error::Import`].

// The error is large only because of `Server`; a transfer is not a hot path.
#![allow(clippy::result_large_err)]

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::error::Error;
use crate::rpc::http::{check_header, describe_error_body, CBOR_MEDIA_TYPE};
use crate::session::SessionState;
use crate::value::Value;

/// Largest import answer read (the report of the statements that failed).
pub const MAX_IMPORT_ANSWER: u64 = 64 << 20;
/// Largest error body read from a refused export or import.
pub const MAX_ERROR_BODY: u64 = 64 << 10;

/// Which tables an export carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Tables {
    /// Every table (the default).
    #[default]
    All,
    /// No table.
    None,
    /// Only these.
    Only(Vec<String>),
    /// All but these.
    Except(Vec<String>),
}

impl Serialize for Tables {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Tables::All => s.serialize_bool(true),
            Tables::None => s.serialize_bool(false),
            Tables::Only(names) => names.serialize(s),
            Tables::Except(names) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("exclude", names)?;
                m.end()
            }
        }
    }
}

/// What an export carries (the server's `export::Config`). The default is the server's
/// default, everything but record versions; with it the export is a plain `GET /export`,
/// otherwise a `POST /export` with this as its CBOR body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ExportConfig {
    /// The database's own definition (`STRICT`, `COMMENT`, `CHANGEFEED`).
    pub database_definition: bool,
    /// `DEFINE USER`s.
    pub users: bool,
    /// `DEFINE ACCESS`es.
    pub accesses: bool,
    /// `DEFINE PARAM`s.
    pub params: bool,
    /// `DEFINE FUNCTION`s.
    pub functions: bool,
    /// `DEFINE ANALYZER`s.
    pub analyzers: bool,
    /// `DEFINE API`s.
    pub apis: bool,
    /// `DEFINE BUCKET`s.
    pub buckets: bool,
    /// `DEFINE MODULE`s.
    pub modules: bool,
    /// `DEFINE CONFIG`s.
    pub configs: bool,
    /// Which tables (definitions, fields, indexes, events and records).
    pub tables: Tables,
    /// Record versions (versioned storage only).
    pub versions: bool,
    /// The tables' records (`false`: the schema only).
    pub records: bool,
    /// `DEFINE SEQUENCE`s.
    pub sequences: bool,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            database_definition: true,
            users: true,
            accesses: true,
            params: true,
            functions: true,
            analyzers: true,
            apis: true,
            buckets: true,
            modules: true,
            configs: true,
            tables: Tables::All,
            versions: false,
            records: true,
            sequences: true,
        }
    }
}

impl ExportConfig {
    /// Only these tables.
    pub fn tables<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.tables = Tables::Only(names.into_iter().map(Into::into).collect());
        self
    }

    /// Every table but these.
    pub fn except_tables<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.tables = Tables::Except(names.into_iter().map(Into::into).collect());
        self
    }

    /// With (`true`) or without the records: `records(false)` exports the schema only.
    pub fn records(mut self, yes: bool) -> Self {
        self.records = yes;
        self
    }

    /// With or without `DEFINE USER`s.
    pub fn users(mut self, yes: bool) -> Self {
        self.users = yes;
        self
    }

    /// With or without `DEFINE ACCESS`es.
    pub fn accesses(mut self, yes: bool) -> Self {
        self.accesses = yes;
        self
    }

    /// With or without `DEFINE FUNCTION`s.
    pub fn functions(mut self, yes: bool) -> Self {
        self.functions = yes;
        self
    }

    /// With or without `DEFINE PARAM`s.
    pub fn params(mut self, yes: bool) -> Self {
        self.params = yes;
        self
    }

    /// With or without record versions.
    pub fn versions(mut self, yes: bool) -> Self {
        self.versions = yes;
        self
    }
}

/// An HTTP request head for `/export` or `/import`. Its `Debug` hides the
/// `Authorization` header's value.
#[derive(Clone, PartialEq, Eq)]
pub struct TransferRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// `/export` or `/import` (relative to the server's base URL, after any proxy prefix).
    pub path: &'static str,
    /// Header names and values (no framing headers: the driver adds `Content-Length` or
    /// `Transfer-Encoding`).
    pub headers: Vec<(&'static str, String)>,
    /// The body of a `POST /export` (the CBOR configuration); empty otherwise (an import's
    /// body is the dump, streamed by the driver).
    pub body: Vec<u8>,
}

impl std::fmt::Debug for TransferRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                if k.eq_ignore_ascii_case("authorization") {
                    (*k, "<redacted>")
                } else {
                    (*k, v.as_str())
                }
            })
            .collect();
        f.debug_struct("TransferRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The session's headers: token, namespace, database (both required: a dump is one
/// database's). Refused before anything is sent when one cannot be carried in a header.
fn session_headers(what: &str, s: &SessionState) -> Result<Vec<(&'static str, String)>, Error> {
    let (Some(ns), Some(db)) = (&s.ns, &s.db) else {
        return Err(Error::invalid(
            what,
            "no namespace and database are selected on this session: call `use_ns_db` first",
        ));
    };
    let mut headers = Vec::new();
    if let Some(t) = &s.token {
        check_header("Authorization", "the token", t, true)?;
        headers.push(("Authorization", format!("Bearer {t}")));
    }
    check_header("surreal-ns", "the namespace", ns, false)?;
    check_header("surreal-db", "the database", db, false)?;
    headers.push(("surreal-ns", ns.clone()));
    headers.push(("surreal-db", db.clone()));
    Ok(headers)
}

/// The request that exports the session's database: `GET /export`, or `POST /export` with
/// the configuration when it is not the default.
pub fn export_request(
    session: &SessionState,
    config: Option<&ExportConfig>,
) -> Result<TransferRequest, Error> {
    let mut headers = session_headers("export", session)?;
    let config = config.filter(|c| **c != ExportConfig::default());
    let Some(config) = config else {
        return Ok(TransferRequest {
            method: "GET",
            path: "/export",
            headers,
            body: Vec::new(),
        });
    };
    let body = crate::cbor::to_vec(config)
        .map_err(|e| Error::invalid("export configuration", e.to_string()))?;
    headers.push(("Content-Type", CBOR_MEDIA_TYPE.to_owned()));
    Ok(TransferRequest {
        method: "POST",
        path: "/export",
        headers,
        body,
    })
}

/// The head of the request that imports a dump into the session's database: `POST
/// /import`, the report asked for in CBOR. The driver streams the dump as its body.
pub fn import_request(session: &SessionState) -> Result<TransferRequest, Error> {
    let mut headers = session_headers("import", session)?;
    headers.push(("Content-Type", "application/octet-stream".to_owned()));
    headers.push(("Accept", CBOR_MEDIA_TYPE.to_owned()));
    Ok(TransferRequest {
        method: "POST",
        path: "/import",
        headers,
        body: Vec::new(),
    })
}

/// The error for an export the server refused (any status but 200), from its body, or
/// from why the body could not be read (the status is reported either way).
pub fn export_refused<E: std::fmt::Display>(status: u16, body: Result<&[u8], E>) -> Error {
    let what = match body {
        Ok(body) => describe_error_body(body),
        Err(e) => format!("the body of the answer could not be read ({e})"),
    };
    Error::Http {
        status,
        message: format!("/export: {what}"),
    }
}

/// Reads the answer to `POST /import`: `Ok` when every statement applied, otherwise
/// [`Error::Import`] naming each statement that did not (a 200 or 422 answer), or
/// [`Error::Http`] for a refused request (nothing was imported).
pub fn import_outcome(status: u16, body: &[u8]) -> Result<(), Error> {
    if status != 200 && status != 422 {
        return Err(Error::Http {
            status,
            message: format!("/import: {}", describe_error_body(body)),
        });
    }
    let failed = match crate::cbor::decode(body) {
        Ok(Value::Array(items)) => items.iter().filter_map(failure).collect(),
        // Not the report asked for: never read a 422 as a success.
        _ if status == 422 => vec![describe_error_body(body)],
        _ if body.is_empty() => Vec::new(),
        Ok(other) => {
            return Err(Error::Protocol(format!(
                "/import answered {other:?} instead of a list of results"
            )))
        }
        Err(e) => {
            return Err(Error::Protocol(format!(
                "/import answered a body that is not CBOR: {e}"
            )))
        }
    };
    match (failed.is_empty(), status) {
        (true, 200) => Ok(()),
        (true, _) => Err(Error::Import {
            failed: vec![
                "the server reports a partial import (422) without naming a statement".into(),
            ],
        }),
        (false, _) => Err(Error::Import { failed }),
    }
}

/// The message of one failed statement in the import report (`None` for one that applied).
fn failure(item: &Value) -> Option<String> {
    let ok = matches!(item.get("status"), Some(Value::String(s)) if s == "OK");
    if ok {
        return None;
    }
    let message = match item.get("result") {
        Some(Value::String(s)) => s.trim_end().to_owned(),
        Some(other) => format!("{other:?}"),
        None => format!("{item:?}"),
    };
    Some(match item.get("kind") {
        Some(Value::String(k)) if !k.is_empty() => format!("{k}: {message}"),
        _ => message,
    })
}

/// [`Error::Import`]'s message: the count and the first failures.
pub(crate) fn describe_failures(failed: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = format!(
        "import: {} statement{} of the dump did not apply (every other statement did)",
        failed.len(),
        if failed.len() == 1 { "" } else { "s" }
    );
    for f in failed.iter().take(SHOWN) {
        text.push_str("\n  - ");
        text.push_str(f);
    }
    if failed.len() > SHOWN {
        text.push_str(&format!("\n  … and {} more", failed.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_export_says_why_even_without_a_readable_body() {
        let read = export_refused(403, Ok::<_, String>(&b"not allowed"[..])).to_string();
        assert!(
            read.contains("403") && read.contains("not allowed"),
            "{read}"
        );
        let unread = export_refused(500, Err::<&[u8], _>("connection reset")).to_string();
        assert!(
            unread.contains("500") && unread.contains("could not be read (connection reset)"),
            "{unread}"
        );
        assert!(!unread.contains("empty body"), "{unread}");
    }

    fn session() -> SessionState {
        SessionState {
            token: Some("tok".into()),
            ns: Some("n".into()),
            db: Some("d".into()),
            ..SessionState::default()
        }
    }

    #[test]
    fn heads_carry_the_session_and_hide_the_token() {
        let r = export_request(&session(), None).unwrap();
        assert_eq!((r.method, r.path), ("GET", "/export"));
        assert!(r.headers.contains(&("Authorization", "Bearer tok".into())));
        assert!(r.headers.contains(&("surreal-ns", "n".into())));
        assert!(!format!("{r:?}").contains("tok"));
        let same = export_request(&session(), Some(&ExportConfig::default())).unwrap();
        assert_eq!(same.method, "GET");
        let r = export_request(&session(), Some(&ExportConfig::default().tables(["a"]))).unwrap();
        assert_eq!(r.method, "POST");
        let v = crate::cbor::decode(&r.body).unwrap();
        assert_eq!(
            v.get("tables"),
            Some(&Value::Array(vec![Value::String("a".into())]))
        );
        let r = import_request(&session()).unwrap();
        assert_eq!((r.method, r.path), ("POST", "/import"));
        let mut none = session();
        none.db = None;
        assert!(import_request(&none).unwrap_err().is_invalid_input());
        none.db = Some("bad\ndb".into());
        assert!(export_request(&none, None).is_err());
    }

    #[test]
    fn import_answers() {
        let empty = crate::cbor::encode(&Value::Array(vec![]));
        assert_eq!(import_outcome(200, &empty), Ok(()));
        assert_eq!(import_outcome(200, b""), Ok(()));
        let mut item = crate::value::Object::default();
        item.insert("status".into(), Value::String("ERR".into()));
        item.insert("kind".into(), Value::String("AlreadyExists".into()));
        item.insert("result".into(), Value::String("record `a:1` exists".into()));
        let body = crate::cbor::encode(&Value::Array(vec![Value::Object(item)]));
        let e = import_outcome(422, &body).unwrap_err();
        assert_eq!(
            e,
            Error::Import {
                failed: vec!["AlreadyExists: record `a:1` exists".into()]
            }
        );
        assert!(e.to_string().contains("1 statement of the dump"), "{e}");
        assert!(matches!(
            import_outcome(422, b"junk"),
            Err(Error::Import { .. })
        ));
        let e = import_outcome(400, br#"{"information":"needs OPTION IMPORT"}"#).unwrap_err();
        assert!(e.to_string().contains("OPTION IMPORT"), "{e}");
    }
}
