//! Conformance of the query compiler against a REAL SurrealDB server: every scenario in
//! `common/query_scenarios.rs` compiles a [`QuerySet`](surql::query::QuerySet) (or an
//! aggregate, a LIVE query, …), runs it through a driver and checks the exact rows the server
//! returns. Scenarios are written once with `w!(expr)` (`.await` for smol, a plain call for
//! blocking) and instantiated per driver × transport, each with its own namespace/database.

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_DB: AtomicU64 = AtomicU64::new(0);

/// A fresh `(namespace, database)` pair for one scenario.
pub fn unique_names(instance: &str, scenario: &str) -> (String, String) {
    let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
    (
        format!("q_{}_{}", std::process::id(), n),
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
            // `include!` resolves against this file wherever the macro expands; a `#[path]`
            // inside a macro-made inline module would resolve against a directory that
            // does not exist.
            mod scenarios {
                include!("common/query_scenarios.rs");
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
            // `include!` resolves against this file wherever the macro expands; a `#[path]`
            // inside a macro-made inline module would resolve against a directory that
            // does not exist.
            mod scenarios {
                include!("common/query_scenarios.rs");
            }
        }
    };
}

instance!(smol_ws, surql_smol, ws = true, async = true);
instance!(smol_http, surql_smol, ws = false, async = true);
instance!(blocking_ws, surql_blocking, ws = true, async = false);
instance!(blocking_http, surql_blocking, ws = false, async = false);
