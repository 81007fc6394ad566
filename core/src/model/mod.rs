//! Models: Rust structs mapped to SurrealDB tables.
//!
//! `#[derive(Model)]` (from `surql-derive`, re-exported here) on a serde struct implements
//! [`Model`]: the table, the id field and its key type, which fields the server owns
//! (never written, read back), typed field handles, and the schema hints the schema layer
//! reads. Every model action (`get`, `save`, `refresh`, `merge`, `delete`, bulk writes,
//! upserts) is an operation of the core ([`ops`]), so both drivers run the same requests.
//!
//! ```
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
//!     #[serde(rename = "first-name")]
//!     first_name: Option<String>,
//!     /// Set by the server (`DEFAULT time::now()`): never written, read back.
//!     #[surql(server)]
//!     created_at: Option<Datetime>,
//! }
//!
//! let f = Person::fields();
//! let c = Person::objects().filter(f.age.gte(18) & f.first_name.eq("Ada")).compile().unwrap();
//! assert_eq!(c.text, "SELECT * FROM $t0 WHERE age >= $p0 AND `first-name` = $p1;");
//! assert_eq!(Person::META.table, "person");
//! ```

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cbor::RawValue;
use crate::query::{Lookup, Operand, QuerySet, F, Q};
use crate::value::{RecordId, RecordIdKey, Uuid, Value};

pub mod expr;
pub mod ops;
pub mod relation;

pub use expr::{Changes, Expr};
pub use surql_derive::Model;

/// A Rust type stored as the records of one SurrealDB table. Implement it with
/// `#[derive(Model)]`; see the [module docs](self).
pub trait Model: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The key type of the id field (`id: Option<Key>`): [`RecordId`], [`RecordIdKey`],
    /// `i64`, `String` or [`Uuid`].
    type Key: ModelKey;
    /// The typed field handles (`Person::fields().age`).
    type Fields;
    /// The static description of the model: table, fields, schema hints.
    const META: &'static ModelMeta;

    /// The id, if the record has one yet.
    fn key(&self) -> Option<&Self::Key>;

    /// The typed field handles.
    fn fields() -> Self::Fields;

    /// The record id of this instance (its key in [`ModelMeta::table`]), if it has one.
    fn record_id(&self) -> Option<RecordId> {
        self.key().map(|k| k.to_record_id(Self::META.table))
    }

    /// A typed [`QuerySet`] over the model's table.
    fn objects() -> QuerySet<Self> {
        QuerySet::model()
    }
}

/// The key type of a model's id field: how it becomes a [`RecordId`] and how a record id
/// read from the server is put back into the struct.
pub trait ModelKey: Send + Sync + Sized + 'static {
    /// The record id of this key in `table`.
    fn to_record_id(&self, table: &str) -> RecordId;

    /// The value the id field holds after decoding a row whose id is `rid`: the record id
    /// itself for [`RecordId`], its key for the typed keys. A key of the wrong type is an
    /// error naming the id (a string key never silently becomes a number).
    fn decode_value(rid: RecordId) -> Result<Value, String>;

    /// `true` when the id field holds the whole [`RecordId`] (rows decode without rewriting).
    const IS_RECORD_ID: bool = false;

    /// The key a `"table:…"` string names for this key type: `person:123` is the integer
    /// key 123 in record-id syntax, but for a model whose keys are strings it can only mean
    /// the string `"123"`.
    fn coerce_key(key: RecordIdKey) -> RecordIdKey {
        key
    }
}

impl ModelKey for RecordId {
    fn to_record_id(&self, _table: &str) -> RecordId {
        self.clone()
    }
    fn decode_value(rid: RecordId) -> Result<Value, String> {
        Ok(Value::RecordId(rid))
    }
    const IS_RECORD_ID: bool = true;
}

impl ModelKey for RecordIdKey {
    fn to_record_id(&self, table: &str) -> RecordId {
        RecordId::new(table, self.clone())
    }
    fn decode_value(rid: RecordId) -> Result<Value, String> {
        Ok(match rid.key {
            RecordIdKey::String(s) => Value::String(s),
            RecordIdKey::Int(i) => Value::Int(i),
            RecordIdKey::Uuid(u) => Value::Uuid(u),
            RecordIdKey::Array(a) => Value::Array(a),
            RecordIdKey::Object(o) => Value::Object(o),
            RecordIdKey::Range(_) => return Err(format!("the id {rid} is a range")),
        })
    }
}

