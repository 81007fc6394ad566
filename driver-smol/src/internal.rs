//! Entry points for the fuzz targets; not part of the public API.

/// Runs the HTTP response reader (`surql_ws::http`, shared by both drivers) over `bytes`, as
/// if a server had sent them in answer to a `POST /rpc`. Must never panic, whatever the bytes.
pub fn fuzz_http_response(bytes: &[u8]) {
    crate::http::fuzz_response(bytes)
}

/// Runs the WebSocket framing's reader (`surql_ws`, shared by both drivers) over `bytes`, as
/// if a server had sent them after the upgrade, cut into reads in several ways. Must never
/// panic, whatever the bytes.
pub fn fuzz_ws_frames(bytes: &[u8]) {
    surql_ws::fuzz_ws_frames(bytes)
}
