//! [`QuerySet`]: a lazy SELECT over a table, a record or a graph path, compiled to SurrealQL.

use std::fmt;
use std::marker::PhantomData;

use super::filter::{CondCtx, Q};
use super::graph::Path;
use super::ident::{check_ident, check_path, push_ident, push_path};
use super::writer::{Mode, Writer};
use super::{CompiledQuery, QueryError};
use crate::value::{Duration, RecordId, Value};

#[derive(Debug, Clone)]
pub(crate) enum Source {
    Table(String),
    Record(RecordId),
    Traverse(Box<QuerySet<Untyped>>, Path),
    /// The distinct records one edge away from a record (`both`: either direction).
    Related {
        from: RecordId,
        edge: String,
        table: String,
        dir: RelatedDir,
    },
}

/// The direction of a [`QuerySet::related_to`] source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelatedDir {
    /// `$from->edge->table`.
    Out,
    /// `$from<-edge<-table`.
    In,
    /// Either: the union of both.
    Both,
}

#[derive(Debug, Clone)]
pub(crate) enum Projection {
    All,
    Fields(Vec<String>),
    Value(String),
}

#[derive(Debug, Clone)]
enum Hint {
    Index(Vec<String>),
    NoIndex,
}

#[derive(Debug, Clone)]
enum Extra {
    Score {
        reference: u32,
        alias: String,
    },
    Highlight {
        reference: u32,
        alias: String,
        pre: String,
        post: String,
    },
}

#[derive(Debug, Clone)]
struct Knn {
    field: String,
    vector: Vec<f64>,
    k: u32,
    ef: u32,
}

#[derive(Debug, Clone)]
struct Nearby {
    field: String,
    lon: f64,
    lat: f64,
    max: f64,
}

/// A lazy SELECT. Builder methods never fail; [`compile`](QuerySet::compile) validates
/// every identifier and reports the first problem, naming the input.
///
/// ```
/// use surql::query::{F, QuerySet};
/// let qs = QuerySet::table("users").filter(F::new("age").gte(18)).order_by(["-age", "name"]).limit(10).start(20);
/// let c = qs.compile().unwrap();
/// assert_eq!(c.text, "SELECT * FROM $t0 WHERE age >= $p0 ORDER BY age DESC, name ASC LIMIT $p1 START $p2;");
/// assert_eq!(c.vars["t0"], surql::Value::Table(surql::Table::new("users")));
/// assert_eq!(c.vars["p0"], 18.into());
/// // The inline form is for logs only:
/// assert_eq!(qs.to_surql().unwrap(), "SELECT * FROM users WHERE age >= 18 ORDER BY age DESC, name ASC LIMIT 10 START 20;");
/// ```
pub struct QuerySet<M = Untyped> {
    source: Source,
    projection: Projection,
    conds: Vec<Q>,
    order: Vec<(String, bool)>,
    limit: Option<u64>,
    start: Option<u64>,
    fetch: Vec<String>,
    hint: Option<Hint>,
    timeout: Option<Duration>,
    explain: Option<bool>,
    searches: Vec<(String, String)>,
    extras: Vec<Extra>,
    knn: Option<Knn>,
    nearby: Option<Nearby>,
    _model: PhantomData<fn() -> M>,
}

/// The row type of a [`QuerySet`] built from a table name: rows decode as whatever type
/// the caller asks for. A model's `objects()` gives a `QuerySet<Model>` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Untyped;

impl<M> Clone for QuerySet<M> {
    fn clone(&self) -> Self {
        QuerySet {
            source: self.source.clone(),
            projection: self.projection.clone(),
            conds: self.conds.clone(),
            order: self.order.clone(),
            limit: self.limit,
            start: self.start,
            fetch: self.fetch.clone(),
            hint: self.hint.clone(),
            timeout: self.timeout,
            explain: self.explain,
            searches: self.searches.clone(),
            extras: self.extras.clone(),
            knn: self.knn.clone(),
            nearby: self.nearby.clone(),
            _model: PhantomData,
        }
    }
}

impl<M> fmt::Debug for QuerySet<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuerySet")
            .field("source", &self.source)
            .field("projection", &self.projection)
            .field("conds", &self.conds)
            .field("order", &self.order)
            .field("limit", &self.limit)
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