fn wrong_key(rid: &RecordId, expected: &str) -> String {
    let found = match &rid.key {
        RecordIdKey::String(_) => "a string",
        RecordIdKey::Int(_) => "an integer",
        RecordIdKey::Uuid(_) => "a uuid",
        RecordIdKey::Array(_) => "an array",
        RecordIdKey::Object(_) => "an object",
        RecordIdKey::Range(_) => "a range",
    };
    format!("the id {rid} has {found} key, but the model's key type is {expected}")
}

impl ModelKey for i64 {
    fn to_record_id(&self, table: &str) -> RecordId {
        RecordId::new(table, *self)
    }
    fn decode_value(rid: RecordId) -> Result<Value, String> {
        match rid.key {
            RecordIdKey::Int(i) => Ok(Value::Int(i)),
            _ => Err(wrong_key(&rid, "i64")),
        }
    }
}

impl ModelKey for String {
    fn to_record_id(&self, table: &str) -> RecordId {
        RecordId::new(table, self.as_str())
    }
    fn coerce_key(key: RecordIdKey) -> RecordIdKey {
        match key {
            RecordIdKey::Int(i) => RecordIdKey::String(i.to_string()),
            other => other,
        }
    }
    fn decode_value(rid: RecordId) -> Result<Value, String> {
        match rid.key {
            RecordIdKey::String(s) => Ok(Value::String(s)),
            _ => Err(wrong_key(&rid, "String")),
        }
    }
}

impl ModelKey for Uuid {
    fn to_record_id(&self, table: &str) -> RecordId {
        RecordId::new(table, *self)
    }
    fn decode_value(rid: RecordId) -> Result<Value, String> {
        match rid.key {
            RecordIdKey::Uuid(u) => Ok(Value::Uuid(u)),
            _ => Err(wrong_key(&rid, "Uuid")),
        }
    }
}

/// What kind of table a model is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// A normal table.
    Normal,
    /// A relation (edge) table: `TYPE RELATION IN … OUT … [ENFORCED]`.
    Relation {
        /// Allowed `in` tables (empty: any).
        from: &'static [&'static str],
        /// Allowed `out` tables (empty: any).
        to: &'static [&'static str],
        /// `ENFORCED`: both ends must exist.
        enforced: bool,
    },
    /// A read-only view: `DEFINE TABLE … AS <query>`. Writes are refused.
    View {
        /// The view's SELECT.
        query: &'static str,
    },
}

/// Who writes a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Written by the client.
    Data,
    /// Set by the server (a `DEFAULT`/`VALUE` such as `time::now()`): never written, read back.
    Server {
        /// The server-side expression, if the model declares it (for the schema layer).
        value: Option<&'static str>,
    },
    /// Computed by the server on read (`COMPUTED`/`VALUE` futures): read-only.
    Computed {
        /// The server-side expression, if the model declares it (for the schema layer).
        expr: Option<&'static str>,
    },
}

impl FieldKind {
    /// `true` when the client writes this field.
    pub fn is_written(self) -> bool {
        matches!(self, FieldKind::Data)
    }
}

/// One field of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldMeta {
    /// The name stored in the database (after `#[serde(rename)]`/`rename_all`).
    pub name: &'static str,
    /// The Rust field name.
    pub rust_name: &'static str,
    /// The Rust type as written in the struct (for the schema layer).
    pub rust_type: &'static str,
    /// Who writes it.
    pub kind: FieldKind,
    /// The Rust type is `Option<…>`.
    pub optional: bool,
    /// `#[surql(flexible)]`: an object field that accepts any keys on a SCHEMAFULL table.
    pub flexible: bool,
    /// `#[surql(type = "…")]`: the SurrealQL type, overriding the one the schema layer
    /// derives from [`rust_type`](Self::rust_type).
    pub db_type: Option<&'static str>,
}

/// An index declared on a model (for the schema layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexMeta {
    /// The index name.
    pub name: &'static str,
    /// The indexed fields (database names).
    pub fields: &'static [&'static str],
    /// `UNIQUE`.
    pub unique: bool,
}

/// Table permissions declared on a model (for the schema layer): each is a SurrealQL
/// condition, or `None` when not declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions {
    /// `FOR select`.
    pub select: Option<&'static str>,
    /// `FOR create`.
    pub create: Option<&'static str>,
    /// `FOR update`.
    pub update: Option<&'static str>,
    /// `FOR delete`.
    pub delete: Option<&'static str>,
}

