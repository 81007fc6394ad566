// Shared scaffolding of the conformance test binaries (included with `#[path]`): fresh
// namespace names, the `Resolve` bridge that lets one scenario text run on both drivers, and
// the `instance!` macro that compiles a scenario file once per driver × transport.

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_DB: AtomicU64 = AtomicU64::new(0);

/// A fresh `(namespace, database)` pair for one scenario; `prefix` tells the binaries apart.
pub fn unique_names(prefix: &str, instance: &str, scenario: &str) -> (String, String) {
    let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
    (
        format!("{prefix}_{}_{}", std::process::id(), n),
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

impl<'a> Resolve for surql_blocking::Export<'a> {
    type Output = surql_blocking::Result<u64>;
    fn resolve(self) -> Self::Output {
        self.run()
    }
}

impl<'a> Resolve for surql_blocking::Import<'a> {
    type Output = surql_blocking::Result<u64>;
    fn resolve(self) -> Self::Output {
        self.run()
    }
}

/// Runs every future to completion concurrently on the current task; outputs in order.
#[allow(dead_code)] // used by the binaries whose scenarios run things concurrently
pub async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    futures_lite::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

/// `instance!(module, driver_crate, ws = bool, async = bool, "scenario file")` compiles the
/// scenario file into `module`, where `super::drv` is the driver, `super::WS` the transport
/// and `w!(expr)` resolves a call (`.await` for smol, [`Resolve`] for blocking).
macro_rules! instance {
    (@module $name:ident, $drv:ident, $ws:expr, $file:literal, $($w:item)*) => {
        mod $name {
            #[allow(unused_imports)]
            use $drv as drv;
            const WS: bool = $ws;
            const INSTANCE: &str = stringify!($name);
            $($w)*
            fn block_on<F: std::future::Future>(f: F) -> F::Output {
                futures_lite::future::block_on(f)
            }
            /// What every scenario body returns.
            type R = drv::Result<()>;
            /// A client signed in as root on a fresh namespace/database of its own.
            async fn setup(scenario: &str) -> drv::Surreal {
                use surql_conformance::server::{Server, ROOT_PASS, ROOT_USER};
                let server = Server::shared();
                let url = if WS { server.ws_url() } else { server.http_url() };
                let db = w!(drv::Surreal::connect(&url)).expect("connect to the test server");
                w!(db.signin(&drv::Credentials::root(ROOT_USER, ROOT_PASS))).expect("root signin");
                let (ns, name) = $crate::harness::unique_names($crate::PREFIX, INSTANCE, scenario);
                let define = format!(
                    "DEFINE NAMESPACE IF NOT EXISTS {ns}; USE NS {ns}; DEFINE DATABASE IF NOT EXISTS {name};"
                );
                w!(db.query(define))
                    .expect("define ns/db")
                    .check()
                    .expect("define ns/db succeeded");
                w!(db.use_ns_db(&ns, &name)).expect("use ns/db");
                db
            }
            /// Whether `e`, over HTTP, is SurrealDB 3.0's HTTP session race: 3.0.x keeps the
            /// session of every `/rpc` request (its namespace, database and credentials, from
            /// the headers) in ONE slot shared by all concurrent requests, so a request can run
            /// with another request's session ("Specify a namespace to use" or "Anonymous
            /// access not allowed" when that one had none). 3.1 gives each request its own slot. Reported as a version-gated skip on
            /// servers before 3.1, decided from `version()`; on later servers the error fails.
            #[allow(dead_code)]
            async fn http_session_race_skip(scenario: &str, e: &drv::Error) -> bool {
                let text = e.to_string();
                // No namespace, no database, or no credentials where the scenario's client
                // had all three: another request's session.
                if WS
                    || !(text.contains("Specify a namespace to use")
                        || text.contains("Specify a database to use")
                        || text.contains("Anonymous access not allowed"))
                {
                    return false;
                }
                let server = surql_conformance::server::Server::shared();
                let version = match w!(drv::Surreal::connect(&server.http_url())) {
                    Ok(db) => w!(db.version()).unwrap_or_default(),
                    Err(_) => String::new(),
                };
                $crate::harness::known_before_skip(
                    &version,
                    3,
                    1,
                    scenario,
                    &format!(
                        "its HTTP /rpc shares one session slot between concurrent requests, so \
                         this request ran with another one's session ({text}); fixed in 3.1"
                    ),
                )
            }
            /// `scenario!(name, |db| { … })`: a test running the body on a fresh `setup`.
            macro_rules! scenario {
                ($sname:ident, |$sdb:ident| $sbody:block) => {
                    #[test]
                    fn $sname() {
                        super::block_on(async {
                            #[allow(unused_variables)]
                            let $sdb = super::setup(stringify!($sname)).await;
                            let outcome: super::R = async { $sbody }.await;
                            if let Err(e) = outcome {
                                if super::http_session_race_skip(stringify!($sname), &e).await {
                                    return;
                                }
                                panic!("scenario {} failed: {e} ({e:?})", stringify!($sname));
                            }
                        })
                    }
                };
            }
            #[allow(clippy::bool_assert_comparison)]
            mod scenarios {
                include!($file);
            }
        }
    };
    ($name:ident, $drv:ident, ws = $ws:expr, async = true, $file:literal) => {
        instance!(@module $name, $drv, $ws, $file, macro_rules! w {
            ($e:expr) => {
                $e.await
            };
        }
        /// `closure!(|tx| { … })`: an async closure for smol, a plain one for blocking.
        #[allow(unused_macros)]
        macro_rules! closure {
            (|$a:ident| $b:block) => {
                async |$a| $b
            };
        }
        /// `concurrently!(n, |i| { … })`: `n` bodies at once (smol: futures on this task;
        /// blocking: threads); their results in order.
        #[allow(unused_macros)]
        macro_rules! concurrently {
            ($n:expr, |$i:ident| $b:block) => {
                $crate::harness::join_all((0..$n).map(|$i| async move $b).collect()).await
            };
        }
        /// `caught!(call)`: resolves the call, catching a panic (`Err` holds its payload).
        #[allow(unused_macros)]
        macro_rules! caught {
            ($e:expr) => {
                futures_lite::FutureExt::catch_unwind(std::panic::AssertUnwindSafe($e)).await
            };
        });
    };
    ($name:ident, $drv:ident, ws = $ws:expr, async = false, $file:literal) => {
        instance!(@module $name, $drv, $ws, $file, macro_rules! w {
            ($e:expr) => {
                $crate::harness::Resolve::resolve($e)
            };
        }
        /// `closure!(|tx| { … })`: an async closure for smol, a plain one for blocking.
        #[allow(unused_macros)]
        macro_rules! closure {
            (|$a:ident| $b:block) => {
                |$a| $b
            };
        }
        /// `concurrently!(n, |i| { … })`: `n` bodies at once (smol: futures on this task;
        /// blocking: threads); their results in order.
        #[allow(unused_macros)]
        macro_rules! concurrently {
            ($n:expr, |$i:ident| $b:block) => {
                std::thread::scope(|s| {
                    let handles: Vec<_> = (0..$n).map(|$i| s.spawn(move || $b)).collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("a concurrent body panicked"))
                        .collect::<Vec<_>>()
                })
            };
        }
        /// `caught!(call)`: resolves the call, catching a panic (`Err` holds its payload).
        #[allow(unused_macros)]
        macro_rules! caught {
            ($e:expr) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    $crate::harness::Resolve::resolve($e)
                }))
            };
        });
    };
}

