//! The auth actions of user models as operations over **two** connections.
//!
//! An [`AuthOp`] is stepped like an [`Operation`]: call [`AuthOp::step`] with no answer,
//! then with the answer to each request it asks for, until [`AuthStep::Done`]. Each request
//! names its connection ([`Via`]):
//!
//! - [`Via::Model`]: the connection the model's actions run on (the model's named
//!   connection, usually signed in as root). It is only asked for its namespace/database,
//!   to load a user record, to change a password hash and to grant/revoke bearer keys. It is
//!   **never** signed in or authenticated as a user.
//! - [`Via::Isolated`]: a connection of the action's own, opened by the driver (same URL,
//!   same options) on the first request that needs it and closed when the action ends.
//!   User credentials and tokens only ever go there.
//!
//! [`AuthStep::Wait`] asks the driver to wait (a bounded backoff) before stepping again:
//! an `authenticate` refused while the token is fresh is retried a few times, because
//! SurrealDB checks `nbf` with zero leeway and a server whose clock runs behind the one that
//! minted the token refuses it for a moment.
//!
//! | action | model connection | isolated connection |
//! |---|---|---|
//! | [`signup`] | ns/db, then `SELECT * FROM $p0` (the new user) | `signup {ns, db, ac, …params}` |
//! | [`signin`] | ns/db, then the user | `signin {ns, db, ac, …params}` |
//! | [`refresh`] | ns/db, then the user | `signin {ns, db, ac, refresh}` (the old refresh token is spent) |
//! | [`signin_with_key`] | ns/db, then the user | `signin {ns, db, ac: <bearer>, key}` |
//! | [`authenticate_token`] | ns/db, then the user | `authenticate [token]` (retried when fresh) |
//! | [`validate_token`] | ns/db | `authenticate [token]` (retried when fresh) |
//! | [`change_password`] | ns/db, then [`change_password_statement`](super::access::change_password_statement) | `signin` with the old password |
//! | [`invalidate`] | — | `revoke [{access, refresh}]` |
//! | [`grant_bearer_key`] / [`revoke_bearer_key`] | `ACCESS … GRANT` / `REVOKE` | — |
//!
//! ns/db is `RETURN [session::ns(), session::db()];`: users sign in to the database the
//! model's connection has selected, and a token of another database is not this model's.
//!
//! ```
//! use surql::auth::flow;
//! use surql::auth::{AuthConfig, AuthStep, UserModel, Via};
//! use surql::rpc::Method;
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Serialize, Deserialize, surql::model::Model)]
//! # #[surql(table = "user")]
//! # struct User { id: Option<surql::RecordId>, email: String }
//! # impl UserModel for User { const AUTH: AuthConfig = AuthConfig::new(); }
//!
//! let mut op = flow::signin::<User>(&User::login("ada@example.com", "pw"));
//! // first the model connection's namespace and database …
//! let AuthStep::Send(Via::Model, req) = op.step(None) else { panic!() };
//! assert_eq!(req.method, Method::Query);
//! ```

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::{access, jwt, BearerKey, UserModel};
use crate::client::{self, Credentials, Token};
use crate::error::Error;
use crate::model::ops;
use crate::op::{IntoOperation, Operation, Step};
use crate::rpc::{Payload, Request};
use crate::value::{Datetime, Object, RecordId, Value};

/// Which connection a request of an [`AuthOp`] goes to; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The model's own connection.
    Model,
    /// The action's own short-lived connection (same URL and options).
    Isolated,
}

/// What an [`AuthOp`] wants next.
#[derive(Debug)]
pub enum AuthStep<T> {
    /// Send this request on that connection, and step again with its answer.
    Send(Via, Request),
    /// Wait this long, then step again with no answer (a bounded backoff).
    Wait(Duration),
    /// Finished: the driver closes the isolated connection, if it opened one.
    Done(Result<T, Error>),
}

type Answer = Result<Payload, Error>;
type Then<T> = Box<dyn FnOnce(Answer) -> Flow<T> + Send>;
type Resume<T> = Box<dyn FnOnce() -> Flow<T> + Send>;

/// The rest of an action, in continuation-passing style.
enum Flow<T> {
    Send(Via, Request, Then<T>),
    Wait(Duration, Resume<T>),
    Done(Result<T, Error>),
}

enum State<T> {
    Ready(Flow<T>),
    Sent(Then<T>),
    Waiting(Resume<T>),
    Spent,
}

