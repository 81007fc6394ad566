//! Migrations: reviewable `.surql` files, generated incrementally from models, applied and
//! rolled back by an operation of the core (so both drivers run them the same way).
//!
//! # The file format
//!
//! One file per migration, `NNNN_<name>.surql` (`0001_initial.surql`,
//! `0002_add_person_email.surql`): four digits then a name, sorted by number. The file is
//! plain SurrealQL in two sections, marked by lines that are exactly `-- up` and
//! `-- down`:
//!
//! ```text
//! -- surql migration 0002_add_person_email
//! -- create field email on person
//! -- up
//! DEFINE FIELD email ON person TYPE string;
//! -- down
//! REMOVE FIELD email ON person;
//! ```
//!
//! Lines before `-- up` are comments. A migration without a `-- down` section, or whose
//! down section holds the line `-- irreversible`, cannot be rolled back. Files may be edited
//! by hand (data migrations: add `UPDATE …` statements to `up` and their inverse to
//! `down`): the schema state is REPLAYED from the `DEFINE`/`REMOVE` statements of every
//! up section ([`MigrationSet::state`]), so the next `makemigrations` starts from what the
//! files really do, not from a snapshot that could drift.
//!
//! # Applying
//!
//! [`MigrationSet::migrate`], [`MigrationSet::rollback`] and [`MigrationSet::status`]
//! return a [`MigrationRun`] operation (`db.perform(op)` in either driver). It first makes
//! sure the tracking table exists and reads it:
//!
//! ```text
//! DEFINE TABLE IF NOT EXISTS _surql_migrations TYPE NORMAL SCHEMAFULL;
//! DEFINE FIELD IF NOT EXISTS name ON _surql_migrations TYPE string;
//! DEFINE FIELD IF NOT EXISTS checksum ON _surql_migrations TYPE string;
//! DEFINE FIELD IF NOT EXISTS applied_at ON _surql_migrations TYPE datetime DEFAULT time::now();
//! SELECT name, checksum FROM _surql_migrations ORDER BY name;
//! ```
//!
//! then sends each migration as ONE query, in a transaction (SurrealDB 3.3 runs `DEFINE`
//! and `REMOVE` statements transactionally, checked against 3.3.5: a failing statement
//! cancels the whole migration, schema changes included, and nothing is recorded):
//!
//! ```text
//! BEGIN TRANSACTION;
//! <the up section>
//! CREATE $_surql_rid SET name = $_surql_name, checksum = $_surql_checksum;
//! COMMIT TRANSACTION;
//! ```
//!
//! (rollback: the down section, then `DELETE $_surql_rid;`). Before the first migration it
//! runs, it asks the server's `version()`: on SurrealDB 4.0 and later a `DEFINE FIELD` that
//! changes what a stored field holds gets a `MIGRATE EXISTING ROWS` clause, added at apply
//! time because the file must also apply on 3.x and the clause needs a new name each time it
//! runs ([`super::migrate_rows`]; [`MigrationRun::seed`] makes the names reproducible).
//!
//! Two exceptions to "one transaction" ([`MigrationRun::transactions_for`]): a migration's
//! `DEFINE ANALYZER` statements are committed first, in a transaction of their own, because
//! the server builds a new full-text index over existing rows outside the open transaction
//! and would not see an analyzer defined inside it; and on 4.0 the `DEFINE INDEX` statements
//! on a table whose rows the migration migrates are committed after it, with the tracking
//! record, because 4.0 refuses them in the migration's own transaction. A transaction that
//! fails with a transaction conflict was not committed and is sent again (at most
//! [`CONFLICT_RETRIES`] times). The first failing statement
//! stops the run with [`Error::Migration`] naming the migration and the statement; the
//! migrations before it stay applied. Each applied migration records a checksum of its up
//! section; a file changed after it was applied stops `migrate` (as sqlx does) until it is
//! restored or the database is fixed by hand.

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{diff, migrate_rows, parse, Operation, Schema, SchemaError};
use crate::client::{self, QueryResponse};
use crate::error::Error;
use crate::op::{Operation as CoreOperation, Step};
use crate::rpc::{Payload, Request};
use crate::value::{Object, RecordId, Value};
use crate::version::ServerVersion;

/// The table that records applied migrations.
pub const TRACKING_TABLE: &str = "_surql_migrations";

