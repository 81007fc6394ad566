//! Authentication at the model level: user models that sign up, sign in, refresh and change
//! passwords through a SurrealDB record access method, and bearer keys for them.
//!
//! A user model is a [`Model`] that also implements [`UserModel`] (by hand: one constant).
//! Its [`AuthConfig`] names the identifier and password fields, the access method (default
//! `<table>_auth`, lower case), the token/session/grant durations, refresh tokens on or off
//! and the password algorithm (argon2 by default). From it come:
//!
//! - the exact `DEFINE ACCESS … TYPE RECORD SIGNUP (…) SIGNIN (…) …` statement
//!   ([`UserModel::define_access`]; the password is hashed once, by the SIGNUP clause) and
//!   the bearer one ([`UserModel::define_bearer_access`]), see [`access`];
//! - the actions, as operations of the core ([`flow`]): signup, signin, token refresh with
//!   rotation, authenticate, validate, change password, invalidate, bearer keys. The drivers
//!   run them (`User::signup(&db, &params).await?` in `surql-smol`, the same without `.await`
//!   in `surql-blocking`);
//! - [`jwt`]: a token's claims read locally, **without checking the signature**;
//! - [`TokenCache`]: bounded, time-limited answers of `validate_token`.
//!
//! **Isolation.** Every call that signs in or authenticates (signup, signin, refresh,
//! authenticate, validate, change password's check, invalidate) runs on a short-lived
//! connection of its own, opened to the same URL with the same options and closed after.
//! The connection the model's actions use (usually signed in as root) is never signed in
//! as a user: it only reads the selected namespace/database and loads the user record.
//! (The Python project once signed its shared root client in as the last user who
//! signed up.)
//!
//! **Secrets.** Passwords, tokens, refresh tokens and bearer keys never appear in a `Debug`
//! output or an error message of this module: [`AuthParams`], [`BearerKey`] and
//! [`crate::client::Token`] redact themselves, and every error an auth action returns has
//! the secrets it was given replaced by `<redacted>` ([`redact_error`]).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//! use surql::auth::{AuthConfig, PasswordAlgorithm, UserModel};
//! use surql::model::Model;
//! use surql::RecordId;
//!
//! #[derive(Debug, Serialize, Deserialize, Model)]
//! #[surql(table = "user")]
//! struct User {
//!     id: Option<RecordId>,
//!     email: String,
//!     name: String,
//! }
//!
//! impl UserModel for User {
//!     const AUTH: AuthConfig = AuthConfig::new()          // identifier `email`, password `password`
//!         .with_refresh(Duration::from_secs(30 * 86_400))  // refresh tokens, granted for 30 days
//!         .algorithm(PasswordAlgorithm::Argon2);
//! }
//!
//! assert_eq!(User::access_name(), "user_auth");
//! assert_eq!(
//!     User::define_access().unwrap(),
//!     "DEFINE ACCESS user_auth ON DATABASE TYPE RECORD\n    \
//!      SIGNUP (CREATE user SET email = $email, password = crypto::argon2::generate($password), name = $name)\n    \
//!      SIGNIN (SELECT * FROM user WHERE email = $email AND crypto::argon2::compare(password, $password))\n    \
//!      WITH REFRESH\n    \
//!      DURATION FOR GRANT 4w2d, FOR TOKEN 15m, FOR SESSION 12h;"
//! );
//! // what signin sends: the identifier and the password under the configured names
//! let params = User::login("ada@example.com", "correct horse");
//! assert!(!format!("{params:?}").contains("correct horse"));
//! ```

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::error::Error;
use crate::model::Model;
use crate::rpc::ServerError;
use crate::value::{Datetime, Object, RecordId, Value};

pub mod access;
pub mod cache;
pub mod flow;
pub mod jwt;

pub use cache::TokenCache;
pub use flow::{is_rejection, AuthOp, AuthStep, Via};

