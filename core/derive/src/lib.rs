//! `#[derive(Model)]` for surql: maps a serde struct to a SurrealDB table.
//!
//! The derive implements `surql::model::Model` (re-exported as `surql::model::Model`, the
//! trait and the derive share the name) and generates a `<Name>Fields` struct of typed
//! field handles. The struct must also derive serde's `Serialize` and `Deserialize`: the
//! derive reads serde's `rename`, `rename_all`, `skip*` and `flatten` attributes so the
//! names it records are the names serde writes.
//!
//! ```text
//! use serde::{Deserialize, Serialize};
//! use surql::model::Model;
//! use surql::{Datetime, RecordId};
//!
//! #[derive(Debug, Serialize, Deserialize, Model)]
//! #[surql(table = "person")]
//! struct Person {
//!     id: Option<RecordId>,
//!     name: String,
//!     age: i64,
//!     #[surql(server = "time::now()")]
//!     created_at: Option<Datetime>,
//! }
//!
//! let f = Person::fields();          // PersonFields { id, name, age, created_at }
//! let q = Person::objects().filter(f.age.gt(18));
//! assert_eq!(Person::META.table, "person");
//! ```
//!
//! # What is generated
//!
//! * `impl Model for Person`: `type Key` (the `K` of the id field's `Option<K>`),
//!   `type Fields = PersonFields`, `const META: &ModelMeta` (table, kind, id field, fields,
//!   schema hints), `fn key(&self)` (the id field, by reference) and `fn fields()`.
//! * `struct PersonFields`, with the struct's own visibility: one public handle
//!   `Field<Person, T>` per stored field, named like the Rust field. `T` is the field's
//!   type with one outer `Option<…>` removed (`Option<i64>` gives `Field<Person, i64>`;
//!   `std::option::Option` and `core::option::Option` are recognised too, a type alias of
//!   `Option` is not). The id's handle is always `Field<Person, surql::RecordId>`, whatever
//!   the key type: the stored id is a record id. The struct is `Clone`, `Copy` and
//!   `Debug`. A type called `PersonFields` must not already exist in the same module.
//!
//! # The id field
//!
//! Every model has exactly one id field: the field named `id`, or the field marked
//! `#[surql(id)]`. Its type is `Option<K>` (`None` until the server assigns the id), where
//! `K` is the key type: `RecordId`, `RecordIdKey`, `i64`, `String` or `Uuid` (any
//! `surql::model::ModelKey`).
//!
//! ```text
//! struct Tag {
//!     #[surql(id)]
//!     #[serde(rename = "id")]
//!     slug: Option<String>,     // Tag::Key = String
//!     label: String,
//! }
//! ```
//!
//! The id must be stored under the name `id`: with `rename_all = "PascalCase"` (which
//! would store it as `Id`) add `#[serde(rename = "id")]` to it. It cannot be
//! `#[serde(skip)]`, `skip_deserializing` or `flatten` (it is always read back);
//! `skip_serializing` and `skip_serializing_if` are fine (writes never send the id in
//! the data anyway). The id is not listed in `META.fields`; `META.id_field` is `"id"`.
//!
//! # Container attributes
//!
//! They may be split over several `#[surql(...)]` attributes; each key may appear once,
//! except `index`.
//!
//! | attribute | meaning |
//! | --- | --- |
//! | `table = "person"` | the table name; default: the struct's name as written (`Person`) |
//! | `crate = "path"` | the path of the core crate in the generated code; default `::surql` |
//! | `schemafull` | `SCHEMAFULL` table (schemaless otherwise) |
//! | `changefeed = "7d"` | `CHANGEFEED 7d` |
//! | `connection = "analytics"` | the named connection the model uses by default (see the drivers' `Connections`) |
//! | `view = "SELECT …"` | a read-only view: `TableKind::View { query }` |
//! | `relation` | a relation (edge) table, any `in` and `out` |
//! | `relation(in = "person", out = "post")` | a relation between these tables |
//! | `relation(in = ["a", "b"], out = "c", enforced)` | several tables, `ENFORCED` |
//! | `permissions(select = "…", create = "…", update = "…", delete = "…")` | table permissions, each a SurrealQL condition; any subset |
//! | `index(name = "…", fields("a", "b"), unique)` | an index (repeatable); `unique` is optional; `fields = ["a", "b"]` is accepted too |
//! | `define = "DEFINE …"` | an extra schema statement of this table (repeatable): an event, an index of any kind (full-text, HNSW), or a whole `DEFINE FIELD` that replaces the one derived for that field (asserts, defaults, `REFERENCE`); read by `surql::schema` |
//!
//! ```text
//! #[derive(Serialize, Deserialize, Model)]
//! #[surql(table = "likes", relation(in = "person", out = ["post", "comment"], enforced))]
//! #[surql(schemafull, changefeed = "7d")]
//! #[surql(permissions(select = "true", update = "in = $auth.id", delete = "in = $auth.id"))]
//! #[surql(index(name = "likes_when", fields("at")))]
//! #[surql(index(name = "likes_pair", fields("in", "out"), unique))]
//! struct Likes {
//!     id: Option<RecordId>,
//!     #[serde(rename = "in")]
//!     from: RecordId,
//!     #[serde(rename = "out")]
//!     to: RecordId,
//!     at: Datetime,
//! }
//!
//! #[derive(Serialize, Deserialize, Model)]
//! #[surql(table = "adults", view = "SELECT * FROM person WHERE age >= 18")]
//! struct Adult {
//!     id: Option<RecordId>,
//!     name: String,
//! }
//!
//! // The core crate under another path (a driver that re-exports it):
//! #[derive(Serialize, Deserialize, Model)]
//! #[surql(crate = "surql_smol::surql")]
//! struct Note {
//!     id: Option<RecordId>,
//!     text: String,
//! }
//! ```
//!
//! `table`, `changefeed`, `view`, permission conditions, index names and index fields must
//! not be empty. `view` and `relation` exclude each other. The fields of an index are
//! database names (after renaming); each must be one of the model's fields, or a path into
//! one (`"address.city"` when `address` is a field). When the struct has a
//! `#[serde(flatten)]` field, index field names that match no field are accepted (they may
//! be fields of the flattened struct).
//!
//! # Field attributes
//!
//! | attribute | meaning |
//! | --- | --- |
//! | `id` | this field is the id (when it is not named `id`) |
//! | `server` | set by the server (a `DEFAULT`/`VALUE`): never written, read back |
//! | `server = "time::now()"` | the same, with the server expression for the schema layer |
//! | `computed` | computed by the server on read: read-only |
//! | `computed = "expr"` | the same, with the expression for the schema layer |
//! | `flexible` | an object field that accepts any keys on a `SCHEMAFULL` table |
//! | `type = "record<person>"` | the field's SurrealQL type, instead of the one `surql::schema` derives from the Rust type |
//!
//! ```text
//! struct Post {
//!     id: Option<RecordId>,
//!     title: String,
//!     #[surql(server = "time::now()")]
//!     created_at: Option<Datetime>,
//!     #[surql(computed = "string::len(title)")]
//!     title_len: Option<i64>,
//!     #[surql(flexible)]
//!     extra: Object,
//! }
//! ```
//!
//! A field is `server` or `computed`, not both; these attributes do not apply to the id.
//!
//! # serde attributes
//!
//! * `#[serde(rename = "x")]` on a field: the field is stored as `x`; its handle keeps the
//!   Rust name (`Person::fields().first_name` for `#[serde(rename = "first-name")]`).
//!   `rename(serialize = "a", deserialize = "b")` is refused unless both are equal: a model
//!   reads back what it writes.
//! * `#[serde(rename_all = "…")]` on the struct: every serde case (`lowercase`,
//!   `UPPERCASE`, `PascalCase`, `camelCase`, `snake_case`, `SCREAMING_SNAKE_CASE`,
//!   `kebab-case`, `SCREAMING-KEBAB-CASE`), converted exactly as serde does. Raw
//!   identifiers lose their `r#` (`r#type` is stored as `type`).
//! * `#[serde(skip)]` and `#[serde(skip_serializing)]` fields are not stored: they get no
//!   handle and no `FieldMeta`. `skip_deserializing` fields are stored (written, not read)
//!   and are kept.
//! * `#[serde(flatten)]` fields get no handle and no `FieldMeta`: their inner fields are
//!   not known to the derive. Query them with the untyped `F::new("inner")`.
//! * Other serde attributes (`default`, `alias`, `with`, `skip_serializing_if`, …) do
//!   not change what the derive generates.
//!
//! # Not supported
//!
//! Enums, unions, tuple and unit structs, and generic structs (type, lifetime or const
//! parameters) are refused with a compile error.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashSet;
use std::fmt::Display;