/// The static description of a model, generated by `#[derive(Model)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelMeta {
    /// The table name (the struct's name unless `#[surql(table = "…")]`).
    pub table: &'static str,
    /// The Rust type name.
    pub rust_name: &'static str,
    /// Normal, relation or view.
    pub kind: TableKind,
    /// The database name of the id field (`id`).
    pub id_field: &'static str,
    /// Every field except the id, in declaration order (`#[serde(skip)]` fields excluded).
    pub fields: &'static [FieldMeta],
    /// `SCHEMAFULL` (`#[surql(schemafull)]`); schemaless otherwise.
    pub schemafull: bool,
    /// `CHANGEFEED <duration>` (`#[surql(changefeed = "7d")]`).
    pub changefeed: Option<&'static str>,
    /// The named connection the model uses by default (`#[surql(connection = "…")]`);
    /// `None`: `"default"`.
    pub connection: Option<&'static str>,
    /// Table permissions.
    pub permissions: Permissions,
    /// Indexes.
    pub indexes: &'static [IndexMeta],
    /// `#[surql(define = "…")]`: extra schema statements of the table (events, full-text or
    /// vector indexes, whole `DEFINE FIELD`s that replace derived ones), read by
    /// [`crate::schema`].
    pub defines: &'static [&'static str],
}

impl ModelMeta {
    /// The field with this database name.
    pub fn field(&self, name: &str) -> Option<&FieldMeta> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// `true` for views (writes are refused).
    pub fn is_view(&self) -> bool {
        matches!(self.kind, TableKind::View { .. })
    }

    /// The database names of the fields the client never writes (server and computed).
    pub fn unwritten(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields
            .iter()
            .filter(|f| !f.kind.is_written())
            .map(|f| f.name)
    }
}

/// A field path for a single field name: the name itself when the path grammar reads it
/// back as that one field, else the name in backticks (`` `tags[0]` ``, `` `a.b` ``).
pub fn field_path(name: &str) -> String {
    let plain = !name.is_empty()
        && name != "*"
        && !name.contains(['.', '[', ']', '`', '\\'])
        && !name.starts_with('*');
    if plain {
        name.to_owned()
    } else {
        let mut out = String::with_capacity(name.len() + 2);
        out.push('`');
        for c in name.chars() {
            if c == '`' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('`');
        out
    }
}

/// A typed handle on field `T` of model `M`: conditions built from it only accept values of
/// the field's type, and a misspelled field does not compile. `Option<T>` fields get a
/// `Field<M, T>` (compare with the inner type; test absence with [`is_null`](Field::is_null)).
///
/// Handles compile to exactly the same conditions as the string forms:
/// `Person::fields().age.gt(18)` is `F::new("age").gt(18)` is `("age__gt", 18)`.
pub struct Field<M, T> {
    name: &'static str,
    _p: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Field<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T> Copy for Field<M, T> {}

impl<M, T> fmt::Debug for Field<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Field({})", self.name)
    }
}

impl<M, T> From<Field<M, T>> for String {
    /// The field path, so a handle goes wherever a field name does:
    /// `qs.avg(Person::fields().age)`, `qs.select_value(f.name)`.
    fn from(f: Field<M, T>) -> String {
        f.path()
    }
}

fn value_of<T: Serialize + ?Sized>(field: &str, v: &T) -> Result<Value, Q> {
    crate::value::to_value(v).map_err(|e| {
        Q::invalid(crate::query::QueryError::Value {
            field: field.to_owned(),
            reason: e.to_string(),
        })
    })
}

impl<M, T> Field<M, T> {
    /// A handle on the field stored as `name` (what the derive generates).
    pub const fn new(name: &'static str) -> Self {
        Field {
            name,
            _p: PhantomData,
        }
    }

    /// The database name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The field path as the query compiler reads it (backticked when needed).
    pub fn path(&self) -> String {
        field_path(self.name)
    }

    /// The untyped [`F`] for this field.
    pub fn f(&self) -> F {
        F::new(self.path())
    }

    /// Ascending order term for `order_by`.
    pub fn asc(&self) -> String {
        self.path()
    }

    /// Descending order term for `order_by`.
    pub fn desc(&self) -> String {
        format!("-{}", self.path())
    }

    /// `true`: the field is NONE or NULL; `false`: it has a value.
    pub fn is_null(&self, yes: bool) -> Q {
        self.f().is_null(yes)
    }

    /// The field is in the result of a subquery.
    pub fn in_query<N>(&self, q: QuerySet<N>) -> Q {
        self.f().in_query(q.untyped())
    }

