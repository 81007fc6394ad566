//! Model actions as operations: each function returns a value a driver runs with
//! `db.perform(op)` (the drivers' `ModelExt`/`ModelQuerySetExt` methods do exactly that),
//! so both drivers and both transports send the same statements.
//!
//! Every statement binds its values (`$p0`, `$t0`, …); the exact text of each is tested in
//! this module and against the real server in the conformance suite.
//!
//! | action | statement |
//! |---|---|
//! | [`get`] | `SELECT * FROM $p0;` (the record id) |
//! | [`find`] (`QuerySet::get`) | the set's SELECT with `LIMIT 2` |
//! | [`save`] without an id | `CREATE $t0 CONTENT $p0 RETURN AFTER;` (relation tables: `INSERT RELATION INTO $t0 $p0;`) |
//! | [`save`] with an id | `UPSERT $p0 MERGE $p1 RETURN AFTER;` |
//! | [`update`] | `UPDATE $p0 MERGE $p1 RETURN AFTER; RETURN record::exists($p0);` |
//! | [`merge`] | `UPDATE $p0 SET … RETURN AFTER; RETURN record::exists($p0);` |
//! | [`refresh`] | `SELECT * FROM $p0;` |
//! | [`delete`] | `DELETE $p0 RETURN BEFORE; RETURN record::exists($p0);` |
//! | [`bulk_create`] | `INSERT INTO $t0 $p0;` per batch (atomic: all batches in one `BEGIN … COMMIT` request) |
//! | [`upsert`] / [`bulk_upsert`] | `INSERT INTO $t0 $p0 ON DUPLICATE KEY UPDATE …;` |
//! | [`update_all`] | `UPDATE $t0 SET … WHERE … RETURN VALUE id;` (counted) |
//! | [`delete_all`] | `DELETE $t0 WHERE … RETURN VALUE id;` (counted) |
//!
//! Server-owned fields (`#[surql(server)]`, `#[surql(computed)]`) are never written: they
//! are left out of the data when it is encoded, and read back from the statement's
//! `RETURN AFTER`, so a `save` fills in the id and every server field in one round trip.
//! The written data is bound already encoded ([`RawValue`]): serde writes each row straight
//! to CBOR ([`write_data_cbor`](super::write_data_cbor)), the object [`write_data`] would
//! build, with no `Value` tree to build, encode and free.
//!
//! A write that must touch one record and touches none says why: SurrealDB answers a write
//! its permissions deny with an empty result, the same as a write to a missing record, so
//! the same request asks `record::exists` (which honours the session's select
//! permission): [`Error::WriteDenied`] when the record is visible,
//! [`Error::DoesNotExist`] when it is not.

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use super::expr::Changes;
use super::{decode_model, write_data, DataWriter, IntoModelId, Model, ModelKey, TableKind};
use crate::cbor::RawValue;
use crate::client::{self, QueryResponse};
use crate::error::Error;
use crate::op::{Operation, Step};
use crate::query::writer::{Mode, Writer};
use crate::query::{CompiledQuery, QueryError, QuerySet};
use crate::rpc::{Payload, Request};
use crate::value::{RecordId, Value};

type Decode<T> = Box<dyn FnOnce(QueryResponse) -> Result<T, Error> + Send>;

/// One `query` round trip whose statements' results are decoded by a closure: the building
/// block of the single-request model actions.
pub struct QueryOp<T> {
    state: QState<T>,
}

enum QState<T> {
    Ready(Request, Decode<T>),
    Waiting(Decode<T>),
    Failed(Error),
    Spent,
}

impl<T> std::fmt::Debug for QueryOp<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            QState::Ready(..) => "ready",
            QState::Waiting(_) => "waiting",
            QState::Failed(_) => "failed",
            QState::Spent => "spent",
        };
        f.debug_struct("QueryOp").field("state", &state).finish()
    }
}

impl<T> QueryOp<T> {
    /// Sends `q` and decodes the answer with `decode`.
    pub fn new(
        q: Result<CompiledQuery, Error>,
        decode: impl FnOnce(QueryResponse) -> Result<T, Error> + Send + 'static,
    ) -> Self {
        let request = q.and_then(|q| Ok(client::execute(q)?.into_parts().0));
        QueryOp {
            state: match request {
                Ok(r) => QState::Ready(r, Box::new(decode)),
                Err(e) => QState::Failed(e),
            },
        }
    }

    /// An operation that fails with `e` without sending anything.
    pub fn fail(e: Error) -> Self {
        QueryOp {
            state: QState::Failed(e),
        }
    }

    /// The request it will send (for tests and logs), if it has not been sent.
    pub fn request(&self) -> Option<&Request> {
        match &self.state {
            QState::Ready(r, _) => Some(r),
            _ => None,
        }
    }
}

impl<T> Operation for QueryOp<T> {
    type Output = T;