/// The major version in a `version()` answer (`surrealdb-4.0.0-beta.1` → 4).
#[allow(dead_code)] // used by the binaries with version-pinned scenarios
pub fn server_major(version: &str) -> Option<u32> {
    version
        .strip_prefix("surrealdb-")?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Reports a version-gated skip of `scenario` on the connected server (`version`, from
/// `version()`) when it is older than `major.minor`: a server that old is known to behave
/// as `why` says (the matrix script collects the line). `false` (no skip: the caller fails
/// the scenario) on `major.minor` and later, and on a version it cannot read.
#[allow(dead_code)] // used by the binaries with version-gated scenarios
pub fn known_before_skip(version: &str, major: u32, minor: u32, scenario: &str, why: &str) -> bool {
    let older = surql::version::ServerVersion::parse(version)
        .is_some_and(|v| (v.major, v.minor) < (major, minor));
    if older {
        eprintln!("surql-conformance: version-gated skip: {scenario} on {version}: {why}");
    }
    older
}

/// Whether a scenario that pins a 3.x server behaviour is a version-gated skip on the
/// connected server (`version`, from `version()`): on 4.0 and later the behaviour is gone.
/// The skip is reported on stderr with its reason, which the matrix script collects.
#[allow(dead_code)] // used by the binaries with version-pinned scenarios
pub fn pinned_on_3x_skip(version: &str, scenario: &str, gone: &str) -> bool {
    if server_major(version).is_some_and(|m| m >= 4) {
        eprintln!(
            "surql-conformance: version-gated skip: {scenario} on {version}: pins a 3.x server \
             behaviour that {version} no longer has ({gone})"
        );
        return true;
    }
    false
}