/// One migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// `0002_add_person_email` (the file name without `.surql`).
    pub name: String,
    /// The up section (SurrealQL).
    pub up: String,
    /// The down section, `None` when the migration is irreversible.
    pub down: Option<String>,
    /// The comment lines before `-- up` (without `-- `).
    pub header: Vec<String>,
}

/// FNV-1a 64 of the up section's statements (whitespace at line ends ignored): what
/// `_surql_migrations.checksum` records.
pub fn checksum(up: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for line in up.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        for b in line.bytes().chain([b'\n']) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

impl Migration {
    /// Reads a migration file's text (see the [module docs](self) for the format).
    pub fn parse(name: &str, text: &str) -> Result<Migration, SchemaError> {
        let mut header = Vec::new();
        let mut up: Option<Vec<&str>> = None;
        let mut down: Option<Vec<&str>> = None;
        for line in text.lines() {
            match line.trim() {
                "-- up" if up.is_none() => up = Some(Vec::new()),
                "-- down" if up.is_some() && down.is_none() => down = Some(Vec::new()),
                _ => {
                    if let Some(d) = down.as_mut() {
                        d.push(line);
                    } else if let Some(u) = up.as_mut() {
                        u.push(line);
                    } else if let Some(c) = line.trim().strip_prefix("--") {
                        header.push(c.trim().to_owned());
                    } else if !line.trim().is_empty() {
                        return Err(SchemaError(format!(
                            "migration {name}: `{}` comes before the `-- up` line",
                            line.trim()
                        )));
                    }
                }
            }
        }
        let up = up.ok_or_else(|| {
            SchemaError(format!(
                "migration {name} has no `-- up` line (a migration file is `-- up`, its SurrealQL, then optionally `-- down` and the SurrealQL that undoes it)"
            ))
        })?;
        let down = down.filter(|d| !d.iter().any(|l| l.trim() == "-- irreversible"));
        let join = |v: Vec<&str>| v.join("\n").trim().to_owned();
        let m = Migration {
            name: name.to_owned(),
            up: join(up),
            down: down.map(join),
            header,
        };
        // Both sections must split into statements (and the up section must parse, since
        // it is replayed).
        parse::parse_statements(&m.up)
            .map_err(|e| SchemaError(format!("migration {name}, up section: {e}")))?;
        if let Some(d) = &m.down {
            parse::split_statements(d)
                .map_err(|e| SchemaError(format!("migration {name}, down section: {e}")))?;
        }
        Ok(m)
    }

    /// The file text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for h in &self.header {
            s.push_str("-- ");
            s.push_str(h);
            s.push('\n');
        }
        s.push_str("-- up\n");
        if !self.up.is_empty() {
            s.push_str(&self.up);
            s.push('\n');
        }
        s.push_str("-- down\n");
        match &self.down {
            Some(d) if !d.is_empty() => {
                s.push_str(d);
                s.push('\n');
            }
            Some(_) => {}
            None => s.push_str("-- irreversible\n"),
        }
        s
    }

    /// The file name: `<name>.surql`.
    pub fn file_name(&self) -> String {
        format!("{}.surql", self.name)
    }

    /// Whether the migration can be rolled back.
    pub fn reversible(&self) -> bool {
        self.down.is_some()
    }

    /// The number prefix (`2` for `0002_x`).
    pub fn number(&self) -> Option<u32> {
        self.name.split('_').next()?.parse().ok()
    }

    /// The checksum of the up section.
    pub fn checksum(&self) -> String {
        checksum(&self.up)
    }

    /// A migration of these operations: up = each forwards in order, down = each
    /// backwards in reverse order (`None` if any operation is irreversible).
    pub fn from_operations(name: &str, ops: &[Operation]) -> Migration {
        let mut header = vec![format!("surql migration {name}")];
        header.extend(ops.iter().map(Operation::describe));
        let up: Vec<String> = ops.iter().flat_map(Operation::forwards).collect();
        let down: Option<Vec<String>> = ops
            .iter()
            .rev()
            .map(Operation::backwards)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.into_iter().flatten().collect());
        let terminate = |v: Vec<String>| {
            v.into_iter()
                .map(|s| {
                    if s.trim_end().ends_with(';') {
                        s
                    } else {
                        format!("{s};")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        Migration {
            name: name.to_owned(),
            up: terminate(up),
            down: down.map(terminate),
            header,
        }
    }
}

/// `add email` → `add_email`: lower case, runs of other characters become one `_`.
pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_owned();
    if out.len() > 60 {
        out[..60].trim_end_matches('_').to_owned()
    } else {
        out
    }
}

/// The migrations of one directory (one named connection, one database), in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationSet {
    /// Sorted by name (the four-digit number first).
    pub migrations: Vec<Migration>,
}