/// An auth action over the model's connection and an isolated one; see the
/// [module docs](self). Every error it returns has its secrets redacted
/// ([`super::redact_error`]).
pub struct AuthOp<T> {
    state: State<T>,
    /// Passwords, tokens and keys this action was given: scrubbed from its errors.
    secrets: Vec<String>,
}

impl<T> fmt::Debug for AuthOp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Ready(_) => "ready",
            State::Sent(_) => "waiting for an answer",
            State::Waiting(_) => "backing off",
            State::Spent => "spent",
        };
        f.debug_struct("AuthOp")
            .field("state", &state)
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .finish()
    }
}

impl<T> AuthOp<T> {
    fn new(secrets: Vec<String>, flow: Flow<T>) -> Self {
        AuthOp {
            state: State::Ready(flow),
            secrets,
        }
    }

    fn fail(secrets: Vec<String>, e: Error) -> Self {
        Self::new(secrets, Flow::Done(Err(e)))
    }

    /// Advances: `answer` is `None` on the first call and after a [`AuthStep::Wait`], else
    /// the answer to the request the previous step asked to send. After
    /// [`AuthStep::Done`] the operation is spent.
    pub fn step(&mut self, answer: Option<Answer>) -> AuthStep<T> {
        let flow = match (std::mem::replace(&mut self.state, State::Spent), answer) {
            (State::Ready(flow), None) => flow,
            (State::Sent(then), Some(a)) => then(a),
            (State::Waiting(resume), None) => resume(),
            _ => Flow::Done(Err(Error::Protocol(
                "an auth operation was stepped out of turn (a driver bug)".into(),
            ))),
        };
        match flow {
            Flow::Send(via, req, then) => {
                self.state = State::Sent(then);
                AuthStep::Send(via, req)
            }
            Flow::Wait(d, resume) => {
                self.state = State::Waiting(resume);
                AuthStep::Wait(d)
            }
            Flow::Done(out) => {
                let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
                AuthStep::Done(out.map_err(|e| super::redact_error(e, &secrets)))
            }
        }
    }
}

/// Ends the flow with the error of a `Result`, else gives its value.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Flow::Done(Err(e.into())),
        }
    };
}

/// Runs a one-connection operation on `via`, then continues with its output.
fn run<O, T, F>(via: Via, op: O, then: F) -> Flow<T>
where
    O: Operation + Send + 'static,
    T: 'static,
    F: FnOnce(Result<O::Output, Error>) -> Flow<T> + Send + 'static,
{
    drive(via, op, None, then)
}

fn drive<O, T, F>(via: Via, mut op: O, answer: Option<Answer>, then: F) -> Flow<T>
where
    O: Operation + Send + 'static,
    T: 'static,
    F: FnOnce(Result<O::Output, Error>) -> Flow<T> + Send + 'static,
{
    match op.step(answer) {
        Step::Send(req) => Flow::Send(via, req, Box::new(move |a| drive(via, op, Some(a), then))),
        Step::Done(out) => then(out),
    }
}

/// Step one of most actions: the namespace and database selected on the model's
/// connection.
fn with_target<T: 'static>(
    then: impl FnOnce(String, String) -> Flow<T> + Send + 'static,
) -> Flow<T> {
    let call = client::query("RETURN [session::ns(), session::db()];", Object::new());
    run(Via::Model, call.into_operation(), move |resp| {
        let mut resp = tri!(resp);
        let (ns, db): (Option<String>, Option<String>) = tri!(resp.take(0));
        match (ns, db) {
            (Some(ns), Some(db)) => then(ns, db),
            _ => Flow::Done(Err(Error::invalid(
                "model connection",
                "it has no namespace and database selected; users sign in to the database the model's connection uses, so call use_ns_db on it first",
            ))),
        }
    })
}

/// The user record a token names (its `ID` claim), which must be of `M`'s table. The token
/// comes straight from the server here (signin, signup) or was just verified by it.
fn user_id<M: UserModel>(access_token: &str) -> Result<RecordId, Error> {
    let claims = jwt::decode_claims(access_token).map_err(|e| {
        Error::Protocol(format!(
            "the server issued a token whose claims cannot be read: {e}"
        ))
    })?;
    let rid = claims.record_id().ok_or_else(|| {
        Error::Protocol("the server issued a token without a record id (`ID`) claim".into())
    })?;
    if rid.table != M::META.table {
        return Err(Error::invalid(
            "access method",
            format!(
                "it signs in records of table `{}`, not `{}` (the table of {})",
                rid.table,
                M::META.table,
                M::META.rust_name
            ),
        ));
    }
    Ok(rid)
}

