//! SurrealDB 4.0 and stored rows: the `MIGRATE EXISTING ROWS` clause a field change needs.
//!
//! On SurrealDB 4.0 (checked against 4.0.0-beta.1) a `SCHEMAFULL` table that has rows
//! refuses a `DEFINE FIELD` whose definition does not accept every value the old one did
//! (`int` → `float`, `float` → `int`, `option<string>` → `string`), and a new field whose
//! `TYPE` does not accept `NONE`: "the table is SCHEMAFULL in a database at compatibility
//! level 4 and has rows, …: add MIGRATE EXISTING ROWS". The statement must say what the
//! stored rows hold afterwards:
//!
//! ```text
//! DEFINE FIELD OVERWRITE age ON person TYPE float
//!     MIGRATE EXISTING ROWS AS <name> USING <transform of $value> [FALLBACK <constant>]
//! ```
//!
//! SurrealDB 3.x does not know the clause (a parse error) and keeps stored values as they
//! are. So migration files stay version-neutral, plain `DEFINE` statements that apply on
//! both, and [`MigrationRun`](super::migrations::MigrationRun) adds the clause **when it
//! applies a migration**, after asking the connected server's `version()`, only where
//! [`ServerVersion::migrates_existing_rows`](crate::version::ServerVersion::migrates_existing_rows)
//! (4.0 and later) and only to the `DEFINE FIELD` statements that need it
//! ([`clause_for`]), judged against the schema replayed from the migration files before
//! the statement. The clause cannot be written into the file ahead of time: its name must
//! be new each time it runs (4.0 records the names a table has run and silently skips a
//! statement whose migration ran before, definition included, so re-applying a migration
//! after a rollback under the same name would change nothing), and a file must still apply
//! on 3.x.
//!
//! What the added clause does: `USING $value` keeps each stored value, coerced to the new
//! type without loss (4.0 checks the result against the new definition: `36` becomes `36.0`
//! for `float`, `36.0` becomes `36` for `int`); a value that does not convert without loss
//! (`36.5` for `int`) takes the `FALLBACK` ([`fallback`]): `NONE` when the new type accepts
//! it, else the field's `DEFAULT` when that is a constant, else the type's zero value (`0`,
//! `''`, `[]`, …). The server counts the rows that took it (`INFO FOR TABLE`, `migrations`).
//! To decide otherwise, write the clause in the migration file: a statement that carries
//! its own `MIGRATE EXISTING ROWS` is sent as written (and only applies on 4.0 and later).
//! Where surql knows no constant of the new type (a `record`, a `geometry`, a literal
//! type) it adds nothing and the server's refusal names the statement.
//!
//! ```
//! use surql::schema::{migrate_rows, Schema};
//!
//! let mut before = Schema::new();
//! before
//!     .apply_sql("DEFINE TABLE person TYPE NORMAL SCHEMAFULL; DEFINE FIELD age ON person TYPE int;")
//!     .unwrap();
//! let up = ["DEFINE FIELD OVERWRITE age ON person TYPE float".to_owned()];
//! assert_eq!(
//!     migrate_rows::adapt(&up, &before, "0002_person_v2_up_0000002a"),
//!     ["DEFINE FIELD OVERWRITE age ON person TYPE float \
//!       MIGRATE EXISTING ROWS AS surql_0002_person_v2_up_0000002a_age USING $value FALLBACK 0.0"]
//! );
//! ```

use super::migrations::slugify;
use super::parse::{self, has_migrate_clause, Statement};
use super::types::split_top;
use super::{Field, Schema, Table};
use crate::escape::escape_ident;

