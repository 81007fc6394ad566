//! Filters: typed field conditions ([`F`]), Django-style lookups ([`Q::lookup`]) and
//! boolean trees of them ([`Q`] with `&`, `|`, `!`).

use std::ops::{BitAnd, BitOr, Not};

use super::ident::{check_path, check_var, push_path};
use super::writer::Writer;
use super::{QueryError, QuerySet};
use crate::value::Value;

/// A comparison operator between a field and an operand. The Django spelling of each
/// variant is given; [`Lookup::parse`] accepts exactly these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lookup {
    /// `exact`: `f = v`.
    Exact,
    /// `ne`: `f != v`.
    Ne,
    /// `iexact`: `string::lowercase(f) = string::lowercase(v)`.
    IExact,
    /// `gt`: `f > v`.
    Gt,
    /// `gte`: `f >= v`.
    Gte,
    /// `lt`: `f < v`.
    Lt,
    /// `lte`: `f <= v`.
    Lte,
    /// `in`: `f IN v` (v an array, set or subquery).
    In,
    /// `not_in`: `f NOT IN v`.
    NotIn,
    /// `contains`: `f CONTAINS v` (string containment or array membership).
    Contains,
    /// `not_contains`: `f CONTAINSNOT v`.
    NotContains,
    /// `icontains`: `string::contains(string::lowercase(f), string::lowercase(v))`.
    IContains,
    /// `containsall`: `f CONTAINSALL v`.
    ContainsAll,
    /// `containsany`: `f CONTAINSANY v`.
    ContainsAny,
    /// `containsnone`: `f CONTAINSNONE v`.
    ContainsNone,
    /// `allinside`: `f ALLINSIDE v`.
    AllInside,
    /// `anyinside`: `f ANYINSIDE v`.
    AnyInside,
    /// `noneinside`: `f NONEINSIDE v`.
    NoneInside,
    /// `startswith`: `string::starts_with(f, v)`.
    StartsWith,
    /// `istartswith`: `string::starts_with(string::lowercase(f), string::lowercase(v))`.
    IStartsWith,
    /// `endswith`: `string::ends_with(f, v)`.
    EndsWith,
    /// `iendswith`: `string::ends_with(string::lowercase(f), string::lowercase(v))`.
    IEndsWith,
    /// `like`: SQL LIKE (`%`, `_`) turned into an anchored regex, `string::matches(f, v)`.
    Like,
    /// `ilike`: case-insensitive `like`.
    ILike,
    /// `regex`: `string::matches(f, v)`.
    Regex,
    /// `iregex`: `string::matches(f, v)` with `(?i)` prepended to the pattern.
    IRegex,
    /// `match`: full-text `f @@ v`.
    Match,
    /// `isnull`: `true` matches NONE (absent) and NULL; `false` matches every other value.
    IsNull,
}

const LOOKUPS: &[(&str, Lookup)] = &[
    ("exact", Lookup::Exact),
    ("ne", Lookup::Ne),
    ("iexact", Lookup::IExact),
    ("gt", Lookup::Gt),
    ("gte", Lookup::Gte),
    ("lt", Lookup::Lt),
    ("lte", Lookup::Lte),
    ("in", Lookup::In),
    ("not_in", Lookup::NotIn),
    ("contains", Lookup::Contains),
    ("not_contains", Lookup::NotContains),
    ("icontains", Lookup::IContains),
    ("containsall", Lookup::ContainsAll),
    ("containsany", Lookup::ContainsAny),
    ("containsnone", Lookup::ContainsNone),
    ("allinside", Lookup::AllInside),
    ("anyinside", Lookup::AnyInside),
    ("noneinside", Lookup::NoneInside),
    ("startswith", Lookup::StartsWith),
    ("istartswith", Lookup::IStartsWith),
    ("endswith", Lookup::EndsWith),
    ("iendswith", Lookup::IEndsWith),
    ("like", Lookup::Like),
    ("ilike", Lookup::ILike),
    ("regex", Lookup::Regex),
    ("iregex", Lookup::IRegex),
    ("match", Lookup::Match),
    ("isnull", Lookup::IsNull),
];

