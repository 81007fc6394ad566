//! Server-side expressions in writes: function calls such as `time::now()` or
//! `fn::custom($x)`, field references, and atomic updates (`+=`, `-=`, `array::append`, …).
//!
//! Nothing a caller passes reaches the statement text unchecked: values are bound as
//! parameters, function names must be `name::name…` identifiers, field paths go through the
//! one escaper, and caller variables are renamed `$v_<name>` so they can never collide with
//! the compiler's own `$p0`/`$t0`/`$s0`.
//!
//! ```
//! use surql::model::{Changes, Expr};
//! let c = Changes::new()
//!     .set_path("name", "Ada")
//!     .increment_path("visits", 1)
//!     .set_expr_path("seen_at", Expr::now())
//!     .set_expr_path("score", Expr::func("fn::score", [Expr::var("bonus"), Expr::field("visits")]))
//!     .bind("bonus", 10);
//! let q = c.compile_update(&surql::RecordId::new("person", "ada")).unwrap();
//! assert_eq!(
//!     q.text,
//!     "UPDATE $p0 SET name = $p1, visits += $p2, seen_at = time::now(), score = fn::score($v_bonus, visits) RETURN AFTER;"
//! );
//! assert_eq!(q.vars["v_bonus"], 10.into());
//! ```

use serde::Serialize;

use super::Field;
use crate::query::ident::{check_path, check_var, push_path};
use crate::query::writer::{Mode, Writer};
use crate::query::{CompiledQuery, QueryError};
use crate::value::{to_value, RecordId, Value};

/// A server-side expression used as the right-hand side of a write.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr(ExprKind);

#[derive(Debug, Clone, PartialEq)]
enum ExprKind {
    Value(Value),
    Field(String),
    Var(String),
    Input(String),
    Func(String, Vec<Expr>),
    /// `(field ?? [])`: an array field, empty when absent.
    OrEmpty(String),
    Invalid(String, String),
}

/// Checks a function name: `name::name…` (`time::now`, `fn::my_fn`, `array::append`), each
/// part a plain identifier.
fn check_func(name: &str) -> Result<(), QueryError> {
    let ok = !name.is_empty()
        && name.split("::").all(|part| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(QueryError::InvalidIdent {
            context: "function name",
            input: name.to_owned(),
        })
    }
}

impl Expr {
    /// A value, bound as a parameter.
    pub fn value(v: impl Serialize) -> Expr {
        match to_value(&v) {
            Ok(v) => Expr(ExprKind::Value(v)),
            Err(e) => Expr(ExprKind::Invalid("value".into(), e.to_string())),
        }
    }

    /// A field of the record being written (`visits`, `address.city`).
    pub fn field(path: impl Into<String>) -> Expr {
        Expr(ExprKind::Field(path.into()))
    }

    /// A typed field of the record being written.
    pub fn of<M, T>(field: Field<M, T>) -> Expr {
        Expr(ExprKind::Field(field.path()))
    }

    /// A caller variable, bound with [`Changes::bind`]: written `$v_<name>`.
    pub fn var(name: impl Into<String>) -> Expr {
        Expr(ExprKind::Var(name.into()))
    }

    /// In `ON DUPLICATE KEY UPDATE`: the value the INSERT tried to write for `field`
    /// (`$input.field`).
    pub fn input(field: impl Into<String>) -> Expr {
        Expr(ExprKind::Input(field.into()))
    }

    /// A function call `name(args…)`: a builtin (`time::now`, `string::lowercase`) or a
    /// defined function (`fn::custom`). The name is checked; the arguments are expressions.
    pub fn func(name: impl Into<String>, args: impl IntoIterator<Item = impl Into<Expr>>) -> Expr {
        Expr(ExprKind::Func(
            name.into(),
            args.into_iter().map(Into::into).collect(),
        ))
    }

    /// `time::now()`.
    pub fn now() -> Expr {
        Expr::func("time::now", std::iter::empty::<Expr>())
    }

    pub(crate) fn write(&self, w: &mut Writer) -> Result<(), QueryError> {
        match &self.0 {
            ExprKind::Value(v) => w.value(v.clone()),
            ExprKind::Field(p) => {
                check_path("field", p)?;
                push_path(&mut w.text, p);
            }
            ExprKind::Var(name) => {
                check_var("variable", name)?;
                w.sql("$v_");
                w.sql(name);
            }
            ExprKind::Input(p) => {
                check_path("field", p)?;
                w.sql("$input.");
                push_path(&mut w.text, p);
            }
            ExprKind::Func(name, args) => {
                check_func(name)?;
                w.sql(name);
                w.sql("(");
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        w.sql(", ");
                    }
                    a.write(w)?;
                }
                w.sql(")");
            }
            ExprKind::OrEmpty(p) => {
                check_path("field", p)?;
                w.sql("(");
                push_path(&mut w.text, p);
                w.sql(" ?? [])");
            }
            ExprKind::Invalid(field, reason) => {
                return Err(QueryError::Value {
                    field: field.clone(),
                    reason: reason.clone(),
                })
            }
        }
        Ok(())
    }
}

