//! The database schema as data: tables, fields, indexes, events, analyzers, params,
//! functions and accesses, built from models ([`Schema::from_models`]), replayed from
//! migration files or read from a live server ([`introspect`]), and written back as exact
//! `DEFINE` / `REMOVE` statements.
//!
//! One model serves the three sources, so they can be diffed ([`diff()`]) into migration
//! operations. Every name in generated SurrealQL goes through
//! [`crate::escape::escape_ident`]; types are kept in one canonical spelling
//! ([`types::canonical_type`]: the server's `none | int` is `option<int>`), so a model and
//! the server agree on what "the same" is.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use surql::model::Model;
//! use surql::schema::Schema;
//! use surql::{Datetime, RecordId};
//!
//! #[derive(Serialize, Deserialize, Model)]
//! #[surql(table = "person", schemafull)]
//! #[surql(index(name = "person_email", fields("email"), unique))]
//! struct Person {
//!     id: Option<RecordId>,
//!     email: String,
//!     nick: Option<String>,
//!     #[surql(server = "time::now()")]
//!     created_at: Option<Datetime>,
//! }
//!
//! let schema = Schema::from_models(&[Person::META]).unwrap();
//! assert_eq!(
//!     schema.define_sql(),
//!     [
//!         "DEFINE TABLE person TYPE NORMAL SCHEMAFULL;",
//!         "DEFINE FIELD created_at ON person TYPE option<datetime> DEFAULT time::now() READONLY;",
//!         "DEFINE FIELD email ON person TYPE string;",
//!         "DEFINE FIELD nick ON person TYPE option<string>;",
//!         "DEFINE INDEX person_email ON person FIELDS email UNIQUE;",
//!     ]
//! );
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::escape::escape_ident;
use crate::model::{FieldKind, ModelMeta, TableKind};

pub mod diff;
pub mod introspect;
pub mod migrate_rows;
pub mod migrations;
pub mod parse;
pub mod types;

pub use diff::{diff, Operation};
pub use migrations::{Migration, MigrationSet};

/// Why a schema could not be built, parsed or applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError(pub String);

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SchemaError {}

impl From<SchemaError> for crate::Error {
    fn from(e: SchemaError) -> Self {
        crate::Error::Invalid {
            what: "schema".into(),
            reason: e.0,
        }
    }
}

/// A whole database schema. Maps are keyed by name, so iteration (and every statement list
/// built from it) is in a deterministic order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    /// Tables by name.
    pub tables: BTreeMap<String, Table>,
    /// `DEFINE ANALYZER`s by name.
    pub analyzers: BTreeMap<String, Analyzer>,
    /// `DEFINE PARAM`s by name (without `$`).
    pub params: BTreeMap<String, Param>,
    /// `DEFINE FUNCTION`s by name (without `fn::`).
    pub functions: BTreeMap<String, Function>,
    /// `DEFINE ACCESS … ON DATABASE`, kept as statements (the server redacts their keys,
    /// so they are not read back by introspection).
    pub accesses: BTreeMap<String, Access>,
}

/// What kind of table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableType {
    /// `TYPE NORMAL`: records, no edges.
    Normal,
    /// `TYPE ANY`: records or edges (the server's default for a plain `DEFINE TABLE t`).
    Any,
    /// `TYPE RELATION [IN a | b] [OUT c] [ENFORCED]`.
    Relation {
        /// Allowed `in` tables (empty: any).
        from: Vec<String>,
        /// Allowed `out` tables (empty: any).
        to: Vec<String>,
        /// Both ends must exist.
        enforced: bool,
    },
}

/// One permission: `NONE`, `FULL` or `WHERE <condition>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Permission {
    /// Denied (a table's default).
    #[default]
    None,
    /// Allowed.
    Full,
    /// Allowed when the condition holds.
    Where(String),
}

impl Permission {
    fn sql(&self) -> String {
        match self {
            Permission::None => "NONE".into(),
            Permission::Full => "FULL".into(),
            Permission::Where(c) => format!("WHERE {c}"),
        }
    }

