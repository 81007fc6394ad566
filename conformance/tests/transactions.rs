//! Conformance of transactions and model signals against a REAL SurrealDB server: every
//! scenario in `common/txn_scenarios.rs` runs through both drivers × both transports, each
//! with its own namespace/database.

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

#[macro_use]
#[path = "common/harness.rs"]
mod harness;

/// Namespace prefix of this test binary.
const PREFIX: &str = "t";

instance!(smol_ws, surql_smol, ws = true, async = true, "common/txn_scenarios.rs");
instance!(smol_http, surql_smol, ws = false, async = true, "common/txn_scenarios.rs");
instance!(blocking_ws, surql_blocking, ws = true, async = false, "common/txn_scenarios.rs");
instance!(blocking_http, surql_blocking, ws = false, async = false, "common/txn_scenarios.rs");