    fn step(&mut self, answer: Option<Result<Payload, Error>>) -> Step<T> {
        match (std::mem::replace(&mut self.state, QState::Spent), answer) {
            (QState::Ready(r, d), None) => {
                self.state = QState::Waiting(d);
                Step::Send(r)
            }
            (QState::Failed(e), None) => Step::Done(Err(e)),
            (QState::Waiting(d), Some(Ok(p))) => Step::Done(
                QueryResponse::from_payload(p)
                    .map_err(Error::from)
                    .and_then(d),
            ),
            (QState::Waiting(_), Some(Err(e))) => Step::Done(Err(e)),
            _ => Step::Done(Err(Error::Protocol(
                "a model operation was stepped after it finished (a driver bug)".into(),
            ))),
        }
    }
}

fn compiled(r: Result<CompiledQuery, QueryError>) -> Result<CompiledQuery, Error> {
    r.map_err(|e| Error::Invalid {
        what: "query".into(),
        reason: e.to_string(),
    })
}

fn decode_err<M: Model>(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Decode {
        context: format!("{what} as `{}`", M::META.rust_name),
        detail: detail.to_string(),
    }
}

/// Statement `i`'s rows decoded as `M` (straight from the bytes when the id field holds a
/// whole record id; through a value tree when the id must become a typed key).
pub fn rows<M: Model>(resp: &QueryResponse, i: usize) -> Result<Vec<M>, Error> {
    let bytes = resp.statement_bytes(i)?;
    if M::Key::IS_RECORD_ID {
        return crate::query::decode_rows_cbor::<M>(bytes)
            .map_err(|e| decode_err::<M>("rows of `query`", e));
    }
    let v = crate::cbor::decode(bytes).map_err(|e| decode_err::<M>("rows of `query`", e))?;
    let list = match v {
        Value::Array(rows) | Value::Set(rows) => rows,
        Value::None | Value::Null => Vec::new(),
        other => vec![other],
    };
    list.into_iter()
        .enumerate()
        .map(|(i, row)| {
            decode_model::<M>(row)
                .map_err(|e| decode_err::<M>("rows of `query`", format!("row {i}: {e}")))
        })
        .collect()
}

/// `true` for the server's "the table does not exist" (3.3 refuses a SELECT on a table
/// nothing was ever written to): for a lookup that means "no such record".
fn is_missing_table(e: &Error) -> bool {
    match e.as_server_error() {
        Some(s) => {
            s.kind == crate::rpc::ErrorKind::NotFound
                && matches!(&s.details, Some(Value::Object(d)) if d.get("kind") == Some(&Value::from("Table")))
        }
        None => false,
    }
}

/// [`rows`], with a table that does not exist yet read as no rows (lookups only).
fn lookup_rows<M: Model>(resp: &QueryResponse, i: usize) -> Result<Vec<M>, Error> {
    match rows::<M>(resp, i) {
        Err(e) if is_missing_table(&e) => Ok(Vec::new()),
        other => other,
    }
}

fn one_row<M: Model>(
    resp: &QueryResponse,
    i: usize,
    query: impl FnOnce() -> String,
) -> Result<M, Error> {
    lookup_rows::<M>(resp, i)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::DoesNotExist {
            model: M::META.rust_name.to_owned(),
            query: query(),
        })
}

fn refuse_view<M: Model>(action: &str) -> Result<(), Error> {
    if M::META.is_view() {
        return Err(Error::ReadOnly {
            model: M::META.rust_name.to_owned(),
            reason: format!(
                "`{}` is a view (DEFINE TABLE … AS SELECT); `{action}` cannot write to it",
                M::META.table
            ),
        });
    }
    Ok(())
}

fn id_of<M: Model>(m: &M, action: &str) -> Result<RecordId, Error> {
    m.record_id().ok_or_else(|| Error::Invalid {
        what: format!("{} id", M::META.rust_name),
        reason: format!("`{action}` needs a saved record, but the id is None (save it first)"),
    })
}

fn bound(
    build: impl FnOnce(&mut Writer) -> Result<(), QueryError>,
) -> Result<CompiledQuery, Error> {
    let mut w = Writer::new(Mode::Bound);
    compiled(build(&mut w).map(|_| w.finish()))
}

/// Loads the record with this id: a key, a [`RecordId`], `(table, key)` or a string
/// (`"abc"`, `"person:abc"`, ``"person:`7abc`"``; see [`IntoModelId`]).
/// A missing record is [`Error::DoesNotExist`] naming the id.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize, surql::model::Model)]
/// # #[surql(table = "person")]
/// # struct Person { id: Option<surql::RecordId>, name: String }
/// let op = surql::model::ops::get::<Person>("person:`7abc`");
/// let req = op.request().unwrap();
/// assert_eq!(req.params[0], "SELECT * FROM $p0;".into());
/// ```
pub fn get<M: Model>(id: impl IntoModelId<M>) -> QueryOp<M> {
    let rid = match id.into_model_id() {
        Ok(r) => r,
        Err(e) => return QueryOp::fail(e),
    };
    let shown = rid.to_string();
    let q = bound(|w| {
        w.sql("SELECT * FROM ");
        w.value(Value::RecordId(rid));
        Ok(())
    });
    QueryOp::new(q, move |resp| {
        one_row::<M>(&resp, 0, || format!("id = {shown}"))
    })
}