    /// A model's condition: `"FULL"`/`"NONE"` (any case) are those; anything else a WHERE.
    fn from_condition(c: Option<&str>) -> Permission {
        match c.map(str::trim) {
            None => Permission::None,
            Some(c) if c.eq_ignore_ascii_case("none") => Permission::None,
            Some(c) if c.eq_ignore_ascii_case("full") => Permission::Full,
            Some(c) => Permission::Where(c.to_owned()),
        }
    }
}

/// A table's permissions, one per action.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TablePermissions {
    /// `FOR select`.
    pub select: Permission,
    /// `FOR create`.
    pub create: Permission,
    /// `FOR update`.
    pub update: Permission,
    /// `FOR delete`.
    pub delete: Permission,
}

impl TablePermissions {
    /// ` PERMISSIONS …` (empty when every action is NONE, the server's default).
    fn clause(&self) -> String {
        let all = [
            ("select", &self.select),
            ("create", &self.create),
            ("update", &self.update),
            ("delete", &self.delete),
        ];
        if all.iter().all(|(_, p)| **p == Permission::None) {
            return String::new();
        }
        if all.iter().all(|(_, p)| *p == &self.select) {
            return match &self.select {
                Permission::Full => " PERMISSIONS FULL".into(),
                p => format!(
                    " PERMISSIONS FOR select, create, update, delete {}",
                    p.sql()
                ),
            };
        }
        let parts: Vec<String> = all
            .iter()
            .filter(|(_, p)| **p != Permission::None)
            .map(|(a, p)| format!("FOR {a} {}", p.sql()))
            .collect();
        format!(" PERMISSIONS {}", parts.join(", "))
    }
}

/// A table and everything defined on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The table name (unescaped).
    pub name: String,
    /// Normal, any or relation.
    pub kind: TableType,
    /// `SCHEMAFULL` (else `SCHEMALESS`).
    pub schemafull: bool,
    /// `AS <select>`: a view.
    pub view: Option<String>,
    /// `CHANGEFEED <duration>` (canonical duration: `7d` is `1w`).
    pub changefeed: Option<String>,
    /// Permissions.
    pub permissions: TablePermissions,
    /// `COMMENT`.
    pub comment: Option<String>,
    /// Fields by path (the path as SurrealQL text, escaped: `name`, `` `first-name` ``).
    pub fields: BTreeMap<String, Field>,
    /// Indexes by name.
    pub indexes: BTreeMap<String, Index>,
    /// Events by name.
    pub events: BTreeMap<String, Event>,
}

impl Table {
    /// A normal, schemaless table with nothing defined on it.
    pub fn new(name: impl Into<String>) -> Table {
        Table {
            name: name.into(),
            kind: TableType::Normal,
            schemafull: false,
            view: None,
            changefeed: None,
            permissions: TablePermissions::default(),
            comment: None,
            fields: BTreeMap::new(),
            indexes: BTreeMap::new(),
            events: BTreeMap::new(),
        }
    }

    /// `DEFINE TABLE …;` (the table alone; see [`Table::define_all`]).
    pub fn define_sql(&self) -> String {
        self.define_with("")
    }

    /// `DEFINE TABLE OVERWRITE …;`: redefines an existing table (its fields stay).
    pub fn overwrite_sql(&self) -> String {
        self.define_with("OVERWRITE ")
    }

    fn define_with(&self, ow: &str) -> String {
        let mut s = format!("DEFINE TABLE {ow}{} TYPE ", escape_ident(&self.name));
        match &self.kind {
            TableType::Normal => s.push_str("NORMAL"),
            TableType::Any => s.push_str("ANY"),
            TableType::Relation { from, to, enforced } => {
                s.push_str("RELATION");
                if !from.is_empty() {
                    let _ = write!(s, " IN {}", ident_union(from));
                }
                if !to.is_empty() {
                    let _ = write!(s, " OUT {}", ident_union(to));
                }
                if *enforced {
                    s.push_str(" ENFORCED");
                }
            }
        }
        s.push_str(if self.schemafull {
            " SCHEMAFULL"
        } else {
            " SCHEMALESS"
        });
        if let Some(c) = &self.comment {
            let _ = write!(s, " COMMENT {}", quote_str(c));
        }
        if let Some(q) = &self.view {
            let _ = write!(s, " AS {q}");
        }
        if let Some(d) = &self.changefeed {
            let _ = write!(s, " CHANGEFEED {d}");
        }
        s.push_str(&self.permissions.clause());
        s.push(';');
        s
    }

