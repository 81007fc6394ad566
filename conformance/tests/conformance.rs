//! The conformance suite: every scenario in `scenarios.rs` is compiled once per driver and
//! transport (smol-ws, smol-http, blocking-ws, blocking-http) and run against a REAL SurrealDB
//! server (see `surql_conformance::server`). Each scenario gets its own namespace/database.
//!
//! Scenarios are written once with `w!(expr)`: `.await` in the smol instances, a plain call
//! (or `.run()` for builders) in the blocking ones.

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

#[macro_use]
#[path = "common/harness.rs"]
mod harness;

/// Namespace prefix of this test binary.
const PREFIX: &str = "c";

instance!(smol_ws, surql_smol, ws = true, async = true, "common/scenarios.rs");
instance!(smol_http, surql_smol, ws = false, async = true, "common/scenarios.rs");
instance!(blocking_ws, surql_blocking, ws = true, async = false, "common/scenarios.rs");
instance!(blocking_http, surql_blocking, ws = false, async = false, "common/scenarios.rs");
