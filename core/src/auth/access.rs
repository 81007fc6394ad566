//! The SurrealQL of user models: the access definitions and the statements the auth actions
//! run as the model's connection (bearer grants and revokes, the password change).
//!
//! Names (table, fields, access methods, grant ids) are written with
//! [`escape_ident`]; the identifier and password fields, and
//! the SIGNUP fields, must also be plain identifiers because they name `$variables`.
//! Durations come from [`std::time::Duration`]s in the server's canonical form (`4w2d`,
//! `1h30m`). Nothing else is written into the text: values are bound.
//!
//! ```
//! use std::time::Duration;
//! use surql::auth::access::define_bearer_access;
//! use surql::auth::AuthConfig;
//!
//! let c = AuthConfig::new().bearer_durations(Duration::from_secs(7 * 86_400), None);
//! assert_eq!(
//!     define_bearer_access(&c, "api_key").unwrap(),
//!     "DEFINE ACCESS api_key ON DATABASE TYPE BEARER FOR RECORD\n    DURATION FOR GRANT 1w, FOR TOKEN 15m, FOR SESSION NONE;"
//! );
//! ```

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use super::AuthConfig;
use crate::error::Error;
use crate::escape::{escape_ident, is_plain_ident, write_record_id};
use crate::model::{FieldKind, ModelMeta};
use crate::value::{RecordId, RecordIdKey};

/// Parameter names the server reads as something else in a signin/signup (`ns`, `db`,
/// `ac` select the target, `refresh` and `key` switch to a refresh or bearer signin) or
/// refuses to set (`auth`, `access`, `token`, `session`), compared case-insensitively.
pub const RESERVED_PARAMS: &[&str] = &[
    "ns", "db", "ac", "refresh", "key", "auth", "access", "token", "session",
];

/// Checks a field name that is also a `$variable` of the SIGNUP/SIGNIN clauses.
pub fn check_param_field(role: &str, name: &str) -> Result<(), Error> {
    if !is_plain_ident(name) {
        return Err(Error::invalid(
            format!("{role} field"),
            format!(
                "`{name}` names a $variable of the access method, so it must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)"
            ),
        ));
    }
    if RESERVED_PARAMS.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(Error::invalid(
            format!("{role} field"),
            format!(
                "`{name}` cannot be an auth parameter: the server reads {RESERVED_PARAMS:?} (any case) as something else"
            ),
        ));
    }
    Ok(())
}

/// A duration as SurrealQL writes it (`15m`, `4w2d`, `1s500ms`); `NONE` for `None`.
pub fn duration_text(d: Option<Duration>) -> String {
    match d {
        Some(d) => crate::value::Duration::from(d).to_string(),
        None => "NONE".to_owned(),
    }
}

/// The fields SIGNUP sets besides the identifier and the password: the configured ones, or
/// every field the model writes (declaration order).
fn signup_fields(meta: &ModelMeta, cfg: &AuthConfig) -> Vec<&'static str> {
    let skip = |n: &str| n == cfg.identifier_field || n == cfg.password_field;
    match cfg.signup_fields {
        Some(list) => list.iter().copied().filter(|n| !skip(n)).collect(),
        None => meta
            .fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Data) && !skip(f.name))
            .map(|f| f.name)
            .collect(),
    }
}