impl MigrationSet {
    /// Builds a set from `(file name or migration name, text)` pairs; `.surql` is
    /// stripped, the order is by name, and two files with the same number are an error.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<MigrationSet, SchemaError> {
        let mut migrations = Vec::new();
        for (name, text) in files {
            let name = name.trim_end_matches(".surql");
            migrations.push(Migration::parse(name, &text)?);
        }
        migrations.sort_by(|a, b| a.name.cmp(&b.name));
        let mut seen = BTreeMap::new();
        for m in &migrations {
            let n = m.number().ok_or_else(|| {
                SchemaError(format!(
                    "migration file `{}` does not start with a number (`0001_initial.surql`)",
                    m.file_name()
                ))
            })?;
            if let Some(other) = seen.insert(n, &m.name) {
                return Err(SchemaError(format!(
                    "migrations `{other}` and `{}` have the same number",
                    m.name
                )));
            }
        }
        Ok(MigrationSet { migrations })
    }

    /// Reads every `*.surql` file of `dir` (a missing directory is an empty set).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<MigrationSet, Error> {
        let dir = dir.as_ref();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(MigrationSet::default())
            }
            Err(e) => return Err(Error::Io(format!("cannot read {}: {e}", dir.display()))),
        };
        let mut files = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::Io(format!("cannot read {}: {e}", dir.display())))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".surql") {
                continue;
            }
            let text = std::fs::read_to_string(e.path())
                .map_err(|err| Error::Io(format!("cannot read {}: {err}", e.path().display())))?;
            files.push((name, text));
        }
        MigrationSet::from_files(files).map_err(|e| Error::Migration {
            migration: "migrations".into(),
            reason: e.0,
        })
    }

    /// The migration called `name`, or whose number is `name` (`"0002"`, `"2"`).
    pub fn find(&self, name: &str) -> Option<&Migration> {
        let num: Option<u32> = name.parse().ok();
        self.migrations
            .iter()
            .find(|m| m.name == name || (num.is_some() && m.number() == num))
    }

    /// The schema after replaying the up sections of every migration (up to and including
    /// `upto`, when given).
    pub fn state(&self, upto: Option<&str>) -> Result<Schema, SchemaError> {
        let mut s = Schema::new();
        for m in &self.migrations {
            s.apply_sql(&m.up)
                .map_err(|e| SchemaError(format!("replaying migration {}: {e}", m.name)))?;
            if upto == Some(m.name.as_str()) {
                break;
            }
        }
        Ok(s)
    }

    /// The schema after replaying the up sections of every migration before the one named
    /// `name` (what the database holds when `name` is about to be applied).
    pub fn state_before(&self, name: &str) -> Result<Schema, SchemaError> {
        let mut s = Schema::new();
        for m in self
            .migrations
            .iter()
            .take_while(|m| m.name.as_str() < name)
        {
            s.apply_sql(&m.up)
                .map_err(|e| SchemaError(format!("replaying migration {}: {e}", m.name)))?;
        }
        Ok(s)
    }

    /// The next migration: the operations from the replayed state to `target`, or `None`
    /// when nothing changed. Its name is the next number and `name` (slugified), or one
    /// made from the operations (`initial` for the first migration).
    pub fn make(
        &self,
        target: &Schema,
        name: Option<&str>,
    ) -> Result<Option<(Migration, Vec<Operation>)>, SchemaError> {
        let state = self.state(None)?;
        let ops = diff(&state, target);
        if ops.is_empty() {
            return Ok(None);
        }
        let next = self
            .migrations
            .iter()
            .filter_map(Migration::number)
            .max()
            .unwrap_or(0)
            + 1;
        let label = match name {
            Some(n) => slugify(n),
            None if self.migrations.is_empty() => "initial".into(),
            None if ops.len() == 1 => slugify(&ops[0].slug()),
            None => format!("{}_and_more", slugify(&ops[0].slug())),
        };
        let full = format!("{next:04}_{label}");
        Ok(Some((Migration::from_operations(&full, &ops), ops)))
    }

    /// Writes the next migration of `target` into `dir` (created when missing) and
    /// returns its path, or `None` when the files already describe `target`. This is the
    /// library half of `makemigrations`: models are Rust types, so the user's own binary,
    /// test or `build.rs` calls it with `Schema::from_models(&[…])`.
    pub fn make_in_dir(
        dir: impl AsRef<Path>,
        target: &Schema,
        name: Option<&str>,
    ) -> Result<Option<PathBuf>, Error> {
        let dir = dir.as_ref();
        let set = MigrationSet::from_dir(dir)?;
        let made = set.make(target, name).map_err(|e| Error::Migration {
            migration: "makemigrations".into(),
            reason: e.0,
        })?;
        let Some((m, _)) = made else {
            return Ok(None);
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(m.file_name());
        std::fs::write(&path, m.to_text())
            .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))?;
        Ok(Some(path))
    }

    /// Applies the pending migrations in order (up to and including `target`).
    /// `fake`: records them without running their SQL.
    pub fn migrate(&self, target: Option<&str>, fake: bool) -> MigrationRun {
        MigrationRun::new(
            self.clone(),
            Plan::Migrate {
                target: target.map(str::to_owned),
                fake,
            },
        )
    }

    /// Rolls back every applied migration after `target`, newest first (`"zero"`: all).
    /// An irreversible one stops the run before anything is rolled back.
    pub fn rollback(&self, target: &str, fake: bool) -> MigrationRun {
        MigrationRun::new(
            self.clone(),
            Plan::Rollback {
                target: target.to_owned(),
                fake,
            },
        )
    }

    /// Reads which migrations are applied; changes nothing but the tracking table's
    /// definition.
    pub fn status(&self) -> MigrationRun {
        MigrationRun::new(self.clone(), Plan::Status)
    }
}

