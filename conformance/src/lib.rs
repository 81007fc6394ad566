//! surql's conformance suite support: a real SurrealDB server for every test, and helpers
//! shared by the scenarios (which live in `conformance/tests/` and run through both drivers
//! and both transports).
#![warn(missing_docs)]

pub mod fake_http;
pub mod fake_transfer;
pub mod server;

/// The core, under its own name for tests whose driver names it otherwise.
pub use surql;