/// Loads the user a fresh token names, on the model's connection.
fn load_user<M: UserModel>(token: Token) -> Flow<(M, Token)> {
    let rid = tri!(user_id::<M>(&token.access));
    run(Via::Model, ops::get::<M>(rid), move |user| {
        Flow::Done(user.map(|u| (u, token)))
    })
}

/// The parameters of a signup/signin as an object holding the identifier and the password,
/// and the password (a secret).
fn checked_params<M: UserModel>(
    what: &'static str,
    params: &impl Serialize,
) -> Result<(Object, Vec<String>), Error> {
    let v = crate::value::to_value(params)
        .map_err(|e| Error::invalid(format!("{what} parameters"), e.to_string()))?;
    let Value::Object(o) = v else {
        return Err(Error::invalid(
            format!("{what} parameters"),
            format!("expected an object (a struct or a map), found {}", v.kind()),
        ));
    };
    let mut secrets = Vec::new();
    for field in [M::AUTH.identifier_field, M::AUTH.password_field] {
        match o.get(field) {
            None | Some(Value::None | Value::Null) => {
                return Err(Error::invalid(
                    format!("{what} parameters"),
                    format!("missing required field `{field}`"),
                ))
            }
            Some(Value::String(s)) if field == M::AUTH.password_field => secrets.push(s.clone()),
            Some(_) => {}
        }
    }
    for reserved in o.keys() {
        if access::RESERVED_PARAMS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(reserved))
        {
            return Err(Error::invalid(
                format!("{what} parameters"),
                format!(
                    "`{reserved}` cannot be a parameter: the server reads {:?} (any case) as something else",
                    access::RESERVED_PARAMS
                ),
            ));
        }
    }
    Ok((o, secrets))
}

fn record_creds(ns: String, db: String, access: String, params: Object) -> Credentials {
    Credentials::Record {
        ns,
        db,
        access,
        params,
    }
}

/// Signs a new user up (`signup` on an isolated connection), then loads the record the
/// SIGNUP clause created. `params` (a struct or a map) must hold the identifier and the
/// password fields; every field of it becomes a `$variable` of the SIGNUP clause.
pub fn signup<M: UserModel>(params: &impl Serialize) -> AuthOp<(M, Token)> {
    signin_like::<M>("signup", params, true)
}

/// Signs a user in (`signin` on an isolated connection), then loads the user.
pub fn signin<M: UserModel>(params: &impl Serialize) -> AuthOp<(M, Token)> {
    signin_like::<M>("signin", params, false)
}

fn signin_like<M: UserModel>(
    what: &'static str,
    params: &impl Serialize,
    signup: bool,
) -> AuthOp<(M, Token)> {
    let (params, secrets) = match checked_params::<M>(what, params) {
        Ok(p) => p,
        Err(e) => return AuthOp::fail(Vec::new(), e),
    };
    let access = M::access_name().into_owned();
    AuthOp::new(
        secrets,
        with_target(move |ns, db| {
            let creds = record_creds(ns, db, access, params);
            let call = if signup {
                tri!(client::signup(&creds))
            } else {
                client::signin(&creds)
            };
            run(Via::Isolated, call.into_operation(), move |token| {
                load_user::<M>(tri!(token.map_err(|e| rejected(what, e))))
            })
        }),
    )
}

/// Trades a refresh token for a new access + refresh pair (`signin {ns, db, ac, refresh}`
/// on an isolated connection), then loads the user. The old refresh token is spent: the
/// server refuses it from now on (rotation).
pub fn refresh<M: UserModel>(refresh_token: &str) -> AuthOp<(M, Token)> {
    let secrets = vec![refresh_token.to_owned()];
    if !M::AUTH.refresh {
        return AuthOp::fail(
            secrets,
            Error::invalid(
                "refresh",
                format!(
                    "{} has no refresh tokens: turn them on with AuthConfig::with_refresh (and define the access again)",
                    M::META.rust_name
                ),
            ),
        );
    }
    let access = M::access_name().into_owned();
    let token = refresh_token.to_owned();
    AuthOp::new(
        secrets,
        with_target(move |ns, db| {
            let mut params = Object::new();
            params.insert("refresh".into(), Value::String(token));
            let creds = record_creds(ns, db, access, params);
            run(
                Via::Isolated,
                client::signin(&creds).into_operation(),
                |token| load_user::<M>(tri!(token.map_err(|e| rejected("refresh", e)))),
            )
        }),
    )
}

