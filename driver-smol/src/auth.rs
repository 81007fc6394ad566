//! Authentication at the model level for the async driver: [`UserModelExt`] on user models
//! (`User::signup(&db, &params).await?`), run exactly as `surql-blocking` runs them.
//!
//! Each action is an operation of the core ([`surql::auth::flow`]) over two connections:
//! the model's own (a [`Surreal`], or the model's named connection in [`Connections`]) and
//! a short-lived connection opened here to the same URL with the same options, where every
//! user credential and token goes. The model's connection is never signed in as a user.
//!
//! ```no_run
//! # use serde::{Deserialize, Serialize};
//! # use surql_smol::surql::{self, RecordId};
//! use surql_smol::prelude::*;
//! use surql_smol::{AuthConfig, Surreal, TokenCache};
//!
//! #[derive(Debug, Serialize, Deserialize, Model)]
//! #[surql(table = "user")]
//! struct User { id: Option<RecordId>, email: String, name: String }
//! impl UserModel for User { const AUTH: AuthConfig = AuthConfig::new(); }
//!
//! # async fn demo(db: Surreal) -> surql_smol::Result<()> {
//! db.query(User::define_access()?).await?.check()?;
//! let (ada, token) = User::signup(&db, &User::login("ada@example.com", "pw").with("name", "Ada")).await?;
//! let (ada, token) = User::signin(&db, &User::login("ada@example.com", "pw")).await?;
//! let who = User::authenticate_token(&db, &token.access).await?; // Some((user, id)) or None
//! let cache = TokenCache::default();
//! let id = User::validate_token(&db, &token.access, &cache).await?;
//! let as_ada = User::connect_as(&db, &token.access).await?; // a connection with Ada's permissions
//! # let _ = (ada, who, id, as_ada); Ok(()) }
//! ```

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use surql::auth::flow::{self, Via};
use surql::auth::{jwt, AuthOp, AuthStep, BearerKey, TokenCache, UserModel};
use surql::model::{IntoModelId, ModelMeta};

use crate::{Connections, Error, RecordId, Result, Surreal, Token, Using};

/// How much clock difference [`UserModelExt::validate_token_local`] allows on `exp` and
/// `nbf`, each way.
pub const LOCAL_LEEWAY_SECS: u64 = 5;

/// What auth actions run on: a client, the named [`Connections`] (the model's own
/// connection, `#[surql(connection = "…")]`, else `"default"`), or [`Connections::using`].
pub trait AuthExecutor: Send + Sync {
    /// The client the actions of `model` run on.
    fn client_for(&self, model: &'static ModelMeta)
        -> impl Future<Output = Result<Surreal>> + Send;
}

impl AuthExecutor for Surreal {
    async fn client_for(&self, _model: &'static ModelMeta) -> Result<Surreal> {
        Ok(self.clone())
    }
}

impl AuthExecutor for Connections {
    async fn client_for(&self, model: &'static ModelMeta) -> Result<Surreal> {
        self.get(model.connection.unwrap_or("default")).await
    }
}

impl AuthExecutor for Using<'_> {
    async fn client_for(&self, _model: &'static ModelMeta) -> Result<Surreal> {
        self.conns.get(self.name).await
    }
}

