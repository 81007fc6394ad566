#![no_main]
// Built only with `--features http` (which brings in the drivers): the body is
// `surql_ws::fuzz_ws_frames`, the WebSocket framing both drivers share, reached through the
// smol driver.
libfuzzer_sys::fuzz_target!(|data: &[u8]| surql_smol::internal::fuzz_ws_frames(data));