/// `statements` (one migration step, in order, without their `;`) as a 4.0 server needs
/// them: each `DEFINE FIELD` that needs it ([`clause_for`]) gets a `MIGRATE EXISTING ROWS`
/// clause named `surql_<tag>_<field>`. 4.0 refuses to migrate a field an index reads
/// ("remove the index, migrate, then define it again"), so such an index is removed just
/// before the statement and defined again just after it, unless the step itself removes
/// it later (that `REMOVE INDEX` then becomes `REMOVE INDEX IF EXISTS`);
/// [`defer_index_builds`] then moves the definition after the commit. Everything else is
/// unchanged.
///
/// `before` is the schema before the step; the statements are replayed onto it one by one,
/// so a table redefined earlier in the step is judged as redefined. Only tables that exist
/// in `before` can have rows: a table the step creates gets no clause.
pub fn adapt(statements: &[String], before: &Schema, tag: &str) -> Vec<String> {
    let mut state = before.clone();
    let mut out: Vec<String> = Vec::new();
    // Indexes this function removed and defined again: (table, index).
    let mut rebuilt: Vec<(String, String)> = Vec::new();
    let removes_later = |from: usize, table: &str, index: &str| {
        statements[from..]
            .iter()
            .any(|s| match parse::parse_statement(s) {
                Ok(Statement::Remove {
                    kind: parse::RemoveKind::Index,
                    name,
                    table: Some(t),
                }) => t == table && name == index,
                Ok(Statement::Remove {
                    kind: parse::RemoveKind::Table,
                    name,
                    ..
                }) => name == table,
                _ => false,
            })
    };
    for (i, s) in statements.iter().enumerate() {
        let parsed = parse::parse_statement(s);
        let mut stmt = s.clone();
        let mut after = Vec::new();
        match &parsed {
            Ok(Statement::DefineField(f, _)) => {
                let table = state.tables.get(&f.table);
                let previous = table.and_then(|t| t.fields.get(&f.name));
                let skipped = has_migrate_clause(s) || (if_not_exists(s) && previous.is_some());
                if let (false, true, Some(t)) =
                    (skipped, before.tables.contains_key(&f.table), table)
                {
                    let name = format!("surql_{tag}_{}", slugify(&f.name));
                    if let Some(c) = clause_for(t, previous, f, &name) {
                        stmt = format!("{s} {c}");
                        for ix in t.indexes.values().filter(|ix| reads(ix, &f.name)) {
                            out.push(ix.remove_sql().trim_end_matches(';').to_owned());
                            if !removes_later(i + 1, &ix.table, &ix.name) {
                                after.push(ix.define_sql().trim_end_matches(';').to_owned());
                            }
                            rebuilt.push((ix.table.clone(), ix.name.clone()));
                        }
                    }
                }
            }
            Ok(Statement::Remove {
                kind: parse::RemoveKind::Index,
                name,
                table: Some(t),
            }) if rebuilt.contains(&(t.clone(), name.clone())) => {
                if let Some(rest) = s.trim_start().get("REMOVE INDEX ".len()..) {
                    if !rest
                        .trim_start()
                        .to_ascii_uppercase()
                        .starts_with("IF EXISTS")
                    {
                        stmt = format!("REMOVE INDEX IF EXISTS {}", rest.trim_start());
                    }
                }
            }
            _ => {}
        }
        if let Ok(st) = &parsed {
            // A statement the replay cannot follow leaves the state as it was.
            let _ = state.apply(st);
        }
        out.push(stmt);
        out.extend(after);
    }
    out
}

/// Whether index `ix` reads the field at `path` (or beneath it, or a field it is beneath).
fn reads(ix: &super::Index, path: &str) -> bool {
    let root = |p: &str| p.split(['.', '[']).next().unwrap_or(p).trim().to_owned();
    ix.fields.iter().any(|f| root(f) == root(path))
}