/// `DEFINE ACCESS <access> ON DATABASE TYPE RECORD SIGNUP (…) SIGNIN (…) [WITH REFRESH]
/// DURATION [FOR GRANT …,] FOR TOKEN …, FOR SESSION …;` for the model `meta` (one clause
/// per line):
///
/// - SIGNUP: `CREATE <table> SET <identifier> = $<identifier>, <password> =
///   crypto::<alg>::generate($<password>)`, then `<f> = $<f>` for each signup field. The
///   password is hashed here, once: the model must not hash it again (no `VALUE` on the
///   field).
/// - SIGNIN: `SELECT * FROM <table> WHERE <identifier> = $<identifier> AND
///   crypto::<alg>::compare(<password>, $<password>)`.
///
/// A field that cannot be a `$variable` (see [`check_param_field`]) is an error naming it;
/// list the SIGNUP fields with [`AuthConfig::signup_fields`] to leave such a field out.
pub fn define_access(meta: &ModelMeta, cfg: &AuthConfig, access: &str) -> Result<String, Error> {
    check_param_field("identifier", cfg.identifier_field)?;
    check_param_field("password", cfg.password_field)?;
    if cfg.identifier_field == cfg.password_field {
        return Err(Error::invalid(
            "auth config",
            format!(
                "the identifier and the password are both `{}`",
                cfg.identifier_field
            ),
        ));
    }
    let fields = signup_fields(meta, cfg);
    for f in &fields {
        check_param_field("signup", f).map_err(|e| match e {
            Error::Invalid { what, reason } => Error::Invalid {
                what,
                reason: format!(
                    "{reason}; list the fields SIGNUP sets with AuthConfig::signup_fields to leave it out"
                ),
            },
            other => other,
        })?;
    }
    let table = escape_ident(meta.table);
    let idf = cfg.identifier_field;
    let pw = cfg.password_field;
    let alg = cfg.algorithm.as_str();
    let mut sets = format!(
        "{} = ${idf}, {} = crypto::{alg}::generate(${pw})",
        escape_ident(idf),
        escape_ident(pw)
    );
    for f in fields {
        sets.push_str(&format!(", {} = ${f}", escape_ident(f)));
    }
    let mut out = format!(
        "DEFINE ACCESS {} ON DATABASE TYPE RECORD\n    SIGNUP (CREATE {table} SET {sets})\n    SIGNIN (SELECT * FROM {table} WHERE {} = ${idf} AND crypto::{alg}::compare({}, ${pw}))\n    ",
        escape_ident(access),
        escape_ident(idf),
        escape_ident(pw),
    );
    if cfg.refresh {
        out.push_str("WITH REFRESH\n    DURATION FOR GRANT ");
        out.push_str(&duration_text(Some(cfg.grant_duration)));
        out.push_str(", ");
    } else {
        out.push_str("DURATION ");
    }
    out.push_str(&format!(
        "FOR TOKEN {}, FOR SESSION {};",
        duration_text(Some(cfg.token_duration)),
        duration_text(cfg.session_duration)
    ));
    Ok(out)
}

/// `DEFINE ACCESS <access> ON DATABASE TYPE BEARER FOR RECORD DURATION FOR GRANT …, FOR
/// TOKEN …, FOR SESSION …;`: the access method bearer keys of the model's users belong to.
pub fn define_bearer_access(cfg: &AuthConfig, access: &str) -> Result<String, Error> {
    if access.is_empty() {
        return Err(Error::invalid("bearer access name", "it is empty"));
    }
    Ok(format!(
        "DEFINE ACCESS {} ON DATABASE TYPE BEARER FOR RECORD\n    DURATION FOR GRANT {}, FOR TOKEN {}, FOR SESSION {};",
        escape_ident(access),
        duration_text(Some(cfg.bearer_grant_duration)),
        duration_text(Some(cfg.token_duration)),
        duration_text(cfg.bearer_session_duration)
    ))
}

/// `REMOVE ACCESS IF EXISTS <access> ON DATABASE;`
pub fn remove_access(access: &str) -> String {
    format!(
        "REMOVE ACCESS IF EXISTS {} ON DATABASE;",
        escape_ident(access)
    )
}

/// `ACCESS <access> ON DATABASE GRANT FOR RECORD <user>;` (SurrealDB 3.3.5 takes no
/// `$variable` here, so the record id is written as an escaped literal; a range id is
/// refused).
///
/// ```
/// use surql::auth::access::grant_statement;
/// use surql::RecordId;
/// assert_eq!(
///     grant_statement("user_bearer", &RecordId::new("user", "a-b c")).unwrap(),
///     "ACCESS user_bearer ON DATABASE GRANT FOR RECORD user:`a-b c`;"
/// );
/// ```
pub fn grant_statement(access: &str, user: &RecordId) -> Result<String, Error> {
    if matches!(user.key, RecordIdKey::Range(_)) {
        return Err(Error::invalid(
            "bearer key subject",
            format!("{user} is a range of records, not one user"),
        ));
    }
    let mut rid = String::new();
    write_record_id(&mut rid, user);
    Ok(format!(
        "ACCESS {} ON DATABASE GRANT FOR RECORD {rid};",
        escape_ident(access)
    ))
}

/// The grant id of a bearer key: the key's id given as is, or taken out of a whole key
/// (`surreal-bearer-<id>-<secret>`), so the secret is never written into a statement.
pub fn grant_id(key_or_id: &str) -> Result<&str, Error> {
    let parts: Vec<&str> = key_or_id.split('-').collect();
    let id = if parts.len() == 4 {
        parts[2]
    } else {
        key_or_id
    };
    if id.is_empty() || id.contains('-') {
        return Err(Error::invalid(
            "bearer key id",
            "expected a grant id (as `BearerKey::id`) or a whole bearer key",
        ));
    }
    Ok(id)
}

