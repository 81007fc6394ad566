//! Change feeds: reading a table's `CHANGEFEED` with `SHOW CHANGES` as an operation of the
//! core, its answer decoded into typed [`Change`]s (action, record, versionstamp and commit
//! time), and the cursor that resumes it.
//!
//! A [`ChangeFeed`] is the state of one reader: table, cursor, page size. Each poll is one
//! operation ([`ChangeFeed::poll`]) a driver runs with `db.perform(op)`; its [`ChangePage`]
//! is folded back with [`ChangeFeed::advance`]. The drivers' change streams just repeat
//! that, sleeping `poll_interval` after an empty page. It is plain request/answer, so it
//! works over HTTP as well as WebSocket.
//!
//! What SurrealDB 3.3.5 does, checked on the live server, and how this module deals with it:
//! - **`SINCE` and `LIMIT` cannot be bound** (`SINCE $v` is a parse error: "expected a
//!   version stamp or a date-time"). Both are numbers this module formats itself; the table
//!   name is escaped with [`escape_ident`]. Nothing the caller gives is inlined as text.
//! - **`SINCE` is inclusive**: the change at the given versionstamp is returned again, so the
//!   cursor is the last versionstamp read plus one.
//! - **Versionstamps are hybrid-logical-clock stamps**: the upper 48 bits are the commit's
//!   wall-clock time in milliseconds since the Unix epoch, the lower 16 bits a counter. The
//!   server returns no timestamp of its own; [`Change::timestamp`] is read from the stamp.
//! - **`SINCE <datetime>` is broken on the memory and SurrealKV engines**: the server turns the
//!   datetime into nanoseconds while the stored stamps are HLC stamps (milliseconds << 16), so
//!   any recent datetime reads nothing and an old one reads everything. A [`Since::Time`] is
//!   therefore converted here into the HLC versionstamp of that millisecond and sent as a
//!   number.
//! - **`LIMIT` counts the whole database's feed**, before the table filter (at most 1000). A
//!   page of a quiet table can be empty while other tables' changes fill the window, and the
//!   cursor could then never move. An empty table page is therefore followed, in the same
//!   operation, by `SHOW CHANGES FOR DATABASE` from the same cursor (1000 entries), which
//!   says how far the feed goes; this table's changes in it are delivered, and the cursor
//!   moves past the entries read.
//! - **Creates and updates are told apart only with `INCLUDE ORIGINAL`.** Without it the
//!   feed stores every write as the record after it; with it an update carries reverse
//!   patches (`{current, update: [...]}`) and a delete the record before it. The first poll
//!   reads the table's definition (`INFO FOR DB STRUCTURE`, in the same query) to know which:
//!   [`ChangeAction::Write`] is a create or an update the server does not distinguish.
//! - `SHOW CHANGES` of a table that does not exist, or has no change feed, silently reads
//!   nothing; the first poll refuses a table that is not defined.
//! - The feed also holds `define_table` entries (schema changes); they are skipped.

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use serde::de::DeserializeOwned;

use crate::client::{self, QueryResponse};
use crate::error::Error;
use crate::escape::escape_ident;
use crate::live::changed_fields;
use crate::model::{decode_model, Model};
use crate::op::{Operation, Step};
use crate::query::QuerySet;
use crate::realtime::{serde_decode, DecodeFn};
use crate::rpc::{Payload, Request};
use crate::value::{Datetime, Object, RecordId, Value};

/// The most entries one `SHOW CHANGES` reads (the server's own cap).
pub const MAX_PAGE: u32 = 1000;

/// Where a change feed starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// At this versionstamp (inclusive): a [`Change::versionstamp`] plus one, or a stored
    /// [`ChangeFeed::cursor`].
    Versionstamp(u64),
    /// At the first change committed at or after this time.
    Time(Datetime),
}

impl From<u64> for Since {
    fn from(v: u64) -> Self {
        Since::Versionstamp(v)
    }
}

impl From<Datetime> for Since {
    fn from(t: Datetime) -> Self {
        Since::Time(t)
    }
}

impl Since {
    /// The beginning of the feed (everything the server still keeps).
    pub const BEGINNING: Since = Since::Versionstamp(0);