impl Lookup {
    /// The lookup named `name` (`"gte"`, `"icontains"`, …).
    ///
    /// ```
    /// use surql::query::Lookup;
    /// assert_eq!(Lookup::parse("gte"), Some(Lookup::Gte));
    /// assert_eq!(Lookup::parse("GTE"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Lookup> {
        LOOKUPS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
    }

    /// The Django name of this lookup.
    pub fn name(self) -> &'static str {
        LOOKUPS
            .iter()
            .find(|(_, l)| *l == self)
            .map(|(n, _)| *n)
            .unwrap_or("exact")
    }

    /// Lookups whose operand is a collection: a subquery is compared to its whole result.
    fn is_set(self) -> bool {
        use Lookup::*;
        matches!(
            self,
            In | NotIn
                | ContainsAll
                | ContainsAny
                | ContainsNone
                | AllInside
                | AnyInside
                | NoneInside
        )
    }
}

/// A named query variable (`$name`), for values bound elsewhere (a `LET`, the session, or
/// the caller's own vars). The name is validated as an identifier when compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var(pub String);

impl Var {
    /// `$name`.
    pub fn new(name: impl Into<String>) -> Self {
        Var(name.into())
    }
}

/// The right-hand side of a condition: a value (always bound), a variable or a subquery.
#[derive(Debug, Clone)]
pub enum Operand {
    /// A value, bound as `$pN`.
    Value(Value),
    /// A named variable, written as `$name`.
    Var(Var),
    /// A subquery, hoisted into `LET $sN = (…);` (inline in LIVE queries).
    Subquery(Box<QuerySet>),
}

impl<T: Into<Value>> From<T> for Operand {
    fn from(v: T) -> Self {
        Operand::Value(v.into())
    }
}
impl From<Var> for Operand {
    fn from(v: Var) -> Self {
        Operand::Var(v)
    }
}
impl<M> From<QuerySet<M>> for Operand {
    fn from(q: QuerySet<M>) -> Self {
        Operand::Subquery(Box::new(q.untyped()))
    }
}

/// One condition: `field <lookup> operand`.
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub(crate) field: String,
    pub(crate) lookup: Lookup,
    pub(crate) operand: Operand,
}

#[derive(Debug, Clone)]
enum Node {
    Cond(Cond),
    And(Vec<Q>),
    Or(Vec<Q>),
    Not(Box<Q>),
    /// A lookup string that could not be parsed; reported when compiled so builders stay infallible.
    Invalid(QueryError),
}

/// A filter tree. Build leaves with [`F`] or [`Q::lookup`], combine with `&`, `|` and `!`.
///
/// ```
/// use surql::query::{F, Q, QuerySet};
/// let q = F::new("age").gte(18) & (F::new("name").contains("a") | Q::lookup("role", "admin")) & !F::new("role").eq("banned");
/// let c = QuerySet::table("users").filter(q).compile().unwrap();
/// assert_eq!(c.text, "SELECT * FROM $t0 WHERE age >= $p0 AND (name CONTAINS $p1 OR role = $p2) AND NOT (role = $p3);");
/// ```
#[derive(Debug, Clone)]
pub struct Q(Node);

impl Q {
    /// A condition that fails to compile with `e` (builders stay infallible).
    pub(crate) fn invalid(e: QueryError) -> Q {
        Q(Node::Invalid(e))
    }

    /// A Django-style lookup: `"field"`, `"field__lookup"` or `"a.b__lookup"` (nested fields
    /// use dots). An unknown lookup is an error naming it, reported by `compile()`.
    ///
    /// ```
    /// use surql::query::{Q, QuerySet};
    /// let c = QuerySet::table("users").filter(Q::lookup("address.city__iexact", "paris")).compile().unwrap();
    /// assert_eq!(c.text, "SELECT * FROM $t0 WHERE (type::is_string(address.city) AND string::lowercase(address.city) = string::lowercase($p0));");
    /// ```
    pub fn lookup(key: &str, value: impl Into<Operand>) -> Q {
        let (field, lookup) = match key.split_once("__") {
            None => (key, Lookup::Exact),
            Some((field, name)) => match Lookup::parse(name) {
                Some(l) => (field, l),
                None => {
                    return Q(Node::Invalid(QueryError::UnknownLookup {
                        input: key.to_owned(),
                    }))
                }
            },
        };
        Q(Node::Cond(Cond {
            field: field.to_owned(),
            lookup,
            operand: value.into(),
        }))
    }

