//! # surql — the sans-IO core
//!
//! This crate holds everything a SurrealDB client needs except IO: the value model,
//! CBOR encoding, record-id escaping, RPC framing, the WebSocket connection state
//! machine, live-query bookkeeping and typed live events ([`realtime`]), change feeds
//! ([`changefeed`]), transaction retry policy and the query compiler.
//!
//! It contains no networking code, never reads a clock, spawns no threads and depends
//! on no async runtime. Time arrives as a `now: Instant` argument; bytes arrive through
//! `handle_*` methods and leave through `poll_*` methods. Drivers (`surql-smol`,
//! `surql-blocking`) own the sockets and timers and run the same core.
//!
//! ```text
//!   socket bytes ──handle_frame(bytes, now)──▶ ┌────────────┐ ──poll_event()──▶ responses,
//!   timer fired ──handle_timeout(now)───────▶ │ Connection │                  notifications
//!   socket lost ──handle_disconnect(now)────▶ └────────────┘ ──poll_transmit()─▶ frames to send
//!                                                   │
//!                                              poll_timeout() ─▶ when to wake next
//! ```
//!
//! Between the connection and the callers sits the [`mux::Mux`]: which answer goes to
//! which caller, live ids, bounded stream and live buffers (a reader that falls behind
//! gets [`Error::ReaderTooSlow`] and its query is cancelled on the server), when an idle
//! connection closes, and the [`mux::ConnectionEvent`]s applications hear about. Every
//! client action is an [`op::Operation`]: a pure value that emits requests and consumes
//! answers until it yields its output, so a driver needs exactly one generic loop to run
//! a single call or a multi-step action. Both drivers return this crate's [`Error`] and
//! take its [`Options`].
#![warn(missing_docs)]
#![forbid(unsafe_code)]

// The derive emits `::surql::…` paths; this makes them resolve inside the crate too.
extern crate self as surql;

pub mod auth;
pub mod cache;
pub mod cbor;
pub mod changefeed;
pub mod client;
pub mod conn;
pub mod connection;
pub mod endpoint;
pub mod error;
pub mod escape;
pub mod export;
pub mod lanes;
pub mod live;
pub mod log;
pub mod model;
pub mod mux;
pub mod op;
pub mod options;
pub mod query;
pub mod realtime;
pub mod rpc;
pub mod schema;
pub mod session;
pub mod signals;
pub mod tx;
pub mod txn;
pub mod value;
pub mod version;

#[doc(hidden)]
pub mod internal;

pub use error::{Error, Result};
pub use options::{ClientCert, Options, TlsOptions};
pub use value::{
    from_value, to_value, Bound, Datetime, Decimal, Duration, FileRef, Geometry, Object, Point,
    Range, RecordId, RecordIdKey, Table, Uuid, Value,
};
