//! Relations between models: graph edges ([`Relation`]), record links ([`ForeignKey`]), and
//! the managers that add, remove, list and count related records, each in one query
//! computed by the server.
//!
//! Declare a relation as a constant on the model and manage it from an instance:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use surql::model::relation::Relation;
//! use surql::model::Model;
//! use surql::RecordId;
//!
//! #[derive(Debug, Clone, Serialize, Deserialize, Model)]
//! #[surql(table = "person")]
//! struct Person { id: Option<RecordId>, name: String, age: i64 }
//!
//! impl Person {
//!     /// `person ->follows-> person`
//!     const FOLLOWS: Relation<Person, Person> = Relation::out("follows");
//!     /// the same edges seen from the other end
//!     const FOLLOWERS: Relation<Person, Person> = Relation::in_("follows");
//! }
//!
//! let alice = Person { id: Some(RecordId::new("person", "alice")), name: "Alice".into(), age: 30 };
//! let following = Person::FOLLOWS.of(&alice);
//! // typed, filterable, one query
//! let c = following.objects().filter(Person::fields().age.gt(18)).compile().unwrap();
//! assert_eq!(c.text, "SELECT * FROM array::distinct($p0->follows->person) WHERE age > $p1;");
//! // two hops, a filter at each, still one query
//! let c = following.objects().filter(Person::fields().age.gt(18)).related(&Person::FOLLOWS).compile().unwrap();
//! assert_eq!(
//!     c.text,
//!     "SELECT * FROM array::distinct(array::flatten((SELECT VALUE ->follows->person FROM array::distinct($p0->follows->person) WHERE age > $p1)));"
//! );
//! ```

use std::marker::PhantomData;

use serde::Serialize;

use super::ops::{rows, QueryOp};
use super::Model;
use crate::error::Error;
use crate::escape::escape_ident;
use crate::query::writer::{Mode, Writer};
use crate::query::{CompiledQuery, Path, QuerySet, RelatedDir};
use crate::value::{to_value, RecordId, Value};

/// Which way an edge runs from the model that declares the relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `from ->edge-> to`.
    Out,
    /// `from <-edge<- to` (the edge was created `to ->edge-> from`).
    In,
    /// Either way.
    Both,
}

/// A graph relation from model `F` to model `T` through the edge table `edge`.
pub struct Relation<F, T> {
    edge: &'static str,
    dir: Direction,
    _p: PhantomData<fn() -> (F, T)>,
}

impl<F, T> Clone for Relation<F, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F, T> Copy for Relation<F, T> {}

impl<F, T> std::fmt::Debug for Relation<F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Relation({:?} {})", self.dir, self.edge)
    }
}

impl<F, T> Relation<F, T> {
    /// `F ->edge-> T`.
    pub const fn out(edge: &'static str) -> Self {
        Relation {
            edge,
            dir: Direction::Out,
            _p: PhantomData,
        }
    }

    /// `F <-edge<- T`.
    pub const fn in_(edge: &'static str) -> Self {
        Relation {
            edge,
            dir: Direction::In,
            _p: PhantomData,
        }
    }

    /// Either way (adding creates `F ->edge-> T`).
    pub const fn both(edge: &'static str) -> Self {
        Relation {
            edge,
            dir: Direction::Both,
            _p: PhantomData,
        }
    }

    /// The edge table.
    pub fn edge(&self) -> &'static str {
        self.edge
    }

    /// The direction.
    pub fn direction(&self) -> Direction {
        self.dir
    }
}

impl<F: Model, T: Model> Relation<F, T> {
    /// The relation of one record: its manager.
    pub fn of(&self, from: &F) -> Related<F, T> {
        Related {
            rel: *self,
            from: from.record_id(),
        }
    }

    /// The relation of a record given by id.
    pub fn of_id(&self, from: RecordId) -> Related<F, T> {
        Related {
            rel: *self,
            from: Some(from),
        }
    }

    /// The one-hop graph path (`->edge->T`, `<-edge<-T`; `both` uses `<->`, which also
    /// reaches the start rows), for hand-built traversals.
    pub fn path(&self) -> Path {
        let t = T::META.table;
        match self.dir {
            Direction::Out => Path::new().out(self.edge).out(t),
            Direction::In => Path::new().in_(self.edge).in_(t),
            Direction::Both => Path::new().both(self.edge).both(t),
        }
    }