use proc_macro2::{Group, Ident, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Data, DeriveInput, Fields, GenericArgument, LitStr, Path, PathArguments, Token,
    Type, Visibility, WhereClause,
};

/// Implements `surql::model::Model` for a serde struct and generates its typed field
/// handles (`<Name>Fields`). See the [crate documentation](crate) for the attributes.
#[proc_macro_derive(Model, attributes(surql))]
pub fn derive_model(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The whole derive on proc-macro2 tokens (testable outside a macro invocation).
fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    parse_model(input).map(|m| generate(&m))
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Collects errors so that one expansion reports all of them.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn at(&mut self, tokens: impl ToTokens, msg: impl Display) {
        self.push(syn::Error::new_spanned(tokens, msg));
    }

    fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

fn path_str(p: &Path) -> String {
    p.to_token_stream().to_string().replace(' ', "")
}

// ---------------------------------------------------------------------------------------
// serde naming
// ---------------------------------------------------------------------------------------

/// serde's `rename_all` rules, applied to struct fields exactly as `serde_derive` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RenameRule {
    None,
    LowerCase,
    UpperCase,
    PascalCase,
    CamelCase,
    SnakeCase,
    ScreamingSnakeCase,
    KebabCase,
    ScreamingKebabCase,
}

const RENAME_RULES: &[(&str, RenameRule)] = &[
    ("lowercase", RenameRule::LowerCase),
    ("UPPERCASE", RenameRule::UpperCase),
    ("PascalCase", RenameRule::PascalCase),
    ("camelCase", RenameRule::CamelCase),
    ("snake_case", RenameRule::SnakeCase),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnakeCase),
    ("kebab-case", RenameRule::KebabCase),
    ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebabCase),
];

impl RenameRule {
    fn from_name(s: &str) -> Option<Self> {
        RENAME_RULES.iter().find(|(n, _)| *n == s).map(|(_, r)| *r)
    }

    /// serde's `RenameRule::apply_to_field` (a field's Rust name is snake_case; serde does
    /// not re-case it, it only moves underscores and ASCII case).
    fn apply_to_field(self, field: &str) -> String {
        match self {
            RenameRule::None | RenameRule::LowerCase | RenameRule::SnakeCase => field.to_owned(),
            RenameRule::UpperCase | RenameRule::ScreamingSnakeCase => field.to_ascii_uppercase(),
            RenameRule::PascalCase => {
                let mut pascal = String::new();
                let mut capitalize = true;
                for ch in field.chars() {
                    if ch == '_' {
                        capitalize = true;
                    } else if capitalize {
                        pascal.push(ch.to_ascii_uppercase());
                        capitalize = false;
                    } else {
                        pascal.push(ch);
                    }
                }
                pascal
            }
            RenameRule::CamelCase => {
                // serde: `pascal[..1].to_ascii_lowercase() + &pascal[1..]`, written so that
                // a non-ASCII first character cannot panic (it is left as it is, like any
                // character `to_ascii_lowercase` does not change).
                let pascal = RenameRule::PascalCase.apply_to_field(field);
                let mut chars = pascal.chars();
                match chars.next() {
                    Some(first) => {
                        let mut out = String::with_capacity(pascal.len());
                        out.push(first.to_ascii_lowercase());
                        out.push_str(chars.as_str());
                        out
                    }
                    None => pascal,
                }
            }
            RenameRule::KebabCase => field.replace('_', "-"),
            RenameRule::ScreamingKebabCase => field.to_ascii_uppercase().replace('_', "-"),
        }
    }
}