/// The one row a filtered set selects: [`Error::DoesNotExist`] when none,
/// [`Error::MultipleObjectsReturned`] when more than one (the query runs with `LIMIT 2`).
pub fn find<M: Model>(qs: &QuerySet<M>) -> QueryOp<M> {
    let shown = qs.to_string();
    let q = compiled(qs.clone().limit(2).compile());
    let index = q.as_ref().map(|q| q.result_index).unwrap_or(0);
    QueryOp::new(q, move |resp| {
        let mut rows = lookup_rows::<M>(&resp, index)?;
        match rows.len() {
            0 => Err(Error::DoesNotExist {
                model: M::META.rust_name.to_owned(),
                query: shown,
            }),
            1 => Ok(rows.remove(0)),
            _ => Err(Error::MultipleObjectsReturned {
                model: M::META.rust_name.to_owned(),
                query: shown,
            }),
        }
    })
}

/// Every row the set selects, as `M`.
pub fn all<M: Model>(qs: &QuerySet<M>) -> QueryOp<Vec<M>> {
    let q = compiled(qs.compile());
    let index = q.as_ref().map(|q| q.result_index).unwrap_or(0);
    QueryOp::new(q, move |resp| rows::<M>(&resp, index))
}

/// The first row (`LIMIT 1`), if any.
pub fn first<M: Model>(qs: &QuerySet<M>) -> QueryOp<Option<M>> {
    let q = compiled(qs.clone().limit(1).compile());
    let index = q.as_ref().map(|q| q.result_index).unwrap_or(0);
    QueryOp::new(q, move |resp| {
        Ok(rows::<M>(&resp, index)?.into_iter().next())
    })
}

/// The last row: the set's order reversed (by `id` when it has none), `LIMIT 1`.
pub fn last<M: Model>(qs: &QuerySet<M>) -> QueryOp<Option<M>> {
    first(&qs.clone().reversed())
}

/// Keyset pagination: up to `size` rows with an id greater than `after` (all from the
/// start when `None`), ordered by id (any order of the set is replaced). Pass the last row's
/// id to get the next page; unlike offset pages, rows inserted meanwhile never shift it.
pub fn page_after<M: Model>(
    qs: &QuerySet<M>,
    after: Option<&RecordId>,
    size: u64,
) -> QueryOp<Vec<M>> {
    let mut qs = qs.clone().order_by(["id"]).limit(size);
    if let Some(after) = after {
        qs = qs.filter(crate::query::F::new("id").gt(after.clone()));
    }
    all(&qs)
}

/// Whether the set selects any row (`SELECT VALUE id … LIMIT 1`).
pub fn exists<M: Model>(qs: &QuerySet<M>) -> QueryOp<bool> {
    let q = compiled(qs.clone().select_value("id").limit(1).compile());
    let index = q.as_ref().map(|q| q.result_index).unwrap_or(0);
    QueryOp::new(q, move |resp| {
        let v: Value = resp.value_at(index)?;
        Ok(matches!(v, Value::Array(a) if !a.is_empty()))
    })
}

/// Writes `m`: creates it when it has no id (the server assigns one), else creates or
/// merges the record with its id (`UPSERT … MERGE`, so fields the model does not write,
/// server and computed ones, are kept). Yields the stored record, id and server fields
/// included: the drivers' `save` puts it back into the instance.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize, surql::model::Model)]
/// # #[surql(table = "person")]
/// # struct Person { id: Option<surql::RecordId>, name: String, #[surql(server)] created_at: Option<surql::Datetime> }
/// let op = surql::model::ops::save(&Person { id: None, name: "Ada".into(), created_at: None });
/// assert_eq!(op.request().unwrap().params[0], "CREATE $t0 CONTENT $p0 RETURN AFTER;".into());
/// ```
pub fn save<M: Model>(m: &M) -> QueryOp<M> {
    if let Err(e) = refuse_view::<M>("save") {
        return QueryOp::fail(e);
    }
    let data = match DataWriter::<M>::new().one(m, false) {
        Ok(d) => d,
        Err(e) => return QueryOp::fail(e),
    };
    let q = match m.record_id() {
        None => bound(|w| {
            if matches!(M::META.kind, TableKind::Relation { .. }) {
                w.sql("INSERT RELATION INTO ");
                w.table(M::META.table);
                w.sql(" ");
                w.raw(data);
            } else {
                w.sql("CREATE ");
                w.table(M::META.table);
                w.sql(" CONTENT ");
                w.raw(data);
                w.sql(" RETURN AFTER");
            }
            Ok(())
        }),
        Some(rid) => bound(|w| {
            w.sql("UPSERT ");
            w.value(Value::RecordId(rid));
            w.sql(" MERGE ");
            w.raw(data);
            w.sql(" RETURN AFTER");
            Ok(())
        }),
    };
    let table = M::META.table;
    QueryOp::new(q, move |resp| {
        rows::<M>(&resp, 0)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::WriteDenied {
                action: "save".into(),
                target: format!("table `{table}`"),
            })
    })
}