/// Signs in with a bearer key (from [`grant_bearer_key`]) through the model's bearer access
/// method, then loads the user.
pub fn signin_with_key<M: UserModel>(key: &str) -> AuthOp<(M, Token)> {
    let access = M::bearer_access_name().into_owned();
    let key = key.to_owned();
    AuthOp::new(
        vec![key.clone()],
        with_target(move |ns, db| {
            let mut params = Object::new();
            params.insert("key".into(), Value::String(key));
            let creds = record_creds(ns, db, access, params);
            run(
                Via::Isolated,
                client::signin(&creds).into_operation(),
                |token| load_user::<M>(tri!(token.map_err(|e| rejected("signin_with_key", e)))),
            )
        }),
    )
}

/// How many times a refused `authenticate` of a fresh token is tried again, and the waits
/// before each try (the Python project's 0.1 / 0.25 / 0.5 / 1 s).
pub const AUTH_RETRY_DELAYS: [Duration; 4] = [
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
];

/// A token is "fresh" (a refusal may be clock skew) when it became valid (`nbf`, else
/// `iat`) within this many seconds of now, either way. Skew between servers' clocks is
/// seconds; a refusal of an older token is final at once. (A forged token can claim to be
/// fresh too: it costs the caller at most the [`AUTH_RETRY_DELAYS`] and the server five
/// cheap signature checks.)
pub const FRESH_WINDOW_SECS: i64 = 10;

/// Whether an error is the server refusing the credentials, token or key (as opposed to
/// failing to answer): [`Error::AuthRejected`], an auth error, an HTTP 401, or SurrealDB
/// 3.3.5's answer to a record signin whose SIGNIN clause selected nothing (a wrong
/// password, an unknown user): `NotFound` "No record was returned" (3.0.5 sends the same
/// message as `Internal`/-32000).
pub fn is_rejection(e: &Error) -> bool {
    match e {
        Error::AuthRejected { .. } => true,
        Error::Http { status, .. } => *status == 401,
        _ => e.as_server_error().is_some_and(|s| {
            s.is_auth_error()
                || (matches!(
                    s.kind,
                    crate::rpc::ErrorKind::NotFound | crate::rpc::ErrorKind::Internal
                ) && s.message == "No record was returned")
        }),
    }
}

/// A refusal of `action`'s credentials as [`Error::AuthRejected`]; other errors as they are.
fn rejected(action: &str, e: Error) -> Error {
    if is_rejection(&e) && !e.is_auth_rejected() {
        Error::AuthRejected {
            action: action.to_owned(),
            source: Box::new(e),
        }
    } else {
        e
    }
}

fn may_be_clock_skew(e: &Error, claims: &jwt::Claims, now: i64) -> bool {
    let expired = e.as_server_error().is_some_and(|s| s.is_token_expired());
    let start = claims.nbf.or(claims.iat);
    !expired && start.is_some_and(|s| (now - s).abs() <= FRESH_WINDOW_SECS)
}

/// `authenticate` on the isolated connection: `then(true)` when the server accepts the
/// token, `then(false)` when it refuses it (after the clock-skew retries), errors otherwise.
fn authenticate_checked<T: 'static>(
    token: String,
    claims: jwt::Claims,
    now: i64,
    attempt: usize,
    then: impl FnOnce(bool) -> Flow<T> + Send + 'static,
) -> Flow<T> {
    let call = client::authenticate(&token);
    run(Via::Isolated, call.into_operation(), move |r| match r {
        Ok(()) => then(true),
        Err(e) if is_rejection(&e) => match AUTH_RETRY_DELAYS.get(attempt) {
            Some(delay) if may_be_clock_skew(&e, &claims, now) => Flow::Wait(
                *delay,
                Box::new(move || authenticate_checked(token, claims, now, attempt + 1, then)),
            ),
            _ => then(false),
        },
        Err(e) => Flow::Done(Err(e)),
    })
}

/// The claims of a token that may be `M`'s: readable, of `M`'s access method, naming a
/// record of `M`'s table. `None` for anything else (no server needed to refuse it).
fn own_claims<M: UserModel>(token: &str, access: &str) -> Option<(jwt::Claims, RecordId)> {
    let claims = jwt::decode_claims(token).ok()?;
    if claims.access.as_deref() != Some(access) {
        return None;
    }
    let rid = claims.record_id()?;
    (rid.table == M::META.table).then_some((claims, rid))
}