    /// `REMOVE TABLE …;`.
    pub fn remove_sql(&self) -> String {
        format!("REMOVE TABLE {};", escape_ident(&self.name))
    }

    /// The table, then its fields, indexes and events: every statement that creates it.
    pub fn define_all(&self) -> Vec<String> {
        let mut out = vec![self.define_sql()];
        out.extend(self.fields.values().map(Field::define_sql));
        out.extend(self.indexes.values().map(Index::define_sql));
        out.extend(self.events.values().map(Event::define_sql));
        out
    }
}

/// One `DEFINE FIELD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field path as SurrealQL text (escaped: `` `first-name` ``, `address.city`).
    pub name: String,
    /// The table (unescaped).
    pub table: String,
    /// `TYPE` (canonical spelling), if any.
    pub ty: Option<String>,
    /// `FLEXIBLE` (objects only).
    pub flexible: bool,
    /// `DEFAULT <expr>`.
    pub default: Option<String>,
    /// `DEFAULT ALWAYS`.
    pub default_always: bool,
    /// `READONLY`.
    pub readonly: bool,
    /// `VALUE <expr>`.
    pub value: Option<String>,
    /// `COMPUTED <expr>`.
    pub computed: Option<String>,
    /// `ASSERT <expr>`.
    pub assert: Option<String>,
    /// `REFERENCE ON DELETE <action>` (`IGNORE`, the server's default, when only
    /// `REFERENCE` is written).
    pub reference: Option<String>,
    /// `PERMISSIONS …` when not `FULL` (the clause without the keyword).
    pub permissions: Option<String>,
    /// `COMMENT`.
    pub comment: Option<String>,
}

impl Field {
    /// A field of `table` at `path` (SurrealQL text) with nothing but its type.
    pub fn new(table: impl Into<String>, path: impl Into<String>, ty: Option<String>) -> Field {
        Field {
            name: path.into(),
            table: table.into(),
            ty: ty.map(|t| types::canonical_type(&t)),
            flexible: false,
            default: None,
            default_always: false,
            readonly: false,
            value: None,
            computed: None,
            assert: None,
            reference: None,
            permissions: None,
            comment: None,
        }
    }

    /// `DEFINE FIELD …;`.
    pub fn define_sql(&self) -> String {
        self.define_with("")
    }

    /// `DEFINE FIELD OVERWRITE …;`: replaces the field's definition.
    pub fn overwrite_sql(&self) -> String {
        self.define_with("OVERWRITE ")
    }

    fn define_with(&self, ow: &str) -> String {
        let mut s = format!(
            "DEFINE FIELD {ow}{} ON {}",
            self.name,
            escape_ident(&self.table)
        );
        if let Some(t) = &self.ty {
            let _ = write!(s, " TYPE {t}");
        }
        if self.flexible {
            s.push_str(" FLEXIBLE");
        }
        if let Some(d) = &self.default {
            let always = if self.default_always { "ALWAYS " } else { "" };
            let _ = write!(s, " DEFAULT {always}{d}");
        }
        if self.readonly {
            s.push_str(" READONLY");
        }
        if let Some(v) = &self.value {
            let _ = write!(s, " VALUE {v}");
        }
        if let Some(c) = &self.computed {
            let _ = write!(s, " COMPUTED {c}");
        }
        if let Some(a) = &self.assert {
            let _ = write!(s, " ASSERT {a}");
        }
        if let Some(r) = &self.reference {
            let _ = write!(s, " REFERENCE ON DELETE {r}");
        }
        if let Some(c) = &self.comment {
            let _ = write!(s, " COMMENT {}", quote_str(c));
        }
        if let Some(p) = &self.permissions {
            let _ = write!(s, " PERMISSIONS {p}");
        }
        s.push(';');
        s
    }