/// Splits one step's statements, as [`adapt`] made them for SurrealDB 4.0, into the main
/// transaction and the `DEFINE INDEX` statements that must wait until it commits: 4.0
/// builds an index from committed rows only, so it refuses an index on a table in the
/// transaction that runs a migration of that table ("Cannot define an index on table … in
/// the transaction that runs migration …: Commit the migration first"). The deferred
/// statements are those on a table an earlier statement of the step migrates (a `DEFINE
/// FIELD … MIGRATE EXISTING ROWS`), in order. On 3.x nothing is deferred: one transaction.
pub fn defer_index_builds(statements: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut migrated: Vec<String> = Vec::new();
    let (mut main, mut deferred) = (Vec::new(), Vec::new());
    for s in statements {
        match parse::parse_statement(&s) {
            Ok(Statement::DefineField(f, _)) if has_migrate_clause(&s) => {
                migrated.push(f.table.clone());
                main.push(s);
            }
            Ok(Statement::DefineIndex(ix, _)) if migrated.contains(&ix.table) => deferred.push(s),
            _ => main.push(s),
        }
    }
    (main, deferred)
}

fn if_not_exists(s: &str) -> bool {
    let words: Vec<String> = s
        .split_whitespace()
        .take(5)
        .map(str::to_ascii_uppercase)
        .collect();
    words[..] == ["DEFINE", "FIELD", "IF", "NOT", "EXISTS"]
}

/// The `MIGRATE EXISTING ROWS AS <name> USING $value FALLBACK <constant>` clause that
/// defining `field` on `table` (whose current definition of the field is `previous`) needs
/// on SurrealDB 4.0, or `None` when it needs none or surql has no fallback for its type.
///
/// Needed, as 4.0 decides it: the table is `SCHEMAFULL` and not a view, the field is stored
/// (not `COMPUTED`, not a `REFERENCE`, not `id`/`in`/`out`), and either it is new (or was
/// `COMPUTED`) and its type does not accept `NONE`, or its new definition does not accept
/// every value the old one did ([`widens`]).
pub fn clause_for(
    table: &Table,
    previous: Option<&Field>,
    field: &Field,
    name: &str,
) -> Option<String> {
    if !table.schemafull || table.view.is_some() {
        return None;
    }
    if field.computed.is_some()
        || field.reference.is_some()
        || matches!(field.name.as_str(), "id" | "in" | "out")
    {
        return None;
    }
    let accepted = match previous.filter(|p| p.computed.is_none()) {
        None => accepts_none(field.ty.as_deref()),
        Some(p) => widens(p, field),
    };
    if accepted {
        return None;
    }
    let fb = fallback(field)?;
    Some(format!(
        "MIGRATE EXISTING ROWS AS {} USING $value FALLBACK {fb}",
        escape_ident(name)
    ))
}

/// Whether every value `previous` accepts, `field` accepts unchanged (4.0 needs no
/// migration then): it does not stop being `FLEXIBLE`, and its type is the same, `any`, or
/// one the old type widens to ([`type_widens`]).
pub fn widens(previous: &Field, field: &Field) -> bool {
    (field.flexible || !previous.flexible)
        && match (previous.ty.as_deref(), field.ty.as_deref()) {
            (_, None) => true,
            (None, Some(new)) => new == "any",
            (Some(old), Some(new)) => type_widens(old, new),
        }
}

/// Whether every value of type `old` is, unchanged, a value of type `new` (canonical
/// spellings, [`super::types::canonical_type`]). Conservative: when unsure it answers
/// `false`, and the statement gets a clause 4.0 would also accept without.
///
/// ```
/// use surql::schema::migrate_rows::type_widens;
/// assert!(type_widens("int", "option<int>"));
/// assert!(type_widens("int", "number"));
/// assert!(type_widens("array<int>", "array<number>"));
/// assert!(type_widens("record<person>", "record<person | post>"));
/// assert!(!type_widens("int", "float"));
/// assert!(!type_widens("option<int>", "int"));
/// assert!(!type_widens("int", "float | int")); // 4.0 would coerce 36 to 36.0
/// ```
pub fn type_widens(old: &str, new: &str) -> bool {
    if old == new || new == "any" {
        return true;
    }
    if old == "any" {
        return false;
    }
    let (old_opt, old_terms) = terms(old);
    let (new_opt, new_terms) = terms(new);
    if old_opt && !new_opt {
        return false;
    }
    old_terms.iter().all(|t| {
        // The first arm of the same family decides (4.0 coerces to the first arm that
        // takes the value, so a `float` before an `int` changes an `int`).
        for arm in &new_terms {
            if term_widens(t, arm) {
                return true;
            }
            if family(t) == family(arm) {
                return false;
            }
        }
        false
    })
}