#[derive(Debug, Clone)]
enum Plan {
    Migrate { target: Option<String>, fake: bool },
    Rollback { target: String, fake: bool },
    Status,
}

/// One migration's state in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The migration name.
    pub name: String,
    /// Recorded in the tracking table.
    pub applied: bool,
    /// The file exists (an applied migration may have lost its file).
    pub on_disk: bool,
    /// Applied, and the file's up section changed since.
    pub changed: bool,
    /// Has a down section.
    pub reversible: bool,
}

/// What a [`MigrationRun`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationReport {
    /// Migrations applied by this run, in order.
    pub applied: Vec<String>,
    /// Migrations rolled back by this run, in order.
    pub rolled_back: Vec<String>,
    /// Every migration's state after the run (files and tracking table together).
    pub status: Vec<MigrationStatus>,
}

/// The operation that applies, rolls back or reports migrations (see the
/// [module docs](self)). Run it with `db.perform(op)`.
#[derive(Debug)]
pub struct MigrationRun {
    set: MigrationSet,
    plan: Plan,
    state: RunState,
    report: MigrationReport,
    applied: BTreeMap<String, String>,
    /// The connected server's version, once asked (`None`: not asked, or not a version).
    server: Option<ServerVersion>,
    /// Makes the names of 4.0 row migrations unique per run.
    seed: u64,
}

#[derive(Debug)]
enum RunState {
    Start,
    Reading,
    /// Asked the server's `version()`; the steps to run then.
    Versioning(Vec<(Migration, bool)>),
    /// Steps left (migration, forwards?), the one in flight, and its transactions still to
    /// commit ([`MigrationRun::transactions_for`]): the first is in flight, the last records.
    Running {
        todo: Vec<(Migration, bool)>,
        current: Option<(Migration, bool)>,
        txs: Vec<Vec<String>>,
        /// Transactions of this step already committed.
        committed: usize,
        /// Times the transaction in flight was sent again after a conflict.
        retries: u32,
    },
    Spent,
}

fn migration_err(m: &str, reason: impl Into<String>) -> Error {
    Error::Migration {
        migration: m.to_owned(),
        reason: reason.into(),
    }
}

fn query_request(text: String, vars: Object) -> Request {
    client::query(&text, vars).into_parts().0
}