/// Verifies `token` with the server and returns the record it names, or `None` when it is
/// not a valid token of `M`'s access method for the model connection's database. `now` is
/// the wall clock in unix seconds (for the clock-skew retry only).
fn verified<M: UserModel, T: Send + 'static>(
    token: &str,
    now: i64,
    then: impl FnOnce(RecordId) -> Flow<Option<T>> + Send + 'static,
) -> AuthOp<Option<T>> {
    let secrets = vec![token.to_owned()];
    let Some((claims, rid)) = own_claims::<M>(token, &M::access_name()) else {
        return AuthOp::new(secrets, Flow::Done(Ok(None)));
    };
    let token = token.to_owned();
    AuthOp::new(
        secrets,
        with_target(move |ns, db| {
            if claims.ns.as_deref() != Some(&ns) || claims.db.as_deref() != Some(&db) {
                return Flow::Done(Ok(None));
            }
            authenticate_checked(token, claims, now, 0, move |ok| {
                if ok {
                    then(rid)
                } else {
                    Flow::Done(Ok(None))
                }
            })
        }),
    )
}

/// Asks the server whether `token` is valid (`authenticate` on an isolated connection) and
/// loads its user: `Some((user, record id))`, or `None` for a token that is invalid,
/// expired, of another access method or database, or whose user no longer exists. Errors
/// are for failures to get an answer only. A refusal of a fresh token (`nbf`/`iat` within
/// [`FRESH_WINDOW_SECS`] of `now`, unix seconds) is retried after the
/// [`AUTH_RETRY_DELAYS`].
pub fn authenticate_token<M: UserModel>(token: &str, now: i64) -> AuthOp<Option<(M, RecordId)>> {
    verified::<M, (M, RecordId)>(token, now, |rid| {
        run(
            Via::Model,
            ops::get::<M>(rid.clone()),
            move |user| match user {
                Ok(u) => Flow::Done(Ok(Some((u, rid)))),
                Err(e) if e.is_does_not_exist() => Flow::Done(Ok(None)),
                Err(e) => Flow::Done(Err(e)),
            },
        )
    })
}

/// [`authenticate_token`] without loading the user: the record id the server accepted the
/// token for, or `None`. (The drivers put a [`super::TokenCache`] in front of it.)
pub fn validate_token<M: UserModel>(token: &str, now: i64) -> AuthOp<Option<RecordId>> {
    verified::<M, RecordId>(token, now, |rid| Flow::Done(Ok(Some(rid))))
}

/// The record id `token` claims, if the token is `M`'s, readable and within its `exp`/`nbf`
/// (with `leeway_secs` each way) at `now` (unix seconds).
///
/// **No signature check**: anybody can write a token that passes. Use it to pre-filter or
/// route, never to authorize; for that, use [`validate_token`] or [`authenticate_token`].
pub fn validate_token_local<M: UserModel>(
    token: &str,
    now: i64,
    leeway_secs: u64,
) -> Option<RecordId> {
    let (claims, rid) = own_claims::<M>(token, &M::access_name())?;
    claims.check_time(now, leeway_secs).ok()?;
    Some(rid)
}

/// Changes a user's password: signs in with `old` on an isolated connection (a wrong one is
/// the server's auth error), then, on the model's connection,
/// [`change_password_statement`](super::access::change_password_statement) for the record
/// that signed in. A user that no longer matches is [`Error::DoesNotExist`].
pub fn change_password<M: UserModel>(identifier: &str, old: &str, new: &str) -> AuthOp<()> {
    let secrets = vec![old.to_owned(), new.to_owned()];
    if new.is_empty() {
        return AuthOp::fail(secrets, Error::invalid("new password", "it is empty"));
    }
    let access = M::access_name().into_owned();
    let (identifier, old, new) = (identifier.to_owned(), old.to_owned(), new.to_owned());
    AuthOp::new(
        secrets,
        with_target(move |ns, db| {
            let mut params = Object::new();
            params.insert(
                M::AUTH.identifier_field.into(),
                Value::String(identifier.clone()),
            );
            params.insert(M::AUTH.password_field.into(), Value::String(old));
            let creds = record_creds(ns, db, access, params);
            run(
                Via::Isolated,
                client::signin(&creds).into_operation(),
                move |token| {
                    let token = tri!(token.map_err(|e| rejected("change_password", e)));
                    let rid = tri!(user_id::<M>(&token.access));
                    let mut vars = Object::new();
                    vars.insert("user".into(), Value::RecordId(rid.clone()));
                    vars.insert("new_password".into(), Value::String(new));
                    vars.insert("identifier".into(), Value::String(identifier));
                    let text = access::change_password_statement(&M::AUTH);
                    let call = client::query(&text, vars);
                    run(Via::Model, call.into_operation(), move |resp| {
                        let ids: Vec<RecordId> = tri!(tri!(resp).take(0));
                        if ids.is_empty() {
                            return Flow::Done(Err(Error::DoesNotExist {
                                model: M::META.rust_name.to_owned(),
                                query: format!("id = {rid} with its identifier"),
                            }));
                        }
                        Flow::Done(Ok(()))
                    })
                },
            )
        }),
    )
}

