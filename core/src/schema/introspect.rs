//! Reading a live database's schema (`INFO FOR DB`, then `INFO FOR TABLE` of every table)
//! into a [`Schema`], and generating `#[derive(Model)]` source from one (`inspectdb`).
//!
//! What the server adds by itself is left out, so a schema read back compares equal to the
//! one that was defined: the `x.*` / `x[*]` element fields it defines for `array`/`set`
//! fields, the `in`/`out` fields of relation tables, and surql's own `_surql_*` tables.
//! Accesses are not read back (the server redacts their keys).

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{parse, types, Field, IndexKind, Permission, Schema, SchemaError, Table, TableType};
use crate::client::{self, QueryResponse};
use crate::error::Error;
use crate::op::{Operation, Step};
use crate::rpc::Payload;
use crate::value::{Object, Value};

/// The operation that reads the current database's schema: `db.perform(introspect())`.
pub fn introspect() -> Introspect {
    Introspect {
        state: State::Start,
        schema: Schema::new(),
        tables: Vec::new(),
    }
}

/// The operation of [`introspect`]: two round trips.
#[derive(Debug)]
pub struct Introspect {
    state: State,
    schema: Schema,
    tables: Vec<String>,
}

#[derive(Debug)]
enum State {
    Start,
    Db,
    Tables,
    Spent,
}

