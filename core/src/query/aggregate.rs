//! Aggregations (`count`, `sum`, `avg`, `min`, `max` with GROUP ALL) and GROUP BY rows
//! (`values(..).annotate(..)`), with decoders that turn a statement result into the answer.

use super::filter::CondCtx;
use super::ident::{check_ident, check_path, push_ident, push_path};
use super::writer::{Mode, Writer};
use super::{CompiledQuery, QueryError, QuerySet};
use crate::value::Value;

/// An aggregate function over the rows of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aggregate {
    /// `count()`: the number of rows.
    Count,
    /// `math::sum(field)`.
    Sum(String),
    /// `math::mean(field)`.
    Avg(String),
    /// `math::min(field)`.
    Min(String),
    /// `math::max(field)`.
    Max(String),
}

impl Aggregate {
    /// `math::sum(field)`.
    pub fn sum(field: impl Into<String>) -> Self {
        Aggregate::Sum(field.into())
    }
    /// `math::mean(field)`.
    pub fn avg(field: impl Into<String>) -> Self {
        Aggregate::Avg(field.into())
    }
    /// `math::min(field)`.
    pub fn min(field: impl Into<String>) -> Self {
        Aggregate::Min(field.into())
    }
    /// `math::max(field)`.
    pub fn max(field: impl Into<String>) -> Self {
        Aggregate::Max(field.into())
    }

    fn write(&self, w: &mut Writer) -> Result<(), QueryError> {
        let (func, field) = match self {
            Aggregate::Count => {
                w.sql("count()");
                return Ok(());
            }
            Aggregate::Sum(f) => ("math::sum(", f),
            Aggregate::Avg(f) => ("math::mean(", f),
            Aggregate::Min(f) => ("math::min(", f),
            Aggregate::Max(f) => ("math::max(", f),
        };
        check_path("aggregate field", field)?;
        w.sql(func);
        push_path(&mut w.text, field);
        w.sql(")");
        Ok(())
    }

    /// The result key used by [`QuerySet::count`] and friends.
    fn key(&self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum(_) => "total",
            Aggregate::Avg(_) => "average",
            Aggregate::Min(_) => "minimum",
            Aggregate::Max(_) => "maximum",
        }
    }

    /// What an empty set yields: 0 for count and sum, NONE for avg, min and max.
    /// Whether the server's answer over no rows is a float sentinel rather than NONE.
    fn needs_row_count(&self) -> bool {
        matches!(
            self,
            Aggregate::Avg(_) | Aggregate::Min(_) | Aggregate::Max(_)
        )
    }

    fn empty(&self) -> Value {
        match self {
            Aggregate::Count | Aggregate::Sum(_) => Value::Int(0),
            _ => Value::None,
        }
    }
}

/// The alias of the row count selected next to avg/min/max.
const ROW_COUNT: &str = "rows";

/// A single aggregate over a filtered set, compiled with `GROUP ALL`.
///
/// Run [`compile`](AggregateQuery::compile), take statement
/// [`CompiledQuery::result_index`] of the response, and pass its result to
/// [`decode`](AggregateQuery::decode): an empty set gives 0 for count/sum and NONE for
/// avg/min/max.
///
/// ```
/// use surql::query::{F, QuerySet};
/// use surql::Value;
/// let agg = QuerySet::table("users").filter(F::new("age").gt(18)).sum("age");
/// assert_eq!(agg.compile().unwrap().text, "SELECT math::sum(age) AS total FROM $t0 WHERE age > $p0 GROUP ALL;");
/// assert_eq!(agg.decode(&Value::Array(vec![])).unwrap(), Value::Int(0));
/// let row: surql::Object = [("total".to_string(), Value::Int(42))].into_iter().collect();
/// assert_eq!(agg.decode(&Value::Array(vec![Value::Object(row)])).unwrap(), Value::Int(42));
/// ```
#[derive(Debug, Clone)]
pub struct AggregateQuery {
    set: QuerySet,
    agg: Aggregate,
}

/// A statement result did not have the expected shape.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unexpected {what} result: {detail}")]
pub struct ResultShapeError {
    /// Which decoder complained.
    pub what: &'static str,
    /// What was found instead.
    pub detail: String,
}

impl AggregateQuery {
    /// The executable statement.
    pub fn compile(&self) -> Result<CompiledQuery, QueryError> {
        let mut w = Writer::new(Mode::Bound);
        self.write(&mut w)?;
        Ok(w.finish())
    }

    /// The inline (log) form.
    pub fn to_surql(&self) -> Result<String, QueryError> {
        let mut w = Writer::new(Mode::Inline);
        self.write(&mut w)?;
        Ok(w.finish().text)
    }

    fn write(&self, w: &mut Writer) -> Result<(), QueryError> {
        if self.set.has_search_clauses() {
            return Err(QueryError::Unsupported {
                what: "aggregates combined with search/similar_to/nearby",
            });
        }
        let ctx = CondCtx { live: false };
        w.sql("SELECT ");
        self.agg.write(w)?;
        w.sql(" AS ");
        w.sql(self.agg.key());
        if self.agg.needs_row_count() {
            // An empty table under GROUP ALL still yields one row, with `math::mean` NaN,
            // `math::min` inf and `math::max` -inf (3.3.5); counting the rows lets `decode`
            // tell "no rows" apart from real values.
            w.sql(", count() AS ");
            w.sql(ROW_COUNT);
        }
        w.sql(" FROM ");
        self.set.write_source(w, ctx)?;
        self.set.write_where(w, ctx)?;
        w.sql(" GROUP ALL");
        Ok(())
    }