/// What `Debug` and redacted errors show in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// The password hashing of the access method: `crypto::<alg>::generate` in SIGNUP (and in
/// `change_password`), `crypto::<alg>::compare` in SIGNIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PasswordAlgorithm {
    /// `crypto::argon2` (the default).
    #[default]
    Argon2,
    /// `crypto::bcrypt`.
    Bcrypt,
    /// `crypto::pbkdf2`.
    Pbkdf2,
    /// `crypto::scrypt`.
    Scrypt,
}

impl PasswordAlgorithm {
    /// `argon2`, `bcrypt`, `pbkdf2` or `scrypt`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PasswordAlgorithm::Argon2 => "argon2",
            PasswordAlgorithm::Bcrypt => "bcrypt",
            PasswordAlgorithm::Pbkdf2 => "pbkdf2",
            PasswordAlgorithm::Scrypt => "scrypt",
        }
    }
}

/// How a [`UserModel`] authenticates. Build it with [`AuthConfig::new`] and the `const`
/// setters, in the model's `const AUTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthConfig {
    /// The field that identifies a user (`email`); a plain identifier.
    pub identifier_field: &'static str,
    /// The field holding the password hash (`password`); a plain identifier. The model
    /// need not declare it (better not: the hash would be loaded with the user).
    pub password_field: &'static str,
    /// The record access method's name; `None`: `<table>_auth` (lower case).
    pub access: Option<&'static str>,
    /// The fields SIGNUP sets from the signup parameters besides the identifier and the
    /// password; `None`: every field the model writes (server and computed fields excluded).
    pub signup_fields: Option<&'static [&'static str]>,
    /// `DURATION FOR TOKEN`: how long an access token is valid.
    pub token_duration: Duration,
    /// `DURATION FOR SESSION`: how long a session authenticated with it lasts (`None`:
    /// `NONE`, no limit).
    pub session_duration: Option<Duration>,
    /// `WITH REFRESH`: signin and signup also return a refresh token.
    pub refresh: bool,
    /// `DURATION FOR GRANT`: how long a refresh token is valid (with `refresh` only).
    pub grant_duration: Duration,
    /// The password hashing.
    pub algorithm: PasswordAlgorithm,
    /// The bearer access method's name; `None`: `<table>_bearer` (lower case).
    pub bearer_access: Option<&'static str>,
    /// `DURATION FOR GRANT` of the bearer access: how long a bearer key is valid.
    pub bearer_grant_duration: Duration,
    /// `DURATION FOR SESSION` of the bearer access (`None`: `NONE`).
    pub bearer_session_duration: Option<Duration>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig::new()
    }
}

const DAY: u64 = 86_400;

impl AuthConfig {
    /// `email` / `password`, access `<table>_auth`, tokens for 15 minutes, sessions for 12
    /// hours, no refresh tokens (grant 30 days when turned on), argon2; bearer keys for 30
    /// days with 1-hour sessions.
    pub const fn new() -> Self {
        AuthConfig {
            identifier_field: "email",
            password_field: "password",
            access: None,
            signup_fields: None,
            token_duration: Duration::from_secs(15 * 60),
            session_duration: Some(Duration::from_secs(12 * 3600)),
            refresh: false,
            grant_duration: Duration::from_secs(30 * DAY),
            algorithm: PasswordAlgorithm::Argon2,
            bearer_access: None,
            bearer_grant_duration: Duration::from_secs(30 * DAY),
            bearer_session_duration: Some(Duration::from_secs(3600)),
        }
    }

    /// The identifier field.
    pub const fn identifier(mut self, field: &'static str) -> Self {
        self.identifier_field = field;
        self
    }

    /// The password field.
    pub const fn password(mut self, field: &'static str) -> Self {
        self.password_field = field;
        self
    }

    /// The access method's name.
    pub const fn access(mut self, name: &'static str) -> Self {
        self.access = Some(name);
        self
    }