fn to_u64_value(n: u64) -> Value {
    // LIMIT/START beyond i64 are meaningless; clamp instead of wrapping negative.
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Writes a finite float as a SurrealQL number literal that always has a decimal point.
fn push_number(out: &mut String, x: f64) {
    let s = format!("{x}");
    out.push_str(&s);
    if !s.contains('.') {
        out.push_str(".0");
    }
}

impl<M> QuerySet<M> {
    fn new(source: Source) -> Self {
        QuerySet {
            source,
            projection: Projection::All,
            conds: Vec::new(),
            order: Vec::new(),
            limit: None,
            start: None,
            fetch: Vec::new(),
            hint: None,
            timeout: None,
            explain: None,
            searches: Vec::new(),
            extras: Vec::new(),
            knn: None,
            nearby: None,
            _model: PhantomData,
        }
    }

    /// The same query with untyped rows (what subqueries, traversals and aggregates use).
    pub fn untyped(self) -> QuerySet<Untyped> {
        QuerySet {
            source: self.source,
            projection: self.projection,
            conds: self.conds,
            order: self.order,
            limit: self.limit,
            start: self.start,
            fetch: self.fetch,
            hint: self.hint,
            timeout: self.timeout,
            explain: self.explain,
            searches: self.searches,
            extras: self.extras,
            knn: self.knn,
            nearby: self.nearby,
            _model: PhantomData,
        }
    }

    /// The same query decoding rows as model `N` (its table is not changed).
    pub fn typed<N>(self) -> QuerySet<N> {
        let u = self.untyped();
        QuerySet {
            source: u.source,
            projection: u.projection,
            conds: u.conds,
            order: u.order,
            limit: u.limit,
            start: u.start,
            fetch: u.fetch,
            hint: u.hint,
            timeout: u.timeout,
            explain: u.explain,
            searches: u.searches,
            extras: u.extras,
            knn: u.knn,
            nearby: u.nearby,
            _model: PhantomData,
        }
    }
}

impl QuerySet<Untyped> {
    /// Every row of `table` (bound as a typed table value, `$t0`).
    pub fn table(table: impl Into<String>) -> Self {
        QuerySet::new(Source::Table(table.into()))
    }

    /// One record (bound as a typed record id).
    ///
    /// ```
    /// use surql::{query::QuerySet, RecordId};
    /// let c = QuerySet::record(RecordId::new("users", "ann")).compile().unwrap();
    /// assert_eq!(c.text, "SELECT * FROM $p0;");
    /// ```
    pub fn record(id: RecordId) -> Self {
        QuerySet::new(Source::Record(id))
    }
}

impl<M: crate::model::Model> QuerySet<M> {
    /// Every row of the model's table (what `M::objects()` returns).
    pub fn model() -> Self {
        QuerySet::new(Source::Table(M::META.table.to_owned()))
    }

    /// The distinct `M` records one `edge` away from record `from`, in direction `dir`
    /// (`array::distinct($p0->edge->table)`, or the `array::union` of both directions):
    /// what a relation manager selects. Filters, order and limit apply to those records.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, surql::model::Model)]
    /// # #[surql(table = "person")]
    /// # struct Person { id: Option<surql::RecordId>, age: i64 }
    /// use surql::query::{QuerySet, RelatedDir};
    /// let qs = QuerySet::<Person>::related_to(surql::RecordId::new("person", "a"), "follows", RelatedDir::Both);
    /// assert_eq!(qs.compile().unwrap().text, "SELECT * FROM array::union($p0->follows->person, $p1<-follows<-person);");
    /// ```
    pub fn related_to(from: RecordId, edge: impl Into<String>, dir: RelatedDir) -> Self {
        QuerySet::new(Source::Related {
            from,
            edge: edge.into(),
            table: M::META.table.to_owned(),
            dir,
        })
    }
}

impl<M> QuerySet<M> {
    /// The rows reached by following `path` from every row of this set. From a single
    /// record this is `$rid->edge->table`; from a table or a filtered set the start
    /// rows' paths are flattened and de-duplicated. Filters, order and limit added
    /// afterwards apply to the reached rows.
    ///
    /// ```
    /// use surql::query::{F, Path, QuerySet};
    /// let c = QuerySet::table("person").filter(F::new("name").eq("ann"))
    ///     .traverse(Path::new().out("follows").out("person")).compile().unwrap();
    /// assert_eq!(c.text, "SELECT * FROM array::distinct(array::flatten((SELECT VALUE ->follows->person FROM $t0 WHERE name = $p0)));");
    /// ```
    pub fn traverse(self, path: Path) -> QuerySet<Untyped> {
        QuerySet::new(Source::Traverse(Box::new(self.untyped()), path))
    }

    /// Keeps rows matching `q` (AND-ed with earlier filters). Accepts [`Q`], the result
    /// of an [`F`](super::F) method, or a `("field__lookup", value)` pair.
    ///
    /// ```
    /// use surql::query::QuerySet;
    /// let c = QuerySet::table("users").filter(("age__gt", 18)).filter(("name__startswith", "A")).compile().unwrap();
    /// assert_eq!(c.text, "SELECT * FROM $t0 WHERE age > $p0 AND (type::is_string(name) AND string::starts_with(name, $p1));");
    /// ```
    pub fn filter(mut self, q: impl Into<Q>) -> Self {
        self.conds.push(q.into());
        self
    }

    /// Drops rows matching `q`: `NOT (q)`.
    ///
    /// ```
    /// use surql::query::{F, QuerySet};
    /// let c = QuerySet::table("users").exclude(F::new("role").eq("bot")).compile().unwrap();
    /// assert_eq!(c.text, "SELECT * FROM $t0 WHERE NOT (role = $p0);");
    /// ```
    pub fn exclude(mut self, q: impl Into<Q>) -> Self {
        self.conds.push(!q.into());
        self
    }

    /// Selects only these fields (`SELECT a, b.c FROM …`).
    ///
    /// ```
    /// use surql::query::QuerySet;
    /// let c = QuerySet::table("users").select(["name", "address.city"]).compile().unwrap();
    /// assert_eq!(c.text, "SELECT name, address.city FROM $t0;");
    /// ```
    pub fn select<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.projection = Projection::Fields(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Alias of [`select`](QuerySet::select) (Django's `only`).
    pub fn only<I, S>(self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.select(fields)
    }

    /// `SELECT VALUE field`: a flat list of one field's values (typical for subqueries).
    pub fn select_value(mut self, field: impl Into<String>) -> Self {
        self.projection = Projection::Value(field.into());
        self
    }

    /// Orders by fields; a leading `-` sorts descending. Replaces earlier orderings.
    pub fn order_by<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.order = fields
            .into_iter()
            .map(|f| {
                let f = f.as_ref();
                match f.strip_prefix('-') {
                    Some(rest) => (rest.to_owned(), true),
                    None => (f.to_owned(), false),
                }
            })
            .collect();
        self
    }

    /// At most `n` rows (`LIMIT $pN`).
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows (`START $pN`).
    pub fn start(mut self, n: u64) -> Self {
        self.start = Some(n);
        self
    }

    /// Alias of [`start`](QuerySet::start).
    pub fn offset(self, n: u64) -> Self {
        self.start(n)
    }

    /// Replaces record links in these fields with the linked records (`FETCH a, b`).
    /// Repeated names are kept once, in first-seen order.
    ///
    /// ```
    /// use surql::query::QuerySet;
    /// let c = QuerySet::table("posts").fetch(["author", "tags"]).select_related(["author"]).compile().unwrap();
    /// assert_eq!(c.text, "SELECT * FROM $t0 FETCH author, tags;");
    /// ```
    pub fn fetch<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for f in fields {
            let f = f.into();
            if !self.fetch.contains(&f) {
                self.fetch.push(f);
            }
        }
        self
    }

    /// Alias of [`fetch`](QuerySet::fetch).
    pub fn select_related<I, S>(self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fetch(fields)
    }

    /// Returns the query plan instead of rows (`EXPLAIN`).
    ///
    /// ```
    /// use surql::query::QuerySet;
    /// assert_eq!(QuerySet::table("t").explain().compile().unwrap().text, "SELECT * FROM $t0 EXPLAIN;");
    /// assert_eq!(QuerySet::table("t").explain_full().compile().unwrap().text, "SELECT * FROM $t0 EXPLAIN FULL;");
    /// ```
    pub fn explain(mut self) -> Self {
        self.explain = Some(false);
        self
    }

    /// The plan plus execution statistics (`EXPLAIN FULL`).
    pub fn explain_full(mut self) -> Self {
        self.explain = Some(true);
        self
    }

    /// Restricts the planner to these indexes (`WITH INDEX a, b`).
    ///
    /// ```
    /// use surql::query::{F, QuerySet};
    /// let c = QuerySet::table("t").with_index(["by_age"]).filter(F::new("age").eq(3)).compile().unwrap();
    /// assert_eq!(c.text, "SELECT * FROM $t0 WITH INDEX by_age WHERE age = $p0;");
    /// assert_eq!(QuerySet::table("t").with_noindex().compile().unwrap().text, "SELECT * FROM $t0 WITH NOINDEX;");
    /// ```
    pub fn with_index<I, S>(mut self, indexes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hint = Some(Hint::Index(indexes.into_iter().map(Into::into).collect()));
        self
    }

    /// Forbids index use (`WITH NOINDEX`): a full table scan.
    pub fn with_noindex(mut self) -> Self {
        self.hint = Some(Hint::NoIndex);
        self
    }

    /// Fails the statement after `d` (`TIMEOUT $pN`, bound as a duration).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Full-text match `field @N@ $pN`; each call gets the next reference number `N`
    /// (0, 1, …), which [`search_score`](QuerySet::search_score) and
    /// [`search_highlight`](QuerySet::search_highlight) refer to. Needs a FULLTEXT index.
    ///
    /// ```
    /// use surql::query::QuerySet;
    /// let c = QuerySet::table("posts").search("title", "quantum").search("body", "physics")
    ///     .search_score(0, "s").search_highlight(1, "h", "<b>", "</b>").compile().unwrap();
    /// assert_eq!(c.text, "SELECT *, search::score(0) AS s, search::highlight($p0, $p1, 1) AS h FROM $t0 WHERE title @0@ $p2 AND body @1@ $p3;");
    /// ```
    pub fn search(mut self, field: impl Into<String>, text: impl Into<String>) -> Self {
        self.searches.push((field.into(), text.into()));
        self
    }

    /// Adds `search::score(reference) AS alias` to the selected fields.
    pub fn search_score(mut self, reference: u32, alias: impl Into<String>) -> Self {
        self.extras.push(Extra::Score {
            reference,
            alias: alias.into(),
        });
        self
    }

    /// Adds `search::highlight(pre, post, reference) AS alias` to the selected fields.
    pub fn search_highlight(
        mut self,
        reference: u32,
        alias: impl Into<String>,
        pre: impl Into<String>,
        post: impl Into<String>,
    ) -> Self {
        self.extras.push(Extra::Highlight {
            reference,
            alias: alias.into(),
            pre: pre.into(),
            post: post.into(),
        });
        self
    }

    /// K nearest neighbours by an HNSW index: `field <|k,ef|> $pN`, selecting
    /// `vector::distance::knn() AS knn_distance` and ordering by it unless
    /// [`order_by`](QuerySet::order_by) was given. `ef` defaults to 100 when `None`.
    ///
    /// ```
    /// use surql::query::{F, QuerySet};
    /// let c = QuerySet::table("docs").filter(F::new("lang").eq("en")).similar_to("embedding", vec![0.1, 0.2], 5, None).compile().unwrap();
    /// assert_eq!(c.text, "SELECT *, vector::distance::knn() AS knn_distance FROM $t0 WHERE lang = $p0 AND embedding <|5,100|> $p1 ORDER BY knn_distance ASC;");
    /// ```
    pub fn similar_to(
        mut self,
        field: impl Into<String>,
        vector: Vec<f64>,
        k: u32,
        ef: Option<u32>,
    ) -> Self {
        self.knn = Some(Knn {
            field: field.into(),
            vector,
            k,
            ef: ef.unwrap_or(100),
        });
        self
    }

    /// Rows whose geometry `field` lies within `max_distance` metres of `(lon, lat)`,
    /// selecting the distance as `geo_distance`. The coordinates are written as number
    /// literals (the server does not accept parameters inside a point tuple), so they
    /// must be finite with `lon` in -180..=180 and `lat` in -90..=90.
    ///
    /// ```
    /// use surql::query::QuerySet;
    /// let c = QuerySet::table("shops").nearby("loc", (-73.98, 40.74), 500.0).compile().unwrap();
    /// assert_eq!(c.text, "SELECT *, geo::distance(loc, (-73.98, 40.74)) AS geo_distance FROM $t0 WHERE geo::distance(loc, (-73.98, 40.74)) <= $p0;");
    /// assert!(QuerySet::table("shops").nearby("loc", (f64::NAN, 0.0), 1.0).compile().is_err());
    /// ```
    pub fn nearby(
        mut self,
        field: impl Into<String>,
        point: (f64, f64),
        max_distance: f64,
    ) -> Self {
        self.nearby = Some(Nearby {
            field: field.into(),
            lon: point.0,
            lat: point.1,
            max: max_distance,
        });
        self
    }

    // ----- compilation -----

    /// The executable form: values bound as `$p0…`, tables as `$t0…`.
    pub fn compile(&self) -> Result<CompiledQuery, QueryError> {
        let mut w = Writer::new(Mode::Bound);
        self.write_select(&mut w, CondCtx { live: false })?;
        Ok(w.finish())
    }

    /// The same statement with values written as literals: for logs and docs only.
    pub fn to_surql(&self) -> Result<String, QueryError> {
        let mut w = Writer::new(Mode::Inline);
        self.write_select(&mut w, CondCtx { live: false })?;
        Ok(w.finish().text)
    }

    pub(crate) fn write_source(&self, w: &mut Writer, ctx: CondCtx) -> Result<(), QueryError> {
        match &self.source {
            Source::Table(t) => {
                w.table(t);
                Ok(())
            }
            Source::Record(r) => {
                w.value(Value::RecordId(r.clone()));
                Ok(())
            }
            Source::Related {
                from,
                edge,
                table,
                dir,
            } => {
                check_ident("graph table", edge)?;
                check_ident("graph table", table)?;
                let hop = |w: &mut Writer, out: bool| {
                    w.value(Value::RecordId(from.clone()));
                    let arrow = if out { "->" } else { "<-" };
                    w.sql(arrow);
                    push_ident(&mut w.text, edge);
                    w.sql(arrow);
                    push_ident(&mut w.text, table);
                };
                match dir {
                    RelatedDir::Out | RelatedDir::In => {
                        w.sql("array::distinct(");
                        hop(w, *dir == RelatedDir::Out);
                        w.sql(")");
                    }
                    RelatedDir::Both => {
                        w.sql("array::union(");
                        hop(w, true);
                        w.sql(", ");
                        hop(w, false);
                        w.sql(")");
                    }
                }
                Ok(())
            }
            Source::Traverse(from, path) => {
                if let (Source::Record(r), true) = (&from.source, from.conds.is_empty()) {
                    w.value(Value::RecordId(r.clone()));
                    return path.write(w, ctx);
                }
                w.sql("array::distinct(array::flatten((SELECT VALUE ");
                path.write(w, ctx)?;
                w.sql(" FROM ");
                from.write_source(w, ctx)?;
                from.write_where(w, ctx)?;
                w.sql(")))");
                Ok(())
            }
        }
    }

    fn has_where(&self) -> bool {
        !self.conds.is_empty()
            || !self.searches.is_empty()
            || self.knn.is_some()
            || self.nearby.is_some()
    }

    fn check_nearby(n: &Nearby) -> Result<(), QueryError> {
        let ok = n.lon.is_finite()
            && n.lat.is_finite()
            && (-180.0..=180.0).contains(&n.lon)
            && (-90.0..=90.0).contains(&n.lat);
        if ok && n.max.is_finite() && n.max >= 0.0 {
            Ok(())
        } else {
            Err(QueryError::InvalidCoordinate {
                field: n.field.clone(),
                lon: n.lon,
                lat: n.lat,
                max_distance: n.max,
            })
        }
    }

    fn write_geo_distance(w: &mut Writer, n: &Nearby) -> Result<(), QueryError> {
        check_path("field", &n.field)?;
        w.sql("geo::distance(");
        push_path(&mut w.text, &n.field);
        w.sql(", (");
        push_number(&mut w.text, n.lon);
        w.sql(", ");
        push_number(&mut w.text, n.lat);
        w.sql("))");
        Ok(())
    }

    /// ` WHERE …` (filters, then full-text, KNN and geo clauses), or nothing.
    pub(crate) fn write_where(&self, w: &mut Writer, ctx: CondCtx) -> Result<(), QueryError> {
        if !self.has_where() {
            return Ok(());
        }
        w.sql(" WHERE ");
        Q::write_all(w, &self.conds, ctx)?;
        let mut first = self.conds.is_empty();
        let mut and = |w: &mut Writer| {
            if !first {
                w.sql(" AND ");
            }
            first = false;
        };
        for (i, (field, text)) in self.searches.iter().enumerate() {
            and(w);
            check_path("field", field)?;
            push_path(&mut w.text, field);
            w.sql(&format!(" @{i}@ "));
            w.value(Value::String(text.clone()));
        }
        if let Some(k) = &self.knn {
            and(w);
            check_path("field", &k.field)?;
            push_path(&mut w.text, &k.field);
            w.sql(&format!(" <|{},{}|> ", k.k, k.ef));
            w.value(Value::Array(
                k.vector.iter().map(|x| Value::Float(*x)).collect(),
            ));
        }
        if let Some(n) = &self.nearby {
            and(w);
            Self::write_geo_distance(w, n)?;
            w.sql(" <= ");
            w.value(Value::Float(n.max));
        }
        Ok(())
    }

    fn write_projection(&self, w: &mut Writer) -> Result<(), QueryError> {
        match &self.projection {
            Projection::All => w.sql("*"),
            Projection::Value(f) => {
                check_path("field", f)?;
                w.sql("VALUE ");
                push_path(&mut w.text, f);
                return Ok(());
            }
            Projection::Fields(fs) => {
                if fs.is_empty() {
                    w.sql("*");
                }
                for (i, f) in fs.iter().enumerate() {
                    if i > 0 {
                        w.sql(", ");
                    }
                    check_path("field", f)?;
                    push_path(&mut w.text, f);
                }
            }
        }
        for e in &self.extras {
            w.sql(", ");
            match e {
                Extra::Score { reference, alias } => {
                    check_ident("alias", alias)?;
                    w.sql(&format!("search::score({reference}) AS "));
                    push_ident(&mut w.text, alias);
                }
                Extra::Highlight {
                    reference,
                    alias,
                    pre,
                    post,
                } => {
                    check_ident("alias", alias)?;
                    w.sql("search::highlight(");
                    w.value(Value::String(pre.clone()));
                    w.sql(", ");
                    w.value(Value::String(post.clone()));
                    w.sql(&format!(", {reference}) AS "));
                    push_ident(&mut w.text, alias);
                }
            }
        }
        if self.knn.is_some() {
            w.sql(", vector::distance::knn() AS knn_distance");
        }
        if let Some(n) = &self.nearby {
            Self::check_nearby(n)?;
            w.sql(", ");
            Self::write_geo_distance(w, n)?;
            w.sql(" AS geo_distance");
        }
        Ok(())
    }

    fn write_hint(&self, w: &mut Writer) -> Result<(), QueryError> {
        match &self.hint {
            None => {}
            Some(Hint::NoIndex) => w.sql(" WITH NOINDEX"),
            Some(Hint::Index(ix)) => {
                if ix.is_empty() {
                    return Err(QueryError::InvalidIdent {
                        context: "index",
                        input: String::new(),
                    });
                }
                w.sql(" WITH INDEX ");
                for (i, name) in ix.iter().enumerate() {
                    if i > 0 {
                        w.sql(", ");
                    }
                    check_ident("index", name)?;
                    push_ident(&mut w.text, name);
                }
            }
        }
        Ok(())
    }

    /// The full SELECT statement, without the trailing `;`.
    pub(crate) fn write_select(&self, w: &mut Writer, ctx: CondCtx) -> Result<(), QueryError> {
        // SurrealDB 3.0 ignores ORDER BY when the FROM is a graph path (`SELECT * FROM
        // tag:db<-tagged<-post ORDER BY name` comes back unordered; 3.1 and later sort it):
        // the rows are then reached (and filtered) by an inner SELECT * and ordered, limited
        // and projected by the outer one, which every version sorts. Checked on 3.0.5 and
        // 3.3.5.
        if matches!(self.source, Source::Traverse(..) | Source::Related { .. })
            && !self.order.is_empty()
            && self.extras.is_empty()
            && self.knn.is_none()
            && self.nearby.is_none()
            && self.explain.is_none()
        {
            let mut inner = QuerySet::table("_");
            inner.source = self.source.clone();
            inner.hint = self.hint.clone();
            inner.conds = self.conds.clone();
            inner.searches = self.searches.clone();
            let mut outer = self.clone();
            outer.hint = None;
            outer.conds.clear();
            outer.searches.clear();
            // Picking fields is a third level (below), as for a table source.
            let projected = !matches!(self.projection, Projection::All);
            if projected {
                w.sql("SELECT ");
                self.write_projection(w)?;
                w.sql(" FROM (");
                outer.projection = Projection::All;
                outer.fetch.clear();
                outer.timeout = None;
            }
            w.sql("SELECT * FROM (");
            inner.write_select(w, ctx)?;
            w.sql(")");
            outer.write_order_to_tail(w)?;
            if projected {
                w.sql(")");
                self.write_tail(w)?;
            }
            return Ok(());
        }
        // SurrealDB before 3.3 refuses `SELECT a, b … ORDER BY c` ("Missing order idiom `c`
        // in statement selection"; 3.0 also `SELECT VALUE a … ORDER BY c`): the fields are then
        // picked from the ordered rows, by an outer SELECT over the inner one (which keeps its
        // order). Checked on 3.0.5, 3.2.6 and 3.3.5.
        let selected: Option<Vec<String>> = match &self.projection {
            Projection::All => None,
            Projection::Fields(fs) => Some(fs.clone()),
            Projection::Value(f) => Some(vec![f.clone()]),
        };
        if let Some(fs) = &selected {
            let unselected = self.order.iter().any(|(o, _)| !fs.contains(o));
            if unselected
                && self.extras.is_empty()
                && self.knn.is_none()
                && self.nearby.is_none()
                && self.explain.is_none()
            {
                w.sql("SELECT ");
                self.write_projection(w)?;
                w.sql(" FROM (");
                let mut inner = self.clone();
                inner.projection = Projection::All;
                inner.fetch.clear();
                inner.timeout = None;
                inner.write_select(w, ctx)?;
                w.sql(")");
                return self.write_tail(w);
            }
        }
        w.sql("SELECT ");
        self.write_projection(w)?;
        w.sql(" FROM ");
        self.write_source(w, ctx)?;
        self.write_hint(w)?;
        self.write_where(w, ctx)?;
        self.write_order_to_tail(w)
    }

    /// ` ORDER BY …`, ` LIMIT …`, ` START …` and the tail ([`Self::write_tail`]).
    fn write_order_to_tail(&self, w: &mut Writer) -> Result<(), QueryError> {
        if !self.order.is_empty() {
            w.sql(" ORDER BY ");
            for (i, (f, desc)) in self.order.iter().enumerate() {
                if i > 0 {
                    w.sql(", ");
                }
                check_path("order field", f)?;
                push_path(&mut w.text, f);
                w.sql(if *desc { " DESC" } else { " ASC" });
            }
        } else if self.knn.is_some() {
            w.sql(" ORDER BY knn_distance ASC");
        }
        // A limit no table can reach is no limit: left out (SurrealDB 4.0 refuses a LIMIT
        // of i64::MAX, 3.x accepts it; both read an absent LIMIT the same way).
        if let Some(n) = self.limit.filter(|n| *n < i64::MAX as u64) {
            w.sql(" LIMIT ");
            w.value(to_u64_value(n));
        }
        if let Some(n) = self.start {
            w.sql(" START ");
            w.value(to_u64_value(n));
        }
        self.write_tail(w)
    }

    /// FETCH, TIMEOUT and EXPLAIN, in the order the 3.3 grammar requires.
    fn write_tail(&self, w: &mut Writer) -> Result<(), QueryError> {
        if !self.fetch.is_empty() {
            w.sql(" FETCH ");
            for (i, f) in self.fetch.iter().enumerate() {
                if i > 0 {
                    w.sql(", ");
                }
                check_path("fetch field", f)?;
                push_path(&mut w.text, f);
            }
        }
        if let Some(d) = self.timeout {
            w.sql(" TIMEOUT ");
            w.value(Value::Duration(d));
        }
        match self.explain {
            Some(true) => w.sql(" EXPLAIN FULL"),
            Some(false) => w.sql(" EXPLAIN"),
            None => {}
        }
        Ok(())
    }

    /// Writes the FROM target and WHERE clause of a write statement over this set.
    fn write_target(&self, w: &mut Writer) -> Result<(), QueryError> {
        if self.knn.is_some() || self.nearby.is_some() || !self.extras.is_empty() {
            return Err(QueryError::Unsupported {
                what: "similar_to/nearby/search_score on an UPDATE or DELETE",
            });
        }
        self.write_source(w, CondCtx { live: false })
    }

    /// `UPDATE <set> MERGE $pN WHERE …;`: merges `data` (an object) into every matching
    /// row; the statement returns the updated rows.
    ///
    /// ```
    /// use surql::query::{F, QuerySet};
    /// use surql::{Object, Value};
    /// let mut data = Object::new();
    /// data.insert("active".into(), false.into());
    /// let c = QuerySet::table("users").filter(F::new("age").lt(18)).update(data).unwrap();
    /// assert_eq!(c.text, "UPDATE $t0 MERGE $p0 WHERE age < $p1;");
    /// ```
    pub fn update(&self, data: impl Into<Value>) -> Result<CompiledQuery, QueryError> {
        let data = data.into();
        if !matches!(data, Value::Object(_)) {
            return Err(QueryError::BadValue {
                field: String::new(),
                lookup: "update",
                expected: "an object to merge",
                found: data.kind(),
            });
        }
        let mut w = Writer::new(Mode::Bound);
        w.sql("UPDATE ");
        self.write_target(&mut w)?;
        w.sql(" MERGE ");
        w.value(data);
        self.write_where(&mut w, CondCtx { live: false })?;
        if let Some(d) = self.timeout {
            w.sql(" TIMEOUT ");
            w.value(Value::Duration(d));
        }
        Ok(w.finish())
    }

    /// `DELETE <set> WHERE … RETURN BEFORE;`: the statement returns the deleted rows,
    /// so the caller can count them.
    ///
    /// ```
    /// use surql::query::{F, QuerySet};
    /// let c = QuerySet::table("users").filter(F::new("active").eq(false)).delete().unwrap();
    /// assert_eq!(c.text, "DELETE $t0 WHERE active = $p0 RETURN BEFORE;");
    /// ```
    pub fn delete(&self) -> Result<CompiledQuery, QueryError> {
        let mut w = Writer::new(Mode::Bound);
        w.sql("DELETE ");
        self.write_target(&mut w)?;
        self.write_where(&mut w, CondCtx { live: false })?;
        w.sql(" RETURN BEFORE");
        if let Some(d) = self.timeout {
            w.sql(" TIMEOUT ");
            w.value(Value::Duration(d));
        }
        Ok(w.finish())
    }

    /// `LIVE SELECT … FROM $t0 WHERE …;` with bound parameters (the 3.3 server captures
    /// them at registration). Subqueries stay inline. Only a plain table source, filters,
    /// a field list and FETCH are allowed; anything else is an error.
    ///
    /// ```
    /// use surql::query::{F, QuerySet};
    /// let c = QuerySet::table("person").filter(F::new("age").gt(30)).compile_live().unwrap();
    /// assert_eq!(c.text, "LIVE SELECT * FROM $t0 WHERE age > $p0;");
    /// ```
    ///
    /// (The drivers' `qs.live(&db)` runs it and yields typed events.)
    pub fn compile_live(&self) -> Result<CompiledQuery, QueryError> {
        self.write_live(false)
    }

    /// `LIVE SELECT DIFF FROM …`: notifications carry JSON patches instead of rows.
    ///
    /// ```
    /// use surql::query::QuerySet;
    /// assert_eq!(QuerySet::table("person").compile_live_diff().unwrap().text, "LIVE SELECT DIFF FROM $t0;");
    /// ```
    pub fn compile_live_diff(&self) -> Result<CompiledQuery, QueryError> {
        self.write_live(true)
    }

    /// The table a change feed of this set reads: only a whole table has one (`SHOW CHANGES`
    /// has no WHERE clause, so a filter, an ordering or a projection would be silently
    /// ignored; they are refused instead).
    pub fn changefeed_table(&self) -> Result<&str, QueryError> {
        let Source::Table(table) = &self.source else {
            return Err(QueryError::Unsupported {
                what: "a change feed of a record or graph path (change feeds cover whole tables)",
            });
        };
        let plain = self.conds.is_empty()
            && matches!(self.projection, Projection::All)
            && self.order.is_empty()
            && self.limit.is_none()
            && self.start.is_none()
            && self.fetch.is_empty()
            && self.hint.is_none()
            && self.timeout.is_none()
            && self.explain.is_none()
            && self.searches.is_empty()
            && self.extras.is_empty()
            && self.knn.is_none()
            && self.nearby.is_none();
        if !plain {
            return Err(QueryError::Unsupported {
                what: "filters, projections, ordering or limits on a change feed (`SHOW CHANGES` reads every change of the table; filter the changes yourself)",
            });
        }
        Ok(table)
    }

    fn write_live(&self, diff: bool) -> Result<CompiledQuery, QueryError> {
        let unsupported = |what| Err(QueryError::Unsupported { what });
        if !matches!(self.source, Source::Table(_)) {
            return unsupported("LIVE SELECT from a record or graph path (filter on `id` instead)");
        }
        if !self.order.is_empty() || self.limit.is_some() || self.start.is_some() {
            return unsupported("ORDER BY/LIMIT/START in LIVE SELECT");
        }
        if self.hint.is_some()
            || self.timeout.is_some()
            || self.explain.is_some()
            || self.knn.is_some()
            || self.nearby.is_some()
            || !self.searches.is_empty()
            || !self.extras.is_empty()
        {
            return unsupported("index hints, TIMEOUT, EXPLAIN or search clauses in LIVE SELECT");
        }
        let ctx = CondCtx { live: true };
        let mut w = Writer::new(Mode::Bound);
        w.sql("LIVE SELECT ");
        if diff {
            w.sql("DIFF");
        } else {
            self.write_projection(&mut w)?;
        }
        w.sql(" FROM ");
        self.write_source(&mut w, ctx)?;
        self.write_where(&mut w, ctx)?;
        self.write_tail(&mut w)?;
        Ok(w.finish())
    }

    /// The same set in reverse order (by `id` descending when it had no order): what
    /// `last()` fetches the first row of.
    pub fn reversed(mut self) -> Self {
        if self.order.is_empty() {
            self.order.push(("id".to_owned(), true));
        } else {
            for o in &mut self.order {
                o.1 = !o.1;
            }
        }
        self
    }

    /// `UPDATE <set> SET … WHERE … RETURN VALUE id;`: applies `changes` to every matching
    /// row; the statement returns the ids of the updated rows.
    ///
    /// ```
    /// use surql::model::Changes;
    /// use surql::query::{F, QuerySet};
    /// let c = QuerySet::table("users").filter(F::new("age").lt(18))
    ///     .compile_update_set(&Changes::new().increment_path("visits", 1)).unwrap();
    /// assert_eq!(c.text, "UPDATE $t0 SET visits += $p0 WHERE age < $p1 RETURN VALUE id;");
    /// ```
    pub fn compile_update_set(
        &self,
        changes: &crate::model::Changes,
    ) -> Result<CompiledQuery, QueryError> {
        let mut w = Writer::new(Mode::Bound);
        w.sql("UPDATE ");
        self.write_target(&mut w)?;
        w.sql(" SET ");
        changes.write(&mut w)?;
        self.write_where(&mut w, CondCtx { live: false })?;
        w.sql(" RETURN VALUE id");
        if let Some(d) = self.timeout {
            w.sql(" TIMEOUT ");
            w.value(Value::Duration(d));
        }
        Ok(w.finish())
    }

    /// `DELETE <set> WHERE … RETURN VALUE id;`: the statement returns the deleted ids.
    ///
    /// ```
    /// use surql::query::{F, QuerySet};
    /// let c = QuerySet::table("users").filter(F::new("active").eq(false)).compile_delete_ids().unwrap();
    /// assert_eq!(c.text, "DELETE $t0 WHERE active = $p0 RETURN VALUE id;");
    /// ```
    pub fn compile_delete_ids(&self) -> Result<CompiledQuery, QueryError> {
        let mut w = Writer::new(Mode::Bound);
        w.sql("DELETE ");
        self.write_target(&mut w)?;
        self.write_where(&mut w, CondCtx { live: false })?;
        w.sql(" RETURN VALUE id");
        if let Some(d) = self.timeout {
            w.sql(" TIMEOUT ");
            w.value(Value::Duration(d));
        }
        Ok(w.finish())
    }

    /// ` WHERE …` of this set's filters alone (for a filter inside a graph hop).
    pub(crate) fn write_where_only(&self, w: &mut Writer) -> Result<(), QueryError> {
        self.write_where(w, CondCtx { live: false })
    }

    pub(crate) fn conds(&self) -> &[Q] {
        &self.conds
    }

    pub(crate) fn has_search_clauses(&self) -> bool {
        self.knn.is_some()
            || self.nearby.is_some()
            || !self.searches.is_empty()
            || !self.extras.is_empty()
    }
}

impl<M> fmt::Display for QuerySet<M> {
    /// The inline (log) form; an invalid query shows its error instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_surql() {
            Ok(s) => f.write_str(&s),
            Err(e) => write!(f, "<invalid query: {e}>"),
        }
    }
}
