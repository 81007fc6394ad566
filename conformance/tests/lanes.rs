//! Conformance of the lanes (`Options::ws_connections`: the extra WebSocket connections a
//! client opens for concurrent callers) against a REAL SurrealDB server: lanes open under
//! concurrency, carry the session, never run a request with a session older than the
//! caller's, and keep live queries on the first connection. Written once in
//! `common/lane_scenarios.rs` and instantiated per driver × transport; over HTTP each
//! scenario asserts that no WebSocket is opened and that the same concurrent calls work.

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

#[macro_use]
#[path = "common/harness.rs"]
mod harness;

/// Namespace prefix of this test binary.
const PREFIX: &str = "l";

instance!(smol_ws, surql_smol, ws = true, async = true, "common/lane_scenarios.rs");
instance!(smol_http, surql_smol, ws = false, async = true, "common/lane_scenarios.rs");
instance!(blocking_ws, surql_blocking, ws = true, async = false, "common/lane_scenarios.rs");
instance!(blocking_http, surql_blocking, ws = false, async = false, "common/lane_scenarios.rs");