    /// The fields SIGNUP sets besides the identifier and the password.
    pub const fn signup_fields(mut self, fields: &'static [&'static str]) -> Self {
        self.signup_fields = Some(fields);
        self
    }

    /// How long an access token is valid.
    pub const fn token_duration(mut self, d: Duration) -> Self {
        self.token_duration = d;
        self
    }

    /// How long a session lasts (`None`: no limit).
    pub const fn session_duration(mut self, d: Option<Duration>) -> Self {
        self.session_duration = d;
        self
    }

    /// Turns refresh tokens on, each valid for `grant`.
    pub const fn with_refresh(mut self, grant: Duration) -> Self {
        self.refresh = true;
        self.grant_duration = grant;
        self
    }

    /// The password hashing.
    pub const fn algorithm(mut self, a: PasswordAlgorithm) -> Self {
        self.algorithm = a;
        self
    }

    /// The bearer access method's name.
    pub const fn bearer_access(mut self, name: &'static str) -> Self {
        self.bearer_access = Some(name);
        self
    }

    /// How long bearer keys are valid, and sessions signed in with one last.
    pub const fn bearer_durations(mut self, grant: Duration, session: Option<Duration>) -> Self {
        self.bearer_grant_duration = grant;
        self.bearer_session_duration = session;
        self
    }
}

/// A model whose records are users of a record access method. Implement it by hand with one
/// constant; see the [module docs](self) for an example. The drivers' `UserModelExt` (in
/// their preludes) adds the actions: `User::signup(&db, &params)`, `User::signin(…)`, …
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a user model",
    label = "implement `surql::auth::UserModel` for `{Self}`",
    note = "`impl UserModel for {Self} {{ const AUTH: AuthConfig = AuthConfig::new(); }}`"
)]
pub trait UserModel: Model {
    /// How the model authenticates.
    const AUTH: AuthConfig;

    /// The record access method: [`AuthConfig::access`], else `<table>_auth` in lower case.
    fn access_name() -> Cow<'static, str> {
        match Self::AUTH.access {
            Some(a) => Cow::Borrowed(a),
            None => Cow::Owned(format!("{}_auth", Self::META.table.to_lowercase())),
        }
    }

    /// The bearer access method: [`AuthConfig::bearer_access`], else `<table>_bearer` in
    /// lower case.
    fn bearer_access_name() -> Cow<'static, str> {
        match Self::AUTH.bearer_access {
            Some(a) => Cow::Borrowed(a),
            None => Cow::Owned(format!("{}_bearer", Self::META.table.to_lowercase())),
        }
    }

    /// The `DEFINE ACCESS … TYPE RECORD …` statement; see [`access::define_access`].
    fn define_access() -> Result<String, Error> {
        access::define_access(Self::META, &Self::AUTH, &Self::access_name())
    }

    /// The `DEFINE ACCESS … TYPE BEARER FOR RECORD …` statement; see
    /// [`access::define_bearer_access`].
    fn define_bearer_access() -> Result<String, Error> {
        access::define_bearer_access(&Self::AUTH, &Self::bearer_access_name())
    }

    /// Signin parameters: `identifier` under the identifier field, `password` under the
    /// password field. Add more with [`AuthParams::with`] (signup fields, or variables the
    /// SIGNIN clause reads).
    fn login(identifier: impl Into<String>, password: impl Into<String>) -> AuthParams {
        AuthParams::new()
            .with(Self::AUTH.identifier_field, identifier.into())
            .with(Self::AUTH.password_field, password.into())
    }
}

/// The parameters of a signup or signin (they become the SIGNUP / SIGNIN clause's
/// `$variables`). `Debug` shows the names only, never a value.
#[derive(Clone, Default, PartialEq)]
pub struct AuthParams {
    params: Object,
    error: Option<Error>,
}

impl fmt::Debug for AuthParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.params.keys().map(|k| (k, REDACTED)))
            .finish()
    }
}

impl Serialize for AuthParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.params.serialize(s)
    }
}

impl AuthParams {
    /// No parameters.
    pub fn new() -> Self {
        AuthParams::default()
    }

    /// Adds (or replaces) the parameter `name`. A value that cannot be converted is
    /// reported when the parameters are used.
    pub fn with(mut self, name: &str, value: impl Serialize) -> Self {
        match crate::value::to_value(&value) {
            Ok(v) => {
                self.params.insert(name.to_owned(), v);
            }
            Err(e) => {
                self.error.get_or_insert(Error::invalid(
                    format!("auth parameter `{name}`"),
                    e.to_string(),
                ));
            }
        }
        self
    }