/// [`save`] with server-side values: `changes` (`pw = crypto::argon2::generate($v_pw)`,
/// `joined = time::now()`, with [`Changes::bind`] variables) are applied in the same
/// statement, and win over the struct's own value of the same field. The statement is
/// `CREATE $t0 SET …` / `UPSERT $p0 SET …` with every written field of `m` bound. A change
/// to a computed field is refused (the server computes it).
pub fn save_with<M: Model>(m: &M, changes: &Changes) -> QueryOp<M> {
    if let Err(e) = refuse_view::<M>("save") {
        return QueryOp::fail(e);
    }
    for path in changes.paths() {
        let computed = M::META.fields.iter().any(|f| {
            matches!(f.kind, super::FieldKind::Computed { .. }) && super::field_path(f.name) == path
        });
        if computed {
            return QueryOp::fail(Error::Invalid {
                what: "server value".into(),
                reason: format!(
                    "`{path}` is a computed field of {}: the server computes it",
                    M::META.rust_name
                ),
            });
        }
    }
    let data = match write_data(m) {
        Ok(d) => d,
        Err(e) => return QueryOp::fail(e),
    };
    let mut all = Changes::new();
    for (k, v) in data {
        let path = super::field_path(&k);
        if !changes.paths().any(|p| p == path) {
            all = all.set_path(path, v);
        }
    }
    let all = all.extend(changes.clone());
    let rid = m.record_id();
    let q = bound(|w| {
        match &rid {
            None => {
                w.sql("CREATE ");
                w.table(M::META.table);
            }
            Some(rid) => {
                w.sql("UPSERT ");
                w.value(Value::RecordId(rid.clone()));
            }
        }
        w.sql(" SET ");
        all.write(w)?;
        w.sql(" RETURN AFTER");
        Ok(())
    });
    let table = M::META.table;
    QueryOp::new(q, move |resp| {
        rows::<M>(&resp, 0)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::WriteDenied {
                action: "save".into(),
                target: format!("table `{table}`"),
            })
    })
}

/// Decodes `UPDATE …; RETURN record::exists($p0);` into the written record or the reason
/// nothing was written.
fn written<M: Model>(
    resp: QueryResponse,
    action: &'static str,
    rid: RecordId,
) -> Result<Option<M>, Error> {
    let row = rows::<M>(&resp, 0)?.into_iter().next();
    if row.is_some() {
        return Ok(row);
    }
    let visible = matches!(resp.value_at(1)?, Value::Bool(true));
    if visible {
        Err(Error::WriteDenied {
            action: action.into(),
            target: rid.to_string(),
        })
    } else {
        Err(Error::DoesNotExist {
            model: M::META.rust_name.to_owned(),
            query: format!("id = {rid}"),
        })
    }
}

fn with_exists_check(w: &mut Writer, rid: &RecordId) {
    // `$p0` is the record id in every statement that uses this.
    let _ = rid;
    w.sql("; RETURN record::exists($p0)");
}

/// Writes every written field of an existing record (`UPDATE … MERGE`, so server and
/// computed fields are kept) and yields the stored record. A missing record is
/// [`Error::DoesNotExist`]; a denied write [`Error::WriteDenied`].
pub fn update<M: Model>(m: &M) -> QueryOp<M> {
    let prep = refuse_view::<M>("update")
        .and_then(|_| id_of(m, "update"))
        .and_then(|rid| Ok((DataWriter::<M>::new().one(m, false)?, rid)));
    let (data, rid) = match prep {
        Ok(x) => x,
        Err(e) => return QueryOp::fail(e),
    };
    let q = bound(|w| {
        w.sql("UPDATE ");
        w.value(Value::RecordId(rid.clone()));
        w.sql(" MERGE ");
        w.raw(data);
        w.sql(" RETURN AFTER");
        with_exists_check(w, &rid);
        Ok(())
    });
    QueryOp::new(q, move |resp| {
        Ok(written::<M>(resp, "update", rid)?.expect("written gives a row or an error"))
    })
}

/// Applies `changes` (`SET a = …, b += …, c = time::now()`) to the record of `m`.
/// With `refresh`, yields the stored record (`RETURN AFTER`); without, `None`
/// (`RETURN VALUE id`: nothing but the id comes back). Missing and denied are errors either way.
pub fn merge<M: Model>(m: &M, changes: &Changes, refresh: bool) -> QueryOp<Option<M>> {
    let rid = match refuse_view::<M>("merge").and_then(|_| id_of(m, "merge")) {
        Ok(r) => r,
        Err(e) => return QueryOp::fail(e),
    };
    merge_id::<M>(rid, changes, refresh)
}

/// [`merge`] by record id, without an instance.
pub fn merge_id<M: Model>(rid: RecordId, changes: &Changes, refresh: bool) -> QueryOp<Option<M>> {
    let q = bound(|w| {
        w.sql("UPDATE ");
        w.value(Value::RecordId(rid.clone()));
        w.sql(" SET ");
        changes.write(w)?;
        w.sql(if refresh {
            " RETURN AFTER"
        } else {
            " RETURN VALUE id"
        });
        with_exists_check(w, &rid);
        Ok(())
    });
    QueryOp::new(q, move |resp| {
        if refresh {
            return written::<M>(resp, "merge", rid);
        }
        let ids: Value = resp.value_at(0)?;
        if matches!(&ids, Value::Array(a) if !a.is_empty()) {
            return Ok(None);
        }
        let visible = matches!(resp.value_at(1)?, Value::Bool(true));
        Err(if visible {
            Error::WriteDenied {
                action: "merge".into(),
                target: rid.to_string(),
            }
        } else {
            Error::DoesNotExist {
                model: M::META.rust_name.to_owned(),
                query: format!("id = {rid}"),
            }
        })
    })
}