/// What the derive needs from the container's `#[serde(...)]` attributes.
struct SerdeContainer {
    rename_ser: RenameRule,
    rename_de: RenameRule,
    /// The `rename_all` path, to point at when the two directions disagree.
    rename_all: Option<Path>,
}

/// What the derive needs from a field's `#[serde(...)]` attributes.
#[derive(Default)]
struct SerdeField {
    ser: Option<LitStr>,
    de: Option<LitStr>,
    rename: Option<Path>,
    /// `skip` or `skip_serializing`: the field is never stored.
    skip: Option<Path>,
    /// `skip` or `skip_deserializing`: the field is never read.
    skip_de: Option<Path>,
    flatten: Option<Path>,
}

/// Consumes the value of a serde key the derive does not read (`= expr` or `(...)`).
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// `= "x"` or `(serialize = "x", deserialize = "y")` (either may be missing).
fn ser_de_strings(meta: &ParseNestedMeta) -> syn::Result<(Option<LitStr>, Option<LitStr>)> {
    if meta.input.peek(Token![=]) {
        let s: LitStr = meta.value()?.parse()?;
        return Ok((Some(s.clone()), Some(s)));
    }
    let (mut ser, mut de) = (None, None);
    meta.parse_nested_meta(|m| {
        if m.path.is_ident("serialize") {
            ser = Some(m.value()?.parse()?);
        } else if m.path.is_ident("deserialize") {
            // serde: the first `deserialize` is the name, later ones are aliases.
            let s: LitStr = m.value()?.parse()?;
            de.get_or_insert(s);
        } else {
            skip_value(&m)?;
        }
        Ok(())
    })?;
    Ok((ser, de))
}

fn is_serde(attr: &Attribute) -> bool {
    attr.path().is_ident("serde")
}

/// Reads the container's serde attributes. Malformed serde attributes are serde's to
/// report: the derive ignores what it cannot read.
fn serde_container(attrs: &[Attribute]) -> SerdeContainer {
    let mut c = SerdeContainer {
        rename_ser: RenameRule::None,
        rename_de: RenameRule::None,
        rename_all: None,
    };
    for attr in attrs.iter().filter(|a| is_serde(a)) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let path = meta.path.clone();
                let (ser, de) = ser_de_strings(&meta)?;
                if let Some(rule) = ser.and_then(|s| RenameRule::from_name(&s.value())) {
                    c.rename_ser = rule;
                }
                if let Some(rule) = de.and_then(|s| RenameRule::from_name(&s.value())) {
                    c.rename_de = rule;
                }
                c.rename_all = Some(path);
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        });
    }
    c
}

fn serde_field(attrs: &[Attribute]) -> SerdeField {
    let mut f = SerdeField::default();
    for attr in attrs.iter().filter(|a| is_serde(a)) {
        let _ = attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            if p.is_ident("rename") {
                f.rename = Some(p.clone());
                let (ser, de) = ser_de_strings(&meta)?;
                if ser.is_some() {
                    f.ser = ser;
                }
                if de.is_some() {
                    f.de = de;
                }
            } else if p.is_ident("skip") {
                f.skip = Some(p.clone());
                f.skip_de = Some(p.clone());
            } else if p.is_ident("skip_serializing") {
                f.skip = Some(p.clone());
            } else if p.is_ident("skip_deserializing") {
                f.skip_de = Some(p.clone());
            } else if p.is_ident("flatten") {
                f.flatten = Some(p.clone());
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        });
    }
    f
}

/// The name serde gives a field in one direction.
fn serde_name(rust: &Ident, explicit: Option<&LitStr>, rule: RenameRule) -> String {
    match explicit {
        Some(s) => s.value(),
        None => rule.apply_to_field(&rust.unraw().to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------

/// Removes invisible groups and parentheses around a type.
fn unwrap_type(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(g) => ty = &g.elem,
            Type::Paren(p) => ty = &p.elem,
            _ => return ty,
        }
    }
}

/// `T` when `ty` is written `Option<T>`, `std::option::Option<T>` or
/// `core::option::Option<T>` (with or without a leading `::`); `None` otherwise.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(tp) = unwrap_type(ty) else {
        return None;
    };
    if tp.qself.is_some() {
        return None;
    }
    let path = &tp.path;
    let segs: Vec<&syn::PathSegment> = path.segments.iter().collect();
    let (last, prefix) = segs.split_last()?;
    let names: Vec<String> = prefix.iter().map(|s| s.ident.to_string()).collect();
    let prefix_ok = match names.as_slice() {
        [] => path.leading_colon.is_none(),
        [krate, module] => (krate == "std" || krate == "core") && module == "option",
        _ => false,
    };
    if !prefix_ok || last.ident != "Option" || prefix.iter().any(|s| !s.arguments.is_none()) {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    if args.args.len() != 1 {
        return None;
    }
    match args.args.first() {
        Some(GenericArgument::Type(inner)) => Some(inner),
        _ => None,
    }
}

/// `tokens` with every `Self` replaced by the struct's name (a field type may say `Self`;
/// in the `<Name>Fields` struct it must name the model).
fn replace_self(tokens: TokenStream, name: &Ident) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Ident(i) if i == "Self" => {
                let mut n = name.clone();
                n.set_span(i.span());
                TokenTree::Ident(n)
            }
            TokenTree::Group(g) => {
                let mut out = Group::new(g.delimiter(), replace_self(g.stream(), name));
                out.set_span(g.span());
                TokenTree::Group(out)
            }
            other => other,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// #[surql(...)] attributes
// ---------------------------------------------------------------------------------------

const CONTAINER_KEYS: &str =
    "`table`, `crate`, `schemafull`, `changefeed`, `view`, `relation`, `permissions`, `index`, `connection`, `define`";
const FIELD_KEYS: &str = "`id`, `server`, `computed`, `flexible`, `type`";
const CONTAINER_KEY_LIST: &[&str] = &[
    "table",
    "crate",
    "schemafull",
    "changefeed",
    "view",
    "relation",
    "permissions",
    "index",
    "connection",
    "define",
];
const FIELD_KEY_LIST: &[&str] = &["id", "server", "computed", "flexible", "type"];

