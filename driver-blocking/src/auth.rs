//! Authentication at the model level for the blocking driver: [`UserModelExt`] on user
//! models (`User::signup(&db, &params)?`), run exactly as `surql-smol` runs them.
//!
//! Each action is an operation of the core ([`surql::auth::flow`]) over two connections:
//! the model's own (a [`Surreal`], or the model's named connection in [`Connections`]) and
//! a short-lived connection opened here to the same URL with the same options, where every
//! user credential and token goes. The model's connection is never signed in as a user.
//!
//! ```no_run
//! # use serde::{Deserialize, Serialize};
//! # use surql_blocking::surql::{self, RecordId};
//! use surql_blocking::prelude::*;
//! use surql_blocking::{AuthConfig, Surreal, TokenCache};
//!
//! #[derive(Debug, Serialize, Deserialize, Model)]
//! #[surql(table = "user")]
//! struct User { id: Option<RecordId>, email: String, name: String }
//! impl UserModel for User { const AUTH: AuthConfig = AuthConfig::new(); }
//!
//! # fn demo(db: Surreal) -> surql_blocking::Result<()> {
//! db.query(User::define_access()?).run()?.check()?;
//! let (ada, token) = User::signup(&db, &User::login("ada@example.com", "pw").with("name", "Ada"))?;
//! let (ada, token) = User::signin(&db, &User::login("ada@example.com", "pw"))?;
//! let who = User::authenticate_token(&db, &token.access)?; // Some((user, id)) or None
//! let cache = TokenCache::default();
//! let id = User::validate_token(&db, &token.access, &cache)?;
//! let as_ada = User::connect_as(&db, &token.access)?; // a connection with Ada's permissions
//! # let _ = (ada, who, id, as_ada); Ok(()) }
//! ```

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use surql::auth::flow::{self, Via};
use surql::auth::{jwt, AuthOp, AuthStep, BearerKey, TokenCache, UserModel};
use surql::endpoint::{Endpoint, Scheme};
use surql::model::{IntoModelId, ModelMeta};

use crate::{Connections, Error, RecordId, Result, Surreal, Token, Using};

/// How much clock difference [`UserModelExt::validate_token_local`] allows on `exp` and
/// `nbf`, each way.
pub const LOCAL_LEEWAY_SECS: u64 = 5;

/// What auth actions run on: a client, the named [`Connections`] (the model's own
/// connection, `#[surql(connection = "…")]`, else `"default"`), or [`Connections::using`].
pub trait AuthExecutor: Send + Sync {
    /// The client the actions of `model` run on.
    fn client_for(&self, model: &'static ModelMeta) -> Result<Surreal>;
}

impl AuthExecutor for Surreal {
    fn client_for(&self, _model: &'static ModelMeta) -> Result<Surreal> {
        Ok(self.clone())
    }
}

impl AuthExecutor for Connections {
    fn client_for(&self, model: &'static ModelMeta) -> Result<Surreal> {
        self.get(model.connection.unwrap_or("default"))
    }
}

impl AuthExecutor for Using<'_> {
    fn client_for(&self, _model: &'static ModelMeta) -> Result<Surreal> {
        self.conns.get(self.name)
    }
}