/// Reloads the record of `m` (`SELECT * FROM $p0;`). A record deleted meanwhile is
/// [`Error::DoesNotExist`].
pub fn refresh<M: Model>(m: &M) -> QueryOp<M> {
    match id_of(m, "refresh") {
        Ok(rid) => get::<M>(rid),
        Err(e) => QueryOp::fail(e),
    }
}

/// Deletes the record of `m`. A missing record is [`Error::DoesNotExist`]; a delete the
/// permissions deny is [`Error::WriteDenied`].
pub fn delete<M: Model>(m: &M) -> QueryOp<()> {
    let rid = match refuse_view::<M>("delete").and_then(|_| id_of(m, "delete")) {
        Ok(r) => r,
        Err(e) => return QueryOp::fail(e),
    };
    delete_id::<M>(rid)
}

/// [`delete`] by record id.
pub fn delete_id<M: Model>(rid: RecordId) -> QueryOp<()> {
    let q = bound(|w| {
        w.sql("DELETE ");
        w.value(Value::RecordId(rid.clone()));
        w.sql(" RETURN VALUE id");
        with_exists_check(w, &rid);
        Ok(())
    });
    QueryOp::new(q, move |resp| {
        let ids: Value = resp.value_at(0)?;
        if matches!(&ids, Value::Array(a) if !a.is_empty()) {
            return Ok(());
        }
        let visible = matches!(resp.value_at(1)?, Value::Bool(true));
        Err(if visible {
            Error::WriteDenied {
                action: "delete".into(),
                target: rid.to_string(),
            }
        } else {
            Error::DoesNotExist {
                model: M::META.rust_name.to_owned(),
                query: format!("id = {rid}"),
            }
        })
    })
}

/// Applies `changes` to every row of the set and yields how many were updated
/// (`UPDATE $t0 SET … WHERE … RETURN VALUE id;`).
pub fn update_all<M>(qs: &QuerySet<M>, changes: &Changes) -> QueryOp<u64> {
    let q = compiled(qs.compile_update_set(changes));
    let index = q.as_ref().map(|q| q.result_index).unwrap_or(0);
    QueryOp::new(q, move |resp| count_ids(&resp, index))
}

/// Deletes every row of the set and yields how many were deleted
/// (`DELETE $t0 WHERE … RETURN VALUE id;`).
pub fn delete_all<M>(qs: &QuerySet<M>) -> QueryOp<u64> {
    let q = compiled(qs.compile_delete_ids());
    let index = q.as_ref().map(|q| q.result_index).unwrap_or(0);
    QueryOp::new(q, move |resp| count_ids(&resp, index))
}

fn count_ids(resp: &QueryResponse, index: usize) -> Result<u64, Error> {
    match resp.value_at(index)? {
        Value::Array(a) => Ok(a.len() as u64),
        Value::None | Value::Null => Ok(0),
        other => Err(Error::Protocol(format!(
            "a counted write returned {} instead of an array of ids",
            other.kind()
        ))),
    }
}

/// How [`bulk_create`] sends rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkOptions {
    /// Rows per `INSERT` statement (at least 1).
    pub batch_size: usize,
    /// All batches in one request inside `BEGIN … COMMIT` (all or nothing); otherwise one
    /// request per batch, and batches before a failing one stay written.
    pub atomic: bool,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            batch_size: 1000,
            atomic: false,
        }
    }
}

/// `INSERT [RELATION] INTO $t0 $pN [ON DUPLICATE KEY UPDATE …]`, `rows` being the array
/// of the rows' objects as [`DataWriter::rows`] encodes them.
fn insert_statement(
    w: &mut Writer,
    table: &str,
    rows: RawValue,
    relation: bool,
    on_conflict: Option<&Changes>,
) -> Result<(), QueryError> {
    w.sql(if relation {
        "INSERT RELATION INTO "
    } else {
        "INSERT INTO "
    });
    w.table(table);
    w.sql(" ");
    w.raw(rows);
    if let Some(c) = on_conflict {
        w.sql(" ON DUPLICATE KEY UPDATE ");
        c.write(w)?;
    }
    Ok(())
}

