//! Graph paths: `->edge->table`, `<-edge<-table`, `<->edge`, multi-hop, a filter at each hop.

use super::filter::{CondCtx, Q};
use super::ident::{check_ident, push_ident};
use super::writer::Writer;
use super::QueryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Out,
    In,
    Both,
}

#[derive(Debug, Clone)]
struct Step {
    dir: Dir,
    tables: Vec<String>,
    cond: Vec<Q>,
}

/// A graph path of one or more hops. Each hop names one or more tables (edges or
/// nodes); [`Path::filter`] adds a condition to the hop added last.
///
/// ```
/// use surql::query::{F, Path, QuerySet};
/// use surql::RecordId;
/// let path = Path::new().out("follows").filter(F::new("since").gt(2020)).out("person").filter(F::new("active").eq(true));
/// let c = QuerySet::record(RecordId::new("person", "alice")).traverse(path).compile().unwrap();
/// assert_eq!(c.text, "SELECT * FROM $p0->(follows WHERE since > $p1)->(person WHERE active = $p2);");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Path {
    steps: Vec<Step>,
}

impl Path {
    /// An empty path (add hops with [`out`](Path::out), [`in_`](Path::in_), [`both`](Path::both)).
    pub fn new() -> Self {
        Path::default()
    }

    fn hop(mut self, dir: Dir, tables: &[&str]) -> Self {
        self.steps.push(Step {
            dir,
            tables: tables.iter().map(|t| (*t).to_owned()).collect(),
            cond: Vec::new(),
        });
        self
    }

    /// `->table`.
    pub fn out(self, table: &str) -> Self {
        self.hop(Dir::Out, &[table])
    }

    /// `<-table`.
    pub fn in_(self, table: &str) -> Self {
        self.hop(Dir::In, &[table])
    }

    /// `<->table`.
    pub fn both(self, table: &str) -> Self {
        self.hop(Dir::Both, &[table])
    }

    /// `->(a, b)`: any of several tables in one outgoing hop.
    pub fn out_any(self, tables: &[&str]) -> Self {
        self.hop(Dir::Out, tables)
    }

    /// `<-(a, b)`: any of several tables in one incoming hop.
    pub fn in_any(self, tables: &[&str]) -> Self {
        self.hop(Dir::In, tables)
    }

    /// Adds a condition to the last hop: `->(table WHERE cond)`. On an empty path the
    /// condition is kept and reported as an error when compiled.
    pub fn filter(mut self, q: impl Into<Q>) -> Self {
        match self.steps.last_mut() {
            Some(s) => s.cond.push(q.into()),
            None => self.steps.push(Step {
                dir: Dir::Out,
                tables: Vec::new(),
                cond: vec![q.into()],
            }),
        }
        self
    }

    pub(crate) fn write(&self, w: &mut Writer, ctx: CondCtx) -> Result<(), QueryError> {
        if self.steps.is_empty() {
            return Err(QueryError::EmptyPath);
        }
        for s in &self.steps {
            if s.tables.is_empty() {
                return Err(QueryError::EmptyPath);
            }
            w.sql(match s.dir {
                Dir::Out => "->",
                Dir::In => "<-",
                Dir::Both => "<->",
            });
            let paren = s.tables.len() > 1 || !s.cond.is_empty();
            if paren {
                w.sql("(");
            }
            for (i, t) in s.tables.iter().enumerate() {
                if i > 0 {
                    w.sql(", ");
                }
                check_ident("graph table", t)?;
                push_ident(&mut w.text, t);
            }
            if !s.cond.is_empty() {
                w.sql(" WHERE ");
                Q::write_all(w, &s.cond, ctx)?;
            }
            if paren {
                w.sql(")");
            }
        }
        Ok(())
    }
}