    /// The answer from the statement's raw result (`[]` or `[{key: value}]`): 0 for
    /// count/sum of no rows, NONE for avg/min/max of no rows.
    pub fn decode(&self, result: &Value) -> Result<Value, ResultShapeError> {
        let rows = result.as_array().ok_or_else(|| ResultShapeError {
            what: "aggregate",
            detail: format!("expected an array of rows, found {}", result.kind()),
        })?;
        match rows.first() {
            None => Ok(self.agg.empty()),
            Some(row) => match row.get(self.agg.key()) {
                // See `write`: over no rows the 3.3 server answers mean/min/max with
                // NaN/inf/-inf; the rows counted alongside say the set was empty.
                _ if self.agg.needs_row_count() && row.get(ROW_COUNT) == Some(&Value::Int(0)) => {
                    Ok(self.agg.empty())
                }
                Some(v) if !v.is_nullish() => Ok(v.clone()),
                _ => Ok(self.agg.empty()),
            },
        }
    }
}

/// GROUP BY rows: `values(["role"]).annotate("n", Aggregate::Count)`.
///
/// ```
/// use surql::query::{Aggregate, F, QuerySet};
/// let g = QuerySet::table("users").filter(F::new("age").gt(18)).values(["role"])
///     .annotate("n", Aggregate::Count).annotate("total", Aggregate::sum("age"));
/// assert_eq!(g.compile().unwrap().text, "SELECT role, count() AS n, math::sum(age) AS total FROM $t0 WHERE age > $p0 GROUP BY role;");
/// let all = QuerySet::table("users").values(Vec::<String>::new()).annotate("n", Aggregate::Count);
/// assert_eq!(all.compile().unwrap().text, "SELECT count() AS n FROM $t0 GROUP ALL;");
/// ```
#[derive(Debug, Clone)]
pub struct GroupedQuery {
    set: QuerySet,
    keys: Vec<String>,
    aggs: Vec<(String, Aggregate)>,
}

impl GroupedQuery {
    /// Adds `aggregate AS name` to every group row.
    pub fn annotate(mut self, name: impl Into<String>, aggregate: Aggregate) -> Self {
        self.aggs.push((name.into(), aggregate));
        self
    }

    /// The executable statement; its result is one object per group.
    pub fn compile(&self) -> Result<CompiledQuery, QueryError> {
        let mut w = Writer::new(Mode::Bound);
        self.write(&mut w)?;
        Ok(w.finish())
    }

    /// The inline (log) form.
    pub fn to_surql(&self) -> Result<String, QueryError> {
        let mut w = Writer::new(Mode::Inline);
        self.write(&mut w)?;
        Ok(w.finish().text)
    }

    fn write(&self, w: &mut Writer) -> Result<(), QueryError> {
        if self.set.has_search_clauses() {
            return Err(QueryError::Unsupported {
                what: "GROUP BY combined with search/similar_to/nearby",
            });
        }
        if self.keys.is_empty() && self.aggs.is_empty() {
            return Err(QueryError::Unsupported {
                what: "values() with no fields and no annotate()",
            });
        }
        let ctx = CondCtx { live: false };
        w.sql("SELECT ");
        let mut first = true;
        for k in &self.keys {
            if !first {
                w.sql(", ");
            }
            first = false;
            check_path("group field", k)?;
            push_path(&mut w.text, k);
        }
        for (name, agg) in &self.aggs {
            if !first {
                w.sql(", ");
            }
            first = false;
            check_ident("alias", name)?;
            agg.write(w)?;
            w.sql(" AS ");
            push_ident(&mut w.text, name);
        }
        w.sql(" FROM ");
        self.set.write_source(w, ctx)?;
        self.set.write_where(w, ctx)?;
        if self.keys.is_empty() {
            w.sql(" GROUP ALL");
        } else {
            w.sql(" GROUP BY ");
            for (i, k) in self.keys.iter().enumerate() {
                if i > 0 {
                    w.sql(", ");
                }
                push_path(&mut w.text, k);
            }
        }
        Ok(())
    }
}

impl<M> QuerySet<M> {
    fn aggregate(self, agg: Aggregate) -> AggregateQuery {
        AggregateQuery {
            set: self.untyped(),
            agg,
        }
    }

    /// `SELECT count() AS count … GROUP ALL`; decode gives an int (0 when empty).
    ///
    /// ```
    /// use surql::query::QuerySet;
    /// assert_eq!(QuerySet::table("users").count().compile().unwrap().text, "SELECT count() AS count FROM $t0 GROUP ALL;");
    /// ```
    pub fn count(self) -> AggregateQuery {
        self.aggregate(Aggregate::Count)
    }

    /// `math::sum(field) AS total`; 0 when empty.
    pub fn sum(self, field: impl Into<String>) -> AggregateQuery {
        self.aggregate(Aggregate::Sum(field.into()))
    }

    /// `math::mean(field) AS average`; NONE when empty.
    pub fn avg(self, field: impl Into<String>) -> AggregateQuery {
        self.aggregate(Aggregate::Avg(field.into()))
    }

    /// `math::min(field) AS minimum`; NONE when empty.
    pub fn min(self, field: impl Into<String>) -> AggregateQuery {
        self.aggregate(Aggregate::Min(field.into()))
    }

    /// `math::max(field) AS maximum`; NONE when empty.
    pub fn max(self, field: impl Into<String>) -> AggregateQuery {
        self.aggregate(Aggregate::Max(field.into()))
    }

    /// Groups by these fields (none: one group over everything); add aggregates with
    /// [`GroupedQuery::annotate`]. Order, limit and fetch of the set are not used.
    pub fn values<I, S>(self, fields: I) -> GroupedQuery
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        GroupedQuery {
            set: self.untyped(),
            keys: fields.into_iter().map(Into::into).collect(),
            aggs: Vec::new(),
        }
    }
}
