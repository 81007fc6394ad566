//! The official SurrealDB server, built from the crates.io crate `surrealdb-server`
//! at an exact version, for surql's conformance tests, benches and demo.
//!
//! This is the same entry point as the upstream `surreal` binary, so it accepts the
//! same command line (`surreal start --user root --pass root memory`).
#![recursion_limit = "256"]

use std::process::ExitCode;

use surrealdb_server::core::CommunityComposer;

fn main() -> ExitCode {
    surrealdb_server::init(CommunityComposer())
}