impl Surreal {
    /// A new connection to the same server with the same options, sharing nothing with
    /// this one (not signed in, no namespace).
    pub(crate) async fn reopen(&self) -> Result<Surreal> {
        Surreal::connect_with(&self.inner.url, self.inner.options.clone()).await
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
async fn run_keep<T>(client: &Surreal, mut op: AuthOp<T>) -> (Result<T>, Option<Surreal>) {
    let mut isolated: Option<Surreal> = None;
    let mut answer = None;
    loop {
        match op.step(answer.take()) {
            AuthStep::Send(Via::Model, req) => answer = Some(client.rpc(req).await),
            AuthStep::Send(Via::Isolated, req) => {
                if isolated.is_none() {
                    match client.reopen().await {
                        Ok(c) => isolated = Some(c),
                        // The operation ends with it (redacted like any error of it).
                        Err(e) => {
                            answer = Some(Err(e));
                            continue;
                        }
                    }
                }
                if let Some(c) = &isolated {
                    answer = Some(c.rpc(req).await);
                }
            }
            AuthStep::Wait(d) => {
                async_io::Timer::after(d).await;
            }
            AuthStep::Done(out) => return (out, isolated),
        }
    }
}

/// [`run_keep`], closing the isolated connection at the end.
async fn run<T>(client: &Surreal, op: AuthOp<T>) -> Result<T> {
    let (out, isolated) = run_keep(client, op).await;
    if let Some(c) = isolated {
        c.close();
    }
    out
}

/// The actions of user models: `User::signup(&db, &params).await?`. In scope with the
/// prelude. See [`surql::auth`] for the model side and [`surql::auth::flow`] for exactly
/// what each action sends where.
pub trait UserModelExt: UserModel + Sized {
    /// Signs a new user up (the SIGNUP clause creates the record, hashing the password) and
    /// loads it: the user and its token (with a refresh token when the model has them).
    /// `params` must hold the identifier and password fields (see [`UserModel::login`]).
    fn signup(
        db: &impl AuthExecutor,
        params: &impl Serialize,
    ) -> impl Future<Output = Result<(Self, Token)>> + Send {
        let op = flow::signup::<Self>(params);
        async move { run(&db.client_for(Self::META).await?, op).await }
    }

    /// Signs a user in and loads it. A wrong password is the server's authentication
    /// error (`e.as_server_error().unwrap().is_auth_error()`).
    fn signin(
        db: &impl AuthExecutor,
        params: &impl Serialize,
    ) -> impl Future<Output = Result<(Self, Token)>> + Send {
        let op = flow::signin::<Self>(params);
        async move { run(&db.client_for(Self::META).await?, op).await }
    }

    /// Trades a refresh token for a new token pair (the old refresh token is refused from
    /// then on) and loads the user.
    fn refresh_access_token(
        db: &impl AuthExecutor,
        refresh: &str,
    ) -> impl Future<Output = Result<(Self, Token)>> + Send {
        let op = flow::refresh::<Self>(refresh);
        async move { run(&db.client_for(Self::META).await?, op).await }
    }

    /// Signs in with a bearer key (see [`grant_bearer_key`](Self::grant_bearer_key)) and
    /// loads the user.
    fn signin_with_key(
        db: &impl AuthExecutor,
        key: &str,
    ) -> impl Future<Output = Result<(Self, Token)>> + Send {
        let op = flow::signin_with_key::<Self>(key);
        async move { run(&db.client_for(Self::META).await?, op).await }
    }

    /// Asks the server whether `token` is valid, and loads its user: `Some((user, id))`, or
    /// `None` when it is invalid, expired, not this model's or its user is gone. Errors
    /// mean no answer could be had. A refusal of a fresh token (clock skew) is retried a
    /// few times with a bounded backoff.
    fn authenticate_token(
        db: &impl AuthExecutor,
        token: &str,
    ) -> impl Future<Output = Result<Option<(Self, RecordId)>>> + Send {
        let op = flow::authenticate_token::<Self>(token, unix_now());
        async move { run(&db.client_for(Self::META).await?, op).await }
    }

    /// The record id the server accepts `token` for (`None`: it does not), through
    /// `cache`: a fresh answer held there is returned without asking. Use one cache per
    /// model connection.
    fn validate_token(
        db: &impl AuthExecutor,
        token: &str,
        cache: &TokenCache,
    ) -> impl Future<Output = Result<Option<RecordId>>> + Send {
        let access = Self::access_name().into_owned();
        let token = token.to_owned();
        async move {
            if let Some(rid) = cache.get(&access, &token, Instant::now()) {
                return Ok(Some(rid));
            }
            let op = flow::validate_token::<Self>(&token, unix_now());
            let out = run(&db.client_for(Self::META).await?, op).await?;
            if let Some(rid) = &out {
                let left = jwt::decode_claims(&token)
                    .ok()
                    .and_then(|c| c.remaining(unix_now()))
                    .map(Duration::from_secs);
                cache.insert(&access, &token, rid.clone(), Instant::now(), left);
            }
            Ok(out)
        }
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
    ) -> impl Future<Output = Result<()>> + Send {
        let op = flow::change_password::<Self>(identifier, old, new);
        async move { run(&db.client_for(Self::META).await?, op).await }
    }

    /// Revokes the token's refresh grant, so it can no longer be refreshed (idempotent).
    /// The access token itself stays valid until its `exp` (a signed JWT cannot be taken
    /// back); end a session opened with it by calling `invalidate()` on that connection.
    fn invalidate(
        db: &impl AuthExecutor,
        token: &Token,
    ) -> impl Future<Output = Result<()>> + Send {
        let op = flow::invalidate(token);
        async move { run(&db.client_for(Self::META).await?, op).await }
    }

    /// Grants a bearer key to user `user` through the model's bearer access method
    /// (define it with [`UserModel::define_bearer_access`]).
    fn grant_bearer_key(
        db: &impl AuthExecutor,
        user: impl IntoModelId<Self>,
    ) -> impl Future<Output = Result<BearerKey>> + Send {
        let op = flow::grant_bearer_key::<Self>(user);
        async move { run(&db.client_for(Self::META).await?, op).await }
    }

    /// Revokes a bearer key, by grant id ([`BearerKey::id`]) or whole key (only its id is
    /// sent).
    fn revoke_bearer_key(
        db: &impl AuthExecutor,
        key_or_id: &str,
    ) -> impl Future<Output = Result<()>> + Send {
        let op = flow::revoke_bearer_key::<Self>(key_or_id);
        async move { run(&db.client_for(Self::META).await?, op).await }
    }

    /// A new connection authenticated with `token` (same URL and options as the model's):
    /// what it runs, it runs with the user's permissions. The token is checked like
    /// [`authenticate_token`](Self::authenticate_token); one that is refused is an error.
    fn connect_as(
        db: &impl AuthExecutor,
        token: &str,
    ) -> impl Future<Output = Result<Surreal>> + Send {
        let op = flow::validate_token::<Self>(token, unix_now());
        async move {
            let client = db.client_for(Self::META).await?;
            match run_keep(&client, op).await {
                (Ok(Some(_)), Some(conn)) => {
                    // Over HTTP the token alone does not select the database for the client's
                    // later requests: select the one the token is for (its claims were checked).
                    let claims = jwt::decode_claims(token).ok();
                    if let Some((Some(ns), Some(db))) = claims.map(|c| (c.ns, c.db)) {
                        if let Err(e) = conn.use_ns_db(&ns, &db).await {
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