/// Inserts `rows` (ids kept when set, server fields left to the server), one `INSERT`
/// statement per `batch_size` rows, and yields the stored rows in order.
pub fn bulk_create<M: Model>(items: &[M], opts: BulkOptions) -> BulkCreate<M> {
    let mut batches = Vec::new();
    let prep = refuse_view::<M>("bulk_create").and_then(|_| {
        if opts.batch_size == 0 {
            return Err(Error::Invalid {
                what: "batch_size".into(),
                reason: "must be at least 1".into(),
            });
        }
        let relation = matches!(M::META.kind, TableKind::Relation { .. });
        // Each batch's rows go straight from serde into that batch's bytes.
        let writer = DataWriter::<M>::new();
        let chunks = items
            .chunks(opts.batch_size)
            .map(|c| writer.rows(c, true))
            .collect::<Result<Vec<RawValue>, Error>>()?;
        if opts.atomic && !chunks.is_empty() {
            let n = chunks.len();
            let q = bound(|w| {
                w.sql("BEGIN TRANSACTION; ");
                for (i, c) in chunks.into_iter().enumerate() {
                    if i > 0 {
                        w.sql("; ");
                    }
                    insert_statement(w, M::META.table, c, relation, None)?;
                }
                w.sql("; COMMIT TRANSACTION");
                Ok(())
            })?;
            batches.push((q, n));
        } else {
            for c in chunks {
                let q = bound(|w| insert_statement(w, M::META.table, c, relation, None))?;
                batches.push((q, 1));
            }
        }
        Ok(())
    });
    BulkCreate {
        pending: batches.into_iter().rev().collect(),
        waiting: None,
        out: Vec::with_capacity(items.len()),
        error: prep.err(),
    }
}

/// The operation of [`bulk_create`]: one round trip per batch (one in all when atomic).
pub struct BulkCreate<M> {
    /// Remaining (query, number of INSERT statements in it), last batch first.
    pending: Vec<(CompiledQuery, usize)>,
    waiting: Option<usize>,
    out: Vec<M>,
    error: Option<Error>,
}

impl<M> std::fmt::Debug for BulkCreate<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkCreate")
            .field("batches_left", &self.pending.len())
            .field("rows_stored", &self.out.len())
            .finish()
    }
}

impl<M: Model> Operation for BulkCreate<M> {
    type Output = Vec<M>;

    fn step(&mut self, answer: Option<Result<Payload, Error>>) -> Step<Vec<M>> {
        if let Some(e) = self.error.take() {
            return Step::Done(Err(e));
        }
        if let Some(statements) = self.waiting.take() {
            let resp = match answer {
                Some(Ok(p)) => QueryResponse::from_payload(p).map_err(Error::from),
                Some(Err(e)) => Err(e),
                None => Err(Error::Protocol(
                    "bulk_create stepped without an answer".into(),
                )),
            };
            let resp = match resp {
                Ok(r) => r,
                Err(e) => return Step::Done(Err(e)),
            };
            // Atomic: statement 0 is BEGIN, then the INSERTs, then COMMIT.
            let first = usize::from(resp.len() > statements);
            let mut failure: Option<(bool, Error)> = None;
            for i in first..first + statements {
                match rows::<M>(&resp, i) {
                    Ok(mut r) => self.out.append(&mut r),
                    // In a failed transaction every statement reports an error; the one
                    // that is not "not executed due to a failed transaction" is the cause.
                    Err(e) => {
                        let secondary = e.to_string().contains("failed transaction");
                        if failure.as_ref().is_none_or(|(s, _)| *s && !secondary) {
                            failure = Some((secondary, e));
                        }
                    }
                }
            }
            if let Some((_, e)) = failure {
                return Step::Done(Err(e));
            }
        }
        match self.pending.pop() {
            Some((q, statements)) => match client::execute(q) {
                Ok(call) => {
                    self.waiting = Some(statements);
                    Step::Send(call.into_parts().0)
                }
                Err(e) => Step::Done(Err(e.into())),
            },
            None => Step::Done(Ok(std::mem::take(&mut self.out))),
        }
    }
}

/// Inserts `m`, or when a record with its id (or a unique index value) already exists,
/// applies `on_conflict` to the existing one (`INSERT … ON DUPLICATE KEY UPDATE`; use
/// [`Changes::replace`] to take the inserted value, [`Changes::increment`] to count).
/// Without `on_conflict` every written field is replaced. Yields the stored record.
pub fn upsert<M: Model>(m: &M, on_conflict: Option<&Changes>) -> QueryOp<M> {
    let op = bulk_upsert(std::slice::from_ref(m), on_conflict);
    let QueryOp { state } = op;
    let state = match state {
        QState::Ready(r, d) => QState::Ready(
            r,
            Box::new(move |resp| {
                d(resp)?
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::WriteDenied {
                        action: "upsert".into(),
                        target: format!("table `{}`", M::META.table),
                    })
            }),
        ),
        QState::Failed(e) => QState::Failed(e),
        _ => QState::Failed(Error::Protocol("unreachable upsert state".into())),
    };
    QueryOp { state }
}

