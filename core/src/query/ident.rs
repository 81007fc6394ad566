//! Identifier checks for the query compiler: every name spliced into SurrealQL text passes
//! here, and every rule lives in [`crate::escape`] (one validator, one reserved-word list,
//! one escaper), so the compiler and the escaper can never disagree about a name.
//!
//! - Field paths follow [`crate::escape::parse_field_path`]: any non-empty field names
//!   separated by `.`, with `[N]` / `[*]` indexes and `.*`; a name holding `.`, `[`, `]`
//!   or a backtick is given in backticks. Each field name is written by
//!   [`crate::escape::escape_ident`], so `first-name`, `名前`, `NaN`, `Infinity` and
//!   keywords such as `select` get backticks and no name is ever spliced raw.
//! - Table, edge, index and alias names may be any non-empty text, written the same way.
//! - Variable names (written after `$` by the client itself) must be plain identifiers.

use crate::escape::{self, escape_ident, IdentError};

use super::QueryError;

fn invalid(context: &'static str, e: IdentError) -> QueryError {
    QueryError::InvalidIdent {
        context,
        input: e.input,
    }
}

/// Checks one name (a table, edge, index or alias name): any non-empty text.
pub(crate) fn check_ident<'a>(context: &'static str, s: &'a str) -> Result<&'a str, QueryError> {
    escape::validate_name(s).map_err(|e| invalid(context, e))
}

/// Checks a variable name, written after `$`: a plain identifier only.
pub(crate) fn check_var<'a>(context: &'static str, s: &'a str) -> Result<&'a str, QueryError> {
    escape::validate_ident(s).map_err(|e| invalid(context, e))
}

/// Checks a field path such as `address.city`, `tags[0]` or `` meta.`first-name` ``.
pub(crate) fn check_path<'a>(context: &'static str, s: &'a str) -> Result<&'a str, QueryError> {
    escape::validate_field_path(s).map_err(|e| invalid(context, e))
}

/// Writes one checked name, with backticks when it needs them.
pub(crate) fn push_ident(out: &mut String, s: &str) {
    out.push_str(&escape_ident(s));
}

/// Writes one checked field path, each field name with backticks when it needs them.
pub(crate) fn push_path(out: &mut String, s: &str) {
    if escape::write_field_path(out, s).is_err() {
        // Unreachable after `check_path`; should a caller skip the check, the whole text
        // becomes one escaped name rather than raw SurrealQL.
        out.push_str(&escape_ident(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_pass_unless_empty() {
        for ok in ["a", "_", "age", "Age_2", "first-name", "名前", "NaN", "a b"] {
            assert_eq!(check_ident("field", ok), Ok(ok));
        }
        assert_eq!(
            check_ident("index", ""),
            Err(QueryError::InvalidIdent {
                context: "index",
                input: String::new()
            })
        );
    }

    #[test]
    fn variables_must_be_plain() {
        assert_eq!(check_var("variable", "x_1"), Ok("x_1"));
        for bad in [
            "", "1a", "a b", "a;DROP", "a-b", "a`b", "ä", "a.b", "$x", "a)",
        ] {
            assert_eq!(
                check_var("variable", bad),
                Err(QueryError::InvalidIdent {
                    context: "variable",
                    input: bad.to_owned()
                })
            );
        }
    }

    #[test]
    fn paths() {
        for ok in ["address.city", "tags[0]", "a.`b.c`", "名前.x"] {
            assert_eq!(check_path("field", ok), Ok(ok));
        }
        for bad in ["", ".", "a.", ".a", "a..b", "a[x]", "a`b"] {
            assert!(check_path("field", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_escaped_by_the_one_escaper() {
        let mut s = String::new();
        push_path(&mut s, "meta.value.select.x.NaN.first-name[2]");
        assert_eq!(s, "meta.`value`.`select`.x.`NaN`.`first-name`[2]");
        let mut s = String::new();
        push_ident(&mut s, "Infinity");
        assert_eq!(s, "`Infinity`");
        // an unchecked, invalid path is still never raw
        let mut s = String::new();
        push_path(&mut s, "a..b; DELETE x");
        assert_eq!(s, "`a..b; DELETE x`");
    }
}