    /// All of `qs` (an empty list matches everything).
    pub fn and(qs: impl IntoIterator<Item = Q>) -> Q {
        Q(Node::And(qs.into_iter().collect()))
    }

    /// Any of `qs` (an empty list matches nothing).
    pub fn or(qs: impl IntoIterator<Item = Q>) -> Q {
        Q(Node::Or(qs.into_iter().collect()))
    }

    pub(crate) fn cond(field: &str, lookup: Lookup, operand: Operand) -> Q {
        Q(Node::Cond(Cond {
            field: field.to_owned(),
            lookup,
            operand,
        }))
    }

    /// Writes the condition. `top` is true when the caller joins with AND and no
    /// parentheses are needed around an AND group.
    pub(crate) fn write(&self, w: &mut Writer, ctx: CondCtx) -> Result<(), QueryError> {
        match &self.0 {
            Node::Invalid(e) => Err(e.clone()),
            Node::Cond(c) => write_cond(w, c, ctx),
            Node::Not(inner) => {
                w.sql("NOT (");
                inner.write(w, ctx)?;
                w.sql(")");
                Ok(())
            }
            Node::And(parts) => write_group(w, parts, " AND ", "true", ctx),
            Node::Or(parts) => write_group(w, parts, " OR ", "false", ctx),
        }
    }

    fn is_group(&self) -> bool {
        match &self.0 {
            Node::And(p) | Node::Or(p) => p.len() > 1,
            _ => false,
        }
    }

    /// Writes `qs` joined with AND at the top level of a WHERE clause.
    pub(crate) fn write_all(w: &mut Writer, qs: &[Q], ctx: CondCtx) -> Result<(), QueryError> {
        for (i, q) in qs.iter().enumerate() {
            if i > 0 {
                w.sql(" AND ");
            }
            let paren = matches!(&q.0, Node::Or(p) if p.len() > 1);
            if paren {
                w.sql("(");
            }
            q.write(w, ctx)?;
            if paren {
                w.sql(")");
            }
        }
        Ok(())
    }
}

/// How a condition is being compiled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CondCtx {
    /// LIVE SELECT: subqueries stay inline instead of being hoisted.
    pub(crate) live: bool,
}

fn write_group(
    w: &mut Writer,
    parts: &[Q],
    sep: &str,
    empty: &str,
    ctx: CondCtx,
) -> Result<(), QueryError> {
    if parts.is_empty() {
        w.sql(empty);
        return Ok(());
    }
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            w.sql(sep);
        }
        // A nested group always gets parentheses: `a AND (b OR c)`, never relying on precedence.
        let paren = p.is_group();
        if paren {
            w.sql("(");
        }
        p.write(w, ctx)?;
        if paren {
            w.sql(")");
        }
    }
    Ok(())
}

impl BitAnd for Q {
    type Output = Q;
    fn bitand(self, rhs: Q) -> Q {
        match self.0 {
            Node::And(mut v) => {
                v.push(rhs);
                Q(Node::And(v))
            }
            n => Q(Node::And(vec![Q(n), rhs])),
        }
    }
}

impl BitOr for Q {
    type Output = Q;
    fn bitor(self, rhs: Q) -> Q {
        match self.0 {
            Node::Or(mut v) => {
                v.push(rhs);
                Q(Node::Or(v))
            }
            n => Q(Node::Or(vec![Q(n), rhs])),
        }
    }
}

impl Not for Q {
    type Output = Q;
    fn not(self) -> Q {
        Q(Node::Not(Box::new(self)))
    }
}

impl<V: Into<Operand>> From<(&str, V)> for Q {
    /// `("age__gte", 18)` is [`Q::lookup`]`("age__gte", 18)`.
    fn from((k, v): (&str, V)) -> Q {
        Q::lookup(k, v)
    }
}

