//! Conformance of real time against a REAL SurrealDB server: typed live queries of models
//! (filters with bound parameters, DIFF, KILL, drop, `post_live_change`, a server restart in
//! the middle of a stream) and change feeds (order, resumption, timestamps, the database-wide
//! `LIMIT`). Scenarios are in `common/realtime_scenarios.rs`, written once with `w!(expr)` and
//! instantiated per driver × transport; over HTTP live queries are refused and change feeds
//! work by polling.

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

#[macro_use]
#[path = "common/harness.rs"]
mod harness;

/// Namespace prefix of this test binary.
const PREFIX: &str = "rt";

instance!(smol_ws, surql_smol, ws = true, async = true, "common/realtime_scenarios.rs");
instance!(smol_http, surql_smol, ws = false, async = true, "common/realtime_scenarios.rs");
instance!(blocking_ws, surql_blocking, ws = true, async = false, "common/realtime_scenarios.rs");
instance!(blocking_http, surql_blocking, ws = false, async = false, "common/realtime_scenarios.rs");