    /// Any lookup against a bound variable (`$name`) or a subquery.
    pub fn lookup(&self, lookup: Lookup, operand: impl Into<Operand>) -> Q {
        self.f().lookup(lookup, operand)
    }

    fn cmp<V: Serialize>(&self, lookup: Lookup, v: &V) -> Q {
        match value_of(self.name, v) {
            Ok(v) => self.f().lookup(lookup, v),
            Err(q) => q,
        }
    }

    fn set<V: Serialize>(&self, lookup: Lookup, vs: impl IntoIterator<Item = V>) -> Q {
        let mut list = Vec::new();
        for v in vs {
            match value_of(self.name, &v) {
                Ok(v) => list.push(v),
                Err(q) => return q,
            }
        }
        self.f().lookup(lookup, Value::Array(list))
    }
}

macro_rules! typed_lookups {
    ($t:ty; $($(#[$m:meta])* $name:ident => $l:ident),* $(,)?) => {$(
        $(#[$m])*
        pub fn $name(&self, v: impl Into<$t>) -> Q {
            self.cmp(Lookup::$l, &v.into())
        }
    )*};
}

macro_rules! typed_set_lookups {
    ($elem:ty; $($(#[$m:meta])* $name:ident => $l:ident),* $(,)?) => {$(
        $(#[$m])*
        pub fn $name<V: Into<$elem>>(&self, values: impl IntoIterator<Item = V>) -> Q {
            self.set(Lookup::$l, values.into_iter().map(Into::into))
        }
    )*};
}

impl<M, T: Serialize> Field<M, T> {
    typed_lookups! { T;
        /// `f = v`.
        eq => Exact,
        /// `f != v`.
        ne => Ne,
        /// `f > v`.
        gt => Gt,
        /// `f >= v`.
        gte => Gte,
        /// `f < v`.
        lt => Lt,
        /// `f <= v`.
        lte => Lte,
    }
    typed_set_lookups! { T;
        /// `f IN [values]`.
        is_in => In,
        /// `f NOT IN [values]`.
        not_in => NotIn,
    }
}

impl<M> Field<M, String> {
    typed_lookups! { String;
        /// Case-insensitive equality.
        iexact => IExact,
        /// Substring.
        contains => Contains,
        /// Case-insensitive substring.
        icontains => IContains,
        /// Prefix.
        startswith => StartsWith,
        /// Case-insensitive prefix.
        istartswith => IStartsWith,
        /// Suffix.
        endswith => EndsWith,
        /// Case-insensitive suffix.
        iendswith => IEndsWith,
        /// SQL `LIKE` pattern (`%`, `_`).
        like => Like,
        /// Case-insensitive `LIKE`.
        ilike => ILike,
        /// Regular expression.
        regex => Regex,
        /// Case-insensitive regular expression.
        iregex => IRegex,
        /// Full-text match (`@@`).
        matches => Match,
    }
}

impl<M, E: Serialize> Field<M, Vec<E>> {
    /// The array contains `v`.
    pub fn contains(&self, v: impl Into<E>) -> Q {
        self.cmp(Lookup::Contains, &v.into())
    }
    /// The array does not contain `v`.
    pub fn not_contains(&self, v: impl Into<E>) -> Q {
        self.cmp(Lookup::NotContains, &v.into())
    }
    typed_set_lookups! { E;
        /// The array contains every value.
        containsall => ContainsAll,
        /// The array contains at least one value.
        containsany => ContainsAny,
        /// The array contains none of the values.
        containsnone => ContainsNone,
    }
}

/// A model's id as a caller may give it to `get`/`select`: a key, a [`RecordId`],
/// `(table, key)`, or a string (`"abc"`, `"person:abc"`, ``"person:`7abc`"``). A string is
/// always a string key unless it parses as a record id of the model's own table; it never
/// silently becomes a number.
pub trait IntoModelId<M: Model> {
    /// The record id, or an error naming the input.
    fn into_model_id(self) -> Result<RecordId, crate::Error>;
}

fn other_table<M: Model>(rid: &RecordId, input: &str) -> crate::Error {
    crate::Error::Invalid {
        what: "record id".into(),
        reason: format!(
            "`{input}` is a record of table `{}`, not of the model's table `{}`",
            rid.table,
            M::META.table
        ),
    }
}

impl<M: Model> IntoModelId<M> for RecordId {
    fn into_model_id(self) -> Result<RecordId, crate::Error> {
        if self.table != M::META.table {
            return Err(other_table::<M>(&self, &self.to_string()));
        }
        Ok(self)
    }
}

impl<M: Model> IntoModelId<M> for &RecordId {
    fn into_model_id(self) -> Result<RecordId, crate::Error> {
        IntoModelId::<M>::into_model_id(self.clone())
    }
}

impl<M: Model> IntoModelId<M> for &str {
    fn into_model_id(self) -> Result<RecordId, crate::Error> {
        let table = M::META.table;
        if let Some(rest) = self.strip_prefix(table).and_then(|r| r.strip_prefix(':')) {
            if !rest.is_empty() {
                // `person:abc`, ``person:`7abc` ``, `person:⟨a-b⟩`, `person:123` (a number key
                // only when written as one in the record-id syntax).
                if let Ok(rid) = crate::escape::parse_record_id(self) {
                    return Ok(RecordId::new(rid.table, M::Key::coerce_key(rid.key)));
                }
                // `person:a-b`: not record-id syntax, but unambiguous: the rest is the key.
                return Ok(RecordId::new(table, rest));
            }
        }
        if self.is_empty() {
            return Err(crate::Error::Invalid {
                what: "record id".into(),
                reason: "an empty string is not a record key".into(),
            });
        }
        Ok(RecordId::new(table, self))
    }
}

impl<M: Model> IntoModelId<M> for String {
    fn into_model_id(self) -> Result<RecordId, crate::Error> {
        IntoModelId::<M>::into_model_id(self.as_str())
    }
}

impl<M: Model> IntoModelId<M> for &String {
    fn into_model_id(self) -> Result<RecordId, crate::Error> {
        IntoModelId::<M>::into_model_id(self.as_str())
    }
}

impl<M: Model> IntoModelId<M> for i64 {
    fn into_model_id(self) -> Result<RecordId, crate::Error> {
        Ok(RecordId::new(M::META.table, self))
    }
}

impl<M: Model> IntoModelId<M> for Uuid {
    fn into_model_id(self) -> Result<RecordId, crate::Error> {
        Ok(RecordId::new(M::META.table, self))
    }
}

impl<M: Model> IntoModelId<M> for RecordIdKey {
    fn into_model_id(self) -> Result<RecordId, crate::Error> {
        Ok(RecordId::new(M::META.table, self))
    }
}

impl<M: Model, K: Into<RecordIdKey>> IntoModelId<M> for (&str, K) {
    fn into_model_id(self) -> Result<RecordId, crate::Error> {
        IntoModelId::<M>::into_model_id(RecordId::new(self.0, self.1))
    }
}

/// Rewrites a decoded row's id for the model's key type and decodes it as `M`.
pub fn decode_model<M: Model>(mut row: Value) -> Result<M, String> {
    if !M::Key::IS_RECORD_ID {
        if let Value::Object(o) = &mut row {
            if let Some(slot) = o.get_mut(M::META.id_field) {
                if let Value::RecordId(rid) = std::mem::replace(slot, Value::None) {
                    *slot = M::Key::decode_value(rid)?;
                }
            }
        }
    }
    crate::value::from_value(row).map_err(|e| e.to_string())
}

/// Writes rows of `M` as CBOR straight from serde: the object [`write_data`] builds (with
/// the id as a record id for inserts), without building it. One per action, so the list of
/// left-out keys is made once for all its rows.
pub(crate) struct DataWriter<M> {
    /// The id field and the server and computed fields (database names).
    omit: Vec<&'static str>,
    _m: PhantomData<fn(&M)>,
}

impl<M: Model> DataWriter<M> {
    pub(crate) fn new() -> Self {
        let mut omit = vec![M::META.id_field];
        omit.extend(M::META.unwritten());
        DataWriter {
            omit,
            _m: PhantomData,
        }
    }

    /// Appends the object a write of `m` sends; with `with_id`, its id first as a record id
    /// when it has one (what an `INSERT` sends). On error `out` is left as it was.
    pub(crate) fn write(
        &self,
        m: &M,
        with_id: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), crate::Error> {
        self.write_with(m, with_id, out, &mut Vec::new())
    }

    /// [`write`](Self::write) with a scratch buffer kept across rows.
    fn write_with(
        &self,
        m: &M,
        with_id: bool,
        out: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), crate::Error> {
        let id = if with_id { m.record_id() } else { None };
        let prefix = id.map(|rid| [(M::META.id_field, Value::RecordId(rid))]);
        let edit = crate::cbor::ObjectEdit {
            prefix: prefix.as_ref().map_or(&[], |p| p.as_slice()),
            omit: &self.omit,
        };
        match crate::cbor::write_object(m, &edit, out, scratch) {
            Ok(()) => Ok(()),
            Err(direct) => {
                // `write_data` names a value serde cannot convert, or a model that is not an
                // object, in its own words; when it succeeds, the direct route refused what
                // the check on bound values refuses (a decimal the server would round).
                write_data(m)?;
                Err(crate::Error::Invalid {
                    what: format!("{} data", M::META.rust_name),
                    reason: direct.to_string(),
                })
            }
        }
    }

    /// `rows` as one CBOR array of [`write`](Self::write)'s objects, bound as it is.
    pub(crate) fn rows(&self, rows: &[M], with_id: bool) -> Result<RawValue, crate::Error> {
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        crate::cbor::Encoder::new(&mut out).array(rows.len());
        let mut it = rows.iter();
        if let Some(first) = it.next() {
            self.write_with(first, with_id, &mut out, &mut scratch)?;
            // Rows of one model are alike in size: one allocation for the rest.
            out.reserve(out.len().saturating_mul(rows.len()) + out.len() / 8);
        }
        for m in it {
            self.write_with(m, with_id, &mut out, &mut scratch)?;
        }
        Ok(RawValue::from_encoded(out))
    }

    /// One object of [`write`](Self::write), bound as it is.
    pub(crate) fn one(&self, m: &M, with_id: bool) -> Result<RawValue, crate::Error> {
        let mut out = Vec::with_capacity(128);
        self.write(m, with_id, &mut out)?;
        Ok(RawValue::from_encoded(out))
    }
}

/// [`write_data`] as CBOR, appended to `out` straight from serde, with no [`Value`] tree
/// in between: the same object (the id and the server and computed fields left out, names
/// as serde renames them, NONE for `None`), with its fields in declaration order. What
/// `save` and `update` bind. A decimal the server would silently round is refused, as it is
/// in any bound value.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use surql::model::{write_data, write_data_cbor, Model};
/// use surql::{Datetime, RecordId, Value};
///
/// #[derive(Serialize, Deserialize, Model)]
/// #[surql(table = "person")]
/// struct Person {
///     id: Option<RecordId>,
///     name: String,
///     #[surql(server)]
///     created_at: Option<Datetime>,
/// }
///
/// let ada = Person { id: Some(RecordId::new("person", "ada")), name: "Ada".into(), created_at: None };
/// let mut out = Vec::new();
/// write_data_cbor(&ada, &mut out).unwrap();
/// assert_eq!(out, [0xa1, 0x64, b'n', b'a', b'm', b'e', 0x63, b'A', b'd', b'a']);
/// assert_eq!(surql::cbor::decode(&out).unwrap(), Value::Object(write_data(&ada).unwrap()));
/// ```
pub fn write_data_cbor<M: Model>(m: &M, out: &mut Vec<u8>) -> Result<(), crate::Error> {
    DataWriter::<M>::new().write(m, false, out)
}

/// The object an `INSERT` of `m` sends, as CBOR: [`write_data_cbor`] with the id first, as
/// the record id ([`Model::record_id`]), when `m` has one. What `bulk_create` and
/// `bulk_upsert` send for each row.
pub fn insert_data_cbor<M: Model>(m: &M, out: &mut Vec<u8>) -> Result<(), crate::Error> {
    DataWriter::<M>::new().write(m, true, out)
}

/// `rows` as the one array value an `INSERT` of them binds (each row as
/// [`insert_data_cbor`] writes it): what `bulk_create` binds per batch.
pub fn insert_rows_cbor<M: Model>(rows: &[M]) -> Result<RawValue, crate::Error> {
    DataWriter::<M>::new().rows(rows, true)
}

/// Serializes `m` as the object a write sends: without the id and without server and
/// computed fields.
pub fn write_data<M: Model>(m: &M) -> Result<crate::value::Object, crate::Error> {
    let v = crate::value::to_value(m).map_err(|e| crate::Error::Invalid {
        what: format!("{} data", M::META.rust_name),
        reason: e.to_string(),
    })?;
    let Value::Object(mut o) = v else {
        return Err(crate::Error::Invalid {
            what: format!("{} data", M::META.rust_name),
            reason: format!("a model must serialize as an object, not {}", v.kind()),
        });
    };
    o.remove(M::META.id_field);
    for name in M::META.unwritten() {
        o.remove(name);
    }
    Ok(o)
}

#[cfg(test)]
mod data_tests;