    /// `REMOVE FIELD …;`. For an `array`/`set` field also `REMOVE FIELD IF EXISTS x.* …;`:
    /// the server defines the element field `x.*` by itself and (3.3.5) leaves it behind
    /// when `x` is removed.
    pub fn remove_sql(&self) -> String {
        let table = escape_ident(&self.table);
        let mut s = format!("REMOVE FIELD {} ON {table};", self.name);
        let ty = self.ty.as_deref().unwrap_or("");
        let ty = ty.strip_prefix("option<").unwrap_or(ty);
        if ty.starts_with("array") || ty.starts_with("set") {
            let _ = write!(s, "\nREMOVE FIELD IF EXISTS {}.* ON {table};", self.name);
        }
        s
    }
}

/// What an index does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexKind {
    /// A plain index.
    Plain,
    /// `UNIQUE`.
    Unique,
    /// `FULLTEXT ANALYZER a BM25(k1,b) [HIGHLIGHTS]`.
    FullText {
        /// The analyzer.
        analyzer: String,
        /// BM25 `(k1, b)` as written (the server's default is `(1.2, 0.75)`).
        bm25: (String, String),
        /// `HIGHLIGHTS`.
        highlights: bool,
    },
    /// `HNSW DIMENSION n DIST d TYPE t EFC n M n` (the server's defaults filled in:
    /// `EUCLIDEAN`, `F32`, 150, 12).
    Hnsw {
        /// `DIMENSION`.
        dimension: u32,
        /// `DIST` (upper case).
        dist: String,
        /// `TYPE` (upper case).
        vector_type: String,
        /// `EFC`.
        efc: u32,
        /// `M`.
        m: u32,
    },
}

impl IndexKind {
    /// An HNSW index with the server's defaults for what is not given.
    pub fn hnsw(dimension: u32, dist: &str) -> IndexKind {
        IndexKind::Hnsw {
            dimension,
            dist: dist.to_ascii_uppercase(),
            vector_type: "F32".into(),
            efc: 150,
            m: 12,
        }
    }

    /// A full-text index with BM25's default parameters.
    pub fn fulltext(analyzer: &str, highlights: bool) -> IndexKind {
        IndexKind::FullText {
            analyzer: analyzer.into(),
            bm25: ("1.2".into(), "0.75".into()),
            highlights,
        }
    }
}

/// One `DEFINE INDEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// The index name (unescaped).
    pub name: String,
    /// The table (unescaped).
    pub table: String,
    /// The indexed field paths (SurrealQL text).
    pub fields: Vec<String>,
    /// Plain, unique, full-text or vector.
    pub kind: IndexKind,
    /// `COMMENT`.
    pub comment: Option<String>,
}

impl Index {
    /// `DEFINE INDEX …;`.
    pub fn define_sql(&self) -> String {
        self.define_with("")
    }

    /// `DEFINE INDEX OVERWRITE …;`.
    pub fn overwrite_sql(&self) -> String {
        self.define_with("OVERWRITE ")
    }

    fn define_with(&self, ow: &str) -> String {
        let mut s = format!(
            "DEFINE INDEX {ow}{} ON {} FIELDS {}",
            escape_ident(&self.name),
            escape_ident(&self.table),
            self.fields.join(", ")
        );
        match &self.kind {
            IndexKind::Plain => {}
            IndexKind::Unique => s.push_str(" UNIQUE"),
            IndexKind::FullText {
                analyzer,
                bm25,
                highlights,
            } => {
                let _ = write!(
                    s,
                    " FULLTEXT ANALYZER {} BM25({},{})",
                    escape_ident(analyzer),
                    bm25.0,
                    bm25.1
                );
                if *highlights {
                    s.push_str(" HIGHLIGHTS");
                }
            }
            IndexKind::Hnsw {
                dimension,
                dist,
                vector_type,
                efc,
                m,
            } => {
                let _ = write!(
                    s,
                    " HNSW DIMENSION {dimension} DIST {dist} TYPE {vector_type} EFC {efc} M {m}"
                );
            }
        }
        if let Some(c) = &self.comment {
            let _ = write!(s, " COMMENT {}", quote_str(c));
        }
        s.push(';');
        s
    }