    /// The versionstamp this position starts at: a time becomes the HLC stamp of its
    /// millisecond (`ms << 16`). A time before 1970 or after year 10889 is refused.
    pub fn versionstamp(self) -> Result<u64, Error> {
        match self {
            Since::Versionstamp(v) => Ok(v),
            Since::Time(t) => {
                let ms = i128::from(t.secs) * 1000 + i128::from(t.nanos / 1_000_000);
                u64::try_from(ms)
                    .ok()
                    .filter(|ms| *ms < 1 << 48)
                    .map(|ms| ms << 16)
                    .ok_or_else(|| {
                        Error::invalid(
                            "change feed start",
                            format!(
                                "{t} is outside the range of versionstamps (1970 to year 10889)"
                            ),
                        )
                    })
            }
        }
    }
}

/// The commit time a versionstamp encodes (its upper 48 bits are milliseconds since the
/// Unix epoch).
pub fn versionstamp_time(versionstamp: u64) -> Datetime {
    let ms = versionstamp >> 16;
    // ms < 2^48, so both parts fit.
    Datetime::from_unix((ms / 1000) as i64, ((ms % 1000) * 1_000_000) as u32)
        .unwrap_or(Datetime::UNIX_EPOCH)
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeAction {
    /// The record was created (tables defined `CHANGEFEED … INCLUDE ORIGINAL`).
    Create,
    /// The record existed and was changed (tables defined `CHANGEFEED … INCLUDE ORIGINAL`);
    /// [`Change::changed_fields`] says which fields.
    Update,
    /// The record was deleted.
    Delete,
    /// The record was created or updated: a table whose feed does not `INCLUDE ORIGINAL`
    /// stores both the same way, so the server cannot tell which.
    Write,
}

/// One change of a record, read from the change feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change<T> {
    /// What happened.
    pub action: ChangeAction,
    /// The record.
    pub record_id: RecordId,
    /// The record after the change; for a delete, the record before it when the feed
    /// `INCLUDE ORIGINAL`s, else `None` (and always `None` on servers before 3.2, which leave
    /// the deleted record out of the feed: checked against 3.1.6).
    pub data: Option<T>,
    /// For an [`ChangeAction::Update`]: the top-level fields it changed. Empty otherwise.
    pub changed_fields: Vec<String>,
    /// The versionstamp of the transaction that made the change (several changes of one
    /// transaction share it). Resume after it with `Since::Versionstamp(versionstamp + 1)`.
    pub versionstamp: u64,
    /// When the change was committed (server clock, millisecond precision), read from the
    /// versionstamp.
    pub timestamp: Datetime,
}

/// One poll's outcome.
#[derive(Debug)]
pub struct ChangePage<T> {
    /// The changes of the table, in feed order; a change whose record does not decode is an
    /// `Err` naming it (and the feed goes past it).
    pub changes: Vec<Result<Change<T>, Error>>,
    /// Where the next poll starts.
    pub next: u64,
    /// Whether the table's feed includes original values (learned on the first poll).
    pub include_original: bool,
}

/// The state of one change-feed reader. See the [module docs](self).
pub struct ChangeFeed<T> {
    table: String,
    cursor: u64,
    limit: u32,
    include_original: Option<bool>,
    decode: DecodeFn<T>,
    type_name: &'static str,
}

impl<T> std::fmt::Debug for ChangeFeed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("table", &self.table)
            .field("cursor", &self.cursor)
            .field("limit", &self.limit)
            .field("include_original", &self.include_original)
            .finish()
    }
}

impl<T: DeserializeOwned> ChangeFeed<T> {
    /// A reader of `table`'s feed from `since`, decoding records with serde.
    pub fn table(table: &str, since: impl Into<Since>) -> Result<Self, Error> {
        Self::with_decoder(
            table,
            since.into(),
            serde_decode::<T>,
            std::any::type_name::<T>(),
        )
    }
}

impl<M: Model> ChangeFeed<M> {
    /// A reader of model `M`'s table from `since`, decoding records as `M`.
    pub fn model(since: impl Into<Since>) -> Result<Self, Error> {
        Self::with_decoder(
            M::META.table,
            since.into(),
            decode_model::<M>,
            M::META.rust_name,
        )
    }

