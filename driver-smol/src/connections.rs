//! Named connections: a registry of clients by name (`"default"` plus any others), connected
//! on first use, from code or from the environment.
//!
//! [`Connections`] is an [`Executor`]: a model action run on it goes to the model's own
//! connection (`#[surql(connection = "analytics")]`), else to `"default"`;
//! [`Connections::using`] overrides that for one action or query set. So the priority is:
//! `using(name)`, then the model's connection, then `"default"`.
//!
//! ```no_run
//! # async fn demo() -> surql_smol::Result<()> {
//! use surql_smol::{ConnectionConfig, Connections, Credentials};
//! let conns = Connections::new();
//! conns.add("default", ConnectionConfig::new("ws://127.0.0.1:8000")
//!     .credentials(Credentials::root("root", "root"))
//!     .ns_db("app", "main")
//!     .define_ns_db(true));
//! conns.add("analytics", ConnectionConfig::from_env("ANALYTICS")?.expect("SURREAL_ANALYTICS_URL is set"));
//! let db = conns.get("analytics").await?; // connects, signs in, selects (and defines) ns/db
//! # let _ = db; Ok(()) }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use surql::model::ModelMeta;
use surql::op::{IntoOperation, Operation};
use surql::signals::Signals;

use crate::{Credentials, Error, Executor, Options, Result, Surreal};

/// How to open one named connection.
#[derive(Clone)]
pub struct ConnectionConfig {
    /// `ws://`, `wss://`, `http://` or `https://` URL.
    pub url: String,
    /// Signed in right after connecting (none: anonymous).
    pub credentials: Option<Credentials>,
    /// Namespace and database selected after signing in.
    pub ns_db: Option<(String, String)>,
    /// `DEFINE NAMESPACE/DATABASE IF NOT EXISTS` on first use (needs the rights to).
    pub define_ns_db: bool,
    /// Connection options.
    pub options: Options,
    /// Clients opened for this name (requests are spread over them in turn; at least 1).
    pub pool_size: usize,
}

