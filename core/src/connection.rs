//! How to open a named connection (`ConnectionConfig`), read from code or from the
//! environment: the part of the drivers' `Connections` registries that is not IO, so both
//! drivers read the same variables the same way.

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use crate::client::Credentials;
use crate::error::Error;
use crate::options::Options;

type Result<T> = std::result::Result<T, Error>;

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
    /// Over WebSocket each client may itself open up to [`Options::ws_connections`]
    /// connections while its callers overlap.
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
pub fn from_env_with(
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

/// Every configuration the environment names: `"default"` from `SURREAL_URL` & co (when
/// set), and one per name listed in `SURREAL_CONNECTIONS` (`"analytics,logs"`) from
/// `SURREAL_ANALYTICS_URL` & co; a listed name without its URL is an error naming it.
pub fn configs_from_env_with(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, ConnectionConfig)>> {
    let mut out = Vec::new();
    if let Some(c) = from_env_with("", &get)? {
        out.push(("default".to_owned(), c));
    }
    if let Some(list) = get("SURREAL_CONNECTIONS") {
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let c = from_env_with(name, &get)?.ok_or_else(|| {
                Error::invalid(
                    "connection environment",
                    format!(
                        "SURREAL_CONNECTIONS names `{name}` but SURREAL_{}_URL is not set",
                        name.to_ascii_uppercase()
                    ),
                )
            })?;
            out.push((name.to_owned(), c));
        }
    }
    Ok(out)
}

impl ConnectionConfig {
    /// The statement that defines the namespace and database when they do not exist
    /// (`define_ns_db`), names escaped; `None` without a namespace/database or when not asked.
    pub fn define_statement(&self) -> Option<String> {
        let (ns, db) = self.ns_db.as_ref().filter(|_| self.define_ns_db)?;
        let (ns, db) = (
            crate::escape::escape_ident(ns),
            crate::escape::escape_ident(db),
        );
        Some(format!(
            "DEFINE NAMESPACE IF NOT EXISTS {ns}; USE NS {ns}; DEFINE DATABASE IF NOT EXISTS {db};"
        ))
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
    fn the_environment_lists_named_connections() {
        let env = |k: &str| match k {
            "SURREAL_URL" => Some("ws://a:1".to_owned()),
            "SURREAL_CONNECTIONS" => Some("analytics, logs".to_owned()),
            "SURREAL_ANALYTICS_URL" => Some("ws://b:1".to_owned()),
            _ => None,
        };
        let err = configs_from_env_with(env).unwrap_err();
        assert!(err.to_string().contains("`logs`"), "{err}");
        let c = ConnectionConfig::new("ws://x")
            .ns_db("my ns", "db")
            .define_ns_db(true);
        assert_eq!(
            c.define_statement().unwrap(),
            "DEFINE NAMESPACE IF NOT EXISTS `my ns`; USE NS `my ns`; DEFINE DATABASE IF NOT EXISTS db;"
        );
        assert!(ConnectionConfig::new("ws://x")
            .ns_db("n", "d")
            .define_statement()
            .is_none());
    }
}
