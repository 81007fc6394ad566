//! Conformance of the model-level authentication against a REAL SurrealDB server: every
//! scenario in `common/auth_scenarios.rs` defines a user model's record access, then signs
//! users up and in, authenticates, refreshes, invalidates, changes passwords and grants
//! bearer keys through a driver, checking that the shared root client is never touched and
//! that no secret shows in any `Debug` output or error. Written once with `w!(expr)` and
//! instantiated per driver × transport, each scenario in its own namespace/database.

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

#[macro_use]
#[path = "common/harness.rs"]
mod harness;

/// Namespace prefix of this test binary.
const PREFIX: &str = "a";

instance!(smol_ws, surql_smol, ws = true, async = true, "common/auth_scenarios.rs");
instance!(smol_http, surql_smol, ws = false, async = true, "common/auth_scenarios.rs");
instance!(blocking_ws, surql_blocking, ws = true, async = false, "common/auth_scenarios.rs");
instance!(blocking_http, surql_blocking, ws = false, async = false, "common/auth_scenarios.rs");