    /// The parameters as an object (or the first conversion error).
    pub fn into_object(self) -> Result<Object, Error> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.params),
        }
    }
}

/// A bearer key granted to a record user (`ACCESS … GRANT FOR RECORD …`). The key is a
/// secret: `Debug` shows the grant id and expiry only. Revoke it with its [`id`](Self::id).
#[derive(Clone, PartialEq)]
pub struct BearerKey {
    /// The grant id (what `revoke_bearer_key` takes; not secret).
    pub id: String,
    /// The key itself (`surreal-bearer-<id>-<secret>`): give it to the client once.
    pub key: String,
    /// The user it was granted to.
    pub subject: RecordId,
    /// When it expires, if it does.
    pub expiration: Option<Datetime>,
}

impl fmt::Debug for BearerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerKey")
            .field("id", &self.id)
            .field("key", &REDACTED)
            .field("subject", &self.subject)
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Replaces every occurrence of each secret (password, token, refresh token, key; empty
/// and very short ones are skipped) in every text of `e` with `<redacted>`: what auth
/// actions do to the errors they return.
///
/// ```
/// use surql::auth::redact_error;
/// use surql::Error;
/// let e = Error::Protocol("cannot refresh surreal-refresh-abc123".into());
/// let e = redact_error(e, &["surreal-refresh-abc123"]);
/// assert_eq!(e.to_string(), "protocol error: cannot refresh <redacted>");
/// ```
pub fn redact_error(e: Error, secrets: &[&str]) -> Error {
    let secrets: Vec<&str> = secrets.iter().copied().filter(|s| s.len() >= 4).collect();
    if secrets.is_empty() {
        return e;
    }
    let r = |s: String| redact_text(s, &secrets);
    match e {
        Error::InvalidUrl { url, reason } => Error::InvalidUrl {
            url: r(url),
            reason: r(reason),
        },
        Error::Connect { url, reason } => Error::Connect {
            url: r(url),
            reason: r(reason),
        },
        Error::Server(s) => Error::Server(redact_server(s, &secrets)),
        Error::Timeout { what, after } => Error::Timeout {
            what: r(what),
            after,
        },
        Error::Disconnected { method, reason } => Error::Disconnected {
            method,
            reason: r(reason),
        },
        Error::NotSupported { method, message } => Error::NotSupported {
            method,
            message: r(message),
        },
        Error::Http { status, message } => Error::Http {
            status,
            message: r(message),
        },
        Error::Protocol(m) => Error::Protocol(r(m)),
        Error::Decode { context, detail } => Error::Decode {
            context: r(context),
            detail: r(detail),
        },
        Error::Invalid { what, reason } => Error::Invalid {
            what: r(what),
            reason: r(reason),
        },
        Error::NotAffected { method, target } => Error::NotAffected {
            method,
            target: r(target),
        },
        Error::DoesNotExist { model, query } => Error::DoesNotExist {
            model,
            query: r(query),
        },
        Error::MultipleObjectsReturned { model, query } => Error::MultipleObjectsReturned {
            model,
            query: r(query),
        },
        Error::WriteDenied { action, target } => Error::WriteDenied {
            action,
            target: r(target),
        },
        Error::ReadOnly { model, reason } => Error::ReadOnly {
            model,
            reason: r(reason),
        },
        Error::RetriesExhausted { tries, last } => Error::RetriesExhausted {
            tries,
            last: Box::new(redact_error(*last, &secrets)),
        },
        Error::ReplayFailed { method, source } => Error::ReplayFailed {
            method,
            source: Box::new(redact_error(*source, &secrets)),
        },
        Error::ReaderTooSlow { what, limit } => Error::ReaderTooSlow {
            what: r(what),
            limit,
        },
        Error::Io(m) => Error::Io(r(m)),
        Error::AuthRejected { action, source } => Error::AuthRejected {
            action,
            source: Box::new(redact_error(*source, &secrets)),
        },
        other => other,
    }
}

fn redact_text(mut s: String, secrets: &[&str]) -> String {
    for secret in secrets {
        if s.contains(secret) {
            s = s.replace(secret, REDACTED);
        }
    }
    s
}

fn redact_value(v: Value, secrets: &[&str]) -> Value {
    match v {
        Value::String(s) => Value::String(redact_text(s, secrets)),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| redact_value(v, secrets)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (redact_text(k, secrets), redact_value(v, secrets)))
                .collect(),
        ),
        other => other,
    }
}