fn is_surql(attr: &Attribute) -> bool {
    attr.path().is_ident("surql")
}

/// A flag: `key` alone.
fn flag(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        return Err(syn::Error::new_spanned(
            &meta.path,
            format!("`{}` takes no value", path_str(&meta.path)),
        ));
    }
    Ok(())
}

/// Reports `lit` when it is empty (checked after parsing, so that one attribute with
/// several empty strings reports each of them).
fn non_empty(errors: &mut Errors, lit: &LitStr, what: &str) {
    if lit.value().trim().is_empty() {
        errors.at(lit, format!("{what} must not be empty"));
    }
}

/// `key = "…"`.
fn string_value(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    if !meta.input.peek(Token![=]) {
        return Err(syn::Error::new_spanned(
            &meta.path,
            format!("expected `{} = \"…\"`", path_str(&meta.path)),
        ));
    }
    meta.value()?.parse()
}

/// `key` or `key = "…"`.
fn optional_string(meta: &ParseNestedMeta) -> syn::Result<Option<LitStr>> {
    if meta.input.peek(syn::token::Paren) {
        return Err(syn::Error::new_spanned(
            &meta.path,
            format!("expected `{0}` or `{0} = \"…\"`", path_str(&meta.path)),
        ));
    }
    if meta.input.peek(Token![=]) {
        return Ok(Some(meta.value()?.parse()?));
    }
    Ok(None)
}

/// `"a"` or `["a", "b"]`.
fn string_list(input: syn::parse::ParseStream) -> syn::Result<Vec<LitStr>> {
    Ok(if input.peek(syn::token::Bracket) {
        let content;
        syn::bracketed!(content in input);
        Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?
            .into_iter()
            .collect()
    } else {
        vec![input.parse()?]
    })
}

/// Refuses a key given twice.
fn once<T>(slot: &mut Option<T>, value: T, path: &Path) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new_spanned(
            path,
            format!("duplicate `{}`", path_str(path)),
        ));
    }
    *slot = Some(value);
    Ok(())
}

#[derive(Default)]
struct RelationAttr {
    from: Option<Vec<LitStr>>,
    to: Option<Vec<LitStr>>,
    enforced: bool,
}

struct IndexAttr {
    name: Option<LitStr>,
    fields: Option<Vec<LitStr>>,
    unique: bool,
}

#[derive(Default)]
struct PermissionsAttr {
    select: Option<LitStr>,
    create: Option<LitStr>,
    update: Option<LitStr>,
    delete: Option<LitStr>,
}

#[derive(Default)]
struct ContainerAttrs {
    table: Option<LitStr>,
    krate: Option<Path>,
    schemafull: Option<()>,
    changefeed: Option<LitStr>,
    connection: Option<LitStr>,
    view: Option<(Path, LitStr)>,
    relation: Option<(Path, RelationAttr)>,
    permissions: Option<PermissionsAttr>,
    indexes: Vec<IndexAttr>,
    defines: Vec<LitStr>,
}

fn parse_relation(meta: &ParseNestedMeta) -> syn::Result<RelationAttr> {
    let mut r = RelationAttr::default();
    if meta.input.peek(Token![=]) {
        return Err(syn::Error::new_spanned(
            &meta.path,
            "expected `relation` or `relation(in = \"…\", out = \"…\", enforced)`",
        ));
    }
    if !meta.input.peek(syn::token::Paren) {
        return Ok(r);
    }
    let mut enforced = None;
    meta.parse_nested_meta(|m| {
        if m.path.is_ident("in") {
            let list = string_list(m.value()?)?;
            once(&mut r.from, list, &m.path)
        } else if m.path.is_ident("out") {
            let list = string_list(m.value()?)?;
            once(&mut r.to, list, &m.path)
        } else if m.path.is_ident("enforced") {
            flag(&m)?;
            once(&mut enforced, (), &m.path)
        } else {
            Err(syn::Error::new_spanned(
                &m.path,
                format!(
                    "unknown relation attribute `{}`: expected one of `in`, `out`, `enforced`",
                    path_str(&m.path)
                ),
            ))
        }
    })?;
    r.enforced = enforced.is_some();
    Ok(r)
}

fn parse_permissions(meta: &ParseNestedMeta) -> syn::Result<PermissionsAttr> {
    if !meta.input.peek(syn::token::Paren) {
        return Err(syn::Error::new_spanned(
            &meta.path,
            "expected `permissions(select = \"…\", create = \"…\", update = \"…\", delete = \"…\")`",
        ));
    }
    let mut p = PermissionsAttr::default();
    meta.parse_nested_meta(|m| {
        let slot = if m.path.is_ident("select") {
            &mut p.select
        } else if m.path.is_ident("create") {
            &mut p.create
        } else if m.path.is_ident("update") {
            &mut p.update
        } else if m.path.is_ident("delete") {
            &mut p.delete
        } else {
            return Err(syn::Error::new_spanned(
                &m.path,
                format!(
                    "unknown permission `{}`: expected one of `select`, `create`, `update`, `delete`",
                    path_str(&m.path)
                ),
            ));
        };
        let cond = string_value(&m)?;
        once(slot, cond, &m.path)
    })?;
    Ok(p)
}

