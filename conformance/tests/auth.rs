//! Conformance of the model-level authentication against a REAL SurrealDB server: every
//! scenario in `common/auth_scenarios.rs` defines a user model's record access, then signs
//! users up and in, authenticates, refreshes, invalidates, changes passwords and grants
//! bearer keys through a driver, checking that the shared root client is never touched and
//! that no secret shows in any `Debug` output, error or log line (every request of the run
//! is logged at TRACE into a buffer, as in `logging.rs`). Written once with `w!(expr)` and
//! instantiated per driver × transport, each scenario in its own namespace/database.

// Driver errors carry the server error by value; the size of `Result` is irrelevant in tests.
#![allow(clippy::result_large_err)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[macro_use]
#[path = "common/harness.rs"]
mod harness;

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

/// Namespace prefix of this test binary.
const PREFIX: &str = "a";

instance!(smol_ws, surql_smol, ws = true, async = true, "common/auth_scenarios.rs");
instance!(smol_http, surql_smol, ws = false, async = true, "common/auth_scenarios.rs");
instance!(blocking_ws, surql_blocking, ws = true, async = false, "common/auth_scenarios.rs");
instance!(blocking_http, surql_blocking, ws = false, async = false, "common/auth_scenarios.rs");