/// `ACCESS <access> ON DATABASE REVOKE GRANT <id>;` for a grant id or a whole key (see
/// [`grant_id`]).
///
/// ```
/// use surql::auth::access::revoke_statement;
/// assert_eq!(
///     revoke_statement("user_bearer", "surreal-bearer-el7LEKSC2BjH-Secret").unwrap(),
///     "ACCESS user_bearer ON DATABASE REVOKE GRANT el7LEKSC2BjH;"
/// );
/// ```
pub fn revoke_statement(access: &str, key_or_id: &str) -> Result<String, Error> {
    Ok(format!(
        "ACCESS {} ON DATABASE REVOKE GRANT {};",
        escape_ident(access),
        escape_ident(grant_id(key_or_id)?)
    ))
}

/// The password change, run as the model's connection after the old password was checked:
/// `UPDATE $user SET <password> = crypto::<alg>::generate($new_password) WHERE <identifier> =
/// $identifier RETURN VALUE id;` (`$user` is the record the check signed in as, so only
/// that account changes even if identifiers are not unique). The variable is named like a
/// secret so the request log never shows its value (see `surql::log::is_secret_name`).
pub fn change_password_statement(cfg: &AuthConfig) -> String {
    format!(
        "UPDATE $user SET {} = crypto::{}::generate($new_password) WHERE {} = $identifier RETURN VALUE id;",
        escape_ident(cfg.password_field),
        cfg.algorithm.as_str(),
        escape_ident(cfg.identifier_field)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::PasswordAlgorithm;
    use crate::model::{FieldMeta, Permissions, TableKind};
    use pretty_assertions::assert_eq;

    const fn field(name: &'static str, kind: FieldKind) -> FieldMeta {
        FieldMeta {
            name,
            rust_name: name,
            rust_type: "String",
            kind,
            optional: false,
            flexible: false,
            db_type: None,
        }
    }

    static FIELDS: &[FieldMeta] = &[
        field("email", FieldKind::Data),
        field("name", FieldKind::Data),
        field("created_at", FieldKind::Server { value: None }),
        field("label", FieldKind::Computed { expr: None }),
        field("nickname", FieldKind::Data),
    ];

    const fn meta(table: &'static str, fields: &'static [FieldMeta]) -> ModelMeta {
        ModelMeta {
            table,
            rust_name: "User",
            kind: TableKind::Normal,
            id_field: "id",
            fields,
            schemafull: false,
            changefeed: None,
            connection: None,
            permissions: Permissions {
                select: None,
                create: None,
                update: None,
                delete: None,
            },
            indexes: &[],
            defines: &[],
        }
    }

    static USER: ModelMeta = meta("user", FIELDS);

    #[test]
    fn the_default_record_access() {
        assert_eq!(
            define_access(&USER, &AuthConfig::new(), "user_auth").unwrap(),
            "DEFINE ACCESS user_auth ON DATABASE TYPE RECORD
    SIGNUP (CREATE user SET email = $email, password = crypto::argon2::generate($password), name = $name, nickname = $nickname)
    SIGNIN (SELECT * FROM user WHERE email = $email AND crypto::argon2::compare(password, $password))
    DURATION FOR TOKEN 15m, FOR SESSION 12h;"
        );
    }

    #[test]
    fn refresh_grant_algorithms_and_custom_fields() {
        let c = AuthConfig::new()
            .identifier("login")
            .password("secret")
            .signup_fields(&["name", "login"])
            .with_refresh(Duration::from_secs(7 * 86_400))
            .token_duration(Duration::from_secs(5400))
            .session_duration(None)
            .algorithm(PasswordAlgorithm::Bcrypt);
        assert_eq!(
            define_access(&USER, &c, "account").unwrap(),
            "DEFINE ACCESS account ON DATABASE TYPE RECORD
    SIGNUP (CREATE user SET login = $login, secret = crypto::bcrypt::generate($secret), name = $name)
    SIGNIN (SELECT * FROM user WHERE login = $login AND crypto::bcrypt::compare(secret, $secret))
    WITH REFRESH
    DURATION FOR GRANT 1w, FOR TOKEN 1h30m, FOR SESSION NONE;"
        );
        for (alg, name) in [
            (PasswordAlgorithm::Pbkdf2, "pbkdf2"),
            (PasswordAlgorithm::Scrypt, "scrypt"),
        ] {
            let text =
                define_access(&USER, &AuthConfig::new().algorithm(alg), "user_auth").unwrap();
            assert!(
                text.contains(&format!("crypto::{name}::generate($password)")),
                "{text}"
            );
            assert!(text.contains(&format!("crypto::{name}::compare(password, $password)")));
        }
    }

    #[test]
    fn names_are_escaped() {
        static ODD: ModelMeta = meta("user-table", &[]);
        assert_eq!(
            define_access(&ODD, &AuthConfig::new().identifier("select"), "my access").unwrap(),
            "DEFINE ACCESS `my access` ON DATABASE TYPE RECORD
    SIGNUP (CREATE `user-table` SET `select` = $select, password = crypto::argon2::generate($password))
    SIGNIN (SELECT * FROM `user-table` WHERE `select` = $select AND crypto::argon2::compare(password, $password))
    DURATION FOR TOKEN 15m, FOR SESSION 12h;"
        );
        assert_eq!(
            remove_access("a`b"),
            "REMOVE ACCESS IF EXISTS `a\\`b` ON DATABASE;"
        );
    }

    #[test]
    fn fields_that_cannot_be_variables_are_refused_by_name() {
        static DASHED: &[FieldMeta] = &[field("first-name", FieldKind::Data)];
        static M: ModelMeta = meta("user", DASHED);
        let e = define_access(&M, &AuthConfig::new(), "a").unwrap_err();
        assert!(e.to_string().contains("`first-name`"), "{e}");
        assert!(e.to_string().contains("signup_fields"), "{e}");
        // leaving it out works
        assert!(define_access(&M, &AuthConfig::new().signup_fields(&[]), "a").is_ok());
        for bad in [
            "ns", "DB", "ac", "refresh", "key", "Token", "auth", "access", "session",
        ] {
            let e = define_access(&USER, &AuthConfig::new().identifier(bad), "a").unwrap_err();
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
        let e = define_access(&USER, &AuthConfig::new().password("a b"), "a").unwrap_err();
        assert!(e.to_string().contains("plain identifier"), "{e}");
        let e = define_access(&USER, &AuthConfig::new().password("email"), "a").unwrap_err();
        assert!(e.to_string().contains("both `email`"), "{e}");
    }

    #[test]
    fn bearer_statements() {
        assert_eq!(
            define_bearer_access(&AuthConfig::new(), "user_bearer").unwrap(),
            "DEFINE ACCESS user_bearer ON DATABASE TYPE BEARER FOR RECORD
    DURATION FOR GRANT 4w2d, FOR TOKEN 15m, FOR SESSION 1h;"
        );
        assert!(define_bearer_access(&AuthConfig::new(), "").is_err());
        assert_eq!(
            grant_statement("b", &RecordId::new("user", 7)).unwrap(),
            "ACCESS b ON DATABASE GRANT FOR RECORD user:7;"
        );
        assert_eq!(
            grant_statement("b", &RecordId::new("user", "x`; REMOVE TABLE user; --")).unwrap(),
            "ACCESS b ON DATABASE GRANT FOR RECORD user:`x\\`; REMOVE TABLE user; --`;"
        );
        let range = RecordId::new(
            "user",
            RecordIdKey::Range(Box::new(crate::value::KeyRange {
                start: crate::value::Bound::Unbounded,
                end: crate::value::Bound::Unbounded,
            })),
        );
        assert!(grant_statement("b", &range).is_err());
        assert_eq!(
            revoke_statement("b", "abc").unwrap(),
            "ACCESS b ON DATABASE REVOKE GRANT abc;"
        );
        assert_eq!(
            revoke_statement("b", "x`y").unwrap(),
            "ACCESS b ON DATABASE REVOKE GRANT `x\\`y`;"
        );
        assert!(revoke_statement("b", "").is_err());
        assert!(revoke_statement("b", "a-b").is_err());
        assert_eq!(grant_id("surreal-bearer-ID1-s3cret").unwrap(), "ID1");
    }

    #[test]
    fn the_password_change() {
        assert_eq!(
            change_password_statement(&AuthConfig::new().algorithm(PasswordAlgorithm::Scrypt)),
            "UPDATE $user SET password = crypto::scrypt::generate($new_password) WHERE email = $identifier RETURN VALUE id;"
        );
    }
}