    /// A reader of the table of `qs` (`M::objects()`): a set with filters, a projection or
    /// an ordering is refused, since `SHOW CHANGES` reads every change of the table.
    pub fn of(qs: &QuerySet<M>, since: impl Into<Since>) -> Result<Self, Error> {
        let table = qs
            .changefeed_table()
            .map_err(|e| Error::invalid("change feed", e.to_string()))?;
        Self::with_decoder(table, since.into(), decode_model::<M>, M::META.rust_name)
    }
}

impl<T> ChangeFeed<T> {
    fn with_decoder(
        table: &str,
        since: Since,
        decode: DecodeFn<T>,
        type_name: &'static str,
    ) -> Result<Self, Error> {
        if table.is_empty() {
            return Err(Error::invalid(
                "change feed table",
                "the table name is empty",
            ));
        }
        Ok(ChangeFeed {
            table: table.to_owned(),
            cursor: since.versionstamp()?,
            limit: 100,
            include_original: None,
            decode,
            type_name,
        })
    }

    /// Reads at most `n` feed entries per poll (1 to [`MAX_PAGE`]; default 100).
    pub fn limit(mut self, n: u32) -> Result<Self, Error> {
        if !(1..=MAX_PAGE).contains(&n) {
            return Err(Error::invalid(
                "change feed page size",
                format!("{n} is not between 1 and {MAX_PAGE}"),
            ));
        }
        self.limit = n;
        Ok(self)
    }

    /// The table read.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Where the next poll starts: store it to resume later with `Since::Versionstamp`.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The next poll, as an operation (one `query`; two when the table's page is empty).
    pub fn poll(&self) -> PollChanges<T> {
        PollChanges {
            table: self.table.clone(),
            cursor: self.cursor,
            limit: self.limit,
            include_original: self.include_original,
            decode: self.decode,
            type_name: self.type_name,
            state: PollState::Start,
        }
    }

    /// Folds a page in: the cursor moves to [`ChangePage::next`].
    pub fn advance(&mut self, page: &ChangePage<T>) {
        self.cursor = self.cursor.max(page.next);
        self.include_original = Some(page.include_original);
    }
}

enum PollState {
    Start,
    /// The `SHOW CHANGES FOR TABLE` (and, on the first poll, the table definition).
    Table,
    /// The `SHOW CHANGES FOR DATABASE` after an empty table page.
    Database,
    Spent,
}

/// One poll of a [`ChangeFeed`]: see [`ChangeFeed::poll`].
pub struct PollChanges<T> {
    table: String,
    cursor: u64,
    limit: u32,
    include_original: Option<bool>,
    decode: DecodeFn<T>,
    type_name: &'static str,
    state: PollState,
}