fn terms(t: &str) -> (bool, Vec<&str>) {
    match t.strip_prefix("option<").and_then(|r| r.strip_suffix('>')) {
        Some(inner) => (true, split_top(inner, '|')),
        None => (false, split_top(t, '|')),
    }
}

/// `array<int, 4>` → `("array", ["int", "4"])`; `int` → `("int", [])`.
fn generic(t: &str) -> (&str, Vec<&str>) {
    match t.find('<') {
        Some(i) if t.ends_with('>') => (&t[..i], split_top(&t[i + 1..t.len() - 1], ',')),
        _ => (t, Vec::new()),
    }
}

fn family(t: &str) -> &str {
    match generic(t).0 {
        "int" | "float" | "decimal" | "number" => "number",
        n => n,
    }
}

fn term_widens(t: &str, n: &str) -> bool {
    if t == n {
        return true;
    }
    let ((tn, ta), (nn, na)) = (generic(t), generic(n));
    if tn != nn {
        return nn == "number" && matches!(tn, "int" | "float" | "decimal");
    }
    match tn {
        // `array<T, len>`: the element type widens, and the new length is none or the same.
        "array" | "set" => {
            let elem = |a: &[&str]| a.first().copied().unwrap_or("any").to_owned();
            let len = |a: &[&str]| a.get(1).map(|l| (*l).to_owned());
            (na.len() < 2 || len(&ta) == len(&na)) && type_widens(&elem(&ta), &elem(&na))
        }
        // `record<a | b>`: every old table is among the new ones (none: any table).
        "record" | "geometry" => {
            let set = |a: &[&str]| -> Vec<String> {
                a.first()
                    .map(|x| split_top(x, '|').into_iter().map(str::to_owned).collect())
                    .unwrap_or_default()
            };
            let (old, new) = (set(&ta), set(&na));
            new.is_empty() || (!old.is_empty() && old.iter().all(|x| new.contains(x)))
        }
        _ => false,
    }
}

fn accepts_none(ty: Option<&str>) -> bool {
    match ty {
        None => true,
        Some(t) => t == "any" || t == "none" || t.starts_with("option<"),
    }
}

/// The constant a stored value that does not convert to `field`'s new definition takes:
/// `NONE` when the type accepts it; else the field's `DEFAULT` when that is a constant
/// (4.0 refuses a `FALLBACK` that is not: "A migration's FALLBACK must be a constant");
/// else the zero value of the type's first alternative (`0`, `0.0`, `0dec`, `''`, `false`,
/// `0ns`, `d'1970-01-01T00:00:00Z'`, `[]`, `{}`). `None` for types without one here
/// (`record`, `geometry`, `uuid`, `bytes`, `set`, literal types).
///
/// ```
/// use surql::schema::{migrate_rows::fallback, Field};
/// assert_eq!(fallback(&Field::new("t", "a", Some("option<int>".into()))).as_deref(), Some("NONE"));
/// assert_eq!(fallback(&Field::new("t", "a", Some("float".into()))).as_deref(), Some("0.0"));
/// let mut f = Field::new("t", "a", Some("int".into()));
/// f.default = Some("5".into());
/// assert_eq!(fallback(&f).as_deref(), Some("5"));
/// f.default = Some("rand::int()".into());
/// assert_eq!(fallback(&f).as_deref(), Some("0"));
/// assert_eq!(fallback(&Field::new("t", "a", Some("record<person>".into()))), None);
/// ```
pub fn fallback(field: &Field) -> Option<String> {
    let ty = field.ty.as_deref();
    if accepts_none(ty) {
        return Some("NONE".into());
    }
    if let Some(d) = field.default.as_deref().filter(|d| is_constant(d)) {
        return Some(d.trim().to_owned());
    }
    let first = split_top(ty?, '|').first().copied()?;
    let (name, args) = generic(first);
    let zero = match name {
        "int" | "number" => "0",
        "float" => "0.0",
        "decimal" => "0dec",
        "string" => "''",
        "bool" => "false",
        "duration" => "0ns",
        "datetime" => "d'1970-01-01T00:00:00Z'",
        "object" => "{}",
        // An empty array passes no fixed length but 0.
        "array" if args.get(1).is_none_or(|l| *l == "0") => "[]",
        _ => return None,
    };
    Some(zero.into())
}