    /// Loads the related records of many `parents` in ONE query, in the parents' order
    /// (`SELECT id, ->edge->T.* AS related FROM $p0` over the parents' ids): a prefetch
    /// costs one round trip, whatever the number of parents. `filter` restricts the
    /// related records (a `QuerySet<T>` whose filters apply to them).
    pub fn prefetch(&self, parents: &[F], filter: Option<&QuerySet<T>>) -> QueryOp<Vec<Vec<T>>> {
        let mut ids = Vec::with_capacity(parents.len());
        for p in parents {
            match p.record_id() {
                Some(id) => ids.push(Value::RecordId(id)),
                None => return QueryOp::fail(unsaved::<F>("prefetch")),
            }
        }
        let order: Vec<Value> = ids.clone();
        let t = T::META.table;
        let edge = self.edge;
        let dir = self.dir;
        let filter = filter.cloned();
        let mut w = Writer::new(Mode::Bound);
        let built = (|| -> Result<(), crate::query::QueryError> {
            crate::query::ident::check_ident("graph table", edge)?;
            w.sql("SELECT id, ");
            let hop = |w: &mut Writer, arrow: &str| -> Result<(), crate::query::QueryError> {
                w.sql(arrow);
                w.sql(&escape_ident(edge));
                w.sql(arrow);
                match &filter {
                    Some(qs) => {
                        w.sql("(");
                        w.sql(&escape_ident(t));
                        qs.write_where_only(w)?;
                        w.sql(")");
                    }
                    None => w.sql(&escape_ident(t)),
                }
                w.sql(".*");
                Ok(())
            };
            match dir {
                Direction::Out => hop(&mut w, "->")?,
                Direction::In => hop(&mut w, "<-")?,
                Direction::Both => {
                    w.sql("array::union(");
                    hop(&mut w, "->")?;
                    w.sql(", ");
                    hop(&mut w, "<-")?;
                    w.sql(")");
                }
            }
            w.sql(" AS related FROM ");
            w.value(Value::Array(ids));
            Ok(())
        })();
        let q = built.map(|_| w.finish()).map_err(|e| Error::Invalid {
            what: "prefetch".into(),
            reason: e.to_string(),
        });
        QueryOp::new(q, move |resp| {
            let v = resp.value_at(0)?;
            let rows_v = match v {
                Value::Array(a) => a,
                _ => Vec::new(),
            };
            let mut by_id: Vec<(Value, Vec<T>)> = Vec::with_capacity(rows_v.len());
            for row in rows_v {
                let Value::Object(mut o) = row else { continue };
                let id = o.remove("id").unwrap_or(Value::None);
                let items = match o.remove("related") {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                let mut ts = Vec::with_capacity(items.len());
                for item in items {
                    // a duplicate edge reaches the same record twice: keep it once
                    ts.push(super::decode_model::<T>(item).map_err(|e| Error::Decode {
                        context: format!("a prefetched `{}`", T::META.rust_name),
                        detail: e,
                    })?);
                }
                by_id.push((id, ts));
            }
            Ok(order
                .iter()
                .map(|id| {
                    by_id
                        .iter()
                        .position(|(i, _)| i == id)
                        .map(|k| std::mem::take(&mut by_id[k].1))
                        .unwrap_or_default()
                })
                .collect())
        })
    }
}

fn unsaved<M: Model>(action: &str) -> Error {
    Error::Invalid {
        what: format!("{} id", M::META.rust_name),
        reason: format!("`{action}` needs a saved record, but the id is None (save it first)"),
    }
}

/// A relation of one record: add, remove, set, clear, list, count. Every method is one
/// query computed by the server (counting never loads the records).
pub struct Related<F, T> {
    rel: Relation<F, T>,
    from: Option<RecordId>,
}

impl<F, T> std::fmt::Debug for Related<F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Related")
            .field("relation", &self.rel)
            .field("from", &self.from)
            .finish()
    }
}

fn bound(build: impl FnOnce(&mut Writer)) -> Result<CompiledQuery, Error> {
    let mut w = Writer::new(Mode::Bound);
    build(&mut w);
    Ok(w.finish())
}

fn check_edge(edge: &str) -> Result<(), Error> {
    crate::escape::validate_name(edge)
        .map(|_| ())
        .map_err(|e| Error::Invalid {
            what: "edge table".into(),
            reason: e.to_string(),
        })
}

impl<F: Model, T: Model> Related<F, T> {
    fn from(&self, action: &str) -> Result<RecordId, Error> {
        self.from.clone().ok_or_else(|| unsaved::<F>(action))
    }