impl<T> std::fmt::Debug for PollChanges<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollChanges")
            .field("table", &self.table)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl<T> PollChanges<T> {
    /// The first request's SurrealQL (for tests and logs).
    pub fn table_query(&self) -> String {
        let mut text = format!(
            "SHOW CHANGES FOR TABLE {} SINCE {} LIMIT {};",
            escape_ident(&self.table),
            self.cursor,
            self.limit
        );
        if self.include_original.is_none() {
            text.push_str(" RETURN (INFO FOR DB STRUCTURE).tables[WHERE name = $table][0];");
        }
        text
    }

    fn database_query(&self) -> String {
        format!(
            "SHOW CHANGES FOR DATABASE SINCE {} LIMIT {MAX_PAGE};",
            self.cursor
        )
    }

    fn request(&self, text: String) -> Request {
        let mut vars = Object::new();
        if text.contains("$table") {
            vars.insert("table".into(), Value::from(self.table.as_str()));
        }
        client::query(&text, vars).into_parts().0
    }

    fn on_table_page(&mut self, p: Payload) -> Result<Option<ChangePage<T>>, Error> {
        let mut res = QueryResponse::from_payload(p)?;
        let sets: Value = res.take(0)?;
        if self.include_original.is_none() {
            let def: Value = res.take(1)?;
            let Some(def) = def.as_object() else {
                return Err(Error::invalid(
                    "change feed table",
                    format!(
                        "the table `{}` is not defined in this database, so it has no change feed (`DEFINE TABLE {} CHANGEFEED 7d INCLUDE ORIGINAL`)",
                        self.table,
                        escape_ident(&self.table)
                    ),
                ));
            };
            self.include_original = Some(original_flag(def.get("changefeed")));
        }
        let sets = changesets(sets)?;
        if sets.is_empty() {
            return Ok(None);
        }
        let next = sets
            .last()
            .map_or(self.cursor, |(vs, _)| vs.saturating_add(1));
        Ok(Some(self.page(sets, next)))
    }

    fn on_database_page(&mut self, p: Payload) -> Result<ChangePage<T>, Error> {
        let sets: Value = QueryResponse::from_payload(p)?.take(0)?;
        let mut sets = changesets(sets)?;
        // The last entry read may be only part of its transaction (LIMIT counts entries, one
        // per table and transaction): it is read again by the next poll, unless it is the
        // only one (then the window held nothing else and the feed must move on).
        let next = match sets.len() {
            0 => self.cursor,
            1 => sets[0].0.saturating_add(1),
            _ => {
                let last = sets.pop().map_or(self.cursor, |(vs, _)| vs);
                last.max(self.cursor)
            }
        };
        Ok(self.page(sets, next))
    }

    /// The changes of this table in `sets`, decoded.
    fn page(&mut self, sets: Vec<(u64, Vec<Value>)>, next: u64) -> ChangePage<T> {
        let mut changes = Vec::new();
        for (vs, entries) in sets {
            for entry in entries {
                if let Some(c) = self.change(vs, entry) {
                    changes.push(c);
                }
            }
        }
        ChangePage {
            changes,
            next,
            include_original: self.include_original.unwrap_or(false),
        }
    }

    /// One feed entry: `None` when it is not a record change of this table.
    fn change(&mut self, versionstamp: u64, entry: Value) -> Option<Result<Change<T>, Error>> {
        let Value::Object(mut o) = entry else {
            return Some(Err(
                self.bad_entry(versionstamp, "an entry that is not an object")
            ));
        };
        if let Some(def) = o.get("define_table") {
            if def.get("name").and_then(Value::as_str) == Some(self.table.as_str()) {
                // The table was (re)defined: its feed may include originals from now on.
                self.include_original = Some(original_flag(def.get("changefeed")));
            }
            return None;
        }
        let original = self.include_original.unwrap_or(false);
        let (action, record, data, fields) = if let Some(current) = o.remove("current") {
            let patches = o.remove("update").unwrap_or(Value::None);
            (
                ChangeAction::Update,
                current.get("id").cloned(),
                Some(current),
                changed_fields(&patches),
            )
        } else if let Some(after) = o.remove("update") {
            let action = if original {
                ChangeAction::Create
            } else {
                ChangeAction::Write
            };
            (action, after.get("id").cloned(), Some(after), Vec::new())
        } else if let Some(Value::Object(mut gone)) = o.remove("delete") {
            let before = gone.remove("original");
            (ChangeAction::Delete, gone.remove("id"), before, Vec::new())
        } else {
            let keys: Vec<&String> = o.keys().collect();
            return Some(Err(self.bad_entry(
                versionstamp,
                &format!("an unknown entry with keys {keys:?}"),
            )));
        };
        let Some(Value::RecordId(record_id)) = record else {
            return Some(Err(
                self.bad_entry(versionstamp, "a change without a record id")
            ));
        };
        if record_id.table != self.table {
            return None; // another table's (a database-wide page)
        }
        let data = match data {
            None | Some(Value::None) | Some(Value::Null) => None,
            Some(v) => match (self.decode)(v) {
                Ok(t) => Some(t),
                Err(detail) => {
                    return Some(Err(Error::Decode {
                        context: format!(
                            "the change of {record_id} at versionstamp {versionstamp} as {}",
                            self.type_name
                        ),
                        detail,
                    }))
                }
            },
        };
        Some(Ok(Change {
            action,
            record_id,
            data,
            changed_fields: fields,
            versionstamp,
            timestamp: versionstamp_time(versionstamp),
        }))
    }

    fn bad_entry(&self, versionstamp: u64, what: &str) -> Error {
        Error::Protocol(format!(
            "the change feed of `{}` holds {what} at versionstamp {versionstamp}",
            self.table
        ))
    }
}