/// [`upsert`] of many rows in one statement.
pub fn bulk_upsert<M: Model>(items: &[M], on_conflict: Option<&Changes>) -> QueryOp<Vec<M>> {
    if let Err(e) = refuse_view::<M>("upsert") {
        return QueryOp::fail(e);
    }
    if items.is_empty() {
        return QueryOp {
            state: QState::Failed(Error::Invalid {
                what: "upsert rows".into(),
                reason: "no rows given".into(),
            }),
        };
    }
    let data = match DataWriter::<M>::new().rows(items, true) {
        Ok(d) => d,
        Err(e) => return QueryOp::fail(e),
    };
    let replace_all;
    let changes = match on_conflict {
        Some(c) => c,
        None => {
            let mut c = Changes::new();
            for f in M::META.fields.iter().filter(|f| f.kind.is_written()) {
                c = c.replace_path(super::field_path(f.name));
            }
            replace_all = c;
            &replace_all
        }
    };
    let relation = matches!(M::META.kind, TableKind::Relation { .. });
    let q = bound(|w| insert_statement(w, M::META.table, data, relation, Some(changes)));
    QueryOp::new(q, move |resp| rows::<M>(&resp, 0))
}

/// `(instance, created)`: the one row matching the set, or `defaults` saved when none
/// matches; two matching rows are [`Error::MultipleObjectsReturned`]. Two round trips when
/// it creates (not atomic: a concurrent creator can win; put a unique index on the lookup
/// fields and retry on its error).
pub fn get_or_create<M: Model + Clone>(qs: &QuerySet<M>, defaults: M) -> GetOrCreate<M> {
    GetOrCreate {
        state: GocState::Find(find(qs), defaults, None),
    }
}

/// `(instance, created)`: `changes` applied to the one matching row, or `defaults` saved
/// when none matches.
pub fn update_or_create<M: Model + Clone>(
    qs: &QuerySet<M>,
    changes: Changes,
    defaults: M,
) -> GetOrCreate<M> {
    GetOrCreate {
        state: GocState::Find(find(qs), defaults, Some(changes)),
    }
}

/// The operation of [`get_or_create`] / [`update_or_create`].
pub struct GetOrCreate<M> {
    state: GocState<M>,
}

enum GocState<M> {
    Find(QueryOp<M>, M, Option<Changes>),
    Finding(QueryOp<M>, M, Option<Changes>),
    Writing(QueryOp<Option<M>>, bool),
    Spent,
}

impl<M> std::fmt::Debug for GetOrCreate<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match &self.state {
            GocState::Find(..) | GocState::Finding(..) => "finding",
            GocState::Writing(..) => "writing",
            GocState::Spent => "spent",
        };
        f.debug_struct("GetOrCreate").field("state", &s).finish()
    }
}

impl<M: Model + Clone> Operation for GetOrCreate<M> {
    type Output = (M, bool);

    fn step(&mut self, answer: Option<Result<Payload, Error>>) -> Step<(M, bool)> {
        match std::mem::replace(&mut self.state, GocState::Spent) {
            GocState::Find(mut op, d, c) => match op.step(None) {
                Step::Send(r) => {
                    self.state = GocState::Finding(op, d, c);
                    Step::Send(r)
                }
                Step::Done(r) => Step::Done(r.map(|m| (m, false))),
            },
            GocState::Finding(mut op, defaults, changes) => match op.step(answer) {
                Step::Done(Ok(found)) => match changes {
                    None => Step::Done(Ok((found, false))),
                    Some(c) => {
                        let mut w = merge(&found, &c, true);
                        self.begin_write(&mut w, false)
                    }
                },
                Step::Done(Err(Error::DoesNotExist { .. })) => {
                    let s = save(&defaults);
                    let mut w = QueryOp::<Option<M>>::from_op(s);
                    self.begin_write(&mut w, true)
                }
                Step::Done(Err(e)) => Step::Done(Err(e)),
                Step::Send(_) => Step::Done(Err(Error::Protocol("find took two steps".into()))),
            },
            GocState::Writing(mut op, created) => match op.step(answer) {
                Step::Done(Ok(Some(m))) => Step::Done(Ok((m, created))),
                Step::Done(Ok(None)) => {
                    Step::Done(Err(Error::Protocol("write returned no row".into())))
                }
                Step::Done(Err(e)) => Step::Done(Err(e)),
                Step::Send(_) => Step::Done(Err(Error::Protocol("write took two steps".into()))),
            },
            GocState::Spent => Step::Done(Err(Error::Protocol(
                "an operation was stepped after it finished (a driver bug)".into(),
            ))),
        }
    }
}

impl<M: Model + Clone> GetOrCreate<M> {
    fn begin_write(&mut self, op: &mut QueryOp<Option<M>>, created: bool) -> Step<(M, bool)> {
        let mut op = std::mem::replace(op, QueryOp::fail(Error::Closed));
        match op.step(None) {
            Step::Send(r) => {
                self.state = GocState::Writing(op, created);
                Step::Send(r)
            }
            Step::Done(Err(e)) => Step::Done(Err(e)),
            Step::Done(Ok(_)) => Step::Done(Err(Error::Protocol("write finished unsent".into()))),
        }
    }
}

impl<M: 'static> QueryOp<Option<M>> {
    fn from_op(op: QueryOp<M>) -> Self {
        let state = match op.state {
            QState::Ready(r, d) => QState::Ready(r, Box::new(move |resp| d(resp).map(Some))),
            QState::Failed(e) => QState::Failed(e),
            _ => QState::Failed(Error::Protocol("converted a running operation".into())),
        };
        QueryOp { state }
    }
}

