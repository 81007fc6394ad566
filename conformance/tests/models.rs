//! Conformance of the model layer against a REAL SurrealDB server: every scenario in
//! `common/model_scenarios.rs` defines models with `#[derive(Model)]` and runs their actions
//! (`save`, `get`, `merge`, bulk writes, upserts, typed query sets, …) through a driver.
//! Scenarios are written once with `w!(expr)` (`.await` for smol, a plain call for blocking)
//! and instantiated per driver × transport, each with its own namespace/database.

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

#[macro_use]
#[path = "common/harness.rs"]
mod harness;

/// Namespace prefix of this test binary.
const PREFIX: &str = "m";

instance!(smol_ws, surql_smol, ws = true, async = true, "common/model_scenarios.rs");
instance!(smol_http, surql_smol, ws = false, async = true, "common/model_scenarios.rs");
instance!(blocking_ws, surql_blocking, ws = true, async = false, "common/model_scenarios.rs");
instance!(blocking_http, surql_blocking, ws = false, async = false, "common/model_scenarios.rs");