/// `changefeed.original` of a table definition (`false` without a feed of its own).
fn original_flag(changefeed: Option<&Value>) -> bool {
    changefeed
        .and_then(|c| c.get("original"))
        .is_some_and(|o| matches!(o, Value::Bool(true)))
}

/// `[{versionstamp, changes: [...]}, ...]` → `(versionstamp, changes)` in order.
fn changesets(v: Value) -> Result<Vec<(u64, Vec<Value>)>, Error> {
    let bad = |what: String| Error::Protocol(format!("`SHOW CHANGES` answered {what}"));
    let rows = match v {
        Value::Array(rows) => rows,
        Value::None | Value::Null => return Ok(Vec::new()),
        other => return Err(bad(format!("{} instead of a list", other.kind()))),
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Value::Object(mut row) = row else {
            return Err(bad("a change set that is not an object".into()));
        };
        let vs = match row.get("versionstamp") {
            Some(Value::Int(i)) => u64::try_from(*i).ok(),
            Some(Value::Decimal(d)) => d.as_str().parse::<u64>().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            bad(format!(
                "a change set without a usable versionstamp: {row:?}"
            ))
        })?;
        let changes = match row.remove("changes") {
            Some(Value::Array(c)) => c,
            _ => {
                return Err(bad(format!(
                    "the change set at {vs} without a list of changes"
                )))
            }
        };
        out.push((vs, changes));
    }
    Ok(out)
}

impl<T> Operation for PollChanges<T> {
    type Output = ChangePage<T>;