    /// `REMOVE INDEX …;`.
    pub fn remove_sql(&self) -> String {
        format!(
            "REMOVE INDEX {} ON {};",
            escape_ident(&self.name),
            escape_ident(&self.table)
        )
    }
}

/// One `DEFINE EVENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event name (unescaped).
    pub name: String,
    /// The table (unescaped).
    pub table: String,
    /// `WHEN <condition>`.
    pub when: Option<String>,
    /// `THEN <action>` (a parenthesised statement or a `{ … }` block).
    pub then: String,
    /// `COMMENT`.
    pub comment: Option<String>,
}

impl Event {
    /// `DEFINE EVENT …;`.
    pub fn define_sql(&self) -> String {
        self.define_with("")
    }

    /// `DEFINE EVENT OVERWRITE …;`.
    pub fn overwrite_sql(&self) -> String {
        self.define_with("OVERWRITE ")
    }

    fn define_with(&self, ow: &str) -> String {
        let mut s = format!(
            "DEFINE EVENT {ow}{} ON {}",
            escape_ident(&self.name),
            escape_ident(&self.table)
        );
        if let Some(w) = &self.when {
            let _ = write!(s, " WHEN {w}");
        }
        let _ = write!(s, " THEN {}", self.then);
        if let Some(c) = &self.comment {
            let _ = write!(s, " COMMENT {}", quote_str(c));
        }
        s.push(';');
        s
    }

    /// `REMOVE EVENT …;`.
    pub fn remove_sql(&self) -> String {
        format!(
            "REMOVE EVENT {} ON {};",
            escape_ident(&self.name),
            escape_ident(&self.table)
        )
    }
}

/// One `DEFINE ANALYZER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analyzer {
    /// The analyzer name.
    pub name: String,
    /// `FUNCTION fn::…`.
    pub function: Option<String>,
    /// `TOKENIZERS` (lower case).
    pub tokenizers: Vec<String>,
    /// `FILTERS` (lower case, e.g. `snowball(english)`).
    pub filters: Vec<String>,
    /// `COMMENT`.
    pub comment: Option<String>,
}

impl Analyzer {
    /// `DEFINE ANALYZER …;`.
    pub fn define_sql(&self) -> String {
        self.define_with("")
    }

    /// `DEFINE ANALYZER OVERWRITE …;`.
    pub fn overwrite_sql(&self) -> String {
        self.define_with("OVERWRITE ")
    }

    fn define_with(&self, ow: &str) -> String {
        let mut s = format!("DEFINE ANALYZER {ow}{}", escape_ident(&self.name));
        if let Some(f) = &self.function {
            let _ = write!(s, " FUNCTION {f}");
        }
        if !self.tokenizers.is_empty() {
            let _ = write!(s, " TOKENIZERS {}", self.tokenizers.join(", "));
        }
        if !self.filters.is_empty() {
            let _ = write!(s, " FILTERS {}", self.filters.join(", "));
        }
        if let Some(c) = &self.comment {
            let _ = write!(s, " COMMENT {}", quote_str(c));
        }
        s.push(';');
        s
    }

    /// `REMOVE ANALYZER …;`.
    pub fn remove_sql(&self) -> String {
        format!("REMOVE ANALYZER {};", escape_ident(&self.name))
    }
}

/// One `DEFINE PARAM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The name, without `$`.
    pub name: String,
    /// `VALUE <expr>`.
    pub value: String,
    /// `COMMENT`.
    pub comment: Option<String>,
}

impl Param {
    /// `DEFINE PARAM …;`.
    pub fn define_sql(&self) -> String {
        self.define_with("")
    }

    /// `DEFINE PARAM OVERWRITE …;`.
    pub fn overwrite_sql(&self) -> String {
        self.define_with("OVERWRITE ")
    }

    fn define_with(&self, ow: &str) -> String {
        let mut s = format!(
            "DEFINE PARAM {ow}${} VALUE {}",
            escape_ident(&self.name),
            self.value
        );
        if let Some(c) = &self.comment {
            let _ = write!(s, " COMMENT {}", quote_str(c));
        }
        s.push(';');
        s
    }

