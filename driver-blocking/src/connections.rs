//! Named connections: a registry of clients by name (`"default"` plus any others), connected
//! on first use, from code or from the environment.
//!
//! [`Connections`] is an [`Executor`]: a model action run on it goes to the model's own
//! connection (`#[surql(connection = "analytics")]`), else to `"default"`;
//! [`Connections::using`] overrides that for one action or query set. So the priority is:
//! `using(name)`, then the model's connection, then `"default"`.
//!
//! ```no_run
//! # fn demo() -> surql_blocking::Result<()> {
//! use surql_blocking::{ConnectionConfig, Connections, Credentials};
//! let conns = Connections::new();
//! conns.add("default", ConnectionConfig::new("ws://127.0.0.1:8000")
//!     .credentials(Credentials::root("root", "root"))
//!     .ns_db("app", "main")
//!     .define_ns_db(true));
//! conns.add("analytics", ConnectionConfig::from_env("ANALYTICS")?.expect("SURREAL_ANALYTICS_URL is set"));
//! let db = conns.get("analytics")?; // connects, signs in, selects (and defines) ns/db
//! # let _ = db; Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use surql::model::ModelMeta;
use surql::op::{IntoOperation, Operation};
use surql::signals::Signals;

pub use surql::connection::ConnectionConfig;

use crate::{Error, Executor, Result, Surreal};

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
        for (name, c) in surql::connection::configs_from_env_with(|k| std::env::var(k).ok())? {
            conns.add(name, c);
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
    pub fn get(&self, name: &str) -> Result<Surreal> {
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
        let client = open(&config)?;
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

fn open(c: &ConnectionConfig) -> Result<Surreal> {
    let db = Surreal::connect_with(&c.url, c.options.clone())?;
    if let Some(creds) = &c.credentials {
        db.signin(creds)?;
    }
    if let Some((ns, name)) = &c.ns_db {
        if let Some(define) = c.define_statement() {
            db.query(define).run()?.check()?;
        }
        db.use_ns_db(ns, name)?;
    }
    Ok(db)
}

impl Executor for Connections {
    fn perform<O: IntoOperation>(&self, op: O) -> Result<<O::Op as Operation>::Output> {
        self.get("default")?.perform(op)
    }

    fn perform_for<O: IntoOperation>(
        &self,
        model: &'static ModelMeta,
        op: O,
    ) -> Result<<O::Op as Operation>::Output> {
        self.get(model.connection.unwrap_or("default"))?.perform(op)
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
    fn perform<O: IntoOperation>(&self, op: O) -> Result<<O::Op as Operation>::Output> {
        self.conns.get(self.name)?.perform(op)
    }

    fn signals(&self) -> &Signals {
        &self.conns.signals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_an_error_naming_the_configured_ones() {
        let conns = Connections::new();
        conns.add("default", ConnectionConfig::new("ws://127.0.0.1:1"));
        let err = conns.get("analytics").unwrap_err();
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