/// Calls a function (`fn::name` or a builtin such as `string::lowercase`) with positional
/// arguments and decodes its result as `T` (`RETURN fn::name($p0, $p1);`).
pub fn call_function<T: serde::de::DeserializeOwned + Send + 'static>(
    name: &str,
    args: Vec<Value>,
) -> QueryOp<T> {
    let expr = super::Expr::func(name, args);
    let q = bound(|w| {
        w.sql("RETURN ");
        expr.write(w)
    });
    QueryOp::new(q, move |mut resp| resp.take::<T>(0).map_err(Error::from))
}

/// Calls a defined function (`fn::name`) with NAMED arguments: the function's definition
/// is read first (`INFO FOR DB`) to put them in its parameter order, so a missing or
/// unknown name is an error naming it. Two round trips.
pub fn call_function_named<T: serde::de::DeserializeOwned + Send + 'static>(
    name: &str,
    args: BTreeMap<String, Value>,
) -> CallNamed<T> {
    CallNamed {
        name: name.to_owned(),
        args: Some(args),
        call: None,
        info_sent: false,
    }
}

/// The operation of [`call_function_named`].
pub struct CallNamed<T> {
    name: String,
    args: Option<BTreeMap<String, Value>>,
    call: Option<QueryOp<T>>,
    info_sent: bool,
}

impl<T> std::fmt::Debug for CallNamed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallNamed")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The parameter names of `DEFINE FUNCTION fn::x($a: string, $b: int) …`, in order.
pub fn function_params(definition: &str) -> Option<Vec<String>> {
    let open = definition.find('(')?;
    let mut depth = 0usize;
    let mut params = Vec::new();
    let bytes: Vec<char> = definition[open..].chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            '(' | '<' => depth += 1,
            ')' | '>' => {
                depth -= 1;
                if depth == 0 {
                    return Some(params);
                }
            }
            '$' if depth == 1 => {
                let name: String = bytes[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                i += name.len();
                params.push(name);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

impl<T: serde::de::DeserializeOwned + Send + 'static> Operation for CallNamed<T> {
    type Output = T;

    fn step(&mut self, answer: Option<Result<Payload, Error>>) -> Step<T> {
        if let Some(call) = &mut self.call {
            return call.step(answer);
        }
        if !self.info_sent {
            if !self.name.starts_with("fn::") {
                return Step::Done(Err(Error::Invalid {
                    what: "function name".into(),
                    reason: format!(
                        "named arguments need a defined function (`fn::…`), not `{}`",
                        self.name
                    ),
                }));
            }
            self.info_sent = true;
            return match client::execute(CompiledQuery::new("INFO FOR DB;", BTreeMap::new())) {
                Ok(c) => Step::Send(c.into_parts().0),
                Err(e) => Step::Done(Err(e.into())),
            };
        }
        let info = match answer {
            Some(Ok(p)) => QueryResponse::from_payload(p)
                .map_err(Error::from)
                .and_then(|r| r.value_at(0)),
            Some(Err(e)) => Err(e),
            None => Err(Error::Protocol("stepped without an answer".into())),
        };
        let info = match info {
            Ok(v) => v,
            Err(e) => return Step::Done(Err(e)),
        };
        let short = &self.name["fn::".len()..];
        let def = match &info {
            Value::Object(o) => match o.get("functions") {
                Some(Value::Object(f)) => f.get(short).and_then(|d| match d {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                }),
                _ => None,
            },
            _ => None,
        };
        let Some(def) = def else {
            return Step::Done(Err(Error::Invalid {
                what: "function name".into(),
                reason: format!("`{}` is not defined on this database", self.name),
            }));
        };
        let Some(params) = function_params(&def) else {
            return Step::Done(Err(Error::Protocol(format!(
                "cannot read the parameters of `{def}`"
            ))));
        };
        let mut args = self.args.take().unwrap_or_default();
        let mut ordered = Vec::with_capacity(params.len());
        for p in &params {
            match args.remove(p) {
                Some(v) => ordered.push(v),
                None => {
                    return Step::Done(Err(Error::Invalid {
                        what: "function argument".into(),
                        reason: format!(
                            "`{}` needs `${p}` (its parameters: {})",
                            self.name,
                            params.join(", ")
                        ),
                    }))
                }
            }
        }
        if let Some(extra) = args.keys().next() {
            return Step::Done(Err(Error::Invalid {
                what: "function argument".into(),
                reason: format!(
                    "`{}` has no parameter `${extra}` (its parameters: {})",
                    self.name,
                    params.join(", ")
                ),
            }));
        }
        let mut call = call_function::<T>(&self.name, ordered);
        let step = call.step(None);
        self.call = Some(call);
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_params_are_read_in_order() {
        assert_eq!(
            function_params("DEFINE FUNCTION fn::greet($name: string, $n: option<int>) { RETURN $name; } PERMISSIONS FULL").unwrap(),
            vec!["name".to_owned(), "n".to_owned()]
        );
        assert_eq!(
            function_params("DEFINE FUNCTION fn::x() { RETURN 1; }").unwrap(),
            Vec::<String>::new()
        );
    }
}
