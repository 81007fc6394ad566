//! The connected server's version, as its `version()` method names it
//! (`surrealdb-3.3.5`, `surrealdb-4.0.0-beta.1`): behaviour that differs between server
//! versions is decided from this, never guessed.
//!
//! ```
//! use surql::version::ServerVersion;
//!
//! let v = ServerVersion::parse("surrealdb-4.0.0-beta.1").unwrap();
//! assert_eq!((v.major, v.minor, v.patch), (4, 0, 0));
//! assert_eq!(v.pre.as_deref(), Some("beta.1"));
//! assert!(v.migrates_existing_rows());
//! assert!(!ServerVersion::parse("surrealdb-3.3.5").unwrap().migrates_existing_rows());
//! assert_eq!(ServerVersion::parse("not a version"), None);
//! ```

use std::fmt;

/// A server version: `major.minor.patch[-pre]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    /// `4` in `4.0.0-beta.1`.
    pub major: u32,
    /// `0` in `4.0.0-beta.1`.
    pub minor: u32,
    /// `0` in `4.0.0-beta.1`.
    pub patch: u32,
    /// `beta.1` in `4.0.0-beta.1`.
    pub pre: Option<String>,
}

impl ServerVersion {
    /// Reads a `version()` answer (`surrealdb-3.3.5`) or a bare version (`3.3.5`); build
    /// metadata after `+` is ignored. `None` when the text is not a version.
    pub fn parse(text: &str) -> Option<ServerVersion> {
        let v = text.trim();
        let v = v.strip_prefix("surrealdb-").unwrap_or(v);
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) if !p.is_empty() => (c, Some(p.to_owned())),
            Some(_) => return None,
            None => (v, None),
        };
        let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next().unwrap_or(Some(0))?;
        let patch = parts.next().unwrap_or(Some(0))?;
        if parts.next().is_some() {
            return None;
        }
        Some(ServerVersion {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// Whether a `DEFINE FIELD` that changes what a stored field holds must say what
    /// happens to the rows already stored (`MIGRATE EXISTING ROWS AS … USING …`): SurrealDB
    /// 4.0 and later refuse such a change on a `SCHEMAFULL` table that has rows otherwise,
    /// and 3.x does not know the clause (a parse error). See
    /// [`crate::schema::migrate_rows`].
    pub fn migrates_existing_rows(&self) -> bool {
        self.major >= 4
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(p) = &self.pre {
            write!(f, "-{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_every_spelling_the_servers_use() {
        for (text, want) in [
            ("surrealdb-3.3.5", Some((3, 3, 5, None))),
            ("surrealdb-3.0.5", Some((3, 0, 5, None))),
            ("surrealdb-4.0.0-beta.1", Some((4, 0, 0, Some("beta.1")))),
            ("3.2.6", Some((3, 2, 6, None))),
            (" surrealdb-2.1.0+abc ", Some((2, 1, 0, None))),
            ("surrealdb-4", Some((4, 0, 0, None))),
            ("surrealdb-", None),
            ("surrealdb-x.1.2", None),
            ("1.2.3.4", None),
            ("4.0.0-", None),
            ("", None),
        ] {
            let got = ServerVersion::parse(text).map(|v| (v.major, v.minor, v.patch, v.pre));
            let want = want
                .map(|(a, b, c, p): (u32, u32, u32, Option<&str>)| (a, b, c, p.map(str::to_owned)));
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for v in ["3.3.5", "4.0.0-beta.1"] {
            assert_eq!(ServerVersion::parse(v).unwrap().to_string(), v);
        }
    }

    #[test]
    fn only_4_and_later_migrate_existing_rows() {
        for (v, yes) in [
            ("3.0.5", false),
            ("3.3.5", false),
            ("4.0.0-beta.1", true),
            ("4.1.0", true),
            ("5.0.0", true),
        ] {
            assert_eq!(
                ServerVersion::parse(v).unwrap().migrates_existing_rows(),
                yes,
                "{v}"
            );
        }
    }
}
