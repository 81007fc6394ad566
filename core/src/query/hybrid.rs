//! Hybrid search: a KNN list and a full-text list fused with reciprocal rank fusion.

use super::filter::{CondCtx, Q};
use super::ident::{check_path, push_path};
use super::writer::{Mode, Writer};
use super::{CompiledQuery, QueryError, QuerySet};
use crate::value::Value;

/// Parameters of [`QuerySet::hybrid_search`].
#[derive(Debug, Clone)]
pub struct HybridSearch {
    /// The vector field (needs an HNSW index).
    pub vector_field: String,
    /// The query vector.
    pub vector: Vec<f64>,
    /// How many nearest neighbours to take (K).
    pub vector_limit: u32,
    /// HNSW search breadth (EF).
    pub ef: u32,
    /// The text field (needs a FULLTEXT index).
    pub text_field: String,
    /// The full-text query.
    pub text_query: String,
    /// How many full-text hits to take.
    pub text_limit: u32,
    /// How many fused rows to return.
    pub limit: u32,
    /// The RRF constant k (60 is the usual choice).
    pub rrf_k: u32,
}

impl HybridSearch {
    /// Defaults: K 20, EF 100, 20 text hits, 10 results, RRF k 60.
    pub fn new(
        vector_field: impl Into<String>,
        vector: Vec<f64>,
        text_field: impl Into<String>,
        text_query: impl Into<String>,
    ) -> Self {
        HybridSearch {
            vector_field: vector_field.into(),
            vector,
            vector_limit: 20,
            ef: 100,
            text_field: text_field.into(),
            text_query: text_query.into(),
            text_limit: 20,
            limit: 10,
            rrf_k: 60,
        }
    }
}

impl<M> QuerySet<M> {
    /// Reciprocal-rank fusion of a KNN search and a full-text search over this set
    /// (its filters apply to both lists). The result (statement
    /// [`CompiledQuery::result_index`]) is an array of rows, each with `rrf_score`,
    /// best first, as computed by the server's `search::rrf`.
    ///
    /// ```
    /// use surql::query::{HybridSearch, QuerySet};
    /// let c = QuerySet::table("docs").hybrid_search(&HybridSearch::new("emb", vec![0.5], "body", "rust")).unwrap();
    /// assert_eq!(c.text, "LET $s0 = (SELECT id, vector::distance::knn() AS distance FROM $t0 WHERE emb <|20,100|> $p0 ORDER BY distance ASC); \
    /// LET $s1 = (SELECT id, search::score(0) AS score FROM $t0 WHERE body @0@ $p1 ORDER BY score DESC LIMIT $p2); \
    /// RETURN search::rrf([$s0, $s1], $p3, $p4);");
    /// assert_eq!(c.result_index, 2);
    /// ```
    pub fn hybrid_search(&self, h: &HybridSearch) -> Result<CompiledQuery, QueryError> {
        let mut w = Writer::new(Mode::Bound);
        self.write_hybrid(&mut w, h)?;
        Ok(w.finish())
    }

    fn write_hybrid(&self, w: &mut Writer, h: &HybridSearch) -> Result<(), QueryError> {
        if self.has_search_clauses() {
            return Err(QueryError::Unsupported {
                what: "hybrid_search on a set that already has search/similar_to/nearby",
            });
        }
        check_path("field", &h.vector_field)?;
        check_path("field", &h.text_field)?;
        let ctx = CondCtx { live: false };
        let conds: &[Q] = self.conds();
        let vec_name = w.let_statement(|w| -> Result<(), QueryError> {
            w.sql("SELECT id, vector::distance::knn() AS distance FROM ");
            self.write_source(w, ctx)?;
            w.sql(" WHERE ");
            if !conds.is_empty() {
                Q::write_all(w, conds, ctx)?;
                w.sql(" AND ");
            }
            push_path(&mut w.text, &h.vector_field);
            w.sql(&format!(" <|{},{}|> ", h.vector_limit, h.ef));
            w.value(Value::Array(
                h.vector.iter().map(|x| Value::Float(*x)).collect(),
            ));
            w.sql(" ORDER BY distance ASC");
            Ok(())
        })?;
        let fts_name = w.let_statement(|w| -> Result<(), QueryError> {
            w.sql("SELECT id, search::score(0) AS score FROM ");
            self.write_source(w, ctx)?;
            w.sql(" WHERE ");
            if !conds.is_empty() {
                Q::write_all(w, conds, ctx)?;
                w.sql(" AND ");
            }
            push_path(&mut w.text, &h.text_field);
            w.sql(" @0@ ");
            w.value(Value::String(h.text_query.clone()));
            w.sql(" ORDER BY score DESC LIMIT ");
            w.value(Value::Int(h.text_limit.into()));
            Ok(())
        })?;
        w.sql(&format!("RETURN search::rrf([${vec_name}, ${fts_name}], "));
        w.value(Value::Int(h.limit.into()));
        w.sql(", ");
        w.value(Value::Int(h.rrf_k.into()));
        w.sql(")");
        Ok(())
    }
}