    /// `REMOVE PARAM …;`.
    pub fn remove_sql(&self) -> String {
        format!("REMOVE PARAM ${};", escape_ident(&self.name))
    }
}

/// One `DEFINE FUNCTION` (its signature and body kept as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// The name without `fn::` (`greet`, `geo::near`).
    pub name: String,
    /// Everything after the name: `($a: int) -> int { RETURN $a + 1; }` and any
    /// `COMMENT`/`PERMISSIONS` clauses.
    pub body: String,
}

impl Function {
    /// `DEFINE FUNCTION …;`.
    pub fn define_sql(&self) -> String {
        format!("DEFINE FUNCTION fn::{}{};", self.name, self.body)
    }

    /// `DEFINE FUNCTION OVERWRITE …;`.
    pub fn overwrite_sql(&self) -> String {
        format!("DEFINE FUNCTION OVERWRITE fn::{}{};", self.name, self.body)
    }

    /// `REMOVE FUNCTION …;`.
    pub fn remove_sql(&self) -> String {
        format!("REMOVE FUNCTION fn::{};", self.name)
    }
}

/// One `DEFINE ACCESS … ON DATABASE`, kept as its statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The access name.
    pub name: String,
    /// The whole statement, without the final `;`.
    pub statement: String,
}

impl Access {
    /// The statement with its `;`.
    pub fn define_sql(&self) -> String {
        format!("{};", self.statement)
    }

    /// `REMOVE ACCESS … ON DATABASE;`.
    pub fn remove_sql(&self) -> String {
        format!("REMOVE ACCESS {} ON DATABASE;", escape_ident(&self.name))
    }
}

/// `a | b` of escaped table names.
fn ident_union(names: &[String]) -> String {
    names
        .iter()
        .map(|n| escape_ident(n).into_owned())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A single-quoted SurrealQL string (backslash escapes: the server does not read `''`).
pub fn quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// An expression with whitespace outside string literals removed and `;` before `}`
/// dropped: the server re-prints expressions (`f(a,b)` as `f(a, b)`, `{}` as `{  }`,
/// `{ x; }` as `{ x }`); this is what two spellings of one expression share.
pub fn normalize_expr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        if let Some(q) = quote {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                out.push(c);
            }
            c if c.is_whitespace() => {}
            '}' => {
                while out.ends_with(';') {
                    out.pop();
                }
                out.push('}');
            }
            c => out.push(c),
        }
    }
    while out.ends_with(';') {
        out.pop();
    }
    out
}

/// The canonical spelling of a duration (`7d` is `1w`, `36h` is `1d12h`), as the server
/// prints it; the text unchanged when it is not a duration.
pub fn canonical_duration(d: &str) -> String {
    const UNITS: [(&str, u128); 9] = [
        ("y", 365 * 86_400 * 1_000_000_000),
        ("w", 7 * 86_400 * 1_000_000_000),
        ("d", 86_400 * 1_000_000_000),
        ("h", 3_600 * 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("µs", 1_000),
        ("ns", 1),
    ];
    let mut total: u128 = 0;
    let mut rest = d.trim();
    if rest.is_empty() {
        return d.to_owned();
    }
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return d.to_owned();
        }
        let Ok(n) = rest[..digits].parse::<u128>() else {
            return d.to_owned();
        };
        rest = &rest[digits..];
        let unit = ["ms", "µs", "us", "ns", "y", "w", "d", "h", "m", "s"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        let Some(unit) = unit else {
            return d.to_owned();
        };
        rest = &rest[unit.len()..];
        let unit = if unit == "us" { "µs" } else { unit };
        let mult = UNITS.iter().find(|(u, _)| *u == unit).map(|(_, m)| *m);
        total += n * mult.unwrap_or(1);
    }
    if total == 0 {
        return "0ns".into();
    }
    let mut out = String::new();
    for (u, m) in UNITS {
        if total >= m {
            let _ = write!(out, "{}{u}", total / m);
            total %= m;
        }
    }
    out
}