    /// The related records as a typed query set (filter, order, count, page it; chain
    /// another hop with [`QuerySet::related`]). An unsaved record relates to nothing: the
    /// query set then fails when run, naming the problem.
    pub fn objects(&self) -> QuerySet<T> {
        let dir = match self.rel.dir {
            Direction::Out => RelatedDir::Out,
            Direction::In => RelatedDir::In,
            Direction::Both => RelatedDir::Both,
        };
        match &self.from {
            Some(from) => QuerySet::related_to(from.clone(), self.rel.edge, dir),
            // an unsaved record: the query set refuses to compile, naming the problem
            None => {
                QuerySet::related_to(RecordId::new(F::META.table, "unsaved"), self.rel.edge, dir)
                    .filter(crate::query::Q::invalid(
                        crate::query::QueryError::Unsupported {
                            what:
                                "the relations of an unsaved record (save it first: it has no id)",
                        },
                    ))
            }
        }
    }

    /// Relates this record to `to`, with `data` on the edge (`RELATE $p0->edge->$p1
    /// CONTENT $p2`; reversed for an `in_` relation). Yields the edge record.
    pub fn add(&self, to: &T, data: Option<&impl Serialize>) -> QueryOp<Value> {
        let prep = (|| {
            let from = self.from("add")?;
            let to = to.record_id().ok_or_else(|| unsaved::<T>("add"))?;
            check_edge(self.rel.edge)?;
            let data = match data {
                Some(d) => Some(to_value(d).map_err(|e| Error::Invalid {
                    what: "edge data".into(),
                    reason: e.to_string(),
                })?),
                None => None,
            };
            Ok((from, to, data))
        })();
        let (from, to, data) = match prep {
            Ok(x) => x,
            Err(e) => return QueryOp::fail(e),
        };
        let (a, b) = match self.rel.dir {
            Direction::In => (to, from),
            _ => (from, to),
        };
        let edge = self.rel.edge;
        let q = bound(|w| {
            w.sql("RELATE ONLY ");
            w.value(Value::RecordId(a));
            w.sql("->");
            w.sql(&escape_ident(edge));
            w.sql("->");
            w.value(Value::RecordId(b));
            if let Some(d) = data {
                w.sql(" CONTENT ");
                w.value(d);
            }
        });
        QueryOp::new(q, |resp| resp.value_at(0))
    }

    /// The condition matching this relation's edges between `from` and `to` (bound).
    fn between(&self, w: &mut Writer, from: RecordId, to: Option<RecordId>) {
        let pair = |w: &mut Writer, a: &str, b: &str, to: &Option<RecordId>| {
            w.sql(a);
            w.sql(" = ");
            w.value(Value::RecordId(from.clone()));
            if let Some(t) = to {
                w.sql(" AND ");
                w.sql(b);
                w.sql(" = ");
                w.value(Value::RecordId(t.clone()));
            }
        };
        match self.rel.dir {
            Direction::Out => pair(w, "in", "out", &to),
            Direction::In => pair(w, "out", "in", &to),
            Direction::Both => {
                w.sql("(");
                pair(w, "in", "out", &to);
                w.sql(") OR (");
                pair(w, "out", "in", &to);
                w.sql(")");
            }
        }
    }

    fn delete_edges(&self, action: &str, to: Option<RecordId>) -> QueryOp<u64> {
        let from = match self
            .from(action)
            .and_then(|f| check_edge(self.rel.edge).map(|_| f))
        {
            Ok(f) => f,
            Err(e) => return QueryOp::fail(e),
        };
        let q = bound(|w| {
            w.sql("DELETE ");
            w.table(self.rel.edge);
            w.sql(" WHERE ");
            self.between(w, from, to);
            w.sql(" RETURN VALUE id");
        });
        QueryOp::new(q, |resp| match resp.value_at(0)? {
            Value::Array(a) => Ok(a.len() as u64),
            _ => Ok(0),
        })
    }

    /// Removes every edge of this relation between this record and `to`; yields how
    /// many edges were deleted.
    pub fn remove(&self, to: &T) -> QueryOp<u64> {
        match to.record_id() {
            Some(t) => self.delete_edges("remove", Some(t)),
            None => QueryOp::fail(unsaved::<T>("remove")),
        }
    }

    /// Removes every edge of this relation from this record; yields how many.
    pub fn clear(&self) -> QueryOp<u64> {
        self.delete_edges("clear", None)
    }

