//! The conformance suite: every scenario in `scenarios.rs` is compiled once per driver and
//! transport (smol-ws, smol-http, blocking-ws, blocking-http) and run against a REAL SurrealDB
//! server (see `surql_conformance::server`). Each scenario gets its own namespace/database.
//!
//! Scenarios are written once with `w!(expr)`: `.await` in the smol instances, a plain call
//! (or `.run()` for builders) in the blocking ones.

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_DB: AtomicU64 = AtomicU64::new(0);

/// A fresh `(namespace, database)` pair for one scenario.
pub fn unique_names(instance: &str, scenario: &str) -> (String, String) {
    let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
    (
        format!("c_{}_{}", std::process::id(), n),
        format!("{instance}_{scenario}"),
    )
}

/// Turns a blocking call's outcome into a `Result`: builders run, results pass through.
pub trait Resolve {
    /// What the call produces.
    type Output;
    /// Runs (or passes through) the call.
    fn resolve(self) -> Self::Output;
}

impl<T, E> Resolve for Result<T, E> {
    type Output = Result<T, E>;
    fn resolve(self) -> Self::Output {
        self
    }
}

impl<'a> Resolve for surql_blocking::Query<'a> {
    type Output = surql_blocking::Result<surql_blocking::QueryResponse>;
    fn resolve(self) -> Self::Output {
        self.run()
    }
}

impl<'a> Resolve for surql_blocking::StreamQuery<'a> {
    type Output = surql_blocking::Result<surql_blocking::QueryStream>;
    fn resolve(self) -> Self::Output {
        self.run()
    }
}

macro_rules! instance {
    ($name:ident, $drv:ident, ws = $ws:expr, async = true) => {
        mod $name {
            #[allow(unused_imports)]
            use $drv as drv;
            const WS: bool = $ws;
            const INSTANCE: &str = stringify!($name);
            macro_rules! w {
                ($e:expr) => {
                    $e.await
                };
            }
            fn block_on<F: std::future::Future>(f: F) -> F::Output {
                futures_lite::future::block_on(f)
            }
            #[allow(clippy::bool_assert_comparison)]
            mod scenarios {
                include!("common/scenarios.rs");
            }
        }
    };
    ($name:ident, $drv:ident, ws = $ws:expr, async = false) => {
        mod $name {
            #[allow(unused_imports)]
            use $drv as drv;
            const WS: bool = $ws;
            const INSTANCE: &str = stringify!($name);
            macro_rules! w {
                ($e:expr) => {
                    $crate::Resolve::resolve($e)
                };
            }
            fn block_on<F: std::future::Future>(f: F) -> F::Output {
                futures_lite::future::block_on(f)
            }
            #[allow(clippy::bool_assert_comparison)]
            mod scenarios {
                include!("common/scenarios.rs");
            }
        }
    };
}

instance!(smol_ws, surql_smol, ws = true, async = true);
instance!(smol_http, surql_smol, ws = false, async = true);
instance!(blocking_ws, surql_blocking, ws = true, async = false);
instance!(blocking_http, surql_blocking, ws = false, async = false);