    fn step(&mut self, answer: Option<Result<Payload, Error>>) -> Step<ChangePage<T>> {
        match (std::mem::replace(&mut self.state, PollState::Spent), answer) {
            (PollState::Start, None) => {
                self.state = PollState::Table;
                Step::Send(self.request(self.table_query()))
            }
            (PollState::Table, Some(Ok(p))) => match self.on_table_page(p) {
                Ok(Some(page)) => Step::Done(Ok(page)),
                Ok(None) => {
                    self.state = PollState::Database;
                    Step::Send(self.request(self.database_query()))
                }
                Err(e) => Step::Done(Err(e)),
            },
            (PollState::Database, Some(Ok(p))) => Step::Done(self.on_database_page(p)),
            (PollState::Table | PollState::Database, Some(Err(e))) => Step::Done(Err(e)),
            _ => Step::Done(Err(Error::Protocol(
                "a change-feed poll was stepped out of order (a driver bug)".into(),
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor;

    fn obj(pairs: Vec<(&str, Value)>) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    fn rid(t: &str, k: &str) -> Value {
        Value::RecordId(RecordId::new(t, k))
    }

    fn set(vs: u64, changes: Vec<Value>) -> Value {
        obj(vec![
            ("versionstamp", Value::Int(vs as i64)),
            ("changes", Value::Array(changes)),
        ])
    }

    /// A `query` answer with these statement results.
    fn answer(results: Vec<Value>) -> Payload {
        let rows = results
            .into_iter()
            .map(|r| {
                obj(vec![
                    ("status", "OK".into()),
                    ("time", "1ms".into()),
                    ("result", r),
                ])
            })
            .collect();
        Payload::from_cbor(cbor::encode(&Value::Array(rows)))
    }

    fn text(r: &Request) -> String {
        r.params[0].as_str().unwrap().to_owned()
    }

    fn table_def(original: bool) -> Value {
        obj(vec![
            ("name", "user".into()),
            (
                "changefeed",
                obj(vec![
                    ("expiry", "1h".into()),
                    ("original", Value::Bool(original)),
                ]),
            ),
        ])
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct U {
        id: RecordId,
        #[serde(default)]
        age: i64,
    }

    #[test]
    fn since_a_time_is_its_hlc_versionstamp() {
        let t = Datetime::from_unix(1_700_000_000, 123_456_789).unwrap();
        let vs = Since::Time(t).versionstamp().unwrap();
        assert_eq!(vs, 1_700_000_000_123 << 16);
        assert_eq!(
            versionstamp_time(vs + 7),
            Datetime::from_unix(1_700_000_000, 123_000_000).unwrap()
        );
        assert!(Since::Time(Datetime::from_unix(-1, 0).unwrap())
            .versionstamp()
            .is_err());
        assert_eq!(Since::from(5u64).versionstamp().unwrap(), 5);
        // The stamp the live 3.3.5 server wrote on 2026-11-28: 09:07:51.178 UTC.
        assert_eq!(
            versionstamp_time(117_693_275_909_521_408).to_string(),
            "2026-11-28T09:07:51.178Z"
        );
    }

    #[test]
    fn first_poll_learns_the_table_and_classifies_changes_with_originals() {
        let mut feed = ChangeFeed::<U>::table("user", 0u64).unwrap();
        let mut op = feed.poll();
        let Step::Send(r) = op.step(None) else {
            panic!()
        };
        assert_eq!(
            text(&r),
            "SHOW CHANGES FOR TABLE user SINCE 0 LIMIT 100; RETURN (INFO FOR DB STRUCTURE).tables[WHERE name = $table][0];"
        );
        let page = answer(vec![
            Value::Array(vec![
                set(10, vec![obj(vec![("define_table", table_def(true))])]),
                set(
                    11,
                    vec![obj(vec![("update", obj(vec![("id", rid("user", "a"))]))])],
                ),
                set(
                    12,
                    vec![obj(vec![
                        (
                            "current",
                            obj(vec![("id", rid("user", "a")), ("age", Value::Int(2))]),
                        ),
                        (
                            "update",
                            Value::Array(vec![obj(vec![
                                ("op", "remove".into()),
                                ("path", "/age".into()),
                            ])]),
                        ),
                    ])],
                ),
                set(
                    13,
                    vec![obj(vec![(
                        "delete",
                        obj(vec![
                            ("id", rid("user", "a")),
                            (
                                "original",
                                obj(vec![("id", rid("user", "a")), ("age", Value::Int(2))]),
                            ),
                        ]),
                    )])],
                ),
            ]),
            table_def(true),
        ]);
        let Step::Done(Ok(page)) = op.step(Some(Ok(page))) else {
            panic!()
        };
        let got: Vec<_> = page
            .changes
            .iter()
            .map(|c| {
                let c = c.as_ref().unwrap();
                (
                    c.action,
                    c.versionstamp,
                    c.data.as_ref().map(|u| u.age),
                    c.changed_fields.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (ChangeAction::Create, 11, Some(0), vec![]),
                (ChangeAction::Update, 12, Some(2), vec!["age".to_owned()]),
                (ChangeAction::Delete, 13, Some(2), vec![]),
            ]
        );
        assert_eq!(page.next, 14);
        feed.advance(&page);
        assert_eq!(feed.cursor(), 14);
        // Known now: later polls do not ask again.
        let Step::Send(r) = feed.poll().step(None) else {
            panic!()
        };
        assert_eq!(text(&r), "SHOW CHANGES FOR TABLE user SINCE 14 LIMIT 100;");
    }

    #[test]
    fn without_originals_writes_are_not_classified_and_a_missing_table_is_refused() {
        let mut feed = ChangeFeed::<U>::table("user", 0u64).unwrap();
        let mut op = feed.poll();
        let _ = op.step(None);
        let Step::Done(Ok(page)) = op.step(Some(Ok(answer(vec![
            Value::Array(vec![set(
                5,
                vec![
                    obj(vec![("update", obj(vec![("id", rid("user", "a"))]))]),
                    obj(vec![("delete", obj(vec![("id", rid("user", "b"))]))]),
                ],
            )]),
            table_def(false),
        ])))) else {
            panic!()
        };
        let c: Vec<_> = page.changes.into_iter().map(Result::unwrap).collect();
        assert_eq!(c[0].action, ChangeAction::Write);
        assert_eq!(c[1].action, ChangeAction::Delete);
        assert_eq!(c[1].data, None);
        assert_eq!(c[1].record_id, RecordId::new("user", "b"));
        feed.advance(&ChangePage {
            changes: Vec::new(),
            next: 6,
            include_original: false,
        });

        let mut op = ChangeFeed::<U>::table("nope", 0u64).unwrap().poll();
        let _ = op.step(None);
        let Step::Done(Err(e)) = op.step(Some(Ok(answer(vec![Value::Array(vec![]), Value::None]))))
        else {
            panic!()
        };
        assert!(e.to_string().contains("`nope` is not defined"), "{e}");
    }

    #[test]
    fn an_empty_table_page_reads_the_database_feed_to_move_on() {
        let mut feed = ChangeFeed::<U>::table("user", 100u64).unwrap();
        feed.include_original = Some(false);
        let mut op = feed.poll();
        let _ = op.step(None);
        let Step::Send(r) = op.step(Some(Ok(answer(vec![Value::Array(vec![])])))) else {
            panic!()
        };
        assert_eq!(text(&r), "SHOW CHANGES FOR DATABASE SINCE 100 LIMIT 1000;");
        let other = |k: &str| obj(vec![("update", obj(vec![("id", rid("other", k))]))]);
        let mine = obj(vec![("update", obj(vec![("id", rid("user", "u"))]))]);
        let Step::Done(Ok(page)) = op.step(Some(Ok(answer(vec![Value::Array(vec![
            set(101, vec![other("a")]),
            set(102, vec![other("b"), mine.clone()]),
            set(103, vec![other("c")]),
        ])])))) else {
            panic!()
        };
        // 103 may be cut short by LIMIT: read again next time.
        assert_eq!(page.next, 103);
        assert_eq!(page.changes.len(), 1);
        assert_eq!(page.changes[0].as_ref().unwrap().versionstamp, 102);
        feed.advance(&page);

        // A window of one entry moves past it; nothing at all leaves the cursor alone.
        let mut op = feed.poll();
        let _ = op.step(None);
        let _ = op.step(Some(Ok(answer(vec![Value::Array(vec![])]))));
        let Step::Done(Ok(page)) = op.step(Some(Ok(answer(vec![Value::Array(vec![set(
            103,
            vec![other("c")],
        )])])))) else {
            panic!()
        };
        assert_eq!((page.next, page.changes.len()), (104, 0));
        feed.advance(&page);
        let mut op = feed.poll();
        let _ = op.step(None);
        let _ = op.step(Some(Ok(answer(vec![Value::Array(vec![])]))));
        let Step::Done(Ok(page)) = op.step(Some(Ok(answer(vec![Value::Array(vec![])])))) else {
            panic!()
        };
        assert_eq!(page.next, 104);
    }

    #[test]
    fn bad_records_are_errors_that_do_not_stop_the_feed() {
        let mut feed = ChangeFeed::<U>::table("user", 0u64).unwrap();
        feed.include_original = Some(true);
        let mut op = feed.poll();
        let _ = op.step(None);
        let Step::Done(Ok(page)) = op.step(Some(Ok(answer(vec![Value::Array(vec![set(
            9,
            vec![
                obj(vec![(
                    "update",
                    obj(vec![("id", rid("user", "a")), ("age", "old".into())]),
                )]),
                obj(vec![("surprise", Value::Int(1))]),
                obj(vec![("update", obj(vec![("id", rid("user", "b"))]))]),
            ],
        )])])))) else {
            panic!()
        };
        assert_eq!(page.next, 10);
        let e = page.changes[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("user:a") && e.contains("versionstamp 9"), "{e}");
        let e = page.changes[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("surprise"), "{e}");
        assert!(page.changes[2].is_ok());
    }

    #[test]
    fn tables_are_escaped_and_pages_bounded() {
        let feed = ChangeFeed::<Value>::table("we-ird", 3u64)
            .unwrap()
            .limit(7)
            .unwrap();
        assert!(feed
            .poll()
            .table_query()
            .starts_with("SHOW CHANGES FOR TABLE `we-ird` SINCE 3 LIMIT 7;"));
        assert!(ChangeFeed::<Value>::table("t", 0u64)
            .unwrap()
            .limit(0)
            .is_err());
        assert!(ChangeFeed::<Value>::table("t", 0u64)
            .unwrap()
            .limit(1001)
            .is_err());
        assert!(ChangeFeed::<Value>::table("", 0u64).is_err());
    }
}
