//! The query compiler: one AST, one compiler, two sinks (bound for execution, inline for logs).
//!
//! Build a [`QuerySet`], then compile it:
//!
//! ```
//! use surql::query::{F, Q, QuerySet};
//! let qs = QuerySet::table("users")
//!     .filter(F::new("age").gte(18))
//!     .filter(F::new("name").icontains("an") | Q::lookup("role__in", surql::Value::Array(vec!["admin".into()])))
//!     .order_by(["-age"])
//!     .limit(10);
//! let c = qs.compile().unwrap();
//! assert_eq!(
//!     c.text,
//!     "SELECT * FROM $t0 WHERE age >= $p0 AND ((type::is_string(name) AND string::contains(string::lowercase(name), string::lowercase($p1))) OR role IN $p2) ORDER BY age DESC LIMIT $p3;"
//! );
//! // Send `c.text` with `c.vars` in one `query` call; the rows are statement `c.result_index`.
//! assert_eq!(c.result_index, 0);
//! ```
//!
//! ## Rules the compiler keeps
//!
//! - **Executed text never contains a user value.** Values become `$p0, $p1, …`
//!   numbered in the order the compiler meets them (deterministic); tables become typed
//!   table values `$t0, $t1, …` (one per distinct table); record ids are bound too.
//!   Exceptions required by the 3.3 grammar are numbers the API types as integers or
//!   checked floats: KNN `<|K,EF|>`, full-text reference numbers `@N@`, and geo
//!   coordinates (the server refuses parameters inside a point tuple).
//! - **Identifiers are never spliced raw**: field paths follow
//!   [`crate::escape::parse_field_path`] (`address.city`, `tags[0]`, `items[*].price`,
//!   `` `a.b` `` for a name holding path syntax); table, edge, index and alias names are
//!   any non-empty text; each name is written by [`crate::escape::escape_ident`], the
//!   server's own rule, so `first-name`, `名前`, `NaN`, `Infinity` and keywords (`value`,
//!   `select`, …) get backticks. Variable names must be plain identifiers
//!   (`[A-Za-z_][A-Za-z0-9_]*`). Anything else (an empty name, a malformed path) is a
//!   [`QueryError::InvalidIdent`] naming the input.
//! - **Subqueries** used as filter values are hoisted into `LET $sN = (…);` preludes,
//!   innermost first; the main statement comes last and its index is
//!   [`CompiledQuery::result_index`]. A set lookup (`in`, `containsany`, …) compares
//!   with the whole result; a scalar lookup with `array::first($sN)`. LIVE queries keep
//!   subqueries inline.
//! - The inline form ([`QuerySet::to_surql`], `Display`) renders values with
//!   [`Value`]'s `Display`; it is for logs and docs, never for execution.
//!
//! ## Lookups
//!
//! [`F`] methods and [`Q::lookup`] names (`"field__lookup"`) map to:
//!
//! | lookup | SurrealQL |
//! |---|---|
//! | `exact` (none) / `ne` | `f = $p` / `f != $p` |
//! | `gt` `gte` `lt` `lte` | `f > $p` … |
//! | `in` / `not_in` | `f IN $p` / `f NOT IN $p` (array, set or subquery) |
//! | `contains` / `not_contains` | `f CONTAINS $p` / `f CONTAINSNOT $p` |
//! | `containsall` `containsany` `containsnone` | `CONTAINSALL` … |
//! | `allinside` `anyinside` `noneinside` | `ALLINSIDE` … |
//! | `iexact` | `string::lowercase(f) = string::lowercase($p)` |
//! | `icontains` `istartswith` `iendswith` | `string::contains/starts_with/ends_with(string::lowercase(f), string::lowercase($p))` |
//! | `startswith` `endswith` | `string::starts_with(f, $p)` / `string::ends_with(f, $p)` |
//! | `like` `ilike` | `string::matches(f, $p)`, `%`/`_` turned into an anchored regex (`(?i)` for ilike) |
//! | `regex` `iregex` | `string::matches(f, $p)` (`(?i)` prepended for iregex) |
//!
//! Every string lookup (`iexact` through `iregex` above) is written as
//! `(type::is_string(f) AND …)`: the 3.3 server fails the whole statement when a string
//! function meets NONE, NULL or a non-string, and such a row simply does not match.
//! | `match` | `f @@ $p` |
//! | `isnull` | `true`: `(f IS NONE OR f IS NULL)`; `false`: `(f IS NOT NONE AND f IS NOT NULL)` |
//!
//! `isnull` covers both NONE (an absent field, what `Option::None` is stored as) and
//! NULL, because SurrealDB keeps them apart and a Rust caller asking "is it null?"
//! means either.
//!
//! ## Not emitted
//!
//! `PARALLEL`: the 3.3.5 SELECT grammar no longer accepts it (surrealdb-syn
//! `parser/stmt/select.rs`), so there is no `parallel()` builder.

