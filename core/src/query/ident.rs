//! Identifier checks for the query compiler: every name spliced into SurrealQL text passes here.
//!
//! Field paths, edge and table names in graph steps, index names and aliases are
//! validated against `[A-Za-z_][A-Za-z0-9_]*` per segment (a clear error naming the
//! input beats a surprising escape), then rendered with backticks when the segment is
//! a SurrealQL keyword, so a field named `select` or `value` still works.

use super::QueryError;

/// Keywords the server formatter quotes (common:`keywords.rs`); quoting them is always safe.
const RESERVED: &[&str] = &[
    "ALTER", "BEGIN", "BREAK", "CANCEL", "COMMIT", "CONTINUE", "CREATE", "DEFINE", "DELETE", "FOR",
    "IF", "INFO", "INSERT", "KILL", "LIVE", "OPTION", "REBUILD", "RETURN", "RELATE", "REMOVE",
    "SELECT", "LET", "SHOW", "SLEEP", "THROW", "UPDATE", "UPSERT", "USE", "DIFF", "RAND", "NONE",
    "NULL", "AFTER", "BEFORE", "VALUE", "BY", "ALL", "TRUE", "FALSE", "WHERE", "TABLE", "TB",
    "SEQUENCE", "FUNCTION",
];

fn is_plain_ident(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks one identifier (a table, edge, index or alias name).
pub(crate) fn check_ident<'a>(context: &'static str, s: &'a str) -> Result<&'a str, QueryError> {
    if is_plain_ident(s) {
        Ok(s)
    } else {
        Err(QueryError::InvalidIdent {
            context,
            input: s.to_owned(),
        })
    }
}

/// Checks a dotted field path such as `address.city`.
pub(crate) fn check_path<'a>(context: &'static str, s: &'a str) -> Result<&'a str, QueryError> {
    if !s.is_empty() && s.split('.').all(is_plain_ident) {
        Ok(s)
    } else {
        Err(QueryError::InvalidIdent {
            context,
            input: s.to_owned(),
        })
    }
}

/// Writes one already-checked identifier, quoting keywords.
pub(crate) fn push_ident(out: &mut String, s: &str) {
    if RESERVED.iter().any(|k| k.eq_ignore_ascii_case(s)) {
        out.push('`');
        out.push_str(s);
        out.push('`');
    } else {
        out.push_str(s);
    }
}

/// Writes one already-checked field path, quoting keyword segments.
pub(crate) fn push_path(out: &mut String, s: &str) {
    for (i, seg) in s.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_ident(out, seg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identifiers_pass() {
        for ok in ["a", "_", "age", "Age_2", "_private"] {
            assert_eq!(check_ident("field", ok), Ok(ok));
        }
    }

    #[test]
    fn hostile_identifiers_fail_naming_input() {
        for bad in [
            "", "1a", "a b", "a;DROP", "a-b", "a`b", "ä", "a.b", "$x", "a)",
        ] {
            let err = check_ident("field", bad).unwrap_err();
            assert_eq!(
                err,
                QueryError::InvalidIdent {
                    context: "field",
                    input: bad.to_owned()
                }
            );
        }
    }

    #[test]
    fn paths() {
        assert!(check_path("field", "address.city").is_ok());
        for bad in ["", ".", "a.", ".a", "a..b", "a.1b", "a.b c"] {
            assert!(check_path("field", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keywords_are_quoted() {
        let mut s = String::new();
        push_path(&mut s, "meta.value.select.x");
        assert_eq!(s, "meta.`value`.`select`.x");
    }
}