fn parse_index(meta: &ParseNestedMeta) -> syn::Result<IndexAttr> {
    if !meta.input.peek(syn::token::Paren) {
        return Err(syn::Error::new_spanned(
            &meta.path,
            "expected `index(name = \"…\", fields(\"…\", …), unique)`",
        ));
    }
    let mut ix = IndexAttr {
        name: None,
        fields: None,
        unique: false,
    };
    let mut unique = None;
    meta.parse_nested_meta(|m| {
        if m.path.is_ident("name") {
            let name = string_value(&m)?;
            once(&mut ix.name, name, &m.path)
        } else if m.path.is_ident("fields") {
            let list = if m.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in m.input);
                Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?
                    .into_iter()
                    .collect()
            } else if m.input.peek(Token![=]) {
                string_list(m.value()?)?
            } else {
                return Err(syn::Error::new_spanned(
                    &m.path,
                    "expected `fields(\"…\", …)`",
                ));
            };
            if list.is_empty() {
                return Err(syn::Error::new_spanned(
                    &m.path,
                    "an index needs at least one field",
                ));
            }
            once(&mut ix.fields, list, &m.path)
        } else if m.path.is_ident("unique") {
            flag(&m)?;
            once(&mut unique, (), &m.path)
        } else {
            Err(syn::Error::new_spanned(
                &m.path,
                format!(
                    "unknown index attribute `{}`: expected one of `name`, `fields`, `unique`",
                    path_str(&m.path)
                ),
            ))
        }
    })?;
    ix.unique = unique.is_some();
    if ix.name.is_none() {
        return Err(syn::Error::new_spanned(
            &meta.path,
            "an index needs a name: `index(name = \"…\", fields(\"…\"))`",
        ));
    }
    if ix.fields.is_none() {
        return Err(syn::Error::new_spanned(
            &meta.path,
            "an index needs its fields: `index(name = \"…\", fields(\"…\"))`",
        ));
    }
    Ok(ix)
}

fn parse_container_attrs(attrs: &[Attribute], errors: &mut Errors) -> ContainerAttrs {
    let mut c = ContainerAttrs::default();
    for attr in attrs.iter().filter(|a| is_surql(a)) {
        let res = attr.parse_nested_meta(|meta| {
            let p = meta.path.clone();
            if p.is_ident("table") {
                let v = string_value(&meta)?;
                once(&mut c.table, v, &p)
            } else if p.is_ident("crate") {
                let lit: LitStr = if meta.input.peek(Token![=]) {
                    meta.value()?.parse()?
                } else {
                    return Err(syn::Error::new_spanned(&p, "expected `crate = \"path\"`"));
                };
                let path = lit.parse_with(Path::parse_mod_style).map_err(|_| {
                    syn::Error::new_spanned(
                        &lit,
                        "`crate` must be a path such as \"surql_smol::surql\"",
                    )
                })?;
                once(&mut c.krate, path, &p)
            } else if p.is_ident("schemafull") {
                flag(&meta)?;
                once(&mut c.schemafull, (), &p)
            } else if p.is_ident("changefeed") {
                let v = string_value(&meta)?;
                once(&mut c.changefeed, v, &p)
            } else if p.is_ident("connection") {
                let v = string_value(&meta)?;
                once(&mut c.connection, v, &p)
            } else if p.is_ident("view") {
                let v = string_value(&meta)?;
                once(&mut c.view, (p.clone(), v), &p)
            } else if p.is_ident("relation") {
                let r = parse_relation(&meta)?;
                once(&mut c.relation, (p.clone(), r), &p)
            } else if p.is_ident("permissions") {
                let perms = parse_permissions(&meta)?;
                once(&mut c.permissions, perms, &p)
            } else if p.is_ident("index") {
                c.indexes.push(parse_index(&meta)?);
                Ok(())
            } else if p.is_ident("define") {
                c.defines.push(string_value(&meta)?);
                Ok(())
            } else {
                let name = path_str(&p);
                let hint = if FIELD_KEY_LIST.contains(&name.as_str()) {
                    format!(" (`{name}` is a field attribute: put it on a field)")
                } else {
                    String::new()
                };
                Err(syn::Error::new_spanned(
                    &p,
                    format!(
                        "unknown model attribute `{name}`: expected one of {CONTAINER_KEYS}{hint}"
                    ),
                ))
            }
        });
        if let Err(e) = res {
            errors.push(e);
        }
    }
    for (lit, what) in [
        (c.table.as_ref(), "the table name"),
        (c.changefeed.as_ref(), "the changefeed duration"),
        (c.connection.as_ref(), "the connection name"),
        (c.view.as_ref().map(|v| &v.1), "the view's query"),
    ] {
        if let Some(lit) = lit {
            non_empty(errors, lit, what);
        }
    }
    if let Some((_, r)) = &c.relation {
        for t in r.from.iter().flatten() {
            non_empty(errors, t, "a relation's `in` table");
        }
        for t in r.to.iter().flatten() {
            non_empty(errors, t, "a relation's `out` table");
        }
    }
    if let Some(p) = &c.permissions {
        for cond in [&p.select, &p.create, &p.update, &p.delete]
            .into_iter()
            .flatten()
        {
            non_empty(errors, cond, "a permission condition");
        }
    }
    for d in &c.defines {
        non_empty(errors, d, "a `define` statement");
    }
    for ix in &c.indexes {
        if let Some(name) = &ix.name {
            non_empty(errors, name, "an index name");
        }
        for f in ix.fields.iter().flatten() {
            non_empty(errors, f, "an index field");
        }
    }
    c
}

#[derive(Default)]
struct FieldAttrs {
    id: Option<Path>,
    server: Option<(Path, Option<LitStr>)>,
    computed: Option<(Path, Option<LitStr>)>,
    flexible: Option<Path>,
    db_type: Option<LitStr>,
}

impl FieldAttrs {
    /// The first surql attribute given, to point at when none applies.
    fn any(&self) -> Option<&Path> {
        self.server
            .as_ref()
            .map(|s| &s.0)
            .or(self.computed.as_ref().map(|c| &c.0))
            .or(self.flexible.as_ref())
            .or(self.id.as_ref())
    }
}

