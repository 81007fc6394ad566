//! Request logging against a REAL SurrealDB server: every log line of the run is captured (a
//! `tracing-subscriber` `fmt` subscriber at TRACE, span events included, writing into a
//! buffer) while scenarios sign in, sign up, authenticate and bind values that look like
//! secrets; no password, token or secret value may appear in it, while statement texts do.
//! The recorder scenarios count and inspect the statements an action sent. Scenarios are in
//! `common/logging_scenarios.rs`, instantiated per driver × transport.

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[macro_use]
#[path = "common/harness.rs"]
mod harness;

/// Namespace prefix of this test binary.
const PREFIX: &str = "l";

/// Everything logged in this process since the first call (the subscriber is global, so
/// lines from any thread of any scenario are in it).
fn captured() -> String {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let buf = LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_writer(move || Capture(sink.clone()))
            .try_init()
            .expect("the only global subscriber of this test binary");
        buf
    });
    let bytes = buf.lock().unwrap_or_else(|e| e.into_inner()).clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A writer appending to the shared buffer.
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

instance!(smol_ws, surql_smol, ws = true, async = true, "common/logging_scenarios.rs");
instance!(smol_http, surql_smol, ws = false, async = true, "common/logging_scenarios.rs");
instance!(blocking_ws, surql_blocking, ws = true, async = false, "common/logging_scenarios.rs");
instance!(blocking_http, surql_blocking, ws = false, async = false, "common/logging_scenarios.rs");