impl From<Value> for Expr {
    fn from(v: Value) -> Self {
        Expr(ExprKind::Value(v))
    }
}

macro_rules! expr_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Expr {
            fn from(v: $t) -> Self {
                Expr(ExprKind::Value(Value::from(v)))
            }
        }
    )*};
}
expr_from!(i64, i32, f64, bool, String, &str, RecordId);

/// How one field is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `f = e`
    Set,
    /// `f += e`
    Add,
    /// `f -= e`
    Sub,
}

/// A list of field changes: the `SET` clause of an UPDATE, the `ON DUPLICATE KEY UPDATE`
/// clause of an upsert. Typed methods take a [`Field`] handle and a value of its type;
/// `*_path` methods take a field path for dynamic use.
///
/// Every right-hand side sees the record as it was BEFORE the statement (SurrealDB 3.3
/// evaluates `SET age += 5, double = age * 2` with the old `age`), so changing one field
/// twice in one write would silently keep only the last change: that is refused when
/// compiled, naming the field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    items: Vec<(String, Op, Expr)>,
    vars: Vec<(String, Value)>,
    invalid: Option<(String, String)>,
}

impl Changes {
    /// No changes yet.
    pub fn new() -> Self {
        Changes::default()
    }

    /// `true` when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn push(mut self, path: String, op: Op, e: Expr) -> Self {
        self.items.push((path, op, e));
        self
    }

    /// `field = value`.
    pub fn set<M, T: Serialize>(self, field: Field<M, T>, v: impl Into<T>) -> Self {
        self.push(field.path(), Op::Set, Expr::value(v.into()))
    }

    /// `field = NONE`: removes the field.
    pub fn unset<M, T>(self, field: Field<M, T>) -> Self {
        self.push(field.path(), Op::Set, Expr(ExprKind::Value(Value::None)))
    }

    /// `field = <expression>` (`time::now()`, `fn::x($v)`, …).
    pub fn set_expr<M, T>(self, field: Field<M, T>, e: Expr) -> Self {
        self.push(field.path(), Op::Set, e)
    }

    /// `field += by` (atomic on the server).
    pub fn increment<M, T: Serialize>(self, field: Field<M, T>, by: impl Into<T>) -> Self {
        self.push(field.path(), Op::Add, Expr::value(by.into()))
    }

    /// `field -= by` (atomic on the server).
    pub fn decrement<M, T: Serialize>(self, field: Field<M, T>, by: impl Into<T>) -> Self {
        self.push(field.path(), Op::Sub, Expr::value(by.into()))
    }

    /// `field = array::append(field ?? [], v)`: appends one element.
    pub fn append<M, E: Serialize>(self, field: Field<M, Vec<E>>, v: impl Into<E>) -> Self {
        let p = field.path();
        self.append_path(p, Expr::value(v.into()))
    }

    /// `field -= v`: removes every element equal to `v`.
    pub fn remove<M, E: Serialize>(self, field: Field<M, Vec<E>>, v: impl Into<E>) -> Self {
        self.push(field.path(), Op::Sub, Expr::value(v.into()))
    }

    /// `field = array::remove(field, index)`: removes the element at `index`
    /// (negative counts from the end).
    pub fn remove_index<M, E>(self, field: Field<M, Vec<E>>, index: i64) -> Self {
        let p = field.path();
        let e = Expr::func(
            "array::remove",
            [Expr::field(p.clone()), Expr::value(index)],
        );
        self.push(p, Op::Set, e)
    }

    /// `field = array::add(field ?? [], v)`: adds `v` unless already present (set-add).
    pub fn add_to_set<M, E: Serialize>(self, field: Field<M, Vec<E>>, v: impl Into<E>) -> Self {
        let p = field.path();
        let e = Expr::func(
            "array::add",
            [Expr(ExprKind::OrEmpty(p.clone())), Expr::value(v.into())],
        );
        self.push(p, Op::Set, e)
    }

    /// In `ON DUPLICATE KEY UPDATE`: `field = $input.field` (take the inserted value).
    pub fn replace<M, T>(self, field: Field<M, T>) -> Self {
        let p = field.path();
        self.push(p.clone(), Op::Set, Expr::input(p))
    }

    /// `path = value` (dynamic form).
    pub fn set_path(self, path: impl Into<String>, v: impl Serialize) -> Self {
        self.push(path.into(), Op::Set, Expr::value(v))
    }

    /// `path = <expression>` (dynamic form).
    pub fn set_expr_path(self, path: impl Into<String>, e: Expr) -> Self {
        self.push(path.into(), Op::Set, e)
    }

    /// `path += v` (dynamic form).
    pub fn increment_path(self, path: impl Into<String>, v: impl Serialize) -> Self {
        self.push(path.into(), Op::Add, Expr::value(v))
    }

    /// `path -= v` (dynamic form).
    pub fn decrement_path(self, path: impl Into<String>, v: impl Serialize) -> Self {
        self.push(path.into(), Op::Sub, Expr::value(v))
    }

    /// `path = array::append(path ?? [], e)` (dynamic form).
    pub fn append_path(self, path: impl Into<String>, e: Expr) -> Self {
        let p = path.into();
        let e = Expr::func("array::append", [Expr(ExprKind::OrEmpty(p.clone())), e]);
        self.push(p, Op::Set, e)
    }

    /// `path = $input.path` (dynamic form of [`replace`](Changes::replace)).
    pub fn replace_path(self, path: impl Into<String>) -> Self {
        let p = path.into();
        self.push(p.clone(), Op::Set, Expr::input(p))
    }

    /// The changed field paths, in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> + '_ {
        self.items.iter().map(|(p, _, _)| p.as_str())
    }

    /// Appends `other`'s changes and variables after these.
    pub fn extend(mut self, other: Changes) -> Self {
        self.items.extend(other.items);
        self.vars.extend(other.vars);
        if self.invalid.is_none() {
            self.invalid = other.invalid;
        }
        self
    }

    /// Binds a caller variable used by [`Expr::var`]`(name)` (sent as `$v_<name>`).
    pub fn bind(mut self, name: impl Into<String>, v: impl Serialize) -> Self {
        let name = name.into();
        match to_value(&v) {
            Ok(v) => self.vars.push((name, v)),
            Err(e) => {
                self.invalid
                    .get_or_insert((format!("${name}"), e.to_string()));
            }
        }
        self
    }

    /// Writes `a = e, b += e, …` and binds the caller variables.
    pub(crate) fn write(&self, w: &mut Writer) -> Result<(), QueryError> {
        if let Some((field, reason)) = &self.invalid {
            return Err(QueryError::Value {
                field: field.clone(),
                reason: reason.clone(),
            });
        }
        if self.items.is_empty() {
            return Err(QueryError::Unsupported {
                what: "a write with no changes",
            });
        }
        for (name, v) in &self.vars {
            check_var("variable", name)?;
            w.bind_named(&format!("v_{name}"), v.clone());
        }
        for (i, (path, op, e)) in self.items.iter().enumerate() {
            if self.items[..i].iter().any(|(p, _, _)| p == path) {
                return Err(QueryError::Value {
                    field: path.clone(),
                    reason: "is changed twice in one write: SurrealDB evaluates every change against the record as it was before the statement, so the first change would be silently lost; combine them into one expression or use two writes".into(),
                });
            }
            if i > 0 {
                w.sql(", ");
            }
            check_path("field", path)?;
            push_path(&mut w.text, path);
            w.sql(match op {
                Op::Set => " = ",
                Op::Add => " += ",
                Op::Sub => " -= ",
            });
            e.write(w)?;
        }
        Ok(())
    }

    /// `UPDATE <record> SET … RETURN AFTER;` (the record is bound).
    pub fn compile_update(&self, record: &RecordId) -> Result<CompiledQuery, QueryError> {
        let mut w = Writer::new(Mode::Bound);
        w.sql("UPDATE ");
        w.value(Value::RecordId(record.clone()));
        w.sql(" SET ");
        self.write(&mut w)?;
        w.sql(" RETURN AFTER");
        Ok(w.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_clause(c: &Changes) -> Result<CompiledQuery, QueryError> {
        let mut w = Writer::new(Mode::Bound);
        c.write(&mut w)?;
        Ok(w.finish())
    }

    #[test]
    fn atomic_operations_compile_to_exact_text() {
        let c = Changes::new()
            .increment_path("n", 1)
            .decrement_path("m", 2)
            .append_path("tags", Expr::value("x"))
            .set_expr_path("at", Expr::now())
            .replace_path("name");
        assert_eq!(
            set_clause(&c).unwrap().text,
            "n += $p0, m -= $p1, tags = array::append((tags ?? []), $p2), at = time::now(), name = $input.name;"
        );
    }

    #[test]
    fn names_are_checked_and_values_bound() {
        let bad = Changes::new()
            .set_expr_path("a", Expr::func("time::now(); DELETE x", Vec::<Expr>::new()));
        assert!(matches!(
            set_clause(&bad),
            Err(QueryError::InvalidIdent {
                context: "function name",
                ..
            })
        ));
        let bad = Changes::new().set_expr_path("a", Expr::var("x y"));
        assert!(matches!(
            set_clause(&bad),
            Err(QueryError::InvalidIdent {
                context: "variable",
                ..
            })
        ));
        let bad = Changes::new().set_path("", 1);
        assert!(set_clause(&bad).is_err());
        let odd = Changes::new().set_path("`first-name`", "'; DROP");
        let q = set_clause(&odd).unwrap();
        assert_eq!(q.text, "`first-name` = $p0;");
        assert_eq!(q.vars["p0"], "'; DROP".into());
        assert!(set_clause(&Changes::new()).is_err());
    }

    #[test]
    fn caller_variables_cannot_collide_with_compiler_ones() {
        let c = Changes::new()
            .set_expr_path("a", Expr::var("p0"))
            .bind("p0", 5)
            .set_path("b", 6);
        let q = set_clause(&c).unwrap();
        assert_eq!(q.text, "a = $v_p0, b = $p0;");
        assert_eq!(q.vars["v_p0"], 5.into());
        assert_eq!(q.vars["p0"], 6.into());
    }
}