/// Revokes the refresh grant of `token` (`revoke [{access, refresh}]` on an isolated
/// connection), so it can no longer be refreshed. Idempotent: a grant already revoked (or
/// a token the server does not accept) is fine.
///
/// An access token is a signed, stateless JWT: the server cannot take it back before its
/// `exp` (keep `token_duration` short). A token without a refresh part has nothing to revoke
/// and sends nothing. To end a *session* opened with a token, call `invalidate()` on that
/// connection.
pub fn invalidate(token: &Token) -> AuthOp<()> {
    let mut secrets = vec![token.access.clone()];
    secrets.extend(token.refresh.clone());
    if token.refresh.is_none() {
        return AuthOp::new(secrets, Flow::Done(Ok(())));
    }
    AuthOp::new(
        secrets,
        run(
            Via::Isolated,
            client::revoke(token).into_operation(),
            |r| match r {
                Err(e) if !is_rejection(&e) => Flow::Done(Err(e)),
                _ => Flow::Done(Ok(())),
            },
        ),
    )
}

/// Grants a bearer key to user `user` through `M`'s bearer access method (defined with
/// [`UserModel::define_bearer_access`]), on the model's connection
/// ([`grant_statement`](super::access::grant_statement)).
pub fn grant_bearer_key<M: UserModel>(
    user: impl crate::model::IntoModelId<M>,
) -> AuthOp<BearerKey> {
    let rid = match user.into_model_id() {
        Ok(r) => r,
        Err(e) => return AuthOp::fail(Vec::new(), e),
    };
    let text = match access::grant_statement(&M::bearer_access_name(), &rid) {
        Ok(t) => t,
        Err(e) => return AuthOp::fail(Vec::new(), e),
    };
    AuthOp::new(
        Vec::new(),
        run(
            Via::Model,
            client::query(&text, Object::new()).into_operation(),
            move |resp| {
                let grant: Value = tri!(tri!(resp).take(0));
                Flow::Done(bearer_key(grant, rid))
            },
        ),
    )
}

/// Reads a grant (`{id, grant: {id, key}, expiration, …}`) without ever putting its key in
/// an error.
fn bearer_key(grant: Value, subject: RecordId) -> Result<BearerKey, Error> {
    let shape = || {
        Error::Protocol("the answer to ACCESS … GRANT is not a grant with an id and a key".into())
    };
    let inner = grant.get("grant").ok_or_else(shape)?;
    let id = match inner.get("id") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(shape()),
    };
    let key = match inner.get("key") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(shape()),
    };
    let expiration = match grant.get("expiration") {
        Some(Value::Datetime(d)) => Some(*d),
        Some(Value::String(s)) => s.parse::<Datetime>().ok(),
        _ => None,
    };
    Ok(BearerKey {
        id,
        key,
        subject,
        expiration,
    })
}

/// Revokes a bearer key on the model's connection
/// ([`revoke_statement`](super::access::revoke_statement)): `key_or_id` is the grant id
/// ([`BearerKey::id`]) or the whole key, whose secret is never sent.
pub fn revoke_bearer_key<M: UserModel>(key_or_id: &str) -> AuthOp<()> {
    let secrets = vec![key_or_id.to_owned()];
    let text = match access::revoke_statement(&M::bearer_access_name(), key_or_id) {
        Ok(t) => t,
        Err(e) => return AuthOp::fail(secrets, e),
    };
    AuthOp::new(
        secrets,
        run(
            Via::Model,
            client::query(&text, Object::new()).into_operation(),
            |resp| {
                tri!(tri!(resp).check());
                Flow::Done(Ok(()))
            },
        ),
    )
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