impl Surreal {
    /// A new connection to the same server with the same options, sharing nothing with
    /// this one (not signed in, no namespace).
    pub(crate) fn reopen(&self) -> Result<Surreal> {
        // `base_url` is the HTTP form of the endpoint (prefix path kept); put the
        // WebSocket scheme back for a WebSocket client.
        let mut e = Endpoint::parse(&self.inner.base_url)?;
        if self.is_websocket() {
            e.scheme = if e.scheme.is_tls() {
                Scheme::Wss
            } else {
                Scheme::Ws
            };
        }
        Surreal::connect_with(&e.rpc_url(), self.inner.options.clone())
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Runs an auth operation: [`Via::Model`] requests on `client`, [`Via::Isolated`] ones on a
/// connection opened on first use. Returns the output and that connection (open), if any.
fn run_keep<T>(client: &Surreal, mut op: AuthOp<T>) -> (Result<T>, Option<Surreal>) {
    let mut isolated: Option<Surreal> = None;
    let mut answer = None;
    loop {
        match op.step(answer.take()) {
            AuthStep::Send(Via::Model, req) => answer = Some(client.rpc(req)),
            AuthStep::Send(Via::Isolated, req) => {
                if isolated.is_none() {
                    match client.reopen() {
                        Ok(c) => isolated = Some(c),
                        // The operation ends with it (redacted like any error of it).
                        Err(e) => {
                            answer = Some(Err(e));
                            continue;
                        }
                    }
                }
                if let Some(c) = &isolated {
                    answer = Some(c.rpc(req));
                }
            }
            AuthStep::Wait(d) => std::thread::sleep(d),
            AuthStep::Done(out) => return (out, isolated),
        }
    }
}

/// [`run_keep`], closing the isolated connection at the end.
fn run<T>(client: &Surreal, op: AuthOp<T>) -> Result<T> {
    let (out, isolated) = run_keep(client, op);
    if let Some(c) = isolated {
        c.close();
    }
    out
}

/// The actions of user models: `User::signup(&db, &params)?`. In scope with the
/// prelude. See [`surql::auth`] for the model side and [`surql::auth::flow`] for exactly
/// what each action sends where.
pub trait UserModelExt: UserModel + Sized {
    /// Signs a new user up (the SIGNUP clause creates the record, hashing the password) and
    /// loads it: the user and its token (with a refresh token when the model has them).
    /// `params` must hold the identifier and password fields (see [`UserModel::login`]).
    fn signup(db: &impl AuthExecutor, params: &impl Serialize) -> Result<(Self, Token)> {
        let op = flow::signup::<Self>(params);
        run(&db.client_for(Self::META)?, op)
    }

    /// Signs a user in and loads it. A wrong password is the server's authentication
    /// error (`e.as_server_error().unwrap().is_auth_error()`).
    fn signin(db: &impl AuthExecutor, params: &impl Serialize) -> Result<(Self, Token)> {
        let op = flow::signin::<Self>(params);
        run(&db.client_for(Self::META)?, op)
    }

    /// Trades a refresh token for a new token pair (the old refresh token is refused from
    /// then on) and loads the user.
    fn refresh_access_token(db: &impl AuthExecutor, refresh: &str) -> Result<(Self, Token)> {
        let op = flow::refresh::<Self>(refresh);
        run(&db.client_for(Self::META)?, op)
    }

    /// Signs in with a bearer key (see [`grant_bearer_key`](Self::grant_bearer_key)) and
    /// loads the user.
    fn signin_with_key(db: &impl AuthExecutor, key: &str) -> Result<(Self, Token)> {
        let op = flow::signin_with_key::<Self>(key);
        run(&db.client_for(Self::META)?, op)
    }

    /// Asks the server whether `token` is valid, and loads its user: `Some((user, id))`, or
    /// `None` when it is invalid, expired, not this model's or its user is gone. Errors
    /// mean no answer could be had. A refusal of a fresh token (clock skew) is retried a
    /// few times with a bounded backoff.
    fn authenticate_token(db: &impl AuthExecutor, token: &str) -> Result<Option<(Self, RecordId)>> {
        let op = flow::authenticate_token::<Self>(token, unix_now());
        run(&db.client_for(Self::META)?, op)
    }

    /// The record id the server accepts `token` for (`None`: it does not), through
    /// `cache`: a fresh answer held there is returned without asking. Use one cache per
    /// model connection.
    fn validate_token(
        db: &impl AuthExecutor,
        token: &str,
        cache: &TokenCache,
    ) -> Result<Option<RecordId>> {
        let access = Self::access_name();
        if let Some(rid) = cache.get(&access, token, Instant::now()) {
            return Ok(Some(rid));
        }
        let op = flow::validate_token::<Self>(token, unix_now());
        let out = run(&db.client_for(Self::META)?, op)?;
        if let Some(rid) = &out {
            let left = jwt::decode_claims(token)
                .ok()
                .and_then(|c| c.remaining(unix_now()))
                .map(Duration::from_secs);
            cache.insert(&access, token, rid.clone(), Instant::now(), left);
        }
        Ok(out)
    }

    /// The record id `token` claims, if it is this model's and within its `exp`/`nbf`
    /// ([`LOCAL_LEEWAY_SECS`] each way), read locally without asking the server.
    ///
    /// # Security
    ///
    /// **The signature is NOT checked** (only the server holds the key): anybody can write
    /// a token that passes. Use it as a pre-filter (reject expired or foreign tokens
    /// without a round trip, route by user), never to decide who a caller is; for that use
    /// [`validate_token`](Self::validate_token) or
    /// [`authenticate_token`](Self::authenticate_token).
    fn validate_token_local(token: &str) -> Option<RecordId> {
        flow::validate_token_local::<Self>(token, unix_now(), LOCAL_LEEWAY_SECS)
    }

    /// Changes a user's password: checks `old` by signing in (a wrong one is the server's
    /// authentication error), then sets the new hash as the model's connection.
    fn change_password(
        db: &impl AuthExecutor,
        identifier: &str,
        old: &str,
        new: &str,
    ) -> Result<()> {
        let op = flow::change_password::<Self>(identifier, old, new);
        run(&db.client_for(Self::META)?, op)
    }

    /// Revokes the token's refresh grant, so it can no longer be refreshed (idempotent).
    /// The access token itself stays valid until its `exp` (a signed JWT cannot be taken
    /// back); end a session opened with it by calling `invalidate()` on that connection.
    fn invalidate(db: &impl AuthExecutor, token: &Token) -> Result<()> {
        let op = flow::invalidate(token);
        run(&db.client_for(Self::META)?, op)
    }

    /// Grants a bearer key to user `user` through the model's bearer access method
    /// (define it with [`UserModel::define_bearer_access`]).
    fn grant_bearer_key(db: &impl AuthExecutor, user: impl IntoModelId<Self>) -> Result<BearerKey> {
        let op = flow::grant_bearer_key::<Self>(user);
        run(&db.client_for(Self::META)?, op)
    }

    /// Revokes a bearer key, by grant id ([`BearerKey::id`]) or whole key (only its id is
    /// sent).
    fn revoke_bearer_key(db: &impl AuthExecutor, key_or_id: &str) -> Result<()> {
        let op = flow::revoke_bearer_key::<Self>(key_or_id);
        run(&db.client_for(Self::META)?, op)
    }

    /// A new connection authenticated with `token` (same URL and options as the model's):
    /// what it runs, it runs with the user's permissions. The token is checked like
    /// [`authenticate_token`](Self::authenticate_token); one that is refused is an error.
    fn connect_as(db: &impl AuthExecutor, token: &str) -> Result<Surreal> {
        let op = flow::validate_token::<Self>(token, unix_now());
        let client = db.client_for(Self::META)?;
        match run_keep(&client, op) {
            (Ok(Some(_)), Some(conn)) => {
                // Over HTTP the token alone does not select the database for the client's
                // later requests: select the one the token is for (its claims were checked).
                let claims = jwt::decode_claims(token).ok();
                if let Some((Some(ns), Some(db))) = claims.map(|c| (c.ns, c.db)) {
                    if let Err(e) = conn.use_ns_db(&ns, &db) {
                        conn.close();
                        return Err(e);
                    }
                }
                Ok(conn)
            }
            (Ok(_), conn) => {
                if let Some(c) = conn {
                    c.close();
                }
                Err(refused::<Self>())
            }
            (Err(e), conn) => {
                if let Some(c) = conn {
                    c.close();
                }
                Err(e)
            }
        }
    }
}

fn refused<M: UserModel>() -> Error {
    Error::invalid(
        "token",
        format!(
            "the server does not accept it as a token of access method `{}` for the model connection's database",
            M::access_name()
        ),
    )
}

impl<M: UserModel> UserModelExt for M {}