fn statements(info: &Value, key: &str) -> Vec<String> {
    match info.get(key) {
        Some(Value::Object(o)) => o
            .values()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn schema_err(e: SchemaError) -> Error {
    Error::Decode {
        context: "the schema from INFO FOR".into(),
        detail: e.0,
    }
}

impl Introspect {
    fn read_db(&mut self, info: &Value) -> Result<(), SchemaError> {
        for key in ["analyzers", "params", "functions", "tables"] {
            for s in statements(info, key) {
                let st = parse::parse_statement(&s)?;
                if let parse::Statement::DefineTable(t, _) = &st {
                    if t.name.starts_with("_surql_") {
                        continue;
                    }
                    self.tables.push(t.name.clone());
                }
                self.schema.apply(&st)?;
            }
        }
        Ok(())
    }

    fn read_table(&mut self, info: &Value) -> Result<(), SchemaError> {
        for key in ["fields", "indexes", "events"] {
            for s in statements(info, key) {
                self.schema.apply(&parse::parse_statement(&s)?)?;
            }
        }
        Ok(())
    }
}

/// Removes what the server defines by itself (see the module docs).
pub fn strip_server_defaults(schema: &mut Schema) {
    for t in schema.tables.values_mut() {
        let relation = matches!(t.kind, TableType::Relation { .. });
        let parents: BTreeMap<String, String> = t
            .fields
            .iter()
            .map(|(k, f)| (k.clone(), f.ty.clone().unwrap_or_default()))
            .collect();
        t.fields.retain(|name, _| {
            if relation && (name == "in" || name == "out") {
                return false;
            }
            for suffix in [".*", "[*]"] {
                if let Some(parent) = name.strip_suffix(suffix) {
                    let ty = parents.get(parent).map(String::as_str).unwrap_or("");
                    let ty = ty.trim_start_matches("option<");
                    if ty.starts_with("array") || ty.starts_with("set") {
                        return false;
                    }
                }
            }
            true
        });
    }
}

impl Operation for Introspect {
    type Output = Schema;

    fn step(&mut self, answer: Option<Result<Payload, Error>>) -> Step<Schema> {
        match (std::mem::replace(&mut self.state, State::Spent), answer) {
            (State::Start, None) => {
                self.state = State::Db;
                Step::Send(client::query("INFO FOR DB;", Object::new()).into_parts().0)
            }
            (State::Db, Some(Ok(p))) => {
                let info = match QueryResponse::from_payload(p)
                    .map_err(Error::from)
                    .and_then(|mut r| r.take::<Value>(0).map_err(Error::from))
                {
                    Ok(v) => v,
                    Err(e) => return Step::Done(Err(e)),
                };
                if let Err(e) = self.read_db(&info) {
                    return Step::Done(Err(schema_err(e)));
                }
                if self.tables.is_empty() {
                    return Step::Done(Ok(std::mem::take(&mut self.schema)));
                }
                let text: String = self
                    .tables
                    .iter()
                    .map(|t| format!("INFO FOR TABLE {};", crate::escape::escape_ident(t)))
                    .collect::<Vec<_>>()
                    .join(" ");
                self.state = State::Tables;
                Step::Send(client::query(&text, Object::new()).into_parts().0)
            }
            (State::Tables, Some(Ok(p))) => {
                let mut resp = match QueryResponse::from_payload(p) {
                    Ok(r) => r,
                    Err(e) => return Step::Done(Err(e.into())),
                };
                for i in 0..self.tables.len() {
                    let info = match resp.take::<Value>(i) {
                        Ok(v) => v,
                        Err(e) => return Step::Done(Err(e.into())),
                    };
                    if let Err(e) = self.read_table(&info) {
                        return Step::Done(Err(schema_err(e)));
                    }
                }
                // Keep only the tables INFO FOR DB listed (the tracking table is not one).
                self.schema.tables.retain(|k, _| !k.starts_with("_surql_"));
                let mut schema = std::mem::take(&mut self.schema);
                strip_server_defaults(&mut schema);
                Step::Done(Ok(schema))
            }
            (State::Db | State::Tables, Some(Err(e))) => Step::Done(Err(e)),
            _ => Step::Done(Err(Error::Protocol(
                "introspection was stepped after it finished (a driver bug)".into(),
            ))),
        }
    }
}

// --- inspectdb --------------------------------------------------------------------------

const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async",
    "await", "dyn", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
    "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// The Rust type generated for a SurrealQL type (the derive maps it back; when the round
/// trip would not give the same type, the field also gets `#[surql(type = "…")]`).
fn rust_type_for(ty: &str) -> String {
    let ty = types::canonical_type(ty);
    if let Some(inner) = ty.strip_prefix("option<").and_then(|r| r.strip_suffix('>')) {
        let r = rust_type_for(inner);
        return if r == "Value" {
            r
        } else {
            format!("Option<{r}>")
        };
    }
    let (name, arg) = match ty.find('<') {
        Some(i) => (&ty[..i], Some(&ty[i + 1..ty.len() - 1])),
        None => (ty.as_str(), None),
    };
    match name {
        "string" => "String".into(),
        "int" => "i64".into(),
        "float" | "number" => "f64".into(),
        "bool" => "bool".into(),
        "datetime" => "Datetime".into(),
        "duration" => "Duration".into(),
        "decimal" => "Decimal".into(),
        "uuid" => "Uuid".into(),
        "record" => "RecordId".into(),
        "geometry" => "Geometry".into(),
        "object" => "Object".into(),
        "array" | "set" => {
            let elem = arg
                .map(|a| types::split_top(a, ',')[0].to_owned())
                .unwrap_or_else(|| "any".into());
            format!("Vec<{}>", rust_type_for(&elem))
        }
        _ => "Value".into(),
    }
}

fn pascal(s: &str) -> String {
    let mut out = String::new();
    let mut up = true;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if up {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            up = false;
        } else {
            up = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

/// A Rust field name for a stored name, and whether it needs `#[serde(rename)]`.
fn rust_field(name: &str) -> (String, bool) {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !name.is_empty();
    if plain {
        if RUST_KEYWORDS.contains(&name) {
            if matches!(name, "crate" | "self" | "super") {
                return (format!("{name}_"), true);
            }
            return (format!("r#{name}"), false);
        }
        return (name.to_owned(), false);
    }
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let mut out = out.trim_matches('_').to_owned();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "f_");
    }
    if RUST_KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    (out, true)
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

/// A field the derive can express with its own attributes: its path is one key and it is
/// a plain typed field, a `server` field (`DEFAULT … READONLY`) or a `computed` one.
enum FieldShape {
    Data,
    Server(String),
    Computed(String),
}

fn field_shape(f: &Field) -> Option<FieldShape> {
    f.ty.as_ref()?;
    let plain = f.assert.is_none()
        && f.value.is_none()
        && f.reference.is_none()
        && f.permissions.is_none()
        && f.comment.is_none()
        && !f.default_always;
    if !plain {
        return None;
    }
    match (&f.default, f.readonly, &f.computed) {
        (None, false, None) => Some(FieldShape::Data),
        (Some(d), true, None) => Some(FieldShape::Server(d.clone())),
        (None, false, Some(c)) => Some(FieldShape::Computed(c.clone())),
        _ => None,
    }
}

/// The single key a field path names, if it is one key (`` `first-name` `` → `first-name`).
fn single_key(path: &str) -> Option<String> {
    match crate::escape::parse_field_path(path).ok()?.as_slice() {
        [crate::escape::PathPart::Field(k)] => Some(k.to_string()),
        _ => None,
    }
}

fn perm_attr(p: &Permission) -> Option<String> {
    match p {
        Permission::None => None,
        Permission::Full => Some("FULL".into()),
        Permission::Where(c) => Some(c.clone()),
    }
}

/// Rust source of one `#[derive(Model)]` struct per table, such that
/// `Schema::from_models` of the generated models equals `schema` (what the attributes
/// cannot say — full-text and vector indexes, events, asserts, references, comments,
/// `TYPE ANY` tables — is carried by `#[surql(define = "…")]`). Analyzers, params and
/// functions are listed in a `DEFINES` constant to apply with [`Schema::apply_sql`].
pub fn generate_models(schema: &Schema) -> String {
    let mut s = String::new();
    s.push_str(
        "//! Models generated by `surql inspectdb` from the database's schema.\n\
         #![allow(dead_code, unused_imports)]\n\n\
         use serde::{Deserialize, Serialize};\n\
         use surql::model::Model;\n\
         use surql::{Datetime, Decimal, Duration, Geometry, Object, RecordId, Uuid, Value};\n\n",
    );
    let db_level: Vec<String> = schema
        .analyzers
        .values()
        .map(|a| a.define_sql())
        .chain(schema.params.values().map(|p| p.define_sql()))
        .chain(schema.functions.values().map(|f| f.define_sql()))
        .collect();
    s.push_str("/// Database-level definitions (analyzers, params, functions), in order.\n");
    s.push_str("pub const DEFINES: &[&str] = &[");
    for d in &db_level {
        let _ = write!(s, "\n    {},", lit(d));
    }
    if !db_level.is_empty() {
        s.push('\n');
    }
    s.push_str("];\n");
    let mut names = Vec::new();
    for t in schema.tables.values() {
        s.push('\n');
        let name = pascal(&t.name);
        names.push(name.clone());
        s.push_str(&generate_table(t, &name));
    }
    s.push_str("\n/// Every generated model's metadata.\n");
    s.push_str("pub const MODELS: &[&surql::model::ModelMeta] = &[");
    for n in &names {
        let _ = write!(s, "\n    <{n} as Model>::META,");
    }
    if !names.is_empty() {
        s.push('\n');
    }
    s.push_str("];\n");
    s
}

fn generate_table(t: &Table, name: &str) -> String {
    let mut attrs: Vec<String> = Vec::new();
    let mut defines: Vec<String> = Vec::new();
    let mut head = vec![format!("table = {}", lit(&t.name))];
    if t.schemafull {
        head.push("schemafull".into());
    }
    if let Some(c) = &t.changefeed {
        head.push(format!("changefeed = {}", lit(c)));
    }
    attrs.push(head.join(", "));
    let expressible = t.comment.is_none()
        && match (&t.kind, &t.view) {
            (TableType::Any, Some(_)) => !t.schemafull && t.changefeed.is_none(),
            (TableType::Any, None) => false,
            (_, Some(_)) => false,
            _ => true,
        };
    if expressible {
        if let Some(v) = &t.view {
            attrs.push(format!("view = {}", lit(v)));
        }
        if let TableType::Relation { from, to, enforced } = &t.kind {
            let list = |v: &[String]| {
                format!(
                    "[{}]",
                    v.iter().map(|x| lit(x)).collect::<Vec<_>>().join(", ")
                )
            };
            let mut parts = Vec::new();
            if !from.is_empty() {
                parts.push(format!("in = {}", list(from)));
            }
            if !to.is_empty() {
                parts.push(format!("out = {}", list(to)));
            }
            if *enforced {
                parts.push("enforced".into());
            }
            attrs.push(if parts.is_empty() {
                "relation".into()
            } else {
                format!("relation({})", parts.join(", "))
            });
        }
        let p = &t.permissions;
        let perms: Vec<String> = [
            ("select", &p.select),
            ("create", &p.create),
            ("update", &p.update),
            ("delete", &p.delete),
        ]
        .iter()
        .filter_map(|(a, p)| perm_attr(p).map(|c| format!("{a} = {}", lit(&c))))
        .collect();
        if !perms.is_empty() {
            attrs.push(format!("permissions({})", perms.join(", ")));
        }
    } else {
        // The table itself as a statement: `define` replaces the derived table.
        defines.push(t.define_sql());
    }
    for ix in t.indexes.values() {
        let keys: Option<Vec<String>> = ix.fields.iter().map(|f| single_key(f)).collect();
        match (&ix.kind, ix.comment.is_none(), keys) {
            (IndexKind::Plain | IndexKind::Unique, true, Some(fields)) => {
                let fields: Vec<String> = fields.iter().map(|f| lit(f)).collect();
                let unique = if ix.kind == IndexKind::Unique {
                    ", unique"
                } else {
                    ""
                };
                attrs.push(format!(
                    "index(name = {}, fields({}){unique})",
                    lit(&ix.name),
                    fields.join(", ")
                ));
            }
            _ => defines.push(ix.define_sql()),
        }
    }
    for e in t.events.values() {
        defines.push(e.define_sql());
    }
    let mut fields_src = String::new();
    let relation = matches!(t.kind, TableType::Relation { .. });
    if relation {
        fields_src.push_str("    pub r#in: Option<RecordId>,\n    pub out: Option<RecordId>,\n");
    }
    for f in t.fields.values() {
        let key = single_key(&f.name);
        let shape = field_shape(f);
        let (Some(key), Some(shape)) = (key.clone(), shape) else {
            // Not expressible by attributes: the whole statement, plus a struct field when
            // the path is one key.
            defines.push(f.define_sql());
            if let Some(key) = key {
                if key != "id" {
                    let ty =
                        f.ty.as_deref()
                            .map(rust_type_for)
                            .unwrap_or_else(|| "Value".into());
                    fields_src.push_str(&field_src(&key, &ty, &[]));
                }
            }
            continue;
        };
        if key == "id" {
            defines.push(f.define_sql());
            continue;
        }
        // a field defined without TYPE holds `any`
        let ty = f.ty.clone().unwrap_or_else(|| "any".to_owned());
        let rust = rust_type_for(&ty);
        let mut fattrs = Vec::new();
        match shape {
            FieldShape::Data => {}
            FieldShape::Server(d) => fattrs.push(format!("server = {}", lit(&d))),
            FieldShape::Computed(c) => fattrs.push(format!("computed = {}", lit(&c))),
        }
        if f.flexible {
            fattrs.push("flexible".into());
        }
        if types::surql_type_of(&rust) != ty {
            fattrs.push(format!("type = {}", lit(&ty)));
        }
        fields_src.push_str(&field_src(&key, &rust, &fattrs));
    }
    let mut s = String::new();
    let _ = writeln!(s, "/// Table `{}`.", t.name);
    s.push_str("#[derive(Debug, Clone, Serialize, Deserialize, Model)]\n");
    for a in attrs {
        let _ = writeln!(s, "#[surql({a})]");
    }
    for d in defines {
        let _ = writeln!(s, "#[surql(define = {})]", lit(d.trim_end_matches(';')));
    }
    let _ = writeln!(s, "pub struct {name} {{");
    s.push_str("    pub id: Option<RecordId>,\n");
    s.push_str(&fields_src);
    s.push_str("}\n");
    s
}

fn field_src(key: &str, rust: &str, surql_attrs: &[String]) -> String {
    let (ident, rename) = rust_field(key);
    let mut s = String::new();
    if rename {
        let _ = writeln!(s, "    #[serde(rename = {})]", lit(key));
    }
    if rust.starts_with("Option<") {
        s.push_str("    #[serde(default)]\n");
    }
    if !surql_attrs.is_empty() {
        let _ = writeln!(s, "    #[surql({})]", surql_attrs.join(", "));
    }
    let _ = writeln!(s, "    pub {ident}: {rust},");
    s
}