impl MigrationRun {
    fn new(set: MigrationSet, plan: Plan) -> MigrationRun {
        MigrationRun {
            set,
            plan,
            state: RunState::Start,
            report: MigrationReport::default(),
            applied: BTreeMap::new(),
            server: None,
            seed: crate::conn::random_seed(),
        }
    }

    /// Seeds the names of the `MIGRATE EXISTING ROWS` clauses this run adds on SurrealDB 4.0
    /// (`surql_<migration>_<up|down>_<seed>_<field>`; [`super::migrate_rows`]). By default
    /// the seed is random per run: 4.0 skips a statement whose migration name a table has
    /// already run, so a migration applied again after a rollback needs new names. Give a
    /// seed to make the statements reproducible (tests); never reuse one against the same
    /// database.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The transactions one step runs, in order, as the connected `server` needs them; the
    /// last one also writes (or deletes) the migration's tracking record.
    ///
    /// - the hoisted `DEFINE ANALYZER` statements, when there are any
    ///   ([`Self::step_statements`]);
    /// - the main transaction: the rest of the step, on SurrealDB 4.0 and later with the
    ///   `MIGRATE EXISTING ROWS` clauses of [`migrate_rows::adapt`] (judged against the schema
    ///   replayed from the files before the step); on 3.x (or an unknown version) as the file
    ///   says;
    /// - on 4.0 and later, the `DEFINE INDEX` statements on a table whose rows the main
    ///   transaction migrates, when there are any: 4.0 builds an index from committed rows
    ///   only and refuses it in the transaction that runs a migration of its table ("Commit
    ///   the migration first"; [`migrate_rows::defer_index_builds`]).
    pub fn transactions_for(
        set: &MigrationSet,
        m: &Migration,
        forwards: bool,
        server: Option<&ServerVersion>,
        seed: u64,
    ) -> Vec<Vec<String>> {
        let (hoisted, main) = Self::step_statements(m, forwards, false);
        let mut txs = Vec::new();
        if !hoisted.is_empty() {
            txs.push(hoisted);
        }
        let before = if forwards {
            set.state_before(&m.name)
        } else {
            set.state(Some(&m.name))
        };
        match before {
            Ok(before) if server.is_some_and(ServerVersion::migrates_existing_rows) => {
                let mixed = seed ^ (seed >> 32);
                let tag = format!(
                    "{}_{}_{:08x}",
                    slugify(&m.name),
                    if forwards { "up" } else { "down" },
                    mixed & 0xffff_ffff
                );
                let main = migrate_rows::adapt(&main, &before, &tag);
                let (main, deferred) = migrate_rows::defer_index_builds(main);
                txs.push(main);
                if !deferred.is_empty() {
                    txs.push(deferred);
                }
            }
            // 3.x; or a chain the replay cannot follow, which gets no clauses (the server's
            // refusal names the statement).
            _ => txs.push(main),
        }
        txs
    }

    /// The first request: define the tracking table and read it.
    pub fn tracking_sql() -> String {
        format!(
            "DEFINE TABLE IF NOT EXISTS {t} TYPE NORMAL SCHEMAFULL;\n\
             DEFINE FIELD IF NOT EXISTS name ON {t} TYPE string;\n\
             DEFINE FIELD IF NOT EXISTS checksum ON {t} TYPE string;\n\
             DEFINE FIELD IF NOT EXISTS applied_at ON {t} TYPE datetime DEFAULT time::now();\n\
             SELECT name, checksum FROM {t} ORDER BY name;",
            t = TRACKING_TABLE
        )
    }

    /// The statements of one migration step: `(hoisted, main)`. Forwards, `DEFINE ANALYZER`
    /// statements are hoisted into a transaction of their own that commits first: SurrealDB
    /// 3.3 builds a new full-text index over existing rows outside the open transaction, so
    /// an analyzer defined in the same transaction is not visible to it ("The analyzer … does
    /// not exist"). Everything else runs in the main transaction.
    pub fn step_statements(
        m: &Migration,
        forwards: bool,
        fake: bool,
    ) -> (Vec<String>, Vec<String>) {
        if fake {
            return (Vec::new(), Vec::new());
        }
        let body = if forwards {
            m.up.as_str()
        } else {
            m.down.as_deref().unwrap_or("")
        };
        let stmts: Vec<String> = parse::split_statements(body)
            .unwrap_or_default()
            .into_iter()
            .map(str::to_owned)
            .collect();
        if !forwards {
            return (Vec::new(), stmts);
        }
        stmts.into_iter().partition(|s| {
            matches!(
                parse::parse_statement(s),
                Ok(parse::Statement::DefineAnalyzer(..))
            )
        })
    }