impl std::fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Credentials`' own Debug redacts the secrets.
        f.debug_struct("ConnectionConfig")
            .field("url", &self.url)
            .field("credentials", &self.credentials)
            .field("ns_db", &self.ns_db)
            .field("define_ns_db", &self.define_ns_db)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl ConnectionConfig {
    /// A connection to `url`, anonymous, without a namespace, one client.
    pub fn new(url: impl Into<String>) -> Self {
        ConnectionConfig {
            url: url.into(),
            credentials: None,
            ns_db: None,
            define_ns_db: false,
            options: Options::default(),
            pool_size: 1,
        }
    }

    /// Signs in with these credentials.
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.credentials = Some(c);
        self
    }

    /// Selects this namespace and database.
    pub fn ns_db(mut self, ns: impl Into<String>, db: impl Into<String>) -> Self {
        self.ns_db = Some((ns.into(), db.into()));
        self
    }

    /// Defines the namespace and database on first use when they do not exist.
    pub fn define_ns_db(mut self, yes: bool) -> Self {
        self.define_ns_db = yes;
        self
    }

    /// Connection options.
    pub fn options(mut self, o: Options) -> Self {
        self.options = o;
        self
    }

    /// Opens `n` clients for this name (at least 1).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }

    /// From the environment: `SURREAL_URL`, `SURREAL_USER`, `SURREAL_PASS`, `SURREAL_NS`,
    /// `SURREAL_DB` for `name = ""`, or `SURREAL_<NAME>_URL`, … for another (`name` upper
    /// cased). `None` when the URL variable is unset. A user without a password (or the
    /// reverse), or a namespace without a database, is an error naming the variables.
    pub fn from_env(name: &str) -> Result<Option<Self>> {
        from_env_with(name, |k| std::env::var(k).ok())
    }
}

/// [`ConnectionConfig::from_env`] over any variable source (tests pass a map).
pub(crate) fn from_env_with(
    name: &str,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<ConnectionConfig>> {
    let prefix = if name.is_empty() {
        "SURREAL_".to_owned()
    } else {
        format!("SURREAL_{}_", name.to_ascii_uppercase())
    };
    let var = |k: &str| get(&format!("{prefix}{k}")).filter(|v| !v.is_empty());
    let Some(url) = var("URL") else {
        return Ok(None);
    };
    let mut c = ConnectionConfig::new(url);
    match (var("USER"), var("PASS")) {
        (Some(u), Some(p)) => c = c.credentials(Credentials::root(u, p)),
        (None, None) => {}
        _ => {
            return Err(Error::invalid(
                "connection environment",
                format!("{prefix}USER and {prefix}PASS must be set together"),
            ))
        }
    }
    match (var("NS"), var("DB")) {
        (Some(n), Some(d)) => c = c.ns_db(n, d),
        (None, None) => {}
        _ => {
            return Err(Error::invalid(
                "connection environment",
                format!("{prefix}NS and {prefix}DB must be set together"),
            ))
        }
    }
    Ok(Some(c))
}

struct Slot {
    config: ConnectionConfig,
    clients: Vec<Surreal>,
    next: usize,
}

/// A registry of named connections; see the [module docs](self). Cheap to clone; clones
/// share the registry.
#[derive(Clone, Default)]
pub struct Connections {
    slots: Arc<Mutex<HashMap<String, Slot>>>,
    signals: Signals,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("names", &self.names())
            .finish()
    }
}

impl Connections {
    /// An empty registry.
    pub fn new() -> Self {
        Connections::default()
    }

    /// A registry from the environment: `"default"` from `SURREAL_URL` & co, and one
    /// connection per name listed in `SURREAL_CONNECTIONS` (`"analytics,logs"`) from
    /// `SURREAL_ANALYTICS_URL` & co.
    pub fn from_env() -> Result<Self> {
        let conns = Connections::new();
        if let Some(c) = ConnectionConfig::from_env("")? {
            conns.add("default", c);
        }
        if let Ok(list) = std::env::var("SURREAL_CONNECTIONS") {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let c = ConnectionConfig::from_env(name)?.ok_or_else(|| {
                    Error::invalid(
                        "connection environment",
                        format!(
                            "SURREAL_CONNECTIONS names `{name}` but SURREAL_{}_URL is not set",
                            name.to_ascii_uppercase()
                        ),
                    )
                })?;
                conns.add(name, c);
            }
        }
        Ok(conns)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or replaces) a named connection. Replacing drops the clients opened for the
    /// old configuration (they close once nothing else holds them).
    pub fn add(&self, name: impl Into<String>, config: ConnectionConfig) {
        self.lock().insert(
            name.into(),
            Slot {
                config,
                clients: Vec::new(),
                next: 0,
            },
        );
    }

    /// Removes a named connection; `false` if there was none.
    pub fn remove(&self, name: &str) -> bool {
        self.lock().remove(name).is_some()
    }

    /// The configured names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.lock().keys().cloned().collect();
        n.sort();
        n
    }

    /// The model signal handlers of actions run through this registry.
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// A client of connection `name`, connecting (and signing in, selecting and, when
    /// asked, defining the namespace and database) on first use. With a pool, successive
    /// calls take its clients in turn.
    pub async fn get(&self, name: &str) -> Result<Surreal> {
        let config = {
            let mut slots = self.lock();
            let Some(slot) = slots.get_mut(name) else {
                let mut known: Vec<&String> = slots.keys().collect();
                known.sort();
                return Err(Error::invalid(
                    "connection name",
                    format!("`{name}` is not configured (configured: {known:?})"),
                ));
            };
            if slot.clients.len() >= slot.config.pool_size {
                slot.next = (slot.next + 1) % slot.clients.len();
                return Ok(slot.clients[slot.next].clone());
            }
            slot.config.clone()
        };
        // Connect without holding the lock; two callers may race, and both clients are kept
        // up to the pool size.
        let client = open(&config).await?;
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(name) {
            if slot.clients.len() < slot.config.pool_size && slot.config.url == config.url {
                slot.clients.push(client.clone());
            }
        }
        Ok(client)
    }

    /// An executor that runs everything on connection `name` (overriding the models' own).
    pub fn using<'a>(&'a self, name: &'a str) -> Using<'a> {
        Using { conns: self, name }
    }
}

async fn open(c: &ConnectionConfig) -> Result<Surreal> {
    let db = Surreal::connect_with(&c.url, c.options.clone()).await?;
    if let Some(creds) = &c.credentials {
        db.signin(creds).await?;
    }
    if let Some((ns, name)) = &c.ns_db {
        if c.define_ns_db {
            let q = db
                .query(format!(
                    "DEFINE NAMESPACE IF NOT EXISTS {ns}; USE NS {ns}; DEFINE DATABASE IF NOT EXISTS {name};",
                    ns = surql::escape::escape_ident(ns),
                    name = surql::escape::escape_ident(name)
                ))
                .await?;
            q.check()?;
        }
        db.use_ns_db(ns, name).await?;
    }
    Ok(db)
}

impl Executor for Connections {
    async fn perform<O>(&self, op: O) -> Result<<O::Op as Operation>::Output>
    where
        O: IntoOperation + Send,
        O::Op: Send,
        <O::Op as Operation>::Output: Send,
    {
        self.get("default").await?.perform(op).await
    }

    fn perform_for<O>(
        &self,
        model: &'static ModelMeta,
        op: O,
    ) -> impl Future<Output = Result<<O::Op as Operation>::Output>> + Send
    where
        O: IntoOperation + Send,
        O::Op: Send,
        <O::Op as Operation>::Output: Send,
    {
        let name = model.connection.unwrap_or("default");
        async move { self.get(name).await?.perform(op).await }
    }

    fn signals(&self) -> &Signals {
        &self.signals
    }
}

/// Runs everything on one named connection: [`Connections::using`].
#[derive(Debug, Clone, Copy)]
pub struct Using<'a> {
    pub(crate) conns: &'a Connections,
    pub(crate) name: &'a str,
}

impl Executor for Using<'_> {
    async fn perform<O>(&self, op: O) -> Result<<O::Op as Operation>::Output>
    where
        O: IntoOperation + Send,
        O::Op: Send,
        <O::Op as Operation>::Output: Send,
    {
        self.conns.get(self.name).await?.perform(op).await
    }

    fn signals(&self) -> &Signals {
        &self.conns.signals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_configs_are_read_and_checked() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(from_env_with("", env(&[])).unwrap().is_none());
        let c = from_env_with(
            "analytics",
            env(&[
                ("SURREAL_ANALYTICS_URL", "ws://h:1"),
                ("SURREAL_ANALYTICS_USER", "u"),
                ("SURREAL_ANALYTICS_PASS", "secret-pw"),
                ("SURREAL_ANALYTICS_NS", "n"),
                ("SURREAL_ANALYTICS_DB", "d"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.url, "ws://h:1");
        assert_eq!(c.ns_db, Some(("n".into(), "d".into())));
        assert!(!format!("{c:?}").contains("secret-pw"), "{c:?}");
        let err = from_env_with(
            "",
            env(&[("SURREAL_URL", "ws://h:1"), ("SURREAL_USER", "u")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("SURREAL_PASS"), "{err}");
        let err = from_env_with("", env(&[("SURREAL_URL", "ws://h:1"), ("SURREAL_NS", "n")]))
            .unwrap_err();
        assert!(err.to_string().contains("SURREAL_DB"), "{err}");
    }

    #[test]
    fn unknown_names_are_an_error_naming_the_configured_ones() {
        let conns = Connections::new();
        conns.add("default", ConnectionConfig::new("ws://127.0.0.1:1"));
        let err = futures_lite::future::block_on(conns.get("analytics")).unwrap_err();
        assert!(
            err.to_string().contains("`analytics` is not configured"),
            "{err}"
        );
        assert!(err.to_string().contains("default"), "{err}");
        assert_eq!(conns.names(), ["default"]);
        assert!(conns.remove("default"));
        assert!(!conns.remove("default"));
    }
}