    /// Makes `to` exactly the related records: edges to records not in `to` are deleted,
    /// missing ones created (edges to records already related are kept, with their
    /// data). One request.
    pub fn set(&self, to: &[&T]) -> QueryOp<()> {
        let prep = (|| {
            let from = self.from("set")?;
            check_edge(self.rel.edge)?;
            let mut ids = Vec::with_capacity(to.len());
            for t in to {
                ids.push(Value::RecordId(
                    t.record_id().ok_or_else(|| unsaved::<T>("set"))?,
                ));
            }
            Ok((from, ids))
        })();
        let (from, ids) = match prep {
            Ok(x) => x,
            Err(e) => return QueryOp::fail(e),
        };
        let raw_edge = self.rel.edge;
        let edge = escape_ident(raw_edge).into_owned();
        let dir = self.rel.dir;
        let q = bound(|w| {
            // $p0: this record, $p1: the wanted ids, $t0: the edge table
            w.sql("LET $from = ");
            w.value(Value::RecordId(from));
            w.sql("; LET $want = ");
            w.value(Value::Array(ids));
            w.sql("; ");
            let (mine, other) = match dir {
                Direction::In => ("out", "in"),
                _ => ("in", "out"),
            };
            w.sql("DELETE ");
            w.table(raw_edge);
            w.sql(&format!(" WHERE {mine} = $from AND {other} NOT IN $want"));
            if dir == Direction::Both {
                w.sql(&format!(" OR ({other} = $from AND {mine} NOT IN $want)"));
            }
            w.sql("; ");
            let have = match dir {
                Direction::Out => format!("$from->{edge}->?"),
                Direction::In => format!("$from<-{edge}<-?"),
                Direction::Both => format!("array::union($from->{edge}->?, $from<-{edge}<-?)"),
            };
            w.sql(&format!("FOR $t IN array::complement($want, {have}) {{ "));
            match dir {
                Direction::In => w.sql(&format!("RELATE $t->{edge}->$from; }}")),
                _ => w.sql(&format!("RELATE $from->{edge}->$t; }}")),
            }
        });
        QueryOp::new(q, |resp| {
            for i in 0..resp.len() {
                resp.value_at(i)?;
            }
            Ok(())
        })
    }

    /// How many records are related (distinct; computed by the server).
    pub fn count(&self) -> QueryOp<u64> {
        let q = self
            .objects()
            .count()
            .compile()
            .map_err(|e| Error::Invalid {
                what: "query".into(),
                reason: e.to_string(),
            });
        QueryOp::new(q, |resp| match resp.value_at(0)? {
            Value::Array(a) => match a.first() {
                Some(Value::Object(o)) => match o.get("count") {
                    Some(Value::Int(n)) if *n >= 0 => Ok(*n as u64),
                    _ => Ok(0),
                },
                _ => Ok(0),
            },
            Value::Object(o) => match o.get("count") {
                Some(Value::Int(n)) if *n >= 0 => Ok(*n as u64),
                _ => Ok(0),
            },
            _ => Ok(0),
        })
    }

    /// Whether `other` is related.
    pub fn contains(&self, other: &T) -> QueryOp<bool> {
        match other.record_id() {
            Some(id) => {
                super::ops::exists(&self.objects().filter(crate::query::F::new("id").eq(id)))
            }
            None => QueryOp::fail(unsaved::<T>("contains")),
        }
    }

    /// Whether anything is related.
    pub fn exists(&self) -> QueryOp<bool> {
        super::ops::exists(&self.objects())
    }

    /// Every related record.
    pub fn all(&self) -> QueryOp<Vec<T>> {
        super::ops::all(&self.objects())
    }
}

impl<M> QuerySet<M> {
    /// The next hop: the records `rel` reaches from every record of this set (distinct),
    /// typed. Filters added afterwards apply to the reached records.
    pub fn related<T: Model>(self, rel: &Relation<M, T>) -> QuerySet<T>
    where
        M: Model,
    {
        self.traverse(rel.path()).typed::<T>()
    }
}

/// Removes every edge of `edges` touching `record`, in direction `dir` (`Out`: edges
/// starting at it, `In`: ending at it, `Both`: either), in one request; yields how many
/// edges were deleted.
pub fn remove_all_relations(record: &RecordId, edges: &[&str], dir: Direction) -> QueryOp<u64> {
    for e in edges {
        if let Err(e) = check_edge(e) {
            return QueryOp::fail(e);
        }
    }
    if edges.is_empty() {
        return QueryOp::fail(Error::Invalid {
            what: "edge tables".into(),
            reason: "no edge table given".into(),
        });
    }
    let n = edges.len();
    let record = record.clone();
    let edges: Vec<String> = edges.iter().map(|e| (*e).to_owned()).collect();
    let q = bound(|w| {
        w.sql("LET $r = ");
        w.value(Value::RecordId(record));
        for e in &edges {
            w.sql("; DELETE ");
            w.table(e);
            w.sql(match dir {
                Direction::Out => " WHERE in = $r",
                Direction::In => " WHERE out = $r",
                Direction::Both => " WHERE in = $r OR out = $r",
            });
            w.sql(" RETURN VALUE id");
        }
    });
    QueryOp::new(q, move |resp| {
        let mut total = 0;
        for i in 1..=n {
            if let Value::Array(a) = resp.value_at(i)? {
                total += a.len() as u64;
            }
        }
        Ok(total)
    })
}