/// Whether `e` is a literal constant: a number, a string (`'…'`, `d'…'`, `u'…'`, `r'…'`),
/// `true`/`false`/`NONE`/`NULL`, a duration, `[]` or `{}`.
fn is_constant(e: &str) -> bool {
    let e = e.trim();
    let upper = e.to_ascii_uppercase();
    if matches!(
        upper.as_str(),
        "TRUE" | "FALSE" | "NONE" | "NULL" | "[]" | "{}"
    ) {
        return true;
    }
    let quoted = |s: &str| {
        let b = s.as_bytes();
        b.len() >= 2
            && matches!(b[0], b'\'' | b'"')
            && b[b.len() - 1] == b[0]
            && !s[1..s.len() - 1].contains(b[0] as char)
    };
    if quoted(e) {
        return true;
    }
    if let Some(rest) = e.strip_prefix(['d', 'u', 'r', 's']) {
        if quoted(rest) {
            return true;
        }
    }
    is_number(e) || is_duration(e)
}

fn is_number(e: &str) -> bool {
    let e = e.strip_prefix('-').unwrap_or(e);
    let e = e
        .strip_suffix("dec")
        .or_else(|| e.strip_suffix('f'))
        .unwrap_or(e);
    let (mantissa, exp) = match e.split_once(['e', 'E']) {
        Some((m, x)) => (m, Some(x.strip_prefix(['+', '-']).unwrap_or(x))),
        None => (e, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((i, f)) => digits(i) && digits(f),
        None => digits(mantissa),
    };
    mantissa_ok && exp.is_none_or(digits)
}

fn is_duration(e: &str) -> bool {
    let mut rest = e;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &rest[n..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h", "d", "w", "y"]
            .iter()
            .filter(|u| rest.starts_with(**u))
            .max_by_key(|u| u.len());
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(sql: &str) -> Schema {
        let mut s = Schema::new();
        s.apply_sql(sql).unwrap();
        s
    }

    const PERSON: &str = "DEFINE TABLE person TYPE NORMAL SCHEMAFULL;
        DEFINE FIELD name ON person TYPE string;
        DEFINE FIELD age ON person TYPE int;
        DEFINE FIELD nick ON person TYPE option<string>;
        DEFINE FIELD score ON person TYPE float DEFAULT 1.5;
        DEFINE FIELD label ON person TYPE option<string> COMPUTED string::concat(name, '!');";

    fn adapt_one(before: &str, stmt: &str) -> String {
        adapt(&[stmt.to_owned()], &schema(before), "0002_x_up_0000abcd").remove(0)
    }

    #[test]
    fn a_changed_type_gets_the_clause_exactly() {
        for (stmt, want) in [
            (
                "DEFINE FIELD OVERWRITE age ON person TYPE float",
                "DEFINE FIELD OVERWRITE age ON person TYPE float MIGRATE EXISTING ROWS AS surql_0002_x_up_0000abcd_age USING $value FALLBACK 0.0",
            ),
            (
                "DEFINE FIELD OVERWRITE score ON person TYPE int DEFAULT 2",
                "DEFINE FIELD OVERWRITE score ON person TYPE int DEFAULT 2 MIGRATE EXISTING ROWS AS surql_0002_x_up_0000abcd_score USING $value FALLBACK 2",
            ),
            (
                "DEFINE FIELD OVERWRITE nick ON person TYPE string",
                "DEFINE FIELD OVERWRITE nick ON person TYPE string MIGRATE EXISTING ROWS AS surql_0002_x_up_0000abcd_nick USING $value FALLBACK ''",
            ),
            (
                "DEFINE FIELD OVERWRITE age ON person TYPE option<float>",
                "DEFINE FIELD OVERWRITE age ON person TYPE option<float> MIGRATE EXISTING ROWS AS surql_0002_x_up_0000abcd_age USING $value FALLBACK NONE",
            ),
            // A new field whose type does not accept NONE, on a table that may have rows.
            (
                "DEFINE FIELD email ON person TYPE string",
                "DEFINE FIELD email ON person TYPE string MIGRATE EXISTING ROWS AS surql_0002_x_up_0000abcd_email USING $value FALLBACK ''",
            ),
            (
                "DEFINE FIELD tags ON person TYPE array<string>",
                "DEFINE FIELD tags ON person TYPE array<string> MIGRATE EXISTING ROWS AS surql_0002_x_up_0000abcd_tags USING $value FALLBACK []",
            ),
            // A computed field made stored is a new stored field.
            (
                "DEFINE FIELD OVERWRITE label ON person TYPE string",
                "DEFINE FIELD OVERWRITE label ON person TYPE string MIGRATE EXISTING ROWS AS surql_0002_x_up_0000abcd_label USING $value FALLBACK ''",
            ),
            // Odd field names are slugified; the clause's name is always a plain identifier.
            (
                "DEFINE FIELD `first-name` ON person TYPE string",
                "DEFINE FIELD `first-name` ON person TYPE string MIGRATE EXISTING ROWS AS surql_0002_x_up_0000abcd_first_name USING $value FALLBACK ''",
            ),
        ] {
            assert_eq!(adapt_one(PERSON, stmt), want, "{stmt}");
        }
    }

    #[test]
    fn statements_that_need_no_clause_are_unchanged() {
        for stmt in [
            // widening
            "DEFINE FIELD OVERWRITE age ON person TYPE option<int>",
            "DEFINE FIELD OVERWRITE age ON person TYPE number",
            "DEFINE FIELD OVERWRITE age ON person TYPE any",
            "DEFINE FIELD OVERWRITE age ON person",
            // same type, other clauses
            "DEFINE FIELD OVERWRITE age ON person TYPE int ASSERT $value > 0",
            "DEFINE FIELD OVERWRITE age ON person TYPE int COMMENT 'years'",
            // new fields that accept NONE, computed fields, references
            "DEFINE FIELD bio ON person TYPE option<string>",
            "DEFINE FIELD extra ON person",
            "DEFINE FIELD shout ON person TYPE string COMPUTED string::uppercase(name)",
            "DEFINE FIELD best ON person TYPE record<person> REFERENCE ON DELETE UNSET",
            "DEFINE FIELD OVERWRITE id ON person TYPE string",
            // the user's own clause is sent as written
            "DEFINE FIELD OVERWRITE age ON person TYPE float MIGRATE EXISTING ROWS AS mine USING <float> $value FALLBACK -1.0",
            // IF NOT EXISTS on a defined field does nothing
            "DEFINE FIELD IF NOT EXISTS age ON person TYPE float",
            // no constant of the type: nothing added (the server's refusal says why)
            "DEFINE FIELD OVERWRITE age ON person TYPE record<person>",
            // not a field
            "DEFINE TABLE person TYPE NORMAL SCHEMALESS",
            "UPDATE person SET age = 1",
        ] {
            assert_eq!(adapt_one(PERSON, stmt), stmt, "{stmt}");
        }
        // A schemaless table does not enforce migrations; a table unknown before the step
        // has no rows.
        let other = "DEFINE TABLE loose TYPE NORMAL SCHEMALESS; DEFINE FIELD n ON loose TYPE int;";
        for stmt in [
            "DEFINE FIELD OVERWRITE n ON loose TYPE float",
            "DEFINE FIELD OVERWRITE n ON fresh TYPE float",
        ] {
            assert_eq!(adapt_one(other, stmt), stmt, "{stmt}");
        }
    }

    #[test]
    fn the_step_is_replayed_statement_by_statement() {
        let before = schema(PERSON);
        let steps: Vec<String> = [
            // A table the step creates has no rows: its required fields get nothing.
            "DEFINE TABLE fresh TYPE NORMAL SCHEMAFULL",
            "DEFINE FIELD n ON fresh TYPE int",
            // A table made SCHEMALESS earlier in the step does not enforce migrations.
            "DEFINE TABLE OVERWRITE person TYPE NORMAL SCHEMALESS",
            "DEFINE FIELD OVERWRITE age ON person TYPE float",
            // ... and SCHEMAFULL again does.
            "DEFINE TABLE OVERWRITE person TYPE NORMAL SCHEMAFULL",
            "DEFINE FIELD OVERWRITE age ON person TYPE int",
            // A field removed then defined again is new.
            "REMOVE FIELD name ON person",
            "DEFINE FIELD name ON person TYPE string",
        ]
        .map(str::to_owned)
        .to_vec();
        let out = adapt(&steps, &before, "t");
        assert_eq!(out[..5], steps[..5]);
        assert_eq!(
            out[5],
            "DEFINE FIELD OVERWRITE age ON person TYPE int MIGRATE EXISTING ROWS AS surql_t_age USING $value FALLBACK 0"
        );
        assert_eq!(out[6], steps[6]);
        assert_eq!(
            out[7],
            "DEFINE FIELD name ON person TYPE string MIGRATE EXISTING ROWS AS surql_t_name USING $value FALLBACK ''"
        );
    }

    #[test]
    fn an_index_on_a_migrated_field_is_rebuilt_after_the_commit() {
        let before = schema(&format!(
            "{PERSON}; DEFINE INDEX person_age ON person FIELDS age;
             DEFINE INDEX person_name ON person FIELDS name UNIQUE;"
        ));
        let step = [
            "DEFINE FIELD OVERWRITE age ON person TYPE float",
            "DEFINE INDEX person_nick ON person FIELDS nick",
            "DEFINE EVENT e ON person WHEN true THEN {}",
        ]
        .map(str::to_owned);
        let out = adapt(&step, &before, "t");
        assert_eq!(
            out,
            [
                "REMOVE INDEX person_age ON person",
                "DEFINE FIELD OVERWRITE age ON person TYPE float MIGRATE EXISTING ROWS AS surql_t_age USING $value FALLBACK 0.0",
                "DEFINE INDEX person_age ON person FIELDS age",
                "DEFINE INDEX person_nick ON person FIELDS nick",
                "DEFINE EVENT e ON person WHEN true THEN {}",
            ]
        );
        let (main, deferred) = defer_index_builds(out);
        assert_eq!(
            main,
            [
                "REMOVE INDEX person_age ON person",
                "DEFINE FIELD OVERWRITE age ON person TYPE float MIGRATE EXISTING ROWS AS surql_t_age USING $value FALLBACK 0.0",
                "DEFINE EVENT e ON person WHEN true THEN {}",
            ]
        );
        assert_eq!(
            deferred,
            [
                "DEFINE INDEX person_age ON person FIELDS age",
                "DEFINE INDEX person_nick ON person FIELDS nick",
            ]
        );
        // The step alters the index itself (as `diff` writes it: removed, then defined
        // again after the fields): its own definition is the one built.
        let step = [
            "DEFINE FIELD OVERWRITE age ON person TYPE float",
            "REMOVE INDEX person_age ON person",
            "DEFINE INDEX person_age ON person FIELDS age UNIQUE",
        ]
        .map(str::to_owned);
        let (main, deferred) = defer_index_builds(adapt(&step, &before, "t"));
        assert_eq!(
            main,
            [
                "REMOVE INDEX person_age ON person",
                "DEFINE FIELD OVERWRITE age ON person TYPE float MIGRATE EXISTING ROWS AS surql_t_age USING $value FALLBACK 0.0",
                "REMOVE INDEX IF EXISTS person_age ON person",
            ]
        );
        assert_eq!(
            deferred,
            ["DEFINE INDEX person_age ON person FIELDS age UNIQUE"]
        );
        // No migration in the step: nothing moves.
        let plain = ["DEFINE INDEX person_nick ON person FIELDS nick".to_owned()];
        let (main, deferred) = defer_index_builds(adapt(&plain, &before, "t"));
        assert_eq!((main, deferred), (plain.to_vec(), Vec::<String>::new()));
    }

    #[test]
    fn widening_is_judged_conservatively() {
        for (old, new, yes) in [
            ("int", "int", true),
            ("int", "any", true),
            ("any", "int", false),
            ("int", "option<int>", true),
            ("option<int>", "option<number>", true),
            ("option<int>", "int", false),
            ("int", "number", true),
            ("decimal", "number", true),
            ("number", "int", false),
            ("int", "float", false),
            ("float", "int", false),
            ("int", "int | string", true),
            ("int | string", "string | int", true),
            ("int", "float | int", false),
            ("int", "string | int", true),
            ("array<int>", "array<number>", true),
            ("array<int>", "array", true),
            ("array<int, 4>", "array<int>", true),
            ("array<int>", "array<int, 4>", false),
            ("array<int>", "set<int>", false),
            ("record<person>", "record", true),
            ("record<person>", "record<person | post>", true),
            ("record", "record<person>", false),
            ("geometry<point>", "geometry", true),
            ("string", "int", false),
            ("{ a: int }", "object", false),
        ] {
            assert_eq!(type_widens(old, new), yes, "{old} -> {new}");
        }
        let mut flex = Field::new("t", "o", Some("object".into()));
        flex.flexible = true;
        let stiff = Field::new("t", "o", Some("object".into()));
        assert!(!widens(&flex, &stiff), "no longer FLEXIBLE");
        assert!(widens(&stiff, &flex));
    }

    #[test]
    fn fallbacks_are_constants_4_0_accepts() {
        for (ty, default, want) in [
            ("int", None, Some("0")),
            ("number", None, Some("0")),
            ("float", None, Some("0.0")),
            ("decimal", None, Some("0dec")),
            ("string", None, Some("''")),
            ("bool", None, Some("false")),
            ("duration", None, Some("0ns")),
            ("datetime", None, Some("d'1970-01-01T00:00:00Z'")),
            ("object", None, Some("{}")),
            ("array<string>", None, Some("[]")),
            ("array<float, 4>", None, None),
            ("int | string", None, Some("0")),
            ("option<int>", Some("7"), Some("NONE")),
            ("any", None, Some("NONE")),
            ("int", Some("7"), Some("7")),
            ("float", Some("-1.5e3"), Some("-1.5e3")),
            ("decimal", Some("2.50dec"), Some("2.50dec")),
            ("string", Some("'n/a'"), Some("'n/a'")),
            (
                "datetime",
                Some("d'2020-01-01T00:00:00Z'"),
                Some("d'2020-01-01T00:00:00Z'"),
            ),
            ("duration", Some("1h30m"), Some("1h30m")),
            ("bool", Some("true"), Some("true")),
            (
                "datetime",
                Some("time::now()"),
                Some("d'1970-01-01T00:00:00Z'"),
            ),
            ("string", Some("'a' + 'b'"), Some("''")),
            ("int", Some("1 + 1"), Some("0")),
            ("uuid", None, None),
            ("record<person>", None, None),
            ("geometry<point>", None, None),
            ("set<int>", None, None),
            ("bytes", None, None),
        ] {
            let mut f = Field::new("t", "a", Some(ty.into()));
            f.default = default.map(str::to_owned);
            assert_eq!(fallback(&f).as_deref(), want, "{ty} DEFAULT {default:?}");
        }
    }
}