fn redact_server(mut s: ServerError, secrets: &[&str]) -> ServerError {
    s.message = redact_text(std::mem::take(&mut s.message), secrets);
    s.details = s.details.map(|d| redact_value(d, secrets));
    s.cause = s.cause.map(|c| Box::new(redact_server(*c, secrets)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::ErrorKind;

    #[test]
    fn every_text_of_an_error_is_redacted() {
        let secret = "s3cr3t-pa55";
        let mut inner = ServerError::new(ErrorKind::Internal, format!("cause {secret}"));
        inner.details = Some(Value::from(secret));
        let mut s = ServerError::new(ErrorKind::NotAllowed, format!("bad {secret} x"));
        let mut d = Object::new();
        d.insert(
            secret.into(),
            Value::Array(vec![Value::from(format!("<{secret}>"))]),
        );
        s.details = Some(Value::Object(d));
        s.cause = Some(Box::new(inner));
        let errors = [
            Error::Server(s),
            Error::Protocol(format!("p {secret}")),
            Error::invalid(format!("w {secret}"), format!("r {secret}")),
            Error::Decode {
                context: secret.into(),
                detail: secret.into(),
            },
            Error::Http {
                status: 401,
                message: secret.into(),
            },
            Error::ReplayFailed {
                method: "authenticate".into(),
                source: Box::new(Error::Io(secret.into())),
            },
            Error::RetriesExhausted {
                tries: 2,
                last: Box::new(Error::Protocol(secret.into())),
            },
            Error::Timeout {
                what: secret.into(),
                after: Duration::from_secs(1),
            },
        ];
        for e in errors {
            let r = redact_error(e.clone(), &[secret, "", "ab"]);
            assert!(!format!("{r} {r:?}").contains(secret), "{r:?}");
            assert!(format!("{r:?}").contains(REDACTED), "{r:?}");
        }
        // short secrets are not searched for (they would mangle ordinary words)
        let e = Error::Protocol("abc".into());
        assert_eq!(redact_error(e.clone(), &["abc"]), e);
    }

    #[test]
    fn params_and_keys_hide_their_values() {
        let p = AuthParams::new()
            .with("email", "ada@example.com")
            .with("password", "hunter22");
        let shown = format!("{p:?}");
        assert!(
            shown.contains("email") && !shown.contains("hunter22"),
            "{shown}"
        );
        assert!(!shown.contains("ada@example.com"), "{shown}");
        let k = BearerKey {
            id: "g1".into(),
            key: "surreal-bearer-g1-TOPSECRET".into(),
            subject: RecordId::new("user", "a"),
            expiration: None,
        };
        assert!(!format!("{k:?}").contains("TOPSECRET"));
    }

    #[test]
    fn config_setters_and_names() {
        let c = AuthConfig::new()
            .identifier("login")
            .password("pw")
            .access("account")
            .token_duration(Duration::from_secs(3600))
            .session_duration(None)
            .algorithm(PasswordAlgorithm::Bcrypt)
            .bearer_access("api")
            .bearer_durations(Duration::from_secs(60), None);
        assert_eq!(c.identifier_field, "login");
        assert_eq!(c.password_field, "pw");
        assert_eq!(c.access, Some("account"));
        assert!(!c.refresh);
        assert_eq!(c.algorithm.as_str(), "bcrypt");
        assert_eq!(AuthConfig::default(), AuthConfig::new());
        assert_eq!(PasswordAlgorithm::default(), PasswordAlgorithm::Argon2);
    }
}