impl Schema {
    /// An empty schema.
    pub fn new() -> Schema {
        Schema::default()
    }

    /// The schema of these models: one table each, a field per stored field (typed from
    /// the Rust type, or `#[surql(type = "…")]`), the declared indexes, then the models'
    /// `#[surql(define = "…")]` statements applied on top (events, full-text and vector
    /// indexes, whole `DEFINE FIELD`s replacing derived ones).
    ///
    /// Fields:
    /// - data fields: `TYPE <type>` (`Option<T>` is `option<T>`), `FLEXIBLE` for
    ///   `#[surql(flexible)]` object fields;
    /// - `#[surql(server = "expr")]`: `TYPE … DEFAULT expr READONLY` (a bare
    ///   `#[surql(server)]` gets only its type: the value comes from elsewhere);
    /// - `#[surql(computed = "expr")]`: `TYPE … COMPUTED expr` (a bare `#[surql(computed)]`
    ///   gets only its type);
    /// - on relation tables `in` and `out` are left to the server (`TYPE RELATION IN … OUT …`
    ///   defines them).
    ///
    /// Two models of one table, or a `define` statement that does not parse, are errors.
    pub fn from_models(models: &[&ModelMeta]) -> Result<Schema, SchemaError> {
        let mut schema = Schema::new();
        for m in models {
            if schema.tables.contains_key(m.table) {
                return Err(SchemaError(format!(
                    "two models use the table `{}` (the second is `{}`)",
                    m.table, m.rust_name
                )));
            }
            schema.tables.insert(m.table.to_owned(), table_of(m));
        }
        for m in models {
            for stmt in m.defines {
                let parsed = parse::parse_statements(stmt).map_err(|e| {
                    SchemaError(format!(
                        "`#[surql(define = …)]` of `{}`: {e} in `{stmt}`",
                        m.rust_name
                    ))
                })?;
                for s in parsed {
                    schema.apply(&s).map_err(|e| {
                        SchemaError(format!("`#[surql(define = …)]` of `{}`: {e}", m.rust_name))
                    })?;
                }
            }
        }
        Ok(schema)
    }

    /// Every statement that creates this schema, in dependency order: analyzers, params,
    /// functions, then each table with its fields, indexes and events, then accesses.
    pub fn define_sql(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.analyzers.values().map(Analyzer::define_sql));
        out.extend(self.params.values().map(Param::define_sql));
        out.extend(self.functions.values().map(Function::define_sql));
        for t in self.tables.values() {
            out.extend(t.define_all());
        }
        out.extend(self.accesses.values().map(Access::define_sql));
        out
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// Applies one parsed statement (a `DEFINE` replaces, a `REMOVE` deletes; other
    /// statements, such as data migrations, do not change the schema).
    pub fn apply(&mut self, stmt: &parse::Statement) -> Result<(), SchemaError> {
        use parse::Statement as S;
        let missing_table = |t: &str, what: &str| {
            SchemaError(format!(
                "{what} on table `{t}`, which is not defined before it"
            ))
        };
        match stmt {
            S::DefineTable(t, _) => {
                let fields = self.tables.remove(&t.name);
                let mut t = t.clone();
                if let Some(old) = fields {
                    t.fields = old.fields;
                    t.indexes = old.indexes;
                    t.events = old.events;
                }
                self.tables.insert(t.name.clone(), t);
            }
            S::DefineField(f, _) => {
                let t = self
                    .tables
                    .entry(f.table.clone())
                    // SurrealDB defines a missing table implicitly (schemaless, TYPE ANY).
                    .or_insert_with(|| Table {
                        kind: TableType::Any,
                        ..Table::new(f.table.clone())
                    });
                t.fields.insert(f.name.clone(), f.clone());
            }
            S::DefineIndex(i, _) => {
                let t = self
                    .tables
                    .get_mut(&i.table)
                    .ok_or_else(|| missing_table(&i.table, &format!("index `{}`", i.name)))?;
                t.indexes.insert(i.name.clone(), i.clone());
            }
            S::DefineEvent(e, _) => {
                let t = self
                    .tables
                    .get_mut(&e.table)
                    .ok_or_else(|| missing_table(&e.table, &format!("event `{}`", e.name)))?;
                t.events.insert(e.name.clone(), e.clone());
            }
            S::DefineAnalyzer(a, _) => {
                self.analyzers.insert(a.name.clone(), a.clone());
            }
            S::DefineParam(p, _) => {
                self.params.insert(p.name.clone(), p.clone());
            }
            S::DefineFunction(f, _) => {
                self.functions.insert(f.name.clone(), f.clone());
            }
            S::DefineAccess(a, _) => {
                self.accesses.insert(a.name.clone(), a.clone());
            }
            S::Remove { kind, name, table } => {
                use parse::RemoveKind as K;
                let on = table.as_ref().and_then(|t| self.tables.get_mut(t));
                match kind {
                    K::Table => {
                        self.tables.remove(name);
                    }
                    K::Field => {
                        if let Some(t) = on {
                            t.fields.remove(name);
                        }
                    }
                    K::Index => {
                        if let Some(t) = on {
                            t.indexes.remove(name);
                        }
                    }
                    K::Event => {
                        if let Some(t) = on {
                            t.events.remove(name);
                        }
                    }
                    K::Analyzer => {
                        self.analyzers.remove(name);
                    }
                    K::Param => {
                        self.params.remove(name);
                    }
                    K::Function => {
                        self.functions.remove(name);
                    }
                    K::Access => {
                        self.accesses.remove(name);
                    }
                }
            }
            S::Other(_) => {}
        }
        Ok(())
    }

