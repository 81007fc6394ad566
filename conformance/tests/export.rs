//! `export` / `import` against a REAL SurrealDB server: every scenario in
//! `common/export_scenarios.rs` runs per driver × transport of the client that starts the
//! transfer (a WebSocket client makes its HTTP request with its session's token and ns/db).

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

#[macro_use]
#[path = "common/harness.rs"]
mod harness;

/// Namespace prefix of this test binary.
const PREFIX: &str = "x";

instance!(smol_ws, surql_smol, ws = true, async = true, "common/export_scenarios.rs");
instance!(smol_http, surql_smol, ws = false, async = true, "common/export_scenarios.rs");
instance!(blocking_ws, surql_blocking, ws = true, async = false, "common/export_scenarios.rs");
instance!(blocking_http, surql_blocking, ws = false, async = false, "common/export_scenarios.rs");