/// A field, the start of a typed condition: `F::new("age").gte(18)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct F(String);

macro_rules! simple_lookups {
    ($($(#[$m:meta])* $name:ident => $l:ident),* $(,)?) => {$(
        $(#[$m])*
        pub fn $name(&self, v: impl Into<Operand>) -> Q {
            Q::cond(&self.0, Lookup::$l, v.into())
        }
    )*};
}

macro_rules! set_lookups {
    ($($(#[$m:meta])* $name:ident => $l:ident),* $(,)?) => {$(
        $(#[$m])*
        pub fn $name<I, V>(&self, values: I) -> Q
        where
            I: IntoIterator<Item = V>,
            V: Into<Value>,
        {
            let list = values.into_iter().map(Into::into).collect::<Vec<Value>>();
            Q::cond(&self.0, Lookup::$l, Operand::Value(Value::Array(list)))
        }
    )*};
}

impl F {
    /// The field (or dotted path such as `address.city`); validated when compiled.
    pub fn new(path: impl Into<String>) -> F {
        F(path.into())
    }

    /// `field <lookup> value` for a lookup chosen at runtime.
    pub fn lookup(&self, lookup: Lookup, v: impl Into<Operand>) -> Q {
        Q::cond(&self.0, lookup, v.into())
    }

    simple_lookups! {
        /// `f = v`.
        ///
        /// ```
        /// use surql::query::{F, QuerySet};
        /// let c = QuerySet::table("users").filter(F::new("name").eq("ann")).compile().unwrap();
        /// assert_eq!(c.text, "SELECT * FROM $t0 WHERE name = $p0;");
        /// assert_eq!(c.vars["p0"], "ann".into());
        /// ```
        eq => Exact,
        /// `f != v`.
        ne => Ne,
        /// Case-insensitive equality (both sides lower-cased on the server).
        iexact => IExact,
        /// `f > v`.
        gt => Gt,
        /// `f >= v`.
        gte => Gte,
        /// `f < v`.
        lt => Lt,
        /// `f <= v`.
        lte => Lte,
        /// `f CONTAINS v`.
        contains => Contains,
        /// `f CONTAINSNOT v`.
        not_contains => NotContains,
        /// Case-insensitive substring test.
        icontains => IContains,
        /// `string::starts_with(f, v)`.
        startswith => StartsWith,
        /// Case-insensitive `startswith`.
        istartswith => IStartsWith,
        /// `string::ends_with(f, v)`.
        endswith => EndsWith,
        /// Case-insensitive `endswith`.
        iendswith => IEndsWith,
        /// SQL LIKE pattern (`%` any run, `_` one char), matched as an anchored regex.
        like => Like,
        /// Case-insensitive `like`.
        ilike => ILike,
        /// `string::matches(f, pattern)`.
        regex => Regex,
        /// Case-insensitive regex.
        iregex => IRegex,
        /// Full-text `f @@ v` (needs a full-text index on the field).
        matches => Match,
    }

    set_lookups! {
        /// `f IN [values]`.
        ///
        /// ```
        /// use surql::query::{F, QuerySet};
        /// let c = QuerySet::table("users").filter(F::new("age").is_in([18, 21])).compile().unwrap();
        /// assert_eq!(c.text, "SELECT * FROM $t0 WHERE age IN $p0;");
        /// assert_eq!(c.vars["p0"], surql::Value::Array(vec![18.into(), 21.into()]));
        /// ```
        is_in => In,
        /// `f NOT IN [values]`.
        not_in => NotIn,
        /// `f CONTAINSALL [values]`.
        contains_all => ContainsAll,
        /// `f CONTAINSANY [values]`.
        contains_any => ContainsAny,
        /// `f CONTAINSNONE [values]`.
        contains_none => ContainsNone,
        /// `f ALLINSIDE [values]`.
        all_inside => AllInside,
        /// `f ANYINSIDE [values]`.
        any_inside => AnyInside,
        /// `f NONEINSIDE [values]`.
        none_inside => NoneInside,
    }

    /// `f IN <subquery>`: the subquery is hoisted into a `LET` and compared as a set.
    ///
    /// ```
    /// use surql::query::{F, QuerySet};
    /// let admins = QuerySet::table("users").filter(F::new("role").eq("admin")).select_value("id");
    /// let c = QuerySet::table("posts").filter(F::new("author").in_query(admins)).compile().unwrap();
    /// assert_eq!(c.text, "LET $s0 = (SELECT VALUE id FROM $t1 WHERE role = $p0); SELECT * FROM $t0 WHERE author IN $s0;");
    /// assert_eq!(c.result_index, 1);
    /// ```
    pub fn in_query<M>(&self, q: QuerySet<M>) -> Q {
        Q::cond(
            &self.0,
            Lookup::In,
            Operand::Subquery(Box::new(q.untyped())),
        )
    }

    /// `true`: the field is NONE (absent) or NULL. `false`: it holds any other value.
    ///
    /// ```
    /// use surql::query::{F, QuerySet};
    /// let c = QuerySet::table("users").filter(F::new("email").is_null(true)).compile().unwrap();
    /// assert_eq!(c.text, "SELECT * FROM $t0 WHERE (email IS NONE OR email IS NULL);");
    /// assert!(c.vars.get("p0").is_none());
    /// ```
    pub fn is_null(&self, yes: bool) -> Q {
        Q::cond(&self.0, Lookup::IsNull, Operand::Value(Value::Bool(yes)))
    }
}

/// Turns a SQL LIKE pattern into an anchored regex (`%` → `.*`, `_` → `.`, specials escaped).
pub(crate) fn like_to_regex(pattern: &str) -> String {
    let mut out = String::from("^");
    for c in pattern.chars() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '\\' | '.' | '[' | ']' | '{' | '}' | '(' | ')' | '*' | '+' | '?' | '^' | '$' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('$');
    out
}

fn write_field(w: &mut Writer, field: &str) -> Result<(), QueryError> {
    check_path("field", field)?;
    push_path(&mut w.text, field);
    Ok(())
}

/// Opens `(type::is_string(f) AND ` before a string function on `f`; the caller closes it.
///
/// The 3.3 server refuses to coerce NONE, NULL, numbers or arrays to a `string` argument and
/// fails the WHERE clause (and so the whole statement) on the first row whose field is not a
/// string. Such a row simply does not match a string lookup; `AND` short-circuits per row.
fn open_string_guard(w: &mut Writer, field: &str) -> Result<(), QueryError> {
    w.sql("(type::is_string(");
    write_field(w, field)?;
    w.sql(") AND ");
    Ok(())
}

fn string_value(c: &Cond) -> Result<Option<&str>, QueryError> {
    match &c.operand {
        Operand::Value(Value::String(s)) => Ok(Some(s)),
        Operand::Value(v) => Err(QueryError::BadValue {
            field: c.field.clone(),
            lookup: c.lookup.name(),
            expected: "a string",
            found: v.kind(),
        }),
        _ => Ok(None),
    }
}

fn write_operand(w: &mut Writer, c: &Cond, ctx: CondCtx) -> Result<(), QueryError> {
    match &c.operand {
        Operand::Value(v) => {
            w.value(v.clone());
            Ok(())
        }
        Operand::Var(v) => {
            check_var("variable", &v.0)?;
            w.sql("$");
            w.sql(&v.0);
            Ok(())
        }
        Operand::Subquery(q) => {
            // A set lookup compares against the whole result; a scalar one against its first row.
            let scalar = !c.lookup.is_set();
            if scalar {
                w.sql("array::first(");
            }
            if ctx.live {
                w.sql("(");
                q.write_select(w, ctx)?;
                w.sql(")");
            } else {
                w.hoist(|w| q.write_select(w, ctx))?;
            }
            if scalar {
                w.sql(")");
            }
            Ok(())
        }
    }
}

fn write_cond(w: &mut Writer, c: &Cond, ctx: CondCtx) -> Result<(), QueryError> {
    use Lookup::*;
    let binary = match c.lookup {
        Exact => Some(" = "),
        Ne => Some(" != "),
        Gt => Some(" > "),
        Gte => Some(" >= "),
        Lt => Some(" < "),
        Lte => Some(" <= "),
        In => Some(" IN "),
        NotIn => Some(" NOT IN "),
        Contains => Some(" CONTAINS "),
        NotContains => Some(" CONTAINSNOT "),
        ContainsAll => Some(" CONTAINSALL "),
        ContainsAny => Some(" CONTAINSANY "),
        ContainsNone => Some(" CONTAINSNONE "),
        AllInside => Some(" ALLINSIDE "),
        AnyInside => Some(" ANYINSIDE "),
        NoneInside => Some(" NONEINSIDE "),
        Match => Some(" @@ "),
        _ => None,
    };
    if let Some(op) = binary {
        if c.lookup.is_set() {
            if let Operand::Value(v) = &c.operand {
                if !matches!(v, Value::Array(_) | Value::Set(_)) {
                    return Err(QueryError::BadValue {
                        field: c.field.clone(),
                        lookup: c.lookup.name(),
                        expected: "an array or set",
                        found: v.kind(),
                    });
                }
            }
        }
        write_field(w, &c.field)?;
        w.sql(op);
        return write_operand(w, c, ctx);
    }
    match c.lookup {
        IsNull => {
            let yes = match &c.operand {
                Operand::Value(Value::Bool(b)) => *b,
                other => {
                    return Err(QueryError::BadValue {
                        field: c.field.clone(),
                        lookup: "isnull",
                        expected: "a bool",
                        found: match other {
                            Operand::Value(v) => v.kind(),
                            Operand::Var(_) => "variable",
                            Operand::Subquery(_) => "subquery",
                        },
                    })
                }
            };
            check_path("field", &c.field)?;
            let (a, b, join) = if yes {
                (" IS NONE", " IS NULL", " OR ")
            } else {
                (" IS NOT NONE", " IS NOT NULL", " AND ")
            };
            w.sql("(");
            write_field(w, &c.field)?;
            w.sql(a);
            w.sql(join);
            write_field(w, &c.field)?;
            w.sql(b);
            w.sql(")");
            Ok(())
        }
        IExact => {
            string_value(c)?;
            open_string_guard(w, &c.field)?;
            w.sql("string::lowercase(");
            write_field(w, &c.field)?;
            w.sql(") = string::lowercase(");
            write_operand(w, c, ctx)?;
            w.sql("))");
            Ok(())
        }
        StartsWith | EndsWith | IStartsWith | IEndsWith | IContains => {
            string_value(c)?;
            let func = match c.lookup {
                StartsWith | IStartsWith => "string::starts_with(",
                EndsWith | IEndsWith => "string::ends_with(",
                _ => "string::contains(",
            };
            let ci = matches!(c.lookup, IStartsWith | IEndsWith | IContains);
            open_string_guard(w, &c.field)?;
            w.sql(func);
            if ci {
                w.sql("string::lowercase(");
            }
            write_field(w, &c.field)?;
            if ci {
                w.sql("), string::lowercase(");
                write_operand(w, c, ctx)?;
                w.sql(")))");
            } else {
                w.sql(", ");
                write_operand(w, c, ctx)?;
                w.sql("))");
            }
            Ok(())
        }
        Like | ILike | Regex | IRegex => {
            let pattern = match string_value(c)? {
                Some(s) => s,
                None => {
                    return Err(QueryError::BadValue {
                        field: c.field.clone(),
                        lookup: c.lookup.name(),
                        expected: "a string pattern",
                        found: "variable or subquery",
                    })
                }
            };
            let regex = match c.lookup {
                Like => like_to_regex(pattern),
                ILike => format!("(?i){}", like_to_regex(pattern)),
                IRegex => format!("(?i){pattern}"),
                _ => pattern.to_owned(),
            };
            open_string_guard(w, &c.field)?;
            w.sql("string::matches(");
            write_field(w, &c.field)?;
            w.sql(", ");
            w.value(Value::String(regex));
            w.sql("))");
            Ok(())
        }
        _ => Err(QueryError::UnknownLookup {
            input: c.lookup.name().to_owned(),
        }),
    }
}