    /// Applies every statement of a SurrealQL text (a migration's up section).
    pub fn apply_sql(&mut self, sql: &str) -> Result<(), SchemaError> {
        for s in parse::parse_statements(sql)? {
            self.apply(&s)?;
        }
        Ok(())
    }
}

fn table_of(m: &ModelMeta) -> Table {
    let mut t = Table::new(m.table);
    t.schemafull = m.schemafull;
    t.changefeed = m.changefeed.map(canonical_duration);
    t.permissions = TablePermissions {
        select: Permission::from_condition(m.permissions.select),
        create: Permission::from_condition(m.permissions.create),
        update: Permission::from_condition(m.permissions.update),
        delete: Permission::from_condition(m.permissions.delete),
    };
    let relation = match m.kind {
        TableKind::Normal => false,
        TableKind::Relation { from, to, enforced } => {
            t.kind = TableType::Relation {
                from: from.iter().map(|s| (*s).to_owned()).collect(),
                to: to.iter().map(|s| (*s).to_owned()).collect(),
                enforced,
            };
            true
        }
        TableKind::View { query } => {
            t.kind = TableType::Any;
            t.view = Some(query.to_owned());
            false
        }
    };
    if t.view.is_none() {
        for f in m.fields {
            if relation && (f.name == "in" || f.name == "out") {
                continue;
            }
            let ty = f
                .db_type
                .map(str::to_owned)
                .unwrap_or_else(|| types::surql_type_of(f.rust_type));
            let mut field = Field::new(m.table, escape_ident(f.name).into_owned(), Some(ty));
            field.flexible = f.flexible;
            match f.kind {
                FieldKind::Data => {}
                FieldKind::Server { value: Some(v) } => {
                    field.default = Some(v.to_owned());
                    field.readonly = true;
                }
                FieldKind::Computed { expr: Some(e) } => field.computed = Some(e.to_owned()),
                FieldKind::Server { value: None } | FieldKind::Computed { expr: None } => {}
            }
            t.fields.insert(field.name.clone(), field);
        }
    }
    for ix in m.indexes {
        t.indexes.insert(
            ix.name.to_owned(),
            Index {
                name: ix.name.to_owned(),
                table: m.table.to_owned(),
                fields: ix
                    .fields
                    .iter()
                    .map(|f| crate::escape::escape_field_path(f).unwrap_or_else(|_| (*f).into()))
                    .collect(),
                kind: if ix.unique {
                    IndexKind::Unique
                } else {
                    IndexKind::Plain
                },
                comment: None,
            },
        );
    }
    t
}

#[cfg(test)]
mod tests;