use std::collections::BTreeMap;

use crate::value::Value;

mod aggregate;
mod decode;
mod filter;
mod graph;
mod hybrid;
pub(crate) mod ident;
mod queryset;
pub(crate) mod writer;

pub use aggregate::{Aggregate, AggregateQuery, GroupedQuery, ResultShapeError};
pub use decode::{decode_first, decode_first_cbor, decode_rows, decode_rows_cbor, RowError};
pub use filter::{Lookup, Operand, Var, F, Q};
pub use graph::Path;
pub use hybrid::HybridSearch;
pub use queryset::{QuerySet, RelatedDir, Untyped};

/// A compiled query: send `text` with `vars` and `raw_vars` in one `query` call
/// ([`client::execute`](crate::client::execute)).
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledQuery {
    /// SurrealQL text; statements end with `;`. Contains no user values.
    pub text: String,
    /// The bound variables (`p0`, `t0`, …) without the `$`.
    pub vars: BTreeMap<String, Value>,
    /// Bound variables already encoded as CBOR (the rows a model write sends), sent next to
    /// `vars` ([`Request::query_with_raw`](crate::rpc::Request::query_with_raw)).
    pub raw_vars: BTreeMap<String, crate::cbor::RawValue>,
    /// Which statement's result holds the answer (after any `LET` preludes).
    pub result_index: usize,
}

impl CompiledQuery {
    /// A single-statement query (result index 0).
    pub fn new(text: impl Into<String>, vars: BTreeMap<String, Value>) -> Self {
        CompiledQuery {
            text: text.into(),
            vars,
            raw_vars: BTreeMap::new(),
            result_index: 0,
        }
    }
}

/// Why a query could not be compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A name for the text is not acceptable: empty, a malformed field path, or a variable
    /// name that is not a plain identifier.
    #[error("invalid {context} {input:?}: names must be non-empty; a field path is names separated by `.`, each optionally followed by `[N]` or `[*]` (a name holding `.`, `[`, `]` or a backtick is written in backticks); a variable name is ASCII letters, digits and `_`, not starting with a digit")]
    InvalidIdent {
        /// What the name was used as ("field", "graph table", "index", …).
        context: &'static str,
        /// The rejected name.
        input: String,
    },
    /// A Django-style key with an unknown lookup after `__`.
    #[error("unknown lookup in {input:?}: expected `field` or `field__lookup` with lookup one of exact, ne, iexact, gt, gte, lt, lte, in, not_in, contains, not_contains, icontains, containsall, containsany, containsnone, allinside, anyinside, noneinside, startswith, istartswith, endswith, iendswith, like, ilike, regex, iregex, match, isnull (nested fields use `.`)")]
    UnknownLookup {
        /// The rejected key.
        input: String,
    },
    /// A lookup got a value of the wrong type.
    #[error("lookup `{lookup}` on field {field:?} needs {expected}, found {found}")]
    BadValue {
        /// The field.
        field: String,
        /// The lookup name.
        lookup: &'static str,
        /// What it needs.
        expected: &'static str,
        /// The kind of value given.
        found: &'static str,
    },
    /// Geo coordinates or distance that cannot be written as a valid point.
    #[error("nearby on field {field:?}: point ({lon}, {lat}) with max distance {max_distance} is invalid: coordinates must be finite with longitude in -180..=180 and latitude in -90..=90, distance finite and >= 0")]
    InvalidCoordinate {
        /// The geometry field.
        field: String,
        /// Longitude given.
        lon: f64,
        /// Latitude given.
        lat: f64,
        /// Distance given.
        max_distance: f64,
    },
    /// A graph path without hops, or a hop without a table.
    #[error("empty graph path: add at least one hop with Path::out/in_/both before filtering or traversing")]
    EmptyPath,
    /// A value given for a field could not be converted for binding.
    #[error("cannot bind the value for field {field:?}: {reason}")]
    Value {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// A combination the compiler (or the 3.3 grammar) does not support.
    #[error("unsupported query: {what}")]
    Unsupported {
        /// What was attempted.
        what: &'static str,
    },
}
