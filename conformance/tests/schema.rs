//! Conformance of the schema layer against a REAL SurrealDB server: migration chains
//! applied and rolled back point by point (the schema read back with `INFO FOR` checked at
//! each point), statement errors, irreversible rollbacks, changed files, `--fake`, and the
//! `inspectdb` round trip. Scenarios are in `common/schema_scenarios.rs`, instantiated per
//! driver × transport.

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

#[macro_use]
#[path = "common/harness.rs"]
mod harness;

/// The models `inspectdb` generated from `RICH_SCHEMA` (checked in; regenerate with
/// `SURQL_BLESS=1 cargo test -p surql-conformance --test schema inspectdb`): compiling them
/// is part of the round trip.
// Kept byte for byte as generated: not reformatted by rustfmt.
#[rustfmt::skip]
#[path = "common/inspectdb_generated.rs"]
pub mod generated;

/// Namespace prefix of this test binary.
const PREFIX: &str = "s";

instance!(smol_ws, surql_smol, ws = true, async = true, "common/schema_scenarios.rs");
instance!(smol_http, surql_smol, ws = false, async = true, "common/schema_scenarios.rs");
instance!(blocking_ws, surql_blocking, ws = true, async = false, "common/schema_scenarios.rs");
instance!(blocking_http, surql_blocking, ws = false, async = false, "common/schema_scenarios.rs");