fn parse_field_attrs(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut f = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| is_surql(a)) {
        let res = attr.parse_nested_meta(|meta| {
            let p = meta.path.clone();
            if p.is_ident("id") {
                flag(&meta)?;
                once(&mut f.id, p.clone(), &p)
            } else if p.is_ident("server") {
                let v = optional_string(&meta)?;
                once(&mut f.server, (p.clone(), v), &p)
            } else if p.is_ident("computed") {
                let v = optional_string(&meta)?;
                once(&mut f.computed, (p.clone(), v), &p)
            } else if p.is_ident("flexible") {
                flag(&meta)?;
                once(&mut f.flexible, p.clone(), &p)
            } else if p.is_ident("type") {
                let v = string_value(&meta)?;
                once(&mut f.db_type, v, &p)
            } else {
                let name = path_str(&p);
                let hint = if CONTAINER_KEY_LIST.contains(&name.as_str()) {
                    format!(" (`{name}` is a model attribute: put it on the struct)")
                } else {
                    String::new()
                };
                Err(syn::Error::new_spanned(
                    &p,
                    format!("unknown field attribute `{name}`: expected one of {FIELD_KEYS}{hint}"),
                ))
            }
        });
        if let Err(e) = res {
            errors.push(e);
        }
    }
    if let Some(v) = f.server.as_ref().and_then(|s| s.1.as_ref()) {
        non_empty(errors, v, "the server expression");
    }
    if let Some(e) = f.computed.as_ref().and_then(|c| c.1.as_ref()) {
        non_empty(errors, e, "the computed expression");
    }
    if let Some(t) = &f.db_type {
        non_empty(errors, t, "the SurrealQL type");
    }
    if let (Some(_), Some((computed, _))) = (&f.server, &f.computed) {
        errors.at(
            computed,
            "a field is either `server` or `computed`, not both",
        );
    }
    f
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum KindDef {
    Normal,
    Relation {
        from: Vec<String>,
        to: Vec<String>,
        enforced: bool,
    },
    View {
        query: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FieldKindDef {
    Data,
    Server(Option<String>),
    Computed(Option<String>),
}

struct FieldDef {
    ident: Ident,
    /// The database (serialized) name.
    name: String,
    /// The type as written.
    ty: Type,
    /// `T` of the handle `Field<M, T>`.
    handle_ty: TokenStream,
    kind: FieldKindDef,
    optional: bool,
    flexible: bool,
    /// `#[surql(type = "…")]`: the SurrealQL type, overriding the one derived from `ty`.
    db_type: Option<String>,
}

struct IdDef {
    ident: Ident,
    name: String,
    key_ty: Type,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct IndexDef {
    name: String,
    fields: Vec<String>,
    unique: bool,
}

struct ModelDef {
    ident: Ident,
    vis: Visibility,
    where_clause: Option<WhereClause>,
    krate: Path,
    table: String,
    kind: KindDef,
    schemafull: bool,
    changefeed: Option<String>,
    connection: Option<String>,
    permissions: [Option<String>; 4],
    indexes: Vec<IndexDef>,
    /// `#[surql(define = "…")]` statements, in order.
    defines: Vec<String>,
    id: IdDef,
    /// Stored fields except the id, in declaration order.
    fields: Vec<FieldDef>,
}

const NO_ID: &str = "a model needs an `id: Option<RecordId>` field (or a key type such as \
                     Option<i64>, Option<String>, Option<Uuid>), or a field marked #[surql(id)]";
const ID_NOT_OPTION: &str = "the id field must be `Option<…>` (None until the server assigns it)";
const BOTH_DIRECTIONS: &str = "a model field must have the same name in both directions";

fn parse_model(input: &DeriveInput) -> syn::Result<ModelDef> {
    let mut errors = Errors::default();
    let ident = &input.ident;

    // Shape of the item.
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(n) => Some(n),
            Fields::Unnamed(u) => {
                errors.at(
                    u,
                    "`#[derive(Model)]` needs a struct with named fields: a tuple struct has no \
                     field names to store",
                );
                None
            }
            Fields::Unit => {
                let tok = s.struct_token;
                errors.at(
                    quote!(#tok #ident),
                    "`#[derive(Model)]` needs a struct with named fields, including the id \
                     (`id: Option<RecordId>`); a unit struct has none",
                );
                None
            }
        },
        Data::Enum(e) => {
            let tok = e.enum_token;
            errors.at(
                quote!(#tok #ident),
                "`#[derive(Model)]` supports structs with named fields only, not enums",
            );
            None
        }
        Data::Union(u) => {
            let tok = u.union_token;
            errors.at(
                quote!(#tok #ident),
                "`#[derive(Model)]` supports structs with named fields only, not unions",
            );
            None
        }
    };
    if !input.generics.params.is_empty() {
        errors.at(
            &input.generics,
            "`#[derive(Model)]` does not support generic structs (type, lifetime or const \
             parameters): a model is one table, decoded into owned values",
        );
    }

    let attrs = parse_container_attrs(&input.attrs, &mut errors);
    let serde = serde_container(&input.attrs);

    let Some(named) = named else {
        return errors.finish(()).and_then(|()| unreachable_shape(ident));
    };

    // Fields.
    let mut id: Option<IdDef> = None;
    let mut fields = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    let mut has_flatten = false;
    let mut rename_all_reported = false;
    for field in &named.named {
        let Some(fident) = field.ident.clone() else {
            continue;
        };
        let fattrs = parse_field_attrs(&field.attrs, &mut errors);
        let sf = serde_field(&field.attrs);
        let is_id = fattrs.id.is_some() || fident.unraw() == "id";

        // Not stored: no handle, no FieldMeta.
        if !is_id {
            if let Some(p) = sf.skip.as_ref().or(sf.flatten.as_ref()) {
                if sf.flatten.is_some() {
                    has_flatten = true;
                }
                if let Some(a) = fattrs.any() {
                    errors.at(
                        a,
                        format!(
                            "`#[surql({})]` has no effect on a field with #[serde({})]: it is not \
                             stored in the model's table",
                            path_str(a),
                            path_str(p)
                        ),
                    );
                }
                continue;
            }
        }

        let ser = serde_name(&fident, sf.ser.as_ref(), serde.rename_ser);
        let de = serde_name(&fident, sf.de.as_ref(), serde.rename_de);
        // A field serde never reads has no deserialized name to agree with.
        if ser != de && sf.skip_de.is_none() {
            let msg = format!(
                "{BOTH_DIRECTIONS} (`{}` is serialized as `{ser}` and deserialized as `{de}`)",
                fident.unraw()
            );
            match (&sf.rename, &serde.rename_all) {
                (Some(p), _) if sf.ser.is_some() || sf.de.is_some() => errors.at(p, msg),
                (_, Some(p)) => {
                    if !rename_all_reported {
                        errors.at(p, msg);
                        rename_all_reported = true;
                    }
                }
                _ => errors.at(&fident, msg),
            }
        }

        if is_id {
            if let Some(prev) = &id {
                let at = fattrs
                    .id
                    .as_ref()
                    .map(|p| p.to_token_stream())
                    .unwrap_or_else(|| fident.to_token_stream());
                errors.at(
                    at,
                    format!(
                        "two id fields: `{}` and `{}`; a model has one id field (named `id` or \
                         marked #[surql(id)])",
                        prev.ident.unraw(),
                        fident.unraw()
                    ),
                );
                continue;
            }
            for (p, what) in [
                (sf.skip_de.as_ref(), "is read back from the server"),
                (sf.flatten.as_ref(), "is a single value"),
            ] {
                if let Some(p) = p {
                    errors.at(
                        p,
                        format!(
                            "the id field cannot be #[serde({})]: it {what}",
                            path_str(p)
                        ),
                    );
                }
            }
            if let Some(a) = fattrs
                .server
                .as_ref()
                .map(|s| &s.0)
                .or(fattrs.computed.as_ref().map(|c| &c.0))
                .or(fattrs.flexible.as_ref())
            {
                errors.at(
                    a,
                    format!(
                        "`#[surql({})]` does not apply to the id field (the server assigns the \
                         id and it is always read back)",
                        path_str(a)
                    ),
                );
            }
            if ser != "id" {
                let at = sf
                    .ser
                    .as_ref()
                    .map(|l| l.to_token_stream())
                    .unwrap_or_else(|| fident.to_token_stream());
                errors.at(
                    at,
                    format!(
                        "the id field must be stored as `id`, but it is serialized as `{ser}`; \
                         add #[serde(rename = \"id\")] to it"
                    ),
                );
            }
            let key_ty = match option_inner(&field.ty) {
                Some(k) => k.clone(),
                None => {
                    errors.at(&field.ty, ID_NOT_OPTION);
                    field.ty.clone()
                }
            };
            names.insert(ser.clone());
            id = Some(IdDef {
                ident: fident,
                name: ser,
                key_ty,
            });
            continue;
        }

        if !names.insert(ser.clone()) {
            errors.at(&fident, format!("two fields are stored as `{ser}`"));
        }
        let kind = match (&fattrs.server, &fattrs.computed) {
            (Some((_, v)), _) => FieldKindDef::Server(v.as_ref().map(LitStr::value)),
            (None, Some((_, e))) => FieldKindDef::Computed(e.as_ref().map(LitStr::value)),
            (None, None) => FieldKindDef::Data,
        };
        let inner = option_inner(&field.ty);
        let handle_ty = replace_self(inner.unwrap_or(&field.ty).to_token_stream(), ident);
        fields.push(FieldDef {
            ident: fident,
            name: ser,
            ty: field.ty.clone(),
            handle_ty,
            kind,
            optional: inner.is_some(),
            flexible: fattrs.flexible.is_some(),
            db_type: fattrs.db_type.as_ref().map(LitStr::value),
        });
    }

    if id.is_none() {
        errors.at(ident, NO_ID);
    }

    // Table kind.
    let kind = match (&attrs.view, &attrs.relation) {
        (Some((_, q)), None) => KindDef::View { query: q.value() },
        (None, Some((_, r))) => KindDef::Relation {
            from: r.from.iter().flatten().map(LitStr::value).collect(),
            to: r.to.iter().flatten().map(LitStr::value).collect(),
            enforced: r.enforced,
        },
        (None, None) => KindDef::Normal,
        (Some(_), Some((rel, _))) => {
            errors.at(
                rel,
                "a model is either a `view` or a `relation`, not both (a view is read-only)",
            );
            KindDef::Normal
        }
    };

    // Indexes.
    let mut indexes = Vec::new();
    let mut index_names = HashSet::new();
    for ix in &attrs.indexes {
        let (Some(name), Some(ix_fields)) = (&ix.name, &ix.fields) else {
            continue;
        };
        if !index_names.insert(name.value()) {
            errors.at(name, format!("two indexes are named `{}`", name.value()));
        }
        for f in ix_fields {
            let v = f.value();
            if v.trim().is_empty() {
                continue; // reported as empty
            }
            let head = v.split(['.', '[']).next().unwrap_or("");
            let known = fields.iter().any(|d| d.name == v || d.name == head)
                || id.as_ref().is_some_and(|i| i.name == v);
            if !known && !has_flatten {
                let mut stored: Vec<&str> = fields.iter().map(|d| d.name.as_str()).collect();
                stored.sort_unstable();
                errors.at(
                    f,
                    format!(
                        "the index `{}` names `{v}`, which is not a field of the model (its \
                         fields, by database name: {})",
                        name.value(),
                        if stored.is_empty() {
                            "none".to_owned()
                        } else {
                            stored
                                .iter()
                                .map(|s| format!("`{s}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                );
            }
        }
        indexes.push(IndexDef {
            name: name.value(),
            fields: ix_fields.iter().map(LitStr::value).collect(),
            unique: ix.unique,
        });
    }

    let Some(id) = id else {
        return errors.finish(()).and_then(|()| unreachable_shape(ident));
    };
    let perms = attrs.permissions.unwrap_or_default();
    let krate = attrs.krate.unwrap_or_else(|| syn::parse_quote!(::surql));
    errors.finish(ModelDef {
        ident: ident.clone(),
        vis: input.vis.clone(),
        where_clause: input.generics.where_clause.clone(),
        krate,
        table: attrs
            .table
            .map(|t| t.value())
            .unwrap_or_else(|| ident.unraw().to_string()),
        kind,
        schemafull: attrs.schemafull.is_some(),
        changefeed: attrs.changefeed.map(|c| c.value()),
        connection: attrs.connection.map(|c| c.value()),
        permissions: [perms.select, perms.create, perms.update, perms.delete]
            .map(|p| p.map(|l| l.value())),
        indexes,
        defines: attrs.defines.iter().map(|d| d.value()).collect(),
        id,
        fields,
    })
}

/// Reached only when an error was recorded already; kept as an error rather than a panic.
fn unreachable_shape<T>(ident: &Ident) -> syn::Result<T> {
    Err(syn::Error::new_spanned(
        ident,
        "`#[derive(Model)]` could not read this struct",
    ))
}

// ---------------------------------------------------------------------------------------
// Code generation
// ---------------------------------------------------------------------------------------

fn opt_str(krate_none: &TokenStream, v: &Option<String>) -> TokenStream {
    match v {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => krate_none.clone(),
    }
}

fn generate(m: &ModelDef) -> TokenStream {
    let krate = &m.krate;
    let ident = &m.ident;
    let vis = &m.vis;
    let where_clause = &m.where_clause;
    let fields_ident = format_ident!("{}Fields", ident.unraw(), span = ident.span());
    let none = quote!(::core::option::Option::None);
    let model = quote!(#krate::model);

    let table = &m.table;
    let rust_name = ident.unraw().to_string();
    let kind = match &m.kind {
        KindDef::Normal => quote!(#model::TableKind::Normal),
        KindDef::Relation { from, to, enforced } => quote! {
            #model::TableKind::Relation { from: &[#(#from),*], to: &[#(#to),*], enforced: #enforced }
        },
        KindDef::View { query } => quote!(#model::TableKind::View { query: #query }),
    };
    let id_name = &m.id.name;
    let id_ident = &m.id.ident;
    let key_ty = &m.id.key_ty;
    let schemafull = m.schemafull;
    let changefeed = opt_str(&none, &m.changefeed);
    let connection = opt_str(&none, &m.connection);
    let [select, create, update, delete] = m.permissions.clone().map(|p| opt_str(&none, &p));
    let defines = &m.defines;
    let indexes = m.indexes.iter().map(|ix| {
        let IndexDef {
            name,
            fields,
            unique,
        } = ix;
        quote!(#model::IndexMeta { name: #name, fields: &[#(#fields),*], unique: #unique })
    });
    let field_metas = m.fields.iter().map(|f| {
        let name = &f.name;
        let rust = f.ident.to_string();
        let ty = &f.ty;
        let rust_type = quote!(#ty).to_string();
        let kind = match &f.kind {
            FieldKindDef::Data => quote!(#model::FieldKind::Data),
            FieldKindDef::Server(v) => {
                let v = opt_str(&none, v);
                quote!(#model::FieldKind::Server { value: #v })
            }
            FieldKindDef::Computed(e) => {
                let e = opt_str(&none, e);
                quote!(#model::FieldKind::Computed { expr: #e })
            }
        };
        let optional = f.optional;
        let flexible = f.flexible;
        let db_type = opt_str(&none, &f.db_type);
        quote! {
            #model::FieldMeta {
                name: #name,
                rust_name: #rust,
                rust_type: #rust_type,
                kind: #kind,
                optional: #optional,
                flexible: #flexible,
                db_type: #db_type,
            }
        }
    });

    // Handles: the id first, then the stored fields.
    let id_doc = format!("The id (`{id_name}`): a record id of table `{table}`.");
    let mut handle_decls = vec![quote! {
        #[doc = #id_doc]
        pub #id_ident: #model::Field<#ident, #krate::RecordId>
    }];
    let mut handle_inits = vec![quote!(#id_ident: #model::Field::new(#id_name))];
    let mut debug_fields = vec![{
        let s = id_ident.to_string();
        quote!(.field(#s, &self.#id_ident))
    }];
    for f in &m.fields {
        let fid = &f.ident;
        let name = &f.name;
        let hty = &f.handle_ty;
        let doc = if f.ident.unraw() == f.name.as_str() {
            format!("The field `{name}`.")
        } else {
            format!("The field `{}`, stored as `{name}`.", f.ident.unraw())
        };
        // The handle type is spanned on the field's type: a key type that does not fit
        // is reported there.
        handle_decls.push(quote_spanned! {f.ty.span()=>
            #[doc = #doc]
            pub #fid: #model::Field<#ident, #hty>
        });
        handle_inits.push(quote!(#fid: #model::Field::new(#name)));
        let s = fid.to_string();
        debug_fields.push(quote!(.field(#s, &self.#fid)));
    }
    let fields_doc = format!(
        "Typed field handles of [`{rust_name}`] (`{rust_name}::fields()`), generated by \
         `#[derive(Model)]`."
    );
    let fields_name = fields_ident.to_string();
    let key_decl = quote_spanned!(key_ty.span()=> type Key = #key_ty;);

    quote! {
        #[automatically_derived]
        impl #model::Model for #ident #where_clause {
            #key_decl
            type Fields = #fields_ident;
            const META: &'static #model::ModelMeta = &#model::ModelMeta {
                table: #table,
                rust_name: #rust_name,
                kind: #kind,
                id_field: #id_name,
                fields: &[#(#field_metas),*],
                schemafull: #schemafull,
                changefeed: #changefeed,
                connection: #connection,
                permissions: #model::Permissions {
                    select: #select,
                    create: #create,
                    update: #update,
                    delete: #delete,
                },
                indexes: &[#(#indexes),*],
                defines: &[#(#defines),*],
            };

            fn key(&self) -> ::core::option::Option<&Self::Key> {
                ::core::option::Option::as_ref(&self.#id_ident)
            }

            fn fields() -> #fields_ident {
                #fields_ident {
                    #(#handle_inits,)*
                }
            }
        }

        #[doc = #fields_doc]
        #[derive(::core::clone::Clone, ::core::marker::Copy)]
        // Every handle is public, also when the field's type is more private than the
        // struct: the handle is usable wherever that type is.
        #[allow(private_interfaces)]
        #vis struct #fields_ident {
            #(#handle_decls,)*
        }

        // Written out rather than derived: a derived `Debug` does not count as a use of the
        // handles, and a model whose handles are never all read would warn (`dead_code`).
        impl ::core::fmt::Debug for #fields_ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#fields_name)
                    #(#debug_fields)*
                    .finish()
            }
        }
    }
}

#[cfg(test)]
mod tests;
