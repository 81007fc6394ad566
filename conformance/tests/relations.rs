//! Conformance of relations (graph edges, record links, relation managers, traversal,
//! prefetch) against a REAL SurrealDB server: every scenario in
//! `common/relation_scenarios.rs` runs through both drivers × both transports, each with its
//! own namespace/database.

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

#[macro_use]
#[path = "common/harness.rs"]
mod harness;

/// Namespace prefix of this test binary.
const PREFIX: &str = "r";

instance!(smol_ws, surql_smol, ws = true, async = true, "common/relation_scenarios.rs");
instance!(smol_http, surql_smol, ws = false, async = true, "common/relation_scenarios.rs");
instance!(blocking_ws, surql_blocking, ws = true, async = false, "common/relation_scenarios.rs");
instance!(blocking_http, surql_blocking, ws = false, async = false, "common/relation_scenarios.rs");