/// What happens to the records that link to a deleted record (`REFERENCE ON DELETE …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// Delete them too.
    Cascade,
    /// Refuse the delete.
    Reject,
    /// Unset the link.
    Unset,
    /// Leave the dangling link.
    Ignore,
}

impl OnDelete {
    fn as_sql(self) -> &'static str {
        match self {
            OnDelete::Cascade => "CASCADE",
            OnDelete::Reject => "REJECT",
            OnDelete::Unset => "UNSET",
            OnDelete::Ignore => "IGNORE",
        }
    }
}

/// A record link: model `F`'s field `field` holds the id of a `T`.
pub struct ForeignKey<F, T> {
    field: &'static str,
    on_delete: OnDelete,
    _p: PhantomData<fn() -> (F, T)>,
}

impl<F, T> Clone for ForeignKey<F, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F, T> Copy for ForeignKey<F, T> {}

impl<F, T> std::fmt::Debug for ForeignKey<F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ForeignKey({} ON DELETE {})",
            self.field,
            self.on_delete.as_sql()
        )
    }
}

impl<F, T> ForeignKey<F, T> {
    /// The field (database name) holding the link, and what a delete of the target does.
    pub const fn new(field: &'static str, on_delete: OnDelete) -> Self {
        ForeignKey {
            field,
            on_delete,
            _p: PhantomData,
        }
    }
}

impl<F: Model, T: Model> ForeignKey<F, T> {
    /// `DEFINE FIELD <field> ON <F> TYPE record<T> REFERENCE ON DELETE …;` (the schema the
    /// behaviour needs; the schema layer emits it for models).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, surql::model::Model)]
    /// # #[surql(table = "book")] struct Book { id: Option<surql::RecordId>, author: surql::RecordId }
    /// # #[derive(Serialize, Deserialize, surql::model::Model)]
    /// # #[surql(table = "author")] struct Author { id: Option<surql::RecordId> }
    /// use surql::model::relation::{ForeignKey, OnDelete};
    /// let fk: ForeignKey<Book, Author> = ForeignKey::new("author", OnDelete::Cascade);
    /// assert_eq!(fk.define_field(), "DEFINE FIELD OVERWRITE author ON book TYPE record<author> REFERENCE ON DELETE CASCADE;");
    /// ```
    pub fn define_field(&self) -> String {
        format!(
            "DEFINE FIELD OVERWRITE {} ON {} TYPE record<{}> REFERENCE ON DELETE {};",
            escape_ident(self.field),
            escape_ident(F::META.table),
            escape_ident(T::META.table),
            self.on_delete.as_sql()
        )
    }

    /// The linked record (`None` when the field is NONE or the record is gone).
    pub fn get(&self, from: &F) -> QueryOp<Option<T>> {
        let link = match to_value(from) {
            Ok(Value::Object(o)) => o.get(self.field).cloned(),
            _ => None,
        };
        let rid = match link {
            Some(Value::RecordId(r)) => r,
            Some(v) if v.is_nullish() => {
                return QueryOp::new(bound(|w| w.sql("RETURN NONE")), |_| Ok(None))
            }
            None => return QueryOp::new(bound(|w| w.sql("RETURN NONE")), |_| Ok(None)),
            Some(other) => {
                return QueryOp::fail(Error::Invalid {
                    what: format!("{} field `{}`", F::META.rust_name, self.field),
                    reason: format!("holds {}, not a record id", other.kind()),
                })
            }
        };
        let q = bound(|w| {
            w.sql("SELECT * FROM ");
            w.value(Value::RecordId(rid));
        });
        QueryOp::new(q, |resp| Ok(rows::<T>(&resp, 0)?.into_iter().next()))
    }

    /// The `F` records linking to `to` (the reverse of the link), as a typed query set.
    pub fn referencing(&self, to: &T) -> QuerySet<F> {
        let id = to.record_id().map(Value::RecordId).unwrap_or(Value::None);
        F::objects().filter(crate::query::F::new(super::field_path(self.field)).eq(id))
    }
}