    /// One transaction of `statements`, recording (`forwards`) or deleting the migration's
    /// tracking record when `record` is set.
    pub fn transaction_sql(statements: &[String], forwards: bool, record: bool) -> String {
        let mut s = String::from("BEGIN TRANSACTION;\n");
        for st in statements {
            s.push_str(st);
            s.push_str(";\n");
        }
        if record && forwards {
            s.push_str(
                "CREATE $_surql_rid SET name = $_surql_name, checksum = $_surql_checksum;\n",
            );
        } else if record {
            s.push_str("DELETE $_surql_rid;\n");
        }
        s.push_str("COMMIT TRANSACTION;");
        s
    }

    fn status(&self) -> Vec<MigrationStatus> {
        let mut out: Vec<MigrationStatus> = self
            .set
            .migrations
            .iter()
            .map(|m| {
                let rec = self.applied.get(&m.name);
                MigrationStatus {
                    name: m.name.clone(),
                    applied: rec.is_some(),
                    on_disk: true,
                    changed: rec.is_some_and(|c| *c != m.checksum()),
                    reversible: m.reversible(),
                }
            })
            .collect();
        for name in self.applied.keys() {
            if self.set.find(name).is_none() {
                out.push(MigrationStatus {
                    name: name.clone(),
                    applied: true,
                    on_disk: false,
                    changed: false,
                    reversible: false,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// What to run, from the applied set.
    fn plan(&self) -> Result<Vec<(Migration, bool)>, Error> {
        match &self.plan {
            Plan::Status => Ok(Vec::new()),
            Plan::Migrate { target, .. } => {
                for st in self.status() {
                    if !st.on_disk {
                        return Err(migration_err(
                            &st.name,
                            "is applied but its file is missing from the migrations directory; restore it (or delete its _surql_migrations record if it was removed on purpose)",
                        ));
                    }
                    if st.changed {
                        return Err(migration_err(
                            &st.name,
                            "its file changed after it was applied (checksum mismatch); restore the file, or roll it back first",
                        ));
                    }
                }
                let last = match target {
                    Some(t) => Some(
                        self.set
                            .find(t)
                            .ok_or_else(|| {
                                migration_err(t, "no such migration (the target of migrate)")
                            })?
                            .name
                            .clone(),
                    ),
                    None => None,
                };
                Ok(self
                    .set
                    .migrations
                    .iter()
                    .filter(|m| !self.applied.contains_key(&m.name))
                    .filter(|m| last.as_ref().is_none_or(|l| m.name <= *l))
                    .map(|m| (m.clone(), true))
                    .collect())
            }
            Plan::Rollback { target, .. } => {
                let keep = if target == "zero" {
                    String::new()
                } else {
                    self.set
                        .find(target)
                        .ok_or_else(|| {
                            migration_err(
                                target,
                                "no such migration (the target of rollback; `zero` rolls back everything)",
                            )
                        })?
                        .name
                        .clone()
                };
                let mut todo = Vec::new();
                for name in self.applied.keys().rev().filter(|n| **n > keep) {
                    let m = self.set.find(name).ok_or_else(|| {
                        migration_err(
                            name,
                            "is applied but its file is missing: cannot roll it back",
                        )
                    })?;
                    if !m.reversible() {
                        return Err(migration_err(
                            name,
                            "is irreversible (its file has no `-- down` section): nothing was rolled back",
                        ));
                    }
                    todo.push((m.clone(), false));
                }
                Ok(todo)
            }
        }
    }

    fn fake(&self) -> bool {
        matches!(
            self.plan,
            Plan::Migrate { fake: true, .. } | Plan::Rollback { fake: true, .. }
        )
    }

    fn send_next(&mut self, mut todo: Vec<(Migration, bool)>) -> Step<MigrationReport> {
        if todo.is_empty() {
            self.state = RunState::Spent;
            let mut report = std::mem::take(&mut self.report);
            report.status = self.status();
            return Step::Done(Ok(report));
        }
        let (m, fwd) = todo.remove(0);
        let txs = if self.fake() {
            vec![Vec::new()]
        } else {
            Self::transactions_for(&self.set, &m, fwd, self.server.as_ref(), self.seed)
        };
        self.send_tx(todo, m, fwd, txs, 0, 0)
    }

    /// Sends the first of `txs` (the last one records the migration).
    fn send_tx(
        &mut self,
        todo: Vec<(Migration, bool)>,
        m: Migration,
        fwd: bool,
        txs: Vec<Vec<String>>,
        committed: usize,
        retries: u32,
    ) -> Step<MigrationReport> {
        let req = match txs.as_slice() {
            [last] => Self::recording_request(&m, fwd, last),
            [first, ..] => query_request(Self::transaction_sql(first, fwd, false), Object::new()),
            [] => Self::recording_request(&m, fwd, &[]),
        };
        self.state = RunState::Running {
            todo,
            current: Some((m, fwd)),
            txs,
            committed,
            retries,
        };
        Step::Send(req)
    }

    fn recording_request(m: &Migration, fwd: bool, main: &[String]) -> Request {
        let mut vars = Object::new();
        vars.insert(
            "_surql_rid".into(),
            Value::RecordId(RecordId::new(TRACKING_TABLE, m.name.as_str())),
        );
        vars.insert("_surql_name".into(), Value::from(m.name.as_str()));
        vars.insert("_surql_checksum".into(), Value::from(m.checksum()));
        query_request(Self::transaction_sql(main, fwd, true), vars)
    }
}

/// The first statement error of a transaction's results that is not a "not executed"
/// consequence of another, with its index, and whether it is a transaction conflict (the
/// transaction was not committed and can be sent again).
fn first_error(resp: &QueryResponse) -> Result<Option<(usize, String, bool)>, Error> {
    let results = resp.results().map_err(Error::from)?;
    let mut fallback = None;
    for (i, r) in results.iter().enumerate() {
        if let Err(e) = &r.result {
            let conflict = Error::Server(e.clone()).is_conflict();
            let consequence = matches!(e.detail_kind(), Some("NotExecuted" | "Cancelled"));
            if !consequence {
                return Ok(Some((i, e.to_string(), conflict)));
            }
            fallback.get_or_insert((i, e.to_string(), conflict));
        }
    }
    Ok(fallback)
}

/// How many times one migration transaction is sent again after a transaction conflict.
/// SurrealDB 4.0 rewrites migrated rows in a background job after the migration commits;
/// a next migration that writes those rows (a data migration, a rollback that removes the
/// table) can conflict with it. A conflicting transaction was not committed, so sending it
/// again is safe; the job is short-lived, so a few immediate tries are enough.
pub const CONFLICT_RETRIES: u32 = 20;

impl CoreOperation for MigrationRun {
    type Output = MigrationReport;

    fn step(&mut self, answer: Option<Result<Payload, Error>>) -> Step<MigrationReport> {
        match (std::mem::replace(&mut self.state, RunState::Spent), answer) {
            (RunState::Start, None) => {
                self.state = RunState::Reading;
                Step::Send(query_request(Self::tracking_sql(), Object::new()))
            }
            (RunState::Reading, Some(Ok(p))) => {
                let read = QueryResponse::from_payload(p)
                    .map_err(Error::from)
                    .and_then(|mut r| {
                        for i in 0..4 {
                            r.take::<Value>(i).map_err(|e| {
                                migration_err(
                                    "migrations",
                                    format!(
                                        "cannot define the tracking table {TRACKING_TABLE}: {e}"
                                    ),
                                )
                            })?;
                        }
                        r.take::<Vec<BTreeMap<String, Value>>>(4)
                            .map_err(Error::from)
                    });
                let rows = match read {
                    Ok(rows) => rows,
                    Err(e) => return Step::Done(Err(e)),
                };
                for row in rows {
                    let get = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                    self.applied.insert(get("name"), get("checksum"));
                }
                match self.plan() {
                    // What a statement must say depends on the server version: ask it once,
                    // before the first migration that runs SQL.
                    Ok(todo) if !todo.is_empty() && !self.fake() => {
                        self.state = RunState::Versioning(todo);
                        Step::Send(client::version().into_parts().0)
                    }
                    Ok(todo) => self.send_next(todo),
                    Err(e) => Step::Done(Err(e)),
                }
            }
            (RunState::Versioning(todo), Some(Ok(p))) => {
                match client::version().decode_payload(p) {
                    Ok(text) => self.server = ServerVersion::parse(&text),
                    Err(e) => return Step::Done(Err(e.into())),
                }
                self.send_next(todo)
            }
            (
                RunState::Running {
                    todo,
                    current,
                    mut txs,
                    committed,
                    retries,
                },
                Some(Ok(p)),
            ) => {
                let Some((m, fwd)) = current else {
                    return Step::Done(Err(Error::Protocol(
                        "a migration answer without a migration in flight".into(),
                    )));
                };
                let resp = match QueryResponse::from_payload(p) {
                    Ok(r) => r,
                    Err(e) => return Step::Done(Err(e.into())),
                };
                let empty = Vec::new();
                let stmts = txs.first().unwrap_or(&empty);
                match first_error(&resp) {
                    Err(e) => return Step::Done(Err(e)),
                    Ok(Some((_, _, true))) if retries < CONFLICT_RETRIES => {
                        return self.send_tx(todo, m, fwd, txs, committed, retries + 1);
                    }
                    Ok(Some((i, e, conflict))) => {
                        // Statement 0 is BEGIN.
                        let what = match i.checked_sub(1).and_then(|j| stmts.get(j)) {
                            // 4.0 asks for a clause surql could not add (no constant of the
                            // new type to fall back to): say how to write it.
                            Some(s)
                                if e.contains("add MIGRATE EXISTING ROWS")
                                    && !parse::has_migrate_clause(s) =>
                            {
                                format!(
                                    "statement `{s}` failed: {e} (surql adds that clause only where it \
                                     knows a constant FALLBACK for the new type: write \
                                     `MIGRATE EXISTING ROWS AS <name> USING <expression of $value> \
                                     FALLBACK <constant>` into the statement; see \
                                     surql::schema::migrate_rows)"
                                )
                            }
                            Some(s) => format!("statement `{s}` failed: {e}"),
                            None => format!("failed: {e}"),
                        };
                        let dir = if fwd { "applying" } else { "rolling back" };
                        let what = if conflict {
                            format!("{what} (sent {} times)", retries + 1)
                        } else {
                            what
                        };
                        let cancelled = if committed == 0 {
                            "the migration's transaction was cancelled".to_owned()
                        } else {
                            format!(
                                "this transaction was cancelled; the migration's {committed} \
                                 transaction(s) before it stay committed and it is not recorded \
                                 (see MigrationRun::transactions_for)"
                            )
                        };
                        return Step::Done(Err(migration_err(
                            &m.name,
                            format!("{dir}: {what}; {cancelled}"),
                        )));
                    }
                    Ok(None) => {}
                }
                if txs.len() > 1 {
                    txs.remove(0);
                    return self.send_tx(todo, m, fwd, txs, committed + 1, 0);
                }
                if fwd {
                    self.applied.insert(m.name.clone(), m.checksum());
                    self.report.applied.push(m.name);
                } else {
                    self.applied.remove(&m.name);
                    self.report.rolled_back.push(m.name);
                }
                self.send_next(todo)
            }
            (
                RunState::Running {
                    todo,
                    current: Some((m, fwd)),
                    txs,
                    committed,
                    retries,
                },
                Some(Err(e)),
            ) if e.is_conflict() && retries < CONFLICT_RETRIES => {
                self.send_tx(todo, m, fwd, txs, committed, retries + 1)
            }
            (
                RunState::Running {
                    current: Some((m, fwd)),
                    ..
                },
                Some(Err(e)),
            ) => {
                let dir = if fwd { "applying" } else { "rolling back" };
                Step::Done(Err(migration_err(
                    &m.name,
                    format!("{dir}: the query was refused: {e}"),
                )))
            }
            (
                RunState::Reading | RunState::Versioning(_) | RunState::Running { .. },
                Some(Err(e)),
            ) => Step::Done(Err(e)),
            _ => Step::Done(Err(Error::Protocol(
                "a migration run was stepped after it finished (a driver bug)".into(),
            ))),
        }
    }
}
